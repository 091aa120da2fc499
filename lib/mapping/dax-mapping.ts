import { constants as bufferConstants } from 'node:buffer';
import * as util from 'node:util';
import { binding, type MappingStats, type MappingId, type NativeHandle } from '../binding';
import { mappingBadRanges } from '../pmem/badblocks';
import type { Persistence } from '../pmem/persistence';
import type { BadRange } from '../pmem/ranges';
import { DaxError, invalidThis, outOfRange } from '../errors';
import { toBytes, validateInteger, validateRange } from '../validate';
import { deepFlush, type DeepFlushResult } from './deep-flush';

/** `'auto'`: MAP_SYNC where the kernel allows it, else MAP_SHARED; `'required'`: MAP_SYNC or throw; `'off'`: MAP_SHARED. */
export type SyncMode = 'auto' | 'required' | 'off';
/** `'devdax'`: a /dev/daxX.Y device; `'fsdax'`: a file with DAX in effect; `'pagecache'`: anything else. */
export type MappingKind = 'devdax' | 'fsdax' | 'pagecache';
/** The smallest unit `persist()` makes durable on its own (libpmem2's store granularity). */
export type Granularity = 'byte' | 'cacheline' | 'page' | 'none';
/** What `persist()` runs: a cache-line write-back instruction, msync(2), or nothing. */
export type FlushMechanism = 'clwb' | 'clflushopt' | 'clflush' | 'msync' | 'none';

export const cpu = binding.cpuInfo();

// Node < 22 caps an ArrayBuffer over external memory at buffer.constants.MAX_LENGTH
// (4 GiB); larger mappings are reached through windows.
const MAX_BUFFER = bufferConstants.MAX_LENGTH;
const WINDOW_STEP = Math.floor(MAX_BUFFER / 2);

// process.on('SIGBUS', ...) makes libuv install its own SIGBUS handler over
// daxkit's; removing the last listener puts back the default, which kills.
// Node's own 'newListener'/'removeListener' listeners do that, and they were
// registered before these, so by the time these run the disposition has
// changed and daxkit's handler can be put back on top (chaining to libuv's,
// so the listener still hears kill()ed signals). The flag makes the next
// guarded call check again, whatever the order of listeners turns out to be.
let sigbusChanged = false;
function onListener(event: string | symbol): void {
  if (event !== 'SIGBUS') return;
  sigbusChanged = true;
  binding.reassertSigbus();
}
process.on('newListener', onListener);
process.on('removeListener', onListener);

function sigbusGuard(): void {
  sigbusChanged = false;
  binding.reassertSigbus();
}

/** @internal What open() hands the constructor. */
export interface MappingInit {
  handle: NativeHandle;
  path: string;
  offset: number;
  length: number;
  kind: MappingKind;
  mapSync: boolean;
  granularity: Granularity;
  flushMechanism: FlushMechanism;
  readonly: boolean;
  alignment: number;
  persistence: Persistence;
}

function closedError(): DaxError {
  return new DaxError('ERR_DAX_CLOSED', 'The mapping is closed');
}

/** @internal */
export const kCreate = Symbol('daxkit.create');

/**
 * A live memory mapping of a DAX file, devdax device or ordinary file.
 *
 * Stores through `bytes`, `buffer` or `view()` go straight to the media on
 * DAX, but are not durable until `persist()` (or `copyPersist()`) returns.
 * After `close()` every view reads zeros and no longer reaches the file.
 * Loads and stores through views are NOT protected against SIGBUS (a media
 * error, or a file truncated under the mapping kills the process); `read()`
 * and `write()` are.
 */
export class DaxMapping {
  #h: MappingId | null;
  // The owner of the native mapping: the GC may release it only after this
  // object (or close()) lets go.
  #keep: NativeHandle | null;
  #buffer: ArrayBuffer | undefined;
  #bytes: Uint8Array | undefined;
  #windows: Map<number, ArrayBuffer> | undefined;

  /** The mapped file or device, as given (or as /proc/self/fd resolves a descriptor). */
  readonly path: string;
  /** File or device offset of the first mapped byte. */
  readonly offset: number;
  /** Bytes mapped. */
  readonly length: number;
  readonly kind: MappingKind;
  /** True when mapped with MAP_SHARED_VALIDATE|MAP_SYNC: the filesystem keeps metadata durable for every write fault. */
  readonly mapSync: boolean;
  /**
   * The smallest unit `persist()` makes durable on its own: `'byte'` (the CPU caches are in the
   * persistence domain), `'cacheline'` (MAP_SYNC or devdax: lines written back), `'page'` (msync), or
   * `'none'`: the memory is volatile, and nothing `persist()` does survives power loss.
   */
  readonly granularity: Granularity;
  /** What `persist()` runs: a line write-back instruction, msync(2), or `'none'` (a fence only). */
  readonly flushMechanism: FlushMechanism;
  /** Whether and how stores to this mapping survive power loss, from its own device and region. */
  readonly persistence: Readonly<Persistence>;
  readonly readonly: boolean;
  /** The alignment the mapping address was placed at (device `align` for devdax, 2 MiB for large files). */
  readonly alignment: number;
  /** The virtual address of the mapping (diagnostics: huge-page alignment). */
  readonly address: bigint;

  /** @internal Use {@link open}. */
  constructor(token: symbol, init: MappingInit) {
    if (token !== kCreate) throw new TypeError('Illegal constructor: use daxkit.open()');
    this.#keep = init.handle;
    this.#h = binding.id(init.handle);
    this.path = init.path;
    this.offset = init.offset;
    this.length = init.length;
    this.kind = init.kind;
    this.mapSync = init.mapSync;
    this.granularity = init.granularity;
    this.flushMechanism = init.flushMechanism;
    this.readonly = init.readonly;
    this.alignment = init.alignment;
    this.persistence = Object.freeze({ ...init.persistence });
    this.address = binding.address(this.#h);
    // What was mapped does not change: the facts are read-only, at run time too.
    Object.freeze(this);
  }

  // The id of an open mapping. A method called on anything but a DaxMapping
  // gets ERR_INVALID_THIS, not the engine's uncoded private-field TypeError.
  static #brand(m: unknown): DaxMapping {
    if (typeof m !== 'object' || m === null || !(#h in m)) throw invalidThis('DaxMapping');
    return m as DaxMapping;
  }

  static #open(m: unknown): MappingId {
    const h = DaxMapping.#brand(m).#h;
    if (h === null) throw closedError();
    return h;
  }

  // `length` defaults to the rest of the mapping after `offset`, computed
  // only once `offset` is known to be a number in range: the default must
  // never run arithmetic (and so valueOf()) on an unvalidated value.
  #rest(offset: unknown): number {
    validateInteger('offset', offset, 0, this.length);
    return this.length - (offset as number);
  }

  /** True after `close()`. */
  get closed(): boolean {
    return DaxMapping.#brand(this).#h === null;
  }

  /**
   * One ArrayBuffer over the whole mapping (zero-copy). After `close()` it
   * reads zeros and no longer reaches the file. If it was moved away
   * (`transfer()`), the next access gives a new one.
   * @throws DaxError `ERR_DAX_TOO_LARGE` when the mapping is larger than this Node.js allows for
   *   one external buffer (4 GiB before Node 22): use `view()`.
   * @throws DaxError `ERR_DAX_EXTERNAL_BUFFERS_UNSUPPORTED` on runtimes that forbid external buffers.
   */
  get buffer(): ArrayBuffer {
    const h = DaxMapping.#open(this);
    if (this.#buffer === undefined || this.#buffer.byteLength === 0) {
      if (this.length > MAX_BUFFER) {
        throw new DaxError(
          'ERR_DAX_TOO_LARGE',
          `The mapping is ${this.length} bytes, but Node.js ${process.version} limits an ArrayBuffer over ` +
            `external memory to ${MAX_BUFFER} bytes (buffer.constants.MAX_LENGTH): use view(offset, length), ` +
            'or Node.js >= 22',
        );
      }
      this.#buffer = binding.buffer(h, 0, this.length);
    }
    return this.#buffer;
  }

  /** A Uint8Array over the whole mapping (zero-copy); see {@link buffer}. */
  get bytes(): Uint8Array {
    DaxMapping.#brand(this);
    const b = this.buffer;
    if (this.#bytes === undefined || this.#bytes.buffer !== b) this.#bytes = new Uint8Array(b);
    return this.#bytes;
  }

  /**
   * A zero-copy Uint8Array over [offset, offset + length) of the mapping.
   * Works for mappings of any size: beyond the one-buffer limit it is a
   * window of its own, cut off from the file by `close()` like the rest.
   */
  view(offset: number, length?: number): Uint8Array {
    const h = DaxMapping.#open(this);
    if (length === undefined) length = this.#rest(offset);
    validateRange(offset, length, this.length);
    if (this.length <= MAX_BUFFER) return new Uint8Array(this.buffer, offset, length);
    if (length > MAX_BUFFER) throw outOfRange('length', `<= ${MAX_BUFFER} (one view)`, length);
    // Windows start on a grid, so that each start address has exactly one
    // ArrayBuffer; a view no longer than the grid step always fits in the
    // window of its grid cell.
    const start = length <= WINDOW_STEP ? Math.floor(offset / WINDOW_STEP) * WINDOW_STEP : offset;
    this.#windows ??= new Map();
    let w = this.#windows.get(start);
    if (w === undefined || w.byteLength === 0) {
      w = binding.buffer(h, start, Math.min(MAX_BUFFER, this.length - start));
      this.#windows.set(start, w);
    }
    return new Uint8Array(w, offset - start, length);
  }

  /**
   * Makes [offset, offset + length) durable: on a MAP_SYNC or devdax mapping,
   * a write-back of exactly the cache lines in the range (`flushMechanism`)
   * and one SFENCE, with no system call; otherwise msync(MS_SYNC) of the
   * page-rounded range. A no-op on a read-only mapping.
   * @throws DaxSystemError when msync fails; DaxMediaError on SIGBUS.
   */
  persist(offset: number = 0, length?: number): void {
    // The hot path: the private field read is itself the brand check (a
    // try costs nothing until something throws).
    let h: MappingId | null;
    try {
      h = this.#h;
    } catch {
      throw invalidThis('DaxMapping');
    }
    if (h === null) throw closedError();
    if (length === undefined) length = this.#rest(offset);
    if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.length)) {
      validateRange(offset, length, this.length);
    }
    if (sigbusChanged) sigbusGuard();
    binding.persist(h, offset, length);
  }

  /**
   * What persistence has cost this mapping so far: cache lines written back,
   * fences, msync(2) calls and bytes stored non-temporally. A persist() of one
   * 64-byte line on a MAP_SYNC mapping adds exactly 1 line and 1 fence.
   */
  stats(): MappingStats {
    return binding.stats(DaxMapping.#open(this));
  }

  /** The first half of `persist()`: write back the lines (or msync) without the final fence. */
  flush(offset: number = 0, length?: number): void {
    const h = DaxMapping.#open(this);
    if (length === undefined) length = this.#rest(offset);
    validateRange(offset, length, this.length);
    if (sigbusChanged) sigbusGuard();
    binding.flush(h, offset, length);
  }

  /**
   * Makes [offset, offset + length) durable past the persistence domain, as libpmem2's
   * `pmem2_deep_flush()`: `persist()`, then for device DAX "1" written to the nd region's
   * `deep_flush` (the DIMMs' write-pending queues drain to the media; needs root), for a file
   * msync(MS_SYNC) of the range (the filesystem's fsync path flushes the device; on virtio-pmem the
   * host writes its file back). For software that must not depend on the platform draining its
   * queues on power loss (ADR), or before taking a snapshot of the media.
   * @returns what was done (`mechanism`: `'deep_flush'`, `'msync'` or `'none'`), whether the memory
   *   survives power loss at all (`durable`), and the `reason`: a region without flush hints (its
   *   `deep_flush` reads 0) needs nothing more; volatile memory has nothing to flush to.
   *   A device in no nd region, or whose region has no `deep_flush` (the kernel knows no flush for it),
   *   gets `'none'` too, as libpmem2 does nothing more there.
   * @throws DaxSystemError `EACCES` from `open` of `deep_flush` without root,
   *   or what the kernel's flush returns (`EIO`); from `msync`; DaxMediaError on SIGBUS.
   */
  deepFlush(offset: number = 0, length?: number): DeepFlushResult {
    const h = DaxMapping.#open(this);
    if (length === undefined) length = this.#rest(offset);
    validateRange(offset, length, this.length);
    if (sigbusChanged) sigbusGuard();
    return deepFlush(h, this, offset, length);
  }

  /** The second half of `persist()`: wait for earlier `flush()`es (SFENCE). */
  drain(): void {
    binding.drain(DaxMapping.#open(this));
  }

  /**
   * Copies `source` into the mapping at `offset` and makes it durable:
   * non-temporal stores for copies of 256 bytes or more, then one fence.
   * On page-granularity mappings: a copy, then msync.
   * @throws DaxMediaError on SIGBUS (the process lives on).
   */
  copyPersist(offset: number, source: ArrayBufferView | ArrayBuffer): void {
    const h = DaxMapping.#open(this);
    const src = toBytes('source', source);
    validateRange(offset, src.byteLength, this.length);
    if (this.readonly) throw new DaxError('ERR_DAX_READONLY', `The mapping of '${this.path}' is read-only`, { path: this.path });
    if (sigbusChanged) sigbusGuard();
    binding.copyPersist(h, offset, src);
  }

  /**
   * Reads [offset, offset + length) into a new Buffer, through native code
   * that survives SIGBUS.
   * @throws DaxMediaError (`code: 'EIO'`, `offset` of the failing page, `fault` 'media' or
   *   'truncated') on a poisoned page or a page beyond the end of a truncated file.
   */
  read(offset: number, length: number): Buffer {
    const h = DaxMapping.#open(this);
    validateRange(offset, length, this.length);
    const out = Buffer.allocUnsafe(length);
    if (sigbusChanged) sigbusGuard();
    binding.read(h, offset, out);
    return out;
  }

  /**
   * The media errors inside the mapping, in bytes relative to its start:
   * `badblocks(path)` clipped to [offset, offset + length). For a file, whole
   * filesystem blocks; for devdax, the region's sectors inside the device.
   * The file is looked up again by `path`, so a renamed file is not found.
   * @throws DaxError `ERR_DAX_CLOSED`; `ERR_DAX_NOT_SUPPORTED` when the file or device has no media
   *   error list (not on persistent memory), with the reason; what badblocks() throws.
   */
  badRanges(): BadRange[] {
    DaxMapping.#open(this);
    return mappingBadRanges(this.path, this.offset, this.length);
  }

  /**
   * Reads `target.byteLength` bytes at `offset` into `target` (a Buffer,
   * TypedArray, DataView or ArrayBuffer), like `read()` but without allocating:
   * the SIGBUS-safe copy for loops that reuse one buffer, as `fs.readSync` does.
   * @returns the number of bytes copied.
   * @throws DaxMediaError on SIGBUS, with `buffer` saying whether the mapping or the target faulted;
   *   DaxError `ERR_DAX_READONLY` when the target is a view of a read-only mapping.
   */
  readInto(offset: number, target: ArrayBufferView | ArrayBuffer): number {
    const h = DaxMapping.#open(this);
    const dst = toBytes('target', target);
    validateRange(offset, dst.byteLength, this.length);
    if (sigbusChanged) sigbusGuard();
    binding.read(h, offset, dst);
    return dst.byteLength;
  }

  /**
   * Copies `source` into the mapping at `offset`, through native code that
   * survives SIGBUS. Not durable until `persist()`.
   * @throws DaxMediaError on SIGBUS; DaxError `ERR_DAX_READONLY`.
   */
  write(offset: number, source: ArrayBufferView | ArrayBuffer): void {
    const h = DaxMapping.#open(this);
    const src = toBytes('source', source);
    validateRange(offset, src.byteLength, this.length);
    if (this.readonly) throw new DaxError('ERR_DAX_READONLY', `The mapping of '${this.path}' is read-only`, { path: this.path });
    if (sigbusChanged) sigbusGuard();
    binding.write(h, offset, src);
  }

  /**
   * Takes the file out of reach of every buffer over the mapping at once:
   * `buffer`, `bytes`, every `view()`, and whatever else still holds the
   * memory (a moved buffer, a pending fs.read(), a worker) now see zeroed
   * memory that is not the file's; nothing crashes. The address range goes
   * back to the system once no buffer over it is reachable. Idempotent.
   * Stores not yet persisted may be lost on power failure (on page-cache
   * mappings the kernel still writes them back eventually).
   */
  close(): void {
    const h = DaxMapping.#brand(this).#h;
    if (h === null) return;
    this.#h = null;
    this.#keep = null;
    this.#buffer = undefined;
    this.#bytes = undefined;
    this.#windows = undefined;
    binding.close(h);
  }

  /** `close()`, for `using m = open(...)` where the runtime has it. */
  [Symbol.dispose](): void {
    this.close();
  }

  [util.inspect.custom](): string {
    const state = this.closed ? 'closed' : `${this.length} bytes at 0x${this.address.toString(16)}`;
    return `DaxMapping { path: '${this.path}', ${state}, kind: '${this.kind}', mapSync: ${this.mapSync}, granularity: '${this.granularity}', flushMechanism: '${this.flushMechanism}' }`;
  }
}

/** The CPU's cache-flush capabilities, as daxkit detected them. */
export function cpuInfo(): Readonly<typeof cpu> {
  return cpu;
}
