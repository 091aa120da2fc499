// SIGBUS from a real media error: a page of a file on pmem is poisoned
// through the machine-check path (pmem-poison), then daxkit's read() over it
// throws DaxMediaError at that page while the pages around it read fine.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, DaxMediaError } from '../../lib';
import { pmemFs, run, vit } from './vm-env';

const PAGE = 4096;

for (const f of pmemFs) {
  describe(`a media error under a file on ${f.name}`, function () {
    vit('read() throws DaxMediaError with the page offset, a media fault (not a truncation); the next page reads fine; the process lives on', function () {
      const file = path.join(f.dir, `poisoned-${Date.now()}`);
      const data = Buffer.alloc(8 * PAGE);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      fs.writeFileSync(file, data);
      const fd = fs.openSync(file, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      const bad = 3 * PAGE;
      const out = run('pmem-poison', [file, String(bad)]);
      assert.match(out, /poisoned via mce-inject/);
      const m = open(file);
      try {
        assert.throws(
          () => m.read(0, 8 * PAGE),
          (e: unknown) => {
            assert.ok(e instanceof DaxMediaError, String(e));
            assert.equal(e.code, 'EIO');
            assert.equal(e.offset, bad);
            assert.equal(e.operation, 'read');
            assert.equal(e.path, file);
            assert.match(e.sigCode, /^BUS_(ADRERR|MCEERR_AR)$/);
            assert.equal(e.fault, 'media');
            assert.equal(e.buffer, 'mapping');
            assert.match(e.message, new RegExp(`^EIO: media error at offset ${bad} of the mapping`));
            return true;
          },
        );
        assert.throws(() => m.read(bad + 100, 10), (e: unknown) => e instanceof DaxMediaError && e.offset === bad + 100);
        assert.deepEqual(m.read(bad + PAGE, PAGE), data.subarray(bad + PAGE, bad + 2 * PAGE), 'the next page');
        assert.deepEqual(m.read(0, bad), data.subarray(0, bad), 'the pages before');
      } finally {
        m.close();
      }
    });
  });
}
