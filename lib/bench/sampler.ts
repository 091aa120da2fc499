// Warm-up, then sampling until the 95% confidence interval of the mean time
// per operation is within the bound, or the time cap.
//
// Throughput comes from batches of k operations timed as a whole, k chosen so
// that a batch lasts at least TARGET_BATCH_NS and the timer's own cost is
// noise. Latency percentiles need each operation timed on its own, which is
// only honest when an operation lasts much longer than the timer takes to
// read (performance.now() costs ~20-60 ns): then every batch is followed by
// k individually timed operations. Shorter operations get the mean of each
// batch as their latency sample, and the result says so (latMode 'batch').
import { performance } from 'node:perf_hooks';
import { Histogram, Moments, type HistogramJson, type MomentsJson } from './stats';

const TARGET_BATCH_NS = 20_000;
/** Operations shorter than this many timer costs are not timed one by one. */
const OP_TIMING_FACTOR = 20;

export interface SamplingOptions {
  warmupMs: number;
  /** Time cap of the sampling phase. */
  timeMs: number;
  /** Sample at least this long even when the interval is reached sooner. */
  minTimeMs: number;
  /** Stop when the 95% CI half-width is within this fraction of the mean. */
  ci: number;
  minSamples: number;
  /** A timed batch lasts at least this long (default 20 µs). */
  minBatchNs?: number;
}

export interface Sampled {
  /** Operations in the timed batches (the throughput figure's). */
  ops: number;
  /** Time spent in the timed batches, ns. */
  runtimeNs: number;
  /** Batch means, ns per operation: what the confidence interval is of. */
  moments: MomentsJson;
  /** Latency samples, ns: single operations ('op') or batch means ('batch'). */
  latency: HistogramJson;
  latMode: 'op' | 'batch';
  batch: number;
  ciRel: number;
  stoppedBy: 'ci' | 'time';
  warmupMs: number;
  elapsedMs: number;
  timerNs: number;
}

/** The median cost of reading performance.now() twice in a row, ns. */
export function timerOverhead(): number {
  // The first rounds run in the interpreter, where the call costs several
  // times more: only the last round, from optimised code, counts.
  let best = Infinity;
  for (let round = 0; round < 10; round++) {
    const d = new Float64Array(4000);
    for (let i = 0; i < d.length; i++) {
      const a = performance.now();
      const b = performance.now();
      d[i] = (b - a) * 1e6;
    }
    d.sort();
    if (round >= 6) best = Math.min(best, d[d.length >> 1]);
  }
  return best;
}

export function sample(run: (k: number) => void, o: SamplingOptions, timerNs = timerOverhead()): Sampled {
  // Warm-up: doubling batches until one takes 1 ms, then more of the same
  // until the warm-up time is spent, so the JIT has compiled the loop and
  // the estimate of one operation's cost comes from optimised code.
  // The cost of one operation is the fastest batch of the final size: one
  // batch that met a GC pause, a compilation on the other CPU or a
  // neighbour would otherwise make every later batch too small.
  const w0 = performance.now();
  let k = 1;
  let opNs = Infinity;
  for (;;) {
    const t0 = performance.now();
    run(k);
    const t1 = performance.now();
    const dt = (t1 - t0) * 1e6;
    // A batch too short for the timer to see counts as 1 ns per operation.
    if (dt >= 1e6 || t1 - w0 >= o.warmupMs) opNs = Math.min(opNs, Math.max(dt / k, 1));
    if (t1 - w0 >= o.warmupMs) break;
    if (dt < 1e6) k *= 2;
  }
  const warmupMs = performance.now() - w0;

  const batch = Math.max(1, Math.ceil(Math.max(o.minBatchNs ?? TARGET_BATCH_NS, 400 * timerNs) / opNs));
  const latMode: 'op' | 'batch' = batch === 1 || opNs >= OP_TIMING_FACTOR * timerNs ? 'op' : 'batch';
  const probes = latMode === 'op' && batch > 1 ? batch : 0;
  const moments = new Moments();
  const hist = new Histogram();
  let ops = 0;
  let runtimeNs = 0;
  let stoppedBy: 'ci' | 'time' = 'time';
  const s0 = performance.now();
  for (;;) {
    const t0 = performance.now();
    run(batch);
    const t1 = performance.now();
    const dt = (t1 - t0) * 1e6;
    ops += batch;
    runtimeNs += dt;
    moments.add(dt / batch);
    if (latMode === 'batch') hist.record(dt / batch);
    else if (probes === 0) hist.record(dt);
    for (let i = 0; i < probes; i++) {
      const a = performance.now();
      run(1);
      const b = performance.now();
      hist.record((b - a) * 1e6);
    }
    const el = performance.now() - s0;
    if (moments.n >= o.minSamples && el >= o.minTimeMs && moments.ciRel <= o.ci) {
      stoppedBy = 'ci';
      break;
    }
    if (el >= o.timeMs) break;
  }
  return {
    ops,
    runtimeNs,
    moments: moments.toJSON(),
    latency: hist.toJSON(),
    latMode,
    batch,
    ciRel: moments.ciRel,
    stoppedBy,
    warmupMs,
    elapsedMs: performance.now() - s0,
    timerNs,
  };
}
