/**
 * daxkit: direct access to Linux persistent memory (DAX) from Node.js.
 * @packageDocumentation
 */
export { open } from './mapping/open';
export type { OpenOptions } from './mapping/open';
export { DaxMapping, cpuInfo } from './mapping/dax-mapping';
export type { SyncMode, MappingKind, Granularity, FlushMechanism } from './mapping/dax-mapping';
export type { DeepFlushResult } from './mapping/deep-flush';
export type { Persistence, PersistenceDomain, MemoryProvider } from './pmem/persistence';
export type { MappingStats } from './binding';
export { statx } from './dax/statx';
export { STATX_ATTR_DAX, FS_XFLAG_DAX } from './constants';
export type { StatxResult, StatxOptions } from './dax/statx';
export { DaxSystemError, DaxMediaError, DaxError } from './errors';
export type { DaxErrorCode, FaultBuffer } from './errors';
export { MAP_SYNC, MAP_SHARED_VALIDATE } from './constants';
export { daxStatus } from './dax/status';
export type { DaxStatus, DaxMount } from './dax/status';
export { getDaxFlag } from './dax/flag';
export { setDaxFlag } from './dax/set-flag';
export type { GetDaxFlagOptions, SetDaxFlagOptions, DaxFlagReport, DaxFlagEntry, DaxFlagState } from './dax/flag';
export type { DaxMountMode } from './dax/mount-mode';
export { doctor } from './doctor/doctor';
export type { DoctorReport, MapSyncProbe, PersistAction } from './doctor/doctor';
export { listDevices } from './pmem/devices';
export type { PmemDevice, PmemDeviceType, PmemMode, ListDevicesOptions } from './pmem/devices';
export { shutdownState } from './pmem/shutdown-state';
export type { ShutdownState, ShutdownDevice, ShutdownStateOptions } from './pmem/shutdown-state';
export type { DimmFamily } from './pmem/dimms';
export type { BadRange } from './pmem/ranges';
export { badblocks } from './pmem/badblocks';
export type { BadblocksOptions, BadblocksReport, BadblocksTargetType } from './pmem/badblocks';
export { findBadFiles } from './pmem/bad-files';
export type { BadFilesReport } from './pmem/bad-files';
export { clearBadblocks } from './pmem/clear';
export type { ClearBadblocksOptions, ClearBadblocksResult } from './pmem/clear';
export { SysfsFormatError } from './errors';
/** A path: a string, or a Buffer (Uint8Array) of the exact bytes of a name that need not be UTF-8. */
export type { PathArg } from './validate';
