// What filePersistence() cannot see from a block device alone: a loop device
// is as durable as the file behind it (ext4 on a loop over a tmpfs file is
// RAM, whatever the loop device's own queue says).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binding } from '../binding';
import { daxStatus } from '../dax/status';
import { errorReason } from '../errors';
import { filePersistence, type Persistence, type PersistenceDomain } from '../pmem/persistence';
import { DEFAULT_SYSFS, readSysfsDir, realpathOrNull } from '../pmem/sysfs';
import { validatePathArg } from '../validate';

const WEAKEST: PersistenceDomain[] = ['none', 'storage', 'host', 'memory-controller', 'cpu-cache'];

// The loop devices in the stack under block device `name` (itself included).
function loopsUnder(name: string, depth: number): string[] {
  if (/^loop\d+$/.test(name)) return [name];
  if (depth <= 0) return [];
  // A partition (loop0p1) lies on its disk: /sys/class/block/loop0p1 is
  // /sys/devices/.../loop0/loop0p1.
  const real = realpathOrNull(path.join(DEFAULT_SYSFS, 'class', 'block', name));
  if (real !== null && fs.existsSync(path.join(real, 'partition'))) return loopsUnder(path.basename(path.dirname(real)), depth - 1);
  const out: string[] = [];
  for (const s of readSysfsDir(path.join(DEFAULT_SYSFS, 'class', 'block', name, 'slaves'))) for (const l of loopsUnder(s, depth - 1)) if (!out.includes(l)) out.push(l);
  return out;
}

/** Marks what doctor cannot vouch for: `provider: 'unknown'` makes its verdict unknown. */
function unknown(p: Persistence, reason: string): Persistence {
  return { ...p, provider: 'unknown', assumed: true, reason };
}

// The backing file's path, as the exact bytes the kernel wrote (d_path and
// a newline): a trimmed name could be another file ('img ' is not 'img').
function backingFile(loop: string): Buffer | null {
  let b: Buffer;
  try {
    b = fs.readFileSync(path.join(DEFAULT_SYSFS, 'class', 'block', loop, 'loop', 'backing_file'));
  } catch {
    return null;
  }
  if (b.length > 0 && b[b.length - 1] === 0x0a) b = b.subarray(0, -1);
  return b.length > 0 ? b : null;
}

function loopPersistence(loop: string, depth: number): Persistence {
  const base: Persistence = { domain: 'storage', provider: 'filesystem', assumed: true, device: loop, region: null, reason: '' };
  const bytes = backingFile(loop);
  if (bytes === null) return unknown(base, `${loop}: a loop device whose backing file sysfs does not name`);
  const file = validatePathArg('backing_file', bytes).text;
  if (file.endsWith(' (deleted)')) return unknown(base, `${loop}: a loop device over a deleted file (${file}), whose filesystem daxkit cannot look up`);
  try {
    const st = binding.statx(bytes, true, file);
    const fstype = daxStatus(bytes).mount?.fstype ?? null;
    const p = backedPersistence(filePersistence(st.devMajor, st.devMinor, fstype), depth - 1);
    return { ...p, device: loop, reason: `${loop}: a loop device over ${file}, as durable as that file: ${p.reason}` };
  } catch (e) {
    return unknown(base, `${loop}: a loop device over ${file}, which cannot be looked up: ${errorReason(e)}`);
  }
}

/**
 * `p` (a file's filePersistence()) with what sits behind it: a loop device's
 * backing file (the least durable of those in the stack decides); a loop
 * device whose file cannot be placed makes the provider `'unknown'`.
 */
export function backedPersistence(p: Persistence, depth = 4): Persistence {
  if (p.domain === 'none') return p;
  if (p.device === null) return p;
  if (depth <= 0) return unknown(p, `${p.device}: loop devices nested too deep to follow`);
  const loops = loopsUnder(p.device, 8);
  if (loops.length === 0) return p;
  const parts = loops.map((l) => loopPersistence(l, depth));
  const worst = WEAKEST.map((d) => [...parts, p].find((q) => q.domain === d)).find((q) => q !== undefined) as Persistence;
  if (worst.domain !== 'none') {
    const u = parts.find((q) => q.provider === 'unknown');
    if (u !== undefined) return { ...u, device: p.device, reason: p.device === u.device ? u.reason : `${p.device} over ${u.reason}` };
  }
  return { ...worst, device: p.device, reason: p.device === worst.device ? worst.reason : `${p.device} over ${worst.reason}` };
}
