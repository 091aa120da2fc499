import * as os from 'node:os';
import { binding } from '../binding';
import {
  directoryReason,
  ext4DaxBlocker,
  fdPath,
  fileReason,
  fsBlocker,
  fsFacts,
  inodeFacts,
  readXflags,
  expectedFileDax,
} from './reason';
import type { DaxMountMode } from './mount-mode';
import { charSubsystem, devdaxInfo } from '../pmem/device-nodes';
import { Tree } from '../fs/tree-walk';
import { walkError } from './flag-read';
import { validatePathArg, type PathArg } from '../validate';
import { PAGE_SIZE, S_IFCHR, S_IFMT } from '../constants';

const XFS_FSOP_GEOM_FLAGS_REFLINK = 1 << 20;

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
  /** The path as given, as text (a byte that is not UTF-8 is U+DC80 + byte; see `pathBuffer`). */
  path: string;
  /** The exact bytes of the path. */
  pathBuffer: Buffer;
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
 * `reason`. Accepts regular files, directories and devdax devices (a final
 * symlink is followed). Everything is read through one O_PATH handle of the
 * path, so a rename meanwhile cannot mix two files' facts, and no device or
 * FIFO is ever opened.
 * @throws DaxSystemError (e.g. ENOENT from open); TypeError for a bad path.
 */
export function daxStatus(path: PathArg): DaxStatus {
  const { bytes, text } = validatePathArg('path', path);
  const tree = Tree.open(bytes, text, true);
  try {
    return statusOf(tree, text, bytes);
  } finally {
    tree.close();
  }
}

type Facts = Omit<DaxStatus, 'path' | 'pathBuffer' | 'pageSize' | 'kernel'>;

/** daxStatus() of the object a Tree's root handle holds (the caller keeps and closes it). */
export function statusOf(tree: Tree, text: string, bytes: Buffer): DaxStatus {
  const facts = factsOf(tree, text);
  return {
    path: text,
    pathBuffer: bytes,
    type: facts.type,
    dax: facts.dax,
    flag: facts.flag,
    inherit: facts.inherit,
    newFilesDax: facts.newFilesDax,
    mount: facts.mount,
    deviceDax: facts.deviceDax,
    blockSize: facts.blockSize,
    pageSize: PAGE_SIZE,
    reflink: facts.reflink,
    reflinkBlocksDax: facts.reflinkBlocksDax,
    kernel: os.release(),
    reason: facts.reason,
  };
}

function factsOf(tree: Tree, text: string): Facts {
  const e = tree.root;
  const st = e.st!;
  if ((st.mode & S_IFMT) === S_IFCHR && charSubsystem(st.rdevMajor, st.rdevMinor) === 'dax') {
    const dev = devdaxInfo(st.rdevMajor, st.rdevMinor);
    return {
      type: 'devdax',
      dax: true,
      flag: null,
      inherit: null,
      newFilesDax: null,
      mount: null,
      deviceDax: true,
      blockSize: dev.align,
      reflink: null,
      reflinkBlocksDax: false,
      reason: `device DAX: every mapping of ${dev.name} is direct (${dev.size} bytes, align ${dev.align})`,
    };
  }
  const f = fsFacts(st, fdPath(tree.fd) ?? null);
  const kind = e.type;
  const got: { xflags: number | null; reflink: boolean | null; ext4: string | null } = { xflags: null, reflink: null, ext4: null };
  tree.walk(false, (_, fd) => {
    got.xflags = readXflags(fd, f, text);
    if (kind === 'file') got.ext4 = ext4DaxBlocker(fd, kind, f);
    if (f.mount?.fstype === 'xfs') {
      try {
        got.reflink = (binding.xfsGeometryFlags(fd, text) & XFS_FSOP_GEOM_FLAGS_REFLINK) !== 0;
      } catch {
        got.reflink = null;
      }
    }
  });
  const failed = walkError(e);
  if (failed !== null) throw failed;
  const i = { ...inodeFacts(st, got.xflags), ext4Blocker: got.ext4 };
  const reflinkBlocksDax = got.reflink === true && kernelBefore(6, 0);
  let reason: string;
  if (kind === 'file') reason = fileReason(text, f, i, PAGE_SIZE);
  else if (kind === 'directory') reason = directoryReason(f, i, PAGE_SIZE);
  else reason = fsBlocker(f, text) ?? 'only regular files can be DAX (and directories pass FS_XFLAG_DAX on)';
  if (reflinkBlocksDax) reason += '; note: this kernel (before 6.0) cannot use DAX on an xfs with reflink';
  return {
    type: kind === 'file' || kind === 'directory' ? kind : 'other',
    dax: kind === 'file' ? i.dax : null,
    flag: i.flag,
    inherit: kind === 'directory' ? i.flag : null,
    newFilesDax: kind === 'directory' ? expectedFileDax(f, i.flag, i.blksize, PAGE_SIZE) : null,
    mount: mountOf(f),
    deviceDax: f.deviceDax,
    blockSize: i.blksize,
    reflink: got.reflink,
    reflinkBlocksDax,
    reason,
  };
}
