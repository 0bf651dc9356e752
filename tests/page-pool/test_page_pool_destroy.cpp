// Page pool destroy: scrub, detach with inflight buffers, release retried every simulated
// second, late returns; the behaviour the kernel's page_pool_check selftest expects.
#include <catch2/catch.hpp>

#include <vector>

#include "page_pool_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::page_pool;
using namespace nicemu::sim::literals;
using netmem::NetmemRef;
using nicemu::testing::FakePpNetdev;
using nicemu::testing::NiovTestProvider;
using nicemu::testing::PoolHost;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }

// Runs the registry's release retries up to `until`, as the host's event loop will.
void run_retries_until(PoolHost& h, sim::TimePoint until) {
  while (auto next = h.registry.next_release_retry()) {
    if (*next > until) break;
    h.clock.set(*next);
    h.registry.run_release_retries(*next);
  }
  h.clock.set(until);
}
}  // namespace

TEST_CASE("page pool destroy: with nothing inflight the pool is freed at once", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create(h.rx_params());
  std::vector<NetmemRef> held;
  for (int i = 0; i < 80; ++i) held.push_back(pool.alloc_netmems());
  for (NetmemRef n : held) pool.put_full_netmem(n, false);
  pool.destroy();
  CHECK(h.registry.size() == 0);
  CHECK(h.registry.stats().destroyed_immediately == 1);
  CHECK(h.memory.pages_in_use() == 0);
  CHECK(h.dma.mapping_count() == 0);
  CHECK(h.dma.stats().unmap_errors == 0);
  CHECK_FALSE(h.registry.next_release_retry().has_value());
}

TEST_CASE("page pool destroy: replay of the kernel's page_pool_check selftest", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(7);
  PagePoolParams p = h.rx_params();
  p.netdev = &dev;

  // down -> 0 pools; up -> a pool with inflight 0 (buffers posted to the ring count as inflight
  // in the kernel too, so "up" here is a freshly created, unused pool).
  CHECK(h.registry.pools_of(7).empty());
  PagePool* pool = &h.create(p);
  CHECK(h.registry.pools_of(7).size() == 1);
  CHECK(pool->inflight() == 0);
  // down -> 0
  pool->destroy();
  CHECK(h.registry.pools_of(7).empty());
  // up + pp_hold y -> inflight >= 1
  h.clock.set(at(3_s));
  pool = &h.create(p);
  const std::uint32_t id = pool->id();
  NetmemRef held = pool->alloc_netmems();
  REQUIRE(held);
  CHECK(pool->inflight() >= 1);
  // down -> exactly one pool remains, inflight 1, with a detach time
  h.clock.set(at(4_s));
  pool->destroy();
  auto pools = h.registry.pools_of(7);
  REQUIRE(pools.size() == 1);
  CHECK(pools[0]->id() == id);
  CHECK(pools[0]->inflight() == 1);
  CHECK(pools[0]->detached());
  CHECK(pools[0]->detach_time() == at(4_s));
  CHECK(pools[0]->inflight_mem() == netmem::kPageSize);
  // up -> 1 attached + 1 detached
  h.clock.set(at(4_s) + 200_ms);
  PagePool& fresh = h.create(p);
  pools = h.registry.pools_of(7);
  REQUIRE(pools.size() == 2);
  CHECK(h.registry.detached_count() == 1);
  // Retries before the buffer comes back keep the pool.
  run_retries_until(h, at(5_s) + 500_ms);
  CHECK(h.registry.pools_of(7).size() == 2);
  CHECK(h.registry.stats().release_retries == 1);
  // pp_hold n -> within 2 s only one pool
  h.registry.find(id)->put_full_netmem(held, false);  // late return after destroy: into the ring
  const sim::TimePoint returned_at = h.clock.now();
  run_retries_until(h, returned_at + 2_s);
  pools = h.registry.pools_of(7);
  REQUIRE(pools.size() == 1);
  CHECK(pools[0] == &fresh);
  CHECK(h.registry.find(id) == nullptr);
  CHECK(h.registry.stats().released_after_detach == 1);
  // down -> 0, and nothing is left behind
  fresh.destroy();
  CHECK(h.registry.size() == 0);
  CHECK(h.memory.pages_in_use() == 0);
  CHECK(h.dma.mapping_count() == 0);
}

TEST_CASE("page pool destroy: the release is retried every simulated second", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  NetmemRef held = pool.alloc_netmems();
  h.clock.set(at(10_ms));
  pool.destroy();
  REQUIRE(h.registry.next_release_retry() == at(1_s + 10_ms));
  h.clock.set(at(1_s + 10_ms));
  CHECK(h.registry.run_release_retries(h.clock.now()) == 0);
  CHECK(h.registry.next_release_retry() == at(2_s + 10_ms));
  CHECK(h.registry.run_release_retries(at(2_s)) == 0);  // not due yet: nothing happens
  CHECK(h.registry.stats().release_retries == 1);
  PagePool* detached = h.registry.find(1);
  REQUIRE(detached != nullptr);
  detached->put_full_netmem(held, true);  // allow_direct after destroy: still not cached
  CHECK(detached->alloc_cache_count() == 0);
  CHECK(detached->ring_count() == 1);
  CHECK(detached->stats().extra.direct_put_after_destroy == 1);
  h.clock.set(at(2_s + 10_ms));
  CHECK(h.registry.run_release_retries(h.clock.now()) == 1);
  CHECK(h.registry.size() == 0);
  CHECK(h.memory.pages_in_use() == 0);
}

TEST_CASE("page pool destroy: a stalled netdev-less pool warns every 60 s, a netdev pool does not", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(2);
  PagePoolParams with_dev;
  with_dev.netdev = &dev;
  PagePool& orphan = h.create();
  PagePool& listed = h.create(with_dev);
  NetmemRef a = orphan.alloc_netmems();
  NetmemRef b = listed.alloc_netmems();
  orphan.destroy();
  listed.destroy();
  run_retries_until(h, at(121_s));
  CHECK(h.registry.stats().stalled_warnings == 2);  // at 60 s and 120 s, for the orphan only
  CHECK_THAT(h.registry.last_warning(), Catch::Contains("stalled pool shutdown: id 1, 1 inflight 120 sec"));
  h.registry.find(1)->put_full_netmem(a, false);
  h.registry.find(2)->put_full_netmem(b, false);
  run_retries_until(h, at(123_s));
  CHECK(h.registry.size() == 0);
}

TEST_CASE("page pool destroy: the first scrub unmaps every page, inflight ones too", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create(h.rx_params());
  NetmemRef held = pool.alloc_netmems();
  CHECK(h.dma.mapping_count() == 64);
  pool.destroy();
  CHECK(h.dma.mapping_count() == 0);  // the device can no longer reach the inflight page
  PagePool* detached = h.registry.find(1);
  REQUIRE(detached != nullptr);
  CHECK_FALSE(detached->dma_sync());
  const auto syncs = h.dma.stats().sync_for_device;
  detached->put_full_netmem(held, false);
  CHECK(h.dma.stats().sync_for_device == syncs);  // no sync against a dead mapping
  run_retries_until(h, at(2_s));
  CHECK(h.registry.size() == 0);
  CHECK(h.dma.stats().unmap_errors == 0);  // the late release did not unmap twice
  CHECK(h.memory.pages_in_use() == 0);
}

TEST_CASE("page pool destroy: a provider is told only when the pool is finally freed", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(1);
  NiovTestProvider mp(8);
  dev.set_mp(0, &mp);
  PagePoolParams p = h.payload_params(dev);
  PagePool& pool = h.create(p);
  NetmemRef a = pool.alloc_netmems();
  NetmemRef b = pool.alloc_netmems();
  pool.recycle_direct(b);
  pool.destroy();
  CHECK(mp.destroy_calls == 0);
  CHECK(mp.free_count() == 7);  // the cached one went back to the provider at scrub
  CHECK(mp.pools == 1);
  h.registry.find(1)->put_full_netmem(a, false);
  run_retries_until(h, at(1_s));
  CHECK(mp.destroy_calls == 1);
  CHECK(mp.pools == 0);
  CHECK(mp.free_count() == 8);
}

TEST_CASE("page pool destroy: a pool with an extra user survives one destroy", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  pool.get();
  pool.destroy();
  CHECK(h.registry.size() == 1);
  CHECK_FALSE(pool.detached());
  pool.destroy();
  CHECK(h.registry.size() == 0);
}

TEST_CASE("page pool destroy: direct recycling is disabled", "[page_pool][unit]") {
  PoolHost h;
  NapiOwner napi{.list_owner = 0, .napi_id = 9};
  PagePoolParams p;
  p.napi = &napi;
  PagePool& pool = h.create(p, 0);
  NetmemRef n = pool.alloc_netmems();
  pool.destroy();
  PagePool* detached = h.registry.find(1);
  REQUIRE(detached != nullptr);
  CHECK(detached->params().napi == nullptr);
  CHECK(detached->cpuid() == -1);
  detached->put_full_netmem(n, false, {.cpu = 0, .in_softirq = true});
  CHECK(detached->ring_count() == 1);
}
