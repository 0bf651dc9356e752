// nicemu/page_pool/page_pool.hpp — the page pool and the per-host pool registry.
//
// Models: net/core/page_pool.c (Linux 6.18):
//   - creation with page_pool_init()'s checks in the kernel's order and its errno values;
//     pool ids from 1, assigned cyclically (page_pool_list());
//   - allocation: alloc cache (128, refilled 64 at a time from the ptr_ring) -> ptr_ring
//     (default 1024, max 16384) -> the memory provider's alloc_netmems, or a bulk allocation of
//     64 order-0 host pages (one page for order > 0) with DMA mapping when PP_FLAG_DMA_MAP;
//   - return: pp_ref_count unref; direct recycling into the alloc cache only when the caller
//     says so or runs in softirq on the pool's CPU / its NAPI owner's CPU (page_pool_napi_local);
//     else the ptr_ring; ring full -> release; unrecyclable (a page with extra references or
//     pfmemalloc) -> release; DMA sync for device on recycle bounded by max_len;
//   - the fragment allocator (page_pool_alloc_frag_netmem, page_pool_alloc_netmem);
//   - destroy: disable direct recycling, scrub (alloc cache, DMA unmap of every page still
//     mapped, ptr_ring), free when nothing is inflight, else detach (detach time) and retry
//     every simulated second (kDeferTime); late returns work until the pool is freed;
//   - stats as the kernel's, hold/release counters and inflight.
// Not modelled: per-cpu stats, the xdp mem model's user references beyond get()/destroy(),
//   netlink notifications (the registry exposes the same state to netstack/core),
//   page_pool_put_netmem_bulk's locking (bulk put is a loop here).
// Time: the registry reads a sim::Clock (detach time, fault hook) and never schedules; the host
//   model asks next_release_retry() and calls run_release_retries(now) (DESIGN.md §2).
// References: ../shared/reference/linux-kernel-semantics.md §2, §8.2–8.3.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nicemu/base/result.hpp"
#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/page_pool/helpers.hpp"
#include "nicemu/page_pool/memory_provider.hpp"
#include "nicemu/page_pool/types.hpp"

namespace nicemu::page_pool {

class PagePoolRegistry;

class PagePool {
 public:
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;
  ~PagePool();

  // ---- allocation (NAPI / softirq context) --------------------------------------------------
  // kernel: page_pool_alloc_netmems(). none on failure.
  netmem::NetmemRef alloc_netmems() {
    if (NICEMU_UNLIKELY(fault_armed_) && fault_fires()) return alloc_failed_by_fault();
    if (NICEMU_LIKELY(alloc_count_ > 0)) {
      ++stats_.alloc.fast;
      return alloc_cache_[--alloc_count_];
    }
    return alloc_netmems_slow();
  }
  // kernel: page_pool_alloc_frag_netmem(): `size` bytes at *offset of the returned netmem.
  netmem::NetmemRef alloc_frag_netmem(std::uint32_t* offset, std::uint32_t size);
  // kernel: page_pool_alloc_netmem(): a whole buffer if size*2 > buffer size, else a fragment;
  // *size may grow to the rest of the buffer (truesize).
  netmem::NetmemRef alloc_netmem(std::uint32_t* offset, std::uint32_t* size);

  // ---- return -------------------------------------------------------------------------------
  // kernel: page_pool_put_netmem(): drop one pp reference; the last one recycles or releases.
  // dma_sync_size -1 syncs max_len.
  void put_netmem(netmem::NetmemRef n, std::int32_t dma_sync_size, bool allow_direct, CallerContext ctx = {}) {
    if (!page_pool_unref_and_test(n)) return;
    put_unrefed_netmem(n, dma_sync_size, allow_direct, ctx);
  }
  void put_full_netmem(netmem::NetmemRef n, bool allow_direct, CallerContext ctx = {}) {
    put_netmem(n, -1, allow_direct, ctx);
  }
  // kernel: page_pool_recycle_direct_netmem(): the caller is the pool's NAPI context.
  void recycle_direct(netmem::NetmemRef n) { put_netmem(n, -1, true); }
  // kernel: page_pool_put_unrefed_netmem(): the caller already dropped the last reference.
  void put_unrefed_netmem(netmem::NetmemRef n, std::int32_t dma_sync_size, bool allow_direct, CallerContext ctx) {
    if (!allow_direct) allow_direct = napi_local(ctx);
    if (NICEMU_LIKELY(can_be_recycled(n))) {
      if (dma_sync_) dma_sync_for_device(n, dma_sync_size);
      if (allow_direct) {
        if (NICEMU_LIKELY(alloc_count_ < cache_limit_)) {
          alloc_cache_[alloc_count_++] = n;
          ++stats_.recycle.cached;
          return;
        }
        count_direct_refused();
      }
      recycle_in_ring_or_release(n);
      return;
    }
    ++stats_.recycle.released_refcnt;
    return_netmem(n);
  }

  // kernel: page_pool_update_nid(): new preferred node; flushes the alloc cache.
  void update_nid(int nid);
  // kernel: page_pool_disable_direct_recycling().
  void disable_direct_recycling();
  // kernel: page_pool_get(): one more user; destroy() must then be called once more.
  void get() { ++user_cnt_; }
  // kernel: page_pool_destroy(). The pool object may be gone when this returns.
  void destroy();

  // ---- fault injection ----------------------------------------------------------------------
  void set_alloc_fault(const AllocFault& fault);
  void clear_alloc_fault() { fault_armed_ = false; }

  // ---- what providers set in init() ---------------------------------------------------------
  void set_dma_sync(bool v) { dma_sync_ = v; }
  void set_dma_sync_for_cpu(bool v) { dma_sync_for_cpu_ = v; }

  // ---- introspection (never changes state) --------------------------------------------------
  std::uint32_t id() const { return id_; }
  const PagePoolParams& params() const { return p_; }
  const PagePoolStats& stats() const { return stats_; }
  MemoryProvider* mp() const { return mp_; }
  bool dma_map() const { return dma_map_; }
  bool dma_sync() const { return dma_sync_; }
  bool dma_sync_for_cpu() const { return dma_sync_for_cpu_; }
  int cpuid() const { return cpuid_; }
  std::uint32_t hold_cnt() const { return pages_state_hold_cnt_; }
  std::uint32_t release_cnt() const { return pages_state_release_cnt_; }
  // kernel: page_pool_inflight(): (s32)(hold - release).
  std::int32_t inflight() const {
    return static_cast<std::int32_t>(pages_state_hold_cnt_ - pages_state_release_cnt_);
  }
  // kernel: inflight-mem = inflight * (PAGE_SIZE << order).
  std::uint64_t inflight_mem() const;
  bool detached() const { return detach_time_.has_value(); }
  std::optional<sim::TimePoint> detach_time() const { return detach_time_; }
  // The ifindex the pool is listed under; empty when created without a netdev or orphaned.
  std::optional<int> ifindex() const;
  std::uint32_t alloc_cache_count() const { return alloc_count_; }
  std::size_t ring_count() const { return ring_count_; }
  std::size_t ring_size() const { return ring_.size(); }
  std::size_t buffer_size() const { return netmem::kPageSize << p_.order; }

 private:
  friend class PagePoolRegistry;
  friend void net_mp_niov_set_page_pool(PagePool& pool, netmem::NetmemRef netmem);
  friend void net_mp_netmem_place_in_cache(PagePool& pool, netmem::NetmemRef netmem);

  PagePool(PagePoolRegistry& registry, const PagePoolParams& params, int cpuid);
  int init();  // page_pool_init(): 0 or a negative errno, message in init_error_

  bool napi_local(const CallerContext& ctx) const {
    if (!ctx.in_softirq) return false;
    if (cpuid_ >= 0 && cpuid_ == ctx.cpu) return true;
    return p_.napi != nullptr && p_.napi->list_owner >= 0 && p_.napi->list_owner == ctx.cpu;
  }
  static bool can_be_recycled(netmem::NetmemRef n) {
    if (n.is_net_iov()) return true;
    const netmem::Page& page = n.page();
    return page.ref_count() == 1 && !page.pfmemalloc();
  }

  netmem::NetmemRef alloc_netmems_slow();
  netmem::NetmemRef refill_alloc_cache();
  netmem::NetmemRef alloc_pages_slow();
  bool dma_map_page(netmem::Page& page);
  void set_pp_info(netmem::NetmemRef n);
  static void clear_pp_info(netmem::NetmemRef n);
  void dma_sync_for_device(netmem::NetmemRef n, std::int32_t dma_sync_size);
  void recycle_in_ring_or_release(netmem::NetmemRef n);
  void return_netmem(netmem::NetmemRef n);
  void release_page_dma(netmem::Page& page);
  netmem::NetmemRef drain_frag(netmem::NetmemRef n);
  void free_frag();
  bool fault_fires();
  netmem::NetmemRef alloc_failed_by_fault();
  void count_direct_refused();
  // page_pool_release(): scrub and report inflight.
  std::int32_t release();
  void scrub();

  bool ring_produce(netmem::NetmemRef n) {
    if (ring_count_ == ring_.size()) return false;
    ring_[ring_tail_] = n;
    if (++ring_tail_ == ring_.size()) ring_tail_ = 0;
    ++ring_count_;
    return true;
  }
  netmem::NetmemRef ring_consume() {
    if (ring_count_ == 0) return netmem::NetmemRef::none();
    netmem::NetmemRef n = ring_[ring_head_];
    if (++ring_head_ == ring_.size()) ring_head_ = 0;
    --ring_count_;
    return n;
  }

  // Hot fields first (kernel: the alloc cache is cacheline-aligned next to the fast params).
  std::uint32_t alloc_count_ = 0;
  // kPpAllocCacheSize; 0 once destroyed, so a late direct put cannot strand a buffer in a
  // cache that is never scrubbed again (the kernel would leak it: a driver bug we count).
  std::uint32_t cache_limit_ = kPpAllocCacheSize;
  bool fault_armed_ = false;
  bool dma_sync_ = false;
  bool dma_map_ = false;
  bool dma_sync_for_cpu_ = true;
  PagePoolStats stats_;
  alignas(64) netmem::NetmemRef alloc_cache_[kPpAllocCacheSize];

  std::vector<netmem::NetmemRef> ring_;
  std::size_t ring_head_ = 0;
  std::size_t ring_tail_ = 0;
  std::size_t ring_count_ = 0;

  PagePoolParams p_;
  PagePoolRegistry& registry_;
  MemoryProvider* mp_ = nullptr;
  int cpuid_ = -1;
  std::uint32_t id_ = 0;
  std::uint32_t pages_state_hold_cnt_ = 0;
  std::uint32_t pages_state_release_cnt_ = 0;
  std::uint32_t user_cnt_ = 1;
  bool mp_initialised_ = false;
  bool orphaned_ = false;
  bool alloc_cache_scrubbed_ = false;
  bool dma_scrubbed_ = false;

  // Fragment allocator state (kernel: frag_page, frag_offset, frag_users).
  netmem::NetmemRef frag_page_;
  std::uint32_t frag_offset_ = 0;
  std::int64_t frag_users_ = 0;

  // Pages this pool has DMA-mapped (kernel: pool->dma_mapped xarray); Page::pp_dma_index - 1.
  std::vector<netmem::Page*> dma_mapped_;
  std::vector<std::uint32_t> dma_mapped_free_;

  AllocFault fault_;
  std::uint64_t fault_calls_ = 0;
  std::uint64_t fault_failures_ = 0;

  std::optional<sim::TimePoint> detach_time_;
  sim::TimePoint next_retry_;
  sim::TimePoint defer_warn_;
  std::string init_error_;
};

struct PagePoolRegistryStats {
  std::uint64_t created = 0;
  std::uint64_t create_failed = 0;
  std::uint64_t destroyed_immediately = 0;  // freed at destroy(): nothing was inflight
  std::uint64_t detached = 0;               // destroy() left buffers inflight
  std::uint64_t released_after_detach = 0;  // freed later by a release retry
  std::uint64_t release_retries = 0;
  std::uint64_t stalled_warnings = 0;       // "stalled pool shutdown" (netdev-less pools, 60 s)
};

// All page pools of one host (kernel: the page_pools xarray and each netdev's page_pools list).
class PagePoolRegistry {
 public:
  // `memory`: where pools without a provider take pages. `clock`: read for detach times,
  // release retries and fault timing.
  PagePoolRegistry(netmem::HostMemory& memory, const sim::Clock& clock);
  ~PagePoolRegistry();
  PagePoolRegistry(const PagePoolRegistry&) = delete;
  PagePoolRegistry& operator=(const PagePoolRegistry&) = delete;

  // kernel: page_pool_create() / page_pool_create_percpu(params, cpuid). The error carries the
  // kernel's errno (negative) and a message naming what to fix.
  base::Result<PagePool*, base::Error> create(const PagePoolParams& params, int cpuid = -1);

  // Listed pools (attached and detached) by id; nullptr if none.
  PagePool* find(std::uint32_t id) const;
  // Pools listed under a netdev, newest first (kernel: netdev->page_pools order).
  std::vector<PagePool*> pools_of(int ifindex) const;
  // Every listed pool in id order.
  std::vector<PagePool*> all() const;
  std::size_t size() const { return pools_.size(); }
  std::size_t detached_count() const;

  // kernel: page_pool_check_memory_provider(): a pool of `netdev` uses `mp` for `queue_idx`.
  bool has_pool_with_provider(const PpNetdev* netdev, const MemoryProvider* mp, std::uint32_t queue_idx) const;
  // kernel: page_pool_unreg_netdev(): pools of a netdev that goes away lose their ifindex.
  void netdev_unregistered(const PpNetdev* netdev);

  // Deferred release: the earliest time a detached pool wants its release retried.
  std::optional<sim::TimePoint> next_release_retry() const;
  // Retries every detached pool whose retry time has come (kernel: page_pool_release_retry).
  // Returns the number of pools freed.
  std::size_t run_release_retries(sim::TimePoint now);

  const PagePoolRegistryStats& stats() const { return stats_; }
  const std::string& last_warning() const { return last_warning_; }
  netmem::HostMemory& memory() const { return memory_; }
  const sim::Clock& clock() const { return clock_; }

 private:
  friend class PagePool;
  std::uint32_t alloc_id();
  void on_destroy(PagePool& pool);
  void free_pool(PagePool& pool);

  netmem::HostMemory& memory_;
  const sim::Clock& clock_;
  std::map<std::uint32_t, std::unique_ptr<PagePool>> pools_;
  std::uint32_t next_id_ = 1;
  PagePoolRegistryStats stats_;
  std::string last_warning_;
};

}  // namespace nicemu::page_pool
