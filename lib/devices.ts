// The libnvdimm (nd) and device-dax model, read from sysfs alone: no
// libndctl, and no root where sysfs is readable (only `resource` and the dax
// `mappingN` attributes are root-only; what needs them says so).
//
// Layout (Linux 6.1, as the emulated-pmem VM shows it):
//   bus/nd/devices/regionN -> .../ndbusB/regionN            {size,align,resource,badblocks,...}
//     regionN/namespaceN.M                                   {size,resource,mode,holder}
//     regionN/pfnN.M    (fsdax claim)  {namespace,size,resource,align,mode}  pfnN.M/block/pmemN
//     regionN/daxN.M    (devdax claim) {namespace,size,resource,align,mode}  daxN.M/daxN.M (bus/dax)
//     regionN/bttN.M    (sector claim) {namespace,size}                      bttN.M/block/pmemNs
//     regionN/namespaceN.M/block/pmemN (raw, or legacy e820 "memory" mode)
//   block/pmemN/badblocks: 512-byte sectors relative to the block device
//   regionN/badblocks:     512-byte sectors relative to regionN/resource
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binding } from './binding';
import { checkedBytes, DEFAULT_SYSFS, parseBadblockList, readAttr, readNode, readSysfsDir, readSysfsFile, readUint, realpathOrNull, SysfsFormatError, type BadblockList } from './sysfs';
import { rejectUnknownOptions, validateObject, validatePath } from './validate';

const PAGE_SIZE = binding.cpuInfo().pageSize;

/** A byte range, `[offset, offset + length)`. */
export interface BadRange {
  /** Bytes from the start of the target. */
  offset: number;
  /** Bytes. */
  length: number;
  /**
   * Region targets only (absent when the region's layout is unreadable, e.g. not root): the
   * namespace holding the range, or null (space no namespace uses).
   */
  namespace?: string | null;
  /** Region targets only: the block or dax device whose data the range is, or null (namespace metadata, unused space). */
  device?: string | null;
  /** Region targets only: the range's offset in `device`, or null. */
  deviceOffset?: number | null;
}

/** `'region'`, `'namespace'`, a pmem `'block'` device, a `'partition'` of one, or a `'dax'` character device. */
export type PmemDeviceType = 'region' | 'namespace' | 'block' | 'partition' | 'dax';

/** ndctl's namespace modes; `'system-ram'` is a dax device onlined as memory (kmem). */
export type PmemMode = 'fsdax' | 'devdax' | 'raw' | 'sector' | 'system-ram';

/** One device of `listDevices()`. Attributes the kernel does not show are null. */
export interface PmemDevice {
  /** `region0`, `namespace0.0`, `pmem0`, `pmem0p1`, `dax1.0`. */
  name: string;
  type: PmemDeviceType;
  /** The device node (`/dev/pmem0`, `/dev/dax1.0`); null for regions and namespaces. */
  path: string | null;
  /** Bytes. Namespaces: the usable size, as ndctl shows it (the data area of fsdax and devdax). */
  size: number | null;
  /** The namespace mode (null for regions and unbound dax devices). */
  mode: PmemMode | null;
  /** Where the `struct page` array of an fsdax/devdax namespace lives: `'dev'` (on the pmem) or `'mem'` (in RAM). */
  map: 'dev' | 'mem' | null;
  /** Bytes: the region's alignment, the namespace's (fsdax/devdax) page-map alignment, the dax device's mapping alignment. */
  align: number | null;
  /** The nd region holding the device; null for a dax device of no nd region (e.g. dax_hmem). */
  region: string | null;
  namespace: string | null;
  /**
   * The region's `persistence_domain`: `'cpu_cache'` (eADR), `'memory_controller'` (ADR), or
   * `'unknown'` when the platform does not say (the kernel then hides the attribute; ndctl prints
   * "unknown" too). null outside nd regions.
   */
  persistenceDomain: string | null;
  numaNode: number | null;
  targetNode: number | null;
  /**
   * Bad 512-byte sectors, as ndctl counts them (`badblock_count`). Regions: their list. Block
   * devices and partitions: the device's own list (the one the pmem driver checks). Namespaces:
   * the region's list inside the namespace's data area, as ndctl computes it (the block device's
   * list when `resource` is unreadable). Dax devices: the region's list inside the device (needs
   * root). null where there is no list (BTT, no nd region) or it cannot be read.
   */
  badblockCount: number | null;
  /**
   * Whether the platform can clear media errors here: the nd bus offers ARS and Clear Uncorrectable
   * Error (`ars_cap` and `clear_error` in ndbusN/commands). Without it nothing clears poison:
   * not the pmem driver on a write, not `ndctl clear-errors`. null when unknown.
   */
  canClearErrors: boolean | null;
}

export interface ListDevicesOptions {
  /** Where sysfs is mounted. Default `/sys`; a copy of the tree works too (tests). */
  sysfsRoot?: string;
}

// ---------------------------------------------------------------- ranges

/** Sorted, with overlapping and touching ranges merged. */
export function mergeRanges(ranges: readonly BadRange[]): BadRange[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const out: BadRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else {
      out.push({ offset: r.offset, length: r.length });
    }
  }
  return out;
}

/** The parts of `ranges` inside `[start, end)`, shifted so that `start` is 0. */
export function clipRanges(ranges: readonly BadRange[], start: number, end: number): BadRange[] {
  const out: BadRange[] = [];
  for (const r of ranges) {
    const s = Math.max(r.offset, start);
    const e = Math.min(r.offset + r.length, end);
    if (s < e) out.push({ offset: s - start, length: e - s });
  }
  return out;
}

/** `a` without the bytes of `b` (both merged and sorted). */
export function subtractRanges(a: readonly BadRange[], b: readonly BadRange[]): BadRange[] {
  const out: BadRange[] = [];
  for (const r of a) {
    let pos = r.offset;
    const end = r.offset + r.length;
    for (const x of b) {
      const xe = x.offset + x.length;
      if (xe <= pos || x.offset >= end) continue;
      if (x.offset > pos) out.push({ offset: pos, length: x.offset - pos });
      pos = Math.max(pos, xe);
    }
    if (pos < end) out.push({ offset: pos, length: end - pos });
  }
  return out;
}

export function totalLength(ranges: readonly BadRange[]): number {
  return ranges.reduce((n, r) => n + r.length, 0);
}

// ---------------------------------------------------------------- the model

/** A device's data area in the physical address space: device offset `base` is at `start`. */
export interface DataArea {
  device: string;
  start: number;
  end: number;
  base: number;
}

export interface NdBus {
  name: string;
  dir: string;
  provider: string | null;
  commands: string[] | null;
}

export interface NdRegion {
  name: string;
  dir: string;
  bus: NdBus | null;
  size: number | null;
  align: number | null;
  /** Physical start address; null when unreadable (not root) or absent. */
  resource: number | null;
  persistenceDomain: string;
  numaNode: number | null;
  targetNode: number | null;
  badblocksFile: string;
}

export interface NdClaim {
  kind: 'pfn' | 'dax' | 'btt';
  name: string;
  dir: string;
}

export interface NdNamespace {
  name: string;
  dir: string;
  region: NdRegion;
  mode: 'fsdax' | 'devdax' | 'raw' | 'sector';
  map: 'dev' | 'mem' | null;
  claim: NdClaim | null;
  size: number | null;
  align: number | null;
  /** The namespace's raw extent in the physical address space, when readable. */
  raw: { start: number; end: number } | null;
  /** Block device of fsdax, raw and sector namespaces. */
  block: string | null;
  /** Dax devices of a devdax namespace. */
  dax: string[];
  numaNode: number | null;
  targetNode: number | null;
}

export interface PmemBlock {
  name: string;
  dir: string;
  namespace: NdNamespace;
  size: number | null;
  /** A sector-mode (BTT) device: no badblock list, and its sectors are not the media's. */
  btt: boolean;
  partitions: PmemPartition[];
}

export interface PmemPartition {
  name: string;
  dir: string;
  disk: PmemBlock;
  /** Bytes from the start of the disk. */
  start: number | null;
  size: number | null;
}

export interface DaxDevice {
  name: string;
  dir: string;
  region: NdRegion | null;
  namespace: NdNamespace | null;
  size: number | null;
  align: number | null;
  driver: string | null;
  numaNode: number | null;
  targetNode: number | null;
  /** The physical ranges behind the device, or null when unreadable (not root). */
  areas: DataArea[] | null;
}

/**
 * Everything listDevices() and badblocks() need, read once. Root-only
 * attributes that could not be read are recorded with their error, so that
 * whoever needs them can throw exactly that error (EACCES and the file).
 */
export class PmemModel {
  readonly regions: NdRegion[] = [];
  readonly namespaces: NdNamespace[] = [];
  readonly blocks: PmemBlock[] = [];
  readonly dax: DaxDevice[] = [];
  /** Root-only files that could not be read, with the error. */
  readonly denied = new Map<string, Error>();
  readonly #lists = new Map<string, BadblockList | null>();

  constructor(readonly sysfsRoot: string) {}

  /** A root-only attribute: null (and noted) when permission is denied. */
  privUint(file: string): number | null {
    try {
      return readUint(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM') throw e;
      this.denied.set(file, e as Error);
      return null;
    }
  }

  /** The permission error recorded for one of `files` (EACCES, naming it), else: the first is missing. */
  deniedError(files: string[], what: string): Error {
    for (const f of files) {
      const e = this.denied.get(f);
      if (e !== undefined) return e;
    }
    return new SysfsFormatError(files[0], 1, `missing, so ${what}`);
  }

  /** A badblocks file, parsed once; null when the file does not exist (no list). */
  list(file: string): BadblockList | null {
    if (!this.#lists.has(file)) {
      const text = readSysfsFile(file);
      this.#lists.set(file, text === null ? null : parseBadblockList(text, file, PAGE_SIZE));
    }
    return this.#lists.get(file) as BadblockList | null;
  }

  regionOf(dir: string): NdRegion | null {
    return this.regions.find((r) => dir.startsWith(r.dir + path.sep)) ?? null;
  }

  block(name: string): PmemBlock | undefined {
    return this.blocks.find((b) => b.name === name);
  }

  partition(name: string): PmemPartition | undefined {
    for (const b of this.blocks) {
      const p = b.partitions.find((x) => x.name === name);
      if (p !== undefined) return p;
    }
    return undefined;
  }

  daxDevice(name: string): DaxDevice | undefined {
    return this.dax.find((d) => d.name === name);
  }

  /** The region's list as physical byte ranges; null when its `resource` is unreadable. */
  regionPhysical(r: NdRegion): BadRange[] | null {
    if (r.resource === null) return null;
    const base = r.resource;
    const file = path.join(r.dir, 'resource');
    return (this.list(r.badblocksFile)?.entries ?? []).map((e) => ({ offset: checkedBytes(base, 1, e.offset + e.length, file, `the end of a bad range of ${r.name}`) - e.length, length: e.length }));
  }
}

function numeric(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function readdir(dir: string): string[] {
  return readSysfsDir(dir).sort(numeric);
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function mapOf(claimMode: string | null): 'dev' | 'mem' | null {
  if (claimMode === 'pmem') return 'dev';
  if (claimMode === 'ram') return 'mem';
  return null;
}

/** Reads the nd and dax device trees under `sysfsRoot`. */
export function loadModel(sysfsRoot = DEFAULT_SYSFS): PmemModel {
  const m = new PmemModel(sysfsRoot);
  const ndDir = path.join(sysfsRoot, 'bus', 'nd', 'devices');
  const entries = readdir(ndDir)
    .map((name) => ({ name, dir: realpathOrNull(path.join(ndDir, name)) }))
    .filter((e): e is { name: string; dir: string } => e.dir !== null);

  const buses = new Map<string, NdBus>();
  for (const e of entries.filter((x) => /^region\d+$/.test(x.name))) {
    const busDir = path.dirname(e.dir);
    let bus: NdBus | null = null;
    if (/^ndbus\d+$/.test(path.basename(busDir))) {
      bus = buses.get(busDir) ?? null;
      if (bus === null) {
        const commands = readAttr(path.join(busDir, 'commands'));
        bus = {
          name: path.basename(busDir),
          dir: busDir,
          provider: readAttr(path.join(busDir, 'provider')),
          commands: commands === null ? null : commands.split(/\s+/).filter((c) => c !== ''),
        };
        buses.set(busDir, bus);
      }
    }
    const domain = readAttr(path.join(e.dir, 'persistence_domain'));
    m.regions.push({
      name: e.name,
      dir: e.dir,
      bus,
      size: readUint(path.join(e.dir, 'size')),
      align: readUint(path.join(e.dir, 'align')),
      resource: m.privUint(path.join(e.dir, 'resource')),
      persistenceDomain: domain === null || domain === '' ? 'unknown' : domain,
      numaNode: readNode(path.join(e.dir, 'numa_node')),
      targetNode: readNode(path.join(e.dir, 'target_node')),
      badblocksFile: path.join(e.dir, 'badblocks'),
    });
  }

  // pfn, dax and btt devices claim a namespace; unclaimed ones are seeds.
  const claims = new Map<string, NdClaim>();
  for (const e of entries) {
    const k = /^(pfn|dax|btt)\d+\.\d+$/.exec(e.name);
    if (k === null) continue;
    const ns = readAttr(path.join(e.dir, 'namespace'));
    if (ns !== null && ns !== '') claims.set(ns, { kind: k[1] as NdClaim['kind'], name: e.name, dir: e.dir });
  }

  for (const e of entries.filter((x) => /^namespace\d+\.\d+$/.test(x.name))) {
    const region = m.regionOf(e.dir);
    if (region === null) continue;
    const nsSize = readUint(path.join(e.dir, 'size'));
    if (nsSize === null || nsSize === 0) continue; // a seed: not a namespace yet
    const claim = claims.get(e.name) ?? null;
    const nsStart = m.privUint(path.join(e.dir, 'resource'));
    const raw = nsStart === null ? null : { start: nsStart, end: checkedBytes(nsStart, 1, nsSize, path.join(e.dir, 'resource'), `the end of ${e.name} (resource + size)`) };
    const firstBlock = (dir: string): string | null => readdir(path.join(dir, 'block'))[0] ?? null;
    const ns: NdNamespace = {
      name: e.name,
      dir: e.dir,
      region,
      mode: 'raw',
      map: null,
      claim,
      size: nsSize,
      align: null,
      raw,
      block: null,
      dax: [],
      numaNode: readNode(path.join(e.dir, 'numa_node')),
      targetNode: readNode(path.join(e.dir, 'target_node')),
    };
    if (claim === null) {
      // Legacy (e820) namespaces have a page map in RAM: the kernel says "memory" and they do fsdax.
      if (readAttr(path.join(e.dir, 'mode')) === 'memory') {
        ns.mode = 'fsdax';
        ns.map = 'mem';
      }
      ns.block = firstBlock(e.dir);
    } else {
      ns.size = readUint(path.join(claim.dir, 'size'));
      if (claim.kind === 'btt') {
        ns.mode = 'sector';
        ns.block = firstBlock(claim.dir);
      } else {
        ns.mode = claim.kind === 'pfn' ? 'fsdax' : 'devdax';
        ns.map = mapOf(readAttr(path.join(claim.dir, 'mode')));
        ns.align = readUint(path.join(claim.dir, 'align'));
        if (claim.kind === 'pfn') ns.block = firstBlock(claim.dir);
        else ns.dax = readdir(claim.dir).filter((n) => /^dax\d+\.\d+$/.test(n) && isDir(path.join(claim.dir, n)));
      }
    }
    m.namespaces.push(ns);

    if (ns.block !== null) {
      const dir = path.join(claim?.dir ?? e.dir, 'block', ns.block);
      const sizeFile = path.join(dir, 'size');
      const sectors = readUint(sizeFile);
      const disk: PmemBlock = {
        name: ns.block,
        dir,
        namespace: ns,
        size: sectors === null ? null : checkedBytes(sectors, 512, 0, sizeFile, 'the size in bytes (512-byte sectors)'),
        btt: claim?.kind === 'btt',
        partitions: [],
      };
      for (const p of readdir(dir)) {
        const pdir = path.join(dir, p);
        if (readAttr(path.join(pdir, 'partition')) === null) continue;
        const startFile = path.join(pdir, 'start');
        const sizeFile = path.join(pdir, 'size');
        const start = readUint(startFile);
        const psize = readUint(sizeFile);
        const startBytes = start === null ? null : checkedBytes(start, 512, 0, startFile, 'the start in bytes (512-byte sectors)');
        const sizeBytes = psize === null ? null : checkedBytes(psize, 512, 0, sizeFile, 'the size in bytes (512-byte sectors)');
        if (startBytes !== null && sizeBytes !== null) checkedBytes(startBytes, 1, sizeBytes, sizeFile, `the end of ${p} (start + size)`);
        disk.partitions.push({ name: p, dir: pdir, disk, start: startBytes, size: sizeBytes });
      }
      m.blocks.push(disk);
    }
  }

  const daxDir = path.join(sysfsRoot, 'bus', 'dax', 'devices');
  for (const name of readdir(daxDir)) {
    const dir = realpathOrNull(path.join(daxDir, name));
    if (dir === null) continue;
    const region = m.regionOf(dir);
    const owner = m.namespaces.find((ns) => ns.claim?.kind === 'dax' && ns.claim.dir === path.dirname(dir)) ?? null;
    const size = readUint(path.join(dir, 'size'));
    m.dax.push({
      name,
      dir,
      region,
      namespace: owner,
      size,
      align: readUint(path.join(dir, 'align')) ?? readUint(path.join(dir, 'dax_region', 'align')),
      driver: readLinkName(path.join(dir, 'driver')),
      numaNode: readNode(path.join(dir, 'numa_node')),
      targetNode: readNode(path.join(dir, 'target_node')),
      areas: region === null ? null : daxAreas(m, name, dir, size),
    });
  }
  return m;
}

function readLinkName(link: string): string | null {
  try {
    return path.basename(fs.readlinkSync(link));
  } catch {
    return null;
  }
}

// A dax device is one or more physical ranges (mappingN: start, end, and the
// device page offset they start at); before Linux 5.10 only resource + size.
function daxAreas(m: PmemModel, name: string, dir: string, size: number | null): DataArea[] | null {
  const maps = readdir(dir).filter((n) => /^mapping\d+$/.test(n));
  if (maps.length > 0) {
    const out: DataArea[] = [];
    for (const n of maps) {
      const d = path.join(dir, n);
      const start = m.privUint(path.join(d, 'start'));
      const end = m.privUint(path.join(d, 'end'));
      const pgoff = m.privUint(path.join(d, 'page_offset'));
      if (start === null || end === null || pgoff === null) return null;
      out.push({
        device: name,
        start,
        end: checkedBytes(end, 1, 1, path.join(d, 'end'), 'the end (inclusive) plus one'),
        base: checkedBytes(pgoff, PAGE_SIZE, 0, path.join(d, 'page_offset'), 'the offset in bytes (pages)'),
      });
    }
    return out;
  }
  const start = m.privUint(path.join(dir, 'resource'));
  if (start === null || size === null) return null;
  return [{ device: name, start, end: checkedBytes(start, 1, size, path.join(dir, 'resource'), `the end of ${name} (resource + size)`), base: 0 }];
}

/** The files whose permission errors explain why `areas` of a dax device are unknown. */
export function daxAreaFiles(d: DaxDevice): string[] {
  const maps = readdir(d.dir).filter((n) => /^mapping\d+$/.test(n));
  if (maps.length === 0) return [path.join(d.dir, 'resource')];
  return maps.flatMap((n) => ['start', 'end', 'page_offset'].map((a) => path.join(d.dir, n, a)));
}

/** The data areas of a namespace's devices, or null when unreadable. */
export function namespaceAreas(m: PmemModel, ns: NdNamespace): DataArea[] | null {
  if (ns.mode === 'devdax') {
    const out: DataArea[] = [];
    for (const name of ns.dax) {
      const d = m.daxDevice(name);
      if (d === undefined || d.areas === null) return null;
      out.push(...d.areas);
    }
    return out;
  }
  if (ns.mode === 'sector' || ns.block === null) return [];
  if (ns.claim?.kind === 'pfn') {
    const file = path.join(ns.claim.dir, 'resource');
    const start = m.privUint(file);
    if (start === null || ns.size === null) return null;
    return [{ device: ns.block, start, end: checkedBytes(start, 1, ns.size, file, `the end of ${ns.block} (resource + size)`), base: 0 }];
  }
  if (ns.raw === null) return null;
  return [{ device: ns.block, start: ns.raw.start, end: ns.raw.end, base: 0 }];
}

/** Physical ranges seen through data areas: device-relative ranges of `device`. */
export function physicalToDevice(phys: readonly BadRange[], areas: readonly DataArea[], device: string): BadRange[] {
  const out: BadRange[] = [];
  for (const a of areas) {
    if (a.device !== device) continue;
    for (const r of clipRanges(phys, a.start, a.end)) out.push({ offset: a.base + r.offset, length: r.length });
  }
  return mergeRanges(out);
}

function canClear(bus: NdBus | null): boolean | null {
  if (bus === null || bus.commands === null) return null;
  return bus.commands.includes('ars_cap') && bus.commands.includes('clear_error');
}

/** Whether the platform can clear media errors in `region`; see PmemDevice.canClearErrors. */
export function regionCanClear(region: NdRegion | null): boolean | null {
  return region === null ? null : canClear(region.bus);
}

function sectors(ranges: readonly BadRange[] | null | undefined): number | null {
  return ranges === null || ranges === undefined ? null : totalLength(ranges) / 512;
}

function diskRanges(m: PmemModel, b: PmemBlock): BadRange[] | null {
  if (b.btt) return null;
  const l = m.list(path.join(b.dir, 'badblocks'));
  return l === null ? null : mergeRanges(l.entries);
}

function daxCount(m: PmemModel, d: DaxDevice): number | null {
  if (d.region === null || d.areas === null) return null;
  const phys = m.regionPhysical(d.region);
  return phys === null ? null : sectors(physicalToDevice(phys, d.areas, d.name));
}

// ndctl's namespace count: the region's list inside the data area (the whole
// raw extent for sector mode), or the block device's own list when the
// resources are unreadable.
function namespaceCount(m: PmemModel, ns: NdNamespace): number | null {
  const phys = m.regionPhysical(ns.region);
  if (ns.mode === 'devdax') {
    let n = 0;
    for (const name of ns.dax) {
      const d = m.daxDevice(name);
      const c = d === undefined ? null : daxCount(m, d);
      if (c === null) return null;
      n += c;
    }
    return n;
  }
  if (ns.mode === 'sector') return phys === null || ns.raw === null ? null : sectors(clipRanges(phys, ns.raw.start, ns.raw.end));
  const areas = namespaceAreas(m, ns);
  if (phys !== null && areas !== null && areas.length > 0) return sectors(physicalToDevice(phys, areas, areas[0].device));
  const b = ns.block === null ? undefined : m.block(ns.block);
  return b === undefined ? null : sectors(diskRanges(m, b));
}

/**
 * Every nd region and namespace, pmem block device (and partition) and dax
 * device, with what an admin needs: size, mode, alignment, region and
 * persistence domain, NUMA node, and the badblock count. Reads sysfs only
 * (no libndctl); attributes the kernel does not show are null. Regions come
 * in order, each followed by its namespaces and their devices; dax devices of
 * no nd region come last. An empty array means no persistent memory.
 * @throws SysfsFormatError (`file`, `line`) when an attribute does not hold what the kernel's ABI says.
 */
export function listDevices(options?: ListDevicesOptions): PmemDevice[] {
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['sysfsRoot']);
  const root = o.sysfsRoot === undefined ? DEFAULT_SYSFS : validatePath('options.sysfsRoot', o.sysfsRoot);
  const m = loadModel(root);
  const out: PmemDevice[] = [];
  const base = (r: NdRegion | null): Pick<PmemDevice, 'region' | 'persistenceDomain' | 'canClearErrors'> => ({
    region: r?.name ?? null,
    persistenceDomain: r?.persistenceDomain ?? null,
    canClearErrors: regionCanClear(r),
  });
  const daxEntry = (d: DaxDevice): PmemDevice => ({
    name: d.name,
    type: 'dax',
    path: `/dev/${d.name}`,
    size: d.size,
    mode: d.driver === 'kmem' ? 'system-ram' : d.driver === 'device_dax' ? 'devdax' : null,
    map: d.namespace?.map ?? null,
    align: d.align,
    ...base(d.region),
    namespace: d.namespace?.name ?? null,
    numaNode: d.numaNode,
    targetNode: d.targetNode,
    badblockCount: daxCount(m, d),
  });
  for (const r of m.regions) {
    out.push({
      name: r.name,
      type: 'region',
      path: null,
      size: r.size,
      mode: null,
      map: null,
      align: r.align,
      ...base(r),
      namespace: null,
      numaNode: r.numaNode,
      targetNode: r.targetNode,
      badblockCount: sectors(m.list(r.badblocksFile)?.entries),
    });
    for (const ns of m.namespaces.filter((x) => x.region === r)) {
      // What the namespace, its block device and their partitions share.
      const fromNs = {
        mode: ns.mode,
        map: ns.map,
        align: ns.align,
        ...base(r),
        namespace: ns.name,
        numaNode: ns.numaNode,
        targetNode: ns.targetNode,
      };
      out.push({ name: ns.name, type: 'namespace', path: null, size: ns.size, ...fromNs, badblockCount: namespaceCount(m, ns) });
      const b = ns.block === null ? undefined : m.block(ns.block);
      if (b !== undefined) {
        const list = diskRanges(m, b);
        out.push({ name: b.name, type: 'block', path: `/dev/${b.name}`, size: b.size, ...fromNs, badblockCount: sectors(list) });
        for (const p of b.partitions) {
          const within = list === null || p.start === null || p.size === null ? null : clipRanges(list, p.start, p.start + p.size);
          out.push({ name: p.name, type: 'partition', path: `/dev/${p.name}`, size: p.size, ...fromNs, badblockCount: sectors(within) });
        }
      }
      for (const name of ns.dax) {
        const d = m.daxDevice(name);
        if (d !== undefined) out.push(daxEntry(d));
      }
    }
  }
  for (const d of m.dax.filter((x) => x.namespace === null)) out.push(daxEntry(d));
  return out;
}
