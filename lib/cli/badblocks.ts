import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { findBadFiles, type BadFilesReport } from '../pmem/bad-files';
import { badblocks, type BadblocksReport } from '../pmem/badblocks';
import type { ClearBadblocksResult } from '../pmem/clear';
import { ClearPlan } from '../pmem/clear-plan';
import { listDevices } from '../pmem/devices';
import { mergeRanges, subtractRanges, type BadRange } from '../pmem/ranges';
import { checkSysfsRoot, DEFAULT_SYSFS } from '../pmem/sysfs';
import { shown } from '../fs/path-bytes';
import { UsageError } from '../errors';
import { parse, type Command } from './args';
import { describe, pathFailure } from './failure';
import { err, json, out, pathFields } from './output';

/** A target as typed: its text, and the argument for the library (exact bytes where not UTF-8). */
type Target = { text: string; arg: string | Buffer };

function rangeJson(r: BadRange): Record<string, unknown> {
  const o: Record<string, unknown> = { offset: r.offset, length: r.length };
  if (r.namespace !== undefined) {
    o.namespace = r.namespace;
    o.device = r.device ?? null;
    o.device_offset = r.deviceOffset ?? null;
  }
  return o;
}

/** A report in the stable JSON schema: ndctl's names where they overlap, but offsets and lengths in bytes. */
export function reportJson(r: BadblocksReport): Record<string, unknown> {
  return {
    ...pathFields(r.target, 'target', 'target_base64'),
    type: r.type,
    dev: r.device,
    region: r.region,
    block_size: r.blockSize,
    units: 'bytes',
    badblock_count: r.badblockCount,
    badblocks: r.ranges.map(rangeJson),
    complete: r.complete,
    warnings: r.warnings,
  };
}

export function directoryJson(r: BadFilesReport): Record<string, unknown> {
  return {
    ...pathFields(r.target, 'target', 'target_base64'),
    type: 'directory',
    dev: r.device,
    region: r.region,
    block_size: r.blockSize,
    units: 'bytes',
    badblocks: r.deviceRanges.map(rangeJson),
    files: r.files.map(reportJson),
    unattributed: r.unattributed.map(rangeJson),
    files_scanned: r.filesScanned,
    complete: r.complete,
    warnings: r.warnings,
  };
}

export function clearJson(r: Omit<ClearBadblocksResult, 'pathBuffer'>): Record<string, unknown> {
  return {
    ...pathFields(r.path, 'target', 'target_base64'),
    type: 'clear',
    dev: r.device,
    block_size: r.blockSize,
    units: 'bytes',
    zeroed: r.zeroed.map(rangeJson),
    remaining: r.remaining.map(rangeJson),
    released: r.released.map(rangeJson),
    can_clear_errors: r.canClearErrors,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function span(r: BadRange): string {
  return `offset ${r.offset}  length ${r.length}`;
}

function summary(ranges: readonly BadRange[]): string {
  if (ranges.length === 0) return 'no bad blocks';
  const bytes = ranges.reduce((n, r) => n + r.length, 0);
  return `${plural(ranges.length, 'bad range')}, ${bytes} bytes`;
}

function printReport(r: BadblocksReport): void {
  const where = r.type === 'file' ? ` (file on ${r.device}, ${r.blockSize}-byte blocks)` : r.type === 'region' ? '' : ` (${r.type}${r.region ? `, ${r.region}` : ''})`;
  out(`${shown(r.target)}${where}: ${summary(r.ranges)}`);
  for (const x of r.ranges) {
    let owner = '';
    if (x.namespace !== undefined) {
      owner = x.device != null ? `  ${x.namespace} ${x.device} offset ${x.deviceOffset}` : x.namespace !== null ? `  ${x.namespace} (metadata, no device data)` : '  (no namespace)';
    }
    out(`  ${span(x)}${owner}`);
  }
  for (const w of r.warnings) out(`  warning: ${shown(w)}`);
}

function printDirectory(r: BadFilesReport): void {
  out(`${shown(r.target)} (on ${r.device}): ${r.deviceRanges.length === 0 ? 'the device has no bad blocks' : `${summary(r.deviceRanges)} on the device; ${plural(r.files.length, 'file')} hit of ${r.filesScanned} scanned`}`);
  for (const f of r.files) {
    for (const x of f.ranges) out(`  ${shown(f.target)}  ${span(x)}`);
  }
  for (const x of r.unattributed) out(`  not in any file here (free space, metadata, or files elsewhere): ${r.device} ${span(x)}`);
  for (const w of r.warnings) out(`  warning: ${shown(w)}`);
}

function printClear(r: ClearBadblocksResult): void {
  if (r.zeroed.length === 0) {
    out(`${shown(r.path)}: no bad blocks to clear`);
    return;
  }
  out(`${shown(r.path)}: zeroed on fresh blocks: ${r.zeroed.map(span).join('; ')}`);
  for (const x of r.remaining) out(`  STILL ON BAD MEDIA (the filesystem handed back a bad block): ${span(x)}`);
  for (const x of r.released) {
    const first = Math.floor(x.offset / r.blockSize);
    const last = Math.floor((x.offset + x.length - 1) / r.blockSize);
    const blocks = first === last ? `filesystem block ${first}` : `filesystem blocks ${first}-${last}`;
    const fate =
      r.canClearErrors === true
        ? 'the pmem driver clears it when the filesystem next writes there'
        : 'this platform cannot clear it: the next write that allocates it fails (on ext4, e2fsck -l can add it to the bad block list while unmounted)';
    out(`  released, still bad, now free space: ${r.device} ${span(x)} (${blocks}): ${fate}`);
  }
}

function isDirectory(p: string | Buffer): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(question, resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

const HELP = `Usage: daxkit badblocks [TARGET...] [--json] [--sysfs-root DIR]
       daxkit badblocks --clear [--yes] [--allow-uncleared] [--json] FILE|DIR...

The media errors (bad blocks) the kernel knows of. Offsets and lengths are
BYTES relative to each TARGET (ndctl prints 512-byte sectors):
  FILE                the file's filesystem blocks that sit on bad media: its
                      extents (FIEMAP, plus the partition's start) against the
                      block device's list, rounded out to whole blocks
  DIR                 every file under DIR (same mount: by fd, no symlinks or
                      mount points followed) that is hit, and the device's
                      bad ranges no file there uses (free space, metadata,
                      files elsewhere)
  /dev/pmemN, pmemN   the block device's own list (what the pmem driver checks),
                      relative to its first sector; /dev/pmemNpM: the partition's part
  /dev/daxX.Y, daxX.Y the region's list inside the device (needs root: the
                      physical ranges are root-only)
  regionN             the region's list, relative to the region, each range
                      with the namespace and device holding it and its offset
                      there ("metadata": a pfn info block or page map)
  namespaceX.Y        its block or dax device
A bare name (region0, pmem0, dax1.0) is a device: write ./region0 for a file.
With no TARGET: every pmem block device, dax device and region. A target with
no media error list (not on persistent memory, BTT, device-mapper) is an error
that says why, distinct from a failure to read one.

--clear recovers FILEs (or every file hit under a DIR): a hole is punched over
each bad block, rounded out to the filesystem block, and the range allocated
again; those bytes read as zeros afterwards and the rest of the file is kept.
It lists what it will zero and asks on a terminal; elsewhere it needs --yes.
The clear acts on what was scanned and confirmed: each FILE and DIR stays
open meanwhile, and a file under a DIR is reached again from it name by name,
never through a symlink or mount point. A FILE or DIR whose path names
something else by the time of the answer, or a file replaced inside a DIR, is
not cleared (ERR_DAX_TREE_CHANGED); only the ranges listed are cleared, where
they are still bad.
The bad blocks become free space, cleared by the pmem driver when next written
if the platform can clear media errors (daxkit devices, column CLEAR). Where it
cannot (QEMU, legacy e820 pmem) --clear refuses unless --allow-uncleared: the
file is still recovered, but the next write to that free space fails; daxkit
prints those blocks (on ext4, e2fsck -l can retire them while unmounted).
Devices and regions cannot be cleared by daxkit: that needs the platform's
clear-error method (ndctl clear-errors), and destroys the data there.

Options:
  --json             JSON, one object per target (stable schema, ndctl's names
                     where they overlap, "units": "bytes"):
                     {target, target_base64, type (file|block|partition|
                      devdax|region), dev, region, block_size, units,
                      badblock_count (512-byte sectors, as ndctl counts
                      them), badblocks: [{offset, length}] (regions add
                      namespace, device, device_offset), complete, warnings}
                     a DIR: {target, target_base64, type: "directory", dev,
                      region, block_size, units, badblocks (the device's),
                      files: [reports], unattributed: [{offset, length}],
                      files_scanned, complete, warnings}
                     --clear: {target, target_base64, type: "clear", dev,
                      block_size, units, zeroed, remaining, released,
                      can_clear_errors}
                     a target that fails: {target, target_base64, error:
                      {code, message}}
                     "target" is text (a byte that is not UTF-8 as \\xNN);
                     "target_base64" has the exact bytes, null when "target"
                     is exact
  --clear            recover the files (see above)
  --yes              do not ask
  --allow-uncleared  clear even where the platform cannot clear media errors
  --sysfs-root DIR   read sysfs from DIR instead of /sys (a copy, for tests)

Exit status: 0; 1 when a target failed or has no media error list (the reason
is on stderr), a list may be incomplete, or a cleared file is still on bad
media; 2 on a usage error.`;

export const badblocksCommand: Command = {
  summary: 'media errors in bytes of a file, directory, pmem/dax device or region; --clear recovers files',
  help: HELP,
  async run(argv, raw) {
    const { values, positionals, paths } = parse(argv, raw, {
      json: { type: 'boolean' },
      clear: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      'allow-uncleared': { type: 'boolean' },
      'sysfs-root': { type: 'string' },
    });
    const sysfsRoot = paths['sysfs-root']?.text;
    const opts = sysfsRoot === undefined ? {} : { sysfsRoot };
    // Once, not once per target.
    checkSysfsRoot(sysfsRoot ?? DEFAULT_SYSFS);
    if (!values.clear && (values.yes || values['allow-uncleared'])) throw new UsageError(`--${values.yes ? 'yes' : 'allow-uncleared'} goes with --clear`);
    if (values.clear) return clear(positionals, values.json === true, values.yes === true, values['allow-uncleared'] === true, opts);

    let targets: Target[] = positionals;
    if (targets.length === 0) {
      const all = listDevices(opts);
      targets = [
        ...all.filter((d) => (d.type === 'block' && d.mode !== 'sector') || (d.type === 'dax' && d.region !== null)).map((d) => d.name),
        ...all.filter((d) => d.type === 'region').map((d) => d.name),
      ].map((name) => ({ text: name, arg: name }));
      if (targets.length === 0) {
        if (values.json) json([]);
        else out('no persistent memory: no pmem block devices, dax devices or nd regions in sysfs');
        return 0;
      }
    }
    const results: Array<Record<string, unknown>> = [];
    let status = 0;
    for (const t of targets) {
      try {
        if (isDirectory(t.arg)) {
          const r = findBadFiles(t.arg, opts);
          results.push(directoryJson(r));
          if (!values.json) printDirectory(r);
          if (!r.complete) status = 1;
        } else {
          const r = badblocks(t.arg, opts);
          results.push(reportJson(r));
          if (!values.json) printReport(r);
          if (!r.complete) status = 1;
        }
      } catch (e) {
        status = 1;
        err(describe(e, t.text));
        results.push(pathFailure(t.text, e, 'target', 'target_base64'));
      }
    }
    if (values.json) json(results);
    return status;
  },
};

async function clear(targets: Target[], asJson: boolean, yes: boolean, allowUncleared: boolean, opts: { sysfsRoot?: string }): Promise<number> {
  if (targets.length === 0) throw new UsageError('--clear needs the FILEs (or DIRs) to recover');
  if (!yes && !(process.stdin.isTTY && process.stderr.isTTY)) {
    throw new UsageError('--clear zeroes the bad blocks of files: confirm with --yes (standard input is not a terminal)');
  }
  const results: Array<Record<string, unknown>> = [];
  let status = 0;
  const fail = (t: string, e: unknown): void => {
    status = 1;
    err(describe(e, t));
    results.push(pathFailure(t, e, 'target', 'target_base64'));
  };
  // The plan: every file and its bad ranges, each FILE and DIR held open
  // until the clear, which acts on what was scanned and confirmed (see
  // lib/pmem/clear-plan.ts). Devices and regions are refused with the reason.
  const plan = ClearPlan.scan(targets, { ...opts, allowUncleared });
  try {
    for (const step of plan.steps) {
      if (step.kind === 'failed') fail(step.target, step.error);
      else if (step.kind === 'clean') {
        results.push(clearJson(step.result));
        if (!asJson) out(`${shown(step.result.path)}: no bad blocks to clear`);
      }
    }
    const todo = plan.todo;
    if (todo.length > 0 && !yes) {
      process.stderr.write('daxkit: about to zero these blocks on fresh ones (their data is lost; the rest of each file is kept):\n');
      for (const { report: r } of todo) for (const x of r.ranges) process.stderr.write(`  ${shown(r.target)}  ${span(x)}\n`);
      if (!(await confirm('Proceed? [y/N] '))) {
        err('nothing was changed');
        return 1;
      }
    }
    for (const o of plan.apply()) {
      const r = o.item.report;
      if (!o.ok) {
        fail(r.target, o.error);
        continue;
      }
      const c = o.result;
      results.push(clearJson(c));
      if (!asJson) printClear(c);
      const kept = subtractRanges(mergeRanges(r.ranges), c.zeroed);
      if (kept.length > 0 && !asJson) out(`  no longer on bad media, so left as it was: ${kept.map(span).join('; ')}`);
      if (o.unconfirmed.length > 0) {
        status = 1;
        err(`${shown(r.target)}: bad blocks found since the confirmation were left alone (run --clear again for them): ${o.unconfirmed.map(span).join('; ')}`);
      }
      if (c.remaining.length > 0) {
        status = 1;
        err(`${shown(r.target)}: still on bad media after clearing: ${c.remaining.map(span).join('; ')}`);
      }
    }
  } finally {
    plan.close();
  }
  if (asJson) json(results);
  return status;
}
