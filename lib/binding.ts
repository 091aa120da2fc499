// The typed loader. NativeBinding mirrors native/addon.cc; nothing untyped
// leaves this file.
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');
import { DaxMediaError, DaxSystemError } from './errors';

/** Opaque owner of a native mapping (a type-tagged external): keep it reachable while the mapping is used. */
export interface NativeHandle {
  readonly __daxkitHandle: unique symbol;
}

/** The numeric id of a mapping that every call but map() and id() takes (see GetRegion in native/mapping.h). */
export type MappingId = number & { readonly __daxkitMappingId: unique symbol };

/** What statx(2) says about a path (the fields statx() returns, but `dax`). */
export interface NativeStatx {
  /** `stx_mask`: which of the basic fields the kernel filled in. */
  mask: number;
  /** `stx_attributes`: the file's attribute bits. */
  attributes: bigint;
  /** `stx_attributes_mask`: the bits of `attributes` this kernel and filesystem report. */
  attributesMask: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  ino: bigint;
  size: bigint;
  blocks: bigint;
  blksize: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  /** `stx_mnt_id`: the mount the path was reached through (bind mounts differ); null before Linux 5.8. */
  mntId: number | null;
}

export interface NativeFsXattr {
  xflags: number;
  extsize: number;
  nextents: number;
  projid: number;
  cowextsize: number;
}

export interface NativeExtent {
  logical: number;
  physical: number;
  length: number;
  flags: number;
  /** False when logical, physical or an end is past 2^53 - 1: the numbers are rounded, not usable. */
  exact: boolean;
}

export interface NativeCpuInfo {
  flush: 'clwb' | 'clflushopt' | 'clflush' | 'none';
  clflush: boolean;
  clflushopt: boolean;
  clwb: boolean;
  nonTemporal: boolean;
  lineSize: number;
  pageSize: number;
}

/** Counters of what persistence has cost one mapping (DaxMapping.stats()). */
export interface MappingStats {
  /** Cache lines written back (CLWB, CLFLUSHOPT or CLFLUSH). */
  linesFlushed: number;
  /** SFENCEs issued. */
  fences: number;
  /** msync(2) calls. */
  msyncs: number;
  /** Bytes stored with non-temporal stores by copyPersist(). */
  nonTemporalBytes: number;
}

/** native map() modes. */
export const enum MapMode {
  Shared = 0,
  Sync = 1,
}

/** How persist() works for a region; see native/region.h and native/io.cc. */
export const enum PersistMode {
  None = 0,
  Msync = 1,
  Flush = 2,
  Fence = 3,
}

export type ErrorClass = new (...args: never[]) => Error;

export interface NativeBinding {
  initialize(systemError: ErrorClass, mediaError: ErrorClass): void;
  /** `buffersMovable`: whether JS here can move an ArrayBuffer's memory to another object (see native/addon.h). */
  configure(buffersMovable: boolean): void;

  map(
    fd: number,
    offset: number,
    length: number,
    readonly: boolean,
    mode: MapMode,
    align: number,
    persist: PersistMode,
    path: string,
    isFile: boolean,
  ): NativeHandle;
  id(h: NativeHandle): MappingId;
  address(h: MappingId): bigint;
  buffer(h: MappingId, offset: number, length: number): ArrayBuffer;
  close(h: MappingId): void;
  persist(h: MappingId, offset: number, length: number): void;
  flush(h: MappingId, offset: number, length: number): void;
  drain(h: MappingId): void;
  /** msync(MS_SYNC) of the page-rounded range, whatever the mapping's persist mode. */
  msync(h: MappingId, offset: number, length: number): void;
  read(h: MappingId, offset: number, target: ArrayBufferView): void;
  write(h: MappingId, offset: number, source: ArrayBufferView): void;
  copyPersist(h: MappingId, offset: number, source: ArrayBufferView): void;
  cpuInfo(): NativeCpuInfo;
  stats(h: MappingId): MappingStats;
  /** Process-wide: mappings open, closed but still held by buffers, and ranges kept forever (see native/region.h). */
  regionCounts(): { open: number; held: number; leaked: number; budget: number; maxMapCount: number };
  /** Puts daxkit's SIGBUS handler back on top; true when another had replaced it. */
  reassertSigbus(): boolean;

  // native/fs_walk.cc, fsxattr.cc, fiemap.cc, file_ops.cc. `display` is the path an error names (the bytes used may be a Buffer or a name relative to a directory fd).
  statx(path: string | Uint8Array, followSymlinks: boolean, display?: string): NativeStatx;
  statx(dirFd: number, name: string | Uint8Array, followSymlinks: boolean, display?: string): NativeStatx;
  statx(fd: number, _?: undefined, display?: string): NativeStatx;
  /** openat(dirFd, name, O_PATH | O_CLOEXEC [| O_NOFOLLOW]); dirFd -100 is AT_FDCWD. Close with closeFd(). */
  openPath(dirFd: number, name: string | Uint8Array, followSymlinks: boolean, display?: string): number;
  /** The object behind an O_PATH fd, opened for I/O (read-only, or read-write with `write`). Close with closeFd(). */
  reopen(pathFd: number, directory: boolean, write: boolean, display?: string): number;
  /**
   * Closes an fd that openPath() or reopen() gave (native/fds.cc): Node does not know those fds, so
   * fs.closeSync() must not close them. Any other fd is EBADF and left open.
   */
  closeFd(fd: number): void;
  /** How many fds of openPath() and reopen() this thread holds open. */
  openFdCount(): number;
  /** The names in a directory, as bytes, unsorted, without "." and "..". */
  readDir(fd: number, display?: string): Buffer[];
  /** fstatfs(2): f_type, f_bsize and f_flags (ST_RDONLY = 1). */
  fstatfs(fd: number, display?: string): { type: number; bsize: number; flags: number };
  fsGetXattr(fd: number, display?: string): NativeFsXattr;
  fsSetXflags(fd: number, setMask: number, clearMask: number, display?: string): { before: NativeFsXattr; after: NativeFsXattr };
  fallocate(fd: number, mode: number, offset: number, length: number, path?: string): void;
  fiemap(fd: number, path?: string): NativeExtent[];
  xfsGeometryFlags(fd: number, display?: string): number;
  /** FS_IOC_GETFLAGS: the inode's flags as chattr(1) sees them. */
  fsGetFlags(fd: number, display?: string): number;
  /** Names an O_TMPFILE file; EEXIST rather than replacing anything. */
  linkFd(fd: number, path: string): void;
}

// Compiled to dist/lib/, so the package root (build/, prebuilds/) is two up.
export const binding = nodeGypBuild(path.join(__dirname, '..', '..')) as NativeBinding;
// Whether an ArrayBuffer over a mapping can have its memory moved to an
// object daxkit never saw (ArrayBuffer.prototype.transfer(), Node 22 and
// later), and from there to another worker, where it may outlive this one.
// (markAsUntransferable() would stop it on Node 24+, but an external buffer
// so marked makes Node abort when its environment is torn down.)
const BUFFERS_MOVABLE = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

binding.initialize(DaxSystemError, DaxMediaError);
binding.configure(BUFFERS_MOVABLE);
