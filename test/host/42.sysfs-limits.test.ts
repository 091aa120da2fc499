// sysfs numbers that a JS number cannot hold once scaled (sectors to bytes,
// pages to bytes, a start plus a size), and sysfs trees that are not what
// sysfs is (a symlink loop, a directory or a FIFO where an attribute
// belongs): each must give SysfsFormatError naming the file (and line), never
// a rounded size or offset, a raw fs error, or a hang. Fixture trees: see
// test/fixtures/sysfs/README.md; each case changes one value or one file of a
// copy, so that it fails for that alone.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badblocks, listDevices, SysfsFormatError } from '../../lib';
import { mkTempDir } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'sysfs');
const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const NDBUS = path.join('devices', 'LNXSYSTM:00', 'LNXSYBUS:00', 'ACPI0012:00', 'ndbus0');

/** A copy of a fixture tree with `file` (relative) replaced by `value`, or by what `make` puts there. */
function changed(tree: string, file: string, value: string | ((p: string) => void)): { root: string; file: string } {
  const root = mkTempDir();
  fs.cpSync(path.join(FIX, tree), root, { recursive: true, verbatimSymlinks: true });
  const p = path.join(root, file);
  if (typeof value === 'string') fs.writeFileSync(p, value);
  else {
    fs.rmSync(p, { recursive: true, force: true });
    value(p);
  }
  return { root, file: p };
}

function assertSysfsError(fn: () => unknown, file: string, line: number, detail: RegExp, cause?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SysfsFormatError, `expected SysfsFormatError, got ${(e as Error)?.stack ?? String(e)}`);
    assert.equal(e.code, 'ERR_DAX_SYSFS_FORMAT');
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.ok(e.message.startsWith(line > 0 ? `${file}:${line}: ` : `${file}: `), e.message);
    assert.match(e.message, detail);
    if (cause !== undefined) assert.equal(((e as Error & { cause?: NodeJS.ErrnoException }).cause)?.code, cause);
    return true;
  });
}

describe('sysfs numbers past 2^53 - 1 once scaled', function () {
  const made: string[] = [];
  after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  const tree = (t: string, file: string, value: string): { root: string; file: string } => {
    const c = changed(t, file, value);
    made.push(c.root);
    return c;
  };

  it('a pmem size in sectors that fits, times 512, does not (fixture huge-size): never 4611686018427387392', function () {
    const root = path.join(FIX, 'huge-size');
    const file = path.join(root, NDBUS, 'region0/pfn0.0/block/pmem0/size');
    assertSysfsError(() => listDevices({ sysfsRoot: root }), file, 1, /^.*: the size in bytes \(512-byte sectors\): 9007199254740991 \* 512 = 4611686018427387392, beyond 2\^53 - 1$/);
    assertSysfsError(() => badblocks('pmem0', { sysfsRoot: root }), file, 1, /beyond 2\^53 - 1/);
  });

  it("a partition's start, and its start plus size (sectors to bytes)", function () {
    const part = path.join('devices', 'platform', 'e820_pmem', 'ndbus1', 'region3/namespace3.0/block/pmem3/pmem3p1');
    const e820 = (f: string, v: string): { root: string; file: string } => tree('e820-partition', path.join(part, f), v);
    let c = e820('start', '17592186044416\n'); // 2^44 sectors: fits, but 2^53 bytes do not
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), c.file, 1, /the start in bytes \(512-byte sectors\): 17592186044416 \* 512 = 9007199254740992, beyond 2\^53 - 1/);
    c = e820('start', '8796093022208\n'); // 2^43 sectors: 2^52 bytes, which fits
    const size = path.join(path.dirname(c.file), 'size');
    fs.writeFileSync(size, '8796093022208\n'); // and so does the size, but not the end
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), size, 1, /the end of pmem3p1 \(start \+ size\): 4503599627370496 \+ 4503599627370496 = 9007199254740992, beyond 2\^53 - 1/);
  });

  it("a dax device's mapping: page_offset in pages, and end + 1", function () {
    const m = path.join(NDBUS, 'region1/dax1.0/dax1.0/mapping0');
    let c = tree('qemu-6.1', path.join(m, 'page_offset'), '0x40000000000\n'); // 2^42 pages
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), c.file, 1, /the offset in bytes \(pages\): 4398046511104 \* 4096 = 18014398509481984, beyond 2\^53 - 1/);
    c = tree('qemu-6.1', path.join(m, 'end'), '0x1fffffffffffff\n');
    assertSysfsError(() => badblocks('dax1.0', { sysfsRoot: c.root }), c.file, 1, /the end \(inclusive\) plus one: 9007199254740991 \+ 1 = 9007199254740992/);
  });

  it("a dax mapping's page_offset that fits, but not the device offsets of the mapping (page_offset + its length): never a rounded device_offset", function () {
    // 2^41 - 1 pages: 2^53 - 4096 bytes, which fits; region1's bad sector is 2 MiB into the mapping, past 2^53 - 1.
    const m = path.join(NDBUS, 'region1/dax1.0/dax1.0/mapping0');
    const c = tree('qemu-6.1', path.join(m, 'page_offset'), '0x1ffffffffff\n');
    const detail = /the offset in dax1\.0 of the end of mapping0 \(page_offset in bytes \+ end \+ 1 - start\): 9007199254736896 \+ 526385152 = 9007199781122048, beyond 2\^53 - 1/;
    assertSysfsError(() => badblocks('dax1.0', { sysfsRoot: c.root }), c.file, 1, detail);
    assertSysfsError(() => badblocks('region1', { sysfsRoot: c.root }), c.file, 1, detail);
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), c.file, 1, detail);
    const end = tree('qemu-6.1', path.join(m, 'end'), '0x180000000\n');
    assertSysfsError(() => badblocks('dax1.0', { sysfsRoot: end.root }), end.file, 1, /the end \(6442450944\) is before the start \(6452936704\) of mapping0 of dax1\.0/);
  });

  it('a namespace or pfn resource plus its size, and a region start plus a bad range', function () {
    let c = tree('qemu-6.1', path.join(NDBUS, 'region0/namespace0.0/resource'), '0x1ffffffffff000\n');
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), c.file, 1, /the end of namespace0\.0 \(resource \+ size\)/);
    c = tree('qemu-6.1', path.join(NDBUS, 'region2/pfn2.0/resource'), '0x1ffffffffff000\n');
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), c.file, 1, /the end of pmem2 \(resource \+ size\)/);
    c = tree('qemu-6.1', path.join(NDBUS, 'region0/resource'), '0x1ffffffffff000\n');
    assertSysfsError(() => badblocks('region0', { sysfsRoot: c.root }), c.file, 1, /the end of a bad range of region0/);
  });

  it('an align (or any number) past 2^53 - 1 as written', function () {
    const c = tree('qemu-6.1', path.join(NDBUS, 'region0/align'), '0x20000000000000\n');
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), c.file, 1, /0x20000000000000 is beyond 2\^53 - 1/);
  });
});

describe('sysfs trees that are not what sysfs is', function () {
  const made: string[] = [];
  after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  const tree = (t: string, file: string, make: (p: string) => void): { root: string; file: string } => {
    const c = changed(t, file, make);
    made.push(c.root);
    return c;
  };

  it('a symlink loop (ELOOP) where a device link is, and as the tree itself', function () {
    const c = tree('qemu-6.1', 'bus/nd/devices/region0', (p) => {
      fs.symlinkSync('region0.loop', p);
      fs.symlinkSync('region0', `${p}.loop`);
    });
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), c.file, 0, /cannot be read as sysfs: ELOOP/, 'ELOOP');
    const loop = tree('qemu-6.1', 'bus', (p) => fs.symlinkSync('bus', p));
    assertSysfsError(() => listDevices({ sysfsRoot: loop.root }), path.join(loop.root, 'bus', 'nd', 'devices'), 0, /ELOOP/, 'ELOOP');
  });

  it('a directory where an attribute belongs (EISDIR), and a FIFO: named, and no hang', function () {
    let c = tree('qemu-6.1', path.join(NDBUS, 'region0/size'), (p) => fs.mkdirSync(p));
    assertSysfsError(() => listDevices({ sysfsRoot: c.root }), c.file, 0, /is not a regular file, as a sysfs attribute is/);
    c = tree('qemu-6.1', path.join(NDBUS, 'region0/pfn0.0/block/pmem0/badblocks'), (p) => spawnSync('mkfifo', [p]));
    assert.ok(fs.statSync(c.file).isFIFO());
    assertSysfsError(() => badblocks('pmem0', { sysfsRoot: c.root }), c.file, 0, /is not a regular file/);
  });

  it('the CLI: exit 1 with the file named, no stack trace, no raw fs error', function () {
    const c = tree('qemu-6.1', path.join(NDBUS, 'region0/size'), (p) => fs.mkdirSync(p));
    for (const args of [['devices'], ['badblocks', 'region0']]) {
      const r = spawnSync(process.execPath, [CLI, ...args, '--sysfs-root', c.root], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^daxkit: (region0: )?${c.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is not a regular file, as a sysfs attribute is\\n$`));
    }
    const huge = spawnSync(process.execPath, [CLI, 'devices', '--sysfs-root', path.join(FIX, 'huge-size')], { encoding: 'utf8' });
    assert.equal(huge.status, 1);
    assert.match(huge.stderr, /pmem0\/size:1: the size in bytes \(512-byte sectors\): 9007199254740991 \* 512 = 4611686018427387392, beyond 2\^53 - 1\n$/);
  });
});
