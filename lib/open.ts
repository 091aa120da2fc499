// open(): from a path or a descriptor to a DaxMapping, with one rule above
// the others: a call that throws leaves the filesystem as it found it. A new
// file is made unnamed (O_TMPFILE) and named only once it is mapped; a file
// is grown only after MAP_SYNC is settled, and shrunk back if growing fails;
// and nothing is opened for real before it is known to be a regular file or
// a devdax device (opening a FIFO blocks, opening some devices has effects).
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { binding, MapMode, PersistMode, type NativeHandle } from './binding';
import { fdPath, notDaxReason, openFileFacts } from './dax-reason';
import { DaxError, DaxSystemError, invalidArgType, invalidArgValue, outOfRange } from './errors';
import { cpu, DaxMapping, kCreate, type FlushMechanism, type SyncMode } from './mapping';
import { fstatx } from './statx';
import { charSubsystem, devdaxInfo, devNumbers, hasAutoFlush } from './sysfs';
import { rejectUnknownOptions, validateBoolean, validateInteger, validateObject, validateOneOf, validatePath } from './validate';

export interface OpenOptions {
  /** Bytes to map. Default: the rest of the file after `offset`, or the rest of the device. */
  size?: number;
  /** Where the mapping starts: page-aligned for files, a multiple of the device `align` for devdax. Default 0. */
  offset?: number;
  /** Create the file, or extend it, to `offset + size`: allocated and zeroed with fallocate(2). Default false. */
  create?: boolean;
  /** Mode bits of a created file (before the umask). Default 0o666. */
  mode?: number;
  /** Map read-only. Stores through `bytes` then kill the process (SIGSEGV); `write()` throws. Default false. */
  readonly?: boolean;
  /** MAP_SYNC policy for files. Default `'auto'`. devdax needs no MAP_SYNC and ignores it. */
  sync?: SyncMode;
}

const MiB = 1024 * 1024;
const HUGE_ALIGN = 2 * MiB;
const PAGE_SIZE = cpu.pageSize;
// An open(2) flag that fs.constants does not carry.
const O_TMPFILE = 0o20200000;
const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOCTTY, O_NONBLOCK } = fs.constants;

interface ParsedOptions {
  size: number | undefined;
  offset: number;
  create: boolean;
  mode: number;
  readonly: boolean;
  sync: SyncMode;
}

const OPTION_NAMES = ['size', 'offset', 'create', 'mode', 'readonly', 'sync'] as const;

function parseOptions(options: unknown): ParsedOptions {
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, OPTION_NAMES);
  // Each option is read exactly once: a getter runs once, and what it
  // returned is what is validated and used.
  const size = o.size;
  const offset = o.offset;
  const create = o.create;
  const mode = o.mode;
  const readonly = o.readonly;
  const sync = o.sync;
  const p: ParsedOptions = {
    size: size === undefined ? undefined : validateInteger('options.size', size, 1),
    offset: offset === undefined ? 0 : validateInteger('options.offset', offset, 0),
    create: create === undefined ? false : validateBoolean('options.create', create),
    mode: mode === undefined ? 0o666 : validateInteger('options.mode', mode, 0, 0o7777),
    readonly: readonly === undefined ? false : validateBoolean('options.readonly', readonly),
    sync: sync === undefined ? 'auto' : validateOneOf('options.sync', sync, ['auto', 'required', 'off'] as const),
  };
  if (p.create && p.readonly) throw invalidArgValue('options.create', true, 'cannot be combined with readonly: true');
  if (p.create && p.size === undefined) throw invalidArgValue('options.size', undefined, 'is required with create: true');
  return p;
}

function fmtSize(n: number): string {
  if (n >= 1024 * MiB && n % (1024 * MiB) === 0) return `${n / (1024 * MiB)} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function persistMechanism(mode: PersistMode): FlushMechanism {
  switch (mode) {
    case PersistMode.Flush:
      return cpu.flush;
    case PersistMode.Msync:
      return 'msync';
    default:
      return 'none';
  }
}

function errnoOf(e: unknown): number | undefined {
  const n = (e as NodeJS.ErrnoException | undefined)?.errno;
  return typeof n === 'number' ? n : undefined;
}

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

// An fs error about `/proc/self/fd/N` or a directory, told about the path
// the caller gave.
function openError(e: unknown, path: string): unknown {
  const errno = errnoOf(e);
  return errno === undefined ? e : new DaxSystemError(errno, 'open', path);
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

const AT_FDCWD = -100;

// Opens for real what an O_PATH descriptor names: the very inode that was
// classified, through its /proc/self/fd link (binding.reopen, shared with the
// tree walk). Without /proc, the path is opened again, non-blocking and never
// as a controlling terminal, and must still be the same inode.
function reopen(pathFd: number, path: string, st: fs.BigIntStats, write: boolean): number {
  try {
    return binding.reopen(pathFd, false, write, path);
  } catch (e) {
    if (codeOf(e) !== 'ENOENT' || fs.existsSync('/proc/self/fd')) throw e;
  }
  let fd: number;
  try {
    fd = fs.openSync(path, (write ? O_RDWR : O_RDONLY) | O_NOCTTY | O_NONBLOCK);
  } catch (e) {
    throw openError(e, path);
  }
  const again = fs.fstatSync(fd, { bigint: true });
  if (again.dev !== st.dev || again.ino !== st.ino) {
    fs.closeSync(fd);
    throw new DaxSystemError(-116, 'open', path); // ESTALE: it was replaced while being opened
  }
  return fd;
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
      const errno = errnoOf(e);
      throw errno === undefined ? e : new DaxSystemError(errno, 'fstat', path);
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
    let fd: number;
    let kind: Target;
    try {
      const st = fs.fstatSync(pathFd, { bigint: true });
      kind = classify(path, st);
      fd = reopen(pathFd, path, st, !o.readonly);
    } finally {
      fs.closeSync(pathFd);
    }
    try {
      return mapTarget(fd, path, o, kind, false);
    } finally {
      fs.closeSync(fd);
    }
  }
}

// A new file: made unnamed in its directory, mapped and sized, and only then
// given its name, so that a failure leaves no file behind. null when the
// name appeared meanwhile.
function createAndMap(path: string, o: ParsedOptions): DaxMapping | null {
  let fd: number;
  try {
    fd = fs.openSync(nodePath.dirname(path), O_TMPFILE | O_RDWR, o.mode);
  } catch (e) {
    const code = codeOf(e);
    // Filesystems (and kernels before 3.11) without O_TMPFILE.
    if (code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'EISDIR' || code === 'EINVAL') return createExclusive(path, o);
    throw openError(e, path);
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

// Without O_TMPFILE: O_EXCL, and on failure the name is removed again if it
// still is the file made here (a rename in between is the one race left).
function createExclusive(path: string, o: ParsedOptions): DaxMapping | null {
  let fd: number;
  try {
    fd = fs.openSync(path, O_CREAT | O_EXCL | O_RDWR, o.mode);
  } catch (e) {
    if (codeOf(e) === 'EEXIST') return null;
    throw openError(e, path);
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

function releaseHandle(h: NativeHandle): void {
  binding.close(binding.id(h));
}

// binding.map(), with the one failure a program can cause by itself, running
// out of memory mappings, explained with the numbers.
function nativeMap(fd: number, offset: number, length: number, readonly: boolean, mode: MapMode, align: number, persist: PersistMode, path: string, isFile: boolean): NativeHandle {
  try {
    return binding.map(fd, offset, length, readonly, mode, align, persist, path, isFile);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_DAX_TOO_MANY_MAPPINGS' || code === 'ENOMEM') throw mapLimitError(e, path);
    throw e;
  }
}

function mapLimitError(e: unknown, path: string): unknown {
  const c = binding.regionCounts();
  const held = c.open + c.held + c.leaked;
  // An ENOMEM with room left in the budget is the address space, not the count.
  if ((e as NodeJS.ErrnoException).code === 'ENOMEM' && held < c.budget / 2) return e;
  return new DaxError(
    'ERR_DAX_TOO_MANY_MAPPINGS',
    `Cannot map '${path}': daxkit holds ${held} mappings in this process (${c.open} open, ${c.held} closed ` +
      `but still reachable through a buffer${c.leaked > 0 ? `, ${c.leaked} kept since a worker exited` : ''}), ` +
      `and keeps at most ${c.budget}: the kernel allows ${c.maxMapCount} memory mappings per process ` +
      '(vm.max_map_count), and the rest of the process needs some too. close() mappings you no longer need, and ' +
      'let go of their buffers; one that is never closed goes back only after the garbage collector has found it ' +
      'and every buffer over it unreachable, and the event loop has run.',
    { path, cause: e },
  );
}

function mapFile(fd: number, path: string, o: ParsedOptions, created: boolean): DaxMapping {
  if (o.offset % PAGE_SIZE !== 0) throw outOfRange('options.offset', `a multiple of the page size (${PAGE_SIZE})`, o.offset);
  const fileSize = fs.fstatSync(fd).size;
  let size: number;
  if (o.size !== undefined) {
    size = o.size;
  } else {
    if (o.offset >= fileSize) {
      throw outOfRange('options.offset', fileSize === 0 ? '< the file size, and the file is empty (pass size with create: true)' : `< the file size (${fileSize})`, o.offset);
    }
    size = fileSize - o.offset;
  }
  const end = o.offset + size;
  if (!Number.isSafeInteger(end)) throw outOfRange('options.size', `<= ${Number.MAX_SAFE_INTEGER - o.offset} (offset + size beyond 2^53)`, size);
  if (end > fileSize && !o.create) {
    throw outOfRange('options.size', `<= ${fileSize - o.offset} (the file is ${fileSize} bytes; pass create: true to extend it)`, size);
  }

  // The mapping is made before the file grows (mmap may reach past the end
  // of a file), so that a refused MAP_SYNC, or any mmap failure, is known
  // while nothing has been changed.
  const align = size >= HUGE_ALIGN ? HUGE_ALIGN : PAGE_SIZE;
  const syncPersist = hasAutoFlush() ? PersistMode.Fence : PersistMode.Flush;
  let handle: NativeHandle | undefined;
  let mapSync = false;
  if (o.sync !== 'off') {
    try {
      handle = nativeMap(fd, o.offset, size, o.readonly, MapMode.Sync, align, syncPersist, path, true);
      mapSync = true;
    } catch (e) {
      // EOPNOTSUPP: not DAX (or no synchronous faults); EINVAL: a kernel
      // older than 4.15 that does not know MAP_SHARED_VALIDATE.
      const code = (e as DaxSystemError).code;
      if (!(e instanceof DaxSystemError) || (code !== 'EOPNOTSUPP' && code !== 'EINVAL')) throw e;
      if (o.sync === 'required') {
        let reason = 'the kernel does not support MAP_SYNC (Linux 4.15 or later is needed)';
        if (code === 'EOPNOTSUPP') {
          const facts = openFileFacts(fd, created ? nodePath.join(nodePath.dirname(path), '.') : (fdPath(fd) ?? path));
          reason = notDaxReason(path, facts.fs, facts.inode, PAGE_SIZE);
        }
        throw new DaxError('ERR_DAX_NOT_SUPPORTED', `MAP_SYNC is not available for '${path}': ${reason}`, { reason, path });
      }
    }
  }
  const persistMode = mapSync ? syncPersist : PersistMode.Msync;
  handle ??= nativeMap(fd, o.offset, size, o.readonly, MapMode.Shared, align, persistMode, path, true);

  try {
    if (end > fileSize) grow(fd, path, fileSize, end, created);
    const dax = mapSync || fstatx(fd).dax === true;
    return new DaxMapping(kCreate, {
      handle,
      path,
      offset: o.offset,
      length: size,
      kind: dax ? 'fsdax' : 'pagecache',
      mapSync,
      granularity: persistMode === PersistMode.Fence ? 'byte' : persistMode === PersistMode.Flush ? 'cacheline' : 'page',
      flushMechanism: persistMechanism(o.readonly ? PersistMode.None : persistMode),
      readonly: o.readonly,
      alignment: align,
    });
  } catch (e) {
    releaseHandle(handle);
    throw e;
  }
}

// Extends the file to `end`, allocated and zeroed; on failure puts its size
// back (fallocate can fail half way, with the size already moved).
function grow(fd: number, path: string, from: number, end: number, created: boolean): void {
  try {
    try {
      // Mode 0: allocate and extend; the new blocks read as zeros.
      binding.fallocate(fd, 0, 0, end, path);
    } catch (e) {
      // Filesystems without fallocate (9p, some FUSE) get a sparse extension.
      if (!(e instanceof DaxSystemError && e.code === 'EOPNOTSUPP')) throw e;
      fs.ftruncateSync(fd, end);
    }
  } catch (e) {
    // A new, unnamed file simply goes away with its descriptor.
    if (!created && fs.fstatSync(fd).size !== from) fs.ftruncateSync(fd, from);
    throw e;
  }
}

function mapDevdax(fd: number, path: string, o: ParsedOptions): DaxMapping {
  const st = fs.fstatSync(fd, { bigint: true });
  const { major, minor } = devNumbers(st.rdev);
  if (o.create) throw invalidArgValue('options.create', true, 'cannot be used with a devdax device');
  const dev = devdaxInfo(major, minor);
  const a = dev.align;
  const alignMsg = `a multiple of the device alignment ${a} (${fmtSize(a)}) of ${dev.name}: device-dax refuses misaligned mappings`;
  if (o.offset % a !== 0) throw outOfRange('options.offset', alignMsg, o.offset);
  if (o.offset >= dev.size) throw outOfRange('options.offset', `< the device size (${dev.size})`, o.offset);
  const size = o.size ?? dev.size - o.offset;
  if (size % a !== 0) throw outOfRange('options.size', alignMsg, size);
  if (o.offset + size > dev.size) throw outOfRange('options.size', `<= ${dev.size - o.offset} (the rest of the ${dev.size}-byte device ${dev.name})`, size);
  const persistMode = hasAutoFlush() ? PersistMode.Fence : PersistMode.Flush;
  // Device DAX has no filesystem metadata to keep in sync, hence plain
  // MAP_SHARED (it refuses MAP_PRIVATE).
  const handle = nativeMap(fd, o.offset, size, o.readonly, MapMode.Shared, Math.max(a, PAGE_SIZE), persistMode, path, false);
  try {
    return new DaxMapping(kCreate, {
      handle,
      path,
      offset: o.offset,
      length: size,
      kind: 'devdax',
      mapSync: false,
      granularity: persistMode === PersistMode.Fence ? 'byte' : 'cacheline',
      flushMechanism: persistMechanism(o.readonly ? PersistMode.None : persistMode),
      readonly: o.readonly,
      alignment: Math.max(a, PAGE_SIZE),
    });
  } catch (e) {
    releaseHandle(handle);
    throw e;
  }
}
