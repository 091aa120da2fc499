// One measurement in a fresh process: a backend x block size x pattern, a
// calibration item, or the page-fault count of a mapping. The parent forks
// this file with the spec as JSON in argv[2] and receives one result over
// IPC; a fresh process per measurement means no JIT state, heap or page
// tables carry over from the previous one.
import { performance } from 'node:perf_hooks';
import { open } from '..';
import { createBackend, Skip, type BackendId, type TargetKind, type TargetSpec, type Verification } from './backends';
import { createCalibration, type CalibrationSpec } from './calibrate';
import { Cursor } from './pattern';
import { sample, timerOverhead, type Sampled, type SamplingOptions } from './sampler';

export interface JobSpec {
  kind: 'job';
  backend: BackendId;
  target: TargetSpec;
  bs: number;
  pattern: 'seq' | 'rand';
  seed: number;
  sampling: SamplingOptions;
  alignedDir: string;
}

export interface FaultSpec {
  kind: 'faults';
  path: string;
  targetKind: TargetKind;
  size: number;
}

export type ChildSpec = JobSpec | CalibrationSpec | FaultSpec;

export interface Faults {
  minor: number;
  major: number;
}

export interface JobOutcome {
  status: 'ok';
  kind: 'job';
  mechanism: string;
  persistence: string | null;
  sampled: Sampled;
  prefault: Faults & { ms: number };
  /** Page faults while sampling. */
  faults: Faults;
  verify: Verification;
  sink: number;
}

export interface CalibrationOutcome {
  status: 'ok';
  kind: 'calibration';
  path: string;
  sampled: Sampled;
  sink: number;
}

export interface FaultOutcome {
  status: 'ok';
  kind: 'faults';
  length: number;
  address: string;
  alignment: number;
  /** Page faults while touching every 4 KiB page once. */
  faults: Faults;
  ms: number;
}

export type ChildResult = JobOutcome | CalibrationOutcome | FaultOutcome | { status: 'skipped'; reason: string } | { status: 'error'; error: string };

function faultsNow(): Faults {
  const r = process.resourceUsage();
  return { minor: r.minorPageFault, major: r.majorPageFault };
}

function since(a: Faults): Faults {
  const b = faultsNow();
  return { minor: b.minor - a.minor, major: b.major - a.major };
}

function runJob(spec: JobSpec): ChildResult {
  const blocks = Math.floor(spec.target.size / spec.bs);
  const cursor = new Cursor(blocks, spec.pattern === 'rand', spec.seed);
  let inst;
  try {
    inst = createBackend(spec.backend, { target: spec.target, bs: spec.bs, cursor, seed: spec.seed, alignedDir: spec.alignedDir });
  } catch (e) {
    if (e instanceof Skip) return { status: 'skipped', reason: e.message };
    throw e;
  }
  try {
    const timerNs = timerOverhead();
    const f0 = faultsNow();
    const p0 = performance.now();
    inst.prefault();
    const prefault = { ...since(f0), ms: performance.now() - p0 };
    const f1 = faultsNow();
    const sampled = sample((k) => inst.run(k), spec.sampling, timerNs);
    const faults = since(f1);
    const verify = inst.verify();
    return { status: 'ok', kind: 'job', mechanism: inst.mechanism, persistence: inst.persistence, sampled, prefault, faults, verify, sink: inst.sink() };
  } finally {
    inst.close();
  }
}

function runCalibration(spec: CalibrationSpec): ChildResult {
  const r = createCalibration(spec);
  try {
    const timerNs = timerOverhead();
    r.prefault();
    const sampled = sample((k) => r.run(k), spec.sampling, timerNs);
    return { status: 'ok', kind: 'calibration', path: r.path, sampled, sink: r.sink() };
  } finally {
    r.close();
  }
}

/**
 * Maps `size` bytes and reads one byte of every 4 KiB page, counting the page
 * faults that takes: one per 2 MiB where the kernel maps huge pages, one per
 * page (or per fault-around window) where it does not.
 */
function runFaults(spec: FaultSpec): ChildResult {
  const m = open(spec.path, { size: spec.size, readonly: true });
  try {
    const u8 = m.bytes;
    let x = 0;
    const t0 = performance.now();
    const f0 = faultsNow();
    for (let i = 0; i < u8.length; i += 4096) x += u8[i];
    const faults = since(f0);
    const ms = performance.now() - t0;
    if (Number.isNaN(x)) throw new Error('unreachable');
    return { status: 'ok', kind: 'faults', length: m.length, address: `0x${m.address.toString(16)}`, alignment: m.alignment, faults, ms };
  } finally {
    m.close();
  }
}

export function runChild(spec: ChildSpec): ChildResult {
  try {
    switch (spec.kind) {
      case 'job':
        return runJob(spec);
      case 'calibration':
        return runCalibration(spec);
      case 'faults':
        return runFaults(spec);
    }
  } catch (e) {
    return { status: 'error', error: (e as Error).stack ?? String(e) };
  }
}

if (require.main === module) {
  const spec = JSON.parse(process.argv[2]) as ChildSpec;
  const result = runChild(spec);
  if (process.send) process.send(result, () => process.disconnect());
  else process.stdout.write(`${JSON.stringify(result)}\n`);
}
