// What goes between daxkit/promises and its worker threads: requests,
// answers, and errors taken apart and put back together as the same class
// with the same fields (structured clone keeps only an Error's message).
import { DaxError, DaxMediaError, DaxSystemError, SysfsFormatError } from '../index';

export interface Request {
  id: number;
  fn: 'statx' | 'daxStatus' | 'setDaxFlag' | 'badblocks' | 'findBadFiles' | 'clearBadblocks';
  args: unknown[];
  /** Where args held Buffers: [argument, null] or [argument, option name] (restoreArgs). */
  buffers: Array<[number, string | null]>;
}

export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export interface SerializedError {
  className: string;
  message: string;
  props: Record<string, unknown>;
  cause?: SerializedError;
  /** A thrown value that is not an Error. */
  raw?: unknown;
}

const classes: Record<string, ErrorConstructor> = {
  DaxSystemError: DaxSystemError as unknown as ErrorConstructor,
  DaxMediaError: DaxMediaError as unknown as ErrorConstructor,
  DaxError: DaxError as unknown as ErrorConstructor,
  SysfsFormatError: SysfsFormatError as unknown as ErrorConstructor,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  Error,
};

function cloneable(v: unknown): boolean {
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { className: 'Error', message: String(e), props: {}, raw: cloneable(e) ? e : String(e) };
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (cloneable(v)) props[k] = v;
  const ctor = Object.getPrototypeOf(e)?.constructor as { name?: string } | undefined;
  const out: SerializedError = { className: ctor?.name ?? 'Error', message: e.message, props };
  if (e.cause !== undefined) out.cause = serializeError(e.cause);
  return out;
}

/** The error as the synchronous call threw it; its stack is the caller's (`stack` from where the promise was made). */
export function deserializeError(s: SerializedError, stack: string): unknown {
  if (s.raw !== undefined) return s.raw;
  const cls = Object.prototype.hasOwnProperty.call(classes, s.className) ? classes[s.className] : Error;
  const e = Object.create(cls.prototype) as Error;
  Object.defineProperty(e, 'message', { value: s.message, writable: true, configurable: true, enumerable: false });
  Object.assign(e, restoreBuffers(s.props));
  if (s.cause !== undefined) Object.defineProperty(e, 'cause', { value: deserializeError(s.cause, stack), writable: true, configurable: true, enumerable: false });
  Object.defineProperty(e, 'stack', { value: `${e.name}: ${s.message}\n${stack}`, writable: true, configurable: true, enumerable: false });
  return e;
}

/**
 * Structured clone turns a Buffer into a plain Uint8Array; the synchronous
 * functions return Buffers (the `pathBuffer` of a report), so they come back.
 */
export function restoreBuffers<T>(v: T): T {
  if (v instanceof Uint8Array) return (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)) as T;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = restoreBuffers(v[i]);
    return v;
  }
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = restoreBuffers(o[k]);
  }
  return v;
}

/** The arguments of a request with their Buffers made Buffers again (structured clone made them Uint8Arrays). */
export function restoreArgs(req: Request): unknown[] {
  const args = req.args;
  const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  for (const [i, k] of req.buffers) {
    if (k === null) args[i] = buf(args[i] as Uint8Array);
    else (args[i] as Record<string, unknown>)[k] = buf((args[i] as Record<string, Uint8Array>)[k]);
  }
  return args;
}
