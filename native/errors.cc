// Errors are thrown through the C Node-API and every status is checked
// rather than asserted: in a worker being terminated, creating or throwing
// an error fails (JS cannot run any more), and node-addon-api's wrappers
// would abort the whole process there. A failed throw is simply dropped;
// the environment is going away.
#include "errors.h"

#include <errno.h>
#include <string.h>

#include "args.h"

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

napi_value Str(napi_env env, const char* s) {
  napi_value v = nullptr;
  if (s == nullptr) {
    napi_get_undefined(env, &v);
  } else if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) != napi_ok) {
    napi_get_undefined(env, &v);
  }
  return v;
}

napi_value Num(napi_env env, double d) {
  napi_value v = nullptr;
  napi_create_double(env, d, &v);
  return v;
}

bool Pending(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending;
}

// Constructs an injected class and throws the instance. Constructing runs
// user-visible JS; if that throws, its exception propagates instead.
bool ThrowInjected(napi_env env, napi_ref cls, size_t argc, const napi_value* argv) {
  napi_value ctor, e;
  if (cls == nullptr || napi_get_reference_value(env, cls, &ctor) != napi_ok || ctor == nullptr) return false;
  if (napi_new_instance(env, ctor, argc, argv, &e) != napi_ok) return Pending(env);
  napi_throw(env, e);
  return true;
}

void ThrowWithCode(napi_env env, napi_status (*make)(napi_env, napi_value, napi_value, napi_value*),
                   const char* code, const char* message) {
  napi_value e;
  if (make(env, Str(env, code), Str(env, message), &e) == napi_ok) napi_throw(env, e);
}

napi_value Initialize(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2 ||
      napi_typeof(env, argv[0], &t0) != napi_ok || napi_typeof(env, argv[1], &t1) != napi_ok ||
      t0 != napi_function || t1 != napi_function) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "initialize(systemError, mediaError) needs two classes");
    return nullptr;
  }
  ErrorClasses* c = error_classes(env);
  ReleaseErrorClasses(env, c);
  napi_create_reference(env, argv[0], 1, &c->system_error);
  napi_create_reference(env, argv[1], 1, &c->media_error);
  return nullptr;
}

}  // namespace

namespace {

void ThrowSystem(napi_env env, int err, const char* syscall, napi_value path) {
  const char* desc = strerror(err);
  napi_value argv[] = {Num(env, -err), Str(env, syscall), path, Str(env, errno_name(err)), Str(env, desc)};
  if (ThrowInjected(env, error_classes(env)->system_error, 5, argv) || Pending(env)) return;
  ThrowWithCode(env, napi_create_error, errno_name(err), desc);
}

}  // namespace

void ThrowSystemError(napi_env env, int err, const char* syscall, const char* path) {
  ThrowSystem(env, err, syscall, Str(env, path));
}

void ThrowSystemErrorWithPath(napi_env env, int err, const char* syscall, napi_value path) {
  napi_value p = path;
  if (p == nullptr) napi_get_undefined(env, &p);
  ThrowSystem(env, err, syscall, p);
}

void ThrowMediaError(napi_env env, const MediaFault& f) {
  napi_value address = nullptr;
  napi_create_bigint_uint64(env, static_cast<uint64_t>(f.address), &address);
  napi_value kind = Num(env, f.kind);
  napi_value undef = nullptr;
  napi_get_undefined(env, &undef);
  napi_value argv[] = {Str(env, f.op),
                       Str(env, f.path),
                       Str(env, f.buffer),
                       f.offset >= 0 ? Num(env, static_cast<double>(f.offset)) : undef,
                       Str(env, f.other_path),
                       f.other_offset >= 0 ? Num(env, static_cast<double>(f.other_offset)) : undef,
                       address,
                       Num(env, f.si_code),
                       kind};
  if (ThrowInjected(env, error_classes(env)->media_error, 9, argv) || Pending(env)) return;
  ThrowWithCode(env, napi_create_error, "EIO", "media error (SIGBUS)");
}

void ThrowTypeError(napi_env env, const char* code, const char* message) {
  ThrowWithCode(env, napi_create_type_error, code, message);
}

void ThrowRangeError(napi_env env, const char* code, const char* message) {
  ThrowWithCode(env, napi_create_range_error, code, message);
}

void ThrowCodeError(napi_env env, const char* code, const char* message) {
  ThrowWithCode(env, napi_create_error, code, message);
}

void ReleaseErrorClasses(napi_env env, ErrorClasses* c) {
  if (c->system_error != nullptr) napi_delete_reference(env, c->system_error);
  if (c->media_error != nullptr) napi_delete_reference(env, c->media_error);
  c->system_error = c->media_error = nullptr;
}

void InitErrors(Napi::Env env, Napi::Object exports) { Export(env, exports, "initialize", Initialize); }

}  // namespace dax
