// The JS face of a mapping: a tagged external that owns it (for the GC), a
// numeric id that the calls take, and plain functions (binding.persist(id,
// offset, length), ...). lib/mapping.ts owns the DaxMapping class, its
// validation and its defaults.
#include <errno.h>
#include <string.h>

#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "addon.h"
#include "cpu.h"
#include "errors.h"
#include "guard.h"
#include "sys.h"

namespace dax {

enum PersistMode : int {
  kPersistNone = 0,    // read-only: nothing can be dirty
  kPersistMsync = 1,   // page cache, or DAX without MAP_SYNC
  kPersistFlush = 2,   // MAP_SYNC / devdax: line write-back + SFENCE
  kPersistFence = 3,   // the platform flushes caches on power loss (eADR)
};

// One mmap'd range. Owned jointly by the JS handle and by every ArrayBuffer
// created over it (refs): the memory stays mapped while any of them is
// reachable, unless close() detaches the buffers and unmaps it first.
struct Region {
  uint8_t* base = nullptr;
  size_t length = 0;
  bool mapped = false;
  bool readonly = false;
  int persist_mode = kPersistMsync;
  int refs = 0;
  // What persistence cost, for DaxMapping.stats(): plain counters, only ever
  // touched on the JS thread that owns the mapping.
  uint64_t lines_flushed = 0;
  uint64_t fences = 0;
  uint64_t msyncs = 0;
  uint64_t nt_bytes = 0;
  std::string path;
  // Weak references to the ArrayBuffers handed out, so close() can detach
  // them. Each also carries a napi_wrap whose finalizer drops its ref.
  std::vector<napi_ref> buffers;
  AddonData* addon = nullptr;
  // The numeric handle: generation << kSlotBits | slot (AddonData::slots).
  int64_t id = -1;
  Region* prev = nullptr;
  Region* next = nullptr;
};

namespace {

napi_type_tag g_tag;

// 2^20 live mappings per environment; ids stay below 2^52, exact as doubles.
constexpr int kSlotBits = 20;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;

// Gives r a slot and an id. False when every slot is taken.
bool Link(AddonData* d, Region* r) {
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
  r->prev = nullptr;
  r->next = d->regions;
  if (d->regions != nullptr) d->regions->prev = r;
  d->regions = r;
  return true;
}

void Unlink(Region* r) {
  AddonData* d = r->addon;
  if (d == nullptr) return;
  if (r->prev != nullptr) r->prev->next = r->next; else d->regions = r->next;
  if (r->next != nullptr) r->next->prev = r->prev;
  const uint32_t slot = static_cast<uint32_t>(r->id & (kMaxSlots - 1));
  d->slots[slot] = nullptr;
  d->free_slots.push_back(slot);
  r->prev = r->next = nullptr;
  r->addon = nullptr;
}

void Unmap(Region* r) {
  if (!r->mapped) return;
  int rc = unmap(r->base, r->length);
  // munmap of a range we mapped cannot fail short of a bug.
  (void)rc;
  r->mapped = false;
  Unlink(r);
}

void Release(napi_env env, Region* r) {
  if (--r->refs > 0) return;
  Unmap(r);
  for (napi_ref ref : r->buffers) napi_delete_reference(env, ref);
  delete r;
}

void FinalizeHandle(Napi::Env env, Region* r) { Release(env, r); }

void FinalizeBuffer(napi_env env, void* data, void*) { Release(env, static_cast<Region*>(data)); }

// Environment teardown (worker exit, process exit): JS will not run again,
// so unmapping live regions is safe; the finalizers that may still come only
// free memory.
void CleanupHook(AddonData* d) {
  while (d->regions != nullptr) Unmap(d->regions);
}

bool GetInt64(Napi::Env env, napi_value v, const char* name, int64_t* out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    std::string m = std::string("The \"") + name + "\" argument must be a number";
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", m.c_str());
    return false;
  }
  return true;
}

// Resolves the handle argument. Calls take the numeric id rather than the
// external itself: checking an external's type tag is a property lookup that
// cost persist() of one line a third of its time, while an id is checked
// against this environment's own table, so a forged or stale one can never
// reach a Region (it resolves to nothing: "closed"). The external stays the
// owner, for the GC (DaxMapping keeps it until close()).
Region* GetRegion(const Napi::CallbackInfo& info, bool must_be_mapped = true) {
  Napi::Env env = info.Env();
  int64_t id;
  if (napi_get_value_int64(env, info[0], &id) != napi_ok || id < 0) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "Illegal invocation: not a daxkit mapping handle");
    return nullptr;
  }
  auto* d = static_cast<AddonData*>(info.Data());
  const uint64_t slot = static_cast<uint64_t>(id) & (kMaxSlots - 1);
  Region* r = slot < d->slots.size() ? d->slots[slot] : nullptr;
  if (r == nullptr || r->id != id) {
    if (must_be_mapped) ThrowCodeError(env, "ERR_DAX_CLOSED", "The mapping is closed");
    return nullptr;
  }
  return r;
}

// id(external) -> the numeric handle of a mapping, once per open().
Napi::Value JS_id(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  if (!v.IsExternal() || !v.As<Napi::External<Region>>().CheckTypeTag(&g_tag)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "Illegal invocation: not a daxkit mapping handle");
    return env.Undefined();
  }
  Region* r = v.As<Napi::External<Region>>().Data();
  if (!r->mapped) {
    ThrowCodeError(env, "ERR_DAX_CLOSED", "The mapping is closed");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(r->id));
}

// Reads (offset, length) from info[i], info[i + 1] and checks them against
// the mapping: the binding is reachable from user code, so a bad range must
// never reach memory.
bool GetRange(const Napi::CallbackInfo& info, size_t i, Region* r, size_t* off, size_t* len) {
  int64_t o, l;
  if (!GetInt64(info.Env(), info[i], "offset", &o) || !GetInt64(info.Env(), info[i + 1], "length", &l))
    return false;
  if (o < 0 || l < 0 || static_cast<uint64_t>(o) > r->length ||
      static_cast<uint64_t>(l) > r->length - static_cast<uint64_t>(o)) {
    ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE", "The range is outside the mapping");
    return false;
  }
  *off = static_cast<size_t>(o);
  *len = static_cast<size_t>(l);
  return true;
}

struct CopyArgs {
  void* dst;
  const void* src;
  size_t n;
  // Filled in by the persisting operations.
  uint64_t lines = 0;
  uint64_t nt_bytes = 0;
};

void DoCopyFrom(void* a) {
  auto* c = static_cast<CopyArgs*>(a);
  copy_from_pmem(c->dst, c->src, c->n);
}

void DoCopyTo(void* a) {
  auto* c = static_cast<CopyArgs*>(a);
  copy_to_pmem(c->dst, c->src, c->n);
}

void DoMove(void* a) {
  auto* c = static_cast<CopyArgs*>(a);
  memmove(c->dst, c->src, c->n);
}

void DoCopyPersist(void* a) {
  auto* c = static_cast<CopyArgs*>(a);
  if (c->n >= kNonTemporalThreshold) {
    copy_to_pmem_nt(c->dst, c->src, c->n, &c->lines, &c->nt_bytes);
  } else {
    copy_to_pmem(c->dst, c->src, c->n);
    c->lines += flush_lines(c->dst, c->n);
  }
  drain();
}

void DoFlush(void* a) {
  auto* c = static_cast<CopyArgs*>(a);
  c->lines += flush_lines(c->dst, c->n);
}

void DoPersist(void* a) {
  auto* c = static_cast<CopyArgs*>(a);
  c->lines += flush_lines(c->dst, c->n);
  drain();
}

void Count(Region* r, const CopyArgs& a, uint64_t fences) {
  r->lines_flushed += a.lines;
  r->nt_bytes += a.nt_bytes;
  r->fences += fences;
}

bool Overlaps(const uint8_t* a, const uint8_t* b, size_t n) {
  return n > 0 && a < b + n && b < a + n;
}

// Runs fn under the SIGBUS guard and turns a fault into a DaxMediaError.
// Faults come a page at a time, and the loads of one 64-byte chunk may be
// issued in any order, so the failing offset reported is the start of the
// faulting page, clamped to the start of the access (`from`): every byte
// before it was reached without a fault.
bool Guarded(Napi::Env env, Region* r, const char* op, void (*fn)(void*), CopyArgs* args, size_t from) {
  Fault f;
  if (run_guarded(fn, args, &f)) return true;
  const uintptr_t base = reinterpret_cast<uintptr_t>(r->base);
  int64_t off = -1;
  if (f.addr >= base && f.addr < base + r->length) {
    uintptr_t page = (f.addr - base) & ~(static_cast<uintptr_t>(page_size()) - 1);
    off = static_cast<int64_t>(page < from ? from : page);
  }
  ThrowMediaError(env, op, r->path.c_str(), off, f.addr, f.code);
  return false;
}

// map(fd, offset, length, readonly, mapMode, align, persistMode, path)
Napi::Value JS_map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, offset, length, mode, align, persist;
  if (!GetInt64(env, info[0], "fd", &fd) || !GetInt64(env, info[1], "offset", &offset) ||
      !GetInt64(env, info[2], "length", &length) || !GetInt64(env, info[4], "mapMode", &mode) ||
      !GetInt64(env, info[5], "align", &align) || !GetInt64(env, info[6], "persistMode", &persist))
    return env.Undefined();
  if (fd < 0 || offset < 0 || length <= 0 || align <= 0 || (align & (align - 1)) != 0 ||
      mode < kMapShared || mode > kMapSync || persist < kPersistNone || persist > kPersistFence) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "map(): argument out of range");
    return env.Undefined();
  }
  bool readonly = info[3].ToBoolean().Value();
  std::string path = info[7].IsString() ? info[7].As<Napi::String>().Utf8Value() : std::string();

  void* p = nullptr;
  int rc = map(static_cast<int>(fd), static_cast<uint64_t>(offset), static_cast<size_t>(length),
               readonly, static_cast<MapMode>(mode), static_cast<size_t>(align), &p);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "mmap", path.empty() ? nullptr : path.c_str());
    return env.Undefined();
  }
  Region* r = new Region();
  r->base = static_cast<uint8_t*>(p);
  r->length = static_cast<size_t>(length);
  r->mapped = true;
  r->readonly = readonly;
  r->persist_mode = readonly ? kPersistNone : static_cast<int>(persist);
  r->refs = 1;
  r->path = std::move(path);
  if (!Link(addon_data(env), r)) {
    unmap(r->base, r->length);
    delete r;
    ThrowSystemError(env, EMFILE, "mmap", nullptr);
    return env.Undefined();
  }
  auto ext = Napi::External<Region>::New(env, r, FinalizeHandle);
  ext.TypeTag(&g_tag);
  return ext;
}

Napi::Value JS_address(const Napi::CallbackInfo& info) {
  Region* r = GetRegion(info);
  if (r == nullptr) return info.Env().Undefined();
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(r->base)));
}

// buffer(handle, offset, length): an external ArrayBuffer over part of the
// mapping. Created without a finalizer of its own; the napi_wrap carries one
// instead, because a wrap can be removed (by close()) and an external
// buffer's finalizer cannot, so GC and close() never both release.
Napi::Value JS_buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  size_t off, len;
  if (r == nullptr || !GetRange(info, 1, r, &off, &len)) return env.Undefined();
  napi_value ab;
  napi_status st = r->addon != nullptr && r->addon->refuse_external_buffers
                       ? napi_no_external_buffers_allowed
                       : napi_create_external_arraybuffer(env, r->base + off, len, nullptr, nullptr, &ab);
  if (st == napi_no_external_buffers_allowed) {
    // Never fall back to a copy: stores into a copy would silently never
    // reach the media, and persist() would be a lie.
    ThrowCodeError(env, "ERR_DAX_EXTERNAL_BUFFERS_UNSUPPORTED",
                   "This JavaScript runtime does not allow ArrayBuffers over external memory "
                   "(napi_no_external_buffers_allowed), so a mapping cannot be exposed without copying");
    return env.Undefined();
  }
  if (st != napi_ok) {
    if (!env.IsExceptionPending()) Napi::Error::New(env).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_ref ref;
  if (napi_wrap(env, ab, r, FinalizeBuffer, nullptr, nullptr) != napi_ok ||
      napi_create_reference(env, ab, 0, &ref) != napi_ok) {
    Napi::Error::New(env).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  r->refs++;
  r->buffers.push_back(ref);
  return Napi::Value(env, ab);
}

// close(handle): detach every ArrayBuffer first, so that stale views read as
// length 0 and can never touch the range after munmap (or whatever the
// kernel maps there next). Idempotent.
Napi::Value JS_close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info, false);
  if (r == nullptr || !r->mapped) return env.Undefined();
  for (napi_ref ref : r->buffers) {
    napi_value ab = nullptr;
    if (napi_get_reference_value(env, ref, &ab) == napi_ok && ab != nullptr) {
      void* data = nullptr;
      if (napi_remove_wrap(env, ab, &data) == napi_ok) r->refs--;
      napi_status st = napi_detach_arraybuffer(env, ab);
      (void)st;  // external and not yet detached: cannot fail
    }
    napi_delete_reference(env, ref);
  }
  r->buffers.clear();
  Unmap(r);
  return env.Undefined();
}

Napi::Value JS_persist(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  size_t off, len;
  if (r == nullptr || !GetRange(info, 1, r, &off, &len)) return env.Undefined();
  switch (r->persist_mode) {
    case kPersistFlush: {
      CopyArgs a{r->base + off, nullptr, len};
      if (Guarded(env, r, "persist", DoPersist, &a, off)) Count(r, a, 1);
      break;
    }
    case kPersistFence:
      drain();
      r->fences++;
      break;
    case kPersistMsync: {
      int rc = msync_range(r->base + off, len);
      r->msyncs++;
      if (rc < 0) ThrowSystemError(env, -rc, "msync", r->path.c_str());
      break;
    }
    default: break;
  }
  return env.Undefined();
}

Napi::Value JS_flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  size_t off, len;
  if (r == nullptr || !GetRange(info, 1, r, &off, &len)) return env.Undefined();
  if (r->persist_mode == kPersistFlush) {
    CopyArgs a{r->base + off, nullptr, len};
    if (Guarded(env, r, "flush", DoFlush, &a, off)) Count(r, a, 0);
  } else if (r->persist_mode == kPersistMsync) {
    int rc = msync_range(r->base + off, len);
    r->msyncs++;
    if (rc < 0) ThrowSystemError(env, -rc, "msync", r->path.c_str());
  }
  return env.Undefined();
}

Napi::Value JS_drain(const Napi::CallbackInfo& info) {
  Region* r = GetRegion(info);
  if (r != nullptr && (r->persist_mode == kPersistFlush || r->persist_mode == kPersistFence)) {
    drain();
    r->fences++;
  }
  return info.Env().Undefined();
}

// read(handle, offset, target): copies target.byteLength bytes out of the
// mapping, under the SIGBUS guard.
Napi::Value JS_read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  int64_t o;
  uint8_t* dst;
  size_t n;
  if (r == nullptr || !GetInt64(env, info[1], "offset", &o) || !GetBytes(env, info[2], "target", &dst, &n))
    return env.Undefined();
  if (o < 0 || static_cast<uint64_t>(o) > r->length || n > r->length - static_cast<uint64_t>(o)) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The range is outside the mapping");
    return env.Undefined();
  }
  CopyArgs a{dst, r->base + o, n};
  Guarded(env, r, "read", Overlaps(dst, r->base + o, n) ? DoMove : DoCopyFrom, &a, static_cast<size_t>(o));
  return env.Undefined();
}

Napi::Value WriteImpl(const Napi::CallbackInfo& info, bool persist) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  int64_t o;
  uint8_t* src;
  size_t n;
  if (r == nullptr || !GetInt64(env, info[1], "offset", &o) || !GetBytes(env, info[2], "source", &src, &n))
    return env.Undefined();
  if (r->readonly) {
    ThrowCodeError(env, "ERR_DAX_READONLY", "The mapping is read-only");
    return env.Undefined();
  }
  if (o < 0 || static_cast<uint64_t>(o) > r->length || n > r->length - static_cast<uint64_t>(o)) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The range is outside the mapping");
    return env.Undefined();
  }
  uint8_t* dst = r->base + o;
  const size_t from = static_cast<size_t>(o);
  CopyArgs a{dst, src, n};
  const char* op = persist ? "copyPersist" : "write";
  bool overlap = Overlaps(dst, src, n);
  if (!persist) {
    Guarded(env, r, op, overlap ? DoMove : DoCopyTo, &a, from);
    return env.Undefined();
  }
  switch (r->persist_mode) {
    case kPersistFlush:
      if (overlap) {
        if (Guarded(env, r, op, DoMove, &a, from) && Guarded(env, r, op, DoPersist, &a, from)) Count(r, a, 1);
      } else if (Guarded(env, r, op, DoCopyPersist, &a, from)) {
        Count(r, a, 1);
      }
      break;
    case kPersistFence:
      // eADR: caches are in the persistence domain, only ordering is needed.
      if (Guarded(env, r, op, overlap ? DoMove : DoCopyTo, &a, from)) {
        drain();
        r->fences++;
      }
      break;
    default:
      if (Guarded(env, r, op, overlap ? DoMove : DoCopyTo, &a, from)) {
        int rc = msync_range(dst, n);
        r->msyncs++;
        if (rc < 0) ThrowSystemError(env, -rc, "msync", r->path.c_str());
      }
      break;
  }
  return env.Undefined();
}

Napi::Value JS_write(const Napi::CallbackInfo& info) { return WriteImpl(info, false); }
Napi::Value JS_copyPersist(const Napi::CallbackInfo& info) { return WriteImpl(info, true); }

// stats(handle): what persistence has cost this mapping so far.
Napi::Value JS_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  if (r == nullptr) return env.Undefined();
  Napi::Object o = Napi::Object::New(env);
  o.Set("linesFlushed", Napi::Number::New(env, static_cast<double>(r->lines_flushed)));
  o.Set("fences", Napi::Number::New(env, static_cast<double>(r->fences)));
  o.Set("msyncs", Napi::Number::New(env, static_cast<double>(r->msyncs)));
  o.Set("nonTemporalBytes", Napi::Number::New(env, static_cast<double>(r->nt_bytes)));
  return o;
}

Napi::Value JS_cpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuInfo& c = cpu();
  Napi::Object o = Napi::Object::New(env);
  const char* flush = c.flush == kFlushClwb ? "clwb"
                      : c.flush == kFlushClflushopt ? "clflushopt"
                      : c.flush == kFlushClflush ? "clflush" : "none";
  o.Set("flush", flush);
  o.Set("clflush", c.has_clflush);
  o.Set("clflushopt", c.has_clflushopt);
  o.Set("clwb", c.has_clwb);
  o.Set("nonTemporal", c.has_sse2);
  o.Set("lineSize", c.line_size);
  o.Set("pageSize", Napi::Number::New(env, static_cast<double>(page_size())));
  return o;
}

}  // namespace

// The bytes of a TypedArray or DataView argument.
bool GetBytes(Napi::Env env, napi_value v, const char* name, uint8_t** data, size_t* len) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (is) {
    napi_typedarray_type type;
    size_t count;
    void* p;
    napi_get_typedarray_info(env, v, &type, &count, &p, nullptr, nullptr);
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1; break;
    }
    *data = static_cast<uint8_t*>(p);
    *len = count * elem;
    return true;
  }
  napi_is_dataview(env, v, &is);
  if (is) {
    void* p;
    napi_get_dataview_info(env, v, len, &p, nullptr, nullptr);
    *data = static_cast<uint8_t*>(p);
    return true;
  }
  std::string m = std::string("The \"") + name + "\" argument must be a TypedArray or DataView";
  ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", m.c_str());
  return false;
}

void InitMapping(Napi::Env env, Napi::Object exports) {
  // A random tag per process: handles from another copy of the addon (or
  // forged ones) never pass CheckTypeTag. Workers load concurrently.
  static std::once_flag once;
  std::call_once(once, [] {
    std::random_device rd;
    g_tag.lower = (static_cast<uint64_t>(rd()) << 32) | rd();
    g_tag.upper = (static_cast<uint64_t>(rd()) << 32) | rd();
  });
  install_sigbus_handler();
  AddonData* d = addon_data(env);
  env.AddCleanupHook(CleanupHook, d);

  exports.Set("id", Napi::Function::New(env, JS_id, "id", d));
  exports.Set("map", Napi::Function::New(env, JS_map, "map", d));
  exports.Set("address", Napi::Function::New(env, JS_address, "address", d));
  exports.Set("buffer", Napi::Function::New(env, JS_buffer, "buffer", d));
  exports.Set("close", Napi::Function::New(env, JS_close, "close", d));
  exports.Set("persist", Napi::Function::New(env, JS_persist, "persist", d));
  exports.Set("flush", Napi::Function::New(env, JS_flush, "flush", d));
  exports.Set("drain", Napi::Function::New(env, JS_drain, "drain", d));
  exports.Set("read", Napi::Function::New(env, JS_read, "read", d));
  exports.Set("write", Napi::Function::New(env, JS_write, "write", d));
  exports.Set("copyPersist", Napi::Function::New(env, JS_copyPersist, "copyPersist", d));
  exports.Set("cpuInfo", Napi::Function::New(env, JS_cpuInfo, "cpuInfo", d));
  exports.Set("stats", Napi::Function::New(env, JS_stats, "stats", d));
}

}  // namespace dax
