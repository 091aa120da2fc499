// npm pack / npm publish: compiles the TypeScript afresh and builds the
// stripped Node-API binaries that the package ships in prebuilds/ (the addon,
// and the benchmark's calibration module in prebuilds/<platform>/calibrate/),
// so that `npm install daxkit-x.y.z.tgz` loads them and never needs a
// compiler. It refuses, saying what is missing, rather than pack a tarball
// without them.
//
// Plain JavaScript: it runs before anything is compiled. The binary is built
// in a scratch copy of binding.gyp and native/, because prebuildify runs
// `node-gyp rebuild` where it is pointed and then moves the result out of
// build/: in the clone that would wipe a developer's build/.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { libc, prebuildCalibration, shippedCalibration } = require('./prebuild-calibration.js');

const ROOT = path.join(__dirname, '..');
const PLATFORM = `${process.platform}-${process.arch}`;

function fail(msg) {
  process.stderr.write(`daxkit prepack: ${msg}\n`);
  process.exit(1);
}

// lib/vm/harness.ts has the same test (commandExists), but this file runs
// before the TypeScript is compiled.
function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function run(what, cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (r.status !== 0) fail(`${what} failed (${r.error ? r.error.message : `exit status ${r.status ?? r.signal}`})`);
}

const LIBC = libc();
const CALIBRATE = shippedCalibration(ROOT);

if (process.platform !== 'linux' || process.arch !== 'x64') {
  fail(`the package ships a linux-x64 binary and is packed on linux-x64 (this is ${PLATFORM})`);
}
if (!fs.existsSync(path.join(ROOT, 'node_modules', 'prebuildify')) || !fs.existsSync(path.join(ROOT, 'node_modules', 'typescript'))) {
  fail('the build tools are not installed: run npm ci first');
}
const missing = [];
if (!have('c++') && !have('g++') && !have('clang++')) missing.push('a C++ compiler (c++, g++ or clang++)');
if (!have('make')) missing.push('make');
if (!have('python3') && !have('python')) missing.push('python3 (node-gyp runs gyp)');
if (!have('strip')) missing.push('strip (binutils)');
if (missing.length > 0) {
  fail(
    `the package must ship a prebuilt binary (prebuilds/${PLATFORM}/daxkit.${LIBC}.node) so that users need no compiler, ` +
      `and building it needs ${missing.join(', ')}, not found on PATH. On Debian or Ubuntu: apt-get install build-essential python3. Nothing was packed.`,
  );
}

// What the tarball holds of dist/ is exactly what the sources compile to:
// no file left over from a source since renamed or removed.
for (const d of ['lib', 'scripts']) fs.rmSync(path.join(ROOT, 'dist', d), { recursive: true, force: true });
run('compiling the TypeScript', process.execPath, [require.resolve('typescript/bin/tsc', { paths: [ROOT] }), '-p', 'tsconfig.build.json']);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'daxkit-prebuild-'));
try {
  for (const f of ['binding.gyp', 'package.json', 'native']) fs.cpSync(path.join(ROOT, f), path.join(scratch, f), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(scratch, 'node_modules'));
  const target = path.join(ROOT, 'prebuilds', PLATFORM, `daxkit.${LIBC}.node`);
  fs.rmSync(target, { force: true });
  fs.rmSync(path.dirname(CALIBRATE), { recursive: true, force: true });
  run('building the prebuilt binary', process.execPath, [require.resolve('prebuildify/bin.js', { paths: [ROOT] }), '--napi', '--strip', '--tag-libc', '--cwd', scratch, '--out', ROOT]);
  if (!fs.existsSync(target)) fail(`prebuildify made no ${path.relative(ROOT, target)}`);
  // The same node-gyp run built the calibration module, which prebuildify leaves in build/.
  try {
    prebuildCalibration(scratch, ROOT);
  } catch (e) {
    fail(e.message);
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}

// The binaries that ship must load on their own, with no build/ to fall back on.
run('loading the prebuilt binary', process.execPath, ['-e', "require('./dist/lib/index.js').cpuInfo()"], { env: { ...process.env, PREBUILDS_ONLY: '1' } });
run('loading the prebuilt calibration module', process.execPath, ['-e', "const f = require('./dist/lib/bench/native.js').calibrationModule(); if (f !== process.argv[1]) throw new Error('found ' + f); require('./dist/lib/bench/native.js').calibrateBinding().calibrateNoop()", CALIBRATE], { env: { ...process.env, PREBUILDS_ONLY: '1' } });
