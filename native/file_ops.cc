// What open() and clearBadblocks() do to a file: fallocate(2), and the name
// given to an O_TMPFILE file once it is mapped.
#include <string>

#include "addon.h"
#include "args.h"
#include "core/sys.h"
#include "errors.h"

namespace dax {

namespace {

// fallocate(fd, mode, offset, length, path)
Napi::Value JS_fallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, mode, off, len;
  if (!GetInt64(env, info[0], "fd", &fd) || !GetInt64(env, info[1], "mode", &mode) ||
      !GetInt64(env, info[2], "offset", &off) || !GetInt64(env, info[3], "length", &len))
    return env.Undefined();
  int rc = fallocate_range(static_cast<int>(fd), static_cast<int>(mode), static_cast<uint64_t>(off),
                           static_cast<uint64_t>(len));
  if (rc < 0) ThrowSystemErrorWithPath(env, -rc, "fallocate", Display(env, info[4]));
  return env.Undefined();
}

// linkFd(fd, path): names an O_TMPFILE file (see link_fd in sys.h).
Napi::Value JS_linkFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  std::string path;
  if (!GetInt64(env, info[0], "fd", &fd) || !GetPathBytes(env, info[1], "path", &path)) return env.Undefined();
  int rc = link_fd(static_cast<int>(fd), path.c_str());
  if (rc < 0) ThrowSystemErrorWithPath(env, -rc, "link", Display(env, info[1]));
  return env.Undefined();
}

}  // namespace

void InitFileOps(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "fallocate", Binding<JS_fallocate>);
  Export(env, exports, "linkFd", Binding<JS_linkFd>);
}

}  // namespace dax
