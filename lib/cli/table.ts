// Plain-text tables for the human output of the CLI.
import { shown } from '../fs/path-bytes';

/**
 * Left-aligned columns separated by two spaces; the last column is not
 * padded. Every cell is shown() (escaped for the terminal): cells hold file
 * names and reasons that quote them.
 */
export function table(header: string[], rows: string[][]): string {
  const cells = rows.map((r) => r.map((c) => shown(c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (cs: string[]): string =>
    cs
      .map((c, i) => (i === cs.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

export function yesNo(v: boolean | null): string {
  return v === null ? '-' : v ? 'yes' : 'no';
}
