// Test fixtures for page-pool tests: a fake netdev (the PpNetdev a pool reads), a net_iov
// provider shaped like the kernel's devmem provider, and a host with memory, a DMA space, a
// manual clock and a pool registry.
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/page_pool/page_pool.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::testing {

class FakePpNetdev final : public page_pool::PpNetdev {
 public:
  explicit FakePpNetdev(int ifindex) : ifindex_(ifindex) {}
  int ifindex() const override { return ifindex_; }
  page_pool::MemoryProviderParams rx_queue_mp_params(std::uint32_t queue_idx) const override {
    auto it = mp_.find(queue_idx);
    return it == mp_.end() ? page_pool::MemoryProviderParams{} : it->second;
  }
  void set_mp(std::uint32_t queue_idx, page_pool::MemoryProvider* mp) { mp_[queue_idx] = {mp}; }

 private:
  int ifindex_;
  std::map<std::uint32_t, page_pool::MemoryProviderParams> mp_;
};

// A net_iov provider in the shape of net/core/devmem.c: one net_iov per alloc_netmems call,
// init forces order 0 (-E2BIG) and turns DMA sync off, release keeps the net_iov.
class NiovTestProvider final : public page_pool::MemoryProvider {
 public:
  explicit NiovTestProvider(std::size_t n, std::uint32_t id = 1)
      : area_(n, 0, netmem::NetIovType::kDmabuf, id) {
    for (std::size_t i = n; i-- > 0;) {
      netmem::NetIov& niov = area_.niov(i);
      page_pool::net_mp_niov_set_dma_addr(niov, 0x10'0000'0000 + i * netmem::kPageSize);
      free_.push_back(&niov);
    }
  }
  netmem::NetmemRef alloc_netmems(page_pool::PagePool& pool) override {
    ++alloc_calls;
    if (free_.empty()) return netmem::NetmemRef::none();
    netmem::NetIov* niov = free_.back();
    free_.pop_back();
    const auto n = netmem::NetmemRef::from_net_iov(*niov);
    page_pool::net_mp_niov_set_page_pool(pool, n);
    return n;
  }
  bool release_netmem(page_pool::PagePool&, netmem::NetmemRef n) override {
    ++releases;
    page_pool::net_mp_niov_clear_page_pool(n);
    free_.push_back(&n.net_iov());
    return false;
  }
  int init(page_pool::PagePool& pool) override {
    ++init_calls;
    if (init_error != 0) return init_error;
    pool.set_dma_sync(false);
    pool.set_dma_sync_for_cpu(false);
    if (pool.params().order != 0) return -E2BIG;
    ++pools;
    return 0;
  }
  void destroy(page_pool::PagePool&) override {
    ++destroy_calls;
    --pools;
  }
  int nl_fill(page_pool::NlAttrWriter& out, bool for_rx_queue) const override {
    out.put_u32(for_rx_queue ? "dmabuf" : "dmabuf", area_.owner_id());
    return 0;
  }
  void uninstall(page_pool::PpNetdev&, std::uint32_t) override { ++uninstall_calls; }
  const char* name() const override { return "niov-test"; }

  std::size_t free_count() const { return free_.size(); }

  int init_error = 0;
  int init_calls = 0, destroy_calls = 0, uninstall_calls = 0, pools = 0;
  std::uint64_t alloc_calls = 0, releases = 0;

 private:
  netmem::NetIovArea area_;
  std::vector<netmem::NetIov*> free_;
};

// One host's worth of page-pool context.
struct PoolHost {
  netmem::HostMemory memory;
  netmem::DmaSpace dma;
  sim::ManualClock clock;
  page_pool::PagePoolRegistry registry{memory, clock};

  PoolHost() : memory(netmem::HostMemoryConfig{}), dma(netmem::DmaSpace::Config{}) {}

  page_pool::PagePool& create(page_pool::PagePoolParams p = {}, int cpuid = -1) {
    auto r = registry.create(p, cpuid);
    NICEMU_ASSERT(r.has_value(), "PoolHost::create: pool creation failed");
    return *r.value();
  }
  // Params of a typical RX payload pool: mapped and synced for the device.
  page_pool::PagePoolParams rx_params(std::uint32_t max_len = netmem::kPageSize) {
    page_pool::PagePoolParams p;
    p.flags = page_pool::kPpFlagDmaMap | page_pool::kPpFlagDmaSyncDev;
    p.dev = &dma;
    p.dma_dir = netmem::DmaDirection::kFromDevice;
    p.max_len = max_len;
    return p;
  }
  // Params of an RX payload pool on `dev`'s queue: it picks up the queue's memory provider.
  page_pool::PagePoolParams payload_params(page_pool::PpNetdev& dev, std::uint32_t queue_idx = 0) {
    page_pool::PagePoolParams p = rx_params();
    p.netdev = &dev;
    p.flags |= page_pool::kPpFlagAllowUnreadableNetmem;
    p.queue_idx = queue_idx;
    return p;
  }
};

}  // namespace nicemu::testing
