// Persistence across a hard power-off: boot a guest, write and persist()
// records on ext4, xfs and devdax, cut the power (no sync, no unmount), boot
// a new guest on the SAME NVDIMM images and count what survived. Persisted
// records must all be there; unpersisted ones may be lost (on emulated pmem
// they usually survive, because QEMU's "media" is the host page cache, so
// survival alone cannot show a missing write-back). The writer therefore runs
// on the test build of the addon, whose trace shows, for every record it
// acknowledged, when each of its cache lines was written back and fenced:
// all of them, and before the acknowledgement.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runInVm, vmBlocker } from '../../lib/vm/harness';
import { flushLogProblems, fromRanges, type FlushLogEntry } from '../fixtures/records';
import { needTestBuild, testBuildEnv } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const blocker = vmBlocker();
const PERSISTED = 2000;
const UNPERSISTED = 1000;

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  assert.ok(line, `no JSON in the guest's output: ${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

describe('power failure on emulated pmem (two boots on the same NVDIMM images)', function () {
  if (blocker !== null) {
    it(`persisted records survive a hard power-off [pending: ${blocker}]`);
    return;
  }
  let images: string;
  before(() => (images = fs.mkdtempSync(path.join(process.env.DAXKIT_VM_CACHE ?? os.tmpdir(), 'daxkit-images-'))));
  after(() => fs.rmSync(images, { recursive: true, force: true }));

  it('persisted records survive a hard power-off on ext4, xfs and devdax, each written back and fenced before it was acknowledged', async function () {
    needTestBuild(this);
    const args = ['--images', images];
    const w = await runInVm(ROOT, [process.execPath, 'dist/test/fixtures/crash-writer.js', String(PERSISTED), String(UNPERSISTED)], { args: [...args, '--env', 'DAXKIT_PREBUILD'], env: testBuildEnv(), capture: true });
    assert.equal(w.code, 0, `boot 1: ${w.stderr}`);
    assert.match(w.stderr, /powered off hard by pmem-crash/);
    const wrote = lastJson(w.stdout) as { persisted: number; flushLogs: FlushLogEntry[][] };
    assert.equal(wrote.persisted, PERSISTED);
    assert.equal(wrote.flushLogs.length, 3);

    const v = await runInVm(ROOT, [process.execPath, 'dist/test/fixtures/crash-verify.js', String(PERSISTED), String(UNPERSISTED)], { args, capture: true });
    assert.equal(v.code, 0, `boot 2: ${v.stderr}`);
    assert.match(v.stderr, /booting on the existing images/);
    const out = lastJson(v.stdout) as { reused: string; result: Array<{ target: string; exists: boolean; persistedIntact: number; unpersistedIntact: number; persistedIntactRanges: Array<[number, number]> }> };
    assert.equal(out.reused, '1');
    assert.equal(out.result.length, 3);
    out.result.forEach((r, t) => {
      assert.equal(r.exists, true, `${r.target} exists after the power failure`);
      assert.equal(r.persistedIntact, PERSISTED, `${r.target}: every persisted record survived`);
      // Each record counted as persisted: its lines written back, then fenced, before it was acknowledged.
      const counted = fromRanges(r.persistedIntactRanges);
      assert.equal(counted.length, r.persistedIntact);
      assert.deepEqual(flushLogProblems(wrote.flushLogs[t], counted).slice(0, 10), [], `${r.target}: the trace of the writer`);
      console.log(`      ${r.target}: ${r.persistedIntact}/${PERSISTED} persisted records intact, each written back and fenced before it was acknowledged; ${r.unpersistedIntact}/${UNPERSISTED} unpersisted ones survived too`);
    });
  });
});

describe('legacy memmap= persistent memory (the harness --legacy option)', function () {
  if (blocker !== null) {
    it(`a memmap= pmem device holds a DAX filesystem that maps with MAP_SYNC [pending: ${blocker}]`);
    return;
  }
  it('a memmap= pmem device holds a DAX filesystem that maps with MAP_SYNC', async function () {
    const script = [
      'set -e',
      'test -n "$PMEM_LEGACY_DEV"',
      'mkfs.ext4 -q -F -b 4096 "$PMEM_LEGACY_DEV"',
      'mkdir -p /mnt/legacy && mount -o dax "$PMEM_LEGACY_DEV" /mnt/legacy',
      `'${process.execPath}' -e "const d = require('daxkit'); const m = d.open('/mnt/legacy/f', { size: 1 << 20, create: true, sync: 'required' }); m.copyPersist(0, Buffer.from('legacy')); console.log(JSON.stringify({ node: process.version, dev: process.env.PMEM_LEGACY_DEV, kind: m.kind, mapSync: m.mapSync, flush: m.flushMechanism, status: d.daxStatus('/mnt/legacy/f').reason })); m.close()"`,
    ].join('\n');
    const r = await runInVm(ROOT, [script], { args: ['--legacy', '256M', '--no-pmem-setup'], capture: true });
    assert.equal(r.code, 0, r.stderr);
    const out = lastJson(r.stdout) as { node: string; dev: string; kind: string; mapSync: boolean; flush: string; status: string };
    assert.equal(out.node, process.version, 'the guest runs the Node.js under test');
    assert.match(out.dev, /^\/dev\/pmem\d+$/);
    assert.equal(out.kind, 'fsdax');
    assert.equal(out.mapSync, true);
    assert.notEqual(out.flush, 'msync');
    assert.match(out.status, /^DAX: /);
  });
});
