// The shipped binary: `npm run prebuild` makes prebuilds/linux-x64/*.node
// (tagged glibc or musl), and a tarball installed with no compiler at hand
// loads it instead of building. All of it happens in a copy of the packed
// package: prebuildify moves build/Release/daxkit.node into prebuilds/, which
// must not change what the rest of the suite loads.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkTempDir } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('prebuilds', function () {
  this.timeout(300000);
  let work: string;
  let pkg: string;
  let prebuildDir: string;
  before(function () {
    work = mkTempDir();
    const tgz = run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT }).trim().split('\n').pop()!;
    run('tar', ['xzf', path.join(work, tgz), '-C', work], { cwd: work });
    pkg = path.join(work, 'package');
    fs.rmSync(path.join(pkg, 'prebuilds'), { recursive: true, force: true });
    // The build tools (prebuildify, node-gyp-build, node-addon-api) of the checkout.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    run('npm', ['run', '--silent', 'prebuild'], { cwd: pkg });
    prebuildDir = path.join(pkg, 'prebuilds', `linux-${process.arch}`);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('npm run prebuild leaves a stripped Node-API binary tagged by libc', function () {
    const files = fs.readdirSync(prebuildDir);
    const libc = fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
    assert.deepEqual(files, [`daxkit.${libc}.node`]);
    // readelf comes with the compiler toolchain (binutils); stripped means no .symtab.
    const sections = run('readelf', ['-S', '-W', path.join(prebuildDir, files[0])], { cwd: pkg });
    assert.match(sections, /\.dynsym/);
    assert.doesNotMatch(sections, /\.symtab/);
  });

  it('PREBUILDS_ONLY=1 loads the prebuild, not build/', function () {
    const out = run(process.execPath, ['-e', "console.log(require('node-gyp-build').path(process.argv[1])); require(process.argv[1]).cpuInfo()", pkg], {
      cwd: pkg,
      env: { PREBUILDS_ONLY: '1' },
    });
    assert.ok(out.trim().startsWith(prebuildDir), out);
  });

  it('a packed tarball installs and maps a file with no compiler present', function () {
    fs.unlinkSync(path.join(pkg, 'node_modules'));
    const tgz = run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: pkg }).trim().split('\n').pop()!;
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
    // Any attempt to compile fails: no C/C++ compiler, no make, no headers.
    const noCompiler = { CC: '/bin/false', CXX: '/bin/false', MAKE: '/bin/false', npm_config_nodedir: '/nonexistent', npm_config_python: '/bin/false' };
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', path.join(work, tgz)], { cwd: app, env: noCompiler });
    assert.equal(fs.existsSync(path.join(app, 'node_modules', 'daxkit', 'build')), false, 'nothing was built');
    const out = run(
      process.execPath,
      [
        '-e',
        `const d = require('daxkit'); const fs = require('fs');
         fs.writeFileSync('f', Buffer.alloc(4096, 7));
         const m = d.open('f'); console.log(m.kind, m.bytes[9]); m.close();
         console.log(require('node-gyp-build').path(require('path').dirname(require.resolve('daxkit/package.json'))));`,
      ],
      { cwd: app },
    );
    const [first, where] = out.trim().split('\n');
    assert.equal(first, 'pagecache 7');
    assert.match(where, /node_modules\/daxkit\/prebuilds\/linux-x64\/daxkit\.(glibc|musl)\.node$/);
  });
});
