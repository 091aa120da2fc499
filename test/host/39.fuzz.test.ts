// The seeded fuzz of every public function's arguments (test/fixtures/fuzz-api.ts),
// in a child process: a crash there fails this test instead of ending mocha.
// DAXKIT_FUZZ_SEED and DAXKIT_FUZZ_ITERATIONS replay or lengthen a run.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mkTempDir, runFixture } from '../helpers';

describe('fuzzing every public function\'s arguments', function () {
  this.timeout(240_000);
  const seeds = process.env.DAXKIT_FUZZ_SEED !== undefined ? [Number(process.env.DAXKIT_FUZZ_SEED)] : [1, 2, 3];
  const iterations = Number(process.env.DAXKIT_FUZZ_ITERATIONS ?? 1500);
  for (const seed of seeds) {
    it(`seed ${seed}, ${iterations} calls: every outcome is a correct result or a coded error, nothing crashes, no file is written that should not be`, async function () {
      const dir = mkTempDir();
      try {
        const r = await runFixture('fuzz-api', [dir, String(seed), String(iterations)], { timeoutMs: 200_000 });
        assert.equal(r.timedOut, false, `seed ${seed} hung`);
        assert.equal(r.signal, null, `seed ${seed}: died of ${r.signal}: ${r.stderr}`);
        assert.equal(r.code, 0, `seed ${seed}: ${r.stderr}`);
        assert.deepEqual(r.messages[0], { violations: [], roIntact: true }, `replay with DAXKIT_FUZZ_SEED=${seed}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
