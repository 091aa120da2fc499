// FS_IOC_FS{GET,SET}XATTR (FS_XFLAG_DAX lives there), FS_IOC_GETFLAGS (the
// inode flags that make ext4 refuse DAX) and xfs's geometry flags, on an fd
// the tree walk opened.
#include "addon.h"
#include "args.h"
#include "core/sys.h"
#include "errors.h"

namespace dax {

namespace {

napi_value XattrObject(napi_env env, const FsXattr& x) {
  return ObjectBuilder(env)
      .Num("xflags", x.xflags)
      .Num("extsize", x.extsize)
      .Num("nextents", x.nextents)
      .Num("projid", x.projid)
      .Num("cowextsize", x.cowextsize);
}

// fsGetXattr(fd, display) -> { xflags, extsize, nextents, projid, cowextsize }
Napi::Value JS_fsGetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(env, info[0], "fd", &fd)) return env.Undefined();
  FsXattr x;
  int rc = fsgetxattr(fd, &x);
  if (rc < 0) {
    ThrowSystemErrorWithPath(env, -rc, "ioctl", Display(env, info[1]));
    return env.Undefined();
  }
  return Napi::Value(env, XattrObject(env, x));
}

// fsSetXflags(fd, setMask, clearMask, display) -> { before, after }
// Read-modify-write on one open fd: only the requested bits change, every
// other flag and field is written back as read.
Napi::Value JS_fsSetXflags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t set_mask, clear_mask;
  if (!GetFd(env, info[0], "fd", &fd) || !GetInt64(env, info[1], "setMask", &set_mask) ||
      !GetInt64(env, info[2], "clearMask", &clear_mask))
    return env.Undefined();
  FsXattr before, after;
  int rc = fsgetxattr(fd, &before);
  if (rc == 0) {
    FsXattr x = before;
    x.xflags = (x.xflags | static_cast<uint32_t>(set_mask)) & ~static_cast<uint32_t>(clear_mask);
    if (x.xflags != before.xflags) rc = fssetxattr(fd, &x);
    if (rc == 0) rc = fsgetxattr(fd, &after);
  }
  if (rc < 0) {
    ThrowSystemErrorWithPath(env, -rc, "ioctl", Display(env, info[3]));
    return env.Undefined();
  }
  return ObjectBuilder(env).Val("before", XattrObject(env, before)).Val("after", XattrObject(env, after));
}

// xfsGeometryFlags(fd, display) -> the XFS_FSOP_GEOM_FLAGS_* word of the filesystem of fd
Napi::Value JS_xfsGeometryFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(env, info[0], "fd", &fd)) return env.Undefined();
  uint32_t flags = 0;
  int rc = xfs_geometry_flags(fd, &flags);
  if (rc < 0) {
    ThrowSystemErrorWithPath(env, -rc, "ioctl", Display(env, info[1]));
    return env.Undefined();
  }
  return Napi::Number::New(env, flags);
}

// fsGetFlags(fd, display) -> the FS_IOC_GETFLAGS word of the inode
Napi::Value JS_fsGetFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(env, info[0], "fd", &fd)) return env.Undefined();
  uint32_t flags = 0;
  int rc = get_inode_flags(fd, &flags);
  if (rc < 0) {
    ThrowSystemErrorWithPath(env, -rc, "ioctl", Display(env, info[1]));
    return env.Undefined();
  }
  return Napi::Number::New(env, flags);
}

}  // namespace

void InitFsXattr(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "fsGetXattr", Binding<JS_fsGetXattr>);
  Export(env, exports, "fsSetXflags", Binding<JS_fsSetXflags>);
  Export(env, exports, "xfsGeometryFlags", Binding<JS_xfsGeometryFlags>);
  Export(env, exports, "fsGetFlags", Binding<JS_fsGetFlags>);
}

}  // namespace dax
