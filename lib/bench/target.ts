// Finding the target, refusing to destroy data, and preparing the working
// set: a file created (fallocate) and filled with the benchmark's pattern, or
// the first bytes of a devdax device overwritten with it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { open } from '..';
import { daxMountMode } from '../dax/mount-mode';
import { readMounts, type MountEntry } from '../fs/mounts';
import type { TargetKind, TargetSpec } from './backends';
import { devdaxOf } from './context';
import { fillPattern } from './pattern';
import type { Role } from './report';
import { fmtSize, MiB } from './units';
import { nameOnPrototype, UsageError } from '../errors';

/**
 * A target that cannot be benchmarked as it is (exit status 1, not a usage
 * error: the command line was right, the path was not): missing, of a kind
 * bench does not run on, or holding data without --yes.
 */
export class RefusedError extends Error {}
nameOnPrototype(RefusedError);

export type Located =
  | { type: 'file'; path: string; exists: boolean; removeAfter: boolean }
  | { type: 'devdax'; path: string; device: { name: string; size: number; align: number } };

/**
 * A file of the benchmark's own (a stand-in, a page-cache copy) under a name
 * it chose: to be made, never found (prepare() creates it O_EXCL |
 * O_NOFOLLOW), whatever lies under that name now.
 */
export function newFile(p: string): Located {
  return { type: 'file', path: path.resolve(p), exists: false, removeAfter: true };
}

/** What the user's TARGET argument names. */
export function locate(arg: string, role: Role = 'target'): Located {
  const p = path.resolve(arg);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const dir = path.dirname(p);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new RefusedError(`${arg}: no such file or directory`);
    return { type: 'file', path: p, exists: false, removeAfter: true };
  }
  if (st.isDirectory()) return { type: 'file', path: path.join(p, `daxkit-bench-${process.pid}${role === 'baseline' ? '.baseline' : ''}.dat`), exists: false, removeAfter: true };
  if (st.isFile()) return { type: 'file', path: p, exists: true, removeAfter: false };
  if (st.isCharacterDevice()) {
    const device = devdaxOf(p);
    if (device === null) throw new RefusedError(`${arg} is a character device but not a devdax device (/sys/dev/char/MAJ:MIN/subsystem is not dax)`);
    return { type: 'devdax', path: p, device };
  }
  if (st.isBlockDevice()) {
    throw new RefusedError(
      `${arg} is a block device: daxkit bench needs a file or directory on a filesystem mounted on it (mkfs.ext4 or mkfs.xfs, then mount -o dax), or the namespace as devdax (ndctl create-namespace -m devdax)`,
    );
  }
  throw new RefusedError(`${arg} is neither a file, a directory nor a devdax device`);
}

/** The working set rounded up to what the target accepts (a devdax device's align). */
export function workingSet(loc: Located, size: number): number {
  if (loc.type !== 'devdax') return size;
  const a = Math.max(loc.device.align, 4096);
  const s = Math.ceil(size / a) * a;
  if (s > loc.device.size) {
    throw new UsageError(`--size ${fmtSize(size)} does not fit ${loc.path}: the device has ${fmtSize(loc.device.size)} (align ${fmtSize(a)})`);
  }
  return s;
}

/** Offset of the first non-zero byte of [0, size) of a mapping, or -1. */
function firstNonZero(u8: Uint8Array): number {
  const words = new Int32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
  const step = 1 << 16;
  for (let s = 0; s < words.length; s += step) {
    let x = 0;
    const e = Math.min(words.length, s + step);
    for (let i = s; i < e; i++) x |= words[i];
    if (x !== 0) {
      for (let i = s * 4; i < e * 4; i++) if (u8[i] !== 0) return i;
    }
  }
  for (let i = words.length * 4; i < u8.byteLength; i++) if (u8[i] !== 0) return i;
  return -1;
}

function fileNonZero(p: string, size: number): number {
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(MiB);
    for (let off = 0; off < size; off += MiB) {
      const n = fs.readSync(fd, buf, 0, Math.min(MiB, size - off), off);
      if (n <= 0) break;
      const at = firstNonZero(buf.subarray(0, n));
      if (at >= 0) return off + at;
    }
    return -1;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Refuses (RefusedError) to overwrite data without --yes: a devdax device or
 * an existing file with any non-zero byte in the range the run writes.
 * Returns how the data was found, for the report.
 */
export function checkData(loc: Located, size: number, yes: boolean): string {
  if (loc.type === 'devdax') {
    const m = open(loc.path, { size, readonly: true });
    let at: number;
    try {
      at = firstNonZero(m.bytes);
    } finally {
      m.close();
    }
    if (at < 0) return `devdax device: its first ${fmtSize(size)} held only zeros; overwritten by the run, zeroed again afterwards`;
    if (!yes) {
      throw new RefusedError(
        `${loc.path} holds data in the ${fmtSize(size)} the benchmark would overwrite (a non-zero byte at offset ${at}); pass --yes to overwrite it`,
      );
    }
    return `devdax device: its first ${fmtSize(size)} held data (a non-zero byte at offset ${at}), overwritten with --yes, zeroed afterwards`;
  }
  if (!loc.exists) return 'a new file, created and filled for this run, removed afterwards';
  const len = Math.min(size, fs.statSync(loc.path).size);
  const at = len > 0 ? fileNonZero(loc.path, len) : -1;
  if (at < 0) return 'an existing file without data (empty or zeros), filled for this run and kept';
  if (!yes) {
    throw new RefusedError(
      `${loc.path} holds data (a non-zero byte at offset ${at}); daxkit bench overwrites the first ${fmtSize(size)} of the file: pass --yes to allow that, or give a directory to run on a new file`,
    );
  }
  return `an existing file that held data (a non-zero byte at offset ${at}), overwritten with --yes and kept`;
}

export interface Prepared {
  role: Role;
  spec: TargetSpec;
  data: string;
  /** Removes a created file; zeroes a devdax device's working set. */
  cleanup(): void;
}

/** Creates (fallocate) or opens the target and writes the pattern over [0, size). */
export function prepare(loc: Located, size: number, seed: number, role: Role, data: string): Prepared {
  const chunk = new Uint8Array(MiB);
  if (loc.type === 'devdax') {
    const m = open(loc.path, { size });
    try {
      for (let off = 0; off < size; off += MiB) {
        const n = Math.min(MiB, size - off);
        fillPattern(chunk.subarray(0, n), off, seed);
        m.bytes.set(chunk.subarray(0, n), off);
      }
      m.persist();
    } finally {
      m.close();
    }
    return {
      role,
      spec: { path: loc.path, kind: 'devdax', size },
      data,
      cleanup() {
        const z = open(loc.path, { size });
        try {
          z.bytes.fill(0);
          z.persist();
        } finally {
          z.close();
        }
      },
    };
  }
  let kind: TargetKind;
  const created = !loc.exists;
  let fd: number;
  try {
    // A file the benchmark makes (in a directory it was given, os.tmpdir() by
    // default) is made, never found: O_EXCL | O_NOFOLLOW, so a name planted
    // there beforehand (a symlink to /etc/passwd, in a shared directory) is
    // refused rather than written through as root; and all that follows goes
    // through this fd, never through the name again.
    const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDWR } = fs.constants;
    fd = created ? fs.openSync(loc.path, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR, 0o600) : fs.openSync(loc.path, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' || (e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new RefusedError(`${loc.path} appeared before the benchmark made it (something else made that name, perhaps a symlink): it is left alone; run again, or give another directory`);
    }
    throw e;
  }
  try {
    const m = open(fd, { size, create: true });
    kind = m.kind;
    m.close();
    for (let off = 0; off < size; off += MiB) {
      const n = Math.min(MiB, size - off);
      fillPattern(chunk.subarray(0, n), off, seed);
      fs.writeSync(fd, chunk, 0, n, off);
    }
    fs.fsyncSync(fd);
  } catch (e) {
    if (created) fs.rmSync(loc.path, { force: true });
    throw e;
  } finally {
    fs.closeSync(fd);
  }
  return {
    role,
    spec: { path: loc.path, kind, size },
    data,
    cleanup() {
      if (loc.removeAfter) fs.rmSync(loc.path, { force: true });
    },
  };
}

/** Free bytes for a new file of `size` in the directory of `p`, checked before writing anything. */
export function checkSpace(loc: Located, size: number): void {
  if (loc.type !== 'file') return;
  const have = loc.exists ? fs.statSync(loc.path).size : 0;
  const need = size - have;
  if (need <= 0) return;
  const st = fs.statfsSync(path.dirname(loc.path));
  const free = st.bavail * st.bsize;
  if (free < need) throw new UsageError(`${path.dirname(loc.path)} has ${fmtSize(free)} free; the working set needs ${fmtSize(need)} more (use --size)`);
}

/** A DAX target on this machine, when there is one: a dax=always mount we can write to, or a devdax device. */
export function findHostDax(): { path: string; why: string } | null {
  let mounts: MountEntry[];
  try {
    mounts = readMounts();
  } catch {
    mounts = [];
  }
  for (const m of mounts) {
    if ((m.fstype === 'ext4' || m.fstype === 'xfs') && daxMountMode(m) === 'always' && !m.options.includes('ro')) {
      try {
        fs.accessSync(m.mountPoint, fs.constants.W_OK);
        return { path: m.mountPoint, why: `${m.fstype} on ${m.source} mounted dax=always at ${m.mountPoint}` };
      } catch {
        continue;
      }
    }
  }
  let devs: string[] = [];
  try {
    devs = fs.readdirSync('/sys/bus/dax/devices').filter((n) => /^dax\d+\.\d+$/.test(n));
  } catch {
    devs = [];
  }
  for (const d of devs.sort()) {
    const p = `/dev/${d}`;
    if (fs.existsSync(p) && devdaxOf(p) !== null) return { path: p, why: `the devdax device ${p}` };
  }
  return null;
}

/** A tmpfs directory (RAM, the stand-in for pmem), or null. */
export function shmDir(): string | null {
  try {
    const st = fs.statfsSync('/dev/shm');
    // TMPFS_MAGIC
    if (st.type === 0x01021994) {
      fs.accessSync('/dev/shm', fs.constants.W_OK);
      return '/dev/shm';
    }
  } catch {
    return null;
  }
  return null;
}

export function defaultBaselineDir(): string {
  return os.tmpdir();
}
