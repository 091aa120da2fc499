// The page cache between measurements: the benchmark's own files evicted, or
// with --drop-caches the machine's whole cache, and what the report says of it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { insideVm } from './context';
import type { RunReport } from './report';

/**
 * Before each measurement, so that none inherits the cache (or the dirty
 * pages) of the one before: sync, then the benchmark's own files are evicted
 * (posix_fadvise(POSIX_FADV_DONTNEED) of each through dd iflag=nocache
 * count=0, which is what fio's invalidate=1 does and needs no privilege).
 * With --drop-caches, as root and outside the VM, the whole page cache goes
 * instead (echo 3 > /proc/sys/vm/drop_caches): opt-in, as every other program
 * on the machine loses its cache too. In the VM the guest reads node itself
 * over 9p, and a global drop would make every child start 10 s slower.
 */
export class CacheDropper {
  dropped = 0;
  private mode: 'machine' | 'files';
  private why: string;

  constructor(
    machine: boolean,
    private readonly files: string[],
  ) {
    this.mode = 'files';
    this.why = 'pass --drop-caches, as root, to drop it';
    if (machine && process.getuid?.() !== 0) this.why = '--drop-caches needs root (/proc/sys/vm/drop_caches)';
    else if (machine && insideVm()) this.why = '--drop-caches was given, but in the VM a global drop would also evict node and its modules, which the guest reads over 9p';
    else if (machine) this.mode = 'machine';
  }

  drop(): void {
    spawnSync('sync');
    if (this.mode === 'machine') {
      try {
        fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
        this.dropped++;
        return;
      } catch (e) {
        this.mode = 'files';
        this.why = `writing /proc/sys/vm/drop_caches failed (${(e as NodeJS.ErrnoException).code})`;
      }
    }
    let ok = this.files.length > 0;
    for (const f of this.files) ok = spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']).status === 0 && ok;
    if (ok) this.dropped++;
  }

  describe(items: number): RunReport['page_cache'] {
    if (this.mode === 'machine' && this.dropped === items) {
      return {
        dropped: true,
        scope: 'machine',
        warm: false,
        detail: `Caches were cold: the whole page cache was dropped (--drop-caches: sync; echo 3 > /proc/sys/vm/drop_caches) before each of the ${items} measurements.`,
      };
    }
    const files = this.files.length
      ? `before ${this.dropped} of the ${items} measurements the benchmark's own files (${this.files.join(', ')}) were written back and evicted (sync, then posix_fadvise DONTNEED through dd iflag=nocache, as fio's invalidate=1 does; tmpfs pages stay, being the files themselves)`
      : 'the benchmark\'s data is on device DAX, which has no page cache';
    return {
      dropped: this.dropped > 0,
      scope: this.dropped > 0 ? 'files' : 'none',
      warm: true,
      detail: `Caches were warm: the machine's page cache was not dropped (${this.why}); ${files}. Each job reads its working set once before timing.`,
    };
  }
}
