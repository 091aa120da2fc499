// The emulated-pmem VM (scripts/pmem-vm/run.sh): whether it can run here,
// and running a command in it.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The harness script, shipped in the package. */
export const VM_RUNNER = path.join(__dirname, '..', '..', '..', 'scripts', 'pmem-vm', 'run.sh');

/** Whether `cmd` is on PATH (sh's `command -v`). */
export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Why the emulated-pmem VM cannot run on this machine, in plain words, or
 * null when it can (Linux, x86-64, root, and either apt-get or QEMU and the
 * tools already installed).
 */
export function vmBlocker(): string | null {
  if (process.platform !== 'linux') return `the VM needs Linux (this is ${process.platform})`;
  if (process.arch !== 'x64') return `the VM boots an x86-64 guest and needs an x86-64 host (this is ${process.arch})`;
  if (process.getuid?.() !== 0) return 'the VM must run as root (it installs QEMU and a kernel with apt-get and creates NVDIMM images)';
  if (!fs.existsSync(VM_RUNNER)) return `the harness ${VM_RUNNER} is missing`;
  if (process.env.DAXKIT_VM_KERNEL_DIR === undefined && !commandExists('apt-get')) return 'apt-get not found: the VM takes QEMU and the kernel from Debian (set DAXKIT_VM_KERNEL_DIR on other systems)';
  return null;
}

/**
 * The harness's options that take a value, as run.sh spells them. `daxkit vm`
 * passes these (and VM_FLAGS) through; the kinds of memory are among them:
 * `--virtio-pmem SIZE`, `--hmem SIZE`, `--cxl SIZE`, `--nvdimm-persistence
 * cpu|mem-ctrl`.
 */
export const VM_VALUE_OPTIONS: readonly string[] = [
  '--mem', '--cpus', '--ext4-size', '--xfs-size', '--devdax-size', '--dax', '--ext4-mount', '--xfs-mount',
  '--legacy', '--virtio-pmem', '--hmem', '--cxl', '--nvdimm-persistence',
  '--images', '--timeout', '--env', '--accel',
];

/** The harness's options without a value. */
export const VM_FLAGS: readonly string[] = ['--nvdimm-unarmed', '--keep', '--no-pmem-setup', '--verbose'];

export interface VmOptions {
  /** Extra run.sh options (VM_VALUE_OPTIONS, VM_FLAGS), e.g. ['--dax', 'inode'], ['--images', dir] or ['--cxl', '256M']. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Inherit stdio (default) or capture stdout/stderr. */
  capture?: boolean;
  /** Capture stdout/stderr and pass them through as they come. */
  tee?: boolean;
}

export interface VmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` in a fresh guest with `dir` shared; resolves with its exit code (125: the VM could not start). */
export function runInVm(dir: string, command: string[], opts: VmOptions = {}): Promise<VmResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(VM_RUNNER, [...(opts.args ?? []), dir, '--', ...command], {
      env: { ...process.env, ...opts.env },
      stdio: opts.capture || opts.tee ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (opts.tee) process.stdout.write(d);
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (opts.tee) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/**
 * Host directories the guest covers with a tmpfs of its own (guest/init,
 * guest/stage2.sh): below them, only the shared work directory is visible
 * in the VM.
 */
export const GUEST_PRIVATE_DIRS: readonly string[] = ['/tmp', '/var/tmp', '/dev/shm', '/run'];

/** True when the guest cannot see the host path p (unless it is inside the shared work directory). */
export function hiddenInGuest(p: string): boolean {
  const abs = path.resolve(p);
  return GUEST_PRIVATE_DIRS.some((d) => abs === d || abs.startsWith(`${d}/`));
}
