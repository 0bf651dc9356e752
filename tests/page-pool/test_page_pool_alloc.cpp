// Page pool allocation: alloc cache -> ptr_ring -> provider or bulk host pages; DMA mapping;
// the fault hook.
#include <catch2/catch.hpp>

#include <set>
#include <vector>

#include "page_pool_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::page_pool;
using namespace nicemu::sim::literals;
using netmem::NetmemRef;
using nicemu::testing::FakePpNetdev;
using nicemu::testing::NiovTestProvider;
using nicemu::testing::PoolHost;

TEST_CASE("page pool alloc: an empty pool bulk-allocates 64 pages and serves the rest from the cache", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  std::vector<NetmemRef> got;
  got.push_back(pool.alloc_netmems());
  CHECK(pool.stats().alloc.empty == 1);  // the ring was checked first, and was empty
  CHECK(pool.stats().alloc.slow == 1);
  CHECK(pool.stats().alloc.fast == 0);
  CHECK(pool.hold_cnt() == 64);
  CHECK(pool.alloc_cache_count() == 63);
  CHECK(h.memory.pages_in_use() == 64);
  for (int i = 0; i < 63; ++i) got.push_back(pool.alloc_netmems());
  CHECK(pool.stats().alloc.fast == 63);
  CHECK(pool.stats().alloc.slow == 1);
  got.push_back(pool.alloc_netmems());
  CHECK(pool.stats().alloc.slow == 2);
  CHECK(pool.hold_cnt() == 128);
  CHECK(pool.inflight() == 128);
  std::set<std::uint64_t> pfns;
  for (NetmemRef n : got) {
    REQUIRE(n);
    CHECK_FALSE(n.is_net_iov());
    CHECK(n.desc().pp == &pool);
    CHECK(n.desc().pp_magic == netmem::kPpSignature);
    CHECK(n.desc().pp_ref_count == 1);
    pfns.insert(n.page().pfn());
  }
  CHECK(pfns.size() == got.size());
  for (NetmemRef n : got) pool.recycle_direct(n);  // 65 fit in the cache...
  CHECK(pool.alloc_cache_count() == 128);           // 63 + 65
}

TEST_CASE("page pool alloc: order > 0 takes one compound page per slow allocation", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p;
  p.order = 2;
  PagePool& pool = h.create(p);
  NetmemRef n = pool.alloc_netmems();
  REQUIRE(n);
  CHECK(pool.stats().alloc.slow_high_order == 1);
  CHECK(pool.stats().alloc.slow == 0);
  CHECK(pool.hold_cnt() == 1);
  CHECK(n.page().order() == 2);
  CHECK(netmem::netmem_address(n).size() == 4 * netmem::kPageSize);
  CHECK(pool.inflight_mem() == 4 * netmem::kPageSize);
  pool.recycle_direct(n);
}

TEST_CASE("page pool alloc: the cache is refilled 64 at a time from the ring", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  std::vector<NetmemRef> held;
  for (int i = 0; i < 100; ++i) held.push_back(pool.alloc_netmems());
  CHECK(pool.alloc_cache_count() == 28);
  while (pool.alloc_cache_count() > 0) held.push_back(pool.alloc_netmems());
  for (NetmemRef n : held) pool.put_full_netmem(n, false);  // not NAPI context: into the ring
  CHECK(pool.ring_count() == 128);
  CHECK(pool.stats().recycle.ring == 128);
  const std::uint64_t fast_before = pool.stats().alloc.fast;
  NetmemRef n = pool.alloc_netmems();
  REQUIRE(n);
  CHECK(pool.stats().alloc.refill == 1);
  CHECK(pool.stats().alloc.fast == fast_before);
  CHECK(pool.alloc_cache_count() == 63);
  CHECK(pool.ring_count() == 64);
  CHECK(pool.hold_cnt() == 128);  // nothing new was allocated
  pool.recycle_direct(n);
}

TEST_CASE("page pool alloc: a buffer of the wrong NUMA node is waived on refill", "[page_pool][unit]") {
  PoolHost h;  // host memory is node 0
  PagePool& pool = h.create();
  NetmemRef n = pool.alloc_netmems();
  pool.recycle_direct(n);
  pool.update_nid(1);  // flushes the cache into the ring
  CHECK(pool.alloc_cache_count() == 0);
  CHECK(pool.ring_count() == 64);
  const std::uint32_t released = pool.release_cnt();
  NetmemRef again = pool.alloc_netmems();
  REQUIRE(again);
  CHECK(pool.stats().alloc.waive == 1);
  CHECK(pool.release_cnt() == released + 1);
  CHECK(pool.stats().alloc.slow == 2);  // fell through to a fresh bulk allocation
  pool.recycle_direct(again);
}

TEST_CASE("page pool alloc: with a provider the slow path asks the provider, one buffer per call", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(1);
  NiovTestProvider mp(4);
  dev.set_mp(0, &mp);
  PagePoolParams p = h.payload_params(dev);
  PagePool& pool = h.create(p);
  std::vector<NetmemRef> got;
  for (int i = 0; i < 4; ++i) got.push_back(pool.alloc_netmems());
  for (NetmemRef n : got) {
    REQUIRE(n);
    CHECK(n.is_net_iov());
    CHECK(n.desc().pp == &pool);
    CHECK(n.desc().pp_ref_count == 1);
    CHECK_FALSE(netmem::netmem_address(n));  // unreadable
  }
  CHECK(mp.alloc_calls == 4);
  CHECK(pool.hold_cnt() == 4);
  CHECK(pool.stats().alloc.slow == 0);  // slow counts the built-in page path only
  CHECK(h.memory.pages_in_use() == 0);  // no host page was touched
  // The provider is empty: the allocation fails and is counted.
  CHECK_FALSE(pool.alloc_netmems());
  CHECK(pool.stats().extra.alloc_failed == 1);
  for (NetmemRef n : got) pool.recycle_direct(n);
  CHECK(pool.alloc_cache_count() == 4);
  pool.destroy();
  CHECK(mp.free_count() == 4);
  CHECK(mp.destroy_calls == 1);
}

TEST_CASE("page pool alloc: a DMA-mapping pool maps each page for the device and syncs max_len", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p = h.rx_params(1536);
  p.offset = 64;
  PagePool& pool = h.create(p);
  NetmemRef n = pool.alloc_netmems();
  REQUIRE(n);
  CHECK(h.dma.mapping_count() == 64);
  CHECK(pool.stats().extra.dma_sync_for_device == 64);
  CHECK(h.dma.stats().sync_for_device_bytes == 64 * 1536);
  const netmem::DmaAddr addr = netmem::netmem_get_dma_addr(n);
  CHECK(addr != 0);
  // The device writes through the address into the page's bytes.
  auto target = h.dma.resolve_for_device_write(addr + 100, 4);
  REQUIRE(target.ok());
  target.bytes[0] = std::byte{0xab};
  CHECK(netmem::netmem_address(n).data()[100] == std::byte{0xab});
  pool.recycle_direct(n);
}

TEST_CASE("page pool alloc: a pool without PP_FLAG_DMA_MAP maps nothing", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  NetmemRef n = pool.alloc_netmems();
  CHECK(h.dma.mapping_count() == 0);
  CHECK(n.desc().dma_addr == 0);
  pool.recycle_direct(n);
}

TEST_CASE("page pool alloc: host memory exhaustion fails the allocation and counts it", "[page_pool][unit]") {
  netmem::HostMemory small(netmem::HostMemoryConfig{16 * netmem::kPageSize, 0});
  sim::ManualClock clock;
  PagePoolRegistry reg(small, clock);
  PagePool& pool = *reg.create({}).value();
  std::vector<NetmemRef> held;
  for (int i = 0; i < 16; ++i) held.push_back(pool.alloc_netmems());
  for (NetmemRef n : held) REQUIRE(n);
  CHECK(pool.hold_cnt() == 16);  // the bulk allocation got what there was
  CHECK_FALSE(pool.alloc_netmems());
  CHECK(pool.stats().extra.alloc_failed == 1);
  for (NetmemRef n : held) pool.recycle_direct(n);
  pool.destroy();
  CHECK(small.pages_in_use() == 0);
}

TEST_CASE("page pool fault hook: every N-th allocation fails", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  pool.set_alloc_fault({.every_nth = 3});
  std::vector<bool> ok;
  std::vector<NetmemRef> held;
  for (int i = 0; i < 9; ++i) {
    NetmemRef n = pool.alloc_netmems();
    ok.push_back(static_cast<bool>(n));
    if (n) held.push_back(n);
  }
  CHECK(ok == std::vector<bool>{true, true, false, true, true, false, true, true, false});
  CHECK(pool.stats().extra.alloc_fault_injected == 3);
  CHECK(pool.stats().extra.alloc_failed == 3);
  pool.clear_alloc_fault();
  CHECK(pool.alloc_netmems());
  for (NetmemRef n : held) pool.recycle_direct(n);
}

TEST_CASE("page pool fault hook: failures from a given simulated time, at most max_failures", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  pool.set_alloc_fault({.every_nth = 0, .from = sim::TimePoint::zero() + 5_ms, .max_failures = 2});
  NetmemRef a = pool.alloc_netmems();
  CHECK(a);  // before the start time
  h.clock.set(sim::TimePoint::zero() + 5_ms);
  CHECK_FALSE(pool.alloc_netmems());
  CHECK_FALSE(pool.alloc_netmems());
  NetmemRef b = pool.alloc_netmems();  // the budget of two failures is spent
  CHECK(b);
  CHECK(pool.stats().extra.alloc_fault_injected == 2);
  pool.recycle_direct(a);
  pool.recycle_direct(b);
}
