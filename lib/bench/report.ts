// The benchmark's JSON document. Field names follow fio's json output where
// they overlap (bw in KiB/s, bw_bytes, iops, runtime in ms, total_ios,
// lat_ns with percentile keyed "99.900000"), so results line up with fio runs
// in the same tools; everything else is snake_case like fio's.
import type { BackendId, Direction, TargetKind, Verification } from './backends';
import type { CalItem } from './calibrate';
import type { FioEngine } from './fio';
import { Histogram, type HistogramJson } from './stats';

export const SCHEMA = 'daxkit-bench/1';

export const PERCENTILES = ['50.000000', '99.000000', '99.900000'] as const;

/**
 * A figure whose 95% confidence interval is wider than this (half-width over
 * the mean) is uncertain: it is marked wherever it is shown, and so is every
 * ratio or verdict that rests on it.
 */
export const WIDE_CI = 0.1;

export interface LatNs {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  N: number;
  percentile: Record<(typeof PERCENTILES)[number], number>;
}

/** fio's per-direction statistics. */
export interface IoStats {
  io_bytes: number;
  io_kbytes: number;
  bw_bytes: number;
  /** KiB/s */
  bw: number;
  iops: number;
  /** ms */
  runtime: number;
  total_ios: number;
  lat_ns: LatNs;
}

export type Rw = 'read' | 'randread' | 'write' | 'randwrite';
export type Pattern = 'seq' | 'rand';
export type Role = 'target' | 'baseline';

export interface Sampling {
  rounds: number;
  warmup_ms: number;
  /** Timed batches: the samples the confidence interval is computed from. */
  samples: number;
  /** Operations per timed batch. */
  batch: number;
  /** 'op': lat_ns is of single operations; 'batch': of the mean operation of each batch (operations too short to time one by one). */
  lat_mode: 'op' | 'batch';
  timer_overhead_ns: number;
  ci_level: 0.95;
  /** The bound asked for: half-width of the interval / mean. */
  ci_target: number;
  /** The bound reached. */
  ci_reached: number;
  stopped_by: Array<'ci' | 'time'>;
  elapsed_ms: number;
  /** Bandwidth of each round (each a process of its own), bytes/s. */
  round_bw_bytes: number[];
  /** The 95% CI of the mean of the rounds, relative (null below three rounds): the run-to-run spread. */
  ci_between_rounds: number | null;
}

export interface JobFaults {
  prefault_minor: number;
  prefault_major: number;
  minor: number;
  major: number;
}

export interface JobReport {
  jobname: string;
  role: Role;
  backend: BackendId;
  /** What one operation is. */
  op: string;
  rw: Rw;
  bs: number;
  pattern: Pattern;
  status: 'ok' | 'skipped' | 'error';
  reason?: string;
  mechanism?: string;
  /** What made writes durable ('clwb', 'non-temporal', 'msync', 'fdatasync', 'O_DSYNC'); null for reads. */
  persistence?: string | null;
  read: IoStats;
  write: IoStats;
  sampling?: Sampling;
  faults?: JobFaults;
  verify?: Verification;
  /** bw over the page-cache baseline's (pread for reads, pwrite-fdatasync for writes), same bs and pattern. */
  vs_baseline: number | null;
  /** The 95% CI of the bandwidth is wider than WIDE_CI (or unknown). */
  uncertain: boolean;
}

export interface FsInfo {
  type: string;
  mount_point: string;
  source: string;
  options: string;
  super_options: string;
  dax_mode: string;
}

export interface TargetReport {
  role: Role;
  path: string;
  kind: TargetKind;
  /** Working set, bytes. */
  size: number;
  fs: FsInfo | null;
  device: { name: string; size: number; align: number } | null;
  mapping: {
    address: string;
    alignment: number;
    address_2m_aligned: boolean;
    map_sync: boolean;
    granularity: string;
    flush_mechanism: string;
  };
  /** Physical extents of the file (FIEMAP): how many start on a 2 MiB boundary, which huge-page faults need. */
  extents: { count: number; aligned_2m: number; note: string } | null;
  odirect: string;
  data: string;
}

export interface RunContext {
  date: string;
  kernel: string;
  kernel_version: string;
  cpu: {
    model: string;
    count: number;
    flush: string;
    clwb: boolean;
    clflushopt: boolean;
    clflush: boolean;
    line_size: number;
  };
  memory_bytes: number;
  loadavg: number[];
  /**
   * All CPUs over the run (/proc/stat): the share busy and the share stolen
   * by the hypervisor. The benchmark itself keeps about one CPU busy; more
   * than that is other work competing with it.
   */
  cpu_during_run: { busy_pct: number; steal_pct: number; seconds: number } | null;
  clocksource: string | null;
  transparent_hugepage: { enabled: string | null; shmem_enabled: string | null };
  node: string;
  daxkit_version: string;
  fio: string | null;
  vm: { inside: boolean; statement: string | null };
  root: boolean;
}

export interface CalibrationItem {
  description: string;
  path: string;
  /** ns per operation (unit 'ns') or bytes per second (unit 'bytes/s'). */
  value: number;
  unit: 'ns' | 'bytes/s';
  ci_reached: number;
  samples: number;
  rounds: number;
  /** The value of each round (a process each); `value` is their median. */
  round_values: number[];
  status: 'ok' | 'error';
  error?: string;
}

export interface TargetCheck {
  id: 'persist-64' | 'copy-persist-1m' | 'scan-vs-heap' | 'scan-vs-read';
  claim: string;
  /** The median of the per-round ratios (each from measurements taken next to each other). */
  ratio: number | null;
  /** The ratio of each round. */
  round_ratios: number[];
  /** Rounds in which the ratio met the goal. */
  rounds_met: number;
  goal: number;
  /** ratio <= goal or ratio >= goal */
  cmp: '<=' | '>=';
  met: boolean | null;
  numbers: string;
  note: string | null;
  /** Why the verdict is uncertain (an item measured with a CI wider than WIDE_CI), or null. */
  uncertain?: string | null;
}

export interface CalibrationReport {
  memory: { path: string; kind: TargetKind; stand_in: boolean; note: string };
  pagecache: { path: string };
  items: Partial<Record<CalItem, CalibrationItem>>;
  targets: TargetCheck[];
}

export interface FaultReport {
  path: string;
  kind: TargetKind;
  length: number;
  address: string;
  alignment: number;
  address_2m_aligned: boolean;
  minor: number;
  major: number;
  pages_4k: number;
  huge_2m: number;
  /** Bytes mapped per fault: 2 MiB with huge pages, 4 KiB (or the fault-around window) without. */
  bytes_per_fault: number;
  ms: number;
  verdict: string;
  status: 'ok' | 'error';
  error?: string;
}

export interface FioComparison {
  role: Role;
  engine: FioEngine;
  rw: Rw;
  bs: number;
  pattern: Pattern;
  what: string;
  command: string;
  /** fio's figures from the round with the median bandwidth. */
  fio: IoStats | null;
  /** fio's bandwidth in each round, bytes/s. */
  fio_round_bw_bytes: number[];
  error?: string;
  daxkit_job: string;
  /** The median of the daxkit job's round bandwidths, bytes/s. */
  daxkit_bw_bytes: number | null;
  /** daxkit bw / fio bw */
  ratio: number | null;
  /**
   * How much longer one daxkit operation takes than one of fio's, ns
   * (1/iops of each): a constant across block sizes is per-call overhead
   * (Node's fs binding, N-API), one that grows with the size is the copy.
   */
  extra_ns_per_op: number | null;
  /** Within 10%. */
  agree: boolean | null;
  /** Why the verdict is uncertain (daxkit's figure has a CI wider than WIDE_CI), or null. */
  uncertain?: string | null;
  /** The psync pairs on the page cache, which must agree. */
  trust_check: boolean;
}

export interface RunReport {
  label: string;
  target: TargetReport;
  baseline: TargetReport | null;
  context: RunContext;
  /** full: the thorough set (--full); absent in documents older than the quick default. */
  options: { full?: boolean; size: number; bs: number[]; patterns: Pattern[]; time_ms: number; warmup_ms: number; ci_target: number; rounds: number; seed: number };
  /**
   * What was done to the page cache before each measurement. warm: the
   * machine's page cache was not dropped before every one (only the
   * benchmark's own files were evicted, or nothing).
   */
  page_cache: { dropped: boolean; scope?: 'machine' | 'files' | 'none'; warm?: boolean; detail: string };
  jobs: JobReport[];
  fio: { version: string | null; skipped: string | null; comparisons: FioComparison[] };
  calibration: CalibrationReport | null;
  page_faults: FaultReport[];
  /** The question answered in plain words: DAX against the page cache, per direction, block size and pattern. */
  answer?: Answer[];
  notes: string[];
}

export interface AnswerFigure {
  jobname: string;
  backend: BackendId;
  bw_bytes: number;
  /** Half-width of the 95% CI over the mean; null when unknown. */
  ci: number | null;
}

export interface Answer {
  direction: Direction;
  bs: number;
  pattern: Pattern;
  /** The fastest way through DAX. */
  dax: AnswerFigure;
  /** The same through the page cache (pwrite-fdatasync or pread of the baseline file). */
  pagecache: AnswerFigure;
  /** dax / pagecache */
  ratio: number;
  /** Why the ratio is uncertain (a figure whose CI is wider than WIDE_CI), or null. */
  uncertain: string | null;
}

export interface BenchDocument {
  schema: typeof SCHEMA;
  daxkit_version: string;
  /** Unix seconds, as fio's "timestamp". */
  timestamp: number;
  time: string;
  command: string;
  /** Where `daxkit bench` ran; the runs may have happened in the emulated-pmem VM it started. */
  host: RunContext;
  runs: RunReport[];
  failures: string[];
}

export function emptyIo(): IoStats {
  return {
    io_bytes: 0,
    io_kbytes: 0,
    bw_bytes: 0,
    bw: 0,
    iops: 0,
    runtime: 0,
    total_ios: 0,
    lat_ns: { min: 0, max: 0, mean: 0, stddev: 0, N: 0, percentile: { '50.000000': 0, '99.000000': 0, '99.900000': 0 } },
  };
}

export function latNs(h: Histogram): LatNs {
  return {
    min: h.n ? h.min : 0,
    max: h.n ? h.max : 0,
    mean: h.mean,
    stddev: h.stddev,
    N: h.n,
    percentile: { '50.000000': h.percentile(50), '99.000000': h.percentile(99), '99.900000': h.percentile(99.9) },
  };
}

export function ioStats(ops: number, runtimeNs: number, bs: number, latency: HistogramJson[]): IoStats {
  const h = new Histogram();
  for (const l of latency) h.merge(l);
  const sec = runtimeNs / 1e9;
  const bytes = ops * bs;
  return {
    io_bytes: bytes,
    io_kbytes: Math.floor(bytes / 1024),
    bw_bytes: sec > 0 ? bytes / sec : 0,
    bw: sec > 0 ? Math.round(bytes / sec / 1024) : 0,
    iops: sec > 0 ? ops / sec : 0,
    runtime: runtimeNs / 1e6,
    total_ios: ops,
    lat_ns: latNs(h),
  };
}

export function rwOf(dir: Direction, pattern: Pattern): Rw {
  if (dir === 'read') return pattern === 'seq' ? 'read' : 'randread';
  return pattern === 'seq' ? 'write' : 'randwrite';
}

/** The stats of the job's own direction. */
export function jobIo(j: JobReport): IoStats {
  return j.rw === 'read' || j.rw === 'randread' ? j.read : j.write;
}

/**
 * The 95% CI of a job's bandwidth, as a fraction of it: between rounds when
 * there are three or more (the run-to-run spread, which one process cannot
 * see), else within its process; null when unknown.
 */
export function ciOf(j: JobReport): number | null {
  const s = j.sampling;
  if (!s) return null;
  const v = s.ci_between_rounds ?? s.ci_reached;
  return v !== null && Number.isFinite(v) ? v : null;
}

export function isUncertain(j: JobReport): boolean {
  const c = ciOf(j);
  return j.status === 'ok' && (c === null || c > WIDE_CI);
}

/** The page-cache job a job's vs_baseline ratio is to: the baseline file's (else the target's own) pread or pwrite-fdatasync at the same block size and pattern. */
export function referenceOf(jobs: JobReport[], j: JobReport): JobReport | undefined {
  const role: Role = jobs.some((b) => b.role === 'baseline') ? 'baseline' : 'target';
  const backend = j.rw === 'read' || j.rw === 'randread' ? 'pread' : 'pwrite-fdatasync';
  return jobs.find((b) => b.role === role && b.status === 'ok' && b.bs === j.bs && b.pattern === j.pattern && b.backend === backend);
}

/** '±14.3%' */
export function fmtCi(c: number | null): string {
  return `±${c === null ? '?' : (c * 100).toFixed(1)}%`;
}

/** Why a ratio of these figures is uncertain, in a few words, or null. */
export function uncertainty(figures: Array<{ name: string; ci: number | null }>): string | null {
  const wide = figures.filter((f) => f.ci === null || f.ci > WIDE_CI);
  if (wide.length === 0) return null;
  return `uncertain: the 95% CI of ${wide.map((f) => `${f.name} is ${fmtCi(f.ci)}`).join(' and of ')}, wider than ±${WIDE_CI * 100}%`;
}

/** Checks that a parsed file is a daxkit bench document; throws with the reason. */
export function assertDocument(d: unknown, name: string): asserts d is BenchDocument {
  const o = d as Partial<BenchDocument> | null;
  if (o === null || typeof o !== 'object' || o.schema !== SCHEMA || !Array.isArray(o.runs)) {
    throw new Error(`${name} is not a daxkit bench JSON document (no "schema": "${SCHEMA}"): write one with daxkit bench --json > FILE`);
  }
}
