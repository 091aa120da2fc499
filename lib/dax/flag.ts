// FS_XFLAG_DAX read on a path, or listed with the effective DAX state over a
// tree; and the shapes of setDaxFlag()'s report (set-flag.ts).
import { errorReason, errorRecord, invalidArgValue } from '../errors';
import type { TreeEntry } from '../fs/tree-walk';
import { rejectUnknownOptions, validateBoolean, validateObject, validatePathArg, type PathArg } from '../validate';
import { openRoot, readFlagFd, skipReason, specialKind, walkError } from './flag-read';
import { directoryReason, ext4DaxBlocker, fileReason, inodeFacts, type EntryType } from './reason';
import { FS_XFLAG_DAX, PAGE_SIZE } from '../constants';

export interface GetDaxFlagOptions {
  /** Follow a final symlink (default true). */
  followSymlinks?: boolean;
}

/**
 * FS_XFLAG_DAX of a regular file or directory (FS_IOC_FSGETXATTR).
 * @throws DaxError `ERR_DAX_NOT_SUPPORTED` ("FS_XFLAG_DAX is not supported on tmpfs (mounted at /x)")
 *   where the filesystem has no such flag (tmpfs, ext2, btrfs, proc...), on every kernel;
 *   DaxSystemError otherwise (ENOENT, EACCES with the missing permission);
 *   TypeError `ERR_INVALID_ARG_VALUE` for a symlink not followed or a special file.
 */
export function getDaxFlag(p: PathArg, options?: GetDaxFlagOptions): boolean {
  const { bytes, text } = validatePathArg('path', p);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['followSymlinks']);
  const follow = o.followSymlinks === undefined ? true : validateBoolean('options.followSymlinks', o.followSymlinks);
  const { tree, facts } = openRoot(bytes, text, follow);
  try {
    const root = tree.root;
    if (root.type === 'symlink') throw invalidArgValue('path', p, 'is a symbolic link, which has no FS_XFLAG_DAX (pass followSymlinks: true for its target)');
    if (root.type === 'other') throw invalidArgValue('path', p, `is ${specialKind(root.st!.mode)}; only regular files and directories have FS_XFLAG_DAX`);
    let xflags = 0;
    tree.walk(false, (_, fd) => {
      xflags = readFlagFd(fd, text, facts);
    });
    const err = walkError(root);
    if (err !== null) throw err;
    return (xflags & FS_XFLAG_DAX) !== 0;
  } finally {
    tree.close();
  }
}

export interface SetDaxFlagOptions {
  /** Also every file and directory below (never through a symlink, never into another mount). Default false. */
  recursive?: boolean;
  /** Report the plan, change nothing. Default false. */
  dryRun?: boolean;
  /** Follow `path` itself when it is a symlink (recursion never follows symlinks). Default false. */
  followSymlinks?: boolean;
  /** Check every path first and change nothing if any would fail; undo what was done if a change fails anyway. Default false. */
  atomic?: boolean;
}

/**
 * What happened to one path:
 * - `'ok'`: the flag is as asked and the effective state follows it (directories: new files inherit it);
 * - `'pending'`: the flag is set (or clear) but the file has not switched yet (dax.rst rule 6: it
 *   switches once every process has closed it and its inode is evicted);
 * - `'overridden'`: the mount is `dax=always` or `dax=never`, which decides instead of the flag;
 * - `'no-effect'`: the filesystem or device cannot do DAX; the flag is stored but does nothing;
 * - `'skipped'`: a symlink, a special file, a mount point, or (atomic runs) not attempted;
 * - `'failed'`: see `error`; `'rolled-back'`: changed, then restored because an atomic run failed.
 */
export type DaxFlagState = 'ok' | 'pending' | 'overridden' | 'no-effect' | 'skipped' | 'failed' | 'rolled-back';

export interface DaxFlagEntry {
  /** The path as text: the root as given, then `/name` per level; a byte that is not UTF-8 is U+DC80 + byte (see `pathBuffer`). */
  path: string;
  /** The exact bytes of the path. */
  pathBuffer: Buffer;
  type: EntryType;
  /** FS_XFLAG_DAX before; null when it could not be read. */
  flagBefore: boolean | null;
  /** FS_XFLAG_DAX now, read back after the run (in a dry run: what it would be); null when unknown. */
  flagAfter: boolean | null;
  /** Whether the flag on disk differs from flagBefore after the run (in a dry run: would). */
  changed: boolean;
  /** Effective S_DAX after (statx; in a dry run, now); null for directories and unknowns. */
  dax: boolean | null;
  state: DaxFlagState;
  /** Why the effective state differs from the flag, or why the path was skipped or failed; null when it follows. */
  reason: string | null;
  error: { code: string; message: string } | null;
}

export interface DaxFlagReport {
  /** The path as given, as text (see DaxFlagEntry.path). */
  path: string;
  pathBuffer: Buffer;
  enabled: boolean;
  recursive: boolean;
  dryRun: boolean;
  atomic: boolean;
  /** Atomic runs only: true when a check or a change failed, so the run stopped and undid what it could. */
  aborted: boolean;
  entries: DaxFlagEntry[];
  /** Counts of the entries; `changed` counts the flags left changed on disk (or, in a dry run, that would change). */
  summary: { total: number; changed: number; ok: number; pending: number; overridden: number; noEffect: number; skipped: number; failed: number };
}

/** One path of a flag listing (daxkit flag get). */
export interface DaxFlagListing {
  /** The path as text (see DaxFlagEntry.path). */
  path: string;
  pathBuffer: Buffer;
  type: EntryType;
  /** FS_XFLAG_DAX; null for skipped paths and failures. */
  flag: boolean | null;
  /** STATX_ATTR_DAX for files; null otherwise. */
  dax: boolean | null;
  /** The state in one line, as daxStatus() gives it; or why a path was skipped or could not be read. */
  reason: string | null;
  error: { code: string; message: string } | null;
}

/**
 * FS_XFLAG_DAX and the effective DAX state of a path, or of a whole tree with
 * `recursive` (the same walk as setDaxFlag: no symlinks, no other mounts),
 * with daxStatus()'s reason for each.
 * @throws DaxSystemError when `path` itself cannot be looked up.
 */
export function listDaxFlags(p: PathArg, options: { recursive?: boolean; followSymlinks?: boolean } = {}): DaxFlagListing[] {
  const { bytes, text } = validatePathArg('path', p);
  const { tree, facts } = openRoot(bytes, text, options.followSymlinks ?? true);
  const flags = new Map<TreeEntry, number | Error>();
  const ext4 = new Map<TreeEntry, string>();
  let nodes: TreeEntry[];
  try {
    nodes = tree.walk(options.recursive ?? false, (n, fd) => {
      try {
        flags.set(n, readFlagFd(fd, n.text, facts));
      } catch (e) {
        flags.set(n, e as Error);
      }
      const blocker = n.type === 'file' ? ext4DaxBlocker(fd, n.type, facts) : null;
      if (blocker !== null) ext4.set(n, blocker);
    });
  } finally {
    tree.close();
  }
  return nodes.map((n) => {
    const got = flags.get(n);
    const err = got instanceof Error ? got : walkError(n);
    const xflags = typeof got === 'number' ? got : null;
    const listing: DaxFlagListing = {
      path: n.text,
      pathBuffer: n.path,
      type: n.type,
      flag: xflags === null ? null : (xflags & FS_XFLAG_DAX) !== 0,
      dax: null,
      reason: null,
      error: err === null ? null : errorRecord(err),
    };
    if (n.skip !== null) listing.reason = skipReason(n.skip, n.parent === null, n.st?.mode);
    else if (err !== null) listing.reason = errorReason(err);
    else if (n.st !== null) {
      const i = { ...inodeFacts(n.st, xflags), ext4Blocker: ext4.get(n) ?? null };
      if (n.type === 'file') listing.dax = i.dax;
      listing.reason = n.type === 'file' ? fileReason(n.text, facts, i, PAGE_SIZE) : directoryReason(facts, i, PAGE_SIZE);
    }
    return listing;
  });
}
