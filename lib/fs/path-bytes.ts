// Names are bytes. Linux allows any byte but '/' and NUL in a name, so a name
// need not be UTF-8, and a string cannot hold every name. daxkit carries
// paths as Buffers inside its walks and, where it needs text, uses one
// lossless form: the bytes decoded as UTF-8, with each byte that is not part
// of valid UTF-8 written as the lone surrogate U+DC80 + byte (Python's
// "surrogateescape", PEP 383). A valid UTF-8 name is its own text; no two
// names share a text (UTF-8 never decodes to a lone surrogate); and the text
// turns back into the bytes (pathBytes). Output then escapes exactly once:
// jsonText() for JSON, shown() for a terminal.

const LONE_ESCAPED = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;
// Lone surrogates that stand for no byte: a high one not followed by a low
// one, or a low one below U+DC80 not preceded by a high one.
const LONE_OTHER = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDC7F]/;

/** The length of the valid UTF-8 sequence at b[i], or 0 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF). */
function sequenceAt(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** The text of path bytes, lossless (see the top of this file). */
export function pathText(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const fast = buf.toString('utf8');
  // U+FFFD in the result means either a real U+FFFD or a byte that is not UTF-8.
  if (!fast.includes('\uFFFD')) return fast;
  let out = '';
  let start = 0;
  for (let i = 0; i < buf.length; ) {
    const n = sequenceAt(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += buf.toString('utf8', start, i) + String.fromCharCode(0xdc00 + buf[i]);
    i++;
    start = i;
  }
  return out + buf.toString('utf8', start);
}

/** Whether pathText() gave the name exactly, i.e. the bytes are valid UTF-8. */
export function isPlainText(s: string): boolean {
  return !LONE_ESCAPED.test(s);
}

/**
 * A lone surrogate of `s` that stands for no byte (see pathBytes), or null.
 * UTF-8 has no encoding for it: Node's fs would pass U+FFFD's bytes (EF BF
 * BD), which name another file.
 */
export function loneSurrogate(s: string): string | null {
  return LONE_OTHER.exec(s)?.[0] ?? null;
}

/**
 * The bytes of a path: a Buffer (or Uint8Array) as it is; a string as UTF-8,
 * except that a lone surrogate U+DC80-U+DCFF (never valid text, and how
 * daxkit reports a byte that is not UTF-8) stands for the byte 0x80-0xFF, so
 * a `path` from a daxkit report names the same file when passed back. Any
 * other lone surrogate is refused by validation first (loneSurrogate()).
 */
export function pathBytes(p: string | Uint8Array): Buffer {
  if (typeof p !== 'string') return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (isPlainText(p)) return Buffer.from(p, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    const prev = i > 0 ? p.charCodeAt(i - 1) : 0;
    if (c >= 0xdc80 && c <= 0xdcff && !(prev >= 0xd800 && prev <= 0xdbff)) {
      parts.push(Buffer.from(p.slice(start, i), 'utf8'), Buffer.of(c - 0xdc00));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(p.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/**
 * The text for JSON: each byte that is not UTF-8 as the four characters
 * `\xNN` (for reading; the exact bytes travel in a separate base64 field).
 */
export function jsonText(s: string): string {
  return isPlainText(s) ? s : s.replace(new RegExp(LONE_ESCAPED.source, 'g'), (c) => `\\x${hex2(c.charCodeAt(0) - 0xdc00)}`);
}

/** base64 of the bytes of a path text, or null when the text is the name exactly (valid UTF-8). */
export function base64IfNotText(s: string): string | null {
  return isPlainText(s) ? null : pathBytes(s).toString('base64');
}

// What a terminal must not receive raw: C0 controls (ESC starts escape
// sequences, CR and BS overwrite, BEL rings), DEL, C1 controls (U+009B is a
// CSI of its own on some terminals), the line and paragraph separators, and
// the bidirectional controls that reorder what is shown ("Trojan Source").
// Lone surrogates: bytes that are not UTF-8 (U+DC80-U+DCFF), or a broken string.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const NAMED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Text made safe for a terminal, escaped as bash's $'...' reads it: `\\`,
 * `\t`, `\n`, `\r`; `\xNN` for other C0 controls, DEL and bytes that are not
 * UTF-8; `\uNNNN` for C1 controls, separators and bidirectional controls.
 * Pasted between $' and ' (with any ' written \'), it gives the exact bytes.
 */
export function shown(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const u = c.charCodeAt(0);
    if (u < 0x20 || u === 0x7f) return `\\x${hex2(u)}`;
    if (u >= 0xdc80 && u <= 0xdcff) return `\\x${hex2(u - 0xdc00)}`;
    return `\\u${u.toString(16).padStart(4, '0')}`;
  });
}

// Raw C0/C1 controls and the like, should any reach a terminal without being
// shown(): escaped the same way, but backslashes and newlines are left
// alone, so text already shown() (and text of several lines) passes unchanged.
// eslint-disable-next-line no-control-regex
const STRAY = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;

/** Makes stray terminal controls visible without touching text already escaped by shown(). */
export function terminalSafe(text: string): string {
  return text.replace(STRAY, (c) => shown(c));
}

// JSON.stringify leaves DEL, C1 controls, the separators and the
// bidirectional controls raw; `cat` of the output must not reach the
// terminal with them. In JSON they can only be inside strings, where
// \uNNNN reads back as the same character.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** JSON text (JSON.stringify's) with those characters written as \uNNNN escapes. */
export function jsonTerminalSafe(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
