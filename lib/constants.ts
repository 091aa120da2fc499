// The kernel's numbers that daxkit uses in more than one place, with the
// kernel's spellings (grep the man pages for them). The first four are
// exported by the package.
import { binding } from './binding';

/** `STATX_ATTR_DAX`: the file is in the DAX state (S_DAX). Linux 5.8. */
export const STATX_ATTR_DAX = 0x00200000;
/** FS_XFLAG_DAX: the persistent per-inode DAX flag (FS_IOC_FSGETXATTR). */
export const FS_XFLAG_DAX = 0x00008000;
/** MAP_SYNC (mmap(2)), as passed with MAP_SHARED_VALIDATE. */
export const MAP_SYNC = 0x80000;
/** MAP_SHARED_VALIDATE (mmap(2)). */
export const MAP_SHARED_VALIDATE = 0x03;

/** The page size (sysconf(_SC_PAGESIZE)), from the addon. */
export const PAGE_SIZE = binding.cpuInfo().pageSize;

export const FS_XFLAG_REALTIME = 0x00000001;
export const FS_XFLAG_IMMUTABLE = 0x00000008;
export const FS_XFLAG_APPEND = 0x00000010;

/** The `dirfd` of openat(2) and statx(2) that means the working directory. */
export const AT_FDCWD = -100;
/** open(2): an unnamed file in a directory; fs.constants does not carry it. */
export const O_TMPFILE = 0o20200000;
/** statfs(2) f_flags: the mount or the superblock is read-only. */
export const ST_RDONLY = 1;

/** File types of st_mode (inode(7)). */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;
