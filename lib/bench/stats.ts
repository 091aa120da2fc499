// Running moments, the confidence interval that ends sampling, and a
// latency histogram that can be merged across child processes.

/** z for a two-sided 95% interval. Sampling takes at least 30 samples, where the t factor is within 4% of it. */
export const Z95 = 1.96;

/** Welford's running mean and variance; mergeable (Chan et al.). */
export class Moments {
  n = 0;
  mean = 0;
  m2 = 0;

  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }

  merge(o: MomentsJson): void {
    if (o.n === 0) return;
    if (this.n === 0) {
      this.n = o.n;
      this.mean = o.mean;
      this.m2 = o.m2;
      return;
    }
    const n = this.n + o.n;
    const d = o.mean - this.mean;
    this.mean += (d * o.n) / n;
    this.m2 += o.m2 + (d * d * this.n * o.n) / n;
    this.n = n;
  }

  get sd(): number {
    return this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : 0;
  }

  /** Half-width of the 95% confidence interval of the mean, relative to the mean (Infinity below 2 samples). */
  get ciRel(): number {
    if (this.n < 2 || this.mean <= 0) return Infinity;
    return (Z95 * this.sd) / Math.sqrt(this.n) / this.mean;
  }

  toJSON(): MomentsJson {
    return { n: this.n, mean: this.mean, m2: this.m2 };
  }

  static from(j: MomentsJson): Moments {
    const m = new Moments();
    m.merge(j);
    return m;
  }
}

export interface MomentsJson {
  n: number;
  mean: number;
  m2: number;
}

// Log-linear buckets: SUB per power of two, so a bucket is 0.54% wide and a
// percentile read from it is within 0.3% of the sample it stands for (fio's
// histogram uses 64 per power of two). Values are nanoseconds; 2^40 ns is
// about 18 minutes.
const SUB = 128;
const OCTAVES = 40;
const NBUCKETS = 1 + OCTAVES * SUB;

function bucketOf(v: number): number {
  if (!(v >= 1)) return 0;
  const i = 1 + Math.floor(Math.log2(v) * SUB);
  return i < NBUCKETS ? i : NBUCKETS - 1;
}

function valueOf(i: number): number {
  // The geometric middle of the bucket.
  return i === 0 ? 0.5 : 2 ** ((i - 1 + 0.5) / SUB);
}

export interface HistogramJson {
  sub: number;
  /** [bucket index, count] for the non-empty buckets. */
  buckets: Array<[number, number]>;
  n: number;
  min: number;
  max: number;
  sum: number;
  sumSq: number;
}

/** Latency samples (ns): exact count, min, max, mean and deviation; percentiles to a bucket. */
export class Histogram {
  readonly counts = new Float64Array(NBUCKETS);
  n = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;
  sumSq = 0;

  record(v: number): void {
    this.counts[bucketOf(v)]++;
    this.n++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.sum += v;
    this.sumSq += v * v;
  }

  /** Records the same value `count` times. */
  recordN(v: number, count: number): void {
    this.counts[bucketOf(v)] += count;
    this.n += count;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.sum += v * count;
    this.sumSq += v * v * count;
  }

  merge(o: HistogramJson): void {
    if (o.sub !== SUB) throw new Error(`cannot merge a histogram with ${o.sub} buckets per octave into one with ${SUB}`);
    for (const [i, c] of o.buckets) this.counts[i] += c;
    this.n += o.n;
    if (o.n > 0) {
      this.min = Math.min(this.min, o.min);
      this.max = Math.max(this.max, o.max);
    }
    this.sum += o.sum;
    this.sumSq += o.sumSq;
  }

  get mean(): number {
    return this.n > 0 ? this.sum / this.n : 0;
  }

  get stddev(): number {
    if (this.n < 2) return 0;
    const v = (this.sumSq - (this.sum * this.sum) / this.n) / (this.n - 1);
    return v > 0 ? Math.sqrt(v) : 0;
  }

  /** The p-th percentile (0 < p <= 100), nearest-rank, clamped to [min, max]. */
  percentile(p: number): number {
    if (this.n === 0) return 0;
    if (p >= 100) return this.max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let i = 0; i < NBUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, valueOf(i)));
    }
    return this.max;
  }

  toJSON(): HistogramJson {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < NBUCKETS; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { sub: SUB, buckets, n: this.n, min: this.n ? this.min : 0, max: this.n ? this.max : 0, sum: this.sum, sumSq: this.sumSq };
  }

  static from(j: HistogramJson): Histogram {
    const h = new Histogram();
    h.merge(j);
    return h;
  }
}

/** The median of a list of numbers (NaN when empty). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const T95 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086];

/** Student's t for a two-sided 95% interval with `df` degrees of freedom. */
export function t95(df: number): number {
  if (df < 1) return NaN;
  return df < T95.length ? T95[df] : Z95 + 2.4 / df;
}

/**
 * Half-width of the 95% confidence interval of the mean of a few values
 * (one per round, each from its own process), relative to the mean; null
 * below three values. This is the spread that a confidence interval within one
 * process cannot see: JIT decisions, physical memory placement, neighbours.
 */
export function ciOfMeans(xs: number[]): number | null {
  // With two values t is 12.7: an interval that wide says nothing.
  if (xs.length < 3) return null;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
  return m > 0 ? (t95(xs.length - 1) * Math.sqrt(v)) / Math.sqrt(xs.length) / m : null;
}
