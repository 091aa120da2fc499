// The platform's persistence domain: whether CPU caches are flushed on power
// loss (eADR), which decides what persist() has to do.
import * as path from 'node:path';
import { DEFAULT_SYSFS, readAttr, readSysfsDir } from './sysfs';

/**
 * The persistence domain of every nd region: `cpu_cache` means the platform
 * flushes CPU caches on power loss (eADR). Unreadable ones are `unknown`,
 * as ndctl reports them.
 */
export function regionPersistenceDomains(sysRoot = DEFAULT_SYSFS): string[] {
  const dir = path.join(sysRoot, 'bus', 'nd', 'devices');
  const names = readSysfsDir(dir).filter((n) => /^region\d+$/.test(n));
  return names.map((n) => {
    try {
      return readAttr(path.join(dir, n, 'persistence_domain')) ?? 'unknown';
    } catch {
      return 'unknown';
    }
  });
}

/** True only when there is at least one nd region and every one is `cpu_cache`. */
export function hasAutoFlush(sysRoot = DEFAULT_SYSFS): boolean {
  const d = regionPersistenceDomains(sysRoot);
  return d.length > 0 && d.every((x) => x === 'cpu_cache');
}
