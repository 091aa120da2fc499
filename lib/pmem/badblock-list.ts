// The kernel's badblocks lists (block/badblocks.c): the text of a region's
// or a block device's `badblocks` attribute, in bytes.
import { SysfsFormatError } from './sysfs';

/** One entry of a kernel badblocks list, converted to bytes. */
export interface BadblockEntry {
  /** Byte offset: the first bad 512-byte sector times 512. */
  offset: number;
  /** Bytes: the number of bad sectors times 512. */
  length: number;
}

/** A kernel badblocks list (block/badblocks.c, `badblocks_show()`), in bytes. */
export interface BadblockList {
  entries: BadblockEntry[];
  /**
   * False when the list filled the one page sysfs can show: the kernel cuts
   * the text there, so entries may be missing. A line cut in the middle is
   * never returned.
   */
  complete: boolean;
}

/**
 * Parses the text of a badblocks file: one `SECTOR COUNT` line per range, in
 * 512-byte sectors whatever the device's block size. A line that is not two
 * decimal numbers, a count of 0, or a range beyond 2^53 bytes throws a
 * SysfsFormatError naming the file and line: never a wrong range.
 */
export function parseBadblockList(text: string, file: string, pageSize: number): BadblockList {
  // badblocks_show() stops at PAGE_SIZE and sysfs keeps PAGE_SIZE - 1 bytes of
  // it: a full page may have lost entries, and its last line may be cut.
  const full = text.length >= pageSize - 1;
  const lines = text.split('\n');
  if (full && !text.endsWith('\n')) lines.pop();
  const entries: BadblockEntry[] = [];
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
    if (m === null) throw new SysfsFormatError(file, i + 1, `expected "SECTOR COUNT", found ${JSON.stringify(line)}`);
    const sector = BigInt(m[1]);
    const count = BigInt(m[2]);
    if (count === 0n) throw new SysfsFormatError(file, i + 1, `a range of 0 sectors: ${JSON.stringify(line)}`);
    if ((sector + count) * 512n > max) {
      throw new SysfsFormatError(file, i + 1, `sectors ${m[1]}+${m[2]} end beyond 2^53 - 1 bytes`);
    }
    entries.push({ offset: Number(sector * 512n), length: Number(count * 512n) });
  }
  return { entries, complete: !full };
}
