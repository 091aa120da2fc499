// SIGBUS recovery for daxkit's own accessors (napi-free).
//
// A load or store to a poisoned pmem page, or to a page of a file truncated
// under the mapping, raises SIGBUS. Inside run_guarded() that signal unwinds
// (siglongjmp) back to the caller, which turns it into a JS error. Outside,
// the handler chains to whatever handler was installed before ours, so the
// default action (the process dies) still applies to everyone else.
#pragma once

#include <stdint.h>

namespace dax {

struct Fault {
  uintptr_t addr;  // si_addr: the faulting address
  int code;        // si_code: BUS_ADRERR, BUS_MCEERR_AR, ...
};

// Installs the process-wide SIGBUS handler once. Safe to call repeatedly
// (every environment, main thread or worker, calls it at load).
void install_sigbus_handler();

// Runs fn(arg). Returns true when it completed, false when a SIGBUS on this
// thread interrupted it (then *fault says where). fn must not allocate, take
// locks or call into the JS engine: it can be abandoned at any instruction.
bool run_guarded(void (*fn)(void*), void* arg, Fault* fault);

}  // namespace dax
