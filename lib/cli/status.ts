import { daxStatus, type DaxStatus } from '../dax/status';
import { errorReason } from '../errors';
import { UsageError } from '../errors';
import { parse, type Command } from './args';
import { describe, pathFailure } from './failure';
import { err, json, outLines, pathFields } from './output';
import { tableLines, yesNo } from './table';

/** The JSON of a status: the daxStatus() fields, the path as text plus its bytes where they are not UTF-8. */
function statusJson(s: DaxStatus): Record<string, unknown> {
  return {
    ...pathFields(s.path, 'path', 'pathBase64'),
    type: s.type,
    dax: s.dax,
    flag: s.flag,
    inherit: s.inherit,
    newFilesDax: s.newFilesDax,
    mount: s.mount,
    deviceDax: s.deviceDax,
    blockSize: s.blockSize,
    pageSize: s.pageSize,
    reflink: s.reflink,
    reflinkBlocksDax: s.reflinkBlocksDax,
    kernel: s.kernel,
    reason: s.reason,
  };
}

export const status: Command = {
  summary: 'explain whether DAX is in effect for each PATH, and why',
  help: `Usage: daxkit status [--json] PATH...

For each path (a file, a directory or a /dev/daxX.Y device): whether DAX is in
effect (statx STATX_ATTR_DAX), FS_XFLAG_DAX, what new files in a directory will
be, the mount and its dax= mode (a legacy -o dax shows as always), whether the
device supports DAX, and the reason in one line. A path that cannot be looked
up is a row too, with the reason (and on stderr).

Options:
  --json   one JSON array with an object per path (the daxStatus() fields:
           path, pathBase64, type, dax, flag, inherit, newFilesDax, mount
           {mountPoint, device, fstype, majorMinor, options, daxMode},
           deviceDax, blockSize, pageSize, reflink, reflinkBlocksDax, kernel,
           reason); a path that fails gives {path, pathBase64, error: {code,
           message}}. "path" is text (a byte that is not UTF-8 as \\xNN);
           "pathBase64" has the exact bytes, null when "path" is exact.

Exit status: 0, or 1 when a path could not be examined (the error is on
stderr), 2 on a usage error.`,
  run(argv, raw) {
    const { values, positionals } = parse(argv, raw, { json: { type: 'boolean' } });
    if (positionals.length === 0) throw new UsageError('no PATH given: daxkit status PATH...');
    const results: Array<Record<string, unknown>> = [];
    const rows: string[][] = [];
    let failed = 0;
    for (const p of positionals) {
      try {
        const s = daxStatus(p.arg);
        results.push(statusJson(s));
        rows.push([
          s.path,
          s.type,
          s.type === 'directory' ? `new files: ${yesNo(s.newFilesDax)}` : yesNo(s.dax),
          s.flag === null ? '-' : s.flag ? 'set' : 'clear',
          s.mount ? `${s.mount.fstype} dax=${s.mount.daxMode === 'unsupported' ? '-' : s.mount.daxMode}` : '-',
          s.mount?.device ?? '-',
          s.reason,
        ]);
      } catch (e) {
        failed++;
        err(describe(e, p.text));
        results.push(pathFailure(p.text, e));
        rows.push([p.text, '-', '-', '-', '-', '-', errorReason(e)]);
      }
    }
    if (values.json) json(results);
    else outLines(tableLines(['PATH', 'TYPE', 'DAX', 'FLAG', 'MOUNT', 'DEVICE', 'REASON'], rows));
    return failed > 0 ? 1 : 0;
  },
};
