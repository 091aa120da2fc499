// The persistence trace of the test build (native/core/trace.h), read in a
// process that loaded it (DAXKIT_PREBUILD=test/native; see helpers.ts
// testBuildEnv): every cache line written back, every line stored
// non-temporally, every fence and every msync, in the order they ran.
import { binding } from '../lib/binding';

export type TraceKind = 'flush' | 'nt' | 'fence' | 'msync' | 'mark';
const KINDS: Record<number, TraceKind> = { 1: 'flush', 2: 'nt', 3: 'fence', 4: 'msync', 5: 'mark' };

export interface TraceEvent {
  /** Per thread, from 0: the order things happened in. */
  seq: number;
  kind: TraceKind;
  /** The line (flush, nt) or the first byte (msync); a mark's value. */
  addr: bigint;
  /** Bytes: the line size, 64 (nt), the msync length; 0 for fences and marks. */
  len: number;
}

interface TraceBinding {
  traceStart(): void;
  traceMark(value: number): void;
  traceTake(): { seq: Float64Array; kind: Uint8Array; addr: BigUint64Array; len: Float64Array; lost: number };
}

const hooks = binding as unknown as Partial<TraceBinding>;

/** Whether this process runs the test build. */
export const isTestBuild = typeof hooks.traceTake === 'function';

function t(): TraceBinding {
  if (!isTestBuild) throw new Error('not the test build of the addon: run with DAXKIT_PREBUILD=test/native (helpers.ts testBuildEnv())');
  return hooks as TraceBinding;
}

/** From now on this thread records. */
export function traceStart(): void {
  t().traceStart();
}

/** A mark in the record (a record's start or its acknowledgement). */
export function traceMark(value: number): void {
  t().traceMark(value);
}

/** What was recorded since the last take; throws if any was lost (the ring overflowed). */
export function traceTake(): TraceEvent[] {
  const r = t().traceTake();
  if (r.lost !== 0) throw new Error(`the trace lost ${r.lost} events: take it more often`);
  return Array.from(r.kind, (k, i) => ({ seq: r.seq[i], kind: KINDS[k] ?? 'mark', addr: r.addr[i], len: r.len[i] }));
}

/** The events of fn alone. */
export function traced(fn: () => void): TraceEvent[] {
  traceTake();
  fn();
  return traceTake();
}
