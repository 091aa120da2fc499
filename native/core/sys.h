// The napi-free core: syscall-shaped wrappers that return -errno on failure.
// Nothing here includes a JS engine header, so any of it can run off the JS
// thread (an AsyncWorker) or be reused by the native calibration benchmark.
#pragma once

#ifndef __linux__
#error "daxkit supports Linux only"
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace dax {

// How mmap is asked for.
enum MapMode : int {
  kMapShared = 0,  // MAP_SHARED
  kMapSync = 1,    // MAP_SHARED_VALIDATE | MAP_SYNC
};

// Maps `length` bytes of `fd` at `offset` at an address congruent to
// `offset` modulo `align` (align is a power of two >= the page size), so that
// the kernel can back the range with huge pages where it wants to.
// Returns 0 and sets *out, or -errno (the mmap errno).
int map(int fd, uint64_t offset, size_t length, bool readonly, MapMode mode,
        size_t align, void** out);
int unmap(void* addr, size_t length);
// Puts zero-filled memory that belongs to no file in place of [addr,
// addr + length), atomically for every thread (one MAP_FIXED mmap): whatever
// was mapped there (a file) is out of reach when it returns, and the
// addresses stay valid. Private anonymous memory (MAP_NORESERVE: no memory
// until written); under a strict commit limit (vm.overcommit_memory=2), where
// that would be charged in full (and refused after the old range is already
// gone), a sparse memfd mapped shared, which is charged page by page only
// when written. Returns kStandInWritable, or a fallback that still keeps the
// range (kStandInReadOnly, kStandInNone: stores through it fault), or -errno.
enum StandIn : int { kStandInWritable = 0, kStandInReadOnly = 1, kStandInNone = 2 };
int replace_anonymous(void* addr, size_t length);
// The current size of the file mapped at addr: through /proc/self/map_files,
// which names the very inode of the mapping however it was renamed (it needs
// CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN), else by `path` if that still
// names the inode (dev, ino) that was mapped. Returns 0, or -errno (-ENOENT:
// no way to tell).
int mapped_file_size(uintptr_t addr, const char* path, uint64_t dev, uint64_t ino, uint64_t* size);
// The device and inode of an open file (fstat). Returns 0 or -errno.
int fd_identity(int fd, uint64_t* dev, uint64_t* ino);
// msync(MS_SYNC) over the page-rounded range [addr, addr + length).
int msync_range(void* addr, size_t length);
int fallocate_range(int fd, int mode, uint64_t offset, uint64_t length);
size_t page_size();

struct StatxResult {
  uint32_t mask;
  uint64_t attributes;
  uint64_t attributes_mask;
  uint32_t mode;
  uint32_t nlink;
  uint32_t uid;
  uint32_t gid;
  uint64_t ino;
  uint64_t size;
  uint64_t blocks;
  uint32_t blksize;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint32_t rdev_major;
  uint32_t rdev_minor;
  // The mount the object was reached through (STATX_MNT_ID, Linux 5.8); 0
  // when the kernel did not say (has_mnt_id false).
  uint64_t mnt_id;
  bool has_mnt_id;
};
// statx(2) of `path` (relative to dirfd; "" is dirfd itself), asking for the
// basic stats and the mount id.
int statx_path(int dirfd, const char* path, bool follow, StatxResult* out);

// The walk of a tree by file descriptor (lib/fs/tree-walk.ts). Nothing is ever
// reached by a path resolved twice: each name is opened relative to the fd
// of the directory that listed it, as an O_PATH handle that cannot follow a
// symlink, and only what that handle turned out to be is opened for I/O.

// openat(dirfd, name, O_PATH | O_CLOEXEC [| O_NOFOLLOW]). An O_PATH open
// runs no driver code and cannot block (a FIFO or a device is not opened),
// so the caller can look at what it got before it opens it for real.
// Returns the fd or -errno.
int open_path(int dirfd, const char* name, bool follow);
// Opens the object behind an O_PATH handle for I/O (the FS_IOC_FS*XATTR and
// FIEMAP ioctls do not work on O_PATH): a directory through openat(fd, ".",
// O_DIRECTORY), anything else through the /proc/self/fd magic link, which
// names the handle's own inode and so cannot be swapped. The caller checks
// the type first: only regular files and directories are opened. Returns the
// fd or -errno (-ESTALE if the result is not the same inode, which the
// kernel never does).
int reopen(int path_fd, bool directory, bool write);
// The names in directory `fd` (getdents64 from offset 0), without "." and
// "..", one call of `cb` each. Returns 0 or -errno.
int read_dir(int fd, void (*cb)(const char* name, size_t len, void* ctx), void* ctx);
// fstatfs(2) of the filesystem `fd` is on: its magic, block size, and the
// ST_* flags of the mount (ST_RDONLY for a read-only mount or superblock).
struct FsStat {
  uint64_t type;
  uint64_t bsize;
  uint64_t flags;
};
int fs_stat(int fd, FsStat* out);

struct FsXattr {
  uint32_t xflags;
  uint32_t extsize;
  uint32_t nextents;
  uint32_t projid;
  uint32_t cowextsize;
};
// FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR on an open fd.
int fsgetxattr(int fd, FsXattr* out);
int fssetxattr(int fd, const FsXattr* in);
// FS_IOC_GETFLAGS: the inode flags as chattr(1) sees them (ext4's inline
// data, encryption and verity bits among them).
int get_inode_flags(int fd, uint32_t* out);
int close_fd(int fd);
// Gives the file open at fd (an O_TMPFILE file) the name `path`, failing with
// EEXIST rather than replacing anything: linkat of /proc/self/fd/N with
// AT_SYMLINK_FOLLOW, which needs no privilege (AT_EMPTY_PATH would).
int link_fd(int fd, const char* path);

struct Extent {
  uint64_t logical;
  uint64_t physical;
  uint64_t length;
  uint32_t flags;
};
// FS_IOC_FIEMAP over the whole file, with FIEMAP_FLAG_SYNC so that delayed
// allocations have physical addresses. Calls `cb` per extent. Returns the
// number of extents or -errno.
int fiemap(int fd, void (*cb)(const Extent&, void*), void* ctx);

// XFS_IOC_FSGEOMETRY: the `flags` word of struct xfs_fsop_geom (reflink,
// rmapbt, ...). Returns 0 or -errno (ENOTTY on other filesystems).
int xfs_geometry_flags(int fd, uint32_t* flags);

}  // namespace dax
