// statx, FS_IOC_FS{GET,SET}XATTR, fallocate and FIEMAP: one syscall-shaped
// function each. Paths and flags are validated in lib/; here they are only
// type-checked, because the binding is reachable from user code.
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>

#include <string>

#include "addon.h"
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

Napi::Value U64(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

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
    rc = statx_path(AT_FDCWD, path.c_str(), info[1].ToBoolean().Value(), &st);
  }
  if (rc < 0) {
    ThrowSystemError(env, -rc, "statx", path.empty() ? nullptr : path.c_str());
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("mask", Napi::Number::New(env, st.mask));
  o.Set("attributes", U64(env, st.attributes));
  o.Set("attributesMask", U64(env, st.attributes_mask));
  o.Set("mode", Napi::Number::New(env, st.mode));
  o.Set("nlink", Napi::Number::New(env, st.nlink));
  o.Set("uid", Napi::Number::New(env, st.uid));
  o.Set("gid", Napi::Number::New(env, st.gid));
  o.Set("ino", U64(env, st.ino));
  o.Set("size", U64(env, st.size));
  o.Set("blocks", U64(env, st.blocks));
  o.Set("blksize", Napi::Number::New(env, st.blksize));
  o.Set("devMajor", Napi::Number::New(env, st.dev_major));
  o.Set("devMinor", Napi::Number::New(env, st.dev_minor));
  o.Set("rdevMajor", Napi::Number::New(env, st.rdev_major));
  o.Set("rdevMinor", Napi::Number::New(env, st.rdev_minor));
  return o;
}

Napi::Object XattrObject(Napi::Env env, const FsXattr& x) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("xflags", Napi::Number::New(env, x.xflags));
  o.Set("extsize", Napi::Number::New(env, x.extsize));
  o.Set("nextents", Napi::Number::New(env, x.nextents));
  o.Set("projid", Napi::Number::New(env, x.projid));
  o.Set("cowextsize", Napi::Number::New(env, x.cowextsize));
  return o;
}

// fsGetXattr(path, followSymlinks) -> { xflags, extsize, nextents, projid, cowextsize }
Napi::Value JS_fsGetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!GetString(info, 0, "path", &path)) return env.Undefined();
  int fd = open_for_ioctl(path.c_str(), info[1].ToBoolean().Value());
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
  return XattrObject(env, x);
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
  int fd = open_for_ioctl(path.c_str(), info[1].ToBoolean().Value());
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
  Napi::Object o = Napi::Object::New(env);
  o.Set("before", XattrObject(env, before));
  o.Set("after", XattrObject(env, after));
  return o;
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
  Napi::Env env;
  Napi::Array out;
  uint32_t n;
};

void PushExtent(const Extent& e, void* p) {
  auto* c = static_cast<FiemapCtx*>(p);
  Napi::Object o = Napi::Object::New(c->env);
  o.Set("logical", Napi::Number::New(c->env, static_cast<double>(e.logical)));
  o.Set("physical", Napi::Number::New(c->env, static_cast<double>(e.physical)));
  o.Set("length", Napi::Number::New(c->env, static_cast<double>(e.length)));
  o.Set("flags", Napi::Number::New(c->env, e.flags));
  c->out.Set(c->n++, o);
}

// fiemap(fd, path) -> [{ logical, physical, length, flags }] (bytes)
Napi::Value JS_fiemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!GetInt64(info, 0, "fd", &fd)) return env.Undefined();
  std::string path = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  FiemapCtx c{env, Napi::Array::New(env), 0};
  int rc = fiemap(static_cast<int>(fd), PushExtent, &c);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "ioctl", path.empty() ? nullptr : path.c_str());
    return env.Undefined();
  }
  return c.out;
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

}  // namespace

void InitFsOps(Napi::Env env, Napi::Object exports) {
  exports.Set("statx", Napi::Function::New(env, JS_statx, "statx"));
  exports.Set("fsGetXattr", Napi::Function::New(env, JS_fsGetXattr, "fsGetXattr"));
  exports.Set("fsSetXflags", Napi::Function::New(env, JS_fsSetXflags, "fsSetXflags"));
  exports.Set("fallocate", Napi::Function::New(env, JS_fallocate, "fallocate"));
  exports.Set("fiemap", Napi::Function::New(env, JS_fiemap, "fiemap"));
  exports.Set("xfsGeometryFlags", Napi::Function::New(env, JS_xfsGeometryFlags, "xfsGeometryFlags"));
}

}  // namespace dax
