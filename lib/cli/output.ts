// stdout for results, stderr for diagnostics, and output that a file name
// cannot turn against the terminal: text escaped, JSON with the exact bytes
// of a name beside its text.
import { base64IfNotText, jsonText, shown } from '../fs/path-bytes';

// Raw C0/C1 controls and the like, should any reach out() or err() without
// being shown(): escaped the same way, but backslashes and newlines are left
// alone, so text already shown() passes unchanged.
// eslint-disable-next-line no-control-regex
const STRAY = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;

/** Makes stray terminal controls visible without touching text already escaped by shown(). */
export function terminalSafe(text: string): string {
  return text.replace(STRAY, (c) => shown(c));
}

export function out(text: string): void {
  const t = terminalSafe(text);
  process.stdout.write(t.endsWith('\n') ? t : `${t}\n`);
}

export function err(text: string): void {
  process.stderr.write(`daxkit: ${terminalSafe(text)}\n`);
}

// JSON.stringify leaves DEL, C1 controls and the separators raw; `cat` of
// the output must not reach the terminal with them.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Prints JSON with a trailing newline: the stable, machine-readable form.
 * Strings are jsonText()s (a byte that is not UTF-8 as `\xNN`; the exact
 * bytes travel in the *Base64 fields), bigints numbers.
 */
export function json(value: unknown): void {
  const text = JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === 'bigint') return Number(v);
      if (typeof v === 'string') return jsonText(v);
      return v;
    },
    2,
  );
  process.stdout.write(`${text.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`);
}

/** The JSON fields of a path: its text, and the exact bytes in base64 when the text is not the name exactly (else null). */
export function pathFields(text: string, key: string, base64Key: string): Record<string, string | null> {
  return { [key]: text, [base64Key]: base64IfNotText(text) };
}
