// clearBadblocks(): the recovery of a file hit by media errors, the way the
// kernel documents it (a hole punched over the bad blocks, then fresh ones
// allocated), and why devices and regions cannot be cleared this way.
import * as fs from 'node:fs';
import { binding } from '../binding';
import { DaxError, invalidArgValue, outOfRange } from '../errors';
import { Tree } from '../fs/tree-walk';
import { rejectUnknownOptions, validateBoolean, validateInteger, validateObject, validatePathArg, type PathArg } from '../validate';
import { analyzeFd, type FileHit } from './file-analysis';
import { loadModel, regionCanClear, type NdRegion, type PmemModel } from './nd-model';
import { mergeRanges, roundOut, shift, subtractRanges, within, type BadRange } from './ranges';
import { notSupported, resolve, withFile, type Resolved } from './targets';
import { sysfsRootOption } from './sysfs';

export interface ClearBadblocksOptions {
  /**
   * Recover the file even where the platform cannot clear media errors (no Clear Uncorrectable
   * Error method: QEMU, legacy e820 pmem, CXL through libnvdimm). The file's range is then zeroed on
   * fresh blocks as usual, but the bad blocks go back to the filesystem's free space still bad, and
   * the next write that allocates them fails with EIO (on xfs that shuts the filesystem down).
   * Default false: such a platform gets ERR_DAX_NOT_SUPPORTED.
   */
  allowUncleared?: boolean;
  /** Where sysfs is mounted. Default `/sys`. */
  sysfsRoot?: string;
  /**
   * Resolve `file` inside this directory only, the way openat2's RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS
   * and RESOLVE_NO_XDEV do: `file` is a path below it (relative, or starting with it), and no symlink,
   * mount point or ".." on the way is taken (ELOOP, EXDEV). For files found by findBadFiles(), so that a
   * rename meanwhile cannot make the clear land outside the directory.
   */
  beneath?: PathArg;
}

/** What clearBadblocks() did. */
export interface ClearBadblocksResult {
  /** The file as given, as text (see BadblocksReport.target). */
  path: string;
  pathBuffer: Buffer;
  /** The block device (or partition) of the filesystem. */
  device: string;
  blockSize: number;
  /** File ranges whose blocks were punched out and allocated afresh: these bytes now read as zeros; the rest of the file is untouched. */
  zeroed: BadRange[];
  /** Parts of `zeroed` that are on bad media again (the filesystem handed back a bad block). Empty on success. */
  remaining: BadRange[];
  /**
   * Bad ranges of `device` (relative to it) that the file gave up and that the kernel still lists
   * as bad: free space now. Where `canClearErrors` is true the pmem driver clears them when the
   * filesystem next writes there; where it is false that write fails with EIO.
   */
  released: BadRange[];
  /** Whether the platform can clear media errors (see listDevices()). */
  canClearErrors: boolean | null;
}

const FALLOC_FL_KEEP_SIZE = 0x1;
const FALLOC_FL_PUNCH_HOLE = 0x2;

function clearRefusal(target: string, what: string, canClear: boolean | null, busNote: string): DaxError {
  const reason =
    `daxkit recovers files: it punches a hole over their bad blocks and allocates fresh ones. ${what} ` +
    `Clearing media errors in place needs the platform's clear-error method (ACPI Address Range Scrub and Clear ` +
    `Uncorrectable Error; \`ndctl clear-errors\` uses it and zeroes the bad ranges, destroying what is there)` +
    (canClear === false ? `, and this platform has none (${busNote})` : canClear === true ? `, which this platform has (${busNote})` : '');
  return new DaxError('ERR_DAX_NOT_SUPPORTED', `daxkit cannot clear the media errors of '${target}': ${reason}`, { reason, path: target });
}

function busNote(region: NdRegion | null): string {
  const bus = region?.bus;
  if (bus === undefined || bus === null) return 'no nd bus';
  const cmds = bus.commands === null ? 'unknown' : bus.commands.length === 0 ? 'none' : bus.commands.join(' ');
  return `${bus.name}, provider ${bus.provider ?? 'unknown'}, offers: ${cmds}`;
}

/**
 * Recovers a file hit by media errors, the way the kernel documents it: a
 * hole punched over the bad blocks (rounded out to the filesystem block),
 * then the range allocated again (FALLOC_FL_KEEP_SIZE), then fsync. The bytes
 * of those blocks are lost by design and read as zeros afterwards; the rest of
 * the file is untouched. With `range` ({ offset, length } of the file) only
 * the bad blocks overlapping it are cleared. A file with no bad blocks (in
 * the range) is left alone.
 *
 * The filesystem gives the range fresh blocks; the bad ones become free space
 * (`released`), cleared by the pmem driver when next written where the
 * platform can clear media errors. Where it cannot (QEMU, legacy e820 pmem),
 * that write fails, so daxkit refuses unless `allowUncleared` is set.
 * Devices and regions have no filesystem to re-allocate from: clearing them
 * needs the platform's clear-error method, and this throws.
 * @throws DaxError `ERR_DAX_NOT_SUPPORTED` for devices, regions, files with no media error list, and
 *   platforms that cannot clear media errors (without `allowUncleared`), with the reason;
 *   DaxSystemError from fallocate (`syscall: 'fallocate'`), fs errors from open/fsync.
 */
export function clearBadblocks(file: PathArg, range?: { offset: number; length: number }, options?: ClearBadblocksOptions): ClearBadblocksResult {
  const { bytes, text } = validatePathArg('file', file);
  let want: { start: number; end: number } | null = null;
  if (range !== undefined) {
    const rg = validateObject('range', range);
    rejectUnknownOptions('range', rg, ['offset', 'length']);
    const off = validateInteger('range.offset', rg.offset, 0);
    const len = validateInteger('range.length', rg.length, 1);
    if (off + len > Number.MAX_SAFE_INTEGER) throw outOfRange('range.length', `<= ${Number.MAX_SAFE_INTEGER - off}`, len);
    want = { start: off, end: off + len };
  }
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['allowUncleared', 'sysfsRoot', 'beneath']);
  const allowUncleared = o.allowUncleared === undefined ? false : validateBoolean('options.allowUncleared', o.allowUncleared);
  const beneath = o.beneath === undefined ? null : validatePathArg('options.beneath', o.beneath);
  const root = sysfsRootOption(o);
  const m = loadModel(root);

  let r: Resolved;
  if (beneath === null) {
    r = resolve(text, bytes, m);
  } else {
    const prefix = beneath.bytes[beneath.bytes.length - 1] === 0x2f ? beneath.bytes : Buffer.concat([beneath.bytes, Buffer.of(0x2f)]);
    const inside = bytes.length > prefix.length && bytes.subarray(0, prefix.length).equals(prefix);
    if (!inside && bytes[0] === 0x2f) throw invalidArgValue('file', file, `is not inside options.beneath ('${beneath.text}')`);
    const tree = Tree.openBeneath(beneath.bytes, beneath.text, inside ? bytes.subarray(prefix.length) : bytes, bytes, text);
    if (tree.root.type !== 'file') {
      tree.close();
      throw notSupported(text, 'it is not a regular file');
    }
    r = { kind: 'file', tree };
  }
  if (r.kind !== 'file') throw refusal(text, r);
  return withFile(r, true, (fd) => clearOpenFile(fd, text, bytes, { want, confirmed: null, allowUncleared, m, root }).result);
}

/**
 * Why daxkit does not clear a device or a region: what it is, and what
 * clearing it in place would take.
 * @internal
 */
export function refusal(text: string, r: Exclude<Resolved, { kind: 'file' }>): DaxError {
  const region = r.kind === 'region' ? r.region : r.kind === 'devdax' ? r.dax.region : (r.kind === 'block' ? r.disk : r.part.disk).namespace.region;
  const what =
    r.kind === 'devdax'
      ? `${text} is a devdax device: there is no filesystem to take fresh blocks from.`
      : r.kind === 'region'
        ? `${text} is an nd region: recover the files on its namespaces (daxkit badblocks DIR finds them).`
        : `${text} is a block device: the pmem driver clears a bad sector when it is written through the device, but that overwrites what the filesystem keeps there; recover the files on it instead (daxkit badblocks MOUNTPOINT finds them).`;
  return clearRefusal(text, what, regionCanClear(region), busNote(region));
}

/**
 * The refusal where the platform cannot clear media errors (and
 * allowUncleared was not given): what would be zeroed, and what would follow.
 * @internal
 */
export function unclearable(file: string, disk: string, region: NdRegion, ranges: readonly BadRange[]): DaxError {
  const spans = ranges.map((x) => `${x.length} bytes at offset ${x.offset}`).join(', ');
  const reason =
    `the platform cannot clear media errors on ${disk} (${region.name}: ${busNote(region)}; ` +
    `clearing needs ars_cap and clear_error). daxkit can zero ${spans} of the file on fresh blocks ` +
    `(allowUncleared: true, or daxkit badblocks --clear --allow-uncleared), but the bad blocks then go back to ` +
    `the filesystem's free space still bad, and the next write that allocates them fails with EIO ` +
    `(on xfs that shuts the filesystem down); on ext4, e2fsck -l can add them to the bad block list while unmounted`;
  return new DaxError('ERR_DAX_NOT_SUPPORTED', `Cannot clear the media errors of '${file}': ${reason}`, { reason, path: file });
}

/** What clearOpenFile() clears: the bad blocks (in `want`, when given), and no more than `confirmed`, when given. */
export interface ClearScope {
  want: { start: number; end: number } | null;
  /** File ranges a user agreed to lose: only bad blocks inside them are cleared. */
  confirmed: readonly BadRange[] | null;
  allowUncleared: boolean;
  m: PmemModel;
  root: string;
}

/**
 * Clears the bad blocks of the file open (read-write) at fd. `unconfirmed`:
 * bad blocks found now outside `confirmed`, left alone.
 * @internal
 */
export function clearOpenFile(fd: number, file: string, bytes: Buffer, o: ClearScope): { result: ClearBadblocksResult; unconfirmed: BadRange[] } {
  const before = analyzeFd(fd, file, o.m);
  const canClear = regionCanClear(before.dev.disk.namespace.region);
  const bad = mergeRanges((o.want === null ? before.ranges : within(before.ranges, o.want.start, o.want.end)).map((x) => roundOut(x, before.blockSize)));
  const confirmed = o.confirmed === null ? null : mergeRanges(o.confirmed);
  const selected = confirmed === null ? bad : mergeRanges(confirmed.flatMap((c) => within(bad, c.offset, c.offset + c.length)));
  const unconfirmed = confirmed === null ? [] : subtractRanges(bad, confirmed);
  const result: ClearBadblocksResult = {
    path: file,
    pathBuffer: bytes,
    device: before.dev.name,
    blockSize: before.blockSize,
    zeroed: [],
    remaining: [],
    released: [],
    canClearErrors: canClear,
  };
  if (selected.length === 0) return { result, unconfirmed };
  if (canClear !== true && !o.allowUncleared) throw unclearable(file, before.dev.disk.name, before.dev.disk.namespace.region, selected);
  for (const x of selected) {
    binding.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, x.offset, x.length, file);
    binding.fallocate(fd, FALLOC_FL_KEEP_SIZE, x.offset, x.length, file);
  }
  fs.fsyncSync(fd);
  result.zeroed = selected;
  const after = analyzeFd(fd, file, loadModel(o.root));
  const overlaps = (h: FileHit): boolean => selected.some((x) => h.file.offset < x.offset + x.length && x.offset < h.file.offset + h.file.length);
  const gaveUp = subtractRanges(mergeRanges(before.hits.filter(overlaps).map((h) => h.device)), mergeRanges(after.hits.map((h) => h.device)));
  const stillBad: BadRange[] = [];
  for (const g of gaveUp) for (const x of within(after.bad, g.offset, g.offset + g.length)) stillBad.push(x);
  result.released = shift(mergeRanges(stillBad), -after.dev.start);
  result.remaining = mergeRanges(selected.flatMap((x) => within(after.ranges, x.offset, x.offset + x.length)));
  return { result, unconfirmed };
}
