// The benchmark's native calibration (lib/bench/calibrate.ts): a Node-API
// module of its own (binding.gyp's daxkit_calibrate target), so that the
// addon users load, daxkit.node, holds only the library. It times the same
// flush, fence and non-temporal copy primitives that persist() and
// copyPersist() run (loops.cc), and has a native function that does nothing,
// to time the call itself. The report puts the JS path next to these
// numbers, so the cost of the binding shows.
//
// The binding is reachable from user code, so arguments are still
// type-checked, and the loops run under the SIGBUS guard.
#include <napi.h>

#include "../args.h"
#include "../core/cpu.h"
#include "../core/guard.h"
#include "../core/persist.h"
#include "../errors.h"
#include "loops.h"

namespace dax {

// The error classes of this module's environment (errors.h).
ErrorClasses* error_classes(napi_env env) {
  void* d = nullptr;
  napi_get_instance_data(env, &d);
  return static_cast<ErrorClasses*>(d);
}

namespace {

void FinalizeErrorClasses(napi_env env, void* data, void*) {
  auto* c = static_cast<ErrorClasses*>(data);
  ReleaseErrorClasses(env, c);
  delete c;
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

// This module is a shared object of its own, with its own copy of the guard
// and so its own SIGBUS handler. It is put on top before each loop; it
// chains to whatever it replaced (the addon's handler, which itself chains
// back to this one when it is put on top again by its watchdog), and each
// copy takes only the faults of its own guarded accesses.
bool RunGuarded(Napi::Env env, const char* op, void (*fn)(void*), void* arg) {
  reassert_sigbus_handler();
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

}  // namespace dax

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace dax;
  auto* c = new ErrorClasses();
  if (napi_set_instance_data(env, c, FinalizeErrorClasses, nullptr) != napi_ok) {
    delete c;
    return exports;
  }
  install_sigbus_handler();
  InitErrors(env, exports);
  Export(env, exports, "calibrateNoop", Binding<JS_calibrateNoop>);
  Export(env, exports, "calibratePersist", Binding<JS_calibratePersist>);
  Export(env, exports, "calibrateNtCopy", Binding<JS_calibrateNtCopy>);
  return exports;
}

NODE_API_MODULE(daxkit_calibrate, Init)
