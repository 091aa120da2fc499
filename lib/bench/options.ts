// The command line of daxkit bench (and npm run bench): flags to options,
// every mistake a UsageError (exit status 2) that names the flag.
import { constants as bufferConstants } from 'node:buffer';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors';
import { BACKEND_IDS, type BackendId } from './backends';
import type { Pattern } from './report';
import { fmtSize, GiB, KiB, MiB, parseSeconds, parseSize } from './units';

export interface BenchOptions {
  target: string | null;
  /** --full: today's thorough set (every block size, pattern and backend; fio, calibration, faults; devdax too in the VM). */
  full: boolean;
  size: number;
  bs: number[];
  patterns: Pattern[];
  backends: BackendId[];
  /** What the page-cache baseline file of a DAX target runs (those of `backends` among them). */
  baselineBackends: BackendId[];
  timeMs: number;
  warmupMs: number;
  /** Fraction: 0.01 is "within 1% of the mean". */
  ci: number;
  rounds: number;
  /** Where the page-cache baseline file of a DAX target goes: '' the temp directory, null none. */
  baseline: string | null;
  fio: boolean;
  calibrate: boolean;
  faults: boolean;
  /** Drop the whole machine's page cache before each measurement (root, outside the VM). */
  dropCaches: boolean;
  vm: boolean;
  yes: boolean;
  json: boolean;
  html: string | null;
  svg: string | null;
  output: string | null;
  compare: [string, string] | null;
  /** A saved document to render instead of running. */
  report: string | null;
  seed: number;
  /** Internal: inside the VM, run on its pmem and write the document here. */
  vmGuest: string | null;
  /** Internal: progress as lines on stderr for the host to draw. */
  progressEvents: boolean;
}

/**
 * The two default sets. Quick answers "how much faster are durable writes
 * and reads through DAX than through the page cache, here?" in minutes: the
 * ways of writing durably and of reading a copy through DAX, against
 * pwrite() + fdatasync() and pread() through the page cache, sequential, at
 * three block sizes. Full is the thorough set, with fio, the native
 * calibration and the page-fault counts.
 */
export const QUICK = {
  bs: [64, 4 * KiB, MiB],
  patterns: ['seq'] as Pattern[],
  backends: ['mmap-read', 'pread', 'mmap-persist', 'copy-persist', 'pwrite-fdatasync'] as BackendId[],
  baselineBackends: ['pread', 'pwrite-fdatasync'] as BackendId[],
  size: 64 * MiB,
};
export const FULL = {
  bs: [64, 4 * KiB, 64 * KiB, MiB],
  patterns: ['seq', 'rand'] as Pattern[],
  backends: [...BACKEND_IDS] as BackendId[],
  baselineBackends: ['pread', 'pwrite-fdatasync', 'mmap-scan', 'mmap-persist'] as BackendId[],
  size: 256 * MiB,
};

export const HELP = `Usage: daxkit bench [TARGET] [OPTIONS]
       daxkit bench --report FILE.json [--svg FILE] [--html FILE] [--json]
       daxkit bench --compare A.json B.json

How much faster are durable writes and reads through DAX than through the
page cache, here? By default (3 to 4 minutes in the emulated-pmem VM, under
1 on a host) it measures, sequentially, at 64 B, 4 KiB and 1 MiB blocks,
each way in a fresh process:
  durable writes  stores + persist() (CLWB + SFENCE on DAX), copyPersist()
                  (non-temporal stores), pwrite() + fdatasync()
  reads           mapping.readInto() (a copy out of the mapping), pread()
against pwrite() + fdatasync() and pread() of a file in the page cache, and
says how many times faster each way is. Each figure comes with its 95%
confidence interval; a figure whose interval is wider than +-10% is marked
'?' (hollow in the charts), and so is every ratio that rests on it. Every
backend's bytes are verified afterwards.

--full runs the thorough set instead (about 40 minutes in the VM): 64 B,
4 KiB, 64 KiB and 1 MiB, sequential and random, also a zero-copy scan of a
mapping, O_DIRECT, and msync without MAP_SYNC; fio's engines on the same
file; a native calibration of what daxkit's calls cost against plain C++;
and the page faults of touching a mapping (one per 2 MiB with huge pages).

TARGET is a file or directory on a DAX mount (a new file is made in a
directory), a devdax device (/dev/daxX.Y: its first --size bytes are
overwritten), or a file or directory on any other filesystem (page cache).
Without TARGET: a DAX mount or devdax device of this machine; else the
emulated-pmem VM (fsdax on ext4 against xfs on the same emulated pmem
mounted dax=never; --full adds devdax), as root on Debian/Ubuntu (see
daxkit vm); else a temp file on the page cache, labelled "no DAX available".

What to measure:
  --full             the thorough set described above
  --size SIZE        working set, a multiple of 1M (default 64M; --full 256M)
  --bs LIST          block sizes, multiples of 64 (default 64,4k,1m;
                     --full 64,4k,64k,1m)
  --pattern LIST     seq, rand or both (default seq; --full seq,rand)
  --backend LIST     a subset of: ${BACKEND_IDS.join(', ')}
                     (default ${QUICK.backends.join(', ')}; --full all)
  --baseline DIR     where a DAX target's page-cache baseline file goes
                     (default the temp directory); 'none' for no baseline
  --fio, --no-fio    fio's engines on the same file (default: with --full,
                     when fio is installed)
  --calibrate, --no-calibrate
                     the native calibration (default: with --full)
  --faults, --no-faults
                     count the page faults of touching a mapping (default:
                     with --full)

How long:
  --time SECONDS     time cap per job and round (default 2)
  --warmup SECONDS   warm-up per job (default 0.3)
  --ci PERCENT       stop sampling when the 95% CI is within this (default 1)
  --rounds N         run every job N times, interleaved, and pool; with 3 or
                     more the CI is the spread between processes (default 1)
  --drop-caches      as root, drop the whole machine's page cache before each
                     measurement (sync; echo 3 > /proc/sys/vm/drop_caches):
                     every program on the machine loses its cached files.
                     Without it the caches are warm and only the benchmark's
                     own files are evicted (posix_fadvise, as fio's
                     invalidate=1); the report says which
  --no-vm            never start the emulated-pmem VM
  --seed N           random offsets and data (default 1)

Safety:
  -y, --yes          overwrite a file or device that holds data

Output (a progress bar on a terminal, then the answer in plain words and a
table with ratios to the page-cache baseline):
  --json             the JSON document on stdout instead (fio's field names:
                     bw in KiB/s, bw_bytes, iops, lat_ns.percentile)
  --output FILE      also write the JSON document to FILE
  --html FILE        a self-contained page with charts (no network)
  --svg FILE         the bandwidth chart alone, as an SVG image
  --compare A B      two JSON documents side by side (no benchmark runs)
  --report FILE      a saved JSON document again (no benchmark runs): the
                     table, or only the files that --svg and --html name, or
                     --json

Exit status: 0 done (missed goals and uncertain figures are reported, not
failures); 1 a job failed, its bytes did not verify, the target is missing,
of a kind bench does not run on, or holds data; 2 a usage error.`;

function list(text: string, option: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`${option} needs at least one value`);
  return items;
}

export function parseOptions(argv: string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        size: { type: 'string' },
        bs: { type: 'string' },
        pattern: { type: 'string' },
        backend: { type: 'string' },
        baseline: { type: 'string' },
        time: { type: 'string' },
        warmup: { type: 'string' },
        ci: { type: 'string' },
        rounds: { type: 'string' },
        seed: { type: 'string' },
        full: { type: 'boolean' },
        fio: { type: 'boolean' },
        'no-fio': { type: 'boolean' },
        calibrate: { type: 'boolean' },
        'no-calibrate': { type: 'boolean' },
        faults: { type: 'boolean' },
        'no-faults': { type: 'boolean' },
        'drop-caches': { type: 'boolean' },
        'no-vm': { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
        json: { type: 'boolean' },
        output: { type: 'string' },
        html: { type: 'string' },
        svg: { type: 'string' },
        compare: { type: 'boolean' },
        report: { type: 'string' },
        'vm-guest': { type: 'string' },
        'progress-events': { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see daxkit bench --help)`);
  }
  const v = parsed.values;
  const pos = parsed.positionals;

  if (v.compare) {
    if (pos.length !== 2) throw new UsageError('--compare needs two JSON files: daxkit bench --compare A.json B.json');
    if (v.report !== undefined) throw new UsageError('--compare and --report do not go together');
  } else if (v.report !== undefined && pos.length > 0) {
    throw new UsageError('--report renders a saved document: it takes no TARGET');
  } else if (pos.length > 1) {
    throw new UsageError(`one target at a time (got ${pos.length}: ${pos.join(', ')})`);
  }

  const full = v.full === true;
  const set = full ? FULL : QUICK;
  // --x and --no-x: the one given, else the set's default.
  const onOff = (name: 'fio' | 'calibrate' | 'faults'): boolean => {
    const yes = v[name] === true;
    const no = v[`no-${name}`] === true;
    if (yes && no) throw new UsageError(`--${name} and --no-${name} do not go together`);
    return yes || (!no && full);
  };

  const size = v.size === undefined ? set.size : parseSize(v.size, '--size');
  if (size % MiB !== 0) throw new UsageError(`--size must be a whole number of MiB (got ${fmtSize(size)})`);
  const maxSize = Math.min(bufferConstants.MAX_LENGTH, 64 * GiB);
  if (size > maxSize) throw new UsageError(`--size can be at most ${fmtSize(maxSize)} (one ArrayBuffer on Node.js ${process.version})`);

  const bs = v.bs === undefined ? set.bs : [...new Set(list(v.bs, '--bs').map((s) => parseSize(s, '--bs')))].sort((a, b) => a - b);
  for (const b of bs) {
    if (b % 64 !== 0) throw new UsageError(`--bs sizes must be multiples of 64 bytes, a cache line (got ${b})`);
    if (b > size) throw new UsageError(`--bs ${fmtSize(b)} is larger than the working set (--size ${fmtSize(size)})`);
  }

  let patterns: Pattern[] = [...set.patterns];
  if (v.pattern !== undefined) {
    patterns = [];
    for (const p of list(v.pattern, '--pattern')) {
      const norm = p === 'sequential' ? 'seq' : p === 'random' ? 'rand' : p;
      if (norm !== 'seq' && norm !== 'rand') throw new UsageError(`--pattern takes seq and rand (got '${p}')`);
      if (!patterns.includes(norm)) patterns.push(norm);
    }
  }

  let backends: BackendId[] = [...set.backends];
  if (v.backend !== undefined) {
    backends = [];
    for (const b of list(v.backend, '--backend')) {
      if (!(BACKEND_IDS as readonly string[]).includes(b)) throw new UsageError(`unknown backend '${b}' (one of ${BACKEND_IDS.join(', ')})`);
      if (!backends.includes(b as BackendId)) backends.push(b as BackendId);
    }
  }

  const timeMs = v.time === undefined ? 2000 : parseSeconds(v.time, '--time');
  const warmupMs = v.warmup === undefined ? 300 : parseSeconds(v.warmup, '--warmup', -Number.MIN_VALUE);
  let ci = 0.01;
  if (v.ci !== undefined) {
    const c = Number(v.ci.replace(/%$/, ''));
    if (!(c > 0 && c <= 50)) throw new UsageError(`--ci is a percentage above 0 and at most 50 (got '${v.ci}')`);
    ci = c / 100;
  }
  const int = (text: string | undefined, name: string, dflt: number, min: number, max: number): number => {
    if (text === undefined) return dflt;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max} (got '${text}')`);
    return n;
  };
  const rounds = int(v.rounds, '--rounds', 1, 1, 20);
  const seed = int(v.seed, '--seed', 1, 0, 2 ** 31 - 1);

  for (const [name, value] of [
    ['--html', v.html],
    ['--svg', v.svg],
    ['--output', v.output],
    ['--baseline', v.baseline],
    ['--report', v.report],
  ] as const) {
    if (value !== undefined && value.trim() === '') throw new UsageError(`${name} needs a file name`);
  }

  return {
    target: v.compare ? null : (pos[0] ?? null),
    full,
    size,
    bs,
    patterns,
    backends,
    baselineBackends: set.baselineBackends,
    timeMs,
    warmupMs,
    ci,
    rounds,
    baseline: v.baseline === 'none' ? null : (v.baseline ?? ''),
    fio: onOff('fio'),
    calibrate: onOff('calibrate'),
    faults: onOff('faults'),
    dropCaches: v['drop-caches'] === true,
    vm: !v['no-vm'],
    yes: v.yes === true,
    json: v.json === true,
    html: v.html ?? null,
    svg: v.svg ?? null,
    output: v.output ?? null,
    compare: v.compare ? [pos[0], pos[1]] : null,
    report: v.report ?? null,
    seed,
    vmGuest: v['vm-guest'] ?? null,
    progressEvents: v['progress-events'] === true,
  };
}

/** The options a guest run inside the VM gets from the host's command line. */
export function guestArgs(o: BenchOptions): string[] {
  const a = [
    `--size=${o.size}`,
    `--bs=${o.bs.join(',')}`,
    `--pattern=${o.patterns.join(',')}`,
    `--backend=${o.backends.join(',')}`,
    `--time=${o.timeMs / 1000}`,
    `--warmup=${o.warmupMs / 1000}`,
    `--ci=${o.ci * 100}`,
    `--rounds=${o.rounds}`,
    `--seed=${o.seed}`,
  ];
  if (o.full) a.push('--full');
  if (o.baseline === null) a.push('--baseline=none');
  a.push(o.fio ? '--fio' : '--no-fio', o.calibrate ? '--calibrate' : '--no-calibrate', o.faults ? '--faults' : '--no-faults');
  if (o.dropCaches) a.push('--drop-caches');
  if (o.yes) a.push('--yes');
  return a;
}
