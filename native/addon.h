#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

namespace dax {

struct Region;

// Per-environment state (the main thread and every worker get their own).
// It lives until the environment is gone AND its last Region is freed:
// finalizers of buffers and handles may run late in teardown, after the
// instance-data finalizer, and still reach it.
struct AddonData {
  // Error classes defined in lib/errors.ts, handed over by initialize().
  // Released by the instance-data finalizer, while the env still exists.
  napi_ref system_error = nullptr;
  napi_ref media_error = nullptr;
  // The environment's regions, closed in place by its cleanup hook when a
  // worker (or the process) goes away with mappings still open.
  Region* regions = nullptr;
  // Open regions by slot, for the numeric handles the calls take
  // (region.cc). gens[i] counts the uses of slot i, so the id of a closed
  // mapping never resolves to the region that reuses its slot.
  std::vector<Region*> slots;
  std::vector<uint32_t> gens;
  std::vector<uint32_t> free_slots;
  // 1 for the environment, plus 1 per Region not yet freed.
  uint32_t refs = 1;
  // Set from DAXKIT_TEST_NO_EXTERNAL_BUFFERS at load: behave as a runtime
  // that refuses external ArrayBuffers (Electron does), which Node never is,
  // so that the error path can be tested. Read once, never changed.
  bool refuse_external_buffers = false;
};

AddonData* addon_data(napi_env env);
void AddonDataRelease(AddonData* d);

void InitErrors(Napi::Env env, Napi::Object exports);
void InitMapping(Napi::Env env, Napi::Object exports);
void InitFsOps(Napi::Env env, Napi::Object exports);
void InitCalibrate(Napi::Env env, Napi::Object exports);

}  // namespace dax
