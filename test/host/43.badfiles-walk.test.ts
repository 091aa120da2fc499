// findBadFiles() and badblocks --clear DIR walk by file descriptor too: on a
// loop-mounted xfs (root) posing as pmem0 of the qemu-6.1 fixture tree (a
// copy whose dev/block/MAJ:MIN names the loop device, and whose pmem0 list
// names sectors of real files), files with names that are not UTF-8 are found
// and cleared; a symlink or a bind mount to the outside is never followed,
// and a directory swapped for a symlink between the scan and the clear makes
// the clear fail with ELOOP instead of zeroing a file outside.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clearBadblocks, findBadFiles, statx, type BadblocksReport } from '../../lib';
import { binding } from '../../lib/binding';
import { mkTempDir, sh, useLoopMount } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const QEMU = path.join(ROOT, 'test', 'fixtures', 'sysfs', 'qemu-6.1');
const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const PMEM0 = 'devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/pfn0.0/block/pmem0';
const DATA = Buffer.alloc(64 * 1024, 0x41);

/** The first physical sector of a file on the loop device (FIEMAP). */
function firstSector(file: string | Buffer): number {
  const fd = fs.openSync(file, 'r');
  try {
    return binding.fiemap(fd)[0].physical / 512;
  } finally {
    fs.closeSync(fd);
  }
}

describe('findBadFiles() and badblocks --clear DIR: the walk by fd (root, loop-mounted xfs posing as pmem0)', function () {
  const mount = useLoopMount('xfs');
  if (mount === null) return;
  let sysfs: string;
  let dir: string;
  let outside: string;
  let odd: Buffer;
  before(() => {
    dir = path.join(mount().dir, 'scan');
    outside = path.join(mount().dir, 'outside');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'bound'));
    fs.mkdirSync(outside);
    odd = Buffer.concat([Buffer.from(`${dir}/odd`), Buffer.of(0xff, 0x1b)]);
    for (const f of [path.join(dir, 'clean'), path.join(dir, 'sub', 'hit'), odd, path.join(outside, 'hit')]) {
      fs.writeFileSync(f, DATA);
      const fd = fs.openSync(f, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    fs.symlinkSync('../outside', path.join(dir, 'to-outside'));
    // The fixture's pmem0, with this loop device's numbers and bad sectors in three files.
    sysfs = mkTempDir();
    fs.cpSync(QEMU, sysfs, { recursive: true, verbatimSymlinks: true });
    const st = statx(dir);
    fs.symlinkSync(`../../${PMEM0}`, path.join(sysfs, 'dev', 'block', `${st.devMajor}:${st.devMinor}`));
    const bad = [path.join(dir, 'sub', 'hit'), odd, path.join(outside, 'hit')].map((f) => `${firstSector(f)} 8`);
    fs.writeFileSync(path.join(sysfs, PMEM0, 'badblocks'), `${bad.join('\n')}\n`);
  });
  after(() => {
    if (sysfs) fs.rmSync(sysfs, { recursive: true, force: true });
  });

  it('finds the files inside, names that are not UTF-8 exactly; the symlink and the bind mount to the outside are not followed', function () {
    sh('mount', ['--bind', outside, path.join(dir, 'bound')]);
    let r;
    try {
      r = findBadFiles(dir, { sysfsRoot: sysfs });
    } finally {
      spawnSync('umount', [path.join(dir, 'bound')]);
    }
    assert.equal(r.device, 'pmem0');
    assert.deepEqual(
      r.files.map((f) => f.targetBuffer),
      [odd, Buffer.from(path.join(dir, 'sub', 'hit'))],
    );
    assert.equal(r.files[0].target, `${dir}/odd\udcff\x1b`);
    assert.equal(r.filesScanned, 3, 'clean, odd, sub/hit: nothing through to-outside or bound');
    assert.equal(r.unattributed.length, 1, "outside/hit's range is nobody's here");
    assert.equal(r.complete, true, r.warnings.join('; '));
  });

  it('a directory swapped for a symlink to the outside after the scan: the clear beneath DIR fails with ELOOP and the outside file keeps its data', function () {
    const r = findBadFiles(dir, { sysfsRoot: sysfs });
    const hit = r.files.find((f) => f.target.endsWith('/sub/hit')) as BadblocksReport;
    fs.renameSync(path.join(dir, 'sub'), path.join(dir, 'sub.real'));
    fs.symlinkSync('../outside', path.join(dir, 'sub'));
    try {
      assert.throws(
        () => clearBadblocks(hit.targetBuffer, undefined, { sysfsRoot: sysfs, allowUncleared: true, beneath: dir }),
        (e: unknown) => (e as NodeJS.ErrnoException).code === 'ELOOP' && /a symbolic link is on the way/.test((e as Error).message),
      );
      assert.ok(fs.readFileSync(path.join(outside, 'hit')).equals(DATA), 'the file outside is untouched');
      // Without `beneath` the path is the caller's to resolve, as in node:fs: it names the outside file.
      assert.throws(() => clearBadblocks(hit.targetBuffer, undefined, { sysfsRoot: sysfs }), /cannot clear media errors/);
    } finally {
      fs.unlinkSync(path.join(dir, 'sub'));
      fs.renameSync(path.join(dir, 'sub.real'), path.join(dir, 'sub'));
    }
  });

  it('badblocks DIR, then --clear DIR: the hit files inside only, names escaped in text and exact in JSON', function () {
    const text = spawnSync(process.execPath, [CLI, 'badblocks', '--sysfs-root', sysfs, dir], { encoding: 'utf8' });
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(text.stdout + text.stderr, /[\u0000-\u0009\u000b-\u001f\udcff\ufffd]/);
    assert.match(text.stdout, /: 3 bad ranges, 12288 bytes on the device; 2 files hit of 3 scanned\n/);
    assert.match(text.stdout, /\/odd\\xff\\x1b {2}offset 0 {2}length 4096\n/);
    const r = spawnSync(process.execPath, [CLI, 'badblocks', '--clear', '--yes', '--allow-uncleared', '--json', '--sysfs-root', sysfs, dir], { encoding: 'utf8' });
    const out = JSON.parse(r.stdout) as Array<{ target: string; target_base64: string | null; zeroed: Array<{ offset: number; length: number }> }>;
    assert.deepEqual(
      out.map((x) => [x.target, x.target_base64 === null ? null : Buffer.from(x.target_base64, 'base64').equals(odd)]),
      [
        [`${dir}/odd\\xff\u001b`, true],
        [path.join(dir, 'sub', 'hit'), null],
      ],
    );
    for (const x of out) assert.deepEqual(x.zeroed, [{ offset: 0, length: 4096 }]);
    assert.ok(fs.readFileSync(odd).subarray(0, 4096).equals(Buffer.alloc(4096)), 'zeroed inside');
    assert.ok(fs.readFileSync(odd).subarray(4096).equals(DATA.subarray(4096)), 'the rest kept');
    assert.ok(fs.readFileSync(path.join(outside, 'hit')).equals(DATA), 'the outside file keeps its data');
    assert.equal(findBadFiles(dir, { sysfsRoot: sysfs }).files.length, 0, 'the files are off the bad blocks now');
  });
});
