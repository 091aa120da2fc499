// A mapped range and everything that can still reach it.
//
// The lifetime contract (README, "Lifetime"): once close() returns, no byte of
// the file is read or written through any pointer into the range, and the
// address range is not given back to the kernel while anything may still use
// it. Anything is: the JS handle, every ArrayBuffer object daxkit created over
// the range, and every backing store behind them. A backing store can outlive
// its ArrayBuffer (Node 22+ ArrayBuffer.prototype.transfer() moves it to an
// object daxkit never saw, even in another worker), and an ArrayBuffer object
// can outlive its store (close() detaches it while a thread-pool job that
// Node keeps it alive for still writes through the raw pointer, though the
// store was moved away). So each buffer is tracked twice, by an object
// finalizer and by the store's own finalizer, and the range goes back to the
// kernel only when both are gone.
//
// close() therefore does not munmap: it replaces the file mapping in place
// (MAP_FIXED) with anonymous memory, which takes the file out of reach at
// once, atomically for every thread, and keeps every stale pointer valid.
// It does not detach the buffers either: Node's own asynchronous operations
// look at their buffers again between steps, and a detached one makes them
// abort the process (zlib on Node 20: a CHECK) or throw where no one can
// catch it (Node 22+). Stale buffers keep their length and read zeros.
#pragma once

#include <node_api.h>

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace dax {

struct AddonData;
struct Region;

// One ArrayBuffer handed out over a region.
struct BufferRec {
  Region* region;
  bool object_alive = false;   // its object finalizer has not run yet
  bool store_alive = false;    // its backing store's finalizer has not run yet
};

enum PersistMode : int {
  kPersistNone = 0,    // read-only: nothing can be dirty
  kPersistMsync = 1,   // page cache, or DAX without MAP_SYNC
  kPersistFlush = 2,   // MAP_SYNC / devdax: line write-back + SFENCE
  kPersistFence = 3,   // the platform flushes caches on power loss (eADR)
};

enum class RegionState : uint8_t {
  kOpen,      // maps the file; calls resolve its id
  kClosed,    // anonymous memory in place of the file; range still held
  kReleased,  // range given back (or deliberately leaked, see leak_range)
};

struct Region {
  uint8_t* base = nullptr;
  size_t length = 0;
  uint64_t file_offset = 0;  // mmap offset, for telling truncation from poison
  bool is_file = false;      // a regular file (not devdax)
  uint64_t dev = 0, ino = 0; // the mapped file's, for telling a truncation when map_files is closed to us
  bool standin_registered = false;  // a read-only stand-in, known process-wide until released
  bool readonly = false;
  int persist_mode = kPersistMsync;
  RegionState state = RegionState::kOpen;
  bool handle_alive = true;  // the JS owner (an External) is not finalized yet
  // A backing store was finalized during environment teardown, when Node
  // calls external-buffer finalizers whether or not the store still lives
  // (one moved to another worker does): the range is then never unmapped.
  bool leak_range = false;
  uint32_t live_buffers = 0;  // BufferRecs with an object or a store alive
  // What persistence cost, for DaxMapping.stats(): plain counters, touched
  // only on the JS thread that owns the mapping.
  uint64_t lines_flushed = 0;
  uint64_t fences = 0;
  uint64_t msyncs = 0;
  uint64_t nt_bytes = 0;
  std::string path;
  std::vector<BufferRec*> buffers;
  // The numeric handle: generation << kSlotBits | slot (AddonData::slots),
  // -1 once the id no longer resolves.
  int64_t id = -1;
  AddonData* addon = nullptr;
  Region* prev = nullptr;  // the environment's list, for its cleanup hook
  Region* next = nullptr;
};

// Takes ownership of a fresh mapping: gives it an id in the environment's
// table and registers it process-wide. False when the table is full.
bool RegionAdopt(AddonData* d, Region* r);

// The region behind a numeric id, or null for a forged, stale or closed one.
Region* RegionById(AddonData* d, int64_t id);

// Creates an ArrayBuffer over [off, off + len) of an open region and starts
// tracking it. Returns napi_ok, napi_no_external_buffers_allowed, or another
// failure status (with *out untouched).
napi_status RegionNewBuffer(napi_env env, Region* r, size_t off, size_t len, napi_value* out);

// close(): puts anonymous memory in place of the file, and gives the range
// back if nothing can reach it any more. Idempotent.
void RegionClose(napi_env env, Region* r);

// The JS handle's finalizer.
void RegionHandleFinalized(napi_env env, Region* r);

// Environment teardown: every region still open is closed in place.
void RegionCloseAll(napi_env env, AddonData* d);

// Process-wide facts, for the limits error and the readonly check.
struct RegionCounts {
  uint64_t open;    // mapped to their files
  uint64_t held;    // closed, range held by buffers still reachable
  uint64_t leaked;  // closed at teardown with a store possibly alive elsewhere
  uint64_t budget;  // the most daxkit keeps at once (see region_room)
  uint64_t max_map_count;
};
RegionCounts region_counts();

// Whether one more range fits: the process's memory areas stay below
// vm.max_map_count less a reserve (an eighth, at least 4096) for the rest of
// the process. Past the kernel's limit every mmap fails, V8's and malloc's
// too, and the process dies inside the GC; daxkit refuses first, with a
// clear error. Finalizers run from the event loop, so a synchronous loop
// that opens and forgets mappings cannot get them back until it yields;
// closed ranges next to each other merge, so closing keeps the count low.
bool region_room();

// True when [p, p + n) overlaps a read-only region that is still open. Cheap
// when no read-only region exists anywhere in the process.
bool region_overlaps_readonly(const void* p, size_t n);

// What the process-wide registry knows of the open region (any environment)
// containing an address.
struct RegionInfo {
  std::string path;
  uint64_t offset;       // of the address, in the mapping
  uint64_t file_offset;  // the mapping's mmap offset
  bool is_file;
  uint64_t dev, ino;
};
bool region_lookup(uintptr_t addr, RegionInfo* out);

}  // namespace dax
