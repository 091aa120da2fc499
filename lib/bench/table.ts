// The human report: what was measured where, the answer in plain words, then
// one table per direction and pattern with each backend's ratio to the
// page-cache baseline, then fio, the calibration, page faults and notes.
import { answerLines } from './answer';
import { BACKEND_IDS, BACKENDS } from './backends';
import { CAL_ITEMS } from './calibrate';
import { ciOf, fmtCi, isUncertain, jobIo, referenceOf, WIDE_CI, type BenchDocument, type JobReport, type RunReport, type TargetReport } from './report';
import { fmtCount, fmtNs, fmtRate, fmtRatio, fmtSize } from './units';

function pad(cells: string[][], right: boolean[]): string[] {
  const w = cells[0].map((_, i) => cells.reduce((m, r) => Math.max(m, (r[i] ?? '').length), 0));
  return cells.map((r) =>
    r
      .map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i])))
      .join('  ')
      .trimEnd(),
  );
}

export function describeTargetLine(t: TargetReport): string {
  const where =
    t.kind === 'devdax'
      ? `device DAX ${t.device ? `${t.device.name}, ${fmtSize(t.device.size)}, align ${fmtSize(t.device.align)}` : ''}`
      : t.fs
        ? `${t.kind === 'fsdax' ? 'fsdax' : 'page cache'} on ${t.fs.type} ${t.fs.source} at ${t.fs.mount_point} (${[t.fs.options, t.fs.super_options].filter(Boolean).join(' | ')}; dax=${t.fs.dax_mode})`
        : t.kind;
  return `${t.path}: ${where}`;
}

export function mappingLine(t: TargetReport): string {
  const m = t.mapping;
  const parts = [
    `working set ${fmtSize(t.size)}`,
    `mapping at ${m.address} (${m.address_2m_aligned ? '2 MiB-aligned' : 'NOT 2 MiB-aligned'})`,
    m.map_sync ? 'MAP_SYNC' : 'no MAP_SYNC',
    `persist() = ${m.flush_mechanism}`,
  ];
  if (t.extents) parts.push(`${t.extents.aligned_2m} of ${t.extents.count} extents 2 MiB-aligned`);
  return parts.join('; ');
}

function machineLine(r: RunReport): string {
  const c = r.context;
  const flush = [c.cpu.clwb && 'CLWB', c.cpu.clflushopt && 'CLFLUSHOPT', c.cpu.clflush && 'CLFLUSH'].filter(Boolean).join(', ');
  const load = c.cpu_during_run ? `; during the run all CPUs were ${c.cpu_during_run.busy_pct}% busy (the benchmark keeps about one busy), ${c.cpu_during_run.steal_pct}% stolen` : '';
  return `Linux ${c.kernel}, ${c.cpu.model} (${c.cpu.count} CPUs), flush: ${c.cpu.flush} (has ${flush || 'none'}), Node ${c.node}, daxkit ${c.daxkit_version}${c.fio ? `, ${c.fio}` : ''}; load average ${c.loadavg.join(' ')} at the start${load}`;
}

/**
 * The 95% CI shown for a job (see ciOf). '*': the bound asked for was not
 * reached.
 */
export function ciCell(j: JobReport): string {
  const v = ciOf(j);
  return `${v !== null && v <= j.sampling!.ci_target ? '' : '*'}${fmtCi(v)}`;
}

/** '?' after a figure whose CI is wider than WIDE_CI, or after a ratio that rests on one. */
export function mark(uncertain: boolean): string {
  return uncertain ? ' ?' : '';
}

/** Whether a job's ratio to the page cache rests on an uncertain figure (its own or its reference's). */
export function ratioUncertain(jobs: JobReport[], j: JobReport): boolean {
  const ref = referenceOf(jobs, j);
  return isUncertain(j) || (ref !== undefined && isUncertain(ref));
}

function row(j: JobReport, jobs: JobReport[]): string[] {
  const name = `${j.role === 'baseline' ? 'baseline ' : ''}${j.backend}`;
  if (j.status !== 'ok') return [name, fmtSize(j.bs), j.status, '', '', '', '', '', '', ''];
  const io = jobIo(j);
  const s = j.sampling!;
  // '~': latency of batch means, the operations being too short to time one by one.
  const lat = (x: number): string => `${s.lat_mode === 'batch' ? '~' : ''}${fmtNs(x)}`;
  const ci = ciCell(j);
  return [
    name,
    fmtSize(j.bs),
    `${fmtRate(io.bw_bytes)}${mark(isUncertain(j))}`,
    fmtCount(io.iops),
    lat(io.lat_ns.percentile['50.000000']),
    lat(io.lat_ns.percentile['99.000000']),
    lat(io.lat_ns.percentile['99.900000']),
    lat(io.lat_ns.max),
    ci,
    j.vs_baseline === null ? '-' : `${fmtRatio(j.vs_baseline)}${mark(ratioUncertain(jobs, j))}`,
  ];
}

function jobTables(r: RunReport): string[] {
  const out: string[] = [];
  const order = (j: JobReport): number => j.bs * 100 + BACKEND_IDS.indexOf(j.backend) + (j.role === 'baseline' ? 50 : 0);
  const baseName = r.baseline ? 'baseline file' : 'this file';
  for (const dir of ['read', 'write'] as const) {
    for (const pattern of r.options.patterns) {
      const js = r.jobs.filter((j) => BACKENDS[j.backend].dir === dir && j.pattern === pattern).sort((a, b) => order(a) - order(b));
      if (js.length === 0) continue;
      const ref = dir === 'read' ? 'pread' : 'pwrite+fdatasync';
      out.push('', `${dir === 'read' ? 'Reads' : 'Writes'}, ${pattern === 'seq' ? 'sequential' : 'random'}`);
      const cells = [['  backend', 'bs', 'bandwidth', 'IOPS', 'p50', 'p99', 'p99.9', 'max', '95% CI', `vs ${ref} (${baseName})`], ...js.map((j) => {
        const c = row(j, r.jobs);
        c[0] = `  ${c[0]}`;
        return c;
      })];
      let lastBs = -1;
      const lines = pad(cells, [false, true, true, true, true, true, true, true, true, true]);
      out.push(lines[0]);
      js.forEach((j, i) => {
        if (lastBs !== -1 && j.bs !== lastBs) out.push('');
        lastBs = j.bs;
        out.push(lines[i + 1]);
      });
    }
  }
  return out;
}

function legend(r: RunReport): string[] {
  const out = ['', 'How each backend moves the bytes here:'];
  const seen = new Set<string>();
  for (const id of BACKEND_IDS) {
    for (const role of ['target', 'baseline'] as const) {
      const j = r.jobs.find((x) => x.backend === id && x.role === role && x.status === 'ok');
      if (!j || seen.has(`${role}:${id}`)) continue;
      seen.add(`${role}:${id}`);
      out.push(`  ${role === 'baseline' ? 'baseline ' : ''}${id}: ${BACKENDS[id].op}; ${j.mechanism}`);
    }
  }
  const anyBatch = r.jobs.some((j) => j.sampling?.lat_mode === 'batch');
  const anyCi = r.jobs.some((j) => j.status === 'ok' && ciCell(j).startsWith('*'));
  const anyWide = r.jobs.some(isUncertain);
  if (anyBatch) {
    const t = r.jobs.find((j) => j.sampling)?.sampling?.timer_overhead_ns ?? 0;
    out.push(`  ~ latency of the mean operation in each timed batch: these operations are too short to time one by one (reading the clock twice costs ${fmtNs(t)})`);
  }
  const ciWhat = r.options.rounds > 2 ? `between the ${r.options.rounds} rounds (one process each)` : 'within one process per job (--rounds 3 or more also shows the spread between processes)';
  out.push(`  95% CI: the confidence interval of the mean, ${ciWhat}`);
  if (anyCi) out.push(`  * the bound of ±${(r.options.ci_target * 100).toFixed(1)}% was not reached (the time cap came first, or the rounds differ more)`);
  if (anyWide) out.push(`  ? the 95% CI is wider than ±${WIDE_CI * 100}%: the figure is uncertain, and so is any ratio that rests on it (--time or --rounds narrow it; so does a quieter machine)`);
  return out;
}

function fioSection(r: RunReport): string[] {
  const out: string[] = ['', 'fio on the same file, block size and pattern (the same run):'];
  if (r.fio.skipped) return [...out, `  not run: ${r.fio.skipped}`];
  if (r.fio.comparisons.length === 0) return [...out, '  no comparable engine'];
  const cells = [['  fio', 'rw', 'bs', 'fio', 'daxkit', 'daxkit/fio', 'per op', '']];
  for (const c of r.fio.comparisons) {
    cells.push([
      `  ${c.role === 'baseline' ? 'baseline ' : ''}${c.engine} vs ${c.daxkit_job.replace(/^baseline:/, '').split('/')[0]}`,
      c.rw,
      fmtSize(c.bs),
      c.fio ? fmtRate(c.fio.bw_bytes) : 'failed',
      c.daxkit_bw_bytes === null ? '-' : fmtRate(c.daxkit_bw_bytes),
      fmtRatio(c.ratio),
      c.extra_ns_per_op === null ? '' : `${c.extra_ns_per_op >= 0 ? '+' : '-'}${fmtNs(Math.abs(c.extra_ns_per_op))}`,
      c.agree === null ? (c.error ? c.error.slice(0, 60) : '') : `${c.agree ? 'within 10%' : 'DIFFERS'}${c.trust_check ? ' (page cache: must agree)' : ''}${c.uncertain ? ` (${c.uncertain})` : ''}`,
    ]);
  }
  for (const l of pad(cells, [false, false, true, true, true, true, true, false])) out.push(l);
  out.push('  per op: how much longer one daxkit operation takes than one of fio\'s (1/IOPS); the same amount at every block size is per-call overhead');
  out.push('  must agree: the same system call through the page cache, so daxkit and fio must measure the same there, or one of them measures wrong');
  return out;
}

function calibrationSection(r: RunReport): string[] {
  const c = r.calibration;
  if (!c) return [];
  const out = ['', `Native calibration: what daxkit's calls cost against the same work in plain C++ (${c.memory.note}):`];
  const cells: string[][] = [];
  for (const id of CAL_ITEMS) {
    const it = c.items[id];
    if (!it) continue;
    const f = (x: number): string => (it.unit === 'ns' ? fmtNs(x) : fmtRate(x));
    const v = it.status !== 'ok' ? `failed: ${it.error ?? ''}`.slice(0, 60) : f(it.value);
    const range = it.round_values.length > 1 ? `${f(it.round_values.reduce((a, b) => Math.min(a, b)))} .. ${f(it.round_values.reduce((a, b) => Math.max(a, b)))}` : '';
    cells.push([`  ${id}`, v, range, it.description]);
  }
  out.push(`  (the median of ${CAL_ITEMS.reduce((m, i) => Math.max(m, c.items[i]?.rounds ?? 0), 0)} rounds, a process each, and their range)`);
  for (const l of pad(cells, [false, true, true, false])) out.push(l);
  out.push('', "daxkit's goals for its own overhead (ratios measured in this run):");
  for (const t of c.targets) {
    const verdict = t.met === null ? 'n/a    ' : t.met ? 'met    ' : 'NOT MET';
    out.push(`  [${verdict}] ${t.claim}: ${fmtRatio(t.ratio)}${mark(Boolean(t.uncertain))} (goal ${t.cmp} ${t.goal}x; rounds ${t.round_ratios.map((x) => fmtRatio(x)).join(' ')}, met in ${t.rounds_met} of ${t.round_ratios.length})`);
    out.push(`            ${t.numbers}`);
    if (t.uncertain) out.push(`            ${t.uncertain}: the verdict may not hold`);
    if (t.note) out.push(`            ${t.note}`);
  }
  return out;
}

function faultSection(r: RunReport): string[] {
  if (r.page_faults.length === 0) return [];
  const out = ['', 'Page faults while reading one byte of every 4 KiB page of a mapping:'];
  for (const f of r.page_faults) {
    out.push(`  ${f.path} (${f.kind}, ${fmtSize(f.length)}${f.status === 'ok' ? `, mapped at ${f.address}` : ''}): ${f.status === 'ok' ? `${f.minor + f.major} faults; ${f.verdict}` : `failed: ${f.error}`}`);
  }
  return out;
}

export function renderRun(r: RunReport): string {
  const c = r.context;
  const lines = [`daxkit bench: ${r.label} (${c.date})`, `  target    ${describeTargetLine(r.target)}`, `            ${mappingLine(r.target)}`, `            O_DIRECT: ${r.target.odirect}`, `            data: ${r.target.data}`];
  if (r.baseline) lines.push(`  baseline  ${describeTargetLine(r.baseline)}`);
  lines.push(`  machine   ${machineLine(r)}`);
  const o = r.options;
  lines.push(
    `  sampling  ${fmtSize(o.size)} working set; warm-up ${o.warmup_ms / 1000} s, then until the 95% CI is within ±${(o.ci_target * 100).toFixed(1)}% of the mean or ${o.time_ms / 1000} s per job; ${o.rounds} round${o.rounds > 1 ? 's' : ''}, each job in a fresh process${o.full === false ? '; the quick set (--full adds 64 KiB, random offsets, O_DIRECT, fio, the calibration and page faults)' : ''}`,
  );
  lines.push(`  caches    ${r.page_cache.detail}`);
  if (c.vm.statement) lines.push('', `!! ${c.vm.statement}`);
  const parts = [[''], answerLines(r), jobTables(r), legend(r), fioSection(r), calibrationSection(r), faultSection(r)];
  if (r.notes.length) parts.push(['', 'Notes:'], r.notes.map((n) => `  - ${n}`));
  return lines.concat(...parts).join('\n');
}

export function renderDocument(d: BenchDocument): string {
  const parts = d.runs.map(renderRun);
  if (d.failures.length) parts.push(`FAILURES:\n${d.failures.map((f) => `  - ${f}`).join('\n')}`);
  return `${parts.join('\n\n')}\n`;
}
