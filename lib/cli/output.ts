// stdout for results, stderr for diagnostics, and output that a file name
// cannot turn against the terminal: text escaped, JSON with the exact bytes
// of a name beside its text.
import { base64IfNotText, jsonTerminalSafe, jsonText, terminalSafe } from '../fs/path-bytes';

export function out(text: string): void {
  const t = terminalSafe(text);
  process.stdout.write(t.endsWith('\n') ? t : `${t}\n`);
}

const CHUNK = 1 << 16;

/** Writes lines to stdout, a chunk at a time (for output of any length: see tableLines). */
export function outLines(lines: Iterable<string>): void {
  let buf = '';
  for (const l of lines) {
    buf += `${terminalSafe(l)}\n`;
    if (buf.length >= CHUNK) {
      process.stdout.write(buf);
      buf = '';
    }
  }
  if (buf !== '') process.stdout.write(buf);
}

export function err(text: string): void {
  process.stderr.write(`daxkit: ${terminalSafe(text)}\n`);
}

/**
 * Prints JSON with a trailing newline: the stable, machine-readable form,
 * laid out as JSON.stringify(value, null, 2) lays it out. Strings are
 * jsonText()s (a byte that is not UTF-8 as `\xNN`; the exact bytes travel in
 * the *Base64 fields), bigints numbers. Arrays and objects are written a
 * piece at a time: the report of a whole tree must not have to fit in one
 * string (V8 caps a string near 512 MiB).
 */
export function json(value: unknown): void {
  let buf = '';
  const write = (s: string): void => {
    buf += s;
    if (buf.length >= CHUNK) {
      process.stdout.write(buf);
      buf = '';
    }
  };
  writeJson(value, '', write);
  process.stdout.write(`${buf}\n`);
}

function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return jsonText(v);
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') return jsonValue((v as { toJSON: () => unknown }).toJSON());
  return v;
}

function omitted(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

function jsonScalar(v: unknown): string {
  return jsonTerminalSafe(JSON.stringify(v) as string);
}

function writeJson(raw: unknown, indent: string, write: (s: string) => void): void {
  const v = jsonValue(raw);
  if (v === null || typeof v !== 'object') {
    write(jsonScalar(v));
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return write('[]');
    write('[\n');
    for (let i = 0; i < v.length; i++) {
      write(inner);
      const x = jsonValue(v[i]);
      if (omitted(x)) write('null');
      else writeJson(x, inner, write);
      write(i + 1 < v.length ? ',\n' : '\n');
    }
    return write(`${indent}]`);
  }
  const entries = Object.entries(v).filter(([, x]) => !omitted(jsonValue(x)));
  if (entries.length === 0) return write('{}');
  write('{\n');
  entries.forEach(([k, x], i) => {
    write(`${inner}${jsonScalar(k)}: `);
    writeJson(x, inner, write);
    write(i + 1 < entries.length ? ',\n' : '\n');
  });
  write(`${indent}}`);
}

/** The JSON fields of a path: its text, and the exact bytes in base64 when the text is not the name exactly (else null). */
export function pathFields(text: string, key: string, base64Key: string): Record<string, string | null> {
  return { [key]: text, [base64Key]: base64IfNotText(text) };
}
