// close(), stale views, exit and worker teardown, the GC safety net. Crash
// behaviour is observed from a parent process, never by crashing mocha.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { open, DaxError } from '../../lib';
import { binding, type MappingId } from '../../lib/binding';
import { mapsOf, mkTempDir, needTestBuild, nextFile, runFixture, testBuildEnv, PAGE } from '../helpers';

describe('close() and lifetime', function () {
  let dir: string;
  before(() => (dir = mkTempDir()));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes the file out of reach of buffer, bytes and every view at once: they read zeros, stores never land in the file; idempotent', function () {
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(2 * PAGE, 1));
    const m = open(f);
    const bytes = m.bytes;
    const buffer = m.buffer;
    const view = m.view(PAGE, 10);
    const u32 = new Uint32Array(m.buffer, 8, 4);
    assert.equal(mapsOf(f).length, 1);
    assert.equal(bytes[0], 1);
    m.close();
    assert.equal(m.closed, true);
    assert.equal(mapsOf(f).length, 0, 'the file is no longer mapped');
    assert.equal(bytes.byteLength, 2 * PAGE, 'views keep their length');
    assert.equal(buffer.byteLength, 2 * PAGE);
    assert.equal(view.byteLength, 10);
    assert.equal(u32.length, 4);
    assert.ok(bytes.every((b) => b === 0) && view.every((b) => b === 0) && u32.every((w) => w === 0), 'stale views read zeros');
    bytes.fill(0x77);
    u32[0] = 0xdeadbeef;
    assert.ok(fs.readFileSync(f).every((b) => b === 1), 'stores through stale views never reach the file');
    m.close();
    m[Symbol.dispose]();
    assert.equal(m.closed, true);
  });

  it('every method and property of a closed mapping throws ERR_DAX_CLOSED', function () {
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(PAGE));
    const m = open(f);
    m.close();
    const calls: Array<[string, () => unknown]> = [
      ['buffer', () => m.buffer],
      ['bytes', () => m.bytes],
      ['view', () => m.view(0, 1)],
      ['persist', () => m.persist()],
      ['flush', () => m.flush()],
      ['drain', () => m.drain()],
      ['deepFlush', () => m.deepFlush()],
      ['read', () => m.read(0, 1)],
      ['readInto', () => m.readInto(0, Buffer.alloc(1))],
      ['write', () => m.write(0, Buffer.from('x'))],
      ['copyPersist', () => m.copyPersist(0, Buffer.from('x'))],
      ['stats', () => m.stats()],
    ];
    for (const [name, fn] of calls) {
      assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof DaxError, name);
        assert.equal(e.code, 'ERR_DAX_CLOSED', name);
        assert.equal(e.message, 'The mapping is closed');
        return true;
      });
    }
    // Plain facts stay readable.
    assert.equal(m.length, PAGE);
    assert.equal(m.path, f);
  });

  it('Symbol.dispose closes the mapping', function () {
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(PAGE));
    const m = open(f);
    const b = m.bytes;
    m[Symbol.dispose]();
    assert.equal(m.closed, true);
    assert.equal(mapsOf(f).length, 0);
    b[0] = 9;
    assert.equal(fs.readFileSync(f)[0], 0);
  });

  it('the binding refuses forged, stale and reused handles: they never reach memory', function () {
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(PAGE, 7));
    const mapFile = () => {
      const fd = fs.openSync(f, 'r+');
      try {
        return binding.map(fd, 0, PAGE, false, 0, PAGE, 1, f, true);
      } finally {
        fs.closeSync(fd);
      }
    };
    const keepA = mapFile();
    const a = binding.id(keepA);
    binding.close(a);
    // A new mapping takes the slot a left; a's id must not reach it.
    const keepB = mapFile();
    const b = binding.id(keepB);
    assert.notEqual(a, b);
    const isClosed = (e: unknown) => (e as DaxError).code === 'ERR_DAX_CLOSED';
    const out = new Uint8Array(16);
    for (const id of [a, b + 1, b ^ 1, 2 ** 52, 1 << 20]) {
      assert.throws(() => binding.read(id as MappingId, 0, out), isClosed, String(id));
      assert.throws(() => binding.persist(id as MappingId, 0, 64), isClosed, String(id));
    }
    const notHandle = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ERR_INVALID_ARG_TYPE';
    for (const v of [-1, 'x', {}, null, keepB]) assert.throws(() => binding.persist(v as unknown as MappingId, 0, 64), notHandle);
    assert.throws(() => binding.id({} as never), notHandle);
    binding.close(a); // idempotent, and does not close b
    binding.read(b, 0, out);
    assert.deepEqual([...out], new Array(16).fill(7));
    binding.close(b);
    assert.throws(() => binding.id(keepB), isClosed);
  });

  it('the mapping cannot be constructed directly', function () {
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(PAGE));
    const m = open(f);
    const Ctor = m.constructor as new (...a: unknown[]) => unknown;
    assert.throws(() => new Ctor(Symbol('x'), {}), /Illegal constructor: use daxkit.open\(\)/);
    m.close();
  });

  it('stale views after close() in a child: every kind keeps its length, reads zeros, never reaches the file; the child exits normally', async function () {
    const r = await runFixture('stale-view', [nextFile(dir)]);
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.messages[0], { bytes: 8192, buffer: 8192, sub: 16, view: 100, zeros: true, storesLanded: true, fileIntact: true, fileMapped: false });
  });

  it('a process exits cleanly with mappings open (return, process.exit)', async function () {
    for (const how of ['return', 'exit']) {
      const r = await runFixture('exit-open', [nextFile(dir), how]);
      assert.equal(r.signal, null, `${how}: ${r.stderr}`);
      assert.equal(r.code, 0, `${how}: ${r.stderr}`);
    }
    const r = await runFixture('exit-open', [nextFile(dir), 'throw']);
    assert.equal(r.signal, null);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /deliberate, with 65536 bytes mapped/);
  });

  it('a worker that maps and returns without close() leaves nothing mapped', async function () {
    const r = await runFixture('worker-map', [nextFile(dir), 'return']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.messages[0], { code: 0, sumInWorker: 7 << 20, mappedInWorker: 2, mappedAfter: 0 });
  });

  it('a worker terminated while it uses a mapping leaves nothing mapped', async function () {
    const r = await runFixture('worker-map', [nextFile(dir), 'terminate']);
    assert.equal(r.code, 0, r.stderr);
    const m = r.messages[0] as { code: number; mappedInWorker: number; mappedAfter: number };
    assert.equal(m.code, 1, 'terminate() gives exit code 1');
    assert.equal(m.mappedInWorker, 2);
    assert.equal(m.mappedAfter, 0);
  });

  it('GC safety net: unmaps a dropped mapping, but not while a buffer over it is reachable; a closed range goes back once its last buffer is collected, at once without buffers', async function () {
    const r = await runFixture('gc-unmap', [nextFile(dir)], { execArgv: ['--expose-gc'] });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.messages[0], {
      mappedWhileBufferHeld: true,
      keptStillReadable: true,
      mappedAfterAllDropped: false,
      mappedAfterHandleDropped: false,
      closedFileMapped: false,
      closedRangeHeldWhileViewReachable: true,
      closedRangeReleasedAfterViewCollected: true,
      rangeReleasedAtCloseWithoutBuffers: true,
    });
  });

  it('a runtime that refuses external buffers gets ERR_DAX_EXTERNAL_BUFFERS_UNSUPPORTED, never a copy (simulated by the test build: Node never refuses)', async function () {
    needTestBuild(this);
    const r = await runFixture('no-external-buffers', [nextFile(dir)], { env: { DAXKIT_TEST_NO_EXTERNAL_BUFFERS: '1', ...testBuildEnv() } });
    assert.equal(r.code, 0, r.stderr);
    const out = r.messages[0] as Record<string, { code: string; message: string; isError: boolean } | boolean>;
    assert.equal(out.testBuild, true, 'the fixture ran on the test build');
    for (const k of ['buffer', 'bytes', 'view']) {
      const e = out[k] as { code: string; message: string; isError: boolean };
      assert.equal(e.code, 'ERR_DAX_EXTERNAL_BUFFERS_UNSUPPORTED', k);
      assert.equal(e.isError, true);
      assert.match(e.message, /does not allow ArrayBuffers over external memory \(napi_no_external_buffers_allowed\)/);
    }
    assert.equal(out.readStillWorks, true);
  });

  it('the shipped addon has no such hook: DAXKIT_TEST_NO_EXTERNAL_BUFFERS=1 changes nothing there, and it has no test-only export', async function () {
    const r = await runFixture('no-external-buffers', [nextFile(dir)], { env: { DAXKIT_TEST_NO_EXTERNAL_BUFFERS: '1', DAXKIT_PREBUILD: '' } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.messages[0], { testBuild: false, buffer: 'returned', bytes: 'returned', view: 'returned', readStillWorks: true });
  });
});
