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

function call<T>(fn: Request['fn'], args: unknown[]): Promise<T> {
  const stack = callerStack();
  const msg: Request = { id: nextId++, fn, args };
  try {
    structuredClone(args);
  } catch {
    // What structured clone cannot carry (a function, a symbol, a proxy) is
    // hardly a valid argument: the synchronous call, here, says exactly why
    // (and runs, on this thread, in the odd case that it is valid).
    try {
      const daxkit = require('./index') as Record<Request['fn'], (...a: unknown[]) => unknown>;
      return Promise.resolve(daxkit[fn](...args) as T);
    } catch (e) {
      return Promise.reject(e);
    }
  }
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
