// The emulated-pmem VM harness refuses, before it installs or boots anything,
// what cannot work, with exit status 125 and the reason in plain words.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VM_FLAGS, VM_RUNNER, VM_VALUE_OPTIONS, vmBlocker } from '../../lib/vm/harness';

const ROOT = path.join(__dirname, '..', '..', '..');

function runner(cache: string): { status: number | null; stderr: string } {
  const r = spawnSync(VM_RUNNER, [ROOT, '--', 'true'], { encoding: 'utf8', env: { ...process.env, DAXKIT_VM_CACHE: cache }, timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('the VM harness refuses a cache that cannot work', function () {
  const root = process.getuid?.() === 0;
  const t = root ? it : (title: string) => it(`${title} [pending: the harness checks its cache after its root check; run as root]`);

  t('a cache under /tmp, /var/tmp or /dev/shm, which the guest covers with its own tmpfs', function () {
    for (const cache of [path.join(os.tmpdir(), 'daxkit-vm-cache'), '/var/tmp/daxkit-vm-cache', '/dev/shm/daxkit-vm-cache']) {
      const r = runner(cache);
      assert.equal(r.status, 125, cache);
      assert.match(r.stderr, /covers with a tmpfs of its own; set DAXKIT_VM_CACHE to a place elsewhere/, cache);
    }
  });

  t('a relative cache path', function () {
    const rel = runner('relative/cache');
    assert.equal(rel.status, 125);
    assert.match(rel.stderr, /DAXKIT_VM_CACHE must be an absolute path/);
  });

  // Only a clone is a git work tree to refuse (a copy of the package is not).
  const inWorkTree = spawnSync('git', ['-C', ROOT, 'rev-parse', '--is-inside-work-tree'], { encoding: 'utf8' }).stdout?.trim() === 'true';
  (inWorkTree ? t : (title: string) => it(`${title} [pending: ${ROOT} is not a git work tree]`))('a cache inside a git work tree', function () {
    const inRepo = runner(path.join(ROOT, 'vm-cache'));
    assert.equal(inRepo.status, 125);
    assert.match(inRepo.stderr, /inside a git work tree/);
  });
});

describe('the VM harness options for the kinds of memory', function () {
  const usage = spawnSync(VM_RUNNER, ['--help'], { encoding: 'utf8' }).stderr;

  it('run.sh --help documents exactly the options daxkit vm passes through, each with a value or without as daxkit vm takes it', function () {
    const documented = new Map<string, boolean>();
    for (const m of usage.matchAll(/^ {2}(--[a-z0-9-]+)(?: (\S+))?/gm)) documented.set(m[1], m[2] !== undefined);
    documented.delete('--help');
    const passed = new Map<string, boolean>([...VM_VALUE_OPTIONS.map((o) => [o, true] as const), ...VM_FLAGS.map((o) => [o, false] as const)]);
    assert.deepEqual([...documented].sort(), [...passed].sort());
    for (const o of ['--virtio-pmem', '--hmem', '--cxl', '--nvdimm-persistence', '--nvdimm-unarmed', '--legacy']) assert.ok(passed.has(o), o);
  });

  it('run.sh --help, daxkit vm --help and the README name the same guest variables', function () {
    const vars = (text: string): string[] => [...new Set(text.match(/\bPMEM_[A-Z0-9_]+/g))].sort();
    const cli = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'lib', 'cli', 'main.js'), 'vm', '--help'], { encoding: 'utf8' }).stdout;
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const vmSection = readme.slice(readme.indexOf('## Real DAX without pmem hardware'), readme.indexOf('\n## ', readme.indexOf('## Real DAX without pmem hardware') + 1));
    const fromRunner = vars(usage);
    for (const v of ['PMEM_VIRTIO_DIR', 'PMEM_VIRTIO_DEV', 'PMEM_HMEM_DEVDAX', 'PMEM_CXL_DIR', 'PMEM_CXL_DEV', 'PMEM_CXL_MEMDEV', 'PMEM_CXL_REGION', 'PMEM_UNARMED_REGION']) assert.ok(fromRunner.includes(v), v);
    assert.deepEqual(vars(cli), fromRunner, 'daxkit vm --help');
    assert.deepEqual(vars(vmSection), fromRunner, 'the README section on the VM');
  });

  it('refuses bad sizes and values before it boots anything (exit 2, with the reason)', function () {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DAXKIT_VM_')));
    for (const [args, msg] of [
      [['--cxl', '100M'], /--cxl must be a positive multiple of 256M \(got 100M\)/],
      [['--cxl', 'lots'], /--cxl needs a size such as 256M \(got 'lots'\)/],
      // What the user typed comes back with its control characters escaped, never raw to the terminal.
      [['--cxl', 'lo\x1b]0;title\x07\rts'], /--cxl needs a size such as 256M \(got 'lo\\x1b\]0;title\\x07\\x0dts'\)/],
      // numfmt alone would take the first field and pass the rest to the shell's test.
      [['--mem', '1G\ttab'], /--mem needs a size such as 256M \(got '1G\\x09tab'\)/],
      [['--virtio-pmem', '8M'], /--virtio-pmem must be a positive multiple of 16M/],
      [['--hmem', '3M'], /--hmem must be a positive multiple of 2M/],
      [['--legacy', '1M'], /--legacy must be a positive multiple of 2M/],
      [['--nvdimm-persistence', 'none'], /--nvdimm-persistence must be cpu or mem-ctrl \(got 'none'\)/],
      // 1G + 1G reaches the end of 2G of RAM (pc machine).
      [['--hmem', '1G'], /take guest RAM from 1024M to 2048M .* give --mem from 2064M up to 3583M/],
      // --legacy first, then --hmem, from 1G: 1G + 256M + 3G is beyond any RAM below 4G.
      [['--legacy', '256M', '--hmem', '3G'], /from 1024M to 4352M .* at most 3583M of RAM below 4G: make them smaller/],
      // With CXL (q35), 3G of RAM keeps only 2G below 4G.
      [['--cxl', '256M', '--mem', '3G', '--hmem', '1G'], /below 4G ends at 2048M: give --mem from 2064M up to 2815M \(from --mem 2816M on, QEMU's q35 machine keeps only 2048M below 4G\)/],
    ] as const) {
      const r = spawnSync(VM_RUNNER, [...args, ROOT, '--', 'true'], { encoding: 'utf8', env, timeout: 10_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
      assert.doesNotMatch(r.stderr, /booting/);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(r.stderr, /[\x07\x1b\r]/, `${args.join(' ')}: a raw control character`);
    }
  });

  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'dist', 'lib', 'cli', 'main.js'), 'vm', ...args], { encoding: 'utf8', timeout: 10_000 });

  it('daxkit vm takes a value after each of them but --nvdimm-unarmed', function () {
    for (const o of ['--virtio-pmem', '--hmem', '--cxl', '--nvdimm-persistence']) {
      const r = cli('--nvdimm-unarmed', o);
      assert.equal(r.status, 2, o);
      assert.equal(r.stderr, `daxkit: option '${o}' needs a value\nTry 'daxkit vm --help' for more information.\n`);
    }
  });

  const blocker = vmBlocker();
  const t = blocker === null ? it : (title: string) => it(`${title} [pending: ${blocker}]`);
  t('daxkit vm passes them through to run.sh', function () {
    // run.sh itself rejects the last one, so every option before it reached run.sh.
    const r = cli('--nvdimm-unarmed', '--nvdimm-persistence', 'cpu', '--virtio-pmem', '16M', '--hmem', '2m', '--legacy', '2M', '--cxl', '100M', '--', 'true');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^\[daxkit-vm\] --cxl must be a positive multiple of 256M \(got 100M\)$/m);
  });
});
