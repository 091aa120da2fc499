#include "guard.h"

#include <mutex>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

namespace dax {

namespace {

struct Guard {
  sigjmp_buf env;
  volatile uintptr_t addr;
  volatile int code;
};

// initial-exec: the handler must not trigger lazy TLS allocation, and the
// hot path (persist of one line) should not pay for __tls_get_addr.
__attribute__((tls_model("initial-exec"))) thread_local Guard* tls_guard = nullptr;

struct sigaction g_prev;
std::once_flag g_once;

void chain(int sig, siginfo_t* si, void* uc) {
  if (g_prev.sa_flags & SA_SIGINFO) {
    if (g_prev.sa_sigaction != nullptr) {
      g_prev.sa_sigaction(sig, si, uc);
      return;
    }
  } else if (g_prev.sa_handler != SIG_DFL && g_prev.sa_handler != SIG_IGN) {
    g_prev.sa_handler(sig);
    return;
  }
  // The previous disposition was the default (or ignore, which the kernel
  // does not honour for a fault). Restore it: a fault re-executes the
  // instruction on return and now dies as it would have without us; a signal
  // sent with kill() must be raised again to get the same outcome.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
  if (si == nullptr || si->si_code <= 0) raise(SIGBUS);
}

void on_sigbus(int sig, siginfo_t* si, void* uc) {
  Guard* g = tls_guard;
  // Only a fault raised by the kernel on this thread, while it runs one of
  // our guarded copies, is ours; kill()ed signals have si_code <= 0.
  if (g != nullptr && si != nullptr && si->si_code > 0) {
    g->addr = reinterpret_cast<uintptr_t>(si->si_addr);
    g->code = si->si_code;
    tls_guard = nullptr;
    // SA_NODEFER left SIGBUS unblocked, so there is no mask to restore and
    // the jump can skip sigprocmask (sigsetjmp(env, 0)).
    siglongjmp(g->env, 1);
  }
  chain(sig, si, uc);
}

}  // namespace

void install_sigbus_handler() {
  std::call_once(g_once, [] {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_prev);
  });
}

bool run_guarded(void (*fn)(void*), void* arg, Fault* fault) {
  Guard g;
  g.addr = 0;
  g.code = 0;
  if (sigsetjmp(g.env, 0) != 0) {
    fault->addr = g.addr;
    fault->code = g.code;
    return false;
  }
  tls_guard = &g;
  fn(arg);
  tls_guard = nullptr;
  return true;
}

}  // namespace dax
