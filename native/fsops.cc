// statx, the fd walk (O_PATH opens, reopen, getdents64, fstatfs),
// FS_IOC_FS{GET,SET}XATTR, fallocate and FIEMAP: one syscall-shaped
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

// A path or a name: a string (UTF-8) or the exact bytes of a Buffer, which
// is how names that are not UTF-8 reach the kernel unchanged.
bool GetPathBytes(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
    out->assign(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
  } else if (info[i].IsString()) {
    *out = info[i].As<Napi::String>().Utf8Value();
  } else {
    std::string m = std::string("The \"") + name + "\" argument must be of type string or an instance of Buffer";
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", m.c_str());
    return false;
  }
  if (out->find('\0') != std::string::npos) {
    std::string m = std::string("The argument '") + name + "' must not contain null bytes";
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_VALUE", m.c_str());
    return false;
  }
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

bool GetFd(const Napi::CallbackInfo& info, size_t i, const char* name, int* out) {
  int64_t v;
  if (!info[i].IsNumber() || !GetInt64(info, i, name, &v) || v < -100 || v > INT32_MAX) {
    if (!info.Env().IsExceptionPending()) {
      std::string m = std::string("The \"") + name + "\" argument must be a file descriptor";
      ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", m.c_str());
    }
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

// The path an error names: the caller's text for it (argument i), which may
// differ from the bytes used (a Buffer, or a name relative to a directory fd).
std::string Display(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string();
}

const char* OrNull(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

Napi::Value U64(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

// statx(path, followSymlinks, display?), statx(dirFd, name, followSymlinks,
// display?) or statx(fd, undefined, display?): the basic stats and, where the
// kernel reports it, the mount id.
Napi::Value JS_statx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StatxResult st;
  int rc;
  std::string path;
  std::string display;
  if (info[0].IsNumber()) {
    int fd;
    if (!GetFd(info, 0, "fd", &fd)) return env.Undefined();
    if (info[1].IsUndefined()) {
      display = Display(info, 2);
      rc = statx_path(fd, "", true, &st);
    } else {
      if (!GetPathBytes(info, 1, "name", &path)) return env.Undefined();
      display = Display(info, 3);
      rc = statx_path(fd, path.c_str(), info[2].ToBoolean().Value(), &st);
    }
  } else {
    if (!GetPathBytes(info, 0, "path", &path)) return env.Undefined();
    display = info[2].IsString() ? Display(info, 2) : info[0].IsString() ? path : std::string();
    rc = statx_path(AT_FDCWD, path.c_str(), info[1].ToBoolean().Value(), &st);
  }
  if (rc < 0) {
    ThrowSystemError(env, -rc, "statx", OrNull(display));
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
  // Mount ids are small counters (or 2^32 + n for STATX_MNT_ID_UNIQUE), far below 2^53.
  o.Set("mntId", st.has_mnt_id ? Napi::Number::New(env, static_cast<double>(st.mnt_id)) : env.Null());
  return o;
}

// openPath(dirFd, name, followSymlinks, display) -> an O_PATH fd
Napi::Value JS_openPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirfd;
  std::string name;
  if (!GetFd(info, 0, "dirFd", &dirfd) || !GetPathBytes(info, 1, "name", &name)) return env.Undefined();
  int fd = open_path(dirfd, name.c_str(), info[2].ToBoolean().Value());
  if (fd < 0) {
    ThrowSystemError(env, -fd, "open", OrNull(Display(info, 3)));
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// reopen(pathFd, directory, write, display) -> an fd open for I/O on the same inode
Napi::Value JS_reopen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pfd;
  if (!GetFd(info, 0, "pathFd", &pfd)) return env.Undefined();
  int fd = reopen(pfd, info[1].ToBoolean().Value(), info[2].ToBoolean().Value());
  if (fd < 0) {
    ThrowSystemError(env, -fd, "open", OrNull(Display(info, 3)));
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

struct DirCtx {
  Napi::Env env;
  Napi::Array out;
  uint32_t n;
};

void PushName(const char* name, size_t len, void* p) {
  auto* c = static_cast<DirCtx*>(p);
  c->out.Set(c->n++, Napi::Buffer<char>::Copy(c->env, name, len));
}

// readDir(fd, display) -> [Buffer]: the names, unsorted, as bytes
Napi::Value JS_readDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, "fd", &fd)) return env.Undefined();
  DirCtx c{env, Napi::Array::New(env), 0};
  int rc = read_dir(fd, PushName, &c);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "scandir", OrNull(Display(info, 1)));
    return env.Undefined();
  }
  return c.out;
}

// fstatfs(fd, display) -> { type, bsize, flags } (flags: ST_RDONLY...)
Napi::Value JS_fstatfs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, "fd", &fd)) return env.Undefined();
  FsStat st;
  int rc = fs_stat(fd, &st);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "fstatfs", OrNull(Display(info, 1)));
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", Napi::Number::New(env, static_cast<double>(st.type)));
  o.Set("bsize", Napi::Number::New(env, static_cast<double>(st.bsize)));
  o.Set("flags", Napi::Number::New(env, static_cast<double>(st.flags)));
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

// fsGetXattr(fd, display) -> { xflags, extsize, nextents, projid, cowextsize }
Napi::Value JS_fsGetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, "fd", &fd)) return env.Undefined();
  FsXattr x;
  int rc = fsgetxattr(fd, &x);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "ioctl", OrNull(Display(info, 1)));
    return env.Undefined();
  }
  return XattrObject(env, x);
}

// fsSetXflags(fd, setMask, clearMask, display) -> { before, after }
// Read-modify-write on one open fd: only the requested bits change, every
// other flag and field is written back as read.
Napi::Value JS_fsSetXflags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t set_mask, clear_mask;
  if (!GetFd(info, 0, "fd", &fd) || !GetInt64(info, 1, "setMask", &set_mask) ||
      !GetInt64(info, 2, "clearMask", &clear_mask))
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
    ThrowSystemError(env, -rc, "ioctl", OrNull(Display(info, 3)));
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

// xfsGeometryFlags(fd, display) -> the XFS_FSOP_GEOM_FLAGS_* word of the filesystem of fd
Napi::Value JS_xfsGeometryFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, "fd", &fd)) return env.Undefined();
  uint32_t flags = 0;
  int rc = xfs_geometry_flags(fd, &flags);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "ioctl", OrNull(Display(info, 1)));
    return env.Undefined();
  }
  return Napi::Number::New(env, flags);
}

}  // namespace

void InitFsOps(Napi::Env env, Napi::Object exports) {
  exports.Set("statx", Napi::Function::New(env, JS_statx, "statx"));
  exports.Set("openPath", Napi::Function::New(env, JS_openPath, "openPath"));
  exports.Set("reopen", Napi::Function::New(env, JS_reopen, "reopen"));
  exports.Set("readDir", Napi::Function::New(env, JS_readDir, "readDir"));
  exports.Set("fstatfs", Napi::Function::New(env, JS_fstatfs, "fstatfs"));
  exports.Set("fsGetXattr", Napi::Function::New(env, JS_fsGetXattr, "fsGetXattr"));
  exports.Set("fsSetXflags", Napi::Function::New(env, JS_fsSetXflags, "fsSetXflags"));
  exports.Set("fallocate", Napi::Function::New(env, JS_fallocate, "fallocate"));
  exports.Set("fiemap", Napi::Function::New(env, JS_fiemap, "fiemap"));
  exports.Set("xfsGeometryFlags", Napi::Function::New(env, JS_xfsGeometryFlags, "xfsGeometryFlags"));
}

}  // namespace dax
