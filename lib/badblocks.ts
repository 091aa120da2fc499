// Media errors: the kernel's badblock lists translated to the target's own
// bytes (a file, a block device or partition, a devdax device, a region),
// the files of a directory hit by them, and the recovery of a file.
//
// Units: the kernel lists 512-byte sectors; everything here is bytes. A
// region's list is relative to the region's start; a block device's to the
// device's first sector (after a pfn device's info block and page map); a
// devdax device has no list of its own, so its ranges are the region's inside
// the device's physical ranges.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binding, type NativeExtent, type NativeStatx } from './binding';
import {
  clipRanges,
  daxAreaFiles,
  loadModel,
  mergeRanges,
  namespaceAreas,
  physicalToDevice,
  regionCanClear,
  subtractRanges,
  totalLength,
  type BadRange,
  type DaxDevice,
  type NdNamespace,
  type NdRegion,
  type PmemBlock,
  type PmemModel,
  type PmemPartition,
} from './devices';
import { DaxError, invalidArgValue, outOfRange } from './errors';
import { readMounts } from './mounts';
import { pathText } from './path-bytes';
import { checkedBytes, DEFAULT_SYSFS, realpathOrNull } from './sysfs';
import { Tree } from './tree-walk';
import { rejectUnknownOptions, validateBoolean, validateInteger, validateObject, validatePath, validatePathArg, type PathArg } from './validate';

export type { BadRange } from './devices';

/** What a badblocks() target turned out to be. */
export type BadblocksTargetType = 'file' | 'block' | 'partition' | 'devdax' | 'region';

export interface BadblocksOptions {
  /** Where sysfs is mounted. Default `/sys`. */
  sysfsRoot?: string;
}

/** The media errors of one target, in bytes relative to the target. */
export interface BadblocksReport {
  /** The target as given, as text (a byte that is not UTF-8 is U+DC80 + byte; see `targetBuffer`). */
  target: string;
  /** The exact bytes of `target`. */
  targetBuffer: Buffer;
  type: BadblocksTargetType;
  /**
   * Whose list the ranges come from: `pmem0`, `pmem0p1`, `dax1.0`, `region0`; for a file, the
   * block device (or partition) its filesystem is on.
   */
  device: string;
  /** The nd region holding the device. */
  region: string | null;
  /** Files: the filesystem block size the ranges are rounded out to; null for devices and regions. */
  blockSize: number | null;
  /**
   * Bad byte ranges relative to the target, merged and sorted. Devices and regions: exactly the
   * kernel's 512-byte sectors. Files: whole filesystem blocks (a DAX load faults per page, and
   * recovery frees and re-allocates whole blocks). Regions: each range also names the namespace
   * and device holding it and its offset there (null: namespace metadata, unused space).
   */
  ranges: BadRange[];
  /** 512-byte sectors in `ranges` (ndctl's `badblock_count`). */
  badblockCount: number;
  /**
   * False when the answer may miss ranges: the kernel's list filled the one page sysfs shows,
   * or part of a file had no physical location to check. The ranges given are still exact.
   */
  complete: boolean;
  /** Why `complete` is false, and anything else worth knowing. */
  warnings: string[];
}

/** A directory's files hit by media errors: findBadFiles(). */
export interface BadFilesReport {
  /** The directory as given, as text (see BadblocksReport.target). */
  target: string;
  targetBuffer: Buffer;
  /** The block device (or partition) of the filesystem. */
  device: string;
  region: string | null;
  blockSize: number;
  /** The device's bad ranges (relative to `device`); empty means nothing under the directory is hit. */
  deviceRanges: BadRange[];
  /** Every file under the directory (same filesystem) with bad ranges, with its report. */
  files: BadblocksReport[];
  /**
   * Parts of `deviceRanges` that no file found here uses (relative to `device`): free space,
   * filesystem metadata, or files outside the directory or unreadable.
   */
  unattributed: BadRange[];
  /** Regular files examined. */
  filesScanned: number;
  complete: boolean;
  warnings: string[];
}

export interface ClearBadblocksOptions {
  /**
   * Recover the file even where the platform cannot clear media errors (no Clear Uncorrectable
   * Error method: QEMU, legacy e820 pmem, CXL through libnvdimm). The file's range is then zeroed on
   * fresh blocks as usual, but the bad blocks go back to the filesystem's free space still bad, and
   * the next write that allocates them fails with EIO (on xfs that shuts the filesystem down).
   * Default false: such a platform gets ERR_DAX_NOT_SUPPORTED.
   */
  allowUncleared?: boolean;
  /** Where sysfs is mounted. Default `/sys`. */
  sysfsRoot?: string;
  /**
   * Resolve `file` inside this directory only, the way openat2's RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS
   * and RESOLVE_NO_XDEV do: `file` is a path below it (relative, or starting with it), and no symlink,
   * mount point or ".." on the way is taken (ELOOP, EXDEV). For files found by findBadFiles(), so that a
   * rename meanwhile cannot make the clear land outside the directory.
   */
  beneath?: PathArg;
}

/** What clearBadblocks() did. */
export interface ClearBadblocksResult {
  /** The file as given, as text (see BadblocksReport.target). */
  path: string;
  pathBuffer: Buffer;
  /** The block device (or partition) of the filesystem. */
  device: string;
  blockSize: number;
  /** File ranges whose blocks were punched out and allocated afresh: these bytes now read as zeros; the rest of the file is untouched. */
  zeroed: BadRange[];
  /** Parts of `zeroed` that are on bad media again (the filesystem handed back a bad block). Empty on success. */
  remaining: BadRange[];
  /**
   * Bad ranges of `device` (relative to it) that the file gave up and that the kernel still lists
   * as bad: free space now. Where `canClearErrors` is true the pmem driver clears them when the
   * filesystem next writes there; where it is false that write fails with EIO.
   */
  released: BadRange[];
  /** Whether the platform can clear media errors (see listDevices()). */
  canClearErrors: boolean | null;
}

const FIEMAP_EXTENT_UNKNOWN = 0x2;
const FIEMAP_EXTENT_DELALLOC = 0x4;
const FIEMAP_EXTENT_ENCODED = 0x8;
const FIEMAP_EXTENT_NOT_ALIGNED = 0x100;
const FIEMAP_EXTENT_DATA_INLINE = 0x200;
const FIEMAP_EXTENT_DATA_TAIL = 0x400;
const FS_XFLAG_REALTIME = 0x1;
const FALLOC_FL_KEEP_SIZE = 0x1;
const FALLOC_FL_PUNCH_HOLE = 0x2;

// ---------------------------------------------------------------- helpers

function notSupported(target: string, reason: string): DaxError {
  return new DaxError('ERR_DAX_NOT_SUPPORTED', `No media error list for '${target}': ${reason}`, { reason, path: target });
}

function sysfsRootOf(o: Record<string, unknown>): string {
  return o.sysfsRoot === undefined ? DEFAULT_SYSFS : validatePath('options.sysfsRoot', o.sysfsRoot);
}

/** The ranges inside [start, end), keeping their coordinates. */
function within(ranges: readonly BadRange[], start: number, end: number): BadRange[] {
  return clipRanges(ranges, start, end).map((r) => ({ offset: r.offset + start, length: r.length }));
}

function shift(ranges: readonly BadRange[], by: number): BadRange[] {
  return ranges.map((r) => ({ offset: r.offset + by, length: r.length }));
}

function roundOut(r: BadRange, bs: number): BadRange {
  const s = Math.floor(r.offset / bs) * bs;
  const e = Math.ceil((r.offset + r.length) / bs) * bs;
  return { offset: s, length: e - s };
}

function bttReason(b: PmemBlock): string {
  return (
    `${b.name} is a sector-mode (BTT) namespace: BTT remaps its blocks, so the kernel keeps no media error ` +
    `list for it and the region's list cannot be translated to its sectors (the list of ${b.namespace.region.name} ` +
    `shows the region's, with ${b.namespace.name} named on the ranges inside it)`
  );
}

function notPmemBlockReason(name: string): string {
  if (/^dm-\d+$/.test(name)) {
    return (
      `${name} is a device-mapper device: the kernel keeps media error lists only for the pmem devices ` +
      `under it (/sys/block/${name}/slaves), and daxkit does not translate through device-mapper tables`
    );
  }
  return `${name} is not a persistent memory (nd) block device, and only those have a media error list`;
}

// ---------------------------------------------------------------- targets

type Resolved =
  | { kind: 'region'; region: NdRegion }
  | { kind: 'block'; disk: PmemBlock }
  | { kind: 'partition'; part: PmemPartition }
  | { kind: 'devdax'; dax: DaxDevice }
  | { kind: 'file'; tree: Tree };

const DEVICE_NAME = /^(region\d+|namespace\d+\.\d+|pmem\d+(p\d+)?s?|dax\d+\.\d+)$/;

/** "the regions are region0, region1", or "there is none", for the message about a name that is not there. */
function existing(what: string, names: string[]): string {
  return names.length === 0 ? `there is no ${what}` : `${names.length === 1 ? `the only ${what} is` : `the ${what}s are`} ${names.join(', ')}`;
}

function byName(name: string, m: PmemModel): Resolved {
  if (name.startsWith('region')) {
    const region = m.regions.find((r) => r.name === name);
    if (region === undefined) throw invalidArgValue('target', name, `names no nd region (${existing('nd region', m.regions.map((r) => r.name))})`);
    return { kind: 'region', region };
  }
  if (name.startsWith('namespace')) {
    const ns = m.namespaces.find((n) => n.name === name);
    if (ns === undefined) throw invalidArgValue('target', name, `names no enabled namespace with a size (${existing('namespace', m.namespaces.map((n) => n.name))})`);
    return namespaceTarget(ns, m);
  }
  if (name.startsWith('dax')) {
    const dax = m.daxDevice(name);
    if (dax === undefined) throw invalidArgValue('target', name, `names no dax device (${existing('dax device', m.dax.map((d) => d.name))})`);
    return { kind: 'devdax', dax };
  }
  const disk = m.block(name);
  if (disk !== undefined) return { kind: 'block', disk };
  const part = m.partition(name);
  if (part !== undefined) return { kind: 'partition', part };
  const all = m.blocks.flatMap((b) => [b.name, ...b.partitions.map((p) => p.name)]);
  throw invalidArgValue('target', name, `names no pmem block device or partition of an nd region (${existing('pmem device', all)})`);
}

function namespaceTarget(ns: NdNamespace, m: PmemModel): Resolved {
  if (ns.mode === 'devdax') {
    const dax = ns.dax.length === 1 ? m.daxDevice(ns.dax[0]) : undefined;
    if (dax === undefined) throw invalidArgValue('target', ns.name, `is a devdax namespace with ${ns.dax.length} dax devices: name the device (${ns.dax.join(', ') || 'none is enabled'})`);
    return { kind: 'devdax', dax };
  }
  const disk = ns.block === null ? undefined : m.block(ns.block);
  if (disk === undefined) throw invalidArgValue('target', ns.name, 'has no block device (is it enabled?)');
  return { kind: 'block', disk };
}

function blockByDir(sysDir: string, m: PmemModel, target: string): Resolved {
  const name = path.basename(sysDir);
  const disk = m.blocks.find((b) => b.dir === sysDir);
  if (disk !== undefined) return { kind: 'block', disk };
  for (const b of m.blocks) {
    const part = b.partitions.find((p) => p.dir === sysDir);
    if (part !== undefined) return { kind: 'partition', part };
  }
  throw notSupported(target, notPmemBlockReason(name));
}

/**
 * What a target is. A path is opened once (an O_PATH handle: no device or
 * FIFO is opened, nothing can block) and only that handle is looked at; a
 * file comes back with it, for the caller to read and close.
 */
function resolve(target: string, bytes: Buffer, m: PmemModel): Resolved {
  if (DEVICE_NAME.test(target)) return byName(target, m);
  const tree = Tree.open(bytes, target, true);
  const st = tree.root.st as NativeStatx;
  const fmt = st.mode & 0o170000;
  if (fmt === 0o100000) return { kind: 'file', tree };
  tree.close();
  if (fmt === 0o040000) {
    throw invalidArgValue('target', target, 'is a directory: badblocks() takes a file, a device or a region; findBadFiles() scans a directory');
  }
  const mm = `${st.rdevMajor}:${st.rdevMinor}`;
  if (fmt === 0o060000) {
    const dir = realpathOrNull(path.join(m.sysfsRoot, 'dev', 'block', mm));
    if (dir === null) throw notSupported(target, `block device ${mm} is not in ${m.sysfsRoot}/dev/block`);
    return blockByDir(dir, m, target);
  }
  if (fmt === 0o020000) {
    const dir = realpathOrNull(path.join(m.sysfsRoot, 'dev', 'char', mm));
    const dax = dir === null ? undefined : m.dax.find((d) => d.dir === dir);
    if (dax !== undefined) return { kind: 'devdax', dax };
    const subsystem = dir === null ? null : realpathOrNull(path.join(dir, 'subsystem'));
    throw notSupported(target, `it is a character device of the '${subsystem === null ? 'unknown' : path.basename(subsystem)}' subsystem, not a dax device`);
  }
  throw notSupported(target, 'it is neither a regular file nor a block or dax device');
}

/** Runs fn on the file of a 'file' target, opened for I/O through its handle, and closes both. */
function withFile<T>(r: { tree: Tree }, write: boolean, fn: (fd: number) => T): T {
  try {
    const fd = r.tree.openRoot(write);
    try {
      return fn(fd);
    } finally {
      closeFd(fd);
    }
  } finally {
    r.tree.close();
  }
}

function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // an fd this file opened
  }
}

// ---------------------------------------------------------------- files

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

interface FsDevice {
  name: string;
  disk: PmemBlock;
  /** Where the filesystem starts on the disk, and ends. */
  start: number;
  end: number;
}

interface FileAnalysis {
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
function fsDeviceOf(fd: number, p: string, m: PmemModel): FsDevice {
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

function diskBad(m: PmemModel, dev: FsDevice): { bad: BadRange[]; complete: boolean } {
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

function analyzeFd(fd: number, p: string, m: PmemModel, dev: FsDevice = fsDeviceOf(fd, p, m)): FileAnalysis {
  checkRealtime(fd, p);
  const blockSize = binding.fstatfs(fd, p).bsize;
  const { bad, complete } = diskBad(m, dev);
  const warnings: string[] = [];
  if (!complete) warnings.push(listCutWarning(dev.disk.name));
  if (bad.length === 0) return { dev, blockSize, bad, ranges: [], hits: [], complete, warnings };
  const f = fileBadRanges(binding.fiemap(fd, p), bad, dev.start, blockSize);
  return { dev, blockSize, bad, ranges: f.ranges, hits: f.hits, complete: complete && f.complete, warnings: [...warnings, ...f.warnings] };
}

function listCutWarning(name: string): string {
  return `the kernel's badblock list of ${name} fills the one page sysfs shows and may be cut short: ranges beyond it are not known`;
}

function fileReport(target: string, bytes: Buffer, a: FileAnalysis): BadblocksReport {
  return {
    target,
    targetBuffer: bytes,
    type: 'file',
    device: a.dev.name,
    region: a.dev.disk.namespace.region.name,
    blockSize: a.blockSize,
    ranges: a.ranges,
    badblockCount: totalLength(a.ranges) / 512,
    complete: a.complete,
    warnings: a.warnings,
  };
}

// ---------------------------------------------------------------- regions

// Splits each region range (region-relative) at namespace and device
// boundaries and names what holds each piece.
function attribute(m: PmemModel, region: NdRegion, ranges: BadRange[], warnings: string[]): BadRange[] {
  const namespaces = m.namespaces.filter((ns) => ns.region === region);
  const areas: Array<{ ns: NdNamespace; start: number; end: number; device: string | null; base: number }> = [];
  let known = region.resource !== null;
  for (const ns of namespaces) {
    const data = namespaceAreas(m, ns);
    if (ns.raw === null || data === null) {
      known = false;
      break;
    }
    areas.push({ ns, start: ns.raw.start, end: ns.raw.end, device: null, base: 0 });
    for (const a of data) areas.push({ ns, start: a.start, end: a.end, device: a.device, base: a.base });
  }
  if (!known || region.resource === null) {
    const own = path.join(region.dir, 'resource');
    const denied = m.denied.has(own) ? own : [...m.denied.keys()].find((f) => f.startsWith(region.dir + path.sep));
    warnings.push(
      `the layout of ${region.name} is unknown (${denied === undefined ? 'a resource attribute is missing' : `${denied} is readable by root only`}): ` +
        'ranges are not attributed to namespaces and devices',
    );
    return ranges;
  }
  const base = region.resource;
  const out: BadRange[] = [];
  for (const r of ranges) {
    const b = checkedBytes(base, 1, r.offset + r.length, path.join(region.dir, 'resource'), `the end of a bad range of ${region.name}`);
    const a = b - r.length;
    const cuts = new Set<number>([a, b]);
    for (const x of areas) {
      if (x.start > a && x.start < b) cuts.add(x.start);
      if (x.end > a && x.end < b) cuts.add(x.end);
    }
    const points = [...cuts].sort((x, y) => x - y);
    for (let i = 0; i + 1 < points.length; i++) {
      const s = points[i];
      const e = points[i + 1];
      // A device area lies inside its namespace's raw extent: prefer it.
      const dev = areas.find((x) => x.device !== null && x.start <= s && s < x.end);
      const ns = dev ?? areas.find((x) => x.start <= s && s < x.end);
      const piece: BadRange = {
        offset: s - base,
        length: e - s,
        namespace: ns?.ns.name ?? null,
        device: dev?.device ?? null,
        deviceOffset: dev === undefined ? null : dev.base + (s - dev.start),
      };
      const last = out[out.length - 1];
      const contiguous =
        last !== undefined &&
        last.offset + last.length === piece.offset &&
        last.namespace === piece.namespace &&
        last.device === piece.device &&
        (last.deviceOffset == null ? piece.deviceOffset === null : piece.deviceOffset === last.deviceOffset + last.length);
      if (contiguous) last.length += piece.length;
      else out.push(piece);
    }
  }
  return out;
}

// ---------------------------------------------------------------- the API

/**
 * The media errors (bad blocks) of a target, in bytes relative to it, merged
 * and sorted.
 *
 * - a file: its FIEMAP extents (plus the partition's start) against its block
 *   device's list; whole filesystem blocks, file-relative.
 * - `/dev/pmemN`, `pmemN`, `/dev/pmemNpM`: the device's own list (the one the
 *   pmem driver checks on every access), or the part inside the partition.
 * - `/dev/daxX.Y`, `daxX.Y`: the region's list inside the device's physical
 *   ranges (needs root: `resource` is root-only).
 * - `regionN`: the region's list, each range naming the namespace and device
 *   holding it and its offset there (ndctl prints region offsets raw).
 * - `namespaceX.Y`: its block or dax device.
 *
 * A bare name like `region0` is a device; write `./region0` for a file of that name.
 * @throws DaxError `ERR_DAX_NOT_SUPPORTED` when the target has no media error list (not on
 *   persistent memory, BTT, device-mapper, a dax device of no nd region): `reason` says why.
 *   Anything else is a failure: fs errors (`ENOENT`, `EACCES` with the root-only file), DaxSystemError
 *   from FIEMAP, SysfsFormatError (`file`, `line`) for a malformed list, TypeError `ERR_INVALID_ARG_VALUE`
 *   for a directory or an unknown device name.
 */
export function badblocks(target: PathArg, options?: BadblocksOptions): BadblocksReport {
  const { bytes, text } = validatePathArg('target', target);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['sysfsRoot']);
  const m = loadModel(sysfsRootOf(o));
  const r = resolve(text, bytes, m);
  const base = { target: text, targetBuffer: bytes };
  switch (r.kind) {
    case 'file':
      return withFile(r, false, (fd) => fileReport(text, bytes, analyzeFd(fd, text, m)));
    case 'block':
    case 'partition': {
      const disk = r.kind === 'block' ? r.disk : r.part.disk;
      if (disk.btt) throw notSupported(text, bttReason(disk));
      if (r.kind === 'partition' && r.part.start === null) throw notSupported(text, `${path.join(r.part.dir, 'start')} is missing`);
      const dev: FsDevice =
        r.kind === 'block'
          ? { name: disk.name, disk, start: 0, end: Number.MAX_SAFE_INTEGER }
          : { name: r.part.name, disk, start: r.part.start ?? 0, end: r.part.size === null ? Number.MAX_SAFE_INTEGER : (r.part.start ?? 0) + r.part.size };
      const { bad, complete } = diskBad(m, dev);
      const ranges = shift(bad, -dev.start);
      return {
        ...base,
        type: r.kind,
        device: dev.name,
        region: disk.namespace.region.name,
        blockSize: null,
        ranges,
        badblockCount: totalLength(ranges) / 512,
        complete,
        warnings: complete ? [] : [listCutWarning(disk.name)],
      };
    }
    case 'devdax': {
      const d = r.dax;
      if (d.region === null) {
        throw notSupported(text, `${d.name} is not backed by an nd region (dax_hmem, CXL RAM, soft-reserved memory): the kernel keeps no media error list for it`);
      }
      const list = m.list(d.region.badblocksFile);
      if (list === null) throw notSupported(text, `${d.region.badblocksFile} does not exist`);
      const phys = m.regionPhysical(d.region);
      if (phys === null) throw m.deniedError([path.join(d.region.dir, 'resource')], `the start of ${d.region.name} is unknown`);
      if (d.areas === null) throw m.deniedError(daxAreaFiles(d), `the physical ranges of ${d.name} are unknown`);
      const ranges = physicalToDevice(phys, d.areas, d.name);
      return {
        ...base,
        type: 'devdax',
        device: d.name,
        region: d.region.name,
        blockSize: null,
        ranges,
        badblockCount: totalLength(ranges) / 512,
        complete: list.complete,
        warnings: list.complete ? [] : [listCutWarning(d.region.name)],
      };
    }
    case 'region': {
      const region = r.region;
      const list = m.list(region.badblocksFile);
      if (list === null) throw notSupported(text, `${region.badblocksFile} does not exist`);
      const warnings = list.complete ? [] : [listCutWarning(region.name)];
      const ranges = attribute(m, region, mergeRanges(list.entries), warnings);
      return {
        ...base,
        type: 'region',
        device: region.name,
        region: region.name,
        blockSize: null,
        ranges,
        badblockCount: totalLength(ranges) / 512,
        complete: list.complete,
        warnings,
      };
    }
  }
}

/**
 * The bad ranges of a mapped file or device inside [offset, offset + length),
 * relative to `offset`: what DaxMapping.badRanges() returns.
 * @internal
 */
export function mappingBadRanges(target: string, offset: number, length: number): BadRange[] {
  return clipRanges(badblocks(target).ranges, offset, offset + length);
}

/**
 * Every file under `dir` (on the same filesystem: mount points below it are
 * not entered) that has bad ranges, and the device's bad ranges that no file
 * found uses (free space, metadata, files elsewhere). Nothing is walked when
 * the device has no bad blocks.
 * @throws DaxError `ERR_DAX_NOT_SUPPORTED` when the filesystem is not on a persistent memory block device;
 *   fs errors for `dir` itself (a file that cannot be read is a warning, and makes the report incomplete).
 */
export function findBadFiles(dir: PathArg, options?: BadblocksOptions): BadFilesReport {
  const { bytes, text } = validatePathArg('dir', dir);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['sysfsRoot']);
  const m = loadModel(sysfsRootOf(o));
  const tree = Tree.open(bytes, text, true);
  try {
    if (tree.root.type !== 'directory') throw invalidArgValue('dir', dir, 'must be a directory (badblocks() takes a file)');
    const dev = fsDeviceOf(tree.fd, text, m);
    const blockSize = binding.fstatfs(tree.fd, text).bsize;
    const { bad, complete: listComplete } = diskBad(m, dev);
    const report: BadFilesReport = {
      target: text,
      targetBuffer: bytes,
      device: dev.name,
      region: dev.disk.namespace.region.name,
      blockSize,
      deviceRanges: shift(bad, -dev.start),
      files: [],
      unattributed: [],
      filesScanned: 0,
      complete: listComplete,
      warnings: listComplete ? [] : [listCutWarning(dev.disk.name)],
    };
    if (bad.length === 0) return report;
    const used: BadRange[] = [];
    // The same walk as setDaxFlag's: by fd, no symlinks, no mount points
    // (files under one count as elsewhere), so --clear of what it finds
    // stays inside the directory.
    const nodes = tree.walk(true, (e, fd) => {
      if (e.type !== 'file') return;
      report.filesScanned++;
      const f = fileBadRanges(binding.fiemap(fd, e.text), bad, dev.start, blockSize);
      used.push(...f.hits.map((h) => h.device));
      if (!f.complete) {
        report.complete = false;
        report.warnings.push(...f.warnings.map((w) => `${e.text}: ${w}`));
      }
      if (f.ranges.length > 0) {
        report.files.push({
          target: e.text,
          targetBuffer: e.path,
          type: 'file',
          device: dev.name,
          region: report.region,
          blockSize,
          ranges: f.ranges,
          badblockCount: totalLength(f.ranges) / 512,
          complete: f.complete && listComplete,
          warnings: f.warnings,
        });
      }
    });
    for (const e of nodes) {
      const err = e.error ?? e.listError;
      if (err === null) continue;
      report.complete = false;
      report.warnings.push(`${e.text}: ${err.message}`);
    }
    report.unattributed = shift(subtractRanges(bad, mergeRanges(used)), -dev.start);
    return report;
  } finally {
    tree.close();
  }
}

function clearRefusal(target: string, what: string, canClear: boolean | null, busNote: string): DaxError {
  const reason =
    `daxkit recovers files: it punches a hole over their bad blocks and allocates fresh ones. ${what} ` +
    `Clearing media errors in place needs the platform's clear-error method (ACPI Address Range Scrub and Clear ` +
    `Uncorrectable Error; \`ndctl clear-errors\` uses it and zeroes the bad ranges, destroying what is there)` +
    (canClear === false ? `, and this platform has none (${busNote})` : canClear === true ? `, which this platform has (${busNote})` : '');
  return new DaxError('ERR_DAX_NOT_SUPPORTED', `daxkit cannot clear the media errors of '${target}': ${reason}`, { reason, path: target });
}

function busNote(region: NdRegion | null): string {
  const bus = region?.bus;
  if (bus === undefined || bus === null) return 'no nd bus';
  const cmds = bus.commands === null ? 'unknown' : bus.commands.length === 0 ? 'none' : bus.commands.join(' ');
  return `${bus.name}, provider ${bus.provider ?? 'unknown'}, offers: ${cmds}`;
}

/**
 * Recovers a file hit by media errors, the way the kernel documents it: a
 * hole punched over the bad blocks (rounded out to the filesystem block),
 * then the range allocated again (FALLOC_FL_KEEP_SIZE), then fsync. The bytes
 * of those blocks are lost by design and read as zeros afterwards; the rest of
 * the file is untouched. With `range` ({ offset, length } of the file) only
 * the bad blocks overlapping it are cleared. A file with no bad blocks (in
 * the range) is left alone.
 *
 * The filesystem gives the range fresh blocks; the bad ones become free space
 * (`released`), cleared by the pmem driver when next written where the
 * platform can clear media errors. Where it cannot (QEMU, legacy e820 pmem),
 * that write fails, so daxkit refuses unless `allowUncleared` is set.
 * Devices and regions have no filesystem to re-allocate from: clearing them
 * needs the platform's clear-error method, and this throws.
 * @throws DaxError `ERR_DAX_NOT_SUPPORTED` for devices, regions, files with no media error list, and
 *   platforms that cannot clear media errors (without `allowUncleared`), with the reason;
 *   DaxSystemError from fallocate (`syscall: 'fallocate'`), fs errors from open/fsync.
 */
export function clearBadblocks(file: PathArg, range?: { offset: number; length: number }, options?: ClearBadblocksOptions): ClearBadblocksResult {
  const { bytes, text } = validatePathArg('file', file);
  let want: { start: number; end: number } | null = null;
  if (range !== undefined) {
    const rg = validateObject('range', range);
    rejectUnknownOptions('range', rg, ['offset', 'length']);
    const off = validateInteger('range.offset', rg.offset, 0);
    const len = validateInteger('range.length', rg.length, 1);
    if (off + len > Number.MAX_SAFE_INTEGER) throw outOfRange('range.length', `<= ${Number.MAX_SAFE_INTEGER - off}`, len);
    want = { start: off, end: off + len };
  }
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['allowUncleared', 'sysfsRoot', 'beneath']);
  const allowUncleared = o.allowUncleared === undefined ? false : validateBoolean('options.allowUncleared', o.allowUncleared);
  const beneath = o.beneath === undefined ? null : validatePathArg('options.beneath', o.beneath);
  const root = sysfsRootOf(o);
  const m = loadModel(root);

  let r: Resolved;
  if (beneath === null) {
    r = resolve(text, bytes, m);
  } else {
    const prefix = beneath.bytes[beneath.bytes.length - 1] === 0x2f ? beneath.bytes : Buffer.concat([beneath.bytes, Buffer.of(0x2f)]);
    const inside = bytes.length > prefix.length && bytes.subarray(0, prefix.length).equals(prefix);
    if (!inside && bytes[0] === 0x2f) throw invalidArgValue('file', file, `is not inside options.beneath ('${beneath.text}')`);
    const tree = Tree.openBeneath(beneath.bytes, beneath.text, inside ? bytes.subarray(prefix.length) : bytes, bytes, text);
    if (tree.root.type !== 'file') {
      tree.close();
      throw notSupported(text, 'it is not a regular file');
    }
    r = { kind: 'file', tree };
  }
  if (r.kind !== 'file') {
    const region = r.kind === 'region' ? r.region : r.kind === 'devdax' ? r.dax.region : (r.kind === 'block' ? r.disk : r.part.disk).namespace.region;
    const what =
      r.kind === 'devdax'
        ? `${text} is a devdax device: there is no filesystem to take fresh blocks from.`
        : r.kind === 'region'
          ? `${text} is an nd region: recover the files on its namespaces (daxkit badblocks DIR finds them).`
          : `${text} is a block device: the pmem driver clears a bad sector when it is written through the device, but that overwrites what the filesystem keeps there; recover the files on it instead (daxkit badblocks MOUNTPOINT finds them).`;
    throw clearRefusal(text, what, regionCanClear(region), busNote(region));
  }
  return withFile(r, true, (fd) => clearFd(fd, text, bytes, want, allowUncleared, m, root));
}

function clearFd(fd: number, file: string, bytes: Buffer, want: { start: number; end: number } | null, allowUncleared: boolean, m: PmemModel, root: string): ClearBadblocksResult {
    const before = analyzeFd(fd, file, m);
    const canClear = regionCanClear(before.dev.disk.namespace.region);
    const selected = mergeRanges(
      (want === null ? before.ranges : within(before.ranges, want.start, want.end)).map((x) => roundOut(x, before.blockSize)),
    );
    const result: ClearBadblocksResult = {
      path: file,
      pathBuffer: bytes,
      device: before.dev.name,
      blockSize: before.blockSize,
      zeroed: [],
      remaining: [],
      released: [],
      canClearErrors: canClear,
    };
    if (selected.length === 0) return result;
    if (canClear !== true && !allowUncleared) {
      const region = before.dev.disk.namespace.region;
      const spans = selected.map((x) => `${x.length} bytes at offset ${x.offset}`).join(', ');
      const reason =
        `the platform cannot clear media errors on ${before.dev.disk.name} (${region.name}: ${busNote(region)}; ` +
        `clearing needs ars_cap and clear_error). daxkit can zero ${spans} of the file on fresh blocks ` +
        `(allowUncleared: true, or daxkit badblocks --clear --allow-uncleared), but the bad blocks then go back to ` +
        `the filesystem's free space still bad, and the next write that allocates them fails with EIO ` +
        `(on xfs that shuts the filesystem down); on ext4, e2fsck -l can add them to the bad block list while unmounted`;
      throw new DaxError('ERR_DAX_NOT_SUPPORTED', `Cannot clear the media errors of '${file}': ${reason}`, { reason, path: file });
    }
    for (const x of selected) {
      binding.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, x.offset, x.length, file);
      binding.fallocate(fd, FALLOC_FL_KEEP_SIZE, x.offset, x.length, file);
    }
    fs.fsyncSync(fd);
    result.zeroed = selected;
    const after = analyzeFd(fd, file, loadModel(root));
    const overlaps = (h: FileHit): boolean => selected.some((x) => h.file.offset < x.offset + x.length && x.offset < h.file.offset + h.file.length);
    const gaveUp = subtractRanges(mergeRanges(before.hits.filter(overlaps).map((h) => h.device)), mergeRanges(after.hits.map((h) => h.device)));
    const stillBad: BadRange[] = [];
    for (const g of gaveUp) stillBad.push(...within(after.bad, g.offset, g.offset + g.length));
    result.released = shift(mergeRanges(stillBad), -after.dev.start);
    result.remaining = mergeRanges(selected.flatMap((x) => within(after.ranges, x.offset, x.offset + x.length)));
    return result;
}
