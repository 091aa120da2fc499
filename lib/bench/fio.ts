// fio on the same file, block size and pattern, in the same run: the check
// that daxkit's numbers mean what fio's mean. fio's json output is where the
// report's field names come from, so its figures drop straight in.
import { spawnSync } from 'node:child_process';
import type { BackendId, Direction, TargetKind } from './backends';
import type { IoStats } from './report';

export type FioEngine = 'psync' | 'mmap' | 'libpmem' | 'dev-dax';

export interface FioPair {
  engine: FioEngine;
  dir: Direction;
  /** The daxkit backend doing the same thing. */
  backend: BackendId;
  /** What fio does, in its terms. */
  what: string;
}

/**
 * The fio engines that do what a daxkit backend does, per target kind. On a
 * page-cache file the psync pairs are the trust check (they must agree); the
 * others show where daxkit stands against C code doing the same job.
 */
export function fioPairs(kind: TargetKind): FioPair[] {
  if (kind === 'devdax') {
    return [
      { engine: 'dev-dax', dir: 'read', backend: 'mmap-read', what: 'memcpy out of the device mapping' },
      { engine: 'dev-dax', dir: 'write', backend: 'copy-persist', what: 'pmem_memcpy_persist into the device mapping' },
    ];
  }
  const pairs: FioPair[] = [
    { engine: 'psync', dir: 'read', backend: 'pread', what: 'pread(2)' },
    { engine: 'psync', dir: 'write', backend: 'pwrite-fdatasync', what: 'pwrite(2) + fdatasync(2) (fdatasync=1)' },
    { engine: 'mmap', dir: 'read', backend: 'mmap-read', what: 'memcpy out of a MAP_SHARED mapping' },
    {
      engine: 'mmap',
      dir: 'write',
      backend: kind === 'fsdax' ? 'mmap-msync' : 'mmap-persist',
      what: 'memcpy into a MAP_SHARED mapping + msync(MS_SYNC) of the whole mapping (fdatasync=1)',
    },
  ];
  if (kind === 'fsdax') {
    pairs.push(
      { engine: 'libpmem', dir: 'read', backend: 'mmap-read', what: 'memcpy out of a pmem_map_file mapping' },
      { engine: 'libpmem', dir: 'write', backend: 'copy-persist', what: 'pmem_memcpy with non-temporal stores + pmem_drain (direct=1, sync=1)' },
    );
  }
  return pairs;
}

/** fio's version string, or null when fio is not installed. */
export function fioVersion(): string | null {
  const r = spawnSync('fio', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The engines this fio was built with (dev-dax and libpmem need libpmem). */
export function fioEngines(): Set<string> {
  const r = spawnSync('fio', ['--enghelp'], { encoding: 'utf8' });
  return new Set((r.stdout ?? '').split(/\s+/).filter((s) => /^[a-z0-9_-]+$/.test(s)));
}

// 64 bytes of doubles in [1, 2), so that data fio writes keeps the scan's
// sums finite (random bytes would include NaNs).
const BUFFER_PATTERN = (() => {
  const f = new Float64Array(8);
  for (let i = 0; i < 8; i++) f[i] = 1 + (i + 1) / 16;
  return `0x${Buffer.from(f.buffer).toString('hex')}`;
})();

export interface FioRun {
  engine: FioEngine;
  rw: 'read' | 'randread' | 'write' | 'randwrite';
  bs: number;
  path: string;
  size: number;
  timeMs: number;
  warmupMs: number;
}

/**
 * A path as fio's --filename takes it: fio splits the option at every ':'
 * into several files (and reads '\\:' as a colon), so the target
 * /mnt/a:b/file would have fio write into /mnt/a and b/file instead.
 */
export function fioFilename(p: string): string {
  return p.replace(/:/g, '\\:');
}

export function fioArgs(r: FioRun): string[] {
  const write = r.rw === 'write' || r.rw === 'randwrite';
  const args = [
    '--name=daxkit-bench',
    `--filename=${fioFilename(r.path)}`,
    `--ioengine=${r.engine}`,
    `--rw=${r.rw}`,
    `--bs=${r.bs}`,
    `--size=${r.size}`,
    '--time_based',
    `--runtime=${Math.max(1, Math.round(r.timeMs))}ms`,
    `--ramp_time=${Math.max(0, Math.round(r.warmupMs))}ms`,
    // Same conditions as daxkit's jobs: the file is in the page cache before
    // the first read (daxkit's prefault), nothing is invalidated, and random
    // offsets are drawn uniformly with repeats, as daxkit's are.
    '--invalidate=0',
    '--norandommap',
    '--randrepeat=0',
    '--lat_percentiles=1',
    '--percentile_list=50:99:99.9',
    '--output-format=json',
  ];
  if (!write && (r.engine === 'psync' || r.engine === 'mmap')) args.push('--pre_read=1');
  if (write) {
    args.push(`--buffer_pattern=${BUFFER_PATTERN}`);
    if (r.engine === 'psync' || r.engine === 'mmap') args.push('--fdatasync=1');
    if (r.engine === 'libpmem') args.push('--direct=1', '--sync=1');
  }
  return args;
}

export type FioResult = { ok: true; stats: IoStats; command: string } | { ok: false; error: string; command: string };

interface FioJson {
  jobs?: Array<{ error?: number; read: IoStats; write: IoStats }>;
}

export function runFio(r: FioRun): FioResult {
  const args = fioArgs(r);
  const command = `fio ${args.join(' ')}`;
  const p = spawnSync('fio', args, { encoding: 'utf8', timeout: r.timeMs + r.warmupMs + 120_000, maxBuffer: 64 << 20 });
  const text = p.stdout ?? '';
  const start = text.indexOf('{');
  if (p.status !== 0 || start < 0) {
    const why = (p.stderr || text || p.error?.message || `exit ${p.status}`).trim().split('\n').slice(-3).join(' ');
    return { ok: false, error: why, command };
  }
  let j: FioJson;
  try {
    j = JSON.parse(text.slice(start)) as FioJson;
  } catch (e) {
    return { ok: false, error: `unreadable fio output: ${(e as Error).message}`, command };
  }
  const job = j.jobs?.[0];
  if (job === undefined) return { ok: false, error: 'fio reported no job', command };
  if (job.error) return { ok: false, error: `fio job error ${job.error}`, command };
  const s = r.rw === 'write' || r.rw === 'randwrite' ? job.write : job.read;
  return { ok: true, stats: s, command };
}
