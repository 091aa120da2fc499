// An access to a mapping under the SIGBUS guard (core/guard.h), and the
// DaxMediaError a fault becomes.
#pragma once

#include <napi.h>

#include <stddef.h>
#include <stdint.h>

#include "region.h"

namespace dax {

// The two sides of a guarded access: the range of the mapping the method
// works on, and the caller's buffer (its source or target), if any.
struct Sides {
  size_t from;           // offset of the accessed range in the mapping
  size_t n;              // its length, and the other buffer's
  const uint8_t* other;  // the caller's buffer, or null
  const char* role;      // 'source' or 'target'
};

// Runs fn(arg) under the SIGBUS guard and turns a fault into a DaxMediaError
// that says which buffer faulted, where, and whether the file was truncated
// under the mapping (BUS_ADRERR beyond its end) rather than poisoned.
// Returns whether fn completed.
bool Guarded(napi_env env, Region* r, const char* op, void (*fn)(void*), void* arg, const Sides& s);

}  // namespace dax
