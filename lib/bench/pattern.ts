// The data the benchmark reads and writes, the scan that proves the bytes
// were read, and the order blocks are visited in.
//
// Every 8-byte word is a double in [1, 2) (random mantissa), and the first
// word of every 64-byte line is the line's index + 1. So a Float64Array sum
// over any block is finite and exact enough to compare, never NaN or a
// denormal (which would slow the scan down), and two different blocks sum
// differently.

/** mulberry32: a small, fast, seedable 32-bit generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const LINE = 64;
const CHUNK = 1 << 20;

/**
 * Fills `dst` with the pattern of the file bytes [fileOffset, fileOffset +
 * dst.length). Both must be multiples of 64. The same range always gets the
 * same bytes, whatever the chunking.
 */
export function fillPattern(dst: Uint8Array, fileOffset: number, seed: number): void {
  if (fileOffset % LINE !== 0 || dst.byteLength % LINE !== 0) throw new RangeError('fillPattern works on whole 64-byte lines');
  const words = new Uint32Array(dst.buffer, dst.byteOffset, dst.byteLength >>> 2);
  const f64 = new Float64Array(dst.buffer, dst.byteOffset, dst.byteLength >>> 3);
  // Each 1 MiB chunk of the file has its own generator, so that any part of
  // the file can be made on its own.
  for (let done = 0; done < dst.byteLength; ) {
    const off = fileOffset + done;
    const chunk = Math.floor(off / CHUNK);
    const next = rng(seed ^ Math.imul(chunk + 1, 0x9e3779b1));
    // Skip to this offset within the chunk (two draws per word).
    for (let skip = (off % CHUNK) >>> 3; skip > 0; skip--) {
      next();
      next();
    }
    const end = Math.min(dst.byteLength, (chunk + 1) * CHUNK - fileOffset);
    for (let w = done >>> 2; w < end >>> 2; w += 2) {
      // Little-endian double: low word first, then sign 0, exponent 0x3ff.
      words[w] = next();
      words[w + 1] = 0x3ff00000 | (next() & 0xfffff);
    }
    for (let b = done; b < end; b += LINE) f64[b >>> 3] = (fileOffset + b) / LINE + 1;
    done = end;
  }
}

/**
 * A payload source of `bs` bytes: doubles in [1, 2), stamped (word 0) per
 * operation by the writer, so that each write carries different bytes and
 * can be recognised when read back.
 */
export function payload(bs: number, seed: number): Uint8Array {
  const p = new Uint8Array(bs);
  fillPattern(p, 0, seed ^ 0x5eed);
  return p;
}

/**
 * The scan: the sum of the doubles in a[start, end). end - start must be a
 * multiple of 8, one 64-byte line (block sizes are multiples of 64 bytes).
 * Eight accumulators keep the additions independent: with four, the loop is
 * bound by the latency of the adds (4.7 GiB/s where eight reach 6.1 GiB/s
 * from memory on a 2.5 GHz Xeon), and would hide how fast loads really are.
 */
export function scanF64(a: Float64Array, start: number, end: number): number {
  let x0 = 0;
  let x1 = 0;
  let x2 = 0;
  let x3 = 0;
  let x4 = 0;
  let x5 = 0;
  let x6 = 0;
  let x7 = 0;
  for (let i = start; i < end; i += 8) {
    x0 += a[i];
    x1 += a[i + 1];
    x2 += a[i + 2];
    x3 += a[i + 3];
    x4 += a[i + 4];
    x5 += a[i + 5];
    x6 += a[i + 6];
    x7 += a[i + 7];
  }
  return x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}

/**
 * Runs scanF64 on a small array until V8 has type feedback for every
 * operation in it. Without this the first compilation happens by on-stack
 * replacement in the middle of the first long scan, before the code after
 * the loop has ever run; it then deoptimises on the way out and is compiled
 * again, and which code a process ends up with, and how fast it scans, varies
 * from process to process.
 */
export function warmScan(): void {
  const w = new Float64Array(64).fill(1.5);
  let x = 0;
  for (let i = 0; i < 3000; i++) x += scanF64(w, 0, 64);
  if (x !== 3000 * 96) throw new Error('scanF64 is broken');
}

/** Random block orders repeat after this many operations (a power of two). */
export const RANDOM_TABLE = 1 << 20;

/**
 * The blocks visited, in order: sequential (0, 1, ..., n - 1, 0, ...) or
 * uniformly random from a precomputed, seeded table, so that drawing the
 * next block costs the same for every backend and is not timed as I/O.
 */
export class Cursor {
  private i = 0;
  private readonly table: Uint32Array | null;

  constructor(
    readonly blocks: number,
    random: boolean,
    seed: number,
  ) {
    if (!random) {
      this.table = null;
      return;
    }
    const next = rng(seed);
    this.table = new Uint32Array(RANDOM_TABLE);
    // Two draws give 53 bits, enough for an unbiased index below 2^32.
    for (let j = 0; j < RANDOM_TABLE; j++) this.table[j] = Math.floor(((next() * 2 ** 21 + (next() >>> 11)) / 2 ** 53) * blocks);
  }

  next(): number {
    const t = this.table;
    if (t !== null) return t[this.i++ & (RANDOM_TABLE - 1)];
    const b = this.i;
    this.i = b + 1 === this.blocks ? 0 : b + 1;
    return b;
  }

  /** The first `n` blocks this cursor visits from its start, without moving it. */
  firstBlocks(n: number): number[] {
    const out: number[] = [];
    for (let j = 0; j < n; j++) out.push(this.table !== null ? this.table[j & (RANDOM_TABLE - 1)] : j % this.blocks);
    return out;
  }
}
