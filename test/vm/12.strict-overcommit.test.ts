// close() under a strict commit limit (vm.overcommit_memory=2), in the VM,
// where changing the sysctl harms nothing else: a private writable stand-in
// for a large mapping would be charged in full and refused, so the range
// would come back read-only and a stale store would be a SIGSEGV. The
// stand-in is a sparse memfd instead, charged only where written.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pmemFs, vit } from './vm-env';

const MiB = 1024 * 1024;

describe('close() under vm.overcommit_memory=2', function () {
  this.timeout(60_000);
  vit('a mapping larger than the free commit: after close() stale views take stores (no SIGSEGV), copies into them work, and the file is untouched', function () {
    const f = pmemFs[0];
    const file = path.join(f.dir, `overcommit-${process.pid}`);
    const sysctl = (name: string) => `/proc/sys/vm/${name}`;
    const saved = ['overcommit_memory', 'overcommit_ratio'].map((n) => [n, fs.readFileSync(sysctl(n), 'utf8')] as const);
    const meminfo = (key: string): number => Number(/\d+/.exec(fs.readFileSync('/proc/meminfo', 'utf8').split('\n').find((l) => l.startsWith(`${key}:`)) ?? '0')![0]) * 1024;
    try {
      fs.writeFileSync(sysctl('overcommit_ratio'), '60');
      fs.writeFileSync(sysctl('overcommit_memory'), '2');
      const free = meminfo('CommitLimit') - meminfo('Committed_AS');
      const size = Math.ceil((Math.max(free, 0) + 64 * MiB) / (2 * MiB)) * 2 * MiB;
      const lib = JSON.stringify(path.join(__dirname, '..', '..', 'lib'));
      const script = `
        const fs = require('fs'); const { open } = require(${lib});
        // Sparse: the stand-in's size is what matters, not the blocks.
        fs.writeFileSync(${JSON.stringify(file)}, ''); fs.truncateSync(${JSON.stringify(file)}, ${size});
        const m = open(${JSON.stringify(file)});
        m.bytes.fill(0x11, 0, 4096);
        m.persist(0, 4096);
        const v = m.view(0, 4096);
        const address = m.address;
        m.close();
        const line = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => BigInt('0x' + l.split('-')[0]) === address) || '';
        v[1] = 7;
        const n = open(${JSON.stringify(file)}, { size: 4096 });
        n.readInto(0, v);
        n.close();
        process.stdout.write(JSON.stringify({ standIn: line.slice(line.indexOf(' ') + 1, line.indexOf(' ') + 5), first: v[0], fileByte: (() => { const b = Buffer.alloc(2); const fd = fs.openSync(${JSON.stringify(file)}, 'r'); fs.readSync(fd, b, 0, 2, 0); fs.closeSync(fd); return b.toString('hex'); })() }));`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50_000 });
      assert.equal(r.signal, null, `died of ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { standIn: string; first: number; fileByte: string };
      assert.equal(out.standIn, 'rw-s', 'a shared, writable stand-in');
      assert.equal(out.first, 0x11, 'the copy into the stale view landed');
      assert.equal(out.fileByte, '1111', 'the stale store did not reach the file');
    } finally {
      for (const [n, v] of saved) fs.writeFileSync(sysctl(n), v);
      fs.rmSync(file, { force: true });
    }
  });
});
