// What a result means depends on where it was measured: the machine, the
// kernel, the filesystem and its mount options, the device's alignment and
// whether the mapping landed on a huge-page boundary. All of it goes into
// the report next to the numbers.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuInfo, open, statx } from '..';
import { binding } from '../binding';
import { daxMountMode } from '../dax/mount-mode';
import { findMount, readMounts } from '../fs/mounts';
import { charSubsystem, devdaxInfo, devNumbers } from '../pmem/device-nodes';
import { probeODirect, type TargetKind } from './backends';
import { fioVersion } from './fio';
import type { FsInfo, Role, RunContext, TargetReport } from './report';
import { MiB } from './units';

export const TCG_STATEMENT =
  'Measured inside the emulated-pmem VM: the CPU is emulated by QEMU (TCG) and the "pmem" is host memory, ' +
  'so these numbers show relative behaviour (page faults, mechanisms, ratios), never absolute pmem speed.';

export function daxkitVersion(): string {
  // dist/lib/bench -> the package root.
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

function readTrim(p: string): string | null {
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The bracketed choice of a sysfs "always [madvise] never" attribute. */
function selected(p: string): string | null {
  const s = readTrim(p);
  if (s === null) return null;
  return /\[([^\]]+)\]/.exec(s)?.[1] ?? s;
}

export function insideVm(): boolean {
  return process.env.PMEM_VM === '1';
}

export function runContext(): RunContext {
  const c = cpuInfo();
  const model = /^model name\s*:\s*(.*)$/m.exec(readTrim('/proc/cpuinfo') ?? '')?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const vm = insideVm();
  return {
    date: new Date().toISOString(),
    kernel: os.release(),
    kernel_version: os.version(),
    cpu: { model, count: os.cpus().length, flush: c.flush, clwb: c.clwb, clflushopt: c.clflushopt, clflush: c.clflush, line_size: c.lineSize },
    memory_bytes: os.totalmem(),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    cpu_during_run: null,
    clocksource: readTrim('/sys/devices/system/clocksource/clocksource0/current_clocksource'),
    transparent_hugepage: {
      enabled: selected('/sys/kernel/mm/transparent_hugepage/enabled'),
      shmem_enabled: selected('/sys/kernel/mm/transparent_hugepage/shmem_enabled'),
    },
    node: process.version,
    daxkit_version: daxkitVersion(),
    fio: fioVersion(),
    vm: { inside: vm, statement: vm ? TCG_STATEMENT : null },
    root: process.getuid?.() === 0,
  };
}

export interface CpuTimes {
  busy: number;
  steal: number;
  total: number;
  at: number;
}

/** The aggregate cpu line of /proc/stat, or null. */
export function cpuTimes(): CpuTimes | null {
  const line = readTrim('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return null;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is in user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  const total = user + nice + system + idle + iowait + irq + softirq + (steal ?? 0);
  return { busy: user + nice + system + irq + softirq, steal: steal ?? 0, total, at: Date.now() };
}

export function cpuBetween(a: CpuTimes | null, b: CpuTimes | null): RunContext['cpu_during_run'] {
  if (a === null || b === null || b.total <= a.total) return null;
  const t = b.total - a.total;
  const pct = (x: number): number => Math.round((x / t) * 1000) / 10;
  return { busy_pct: pct(b.busy - a.busy), steal_pct: pct(b.steal - a.steal), seconds: Math.round((b.at - a.at) / 100) / 10 };
}

export function fsInfo(p: string): FsInfo | null {
  try {
    const real = fs.realpathSync(p);
    const st = statx(real);
    const m = findMount(real, readMounts(), { major: st.devMajor, minor: st.devMinor });
    if (m === undefined) return null;
    return {
      type: m.fstype,
      mount_point: m.mountPoint,
      source: m.source,
      options: m.options.join(','),
      super_options: m.superOptions.join(','),
      dax_mode: daxMountMode(m),
    };
  } catch {
    return null;
  }
}

/** The devdax device behind a character device path, or null when it is not one. */
export function devdaxOf(p: string): { name: string; size: number; align: number } | null {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(p, { bigint: true });
  } catch {
    return null;
  }
  if (!st.isCharacterDevice()) return null;
  const { major, minor } = devNumbers(st.rdev);
  if (charSubsystem(major, minor) !== 'dax') return null;
  const d = devdaxInfo(major, minor);
  return { name: d.name, size: d.size, align: d.align };
}

/** How many of a file's physical extents (FIEMAP) start on a 2 MiB boundary; null where it cannot be opened. */
export function extentsOf(p: string): TargetReport['extents'] {
  let fd: number;
  try {
    fd = fs.openSync(p, 'r');
  } catch {
    return null;
  }
  try {
    const ex = binding.fiemap(fd, p);
    const aligned = ex.filter((e) => e.physical % (2 * MiB) === 0 && e.logical % (2 * MiB) === 0).length;
    return {
      count: ex.length,
      aligned_2m: aligned,
      note:
        ex.length === 0
          ? 'no extents reported'
          : `${aligned} of ${ex.length} extents start on a 2 MiB boundary of the device (huge-page faults need the file offset and the device block both 2 MiB-aligned)`,
    };
  } catch (e) {
    return { count: 0, aligned_2m: 0, note: `FIEMAP failed: ${(e as Error).message}` };
  } finally {
    fs.closeSync(fd);
  }
}

/** Everything known about a prepared target, from the outside and from a mapping of it. */
export function describeTarget(role: Role, p: string, kind: TargetKind, size: number, data: string): TargetReport {
  // Writable, so that flushMechanism is what persist() will run.
  const m = open(p, { size });
  let mapping: TargetReport['mapping'];
  try {
    mapping = {
      address: `0x${m.address.toString(16)}`,
      alignment: m.alignment,
      address_2m_aligned: m.address % BigInt(2 * MiB) === 0n,
      map_sync: m.mapSync,
      granularity: m.granularity,
      flush_mechanism: m.flushMechanism,
    };
  } finally {
    m.close();
  }
  return {
    role,
    path: p,
    kind,
    size,
    fs: kind === 'devdax' ? null : fsInfo(p),
    device: kind === 'devdax' ? devdaxOf(p) : null,
    mapping,
    extents: kind === 'devdax' ? null : extentsOf(p),
    odirect: probeODirect(p, kind),
    data,
  };
}
