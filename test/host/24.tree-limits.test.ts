// Trees as large and as deep as an admin's may be, through daxkit flag -R:
// wide ones must not overflow a call with one argument per entry (the CLI
// crashed after set/clear had changed everything), deep ones must not hold
// every prefix of every path (memory grew with the square of the depth), and
// what cannot be reached (a path past PATH_MAX, more levels than open fds)
// is said so. Root, on loop-mounted xfs; flags read back with xfs_io.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { json } from '../../lib/cli/output';
import { tableLines } from '../../lib/cli/table';
import { sh, useLoopMount } from '../helpers';

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');

function daxkit(args: string[], nodeArgs: string[] = [], prefix: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const cmd = [...prefix, process.execPath, ...nodeArgs, CLI, ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Captures what fn writes to stdout. */
function captured(fn: () => void): string {
  const write = process.stdout.write;
  let text = '';
  process.stdout.write = ((s: string) => {
    text += s;
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return text;
}

describe('output of any length', function () {
  it('a table of 150,000 rows and a JSON array of 150,000 objects, as JSON.stringify lays it out', function () {
    this.timeout(60_000);
    const rows = Array.from({ length: 150_000 }, (_, i) => [`/t/f${i}`, i % 7 === 0 ? 'set' : 'clear', 'x'.repeat(i % 50)]);
    let n = 0;
    let at = 0;
    for (const l of tableLines(['PATH', 'FLAG', 'NOTE'], rows)) {
      if (n === 0) at = l.indexOf('FLAG');
      else assert.ok(l.startsWith(rows[n - 1][0]) && l.slice(at).startsWith(rows[n - 1][1]), l);
      n++;
    }
    assert.equal(at, '/t/f149999'.length + 2);
    assert.equal(n, 150_001);
    const objects = rows.map(([p, f, x]) => ({ path: p, flag: f === 'set', note: x, big: 1n, nested: [{ a: [] }, {}] }));
    const text = captured(() => json(objects));
    assert.equal(text, `${JSON.stringify(objects, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`);
  });
});

describe('trees that are wide, deep or deeper than the fd limit (root, loop-mounted xfs)', function () {
  const mount = useLoopMount('xfs', 600);
  if (mount === null) return;

  it('flag set/get/clear -R over 15,000 entries with a stack that one argument per entry overflows: no crash, every flag changed and reported (xfs_io)', function () {
    this.timeout(180_000);
    const tree = path.join(mount().dir, 'wide');
    for (let d = 0; d < 15; d++) {
      fs.mkdirSync(path.join(tree, `d${d}`), { recursive: true });
      for (let f = 0; f < 1000; f++) fs.writeFileSync(path.join(tree, `d${d}`, `f${f}`), '');
    }
    // A stack a tenth of the default: 15,000 arguments to one call overflow it,
    // as the 125,000 entries the reviewer's tree had overflow the default one.
    const small = ['--stack-size=100'];
    const set = daxkit(['flag', 'set', '-R', '--json', tree], small);
    assert.equal(set.status, 0, set.stderr.slice(0, 500));
    const reports = JSON.parse(set.stdout) as Array<{ entries: Array<{ path: string; flagAfter: boolean }>; summary: { total: number; changed: number } }>;
    assert.equal(reports[0].summary.total, 15_016);
    assert.equal(reports[0].summary.changed, 15_016);
    const lsattr = sh('xfs_io', ['-r', '-c', 'lsattr -R', tree]).split('\n').filter((l) => l !== '');
    assert.equal(lsattr.filter((l) => /^\S*x\S* /.test(l)).length, 15_016, 'every entry has FS_XFLAG_DAX (xfs_io)');
    const get = daxkit(['flag', 'get', '-R', tree], small);
    assert.equal(get.status, 0, get.stderr.slice(0, 500));
    assert.equal(get.stdout.trimEnd().split('\n').length, 15_017, 'a header and a row per entry');
    const clear = daxkit(['flag', 'clear', '-R', tree], small);
    assert.equal(clear.status, 0, clear.stderr.slice(0, 500));
    assert.match(clear.stdout, /\n15016 paths: 15016 changed, /);
    assert.equal(sh('xfs_io', ['-r', '-c', 'lsattr -R', tree]).split('\n').filter((l) => /^\S*x\S* /.test(l)).length, 0);
  });

  it('a tree deeper than PATH_MAX: the entry past it fails with ENAMETOOLONG and is not entered; what is above is changed and reported', function () {
    this.timeout(60_000);
    const tree = path.join(mount().dir, 'deep');
    fs.mkdirSync(tree);
    const name = 'n'.repeat(255);
    // 40 levels of 255-byte names (10 KiB of path): made from inside, one level at a time.
    const made = spawnSync(process.execPath, ['-e', `process.chdir(${JSON.stringify(tree)}); for (let i = 0; i < 40; i++) { require('fs').mkdirSync(${JSON.stringify(name)}); process.chdir(${JSON.stringify(name)}); }`]);
    assert.equal(made.status, 0, made.stderr.toString());
    const r = daxkit(['flag', 'set', '-R', '--json', tree]);
    assert.equal(r.status, 1);
    const entries = (JSON.parse(r.stdout) as Array<{ entries: Array<{ path: string; state: string; changed: boolean; type: string; error: { code: string } | null }> }>)[0].entries;
    const within = Math.floor((4095 - tree.length) / 256);
    assert.equal(entries.length, within + 2, 'the root, every level whose path fits, and the first that does not');
    const last = entries[entries.length - 1];
    assert.equal(Buffer.byteLength(last.path), tree.length + (within + 1) * 256);
    assert.deepEqual([last.state, last.error?.code, last.type, last.changed], ['failed', 'ENAMETOOLONG', 'directory', false]);
    assert.ok(entries.slice(0, -1).every((e) => e.state === 'no-effect' && e.changed));
    assert.match(r.stderr, /: name too long \(ENAMETOOLONG\); its path is \d+ bytes, longer than the 4095 a path can have \(PATH_MAX\), so it cannot be named: it was not opened, and nothing below it was visited\n$/);
    // What xfs_io can reach by path agrees: the levels above are flagged.
    assert.match(sh('xfs_io', ['-r', '-c', 'lsattr', path.join(tree, name, name)]), /^\S*x\S* /);
  });

  it('a tree deeper than the open-file limit: EMFILE at the deepest levels, with the limit and what to do', function () {
    const tree = path.join(mount().dir, 'fds');
    fs.mkdirSync(path.join(tree, ...Array<string>(60).fill('d')), { recursive: true });
    const r = daxkit(['flag', 'get', '-R', tree], [], ['prlimit', '--nofile=40']);
    assert.equal(r.status, 1);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /\/d: too many open files \(EMFILE\); the walk holds one directory open per level, and this tree goes deeper than the open-file limit allows \(ulimit -n: 40\); raise it to reach further down$/);
    assert.match(r.stdout, /\n-  +- +\S+\/d +too many open files \(EMFILE\); the walk holds/);
  });
});
