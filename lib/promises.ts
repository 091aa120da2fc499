/**
 * daxkit/promises: the operations that can take long (a recursive flag
 * change over a million files, a walk for bad files, a badblocks lookup
 * with FIEMAP, a clear, the statx and DAX state of a path on a hung NFS
 * mount) as Promises, shaped like `node:fs/promises`. They run the
 * synchronous functions of `daxkit`, unchanged, on worker threads (up to
 * four, made when first needed and not keeping the process alive when idle),
 * so the event loop keeps serving; results and errors are the same, class
 * and fields included.
 * @packageDocumentation
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as Daxkit from './index';
import { DaxError } from './errors';
import { deserializeError, restoreBuffers, type Request, type Response } from './promises/wire';

const MAX_WORKERS = Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));
const WORKER = path.join(__dirname, 'promises', 'worker.js');

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  stack: string;
  msg: Request;
}

interface Thread {
  worker: Worker;
  busy: Pending | null;
}

const threads: Thread[] = [];
const queue: Pending[] = [];
let nextId = 1;

function spawn(): Thread {
  const t: Thread = { worker: new Worker(WORKER), busy: null };
  t.worker.unref();
  t.worker.on('message', (res: Response) => {
    const p = t.busy;
    t.busy = null;
    t.worker.unref();
    if (p !== null) {
      if (res.ok) p.resolve(restoreBuffers(res.value));
      else p.reject(deserializeError(res.error, p.stack));
    }
    dispatch();
  });
  const fail = (why: unknown): void => {
    threads.splice(threads.indexOf(t), 1);
    const p = t.busy;
    t.busy = null;
    if (p !== null) {
      p.reject(new DaxError('ERR_DAX_WORKER_EXITED', `daxkit/promises: the worker thread running ${p.msg.fn}() stopped: ${String(why)}`, { cause: why }));
    }
    dispatch();
  };
  t.worker.on('error', fail);
  t.worker.on('exit', (code) => {
    if (threads.includes(t)) fail(`exit code ${code}`);
  });
  threads.push(t);
  return t;
}

function dispatch(): void {
  while (queue.length > 0) {
    let t = threads.find((x) => x.busy === null);
    if (t === undefined) {
      if (threads.length >= MAX_WORKERS) return;
      t = spawn();
    }
    const p = queue.shift()!;
    t.busy = p;
    // A busy worker keeps the process alive until its answer is in.
    t.worker.ref();
    t.worker.postMessage(p.msg);
  }
}

// The caller's stack, without this file's frames, for the error it may get.
function callerStack(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, call);
  return (holder.stack ?? '').split('\n').slice(1).join('\n');
}

/**
 * For each argument of each function: the names its synchronous form reads
 * from that object (an options object, or clearBadblocks' range), or null
 * where it takes a path or a flag.
 */
const OBJECT_KEYS: Record<Request['fn'], ReadonlyArray<readonly string[] | null>> = {
  statx: [null, ['followSymlinks']],
  daxStatus: [null],
  setDaxFlag: [null, null, ['recursive', 'dryRun', 'followSymlinks', 'atomic']],
  badblocks: [null, ['sysfsRoot']],
  findBadFiles: [null, ['sysfsRoot']],
  clearBadblocks: [null, ['offset', 'length'], ['allowUncleared', 'sysfsRoot', 'beneath']],
};

function isPlain(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === Array.prototype || proto === null;
}

/**
 * The arguments as the worker must see them to do what the synchronous call
 * does here, or null when only the synchronous call, on this thread, can.
 * Structured clone keeps own enumerable properties only, and turns a Buffer
 * into a plain Uint8Array and a URL or class instance into a plain object:
 * so an option the synchronous form would read through the prototype chain
 * (`Object.create({ dryRun: true })`, a class's getter) is read here, and
 * Buffers are listed (`buffers`) to be made Buffers again over there, as
 * their errors name them. A value no option takes (a URL, a Date, a class
 * instance) makes the synchronous form throw at once: it runs here.
 */
function prepare(fn: Request['fn'], args: unknown[]): { args: unknown[]; buffers: Request['buffers'] } | null {
  const buffers: Request['buffers'] = [];
  const keys = OBJECT_KEYS[fn];
  const out: unknown[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const known = keys[i] ?? null;
    if (Buffer.isBuffer(a)) buffers.push([i, null]);
    if (known === null || a === null || typeof a !== 'object' || ArrayBuffer.isView(a) || Array.isArray(a)) {
      if (!isPlain(a) && !ArrayBuffer.isView(a)) return null;
      out.push(a);
      continue;
    }
    // An options object: what the synchronous form sees, own keys (checked
    // against the known ones) and known keys wherever they are found.
    const o: Record<string, unknown> = {};
    try {
      for (const k of Object.keys(a)) o[k] = (a as Record<string, unknown>)[k];
      for (const k of known) if (!Object.prototype.hasOwnProperty.call(o, k) && (a as Record<string, unknown>)[k] !== undefined) o[k] = (a as Record<string, unknown>)[k];
    } catch {
      return null;
    }
    for (const [k, v] of Object.entries(o)) {
      if (Buffer.isBuffer(v)) buffers.push([i, k]);
      else if (!isPlain(v) && !ArrayBuffer.isView(v)) return null;
    }
    out.push(o);
  }
  return { args: out, buffers };
}

function call<T>(fn: Request['fn'], args: unknown[]): Promise<T> {
  const stack = callerStack();
  let prepared = prepare(fn, args);
  if (prepared !== null) {
    try {
      structuredClone(prepared.args);
    } catch {
      prepared = null;
    }
  }
  if (prepared === null) {
    // What structured clone cannot carry as it is (a function, a symbol, a
    // proxy, a URL) is hardly a valid argument: the synchronous call, here,
    // says exactly why (and runs, on this thread, in the odd case that it is valid).
    try {
      const daxkit = require('./index') as Record<Request['fn'], (...a: unknown[]) => unknown>;
      return Promise.resolve(daxkit[fn](...args) as T);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  const msg: Request = { id: nextId++, fn, args: prepared.args, buffers: prepared.buffers };
  return new Promise<T>((resolve, reject) => {
    queue.push({ resolve: resolve as (v: unknown) => void, reject, stack, msg });
    dispatch();
  });
}

/** `statx(path, options)` off the main thread. */
export function statx(p: Daxkit.PathArg, options?: Daxkit.StatxOptions): Promise<Daxkit.StatxResult> {
  return call('statx', [p, options]);
}

/** `daxStatus(path)` off the main thread. */
export function daxStatus(p: Daxkit.PathArg): Promise<Daxkit.DaxStatus> {
  return call('daxStatus', [p]);
}

/** `setDaxFlag(path, enabled, options)` off the main thread: a recursive run does not block the event loop. */
export function setDaxFlag(p: Daxkit.PathArg, enabled: boolean, options?: Daxkit.SetDaxFlagOptions): Promise<Daxkit.DaxFlagReport> {
  return call('setDaxFlag', [p, enabled, options]);
}

/** `badblocks(target, options)` off the main thread. */
export function badblocks(target: Daxkit.PathArg, options?: Daxkit.BadblocksOptions): Promise<Daxkit.BadblocksReport> {
  return call('badblocks', [target, options]);
}

/** `findBadFiles(dir, options)` off the main thread. */
export function findBadFiles(dir: Daxkit.PathArg, options?: Daxkit.BadblocksOptions): Promise<Daxkit.BadFilesReport> {
  return call('findBadFiles', [dir, options]);
}

/** `clearBadblocks(file, range, options)` off the main thread. */
export function clearBadblocks(file: Daxkit.PathArg, range?: { offset: number; length: number }, options?: Daxkit.ClearBadblocksOptions): Promise<Daxkit.ClearBadblocksResult> {
  return call('clearBadblocks', [file, range, options]);
}
