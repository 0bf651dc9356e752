// nicemu/page_pool/memory_provider.hpp — the memory provider interface and the helpers a
// provider may call on a pool.
//
// Models: include/net/page_pool/memory_provider.h (Linux 6.18): struct memory_provider_ops and
//   net_mp_niov_set_dma_addr(), net_mp_niov_set_page_pool(), net_mp_niov_clear_page_pool(),
//   net_mp_netmem_place_in_cache().
// Not modelled: the page_pool_mem_providers static branch (a null check costs the same here).
// The page pool owns this interface; providers implement it and never include each other.
// References: ../shared/reference/linux-kernel-semantics.md §3.1, §3.4, §5.4.
#pragma once

#include <cstdint>

#include "nicemu/netmem/netmem.hpp"
#include "nicemu/page_pool/types.hpp"

namespace nicemu::page_pool {

class MemoryProvider {
 public:
  virtual ~MemoryProvider() = default;

  // Hands one or more netmems to the pool: returns one and may place more in the pool's alloc
  // cache with net_mp_netmem_place_in_cache(). Returns none when the provider is empty.
  virtual netmem::NetmemRef alloc_netmems(PagePool& pool) = 0;
  // Takes a netmem back from the pool. Returns true if the pool should put_page() it (kernel:
  // both real providers keep their net_iovs and return false).
  virtual bool release_netmem(PagePool& pool, netmem::NetmemRef netmem) = 0;
  // Called from page pool creation after the pool's own checks; 0 or a negative errno. May
  // turn DMA sync off (set_dma_sync) and reject the pool's order.
  virtual int init(PagePool& pool) = 0;
  // Called when the pool is finally freed.
  virtual void destroy(PagePool& pool) = 0;
  // Control-plane output; `for_rx_queue` false means the page-pool object (kernel: rxq == NULL).
  virtual int nl_fill(NlAttrWriter& out, bool for_rx_queue) const = 0;
  // The netdev is going away: forget RX queue `rxq_idx` (kernel: mp_ops->uninstall).
  virtual void uninstall(PpNetdev& dev, std::uint32_t rxq_idx) = 0;
  // For logs and traces: "host", "dmabuf", "io_uring".
  virtual const char* name() const = 0;
};

// kernel: net_mp_niov_set_dma_addr()
void net_mp_niov_set_dma_addr(netmem::NetIov& niov, netmem::DmaAddr addr);
// kernel: net_mp_niov_set_page_pool(): the netmem enters `pool` (pp info, pp_ref_count 1,
// pages_state_hold_cnt++).
void net_mp_niov_set_page_pool(PagePool& pool, netmem::NetmemRef netmem);
// kernel: net_mp_niov_clear_page_pool()
void net_mp_niov_clear_page_pool(netmem::NetmemRef netmem);
// kernel: net_mp_netmem_place_in_cache(): only from alloc_netmems, with room in the cache.
void net_mp_netmem_place_in_cache(PagePool& pool, netmem::NetmemRef netmem);

}  // namespace nicemu::page_pool
