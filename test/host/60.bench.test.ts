// daxkit bench: the harness's logic on small sizes. Nothing here asserts a
// speed: the checks are that arguments are handled, that every backend really
// moves the bytes it claims, that the JSON keeps its (fio) field names, and
// that the HTML page is valid and self-contained. The DAX paths (MAP_SYNC,
// devdax, huge-page faults) are in test/vm/60.bench.test.ts.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from '../../lib/errors';
import { BACKEND_IDS, BACKENDS, createBackend, notApplicable, Skip, type BackendId, type Instance } from '../../lib/bench/backends';
import { answersOf, fasterOrSlower } from '../../lib/bench/answer';
import { parseOptions } from '../../lib/bench/options';
import { Cursor, fillPattern, payload, RANDOM_TABLE, scanF64 } from '../../lib/bench/pattern';
import { PERCENTILES, SCHEMA, type BenchDocument, type JobReport } from '../../lib/bench/report';
import { ciOfMeans, Histogram, Moments } from '../../lib/bench/stats';
import { findHostDax, locate, prepare, RefusedError } from '../../lib/bench/target';
import { fmtRatio } from '../../lib/bench/units';
import { runFio } from '../../lib/bench/fio';
import { commandExists, mkTempDir } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
const KiB = 1024;
const MiB = 1024 * KiB;
// The cheapest run that still goes through the whole pipeline.
const FAST = ['--time', '0.05', '--warmup', '0.02'];

function bench(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'bench', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1', ...env }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes `size` bytes of the benchmark's pattern to a new file. */
function patternFile(p: string, size: number, seed = 1): void {
  const b = new Uint8Array(size);
  fillPattern(b, 0, seed);
  fs.writeFileSync(p, b);
}

function throwsUsage(argv: string[], re: RegExp): void {
  assert.throws(
    () => parseOptions(argv),
    (e: unknown) => e instanceof UsageError && re.test((e as Error).message),
    `${argv.join(' ')} should be a usage error matching ${re}`,
  );
}

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

/**
 * A strict check of markup: every tag is well-formed with quoted attribute
 * values, closes in order (HTML void elements apart, unless xml), text holds
 * no bare '<' and no '&' that is not an entity. Returns the element names
 * in order of appearance.
 */
function checkMarkup(src: string, xml: boolean): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  let i = 0;
  const text = (t: string, at: number): void => {
    const bad = /&(?!(?:amp|lt|gt|quot|#39|#\d+|#x[0-9a-f]+);)/i.exec(t);
    if (bad) throw new Error(`an unescaped '&' at ${at + bad.index}: ${t.slice(bad.index, bad.index + 20)}`);
  };
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    text(src.slice(i, lt < 0 ? src.length : lt), i);
    if (lt < 0) break;
    if (src.startsWith('<!--', lt)) {
      i = src.indexOf('-->', lt) + 3;
      continue;
    }
    if (/^<!doctype html>/i.test(src.slice(lt, lt + 15))) {
      i = lt + 15;
      continue;
    }
    const m = /^<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+(?:="[^"<]*")?)*)\s*(\/?)>/.exec(src.slice(lt));
    if (m === null) throw new Error(`malformed markup at ${lt}: ${JSON.stringify(src.slice(lt, lt + 60))}`);
    const [all, close, name, attrs, self] = m;
    text(attrs, lt);
    i = lt + all.length;
    if (close) {
      const top = stack.pop();
      if (top !== name) throw new Error(`</${name}> at ${lt} closes <${top}>`);
    } else if (!self && !(!xml && VOID.has(name.toLowerCase()))) {
      stack.push(name);
      names.push(name);
      if (!xml && name === 'style') {
        const end = src.indexOf('</style>', i);
        if (end < 0) throw new Error('<style> is never closed');
        i = end;
      }
    } else {
      names.push(name);
    }
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(' > ')}`);
  return names;
}

describe('daxkit bench', function () {
  this.timeout(120_000);

  describe('arguments', function () {
    it('by default, the quick set: 64 B, 4 KiB and 1 MiB, sequential, the durable writes and reads against the page cache, no fio, calibration or fault count, warm caches', function () {
      const o = parseOptions([]);
      assert.equal(o.full, false);
      assert.deepEqual(o.bs, [64, 4 * KiB, MiB]);
      assert.deepEqual(o.patterns, ['seq']);
      assert.deepEqual(o.backends, ['mmap-read', 'pread', 'mmap-persist', 'copy-persist', 'pwrite-fdatasync']);
      assert.deepEqual(o.baselineBackends, ['pread', 'pwrite-fdatasync']);
      assert.equal(o.size, 64 * MiB);
      assert.equal(o.timeMs, 2000);
      assert.equal(o.ci, 0.01);
      assert.equal(o.rounds, 1);
      assert.equal(o.target, null);
      assert.equal(o.yes, false);
      assert.deepEqual([o.fio, o.calibrate, o.faults, o.dropCaches], [false, false, false, false]);
    });

    it('--full: 64 B to 1 MiB, both patterns, every backend, 256 MiB, fio, calibration and faults; --no-X and --X override either set', function () {
      const o = parseOptions(['--full']);
      assert.equal(o.full, true);
      assert.deepEqual(o.bs, [64, 4 * KiB, 64 * KiB, MiB]);
      assert.deepEqual(o.patterns, ['seq', 'rand']);
      assert.deepEqual(o.backends, [...BACKEND_IDS]);
      assert.deepEqual(o.baselineBackends, ['pread', 'pwrite-fdatasync', 'mmap-scan', 'mmap-persist']);
      assert.equal(o.size, 256 * MiB);
      assert.deepEqual([o.fio, o.calibrate, o.faults, o.dropCaches], [true, true, true, false]);
      const n = parseOptions(['--full', '--no-fio', '--no-calibrate', '--no-faults', '--drop-caches']);
      assert.deepEqual([n.fio, n.calibrate, n.faults, n.dropCaches], [false, false, false, true]);
      const q = parseOptions(['--fio', '--calibrate', '--faults']);
      assert.deepEqual([q.full, q.fio, q.calibrate, q.faults], [false, true, true, true]);
      assert.deepEqual(q.bs, [64, 4 * KiB, MiB]);
    });

    it('parses sizes, lists and numbers the way fio writes them', function () {
      const o = parseOptions(['/mnt/pmem', '--size', '64M', '--bs', '1m,4KiB,64,4k', '--pattern', 'random', '--backend', 'pread,mmap-scan', '--time', '0.5', '--ci', '2%', '--rounds', '3', '-y', '--baseline', 'none']);
      assert.equal(o.target, '/mnt/pmem');
      assert.equal(o.size, 64 * MiB);
      assert.deepEqual(o.bs, [64, 4 * KiB, MiB]);
      assert.deepEqual(o.patterns, ['rand']);
      assert.deepEqual(o.backends, ['pread', 'mmap-scan']);
      assert.equal(o.timeMs, 500);
      assert.equal(o.ci, 0.02);
      assert.equal(o.rounds, 3);
      assert.equal(o.yes, true);
      assert.equal(o.baseline, null);
    });

    it('rejects every bad value with a UsageError naming the option', function () {
      throwsUsage(['--bs', '100'], /--bs .*multiples of 64/);
      throwsUsage(['--bs', '4q'], /--bs must be a size/);
      throwsUsage(['--bs', ''], /--bs needs at least one value/);
      throwsUsage(['--size', '1500k'], /--size must be a whole number of MiB/);
      throwsUsage(['--size', '0'], /--size must be a positive size/);
      throwsUsage(['--size', '1M', '--bs', '2m'], /larger than the working set/);
      throwsUsage(['--pattern', 'zigzag'], /--pattern takes seq and rand/);
      throwsUsage(['--backend', 'mmap-teleport'], /unknown backend 'mmap-teleport'/);
      throwsUsage(['--time', '0'], /--time must be a number of seconds/);
      throwsUsage(['--time', 'soon'], /--time/);
      throwsUsage(['--ci', '0'], /--ci is a percentage/);
      throwsUsage(['--rounds', '1.5'], /--rounds must be an integer/);
      throwsUsage(['--frobnicate'], /Unknown option '--frobnicate'/);
      throwsUsage(['a', 'b'], /one target at a time/);
      throwsUsage(['--compare', 'a.json'], /--compare needs two JSON files/);
      throwsUsage(['--report', 'x.json', '/tmp'], /takes no TARGET/);
      throwsUsage(['--html', ''], /--html needs a file name/);
      throwsUsage(['--fio', '--no-fio'], /--fio and --no-fio do not go together/);
      throwsUsage(['--no-drop-caches'], /Unknown option '--no-drop-caches'/);
    });

    it('usage errors exit with 2 and a message on stderr; --help exits 0', function () {
      // (A TARGET that does not exist is an error, 1, not a usage error: see 'safety and target choice'.)
      for (const args of [['--bs', '3'], ['--nope']]) {
        const r = bench(args);
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /^daxkit: /);
        assert.equal(r.stdout, '');
      }
      const h = bench(['--help']);
      assert.equal(h.status, 0);
      assert.match(h.stdout, /^Usage: daxkit bench \[TARGET\]/);
      // The script's `node` is a PATH lookup: put the Node.js under test first.
      const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
      const viaNpmScript = spawnSync('npm', ['run', '--silent', 'bench', '--', '--bs', 'x'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH } });
      assert.equal(viaNpmScript.status, 2);
      assert.match(viaNpmScript.stderr, /--bs must be a size/);
    });
  });

  describe('statistics', function () {
    it('the histogram gives percentiles within a bucket of the exact ones, and merges', function () {
      const xs: number[] = [];
      let a = 12345;
      for (let i = 0; i < 20000; i++) {
        a = (a * 1103515245 + 12345) % 2 ** 31;
        xs.push(50 + (a % 100000) * (i % 7 === 0 ? 30 : 1));
      }
      const h1 = new Histogram();
      const h2 = new Histogram();
      xs.forEach((x, i) => (i % 2 ? h1 : h2).record(x));
      const h = Histogram.from(h1.toJSON());
      h.merge(h2.toJSON());
      const sorted = [...xs].sort((p, q) => p - q);
      for (const p of [50, 99, 99.9]) {
        const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1];
        assert.ok(Math.abs(h.percentile(p) / exact - 1) < 0.006, `p${p}: ${h.percentile(p)} vs ${exact}`);
      }
      assert.equal(h.n, xs.length);
      assert.equal(h.max, sorted[sorted.length - 1]);
      assert.equal(h.min, sorted[0]);
      assert.ok(Math.abs(h.mean - xs.reduce((s, x) => s + x, 0) / xs.length) < 1e-6 * h.mean);
    });

    it('merged moments equal the moments of all samples; the CI of a few means needs three', function () {
      const a = new Moments();
      const b = new Moments();
      const all = new Moments();
      for (let i = 0; i < 1000; i++) {
        const x = Math.sin(i) * 10 + 100;
        (i < 300 ? a : b).add(x);
        all.add(x);
      }
      a.merge(b.toJSON());
      assert.equal(a.n, all.n);
      assert.ok(Math.abs(a.mean - all.mean) < 1e-9);
      assert.ok(Math.abs(a.sd - all.sd) < 1e-9);
      assert.equal(ciOfMeans([1, 2]), null);
      // mean 2, sd 1, n 3: t(2) = 4.303.
      assert.ok(Math.abs(ciOfMeans([1, 2, 3])! - (4.303 / Math.sqrt(3)) / 2) < 1e-9);
    });
  });

  describe('data pattern', function () {
    it('is the same bytes however it is made, finite doubles in [1, 2) with a stamp per line', function () {
      const whole = new Uint8Array(3 * MiB);
      fillPattern(whole, 0, 9);
      const part = new Uint8Array(64 * KiB);
      fillPattern(part, MiB - 32 * KiB, 9);
      assert.deepEqual(part, whole.subarray(MiB - 32 * KiB, MiB + 32 * KiB));
      const f = new Float64Array(whole.buffer);
      for (let i = 0; i < f.length; i++) {
        if (i % 8 === 0) assert.equal(f[i], i / 8 + 1);
        else assert.ok(f[i] >= 1 && f[i] < 2, `word ${i} is ${f[i]}`);
      }
      const other = new Uint8Array(64);
      fillPattern(other, 0, 10);
      assert.notDeepEqual(other, whole.subarray(0, 64));
    });

    it('scanF64 is the plain sum, and differs between blocks', function () {
      const b = new Uint8Array(8 * KiB);
      fillPattern(b, 0, 3);
      const f = new Float64Array(b.buffer);
      let s = 0;
      for (let i = 512; i < 1024; i++) s += f[i];
      assert.ok(Math.abs(scanF64(f, 512, 1024) - s) < 1e-9 * s);
      assert.notEqual(scanF64(f, 0, 512), scanF64(f, 512, 1024));
    });

    it('the cursor visits blocks in order, or uniformly at random from a seeded table', function () {
      const seq = new Cursor(5, false, 1);
      assert.deepEqual(Array.from({ length: 12 }, () => seq.next()), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
      const r1 = new Cursor(1000, true, 7);
      const r2 = new Cursor(1000, true, 7);
      const xs = Array.from({ length: 5000 }, () => r1.next());
      assert.deepEqual(xs.slice(0, 50), Array.from({ length: 50 }, () => r2.next()));
      assert.ok(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 1000));
      assert.ok(new Set(xs).size > 900, 'most blocks are visited');
      assert.deepEqual(new Cursor(1000, true, 7).firstBlocks(3), xs.slice(0, 3));
      assert.ok(RANDOM_TABLE >= 1 << 16);
    });
  });

  describe('every backend moves the bytes it claims', function () {
    let dir: string;
    const size = 2 * MiB;
    const bs = 4 * KiB;
    before(() => {
      dir = mkTempDir();
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    function make(id: BackendId, file: string, random = false): { inst: Instance | null; skip: string | null; cursor: Cursor } {
      const cursor = new Cursor(size / bs, random, 5);
      try {
        return { inst: createBackend(id, { target: { path: file, kind: 'pagecache', size }, bs, cursor, seed: 5, alignedDir: dir }), skip: null, cursor };
      } catch (e) {
        if (e instanceof Skip) return { inst: null, skip: e.message, cursor };
        throw e;
      }
    }

    for (const id of BACKEND_IDS) {
      it(`${id} (${BACKENDS[id].dir})`, function () {
        const file = path.join(dir, `${id}.dat`);
        patternFile(file, size);
        const before = fs.readFileSync(file);
        const { inst, skip, cursor } = make(id, file, BACKENDS[id].dir === 'read');
        if (notApplicable(id, 'pagecache') !== null) {
          assert.equal(inst, null);
          assert.equal(skip, notApplicable(id, 'pagecache'));
          return;
        }
        if (inst === null) {
          // Only O_DIRECT may be refused, and only with the reason.
          assert.match(id, /^odirect-/);
          assert.match(skip!, /O_DIRECT/);
          return;
        }
        try {
          inst.prefault();
          const k = 40;
          const blocks = cursor.firstBlocks(k);
          inst.run(k);
          const v = inst.verify();
          assert.equal(v.ok, true, v.detail);
          assert.ok(v.blocks > 0);
          if (BACKENDS[id].dir === 'read') {
            // The sink depends on every block read: recompute it from the file.
            const f = new Float64Array(before.buffer, before.byteOffset, before.length / 8);
            const expect = blocks.reduce((s, b) => s + (id === 'mmap-scan' ? scanF64(f, (b * bs) / 8, ((b + 1) * bs) / 8) : before[b * bs]), 0);
            assert.equal(inst.sink(), expect);
            assert.deepEqual(fs.readFileSync(file), before, 'reading changed nothing');
          } else {
            // Each written block holds the payload with the stamp of its last write.
            const after = fs.readFileSync(file);
            const want = Buffer.from(payload(bs, 5));
            const stamp = new Float64Array(want.buffer, want.byteOffset, 1);
            const last = new Map<number, number>();
            blocks.forEach((b, i) => last.set(b, i + 1));
            for (const [b, s] of last) {
              stamp[0] = s;
              assert.deepEqual(after.subarray(b * bs, (b + 1) * bs), want, `block ${b}, write #${s}`);
            }
            for (let b = 0; b < size / bs; b++) {
              if (!last.has(b)) assert.deepEqual(after.subarray(b * bs, (b + 1) * bs), before.subarray(b * bs, (b + 1) * bs), `block ${b} was not written`);
            }
          }
        } finally {
          inst.close();
        }
      });
    }

    it('verification fails when the bytes are not there', function () {
      const file = path.join(dir, 'corrupt.dat');
      patternFile(file, size);
      const w = make('pwrite-fdatasync', file);
      try {
        w.inst!.run(8);
        // Someone else overwrites the last block written.
        const last = w.cursor.firstBlocks(8)[7];
        const fd = fs.openSync(file, 'r+');
        fs.writeSync(fd, Buffer.alloc(bs), 0, bs, last * bs);
        fs.closeSync(fd);
        const v = w.inst!.verify();
        assert.equal(v.ok, false);
        assert.match(v.detail, new RegExp(`block ${last} does not hold write #8`));
      } finally {
        w.inst!.close();
      }
      fs.writeFileSync(file, Buffer.alloc(size));
      const r = make('mmap-scan', file);
      try {
        const v = r.inst!.verify();
        assert.equal(v.ok, false);
        assert.match(v.detail, /reads as zeros/);
      } finally {
        r.inst!.close();
      }
    });
  });

  describe('a whole run (small)', function () {
    let dir: string;
    let doc: BenchDocument;
    let table: string;
    let html: string;
    let svg: string;
    let status: number | null;
    let stderr: string;
    const haveFio = commandExists('fio');

    before(function () {
      dir = mkTempDir();
      const out = path.join(dir, 'out');
      fs.mkdirSync(out);
      const work = path.join(dir, 'work');
      fs.mkdirSync(work);
      const r = bench([work, '--full', '--size', '2M', '--bs', '4k', '--pattern', 'seq', ...FAST, '--output', path.join(out, 'a.json'), '--html', path.join(out, 'a.html'), '--svg', path.join(out, 'a.svg')]);
      status = r.status;
      stderr = r.stderr;
      table = r.stdout;
      doc = JSON.parse(fs.readFileSync(path.join(out, 'a.json'), 'utf8')) as BenchDocument;
      html = fs.readFileSync(path.join(out, 'a.html'), 'utf8');
      svg = fs.readFileSync(path.join(out, 'a.svg'), 'utf8');
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('exits 0, and removes the file it made in the directory', function () {
      assert.equal(status, 0, stderr);
      assert.deepEqual(fs.readdirSync(path.join(dir, 'work')), []);
      assert.doesNotMatch(stderr, /failed/);
    });

    it('the JSON document keeps its field names (fio\'s for the figures)', function () {
      const keys = (o: object): string[] => Object.keys(o).sort();
      assert.deepEqual(keys(doc), ['command', 'daxkit_version', 'failures', 'host', 'runs', 'schema', 'time', 'timestamp'].sort());
      assert.equal(doc.schema, SCHEMA);
      assert.equal(doc.runs.length, 1);
      const run = doc.runs[0];
      assert.deepEqual(keys(run), ['answer', 'baseline', 'calibration', 'context', 'fio', 'jobs', 'label', 'notes', 'options', 'page_cache', 'page_faults', 'target'].sort());
      assert.deepEqual(keys(run.page_cache), ['detail', 'dropped', 'scope', 'warm']);
      assert.deepEqual(keys(run.context), ['clocksource', 'cpu', 'cpu_during_run', 'daxkit_version', 'date', 'fio', 'kernel', 'kernel_version', 'loadavg', 'memory_bytes', 'node', 'root', 'transparent_hugepage', 'vm'].sort());
      assert.deepEqual(keys(run.target), ['data', 'device', 'extents', 'fs', 'kind', 'mapping', 'odirect', 'path', 'role', 'size'].sort());
      assert.deepEqual(keys(run.target.mapping), ['address', 'address_2m_aligned', 'alignment', 'flush_mechanism', 'granularity', 'map_sync'].sort());
      const ok = run.jobs.filter((j) => j.status === 'ok');
      assert.ok(ok.length >= 6, `${ok.length} jobs ran`);
      for (const j of ok) {
        assert.deepEqual(keys(j), ['backend', 'bs', 'faults', 'jobname', 'mechanism', 'op', 'pattern', 'persistence', 'read', 'role', 'rw', 'sampling', 'status', 'uncertain', 'verify', 'vs_baseline', 'write'].sort(), j.jobname);
        for (const dir of ['read', 'write'] as const) {
          assert.deepEqual(keys(j[dir]), ['bw', 'bw_bytes', 'io_bytes', 'io_kbytes', 'iops', 'lat_ns', 'runtime', 'total_ios'].sort());
          assert.deepEqual(keys(j[dir].lat_ns), ['N', 'max', 'mean', 'min', 'percentile', 'stddev'].sort());
          assert.deepEqual(Object.keys(j[dir].lat_ns.percentile), [...PERCENTILES]);
        }
        assert.deepEqual(keys(j.sampling!), ['batch', 'ci_between_rounds', 'ci_level', 'ci_reached', 'ci_target', 'elapsed_ms', 'lat_mode', 'rounds', 'round_bw_bytes', 'samples', 'stopped_by', 'timer_overhead_ns', 'warmup_ms'].sort());
      }
    });

    it('every job moved and verified its bytes, and its figures agree with each other', function () {
      const run = doc.runs[0];
      for (const j of run.jobs) {
        if (j.status !== 'ok') {
          assert.equal(j.status, 'skipped', `${j.jobname}: ${j.reason}`);
          assert.ok(j.reason && j.reason.length > 10);
          continue;
        }
        assert.equal(j.verify!.ok, true, `${j.jobname}: ${j.verify!.detail}`);
        const dir = BACKENDS[j.backend].dir;
        const io = j[dir];
        const other = j[dir === 'read' ? 'write' : 'read'];
        assert.equal(j.rw, dir === 'read' ? 'read' : 'write');
        assert.equal(other.total_ios, 0);
        assert.ok(io.total_ios > 0 && io.runtime > 0);
        assert.equal(io.io_bytes, io.total_ios * j.bs);
        assert.ok(Math.abs(io.bw_bytes - io.io_bytes / (io.runtime / 1000)) < 1e-6 * io.bw_bytes);
        assert.equal(io.bw, Math.round(io.bw_bytes / 1024), 'bw is KiB/s');
        assert.ok(Math.abs(io.iops - io.total_ios / (io.runtime / 1000)) < 1e-6 * io.iops);
        const p = io.lat_ns.percentile;
        assert.ok(io.lat_ns.min <= p['50.000000'] && p['50.000000'] <= p['99.000000'] && p['99.000000'] <= p['99.900000'] && p['99.900000'] <= io.lat_ns.max, JSON.stringify(io.lat_ns));
        assert.ok(io.lat_ns.N > 0);
        assert.ok(['op', 'batch'].includes(j.sampling!.lat_mode));
        assert.ok(j.sampling!.timer_overhead_ns > 0);
      }
      const pread = run.jobs.find((j) => j.backend === 'pread')!;
      assert.equal(pread.vs_baseline, 1, 'the baseline of a page-cache target is its own pread');
      assert.equal(run.jobs.find((j) => j.backend === 'mmap-msync'), undefined);
      assert.ok(run.notes.some((n) => /^mmap-msync not run on this pagecache target: .*already msync/.test(n)));
      assert.equal(run.baseline, null);
      assert.equal(run.target.kind, 'pagecache');
      // Without --drop-caches the machine's cache stays; the benchmark's own file is evicted.
      assert.equal(run.page_cache.warm, true);
      assert.equal(run.page_cache.scope, 'files');
      assert.match(run.page_cache.detail, /^Caches were warm: the machine's page cache was not dropped \(pass --drop-caches, as root, to drop it\); before \d+ of the \d+ measurements the benchmark's own files \(.*daxkit-bench-\d+\.dat\) were written back and evicted/);
      assert.match(table, /\n {2}caches {4}Caches were warm: /);
      assert.ok(html.includes('<dt>caches</dt><dd>Caches were warm: '));
      assert.deepEqual(run.answer, [], 'no DAX: nothing to answer');
      assert.match(table, /\nThe answer: none here\. There is no DAX on this target/);
    });

    it('the context says where it ran', function () {
      const c = doc.runs[0].context;
      assert.equal(c.kernel, os.release());
      assert.equal(c.node, process.version);
      assert.ok(['clwb', 'clflushopt', 'clflush', 'none'].includes(c.cpu.flush));
      assert.equal(c.vm.inside, false);
      assert.equal(c.vm.statement, null);
      const t = doc.runs[0].target;
      assert.equal(t.mapping.flush_mechanism, 'msync');
      assert.equal(t.mapping.map_sync, false);
      assert.ok(t.fs !== null && t.fs.type.length > 0);
      assert.match(t.odirect, /^(honoured|accepted|refused)/);
    });

    it('runs the native calibration and reports the four targets as measured, not asserted', function () {
      const c = doc.runs[0].calibration!;
      assert.equal(c.memory.stand_in, true);
      assert.deepEqual(
        c.targets.map((t) => t.id),
        ['persist-64', 'copy-persist-1m', 'scan-vs-heap', 'scan-vs-read'],
      );
      for (const t of c.targets) {
        assert.ok(typeof t.ratio === 'number' && t.ratio > 0, `${t.id}: ${t.ratio}`);
        assert.equal(t.met, t.cmp === '<=' ? t.ratio! <= t.goal : t.ratio! >= t.goal);
        assert.equal(t.round_ratios.length, 3);
      }
      for (const [id, it] of Object.entries(c.items)) {
        assert.equal(it.status, 'ok', `${id}: ${it.error}`);
        assert.ok(it.value > 0 && it.round_values.length === 3, id);
      }
      assert.match(table, /daxkit's goals for its own overhead \(ratios measured in this run\):/);
      assert.match(table, /\[(met {4}|NOT MET)\] JS persist\(64 B\) within 1\.2x/);
    });

    it('counts page faults of a mapping', function () {
      const f = doc.runs[0].page_faults;
      assert.equal(f.length, 1);
      assert.equal(f[0].status, 'ok');
      assert.equal(f[0].length, 2 * MiB);
      assert.ok(f[0].minor + f[0].major > 0);
    });

    it('runs fio on the same file when it is installed, and says so when it is not', function () {
      const fio = doc.runs[0].fio;
      if (!haveFio) {
        assert.match(fio.skipped!, /not installed/);
        return;
      }
      assert.equal(fio.skipped, null);
      const engines = fio.comparisons.map((c) => `${c.engine}:${c.rw}`).sort();
      assert.deepEqual(engines, ['mmap:read', 'mmap:write', 'psync:read', 'psync:write']);
      for (const c of fio.comparisons) {
        assert.ok(c.fio !== null, `${c.engine} ${c.rw}: ${c.error}`);
        assert.ok(c.fio.bw_bytes > 0 && c.fio.iops > 0 && c.fio.lat_ns.percentile['99.000000'] > 0);
        assert.ok(c.ratio! > 0);
        assert.equal(c.agree, Math.abs(c.ratio! - 1) <= 0.1);
        assert.equal(c.trust_check, c.engine === 'psync');
        assert.match(c.command, new RegExp(`--filename=${dir}/work/daxkit-bench-\\d+\\.dat .*--ioengine=${c.engine} .*--bs=4096`));
      }
      assert.match(table, /psync vs pread +read +4 KiB/);
    });

    it('the table shows every backend with its ratio to the page-cache baseline', function () {
      assert.match(table, /^daxkit bench: page cache \(/);
      assert.match(table, /Reads, sequential\n +backend +bs +bandwidth +IOPS +p50 +p99 +p99\.9 +max +95% CI +vs pread \(this file\)/);
      for (const j of doc.runs[0].jobs.filter((x) => x.status === 'ok')) {
        assert.match(table, new RegExp(`\\n  ${j.backend} +4 KiB +[0-9.]+ [KMG]?i?B/s(?: \\?)? .* ${fmtRatio(j.vs_baseline).replace('.', '\\.')}(?: \\?)?\\n`), j.backend);
      }
    });

    it('the HTML page is valid and self-contained: no script, no external resource', function () {
      assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
      const names = checkMarkup(html, false);
      assert.ok(names.filter((n) => n === 'svg').length >= 4, 'bandwidth and latency charts');
      for (const forbidden of [/https?:/i, /<script/i, /<link/i, /<img/i, /<iframe/i, /@import/i, /url\(/i, /<object/i, /\bsrc=/i, /\/\//]) {
        assert.doesNotMatch(html, forbidden);
      }
      for (const j of doc.runs[0].jobs.filter((x) => x.status === 'ok')) assert.ok(html.includes(j.backend), j.backend);
      assert.ok(html.includes('Bandwidth by block size') && html.includes('Latency percentiles'));
      assert.ok(html.includes(doc.runs[0].target.path));
    });

    it('the SVG chart is well-formed XML with its namespace and nothing else external', function () {
      assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
      checkMarkup(svg, true);
      assert.doesNotMatch(svg.replace('xmlns="http://www.w3.org/2000/svg"', ''), /https?:|<script|<image|href=/);
      assert.ok(svg.includes('Reads, sequential') && svg.includes('Writes, sequential'));
    });

    it('speaks plainly: no internal jargon in the table, the page or the JSON', function () {
      for (const text of [table, html, JSON.stringify(doc)]) assert.doesNotMatch(text, /\bissue|reference figures|trust check/i);
    });

    it('marks a figure whose 95% CI is wider than ±10%, and every ratio that rests on it, in the table, the page and the chart', function () {
      const d = JSON.parse(JSON.stringify(doc)) as BenchDocument;
      const jobs = d.runs[0].jobs;
      for (const j of jobs) {
        if (!j.sampling) continue;
        j.sampling.ci_reached = 0.02;
        j.sampling.ci_between_rounds = null;
      }
      jobs.find((j) => j.backend === 'pread')!.sampling!.ci_reached = 0.25;
      const f = path.join(dir, 'out', 'wide.json');
      fs.writeFileSync(f, JSON.stringify(d));
      const r = bench(['--report', f, '--html', path.join(dir, 'out', 'wide.html')]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '', 'with --html, --report prints no table');
      const t = bench(['--report', f]).stdout;
      const line = (backend: string): string => t.split('\n').find((l) => new RegExp(`^  ${backend} +4 KiB `).test(l))!;
      // pread itself, and its ratio (to itself)
      assert.match(line('pread'), /B\/s \? .* \*±25\.0% +1\.00x \?$/);
      // mmap-read's own figure is sure; its ratio to pread is not
      assert.doesNotMatch(line('mmap-read'), /B\/s \?/);
      assert.match(line('mmap-read'), / \*?±2\.0% +[0-9.]+x \?$/);
      // writes rest on nothing uncertain
      assert.doesNotMatch(line('pwrite-fdatasync'), /\?/);
      assert.doesNotMatch(line('mmap-persist'), /\?/);
      assert.match(t, /\n {2}\? the 95% CI is wider than ±10%: the figure is uncertain, and so is any ratio that rests on it/);
      // The chart: one hollow point with its interval, and the note under it.
      const page = fs.readFileSync(path.join(dir, 'out', 'wide.html'), 'utf8');
      assert.equal(page.split('r="4.5" fill="#ffffff"').length - 1, 1, 'one hollow point in the charts of the page');
      assert.ok(page.includes('Hollow points with a bar: the 95% confidence interval (the bar) is wider than ±10%'));
      const sv = path.join(dir, 'out', 'wide.svg');
      assert.equal(bench(['--report', f, '--svg', sv]).stdout, '');
      const chart = fs.readFileSync(sv, 'utf8');
      checkMarkup(chart, true);
      assert.equal(chart.split('r="4.5" fill="#ffffff"').length - 1, 1);
      assert.ok(chart.includes('Hollow points with a bar'));
      assert.ok(chart.includes("Warm caches: the machine&#39;s page cache was not dropped"));
    });

    it('answers the question in plain words, and says when the answer rests on an uncertain figure', function () {
      // The page-cache run made into a DAX run with a baseline 4x slower.
      const d = JSON.parse(JSON.stringify(doc)) as BenchDocument;
      const run = d.runs[0];
      run.target.kind = 'fsdax';
      delete run.answer;
      for (const j of run.jobs) if (j.sampling) j.sampling.ci_reached = 0.02;
      for (const b of ['pread', 'pwrite-fdatasync'] as const) {
        const base = JSON.parse(JSON.stringify(run.jobs.find((j) => j.backend === b))) as JobReport;
        base.role = 'baseline';
        base.jobname = `baseline:${base.jobname}`;
        const io = b === 'pread' ? base.read : base.write;
        io.bw_bytes /= 4;
        if (b === 'pread') base.sampling!.ci_reached = 0.3;
        run.jobs.push(base);
      }
      const answers = answersOf('fsdax', run.jobs);
      assert.deepEqual(answers.map((a) => [a.direction, a.bs, a.pattern]), [['write', 4 * KiB, 'seq'], ['read', 4 * KiB, 'seq']]);
      for (const a of answers) {
        const best = run.jobs.filter((j) => j.role === 'target' && j.status === 'ok' && BACKENDS[j.backend].dir === a.direction).sort((x, y) => (x.read.bw_bytes + x.write.bw_bytes) - (y.read.bw_bytes + y.write.bw_bytes)).pop()!;
        assert.equal(a.dax.jobname, best.jobname);
        assert.equal(a.pagecache.jobname, `baseline:${a.direction === 'read' ? 'pread/read' : 'pwrite-fdatasync/write'}/4k`);
        assert.ok(Math.abs(a.ratio - a.dax.bw_bytes / a.pagecache.bw_bytes) < 1e-9);
      }
      assert.equal(answers[0].uncertain, null);
      assert.equal(answers[1].uncertain, 'uncertain: the 95% CI of pread() through the page cache is ±30.0%, wider than ±10%');
      const f = path.join(dir, 'out', 'dax.json');
      fs.writeFileSync(f, JSON.stringify(d));
      const t = bench(['--report', f]).stdout;
      assert.match(t, /\nThe answer \(sequential\): the fastest way through DAX against the same through the page cache\n/);
      assert.match(t, new RegExp(`\\n  durable writes of 4 KiB +${fasterOrSlower(answers[0].ratio).replace('.', '\\.')} through DAX: \\S.*, against pwrite\\(\\) \\+ fdatasync\\(\\) [0-9.]+ [KMG]?i?B/s through the page cache\\n`));
      assert.match(t, /\n {2}reads of 4 KiB +[0-9.]+x (faster|slower) \? through DAX: .*, against pread\(\) [0-9.]+ [KMG]?i?B\/s through the page cache \(uncertain: the 95% CI of pread\(\) through the page cache is ±30\.0%, wider than ±10%\)\n/);
      assert.equal(fasterOrSlower(40.46), '40x faster');
      assert.equal(fasterOrSlower(0.5), '2.0x slower');
    });

    it('--report renders a saved document again without running', function () {
      const r = bench(['--report', path.join(dir, 'out', 'a.json')]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, table);
    });

    it('--compare puts two documents side by side, job by job', function () {
      const a = path.join(dir, 'out', 'a.json');
      const b = path.join(dir, 'out', 'b.json');
      const twice = JSON.parse(JSON.stringify(doc)) as BenchDocument;
      for (const j of twice.runs[0].jobs) {
        if (j.status !== 'ok') continue;
        const io = BACKENDS[j.backend].dir === 'read' ? j.read : j.write;
        io.bw_bytes *= 2;
      }
      fs.writeFileSync(b, JSON.stringify(twice));
      const r = bench(['--compare', a, b]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^A: ${a} \\(`));
      const ok = doc.runs[0].jobs.filter((j) => j.status === 'ok');
      for (const j of ok) assert.match(r.stdout, new RegExp(`\\n  ${j.jobname.replace(/[/]/g, '\\/')} +\\S+ \\S+ +\\S+ \\S+ +2\\.00x`), j.jobname);
      const js = bench(['--compare', a, b, '--json']);
      const cmp = JSON.parse(js.stdout) as { pairs: Array<{ rows: Array<{ jobname: string; ratio: number | null }> }> };
      assert.equal(cmp.pairs.length, 1);
      for (const row of cmp.pairs[0].rows) {
        const j = doc.runs[0].jobs.find((x) => x.jobname === row.jobname) as JobReport;
        if (j.status === 'ok') assert.ok(Math.abs(row.ratio! - 2) < 1e-9, row.jobname);
        else assert.equal(row.ratio, null);
      }
      fs.writeFileSync(b, '{"not": "a bench document"}');
      const bad = bench(['--compare', a, b]);
      assert.equal(bad.status, 1, 'a document that is not one is a failure, not a usage error');
      assert.match(bad.stderr, /is not a daxkit bench JSON document/);
    });
  });

  describe('safety and target choice', function () {
    let dir: string;
    beforeEach(() => {
      dir = mkTempDir();
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const tiny = ['--size', '1M', '--bs', '4k', '--pattern', 'seq', '--backend', 'pread', '--no-fio', '--no-calibrate', '--no-faults', ...FAST];

    it("fio writes the target itself, whatever its name: a ':' in the path does not make fio split it into other files", function () {
      if (!commandExists('fio')) return this.skip(); // pending: fio is not installed
      fs.writeFileSync(path.join(dir, 'a'), 'precious');
      fs.mkdirSync(path.join(dir, 'a:b'));
      const target = path.join(dir, 'a:b', 'target');
      fs.writeFileSync(target, Buffer.alloc(64 * KiB));
      const r = runFio({ engine: 'psync', rw: 'write', bs: 4 * KiB, path: target, size: 64 * KiB, timeMs: 50, warmupMs: 0 });
      assert.ok(r.ok, `fio failed: ${r.ok ? '' : r.error}`);
      assert.equal(fs.readFileSync(path.join(dir, 'a'), 'utf8'), 'precious', 'fio wrote into the file named by the path up to the colon');
      assert.deepEqual(fs.readdirSync(dir).sort(), ['a', 'a:b'], 'fio made files outside the target');
      assert.notDeepEqual(fs.readFileSync(target), Buffer.alloc(64 * KiB), 'the target was not written');
    });

    it('control characters in the target path (ESC, BEL, CR) reach neither the table nor the progress lines raw', function () {
      const sub = path.join(dir, 'x\x1b]0;title\x07\rz');
      fs.mkdirSync(sub);
      const r = bench([sub, ...tiny]);
      assert.equal(r.status, 0, r.stderr);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(r.stdout + r.stderr, /[\x07\x1b\r]/, 'a raw control character reached the terminal');
      assert.ok(r.stdout.includes('x\\x1b]0;title\\x07\\rz'), 'the path is shown escaped');
    });

    it('a TARGET that is missing or of a kind bench does not run on is an error (exit 1), not a usage error (2), as with every other command', function () {
      const missing = bench([path.join(dir, 'no', 'such'), ...tiny]);
      assert.equal(missing.status, 1, missing.stderr);
      assert.match(missing.stderr, /no such file or directory/);
      assert.doesNotMatch(missing.stderr, /Try 'daxkit bench --help'/);
      const fifo = path.join(dir, 'fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      const r = bench([fifo, ...tiny]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /is neither a file, a directory nor a devdax device/);
    });

    it("never writes through a name planted where it makes its file (a symlink to another file, in a shared directory): refused, and that file is untouched", function () {
      const victim = path.join(dir, 'victim');
      fs.writeFileSync(victim, 'precious');
      const loc = locate(dir);
      assert.equal(loc.type, 'file');
      fs.symlinkSync(victim, loc.path);
      assert.throws(() => prepare(loc, MiB, 1, 'target', 'a new file'), (e: Error) => e instanceof RefusedError && /appeared before the benchmark made it/.test(e.message));
      assert.equal(fs.readFileSync(victim, 'utf8'), 'precious', 'the benchmark wrote through the symlink');
      assert.equal(fs.lstatSync(loc.path).isSymbolicLink(), true, 'the planted name is left as it was');
      fs.unlinkSync(loc.path);
      const p = prepare(loc, MiB, 1, 'target', 'a new file');
      try {
        assert.equal(fs.statSync(loc.path).size, MiB, 'a fresh name is made and filled');
      } finally {
        p.cleanup();
      }
      assert.equal(fs.existsSync(loc.path), false);
    });

    it("the calibration's stand-in and page-cache files are made, never found: a symlink planted under their names is refused, and the file it names untouched", function () {
      if (!fs.existsSync('/dev/shm')) return this.skip(); // pending: no tmpfs at /dev/shm for the stand-in
      const victim = path.join(dir, 'victim');
      fs.writeFileSync(victim, 'precious');
      // In the process that runs the benchmark, so that the names (which hold its pid) are known.
      const script = `
        const fs = require('node:fs');
        for (const n of ['standin', 'pagecache']) fs.symlinkSync(${JSON.stringify(victim)}, '/dev/shm/daxkit-bench-' + n + '-' + process.pid + '.dat');
        require(${JSON.stringify(CLI)}).main(['bench', ${JSON.stringify(dir)}, '--calibrate', '--size', '1M', '--bs', '4k', '--pattern', 'seq', '--backend', 'pread', '--no-fio', '--no-faults', '--time', '0.05', '--warmup', '0.02']).then((code) => {
          for (const n of ['standin', 'pagecache']) fs.rmSync('/dev/shm/daxkit-bench-' + n + '-' + process.pid + '.dat', { force: true });
          process.exitCode = code;
        });`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 300_000 });
      assert.equal(fs.readFileSync(victim, 'utf8'), 'precious', `the benchmark wrote through a planted symlink: ${r.stderr}`);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /appeared before the benchmark made it/);
    });

    it("O_DIRECT's aligned buffer is a file made, never found: a symlink planted under its name is refused, and the file it names gets no byte of the reads", function () {
      const victim = path.join(dir, 'victim');
      const precious = Buffer.alloc(8 * KiB, 'p');
      fs.writeFileSync(victim, precious);
      const file = path.join(dir, 'target.dat');
      patternFile(file, MiB);
      const planted = path.join(dir, `daxkit-bench-aligned-${process.pid}`);
      fs.symlinkSync(victim, planted);
      const ctx = { target: { path: file, kind: 'pagecache' as const, size: MiB }, bs: 4 * KiB, cursor: new Cursor(MiB / (4 * KiB), false, 5), seed: 1, alignedDir: dir };
      let inst: Instance | null = null;
      try {
        inst = createBackend('odirect-read', ctx);
        inst.run(8);
      } catch (e) {
        if (e instanceof Skip) return this.skip(); // pending: O_DIRECT is not honoured here
        assert.equal((e as NodeJS.ErrnoException).code, 'EEXIST', String(e));
      } finally {
        inst?.close();
      }
      assert.deepEqual(fs.readFileSync(victim), precious, 'the O_DIRECT reads landed in the file the planted symlink names');
      assert.equal(fs.lstatSync(planted).isSymbolicLink(), true);
    });

    it('--json: C1 controls and bidirectional overrides in the target path are \\u escapes, not raw characters, and read back as the path', function () {
      const sub = path.join(dir, 'csi\u009b31m-bidi\u202efdp.exe');
      fs.mkdirSync(sub);
      const r = bench([sub, '--json', ...tiny]);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /[\u007f-\u009f\u202e]/, 'a raw control character is in the JSON');
      const doc = JSON.parse(r.stdout) as BenchDocument;
      assert.ok(doc.runs[0].target.path.startsWith(sub), 'the path reads back');
    });

    it('refuses to overwrite a file that holds data without --yes (exit 1), and keeps it with --yes', function () {
      const f = path.join(dir, 'precious');
      const data = Buffer.alloc(MiB, 0);
      data.write('my data', 4096);
      fs.writeFileSync(f, data);
      const r = bench([f, ...tiny]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /holds data \(a non-zero byte at offset 4096\).*pass --yes/);
      assert.deepEqual(fs.readFileSync(f), data, 'untouched');
      const y = bench([f, ...tiny, '--yes', '--json']);
      assert.equal(y.status, 0, y.stderr);
      const d = JSON.parse(y.stdout) as BenchDocument;
      assert.match(d.runs[0].target.data, /held data .* overwritten with --yes and kept/);
      assert.ok(fs.existsSync(f), 'a file the user named is kept');
    });

    it('an existing file of zeros is not data; a new file is created and removed', function () {
      const z = path.join(dir, 'zeros');
      fs.writeFileSync(z, Buffer.alloc(MiB));
      const r = bench([z, ...tiny, '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.match((JSON.parse(r.stdout) as BenchDocument).runs[0].target.data, /without data/);
      const n = path.join(dir, 'new');
      const s = bench([n, ...tiny]);
      assert.equal(s.status, 0, s.stderr);
      assert.equal(fs.existsSync(n), false);
    });

    it('without a target and without the VM, runs on a temp file labelled "no DAX available"', function () {
      if (findHostDax() !== null) this.skip();
      const r = bench([...tiny, '--no-vm', '--json'], { TMPDIR: dir });
      assert.equal(r.status, 0, r.stderr);
      const d = JSON.parse(r.stdout) as BenchDocument;
      assert.match(d.runs[0].label, /no DAX available/);
      assert.ok(d.runs[0].notes.some((n) => /No DAX on this machine .*--no-vm was given/.test(n)));
      assert.ok(d.runs[0].target.path.startsWith(dir));
      assert.deepEqual(fs.readdirSync(dir), []);
    });

    it('drops the whole page cache only with --drop-caches, as root, and says so (cold caches)', function () {
      const r = bench([path.join(dir, 'f'), ...tiny, '--drop-caches', '--json']);
      assert.equal(r.status, 0, r.stderr);
      const pc = (JSON.parse(r.stdout) as BenchDocument).runs[0].page_cache;
      if (process.getuid?.() !== 0) {
        assert.deepEqual([pc.warm, pc.scope], [true, 'files']);
        assert.match(pc.detail, /^Caches were warm: the machine's page cache was not dropped \(--drop-caches needs root/);
        return;
      }
      assert.deepEqual([pc.warm, pc.scope, pc.dropped], [false, 'machine', true]);
      assert.equal(pc.detail, 'Caches were cold: the whole page cache was dropped (--drop-caches: sync; echo 3 > /proc/sys/vm/drop_caches) before each of the 1 measurements.');
    });
  });
});
