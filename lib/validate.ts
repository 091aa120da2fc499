import { invalidArgType, invalidArgValue, outOfRange } from './errors';
import { pathBytes, pathText } from './path-bytes';

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

export function validatePath(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.length === 0) throw invalidArgValue(name, value, 'must be a non-empty string');
  if (value.includes('\0')) throw invalidArgValue(name, value, 'must not contain null bytes');
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

/** The bytes of a Buffer, TypedArray, DataView or ArrayBuffer, as a view (no copy). */
export function toView(name: string, source: unknown): ArrayBufferView {
  if (ArrayBuffer.isView(source)) return source;
  if (source instanceof ArrayBuffer || source instanceof SharedArrayBuffer) return new Uint8Array(source);
  throw invalidArgType(name, 'an instance of Buffer, TypedArray, DataView or ArrayBuffer', source);
}
