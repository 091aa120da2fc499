#pragma once

#include <napi.h>

#include <stdint.h>

namespace dax {

// The error classes of lib/errors.ts, handed over by initialize(): each
// module (the addon, the benchmark's calibration) keeps them per environment.
struct ErrorClasses {
  napi_ref system_error = nullptr;
  napi_ref media_error = nullptr;
};
// The calling environment's classes; defined by each module's init.
ErrorClasses* error_classes(napi_env env);
// Drops the references: the instance-data finalizer, while the env exists.
void ReleaseErrorClasses(napi_env env, ErrorClasses* c);
// exports.initialize(systemError, mediaError).
void InitErrors(Napi::Env env, Napi::Object exports);

// Throws a DaxSystemError shaped like a node:fs error. `err` is a positive
// errno; path may be null.
void ThrowSystemError(napi_env env, int err, const char* syscall, const char* path);
// The same, with the path as the JS string lib/ gave (see Display in
// args.h): handed over as it is, so that the lossless text of a name that is
// not UTF-8 (U+DC80 + byte) reaches the error unchanged. A UTF-8 round trip
// would turn each such byte into U+FFFD, and the error would name another
// file.
void ThrowSystemErrorWithPath(napi_env env, int err, const char* syscall, napi_value path);

enum FaultKind : int { kFaultMedia = 0, kFaultTruncated = 1, kFaultUnknown = 2 };

// What a guarded access knew when SIGBUS interrupted it.
struct MediaFault {
  const char* op;         // the DaxMapping method
  const char* path;       // its mapping's path
  const char* buffer;     // 'mapping', 'source' or 'target': where the fault was
  int64_t offset;         // in the mapping whose method ran, or -1 (outside it)
  const char* other_path; // another daxkit mapping the fault was in, or null
  int64_t other_offset;   // and the offset there, or -1
  uintptr_t address;
  int si_code;
  FaultKind kind;         // media (poison, a bad block), or beyond the end of a truncated file
};
// Throws a DaxMediaError for a SIGBUS caught in a guarded access.
void ThrowMediaError(napi_env env, const MediaFault& f);

// TypeError / RangeError with a Node-style `code`.
void ThrowTypeError(napi_env env, const char* code, const char* message);
void ThrowRangeError(napi_env env, const char* code, const char* message);
// A plain Error with a daxkit code (ERR_DAX_*).
void ThrowCodeError(napi_env env, const char* code, const char* message);

}  // namespace dax
