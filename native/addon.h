// The addon's per-environment state and the init function of each binding
// file (addon.cc registers them all).
#pragma once

#include <napi.h>

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "errors.h"

namespace dax {

struct Region;

// Per-environment state (the main thread and every worker get their own).
// It lives until the environment is gone AND its last Region is freed:
// finalizers of buffers and handles may run late in teardown, after the
// instance-data finalizer, and still reach it.
struct AddonData {
  // Released by the instance-data finalizer, while the env still exists.
  ErrorClasses errors;
  // The environment's regions, closed in place by its cleanup hook when a
  // worker (or the process) goes away with mappings still open.
  Region* regions = nullptr;
  // Open regions by slot, for the numeric handles the calls take
  // (region.cc). gens[i] counts the uses of slot i, so the id of a closed
  // mapping never resolves to the region that reuses its slot.
  std::vector<Region*> slots;
  std::vector<uint32_t> gens;
  std::vector<uint32_t> free_slots;
  // The fds the bindings opened and handed to JS (fds.cc): Node does not
  // know them, so they are closed by closeFd(), or by the environment's
  // cleanup hook when a worker goes away in the middle of a walk.
  std::unordered_set<int> fds;
  // 1 for the environment, plus 1 per Region not yet freed, plus 1 while
  // the fd cleanup hook is registered.
  uint32_t refs = 1;
  // Whether JS can move the memory of an ArrayBuffer daxkit made to another
  // object, and so to another worker (transfer(), Node 22 and later; lib/
  // says so through configure()). Only then can a backing store outlive
  // this environment, and only then must a store finalized during its
  // teardown keep its range (region.cc).
  bool buffers_movable = true;
  // A function that does nothing: calling it tells whether JS can still run
  // in this environment (region.cc, CanRunJs).
  napi_ref noop = nullptr;
#ifdef DAXKIT_TEST
  // The test build only: set from DAXKIT_TEST_NO_EXTERNAL_BUFFERS=1 at load,
  // to behave as a runtime that refuses external ArrayBuffers (Electron
  // does), which Node never is, so that the error path can be tested.
  bool refuse_external_buffers = false;
#endif
};

AddonData* addon_data(napi_env env);
void AddonDataRelease(AddonData* d);

// An fd a binding opened and returns to JS: registered with the
// environment, so that closeFd() and the cleanup hook can close it (fds.cc).
// Returns the fd.
int TrackFd(napi_env env, int fd);

void InitFds(Napi::Env env, Napi::Object exports);        // fds.cc
void InitMapping(Napi::Env env, Napi::Object exports);    // mapping.cc
void InitIo(Napi::Env env, Napi::Object exports);         // io.cc
void InitCpuInfo(Napi::Env env, Napi::Object exports);    // cpu_info.cc
void InitFsWalk(Napi::Env env, Napi::Object exports);     // fs_walk.cc
void InitFsXattr(Napi::Env env, Napi::Object exports);    // fsxattr.cc
void InitFiemap(Napi::Env env, Napi::Object exports);     // fiemap.cc
void InitFileOps(Napi::Env env, Napi::Object exports);    // file_ops.cc
#ifdef DAXKIT_TEST
void InitTestHooks(Napi::Env env, Napi::Object exports);  // test_hooks.cc
#endif

}  // namespace dax
