// The fds daxkit opens natively (the tree walk's O_PATH handles and what it
// reopens for I/O; open()'s lookups): Node's per-worker fd tracking does not
// know them, so daxkit keeps its own registry per thread, closes them with
// binding.closeFd, and closes what a terminated worker left open.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binding } from '../../lib/binding';
import { assertSystemError, mkTempDir, runFixture } from '../helpers';

describe('native fds: tracked per thread, closed by daxkit', function () {
  let dir: string;
  before(() => {
    dir = mkTempDir();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('workers terminated in a loop while they walk, look up or open(): no fd left open on the files, and no warning from Node', async function () {
    this.timeout(120_000);
    const r = await runFixture('worker-fds', [path.join(dir, 'tree'), '90'], { timeoutMs: 110_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.messages, [{ leaked: 0, counted: 0 }], 'fds of this process that still point into the tree');
    assert.doesNotMatch(r.stderr, /closed but not opened in unmanaged mode/);
    assert.doesNotMatch(r.stderr, /Warning/);
  });

  it('closeFd closes only the fds the bindings opened: another fd is EBADF and stays open', function () {
    const f = path.join(dir, 'plain');
    fs.writeFileSync(f, 'x');
    const nodeFd = fs.openSync(f, 'r');
    try {
      assert.throws(() => binding.closeFd(nodeFd), (e: unknown) => {
        assertSystemError(e, { code: 'EBADF', errno: -9, syscall: 'close' });
        return true;
      });
      assert.equal(fs.fstatSync(nodeFd).size, 1, "Node's fd is still open");
    } finally {
      fs.closeSync(nodeFd);
    }
    const before = binding.openFdCount();
    const fd = binding.openPath(-100, f, false, f);
    assert.equal(binding.openFdCount(), before + 1);
    binding.closeFd(fd);
    assert.equal(binding.openFdCount(), before);
    assert.throws(() => binding.closeFd(fd), (e: unknown) => (e as NodeJS.ErrnoException).code === 'EBADF', 'closed once only');
  });
});
