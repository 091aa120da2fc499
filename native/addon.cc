// Module init and exports only; lib/binding.ts mirrors this surface in the
// NativeBinding interface.
#include "addon.h"

#include <stdlib.h>
#include <string.h>

namespace dax {

AddonData* addon_data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace dax

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  using namespace dax;
  auto* d = new AddonData();
  const char* v = getenv("DAXKIT_TEST_NO_EXTERNAL_BUFFERS");
  d->refuse_external_buffers = v != nullptr && strcmp(v, "1") == 0;
  env.SetInstanceData(d);  // deleted with the environment
  InitErrors(env, exports);
  InitMapping(env, exports);
  InitFsOps(env, exports);
  InitCalibrate(env, exports);
  return exports;
}

NODE_API_MODULE(daxkit, InitAll)
