// Argument unpacking shared by the bindings. lib/ validates everything first;
// these checks exist because the binding is reachable from user code, so a
// bad argument must become a coded TypeError, never a wild pointer.
#pragma once

#include <napi.h>

#include <stddef.h>
#include <stdint.h>

#include <string>

namespace dax {

// A number that is an integer in int64 range; throws ERR_INVALID_ARG_TYPE
// naming the argument otherwise.
bool GetInt64(Napi::Env env, napi_value v, const char* name, int64_t* out);

// A file descriptor: an integer from -100 (AT_FDCWD) to INT32_MAX; throws
// ERR_INVALID_ARG_TYPE naming the argument otherwise.
bool GetFd(napi_env env, napi_value v, const char* name, int* out);

// The UTF-8 of a string argument, or "" when it is not a string. Lossy for
// lone surrogates (each becomes U+FFFD): not for the path an error names
// (see Display).
std::string GetString(napi_env env, napi_value v);
// The optional `display` argument of a binding (the text of the path an
// error names): the string itself, or null when it is absent or empty.
napi_value Display(napi_env env, napi_value v);
// s, or null when it is empty (no path to name).
inline const char* OrNull(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

// A path or a name: a string (UTF-8) or the exact bytes of a Buffer
// (Uint8Array), which is how names that are not UTF-8 reach the kernel
// unchanged. Throws ERR_INVALID_ARG_TYPE for anything else, and
// ERR_INVALID_ARG_VALUE for a NUL byte or a string with a lone surrogate
// (no UTF-8 exists for it; converting would name another file, U+FFFD).
bool GetPathBytes(napi_env env, napi_value v, const char* name, std::string* out);

// The bytes of a TypedArray or DataView: its data pointer and its length in
// bytes. A TypedArray type this build does not know (a newer element type)
// is refused rather than guessed, so a length is never misread.
bool GetBytes(Napi::Env env, napi_value v, const char* name, uint8_t** data, size_t* len);

// Node-API calls made while a worker is being terminated fail, and the
// node-addon-api wrappers turn many such failures into a fatal error that
// aborts the whole process (Error::New, Object::Set, ToBoolean...). Bindings
// are therefore registered and build their results through the C API,
// dropping a failure: the environment is going away and JS will not see it.

// exports[name] = a function calling cb with `data`.
void Export(napi_env env, napi_value exports, const char* name, napi_callback cb, void* data = nullptr);

// Adapts a node-addon-api style binding to the C callback Export takes.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
napi_value Binding(napi_env env, napi_callback_info cbinfo) {
  Napi::CallbackInfo info(env, cbinfo);
  return F(info);
}

// A plain object built field by field.
class ObjectBuilder {
 public:
  explicit ObjectBuilder(napi_env env);
  ObjectBuilder& Num(const char* key, double v);
  ObjectBuilder& U64(const char* key, uint64_t v);  // a bigint
  ObjectBuilder& Bool(const char* key, bool v);
  ObjectBuilder& Str(const char* key, const char* v);
  ObjectBuilder& Val(const char* key, napi_value v);
  ObjectBuilder& Null(const char* key);
  operator napi_value() const { return obj_; }
  operator Napi::Value() const { return Napi::Value(env_, obj_); }

 private:
  napi_env env_;
  napi_value obj_ = nullptr;
};

// A true boolean argument (lib/ passes booleans; nothing is coerced).
bool IsTrue(napi_env env, napi_value v);

}  // namespace dax
