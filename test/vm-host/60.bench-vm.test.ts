// daxkit bench with no target on a machine without DAX: it boots the
// emulated-pmem VM itself and measures fsdax and devdax there, against a
// page-cache baseline on the same emulated pmem (xfs mounted dax=never).
// Run from a copy of the package in /tmp, which the guest covers with a tmpfs
// of its own, so that the package must be shared with the guest to run.
// Small and short; speeds are never asserted.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hiddenInGuest, vmBlocker } from '../../lib/vm/harness';
import type { BenchDocument } from '../../lib/bench/report';

const ROOT = path.join(__dirname, '..', '..', '..');
const blocker = vmBlocker();

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('daxkit bench without a target, on a machine without DAX', function () {
  if (blocker !== null) {
    it(`runs itself in the emulated-pmem VM [pending: ${blocker}]`);
    return;
  }
  let copy: string;
  before(function () {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'daxkit-pkg-'));
    assert.ok(hiddenInGuest(copy), `${copy} is visible in the guest: this test needs a package the guest cannot see`);
    // The addon is in build/ (a compiled clone) or prebuilds/ (an installed package).
    for (const d of ['dist', 'build', 'prebuilds', 'scripts', 'package.json']) {
      if (fs.existsSync(path.join(ROOT, d))) fs.cpSync(path.join(ROOT, d), path.join(copy, d), { recursive: true });
    }
    // Copied, not linked: a link to a clone in /tmp would dangle in the guest.
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) fs.cpSync(path.join(ROOT, 'node_modules', dep), path.join(copy, 'node_modules', dep), { recursive: true });
  });
  after(() => fs.rmSync(copy, { recursive: true, force: true }));

  const short = ['--size', '4M', '--bs', '4k', '--time', '0.1', '--warmup', '0.02', '--yes', '--json'];

  it('by default, answers on fsdax against dax=never on the same pmem, from a package in /tmp', async function () {
    const r = await run(process.execPath, [path.join(copy, 'dist', 'lib', 'cli', 'main.js'), 'bench', ...short]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /running inside the emulated-pmem VM \(fsdax on ext4\), which takes about \d+ minutes?:/);
    const doc = JSON.parse(r.stdout) as BenchDocument;
    assert.deepEqual(doc.failures, []);
    assert.deepEqual(doc.runs.map((x) => x.target.kind), ['fsdax']);
    const fsdax = doc.runs[0];
    assert.equal(fsdax.baseline!.fs!.dax_mode, 'never');
    assert.deepEqual(fsdax.answer!.map((a) => [a.direction, a.bs, a.pagecache.jobname]), [
      ['write', 4096, 'baseline:pwrite-fdatasync/write/4k'],
      ['read', 4096, 'baseline:pread/read/4k'],
    ]);
    for (const j of fsdax.jobs) assert.equal(j.verify!.ok, true, j.jobname);
  });

  it('--full runs itself in the VM on fsdax and devdax, against dax=never on the same pmem, from a package in /tmp', async function () {
    const args = [...short, '--full', '--backend', 'mmap-persist,pwrite-fdatasync', '--pattern', 'seq', '--no-fio', '--no-calibrate', '--no-faults'];
    const r = await run(process.execPath, [path.join(copy, 'dist', 'lib', 'cli', 'main.js'), 'bench', ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /running inside the emulated-pmem VM \(fsdax on ext4, then devdax\)/);
    const doc = JSON.parse(r.stdout) as BenchDocument;
    assert.deepEqual(doc.failures, []);
    assert.deepEqual(doc.runs.map((x) => x.target.kind), ['fsdax', 'devdax']);
    for (const run of doc.runs) {
      assert.equal(run.context.vm.inside, true);
      assert.match(run.context.vm.statement!, /TCG|KVM/);
      assert.ok(run.baseline, `${run.label}: a baseline`);
      assert.equal(run.baseline.kind, 'pagecache');
      assert.equal(run.baseline.fs!.type, 'xfs');
      assert.equal(run.baseline.fs!.dax_mode, 'never');
      assert.ok(run.notes.some((n) => /same emulated pmem, mounted dax=never/.test(n)), run.notes.join('\n'));
      for (const j of run.jobs) {
        assert.equal(j.status, 'ok', `${run.label} ${j.jobname}: ${j.reason}`);
        assert.equal(j.verify!.ok, true, `${run.label} ${j.jobname}`);
      }
    }
    assert.deepEqual(fs.readdirSync(copy).filter((f) => f.startsWith('.daxkit-bench-vm-')), [], 'the shared run directory is removed');
  });
});
