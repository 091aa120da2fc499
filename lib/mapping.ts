import * as fs from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import * as util from 'node:util';
import { binding, MapMode, PersistMode, type MappingStats, type MappingId, type NativeHandle } from './binding';
import { mappingBadRanges, type BadRange } from './badblocks';
import { fdPath, notDaxReason, openFileFacts } from './dax-reason';
import { DaxError, DaxSystemError, invalidArgType, invalidArgValue, outOfRange } from './errors';
import { fstatx } from './statx';
import { charSubsystem, devdaxInfo, devNumbers, hasAutoFlush } from './sysfs';
import {
  rejectUnknownOptions,
  toView,
  validateBoolean,
  validateInteger,
  validateObject,
  validateOneOf,
  validatePath,
  validateRange,
} from './validate';

/** `'auto'`: MAP_SYNC where the kernel allows it, else MAP_SHARED; `'required'`: MAP_SYNC or throw; `'off'`: MAP_SHARED. */
export type SyncMode = 'auto' | 'required' | 'off';
/** `'devdax'`: a /dev/daxX.Y device; `'fsdax'`: a file with DAX in effect; `'pagecache'`: anything else. */
export type MappingKind = 'devdax' | 'fsdax' | 'pagecache';
/** The smallest unit `persist()` makes durable on its own (libpmem2's store granularity). */
export type Granularity = 'byte' | 'cacheline' | 'page';
/** What `persist()` runs: a cache-line write-back instruction, msync(2), or nothing. */
export type FlushMechanism = 'clwb' | 'clflushopt' | 'clflush' | 'msync' | 'none';

export interface OpenOptions {
  /** Bytes to map. Default: the rest of the file after `offset`, or the rest of the device. */
  size?: number;
  /** Where the mapping starts: page-aligned for files, a multiple of the device `align` for devdax. Default 0. */
  offset?: number;
  /** Create the file, or extend it, to `offset + size`: allocated and zeroed with fallocate(2). Default false. */
  create?: boolean;
  /** Mode bits of a created file (before the umask). Default 0o666. */
  mode?: number;
  /** Map read-only. Stores through `bytes` then kill the process (SIGSEGV); `write()` throws. Default false. */
  readonly?: boolean;
  /** MAP_SYNC policy for files. Default `'auto'`. devdax needs no MAP_SYNC and ignores it. */
  sync?: SyncMode;
}

const MiB = 1024 * 1024;
const HUGE_ALIGN = 2 * MiB;
const cpu = binding.cpuInfo();
const PAGE_SIZE = cpu.pageSize;

// Node < 22 caps an ArrayBuffer over external memory at buffer.constants.MAX_LENGTH
// (4 GiB); larger mappings are reached through windows.
const MAX_BUFFER = bufferConstants.MAX_LENGTH;
const WINDOW_STEP = Math.floor(MAX_BUFFER / 2);

const kCreate = Symbol('daxkit.create');

interface MappingInit {
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
}

function closedError(): DaxError {
  return new DaxError('ERR_DAX_CLOSED', 'The mapping is closed');
}

/**
 * A live memory mapping of a DAX file, devdax device or ordinary file.
 *
 * Stores through `bytes`, `buffer` or `view()` go straight to the media on
 * DAX, but are not durable until `persist()` (or `copyPersist()`) returns.
 * All views become invalid (length 0) after `close()`. Loads and stores
 * through them are NOT protected against SIGBUS (a media error, or a file
 * truncated under the mapping kills the process); `read()` and `write()` are.
 */
export class DaxMapping {
  #h: MappingId | null;
  // The owner of the native mapping: the GC may unmap it only after this
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
  readonly granularity: Granularity;
  readonly flushMechanism: FlushMechanism;
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
    this.address = binding.address(this.#h);
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#h === null;
  }

  #handle(): MappingId {
    if (this.#h === null) throw closedError();
    return this.#h;
  }

  /**
   * One ArrayBuffer over the whole mapping (zero-copy). Detached (length 0) by `close()`.
   * @throws DaxError `ERR_DAX_TOO_LARGE` when the mapping is larger than this Node.js allows for
   *   one external buffer (4 GiB before Node 22): use `view()`.
   * @throws DaxError `ERR_DAX_EXTERNAL_BUFFERS_UNSUPPORTED` on runtimes that forbid external buffers.
   */
  get buffer(): ArrayBuffer {
    const h = this.#handle();
    if (this.#buffer === undefined) {
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
    // close() clears #bytes, so a closed mapping reaches `buffer` and throws.
    this.#bytes ??= new Uint8Array(this.buffer);
    return this.#bytes;
  }

  /**
   * A zero-copy Uint8Array over [offset, offset + length) of the mapping.
   * Works for mappings of any size: beyond the one-buffer limit it is a
   * window of its own, detached by `close()` like the rest.
   */
  view(offset: number, length: number = this.length - offset): Uint8Array {
    const h = this.#handle();
    validateRange(offset, length, this.length);
    if (this.length <= MAX_BUFFER) return new Uint8Array(this.buffer, offset, length);
    if (length > MAX_BUFFER) throw outOfRange('length', `<= ${MAX_BUFFER} (one view)`, length);
    // Windows start on a grid, so that each start address has exactly one
    // ArrayBuffer; a view no longer than the grid step always fits in the
    // window of its grid cell.
    const start = length <= WINDOW_STEP ? Math.floor(offset / WINDOW_STEP) * WINDOW_STEP : offset;
    this.#windows ??= new Map();
    let w = this.#windows.get(start);
    if (w === undefined) {
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
  persist(offset = 0, length: number = this.length - offset): void {
    const h = this.#h;
    if (h === null) throw closedError();
    if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.length)) {
      validateRange(offset, length, this.length);
    }
    binding.persist(h, offset, length);
  }

  /**
   * What persistence has cost this mapping so far: cache lines written back,
   * fences, msync(2) calls and bytes stored non-temporally. A persist() of one
   * 64-byte line on a MAP_SYNC mapping adds exactly 1 line and 1 fence.
   */
  stats(): MappingStats {
    return binding.stats(this.#handle());
  }

  /** The first half of `persist()`: write back the lines (or msync) without the final fence. */
  flush(offset = 0, length: number = this.length - offset): void {
    const h = this.#handle();
    validateRange(offset, length, this.length);
    binding.flush(h, offset, length);
  }

  /** The second half of `persist()`: wait for earlier `flush()`es (SFENCE). */
  drain(): void {
    binding.drain(this.#handle());
  }

  /**
   * Copies `source` into the mapping at `offset` and makes it durable:
   * non-temporal stores for copies of 256 bytes or more, then one fence.
   * On page-granularity mappings: a copy, then msync.
   * @throws DaxMediaError on SIGBUS (the process lives on).
   */
  copyPersist(offset: number, source: ArrayBufferView | ArrayBuffer): void {
    const h = this.#handle();
    const src = toView('source', source);
    validateRange(offset, src.byteLength, this.length);
    if (this.readonly) throw new DaxError('ERR_DAX_READONLY', `The mapping of '${this.path}' is read-only`, { path: this.path });
    binding.copyPersist(h, offset, src);
  }

  /**
   * Reads [offset, offset + length) into a new Buffer, through native code
   * that survives SIGBUS.
   * @throws DaxMediaError (`code: 'EIO'`, `offset` of the failing byte) on a poisoned page or a
   *   page beyond the end of a truncated file.
   */
  read(offset: number, length: number): Buffer {
    const h = this.#handle();
    validateRange(offset, length, this.length);
    const out = Buffer.allocUnsafe(length);
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
    this.#handle();
    return mappingBadRanges(this.path, this.offset, this.length);
  }

  /**
   * Reads `target.byteLength` bytes at `offset` into `target` (a Buffer,
   * TypedArray, DataView or ArrayBuffer), like `read()` but without allocating:
   * the SIGBUS-safe copy for loops that reuse one buffer, as `fs.readSync` does.
   * @returns the number of bytes copied.
   * @throws DaxMediaError on SIGBUS, with `offset` relative to the mapping.
   */
  readInto(offset: number, target: ArrayBufferView | ArrayBuffer): number {
    const h = this.#handle();
    const dst = toView('target', target);
    validateRange(offset, dst.byteLength, this.length);
    binding.read(h, offset, dst);
    return dst.byteLength;
  }

  /**
   * Copies `source` into the mapping at `offset`, through native code that
   * survives SIGBUS. Not durable until `persist()`.
   * @throws DaxMediaError on SIGBUS; DaxError `ERR_DAX_READONLY`.
   */
  write(offset: number, source: ArrayBufferView | ArrayBuffer): void {
    const h = this.#handle();
    const src = toView('source', source);
    validateRange(offset, src.byteLength, this.length);
    if (this.readonly) throw new DaxError('ERR_DAX_READONLY', `The mapping of '${this.path}' is read-only`, { path: this.path });
    binding.write(h, offset, src);
  }

  /**
   * Detaches `buffer`, `bytes` and every `view()` (they read `byteLength`
   * 0 afterwards), then unmaps. Idempotent. Stores not yet persisted may be
   * lost on power failure (on page-cache mappings the kernel still writes
   * them back eventually).
   */
  close(): void {
    const h = this.#h;
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

interface ParsedOptions {
  size: number | undefined;
  offset: number;
  create: boolean;
  mode: number;
  readonly: boolean;
  sync: SyncMode;
}

const OPTION_NAMES = ['size', 'offset', 'create', 'mode', 'readonly', 'sync'] as const;

function parseOptions(options: unknown): ParsedOptions {
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, OPTION_NAMES);
  const p: ParsedOptions = {
    size: o.size === undefined ? undefined : validateInteger('options.size', o.size, 1),
    offset: o.offset === undefined ? 0 : validateInteger('options.offset', o.offset, 0),
    create: o.create === undefined ? false : validateBoolean('options.create', o.create),
    mode: o.mode === undefined ? 0o666 : validateInteger('options.mode', o.mode, 0, 0o7777),
    readonly: o.readonly === undefined ? false : validateBoolean('options.readonly', o.readonly),
    sync: o.sync === undefined ? 'auto' : validateOneOf('options.sync', o.sync, ['auto', 'required', 'off'] as const),
  };
  if (p.create && p.readonly) throw invalidArgValue('options.create', true, 'cannot be combined with readonly: true');
  if (p.create && p.size === undefined) throw invalidArgValue('options.size', undefined, 'is required with create: true');
  return p;
}

function fmtSize(n: number): string {
  if (n >= 1024 * MiB && n % (1024 * MiB) === 0) return `${n / (1024 * MiB)} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function persistMechanism(mode: PersistMode): FlushMechanism {
  switch (mode) {
    case PersistMode.Flush:
      return cpu.flush;
    case PersistMode.Msync:
      return 'msync';
    default:
      return 'none';
  }
}

/**
 * Maps a DAX file, a devdax device (`/dev/daxX.Y`) or any regular file.
 *
 * @param target A path, or an open file descriptor (not closed, not kept).
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`, RangeError `ERR_OUT_OF_RANGE`
 *   for bad arguments (a misaligned offset or size, a range beyond the end, a directory);
 *   DaxError `ERR_DAX_NOT_SUPPORTED` when `sync: 'required'` cannot be met, with the reason;
 *   DaxSystemError / fs errors from open, fallocate and mmap.
 */
export function open(target: string | number, options?: OpenOptions): DaxMapping {
  const o = parseOptions(options);
  let fd: number;
  let ownFd = false;
  let path: string;
  if (typeof target === 'number') {
    validateInteger('target', target, 0, 2 ** 31 - 1);
    fd = target;
    path = fdPath(fd) ?? `fd ${fd}`;
  } else if (typeof target === 'string') {
    path = validatePath('target', target);
    const flags = (o.readonly ? fs.constants.O_RDONLY : fs.constants.O_RDWR) | (o.create ? fs.constants.O_CREAT : 0);
    try {
      fd = fs.openSync(path, flags, o.mode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw notADirectory(path);
      throw e;
    }
    ownFd = true;
  } else {
    throw invalidArgType('target', 'of type string or number (a file descriptor)', target);
  }
  try {
    return mapFd(fd, path, o);
  } finally {
    if (ownFd) fs.closeSync(fd);
  }
}

function notADirectory(path: string): TypeError {
  return invalidArgValue('target', path, 'must be a regular file or a devdax character device, not a directory');
}

function mapFd(fd: number, path: string, o: ParsedOptions): DaxMapping {
  const st = fs.fstatSync(fd);
  if (st.isDirectory()) throw notADirectory(path);
  if (st.isCharacterDevice()) return mapDevdax(fd, path, o);
  if (!st.isFile()) {
    const what = st.isBlockDevice() ? 'a block device (mount a DAX filesystem on it, or configure the namespace as devdax)' : 'not a regular file';
    throw invalidArgValue('target', path, `must be a regular file or a devdax character device; it is ${what}`);
  }

  if (o.offset % PAGE_SIZE !== 0) throw outOfRange('options.offset', `a multiple of the page size (${PAGE_SIZE})`, o.offset);
  let fileSize = st.size;
  let size: number;
  if (o.size !== undefined) {
    size = o.size;
  } else {
    if (o.offset >= fileSize) {
      throw outOfRange('options.offset', fileSize === 0 ? '< the file size, and the file is empty (pass size with create: true)' : `< the file size (${fileSize})`, o.offset);
    }
    size = fileSize - o.offset;
  }
  const end = o.offset + size;
  if (!Number.isSafeInteger(end)) throw outOfRange('options.size', `<= ${Number.MAX_SAFE_INTEGER - o.offset} (offset + size beyond 2^53)`, size);
  if (o.create && end > fileSize) {
    try {
      // Mode 0: allocate and extend; the new blocks read as zeros.
      binding.fallocate(fd, 0, 0, end, path);
    } catch (e) {
      // Filesystems without fallocate (9p, some FUSE) get a sparse extension.
      if (!(e instanceof DaxSystemError && e.code === 'EOPNOTSUPP')) throw e;
      fs.ftruncateSync(fd, end);
    }
    fileSize = end;
  }
  if (end > fileSize) {
    throw outOfRange('options.size', `<= ${fileSize - o.offset} (the file is ${fileSize} bytes; pass create: true to extend it)`, size);
  }

  const align = size >= HUGE_ALIGN ? HUGE_ALIGN : PAGE_SIZE;
  const syncPersist = hasAutoFlush() ? PersistMode.Fence : PersistMode.Flush;
  let handle: NativeHandle | undefined;
  let mapSync = false;
  if (o.sync !== 'off') {
    try {
      handle = binding.map(fd, o.offset, size, o.readonly, MapMode.Sync, align, syncPersist, path);
      mapSync = true;
    } catch (e) {
      // EOPNOTSUPP: not DAX (or no synchronous faults); EINVAL: a kernel
      // older than 4.15 that does not know MAP_SHARED_VALIDATE.
      const code = (e as DaxSystemError).code;
      if (!(e instanceof DaxSystemError) || (code !== 'EOPNOTSUPP' && code !== 'EINVAL')) throw e;
      if (o.sync === 'required') {
        let reason = 'the kernel does not support MAP_SYNC (Linux 4.15 or later is needed)';
        if (code === 'EOPNOTSUPP') {
          const facts = openFileFacts(fd, fdPath(fd) ?? path);
          reason = notDaxReason(path, facts.fs, facts.inode, PAGE_SIZE);
        }
        throw new DaxError('ERR_DAX_NOT_SUPPORTED', `MAP_SYNC is not available for '${path}': ${reason}`, { reason, path });
      }
    }
  }
  const persistMode = mapSync ? syncPersist : PersistMode.Msync;
  if (handle === undefined) handle = binding.map(fd, o.offset, size, o.readonly, MapMode.Shared, align, persistMode, path);
  const dax = mapSync || fstatx(fd).dax === true;
  return new DaxMapping(kCreate, {
    handle,
    path,
    offset: o.offset,
    length: size,
    kind: dax ? 'fsdax' : 'pagecache',
    mapSync,
    granularity: persistMode === PersistMode.Fence ? 'byte' : persistMode === PersistMode.Flush ? 'cacheline' : 'page',
    flushMechanism: persistMechanism(o.readonly ? PersistMode.None : persistMode),
    readonly: o.readonly,
    alignment: align,
  });
}

function mapDevdax(fd: number, path: string, o: ParsedOptions): DaxMapping {
  const st = fs.fstatSync(fd, { bigint: true });
  const { major, minor } = devNumbers(st.rdev);
  const subsystem = charSubsystem(major, minor);
  if (subsystem !== 'dax') {
    throw invalidArgValue('target', path, `must be a regular file or a devdax character device; ${major}:${minor} is a character device of the '${subsystem ?? 'unknown'}' subsystem`);
  }
  if (o.create) throw invalidArgValue('options.create', true, 'cannot be used with a devdax device');
  const dev = devdaxInfo(major, minor);
  const a = dev.align;
  const alignMsg = `a multiple of the device alignment ${a} (${fmtSize(a)}) of ${dev.name}: device-dax refuses misaligned mappings`;
  if (o.offset % a !== 0) throw outOfRange('options.offset', alignMsg, o.offset);
  if (o.offset >= dev.size) throw outOfRange('options.offset', `< the device size (${dev.size})`, o.offset);
  const size = o.size ?? dev.size - o.offset;
  if (size % a !== 0) throw outOfRange('options.size', alignMsg, size);
  if (o.offset + size > dev.size) throw outOfRange('options.size', `<= ${dev.size - o.offset} (the rest of the ${dev.size}-byte device ${dev.name})`, size);
  const persistMode = hasAutoFlush() ? PersistMode.Fence : PersistMode.Flush;
  // Device DAX has no filesystem metadata to keep in sync, hence plain
  // MAP_SHARED (it refuses MAP_PRIVATE).
  const handle = binding.map(fd, o.offset, size, o.readonly, MapMode.Shared, Math.max(a, PAGE_SIZE), persistMode, path);
  return new DaxMapping(kCreate, {
    handle,
    path,
    offset: o.offset,
    length: size,
    kind: 'devdax',
    mapSync: false,
    granularity: persistMode === PersistMode.Fence ? 'byte' : 'cacheline',
    flushMechanism: persistMechanism(o.readonly ? PersistMode.None : persistMode),
    readonly: o.readonly,
    alignment: Math.max(a, PAGE_SIZE),
  });
}

/** The CPU's cache-flush capabilities, as daxkit detected them. */
export function cpuInfo(): Readonly<typeof cpu> {
  return cpu;
}
