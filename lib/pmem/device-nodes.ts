// What sysfs says about a device node, by its numbers (MAJ:MIN): which
// subsystem a character device belongs to, a devdax device's size and
// alignment, and whether a block device supports DAX.
import * as path from 'node:path';
import { DEFAULT_SYSFS, readAttr, readLinkBase, readUint, realpathOrNull, SysfsFormatError } from './sysfs';

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

/** The mapping alignment of a dax device (its sysfs directory): its own, or before Linux 5.10 (no `align`) its region's; null when neither is there. */
export function daxAlign(dir: string): number | null {
  return readUint(path.join(dir, 'align')) ?? readUint(path.join(dir, 'dax_region', 'align'));
}

export function devdaxInfo(major: number, minor: number, sysRoot = DEFAULT_SYSFS): DevdaxInfo {
  const link = path.join(sysRoot, 'dev', 'char', `${major}:${minor}`);
  const sysPath = realpathOrNull(link);
  if (sysPath === null) throw new SysfsFormatError(link, 0, 'missing, though the device is a dax device');
  const size = readUint(path.join(sysPath, 'size'));
  if (size === null) throw new SysfsFormatError(path.join(sysPath, 'size'), 1, 'missing');
  const align = daxAlign(sysPath);
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
