// ext4 refuses FS_XFLAG_DAX on a file with inline data, and on an encrypted
// (or fs-verity) file or directory (dax_compatible() in fs/ext4/ioctl.c),
// with the EOPNOTSUPP it gives where the flag does not exist at all. daxkit
// must say which, the dry run and the atomic precheck must predict it, and
// the other files on the same ext4 must still change. Root, on a
// loop-mounted ext4 made with inline_data and encrypt; flags read back with
// xfs_io and lsattr.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setDaxFlag, type DaxFlagReport } from '../../lib';
import { binding } from '../../lib/binding';
import { fileReason } from '../../lib/dax/reason';
import { assertArgError, assertSystemError, commandExists, mkTempDir, sh, useLoopMount } from '../helpers';

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const INLINE = "ext4 does not allow FS_XFLAG_DAX on this file: it has inline data (EXT4_INLINE_DATA_FL, 'N' in lsattr): its bytes live in the inode, not in blocks that DAX could map";
const ENCRYPTED = (what: string): string => `ext4 does not allow FS_XFLAG_DAX on this ${what}: it is encrypted (EXT4_ENCRYPT_FL, 'E' in lsattr): DAX would map the ciphertext`;

function daxFlag(p: string): boolean {
  return /^\S*x\S* /.test(sh('xfs_io', ['-r', '-c', 'lsattr', p]));
}

/**
 * Makes `dir` (empty) an fscrypt v2 directory with a fresh key: the ioctls
 * fscrypt(8) would issue, from python3. Returns why not, or null.
 */
function encrypt(mnt: string, dir: string): string | null {
  if (!commandExists('python3')) return 'needs python3 for the fscrypt ioctls';
  const py = `
import fcntl, os, struct, sys
root = os.open(sys.argv[1], os.O_RDONLY)
arg = bytearray(struct.pack('II32sII32x', 2, 0, b'\\0' * 32, 64, 0) + os.urandom(64))
fcntl.ioctl(root, (3 << 30) | (80 << 16) | (0x66 << 8) | 23, arg)  # FS_IOC_ADD_ENCRYPTION_KEY
policy = struct.pack('BBBBB3s16s', 2, 1, 4, 0, 0, b'\\0' * 3, bytes(arg[8:24]))  # v2, AES-256-XTS, AES-256-CTS
fcntl.ioctl(os.open(sys.argv[2], os.O_RDONLY), (2 << 30) | (12 << 16) | (0x66 << 8) | 19, policy)  # FS_IOC_SET_ENCRYPTION_POLICY
`;
  const r = spawnSync('python3', ['-c', py, mnt, dir], { encoding: 'utf8' });
  return r.status === 0 ? null : `this kernel cannot encrypt here: ${r.stderr.trim().split('\n').pop()}`;
}

describe('ext4 inodes that refuse DAX: inline data, encryption (root, loop-mounted ext4 -O inline_data,encrypt)', function () {
  const loop = useLoopMount('ext4', 64, ['-O', 'inline_data,encrypt']);
  if (loop === null) return;
  const mount = loop;
  let n = 0;
  const fresh = (): string => {
    const d = path.join(mount().dir, `t${++n}`);
    fs.mkdirSync(d);
    return d;
  };

  it('a file with inline data: the reason names it; dry runs and atomic runs predict it; other files still change', function () {
    const tree = fresh();
    fs.writeFileSync(path.join(tree, 'small'), 'hi\n');
    fs.writeFileSync(path.join(tree, 'big'), Buffer.alloc(16384));
    assert.match(sh('lsattr', [path.join(tree, 'small')]), /^\S*N\S* /, 'small keeps its data in the inode');
    const by = (r: DaxFlagReport, name: string) => r.entries.find((e) => e.path === path.join(tree, name));

    const plan = setDaxFlag(tree, true, { recursive: true, dryRun: true });
    assert.deepEqual([by(plan, 'small')?.state, by(plan, 'small')?.reason, by(plan, 'small')?.error?.code], ['failed', INLINE, 'ERR_DAX_NOT_SUPPORTED']);
    assert.equal(plan.summary.failed, 1);

    const atomic = setDaxFlag(tree, true, { recursive: true, atomic: true });
    assert.equal(atomic.aborted, true);
    assert.equal(by(atomic, 'small')?.reason, INLINE);
    assert.deepEqual([daxFlag(tree), daxFlag(path.join(tree, 'big'))], [false, false], 'the check stopped it before any change (xfs_io)');

    const r = setDaxFlag(tree, true, { recursive: true });
    assert.deepEqual([by(r, 'small')?.state, by(r, 'small')?.reason, by(r, 'small')?.flagAfter], ['failed', INLINE, false]);
    assert.deepEqual([by(r, 'big')?.flagAfter, r.entries[0].flagAfter], [true, true]);
    assert.deepEqual([daxFlag(path.join(tree, 'big')), daxFlag(path.join(tree, 'small'))], [true, false], 'as xfs_io reads them');

    const cli = spawnSync(process.execPath, [CLI, 'flag', 'set', path.join(tree, 'small')], { encoding: 'utf8' });
    assert.equal(cli.status, 1);
    assert.equal(cli.stderr, `daxkit: ${path.join(tree, 'small')}: ${INLINE}\n`);
  });

  it('a directory with inline data takes the flag (ext4 lets directories through)', function () {
    const dir = path.join(fresh(), 'd');
    fs.mkdirSync(dir);
    assert.match(sh('lsattr', ['-d', dir]), /^\S*N\S* /);
    const r = setDaxFlag(dir, true);
    assert.equal(r.summary.failed, 0, JSON.stringify(r.entries[0]));
    assert.equal(daxFlag(dir), true);
  });

  it('an encrypted directory and its files: the reason names encryption, and the dry run predicts it', function () {
    const dir = path.join(fresh(), 'enc');
    fs.mkdirSync(dir);
    const why = encrypt(mount().dir, dir);
    if (why !== null) {
      (this.test as Mocha.Test).title += ` (pending: ${why})`;
      this.skip();
    }
    fs.writeFileSync(path.join(dir, 'f'), Buffer.alloc(16384));
    const plan = setDaxFlag(dir, true, { recursive: true, dryRun: true });
    assert.deepEqual(plan.entries.map((e) => [path.basename(e.path), e.state, e.reason]), [
      ['enc', 'failed', ENCRYPTED('directory')],
      ['f', 'failed', ENCRYPTED('file')],
    ]);
    const r = setDaxFlag(dir, true, { recursive: true });
    assert.deepEqual(r.entries.map((e) => [e.state, e.reason, e.flagAfter]), [
      ['failed', ENCRYPTED('directory'), false],
      ['failed', ENCRYPTED('file'), false],
    ]);
  });
});

describe("the state of such a file on a DAX ext4 (the reason; the VM has no inline-data ext4 to show it)", function () {
  it('says that ext4 never uses DAX for it, whatever the mount and the flag', function () {
    const facts = { mount: { fstype: 'ext4', mountPoint: '/mnt', source: '/dev/pmem0' } as never, mode: 'always' as const, deviceDax: true, devMajor: 259, devMinor: 0 };
    const inode = { type: 'file' as const, dax: false, flag: false, locked: false, blksize: 4096, uid: 0, ext4Blocker: 'it has inline data (...)' };
    assert.equal(fileReason('/mnt/small', facts, inode, 4096), 'ext4 never uses DAX for /mnt/small, whatever the mount and FS_XFLAG_DAX say: it has inline data (...)');
  });
});

describe('binding.fsGetFlags (FS_IOC_GETFLAGS)', function () {
  it('gives the inode flags of an open file, and errors shaped as node:fs errors', function () {
    const dir = mkTempDir();
    try {
      const f = path.join(dir, 'f');
      fs.writeFileSync(f, '');
      const fd = fs.openSync(f, 'r');
      try {
        assert.equal(typeof binding.fsGetFlags(fd, f), 'number');
      } finally {
        fs.closeSync(fd);
      }
      assert.throws(() => binding.fsGetFlags(2 ** 31 - 1, f), (e: unknown) => {
        assertSystemError(e, { code: 'EBADF', errno: -9, syscall: 'ioctl', path: f });
        return true;
      });
      assertArgError(() => binding.fsGetFlags(1.5), TypeError, 'ERR_INVALID_ARG_TYPE', /"fd" argument must be a file descriptor/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
