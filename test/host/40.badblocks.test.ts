// Media errors on the host: the sysfs parsers and the device model on fixture
// trees (test/fixtures/sysfs, modelled on the emulated-pmem VM's Linux 6.1
// layout; see its README), the FIEMAP arithmetic on synthetic extents, and
// every "not supported" and failure path on this machine's real files. The
// same code against the real kernel and real poison: test/vm/50.badblocks.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badblocks, clearBadblocks, DaxError, findBadFiles, listDevices, open, SysfsFormatError, type PmemDevice } from '../../lib';
import { fileBadRanges } from '../../lib/pmem/file-analysis';
import { clipRanges, mergeRanges, subtractRanges } from '../../lib/pmem/ranges';
import { parseBadblockList } from '../../lib/pmem/badblock-list';
import { assertArgError, isRoot, mkTempDir } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'sysfs');
const QEMU = path.join(FIX, 'qemu-6.1');
const MiB = 1024 * 1024;

function at(tree: string): { sysfsRoot: string } {
  return { sysfsRoot: path.join(FIX, tree) };
}

function assertFormatError(fn: () => unknown, file: string, line: number, detail: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SysfsFormatError, `expected SysfsFormatError, got ${String(e)}`);
    assert.equal(e.code, 'ERR_DAX_SYSFS_FORMAT');
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.ok(e.message.startsWith(`${file}:${line}: `), e.message);
    assert.match(e.message, detail);
    return true;
  });
}

function assertNotSupported(fn: () => unknown, reason: RegExp, target?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DaxError, `expected DaxError, got ${String(e)}`);
    assert.equal(e.code, 'ERR_DAX_NOT_SUPPORTED');
    assert.match(e.reason ?? '', reason);
    assert.ok(e.message.includes(e.reason ?? '\0'), 'the message carries the reason');
    if (target !== undefined) assert.equal(e.path, target);
    return true;
  });
}

/** A copy of a fixture tree (symlinks kept) to change one file in. */
function copyTree(tree: string): string {
  const dir = mkTempDir();
  fs.cpSync(path.join(FIX, tree), dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

describe('sysfs badblock lists', function () {
  const F = '/sys/block/pmem0/badblocks';

  it('512-byte sectors become bytes; an empty list and the "\\n" of a disk without one are empty', function () {
    assert.deepEqual(parseBadblockList('16 8\n303120 1\n', F, 4096), {
      entries: [
        { offset: 8192, length: 4096 },
        { offset: 303120 * 512, length: 512 },
      ],
      complete: true,
    });
    assert.deepEqual(parseBadblockList('', F, 4096), { entries: [], complete: true });
    assert.deepEqual(parseBadblockList('\n', F, 4096), { entries: [], complete: true });
    assert.deepEqual(parseBadblockList('16 8', F, 4096).entries, [{ offset: 8192, length: 4096 }], 'a short list needs no final newline');
  });

  it('a line that is not "SECTOR COUNT", a count of 0, or a range beyond 2^53 bytes names the file and line', function () {
    assertFormatError(() => parseBadblockList('16 8\nfoo bar\n', F, 4096), F, 2, /expected "SECTOR COUNT", found "foo bar"/);
    assertFormatError(() => parseBadblockList('16 8 1\n', F, 4096), F, 1, /found "16 8 1"/);
    assertFormatError(() => parseBadblockList('-16 8\n', F, 4096), F, 1, /found "-16 8"/);
    assertFormatError(() => parseBadblockList('0x10 8\n', F, 4096), F, 1, /found "0x10 8"/);
    assertFormatError(() => parseBadblockList('\n\n16 0\n', F, 4096), F, 3, /a range of 0 sectors/);
    const last = (2n ** 53n - 1n) / 512n; // the last whole sector below 2^53 bytes
    assert.deepEqual(parseBadblockList(`${last - 1n} 1\n`, F, 4096).entries, [{ offset: Number((last - 1n) * 512n), length: 512 }]);
    assertFormatError(() => parseBadblockList(`${last} 1\n`, F, 4096), F, 1, /end beyond 2\^53 - 1 bytes/);
    assertFormatError(() => parseBadblockList('99999999999999999999999 1\n', F, 4096), F, 1, /beyond 2\^53/);
  });

  it('a list that fills the page is incomplete, and a line cut at the page end is dropped, never misread', function () {
    const lines = Array.from({ length: 500 }, (_, i) => `${100000 + 16 * i} 8\n`).join('');
    const cut = `1 1\n${lines}`.slice(0, 4095); // ends inside a line
    assert.ok(!cut.endsWith('\n'));
    const r = parseBadblockList(cut, F, 4096);
    assert.equal(r.complete, false);
    const kept = cut.split('\n').slice(0, -1).length;
    assert.equal(r.entries.length, kept);
    assert.deepEqual(r.entries.at(-1), { offset: (100000 + 16 * (kept - 2)) * 512, length: 4096 });
    const whole = parseBadblockList(cut.slice(0, cut.lastIndexOf('\n') + 1).padEnd(4095, ' '), F, 4096);
    assert.equal(whole.complete, false, 'a full page may have lost entries after its last line');
    const short = parseBadblockList(lines.slice(0, 2000 - (2000 % 9)), F, 4096);
    assert.equal(short.complete, true);
    // With 64 KiB pages the same 4095 bytes are not a full page: a line without its count is malformed.
    assertFormatError(() => parseBadblockList(cut, F, 65536), F, kept + 1, /found "\d+"/);
  });
});

describe('byte range arithmetic', function () {
  it('mergeRanges sorts and merges overlapping and touching ranges, and drops empty ones', function () {
    assert.deepEqual(
      mergeRanges([
        { offset: 8192, length: 4096 },
        { offset: 0, length: 512 },
        { offset: 512, length: 512 },
        { offset: 10000, length: 100 },
        { offset: 12288, length: 1 },
        { offset: 20000, length: 0 },
      ]),
      [
        { offset: 0, length: 1024 },
        { offset: 8192, length: 4097 },
      ],
    );
  });

  it('clipRanges keeps the parts inside a window, relative to it; subtractRanges removes bytes', function () {
    const r = [
      { offset: 100, length: 100 },
      { offset: 300, length: 100 },
    ];
    assert.deepEqual(clipRanges(r, 150, 350), [
      { offset: 0, length: 50 },
      { offset: 150, length: 50 },
    ]);
    assert.deepEqual(clipRanges(r, 200, 300), []);
    assert.deepEqual(subtractRanges(r, [{ offset: 120, length: 200 }]), [
      { offset: 100, length: 20 },
      { offset: 320, length: 80 },
    ]);
    assert.deepEqual(subtractRanges(r, []), r);
  });
});

describe('listDevices() on fixture trees', function () {
  it("the VM's layout: regions, namespaces, pmem and dax devices with ndctl's sizes, modes and counts", function () {
    const d = (o: Partial<PmemDevice>): PmemDevice => ({
      path: null,
      mode: null,
      map: null,
      namespace: null,
      persistenceDomain: 'unknown',
      numaNode: 0,
      targetNode: 0,
      canClearErrors: false,
      bus: 'ndbus0',
      provider: 'ACPI.NFIT',
      readOnly: null,
      memdevs: null,
      cxlRegions: null,
      serial: null,
      pmemSize: null,
      ramSize: null,
      firmwareVersion: null,
      ...o,
    }) as PmemDevice;
    const list = listDevices(at('qemu-6.1'));
    // No persistence_domain in this tree: every entry assumes the memory controller (test/host/45 has the rest).
    for (const e of list) assert.deepEqual([e.persistence?.domain, e.persistence?.provider, e.persistence?.assumed], ['memory-controller', 'nfit', true], e.name);
    const ns = { mode: 'fsdax', map: 'dev', align: 2097152, size: 1054867456 } as const;
    assert.deepEqual(list.map(({ persistence, ...rest }) => rest), [
      d({ name: 'region0', type: 'region', size: 1073741824, align: 16777216, region: 'region0', badblockCount: 16 }),
      // ndctl's count: the region's list inside the pfn data area (the sector at 100 is in the info block / page map).
      d({ name: 'namespace0.0', type: 'namespace', ...ns, region: 'region0', namespace: 'namespace0.0', badblockCount: 8 }),
      // The device's own list, with a sector only it has (written through sysfs).
      d({ name: 'pmem0', type: 'block', path: '/dev/pmem0', ...ns, region: 'region0', namespace: 'namespace0.0', badblockCount: 9 }),
      d({ name: 'region1', type: 'region', size: 536870912, align: 16777216, region: 'region1', badblockCount: 8 }),
      d({ name: 'namespace1.0', type: 'namespace', mode: 'devdax', map: 'dev', align: 2097152, size: 526385152, region: 'region1', namespace: 'namespace1.0', badblockCount: 8 }),
      d({ name: 'dax1.0', type: 'dax', path: '/dev/dax1.0', mode: 'devdax', map: 'dev', align: 2097152, size: 526385152, region: 'region1', namespace: 'namespace1.0', badblockCount: 8 }),
      d({ name: 'region2', type: 'region', size: 1073741824, align: 16777216, region: 'region2', badblockCount: 8 }),
      d({ name: 'namespace2.0', type: 'namespace', ...ns, region: 'region2', namespace: 'namespace2.0', badblockCount: 8 }),
      d({ name: 'pmem2', type: 'block', path: '/dev/pmem2', ...ns, region: 'region2', namespace: 'namespace2.0', badblockCount: 8 }),
    ]);
  });

  it('legacy e820 pmem: a raw namespace in "memory" mode is fsdax (map mem), partitions count their part, no commands means no clearing, numa -1 is null', function () {
    const list = listDevices(at('e820-partition'));
    assert.deepEqual(
      list.map((x) => [x.name, x.type, x.mode, x.map, x.size, x.badblockCount, x.canClearErrors, x.numaNode, x.align]),
      [
        ['region3', 'region', null, null, 536870912, 0, false, null, null],
        ['namespace3.0', 'namespace', 'fsdax', 'mem', 536870912, 0, false, null, null],
        ['pmem3', 'block', 'fsdax', 'mem', 536870912, 13, false, null, null],
        ['pmem3p1', 'partition', 'fsdax', 'mem', 522240 * 512, 8, false, null, null],
        ['pmem3p2', 'partition', 'fsdax', 'mem', 524288 * 512, 4, false, null, null],
      ],
    );
  });

  it('BTT has no list of its own; a dax device of no nd region (kmem) has no count; a platform with clear_error can clear', function () {
    const list = listDevices(at('btt-hmem'));
    assert.deepEqual(
      list.map((x) => [x.name, x.type, x.mode, x.region, x.badblockCount, x.canClearErrors, x.persistenceDomain, x.numaNode, x.targetNode]),
      [
        ['region0', 'region', null, 'region0', 8, true, 'memory_controller', 0, 0],
        ['namespace0.0', 'namespace', 'sector', 'region0', 8, true, 'memory_controller', 1, 3],
        ['pmem0s', 'block', 'sector', 'region0', null, true, 'memory_controller', 1, 3],
        ['dax0.0', 'dax', 'system-ram', null, null, null, null, 0, 2],
      ],
    );
  });

  it('missing attributes are null, never a crash; an empty tree lists zero counts; no nd bus at all is an empty list', function () {
    const list = listDevices(at('missing-attrs'));
    assert.deepEqual(
      list.map((x) => [x.name, x.size, x.align, x.mode, x.numaNode, x.persistenceDomain, x.badblockCount, x.canClearErrors]),
      [
        ['region0', 1073741824, null, null, null, 'unknown', null, null],
        // Without resources the namespace falls back to its block device's list.
        ['namespace0.0', 1054867456, null, 'fsdax', null, 'unknown', 8, null],
        ['pmem0', 1054867456, null, 'fsdax', null, 'unknown', 8, null],
        ['region1', 536870912, null, null, null, 'unknown', 8, null],
        ['namespace1.0', 526385152, null, 'devdax', null, 'unknown', null, null],
        ['dax1.0', 526385152, 2097152, null, null, 'unknown', null, null],
      ],
    );
    assert.deepEqual(
      listDevices(at('empty')).map((x) => [x.name, x.badblockCount, x.persistenceDomain, x.canClearErrors]),
      [
        ['region0', 0, 'unknown', false],
        ['namespace0.0', 0, 'unknown', false],
        ['pmem0', 0, 'unknown', false],
      ],
    );
    const none = mkTempDir();
    try {
      assert.deepEqual(listDevices({ sysfsRoot: none }), []);
    } finally {
      fs.rmSync(none, { recursive: true });
    }
  });

  it('a malformed attribute or list throws SysfsFormatError naming the file and line', function () {
    const bb = (tree: string, rel: string): string => path.join(FIX, tree, 'devices', 'LNXSYSTM:00', 'LNXSYBUS:00', 'ACPI0012:00', 'ndbus0', rel);
    assertFormatError(() => listDevices(at('garbage-attr')), bb('garbage-attr', 'region0/pfn0.0/block/pmem0/size'), 1, /found "2060288 sectors"/);
    assertFormatError(() => listDevices(at('empty-attr')), bb('empty-attr', 'region0/size'), 1, /expected an unsigned integer, found ""/);
    assertFormatError(() => listDevices(at('garbage-list')), bb('garbage-list', 'region0/badblocks'), 2, /found "303128 x"/);
    assertFormatError(() => listDevices(at('zero-length')), bb('zero-length', 'region0/pfn0.0/block/pmem0/badblocks'), 2, /a range of 0 sectors/);
    assertFormatError(() => listDevices(at('huge-numbers')), bb('huge-numbers', 'region0/pfn0.0/block/pmem0/badblocks'), 2, /beyond 2\^53/);
  });

  it('bad options', function () {
    assertArgError(() => listDevices({ sysfsroot: '/sys' } as never), TypeError, 'ERR_INVALID_ARG_VALUE', /did you mean 'sysfsRoot'/);
    assertArgError(() => listDevices({ sysfsRoot: 1 } as never), TypeError, 'ERR_INVALID_ARG_TYPE', /options\.sysfsRoot/);
    assertArgError(() => listDevices('/sys' as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"options"/);
  });
});

describe('badblocks() of devices and regions on fixture trees', function () {
  it('a pmem block device: its own list in bytes; its namespace names the same device', function () {
    const r = badblocks('pmem0', at('qemu-6.1'));
    assert.deepEqual(r, {
      target: 'pmem0',
      targetBuffer: Buffer.from('pmem0'),
      type: 'block',
      device: 'pmem0',
      region: 'region0',
      blockSize: null,
      ranges: [
        { offset: 266256 * 512, length: 4096 },
        { offset: 266280 * 512, length: 512 },
      ],
      badblockCount: 9,
      complete: true,
      warnings: [],
    });
    assert.deepEqual(badblocks('namespace0.0', at('qemu-6.1')).ranges, r.ranges);
  });

  it('a region: region-relative bytes, each range naming its namespace and device, and its offset after the pfn info block', function () {
    assert.deepEqual(badblocks('region0', at('qemu-6.1')).ranges, [
      { offset: 100 * 512, length: 4096, namespace: 'namespace0.0', device: null, deviceOffset: null },
      // 303120 sectors into the region, minus the pfn data offset 0x1200000: pmem0's 266256.
      { offset: 303120 * 512, length: 4096, namespace: 'namespace0.0', device: 'pmem0', deviceOffset: 266256 * 512 },
    ]);
    assert.deepEqual(badblocks('region1', at('qemu-6.1')).ranges, [
      { offset: 24576 * 512, length: 4096, namespace: 'namespace1.0', device: 'dax1.0', deviceOffset: 2 * MiB },
    ]);
  });

  it('a range across a boundary is split there; space no namespace uses is attributed to none', function () {
    const root = copyTree('qemu-6.1');
    try {
      const r0 = path.join(root, 'devices', 'LNXSYSTM:00', 'LNXSYBUS:00', 'ACPI0012:00', 'ndbus0', 'region0');
      // namespace0.0 now ends 1 MiB before the region does.
      fs.writeFileSync(path.join(r0, 'namespace0.0', 'size'), `${1024 * MiB - MiB}\n`);
      fs.writeFileSync(path.join(r0, 'pfn0.0', 'size'), `${1054867456 - MiB}\n`);
      // 36860: 4 sectors of info block/page map, then the first 4 of pmem0; the last 8 sectors of the region.
      fs.writeFileSync(path.join(r0, 'badblocks'), '36860 8\n2097144 8\n');
      assert.deepEqual(badblocks('region0', { sysfsRoot: root }).ranges, [
        { offset: 36860 * 512, length: 2048, namespace: 'namespace0.0', device: null, deviceOffset: null },
        { offset: 36864 * 512, length: 2048, namespace: 'namespace0.0', device: 'pmem0', deviceOffset: 0 },
        { offset: 2097144 * 512, length: 4096, namespace: null, device: null, deviceOffset: null },
      ]);
    } finally {
      fs.rmSync(root, { recursive: true });
    }
  });

  it("a devdax device: the region's list inside the device's physical range (mapping0), device-relative", function () {
    const r = badblocks('dax1.0', at('qemu-6.1'));
    assert.deepEqual([r.type, r.device, r.region, r.ranges, r.badblockCount], ['devdax', 'dax1.0', 'region1', [{ offset: 2 * MiB, length: 4096 }], 8]);
    assert.deepEqual(badblocks('namespace1.0', at('qemu-6.1')).ranges, r.ranges);
    // A second range (page_offset 0x20000 pages = 512 MiB into the device) maps elsewhere.
    const root = copyTree('qemu-6.1');
    try {
      const dev = path.join(root, 'devices', 'LNXSYSTM:00', 'LNXSYBUS:00', 'ACPI0012:00', 'ndbus0', 'region1', 'dax1.0', 'dax1.0');
      fs.writeFileSync(path.join(dev, 'mapping0', 'end'), '0x180bfffff\n'); // 2 MiB
      fs.mkdirSync(path.join(dev, 'mapping1'));
      fs.writeFileSync(path.join(dev, 'mapping1', 'start'), '0x180c00000\n');
      fs.writeFileSync(path.join(dev, 'mapping1', 'end'), '0x19fffffff\n');
      fs.writeFileSync(path.join(dev, 'mapping1', 'page_offset'), '0x20000\n');
      // region sector 24576 is phys 0x180c00000: the first byte of mapping1.
      assert.deepEqual(badblocks('dax1.0', { sysfsRoot: root }).ranges, [{ offset: 0x20000 * 4096, length: 4096 }]);
    } finally {
      fs.rmSync(root, { recursive: true });
    }
  });

  it("partitions: the disk's list inside the partition, relative to its start", function () {
    const e820 = at('e820-partition');
    assert.deepEqual(badblocks('pmem3p1', e820).ranges, [{ offset: 0, length: 4096 }]);
    assert.deepEqual(badblocks('pmem3p2', e820).ranges, [{ offset: 2048, length: 2048 }]);
    assert.equal(badblocks('pmem3p2', e820).type, 'partition');
    assert.deepEqual(badblocks('pmem3', e820).ranges.map((x) => x.offset), [4 * 512, 2048 * 512, 524292 * 512]);
  });

  it('no list is "not supported", with the reason: BTT, a dax device of no nd region, a region without badblocks', function () {
    assertNotSupported(() => badblocks('pmem0s', at('btt-hmem')), /pmem0s is a sector-mode \(BTT\) namespace: BTT remaps its blocks/, 'pmem0s');
    assertNotSupported(() => badblocks('namespace0.0', at('btt-hmem')), /sector-mode \(BTT\)/);
    assertNotSupported(() => badblocks('dax0.0', at('btt-hmem')), /dax0\.0 is not backed by an nd region/);
    assertNotSupported(() => badblocks('region0', at('missing-attrs')), /region0\/badblocks does not exist/);
    assert.deepEqual(badblocks('region0', at('btt-hmem')).ranges, [{ offset: MiB, length: 4096, namespace: 'namespace0.0', device: null, deviceOffset: null }]);
  });

  it('what cannot be read is a failure, not "not supported": a missing resource names the file; an unreadable layout leaves ranges unattributed', function () {
    const r1 = path.join(FIX, 'missing-attrs', 'devices', 'LNXSYSTM:00', 'LNXSYBUS:00', 'ACPI0012:00', 'ndbus0', 'region1');
    assertFormatError(() => badblocks('dax1.0', at('missing-attrs')), path.join(r1, 'resource'), 1, /missing, so the start of region1 is unknown/);
    const r = badblocks('region1', at('missing-attrs'));
    assert.deepEqual(r.ranges, [{ offset: 24576 * 512, length: 4096 }]);
    assert.match(r.warnings[0], /the layout of region1 is unknown \(a resource attribute is missing\)/);
  });

  it('a list cut at the page end: complete false with a warning; the ranges are the whole lines', function () {
    const r = badblocks('pmem0', at('truncated'));
    assert.equal(r.complete, false);
    assert.match(r.warnings[0], /fills the one page sysfs shows and may be cut short/);
    const text = fs.readFileSync(path.join(QEMU, '..', 'truncated', 'block', 'pmem0', 'badblocks'), 'utf8');
    assert.equal(r.ranges.length, text.split('\n').length - 1);
    const full = badblocks('pmem0', at('full-page'));
    assert.equal(full.complete, false);
    assert.equal(full.ranges.length, 455);
  });

  it('unknown names and bad arguments', function () {
    assertArgError(() => badblocks('region9', at('qemu-6.1')), TypeError, 'ERR_INVALID_ARG_VALUE', /names no nd region/);
    assertArgError(() => badblocks('pmem7', at('qemu-6.1')), TypeError, 'ERR_INVALID_ARG_VALUE', /names no pmem block device/);
    assertArgError(() => badblocks('dax9.0', at('qemu-6.1')), TypeError, 'ERR_INVALID_ARG_VALUE', /names no dax device/);
    assertArgError(() => badblocks('namespace0.1', at('qemu-6.1')), TypeError, 'ERR_INVALID_ARG_VALUE', /names no enabled namespace/);
    assertArgError(() => badblocks(42 as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"target"/);
    assertArgError(() => badblocks(''), TypeError, 'ERR_INVALID_ARG_VALUE', /non-empty/);
    assertArgError(() => badblocks('pmem0', { root: '/' } as never), TypeError, 'ERR_INVALID_ARG_VALUE', /options\.root/);
  });
});

describe('badblocks() of files: FIEMAP extents against the device list', function () {
  const ext = (logical: number, physical: number, length: number, flags = 0, exact = true): { logical: number; physical: number; length: number; flags: number; exact: boolean } => ({ logical, physical, length, flags, exact });

  it('a bad sector inside an extent names its whole filesystem block, file-relative', function () {
    const r = fileBadRanges([ext(0, 1 * MiB, 64 * 1024)], [{ offset: MiB + 8192 + 1024, length: 512 }], 0, 4096);
    assert.deepEqual(r.ranges, [{ offset: 8192, length: 4096 }]);
    assert.deepEqual(r.hits, [{ file: { offset: 9216, length: 512 }, device: { offset: MiB + 9216, length: 512 } }]);
    assert.equal(r.complete, true);
  });

  it("the partition's start is added to the extents' physical offsets", function () {
    const start = 2048 * 512;
    const bad = [{ offset: start + MiB, length: 4096 }];
    assert.deepEqual(fileBadRanges([ext(4096, MiB, 8192)], bad, start, 4096).ranges, [{ offset: 4096, length: 4096 }]);
    assert.deepEqual(fileBadRanges([ext(4096, MiB, 8192)], bad, 0, 4096).ranges, [], 'without it the block is elsewhere');
  });

  it('ranges across blocks and extents round out and merge; parts outside the extents do not count', function () {
    const r = fileBadRanges(
      [ext(0, 10 * MiB, 8192), ext(8192, 50 * MiB, 8192)],
      [
        { offset: 10 * MiB + 8192 - 512, length: 512 }, // the last sector of extent 0
        { offset: 50 * MiB - 4096, length: 4096 + 100 }, // runs into extent 1's first block from before it
        { offset: 70 * MiB, length: MiB }, // not this file's
      ],
      0,
      4096,
    );
    assert.deepEqual(r.ranges, [{ offset: 4096, length: 8192 }]);
    assert.deepEqual(
      r.hits.map((h) => h.file),
      [
        { offset: 8192 - 512, length: 512 },
        { offset: 8192, length: 100 },
      ],
    );
  });

  it('unwritten extents count; inline, tail and encoded data count whole; delayed allocation makes the answer incomplete', function () {
    const bad = [{ offset: MiB, length: 512 }];
    assert.deepEqual(fileBadRanges([ext(0, MiB, 4096, 0x800)], bad, 0, 4096).ranges, [{ offset: 0, length: 4096 }]);
    assert.deepEqual(fileBadRanges([ext(0, MiB - 100, 200, 0x200 | 0x100)], bad, 0, 4096).ranges, [{ offset: 0, length: 4096 }]);
    assert.deepEqual(fileBadRanges([ext(4096, MiB - 4096, 16384, 0x8)], bad, 0, 4096).ranges, [{ offset: 4096, length: 16384 }]);
    const d = fileBadRanges([ext(0, 0, 8192, 0x4 | 0x2), ext(8192, MiB, 4096)], bad, 0, 4096);
    assert.equal(d.complete, false);
    assert.deepEqual(d.ranges, [{ offset: 8192, length: 4096 }]);
    assert.match(d.warnings[0], /bytes 0-8191 of the file have no physical location yet \(delayed allocation\)/);
  });

  it('an extent past 2^53 - 1 bytes (of the file, or of the disk once the partition start is added) is not placed on rounded numbers: incomplete, with a warning', function () {
    const top = Number.MAX_SAFE_INTEGER - 4095;
    const bad = [{ offset: top - 4096, length: 4096 }];
    // FIEMAP's numbers past 2^53 - 1 reach JS rounded: native marks the extent inexact.
    const far = fileBadRanges([ext(2 ** 60, top - 4096, 4096, 0, false), ext(0, MiB, 4096)], bad, 0, 4096);
    assert.deepEqual([far.ranges, far.complete], [[], false]);
    assert.match(far.warnings[0], /an extent of the file \(about 4096 bytes near offset 1152921504606847000, physical 9007199254732800\) lies past 2\^53 - 1 bytes, where its offsets cannot be exact, and was not checked/);
    // Exact on its own, but not with the partition's start added.
    const shifted = fileBadRanges([ext(0, top - 4096, 8192)], [{ offset: top, length: 512 }], 8192, 4096);
    assert.deepEqual([shifted.ranges, shifted.complete], [[], false]);
    assert.deepEqual(fileBadRanges([ext(0, top - 8192, 8192)], bad, 0, 4096).ranges, [{ offset: 4096, length: 4096 }], 'right below the limit: checked');
  });
});

describe('files, directories and mappings on this host: not on persistent memory', function () {
  let dir: string;
  let shmFile: string;
  before(() => {
    dir = mkTempDir();
    shmFile = path.join(fs.mkdtempSync('/dev/shm/daxkit-bb-'), 'f');
    fs.writeFileSync(shmFile, Buffer.alloc(8192, 1));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.dirname(shmFile), { recursive: true, force: true });
  });

  it('a file on tmpfs has no media error list: "not supported", naming tmpfs and the mount', function () {
    assertNotSupported(() => badblocks(shmFile), /it is on tmpfs \(.* at \/dev\/shm\), which has no block device/, shmFile);
    assertNotSupported(() => findBadFiles(path.dirname(shmFile)), /on tmpfs/);
    const m = open(shmFile);
    try {
      assertNotSupported(() => m.badRanges(), /on tmpfs/);
    } finally {
      m.close();
    }
    assert.throws(() => m.badRanges(), (e: unknown) => e instanceof DaxError && e.code === 'ERR_DAX_CLOSED');
  });

  it('a file on a disk that is not pmem: "not supported", naming the device', function () {
    const f = path.join(ROOT, 'package.json');
    const dev = spawnSync('findmnt', ['-n', '-o', 'SOURCE', '-T', f], { encoding: 'utf8' }).stdout.trim();
    if (dev.startsWith('/dev/pmem')) this.skip();
    assertNotSupported(() => badblocks(f), /is not a persistent memory \(nd\) block device|has no block device|device-mapper/);
  });

  it('a character device that is not dax', function () {
    assertNotSupported(() => badblocks('/dev/null'), /a character device of the 'mem' subsystem, not a dax device/, '/dev/null');
  });

  // Any block device of this machine that is not pmem: its node in /dev, or as root one made here.
  const other = fs.readdirSync('/sys/class/block').find((n) => !/^(pmem|dm-)/.test(n) && fs.existsSync(`/sys/class/block/${n}/dev`));
  (other === undefined ? (title: string) => it(`${title} [pending: this machine has no block device but pmem]`) : it)('a block device that is not pmem', function () {
    const name = other as string;
    let node = `/dev/${name}`;
    if (!fs.existsSync(node) || !fs.statSync(node).isBlockDevice()) {
      if (!isRoot) {
        if (this.test) this.test.title += ` [pending: /dev/${name} is missing and making a node needs root]`;
        this.skip();
      }
      node = path.join(dir, name);
      const [maj, min] = fs.readFileSync(`/sys/class/block/${name}/dev`, 'utf8').trim().split(':');
      execFileSync('mknod', [node, 'b', maj, min]);
    }
    assertNotSupported(() => badblocks(node), new RegExp(`${name} is not a persistent memory \\(nd\\) block device`));
  });

  it('failures are not "not supported": a missing file is ENOENT; a directory is a bad argument', function () {
    assert.throws(() => badblocks(path.join(dir, 'nope')), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT' && (e as NodeJS.ErrnoException).path === path.join(dir, 'nope'));
    assertArgError(() => badblocks(dir), TypeError, 'ERR_INVALID_ARG_VALUE', /is a directory: .*findBadFiles\(\) scans a directory/);
    assertArgError(() => findBadFiles(shmFile), TypeError, 'ERR_INVALID_ARG_VALUE', /must be a directory/);
  });

  it('clearBadblocks: a file without a list is not touched; devices and regions are refused with what daxkit can and cannot do', function () {
    assertNotSupported(() => clearBadblocks(shmFile), /on tmpfs/);
    assert.deepEqual(fs.readFileSync(shmFile), Buffer.alloc(8192, 1));
    assertNotSupported(() => clearBadblocks('/dev/null'), /character device of the 'mem' subsystem/);
    const q = at('qemu-6.1');
    assertNotSupported(() => clearBadblocks('dax1.0', undefined, q), /dax1\.0 is a devdax device: there is no filesystem .*ndctl clear-errors.*this platform has none \(ndbus0, provider ACPI\.NFIT, offers: cmd_call\)/);
    assertNotSupported(() => clearBadblocks('pmem0', undefined, q), /pmem0 is a block device: the pmem driver clears a bad sector when it is written through the device, but that overwrites/);
    assertNotSupported(() => clearBadblocks('region0', undefined, q), /region0 is an nd region/);
    assertNotSupported(() => clearBadblocks('region0', undefined, at('btt-hmem')), /which this platform has \(ndbus0, provider ACPI\.NFIT, offers: ars_cap ars_start ars_status clear_error cmd_call\)/);
  });

  it('clearBadblocks: bad arguments', function () {
    assertArgError(() => clearBadblocks(shmFile, { offset: -1, length: 1 }), RangeError, 'ERR_OUT_OF_RANGE', /"range\.offset"/);
    assertArgError(() => clearBadblocks(shmFile, { offset: 0, length: 0 }), RangeError, 'ERR_OUT_OF_RANGE', /"range\.length"/);
    assertArgError(() => clearBadblocks(shmFile, { offset: 0, size: 1 } as never), TypeError, 'ERR_INVALID_ARG_VALUE', /range\.size/);
    assertArgError(() => clearBadblocks(shmFile, undefined, { allowUncleared: 'yes' } as never), TypeError, 'ERR_INVALID_ARG_TYPE', /options\.allowUncleared/);
    assertArgError(() => clearBadblocks(shmFile, undefined, { force: true } as never), TypeError, 'ERR_INVALID_ARG_VALUE', /options\.force/);
  });
});

describe('badblocks() without root', function () {
  if (!isRoot) {
    it('runs as root only (it drops to nobody in a child)');
    return;
  }
  let root: string;
  before(() => {
    // sysfs makes resource and the dax mappingN attributes root-only (0400).
    root = copyTree('qemu-6.1');
    fs.chmodSync(root, 0o755);
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) fs.chmodSync(p, ['resource', 'start', 'end', 'page_offset'].includes(e.name) ? 0o400 : 0o444);
      }
    };
    walk(root);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  function asNobody(code: string): { status: number | null; stdout: string; stderr: string } {
    const lib = path.join(ROOT, 'dist', 'lib');
    const r = spawnSync(process.execPath, ['-e', `const d = require(${JSON.stringify(lib)}); const o = { sysfsRoot: ${JSON.stringify(root)} }; ${code}`], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      cwd: '/',
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('listDevices() works; counts that need a root-only attribute fall back (namespace: its block device) or are null (dax)', function () {
    const r = asNobody('console.log(JSON.stringify(d.listDevices(o).map((x) => [x.name, x.badblockCount])))');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [
      ['region0', 16],
      ['namespace0.0', 9],
      ['pmem0', 9],
      ['region1', 8],
      ['namespace1.0', null],
      ['dax1.0', null],
      ['region2', 8],
      ['namespace2.0', 8],
      ['pmem2', 8],
    ]);
  });

  it('block devices and regions work (regions unattributed, with the reason); a devdax device fails with EACCES naming the file', function () {
    const r = asNobody(`
      const p = d.badblocks('pmem0', o), g = d.badblocks('region0', o);
      let e; try { d.badblocks('dax1.0', o); } catch (x) { e = { code: x.code, path: x.path, name: x.constructor.name }; }
      console.log(JSON.stringify({ p: p.ranges, g: g.ranges, w: g.warnings, e }));`);
    assert.equal(r.status, 0, r.stderr);
    const o = JSON.parse(r.stdout) as { p: unknown; g: unknown; w: string[]; e: { code: string; path: string } };
    assert.deepEqual(o.p, [
      { offset: 266256 * 512, length: 4096 },
      { offset: 266280 * 512, length: 512 },
    ]);
    assert.deepEqual(o.g, [
      { offset: 100 * 512, length: 4096 },
      { offset: 303120 * 512, length: 4096 },
    ]);
    assert.match(o.w[0], /the layout of region0 is unknown \(.*\/region0\/resource is readable by root only\)/);
    assert.equal(o.e.code, 'EACCES');
    assert.match(o.e.path, /\/region1\/resource$/);
  });
});
