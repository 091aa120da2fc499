// --html FILE: one self-contained page (inline CSS and SVG, no script, no
// font, no network) with the charts a person looks at first: bandwidth by
// block size, and the latency percentiles of every job. --svg FILE: the
// bandwidth charts alone, as an image for a README.
import { answerLines } from './answer';
import { BACKEND_IDS, BACKENDS, type BackendId } from './backends';
import { CAL_ITEMS } from './calibrate';
import { ciOf, fmtCi, isUncertain, jobIo, WIDE_CI, type BenchDocument, type JobReport, type Pattern, type RunReport } from './report';
import { ciCell, describeTargetLine, mappingLine, mark, ratioUncertain } from './table';
import { fmtBytes, fmtCount, fmtNs, fmtRate, fmtRatio, fmtSize, GiB, KiB, MiB } from './units';

const COLORS: Record<BackendId, string> = {
  'mmap-scan': '#1f6feb',
  'mmap-read': '#0fa3b1',
  pread: '#6e7781',
  'odirect-read': '#9a8c00',
  'mmap-persist': '#d1242f',
  'copy-persist': '#e36209',
  'mmap-msync': '#8250df',
  'pwrite-fdatasync': '#7d4e24',
  'odirect-write': '#bf3989',
};

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function n(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

interface Series {
  name: string;
  color: string;
  dashed: boolean;
  /** ci: half-width of the 95% CI over y, when it is wider than WIDE_CI (drawn hollow, with its interval). */
  points: Array<{ x: number; y: number; tip: string; ci: number | null }>;
}

/** The note under a chart that has uncertain points. */
const HOLLOW_NOTE = `Hollow points with a bar: the 95% confidence interval (the bar) is wider than ±${WIDE_CI * 100}%, so the figure is uncertain.`;

function anyHollow(series: Series[]): boolean {
  return series.some((s) => s.points.some((p) => p.ci !== null));
}

interface Tick {
  v: number;
  label: string;
}

// Log axes run from the last gridline at or below the smallest value to the
// first at or above the largest, so both ends carry a label.
const RATE_TICKS: Tick[] = ([
  [1, 'B/s'],
  [KiB, 'KiB/s'],
  [MiB, 'MiB/s'],
  [GiB, 'GiB/s'],
] as const).flatMap(([u, name]) => [1, 10, 100].map((m) => ({ v: m * u, label: `${m} ${name}` })));
const NS_TICKS: Tick[] = ['ns', 'µs', 'ms', 's'].flatMap((u, i) => [1, 10, 100].map((m) => ({ v: m * 1000 ** i, label: `${m} ${u}` })));

function axis(ticks: Tick[], min: number, max: number): { lo: number; hi: number; ticks: Tick[] } {
  let lo = ticks[0].v;
  let hi = ticks[ticks.length - 1].v;
  for (const t of ticks) if (t.v <= min) lo = t.v;
  for (const t of [...ticks].reverse()) if (t.v >= max) hi = t.v;
  if (hi <= lo) hi = lo * 10;
  return { lo, hi, ticks: ticks.filter((t) => t.v >= lo && t.v <= hi) };
}

/** Bandwidth (log y) against block size (one column per size). */
function bandwidthChart(title: string, sizes: number[], series: Series[], width = 460, height = 300): string {
  const m = { l: 74, r: 30, t: 30, b: 40 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y > 0);
  const parts: string[] = [];
  parts.push(`<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}" class="chart"><rect width="${width}" height="${height}" rx="8" class="bgc"/>`);
  parts.push(`<text x="${m.l}" y="18" class="ct">${esc(title)}</text>`);
  if (ys.length === 0) {
    parts.push(`<text x="${m.l + w / 2}" y="${m.t + h / 2}" text-anchor="middle" class="muted">no results</text></svg>`);
    return parts.join('');
  }
  const { lo, hi, ticks } = axis(RATE_TICKS, ys.reduce((a, b) => Math.min(a, b)), ys.reduce((a, b) => Math.max(a, b)));
  const y = (v: number): number => m.t + h - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;
  const x = (i: number): number => m.l + (sizes.length === 1 ? w / 2 : (i / (sizes.length - 1)) * w);
  for (const t of ticks) {
    parts.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${n(y(t.v))}" y2="${n(y(t.v))}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${n(y(t.v) + 4)}" text-anchor="end" class="tick">${t.label}</text>`);
  }
  sizes.forEach((s, i) => parts.push(`<text x="${n(x(i))}" y="${m.t + h + 18}" text-anchor="middle" class="tick">${esc(fmtSize(s))}</text>`));
  parts.push(`<text x="${m.l + w / 2}" y="${height - 4}" text-anchor="middle" class="muted">block size</text>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + h}" class="axis"/><line x1="${m.l}" x2="${m.l + w}" y1="${m.t + h}" y2="${m.t + h}" class="axis"/>`);
  for (const s of series) {
    const pts = s.points.filter((p) => p.y > 0);
    if (pts.length === 0) continue;
    const d = pts.map((p, k) => `${k ? 'L' : 'M'}${n(x(p.x))} ${n(y(p.y))}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    for (const p of pts) {
      const tip = `<title>${esc(`${s.name}, ${fmtSize(sizes[p.x])}: ${p.tip}`)}</title>`;
      if (p.ci === null) {
        parts.push(`<circle cx="${n(x(p.x))}" cy="${n(y(p.y))}" r="3.5" fill="${s.color}">${tip}</circle>`);
        continue;
      }
      // The interval, clipped to the axis, and a hollow point.
      const top = y(Math.min(hi, p.y * (1 + p.ci)));
      const bottom = y(Math.max(lo, p.y * Math.max(1 - p.ci, 1e-6)));
      parts.push(`<g>${tip}<line x1="${n(x(p.x))}" x2="${n(x(p.x))}" y1="${n(top)}" y2="${n(bottom)}" stroke="${s.color}" stroke-width="1.5"/><circle cx="${n(x(p.x))}" cy="${n(y(p.y))}" r="4.5" fill="#ffffff" stroke="${s.color}" stroke-width="2"/></g>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

function seriesFor(r: RunReport, dir: 'read' | 'write', pattern: Pattern): Series[] {
  const out: Series[] = [];
  for (const role of ['target', 'baseline'] as const) {
    for (const id of BACKEND_IDS) {
      if (BACKENDS[id].dir !== dir) continue;
      const js = r.jobs.filter((j) => j.role === role && j.backend === id && j.pattern === pattern && j.status === 'ok');
      if (js.length === 0) continue;
      out.push({
        name: role === 'baseline' ? `${id} (page-cache baseline)` : id,
        color: COLORS[id],
        dashed: role === 'baseline',
        points: js.map((j) => {
          const io = jobIo(j);
          const unsure = isUncertain(j);
          return {
            x: r.options.bs.indexOf(j.bs),
            y: io.bw_bytes,
            tip: `${fmtRate(io.bw_bytes)}, ${fmtCount(io.iops)} IOPS, p99 ${fmtNs(io.lat_ns.percentile['99.000000'])}, 95% CI ${fmtCi(ciOf(j))}${unsure ? ' (uncertain)' : ''}`,
            ci: unsure ? (ciOf(j) ?? 1) : null,
          };
        }),
      });
    }
  }
  return out;
}

function legendHtml(series: Series[]): string {
  return `<ul class="legend">${series
    .map((s) => `<li><svg width="26" height="10" aria-hidden="true"><line x1="1" x2="25" y1="5" y2="5" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/></svg>${esc(s.name)}</li>`)
    .join('')}</ul>`;
}

/** p50, p99, p99.9 and max of every job, one row each, on a log time axis. */
function latencyChart(title: string, jobs: JobReport[], width = 940): string {
  const rows = jobs.filter((j) => j.status === 'ok');
  const rowH = 18;
  const m = { l: 250, r: 20, t: 34, b: 34 };
  const height = m.t + m.b + Math.max(1, rows.length) * rowH;
  const w = width - m.l - m.r;
  const parts = [`<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}" class="chart wide"><rect width="${width}" height="${height}" rx="8" class="bgc"/>`, `<text x="10" y="18" class="ct">${esc(title)}</text>`];
  if (rows.length === 0) return `${parts.join('')}<text x="${width / 2}" y="${m.t + 12}" text-anchor="middle" class="muted">no results</text></svg>`;
  const vals = rows.flatMap((j) => {
    const l = jobIo(j).lat_ns;
    return [l.percentile['50.000000'], l.max].filter((v) => v > 0);
  });
  const { lo, hi, ticks } = axis(NS_TICKS, vals.reduce((a, b) => Math.min(a, b)), vals.reduce((a, b) => Math.max(a, b)));
  const x = (v: number): number => m.l + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * w;
  for (const t of ticks) {
    parts.push(`<line x1="${n(x(t.v))}" x2="${n(x(t.v))}" y1="${m.t - 4}" y2="${height - m.b}" class="grid"/>`);
    parts.push(`<text x="${n(x(t.v))}" y="${height - m.b + 16}" text-anchor="middle" class="tick">${esc(t.label)}</text>`);
  }
  // The key, drawn once at the top right.
  const kx = width - m.r - 330;
  parts.push(
    `<g class="tick"><circle cx="${kx}" cy="18" r="4" class="p50"/><text x="${kx + 8}" y="22">p50</text>` +
      `<rect x="${kx + 48}" y="14" width="8" height="8" class="p99"/><text x="${kx + 60}" y="22">p99</text>` +
      `<path d="M${kx + 104} 23 l5 -9 l5 9 z" class="p999"/><text x="${kx + 118}" y="22">p99.9</text>` +
      `<line x1="${kx + 168}" x2="${kx + 168}" y1="13" y2="24" class="pmax"/><text x="${kx + 174}" y="22">max</text>` +
      `<text x="${kx + 214}" y="22">~ batch means</text></g>`,
  );
  rows.forEach((j, i) => {
    const cy = m.t + i * rowH + rowH / 2;
    const l = jobIo(j).lat_ns;
    const c = COLORS[j.backend];
    const batch = j.sampling?.lat_mode === 'batch';
    const label = `${batch ? '~ ' : ''}${j.role === 'baseline' ? 'baseline ' : ''}${j.backend} ${fmtSize(j.bs)}`;
    const tip = `${label}: p50 ${fmtNs(l.percentile['50.000000'])}, p99 ${fmtNs(l.percentile['99.000000'])}, p99.9 ${fmtNs(l.percentile['99.900000'])}, max ${fmtNs(l.max)}${batch ? ' (means of timed batches: too short to time one by one)' : ''}`;
    if (i > 0 && rows[i - 1].bs !== j.bs) parts.push(`<line x1="10" x2="${width - m.r}" y1="${m.t + i * rowH}" y2="${m.t + i * rowH}" class="sep"/>`);
    parts.push(`<g><title>${esc(tip)}</title>`);
    parts.push(`<text x="${m.l - 10}" y="${n(cy + 4)}" text-anchor="end" class="tick">${esc(label)}</text>`);
    parts.push(`<line x1="${n(x(l.percentile['50.000000']))}" x2="${n(x(l.max))}" y1="${n(cy)}" y2="${n(cy)}" stroke="${c}" stroke-width="2" opacity="0.45"/>`);
    parts.push(`<line x1="${n(x(l.max))}" x2="${n(x(l.max))}" y1="${n(cy - 6)}" y2="${n(cy + 6)}" stroke="${c}" stroke-width="2"/>`);
    parts.push(`<path d="M${n(x(l.percentile['99.900000']) - 5)} ${n(cy + 5)} l5 -10 l5 10 z" fill="${c}"/>`);
    parts.push(`<rect x="${n(x(l.percentile['99.000000']) - 4)}" y="${n(cy - 4)}" width="8" height="8" fill="${c}"/>`);
    parts.push(`<circle cx="${n(x(l.percentile['50.000000']))}" cy="${n(cy)}" r="5" fill="${c}" stroke="var(--bg)" stroke-width="1.5"/>`);
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('');
}

const CSS = `
:root { --bg:#ffffff; --fg:#1f2328; --muted:#656d76; --grid:#d8dee4; --card:#f6f8fa; --warn-bg:#fff8c5; --warn-fg:#4d3800; --ok:#1a7f37; --bad:#cf222e; }
@media (prefers-color-scheme: dark) { :root { --bg:#0d1117; --fg:#e6edf3; --muted:#8d96a0; --grid:#30363d; --card:#161b22; --warn-bg:#3b2e00; --warn-fg:#f2cc60; --ok:#3fb950; --bad:#f85149; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1000px; padding: 24px; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { margin: 0; font-size: 28px; } h2 { margin: 40px 0 6px; font-size: 22px; border-bottom: 1px solid var(--grid); padding-bottom: 6px; } h3 { margin: 28px 0 8px; font-size: 17px; }
.sub, .muted { color: var(--muted); fill: var(--muted); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.banner { background: var(--warn-bg); color: var(--warn-fg); padding: 10px 14px; border-radius: 8px; margin: 12px 0; }
dl.ctx { display: grid; grid-template-columns: 110px 1fr; gap: 4px 14px; background: var(--card); padding: 12px 16px; border-radius: 8px; margin: 12px 0; }
dl.ctx dt { color: var(--muted); } dl.ctx dd { margin: 0; overflow-wrap: anywhere; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { max-width: 100%; height: auto; } svg.chart .bgc { fill: var(--card); }
svg.chart text { fill: var(--fg); font-size: 11px; } svg.chart .ct { font-size: 13px; font-weight: 600; }
svg.chart .tick { fill: var(--muted); } svg.chart .muted { fill: var(--muted); }
svg.chart .grid { stroke: var(--grid); stroke-width: 1; } svg.chart .axis { stroke: var(--muted); stroke-width: 1; } svg.chart .sep { stroke: var(--grid); stroke-dasharray: 2 3; }
svg.chart .p50 { fill: var(--muted); } svg.chart .p99 { fill: var(--muted); } svg.chart .p999 { fill: var(--muted); } svg.chart .pmax { stroke: var(--muted); stroke-width: 2; }
ul.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; } ul.legend svg { vertical-align: middle; margin-right: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--grid); white-space: nowrap; } th:first-child, td:first-child, td.l, th.l { text-align: left; }
td.wrap { white-space: normal; text-align: left; min-width: 220px; }
.scroll { overflow-x: auto; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.card { background: var(--card); border-radius: 8px; padding: 12px 14px; border-left: 4px solid var(--grid); }
.card.ok { border-left-color: var(--ok); } .card.bad { border-left-color: var(--bad); }
.card .big { font-size: 26px; font-weight: 600; } .card .verdict { font-weight: 600; } .ok .verdict { color: var(--ok); } .bad .verdict { color: var(--bad); }
.agree { color: var(--ok); } .differs { color: var(--bad); font-weight: 600; }
details { margin: 12px 0; } summary { cursor: pointer; color: var(--muted); }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
`;

function contextHtml(r: RunReport): string {
  const c = r.context;
  const rows: Array<[string, string]> = [
    ['target', `${esc(describeTargetLine(r.target))}<br>${esc(mappingLine(r.target))}`],
    ['data', esc(r.target.data)],
    ['O_DIRECT', esc(r.target.odirect)],
  ];
  if (r.baseline) rows.push(['baseline', esc(describeTargetLine(r.baseline))]);
  const flush = [c.cpu.clwb && 'CLWB', c.cpu.clflushopt && 'CLFLUSHOPT', c.cpu.clflush && 'CLFLUSH'].filter(Boolean).join(', ');
  rows.push(
    [
      'machine',
      esc(
        `${c.cpu.model}, ${c.cpu.count} CPUs, ${fmtBytes(c.memory_bytes)} RAM; flush instruction used: ${c.cpu.flush} (the CPU has ${flush || 'none'}); load average ${c.loadavg.join(' ')} at the start` +
          (c.cpu_during_run ? `; all CPUs ${c.cpu_during_run.busy_pct}% busy during the run (the benchmark keeps about one busy), ${c.cpu_during_run.steal_pct}% stolen` : ''),
      ),
    ],
    ['software', esc(`Linux ${c.kernel} (${c.kernel_version}); Node ${c.node}; daxkit ${c.daxkit_version}; ${c.fio ?? 'no fio'}; THP ${c.transparent_hugepage.enabled ?? '?'}, shmem THP ${c.transparent_hugepage.shmem_enabled ?? '?'}; clocksource ${c.clocksource ?? '?'}`)],
    [
      'sampling',
      esc(
        `${fmtSize(r.options.size)} working set; every job in a fresh process; warm-up ${r.options.warmup_ms / 1000} s, then until the 95% CI is within ±${(r.options.ci_target * 100).toFixed(1)}% of the mean or ${r.options.time_ms / 1000} s; ${r.options.rounds} round(s). ${r.page_cache.detail}`,
      ),
    ],
    ['caches', esc(r.page_cache.detail)],
    ['date', esc(c.date)],
  );
  return `<dl class="ctx">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function fioHtml(r: RunReport): string {
  if (r.fio.skipped) return `<p class="muted">fio not run: ${esc(r.fio.skipped)}</p>`;
  if (r.fio.comparisons.length === 0) return '<p class="muted">No fio engine matches these backends.</p>';
  const rows = r.fio.comparisons.map((c) => {
    const verdict =
      (c.agree === null ? `<span class="muted">${esc(c.error ?? '')}</span>` : c.agree ? `<span class="agree">within 10%</span>` : `<span class="differs">differs</span>`) +
      (c.uncertain ? ` <span class="muted">(${esc(c.uncertain)})</span>` : '');
    return `<tr><td>${esc(`${c.role === 'baseline' ? 'baseline ' : ''}${c.engine}`)}</td><td class="wrap">${esc(c.what)}</td><td>${esc(c.rw)}</td><td>${esc(fmtSize(c.bs))}</td><td>${c.fio ? fmtRate(c.fio.bw_bytes) : 'failed'}</td><td>${esc(c.daxkit_job)}</td><td>${c.daxkit_bw_bytes === null ? '-' : fmtRate(c.daxkit_bw_bytes)}</td><td>${fmtRatio(c.ratio)}</td><td>${c.extra_ns_per_op === null ? '' : esc(`${c.extra_ns_per_op >= 0 ? '+' : '-'}${fmtNs(Math.abs(c.extra_ns_per_op))}`)}</td><td>${verdict}${c.trust_check ? ' <span class="muted">(page cache: must agree)</span>' : ''}</td></tr>`;
  });
  return `<div class="scroll"><table><thead><tr><th>fio engine</th><th class="l">what fio does</th><th>rw</th><th>bs</th><th>fio</th><th>daxkit job</th><th>daxkit</th><th>daxkit/fio</th><th>per op</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table></div><p class="muted">per op: how much longer one daxkit operation takes than one of fio's; the same amount at every block size is per-call overhead (Node's fs binding, N-API), an amount growing with the size is the copy.</p>`;
}

function calibrationHtml(r: RunReport): string {
  const c = r.calibration;
  if (!c) return '<p class="muted">Not run: --calibrate (or --full) runs it.</p>';
  const cards = c.targets
    .map((t) => {
      const cls = t.met === null ? '' : t.met ? 'ok' : 'bad';
      const verdict = t.met === null ? 'not measured' : t.met ? 'met' : 'not met';
      return `<div class="card ${cls}"><div class="big">${fmtRatio(t.ratio)}${mark(Boolean(t.uncertain))}</div>${t.uncertain ? `<div class="muted">${esc(t.uncertain)}: the verdict may not hold</div>` : ''}<div class="verdict">${verdict} <span class="muted">(goal ${esc(t.cmp)} ${t.goal}x; met in ${t.rounds_met} of ${t.round_ratios.length} rounds: ${t.round_ratios.map((x) => fmtRatio(x)).join(' ')})</span></div><div>${esc(t.claim)}</div><div class="muted">${esc(t.numbers)}</div>${t.note ? `<div class="muted">${esc(t.note)}</div>` : ''}</div>`;
    })
    .join('');
  const rows = CAL_ITEMS.filter((id) => c.items[id])
    .map((id) => {
      const it = c.items[id]!;
      const f = (x: number): string => (it.unit === 'ns' ? fmtNs(x) : fmtRate(x));
      const v = it.status !== 'ok' ? 'failed' : f(it.value);
      const range = it.round_values.length > 1 ? `${f(it.round_values.reduce((a, b) => Math.min(a, b)))} .. ${f(it.round_values.reduce((a, b) => Math.max(a, b)))}` : '';
      return `<tr><td>${esc(id)}</td><td>${esc(v)}</td><td>${esc(range)}</td><td class="wrap">${esc(it.description)}<br><span class="muted">${esc(it.path || it.error || '')}</span></td></tr>`;
    })
    .join('');
  return `<p>${esc(c.memory.note)}.</p><div class="cards">${cards}</div><table><thead><tr><th>item</th><th>median</th><th>range of the rounds</th><th class="l">what</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function faultsHtml(r: RunReport): string {
  if (r.page_faults.length === 0) return '<p class="muted">Not run: --faults (or --full) runs it.</p>';
  const rows = r.page_faults
    .map(
      (f) =>
        `<tr><td class="l mono">${esc(f.path)}</td><td>${esc(f.kind)}</td><td>${esc(fmtSize(f.length))}</td><td>${f.address_2m_aligned ? 'yes' : 'no'}</td><td>${f.minor + f.major}</td><td>${f.bytes_per_fault ? esc(fmtBytes(f.bytes_per_fault)) : '-'}</td><td class="wrap">${esc(f.verdict)}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th class="l">mapping of</th><th>kind</th><th>touched</th><th>2 MiB-aligned</th><th>faults</th><th>per fault</th><th class="l">verdict</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function allJobsHtml(r: RunReport): string {
  const rows = r.jobs
    .slice()
    .sort((a, b) => a.rw.localeCompare(b.rw) || a.bs - b.bs || BACKEND_IDS.indexOf(a.backend) - BACKEND_IDS.indexOf(b.backend))
    .map((j) => {
      if (j.status !== 'ok') return `<tr><td class="l">${esc(j.jobname)}</td><td colspan="9" class="wrap">${esc(j.status)}: ${esc((j.reason ?? '').split('\n')[0])}</td></tr>`;
      const io = jobIo(j);
      const s = j.sampling!;
      const t = s.lat_mode === 'batch' ? '~' : '';
      return `<tr><td class="l">${esc(j.jobname)}</td><td>${fmtRate(io.bw_bytes)}${mark(isUncertain(j))}</td><td>${fmtCount(io.iops)}</td><td>${t}${fmtNs(io.lat_ns.percentile['50.000000'])}</td><td>${t}${fmtNs(io.lat_ns.percentile['99.000000'])}</td><td>${t}${fmtNs(io.lat_ns.percentile['99.900000'])}</td><td>${t}${fmtNs(io.lat_ns.max)}</td><td>${esc(ciCell(j))}</td><td>${fmtRatio(j.vs_baseline)}${mark(j.vs_baseline !== null && ratioUncertain(r.jobs, j))}</td><td class="wrap">${esc(j.mechanism ?? '')}; ${j.verify?.ok ? 'verified' : 'NOT VERIFIED'}</td></tr>`;
    })
    .join('');
  return `<details><summary>Every job: bandwidth, IOPS, latency, confidence interval, mechanism</summary><div class="scroll"><table><thead><tr><th class="l">job</th><th>bandwidth</th><th>IOPS</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>95% CI</th><th>vs page cache</th><th class="l">how</th></tr></thead><tbody>${rows}</tbody></table></div><p class="muted">~: latency of the mean operation of each timed batch (operations too short to time one by one). Ratios are to pread (reads) and pwrite+fdatasync (writes) on the page cache. ?: the 95% CI is wider than ±${WIDE_CI * 100}% (uncertain), or the ratio rests on such a figure.</p></details>`;
}

function runHtml(r: RunReport, id: number): string {
  const parts = [`<section id="run${id}"><h2>${esc(r.label)}</h2>`];
  if (r.context.vm.statement) parts.push(`<div class="banner">${esc(r.context.vm.statement)}</div>`);
  parts.push(contextHtml(r));
  const [head, ...lines] = answerLines(r);
  parts.push(`<h3>${esc(head.replace(/:.*$/, ''))}</h3><p>${esc(head.replace(/^[^:]*: ?/, ''))}</p>`);
  if (lines.length) parts.push(`<ul class="answer">${lines.map((l) => `<li>${esc(l.trim())}</li>`).join('')}</ul>`);
  parts.push('<h3>Bandwidth by block size</h3><p class="muted">Higher is better; dashed lines are the page-cache baseline file. Hover a point for IOPS, p99 and its confidence interval.</p>');
  for (const dir of ['read', 'write'] as const) {
    const charts: string[] = [];
    let legend: Series[] = [];
    let hollow = false;
    for (const p of r.options.patterns) {
      const s = seriesFor(r, dir, p);
      hollow ||= anyHollow(s);
      legend = legend.concat(s.filter((x) => !legend.some((l) => l.name === x.name)));
      charts.push(bandwidthChart(`${dir === 'read' ? 'Reads' : 'Writes'}, ${p === 'seq' ? 'sequential' : 'random'}`, r.options.bs, s));
    }
    parts.push(`<div class="charts">${charts.join('')}</div>${legendHtml(legend)}`);
    if (hollow) parts.push(`<p class="muted">${esc(HOLLOW_NOTE)}</p>`);
  }
  parts.push('<h3>Latency percentiles</h3><p class="muted">Per operation, log scale: p50 (circle), p99 (square), p99.9 (triangle), max (bar). Lower is better.</p>');
  for (const dir of ['read', 'write'] as const) {
    for (const p of r.options.patterns) {
      const js = r.jobs
        .filter((j) => BACKENDS[j.backend].dir === dir && j.pattern === p)
        .sort((a, b) => a.bs - b.bs || BACKEND_IDS.indexOf(a.backend) - BACKEND_IDS.indexOf(b.backend) || a.role.localeCompare(b.role) * -1);
      parts.push(`<div class="charts">${latencyChart(`${dir === 'read' ? 'Reads' : 'Writes'}, ${p === 'seq' ? 'sequential' : 'random'}`, js)}</div>`);
    }
  }
  parts.push('<h3>Against fio, same file, same run</h3>', fioHtml(r));
  parts.push('<h3>Native calibration and targets</h3>', calibrationHtml(r));
  parts.push('<h3>Page faults</h3><p class="muted">One byte of every 4 KiB page of a mapping read once: with huge pages one fault maps 2 MiB.</p>', faultsHtml(r));
  parts.push(allJobsHtml(r));
  if (r.notes.length) parts.push(`<h3>Notes</h3><ul>${r.notes.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`);
  parts.push('</section>');
  return parts.join('\n');
}

export function renderHtml(d: BenchDocument): string {
  const title = `daxkit bench: ${d.runs.map((r) => r.label).join(', ')}`;
  const failures = d.failures.length ? `<div class="banner">Failures: <ul>${d.failures.map((f) => `<li>${esc(f)}</li>`).join('')}</ul></div>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>daxkit bench</h1><p class="sub">${esc(d.time)} · daxkit ${esc(d.daxkit_version)} · ${esc(d.host.cpu.model)} · Linux ${esc(d.host.kernel)} · Node ${esc(d.host.node)}</p></header>
${failures}
${d.runs.map(runHtml).join('\n')}
<footer>Made by <code>${esc(d.command)}</code>. The JSON document (<code>--json</code>) holds every figure with fio's field names; <code>daxkit bench --compare A.json B.json</code> puts two runs side by side.</footer>
</body>
</html>
`;
}

/** The bandwidth charts of the first run as one standalone SVG image. */
export function renderSvg(d: BenchDocument, runIndex = 0): string {
  const r = d.runs[runIndex];
  const cw = 460;
  const chH = 300;
  const charts: string[] = [];
  const all: Series[] = [];
  const panels: Array<['read' | 'write', Pattern]> = [];
  for (const dir of ['read', 'write'] as const) for (const p of r.options.patterns) panels.push([dir, p]);
  let hollow = false;
  panels.forEach(([dir, p], i) => {
    const s = seriesFor(r, dir, p);
    hollow ||= anyHollow(s);
    for (const x of s) if (!all.some((a) => a.name === x.name)) all.push(x);
    const col = i % 2;
    const rowI = Math.floor(i / 2);
    charts.push(`<g transform="translate(${col * (cw + 10)} ${60 + rowI * (chH + 10)})">${bandwidthChart(`${dir === 'read' ? 'Reads' : 'Writes'}, ${p === 'seq' ? 'sequential' : 'random'}`, r.options.bs, s, cw, chH)}</g>`);
  });
  const rowsN = Math.ceil(panels.length / 2);
  const legendY = 60 + rowsN * (chH + 10) + 10;
  const legend = all
    .map((s, i) => {
      const x = (i % 3) * 310;
      const y = legendY + Math.floor(i / 3) * 20;
      return `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/><text x="${x + 30}" y="${y + 4}" class="tick">${esc(s.name)}</text>`;
    })
    .join('');
  const width = 2 * cw + 10 + 32;
  const notes = [
    ...(hollow ? [HOLLOW_NOTE] : []),
    ...(r.context.vm.inside ? ['Emulated CPU (QEMU TCG): relative behaviour only, not pmem speed.'] : []),
    ...(r.page_cache.warm !== true ? [] : ['Warm caches: the machine\'s page cache was not dropped before each measurement.']),
  ];
  const notesY = legendY + Math.ceil(all.length / 3) * 20 + 12;
  const height = notesY + notes.length * 18 + 32;
  const disclaimer = notes.map((t, i) => `<text x="0" y="${notesY + i * 18}" class="tick">${esc(t)}</text>`).join('');
  const sub = `${r.target.kind} · ${fmtSize(r.options.size)} working set · ${r.context.cpu.model} · Linux ${r.context.kernel} · Node ${r.context.node} · ${r.context.date.slice(0, 10)}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif">
<style>.ct{font-size:13px;font-weight:600;fill:#1f2328}.tick{font-size:11px;fill:#656d76}.muted{font-size:11px;fill:#656d76}.grid{stroke:#d8dee4;stroke-width:1}.axis{stroke:#656d76;stroke-width:1}.bgc{fill:#f6f8fa}</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<g transform="translate(16 16)">
<text x="0" y="22" font-size="18" font-weight="600" fill="#1f2328">${esc(`daxkit bench: ${r.label}`)}</text>
<text x="0" y="42" class="tick">${esc(sub)}</text>
${charts.join('\n')}
${legend}
${disclaimer}
</g>
</svg>
`;
}
