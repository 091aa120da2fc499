// Reading sysfs attributes. Every reader takes the sysfs root (default /sys)
// so that parser edge cases can be tested on fixture trees as well as on the
// real kernel.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { asSystemError, SysfsFormatError } from '../errors';
import { validatePath } from '../validate';

export { SysfsFormatError };

export const DEFAULT_SYSFS = '/sys';

/** The `sysfsRoot` option of the functions that read sysfs: validated, default /sys. */
export function sysfsRootOption(o: Record<string, unknown>): string {
  return o.sysfsRoot === undefined ? DEFAULT_SYSFS : validatePath('options.sysfsRoot', o.sysfsRoot);
}

/**
 * Throws unless `root` is a directory: a sysfs root that does not exist is an
 * error (ENOENT, as node:fs gives it), not a machine without persistent
 * memory; a file there is a SysfsFormatError.
 */
export function checkSysfsRoot(root: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch (e) {
    throw asSystemError(e, 'stat', root);
  }
  if (!st.isDirectory()) throw new SysfsFormatError(root, 0, 'is not a directory, as a sysfs root is');
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  // ENXIO/ENODEV: attributes of a device that is going away or not enabled.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO' || code === 'ENODEV';
}

function isDenied(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}

/**
 * An fs error met in a sysfs tree: missing (null), a permission error
 * (rethrown as it is: it names the root-only file), or anything else as a
 * SysfsFormatError naming the file.
 */
export function sysfsFailure(file: string, e: unknown): null {
  if (isMissing(e)) return null;
  if (isDenied(e) || e instanceof SysfsFormatError) throw e;
  throw new SysfsFormatError(file, 0, `cannot be read as sysfs: ${(e as Error).message}`, e as Error);
}

/**
 * The text of a sysfs attribute, or null when it does not exist. Opened
 * non-blocking and checked to be a regular file, as every sysfs attribute
 * is, so a FIFO or a directory in a tree given as sysfsRoot cannot hang or
 * confuse the reader.
 */
export function readSysfsFile(file: string): string | null {
  return readSysfsBytes(file)?.toString('utf8') ?? null;
}

/** The bytes of a sysfs attribute (a path the kernel prints as it is, UTF-8 or not), or null; as readSysfsFile. */
export function readSysfsBytes(file: string): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    return sysfsFailure(file, e);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new SysfsFormatError(file, 0, 'is not a regular file, as a sysfs attribute is');
    return fs.readFileSync(fd);
  } catch (e) {
    return sysfsFailure(file, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** The trimmed text of an attribute, or null when it does not exist. */
export function readAttr(file: string): string | null {
  return readSysfsFile(file)?.trim() ?? null;
}

/**
 * An attribute holding one unsigned integer (decimal, or hex with 0x), or
 * null when absent. Beyond 2^53 the value is rejected rather than rounded.
 */
export function readUint(file: string): number | null {
  const s = readAttr(file);
  if (s === null) return null;
  return parseUint(s, file, 1);
}

export function parseUint(s: string, file: string, line: number): number {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(s)) throw new SysfsFormatError(file, line, `expected an unsigned integer, found ${JSON.stringify(s)}`);
  const big = BigInt(s);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new SysfsFormatError(file, line, `${s} is beyond 2^53 - 1`);
  return Number(big);
}

/**
 * n * factor + add for a value read from `file` (sectors to bytes, a start
 * plus a size...), or a SysfsFormatError when the result would pass 2^53 - 1
 * and so be rounded into a wrong size or offset.
 */
export function checkedBytes(n: number, factor: number, add: number, file: string, what: string): number {
  const v = BigInt(n) * BigInt(factor) + BigInt(add);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    const expr = `${n}${factor === 1 ? '' : ` * ${factor}`}${add === 0 ? '' : ` + ${add}`}`;
    throw new SysfsFormatError(file, 1, `${what}: ${expr} = ${v}, beyond 2^53 - 1`);
  }
  return Number(v);
}

/** The basename of a symlink's target, or null when the link does not exist. */
export function readLinkBase(link: string): string | null {
  try {
    return path.basename(fs.readlinkSync(link));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return null;
    return sysfsFailure(link, e);
  }
}

/** The real path of a sysfs path, or null when it (or a directory on the way) does not exist. */
export function realpathOrNull(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch (e) {
    return sysfsFailure(p, e);
  }
}

/** The names in a sysfs directory, or [] when it does not exist. */
export function readSysfsDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (e) {
    return sysfsFailure(dir, e) ?? [];
  }
}

/**
 * A NUMA node number (`numa_node`, `target_node`), or null when the
 * attribute is absent or says -1 ("no node").
 */
export function readNode(file: string): number | null {
  const s = readAttr(file);
  if (s === null || s === '-1') return null;
  return parseUint(s, file, 1);
}
