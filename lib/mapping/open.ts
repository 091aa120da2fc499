// open(): from a path or a descriptor to a DaxMapping, with one rule above
// the others: a call that throws leaves the filesystem as it found it. A new
// file is made unnamed (O_TMPFILE) and named only once it is mapped; a file
// is grown only after MAP_SYNC is settled, and shrunk back if growing fails;
// and nothing is opened for real before it is known to be a regular file or
// a devdax device (opening a FIFO blocks, opening some devices has effects).
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { binding } from '../binding';
import { fdPath } from '../dax/reason';
import { asSystemError, DaxSystemError, invalidArgType, invalidArgValue } from '../errors';
import { charSubsystem, devNumbers } from '../pmem/device-nodes';
import { validateInteger, validatePath } from '../validate';
import type { DaxMapping } from './dax-mapping';
import { fdPersistence, mapDevdax, mapFile, requireDurable } from './map';
import { parseOptions, type OpenOptions, type ParsedOptions } from './options';
import { AT_FDCWD, O_TMPFILE } from '../constants';

export type { OpenOptions } from './options';
const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOCTTY, O_NONBLOCK } = fs.constants;

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

type Target = 'file' | 'devdax';

function notADirectory(path: string): TypeError {
  return invalidArgValue('target', path, 'must be a regular file or a devdax character device, not a directory');
}

// What an fstat says the target is, refusing everything daxkit cannot map.
function classify(path: string, st: fs.BigIntStats): Target {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) throw notADirectory(path);
  if (st.isCharacterDevice()) {
    const { major, minor } = devNumbers(st.rdev);
    const subsystem = charSubsystem(major, minor);
    if (subsystem !== 'dax') {
      throw invalidArgValue('target', path, `must be a regular file or a devdax character device; ${major}:${minor} is a character device of the '${subsystem ?? 'unknown'}' subsystem`);
    }
    return 'devdax';
  }
  const what = st.isBlockDevice()
    ? 'a block device (mount a DAX filesystem on it, or configure the namespace as devdax)'
    : st.isFIFO()
      ? 'a FIFO'
      : st.isSocket()
        ? 'a socket'
        : 'not a regular file';
  throw invalidArgValue('target', path, `must be a regular file or a devdax character device; it is ${what}`);
}

// Opens for real what an O_PATH descriptor names: the very inode that was
// classified, through its /proc/self/fd link (binding.reopen, shared with the
// tree walk). Without /proc, the path is opened again, non-blocking and never
// as a controlling terminal, and must still be the same inode. Returns the fd
// and how to close it: Node does not know the fds of binding.reopen (see
// binding.closeFd), and knows those of fs.openSync.
function reopen(pathFd: number, path: string, st: fs.BigIntStats, write: boolean): { fd: number; close: (fd: number) => void } {
  try {
    return { fd: binding.reopen(pathFd, false, write, path), close: binding.closeFd };
  } catch (e) {
    if (codeOf(e) !== 'ENOENT' || fs.existsSync('/proc/self/fd')) throw e;
  }
  let fd: number;
  try {
    fd = fs.openSync(path, (write ? O_RDWR : O_RDONLY) | O_NOCTTY | O_NONBLOCK);
  } catch (e) {
    throw asSystemError(e, 'open', path);
  }
  const again = fs.fstatSync(fd, { bigint: true });
  if (again.dev !== st.dev || again.ino !== st.ino) {
    fs.closeSync(fd);
    throw new DaxSystemError(-116, 'open', path); // ESTALE: it was replaced while being opened
  }
  return { fd, close: fs.closeSync };
}

/**
 * Maps a DAX file, a devdax device (`/dev/daxX.Y`) or any regular file.
 *
 * @param target A path, or an open file descriptor (not closed, not kept).
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`, RangeError `ERR_OUT_OF_RANGE`
 *   for bad arguments (a misaligned offset or size, a range beyond the end, a directory, a FIFO);
 *   DaxError `ERR_DAX_NOT_SUPPORTED` when `sync: 'required'` cannot be met, with the reason;
 *   DaxError `ERR_DAX_TOO_MANY_MAPPINGS` when the process has run out of memory mappings;
 *   DaxSystemError from open, fallocate and mmap. A call that throws has changed nothing on disk.
 */
export function open(target: string | number, options?: OpenOptions): DaxMapping {
  const o = parseOptions(options);
  if (typeof target === 'number') {
    validateInteger('target', target, 0, 2 ** 31 - 1);
    const path = fdPath(target) ?? `fd ${target}`;
    let st: fs.BigIntStats;
    try {
      st = fs.fstatSync(target, { bigint: true });
    } catch (e) {
      throw asSystemError(e, 'fstat', path);
    }
    return mapTarget(target, path, o, classify(path, st), false);
  }
  if (typeof target !== 'string') throw invalidArgType('target', 'of type string or number (a file descriptor)', target);
  const path = validatePath('target', target);
  // A name created by someone else between our lookup and our link is
  // opened as the existing file on the next round.
  for (let round = 0; ; round++) {
    let pathFd: number;
    try {
      pathFd = binding.openPath(AT_FDCWD, path, true, path);
    } catch (e) {
      if (codeOf(e) === 'ENOENT' && o.create && round < 3) {
        const m = createAndMap(path, o);
        if (m !== null) return m;
        continue;
      }
      throw e;
    }
    let opened: { fd: number; close: (fd: number) => void };
    let kind: Target;
    try {
      const st = fs.fstatSync(pathFd, { bigint: true });
      kind = classify(path, st);
      opened = reopen(pathFd, path, st, !o.readonly);
    } finally {
      binding.closeFd(pathFd);
    }
    try {
      return mapTarget(opened.fd, path, o, kind, false);
    } finally {
      opened.close(opened.fd);
    }
  }
}

// A new file: made unnamed in its directory, mapped and sized, and only then
// given its name, so that a failure leaves no file behind. null when the
// name appeared meanwhile.
function createAndMap(path: string, o: ParsedOptions): DaxMapping | null {
  if (o.durability === 'required') durableDirectory(path);
  let fd: number;
  try {
    fd = fs.openSync(nodePath.dirname(path), O_TMPFILE | O_RDWR, o.mode);
  } catch (e) {
    const code = codeOf(e);
    // Filesystems (and kernels before 3.11) without O_TMPFILE.
    if (code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'EISDIR' || code === 'EINVAL') return createExclusive(path, o);
    throw asSystemError(e, 'open', path);
  }
  try {
    const m = mapTarget(fd, path, o, 'file', true);
    try {
      binding.linkFd(fd, path);
    } catch (e) {
      m.close();
      if (codeOf(e) === 'EEXIST') return null;
      throw e;
    }
    return m;
  } finally {
    fs.closeSync(fd);
  }
}

// durability: 'required' is settled on the directory before a file is made in it.
function durableDirectory(path: string): void {
  let dirFd: number;
  try {
    dirFd = fs.openSync(nodePath.dirname(path), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (e) {
    throw asSystemError(e, 'open', path);
  }
  try {
    requireDurable(path, fdPersistence(dirFd));
  } finally {
    fs.closeSync(dirFd);
  }
}

// Without O_TMPFILE: O_EXCL, and on failure the name is removed again if it
// still is the file made here (a rename in between is the one race left).
function createExclusive(path: string, o: ParsedOptions): DaxMapping | null {
  let fd: number;
  try {
    fd = fs.openSync(path, O_CREAT | O_EXCL | O_RDWR, o.mode);
  } catch (e) {
    if (codeOf(e) === 'EEXIST') return null;
    throw asSystemError(e, 'open', path);
  }
  try {
    return mapTarget(fd, path, o, 'file', true);
  } catch (e) {
    try {
      const mine = fs.fstatSync(fd, { bigint: true });
      const named = fs.lstatSync(path, { bigint: true });
      if (mine.dev === named.dev && mine.ino === named.ino) fs.unlinkSync(path);
    } catch {
      // Already gone, or not ours: leave it.
    }
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

function mapTarget(fd: number, path: string, o: ParsedOptions, kind: Target, created: boolean): DaxMapping {
  return kind === 'devdax' ? mapDevdax(fd, path, o) : mapFile(fd, path, o, created);
}
