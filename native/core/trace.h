// The test build's record of what persistence did (DAXKIT_TEST only, never
// in the shipped addon): every cache line written back, every line stored
// non-temporally, every fence and every msync, in the order this thread ran
// them, so that tests can check that persist() wrote back exactly the lines
// of its range and then fenced, which reading the data back cannot show (on
// DAX a load sees the CPU cache). In other builds DAX_TRACE compiles to
// nothing.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dax {

enum TraceKind : uint32_t {
  kTraceFlush = 1,  // a line written back (CLWB, CLFLUSHOPT or CLFLUSH): addr, line size
  kTraceNt = 2,     // a 64-byte line stored non-temporally: addr, 64
  kTraceFence = 3,  // SFENCE
  kTraceMsync = 4,  // msync(MS_SYNC) of [addr, addr + len), page-rounded
  kTraceMark = 5,   // a mark from JS (traceMark(value)): addr = value
};

#ifdef DAXKIT_TEST

struct TraceEvent {
  uint64_t seq;  // per thread, from 0, never reused
  uint64_t addr;
  uint64_t len;
  uint32_t kind;
  uint32_t unused;
};

// Events a thread keeps before the oldest are overwritten (and counted lost).
constexpr size_t kTraceCapacity = size_t{1} << 16;

// Gives the calling thread a ring, and starts recording there. Allocates:
// call it outside any guarded access.
void trace_start();
// Appends an event when the thread records. Never allocates, takes no lock:
// it runs inside guarded accesses, which a SIGBUS may abandon at any point.
void trace_record(TraceKind kind, uintptr_t addr, uint64_t len);
// The events recorded since the last take, oldest first, at most `max` (the
// newest are kept); *lost counts those overwritten or left out.
size_t trace_take(TraceEvent* out, size_t max, uint64_t* lost);

// addr: a pointer or an address (uintptr_t).
#define DAX_TRACE(kind, addr, len) ::dax::trace_record((kind), (uintptr_t)(addr), static_cast<uint64_t>(len))

#else

#define DAX_TRACE(kind, addr, len) ((void)0)

#endif

}  // namespace dax
