// nicemu/page_pool/types.hpp — page pool parameters, flags, stats and the interfaces a pool
// needs from the rest of a host (its netdev, its NAPI owner).
//
// Models: include/net/page_pool/types.h (Linux 6.18): struct page_pool_params (fast and slow
//   groups), PP_FLAG_*, struct page_pool_alloc_stats / page_pool_recycle_stats,
//   struct pp_memory_provider_params.
// Not modelled: PP_FLAG_SYSTEM_POOL's per-cpu sharing (accepted and recorded only), the
//   init_callback test hook, percpu stats (one CPU context touches a pool at a time here).
// References: ../shared/reference/linux-kernel-semantics.md §2.1, §2.6, §3.1.
#pragma once

#include <cstdint>
#include <string_view>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::page_pool {

// kernel: PP_FLAG_*
inline constexpr std::uint32_t kPpFlagDmaMap = 1u << 0;                  // PP_FLAG_DMA_MAP
inline constexpr std::uint32_t kPpFlagDmaSyncDev = 1u << 1;              // PP_FLAG_DMA_SYNC_DEV
inline constexpr std::uint32_t kPpFlagSystemPool = 1u << 2;              // PP_FLAG_SYSTEM_POOL
inline constexpr std::uint32_t kPpFlagAllowUnreadableNetmem = 1u << 3;   // PP_FLAG_ALLOW_UNREADABLE_NETMEM
inline constexpr std::uint32_t kPpFlagAll =
    kPpFlagDmaMap | kPpFlagDmaSyncDev | kPpFlagSystemPool | kPpFlagAllowUnreadableNetmem;

inline constexpr std::uint32_t kPpAllocCacheSize = 128;     // PP_ALLOC_CACHE_SIZE
inline constexpr std::uint32_t kPpAllocCacheRefill = 64;    // PP_ALLOC_CACHE_REFILL (NAPI budget)
inline constexpr std::uint32_t kPtrRingDefaultSize = 1024;  // pool_size 0
inline constexpr std::uint32_t kPtrRingMaxSize = 16384;     // min(pool_size, 16384)
inline constexpr int kNumaNoNode = -1;                      // NUMA_NO_NODE
// kernel: BIAS_MAX (LONG_MAX >> 1), the references a fragmented page is charged with.
inline constexpr std::int64_t kBiasMax = INT64_MAX >> 1;
// kernel: dma_get_cache_alignment() on x86-64 (no ARCH_DMA_MINALIGN): fragments are not padded.
inline constexpr std::uint32_t kDmaCacheAlignment = 1;
// kernel: DEFER_TIME (msecs_to_jiffies(1000)) and DEFER_WARN_INTERVAL (60 * HZ).
inline constexpr sim::Duration kDeferTime = sim::Duration::from_s(1);
inline constexpr sim::Duration kDeferWarnInterval = sim::Duration::from_s(60);

class PagePool;
class MemoryProvider;

// kernel: struct pp_memory_provider_params {mp_priv, mp_ops}: in C++ one object is both the
// ops table and the private data, so the provider's address is its identity (mp_priv).
struct MemoryProviderParams {
  MemoryProvider* mp = nullptr;
  friend bool operator==(const MemoryProviderParams&, const MemoryProviderParams&) = default;
};

// What a pool reads from its net_device: the ifindex it is listed under, and the memory
// provider configured on an RX queue (kernel: __netif_get_rx_queue(dev, idx)->mp_params).
// netstack/core's NetDevice implements it; page-pool does not depend on netstack.
class PpNetdev {
 public:
  virtual int ifindex() const = 0;
  virtual MemoryProviderParams rx_queue_mp_params(std::uint32_t queue_idx) const = 0;

 protected:
  ~PpNetdev() = default;
};

// The NAPI fields a pool reads (kernel: napi_struct.list_owner and .napi_id).
// list_owner is the CPU the NAPI instance is scheduled on, or -1.
struct NapiOwner {
  int list_owner = -1;
  std::uint32_t napi_id = 0;
};

// Who is calling the pool (kernel: smp_processor_id(), in_softirq()).
struct CallerContext {
  int cpu = -1;
  bool in_softirq = false;
};

// kernel: struct page_pool_params (fast + slow groups).
struct PagePoolParams {
  std::uint32_t order = 0;
  std::uint32_t pool_size = 0;  // ptr_ring size; 0 = default 1024, capped at 16384
  int nid = kNumaNoNode;
  netmem::DmaSpace* dev = nullptr;  // the device the pool maps for (kernel: struct device *)
  NapiOwner* napi = nullptr;
  netmem::DmaDirection dma_dir = netmem::DmaDirection::kBidirectional;
  std::uint32_t max_len = 0;
  std::uint32_t offset = 0;
  PpNetdev* netdev = nullptr;
  std::uint32_t queue_idx = 0;
  std::uint32_t flags = 0;
};

// kernel: struct page_pool_alloc_stats
struct PagePoolAllocStats {
  std::uint64_t fast = 0;
  std::uint64_t slow = 0;
  std::uint64_t slow_high_order = 0;
  std::uint64_t empty = 0;
  std::uint64_t refill = 0;
  std::uint64_t waive = 0;
};

// kernel: struct page_pool_recycle_stats
struct PagePoolRecycleStats {
  std::uint64_t cached = 0;
  std::uint64_t cache_full = 0;
  std::uint64_t ring = 0;
  std::uint64_t ring_full = 0;
  std::uint64_t released_refcnt = 0;
};

// Counters the kernel does not keep but a CI run needs to explain a failure.
struct PagePoolExtraStats {
  std::uint64_t alloc_failed = 0;          // alloc_netmems() returned none
  std::uint64_t alloc_fault_injected = 0;  // of those, failures made by the fault hook
  std::uint64_t dma_map_failed = 0;        // pages dropped in the slow path: DMA map failed
  std::uint64_t dma_sync_for_device = 0;   // syncs issued (bounded by max_len)
  std::uint64_t dma_sync_for_device_bytes = 0;
  std::uint64_t direct_put_after_destroy = 0;  // a caller asked for direct recycling too late
};

struct PagePoolStats {
  PagePoolAllocStats alloc;
  PagePoolRecycleStats recycle;
  PagePoolExtraStats extra;
};

// Control-plane output a provider fills (kernel: mp_ops->nl_fill writes netlink attributes:
// NETDEV_A_QUEUE_DMABUF / NETDEV_A_PAGE_POOL_DMABUF, or an empty io-uring nest).
class NlAttrWriter {
 public:
  virtual void put_u32(std::string_view attr, std::uint32_t value) = 0;
  virtual void put_empty_nest(std::string_view attr) = 0;

 protected:
  ~NlAttrWriter() = default;
};

// A fault to make page_pool_alloc_netmems fail (kernel: fail_function on
// page_pool_alloc_netmems, as pp_alloc_fail.py uses it). Counting starts at `from`.
struct AllocFault {
  std::uint64_t every_nth = 0;          // N > 0: every N-th call fails; 0: every call fails
  sim::TimePoint from = sim::TimePoint::zero();
  std::uint64_t max_failures = 0;       // stop after this many failures; 0 = no limit
};

}  // namespace nicemu::page_pool
