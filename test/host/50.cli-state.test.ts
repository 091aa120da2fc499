// daxkit status and daxkit flag: human output, --json (the schema is pinned
// here), exit codes, errors on stderr.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loopMount, loopMountBlocker, type LoopMount } from '../helpers';

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');

function daxkit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STATUS_KEYS = ['path', 'pathBase64', 'type', 'dax', 'flag', 'inherit', 'newFilesDax', 'mount', 'deviceDax', 'blockSize', 'pageSize', 'reflink', 'reflinkBlocksDax', 'kernel', 'reason'];
const MOUNT_KEYS = ['mountPoint', 'device', 'fstype', 'majorMinor', 'options', 'daxMode'];
const REPORT_KEYS = ['path', 'pathBase64', 'enabled', 'recursive', 'dryRun', 'atomic', 'aborted', 'entries', 'summary'];
const ENTRY_KEYS = ['path', 'pathBase64', 'type', 'flagBefore', 'flagAfter', 'changed', 'dax', 'state', 'reason', 'error'];
const SUMMARY_KEYS = ['total', 'changed', 'ok', 'pending', 'overridden', 'noEffect', 'skipped', 'failed'];

describe('daxkit status and daxkit flag', function () {
  const blocker = loopMountBlocker('xfs');
  if (blocker !== null) {
    it(`cannot run: ${blocker}`);
    return;
  }
  let mnt: LoopMount;
  let dir: string;
  before(() => {
    mnt = loopMount('xfs');
    dir = path.join(mnt.dir, 'tree');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sub', 'f'), 'x');
  });
  after(() => mnt?.cleanup());

  it('status --json: one object per path with the documented fields', function () {
    const r = daxkit('status', '--json', dir, path.join(dir, 'sub', 'f'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const out = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.equal(out.length, 2);
    for (const o of out) {
      assert.deepEqual(Object.keys(o), STATUS_KEYS);
      assert.deepEqual(Object.keys(o.mount as object), MOUNT_KEYS);
    }
    assert.equal(out[0].type, 'directory');
    assert.equal(out[1].type, 'file');
    assert.equal(out[1].dax, false);
    assert.equal((out[1].mount as { fstype: string }).fstype, 'xfs');
  });

  it('status: a human table, and for a bad path the error on stderr and exit 1', function () {
    const ok = daxkit('status', dir);
    assert.equal(ok.status, 0);
    const [header, row] = ok.stdout.trimEnd().split('\n');
    assert.match(header, /^PATH +TYPE +DAX +FLAG +MOUNT +DEVICE +REASON$/);
    assert.match(row, new RegExp(`^${dir} +directory +new files: no +clear +xfs dax=inode +${mnt.dev} +not on a DAX mount: `));
    const bad = daxkit('status', dir, '/nonexistent/p');
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, 'daxkit: /nonexistent/p: no such file or directory (ENOENT)\n');
    assert.match(bad.stdout, /^PATH/, 'the good path is still shown');
    assert.match(bad.stdout, /\n\/nonexistent\/p +- +- +- +- +- +no such file or directory \(ENOENT\)\n$/, 'and the bad one has its row');
    const badJson = daxkit('status', '--json', '/nonexistent/p');
    assert.equal(badJson.status, 1);
    assert.deepEqual(JSON.parse(badJson.stdout), [{ path: '/nonexistent/p', pathBase64: null, error: { code: 'ENOENT', message: "ENOENT: no such file or directory, open '/nonexistent/p'" } }]);
  });

  it('flag set -R --json: a report per path with entries and a summary; get shows the result', function () {
    const r = daxkit('flag', 'set', '-R', '--json', dir);
    assert.equal(r.status, 0, r.stderr);
    const reports = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.equal(reports.length, 1);
    assert.deepEqual(Object.keys(reports[0]), REPORT_KEYS);
    const entries = reports[0].entries as Array<Record<string, unknown>>;
    assert.deepEqual(entries.map((e) => path.relative(dir, e.path as string) || '.'), ['.', 'sub', 'sub/f']);
    for (const e of entries) {
      assert.deepEqual(Object.keys(e), ENTRY_KEYS);
      assert.equal(e.flagAfter, true);
      assert.equal(e.state, 'no-effect');
    }
    assert.deepEqual(Object.keys(reports[0].summary as object), SUMMARY_KEYS);
    const g = daxkit('flag', 'get', '-R', '--json', dir);
    assert.equal(g.status, 0);
    assert.deepEqual(
      (JSON.parse(g.stdout) as Array<{ path: string; flag: boolean }>).map((l) => [path.relative(dir, l.path) || '.', l.flag]),
      [['.', true], ['sub', true], ['sub/f', true]],
    );
    const human = daxkit('flag', 'get', dir);
    assert.match(human.stdout, new RegExp(`^FLAG +DAX +PATH +NOTE\nset +- +${dir} +not on a DAX mount: the device ${mnt.dev} \\(mounted at ${mnt.dir}\\) does not support DAX \\(it is not persistent memory\\); FS_XFLAG_DAX is set but has no effect\n$`));
  });

  it('flag clear --dry-run prints the plan and changes nothing', function () {
    const r = daxkit('flag', 'clear', '--dry-run', '-R', dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^clear FS_XFLAG_DAX on ${dir} \\(recursive\\): plan \\(dry run: nothing was changed\\)\nPATH +FLAG +DAX +STATE +REASON\n`));
    assert.match(r.stdout, /set -> clear/);
    assert.match(r.stdout, /3 paths: 3 would change, 0 ok, 0 pending, 0 overridden, 3 no effect, 0 skipped, 0 failed/);
    const g = JSON.parse(daxkit('flag', 'get', '--json', dir).stdout) as Array<{ flag: boolean }>;
    assert.equal(g[0].flag, true);
  });

  it('flag on a filesystem without the flag fails: exit 1, the reason on stderr', function () {
    const shm = fs.mkdtempSync('/dev/shm/daxkit-');
    try {
      const r = daxkit('flag', 'set', shm);
      assert.equal(r.status, 1);
      assert.equal(r.stdout.split('\n')[0], `set FS_XFLAG_DAX on ${shm}: failed`, 'the title does not say done');
      assert.match(r.stdout, /failed +FS_XFLAG_DAX is not supported on tmpfs \(mounted at \/dev\/shm\)/);
      assert.equal(r.stderr, `daxkit: ${shm}: FS_XFLAG_DAX is not supported on tmpfs (mounted at /dev/shm)\n`, 'the path once');
      const j = daxkit('flag', 'set', '--json', shm);
      assert.equal(j.status, 1);
      assert.equal((JSON.parse(j.stdout) as Array<{ summary: { failed: number } }>)[0].summary.failed, 1);
    } finally {
      fs.rmSync(shm, { recursive: true });
    }
    const missing = daxkit('flag', 'get', '/nonexistent/q');
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, 'daxkit: /nonexistent/q: no such file or directory (ENOENT)\n');
    assert.match(missing.stdout, /\n- +- +\/nonexistent\/q +no such file or directory \(ENOENT\)\n$/);
  });

  it('usage errors exit 2', function () {
    for (const [args, msg] of [
      [['status'], /^daxkit: no PATH given: daxkit status PATH\.\.\.\nTry 'daxkit status --help' for more information\.$/],
      [['status', '--frob', dir], /^daxkit: unknown option '--frob'\nTry 'daxkit status --help'/],
      [['flag'], /^daxkit: say get, set or clear/],
      [['flag', 'toggle', dir], /^daxkit: unknown action 'toggle': get, set or clear\n/],
      [['flag', 'set'], /^daxkit: no PATH given: daxkit flag set PATH\.\.\.\n/],
      [['flag', 'get', '--dry-run', dir], /^daxkit: --dry-run and --atomic go with set and clear\n/],
    ] as const) {
      const r = daxkit(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr.trim(), msg);
    }
  });

  it('help for every command', function () {
    for (const c of ['status', 'flag', 'vm']) {
      const a = daxkit('help', c);
      const b = daxkit(c, '--help');
      assert.equal(a.status, 0);
      assert.equal(a.stdout, b.stdout);
      assert.match(a.stdout, new RegExp(`^Usage: daxkit ${c} `));
      assert.match(a.stdout, /Exit status/);
    }
  });
});
