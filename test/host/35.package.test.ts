// The package as users get it: require and import by name, the CLI entry.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkTempDir } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli.js');

function node(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the package', function () {
  let app: string;
  before(() => {
    // A user's project with daxkit in node_modules.
    app = mkTempDir();
    fs.mkdirSync(path.join(app, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(app, 'node_modules', 'daxkit'));
  });
  after(() => fs.rmSync(app, { recursive: true, force: true }));

  it("require('daxkit') gives the API", function () {
    const r = node(['-e', "const d = require('daxkit'); console.log(typeof d.open, typeof d.statx, d.STATX_ATTR_DAX, d.FS_XFLAG_DAX, d.MAP_SYNC)"], app);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function 2097152 32768 524288');
  });

  it("import { open } from 'daxkit' works from an ES module", function () {
    fs.writeFileSync(path.join(app, 'main.mjs'), "import { open, DaxMapping, DaxMediaError } from 'daxkit';\nimport daxkit from 'daxkit';\nconsole.log(typeof open, typeof DaxMapping, typeof DaxMediaError, daxkit.open === open);\n");
    const r = node(['main.mjs'], app);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function function true');
  });

  it('installing compiles the TypeScript without running prebuildify (no "build" script, whose pre-hook "prebuild" is)', function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.build, undefined);
    assert.match(pkg.scripts.prebuild, /prebuildify/);
    assert.doesNotMatch(pkg.scripts.prepare, /\bbuild\b/);
  });

  it('ships .d.ts types next to the compiled JS', function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { types: string; bin: { daxkit: string } };
    assert.ok(fs.existsSync(path.join(ROOT, pkg.types)));
    assert.match(fs.readFileSync(path.join(ROOT, pkg.types), 'utf8'), /export \{ open, DaxMapping/);
    assert.equal(pkg.bin.daxkit, 'dist/lib/cli.js');
  });

  describe('the daxkit command', function () {
    it('--version and help', function () {
      const v = node([CLI, '--version'], app);
      assert.equal(v.status, 0);
      assert.equal(v.stdout.trim(), (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
      const h = node([CLI, 'help'], app);
      assert.equal(h.status, 0);
      assert.match(h.stdout, /^Usage: daxkit COMMAND/);
      assert.match(h.stdout, /\n {2}vm {2,}run a command in a throw-away VM/);
      const hv = node([CLI, 'help', 'vm'], app);
      assert.equal(hv.status, 0);
      assert.match(hv.stdout, /^Usage: daxkit vm \[OPTIONS\] \[--\] COMMAND/);
      assert.equal(node([CLI, 'vm', '--help'], app).stdout, hv.stdout);
    });

    it('output into a pipe that closes early ends quietly (no EPIPE crash)', function () {
      // ~300 KB of status lines, far more than a pipe holds, read one line of.
      const paths = Array.from({ length: 3000 }, () => app).join(' ');
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" status ${paths} | head -n 1; echo "exit=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
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
        const r = node([CLI, ...args], app);
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
    const d = fs.readFileSync(path.join(ROOT, 'dist', 'lib', 'mapping.d.ts'), 'utf8');
    const body = d.slice(d.indexOf('export declare class DaxMapping'), d.indexOf('\n}', d.indexOf('export declare class DaxMapping')));
    const members = [...body.matchAll(/^ {4}(?:readonly |get )?([a-zA-Z]+)[(:<]/gm)].map((m) => m[1]).filter((n) => n !== 'constructor');
    const table = api.slice(api.indexOf('### `DaxMapping`'), api.indexOf('### `statx'));
    const missing = [...new Set(members)].filter((name) => !table.includes(`\`${name}`));
    assert.deepEqual(missing, [], `DaxMapping members missing from the README: ${missing.join(', ')}`);
    const documented = [...table.matchAll(/^\| `([a-zA-Z]+)/gm)].map((m) => m[1]);
    const extra = documented.filter((n) => !members.includes(n));
    assert.deepEqual(extra, [], `README documents DaxMapping members that do not exist: ${extra.join(', ')}`);
  });

  it('names the two commands of a fresh clone, and npm test', function () {
    const firstScreen = readme.split('\n').slice(0, 25).join('\n');
    assert.match(firstScreen, /\nnpm ci && npx daxkit bench /);
    assert.match(firstScreen, /npm run vm -- node scripts\/examples\/hello-dax\.js/);
    assert.match(firstScreen, /\nnpm test /);
    assert.ok(fs.existsSync(path.join(ROOT, 'scripts', 'examples', 'hello-dax.js')));
  });
});
