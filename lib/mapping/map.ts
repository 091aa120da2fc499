// A regular file or a devdax device, open, made into a DaxMapping: the
// mapping is made before anything on disk changes (a refused MAP_SYNC is
// known while nothing has), the persistence mode chosen from what the kernel
// granted and the platform's persistence domain, and the file grown last.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { binding, MapMode, PersistMode, type NativeHandle } from '../binding';
import { fdPath, notDaxReason, openFileFacts } from '../dax/reason';
import { fstatx } from '../dax/statx';
import { DaxError, DaxSystemError, invalidArgValue, outOfRange } from '../errors';
import { devdaxInfo, devNumbers } from '../pmem/device-nodes';
import { readMounts } from '../fs/mounts';
import { devdaxPersistence, statPersistence, type Persistence } from '../pmem/persistence';
import { mountId } from '../fs/tree-walk';
import { cpu, DaxMapping, kCreate, type FlushMechanism, type Granularity } from './dax-mapping';
import type { ParsedOptions } from './options';
import { PAGE_SIZE } from '../constants';

const MiB = 1024 * 1024;
const HUGE_ALIGN = 2 * MiB;

function fmtSize(n: number): string {
  if (n >= 1024 * MiB && n % (1024 * MiB) === 0) return `${n / (1024 * MiB)} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** The persistence of an open regular file (its filesystem's device and type) or of a directory to make one in. */
export function fdPersistence(fd: number): Persistence {
  const st = binding.statx(fd);
  return statPersistence({ ...st, mntId: mountId(fd, st) }, readMounts());
}

/** `durability: 'required'` refuses memory that keeps nothing across a power loss, saying why. */
export function requireDurable(path: string, p: Persistence): void {
  if (p.domain !== 'none') return;
  throw new DaxError('ERR_DAX_NOT_DURABLE', `'${path}' is not durable memory: ${p.reason}`, { reason: p.reason, path });
}

// What persist() does for stores that reach the media directly (MAP_SYNC,
// devdax), by where the persistence domain ends: only fence where the caches
// are in the domain, or where nothing would survive anyway (volatile memory:
// a write-back buys nothing); everywhere else write the lines back and fence.
// A MAP_SYNC mapping whose device daxkit cannot place (a DAX filesystem on a
// device it does not know) is memory too: its lines are written back.
function directMode(p: Persistence): PersistMode {
  return p.domain === 'cpu-cache' || p.domain === 'none' ? PersistMode.Fence : PersistMode.Flush;
}

/** What persist() runs on a writable mapping: `direct` (MAP_SYNC, devdax) as the domain needs, else msync. doctor says the same. */
export function persistModeFor(p: Persistence, direct: boolean): PersistMode {
  return direct ? directMode(p) : PersistMode.Msync;
}

export function granularityOf(mode: PersistMode, p: Persistence): Granularity {
  if (p.domain === 'none') return 'none';
  return mode === PersistMode.Fence ? 'byte' : mode === PersistMode.Flush ? 'cacheline' : 'page';
}

export function persistMechanism(mode: PersistMode): FlushMechanism {
  switch (mode) {
    case PersistMode.Flush:
      return cpu.flush;
    case PersistMode.Msync:
      return 'msync';
    default:
      return 'none';
  }
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

export function mapFile(fd: number, path: string, o: ParsedOptions, created: boolean): DaxMapping {
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
  const persistence = fdPersistence(fd);
  if (o.durability === 'required') requireDurable(path, persistence);
  const align = size >= HUGE_ALIGN ? HUGE_ALIGN : PAGE_SIZE;
  const syncPersist = directMode(persistence);
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
        if (code === 'EOPNOTSUPP' && persistence.provider === 'virtio-pmem') {
          reason =
            `the file is on virtio-pmem (${persistence.device}), where the kernel refuses MAP_SYNC: stores reach ` +
            "the host's file only when the guest asks the host to flush, which msync or fsync does. Open it with " +
            "sync: 'auto' (or 'off'): persist() is then msync";
        } else if (code === 'EOPNOTSUPP') {
          const facts = openFileFacts(fd, created ? nodePath.join(nodePath.dirname(path), '.') : (fdPath(fd) ?? path));
          reason = notDaxReason(path, facts.fs, facts.inode, PAGE_SIZE);
        }
        throw new DaxError('ERR_DAX_NOT_SUPPORTED', `MAP_SYNC is not available for '${path}': ${reason}`, { reason, path });
      }
    }
  }
  const persistMode = persistModeFor(persistence, mapSync);
  handle ??= nativeMap(fd, o.offset, size, o.readonly, MapMode.Shared, align, persistMode, path, true);

  let grown = false;
  try {
    const dax = mapSync || fstatx(fd).dax === true;
    if (end > fileSize) {
      grown = true;
      grow(fd, path, end);
    }
    return new DaxMapping(kCreate, {
      handle,
      path,
      offset: o.offset,
      length: size,
      kind: dax ? 'fsdax' : 'pagecache',
      mapSync,
      granularity: granularityOf(persistMode, persistence),
      flushMechanism: persistMechanism(o.readonly ? PersistMode.None : persistMode),
      readonly: o.readonly,
      alignment: align,
      persistence,
    });
  } catch (e) {
    releaseHandle(handle);
    // Whatever failed once the file was grown (fallocate itself can fail half
    // way, with the size already moved) puts its size back; a new, unnamed
    // file simply goes away with its descriptor.
    if (grown && !created) shrinkBack(fd, fileSize);
    throw e;
  }
}

// Extends the file to `end`, allocated and zeroed.
function grow(fd: number, path: string, end: number): void {
  try {
    // Mode 0: allocate and extend; the new blocks read as zeros.
    binding.fallocate(fd, 0, 0, end, path);
  } catch (e) {
    // Filesystems without fallocate (9p, some FUSE) get a sparse extension.
    if (!(e instanceof DaxSystemError && e.code === 'EOPNOTSUPP')) throw e;
    fs.ftruncateSync(fd, end);
  }
}

function shrinkBack(fd: number, size: number): void {
  try {
    if (fs.fstatSync(fd).size !== size) fs.ftruncateSync(fd, size);
  } catch {
    // The error being thrown already says what went wrong first.
  }
}

export function mapDevdax(fd: number, path: string, o: ParsedOptions): DaxMapping {
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
  const persistence = devdaxPersistence(major, minor);
  if (o.durability === 'required') requireDurable(path, persistence);
  const persistMode = directMode(persistence);
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
      granularity: granularityOf(persistMode, persistence),
      flushMechanism: persistMechanism(o.readonly ? PersistMode.None : persistMode),
      readonly: o.readonly,
      alignment: Math.max(a, PAGE_SIZE),
      persistence,
    });
  } catch (e) {
    releaseHandle(handle);
    throw e;
  }
}
