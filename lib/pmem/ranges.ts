// Byte ranges, [offset, offset + length): the arithmetic every media error
// answer is made of (bad sectors, file extents, device areas).

/** A byte range, `[offset, offset + length)`. */
export interface BadRange {
  /** Bytes from the start of the target. */
  offset: number;
  /** Bytes. */
  length: number;
  /**
   * Region targets only (absent when the region's layout is unreadable, e.g. not root): the
   * namespace holding the range, or null (space no namespace uses).
   */
  namespace?: string | null;
  /** Region targets only: the block or dax device whose data the range is, or null (namespace metadata, unused space). */
  device?: string | null;
  /** Region targets only: the range's offset in `device`, or null. */
  deviceOffset?: number | null;
}

/** Sorted, with overlapping and touching ranges merged. */
export function mergeRanges(ranges: readonly BadRange[]): BadRange[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const out: BadRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else {
      out.push({ offset: r.offset, length: r.length });
    }
  }
  return out;
}

/** The parts of `ranges` inside `[start, end)`, shifted so that `start` is 0. */
export function clipRanges(ranges: readonly BadRange[], start: number, end: number): BadRange[] {
  const out: BadRange[] = [];
  for (const r of ranges) {
    const s = Math.max(r.offset, start);
    const e = Math.min(r.offset + r.length, end);
    if (s < e) out.push({ offset: s - start, length: e - s });
  }
  return out;
}

/** `a` without the bytes of `b` (both merged and sorted). */
export function subtractRanges(a: readonly BadRange[], b: readonly BadRange[]): BadRange[] {
  const out: BadRange[] = [];
  for (const r of a) {
    let pos = r.offset;
    const end = r.offset + r.length;
    for (const x of b) {
      const xe = x.offset + x.length;
      if (xe <= pos || x.offset >= end) continue;
      if (x.offset > pos) out.push({ offset: pos, length: x.offset - pos });
      pos = Math.max(pos, xe);
    }
    if (pos < end) out.push({ offset: pos, length: end - pos });
  }
  return out;
}

export function totalLength(ranges: readonly BadRange[]): number {
  return ranges.reduce((n, r) => n + r.length, 0);
}
/** The ranges inside [start, end), keeping their coordinates. */
export function within(ranges: readonly BadRange[], start: number, end: number): BadRange[] {
  return clipRanges(ranges, start, end).map((r) => ({ offset: r.offset + start, length: r.length }));
}

export function shift(ranges: readonly BadRange[], by: number): BadRange[] {
  return ranges.map((r) => ({ offset: r.offset + by, length: r.length }));
}

export function roundOut(r: BadRange, bs: number): BadRange {
  const s = Math.floor(r.offset / bs) * bs;
  const e = Math.ceil((r.offset + r.length) / bs) * bs;
  return { offset: s, length: e - s };
}
