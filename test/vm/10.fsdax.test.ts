// fsdax on ext4 and xfs mounted -o dax, on the emulated NVDIMMs.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, cpuInfo, statx } from '../../lib';
import { pmemFs, remount, vit } from './vm-env';

const MiB = 1024 * 1024;

function pread(file: string, pos: number, n: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(n);
    fs.readSync(fd, b, 0, n, pos);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

for (const f of pmemFs) {
  describe(`fsdax on ${f.name} (mounted ${f.opts || '-o dax'})`, function () {
    vit("open(..., { sync: 'required' }) maps with MAP_SYNC at cache-line granularity", function () {
      const file = path.join(f.dir, 'required');
      const m = open(file, { size: 8 * MiB, create: true, sync: 'required' });
      try {
        assert.equal(m.kind, 'fsdax');
        assert.equal(m.mapSync, true);
        assert.equal(m.granularity, 'cacheline');
        assert.equal(m.flushMechanism, cpuInfo().flush);
        assert.notEqual(m.flushMechanism, 'msync');
        assert.equal(m.address % BigInt(2 * MiB), 0n, 'huge-page aligned address');
        assert.equal(statx(file).dax, true);
      } finally {
        m.close();
      }
    });

    vit('stores through bytes plus persist() are read back by read(2) after close, and after an unmount and remount', function () {
      const file = path.join(f.dir, 'records');
      const m = open(file, { size: 4 * MiB, create: true, sync: 'required' });
      const record = Buffer.from(`daxkit record on ${f.name}: ${'x'.repeat(200)}`);
      const offsets = [0, 4096, 65536 + 17, 4 * MiB - record.length];
      try {
        for (const o of offsets) {
          m.bytes.set(record, o);
          m.persist(o, record.length);
        }
      } finally {
        m.close();
      }
      for (const o of offsets) assert.deepEqual(pread(file, o, record.length), record, `after close, offset ${o}`);
      remount(f, f.opts);
      for (const o of offsets) assert.deepEqual(pread(file, o, record.length), record, `after remount, offset ${o}`);
    });

    vit('copyPersist(), write() and read() round-trip at any size and alignment', function () {
      const file = path.join(f.dir, 'copies');
      const m = open(file, { size: 2 * MiB, create: true, sync: 'required' });
      try {
        for (const [off, len] of [[0, 8], [3, 300], [4096 - 7, 70000], [MiB + 1, 255], [MiB, 256]]) {
          const src = Buffer.alloc(len, (off + len) & 0xff);
          m.copyPersist(off, src);
          assert.deepEqual(m.read(off, len), src);
          m.write(off, Buffer.alloc(len, 1));
          m.persist(off, len);
          assert.deepEqual(pread(file, off, len), Buffer.alloc(len, 1));
        }
      } finally {
        m.close();
      }
    });

    vit('persist() writes back exactly the cache lines a range touches, with one fence (stats())', function () {
      const file = path.join(f.dir, 'lines');
      const m = open(file, { size: 2 * MiB, create: true, sync: 'required' });
      try {
        const delta = (fn: () => void): [number, number, number, number] => {
          const a = m.stats();
          fn();
          const b = m.stats();
          return [b.linesFlushed - a.linesFlushed, b.fences - a.fences, b.msyncs - a.msyncs, b.nonTemporalBytes - a.nonTemporalBytes];
        };
        assert.deepEqual(delta(() => m.persist(0, 64)), [1, 1, 0, 0]);
        assert.deepEqual(delta(() => m.persist(64, 1)), [1, 1, 0, 0]);
        assert.deepEqual(delta(() => m.persist(63, 2)), [2, 1, 0, 0], 'a range across a line boundary');
        assert.deepEqual(delta(() => m.persist(0, 4096)), [64, 1, 0, 0]);
        assert.deepEqual(delta(() => m.persist(100, 0)), [0, 1, 0, 0]);
        assert.deepEqual(delta(() => m.flush(0, 128)), [2, 0, 0, 0]);
        assert.deepEqual(delta(() => m.drain()), [0, 1, 0, 0]);
        // copyPersist: below 256 bytes, stores and a flush of the lines touched;
        // from 256 on, non-temporal stores for the 64-byte-aligned body.
        assert.deepEqual(delta(() => m.copyPersist(10, Buffer.alloc(100, 1))), [2, 1, 0, 0]);
        assert.deepEqual(delta(() => m.copyPersist(128, Buffer.alloc(300, 2))), [1, 1, 0, 256], 'an aligned head, a 44-byte tail');
        assert.deepEqual(delta(() => m.copyPersist(4096 + 60, Buffer.alloc(4096, 3))), [2, 1, 0, 4032], 'a 4-byte head and a 60-byte tail');
        assert.deepEqual(m.read(4096 + 60, 4096), Buffer.alloc(4096, 3));
      } finally {
        m.close();
      }
    });

    vit("sync: 'off' maps the DAX file without MAP_SYNC: page granularity, persist() by msync", function () {
      const file = path.join(f.dir, 'nosync');
      const m = open(file, { size: MiB, create: true, sync: 'off' });
      try {
        assert.equal(m.kind, 'fsdax');
        assert.equal(m.mapSync, false);
        assert.equal(m.granularity, 'page');
        assert.equal(m.flushMechanism, 'msync');
        m.bytes.fill(0x3c, 100, 200);
        m.persist(100, 100);
        assert.deepEqual(pread(file, 100, 100), Buffer.alloc(100, 0x3c));
      } finally {
        m.close();
      }
    });
  });
}

describe('every flush instruction persists on fsdax (CLWB, CLFLUSHOPT, CLFLUSH)', function () {
  // The choice is made once per process by CPUID; the overrides take the
  // next best instruction, so each runs here against real DAX.
  const script = `
    const { open } = require(process.argv[1]);
    const out = [];
    for (const dir of process.argv.slice(2)) {
      const file = dir + '/flush-' + (process.env.DAXKIT_NO_CLWB ? 'nclwb' : '') + (process.env.DAXKIT_NO_CLFLUSHOPT ? 'nopt' : '');
      const m = open(file, { size: 1 << 20, create: true, sync: 'required' });
      m.bytes.fill(0x77, 4000, 5000);
      m.persist(4000, 1000);
      out.push({ file, mechanism: m.flushMechanism });
      m.close();
    }
    console.log(JSON.stringify(out));`;
  const cases: Array<[string, Record<string, string>]> = [
    ['clwb', {}],
    ['clflushopt', { DAXKIT_NO_CLWB: '1' }],
    ['clflush', { DAXKIT_NO_CLWB: '1', DAXKIT_NO_CLFLUSHOPT: '1' }],
  ];
  for (const [mechanism, env] of cases) {
    vit(`${mechanism}`, function () {
      const c = cpuInfo();
      if ((mechanism === 'clwb' && !c.clwb) || (mechanism === 'clflushopt' && !c.clflushopt)) {
        assert.fail(`the guest CPU lacks ${mechanism} (QEMU -cpu max has it): ${JSON.stringify(c)}`);
      }
      const r = spawnSync(process.execPath, ['-e', script, path.join(__dirname, '..', '..', 'lib'), ...pmemFs.map((f) => f.dir)], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Array<{ file: string; mechanism: string }>;
      assert.equal(out.length, 2);
      for (const o of out) {
        assert.equal(o.mechanism, mechanism);
        assert.deepEqual(pread(o.file, 4000, 1000), Buffer.alloc(1000, 0x77));
      }
    });
  }
});
