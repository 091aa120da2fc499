// Issue 13 on fixture trees: what QEMU cannot show (dirty-shutdown counts of
// NFIT, PAPR and CXL DIMMs, eADR, a CXL RAM region, the CXL DIMM attributes
// of Linux 6.15+), in trees laid out as the VM's kernel lays out the kinds it
// does show (test/fixtures/sysfs-kinds.ts wrote them). The same code against
// the real kernel: test/vm-host/70.memory-kinds.test.ts. deepFlush() on this
// machine's files: a page cache (msync) and tmpfs (volatile).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaxError, DaxSystemError, listDevices, open, shutdownState, statx, SysfsFormatError } from '../../lib';
import { assertArgError, mkTempDir, nextFile } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'sysfs');
const NFIT_BUS = 'devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0';

function at(tree: string): { sysfsRoot: string } {
  return { sysfsRoot: path.join(FIX, tree) };
}

type Row = [string, string, string | null, boolean | null, string | undefined, string | undefined, boolean | undefined];

function rows(tree: string): Row[] {
  return listDevices(at(tree)).map((e) => [e.type, e.name, e.provider, e.readOnly, e.persistence?.domain, e.persistence?.provider, e.persistence?.assumed]);
}

describe('listDevices() on the kinds of memory (fixture trees)', function () {
  it('NFIT: eADR (cpu_cache) is cpu-cache, memory_controller is memory-controller, an unarmed DIMM makes its region none and read-only', function () {
    assert.deepEqual(rows('kinds-nfit-usc'), [
      ['region', 'region0', 'ACPI.NFIT', null, 'cpu-cache', 'nfit', false],
      ['namespace', 'namespace0.0', 'ACPI.NFIT', null, 'cpu-cache', 'nfit', false],
      ['block', 'pmem0', 'ACPI.NFIT', null, 'cpu-cache', 'nfit', false],
      ['region', 'region1', 'ACPI.NFIT', null, 'memory-controller', 'nfit', false],
      ['namespace', 'namespace1.0', 'ACPI.NFIT', null, 'memory-controller', 'nfit', false],
      ['block', 'pmem1', 'ACPI.NFIT', null, 'memory-controller', 'nfit', false],
      ['region', 'region2', 'ACPI.NFIT', true, 'none', 'nfit', false],
      ['namespace', 'namespace2.0', 'ACPI.NFIT', true, 'none', 'nfit', false],
      ['block', 'pmem2', 'ACPI.NFIT', true, 'none', 'nfit', false],
    ]);
    const r2 = listDevices(at('kinds-nfit-usc')).find((e) => e.name === 'region2')!;
    assert.match(r2.persistence!.reason, /nmem3 \(nfit\/flags: not_armed\) will not save its contents/);
    assert.deepEqual([r2.persistence!.device, r2.persistence!.region, r2.bus], [null, 'region2', 'ndbus0']);
  });

  it('an NFIT region without persistence_domain: memory-controller, assumed, with the reason', function () {
    const r = listDevices(at('qemu-6.1')).find((e) => e.name === 'region0')!;
    assert.equal(r.persistence!.assumed, true);
    assert.match(r.persistence!.reason, /no persistence_domain.*assumes the memory controller/);
  });

  it('virtio-pmem: the bus provider virtio-pmem; fsdax through a filesystem is host, its devdax namespace none', function () {
    assert.deepEqual(rows('kinds-virtio'), [
      ['region', 'region1', 'virtio-pmem', null, 'host', 'virtio-pmem', false],
      ['namespace', 'namespace1.0', 'virtio-pmem', null, 'host', 'virtio-pmem', false],
      ['block', 'pmem1', 'virtio-pmem', null, 'host', 'virtio-pmem', false],
      ['namespace', 'namespace1.1', 'virtio-pmem', null, 'none', 'virtio-pmem', false],
      ['dax', 'dax1.1', 'virtio-pmem', null, 'none', 'virtio-pmem', false],
    ]);
    assert.match(listDevices(at('kinds-virtio')).find((e) => e.name === 'dax1.1')!.persistence!.reason, /unable to guarantee persistence of writes/);
  });

  it('CXL: the pmem region over mem0 linked both ways, a RAM region as devdax (none), hmem (none), memdevs with serial, sizes and firmware', function () {
    const list = listDevices(at('kinds-cxl'));
    assert.deepEqual(
      list.map((e) => [e.type, e.name, e.region, e.namespace, e.memdevs, e.cxlRegions, e.persistence?.domain ?? null, e.persistence?.provider ?? null]),
      [
        ['region', 'region7', 'region7', null, ['mem0'], ['region7'], 'memory-controller', 'cxl'],
        ['namespace', 'namespace7.0', 'region7', 'namespace7.0', ['mem0'], ['region7'], 'memory-controller', 'cxl'],
        ['block', 'pmem7', 'region7', 'namespace7.0', ['mem0'], ['region7'], 'memory-controller', 'cxl'],
        ['dax', 'dax0.0', null, null, null, null, 'none', 'hmem'],
        ['dax', 'dax8.0', null, null, ['mem1'], ['region8'], 'none', 'cxl'],
        ['cxl-memdev', 'mem0', null, null, ['mem0'], ['region7'], null, null],
        ['cxl-memdev', 'mem1', null, null, ['mem1'], ['region8'], null, null],
        ['cxl-region', 'region7', 'region7', null, ['mem0'], ['region7'], 'memory-controller', 'cxl'],
        ['cxl-region', 'region8', null, null, ['mem1'], ['region8'], 'none', 'cxl'],
      ],
    );
    const mem = list.filter((e) => e.type === 'cxl-memdev').map((e) => [e.path, e.serial, e.pmemSize, e.ramSize, e.size, e.firmwareVersion, e.numaNode]);
    assert.deepEqual(mem, [
      ['/dev/cxl/mem0', '0xdeadbeef', 268435456, 0, 268435456, 'BWFW VERSION 00', 0],
      ['/dev/cxl/mem1', '0x2', 0, 536870912, 536870912, 'BWFW VERSION 01', 1],
    ]);
    const ram = list.find((e) => e.name === 'dax8.0')!;
    assert.deepEqual([ram.size, ram.mode, ram.path], [536870912, 'devdax', '/dev/dax8.0']);
    assert.equal(list.find((e) => e.type === 'cxl-region' && e.name === 'region8')!.size, 536870912);
  });
});

describe('shutdownState() on fixture trees', function () {
  const nfitDimm = (name: string): string => path.join(FIX, 'kinds-nfit-usc', NFIT_BUS, name, 'nfit', 'dirty_shutdown');

  it("NFIT: the counts of every DIMM of the region summed, their ids joined in the region's mapping order (as libpmem2)", function () {
    for (const target of ['region0', 'namespace0.0', 'pmem0']) {
      const s = shutdownState(target, at('kinds-nfit-usc'));
      assert.deepEqual([s.target, s.regions, s.count, s.id, s.reason], [target, ['region0'], 8, '8089-a2-1834-00000a028089-a2-1834-00000a01', null], target);
      assert.deepEqual(
        s.devices.map((d) => [d.dimm, d.family, d.id, d.count, d.file, d.flags]),
        [
          ['nmem1', 'nfit', '8089-a2-1834-00000a02', 5, nfitDimm('nmem1'), ['smart_notify']],
          ['nmem0', 'nfit', '8089-a2-1834-00000a01', 3, nfitDimm('nmem0'), []],
        ],
      );
    }
  });

  it('NFIT: a DIMM whose count the platform could not read (-1) makes the count null with the reason; an unarmed DIMM still counts', function () {
    const s = shutdownState('pmem1', at('kinds-nfit-usc'));
    assert.deepEqual([s.count, s.id], [null, '8089-a2-1834-00000a03']);
    assert.equal(s.reason, `${nfitDimm('nmem2')} reads -1: the platform could not read the count`);
    const u = shutdownState('region2', at('kinds-nfit-usc'));
    assert.deepEqual([u.count, u.devices[0].flags], [0, ['not_armed']]);
  });

  it('a file on a device in the tree: its filesystem device found through /dev/block/MAJOR:MINOR', function () {
    const tree = mkTempDir();
    fs.cpSync(path.join(FIX, 'kinds-nfit-usc'), tree, { recursive: true, verbatimSymlinks: true });
    const st = statx(__filename);
    if (st.devMajor === 0) this.skip(); // pending: this checkout is on no block device (an overlay)
    const link = path.join(tree, 'dev', 'block', `${st.devMajor}:${st.devMinor}`);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.relative(path.dirname(link), path.join(tree, NFIT_BUS, 'region0', 'namespace0.0', 'block', 'pmem0')), link);
    const s = shutdownState(__filename, { sysfsRoot: tree });
    assert.deepEqual([s.regions, s.count], [['region0'], 8]);
    fs.rmSync(tree, { recursive: true, force: true });
  });

  it('a file on device-mapper over pmem: every region under it, their DIMMs once each, summed and joined (a -1 among them: null)', function () {
    const st = statx(__filename);
    if (st.devMajor === 0) this.skip(); // pending: this checkout is on no block device (an overlay)
    const tree = mkTempDir();
    fs.cpSync(path.join(FIX, 'kinds-nfit-usc'), tree, { recursive: true, verbatimSymlinks: true });
    const dm = path.join(tree, 'devices', 'virtual', 'block', 'dm-0');
    fs.mkdirSync(path.join(dm, 'slaves'), { recursive: true });
    const link = path.join(tree, 'dev', 'block', `${st.devMajor}:${st.devMinor}`);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.relative(path.dirname(link), dm), link);
    const under = (names: string[]): void => {
      fs.rmSync(path.join(dm, 'slaves'), { recursive: true, force: true });
      fs.mkdirSync(path.join(dm, 'slaves'));
      for (const n of names) fs.symlinkSync(path.relative(path.join(dm, 'slaves'), fs.realpathSync(path.join(tree, 'class', 'block', n))), path.join(dm, 'slaves', n));
    };
    try {
      under(['pmem2', 'pmem0']);
      const s = shutdownState(__filename, { sysfsRoot: tree });
      assert.deepEqual([s.regions, s.count, s.id], [['region0', 'region2'], 8, '8089-a2-1834-00000a028089-a2-1834-00000a018089-a2-1834-00000a04']);
      under(['pmem0', 'pmem1']);
      const t = shutdownState(__filename, { sysfsRoot: tree });
      assert.deepEqual([t.regions, t.count], [['region0', 'region1'], null]);
      assert.match(t.reason!, /nmem2\/nfit\/dirty_shutdown reads -1/);
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  });

  it('PAPR: counts without ids: the count is summed, the id is null with the reason', function () {
    const s = shutdownState('pmem0', at('kinds-papr-small'));
    assert.deepEqual([s.count, s.id, s.reason], [7, null, 'nmem0 has no id (papr attributes)']);
    assert.deepEqual(s.devices.map((d) => [d.family, d.count]), [['papr', 7]]);
  });

  it('a count past 2^53 - 1 (a u64 in papr/dirty_shutdown) is a SysfsFormatError naming the file, never a rounded count', function () {
    const file = path.join(FIX, 'kinds-papr-usc', 'devices/platform/ibm,pmemory@44104001/ndbus0/nmem0/papr/dirty_shutdown');
    assert.throws(
      () => shutdownState('region0', at('kinds-papr-usc')),
      (e: unknown) => e instanceof SysfsFormatError && e.file === file && e.line === 1 && /18446744073709551615 is beyond 2\^53 - 1/.test(e.message),
    );
  });

  it('CXL (Linux 6.15+): cxl/dirty_shutdown and cxl/id, the DIMM linked to its memory device', function () {
    const s = shutdownState('namespace7.0', at('kinds-cxl'));
    assert.deepEqual([s.regions, s.count, s.id, s.reason], [['region7'], 2, '3735928559', null]);
    assert.deepEqual(s.devices.map((d) => [d.dimm, d.family, d.memdev]), [['nmem0', 'cxl', 'mem0']]);
  });

  it('no DIMMs to count: volatile dax devices outside nd regions, virtio-pmem', function () {
    for (const [tree, target, reason] of [
      ['kinds-cxl', 'dax8.0', "'dax8.0' is in no nd region: there are no DIMMs to count unsafe shutdowns of"],
      ['kinds-cxl', 'dax0.0', "'dax0.0' is in no nd region: there are no DIMMs to count unsafe shutdowns of"],
      ['kinds-virtio', 'pmem1', 'region1 has no DIMMs (provider virtio-pmem): there is nothing that counts unsafe shutdowns'],
    ]) {
      const s = shutdownState(target, at(tree));
      assert.deepEqual([s.count, s.id, s.reason, s.devices], [null, null, reason, []], `${tree} ${target}`);
    }
  });

  it('a file on tmpfs, or on a disk: null with the reason', function () {
    const shm = nextFile('/dev/shm');
    fs.writeFileSync(shm, 'x');
    try {
      const s = shutdownState(shm);
      assert.deepEqual([s.regions, s.count, s.id], [[], null, null]);
      assert.match(s.reason!, /no block device.*no DIMMs to count/);
    } finally {
      fs.rmSync(shm);
    }
    if (statx(__filename).devMajor !== 0) {
      const d = shutdownState(__filename);
      assert.deepEqual([d.regions, d.count, d.devices], [[], null, []]);
      assert.match(d.reason!, /is on \S+, which is in no nd region: there are no DIMMs/);
    }
  });

  it('bad arguments: TypeError and RangeError with codes; a missing path is ENOENT from statx; a device name not in sysfs is ERR_INVALID_ARG_VALUE', function () {
    assertArgError(() => shutdownState(42 as unknown as string), TypeError, 'ERR_INVALID_ARG_TYPE', /target/);
    assertArgError(() => shutdownState('region0', 5 as unknown as object), TypeError, 'ERR_INVALID_ARG_TYPE', /options/);
    assertArgError(() => shutdownState('region0', { sysfsRoot: FIX, bogus: 1 } as object), TypeError, 'ERR_INVALID_ARG_VALUE', /bogus/);
    assertArgError(() => shutdownState('region99', at('kinds-nfit-usc')), TypeError, 'ERR_INVALID_ARG_VALUE', /names no device in .*kinds-nfit-usc\/bus\/nd\/devices\. Received 'region99'/);
    const missing = path.join(mkTempDir(), 'nope');
    assert.throws(
      () => shutdownState(missing),
      (e: unknown) => e instanceof DaxSystemError && e.code === 'ENOENT' && e.syscall === 'statx' && e.path === missing,
    );
  });
});

describe('deepFlush() on this machine', function () {
  it('a page-cache file: msync of the range, durable as the storage under it', function () {
    const dir = mkTempDir(ROOT);
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(8192));
    const m = open(f);
    try {
      assert.equal(m.persistence.domain, 'storage', m.persistence.reason);
      const before = m.stats().msyncs;
      const r = m.deepFlush();
      assert.deepEqual([r.mechanism, r.durable], ['msync', true]);
      assert.match(r.reason, /^msync\(MS_SYNC\) of the range: the page cache written back/);
      assert.equal(m.stats().msyncs, before + 1);
    } finally {
      m.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tmpfs: volatile memory, nothing to flush to (durable false, no msync)', function () {
    const f = nextFile('/dev/shm');
    fs.writeFileSync(f, Buffer.alloc(4096));
    const m = open(f);
    try {
      assert.equal(m.persistence.domain, 'none', m.persistence.reason);
      const r = m.deepFlush(0, 10);
      assert.deepEqual([r.mechanism, r.durable], ['none', false]);
      assert.match(r.reason, /^nothing to flush to: /);
      assert.equal(m.stats().msyncs, 0);
    } finally {
      m.close();
      fs.rmSync(f);
    }
  });

  it('the range is validated as persist() validates it; a closed mapping throws ERR_DAX_CLOSED', function () {
    const f = nextFile('/dev/shm');
    fs.writeFileSync(f, Buffer.alloc(4096));
    const m = open(f);
    try {
      assertArgError(() => m.deepFlush(4097), RangeError, 'ERR_OUT_OF_RANGE', /offset/);
      assertArgError(() => m.deepFlush(0, 4097), RangeError, 'ERR_OUT_OF_RANGE', /length/);
      assertArgError(() => m.deepFlush('0' as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE', /offset/);
    } finally {
      m.close();
      fs.rmSync(f);
    }
    assert.throws(() => m.deepFlush(), (e: unknown) => e instanceof DaxError && e.code === 'ERR_DAX_CLOSED');
  });
});
