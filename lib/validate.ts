import { types } from 'node:util';
import { invalidArgType, invalidArgValue, outOfRange } from './errors';
import { loneSurrogate, pathBytes, pathText } from './fs/path-bytes';

/** Throws unless `value` is a safe integer in [min, max]. */
export function validateInteger(name: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min} && <= 2^53 - 1` : `>= ${min} && <= ${max}`;
    throw outOfRange(name, range, value);
  }
  return value;
}

export function validateBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function validateOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidArgValue(name, value, `must be one of: ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

function surrogateReason(c: string): string {
  return `holds the lone surrogate U+${c.charCodeAt(0).toString(16).toUpperCase()}, which no name's bytes can be`;
}

/**
 * A path given as a string only (open()'s target, a sysfs root): text, so a
 * string with any lone surrogate is refused (no UTF-8 exists for it).
 */
export function validatePath(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.length === 0) throw invalidArgValue(name, value, 'must be a non-empty string');
  if (value.includes('\0')) throw invalidArgValue(name, value, 'must not contain null bytes');
  const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(value);
  if (lone !== null) throw invalidArgValue(name, value, `${surrogateReason(lone[0])} (this argument is text; bytes that are not UTF-8 cannot be named here)`);
  return value;
}

/** A path argument: a string or a Buffer (Uint8Array) of the exact bytes, as node:fs takes them. */
export type PathArg = string | Uint8Array;

/**
 * Validates a path that may be a string or a Buffer, and returns its bytes
 * (see pathBytes()) and its text (lossless, for reports and messages).
 */
export function validatePathArg(name: string, value: unknown): { bytes: Buffer; text: string } {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw invalidArgType(name, 'of type string or an instance of Buffer', value);
  const lone = typeof value === 'string' ? loneSurrogate(value) : null;
  if (lone !== null) throw invalidArgValue(name, value, `${surrogateReason(lone)} (U+DC80-U+DCFF stand for the bytes 0x80-0xFF; pass other bytes as a Buffer)`);
  const bytes = pathBytes(value);
  if (bytes.length === 0) throw invalidArgValue(name, value, 'must be a non-empty path');
  if (bytes.includes(0)) throw invalidArgValue(name, value, 'must not contain null bytes');
  return { bytes, text: typeof value === 'string' ? value : pathText(bytes) };
}

export function validateObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgType(name, 'of type object', value);
  return value as Record<string, unknown>;
}

/** Rejects option names this API does not know, naming a near miss. */
export function rejectUnknownOptions(name: string, options: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key) || options[key] === undefined) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
    throw invalidArgValue(`${name}.${key}`, options[key], near ? `is not an option; did you mean '${near}'?` : 'is not an option');
  }
}

/**
 * Validates a byte range [offset, offset + length) inside [0, limit]. The
 * first failing argument is named, with the allowed range.
 */
export function validateRange(offset: unknown, length: unknown, limit: number, what = 'the mapping'): void {
  validateInteger('offset', offset, 0, limit);
  const off = offset as number;
  validateInteger('length', length, 0, Number.MAX_SAFE_INTEGER);
  if ((length as number) > limit - off) {
    throw outOfRange('length', `<= ${limit - off} (the rest of ${what} after offset ${off})`, length);
  }
}

export function isArrayBufferView(v: unknown): v is ArrayBufferView {
  return ArrayBuffer.isView(v);
}

// The intrinsic getters, taken once: a view's own or inherited `byteLength`
// can be redefined by anyone, and a length a caller can lie about must never
// reach native code. These read the engine's internal slots, for every
// TypedArray type (Float16Array and whatever comes next) and for DataView.
type Getter<T> = (this: unknown) => T;
function intrinsicGetter<T>(proto: object, name: string): Getter<T> {
  const d = Object.getOwnPropertyDescriptor(proto, name);
  if (d?.get === undefined) throw new Error(`no intrinsic getter ${name}`);
  return d.get as Getter<T>;
}
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const taBuffer = intrinsicGetter<ArrayBufferLike>(typedArrayProto, 'buffer');
const taOffset = intrinsicGetter<number>(typedArrayProto, 'byteOffset');
const taLength = intrinsicGetter<number>(typedArrayProto, 'byteLength');
const dvBuffer = intrinsicGetter<ArrayBufferLike>(DataView.prototype, 'buffer');
const dvOffset = intrinsicGetter<number>(DataView.prototype, 'byteOffset');
const dvLength = intrinsicGetter<number>(DataView.prototype, 'byteLength');
const abLength = intrinsicGetter<number>(ArrayBuffer.prototype, 'byteLength');
const sabLength = intrinsicGetter<number>(SharedArrayBuffer.prototype, 'byteLength');
const abDetached = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'detached')?.get as Getter<boolean> | undefined;
const U8 = Uint8Array;

// Node 20 has no ArrayBuffer.prototype.detached; a detached buffer is the one
// a zero-length view cannot be made over.
function isDetached(buf: ArrayBufferLike): boolean {
  if (!types.isArrayBuffer(buf)) return false;
  if (abDetached !== undefined) return abDetached.call(buf);
  if (abLength.call(buf) !== 0) return false;
  try {
    new U8(buf, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * The bytes of a Buffer, TypedArray, DataView, ArrayBuffer or
 * SharedArrayBuffer, as a Uint8Array over the same memory (no copy), with
 * its length read from the engine, never from a property. A detached buffer
 * is refused: it most often is a stale view of a closed mapping.
 */
export function toBytes(name: string, source: unknown): Uint8Array {
  let buf: ArrayBufferLike;
  let offset = 0;
  let length: number;
  if (ArrayBuffer.isView(source)) {
    if (types.isDataView(source)) {
      buf = dvBuffer.call(source);
      if (isDetached(buf)) throw detached(name, source);
      offset = dvOffset.call(source);
      length = dvLength.call(source);
    } else {
      buf = taBuffer.call(source);
      if (isDetached(buf)) throw detached(name, source);
      offset = taOffset.call(source);
      length = taLength.call(source);
    }
  } else if (types.isAnyArrayBuffer(source)) {
    buf = source;
    if (isDetached(buf)) throw detached(name, source);
    length = types.isArrayBuffer(buf) ? abLength.call(buf) : sabLength.call(buf);
  } else {
    throw invalidArgType(name, 'an instance of Buffer, TypedArray, DataView or ArrayBuffer', source);
  }
  return new U8(buf, offset, length);
}

function detached(name: string, value: unknown): TypeError {
  return invalidArgValue(name, value, 'is over a detached ArrayBuffer (a view of a closed mapping, or a transferred buffer)');
}
