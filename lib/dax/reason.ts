// The rules of Documentation/filesystems/dax.rst ("Enabling DAX on xfs and
// ext4") as code: the facts behind a path's DAX state, what they imply, and
// the one-line reason an admin can act on. Shared by open() (why MAP_SYNC is
// refused), daxStatus() and setDaxFlag().
import * as fs from 'node:fs';
import { binding, type NativeStatx } from '../binding';
import { DaxError } from '../errors';
import { findMount, readMounts, type MountEntry } from '../fs/mounts';
import { DAX_FILESYSTEMS, daxMountMode, type DaxMountMode } from './mount-mode';
import { pathText } from '../fs/path-bytes';
import { blockDeviceDax } from '../pmem/device-nodes';
import { entryType, type EntryType } from '../fs/tree-walk';
import { FS_XFLAG_APPEND, FS_XFLAG_DAX, FS_XFLAG_IMMUTABLE } from '../constants';
import { daxOf } from './statx';

export { entryType, type EntryType };


/**
 * Filesystems that store FS_XFLAG_DAX. Others may answer FS_IOC_FSGETXATTR
 * all the same: tmpfs has since Linux 6.0 (shmem_fileattr_get), reporting
 * only the flags it keeps, and its shmem_fileattr_set refuses FS_DAX_FL with
 * EOPNOTSUPP; ext2 drops it and btrfs refuses it. There the flag does not
 * exist, whatever the ioctl says, so daxkit says ERR_DAX_NOT_SUPPORTED on
 * every kernel instead of "false" on some.
 */
const FLAG_FILESYSTEMS: readonly string[] = ['ext4', 'xfs', 'virtiofs'];

/** What the filesystem and the device of a path say about DAX (the same for every inode of one filesystem). */
export interface FsFacts {
  mount: MountEntry | undefined;
  mode: DaxMountMode;
  /** queue/dax of the block device; null when there is none (tmpfs, 9p...). */
  deviceDax: boolean | null;
  devMajor: number;
  devMinor: number;
}

export interface InodeFacts {
  type: EntryType;
  /** STATX_ATTR_DAX; null when the kernel cannot say (before 5.8). */
  dax: boolean | null;
  /** FS_XFLAG_DAX; null when the filesystem has no FS_IOC_FSGETXATTR. */
  flag: boolean | null;
  /** Immutable or append-only: the flag cannot be changed. */
  locked: boolean;
  blksize: number;
  uid: number;
  /** What keeps ext4 from DAX for this inode (ext4DaxBlocker()), where the caller asked. */
  ext4Blocker?: string | null;
}

/**
 * The facts of the filesystem an object is on. The mount is found by the
 * mount id statx gave (exact, bind mounts included); without one (Linux
 * before 5.8), by the longest mount point above `realPath` with the same
 * device.
 */
export function fsFacts(st: Pick<NativeStatx, 'devMajor' | 'devMinor'> & { mntId?: number | null }, realPath: string | null): FsFacts {
  let mount: MountEntry | undefined;
  try {
    const mounts = readMounts();
    mount = st.mntId != null ? mounts.find((m) => m.id === st.mntId) : undefined;
    if (mount === undefined && realPath !== null) mount = findMount(realPath, mounts, { major: st.devMajor, minor: st.devMinor });
  } catch {
    mount = undefined;
  }
  return {
    mount,
    mode: mount ? daxMountMode(mount) : 'unsupported',
    deviceDax: blockDeviceDax(st.devMajor, st.devMinor),
    devMajor: st.devMajor,
    devMinor: st.devMinor,
  };
}

/** Whether FS_XFLAG_DAX exists on this filesystem (see FLAG_FILESYSTEMS). */
export function flagSupported(f: FsFacts): boolean {
  return f.mount !== undefined && FLAG_FILESYSTEMS.includes(f.mount.fstype);
}

/** Whether an ioctl error means the filesystem has no FS_IOC_FS*XATTR (or not this flag). */
export function isUnsupportedIoctl(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return (e as NodeJS.ErrnoException).syscall === 'ioctl' && (code === 'ENOTTY' || code === 'EOPNOTSUPP' || code === 'EINVAL');
}

/** The error for a filesystem without FS_XFLAG_DAX. `path` is the text of the path. */
export function flagNotSupported(path: string, f: FsFacts, cause?: Error): DaxError {
  const where = f.mount ? `${f.mount.fstype} (mounted at ${f.mount.mountPoint})` : 'this filesystem';
  const reason = `FS_XFLAG_DAX is not supported on ${where}`;
  const e = new DaxError('ERR_DAX_NOT_SUPPORTED', `${reason}: '${path}'`, { reason, path });
  if (cause !== undefined) (e as Error & { cause?: unknown }).cause = cause;
  return e;
}

// ext4 refuses FS_XFLAG_DAX on inodes whose data DAX cannot map straight
// (dax_compatible() in fs/ext4/ioctl.c, EXT4_DAX_MUT_EXCL): FS_IOC_FSSETXATTR
// fails with EOPNOTSUPP there, as on a filesystem without the flag. A
// directory with inline data is let through (its files are not inline).
const EXT4_REFUSING: ReadonlyArray<{ bit: number; dirs: boolean; what: string }> = [
  { bit: 0x10000000, dirs: false, what: "it has inline data (EXT4_INLINE_DATA_FL, 'N' in lsattr): its bytes live in the inode, not in blocks that DAX could map" },
  { bit: 0x00000800, dirs: true, what: "it is encrypted (EXT4_ENCRYPT_FL, 'E' in lsattr): DAX would map the ciphertext" },
  { bit: 0x00100000, dirs: true, what: "it is an fs-verity file (EXT4_VERITY_FL, 'V' in lsattr): DAX would bypass the verification of its pages" },
];

/**
 * What keeps ext4 from DAX for the inode open at fd (its inode flags,
 * FS_IOC_GETFLAGS), or null: not ext4, none of those flags, or unreadable.
 * ext4 then neither sets FS_XFLAG_DAX on it nor maps it with DAX, whatever
 * the mount says (ext4_should_enable_dax()).
 */
export function ext4DaxBlocker(fd: number, type: EntryType, f: FsFacts): string | null {
  if (f.mount?.fstype !== 'ext4') return null;
  let flags: number;
  try {
    flags = binding.fsGetFlags(fd);
  } catch {
    return null;
  }
  return EXT4_REFUSING.find((x) => (flags & x.bit) !== 0 && (x.dirs || type !== 'directory'))?.what ?? null;
}

/** The error for setting FS_XFLAG_DAX where ext4DaxBlocker() says no, or null. */
export function ext4DaxRefusal(fd: number, type: EntryType, path: string, f: FsFacts, cause?: Error): DaxError | null {
  const what = ext4DaxBlocker(fd, type, f);
  if (what === null) return null;
  const reason = `ext4 does not allow FS_XFLAG_DAX on this ${type === 'directory' ? 'directory' : 'file'}: ${what}`;
  const e = new DaxError('ERR_DAX_NOT_SUPPORTED', `${reason}: '${path}'`, { reason, path });
  if (cause !== undefined) (e as Error & { cause?: unknown }).cause = cause;
  return e;
}

/** The xflags behind an open fd, or null where the filesystem has no FS_XFLAG_DAX. */
export function readXflags(fd: number, f: FsFacts, display?: string): number | null {
  let x: number;
  try {
    x = binding.fsGetXattr(fd, display).xflags;
  } catch (e) {
    if (isUnsupportedIoctl(e)) return null;
    throw e;
  }
  return flagSupported(f) || (x & FS_XFLAG_DAX) !== 0 ? x : null;
}

export function inodeFacts(st: NativeStatx, xflags: number | null): InodeFacts {
  return {
    type: entryType(st.mode),
    dax: daxOf(st),
    flag: xflags === null ? null : (xflags & FS_XFLAG_DAX) !== 0,
    locked: xflags !== null && (xflags & (FS_XFLAG_IMMUTABLE | FS_XFLAG_APPEND)) !== 0,
    blksize: st.blksize,
    uid: st.uid,
  };
}

function where(f: FsFacts): string {
  return f.mount ? `${f.mount.source} (mounted at ${f.mount.mountPoint})` : 'its filesystem';
}

/**
 * Why DAX cannot be in effect on this filesystem at all, whatever the flag
 * says; null when it can. `subject` is the path the sentence is about.
 */
export function fsBlocker(f: FsFacts, subject?: string): string | null {
  const m = f.mount;
  if (m === undefined) return `not on a DAX mount: the filesystem of ${subject ?? 'this path'} could not be found in /proc/self/mountinfo`;
  if (!DAX_FILESYSTEMS.includes(m.fstype)) {
    return `not on a DAX mount: ${subject ? `${subject} is on ` : ''}${m.fstype} (mounted at ${m.mountPoint}), which has no DAX support`;
  }
  if (f.deviceDax === false) return `not on a DAX mount: the device ${m.source} (mounted at ${m.mountPoint}) does not support DAX (it is not persistent memory)`;
  return null;
}

/** Whether a regular file with this flag should be DAX here (dax.rst rule 4), ignoring rule 6. */
export function expectedFileDax(f: FsFacts, flag: boolean | null, blksize: number, pageSize: number): boolean {
  if (fsBlocker(f) !== null || blksize !== pageSize) return false;
  if (f.mode === 'always') return true;
  if (f.mode === 'inode') return flag === true;
  return false;
}

/** Whether the mount option makes FS_XFLAG_DAX moot (dax=always or dax=never). */
export function mountOverrides(f: FsFacts): boolean {
  return f.mode === 'always' || f.mode === 'never';
}

/**
 * The reason a regular file is not DAX, for open(..., { sync: 'required' })
 * and daxStatus(). `p` is the file as the user named it.
 */
export function notDaxReason(p: string, f: FsFacts, i: InodeFacts, pageSize: number): string {
  const blocked = fsBlocker(f, p);
  if (blocked !== null) return blocked;
  if (f.mode === 'never') return `the filesystem ${where(f)} is mounted dax=never`;
  if (i.ext4Blocker != null && i.dax !== true) return `ext4 never uses DAX for ${p}, whatever the mount and FS_XFLAG_DAX say: ${i.ext4Blocker}`;
  if (i.dax === true) return `${p} is DAX, but the kernel refused MAP_SYNC for it (the device may not support synchronous faults)`;
  if (i.blksize !== pageSize) return `the filesystem block size (${i.blksize}) is not the page size (${pageSize}); DAX needs them equal`;
  if (f.mode === 'inode') {
    if (i.flag === true) return pendingReason(p, true);
    return `dax=inode and FS_XFLAG_DAX not set: ${where(f)} follows the per-file flag, and ${p} does not have it`;
  }
  return `${p} is not DAX (${f.mount?.fstype ?? 'unknown filesystem'}, dax=${f.mode})`;
}

/** dax.rst rule 6: an existing file switches only when its inode is evicted. */
export function pendingReason(p: string, toDax: boolean, openers?: string): string {
  const now = toDax ? 'is set' : 'is clear';
  const who = openers ? ` (open in ${openers})` : '';
  return `FS_XFLAG_DAX ${now} on ${p} but the file has not switched${toDax ? ' to DAX' : ' off DAX'} yet: it switches once every process has closed it${who} and its inode is evicted`;
}

/** The one-line state of a regular file. */
export function fileReason(p: string, f: FsFacts, i: InodeFacts, pageSize: number): string {
  if (i.dax === null) return 'the kernel cannot report whether the file is DAX (STATX_ATTR_DAX needs Linux 5.8)';
  if (i.dax) {
    if (f.mode === 'always') return `DAX: ${where(f)} is mounted dax=always`;
    if (f.mode === 'inode' && i.flag === false) return pendingReason(p, false);
    return `DAX: FS_XFLAG_DAX is set and ${where(f)} is mounted dax=inode`;
  }
  return notDaxReason(p, f, i, pageSize);
}

/** The one-line state of a directory: what new files created in it will be. */
export function directoryReason(f: FsFacts, i: InodeFacts, pageSize: number): string {
  const blocked = fsBlocker(f);
  const flagNote = i.flag === null ? '' : i.flag ? ' (FS_XFLAG_DAX is set, and kept for a dax=inode mount)' : '';
  if (blocked !== null) return `${blocked}${i.flag ? '; FS_XFLAG_DAX is set but has no effect' : ''}`;
  if (f.mode === 'always') return `new files here are DAX: ${where(f)} is mounted dax=always, whatever FS_XFLAG_DAX says${flagNote}`;
  if (f.mode === 'never') return `new files here are not DAX: ${where(f)} is mounted dax=never, whatever FS_XFLAG_DAX says${flagNote}`;
  if (i.blksize !== pageSize) return `new files here are not DAX: the filesystem block size (${i.blksize}) is not the page size (${pageSize})`;
  return i.flag
    ? 'new files and directories created here inherit FS_XFLAG_DAX and are DAX (dax=inode)'
    : 'new files here are not DAX: FS_XFLAG_DAX is not set on this directory (dax=inode)';
}

/** Resolves the path of an fd for messages (lossless text). */
export function fdPath(fd: number): string | undefined {
  try {
    return pathText(fs.readlinkSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' }));
  } catch {
    return undefined;
  }
}

/** The facts of an open regular file, for open()'s MAP_SYNC refusal. */
export function openFileFacts(fd: number, realPath: string): { fs: FsFacts; inode: InodeFacts } {
  const st = binding.statx(fd);
  const f = fsFacts(st, realPath);
  return { fs: f, inode: inodeFacts(st, readXflags(fd, f, realPath)) };
}
