// What the binding files of a mapping share: the region behind the numeric
// id every call takes (the first argument), and the range arguments checked
// against it. The binding is reachable from user code, so a forged id or a
// bad range must never reach memory.
#pragma once

#include <napi.h>

#include <stddef.h>
#include <stdint.h>

#include "addon.h"
#include "region.h"

namespace dax {

inline AddonData* Data(const Napi::CallbackInfo& info) { return static_cast<AddonData*>(info.Data()); }

// The open region behind info[0]; throws (TypeError for a non-id,
// ERR_DAX_CLOSED for a closed or unknown one) and returns null otherwise.
Region* GetRegion(const Napi::CallbackInfo& info);

// Throws ERR_OUT_OF_RANGE unless [o, o + n) lies inside the mapping.
bool CheckRange(napi_env env, const Region* r, int64_t o, uint64_t n);

// Reads (offset, length) from info[i], info[i + 1] and checks them against
// the mapping.
bool GetRange(const Napi::CallbackInfo& info, size_t i, Region* r, size_t* off, size_t* len);

}  // namespace dax
