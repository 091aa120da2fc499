// What persist(), flush(), drain() and copyPersist() make the CPU do, seen on
// real (emulated) pmem through the test build's trace (native/core/trace.h):
// reading the data back cannot tell, since on DAX a load sees the CPU cache
// whether or not a line was ever written back. For fsdax with MAP_SYNC and
// for devdax: persist(offset, length) writes back exactly the cache lines of
// the range, each once and in order, then fences once; copyPersist() stores
// every line of its range non-temporally or writes it back, then fences.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { cpuInfo } from '../../lib';
import { needTestBuild, runFixture, testBuildEnv } from '../helpers';
import { devdax, pmemFs, vit } from './vm-env';

const MiB = 1024 * 1024;
const LINE = cpuInfo().lineSize;

type Ev = { kind: string; at: number | null; len: number };
type Op = ['persist' | 'flush', number?, number?] | ['drain'] | ['copyPersist' | 'write', number, number];

/** The line offsets (in the mapping) of every cache line that [off, off + len) touches. */
function linesOf(off: number, len: number): number[] {
  const out: number[] = [];
  if (len === 0) return out;
  for (let l = Math.floor(off / LINE) * LINE; l < off + len; l += LINE) out.push(l);
  return out;
}

const fence: Ev = { kind: 'fence', at: null, len: 0 };
const flushes = (off: number, len: number): Ev[] => linesOf(off, len).map((at) => ({ kind: 'flush', at, len: LINE }));

/**
 * copyPersist()'s record: the lines of its range, each once and in order,
 * stored non-temporally (whole lines of a copy of 256 bytes or more) or
 * written back (the partial head and tail, and small copies), then one fence.
 */
function checkCopyPersist(events: Ev[], off: number, len: number, what: string): void {
  assert.deepEqual(events[events.length - 1], fence, `${what}: ends with the fence`);
  const body = events.slice(0, -1);
  assert.deepEqual(body.map((e) => e.at), linesOf(off, len), `${what}: every line of the range once, in order`);
  for (const e of body) {
    const whole = (e.at as number) >= off && (e.at as number) + LINE <= off + len;
    assert.equal(e.kind, len >= 256 && whole ? 'nt' : 'flush', `${what}: line ${e.at}`);
  }
}

function checkAll(mappingSize: number, results: Ev[][], ops: Op[]): void {
  assert.equal(results.length, ops.length);
  ops.forEach((op, i) => {
    const got = results[i];
    const what = JSON.stringify(op);
    switch (op[0]) {
      case 'persist': {
        const off = op[1] ?? 0;
        const len = op[2] ?? mappingSize - off;
        assert.deepEqual(got, [...flushes(off, len), fence], what);
        break;
      }
      case 'flush': {
        const off = op[1] ?? 0;
        assert.deepEqual(got, flushes(off, op[2] ?? mappingSize - off), `${what}: the lines, no fence`);
        break;
      }
      case 'drain':
        assert.deepEqual(got, [fence], what);
        break;
      case 'copyPersist':
        checkCopyPersist(got, op[1], op[2], what);
        break;
      case 'write':
        assert.deepEqual(got, [], `${what}: nothing written back, no fence (durable only after persist())`);
        break;
    }
  });
}

const OPS: Op[] = [
  ['persist', 0, 64],
  ['persist', 64, 1],
  ['persist', 63, 2],
  ['persist', 0, 4096],
  ['persist', 100, 0],
  ['persist', 3 * 4096 + 17, 1000],
  ['flush', 0, 128],
  ['flush', 200, 300],
  ['drain'],
  ['copyPersist', 10, 100],
  ['copyPersist', 128, 300],
  ['copyPersist', 4096 + 60, 4096],
  ['copyPersist', 65536, 256],
  ['write', 0, 100],
  ['persist', 512 * 1024],
  ['persist'],
];

async function traceOf(target: string, options: object): Promise<{ kind: string; mapSync: boolean; flushMechanism: string; results: Ev[][] }> {
  const r = await runFixture('flush-trace', [target, JSON.stringify(options), JSON.stringify(OPS)], { env: testBuildEnv() });
  assert.equal(r.code, 0, r.stderr);
  return r.messages[0] as { kind: string; mapSync: boolean; flushMechanism: string; results: Ev[][] };
}

describe('the flush, seen by the test build (every line written back, then the fence)', function () {
  for (const f of pmemFs) {
    vit(`fsdax on ${f.name} with MAP_SYNC: persist(), flush(), drain() and copyPersist() write back exactly their lines, then fence`, async function (this: Mocha.Context) {
      needTestBuild(this);
      const out = await traceOf(path.join(f.dir, 'flush-trace'), { size: MiB, create: true, sync: 'required' });
      assert.equal(out.kind, 'fsdax');
      assert.equal(out.mapSync, true);
      assert.equal(out.flushMechanism, cpuInfo().flush);
      checkAll(MiB, out.results, OPS);
    });
  }

  vit('devdax: the same', async function (this: Mocha.Context) {
    needTestBuild(this);
    const out = await traceOf(devdax, { size: 2 * MiB });
    assert.equal(out.kind, 'devdax');
    assert.equal(out.flushMechanism, cpuInfo().flush);
    checkAll(2 * MiB, out.results, OPS);
  });
});
