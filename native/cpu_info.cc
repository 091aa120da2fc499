// cpuInfo(): the flush instruction daxkit chose, what the CPU has, the line
// and page sizes.
#include "addon.h"
#include "args.h"
#include "core/cpu.h"
#include "core/sys.h"

namespace dax {

namespace {

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

}  // namespace

void InitCpuInfo(Napi::Env env, Napi::Object exports) { Export(env, exports, "cpuInfo", Binding<JS_cpuInfo>); }

}  // namespace dax
