// badblocks --clear asks before it zeroes, and an admin may take a while to
// answer. Whatever is swapped meanwhile (the DIR given, a directory inside
// it, the directory above a FILE, the FILE itself, for a symlink to where a
// file with bad blocks lies outside), the clear acts on the objects scanned
// and confirmed, or fails with ERR_DAX_TREE_CHANGED: never on a file outside.
// The CLI runs on a terminal (script(1) gives it a pty), the swap is made at
// its prompt, then the answer is typed. Root, on a loop-mounted xfs posing as
// pmem0 of the qemu-6.1 fixture tree (see 43.badfiles-walk).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { statx } from '../../lib';
import { binding } from '../../lib/binding';
import { commandExists, mkTempDir, useLoopMount } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const QEMU = path.join(ROOT, 'test', 'fixtures', 'sysfs', 'qemu-6.1');
const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const PMEM0 = 'devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/pfn0.0/block/pmem0';
const DATA = Buffer.alloc(64 * 1024, 0x41);

function firstSector(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    return binding.fiemap(fd)[0].physical / 512;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Runs `daxkit args` on a pty (script(1)); when the prompt shows, calls
 * `atPrompt`, then answers `y`. Resolves with the exit status and what the
 * terminal showed.
 */
function clearAtPrompt(args: string[], atPrompt: () => void): Promise<{ status: number | null; screen: string; prompted: boolean }> {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let screen = '';
  let prompted = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
      if (!prompted && screen.includes('Proceed? [y/N] ')) {
        prompted = true;
        try {
          atPrompt();
        } catch (e) {
          reject(e);
        }
        child.stdin.write('y\r');
      }
    });
    child.on('error', reject);
    child.on('exit', (status) => {
      clearTimeout(timer);
      child.stdin.end();
      resolve({ status, screen, prompted });
    });
  });
}

describe('badblocks --clear: a swap while the prompt waits (root, loop-mounted xfs posing as pmem0, on a pty)', function () {
  if (!commandExists('script')) {
    it('cannot run: needs script(1) (util-linux) for a terminal');
    return;
  }
  const loop = useLoopMount('xfs');
  if (loop === null) return;
  const mount = loop;
  let sysfs: string;
  let list: string;
  let n = 0;
  before(() => {
    sysfs = mkTempDir();
    fs.cpSync(QEMU, sysfs, { recursive: true, verbatimSymlinks: true });
    const st = statx(mount().dir);
    fs.symlinkSync(`../../${PMEM0}`, path.join(sysfs, 'dev', 'block', `${st.devMajor}:${st.devMinor}`));
    list = path.join(sysfs, PMEM0, 'badblocks');
    fs.writeFileSync(list, '');
  });
  after(() => {
    if (sysfs) fs.rmSync(sysfs, { recursive: true, force: true });
  });

  /** Files holding DATA whose first 4 KiB are on bad sectors (added to pmem0's list). */
  function badFiles(...files: string[]): void {
    for (const f of files) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, DATA);
      const fd = fs.openSync(f, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.appendFileSync(list, `${firstSector(f)} 8\n`);
    }
  }

  /** A fresh base with DIR (dir/a, dir/sub/hit) and, outside it, a file with bad blocks reachable as decoy/sub/hit too (a hard link). */
  function scene(): { base: string; dir: string; outside: string } {
    const base = path.join(mount().dir, `scene${++n}`);
    const dir = path.join(base, 'dir');
    const outside = path.join(base, 'outside', 'hit');
    badFiles(path.join(dir, 'a'), path.join(dir, 'sub', 'hit'), outside);
    fs.mkdirSync(path.join(base, 'decoy', 'sub'), { recursive: true });
    fs.linkSync(outside, path.join(base, 'decoy', 'sub', 'hit'));
    return { base, dir, outside };
  }

  const intact = (f: string): boolean => fs.readFileSync(f).equals(DATA);
  const zeroed = (f: string): boolean => {
    const b = fs.readFileSync(f);
    return b.subarray(0, 4096).equals(Buffer.alloc(4096)) && b.subarray(4096).equals(DATA.subarray(4096));
  };
  const args = (...targets: string[]): string[] => ['badblocks', '--clear', '--allow-uncleared', '--sysfs-root', sysfs, ...targets];

  it('DIR swapped for a symlink to a tree holding a file outside: nothing is cleared, the files say ERR_DAX_TREE_CHANGED', async function () {
    this.timeout(90_000);
    const { base, dir, outside } = scene();
    const r = await clearAtPrompt(args(dir), () => {
      fs.renameSync(dir, path.join(base, 'dir.real'));
      fs.symlinkSync('decoy', dir);
    });
    assert.ok(r.prompted, r.screen);
    assert.equal(r.status, 1, r.screen);
    assert.ok(intact(outside), 'the file outside keeps its data');
    assert.ok(intact(path.join(base, 'dir.real', 'a')) && intact(path.join(base, 'dir.real', 'sub', 'hit')), 'and nothing was cleared');
    assert.match(r.screen, new RegExp(`${dir}/sub/hit: not cleared: '${dir}' no longer names the directory that was scanned \\(it was replaced, moved or removed since\\)`));
  });

  it('a directory inside DIR swapped for a symlink to the outside: its file is left alone (ERR_DAX_TREE_CHANGED), the others are cleared', async function () {
    this.timeout(90_000);
    const { base, dir, outside } = scene();
    const r = await clearAtPrompt(args(dir), () => {
      fs.renameSync(path.join(dir, 'sub'), path.join(base, 'sub.real'));
      fs.symlinkSync('../decoy/sub', path.join(dir, 'sub'));
    });
    assert.equal(r.status, 1, r.screen);
    assert.ok(intact(outside), 'the file outside keeps its data');
    assert.ok(intact(path.join(base, 'sub.real', 'hit')), 'the file moved away is not what sub names now: left alone');
    assert.ok(zeroed(path.join(dir, 'a')), 'dir/a was cleared');
    assert.match(r.screen, new RegExp(`${dir}/sub/hit: replaced or moved during the run`));
  });

  it('the directory above a FILE, or the FILE itself, swapped for a symlink to the outside: ERR_DAX_TREE_CHANGED, nothing outside changes', async function () {
    this.timeout(90_000);
    for (const swap of ['parent', 'file'] as const) {
      const { base, dir, outside } = scene();
      const file = path.join(dir, 'sub', 'hit');
      const r = await clearAtPrompt(args(file), () => {
        if (swap === 'parent') {
          fs.renameSync(path.join(dir, 'sub'), path.join(base, 'sub.real'));
          fs.symlinkSync('../decoy/sub', path.join(dir, 'sub'));
        } else {
          fs.renameSync(file, path.join(base, 'hit.real'));
          fs.symlinkSync(outside, file);
        }
      });
      assert.equal(r.status, 1, `${swap}: ${r.screen}`);
      assert.ok(intact(outside), `${swap}: the file outside keeps its data`);
      assert.ok(intact(path.join(base, swap === 'parent' ? 'sub.real/hit' : 'hit.real')), `${swap}: nothing was cleared`);
      assert.match(r.screen, new RegExp(`${file}: not cleared: '${file}' no longer names the file that was scanned`), swap);
    }
  });

  it('with nothing swapped, exactly what was confirmed is cleared, where it is still bad: a bad block that turns up meanwhile, or one that is gone, is left alone, and said', async function () {
    this.timeout(90_000);
    const { dir, outside } = scene();
    const a = path.join(dir, 'a');
    const hit = path.join(dir, 'sub', 'hit');
    const r = await clearAtPrompt(args(dir), () => {
      const gone = `${firstSector(hit)} 8\n`;
      fs.writeFileSync(list, `${fs.readFileSync(list, 'utf8').replace(gone, '')}${firstSector(a) + 8} 8\n`);
    });
    assert.equal(r.status, 1, r.screen);
    assert.ok(zeroed(a), 'the first 4 KiB of a, as confirmed; the rest kept');
    assert.ok(intact(hit), 'sub/hit is no longer on bad media: kept');
    assert.ok(intact(outside));
    assert.match(r.screen, new RegExp(`${dir}/a: zeroed on fresh blocks: offset 0  length 4096\r?\n`));
    assert.match(r.screen, new RegExp(`${dir}/a: bad blocks found since the confirmation were left alone \\(run --clear again for them\\): offset 4096  length 4096`));
    assert.match(r.screen, new RegExp(`${dir}/sub/hit: no bad blocks to clear\r?\n  no longer on bad media, so left as it was: offset 0  length 4096\r?\n`));
  });
});
