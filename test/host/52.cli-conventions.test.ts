// The conventions of the daxkit command, tried as a new user would: version
// and help, a mistyped command or option, Node's parseArgs messages put in
// daxkit's words with a pointer to --help, errors said of what the user typed
// (not of API arguments), and output that never contradicts itself.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commandExists, escapeRe, isRoot, mkTempDir, useLoopMount } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const QEMU = path.join(ROOT, 'test', 'fixtures', 'sysfs', 'qemu-6.1');

function daxkit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A usage error: exit 2, nothing on stdout, the message, then the pointer to help. */
function assertUsage(args: string[], message: RegExp, help: string): void {
  const r = daxkit(...args);
  assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stdout, '', args.join(' '));
  const [first, second, ...rest] = r.stderr.split('\n');
  assert.match(first, message, args.join(' '));
  assert.equal(second, `Try '${help}' for more information.`, args.join(' '));
  assert.deepEqual(rest, ['']);
}

/** What the CLI must never say: Node's raw parseArgs sentences, or API words. */
function assertCliVoice(text: string, what: string): void {
  assert.doesNotMatch(text, /Unknown option|To specify a positional argument|argument missing|is ambiguous|does not take an argument/, `${what}: raw parseArgs: ${text}`);
  assert.doesNotMatch(text, /The argument '|Received |options\.\w|\w+\(\)/, `${what}: API words: ${text}`);
}

describe('daxkit: version, help and mistakes', function () {
  it('--version and -V print the version of the package', function () {
    const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-V']) assert.deepEqual(daxkit(flag), { status: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('help help explains help; help COMMAND is COMMAND --help', function () {
    const h = daxkit('help', 'help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /^Usage: daxkit help \[COMMAND\]\n/);
    for (const c of ['status', 'doctor', 'flag', 'devices', 'badblocks', 'bench', 'vm']) assert.equal(daxkit('help', c).stdout, daxkit(c, '--help').stdout, c);
    assertUsage(['help', 'stauts'], /^daxkit: unknown command 'stauts'; did you mean 'status'\?$/, 'daxkit help');
    assertUsage(['help', 'flag', 'get'], /^daxkit: help takes one COMMAND/, 'daxkit help help');
  });

  it('a mistyped command suggests the nearest one and exits 2; an option before the command says where it goes', function () {
    assertUsage(['stauts'], /^daxkit: unknown command 'stauts'; did you mean 'status'\?$/, 'daxkit help');
    assertUsage(['flags', 'get', '/'], /^daxkit: unknown command 'flags'; did you mean 'flag'\?$/, 'daxkit help');
    assertUsage(['badblock'], /^daxkit: unknown command 'badblock'; did you mean 'badblocks'\?$/, 'daxkit help');
    assertUsage(['frobnicate'], /^daxkit: unknown command 'frobnicate'$/, 'daxkit help');
    assertUsage(['--json', 'status', '/'], /^daxkit: unknown option '--json'; a command's options go after it \(daxkit COMMAND --json\)$/, 'daxkit help');
  });

  it("a mistyped option suggests the nearest; missing, unwanted and ambiguous values name the option; all in daxkit's words", function () {
    const cases: Array<[string[], RegExp, string]> = [
      [['status', '--jsn', '/'], /^daxkit: unknown option '--jsn'; did you mean '--json'\?$/, 'daxkit status --help'],
      [['flag', 'set', '--recursiv', '/x'], /^daxkit: unknown option '--recursiv'; did you mean '--recursive'\?$/, 'daxkit flag --help'],
      [['flag', 'set', '-r', '/x'], /^daxkit: unknown option '-r'; did you mean '-R'\?$/, 'daxkit flag --help'],
      [['flag', 'set', '--dryrun', '/x'], /^daxkit: unknown option '--dryrun'; did you mean '--dry-run'\?$/, 'daxkit flag --help'],
      [['flag', 'sett', '/x'], /^daxkit: unknown action 'sett': get, set or clear; did you mean 'set'\?$/, 'daxkit flag --help'],
      [['devices', '--sysfs-root'], /^daxkit: option '--sysfs-root' needs a value$/, 'daxkit devices --help'],
      [['devices', '--sysfs-root', '--json'], /^daxkit: option '--sysfs-root' needs a value \(to give one that starts with '-', write --sysfs-root=--json\)$/, 'daxkit devices --help'],
      [['devices', '--json=yes'], /^daxkit: option '--json' takes no value \(got 'yes'\)$/, 'daxkit devices --help'],
      [['devices', 'extra'], /^daxkit: unexpected argument 'extra': this command takes only options$/, 'daxkit devices --help'],
      [['badblocks', '--claer', 'f'], /^daxkit: unknown option '--claer'; did you mean '--clear'\?$/, 'daxkit badblocks --help'],
      [['vm', '--mme', '1G', '--', 'true'], /^daxkit: unknown option '--mme'; did you mean '--mem'\?/, 'daxkit vm --help'],
      [['bench', '--sise', '1M'], /^daxkit: unknown option '--sise'; did you mean '--size'\?$/, 'daxkit bench --help'],
      [['bench', '--size'], /^daxkit: option '--size' needs a value/, 'daxkit bench --help'],
      [['bench', '--size', '-1'], /^daxkit: option '--size' needs a value \(to give one that starts with '-', write --size=VALUE\)$/, 'daxkit bench --help'],
      [['bench', '-y', '--baseline', '-x'], /^daxkit: option '--baseline' needs a value/, 'daxkit bench --help'],
    ];
    for (const [args, message, help] of cases) {
      assertUsage(args, message, help);
      assertCliVoice(daxkit(...args).stderr, args.join(' '));
    }
  });

  it('errors are said of what the user typed, with what exists, never of API arguments', function () {
    for (const [name, says] of [
      ['region9', 'region9 names no nd region (the nd regions are region0, region1, region2)'],
      ['namespace9.9', 'namespace9.9 names no enabled namespace with a size (the namespaces are namespace0.0, namespace1.0, namespace2.0)'],
      ['dax9.9', 'dax9.9 names no dax device (the only dax device is dax1.0)'],
      ['pmem9', 'pmem9 names no pmem block device or partition of an nd region (the pmem devices are pmem0, pmem2)'],
    ] as const) {
      const r = daxkit('badblocks', '--sysfs-root', QEMU, name);
      assert.equal(r.status, 1, name);
      assert.equal(r.stderr, `daxkit: ${says}\n`);
      assertCliVoice(r.stderr, name);
    }
    const missing = daxkit('status', '/nonexistent/x');
    assert.equal(missing.stderr, 'daxkit: /nonexistent/x: no such file or directory (ENOENT)\n');
    assertCliVoice(missing.stderr, 'status');
  });

  it('bench --report or --compare of a file that cannot be read, or is not a document: a failure (exit 1), not a usage error', function () {
    const dir = mkTempDir();
    try {
      const notJson = path.join(dir, 'x.json');
      fs.writeFileSync(notJson, 'not json');
      const notDoc = path.join(dir, 'y.json');
      fs.writeFileSync(notDoc, '{"runs": []}');
      const missing = daxkit('bench', '--report', path.join(dir, 'missing.json'));
      assert.equal(missing.status, 1, missing.stderr);
      assert.equal(missing.stdout, '');
      assert.equal(missing.stderr, `daxkit: ${dir}/missing.json: no such file or directory (ENOENT); a saved document is written with daxkit bench --json > FILE\n`);
      const bad = daxkit('bench', '--report', notJson);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /^daxkit: .*x\.json is not JSON \(/);
      const other = daxkit('bench', '--compare', notDoc, notDoc);
      assert.equal(other.status, 1);
      assert.match(other.stderr, /y\.json is not a daxkit bench JSON document/);
      assertUsage(['bench', '--report', notDoc, '/tmp'], /takes no TARGET/, 'daxkit bench --help');
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe('daxkit flag output that agrees with itself (root, loop-mounted xfs)', function () {
  const mount = useLoopMount('xfs');
  if (mount === null) return;

  it('flag clear /missing /good: the missing path has its block, counts as failed in the summaries, and is on stderr once', function () {
    const good = path.join(mount().dir, 'good');
    fs.writeFileSync(good, '');
    const r = daxkit('flag', 'clear', '/nonexistent/missing', good);
    assert.equal(r.status, 1);
    const blocks = r.stdout.split('\n\n');
    assert.match(blocks[0], /^clear FS_XFLAG_DAX on \/nonexistent\/missing: failed\nPATH +FLAG +DAX +STATE +REASON\n\/nonexistent\/missing +- +- +failed +no such file or directory \(ENOENT\)\n1 path: 0 changed, 0 ok, 0 pending, 0 overridden, 0 no effect, 0 skipped, 1 failed$/);
    assert.match(blocks[1], new RegExp(`^clear FS_XFLAG_DAX on ${good}: done\\n`));
    assert.match(blocks[2], /^in all: 2 paths: 0 changed, 0 ok, 0 pending, 0 overridden, 1 no effect, 0 skipped, 1 failed\n$/);
    assert.equal(r.stderr, 'daxkit: /nonexistent/missing: no such file or directory (ENOENT)\n');
    const j = daxkit('flag', 'clear', '--json', '/nonexistent/missing', good);
    const reports = JSON.parse(j.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(reports[0], { path: '/nonexistent/missing', pathBase64: null, error: { code: 'ENOENT', message: "ENOENT: no such file or directory, open '/nonexistent/missing'" } });
    assert.equal(reports.length, 2);
  });

  it('flag get --json gives the reason daxkit status gives, also where the flag is set but the file is not DAX', function () {
    const f = path.join(mount().dir, 'flagged');
    fs.writeFileSync(f, '');
    assert.equal(daxkit('flag', 'set', f).status, 0);
    const get = (JSON.parse(daxkit('flag', 'get', '--json', f).stdout) as Array<{ flag: boolean; dax: boolean; reason: string | null }>)[0];
    const status = (JSON.parse(daxkit('status', '--json', f).stdout) as Array<{ reason: string }>)[0];
    assert.equal(get.flag, true);
    assert.equal(get.dax, false);
    assert.notEqual(get.reason, null);
    assert.equal(get.reason, status.reason);
  });

  it('flag on tmpfs, get, set and clear alike: not supported, exit 1, never "done" (tmpfs answers FS_IOC_FSGETXATTR since 6.0 but keeps no FS_XFLAG_DAX)', function () {
    const shm = fs.mkdtempSync('/dev/shm/daxkit-');
    try {
      for (const action of ['get', 'set', 'clear']) {
        const r = daxkit('flag', action, shm);
        assert.equal(r.status, 1, action);
        assert.doesNotMatch(r.stdout, /: done/, action);
        assert.equal(r.stderr, `daxkit: ${shm}: FS_XFLAG_DAX is not supported on tmpfs (mounted at /dev/shm)\n`, action);
      }
    } finally {
      fs.rmSync(shm, { recursive: true });
    }
  });
});

describe('daxkit never claims what it did not do, and reads its arguments as given', function () {
  let dir: string;
  before(() => {
    dir = mkTempDir();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('flag set or clear of a PATH left alone (a symlink not followed, a FIFO, a socket, a device): exit 1, "nothing done" and why, in CLI words', function () {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, '');
    const link = path.join(dir, 'link');
    fs.symlinkSync('target', link);
    const fifo = path.join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const sock = path.join(dir, 'sock');
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, function () { this.close(); })`]);
    const cases: Array<[string, string]> = [
      [link, 'a symbolic link, not followed (--follow-symlinks acts on its target)'],
      [fifo, 'a FIFO: only regular files and directories have FS_XFLAG_DAX'],
      ['/dev/null', 'a character device: only regular files and directories have FS_XFLAG_DAX'],
    ];
    if (fs.existsSync(sock)) cases.push([sock, 'a socket: only regular files and directories have FS_XFLAG_DAX']);
    for (const [p, why] of cases) {
      for (const action of ['set', 'clear']) {
        const r = daxkit('flag', action, p);
        assert.equal(r.status, 1, `${action} ${p}`);
        assert.match(r.stdout, new RegExp(`^${action} FS_XFLAG_DAX on ${escapeRe(p)}: nothing done: ${escapeRe(why)}\\n`));
        assert.doesNotMatch(r.stdout, /: done/);
        assert.equal(r.stderr, `daxkit: ${p}: nothing done: ${why}\n`);
        assertCliVoice(r.stdout + r.stderr, `${action} ${p}`);
        assert.equal(daxkit('flag', action, '--json', p).status, 1);
      }
    }
    const get = daxkit('flag', 'get', fifo);
    assert.equal(get.status, 1);
    assert.equal(get.stderr, `daxkit: ${fifo}: a FIFO: only regular files and directories have FS_XFLAG_DAX\n`);
  });

  it("'--' ends the options, -h and --help included: daxkit flag set -- -h acts on the file -h", function () {
    for (const name of ['-h', '--help']) {
      const r = spawnSync(process.execPath, [CLI, 'flag', 'set', '--', name], { encoding: 'utf8', cwd: dir });
      assert.equal(r.status, 1, name);
      assert.match(r.stdout, new RegExp(`^set FS_XFLAG_DAX on ${name}: failed\\n`));
      assert.equal(r.stderr, `daxkit: ${name}: no such file or directory (ENOENT)\n`);
      const s = spawnSync(process.execPath, [CLI, 'status', '--', name], { encoding: 'utf8', cwd: dir });
      assert.equal(s.stderr, `daxkit: ${name}: no such file or directory (ENOENT)\n`);
    }
    assert.equal(daxkit('flag', 'set', '-h', '--', 'x').status, 0, 'before it, -h still asks for help');
  });

  it("empty arguments are usage errors that say which; a sysfs root that does not exist is an error, never 'no persistent memory'", function () {
    assertUsage(['status', ''], /^daxkit: an empty argument \(argument 1 after the command\) names nothing$/, 'daxkit status --help');
    assertUsage(['flag', 'get', '/', ''], /^daxkit: an empty argument \(argument 3 after the command\) names nothing$/, 'daxkit flag --help');
    assertUsage(['badblocks', '--clear', '--yes', ''], /^daxkit: an empty argument/, 'daxkit badblocks --help');
    assertUsage(['devices', '--sysfs-root', ''], /^daxkit: option '--sysfs-root' needs a value that is not empty$/, 'daxkit devices --help');
    assertUsage(['badblocks', '--sysfs-root=', 'pmem0'], /^daxkit: option '--sysfs-root' needs a value that is not empty$/, 'daxkit badblocks --help');
    for (const args of [['devices'], ['badblocks'], ['badblocks', 'pmem0']]) {
      const r = daxkit(...args, '--sysfs-root', path.join(dir, 'nosys'));
      assert.equal(r.status, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `daxkit: ${dir}/nosys: no such file or directory (ENOENT)\n`, args.join(' '));
    }
    const file = path.join(dir, 'plain');
    fs.writeFileSync(file, '');
    assert.equal(daxkit('devices', '--sysfs-root', file).stderr, `daxkit: ${file}: is not a directory, as a sysfs root is\n`);
    // An empty one is a sysfs without persistent memory, as before.
    const empty = path.join(dir, 'emptysys');
    fs.mkdirSync(empty);
    assert.deepEqual(daxkit('devices', '--sysfs-root', empty), { status: 0, stdout: 'no persistent memory: no nd regions or dax devices in sysfs\n', stderr: '' });
  });

  it('without /proc, status says why it cannot open a file, as flag does (root: a mount namespace without /proc)', function () {
    if (!isRoot || !commandExists('unshare')) {
      (this.test as Mocha.Test).title += ' (pending: needs root and unshare)';
      this.skip();
    }
    const f = path.join(dir, 'plain-proc');
    fs.writeFileSync(f, '');
    const script = `umount -l /proc && for c in status 'flag get'; do "$0" "$1" $c "$2"; done`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, CLI, f], { encoding: 'utf8' });
    const line = `daxkit: ${f}: no such file or directory (ENOENT); daxkit opens files through /proc/self/fd, and /proc is not mounted\n`;
    assert.equal(r.stderr, line + line);
  });

  it('a file another process holds a lease on: EAGAIN says so (root: python3 takes the lease)', function () {
    if (!isRoot || !commandExists('python3')) {
      (this.test as Mocha.Test).title += ' (pending: needs root and python3)';
      this.skip();
    }
    const f = path.join(dir, 'leased');
    fs.writeFileSync(f, 'x');
    const py = `
import fcntl, os, signal, subprocess, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)  # the lease break is signalled to the holder
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)  # F_SETLEASE
for args in (['status'], ['flag', 'get']):
    sys.stderr.write(subprocess.run([sys.argv[2], sys.argv[3]] + args + [sys.argv[1]], capture_output=True, text=True).stderr)
`;
    const r = spawnSync('python3', ['-c', py, f, process.execPath, CLI], { encoding: 'utf8' });
    const line = `daxkit: ${f}: resource temporarily unavailable (EAGAIN); another process holds a lease on the file (fcntl F_SETLEASE, as Samba or an NFS server take): an open waits until it gives the lease up, and daxkit does not wait; try again later\n`;
    assert.equal(r.stderr, line + line);
  });
});
