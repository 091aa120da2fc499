// Mounts, from /proc/self/mountinfo.
import * as fs from 'node:fs';
import { DaxError } from '../errors';
import { pathText } from './path-bytes';

/** One line of /proc/self/mountinfo (proc(5)). */
export interface MountEntry {
  id: number;
  parentId: number;
  major: number;
  minor: number;
  /** The root of the mount within its filesystem (bind mounts). */
  root: string;
  mountPoint: string;
  /** Per-mount options (`rw`, `relatime`, ...). */
  options: string[];
  fstype: string;
  source: string;
  /** Per-superblock options: where `dax=` lives. */
  superOptions: string[];
}

// Mount points and sources escape space, tab, newline and backslash as
// octal; every other byte is as it is in the name, UTF-8 or not. The text is
// read as latin1 (one char per byte), unescaped, then made lossless text.
function unescape(s: string): string {
  return pathText(Buffer.from(s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1'));
}

/** Parses mountinfo text (or bytes); a malformed line throws DaxError `ERR_DAX_MOUNTINFO_FORMAT`, naming the file and line. */
export function parseMountInfo(text: string | Buffer, file = '/proc/self/mountinfo'): MountEntry[] {
  const out: MountEntry[] = [];
  const lines = (typeof text === 'string' ? Buffer.from(text, 'utf8') : text).toString('latin1').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    const mm = /^(\d+):(\d+)$/.exec(f[2] ?? '');
    if (f.length < 10 || sep < 0 || sep + 3 > f.length || mm === null) {
      throw new DaxError('ERR_DAX_MOUNTINFO_FORMAT', `${file}:${i + 1}: malformed mountinfo line: ${JSON.stringify(pathText(Buffer.from(line, 'latin1')))}`, {
        path: file,
        reason: `line ${i + 1} is not a mountinfo line (proc(5))`,
      });
    }
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      major: Number(mm[1]),
      minor: Number(mm[2]),
      root: unescape(f[3]),
      mountPoint: unescape(f[4]),
      options: f[5].split(','),
      fstype: f[sep + 1],
      source: unescape(f[sep + 2]),
      superOptions: (f[sep + 3] ?? '').split(',').filter((s) => s !== ''),
    });
  }
  return out;
}

export function readMounts(file = '/proc/self/mountinfo'): MountEntry[] {
  return parseMountInfo(fs.readFileSync(file), file);
}

/**
 * The mount that holds `realPath` (an absolute path without symlinks): the
 * longest mount point that is a prefix of it, preferring entries whose device
 * is `dev` when given, and the last of stacked mounts (the visible one).
 */
export function findMount(realPath: string, mounts: MountEntry[], dev?: { major: number; minor: number }): MountEntry | undefined {
  const under = (mp: string): boolean => mp === '/' || realPath === mp || realPath.startsWith(mp + '/');
  let candidates = mounts.filter((m) => under(m.mountPoint));
  if (dev !== undefined) {
    const same = candidates.filter((m) => m.major === dev.major && m.minor === dev.minor);
    if (same.length > 0) candidates = same;
  }
  let best: MountEntry | undefined;
  for (const m of candidates) {
    if (best === undefined || m.mountPoint.length >= best.mountPoint.length) best = m;
  }
  return best;
}
