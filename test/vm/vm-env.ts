// The DAX suite runs inside the emulated-pmem VM (scripts/pmem-vm/run.sh),
// which exports PMEM_*. Anywhere else every test registers as pending with
// the reason, so a run without the VM can never look like a pass.
import { execFileSync } from 'node:child_process';

export const inVm = process.env.PMEM_VM === '1';
export const pendingReason = inVm ? null : (process.env.DAXKIT_VM_UNAVAILABLE ?? 'runs only inside the emulated-pmem VM (npm run test:vm)');

/** it(), or a pending test that says why it cannot run here. */
export function vit(title: string, fn: Mocha.Func | Mocha.AsyncFunc): void {
  if (pendingReason !== null) it(`${title} [pending: ${pendingReason}]`);
  else it(title, fn);
}

export interface PmemFs {
  name: 'ext4' | 'xfs';
  dir: string;
  dev: string;
  opts: string;
}

function env(name: string): string {
  return process.env[name] ?? '';
}

export const pmemFs: PmemFs[] = [
  { name: 'ext4', dir: env('PMEM_EXT4_DIR'), dev: env('PMEM_EXT4_DEV'), opts: env('PMEM_EXT4_MOUNT_OPTS') },
  { name: 'xfs', dir: env('PMEM_XFS_DIR'), dev: env('PMEM_XFS_DEV'), opts: env('PMEM_XFS_MOUNT_OPTS') },
];
export const devdax = env('PMEM_DEVDAX');

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Unmounts and mounts `f` again with `opts` (dax= changes need a full mount). */
export function remount(f: PmemFs, opts: string): void {
  run('umount', [f.dir]);
  run('mount', ['-o', opts, f.dev, f.dir]);
}
