import { parseArgs } from 'node:util';
import { listDaxFlags, setDaxFlag, type DaxFlagListing, type DaxFlagReport } from '../dax-flag';
import { err, json, out, UsageError, type Command } from './common';
import { table, yesNo } from './table';

function flagText(v: boolean | null): string {
  return v === null ? '-' : v ? 'set' : 'clear';
}

function printReport(r: DaxFlagReport): void {
  const title = r.dryRun ? 'plan (dry run: nothing was changed)' : r.aborted ? 'aborted (atomic: nothing was left changed)' : 'done';
  out(`${r.enabled ? 'set' : 'clear'} FS_XFLAG_DAX on ${r.path}${r.recursive ? ' (recursive)' : ''}: ${title}`);
  const rows = r.entries.map((e) => [
    e.path,
    e.changed ? `${flagText(e.flagBefore)} -> ${flagText(e.flagAfter)}` : flagText(e.flagAfter),
    e.type === 'file' ? yesNo(e.dax) : '-',
    e.state,
    e.reason ?? '',
  ]);
  out(table(['PATH', 'FLAG', 'DAX', 'STATE', 'REASON'], rows));
  const s = r.summary;
  out(`${s.total} path${s.total === 1 ? '' : 's'}: ${s.changed} ${r.dryRun ? 'would change' : 'changed'}, ${s.ok} ok, ${s.pending} pending, ${s.overridden} overridden, ${s.noEffect} no effect, ${s.skipped} skipped, ${s.failed} failed\n`);
}

export const flag: Command = {
  summary: 'read, set or clear FS_XFLAG_DAX on files and directories (-R for trees)',
  help: `Usage: daxkit flag get   [-R] [--json] PATH...
       daxkit flag set   [-R] [--dry-run] [--atomic] [--follow-symlinks] [--json] PATH...
       daxkit flag clear [-R] [--dry-run] [--atomic] [--follow-symlinks] [--json] PATH...

get shows FS_XFLAG_DAX and whether DAX is in effect (statx). set and clear
change only that bit (FS_IOC_FSSETXATTR, read-modify-write), then check with
statx whether each file's effective state followed, and say why where it did
not: an existing file switches only once every process has closed it and its
inode is evicted (pending: the processes holding it are named); a dax=always or
dax=never mount decides instead of the flag (overridden); the filesystem or
device cannot do DAX (no effect). New files and directories inherit the flag
of the directory they are created in.

Options:
  -R, --recursive      the whole tree below each PATH; symlinks are never
                       followed and other filesystems never entered
  --dry-run            print the plan, change nothing
  --atomic             check every path first and change nothing if any would
                       fail; undo the changes if one fails anyway
  --follow-symlinks    when PATH itself is a symlink, act on its target
  --json               get: an array of {path, type, flag, dax, reason, error};
                       set/clear: an array of reports {path, enabled, recursive,
                       dryRun, atomic, aborted, entries: [{path, type,
                       flagBefore, flagAfter, changed, dax, state, reason,
                       error}], summary}; state is ok, pending, overridden,
                       no-effect, skipped, failed or rolled-back

Exit status: 0; 1 when any path failed; 2 on a usage error.`,
  run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        recursive: { type: 'boolean', short: 'R' },
        'dry-run': { type: 'boolean' },
        atomic: { type: 'boolean' },
        'follow-symlinks': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
    const [action, ...paths] = positionals;
    if (action !== 'get' && action !== 'set' && action !== 'clear') {
      throw new UsageError(action === undefined ? 'say get, set or clear (daxkit flag get|set|clear PATH...)' : `unknown action '${action}': get, set or clear`);
    }
    if (paths.length === 0) throw new UsageError(`no PATH given (daxkit flag ${action} PATH...)`);
    let failed = 0;
    if (action === 'get') {
      if (values['dry-run'] || values.atomic) throw new UsageError('--dry-run and --atomic go with set and clear');
      const all: Array<DaxFlagListing | { path: string; error: { code: string; message: string } }> = [];
      for (const p of paths) {
        try {
          const list = listDaxFlags(p, { recursive: values.recursive ?? false, followSymlinks: values['follow-symlinks'] ?? true });
          failed += list.filter((l) => l.error !== null).length;
          all.push(...list);
        } catch (e) {
          failed++;
          err((e as Error).message);
          all.push({ path: p, error: { code: String((e as NodeJS.ErrnoException).code ?? 'ERR'), message: (e as Error).message } });
        }
      }
      if (values.json) {
        json(all);
      } else {
        const rows = all
          .filter((l): l is DaxFlagListing => 'type' in l)
          .map((l) => [flagText(l.flag), l.type === 'file' ? yesNo(l.dax) : '-', l.path, l.reason ?? '']);
        if (rows.length > 0) out(table(['FLAG', 'DAX', 'PATH', 'NOTE'], rows));
      }
      return failed > 0 ? 1 : 0;
    }
    const reports: Array<DaxFlagReport | { path: string; error: { code: string; message: string } }> = [];
    for (const p of paths) {
      try {
        const r = setDaxFlag(p, action === 'set', {
          recursive: values.recursive ?? false,
          dryRun: values['dry-run'] ?? false,
          atomic: values.atomic ?? false,
          followSymlinks: values['follow-symlinks'] ?? false,
        });
        if (r.summary.failed > 0 || r.aborted) failed++;
        reports.push(r);
        if (!values.json) printReport(r);
        for (const e of r.entries) if (e.state === 'failed' && !values.json) err(`${e.path}: ${e.error?.message ?? e.reason}`);
      } catch (e) {
        failed++;
        err((e as Error).message);
        reports.push({ path: p, error: { code: String((e as NodeJS.ErrnoException).code ?? 'ERR'), message: (e as Error).message } });
      }
    }
    if (values.json) json(reports);
    return failed > 0 ? 1 : 0;
  },
};
