// open() on regular files: page cache on ext4 and tmpfs, options, and every
// bad argument. The DAX paths (fsdax with MAP_SYNC, devdax) run in the
// emulated-pmem VM (test/vm).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { open, DaxError, DaxMapping, cpuInfo } from '../../lib';
import { assertArgError, assertSystemError, fstypeOf, isRoot, loopMount, loopMountBlocker, mkTempDir, nextFile, PAGE, MiB } from '../helpers';

interface Place {
  name: string;
  /** Why this place cannot be had here; null when it can. */
  blocker: string | null;
  /** Called from before(): returns the directory and its cleanup. */
  setup: () => { dir: string; cleanup: () => void };
}

// Regular files on ext4 (the temp dir when it is ext4, else a loop mount)
// and on tmpfs (/dev/shm).
function ext4Place(): Place {
  const tmpIsExt4 = fstypeOf(os.tmpdir()) === 'ext4';
  return {
    name: 'ext4',
    blocker: tmpIsExt4 ? null : loopMountBlocker('ext4'),
    setup: () => {
      if (tmpIsExt4) {
        const dir = mkTempDir();
        return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
      }
      return loopMount('ext4');
    },
  };
}

function tmpfsPlace(): Place {
  const ok = fs.existsSync('/dev/shm') && fstypeOf('/dev/shm') === 'tmpfs';
  return {
    name: 'tmpfs',
    blocker: ok ? null : '/dev/shm is not a tmpfs here',
    setup: () => {
      const dir = mkTempDir('/dev/shm');
      return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

for (const make of [ext4Place, tmpfsPlace]) {
  const place = make();
  describe(`open() on ${place.name} (page cache)`, function () {
    if (place.blocker !== null) {
      it(`cannot run: ${place.blocker}`);
      return;
    }
    let dir: string;
    let cleanup: (() => void) | undefined;
    before(() => ({ dir, cleanup } = place.setup()));
    after(() => cleanup?.());

    it('maps an existing file with the right properties', function () {
      const f = nextFile(dir);
      fs.writeFileSync(f, Buffer.alloc(3 * PAGE, 0x5a));
      const m = open(f);
      try {
        assert.ok(m instanceof DaxMapping);
        assert.equal(m.path, f);
        assert.equal(m.length, 3 * PAGE);
        assert.equal(m.offset, 0);
        assert.equal(m.kind, 'pagecache');
        assert.equal(m.mapSync, false);
        // tmpfs is RAM: msync makes nothing survive power loss there.
        const volatile = fstypeOf(dir) === 'tmpfs';
        assert.equal(m.granularity, volatile ? 'none' : 'page');
        assert.equal(m.flushMechanism, 'msync');
        assert.equal(m.persistence.domain, volatile ? 'none' : 'storage');
        assert.equal(m.persistence.provider, volatile ? 'tmpfs' : 'filesystem');
        assert.equal(m.readonly, false);
        assert.equal(m.closed, false);
        assert.equal(m.alignment, PAGE);
        assert.equal(m.address % BigInt(PAGE), 0n);
        assert.equal(m.bytes.length, 3 * PAGE);
        assert.equal(m.bytes[0], 0x5a);
        assert.equal(m.buffer.byteLength, 3 * PAGE);
        assert.equal(m.bytes.buffer, m.buffer, 'bytes is a view of the one buffer');
      } finally {
        m.close();
      }
    });

    it('stores through bytes are visible to fs.readFileSync, and file writes to the mapping', function () {
      const f = nextFile(dir);
      fs.writeFileSync(f, Buffer.alloc(2 * PAGE));
      const m = open(f);
      try {
        m.bytes.set(Buffer.from('hello, mapping'), 100);
        m.persist(100, 14);
        assert.equal(fs.readFileSync(f).subarray(100, 114).toString(), 'hello, mapping');
        const fd = fs.openSync(f, 'r+');
        fs.writeSync(fd, Buffer.from('from write(2)'), 0, 13, PAGE + 7);
        fs.closeSync(fd);
        assert.equal(Buffer.from(m.bytes.subarray(PAGE + 7, PAGE + 20)).toString(), 'from write(2)');
      } finally {
        m.close();
      }
    });

    it('create: true creates and zero-fills a file of offset + size bytes', function () {
      const f = nextFile(dir);
      const m = open(f, { size: 64 * 1024, create: true });
      try {
        assert.equal(fs.statSync(f).size, 64 * 1024);
        assert.ok(m.bytes.every((b) => b === 0));
      } finally {
        m.close();
      }
      const g = nextFile(dir);
      const m2 = open(g, { size: PAGE, offset: 2 * PAGE, create: true });
      m2.close();
      assert.equal(fs.statSync(g).size, 3 * PAGE);
    });

    it('create: true extends a shorter file and keeps its data; never shrinks a longer one', function () {
      const f = nextFile(dir);
      fs.writeFileSync(f, 'keep me');
      open(f, { size: 4 * PAGE, create: true }).close();
      assert.equal(fs.statSync(f).size, 4 * PAGE);
      assert.equal(fs.readFileSync(f).subarray(0, 7).toString(), 'keep me');
      const m = open(f, { size: PAGE, create: true });
      assert.equal(m.length, PAGE);
      m.close();
      assert.equal(fs.statSync(f).size, 4 * PAGE);
    });

    it('create: true applies the mode option to a new file', function () {
      const f = nextFile(dir);
      const old = process.umask(0);
      try {
        open(f, { size: PAGE, create: true, mode: 0o640 }).close();
      } finally {
        process.umask(old);
      }
      assert.equal(fs.statSync(f).mode & 0o777, 0o640);
    });

    it('maps a window at a page-aligned offset', function () {
      const f = nextFile(dir);
      const data = Buffer.alloc(4 * PAGE);
      for (let i = 0; i < 4; i++) data.fill(i + 1, i * PAGE, (i + 1) * PAGE);
      fs.writeFileSync(f, data);
      const m = open(f, { offset: 2 * PAGE });
      assert.equal(m.length, 2 * PAGE);
      assert.equal(m.offset, 2 * PAGE);
      assert.equal(m.bytes[0], 3);
      assert.equal(m.bytes[PAGE], 4);
      m.close();
      const n = open(f, { offset: PAGE, size: PAGE });
      assert.equal(n.length, PAGE);
      assert.equal(n.bytes[0], 2);
      n.close();
    });

    it('places mappings of 2 MiB and more at a 2 MiB-aligned address', function () {
      const f = nextFile(dir);
      const m = open(f, { size: 4 * MiB, create: true });
      try {
        assert.equal(m.alignment, 2 * MiB);
        assert.equal(m.address % BigInt(2 * MiB), 0n);
      } finally {
        m.close();
      }
      // With an offset, the address keeps the offset's phase (so huge-page
      // faults stay possible): address = offset (mod 2 MiB).
      const g = open(f, { offset: 3 * PAGE, size: 2 * MiB });
      try {
        assert.equal(g.address % BigInt(2 * MiB), BigInt(3 * PAGE));
      } finally {
        g.close();
      }
    });

    it('readonly: maps PROT_READ, write() and copyPersist() throw ERR_DAX_READONLY, persist() is a no-op', function () {
      const f = nextFile(dir);
      fs.writeFileSync(f, Buffer.alloc(PAGE, 9));
      fs.chmodSync(f, 0o444);
      const m = open(f, { readonly: true });
      try {
        assert.equal(m.readonly, true);
        assert.equal(m.flushMechanism, 'none');
        assert.equal(m.bytes[10], 9);
        assert.equal(m.read(0, 4).toString('hex'), '09090909');
        for (const fn of [() => m.write(0, Buffer.from('x')), () => m.copyPersist(0, Buffer.from('x'))]) {
          assert.throws(fn, (e: unknown) => e instanceof DaxError && e.code === 'ERR_DAX_READONLY' && e.path === f);
        }
        m.persist();
        m.flush();
        m.drain();
      } finally {
        m.close();
      }
    });

    it("sync: 'auto' falls back to MAP_SHARED, 'off' never asks for MAP_SYNC", function () {
      const f = nextFile(dir);
      fs.writeFileSync(f, Buffer.alloc(PAGE));
      for (const sync of ['auto', 'off'] as const) {
        const m = open(f, { sync });
        assert.equal(m.mapSync, false);
        assert.equal(m.kind, 'pagecache');
        m.close();
      }
    });

    it(`sync: 'required' throws ERR_DAX_NOT_SUPPORTED with the reason (${place.name} has no DAX)`, function () {
      const f = nextFile(dir);
      fs.writeFileSync(f, Buffer.alloc(PAGE));
      assert.throws(
        () => open(f, { sync: 'required' }),
        (e: unknown) => {
          assert.ok(e instanceof DaxError);
          assert.equal(e.code, 'ERR_DAX_NOT_SUPPORTED');
          assert.equal(e.path, f);
          assert.match(e.reason ?? '', /^not on a DAX mount: /);
          // tmpfs has no DAX at all; an ext4 here sits on a disk (or loop
          // device) without DAX support.
          const why = place.name === 'tmpfs' ? `${f} is on tmpfs \\(mounted at .*\\), which has no DAX support` : 'the device .* does not support DAX \\(it is not persistent memory\\)';
          assert.match(e.message, new RegExp(`^MAP_SYNC is not available for '${f}': not on a DAX mount: ${why}$`));
          return true;
        },
      );
    });

    it('maps an already open file descriptor without closing it', function () {
      const f = nextFile(dir);
      fs.writeFileSync(f, Buffer.alloc(PAGE, 3));
      const fd = fs.openSync(f, 'r+');
      try {
        const m = open(fd);
        assert.equal(m.path, fs.realpathSync(f));
        assert.equal(m.bytes[0], 3);
        m.close();
        assert.equal(fs.fstatSync(fd).size, PAGE, 'the descriptor is still open');
      } finally {
        fs.closeSync(fd);
      }
    });

    it('mmap errors carry the fs error contract (EACCES from a read-only descriptor)', function () {
      const f = nextFile(dir);
      fs.writeFileSync(f, Buffer.alloc(PAGE));
      const fd = fs.openSync(f, 'r');
      try {
        assert.throws(
          () => open(fd),
          (e: unknown) => {
            assertSystemError(e, { code: 'EACCES', errno: -13, syscall: 'mmap', path: fs.realpathSync(f) });
            return true;
          },
        );
        open(fd, { readonly: true }).close();
      } finally {
        fs.closeSync(fd);
      }
    });
  });
}

describe('open(): bad arguments', function () {
  let dir: string;
  let file: string;
  before(() => {
    dir = mkTempDir();
    file = path.join(dir, 'f');
    fs.writeFileSync(file, Buffer.alloc(4 * PAGE));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('target must be a string or a descriptor', function () {
    for (const t of [undefined, null, {}, Buffer.from('x'), 1.5, -1, true]) {
      const isNum = typeof t === 'number';
      assertArgError(() => open(t as never), isNum ? RangeError : TypeError, isNum ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE', /"target"/);
    }
    assertArgError(() => open(''), TypeError, 'ERR_INVALID_ARG_VALUE', /'target' must be a non-empty string/);
    assertArgError(() => open('a\0b'), TypeError, 'ERR_INVALID_ARG_VALUE', /null bytes/);
  });

  it('a directory, a FIFO and a non-dax character device are refused', function () {
    assertArgError(() => open(dir), TypeError, 'ERR_INVALID_ARG_VALUE', /'target' must be a regular file or a devdax character device, not a directory/);
    assertArgError(() => open(dir, { readonly: true }), TypeError, 'ERR_INVALID_ARG_VALUE', /not a directory/);
    assertArgError(() => open('/dev/null'), TypeError, 'ERR_INVALID_ARG_VALUE', /1:3 is a character device of the 'mem' subsystem/);
  });

  it('options must be an object of known options', function () {
    assertArgError(() => open(file, 5 as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"options" argument must be of type object/);
    assertArgError(() => open(file, { readOnly: true } as never), TypeError, 'ERR_INVALID_ARG_VALUE', /'options.readOnly' is not an option; did you mean 'readonly'\?/);
    assertArgError(() => open(file, { sync: 'yes' } as never), TypeError, 'ERR_INVALID_ARG_VALUE', /'options.sync' must be one of: 'auto', 'required', 'off'/);
    assertArgError(() => open(file, { readonly: 1 } as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"options.readonly" argument must be of type boolean/);
    assertArgError(() => open(file, { create: 'y' } as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"options.create"/);
  });

  it('size: a positive safe integer within the file', function () {
    assertArgError(() => open(file, { size: 0 }), RangeError, 'ERR_OUT_OF_RANGE', /"options.size" is out of range. It must be >= 1/);
    assertArgError(() => open(file, { size: -4096 }), RangeError, 'ERR_OUT_OF_RANGE', /"options.size"/);
    assertArgError(() => open(file, { size: 1.5 }), RangeError, 'ERR_OUT_OF_RANGE', /"options.size" is out of range. It must be an integer/);
    assertArgError(() => open(file, { size: 2 ** 53 }), RangeError, 'ERR_OUT_OF_RANGE', /It must be >= 1 && <= 2\^53 - 1/);
    assertArgError(() => open(file, { size: '4096' } as never), TypeError, 'ERR_INVALID_ARG_TYPE', /"options.size" argument must be of type number/);
    assertArgError(() => open(file, { size: 5 * PAGE }), RangeError, 'ERR_OUT_OF_RANGE', /the file is 16384 bytes; pass create: true to extend it/);
    assertArgError(() => open(file, { offset: PAGE, size: 4 * PAGE }), RangeError, 'ERR_OUT_OF_RANGE', /<= 12288/);
    assertArgError(() => open(file, { offset: 2 ** 52, size: 2 ** 52 }), RangeError, 'ERR_OUT_OF_RANGE', /beyond 2\^53/);
  });

  it('offset: a page-aligned safe integer inside the file', function () {
    assertArgError(() => open(file, { offset: 100 }), RangeError, 'ERR_OUT_OF_RANGE', /"options.offset" is out of range. It must be a multiple of the page size \(4096\). Received 100/);
    assertArgError(() => open(file, { offset: -4096 }), RangeError, 'ERR_OUT_OF_RANGE', /"options.offset"/);
    assertArgError(() => open(file, { offset: 0.5 }), RangeError, 'ERR_OUT_OF_RANGE', /an integer/);
    assertArgError(() => open(file, { offset: 4 * PAGE }), RangeError, 'ERR_OUT_OF_RANGE', /< the file size \(16384\)/);
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    assertArgError(() => open(empty), RangeError, 'ERR_OUT_OF_RANGE', /the file is empty \(pass size with create: true\)/);
  });

  it('create needs a size and excludes readonly', function () {
    assertArgError(() => open(path.join(dir, 'new'), { create: true }), TypeError, 'ERR_INVALID_ARG_VALUE', /'options.size' is required with create: true/);
    assertArgError(() => open(file, { create: true, size: PAGE, readonly: true }), TypeError, 'ERR_INVALID_ARG_VALUE', /cannot be combined with readonly/);
    assert.equal(fs.existsSync(path.join(dir, 'new')), false);
  });

  it('missing files and denied access are node:fs open errors', function () {
    const missing = path.join(dir, 'missing');
    assert.throws(() => open(missing), (e: unknown) => {
      assertSystemError(e, { code: 'ENOENT', errno: -2, syscall: 'open', path: missing });
      return true;
    });
    // A file its opener may not write: root may write anything, so as root the
    // opener is a child running as nobody (65534), in a directory it may search.
    const denied = path.join(dir, 'denied');
    fs.writeFileSync(denied, Buffer.alloc(PAGE), { mode: 0o600 });
    fs.chmodSync(denied, isRoot ? 0o600 : 0o000);
    if (!isRoot) {
      assert.throws(() => open(denied), (e: unknown) => {
        assertSystemError(e, { code: 'EACCES', errno: -13, syscall: 'open', path: denied });
        return true;
      });
      return;
    }
    fs.chmodSync(dir, 0o755);
    const script = `try { require(process.argv[1]).open(process.argv[2]); console.log('opened'); } catch (e) { console.log(JSON.stringify({ name: e.constructor.name, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['-e', script, path.join(__dirname, '..', '..', 'lib'), denied], { uid: 65534, gid: 65534, encoding: 'utf8' });
    if (r.status !== 0 || r.stdout === '') {
      if (this.test) this.test.title += ` [pending: a child as uid 65534 cannot run daxkit from here: ${(r.error?.message ?? r.stderr).split('\n')[0]}]`;
      this.skip();
    }
    const e = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(e, { name: 'DaxSystemError', code: 'EACCES', errno: -13, syscall: 'open', path: denied, message: `EACCES: permission denied, open '${denied}'` });
  });
});

describe('cpuInfo()', function () {
  it('reports the flush instruction daxkit picked from CPUID', function () {
    const c = cpuInfo();
    const flags = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
    const has = (f: string): boolean => new RegExp(`\\b${f}\\b`).test(flags);
    assert.equal(c.clwb, has('clwb'));
    assert.equal(c.clflushopt, has('clflushopt'));
    assert.equal(c.clflush, has('clflush'));
    // DAXKIT_NO_CLWB / DAXKIT_NO_CLFLUSHOPT (set, non-empty and not "0") pass over an instruction.
    const off = (name: string): boolean => (process.env[name] ?? '') !== '' && process.env[name] !== '0';
    const best = c.clwb && !off('DAXKIT_NO_CLWB') ? 'clwb' : c.clflushopt && !off('DAXKIT_NO_CLFLUSHOPT') ? 'clflushopt' : c.clflush ? 'clflush' : 'none';
    assert.equal(c.flush, best);
    assert.equal(c.lineSize, 64);
    assert.equal(c.pageSize, PAGE);
  });
});
