// npm test: for each Node.js version under test, the host suite; then the
// DAX suite inside the emulated-pmem VM, every version in turn in one boot;
// then the suite that boots the VM from the host (power failure: twice on the
// same images; daxkit bench starting the VM itself) on the newest version.
// The addon is built once, by the Node.js that runs npm (Node-API, so every
// version loads the same binary), and so is its test build (test/native,
// scripts/test-build.ts), before any suite; the other versions come from the npm
// registry (scripts/node-binaries.ts). A version that cannot be had, and the
// VM suites where the VM cannot run, are reported as pending with the
// reason, never as passed.
//
//   node dist/scripts/run-tests.js [--node LIST]... [--vm-only]
//
//   --node LIST   the Node.js versions to test: majors (newest release) or
//                 exact versions, comma-separated [DAXKIT_TEST_NODE; 20,22,24,26]
//   --vm-only     the VM suites only; fails if the VM cannot run
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { hiddenInGuest, runInVm, vmBlocker } from '../lib/vm/harness';
import { DEFAULT_NODE_VERSIONS, compareVersions, isAvailable, nodeCacheDir, parseNodeVersions, resolveNodeVersions, type NodeBinary } from './node-binaries';
import { buildTestAddon, TEST_ADDON } from './test-build';

const ROOT = path.join(__dirname, '..', '..');
const MOCHA = path.relative(ROOT, require.resolve('mocha/bin/mocha.js'));
const USAGE = 'Usage: npm test -- [--node 20,22,24,26] [--vm-only]   (or DAXKIT_TEST_NODE=20,26 npm test)\n';

type Outcome = 'passed' | 'FAILED' | 'pending';
const summary: Array<{ suite: string; node: string; outcome: Outcome; note: string }> = [];

function banner(text: string): void {
  process.stdout.write(`\n=== ${text} ===\n`);
}

function seconds(t0: number): string {
  return `${Math.round((Date.now() - t0) / 1000)} s`;
}

function mochaOnHost(execPath: string, config: string | null, env: NodeJS.ProcessEnv = {}): Outcome {
  const args = [MOCHA, ...(config ? ['--config', config] : [])];
  const r = spawnSync(execPath, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0 ? 'passed' : 'FAILED';
}

function shq(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

function record(suite: string, node: string, outcome: Outcome, note = ''): void {
  summary.push({ suite, node, outcome, note });
}

/**
 * The DAX suite for each version, one after the other in a single boot (each
 * further boot would add about 15 s; the suite itself takes about 3 minutes
 * under TCG); its tests make files of their own, so it can run again in the
 * same boot. Each run ends with a marker line that carries its exit
 * status; a version whose marker is missing did not finish.
 */
async function daxSuiteInVm(nodes: NodeBinary[]): Promise<void> {
  const marker = 'daxkit-test: DAX suite on Node ';
  const script = ['set +e'];
  for (const n of nodes) {
    script.push(`printf '\\n=== DAX suite, inside the emulated-pmem VM, on Node %s ===\\n' ${shq(n.version)}`);
    script.push(`t=$SECONDS; ${shq(n.execPath)} ${shq(MOCHA)} --config test/vm/mocharc.json; rc=$?`);
    script.push(`echo "${marker}${n.version} exited with $rc after $((SECONDS - t)) s"`);
  }
  const t0 = Date.now();
  const r = await runInVm(ROOT, [script.join('\n')], { args: ['--timeout', String(1200 + 600 * nodes.length)], tee: true });
  process.stdout.write(`(the VM run took ${seconds(t0)}, boot included)\n`);
  const done = new Map([...r.stdout.matchAll(new RegExp(`^${marker}(\\S+) exited with (\\d+) after (\\d+ s)$`, 'gm'))].map((m) => [m[1], m]));
  const why = r.code === 125 ? 'the VM could not start' : r.code === 124 ? 'the VM timed out' : `the VM run ended with ${r.code} before it finished`;
  for (const n of nodes) {
    const m = done.get(n.version);
    record('DAX suite in the VM', n.version, m?.[2] === '0' ? 'passed' : 'FAILED', m ? m[3] : why);
  }
}

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseArgs({ options: { node: { type: 'string', multiple: true }, 'vm-only': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (e) {
    process.stderr.write(`daxkit: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let specs: string[];
  try {
    specs = parseNodeVersions(opts.node?.join(',') ?? process.env.DAXKIT_TEST_NODE ?? DEFAULT_NODE_VERSIONS.join(','));
  } catch (e) {
    process.stderr.write(`daxkit: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const vmOnly = opts['vm-only'] === true;

  // Once, before any suite: the host's tests build it on demand too, but the
  // VM's see only what the host built.
  banner('the test build of the addon (scripts/test-build.ts)');
  const t0 = Date.now();
  const notBuilt = buildTestAddon();
  process.stdout.write(notBuilt === null ? `  ${path.relative(ROOT, TEST_ADDON)} is up to date (${seconds(t0)})\n` : `  not built, the tests that need it are pending: ${notBuilt}\n`);

  banner(`Node.js versions (cache: ${nodeCacheDir()})`);
  const choices = resolveNodeVersions(specs, (line) => process.stdout.write(`  ${line}\n`));
  for (const c of choices) process.stdout.write(`  ${c.spec}: ${isAvailable(c) ? `${c.version}, ${c.origin}, ${c.execPath}` : `pending: ${c.reason}`}\n`);
  // "22" and "22.23.5" may be the same binary: it runs once.
  const nodes = choices.filter(isAvailable).filter((n, i, all) => all.findIndex((x) => x.version === n.version) === i);
  const missing = choices.filter((c) => !isAvailable(c)) as Array<{ spec: string; reason: string }>;

  if (!vmOnly) {
    for (const n of nodes) {
      banner(`host suite on Node ${n.version}`);
      const t0 = Date.now();
      record('host suite', n.version, mochaOnHost(n.execPath, null), seconds(t0));
    }
    for (const m of missing) record('host suite', m.spec, 'pending', m.reason);
  }

  const blocker = vmBlocker();
  if (blocker !== null) {
    if (vmOnly) {
      process.stderr.write(`daxkit: the DAX suite cannot run here: ${blocker}\n`);
      return 1;
    }
    // Load the VM suites on the host so that each of their tests is listed
    // as pending, with the reason in its title.
    const env = { DAXKIT_VM_UNAVAILABLE: blocker };
    banner('DAX suite (emulated-pmem VM): pending');
    const a = mochaOnHost(process.execPath, 'test/vm/mocharc.json', env);
    banner('VM boots from the host (power failure, bench): pending');
    const b = mochaOnHost(process.execPath, 'test/vm-host/mocharc.json', env);
    for (const c of choices) record('DAX suite in the VM', isAvailable(c) ? c.version : c.spec, a === 'FAILED' ? a : 'pending', blocker);
    record('VM boots from the host', 'any', b === 'FAILED' ? b : 'pending', blocker);
  } else {
    // The guest sees the host's root except its own /tmp and the like.
    const seen = nodes.filter((n) => !hiddenInGuest(n.execPath));
    if (seen.length > 0) await daxSuiteInVm(seen);
    for (const n of nodes.filter((x) => hiddenInGuest(x.execPath))) record('DAX suite in the VM', n.version, 'pending', `the guest cannot see ${n.execPath}: set DAXKIT_NODE_CACHE to a place outside /tmp, /var/tmp, /dev/shm and /run`);
    for (const m of missing) record('DAX suite in the VM', m.spec, 'pending', m.reason);

    // Boots of its own, and slow: once, on the newest version the guest can run.
    const newest = [...seen].sort((a, b) => compareVersions(b.version, a.version))[0];
    if (newest === undefined) {
      record('VM boots from the host', 'any', 'pending', 'no Node.js version under test can run in the guest');
    } else {
      banner(`VM boots from the host (power failure, bench) on Node ${newest.version}`);
      const t0 = Date.now();
      record('VM boots from the host', newest.version, mochaOnHost(newest.execPath, 'test/vm-host/mocharc.json'), seconds(t0));
    }
  }

  banner('summary');
  for (const s of summary) process.stdout.write(`  ${s.suite}, Node ${s.node}: ${s.outcome}${s.note ? ` (${s.note})` : ''}\n`);
  return summary.some((s) => s.outcome === 'FAILED') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
