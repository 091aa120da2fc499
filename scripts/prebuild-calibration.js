// The benchmark's calibration module (binding.gyp's daxkit_calibrate target)
// where the package ships it: prebuildify builds both targets but takes only
// the addon to prebuilds/, so this copies the other from the same build/ to
// prebuilds/<platform>-<arch>/calibrate/, stripped as prebuildify strips
// (lib/bench/native.ts looks there; node-gyp-build does not). `npm run
// prebuild` runs it after prebuildify; prepack.js after its scratch build.
// Plain JavaScript, like prepack.js: it runs before anything is compiled.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function libc() {
  // As prebuildify decides the tag (its isAlpine()).
  return fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
}

/** Where the package ships it, under `root`. */
function shippedCalibration(root) {
  return path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'calibrate', `daxkit_calibrate.${libc()}.node`);
}

/** Copies and strips it from `buildRoot`/build/Release to under `root`; returns the file, or throws saying what is missing. */
function prebuildCalibration(buildRoot, root) {
  const built = path.join(buildRoot, 'build', 'Release', 'daxkit_calibrate.node');
  if (!fs.existsSync(built)) throw new Error(`node-gyp built no ${built} (the benchmark's calibration)`);
  const target = shippedCalibration(root);
  fs.rmSync(path.dirname(target), { recursive: true, force: true });
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(built, target);
  const r = spawnSync('strip', ['--strip-all', target], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`strip ${target} failed (${r.error ? r.error.message : `exit status ${r.status ?? r.signal}`})`);
  return target;
}

module.exports = { libc, shippedCalibration, prebuildCalibration };

if (require.main === module) {
  const root = path.join(__dirname, '..');
  try {
    process.stdout.write(`${path.relative(root, prebuildCalibration(root, root))}\n`);
  } catch (e) {
    process.stderr.write(`daxkit prebuild: ${e.message}\n`);
    process.exit(1);
  }
}
