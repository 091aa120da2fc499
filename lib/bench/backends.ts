// The ways of moving bytes that the benchmark compares. Each runs in a child
// process of its own (child.ts) and is driven by the sampler: run(k) does the
// next k operations of `bs` bytes at the blocks a Cursor picks, and nothing
// else, so the loop is what is timed. verify() then proves, through a
// different path, that the bytes were really moved.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, type DaxMapping } from '..';
import { Cursor, payload, scanF64, warmScan } from './pattern';
import { nameOnPrototype } from '../errors';

export type TargetKind = 'pagecache' | 'fsdax' | 'devdax';
export type Direction = 'read' | 'write';

export const BACKEND_IDS = [
  'mmap-scan',
  'mmap-read',
  'pread',
  'odirect-read',
  'mmap-persist',
  'copy-persist',
  'mmap-msync',
  'pwrite-fdatasync',
  'odirect-write',
] as const;
export type BackendId = (typeof BACKEND_IDS)[number];

export interface BackendInfo {
  dir: Direction;
  /** What one operation is, in a few words (the report's column). */
  op: string;
}

export const BACKENDS: Record<BackendId, BackendInfo> = {
  'mmap-scan': { dir: 'read', op: 'sum the block through a Float64Array over the mapping (zero-copy)' },
  'mmap-read': { dir: 'read', op: 'mapping.readInto(): SIGBUS-safe copy into a reused Buffer' },
  pread: { dir: 'read', op: 'fs.readSync (pread) into a reused Buffer' },
  'odirect-read': { dir: 'read', op: 'fs.readSync (pread) on an O_DIRECT descriptor into an aligned buffer' },
  'mmap-persist': { dir: 'write', op: 'stores through the mapping (TypedArray.set), then persist() of the block' },
  'copy-persist': { dir: 'write', op: 'mapping.copyPersist() of the block' },
  'mmap-msync': { dir: 'write', op: "stores through a sync: 'off' mapping, then persist(), which is msync(MS_SYNC)" },
  'pwrite-fdatasync': { dir: 'write', op: 'fs.writeSync (pwrite), then fs.fdatasyncSync' },
  'odirect-write': { dir: 'write', op: 'fs.writeSync (pwrite) on an O_DIRECT|O_DSYNC descriptor from an aligned buffer' },
};

/** Where a backend does not apply, and why (null: it applies). */
export function notApplicable(id: BackendId, kind: TargetKind): string | null {
  const fd = id === 'pread' || id === 'odirect-read' || id === 'pwrite-fdatasync' || id === 'odirect-write';
  if (kind === 'devdax' && fd) return 'device DAX has no read(2)/write(2): its character device implements only mmap';
  if (kind === 'devdax' && id === 'mmap-msync') return 'device DAX has no page cache and no msync path: persistence is by cache-line flush only (mmap-persist)';
  if (kind === 'pagecache' && id === 'mmap-msync') return "on a page-cache file persist() is already msync(MS_SYNC): this is mmap-persist";
  return null;
}

export interface TargetSpec {
  path: string;
  kind: TargetKind;
  /** Working-set bytes from offset 0. */
  size: number;
}

export interface Verification {
  ok: boolean;
  blocks: number;
  detail: string;
}

export interface Instance {
  /** How the bytes move here (data path and, for writes, the persistence mechanism). */
  mechanism: string;
  /** What makes a write durable: 'clwb', 'msync', 'fdatasync', ...; null for reads. */
  persistence: string | null;
  /** Brings the working set into the state it is measured in (page tables, page cache). */
  prefault(): void;
  run(k: number): void;
  /** A value that depends on every byte read, so the reads cannot be optimised away. */
  sink(): number;
  verify(): Verification;
  close(): void;
}

export interface BackendContext {
  target: TargetSpec;
  bs: number;
  cursor: Cursor;
  seed: number;
  /** A directory on tmpfs (or any filesystem) for the aligned O_DIRECT buffer. */
  alignedDir: string;
}

/** Thrown by a backend that cannot run here (O_DIRECT refused, ...): the job is reported as skipped. */
export class Skip extends Error {}
nameOnPrototype(Skip);

const PAGE = 4096;
const VERIFY_BLOCKS = 16;

/**
 * Page-aligned memory for O_DIRECT, which needs buffers aligned to the
 * logical block size. Node cannot allocate aligned memory, but a mapping
 * always starts on a page: a daxkit mapping of an unlinked file in a tmpfs
 * directory is exactly that, with nothing written to any disk.
 */
function alignedBuffer(dir: string, bytes: number): { bytes: Uint8Array; close(): void } {
  const file = path.join(dir, `daxkit-bench-aligned-${process.pid}`);
  // Made, never found (O_EXCL | O_NOFOLLOW): in a shared directory a name
  // planted beforehand (a symlink to another file) would otherwise be mapped,
  // and every O_DIRECT read would land in that file.
  const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDWR } = fs.constants;
  const fd = fs.openSync(file, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR, 0o600);
  let m: DaxMapping;
  try {
    fs.unlinkSync(file);
    m = open(fd, { size: Math.ceil(bytes / PAGE) * PAGE, create: true });
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return {
    bytes: m.bytes.subarray(0, bytes),
    close: () => {
      m.close();
      fs.closeSync(fd);
    },
  };
}

/**
 * Maps every page with a read fault. DAX writers are prefaulted the same
 * way, not with stores: a store to every page would take every write fault
 * up front, but on a page-cache mapping it would also leave the whole
 * working set dirty, and its writeback would compete with the measured
 * msyncs. The first store to each page takes its write fault during warm-up,
 * or in the measurement where the kernel imposes one (after every msync,
 * which write-protects the page again).
 */
function touchPages(m: DaxMapping): number {
  const u8 = m.bytes;
  let x = 0;
  for (let i = 0; i < u8.length; i += PAGE) x += u8[i];
  return x;
}

function readWholeFile(p: string, size: number): void {
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(1 << 20);
    for (let off = 0; off < size; off += buf.length) fs.readSync(fd, buf, 0, Math.min(buf.length, size - off), off);
  } finally {
    fs.closeSync(fd);
  }
}

/** The bytes of a block read back through the page cache or DAX read path, on a fresh descriptor. */
function refViaFd(t: TargetSpec, off: number, bs: number): Buffer {
  const fd = fs.openSync(t.path, 'r');
  try {
    const b = Buffer.alloc(bs);
    const n = fs.readSync(fd, b, 0, bs, off);
    if (n !== bs) throw new Error(`short read of ${n} bytes at ${off}`);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

/** The bytes of a block read through a new mapping of the target (JS loads). */
function refViaMap(t: TargetSpec, off: number, bs: number): Buffer {
  const m = open(t.path, { size: t.size, readonly: true });
  try {
    return Buffer.from(m.bytes.subarray(off, off + bs));
  } finally {
    m.close();
  }
}

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function describeMapping(m: DaxMapping): string {
  if (m.kind === 'devdax') return 'device DAX mapping';
  if (m.kind === 'fsdax') return m.mapSync ? 'DAX mapping (MAP_SYNC)' : 'DAX mapping (MAP_SHARED, no MAP_SYNC)';
  return 'page-cache mapping';
}

function persistDescription(m: DaxMapping): string {
  switch (m.flushMechanism) {
    case 'msync':
      return 'msync(MS_SYNC) of the pages';
    case 'none':
      return 'SFENCE only (eADR)';
    default:
      return `${m.flushMechanism.toUpperCase()} of each line + SFENCE`;
  }
}

function checkReads(ctx: BackendContext, read: (off: number) => Uint8Array | number, ref: (off: number) => Buffer, what: string): Verification {
  const blocks = [...new Set(ctx.cursor.firstBlocks(VERIFY_BLOCKS))];
  for (const b of blocks) {
    const off = b * ctx.bs;
    const want = ref(off);
    if (allZero(want)) return { ok: false, blocks: blocks.length, detail: `block ${b} reads as zeros through ${what}: the target does not hold the benchmark's data` };
    const got = read(off);
    if (typeof got === 'number') {
      const expect = scanF64(new Float64Array(want.buffer, want.byteOffset, ctx.bs / 8), 0, ctx.bs / 8);
      if (!Object.is(got, expect)) return { ok: false, blocks: blocks.length, detail: `block ${b}: the scan summed ${got}, the bytes read through ${what} sum to ${expect}` };
    } else if (!Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(want)) {
      return { ok: false, blocks: blocks.length, detail: `block ${b}: the bytes differ from those read through ${what}` };
    }
  }
  return { ok: true, blocks: blocks.length, detail: `${blocks.length} blocks match the bytes read through ${what}` };
}

/**
 * Remembers the last writes (block, stamp), and checks that each block
 * written last with a given stamp holds exactly that payload.
 */
class WriteLog {
  private readonly blocks = new Float64Array(VERIFY_BLOCKS);
  private readonly stamps = new Float64Array(VERIFY_BLOCKS);
  private n = 0;

  constructor(
    private readonly src: Uint8Array,
    private readonly stamp: Float64Array,
  ) {}

  /** Stamps the payload for the next write to block b. */
  next(b: number): void {
    const s = ++this.n;
    this.stamp[0] = s;
    const i = s & (VERIFY_BLOCKS - 1);
    this.blocks[i] = b;
    this.stamps[i] = s;
  }

  verify(ctx: BackendContext, ref: (off: number) => Buffer, what: string): Verification {
    const seen = new Set<number>();
    const want = Buffer.from(this.src);
    const stampOf = new Float64Array(want.buffer, want.byteOffset, 1);
    let checked = 0;
    for (let s = this.n; s > 0 && s > this.n - VERIFY_BLOCKS; s--) {
      const b = this.blocks[s & (VERIFY_BLOCKS - 1)];
      if (seen.has(b)) continue;
      seen.add(b);
      stampOf[0] = s;
      const got = ref(b * ctx.bs);
      if (!got.equals(want)) return { ok: false, blocks: checked, detail: `block ${b} does not hold write #${s} when read back through ${what}` };
      checked++;
    }
    if (checked === 0) return { ok: false, blocks: 0, detail: 'nothing was written' };
    return { ok: true, blocks: checked, detail: `the last write to each of ${checked} blocks reads back through ${what}` };
  }
}

function odirectFlags(write: boolean): number {
  const c = fs.constants;
  return (write ? c.O_RDWR | c.O_DSYNC : c.O_RDONLY) | c.O_DIRECT;
}

function openDirect(p: string, write: boolean): number {
  try {
    return fs.openSync(p, odirectFlags(write));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') throw new Skip('the filesystem refuses O_DIRECT (open(2) fails with EINVAL)');
    throw e;
  }
}

/**
 * What the kernel does with O_DIRECT on this file, found by trying: an
 * unaligned O_DIRECT read succeeds only where the flag does not bypass a
 * page cache (DAX, where there is none; tmpfs since Linux 6.6, where it is
 * ignored).
 */
export function probeODirect(p: string, kind: TargetKind): string {
  if (kind === 'devdax') return 'not applicable (device DAX has no read(2)/write(2))';
  let fd: number;
  try {
    fd = fs.openSync(p, odirectFlags(false));
  } catch (e) {
    return `refused: open(2) with O_DIRECT fails with ${(e as NodeJS.ErrnoException).code}`;
  }
  try {
    fs.readSync(fd, Buffer.alloc(1), 0, 1, 1);
    return kind === 'fsdax'
      ? 'accepted, and ignored: on a DAX file read(2)/write(2) already copy straight to and from pmem (dax_iomap_rw), with no page cache to bypass, so O_DIRECT takes the same path, with no alignment rules (a 1-byte read at offset 1 works)'
      : 'accepted without alignment rules (a 1-byte read at offset 1 works): this filesystem treats O_DIRECT as buffered I/O';
  } catch (e) {
    return `honoured: I/O bypasses the page cache and must be aligned to the logical block size (a 1-byte read at offset 1 fails with ${(e as NodeJS.ErrnoException).code})`;
  } finally {
    fs.closeSync(fd);
  }
}

function fdMechanism(kind: TargetKind, direct: boolean): string {
  if (kind === 'fsdax') return direct ? 'O_DIRECT on a DAX file: dax_iomap_rw, as without it' : 'DAX read/write path (dax_iomap_rw: a copy to or from pmem, no page cache)';
  return direct ? 'O_DIRECT' : 'page cache';
}

export function createBackend(id: BackendId, ctx: BackendContext): Instance {
  const reason = notApplicable(id, ctx.target.kind);
  if (reason !== null) throw new Skip(reason);
  switch (id) {
    case 'mmap-scan':
      return mmapScan(ctx);
    case 'mmap-read':
      return mmapRead(ctx);
    case 'pread':
      return pread(ctx, false);
    case 'odirect-read':
      return pread(ctx, true);
    case 'mmap-persist':
      return mmapStore(ctx, 'auto', false);
    case 'mmap-msync':
      return mmapStore(ctx, 'off', false);
    case 'copy-persist':
      return mmapStore(ctx, 'auto', true);
    case 'pwrite-fdatasync':
      return pwrite(ctx, false);
    case 'odirect-write':
      return pwrite(ctx, true);
  }
}

function mmapScan(ctx: BackendContext): Instance {
  const { target: t, bs, cursor } = ctx;
  const m = open(t.path, { size: t.size, readonly: true });
  const f64 = new Float64Array(m.buffer);
  const words = bs / 8;
  warmScan();
  let acc = 0;
  return {
    mechanism: `loads through a ${describeMapping(m)}`,
    persistence: null,
    prefault: () => {
      acc += touchPages(m);
    },
    run(k) {
      for (let j = 0; j < k; j++) {
        const s = cursor.next() * words;
        acc += scanF64(f64, s, s + words);
      }
    },
    sink: () => acc,
    verify: () => checkReads(ctx, (off) => scanF64(f64, off / 8, off / 8 + words), (off) => (t.kind === 'devdax' ? refViaMapNative(t, off, bs) : refViaFd(t, off, bs)), t.kind === 'devdax' ? 'mapping.read() of a second mapping' : 'pread()'),
    close: () => m.close(),
  };
}

/** The bytes of a block copied out natively (mapping.read()) from a second mapping. */
function refViaMapNative(t: TargetSpec, off: number, bs: number): Buffer {
  const m = open(t.path, { size: t.size, readonly: true });
  try {
    return m.read(off, bs);
  } finally {
    m.close();
  }
}

function mmapRead(ctx: BackendContext): Instance {
  const { target: t, bs, cursor } = ctx;
  const m = open(t.path, { size: t.size, readonly: true });
  // A reused buffer, as pread's and fio's: read() would time the allocation.
  const buf = Buffer.allocUnsafeSlow(bs);
  let acc = 0;
  return {
    mechanism: `native copy out of a ${describeMapping(m)} into a reused Buffer, under the SIGBUS guard`,
    persistence: null,
    prefault: () => {
      acc += touchPages(m);
    },
    run(k) {
      for (let j = 0; j < k; j++) {
        m.readInto(cursor.next() * bs, buf);
        acc += buf[0];
      }
    },
    sink: () => acc,
    verify: () => checkReads(ctx, (off) => m.read(off, bs), (off) => (t.kind === 'devdax' ? refViaMap(t, off, bs) : refViaFd(t, off, bs)), t.kind === 'devdax' ? 'JS loads from a second mapping' : 'pread()'),
    close: () => m.close(),
  };
}

/** Runs one O_DIRECT operation; EINVAL (a misaligned length) releases the job and skips it. */
function probeDirect(what: 'reads' | 'writes', bs: number, op: () => unknown, release: () => void): void {
  try {
    op();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
    release();
    throw new Skip(`O_DIRECT ${what} of ${bs} bytes fail with EINVAL: the length must be a multiple of the device's logical block size`);
  }
}

function pread(ctx: BackendContext, direct: boolean): Instance {
  const { target: t, bs, cursor } = ctx;
  const fd = direct ? openDirect(t.path, false) : fs.openSync(t.path, 'r');
  const aligned = direct ? alignedBuffer(ctx.alignedDir, bs) : null;
  const buf = aligned ? aligned.bytes : new Uint8Array(Buffer.allocUnsafeSlow(bs).buffer, 0, bs);
  const once = (off: number): Uint8Array => {
    const n = fs.readSync(fd, buf, 0, bs, off);
    if (n !== bs) throw new Error(`short read: ${n} of ${bs} bytes at offset ${off}`);
    return buf;
  };
  if (direct) {
    probeDirect('reads', bs, () => once(0), () => {
      aligned?.close();
      fs.closeSync(fd);
    });
  }
  let acc = 0;
  return {
    mechanism: fdMechanism(t.kind, direct),
    persistence: null,
    prefault: () => {
      // O_DIRECT has no cache to fill; the others read the working set once,
      // as fio's pre_read does, so that the page cache holds it.
      if (!direct) readWholeFile(t.path, t.size);
    },
    run(k) {
      for (let j = 0; j < k; j++) {
        const off = cursor.next() * bs;
        if (fs.readSync(fd, buf, 0, bs, off) !== bs) throw new Error(`short read at offset ${off}`);
        acc += buf[0];
      }
    },
    sink: () => acc,
    verify: () => checkReads(ctx, (off) => Buffer.from(once(off)), (off) => refViaMap(t, off, bs), 'JS loads from a mapping'),
    close() {
      aligned?.close();
      fs.closeSync(fd);
    },
  };
}

function mmapStore(ctx: BackendContext, sync: 'auto' | 'off', copy: boolean): Instance {
  const { target: t, bs, cursor } = ctx;
  const m = open(t.path, { size: t.size, sync });
  const u8 = m.bytes;
  const src = payload(bs, ctx.seed);
  const log = new WriteLog(src, new Float64Array(src.buffer, src.byteOffset, 1));
  const nt = copy && m.granularity !== 'page' && bs >= 256;
  const how = copy
    ? m.granularity === 'page'
      ? 'copy, then msync(MS_SYNC) of the pages'
      : nt
        ? 'non-temporal stores + SFENCE'
        : `stores + ${m.flushMechanism.toUpperCase()} + SFENCE (below 256 B)`
    : persistDescription(m);
  const fdRead = t.kind !== 'devdax';
  return {
    mechanism: `${describeMapping(m)}: ${how}`,
    persistence: copy && nt ? 'non-temporal' : m.flushMechanism,
    prefault: () => {
      // Page-cache writers start from the dropped cache, as fio's writes do
      // (see pwrite below).
      if (m.kind !== 'pagecache') touchPages(m);
    },
    run: copy
      ? (k) => {
          for (let j = 0; j < k; j++) {
            const b = cursor.next();
            log.next(b);
            m.copyPersist(b * bs, src);
          }
        }
      : (k) => {
          for (let j = 0; j < k; j++) {
            const b = cursor.next();
            log.next(b);
            u8.set(src, b * bs);
            m.persist(b * bs, bs);
          }
        },
    sink: () => 0,
    verify: () => log.verify(ctx, (off) => (fdRead ? refViaFd(t, off, bs) : refViaMapNative(t, off, bs)), fdRead ? 'pread() on a new descriptor' : 'mapping.read() of a second mapping'),
    close: () => m.close(),
  };
}

function pwrite(ctx: BackendContext, direct: boolean): Instance {
  const { target: t, bs, cursor } = ctx;
  const fd = direct ? openDirect(t.path, true) : fs.openSync(t.path, 'r+');
  const aligned = direct ? alignedBuffer(ctx.alignedDir, bs) : null;
  const src = payload(bs, ctx.seed);
  let buf = src;
  if (aligned) {
    aligned.bytes.set(src);
    buf = aligned.bytes;
  }
  const log = new WriteLog(src, new Float64Array(buf.buffer, buf.byteOffset, 1));
  if (direct) {
    // Writes block 0 with its own bytes: a probe that changes nothing.
    const probe = refViaFd(t, 0, bs);
    buf.set(probe);
    probeDirect('writes', bs, () => fs.writeSync(fd, buf, 0, bs, 0), () => {
      aligned?.close();
      fs.closeSync(fd);
    });
    buf.set(src);
  }
  return {
    mechanism: direct ? `${fdMechanism(t.kind, true)}, O_DSYNC: each write is durable when it returns` : `${fdMechanism(t.kind, false)}, then fdatasync(2)`,
    persistence: direct ? 'O_DSYNC' : 'fdatasync',
    // No read pass: writes start from the dropped page cache, as fio's do.
    // Reading the file first changes what is measured: with the file cached
    // (in large folios, on ext4 since 6.x), 4 KiB random writes + fdatasync
    // ran at half the speed (fio with pre_read=1: 28 MiB/s, without: 56).
    prefault: () => {},
    run: direct
      ? (k) => {
          for (let j = 0; j < k; j++) {
            const b = cursor.next();
            log.next(b);
            if (fs.writeSync(fd, buf, 0, bs, b * bs) !== bs) throw new Error(`short write at block ${b}`);
          }
        }
      : (k) => {
          for (let j = 0; j < k; j++) {
            const b = cursor.next();
            log.next(b);
            if (fs.writeSync(fd, buf, 0, bs, b * bs) !== bs) throw new Error(`short write at block ${b}`);
            fs.fdatasyncSync(fd);
          }
        },
    sink: () => 0,
    verify: () => log.verify(ctx, (off) => refViaMap(t, off, bs), 'JS loads from a new mapping'),
    close() {
      aligned?.close();
      fs.closeSync(fd);
    },
  };
}
