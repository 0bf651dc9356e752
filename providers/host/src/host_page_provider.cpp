#include "nicemu/providers/host/host_page_provider.hpp"

#include <cerrno>

namespace nicemu::providers::host {

using netmem::NetmemRef;

HostPageProvider::HostPageProvider(netmem::HostMemory& memory, netmem::DmaSpace& dma, HostPageProviderConfig config)
    : dma_(dma), config_(config) {
  NICEMU_ASSERT(config_.batch >= 1 && config_.batch <= page_pool::kPpAllocCacheRefill,
                "HostPageProvider: batch must be 1..64");
  pages_.reserve(config_.pages);
  for (std::size_t i = 0; i < config_.pages; ++i) {
    netmem::Page* page = memory.alloc_pages(0);
    if (page == nullptr) return;
    const netmem::DmaMapping m = dma_.map_page(*page, netmem::DmaDirection::kBidirectional);
    if (!m.ok()) {
      netmem::put_page(*page);
      return;
    }
    page->dma_addr = m.addr;
    pages_.push_back(page);
  }
  // Hand pages out in ascending order: the free list is a stack.
  free_.assign(pages_.rbegin(), pages_.rend());
  ok_ = true;
}

HostPageProvider::~HostPageProvider() {
  NICEMU_ASSERT(pools_ == 0, "HostPageProvider destroyed while page pools still use it");
  for (netmem::Page* page : pages_) {
    (void)dma_.unmap(page->dma_addr);
    netmem::put_page(*page);
  }
}

int HostPageProvider::init(page_pool::PagePool& pool) {
  if (pool.params().order != 0) {
    ++stats_.init_refused;
    return -E2BIG;  // like the dmabuf provider: order-0 buffers only
  }
  if (pool.params().dev != &dma_) {
    ++stats_.init_refused;
    return -EINVAL;  // the pages are mapped for one device only
  }
  ++pools_;
  return 0;
}

void HostPageProvider::destroy(page_pool::PagePool&) {
  NICEMU_ASSERT(pools_ > 0, "HostPageProvider::destroy without a matching init");
  --pools_;
}

NetmemRef HostPageProvider::alloc_netmems(page_pool::PagePool& pool) {
  ++stats_.alloc_calls;
  if (free_.empty()) {
    ++stats_.empty;
    return NetmemRef::none();
  }
  const NetmemRef first = NetmemRef::from_page(*free_.back());
  free_.pop_back();
  page_pool::net_mp_niov_set_page_pool(pool, first);
  ++stats_.handed_out;
  for (std::uint32_t i = 1; i < config_.batch && !free_.empty(); ++i) {
    const NetmemRef n = NetmemRef::from_page(*free_.back());
    free_.pop_back();
    page_pool::net_mp_niov_set_page_pool(pool, n);
    page_pool::net_mp_netmem_place_in_cache(pool, n);
    ++stats_.handed_out;
  }
  return first;
}

bool HostPageProvider::release_netmem(page_pool::PagePool&, NetmemRef netmem) {
  NICEMU_ASSERT(!netmem.is_net_iov(), "HostPageProvider got back a net_iov");
  NICEMU_ASSERT(netmem.desc().pp_ref_count == 1, "HostPageProvider: buffer released with references left");
  page_pool::net_mp_niov_clear_page_pool(netmem);
  free_.push_back(&netmem.page());
  ++stats_.released;
  return false;  // the provider keeps its pages
}

int HostPageProvider::nl_fill(page_pool::NlAttrWriter&, bool) const {
  return 0;  // host pages are what a queue has without a provider: nothing to show
}

void HostPageProvider::uninstall(page_pool::PpNetdev&, std::uint32_t) {}

}  // namespace nicemu::providers::host
