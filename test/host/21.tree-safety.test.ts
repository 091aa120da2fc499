// The walks of setDaxFlag() (and of daxkit flag) against what an attacker or
// an unlucky admin can do to a tree while it is walked: a subdirectory
// swapped for a symlink to the outside, a bind mount of the same filesystem
// inside it, a mount appearing or going read-only in the middle of an atomic
// run through a symlinked root, names that are not UTF-8 or that hold
// terminal controls. Root, on loop-mounted xfs. What is on disk afterwards is
// read with xfs_io (xfsprogs), not with daxkit.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getDaxFlag, setDaxFlag, daxStatus, statx, type DaxFlagReport } from '../../lib';
import { listDaxFlags } from '../../lib/dax/flag';
import { sh, useLoopMount } from '../helpers';

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** FS_XFLAG_DAX of `dir` and of everything below it, as xfs_io's lsattr -R prints it. */
function lsattr(dir: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const line of sh('xfs_io', ['-r', '-c', 'lsattr -R', dir]).split('\n')) {
    const m = /^(\S+) (.*?) ?$/.exec(line);
    if (m !== null) out.set(m[2], m[1].includes('x'));
  }
  return out;
}

/** Starts a fixture (dist/test/fixtures/NAME.js) and waits for its "ready". */
function startFixture(name: string, args: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [path.join(FIXTURES, `${name}.js`), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.startsWith('ready\n')) resolve({ child, output: () => text });
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!text.startsWith('ready\n')) reject(new Error(`${name} exited (${code}) before it was ready`));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

function daxkit(args: string[], opts: { uid?: number; gid?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', ...opts });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI through bash, so that arguments can hold any byte ($'\xff'). */
function daxkitBash(script: string, opts: { cwd?: string } = {}): { status: number | null; stdout: Buffer; stderr: Buffer } {
  const r = spawnSync('bash', ['-c', `node "$DAXKIT" ${script}`], { env: { ...process.env, DAXKIT: CLI }, ...opts });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The report agrees with the disk: every flag it says it left is the flag xfs_io reads (under `realRoot`). */
function assertReportIsDisk(r: DaxFlagReport, reported: string, realRoot: string): void {
  const disk = lsattr(realRoot);
  for (const e of r.entries) {
    assert.notEqual(e.error?.code, 'ELOOP', `${e.path}: ${e.error?.message}`);
    if (e.flagAfter === null) continue;
    const real = realRoot + e.path.slice(reported.length);
    assert.equal(disk.get(real), e.flagAfter, `${e.path} (${e.state}): the report says ${e.flagAfter}, xfs_io says ${disk.get(real)}`);
    assert.equal(e.changed, e.flagBefore !== null && e.flagAfter !== e.flagBefore, `${e.path}: changed`);
  }
  assert.equal(r.summary.changed, r.entries.filter((e) => e.changed).length);
}

describe('walks that never leave the tree (root, loop-mounted xfs)', function () {
  const mount = useLoopMount('xfs', 600);
  if (mount === null) return;
  let n = 0;
  const fresh = (): string => {
    const d = path.join(mount().dir, `s${++n}`);
    fs.mkdirSync(d);
    return d;
  };

  it('a subdirectory swapped for a symlink to the outside during recursive runs: nothing outside changes (xfs_io lsattr), 300 runs', async function () {
    this.timeout(180_000);
    const base = fresh();
    const tree = path.join(base, 'tree');
    const outside = path.join(base, 'outside');
    fs.mkdirSync(path.join(tree, 'sub'), { recursive: true });
    fs.mkdirSync(outside);
    // The same names inside and outside: whenever the walk resolves a path
    // through the swapped-in symlink, it lands on a file outside.
    for (let i = 0; i < 40; i++) {
      const name = `f${String(i).padStart(2, '0')}`;
      fs.writeFileSync(path.join(tree, 'sub', name), '');
      fs.writeFileSync(path.join(outside, name), '');
      if (i % 2 === 0) sh('xfs_io', ['-c', 'chattr +x', path.join(outside, name)]);
    }
    fs.symlinkSync('../outside', path.join(tree, '.link'));
    const before = lsattr(outside);
    assert.equal([...before.values()].filter((x) => x).length, 20);

    const racer = await startFixture('swap-race', [tree]);
    let sawLink = 0;
    let sawInside = 0;
    try {
      for (let i = 0; i < 300; i++) {
        const r = i % 5 === 4 ? null : setDaxFlag(tree, i % 2 === 0, { recursive: true, atomic: i % 3 === 0 });
        const entries = r?.entries ?? listDaxFlags(tree, { recursive: true });
        if (entries.some((e) => e.path === path.join(tree, 'sub') && e.type === 'symlink')) sawLink++;
        if (entries.some((e) => e.path.startsWith(path.join(tree, 'sub') + '/'))) sawInside++;
      }
    } finally {
      racer.child.kill('SIGTERM');
      await exited(racer.child);
    }
    const swaps = Number(racer.output().split('\n')[1]);
    // Put the tree back together, wherever the racer stopped.
    if (fs.existsSync(path.join(tree, '.hold'))) {
      if (fs.lstatSync(path.join(tree, 'sub'), { throwIfNoEntry: false })?.isSymbolicLink()) fs.renameSync(path.join(tree, 'sub'), path.join(tree, '.link'));
      fs.renameSync(path.join(tree, '.hold'), path.join(tree, 'sub'));
    }
    assert.deepEqual(lsattr(outside), before, 'nothing outside the tree changed');
    assert.ok(swaps > 1000, `the racer swapped ${swaps} times`);
    assert.ok(sawLink > 0 && sawInside > 0, `the race overlapped the walks (sub seen as a symlink ${sawLink} times, entered ${sawInside} times)`);
  });

  it('a bind mount of the same filesystem inside the tree is a mount point (mount id): not entered, and nothing in it changes', function () {
    const base = fresh();
    const tree = path.join(base, 'tree');
    const other = path.join(base, 'other');
    fs.mkdirSync(path.join(tree, 'inner'), { recursive: true });
    fs.mkdirSync(path.join(other, 'deep'), { recursive: true });
    fs.writeFileSync(path.join(other, 'f'), '');
    fs.writeFileSync(path.join(tree, 'mine'), '');
    sh('mount', ['--bind', other, path.join(tree, 'inner')]);
    try {
      const inner = statx(path.join(tree, 'inner'));
      const top = statx(tree);
      assert.deepEqual([inner.devMajor, inner.devMinor], [top.devMajor, top.devMinor], 'same device numbers: only the mount id tells');
      assert.notEqual(inner.mntId, top.mntId);
      const r = setDaxFlag(tree, true, { recursive: true });
      const e = r.entries.find((x) => x.path === path.join(tree, 'inner'));
      assert.equal(e?.state, 'skipped');
      assert.equal(e?.reason, 'a mount point (this filesystem mounted here again, e.g. a bind mount): recursion does not enter it');
      assert.deepEqual(
        r.entries.map((x) => path.relative(tree, x.path) || '.'),
        ['.', 'inner', 'mine'],
      );
      const seen = lsattr(other);
      assert.deepEqual([...seen.values()], [false, false, false], 'other, other/deep and other/f keep no FS_XFLAG_DAX');
      assert.equal(lsattr(tree).get(path.join(tree, 'mine')), true);
      const get = daxkit(['flag', 'get', '-R', '--json', tree]);
      assert.deepEqual(
        (JSON.parse(get.stdout) as Array<{ path: string }>).map((x) => path.relative(tree, x.path) || '.'),
        ['.', 'inner', 'mine'],
      );
    } finally {
      spawnSync('umount', [path.join(tree, 'inner')]);
    }
  });

  it('atomic through a symlinked root: a read-only bind mount appearing mid-run aborts it, and everything, the root first, is restored through the held fds', async function () {
    this.timeout(90_000);
    const base = fresh();
    const real = path.join(base, 'real');
    const other = path.join(base, 'other');
    fs.mkdirSync(path.join(real, 'zz'), { recursive: true });
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'g'), '');
    // Many files before zz (the walk's order is by name): the mount lands
    // once the changes have begun (the root is changed first), long after the
    // checks passed zz and before the changes reach it.
    for (let i = 0; i < 4000; i++) fs.writeFileSync(path.join(real, `a${String(i).padStart(4, '0')}`), '');
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(real, 'zz', `f${i}`), '');
    const link = path.join(base, 'link');
    fs.symlinkSync('real', link);
    const zz = path.join(real, 'zz');
    // On a loaded machine the mount may land after the changes passed zz:
    // then the run succeeded (and must say so); try again, up to 3 times.
    let r: DaxFlagReport | null = null;
    for (let attempt = 0; attempt < 3 && r?.aborted !== true; attempt++) {
      if (r !== null) {
        spawnSync('umount', [zz]);
        assertReportIsDisk(r, link, real);
        setDaxFlag(real, false, { recursive: true });
      }
      const trigger = await startFixture('flag-trigger', [real, '--', 'mount', '-o', 'bind,ro', other, zz]);
      try {
        r = setDaxFlag(link, true, { recursive: true, atomic: true, followSymlinks: true });
      } finally {
        await exited(trigger.child);
      }
      assert.match(trigger.output(), /fired/, 'the mount was made during the run');
    }
    try {
      assert.ok(r !== null && r.aborted, 'the mount landed before the changes reached zz');
      const root = r.entries[0];
      assert.equal(root.path, link);
      assert.deepEqual([root.state, root.flagBefore, root.flagAfter, root.changed], ['rolled-back', false, false, false], 'the root, reached through the symlink, restored');
      const e = r.entries.find((x) => x.path === path.join(link, 'zz'));
      assert.equal(e?.state, 'failed');
      assert.equal(e?.error?.code, 'ERR_DAX_TREE_CHANGED');
      assert.ok(r.entries.filter((x) => x.state === 'rolled-back').length > 1000, 'what had been changed was restored');
      assert.equal(r.summary.changed, 0);
      assert.equal(r.summary.failed, 1);
      assert.equal(lsattr(other).get(path.join(other, 'g')), false, 'nothing in the mount changed');
    } finally {
      spawnSync('umount', [zz]);
    }
    assertReportIsDisk(r, link, real);
    assert.deepEqual([...lsattr(zz).values()].filter((x) => x), [], 'nor under it');
    assert.deepEqual([...lsattr(real).values()].filter((x) => x), [], 'the tree is as it was');
  });

  it('atomic through a symlinked root: the mount going read-only mid-run (EROFS) aborts it, and the report says exactly which changes could not be undone', async function () {
    this.timeout(120_000);
    const base = fresh();
    const real = path.join(base, 'real');
    const view = path.join(base, 'view');
    fs.mkdirSync(path.join(real, 'mm'), { recursive: true });
    fs.mkdirSync(view);
    for (let i = 0; i < 4000; i++) fs.writeFileSync(path.join(real, `a${String(i).padStart(4, '0')}`), '');
    for (let i = 0; i < 500; i++) fs.writeFileSync(path.join(real, 'mm', `f${i}`), '');
    sh('mount', ['--bind', real, view]);
    const link = path.join(base, 'link');
    fs.symlinkSync('view', link);
    try {
      // Once the changes have begun (the root first), view turns read-only.
      // On a loaded machine the remount may land after the last change: then
      // the run simply succeeded (and must say so); try again, up to 3 times.
      let r: DaxFlagReport | null = null;
      for (let attempt = 0; attempt < 3 && r?.aborted !== true; attempt++) {
        if (r !== null) {
          assertReportIsDisk(r, link, real);
          assert.equal(r.summary.failed, 0);
          setDaxFlag(real, false, { recursive: true });
        }
        const trigger = await startFixture('flag-trigger', [real, '--', 'mount', '-o', 'remount,bind,ro', view]);
        try {
          r = setDaxFlag(link, true, { recursive: true, atomic: true, followSymlinks: true });
        } finally {
          await exited(trigger.child);
        }
        assert.match(trigger.output(), /fired/);
      }
      assert.ok(r !== null && r.aborted, 'the remount landed during the changes');
      const cause = r.entries.filter((e) => e.error?.code === 'EROFS' && !e.changed);
      assert.equal(cause.length, 1, 'one change failed with EROFS');
      const stuck = r.entries.filter((e) => e.changed);
      assert.ok(stuck.length > 0 && stuck.length < r.entries.length - 1, `${stuck.length} changes could not be undone on a read-only mount`);
      for (const e of stuck) {
        assert.equal(e.state, 'failed');
        assert.equal(e.reason, 'changed, and could not be restored after another change failed: read-only file system (EROFS); the filesystem is mounted read-only here');
      }
      assert.equal(stuck[0].path, link, 'the root is among them, reached through its fd, not ELOOP');
      assert.equal(r.summary.changed, stuck.length);
      assertReportIsDisk(r, link, real);
      const text = daxkit(['flag', 'get', '--json', link]);
      assert.equal((JSON.parse(text.stdout) as Array<{ flag: boolean }>)[0].flag, true, 'as daxkit flag get says too');
    } finally {
      spawnSync('mount', ['-o', 'remount,bind,rw', view]);
      spawnSync('umount', [view]);
    }
  });

  it('names that are not UTF-8: found, flagged and reported losslessly by the library and the CLI (JSON and text)', function () {
    const base = fresh();
    const bad = Buffer.concat([Buffer.from(base + '/bad'), Buffer.of(0xff)]);
    const file = Buffer.concat([bad, Buffer.from('/f'), Buffer.of(0xfe, 0x80)]);
    fs.mkdirSync(bad);
    fs.writeFileSync(file, '');
    fs.writeFileSync(path.join(base, 'plain'), '');
    const r = setDaxFlag(base, true, { recursive: true });
    assert.equal(r.summary.failed, 0, JSON.stringify(r.entries.map((e) => e.reason)));
    const entry = r.entries.find((e) => e.pathBuffer.equals(file));
    assert.ok(entry, 'the file is in the report with its exact bytes');
    assert.equal(entry.path, `${base}/bad\udcff/f\udcfe\udc80`, 'its text: each byte that is not UTF-8 as U+DC80 + byte');
    assert.equal(entry.flagAfter, true);
    // xfs_io, handed the exact bytes by bash.
    const flags = sh('bash', ['-c', `xfs_io -r -c lsattr "$(printf '%s/bad\\377/f\\376\\200' "$1")"`, '_', base]);
    assert.match(flags, /^\S*x\S* /);
    assert.equal(getDaxFlag(file), true, 'a Buffer path');
    assert.equal(getDaxFlag(entry.path), true, 'the text path of the report names the same file');
    assert.equal(daxStatus(bad).path, `${base}/bad\udcff`);
    assert.ok(daxStatus(bad).pathBuffer.equals(bad));

    const json = daxkitBash(`flag get -R --json "$(printf '%s/bad\\377' "${base}")"`);
    assert.equal(json.status, 0, json.stderr.toString());
    const list = JSON.parse(json.stdout.toString()) as Array<{ path: string; pathBase64: string | null; flag: boolean }>;
    assert.deepEqual(
      list.map((l) => [l.path, l.pathBase64 === null ? null : Buffer.from(l.pathBase64, 'base64').equals(l.path.endsWith('\\xff') ? bad : file), l.flag]),
      [
        [`${base}/bad\\xff`, true, true],
        [`${base}/bad\\xff/f\\xfe\\x80`, true, true],
      ],
    );
    const text = daxkitBash(`flag clear -R "$(printf '%s/bad\\377' "${base}")"`);
    assert.equal(text.status, 0, text.stderr.toString());
    assert.ok(!text.stdout.includes(0xff) && !text.stdout.includes(0xfe), 'no raw bytes that are not UTF-8 on the terminal');
    assert.match(text.stdout.toString(), new RegExp(`\\n${base.replace(/\//g, '\\/')}\\/bad\\\\xff\\/f\\\\xfe\\\\x80 +set -> clear `));
    assert.equal(getDaxFlag(file), false);
  });

  it('terminal controls in names are escaped in every human output (tables, titles, stderr) and in JSON', function () {
    const base = fresh();
    const evil = ['esc\x1b]0;owned\x07', 'cr\rover', 'nl\nline', 'del\x7f', 'csi\u009b31m', 'bidi\u202eexe.txt', 'back\\x41slash'];
    for (const name of evil) fs.writeFileSync(path.join(base, name), '');
    const shm = fs.mkdtempSync('/dev/shm/daxkit-\x1b[2J');
    try {
      const outputs = [
        daxkit(['flag', 'set', '-R', base]),
        daxkit(['flag', 'get', '-R', base]),
        daxkit(['flag', 'clear', '-R', '--dry-run', base]),
        daxkit(['status', ...evil.map((e) => path.join(base, e))]),
        daxkit(['flag', 'set', shm]),
        daxkit(['status', path.join(base, 'missing\x1b[31m')]),
        daxkit(['badblocks', path.join(base, evil[0])]),
      ];
      for (const o of outputs) {
        for (const [stream, s] of [['stdout', o.stdout], ['stderr', o.stderr]] as const) {
          // eslint-disable-next-line no-control-regex
          assert.doesNotMatch(s.replace(/\n/g, ''), /[\u0000-\u001f\u007f-\u009f\u202e]/, `${stream} holds a raw control: ${JSON.stringify(s)}`);
        }
      }
      const get = outputs[1].stdout;
      for (const shown of ['esc\\x1b]0;owned\\x07', 'cr\\rover', 'nl\\nline', 'del\\x7f', 'csi\\u009b31m', 'bidi\\u202eexe.txt', 'back\\\\x41slash']) {
        assert.ok(get.includes(`${base}/${shown} `), `${shown} in:\n${get}`);
      }
      assert.equal(outputs[4].stderr, `daxkit: ${shm.replace('\x1b', '\\x1b')}: FS_XFLAG_DAX is not supported on tmpfs (mounted at /dev/shm)\n`);
      const json = daxkit(['flag', 'get', '-R', '--json', base]);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(json.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/, 'JSON escapes them too');
      const names = (JSON.parse(json.stdout) as Array<{ path: string; pathBase64: string | null }>).slice(1);
      assert.deepEqual(names.map((x) => path.basename(x.path)).sort(), [...evil].sort(), 'and JSON.parse gives the names back exactly');
      assert.ok(names.every((x) => x.pathBase64 === null), 'valid UTF-8: the text is exact');
    } finally {
      fs.rmSync(shm, { recursive: true });
    }
  });

  it('run as nobody (setpriv): EPERM and EACCES said once per path, names escaped, an atomic run changes nothing', function () {
    const base = fresh();
    fs.chmodSync(path.dirname(mount().dir), 0o755);
    fs.chmodSync(mount().dir, 0o755);
    fs.chmodSync(base, 0o755);
    const tree = path.join(base, 'tree');
    fs.mkdirSync(tree);
    const mine = Buffer.concat([Buffer.from(`${tree}/mine\x1b`), Buffer.of(0xff)]);
    fs.writeFileSync(mine, '');
    fs.writeFileSync(path.join(tree, 'roots'), '');
    fs.mkdirSync(path.join(tree, 'closed'), { mode: 0o700 });
    fs.chownSync(tree, 65534, 65534);
    fs.chownSync(mine, 65534, 65534);
    const asNobody = (args: string): { status: number | null; stdout: string; stderr: string } => {
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', '-c', `node "$DAXKIT" ${args}`], { env: { ...process.env, DAXKIT: CLI }, encoding: 'utf8' });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const atomic = asNobody(`flag set -R --atomic --json "${tree}"`);
    assert.equal(atomic.status, 1);
    const ar = JSON.parse(atomic.stdout) as DaxFlagReport[];
    assert.equal(ar[0].aborted, true);
    assert.equal(ar[0].summary.changed, 0);
    assert.deepEqual([...lsattr(tree).values()].filter((x) => x), [], 'nothing changed');

    const r = asNobody(`flag set -R "${tree}"`);
    assert.equal(r.status, 1);
    assert.equal(r.stdout.split('\n')[0], `set FS_XFLAG_DAX on ${tree} (recursive): done, 2 failed`);
    assert.match(r.stdout, new RegExp(`\\n${tree.replace(/\//g, '\\/')}\\/mine\\\\x1b\\\\xff +clear -> set `));
    const lines = r.stderr.trimEnd().split('\n').sort();
    assert.deepEqual(lines, [
      `daxkit: ${tree}/closed: permission denied (EACCES); opening it for the ioctl needs read permission on it (or CAP_DAC_OVERRIDE)`,
      `daxkit: ${tree}/roots: operation not permitted (EPERM); changing FS_XFLAG_DAX needs the file's owner or CAP_FOWNER (and CAP_LINUX_IMMUTABLE if it is immutable or append-only)`,
    ]);
    assert.equal(getDaxFlag(mine), true);
    assert.equal(getDaxFlag(path.join(tree, 'roots')), false);
  });
});
