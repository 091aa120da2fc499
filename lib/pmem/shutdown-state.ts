// shutdownState(): the unsafe-shutdown ("dirty shutdown") counts of the
// DIMMs or CXL memory devices behind a target, and their ids, summed and
// joined as libpmem2 does (pmem2_source_device_usc / pmem2_source_device_id
// in PMDK's src/libpmem2/usc_ndctl.c: every DIMM of the target's nd region,
// in mapping order; no sum at all when one of them has no count).
//
// Where the kernel keeps them (all read-only, world-readable):
//   nmemN/nfit/dirty_shutdown, nmemN/nfit/id     ACPI NFIT, when the DIMM's
//       health DSM reports a count (QEMU's does not: the file is absent)
//   nmemN/papr/dirty_shutdown                    IBM PAPR SCM (no id)
//   nmemN/cxl/dirty_shutdown, nmemN/cxl/id       CXL, Linux 6.15 and later, when
//       the device arms dirty-shutdown tracking (the id is the serial number);
//       before that the id comes from the memory device's serial (memN/serial)
import * as path from 'node:path';
import { binding, type NativeStatx } from '../binding';
import { rejectUnknownOptions, validateObject, validatePathArg, type PathArg } from '../validate';
import { invalidArgValue } from '../errors';
import { loadCxl, type CxlModel } from './cxl-model';
import { regionDimms, type DimmFamily, type NdDimm } from './dimms';
import { readAttr, realpathOrNull, SysfsFormatError } from './sysfs';
import { ndPlace, ndPlacesOf, stackedUnder, type NdPlace } from './sysfs-place';
import { isVolatileRegion } from './persistence';
import { sysfsRootOption } from './sysfs';

export interface ShutdownStateOptions {
  /** Where sysfs is mounted. Default `/sys`. */
  sysfsRoot?: string;
}

/** One DIMM (or CXL memory device) behind the target. */
export interface ShutdownDevice {
  /** The nd DIMM: `nmem0`. */
  dimm: string;
  /** Whose attributes it has: `'nfit'`, `'papr'`, `'cxl'`, or null (none daxkit knows). */
  family: DimmFamily | null;
  /** The CXL memory device behind a CXL DIMM (`mem0`); null otherwise. */
  memdev: string | null;
  /**
   * Its unique id: NFIT `nfit/id` (`8680-56341200`); CXL the serial number in decimal (`cxl/id`,
   * or the memory device's `serial`); null where the platform gives none (PAPR).
   */
  id: string | null;
  /** Its unsafe-shutdown count, or null when it has none to read (`reason` says why). */
  count: number | null;
  /** The attribute the count is read from (null: there is no such attribute for this kind of DIMM). */
  file: string | null;
  /** Why `count` is null; null when it is known. */
  reason: string | null;
  /** Its flags (`not_armed`, `save_fail`, `flush_fail`, `smart_notify`, ...). */
  flags: string[];
}

/** What shutdownState() returns. */
export interface ShutdownState {
  /** The target as given (text). */
  target: string;
  /** The nd regions behind it (one, or several under device-mapper); [] when it is on none. */
  regions: string[];
  /**
   * The sum of the devices' counts, as libpmem2's `pmem2_source_device_usc()`; null when any device
   * has no count, or there is none (`reason`). It only grows: a different value at the next start
   * means an unsafe shutdown happened in between.
   */
  count: number | null;
  /**
   * The devices' ids joined in mapping order, as libpmem2's `pmem2_source_device_id()`; null when
   * any has none. A different id means the data now sits on other DIMMs, whose count cannot be compared.
   */
  id: string | null;
  /** Why `count` or `id` is null; null when both are known. */
  reason: string | null;
  devices: ShutdownDevice[];
}

const DEVICE_NAME = /^(region\d+|namespace\d+\.\d+|pmem\d+(p\d+)?s?|dax\d+\.\d+)$/;

// The real sysfs directory of a target: a device name, or a path (the block
// device a file's filesystem is on; a device node's own device). null when
// the target is on no device sysfs knows (tmpfs, a network filesystem).
function placeOf(text: string, bytes: Buffer, root: string): { real: string | null; what: string } {
  if (DEVICE_NAME.test(text)) {
    const bus = text.startsWith('dax') ? 'dax' : text.startsWith('pmem') ? null : 'nd';
    const link = bus === null ? path.join(root, 'class', 'block', text) : path.join(root, 'bus', bus, 'devices', text);
    const real = realpathOrNull(link);
    // The same text is a relative path too: a file of that name here would
    // be answered for with another device's DIMMs. Only the device's own
    // node (in /dev, say) is the same target.
    const here = statOrNull(bytes, text);
    if (real === null && here !== null) return placeOfStat(binding.statx(bytes, true, text), root);
    if (real === null) throw invalidArgValue('target', text, `names no device in ${path.dirname(link)}`);
    if (here !== null && placeOfStat(here, root).real !== real) {
      throw invalidArgValue('target', text, `names both the device ${text} and a file in the current directory: write ./${text} for the file, or /dev/${text} for the device`);
    }
    return { real, what: text };
  }
  return placeOfStat(binding.statx(bytes, true, text), root);
}

function statOrNull(bytes: Buffer, text: string): NativeStatx | null {
  try {
    return binding.statx(bytes, false, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function placeOfStat(st: NativeStatx, root: string): { real: string | null; what: string } {
  const fmt = st.mode & 0o170000;
  if (fmt === 0o060000 || fmt === 0o020000) {
    const real = realpathOrNull(path.join(root, 'dev', fmt === 0o060000 ? 'block' : 'char', `${st.rdevMajor}:${st.rdevMinor}`));
    return { real, what: real === null ? `device ${st.rdevMajor}:${st.rdevMinor}` : path.basename(real) };
  }
  if (st.devMajor === 0) return { real: null, what: 'a filesystem with no block device (tmpfs, a network or virtual filesystem)' };
  const real = realpathOrNull(path.join(root, 'dev', 'block', `${st.devMajor}:${st.devMinor}`));
  return { real, what: real === null ? `block device ${st.devMajor}:${st.devMinor}` : path.basename(real) };
}

// A count as the kernel prints it: NFIT "%d" (an int), PAPR and CXL "%llu".
function readCount(file: string): { count: number | null; reason: string | null } {
  let raw: string | null;
  try {
    raw = readAttr(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined || code === 'ERR_DAX_SYSFS_FORMAT') throw e;
    return { count: null, reason: `${file} cannot be read (${code})` };
  }
  if (raw === null) return { count: null, reason: `there is no ${file}: the platform does not report an unsafe-shutdown count for this device` };
  if (/^-\d+$/.test(raw)) return { count: null, reason: `${file} reads ${raw}: the platform could not read the count` };
  if (!/^\d+$/.test(raw)) throw new SysfsFormatError(file, 1, `expected an unsigned integer, found ${JSON.stringify(raw)}`);
  if (BigInt(raw) > BigInt(Number.MAX_SAFE_INTEGER)) throw new SysfsFormatError(file, 1, `${raw} is beyond 2^53 - 1`);
  return { count: Number(raw), reason: null };
}

// "0xda0c0001" (memN/serial) as cxl/id prints it: decimal.
function decimalSerial(hex: string | null): string | null {
  return hex !== null && /^(0x[0-9a-fA-F]+|\d+)$/.test(hex) ? BigInt(hex).toString(10) : null;
}

function device(d: NdDimm, place: NdPlace, cxl: () => CxlModel): ShutdownDevice {
  const out = (memdev: string | null, id: string | null, file: string | null, c: { count: number | null; reason: string | null }): ShutdownDevice => ({
    dimm: d.name,
    family: d.family,
    memdev,
    id,
    count: c.count,
    file,
    reason: c.reason,
    flags: d.flags,
  });
  if (d.family === 'nfit' || d.family === 'papr' || d.family === 'cxl') {
    const file = path.join(d.dir, d.family, 'dirty_shutdown');
    const id = d.family === 'papr' ? null : readAttr(path.join(d.dir, d.family, 'id'));
    return out(d.family === 'cxl' ? cxlMemdev(d, place, cxl) : null, id, file, readCount(file));
  }
  if (place.provider === 'CXL') {
    // Before Linux 6.15 a CXL DIMM has no cxl/ attributes: the memory device
    // at its position in the CXL region of the same id gives the serial.
    const memdev = cxlMemdev(d, place, cxl);
    const serial = memdev === null ? null : (cxl().memdevs.find((m) => m.name === memdev)?.serial ?? null);
    return out(memdev, decimalSerial(serial), null, {
      count: null,
      reason: `${d.name} has no cxl/dirty_shutdown: Linux reports a CXL device's dirty-shutdown count from 6.15 on, and only when the device tracks it`,
    });
  }
  return out(null, null, null, { count: null, reason: `${d.name} has no attributes daxkit knows (nfit/, papr/, cxl/): no unsafe-shutdown count` });
}

function cxlMemdev(d: NdDimm, place: NdPlace, cxl: () => CxlModel): string | null {
  const region = cxl().regions.find((r) => r.ndRegion === place.region);
  return region === undefined || d.position === null ? null : (region.memdevs[d.position] ?? null);
}

/**
 * The unsafe-shutdown counts of the DIMMs (or CXL memory devices) behind a
 * target, and their ids: a file or directory (its filesystem's device), a
 * pmem block device or devdax device (path or name), a namespace or a region.
 * `count` is their sum and `id` their ids joined, as libpmem2 computes them,
 * or null with the `reason` when a device has no count (QEMU's NVDIMMs,
 * CXL before Linux 6.15) or the target is on no nd region (volatile memory,
 * a disk). Reads sysfs only; no root needed.
 *
 * To detect a dirty shutdown: at open, compare the `count` and `id` stored in
 * your data with the current ones, then store the current ones and a "dirty"
 * mark, durably; clear the mark at a clean close. A marked pool whose count
 * (or id) changed went through an unsafe shutdown while open (see the README).
 * @throws TypeError `ERR_INVALID_ARG_TYPE`/`ERR_INVALID_ARG_VALUE` for a bad target or options;
 *   DaxSystemError from statx (`ENOENT`...); SysfsFormatError for a malformed count.
 */
export function shutdownState(target: PathArg, options?: ShutdownStateOptions): ShutdownState {
  const { bytes, text } = validatePathArg('target', target);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['sysfsRoot']);
  const root = sysfsRootOption(o);
  const { real, what } = placeOf(text, bytes, root);
  const places = real === null ? [] : ndPlacesOf(real, root);
  if (places.length === 0) {
    const where = what === text ? `'${text}' is in no nd region` : `'${text}' is on ${what}, which is in no nd region`;
    return { target: text, regions: [], count: null, id: null, reason: `${where}: there are no DIMMs to count unsafe shutdowns of`, devices: [] };
  }
  // A count speaks for the whole target or not at all: a device-mapper
  // device partly over a RAM disk or a disk, or a volatile region, loses data
  // in a power cut that no DIMM's count records.
  const regions = places.map((p) => p.region);
  const outside = real === null ? [] : leavesOutsideNd(real, root, 8);
  const volatile = places.find((p) => isVolatileRegion(p.regionDir));
  if (outside.length > 0 || volatile !== undefined) {
    const why =
      volatile !== undefined
        ? `${volatile.region} is a volatile region (nd_volatile): its contents do not survive a power cut, whatever its DIMMs count`
        : `'${text}' is partly on ${outside.join(', ')}, which is in no nd region: no DIMM counts an unsafe shutdown of that part`;
    return { target: text, regions, count: null, id: null, reason: why, devices: [] };
  }
  let model: CxlModel | undefined;
  const cxl = (): CxlModel => (model ??= loadCxl(root));
  const devices: ShutdownDevice[] = [];
  for (const p of places) for (const d of regionDimms(p.regionDir)) if (!devices.some((x) => x.dimm === d.name)) devices.push(device(d, p, cxl));
  if (devices.length === 0) {
    return { target: text, regions, count: null, id: null, reason: `${regions.join(', ')} has no DIMMs (provider ${places[0].provider ?? 'unknown'}): there is nothing that counts unsafe shutdowns`, devices };
  }
  const missingCount = devices.find((d) => d.count === null);
  const missingId = devices.find((d) => d.id === null);
  let sum = 0n;
  for (const d of devices) sum += BigInt(d.count ?? 0);
  if (sum > BigInt(Number.MAX_SAFE_INTEGER)) throw new SysfsFormatError(devices[0].file ?? regions[0], 1, `the sum of the unsafe-shutdown counts, ${sum}, is beyond 2^53 - 1`);
  const reason = missingCount !== undefined ? missingCount.reason : missingId !== undefined ? `${missingId.dimm} has no id (${missingId.family ?? 'no'} attributes)` : null;
  return {
    target: text,
    regions,
    count: missingCount === undefined ? Number(sum) : null,
    id: missingId === undefined ? devices.map((d) => d.id).join('') : null,
    reason,
    devices,
  };
}

// The devices at the bottom of a stack (device-mapper, md) that are in no nd region.
function leavesOutsideNd(real: string, root: string, depth: number): string[] {
  if (ndPlace(real) !== null) return [];
  const under = depth > 0 ? stackedUnder(real, root) : [];
  if (under.length === 0) return [path.basename(real)];
  return under.flatMap((u) => leavesOutsideNd(u, root, depth - 1));
}
