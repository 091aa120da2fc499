#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// Older C libraries lack these; the values are the kernel ABI.
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

namespace dax {

size_t page_size() {
  static const size_t ps = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return ps;
}

// For an alignment above the page size, the mapping goes over an address
// range we reserved first: an anonymous
// PROT_NONE mapping of length + align, trimmed to the aligned window. mmap
// with MAP_FIXED then replaces our own reservation atomically, so no other
// thread can grab the range in between. A failed MAP_FIXED may already have
// unmapped part of the reservation, so on failure the whole window is
// released: everything in it is ours.
int map(int fd, uint64_t offset, size_t length, bool readonly, MapMode mode,
        size_t align, void** out) {
  const size_t ps = page_size();
  int flags = mode == kMapSync ? (MAP_SHARED_VALIDATE | MAP_SYNC) : MAP_SHARED;
  int prot = readonly ? PROT_READ : (PROT_READ | PROT_WRITE);
  if (align <= ps) {
    // Any page-aligned address will do: no reservation, so that small
    // mappings sit next to each other and, once closed, their anonymous
    // stand-ins merge into one memory area instead of one each.
    void* p = mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
    if (p == MAP_FAILED) return -errno;
    *out = p;
    return 0;
  }
  const size_t reserve_len = length + align;
  if (reserve_len < length) return -ENOMEM;
  void* r = mmap(nullptr, reserve_len, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return -errno;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(r);
  const uintptr_t hi = lo + reserve_len;
  const uintptr_t phase = static_cast<uintptr_t>(offset) & (align - 1);
  uintptr_t start = ((lo + align - 1) & ~(uintptr_t)(align - 1)) + phase;
  if (start >= lo + align) start -= align;
  // start is in [lo, lo + align), so [start, start + length) fits.
  if (start > lo) munmap(r, start - lo);
  if (hi > start + length) munmap(reinterpret_cast<void*>(start + length), hi - (start + length));

  void* p = mmap(reinterpret_cast<void*>(start), length, prot, flags | MAP_FIXED, fd,
                 static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    int e = errno;
    munmap(reinterpret_cast<void*>(start), length);
    return -e;
  }
  *out = p;
  return 0;
}

int unmap(void* addr, size_t length) {
  return munmap(addr, length) == 0 ? 0 : -errno;
}

int replace_anonymous(void* addr, size_t length) {
  // A MAP_FIXED mmap that fails may already have unmapped the old range
  // (mmap_region() charges a private writable mapping only after the unmap),
  // so each fallback asks for less: read-only and inaccessible mappings are
  // never charged against the commit limit.
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;
  const int prots[] = {PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE};
  int err = 0;
  for (int prot : prots) {
    if (mmap(addr, length, prot, flags, -1, 0) != MAP_FAILED) return 0;
    err = errno;
  }
  return -err;
}

int mapped_file_size(uintptr_t addr, uint64_t* size) {
  FILE* f = fopen("/proc/self/maps", "re");
  if (f == nullptr) return -errno;
  char line[512];
  unsigned long lo = 0, hi = 0;
  bool found = false;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) {
      found = true;
      break;
    }
    // A line longer than the buffer continues in the next read: skip it.
    while (strchr(line, '\n') == nullptr && fgets(line, sizeof line, f) != nullptr) {
    }
  }
  fclose(f);
  if (!found) return -ENOENT;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", lo, hi);
  struct stat st;
  if (stat(path, &st) != 0) return -errno;
  *size = static_cast<uint64_t>(st.st_size);
  return 0;
}

int msync_range(void* addr, size_t length) {
  const uintptr_t ps = page_size();
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  uintptr_t start = a & ~(ps - 1);
  uintptr_t end = (a + length + ps - 1) & ~(ps - 1);
  if (end == start) return 0;
  return msync(reinterpret_cast<void*>(start), end - start, MS_SYNC) == 0 ? 0 : -errno;
}

int fallocate_range(int fd, int mode, uint64_t offset, uint64_t length) {
  int rc;
  do {
    rc = ::fallocate(fd, mode, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : -errno;
}

int statx_path(int dirfd, const char* path, bool follow, StatxResult* out) {
  struct statx st;
  int flags = AT_STATX_SYNC_AS_STAT | (follow ? 0 : AT_SYMLINK_NOFOLLOW);
  if (path[0] == '\0') flags |= AT_EMPTY_PATH;
  if (::statx(dirfd, path, flags, STATX_BASIC_STATS, &st) != 0) return -errno;
  out->mask = st.stx_mask;
  out->attributes = st.stx_attributes;
  out->attributes_mask = st.stx_attributes_mask;
  out->mode = st.stx_mode;
  out->nlink = st.stx_nlink;
  out->uid = st.stx_uid;
  out->gid = st.stx_gid;
  out->ino = st.stx_ino;
  out->size = st.stx_size;
  out->blocks = st.stx_blocks;
  out->blksize = st.stx_blksize;
  out->dev_major = st.stx_dev_major;
  out->dev_minor = st.stx_dev_minor;
  out->rdev_major = st.stx_rdev_major;
  out->rdev_minor = st.stx_rdev_minor;
  return 0;
}

int open_for_ioctl(const char* path, bool follow) {
  // O_NONBLOCK: a FIFO must not block the caller; the ioctls ignore it.
  int fd = ::open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  return fd >= 0 ? fd : -errno;
}

int close_fd(int fd) { return ::close(fd) == 0 ? 0 : -errno; }

int link_fd(int fd, const char* path) {
  char proc[32];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

int fsgetxattr(int fd, FsXattr* out) {
  struct fsxattr fa;
  memset(&fa, 0, sizeof fa);
  if (ioctl(fd, FS_IOC_FSGETXATTR, &fa) != 0) return -errno;
  out->xflags = fa.fsx_xflags;
  out->extsize = fa.fsx_extsize;
  out->nextents = fa.fsx_nextents;
  out->projid = fa.fsx_projid;
  out->cowextsize = fa.fsx_cowextsize;
  return 0;
}

int fssetxattr(int fd, const FsXattr* in) {
  struct fsxattr fa;
  memset(&fa, 0, sizeof fa);
  fa.fsx_xflags = in->xflags;
  fa.fsx_extsize = in->extsize;
  fa.fsx_nextents = in->nextents;
  fa.fsx_projid = in->projid;
  fa.fsx_cowextsize = in->cowextsize;
  return ioctl(fd, FS_IOC_FSSETXATTR, &fa) == 0 ? 0 : -errno;
}

int fiemap(int fd, void (*cb)(const Extent&, void*), void* ctx) {
  // Fetched in batches: a heavily fragmented file can have more extents than
  // one call should allocate for.
  const unsigned batch = 256;
  const size_t sz = sizeof(struct fiemap) + batch * sizeof(struct fiemap_extent);
  struct fiemap* fm = static_cast<struct fiemap*>(calloc(1, sz));
  if (fm == nullptr) return -ENOMEM;
  uint64_t start = 0;
  int count = 0;
  uint32_t sync = FIEMAP_FLAG_SYNC;
  for (;;) {
    memset(fm, 0, sz);
    fm->fm_start = start;
    fm->fm_length = FIEMAP_MAX_OFFSET - start;
    fm->fm_flags = sync;
    fm->fm_extent_count = batch;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
      int e = errno;
      free(fm);
      return -e;
    }
    sync = 0;  // once is enough
    if (fm->fm_mapped_extents == 0) break;
    bool last = false;
    for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
      const struct fiemap_extent& fe = fm->fm_extents[i];
      Extent e{fe.fe_logical, fe.fe_physical, fe.fe_length, fe.fe_flags};
      cb(e, ctx);
      count++;
      start = fe.fe_logical + fe.fe_length;
      if (fe.fe_flags & FIEMAP_EXTENT_LAST) last = true;
    }
    if (last || fm->fm_mapped_extents < batch) break;
  }
  free(fm);
  return count;
}

// struct xfs_fsop_geom (v5, 256 bytes) from xfs_fs.h, which is not in the
// libc headers: only the flags word is read.
namespace {
struct XfsFsopGeom {
  uint32_t blocksize, rtextsize, agblocks, agcount, logblocks, sectsize, inodesize, imaxpct;
  uint64_t datablocks, rtblocks, rtextents, logstart;
  unsigned char uuid[16];
  uint32_t sunit, swidth, version, flags, logsectsize, rtsectsize, dirblocksize, logsunit;
  uint32_t sick, checked;
  uint64_t reserved[17];
};
static_assert(sizeof(XfsFsopGeom) == 256, "xfs_fsop_geom is 256 bytes");
}  // namespace
#define DAX_XFS_IOC_FSGEOMETRY _IOR('X', 126, XfsFsopGeom)

int xfs_geometry_flags(int fd, uint32_t* flags) {
  XfsFsopGeom g;
  memset(&g, 0, sizeof g);
  if (ioctl(fd, DAX_XFS_IOC_FSGEOMETRY, &g) != 0) return -errno;
  *flags = g.flags;
  return 0;
}

}  // namespace dax
