import { binding, type NativeStatx } from '../binding';
import { validateBoolean, validateObject, validatePathArg, rejectUnknownOptions, type PathArg } from '../validate';
import { STATX_ATTR_DAX } from '../constants';

/** What statx(2) says about a path, including what `fs.stat` hides. */
export interface StatxResult extends NativeStatx {
  /**
   * STATX_ATTR_DAX: true when the file is accessed with DAX, false when it
   * is not, null when the kernel is too old to say (Linux < 5.8).
   */
  dax: boolean | null;
}

export interface StatxOptions {
  /** Follow a final symlink (default true), as stat(2) does; false is lstat(2). */
  followSymlinks?: boolean;
}

/** STATX_ATTR_DAX of a statx(2) answer; null where the kernel does not report it. */
export function daxOf(st: NativeStatx): boolean | null {
  const bit = BigInt(STATX_ATTR_DAX);
  return (st.attributesMask & bit) === 0n ? null : (st.attributes & bit) !== 0n;
}

function decorate(raw: NativeStatx): StatxResult {
  return { ...raw, dax: daxOf(raw) };
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
