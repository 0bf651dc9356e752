// Page pool: creation, slow paths, release, destroy and deferred release.
// The fast paths are inline in page_pool.hpp. See that header for what is modelled.
#include "nicemu/page_pool/page_pool.hpp"

#include <algorithm>
#include <cstdio>

#include "nicemu/base/errno.hpp"

namespace nicemu::page_pool {

using netmem::NetmemRef;
using netmem::Page;

// ---- creation ---------------------------------------------------------------------------------

PagePool::PagePool(PagePoolRegistry& registry, const PagePoolParams& params, int cpuid)
    : p_(params), registry_(registry), cpuid_(cpuid) {}

PagePool::~PagePool() = default;

int PagePool::init() {
  // 1. unknown flag bits
  if ((p_.flags & ~kPpFlagAll) != 0) {
    init_error_ = "unknown page pool flags";
    return -EINVAL;
  }
  // 2. ptr_ring size
  const std::uint32_t ring_qsize = p_.pool_size != 0 ? std::min(p_.pool_size, kPtrRingMaxSize) : kPtrRingDefaultSize;
  // 3. DMA mapping needs a direction the device writes in.
  if ((p_.flags & kPpFlagDmaMap) != 0) {
    if (p_.dma_dir != netmem::DmaDirection::kFromDevice && p_.dma_dir != netmem::DmaDirection::kBidirectional) {
      init_error_ = "PP_FLAG_DMA_MAP needs dma_dir DMA_FROM_DEVICE or DMA_BIDIRECTIONAL";
      return -EINVAL;
    }
    if (p_.dev == nullptr) {  // the kernel would dereference a NULL device here
      init_error_ = "PP_FLAG_DMA_MAP needs a device (params.dev)";
      return -EINVAL;
    }
    dma_map_ = true;
  }
  // 4. sync for device needs mapping and a length.
  if ((p_.flags & kPpFlagDmaSyncDev) != 0) {
    if ((p_.flags & kPpFlagDmaMap) == 0) {
      init_error_ = "PP_FLAG_DMA_SYNC_DEV needs PP_FLAG_DMA_MAP";
      return -EINVAL;
    }
    if (p_.max_len == 0) {
      init_error_ = "PP_FLAG_DMA_SYNC_DEV needs a non-zero max_len";
      return -EINVAL;
    }
    dma_sync_ = true;
  }
  dma_sync_for_cpu_ = true;
  if (p_.order > netmem::HostMemory::kMaxOrder) {  // the kernel's page allocator would fail later
    init_error_ = "order above MAX_PAGE_ORDER (10)";
    return -EINVAL;
  }
  // 5. stats: nothing to allocate.
  // 6. A driver that can take unreadable netmem inherits the RX queue's memory provider.
  if ((p_.flags & kPpFlagAllowUnreadableNetmem) != 0) {
    if (p_.netdev == nullptr) {  // the kernel would dereference a NULL netdev here
      init_error_ = "PP_FLAG_ALLOW_UNREADABLE_NETMEM needs params.netdev and queue_idx";
      return -EINVAL;
    }
    mp_ = p_.netdev->rx_queue_mp_params(p_.queue_idx).mp;
  }
  // 7. A provider needs a pool that maps and syncs (the driver declared DMA_MAP|DMA_SYNC_DEV).
  if (mp_ != nullptr) {
    if (!dma_map_ || !dma_sync_) {
      init_error_ = "a memory provider needs PP_FLAG_DMA_MAP and PP_FLAG_DMA_SYNC_DEV";
      mp_ = nullptr;
      return -EOPNOTSUPP;
    }
  }
  ring_.assign(ring_qsize, NetmemRef::none());
  if (mp_ != nullptr) {
    const int err = mp_->init(*this);
    if (err != 0) {
      init_error_ = std::string("memory provider ") + mp_->name() + " refused the pool";
      mp_ = nullptr;
      return err;
    }
    mp_initialised_ = true;
  }
  return 0;
}

PagePoolRegistry::PagePoolRegistry(netmem::HostMemory& memory, const sim::Clock& clock)
    : memory_(memory), clock_(clock) {}

PagePoolRegistry::~PagePoolRegistry() = default;

std::uint32_t PagePoolRegistry::alloc_id() {
  // kernel: xa_alloc_cyclic(..., xa_limit_32b) on an ALLOC1 xarray: ids from 1, cyclic.
  for (;;) {
    const std::uint32_t id = next_id_ == 0 ? 1 : next_id_;
    next_id_ = id + 1;
    if (pools_.find(id) == pools_.end()) return id;
  }
}

base::Result<PagePool*, base::Error> PagePoolRegistry::create(const PagePoolParams& params, int cpuid) {
  std::unique_ptr<PagePool> pool(new PagePool(*this, params, cpuid));
  const int err = pool->init();
  if (err != 0) {
    ++stats_.create_failed;
    return base::Unexpected(base::Error{err, "page_pool_create: " + pool->init_error_ + " (" + base::errno_name(err) + ")"});
  }
  pool->id_ = alloc_id();
  PagePool* raw = pool.get();
  pools_.emplace(raw->id_, std::move(pool));
  ++stats_.created;
  return raw;
}

PagePool* PagePoolRegistry::find(std::uint32_t id) const {
  auto it = pools_.find(id);
  return it == pools_.end() ? nullptr : it->second.get();
}

std::vector<PagePool*> PagePoolRegistry::pools_of(int ifindex) const {
  std::vector<PagePool*> out;
  for (auto it = pools_.rbegin(); it != pools_.rend(); ++it) {
    if (it->second->ifindex() == ifindex) out.push_back(it->second.get());
  }
  return out;
}

std::vector<PagePool*> PagePoolRegistry::all() const {
  std::vector<PagePool*> out;
  out.reserve(pools_.size());
  for (const auto& [id, pool] : pools_) out.push_back(pool.get());
  return out;
}

std::size_t PagePoolRegistry::detached_count() const {
  return static_cast<std::size_t>(
      std::count_if(pools_.begin(), pools_.end(), [](const auto& kv) { return kv.second->detached(); }));
}

bool PagePoolRegistry::has_pool_with_provider(const PpNetdev* netdev, const MemoryProvider* mp,
                                              std::uint32_t queue_idx) const {
  for (const auto& [id, pool] : pools_) {
    if (!pool->orphaned_ && pool->p_.netdev == netdev && pool->mp_ == mp && pool->p_.queue_idx == queue_idx) return true;
  }
  return false;
}

void PagePoolRegistry::netdev_unregistered(const PpNetdev* netdev) {
  for (auto& [id, pool] : pools_) {
    if (pool->p_.netdev == netdev) pool->orphaned_ = true;
  }
}

std::optional<int> PagePool::ifindex() const {
  if (p_.netdev == nullptr || orphaned_) return std::nullopt;
  return p_.netdev->ifindex();
}

std::uint64_t PagePool::inflight_mem() const {
  const std::int32_t n = inflight();
  return n > 0 ? static_cast<std::uint64_t>(n) * buffer_size() : 0;
}

// ---- allocation slow paths -------------------------------------------------------------------

void PagePool::set_pp_info(NetmemRef n) {
  netmem::NetmemDesc& d = n.desc();
  d.pp = this;
  d.pp_magic |= netmem::kPpSignature;
  page_pool_fragment_netmem(n, 1);
}

void PagePool::clear_pp_info(NetmemRef n) {
  netmem::NetmemDesc& d = n.desc();
  d.pp_magic = 0;
  d.pp = nullptr;
}

NetmemRef PagePool::refill_alloc_cache() {
  if (ring_count_ == 0) {
    ++stats_.alloc.empty;
    return NetmemRef::none();
  }
  const int pref_nid = p_.nid == kNumaNoNode ? registry_.memory().nid() : p_.nid;
  NetmemRef n;
  do {
    n = ring_consume();
    if (!n) break;
    if (NICEMU_LIKELY(netmem::netmem_is_pref_nid(n, pref_nid))) {
      alloc_cache_[alloc_count_++] = n;
    } else {
      // NUMA mismatch: release one buffer and fall through to a fresh allocation.
      return_netmem(n);
      ++stats_.alloc.waive;
      n = NetmemRef::none();
      break;
    }
  } while (alloc_count_ < kPpAllocCacheRefill);
  if (alloc_count_ > 0) {
    n = alloc_cache_[--alloc_count_];
    ++stats_.alloc.refill;
  }
  return n;
}

bool PagePool::dma_map_page(Page& page) {
  const netmem::DmaMapping m = p_.dev->map_page(page, p_.dma_dir);
  if (!m.ok()) return false;
  page.dma_addr = m.addr;
  std::uint32_t slot;
  if (!dma_mapped_free_.empty()) {
    slot = dma_mapped_free_.back();
    dma_mapped_free_.pop_back();
    dma_mapped_[slot] = &page;
  } else {
    slot = static_cast<std::uint32_t>(dma_mapped_.size());
    dma_mapped_.push_back(&page);
  }
  page.pp_dma_index = slot + 1;
  if (dma_sync_) dma_sync_for_device(NetmemRef::from_page(page), static_cast<std::int32_t>(p_.max_len));
  return true;
}

NetmemRef PagePool::alloc_pages_slow() {
  netmem::HostMemory& mem = registry_.memory();
  if (p_.order > 0) {
    Page* page = mem.alloc_pages(p_.order);
    if (page == nullptr) return NetmemRef::none();
    if (dma_map_ && !dma_map_page(*page)) {
      ++stats_.extra.dma_map_failed;
      netmem::put_page(*page);
      return NetmemRef::none();
    }
    const NetmemRef n = NetmemRef::from_page(*page);
    set_pp_info(n);
    ++pages_state_hold_cnt_;
    ++stats_.alloc.slow_high_order;
    return n;
  }
  // Bulk order-0 allocation straight into the (empty) alloc cache.
  if (alloc_count_ > 0) return alloc_cache_[--alloc_count_];
  Page* pages[kPpAllocCacheRefill];
  const std::size_t got = mem.alloc_pages_bulk(pages);
  for (std::size_t i = 0; i < got; ++i) {
    Page& page = *pages[i];
    if (dma_map_ && !dma_map_page(page)) {
      ++stats_.extra.dma_map_failed;
      netmem::put_page(page);
      continue;
    }
    const NetmemRef n = NetmemRef::from_page(page);
    set_pp_info(n);
    alloc_cache_[alloc_count_++] = n;
    ++pages_state_hold_cnt_;
  }
  if (alloc_count_ > 0) {
    ++stats_.alloc.slow;
    return alloc_cache_[--alloc_count_];
  }
  return NetmemRef::none();
}

NetmemRef PagePool::alloc_netmems_slow() {
  NetmemRef n = refill_alloc_cache();
  if (n) return n;
  n = mp_ != nullptr ? mp_->alloc_netmems(*this) : alloc_pages_slow();
  if (!n) ++stats_.extra.alloc_failed;
  return n;
}

// ---- fault hook ---------------------------------------------------------------------------------

void PagePool::set_alloc_fault(const AllocFault& fault) {
  fault_ = fault;
  fault_calls_ = 0;
  fault_failures_ = 0;
  fault_armed_ = true;
}

bool PagePool::fault_fires() {
  if (registry_.clock().now() < fault_.from) return false;
  if (fault_.max_failures != 0 && fault_failures_ >= fault_.max_failures) return false;
  ++fault_calls_;
  const bool fire = fault_.every_nth == 0 || fault_calls_ % fault_.every_nth == 0;
  if (fire) ++fault_failures_;
  return fire;
}

void PagePool::count_direct_refused() {
  if (cache_limit_ == 0) {
    ++stats_.extra.direct_put_after_destroy;
  } else {
    ++stats_.recycle.cache_full;
  }
}

NetmemRef PagePool::alloc_failed_by_fault() {
  ++stats_.extra.alloc_fault_injected;
  ++stats_.extra.alloc_failed;
  return NetmemRef::none();
}

// ---- fragments ----------------------------------------------------------------------------------

NetmemRef PagePool::drain_frag(NetmemRef n) {
  const std::int64_t drain_count = kBiasMax - frag_users_;
  if (page_pool_unref_netmem(n, drain_count) != 0) return NetmemRef::none();  // still in use
  if (can_be_recycled(n)) {
    if (dma_sync_) dma_sync_for_device(n, -1);
    return n;
  }
  return_netmem(n);
  return NetmemRef::none();
}

void PagePool::free_frag() {
  const std::int64_t drain_count = kBiasMax - frag_users_;
  const NetmemRef n = frag_page_;
  frag_page_ = NetmemRef::none();
  if (!n || page_pool_unref_netmem(n, drain_count) != 0) return;
  return_netmem(n);
}

NetmemRef PagePool::alloc_frag_netmem(std::uint32_t* offset, std::uint32_t size) {
  const auto max_size = static_cast<std::uint32_t>(buffer_size());
  NetmemRef n = frag_page_;
  if (size > max_size) return NetmemRef::none();  // kernel: WARN_ON and fail
  size = (size + kDmaCacheAlignment - 1) / kDmaCacheAlignment * kDmaCacheAlignment;
  *offset = frag_offset_;
  bool reset = false;
  if (n && *offset + size > max_size) {
    n = drain_frag(n);
    if (n) {
      ++stats_.recycle.cached;
      ++stats_.alloc.fast;
      reset = true;
    }
  }
  if (!n || reset) {
    if (!reset) {
      n = alloc_netmems();
      if (!n) {
        frag_page_ = NetmemRef::none();
        return NetmemRef::none();
      }
      frag_page_ = n;
    }
    frag_users_ = 1;
    *offset = 0;
    frag_offset_ = size;
    page_pool_fragment_netmem(n, kBiasMax);
    return n;
  }
  ++frag_users_;
  frag_offset_ = *offset + size;
  return n;
}

NetmemRef PagePool::alloc_netmem(std::uint32_t* offset, std::uint32_t* size) {
  const auto max_size = static_cast<std::uint32_t>(buffer_size());
  if ((*size << 1) > max_size) {
    *size = max_size;
    *offset = 0;
    return alloc_netmems();
  }
  const NetmemRef n = alloc_frag_netmem(offset, *size);
  if (!n) return n;
  if (frag_offset_ + *size > max_size) {  // no room for another: give this one the rest
    *size = max_size - *offset;
    frag_offset_ = max_size;
  }
  return n;
}

// ---- return and release ---------------------------------------------------------------------------

void PagePool::dma_sync_for_device(NetmemRef n, std::int32_t dma_sync_size) {
  // A negative size (kernel: -1 as unsigned) means "the whole max_len".
  const std::uint32_t len =
      dma_sync_size < 0 ? p_.max_len : std::min(static_cast<std::uint32_t>(dma_sync_size), p_.max_len);
  ++stats_.extra.dma_sync_for_device;
  stats_.extra.dma_sync_for_device_bytes += len;
  if (p_.dev != nullptr) (void)p_.dev->sync_for_device(n.desc().dma_addr + p_.offset, len);
}

void PagePool::recycle_in_ring_or_release(NetmemRef n) {
  if (ring_produce(n)) {
    ++stats_.recycle.ring;
    return;
  }
  ++stats_.recycle.ring_full;
  return_netmem(n);
}

void PagePool::release_page_dma(Page& page) {
  if (!dma_map_) return;
  if (page.pp_dma_index != 0) {  // 0: the pool's scrub already unmapped it
    const std::uint32_t slot = page.pp_dma_index - 1;
    NICEMU_ASSERT(slot < dma_mapped_.size() && dma_mapped_[slot] == &page, "page pool DMA tracking out of sync");
    (void)p_.dev->unmap(page.dma_addr);
    dma_mapped_[slot] = nullptr;
    dma_mapped_free_.push_back(slot);
    page.pp_dma_index = 0;
  }
  page.dma_addr = 0;
}

void PagePool::return_netmem(NetmemRef n) {
  bool put = true;
  if (mp_ != nullptr) {
    put = mp_->release_netmem(*this, n);
  } else if (!n.is_net_iov()) {
    release_page_dma(n.page());
  }
  ++pages_state_release_cnt_;
  if (put) {
    clear_pp_info(n);
    netmem::put_page(n.page());
  }
}

void PagePool::update_nid(int nid) {
  p_.nid = nid;
  // Flush the alloc cache so buffers of the old node are not handed out.
  while (alloc_count_ > 0) {
    const NetmemRef n = alloc_cache_[--alloc_count_];
    put_unrefed_netmem(n, -1, false, {});
  }
}

void PagePool::disable_direct_recycling() {
  cpuid_ = -1;
  p_.napi = nullptr;
}

// ---- destroy, scrub, deferred release ---------------------------------------------------------------

void PagePool::scrub() {
  if (!alloc_cache_scrubbed_) {
    alloc_cache_scrubbed_ = true;
    while (alloc_count_ > 0) return_netmem(alloc_cache_[--alloc_count_]);
  }
  if (dma_map_ && !dma_scrubbed_) {
    // First scrub of a DMA-mapping pool: no more syncs, and unmap every page still mapped even
    // if inflight (kernel ee62ce7a1d90), so a late return does not touch a dead device mapping.
    dma_scrubbed_ = true;
    dma_sync_ = false;
    for (Page* page : dma_mapped_) {
      if (page == nullptr) continue;
      (void)p_.dev->unmap(page->dma_addr);
      page->pp_dma_index = 0;
    }
    dma_mapped_.clear();
    dma_mapped_free_.clear();
  }
  while (NetmemRef n = ring_consume()) return_netmem(n);
}

std::int32_t PagePool::release() {
  scrub();
  return inflight();
}

void PagePool::destroy() {
  NICEMU_ASSERT(user_cnt_ > 0, "page_pool_destroy on a pool already destroyed");
  if (--user_cnt_ > 0) return;
  disable_direct_recycling();
  cache_limit_ = 0;
  free_frag();
  clear_alloc_fault();
  registry_.on_destroy(*this);
}

void PagePoolRegistry::on_destroy(PagePool& pool) {
  const std::int32_t inflight = pool.release();
  NICEMU_ASSERT(inflight >= 0, "page pool inflight went negative: a buffer was returned twice");
  if (inflight == 0) {
    ++stats_.destroyed_immediately;
    free_pool(pool);
    return;
  }
  const sim::TimePoint now = clock_.now();
  pool.detach_time_ = now;
  pool.next_retry_ = now + kDeferTime;
  pool.defer_warn_ = now + kDeferWarnInterval;
  ++stats_.detached;
}

void PagePoolRegistry::free_pool(PagePool& pool) {
  if (pool.mp_ != nullptr && pool.mp_initialised_) pool.mp_->destroy(pool);
  pools_.erase(pool.id_);  // deletes the pool
}

std::optional<sim::TimePoint> PagePoolRegistry::next_release_retry() const {
  std::optional<sim::TimePoint> next;
  for (const auto& [id, pool] : pools_) {
    if (pool->detached() && (!next || pool->next_retry_ < *next)) next = pool->next_retry_;
  }
  return next;
}

std::size_t PagePoolRegistry::run_release_retries(sim::TimePoint now) {
  std::vector<PagePool*> due;
  for (const auto& [id, pool] : pools_) {
    if (pool->detached() && pool->next_retry_ <= now) due.push_back(pool.get());
  }
  std::size_t freed = 0;
  for (PagePool* pool : due) {
    ++stats_.release_retries;
    const std::int32_t inflight = pool->release();
    if (inflight <= 0) {  // kernel: stop retrying once inflight <= 0
      ++stats_.released_after_detach;
      ++freed;
      free_pool(*pool);
      continue;
    }
    // kernel: warn every DEFER_WARN_INTERVAL, only for pools without a (live) netdev.
    if (!pool->ifindex().has_value() && now >= pool->defer_warn_) {
      char msg[160];
      std::snprintf(msg, sizeof msg, "page_pool_release_retry() stalled pool shutdown: id %u, %d inflight %lld sec",
                    pool->id_, inflight, static_cast<long long>((now - *pool->detach_time_).ps() / 1'000'000'000'000));
      last_warning_ = msg;
      ++stats_.stalled_warnings;
      pool->defer_warn_ = now + kDeferWarnInterval;
    }
    pool->next_retry_ = now + kDeferTime;
  }
  return freed;
}

// ---- provider helpers ----------------------------------------------------------------------------------

void net_mp_niov_set_dma_addr(netmem::NetIov& niov, netmem::DmaAddr addr) { niov.dma_addr = addr; }

void net_mp_niov_set_page_pool(PagePool& pool, NetmemRef netmem) {
  pool.set_pp_info(netmem);
  ++pool.pages_state_hold_cnt_;
}

void net_mp_niov_clear_page_pool(NetmemRef netmem) {
  netmem::NetmemDesc& d = netmem.desc();
  d.pp_magic = 0;
  d.pp = nullptr;
}

void net_mp_netmem_place_in_cache(PagePool& pool, NetmemRef netmem) {
  NICEMU_ASSERT(pool.alloc_count_ < kPpAllocCacheSize, "net_mp_netmem_place_in_cache: alloc cache is full");
  pool.alloc_cache_[pool.alloc_count_++] = netmem;
}

}  // namespace nicemu::page_pool
