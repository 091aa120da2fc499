// What a mount's options say about DAX for the files on it
// (Documentation/filesystems/dax.rst).
import type { MountEntry } from '../fs/mounts';

/**
 * The `dax=` policy of a mount (Documentation/filesystems/dax.rst):
 * `'always'` (also the legacy `-o dax`), `'never'`, `'inode'` (follow
 * FS_XFLAG_DAX, the ext4/xfs default), or `'unsupported'` for filesystems
 * without DAX.
 */
export type DaxMountMode = 'always' | 'never' | 'inode' | 'unsupported';

/** Filesystems with a DAX mode. */
export const DAX_FILESYSTEMS: readonly string[] = ['ext4', 'xfs', 'ext2', 'erofs', 'virtiofs'];

/** What the mount options say about DAX for files on this mount. */
export function daxMountMode(m: MountEntry): DaxMountMode {
  const opts = [...m.superOptions, ...m.options];
  const explicit = opts.find((o) => o === 'dax' || o.startsWith('dax='));
  switch (m.fstype) {
    case 'ext4':
    case 'xfs':
      if (explicit === undefined) return 'inode';
      return explicit === 'dax' ? 'always' : (explicit.slice(4) as DaxMountMode);
    case 'virtiofs':
      if (explicit === undefined) return 'never';
      return explicit === 'dax' ? 'always' : (explicit.slice(4) as DaxMountMode);
    case 'ext2':
    case 'erofs':
      return explicit === undefined ? 'never' : 'always';
    default:
      return 'unsupported';
  }
}
