// The JS face of a mapping: a tagged external that owns it (for the GC), a
// numeric id that the calls take, and plain functions (binding.persist(id,
// offset, length), ...). lib/mapping.ts owns the DaxMapping class, its
// validation and its defaults; region.cc owns the lifetime.
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <mutex>
#include <random>
#include <string>

#include "addon.h"
#include "args.h"
#include "cpu.h"
#include "errors.h"
#include "guard.h"
#include "region.h"
#include "sys.h"

namespace dax {

namespace {

napi_type_tag g_tag;

AddonData* Data(const Napi::CallbackInfo& info) { return static_cast<AddonData*>(info.Data()); }

Region* GetRegion(const Napi::CallbackInfo& info) {
  int64_t id;
  if (napi_get_value_int64(info.Env(), info[0], &id) != napi_ok || id < 0) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "Illegal invocation: not a daxkit mapping handle");
    return nullptr;
  }
  Region* r = RegionById(Data(info), id);
  if (r == nullptr) ThrowCodeError(info.Env(), "ERR_DAX_CLOSED", "The mapping is closed");
  return r;
}

bool CheckRange(napi_env env, const Region* r, int64_t o, uint64_t n) {
  if (o < 0 || static_cast<uint64_t>(o) > r->length || n > r->length - static_cast<uint64_t>(o)) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The range is outside the mapping");
    return false;
  }
  return true;
}

// Reads (offset, length) from info[i], info[i + 1] and checks them against
// the mapping: the binding is reachable from user code, so a bad range must
// never reach memory.
bool GetRange(const Napi::CallbackInfo& info, size_t i, Region* r, size_t* off, size_t* len) {
  int64_t o, l;
  if (!GetInt64(info.Env(), info[i], "offset", &o) || !GetInt64(info.Env(), info[i + 1], "length", &l)) return false;
  if (l < 0) {
    ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE", "The range is outside the mapping");
    return false;
  }
  if (!CheckRange(info.Env(), r, o, static_cast<uint64_t>(l))) return false;
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

bool Overlaps(const uint8_t* a, const uint8_t* b, size_t n) { return n > 0 && a < b + n && b < a + n; }

// The two sides of a guarded access: the range of the mapping the method
// works on, and the caller's buffer (its source or target), if any.
struct Sides {
  size_t from;           // offset of the accessed range in the mapping
  size_t n;              // its length, and the other buffer's
  const uint8_t* other;  // the caller's buffer, or null
  const char* role;      // 'source' or 'target'
};

uint64_t PageDown(uint64_t v) { return v & ~(static_cast<uint64_t>(page_size()) - 1); }

// Faults come a page at a time, and the loads of one 64-byte chunk may be
// issued in any order, so the failing offset reported is the start of the
// faulting page, clamped to the start of the access in that buffer: every
// byte before it was reached without a fault.
uint64_t FaultOffset(uint64_t fault_off, uint64_t access_start) {
  const uint64_t page = PageDown(fault_off);
  return page < access_start ? access_start : page;
}

bool BeyondEof(uintptr_t addr, uint64_t file_offset_of_addr) {
  uint64_t size;
  return mapped_file_size(addr, &size) == 0 && file_offset_of_addr >= size;
}

// Runs fn under the SIGBUS guard and turns a fault into a DaxMediaError that
// says which buffer faulted, where, and whether the file was truncated under
// the mapping (BUS_ADRERR beyond its end) rather than poisoned.
bool Guarded(Napi::Env env, Region* r, const char* op, void (*fn)(void*), CopyArgs* args, const Sides& s) {
  Fault f;
  if (run_guarded(fn, args, &f)) return true;
  const uintptr_t base = reinterpret_cast<uintptr_t>(r->base);
  const uintptr_t other = reinterpret_cast<uintptr_t>(s.other);
  MediaFault m{op, r->path.c_str(), "mapping", -1, nullptr, -1, f.addr, f.code, false};
  RegionInfo info;
  std::string other_path;
  const bool in_mapping = f.addr >= base && f.addr < base + r->length;
  const bool in_access = f.addr >= base + s.from && f.addr < base + s.from + s.n;
  if (s.other != nullptr && f.addr >= other && f.addr < other + s.n && !in_access) {
    m.buffer = s.role;
    if (in_mapping) {
      m.offset = static_cast<int64_t>(FaultOffset(f.addr - base, other - base));
    } else if (region_lookup(f.addr, &info)) {
      other_path = info.path;
      m.other_path = other_path.c_str();
      m.other_offset = static_cast<int64_t>(FaultOffset(info.offset, info.offset - (f.addr - other)));
      m.truncated = f.code == BUS_ADRERR && info.is_file && BeyondEof(f.addr, info.file_offset + info.offset);
    }
  } else if (in_mapping) {
    m.offset = static_cast<int64_t>(FaultOffset(f.addr - base, in_access ? s.from : 0));
  }
  if (in_mapping) {
    m.truncated = f.code == BUS_ADRERR && r->is_file && BeyondEof(f.addr, r->file_offset + (f.addr - base));
  }
  ThrowMediaError(env, m);
  return false;
}

void FinalizeHandle(Napi::Env env, Region* r) { RegionHandleFinalized(env, r); }

// map(fd, offset, length, readonly, mapMode, align, persistMode, path, isFile)
Napi::Value JS_map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, offset, length, mode, align, persist;
  if (!GetInt64(env, info[0], "fd", &fd) || !GetInt64(env, info[1], "offset", &offset) ||
      !GetInt64(env, info[2], "length", &length) || !GetInt64(env, info[4], "mapMode", &mode) ||
      !GetInt64(env, info[5], "align", &align) || !GetInt64(env, info[6], "persistMode", &persist))
    return env.Undefined();
  if (fd < 0 || fd > INT32_MAX || offset < 0 || length <= 0 || align <= 0 || (align & (align - 1)) != 0 ||
      mode < kMapShared || mode > kMapSync || persist < kPersistNone || persist > kPersistFence) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "map(): argument out of range");
    return env.Undefined();
  }
  const bool readonly = IsTrue(env, info[3]);
  const bool is_file = IsTrue(env, info[8]);
  std::string path = info[7].IsString() ? info[7].As<Napi::String>().Utf8Value() : std::string();
  if (env.IsExceptionPending()) return env.Undefined();

  if (!region_room()) {
    ThrowCodeError(env, "ERR_DAX_TOO_MANY_MAPPINGS", "too many mappings");
    return env.Undefined();
  }
  // Before every new mapping: a 'SIGBUS' listener or other native code may
  // have put its handler over ours since the last one.
  reassert_sigbus_handler();
  void* p = nullptr;
  int rc = map(static_cast<int>(fd), static_cast<uint64_t>(offset), static_cast<size_t>(length), readonly,
               static_cast<MapMode>(mode), static_cast<size_t>(align), &p);
  if (rc < 0) {
    ThrowSystemError(env, -rc, "mmap", path.empty() ? nullptr : path.c_str());
    return env.Undefined();
  }
  auto* r = new Region();
  r->base = static_cast<uint8_t*>(p);
  r->length = static_cast<size_t>(length);
  r->file_offset = static_cast<uint64_t>(offset);
  r->is_file = is_file;
  r->readonly = readonly;
  r->persist_mode = readonly ? kPersistNone : static_cast<int>(persist);
  r->path = std::move(path);
  if (!RegionAdopt(Data(info), r)) {
    unmap(r->base, r->length);
    delete r;
    ThrowSystemError(env, EMFILE, "mmap", nullptr);
    return env.Undefined();
  }
  napi_value ext;
  if (napi_create_external(env, r, [](napi_env e, void* data, void*) { FinalizeHandle(e, static_cast<Region*>(data)); },
                           nullptr, &ext) != napi_ok) {
    // Nothing owns it: close and release it now.
    RegionClose(env, r);
    RegionHandleFinalized(env, r);
    if (!env.IsExceptionPending()) ThrowCodeError(env, "ERR_DAX_INTERNAL", "could not create the mapping handle");
    return env.Undefined();
  }
  napi_type_tag_object(env, ext, &g_tag);
  return Napi::Value(env, ext);
}

// id(external) -> the numeric handle of a mapping, once per open().
Napi::Value JS_id(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_valuetype t = napi_undefined;
  bool tagged = false;
  void* data = nullptr;
  if (napi_typeof(env, info[0], &t) != napi_ok || t != napi_external ||
      napi_check_object_type_tag(env, info[0], &g_tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, info[0], &data) != napi_ok) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "Illegal invocation: not a daxkit mapping handle");
    return env.Undefined();
  }
  auto* r = static_cast<Region*>(data);
  if (r->state != RegionState::kOpen || r->id < 0) {
    ThrowCodeError(env, "ERR_DAX_CLOSED", "The mapping is closed");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(r->id));
}

Napi::Value JS_address(const Napi::CallbackInfo& info) {
  Region* r = GetRegion(info);
  if (r == nullptr) return info.Env().Undefined();
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(r->base)));
}

// buffer(handle, offset, length): an external ArrayBuffer over part of the
// mapping, tracked by region.cc until both it and its backing store are gone.
Napi::Value JS_buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  size_t off, len;
  if (r == nullptr || !GetRange(info, 1, r, &off, &len)) return env.Undefined();
  napi_value ab;
  napi_status st = RegionNewBuffer(env, r, off, len, &ab);
  if (st == napi_no_external_buffers_allowed) {
    // Never fall back to a copy: stores into a copy would silently never
    // reach the media, and persist() would be a lie.
    ThrowCodeError(env, "ERR_DAX_EXTERNAL_BUFFERS_UNSUPPORTED",
                   "This JavaScript runtime does not allow ArrayBuffers over external memory "
                   "(napi_no_external_buffers_allowed), so a mapping cannot be exposed without copying");
    return env.Undefined();
  }
  if (st != napi_ok) {
    if (!env.IsExceptionPending()) ThrowCodeError(env, "ERR_DAX_INTERNAL", "could not create an ArrayBuffer over the mapping");
    return env.Undefined();
  }
  return Napi::Value(env, ab);
}

// close(handle): see RegionClose. Idempotent: a closed or unknown id is a
// no-op, a non-number is a TypeError.
Napi::Value JS_close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id;
  if (napi_get_value_int64(env, info[0], &id) != napi_ok) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "Illegal invocation: not a daxkit mapping handle");
    return env.Undefined();
  }
  Region* r = RegionById(Data(info), id);
  if (r != nullptr) RegionClose(env, r);
  return env.Undefined();
}

void Msync(Napi::Env env, Region* r, void* p, size_t n) {
  int rc = msync_range(p, n);
  r->msyncs++;
  if (rc < 0) ThrowSystemError(env, -rc, "msync", r->path.c_str());
}

Napi::Value JS_persist(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  size_t off, len;
  if (r == nullptr || !GetRange(info, 1, r, &off, &len)) return env.Undefined();
  switch (r->persist_mode) {
    case kPersistFlush: {
      CopyArgs a{r->base + off, nullptr, len};
      if (Guarded(env, r, "persist", DoPersist, &a, {off, len, nullptr, nullptr})) Count(r, a, 1);
      break;
    }
    case kPersistFence:
      drain();
      r->fences++;
      break;
    case kPersistMsync:
      Msync(env, r, r->base + off, len);
      break;
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
    if (Guarded(env, r, "flush", DoFlush, &a, {off, len, nullptr, nullptr})) Count(r, a, 0);
  } else if (r->persist_mode == kPersistMsync) {
    Msync(env, r, r->base + off, len);
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

// read(handle, offset, target): copies target's bytes out of the mapping,
// under the SIGBUS guard.
Napi::Value JS_read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  int64_t o;
  uint8_t* dst;
  size_t n;
  if (r == nullptr || !GetInt64(env, info[1], "offset", &o) || !GetBytes(env, info[2], "target", &dst, &n) ||
      !CheckRange(env, r, o, n))
    return env.Undefined();
  // A view of a read-only mapping as the target would fault on the first
  // store (SIGSEGV, which nothing may catch): refuse it instead.
  if (region_overlaps_readonly(dst, n)) {
    ThrowCodeError(env, "ERR_DAX_READONLY", "The target is a view of a read-only mapping");
    return env.Undefined();
  }
  CopyArgs a{dst, r->base + o, n};
  Guarded(env, r, "read", Overlaps(dst, r->base + o, n) ? DoMove : DoCopyFrom, &a,
          {static_cast<size_t>(o), n, dst, "target"});
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
  if (!CheckRange(env, r, o, n)) return env.Undefined();
  uint8_t* dst = r->base + o;
  const Sides sides{static_cast<size_t>(o), n, src, "source"};
  CopyArgs a{dst, src, n};
  const char* op = persist ? "copyPersist" : "write";
  const bool overlap = Overlaps(dst, src, n);
  if (!persist) {
    Guarded(env, r, op, overlap ? DoMove : DoCopyTo, &a, sides);
    return env.Undefined();
  }
  switch (r->persist_mode) {
    case kPersistFlush:
      if (overlap) {
        if (Guarded(env, r, op, DoMove, &a, sides) && Guarded(env, r, op, DoPersist, &a, sides)) Count(r, a, 1);
      } else if (Guarded(env, r, op, DoCopyPersist, &a, sides)) {
        Count(r, a, 1);
      }
      break;
    case kPersistFence:
      // eADR: caches are in the persistence domain, only ordering is needed.
      if (Guarded(env, r, op, overlap ? DoMove : DoCopyTo, &a, sides)) {
        drain();
        r->fences++;
      }
      break;
    default:
      if (Guarded(env, r, op, overlap ? DoMove : DoCopyTo, &a, sides)) Msync(env, r, dst, n);
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
  return ObjectBuilder(env)
      .Num("linesFlushed", static_cast<double>(r->lines_flushed))
      .Num("fences", static_cast<double>(r->fences))
      .Num("msyncs", static_cast<double>(r->msyncs))
      .Num("nonTemporalBytes", static_cast<double>(r->nt_bytes));
}

// regionCounts(): process-wide counts of mappings by state, for the error
// that explains an exhausted address space or map count.
Napi::Value JS_regionCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RegionCounts c = region_counts();
  return ObjectBuilder(env)
      .Num("open", static_cast<double>(c.open))
      .Num("held", static_cast<double>(c.held))
      .Num("leaked", static_cast<double>(c.leaked))
      .Num("budget", static_cast<double>(c.budget))
      .Num("maxMapCount", static_cast<double>(c.max_map_count));
}

// reassertSigbus(): puts daxkit's SIGBUS handler back on top; lib/ calls it
// when a 'SIGBUS' listener is added or removed (see guard.h).
Napi::Value JS_reassertSigbus(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), reassert_sigbus_handler());
}

Napi::Value JS_cpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuInfo& c = cpu();
  const char* flush = c.flush == kFlushClwb ? "clwb"
                      : c.flush == kFlushClflushopt ? "clflushopt"
                      : c.flush == kFlushClflush ? "clflush" : "none";
  return ObjectBuilder(env)
      .Str("flush", flush)
      .Bool("clflush", c.has_clflush)
      .Bool("clflushopt", c.has_clflushopt)
      .Bool("clwb", c.has_clwb)
      .Bool("nonTemporal", c.has_sse2)
      .Num("lineSize", c.line_size)
      .Num("pageSize", static_cast<double>(page_size()));
}

// Environment teardown (worker exit, process exit): JS will not run again,
// so every region still open is closed in place; finalizers that come later
// release what nothing else holds.
void CleanupHook(void* arg) {
  auto* pair = static_cast<std::pair<napi_env, AddonData*>*>(arg);
  napi_handle_scope scope;
  if (napi_open_handle_scope(pair->first, &scope) == napi_ok) {
    RegionCloseAll(pair->first, pair->second);
    napi_close_handle_scope(pair->first, scope);
  }
  delete pair;
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  // A random tag per process: handles from another copy of the addon (or
  // forged ones) never pass the type-tag check. Workers load concurrently.
  static std::once_flag once;
  std::call_once(once, [] {
    std::random_device rd;
    g_tag.lower = (static_cast<uint64_t>(rd()) << 32) | rd();
    g_tag.upper = (static_cast<uint64_t>(rd()) << 32) | rd();
  });
  install_sigbus_handler();
  AddonData* d = addon_data(env);
  napi_add_env_cleanup_hook(env, CleanupHook, new std::pair<napi_env, AddonData*>(env, d));

  Export(env, exports, "id", Binding<JS_id>, d);
  Export(env, exports, "map", Binding<JS_map>, d);
  Export(env, exports, "address", Binding<JS_address>, d);
  Export(env, exports, "buffer", Binding<JS_buffer>, d);
  Export(env, exports, "close", Binding<JS_close>, d);
  Export(env, exports, "persist", Binding<JS_persist>, d);
  Export(env, exports, "flush", Binding<JS_flush>, d);
  Export(env, exports, "drain", Binding<JS_drain>, d);
  Export(env, exports, "read", Binding<JS_read>, d);
  Export(env, exports, "write", Binding<JS_write>, d);
  Export(env, exports, "copyPersist", Binding<JS_copyPersist>, d);
  Export(env, exports, "cpuInfo", Binding<JS_cpuInfo>, d);
  Export(env, exports, "stats", Binding<JS_stats>, d);
  Export(env, exports, "regionCounts", Binding<JS_regionCounts>, d);
  Export(env, exports, "reassertSigbus", Binding<JS_reassertSigbus>, d);
}

}  // namespace dax
