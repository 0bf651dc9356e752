// Page pool creation: page_pool_init()'s checks in the kernel's order, with its errno values.
#include <catch2/catch.hpp>

#include "page_pool_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::page_pool;
using nicemu::testing::FakePpNetdev;
using nicemu::testing::NiovTestProvider;
using nicemu::testing::PoolHost;

namespace {
int create_error(PoolHost& h, const PagePoolParams& p) {
  auto r = h.registry.create(p);
  return r.has_value() ? 0 : r.error().code;
}
std::string create_message(PoolHost& h, const PagePoolParams& p) {
  auto r = h.registry.create(p);
  return r.has_value() ? std::string() : r.error().message;
}
}  // namespace

TEST_CASE("page pool create: unknown flag bits fail with EINVAL before any other check", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p;
  p.flags = (1u << 7) | kPpFlagDmaSyncDev;  // also invalid: SYNC without MAP
  CHECK(create_error(h, p) == -EINVAL);
  CHECK_THAT(create_message(h, p), Catch::Contains("unknown page pool flags") && Catch::Contains("EINVAL"));
  CHECK(h.registry.size() == 0);
  CHECK(h.registry.stats().create_failed == 2);
}

TEST_CASE("page pool create: PP_FLAG_DMA_MAP needs DMA_FROM_DEVICE or DMA_BIDIRECTIONAL", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p = h.rx_params();
  p.dma_dir = netmem::DmaDirection::kToDevice;
  p.max_len = 0;  // a later check would also fail; the direction is reported first
  CHECK(create_error(h, p) == -EINVAL);
  CHECK_THAT(create_message(h, p), Catch::Contains("dma_dir"));
  p.dma_dir = netmem::DmaDirection::kBidirectional;
  p.max_len = 4096;
  CHECK(create_error(h, p) == 0);
}

TEST_CASE("page pool create: PP_FLAG_DMA_SYNC_DEV needs PP_FLAG_DMA_MAP and a max_len", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p;
  p.flags = kPpFlagDmaSyncDev;
  p.max_len = 4096;
  CHECK(create_error(h, p) == -EINVAL);
  CHECK_THAT(create_message(h, p), Catch::Contains("needs PP_FLAG_DMA_MAP"));
  p = h.rx_params(0);
  CHECK(create_error(h, p) == -EINVAL);
  CHECK_THAT(create_message(h, p), Catch::Contains("max_len"));
}

TEST_CASE("page pool create: the ptr_ring holds 1024 by default and at most 16384", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p;
  CHECK(h.create(p).ring_size() == 1024);
  p.pool_size = 256;
  CHECK(h.create(p).ring_size() == 256);
  p.pool_size = 20000;
  CHECK(h.create(p).ring_size() == 16384);
}

TEST_CASE("page pool create: ids start at 1 and are not reused right away", "[page_pool][unit]") {
  PoolHost h;
  PagePool& a = h.create();
  PagePool& b = h.create();
  CHECK(a.id() == 1);
  CHECK(b.id() == 2);
  a.destroy();
  CHECK(h.registry.find(1) == nullptr);
  CHECK(h.create().id() == 3);  // cyclic allocation continues after the last id
  CHECK(h.registry.find(2) == &b);
}

TEST_CASE("page pool create: a pool allowing unreadable netmem picks up its RX queue's provider", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(3);
  NiovTestProvider mp(16);
  dev.set_mp(2, &mp);
  PagePoolParams p = h.payload_params(dev);
  p.queue_idx = 2;
  PagePool& pool = h.create(p);
  CHECK(pool.mp() == &mp);
  CHECK(mp.init_calls == 1);
  CHECK_FALSE(pool.dma_sync());  // the provider turned sync off in init
  CHECK_FALSE(pool.dma_sync_for_cpu());
  CHECK(h.registry.has_pool_with_provider(&dev, &mp, 2));
  CHECK_FALSE(h.registry.has_pool_with_provider(&dev, &mp, 1));

  p.queue_idx = 1;  // no provider on queue 1
  PagePool& plain = h.create(p);
  CHECK(plain.mp() == nullptr);
  CHECK(plain.dma_sync());
}

TEST_CASE("page pool create: without PP_FLAG_ALLOW_UNREADABLE_NETMEM the queue's provider is ignored", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(3);
  NiovTestProvider mp(16);
  dev.set_mp(0, &mp);
  PagePoolParams p = h.rx_params();
  p.netdev = &dev;  // a header pool: readable only
  PagePool& pool = h.create(p);
  CHECK(pool.mp() == nullptr);
  CHECK(mp.init_calls == 0);
  CHECK_FALSE(h.registry.has_pool_with_provider(&dev, &mp, 0));
}

TEST_CASE("page pool create: a provider needs a pool that maps and syncs (EOPNOTSUPP)", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(3);
  NiovTestProvider mp(16);
  dev.set_mp(0, &mp);
  PagePoolParams p;
  p.netdev = &dev;
  p.flags = kPpFlagAllowUnreadableNetmem | kPpFlagDmaMap;  // no DMA_SYNC_DEV
  p.dev = &h.dma;
  CHECK(create_error(h, p) == -EOPNOTSUPP);
  CHECK(mp.init_calls == 0);
  CHECK(h.registry.size() == 0);
}

TEST_CASE("page pool create: the provider's init error is returned and nothing is listed", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(3);
  NiovTestProvider mp(16);
  dev.set_mp(0, &mp);
  PagePoolParams p = h.payload_params(dev);
  p.order = 1;  // the devmem-like provider only takes order 0
  CHECK(create_error(h, p) == -E2BIG);
  CHECK_THAT(create_message(h, p), Catch::Contains("niov-test") && Catch::Contains("E2BIG"));
  CHECK(h.registry.size() == 0);
  CHECK(mp.pools == 0);
  CHECK(mp.destroy_calls == 0);
}

TEST_CASE("page pool create: PP_FLAG_ALLOW_UNREADABLE_NETMEM without a netdev is refused", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p = h.rx_params();
  p.flags |= kPpFlagAllowUnreadableNetmem;
  CHECK(create_error(h, p) == -EINVAL);
  CHECK_THAT(create_message(h, p), Catch::Contains("netdev"));
}

TEST_CASE("page pool create: PP_FLAG_DMA_MAP without a device and orders above 10 are refused", "[page_pool][unit]") {
  PoolHost h;
  PagePoolParams p = h.rx_params();
  p.dev = nullptr;
  CHECK(create_error(h, p) == -EINVAL);
  p = {};
  p.order = 11;
  CHECK(create_error(h, p) == -EINVAL);
  p.order = 10;
  CHECK(create_error(h, p) == 0);
}

TEST_CASE("page pool registry: pools are listed under their netdev, newest first", "[page_pool][unit]") {
  PoolHost h;
  FakePpNetdev dev(5), other(6);
  PagePoolParams p;
  p.netdev = &dev;
  PagePool& a = h.create(p);
  PagePool& b = h.create(p);
  p.netdev = &other;
  h.create(p);
  h.create();  // no netdev: listed, but under no ifindex
  const auto pools = h.registry.pools_of(5);
  REQUIRE(pools.size() == 2);
  CHECK(pools[0] == &b);
  CHECK(pools[1] == &a);
  CHECK(h.registry.all().size() == 4);
  CHECK(a.ifindex() == 5);
  h.registry.netdev_unregistered(&dev);
  CHECK_FALSE(a.ifindex().has_value());
  CHECK(h.registry.pools_of(5).empty());
}
