#include "guard.h"

#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <string>
#include <thread>
#include <vector>

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
// While this thread runs the handler we chain to: the signal it runs for
// and where on the stack we called it. A handler that chains back to ours
// (it was installed over ours, and we were put back over it) must not
// ping-pong between the two forever. A handler may also never return (it
// jumps out, as ours does), so these can be stale: a later signal is the
// same one only if it has the same siginfo AND arrives deeper on the stack
// than the frame that chained.
__attribute__((tls_model("initial-exec"))) thread_local const siginfo_t* tls_chain_si = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local uintptr_t tls_chain_sp = 0;

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

// The claims of other copies of daxkit loaded in this process (see peers
// below), asked by the one copy whose handler is installed.
using Claim = bool (*)(int, siginfo_t*, void*);
constexpr int kMaxPeers = 16;
std::atomic<Claim> g_peers[kMaxPeers];
std::atomic<int> g_npeers{0};

void chain(int sig, siginfo_t* si, void* uc) {
  char here;
  const struct sigaction& prev = g_prev[g_prev_idx.load(std::memory_order_acquire)];
  tls_chain_si = si;
  tls_chain_sp = reinterpret_cast<uintptr_t>(&here);
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction != nullptr) {
      prev.sa_sigaction(sig, si, uc);
      tls_chain_si = nullptr;
      return;
    }
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    tls_chain_si = nullptr;
    return;
  }
  tls_chain_si = nullptr;
  die_default(si);
}

// This copy's claim: a fault raised by the kernel on this thread while it
// runs one of this copy's guarded copies. Jumps back there; never returns
// true.
bool claim(int, siginfo_t* si, void*) {
  Guard* g = tls_guard;
  if (g == nullptr || si == nullptr || si->si_code <= 0) return false;
  g->addr = reinterpret_cast<uintptr_t>(si->si_addr);
  g->code = si->si_code;
  tls_guard = nullptr;
  tls_chain_si = nullptr;
  // SA_NODEFER left SIGBUS unblocked, so there is no mask to restore and
  // the jump can skip sigprocmask (sigsetjmp(env, 0)).
  siglongjmp(g->env, 1);
}

void on_sigbus(int sig, siginfo_t* si, void* uc) {
  char here;
  if (tls_chain_si != nullptr && tls_chain_si == si && reinterpret_cast<uintptr_t>(&here) < tls_chain_sp) {
    // The handler we chained to came back to us with the same signal:
    // nobody claims it.
    tls_chain_si = nullptr;
    die_default(si);
    return;
  }
  claim(sig, si, uc);
  const int n = g_npeers.load(std::memory_order_acquire);
  for (int i = 0; i < n; i++) {
    Claim c = g_peers[i].load(std::memory_order_acquire);
    if (c != nullptr) c(sig, si, uc);
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

// Several copies of daxkit can be loaded in one process (two versions in
// one node_modules tree). Each would put its handler on top of the other's,
// chaining to it, and their watchdogs would keep doing so: a cycle that
// loses every other handler (libuv's, which a 'SIGBUS' listener needs).
// So one copy, the first loaded, installs the handler and runs the
// watchdog; the others hand it their claims. They find it through an
// exported symbol whose name carries the version of this interface.
struct PeersV1 {
  uint32_t size;
  bool (*add)(Claim claim);
  bool (*reassert)();
  void (*watch)(int delta_active);
};

bool local_reassert() {
  std::lock_guard<std::mutex> lock(install_mu());
  return install_locked();
}

void local_watch(int delta_active) {
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

bool add_peer(Claim c) {
  const int i = g_npeers.load(std::memory_order_relaxed);
  for (int k = 0; k < i; k++) {
    if (g_peers[k].load(std::memory_order_relaxed) == c) return true;
  }
  if (i >= kMaxPeers) return false;
  g_peers[i].store(c, std::memory_order_release);
  g_npeers.store(i + 1, std::memory_order_release);
  return true;
}

const PeersV1 g_self{sizeof(PeersV1), add_peer, local_reassert, local_watch};
const PeersV1* g_leader = &g_self;

constexpr const char* kPeersSymbol = "daxkit_sigbus_peers_v1";

int collect_object(struct dl_phdr_info* info, size_t, void* out) {
  if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0') {
    static_cast<std::vector<std::string>*>(out)->push_back(info->dlpi_name);
  }
  return 0;
}

// The interface of the first loaded copy of daxkit (perhaps this one). Its
// object is pinned: the handler lives in it.
const PeersV1* find_leader() {
  std::vector<std::string> objects;
  dl_iterate_phdr(collect_object, &objects);
  for (const std::string& name : objects) {
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (h == nullptr) continue;
    auto get = reinterpret_cast<const PeersV1* (*)()>(dlsym(h, kPeersSymbol));
    const PeersV1* p = get != nullptr ? get() : nullptr;
    if (p != nullptr && p->size >= sizeof(PeersV1)) {
      // Pinned, and only this one: other objects keep their lifetimes.
      dlopen(name.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
      dlclose(h);
      return p;
    }
    dlclose(h);
  }
  return &g_self;
}

}  // namespace

}  // namespace dax

extern "C" __attribute__((visibility("default"))) const dax::PeersV1* daxkit_sigbus_peers_v1() { return &dax::g_self; }

namespace dax {

void install_sigbus_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    pin_library();
    g_leader = find_leader();
    if (g_leader != &g_self) g_leader->add(claim);
  });
  reassert_sigbus_handler();
}

bool reassert_sigbus_handler() { return g_leader->reassert(); }

void sigbus_watchdog(int delta_active) { g_leader->watch(delta_active); }

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
