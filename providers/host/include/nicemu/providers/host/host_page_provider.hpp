// nicemu/providers/host/host_page_provider.hpp — a memory provider of readable host pages
// from a fixed, pre-mapped budget.
//
// Models: a memory provider in the shape of net/core/devmem.c's (one buffer per
//   alloc_netmems call unless a batch is configured; release keeps the buffer; provider-owned
//   DMA mapping), but over ordinary readable host pages. nicemu uses it to:
//   - give an RX queue a hard memory budget (a designer asks "what if this queue had 512
//     pages?"): the pool fails allocations, and the NIC drops, when the budget is used up;
//   - exercise the provider slow path with memory the CPU can read (benchmarks, tests);
// Pools with no provider do not use it: they take pages from HostMemory through the page
//   pool's built-in bulk path, exactly as the kernel does without a provider.
// Not modelled: any kernel object (Linux has no host-page provider; this one is nicemu's).
// References: ../shared/reference/linux-kernel-semantics.md §3.1, §3.4.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/page_pool/memory_provider.hpp"
#include "nicemu/page_pool/page_pool.hpp"

namespace nicemu::providers::host {

struct HostPageProviderConfig {
  std::size_t pages = 1024;  // the budget, in order-0 pages
  std::uint32_t batch = 1;   // buffers handed over per alloc_netmems call (1..64)
};

struct HostPageProviderStats {
  std::uint64_t alloc_calls = 0;
  std::uint64_t handed_out = 0;  // buffers given to pools
  std::uint64_t released = 0;    // buffers taken back
  std::uint64_t empty = 0;       // alloc_netmems calls that found no free page
  std::uint64_t init_refused = 0;
};

class HostPageProvider final : public page_pool::MemoryProvider {
 public:
  // Allocates `config.pages` pages from `memory` and maps them for `dma`. Check ok() after.
  HostPageProvider(netmem::HostMemory& memory, netmem::DmaSpace& dma, HostPageProviderConfig config);
  ~HostPageProvider() override;

  // False when the host memory or the DMA space could not supply the budget.
  bool ok() const { return ok_; }
  std::size_t free_pages() const { return free_.size(); }
  std::size_t total_pages() const { return pages_.size(); }
  std::size_t pools() const { return pools_; }
  const HostPageProviderStats& stats() const { return stats_; }

  netmem::NetmemRef alloc_netmems(page_pool::PagePool& pool) override;
  bool release_netmem(page_pool::PagePool& pool, netmem::NetmemRef netmem) override;
  int init(page_pool::PagePool& pool) override;
  void destroy(page_pool::PagePool& pool) override;
  int nl_fill(page_pool::NlAttrWriter& out, bool for_rx_queue) const override;
  void uninstall(page_pool::PpNetdev& dev, std::uint32_t rxq_idx) override;
  const char* name() const override { return "host"; }

 private:
  netmem::DmaSpace& dma_;
  HostPageProviderConfig config_;
  std::vector<netmem::Page*> pages_;
  std::vector<netmem::Page*> free_;
  std::size_t pools_ = 0;
  bool ok_ = false;
  HostPageProviderStats stats_;
};

}  // namespace nicemu::providers::host
