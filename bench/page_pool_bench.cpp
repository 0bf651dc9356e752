// page_pool_bench — cycles and nanoseconds per element of the page pool's three paths, after
// the kernel's bench_page_pool_simple (tools/testing/selftests/net/bench/page_pool/):
//   fast_path          alloc + direct recycle into the alloc cache (kernel: page_pool01)
//   ptr_ring           alloc + put from outside NAPI context, through the ptr_ring (page_pool02)
//   slow_path_provider alloc that misses cache and ring and asks the memory provider, with the
//                      buffer released back to the provider (an extra page reference makes it
//                      unrecyclable, as page_pool03 does with get_page)
// Each line is the median of --repeats runs of --loops iterations:
//   <path>: <cycles> cycles/elem <ns> ns/elem
// Cycles come from rdtsc (the TSC rate, not the core clock under turbo), ns from steady_clock.
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/page_pool/page_pool.hpp"
#include "nicemu/providers/host/host_page_provider.hpp"
#include "nicemu/sim/time.hpp"

using namespace nicemu;
using page_pool::PagePool;

namespace {

struct Sample {
  double cycles;
  double ns;
};

inline void clobber() { asm volatile("" ::: "memory"); }

class OneQueueNetdev final : public page_pool::PpNetdev {
 public:
  explicit OneQueueNetdev(page_pool::MemoryProvider* mp) : mp_(mp) {}
  int ifindex() const override { return 1; }
  page_pool::MemoryProviderParams rx_queue_mp_params(std::uint32_t) const override { return {mp_}; }

 private:
  page_pool::MemoryProvider* mp_;
};

template <class Body>
Sample measure(std::uint64_t loops, Body&& body) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t c0 = __rdtsc();
  for (std::uint64_t i = 0; i < loops; ++i) {
    body();
    clobber();
  }
  const std::uint64_t c1 = __rdtsc();
  const auto t1 = std::chrono::steady_clock::now();
  const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
  return {static_cast<double>(c1 - c0) / static_cast<double>(loops), ns / static_cast<double>(loops)};
}

Sample median(std::vector<Sample> v) {
  std::sort(v.begin(), v.end(), [](const Sample& a, const Sample& b) { return a.cycles < b.cycles; });
  const Sample lo = v[(v.size() - 1) / 2];
  const Sample hi = v[v.size() / 2];
  return {(lo.cycles + hi.cycles) / 2, (lo.ns + hi.ns) / 2};
}

void report(const char* path, const std::vector<Sample>& runs) {
  const Sample m = median(runs);
  std::printf("%s: %.1f cycles/elem %.3f ns/elem\n", path, m.cycles, m.ns);
  std::fflush(stdout);
}

// Pool as the kernel bench makes it: order 0, no flags, DMA_BIDIRECTIONAL, ring pre-filled.
PagePool& bench_pool(page_pool::PagePoolRegistry& reg) {
  page_pool::PagePoolParams p;
  p.dma_dir = netmem::DmaDirection::kBidirectional;
  PagePool& pool = *reg.create(p).value();
  std::vector<netmem::NetmemRef> warm;
  for (int i = 0; i < 64; ++i) warm.push_back(pool.alloc_netmems());
  for (auto n : warm) pool.put_full_netmem(n, false);
  return pool;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t loops = 10'000'000;
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--loops") == 0 && i + 1 < argc) {
      loops = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: page_pool_bench [--loops N (default 10000000)] [--repeats R (default 5)]\n"
                   "prints '<path>: <cycles> cycles/elem <ns> ns/elem', the median of R runs\n");
      return 2;
    }
  }
  if (loops == 0 || repeats < 1) {
    std::fprintf(stderr, "page_pool_bench: --loops and --repeats must be positive\n");
    return 2;
  }

  netmem::HostMemory memory;
  sim::ManualClock clock;
  page_pool::PagePoolRegistry reg(memory, clock);
  int failures = 0;

  {  // (a) fast path
    PagePool& pool = bench_pool(reg);
    std::vector<Sample> runs;
    for (int r = 0; r < repeats; ++r) {
      runs.push_back(measure(loops, [&] {
        netmem::NetmemRef n = pool.alloc_netmems();
        if (NICEMU_UNLIKELY(!n)) std::abort();
        pool.recycle_direct(n);
      }));
    }
    report("fast_path", runs);
    if (pool.stats().alloc.fast < loops * static_cast<std::uint64_t>(repeats)) ++failures;
    pool.destroy();
  }
  {  // (b) through the ptr_ring
    PagePool& pool = bench_pool(reg);
    std::vector<Sample> runs;
    for (int r = 0; r < repeats; ++r) {
      runs.push_back(measure(loops, [&] {
        netmem::NetmemRef n = pool.alloc_netmems();
        if (NICEMU_UNLIKELY(!n)) std::abort();
        pool.put_full_netmem(n, false);
      }));
    }
    report("ptr_ring", runs);
    if (pool.stats().recycle.ring < loops * static_cast<std::uint64_t>(repeats)) ++failures;
    pool.destroy();
  }
  {  // (c) slow path through a memory provider
    netmem::DmaSpace dma;
    providers::host::HostPageProvider mp(memory, dma, {.pages = 64, .batch = 1});
    OneQueueNetdev dev(&mp);
    page_pool::PagePoolParams p;
    p.flags = page_pool::kPpFlagDmaMap | page_pool::kPpFlagDmaSyncDev | page_pool::kPpFlagAllowUnreadableNetmem;
    p.dev = &dma;
    p.dma_dir = netmem::DmaDirection::kFromDevice;
    p.max_len = static_cast<std::uint32_t>(netmem::kPageSize);
    p.netdev = &dev;
    PagePool& pool = *reg.create(p).value();
    std::vector<Sample> runs;
    for (int r = 0; r < repeats; ++r) {
      runs.push_back(measure(loops, [&] {
        netmem::NetmemRef n = pool.alloc_netmems();
        if (NICEMU_UNLIKELY(!n)) std::abort();
        netmem::Page& page = n.page();
        netmem::get_page(page);  // unrecyclable: the pool releases it to the provider
        pool.put_full_netmem(n, false);
        netmem::put_page(page);
      }));
    }
    report("slow_path_provider", runs);
    if (mp.stats().handed_out < loops * static_cast<std::uint64_t>(repeats)) ++failures;
    pool.destroy();
  }
  if (reg.size() != 0 || failures != 0) {
    std::fprintf(stderr, "page_pool_bench: a path did not take the route it measures (%d), or a pool leaked\n",
                 failures);
    return 1;
  }
  return 0;
}
