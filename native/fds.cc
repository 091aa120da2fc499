// The fds the bindings open for JS (the tree walk's O_PATH handles and what
// it reopens for I/O), per environment. Node tracks the fds of a worker
// that fs.open() gave it, and closes them when the worker goes away; it knows
// nothing of these. So they are registered here: JS closes them with
// closeFd() (never fs.closeSync, which warns about an fd it did not open, and
// would leave this registry holding a number the kernel may reuse), and the
// environment's cleanup hook closes whatever a terminated worker left open
// mid-walk, which would otherwise keep files busy (umount: EBUSY) for the
// life of the process.
#include <errno.h>

#include "addon.h"
#include "args.h"
#include "core/sys.h"
#include "errors.h"

namespace dax {

int TrackFd(napi_env env, int fd) {
  if (fd >= 0) addon_data(env)->fds.insert(fd);
  return fd;
}

namespace {

// Runs once the environment's JS is done for good (worker exit, process
// exit): nothing will ever close these otherwise.
void CloseAllFds(void* arg) {
  auto* d = static_cast<AddonData*>(arg);
  for (int fd : d->fds) close_fd(fd);
  d->fds.clear();
  AddonDataRelease(d);
}

// closeFd(fd): closes an fd a binding opened. Any other fd (one of Node's,
// or one already closed) is EBADF and stays as it is.
napi_value CloseFd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (!GetFd(env, argc > 0 ? argv[0] : nullptr, "fd", &fd)) return nullptr;
  AddonData* d = addon_data(env);
  if (d->fds.erase(fd) == 0) {
    ThrowSystemError(env, EBADF, "close", nullptr);
    return nullptr;
  }
  // Linux releases the number even when close() reports an error (EINTR, EIO).
  int rc = close_fd(fd);
  if (rc < 0) ThrowSystemError(env, -rc, "close", nullptr);
  return nullptr;
}

// openFdCount(): how many such fds this environment holds (tests).
napi_value OpenFdCount(napi_env env, napi_callback_info) {
  napi_value n = nullptr;
  napi_create_uint32(env, static_cast<uint32_t>(addon_data(env)->fds.size()), &n);
  return n;
}

}  // namespace

void InitFds(Napi::Env env, Napi::Object exports) {
  AddonData* d = addon_data(env);
  d->refs++;
  if (napi_add_env_cleanup_hook(env, CloseAllFds, d) != napi_ok) AddonDataRelease(d);
  Export(env, exports, "closeFd", CloseFd);
  Export(env, exports, "openFdCount", OpenFdCount);
}

}  // namespace dax
