// The text daxkit gives names (lib/fs/path-bytes.ts): lossless for any bytes,
// the name itself for UTF-8, and escaped exactly once for JSON and for a
// terminal; and the mount id the walk falls back to on older kernels.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { binding } from '../../lib/binding';
import { base64IfNotText, isPlainText, jsonText, pathBytes, pathText, shown } from '../../lib/fs/path-bytes';
import { mountId } from '../../lib/fs/tree-walk';

describe('path text', function () {
  it('any bytes round-trip through the text (10000 random names, with UTF-8 and broken sequences mixed in)', function () {
    const pieces = [Buffer.from('é'), Buffer.from('😀'), Buffer.of(0xed, 0xa0, 0x80), Buffer.of(0xf4, 0x90), Buffer.of(0xc0, 0xaf), Buffer.from('\uFFFD')];
    for (let i = 0; i < 10000; i++) {
      const b = Buffer.concat([randomBytes(i % 13), pieces[i % pieces.length], randomBytes(i % 7)]);
      const t = pathText(b);
      assert.ok(pathBytes(t).equals(b), b.toString('hex'));
      assert.equal(isPlainText(t), t === b.toString('utf8') && Buffer.from(t).equals(b), b.toString('hex'));
    }
  });

  it('a UTF-8 name is its own text; each byte that is not UTF-8 is U+DC80 + byte (surrogateescape)', function () {
    for (const s of ['plain', 'é😀', 'a\uFFFDb', '\u{20080}', '']) assert.equal(pathText(Buffer.from(s)), s);
    assert.equal(pathText(Buffer.of(0x61, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80)), 'a\udcff\udcc3(\udced\udca0\udc80');
    assert.equal(base64IfNotText('plain'), null);
    assert.equal(base64IfNotText('a\udcff'), Buffer.of(0x61, 0xff).toString('base64'));
  });

  it('JSON text writes those bytes as \\xNN; the terminal text escapes controls, separators, bidi controls and backslashes as $\'...\' reads them', function () {
    assert.equal(jsonText('a\udcffb'), 'a\\xffb');
    assert.equal(jsonText('\u{20080}'), '\u{20080}', 'a surrogate pair is a character, not a byte');
    assert.equal(shown('a\\b\tc\nd\re\x1b[31m\x07\x7f\u009b\u202e\u2028\udcff\u{20080}'), 'a\\\\b\\tc\\nd\\re\\x1b[31m\\x07\\x7f\\u009b\\u202e\\u2028\\xff\u{20080}');
    // bash's $'...' (in a UTF-8 locale, for \uNNNN) turns the shown text back into the bytes.
    const name = Buffer.concat([Buffer.from('x\x1by\\z\u202e'), Buffer.of(0xff)]);
    const r = spawnSync('bash', ['-c', `printf %s $'${shown(pathText(name))}'`], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    assert.ok(r.stdout.equals(name), r.stdout.toString('hex'));
  });
});

describe('mount ids', function () {
  it("where statx gives no STATX_MNT_ID (Linux before 5.8), /proc/self/fdinfo's mnt_id is the same id", function () {
    for (const p of ['/', '/proc', '/dev/shm', process.cwd()]) {
      const fd = fs.openSync(p, 'r');
      try {
        const st = binding.statx(fd);
        assert.equal(typeof st.mntId, 'number', 'this kernel reports STATX_MNT_ID');
        assert.equal(mountId(fd, { ...st, mntId: null }), st.mntId, p);
      } finally {
        fs.closeSync(fd);
      }
    }
  });
});
