#include "errors.h"

#include <errno.h>
#include <string.h>

#include "addon.h"

namespace dax {

namespace {

// strerrorname_np is glibc >= 2.32; elsewhere JS falls back to Node's table.
const char* errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  return strerrorname_np(err);
#else
  (void)err;
  return nullptr;
#endif
}

Napi::Value StrOrUndefined(Napi::Env env, const char* s) {
  return s != nullptr ? Napi::String::New(env, s) : env.Undefined();
}

void SetCode(Napi::Error& e, const char* code) {
  e.Value().Set("code", Napi::String::New(e.Env(), code));
}

// lib/errors.ts injects its classes so that the error types live (and are
// tested) in JS while native code only supplies the facts.
Napi::Value Initialize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsFunction()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "initialize(systemError, mediaError) needs two classes");
    return env.Undefined();
  }
  AddonData* d = addon_data(env);
  d->system_error = Napi::Persistent(info[0].As<Napi::Function>());
  d->media_error = Napi::Persistent(info[1].As<Napi::Function>());
  return env.Undefined();
}

}  // namespace

void ThrowSystemError(Napi::Env env, int err, const char* syscall, const char* path) {
  AddonData* d = addon_data(env);
  const char* desc = strerror(err);
  if (d->system_error.IsEmpty()) {
    Napi::Error e = Napi::Error::New(env, std::string(desc) + ", " + syscall);
    e.Value().Set("errno", Napi::Number::New(env, -err));
    e.Value().Set("syscall", Napi::String::New(env, syscall));
    e.ThrowAsJavaScriptException();
    return;
  }
  // Constructing the error runs user-visible JS; if that throws, let its
  // exception propagate instead of throwing a second one.
  Napi::Value e = d->system_error.New({Napi::Number::New(env, -err), Napi::String::New(env, syscall),
                                       StrOrUndefined(env, path), StrOrUndefined(env, errno_name(err)),
                                       Napi::String::New(env, desc)});
  if (env.IsExceptionPending()) return;
  napi_throw(env, e);
}

void ThrowMediaError(Napi::Env env, const char* op, const char* path, int64_t offset,
                     uintptr_t address, int si_code) {
  AddonData* d = addon_data(env);
  if (d->media_error.IsEmpty()) {
    Napi::Error e = Napi::Error::New(env, "media error (SIGBUS)");
    SetCode(e, "EIO");
    e.ThrowAsJavaScriptException();
    return;
  }
  Napi::Value e = d->media_error.New(
      {Napi::String::New(env, op), StrOrUndefined(env, path),
       offset >= 0 ? Napi::Number::New(env, static_cast<double>(offset)) : env.Undefined(),
       Napi::BigInt::New(env, static_cast<uint64_t>(address)), Napi::Number::New(env, si_code)});
  if (env.IsExceptionPending()) return;
  napi_throw(env, e);
}

void ThrowTypeError(Napi::Env env, const char* code, const char* message) {
  Napi::TypeError e = Napi::TypeError::New(env, message);
  SetCode(e, code);
  e.ThrowAsJavaScriptException();
}

void ThrowRangeError(Napi::Env env, const char* code, const char* message) {
  Napi::RangeError e = Napi::RangeError::New(env, message);
  SetCode(e, code);
  e.ThrowAsJavaScriptException();
}

void ThrowCodeError(Napi::Env env, const char* code, const char* message) {
  Napi::Error e = Napi::Error::New(env, message);
  SetCode(e, code);
  e.ThrowAsJavaScriptException();
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("initialize", Napi::Function::New(env, Initialize, "initialize"));
}

}  // namespace dax
