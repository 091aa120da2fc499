// setDaxFlag(): FS_XFLAG_DAX set or cleared on a file or a whole tree the way
// Documentation/filesystems/dax.rst says it behaves, reporting for every path
// whether the effective DAX state (S_DAX) followed, and why not.
//
// Every change goes through lib/fs/tree-walk.ts: the ioctls run on an fd of
// the very object that was looked at, reached from the root's fd name by name
// without following symlinks or entering mounts, so a rename, a symlink or a
// bind mount can never make a change land outside the tree.
import * as fs from 'node:fs';
import { binding, type NativeStatx } from '../binding';
import { DaxError, DaxSystemError, errorReason, errorRecord } from '../errors';
import { Tree, type TreeEntry } from '../fs/tree-walk';
import { rejectUnknownOptions, validateBoolean, validateObject, validatePathArg, type PathArg } from '../validate';
import type { DaxFlagEntry, DaxFlagReport, SetDaxFlagOptions } from './flag';
import { explain, openRoot, readFlagFd, skipReason, walkError } from './flag-read';
import { inodeKey, openersOf } from './openers';
import { expectedFileDax, ext4DaxRefusal, flagNotSupported, fsBlocker, inodeFacts, isUnsupportedIoctl, mountOverrides, pendingReason, type FsFacts } from './reason';
import { FS_XFLAG_DAX, PAGE_SIZE, ST_RDONLY } from '../constants';

function hasCapFowner(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 3n)) !== 0n;
  } catch {
    return false;
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
  entry.error = errorRecord(e);
  entry.reason = errorReason(e);
}

/** Why setting the flag on `n` (open at fd) would fail, without trying; null when it should work. */
function precheck(run: Run, r: Rec, fd: number): Error | null {
  const n = r.node;
  const st = n.st as NativeStatx;
  if (run.readonly) return explain(new DaxSystemError(-30, 'ioctl', n.text), 'ioctl');
  if (run.enabled) {
    const refused = ext4DaxRefusal(fd, n.type, n.text, run.facts);
    if (refused !== null) return refused;
  }
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
    if (flag !== null && flag !== run.enabled) r.problem = precheck(run, r, fd);
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
    r.problem = x instanceof DaxError ? x : isUnsupportedIoctl(x) ? (ext4DaxRefusal(fd, r.node.type, r.node.text, run.facts, x) ?? flagNotSupported(r.node.text, run.facts, x)) : explain(x, 'ioctl');
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
      e.reason = skipReason(n.skip, n.parent === null, n.st?.mode);
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
      e.reason = `${did}, but the directory could not be read, so nothing below it was visited (${errorReason(n.listError)})`;
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
  r.entry.reason = `changed, and could not be restored after another change failed: ${errorReason(x)}`;
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
