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
import { clipRanges, mergeRanges, type BadRange } from './ranges';
import { parseBadblockList, type BadblockList } from './badblock-list';
import { daxAlign } from './device-nodes';
import { checkedBytes, checkSysfsRoot, DEFAULT_SYSFS, readAttr, readLinkBase, readNode, readSysfsDir, readSysfsFile, readUint, realpathOrNull, SysfsFormatError } from './sysfs';
import { PAGE_SIZE } from '../constants';

/**
 * A device's data area in the physical address space: device offset `base`
 * is at `start`. Made only with base + (end - start) <= 2^53 - 1 (checked
 * against `source`, the attribute `base` comes from), so every device offset
 * inside it is exact.
 */
export interface DataArea {
  device: string;
  start: number;
  end: number;
  base: number;
  source: string;
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
  /** `read_only`: the kernel refuses writes (an unarmed DIMM, or an admin said so); null when absent. */
  readOnly: boolean | null;
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

/**
 * Reads the nd and dax device trees under `sysfsRoot`. A root that does not
 * exist is an error (ENOENT, or SysfsFormatError for a file), not a machine
 * without persistent memory; a sysfs without nd or dax devices is that.
 */
export function loadModel(sysfsRoot = DEFAULT_SYSFS): PmemModel {
  checkSysfsRoot(sysfsRoot);
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
      readOnly: readFlag(path.join(e.dir, 'read_only')),
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
      align: daxAlign(dir),
      driver: readLinkBase(path.join(dir, 'driver')),
      numaNode: readNode(path.join(dir, 'numa_node')),
      targetNode: readNode(path.join(dir, 'target_node')),
      areas: region === null ? null : daxAreas(m, name, dir, size),
    });
  }
  return m;
}

function readFlag(file: string): boolean | null {
  const v = readUint(file);
  return v === null ? null : v !== 0;
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
      const endFile = path.join(d, 'end');
      const pgoffFile = path.join(d, 'page_offset');
      const stop = checkedBytes(end, 1, 1, endFile, 'the end (inclusive) plus one');
      if (stop <= start) throw new SysfsFormatError(endFile, 1, `the end (${end}) is before the start (${start}) of ${n} of ${name}`);
      const base = checkedBytes(pgoff, PAGE_SIZE, 0, pgoffFile, 'the offset in bytes (pages)');
      checkedBytes(base, 1, stop - start, pgoffFile, `the offset in ${name} of the end of ${n} (page_offset in bytes + end + 1 - start)`);
      out.push({ device: name, start, end: stop, base, source: pgoffFile });
    }
    return out;
  }
  const file = path.join(dir, 'resource');
  const start = m.privUint(file);
  if (start === null || size === null) return null;
  return [{ device: name, start, end: checkedBytes(start, 1, size, file, `the end of ${name} (resource + size)`), base: 0, source: file }];
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
      for (const a of d.areas) out.push(a);
    }
    return out;
  }
  if (ns.mode === 'sector' || ns.block === null) return [];
  if (ns.claim?.kind === 'pfn') {
    const file = path.join(ns.claim.dir, 'resource');
    const start = m.privUint(file);
    if (start === null || ns.size === null) return null;
    return [{ device: ns.block, start, end: checkedBytes(start, 1, ns.size, file, `the end of ${ns.block} (resource + size)`), base: 0, source: file }];
  }
  if (ns.raw === null) return null;
  return [{ device: ns.block, start: ns.raw.start, end: ns.raw.end, base: 0, source: path.join(ns.dir, 'resource') }];
}

/** Physical ranges seen through data areas: device-relative ranges of `device`. */
export function physicalToDevice(phys: readonly BadRange[], areas: readonly DataArea[], device: string): BadRange[] {
  const out: BadRange[] = [];
  for (const a of areas) {
    if (a.device !== device) continue;
    for (const r of clipRanges(phys, a.start, a.end)) out.push({ offset: checkedBytes(a.base, 1, r.offset, a.source, `an offset in ${device}`), length: r.length });
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
