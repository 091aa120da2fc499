// The harness's kinds of memory, booted from the host: ONE guest with all of
// them at once (virtio-pmem, soft-reserved memory as devdax, CXL persistent
// memory, NVDIMMs reporting the memory-controller persistence domain, an
// unarmed NVDIMM, legacy memmap= pmem), a power cut, and a second guest on
// the same images with the cpu-cache persistence domain. The guest side
// (test/fixtures/memory-kinds.ts) only collects what ndctl, daxctl, cxl,
// xfs_io, blockdev, dd and the kernel say; every judgement is here.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DeepFlushResult, PmemDevice, Persistence, ShutdownState } from '../../lib';
import { runInVm, vmBlocker } from '../../lib/vm/harness';

const ROOT = path.join(__dirname, '..', '..', '..');
const blocker = vmBlocker();
const RECORDS = 1000;
const TOKEN = 'written-before-the-power-cut';
const MiB = 1 << 20;
const SIZE = '256M';
// The NFIT NVDIMMs are made small (xfs needs its 1G) to keep the boots short.
const COMMON = ['--ext4-size', '256M', '--devdax-size', '128M', '--virtio-pmem', SIZE, '--cxl', SIZE, '--nvdimm-unarmed'];
const BOOT1 = [...COMMON, '--hmem', SIZE, '--legacy', SIZE, '--nvdimm-persistence', 'mem-ctrl'];
const BOOT2 = [...COMMON, '--nvdimm-persistence', 'cpu'];

interface NdNamespace {
  dev: string;
  mode: string;
  uuid?: string;
  blockdev?: string;
  chardev?: string;
}
interface NdRegion {
  dev: string;
  size: number;
  persistence_domain?: string;
  namespaces?: NdNamespace[];
}
interface NdBus {
  provider: string;
  dev: string;
  dimms?: Array<{ dev: string; flag_failed_arm?: boolean }>;
  regions?: NdRegion[];
}
interface Ran {
  status: number | null;
  out: string;
}
interface Mount {
  dev: string;
  dir: string;
  fstype: string;
  opts: string[];
}
interface MappingFacts {
  mapSync: Ran;
  shared: Ran;
  statxAttributes: string | null;
  daxkitRequired: { code?: string; message?: string; mapSync?: boolean };
  daxkitAuto: { mapSync: boolean; kind: string; flushMechanism: string };
}
interface Facts {
  env: Record<string, string>;
  ndctl: NdBus[];
  daxctl: Array<{ path: string; devices?: Array<{ chardev: string; size: number; mode: string }> }>;
  cxlMemdevs: Array<{ memdev: string; pmem_size?: number; serial?: number }>;
  cxlRegions: Array<{ region: string; resource: number; size: number; decode_state: string; mappings?: Array<{ memdev: string }> }>;
  mounts: Mount[];
  ndRegions: Record<string, { provider: string | null; persistenceDomain: string | null; readOnly: string | null; resource: string | null }>;
  iomem: string[];
  hmem?: { sysfs: string; size: string | null; isCharDevice: boolean; inNdRegion: boolean };
  unarmed?: { getro: Ran; write: Ran; reconfigure: Ran; namespacesAfter: NdNamespace[] };
  virtio?: MappingFacts & { token?: string | null };
  cxl?: {
    mapping?: MappingFacts;
    umount?: Ran;
    mount?: Ran;
    readBack?: string | null;
    written?: string;
    mountAfter?: Mount | null;
    logExists?: boolean;
    intact?: number;
    token?: string | null;
  };
  crashWriter?: { records: number; mapSync: boolean };
  daxkit?: DaxkitFacts;
  doctor?: DoctorFacts;
}

// ---- issue 13: what daxkit says of each kind (test/fixtures/memory-kinds.ts daxkitFacts()).
interface Caught {
  code?: string;
  message?: string;
}
interface DaxkitOn {
  mapping?: Caught & { kind?: string; mapSync?: boolean; granularity?: string; flushMechanism?: string; persistence?: Persistence };
  deepFlush?: Caught & Partial<DeepFlushResult>;
  durabilityRequired?: Caught & { opened?: boolean };
  durableFileLeft?: boolean;
  shutdownState?: Caught & Partial<ShutdownState>;
}
interface DaxkitFacts {
  listDevices: PmemDevice[];
  kinds: Record<string, DaxkitOn | undefined>;
  cxlFirmware: string | null;
  cxlSerial: string | null;
  deepFlushFiles: Record<string, string | null>;
}

function lastJson(stdout: string): Facts {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  assert.ok(line, `no JSON in the guest's output: ${stdout}`);
  return JSON.parse(line) as Facts;
}

function bus(f: Facts, provider: string): NdBus {
  const b = f.ndctl.find((x) => x.provider === provider);
  assert.ok(b, `ndctl lists no bus with provider ${provider}: ${f.ndctl.map((x) => x.provider).join(', ')}`);
  return b;
}

function region(b: NdBus, name: string): NdRegion {
  const r = b.regions?.find((x) => x.dev === name);
  assert.ok(r, `ndctl lists no ${name} on the ${b.provider} bus (${(b.regions ?? []).map((x) => x.dev).join(', ')})`);
  return r;
}

function mountOf(f: Facts, dir: string): Mount {
  const m = f.mounts.find((x) => x.dir === dir);
  assert.ok(m, `nothing is mounted at ${dir}`);
  return m;
}

/** [start, end] of the /proc/iomem line whose name is NAME. */
function iomemRange(f: Facts, name: string): [bigint, bigint] {
  const line = f.iomem.find((l) => l.endsWith(`: ${name}`));
  assert.ok(line, `/proc/iomem has no ${name}: ${f.iomem.join(' | ')}`);
  const [a, b] = line.split(' ')[0].split('-');
  return [BigInt(`0x${a}`), BigInt(`0x${b}`)];
}

function assertDaxExt4(f: Facts, dev: string, dir: string): void {
  const m = mountOf(f, dir);
  assert.equal(m.dev, dev);
  assert.equal(m.fstype, 'ext4');
  assert.ok(m.opts.includes('dax=always'), `${dir} is mounted ${m.opts.join(',')}`);
}

const PROVIDER: Record<string, string> = { 'ACPI.NFIT': 'nfit', CXL: 'cxl', 'virtio-pmem': 'virtio-pmem', e820: 'e820' };

function dk(f: Facts): DaxkitFacts {
  assert.ok(f.daxkit, 'the guest collected nothing from daxkit');
  return f.daxkit;
}

function entry(f: Facts, name: string, type?: string): PmemDevice {
  const e = dk(f).listDevices.find((x) => x.name === name && (type === undefined || x.type === type));
  assert.ok(e, `listDevices() has no ${type ?? ''} ${name}: ${dk(f).listDevices.map((x) => `${x.type}:${x.name}`).join(' ')}`);
  return e;
}

function kind(f: Facts, name: string): DaxkitOn {
  const k = dk(f).kinds[name];
  assert.ok(k, `the guest did not try ${name}`);
  return k;
}

function persistenceOf(k: DaxkitOn): Persistence {
  assert.ok(k.mapping?.persistence, `no mapping: ${JSON.stringify(k.mapping)}`);
  return k.mapping.persistence;
}

/** listDevices() against ndctl, daxctl and cxl in the same guest; every kind's persistence; shutdownState; deepFlush. */
function daxkitBoot1(facts: () => Facts): void {
  describe('daxkit says what each kind is (listDevices, persistence, shutdownState, deepFlush)', function () {
    it('listDevices(): the same nd regions and namespaces as ndctl list, with their bus, provider, size, mode and devices', function () {
      const f = facts();
      const ours = dk(f).listDevices;
      const theirs: string[] = [];
      for (const b of f.ndctl) {
        for (const r of b.regions ?? []) {
          theirs.push(`region:${r.dev}`);
          const e = entry(f, r.dev, 'region');
          assert.equal(e.size, r.size, r.dev);
          assert.equal(e.bus, b.dev, r.dev);
          assert.equal(e.provider, b.provider, r.dev);
          assert.equal(e.persistenceDomain, r.persistence_domain ?? 'unknown', r.dev);
          assert.equal(e.persistence?.provider, PROVIDER[b.provider], r.dev);
          assert.equal(e.persistence?.region, r.dev);
          for (const n of r.namespaces ?? []) {
            theirs.push(`namespace:${n.dev}`);
            const ne = entry(f, n.dev, 'namespace');
            assert.equal(ne.region, r.dev, n.dev);
            assert.equal(ne.mode, n.mode, n.dev);
            assert.equal(ne.provider, b.provider, n.dev);
            if (n.blockdev !== undefined) assert.equal(entry(f, n.blockdev, 'block').namespace, n.dev);
            if (n.chardev !== undefined) assert.equal(entry(f, n.chardev, 'dax').namespace, n.dev);
          }
        }
      }
      const mine = ours.filter((e) => e.type === 'region' || e.type === 'namespace').map((e) => `${e.type}:${e.name}`);
      assert.deepEqual(mine.sort(), theirs.sort());
    });

    it('listDevices(): every daxctl device with its size; the hmem one outside nd regions, domain none, provider hmem', function () {
      const f = facts();
      const theirs = f.daxctl.flatMap((r) => (r.devices ?? []).map((d) => ({ ...d, region: r.path })));
      assert.ok(theirs.length >= 2, JSON.stringify(f.daxctl));
      for (const d of theirs) assert.equal(entry(f, d.chardev, 'dax').size, d.size, d.chardev);
      assert.deepEqual(dk(f).listDevices.filter((e) => e.type === 'dax').map((e) => e.name).sort(), theirs.map((d) => d.chardev).sort());
      const h = entry(f, path.basename(f.env.PMEM_HMEM_DEVDAX), 'dax');
      assert.equal(h.region, null);
      assert.equal(h.provider, null);
      assert.equal(h.mode, 'devdax');
      assert.equal(h.persistence?.domain, 'none');
      assert.equal(h.persistence?.provider, 'hmem');
      assert.equal(h.persistence?.assumed, false);
    });

    it('listDevices(): the CXL memdev (serial, capacities, firmware) and region as cxl list shows them, linked to the nd region they back', function () {
      const f = facts();
      const memdev = f.env.PMEM_CXL_MEMDEV;
      const md = f.cxlMemdevs.find((m) => m.memdev === memdev) as { memdev: string; pmem_size?: number; ram_size?: number; serial?: number } | undefined;
      assert.ok(md);
      const e = entry(f, memdev, 'cxl-memdev');
      assert.equal(e.path, `/dev/cxl/${memdev}`);
      assert.ok(e.serial !== null && md.serial !== undefined);
      assert.equal(BigInt(e.serial), BigInt(md.serial), 'serial');
      assert.equal(e.pmemSize, md.pmem_size);
      assert.equal(e.ramSize ?? 0, md.ram_size ?? 0);
      assert.equal(e.firmwareVersion, dk(f).cxlFirmware);
      assert.deepEqual(e.cxlRegions, [f.env.PMEM_CXL_REGION]);
      assert.equal(e.persistence, null);
      const cr = f.cxlRegions.find((r) => r.region === f.env.PMEM_CXL_REGION);
      assert.ok(cr);
      const re = entry(f, f.env.PMEM_CXL_REGION, 'cxl-region');
      assert.equal(re.size, cr.size);
      assert.deepEqual(re.memdevs, cr.mappings?.map((m) => m.memdev));
      assert.equal(re.region, f.env.PMEM_CXL_ND_REGION);
      assert.equal(re.provider, 'CXL');
      assert.equal(re.persistence?.domain, 'memory-controller');
      assert.equal(re.persistence?.provider, 'cxl');
      const nd = entry(f, f.env.PMEM_CXL_ND_REGION, 'region');
      assert.deepEqual(nd.memdevs, [memdev]);
      assert.deepEqual(nd.cxlRegions, [f.env.PMEM_CXL_REGION]);
      assert.deepEqual(entry(f, f.env.PMEM_CXL_NAMESPACE, 'namespace').memdevs, [memdev]);
      const ours = dk(f).listDevices.filter((x) => x.type === 'cxl-memdev').map((x) => x.name);
      assert.deepEqual(ours.sort(), f.cxlMemdevs.map((m) => m.memdev).sort());
    });

    it('NFIT (mem-ctrl): a MAP_SYNC file and the devdax device are memory-controller, provider nfit, not assumed, lines written back', function () {
      const f = facts();
      for (const k of ['nfitFile', 'nfitDevdax']) {
        const m = kind(f, k).mapping!;
        const p = persistenceOf(kind(f, k));
        assert.deepEqual([p.domain, p.provider, p.assumed], ['memory-controller', 'nfit', false], `${k}: ${p.reason}`);
        assert.equal(m.granularity, 'cacheline', k);
        assert.match(m.flushMechanism ?? '', /^clflush|^clwb/, k);
      }
      assert.equal(kind(f, 'nfitFile').mapping!.mapSync, true);
      assert.equal(kind(f, 'nfitDevdax').mapping!.kind, 'devdax');
      assert.equal(kind(f, 'nfitDevdax').durabilityRequired?.opened, true);
    });

    it('virtio-pmem: fsdax without MAP_SYNC, domain host, provider virtio-pmem, msync persistence', function () {
      const k = kind(facts(), 'virtioFile');
      const p = persistenceOf(k);
      assert.deepEqual([p.domain, p.provider, p.assumed], ['host', 'virtio-pmem', false], p.reason);
      assert.deepEqual([k.mapping!.kind, k.mapping!.mapSync, k.mapping!.granularity, k.mapping!.flushMechanism], ['fsdax', false, 'page', 'msync']);
      assert.equal(k.durabilityRequired?.opened, true, JSON.stringify(k.durabilityRequired));
    });

    it('hmem devdax: maps, domain none, no flush promised; durability: required refused with ERR_DAX_NOT_DURABLE', function () {
      const k = kind(facts(), 'hmemDevdax');
      const p = persistenceOf(k);
      assert.deepEqual([p.domain, p.provider, p.assumed], ['none', 'hmem', false], p.reason);
      assert.deepEqual([k.mapping!.kind, k.mapping!.granularity, k.mapping!.flushMechanism], ['devdax', 'none', 'none']);
      assert.equal(k.durabilityRequired?.code, 'ERR_DAX_NOT_DURABLE', JSON.stringify(k.durabilityRequired));
      assert.match(k.durabilityRequired?.message ?? '', /soft-reserved/);
    });

    it('CXL pmem: fsdax with MAP_SYNC, domain memory-controller, provider cxl, not assumed', function () {
      const k = kind(facts(), 'cxlFile');
      const p = persistenceOf(k);
      assert.deepEqual([p.domain, p.provider, p.assumed, p.region], ['memory-controller', 'cxl', false, facts().env.PMEM_CXL_ND_REGION], p.reason);
      assert.deepEqual([k.mapping!.kind, k.mapping!.mapSync, k.mapping!.granularity], ['fsdax', true, 'cacheline']);
    });

    it('memmap= (e820): its region, namespace and block device say domain none, provider e820', function () {
      const f = facts();
      const b = entry(f, path.basename(f.env.PMEM_LEGACY_DEV), 'block');
      assert.equal(b.provider, 'e820');
      for (const e of [b, entry(f, b.region!, 'region'), entry(f, b.namespace!, 'namespace')]) {
        assert.deepEqual([e.persistence?.domain, e.persistence?.provider, e.persistence?.assumed], ['none', 'e820', false], e.name);
      }
    });

    it('the unarmed DIMM: its region listed read-only and not durable (not_armed), the other NFIT regions writable', function () {
      const f = facts();
      for (const e of dk(f).listDevices.filter((x) => x.type === 'region' && x.provider === 'ACPI.NFIT')) {
        const unarmed = e.name === f.env.PMEM_UNARMED_REGION;
        assert.equal(e.readOnly, unarmed, e.name);
        if (unarmed) {
          assert.equal(e.persistence?.domain, 'none');
          assert.match(e.persistence?.reason ?? '', new RegExp(`${f.env.PMEM_UNARMED_NMEM} \\(nfit/flags: not_armed\\)`));
        } else {
          assert.equal(e.persistence?.domain, 'memory-controller', e.name);
        }
      }
      assert.equal(entry(f, path.basename(f.env.PMEM_UNARMED_DEV), 'block').readOnly, true);
    });

    it("shutdownState(): null with the reason on QEMU's NFIT (no dirty_shutdown) and on kinds with no DIMMs; the CXL DIMM linked to its memdev", function () {
      const f = facts();
      const nfit = kind(f, 'nfitFile').shutdownState!;
      assert.equal(nfit.code, undefined, JSON.stringify(nfit));
      assert.equal(nfit.count, null);
      assert.deepEqual(nfit.regions, [entry(f, path.basename(f.env.PMEM_EXT4_DEV), 'block').region]);
      assert.equal(nfit.devices?.length, 1);
      assert.equal(nfit.devices![0].family, 'nfit');
      assert.match(nfit.reason ?? '', /nfit\/dirty_shutdown/);
      assert.equal(kind(f, 'nfitDevdax').shutdownState?.count, null);
      const virtio = kind(f, 'virtioFile').shutdownState!;
      assert.deepEqual([virtio.count, virtio.id, virtio.regions, virtio.devices], [null, null, [f.env.PMEM_VIRTIO_REGION], []]);
      assert.match(virtio.reason ?? '', /no DIMMs/);
      const hmem = kind(f, 'hmemDevdax').shutdownState!;
      assert.deepEqual([hmem.count, hmem.regions], [null, []]);
      assert.match(hmem.reason ?? '', /in no nd region/);
      const legacy = kind(f, 'legacy').shutdownState!;
      assert.deepEqual([legacy.count, legacy.devices], [null, []]);
      const cxl = kind(f, 'cxlFile').shutdownState!;
      assert.equal(cxl.count, null, JSON.stringify(cxl));
      assert.deepEqual(cxl.regions, [f.env.PMEM_CXL_ND_REGION]);
      assert.equal(cxl.devices?.length, 1);
      assert.equal(cxl.devices![0].memdev, f.env.PMEM_CXL_MEMDEV);
      assert.equal(cxl.devices![0].id, BigInt(dk(f).cxlSerial ?? '-1').toString(10), 'the id is the memdev serial in decimal');
    });

    it('deepFlush(): msync on files, the region deep_flush on NFIT devdax as the kernel offers it, nothing on volatile memory', function () {
      const f = facts();
      for (const k of ['nfitFile', 'virtioFile', 'cxlFile']) assert.deepEqual([kind(f, k).deepFlush?.mechanism, kind(f, k).deepFlush?.durable], ['msync', true], `${k}: ${JSON.stringify(kind(f, k).deepFlush)}`);
      const dd = kind(f, 'nfitDevdax');
      const hint = dk(f).deepFlushFiles[dd.mapping!.persistence!.region!];
      assert.equal(dd.deepFlush?.mechanism, hint === '1' ? 'deep_flush' : 'none', `deep_flush reads ${hint}: ${JSON.stringify(dd.deepFlush)}`);
      assert.equal(dd.deepFlush?.durable, true);
      if (hint === '0') assert.match(dd.deepFlush?.reason ?? '', /reads 0: the platform offers no flush hints/);
      assert.deepEqual([kind(f, 'hmemDevdax').deepFlush?.mechanism, kind(f, 'hmemDevdax').deepFlush?.durable], ['none', false]);
    });
  });
}

/** The second guest: NFIT with --nvdimm-persistence cpu. */
function daxkitBoot2(facts: () => Facts): void {
  describe('daxkit says what each kind is, with the cpu persistence domain', function () {
    it('NFIT (cpu): domain cpu-cache, a fence is enough (byte granularity, no write-back); CXL stays memory-controller', function () {
      const f = facts();
      for (const k of ['nfitFile', 'nfitDevdax']) {
        const p = persistenceOf(kind(f, k));
        assert.deepEqual([p.domain, p.provider, p.assumed], ['cpu-cache', 'nfit', false], `${k}: ${p.reason}`);
        assert.deepEqual([kind(f, k).mapping!.granularity, kind(f, k).mapping!.flushMechanism], ['byte', 'none'], k);
      }
      assert.equal(persistenceOf(kind(f, 'cxlFile')).domain, 'memory-controller');
      for (const e of dk(f).listDevices.filter((x) => x.type === 'region' && x.provider === 'ACPI.NFIT')) {
        assert.equal(e.persistence?.domain, e.name === f.env.PMEM_UNARMED_REGION ? 'none' : 'cpu-cache', e.name);
      }
    });
  });
}

const STATX_ATTR_DAX = 0x200000n;

/** What `daxkit doctor --json` said of one path (the fields judged here). */
interface DoctorReport {
  path: string;
  type: string;
  verdict: string;
  durable: boolean | null;
  assumed: boolean;
  reason: string;
  persistence: { domain: string; provider: string; assumed: boolean; device: string | null; region: string | null };
  persist: { flushMechanism: string; granularity: string; mapSync: boolean | null };
  mapSync: { probed: string | null; granted: boolean | null; error: { code: string } | null };
  dax: boolean | null;
  cpuFlush: string;
  warnings: string[];
}
interface DoctorFacts {
  setup: Record<string, Ran>;
  paths: Record<string, string>;
  status: number | null;
  stderr: string;
  stdout: string | null;
  reports: Record<string, DoctorReport> | null;
  human: { status: number | null; stdout: string };
  devices: { status: number | null; stderr: string; list: Array<{ dev: string; persistence: { domain: string; provider: string } | null }> | null };
  before: Record<string, string[] | null>;
  after: Record<string, string[] | null>;
}

/**
 * The verdicts of `daxkit doctor` in a guest with every kind: durable on NFIT
 * and CXL persistent memory (with the persist() the domain needs) and on
 * virtio-pmem through msync; never on soft-reserved RAM, memmap= RAM or
 * tmpfs. `nfit` is the NFIT persistence domain the boot asked for.
 */
function doctorTests(facts: () => Facts, nfit: 'memory-controller' | 'cpu-cache', kinds: string[]): void {
  describe(`daxkit doctor on every kind (NFIT ${nfit})`, function () {
    let d: DoctorFacts;
    let r: Record<string, DoctorReport>;
    before(function () {
      d = facts().doctor as DoctorFacts;
      assert.ok(d, 'the guest ran no doctor');
      assert.ok(d.reports, `doctor --json printed no JSON (exit ${d.status}): ${d.stdout} ${d.stderr}`);
      r = d.reports;
    });

    it(`examines ${kinds.join(', ')}: exit 1 (some are not durable), nothing on stderr, nothing left in any directory`, function () {
      assert.deepEqual(Object.keys(r).sort(), [...kinds].sort(), JSON.stringify(d.setup));
      assert.equal(d.stderr, '');
      assert.equal(d.status, kinds.some((k) => r[k].durable !== true) ? 1 : 0);
      assert.equal(d.human.status, d.status);
      assert.deepEqual(d.after, d.before, 'the MAP_SYNC probe left nothing behind');
      for (const k of kinds) assert.match(d.human.stdout, new RegExp(`^${d.paths[k].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: durable: ${r[k].verdict}`, 'm'), k);
    });

    it('NFIT fsdax (ext4, xfs): yes, MAP_SYNC granted by a real mapping, persist() as the domain needs', function () {
      for (const k of ['nfitExt4', 'nfitXfs']) {
        const x = r[k];
        assert.equal(x.durable, true, `${k}: ${x.reason}`);
        assert.equal(x.verdict, 'yes');
        assert.equal(x.assumed, false, k);
        assert.deepEqual([x.persistence.provider, x.persistence.domain], ['nfit', nfit], k);
        assert.deepEqual([x.mapSync.probed, x.mapSync.granted], ['temporary-file', true], k);
        assert.equal(x.dax, true, `${k}: new files are DAX`);
        if (nfit === 'cpu-cache') assert.deepEqual([x.persist.flushMechanism, x.persist.granularity], ['none', 'byte'], k);
        else assert.deepEqual([x.persist.flushMechanism, x.persist.granularity], [x.cpuFlush, 'cacheline'], k);
      }
    });

    it('a file on NFIT ext4: yes, MAP_SYNC granted to a read-only mapping of the file itself, which is left as it was', function () {
      const x = r.nfitExt4File;
      assert.equal(x.type, 'file');
      assert.equal(x.durable, true, x.reason);
      assert.deepEqual([x.persistence.provider, x.persistence.domain, x.dax], ['nfit', nfit, true]);
      assert.deepEqual([x.mapSync.probed, x.mapSync.granted], ['file', true]);
      assert.deepEqual(d.after.nfitExt4File, ['doctor']);
    });

    it('NFIT devdax: yes, no MAP_SYNC needed', function () {
      const x = r.nfitDevdax;
      assert.equal(x.type, 'devdax');
      assert.equal(x.durable, true, x.reason);
      assert.deepEqual([x.persistence.provider, x.persistence.domain, x.mapSync.probed], ['nfit', nfit, null]);
    });

    it("CXL pmem fsdax: yes, provider cxl, the memory controller's domain, MAP_SYNC granted", function () {
      const x = r.cxl;
      assert.equal(x.durable, true, x.reason);
      assert.deepEqual([x.persistence.provider, x.persistence.domain, x.persistence.assumed], ['cxl', 'memory-controller', false]);
      assert.deepEqual([x.mapSync.granted, x.persist.flushMechanism, x.persist.granularity], [true, x.cpuFlush, 'cacheline']);
    });

    it('virtio-pmem fsdax: yes through msync only: MAP_SYNC really refused, domain host, persist() is msync', function () {
      const x = r.virtio;
      assert.equal(x.durable, true, x.reason);
      assert.deepEqual([x.persistence.provider, x.persistence.domain], ['virtio-pmem', 'host']);
      assert.deepEqual([x.mapSync.probed, x.mapSync.granted, x.mapSync.error?.code], ['temporary-file', false, 'EOPNOTSUPP']);
      assert.deepEqual([x.persist.flushMechanism, x.persist.granularity, x.persist.mapSync], ['msync', 'page', false]);
      assert.match(x.reason, /^yes: persist\(\) calls msync/);
    });

    it('daxkit devices --json gives the device behind each path the persistence doctor found', function () {
      assert.ok(d.devices.list, `devices --json failed (${d.devices.status}): ${d.devices.stderr}`);
      const list = d.devices.list;
      let checked = 0;
      for (const k of kinds) {
        const p = r[k].persistence;
        if (p.device === null) continue;
        const e = list.find((x) => x.dev === p.device);
        assert.ok(e, `${k}: devices lists no ${p.device}`);
        assert.deepEqual([e.persistence?.domain, e.persistence?.provider], [p.domain, p.provider], `${k}: ${p.device}`);
        checked++;
      }
      assert.equal(checked, kinds.filter((k) => k !== 'tmpfs').length, 'every kind but tmpfs has a device');
      const hmem = list.find((x) => `/dev/${x.dev}` === d.paths.hmem);
      if (kinds.includes('hmem')) assert.deepEqual([hmem?.persistence?.domain, hmem?.persistence?.provider], ['none', 'hmem']);
    });

    it('volatile memory is never durable: hmem devdax, memmap= fsdax, tmpfs', function () {
      for (const [k, provider] of [
        ['hmem', 'hmem'],
        ['memmap', 'e820'],
        ['tmpfs', 'tmpfs'],
      ]) {
        if (!kinds.includes(k)) continue;
        const x = r[k];
        assert.equal(x.durable, false, `${k}: ${x.reason}`);
        assert.equal(x.verdict, 'no', k);
        assert.deepEqual([x.persistence.provider, x.persistence.domain, x.persist.granularity], [provider, 'none', 'none'], k);
        assert.match(x.reason, /^no: .*nothing survives power loss/, k);
      }
      if (kinds.includes('memmap')) assert.equal(r.memmap.mapSync.granted, true, 'memmap= is DAX (MAP_SYNC granted), and still RAM');
    });
  });
}


describe('the VM harness kinds of memory (one guest with all of them, a power cut, a second guest on the same images)', function () {
  if (blocker !== null) {
    it(`virtio-pmem, hmem, CXL, NFIT persistence domains, an unarmed NVDIMM and memmap= in one guest, across a power cut [pending: ${blocker}]`);
    return;
  }
  let images: string;
  before(() => (images = fs.mkdtempSync(path.join(process.env.DAXKIT_VM_CACHE ?? os.tmpdir(), 'daxkit-kinds-'))));
  after(() => fs.rmSync(images, { recursive: true, force: true }));

  describe(`boot 1: ${BOOT1.join(' ')}`, function () {
    let f: Facts;
    before(async function () {
      const t0 = Date.now();
      const r = await runInVm(ROOT, ['node', 'dist/test/fixtures/memory-kinds.js', 'boot1', String(RECORDS)], { args: [...BOOT1, '--images', images], capture: true });
      assert.equal(r.code, 0, `boot 1: ${r.stderr}`);
      assert.match(r.stderr, /powered off hard by pmem-crash/);
      f = lastJson(r.stdout);
      console.log(`      (boot 1 with every kind, to the power cut: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    });

    doctorTests(() => f, 'memory-controller', ['nfitExt4', 'nfitExt4File', 'nfitXfs', 'nfitDevdax', 'virtio', 'cxl', 'hmem', 'tmpfs', 'memmap']);

    it('virtio-pmem: its /dev/pmemN is a namespace of a region on the virtio-pmem bus, with ext4 mounted dax=always', function () {
      const dev = f.env.PMEM_VIRTIO_DEV;
      assert.match(dev, /^\/dev\/pmem\d+$/);
      const r = region(bus(f, 'virtio-pmem'), f.env.PMEM_VIRTIO_REGION);
      assert.equal(r.size, 256 * MiB);
      assert.deepEqual(r.namespaces?.map((n) => n.blockdev), [path.basename(dev)]);
      assert.equal(r.persistence_domain, 'unknown', 'virtio-pmem reports no persistence domain');
      assert.equal(f.ndRegions[f.env.PMEM_VIRTIO_REGION].provider, 'virtio-pmem');
      assert.equal(f.ndRegions[f.env.PMEM_VIRTIO_REGION].persistenceDomain, null, 'no persistence_domain file');
      assertDaxExt4(f, dev, f.env.PMEM_VIRTIO_DIR);
    });

    it('virtio-pmem: a file there is DAX, yet MAP_SYNC is refused (EOPNOTSUPP) while a plain shared mapping works', function () {
      const v = f.virtio!;
      assert.ok(v.statxAttributes !== null && (BigInt(v.statxAttributes) & STATX_ATTR_DAX) !== 0n, `statx attributes ${v.statxAttributes}`);
      assert.notEqual(v.mapSync.status, 0);
      assert.match(v.mapSync.out, /mmap: Operation not supported/);
      assert.equal(v.shared.status, 0, v.shared.out);
      assert.equal(v.daxkitRequired.code, 'ERR_DAX_NOT_SUPPORTED', JSON.stringify(v.daxkitRequired));
      assert.deepEqual(v.daxkitAuto, { mapSync: false, kind: 'fsdax', flushMechanism: 'msync' });
    });

    it('hmem: a devdax device of platform hmem.N under /sys/bus/dax, of the size asked for, in no nd region', function () {
      const dev = f.env.PMEM_HMEM_DEVDAX;
      assert.match(dev, /^\/dev\/dax\d+\.\d+$/);
      const name = path.basename(dev);
      const h = f.hmem!;
      assert.ok(h.isCharDevice);
      assert.match(h.sysfs, new RegExp(`/devices/platform/hmem\\.\\d+/${name.replace('.', '\\.')}$`));
      assert.equal(Number(h.size), 256 * MiB);
      assert.equal(h.inNdRegion, false);
      const dr = f.daxctl.find((x) => x.devices?.some((d) => d.chardev === name));
      assert.ok(dr, `daxctl does not list ${name}`);
      assert.match(dr.path, /^\/platform\/hmem\.\d+$/);
      assert.deepEqual(dr.devices?.map((d) => [d.chardev, d.size, d.mode]), [[name, 256 * MiB, 'devdax']]);
      for (const b of f.ndctl) for (const r of b.regions ?? []) for (const n of r.namespaces ?? []) assert.notEqual(n.chardev, name, `ndctl puts ${name} in ${r.dev}`);
      const [s, e] = iomemRange(f, 'Soft Reserved');
      assert.equal(e - s + 1n, BigInt(256 * MiB));
    });

    it('CXL: the memdev, a committed cxl region mapping it, and its nd region (provider CXL, persistence_domain memory_controller)', function () {
      const md = f.cxlMemdevs.find((m) => m.memdev === f.env.PMEM_CXL_MEMDEV);
      assert.ok(md, `cxl list -M has no ${f.env.PMEM_CXL_MEMDEV}`);
      assert.equal(md.pmem_size, 256 * MiB);
      const cr = f.cxlRegions.find((r) => r.region === f.env.PMEM_CXL_REGION);
      assert.ok(cr, `cxl list -R has no ${f.env.PMEM_CXL_REGION}`);
      assert.equal(cr.decode_state, 'commit');
      assert.equal(cr.size, 256 * MiB);
      assert.deepEqual(cr.mappings?.map((m) => m.memdev), [f.env.PMEM_CXL_MEMDEV]);
      const nr = region(bus(f, 'CXL'), f.env.PMEM_CXL_ND_REGION);
      assert.equal(nr.persistence_domain, 'memory_controller');
      assert.equal(f.ndRegions[f.env.PMEM_CXL_ND_REGION].persistenceDomain, 'memory_controller');
      assert.equal(BigInt(f.ndRegions[f.env.PMEM_CXL_ND_REGION].resource ?? -1), BigInt(cr.resource), 'the nd region sits where the cxl region is');
      const ns = nr.namespaces ?? [];
      assert.deepEqual(ns.map((n) => [n.dev, n.mode, n.blockdev]), [[f.env.PMEM_CXL_NAMESPACE, 'fsdax', path.basename(f.env.PMEM_CXL_DEV)]]);
    });

    it('CXL: ext4 mounted dax=always, MAP_SYNC accepted, a file read back after a remount', function () {
      assertDaxExt4(f, f.env.PMEM_CXL_DEV, f.env.PMEM_CXL_DIR);
      const c = f.cxl!;
      assert.equal(c.mapping!.mapSync.status, 0, c.mapping!.mapSync.out);
      assert.ok(c.mapping!.statxAttributes !== null && (BigInt(c.mapping!.statxAttributes) & STATX_ATTR_DAX) !== 0n);
      assert.equal(c.mapping!.daxkitRequired.mapSync, true, JSON.stringify(c.mapping!.daxkitRequired));
      assert.equal(c.umount!.status, 0, c.umount!.out);
      assert.equal(c.mount!.status, 0, c.mount!.out);
      assert.equal(c.readBack, c.written);
      assert.ok(c.mountAfter?.opts.includes('dax=always'), JSON.stringify(c.mountAfter));
      assert.deepEqual(f.crashWriter, { records: RECORDS, mapSync: true });
    });

    it('--nvdimm-persistence mem-ctrl: every NFIT region says memory_controller, and only the NFIT ones follow the option', function () {
      assert.equal(f.env.PMEM_NVDIMM_PERSISTENCE, 'mem-ctrl');
      const regions = bus(f, 'ACPI.NFIT').regions ?? [];
      assert.equal(regions.length, 4, 'ext4, xfs, devdax and the unarmed NVDIMM');
      for (const r of regions) {
        assert.equal(r.persistence_domain, 'memory_controller', r.dev);
        assert.equal(f.ndRegions[r.dev].persistenceDomain, 'memory_controller', r.dev);
      }
      assert.equal(region(bus(f, 'virtio-pmem'), f.env.PMEM_VIRTIO_REGION).persistence_domain, 'unknown');
      for (const r of bus(f, 'e820').regions ?? []) assert.equal(r.persistence_domain, 'unknown', r.dev);
    });

    it('--nvdimm-unarmed: ndctl flags the DIMM failed-arm, its region is read-only, writes and reconfiguration are refused', function () {
      const nfit = bus(f, 'ACPI.NFIT');
      const unarmed = f.env.PMEM_UNARMED_NMEM;
      assert.deepEqual(nfit.dimms?.filter((d) => d.flag_failed_arm).map((d) => d.dev), [unarmed]);
      for (const r of nfit.regions ?? []) assert.equal(f.ndRegions[r.dev].readOnly, r.dev === f.env.PMEM_UNARMED_REGION ? '1' : '0', r.dev);
      const ns = region(nfit, f.env.PMEM_UNARMED_REGION).namespaces ?? [];
      assert.deepEqual(ns.map((n) => [n.mode, n.blockdev]), [['raw', path.basename(f.env.PMEM_UNARMED_DEV)]]);
      const u = f.unarmed!;
      assert.equal(u.getro.out.trim(), '1');
      assert.notEqual(u.write.status, 0);
      assert.match(u.write.out, /Operation not permitted/);
      assert.notEqual(u.reconfigure.status, 0);
      assert.match(u.reconfigure.out, /read-only/);
      assert.deepEqual(u.namespacesAfter.map((n) => n.mode), ['raw']);
    });

    it('--legacy alongside: a memmap= pmem device on the e820 bus at 1G, the soft-reserved range right after it', function () {
      const r = bus(f, 'e820').regions ?? [];
      assert.deepEqual(r.flatMap((x) => (x.namespaces ?? []).map((n) => n.blockdev)), [path.basename(f.env.PMEM_LEGACY_DEV)]);
      const [ls, le] = iomemRange(f, 'Persistent Memory (legacy)');
      const [hs] = iomemRange(f, 'Soft Reserved');
      assert.equal(ls, 1n << 30n);
      assert.equal(le - ls + 1n, BigInt(256 * MiB));
      assert.ok(hs > le, 'the two ranges do not overlap');
    });

    it('the three NVDIMMs are set up as in a default boot: ext4 and xfs mounted with dax, a devdax device', function () {
      assert.match(f.env.PMEM_DEVDAX, /^\/dev\/dax\d+\.\d+$/);
      assert.equal(mountOf(f, f.env.PMEM_EXT4_DIR).dev, f.env.PMEM_EXT4_DEV);
      assert.equal(mountOf(f, f.env.PMEM_XFS_DIR).dev, f.env.PMEM_XFS_DEV);
      for (const d of [f.env.PMEM_EXT4_DIR, f.env.PMEM_XFS_DIR]) assert.ok(mountOf(f, d).opts.includes('dax=always'), d);
      assert.equal(f.env.PMEM_IMAGES_REUSED, '0');
    });

    daxkitBoot1(() => f);

    describe(`boot 2, after the power cut, on the same images: ${BOOT2.join(' ')}`, function () {
      let g: Facts;
      before(async function () {
        const t0 = Date.now();
        const r = await runInVm(ROOT, ['node', 'dist/test/fixtures/memory-kinds.js', 'boot2', String(RECORDS)], { args: [...BOOT2, '--images', images], capture: true });
        assert.equal(r.code, 0, `boot 2: ${r.stderr}`);
        assert.match(r.stderr, /booting on the existing images/);
        g = lastJson(r.stdout);
        console.log(`      (boot 2 on the reused images: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      });

      doctorTests(() => g, 'cpu-cache', ['nfitExt4', 'nfitExt4File', 'nfitXfs', 'nfitDevdax', 'virtio', 'cxl', 'tmpfs']);

      it('CXL: a new region, the same namespace from the label area, every persisted record and the fsynced file', function () {
        assert.equal(g.env.PMEM_IMAGES_REUSED, '1');
        const uuid = (x: Facts): string | undefined => region(bus(x, 'CXL'), x.env.PMEM_CXL_ND_REGION).namespaces?.[0]?.uuid;
        assert.ok(uuid(f));
        assert.equal(uuid(g), uuid(f));
        assert.equal(g.cxlRegions.find((r) => r.region === g.env.PMEM_CXL_REGION)?.decode_state, 'commit');
        assertDaxExt4(g, g.env.PMEM_CXL_DEV, g.env.PMEM_CXL_DIR);
        assert.equal(g.cxl!.logExists, true);
        assert.equal(g.cxl!.intact, RECORDS, 'every persisted record survived');
        assert.equal(g.cxl!.token, TOKEN);
      });

      it('virtio-pmem: the reused image keeps its filesystem and the fsynced file', function () {
        assertDaxExt4(g, g.env.PMEM_VIRTIO_DEV, g.env.PMEM_VIRTIO_DIR);
        assert.equal(g.virtio!.token, TOKEN);
      });

      it('--nvdimm-persistence cpu: every NFIT region says cpu_cache; the unarmed one is still read-only', function () {
        assert.equal(g.env.PMEM_NVDIMM_PERSISTENCE, 'cpu');
        const regions = bus(g, 'ACPI.NFIT').regions ?? [];
        assert.equal(regions.length, 4);
        for (const r of regions) {
          assert.equal(r.persistence_domain, 'cpu_cache', r.dev);
          assert.equal(g.ndRegions[r.dev].persistenceDomain, 'cpu_cache', r.dev);
        }
        assert.equal(g.ndRegions[g.env.PMEM_UNARMED_REGION].readOnly, '1');
        assert.equal(region(bus(g, 'CXL'), g.env.PMEM_CXL_ND_REGION).persistence_domain, 'memory_controller', 'CXL does not follow the NFIT option');
      });

      daxkitBoot2(() => g);
    });
  });
});
