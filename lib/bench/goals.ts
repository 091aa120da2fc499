// daxkit's goals for its own overhead, checked against the calibration: the
// ratio of each round, from items measured next to each other, and the
// verdict on their median.
import type { CalItem } from './calibrate';
import { uncertainty, type CalibrationItem, type TargetCheck } from './report';
import { median } from './stats';
import { fmtNs, fmtRate } from './units';

export function checkTargets(items: Partial<Record<CalItem, CalibrationItem>>, standIn: boolean): TargetCheck[] {
  const v = (i: CalItem): number => (items[i]?.status === 'ok' ? items[i]!.value : NaN);
  const rv = (i: CalItem, r: number): number => (items[i]?.status === 'ok' ? (items[i]!.round_values[r] ?? NaN) : NaN);
  const rounds = Object.values(items).reduce((m, x) => Math.max(m, x?.rounds ?? 0), 0);
  const out: TargetCheck[] = [];
  // The ratio of each round, from items measured next to each other; the
  // verdict is on their median.
  const mk = (id: TargetCheck['id'], claim: string, ratioOf: (r: number) => number, goal: number, cmp: '<=' | '>=', numbers: string, note: string | null, of: CalItem[]): void => {
    const meets = (x: number): boolean => (cmp === '<=' ? x <= goal : x >= goal);
    const rr: number[] = [];
    for (let r = 0; r < rounds; r++) rr.push(ratioOf(r));
    const valid = rr.length > 0 && rr.every(Number.isFinite);
    const ratio = valid ? median(rr) : NaN;
    const unsure = uncertainty(of.map((i) => ({ name: i, ci: items[i]?.status === 'ok' && Number.isFinite(items[i]!.ci_reached) ? items[i]!.ci_reached : null })));
    out.push({ id, claim, ratio: valid ? ratio : null, round_ratios: valid ? rr : [], rounds_met: valid ? rr.filter(meets).length : 0, goal, cmp, met: valid ? meets(ratio) : null, numbers, note, uncertain: valid ? unsure : null });
  };
  const nat = v('native-persist');
  const noop = v('noop');
  const js = v('persist');
  const ro = v('persist-readonly');
  mk(
    'persist-64',
    'JS persist(64 B) within 1.2x of (native flush+fence of one line + one empty native call)',
    (r) => rv('persist', r) / (rv('native-persist', r) + rv('noop', r)),
    1.2,
    '<=',
    `persist ${fmtNs(js)} vs native ${fmtNs(nat)} + empty call ${fmtNs(noop)} = ${fmtNs(nat + noop)}; DaxMapping.persist with nothing to flush: ${fmtNs(ro)}, of which ${fmtNs(ro - noop)} beyond an empty call`,
    standIn
      ? 'The JS figure is binding.persist() on a cache-line-flush mapping of the tmpfs stand-in: open() maps non-DAX files with msync persistence and has no option to force cache-line flushing, so DaxMapping.persist() itself cannot flush lines here (its cost without a flush is the read-only figure).'
      : null,
    ['persist', 'native-persist', 'noop'],
  );
  const nt = v('native-nt');
  const cp = v('copy-persist');
  mk('copy-persist-1m', 'copyPersist(1 MiB) at >= 0.9x the native non-temporal copy bandwidth', (r) => rv('copy-persist', r) / rv('native-nt', r), 0.9, '>=', `copyPersist ${fmtRate(cp)} vs native ${fmtRate(nt)}`, standIn ? 'The JS figure is binding.copyPersist() on a cache-line-flush mapping of the stand-in (see above).' : null, ['copy-persist', 'native-nt']);
  const sm = v('scan-map');
  const sh = v('scan-heap');
  mk('scan-vs-heap', 'a JS scan of a mapping at >= 0.95x the same scan of a heap ArrayBuffer', (r) => rv('scan-map', r) / rv('scan-heap', r), 0.95, '>=', `mapping ${fmtRate(sm)} vs heap ${fmtRate(sh)}`, null, ['scan-map', 'scan-heap']);
  const pcItem: CalItem = items['scan-pagecache-map'] ? 'scan-pagecache-map' : 'scan-map';
  const spc = v(pcItem);
  const rs = v('pread-scan');
  mk('scan-vs-read', 'a mapping scan at >= 1.7x read()+scan of the same page-cached file', (r) => rv(pcItem, r) / rv('pread-scan', r), 1.7, '>=', `mapping scan ${fmtRate(spc)} vs read()+scan ${fmtRate(rs)}`, null, [pcItem, 'pread-scan']);
  return out;
}
