// DaxMapping.deepFlush(): past the persistence domain, as libpmem2's
// pmem2_deep_flush() (PMDK src/libpmem2/deep_flush_linux.c) goes: persist()
// first; then for device DAX, "1" written to the region's deep_flush, which
// makes the kernel write every DIMM's flush hint (the memory controller's
// write-pending queues drain to the media); for a file, msync of the range,
// whose fsync path ends in the same flush request to the device.
//
// The kernel shows deep_flush only for regions whose DIMMs it knows: 0644 and
// "1" with flush hints, 0444 and "0" without (ADR drains the queues on power
// loss, nothing to ask for), absent where it cannot tell (no DIMMs behind the
// region: virtio-pmem, memmap=).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binding, type MappingId } from '../binding';
import { asSystemError } from '../errors';
import type { Persistence } from '../pmem/persistence';
import { DEFAULT_SYSFS, readAttr } from '../pmem/sysfs';

/** What deepFlush() did beyond persist(). */
export interface DeepFlushResult {
  /**
   * `'deep_flush'`: "1" was written to the nd region's `deep_flush` (device DAX on a platform with
   * flush hints: root only); `'msync'`: msync(MS_SYNC) of the page-rounded range, through the
   * filesystem to the device's flush (a file); `'none'`: nothing beyond persist() was needed or
   * possible, `reason` says which.
   */
  mechanism: 'deep_flush' | 'msync' | 'none';
  /** False when the memory keeps nothing across a power loss (persistence domain `'none'`), whatever was flushed. */
  durable: boolean;
  /** What was done and why, in one line. */
  reason: string;
}

interface Target {
  path: string;
  kind: 'devdax' | 'fsdax' | 'pagecache';
  mapSync: boolean;
  persistence: Readonly<Persistence>;
}

// Writes "1" to a region's deep_flush: the kernel answers with nvdimm_flush()'s
// error, if any (EIO).
function writeDeepFlush(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    throw asSystemError(e, 'open', file);
  }
  try {
    fs.writeSync(fd, '1');
  } catch (e) {
    throw asSystemError(e, 'write', file);
  } finally {
    fs.closeSync(fd);
  }
}

/** @internal DaxMapping.deepFlush(), once the range is validated. */
export function deepFlush(h: MappingId, m: Target, offset: number, length: number): DeepFlushResult {
  const p = m.persistence;
  if (p.domain === 'none') return { mechanism: 'none', durable: false, reason: `nothing to flush to: ${p.reason}` };
  if (m.kind !== 'devdax') {
    if (m.mapSync) binding.persist(h, offset, length);
    binding.msync(h, offset, length);
    const through =
      p.domain === 'host'
        ? `virtio-pmem asked the host to write its file back (${p.device})`
        : p.domain === 'storage'
          ? `the page cache written back to ${p.device ?? 'the filesystem'} and its cache flushed`
          : `the filesystem's fsync path asked ${p.device ?? 'the device'} to flush its write-pending queues`;
    return { mechanism: 'msync', durable: true, reason: `msync(MS_SYNC) of the range: ${through}` };
  }
  binding.persist(h, offset, length);
  // libpmem2 does nothing more where the region has no deep_flush (its open
  // fails) and neither does daxkit; the result says so.
  if (p.region === null) {
    return { mechanism: 'none', durable: true, reason: `${p.device ?? 'the device'} is in no nd region, so the kernel has no deep flush for it; persist() reached the persistence domain (${p.domain}): ${p.reason}` };
  }
  const file = path.join(DEFAULT_SYSFS, 'bus', 'nd', 'devices', p.region, 'deep_flush');
  const v = readAttr(file);
  if (v === null) {
    return {
      mechanism: 'none',
      durable: true,
      reason: `${p.region} has no deep_flush: the kernel knows no flush for it past the persistence domain (no DIMMs behind it, or no pmem API on this CPU); persist() reached the persistence domain (${p.domain})`,
    };
  }
  if (v === '0') {
    return {
      mechanism: 'none',
      durable: true,
      reason: `${file} reads 0: the platform offers no flush hints, and drains its write-pending queues on power loss itself; persist() already reached the persistence domain (${p.domain})`,
    };
  }
  writeDeepFlush(file);
  return { mechanism: 'deep_flush', durable: true, reason: `wrote 1 to ${file}: the write-pending queues of ${p.region}'s DIMMs were flushed to the media` };
}
