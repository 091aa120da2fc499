// Module init and exports only; lib/binding.ts mirrors this surface in the
// NativeBinding interface.
#include "addon.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>

namespace dax {

AddonData* addon_data(napi_env env) {
  void* d = nullptr;
  napi_get_instance_data(env, &d);
  return static_cast<AddonData*>(d);
}

void AddonDataRelease(AddonData* d) {
  if (--d->refs == 0) delete d;
}

namespace {

void FinalizeAddonData(napi_env env, void* data, void*) {
  auto* d = static_cast<AddonData*>(data);
  if (d->system_error != nullptr) napi_delete_reference(env, d->system_error);
  if (d->media_error != nullptr) napi_delete_reference(env, d->media_error);
  d->system_error = d->media_error = nullptr;
  AddonDataRelease(d);
}

// Node unloads (dlclose) an addon that only workers loaded when the last of
// them exits. The SIGBUS handler and the watchdog thread are process-wide
// and outlive any worker, so this library must never be unloaded.
void PinLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&PinLibrary), &info) != 0 && info.dli_fname != nullptr) {
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
  });
}

}  // namespace

}  // namespace dax

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  using namespace dax;
  PinLibrary();
  auto* d = new AddonData();
  const char* v = getenv("DAXKIT_TEST_NO_EXTERNAL_BUFFERS");
  d->refuse_external_buffers = v != nullptr && strcmp(v, "1") == 0;
  if (napi_set_instance_data(env, d, FinalizeAddonData, nullptr) != napi_ok) {
    delete d;
    return exports;
  }
  InitErrors(env, exports);
  InitMapping(env, exports);
  InitFsOps(env, exports);
  InitCalibrate(env, exports);
  return exports;
}

NODE_API_MODULE(daxkit, InitAll)
