// What a command is, and its arguments: their exact bytes (a path need not
// be UTF-8), and the one option parser, which speaks in daxkit's voice and
// suggests what was meant.
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors';
import { pathText, shown } from '../fs/path-bytes';

export interface Command {
  /** One line for `daxkit help`. */
  summary: string;
  /** The full help text of the command. */
  help: string;
  /**
   * Runs the command; resolves with the exit code. `raw` holds the exact
   * bytes of each argument (argv is decoded as UTF-8, which loses any other
   * bytes a path may hold).
   */
  run(argv: string[], raw: Buffer[]): Promise<number> | number;
}

/**
 * The exact bytes of this process's arguments after the script, from
 * /proc/self/cmdline, or the UTF-8 of process.argv where they cannot be
 * matched up (then a name that is not UTF-8 cannot be named on the command line).
 */
export function rawArgs(argv: string[]): Buffer[] {
  const fallback = argv.map((a) => Buffer.from(a, 'utf8'));
  try {
    const all = fs.readFileSync('/proc/self/cmdline');
    const parts: Buffer[] = [];
    for (let i = 0, j = 0; j < all.length; j++) {
      if (all[j] === 0) {
        parts.push(all.subarray(i, j));
        i = j + 1;
      }
    }
    if (parts.length < argv.length) return fallback;
    const tail = parts.slice(parts.length - argv.length);
    // Each must decode to what Node decoded: the same text, or U+FFFD where bytes were not UTF-8.
    const agrees = tail.every((b, k) => {
      const t = pathText(b);
      return t === argv[k] || (t !== b.toString('utf8') && b.toString('utf8') === argv[k]);
    });
    return agrees ? tail.map((b) => Buffer.from(b)) : fallback;
  } catch {
    return fallback;
  }
}

/** A path argument for the library: the string where the bytes are UTF-8, else the exact bytes. */
export function pathArg(text: string, raw: Buffer | undefined): string | Buffer {
  if (raw === undefined || pathText(raw) === text) return text;
  return raw;
}

/** The text of an argument as daxkit reports it (lossless). */
export function argText(text: string, raw: Buffer | undefined): string {
  return raw === undefined ? text : pathText(raw);
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidate nearest to `word` (a typo, another case, or a unique prefix), or null when none is near. */
export function nearest(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase();
  const exact = candidates.find((c) => c.toLowerCase() === w);
  if (exact !== undefined) return exact;
  const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(w) && w.replace(/^-+/, '').length >= 2);
  if (prefixed.length === 1) return prefixed[0];
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = distance(w, c.toLowerCase());
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  const limit = Math.max(1, Math.floor(w.replace(/^-+/, '').length / 3));
  return bestD <= limit ? best : null;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const n = nearest(word, candidates);
  return n === null ? '' : `; did you mean '${n}'?`;
}

export interface OptionSpec {
  type: 'boolean' | 'string';
  short?: string;
  multiple?: boolean;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  /** Positionals as text (lossless) and as the argument for the library (exact bytes where not UTF-8). */
  positionals: Array<{ text: string; arg: string | Buffer }>;
  /** String option values, likewise. */
  paths: Record<string, { text: string; arg: string | Buffer } | undefined>;
}

/**
 * node:util parseArgs with daxkit's messages: an unknown option names the
 * nearest known one, a missing or unexpected value says which option, and
 * every mistake is a UsageError (exit 2, with a pointer to --help).
 */
export function parse(argv: string[], raw: Buffer[], options: Record<string, OptionSpec>, positionals: 'none' | 'any' = 'any'): Parsed {
  const known = Object.keys(options);
  const spelled = [...known.map((k) => `--${k}`), ...known.filter((k) => options[k].short).map((k) => `-${options[k].short}`)];
  const loose = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of loose.tokens ?? []) {
    if (t.kind !== 'option') continue;
    const spec = options[t.name];
    if (spec === undefined) throw new UsageError(`unknown option '${t.rawName}'${didYouMean(t.rawName, spelled)}`);
    if (spec.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-') && t.value !== '-'))) {
      throw new UsageError(`option '${t.rawName}' needs a value${t.value === undefined ? '' : ` (to give one that starts with '-', write --${t.name}=${t.value})`}`);
    }
    if (spec.type === 'boolean' && t.value !== undefined) throw new UsageError(`option '${t.rawName}' takes no value (got '${t.value}')`);
  }
  const pos = (loose.tokens ?? []).filter((t): t is Extract<typeof t, { kind: 'positional' }> => t.kind === 'positional');
  if (positionals === 'none' && pos.length > 0) throw new UsageError(`unexpected argument '${shown(argText(pos[0].value, raw[pos[0].index]))}': this command takes only options`);
  let strict;
  try {
    strict = parseArgs({ args: argv, options, strict: true, allowPositionals: true, tokens: true });
  } catch (e) {
    throw new UsageError(voice((e as Error).message));
  }
  const paths: Parsed['paths'] = {};
  for (const t of strict.tokens) {
    // An empty argument names nothing: '' is no path, and no sysfs root (it is not '.').
    if (t.kind === 'positional' && t.value === '') throw new UsageError(`an empty argument (argument ${t.index + 1} after the command) names nothing`);
    if (t.kind === 'option' && options[t.name].type === 'string' && t.value === '') throw new UsageError(`option '--${t.name}' needs a value that is not empty`);
    if (t.kind === 'option' && options[t.name].type === 'string' && t.value !== undefined) {
      const r = t.inlineValue ? Buffer.from(raw[t.index] ?? Buffer.alloc(0)).subarray(Buffer.byteLength(`--${t.name}=`)) : raw[t.index + 1];
      paths[t.name] = { text: argText(t.value, r), arg: pathArg(t.value, r) };
    }
  }
  return {
    values: strict.values as Parsed['values'],
    positionals: pos.map((t) => ({ text: argText(t.value, raw[t.index]), arg: pathArg(t.value, raw[t.index]) })),
    paths,
  };
}

/** Node's parseArgs messages in daxkit's words (for what parse() did not catch first, and for bench). */
export function voice(message: string): string {
  let m = /^Unknown option '([^']+)'/.exec(message);
  if (m !== null) return `unknown option '${m[1]}'`;
  // "Option '-s, --size <value>' argument missing"; "Option '--size' argument is ambiguous." (a value that starts with '-').
  m = /^Option '(-\S+)(?:, (--\S+))?(?: <value>)?' argument (?:missing|is ambiguous)/.exec(message);
  if (m !== null) return `option '${m[2] ?? m[1]}' needs a value (to give one that starts with '-', write ${m[2] ?? m[1]}=VALUE)`;
  m = /^Option '(-\S+)(?:, (--\S+))?' does not take an argument/.exec(message);
  if (m !== null) return `option '${m[2] ?? m[1]}' takes no value`;
  m = /^Unexpected argument '([^']*)'/.exec(message);
  if (m !== null) return `unexpected argument '${m[1]}': this command takes only options`;
  return message.replace(/^./, (c) => c.toLowerCase());
}
