// The DIMMs (nd "nmem" devices) behind an nd region, as sysfs shows them:
// the region's mappingN attributes name them in interleave order
// ("nmem0,<dpa offset>,<length>,<position>"), and each nmemN under the
// region's bus carries its provider's attribute group: nfit/ (ACPI NFIT),
// papr/ (IBM PAPR SCM) or cxl/ (CXL, Linux 6.15 and later), with the DIMM's
// flags, id and unsafe-shutdown ("dirty shutdown") count where the platform
// reports them.
import * as path from 'node:path';
import { readAttr, readSysfsDir } from './sysfs';

/** Which provider's attributes a DIMM has. */
export type DimmFamily = 'nfit' | 'papr' | 'cxl';

export interface NdDimm {
  /** `nmem0` */
  name: string;
  /** Its directory under the region's nd bus. */
  dir: string;
  /** The attribute group it has (null: none daxkit knows, e.g. CXL before Linux 6.15). */
  family: DimmFamily | null;
  /** The words of `<family>/flags` (`not_armed`, `save_fail`, `flush_fail`, ...). */
  flags: string[];
  /** Its position in the region's interleave set (the mapping's last field); null outside a region. */
  position: number | null;
}

/** Flags that mean the DIMM will not save what it holds when the power goes. */
const WILL_NOT_SAVE = ['not_armed'];

function numeric(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The DIMMs of the region at `regionDir` (a real path in /sys/devices), in mapping order. */
export function regionDimms(regionDir: string): NdDimm[] {
  const busDir = path.dirname(regionDir);
  const maps = readSysfsDir(regionDir)
    .filter((n) => /^mapping\d+$/.test(n))
    .sort(numeric);
  const out: NdDimm[] = [];
  for (const m of maps) {
    const fields = readAttr(path.join(regionDir, m))?.split(',') ?? [];
    const name = fields[0] ?? '';
    if (!/^nmem\d+$/.test(name) || out.some((d) => d.name === name)) continue;
    const position = /^\d+$/.test(fields[3] ?? '') ? Number(fields[3]) : null;
    out.push({ ...dimm(path.join(busDir, name)), position });
  }
  return out;
}

/** The facts of the DIMM at `dir`. */
export function dimm(dir: string): NdDimm {
  const family = (['nfit', 'papr', 'cxl'] as const).find((f) => readSysfsDir(path.join(dir, f)).length > 0) ?? null;
  const raw = family === null ? null : readAttr(path.join(dir, family, 'flags'));
  return { name: path.basename(dir), dir, family, flags: raw === null ? [] : raw.split(/\s+/).filter((w) => w !== ''), position: null };
}

/** The DIMMs of a region that will not save their contents on power loss, with the flag that says so. */
export function unsavedDimms(dimms: readonly NdDimm[]): Array<{ dimm: NdDimm; flag: string }> {
  const out: Array<{ dimm: NdDimm; flag: string }> = [];
  for (const d of dimms) {
    const flag = d.flags.find((f) => WILL_NOT_SAVE.includes(f));
    if (flag !== undefined) out.push({ dimm: d, flag });
  }
  return out;
}
