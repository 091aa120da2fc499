// doctor(): one verdict per path, "do stores made durable with persist()
// here survive power loss?", from the facts that decide it: the memory behind
// the path and its persistence domain, what persist() would do there (which
// a real MAP_SYNC mapping settles), and what an operator also wants to know
// (unsafe shutdowns, bad blocks, huge-page alignment, the CPU's flush).
//
// It changes nothing: a file is probed read-only, a directory through an
// unnamed O_TMPFILE file (never a named one), so that neither a failure nor a kill leaves a file behind.
import * as fs from 'node:fs';
import { binding, MapMode, PersistMode } from '../binding';
import { statusOf, type DaxMount, type DaxStatus } from '../dax/status';
import { DaxSystemError, errorRecord, errorReason, invalidArgValue } from '../errors';
import { Tree } from '../fs/tree-walk';
import { cpu, type FlushMechanism, type Granularity } from '../mapping/dax-mapping';
import { listDevices, type PmemDevice } from '../pmem/devices';
import { devdaxPersistence, type Persistence } from '../pmem/persistence';
import { fdPersistence, granularityOf, persistMechanism, persistModeFor } from '../mapping/map';
import { shutdownState } from '../pmem/shutdown-state';
import { validatePathArg, type PathArg } from '../validate';
import { O_TMPFILE, PAGE_SIZE } from '../constants';

const HUGE = 2 * 1024 * 1024;
const { O_RDWR } = fs.constants;

/** The MAP_SYNC probe: a real mmap(MAP_SHARED_VALIDATE | MAP_SYNC) of the file, or of a temporary file in the directory. */
export interface MapSyncProbe {
  /** What was mapped: `'file'` (the file itself, read-only), `'temporary-file'` (an unnamed file in the directory), or null (nothing: `reason`). */
  probed: 'file' | 'temporary-file' | null;
  /** Whether the kernel granted MAP_SYNC; null when nothing was mapped. */
  granted: boolean | null;
  /** The error of the refused mapping, or of what kept the probe from running; null when granted. */
  error: { code: string; message: string } | null;
  reason: string;
}

/** What persist() does on a mapping of this path (a new file, for a directory), as open() would choose it. */
export interface PersistAction {
  /** `DaxMapping.flushMechanism`: a cache-line write-back instruction, `'msync'`, or `'none'` (a fence alone). */
  flushMechanism: FlushMechanism;
  /** `DaxMapping.granularity`. */
  granularity: Granularity;
  /** Whether the mapping would have MAP_SYNC; null where it does not apply (devdax) or is unknown. */
  mapSync: boolean | null;
  /** In one line. */
  reason: string;
}

/** What doctor() says of one path. */
export interface DoctorReport {
  /** The path as given, as text. */
  path: string;
  /** `'file'`, `'directory'` (what holds for a new file made in it) or `'devdax'`. */
  type: 'file' | 'directory' | 'devdax';
  /**
   * Do stores made durable with persist() on this path survive power loss? true, false, or null
   * when daxkit cannot tell (memory it cannot place). `assumed` marks a yes that rests on what the
   * platform does not say.
   */
  durable: boolean | null;
  /** The verdict and why, in one line. */
  reason: string;
  /** True where the verdict rests on daxkit's conservative reading of what the kernel does not say. */
  assumed: boolean;
  persistence: Persistence;
  persist: PersistAction;
  /** S_DAX (statx): is DAX in effect; for a directory, whether a new file will be. */
  dax: boolean | null;
  /** FS_XFLAG_DAX; null where there is none (devdax, filesystems without it). */
  flag: boolean | null;
  /** The mount and its dax= mode; null for devdax. */
  mount: DaxMount | null;
  /** Why DAX is or is not in effect (`daxStatus().reason`). */
  daxReason: string;
  mapSync: MapSyncProbe;
  /** The unsafe-shutdown count of the DIMMs behind the path (`shutdownState()`), or null with the reason. */
  shutdown: { count: number | null; id: string | null; reason: string | null };
  /** Bad 512-byte sectors on the device behind the path (`listDevices()`), or null with the reason. */
  badblocks: { device: string | null; count: number | null; reason: string | null };
  /** Whether mappings here can use 2 MiB pages: the device's alignment. */
  hugePages: { align: number | null; ok: boolean | null; reason: string };
  /** The cache-line write-back instruction this CPU has (`cpuInfo().flush`). */
  cpuFlush: 'clwb' | 'clflushopt' | 'clflush' | 'none';
  /** What an operator should look at, whatever the verdict: bad blocks, unarmed DIMMs, a slower persist(). */
  warnings: string[];
}

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

// mmap(MAP_SYNC) of one page of fd; the mapping is released at once.
function tryMapSync(fd: number, readonly: boolean, display: string): { granted: boolean; error: { code: string; message: string } | null } {
  try {
    const h = binding.map(fd, 0, PAGE_SIZE, readonly, MapMode.Sync, PAGE_SIZE, readonly ? PersistMode.None : PersistMode.Msync, display, true);
    binding.close(binding.id(h));
    return { granted: true, error: null };
  } catch (e) {
    // EOPNOTSUPP: no DAX here (or no synchronous faults); EINVAL: a kernel before 4.15.
    if (e instanceof DaxSystemError && (e.code === 'EOPNOTSUPP' || e.code === 'EINVAL')) return { granted: false, error: errorRecord(e) };
    throw e;
  }
}

function refusedReason(error: { code: string } | null): string {
  return error?.code === 'EINVAL' ? 'the kernel does not know MAP_SYNC (Linux 4.15 or later has it)' : 'the kernel refused MAP_SYNC (EOPNOTSUPP): DAX is not in effect, or the device cannot make stores durable synchronously';
}

function probeFile(tree: Tree, text: string): MapSyncProbe {
  let fd: number;
  try {
    fd = tree.openRoot(false);
  } catch (e) {
    return { probed: null, granted: null, error: errorRecord(e), reason: `the file cannot be opened to map it: ${errorReason(e)}` };
  }
  try {
    const r = tryMapSync(fd, true, text);
    return { probed: 'file', ...r, reason: r.granted ? 'a read-only mapping of the file was granted MAP_SYNC' : refusedReason(r.error) };
  } finally {
    binding.closeFd(fd);
  }
}

// An unnamed file in the directory (the O_PATH handle's, through /proc, so
// that a rename of the path meanwhile cannot send it elsewhere). Never a
// named file: a kill between its creation and its removal would leave it
// behind, and a name can collide with what is there. Where the filesystem
// has no O_TMPFILE, the probe is not run and says so.
function probeDirectory(tree: Tree, text: string): MapSyncProbe {
  const dir = `/proc/self/fd/${tree.fd}`;
  const how = 'an unnamed (O_TMPFILE) file in the directory';
  let fd: number;
  try {
    fd = fs.openSync(dir, O_TMPFILE | O_RDWR, 0o600);
  } catch (e) {
    const code = codeOf(e);
    const why =
      code === 'EROFS'
        ? 'the filesystem is read-only: no file can be made here, and no store can reach it'
        : code === 'EACCES' || code === 'EPERM'
          ? 'no permission to make a file in the directory'
          : code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'EISDIR' || code === 'EINVAL'
            ? 'the filesystem cannot make unnamed (O_TMPFILE) files, and doctor makes no named one'
            : errorReason(e);
    return { probed: null, granted: null, error: errorRecord(e), reason: `no temporary file could be made to probe MAP_SYNC: ${why}` };
  }
  try {
    const r = tryMapSync(fd, false, text);
    return { probed: 'temporary-file', ...r, reason: r.granted ? `${how} was granted MAP_SYNC` : `${how}: ${refusedReason(r.error)}` };
  } finally {
    fs.closeSync(fd);
  }
}

// What persist() does, chosen as open() chooses it (lib/mapping/map.ts), in words.
function persistAction(p: Persistence, direct: boolean, mapSync: boolean | null): PersistAction {
  const mode = persistModeFor(p, direct);
  const facts = { flushMechanism: persistMechanism(mode), granularity: granularityOf(mode, p), mapSync };
  if (mode !== PersistMode.Msync) {
    if (p.domain === 'none') return { ...facts, reason: 'persist() only fences: the memory keeps nothing across a power loss, so no flush would help' };
    if (p.domain === 'cpu-cache') return { ...facts, reason: 'persist() fences: the CPU caches are inside the persistence domain' };
    return { ...facts, reason: `persist() writes the cache lines back (${facts.flushMechanism}) and fences` };
  }
  const why = mapSync === false ? 'without MAP_SYNC' : 'through the page cache';
  if (p.domain === 'none') return { ...facts, reason: `persist() calls msync(MS_SYNC) (${why}), but the memory keeps nothing across a power loss` };
  return { ...facts, reason: `persist() calls msync(MS_SYNC) (${why}): stores are durable once it returns, not before` };
}

function verdict(p: Persistence, dax: boolean, act: PersistAction): { durable: boolean | null; reason: string } {
  if (p.domain === 'none') return { durable: false, reason: `no: ${p.reason}` };
  if (p.provider === 'unknown') return { durable: null, reason: `unknown: ${p.reason}` };
  // overlayfs, NFS, FUSE, 9p, proc: what keeps the data is under or behind
  // the filesystem (a disk, RAM, a server, a daemon), where daxkit cannot
  // look; an overlay over tmpfs is as volatile as tmpfs. Never a yes.
  if (p.domain === 'storage' && p.device === null) return { durable: null, reason: `unknown: ${p.reason.replace(/: durable once.*$/, '')}: whether stores survive power loss depends on what is under or behind it (a disk, RAM, a server), which daxkit cannot see` };
  if (p.domain === 'storage' && dax) return { durable: null, reason: `unknown: DAX is in effect, but on a device daxkit cannot place (${p.device ?? 'none'}): ${p.reason}` };
  const assumed = p.assumed ? ' (assumed: see why)' : '';
  return { durable: true, reason: `yes${assumed}: ${act.reason}; ${p.reason}` };
}

function deviceEntry(name: string | null): { entry: PmemDevice | undefined; error: unknown } {
  if (name === null) return { entry: undefined, error: null };
  try {
    return { entry: listDevices().find((d) => d.name === name), error: null };
  } catch (e) {
    return { entry: undefined, error: e };
  }
}

function shutdownOf(bytes: Buffer): DoctorReport['shutdown'] {
  try {
    const s = shutdownState(bytes);
    return { count: s.count, id: s.id, reason: s.reason };
  } catch (e) {
    return { count: null, id: null, reason: `the unsafe-shutdown count cannot be read: ${errorReason(e)}` };
  }
}

function hugePagesOf(s: DaxStatus, entry: PmemDevice | undefined, direct: boolean, dax: boolean): DoctorReport['hugePages'] {
  if (s.type === 'devdax') {
    const ok = s.blockSize >= HUGE;
    return { align: s.blockSize, ok, reason: ok ? `the device's alignment (${s.blockSize} bytes) lets it map 2 MiB pages` : `the device maps ${s.blockSize}-byte pages only (daxctl reconfigure-device --align 2M)` };
  }
  if (!dax && !direct) return { align: null, ok: null, reason: 'not DAX: pages come from the page cache, not from the device' };
  const align = entry?.align ?? null;
  if (align === null) return { align: null, ok: null, reason: 'the alignment of the device behind the filesystem is not known' };
  const ok = align % HUGE === 0;
  return {
    align,
    ok,
    reason: ok
      ? `the namespace is aligned to ${align} bytes: 2 MiB pages where the filesystem allocates 2 MiB-aligned extents (xfs -d su=2m,sw=1; ext4 -E stride=512)`
      : `the namespace is aligned to ${align} bytes: DAX faults fall back to 4 KiB pages (ndctl create-namespace --align 2M)`,
  };
}

/**
 * The durability verdict for a path: a file, a directory (what holds for a
 * new file made in it) or a devdax device. `durable` answers "do stores
 * made durable with persist() here survive power loss?" (true, false, or
 * null when daxkit cannot tell), `reason` says why, and the rest are the
 * facts it rests on. Never says durable of volatile memory. Runs a real
 * mmap(MAP_SYNC): of the file itself, read-only; for a directory, of an
 * unnamed O_TMPFILE file that is gone when the call returns (a read-only
 * filesystem, or no permission, is reported in `mapSync`, not thrown).
 * @throws TypeError for a bad path, or a path that is not a file, directory or devdax device;
 *   DaxSystemError when the path cannot be looked up (`ENOENT`, `EACCES`...).
 */
export function doctor(target: PathArg): DoctorReport {
  const { bytes, text } = validatePathArg('path', target);
  // One lookup: the status, the device and the probe are all of the object
  // this handle holds, so a rename meanwhile cannot mix two files' facts.
  const tree = Tree.open(bytes, text, true);
  let s: DaxStatus;
  let st: NonNullable<Tree['root']['st']>;
  let persistence: Persistence;
  let mapSync: MapSyncProbe;
  let dax: boolean;
  try {
    s = statusOf(tree, text, bytes);
    if (s.type === 'other') throw invalidArgValue('path', text, 'is not a regular file, a directory or a devdax device: name a file or directory on the filesystem, or the /dev/daxX.Y device');
    st = tree.root.st!;
    if (s.type === 'devdax') {
      persistence = devdaxPersistence(st.rdevMajor, st.rdevMinor);
      mapSync = { probed: null, granted: null, error: null, reason: 'device DAX needs no MAP_SYNC: there is no filesystem metadata, stores go to the device' };
      dax = true;
    } else {
      // The same reading as the mapping's own (m.persistence): loop devices, overlays, partitions followed.
      persistence = fdPersistence(tree.fd);
      mapSync = s.type === 'file' ? probeFile(tree, text) : probeDirectory(tree, text);
      dax = mapSync.granted === true || (s.type === 'file' ? s.dax === true : s.newFilesDax === true);
    }
  } finally {
    tree.close();
  }
  const direct = s.type === 'devdax' || mapSync.granted === true;
  const persist = persistAction(persistence, direct, s.type === 'devdax' ? null : mapSync.granted);
  const v = verdict(persistence, dax, persist);
  const { entry, error } = deviceEntry(persistence.device);
  const badblocks =
    entry === undefined
      ? { device: persistence.device, count: null, reason: error !== null ? `the device list cannot be read: ${errorReason(error)}` : persistence.device === null ? 'no device behind the path' : `${persistence.device} is no persistent memory device` }
      : { device: entry.name, count: entry.badblockCount, reason: entry.badblockCount === null ? `${entry.name} has no bad-block list daxkit can read (a dax device's needs root)` : null };
  const warnings: string[] = [];
  if (badblocks.count !== null && badblocks.count > 0) warnings.push(`${badblocks.device} has ${badblocks.count} bad 512-byte sectors: daxkit badblocks ${text} says which, and whether they are in a file`);
  if (entry?.readOnly === true) warnings.push(`${entry.region} is read-only: no store reaches it`);
  if (persistence.domain !== 'none' && (persistence.domain === 'cpu-cache' || persistence.domain === 'memory-controller') && !direct) {
    warnings.push(`persistent memory without MAP_SYNC: persist() is msync, page by page (${mapSync.reason})`);
  }
  if (direct && persist.granularity === 'cacheline' && cpu.flush === 'none') warnings.push('this CPU has no cache-line write-back instruction daxkit knows');
  return {
    path: text,
    type: s.type,
    durable: v.durable,
    reason: v.reason,
    assumed: v.durable === true && persistence.assumed,
    persistence,
    persist,
    dax: s.type === 'directory' ? s.newFilesDax : s.dax,
    flag: s.flag,
    mount: s.mount,
    daxReason: s.reason,
    mapSync,
    shutdown: shutdownOf(bytes),
    badblocks,
    hugePages: hugePagesOf(s, entry, direct, dax),
    cpuFlush: cpu.flush,
    warnings,
  };
}
