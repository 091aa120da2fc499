// What the CPU can do for persistence, detected once by CPUID (napi-free).
#pragma once

#include <stdint.h>

namespace dax {

enum FlushKind : int { kFlushNone = 0, kFlushClflush = 1, kFlushClflushopt = 2, kFlushClwb = 3 };

struct CpuInfo {
  FlushKind flush;       // best available line write-back instruction
  bool has_clflush;
  bool has_clflushopt;
  bool has_clwb;
  bool has_sse2;         // non-temporal 16-byte stores (MOVNTDQ)
  uint32_t line_size;    // CLFLUSH line size from CPUID leaf 1
};

// Detects the CPU once. DAXKIT_NO_CLWB=1 and DAXKIT_NO_CLFLUSHOPT=1 downgrade
// the choice, so that every flush path can be exercised on one machine.
const CpuInfo& cpu();

}  // namespace dax
