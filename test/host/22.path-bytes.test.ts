// The text daxkit gives names (lib/fs/path-bytes.ts): lossless for any bytes,
// the name itself for UTF-8, and escaped exactly once for JSON and for a
// terminal; and the mount id the walk falls back to on older kernels.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badblocks, daxStatus, getDaxFlag, listDevices, open, setDaxFlag, statx } from '../../lib';
import { binding } from '../../lib/binding';
import { base64IfNotText, isPlainText, jsonText, pathBytes, pathText, shown } from '../../lib/fs/path-bytes';
import { mountId } from '../../lib/fs/tree-walk';
import { assertArgError, assertSystemError, escapeRe, isRoot, mkTempDir } from '../helpers';

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

describe('names that are not UTF-8 in errors, and strings that are no name', function () {
  const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
  let dir: string;
  before(() => {
    dir = mkTempDir();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("an error's path is the lossless text of the bytes asked for, never U+FFFD (which names another file here)", function () {
    const missing = Buffer.concat([Buffer.from(`${dir}/a`), Buffer.of(0xff)]);
    // The file U+FFFD would name exists: an error naming it would send the admin to the wrong file.
    fs.writeFileSync(`${dir}/a\uFFFD`, '');
    const text = `${dir}/a\udcff`;
    for (const call of [() => statx(missing), () => daxStatus(missing), () => getDaxFlag(missing), () => setDaxFlag(missing, true)]) {
      assert.throws(call, (e: unknown) => {
        assertSystemError(e, { code: 'ENOENT', errno: -2, syscall: (e as NodeJS.ErrnoException).syscall as string, path: text });
        assert.ok(pathBytes((e as NodeJS.ErrnoException).path as string).equals(missing));
        return true;
      });
    }
  });

  it('so is the path of an error met inside a walk (a directory nobody may open, as uid 65534)', function () {
    if (!isRoot) this.skip();
    const tree = path.join(dir, 'walk');
    fs.mkdirSync(tree);
    fs.chmodSync(dir, 0o755);
    const locked = Buffer.concat([Buffer.from(`${tree}/d`), Buffer.of(0xfe)]);
    fs.mkdirSync(locked, { mode: 0o700 });
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'flag', 'get', '-R', '--json', tree], { encoding: 'utf8' });
    const entry = (JSON.parse(r.stdout) as Array<{ path: string; pathBase64: string | null; error: { code: string; message: string } | null }>).find((x) => x.pathBase64 !== null);
    assert.ok(entry !== undefined, r.stdout);
    assert.ok(Buffer.from(entry.pathBase64 as string, 'base64').equals(locked));
    assert.equal(entry.error?.code, 'EACCES');
    assert.match(entry.error.message, new RegExp(`^EACCES: permission denied, open '${escapeRe(`${tree}/d\\xfe`)}'; `));
    assert.equal(r.stderr, `daxkit: ${tree}/d\\xfe: permission denied (EACCES); opening it for the ioctl needs read permission on it (or CAP_DAC_OVERRIDE)\n`);
  });

  it('the CLI names such a path once, escaped, in text and in JSON', function () {
    const missing = `${dir}/gone\\xff`;
    const r = spawnSync('bash', ['-c', `node "$DAXKIT" status $'${missing}'; node "$DAXKIT" status --json $'${missing}'`], { env: { ...process.env, DAXKIT: CLI }, encoding: 'utf8' });
    const lines = r.stderr.trimEnd().split('\n');
    assert.deepEqual(lines, [`daxkit: ${missing}: no such file or directory (ENOENT)`, `daxkit: ${missing}: no such file or directory (ENOENT)`]);
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as Array<{ path: string; error: { message: string } }>;
    assert.equal(json[0].path, missing);
    assert.equal(json[0].error.message, `ENOENT: no such file or directory, open '${missing}'`);
    assert.doesNotMatch(r.stdout + r.stderr, /\ufffd/);
  });

  it('a string with a lone surrogate that stands for no byte is refused (ERR_INVALID_ARG_VALUE), by the library and by the binding', function () {
    for (const bad of [`${dir}/\ud800`, `${dir}/x\udc00`, `${dir}/\udbff`, `${dir}/\ud800\ud800\udc00`]) {
      for (const call of [() => statx(bad), () => daxStatus(bad), () => setDaxFlag(bad, true), () => badblocks(bad)]) {
        assertArgError(call, TypeError, 'ERR_INVALID_ARG_VALUE', /lone surrogate U\+D[89AB]|lone surrogate U\+DC00/);
      }
      assertArgError(() => binding.openPath(-100, bad, false), TypeError, 'ERR_INVALID_ARG_VALUE', /lone surrogate/);
    }
    // open() and sysfs roots take text only: no byte escapes there either.
    assertArgError(() => open(`${dir}/a\udcff`), TypeError, 'ERR_INVALID_ARG_VALUE', /lone surrogate U\+DCFF/);
    assertArgError(() => listDevices({ sysfsRoot: `/sys\udcff` }), TypeError, 'ERR_INVALID_ARG_VALUE', /lone surrogate/);
    // U+DC80-U+DCFF alone stand for bytes; a pair is a character.
    fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/b`), Buffer.of(0x80)]), '');
    fs.writeFileSync(`${dir}/\u{1F600}`, '');
    assert.equal(statx(`${dir}/b\udc80`).size, 0n);
    assert.equal(statx(`${dir}/\ud83d\ude00`).size, 0n);
  });
});
