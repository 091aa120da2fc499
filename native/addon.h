#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

namespace dax {

struct Region;

// Per-environment state (the main thread and every worker get their own).
struct AddonData {
  // Error classes defined in lib/errors.ts, handed over by initialize().
  Napi::FunctionReference system_error;
  Napi::FunctionReference media_error;
  // Mapped regions of this environment, unmapped by the cleanup hook when a
  // worker (or the process) goes away with mappings still open.
  Region* regions = nullptr;
  // Live regions by slot, for the numeric handles the hot calls take (see
  // GetRegion in mapping.cc). gens[i] counts the uses of slot i, so the id of
  // a closed mapping never resolves to the region that reuses its slot.
  std::vector<Region*> slots;
  std::vector<uint32_t> gens;
  std::vector<uint32_t> free_slots;
  // Set from DAXKIT_TEST_NO_EXTERNAL_BUFFERS at load: behave as a runtime
  // that refuses external ArrayBuffers (Electron does), which Node never is,
  // so that the error path can be tested. Read once, never changed.
  bool refuse_external_buffers = false;
};

AddonData* addon_data(Napi::Env env);

// The bytes of a TypedArray or DataView argument (mapping.cc); false, with
// ERR_INVALID_ARG_TYPE thrown naming the argument, for anything else.
bool GetBytes(Napi::Env env, napi_value v, const char* name, uint8_t** data, size_t* len);

void InitErrors(Napi::Env env, Napi::Object exports);
void InitMapping(Napi::Env env, Napi::Object exports);
void InitFsOps(Napi::Env env, Napi::Object exports);
void InitCalibrate(Napi::Env env, Napi::Object exports);

}  // namespace dax
