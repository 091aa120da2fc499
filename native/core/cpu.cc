#include "cpu.h"

#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__)
#error "daxkit's flush primitives are written for x86-64 only"
#endif

#include <cpuid.h>

namespace dax {

namespace {

bool env_set(const char* name) {
  const char* v = getenv(name);
  return v != nullptr && v[0] != '\0' && strcmp(v, "0") != 0;
}

CpuInfo detect() {
  CpuInfo c{};
  unsigned a = 0, b = 0, cx = 0, d = 0;
  c.line_size = 64;
  if (__get_cpuid(1, &a, &b, &cx, &d)) {
    c.has_clflush = (d & (1u << 19)) != 0;
    c.has_sse2 = (d & (1u << 26)) != 0;
    unsigned ls = ((b >> 8) & 0xff) * 8;
    if (ls >= 32 && ls <= 256 && (ls & (ls - 1)) == 0) c.line_size = ls;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
    c.has_clflushopt = (b & (1u << 23)) != 0;
    c.has_clwb = (b & (1u << 24)) != 0;
  }
  if (c.has_clwb && !env_set("DAXKIT_NO_CLWB")) {
    c.flush = kFlushClwb;
  } else if (c.has_clflushopt && !env_set("DAXKIT_NO_CLFLUSHOPT")) {
    c.flush = kFlushClflushopt;
  } else if (c.has_clflush) {
    c.flush = kFlushClflush;
  } else {
    c.flush = kFlushNone;
  }
  return c;
}

}  // namespace

const CpuInfo& cpu() {
  static const CpuInfo c = detect();
  return c;
}

}  // namespace dax
