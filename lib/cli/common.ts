// What every daxkit command shares: usage errors (exit 2), failures (exit 1),
// stdout for results, stderr for diagnostics.
export class UsageError extends Error {}

export interface Command {
  /** One line for `daxkit help`. */
  summary: string;
  /** The full help text of the command. */
  help: string;
  /** Runs the command; resolves with the exit code. */
  run(argv: string[]): Promise<number> | number;
}

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function err(text: string): void {
  process.stderr.write(`daxkit: ${text}\n`);
}

/** Prints JSON with a trailing newline: the stable, machine-readable form. */
export function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`);
}
