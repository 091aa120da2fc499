// badblocks(): the kernel's badblock lists translated to the target's own
// bytes (a file, a block device or partition, a devdax device, a region).
//
// Units: the kernel lists 512-byte sectors; everything here is bytes. A
// region's list is relative to the region's start; a block device's to the
// device's first sector (after a pfn device's info block and page map); a
// devdax device has no list of its own, so its ranges are the region's inside
// the device's physical ranges.
import * as path from 'node:path';
import { validateObject, rejectUnknownOptions, validatePathArg, type PathArg } from '../validate';
import { analyzeFd, diskBad, listCutWarning, type FileAnalysis, type FsDevice } from './file-analysis';
import { daxAreaFiles, loadModel, physicalToDevice } from './nd-model';
import { clipRanges, mergeRanges, shift, totalLength, type BadRange } from './ranges';
import { attribute } from './region-attribution';
import { bttReason, notSupported, resolve, withFile } from './targets';
import { sysfsRootOption } from './sysfs';

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

/** @internal */
export function fileReport(target: string, bytes: Buffer, a: FileAnalysis): BadblocksReport {
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
  const m = loadModel(sysfsRootOption(o));
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
