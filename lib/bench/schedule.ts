// What one target's run is given, and the order it runs in: calibration,
// page faults, then every block size x pattern with its backends shuffled
// and fio next to them.
import { BACKENDS, notApplicable, type BackendId, type TargetKind } from './backends';
import { CAL_ITEMS, type CalItem, type CalMemory } from './calibrate';
import { fioPairs, type FioPair } from './fio';
import type { BenchOptions } from './options';
import { rng } from './pattern';
import type { Progress } from './progress';
import { rwOf, type Pattern, type Role, type RunContext, type TargetReport } from './report';
import type { Prepared } from './target';
import { bsName, fmtSize } from './units';

export interface RunInput {
  label: string;
  target: Prepared;
  targetReport: TargetReport;
  baseline: Prepared | null;
  baselineReport: TargetReport | null;
  /** The calibration's memory (the target when DAX, else a tmpfs stand-in) and page-cached file. */
  calibration: { memory: CalMemory; pagecache: CalMemory; standIn: boolean } | null;
  faults: Array<{ path: string; kind: TargetKind; size: number }>;
  context: RunContext;
  opts: BenchOptions;
  alignedDir: string;
  progress: Progress;
  notes: string[];
  /** fio's version, or null when absent. */
  fio: string | null;
}

export type Item =
  | { t: 'job'; role: Role; prepared: Prepared; backend: BackendId; bs: number; pattern: Pattern }
  | { t: 'fio'; role: Role; prepared: Prepared; pair: FioPair; bs: number; pattern: Pattern }
  | { t: 'cal'; item: CalItem; round: number }
  | { t: 'faults'; path: string; kind: TargetKind; size: number };

export function jobName(role: Role, backend: BackendId, pattern: Pattern, bs: number): string {
  return `${role === 'baseline' ? 'baseline:' : ''}${backend}/${rwOf(BACKENDS[backend].dir, pattern)}/${bsName(bs)}`;
}

export function itemLabel(i: Item): string {
  switch (i.t) {
    case 'job':
      return `${i.role === 'baseline' ? 'baseline ' : ''}${i.backend} ${i.pattern} ${fmtSize(i.bs)}`;
    case 'fio':
      return `fio ${i.pair.engine} ${rwOf(i.pair.dir, i.pattern)} ${fmtSize(i.bs)}${i.role === 'baseline' ? ' (baseline)' : ''}`;
    case 'cal':
      return `calibration: ${i.item} (round ${i.round + 1})`;
    case 'faults':
      return `page faults: ${i.path}`;
  }
}

/** Seeded Fisher-Yates: the order backends run in within a group. */
function shuffle<T>(xs: T[], next: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function jobsFor(role: Role, p: Prepared, opts: BenchOptions, bs: number, pattern: Pattern): Item[] {
  // The baseline is there for its page-cache figures, not for every backend.
  const ids: BackendId[] = role === 'baseline' ? opts.baselineBackends : opts.backends;
  return ids
    .filter((b) => opts.backends.includes(b) && notApplicable(b, p.spec.kind) === null)
    .map((backend) => ({ t: 'job' as const, role, prepared: p, backend, bs, pattern }));
}

/**
 * Calibration rounds: a ratio is only as good as the spread between
 * processes, which within-process sampling cannot see (JIT decisions,
 * physical memory, neighbours), so each item runs in several processes and
 * the ratios are taken between items measured next to each other.
 */
export const CAL_ROUNDS = 3;

export function schedule(input: RunInput, engines: Set<string>): Item[] {
  const { opts } = input;
  const next = rng(opts.seed ^ 0x51ed);
  const items: Item[] = [];
  if (input.calibration) {
    const same = input.calibration.pagecache.path === input.calibration.memory.path;
    const list = CAL_ITEMS.filter((item) => !(same && item === 'scan-pagecache-map'));
    const calRounds = Math.max(CAL_ROUNDS, opts.rounds);
    // Every other round in reverse, so that neither item of a pair always goes first.
    for (let r = 0; r < calRounds; r++) for (const item of r % 2 ? [...list].reverse() : list) items.push({ t: 'cal', item, round: r });
  }
  for (const f of input.faults) items.push({ t: 'faults', ...f });
  for (let r = 0; r < opts.rounds; r++) {
    for (const bs of opts.bs) {
      for (const pattern of opts.patterns) {
        const group = jobsFor('target', input.target, opts, bs, pattern);
        if (input.baseline) for (const j of jobsFor('baseline', input.baseline, opts, bs, pattern)) group.push(j);
        for (const it of shuffle(group, next)) items.push(it);
        if (input.fio === null || !opts.fio) continue;
        const fioFor = (role: Role, p: Prepared): void => {
          const pairs = role === 'baseline' ? fioPairs('pagecache').filter((x) => x.engine === 'psync') : fioPairs(p.spec.kind);
          for (const pair of pairs) {
            if (!engines.has(pair.engine) || !opts.backends.includes(pair.backend)) continue;
            items.push({ t: 'fio', role, prepared: p, pair, bs, pattern });
          }
        };
        fioFor('target', input.target);
        if (input.baseline) fioFor('baseline', input.baseline);
      }
    }
  }
  return items;
}

/** What an item is expected to take, for the progress estimate (ms). */
export function weight(i: Item, o: BenchOptions): number {
  if (i.t === 'faults') return 500;
  return o.warmupMs + o.timeMs + 300;
}
