// Where a device sits in /sys/devices: the nd bus and region above it, and
// the devices under a stacked one (device-mapper, md), from its real path.
import * as path from 'node:path';
import { readAttr, readSysfsDir, realpathOrNull } from './sysfs';

export interface NdPlace {
  /** `ndbus0` and its directory. */
  bus: string;
  busDir: string;
  /** `region0` and its directory. */
  region: string;
  regionDir: string;
  /** The bus's `provider` (`ACPI.NFIT`, `CXL`, `virtio-pmem`, `e820`...). */
  provider: string | null;
}

/** The nd bus and region above the device (or region) whose real sysfs directory is `real`; null outside nd. */
export function ndPlace(real: string): NdPlace | null {
  const parts = real.split('/');
  const r = parts.findIndex((p) => /^region\d+$/.test(p));
  const b = parts.findIndex((p) => /^ndbus\d+$/.test(p));
  if (r < 0 || b < 0 || b > r) return null;
  const busDir = parts.slice(0, b + 1).join('/');
  return { bus: parts[b], busDir, region: parts[r], regionDir: parts.slice(0, r + 1).join('/'), provider: readAttr(path.join(busDir, 'provider')) };
}

/**
 * The real directories of the block devices under a stacked block device
 * (`slaves`: device-mapper, md), or [] for a device that stacks on nothing.
 */
export function stackedUnder(real: string, sysRoot: string): string[] {
  return readSysfsDir(path.join(real, 'slaves'))
    .sort()
    .map((n) => realpathOrNull(path.join(sysRoot, 'class', 'block', n)))
    .filter((x): x is string => x !== null);
}

/** The nd places of a block device, through any stacking (at most `depth` levels). */
export function ndPlacesOf(real: string, sysRoot: string, depth = 8): NdPlace[] {
  const p = ndPlace(real);
  if (p !== null) return [p];
  if (depth <= 0) return [];
  const out: NdPlace[] = [];
  for (const u of stackedUnder(real, sysRoot)) for (const q of ndPlacesOf(u, sysRoot, depth - 1)) if (!out.some((x) => x.regionDir === q.regionDir)) out.push(q);
  return out;
}
