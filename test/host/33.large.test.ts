// Offsets and sizes beyond 2 GiB and 4 GiB, on sparse files (the classic
// 32-bit bug of the npm mmap packages), and the one-buffer limit of Node 20.
import * as assert from 'node:assert/strict';
import { constants } from 'node:buffer';
import * as fs from 'node:fs';
import { open, DaxError } from '../../lib';
import { mkTempDir, nextFile, GiB, MiB, PAGE } from '../helpers';

describe('large mappings (sparse files)', function () {
  let dir: string;
  before(() => (dir = mkTempDir()));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function sparse(size: number): string {
    const f = nextFile(dir);
    fs.writeFileSync(f, '');
    fs.truncateSync(f, size);
    return f;
  }

  function pwrite(f: string, pos: number, data: Buffer): void {
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, data, 0, data.length, pos);
    fs.closeSync(fd);
  }

  function pread(f: string, pos: number, n: number): Buffer {
    const fd = fs.openSync(f, 'r');
    const b = Buffer.alloc(n);
    fs.readSync(fd, b, 0, n, pos);
    fs.closeSync(fd);
    return b;
  }

  for (const base of [2 * GiB + 8 * PAGE, 4 * GiB + 16 * PAGE, 6 * GiB]) {
    it(`maps at file offset ${base} (beyond ${base >= 4 * GiB ? 4 : 2} GiB) and reaches the right bytes`, function () {
      const f = sparse(base + 4 * MiB);
      pwrite(f, base + 123, Buffer.from('far away'));
      const m = open(f, { offset: base, size: 4 * MiB });
      try {
        assert.equal(m.offset, base);
        assert.equal(m.read(123, 8).toString(), 'far away');
        m.write(4 * MiB - 8, Buffer.from('the end!'));
        m.persist(4 * MiB - 8, 8);
        assert.equal(pread(f, base + 4 * MiB - 8, 8).toString(), 'the end!');
      } finally {
        m.close();
      }
    });
  }

  it('a mapping larger than 4 GiB: every byte is reachable through view() windows and read/write', function () {
    const size = 5 * GiB;
    const f = sparse(size);
    const marks = [0, 2 * GiB - 3, 2 * GiB, 4 * GiB - 2, 4 * GiB, 4 * GiB + 7, size - 8];
    for (const p of marks) pwrite(f, p, Buffer.from([p % 251, 0xaa]));
    const m = open(f);
    try {
      assert.equal(m.length, size);
      for (const p of marks) {
        const v = m.view(p, 2);
        assert.equal(v[0], p % 251, `view at ${p}`);
        assert.equal(v[1], 0xaa);
        assert.deepEqual(m.read(p, 2), Buffer.from([p % 251, 0xaa]));
      }
      // A view crossing the 4 GiB line, and one of 3 GiB.
      const cross = m.view(4 * GiB - 4, 16);
      assert.deepEqual([...cross.subarray(2, 6)], [(4 * GiB - 2) % 251, 0xaa, (4 * GiB) % 251, 0xaa]);
      const big = m.view(1 * GiB, 3 * GiB);
      assert.equal(big.length, 3 * GiB);
      assert.equal(big[3 * GiB - 2], (4 * GiB - 2) % 251);
      // Stores through a window reach the file.
      m.view(size - PAGE, PAGE)[PAGE - 1] = 0x42;
      m.persist(size - PAGE, PAGE);
      assert.equal(pread(f, size - 1, 1)[0], 0x42);
      // Windows are reused per start: the same grid cell gives the same buffer.
      assert.equal(m.view(4 * GiB + 100, 10).buffer, m.view(4 * GiB + 200, 10).buffer);
      if (size > constants.MAX_LENGTH) {
        assert.throws(
          () => m.buffer,
          (e: unknown) => e instanceof DaxError && e.code === 'ERR_DAX_TOO_LARGE' && /limits an ArrayBuffer over external memory to \d+ bytes \(buffer.constants.MAX_LENGTH\): use view\(offset, length\)/.test(e.message),
        );
        assert.throws(() => m.bytes, (e: unknown) => e instanceof DaxError && e.code === 'ERR_DAX_TOO_LARGE');
      } else {
        assert.equal(m.buffer.byteLength, size, 'this Node.js allows one buffer over the whole mapping');
      }
      const views = [cross, big];
      m.close();
      // Both held the marks at 4 GiB - 2; now they read zeros, and stores
      // through them never reach the file.
      assert.deepEqual([big[3 * GiB - 2], big[3 * GiB - 1], cross[2], cross[3]], [0, 0, 0, 0], 'windows read zeros after close()');
      for (const v of views) v[v.length - 1] = 0x99;
      assert.deepEqual([...pread(f, 4 * GiB - 2, 2)], [(4 * GiB - 2) % 251, 0xaa]);
      assert.equal(pread(f, 4 * GiB + 11, 1)[0], 0);
    } finally {
      m.close();
    }
  });
});
