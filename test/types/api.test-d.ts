// Compile-only checks of the public types (tsc -p tsconfig.json, run by
// npm test): misuse must not compile. Never executed.
import {
  open,
  statx,
  daxStatus,
  getDaxFlag,
  setDaxFlag,
  badblocks,
  findBadFiles,
  clearBadblocks,
  DaxMapping,
  DaxError,
  DaxMediaError,
  DaxSystemError,
  type OpenOptions,
  type MappingKind,
  type FlushMechanism,
} from '../../lib';

export function typeChecks(): void {
  const m: DaxMapping = open('/mnt/pmem/f', { size: 4096, create: true, sync: 'required' });
  const kind: MappingKind = m.kind;
  const mech: FlushMechanism = m.flushMechanism;
  const u8: Uint8Array = m.bytes;
  const ab: ArrayBuffer = m.buffer;
  const buf: Buffer = m.read(0, 10);
  const addr: bigint = m.address;
  const lines: number = m.stats().linesFlushed;
  void lines;
  m.persist();
  m.persist(0, 64);
  m.copyPersist(0, new Float64Array(2));
  m.write(0, new DataView(new ArrayBuffer(4)));
  m.close();
  m[Symbol.dispose]();
  open(3);
  const o: OpenOptions = { offset: 0, readonly: true };
  const dax: boolean | null = statx('/x').dax;
  const e = new DaxError('ERR_DAX_CLOSED', 'x');
  const code: 'ERR_DAX_CLOSED' | 'ERR_DAX_NOT_SUPPORTED' | 'ERR_DAX_TOO_LARGE' | 'ERR_DAX_EXTERNAL_BUFFERS_UNSUPPORTED' | 'ERR_DAX_READONLY' | 'ERR_DAX_TOO_MANY_MAPPINGS' | 'ERR_DAX_TREE_CHANGED' | 'ERR_DAX_MOUNTINFO_FORMAT' | 'ERR_DAX_SYSFS_FORMAT' | 'ERR_DAX_INTERNAL' | 'ERR_DAX_NOT_DURABLE' | 'ERR_DAX_WORKER_EXITED' = e.code;
  const off: number | undefined = (null as unknown as DaxMediaError).offset;
  const sc: string = (null as unknown as DaxSystemError).syscall;
  void [kind, mech, u8, ab, buf, addr, o, dax, code, off, sc];

  // @ts-expect-error sync is 'auto' | 'required' | 'off'
  open('/x', { sync: 'always' });
  // @ts-expect-error size is a number
  open('/x', { size: '4096' });
  // @ts-expect-error no such option
  open('/x', { readOnly: true });
  // @ts-expect-error the target is a path or a descriptor
  open(Buffer.from('/x'));
  // @ts-expect-error length is read-only
  m.length = 5;
  // @ts-expect-error kind is one of three strings
  const k: 'pmem' = m.kind;
  // @ts-expect-error the constructor is internal
  new DaxMapping();
  // @ts-expect-error not an ERR_DAX_* code
  new DaxError('ERR_OTHER', 'x');
  void k;
}

/** Paths: a string or the exact bytes; reports give both. */
export function pathChecks(): void {
  const name = Buffer.from([0x61, 0xff]);
  const mnt: number | null = statx(name).mntId;
  const status: Buffer = daxStatus(name).pathBuffer;
  const flag: boolean = getDaxFlag(name, { followSymlinks: false });
  const r = setDaxFlag(new Uint8Array(name), true, { recursive: true, atomic: true });
  const bytes: Buffer = r.entries[0].pathBuffer;
  const text: string = r.entries[0].path;
  const t: Buffer = badblocks(name).targetBuffer;
  const f: Buffer = findBadFiles(name).files[0].targetBuffer;
  const c: Buffer = clearBadblocks(name, undefined, { beneath: '/mnt/pmem', allowUncleared: true }).pathBuffer;
  void [mnt, status, flag, bytes, text, t, f, c];
  // @ts-expect-error a path is a string or bytes, not a number
  getDaxFlag(3);
  // @ts-expect-error an entry's text path is a string
  const n: Buffer = r.entries[0].path;
  void n;
}
