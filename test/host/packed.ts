// The package as a user gets it, made once per test process: `npm pack` of a
// copy of this clone (its tracked and untracked-but-not-ignored files, as a
// fresh clone plus the change at hand), with its real prepack, then
// `npm install` of the tarball into a new project, with a PATH on which there
// is no compiler, no make and no Python. Shared by 35.package and 36.prebuild.
import * as assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkTempDir } from '../helpers';

export const ROOT = path.join(__dirname, '..', '..', '..');

/** What must not be found on the user's PATH: everything node-gyp would need. */
export const BUILD_TOOLS = ['cc', 'c++', 'gcc', 'g++', 'clang', 'make', 'python', 'python3'];

export interface Packed {
  work: string;
  /** The copy of the clone that was packed. */
  clone: string;
  tgz: string;
  /** The tarball's files, without the leading package/. */
  files: string[];
  /** The user's project, with daxkit installed from the tarball. */
  app: string;
  installed: string;
  /** An environment whose PATH holds node, npm, npx and a shell's basic tools, nothing that compiles. */
  env: NodeJS.ProcessEnv;
  installLog: string;
}

let packed: Packed | null = null;

export function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what}: exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function which(cmd: string): string {
  return fs.realpathSync(ok(run('/bin/sh', ['-c', `command -v ${cmd}`], { cwd: ROOT }), `command -v ${cmd}`).trim());
}

/** A directory to be the whole PATH: node, npm, npx and the basic tools npm's scripts use, nothing that builds. */
export function userPath(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(process.execPath, path.join(dir, 'node'));
  for (const t of ['npm', 'npx', 'sh', 'bash', 'env', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'mv', 'ln', 'uname', 'head', 'tail', 'grep', 'sed']) {
    fs.symlinkSync(which(t), path.join(dir, t));
  }
  return dir;
}

/** A minimal environment with only `bin` on PATH: no CC/CXX/PYTHON or npm_config_* inherited. */
export function userEnv(bin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: bin, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, LANG: 'C.UTF-8' };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env;
}

/** The copy of the clone that `npm pack` runs in: what git tracks or would add, as it is on disk now. */
export function copyClone(to: string): void {
  const list = ok(run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT }), 'git ls-files').split('\0').filter(Boolean);
  for (const f of list) {
    const from = path.join(ROOT, f);
    const st = fs.lstatSync(from, { throwIfNoEntry: false });
    if (st === undefined) continue; // deleted in the work tree
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(from), path.join(to, f)); // the sysfs fixtures
    } else {
      fs.copyFileSync(from, path.join(to, f));
      fs.chmodSync(path.join(to, f), st.mode);
    }
  }
  // The build tools of this clone, as `npm ci` installed them.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(to, 'node_modules'));
}

export function getPacked(): Packed {
  if (packed !== null) return packed;
  const work = mkTempDir();
  process.once('exit', () => fs.rmSync(work, { recursive: true, force: true }));
  const clone = path.join(work, 'clone');
  copyClone(clone);
  // A developer's build/ that packing must leave alone.
  fs.mkdirSync(path.join(clone, 'build', 'Release'), { recursive: true });
  fs.writeFileSync(path.join(clone, 'build', 'Release', 'daxkit.node'), 'a developer build');

  const tgz = path.join(work, ok(run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: clone }), 'npm pack').trim().split('\n').pop()!);
  const files = ok(run('tar', ['tzf', tgz], { cwd: work }), 'tar tzf')
    .trim()
    .split('\n')
    .map((f) => f.replace(/^package\//, ''))
    .sort();

  const env = userEnv(userPath(path.join(work, 'bin')));
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
  // Offline where the npm cache has the two dependencies (npm ci of the clone
  // put them there); the registry otherwise.
  const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', tgz], { cwd: app, env });
  const installLog = ok(install, 'npm install of the tarball with no compiler') + install.stderr;
  packed = { work, clone, tgz, files, app, installed: path.join(app, 'node_modules', 'daxkit'), env, installLog };
  return packed;
}
