import { listDevices, type PmemDevice } from '../pmem/devices';
import type { Persistence } from '../pmem/persistence';
import { parse, type Command } from './args';
import { json, out } from './output';
import { table, yesNo } from './table';

/** Bytes as an admin reads them: exact binary units where they divide, else two decimals. */
export function humanBytes(n: number | null): string {
  if (n === null) return '-';
  const units: Array<[number, string]> = [
    [2 ** 40, 'TiB'],
    [2 ** 30, 'GiB'],
    [2 ** 20, 'MiB'],
    [2 ** 10, 'KiB'],
  ];
  for (const [size, unit] of units) {
    if (n >= size) return n % size === 0 ? `${n / size} ${unit}` : `${(n / size).toFixed(2)} ${unit}`;
  }
  return `${n} B`;
}

/** The daxkit persistence domain of a device, as the table shows it: `'-'` where there is none (a CXL memory device). */
export function domainText(p: Persistence | null): string {
  if (p === null) return '-';
  return p.assumed ? `${p.domain} (assumed)` : p.domain;
}

/** The JSON form: ndctl's field names where they overlap. */
export function deviceJson(d: PmemDevice): Record<string, unknown> {
  return {
    dev: d.name,
    type: d.type,
    path: d.path,
    size: d.size,
    mode: d.mode,
    map: d.map,
    align: d.align,
    region: d.region,
    namespace: d.namespace,
    persistence_domain: d.persistenceDomain,
    numa_node: d.numaNode,
    target_node: d.targetNode,
    badblock_count: d.badblockCount,
    can_clear_errors: d.canClearErrors,
    bus: d.bus,
    provider: d.provider,
    read_only: d.readOnly,
    memdevs: d.memdevs,
    cxl_regions: d.cxlRegions,
    serial: d.serial,
    pmem_size: d.pmemSize,
    ram_size: d.ramSize,
    firmware_version: d.firmwareVersion,
    persistence: d.persistence === null ? null : { domain: d.persistence.domain, provider: d.persistence.provider, assumed: d.persistence.assumed, reason: d.persistence.reason },
  };
}

export const devices: Command = {
  summary: 'list persistent memory: nd regions, namespaces, pmem block devices, dax devices',
  help: `Usage: daxkit devices [--json] [--sysfs-root DIR]

Every persistent memory device the kernel shows, read from sysfs alone (no
ndctl, no root; only the badblock counts of dax devices need root, because
their physical ranges are root-only): each nd region, then its namespaces and
their pmem block devices, partitions and dax devices; dax devices of no nd
region (dax_hmem) last.

Columns: NAME, TYPE (region, namespace, block, partition, dax, cxl-memdev,
cxl-region), MODE (fsdax,
devdax, raw, sector, system-ram), SIZE, ALIGN, REGION, DOMAIN (the region's
persistence_domain: cpu_cache, memory_controller, or unknown), PERSISTENCE
(where daxkit finds stores survive power loss, DaxMapping.persistence.domain:
cpu-cache, memory-controller, host (virtio-pmem: after msync), storage, or
none: volatile memory; "(assumed)" where the platform does not say and daxkit
takes the conservative reading), NUMA node,
BADBLOCKS (bad 512-byte sectors, as ndctl counts them) and CLEAR (whether the
platform can clear media errors there: ARS and Clear Uncorrectable Error in
ndbusN/commands). "-": the kernel does not show it.

Options:
  --json             one JSON array, an object per device, with ndctl's names
                     where they overlap: dev, type, path, size (bytes), mode,
                     map (dev|mem), align (bytes), region, namespace,
                     persistence_domain, numa_node, target_node,
                     badblock_count (512-byte sectors), can_clear_errors;
                     null where the kernel does not show an attribute; and
                     persistence {domain, provider, assumed, reason}
                     (null for a CXL memory device)
  --sysfs-root DIR   read sysfs from DIR instead of /sys (a copy, for tests)

Exit status: 0 (also when there is no persistent memory: an empty list),
1 when sysfs could not be read, 2 on a usage error.`,
  run(argv, raw) {
    const { values, paths } = parse(argv, raw, { json: { type: 'boolean' }, 'sysfs-root': { type: 'string' } }, 'none');
    const root = paths['sysfs-root'];
    const list = listDevices(root === undefined ? {} : { sysfsRoot: root.text });
    if (values.json) {
      json(list.map(deviceJson));
      return 0;
    }
    if (list.length === 0) {
      out('no persistent memory: no nd regions or dax devices in sysfs');
      return 0;
    }
    const num = (n: number | null): string => (n === null ? '-' : String(n));
    out(
      table(
        ['NAME', 'TYPE', 'MODE', 'SIZE', 'ALIGN', 'REGION', 'DOMAIN', 'PERSISTENCE', 'NUMA', 'BADBLOCKS', 'CLEAR'],
        list.map((d) => [
          d.path ?? d.name,
          d.type,
          d.mode ?? '-',
          humanBytes(d.size),
          humanBytes(d.align),
          d.region ?? '-',
          d.persistenceDomain ?? '-',
          domainText(d.persistence),
          num(d.numaNode),
          num(d.badblockCount),
          yesNo(d.canClearErrors),
        ]),
      ),
    );
    return 0;
  },
};
