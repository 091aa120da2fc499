// The JS face of a mapping: a tagged external that owns it (for the GC), a
// numeric id that the calls take, and plain functions (binding.persist(id,
// offset, length), ...; io.cc). lib/mapping/dax-mapping.ts owns the
// DaxMapping class, its validation and its defaults; region.cc owns the
// lifetime.
#include <errno.h>

#include <mutex>
#include <random>
#include <string>

#include "addon.h"
#include "args.h"
#include "core/guard.h"
#include "core/sys.h"
#include "errors.h"
#include "mapping.h"
#include "region.h"

namespace dax {

namespace {

napi_type_tag g_tag;

}  // namespace

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
  // persist()'s path, so the plain conversion: lib/ has checked both are
  // safe integers, and whatever napi_get_value_int64 makes of anything else
  // (NaN is 0, fractions truncate) is still checked against the mapping.
  if (napi_get_value_int64(info.Env(), info[i], &o) != napi_ok || napi_get_value_int64(info.Env(), info[i + 1], &l) != napi_ok) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "The \"offset\" and \"length\" arguments must be numbers");
    return false;
  }
  if (l < 0) {
    ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE", "The range is outside the mapping");
    return false;
  }
  if (!CheckRange(info.Env(), r, o, static_cast<uint64_t>(l))) return false;
  *off = static_cast<size_t>(o);
  *len = static_cast<size_t>(l);
  return true;
}

namespace {

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
  std::string path = GetString(env, info[7]);
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
  if (is_file) fd_identity(static_cast<int>(fd), &r->dev, &r->ino);
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

// configure(buffersMovable): what lib/ knows of this runtime (AddonData).
Napi::Value JS_configure(const Napi::CallbackInfo& info) {
  Data(info)->buffers_movable = IsTrue(info.Env(), info[0]);
  return info.Env().Undefined();
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
  napi_value noop;
  if (napi_create_function(env, "noop", NAPI_AUTO_LENGTH, [](napi_env, napi_callback_info) -> napi_value { return nullptr; },
                           nullptr, &noop) == napi_ok) {
    napi_create_reference(env, noop, 1, &d->noop);
  }

  Export(env, exports, "id", Binding<JS_id>, d);
  Export(env, exports, "map", Binding<JS_map>, d);
  Export(env, exports, "address", Binding<JS_address>, d);
  Export(env, exports, "buffer", Binding<JS_buffer>, d);
  Export(env, exports, "close", Binding<JS_close>, d);
  Export(env, exports, "stats", Binding<JS_stats>, d);
  Export(env, exports, "regionCounts", Binding<JS_regionCounts>, d);
  Export(env, exports, "reassertSigbus", Binding<JS_reassertSigbus>, d);
  Export(env, exports, "configure", Binding<JS_configure>, d);
}

}  // namespace dax