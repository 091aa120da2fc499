// statx, the fd walk (O_PATH opens, reopen, getdents64, fstatfs),
// FS_IOC_FS{GET,SET}XATTR, fallocate and FIEMAP: one syscall-shaped
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
      rc = statx_path(fd, path.c_str(), IsTrue(env, info[2]), &st);
    }
  } else {
    if (!GetPathBytes(info, 0, "path", &path)) return env.Undefined();
    display = info[2].IsString() ? Display(info, 2) : info[0].IsString() ? path : std::string();
    rc = statx_path(AT_FDCWD, path.c_str(), IsTrue(env, info[1]), &st);
  }
  if (rc < 0) {
    ThrowSystemError(env, -rc, "statx", OrNull(display));
    return env.Undefined();
  }
  ObjectBuilder o(env);
  o.Num("mask", st.mask)
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
  // Mount ids are small counters (or 2^32 + n for STATX_MNT_ID_UNIQUE), far below 2^53.
  if (st.has_mnt_id) o.Num("mntId", static_cast<double>(st.mnt_id)); else o.Null("mntId");
  return o;
}

// openPath(dirFd, name, followSymlinks, display) -> an O_PATH fd
Napi::Value JS_openPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirfd;
  std::string name;
  if (!GetFd(info, 0, "dirFd", &dirfd) || !GetPathBytes(info, 1, "name", &name)) return env.Undefined();
  int fd = open_path(dirfd, name.c_str(), IsTrue(env, info[2]));
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
  int fd = reopen(pfd, IsTrue(env, info[1]), IsTrue(env, info[2]));
  if (fd < 0) {
    ThrowSystemError(env, -fd, "open", OrNull(Display(info, 3)));
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

struct DirCtx {
  napi_env env;
  napi_value out;
  uint32_t n;
};

void PushName(const char* name, size_t len, void* p) {
  auto* c = static_cast<DirCtx*>(p);
  napi_value b;
  if (napi_create_buffer_copy(c->env, len, name, nullptr, &b) == napi_ok) napi_set_element(c->env, c->out, c->n++, b);
}

// readDir(fd, display) -> [Buffer]: the names, unsorted, as bytes
Napi::Value JS_readDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, "fd", &fd)) return env.Undefined();
  DirCtx c{env, nullptr, 0};
  if (napi_create_array(env, &c.out) != napi_ok) return env.Undefined();
  int rc = read_dir(fd, PushName, &c);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "scandir", OrNull(Display(info, 1)));
    return env.Undefined();
  }
  return Napi::Value(env, c.out);
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
  return ObjectBuilder(env)
      .Num("type", static_cast<double>(st.type))
      .Num("bsize", static_cast<double>(st.bsize))
      .Num("flags", static_cast<double>(st.flags));
}

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
  if (!GetFd(info, 0, "fd", &fd)) return env.Undefined();
  FsXattr x;
  int rc = fsgetxattr(fd, &x);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "ioctl", OrNull(Display(info, 1)));
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

// linkFd(fd, path): names an O_TMPFILE file (see link_fd in sys.h).
Napi::Value JS_linkFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  std::string path;
  if (!GetInt64(info, 0, "fd", &fd) || !GetPathBytes(info, 1, "path", &path)) return env.Undefined();
  int rc = link_fd(static_cast<int>(fd), path.c_str());
  if (rc < 0) ThrowSystemError(env, -rc, "link", path.c_str());
  return env.Undefined();
}

}  // namespace

void InitFsOps(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "statx", Binding<JS_statx>);
  Export(env, exports, "openPath", Binding<JS_openPath>);
  Export(env, exports, "reopen", Binding<JS_reopen>);
  Export(env, exports, "readDir", Binding<JS_readDir>);
  Export(env, exports, "fstatfs", Binding<JS_fstatfs>);
  Export(env, exports, "fsGetXattr", Binding<JS_fsGetXattr>);
  Export(env, exports, "fsSetXflags", Binding<JS_fsSetXflags>);
  Export(env, exports, "fallocate", Binding<JS_fallocate>);
  Export(env, exports, "fiemap", Binding<JS_fiemap>);
  Export(env, exports, "xfsGeometryFlags", Binding<JS_xfsGeometryFlags>);
  Export(env, exports, "linkFd", Binding<JS_linkFd>);
}

}  // namespace dax
