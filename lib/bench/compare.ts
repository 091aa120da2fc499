// daxkit bench --compare A.json B.json: two runs side by side, job by job.
import { isUncertain, jobIo, WIDE_CI, type BenchDocument, type JobReport, type RunReport } from './report';
import { fmtNs, fmtRate, fmtRatio } from './units';

export interface CompareRow {
  jobname: string;
  rw: string;
  bs: number;
  a: { bw_bytes: number; iops: number; p99_ns: number } | null;
  b: { bw_bytes: number; iops: number; p99_ns: number } | null;
  /** B's bandwidth over A's. */
  ratio: number | null;
  /** The ratio rests on a figure whose 95% CI is wider than WIDE_CI. */
  uncertain: boolean;
}

export interface CompareJson {
  a: { file: string; time: string; runs: string[] };
  b: { file: string; time: string; runs: string[] };
  pairs: Array<{ a: string; b: string; rows: CompareRow[] }>;
  unmatched: string[];
}

function fig(j: JobReport | undefined): CompareRow['a'] {
  if (!j || j.status !== 'ok') return null;
  const io = jobIo(j);
  return { bw_bytes: io.bw_bytes, iops: io.iops, p99_ns: io.lat_ns.percentile['99.000000'] };
}

/** Runs of A and B paired: by label where the labels match, else in order. */
function pairRuns(a: BenchDocument, b: BenchDocument): { pairs: Array<[RunReport, RunReport]>; unmatched: string[] } {
  const pairs: Array<[RunReport, RunReport]> = [];
  const unmatched: string[] = [];
  const byLabel = a.runs.every((r) => b.runs.some((s) => s.label === r.label));
  if (byLabel) {
    for (const r of a.runs) pairs.push([r, b.runs.find((s) => s.label === r.label)!]);
    for (const s of b.runs) if (!a.runs.some((r) => r.label === s.label)) unmatched.push(`B: ${s.label}`);
  } else {
    const n = Math.min(a.runs.length, b.runs.length);
    for (let i = 0; i < n; i++) pairs.push([a.runs[i], b.runs[i]]);
    for (const r of a.runs.slice(n)) unmatched.push(`A: ${r.label}`);
    for (const r of b.runs.slice(n)) unmatched.push(`B: ${r.label}`);
  }
  return { pairs, unmatched };
}

function order(j: JobReport): string {
  return `${j.role === 'baseline' ? 1 : 0}:${j.rw}:${String(j.bs).padStart(12, '0')}:${j.backend}`;
}

export function compareDocuments(a: BenchDocument, b: BenchDocument, fileA: string, fileB: string): { text: string; json: CompareJson } {
  const { pairs, unmatched } = pairRuns(a, b);
  const json: CompareJson = {
    a: { file: fileA, time: a.time, runs: a.runs.map((r) => r.label) },
    b: { file: fileB, time: b.time, runs: b.runs.map((r) => r.label) },
    pairs: [],
    unmatched,
  };
  const lines = [`A: ${fileA} (${a.time}, daxkit ${a.daxkit_version})`, `B: ${fileB} (${b.time}, daxkit ${b.daxkit_version})`];
  for (const [ra, rb] of pairs) {
    const names = [...new Set([...ra.jobs, ...rb.jobs].sort((x, y) => order(x).localeCompare(order(y))).map((j) => j.jobname))];
    const rows: CompareRow[] = names.map((n) => {
      const ja = ra.jobs.find((j) => j.jobname === n);
      const jb = rb.jobs.find((j) => j.jobname === n);
      const fa = fig(ja);
      const fb = fig(jb);
      const any = (ja ?? jb)!;
      const ratio = fa && fb && fa.bw_bytes > 0 ? fb.bw_bytes / fa.bw_bytes : null;
      return { jobname: n, rw: any.rw, bs: any.bs, a: fa, b: fb, ratio, uncertain: ratio !== null && (isUncertain(ja!) || isUncertain(jb!)) };
    });
    json.pairs.push({ a: ra.label, b: rb.label, rows });
    lines.push('', `A: ${ra.label} (${ra.context.kernel}, ${ra.context.cpu.model}${ra.context.vm.inside ? ', in the VM' : ''})`);
    lines.push(`B: ${rb.label} (${rb.context.kernel}, ${rb.context.cpu.model}${rb.context.vm.inside ? ', in the VM' : ''})`);
    const cells = [['  job', 'A bandwidth', 'B bandwidth', 'B/A', 'A p99', 'B p99']];
    for (const r of rows) {
      cells.push([`  ${r.jobname}`, r.a ? fmtRate(r.a.bw_bytes) : '-', r.b ? fmtRate(r.b.bw_bytes) : '-', `${fmtRatio(r.ratio)}${r.uncertain ? ' ?' : ''}`, r.a ? fmtNs(r.a.p99_ns) : '-', r.b ? fmtNs(r.b.p99_ns) : '-']);
    }
    const w = cells[0].map((_, i) => cells.reduce((m, c) => Math.max(m, c[i].length), 0));
    for (const c of cells) lines.push(c.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  '));
  }
  if (json.pairs.some((p) => p.rows.some((r) => r.uncertain))) lines.push('', `? the ratio rests on a figure whose 95% CI is wider than ±${WIDE_CI * 100}%: the difference may not be real`);
  if (unmatched.length) lines.push('', `Runs without a counterpart: ${unmatched.join('; ')}`);
  return { text: `${lines.join('\n')}\n`, json };
}
