// The question people bring to daxkit bench, answered in plain words: how
// much faster are durable writes and reads through DAX than through the page
// cache, here? For each direction, block size and pattern: the fastest way
// through DAX against pwrite() + fdatasync() or pread() of the page-cache
// baseline, and whether a figure under it is too uncertain to rest on.
import type { BackendId, TargetKind } from './backends';
import { ciOf, jobIo, referenceOf, uncertainty, type Answer, type AnswerFigure, type JobReport, type RunReport } from './report';
import { fmtRate, fmtSize } from './units';

/** What each way of moving bytes is, for a reader who has not read the table's legend. */
export const PLAIN: Record<BackendId, string> = {
  'mmap-scan': 'a zero-copy scan of the mapping',
  'mmap-read': 'readInto() from the mapping',
  pread: 'pread()',
  'odirect-read': 'O_DIRECT pread()',
  'mmap-persist': 'stores + persist()',
  'copy-persist': 'copyPersist()',
  'mmap-msync': 'stores + msync()',
  'pwrite-fdatasync': 'pwrite() + fdatasync()',
  'odirect-write': 'O_DIRECT|O_DSYNC pwrite()',
};

function figure(j: JobReport): AnswerFigure {
  return { jobname: j.jobname, backend: j.backend, bw_bytes: jobIo(j).bw_bytes, ci: ciOf(j) };
}

/** The answers of a run; none when the target is not DAX (there is nothing to compare). */
export function answersOf(kind: TargetKind, jobs: JobReport[]): Answer[] {
  if (kind === 'pagecache') return [];
  const out: Answer[] = [];
  const dax = jobs.filter((j) => j.role === 'target' && j.status === 'ok');
  for (const direction of ['write', 'read'] as const) {
    const groups = new Map<string, JobReport[]>();
    for (const j of dax.filter((x) => (direction === 'read') === (x.rw === 'read' || x.rw === 'randread'))) {
      const k = `${j.pattern}:${j.bs}`;
      groups.set(k, [...(groups.get(k) ?? []), j]);
    }
    for (const js of [...groups.values()].sort((a, b) => a[0].pattern.localeCompare(b[0].pattern) * -1 || a[0].bs - b[0].bs)) {
      const best = js.reduce((a, b) => (jobIo(b).bw_bytes > jobIo(a).bw_bytes ? b : a));
      const ref = referenceOf(jobs, best);
      if (ref === undefined || ref.role !== 'baseline' || jobIo(ref).bw_bytes <= 0) continue;
      const d = figure(best);
      const p = figure(ref);
      out.push({
        direction,
        bs: best.bs,
        pattern: best.pattern,
        dax: d,
        pagecache: p,
        ratio: d.bw_bytes / p.bw_bytes,
        uncertain: uncertainty([
          { name: `${PLAIN[best.backend]} through DAX`, ci: d.ci },
          { name: `${PLAIN[ref.backend]} through the page cache`, ci: p.ci },
        ]),
      });
    }
  }
  return out;
}

/** '40x faster', '2.1x slower' */
export function fasterOrSlower(ratio: number): string {
  const r = ratio >= 1 ? ratio : 1 / ratio;
  return `${r >= 10 ? Math.round(r) : r.toFixed(1)}x ${ratio >= 1 ? 'faster' : 'slower'}`;
}

/** The answer as lines of text: a heading, then one line per direction, block size and pattern. */
export function answerLines(r: RunReport): string[] {
  const answers = r.answer ?? answersOf(r.target.kind, r.jobs);
  if (r.target.kind === 'pagecache') {
    return [
      'The answer: none here. There is no DAX on this target, so every figure below is the page cache; run daxkit bench on a DAX mount or a devdax device, or as root with no TARGET (it starts the emulated-pmem VM).',
    ];
  }
  if (answers.length === 0) return ['The answer: none: no page-cache baseline to compare with (--baseline none, or its jobs did not run).'];
  const rows = answers.map((a) => {
    const what = `${a.direction === 'write' ? 'durable writes' : 'reads'} of ${fmtSize(a.bs)}${r.options.patterns.length > 1 ? (a.pattern === 'seq' ? ', sequential' : ', random') : ''}`;
    const how = `${PLAIN[a.dax.backend]} ${fmtRate(a.dax.bw_bytes)}, against ${PLAIN[a.pagecache.backend]} ${fmtRate(a.pagecache.bw_bytes)} through the page cache`;
    return [what, `${fasterOrSlower(a.ratio)}${a.uncertain ? ' ?' : ''}`, how, a.uncertain ? `(${a.uncertain})` : ''];
  });
  const w = [0, 1].map((i) => rows.reduce((m, x) => Math.max(m, x[i].length), 0));
  const pattern = r.options.patterns.length > 1 ? '' : ` (${r.options.patterns[0] === 'seq' ? 'sequential' : 'random'})`;
  return [
    `The answer${pattern}: the fastest way through DAX against the same through the page cache${r.baseline ? ` (${r.baseline.path})` : ''}`,
    ...rows.map(([what, ratio, how, why]) => `  ${what.padEnd(w[0])}  ${ratio.padStart(w[1])} through DAX: ${how}${why ? ` ${why}` : ''}`),
  ];
}
