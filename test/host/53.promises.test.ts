// daxkit/promises: the same results and errors as the synchronous forms,
// side by side, and the event loop serving while a long walk runs.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as daxkit from '../../lib';
import * as promises from '../../lib/promises';
import { loopMount, loopMountBlocker, mkTempDir, type LoopMount } from '../helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'sysfs', 'qemu-6.1');

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function syncOutcome(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

async function asyncOutcome(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

// The same outcome: the same value (prototypes included: Buffers stay
// Buffers), or an error of the same class with the same message and fields.
function assertSame(what: string, a: Outcome, b: Outcome): void {
  assert.equal(b.ok, a.ok, `${what}: ${a.ok ? 'the synchronous form returned' : `the synchronous form threw ${String((a as { error: unknown }).error)}`}, the promise ${b.ok ? 'resolved' : `rejected with ${String((b as { error: unknown }).error)}`}`);
  if (a.ok && b.ok) {
    assert.deepStrictEqual(b.value, a.value, what);
    return;
  }
  const ea = (a as { error: Error }).error;
  const eb = (b as { error: Error }).error;
  assert.equal(Object.getPrototypeOf(eb), Object.getPrototypeOf(ea), `${what}: the class`);
  assert.equal(eb.message, ea.message, `${what}: the message`);
  assert.deepStrictEqual({ ...eb }, { ...ea }, `${what}: the fields`);
  assert.deepStrictEqual((eb as { cause?: unknown }).cause === undefined, (ea as { cause?: unknown }).cause === undefined, `${what}: the cause`);
  assert.match(String(eb.stack), /53\.promises\.test/, `${what}: the stack is the caller's`);
}

describe('daxkit/promises', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkTempDir();
    fs.writeFileSync(path.join(dir, 'file'), 'x'.repeat(5000));
    fs.symlinkSync('file', path.join(dir, 'link'));
    fs.mkdirSync(path.join(dir, 'sub'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is what require("daxkit/promises") gives, with its types', function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
    assert.equal(path.join(ROOT, pkg.exports['./promises'].default), require.resolve('../../lib/promises'));
    assert.ok(fs.existsSync(path.join(ROOT, pkg.exports['./promises'].types)));
    for (const name of ['statx', 'daxStatus', 'setDaxFlag', 'badblocks', 'findBadFiles', 'clearBadblocks']) {
      assert.equal(typeof (promises as Record<string, unknown>)[name], 'function', name);
    }
  });

  it('statx, daxStatus: the same results and errors as the synchronous forms', async function () {
    const cases: Array<[string, () => unknown, () => Promise<unknown>]> = [];
    const args: unknown[][] = [
      [path.join(dir, 'file')],
      [path.join(dir, 'link'), { followSymlinks: false }],
      [Buffer.from(path.join(dir, 'file'))],
      [path.join(dir, 'missing')],
      [''],
      [42],
      [path.join(dir, 'file'), { followsymlinks: true }],
      [path.join(dir, 'file'), () => 0],
      [Symbol('x')],
    ];
    for (const a of args) {
      cases.push([`statx(${String(a[0])})`, () => daxkit.statx(...(a as [string])), () => promises.statx(...(a as [string]))]);
      cases.push([`daxStatus(${String(a[0])})`, () => daxkit.daxStatus(a[0] as string), () => promises.daxStatus(a[0] as string)]);
    }
    for (const [what, s, p] of cases) assertSame(what, syncOutcome(s), await asyncOutcome(p));
  });

  it('badblocks, findBadFiles, clearBadblocks: the same results and errors (fixture sysfs trees and plain files)', async function () {
    const fix = { sysfsRoot: FIX };
    const cases: Array<[string, () => unknown, () => Promise<unknown>]> = [
      ['badblocks(pmem0)', () => daxkit.badblocks('pmem0', fix), () => promises.badblocks('pmem0', fix)],
      ['badblocks(region0)', () => daxkit.badblocks('region0', fix), () => promises.badblocks('region0', fix)],
      ['badblocks(dax1.0)', () => daxkit.badblocks('dax1.0', fix), () => promises.badblocks('dax1.0', fix)],
      ['badblocks(region9)', () => daxkit.badblocks('region9', fix), () => promises.badblocks('region9', fix)],
      ['badblocks(file)', () => daxkit.badblocks(path.join(dir, 'file')), () => promises.badblocks(path.join(dir, 'file'))],
      ['badblocks(bad option)', () => daxkit.badblocks('pmem0', { sysfsRoot: 1 } as never), () => promises.badblocks('pmem0', { sysfsRoot: 1 } as never)],
      ['findBadFiles(dir)', () => daxkit.findBadFiles(dir), () => promises.findBadFiles(dir)],
      ['findBadFiles(missing)', () => daxkit.findBadFiles(path.join(dir, 'missing')), () => promises.findBadFiles(path.join(dir, 'missing'))],
      ['clearBadblocks(file)', () => daxkit.clearBadblocks(path.join(dir, 'file')), () => promises.clearBadblocks(path.join(dir, 'file'))],
      ['clearBadblocks(bad range)', () => daxkit.clearBadblocks(path.join(dir, 'file'), { offset: -1, length: 1 }), () => promises.clearBadblocks(path.join(dir, 'file'), { offset: -1, length: 1 })],
    ];
    for (const [what, s, p] of cases) assertSame(what, syncOutcome(s), await asyncOutcome(p));
    const r = await promises.badblocks('pmem0', fix);
    assert.ok(Buffer.isBuffer(r.targetBuffer), 'Buffers come back as Buffers');
  });

  it('setDaxFlag on the temp directory, on a missing path, with bad arguments: the same reports and errors', async function () {
    const cases: Array<[string, unknown[]]> = [
      ['file', [path.join(dir, 'file'), true]],
      ['dir, recursive, dry run', [dir, true, { recursive: true, dryRun: true }]],
      ['missing', [path.join(dir, 'missing'), false]],
      ['not a boolean', [dir, 'yes']],
      ['unknown option', [dir, true, { recursiv: true }]],
    ];
    for (const [what, a] of cases) {
      const s = syncOutcome(() => daxkit.setDaxFlag(...(a as [string, boolean])));
      // What the synchronous call changed is put back before the promise runs.
      if (s.ok) syncOutcome(() => daxkit.setDaxFlag(a[0] as string, !(a[1] as boolean), a[2] as object));
      assertSame(`setDaxFlag: ${what}`, s, await asyncOutcome(() => promises.setDaxFlag(...(a as [string, boolean]))));
    }
  });

  it('reads options as the synchronous form does: through the prototype chain and getters (a dry run stays dry), Buffers and URLs named as such', async function () {
    const file = path.join(dir, 'file');
    daxkit.setDaxFlag(file, false);
    class DryRun {
      get dryRun(): boolean {
        return true;
      }
    }
    for (const [what, options] of [
      ['Object.create({ dryRun: true })', Object.create({ dryRun: true }) as object],
      ['a class whose getter says dryRun', new DryRun()],
    ] as const) {
      const s = syncOutcome(() => daxkit.setDaxFlag(file, true, options));
      const p = await asyncOutcome(() => promises.setDaxFlag(file, true, options));
      // Structured clone drops what is not an own property: the worker made a real run of a dry one.
      assert.equal(daxkit.getDaxFlag(file), false, `${what}: the promise changed the flag on disk, the synchronous call did not`);
      assertSame(`setDaxFlag(${what})`, s, p);
    }
    const cases: Array<[string, unknown[]]> = [
      ['an inherited bad option', [file, Object.create({ followSymlinks: 'no' })]],
      ['an empty Buffer path', [Buffer.alloc(0)]],
      ['a Buffer path with a NUL', [Buffer.from('/tmp\0x')]],
      ['a URL path', [new URL('file:///tmp')]],
      ['a Buffer option value', [file, { followSymlinks: Buffer.from('x') }]],
      ['a URL option value', [file, { followSymlinks: new URL('file:///tmp') }]],
    ];
    for (const [what, a] of cases) {
      assertSame(`statx(${what})`, syncOutcome(() => daxkit.statx(...(a as [string]))), await asyncOutcome(() => promises.statx(...(a as [string]))));
    }
    const range = Object.create({ offset: -1, length: 1 }) as { offset: number; length: number };
    assertSame('clearBadblocks(an inherited range)', syncOutcome(() => daxkit.clearBadblocks(file, range)), await asyncOutcome(() => promises.clearBadblocks(file, range)));
  });

  describe('on a loop-mounted xfs', function () {
    const blocker = loopMountBlocker('xfs');
    let lm: LoopMount;
    before(function () {
      if (blocker !== null) this.skip();
      lm = loopMount('xfs', 400);
    });
    after(() => lm?.cleanup());

    (blocker === null ? it : it.skip)(`a recursive setDaxFlag gives the report the synchronous form gives, after the same changes${blocker ? ` (pending: ${blocker})` : ''}`, async function () {
      const tree = path.join(lm.dir, 't');
      for (const d of ['a', 'a/b', 'c']) fs.mkdirSync(path.join(tree, d), { recursive: true });
      for (const f of ['a/1', 'a/b/2', 'c/3', 'top']) fs.writeFileSync(path.join(tree, f), 'x');
      fs.symlinkSync('../top', path.join(tree, 'a', 'ln'));
      fs.writeFileSync(path.join(tree, Buffer.from([0x66, 0xff, 0x2e]).toString('latin1')), 'not UTF-8');
      for (const enabled of [true, false]) {
        const a = syncOutcome(() => daxkit.setDaxFlag(tree, enabled, { recursive: true }));
        daxkit.setDaxFlag(tree, !enabled, { recursive: true });
        const b = await asyncOutcome(() => promises.setDaxFlag(tree, enabled, { recursive: true }));
        assertSame(`recursive ${enabled}`, a, b);
      }
    });

    (blocker === null ? it : it.skip)(`the event loop keeps serving while a recursive change walks 20,000 files; the synchronous form blocks it${blocker ? ` (pending: ${blocker})` : ''}`, async function () {
      const tree = path.join(lm.dir, 'many');
      for (let d = 0; d < 100; d++) {
        const sub = path.join(tree, String(d));
        fs.mkdirSync(sub, { recursive: true });
        for (let f = 0; f < 200; f++) fs.writeFileSync(path.join(sub, String(f)), '');
      }
      const ticksDuring = async (run: () => unknown): Promise<{ ticks: number; entries: number }> => {
        let ticks = 0;
        const timer = setInterval(() => ticks++, 1);
        try {
          const report = (await run()) as daxkit.DaxFlagReport;
          return { ticks, entries: report.entries.length };
        } finally {
          clearInterval(timer);
        }
      };
      const blocked = await ticksDuring(() => daxkit.setDaxFlag(tree, true, { recursive: true }));
      const served = await ticksDuring(() => promises.setDaxFlag(tree, false, { recursive: true }));
      assert.equal(blocked.entries, 20_101);
      assert.equal(served.entries, 20_101);
      assert.equal(blocked.ticks, 0, 'the synchronous walk holds the event loop');
      assert.ok(served.ticks > 10, `the timer ran ${served.ticks} times during the walk`);
      if (process.env.DAXKIT_TEST_VERBOSE) console.log(`ticks: ${served.ticks} during the promise, ${blocked.ticks} during the synchronous walk`);
    });
  });

  it('a worker that stops before answering rejects its call with ERR_DAX_WORKER_EXITED (a DaxError with the cause); the calls after it run on a new worker', async function () {
    const lib = JSON.stringify(path.join(ROOT, 'dist', 'lib', 'promises.js'));
    const index = JSON.stringify(path.join(ROOT, 'dist', 'lib', 'index.js'));
    // The first request is not delivered: its worker is terminated instead, as a crash would end it.
    const script = `
      const wt = require('node:worker_threads');
      const post = wt.Worker.prototype.postMessage;
      wt.Worker.prototype.postMessage = function () { wt.Worker.prototype.postMessage = post; void this.terminate(); };
      const p = require(${lib});
      const { DaxError } = require(${index});
      p.statx(${JSON.stringify(dir)}).then(
        () => console.log('resolved'),
        (e) => {
          console.log(JSON.stringify({ code: e.code, name: e.name, dax: e instanceof DaxError, cause: e.cause !== undefined, message: e.message }));
          return p.statx(${JSON.stringify(dir)}).then((s) => console.log(typeof s.mode));
        },
      );`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const [first, second] = r.stdout.trim().split('\n');
    const e = JSON.parse(first) as { code: string; name: string; dax: boolean; cause: boolean; message: string };
    assert.deepEqual({ code: e.code, name: e.name, dax: e.dax, cause: e.cause }, { code: 'ERR_DAX_WORKER_EXITED', name: 'DaxError', dax: true, cause: true });
    assert.match(e.message, /the worker thread running statx\(\) stopped/);
    assert.equal(second, 'number', 'the next call, on a new worker');
  });

  it('an idle worker does not keep the process alive; a pending call does, until it settles', function () {
    const lib = JSON.stringify(path.join(ROOT, 'dist', 'lib', 'promises.js'));
    const r = spawnSync(process.execPath, ['-e', `require(${lib}).statx(${JSON.stringify(dir)}).then((s) => console.log(typeof s.mode))`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'number');
    assert.equal(r.signal, null, 'exited by itself');
  });
});
