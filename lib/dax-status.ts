import * as fs from 'node:fs';
import * as os from 'node:os';
import { binding } from './binding';
import {
  directoryReason,
  fileReason,
  fsBlocker,
  fsFacts,
  inodeFacts,
  readXflags,
  entryType,
  expectedFileDax,
} from './dax-reason';
import { DaxError } from './errors';
import type { DaxMountMode } from './mounts';
import { charSubsystem, devdaxInfo } from './sysfs';
import { validatePath } from './validate';

const XFS_FSOP_GEOM_FLAGS_REFLINK = 1 << 20;
const PAGE_SIZE = binding.cpuInfo().pageSize;

/** The mount that holds a path, from /proc/self/mountinfo. */
export interface DaxMount {
  mountPoint: string;
  /** The mounted device or source, e.g. `/dev/pmem0`. */
  device: string;
  fstype: string;
  /** `MAJ:MIN` of the filesystem. */
  majorMinor: string;
  /** Mount and superblock options, as the kernel shows them. */
  options: string[];
  /** The `dax=` policy; the legacy `-o dax` shows as `'always'`; `'unsupported'` for filesystems without DAX. */
  daxMode: DaxMountMode;
}

/** Everything that decides whether DAX is in effect for a path, and why. */
export interface DaxStatus {
  /** The path as given. */
  path: string;
  /** `'file'`, `'directory'`, `'devdax'` (a /dev/daxX.Y device), or `'other'`. */
  type: 'file' | 'directory' | 'devdax' | 'other';
  /**
   * Is DAX in effect (S_DAX, as statx reports STATX_ATTR_DAX)? Files: true/false, or null on kernels
   * before 5.8. Always true for devdax. null for directories: S_DAX is never set on them (see `newFilesDax`).
   */
  dax: boolean | null;
  /** FS_XFLAG_DAX, the persistent per-inode flag; null where the filesystem has no FS_IOC_FSGETXATTR. */
  flag: boolean | null;
  /** Directories: whether new files and subdirectories inherit FS_XFLAG_DAX (they do when it is set); null otherwise. */
  inherit: boolean | null;
  /** Directories: whether a file created here now will be DAX; null otherwise. */
  newFilesDax: boolean | null;
  /** The mount holding the path; null for devdax. */
  mount: DaxMount | null;
  /** Whether the device supports DAX: /sys/block/<dev>/queue/dax, true for devdax, null when there is no block device (tmpfs, 9p...). */
  deviceDax: boolean | null;
  /** The filesystem block size (DAX needs it equal to the page size); the device align for devdax. */
  blockSize: number;
  pageSize: number;
  /** xfs only: the filesystem has reflink. null elsewhere. */
  reflink: boolean | null;
  /** True when the running kernel (before 6.0) refuses DAX on a reflink xfs. */
  reflinkBlocksDax: boolean;
  /** The running kernel release. */
  kernel: string;
  /** One line: the state and why. */
  reason: string;
}

function kernelBefore(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(os.release());
  if (m === null) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a < major || (a === major && b < minor);
}

function mountOf(f: ReturnType<typeof fsFacts>): DaxMount | null {
  const m = f.mount;
  if (m === undefined) return null;
  return {
    mountPoint: m.mountPoint,
    device: m.source,
    fstype: m.fstype,
    majorMinor: `${m.major}:${m.minor}`,
    options: [...m.options, ...m.superOptions.filter((o) => !m.options.includes(o))],
    daxMode: f.mode,
  };
}

/**
 * Explains the DAX state of a path in one object: effective DAX (statx),
 * FS_XFLAG_DAX, inheritance for directories, the mount and its `dax=` mode,
 * device support, block size against page size, xfs reflink, and a one-line
 * `reason`. Accepts regular files, directories and devdax devices.
 * @throws DaxSystemError (e.g. ENOENT from statx).
 */
export function daxStatus(path: string): DaxStatus {
  validatePath('path', path);
  const st = binding.statx(path, true);
  let realPath = path;
  try {
    realPath = fs.realpathSync(path);
  } catch {
    // statx succeeded, so this is only a race with a rename.
  }
  const kind = entryType(st.mode);
  const kernel = os.release();
  if ((st.mode & 0o170000) === 0o020000 && charSubsystem(st.rdevMajor, st.rdevMinor) === 'dax') {
    const dev = devdaxInfo(st.rdevMajor, st.rdevMinor);
    return {
      path,
      type: 'devdax',
      dax: true,
      flag: null,
      inherit: null,
      newFilesDax: null,
      mount: null,
      deviceDax: true,
      blockSize: dev.align,
      pageSize: PAGE_SIZE,
      reflink: null,
      reflinkBlocksDax: false,
      kernel,
      reason: `device DAX: every mapping of ${dev.name} is direct (${dev.size} bytes, align ${dev.align})`,
    };
  }
  const f = fsFacts(realPath, st);
  const xflags = kind === 'file' || kind === 'directory' ? readXflags(path, true) : null;
  const i = inodeFacts(st, xflags);
  let reflink: boolean | null = null;
  if (f.mount?.fstype === 'xfs') {
    try {
      reflink = (binding.xfsGeometryFlags(path) & XFS_FSOP_GEOM_FLAGS_REFLINK) !== 0;
    } catch {
      reflink = null;
    }
  }
  const reflinkBlocksDax = reflink === true && kernelBefore(6, 0);
  let reason: string;
  if (kind === 'file') reason = fileReason(path, f, i, PAGE_SIZE);
  else if (kind === 'directory') reason = directoryReason(f, i, PAGE_SIZE);
  else reason = fsBlocker(f, path) ?? 'only regular files can be DAX (and directories pass FS_XFLAG_DAX on)';
  if (reflinkBlocksDax) reason += '; note: this kernel (before 6.0) cannot use DAX on an xfs with reflink';
  return {
    path,
    type: kind === 'file' || kind === 'directory' ? kind : 'other',
    dax: kind === 'file' ? i.dax : null,
    flag: i.flag,
    inherit: kind === 'directory' ? i.flag : null,
    newFilesDax: kind === 'directory' ? expectedFileDax(f, i.flag, i.blksize, PAGE_SIZE) : null,
    mount: mountOf(f),
    deviceDax: f.deviceDax,
    blockSize: i.blksize,
    pageSize: PAGE_SIZE,
    reflink,
    reflinkBlocksDax,
    kernel,
    reason,
  };
}

/** @internal The error for a filesystem without FS_XFLAG_DAX. */
export function flagNotSupported(path: string, cause: Error): DaxError {
  let where = '';
  try {
    const st = binding.statx(path, false);
    const m = fsFacts(fs.realpathSync(path), st).mount;
    if (m) where = `${m.fstype} (mounted at ${m.mountPoint})`;
  } catch {
    // the plain message below is still right
  }
  const e = new DaxError('ERR_DAX_NOT_SUPPORTED', `FS_XFLAG_DAX is not supported on ${where || 'this filesystem'}: '${path}'`, {
    reason: `FS_XFLAG_DAX is not supported on ${where || 'this filesystem'}`,
    path,
  });
  (e as Error & { cause?: unknown }).cause = cause;
  return e;
}
