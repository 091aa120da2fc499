// One convention for every error class: the name on the prototype (instances
// print as `Name: message` and carry no own `name`), every ERR_DAX_* code
// that the library or the addon can throw in the DaxErrorCode union, and no
// bare Error where a code belongs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { DaxError, DaxMediaError, DaxSystemError, SysfsFormatError } from '../../lib';
import { UsageError } from '../../lib/errors';
import { parseMountInfo } from '../../lib/fs/mounts';

const ROOT = path.join(__dirname, '..', '..', '..');

function files(dir: string, ext: RegExp): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, ext) : ext.test(e.name) ? [p] : [];
  });
}

describe('error classes', function () {
  const instances: Array<[string, Error]> = [
    ['DaxSystemError', new DaxSystemError(-2, 'open', '/x')],
    ['DaxMediaError', new DaxMediaError('read', '/x', 'mapping', 0, undefined, undefined, 0n, 2, 0)],
    ['DaxError', new DaxError('ERR_DAX_CLOSED', 'The mapping is closed')],
    ['SysfsFormatError', new SysfsFormatError('/sys/x', 1, 'bad')],
    ['UsageError', new UsageError('bad')],
  ];

  it('each has its name on the prototype, none on the instance, and prints under its name with its code', function () {
    for (const [name, e] of instances) {
      assert.equal(Object.getPrototypeOf(e).name, name);
      assert.equal(Object.prototype.hasOwnProperty.call(e, 'name'), false, name);
      assert.equal(e.name, name);
      const shown = inspect(e);
      assert.ok(shown.startsWith(`${name}: ${e.message}\n`), shown.split('\n')[0]);
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== undefined) assert.ok(shown.includes(`code: '${code}'`), shown);
    }
  });

  it('every ERR_DAX_ code in lib/ and native/ is in the DaxErrorCode union, and the union has no other', function () {
    const d = fs.readFileSync(path.join(ROOT, 'dist', 'lib', 'errors.d.ts'), 'utf8');
    const union = d.slice(d.indexOf('export type DaxErrorCode'), d.indexOf(';', d.indexOf('export type DaxErrorCode')));
    const declared = new Set([...union.matchAll(/'(ERR_DAX_[A-Z_]+)'/g)].map((m) => m[1]));
    const used = new Set<string>();
    for (const f of [...files(path.join(ROOT, 'lib'), /\.ts$/), ...files(path.join(ROOT, 'native'), /\.(cc|h)$/)]) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/ERR_DAX_[A-Z_]*[A-Z]/g)) used.add(m[0]);
    }
    assert.deepEqual([...used].sort(), [...declared].sort());
  });

  it('a malformed mountinfo line is DaxError ERR_DAX_MOUNTINFO_FORMAT naming the file and line, not a bare Error', function () {
    const good = '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n';
    assert.equal(parseMountInfo(good).length, 1);
    assert.throws(
      () => parseMountInfo(`${good}not a mountinfo line\n`, '/proc/1/mountinfo'),
      (e: unknown) => {
        assert.ok(e instanceof DaxError);
        assert.equal(e.code, 'ERR_DAX_MOUNTINFO_FORMAT');
        assert.equal(e.path, '/proc/1/mountinfo');
        assert.match(e.message, /^\/proc\/1\/mountinfo:2: malformed mountinfo line: "not a mountinfo line"$/);
        return true;
      },
    );
  });
});
