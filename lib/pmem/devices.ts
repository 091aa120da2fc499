// listDevices(): every nd region and namespace, pmem block device (and
// partition) and dax device, as an admin (or ndctl list) sees them.
import * as path from 'node:path';
import { loadModel, namespaceAreas, physicalToDevice, regionCanClear, type DaxDevice, type NdNamespace, type NdRegion, type PmemBlock, type PmemModel } from './nd-model';
import { clipRanges, mergeRanges, totalLength, type BadRange } from './ranges';
import { sysfsRootOption } from './sysfs';
import { rejectUnknownOptions, validateObject } from '../validate';

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
  const m = loadModel(sysfsRootOption(o));
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
