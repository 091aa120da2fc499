// One target's run: the schedule (calibration, page faults, then every
// block size x pattern with its backends shuffled and fio next to them), a
// fresh child process per measurement with the benchmark's files (or, with
// --drop-caches, the whole page cache) evicted before each, and the results
// pooled into the report.
import { fork, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { answersOf } from './answer';
import { BACKENDS, notApplicable, type BackendId, type TargetKind } from './backends';
import { CAL_DESCRIPTIONS, CAL_ITEMS, CHUNK, PER_OP_ITEMS, type CalItem, type CalMemory, type CalibrationSpec } from './calibrate';
import { cpuBetween, cpuTimes, extentsOf, insideVm } from './context';
import type { ChildResult, ChildSpec, FaultOutcome, JobOutcome, CalibrationOutcome } from './child';
import { fioEngines, fioPairs, runFio, type FioPair, type FioResult } from './fio';
import type { BenchOptions } from './options';
import { rng } from './pattern';
import type { Progress } from './progress';
import {
  ciOf,
  emptyIo,
  ioStats,
  isUncertain,
  jobIo,
  referenceOf,
  rwOf,
  uncertainty,
  type CalibrationItem,
  type CalibrationReport,
  type FaultReport,
  type FioComparison,
  type JobReport,
  type Pattern,
  type Role,
  type RunContext,
  type RunReport,
  type TargetCheck,
  type TargetReport,
} from './report';
import type { SamplingOptions } from './sampler';
import { ciOfMeans, median, Moments, type HistogramJson } from './stats';
import type { Prepared } from './target';
import { bsName, fmtBytes, fmtNs, fmtRate, fmtSize, MiB } from './units';

const CHILD = path.join(__dirname, 'child.js');

export interface RunInput {
  label: string;
  target: Prepared;
  targetReport: TargetReport;
  baseline: Prepared | null;
  baselineReport: TargetReport | null;
  /** The calibration's memory (the target when DAX, else a tmpfs stand-in) and page-cached file. */
  calibration: { memory: CalMemory; pagecache: CalMemory; standIn: boolean } | null;
  faults: Array<{ path: string; kind: TargetKind; size: number }>;
  context: RunContext;
  opts: BenchOptions;
  alignedDir: string;
  progress: Progress;
  notes: string[];
  /** fio's version, or null when absent. */
  fio: string | null;
}

type Item =
  | { t: 'job'; role: Role; prepared: Prepared; backend: BackendId; bs: number; pattern: Pattern }
  | { t: 'fio'; role: Role; prepared: Prepared; pair: FioPair; bs: number; pattern: Pattern }
  | { t: 'cal'; item: CalItem; round: number }
  | { t: 'faults'; path: string; kind: TargetKind; size: number };

function jobName(role: Role, backend: BackendId, pattern: Pattern, bs: number): string {
  return `${role === 'baseline' ? 'baseline:' : ''}${backend}/${rwOf(BACKENDS[backend].dir, pattern)}/${bsName(bs)}`;
}

function itemLabel(i: Item): string {
  switch (i.t) {
    case 'job':
      return `${i.role === 'baseline' ? 'baseline ' : ''}${i.backend} ${i.pattern} ${fmtSize(i.bs)}`;
    case 'fio':
      return `fio ${i.pair.engine} ${rwOf(i.pair.dir, i.pattern)} ${fmtSize(i.bs)}${i.role === 'baseline' ? ' (baseline)' : ''}`;
    case 'cal':
      return `calibration: ${i.item} (round ${i.round + 1})`;
    case 'faults':
      return `page faults: ${i.path}`;
  }
}

/** Seeded Fisher-Yates: the order backends run in within a group. */
function shuffle<T>(xs: T[], next: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function jobsFor(role: Role, p: Prepared, opts: BenchOptions, bs: number, pattern: Pattern): Item[] {
  // The baseline is there for its page-cache figures, not for every backend.
  const ids: BackendId[] = role === 'baseline' ? opts.baselineBackends : opts.backends;
  return ids
    .filter((b) => opts.backends.includes(b) && notApplicable(b, p.spec.kind) === null)
    .map((backend) => ({ t: 'job' as const, role, prepared: p, backend, bs, pattern }));
}

/**
 * Calibration rounds: a ratio is only as good as the spread between
 * processes, which within-process sampling cannot see (JIT decisions,
 * physical memory, neighbours), so each item runs in several processes and
 * the ratios are taken between items measured next to each other.
 */
export const CAL_ROUNDS = 3;

function schedule(input: RunInput, engines: Set<string>): Item[] {
  const { opts } = input;
  const next = rng(opts.seed ^ 0x51ed);
  const items: Item[] = [];
  if (input.calibration) {
    const same = input.calibration.pagecache.path === input.calibration.memory.path;
    const list = CAL_ITEMS.filter((item) => !(same && item === 'scan-pagecache-map'));
    const calRounds = Math.max(CAL_ROUNDS, opts.rounds);
    // Every other round in reverse, so that neither item of a pair always goes first.
    for (let r = 0; r < calRounds; r++) for (const item of r % 2 ? [...list].reverse() : list) items.push({ t: 'cal', item, round: r });
  }
  for (const f of input.faults) items.push({ t: 'faults', ...f });
  for (let r = 0; r < opts.rounds; r++) {
    for (const bs of opts.bs) {
      for (const pattern of opts.patterns) {
        const group = jobsFor('target', input.target, opts, bs, pattern);
        if (input.baseline) group.push(...jobsFor('baseline', input.baseline, opts, bs, pattern));
        items.push(...shuffle(group, next));
        if (input.fio === null || !opts.fio) continue;
        const fioFor = (role: Role, p: Prepared): void => {
          const pairs = role === 'baseline' ? fioPairs('pagecache').filter((x) => x.engine === 'psync') : fioPairs(p.spec.kind);
          for (const pair of pairs) {
            if (!engines.has(pair.engine) || !opts.backends.includes(pair.backend)) continue;
            items.push({ t: 'fio', role, prepared: p, pair, bs, pattern });
          }
        };
        fioFor('target', input.target);
        if (input.baseline) fioFor('baseline', input.baseline);
      }
    }
  }
  return items;
}

/** What an item is expected to take, for the progress estimate (ms). */
function weight(i: Item, o: BenchOptions): number {
  if (i.t === 'faults') return 500;
  return o.warmupMs + o.timeMs + 300;
}

function runChild(spec: ChildSpec, timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = fork(CHILD, [JSON.stringify(spec)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
    let result: ChildResult | null = null;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 20000) stderr += d.toString();
    });
    child.on('message', (m) => {
      result = m as ChildResult;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: 'error', error: e.message });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result !== null) resolve(result);
      else resolve({ status: 'error', error: `the child process ${signal ? `was killed by ${signal}` : `exited with ${code}`} before reporting${stderr ? `: ${stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}` });
    });
  });
}

/**
 * Before each measurement, so that none inherits the cache (or the dirty
 * pages) of the one before: sync, then the benchmark's own files are evicted
 * (posix_fadvise(POSIX_FADV_DONTNEED) of each through dd iflag=nocache
 * count=0, which is what fio's invalidate=1 does and needs no privilege).
 * With --drop-caches, as root and outside the VM, the whole page cache goes
 * instead (echo 3 > /proc/sys/vm/drop_caches): opt-in, as every other program
 * on the machine loses its cache too. In the VM the guest reads node itself
 * over 9p, and a global drop would make every child start 10 s slower.
 */
export class CacheDropper {
  dropped = 0;
  private mode: 'machine' | 'files';
  private why: string;

  constructor(
    machine: boolean,
    private readonly files: string[],
  ) {
    this.mode = 'files';
    this.why = 'pass --drop-caches, as root, to drop it';
    if (machine && process.getuid?.() !== 0) this.why = '--drop-caches needs root (/proc/sys/vm/drop_caches)';
    else if (machine && insideVm()) this.why = '--drop-caches was given, but in the VM a global drop would also evict node and its modules, which the guest reads over 9p';
    else if (machine) this.mode = 'machine';
  }

  drop(): void {
    spawnSync('sync');
    if (this.mode === 'machine') {
      try {
        fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
        this.dropped++;
        return;
      } catch (e) {
        this.mode = 'files';
        this.why = `writing /proc/sys/vm/drop_caches failed (${(e as NodeJS.ErrnoException).code})`;
      }
    }
    let ok = this.files.length > 0;
    for (const f of this.files) ok = spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']).status === 0 && ok;
    if (ok) this.dropped++;
  }

  describe(items: number): RunReport['page_cache'] {
    if (this.mode === 'machine' && this.dropped === items) {
      return {
        dropped: true,
        scope: 'machine',
        warm: false,
        detail: `Caches were cold: the whole page cache was dropped (--drop-caches: sync; echo 3 > /proc/sys/vm/drop_caches) before each of the ${items} measurements.`,
      };
    }
    const files = this.files.length
      ? `before ${this.dropped} of the ${items} measurements the benchmark's own files (${this.files.join(', ')}) were written back and evicted (sync, then posix_fadvise DONTNEED through dd iflag=nocache, as fio's invalidate=1 does; tmpfs pages stay, being the files themselves)`
      : 'the benchmark\'s data is on device DAX, which has no page cache';
    return {
      dropped: this.dropped > 0,
      scope: this.dropped > 0 ? 'files' : 'none',
      warm: true,
      detail: `Caches were warm: the machine's page cache was not dropped (${this.why}); ${files}. Each job reads its working set once before timing.`,
    };
  }
}

interface Pooled {
  results: Array<JobOutcome | { status: 'skipped'; reason: string } | { status: 'error'; error: string }>;
}

function mergeJob(role: Role, backend: BackendId, bs: number, pattern: Pattern, pooled: Pooled, opts: BenchOptions): JobReport {
  const dir = BACKENDS[backend].dir;
  const base: JobReport = {
    jobname: jobName(role, backend, pattern, bs),
    role,
    backend,
    op: BACKENDS[backend].op,
    rw: rwOf(dir, pattern),
    bs,
    pattern,
    status: 'ok',
    read: emptyIo(),
    write: emptyIo(),
    vs_baseline: null,
    uncertain: false,
  };
  const ok = pooled.results.filter((r): r is JobOutcome => r.status === 'ok');
  const err = pooled.results.find((r) => r.status === 'error') as { error: string } | undefined;
  const skip = pooled.results.find((r) => r.status === 'skipped') as { reason: string } | undefined;
  if (ok.length === 0 || err) {
    return { ...base, status: err ? 'error' : 'skipped', reason: err ? err.error : (skip?.reason ?? 'not run') };
  }
  const moments = new Moments();
  const lat: HistogramJson[] = [];
  let ops = 0;
  let runtimeNs = 0;
  const roundBw: number[] = [];
  for (const r of ok) {
    moments.merge(r.sampled.moments);
    lat.push(r.sampled.latency);
    ops += r.sampled.ops;
    runtimeNs += r.sampled.runtimeNs;
    roundBw.push((r.sampled.ops * bs) / (r.sampled.runtimeNs / 1e9));
  }
  const io = ioStats(ops, runtimeNs, bs, lat);
  const failed = ok.find((r) => !r.verify.ok);
  const sum = (f: (r: JobOutcome) => number): number => ok.reduce((a, r) => a + f(r), 0);
  const report: JobReport = {
    ...base,
    mechanism: ok[0].mechanism,
    persistence: ok[0].persistence,
    read: dir === 'read' ? io : emptyIo(),
    write: dir === 'write' ? io : emptyIo(),
    sampling: {
      rounds: ok.length,
      warmup_ms: sum((r) => r.sampled.warmupMs) / ok.length,
      samples: moments.n,
      batch: Math.max(...ok.map((r) => r.sampled.batch)),
      lat_mode: ok.some((r) => r.sampled.latMode === 'batch') ? 'batch' : 'op',
      timer_overhead_ns: sum((r) => r.sampled.timerNs) / ok.length,
      ci_level: 0.95,
      ci_target: opts.ci,
      ci_reached: moments.ciRel,
      stopped_by: ok.map((r) => r.sampled.stoppedBy),
      elapsed_ms: sum((r) => r.sampled.elapsedMs),
      round_bw_bytes: roundBw,
      ci_between_rounds: ciOfMeans(roundBw),
    },
    faults: {
      prefault_minor: sum((r) => r.prefault.minor),
      prefault_major: sum((r) => r.prefault.major),
      minor: sum((r) => r.faults.minor),
      major: sum((r) => r.faults.major),
    },
    verify: failed ? failed.verify : { ok: true, blocks: sum((r) => r.verify.blocks), detail: ok[0].verify.detail },
  };
  return { ...report, uncertain: isUncertain(report) };
}

function calItem(item: CalItem, results: ChildResult[]): CalibrationItem {
  const ok = results.filter((r): r is CalibrationOutcome => r.status === 'ok' && r.kind === 'calibration');
  const perOp = PER_OP_ITEMS.includes(item);
  const unit = perOp ? 'ns' : 'bytes/s';
  if (ok.length !== results.length) {
    const e = results.find((r) => r.status !== 'ok') as { error?: string; reason?: string } | undefined;
    return { description: CAL_DESCRIPTIONS[item], path: '', value: NaN, unit, ci_reached: NaN, samples: 0, rounds: 0, round_values: [], status: 'error', error: e?.error ?? e?.reason ?? 'not run' };
  }
  const m = new Moments();
  const values = ok.map((r) => {
    m.merge(r.sampled.moments);
    return perOp ? r.sampled.runtimeNs / r.sampled.ops : (r.sampled.ops * CHUNK) / (r.sampled.runtimeNs / 1e9);
  });
  return { description: CAL_DESCRIPTIONS[item], path: ok[0].path, value: median(values), unit, ci_reached: m.ciRel, samples: m.n, rounds: ok.length, round_values: values, status: 'ok' };
}

function checkTargets(items: Partial<Record<CalItem, CalibrationItem>>, standIn: boolean): TargetCheck[] {
  const v = (i: CalItem): number => (items[i]?.status === 'ok' ? items[i]!.value : NaN);
  const rv = (i: CalItem, r: number): number => (items[i]?.status === 'ok' ? (items[i]!.round_values[r] ?? NaN) : NaN);
  const rounds = Math.max(0, ...Object.values(items).map((x) => x?.rounds ?? 0));
  const out: TargetCheck[] = [];
  // The ratio of each round, from items measured next to each other; the
  // verdict is on their median.
  const mk = (id: TargetCheck['id'], claim: string, ratioOf: (r: number) => number, goal: number, cmp: '<=' | '>=', numbers: string, note: string | null, of: CalItem[]): void => {
    const meets = (x: number): boolean => (cmp === '<=' ? x <= goal : x >= goal);
    const rr: number[] = [];
    for (let r = 0; r < rounds; r++) rr.push(ratioOf(r));
    const valid = rr.length > 0 && rr.every(Number.isFinite);
    const ratio = valid ? median(rr) : NaN;
    const unsure = uncertainty(of.map((i) => ({ name: i, ci: items[i]?.status === 'ok' && Number.isFinite(items[i]!.ci_reached) ? items[i]!.ci_reached : null })));
    out.push({ id, claim, ratio: valid ? ratio : null, round_ratios: valid ? rr : [], rounds_met: valid ? rr.filter(meets).length : 0, goal, cmp, met: valid ? meets(ratio) : null, numbers, note, uncertain: valid ? unsure : null });
  };
  const nat = v('native-persist');
  const noop = v('noop');
  const js = v('persist');
  const ro = v('persist-readonly');
  mk(
    'persist-64',
    'JS persist(64 B) within 1.2x of (native flush+fence of one line + one empty native call)',
    (r) => rv('persist', r) / (rv('native-persist', r) + rv('noop', r)),
    1.2,
    '<=',
    `persist ${fmtNs(js)} vs native ${fmtNs(nat)} + empty call ${fmtNs(noop)} = ${fmtNs(nat + noop)}; DaxMapping.persist with nothing to flush: ${fmtNs(ro)}, of which ${fmtNs(ro - noop)} beyond an empty call`,
    standIn
      ? 'The JS figure is binding.persist() on a cache-line-flush mapping of the tmpfs stand-in: open() maps non-DAX files with msync persistence and has no option to force cache-line flushing, so DaxMapping.persist() itself cannot flush lines here (its cost without a flush is the read-only figure).'
      : null,
    ['persist', 'native-persist', 'noop'],
  );
  const nt = v('native-nt');
  const cp = v('copy-persist');
  mk('copy-persist-1m', 'copyPersist(1 MiB) at >= 0.9x the native non-temporal copy bandwidth', (r) => rv('copy-persist', r) / rv('native-nt', r), 0.9, '>=', `copyPersist ${fmtRate(cp)} vs native ${fmtRate(nt)}`, standIn ? 'The JS figure is binding.copyPersist() on a cache-line-flush mapping of the stand-in (see above).' : null, ['copy-persist', 'native-nt']);
  const sm = v('scan-map');
  const sh = v('scan-heap');
  mk('scan-vs-heap', 'a JS scan of a mapping at >= 0.95x the same scan of a heap ArrayBuffer', (r) => rv('scan-map', r) / rv('scan-heap', r), 0.95, '>=', `mapping ${fmtRate(sm)} vs heap ${fmtRate(sh)}`, null, ['scan-map', 'scan-heap']);
  const pcItem: CalItem = items['scan-pagecache-map'] ? 'scan-pagecache-map' : 'scan-map';
  const spc = v(pcItem);
  const rs = v('pread-scan');
  mk('scan-vs-read', 'a mapping scan at >= 1.7x read()+scan of the same page-cached file', (r) => rv(pcItem, r) / rv('pread-scan', r), 1.7, '>=', `mapping scan ${fmtRate(spc)} vs read()+scan ${fmtRate(rs)}`, null, [pcItem, 'pread-scan']);
  return out;
}

function faultReport(f: { path: string; kind: TargetKind; size: number }, r: ChildResult): FaultReport {
  const base = { path: f.path, kind: f.kind, length: f.size, pages_4k: f.size / 4096, huge_2m: f.size / (2 * MiB) };
  if (r.status !== 'ok' || r.kind !== 'faults') {
    const why = r.status === 'error' ? r.error : r.status === 'skipped' ? r.reason : 'unexpected result';
    return { ...base, address: '', alignment: 0, address_2m_aligned: false, minor: 0, major: 0, bytes_per_fault: 0, ms: 0, verdict: why, status: 'error', error: why };
  }
  const o = r as FaultOutcome;
  const faults = o.faults.minor + o.faults.major;
  const aligned = BigInt(o.address) % BigInt(2 * MiB) === 0n;
  const perFault = faults > 0 ? o.length / faults : o.length;
  let verdict: string;
  if (f.kind === 'pagecache') {
    verdict = `page cache: ${faults} faults, ${fmtBytes(perFault)} per fault (a read fault maps the pages around it that are in the cache: fault-around, large folios)`;
  } else if (faults <= base.huge_2m * 1.25 + 64) {
    verdict = `huge pages: ${faults} faults for ${base.huge_2m} 2 MiB pages (4 KiB pages would take ${base.pages_4k})`;
  } else {
    verdict = `NOT huge pages: ${faults} faults where 2 MiB pages would take about ${base.huge_2m} (mapping address ${aligned ? '' : 'not '}2 MiB-aligned)`;
    // A file's blocks must be 2 MiB-aligned on the device too, which is the
    // filesystem's doing (mkfs.ext4 -E stride=512, mkfs.xfs -d su=2m,sw=1).
    const ex = f.kind === 'fsdax' ? extentsOf(f.path) : null;
    if (ex) verdict += `; the file's extents: ${ex.note}`;
  }
  return { ...base, length: o.length, address: o.address, alignment: o.alignment, address_2m_aligned: aligned, minor: o.faults.minor, major: o.faults.major, bytes_per_fault: perFault, ms: o.ms, verdict, status: 'ok' };
}

export async function executeRun(input: RunInput): Promise<RunReport> {
  const { opts, progress } = input;
  const engines = input.fio !== null && opts.fio ? fioEngines() : new Set<string>();
  const all = schedule(input, engines);
  const sampling: SamplingOptions = { warmupMs: opts.warmupMs, timeMs: opts.timeMs, minTimeMs: Math.min(opts.timeMs, Math.max(50, opts.timeMs / 10)), ci: opts.ci, minSamples: 30 };
  const calSampling: SamplingOptions = { ...sampling, minBatchNs: 1e6 };
  const files = [input.target, input.baseline].filter((p): p is Prepared => p !== null && p.spec.kind !== 'devdax').map((p) => p.spec.path);
  const dropper = new CacheDropper(opts.dropCaches, files);
  const timeoutMs = (opts.warmupMs + opts.timeMs) * 3 + 600_000;
  progress.start(all.length, all.reduce((a, i) => a + weight(i, opts), 0));
  const cpu0 = cpuTimes();

  const jobs = new Map<string, { role: Role; backend: BackendId; bs: number; pattern: Pattern; pooled: Pooled }>();
  const cal = new Map<CalItem, ChildResult[]>();
  const faults: FaultReport[] = [];
  const fioRuns: Array<{ item: Extract<Item, { t: 'fio' }>; result: FioResult }> = [];

  for (const item of all) {
    progress.begin(itemLabel(item));
    dropper.drop();
    switch (item.t) {
      case 'job': {
        const spec: ChildSpec = {
          kind: 'job',
          backend: item.backend,
          target: item.prepared.spec,
          bs: item.bs,
          pattern: item.pattern,
          seed: opts.seed,
          sampling,
          alignedDir: input.alignedDir,
        };
        const r = await runChild(spec, timeoutMs);
        const key = jobName(item.role, item.backend, item.pattern, item.bs);
        let e = jobs.get(key);
        if (!e) {
          e = { role: item.role, backend: item.backend, bs: item.bs, pattern: item.pattern, pooled: { results: [] } };
          jobs.set(key, e);
        }
        if (r.status === 'ok' && r.kind !== 'job') e.pooled.results.push({ status: 'error', error: 'unexpected result' });
        else e.pooled.results.push(r as JobOutcome);
        if (r.status === 'error') progress.log(`daxkit bench: ${key} failed: ${r.error.split('\n')[0]}`);
        break;
      }
      case 'cal': {
        const c = input.calibration!;
        const spec: CalibrationSpec = { kind: 'calibration', item: item.item, memory: c.memory, pagecache: c.pagecache, sampling: calSampling, seed: opts.seed };
        const r = await runChild(spec, timeoutMs);
        if (!cal.has(item.item)) cal.set(item.item, []);
        cal.get(item.item)!.push(r);
        break;
      }
      case 'faults': {
        const r = await runChild({ kind: 'faults', path: item.path, targetKind: item.kind, size: item.size }, timeoutMs);
        faults.push(faultReport(item, r));
        break;
      }
      case 'fio': {
        const rw = rwOf(item.pair.dir, item.pattern);
        const result = runFio({ engine: item.pair.engine, rw, bs: item.bs, path: item.prepared.spec.path, size: item.prepared.spec.size, timeMs: opts.timeMs, warmupMs: opts.warmupMs });
        fioRuns.push({ item, result });
        break;
      }
    }
    progress.end(weight(item, opts));
  }

  const context: RunContext = { ...input.context, cpu_during_run: cpuBetween(cpu0, cpuTimes()) };
  const jobReports = [...jobs.values()].map((j) => mergeJob(j.role, j.backend, j.bs, j.pattern, j.pooled, opts));
  // Ratios to the page-cache baseline: the baseline file's pread and
  // pwrite-fdatasync when there is one, else the target's own.
  for (const j of jobReports) {
    if (j.status !== 'ok') continue;
    const ref = referenceOf(jobReports, j);
    const b = ref ? jobIo(ref).bw_bytes : 0;
    if (b > 0) j.vs_baseline = jobIo(j).bw_bytes / b;
  }

  // One comparison per fio job, over the rounds: the median of each side's
  // round bandwidths, each round's fio run next to that round's daxkit job.
  const byKey = new Map<string, Array<{ item: Extract<Item, { t: 'fio' }>; result: FioResult }>>();
  for (const f of fioRuns) {
    const k = `${f.item.role}:${f.item.pair.engine}:${f.item.pair.dir}:${f.item.pattern}:${f.item.bs}`;
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push(f);
  }
  const comparisons: FioComparison[] = [...byKey.values()].map((runs) => {
    const item = runs[0].item;
    const name = jobName(item.role, item.pair.backend, item.pattern, item.bs);
    const dj = jobReports.find((j) => j.jobname === name && j.status === 'ok');
    const good = runs.filter((x) => x.result.ok).map((x) => (x.result as Extract<FioResult, { ok: true }>).stats);
    const fioBws = good.map((x) => x.bw_bytes);
    const fbw = median(fioBws);
    // The fio run whose bandwidth is the median stands for the others.
    const mid = good.find((x) => x.bw_bytes === fbw) ?? good.sort((a, b) => a.bw_bytes - b.bw_bytes)[good.length >> 1] ?? null;
    const dbw = dj ? median(dj.sampling!.round_bw_bytes) : null;
    const ratio = dbw !== null && fbw > 0 ? dbw / fbw : null;
    const kind = item.role === 'baseline' ? 'pagecache' : item.prepared.spec.kind;
    const failed = runs.find((x) => !x.result.ok)?.result as Extract<FioResult, { ok: false }> | undefined;
    return {
      role: item.role,
      engine: item.pair.engine,
      rw: rwOf(item.pair.dir, item.pattern),
      bs: item.bs,
      pattern: item.pattern,
      what: item.pair.what,
      command: runs[0].result.command,
      fio: mid,
      fio_round_bw_bytes: fioBws,
      ...(failed ? { error: failed.error } : {}),
      daxkit_job: name,
      daxkit_bw_bytes: dbw,
      ratio,
      extra_ns_per_op: dbw !== null && fbw > 0 ? (1e9 * item.bs) / dbw - (1e9 * item.bs) / fbw : null,
      agree: ratio === null ? null : Math.abs(ratio - 1) <= 0.1,
      uncertain: dj && ratio !== null ? uncertainty([{ name: `daxkit's ${item.pair.backend}`, ci: ciOf(dj) }]) : null,
      trust_check: item.pair.engine === 'psync' && kind === 'pagecache',
    };
  });

  let calibration: CalibrationReport | null = null;
  if (input.calibration) {
    const items: Partial<Record<CalItem, CalibrationItem>> = {};
    for (const [k, rs] of cal) items[k] = calItem(k, rs);
    const c = input.calibration;
    calibration = {
      memory: {
        path: c.memory.path,
        kind: c.memory.kind,
        stand_in: c.standIn,
        note: c.standIn
          ? `No DAX here: a file in tmpfs (${c.memory.path}), which is memory with no disk behind it, stands in for pmem, so these are daxkit's costs on ordinary memory`
          : `The target's own memory (${c.memory.kind})`,
      },
      pagecache: { path: c.pagecache.path },
      items,
      targets: checkTargets(items, c.standIn),
    };
  }

  const notes = [...input.notes];
  if (input.context.vm.inside && comparisons.some((c) => c.trust_check && c.agree === false)) {
    notes.push(
      "fio's psync figures and daxkit's differ here at small block sizes because the CPU is emulated: each side's per-operation costs are distorted differently (daxkit's JavaScript, N-API and fs binding calls; fio's clock reads around every I/O, which cost about a microsecond each under TCG), so either can come out ahead; where the copy dominates (64 KiB and more) they meet. Whether daxkit measures the page cache as fio does is for a run on a host to show.",
    );
  }
  const skipped = jobReports.filter((j) => j.status === 'skipped');
  const seen = new Set<string>();
  for (const s of skipped) {
    const k = `${s.role}:${s.backend}:${s.reason}`;
    if (seen.has(k)) continue;
    seen.add(k);
    const sizes = skipped.filter((x) => x.role === s.role && x.backend === s.backend && x.reason === s.reason).map((x) => fmtSize(x.bs));
    notes.push(`${s.role === 'baseline' ? 'baseline ' : ''}${s.backend} skipped (${[...new Set(sizes)].join(', ')}): ${s.reason}`);
  }
  for (const b of opts.backends) {
    const why = notApplicable(b, input.target.spec.kind);
    if (why !== null) notes.push(`${b} not run on this ${input.target.spec.kind} target: ${why}`);
  }

  return {
    label: input.label,
    target: input.targetReport,
    baseline: input.baselineReport,
    context,
    options: { full: opts.full, size: input.target.spec.size, bs: opts.bs, patterns: opts.patterns, time_ms: opts.timeMs, warmup_ms: opts.warmupMs, ci_target: opts.ci, rounds: opts.rounds, seed: opts.seed },
    page_cache: dropper.describe(all.length),
    jobs: jobReports,
    answer: answersOf(input.target.spec.kind, jobReports),
    fio: { version: input.fio, skipped: input.fio === null ? 'fio is not installed (apt-get install fio)' : opts.fio ? null : opts.full ? '--no-fio was given' : 'not part of the quick set (--fio or --full runs it)', comparisons },
    calibration,
    page_faults: faults,
    notes,
  };
}
