// daxkit devices and daxkit badblocks on fixture trees (--sysfs-root) and on
// this host's files: the JSON schema, the human output, exit codes, usage
// errors. The same commands on the real kernel: test/vm/50.badblocks.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
const FIX = path.join(ROOT, 'test', 'fixtures', 'sysfs');

function daxkit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function root(tree: string): string[] {
  return ['--sysfs-root', path.join(FIX, tree)];
}

const DEVICE_KEYS = ['dev', 'type', 'path', 'size', 'mode', 'map', 'align', 'region', 'namespace', 'persistence_domain', 'numa_node', 'target_node', 'badblock_count', 'can_clear_errors', 'bus', 'provider', 'read_only', 'memdevs', 'cxl_regions', 'serial', 'pmem_size', 'ram_size', 'firmware_version', 'persistence'];
const REPORT_KEYS = ['target', 'target_base64', 'type', 'dev', 'region', 'block_size', 'units', 'badblock_count', 'badblocks', 'complete', 'warnings'];

describe('daxkit devices', function () {
  it('--json: one object per device, ndctl names, sizes in bytes, counts in 512-byte sectors', function () {
    const r = daxkit('devices', '--json', ...root('qemu-6.1'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      list.map((d) => d.dev),
      ['region0', 'namespace0.0', 'pmem0', 'region1', 'namespace1.0', 'dax1.0', 'region2', 'namespace2.0', 'pmem2'],
    );
    for (const d of list) assert.deepEqual(Object.keys(d), DEVICE_KEYS);
    assert.deepEqual(list[2], {
      dev: 'pmem0',
      type: 'block',
      path: '/dev/pmem0',
      size: 1054867456,
      mode: 'fsdax',
      map: 'dev',
      align: 2097152,
      region: 'region0',
      namespace: 'namespace0.0',
      persistence_domain: 'unknown',
      numa_node: 0,
      target_node: 0,
      badblock_count: 9,
      can_clear_errors: false,
      bus: 'ndbus0',
      provider: 'ACPI.NFIT',
      read_only: null,
      memdevs: null,
      cxl_regions: null,
      serial: null,
      pmem_size: null,
      ram_size: null,
      firmware_version: null,
      persistence: {
        domain: 'memory-controller',
        provider: 'nfit',
        assumed: true,
        reason:
          'pmem0 in region0 (provider ACPI.NFIT): the platform does not say where its persistence domain ends (no persistence_domain); daxkit assumes the memory controller, which needs the cache lines written back',
      },
    });
  });

  it('--json: CXL memory devices with serial, sizes and firmware, linked to their regions; CXL RAM and hmem devdax are domain none', function () {
    const r = daxkit('devices', '--json', ...root('kinds-cxl'));
    assert.equal(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    for (const d of list) assert.deepEqual(Object.keys(d), DEVICE_KEYS);
    const by = (dev: string, type: string) => list.find((d) => d.dev === dev && d.type === type) as Record<string, unknown>;
    const mem0 = by('mem0', 'cxl-memdev');
    assert.deepEqual(
      { serial: mem0.serial, pmem_size: mem0.pmem_size, ram_size: mem0.ram_size, firmware_version: mem0.firmware_version, cxl_regions: mem0.cxl_regions },
      { serial: '0xdeadbeef', pmem_size: 268435456, ram_size: 0, firmware_version: 'BWFW VERSION 00', cxl_regions: ['region7'] },
    );
    assert.deepEqual(by('pmem7', 'block').memdevs, ['mem0']);
    assert.equal(by('pmem7', 'block').provider, 'CXL');
    assert.equal((by('dax8.0', 'dax').persistence as { domain: string }).domain, 'none');
    assert.equal((by('dax0.0', 'dax').persistence as { domain: string }).domain, 'none');
    assert.equal((by('region8', 'cxl-region').persistence as { domain: string }).domain, 'none');
  });

  it('a table by default; "-" where the kernel does not say', function () {
    const r = daxkit('devices', ...root('missing-attrs'));
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^NAME +TYPE +MODE +SIZE +ALIGN +REGION +DOMAIN +PERSISTENCE +NUMA +BADBLOCKS +CLEAR$/);
    assert.match(lines[1], /^region0 +region +- +1 GiB +- +region0 +unknown +memory-controller \(assumed\) +- +- +-$/);
    assert.match(lines[6], /^\/dev\/dax1\.0 +dax +- +502 MiB +2 MiB +region1 +unknown +memory-controller \(assumed\) +- +- +-$/);
    const q = daxkit('devices', ...root('qemu-6.1'));
    assert.match(q.stdout, /\n\/dev\/pmem0 +block +fsdax +1006 MiB +2 MiB +region0 +unknown +memory-controller \(assumed\) +0 +9 +no\n/);
  });

  it('no persistent memory: a message, or [] with --json, and exit 0; malformed sysfs: exit 1 naming the file and line', function () {
    const none = fs.mkdtempSync('/tmp/daxkit-nosys-');
    try {
      assert.deepEqual(daxkit('devices', '--sysfs-root', none), { status: 0, stdout: 'no persistent memory: no nd regions or dax devices in sysfs\n', stderr: '' });
      assert.equal(daxkit('devices', '--json', '--sysfs-root', none).stdout, '[]\n');
    } finally {
      fs.rmSync(none, { recursive: true });
    }
    const bad = daxkit('devices', ...root('garbage-list'));
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^daxkit: .*\/garbage-list\/devices\/.*\/region0\/badblocks:2: expected "SECTOR COUNT", found "303128 x"\n$/);
  });

  it('help, and usage errors exit 2', function () {
    const h = daxkit('help', 'devices');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /PERSISTENCE\n\(where daxkit finds stores survive power loss/);
    assert.match(h.stdout, /^Usage: daxkit devices \[--json\]/);
    assert.match(h.stdout, /badblock_count \(512-byte sectors\)/);
    assert.equal(daxkit('devices', '--bogus').status, 2);
    assert.equal(daxkit('devices', 'extra').status, 2);
    assert.match(daxkit('help').stdout, /\n  devices +list persistent memory/);
    assert.match(daxkit('help').stdout, /\n  badblocks +media errors in bytes/);
  });
});

describe('daxkit badblocks', function () {
  it('no target: every pmem block device, dax device and region, in the JSON schema, bytes', function () {
    const r = daxkit('badblocks', '--json', ...root('qemu-6.1'));
    assert.equal(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      list.map((x) => [x.target, x.type]),
      [
        ['pmem0', 'block'],
        ['dax1.0', 'devdax'],
        ['pmem2', 'block'],
        ['region0', 'region'],
        ['region1', 'region'],
        ['region2', 'region'],
      ],
    );
    for (const x of list) assert.deepEqual(Object.keys(x), REPORT_KEYS);
    assert.deepEqual(list[1], {
      target: 'dax1.0',
      target_base64: null,
      type: 'devdax',
      dev: 'dax1.0',
      region: 'region1',
      block_size: null,
      units: 'bytes',
      badblock_count: 8,
      badblocks: [{ offset: 2097152, length: 4096 }],
      complete: true,
      warnings: [],
    });
    assert.deepEqual((list[3].badblocks as unknown[])[1], { offset: 303120 * 512, length: 4096, namespace: 'namespace0.0', device: 'pmem0', device_offset: 266256 * 512 });
  });

  it('human output: each target, its ranges in bytes, and for a region who holds them', function () {
    const r = daxkit('badblocks', ...root('qemu-6.1'), 'pmem0', 'region0');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'pmem0 (block, region0): 2 bad ranges, 4608 bytes',
        '  offset 136323072  length 4096',
        '  offset 136335360  length 512',
        'region0: 2 bad ranges, 8192 bytes',
        '  offset 51200  length 4096  namespace0.0 (metadata, no device data)',
        '  offset 155197440  length 4096  namespace0.0 pmem0 offset 136323072',
        '',
      ].join('\n'),
    );
  });

  it('"not supported" and failures: exit 1, the reason on stderr, {target, error} in JSON; the other targets still print', function () {
    const shm = fs.mkdtempSync('/dev/shm/daxkit-cli-');
    const f = path.join(shm, 'f');
    fs.writeFileSync(f, 'x');
    try {
      const r = daxkit('badblocks', '--json', ...root('qemu-6.1'), f, 'pmem2', 'region9');
      assert.equal(r.status, 1);
      const out = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(out[0], { target: f, target_base64: null, error: { code: 'ERR_DAX_NOT_SUPPORTED', message: `No media error list for '${f}': ${(out[0].error as { message: string }).message.split(': ').slice(1).join(': ')}` } });
      assert.match((out[0].error as { message: string }).message, /it is on tmpfs/);
      assert.equal(out[1].target, 'pmem2');
      assert.equal((out[2].error as { code: string }).code, 'ERR_INVALID_ARG_VALUE');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 2);
      assert.match(lines[0], new RegExp(`^daxkit: ${f}: it is on tmpfs \\(tmpfs at /dev/shm\\), which has no block device; media errors are tracked only for persistent memory block devices$`));
      assert.equal(lines[1], 'daxkit: region9 names no nd region (the nd regions are region0, region1, region2)', 'what was typed, and what exists');
      const dir = daxkit('badblocks', shm);
      assert.equal(dir.status, 1);
      assert.match(dir.stderr, /^daxkit: \/dev\/shm\/daxkit-cli-\w+: it is on tmpfs/);
    } finally {
      fs.rmSync(shm, { recursive: true });
    }
  });

  it('a list that may be cut short: exit 1, with the warning', function () {
    const r = daxkit('badblocks', ...root('truncated'), 'pmem0');
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^pmem0 \(block, region0\): 455 bad ranges/);
    assert.match(r.stdout, /\n  warning: the kernel's badblock list of pmem0 fills the one page sysfs shows and may be cut short/);
  });

  it('--clear: devices are refused with the reason; it needs --yes off a terminal; flags without --clear are usage errors', function () {
    const dev = daxkit('badblocks', '--clear', '--yes', ...root('qemu-6.1'), 'dax1.0');
    assert.equal(dev.status, 1);
    assert.match(dev.stderr, /^daxkit: dax1\.0: daxkit recovers files: .* dax1\.0 is a devdax device/);
    assert.doesNotMatch(dev.stderr, /clearBadblocks|\(\)/, 'the CLI does not speak of API functions');
    const noYes = daxkit('badblocks', '--clear', '/tmp');
    assert.equal(noYes.status, 2);
    assert.equal(noYes.stderr, "daxkit: --clear zeroes the bad blocks of files: confirm with --yes (standard input is not a terminal)\nTry 'daxkit badblocks --help' for more information.\n");
    assert.equal(daxkit('badblocks', '--clear', '--yes').status, 2);
    assert.equal(daxkit('badblocks', '--yes', 'pmem0').status, 2);
    assert.equal(daxkit('badblocks', '--allow-uncleared', 'pmem0').status, 2);
    assert.equal(daxkit('badblocks', '--frobnicate').status, 2);
  });

  it('help says the units', function () {
    const h = daxkit('badblocks', '--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /^Usage: daxkit badblocks \[TARGET\.\.\.\]/);
    assert.match(h.stdout, /BYTES relative to each\s+TARGET \(ndctl prints 512-byte sectors\)/);
    assert.match(h.stdout, /"units": "bytes"/);
  });
});
