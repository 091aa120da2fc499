// FS_XFLAG_DAX on real DAX: the flag's effect (dax.rst rules 3, 4 and 6) as
// statx sees it, and as setDaxFlag() and daxStatus() report it.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, statx, setDaxFlag, daxStatus, getDaxFlag } from '../../lib';
import { devdax, pmemFs, remount, vit } from './vm-env';

const MiB = 1024 * 1024;

for (const f of pmemFs) {
  describe(`FS_XFLAG_DAX on ${f.name} over pmem`, function () {
    after(function () {
      if (f.dir) remount(f, f.opts);
    });

    vit('dax=inode: a directory with the flag makes new files DAX, mappable with MAP_SYNC', function () {
      remount(f, 'dax=inode');
      const dir = path.join(f.dir, `inherit-${Date.now()}`);
      fs.mkdirSync(dir);
      assert.equal(daxStatus(dir).newFilesDax, false);
      const r = setDaxFlag(dir, true);
      assert.deepEqual([r.entries[0].state, r.entries[0].changed, r.entries[0].reason], ['ok', true, null]);
      const s = daxStatus(dir);
      assert.deepEqual([s.flag, s.inherit, s.newFilesDax], [true, true, true]);
      assert.equal(s.reason, 'new files and directories created here inherit FS_XFLAG_DAX and are DAX (dax=inode)');
      fs.mkdirSync(path.join(dir, 'sub'));
      const file = path.join(dir, 'sub', 'new');
      const m = open(file, { size: MiB, create: true, sync: 'required' });
      assert.equal(m.kind, 'fsdax');
      m.close();
      assert.equal(statx(file).dax, true);
      assert.equal(getDaxFlag(file), true, 'inherited through the subdirectory');
      const fs2 = daxStatus(file);
      assert.equal(fs2.dax, true);
      assert.equal(fs2.reason, `DAX: FS_XFLAG_DAX is set and ${f.dev} (mounted at ${f.dir}) is mounted dax=inode`);
    });

    vit('dax=inode: an existing file held open is pending (rule 6), and becomes DAX once closed and evicted', function () {
      remount(f, 'dax=inode');
      const file = path.join(f.dir, `held-${Date.now()}`);
      fs.writeFileSync(file, Buffer.alloc(MiB));
      const fd = fs.openSync(file, 'r');
      let r;
      try {
        assert.equal(statx(file).dax, false);
        r = setDaxFlag(file, true);
        const e = r.entries[0];
        assert.equal(e.flagAfter, true);
        assert.equal(e.dax, false);
        assert.equal(e.state, 'pending');
        assert.match(e.reason ?? '', new RegExp(`^FS_XFLAG_DAX is set on ${file} but the file has not switched to DAX yet: it switches once every process has closed it \\(open in this process \\(pid ${process.pid}\\)\\) and its inode is evicted$`));
        assert.equal(daxStatus(file).dax, false);
        assert.match(daxStatus(file).reason, /has not switched to DAX yet/);
      } finally {
        fs.closeSync(fd);
      }
      // The flag change marked the inode "don't cache", so the last close
      // evicts it and the next lookup instantiates it with S_DAX.
      assert.equal(statx(file).dax, true);
      const m = open(file, { sync: 'required' });
      assert.equal(m.mapSync, true);
      // A mapping holds the file as an open descriptor does.
      const off = setDaxFlag(file, false).entries[0];
      assert.equal(off.state, 'pending');
      assert.match(off.reason ?? '', new RegExp(`has not switched off DAX yet: .*\\(open in this process \\(pid ${process.pid}\\)\\)`));
      m.close();
      assert.equal(statx(file).dax, false);
    });

    vit('dax=inode: a file nobody holds switches as soon as setDaxFlag() closes it, both ways', function () {
      remount(f, 'dax=inode');
      const file = path.join(f.dir, `free-${Date.now()}`);
      fs.writeFileSync(file, 'x');
      const on = setDaxFlag(file, true).entries[0];
      assert.deepEqual([on.state, on.dax], ['ok', true]);
      const off = setDaxFlag(file, false).entries[0];
      assert.deepEqual([off.state, off.dax], ['ok', false]);
    });

    vit('dax=always and dax=never: the report says the mount overrides the flag', function () {
      remount(f, 'dax=always');
      const file = path.join(f.dir, `always-${Date.now()}`);
      fs.writeFileSync(file, 'x');
      const r = setDaxFlag(file, false);
      assert.equal(r.entries[0].state, 'overridden');
      assert.equal(r.entries[0].dax, true);
      assert.match(r.entries[0].reason ?? '', / is mounted dax=always: every file is DAX whatever FS_XFLAG_DAX says/);
      assert.equal(daxStatus(file).mount?.daxMode, 'always');

      remount(f, 'dax=never');
      const dir = path.join(f.dir, `never-${Date.now()}`);
      fs.mkdirSync(dir);
      const d = setDaxFlag(dir, true);
      assert.equal(d.entries[0].state, 'overridden');
      assert.match(d.entries[0].reason ?? '', / is mounted dax=never: no file is DAX whatever FS_XFLAG_DAX says/);
      const s = daxStatus(dir);
      assert.deepEqual([s.flag, s.newFilesDax, s.mount?.daxMode], [true, false, 'never']);
      fs.writeFileSync(path.join(dir, 'f'), 'x');
      assert.equal(statx(path.join(dir, 'f')).dax, false);
    });

    vit('daxStatus() of a file on the pmem mount: DAX, device support, no reflink', function () {
      remount(f, f.opts);
      const file = path.join(f.dir, `status-${Date.now()}`);
      fs.writeFileSync(file, 'x');
      const s = daxStatus(file);
      assert.equal(s.type, 'file');
      assert.equal(s.dax, true);
      assert.equal(s.deviceDax, true);
      assert.equal(s.mount?.device, f.dev);
      assert.equal(s.mount?.daxMode, 'always');
      assert.equal(s.reflink, f.name === 'xfs' ? false : null, 'the VM makes xfs with -m reflink=0');
      assert.equal(s.reason, `DAX: ${f.dev} (mounted at ${f.dir}) is mounted dax=always`);
    });
  });
}

describe('daxkit status on pmem', function () {
  vit('shows a DAX file and a devdax device', function () {
    const file = path.join(pmemFs[1].dir, `cli-${Date.now()}`);
    fs.writeFileSync(file, 'x');
    const cli = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
    const r = spawnSync(process.execPath, [cli, 'status', file, devdax], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[1], new RegExp(`^${file} +file +yes +clear +xfs dax=always +${pmemFs[1].dev} +DAX: `));
    assert.match(lines[2], new RegExp(`^${devdax} +devdax +yes +- +- +- +device DAX: every mapping of ${path.basename(devdax)} is direct`));
  });
});
