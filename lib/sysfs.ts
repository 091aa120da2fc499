// Reading sysfs attributes. Every reader takes the sysfs root (default /sys)
// so that parser edge cases can be tested on fixture trees as well as on the
// real kernel.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const DEFAULT_SYSFS = '/sys';

/**
 * A sysfs file that does not hold what its ABI says it holds, or a sysfs
 * path that cannot be read as sysfs is (a symlink loop, a directory or a FIFO
 * where an attribute belongs, an I/O error): `file`, and `line` (0 when the
 * file as a whole is at fault); the fs error, if any, is the `cause`.
 */
export class SysfsFormatError extends Error {
  readonly code = 'ERR_DAX_SYSFS_FORMAT';
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
    cause?: Error,
  ) {
    super(line > 0 ? `${file}:${line}: ${detail}` : `${file}: ${detail}`);
    if (cause !== undefined) (this as Error & { cause?: unknown }).cause = cause;
  }
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
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    return sysfsFailure(file, e);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new SysfsFormatError(file, 0, 'is not a regular file, as a sysfs attribute is');
    return fs.readFileSync(fd, 'utf8');
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

/** Major and minor of a bigint dev_t (fs.stat with bigint: true), in glibc's encoding (gnu_dev_major/minor). */
export function devNumbers(dev: bigint): { major: number; minor: number } {
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}

/** Facts about a devdax character device, from /sys/dev/char/MAJ:MIN. */
export interface DevdaxInfo {
  /** `dax1.0` */
  name: string;
  size: number;
  /** Mapping alignment the device enforces (2 MiB, 1 GiB, or 4 KiB). */
  align: number;
  /** Physical start address, when readable (root). */
  resource: number | null;
  /** The sysfs directory of the device. */
  sysPath: string;
}

/** The subsystem of character device MAJ:MIN (`'dax'` for devdax), or null. */
export function charSubsystem(major: number, minor: number, sysRoot = DEFAULT_SYSFS): string | null {
  return readLinkBase(path.join(sysRoot, 'dev', 'char', `${major}:${minor}`, 'subsystem'));
}

export function devdaxInfo(major: number, minor: number, sysRoot = DEFAULT_SYSFS): DevdaxInfo {
  const link = path.join(sysRoot, 'dev', 'char', `${major}:${minor}`);
  const sysPath = realpathOrNull(link);
  if (sysPath === null) throw new SysfsFormatError(link, 0, 'missing, though the device is a dax device');
  const size = readUint(path.join(sysPath, 'size'));
  if (size === null) throw new SysfsFormatError(path.join(sysPath, 'size'), 1, 'missing');
  // align appeared in Linux 5.10; before that only the region has one.
  const align = readUint(path.join(sysPath, 'align')) ?? readUint(path.join(sysPath, 'dax_region', 'align'));
  if (align === null) throw new SysfsFormatError(path.join(sysPath, 'align'), 1, 'missing (and no dax_region/align)');
  let resource: number | null = null;
  try {
    resource = readUint(path.join(sysPath, 'resource'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
  }
  return { name: path.basename(sysPath), size, align, resource, sysPath };
}

/**
 * The persistence domain of every nd region: `cpu_cache` means the platform
 * flushes CPU caches on power loss (eADR). Unreadable ones are `unknown`,
 * as ndctl reports them.
 */
export function regionPersistenceDomains(sysRoot = DEFAULT_SYSFS): string[] {
  const dir = path.join(sysRoot, 'bus', 'nd', 'devices');
  const names = readSysfsDir(dir).filter((n) => /^region\d+$/.test(n));
  return names.map((n) => {
    try {
      return readAttr(path.join(dir, n, 'persistence_domain')) ?? 'unknown';
    } catch {
      return 'unknown';
    }
  });
}

/** True only when there is at least one nd region and every one is `cpu_cache`. */
export function hasAutoFlush(sysRoot = DEFAULT_SYSFS): boolean {
  const d = regionPersistenceDomains(sysRoot);
  return d.length > 0 && d.every((x) => x === 'cpu_cache');
}

/**
 * Whether the block device MAJ:MIN supports DAX (`queue/dax`); a partition
 * answers for its whole disk. null when the device has no queue attribute.
 */
export function blockDeviceDax(major: number, minor: number, sysRoot = DEFAULT_SYSFS): boolean | null {
  // A symlink into /sys/devices: resolve it before going to the parent.
  const dir = realpathOrNull(path.join(sysRoot, 'dev', 'block', `${major}:${minor}`));
  if (dir === null) return null;
  const v = readAttr(path.join(dir, 'queue', 'dax')) ?? readAttr(path.join(path.dirname(dir), 'queue', 'dax'));
  return v === null ? null : v === '1';
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

/** One entry of a kernel badblocks list, converted to bytes. */
export interface BadblockEntry {
  /** Byte offset: the first bad 512-byte sector times 512. */
  offset: number;
  /** Bytes: the number of bad sectors times 512. */
  length: number;
}

/** A kernel badblocks list (block/badblocks.c, `badblocks_show()`), in bytes. */
export interface BadblockList {
  entries: BadblockEntry[];
  /**
   * False when the list filled the one page sysfs can show: the kernel cuts
   * the text there, so entries may be missing. A line cut in the middle is
   * never returned.
   */
  complete: boolean;
}

/**
 * Parses the text of a badblocks file: one `SECTOR COUNT` line per range, in
 * 512-byte sectors whatever the device's block size. A line that is not two
 * decimal numbers, a count of 0, or a range beyond 2^53 bytes throws a
 * SysfsFormatError naming the file and line: never a wrong range.
 */
export function parseBadblockList(text: string, file: string, pageSize: number): BadblockList {
  // badblocks_show() stops at PAGE_SIZE and sysfs keeps PAGE_SIZE - 1 bytes of
  // it: a full page may have lost entries, and its last line may be cut.
  const full = text.length >= pageSize - 1;
  const lines = text.split('\n');
  if (full && !text.endsWith('\n')) lines.pop();
  const entries: BadblockEntry[] = [];
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
    if (m === null) throw new SysfsFormatError(file, i + 1, `expected "SECTOR COUNT", found ${JSON.stringify(line)}`);
    const sector = BigInt(m[1]);
    const count = BigInt(m[2]);
    if (count === 0n) throw new SysfsFormatError(file, i + 1, `a range of 0 sectors: ${JSON.stringify(line)}`);
    if ((sector + count) * 512n > max) {
      throw new SysfsFormatError(file, i + 1, `sectors ${m[1]}+${m[2]} end beyond 2^53 - 1 bytes`);
    }
    entries.push({ offset: Number(sector * 512n), length: Number(count * 512n) });
  }
  return { entries, complete: !full };
}
