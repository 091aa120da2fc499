import type { DaxFlagEntry, DaxFlagListing, DaxFlagReport } from '../dax/flag';
import { listDaxFlags } from '../dax/flag';
import { setDaxFlag } from '../dax/set-flag';
import { shown } from '../fs/path-bytes';
import { errorReason } from '../errors';
import { UsageError } from '../errors';
import { didYouMean, parse, type Command } from './args';
import { describe, pathFailure } from './failure';
import { err, json, out, outLines, pathFields } from './output';
import { tableLines, yesNo } from './table';

type Summary = DaxFlagReport['summary'];

function flagText(v: boolean | null): string {
  return v === null ? '-' : v ? 'set' : 'clear';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summaryLine(s: Summary, dryRun: boolean): string {
  return `${plural(s.total, 'path')}: ${s.changed} ${dryRun ? 'would change' : 'changed'}, ${s.ok} ok, ${s.pending} pending, ${s.overridden} overridden, ${s.noEffect} no effect, ${s.skipped} skipped, ${s.failed} failed`;
}

/**
 * Why the PATH itself was left alone (a symlink not followed, a FIFO, a
 * socket, a device), in the CLI's words; null when it was acted on.
 */
function rootSkipped(e: { type: string; state: string; reason: string | null } | undefined): string | null {
  if (e === undefined || e.state !== 'skipped') return null;
  if (e.type === 'symlink') return 'a symbolic link, not followed (--follow-symlinks acts on its target)';
  if (e.type === 'other') return e.reason ?? 'not a regular file or directory';
  return null;
}

/** What the run came to, in the words of its title line. */
function outcome(r: DaxFlagReport): string {
  const s = r.summary;
  const skipped = rootSkipped(r.entries[0]);
  if (skipped !== null) return `nothing done: ${skipped}`;
  if (r.dryRun) return `plan (dry run: nothing was changed)${s.failed > 0 ? `, ${s.failed} would fail` : ''}`;
  if (r.aborted) {
    return s.changed === 0
      ? 'aborted (atomic): a path failed, so nothing was left changed'
      : `aborted (atomic): a path failed, and ${plural(s.changed, 'change')} could not be undone`;
  }
  if (s.failed > 0) return s.failed === s.total ? 'failed' : `done, ${s.failed} failed`;
  return 'done';
}

function title(enabled: boolean, path: string, recursive: boolean, what: string): string {
  return `${enabled ? 'set' : 'clear'} FS_XFLAG_DAX on ${shown(path)}${recursive ? ' (recursive)' : ''}: ${what}`;
}

const HEADER = ['PATH', 'FLAG', 'DAX', 'STATE', 'REASON'];

function row(e: DaxFlagEntry): string[] {
  return [e.path, e.changed ? `${flagText(e.flagBefore)} -> ${flagText(e.flagAfter)}` : flagText(e.flagAfter), e.type === 'file' ? yesNo(e.dax) : '-', e.state, e.reason ?? ''];
}

function entryJson(e: DaxFlagEntry): Record<string, unknown> {
  return {
    ...pathFields(e.path, 'path', 'pathBase64'),
    type: e.type,
    flagBefore: e.flagBefore,
    flagAfter: e.flagAfter,
    changed: e.changed,
    dax: e.dax,
    state: e.state,
    reason: e.reason,
    error: e.error,
  };
}

function reportJson(r: DaxFlagReport): Record<string, unknown> {
  return {
    ...pathFields(r.path, 'path', 'pathBase64'),
    enabled: r.enabled,
    recursive: r.recursive,
    dryRun: r.dryRun,
    atomic: r.atomic,
    aborted: r.aborted,
    entries: r.entries.map(entryJson),
    summary: r.summary,
  };
}

function listingJson(l: DaxFlagListing): Record<string, unknown> {
  return { ...pathFields(l.path, 'path', 'pathBase64'), type: l.type, flag: l.flag, dax: l.dax, reason: l.reason, error: l.error };
}

const OPTIONS = {
  recursive: { type: 'boolean', short: 'R' },
  'dry-run': { type: 'boolean' },
  atomic: { type: 'boolean' },
  'follow-symlinks': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export const flag: Command = {
  summary: 'read, set or clear FS_XFLAG_DAX on files and directories (-R for trees)',
  help: `Usage: daxkit flag get   [-R] [--json] PATH...
       daxkit flag set   [-R] [--dry-run] [--atomic] [--follow-symlinks] [--json] PATH...
       daxkit flag clear [-R] [--dry-run] [--atomic] [--follow-symlinks] [--json] PATH...

get shows FS_XFLAG_DAX, whether DAX is in effect (statx), and the reason in
one line, as daxkit status gives it. set and clear change only that bit
(FS_IOC_FSSETXATTR, read-modify-write), then check with statx whether each
file's effective state followed, and say why where it did not: an existing
file switches only once every process has closed it and its inode is evicted
(pending: the processes holding it are named); a dax=always or dax=never mount
decides instead of the flag (overridden); the filesystem or device cannot do
DAX (no effect). New files and directories inherit the flag of the directory
they are created in. Filesystems without FS_XFLAG_DAX (tmpfs, ext2, btrfs...)
fail with "not supported", for get, set and clear alike.

A tree is walked by file descriptor: every name is opened relative to its
directory without following symlinks, and what was opened is what is changed,
so a rename or symlink swapped in meanwhile cannot lead outside the tree.

Options:
  -R, --recursive      the whole tree below each PATH; symlinks are never
                       followed and mount points never entered (bind mounts
                       of the same filesystem included), as find -xdev
  --dry-run            print the plan, change nothing
  --atomic             check every path first and change nothing if any would
                       fail; undo the changes if one fails anyway (the report
                       says what stayed changed if an undo fails too)
  --follow-symlinks    when PATH itself is a symlink, act on its target
  --json               get: an array of {path, pathBase64, type, flag, dax,
                       reason, error}; set/clear: an array of reports {path,
                       pathBase64, enabled, recursive, dryRun, atomic, aborted,
                       entries: [{path, pathBase64, type, flagBefore,
                       flagAfter, changed, dax, state, reason, error}],
                       summary}; state is ok, pending, overridden, no-effect,
                       skipped, failed or rolled-back; a PATH that cannot be
                       looked up: {path, pathBase64, error: {code, message}}

Names: "path" is the name as text; a byte that is not UTF-8 is written \\xNN
there, and "pathBase64" holds the exact bytes (null when "path" is exact).
Tables escape control characters as bash's $'...' reads them: ESC as \\x1b,
a newline as \\n, a backslash as \\\\, and so on.

Exit status: 0; 1 when any path failed, an atomic run was aborted, or a PATH
was left alone (a symlink without --follow-symlinks, a FIFO, a socket, a
device: "nothing done"); 2 on a usage error.`,
  run(argv, raw) {
    const { values, positionals } = parse(argv, raw, OPTIONS);
    const [action, ...paths] = positionals;
    if (action === undefined) throw new UsageError('say get, set or clear: daxkit flag get|set|clear PATH...');
    if (action.text !== 'get' && action.text !== 'set' && action.text !== 'clear') {
      throw new UsageError(`unknown action '${shown(action.text)}': get, set or clear${didYouMean(action.text, ['get', 'set', 'clear'])}`);
    }
    if (paths.length === 0) throw new UsageError(`no PATH given: daxkit flag ${action.text} PATH...`);
    const asJson = values.json === true;
    const recursive = values.recursive === true;
    if (action.text === 'get') {
      if (values['dry-run'] || values.atomic) throw new UsageError('--dry-run and --atomic go with set and clear');
      return get(paths, recursive, values['follow-symlinks'] !== false, asJson);
    }
    const enabled = action.text === 'set';
    const opts = { recursive, dryRun: values['dry-run'] === true, atomic: values.atomic === true, followSymlinks: values['follow-symlinks'] === true };
    const results: Array<Record<string, unknown>> = [];
    const total: Summary = { total: 0, changed: 0, ok: 0, pending: 0, overridden: 0, noEffect: 0, skipped: 0, failed: 0 };
    let failed = false;
    // One block per PATH, a blank line between them; made only for text (a
    // tree's table can be long).
    const block = (lines: () => Iterable<string>): void => {
      if (asJson) return;
      if (results.length > 1) out('');
      outLines(lines());
    };
    for (const p of paths) {
      let r: DaxFlagReport;
      try {
        r = setDaxFlag(p.arg, enabled, opts);
      } catch (e) {
        failed = true;
        total.total++;
        total.failed++;
        results.push(pathFailure(p.text, e));
        block(function* () {
          yield title(enabled, p.text, recursive, 'failed');
          yield* tableLines(HEADER, [[p.text, '-', '-', 'failed', errorReason(e)]]);
          yield summaryLine({ total: 1, changed: 0, ok: 0, pending: 0, overridden: 0, noEffect: 0, skipped: 0, failed: 1 }, opts.dryRun);
        });
        err(describe(e, p.text));
        continue;
      }
      const skipped = rootSkipped(r.entries[0]);
      if (r.summary.failed > 0 || r.aborted || skipped !== null) failed = true;
      for (const k of Object.keys(total) as Array<keyof Summary>) total[k] += r.summary[k];
      results.push(reportJson(r));
      block(function* () {
        yield title(enabled, r.path, recursive, outcome(r));
        yield* tableLines(
          HEADER,
          r.entries.map((e, i) => (i === 0 && skipped !== null ? row(e).map((c, j) => (j === 4 ? skipped : c)) : row(e))),
        );
        yield summaryLine(r.summary, opts.dryRun);
      });
      if (skipped !== null) err(`${shown(r.path)}: nothing done: ${shown(skipped)}`);
      for (const e of r.entries) if (e.state === 'failed') err(`${shown(e.path)}: ${shown(e.reason ?? e.error?.message ?? 'failed')}`);
    }
    if (asJson) json(results);
    else if (paths.length > 1) out(`\nin all: ${summaryLine(total, opts.dryRun)}`);
    return failed ? 1 : 0;
  },
};

function get(paths: Array<{ text: string; arg: string | Buffer }>, recursive: boolean, follow: boolean, asJson: boolean): number {
  const results: Array<Record<string, unknown>> = [];
  const rows: string[][] = [];
  let failed = false;
  for (const p of paths) {
    let list: DaxFlagListing[];
    try {
      list = listDaxFlags(p.arg, { recursive, followSymlinks: follow });
    } catch (e) {
      failed = true;
      results.push(pathFailure(p.text, e));
      if (!asJson) rows.push(['-', '-', p.text, errorReason(e)]);
      err(describe(e, p.text));
      continue;
    }
    const skipped = list[0].type === 'symlink' || list[0].type === 'other' ? list[0].reason : null;
    if (skipped !== null) {
      // The PATH itself has no flag to show: said, and not a success.
      failed = true;
      err(`${shown(p.text)}: ${shown(skipped)}`);
    }
    for (const l of list) {
      if (asJson) results.push(listingJson(l));
      else rows.push([flagText(l.flag), l.type === 'file' ? yesNo(l.dax) : '-', l.path, l.reason ?? '']);
      if (l.error !== null) {
        failed = true;
        err(`${shown(l.path)}: ${shown(l.reason ?? l.error.message)}`);
      }
    }
  }
  if (asJson) json(results);
  else outLines(tableLines(['FLAG', 'DAX', 'PATH', 'NOTE'], rows));
  return failed ? 1 : 0;
}
