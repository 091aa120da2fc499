// Media errors on the real (emulated) kernel: poison injected with
// pmem-poison through the machine-check path (bus poison list: regionN and
// /sys/block/pmemN, ndctl list --media-errors) and through
// /sys/block/pmemN/badblocks (the block device's list only), then daxkit's
// devices and ranges checked against ndctl, daxctl and xfs_io (tools we did
// not write), reads through a mapping, and the recovery of files.
//
// QEMU's NVDIMMs cannot clear poison (ndbus0 offers only cmd_call: no ARS,
// no Clear Uncorrectable Error). So clearBadblocks() must refuse by default,
// and with allowUncleared the file is recovered on fresh blocks while the bad
// block stays listed, as free space. A write that later allocates it would
// fail (EIO; on xfs a shutdown), which would break the tests that run after
// this one in the same VM: each released block is therefore retired right
// away (ext4: e2fsck -l into the bad block inode; xfs: the file takes the
// block back as an unwritten extent that nothing writes).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { badblocks, clearBadblocks, DaxError, DaxMediaError, findBadFiles, listDevices, open, type BadRange, type PmemDevice } from '../../lib';
import { mergeRanges } from '../../lib/pmem/ranges';
import { devdax, pmemFs, run, vit, type PmemFs } from './vm-env';

const PAGE = 4096;
const MiB = 1024 * 1024;
const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');

interface NdBadblock {
  offset: number;
  length: number;
}
interface NdNamespace {
  dev: string;
  mode: string;
  map?: string;
  size: number;
  align?: number;
  blockdev?: string;
  chardev?: string;
  /** With -v a devdax namespace shows its devices here instead of `chardev`. */
  daxregion?: { devices?: Array<{ chardev: string }> };
  badblock_count?: number;
  badblocks?: NdBadblock[];
}
interface NdRegion {
  dev: string;
  size: number;
  align: number;
  numa_node?: number;
  persistence_domain?: string;
  badblock_count?: number;
  badblocks?: NdBadblock[];
  namespaces?: NdNamespace[];
}

// ndctl and daxctl print a lone object instead of a one-element array.
function listOf<T>(text: string): T[] {
  if (text.trim() === '') return [];
  const v = JSON.parse(text) as T | T[];
  return Array.isArray(v) ? v : [v];
}

function ndRegions(): NdRegion[] {
  const v = JSON.parse(run('ndctl', ['list', '-R', '-N', '-M', '-v'])) as { regions?: NdRegion[] } | NdRegion[] | NdRegion;
  if (Array.isArray(v)) return v;
  if ('regions' in v && v.regions !== undefined) return v.regions;
  return [v as NdRegion];
}

function chardevOf(n: NdNamespace): string | undefined {
  return n.chardev ?? n.daxregion?.devices?.[0]?.chardev;
}

/** ndctl's sector lists as merged byte ranges. */
function ndBytes(list: NdBadblock[] | undefined): BadRange[] {
  return mergeRanges((list ?? []).map((b) => ({ offset: b.offset * 512, length: b.length * 512 })));
}

function plain(ranges: BadRange[]): BadRange[] {
  return ranges.map((r) => ({ offset: r.offset, length: r.length }));
}

/** Byte offset on the block device of `fileOffset`, from xfs_io's FIEMAP (512-byte units). */
function deviceOffsetOf(file: string, fileOffset: number): number {
  const sector = Math.floor(fileOffset / 512);
  for (const line of run('xfs_io', ['-r', '-c', 'fiemap', file]).split('\n')) {
    const m = /^\s*\d+: \[(\d+)\.\.(\d+)\]: (\d+)\.\.(\d+)/.exec(line);
    if (m === null) continue;
    const [l0, l1, p0] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (sector >= l0 && sector <= l1) return (p0 + sector - l0) * 512 + (fileOffset % 512);
  }
  throw new Error(`offset ${fileOffset} of ${file} is not allocated`);
}

function pattern(pages: number, seed: number): Buffer {
  const b = Buffer.alloc(pages * PAGE);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

function writeSynced(file: string, data: Buffer): void {
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

function contains(ranges: BadRange[], r: BadRange): boolean {
  return ranges.some((x) => x.offset <= r.offset && r.offset + r.length <= x.offset + x.length);
}

function cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** ext4: record the released blocks in the bad block inode (e2fsck -l, unmounted), so nothing allocates them. */
function retireExt4(f: PmemFs, released: BadRange[], blockSize: number): void {
  const blocks: number[] = [];
  for (const r of released) for (let o = r.offset; o < r.offset + r.length; o += blockSize) blocks.push(Math.floor(o / blockSize));
  const list = path.join(os.tmpdir(), `daxkit-badblocks-${process.pid}`);
  fs.writeFileSync(list, `${[...new Set(blocks)].join('\n')}\n`);
  run('umount', [f.dir]);
  const fsck = spawnSync('e2fsck', ['-fy', '-l', list, f.dev], { encoding: 'utf8' });
  run('mount', ['-o', f.opts, f.dev, f.dir]);
  assert.ok(fsck.status === 0 || fsck.status === 1, `e2fsck -l: exit ${fsck.status}\n${fsck.stdout}${fsck.stderr}`);
  const listed = run('dumpe2fs', ['-b', f.dev]).split('\n').map(Number);
  for (const b of blocks) assert.ok(listed.includes(b), `block ${b} is not in the bad block inode (dumpe2fs -b: ${listed.join(' ')})`);
}

/** xfs: give the block back to the file as an unwritten extent (the allocator aims next to the previous block). */
function retireXfs(file: string, fileOffset: number, length: number, devOffset: number): void {
  run('xfs_io', ['-c', `fpunch ${fileOffset} ${length}`, '-c', 'fsync', file]);
  run('sync', []);
  run('xfs_io', ['-c', `falloc -k ${fileOffset} ${length}`, '-c', 'fsync', file]);
  assert.equal(deviceOffsetOf(file, fileOffset), devOffset, `xfs did not take the released bad block at ${devOffset} back into ${file}: later tests could allocate it`);
}

describe('media errors: devices and badblocks against ndctl and daxctl', function () {
  vit('listDevices() shows the regions, namespaces and devices ndctl list -RNv and daxctl list show', function () {
    const mine = listDevices();
    const byName = new Map(mine.map((d) => [d.name, d]));
    const regions = ndRegions();
    assert.ok(regions.length >= 3, 'the VM has three NVDIMM regions');
    assert.deepEqual(
      mine.filter((d) => d.type === 'region').map((d) => d.name).sort(),
      regions.map((r) => r.dev).sort(),
    );
    const namespaces = regions.flatMap((r) => r.namespaces ?? []);
    assert.deepEqual(
      mine.filter((d) => d.type === 'namespace').map((d) => d.name).sort(),
      namespaces.map((n) => n.dev).sort(),
    );
    for (const r of regions) {
      const d = byName.get(r.dev) as PmemDevice;
      assert.equal(d.size, r.size, r.dev);
      assert.equal(d.align, r.align, r.dev);
      assert.equal(d.numaNode, r.numa_node ?? null, r.dev);
      assert.equal(d.persistenceDomain, r.persistence_domain ?? 'unknown', r.dev);
      assert.equal(d.canClearErrors, false, `${r.dev}: QEMU offers no clear-error method`);
      for (const n of r.namespaces ?? []) {
        const ns = byName.get(n.dev) as PmemDevice;
        assert.equal(ns.mode, n.mode, n.dev);
        assert.equal(ns.map, n.map ?? null, n.dev);
        assert.equal(ns.size, n.size, n.dev);
        assert.equal(ns.align, n.align ?? null, n.dev);
        assert.equal(ns.region, r.dev, n.dev);
        const dev = n.blockdev ?? chardevOf(n);
        assert.ok(dev !== undefined, `${n.dev} has a device`);
        const d2 = byName.get(dev) as PmemDevice;
        assert.equal(d2.namespace, n.dev);
        assert.equal(d2.type, n.blockdev !== undefined ? 'block' : 'dax');
        assert.equal(d2.path, `/dev/${dev}`);
        assert.equal(d2.size, n.size, `${dev}: ndctl's namespace size is the device's`);
      }
    }
    const daxctl = listOf<{ chardev: string; size: number; align: number; target_node: number; mode: string }>(run('daxctl', ['list', '-D']));
    assert.deepEqual(mine.filter((d) => d.type === 'dax').map((d) => d.name).sort(), daxctl.map((d) => d.chardev).sort());
    for (const x of daxctl) {
      const d = byName.get(x.chardev) as PmemDevice;
      assert.deepEqual([d.size, d.align, d.targetNode, d.mode], [x.size, x.align, x.target_node, x.mode], x.chardev);
    }
    const viaCli = cli(['devices', '--json']);
    assert.equal(viaCli.status, 0, viaCli.stderr);
    assert.deepEqual(
      (JSON.parse(viaCli.stdout) as Array<{ dev: string; badblock_count: number | null }>).map((d) => [d.dev, d.badblock_count]),
      mine.map((d) => [d.name, d.badblockCount]),
    );
  });

  for (const f of pmemFs) {
    const blk = path.basename(f.dev);
    vit(`${f.name}: a machine-check poison under a file: the file, ${blk}, its region and ndctl -M agree; read() faults there; clearing recovers the file`, function () {
      const file = path.join(f.dir, `bb-mce-${Date.now()}`);
      const data = pattern(16, 1);
      writeSynced(file, data);
      const bad = 5 * PAGE;
      const devOff = deviceOffsetOf(file, bad);
      assert.match(run('pmem-poison', ['--mce', file, String(bad)]), /poisoned via mce-inject/);

      const r = badblocks(file);
      assert.deepEqual(
        [r.type, r.device, r.blockSize, r.ranges, r.badblockCount, r.complete],
        ['file', blk, PAGE, [{ offset: bad, length: PAGE }], 8, true],
      );
      const dev = badblocks(f.dev);
      assert.ok(contains(dev.ranges, { offset: devOff, length: PAGE }), `${blk} lists ${devOff}: ${JSON.stringify(dev.ranges)}`);

      // The region's list (region-relative) translated to pmemN (after the pfn
      // info block and page map) is exactly what ndctl computes for the namespace.
      const region = badblocks(dev.region as string);
      const nd = ndRegions().find((x) => x.dev === dev.region) as NdRegion;
      assert.deepEqual(mergeRanges(plain(region.ranges)), ndBytes(nd.badblocks), `${dev.region} against ndctl list -R -M`);
      const ns = (nd.namespaces ?? []).find((n) => n.blockdev === blk) as NdNamespace;
      const translated = mergeRanges(region.ranges.filter((x) => x.device === blk).map((x) => ({ offset: x.deviceOffset as number, length: x.length })));
      assert.deepEqual(translated, ndBytes(ns.badblocks), `${dev.region} ranges attributed to ${blk}, against ndctl list -M for ${ns.dev}`);
      assert.ok(contains(translated, { offset: devOff, length: PAGE }));
      for (const t of translated) assert.ok(contains(dev.ranges, t), `${blk}'s own list holds the region's ${JSON.stringify(t)}`);

      const m = open(file);
      try {
        assert.throws(() => m.read(0, data.length), (e: unknown) => e instanceof DaxMediaError && e.offset === bad);
        assert.deepEqual(m.badRanges(), [{ offset: bad, length: PAGE }]);
      } finally {
        m.close();
      }
      const window = open(file, { offset: 4 * PAGE, size: 4 * PAGE, readonly: true });
      try {
        assert.deepEqual(window.badRanges(), [{ offset: PAGE, length: PAGE }], 'relative to the mapping');
      } finally {
        window.close();
      }
      const scan = findBadFiles(f.dir);
      assert.deepEqual(scan.files.find((x) => x.target === file)?.ranges, [{ offset: bad, length: PAGE }]);

      // QEMU cannot clear poison: refused by default, and nothing changes.
      assert.throws(
        () => clearBadblocks(file),
        (e: unknown) => e instanceof DaxError && e.code === 'ERR_DAX_NOT_SUPPORTED' && /offers: cmd_call/.test(e.message) && /allowUncleared/.test(e.message),
      );
      assert.deepEqual(badblocks(file).ranges, [{ offset: bad, length: PAGE }]);

      const c = clearBadblocks(file, undefined, { allowUncleared: true });
      assert.deepEqual(
        [c.zeroed, c.remaining, c.released, c.canClearErrors, c.device],
        [[{ offset: bad, length: PAGE }], [], [{ offset: devOff, length: PAGE }], false, blk],
      );
      // What this kernel did: the range is on a fresh block, the old one is
      // still listed bad (free space now: no file here uses it).
      assert.deepEqual(badblocks(file).ranges, []);
      assert.notEqual(deviceOffsetOf(file, bad), devOff);
      assert.ok(contains(badblocks(f.dev).ranges, { offset: devOff, length: PAGE }), 'the emulated DIMM keeps the poison');
      assert.ok(contains(findBadFiles(f.dir).unattributed, { offset: devOff, length: PAGE }));
      const expected = Buffer.from(data);
      expected.fill(0, bad, bad + PAGE);
      assert.deepEqual(fs.readFileSync(file), expected, 'zeros in the range, the rest intact');
      const again = open(file);
      try {
        assert.deepEqual(again.read(0, data.length), expected);
        again.write(bad, Buffer.alloc(PAGE, 0x5a));
        again.persist(bad, PAGE);
        assert.deepEqual(again.read(bad, PAGE), Buffer.alloc(PAGE, 0x5a), 'the fresh block takes writes');
      } finally {
        again.close();
      }

      if (f.name === 'ext4') retireExt4(f, c.released, c.blockSize);
      else retireXfs(file, bad, PAGE, devOff);
    });
  }

  vit('ext4: a bad sector written into /sys/block/pmemN/badblocks: the device has those 512 bytes, the file the whole block; the region and ndctl do not see it', function () {
    const f = pmemFs[0];
    const blk = path.basename(f.dev);
    const file = path.join(f.dir, `bb-sysfs-${Date.now()}`);
    const data = pattern(8, 2);
    writeSynced(file, data);
    const at = 3 * PAGE + 1024;
    const devOff = deviceOffsetOf(file, at);
    const regionBefore = badblocks(badblocks(f.dev).region as string).ranges;
    const before = listDevices();
    const nsName = before.find((d) => d.name === blk)?.namespace;
    const nsBefore = before.find((d) => d.name === nsName)?.badblockCount;
    run('pmem-poison', ['--sysfs', file, String(at), '512']);

    assert.ok(contains(badblocks(f.dev).ranges, { offset: devOff, length: 512 }));
    assert.ok(!contains(badblocks(f.dev).ranges, { offset: devOff - 512, length: 1024 }), 'exactly the sector: not the one before');
    assert.deepEqual(badblocks(file).ranges, [{ offset: 3 * PAGE, length: PAGE }], 'rounded out to the filesystem block');
    assert.deepEqual(badblocks(badblocks(f.dev).region as string).ranges, regionBefore, 'the region list is unchanged');
    const ns = ndRegions()
      .flatMap((r) => r.namespaces ?? [])
      .find((n) => n.blockdev === blk) as NdNamespace;
    assert.equal(ns.badblock_count ?? 0, nsBefore, 'ndctl (region-based) does not count it either');
    const m = open(file, { readonly: true });
    try {
      assert.throws(() => m.read(0, data.length), (e: unknown) => e instanceof DaxMediaError && e.offset === 3 * PAGE, 'the whole page faults');
      assert.deepEqual(m.read(4 * PAGE, 4 * PAGE), data.subarray(4 * PAGE));
    } finally {
      m.close();
    }
  });

  vit("devdax: the region's poison is attributed to the right device offset, as ndctl and daxctl place it; clearing is refused with the reason", function () {
    const name = path.basename(devdax);
    const off = 3 * MiB + PAGE;
    assert.match(run('pmem-poison', ['--mce', devdax, String(off)]), /poisoned via mce-inject/);
    const r = badblocks(devdax);
    assert.equal(r.type, 'devdax');
    assert.ok(contains(r.ranges, { offset: off, length: PAGE }), JSON.stringify(r.ranges));
    assert.deepEqual(badblocks(name).ranges, r.ranges);

    const nd = ndRegions().find((x) => x.dev === r.region) as NdRegion;
    const ns = (nd.namespaces ?? []).find((n) => chardevOf(n) === name) as NdNamespace;
    assert.deepEqual(r.ranges, ndBytes(ns.badblocks), `against ndctl list -M for ${ns.dev}`);

    // The region offset: where daxctl says the device starts, minus the region's start.
    const mapping = listOf<{ chardev: string; mappings: Array<{ page_offset: number; start: number }> }>(run('daxctl', ['list', '-D', '-M', '-d', name]))[0].mappings[0];
    const regionStart = Number(fs.readFileSync(`/sys/bus/nd/devices/${r.region}/resource`, 'utf8'));
    const inRegion = mapping.start - regionStart + off;
    const attributed = badblocks(r.region as string).ranges.find((x) => x.offset <= inRegion && inRegion < x.offset + x.length);
    assert.ok(attributed !== undefined);
    assert.deepEqual([attributed.namespace, attributed.device, (attributed.deviceOffset as number) + (inRegion - attributed.offset)], [ns.dev, name, off]);

    const m = open(devdax, { offset: 2 * MiB, size: 2 * MiB, readonly: true });
    try {
      assert.deepEqual(m.badRanges(), [{ offset: MiB + PAGE, length: PAGE }]);
    } finally {
      m.close();
    }
    assert.throws(
      () => clearBadblocks(devdax),
      (e: unknown) =>
        e instanceof DaxError && e.code === 'ERR_DAX_NOT_SUPPORTED' && /devdax device/.test(e.message) && /ndctl clear-errors/.test(e.message) && /offers: cmd_call/.test(e.message),
    );
    const d = listDevices().find((x) => x.name === name) as PmemDevice;
    assert.equal(d.badblockCount, ns.badblock_count);
  });

  vit('the CLI: badblocks --json in bytes; --clear of a directory refuses each file where the platform cannot clear; on a terminal it asks first', function () {
    const f = pmemFs[1];
    const file = path.join(f.dir, `bb-cli-${Date.now()}`);
    writeSynced(file, pattern(4, 3));
    run('pmem-poison', ['--mce', file, String(2 * PAGE)]);
    const j = cli(['badblocks', '--json', file]);
    assert.equal(j.status, 0, j.stderr);
    const [rep] = JSON.parse(j.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      [rep.type, rep.units, rep.badblock_count, rep.badblocks, rep.block_size],
      ['file', 'bytes', 8, [{ offset: 2 * PAGE, length: PAGE }], PAGE],
    );
    // A directory: every file hit under it is planned, and each is refused on this platform.
    const refused = cli(['badblocks', '--clear', '--yes', f.dir]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, new RegExp(`(^|\n)daxkit: ${file}: the platform cannot clear media errors on pmem\\d+ \\(`), 'the path once, then the reason');
    // On a terminal (script(1) gives it one) it lists the blocks and asks; "n" changes nothing.
    const tty = spawnSync('script', ['-qec', `${process.execPath} ${CLI} badblocks --clear --allow-uncleared ${file}`, '/dev/null'], { encoding: 'utf8', input: 'n\n' });
    assert.equal(tty.status, 1, tty.stdout);
    assert.match(tty.stdout, new RegExp(`about to zero[^]*${file}  offset ${2 * PAGE}  length ${PAGE}[^]*Proceed\\? \\[y/N\\][^]*nothing was changed`));
    assert.deepEqual(badblocks(file).ranges, [{ offset: 2 * PAGE, length: PAGE }], 'still there');
  });

  vit('badblock counts agree with ndctl list -RNM for every region and namespace', function () {
    const mine = new Map(listDevices().map((d) => [d.name, d]));
    for (const r of ndRegions()) {
      assert.equal(mine.get(r.dev)?.badblockCount, r.badblock_count ?? 0, r.dev);
      for (const n of r.namespaces ?? []) assert.equal(mine.get(n.dev)?.badblockCount, n.badblock_count ?? 0, n.dev);
    }
  });
});
