// daxkit bench: picks the target (or the emulated-pmem VM), prepares it,
// runs the schedule, and writes the table, JSON, HTML and SVG.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { UsageError } from '../errors';
import { hiddenInGuest, VM_RUNNER, vmBlocker } from '../vm/harness';
import type { TargetKind } from './backends';
import type { CalMemory } from './calibrate';
import { compareDocuments } from './compare';
import { daxkitVersion, describeTarget, runContext } from './context';
import { fioVersion } from './fio';
import { renderHtml, renderSvg } from './html';
import { guestArgs, parseOptions, type BenchOptions } from './options';
import { EVENT_PREFIX, Progress, type ProgressEvent } from './progress';
import { assertDocument, SCHEMA, type BenchDocument, type RunReport } from './report';
import { calibrationCandidates, calibrationModule } from './native';
import { executeRun } from './run';
import { renderDocument } from './table';
import { checkData, checkSpace, defaultBaselineDir, findHostDax, locate, newFile, prepare, RefusedError, shmDir, workingSet, type Prepared } from './target';
import { fmtSize, GiB, MiB } from './units';
import { jsonTerminalSafe, terminalSafe } from '../fs/path-bytes';

// Files to remove and devices to zero if the run is interrupted.
const cleanups = new Set<() => void>();
let signalsHooked = false;

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of [...cleanups].reverse()) {
        try {
          c();
        } catch {
          // Best effort on the way out.
        }
      }
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

function track(p: Prepared): Prepared {
  const c = (): void => {
    cleanups.delete(c);
    p.cleanup();
  };
  cleanups.add(c);
  return { ...p, cleanup: c };
}

const CAL_MAX = 256 * MiB;

/** Runs the benchmark on one target (a path the user gave, or one found), returning its report. */
async function localRun(arg: string, opts: BenchOptions, progress: Progress, label: string | null, notes: string[]): Promise<RunReport> {
  hookSignals();
  const loc = locate(arg);
  const size = workingSet(loc, opts.size);
  if (size !== opts.size) notes.push(`The working set was rounded up from ${fmtSize(opts.size)} to ${fmtSize(size)}, a multiple of the device's align.`);
  checkSpace(loc, size);
  if (loc.type === 'devdax') progress.log(`daxkit bench: ${loc.path} is a devdax device: its first ${fmtSize(size)} are overwritten by this run, and zeroed at the end.`);
  const data = checkData(loc, size, opts.yes);
  const made: Prepared[] = [];
  try {
    progress.log(`daxkit bench: preparing ${fmtSize(size)} on ${loc.path}`);
    const target = track(prepare(loc, size, opts.seed, 'target', data));
    made.push(target);
    const kind: TargetKind = target.spec.kind;
    const targetReport = describeTarget('target', target.spec.path, kind, size, data);

    let baseline: Prepared | null = null;
    if (kind !== 'pagecache' && opts.baseline !== null) {
      const bl = locate(opts.baseline || defaultBaselineDir(), 'baseline');
      if (bl.type !== 'file') throw new UsageError('--baseline must be a directory or file on a page-cache filesystem, not a device');
      checkSpace(bl, size);
      baseline = track(prepare(bl, size, opts.seed, 'baseline', checkData(bl, size, opts.yes)));
      made.push(baseline);
      if (baseline.spec.kind !== 'pagecache') notes.push(`The baseline ${baseline.spec.path} is ${baseline.spec.kind}, not page cache: give --baseline a directory on a page-cache filesystem.`);
    }
    const baselineReport = baseline ? describeTarget('baseline', baseline.spec.path, baseline.spec.kind, size, baseline.data) : null;
    if (baselineReport?.fs?.type === 'tmpfs') {
      notes.push('The baseline is on tmpfs: its fdatasync is a no-op and nothing reaches a disk, so it shows the page cache at its fastest, not a page-cache file on a block device.');
    }

    let calibration: { memory: CalMemory; pagecache: CalMemory; standIn: boolean } | null = null;
    // The calibration is a module of its own (lib/bench/native.ts), which an
    // installation may lack.
    const calibrationBuilt = calibrationModule() !== null;
    if (opts.calibrate && !calibrationBuilt) {
      notes.push(`This daxkit installation has no native calibration module (native/calibrate/; none of ${calibrationCandidates().join(', ')} exists): rebuild it (npm run rebuild; npm pack prebuilds it for the package) to get the target ratios.`);
    }
    if (opts.calibrate && calibrationBuilt) {
      let calSize = Math.min(size, CAL_MAX);
      if (loc.type === 'devdax') calSize = Math.ceil(calSize / loc.device.align) * loc.device.align;
      let memory: CalMemory;
      let standIn = false;
      if (kind !== 'pagecache') {
        memory = { path: target.spec.path, kind, size: calSize };
      } else {
        standIn = true;
        const shm = shmDir();
        if (shm !== null && path.dirname(target.spec.path) !== shm) {
          const sl = newFile(path.join(shm, `daxkit-bench-standin-${process.pid}.dat`));
          const s = track(prepare(sl, calSize, opts.seed, 'target', 'stand-in'));
          made.push(s);
          memory = { path: s.spec.path, kind: 'pagecache', size: calSize };
        } else {
          memory = { path: target.spec.path, kind, size: calSize };
          if (shm === null) notes.push('No tmpfs at /dev/shm: the calibration uses the target file itself as the stand-in for pmem.');
        }
      }
      const pcFile = kind === 'pagecache' ? target.spec.path : baseline?.spec.path;
      let pagecache: CalMemory;
      if (pcFile !== undefined) {
        pagecache = { path: pcFile, kind: 'pagecache', size: calSize };
      } else {
        const dir = shmDir() ?? os.tmpdir();
        const pl = newFile(path.join(dir, `daxkit-bench-pagecache-${process.pid}.dat`));
        const p = track(prepare(pl, calSize, opts.seed, 'baseline', 'page-cached file for the calibration'));
        made.push(p);
        pagecache = { path: p.spec.path, kind: 'pagecache', size: calSize };
      }
      calibration = { memory, pagecache, standIn };
    }

    const faults: Array<{ path: string; kind: TargetKind; size: number }> = [];
    if (opts.faults) {
      faults.push({ path: target.spec.path, kind, size });
      if (loc.type === 'devdax') {
        // Touching 1 GiB of a 2 MiB-aligned device takes a few hundred
        // faults with huge pages, not 262,144.
        const a = Math.max(loc.device.align, 4096);
        const g = Math.floor(Math.min(loc.device.size, GiB) / a) * a;
        if (g !== size && g > 0) faults.push({ path: target.spec.path, kind, size: g });
        if (loc.device.size < GiB) notes.push(`The devdax device has ${fmtSize(loc.device.size)}, less than the 1 GiB of the page-fault check: the whole device is touched instead.`);
      }
      if (baseline) faults.push({ path: baseline.spec.path, kind: baseline.spec.kind, size });
    }

    const context = runContext();
    const alignedDir = shmDir() ?? os.tmpdir();
    return await executeRun({
      label: label ?? (kind === 'pagecache' ? 'page cache' : kind),
      target,
      targetReport,
      baseline,
      baselineReport,
      calibration,
      faults,
      context,
      opts,
      alignedDir,
      progress,
      notes,
      fio: opts.fio ? context.fio : fioVersion(),
    });
  } finally {
    progress.clear();
    for (const p of made.reverse()) {
      try {
        p.cleanup();
      } catch (e) {
        process.stderr.write(terminalSafe(`daxkit bench: cleaning up ${p.spec.path} failed: ${(e as Error).message}\n`));
      }
    }
  }
}

function failuresOf(runs: RunReport[]): string[] {
  const f: string[] = [];
  for (const r of runs) {
    for (const j of r.jobs) {
      if (j.status === 'error') f.push(`${r.label}: ${j.jobname} failed: ${(j.reason ?? '').split('\n')[0]}`);
      else if (j.verify && !j.verify.ok) f.push(`${r.label}: ${j.jobname}: the bytes did not verify: ${j.verify.detail}`);
    }
    for (const [id, it] of Object.entries(r.calibration?.items ?? {})) if (it.status !== 'ok') f.push(`${r.label}: calibration ${id} failed: ${(it.error ?? '').split('\n')[0]}`);
    for (const p of r.page_faults) if (p.status !== 'ok') f.push(`${r.label}: page-fault count of ${p.path} failed: ${(p.error ?? '').split('\n')[0]}`);
  }
  return f;
}

function document(runs: RunReport[], host: BenchDocument['host'], argv: string[], extra: string[] = []): BenchDocument {
  return {
    schema: SCHEMA,
    daxkit_version: daxkitVersion(),
    timestamp: Math.floor(Date.now() / 1000),
    time: new Date().toISOString(),
    command: ['daxkit', 'bench', ...argv].join(' '),
    host,
    runs,
    failures: [...extra, ...failuresOf(runs)],
  };
}

/** The VM's targets: fsdax on ext4, and with --full devdax too. */
function vmTargets(opts: BenchOptions): Array<[string | undefined, string]> {
  const t: Array<[string | undefined, string]> = [[process.env.PMEM_EXT4_DIR, 'fsdax on ext4 (emulated pmem, VM)']];
  if (opts.full) t.push([process.env.PMEM_DEVDAX, 'devdax (emulated pmem, VM)']);
  return t;
}

/** Inside the VM: fsdax on ext4 (then devdax), into one document for the host. */
async function guestRun(opts: BenchOptions, progress: Progress): Promise<RunReport[]> {
  const targets = vmTargets(opts);
  const notes = ['Run by daxkit bench inside the emulated-pmem VM it started, there being no DAX on the host.'];
  // The fair page-cache baseline is the same emulated pmem without DAX: the
  // VM mounts its xfs namespace dax=never for that (see vmRun). The guest's
  // temp directory is tmpfs, where fdatasync and msync do nothing at all.
  let guestOpts = opts;
  const xfs = process.env.PMEM_XFS_DIR;
  if (opts.baseline === '' && xfs && /(^|,)dax=never(,|$)/.test(process.env.PMEM_XFS_MOUNT_OPTS ?? '')) {
    guestOpts = { ...opts, baseline: xfs };
    notes.push(`The page-cache baseline is a file on xfs on the same emulated pmem, mounted dax=never (${xfs}): the same media through the page cache.`);
  }
  const runs: RunReport[] = [];
  let i = 0;
  for (const [p, label] of targets) {
    i++;
    if (!p) continue;
    progress.stage = `[${i}/${targets.length} ${label.split(' ')[0]}] `;
    runs.push(await localRun(p, guestOpts, progress, label, notes));
  }
  return runs;
}

function vmSizes(opts: BenchOptions): string[] {
  const m16 = (n: number): number => Math.ceil(n / (16 * MiB)) * 16 * MiB;
  const toM = (n: number): string => `${n / MiB}M`;
  // The namespace keeps its struct pages on the device (1/64 of it), so a
  // little more than 1 GiB leaves 1 GiB for the page-fault check.
  const devdax = m16(Math.max(GiB, opts.size) * 1.02 + 32 * MiB);
  const ext4 = m16(Math.max(GiB, opts.size + 256 * MiB));
  // The guest's RAM holds the page cache of the baseline and a heap buffer of the calibration.
  const mem = Math.max(2 * GiB, m16(3 * Math.min(opts.size, CAL_MAX) + opts.size + GiB));
  // xfs, mounted without DAX, holds the page-cache baseline on the same media.
  return ['--devdax-size', toM(devdax), '--ext4-size', toM(ext4), '--xfs-size', toM(ext4), '--xfs-mount', 'dax=never', '--mem', toM(mem)];
}

/** Runs the guest half in the emulated-pmem VM, drawing its progress here. */
async function vmRun(opts: BenchOptions, progress: Progress): Promise<{ runs: RunReport[] } | { error: string }> {
  hookSignals();
  // The guest sees the host's root read-only, except its own /tmp (and the
  // like) and the one directory shared with it: when daxkit itself lives in
  // such a place (a clone in /tmp), that directory is daxkit's.
  const pkgRoot = fs.realpathSync(path.join(__dirname, '..', '..', '..'));
  const share = hiddenInGuest(pkgRoot) ? pkgRoot : null;
  const dir = fs.mkdtempSync(share ? path.join(share, '.daxkit-bench-vm-') : path.join(os.tmpdir(), 'daxkit-bench-vm-'));
  const removeDir = (): void => {
    cleanups.delete(removeDir);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  cleanups.add(removeDir);
  const out = path.join(dir, 'result.json');
  // Every measurement starts a node process, which takes seconds under TCG.
  const runs = vmTargets(opts).length;
  const groups = opts.bs.length * opts.patterns.length;
  const jobs = runs * opts.rounds * (groups * (opts.backends.length + opts.baselineBackends.length + (opts.fio ? 4 : 0)) + (opts.calibrate ? 30 : 0) + (opts.faults ? 3 : 0));
  const timeout = Math.round(Math.max(1800, 3 * jobs * ((opts.warmupMs + opts.timeMs) / 1000 + 15)));
  const args = [...vmSizes(opts), '--timeout', String(timeout), share ?? dir, '--', process.execPath, path.join(__dirname, '..', 'cli', 'main.js'), 'bench', '--vm-guest', out, '--progress-events', ...guestArgs(opts)];
  const minutes = Math.max(1, Math.round((60 + jobs * ((opts.warmupMs + opts.timeMs) / 1000 + 4)) / 60));
  progress.log(
    `daxkit bench: no DAX on this machine; running inside the emulated-pmem VM (${runs > 1 ? 'fsdax on ext4, then devdax' : 'fsdax on ext4'}), which takes about ${minutes} minute${minutes > 1 ? 's' : ''}: ` +
      'every measurement starts a node process under software emulation',
  );
  try {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(VM_RUNNER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const onLine = (line: string): void => {
        if (line.startsWith(EVENT_PREFIX)) {
          try {
            progress.show(JSON.parse(line.slice(EVENT_PREFIX.length)) as ProgressEvent);
          } catch {
            progress.log(line);
          }
        } else if (line.trim() !== '') {
          progress.log(line);
        }
      };
      readline.createInterface({ input: child.stderr! }).on('line', onLine);
      readline.createInterface({ input: child.stdout! }).on('line', onLine);
      child.on('error', (e) => {
        progress.log(`daxkit bench: cannot start the VM: ${e.message}`);
        resolve(125);
      });
      child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
    });
    progress.clear();
    if (!fs.existsSync(out)) return { error: `the VM run produced no result (exit status ${code}${code === 125 ? ': the VM could not start' : ''})` };
    const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as unknown;
    assertDocument(doc, out);
    return { runs: doc.runs };
  } finally {
    removeDir();
  }
}

/** Writes the files asked for, then the table (or the JSON) on stdout; --report with --svg/--html writes only the files. */
function emit(doc: BenchDocument, opts: BenchOptions): void {
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (opts.output) fs.writeFileSync(opts.output, text);
  if (opts.html) fs.writeFileSync(opts.html, renderHtml(doc));
  if (opts.svg) fs.writeFileSync(opts.svg, renderSvg(doc));
  if (opts.json) process.stdout.write(jsonTerminalSafe(text));
  else if (opts.report === null || (opts.html === null && opts.svg === null)) process.stdout.write(terminalSafe(renderDocument(doc)));
}

/** A saved JSON document; a file that is not one is a usage error. */
function loadDocument(f: string): BenchDocument {
  let d: unknown;
  try {
    d = JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${f}: ${(e as Error).message}`);
  }
  try {
    assertDocument(d, f);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return d;
}

/** The whole command: resolves with the exit status. Usage errors are thrown as UsageError. */
export async function runBench(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (opts.report !== null) {
    emit(loadDocument(opts.report), { ...opts, output: null });
    return 0;
  }
  if (opts.compare) {
    const [a, b] = opts.compare.map(loadDocument);
    const r = compareDocuments(a, b, opts.compare[0], opts.compare[1]);
    process.stdout.write(opts.json ? jsonTerminalSafe(`${JSON.stringify(r.json, null, 2)}\n`) : terminalSafe(r.text));
    return 0;
  }

  const progress = Progress.forTerminal(opts.progressEvents);
  try {
    if (opts.vmGuest !== null) {
      const runs = await guestRun(opts, progress);
      fs.writeFileSync(opts.vmGuest, `${JSON.stringify(document(runs, runContext(), argv), null, 2)}\n`);
      return 0;
    }
    let runs: RunReport[];
    const extra: string[] = [];
    if (opts.target !== null) {
      runs = [await localRun(opts.target, opts, progress, null, [])];
    } else {
      const host = findHostDax();
      const blocker = opts.vm ? vmBlocker() : '--no-vm was given';
      if (host !== null) {
        runs = [await localRun(host.path, opts, progress, null, [`No TARGET given: chose ${host.why}.`])];
      } else if (blocker === null) {
        const r = await vmRun(opts, progress);
        if ('error' in r) {
          extra.push(r.error);
          runs = [await localRun(os.tmpdir(), opts, progress, 'page cache: no DAX available', [`No DAX on this machine, and the emulated-pmem VM failed: ${r.error}.`])];
        } else {
          runs = r.runs;
        }
      } else {
        runs = [await localRun(os.tmpdir(), opts, progress, 'page cache: no DAX available', [`No DAX on this machine (no dax=always mount, no devdax device), and the emulated-pmem VM cannot run: ${blocker}.`])];
      }
    }
    const doc = document(runs, runContext(), argv, extra);
    emit(doc, opts);
    for (const f of doc.failures) process.stderr.write(terminalSafe(`daxkit bench: ${f}\n`));
    return doc.failures.length > 0 ? 1 : 0;
  } catch (e) {
    progress.clear();
    if (e instanceof RefusedError) {
      process.stderr.write(terminalSafe(`daxkit bench: ${e.message}\n`));
      return 1;
    }
    throw e;
  }
}
