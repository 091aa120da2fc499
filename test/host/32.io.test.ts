// read/write/copyPersist/persist/flush/drain/view on page-cache mappings, the
// SIGBUS guard (a file truncated under the mapping), and msync failure.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, DaxMediaError, DaxMapping } from '../../lib';
import { assertArgError, assertSystemError, loopMount, loopMountBlocker, mkTempDir, needTestBuild, nextFile, runFixture, testBuildEnv, PAGE, type LoopMount } from '../helpers';

function withFile(dir: string, size: number, fill = 0): { f: string; m: DaxMapping } {
  const f = nextFile(dir);
  fs.writeFileSync(f, Buffer.alloc(size, fill));
  return { f, m: open(f) };
}

describe('mapping I/O', function () {
  let dir: string;
  before(() => (dir = mkTempDir()));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('read() returns a new Buffer with the mapped bytes; write() stores into the mapping', function () {
    const { f, m } = withFile(dir, 2 * PAGE);
    try {
      m.write(10, Buffer.from('abcdef'));
      const r = m.read(8, 10);
      assert.ok(Buffer.isBuffer(r));
      assert.equal(r.toString('hex'), '0000616263646566' + '0000');
      r[2] = 0x7a;
      assert.equal(m.bytes[10], 0x61, 'read() copies');
      m.persist();
      assert.equal(fs.readFileSync(f).subarray(10, 16).toString(), 'abcdef');
      assert.equal(m.read(0, 0).length, 0);
    } finally {
      m.close();
    }
  });

  it('readInto() fills a caller\'s buffer of any view type without allocating a new one', function () {
    const { m } = withFile(dir, 2 * PAGE);
    try {
      for (let i = 0; i < 64; i++) m.bytes[PAGE + i] = i;
      const b = Buffer.alloc(16, 0xff);
      assert.equal(m.readInto(PAGE, b), 16);
      assert.deepEqual([...b], [...Array(16).keys()]);
      const u32 = new Uint32Array(2);
      assert.equal(m.readInto(PAGE + 4, u32), 8);
      assert.deepEqual(Buffer.from(u32.buffer), Buffer.from([4, 5, 6, 7, 8, 9, 10, 11]));
      const dv = new DataView(new ArrayBuffer(8), 2, 4);
      m.readInto(PAGE + 60, dv);
      assert.deepEqual([dv.getUint8(0), dv.getUint8(3)], [60, 63]);
      const ab = new ArrayBuffer(3);
      m.readInto(PAGE + 1, ab);
      assert.deepEqual([...new Uint8Array(ab)], [1, 2, 3]);
      assert.equal(m.readInto(0, Buffer.alloc(0)), 0);
      assertArgError(() => m.readInto(2 * PAGE - 2, Buffer.alloc(3)), RangeError, 'ERR_OUT_OF_RANGE', /"length" is out of range. It must be <= 2/);
      assertArgError(() => m.readInto(0, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"target" argument must be an instance of Buffer, TypedArray, DataView or ArrayBuffer/);
    } finally {
      m.close();
    }
  });

  it('write() and copyPersist() take every TypedArray, DataView, ArrayBuffer and Buffer', function () {
    const { m } = withFile(dir, PAGE);
    try {
      const f64 = new Float64Array([1.5, -2]);
      const sources: Array<[ArrayBufferView | ArrayBuffer, Buffer]> = [
        [Buffer.from('buf'), Buffer.from('buf')],
        [new Uint8Array([1, 2, 3]), Buffer.from([1, 2, 3])],
        [new Uint16Array([0x0102, 0x0304]), Buffer.from(new Uint16Array([0x0102, 0x0304]).buffer)],
        [new Int32Array([-1]), Buffer.from([0xff, 0xff, 0xff, 0xff])],
        [f64, Buffer.from(f64.buffer)],
        [new BigUint64Array([2n ** 63n]), Buffer.from(new BigUint64Array([2n ** 63n]).buffer)],
        [new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2), Buffer.from([8, 7])],
        [new Uint8Array([5, 6, 7, 8]).subarray(2), Buffer.from([7, 8])],
        [new Uint8Array([4, 4]).buffer, Buffer.from([4, 4])],
      ];
      for (const [src, bytes] of sources) {
        m.write(100, src);
        assert.deepEqual(m.read(100, bytes.length), bytes);
        m.copyPersist(1000, src);
        assert.deepEqual(m.read(1000, bytes.length), bytes);
      }
      for (const bad of [null, 'str', 5, [1, 2]]) {
        assertArgError(() => m.write(0, bad as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"source" argument must be an instance of Buffer, TypedArray, DataView or ArrayBuffer/);
        assertArgError(() => m.copyPersist(0, bad as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"source"/);
      }
    } finally {
      m.close();
    }
  });

  it('copyPersist() copies small and large sources at any alignment and makes them visible to read(2)', function () {
    const { f, m } = withFile(dir, 64 * 1024);
    try {
      for (const [off, len] of [[0, 1], [3, 17], [63, 2], [64, 256], [1, 255], [7, 4096 + 13], [4096 - 5, 20000], [65536 - 300, 300]]) {
        const src = Buffer.alloc(len);
        for (let i = 0; i < len; i++) src[i] = (i * 31 + off) & 0xff;
        m.copyPersist(off, src);
        assert.deepEqual(m.read(off, len), src, `copyPersist(${off}, ${len} bytes)`);
        const fd = fs.openSync(f, 'r');
        const back = Buffer.alloc(len);
        fs.readSync(fd, back, 0, len, off);
        fs.closeSync(fd);
        assert.deepEqual(back, src);
      }
    } finally {
      m.close();
    }
  });

  it('write() and read() handle a source or target that overlaps the mapping (memmove semantics)', function () {
    const { m } = withFile(dir, PAGE);
    try {
      for (let i = 0; i < 100; i++) m.bytes[i] = i;
      m.write(10, m.bytes.subarray(0, 50));
      for (let i = 0; i < 50; i++) assert.equal(m.bytes[10 + i], i);
      for (let i = 0; i < 100; i++) m.bytes[i] = i;
      m.copyPersist(0, m.bytes.subarray(20, 80));
      for (let i = 0; i < 60; i++) assert.equal(m.bytes[i], 20 + i);
    } finally {
      m.close();
    }
  });

  it('persist(), flush() and drain() accept the whole mapping, a range, and defaults', function () {
    const { m } = withFile(dir, 4 * PAGE);
    // What each call did, from stats(): one msync each on a page-cache mapping, none for drain().
    const msyncs = (fn: () => void): number => {
      const before = m.stats().msyncs;
      fn();
      return m.stats().msyncs - before;
    };
    try {
      m.bytes.fill(3);
      assert.deepEqual(
        [() => m.persist(), () => m.persist(PAGE), () => m.persist(5, 10), () => m.persist(4 * PAGE, 0), () => m.flush(), () => m.flush(100, 1), () => m.drain()].map(msyncs),
        [1, 1, 1, 1, 1, 1, 0],
      );
      assert.deepEqual(m.stats(), { linesFlushed: 0, fences: 0, msyncs: 6, nonTemporalBytes: 0 });
    } finally {
      m.close();
    }
  });

  it('persist(), flush() and deepFlush() msync exactly the pages of their range, the defaults the rest of the mapping (test build: the trace of msync)', async function () {
    needTestBuild(this);
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(4 * PAGE, 1));
    const ops = [['persist'], ['persist', PAGE], ['persist', 5, 10], ['persist', 4 * PAGE, 0], ['persist', PAGE - 1, 2], ['flush'], ['flush', 100, 1], ['drain'], ['copyPersist', 3 * PAGE + 5, 300], ['write', 0, 10], ['deepFlush', PAGE + 5, 10], ['deepFlush', 2 * PAGE]];
    // The fixture calls each with the arguments given: ['persist'] is persist(), its defaults.
    const r = await runFixture('flush-trace', [f, '{"sync":"auto"}', JSON.stringify(ops)], { env: testBuildEnv() });
    assert.equal(r.code, 0, r.stderr);
    const out = r.messages[0] as { kind: string; results: Array<Array<{ kind: string; at: number | null; len: number }>> };
    assert.equal(out.kind, 'pagecache');
    const msync = (at: number, len: number) => [{ kind: 'msync', at, len }];
    assert.deepEqual(out.results, [
      msync(0, 4 * PAGE),
      msync(PAGE, 3 * PAGE),
      msync(0, PAGE),
      [], // nothing to write back: no system call
      msync(0, 2 * PAGE),
      msync(0, 4 * PAGE),
      msync(0, PAGE),
      [],
      msync(3 * PAGE, PAGE),
      [],
      // deepFlush() on a page-cache file: msync of the pages of its range, its default the rest.
      msync(PAGE, PAGE),
      msync(2 * PAGE, 2 * PAGE),
    ]);
  });

  it('stats() counts msync calls on a page-cache mapping, and no cache-line work', function () {
    const { m } = withFile(dir, 4 * PAGE);
    try {
      assert.deepEqual(m.stats(), { linesFlushed: 0, fences: 0, msyncs: 0, nonTemporalBytes: 0 });
      m.persist();
      m.flush(0, 10);
      m.drain();
      m.copyPersist(0, Buffer.alloc(1000));
      m.write(0, Buffer.alloc(10));
      assert.deepEqual(m.stats(), { linesFlushed: 0, fences: 0, msyncs: 3, nonTemporalBytes: 0 });
    } finally {
      m.close();
    }
    assert.throws(() => m.stats(), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ERR_DAX_CLOSED');
  });

  it('every range argument is validated against the mapping', function () {
    const { m } = withFile(dir, PAGE);
    try {
      const ranged: Array<[string, (o: unknown, l: unknown) => unknown]> = [
        ['persist', (o, l) => m.persist(o as number, l as number)],
        ['flush', (o, l) => m.flush(o as number, l as number)],
        ['read', (o, l) => m.read(o as number, l as number)],
        ['view', (o, l) => m.view(o as number, l as number)],
      ];
      for (const [name, fn] of ranged) {
        assertArgError(() => fn(-1, 1), RangeError, 'ERR_OUT_OF_RANGE', /"offset" is out of range. It must be >= 0 && <= 4096. Received -1/);
        assertArgError(() => fn(PAGE + 1, 0), RangeError, 'ERR_OUT_OF_RANGE', /"offset"/);
        assertArgError(() => fn(1.5, 1), RangeError, 'ERR_OUT_OF_RANGE', /"offset" is out of range. It must be an integer/);
        assertArgError(() => fn('0', 1), TypeError, 'ERR_INVALID_ARG_TYPE', /"offset" argument must be of type number/);
        assertArgError(() => fn(0, -1), RangeError, 'ERR_OUT_OF_RANGE', /"length"/);
        assertArgError(() => fn(0, 2 ** 53), RangeError, 'ERR_OUT_OF_RANGE', /"length"/);
        assertArgError(() => fn(100, PAGE), RangeError, 'ERR_OUT_OF_RANGE', new RegExp(`${name === 'x' ? '' : ''}"length" is out of range. It must be <= 3996 \\(the rest of the mapping after offset 100\\). Received 4096`));
        assertArgError(() => fn(0, 0.25), RangeError, 'ERR_OUT_OF_RANGE', /"length" is out of range. It must be an integer/);
      }
      assertArgError(() => m.write(PAGE - 1, Buffer.alloc(2)), RangeError, 'ERR_OUT_OF_RANGE', /"length" is out of range. It must be <= 1/);
      assertArgError(() => m.copyPersist(PAGE + 1, Buffer.alloc(0)), RangeError, 'ERR_OUT_OF_RANGE', /"offset"/);
    } finally {
      m.close();
    }
  });

  it('view() is a zero-copy window of the one buffer', function () {
    const { m } = withFile(dir, 2 * PAGE);
    try {
      const v = m.view(PAGE, 16);
      assert.equal(v.buffer, m.buffer);
      assert.equal(v.byteOffset, PAGE);
      v[0] = 0xee;
      assert.equal(m.bytes[PAGE], 0xee);
      assert.equal(m.view(PAGE).length, PAGE, 'length defaults to the rest');
    } finally {
      m.close();
    }
  });

  describe('SIGBUS (a file truncated under the mapping)', function () {
    it('read() throws DaxMediaError at the first missing page, says the file was truncated, and the process lives on', function () {
      const { f, m } = withFile(dir, 4 * PAGE, 1);
      try {
        fs.truncateSync(f, PAGE + 100);
        // The page that holds the new end of file still reads (zeros past EOF);
        // the pages after it are gone.
        assert.equal(m.read(0, 2 * PAGE).length, 2 * PAGE);
        for (const [off, len, at] of [[0, 4 * PAGE, 2 * PAGE], [2 * PAGE + 10, 100, 2 * PAGE + 10], [PAGE, 3 * PAGE, 2 * PAGE], [3 * PAGE, PAGE, 3 * PAGE]]) {
          assert.throws(
            () => m.read(off, len),
            (e: unknown) => {
              assert.ok(e instanceof DaxMediaError);
              assert.ok(e instanceof Error);
              assert.equal(e.name, 'DaxMediaError');
              assert.equal(e.code, 'EIO');
              assert.equal(e.errno, -5);
              assert.equal(e.signal, 'SIGBUS');
              assert.equal(e.sigCode, 'BUS_ADRERR');
              assert.equal(e.operation, 'read');
              assert.equal(e.path, f);
              assert.equal(e.offset, at, `read(${off}, ${len})`);
              assert.equal(e.fault, 'truncated');
              assert.equal(e.buffer, 'mapping');
              assert.ok(!Object.prototype.hasOwnProperty.call(e, 'name'), 'the name lives on the prototype');
              assert.ok(e.address >= m.address + BigInt(at) && e.address < m.address + BigInt(at + PAGE));
              assert.equal(e.message, `EIO: the file was truncated under the mapping: no page at offset ${at} of the mapping (SIGBUS BUS_ADRERR), read '${f}'`);
              return true;
            },
          );
          assert.throws(() => m.readInto(off, Buffer.alloc(len)), (e: unknown) => e instanceof DaxMediaError && e.offset === at);
        }
        assert.equal(m.read(100, 10).toString('hex'), '01'.repeat(10), 'the mapping still works');
      } finally {
        m.close();
      }
    });

    it('write() and copyPersist() throw DaxMediaError too', function () {
      const { f, m } = withFile(dir, 4 * PAGE, 1);
      try {
        fs.truncateSync(f, PAGE);
        for (const [name, fn] of [
          ['write', () => m.write(PAGE + 5, Buffer.alloc(10))],
          ['copyPersist', () => m.copyPersist(3 * PAGE, Buffer.alloc(2000))],
        ] as const) {
          assert.throws(fn, (e: unknown) => e instanceof DaxMediaError && e.operation === name && e.offset === (name === 'write' ? PAGE + 5 : 3 * PAGE) && e.fault === 'truncated' && e.buffer === 'mapping');
        }
      } finally {
        m.close();
      }
    });

    it('the same access through bytes kills a child with SIGBUS: the protection is real', async function () {
      const r = await runFixture('sigbus-bytes', [nextFile(dir)]);
      assert.equal(r.signal, 'SIGBUS');
      assert.deepEqual(r.messages, ['mapped']);
    });

    it('a SIGBUS outside daxkit reaches the handler installed before daxkit (here libuv\'s, for process.on)', function () {
      const script = `
        process.on('SIGBUS', () => { console.log('handled by the earlier handler'); process.exit(0); });
        require(process.argv[1]);
        process.kill(process.pid, 'SIGBUS');
        setTimeout(() => { console.log('not delivered'); process.exit(3); }, 2000);`;
      const r = spawnSync(process.execPath, ['-e', script, path.join(__dirname, '..', '..', 'lib')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'handled by the earlier handler');
    });

    it('a SIGBUS outside daxkit still kills the process (the handler chains to the default)', function () {
      const r = spawnSync(process.execPath, ['-e', "require(process.argv[1]); process.kill(process.pid, 'SIGBUS'); setTimeout(() => {}, 1000)", path.join(__dirname, '..', '..', 'lib')]);
      assert.equal(r.signal, 'SIGBUS');
    });
  });

  it('copies pick the flush instruction from the environment overrides (DAXKIT_NO_CLWB, DAXKIT_NO_CLFLUSHOPT)', function () {
    const lib = path.join(__dirname, '..', '..', 'lib');
    const run = (env: Record<string, string>): string =>
      spawnSync(process.execPath, ['-p', 'require(process.argv[1]).cpuInfo().flush', lib], { env: { ...process.env, ...env }, encoding: 'utf8' }).stdout.trim();
    const c = JSON.parse(spawnSync(process.execPath, ['-p', 'JSON.stringify(require(process.argv[1]).cpuInfo())', lib], { encoding: 'utf8' }).stdout) as { clwb: boolean; clflushopt: boolean };
    assert.equal(run({ DAXKIT_NO_CLWB: '1' }), c.clflushopt ? 'clflushopt' : 'clflush');
    assert.equal(run({ DAXKIT_NO_CLWB: '1', DAXKIT_NO_CLFLUSHOPT: '1' }), 'clflush');
    assert.equal(run({ DAXKIT_NO_CLWB: '0' }), c.clwb ? 'clwb' : c.clflushopt ? 'clflushopt' : 'clflush');
  });
});

describe('persist() when msync fails', function () {
  const blocker = loopMountBlocker('xfs');
  if (blocker !== null) {
    it(`cannot run: ${blocker}`);
    return;
  }
  let mnt: LoopMount;
  before(() => (mnt = loopMount('xfs')));
  after(() => mnt?.cleanup());

  it('throws the msync error (EIO after a filesystem shutdown), never aborts', function () {
    const f = path.join(mnt.dir, 'victim');
    const map = open(f, { size: 16 * PAGE, create: true });
    try {
      map.bytes.fill(0xab);
      const r = spawnSync('xfs_io', ['-x', '-c', 'shutdown', mnt.dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.throws(
        () => map.persist(),
        (e: unknown) => {
          assertSystemError(e, { code: 'EIO', errno: -5, syscall: 'msync', path: f });
          return true;
        },
      );
    } finally {
      map.close();
    }
  });
});
