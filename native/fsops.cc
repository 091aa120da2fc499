// statx, FS_IOC_FS{GET,SET}XATTR, fallocate and FIEMAP: one syscall-shaped
// function each. Paths and flags are validated in lib/; here they are only
// type-checked, because the binding is reachable from user code.
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "sys.h"

namespace dax {

namespace {

bool GetString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (!info[i].IsString()) {
    std::string m = std::string("The \"") + name + "\" argument must be of type string";
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", m.c_str());
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

bool GetInt64(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out) {
  if (napi_get_value_int64(info.Env(), info[i], out) != napi_ok) {
    std::string m = std::string("The \"") + name + "\" argument must be a number";
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", m.c_str());
    return false;
  }
  return true;
}


// statx(path, followSymlinks) or statx(fd) for an open file.
Napi::Value JS_statx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StatxResult st;
  int rc;
  std::string path;
  if (info[0].IsNumber()) {
    int64_t fd;
    if (!GetInt64(info, 0, "fd", &fd)) return env.Undefined();
    rc = statx_path(static_cast<int>(fd), "", true, &st);
  } else {
    if (!GetString(info, 0, "path", &path)) return env.Undefined();
    rc = statx_path(AT_FDCWD, path.c_str(), IsTrue(env, info[1]), &st);
  }
  if (rc < 0) {
    ThrowSystemError(env, -rc, "statx", path.empty() ? nullptr : path.c_str());
    return env.Undefined();
  }
  return ObjectBuilder(env)
      .Num("mask", st.mask)
      .U64("attributes", st.attributes)
      .U64("attributesMask", st.attributes_mask)
      .Num("mode", st.mode)
      .Num("nlink", st.nlink)
      .Num("uid", st.uid)
      .Num("gid", st.gid)
      .U64("ino", st.ino)
      .U64("size", st.size)
      .U64("blocks", st.blocks)
      .Num("blksize", st.blksize)
      .Num("devMajor", st.dev_major)
      .Num("devMinor", st.dev_minor)
      .Num("rdevMajor", st.rdev_major)
      .Num("rdevMinor", st.rdev_minor);
}

napi_value XattrObject(napi_env env, const FsXattr& x) {
  return ObjectBuilder(env)
      .Num("xflags", x.xflags)
      .Num("extsize", x.extsize)
      .Num("nextents", x.nextents)
      .Num("projid", x.projid)
      .Num("cowextsize", x.cowextsize);
}

// fsGetXattr(path, followSymlinks) -> { xflags, extsize, nextents, projid, cowextsize }
Napi::Value JS_fsGetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!GetString(info, 0, "path", &path)) return env.Undefined();
  int fd = open_for_ioctl(path.c_str(), IsTrue(env, info[1]));
  if (fd < 0) {
    ThrowSystemError(env, -fd, "open", path.c_str());
    return env.Undefined();
  }
  FsXattr x;
  int rc = fsgetxattr(fd, &x);
  close_fd(fd);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "ioctl", path.c_str());
    return env.Undefined();
  }
  return Napi::Value(env, XattrObject(env, x));
}

// fsSetXflags(path, followSymlinks, setMask, clearMask) -> { before, after }
// Read-modify-write on one open fd: only the requested bits change, every
// other flag and field is written back as read.
Napi::Value JS_fsSetXflags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  int64_t set_mask, clear_mask;
  if (!GetString(info, 0, "path", &path) || !GetInt64(info, 2, "setMask", &set_mask) ||
      !GetInt64(info, 3, "clearMask", &clear_mask))
    return env.Undefined();
  int fd = open_for_ioctl(path.c_str(), IsTrue(env, info[1]));
  if (fd < 0) {
    ThrowSystemError(env, -fd, "open", path.c_str());
    return env.Undefined();
  }
  FsXattr before, after;
  int rc = fsgetxattr(fd, &before);
  if (rc == 0) {
    FsXattr x = before;
    x.xflags = (x.xflags | static_cast<uint32_t>(set_mask)) & ~static_cast<uint32_t>(clear_mask);
    if (x.xflags != before.xflags) rc = fssetxattr(fd, &x);
    if (rc == 0) rc = fsgetxattr(fd, &after);
  }
  close_fd(fd);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "ioctl", path.c_str());
    return env.Undefined();
  }
  return ObjectBuilder(env).Val("before", XattrObject(env, before)).Val("after", XattrObject(env, after));
}

// fallocate(fd, mode, offset, length, path)
Napi::Value JS_fallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, mode, off, len;
  if (!GetInt64(info, 0, "fd", &fd) || !GetInt64(info, 1, "mode", &mode) ||
      !GetInt64(info, 2, "offset", &off) || !GetInt64(info, 3, "length", &len))
    return env.Undefined();
  std::string path = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : std::string();
  int rc = fallocate_range(static_cast<int>(fd), static_cast<int>(mode), static_cast<uint64_t>(off),
                           static_cast<uint64_t>(len));
  if (rc < 0) ThrowSystemError(env, -rc, "fallocate", path.empty() ? nullptr : path.c_str());
  return env.Undefined();
}

struct FiemapCtx {
  napi_env env;
  napi_value out;
  uint32_t n;
};

void PushExtent(const Extent& e, void* p) {
  auto* c = static_cast<FiemapCtx*>(p);
  napi_value o = ObjectBuilder(c->env)
                     .Num("logical", static_cast<double>(e.logical))
                     .Num("physical", static_cast<double>(e.physical))
                     .Num("length", static_cast<double>(e.length))
                     .Num("flags", e.flags);
  napi_set_element(c->env, c->out, c->n++, o);
}

// fiemap(fd, path) -> [{ logical, physical, length, flags }] (bytes)
Napi::Value JS_fiemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!GetInt64(info, 0, "fd", &fd)) return env.Undefined();
  std::string path = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  FiemapCtx c{env, nullptr, 0};
  if (napi_create_array(env, &c.out) != napi_ok) return env.Undefined();
  int rc = fiemap(static_cast<int>(fd), PushExtent, &c);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "ioctl", path.empty() ? nullptr : path.c_str());
    return env.Undefined();
  }
  return Napi::Value(env, c.out);
}

// xfsGeometryFlags(path) -> the XFS_FSOP_GEOM_FLAGS_* word of the filesystem of path
Napi::Value JS_xfsGeometryFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!GetString(info, 0, "path", &path)) return env.Undefined();
  int fd = open_for_ioctl(path.c_str(), true);
  if (fd < 0) {
    ThrowSystemError(env, -fd, "open", path.c_str());
    return env.Undefined();
  }
  uint32_t flags = 0;
  int rc = xfs_geometry_flags(fd, &flags);
  close_fd(fd);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "ioctl", path.c_str());
    return env.Undefined();
  }
  return Napi::Number::New(env, flags);
}

// linkFd(fd, path): names an O_TMPFILE file (see link_fd in sys.h).
Napi::Value JS_linkFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  std::string path;
  if (!GetInt64(info, 0, "fd", &fd) || !GetString(info, 1, "path", &path)) return env.Undefined();
  int rc = link_fd(static_cast<int>(fd), path.c_str());
  if (rc < 0) ThrowSystemError(env, -rc, "link", path.c_str());
  return env.Undefined();
}

}  // namespace

void InitFsOps(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "statx", Binding<JS_statx>);
  Export(env, exports, "fsGetXattr", Binding<JS_fsGetXattr>);
  Export(env, exports, "fsSetXflags", Binding<JS_fsSetXflags>);
  Export(env, exports, "fallocate", Binding<JS_fallocate>);
  Export(env, exports, "fiemap", Binding<JS_fiemap>);
  Export(env, exports, "xfsGeometryFlags", Binding<JS_xfsGeometryFlags>);
  Export(env, exports, "linkFd", Binding<JS_linkFd>);
}

}  // namespace dax
