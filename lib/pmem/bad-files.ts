// findBadFiles(): the files of a directory hit by media errors, found by the
// same fd walk as setDaxFlag's, and what no file found there uses.
import { binding } from '../binding';
import { invalidArgValue } from '../errors';
import { Tree, type TreeEntry } from '../fs/tree-walk';
import { rejectUnknownOptions, validateObject, validatePathArg, type PathArg } from '../validate';
import type { BadblocksOptions, BadblocksReport } from './badblocks';
import { diskBad, fileBadRanges, fsDeviceOf, listCutWarning } from './file-analysis';
import { loadModel, type PmemModel } from './nd-model';
import { mergeRanges, shift, subtractRanges, totalLength, type BadRange } from './ranges';
import { sysfsRootOption } from './sysfs';

/** A directory's files hit by media errors: findBadFiles(). */
export interface BadFilesReport {
  /** The directory as given, as text (see BadblocksReport.target). */
  target: string;
  targetBuffer: Buffer;
  /** The block device (or partition) of the filesystem. */
  device: string;
  region: string | null;
  blockSize: number;
  /** The device's bad ranges (relative to `device`); empty means nothing under the directory is hit. */
  deviceRanges: BadRange[];
  /** Every file under the directory (same filesystem) with bad ranges, with its report. */
  files: BadblocksReport[];
  /**
   * Parts of `deviceRanges` that no file found here uses (relative to `device`): free space,
   * filesystem metadata, or files outside the directory or unreadable.
   */
  unattributed: BadRange[];
  /** Regular files examined. */
  filesScanned: number;
  complete: boolean;
  warnings: string[];
}

/**
 * Every file under `dir` (on the same filesystem: mount points below it are
 * not entered) that has bad ranges, and the device's bad ranges that no file
 * found uses (free space, metadata, files elsewhere). Nothing is walked when
 * the device has no bad blocks.
 * @throws DaxError `ERR_DAX_NOT_SUPPORTED` when the filesystem is not on a persistent memory block device;
 *   fs errors for `dir` itself (a file that cannot be read is a warning, and makes the report incomplete).
 */
export function findBadFiles(dir: PathArg, options?: BadblocksOptions): BadFilesReport {
  const { bytes, text } = validatePathArg('dir', dir);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['sysfsRoot']);
  const m = loadModel(sysfsRootOption(o));
  const tree = Tree.open(bytes, text, true);
  try {
    if (tree.root.type !== 'directory') throw invalidArgValue('dir', dir, 'must be a directory (badblocks() takes a file)');
    return scanBadFiles(tree, text, bytes, m).report;
  } finally {
    tree.close();
  }
}

/**
 * findBadFiles() of a directory open as `tree` (left open: the caller may
 * come back to the files it found), with the walk's entry of each file hit.
 * @internal
 */
export function scanBadFiles(tree: Tree, text: string, bytes: Buffer, m: PmemModel): { report: BadFilesReport; entries: Map<BadblocksReport, TreeEntry> } {
  const entries = new Map<BadblocksReport, TreeEntry>();
  const dev = fsDeviceOf(tree.fd, text, m);
  const blockSize = binding.fstatfs(tree.fd, text).bsize;
  const { bad, complete: listComplete } = diskBad(m, dev);
  const report: BadFilesReport = {
    target: text,
    targetBuffer: bytes,
    device: dev.name,
    region: dev.disk.namespace.region.name,
    blockSize,
    deviceRanges: shift(bad, -dev.start),
    files: [],
    unattributed: [],
    filesScanned: 0,
    complete: listComplete,
    warnings: listComplete ? [] : [listCutWarning(dev.disk.name)],
  };
  if (bad.length === 0) return { report, entries };
  const used: BadRange[] = [];
  // The same walk as setDaxFlag's: by fd, no symlinks, no mount points
  // (files under one count as elsewhere), so --clear of what it finds
  // stays inside the directory.
  const nodes = tree.walk(true, (e, fd) => {
    if (e.type !== 'file') return;
    report.filesScanned++;
    const f = fileBadRanges(binding.fiemap(fd, e.text), bad, dev.start, blockSize);
    for (const h of f.hits) used.push(h.device);
    if (!f.complete) {
      report.complete = false;
      for (const w of f.warnings) report.warnings.push(`${e.text}: ${w}`);
    }
    if (f.ranges.length > 0) {
      const r: BadblocksReport = {
        target: e.text,
        targetBuffer: e.path,
        type: 'file',
        device: dev.name,
        region: report.region,
        blockSize,
        ranges: f.ranges,
        badblockCount: totalLength(f.ranges) / 512,
        complete: f.complete && listComplete,
        warnings: f.warnings,
      };
      report.files.push(r);
      entries.set(r, e);
    }
  });
  for (const e of nodes) {
    const err = e.error ?? e.listError;
    if (err === null) continue;
    report.complete = false;
    report.warnings.push(`${e.text}: ${err.message}`);
  }
  report.unattributed = shift(subtractRanges(bad, mergeRanges(used)), -dev.start);
  return { report, entries };
}
