// SIGBUS recovery for daxkit's own accessors (napi-free).
//
// A load or store to a poisoned pmem page, or to a page of a file truncated
// under the mapping, raises SIGBUS. Inside run_guarded() that signal unwinds
// (siglongjmp) back to the caller, which turns it into a JS error. Outside,
// the handler chains to whatever handler was installed before ours, so the
// default action (the process dies) still applies to everyone else.
//
// Another handler installed after ours (process.on('SIGBUS') makes libuv
// install one; other native code may too) would take the guarded faults
// instead: libuv's returns, the load runs again and faults again, forever.
// So ours is put back on top, chaining to the newcomer, by
// reassert_sigbus_handler(): lib/ calls it synchronously when a 'SIGBUS'
// listener comes or goes, every map() calls it, and a watchdog thread checks
// a few times a second while mappings exist (which also rescues a guarded
// access already spinning under a foreign handler).
#pragma once

#include <stdint.h>

namespace dax {

struct Fault {
  uintptr_t addr;  // si_addr: the faulting address
  int code;        // si_code: BUS_ADRERR, BUS_MCEERR_AR, ...
};

// Installs the process-wide SIGBUS handler once, and pins the shared object
// it is in (never unloaded). Safe to call repeatedly (every environment, main
// thread or worker, calls it at load).
void install_sigbus_handler();

// Puts our handler back on top if another one replaced it, keeping the
// replacement as the one to chain to. Returns true when it had to.
bool reassert_sigbus_handler();

// Keeps the watchdog running while `active` mappings exist (process-wide).
void sigbus_watchdog(int delta_active);

// Runs fn(arg). Returns true when it completed, false when a SIGBUS on this
// thread interrupted it (then *fault says where). fn must not allocate, take
// locks or call into the JS engine: it can be abandoned at any instruction.
bool run_guarded(void (*fn)(void*), void* arg, Fault* fault);

}  // namespace dax
