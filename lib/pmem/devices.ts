// listDevices(): every nd region and namespace, pmem block device (and
// partition) and dax device, CXL memory device and region, as an admin (or
// ndctl, daxctl and cxl list) sees them, with how each keeps its stores.
import * as path from 'node:path';
import { loadCxl, type CxlModel, type CxlRegion } from './cxl-model';
import { loadModel, namespaceAreas, physicalToDevice, regionCanClear, type DaxDevice, type NdNamespace, type NdRegion, type PmemBlock, type PmemModel } from './nd-model';
import { sysfsPersistence, type Persistence } from './persistence';
import { clipRanges, mergeRanges, totalLength, type BadRange } from './ranges';
import { sysfsRootOption } from './sysfs';
import { rejectUnknownOptions, validateObject } from '../validate';

/**
 * `'region'`, `'namespace'`, a pmem `'block'` device, a `'partition'` of one, a `'dax'` character
 * device, a CXL memory device (`'cxl-memdev'`) or a CXL region (`'cxl-region'`).
 */
export type PmemDeviceType = 'region' | 'namespace' | 'block' | 'partition' | 'dax' | 'cxl-memdev' | 'cxl-region';

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
  /** The nd bus (`ndbus0`) of the region holding the device; null outside nd regions. */
  bus: string | null;
  /**
   * The nd bus provider, as the kernel (and ndctl) names it: `'ACPI.NFIT'`, `'CXL'`, `'virtio-pmem'`,
   * `'e820'`, `'of_pmem'`; null outside nd regions.
   */
  provider: string | null;
  /**
   * Whether and how stores to this device survive power loss, as a mapping of it would say
   * (`DaxMapping.persistence`): for a region, namespace, block device or partition, through a
   * filesystem on it; for a dax device, as device DAX. null for CXL memory devices (which may hold
   * both persistent and volatile capacity).
   */
  persistence: Persistence | null;
  /** The region refuses writes (`read_only`: an unarmed DIMM, or an admin's choice); null outside nd regions. */
  readOnly: boolean | null;
  /** The CXL memory devices behind the device (`['mem0']`); a CXL memory device names itself. null: not CXL. */
  memdevs: string[] | null;
  /** The CXL regions the device is in or made of (a CXL memory device: the regions using it). null: not CXL. */
  cxlRegions: string[] | null;
  /** CXL memory devices: the serial number as the kernel prints it (`0x1234abcd`). */
  serial: string | null;
  /** CXL memory devices: bytes of persistent and of volatile capacity. */
  pmemSize: number | null;
  ramSize: number | null;
  /** CXL memory devices: the firmware version string. */
  firmwareVersion: string | null;
}

export interface ListDevicesOptions {
  /** Where sysfs is mounted. Default `/sys`; a copy of the tree works too (tests). */
  sysfsRoot?: string;
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

/** The fields only CXL entries have, empty. */
const NO_CXL = { memdevs: null, cxlRegions: null, serial: null, pmemSize: null, ramSize: null, firmwareVersion: null };

// A CXL region's persistence: its nd region's, or what its type says.
function cxlRegionPersistence(m: PmemModel, c: CxlRegion): Persistence | null {
  const nd = c.ndRegion === null ? undefined : m.regions.find((r) => r.name === c.ndRegion);
  if (nd !== undefined) return sysfsPersistence(nd.dir, null, 'block');
  const base = { provider: 'cxl' as const, device: null, region: null };
  if (c.type === 'ram') return { ...base, domain: 'none', assumed: false, reason: `${c.name}: a CXL RAM region: volatile memory, nothing survives power loss` };
  if (c.type === 'pmem') {
    return {
      ...base,
      domain: 'memory-controller',
      assumed: true,
      reason: `${c.name}: a CXL persistent region with no nd region yet (is cxl_pmem loaded?); CXL persistent memory flushes from the memory controller (ADR), which daxkit assumes`,
    };
  }
  return null;
}

/**
 * Every nd region and namespace, pmem block device (and partition) and dax
 * device, CXL memory device and CXL region, with what an admin needs: size,
 * mode, alignment, region and persistence domain, how stores survive power
 * loss, NUMA node, and the badblock count. Reads sysfs only (no libndctl);
 * attributes the kernel does not show are null. Regions come in order, each
 * followed by its namespaces and their devices; then dax devices of no nd
 * region (dax_hmem, CXL RAM); then CXL memory devices; then CXL regions. An
 * empty array means no persistent memory or DAX device.
 * @throws SysfsFormatError (`file`, `line`) when an attribute does not hold what the kernel's ABI says.
 */
export function listDevices(options?: ListDevicesOptions): PmemDevice[] {
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['sysfsRoot']);
  const root = sysfsRootOption(o);
  const m = loadModel(root);
  const cxl: CxlModel = loadCxl(root);
  const out: PmemDevice[] = [];
  // What every entry of a region shares: the region, its bus, and its CXL region if it has one.
  const base = (r: NdRegion | null) => {
    const c = r === null ? undefined : cxl.regions.find((x) => x.ndRegion === r.name && r.bus?.provider === 'CXL');
    return {
      region: r?.name ?? null,
      persistenceDomain: r?.persistenceDomain ?? null,
      canClearErrors: regionCanClear(r),
      bus: r?.bus?.name ?? null,
      provider: r?.bus?.provider ?? null,
      readOnly: r?.readOnly ?? null,
      ...NO_CXL,
      ...(c === undefined ? {} : { memdevs: c.memdevs, cxlRegions: [c.name] }),
    };
  };
  const daxEntry = (d: DaxDevice): PmemDevice => {
    const ramRegion = d.region === null ? cxl.regions.find((c) => c.dax.includes(d.name)) : undefined;
    return {
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
      persistence: sysfsPersistence(d.dir, d.name, 'dax'),
      ...(ramRegion === undefined ? {} : { memdevs: ramRegion.memdevs, cxlRegions: [ramRegion.name] }),
    };
  };
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
      persistence: sysfsPersistence(r.dir, null, 'block'),
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
      out.push({
        name: ns.name,
        type: 'namespace',
        path: null,
        size: ns.size,
        ...fromNs,
        badblockCount: namespaceCount(m, ns),
        persistence: sysfsPersistence(ns.dir, ns.name, ns.mode === 'devdax' ? 'dax' : 'block'),
      });
      const b = ns.block === null ? undefined : m.block(ns.block);
      if (b !== undefined) {
        const list = diskRanges(m, b);
        out.push({ name: b.name, type: 'block', path: `/dev/${b.name}`, size: b.size, ...fromNs, badblockCount: sectors(list), persistence: sysfsPersistence(b.dir, b.name, 'block') });
        for (const p of b.partitions) {
          const within = list === null || p.start === null || p.size === null ? null : clipRanges(list, p.start, p.start + p.size);
          out.push({ name: p.name, type: 'partition', path: `/dev/${p.name}`, size: p.size, ...fromNs, badblockCount: sectors(within), persistence: sysfsPersistence(p.dir, p.name, 'block') });
        }
      }
      for (const name of ns.dax) {
        const d = m.daxDevice(name);
        if (d !== undefined) out.push(daxEntry(d));
      }
    }
  }
  for (const d of m.dax.filter((x) => x.namespace === null)) out.push(daxEntry(d));
  const none = { mode: null, map: null, align: null, region: null, namespace: null, persistenceDomain: null, targetNode: null, badblockCount: null, canClearErrors: null, bus: null, provider: null, readOnly: null };
  for (const d of cxl.memdevs) {
    const size = d.pmemSize === null && d.ramSize === null ? null : (d.pmemSize ?? 0) + (d.ramSize ?? 0);
    out.push({
      ...none,
      name: d.name,
      type: 'cxl-memdev',
      path: `/dev/cxl/${d.name}`,
      size,
      numaNode: d.numaNode,
      persistence: null,
      memdevs: [d.name],
      cxlRegions: cxl.regions.filter((c) => c.memdevs.includes(d.name)).map((c) => c.name),
      serial: d.serial,
      pmemSize: d.pmemSize,
      ramSize: d.ramSize,
      firmwareVersion: d.firmwareVersion,
    });
  }
  for (const c of cxl.regions) {
    const nd = c.ndRegion === null ? undefined : m.regions.find((r) => r.name === c.ndRegion);
    out.push({
      ...none,
      name: c.name,
      type: 'cxl-region',
      path: null,
      size: c.size,
      region: nd?.name ?? null,
      persistenceDomain: nd?.persistenceDomain ?? null,
      numaNode: nd?.numaNode ?? null,
      targetNode: nd?.targetNode ?? null,
      bus: nd?.bus?.name ?? null,
      provider: nd?.bus?.provider ?? null,
      readOnly: nd?.readOnly ?? null,
      persistence: cxlRegionPersistence(m, c),
      ...NO_CXL,
      memdevs: c.memdevs,
      cxlRegions: [c.name],
    });
  }
  return out;
}
