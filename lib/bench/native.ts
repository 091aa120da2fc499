// The benchmark's native calibration, a Node-API module of its own
// (native/calibrate/, binding.gyp's daxkit_calibrate target), so that the
// addon every user loads holds nothing but the library. It is looked for the
// way node-gyp-build looks for the addon: next to it in build/Release (or
// build/Debug) of a clone or of an install that compiled, unless
// PREBUILDS_ONLY is set; else in prebuilds/<platform>-<arch>/calibrate/,
// where `npm pack` puts the prebuilt one (scripts/prepack.js). The package
// root is DAXKIT_PREBUILD when that is set, as for the addon.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaxMediaError, DaxSystemError } from '../errors';
import type { ErrorClass } from '../binding';

export interface CalibrateBinding {
  initialize(systemError: ErrorClass, mediaError: ErrorClass): void;
  /** Does nothing; takes persist()'s arguments so that the call costs the same. */
  calibrateNoop(h?: unknown, offset?: number, length?: number): void;
  /** Nanoseconds for `iterations` rounds of store + write-back of one line + fence over target's lines. */
  calibratePersist(target: ArrayBufferView, iterations: number): number;
  /** Nanoseconds for `iterations` non-temporal copies of source (+ fence) into successive slots of target. */
  calibrateNtCopy(target: ArrayBufferView, source: ArrayBufferView, iterations: number): number;
}

const NAME = 'daxkit_calibrate';
// Compiled to dist/lib/bench/, so the package root is three up.
const PACKAGE_ROOT = path.join(__dirname, '..', '..', '..');

/** Where the calibration module would be, in the order they are tried. */
export function calibrationCandidates(): string[] {
  const root = process.env.DAXKIT_PREBUILD || PACKAGE_ROOT;
  const libc = process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  const built = process.env.PREBUILDS_ONLY ? [] : ['Release', 'Debug'].map((t) => path.join(root, 'build', t, `${NAME}.node`));
  return [...built, path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'calibrate', `${NAME}.${libc}.node`)];
}

/** The calibration module's file, or null when this installation has none. */
export function calibrationModule(): string | null {
  return calibrationCandidates().find((f) => fs.existsSync(f)) ?? null;
}

let loaded: CalibrateBinding | undefined;

/** The calibration module, loaded once. @throws Error naming where it was looked for, when there is none. */
export function calibrateBinding(): CalibrateBinding {
  if (loaded !== undefined) return loaded;
  const file = calibrationModule();
  if (file === null) throw new Error(`daxkit's native calibration module is not built: none of ${calibrationCandidates().join(', ')} exists`);
  const m = require(file) as CalibrateBinding;
  m.initialize(DaxSystemError, DaxMediaError);
  loaded = m;
  return m;
}
