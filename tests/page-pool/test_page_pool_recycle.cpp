// Page pool return path: pp_ref_count, direct recycling vs the ptr_ring, release of buffers
// that cannot be recycled, DMA sync on recycle.
#include <catch2/catch.hpp>

#include <vector>

#include "nicemu/sim/random.hpp"
#include "page_pool_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::page_pool;
using netmem::NetmemRef;
using nicemu::testing::PoolHost;

TEST_CASE("pp_ref_count: unref of exactly the count is the last user and leaves it at 1", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  NetmemRef n = pool.alloc_netmems();
  page_pool_fragment_netmem(n, 5);
  CHECK(page_pool_unref_netmem(n, 2) == 3);
  CHECK(n.desc().pp_ref_count == 3);
  CHECK(page_pool_unref_netmem(n, 3) == 0);  // count == nr: last user
  CHECK(n.desc().pp_ref_count == 1);
  page_pool_fragment_netmem(n, 4);
  CHECK(page_pool_unref_netmem(n, 1) == 3);
  page_pool_ref_netmem(n);
  CHECK(n.desc().pp_ref_count == 4);
  page_pool_fragment_netmem(n, 1);
  CHECK(page_pool_unref_and_test(n));
  CHECK(n.desc().pp_ref_count == 1);
  pool.recycle_direct(n);
}

TEST_CASE("page pool recycle: only the last reference returns the buffer", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  NetmemRef n = pool.alloc_netmems();
  page_pool_ref_netmem(n);  // e.g. an skb clone shares the frag
  const std::uint32_t cached_before = pool.alloc_cache_count();
  pool.recycle_direct(n);
  CHECK(pool.alloc_cache_count() == cached_before);
  CHECK(pool.stats().recycle.cached == 0);
  pool.recycle_direct(n);
  CHECK(pool.alloc_cache_count() == cached_before + 1);
  CHECK(pool.stats().recycle.cached == 1);
}

TEST_CASE("page pool recycle: direct recycling fills the cache up to 128, then goes to the ring", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  std::vector<NetmemRef> held;
  for (int i = 0; i < 130; ++i) held.push_back(pool.alloc_netmems());
  for (NetmemRef n : held) pool.recycle_direct(n);
  CHECK(pool.alloc_cache_count() == 128);
  CHECK(pool.stats().recycle.cached == 128 - 62);  // 62 were still cached from the bulk
  CHECK(pool.stats().recycle.cache_full == 130 - 66);
  CHECK(pool.stats().recycle.ring == 130 - 66);
  CHECK(pool.ring_count() == 130 - 66);
}

TEST_CASE("page pool recycle: a full ring releases the buffer back to host memory", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p;
  p.pool_size = 4;
  PagePool& pool = h.create(p);
  std::vector<NetmemRef> held;
  for (int i = 0; i < 70; ++i) held.push_back(pool.alloc_netmems());
  CHECK(h.memory.pages_in_use() == 128);
  for (int i = 0; i < 6; ++i) pool.put_full_netmem(held[static_cast<std::size_t>(i)], false);
  CHECK(pool.stats().recycle.ring == 4);
  CHECK(pool.stats().recycle.ring_full == 2);
  CHECK(pool.release_cnt() == 2);
  CHECK(pool.inflight() == 128 - 2);
  CHECK(h.memory.pages_in_use() == 126);
  for (std::size_t i = 6; i < held.size(); ++i) pool.recycle_direct(held[i]);
}

TEST_CASE("page pool recycle: a page with extra references is released, not recycled", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  NetmemRef n = pool.alloc_netmems();
  netmem::Page& page = n.page();
  netmem::get_page(page);  // someone else holds the page (kernel: page_ref_count != 1)
  pool.recycle_direct(n);
  CHECK(pool.stats().recycle.released_refcnt == 1);
  CHECK(pool.stats().recycle.cached == 0);
  CHECK(pool.release_cnt() == 1);
  CHECK(page.pp == nullptr);  // pp info cleared on release
  CHECK(page.pp_magic == 0);
  CHECK(page.ref_count() == 1);  // the pool dropped its reference
  const auto in_use = h.memory.pages_in_use();
  netmem::put_page(page);
  CHECK(h.memory.pages_in_use() == in_use - 1);
}

TEST_CASE("page pool recycle: pfmemalloc pages are released", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  NetmemRef n = pool.alloc_netmems();
  netmem::HostMemory::set_pfmemalloc_for_test(n.page(), true);
  pool.recycle_direct(n);
  CHECK(pool.stats().recycle.released_refcnt == 1);
}

TEST_CASE("page pool recycle: non-direct puts recycle into the cache only from the pool's NAPI context", "[page_pool][unit]") {
  PoolHost h;
  NapiOwner napi{.list_owner = 1, .napi_id = 77};
  PagePoolParams p;
  p.napi = &napi;
  PagePool& pool = h.create(p);
  NetmemRef n = pool.alloc_netmems();
  const std::uint32_t cache = pool.alloc_cache_count();

  SECTION("softirq on the NAPI owner's CPU: into the cache") {
    pool.put_full_netmem(n, false, {.cpu = 1, .in_softirq = true});
    CHECK(pool.alloc_cache_count() == cache + 1);
    CHECK(pool.stats().recycle.cached == 1);
  }
  SECTION("softirq on another CPU: into the ring") {
    pool.put_full_netmem(n, false, {.cpu = 0, .in_softirq = true});
    CHECK(pool.ring_count() == 1);
  }
  SECTION("process context on the owner's CPU: into the ring") {
    pool.put_full_netmem(n, false, {.cpu = 1, .in_softirq = false});
    CHECK(pool.ring_count() == 1);
  }
  SECTION("a NAPI that is not scheduled (list_owner -1) never matches") {
    napi.list_owner = -1;
    pool.put_full_netmem(n, false, {.cpu = -1, .in_softirq = true});
    CHECK(pool.ring_count() == 1);
  }
  SECTION("after disable_direct_recycling even the owner goes to the ring") {
    pool.disable_direct_recycling();
    pool.put_full_netmem(n, false, {.cpu = 1, .in_softirq = true});
    CHECK(pool.ring_count() == 1);
  }
}

TEST_CASE("page pool recycle: a per-cpu pool recycles directly on its CPU", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create({}, /*cpuid=*/3);
  CHECK(pool.cpuid() == 3);
  NetmemRef n = pool.alloc_netmems();
  pool.put_full_netmem(n, false, {.cpu = 3, .in_softirq = true});
  CHECK(pool.stats().recycle.cached == 1);
}

TEST_CASE("page pool recycle: DMA sync for device on recycle is bounded by max_len", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p = h.rx_params(2048);
  p.offset = 128;
  PagePool& pool = h.create(p);
  NetmemRef n = pool.alloc_netmems();
  const auto syncs = pool.stats().extra.dma_sync_for_device;
  const auto bytes = h.dma.stats().sync_for_device_bytes;
  pool.put_netmem(n, 100, true);
  CHECK(pool.stats().extra.dma_sync_for_device == syncs + 1);
  CHECK(h.dma.stats().sync_for_device_bytes == bytes + 100);
  n = pool.alloc_netmems();
  pool.put_netmem(n, 5000, true);  // larger than max_len: clamped
  CHECK(h.dma.stats().sync_for_device_bytes == bytes + 100 + 2048);
  n = pool.alloc_netmems();
  pool.put_full_netmem(n, true);  // -1: max_len
  CHECK(h.dma.stats().sync_for_device_bytes == bytes + 100 + 2048 + 2048);
  CHECK(h.dma.stats().sync_errors == 0);
}

TEST_CASE("page pool recycle: without PP_FLAG_DMA_SYNC_DEV nothing is synced", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p = h.rx_params();
  p.flags = kPpFlagDmaMap;
  PagePool& pool = h.create(p);
  NetmemRef n = pool.alloc_netmems();
  pool.recycle_direct(n);
  CHECK(pool.stats().extra.dma_sync_for_device == 0);
  CHECK(h.dma.stats().sync_for_device == 0);
}

TEST_CASE("page pool: inflight always equals the buffers outside the pool plus those cached or in the ring",
          "[page_pool][unit]") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    PoolHost h;
    NapiOwner napi{.list_owner = 0};
    PagePoolParams p = h.rx_params();
    p.pool_size = 96;
    p.napi = &napi;
    PagePool& pool = h.create(p);
    sim::Rng rng = sim::RandomStreams(seed).stream("page-pool-soak");
    std::vector<NetmemRef> held;
    for (int step = 0; step < 20000; ++step) {
      const std::uint64_t op = rng.uniform(10);
      if (op < 5 || held.empty()) {
        if (NetmemRef n = pool.alloc_netmems()) held.push_back(n);
      } else {
        const std::size_t i = static_cast<std::size_t>(rng.uniform(held.size()));
        NetmemRef n = held[i];
        held[i] = held.back();
        held.pop_back();
        if (op == 5) pool.recycle_direct(n);
        else if (op == 6) pool.put_full_netmem(n, false, {.cpu = 0, .in_softirq = true});
        else pool.put_full_netmem(n, false);
      }
      REQUIRE(pool.inflight() ==
              static_cast<std::int32_t>(held.size() + pool.alloc_cache_count() + pool.ring_count()));
    }
    for (NetmemRef n : held) pool.put_full_netmem(n, false);
    pool.destroy();
    CHECK(h.registry.size() == 0);
    CHECK(h.memory.pages_in_use() == 0);
    CHECK(h.dma.mapping_count() == 0);
  }
}
