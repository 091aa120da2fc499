#include "guard.h"

#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <thread>

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
// Set while this thread runs the handler we chain to: a handler that itself
// chains back to ours (it was installed over ours, and we were put back over
// it) must not ping-pong between the two forever.
__attribute__((tls_model("initial-exec"))) thread_local int tls_chaining = 0;

// The handler to chain to. A signal can arrive while reassert updates it,
// so it is published as a whole: two slots, and an index the handler reads.
struct sigaction g_prev[2];
std::atomic<int> g_prev_idx{0};
// Serialises installs and reasserts; never taken in the handler, never
// destroyed (see Watchdog).
std::mutex& install_mu() {
  static auto* m = new std::mutex();
  return *m;
}

void die_default(siginfo_t* si) {
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

void chain(int sig, siginfo_t* si, void* uc) {
  if (tls_chaining > 0) {
    die_default(si);
    return;
  }
  const struct sigaction& prev = g_prev[g_prev_idx.load(std::memory_order_acquire)];
  tls_chaining++;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction != nullptr) {
      prev.sa_sigaction(sig, si, uc);
      tls_chaining--;
      return;
    }
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    tls_chaining--;
    return;
  }
  tls_chaining--;
  die_default(si);
}

void on_sigbus(int sig, siginfo_t* si, void* uc) {
  Guard* g = tls_guard;
  // Only a fault raised by the kernel on this thread, while it runs one of
  // our guarded copies, is ours; kill()ed signals have si_code <= 0.
  if (g != nullptr && si != nullptr && si->si_code > 0) {
    g->addr = reinterpret_cast<uintptr_t>(si->si_addr);
    g->code = si->si_code;
    tls_guard = nullptr;
    tls_chaining = 0;
    // SA_NODEFER left SIGBUS unblocked, so there is no mask to restore and
    // the jump can skip sigprocmask (sigsetjmp(env, 0)).
    siglongjmp(g->env, 1);
  }
  chain(sig, si, uc);
}

bool is_ours(const struct sigaction& sa) {
  return (sa.sa_flags & SA_SIGINFO) != 0 && sa.sa_sigaction == on_sigbus;
}

// With install_mu() held. One sigaction call swaps ours in and returns what
// it replaced, so no handler installed meanwhile by another thread is lost;
// it is published as the one to chain to right after.
bool install_locked() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  const int next = 1 - g_prev_idx.load(std::memory_order_relaxed);
  if (sigaction(SIGBUS, &sa, &g_prev[next]) != 0) return false;
  if (is_ours(g_prev[next])) return false;
  g_prev_idx.store(next, std::memory_order_release);
  return true;
}

// The watchdog: a process-wide thread that checks the disposition a few
// times a second while mappings exist, and sleeps without waking otherwise.
// Its state is never destroyed: the thread may still wait on it while the
// process runs its static destructors.
struct Watchdog {
  std::mutex mu;
  std::condition_variable cv;
  int active = 0;
  bool started = false;
};
Watchdog& watchdog() {
  static Watchdog* w = new Watchdog();
  return *w;
}

void watchdog_main() {
  Watchdog& w = watchdog();
  std::unique_lock<std::mutex> lock(w.mu);
  for (;;) {
    if (w.active == 0) {
      w.cv.wait(lock);
      continue;
    }
    w.cv.wait_for(lock, std::chrono::milliseconds(100));
    if (w.active > 0) {
      lock.unlock();
      reassert_sigbus_handler();
      lock.lock();
    }
  }
}

// Node unloads (dlclose) an addon that only workers loaded when the last of
// them exits. The handler and the watchdog thread are process-wide and
// outlive any worker, so the library they are in must never be unloaded.
void pin_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&pin_library), &info) != 0 && info.dli_fname != nullptr) {
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
  });
}

}  // namespace

void install_sigbus_handler() {
  pin_library();
  reassert_sigbus_handler();
}

bool reassert_sigbus_handler() {
  std::lock_guard<std::mutex> lock(install_mu());
  return install_locked();
}

void sigbus_watchdog(int delta_active) {
  Watchdog& w = watchdog();
  std::lock_guard<std::mutex> lock(w.mu);
  w.active += delta_active;
  if (w.active > 0 && !w.started) {
    // Started with every signal blocked, which it inherits: no signal is
    // ever delivered to it; it only sleeps or makes one sigaction call.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::thread(watchdog_main).detach();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    w.started = true;
  }
  w.cv.notify_all();
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
