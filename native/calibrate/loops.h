// The calibration's timed loops (napi-free): the primitives persist() and
// copyPersist() run (core/persist.h), timed in C++ with no JS engine in the
// loop. Each runs under the SIGBUS guard (calibrate.cc): the memory is a
// mapping, which a media error or a truncated file can make fault.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dax {

struct PersistLoop {
  uint8_t* base;  // the first whole cache line
  size_t lines;   // how many lines to cycle through
  size_t line;    // the line size
  uint64_t iterations;
  uint64_t elapsed;  // out: nanoseconds
};

// One 8-byte store to a line, then the write-back of that line and a fence:
// what persist(offset, 64) does after a store, minus the call. Successive
// iterations take successive lines (a log being appended to), wrapping at
// the end of the range, so that each write-back finds a dirty line.
void RunPersistLoop(void* persist_loop);

struct CopyLoop {
  uint8_t* dst;
  size_t dst_len;
  const uint8_t* src;
  size_t n;
  uint64_t iterations;
  uint64_t elapsed;  // out: nanoseconds
};

// copyPersist()'s copy for sizes of kNonTemporalThreshold and more, with its
// fence, into successive n-byte slots of the destination.
void RunCopyLoop(void* copy_loop);

}  // namespace dax
