// daxkit bench on (emulated) DAX: the mechanisms it reports are the ones in
// effect (CLWB with MAP_SYNC, msync without it, non-temporal copyPersist,
// O_DIRECT taking the DAX path), devdax gets huge-page faults, and a device
// that holds data is not overwritten without --yes. Small and short: every
// measurement starts a node process, which takes seconds under TCG. Speeds
// are never asserted.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { cpuInfo, open } from '../../lib';
import { createCalibration } from '../../lib/bench/calibrate';
import type { BenchDocument, JobReport } from '../../lib/bench/report';
import { devdax, pmemFs, vit } from './vm-env';

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const MiB = 1024 * 1024;
const SHORT = ['--bs', '4k', '--pattern', 'seq', '--time', '0.1', '--warmup', '0.02', '--no-fio', '--no-calibrate', '--baseline', 'none', '--json'];

function bench(args: string[]): { status: number | null; doc: BenchDocument | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'bench', ...args], { encoding: 'utf8', timeout: 170_000 });
  let doc: BenchDocument | null = null;
  try {
    doc = JSON.parse(r.stdout) as BenchDocument;
  } catch {
    doc = null;
  }
  return { status: r.status, doc, stderr: r.stderr };
}

function job(d: BenchDocument, backend: string): JobReport {
  const j = d.runs[0].jobs.find((x) => x.backend === backend);
  assert.ok(j, `no ${backend} job`);
  assert.equal(j.status, 'ok', `${backend}: ${j.reason}`);
  assert.equal(j.verify!.ok, true, `${backend}: ${j.verify!.detail}`);
  return j;
}

describe('daxkit bench on DAX', function () {
  vit('fsdax on ext4: CLWB with MAP_SYNC, msync without it, non-temporal copyPersist, O_DIRECT through the DAX path', function () {
    const fsx = pmemFs[0];
    const r = bench([fsx.dir, '--size', '4M', '--backend', 'mmap-persist,copy-persist,mmap-msync,pread,odirect-read', '--faults', ...SHORT]);
    assert.equal(r.status, 0, r.stderr);
    const d = r.doc!;
    const run = d.runs[0];
    const flush = cpuInfo().flush;
    assert.equal(run.target.kind, 'fsdax');
    assert.equal(run.target.mapping.map_sync, true);
    assert.equal(run.target.mapping.flush_mechanism, flush);
    assert.equal(run.target.mapping.address_2m_aligned, true);
    assert.equal(run.target.fs!.type, 'ext4');
    assert.equal(run.target.fs!.dax_mode, 'always');
    assert.match(run.target.odirect, /^accepted, and ignored: on a DAX file/);
    assert.equal(run.context.vm.inside, true);
    assert.match(run.context.vm.statement!, /TCG/);

    const persist = job(d, 'mmap-persist');
    assert.equal(persist.persistence, flush);
    assert.match(persist.mechanism!, new RegExp(`MAP_SYNC\\): ${flush.toUpperCase()} of each line \\+ SFENCE`));
    assert.equal(job(d, 'copy-persist').persistence, 'non-temporal');
    const msync = job(d, 'mmap-msync');
    assert.equal(msync.persistence, 'msync');
    assert.match(msync.mechanism!, /no MAP_SYNC\): msync/);
    assert.match(job(d, 'pread').mechanism!, /dax_iomap_rw/);
    assert.match(job(d, 'odirect-read').mechanism!, /O_DIRECT on a DAX file/);

    // The harness makes ext4 with a 2 MiB stripe, so the file's blocks are
    // 2 MiB-aligned on the device, and the 4 MiB file is mapped with two
    // 2 MiB faults, not 1024 of 4 KiB.
    const f = run.page_faults[0];
    const ex = run.target.extents!;
    assert.ok(ex.count > 0 && ex.aligned_2m === ex.count, ex.note);
    assert.equal(f.status, 'ok');
    assert.ok(f.minor + f.major <= 2 + 64, `${f.minor + f.major} faults: ${f.verdict}`);
    assert.match(f.verdict, /^huge pages/);
  });

  vit('devdax: the mapping backends only, huge-page faults over the device, no overwrite without --yes, zeroed afterwards', function () {
    const m = open(devdax);
    const size = Math.min(m.length, 1024 * MiB);
    try {
      // Earlier tests leave bytes on the device: the only data is ours.
      m.copyPersist(0, Buffer.alloc(4 * MiB));
      m.write(4096, Buffer.from('precious'));
      m.persist(4096, 8);
    } finally {
      m.close();
    }
    const refused = bench([devdax, '--size', '4M', ...SHORT]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /is a devdax device: its first 4 MiB are overwritten/);
    assert.match(refused.stderr, /holds data .* at offset 4096\); pass --yes/);
    const still = open(devdax, { size: 2 * MiB, readonly: true });
    try {
      assert.equal(still.read(4096, 8).toString(), 'precious');
    } finally {
      still.close();
    }

    const r = bench([devdax, '--size', '4M', '--yes', '--backend', 'mmap-scan,copy-persist,pread', '--faults', ...SHORT]);
    assert.equal(r.status, 0, r.stderr);
    const run = r.doc!.runs[0];
    assert.equal(run.target.kind, 'devdax');
    assert.equal(run.target.device!.align, 2 * MiB);
    assert.match(run.target.data, /held data .* overwritten with --yes, zeroed afterwards/);
    assert.deepEqual(run.jobs.map((j) => j.backend).sort(), ['copy-persist', 'mmap-scan']);
    job(r.doc!, 'mmap-scan');
    assert.equal(job(r.doc!, 'copy-persist').persistence, 'non-temporal');
    assert.ok(run.notes.some((n) => /^pread not run on this devdax target: device DAX has no read\(2\)\/write\(2\)/.test(n)));

    const whole = run.page_faults.find((p) => p.length === Math.floor(size / (2 * MiB)) * 2 * MiB);
    assert.ok(whole, `a fault count over the device: ${JSON.stringify(run.page_faults.map((p) => p.length))}`);
    assert.equal(whole.address_2m_aligned, true);
    // The count is the process's: it includes the JS engine's own faults
    // during the loop (code and heap pages of its compiler threads), 40 to
    // 230 on the host from Node 20 to 26, and about 170 over this loop on
    // Node 24 and 26 in the guest. 4 KiB faults over the device would be
    // tens of thousands (the next assertion).
    assert.ok(whole.minor + whole.major <= whole.huge_2m * 1.25 + 512, `${whole.minor + whole.major} faults for ${whole.huge_2m} huge pages`);
    assert.ok(whole.minor + whole.major < whole.pages_4k / 8);

    const after = open(devdax, { size: 4 * MiB, readonly: true });
    try {
      assert.ok(after.read(0, 4 * MiB).every((b) => b === 0), 'the working set is zeroed after the run');
    } finally {
      after.close();
    }
  });

  vit('by default: durable writes and reads through DAX against a page-cache file, the answer in plain words, warm caches', function () {
    const r = bench([pmemFs[0].dir, '--size', '4M', '--bs', '4k', '--time', '0.1', '--warmup', '0.02', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const run = r.doc!.runs[0];
    assert.equal(run.options.full, false);
    assert.equal(run.target.kind, 'fsdax');
    assert.equal(run.baseline!.kind, 'pagecache');
    const names = (role: string): string[] => run.jobs.filter((j) => j.role === role).map((j) => j.backend).sort();
    assert.deepEqual(names('target'), ['copy-persist', 'mmap-persist', 'mmap-read', 'pread', 'pwrite-fdatasync']);
    assert.deepEqual(names('baseline'), ['pread', 'pwrite-fdatasync']);
    for (const j of run.jobs) job(r.doc!, j.backend);
    assert.equal(run.calibration, null);
    assert.deepEqual(run.page_faults, []);
    assert.match(run.fio.skipped!, /not part of the quick set/);
    assert.equal(run.page_cache.warm, true);
    // In the VM the whole cache is never dropped: node is read over 9p.
    const answer = run.answer!;
    assert.deepEqual(answer.map((a) => `${a.direction} ${a.bs}`), ['write 4096', 'read 4096']);
    for (const a of answer) {
      assert.equal(a.pagecache.jobname, `baseline:${a.direction === 'read' ? 'pread/read' : 'pwrite-fdatasync/write'}/4k`);
      assert.ok(a.ratio > 0 && a.dax.bw_bytes > 0);
      assert.equal(a.uncertain === null, (a.dax.ci ?? 1) <= 0.1 && (a.pagecache.ci ?? 1) <= 0.1, JSON.stringify(a));
    }
  });

  vit('the calibration times DaxMapping.persist and copyPersist on the DAX mapping itself', function () {
    const file = path.join(pmemFs[1].dir, `cal-${process.pid}`);
    const m = open(file, { size: 2 * MiB, create: true });
    m.close();
    const mem = { path: file, kind: 'fsdax' as const, size: 2 * MiB };
    const sampling = { warmupMs: 1, timeMs: 1, minTimeMs: 1, ci: 1, minSamples: 1 };
    for (const [item, want] of [
      ['persist', `DaxMapping.persist() (${cpuInfo().flush})`],
      ['copy-persist', 'DaxMapping.copyPersist() (non-temporal)'],
    ] as const) {
      const c = createCalibration({ kind: 'calibration', item, memory: mem, pagecache: mem, sampling, seed: 1 });
      try {
        assert.equal(c.path, want);
        c.prefault();
        c.run(10);
      } finally {
        c.close();
      }
    }
  });
});
