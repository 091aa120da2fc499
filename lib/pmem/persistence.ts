// How a mapping's stores survive power loss, read from the mapping's OWN
// device and region: which kind of memory it is (NFIT or CXL persistent
// memory, virtio-pmem, soft-reserved RAM, memmap= RAM, a page cache over
// storage or over RAM) and where its persistence domain ends. The kernel
// says it in sysfs: the nd bus's `provider`, the region's
// `persistence_domain` (absent where the platform does not say), and where
// the device sits in /sys/devices.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binding, type NativeStatx } from '../binding';
import { readMounts, type MountEntry } from '../fs/mounts';
import { regionDimms, unsavedDimms } from './dimms';
import { DEFAULT_SYSFS, readAttr, readSysfsBytes, realpathOrNull } from './sysfs';
import { pathText } from '../fs/path-bytes';
import { ndPlace, stackedUnder, type NdPlace } from './sysfs-place';

/**
 * Where a store has to get before it survives power loss:
 * - `'cpu-cache'`: it is there already; a fence orders it (eADR, or CXL with caches in the flush domain);
 * - `'memory-controller'`: the cache lines must be written back, then fenced (ADR);
 * - `'host'`: the guest's flush must reach the host (virtio-pmem): after msync/fsync;
 * - `'storage'`: through the page cache to a disk: after msync/fsync;
 * - `'none'`: nowhere; the memory is volatile (soft-reserved or memmap= RAM, tmpfs, a RAM disk).
 */
export type PersistenceDomain = 'cpu-cache' | 'memory-controller' | 'host' | 'storage' | 'none';

/** What provides the memory: the nd bus provider, the dax provider, or a filesystem. */
export type MemoryProvider = 'nfit' | 'cxl' | 'virtio-pmem' | 'e820' | 'of-pmem' | 'hmem' | 'filesystem' | 'tmpfs' | 'ramdisk' | 'unknown';

export interface Persistence {
  domain: PersistenceDomain;
  provider: MemoryProvider;
  /** Why, in one line: the device, the region and what sysfs says of them. */
  reason: string;
  /** True where the kernel does not say and daxkit takes the conservative reading. */
  assumed: boolean;
  /** The device (`pmem0`, `dax1.0`, `vda`) and nd region (`region0`) read, where there are. */
  device: string | null;
  region: string | null;
}

const PROVIDERS: Record<string, MemoryProvider> = {
  'ACPI.NFIT': 'nfit',
  CXL: 'cxl',
  'virtio-pmem': 'virtio-pmem',
  e820: 'e820',
  of_pmem: 'of-pmem',
};

/** How the memory is reached: through a block device (a filesystem, msync/fsync) or as device DAX. */
export type Access = 'dax' | 'block';

function providerOf(raw: string | null): MemoryProvider {
  if (raw === null) return 'unknown';
  return PROVIDERS[raw] ?? 'unknown';
}

// The region's device type from its uevent (`nd_pmem`, `nd_volatile`), or null.
function regionDevtype(regionDir: string): string | null {
  const ev = readAttr(path.join(regionDir, 'uevent'));
  return ev === null ? null : (/^DEVTYPE=(.*)$/m.exec(ev)?.[1] ?? null);
}

/** True for a volatile nd region (device type `nd_volatile`): RAM, whatever its DIMMs and persistence_domain say. */
export function isVolatileRegion(regionDir: string): boolean {
  return regionDevtype(regionDir) === 'nd_volatile';
}

// The persistence domain of an nd region, as the kernel reports it. `device`
// is null for the region itself.
function regionDomain(p: NdPlace, device: string | null, access: Access): Persistence {
  const provider = providerOf(p.provider);
  const where = `${device === null ? p.region : `${device} in ${p.region}`} (provider ${p.provider ?? 'unknown'})`;
  const base = { provider, device, region: p.region };
  // A volatile region (an NFIT "volatile memory" SPA range; of_pmem's
  // volatile regions) is RAM even where the platform's capabilities give it a
  // persistence_domain, as ACPI's flush capabilities are set for every region
  // of the bus. Only the region's device type tells it from a pmem region.
  if (isVolatileRegion(p.regionDir)) {
    return { ...base, domain: 'none', assumed: false, reason: `${where}: a volatile region (nd_volatile): nothing survives power loss` };
  }
  if (provider === 'e820') {
    return { ...base, domain: 'none', assumed: false, reason: `${where}: memory given to pmem with memmap=, which is RAM: nothing survives power loss` };
  }
  if (provider === 'virtio-pmem') {
    // The guest's writes reach the host's file only through the device's
    // flush request, which the pmem driver sends for a filesystem's fsync,
    // never for a CPU cache-line write-back; devdax has no fsync at all.
    if (access === 'dax') {
      return { ...base, domain: 'none', assumed: false, reason: `${where}: virtio-pmem can only be made durable by a flush request to the host, which device DAX never sends ("unable to guarantee persistence of writes")` };
    }
    return { ...base, domain: 'host', assumed: false, reason: `${where}: virtio-pmem: durable once the host has flushed its file, which msync or fsync asks for` };
  }
  // A DIMM that is not armed (NVDIMM-N without a charged backup, say) will
  // not save what it holds when the power goes; the kernel makes the region
  // read-only, which an admin can undo, but the DIMM still saves nothing.
  const unsaved = unsavedDimms(regionDimms(p.regionDir));
  if (unsaved.length > 0) {
    const which = unsaved.map((u) => `${u.dimm.name} (${u.dimm.family}/flags: ${u.flag})`).join(', ');
    return { ...base, domain: 'none', assumed: false, reason: `${where}: ${which} will not save its contents on power loss: nothing survives it` };
  }
  const raw = readAttr(path.join(p.regionDir, 'persistence_domain'));
  if (raw === 'cpu_cache') return { ...base, domain: 'cpu-cache', assumed: false, reason: `${where}: persistence_domain cpu_cache: the platform flushes CPU caches on power loss (eADR)` };
  if (raw === 'memory_controller') return { ...base, domain: 'memory-controller', assumed: false, reason: `${where}: persistence_domain memory_controller: stores must be written back from the CPU caches (ADR)` };
  return {
    ...base,
    domain: 'memory-controller',
    assumed: true,
    reason: `${where}: the platform does not say where its persistence domain ends (${raw === null || raw === '' ? 'no persistence_domain' : `persistence_domain ${JSON.stringify(raw)}, a word daxkit does not know`}); daxkit assumes the memory controller, which needs the cache lines written back`,
  };
}

/**
 * The persistence of the device (or nd region) whose real directory in
 * /sys/devices is `real`, reached as `access`: an nd region's (NFIT, CXL,
 * virtio-pmem, e820...), dax_hmem's, a CXL RAM region's, or an assumption
 * when the device is in none of them. `device` is null for a region.
 */
export function sysfsPersistence(real: string, device: string | null, access: Access): Persistence {
  const nd = ndPlace(real);
  if (nd !== null) return regionDomain(nd, device, access);
  const name = device ?? path.basename(real);
  if (/\/hmem\.\d+\//.test(real)) {
    return { domain: 'none', provider: 'hmem', assumed: false, device: name, region: null, reason: `${name}: soft-reserved ("specific purpose") memory exposed by dax_hmem, which is RAM: nothing survives power loss` };
  }
  if (/\/dax_region\d+\//.test(real) && real.includes('/ACPI0017:')) {
    return { domain: 'none', provider: 'cxl', assumed: false, device: name, region: null, reason: `${name}: a CXL RAM region (dax_region): volatile memory, nothing survives power loss` };
  }
  // Persistent memory reaches device DAX only through an nd region (NFIT,
  // CXL pmem, virtio-pmem, e820, of_pmem); every other dax provider (hmem,
  // CXL RAM regions) hands out RAM.
  if (access === 'dax') {
    return { domain: 'none', provider: 'unknown', assumed: true, device: name, region: null, reason: `${name}: a dax device in no nd region (${real}); persistent memory reaches device DAX only through an nd region, so daxkit takes it for RAM: nothing survives power loss` };
  }
  return { domain: 'memory-controller', provider: 'unknown', assumed: true, device: name, region: null, reason: `${name}: in no nd region daxkit knows (${real}); daxkit assumes persistent memory behind the memory controller` };
}

/** The persistence of a device-DAX character device `major:minor`. */
export function devdaxPersistence(major: number, minor: number, sysRoot = DEFAULT_SYSFS): Persistence {
  const name = `dax${major}:${minor}`;
  const real = realpathOrNull(path.join(sysRoot, 'dev', 'char', `${major}:${minor}`));
  if (real === null) return { domain: 'memory-controller', provider: 'unknown', assumed: true, device: null, region: null, reason: `${name}: not in sysfs; daxkit assumes persistent memory behind the memory controller` };
  return sysfsPersistence(real, path.basename(real), 'dax');
}

// Filesystems that keep their files in RAM: nothing survives power loss.
const RAM_FILESYSTEMS = ['tmpfs', 'ramfs', 'hugetlbfs', 'devtmpfs'];

// How deep a chain of loop devices and overlay layers is followed.
const MAX_DEPTH = 8;

/**
 * The persistence of a file: its filesystem's block device `major:minor`
 * (0 for filesystems without one), type and per-superblock options (an
 * overlay's `upperdir=`).
 */
export function filePersistence(devMajor: number, devMinor: number, fstype: string | null, sysRoot = DEFAULT_SYSFS, superOptions: readonly string[] = [], depth = 0): Persistence {
  if (fstype !== null && RAM_FILESYSTEMS.includes(fstype)) {
    return { domain: 'none', provider: 'tmpfs', assumed: false, device: null, region: null, reason: `a file on ${fstype}, which is RAM: nothing survives power loss` };
  }
  if (fstype === 'overlay') return overlayPersistence(superOptions, sysRoot, depth);
  const real = devMajor === 0 ? null : realpathOrNull(path.join(sysRoot, 'dev', 'block', `${devMajor}:${devMinor}`));
  if (real === null) {
    return { domain: 'storage', provider: 'filesystem', assumed: true, device: null, region: null, reason: `a file on ${fstype ?? 'a filesystem'} without a block device of its own: durable once msync or fsync has returned, as far as the filesystem keeps that promise` };
  }
  const main = blockPersistence(real, sysRoot, depth);
  // XFS keeps its log, and realtime files' data, on devices of their own
  // (logdev=, rtdev=): MAP_SYNC's metadata and those files are only as
  // durable as those devices.
  const others = superOptions
    .filter((o) => o.startsWith('logdev=') || o.startsWith('rtdev='))
    .map((o) => {
      const [key, value] = [o.slice(0, o.indexOf('=')), unescapeOption(o.slice(o.indexOf('=') + 1))];
      return { key, value, p: devicePathPersistence(Buffer.from(value, 'latin1'), sysRoot, depth) };
    });
  if (others.length === 0) return main;
  const parts = [main, ...others.map((x) => x.p)];
  const worst = WEAKEST.map((d) => parts.find((q) => q.domain === d)).find((q) => q !== undefined) as Persistence;
  if (worst === main) return { ...main, assumed: parts.some((q) => q.assumed) };
  const which = others.find((x) => x.p === worst)!;
  return { ...worst, device: main.device, region: main.region, provider: main.provider, reason: `${main.device} with its ${which.key.replace('dev', '')} on ${pathText(Buffer.from(which.value, 'latin1'))}, as durable as the least durable of them: ${worst.reason}` };
}

// The persistence of the block device whose node is `node` (an XFS logdev=
// or rtdev=); an unknown one where it is not a block device daxkit can place.
function devicePathPersistence(node: Buffer, sysRoot: string, depth: number): Persistence {
  const unknown: Persistence = { domain: 'storage', provider: 'unknown', assumed: true, device: null, region: null, reason: `${JSON.stringify(pathText(node))} cannot be placed; daxkit assumes storage` };
  let st: NativeStatx;
  try {
    st = binding.statx(node, true);
  } catch {
    return unknown;
  }
  if ((st.mode & 0o170000) !== 0o060000) return unknown;
  const real = realpathOrNull(path.join(sysRoot, 'dev', 'block', `${st.rdevMajor}:${st.rdevMinor}`));
  return real === null ? unknown : blockPersistence(real, sysRoot, depth + 1);
}

// Octal escapes (\054 for a comma) of a mount option's value, as the kernel writes them.
function unescapeOption(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The persistence of the file at `file` (a path in this mount namespace),
 * from its filesystem; null where it cannot be reached.
 */
function pathPersistence(file: Buffer, sysRoot: string, depth: number): Persistence | null {
  let st: NativeStatx;
  try {
    st = binding.statx(file, true);
  } catch {
    return null;
  }
  return statPersistence(st, readMounts(), sysRoot, depth + 1);
}

/**
 * The persistence of what `st` (statx of a file or directory) describes: its
 * filesystem, found by the mount the file is reached through where statx or
 * fdinfo gives its id (an overlay reports a layer's pseudo device in st_dev
 * for non-directories, in no mount), else by st_dev.
 */
export function statPersistence(st: NativeStatx, mounts: readonly MountEntry[], sysRoot = DEFAULT_SYSFS, depth = 0): Persistence {
  const mount = (st.mntId !== null ? mounts.find((e) => e.id === st.mntId) : undefined) ?? mounts.find((e) => e.major === st.devMajor && e.minor === st.devMinor);
  if (mount !== undefined && (mount.major !== st.devMajor || mount.minor !== st.devMinor)) {
    return filePersistence(mount.major, mount.minor, mount.fstype, sysRoot, mount.superOptions, depth);
  }
  return filePersistence(st.devMajor, st.devMinor, mount?.fstype ?? null, sysRoot, mount?.superOptions ?? [], depth);
}

// A file of an overlay that is written (and so can be mapped shared for
// writing) has been copied up: the upper layer's filesystem keeps it.
function overlayPersistence(superOptions: readonly string[], sysRoot: string, depth: number): Persistence {
  const upper = superOptions.find((o) => o.startsWith('upperdir='));
  const unknown = (why: string): Persistence => ({ domain: 'storage', provider: 'filesystem', assumed: true, device: null, region: null, reason: `a file on overlay: ${why}; daxkit assumes storage, durable once msync or fsync has returned` });
  if (upper === undefined) return unknown('no upper layer (a read-only overlay)');
  // Mount options are read one char a byte (latin1): the bytes of the path.
  const dir = Buffer.from(unescapeOption(upper.slice('upperdir='.length)), 'latin1');
  const shown = JSON.stringify(pathText(dir));
  const p = depth < MAX_DEPTH ? pathPersistence(dir, sysRoot, depth) : null;
  if (p === null) return unknown(`its upper layer ${shown} cannot be reached`);
  return { ...p, reason: `a file on overlay, kept by its upper layer ${shown}: ${p.reason}` };
}

// The order in which the devices under a stacked device (device-mapper, md)
// decide for it: the first domain in this list that any of them has.
const WEAKEST: PersistenceDomain[] = ['none', 'storage', 'host', 'memory-controller', 'cpu-cache'];

function blockPersistence(real: string, sysRoot: string, depth: number): Persistence {
  const device = path.basename(real);
  const nd = ndPlace(real);
  if (nd !== null) return regionDomain(nd, device, 'block');
  // A partition is as durable as the disk it is part of (brd's ram0p1 too).
  if (readAttr(path.join(real, 'partition')) !== null) {
    const whole = blockPersistence(path.dirname(real), sysRoot, depth);
    return { ...whole, device, reason: `${device}, a partition of ${whole.reason}` };
  }
  if (/^(ram|zram)\d+$/.test(device)) {
    return { domain: 'none', provider: 'ramdisk', assumed: false, device, region: null, reason: `${device}: a RAM disk: nothing survives power loss` };
  }
  if (/^nullb\d+$/.test(device)) {
    return { domain: 'none', provider: 'ramdisk', assumed: false, device, region: null, reason: `${device}: null_blk, which discards its writes or keeps them in RAM: nothing survives power loss` };
  }
  // A loop device keeps its blocks in its backing file: as durable as that
  // file's filesystem, and no more than storage (its flush is the file's fsync).
  // The kernel prints the path as it is (any bytes) and a newline.
  const backing = readSysfsBytes(path.join(real, 'loop', 'backing_file'));
  if (backing !== null) return loopPersistence(device, backing.subarray(0, backing.at(-1) === 0x0a ? -1 : undefined), sysRoot, depth);
  // A device-mapper or md device over pmem (dm-linear passes DAX through) is
  // as durable as the least durable device under it.
  const under = depth < MAX_DEPTH ? stackedUnder(real, sysRoot) : [];
  if (under.length > 0) {
    const parts = under.map((u) => blockPersistence(u, sysRoot, depth + 1));
    const worst = WEAKEST.map((d) => parts.find((q) => q.domain === d)).find((q) => q !== undefined) as Persistence;
    return {
      ...worst,
      device,
      assumed: parts.some((q) => q.assumed),
      reason: `${device} over ${parts.map((q) => q.device).join(', ')}, as durable as the least durable of them: ${worst.reason}`,
    };
  }
  return { domain: 'storage', provider: 'filesystem', assumed: false, device, region: null, reason: `${device}: storage behind the page cache: durable once msync or fsync has returned` };
}

function loopPersistence(device: string, backing: Buffer, sysRoot: string, depth: number): Persistence {
  const shown = JSON.stringify(pathText(backing));
  // A deleted backing file: the path now names some other file, or none;
  // the directory it was in tells its filesystem (unless it was moved first).
  const SUFFIX = ' (deleted)';
  const deleted = backing.toString('latin1').endsWith(SUFFIX);
  const file = deleted ? Buffer.from(path.dirname(backing.subarray(0, -SUFFIX.length).toString('latin1')), 'latin1') : backing;
  const p = depth >= MAX_DEPTH ? null : pathPersistence(file, sysRoot, depth);
  if (p !== null && deleted) {
    return { ...p, domain: p.domain === 'none' ? 'none' : 'storage', assumed: true, device, reason: `${device}: a loop device over ${shown}, judged by the directory it was in: ${p.reason}` };
  }
  if (p === null) {
    return { domain: 'storage', provider: 'filesystem', assumed: true, device, region: null, reason: `${device}: a loop device over ${shown}, which cannot be reached; daxkit assumes storage, durable once msync or fsync has returned` };
  }
  const domain = p.domain === 'none' ? 'none' : 'storage';
  return { ...p, domain, device, reason: `${device}: a loop device over ${shown}: ${p.reason}` };
}
