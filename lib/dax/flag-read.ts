// FS_XFLAG_DAX read through the fd walk, and what a failure was missing (a
// privilege, a permission, a writable mount), said on the error itself.
import * as fs from 'node:fs';
import { binding, type NativeStatx } from '../binding';
import { FS_XFLAG_DAX, S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFSOCK } from '../constants';
import { Tree, type SkipKind, type TreeEntry } from '../fs/tree-walk';
import { fdPath, flagNotSupported, flagSupported, fsFacts, isUnsupportedIoctl, type FsFacts } from './reason';

/** What was being done when an error happened, for the hint that says what is missing. */
export type Stage = 'lookup' | 'open' | 'ioctl' | 'scandir';

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
    case 'EAGAIN':
      // Opens are non-blocking (no FIFO or device may hang a walk): a lease makes them fail instead of wait.
      return stage === 'open'
        ? 'another process holds a lease on the file (fcntl F_SETLEASE, as Samba or an NFS server take): an open waits until it gives the lease up, and daxkit does not wait; try again later'
        : null;
    default:
      return null;
  }
}

/** Adds what is missing (privilege, permission, a writable mount) to an error, keeping the node:fs shape. */
export function explain<T extends Error>(e: T, stage: Stage): T {
  const hint = hintFor(e as NodeJS.ErrnoException, stage);
  if (hint !== null && !e.message.includes(hint)) {
    e.message = `${e.message}; ${hint}`;
    (e as T & { hint?: string }).hint = hint;
  }
  return e;
}

/** The stage of an error of the walk: the lookup failed when nothing could be looked at. */
export function walkError(e: TreeEntry): Error | null {
  if (e.error !== null) return explain(e.error, e.st === null ? 'lookup' : 'open');
  if (e.listError !== null) return explain(e.listError, 'scandir');
  return null;
}

export function specialKind(mode: number): string {
  switch (mode & S_IFMT) {
    case S_IFCHR:
      return 'a character device';
    case S_IFBLK:
      return 'a block device';
    case S_IFIFO:
      return 'a FIFO';
    case S_IFSOCK:
      return 'a socket';
    default:
      return 'not a regular file or directory';
  }
}

/** The flag of an open file or directory: FS_XFLAG_DAX or ERR_DAX_NOT_SUPPORTED. */
export function readFlagFd(fd: number, text: string, facts: FsFacts): number {
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
export function openRoot(bytes: Buffer, text: string, follow: boolean): { tree: Tree; facts: FsFacts } {
  const tree = Tree.open(bytes, text, follow);
  try {
    return { tree, facts: fsFacts(tree.root.st as NativeStatx, fdPath(tree.fd) ?? null) };
  } catch (e) {
    tree.close();
    throw e;
  }
}

/** Why an entry was skipped; `mode` says what a special file is. */
export function skipReason(kind: SkipKind, isRoot: boolean, mode = 0): string {
  switch (kind) {
    case 'symlink':
      return isRoot ? 'a symbolic link, not followed (followSymlinks: true acts on its target)' : 'a symbolic link: recursion never follows them';
    case 'special':
      return `${specialKind(mode)}: only regular files and directories have FS_XFLAG_DAX`;
    case 'filesystem':
      return 'another filesystem is mounted here: recursion does not cross into it';
    case 'mount':
      return 'a mount point (this filesystem mounted here again, e.g. a bind mount): recursion does not enter it';
  }
}
