// Device DAX: whole-device mappings at the device alignment, and the
// kernel's refusal of misaligned ones.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, cpuInfo, DaxSystemError } from '../../lib';
import { binding, MapMode, PersistMode } from '../../lib/binding';
import { devdax, vit } from './vm-env';

const MiB = 1024 * 1024;

function sysAttr(name: string): number {
  return Number(fs.readFileSync(path.join('/sys/bus/dax/devices', path.basename(devdax), name), 'utf8').trim());
}

describe('devdax', function () {
  vit('maps the whole device at an address aligned to the device align', function () {
    const align = sysAttr('align');
    const size = sysAttr('size');
    const m = open(devdax);
    try {
      assert.equal(m.kind, 'devdax');
      assert.equal(m.length, size);
      assert.equal(m.alignment, align);
      assert.equal(m.address % BigInt(align), 0n, `address 0x${m.address.toString(16)} is a multiple of ${align}`);
      assert.equal(m.mapSync, false);
      assert.equal(m.granularity, 'cacheline');
      assert.equal(m.flushMechanism, cpuInfo().flush);
    } finally {
      m.close();
    }
  });

  vit('data written and persisted is there after a re-open, at an aligned offset too', function () {
    const align = sysAttr('align');
    const m = open(devdax);
    const stamp = Buffer.from(`devdax ${Date.now()}`);
    try {
      m.bytes.set(stamp, 123);
      m.persist(123, stamp.length);
      m.copyPersist(align + 5, stamp);
    } finally {
      m.close();
    }
    const n = open(devdax, { offset: align, size: 2 * align });
    try {
      assert.equal(n.length, 2 * align);
      assert.deepEqual(n.read(5, stamp.length), stamp);
    } finally {
      n.close();
    }
    const w = open(devdax, { readonly: true });
    try {
      assert.deepEqual(w.read(123, stamp.length), stamp);
    } finally {
      w.close();
    }
  });

  vit('misaligned offsets and sizes are refused with the reason, and the kernel refuses them too', function () {
    const align = sysAttr('align');
    for (const [opts, name] of [
      [{ offset: 4096 }, 'offset'],
      [{ size: 4096 }, 'size'],
      [{ size: align + 4096 }, 'size'],
    ] as const) {
      assert.throws(
        () => open(devdax, opts),
        (e: unknown) => {
          assert.ok(e instanceof RangeError);
          assert.equal((e as NodeJS.ErrnoException).code, 'ERR_OUT_OF_RANGE');
          assert.match(e.message, new RegExp(`"options.${name}" is out of range. It must be a multiple of the device alignment ${align} \\(2 MiB\\) of ${path.basename(devdax)}: device-dax refuses misaligned mappings`));
          return true;
        },
      );
    }
    // The same requests, straight to mmap(2) without daxkit's checks: the
    // device's own answer is EINVAL, which is what the message explains.
    const fd = fs.openSync(devdax, 'r+');
    try {
      for (const [off, len] of [[0, 4096], [4096, align]]) {
        assert.throws(
          () => binding.map(fd, off, len, false, MapMode.Shared, align, PersistMode.Flush, devdax, false),
          (e: unknown) => e instanceof DaxSystemError && e.code === 'EINVAL' && e.syscall === 'mmap',
        );
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  vit('create and beyond-the-end ranges are refused', function () {
    const size = sysAttr('size');
    assert.throws(() => open(devdax, { create: true, size: 2 * MiB }), /'options.create' cannot be used with a devdax device/);
    assert.throws(() => open(devdax, { offset: size }), /"options.offset" is out of range. It must be < the device size/);
    assert.throws(() => open(devdax, { size: size + 2 * MiB }), /"options.size" is out of range/);
  });
});
