// The test build's exports (DAXKIT_TEST only; binding.gyp compiles this file
// into the test build alone): the persistence trace (core/trace.h), read
// from JS by test/trace.ts.

#include <vector>

#include "addon.h"
#include "args.h"
#include "core/trace.h"

#ifndef DAXKIT_TEST
#error "test_hooks.cc belongs to the test build (DAXKIT_TEST)"
#endif

namespace dax {

namespace {

napi_value TypedArray(napi_env env, napi_typedarray_type type, size_t elem, size_t n, void** data) {
  napi_value ab, ta;
  if (napi_create_arraybuffer(env, n * elem, data, &ab) != napi_ok ||
      napi_create_typedarray(env, type, n, ab, 0, &ta) != napi_ok) {
    return nullptr;
  }
  return ta;
}

// traceStart(): this thread records from now on.
Napi::Value JS_traceStart(const Napi::CallbackInfo& info) {
  trace_start();
  return info.Env().Undefined();
}

// traceMark(value): a mark in the record, between the events around it.
Napi::Value JS_traceMark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t v;
  if (!GetInt64(env, info[0], "value", &v)) return env.Undefined();
  trace_record(kTraceMark, static_cast<uintptr_t>(v), 0);
  return env.Undefined();
}

// traceTake() -> { seq: Float64Array, kind: Uint8Array, addr: BigUint64Array,
// len: Float64Array, lost }: what was recorded since the last take.
Napi::Value JS_traceTake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<TraceEvent> ev(kTraceCapacity);
  uint64_t lost = 0;
  const size_t n = trace_take(ev.data(), ev.size(), &lost);
  void *seq, *kind, *addr, *len;
  napi_value seq_a = TypedArray(env, napi_float64_array, 8, n, &seq);
  napi_value kind_a = TypedArray(env, napi_uint8_array, 1, n, &kind);
  napi_value addr_a = TypedArray(env, napi_biguint64_array, 8, n, &addr);
  napi_value len_a = TypedArray(env, napi_float64_array, 8, n, &len);
  if (seq_a == nullptr || kind_a == nullptr || addr_a == nullptr || len_a == nullptr) return env.Undefined();
  for (size_t i = 0; i < n; i++) {
    static_cast<double*>(seq)[i] = static_cast<double>(ev[i].seq);
    static_cast<uint8_t*>(kind)[i] = static_cast<uint8_t>(ev[i].kind);
    static_cast<uint64_t*>(addr)[i] = ev[i].addr;
    static_cast<double*>(len)[i] = static_cast<double>(ev[i].len);
  }
  return ObjectBuilder(env)
      .Val("seq", seq_a)
      .Val("kind", kind_a)
      .Val("addr", addr_a)
      .Val("len", len_a)
      .Num("lost", static_cast<double>(lost));
}

}  // namespace

void InitTestHooks(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "traceStart", Binding<JS_traceStart>);
  Export(env, exports, "traceMark", Binding<JS_traceMark>);
  Export(env, exports, "traceTake", Binding<JS_traceTake>);
}

}  // namespace dax
