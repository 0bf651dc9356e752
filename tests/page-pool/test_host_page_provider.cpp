// The host-page provider: a fixed, pre-mapped budget of readable pages behind a page pool.
#include <catch2/catch.hpp>

#include <vector>

#include "nicemu/providers/host/host_page_provider.hpp"
#include "page_pool_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::page_pool;
using netmem::NetmemRef;
using nicemu::providers::host::HostPageProvider;
using nicemu::testing::FakePpNetdev;
using nicemu::testing::PoolHost;

namespace {
PagePool& provider_pool(PoolHost& h, FakePpNetdev& dev, std::uint32_t order = 0) {
  PagePoolParams p = h.payload_params(dev);
  p.order = order;
  return h.create(p);
}
}  // namespace

TEST_CASE("host page provider: serves its budget of readable, mapped pages and then runs dry",
          "[providers][page_pool][unit]") {
  PoolHost h;
  HostPageProvider mp(h.memory, h.dma, {.pages = 8, .batch = 1});
  REQUIRE(mp.ok());
  CHECK(h.memory.pages_in_use() == 8);
  CHECK(h.dma.mapping_count() == 8);
  FakePpNetdev dev(1);
  dev.set_mp(0, &mp);
  PagePool& pool = provider_pool(h, dev);
  CHECK(pool.mp() == &mp);
  CHECK(pool.dma_sync());  // host memory keeps its syncs
  std::vector<NetmemRef> held;
  for (int i = 0; i < 8; ++i) held.push_back(pool.alloc_netmems());
  for (NetmemRef n : held) {
    REQUIRE(n);
    CHECK_FALSE(n.is_net_iov());
    CHECK(netmem::netmem_address(n));  // readable
    CHECK(h.dma.resolve_for_device_write(n.desc().dma_addr, 4096).ok());
  }
  CHECK_FALSE(pool.alloc_netmems());
  CHECK(mp.stats().empty == 1);
  CHECK(pool.stats().extra.alloc_failed == 1);
  CHECK(h.memory.pages_in_use() == 8);  // nothing beyond the budget
  for (NetmemRef n : held) pool.put_full_netmem(n, false);
  pool.destroy();
  CHECK(mp.free_pages() == 8);
  CHECK(mp.pools() == 0);
}

TEST_CASE("host page provider: a batch places extra buffers in the pool's cache", "[providers][page_pool][unit]") {
  PoolHost h;
  HostPageProvider mp(h.memory, h.dma, {.pages = 100, .batch = 64});
  FakePpNetdev dev(1);
  dev.set_mp(0, &mp);
  PagePool& pool = provider_pool(h, dev);
  NetmemRef n = pool.alloc_netmems();
  CHECK(pool.alloc_cache_count() == 63);
  CHECK(pool.hold_cnt() == 64);
  CHECK(mp.stats().alloc_calls == 1);
  pool.recycle_direct(n);
  pool.destroy();
  CHECK(mp.free_pages() == 100);
}

TEST_CASE("host page provider: refuses higher orders and pools of another device", "[providers][page_pool][unit]") {
  PoolHost h;
  HostPageProvider mp(h.memory, h.dma, {.pages = 4});
  FakePpNetdev dev(1);
  dev.set_mp(0, &mp);
  PagePoolParams p = h.payload_params(dev);
  p.order = 1;
  auto r = h.registry.create(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == -E2BIG);
  netmem::DmaSpace other;
  p.order = 0;
  p.dev = &other;
  auto r2 = h.registry.create(p);
  REQUIRE_FALSE(r2.has_value());
  CHECK(r2.error().code == -EINVAL);
  CHECK(mp.stats().init_refused == 2);
}

TEST_CASE("host page provider: a budget larger than host memory is reported, not hidden", "[providers][unit]") {
  netmem::HostMemory small(netmem::HostMemoryConfig{4 * netmem::kPageSize, 0});
  netmem::DmaSpace dma;
  HostPageProvider mp(small, dma, {.pages = 8});
  CHECK_FALSE(mp.ok());
}
