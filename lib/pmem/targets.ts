// What a badblocks() or clearBadblocks() target is: a region, namespace,
// block device, partition or dax device named by its kernel name, or a path
// opened once (an O_PATH handle) and looked at through that handle only.
import * as path from 'node:path';
import { type NativeStatx } from '../binding';
import { DaxError, invalidArgValue } from '../errors';
import { closeQuietly, Tree } from '../fs/tree-walk';
import type { DaxDevice, NdNamespace, NdRegion, PmemBlock, PmemModel, PmemPartition } from './nd-model';
import { realpathOrNull } from './sysfs';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFMT, S_IFREG } from '../constants';

export function notSupported(target: string, reason: string): DaxError {
  return new DaxError('ERR_DAX_NOT_SUPPORTED', `No media error list for '${target}': ${reason}`, { reason, path: target });
}

export function bttReason(b: PmemBlock): string {
  return (
    `${b.name} is a sector-mode (BTT) namespace: BTT remaps its blocks, so the kernel keeps no media error ` +
    `list for it and the region's list cannot be translated to its sectors (the list of ${b.namespace.region.name} ` +
    `shows the region's, with ${b.namespace.name} named on the ranges inside it)`
  );
}

function notPmemBlockReason(name: string): string {
  if (/^dm-\d+$/.test(name)) {
    return (
      `${name} is a device-mapper device: the kernel keeps media error lists only for the pmem devices ` +
      `under it (/sys/block/${name}/slaves), and daxkit does not translate through device-mapper tables`
    );
  }
  return `${name} is not a persistent memory (nd) block device, and only those have a media error list`;
}

export type Resolved =
  | { kind: 'region'; region: NdRegion }
  | { kind: 'block'; disk: PmemBlock }
  | { kind: 'partition'; part: PmemPartition }
  | { kind: 'devdax'; dax: DaxDevice }
  | { kind: 'file'; tree: Tree };

const DEVICE_NAME = /^(region\d+|namespace\d+\.\d+|pmem\d+(p\d+)?s?|dax\d+\.\d+)$/;

/** "the regions are region0, region1", or "there is none", for the message about a name that is not there. */
function existing(what: string, names: string[]): string {
  return names.length === 0 ? `there is no ${what}` : `${names.length === 1 ? `the only ${what} is` : `the ${what}s are`} ${names.join(', ')}`;
}

function byName(name: string, m: PmemModel): Resolved {
  if (name.startsWith('region')) {
    const region = m.regions.find((r) => r.name === name);
    if (region === undefined) throw invalidArgValue('target', name, `names no nd region (${existing('nd region', m.regions.map((r) => r.name))})`);
    return { kind: 'region', region };
  }
  if (name.startsWith('namespace')) {
    const ns = m.namespaces.find((n) => n.name === name);
    if (ns === undefined) throw invalidArgValue('target', name, `names no enabled namespace with a size (${existing('namespace', m.namespaces.map((n) => n.name))})`);
    return namespaceTarget(ns, m);
  }
  if (name.startsWith('dax')) {
    const dax = m.daxDevice(name);
    if (dax === undefined) throw invalidArgValue('target', name, `names no dax device (${existing('dax device', m.dax.map((d) => d.name))})`);
    return { kind: 'devdax', dax };
  }
  const disk = m.block(name);
  if (disk !== undefined) return { kind: 'block', disk };
  const part = m.partition(name);
  if (part !== undefined) return { kind: 'partition', part };
  const all = m.blocks.flatMap((b) => [b.name, ...b.partitions.map((p) => p.name)]);
  throw invalidArgValue('target', name, `names no pmem block device or partition of an nd region (${existing('pmem device', all)})`);
}

function namespaceTarget(ns: NdNamespace, m: PmemModel): Resolved {
  if (ns.mode === 'devdax') {
    const dax = ns.dax.length === 1 ? m.daxDevice(ns.dax[0]) : undefined;
    if (dax === undefined) throw invalidArgValue('target', ns.name, `is a devdax namespace with ${ns.dax.length} dax devices: name the device (${ns.dax.join(', ') || 'none is enabled'})`);
    return { kind: 'devdax', dax };
  }
  const disk = ns.block === null ? undefined : m.block(ns.block);
  if (disk === undefined) throw invalidArgValue('target', ns.name, 'has no block device (is it enabled?)');
  return { kind: 'block', disk };
}

export function blockByDir(sysDir: string, m: PmemModel, target: string): Resolved {
  const name = path.basename(sysDir);
  const disk = m.blocks.find((b) => b.dir === sysDir);
  if (disk !== undefined) return { kind: 'block', disk };
  for (const b of m.blocks) {
    const part = b.partitions.find((p) => p.dir === sysDir);
    if (part !== undefined) return { kind: 'partition', part };
  }
  throw notSupported(target, notPmemBlockReason(name));
}

/**
 * What a target is. A path is opened once (an O_PATH handle: no device or
 * FIFO is opened, nothing can block) and only that handle is looked at; a
 * file comes back with it, for the caller to read and close.
 */
export function resolve(target: string, bytes: Buffer, m: PmemModel): Resolved {
  if (isDeviceName(target)) return byName(target, m);
  return resolveOpen(Tree.open(bytes, target, true), target, m);
}

/** Whether a target is a kernel device name (region0, pmem0, dax1.0...) rather than a path. */
export function isDeviceName(target: string): boolean {
  return DEVICE_NAME.test(target);
}

/**
 * What an opened path is: a file keeps its tree (the caller closes it);
 * anything else closes it. A directory is an ERR_INVALID_ARG_VALUE.
 */
export function resolveOpen(tree: Tree, target: string, m: PmemModel): Resolved {
  const st = tree.root.st as NativeStatx;
  const fmt = st.mode & S_IFMT;
  if (fmt === S_IFREG) return { kind: 'file', tree };
  tree.close();
  if (fmt === S_IFDIR) {
    throw invalidArgValue('target', target, 'is a directory: badblocks() takes a file, a device or a region; findBadFiles() scans a directory');
  }
  const mm = `${st.rdevMajor}:${st.rdevMinor}`;
  if (fmt === S_IFBLK) {
    const dir = realpathOrNull(path.join(m.sysfsRoot, 'dev', 'block', mm));
    if (dir === null) throw notSupported(target, `block device ${mm} is not in ${m.sysfsRoot}/dev/block`);
    return blockByDir(dir, m, target);
  }
  if (fmt === S_IFCHR) {
    const dir = realpathOrNull(path.join(m.sysfsRoot, 'dev', 'char', mm));
    const dax = dir === null ? undefined : m.dax.find((d) => d.dir === dir);
    if (dax !== undefined) return { kind: 'devdax', dax };
    const subsystem = dir === null ? null : realpathOrNull(path.join(dir, 'subsystem'));
    throw notSupported(target, `it is a character device of the '${subsystem === null ? 'unknown' : path.basename(subsystem)}' subsystem, not a dax device`);
  }
  throw notSupported(target, 'it is neither a regular file nor a block or dax device');
}

/** Runs fn on the file of a 'file' target, opened for I/O through its handle, and closes both. */
export function withFile<T>(r: { tree: Tree }, write: boolean, fn: (fd: number) => T): T {
  try {
    const fd = r.tree.openRoot(write);
    try {
      return fn(fd);
    } finally {
      closeQuietly(fd);
    }
  } finally {
    r.tree.close();
  }
}
