import { parseArgs } from 'node:util';
import { daxStatus, type DaxStatus } from '../dax-status';
import { err, json, out, UsageError, type Command } from './common';
import { table, yesNo } from './table';

export const status: Command = {
  summary: 'explain whether DAX is in effect for each PATH, and why',
  help: `Usage: daxkit status [--json] PATH...

For each path (a file, a directory or a /dev/daxX.Y device): whether DAX is in
effect (statx STATX_ATTR_DAX), FS_XFLAG_DAX, what new files in a directory will
be, the mount and its dax= mode (a legacy -o dax shows as always), whether the
device supports DAX, and the reason in one line.

Options:
  --json   one JSON array with an object per path (the daxStatus() fields:
           path, type, dax, flag, inherit, newFilesDax, mount {mountPoint,
           device, fstype, majorMinor, options, daxMode}, deviceDax, blockSize,
           pageSize, reflink, reflinkBlocksDax, kernel, reason); a path that
           fails gives {path, error: {code, message}}

Exit status: 0, or 1 when a path could not be examined (the error is on
stderr), 2 on a usage error.`,
  run(argv) {
    const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
    if (positionals.length === 0) throw new UsageError('no PATH given (daxkit status PATH...)');
    const results: Array<DaxStatus | { path: string; error: { code: string; message: string } }> = [];
    let failed = 0;
    for (const p of positionals) {
      try {
        results.push(daxStatus(p));
      } catch (e) {
        failed++;
        err((e as Error).message);
        results.push({ path: p, error: { code: String((e as NodeJS.ErrnoException).code ?? 'ERR'), message: (e as Error).message } });
      }
    }
    if (values.json) {
      json(results);
    } else {
      const rows = results
        .filter((r): r is DaxStatus => !('error' in r))
        .map((s) => [
          s.path,
          s.type,
          s.type === 'directory' ? `new files: ${yesNo(s.newFilesDax)}` : yesNo(s.dax),
          s.flag === null ? '-' : s.flag ? 'set' : 'clear',
          s.mount ? `${s.mount.fstype} dax=${s.mount.daxMode === 'unsupported' ? '-' : s.mount.daxMode}` : '-',
          s.mount?.device ?? '-',
          s.reason,
        ]);
      if (rows.length > 0) out(table(['PATH', 'TYPE', 'DAX', 'FLAG', 'MOUNT', 'DEVICE', 'REASON'], rows));
    }
    return failed > 0 ? 1 : 0;
  },
};
