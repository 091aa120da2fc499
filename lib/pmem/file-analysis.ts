// A file against its block device's badblock list: the file's FIEMAP extents
// (plus the partition's start) against the device's bad ranges, in the file's
// own bytes, rounded out to whole filesystem blocks.
import * as path from 'node:path';
import { binding, type NativeExtent } from '../binding';
import { readMounts } from '../fs/mounts';
import type { PmemBlock, PmemModel } from './nd-model';
import { mergeRanges, roundOut, within, type BadRange } from './ranges';
import { realpathOrNull } from './sysfs';
import { blockByDir, bttReason, notSupported } from './targets';
import { FS_XFLAG_REALTIME } from '../constants';

const FIEMAP_EXTENT_UNKNOWN = 0x2;
const FIEMAP_EXTENT_DELALLOC = 0x4;
const FIEMAP_EXTENT_ENCODED = 0x8;
const FIEMAP_EXTENT_NOT_ALIGNED = 0x100;
const FIEMAP_EXTENT_DATA_INLINE = 0x200;
const FIEMAP_EXTENT_DATA_TAIL = 0x400;

/** One bad piece of a file: the bytes in the file, and the same bytes on the block device. */
export interface FileHit {
  file: BadRange;
  device: BadRange;
}

/**
 * The file side of FIEMAP extents against a device's bad ranges: `bad` in
 * bytes of the whole disk, `devOffset` where the filesystem starts on it (a
 * partition's start), `blockSize` the block the file ranges are rounded out
 * to. Extents whose data is not at a plain physical address (inline, tail,
 * encoded) count whole when any of their bytes is bad; extents without a
 * physical address (delayed allocation) cannot be checked and make the answer
 * incomplete.
 */
export function fileBadRanges(
  extents: readonly NativeExtent[],
  bad: readonly BadRange[],
  devOffset: number,
  blockSize: number,
): { ranges: BadRange[]; hits: FileHit[]; complete: boolean; warnings: string[] } {
  const raw: BadRange[] = [];
  const hits: FileHit[] = [];
  const warnings: string[] = [];
  let complete = true;
  for (const e of extents) {
    if ((e.flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC)) !== 0) {
      complete = false;
      warnings.push(`bytes ${e.logical}-${e.logical + e.length - 1} of the file have no physical location yet (delayed allocation) and were not checked`);
      continue;
    }
    // An offset past 2^53 - 1 (of the file, or of the disk once the partition's start is added) would be rounded.
    if (!e.exact || e.physical > Number.MAX_SAFE_INTEGER - devOffset - e.length) {
      complete = false;
      warnings.push(`an extent of the file (about ${e.length} bytes near offset ${e.logical}, physical ${e.physical}) lies past 2^53 - 1 bytes, where its offsets cannot be exact, and was not checked`);
      continue;
    }
    const whole = (e.flags & (FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL)) !== 0;
    const ds = e.physical + devOffset;
    const de = ds + e.length;
    for (const b of bad) {
      const s = Math.max(b.offset, ds);
      const en = Math.min(b.offset + b.length, de);
      if (s >= en) continue;
      const fileRange = whole ? { offset: e.logical, length: e.length } : { offset: e.logical + (s - ds), length: en - s };
      hits.push({ file: fileRange, device: { offset: s, length: en - s } });
      raw.push(roundOut(fileRange, blockSize));
    }
  }
  return { ranges: mergeRanges(raw), hits, complete, warnings };
}

export interface FsDevice {
  name: string;
  disk: PmemBlock;
  /** Where the filesystem starts on the disk, and ends. */
  start: number;
  end: number;
}

export interface FileAnalysis {
  dev: FsDevice;
  blockSize: number;
  /** The device's bad ranges, in disk bytes, inside the filesystem's device. */
  bad: BadRange[];
  ranges: BadRange[];
  hits: FileHit[];
  complete: boolean;
  warnings: string[];
}

/** The pmem block device (or partition) a file or directory lives on. */
export function fsDeviceOf(fd: number, p: string, m: PmemModel): FsDevice {
  const st = binding.statx(fd, undefined, p);
  const mm = `${st.devMajor}:${st.devMinor}`;
  const dir = realpathOrNull(path.join(m.sysfsRoot, 'dev', 'block', mm));
  if (dir === null) {
    let where = `a filesystem without a block device (${mm})`;
    try {
      const mount = st.mntId === null ? undefined : readMounts().find((x) => x.id === st.mntId);
      if (mount !== undefined) where = `${mount.fstype} (${mount.source} at ${mount.mountPoint}), which has no block device`;
    } catch {
      // The plain wording above is still right.
    }
    throw notSupported(p, `it is on ${where}; media errors are tracked only for persistent memory block devices`);
  }
  const r = blockByDir(dir, m, p);
  if (r.kind === 'block') {
    if (r.disk.btt) throw notSupported(p, bttReason(r.disk));
    return { name: r.disk.name, disk: r.disk, start: 0, end: r.disk.size ?? Number.MAX_SAFE_INTEGER };
  }
  if (r.kind !== 'partition') throw new Error('unreachable');
  const part = r.part;
  if (part.disk.btt) throw notSupported(p, bttReason(part.disk));
  if (part.start === null) throw notSupported(p, `the start of partition ${part.name} is unknown (${path.join(part.dir, 'start')} is missing)`);
  return { name: part.name, disk: part.disk, start: part.start, end: part.start + (part.size ?? Number.MAX_SAFE_INTEGER - part.start) };
}

export function diskBad(m: PmemModel, dev: FsDevice): { bad: BadRange[]; complete: boolean } {
  const list = m.list(path.join(dev.disk.dir, 'badblocks'));
  if (list === null) throw notSupported(dev.name, `${path.join(dev.disk.dir, 'badblocks')} does not exist`);
  return { bad: within(mergeRanges(list.entries), dev.start, dev.end), complete: list.complete };
}

function checkRealtime(fd: number, p: string): void {
  let xflags = 0;
  try {
    xflags = binding.fsGetXattr(fd, p).xflags;
  } catch {
    return; // no FS_IOC_FSGETXATTR: not xfs, so no realtime device either
  }
  if ((xflags & FS_XFLAG_REALTIME) !== 0) {
    throw notSupported(p, 'it is an xfs realtime file: its extents are on the realtime device, not on the device daxkit reads the list of');
  }
}

export function analyzeFd(fd: number, p: string, m: PmemModel, dev: FsDevice = fsDeviceOf(fd, p, m)): FileAnalysis {
  checkRealtime(fd, p);
  const blockSize = binding.fstatfs(fd, p).bsize;
  const { bad, complete } = diskBad(m, dev);
  const warnings: string[] = [];
  if (!complete) warnings.push(listCutWarning(dev.disk.name));
  if (bad.length === 0) return { dev, blockSize, bad, ranges: [], hits: [], complete, warnings };
  const f = fileBadRanges(binding.fiemap(fd, p), bad, dev.start, blockSize);
  return { dev, blockSize, bad, ranges: f.ranges, hits: f.hits, complete: complete && f.complete, warnings: [...warnings, ...f.warnings] };
}

export function listCutWarning(name: string): string {
  return `the kernel's badblock list of ${name} fills the one page sysfs shows and may be cut short: ranges beyond it are not known`;
}
