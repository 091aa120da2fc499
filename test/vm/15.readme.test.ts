// The README's DAX example runs as written on a DAX mount, with only its path
// changed, and prints what the README says it prints.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cpuInfo } from '../../lib';
import { readmeExamples } from '../helpers';
import { pmemFs, vit } from './vm-env';

const ROOT = path.join(__dirname, '..', '..', '..');

describe('the README on DAX', function () {
  vit("the sync: 'required' example maps, persists and says fsdax true and the flush instruction", function () {
    const file = path.join(pmemFs[1].dir, `readme-${process.pid}`);
    const code = readmeExamples()[1];
    assert.ok(code.includes("'/mnt/pmem/log'"));
    const r = spawnSync(process.execPath, ['-e', code.replace("'/mnt/pmem/log'", JSON.stringify(file))], { cwd: ROOT, encoding: 'utf8' });
    try {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `fsdax true ${cpuInfo().flush}\n`);
      const back = Buffer.alloc(24);
      const fd = fs.openSync(file, 'r');
      fs.readSync(fd, back, 0, 24, 4096);
      fs.closeSync(fd);
      assert.equal(back.toString(), 'hello, persistent memory');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
