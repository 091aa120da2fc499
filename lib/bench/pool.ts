// The results of the child processes pooled into the report: a job's rounds
// into one set of figures, a calibration item's rounds into its median, a
// page-fault count into its verdict, and fio's runs next to daxkit's jobs.
import { BACKENDS, type BackendId, type TargetKind } from './backends';
import { CAL_DESCRIPTIONS, CHUNK, PER_OP_ITEMS, type CalItem } from './calibrate';
import type { CalibrationOutcome, ChildResult, FaultOutcome, JobOutcome } from './child';
import { extentsOf } from './context';
import type { FioResult } from './fio';
import type { BenchOptions } from './options';
import { ciOf, emptyIo, ioStats, isUncertain, rwOf, uncertainty, type CalibrationItem, type FaultReport, type FioComparison, type JobReport, type Pattern, type Role } from './report';
import { jobName, type Item } from './schedule';
import { ciOfMeans, median, Moments, type HistogramJson } from './stats';
import { fmtBytes, MiB } from './units';

export interface Pooled {
  results: Array<JobOutcome | { status: 'skipped'; reason: string } | { status: 'error'; error: string }>;
}

export function mergeJob(role: Role, backend: BackendId, bs: number, pattern: Pattern, pooled: Pooled, opts: BenchOptions): JobReport {
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
      batch: ok.reduce((m, r) => Math.max(m, r.sampled.batch), 0),
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

export function calItem(item: CalItem, results: ChildResult[]): CalibrationItem {
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

export function faultReport(f: { path: string; kind: TargetKind; size: number }, r: ChildResult): FaultReport {
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

/** One comparison per fio job, over the rounds: the median of each side's
 * round bandwidths, each round's fio run next to that round's daxkit job. */
export function fioComparisons(fioRuns: Array<{ item: Extract<Item, { t: 'fio' }>; result: FioResult }>, jobReports: JobReport[]): FioComparison[] {
  const byKey = new Map<string, Array<{ item: Extract<Item, { t: 'fio' }>; result: FioResult }>>();
  for (const f of fioRuns) {
    const k = `${f.item.role}:${f.item.pair.engine}:${f.item.pair.dir}:${f.item.pattern}:${f.item.bs}`;
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push(f);
  }
  return [...byKey.values()].map((runs) => {
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
}
