// Sizes, rates and durations: parsing the command line's, printing the report's.
import { UsageError } from '../errors';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const UNITS: Record<string, number> = { '': 1, b: 1, k: KiB, kib: KiB, m: MiB, mib: MiB, g: GiB, gib: GiB };

/** `64`, `4k`, `4KiB`, `256M`, `1g`: binary units, as fio and dd read them. */
export function parseSize(text: string, option: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (m === null || unit === undefined) {
    throw new UsageError(`${option} must be a size such as 64, 4k, 64KiB, 1M or 2G (got '${text}')`);
  }
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${option} must be a positive size (got '${text}')`);
  return n;
}

/** A positive number of seconds (fractions allowed), returned in milliseconds. */
export function parseSeconds(text: string, option: string, min = 0): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= min) {
    throw new UsageError(`${option} must be a number of seconds greater than ${min} (got '${text}')`);
  }
  return n * 1000;
}

/** `64 B`, `4 KiB`, `1 MiB`: exact when the size is a whole number of the unit. */
export function fmtSize(n: number): string {
  for (const [u, name] of [
    [GiB, 'GiB'],
    [MiB, 'MiB'],
    [KiB, 'KiB'],
  ] as const) {
    if (n >= u && n % u === 0) return `${n / u} ${name}`;
  }
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${n} B`;
}

/** Any byte count, to three digits: `282 KiB`, `1.50 MiB`. */
export function fmtBytes(n: number): string {
  if (n >= GiB) return `${three(n / GiB)} GiB`;
  if (n >= MiB) return `${three(n / MiB)} MiB`;
  if (n >= KiB) return `${three(n / KiB)} KiB`;
  return `${Math.round(n)} B`;
}

/** The block size in a job name: 64, 4k, 64k, 1m (fio's spelling). */
export function bsName(n: number): string {
  if (n % MiB === 0) return `${n / MiB}m`;
  if (n % KiB === 0) return `${n / KiB}k`;
  return String(n);
}

function three(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Bytes per second with a binary unit: `5.12 GiB/s`, `912 MiB/s`. */
export function fmtRate(bytesPerSec: number): string {
  if (!Number.isFinite(bytesPerSec) || bytesPerSec <= 0) return '-';
  if (bytesPerSec >= GiB) return `${three(bytesPerSec / GiB)} GiB/s`;
  if (bytesPerSec >= MiB) return `${three(bytesPerSec / MiB)} MiB/s`;
  if (bytesPerSec >= KiB) return `${three(bytesPerSec / KiB)} KiB/s`;
  return `${three(bytesPerSec)} B/s`;
}

/** Nanoseconds in the unit that keeps three digits: `85 ns`, `1.24 µs`, `3.40 ms`. */
export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  if (ns < 1e3) return `${three(ns)} ns`;
  if (ns < 1e6) return `${three(ns / 1e3)} µs`;
  if (ns < 1e9) return `${three(ns / 1e6)} ms`;
  return `${three(ns / 1e9)} s`;
}

/** Operations per second: `12.3M`, `456k`, `78`. */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '-';
  if (n >= 1e9) return `${three(n / 1e9)}G`;
  if (n >= 1e6) return `${three(n / 1e6)}M`;
  if (n >= 1e3) return `${three(n / 1e3)}k`;
  return three(n);
}

/** A ratio: `1.23x`. */
export function fmtRatio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '-';
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
