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
// Puts private anonymous memory in place of [addr, addr + length), atomically
// for every thread (one MAP_FIXED mmap): whatever was mapped there (a file)
// is out of reach when it returns, and the addresses stay valid, reading
// zeros. Under a strict commit limit (vm.overcommit_memory=2) the range may
// come back read-only, or inaccessible. Returns 0 or -errno.
int replace_anonymous(void* addr, size_t length);
// The current size of the file mapped at addr, looked up through
// /proc/self/map_files (which names the very inode of the mapping, however it
// was renamed since). Returns 0, or -errno (-ENOENT: no file mapping there).
int mapped_file_size(uintptr_t addr, uint64_t* size);
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
};
// statx(2) of `path` (relative to dirfd), asking for the basic stats.
int statx_path(int dirfd, const char* path, bool follow, StatxResult* out);

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
// Opens `path` for the xattr ioctls: O_RDONLY | O_NONBLOCK | O_CLOEXEC, plus
// O_NOFOLLOW when !follow. Returns the fd or -errno.
int open_for_ioctl(const char* path, bool follow);
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
