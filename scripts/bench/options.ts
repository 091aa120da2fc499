// The command line of daxkit bench (and npm run bench): flags to options,
// every mistake a UsageError (exit status 2) that names the flag.
import { constants as bufferConstants } from 'node:buffer';
import { parseArgs } from 'node:util';
import { UsageError } from '../../lib/cli/common';
import { BACKEND_IDS, type BackendId } from './backends';
import type { Pattern } from './report';
import { fmtSize, GiB, KiB, MiB, parseSeconds, parseSize } from './units';

export interface BenchOptions {
  target: string | null;
  size: number;
  bs: number[];
  patterns: Pattern[];
  backends: BackendId[];
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

export const DEFAULT_BS = [64, 4 * KiB, 64 * KiB, MiB];
export const DEFAULT_SIZE = 256 * MiB;

export const HELP = `Usage: daxkit bench [TARGET] [OPTIONS]
       daxkit bench --compare A.json B.json

Measures DAX against page-cache I/O the way pmem people measure: for each
block size and pattern, every way of moving bytes runs in a fresh child
process, interleaved, warmed up, then sampled until the 95% confidence
interval is within --ci of the mean or --time is up. Reads: a zero-copy scan
of a mapping (checksummed), mapping.readInto() and pread() into a reused Buffer,
O_DIRECT. Writes: stores + persist() (CLWB+SFENCE with MAP_SYNC or devdax),
copyPersist() (non-temporal), stores + msync (no MAP_SYNC), pwrite() +
fdatasync(), O_DIRECT|O_DSYNC. Every backend's bytes are verified afterwards.
Also, in the same run: fio's psync and mmap engines (and libpmem/dev-dax) on
the same file, a native calibration with four target ratios, and page faults
while touching a mapping (one per 2 MiB with huge pages).

TARGET is a file or directory on a DAX mount (a new file is made in a
directory), a devdax device (/dev/daxX.Y: its first --size bytes are
overwritten), or a file or directory on any other filesystem (page cache).
Without TARGET: a DAX mount or devdax device of this machine; else the
emulated-pmem VM (fsdax on ext4 and devdax, as root on Debian/Ubuntu, see
daxkit vm); else a temp file on the page cache, labelled "no DAX available".

What to measure:
  --size SIZE        working set (default 256M); a multiple of 1M
  --bs LIST          block sizes, multiples of 64 (default 64,4k,64k,1m)
  --pattern LIST     seq, rand or both (default seq,rand)
  --backend LIST     a subset of: ${BACKEND_IDS.join(', ')}
  --baseline DIR     where a DAX target's page-cache baseline file goes
                     (default the temp directory); 'none' for no baseline
  --no-fio           skip fio (run when installed)
  --no-calibrate     skip the native calibration and its target ratios
  --no-faults        skip the page-fault count

How long:
  --time SECONDS     time cap per job and round (default 2)
  --warmup SECONDS   warm-up per job (default 0.3)
  --ci PERCENT       stop sampling when the 95% CI is within this (default 1)
  --rounds N         run every job N times, interleaved, and pool; with 3 or
                     more the CI is the spread between processes (default 1)
  --no-drop-caches   do not drop the page cache before each job (as root it
                     is dropped: sync; echo 3 > /proc/sys/vm/drop_caches)
  --no-vm            never start the emulated-pmem VM
  --seed N           random offsets and data (default 1)

Safety:
  -y, --yes          overwrite a file or device that holds data

Output (a progress bar on a terminal, then a table with ratios to the
page-cache baseline):
  --json             the JSON document on stdout instead (fio's field names:
                     bw in KiB/s, bw_bytes, iops, lat_ns.percentile)
  --output FILE      also write the JSON document to FILE
  --html FILE        a self-contained page with charts (no network)
  --svg FILE         the bandwidth chart alone, as an SVG image
  --compare A B      two JSON documents side by side (no benchmark runs)
  --report FILE      the table, --html, --svg or --json of a saved JSON
                     document (no benchmark runs)

Exit status: 0 done (target ratios missed are reported, not failures);
1 a job failed, its bytes did not verify, or the target holds data;
2 a usage error.`;

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
        'no-fio': { type: 'boolean' },
        'no-calibrate': { type: 'boolean' },
        'no-faults': { type: 'boolean' },
        'no-drop-caches': { type: 'boolean' },
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

  const size = v.size === undefined ? DEFAULT_SIZE : parseSize(v.size, '--size');
  if (size % MiB !== 0) throw new UsageError(`--size must be a whole number of MiB (got ${fmtSize(size)})`);
  const maxSize = Math.min(bufferConstants.MAX_LENGTH, 64 * GiB);
  if (size > maxSize) throw new UsageError(`--size can be at most ${fmtSize(maxSize)} (one ArrayBuffer on Node.js ${process.version})`);

  const bs = v.bs === undefined ? DEFAULT_BS : [...new Set(list(v.bs, '--bs').map((s) => parseSize(s, '--bs')))].sort((a, b) => a - b);
  for (const b of bs) {
    if (b % 64 !== 0) throw new UsageError(`--bs sizes must be multiples of 64 bytes, a cache line (got ${b})`);
    if (b > size) throw new UsageError(`--bs ${fmtSize(b)} is larger than the working set (--size ${fmtSize(size)})`);
  }

  let patterns: Pattern[] = ['seq', 'rand'];
  if (v.pattern !== undefined) {
    patterns = [];
    for (const p of list(v.pattern, '--pattern')) {
      const norm = p === 'sequential' ? 'seq' : p === 'random' ? 'rand' : p;
      if (norm !== 'seq' && norm !== 'rand') throw new UsageError(`--pattern takes seq and rand (got '${p}')`);
      if (!patterns.includes(norm)) patterns.push(norm);
    }
  }

  let backends: BackendId[] = [...BACKEND_IDS];
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
    size,
    bs,
    patterns,
    backends,
    timeMs,
    warmupMs,
    ci,
    rounds,
    baseline: v.baseline === 'none' ? null : (v.baseline ?? ''),
    fio: !v['no-fio'],
    calibrate: !v['no-calibrate'],
    faults: !v['no-faults'],
    dropCaches: !v['no-drop-caches'],
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
  if (o.baseline === null) a.push('--baseline=none');
  if (!o.fio) a.push('--no-fio');
  if (!o.calibrate) a.push('--no-calibrate');
  if (!o.faults) a.push('--no-faults');
  if (!o.dropCaches) a.push('--no-drop-caches');
  if (o.yes) a.push('--yes');
  return a;
}
