// Maps a file on a DAX filesystem with MAP_SYNC, stores through the mapping,
// persists with the CPU's cache write-back instruction, and reads it back
// through read(2). Run it where there is DAX: npm run vm -- node scripts/examples/hello-dax.js
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { open, statx } = require('daxkit');

const dir = process.argv[2] || process.env.PMEM_XFS_DIR;
if (!dir) {
  console.error('usage: node hello-dax.js DIR-ON-A-DAX-MOUNT (or run it in `npm run vm`, which sets PMEM_XFS_DIR)');
  process.exit(2);
}
const file = path.join(dir, 'hello-dax');
const m = open(file, { size: 2 << 20, create: true, sync: 'required' });
const record = Buffer.from(`hello, persistent memory (${new Date().toISOString()})`);
m.bytes.set(record, 4096);
m.persist(4096, record.length);
console.log(`${file}: kind=${m.kind} mapSync=${m.mapSync} granularity=${m.granularity} flush=${m.flushMechanism} STATX_ATTR_DAX=${statx(file).dax}`);
m.close();

const back = Buffer.alloc(record.length);
const fd = fs.openSync(file, 'r');
fs.readSync(fd, back, 0, back.length, 4096);
fs.closeSync(fd);
console.log(`read(2) after close: ${back.toString()}`);
