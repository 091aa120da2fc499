// FS_XFLAG_DAX: read it, and set or clear it on a file or a whole tree the
// way Documentation/filesystems/dax.rst says it behaves, reporting for every
// path whether the effective DAX state (S_DAX) followed, and why not.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binding, type NativeStatx } from './binding';
import {
  FS_XFLAG_DAX,
  entryType,
  expectedFileDax,
  fsBlocker,
  fsFacts,
  inodeFacts,
  mountOverrides,
  pendingReason,
  type EntryType,
  type FsFacts,
} from './dax-reason';
import { flagNotSupported } from './dax-status';
import { DaxSystemError, invalidArgValue } from './errors';
import { rejectUnknownOptions, validateBoolean, validateObject, validatePath } from './validate';

const PAGE_SIZE = binding.cpuInfo().pageSize;
/** Filesystems where FS_IOC_FSSETXATTR can set FS_XFLAG_DAX. */
const FLAG_FILESYSTEMS = ['ext4', 'xfs', 'virtiofs'];

export interface GetDaxFlagOptions {
  /** Follow a final symlink (default true). */
  followSymlinks?: boolean;
}

function hintFor(e: NodeJS.ErrnoException, p: string, op: 'open' | 'ioctl' | 'scandir'): string | null {
  switch (e.code) {
    case 'EPERM':
      return op === 'ioctl' ? `changing FS_XFLAG_DAX on '${p}' needs its owner or CAP_FOWNER (and CAP_LINUX_IMMUTABLE if it is immutable or append-only)` : null;
    case 'EACCES':
      return op === 'scandir'
        ? `listing '${p}' needs read and search permission on it (or CAP_DAC_READ_SEARCH)`
        : `opening '${p}' for the ioctl needs read permission on it (or CAP_DAC_OVERRIDE)`;
    case 'EROFS':
      return `the filesystem of '${p}' is mounted read-only`;
    default:
      return null;
  }
}

/** Adds the missing privilege to EPERM/EACCES/EROFS errors, keeping the node:fs shape. */
function explain<T extends Error>(e: T, p: string, op: 'open' | 'ioctl' | 'scandir'): T {
  const hint = hintFor(e as NodeJS.ErrnoException, p, op);
  if (hint !== null && !e.message.includes(hint)) {
    e.message = `${e.message}; ${hint}`;
    (e as T & { hint?: string }).hint = hint;
  }
  return e;
}

function isUnsupported(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return e instanceof DaxSystemError && e.syscall === 'ioctl' && (code === 'ENOTTY' || code === 'EOPNOTSUPP' || code === 'EINVAL');
}

/**
 * FS_XFLAG_DAX of a regular file or directory (FS_IOC_FSGETXATTR).
 * @throws DaxError `ERR_DAX_NOT_SUPPORTED` ("FS_XFLAG_DAX is not supported on tmpfs (mounted at /x)")
 *   where the filesystem has no such flag; DaxSystemError otherwise (ENOENT, EACCES with the missing permission).
 */
export function getDaxFlag(p: string, options?: GetDaxFlagOptions): boolean {
  validatePath('path', p);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['followSymlinks']);
  const follow = o.followSymlinks === undefined ? true : validateBoolean('options.followSymlinks', o.followSymlinks);
  try {
    return (binding.fsGetXattr(p, follow).xflags & FS_XFLAG_DAX) !== 0;
  } catch (e) {
    if (isUnsupported(e)) throw flagNotSupported(p, e as Error);
    if ((e as NodeJS.ErrnoException).code === 'ELOOP' && !follow) {
      throw invalidArgValue('path', p, 'is a symbolic link, which has no FS_XFLAG_DAX (pass followSymlinks: true for its target)');
    }
    throw explain(e as Error, p, (e as DaxSystemError).syscall === 'open' ? 'open' : 'ioctl');
  }
}

export interface SetDaxFlagOptions {
  /** Also every file and directory below (never through a symlink, never into another filesystem). Default false. */
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
 * - `'skipped'`: a symlink, a special file, or another filesystem, left alone;
 * - `'failed'`: see `error`; `'rolled-back'`: changed, then restored because an atomic run failed.
 */
export type DaxFlagState = 'ok' | 'pending' | 'overridden' | 'no-effect' | 'skipped' | 'failed' | 'rolled-back';

export interface DaxFlagEntry {
  path: string;
  type: EntryType;
  /** FS_XFLAG_DAX before; null when it could not be read. */
  flagBefore: boolean | null;
  /** FS_XFLAG_DAX after (in a dry run: what it would be); null when unknown. */
  flagAfter: boolean | null;
  /** Whether the flag changed (in a dry run: would change). */
  changed: boolean;
  /** Effective S_DAX after (statx; in a dry run, now); null for directories and unknowns. */
  dax: boolean | null;
  state: DaxFlagState;
  /** Why the effective state differs from the flag, or why the path was skipped or failed; null when it follows. */
  reason: string | null;
  error: { code: string; message: string } | null;
}

export interface DaxFlagReport {
  path: string;
  enabled: boolean;
  recursive: boolean;
  dryRun: boolean;
  atomic: boolean;
  /** Atomic runs only: true when a check or a change failed, so nothing stayed changed. */
  aborted: boolean;
  entries: DaxFlagEntry[];
  summary: { total: number; changed: number; ok: number; pending: number; overridden: number; noEffect: number; skipped: number; failed: number };
}

interface Node {
  path: string;
  type: EntryType;
  st: NativeStatx;
  xflags: number | null;
  error: Error | null;
  /** Set when a directory could not be listed. */
  listError: Error | null;
  /** Open through a final symlink (the root with followSymlinks only). */
  follow: boolean;
  skipReason: string | null;
}

/** Which processes hold each path open or mapped, from /proc (only what this user may see). */
function openersOf(paths: string[]): Map<string, string[]> {
  const wanted = new Set(paths);
  const found = new Map<string, Set<string>>();
  const add = (p: string, who: string): void => {
    if (!wanted.has(p)) return;
    if (!found.has(p)) found.set(p, new Set());
    found.get(p)!.add(who);
  };
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return new Map();
  }
  for (const pid of pids) {
    let comm = '?';
    try {
      comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const who = Number(pid) === process.pid ? `this process (pid ${pid})` : `pid ${pid} (${comm})`;
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try {
          add(fs.readlinkSync(`/proc/${pid}/fd/${fd}`), who);
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // not ours to see
    }
    try {
      for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
        const i = line.indexOf('/');
        if (i > 0) add(line.slice(i), who);
      }
    } catch {
      // not ours to see
    }
  }
  const out = new Map<string, string[]>();
  for (const [p, s] of found) out.set(p, [...s]);
  return out;
}

function hasCapFowner(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 3n)) !== 0n;
  } catch {
    return false;
  }
}

function errorInfo(e: Error): { code: string; message: string } {
  return { code: String((e as NodeJS.ErrnoException).code ?? 'ERR'), message: e.message };
}

/**
 * Sets (enabled = true) or clears FS_XFLAG_DAX on a file or directory, or a
 * whole tree with `recursive`, changing only that bit (read-modify-write of
 * fsx_xflags). Returns a report with, for every path, the flag before and
 * after, the effective DAX state after, and the reason where they differ.
 * Failures of single paths are reported in the entries (`state: 'failed'`),
 * not thrown: check `report.summary.failed`.
 * @throws DaxSystemError when `path` itself cannot be looked up (ENOENT...); TypeError for bad arguments.
 */
export function setDaxFlag(p: string, enabled: boolean, options?: SetDaxFlagOptions): DaxFlagReport {
  validatePath('path', p);
  validateBoolean('enabled', enabled);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['recursive', 'dryRun', 'followSymlinks', 'atomic']);
  const recursive = o.recursive === undefined ? false : validateBoolean('options.recursive', o.recursive);
  const dryRun = o.dryRun === undefined ? false : validateBoolean('options.dryRun', o.dryRun);
  const follow = o.followSymlinks === undefined ? false : validateBoolean('options.followSymlinks', o.followSymlinks);
  const atomic = o.atomic === undefined ? false : validateBoolean('options.atomic', o.atomic);

  const rootSt = binding.statx(p, follow);
  let rootReal = p;
  try {
    rootReal = follow ? fs.realpathSync(p) : path.join(fs.realpathSync(path.dirname(p)), path.basename(p));
  } catch {
    // keep p
  }
  const facts = fsFacts(rootReal, rootSt);
  const nodes = walk(p, rootSt, recursive, follow);
  const euid = process.geteuid?.() ?? 0;
  const privileged = euid === 0 || hasCapFowner();

  // Checks that need no change: the basis of dry runs and atomic runs.
  const predicted = new Map<Node, Error | null>();
  for (const n of nodes) {
    if (n.skipReason !== null) continue;
    predicted.set(n, n.error ?? n.listError ?? precheck(n, facts, privileged, euid));
  }

  const report: DaxFlagReport = {
    path: p,
    enabled,
    recursive,
    dryRun,
    atomic,
    aborted: atomic && [...predicted.values()].some((e) => e !== null),
    entries: [],
    summary: { total: 0, changed: 0, ok: 0, pending: 0, overridden: 0, noEffect: 0, skipped: 0, failed: 0 },
  };
  // A plan only: a dry run, or an atomic run whose checks failed.
  const planned = dryRun || report.aborted;
  const applied: DaxFlagEntry[] = [];
  const nodeOf = new Map<DaxFlagEntry, Node>();

  for (const n of nodes) {
    const flag = n.xflags === null ? null : (n.xflags & FS_XFLAG_DAX) !== 0;
    const entry: DaxFlagEntry = { path: n.path, type: n.type, flagBefore: flag, flagAfter: flag, changed: false, dax: null, state: 'ok', reason: null, error: null };
    report.entries.push(entry);
    nodeOf.set(entry, n);
    if (n.skipReason !== null) {
      entry.state = 'skipped';
      entry.reason = n.skipReason;
      continue;
    }
    if (report.aborted && !planned) {
      entry.state = 'skipped';
      entry.reason = 'not attempted: a change of this atomic run failed, and what it had changed was restored';
      continue;
    }
    // Predicted problems decide a plan; a real run trusts only real errors.
    const problem = predicted.get(n) ?? null;
    if (problem !== null && (planned || n.error !== null)) {
      fail(entry, problem);
      continue;
    }
    if (planned) {
      entry.flagAfter = enabled;
      entry.changed = flag !== enabled;
      entry.dax = n.type === 'file' ? inodeFacts(n.st, n.xflags).dax : null;
      continue;
    }
    if (flag !== enabled) {
      try {
        const r = binding.fsSetXflags(n.path, n.follow, enabled ? FS_XFLAG_DAX : 0, enabled ? 0 : FS_XFLAG_DAX);
        entry.flagAfter = (r.after.xflags & FS_XFLAG_DAX) !== 0;
        entry.changed = entry.flagAfter !== flag;
      } catch (e) {
        fail(entry, isUnsupported(e) ? flagNotSupported(n.path, e as Error) : explain(e as Error, n.path, 'ioctl'));
        if (atomic) {
          rollback(applied);
          report.aborted = true;
        }
        continue;
      }
    }
    if (n.listError !== null) {
      fail(entry, n.listError);
      entry.reason = `the flag ${entry.changed ? 'changed' : 'needed no change'}, but the directory could not be read, so nothing below it was visited (${(n.listError as Error & { hint?: string }).hint ?? n.listError.message})`;
      continue;
    }
    applied.push(entry);
  }

  // The effect: what statx says now against what the flag and the mount
  // imply (files), or what new files will be (directories).
  const settled = planned ? report.entries.filter((e) => e.state === 'ok') : applied.filter((e) => e.state === 'ok');
  const mismatched: DaxFlagEntry[] = [];
  for (const entry of settled) {
    const n = nodeOf.get(entry)!;
    if (n.type === 'file' && !planned) {
      try {
        entry.dax = inodeFacts(binding.statx(n.path, n.follow), null).dax;
      } catch {
        entry.dax = null;
      }
    }
    const blocked = fsBlocker(facts, n.path);
    if (blocked !== null) {
      entry.state = 'no-effect';
      entry.reason = `${blocked}: the flag is stored but has no effect`;
    } else if (mountOverrides(facts)) {
      entry.state = 'overridden';
      entry.reason = `${facts.mount!.source} (mounted at ${facts.mount!.mountPoint}) is mounted dax=${facts.mode}: ${facts.mode === 'always' ? 'every file is DAX' : 'no file is DAX'} whatever FS_XFLAG_DAX says (the flag counts on a dax=inode mount)`;
    } else if (n.st.blksize !== PAGE_SIZE) {
      entry.state = 'no-effect';
      entry.reason = `the filesystem block size (${n.st.blksize}) is not the page size (${PAGE_SIZE}): no file here can be DAX`;
    } else if (n.type === 'file' && entry.dax !== null && entry.dax !== expectedFileDax(facts, entry.flagAfter, n.st.blksize, PAGE_SIZE)) {
      mismatched.push(entry);
    }
  }
  // dax.rst rule 6. After a real change, a file that did not switch is held
  // by someone. In a plan, a file switches when this call closes it, unless
  // another process holds it.
  if (mismatched.length > 0) {
    const real = (e: DaxFlagEntry): string => {
      try {
        return fs.realpathSync(e.path);
      } catch {
        return e.path;
      }
    };
    const openers = openersOf(mismatched.map(real));
    for (const e of mismatched) {
      const who = openers.get(real(e));
      if (planned && who === undefined) continue;
      e.state = 'pending';
      e.reason = pendingReason(e.path, e.flagAfter === true, who?.join(', '));
    }
  }

  const s = report.summary;
  for (const e of report.entries) {
    s.total++;
    if (e.changed) s.changed++;
    if (e.state === 'ok') s.ok++;
    else if (e.state === 'pending') s.pending++;
    else if (e.state === 'overridden') s.overridden++;
    else if (e.state === 'no-effect') s.noEffect++;
    else if (e.state === 'skipped') s.skipped++;
    else if (e.state === 'failed') s.failed++;
  }
  return report;
}

function fail(entry: DaxFlagEntry, e: Error): void {
  entry.state = 'failed';
  entry.error = errorInfo(e);
  entry.reason = (e as Error & { reason?: string }).reason ?? (e as Error & { hint?: string }).hint ?? e.message;
}

/** Why setting the flag on `n` would fail, without trying; null when it should work. */
function precheck(n: Node, facts: FsFacts, privileged: boolean, euid: number): Error | null {
  if (n.xflags === null || (facts.mount !== undefined && !FLAG_FILESYSTEMS.includes(facts.mount.fstype))) {
    return flagNotSupported(n.path, new Error('FS_IOC_FSSETXATTR'));
  }
  if (facts.mount?.options.includes('ro')) {
    return explain(new DaxSystemError(-30, 'ioctl', n.path), n.path, 'ioctl');
  }
  const i = inodeFacts(n.st, n.xflags);
  if (!privileged && n.st.uid !== euid) {
    return explain(new DaxSystemError(-1, 'ioctl', n.path), n.path, 'ioctl');
  }
  // ext4 refuses any flag change on an immutable or append-only inode
  // (ext4_ioctl_check_immutable); xfs lets the owner change FS_XFLAG_DAX.
  if (i.locked && facts.mount?.fstype === 'ext4') {
    const e = new DaxSystemError(-1, 'ioctl', n.path);
    e.message = `${e.message}; '${n.path}' is immutable or append-only, and ext4 changes no flag of such a file (chattr -i / -a first)`;
    return e;
  }
  return null;
}

function rollback(applied: DaxFlagEntry[]): void {
  for (const entry of [...applied].reverse()) {
    if (!entry.changed) continue;
    const before = entry.flagBefore === true;
    try {
      binding.fsSetXflags(entry.path, false, before ? FS_XFLAG_DAX : 0, before ? 0 : FS_XFLAG_DAX);
      entry.flagAfter = entry.flagBefore;
      entry.changed = false;
      entry.state = 'rolled-back';
      entry.reason = 'restored: another change of this atomic run failed';
    } catch (e) {
      fail(entry, e as Error);
      entry.reason = `changed, and could not be restored after another change failed: ${(e as Error).message}`;
    }
  }
}

/** One path of a flag listing (daxkit flag get). */
export interface DaxFlagListing {
  path: string;
  type: EntryType;
  /** FS_XFLAG_DAX; null for skipped paths and failures. */
  flag: boolean | null;
  /** STATX_ATTR_DAX for files; null otherwise. */
  dax: boolean | null;
  /** Why a path was skipped or could not be read; null otherwise. */
  reason: string | null;
  error: { code: string; message: string } | null;
}

/**
 * FS_XFLAG_DAX and the effective DAX state of a path, or of a whole tree with
 * `recursive` (same walk as setDaxFlag: no symlinks, no other filesystems).
 */
export function listDaxFlags(p: string, options: { recursive?: boolean; followSymlinks?: boolean } = {}): DaxFlagListing[] {
  validatePath('path', p);
  const follow = options.followSymlinks ?? true;
  const rootSt = binding.statx(p, follow);
  return walk(p, rootSt, options.recursive ?? false, follow).map((n) => {
    const err = n.error ?? n.listError;
    return {
      path: n.path,
      type: n.type,
      flag: n.xflags === null ? null : (n.xflags & FS_XFLAG_DAX) !== 0,
      dax: n.type === 'file' && n.error === null ? inodeFacts(n.st, null).dax : null,
      reason: n.skipReason ?? (err ? ((err as Error & { reason?: string }).reason ?? (err as Error & { hint?: string }).hint ?? err.message) : null),
      error: err ? errorInfo(err) : null,
    };
  });
}

/**
 * The paths to visit, parent before children, names sorted. Symlinks below
 * the root, special files and other filesystems are listed as skipped.
 */
function walk(root: string, rootSt: NativeStatx, recursive: boolean, followRoot: boolean): Node[] {
  const out: Node[] = [];
  const visit = (p: string, st: NativeStatx, isRoot: boolean): void => {
    const type = entryType(st.mode);
    const node: Node = { path: p, type, st, xflags: null, error: null, listError: null, skipReason: null, follow: isRoot && followRoot };
    out.push(node);
    if (type === 'symlink') {
      node.skipReason = isRoot ? 'a symbolic link, not followed (pass followSymlinks to use its target)' : 'a symbolic link: recursion never follows them';
      return;
    }
    if (type === 'other') {
      node.skipReason = 'only regular files and directories have FS_XFLAG_DAX';
      return;
    }
    if (!isRoot && (st.devMajor !== rootSt.devMajor || st.devMinor !== rootSt.devMinor)) {
      node.skipReason = 'another filesystem is mounted here: recursion does not cross into it';
      return;
    }
    try {
      node.xflags = binding.fsGetXattr(p, node.follow).xflags;
    } catch (e) {
      node.error = isUnsupported(e) ? flagNotSupported(p, e as Error) : explain(e as Error, p, (e as DaxSystemError).syscall === 'open' ? 'open' : 'ioctl');
    }
    if (!recursive || type !== 'directory') return;
    let names: string[];
    try {
      names = fs.readdirSync(p).sort();
    } catch (e) {
      node.listError = explain(e as Error, p, 'scandir');
      return;
    }
    for (const name of names) {
      const child = path.join(p, name);
      let cst: NativeStatx;
      try {
        cst = binding.statx(child, false);
      } catch (e) {
        out.push({ path: child, type: 'other', st, xflags: null, error: e as Error, listError: null, skipReason: null, follow: false });
        continue;
      }
      visit(child, cst, false);
    }
  };
  visit(root, rootSt, true);
  return out;
}
