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
#include <sys/statfs.h>
#include <sys/syscall.h>
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#include <unistd.h>

#include "trace.h"

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

namespace {

bool strict_overcommit() {
  int fd = ::open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char c = '0';
  const bool two = ::read(fd, &c, 1) == 1 && c == '2';
  ::close(fd);
  return two;
}

// Nothing here can fail after the kernel has let go of the old range, or
// another thread's mmap could land in the hole before the next attempt: a
// shared mapping of a file is never charged against the commit limit, and
// neither is a private one without write permission.
int map_memfd(void* addr, size_t length) {
  int fd = static_cast<int>(syscall(SYS_memfd_create, "daxkit-closed", MFD_CLOEXEC));
  if (fd < 0) return -errno;
  int rc = 0;
  if (ftruncate(fd, static_cast<off_t>(length)) != 0 ||
      mmap(addr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
    rc = -errno;
  }
  ::close(fd);
  return rc;
}

}  // namespace

int replace_anonymous(void* addr, size_t length) {
  const int anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;
  if (strict_overcommit()) {
    if (map_memfd(addr, length) == 0) return kStandInWritable;
  } else if (mmap(addr, length, PROT_READ | PROT_WRITE, anon, -1, 0) != MAP_FAILED) {
    return kStandInWritable;
  }
  if (mmap(addr, length, PROT_READ, anon, -1, 0) != MAP_FAILED) return kStandInReadOnly;
  if (mmap(addr, length, PROT_NONE, anon, -1, 0) != MAP_FAILED) return kStandInNone;
  return -errno;
}

int mapped_file_size(uintptr_t addr, const char* path, uint64_t dev, uint64_t ino, uint64_t* size) {
  struct stat st;
  if (FILE* f = fopen("/proc/self/maps", "re")) {
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
    char link[64];
    snprintf(link, sizeof link, "/proc/self/map_files/%lx-%lx", lo, hi);
    if (found && stat(link, &st) == 0) {
      *size = static_cast<uint64_t>(st.st_size);
      return 0;
    }
  }
  // map_files needs a capability; the path will do if it still names the
  // inode that was mapped.
  if (path != nullptr && path[0] != '\0' && stat(path, &st) == 0 && static_cast<uint64_t>(st.st_dev) == dev &&
      static_cast<uint64_t>(st.st_ino) == ino) {
    *size = static_cast<uint64_t>(st.st_size);
    return 0;
  }
  return -ENOENT;
}

int fd_identity(int fd, uint64_t* dev, uint64_t* ino) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  *dev = static_cast<uint64_t>(st.st_dev);
  *ino = static_cast<uint64_t>(st.st_ino);
  return 0;
}

int msync_range(void* addr, size_t length) {
  const uintptr_t ps = page_size();
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  uintptr_t start = a & ~(ps - 1);
  uintptr_t end = (a + length + ps - 1) & ~(ps - 1);
  if (end == start) return 0;
  if (msync(reinterpret_cast<void*>(start), end - start, MS_SYNC) != 0) return -errno;
  DAX_TRACE(kTraceMsync, start, end - start);
  return 0;
}

int fallocate_range(int fd, int mode, uint64_t offset, uint64_t length) {
  int rc;
  do {
    rc = ::fallocate(fd, mode, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : -errno;
}

// struct statx as the kernel defines it (include/uapi/linux/stat.h). The C
// libraries name stx_mnt_id differently or not at all (glibc 2.36 keeps it
// in padding), so the syscall is made with the kernel's own layout.
namespace {
struct KStatxTime {
  int64_t tv_sec;
  uint32_t tv_nsec;
  int32_t reserved;
};
struct KStatx {
  uint32_t mask, blksize;
  uint64_t attributes;
  uint32_t nlink, uid, gid;
  uint16_t mode, spare0;
  uint64_t ino, size, blocks, attributes_mask;
  KStatxTime atime, btime, ctime, mtime;
  uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  uint64_t mnt_id;
  uint64_t spare[13];
};
static_assert(sizeof(KStatx) == 256, "struct statx is 256 bytes");
static_assert(offsetof(KStatx, mnt_id) == 0x90, "stx_mnt_id is at 0x90");
constexpr unsigned kStatxBasicStats = 0x7ffU;
constexpr unsigned kStatxMntId = 0x1000U;
}  // namespace

int statx_path(int dirfd, const char* path, bool follow, StatxResult* out) {
  KStatx st;
  memset(&st, 0, sizeof st);
  int flags = AT_STATX_SYNC_AS_STAT | (follow ? 0 : AT_SYMLINK_NOFOLLOW);
  if (path[0] == '\0') flags |= AT_EMPTY_PATH;
  // Kernels before 5.8 ignore the STATX_MNT_ID request and leave it out of mask.
  if (syscall(SYS_statx, dirfd, path, flags, kStatxBasicStats | kStatxMntId, &st) != 0) return -errno;
  out->mask = st.mask;
  out->attributes = st.attributes;
  out->attributes_mask = st.attributes_mask;
  out->mode = st.mode;
  out->nlink = st.nlink;
  out->uid = st.uid;
  out->gid = st.gid;
  out->ino = st.ino;
  out->size = st.size;
  out->blocks = st.blocks;
  out->blksize = st.blksize;
  out->dev_major = st.dev_major;
  out->dev_minor = st.dev_minor;
  out->rdev_major = st.rdev_major;
  out->rdev_minor = st.rdev_minor;
  out->has_mnt_id = (st.mask & kStatxMntId) != 0;
  out->mnt_id = out->has_mnt_id ? st.mnt_id : 0;
  return 0;
}

int open_path(int dirfd, const char* name, bool follow) {
  int fd = ::openat(dirfd, name, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  return fd >= 0 ? fd : -errno;
}

int reopen(int path_fd, bool directory, bool write) {
  int fd;
  if (directory) {
    fd = ::openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } else {
    // O_NONBLOCK and O_NOCTTY only matter if the caller's type check was
    // skipped: no open of a FIFO or a terminal may block or take it over.
    char link[32];
    snprintf(link, sizeof link, "/proc/self/fd/%d", path_fd);
    fd = ::open(link, (write ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  }
  if (fd < 0) return -errno;
  struct stat a, b;
  if (fstat(path_fd, &a) != 0 || fstat(fd, &b) != 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
    ::close(fd);
    return -ESTALE;
  }
  return fd;
}

namespace {
struct Dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};
}  // namespace

int read_dir(int fd, void (*cb)(const char* name, size_t len, void* ctx), void* ctx) {
  // getdents64 on the fd itself rather than fdopendir(): a DIR* would own the
  // fd (or a dup sharing its offset), and nothing here needs libc's buffering.
  if (lseek(fd, 0, SEEK_SET) < 0) return -errno;
  alignas(8) char buf[32768];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      const Dirent64* d = reinterpret_cast<const Dirent64*>(buf + off);
      off += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      cb(name, strlen(name), ctx);
    }
  }
}

int fs_stat(int fd, FsStat* out) {
  struct statfs s;
  if (fstatfs(fd, &s) != 0) return -errno;
  out->type = static_cast<uint64_t>(s.f_type);
  out->bsize = static_cast<uint64_t>(s.f_bsize);
  out->flags = static_cast<uint64_t>(s.f_flags);
  return 0;
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

int get_inode_flags(int fd, uint32_t* out) {
  // The ioctl is declared with a long, but every filesystem reads and writes an int.
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return -errno;
  *out = static_cast<uint32_t>(flags);
  return 0;
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
