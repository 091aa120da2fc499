// The calibration: the native limits (native/calibrate/calibrate.cc) next to the JS
// paths that should come close to them, each measured in a child process of
// its own with the same sampler as the benchmark jobs.
//
// The memory is the target when it is DAX. Otherwise it is a stand-in (a file
// in /dev/shm): there open() maps with page granularity, so persist() and
// copyPersist() would be msync, and no public option makes daxkit flush cache
// lines on a non-DAX file (libpmem has PMEM_IS_PMEM_FORCE for this). On a
// stand-in the JS persist and copyPersist figures are therefore those of the
// native functions DaxMapping calls, binding.persist() and
// binding.copyPersist() on a cache-line-flush mapping, without DaxMapping's
// own argument checks; 'persist-readonly' measures that part on its own.
import * as fs from 'node:fs';
import { open } from '..';
import { binding, MapMode, PersistMode } from '../binding';
import type { TargetKind } from './backends';
import { fillPattern, scanF64, warmScan } from './pattern';
import type { SamplingOptions } from './sampler';
import { calibrateBinding } from './native';
import { MiB } from './units';

export const CAL_ITEMS = [
  'noop',
  'native-persist',
  'persist',
  'persist-readonly',
  'native-nt',
  'copy-persist',
  'scan-map',
  'scan-heap',
  'scan-pagecache-map',
  'pread-scan',
] as const;
export type CalItem = (typeof CAL_ITEMS)[number];

/** Items measured in ns per operation; the others move CHUNK bytes per operation. */
export const PER_OP_ITEMS: readonly CalItem[] = ['noop', 'native-persist', 'persist', 'persist-readonly'];

export const CAL_DESCRIPTIONS: Record<CalItem, string> = {
  noop: 'an empty native call (node-addon-api), with persist()\'s three arguments',
  'native-persist': 'native: an 8-byte store, CLWB/CLFLUSHOPT of its line, SFENCE (the code persist() runs)',
  persist: 'JS: an 8-byte store through a Float64Array, then persist(offset, 64)',
  'persist-readonly': 'JS: DaxMapping.persist(offset, 64) of a read-only mapping (the JS and N-API path with nothing to flush)',
  'native-nt': 'native: non-temporal copy of 1 MiB + SFENCE (the code copyPersist() runs)',
  'copy-persist': 'JS: copyPersist(offset, 1 MiB Buffer)',
  'scan-map': 'JS: scanF64 over 1 MiB chunks of a mapping',
  'scan-heap': 'JS: the same scanF64 over a heap ArrayBuffer of the same size',
  'scan-pagecache-map': 'JS: scanF64 over 1 MiB chunks of a mapping of the page-cached file',
  'pread-scan': 'JS: fs.readSync of 1 MiB of the same page-cached file into a reused Buffer, then scanF64 of it',
};

export const CHUNK = MiB;
/** Lines persist() cycles through: 1 MiB, as a log being appended to. */
const PERSIST_SPAN = MiB;

export interface CalMemory {
  path: string;
  kind: TargetKind;
  /** Bytes from offset 0 the calibration may overwrite (a multiple of 1 MiB, and of a devdax align). */
  size: number;
}

export interface CalibrationSpec {
  kind: 'calibration';
  item: CalItem;
  /** The pmem, or its stand-in. */
  memory: CalMemory;
  /** A page-cached file for scan-pagecache-map and pread-scan. */
  pagecache: CalMemory;
  sampling: SamplingOptions;
  seed: number;
}

export interface CalRunner {
  /** How this figure was obtained, when that is not obvious from the item. */
  path: string;
  prefault(): void;
  run(k: number): void;
  /** A value that depends on every byte read, reported so that no scan is dead code. */
  sink(): number;
  close(): void;
}

function touch(u8: Uint8Array): void {
  let x = 0;
  for (let i = 0; i < u8.length; i += 4096) x += u8[i];
  if (x < 0) throw new Error('unreachable');
}

/**
 * A cache-line-flush mapping of a non-DAX file, through the native binding
 * (open() would give it msync persistence).
 */
function flushMapping(p: string, size: number): { keep: unknown; buffer: ArrayBuffer; persist(o: number, l: number): void; copyPersist(o: number, s: Uint8Array): void; close(): void } {
  const fd = fs.openSync(p, 'r+');
  try {
    const keep = binding.map(fd, 0, size, false, MapMode.Shared, 2 * MiB, PersistMode.Flush, p, true);
    const h = binding.id(keep);
    return {
      buffer: binding.buffer(h, 0, size),
      persist: (o, l) => binding.persist(h, o, l),
      copyPersist: (o, s) => binding.copyPersist(h, o, s),
      close: () => binding.close(h),
      keep,
    };
  } finally {
    fs.closeSync(fd);
  }
}

function source(seed: number): Uint8Array {
  const src = new Uint8Array(CHUNK);
  fillPattern(src, 0, seed);
  return src;
}

export function createCalibration(spec: CalibrationSpec): CalRunner {
  const mem = spec.memory;
  const dax = mem.kind !== 'pagecache';
  const standIn = dax ? 'DaxMapping' : 'binding.persist()/copyPersist() on a cache-line-flush mapping of the stand-in (no DaxMapping checks)';
  const chunks = mem.size / CHUNK;
  switch (spec.item) {
    case 'noop': {
      const arg = new Uint8Array(64);
      const f = calibrateBinding().calibrateNoop;
      return {
        path: 'calibrateNoop(view, offset, 64), in the calibration module',
        prefault() {},
        run(k) {
          for (let j = 0; j < k; j++) f(arg, (j & 1023) * 64, 64);
        },
        sink: () => 0,
        close() {},
      };
    }
    case 'native-persist': {
      const cal = calibrateBinding();
      const m = open(mem.path, { size: mem.size });
      const view = m.bytes.subarray(0, PERSIST_SPAN);
      return {
        path: 'calibratePersist: a C++ loop (one call per batch)',
        prefault: () => touch(view),
        run: (k) => {
          cal.calibratePersist(view, k);
        },
        sink: () => 0,
        close: () => m.close(),
      };
    }
    case 'persist': {
      const lines = PERSIST_SPAN / 64;
      if (dax) {
        const m = open(mem.path, { size: mem.size });
        const f64 = new Float64Array(m.buffer, 0, PERSIST_SPAN / 8);
        let j = 0;
        return {
          path: `DaxMapping.persist() (${m.flushMechanism})`,
          prefault: () => touch(m.bytes.subarray(0, PERSIST_SPAN)),
          run(k) {
            for (let i = 0; i < k; i++) {
              f64[j * 8] = i;
              m.persist(j * 64, 64);
              if (++j === lines) j = 0;
            }
          },
          sink: () => 0,
          close: () => m.close(),
        };
      }
      // The same loop as above, written out again on purpose: a shared loop
      // taking the persist function would time an extra indirect call.
      const fm = flushMapping(mem.path, mem.size);
      const f64 = new Float64Array(fm.buffer, 0, PERSIST_SPAN / 8);
      let j = 0;
      return {
        path: standIn,
        prefault: () => touch(new Uint8Array(fm.buffer, 0, PERSIST_SPAN)),
        run(k) {
          for (let i = 0; i < k; i++) {
            f64[j * 8] = i;
            fm.persist(j * 64, 64);
            if (++j === lines) j = 0;
          }
        },
        sink: () => 0,
        close: () => fm.close(),
      };
    }
    case 'persist-readonly': {
      const m = open(mem.path, { size: mem.size, readonly: true });
      const lines = PERSIST_SPAN / 64;
      let j = 0;
      return {
        path: 'DaxMapping.persist() of a read-only mapping',
        prefault: () => touch(m.bytes.subarray(0, PERSIST_SPAN)),
        run(k) {
          for (let i = 0; i < k; i++) {
            m.persist(j * 64, 64);
            if (++j === lines) j = 0;
          }
        },
        sink: () => 0,
        close: () => m.close(),
      };
    }
    case 'native-nt': {
      const cal = calibrateBinding();
      const m = open(mem.path, { size: mem.size });
      const src = source(spec.seed);
      return {
        path: 'calibrateNtCopy: a C++ loop (one call per batch)',
        prefault: () => touch(m.bytes),
        run: (k) => {
          cal.calibrateNtCopy(m.bytes, src, k);
        },
        sink: () => 0,
        close: () => m.close(),
      };
    }
    case 'copy-persist': {
      const src = source(spec.seed);
      let c = 0;
      if (dax) {
        const m = open(mem.path, { size: mem.size });
        return {
          path: `DaxMapping.copyPersist() (${m.granularity === 'page' ? 'msync' : 'non-temporal'})`,
          prefault: () => touch(m.bytes),
          run(k) {
            for (let i = 0; i < k; i++) {
              m.copyPersist(c * CHUNK, src);
              if (++c === chunks) c = 0;
            }
          },
          sink: () => 0,
          close: () => m.close(),
        };
      }
      const fm = flushMapping(mem.path, mem.size);
      return {
        path: standIn,
        prefault: () => touch(new Uint8Array(fm.buffer)),
        run(k) {
          for (let i = 0; i < k; i++) {
            fm.copyPersist(c * CHUNK, src);
            if (++c === chunks) c = 0;
          }
        },
        sink: () => 0,
        close: () => fm.close(),
      };
    }
    case 'scan-map':
    case 'scan-pagecache-map': {
      const on = spec.item === 'scan-map' ? mem : spec.pagecache;
      const m = open(on.path, { size: on.size, readonly: true });
      return scanRunner(new Float64Array(m.buffer), `a ${m.kind} mapping of ${on.path}`, () => m.close());
    }
    case 'scan-heap': {
      const heap = new ArrayBuffer(mem.size);
      fillPattern(new Uint8Array(heap), 0, spec.seed);
      return scanRunner(new Float64Array(heap), `a heap ArrayBuffer of ${mem.size} bytes`, () => {});
    }
    case 'pread-scan': {
      const pc = spec.pagecache;
      const fd = fs.openSync(pc.path, 'r');
      const buf = Buffer.allocUnsafeSlow(CHUNK);
      const f64 = new Float64Array(buf.buffer, buf.byteOffset, CHUNK / 8);
      const n = pc.size / CHUNK;
      let c = 0;
      let acc = 0;
      warmScan();
      return {
        path: `fs.readSync of ${pc.path}, then scanF64`,
        prefault() {
          for (let i = 0; i < n; i++) fs.readSync(fd, buf, 0, CHUNK, i * CHUNK);
        },
        run(k) {
          for (let i = 0; i < k; i++) {
            if (fs.readSync(fd, buf, 0, CHUNK, c * CHUNK) !== CHUNK) throw new Error('short read');
            acc += scanF64(f64, 0, CHUNK / 8);
            if (++c === n) c = 0;
          }
        },
        sink: () => acc,
        close: () => fs.closeSync(fd),
      };
    }
  }
}

function scanRunner(f64: Float64Array, what: string, close: () => void): CalRunner {
  warmScan();
  const words = CHUNK / 8;
  const n = f64.length / words;
  let c = 0;
  let acc = 0;
  return {
    path: `scanF64 over ${what}`,
    prefault() {
      for (let i = 0; i < f64.length; i += 512) acc += f64[i];
    },
    run(k) {
      for (let i = 0; i < k; i++) {
        acc += scanF64(f64, c * words, (c + 1) * words);
        if (++c === n) c = 0;
      }
    },
    sink: () => acc,
    close,
  };
}
