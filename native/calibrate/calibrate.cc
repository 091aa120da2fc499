// The benchmark's native calibration (lib/bench/calibrate.ts): the same
// flush, fence and non-temporal copy primitives that persist() and
// copyPersist() run (cpu.h), timed in a C++ loop with no JS engine in it, and
// a native function that does nothing, to time the call itself. The report
// puts the JS path next to these numbers, so the cost of the binding shows.
//
// The timed loops are napi-free; the JS_ functions below only unpack their
// arguments. The binding is reachable from user code, so arguments are still
// type-checked, and the loops run under the SIGBUS guard: the memory is a
// mapping, which a media error or a truncated file can make fault.
#include <time.h>

#include <string>

#include "../addon.h"
#include "../args.h"
#include "../core/cpu.h"
#include "../core/guard.h"
#include "../core/persist.h"
#include "../errors.h"

namespace dax {

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

struct PersistLoop {
  uint8_t* base;
  size_t lines;
  size_t line;
  uint64_t iterations;
  uint64_t elapsed;
};

// One 8-byte store to a line, then the write-back of that line and a fence:
// what persist(offset, 64) does after a store, minus the call. Successive
// iterations take successive lines (a log being appended to), wrapping at
// the end of the range, so that each write-back finds a dirty line.
void RunPersistLoop(void* a) {
  auto* p = static_cast<PersistLoop*>(a);
  size_t j = 0;
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < p->iterations; i++) {
    uint8_t* q = p->base + j * p->line;
    *reinterpret_cast<volatile uint64_t*>(q) = i;
    flush_lines(q, p->line);
    drain();
    if (++j == p->lines) j = 0;
  }
  p->elapsed = now_ns() - t0;
}

struct CopyLoop {
  uint8_t* dst;
  size_t dst_len;
  const uint8_t* src;
  size_t n;
  uint64_t iterations;
  uint64_t elapsed;
};

// copyPersist()'s copy for sizes of kNonTemporalThreshold and more, with its
// fence, into successive n-byte slots of the destination.
void RunCopyLoop(void* a) {
  auto* c = static_cast<CopyLoop*>(a);
  size_t off = 0;
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < c->iterations; i++) {
    copy_to_pmem_nt(c->dst + off, c->src, c->n);
    drain();
    off += c->n;
    if (off + c->n > c->dst_len) off = 0;
  }
  c->elapsed = now_ns() - t0;
}


bool GetIterations(Napi::Env env, napi_value v, uint64_t* out) {
  int64_t n;
  if (!GetInt64(env, v, "iterations", &n)) return false;
  if (n < 1) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The \"iterations\" argument must be a positive integer");
    return false;
  }
  *out = static_cast<uint64_t>(n);
  return true;
}

bool RunGuarded(Napi::Env env, const char* op, void (*fn)(void*), void* arg) {
  Fault f;
  if (run_guarded(fn, arg, &f)) return true;
  ThrowMediaError(env, {op, nullptr, "mapping", -1, nullptr, -1, f.addr, f.code, kFaultMedia});
  return false;
}

// calibrateNoop(...): nothing at all. Takes (and ignores) the arguments
// persist() takes, so that the call costs the same to make.
Napi::Value JS_calibrateNoop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// calibratePersist(target, iterations) -> nanoseconds for `iterations`
// store + line write-back + fence rounds over the cache lines of target.
Napi::Value JS_calibratePersist(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t len;
  uint64_t iterations;
  if (!GetBytes(env, info[0], "target", &data, &len) || !GetIterations(env, info[1], &iterations))
    return env.Undefined();
  const size_t line = cpu().line_size;
  // Whole lines only: the first one starts at the first line boundary.
  const size_t skip = (line - (reinterpret_cast<uintptr_t>(data) & (line - 1))) & (line - 1);
  if (len < skip + line) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The \"target\" argument must span at least one whole cache line");
    return env.Undefined();
  }
  PersistLoop p{data + skip, (len - skip) / line, line, iterations, 0};
  if (!RunGuarded(env, "calibratePersist", RunPersistLoop, &p)) return env.Undefined();
  return Napi::Number::New(env, static_cast<double>(p.elapsed));
}

// calibrateNtCopy(target, source, iterations) -> nanoseconds for
// `iterations` non-temporal copies of source (plus a fence each) into
// successive slots of target.
Napi::Value JS_calibrateNtCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* dst;
  size_t dst_len;
  uint8_t* src;
  size_t n;
  uint64_t iterations;
  if (!GetBytes(env, info[0], "target", &dst, &dst_len) || !GetBytes(env, info[1], "source", &src, &n) ||
      !GetIterations(env, info[2], &iterations))
    return env.Undefined();
  if (n < kNonTemporalThreshold || n > dst_len) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE",
                    "The \"source\" argument must hold at least 256 bytes and no more than \"target\"");
    return env.Undefined();
  }
  CopyLoop c{dst, dst_len, src, n, iterations, 0};
  if (!RunGuarded(env, "calibrateNtCopy", RunCopyLoop, &c)) return env.Undefined();
  return Napi::Number::New(env, static_cast<double>(c.elapsed));
}

}  // namespace

void InitCalibrate(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "calibrateNoop", Binding<JS_calibrateNoop>);
  Export(env, exports, "calibratePersist", Binding<JS_calibratePersist>);
  Export(env, exports, "calibrateNtCopy", Binding<JS_calibrateNtCopy>);
}

}  // namespace dax
