// One target's run: the schedule (calibration, page faults, then every
// block size x pattern with its backends shuffled and fio next to them), a
// fresh child process per measurement with the benchmark's files (or, with
// --drop-caches, the whole page cache) evicted before each, and the results
// pooled into the report.
import { answersOf } from './answer';
import { CacheDropper } from './cache-dropper';
import type { CalItem } from './calibrate';
import type { CalibrationSpec } from './calibrate';
import type { ChildResult, ChildSpec, JobOutcome } from './child';
import { runChild } from './child-runner';
import { cpuBetween, cpuTimes } from './context';
import { fioEngines, runFio, type FioResult } from './fio';
import { checkTargets } from './goals';
import { calItem, faultReport, fioComparisons, mergeJob, type Pooled } from './pool';
import { notApplicable, type BackendId } from './backends';
import { jobIo, referenceOf, rwOf, type CalibrationItem, type CalibrationReport, type FaultReport, type Pattern, type Role, type RunContext, type RunReport } from './report';
import type { SamplingOptions } from './sampler';
import { itemLabel, jobName, schedule, weight, type Item, type RunInput } from './schedule';
import type { Prepared } from './target';
import { fmtSize } from './units';

export type { RunInput } from './schedule';

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

  const comparisons = fioComparisons(fioRuns, jobReports);

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
