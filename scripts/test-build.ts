// The test build of the addon: test/native/binding.gyp, the targets of
// binding.gyp with the test hooks compiled in (DAXKIT_TEST: the persistence
// trace, and a runtime that refuses external buffers), built with node-gyp
// into test/native/build/, apart from the shipped build/, and never packed.
// A process loads it instead of the shipped one with DAXKIT_PREBUILD set to
// test/native (node-gyp-build's own override, so lib/ has no hook for it).
//
//   node dist/scripts/test-build.js      builds it (make: only what changed)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
export const TEST_BUILD_DIR = path.join(ROOT, 'test', 'native');
export const TEST_ADDON = path.join(TEST_BUILD_DIR, 'build', 'Release', 'daxkit.node');

/**
 * The environment of a process that is to load the test build (not a
 * prebuilt binary, which PREBUILDS_ONLY, as in npm run test:prebuild, asks for).
 */
export function testBuildEnv(): { DAXKIT_PREBUILD: string; PREBUILDS_ONLY: string } {
  return { DAXKIT_PREBUILD: TEST_BUILD_DIR, PREBUILDS_ONLY: '' };
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

// npm's own node-gyp, as `npm install` runs it: npm names it to its scripts,
// and otherwise it sits in npm's node_modules.
function nodeGyp(): string | null {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return fromNpm;
  const npm = sh('sh', ['-c', 'command -v npm']);
  if (npm === '') return null;
  const bundled = path.join(path.dirname(fs.realpathSync(npm)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return fs.existsSync(bundled) ? bundled : null;
}

// The Node.js headers npm is configured to build against (.ci/run points npm
// at the distribution's); node-gyp downloads them otherwise.
function nodeDir(): string | null {
  const dir = process.env.npm_config_nodedir || sh('npm', ['config', 'get', 'nodedir']);
  return dir === '' || dir === 'undefined' || dir === 'null' ? null : dir;
}

function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Builds the test build where its sources changed since, and returns null,
 * or the reason it cannot be built here (then the output of node-gyp).
 */
export function buildTestAddon(): string | null {
  const gyp = nodeGyp();
  if (gyp === null) return "node-gyp not found (it comes with npm: run under npm, or put npm's node-gyp on PATH)";
  const makefile = path.join(TEST_BUILD_DIR, 'build', 'Makefile');
  const gyps = [path.join(ROOT, 'binding.gyp'), path.join(TEST_BUILD_DIR, 'binding.gyp')];
  const sources = newest(path.join(ROOT, 'native'));
  if (fs.existsSync(TEST_ADDON) && fs.statSync(TEST_ADDON).mtimeMs >= Math.max(sources, ...gyps.map((g) => fs.statSync(g).mtimeMs))) return null;
  const dir = nodeDir();
  const steps: string[][] = [];
  if (!fs.existsSync(makefile) || gyps.some((g) => fs.statSync(g).mtimeMs > fs.statSync(makefile).mtimeMs)) {
    steps.push(['configure', ...(dir ? [`--nodedir=${dir}`] : [])]);
  }
  steps.push(['build', '-j', '2']);
  for (const s of steps) {
    const r = spawnSync(process.execPath, [gyp, ...s], { cwd: TEST_BUILD_DIR, encoding: 'utf8' });
    if (r.status !== 0) return `node-gyp ${s[0]} of test/native failed (exit ${r.status ?? r.signal}):\n${(r.stdout + r.stderr).trim().split('\n').slice(-30).join('\n')}`;
  }
  return fs.existsSync(TEST_ADDON) ? null : `node-gyp built no ${path.relative(ROOT, TEST_ADDON)}`;
}

if (require.main === module) {
  const why = buildTestAddon();
  if (why !== null) {
    process.stderr.write(`daxkit: the test build: ${why}\n`);
    process.exit(1);
  }
  process.stdout.write(`${path.relative(ROOT, TEST_ADDON)}\n`);
}
