// The instructions persist() and copyPersist() run: cache-line write-back
// with the instruction cpu() chose, SFENCE, and copies into and out of the
// mapping, plain or non-temporal (napi-free).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dax {

// Writes back every cache line touched by [p, p + n) with the chosen
// instruction, and returns how many lines that was. No fence: see drain().
size_t flush_lines(const void* p, size_t n);
// SFENCE: orders the preceding flushes and non-temporal stores.
void drain();

// Plain forward copy whose loads (copy_from_pmem) or stores (copy_to_pmem)
// are aligned on the mapping side, so a fault hits the lowest bad byte first
// and its address is exact. glibc's memcpy may touch the end of a range
// first, which would report the wrong offset.
void copy_from_pmem(void* dst, const void* src, size_t n);
void copy_to_pmem(void* dst, const void* src, size_t n);
// Copy into the mapping with non-temporal stores for the 64-byte-aligned
// body (bypassing the cache), and ordinary stores plus a line flush for the
// unaligned head and tail. Needs drain() afterwards. Adds the lines flushed
// and the bytes stored non-temporally to the counters.
void copy_to_pmem_nt(void* dst, const void* src, size_t n, uint64_t* lines, uint64_t* nt_bytes);
inline void copy_to_pmem_nt(void* dst, const void* src, size_t n) {
  uint64_t lines = 0, nt_bytes = 0;
  copy_to_pmem_nt(dst, src, n, &lines, &nt_bytes);
}
// Below this many bytes a non-temporal copy is not worth it: stores plus a
// flush of the few lines touched are faster (libpmem uses the same 256 B).
constexpr size_t kNonTemporalThreshold = 256;

}  // namespace dax
