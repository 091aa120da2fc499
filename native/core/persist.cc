#include "persist.h"


#if !defined(__x86_64__)
#error "daxkit's flush primitives are written for x86-64 only"
#endif

#include <immintrin.h>

#include "cpu.h"
#include "trace.h"

namespace dax {

namespace {

using FlushFn = void (*)(uintptr_t, uintptr_t, uintptr_t);

__attribute__((target("clwb"))) void flush_clwb(uintptr_t p, uintptr_t end, uintptr_t line) {
  for (; p < end; p += line) {
    _mm_clwb(reinterpret_cast<void*>(p));
    DAX_TRACE(kTraceFlush, p, line);
  }
}

__attribute__((target("clflushopt"))) void flush_clflushopt(uintptr_t p, uintptr_t end,
                                                            uintptr_t line) {
  for (; p < end; p += line) {
    _mm_clflushopt(reinterpret_cast<void*>(p));
    DAX_TRACE(kTraceFlush, p, line);
  }
}

void flush_clflush(uintptr_t p, uintptr_t end, uintptr_t line) {
  for (; p < end; p += line) {
    _mm_clflush(reinterpret_cast<void*>(p));
    DAX_TRACE(kTraceFlush, p, line);
  }
}

void flush_nothing(uintptr_t, uintptr_t, uintptr_t) {}

struct State {
  FlushFn flush;
  uintptr_t line;
};

const State& state() {
  static const State s = [] {
    State st;
    const CpuInfo& c = cpu();
    st.line = c.line_size;
    switch (c.flush) {
      case kFlushClwb: st.flush = flush_clwb; break;
      case kFlushClflushopt: st.flush = flush_clflushopt; break;
      case kFlushClflush: st.flush = flush_clflush; break;
      default: st.flush = flush_nothing; break;
    }
    return st;
  }();
  return s;
}

}  // namespace

size_t flush_lines(const void* p, size_t n) {
  if (n == 0) return 0;
  const State& s = state();
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uintptr_t start = a & ~(s.line - 1);
  s.flush(start, a + n, s.line);
  return (a + n - start + s.line - 1) / s.line;
}

void drain() {
  _mm_sfence();
  DAX_TRACE(kTraceFence, 0, 0);
}

// GCC would turn the byte loops below back into memcpy calls.
#define DAX_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

DAX_NO_LIBCALL void copy_from_pmem(void* dst, const void* src, size_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  auto* s = static_cast<const volatile uint8_t*>(src);
  while (n > 0 && (reinterpret_cast<uintptr_t>(s) & 15) != 0) {
    *d++ = *s++;
    n--;
  }
  while (n >= 64) {
    const __m128i* q = reinterpret_cast<const __m128i*>(const_cast<const uint8_t*>(s));
    __m128i x0 = _mm_load_si128(q);
    __m128i x1 = _mm_load_si128(q + 1);
    __m128i x2 = _mm_load_si128(q + 2);
    __m128i x3 = _mm_load_si128(q + 3);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), x0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d) + 1, x1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d) + 2, x2);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d) + 3, x3);
    s += 64;
    d += 64;
    n -= 64;
  }
  while (n >= 16) {
    __m128i x = _mm_load_si128(reinterpret_cast<const __m128i*>(const_cast<const uint8_t*>(s)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), x);
    s += 16;
    d += 16;
    n -= 16;
  }
  while (n > 0) {
    *d++ = *s++;
    n--;
  }
}

DAX_NO_LIBCALL void copy_to_pmem(void* dst, const void* src, size_t n) {
  auto* d = static_cast<volatile uint8_t*>(dst);
  auto* s = static_cast<const uint8_t*>(src);
  while (n > 0 && (reinterpret_cast<uintptr_t>(d) & 15) != 0) {
    *d++ = *s++;
    n--;
  }
  while (n >= 64) {
    __m128i* q = reinterpret_cast<__m128i*>(const_cast<uint8_t*>(d));
    __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s) + 1);
    __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s) + 2);
    __m128i x3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s) + 3);
    _mm_store_si128(q, x0);
    _mm_store_si128(q + 1, x1);
    _mm_store_si128(q + 2, x2);
    _mm_store_si128(q + 3, x3);
    s += 64;
    d += 64;
    n -= 64;
  }
  while (n >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    _mm_store_si128(reinterpret_cast<__m128i*>(const_cast<uint8_t*>(d)), x);
    s += 16;
    d += 16;
    n -= 16;
  }
  while (n > 0) {
    *d++ = *s++;
    n--;
  }
}

DAX_NO_LIBCALL void copy_to_pmem_nt(void* dst, const void* src, size_t n, uint64_t* lines, uint64_t* nt_bytes) {
  auto* d = static_cast<uint8_t*>(dst);
  auto* s = static_cast<const uint8_t*>(src);
  size_t head = (64 - (reinterpret_cast<uintptr_t>(d) & 63)) & 63;
  if (head > n) head = n;
  if (head > 0) {
    copy_to_pmem(d, s, head);
    *lines += flush_lines(d, head);
    d += head;
    s += head;
    n -= head;
  }
  while (n >= 64) {
    __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s) + 1);
    __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s) + 2);
    __m128i x3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s) + 3);
    __m128i* q = reinterpret_cast<__m128i*>(d);
    _mm_stream_si128(q, x0);
    _mm_stream_si128(q + 1, x1);
    _mm_stream_si128(q + 2, x2);
    _mm_stream_si128(q + 3, x3);
    DAX_TRACE(kTraceNt, d, 64);
    s += 64;
    d += 64;
    n -= 64;
    *nt_bytes += 64;
  }
  if (n > 0) {
    copy_to_pmem(d, s, n);
    *lines += flush_lines(d, n);
  }
}

}  // namespace dax
