// Compiled into the test build only (binding.gyp, daxkit_test=1).
#include "trace.h"

#ifndef DAXKIT_TEST
#error "core/trace.cc belongs to the test build (DAXKIT_TEST)"
#endif

namespace dax {

namespace {

struct Ring {
  TraceEvent ev[kTraceCapacity];
  uint64_t head = 0;   // seq of the next event
  uint64_t taken = 0;  // seq of the first event not yet taken
};

// initial-exec, as the guard's: the record must not trigger a lazy TLS
// allocation inside a guarded access. A thread's ring is never freed; only
// test processes have one.
__attribute__((tls_model("initial-exec"))) thread_local Ring* tls_ring = nullptr;

}  // namespace

void trace_start() {
  if (tls_ring == nullptr) tls_ring = new Ring();
}

void trace_record(TraceKind kind, uintptr_t addr, uint64_t len) {
  Ring* r = tls_ring;
  if (r == nullptr) return;
  const uint64_t seq = r->head++;
  TraceEvent& e = r->ev[seq % kTraceCapacity];
  e.seq = seq;
  e.addr = addr;
  e.len = len;
  e.kind = kind;
  e.unused = 0;
}

size_t trace_take(TraceEvent* out, size_t max, uint64_t* lost) {
  Ring* r = tls_ring;
  *lost = 0;
  if (r == nullptr) return 0;
  uint64_t from = r->taken;
  if (r->head - from > kTraceCapacity) from = r->head - kTraceCapacity;
  if (r->head - from > max) from = r->head - max;
  *lost = from - r->taken;
  size_t n = 0;
  for (uint64_t s = from; s < r->head; s++) out[n++] = r->ev[s % kTraceCapacity];
  r->taken = r->head;
  return n;
}

}  // namespace dax
