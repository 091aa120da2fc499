// FS_IOC_FIEMAP: where a file's extents are on its device, for the media
// errors of a file (lib/pmem/file-analysis.ts).
#include <string>

#include "addon.h"
#include "args.h"
#include "core/sys.h"
#include "errors.h"

namespace dax {

namespace {

struct FiemapCtx {
  napi_env env;
  napi_value out;
  uint32_t n;
};

// The largest integer a double holds exactly: past it, an offset would be
// rounded, and a clear would punch a hole somewhere else.
constexpr uint64_t kMaxSafe = (uint64_t{1} << 53) - 1;

void PushExtent(const Extent& e, void* p) {
  auto* c = static_cast<FiemapCtx*>(p);
  const bool exact = e.logical <= kMaxSafe && e.length <= kMaxSafe - e.logical && e.physical <= kMaxSafe &&
                     e.length <= kMaxSafe - e.physical;
  napi_value o = ObjectBuilder(c->env)
                     .Num("logical", static_cast<double>(e.logical))
                     .Num("physical", static_cast<double>(e.physical))
                     .Num("length", static_cast<double>(e.length))
                     .Num("flags", e.flags)
                     .Bool("exact", exact);
  napi_set_element(c->env, c->out, c->n++, o);
}

// fiemap(fd, path) -> [{ logical, physical, length, flags, exact }] (bytes; exact:
// false when a number is past 2^53 - 1 and so rounded)
Napi::Value JS_fiemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!GetInt64(env, info[0], "fd", &fd)) return env.Undefined();
  FiemapCtx c{env, nullptr, 0};
  if (napi_create_array(env, &c.out) != napi_ok) return env.Undefined();
  int rc = fiemap(static_cast<int>(fd), PushExtent, &c);
  if (rc < 0) {
    ThrowSystemErrorWithPath(env, -rc, "ioctl", Display(env, info[1]));
    return env.Undefined();
  }
  return Napi::Value(env, c.out);
}

}  // namespace

void InitFiemap(Napi::Env env, Napi::Object exports) { Export(env, exports, "fiemap", Binding<JS_fiemap>); }

}  // namespace dax
