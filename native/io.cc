// Reads, writes and persistence through a mapping: the copies run under the
// SIGBUS guard, and persist(), flush(), drain() and copyPersist() do what the
// region's persist mode says (region.h: line write-back and SFENCE, msync,
// or a fence alone on eADR), counting what it cost for stats().
#include <string.h>

#include "args.h"
#include "core/persist.h"
#include "core/sys.h"
#include "errors.h"
#include "guarded.h"
#include "mapping.h"

namespace dax {

namespace {

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

// The eADR path: caches are in the persistence domain, only ordering is needed.
void Fence(Region* r) {
  drain();
  r->fences++;
}

bool Overlaps(const uint8_t* a, const uint8_t* b, size_t n) { return n > 0 && a < b + n && b < a + n; }

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
      Fence(r);
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
  if (r != nullptr && (r->persist_mode == kPersistFlush || r->persist_mode == kPersistFence)) Fence(r);
  return info.Env().Undefined();
}

// msync(handle, offset, length): msync(MS_SYNC) of the page-rounded range,
// whatever persist() does for the mapping. deepFlush() goes this way past the
// persistence domain: the filesystem's fsync path ends in a flush request to
// the device (the pmem driver's write-pending-queue flush, virtio-pmem's
// request to the host).
Napi::Value JS_msync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = GetRegion(info);
  size_t off, len;
  if (r == nullptr || !GetRange(info, 1, r, &off, &len)) return env.Undefined();
  Msync(env, r, r->base + off, len);
  return env.Undefined();
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
      if (Guarded(env, r, op, overlap ? DoMove : DoCopyTo, &a, sides)) Fence(r);
      break;
    default:
      if (Guarded(env, r, op, overlap ? DoMove : DoCopyTo, &a, sides)) Msync(env, r, dst, n);
      break;
  }
  return env.Undefined();
}

Napi::Value JS_write(const Napi::CallbackInfo& info) { return WriteImpl(info, false); }
Napi::Value JS_copyPersist(const Napi::CallbackInfo& info) { return WriteImpl(info, true); }
}  // namespace

void InitIo(Napi::Env env, Napi::Object exports) {
  AddonData* d = addon_data(env);
  Export(env, exports, "persist", Binding<JS_persist>, d);
  Export(env, exports, "flush", Binding<JS_flush>, d);
  Export(env, exports, "drain", Binding<JS_drain>, d);
  Export(env, exports, "msync", Binding<JS_msync>, d);
  Export(env, exports, "read", Binding<JS_read>, d);
  Export(env, exports, "write", Binding<JS_write>, d);
  Export(env, exports, "copyPersist", Binding<JS_copyPersist>, d);
}

}  // namespace dax
