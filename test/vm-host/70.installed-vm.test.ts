// The README's first command on DAX, from a project that installed the packed
// tarball: npx daxkit vm -- node node_modules/daxkit/scripts/examples/hello-dax.js
// boots the emulated-pmem VM from the installed package's own harness and
// runs the shipped example on fsdax there.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { vmBlocker } from '../../lib/vm/harness';
import { getPacked } from '../host/packed';

const blocker = vmBlocker();

describe('the installed package on DAX', function () {
  const title = 'npx daxkit vm -- node node_modules/daxkit/scripts/examples/hello-dax.js maps a file on fsdax with MAP_SYNC';
  if (blocker !== null) {
    it(`${title} [pending: ${blocker}]`);
    return;
  }
  it(title, async function () {
    const p = getPacked();
    // The user's own PATH this time: the VM needs QEMU and the like.
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn('npx', ['--no-install', 'daxkit', 'vm', '--', 'node', 'node_modules/daxkit/scripts/examples/hello-dax.js'], { cwd: p.app, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\/mnt\/pmem-xfs\/hello-dax: kind=fsdax mapSync=true granularity=cacheline flush=(clwb|clflushopt|clflush) STATX_ATTR_DAX=true\nread\(2\) after close: hello, persistent memory \(/);
  });
});
