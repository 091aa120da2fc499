#pragma once

#include <napi.h>

#include <stdint.h>

namespace dax {

// Throws a DaxSystemError shaped like a node:fs error. `err` is a positive
// errno; path may be null.
void ThrowSystemError(Napi::Env env, int err, const char* syscall, const char* path);

// Throws a DaxMediaError for a SIGBUS caught in a guarded access.
// offset is relative to the mapping, or -1 when the fault was outside it (a
// source buffer that is itself a broken mapping).
void ThrowMediaError(Napi::Env env, const char* op, const char* path, int64_t offset,
                     uintptr_t address, int si_code);

// TypeError / RangeError with a Node-style `code`.
void ThrowTypeError(Napi::Env env, const char* code, const char* message);
void ThrowRangeError(Napi::Env env, const char* code, const char* message);
// A plain Error with a daxkit code (ERR_DAX_*).
void ThrowCodeError(Napi::Env env, const char* code, const char* message);

}  // namespace dax
