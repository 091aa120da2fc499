// Plain-text tables for the human output of the CLI. A table may have a row
// per file of a tree (millions): its lines are made one at a time, and never
// one argument per row to a call (Math.max(...rows) overflows the stack near
// 125,000 rows) nor one string for the whole table (V8 caps a string near
// 512 MiB).
import { shown } from '../fs/path-bytes';

/**
 * The lines of a table: left-aligned columns separated by two spaces; the
 * last column is not padded. Every cell is shown() (escaped for the
 * terminal): cells hold file names and reasons that quote them.
 */
export function* tableLines(header: string[], rows: readonly string[][]): Generator<string> {
  const widths = header.map((h) => h.length);
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i], shown(r[i] ?? '').length);
  const line = (cs: string[]): string =>
    cs
      .map((c, i) => (i === cs.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  yield line(header);
  for (const r of rows) yield line(r.map((c) => shown(c)));
}

/** A small table as one string (see tableLines). */
export function table(header: string[], rows: readonly string[][]): string {
  return [...tableLines(header, rows)].join('\n');
}

export function yesNo(v: boolean | null): string {
  return v === null ? '-' : v ? 'yes' : 'no';
}
