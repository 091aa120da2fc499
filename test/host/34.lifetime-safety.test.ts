// Issue 10's classes: what ordinary JavaScript can do to a mapping that must
// never crash the process, hang it, or write into a file it was not told to.
// Each scenario that crashed (SIGSEGV), aborted, spun or corrupted another
// file before the lifetime model of native/region.h runs in a child
// process, so that a regression fails this test instead of killing mocha.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaxError, DaxMapping, DaxMediaError, open } from '../../lib';
import { isRoot, mkTempDir, nextFile, runFixture, PAGE } from '../helpers';

const hasTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';
const hasFloat16 = typeof (globalThis as { Float16Array?: unknown }).Float16Array === 'function';

// A test that cannot run on this Node.js is pending, and says why.
function itWhen(ok: boolean, why: string, title: string, fn: Mocha.Func | Mocha.AsyncFunc): void {
  if (ok) it(title, fn);
  else it(`${title} (pending: ${why})`);
}

describe('lifetime: close() while JavaScript, Node and the thread pool still reach the memory', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = mkTempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function attack(scenario: string, execArgv: string[] = []): Promise<Record<string, unknown>> {
    const r = await runFixture('lifetime-attack', [scenario, dir], { execArgv, timeoutMs: 90_000 });
    assert.equal(r.timedOut, false, `${scenario} hung: ${r.stderr}`);
    assert.equal(r.signal, null, `${scenario} died of ${r.signal}: ${r.stderr}`);
    assert.equal(r.code, 0, `${scenario} exited ${r.code}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /FATAL ERROR/);
    const msg = r.messages[0] as Record<string, unknown>;
    assert.equal(msg.error, undefined, String(msg.error));
    return msg;
  }

  it('an fs.read() into a view pending in the thread pool: close() and new mappings; the read lands in neither file', async function () {
    const r = await attack('pending-read');
    assert.deepEqual(r, { bytesRead: 16 * PAGE, aIntact: true, othersIntact: true, reused: false });
  });

  it('crypto.randomFill() over the whole mapping, closed mid-way: no crash, no other file written', async function () {
    assert.deepEqual(await attack('randomfill'), { othersIntact: true });
  });

  it('zlib.deflate() of the mapping, closed mid-way: it finishes (on zeros), no crash, no other file written', async function () {
    assert.deepEqual(await attack('zlib'), { outcome: 'deflated true', othersIntact: true });
  });

  it('Buffer methods whose argument conversion calls close() (hexSlice, latin1Slice, utf8Write, fill, copy, writeUInt8): no crash, slices read only zeros, no file written', async function () {
    const r = await attack('buffer-methods');
    assert.equal(r.aIntact, true, 'the file itself');
    assert.equal(r.othersIntact, true, 'the files mapped in the meantime');
    for (const [name, outcome] of Object.entries(r.results as Record<string, string>)) {
      assert.ok(['returned', 'returned zeros'].includes(outcome) || /^threw ERR_/.test(outcome), `${name}: ${outcome}`);
    }
  });

  itWhen(hasTransfer, `ArrayBuffer.prototype.transfer does not exist in Node.js ${process.version}`,
    'moved buffers (transfer(), transferToFixedLength() of buffer and of a view): read zeros after close(); never closed, they keep the file mapped after the mapping is collected', async function () {
      const r = await attack('transfer', ['--expose-gc']);
      assert.deepEqual(r, { before: [0x11, 0x11], fresh: 0x11, after: [0, 0], aIntact: true, stillFile: true });
    });

  itWhen(hasTransfer, `ArrayBuffer.prototype.transfer does not exist in Node.js ${process.version}`,
    'a moved buffer posted to a worker outlives close() and collection of the mapping: the worker reads zeros, its stores never reach the file', async function () {
      assert.deepEqual(await attack('transfer-worker', ['--expose-gc']), { seen: 0, aIntact: true });
    });

  it('readInto() whose target is a view of a read-only mapping is refused (ERR_DAX_READONLY) instead of a SIGSEGV; once closed, the range takes the copy', async function () {
    const r = await attack('readonly-target');
    assert.deepEqual(r, { outcomes: ['ERR_DAX_READONLY', 'ERR_DAX_READONLY', 'ERR_DAX_READONLY', 'ERR_DAX_READONLY', 'ERR_DAX_READONLY', 'after close: 22'], aIntact: true });
  });

  it('mappings opened and forgotten in a loop that never yields: ERR_DAX_TOO_MANY_MAPPINGS well before the process runs out of memory areas, all back once it yields; 70,000 open-use-close cycles never run out', async function () {
    const r = await attack('forget-loop', ['--expose-gc']);
    assert.deepEqual(r, {
      refusedAfterMany: true,
      refusal: { code: 'ERR_DAX_TOO_MANY_MAPPINGS', counts: true, cause: 'ERR_DAX_TOO_MANY_MAPPINGS' },
      headroomLeft: true,
      reopened: 0x11,
      cycles: 70_000,
      areasAfterCycles: true,
    });
  });

  itWhen(hasTransfer, `ArrayBuffer.prototype.transfer does not exist in Node.js ${process.version}`,
    'a worker moves a mapping\'s buffer to the main thread and exits, with the mapping closed or not: the moved buffer reads zeros, takes stores, and no other file changes', async function () {
      const r = await attack('moved-worker-teardown', ['--expose-gc']);
      assert.deepEqual(r, {
        seen: [
          { closedInWorker: false, read: 0, othersIntact: true },
          { closedInWorker: true, read: 0, othersIntact: true },
        ],
        aIntact: true,
      });
    });

  it(`20 workers that map, use a buffer, close and exit keep ${hasTransfer ? 'at most one range each (buffers can move on this Node.js: README, Lifetime)' : 'nothing (no buffer can move on this Node.js)'}`, async function () {
    const r = (await attack('worker-churn')) as { kept: number; open: number; held: number };
    // A worker whose buffer the GC collected before it exited keeps nothing;
    // how many were collected is up to V8, so on Node 22+ the bound is the test.
    assert.deepEqual({ open: r.open, held: r.held }, { open: 0, held: 0 });
    if (hasTransfer) assert.ok(r.kept >= 0 && r.kept <= 20, `kept ${r.kept} ranges for 20 workers`);
    else assert.equal(r.kept, 0);
  });

  it('40 workers terminated at random points of open(), a refused MAP_SYNC, bytes, persist() and close(): the process never aborts', async function () {
    assert.deepEqual(await attack('worker-terminate'), { exits: 40 });
  });

  it('stress: 120 mappings closed while reads, randomFill, zlib, moved buffers and a worker are in flight; no sentinel file changes, no closed file changes after close()', async function () {
    const r = await attack('stress');
    assert.deepEqual(r, { rounds: 120, closed: 120, sentinelsIntact: true, changedAfterClose: [] });
  });
});

describe('the SIGBUS guard survives other handlers', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkTempDir()));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function guard(scenario: string, execArgv: string[] = []): Promise<Record<string, unknown>> {
    // A displaced guard spins at 100% CPU forever: a timeout, not a hang.
    const r = await runFixture('sigbus-guard', [scenario, nextFile(dir)], { execArgv, timeoutMs: 20_000 });
    assert.equal(r.timedOut, false, `${scenario}: a guarded access spun under another handler`);
    assert.equal(r.signal, null, `${scenario}: died of ${r.signal}: ${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    return r.messages[0] as Record<string, unknown>;
  }

  for (const when of ['after', 'before'] as const) {
    it(`a 'SIGBUS' listener added ${when} daxkit loads, then removed: guarded accesses still throw DaxMediaError, and the listener hears kill()`, async function () {
      assert.deepEqual(await guard(`listener-${when}`), {
        withListener: 'DaxMediaError truncated in time',
        writeWithListener: 'DaxMediaError',
        listenerHeardKill: 1,
        afterRemoval: 'DaxMediaError truncated in time',
      });
    });
  }

  it('a handler installed behind the JS API (libuv directly) is put back under daxkit\'s by the watchdog; the default action put back is too', async function () {
    const r = await guard('native-handler', ['--expose-internals', '--no-warnings']);
    assert.deepEqual(r, { started: 0, underForeignHandler: 'DaxMediaError truncated in time', afterForeignRemoved: 'DaxMediaError truncated in time' });
  });
});

describe('two copies of daxkit in one process (two versions in one node_modules tree)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkTempDir()));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('guarded accesses of both fault cleanly, again and again, and a SIGBUS listener still hears kill()', function () {
    const root = path.join(__dirname, '..', '..', '..');
    const copy = path.join(dir, 'copy');
    for (const p of ['dist', 'build', 'prebuilds', 'package.json', path.join('node_modules', 'node-gyp-build')]) {
      if (fs.existsSync(path.join(root, p))) fs.cpSync(path.join(root, p), path.join(copy, p), { recursive: true });
    }
    const f = nextFile(dir);
    const script = `
      const fs = require('fs');
      const A = require(${JSON.stringify(path.join(root, 'dist', 'lib'))});
      const B = require(${JSON.stringify(path.join(copy, 'dist', 'lib'))});
      fs.writeFileSync(${JSON.stringify(f)}, Buffer.alloc(8192, 1));
      const mb = B.open(${JSON.stringify(f)});
      const ma = A.open(${JSON.stringify(f)});
      fs.truncateSync(${JSON.stringify(f)}, 0);
      let heard = 0;
      process.on('SIGBUS', () => heard++);
      const out = [];
      for (let i = 0; i < 3; i++) for (const m of [mb, ma]) { try { m.read(0, 16); out.push('read'); } catch (e) { out.push(e.fault); } }
      setTimeout(() => {
        process.kill(process.pid, 'SIGBUS');
        setTimeout(() => {
          for (const m of [mb, ma]) { try { m.read(0, 16); out.push('read'); } catch (e) { out.push(e.fault); } }
          process.stdout.write(JSON.stringify({ out, heard }));
          process.exit(0);
        }, 100);
      }, 300);`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, `died of ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { out: new Array(8).fill('truncated'), heard: 1 });
  });
});

describe('a truncated file is told from poison, also without privileges', function () {
  let dir: string;
  before(() => {
    dir = mkTempDir();
    fs.chmodSync(dir, 0o777);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  (isRoot ? it : it.skip)('as nobody (no access to /proc/self/map_files): truncated; renamed away, unknown rather than a wrong answer', function () {
    const f = path.join(dir, 'f');
    const lib = JSON.stringify(path.join(__dirname, '..', '..', 'lib'));
    const script = `
      const fs = require('fs'); const { open } = require(${lib});
      fs.writeFileSync(${JSON.stringify(f)}, Buffer.alloc(16384, 0x11));
      const m = open(${JSON.stringify(f)}); fs.truncateSync(${JSON.stringify(f)}, 4096);
      const faults = [];
      try { m.read(8192, 16); } catch (e) { faults.push(e.fault); }
      fs.renameSync(${JSON.stringify(f)}, ${JSON.stringify(f)} + '.moved');
      try { m.read(8192, 16); } catch (e) { faults.push(e.fault, /its size could not be read/.test(e.message)); }
      process.stdout.write(JSON.stringify({ uid: process.getuid(), faults }));`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { uid: 65534, faults: ['truncated', 'unknown', true] });
  });
});

describe('copies take their length from the view itself', function () {
  let dir: string;
  let m: DaxMapping;
  beforeEach(() => {
    dir = mkTempDir();
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(2 * PAGE));
    m = open(f);
  });
  afterEach(() => {
    m.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const kinds: Array<[string, (n: number) => ArrayBufferView]> = [
    ['Uint8Array', (n) => new Uint8Array(n)],
    ['Int16Array', (n) => new Int16Array(n / 2)],
    ['Uint32Array', (n) => new Uint32Array(n / 4)],
    ['Float32Array', (n) => new Float32Array(n / 4)],
    ['Float64Array', (n) => new Float64Array(n / 8)],
    ['BigUint64Array', (n) => new BigUint64Array(n / 8)],
    ['DataView', (n) => new DataView(new ArrayBuffer(n + 8), 8, n)],
  ];
  if (hasFloat16) kinds.push(['Float16Array', (n) => new (globalThis as unknown as { Float16Array: new (n: number) => ArrayBufferView }).Float16Array(n / 2)]);

  for (const [name, make] of kinds) {
    it(`${name}: write(), copyPersist() and readInto() move all of its bytes`, function () {
      const n = 512;
      const src = make(n);
      new Uint8Array(src.buffer, src.byteOffset, src.byteLength).fill(0x5a);
      m.write(0, src);
      m.copyPersist(PAGE, src);
      assert.ok(m.read(0, n).every((b) => b === 0x5a), 'write');
      assert.ok(m.read(PAGE, n).every((b) => b === 0x5a), 'copyPersist');
      assert.equal(m.read(n, 1)[0], 0, 'and not a byte more');
      const dst = make(n);
      assert.equal(m.readInto(0, dst), n);
      assert.ok(new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).every((b) => b === 0x5a), 'readInto');
    });
  }
  itWhen(hasFloat16, `Float16Array does not exist in Node.js ${process.version}`, 'Float16Array is among the types above', function () {
    assert.ok(kinds.some(([k]) => k === 'Float16Array'));
  });

  it('a byteLength redefined on the view or its prototype is not believed', function () {
    const src = new Uint8Array(16).fill(1);
    Object.defineProperty(src, 'byteLength', { value: 1 << 30 });
    m.write(0, src);
    const dst = new Uint8Array(16);
    Object.defineProperty(dst, 'byteLength', { get: () => 2 * PAGE });
    assert.equal(m.readInto(0, dst), 16);
  });
});

describe('errors that say what happened', function () {
  let dir: string;
  before(() => (dir = mkTempDir()));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function truncated(): { f: string; m: DaxMapping } {
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(4 * PAGE, 1));
    const m = open(f);
    fs.truncateSync(f, PAGE);
    return { f, m };
  }

  function media(fn: () => unknown): DaxMediaError {
    let err: unknown;
    assert.throws(fn, (e: unknown) => ((err = e), e instanceof DaxMediaError));
    return err as DaxMediaError;
  }

  it('a fault in write()\'s source inside the same mapping names the source page, not the destination', function () {
    const { f, m } = truncated();
    try {
      const e = media(() => m.write(0, m.view(2 * PAGE + 100, 100)));
      assert.equal(e.buffer, 'source');
      assert.equal(e.offset, 2 * PAGE + 100);
      assert.equal(e.fault, 'truncated');
      assert.equal(e.path, f);
      assert.match(e.message, new RegExp(`at offset ${2 * PAGE + 100} of the mapping \\(in the source buffer\\)`));
    } finally {
      m.close();
    }
  });

  it('a fault in readInto()\'s target (a view of another mapping) is said to be in the target, with that mapping and offset', function () {
    const other = truncated();
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(2 * PAGE, 3));
    const m = open(f);
    try {
      const e = media(() => m.readInto(0, other.m.view(3 * PAGE, 64)));
      assert.equal(e.buffer, 'target');
      assert.equal(e.offset, undefined);
      assert.equal(e.bufferPath, other.f);
      assert.equal(e.bufferOffset, 3 * PAGE);
      assert.equal(e.fault, 'truncated');
      assert.match(e.message, /in the target buffer: offset 12288 of the mapping of '/);
      const w = media(() => m.write(0, other.m.view(2 * PAGE, 64)));
      assert.equal(w.buffer, 'source');
      assert.equal(w.bufferOffset, 2 * PAGE);
    } finally {
      m.close();
      other.m.close();
    }
  });

  it('a fault in the mapping itself, beyond the end of a truncated file, says truncated (poison says media: test/vm/40)', function () {
    const { m } = truncated();
    try {
      const e = media(() => m.read(PAGE, 3 * PAGE));
      assert.equal(e.buffer, 'mapping');
      assert.equal(e.fault, 'truncated');
      assert.equal(e.offset, PAGE, 'the first page past the new end');
      assert.match(e.message, /^EIO: the file was truncated under the mapping: no page at offset 4096 /);
    } finally {
      m.close();
    }
  });

  it('bad arguments are coded TypeErrors and RangeErrors, whatever they are, and run no user code first', function () {
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(PAGE));
    const m = open(f);
    try {
      let valueOfCalls = 0;
      const sneaky = { valueOf: () => (valueOfCalls++, m.close(), 0) };
      const detachedAb = new ArrayBuffer(8);
      const detachedView = new Uint8Array(detachedAb);
      structuredClone(detachedAb, { transfer: [detachedAb] });
      const cases: Array<[string, () => unknown, string]> = [
        ['persist(1n)', () => m.persist(1n as unknown as number), 'ERR_INVALID_ARG_TYPE'],
        ['persist(0, 1n)', () => m.persist(0, 1n as unknown as number), 'ERR_INVALID_ARG_TYPE'],
        ['flush(1n)', () => m.flush(1n as unknown as number), 'ERR_INVALID_ARG_TYPE'],
        ['view(Symbol())', () => m.view(Symbol() as unknown as number), 'ERR_INVALID_ARG_TYPE'],
        ['view(null-prototype)', () => m.view(Object.create(null) as number), 'ERR_INVALID_ARG_TYPE'],
        ['persist(null-prototype)', () => m.persist(Object.create(null) as number), 'ERR_INVALID_ARG_TYPE'],
        ['persist(valueOf closes)', () => m.persist(sneaky as unknown as number), 'ERR_INVALID_ARG_TYPE'],
        ['view(NaN)', () => m.view(NaN), 'ERR_OUT_OF_RANGE'],
        ['read(-0.5, 1)', () => m.read(-0.5, 1), 'ERR_OUT_OF_RANGE'],
        ['read(0, 2 ** 53)', () => m.read(0, 2 ** 53), 'ERR_OUT_OF_RANGE'],
        ['readInto(0, detached view)', () => m.readInto(0, detachedView), 'ERR_INVALID_ARG_VALUE'],
        ['write(0, detached ArrayBuffer)', () => m.write(0, detachedAb), 'ERR_INVALID_ARG_VALUE'],
        ['copyPersist(0, "x")', () => m.copyPersist(0, 'x' as unknown as Uint8Array), 'ERR_INVALID_ARG_TYPE'],
      ];
      for (const [what, fn, code] of cases) {
        assert.throws(fn, (e: unknown) => {
          assert.equal((e as NodeJS.ErrnoException).code, code, `${what}: ${(e as Error).message}`);
          assert.ok(e instanceof TypeError || e instanceof RangeError, what);
          return true;
        });
      }
      assert.equal(valueOfCalls, 0, 'no valueOf() was called');
      assert.equal(m.closed, false);
    } finally {
      m.close();
    }
  });

  it('a method or getter called on something that is not a mapping throws ERR_INVALID_THIS', function () {
    const proto = DaxMapping.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const members = ['persist', 'flush', 'drain', 'deepFlush', 'read', 'readInto', 'write', 'copyPersist', 'view', 'stats', 'badRanges', 'close'];
    const getters = ['buffer', 'bytes', 'closed'];
    for (const receiver of [{}, null, 1, Object.create(DaxMapping.prototype)]) {
      for (const name of members) {
        assert.throws(() => proto[name].call(receiver, 0, 1), (e: unknown) => e instanceof TypeError && (e as NodeJS.ErrnoException).code === 'ERR_INVALID_THIS', name);
      }
      for (const name of getters) {
        const get = Object.getOwnPropertyDescriptor(DaxMapping.prototype, name)!.get!;
        assert.throws(() => get.call(receiver), (e: unknown) => e instanceof TypeError && (e as NodeJS.ErrnoException).code === 'ERR_INVALID_THIS', name);
      }
    }
  });

  it('the facts of a mapping are read-only at run time too', function () {
    const f = nextFile(dir);
    fs.writeFileSync(f, Buffer.alloc(PAGE));
    const m = open(f);
    try {
      assert.throws(() => {
        (m as unknown as { length: number }).length = 1;
      }, TypeError);
      assert.equal(m.length, PAGE);
      assert.ok(Object.isFrozen(m));
    } finally {
      m.close();
    }
  });

  it('error classes keep their name on the prototype and print it', function () {
    const e = new DaxError('ERR_DAX_CLOSED', 'x');
    assert.equal(e.name, 'DaxError');
    assert.ok(!Object.prototype.hasOwnProperty.call(e, 'name'));
    assert.match(String(e.stack), /^DaxError: x/);
  });
});

describe('open() changes nothing on disk when it throws', function () {
  let dir: string;
  beforeEach(() => (dir = mkTempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const snapshot = (d: string): string[] => fs.readdirSync(d).sort();

  it('create with sync: "required" on a path without DAX: refused, and no file is created', function () {
    const f = path.join(dir, 'new');
    assert.throws(() => open(f, { create: true, size: 64 << 20, sync: 'required' }), (e: unknown) => e instanceof DaxError && e.code === 'ERR_DAX_NOT_SUPPORTED');
    assert.deepEqual(snapshot(dir), []);
  });

  it('create with sync: "required" on an existing 3-byte file without DAX: refused, and the file keeps its size, bytes and times', function () {
    const f = path.join(dir, 'small');
    fs.writeFileSync(f, 'abc');
    const past = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(f, past, past);
    const before = fs.statSync(f);
    assert.throws(() => open(f, { create: true, size: 64 << 20, sync: 'required' }), (e: unknown) => e instanceof DaxError && e.code === 'ERR_DAX_NOT_SUPPORTED');
    const after = fs.statSync(f);
    assert.equal(after.size, 3);
    assert.equal(fs.readFileSync(f, 'utf8'), 'abc');
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.ctimeMs, before.ctimeMs);
    assert.deepEqual(snapshot(dir), ['small']);
  });

  it('a create that fails (EFBIG under RLIMIT_FSIZE) leaves no file, and an existing file its size', function () {
    const script = `
      const fs = require('fs'); const { open } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib'))});
      const out = {};
      for (const [name, pre] of [['new', null], ['old', 'abc']]) {
        const f = ${JSON.stringify(dir)} + '/' + name;
        if (pre !== null) fs.writeFileSync(f, pre);
        try { open(f, { create: true, size: 8 << 20 }); out[name] = 'opened'; } catch (e) { out[name] = e.code; }
        out[name + 'Exists'] = fs.existsSync(f);
        if (pre !== null) out[name + 'Size'] = fs.statSync(f).size;
      }
      process.stdout.write(JSON.stringify(out));`;
    const out = execFileSync('prlimit', [`--fsize=${1 << 20}`, process.execPath, '-e', script], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), { new: 'EFBIG', newExists: false, old: 'EFBIG', oldExists: true, oldSize: 3 });
  });

  (isRoot ? it : it.skip)('a create that fails with ENOSPC on a full tmpfs leaves no file (needs root to mount)', function () {
    const mnt = path.join(dir, 'mnt');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      fs.writeFileSync(path.join(mnt, 'old'), 'abc');
      assert.throws(() => open(path.join(mnt, 'new'), { create: true, size: 8 << 20 }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOSPC');
      assert.throws(() => open(path.join(mnt, 'old'), { create: true, size: 8 << 20 }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOSPC');
      assert.deepEqual(snapshot(mnt), ['old']);
      assert.equal(fs.statSync(path.join(mnt, 'old')).size, 3);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('a new file appears only once it is mapped and sized, with the mode asked for', function () {
    const f = path.join(dir, 'made');
    const m = open(f, { create: true, size: 3 * PAGE, mode: 0o640 });
    try {
      assert.equal(fs.statSync(f).size, 3 * PAGE);
      assert.equal(fs.statSync(f).mode & 0o777, 0o640 & ~process.umask());
      m.write(0, Buffer.from('x'));
      m.persist(0, 1);
      assert.equal(fs.readFileSync(f, 'latin1')[0], 'x');
    } finally {
      m.close();
    }
  });

  it('a FIFO is refused at once, read-only or not, by path or descriptor: nothing blocks', async function () {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const script = `
      const { open } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib'))});
      const out = [];
      for (const o of [{ readonly: true }, {}]) { try { open(${JSON.stringify(fifo)}, o); out.push('opened'); } catch (e) { out.push(e.code + ': ' + /it is a FIFO/.test(e.message)); } }
      const fd = require('fs').openSync(${JSON.stringify(fifo)}, 'r+');
      try { open(fd); out.push('opened'); } catch (e) { out.push(e.code + ': ' + /it is a FIFO/.test(e.message)); }
      process.stdout.write(JSON.stringify(out));`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.deepEqual(JSON.parse(out), ['ERR_INVALID_ARG_VALUE: true', 'ERR_INVALID_ARG_VALUE: true', 'ERR_INVALID_ARG_VALUE: true']);
  });
});
