import { binding } from '../binding';
import { validateBoolean, validateObject, validatePathArg, rejectUnknownOptions, type PathArg } from '../validate';

/** `STATX_ATTR_DAX`: the file is in the DAX state (S_DAX). Linux 5.8. */
export const STATX_ATTR_DAX = 0x00200000;

/** What statx(2) says about a path, including what `fs.stat` hides. */
export interface StatxResult {
  /** `stx_attributes`: the file's attribute bits. */
  attributes: bigint;
  /** `stx_attributes_mask`: the bits of `attributes` this kernel and filesystem report. */
  attributesMask: bigint;
  /**
   * STATX_ATTR_DAX: true when the file is accessed with DAX, false when it
   * is not, null when the kernel is too old to say (Linux < 5.8).
   */
  dax: boolean | null;
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
  /** `stx_mask`: which of the basic fields the kernel filled in. */
  mask: number;
}

export interface StatxOptions {
  /** Follow a final symlink (default true), as stat(2) does; false is lstat(2). */
  followSymlinks?: boolean;
}

function decorate(raw: ReturnType<typeof binding.statx>): StatxResult {
  const bit = BigInt(STATX_ATTR_DAX);
  const known = (raw.attributesMask & bit) !== 0n;
  return { ...raw, dax: known ? (raw.attributes & bit) !== 0n : null };
}

/**
 * statx(2) of a path (a string, or a Buffer of the exact bytes): the
 * attributes Node's `fs.stat` cannot see, among them STATX_ATTR_DAX (is DAX
 * in effect for this file right now) and the mount id.
 * @throws DaxSystemError (`syscall: 'statx'`), e.g. ENOENT.
 */
export function statx(path: PathArg, options?: StatxOptions): StatxResult {
  const { bytes, text } = validatePathArg('path', path);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['followSymlinks']);
  const follow = o.followSymlinks === undefined ? true : validateBoolean('options.followSymlinks', o.followSymlinks);
  return decorate(binding.statx(bytes, follow, text));
}

/** statx(2) of an open file descriptor (AT_EMPTY_PATH). */
export function fstatx(fd: number): StatxResult {
  return decorate(binding.statx(fd));
}
