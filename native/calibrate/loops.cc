#include "loops.h"

#include <time.h>

#include "../core/persist.h"

namespace dax {

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

void RunPersistLoop(void* a) {
  auto* p = static_cast<PersistLoop*>(a);
  size_t j = 0;
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < p->iterations; i++) {
    uint8_t* q = p->base + j * p->line;
    *reinterpret_cast<volatile uint64_t*>(q) = i;
    flush_lines(q, p->line);
    drain();
    if (++j == p->lines) j = 0;
  }
  p->elapsed = now_ns() - t0;
}

void RunCopyLoop(void* a) {
  auto* c = static_cast<CopyLoop*>(a);
  size_t off = 0;
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < c->iterations; i++) {
    copy_to_pmem_nt(c->dst + off, c->src, c->n);
    drain();
    off += c->n;
    if (off + c->n > c->dst_len) off = 0;
  }
  c->elapsed = now_ns() - t0;
}

}  // namespace dax
