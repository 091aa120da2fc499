// A tree walked by file descriptor, so that no race, symlink or mount can
// lead a root tool outside the tree it was given (what `find -xdev` and
// `chattr -R` must hold to).
//
// Every name is opened relative to the fd of the directory that listed it,
// with O_PATH | O_NOFOLLOW: an O_PATH open runs no driver code and cannot
// block, and never follows a symlink swapped in after the listing. What was
// opened is then looked at (statx of the fd) and, only if it is a regular
// file or directory on the tree's own mount, opened for I/O through that same
// handle (reopen). Callers act only on that fd. Nothing is re-resolved by
// path; a later pass (an atomic run's changes, its rollback) walks down from
// the root's fd again and checks at every step that each name still holds
// the inode it held the first time.
//
// Mount points are told by mount id (statx STATX_MNT_ID, Linux 5.8), which
// also catches a bind mount of the tree's own filesystem, where device
// numbers are equal. Kernels before 5.8 give the id in /proc/self/fdinfo
// (since 3.15); where neither is readable only the device number is compared,
// and a bind mount of the same filesystem would be entered.
import * as fs from 'node:fs';
import { binding, type NativeStatx } from '../binding';
import { DaxError, DaxSystemError } from '../errors';
import { pathText } from './path-bytes';
import { AT_FDCWD, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../constants';

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export function entryType(mode: number): EntryType {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

/** Why an entry was not opened: a symlink, a special file, another filesystem, or another mount of this one. */
export type SkipKind = 'symlink' | 'special' | 'filesystem' | 'mount';

/**
 * The longest path the kernel takes (PATH_MAX, 4096, counts the NUL): an
 * entry whose path is longer is reported as ENAMETOOLONG and not entered,
 * as a tool that names files by path fails there. That also bounds what a
 * report holds per entry, however deep a tree goes.
 */
export const PATH_MAX = 4096;

export class TreeEntry {
  /** The last name (the whole path for the root). */
  readonly name: Buffer;
  readonly parent: TreeEntry | null;
  /** Its lossless text (path-bytes.ts): the root's as given, then `/name` per level. */
  readonly text: string;
  /** The length of `path` in bytes. */
  readonly byteLength: number;
  readonly #rootPath: Buffer | null;
  type: EntryType = 'other';
  /** statx of what was opened; null when nothing could be. */
  st: NativeStatx | null = null;
  skip: SkipKind | null = null;
  /** Why it could not be looked up (st null) or opened for I/O, or what its visit threw. */
  error: Error | null = null;
  /** A directory whose names could not be read: nothing below it was visited. */
  listError: Error | null = null;
  /** statx once every fd on it was closed (see Visit); null when not asked, or it no longer holds the same inode. */
  after: NativeStatx | null = null;
  readonly children: TreeEntry[] = [];

  private constructor(name: Buffer, parent: TreeEntry | null, text: string, byteLength: number, rootPath: Buffer | null) {
    this.name = name;
    this.parent = parent;
    this.text = text;
    this.byteLength = byteLength;
    this.#rootPath = rootPath;
  }

  /** A root: `path` as given, and `name` its last name where it was reached name by name. */
  static root(path: Buffer, text: string, name: Buffer = path): TreeEntry {
    return new TreeEntry(name, null, text, path.length, path);
  }

  /**
   * A child. Only the name is kept: the text is the parent's plus the name's
   * (a rope, not a copy, until something reads its characters), and the
   * bytes are made when asked for, so a deep tree does not hold every
   * prefix of every path.
   */
  static child(parent: TreeEntry, name: Buffer): TreeEntry {
    const slash = parent.#rootPath !== null && parent.#rootPath[parent.#rootPath.length - 1] === 0x2f ? 0 : 1;
    const e = new TreeEntry(name, parent, `${parent.text}${slash ? '/' : ''}${pathText(name)}`, parent.byteLength + slash + name.length, null);
    parent.children.push(e);
    return e;
  }

  /** The path as reported, in bytes: the root as given, then `/name` for each level. */
  get path(): Buffer {
    const parts: Buffer[] = [];
    let e: TreeEntry = this;
    for (; e.parent !== null; e = e.parent) parts.push(e.name);
    const root = e.#rootPath as Buffer;
    const out = Buffer.allocUnsafe(this.byteLength);
    let at = root.copy(out, 0);
    for (let i = parts.length - 1; i >= 0; i--) {
      if (at > 0 && out[at - 1] !== 0x2f) out[at++] = 0x2f;
      at += parts[i].copy(out, at);
    }
    return out;
  }
}

/**
 * Called with an fd open for I/O on exactly the entry (a regular file or a
 * directory). Return true to have a file looked up again by name once every
 * fd on it is closed (`after`): an fd keeps its inode in memory, and a file's
 * DAX state switches only when the inode is evicted (dax.rst rule 6). The
 * lookup is of one name in the directory fd the walk holds, and is checked to
 * give the same inode; it only reads.
 */
export type Visit = (e: TreeEntry, fd: number) => boolean | void;

function sameObject(a: NativeStatx, b: NativeStatx): boolean {
  return a.ino === b.ino && a.devMajor === b.devMajor && a.devMinor === b.devMinor && (a.mode & S_IFMT) === (b.mode & S_IFMT);
}

/** The mount id of fd: statx's, else /proc/self/fdinfo's `mnt_id` (Linux 3.15 to 5.7), else null. */
export function mountId(fd: number, st: NativeStatx): number | null {
  if (st.mntId !== null) return st.mntId;
  try {
    const m = /^mnt_id:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** Closes an fd of binding.openPath() or reopen() (never fs.closeSync: Node does not know them). */
export function closeQuietly(fd: number): void {
  try {
    binding.closeFd(fd);
  } catch {
    // an fd this file opened; nothing to do if the kernel says otherwise
  }
}

function replaced(e: TreeEntry): DaxError {
  return new DaxError('ERR_DAX_TREE_CHANGED', `'${e.text}' was replaced or moved during the run: it is not what was checked, so it was left alone`, {
    path: e.text,
    reason: 'replaced or moved during the run: not what was checked, so it was left alone',
  });
}

function explainBeneath(e: DaxSystemError, why: string): DaxSystemError {
  e.message = `${e.message}; ${why}`;
  return Object.assign(e, { hint: why });
}

function nameTooLong(e: TreeEntry): DaxSystemError {
  return explainBeneath(
    new DaxSystemError(-36, 'open', e.text),
    `its path is ${e.byteLength} bytes, longer than the ${PATH_MAX - 1} a path can have (PATH_MAX), so it cannot be named: it was not opened, and nothing below it was visited`,
  );
}

let openFileLimit: string | null | undefined;

/** The soft limit on open files, from /proc/self/limits ("Max open files  1024  4096  files"). */
function fileLimit(): string | null {
  if (openFileLimit === undefined) {
    try {
      openFileLimit = /^Max open files\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'latin1'))?.[1] ?? null;
    } catch {
      openFileLimit = null;
    }
  }
  return openFileLimit;
}

/** An error of the walk, with what EMFILE means here: a tree deeper than the fd limit. */
function walkFailure(err: unknown): Error {
  const e = err as DaxSystemError;
  if (e.code === 'EMFILE' || e.code === 'ENFILE') {
    const limit = fileLimit();
    return explainBeneath(
      e,
      e.code === 'EMFILE'
        ? `the walk holds one directory open per level, and this tree goes deeper than the open-file limit allows (ulimit -n${limit === null ? '' : `: ${limit}`}); raise it to reach further down`
        : 'the walk holds one directory open per level, and the system ran out of open files (fs.file-max)',
    );
  }
  return e;
}

type FdFate = 'kept' | 'closed' | 'done';

export class Tree {
  readonly root: TreeEntry;
  /** Mount id of the root, or null when the kernel does not tell (device numbers are compared then). */
  readonly mountId: number | null;
  #rootFd: number;
  readonly #follow: boolean;
  #restatRoot = false;

  private constructor(root: TreeEntry, fd: number, follow: boolean) {
    this.root = root;
    this.#rootFd = fd;
    this.#follow = follow;
    this.mountId = mountId(fd, root.st as NativeStatx);
  }

  /**
   * Opens the root (following a final symlink only with `follow`).
   * @throws DaxSystemError (`syscall: 'open'`) when the path cannot be looked up.
   */
  static open(path: Buffer, text: string, follow: boolean): Tree {
    const fd = binding.openPath(AT_FDCWD, path, follow, text);
    try {
      const st = binding.statx(fd, undefined, text);
      const root = TreeEntry.root(path, text);
      root.st = st;
      root.type = entryType(st.mode);
      if (root.type === 'symlink') root.skip = 'symlink';
      else if (root.type === 'other') root.skip = 'special';
      return new Tree(root, fd, follow);
    } catch (e) {
      closeQuietly(fd);
      throw e;
    }
  }

  /**
   * Opens `rel` (a relative path) inside the directory `dir` the way
   * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV) does,
   * one name at a time from dir's fd: no symlink is followed (ELOOP), no
   * mount point crossed (EXDEV), no ".." taken. The tree's root is what
   * `rel` names; its path and text are `path` and `text`.
   * @throws DaxSystemError (`syscall: 'open'`).
   */
  static openBeneath(dir: Buffer, dirText: string, rel: Buffer, path: Buffer, text: string): Tree {
    const base = Tree.open(dir, dirText, true);
    const names: Buffer[] = [];
    for (let i = 0, j = 0; j <= rel.length; j++) {
      if (j === rel.length || rel[j] === 0x2f) {
        const n = rel.subarray(i, j);
        i = j + 1;
        if (n.length === 0 || (n.length === 1 && n[0] === 0x2e)) continue;
        if (n.length === 2 && n[0] === 0x2e && n[1] === 0x2e) {
          base.close();
          throw explainBeneath(new DaxSystemError(-18, 'open', text), `".." would leave '${dirText}'`);
        }
        names.push(Buffer.from(n));
      }
    }
    let fd = base.#rootFd;
    let st = base.root.st as NativeStatx;
    try {
      for (let k = 0; k < names.length; k++) {
        if (entryType(st.mode) !== 'directory') throw new DaxSystemError(-20, 'open', text);
        const next = binding.openPath(fd, names[k], false, text);
        if (fd !== base.#rootFd) closeQuietly(fd);
        fd = next;
        st = binding.statx(fd, undefined, text);
        const type = entryType(st.mode);
        if (type === 'symlink') throw explainBeneath(new DaxSystemError(-40, 'open', text), `a symbolic link is on the way, and nothing below '${dirText}' is reached through one`);
        if (st.devMajor !== (base.root.st as NativeStatx).devMajor || st.devMinor !== (base.root.st as NativeStatx).devMinor || (base.mountId !== null && mountId(fd, st) !== base.mountId)) {
          throw explainBeneath(new DaxSystemError(-18, 'open', text), `a mount point is on the way, and nothing below '${dirText}' is reached across one`);
        }
      }
      const root = TreeEntry.root(path, text, names[names.length - 1]);
      root.st = st;
      root.type = entryType(st.mode);
      if (root.type === 'symlink') root.skip = 'symlink';
      else if (root.type === 'other') root.skip = 'special';
      const t = new Tree(root, fd === base.#rootFd ? binding.openPath(fd, '.', false, text) : fd, false);
      base.close();
      return t;
    } catch (e) {
      if (fd !== base.#rootFd) closeQuietly(fd);
      base.close();
      throw e;
    }
  }

  /** The root opened for I/O (read-write with `write`); the caller closes it. */
  openRoot(write: boolean): number {
    return binding.reopen(this.#rootFd, this.root.type === 'directory', write, this.root.text);
  }

  /** The root's O_PATH fd (valid until close()). */
  get fd(): number {
    return this.#rootFd;
  }

  /** Closes the root, then looks it up again if a visit asked for it (see Visit). */
  close(): void {
    if (this.#rootFd < 0) return;
    closeQuietly(this.#rootFd);
    this.#rootFd = -1;
    if (this.#restatRoot) this.root.after = this.#lookup(AT_FDCWD, this.root.path, this.#follow, this.root);
  }

  #lookup(dirFd: number, name: Buffer, follow: boolean, e: TreeEntry): NativeStatx | null {
    try {
      const st = binding.statx(dirFd, name, follow, e.text);
      return e.st !== null && sameObject(st, e.st) ? st : null;
    } catch {
      return null;
    }
  }

  #classify(e: TreeEntry, fd: number): void {
    const st = e.st as NativeStatx;
    e.type = entryType(st.mode);
    const root = this.root.st as NativeStatx;
    if (e.type === 'symlink') e.skip = 'symlink';
    else if (e.type === 'other') e.skip = 'special';
    else if (st.devMajor !== root.devMajor || st.devMinor !== root.devMinor) e.skip = 'filesystem';
    else if (this.mountId !== null && mountId(fd, st) !== this.mountId) e.skip = 'mount';
  }

  /**
   * Opens e for I/O through its O_PATH fd (files read-write with `write`)
   * and calls visit; then, for a directory being listed, reads its names
   * (sorted by bytes). What visit throws is the entry's error: nothing
   * escapes a walk once it has begun, so its caller always gets the entries,
   * and can report what it changed.
   */
  #open(e: TreeEntry, pathFd: number, visit: Visit, list: boolean, write = false): { names: Buffer[] | null; restat: boolean; failed: Error | null } {
    const dir = e.type === 'directory';
    let io: number;
    try {
      io = binding.reopen(pathFd, dir, write && !dir, e.text);
    } catch (err) {
      return { names: null, restat: false, failed: walkFailure(err) };
    }
    try {
      let restat = false;
      try {
        restat = visit(e, io) === true;
      } catch (err) {
        e.error = err as Error;
      }
      let names: Buffer[] | null = null;
      if (dir && list) {
        try {
          names = binding.readDir(io, e.text).sort(Buffer.compare);
        } catch (err) {
          e.listError = walkFailure(err);
        }
      }
      return { names, restat, failed: null };
    } finally {
      closeQuietly(io);
    }
  }

  /** e could not be opened for I/O: neither visited nor (a directory) listed. */
  #failed(e: TreeEntry, err: Error, list: boolean): void {
    e.error = err;
    if (list && e.type === 'directory') e.listError = err;
  }

  /** After visiting a file that asked for it: close its handle, then look it up by name in parentFd. */
  #restat(e: TreeEntry, fd: number, parentFd: number | null): FdFate {
    if (e.type !== 'file') return 'done';
    if (parentFd === null) {
      this.#restatRoot = true;
      return 'done';
    }
    closeQuietly(fd);
    e.after = this.#lookup(parentFd, e.name, false, e);
    return 'closed';
  }

  /**
   * Visits the tree, parents before children, names in byte order, and
   * returns every entry (skipped and failed ones too). With `recursive`
   * false, only the root.
   */
  walk(recursive: boolean, visit: Visit): TreeEntry[] {
    // Read now: once the walk has used up the fds, /proc/self/limits cannot be opened.
    if (recursive) fileLimit();
    const out: TreeEntry[] = [this.root];
    if (this.root.skip !== null) return out;
    const first = this.#open(this.root, this.#rootFd, visit, recursive);
    if (first.failed !== null) this.#failed(this.root, first.failed, recursive);
    if (first.restat) this.#restat(this.root, this.#rootFd, null);
    // Directories being listed, with their O_PATH fds: one open fd per level.
    const stack: Array<{ e: TreeEntry; fd: number; names: Buffer[]; i: number }> = [];
    if (first.names !== null) stack.push({ e: this.root, fd: this.#rootFd, names: first.names, i: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.i >= top.names.length) {
        stack.pop();
        if (top.fd !== this.#rootFd) closeQuietly(top.fd);
        continue;
      }
      const e = TreeEntry.child(top.e, top.names[top.i++]);
      out.push(e);
      if (e.byteLength >= PATH_MAX) {
        // What it is, for the report (a look by name in the directory's fd), but nothing more.
        try {
          e.st = binding.statx(top.fd, e.name, false, e.text);
          e.type = entryType(e.st.mode);
        } catch {
          // gone meanwhile: its type stays unknown
        }
        e.error = nameTooLong(e);
        continue;
      }
      let fd: number;
      try {
        fd = binding.openPath(top.fd, e.name, false, e.text);
      } catch (err) {
        e.error = walkFailure(err);
        continue;
      }
      let fate: FdFate = 'done';
      try {
        e.st = binding.statx(fd, undefined, e.text);
        this.#classify(e, fd);
        if (e.skip !== null) continue;
        const r = this.#open(e, fd, visit, true);
        if (r.failed !== null) this.#failed(e, r.failed, true);
        if (r.names !== null) {
          stack.push({ e, fd, names: r.names, i: 0 });
          fate = 'kept';
        } else if (r.restat) {
          fate = this.#restat(e, fd, top.fd);
        }
      } catch (err) {
        e.error = walkFailure(err);
      } finally {
        if (fate === 'done') closeQuietly(fd);
      }
    }
    return out;
  }

  /**
   * Visits `targets` (entries of an earlier walk) again, walking down from
   * the root's fd and checking at every step that each name still holds the
   * inode (and mount) it held then. A target that cannot be reached so goes
   * to `unreachable` with the reason, untouched. With `write`, files are
   * opened read-write for the visit.
   */
  revisit(targets: readonly TreeEntry[], visit: Visit, unreachable: (e: TreeEntry, err: Error) => void, write = false): void {
    const wanted = new Set(targets);
    const onPath = new Set<TreeEntry>();
    for (const t of targets) for (let e: TreeEntry | null = t; e !== null && !onPath.has(e); e = e.parent) onPath.add(e);
    if (!onPath.has(this.root)) return;
    const lost = (from: TreeEntry, err: Error): void => {
      const todo = [from];
      while (todo.length > 0) {
        const x = todo.pop() as TreeEntry;
        if (wanted.has(x)) unreachable(x, err);
        for (const c of x.children) if (onPath.has(c)) todo.push(c);
      }
    };
    const stack: Array<{ e: TreeEntry; fd: number; next: TreeEntry[] }> = [];
    const enter = (e: TreeEntry, fd: number, parentFd: number | null): FdFate => {
      if (wanted.has(e)) {
        const { restat, failed } = this.#open(e, fd, visit, false, write);
        if (failed !== null) unreachable(e, failed);
        else if (restat) {
          const fate = this.#restat(e, fd, parentFd);
          if (fate === 'closed') return fate;
        }
      }
      const next = e.children.filter((c) => onPath.has(c));
      if (next.length === 0) return 'done';
      stack.push({ e, fd, next: next.reverse() });
      return 'kept';
    };
    enter(this.root, this.#rootFd, null);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const next = top.next.pop();
      if (next === undefined) {
        stack.pop();
        if (top.fd !== this.#rootFd) closeQuietly(top.fd);
        continue;
      }
      let fd: number;
      try {
        fd = binding.openPath(top.fd, next.name, false, next.text);
      } catch (err) {
        lost(next, walkFailure(err));
        continue;
      }
      let fate: FdFate = 'done';
      try {
        const st = binding.statx(fd, undefined, next.text);
        if (next.st === null || !sameObject(st, next.st) || (this.mountId !== null && mountId(fd, st) !== this.mountId)) {
          lost(next, replaced(next));
          continue;
        }
        fate = enter(next, fd, top.fd);
      } catch (err) {
        lost(next, err as Error);
      } finally {
        if (fate === 'done') closeQuietly(fd);
      }
    }
  }
}
