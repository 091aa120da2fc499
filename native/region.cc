#include "region.h"

#include <stdio.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "addon.h"
#include "core/guard.h"
#include "core/sys.h"

namespace dax {

namespace {

// 2^20 live mappings per environment; ids stay below 2^52, exact as doubles.
constexpr int kSlotBits = 20;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;

// Every open region of the process, for the read-only check and for naming
// the mapping a fault hit, whichever worker owns it. Entries are copies:
// another environment's Region may be freed while this one looks.
struct Entry {
  uintptr_t lo, hi;
  bool readonly;
  uint64_t file_offset;
  bool is_file;
  uint64_t dev, ino;
  std::string path;
  const Region* owner;
};
std::mutex g_mu;
std::vector<Entry> g_entries;
std::atomic<uint32_t> g_readonly{0};
std::atomic<uint64_t> g_held{0};
std::atomic<uint64_t> g_leaked{0};

void Push(Entry e) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (e.readonly) g_readonly.fetch_add(1, std::memory_order_relaxed);
  g_entries.push_back(std::move(e));
  sigbus_watchdog(+1);
}

void Register(const Region* r) {
  const uintptr_t lo = reinterpret_cast<uintptr_t>(r->base);
  Push({lo, lo + r->length, r->readonly, r->file_offset, r->is_file, r->dev, r->ino, r->path, r});
}

void Unregister(const Region* r) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (size_t i = 0; i < g_entries.size(); i++) {
    if (g_entries[i].owner != r) continue;
    if (g_entries[i].readonly) g_readonly.fetch_sub(1, std::memory_order_relaxed);
    g_entries[i] = std::move(g_entries.back());
    g_entries.pop_back();
    sigbus_watchdog(-1);
    return;
  }
}

// The entry outlives its Region (a range kept forever): no owner, so that a
// later Region at the same address never matches it.
void Orphan(const Region* r) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (Entry& e : g_entries) {
    if (e.owner == r) e.owner = nullptr;
  }
}

void DropId(Region* r) {
  if (r->id < 0) return;
  AddonData* d = r->addon;
  const uint32_t slot = static_cast<uint32_t>(r->id & (kMaxSlots - 1));
  d->slots[slot] = nullptr;
  d->free_slots.push_back(slot);
  r->id = -1;
}

void UnlinkEnv(Region* r) {
  AddonData* d = r->addon;
  if (r->prev != nullptr) r->prev->next = r->next; else if (d->regions == r) d->regions = r->next;
  if (r->next != nullptr) r->next->prev = r->prev;
  r->prev = r->next = nullptr;
}

// Puts anonymous memory where the file was. After this no pointer into the
// range reaches the file, and none of them faults.
void CloseInPlace(Region* r) {
  if (r->state != RegionState::kOpen) return;
  DropId(r);
  Unregister(r);
  const int rc = replace_anonymous(r->base, r->length);
  if (rc < 0) {
    // Nothing sane is left to do with a range the kernel would not remap:
    // giving it back could let the next mmap (another file) land under the
    // stale pointers, so it is kept forever.
    r->leak_range = true;
  } else if (rc != kStandInWritable) {
    // A stand-in that takes no stores stays known as read-only, so that
    // daxkit's own copies refuse it as a target instead of faulting.
    const uintptr_t lo = reinterpret_cast<uintptr_t>(r->base);
    Push({lo, lo + r->length, true, 0, false, 0, 0, "(closed)", r});
    r->standin_registered = true;
  }
  r->state = RegionState::kClosed;
  g_held.fetch_add(1, std::memory_order_relaxed);
}

// Gives the range back once nothing can reach it, and frees the Region once
// neither the handle nor any buffer record points at it.
void Settle(Region* r) {
  if (r->live_buffers > 0) return;
  if (r->state == RegionState::kOpen && r->handle_alive) return;
  if (r->state != RegionState::kReleased) {
    if (r->state == RegionState::kOpen) {
      // Never closed, and now unreachable: unmapping is the whole job.
      DropId(r);
      Unregister(r);
      if (unmap(r->base, r->length) < 0) r->leak_range = true;
    } else {
      g_held.fetch_sub(1, std::memory_order_relaxed);
      if (!r->leak_range && unmap(r->base, r->length) < 0) r->leak_range = true;
      if (r->leak_range) g_leaked.fetch_add(1, std::memory_order_relaxed);
      if (r->standin_registered) {
        // A read-only stand-in kept forever stays known as read-only.
        if (r->leak_range) Orphan(r); else Unregister(r);
      }
    }
    r->state = RegionState::kReleased;
    UnlinkEnv(r);
  }
  if (!r->handle_alive) {
    AddonData* d = r->addon;
    delete r;
    AddonDataRelease(d);
  }
}

void FreeRecIfDone(BufferRec* rec) {
  if (rec->object_alive || rec->store_alive) return;
  Region* r = rec->region;
  for (size_t i = 0; i < r->buffers.size(); i++) {
    if (r->buffers[i] == rec) {
      r->buffers[i] = r->buffers.back();
      r->buffers.pop_back();
      break;
    }
  }
  delete rec;
  r->live_buffers--;
  Settle(r);
}

// Whether JS may run in this environment now. Node calls external-buffer
// finalizers from its environment teardown too, whether or not the backing
// store lives on elsewhere; JS never runs there, while the ordinary path (a
// store freed by the GC, finalized from the event loop) may run it. Calling
// a function tells the two apart (calls that need no JS, such as a coercion
// of undefined, no longer check on newer Node.js).
bool CanRunJs(napi_env env, AddonData* d) {
  napi_value fn, undef, result;
  if (d->noop == nullptr || napi_get_reference_value(env, d->noop, &fn) != napi_ok || fn == nullptr ||
      napi_get_undefined(env, &undef) != napi_ok)
    return false;
  return napi_call_function(env, undef, fn, 0, nullptr, &result) == napi_ok;
}

void FinalizeObject(napi_env, void* data, void*) {
  auto* rec = static_cast<BufferRec*>(data);
  rec->object_alive = false;
  FreeRecIfDone(rec);
}

void FinalizeStore(napi_env env, void*, void* hint) {
  auto* rec = static_cast<BufferRec*>(hint);
  AddonData* d = rec->region->addon;
  if (d->buffers_movable && !CanRunJs(env, d)) rec->region->leak_range = true;
  rec->store_alive = false;
  FreeRecIfDone(rec);
}

}  // namespace

bool RegionAdopt(AddonData* d, Region* r) {
  uint32_t slot;
  if (!d->free_slots.empty()) {
    slot = d->free_slots.back();
    d->free_slots.pop_back();
  } else if (d->slots.size() < kMaxSlots) {
    slot = static_cast<uint32_t>(d->slots.size());
    d->slots.push_back(nullptr);
    d->gens.push_back(0);
  } else {
    return false;
  }
  d->slots[slot] = r;
  const uint32_t gen = ++d->gens[slot] & 0xFFFFFFFu;
  r->id = (static_cast<int64_t>(gen) << kSlotBits) | slot;
  r->addon = d;
  d->refs++;
  r->prev = nullptr;
  r->next = d->regions;
  if (d->regions != nullptr) d->regions->prev = r;
  d->regions = r;
  Register(r);
  return true;
}

// Calls take the numeric id rather than the external itself: checking an
// external's type tag is a property lookup that cost persist() of one line a
// third of its time, while an id is checked against this environment's own
// table, so a forged or stale one never reaches a Region.
Region* RegionById(AddonData* d, int64_t id) {
  if (id < 0) return nullptr;
  const uint64_t slot = static_cast<uint64_t>(id) & (kMaxSlots - 1);
  Region* r = slot < d->slots.size() ? d->slots[slot] : nullptr;
  return r != nullptr && r->id == id ? r : nullptr;
}

napi_status RegionNewBuffer(napi_env env, Region* r, size_t off, size_t len, napi_value* out) {
  auto* rec = new BufferRec{r};
  napi_value ab;
#ifdef DAXKIT_TEST
  napi_status st = r->addon->refuse_external_buffers
                       ? napi_no_external_buffers_allowed
                       : napi_create_external_arraybuffer(env, r->base + off, len, FinalizeStore, rec, &ab);
#else
  napi_status st = napi_create_external_arraybuffer(env, r->base + off, len, FinalizeStore, rec, &ab);
#endif
  if (st != napi_ok) {
    delete rec;
    return st;
  }
  // From here on the store's finalizer will come, so the record is live.
  rec->store_alive = true;
  r->live_buffers++;
  r->buffers.push_back(rec);
  st = napi_add_finalizer(env, ab, rec, FinalizeObject, nullptr, nullptr);
  if (st != napi_ok) return st;
  rec->object_alive = true;
  *out = ab;
  return napi_ok;
}

void RegionClose(napi_env, Region* r) {
  CloseInPlace(r);
  Settle(r);
}

void RegionHandleFinalized(napi_env, Region* r) {
  r->handle_alive = false;
  // A mapping dropped without close() stays mapped to its file while buffers
  // over it are reachable: they are still valid views of the file.
  DropId(r);
  Settle(r);
}

void RegionCloseAll(napi_env env, AddonData* d) {
  // Settle() may unlink (and free) the region being visited.
  for (Region* r = d->regions; r != nullptr;) {
    Region* next = r->next;
    if (r->state == RegionState::kOpen) {
      RegionClose(env, r);
    }
    r = next;
  }
}

namespace {

uint64_t MaxMapCount() {
  uint64_t n = 65530;  // the kernel's default (DEFAULT_MAX_MAP_COUNT)
  if (FILE* f = fopen("/proc/sys/vm/max_map_count", "re")) {
    unsigned long long v = 0;
    if (fscanf(f, "%llu", &v) == 1 && v > 0) n = v;
    fclose(f);
  }
  return n;
}

}  // namespace

RegionCounts region_counts() {
  uint64_t open;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    open = g_entries.size();
  }
  const uint64_t max = MaxMapCount();
  const uint64_t reserve = std::max<uint64_t>(4096, max / 8);
  return {open, g_held.load(std::memory_order_relaxed), g_leaked.load(std::memory_order_relaxed),
          max > reserve ? max - reserve : 0, max};
}

namespace {

// Lines of /proc/self/maps: the memory areas the process has now.
uint64_t ProcessMaps() {
  FILE* f = fopen("/proc/self/maps", "re");
  if (f == nullptr) return 0;
  uint64_t n = 0;
  char buf[65536];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
    for (size_t i = 0; i < got; i++) n += buf[i] == '\n';
  }
  fclose(f);
  return n;
}

// Below this many ranges of daxkit's, nothing needs counting: each range is
// at most one memory area (closed neighbours merge into one).
std::atomic<uint64_t> g_next_check{0};

}  // namespace

bool region_room() {
  const RegionCounts c = region_counts();
  const uint64_t ours = c.open + c.held + c.leaked;
  if (ours < c.budget && ours < g_next_check.load(std::memory_order_relaxed)) return true;
  const uint64_t areas = ProcessMaps();
  if (areas >= c.budget) return false;
  g_next_check.store(ours + (c.budget - areas), std::memory_order_relaxed);
  return true;
}

bool region_overlaps_readonly(const void* p, size_t n) {
  if (n == 0 || g_readonly.load(std::memory_order_relaxed) == 0) return false;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
  const uintptr_t hi = lo + n;
  std::lock_guard<std::mutex> lock(g_mu);
  for (const Entry& e : g_entries) {
    if (e.readonly && lo < e.hi && e.lo < hi) return true;
  }
  return false;
}

bool region_lookup(uintptr_t addr, RegionInfo* out) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (const Entry& e : g_entries) {
    if (addr >= e.lo && addr < e.hi) {
      *out = {e.path, addr - e.lo, e.file_offset, e.is_file, e.dev, e.ino};
      return true;
    }
  }
  return false;
}

}  // namespace dax
