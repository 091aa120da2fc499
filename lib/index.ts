/**
 * daxkit: direct access to Linux persistent memory (DAX) from Node.js.
 * @packageDocumentation
 */
export { open } from './open';
export type { OpenOptions } from './open';
export { DaxMapping, cpuInfo } from './mapping';
export type { SyncMode, MappingKind, Granularity, FlushMechanism } from './mapping';
export type { MappingStats } from './binding';
export { statx, STATX_ATTR_DAX } from './statx';
export type { StatxResult, StatxOptions } from './statx';
export { FS_XFLAG_DAX } from './dax-reason';
export { DaxSystemError, DaxMediaError, DaxError } from './errors';
export type { DaxErrorCode, FaultBuffer } from './errors';

/** MAP_SYNC (mmap(2)), as passed with MAP_SHARED_VALIDATE. */
export const MAP_SYNC = 0x80000;
/** MAP_SHARED_VALIDATE (mmap(2)). */
export const MAP_SHARED_VALIDATE = 0x03;
export { daxStatus } from './dax-status';
export type { DaxStatus, DaxMount } from './dax-status';
export { getDaxFlag, setDaxFlag } from './dax-flag';
export type { GetDaxFlagOptions, SetDaxFlagOptions, DaxFlagReport, DaxFlagEntry, DaxFlagState } from './dax-flag';
export type { DaxMountMode } from './mounts';
export { listDevices } from './devices';
export type { PmemDevice, PmemDeviceType, PmemMode, ListDevicesOptions, BadRange } from './devices';
export { badblocks, findBadFiles, clearBadblocks } from './badblocks';
export type {
  BadblocksOptions,
  BadblocksReport,
  BadblocksTargetType,
  BadFilesReport,
  ClearBadblocksOptions,
  ClearBadblocksResult,
} from './badblocks';
export { SysfsFormatError } from './sysfs';
/** A path: a string, or a Buffer (Uint8Array) of the exact bytes of a name that need not be UTF-8. */
export type { PathArg } from './validate';
