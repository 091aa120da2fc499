// The emulated-pmem VM harness refuses, before it installs or boots anything,
// what cannot work, with exit status 125 and the reason in plain words.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VM_RUNNER } from '../../lib/vm';

const ROOT = path.join(__dirname, '..', '..', '..');

function runner(cache: string): { status: number | null; stderr: string } {
  const r = spawnSync(VM_RUNNER, [ROOT, '--', 'true'], { encoding: 'utf8', env: { ...process.env, DAXKIT_VM_CACHE: cache }, timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('the VM harness refuses a cache that cannot work', function () {
  const root = process.getuid?.() === 0;
  const t = root ? it : (title: string) => it(`${title} [pending: the harness checks its cache after its root check; run as root]`);

  t('a cache under /tmp, /var/tmp or /dev/shm, which the guest covers with its own tmpfs', function () {
    for (const cache of [path.join(os.tmpdir(), 'daxkit-vm-cache'), '/var/tmp/daxkit-vm-cache', '/dev/shm/daxkit-vm-cache']) {
      const r = runner(cache);
      assert.equal(r.status, 125, cache);
      assert.match(r.stderr, /covers with a tmpfs of its own; set DAXKIT_VM_CACHE to a place elsewhere/, cache);
    }
  });

  t('a relative cache path, and a cache inside a git work tree', function () {
    const rel = runner('relative/cache');
    assert.equal(rel.status, 125);
    assert.match(rel.stderr, /DAXKIT_VM_CACHE must be an absolute path/);
    if (!fs.existsSync(path.join(ROOT, '.git'))) return; // not a clone: no work tree to refuse
    const inRepo = runner(path.join(ROOT, 'vm-cache'));
    assert.equal(inRepo.status, 125);
    assert.match(inRepo.stderr, /inside a git work tree/);
  });
});
