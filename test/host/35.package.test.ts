// The package as users get it: `npm pack` (with its prepack), then
// `npm install` of the tarball into a new project on a machine with no
// compiler and no Python on PATH (see packed.ts), then require, import, the
// CLI through npx, and a mapping written, persisted and read back.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILD_TOOLS, getPacked, ROOT, run, type Packed } from './packed';
import { readmeExamples } from '../helpers';

function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p, base) : [path.relative(base, p)];
  });
}

describe('the package', function () {
  this.timeout(300_000);
  let p: Packed;
  // node, or the installed daxkit command, run in the user's project with the user's PATH.
  const node = (args: string[]) => run('node', args, { cwd: p.app, env: p.env });
  const npx = (args: string[]) => run('npx', ['--no-install', 'daxkit', ...args], { cwd: p.app, env: p.env });
  before(() => {
    p = getPacked();
  });

  // Compiled only with daxkit_test=1 (binding.gyp): the test hooks and the persistence trace.
  const TEST_BUILD_ONLY = ['native/test_hooks.cc', 'native/core/trace.cc'];

  it('the tarball holds exactly what users run: the compiled JS and types, the prebuilt binary, the native sources, the VM harness, the example, LICENSE', function () {
    const src = walk(p.clone).filter((f) => f !== 'node_modules' && !f.startsWith('dist/') && !f.startsWith('build/') && !f.startsWith('prebuilds/'));
    const compiled = (dir: string, out: string): string[] =>
      src
        .filter((f) => f.startsWith(`${dir}/`) && f.endsWith('.ts') && !f.endsWith('.d.ts'))
        .flatMap((f) => [`${out}/${f.slice(dir.length + 1, -3)}.js`, `${out}/${f.slice(dir.length + 1, -3)}.d.ts`]);
    const expected = [
      'LICENSE',
      'README.md',
      'package.json',
      'binding.gyp',
      // native/ but the test build's own sources (its hooks and the persistence trace: binding.gyp's daxkit_test=1).
      ...src.filter((f) => (f.startsWith('native/') && !TEST_BUILD_ONLY.includes(f)) || f.startsWith('scripts/pmem-vm/') || f.startsWith('scripts/examples/')),
      ...compiled('lib', 'dist/lib'),
      `prebuilds/linux-${process.arch}/daxkit.${fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc'}.node`,
      `prebuilds/linux-${process.arch}/calibrate/daxkit_calibrate.${fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc'}.node`,
    ].sort();
    assert.deepEqual(p.files, expected);
    // The same, said as the rules it follows.
    assert.ok(p.files.includes('LICENSE'));
    assert.deepEqual(p.files.filter((f) => /run-tests|(^|\/)test\/|\.test\.|\.map$|prepack/.test(f)), []);
    assert.deepEqual(p.files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), []);
    assert.deepEqual(p.files.filter((f) => TEST_BUILD_ONLY.includes(f)), [], 'the test build\'s sources ship');
    const license = fs.readFileSync(path.join(p.installed, 'LICENSE'), 'utf8');
    assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 the daxkit authors\n/);
    assert.equal((JSON.parse(fs.readFileSync(path.join(p.installed, 'package.json'), 'utf8')) as { license: string }).license, 'MIT');
  });

  it('installs where no compiler, make or Python is on PATH, without node-gyp', function () {
    for (const tool of BUILD_TOOLS) {
      const r = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env: p.env, encoding: 'utf8' });
      assert.notEqual(r.status, 0, `${tool} is on the test's PATH: ${r.stdout}`);
    }
    for (const tool of ['node', 'npm', 'npx']) assert.equal(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env: p.env }).status, 0, tool);
    assert.doesNotMatch(p.installLog, /gyp (info|ERR)|node-gyp rebuild/);
    assert.equal(fs.existsSync(path.join(p.installed, 'build')), false, 'nothing was built');
  });

  it("require('daxkit') gives the API", function () {
    const r = node(['-e', "const d = require('daxkit'); console.log(typeof d.open, typeof d.statx, d.STATX_ATTR_DAX, d.FS_XFLAG_DAX, d.MAP_SYNC)"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function 2097152 32768 524288');
  });

  it('maps a file, writes, persists and reads it back, with the prebuilt binary loaded', function () {
    const script = `
      const fs = require('fs'), path = require('path');
      const { open } = require('daxkit');
      const file = path.join(fs.mkdtempSync(path.join(require('os').tmpdir(), 'daxkit-user-')), 'f');
      const m = open(file, { size: 1 << 20, create: true, sync: 'auto' });
      m.bytes.set(Buffer.from('hello'), 4096);
      m.persist(4096, 5);
      console.log(m.kind, m.mapSync, m.flushMechanism, m.read(4096, 5).toString());
      m.close();
      console.log(fs.readFileSync(file).subarray(4096, 4101).toString(), m.closed);
      fs.rmSync(path.dirname(file), { recursive: true });
      // The shared objects this process loaded that belong to daxkit.
      const so = new Set(fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((f) => f && f.endsWith('.node')));
      console.log([...so].join(','));`;
    const r = node(['-e', script]);
    assert.equal(r.status, 0, r.stderr);
    const [first, second, loaded] = r.stdout.trim().split('\n');
    assert.match(first, /^(pagecache false msync|fsdax true clwb|fsdax true clflushopt|fsdax true clflush) hello$/);
    assert.equal(second, 'hello true');
    assert.equal(loaded, path.join(fs.realpathSync(p.installed), 'prebuilds', `linux-${process.arch}`, `daxkit.${fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc'}.node`));
  });

  it('daxkit bench --calibrate runs the native calibration from the installed package (its prebuilt module, no compiler)', function () {
    const work = fs.mkdtempSync(path.join(p.app, 'bench-'));
    const r = npx(['bench', work, '--size', '2M', '--bs', '4k', '--pattern', 'seq', '--backend', 'pread', '--no-fio', '--calibrate', '--no-faults', '--time', '0.05', '--warmup', '0.02', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { runs: Array<{ notes: string[]; calibration: { items: Record<string, { status: string; path: string; error?: string }> } | null }> };
    const run = doc.runs[0];
    assert.ok(run.calibration !== null, `no calibration: ${run.notes.join(' | ')}`);
    for (const item of ['noop', 'native-persist', 'native-nt']) assert.equal(run.calibration.items[item].status, 'ok', `${item}: ${run.calibration.items[item].error}`);
    assert.match(run.calibration.items['native-persist'].path, /^calibratePersist: a C\+\+ loop/);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("the README's example that runs anywhere runs as written", function () {
    fs.writeFileSync(path.join(p.app, 'readme-example.js'), readmeExamples()[0]);
    const r = node(['readme-example.js']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^(pagecache false msync|fsdax true (clwb|clflushopt|clflush))\n$/);
  });

  it("import { open } from 'daxkit' works from an ES module", function () {
    fs.writeFileSync(path.join(p.app, 'main.mjs'), "import { open, DaxMapping, DaxMediaError } from 'daxkit';\nimport daxkit from 'daxkit';\nconsole.log(typeof open, typeof DaxMapping, typeof DaxMediaError, daxkit.open === open);\n");
    const r = node(['main.mjs']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function function true');
  });

  it('ships .d.ts types next to the compiled JS', function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(p.installed, 'package.json'), 'utf8')) as { types: string; bin: { daxkit: string } };
    const types = fs.readFileSync(path.join(p.installed, pkg.types), 'utf8');
    assert.match(types, /export \{ open \}/);
    assert.match(types, /export \{ DaxMapping, cpuInfo \}/);
    assert.equal(pkg.bin.daxkit, 'dist/lib/cli/main.js');
  });

  it('installing a clone compiles the TypeScript without running prebuildify (no "build" script, whose pre-hook "prebuild" is)', function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.build, undefined);
    assert.match(pkg.scripts.prebuild, /prebuildify/);
    assert.doesNotMatch(pkg.scripts.prepare, /\bbuild\b/);
  });

  describe('the daxkit command, through npx', function () {
    it('--help, --version, help vm', function () {
      const h = npx(['--help']);
      assert.equal(h.status, 0, h.stderr);
      assert.match(h.stdout, /^Usage: daxkit COMMAND/);
      assert.match(h.stdout, /\n {2}vm {2,}run a command in a throw-away VM/);
      const v = npx(['--version']);
      assert.equal(v.status, 0);
      assert.equal(v.stdout.trim(), (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
      const hv = npx(['help', 'vm']);
      assert.equal(hv.status, 0);
      assert.match(hv.stdout, /^Usage: daxkit vm \[OPTIONS\] \[--\] COMMAND/);
      assert.equal(npx(['vm', '--help']).stdout, hv.stdout);
    });

    it('devices --json prints the devices of this machine as a JSON array', function () {
      const r = npx(['devices', '--json']);
      assert.equal(r.status, 0, r.stderr);
      const list = JSON.parse(r.stdout) as Array<{ dev: string; type: string }>;
      assert.ok(Array.isArray(list));
      for (const d of list) assert.ok(typeof d.dev === 'string' && typeof d.type === 'string', JSON.stringify(d));
    });

    it('output into a pipe that closes early ends quietly (no EPIPE crash)', function () {
      // ~300 KB of status lines, far more than a pipe holds, read one line of.
      const paths = Array.from({ length: 3000 }, () => p.app).join(' ');
      const r = spawnSync('/bin/bash', ['-c', `node_modules/.bin/daxkit status ${paths} | head -n 1; echo "exit=\${PIPESTATUS[0]}"`], { cwd: p.app, env: p.env, encoding: 'utf8' });
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^PATH +TYPE +DAX +FLAG +MOUNT +DEVICE +REASON\nexit=0\n$/);
    });

    it('usage errors exit 2 with the reason on stderr', function () {
      for (const [args, msg] of [
        [[], /^Usage: daxkit COMMAND/],
        [['frobnicate'], /^daxkit: unknown command 'frobnicate'\nTry 'daxkit help' for more information\.$/],
        [['help', 'nope'], /^daxkit: unknown command 'nope'/],
        [['vm', '--bogus'], /^daxkit: unknown option '--bogus' \(the guest command goes after --: daxkit vm \[OPTIONS\] -- COMMAND\)\nTry 'daxkit vm --help' for more information\.$/],
        [['vm', '--mem'], /^daxkit: option '--mem' needs a value\n/],
        [['vm', '--mem', '1G'], /^daxkit: no command given/],
      ] as const) {
        const r = npx([...args]);
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.match(r.stderr.trim(), msg);
      }
    });
  });
});

describe('the README', function () {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const api = readme.slice(readme.indexOf('## API'), readme.indexOf('## Real DAX without pmem hardware'));

  it('documents every export of the package', function () {
    const exported = Object.keys(require(ROOT) as object);
    const missing = exported.filter((name) => !api.includes(`\`${name}`));
    assert.deepEqual(missing, [], `exports missing from the README's API section: ${missing.join(', ')}`);
  });

  it('documents every public member of DaxMapping, and nothing that is not there', function () {
    const d = fs.readFileSync(path.join(ROOT, 'dist', 'lib', 'mapping', 'dax-mapping.d.ts'), 'utf8');
    const body = d.slice(d.indexOf('export declare class DaxMapping'), d.indexOf('\n}', d.indexOf('export declare class DaxMapping')));
    const members = [...body.matchAll(/^ {4}(?:readonly |get )?([a-zA-Z]+)[(:<]/gm)].map((m) => m[1]).filter((n) => n !== 'constructor');
    const table = api.slice(api.indexOf('### `DaxMapping`'), api.indexOf('### `statx'));
    const missing = [...new Set(members)].filter((name) => !table.includes(`\`${name}`));
    assert.deepEqual(missing, [], `DaxMapping members missing from the README: ${missing.join(', ')}`);
    const documented = [...table.matchAll(/^\| `([a-zA-Z]+)/gm)].map((m) => m[1]);
    const extra = documented.filter((n) => !members.includes(n));
    assert.deepEqual(extra, [], `README documents DaxMapping members that do not exist: ${extra.join(', ')}`);
  });

  it('leads with the install, an example that runs anywhere, the DAX one, the VM hello, npm test, then the benchmark', function () {
    const first = readme.slice(0, readme.indexOf('## When not to use this'));
    const steps = [
      '\nnpm install daxkit ',
      "sync: 'auto'",
      "sync: 'required'",
      '\nnpx daxkit vm -- node node_modules/daxkit/scripts/examples/hello-dax.js ',
      '\nnpm run vm -- node scripts/examples/hello-dax.js ',
      '\nnpm test ',
      '`npx daxkit bench`',
    ];
    const at = steps.map((x) => first.indexOf(x));
    assert.ok(at.every((i) => i >= 0), `missing: ${steps.filter((_, i) => at[i] < 0).join(', ')}`);
    assert.deepEqual([...at].sort((a, b) => a - b), at, 'in this order');
    assert.ok(fs.existsSync(path.join(ROOT, 'scripts', 'examples', 'hello-dax.js')));
    assert.equal(readmeExamples()[1].includes("open('/mnt/pmem/log'"), true, 'the second example is the DAX one');
  });
});
