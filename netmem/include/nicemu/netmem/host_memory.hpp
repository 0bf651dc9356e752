// nicemu/netmem/host_memory.hpp — a host's page allocator.
//
// Models: the buddy allocator as the page pool sees it: alloc_pages(order) and the bulk
//   order-0 allocation (alloc_pages_bulk_node), refcounted pages freed on the last put_page(),
//   a NUMA node id, and a capacity so that memory pressure (allocation failure) can be modelled.
// Not modelled: fragmentation, zones, reclaim, pfmemalloc reserves (pfmemalloc is settable for
//   tests only), watermarks.
// Steady state allocates nothing from the C++ heap: pages come from free lists; backing memory
//   is mapped in chunks of kChunkPages blocks (fewer for high orders; huge pages where the
//   machine allows) and kept until the HostMemory dies.
//   New memory is zero-filled, so runs are deterministic whatever the C++ heap held before.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "nicemu/netmem/netmem.hpp"

namespace nicemu::netmem {
class DmaSpace;
}

namespace nicemu::netmem {

struct HostMemoryConfig {
  std::uint64_t capacity_bytes = std::uint64_t{4} << 30;  // 4 GiB
  int nid = 0;                                            // the node this memory belongs to
};

struct HostMemoryStats {
  std::uint64_t alloc_calls = 0;     // alloc_pages(), alloc_pages_noretry() and alloc_pages_bulk() calls
  std::uint64_t alloc_failures = 0;  // calls that got less than asked: over capacity, order too large
  // alloc_pages_noretry() calls that found no block (the caller falls back; not in alloc_failures)
  std::uint64_t noretry_failures = 0;
  std::uint64_t frees = 0;
  std::uint64_t pages_in_use = 0;    // in order-0 units
  std::uint64_t peak_pages_in_use = 0;
};

class HostMemory {
 public:
  static constexpr std::uint32_t kMaxOrder = 10;   // kernel: MAX_PAGE_ORDER on x86-64
  // Backing memory is taken 512 blocks (2 MiB of order-0 pages) at a time, 2 MiB aligned, and the
  // host kernel is asked to back it with transparent huge pages: the copies that move payload
  // through socket and pool pages then take far fewer TLB misses and page faults.
  static constexpr std::size_t kChunkPages = 512;

  explicit HostMemory(HostMemoryConfig config = {});
  ~HostMemory();
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;

  // One block of kPageSize << order bytes with refcount 1, or nullptr when the capacity would be
  // exceeded or order > kMaxOrder (counted in alloc_failures).
  Page* alloc_pages(std::uint32_t order);
  // kernel: alloc_pages(gfp | __GFP_NORETRY | __GFP_NOWARN, order), a high-order attempt whose
  // caller has a fallback (skb_page_frag_refill): a failure is counted in noretry_failures only.
  Page* alloc_pages_noretry(std::uint32_t order);
  // Up to out.size() order-0 pages; returns how many were allocated (kernel: alloc_pages_bulk_node).
  std::size_t alloc_pages_bulk(std::span<Page*> out);

  int nid() const { return config_.nid; }
  std::uint64_t capacity_pages() const { return config_.capacity_bytes / kPageSize; }
  const HostMemoryStats& stats() const { return stats_; }
  // Pages still referenced: a leak check at the end of a run expects 0.
  std::uint64_t pages_in_use() const { return stats_.pages_in_use; }
  // Backing chunks mapped so far (each holds kChunkPages pages' worth of blocks of one order).
  std::size_t chunks() const { return chunks_.size(); }

  // dma-direct: `dma` sees all of this memory at fixed addresses, now and as it grows, so a
  // driver maps a page for the device by reading Page::dma_direct() — nothing is allocated per
  // map (the kernel's dma_map_page() without an IOMMU returns the physical address). Each chunk
  // is one mapping of `dma`. detach_dma_direct() unmaps them; call it before `dma` goes away.
  void attach_dma_direct(DmaSpace& dma);
  void detach_dma_direct();
  // Set-up: faults in every chunk grown so far (the pools' ring buffers, which the NIC writes
  // first in the run) and grows the pool of `order` blocks to at least `bytes`, faulted in too,
  // so the run loop pays no first touch for that memory (a page fault per page, slow in a
  // virtual machine). Blocks still come out in the order growth on demand would have given them.
  void prefault(std::uint64_t bytes, std::uint32_t order = 0);
  // Test hook: mark a page as coming from the pfmemalloc reserves (the pool must not recycle it).
  static void set_pfmemalloc_for_test(Page& page, bool v) { page.pfmemalloc_ = v; }

 private:
  friend void put_page(Page& page);
  void free_page(Page& page);
  bool grow(std::uint32_t order, bool behind_free = false);
  void map_direct(std::size_t chunk, std::uint32_t order_of_pages);
  Page* take(std::uint32_t order);  // no stats
  // One allocation call: counted in alloc_calls, a miss in `misses`.
  Page* take_counted(std::uint32_t order, std::uint64_t& misses);
  // Blocks one grow() maps: 512 for small orders, fewer for large ones (one order-10 block is 4 MiB).
  static std::size_t blocks_per_chunk(std::uint32_t order) { return std::max<std::size_t>(1, kChunkPages >> order); }

  struct Chunk {
    std::unique_ptr<Page[]> pages;
    std::byte* memory = nullptr;  // an anonymous mapping (page-aligned, zeroed), unmapped in ~HostMemory
    std::size_t bytes = 0;
    std::size_t blocks = 0;
    DmaAddr dma = 0;  // the chunk's dma-direct mapping, 0 when none
  };

  HostMemoryConfig config_;
  HostMemoryStats stats_;
  std::array<std::vector<Page*>, kMaxOrder + 1> free_;
  std::array<std::size_t, kMaxOrder + 1> total_blocks_{};
  std::size_t populated_chunks_ = 0;  // chunks_[0, this) were faulted in by prefault()
  std::vector<Chunk> chunks_;
  std::uint64_t next_pfn_ = 0;
  DmaSpace* dma_direct_ = nullptr;
};

}  // namespace nicemu::netmem
