// npm test: the host suite, then the DAX suite inside the emulated-pmem VM and
// the suite that boots the VM from the host (power failure: twice on the same
// images; daxkit bench starting the VM itself). Where the VM cannot run, the
// VM suites still load and every test in them is reported as pending with
// the reason, never as passed.
//
//   node dist/scripts/run-tests.js            host suite + VM suites (or pending)
//   node dist/scripts/run-tests.js --vm-only  VM suites only; fails if the VM cannot run
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { runInVm, vmBlocker } from '../lib/vm';

const ROOT = path.join(__dirname, '..', '..');
const MOCHA = path.relative(ROOT, require.resolve('mocha/bin/mocha.js'));
const vmOnly = process.argv.includes('--vm-only');

type Outcome = 'passed' | 'FAILED' | 'pending';
const summary: Array<[string, Outcome, string]> = [];

function banner(text: string): void {
  process.stdout.write(`\n=== ${text} ===\n`);
}

function mochaOnHost(name: string, config: string | null, env: NodeJS.ProcessEnv = {}): Outcome {
  banner(name);
  const args = [MOCHA, ...(config ? ['--config', config] : [])];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0 ? 'passed' : 'FAILED';
}

async function main(): Promise<number> {
  if (!vmOnly) summary.push(['host suite', mochaOnHost('host suite', null), '']);

  const blocker = vmBlocker();
  if (blocker !== null) {
    if (vmOnly) {
      process.stderr.write(`daxkit: the DAX suite cannot run here: ${blocker}\n`);
      return 1;
    }
    // Load the VM suites on the host so that each of their tests is listed
    // as pending, with the reason in its title.
    const env = { DAXKIT_VM_UNAVAILABLE: blocker };
    const a = mochaOnHost('DAX suite (emulated-pmem VM): pending', 'test/vm/mocharc.json', env);
    const b = mochaOnHost('VM boots from the host (power failure, bench): pending', 'test/vm-host/mocharc.json', env);
    summary.push(['DAX suite in the VM', a === 'FAILED' ? a : 'pending', blocker]);
    summary.push(['VM boots from the host', b === 'FAILED' ? b : 'pending', blocker]);
  } else {
    banner('DAX suite, inside the emulated-pmem VM');
    const r = await runInVm(ROOT, ['node', MOCHA, '--config', 'test/vm/mocharc.json']);
    summary.push(['DAX suite in the VM', r.code === 0 ? 'passed' : 'FAILED', r.code === 125 ? 'the VM could not start' : '']);
    summary.push(['VM boots from the host', mochaOnHost('VM boots from the host (power failure, bench)', 'test/vm-host/mocharc.json'), '']);
  }

  banner('summary');
  for (const [name, outcome, why] of summary) process.stdout.write(`  ${name}: ${outcome}${why ? ` (${why})` : ''}\n`);
  return summary.some(([, o]) => o === 'FAILED') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
