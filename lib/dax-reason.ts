// Why a regular file is not (yet) DAX, in one line an admin can act on.
import * as fs from 'node:fs';
import { binding } from './binding';
import { DAX_FILESYSTEMS, daxMountMode, findMount, readMounts, type DaxMountMode, type MountEntry } from './mounts';
import { fstatx } from './statx';
import { blockDeviceDax } from './sysfs';

/** FS_XFLAG_DAX: the persistent per-inode DAX flag (FS_IOC_FSGETXATTR). */
export const FS_XFLAG_DAX = 0x00008000;

export interface FileDaxFacts {
  /** STATX_ATTR_DAX of the file (null: kernel too old to report it). */
  dax: boolean | null;
  mount: MountEntry | undefined;
  mode: DaxMountMode;
  /** FS_XFLAG_DAX, or null where the filesystem has no such ioctl. */
  flag: boolean | null;
  /** queue/dax of the block device, null when unknown. */
  deviceDax: boolean | null;
  blksize: number;
}

function flagOf(p: string): boolean | null {
  try {
    return (binding.fsGetXattr(p, true).xflags & FS_XFLAG_DAX) !== 0;
  } catch {
    return null;
  }
}

/** Gathers the facts behind a file's DAX state, from an open fd. */
export function fileDaxFacts(fd: number, realPath: string): FileDaxFacts {
  const st = fstatx(fd);
  let mount: MountEntry | undefined;
  try {
    mount = findMount(realPath, readMounts(), { major: st.devMajor, minor: st.devMinor });
  } catch {
    mount = undefined;
  }
  return {
    dax: st.dax,
    mount,
    mode: mount ? daxMountMode(mount) : 'unsupported',
    flag: flagOf(realPath),
    deviceDax: blockDeviceDax(st.devMajor, st.devMinor),
    blksize: st.blksize,
  };
}

/**
 * The reason a file is not mapped with DAX (and MAP_SYNC), from its facts.
 * `pageSize` is the kernel page size.
 */
export function notDaxReason(p: string, f: FileDaxFacts, pageSize: number): string {
  const m = f.mount;
  const at = m ? ` (mounted at ${m.mountPoint})` : '';
  if (m === undefined) return `not on a DAX mount: the filesystem of ${p} could not be found in /proc/self/mountinfo`;
  if (!DAX_FILESYSTEMS.includes(m.fstype)) return `not on a DAX mount: ${p} is on ${m.fstype}${at}, which has no DAX support`;
  if (f.deviceDax === false) return `not on a DAX mount: the device ${m.source}${at} does not support DAX (it is not persistent memory)`;
  if (f.mode === 'never') return `the filesystem ${m.source}${at} is mounted dax=never (or without -o dax)`;
  if (f.dax === true) return `${p} is DAX, but the kernel refused MAP_SYNC for it (the device may not support synchronous faults)`;
  if (f.blksize !== pageSize) return `the filesystem block size (${f.blksize}) is not the page size (${pageSize}); DAX needs them equal`;
  if (f.mode === 'inode') {
    if (f.flag === false) return `dax=inode and FS_XFLAG_DAX not set: ${m.source}${at} follows the per-file flag, and ${p} does not have it`;
    if (f.flag === true) {
      return `FS_XFLAG_DAX is set on ${p} but the file has not switched to DAX yet: it switches once every process has closed it and its inode is evicted`;
    }
  }
  return `${p} is not DAX on ${m.fstype}${at} (dax=${f.mode})`;
}

/** Resolves the path of an fd for messages. */
export function fdPath(fd: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}
