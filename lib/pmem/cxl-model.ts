// The CXL memory devices and regions, read from sysfs (/sys/bus/cxl) alone.
//
// Layout (Linux 6.1, QEMU 7.2's cxl-type3 device, as the VM shows it):
//   bus/cxl/devices/memN        -> .../0000:0d:00.0/memN   {serial, firmware_version, numa_node, pmem/size, ram/size}
//   bus/cxl/devices/endpointK   -> .../root0/portP/endpointK, uport -> the memdev
//   bus/cxl/devices/decoderK.J  (an endpoint decoder: its region, mode, dpa_size)
//   bus/cxl/devices/regionR     -> .../root0/decoder0.0/regionR {size, resource, interleave_ways, targetI = decoderK.J}
//     regionR/pmem_regionR       a persistent region: libnvdimm's nd regionR on the CXL bus
//     regionR/dax_regionR/daxR.M a RAM region offered as device DAX
// A CXL nd region takes the id of its CXL region ("CXL pre-assigns memregion
// ids before creating nvdimm regions", drivers/nvdimm/region_devs.c), so the
// two are both called regionR; the nd region's mappingI is the CXL region's
// targetI.
import * as path from 'node:path';
import { DEFAULT_SYSFS, readAttr, readNode, readSysfsDir, readUint, realpathOrNull } from './sysfs';

export interface CxlMemdev {
  /** `mem0` */
  name: string;
  dir: string;
  /** The device serial number as the kernel prints it (`0x1234abcd`); a u64, so text. */
  serial: string | null;
  /** Bytes of persistent and volatile capacity (`pmem/size`, `ram/size`). */
  pmemSize: number | null;
  ramSize: number | null;
  firmwareVersion: string | null;
  numaNode: number | null;
}

export interface CxlRegion {
  /** `region7`, on the CXL bus. */
  name: string;
  dir: string;
  /** `'pmem'`, `'ram'`, or null when the region is not set up yet. */
  type: 'pmem' | 'ram' | null;
  size: number | null;
  /** The memory devices it interleaves, by position (target0 first). */
  memdevs: string[];
  /** The nd region on the CXL nd bus it backs (persistent regions), when there is one. */
  ndRegion: string | null;
  /** The dax devices of a RAM region. */
  dax: string[];
}

export interface CxlModel {
  memdevs: CxlMemdev[];
  regions: CxlRegion[];
}

function numeric(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function devices(root: string): Array<{ name: string; dir: string }> {
  const dir = path.join(root, 'bus', 'cxl', 'devices');
  return readSysfsDir(dir)
    .sort(numeric)
    .map((name) => ({ name, dir: realpathOrNull(path.join(dir, name)) }))
    .filter((e): e is { name: string; dir: string } => e.dir !== null);
}

// The memory device behind an endpoint decoder: the decoder's port's uport.
function memdevOfDecoder(root: string, decoder: string): string | null {
  const dir = realpathOrNull(path.join(root, 'bus', 'cxl', 'devices', decoder));
  if (dir === null) return null;
  const uport = realpathOrNull(path.join(path.dirname(dir), 'uport'));
  return uport === null || !/^mem\d+$/.test(path.basename(uport)) ? null : path.basename(uport);
}

/** Reads the CXL memory devices and regions under `sysfsRoot` (none where there is no CXL bus). */
export function loadCxl(sysfsRoot = DEFAULT_SYSFS): CxlModel {
  const all = devices(sysfsRoot);
  const memdevs: CxlMemdev[] = all
    .filter((e) => /^mem\d+$/.test(e.name))
    .map((e) => ({
      name: e.name,
      dir: e.dir,
      serial: readAttr(path.join(e.dir, 'serial')),
      pmemSize: readUint(path.join(e.dir, 'pmem', 'size')),
      ramSize: readUint(path.join(e.dir, 'ram', 'size')),
      firmwareVersion: readAttr(path.join(e.dir, 'firmware_version')),
      numaNode: readNode(path.join(e.dir, 'numa_node')),
    }));
  const regions: CxlRegion[] = [];
  for (const e of all.filter((x) => /^region\d+$/.test(x.name))) {
    const children = readSysfsDir(e.dir);
    const mode = readAttr(path.join(e.dir, 'mode'));
    const type = children.includes(`pmem_${e.name}`) || mode === 'pmem' ? 'pmem' : children.includes(`dax_${e.name}`) || mode === 'ram' ? 'ram' : null;
    const targets = children.filter((n) => /^target\d+$/.test(n)).sort(numeric);
    const ways = readUint(path.join(e.dir, 'interleave_ways')) ?? targets.length;
    const md: string[] = [];
    for (const t of targets.slice(0, ways)) {
      const decoder = readAttr(path.join(e.dir, t));
      const m = decoder === null || decoder === '' ? null : memdevOfDecoder(sysfsRoot, decoder);
      if (m !== null) md.push(m);
    }
    const nd = realpathOrNull(path.join(sysfsRoot, 'bus', 'nd', 'devices', e.name));
    const ndBus = nd === null ? null : readAttr(path.join(path.dirname(nd), 'provider'));
    const daxRegion = path.join(e.dir, `dax_${e.name}`);
    regions.push({
      name: e.name,
      dir: e.dir,
      type,
      size: readUint(path.join(e.dir, 'size')),
      memdevs: md,
      ndRegion: type === 'pmem' && ndBus === 'CXL' ? e.name : null,
      dax: readSysfsDir(daxRegion)
        .filter((n) => /^dax\d+\.\d+$/.test(n))
        .sort(numeric),
    });
  }
  return { memdevs, regions };
}
