// Shared by the host suite (test/host) and the DAX suite (test/vm).
import * as assert from 'node:assert/strict';
import { execFileSync, fork, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMounts, findMount } from '../lib/fs/mounts';
import { commandExists } from '../lib/vm/harness';
import { buildTestAddon, TEST_ADDON, testBuildEnv } from '../scripts/test-build';

export { testBuildEnv };
export { commandExists } from '../lib/vm/harness';

export const isRoot = process.getuid?.() === 0;
export const PAGE = 4096;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

let counter = 0;

/** A fresh directory under `parent` (default: the OS temp dir), removed by the caller's `after`. */
export function mkTempDir(parent = os.tmpdir(), prefix = 'daxkit-test-'): string {
  return fs.mkdtempSync(path.join(parent, prefix));
}

/** A unique file name inside `dir` (not created). */
export function nextFile(dir: string, name = 'f'): string {
  return path.join(dir, `${name}-${process.pid}-${++counter}`);
}

export function fstypeOf(p: string): string | undefined {
  return findMount(fs.realpathSync(p), readMounts())?.fstype;
}

/**
 * Asserts an error has exactly the node:fs error contract: the class,
 * `code`, negative `errno`, `syscall`, `path` and message format.
 */
export function assertSystemError(
  e: unknown,
  expected: { code: string; errno: number; syscall: string; path?: string },
): void {
  assert.ok(e instanceof Error, `expected an Error, got ${String(e)}`);
  const err = e as NodeJS.ErrnoException;
  assert.equal(err.code, expected.code);
  assert.equal(err.errno, expected.errno);
  assert.equal(err.syscall, expected.syscall);
  assert.equal(err.path, expected.path);
  const re = new RegExp(`^${expected.code}: [a-z/ -]+, ${expected.syscall}${expected.path ? ` '${escapeRe(expected.path)}'` : ''}$`);
  assert.match(err.message, re);
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Asserts a Node-style argument error: class, code, and a message naming the argument. */
export function assertArgError(fn: () => unknown, cls: typeof TypeError | typeof RangeError, code: string, mentions: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.equal((e as NodeJS.ErrnoException).code, code);
    assert.match((e as Error).message, mentions);
    return true;
  });
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  messages: unknown[];
  stderr: string;
  /** Killed after `timeoutMs`: it hung. */
  timedOut: boolean;
}

/**
 * Runs a compiled fixture (dist/test/fixtures/NAME.js) in a child process
 * and collects what it sends with process.send(), its exit code or signal,
 * and its stderr.
 */
export function runFixture(
  name: string,
  args: string[] = [],
  opts: { env?: NodeJS.ProcessEnv; execArgv?: string[]; timeoutMs?: number } = {},
): Promise<ChildResult> {
  const file = path.join(__dirname, 'fixtures', `${name}.js`);
  return new Promise((resolve, reject) => {
    const child = fork(file, args, {
      env: { ...process.env, ...opts.env },
      execArgv: opts.execArgv ?? [],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const messages: unknown[] = [];
    let stderr = '';
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('message', (m) => messages.push(m));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, messages, stderr, timedOut });
    });
  });
}

/** The lines of /proc/PID/maps that map `file`. */
export function mapsOf(file: string, pid: number | 'self' = 'self'): string[] {
  const real = fs.realpathSync(file);
  return fs
    .readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(` ${real}`) || l.endsWith(` ${real} (deleted)`));
}

/** The ```js blocks of the README, in order. */
export function readmeExamples(): string[] {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  return [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

let testBuild: string | null | undefined;

/**
 * Why the test build of the addon (scripts/test-build.ts: the trace and the
 * other hooks of DAXKIT_TEST) cannot be had, or null when it is ready. On the
 * host it is built where its sources changed; the VM sees the host's build
 * (npm test builds it first) and never builds.
 */
export function testBuildBlocker(): string | null {
  if (testBuild === undefined) {
    if (process.env.PMEM_VM !== '1') testBuild = buildTestAddon();
    else testBuild = fs.existsSync(TEST_ADDON) ? null : `${TEST_ADDON} is not there: build it on the host first (node dist/scripts/test-build.js; npm test does)`;
  }
  return testBuild;
}

/**
 * In a test that needs the test build: makes sure it is there, or turns the
 * test pending with the reason.
 */
export function needTestBuild(ctx: Mocha.Context): void {
  ctx.timeout(Math.max(ctx.timeout(), 600_000));
  const why = testBuildBlocker();
  if (why === null) return;
  if (ctx.test) ctx.test.title += ` [pending: the test build: ${why.split('\n')[0]}]`;
  ctx.skip();
}


export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why a loop-mounted `fstype` cannot be made here, or null when it can. */
export function loopMountBlocker(fstype: 'ext4' | 'xfs'): string | null {
  if (!isRoot) return 'needs root (mount -o loop)';
  const mkfs = fstype === 'xfs' ? 'mkfs.xfs' : 'mkfs.ext4';
  if (!commandExists(mkfs)) return `needs ${mkfs} (apt-get install ${fstype === 'xfs' ? 'xfsprogs' : 'e2fsprogs'})`;
  return null;
}

export interface LoopMount {
  dir: string;
  dev: string;
  cleanup: () => void;
}

/**
 * Makes and mounts a `fstype` image on a loop device (root only: check
 * loopMountBlocker() first). Call from a before() hook, so that nothing is
 * mounted for suites that do not run.
 */
export function loopMount(fstype: 'ext4' | 'xfs', sizeMiB = 300, mountOpts = '', mkfsArgs: string[] = []): LoopMount {
  const base = mkTempDir(os.tmpdir(), `daxkit-${fstype}-`);
  const img = path.join(base, 'fs.img');
  const dir = path.join(base, 'mnt');
  fs.mkdirSync(dir);
  fs.writeFileSync(img, '');
  fs.truncateSync(img, sizeMiB * MiB);
  try {
    sh(fstype === 'xfs' ? 'mkfs.xfs' : 'mkfs.ext4', fstype === 'xfs' ? ['-q', '-f', ...mkfsArgs, img] : ['-q', '-F', '-b', '4096', ...mkfsArgs, img]);
    sh('mount', ['-o', mountOpts ? `loop,${mountOpts}` : 'loop', img, dir]);
  } catch (e) {
    fs.rmSync(base, { recursive: true, force: true });
    throw e;
  }
  const dev = findMount(fs.realpathSync(dir), readMounts())?.source ?? '';
  return {
    dir,
    dev,
    cleanup: () => {
      spawnSync('umount', [dir]);
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * A loop-mounted `fstype` for the enclosing describe(): mounted in its
 * before() hook, unmounted in its after(). Where it cannot be made (not
 * root, no mkfs), registers one pending test saying why and returns null:
 * the caller returns too.
 */
export function useLoopMount(fstype: 'ext4' | 'xfs', sizeMiB = 300, mkfsArgs: string[] = []): (() => LoopMount) | null {
  const blocker = loopMountBlocker(fstype);
  if (blocker !== null) {
    it(`cannot run: ${blocker}`);
    return null;
  }
  let mnt: LoopMount | undefined;
  before(() => {
    mnt = loopMount(fstype, sizeMiB, '', mkfsArgs);
  });
  after(() => mnt?.cleanup());
  return () => mnt as LoopMount;
}
