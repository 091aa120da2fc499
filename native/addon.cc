// Module init and exports only; lib/binding.ts mirrors this surface in the
// NativeBinding interface.
#include "addon.h"

#include <stdlib.h>
#include <string.h>

namespace dax {

AddonData* addon_data(napi_env env) {
  void* d = nullptr;
  napi_get_instance_data(env, &d);
  return static_cast<AddonData*>(d);
}

ErrorClasses* error_classes(napi_env env) { return &addon_data(env)->errors; }

void AddonDataRelease(AddonData* d) {
  if (--d->refs == 0) delete d;
}

namespace {

void FinalizeAddonData(napi_env env, void* data, void*) {
  auto* d = static_cast<AddonData*>(data);
  ReleaseErrorClasses(env, &d->errors);
  if (d->noop != nullptr) napi_delete_reference(env, d->noop);
  d->noop = nullptr;
  AddonDataRelease(d);
}

}  // namespace

}  // namespace dax

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  using namespace dax;
  auto* d = new AddonData();
#ifdef DAXKIT_TEST
  const char* v = getenv("DAXKIT_TEST_NO_EXTERNAL_BUFFERS");
  d->refuse_external_buffers = v != nullptr && strcmp(v, "1") == 0;
#endif
  if (napi_set_instance_data(env, d, FinalizeAddonData, nullptr) != napi_ok) {
    delete d;
    return exports;
  }
  InitErrors(env, exports);
  InitFds(env, exports);
  InitMapping(env, exports);
  InitIo(env, exports);
  InitCpuInfo(env, exports);
  InitFsWalk(env, exports);
  InitFsXattr(env, exports);
  InitFiemap(env, exports);
  InitFileOps(env, exports);
#ifdef DAXKIT_TEST
  InitTestHooks(env, exports);
#endif
  return exports;
}

NODE_API_MODULE(daxkit, InitAll)
