// FS_XFLAG_DAX on loop-mounted xfs and ext4 (root): set, clear and read back,
// cross-checked with xfs_io and lsattr; the inheritance examples of dax.rst;
// recursion that never follows symlinks or crosses mounts; dry runs; atomic
// runs; the errors of filesystems without the flag. The devices here have no
// DAX, so the flag is stored but has no effect: test/vm proves the effect.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getDaxFlag, setDaxFlag, daxStatus, DaxError } from '../../lib';
import { assertArgError, loopMount, loopMountBlocker, sh, type LoopMount } from '../helpers';

/** The DAX letter of xfs_io's lsattr (x), for each path. */
function xfsIoDax(paths: string[]): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const p of paths) {
    const line = sh('xfs_io', ['-r', '-c', 'lsattr', p]).trim();
    const [flags] = line.split(/\s+/);
    out.set(p, flags.includes('x'));
  }
  return out;
}

/** The DAX letter of e2fsprogs' lsattr -d (x). */
function lsattrDax(p: string): boolean {
  const [flags] = sh('lsattr', ['-d', p]).trim().split(/\s+/);
  return flags.includes('x');
}

for (const fstype of ['xfs', 'ext4'] as const) {
  describe(`FS_XFLAG_DAX on loop-mounted ${fstype}`, function () {
    const blocker = loopMountBlocker(fstype);
    if (blocker !== null) {
      it(`cannot run: ${blocker}`);
      return;
    }
    let mnt: LoopMount;
    let n = 0;
    const fresh = (): string => {
      const d = path.join(mnt.dir, `t${++n}`);
      fs.mkdirSync(d);
      return d;
    };
    before(() => (mnt = loopMount(fstype)));
    after(() => mnt?.cleanup());

    it('sets, clears and reads back the flag on files and directories, as xfs_io and lsattr see it', function () {
      const d = fresh();
      const f = path.join(d, 'file');
      fs.writeFileSync(f, 'data');
      for (const p of [d, f]) {
        assert.equal(getDaxFlag(p), false);
        const r = setDaxFlag(p, true);
        assert.equal(r.entries.length, 1);
        const e = r.entries[0];
        assert.deepEqual([e.flagBefore, e.flagAfter, e.changed], [false, true, true]);
        assert.equal(getDaxFlag(p), true);
        assert.equal(xfsIoDax([p]).get(p), true, 'xfs_io lsattr shows x');
        assert.equal(lsattrDax(p), true, 'lsattr -d shows x');
        const again = setDaxFlag(p, true).entries[0];
        assert.deepEqual([again.flagBefore, again.flagAfter, again.changed], [true, true, false]);
        setDaxFlag(p, false);
        assert.equal(getDaxFlag(p), false);
        assert.equal(xfsIoDax([p]).get(p), false);
        assert.equal(lsattrDax(p), false);
      }
    });

    it('changes only FS_XFLAG_DAX: other flags set with xfs_io stay', function () {
      const d = fresh();
      const f = path.join(d, 'f');
      fs.writeFileSync(f, '');
      sh('xfs_io', ['-c', 'chattr +A', f]); // noatime
      setDaxFlag(f, true);
      const [flags] = sh('xfs_io', ['-r', '-c', 'lsattr', f]).trim().split(/\s+/);
      assert.match(flags, /A/);
      assert.match(flags, /x/);
    });

    it('reports that the flag has no effect on a device without DAX, and statx agrees', function () {
      const d = fresh();
      const f = path.join(d, 'f');
      fs.writeFileSync(f, '');
      const r = setDaxFlag(d, true, { recursive: true });
      for (const e of r.entries) {
        assert.equal(e.state, 'no-effect', e.path);
        assert.match(e.reason ?? '', new RegExp(`the device ${mnt.dev} \\(mounted at ${mnt.dir}\\) does not support DAX .*: the flag is stored but has no effect$`));
      }
      assert.equal(r.entries.find((e) => e.path === f)?.dax, false);
      const s = daxStatus(d);
      assert.equal(s.flag, true);
      assert.equal(s.inherit, true);
      assert.equal(s.newFilesDax, false);
      assert.equal(s.deviceDax, false);
    });

    // Documentation/filesystems/dax.rst, "Enabling DAX on xfs and ext4", examples A, B and C.
    it('reproduces inheritance example A: dax a, e; no dax b, c, d', function () {
      const t = fresh();
      const p = (x: string): string => path.join(t, x);
      fs.mkdirSync(p('a/b/c'), { recursive: true });
      setDaxFlag(p('a'), true);
      fs.mkdirSync(p('a/b/c/d'));
      fs.mkdirSync(p('a/e'));
      const flags = xfsIoDax(['a', 'a/b', 'a/b/c', 'a/b/c/d', 'a/e'].map(p));
      assert.deepEqual([...flags].filter(([, v]) => v).map(([k]) => path.relative(t, k)), ['a', 'a/e']);
      for (const x of ['a', 'a/b', 'a/b/c', 'a/b/c/d', 'a/e']) assert.equal(getDaxFlag(p(x)), ['a', 'a/e'].includes(x), x);
    });

    it('reproduces inheritance example B: dax a, b, c, d', function () {
      const t = fresh();
      const p = (x: string): string => path.join(t, x);
      fs.mkdirSync(p('a'));
      setDaxFlag(p('a'), true);
      fs.mkdirSync(p('a/b/c/d'), { recursive: true });
      const flags = xfsIoDax(['a', 'a/b', 'a/b/c', 'a/b/c/d'].map(p));
      assert.deepEqual([...flags.values()], [true, true, true, true]);
      // Files created later inherit too.
      fs.writeFileSync(p('a/b/c/d/file'), '');
      assert.equal(getDaxFlag(p('a/b/c/d/file')), true);
    });

    it('reproduces inheritance example C: dax c, d; no dax a, b', function () {
      const t = fresh();
      const p = (x: string): string => path.join(t, x);
      fs.mkdirSync(p('a/b/c'), { recursive: true });
      setDaxFlag(p('a/b/c'), true);
      fs.mkdirSync(p('a/b/c/d'));
      const flags = xfsIoDax(['a', 'a/b', 'a/b/c', 'a/b/c/d'].map(p));
      assert.deepEqual([...flags.values()], [false, false, true, true]);
    });

    it('recursion sets every file and directory, parents first, and never follows a symlink', function () {
      const t = fresh();
      const outside = fresh();
      fs.writeFileSync(path.join(outside, 'victim'), '');
      fs.mkdirSync(path.join(t, 'd1/d2'), { recursive: true });
      fs.writeFileSync(path.join(t, 'd1/f1'), '');
      fs.writeFileSync(path.join(t, 'd1/d2/f2'), '');
      fs.symlinkSync(outside, path.join(t, 'd1/to-outside'));
      fs.symlinkSync(path.join(outside, 'victim'), path.join(t, 'to-victim'));
      const r = setDaxFlag(t, true, { recursive: true });
      assert.deepEqual(
        r.entries.map((e) => [path.relative(t, e.path) || '.', e.type, e.state === 'skipped' ? 'skipped' : e.flagAfter]),
        [
          ['.', 'directory', true],
          ['d1', 'directory', true],
          ['d1/d2', 'directory', true],
          ['d1/d2/f2', 'file', true],
          ['d1/f1', 'file', true],
          ['d1/to-outside', 'symlink', 'skipped'],
          ['to-victim', 'symlink', 'skipped'],
        ],
      );
      assert.equal(r.entries.find((e) => e.type === 'symlink')?.reason, 'a symbolic link: recursion never follows them');
      assert.equal(getDaxFlag(outside), false);
      assert.equal(getDaxFlag(path.join(outside, 'victim')), false);
      assert.deepEqual(r.summary, { total: 7, changed: 5, ok: 0, pending: 0, overridden: 0, noEffect: 5, skipped: 2, failed: 0 });
    });

    it('a symlink given as the path is skipped, or its target used with followSymlinks', function () {
      const t = fresh();
      fs.mkdirSync(path.join(t, 'target'));
      fs.symlinkSync('target', path.join(t, 'link'));
      const r = setDaxFlag(path.join(t, 'link'), true);
      assert.equal(r.entries[0].state, 'skipped');
      assert.match(r.entries[0].reason ?? '', /^a symbolic link, not followed \(followSymlinks: true acts on its target\)$/);
      assert.equal(getDaxFlag(path.join(t, 'target')), false);
      setDaxFlag(path.join(t, 'link'), true, { followSymlinks: true });
      assert.equal(getDaxFlag(path.join(t, 'target')), true);
      assertArgError(() => getDaxFlag(path.join(t, 'link'), { followSymlinks: false }), TypeError, 'ERR_INVALID_ARG_VALUE', /is a symbolic link, which has no FS_XFLAG_DAX/);
    });

    it('recursion does not cross into another filesystem mounted inside the tree', function () {
      const t = fresh();
      fs.mkdirSync(path.join(t, 'inner'));
      const inner = loopMount(fstype === 'xfs' ? 'ext4' : 'xfs');
      try {
        fs.writeFileSync(path.join(inner.dir, 'untouched'), '');
        sh('mount', ['--bind', inner.dir, path.join(t, 'inner')]);
        try {
          const r = setDaxFlag(t, true, { recursive: true });
          const e = r.entries.find((x) => x.path === path.join(t, 'inner'));
          assert.equal(e?.state, 'skipped');
          assert.equal(e?.reason, 'another filesystem is mounted here: recursion does not cross into it');
          assert.equal(r.entries.some((x) => x.path.includes('untouched')), false);
          assert.equal(getDaxFlag(path.join(inner.dir, 'untouched')), false);
          assert.equal(getDaxFlag(inner.dir), false);
        } finally {
          spawnSync('umount', [path.join(t, 'inner')]);
        }
      } finally {
        inner.cleanup();
      }
    });

    it('a dry run reports the plan and changes nothing', function () {
      const t = fresh();
      fs.mkdirSync(path.join(t, 'x'));
      fs.writeFileSync(path.join(t, 'x/f'), '');
      setDaxFlag(path.join(t, 'x/f'), true);
      const before = xfsIoDax([t, path.join(t, 'x'), path.join(t, 'x/f')]);
      const r = setDaxFlag(t, true, { recursive: true, dryRun: true });
      assert.equal(r.dryRun, true);
      assert.deepEqual(
        r.entries.map((e) => [path.relative(t, e.path) || '.', e.flagBefore, e.flagAfter, e.changed]),
        [
          ['.', false, true, true],
          ['x', false, true, true],
          ['x/f', true, true, false],
        ],
      );
      assert.deepEqual(xfsIoDax([t, path.join(t, 'x'), path.join(t, 'x/f')]), before);
    });

    it('a read-only filesystem fails each path with EROFS, naming it', function () {
      const t = fresh();
      fs.writeFileSync(path.join(t, 'f'), '');
      sh('mount', ['-o', 'remount,ro', mnt.dir]);
      try {
        const r = setDaxFlag(t, true, { recursive: true });
        assert.equal(r.summary.failed, 2);
        for (const e of r.entries) {
          assert.equal(e.error?.code, 'EROFS');
          assert.match(e.error?.message ?? '', /^EROFS: read-only file system, ioctl '.*'; the filesystem is mounted read-only here$/);
          assert.equal(e.reason, 'read-only file system (EROFS); the filesystem is mounted read-only here');
        }
        const plan = setDaxFlag(t, true, { recursive: true, atomic: true });
        assert.equal(plan.aborted, true);
        assert.equal(plan.summary.failed, 2);
      } finally {
        sh('mount', ['-o', 'remount,rw', mnt.dir]);
      }
      assert.equal(getDaxFlag(t), false);
    });

    it(`an immutable file: ${fstype === 'ext4' ? 'ext4 refuses any flag change (EPERM)' : 'xfs lets root change FS_XFLAG_DAX'}`, function () {
      const t = fresh();
      const f = path.join(t, 'frozen');
      fs.writeFileSync(f, '');
      sh('xfs_io', ['-c', 'chattr +i', f]);
      try {
        const r = setDaxFlag(f, true);
        if (fstype === 'ext4') {
          assert.equal(r.entries[0].state, 'failed');
          assert.equal(r.entries[0].error?.code, 'EPERM');
          assert.equal(getDaxFlag(f), false);
          const plan = setDaxFlag(f, true, { dryRun: true });
          assert.match(plan.entries[0].error?.message ?? '', /immutable or append-only, and ext4 changes no flag of such a file/);
        } else {
          assert.equal(r.entries[0].flagAfter, true);
          assert.equal(setDaxFlag(f, false, { dryRun: true }).entries[0].state, 'no-effect');
        }
      } finally {
        sh('xfs_io', ['-r', '-c', 'chattr -i', f]);
      }
    });

    it('run as an unprivileged user: each failure is reported with the missing privilege, the rest is changed; atomic changes nothing', function () {
      const t = fresh();
      const nobody = 65534;
      fs.chmodSync(path.dirname(mnt.dir), 0o755);
      fs.chmodSync(mnt.dir, 0o755);
      fs.chmodSync(t, 0o755);
      const tree = path.join(t, 'tree');
      fs.mkdirSync(path.join(tree, 'mine'), { recursive: true });
      fs.mkdirSync(path.join(tree, 'locked'));
      fs.writeFileSync(path.join(tree, 'locked', 'inside'), '');
      fs.writeFileSync(path.join(tree, 'rootfile'), '');
      fs.writeFileSync(path.join(tree, 'mine', 'f'), '');
      for (const p of [tree, path.join(tree, 'mine'), path.join(tree, 'mine', 'f')]) fs.chownSync(p, nobody, nobody);
      fs.chmodSync(path.join(tree, 'locked'), 0o700); // root's, unreadable for nobody
      fs.chmodSync(path.join(tree, 'rootfile'), 0o644); // root's, readable
      const script = `const d = require(process.argv[1]); console.log(JSON.stringify(d.setDaxFlag(process.argv[2], true, { recursive: true, atomic: process.argv[3] === 'atomic' })))`;
      const lib = path.join(__dirname, '..', '..', 'lib');
      const run = (mode: string): ReturnType<typeof setDaxFlag> => {
        const r = spawnSync(process.execPath, ['-e', script, lib, tree, mode], { uid: nobody, gid: nobody, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout) as ReturnType<typeof setDaxFlag>;
      };
      const atomic = run('atomic');
      assert.equal(atomic.aborted, true);
      assert.equal(atomic.summary.failed, 2);
      assert.deepEqual([tree, path.join(tree, 'mine'), path.join(tree, 'mine', 'f')].map((p) => getDaxFlag(p)), [false, false, false], 'atomic: nothing changed');

      const r = run('each');
      assert.equal(r.aborted, false);
      const byName = new Map(r.entries.map((e) => [path.relative(tree, e.path) || '.', e]));
      for (const ok of ['.', 'mine', 'mine/f']) assert.equal(byName.get(ok)?.flagAfter, true, ok);
      const locked = byName.get('locked');
      assert.equal(locked?.state, 'failed');
      assert.equal(locked?.error?.code, 'EACCES');
      assert.match(locked?.error?.message ?? '', /^EACCES: permission denied, open '.*locked'; opening it for the ioctl needs read permission on it \(or CAP_DAC_OVERRIDE\)$/);
      const rootfile = byName.get('rootfile');
      assert.equal(rootfile?.state, 'failed');
      assert.equal(rootfile?.error?.code, 'EPERM');
      assert.match(rootfile?.error?.message ?? '', /^EPERM: operation not permitted, ioctl '.*rootfile'; changing FS_XFLAG_DAX needs the file's owner or CAP_FOWNER/);
      assert.equal(r.summary.failed, 2);
      assert.equal(getDaxFlag(path.join(tree, 'mine', 'f')), true);
      assert.equal(getDaxFlag(path.join(tree, 'rootfile')), false);
    });

    it('daxStatus() describes the mount, the device and the block size', function () {
      const t = fresh();
      const f = path.join(t, 'f');
      fs.writeFileSync(f, '');
      const s = daxStatus(f);
      assert.equal(s.type, 'file');
      assert.equal(s.dax, false);
      assert.equal(s.flag, false);
      assert.equal(s.inherit, null);
      assert.equal(s.newFilesDax, null);
      assert.equal(s.mount?.fstype, fstype);
      assert.equal(s.mount?.mountPoint, mnt.dir);
      assert.equal(s.mount?.device, mnt.dev);
      assert.equal(s.mount?.daxMode, 'inode');
      assert.match(s.mount?.majorMinor ?? '', /^7:\d+$/);
      assert.equal(s.deviceDax, false);
      assert.equal(s.blockSize, 4096);
      assert.equal(s.pageSize, 4096);
      assert.equal(s.reflink, fstype === 'xfs' ? sh('xfs_info', [mnt.dir]).includes('reflink=1') : null);
      assert.equal(s.reflinkBlocksDax, false);
      assert.match(s.reason, /^not on a DAX mount: the device .* does not support DAX \(it is not persistent memory\)$/);
    });
  });
}

describe('FS_XFLAG_DAX where the filesystem has none', function () {
  it('getDaxFlag() on procfs throws ERR_DAX_NOT_SUPPORTED naming the filesystem and its mount', function () {
    assert.throws(
      () => getDaxFlag('/proc/self/status'),
      (e: unknown) => {
        assert.ok(e instanceof DaxError);
        assert.equal(e.code, 'ERR_DAX_NOT_SUPPORTED');
        assert.equal(e.message, "FS_XFLAG_DAX is not supported on proc (mounted at /proc): '/proc/self/status'");
        assert.equal((e as Error & { cause: NodeJS.ErrnoException }).cause.code, 'ENOTTY');
        return true;
      },
    );
  });

  it('setDaxFlag() on tmpfs reports ERR_DAX_NOT_SUPPORTED for the path (the kernel says ENOTTY or EOPNOTSUPP)', function () {
    const d = fs.mkdtempSync('/dev/shm/daxkit-');
    try {
      const r = setDaxFlag(d, true);
      assert.equal(r.entries[0].state, 'failed');
      assert.equal(r.entries[0].error?.code, 'ERR_DAX_NOT_SUPPORTED');
      assert.equal(r.entries[0].reason, 'FS_XFLAG_DAX is not supported on tmpfs (mounted at /dev/shm)');
      assert.equal(r.summary.failed, 1);
      const plan = setDaxFlag(d, true, { dryRun: true });
      assert.equal(plan.entries[0].state, 'failed', 'the plan knows too');
    } finally {
      fs.rmSync(d, { recursive: true });
    }
  });

  it('bad arguments and missing paths', function () {
    assertArgError(() => setDaxFlag('/tmp', 'yes' as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"enabled" argument must be of type boolean/);
    assertArgError(() => setDaxFlag('/tmp', true, { recurse: true } as never), TypeError, 'ERR_INVALID_ARG_VALUE', /'options.recurse' is not an option/);
    assertArgError(() => getDaxFlag(''), TypeError, 'ERR_INVALID_ARG_VALUE', /non-empty/);
    assert.throws(() => setDaxFlag('/nonexistent/x', true), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT' && (e as NodeJS.ErrnoException).syscall === 'open');
    assert.throws(() => getDaxFlag('/nonexistent/x'), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT' && (e as NodeJS.ErrnoException).syscall === 'open');
  });
});
