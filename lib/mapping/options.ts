// open()'s options: validated, each read exactly once, with their defaults.
import { invalidArgValue } from '../errors';
import { rejectUnknownOptions, validateBoolean, validateInteger, validateObject, validateOneOf } from '../validate';
import type { SyncMode } from './dax-mapping';

export interface OpenOptions {
  /** Bytes to map. Default: the rest of the file after `offset`, or the rest of the device. */
  size?: number;
  /** Where the mapping starts: page-aligned for files, a multiple of the device `align` for devdax. Default 0. */
  offset?: number;
  /** Create the file, or extend it, to `offset + size`: allocated and zeroed with fallocate(2). Default false. */
  create?: boolean;
  /** Mode bits of a created file (before the umask). Default 0o666. */
  mode?: number;
  /** Map read-only. Stores through `bytes` then kill the process (SIGSEGV); `write()` throws. Default false. */
  readonly?: boolean;
  /** MAP_SYNC policy for files. Default `'auto'`. devdax needs no MAP_SYNC and ignores it. */
  sync?: SyncMode;
  /**
   * `'required'`: refuse (`ERR_DAX_NOT_DURABLE`, before anything is created or changed) memory
   * whose stores cannot survive power loss at all (persistence domain `'none'`). Default `'any'`.
   */
  durability?: 'any' | 'required';
}

export interface ParsedOptions {
  size: number | undefined;
  offset: number;
  create: boolean;
  mode: number;
  readonly: boolean;
  sync: SyncMode;
  durability: 'any' | 'required';
}

const OPTION_NAMES = ['size', 'offset', 'create', 'mode', 'readonly', 'sync', 'durability'] as const;

export function parseOptions(options: unknown): ParsedOptions {
  const o = validateObject('options', options);
  rejectUnknownOptions('options', o, OPTION_NAMES);
  // Each option is read exactly once: a getter runs once, and what it
  // returned is what is validated and used.
  const size = o.size;
  const offset = o.offset;
  const create = o.create;
  const mode = o.mode;
  const readonly = o.readonly;
  const sync = o.sync;
  const durability = o.durability;
  const p: ParsedOptions = {
    size: size === undefined ? undefined : validateInteger('options.size', size, 1),
    offset: offset === undefined ? 0 : validateInteger('options.offset', offset, 0),
    create: create === undefined ? false : validateBoolean('options.create', create),
    mode: mode === undefined ? 0o666 : validateInteger('options.mode', mode, 0, 0o7777),
    readonly: readonly === undefined ? false : validateBoolean('options.readonly', readonly),
    sync: sync === undefined ? 'auto' : validateOneOf('options.sync', sync, ['auto', 'required', 'off'] as const),
    durability: durability === undefined ? 'any' : validateOneOf('options.durability', durability, ['any', 'required'] as const),
  };
  if (p.create && p.readonly) throw invalidArgValue('options.create', true, 'cannot be combined with readonly: true');
  if (p.create && p.size === undefined) throw invalidArgValue('options.size', undefined, 'is required with create: true');
  return p;
}
