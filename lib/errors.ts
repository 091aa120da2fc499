import * as util from 'node:util';

const systemErrors = util.getSystemErrorMap();

// Linux has one number, 95, for ENOTSUP and EOPNOTSUPP. libuv calls it
// ENOTSUP, "operation not supported on socket", which misleads for mmap and
// the ioctls; their man pages (mmap(2), ioctl_xfs_fsgetxattr(2)) say EOPNOTSUPP.
const overrides = new Map<number, [string, string]>([[-95, ['EOPNOTSUPP', 'operation not supported']]]);

/** The name (`'ENOENT'`) and description of a negative errno, as node:fs gives them. */
export function describeErrno(errno: number): [string, string] {
  return overrides.get(errno) ?? systemErrors.get(errno) ?? [`Unknown system error ${errno}`, 'unknown error'];
}

/**
 * A failed system call, shaped exactly like a `node:fs` error: `code`
 * (`'ENOENT'`), negative `errno`, `syscall`, `path`, and the message
 * `CODE: description, syscall 'path'`.
 */
export class DaxSystemError extends Error {
  /** The errno name, e.g. `'EOPNOTSUPP'`. */
  readonly code: string;
  /** The negative errno, as in `node:fs`. */
  readonly errno: number;
  /** The failing system call: `'mmap'`, `'msync'`, `'fallocate'`, `'statx'`, `'ioctl'`, `'open'`... */
  readonly syscall: string;
  /** The path the call was about, when there is one. */
  readonly path?: string;

  constructor(errno: number, syscall: string, path?: string, name?: string, description?: string) {
    const known = overrides.get(errno) ?? systemErrors.get(errno);
    const code = known?.[0] ?? name ?? `Unknown system error ${errno}`;
    const desc = known?.[1] ?? description?.toLowerCase() ?? 'unknown error';
    super(`${code}: ${desc}, ${syscall}${path !== undefined ? ` '${path}'` : ''}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
  }
}

const busCodes: Record<number, string> = {
  1: 'BUS_ADRALN',
  2: 'BUS_ADRERR',
  3: 'BUS_OBJERR',
  4: 'BUS_MCEERR_AR',
  5: 'BUS_MCEERR_AO',
};

/** Which buffer of a guarded access faulted: the mapping's own range, or the caller's source or target. */
export type FaultBuffer = 'mapping' | 'source' | 'target';

/**
 * A SIGBUS caught inside one of daxkit's own accessors (`read`, `readInto`,
 * `write`, `copyPersist`, `persist`, `flush`): a poisoned page (a media
 * error), or a page beyond the end of a file truncated under the mapping.
 * `fault` says which. The process lives on. Plain stores and loads through
 * `bytes`, `buffer` or a `view()` are not protected.
 */
export class DaxMediaError extends Error {
  readonly code = 'EIO';
  readonly errno = -5;
  readonly signal = 'SIGBUS';
  /** The accessor that faulted. */
  readonly operation: string;
  /** The mapped file or device whose accessor ran. */
  readonly path?: string;
  /**
   * `'media'`: the memory or the media under it is bad (poison, a bad block);
   * `'truncated'`: the page is beyond the end of the file, which was made shorter under the mapping;
   * `'unknown'`: one of the two, the file's size could not be learned (renamed, and no
   * capability to read /proc/self/map_files).
   */
  readonly fault: 'media' | 'truncated' | 'unknown';
  /** Where the fault was: the mapping's own range, or the caller's `source` (write, copyPersist) or `target` (read, readInto). */
  readonly buffer: FaultBuffer;
  /**
   * Offset of the failing page in this mapping (clamped to the start of the
   * access), when the fault was inside this mapping; `undefined` when it was
   * in another buffer.
   */
  readonly offset?: number;
  /** When the faulting buffer is a view of another daxkit mapping: that mapping's path, and the offset there. */
  readonly bufferPath?: string;
  readonly bufferOffset?: number;
  /** The faulting virtual address (si_addr). */
  readonly address: bigint;
  /** si_code of the signal: `'BUS_ADRERR'` (a page the kernel could not supply: poison found by the pmem driver, or beyond the end of the file), `'BUS_MCEERR_AR'` (machine check)... */
  readonly sigCode: string;

  constructor(
    operation: string,
    path: string | undefined,
    buffer: FaultBuffer,
    offset: number | undefined,
    bufferPath: string | undefined,
    bufferOffset: number | undefined,
    address: bigint,
    siCode: number,
    kind: number,
  ) {
    const sigCode = busCodes[siCode] ?? String(siCode);
    const fault = kind === 1 ? 'truncated' : kind === 2 ? 'unknown' : 'media';
    let where: string;
    if (offset !== undefined) where = `at offset ${offset} of ${buffer === 'mapping' ? 'the mapping' : `the mapping (in the ${buffer} buffer)`}`;
    else if (bufferPath !== undefined) where = `in the ${buffer} buffer: offset ${bufferOffset} of the mapping of '${bufferPath}'`;
    else where = `in the ${buffer} buffer (address 0x${address.toString(16)})`;
    const what =
      fault === 'truncated'
        ? 'the file was truncated under the mapping: no page'
        : fault === 'unknown'
          ? 'media error, or a page beyond the end of a file truncated under the mapping (its size could not be read),'
          : 'media error';
    super(`EIO: ${what} ${where} (SIGBUS ${sigCode}), ${operation}${path !== undefined ? ` '${path}'` : ''}`);
    this.operation = operation;
    if (path !== undefined) this.path = path;
    this.fault = fault;
    this.buffer = buffer;
    if (offset !== undefined) this.offset = offset;
    if (bufferPath !== undefined) this.bufferPath = bufferPath;
    if (bufferOffset !== undefined) this.bufferOffset = bufferOffset;
    this.address = address;
    this.sigCode = sigCode;
  }
}

/** A command called the wrong way: the CLI says so and exits with status 2. */
export class UsageError extends Error {}

/**
 * The `ERR_DAX_*` codes: those of {@link DaxError}, `ERR_DAX_SYSFS_FORMAT`
 * ({@link SysfsFormatError}), and `ERR_DAX_INTERNAL`, which the addon gives
 * a plain Error when Node-API itself fails (it cannot create a handle or a
 * buffer: out of memory, or a worker being terminated).
 */
export type DaxErrorCode =
  | 'ERR_DAX_CLOSED'
  | 'ERR_DAX_NOT_SUPPORTED'
  | 'ERR_DAX_TOO_LARGE'
  | 'ERR_DAX_EXTERNAL_BUFFERS_UNSUPPORTED'
  | 'ERR_DAX_READONLY'
  | 'ERR_DAX_TOO_MANY_MAPPINGS'
  | 'ERR_DAX_NOT_DURABLE'
  | 'ERR_DAX_TREE_CHANGED'
  | 'ERR_DAX_MOUNTINFO_FORMAT'
  | 'ERR_DAX_SYSFS_FORMAT'
  | 'ERR_DAX_INTERNAL'
  | 'ERR_DAX_WORKER_EXITED';

/**
 * A `node:fs` error as a DaxSystemError about `path` and `syscall` (the path
 * the caller gave, not /proc/self/fd/N or a helper's); anything without an
 * errno is returned as it is.
 */
export function asSystemError(e: unknown, syscall: string, path: string): unknown {
  const errno = (e as NodeJS.ErrnoException | undefined)?.errno;
  return typeof errno === 'number' ? new DaxSystemError(errno, syscall, path) : e;
}

/** An error that is not a system call's: its `code` is one of {@link DaxErrorCode}. */
export class DaxError extends Error {
  readonly code: DaxErrorCode;
  /** Extra facts, e.g. the reason DAX is not in effect. */
  readonly reason?: string;
  readonly path?: string;

  constructor(code: DaxErrorCode, message: string, extra: { reason?: string; path?: string; cause?: unknown } = {}) {
    super(message, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.code = code;
    if (extra.reason !== undefined) this.reason = extra.reason;
    if (extra.path !== undefined) this.path = extra.path;
  }
}

/**
 * A sysfs file that does not hold what its ABI says it holds, or a sysfs
 * path that cannot be read as sysfs is (a symlink loop, a directory or a FIFO
 * where an attribute belongs, an I/O error): `file`, and `line` (0 when the
 * file as a whole is at fault); the fs error, if any, is the `cause`.
 */
export class SysfsFormatError extends Error {
  readonly code: 'ERR_DAX_SYSFS_FORMAT' = 'ERR_DAX_SYSFS_FORMAT';
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
    cause?: Error,
  ) {
    super(line > 0 ? `${file}:${line}: ${detail}` : `${file}: ${detail}`);
    if (cause !== undefined) (this as Error & { cause?: unknown }).cause = cause;
  }
}

/**
 * One convention for every error class: the name lives on the prototype, as
 * Node's own errors have it, so that instances print as `DaxError: ...` (not
 * as a plain `Error`) and carry no own `name`.
 */
export function nameOnPrototype(...classes: Array<abstract new (...args: never[]) => Error>): void {
  for (const cls of classes) {
    Object.defineProperty(cls.prototype, 'name', { value: cls.name, writable: true, configurable: true, enumerable: false });
  }
}

nameOnPrototype(DaxSystemError, DaxMediaError, DaxError, SysfsFormatError, UsageError);

function received(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor?.name;
    return ctor ? `an instance of ${ctor}` : util.inspect(value, { depth: -1 });
  }
  let shown = util.inspect(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

/** `TypeError [ERR_INVALID_ARG_TYPE]`, worded as Node words it. */
export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  const e = new TypeError(`The "${name}" argument must be ${expected}. Received ${received(value)}`);
  return Object.assign(e, { code: 'ERR_INVALID_ARG_TYPE' as const });
}

/**
 * `TypeError [ERR_INVALID_ARG_VALUE]`: right type, unusable value. `reason`
 * (a predicate of the value, "names no nd region (...)") is kept on the
 * error too, so that the CLI can say it of what the user typed.
 */
export function invalidArgValue(name: string, value: unknown, reason: string): TypeError & { reason: string } {
  const e = new TypeError(`The argument '${name}' ${reason}. Received ${util.inspect(value)}`);
  return Object.assign(e, { code: 'ERR_INVALID_ARG_VALUE' as const, reason });
}

/** `TypeError [ERR_INVALID_THIS]`: a method called on something that is not what it belongs to. */
export function invalidThis(type: string): TypeError {
  const e = new TypeError(`Value of "this" must be of type ${type}`);
  return Object.assign(e, { code: 'ERR_INVALID_THIS' as const });
}

/** `RangeError [ERR_OUT_OF_RANGE]`, worded as Node words it. */
export function outOfRange(name: string, range: string, value: unknown): RangeError {
  const e = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(value)}`);
  return Object.assign(e, { code: 'ERR_OUT_OF_RANGE' as const });
}

/**
 * An error as the reports and the CLI's JSON give it, per path: its `code`
 * (`'ERR'` when it has none) and its message.
 */
export function errorRecord(e: unknown): { code: string; message: string } {
  const code = (e as NodeJS.ErrnoException).code;
  return { code: typeof code === 'string' ? code : 'ERR', message: (e as Error).message };
}

/**
 * An error as one line of prose, without the path it is about: a DaxError's
 * (or bad value's) `reason`; for a system call, the errno's description and
 * code with the hint daxkit added ("permission denied (EACCES); opening it
 * for the ioctl needs read permission..."); else the message.
 */
export function errorReason(e: unknown): string {
  const x = e as NodeJS.ErrnoException & { reason?: unknown; hint?: unknown };
  if (typeof x?.reason === 'string') return x.reason;
  if (typeof x?.errno === 'number' && typeof x.syscall === 'string' && typeof x.code === 'string' && x.code.startsWith('E')) {
    return `${describeErrno(x.errno)[1]} (${x.code})${typeof x.hint === 'string' ? `; ${x.hint}` : ''}`;
  }
  return String(x?.message ?? e);
}
