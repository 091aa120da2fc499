// The dax= mount modes: with dax=inode a file follows FS_XFLAG_DAX; with
// dax=never nothing is DAX. In both, sync: 'required' must fail with the
// reason, and the mapping must say 'pagecache'.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, DaxError, statx, FS_XFLAG_DAX } from '../../lib';
import { binding } from '../../lib/binding';
import { pmemFs, remount, vit } from './vm-env';

const MiB = 1024 * 1024;

function assertNotSupported(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DaxError, String(e));
    assert.equal(e.code, 'ERR_DAX_NOT_SUPPORTED');
    assert.match(e.reason ?? '', reason);
    assert.match(e.message, /^MAP_SYNC is not available for '.*': /);
    return true;
  });
}

for (const f of pmemFs) {
  describe(`${f.name} mounted dax=inode and dax=never`, function () {
    after(function () {
      if (f.dir) remount(f, f.opts);
    });

    vit('dax=inode: a file without FS_XFLAG_DAX maps as pagecache; required fails saying the flag is not set', function () {
      remount(f, 'dax=inode');
      const file = path.join(f.dir, `inode-plain-${Date.now()}`);
      fs.writeFileSync(file, Buffer.alloc(MiB));
      assert.equal(statx(file).dax, false);
      const m = open(file);
      try {
        assert.equal(m.kind, 'pagecache');
        assert.equal(m.mapSync, false);
        assert.equal(m.granularity, 'page');
        assert.equal(m.flushMechanism, 'msync');
      } finally {
        m.close();
      }
      assertNotSupported(() => open(file, { sync: 'required' }), /^dax=inode and FS_XFLAG_DAX not set: .* follows the per-file flag, and .* does not have it$/);
    });

    vit('dax=inode: a new file in a directory with FS_XFLAG_DAX is DAX and maps with MAP_SYNC', function () {
      remount(f, 'dax=inode');
      const dir = path.join(f.dir, `inode-dir-${Date.now()}`);
      fs.mkdirSync(dir);
      const fd = fs.openSync(dir, 'r');
      const r = binding.fsSetXflags(fd, FS_XFLAG_DAX, 0, dir);
      fs.closeSync(fd);
      assert.equal(r.after.xflags & FS_XFLAG_DAX, FS_XFLAG_DAX);
      const file = path.join(dir, 'inherits');
      const m = open(file, { size: MiB, create: true, sync: 'required' });
      try {
        assert.equal(m.kind, 'fsdax');
        assert.equal(m.mapSync, true);
      } finally {
        m.close();
      }
      assert.equal(statx(file).dax, true);
    });

    vit('dax=never: nothing is DAX, even with the flag; required fails saying dax=never', function () {
      remount(f, 'dax=never');
      const dir = path.join(f.dir, `never-${Date.now()}`);
      fs.mkdirSync(dir);
      const fd = fs.openSync(dir, 'r');
      binding.fsSetXflags(fd, FS_XFLAG_DAX, 0, dir);
      fs.closeSync(fd);
      const file = path.join(dir, 'f');
      const m = open(file, { size: MiB, create: true });
      try {
        assert.equal(m.kind, 'pagecache');
        assert.equal(m.mapSync, false);
      } finally {
        m.close();
      }
      assert.equal(statx(file).dax, false);
      assertNotSupported(() => open(file, { sync: 'required' }), /is mounted dax=never/);
    });
  });
}
