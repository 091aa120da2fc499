// Who holds an inode open or mapped: what keeps a file from switching its
// DAX state (dax.rst rule 6), from /proc.
import * as fs from 'node:fs';
import type { NativeStatx } from '../binding';
import { devNumbers } from '../pmem/device-nodes';

/** Who holds each inode (dev:ino) open or mapped, from /proc (only what this user may see). */
export function openersOf(wanted: Set<string>): Map<string, string[]> {
  const found = new Map<string, Set<string>>();
  const add = (key: string, who: string): void => {
    if (!wanted.has(key)) return;
    if (!found.has(key)) found.set(key, new Set());
    found.get(key)!.add(who);
  };
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return new Map();
  }
  for (const pid of pids) {
    let comm = '?';
    try {
      comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const who = Number(pid) === process.pid ? `this process (pid ${pid})` : `pid ${pid} (${comm})`;
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try {
          // stat() of the magic link is the open file's own inode; nothing is opened.
          const st = fs.statSync(`/proc/${pid}/fd/${fd}`, { bigint: true });
          const { major, minor } = devNumbers(st.dev);
          add(`${major}:${minor}:${st.ino}`, who);
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // not ours to see
    }
    try {
      // address perms offset MAJ:MIN(hex) inode path
      for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n')) {
        const f = line.split(/\s+/, 5);
        const mm = /^([0-9a-f]+):([0-9a-f]+)$/.exec(f[3] ?? '');
        if (mm !== null && f[4] !== '0') add(`${parseInt(mm[1], 16)}:${parseInt(mm[2], 16)}:${f[4]}`, who);
      }
    } catch {
      // not ours to see
    }
  }
  const out = new Map<string, string[]>();
  for (const [k, s] of found) out.set(k, [...s]);
  return out;
}

export function inodeKey(st: NativeStatx): string {
  return `${st.devMajor}:${st.devMinor}:${st.ino}`;
}
