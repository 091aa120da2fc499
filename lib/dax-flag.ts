// FS_XFLAG_DAX: read it, and set or clear it on a file or a whole tree the
// way Documentation/filesystems/dax.rst says it behaves, reporting for every
// path whether the effective DAX state (S_DAX) followed, and why not.
//
// Every change goes through lib/tree-walk.ts: the ioctls run on an fd of the
// very object that was looked at, reached from the root's fd name by name
// without following symlinks or entering mounts, so a rename, a symlink or a
// bind mount can never make a change land outside the tree.
import * as fs from 'node:fs';
import { binding, type NativeStatx } from './binding';
import {
  FS_XFLAG_DAX,
  directoryReason,
  expectedFileDax,
  fdPath,
  fileReason,
  flagNotSupported,
  flagSupported,
  fsBlocker,
  fsFacts,
  inodeFacts,
  isUnsupportedIoctl,
  mountOverrides,
  pendingReason,
  type EntryType,
  type FsFacts,
} from './dax-reason';
import { DaxError, DaxSystemError, errorReason, invalidArgValue } from './errors';
import { devNumbers } from './sysfs';
import { Tree, type SkipKind, type TreeEntry } from './tree-walk';
import { rejectUnknownOptions, validateBoolean, validateObject, validatePathArg, type PathArg } from './validate';

const PAGE_SIZE = binding.cpuInfo().pageSize;
const ST_RDONLY = 1;

export interface GetDaxFlagOptions {
  /** Follow a final symlink (default true). */
  followSymlinks?: boolean;
}

/** What was being done when an error happened, for the hint that says what is missing. */
type Stage = 'lookup' | 'open' | 'ioctl' | 'scandir';

function hintFor(e: NodeJS.ErrnoException, stage: Stage): string | null {
  switch (e.code) {
    case 'EPERM':
      return stage === 'ioctl' ? "changing FS_XFLAG_DAX needs the file's owner or CAP_FOWNER (and CAP_LINUX_IMMUTABLE if it is immutable or append-only)" : null;
    case 'EACCES':
      if (stage === 'lookup') return 'looking it up needs search (x) permission on the directories above it (or CAP_DAC_READ_SEARCH)';
      if (stage === 'scandir') return 'listing a directory needs read permission on it (or CAP_DAC_READ_SEARCH)';
      return 'opening it for the ioctl needs read permission on it (or CAP_DAC_OVERRIDE)';
    case 'EROFS':
      return 'the filesystem is mounted read-only here';
    case 'ENOENT':
      // The O_PATH handle keeps the inode: only a missing /proc makes the reopen fail so.
      return stage === 'open' && !fs.existsSync('/proc/self/fd') ? 'daxkit opens files through /proc/self/fd, and /proc is not mounted' : null;
    default:
      return null;
  }
}

/** Adds what is missing (privilege, permission, a writable mount) to an error, keeping the node:fs shape. */
function explain<T extends Error>(e: T, stage: Stage): T {
  const hint = hintFor(e as NodeJS.ErrnoException, stage);
  if (hint !== null && !e.message.includes(hint)) {
    e.message = `${e.message}; ${hint}`;
    (e as T & { hint?: string }).hint = hint;
  }
  return e;
}

/** The stage of an error of the walk: the lookup failed when nothing could be looked at. */
function walkError(e: TreeEntry): Error | null {
  if (e.error !== null) return explain(e.error, e.st === null ? 'lookup' : 'open');
  if (e.listError !== null) return explain(e.listError, 'scandir');
  return null;
}

function specialKind(mode: number): string {
  switch (mode & 0o170000) {
    case 0o020000:
      return 'a character device';
    case 0o060000:
      return 'a block device';
    case 0o010000:
      return 'a FIFO';
    case 0o140000:
      return 'a socket';
    default:
      return 'not a regular file or directory';
  }
}

/** The flag of an open file or directory: FS_XFLAG_DAX or ERR_DAX_NOT_SUPPORTED. */
function readFlagFd(fd: number, text: string, facts: FsFacts): number {
  let x: number;
  try {
    x = binding.fsGetXattr(fd, text).xflags;
  } catch (e) {
    if (isUnsupportedIoctl(e)) throw flagNotSupported(text, facts, e as Error);
    throw explain(e as Error, 'ioctl');
  }
  if (!flagSupported(facts) && (x & FS_XFLAG_DAX) === 0) throw flagNotSupported(text, facts);
  return x;
}

/** The root of a call: opened once, with the facts of its filesystem. */
function openRoot(bytes: Buffer, text: string, follow: boolean): { tree: Tree; facts: FsFacts } {
  const tree = Tree.open(bytes, text, follow);
  try {
    return { tree, facts: fsFacts(tree.root.st as NativeStatx, fdPath(tree.fd) ?? null) };
  } catch (e) {
    tree.close();
    throw e;
  }
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

/** Who holds each inode (dev:ino) open or mapped, from /proc (only what this user may see). */
function openersOf(wanted: Set<string>): Map<string, string[]> {
  const found = new Map<string, Set<string>>();
  const add = (key: string, who: string): void => {
    if (!wanted.has(key)) return;
    if (!found.has(key)) found.set(key, new Set());
    found.get(key)!.add(who);
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
          // stat() of the magic link is the open file's own inode; nothing is opened.
          const st = fs.statSync(`/proc/${pid}/fd/${fd}`, { bigint: true });
          const { major, minor } = devNumbers(st.dev);
          add(`${major}:${minor}:${st.ino}`, who);
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // not ours to see
    }
    try {
      // address perms offset MAJ:MIN(hex) inode path
      for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n')) {
        const f = line.split(/\s+/, 5);
        const mm = /^([0-9a-f]+):([0-9a-f]+)$/.exec(f[3] ?? '');
        if (mm !== null && f[4] !== '0') add(`${parseInt(mm[1], 16)}:${parseInt(mm[2], 16)}:${f[4]}`, who);
      }
    } catch {
      // not ours to see
    }
  }
  const out = new Map<string, string[]>();
  for (const [k, s] of found) out.set(k, [...s]);
  return out;
}

function inodeKey(st: NativeStatx): string {
  return `${st.devMajor}:${st.devMinor}:${st.ino}`;
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

const reasonOf = errorReason;

function skipReason(kind: SkipKind, isRoot: boolean): string {
  switch (kind) {
    case 'symlink':
      return isRoot ? 'a symbolic link, not followed (followSymlinks, or --follow-symlinks, acts on its target)' : 'a symbolic link: recursion never follows them';
    case 'special':
      return 'only regular files and directories have FS_XFLAG_DAX';
    case 'filesystem':
      return 'another filesystem is mounted here: recursion does not cross into it';
    case 'mount':
      return 'a mount point (this filesystem mounted here again, e.g. a bind mount): recursion does not enter it';
  }
}

/** What the run learnt about one path. */
interface Rec {
  node: TreeEntry;
  entry: DaxFlagEntry;
  /** xflags read by the walk; null when they could not be. */
  xflags: number | null;
  /** A failure predicted without trying (plans), or a real one. */
  problem: Error | null;
}

interface Run {
  enabled: boolean;
  facts: FsFacts;
  readonly: boolean;
  privileged: boolean;
  euid: number;
  recs: Map<TreeEntry, Rec>;
}

function recOf(run: Run, node: TreeEntry): Rec {
  let r = run.recs.get(node);
  if (r === undefined) {
    r = {
      node,
      xflags: null,
      problem: null,
      entry: {
        path: node.text,
        pathBuffer: node.path,
        type: node.type,
        flagBefore: null,
        flagAfter: null,
        changed: false,
        dax: null,
        state: 'ok',
        reason: null,
        error: null,
      },
    };
    run.recs.set(node, r);
  }
  return r;
}

function fail(entry: DaxFlagEntry, e: Error): void {
  entry.state = 'failed';
  entry.error = errorInfo(e);
  entry.reason = reasonOf(e);
}

/** Why setting the flag on `n` would fail, without trying; null when it should work. */
function precheck(run: Run, r: Rec): Error | null {
  const n = r.node;
  const st = n.st as NativeStatx;
  if (run.readonly) return explain(new DaxSystemError(-30, 'ioctl', n.text), 'ioctl');
  const i = inodeFacts(st, r.xflags);
  if (!run.privileged && st.uid !== run.euid) return explain(new DaxSystemError(-1, 'ioctl', n.text), 'ioctl');
  // ext4 refuses any flag change on an immutable or append-only inode
  // (ext4_ioctl_check_immutable); xfs lets the owner change FS_XFLAG_DAX.
  if (i.locked && run.facts.mount?.fstype === 'ext4') {
    const e = new DaxSystemError(-1, 'ioctl', n.text);
    const hint = 'it is immutable or append-only, and ext4 changes no flag of such a file (chattr -i / -a first)';
    e.message = `${e.message}; ${hint}`;
    (e as Error & { hint?: string }).hint = hint;
    return e;
  }
  return null;
}

/** Reads the flag of an entry into its record (flagBefore, and flagAfter until something changes it); null on failure, recorded as the problem. */
function readInto(run: Run, n: TreeEntry, fd: number): { r: Rec; flag: boolean | null } {
  const r = recOf(run, n);
  try {
    r.xflags = readFlagFd(fd, n.text, run.facts);
  } catch (e) {
    r.problem = e as Error;
    return { r, flag: null };
  }
  const flag = (r.xflags & FS_XFLAG_DAX) !== 0;
  r.entry.flagBefore = flag;
  r.entry.flagAfter = flag;
  return { r, flag };
}

/** The walk's visit for plans (dry runs, atomic checks): read the flag and predict. */
function planVisit(run: Run): (n: TreeEntry, fd: number) => void {
  return (n, fd) => {
    const { r, flag } = readInto(run, n, fd);
    if (flag !== null && flag !== run.enabled) r.problem = precheck(run, r);
  };
}

/**
 * Sets the flag as asked on the open fd, reads it back, and records what is
 * on disk now. Returns true when the flag changed (the file's state is then
 * read again once it is closed); throws nothing.
 */
function change(run: Run, r: Rec, fd: number, want: boolean): boolean {
  const e = r.entry;
  try {
    const res = binding.fsSetXflags(fd, want ? FS_XFLAG_DAX : 0, want ? 0 : FS_XFLAG_DAX, r.node.text);
    const before = (res.before.xflags & FS_XFLAG_DAX) !== 0;
    const after = (res.after.xflags & FS_XFLAG_DAX) !== 0;
    if (e.flagBefore === null) e.flagBefore = before;
    e.flagAfter = after;
    e.changed = after !== e.flagBefore;
    // A filesystem that takes the ioctl but does not keep the bit (ext2 drops it).
    if (after !== want) throw flagNotSupported(r.node.text, run.facts);
    return before !== after;
  } catch (err) {
    const x = err as Error;
    r.problem = x instanceof DaxError ? x : isUnsupportedIoctl(x) ? flagNotSupported(r.node.text, run.facts, x) : explain(x, 'ioctl');
    fail(e, r.problem);
    return false;
  }
}

/** The walk's visit for a plain run: read, change, read back, in one visit of the fd. */
function applyVisit(run: Run): (n: TreeEntry, fd: number) => boolean {
  return (n, fd) => {
    const { r, flag } = readInto(run, n, fd);
    return flag !== null && flag !== run.enabled && change(run, r, fd, run.enabled);
  };
}

/**
 * Sets (enabled = true) or clears FS_XFLAG_DAX on a file or directory, or a
 * whole tree with `recursive`, changing only that bit (read-modify-write of
 * fsx_xflags). Returns a report with, for every path, the flag before and
 * after, the effective DAX state after, and the reason where they differ.
 * Failures of single paths are reported in the entries (`state: 'failed'`),
 * not thrown: check `report.summary.failed`. The report says what is on disk
 * afterwards: `changed` and `summary.changed` count only flags left changed.
 * @throws DaxSystemError when `path` itself cannot be looked up (ENOENT...); TypeError for bad arguments.
 */
export function setDaxFlag(p: PathArg, enabled: boolean, options?: SetDaxFlagOptions): DaxFlagReport {
  const { bytes, text } = validatePathArg('path', p);
  validateBoolean('enabled', enabled);
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, ['recursive', 'dryRun', 'followSymlinks', 'atomic']);
  const recursive = o.recursive === undefined ? false : validateBoolean('options.recursive', o.recursive);
  const dryRun = o.dryRun === undefined ? false : validateBoolean('options.dryRun', o.dryRun);
  const follow = o.followSymlinks === undefined ? false : validateBoolean('options.followSymlinks', o.followSymlinks);
  const atomic = o.atomic === undefined ? false : validateBoolean('options.atomic', o.atomic);

  const { tree, facts } = openRoot(bytes, text, follow);
  const euid = process.geteuid?.() ?? 0;
  const run: Run = { enabled, facts, readonly: false, privileged: euid === 0 || hasCapFowner(), euid, recs: new Map() };
  let nodes: TreeEntry[];
  let aborted = false;
  try {
    if (tree.root.skip === null) run.readonly = (binding.fstatfs(tree.fd, text).flags & ST_RDONLY) !== 0 || facts.mount?.options.includes('ro') === true;
    if (dryRun) {
      nodes = tree.walk(recursive, planVisit(run));
    } else if (!atomic) {
      nodes = tree.walk(recursive, applyVisit(run));
    } else {
      nodes = tree.walk(recursive, planVisit(run));
      aborted = nodes.some((n) => n.skip === null && (walkError(n) !== null || recOf(run, n).problem !== null));
      if (!aborted) aborted = applyAtomically(tree, run, nodes);
    }
  } finally {
    tree.close();
  }

  const report: DaxFlagReport = {
    path: text,
    pathBuffer: bytes,
    enabled,
    recursive,
    dryRun,
    atomic,
    aborted,
    entries: [],
    summary: { total: 0, changed: 0, ok: 0, pending: 0, overridden: 0, noEffect: 0, skipped: 0, failed: 0 },
  };
  const settled: Rec[] = [];
  for (const n of nodes) {
    const r = recOf(run, n);
    const e = r.entry;
    e.type = n.type;
    report.entries.push(e);
    if (n.skip !== null) {
      e.state = 'skipped';
      e.reason = skipReason(n.skip, n.parent === null);
    } else if (e.state === 'rolled-back') {
      if (n.type === 'file') e.dax = n.after === null ? null : inodeFacts(n.after, null).dax;
    } else if (e.state !== 'ok') {
      // failed or not attempted: said during the run
    } else if (r.problem !== null || n.error !== null) {
      fail(e, r.problem ?? (walkError(n) as Error));
    } else if (n.listError !== null) {
      // The flag is as reported; but nothing below was visited.
      const did = aborted ? 'nothing was changed' : dryRun ? `the flag would ${e.flagBefore === enabled ? 'need no change' : 'change'}` : `the flag ${e.changed ? 'changed' : 'needed no change'}`;
      fail(e, explain(n.listError, 'scandir'));
      e.reason = `${did}, but the directory could not be read, so nothing below it was visited (${reasonOf(n.listError)})`;
    } else if (aborted) {
      e.state = 'skipped';
      e.reason = 'not changed: another path of this atomic run failed its check, so the run changed nothing';
    } else {
      if (dryRun) {
        e.flagAfter = enabled;
        e.changed = e.flagBefore !== enabled;
      }
      settled.push(r);
    }
  }
  settle(settled, run, dryRun);

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

/**
 * The changes of an atomic run whose checks passed: each path reached again
 * from the root's fd (and checked to be what was checked). At the first
 * failure the run stops, and what it changed is restored the same way.
 * Returns whether it aborted.
 */
function applyAtomically(tree: Tree, run: Run, nodes: TreeEntry[]): boolean {
  const todo = nodes.filter((n) => n.skip === null && recOf(run, n).entry.flagBefore !== run.enabled);
  let failed = false;
  const done: Rec[] = [];
  tree.revisit(
    todo,
    (n, fd) => {
      const r = recOf(run, n);
      if (failed) return false;
      const restat = change(run, r, fd, run.enabled);
      // A change that failed may still have left the bit changed (read back): undone too.
      if (r.entry.changed) done.push(r);
      if (r.problem !== null) failed = true;
      return restat;
    },
    (n, err) => {
      const r = recOf(run, n);
      if (!failed) {
        r.problem = err;
        fail(r.entry, err);
        failed = true;
      }
    },
  );
  if (!failed) return false;
  for (const n of todo) {
    const r = recOf(run, n);
    if (r.entry.state === 'ok' && !r.entry.changed) {
      r.entry.state = 'skipped';
      r.entry.reason = 'not attempted: another change of this atomic run failed, and what it had changed was restored';
    }
  }
  const undo = done.filter((r) => r.entry.changed);
  tree.revisit(
    undo.map((r) => r.node),
    (n, fd) => {
      const r = recOf(run, n);
      const before = r.entry.flagBefore === true;
      try {
        const res = binding.fsSetXflags(fd, before ? FS_XFLAG_DAX : 0, before ? 0 : FS_XFLAG_DAX, n.text);
        r.entry.flagAfter = (res.after.xflags & FS_XFLAG_DAX) !== 0;
        r.entry.changed = r.entry.flagAfter !== r.entry.flagBefore;
        if (r.entry.changed) throw flagNotSupported(n.text, run.facts);
        if (r.entry.state !== 'failed') {
          r.entry.state = 'rolled-back';
          r.entry.reason = 'restored: another change of this atomic run failed';
        }
      } catch (e) {
        couldNotRestore(r, e as Error);
      }
      return n.type === 'file';
    },
    (n, err) => couldNotRestore(recOf(run, n), err),
  );
  return true;
}

function couldNotRestore(r: Rec, e: Error): void {
  const x = isUnsupportedIoctl(e) ? e : explain(e, 'ioctl');
  fail(r.entry, x);
  r.entry.reason = `changed, and could not be restored after another change failed: ${reasonOf(x)}`;
}

/**
 * The effect of the flag: what statx says after the run against what the
 * flag and the mount imply (files), or what new files will be (directories).
 */
function settle(recs: Rec[], run: Run, planned: boolean): void {
  const facts = run.facts;
  const mismatched: Rec[] = [];
  for (const r of recs) {
    const e = r.entry;
    const n = r.node;
    const st = n.st as NativeStatx;
    // A file whose flag changed was looked up again once closed (n.after),
    // so its new state shows; null when it is no longer there to ask.
    if (n.type === 'file') {
      const now = e.changed && !planned ? n.after : st;
      e.dax = now === null ? null : inodeFacts(now, null).dax;
    }
    const blocked = fsBlocker(facts, n.text);
    if (blocked !== null) {
      e.state = 'no-effect';
      e.reason = `${blocked}: the flag is stored but has no effect`;
    } else if (mountOverrides(facts)) {
      e.state = 'overridden';
      e.reason = `${facts.mount!.source} (mounted at ${facts.mount!.mountPoint}) is mounted dax=${facts.mode}: ${facts.mode === 'always' ? 'every file is DAX' : 'no file is DAX'} whatever FS_XFLAG_DAX says (the flag counts on a dax=inode mount)`;
    } else if (st.blksize !== PAGE_SIZE) {
      e.state = 'no-effect';
      e.reason = `the filesystem block size (${st.blksize}) is not the page size (${PAGE_SIZE}): no file here can be DAX`;
    } else if (n.type === 'file' && e.dax !== null && e.dax !== expectedFileDax(facts, e.flagAfter, st.blksize, PAGE_SIZE)) {
      mismatched.push(r);
    }
  }
  // dax.rst rule 6. After a real change, a file that did not switch is held
  // by someone. In a plan, a file switches when this call closes it, unless
  // another process holds it.
  if (mismatched.length === 0) return;
  const openers = openersOf(new Set(mismatched.map((r) => inodeKey(r.node.st as NativeStatx))));
  for (const r of mismatched) {
    const who = openers.get(inodeKey(r.node.st as NativeStatx));
    if (planned && who === undefined) continue;
    r.entry.state = 'pending';
    r.entry.reason = pendingReason(r.node.text, r.entry.flagAfter === true, who?.join(', '));
  }
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
  let nodes: TreeEntry[];
  try {
    nodes = tree.walk(options.recursive ?? false, (n, fd) => {
      try {
        flags.set(n, readFlagFd(fd, n.text, facts));
      } catch (e) {
        flags.set(n, e as Error);
      }
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
      error: err === null ? null : errorInfo(err),
    };
    if (n.skip !== null) listing.reason = skipReason(n.skip, n.parent === null);
    else if (err !== null) listing.reason = reasonOf(err);
    else if (n.st !== null) {
      const i = inodeFacts(n.st, xflags);
      if (n.type === 'file') listing.dax = i.dax;
      listing.reason = n.type === 'file' ? fileReason(n.text, facts, i, PAGE_SIZE) : directoryReason(facts, i, PAGE_SIZE);
    }
    return listing;
  });
}

