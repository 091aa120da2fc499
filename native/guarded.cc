#include "guarded.h"

#include <signal.h>

#include <string>

#include "core/guard.h"
#include "core/sys.h"
#include "errors.h"

namespace dax {

namespace {

uint64_t PageDown(uint64_t v) { return v & ~(static_cast<uint64_t>(page_size()) - 1); }

// Faults come a page at a time, and the loads of one 64-byte chunk may be
// issued in any order, so the failing offset reported is the start of the
// faulting page, clamped to the start of the access in that buffer: every
// byte before it was reached without a fault.
uint64_t FaultOffset(uint64_t fault_off, uint64_t access_start) {
  const uint64_t page = PageDown(fault_off);
  return page < access_start ? access_start : page;
}

// What a BUS_ADRERR in a file mapping was: a page beyond the end of the
// file (truncated under the mapping), a page the driver refused (a bad
// block), or, when the file's size cannot be learned, unknown.
FaultKind FileFault(uintptr_t addr, uint64_t file_offset_of_addr, const char* path, uint64_t dev, uint64_t ino) {
  uint64_t size;
  if (mapped_file_size(addr, path, dev, ino, &size) != 0) return kFaultUnknown;
  return file_offset_of_addr >= size ? kFaultTruncated : kFaultMedia;
}

}  // namespace

bool Guarded(napi_env env, Region* r, const char* op, void (*fn)(void*), void* arg, const Sides& s) {
  Fault f;
  if (run_guarded(fn, arg, &f)) return true;
  const uintptr_t base = reinterpret_cast<uintptr_t>(r->base);
  const uintptr_t other = reinterpret_cast<uintptr_t>(s.other);
  MediaFault m{op, r->path.c_str(), "mapping", -1, nullptr, -1, f.addr, f.code, kFaultMedia};
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
      if (f.code == BUS_ADRERR && info.is_file) {
        m.kind = FileFault(f.addr, info.file_offset + info.offset, info.path.c_str(), info.dev, info.ino);
      }
    }
  } else if (in_mapping) {
    m.offset = static_cast<int64_t>(FaultOffset(f.addr - base, in_access ? s.from : 0));
  }
  if (in_mapping && f.code == BUS_ADRERR && r->is_file) {
    m.kind = FileFault(f.addr, r->file_offset + (f.addr - base), r->path.c_str(), r->dev, r->ino);
  }
  ThrowMediaError(env, m);
  return false;
}

}  // namespace dax
