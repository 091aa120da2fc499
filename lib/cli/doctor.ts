import { doctor as examine, type DoctorReport } from '../doctor/doctor';
import { errorReason, UsageError } from '../errors';
import { shown } from '../fs/path-bytes';
import { parse, type Command } from './args';
import { describe, pathFailure } from './failure';
import { err, json, outLines, pathFields } from './output';

const WORD = { true: 'yes', false: 'no', null: 'unknown' } as const;

function verdictWord(d: boolean | null): string {
  return WORD[String(d) as keyof typeof WORD];
}

/** The JSON of a report: doctor()'s fields, the path as text plus its bytes where they are not UTF-8. */
function reportJson(r: DoctorReport): Record<string, unknown> {
  const { path, ...rest } = r;
  return { ...pathFields(path, 'path', 'pathBase64'), verdict: verdictWord(r.durable), ...rest };
}

function reportLines(r: DoctorReport): string[] {
  const p = r.persistence;
  const where = [p.device, p.region === p.device ? null : p.region].filter((x) => x !== null).join(' in ');
  const mount = r.mount === null ? '-' : `${r.mount.mountPoint} (${r.mount.fstype} on ${r.mount.device}, dax=${r.mount.daxMode === 'unsupported' ? '-' : r.mount.daxMode})`;
  const lines = [
    `${shown(r.path)}: durable: ${verdictWord(r.durable)}${r.assumed ? ' (assumed)' : ''}`,
    `  why:        ${shown(r.reason)}`,
    `  memory:     ${where === '' ? '-' : shown(where)}, provider ${p.provider}, domain ${p.domain}${p.assumed ? ' (assumed)' : ''}`,
    `  persist():  ${r.persist.flushMechanism}, ${r.persist.granularity} granularity`,
    `  mount:      ${shown(mount)}`,
    `  DAX:        ${r.type === 'directory' ? 'new files ' : ''}${r.dax === null ? '-' : r.dax ? 'yes' : 'no'}, FS_XFLAG_DAX ${r.flag === null ? '-' : r.flag ? 'set' : 'clear'}: ${shown(r.daxReason)}`,
    `  MAP_SYNC:   ${r.mapSync.granted === null ? 'not probed' : r.mapSync.granted ? 'granted' : 'refused'}: ${shown(r.mapSync.reason)}`,
    `  shutdowns:  ${r.shutdown.count === null ? `unknown: ${shown(r.shutdown.reason ?? '')}` : `${r.shutdown.count} unsafe (id ${shown(r.shutdown.id ?? '-')})`}`,
    `  badblocks:  ${r.badblocks.count === null ? `unknown: ${shown(r.badblocks.reason ?? '')}` : `${r.badblocks.count} on ${shown(r.badblocks.device ?? '-')}`}`,
    `  huge pages: ${r.hugePages.ok === null ? '-' : r.hugePages.ok ? 'yes' : 'no'}: ${shown(r.hugePages.reason)}`,
    `  CPU flush:  ${r.cpuFlush}`,
  ];
  for (const w of r.warnings) lines.push(`  warning:    ${shown(w)}`);
  return lines;
}

export const doctor: Command = {
  summary: 'say for each PATH whether stores made durable with persist() survive power loss, and why',
  help: `Usage: daxkit doctor [--json] PATH...

For each path (a file; a directory, for a new file made in it; or a
/dev/daxX.Y device) one verdict: do stores made durable with persist() there
survive power loss? yes, no, or unknown, and why. It rests on the memory
behind the path and where its persistence domain ends (NFIT or CXL
persistent memory, virtio-pmem, soft-reserved or memmap= RAM, a page cache
over a disk or over RAM), and on what persist() does there, which a real
mmap(MAP_SYNC) settles: of the file itself, read-only, or of an unnamed
temporary file in the directory, gone when doctor ends (a read-only
filesystem or a directory you cannot write to is said, not an error). Also
shown: the mount and its dax= mode, S_DAX and FS_XFLAG_DAX, the unsafe-
shutdown count of the DIMMs, bad blocks, 2 MiB page alignment, and the CPU's
cache-line write-back instruction. A filesystem on a loop device is as
durable as the loop's backing file; one without a block device of its own
(NFS, FUSE, overlay, btrfs, proc) is unknown: what keeps its data is out of
sight (an overlay over tmpfs is RAM). Volatile memory is never durable;
"assumed" marks a yes that rests on what the platform does not say (an NFIT
region without persistence_domain is taken to need its lines written back).

Options:
  --json   one JSON array with an object per path: path, pathBase64,
           verdict ("yes", "no", "unknown"), durable (true, false, null),
           type, reason, assumed, persistence {domain, provider, reason,
           assumed, device, region}, persist {flushMechanism, granularity,
           mapSync, reason}, dax, flag, mount, daxReason, mapSync {probed,
           granted, error, reason}, shutdown {count, id, reason}, badblocks
           {device, count, reason}, hugePages {align, ok, reason}, cpuFlush,
           warnings; a path that fails gives {path, pathBase64, verdict:
           "unknown", durable: null, error: {code, message}}. "path" is text
           (a byte that is not UTF-8 as \\xNN); "pathBase64" has the exact
           bytes, null when "path" is exact.

Exit status: 0 when every path is durable (a yes, assumed or not); 1 when a
path is not (no, or unknown), or could not be examined (the error is on
stderr); 2 on a usage error.`,
  run(argv, raw) {
    const { values, positionals } = parse(argv, raw, { json: { type: 'boolean' } });
    if (positionals.length === 0) throw new UsageError('no PATH given: daxkit doctor PATH...');
    const results: Array<Record<string, unknown>> = [];
    const lines: string[] = [];
    let bad = 0;
    for (const p of positionals) {
      try {
        const r = examine(p.arg);
        if (r.durable !== true) bad++;
        results.push(reportJson(r));
        if (lines.length > 0) lines.push('');
        lines.push(...reportLines(r));
      } catch (e) {
        bad++;
        err(describe(e, p.text));
        const f = pathFailure(p.text, e);
        results.push({ ...f, verdict: 'unknown', durable: null });
        if (lines.length > 0) lines.push('');
        lines.push(`${shown(p.text)}: durable: unknown`, `  why:        ${shown(errorReason(e))}`);
      }
    }
    if (values.json) json(results);
    else outLines(lines);
    return bad > 0 ? 1 : 0;
  },
};
