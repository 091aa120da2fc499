// The default guest of the harness, as its --help describes it: three NFIT
// NVDIMMs whose regions report no persistence domain (QEMU without
// nvdimm-persistence), and none of the other kinds of memory, which come only
// when asked for (test/vm-host/70.memory-kinds.test.ts boots those).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, vit } from './vm-env';

interface NdBus {
  provider: string;
  regions?: Array<{ dev: string; persistence_domain?: string }>;
}

function buses(): NdBus[] {
  const v = JSON.parse(run('ndctl', ['list', '-B', '-R'])) as NdBus | NdBus[];
  return Array.isArray(v) ? v : [v];
}

describe('the default guest', function () {
  vit('three NFIT regions with no persistence domain: no persistence_domain file, ndctl says unknown', function () {
    assert.equal(process.env.PMEM_NVDIMM_PERSISTENCE, undefined);
    const nfit = buses().find((b) => b.provider === 'ACPI.NFIT');
    assert.ok(nfit, 'ndctl lists the ACPI.NFIT bus');
    const regions = nfit.regions ?? [];
    assert.equal(regions.length, 3);
    for (const r of regions) {
      assert.equal(r.persistence_domain, 'unknown', r.dev);
      assert.equal(fs.existsSync(path.join('/sys/bus/nd/devices', r.dev, 'persistence_domain')), false, r.dev);
      assert.equal(fs.readFileSync(path.join('/sys/bus/nd/devices', r.dev, 'read_only'), 'utf8').trim(), '0', r.dev);
    }
  });

  vit('no other kind of memory unless asked for: no e820, virtio-pmem or CXL bus, no dax device outside nd regions', function () {
    assert.deepEqual(buses().map((b) => b.provider), ['ACPI.NFIT']);
    assert.equal(fs.existsSync('/sys/bus/cxl/devices') && fs.readdirSync('/sys/bus/cxl/devices').length > 0, false);
    for (const d of fs.readdirSync('/sys/bus/dax/devices')) assert.match(fs.realpathSync(path.join('/sys/bus/dax/devices', d)), /\/ndbus\d+\/region\d+\//, d);
    const env = Object.keys(process.env).filter((k) => /^PMEM_(LEGACY|VIRTIO|HMEM|CXL|UNARMED|NVDIMM)_/.test(k));
    assert.deepEqual(env, []);
  });
});
