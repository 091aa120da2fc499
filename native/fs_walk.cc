// The tree walk's system calls (lib/fs/tree-walk.ts) and statx: O_PATH
// opens, the reopen of what one names, getdents64 and fstatfs, one
// syscall-shaped function each. Paths and flags are validated in lib/; here
// they are only type-checked, because the binding is reachable from user code.
#include <fcntl.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "core/sys.h"
#include "errors.h"

namespace dax {

namespace {

// statx(path, followSymlinks, display?), statx(dirFd, name, followSymlinks,
// display?) or statx(fd, undefined, display?): the basic stats and, where the
// kernel reports it, the mount id.
Napi::Value JS_statx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StatxResult st;
  int rc;
  std::string path;
  napi_value display;
  if (info[0].IsNumber()) {
    int fd;
    if (!GetFd(env, info[0], "fd", &fd)) return env.Undefined();
    if (info[1].IsUndefined()) {
      display = Display(env, info[2]);
      rc = statx_path(fd, "", true, &st);
    } else {
      if (!GetPathBytes(env, info[1], "name", &path)) return env.Undefined();
      display = Display(env, info[3]);
      rc = statx_path(fd, path.c_str(), IsTrue(env, info[2]), &st);
    }
  } else {
    if (!GetPathBytes(env, info[0], "path", &path)) return env.Undefined();
    display = info[2].IsString() ? Display(env, info[2]) : Display(env, info[0]);
    rc = statx_path(AT_FDCWD, path.c_str(), IsTrue(env, info[1]), &st);
  }
  if (rc < 0) {
    ThrowSystemErrorWithPath(env, -rc, "statx", display);
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

// openPath(dirFd, name, followSymlinks, display) -> an O_PATH fd (close it with closeFd)
Napi::Value JS_openPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirfd;
  std::string name;
  if (!GetFd(env, info[0], "dirFd", &dirfd) || !GetPathBytes(env, info[1], "name", &name)) return env.Undefined();
  int fd = open_path(dirfd, name.c_str(), IsTrue(env, info[2]));
  if (fd < 0) {
    ThrowSystemErrorWithPath(env, -fd, "open", Display(env, info[3]));
    return env.Undefined();
  }
  return Napi::Number::New(env, TrackFd(env, fd));
}

// reopen(pathFd, directory, write, display) -> an fd open for I/O on the same
// inode (close it with closeFd)
Napi::Value JS_reopen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pfd;
  if (!GetFd(env, info[0], "pathFd", &pfd)) return env.Undefined();
  int fd = reopen(pfd, IsTrue(env, info[1]), IsTrue(env, info[2]));
  if (fd < 0) {
    ThrowSystemErrorWithPath(env, -fd, "open", Display(env, info[3]));
    return env.Undefined();
  }
  return Napi::Number::New(env, TrackFd(env, fd));
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
  if (!GetFd(env, info[0], "fd", &fd)) return env.Undefined();
  DirCtx c{env, nullptr, 0};
  if (napi_create_array(env, &c.out) != napi_ok) return env.Undefined();
  int rc = read_dir(fd, PushName, &c);
  if (rc < 0) {
    ThrowSystemErrorWithPath(env, -rc, "scandir", Display(env, info[1]));
    return env.Undefined();
  }
  return Napi::Value(env, c.out);
}

// fstatfs(fd, display) -> { type, bsize, flags } (flags: ST_RDONLY...)
Napi::Value JS_fstatfs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(env, info[0], "fd", &fd)) return env.Undefined();
  FsStat st;
  int rc = fs_stat(fd, &st);
  if (rc < 0) {
    ThrowSystemErrorWithPath(env, -rc, "fstatfs", Display(env, info[1]));
    return env.Undefined();
  }
  return ObjectBuilder(env)
      .Num("type", static_cast<double>(st.type))
      .Num("bsize", static_cast<double>(st.bsize))
      .Num("flags", static_cast<double>(st.flags));
}

}  // namespace

void InitFsWalk(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "statx", Binding<JS_statx>);
  Export(env, exports, "openPath", Binding<JS_openPath>);
  Export(env, exports, "reopen", Binding<JS_reopen>);
  Export(env, exports, "readDir", Binding<JS_readDir>);
  Export(env, exports, "fstatfs", Binding<JS_fstatfs>);
}

}  // namespace dax
