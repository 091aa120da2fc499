// The shipped binary: `npm pack` runs scripts/prepack.js, which builds a
// stripped Node-API binary tagged by libc into prebuilds/linux-x64/ (in a
// scratch copy, leaving the clone's build/ alone), and refuses, saying what
// is missing, where it cannot build one. The tarball is packed.ts's.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkTempDir } from '../helpers';
import { copyClone, getPacked, run, userEnv, userPath, type Packed } from './packed';

describe('prebuilds', function () {
  this.timeout(300_000);
  let p: Packed;
  before(() => {
    p = getPacked();
  });

  it('npm pack ships a stripped Node-API binary tagged by libc, and the calibration module apart', function () {
    const libc = fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
    assert.deepEqual(
      p.files.filter((f) => f.startsWith('prebuilds/')),
      [`prebuilds/linux-${process.arch}/calibrate/daxkit_calibrate.${libc}.node`, `prebuilds/linux-${process.arch}/daxkit.${libc}.node`],
    );
    for (const bin of [
      path.join(p.installed, 'prebuilds', `linux-${process.arch}`, `daxkit.${libc}.node`),
      path.join(p.installed, 'prebuilds', `linux-${process.arch}`, 'calibrate', `daxkit_calibrate.${libc}.node`),
    ]) {
      // readelf comes with the compiler toolchain (binutils); stripped means no .symtab.
      const sections = run('readelf', ['-S', '-W', bin], { cwd: p.work });
      assert.equal(sections.status, 0, sections.stderr);
      assert.match(sections.stdout, /\.dynsym/);
      assert.doesNotMatch(sections.stdout, /\.symtab/);
      // A Node-API module: it imports napi_* and no V8 or libuv symbol.
      const syms = run('readelf', ['--dyn-syms', '-W', bin], { cwd: p.work }).stdout;
      assert.match(syms, /\bnapi_module_register\b|\bnapi_create_function\b/);
      assert.doesNotMatch(syms, /_ZN2v8|\buv_/);
    }
  });

  it('the shipped addon holds neither the calibration nor a test hook', function () {
    const libc = fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
    const bin = path.join(p.installed, 'prebuilds', `linux-${process.arch}`, `daxkit.${libc}.node`);
    const text = fs.readFileSync(bin).toString('latin1');
    for (const s of ['calibrate', 'DAXKIT_TEST', 'trace']) assert.equal(text.includes(s), false, `${s} in ${bin}`);
    const r = run('node', ['-e', `const b = require(${JSON.stringify(bin)}); console.log(Object.keys(b).filter((k) => /calibrat|trace/i.test(k)).join(','))`], { cwd: p.work });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '');
  });

  it("packing leaves the clone's build/ as it was", function () {
    assert.equal(fs.readFileSync(path.join(p.clone, 'build', 'Release', 'daxkit.node'), 'utf8'), 'a developer build');
  });

  it('npm pack refuses, naming what is missing, where no compiler can build the binary', function () {
    const work = mkTempDir();
    try {
      const clone = path.join(work, 'clone');
      copyClone(clone);
      const r = run('npm', ['pack', '--pack-destination', work], { cwd: clone, env: userEnv(userPath(path.join(work, 'bin'))) });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /daxkit prepack: the package must ship a prebuilt binary \(prebuilds\/linux-x64\/daxkit\.(glibc|musl)\.node\) so that users need no compiler, and building it needs a C\+\+ compiler \(c\+\+, g\+\+ or clang\+\+\), make, python3 \(node-gyp runs gyp\), strip \(binutils\), not found on PATH/);
      assert.deepEqual(fs.readdirSync(work).filter((f) => f.endsWith('.tgz')), [], 'no tarball');
      assert.equal(fs.existsSync(path.join(clone, 'prebuilds')), false);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
