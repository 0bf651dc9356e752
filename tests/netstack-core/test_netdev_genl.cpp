// The netdev netlink queries against a netdevsim-like device: the kernel selftests queues.py,
// nl_netdev.py and stats.py where they apply (§7.4–§7.6), page-pool and qstats objects (§2.8, §6.4).
//
// Inflight convention: FakeNetDevice has no data path and posts no buffers to rings, so a pool
// of an up device has inflight 0 exactly as netdevsim's (whose pools are unused too); a driver
// that pre-fills its rings would show the posted buffers as inflight.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "fake_net_device.hpp"
#include "nicemu/netstack/core/ethtool_core.hpp"
#include "nicemu/netstack/core/netdev_genl.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"

using namespace nicemu;
using namespace nicemu::netstack::core;
using namespace nicemu::sim::literals;
using nicemu::testing::FakeNetDevice;
using nicemu::testing::NetdevHost;
using nicemu::testing::OpFault;

namespace {

// The errno of a reply (0 when it succeeded), so a test fails instead of aborting.
template <class R>
int err_of(const R& r) {
  return r ? 0 : r.error().err;
}

std::size_t count_queues(const std::vector<NetdevQueueInfo>& qs, QueueType type) {
  return static_cast<std::size_t>(std::count_if(qs.begin(), qs.end(), [&](const auto& q) { return q.type == type; }));
}

std::vector<PagePoolInfo> pools_of(const NetdevHost& h) {
  auto dump = netdev_nl_page_pool_get_dump(h.net);
  REQUIRE(dump);
  std::vector<PagePoolInfo> out;
  for (const PagePoolInfo& p : *dump) {
    if (p.ifindex == h.ifindex()) out.push_back(p);
  }
  return out;
}

std::size_t napis_of(const NetdevHost& h) {
  auto dump = netdev_nl_napi_get_dump(h.net, h.ifindex());
  REQUIRE(dump);
  return dump->size();
}

QstatsInfo device_totals(const NetdevHost& h) {
  QstatsRequest req;
  req.ifindex = h.ifindex();
  auto dump = netdev_nl_qstats_get_dump(h.net, req);
  REQUIRE(dump);
  REQUIRE(dump->size() == 1);
  return dump->front();
}

}  // namespace

// ---- dev-get, queue-get, napi-get --------------------------------------------------------------------

TEST_CASE("netdev genl: dev-get lists registered devices, unknown ifindex is -ENODEV", "[netstack][core][unit]") {
  NetdevHost h;
  CHECK(netdev_nl_dev_get_dump(h.net).size() == 1);
  auto dev = netdev_nl_dev_get(h.net, h.ifindex());
  REQUIRE(dev);
  CHECK(dev->ifindex == h.ifindex());
  CHECK(dev->xdp_features == 0);
  CHECK_FALSE(dev->xdp_zc_max_segs.has_value());
  CHECK(err_of(netdev_nl_dev_get(h.net, 42)) == -ENODEV);
}

TEST_CASE("netdev genl: queues.py — queue dump follows the channel count, RX then TX", "[netstack][core][unit]") {
  NetdevHost h(8);
  REQUIRE(h.dev.open() == 0);
  auto qs = netdev_nl_queue_get_dump(h.net);
  REQUIRE(qs);
  CHECK(count_queues(*qs, QueueType::kRx) == 8);
  CHECK(count_queues(*qs, QueueType::kTx) == 8);
  CHECK(qs->front().type == QueueType::kRx);
  CHECK(qs->back().type == QueueType::kTx);
  CHECK(qs->back().id == 7);

  ChannelsRequest fewer;
  fewer.combined_count = 7;
  REQUIRE(ethtool_set_channels(h.dev, fewer) == 0);
  qs = netdev_nl_queue_get_dump(h.net, h.ifindex());
  REQUIRE(qs);
  CHECK(count_queues(*qs, QueueType::kRx) == 7);
  CHECK(count_queues(*qs, QueueType::kTx) == 7);
  CHECK(err_of(netdev_nl_queue_get(h.net, h.ifindex(), QueueType::kRx, 7)) == -EINVAL);

  ChannelsRequest restore;
  restore.combined_count = 8;
  REQUIRE(ethtool_set_channels(h.dev, restore) == 0);
  qs = netdev_nl_queue_get_dump(h.net);
  REQUIRE(qs);
  CHECK(qs->size() == 16);
}

TEST_CASE("netdev genl: queue-get shows the NAPI, the provider and AF_XDP, errors as the kernel",
          "[netstack][core][unit]") {
  NetdevHost h;
  CHECK(err_of(netdev_nl_queue_get(h.net, 77, QueueType::kRx, 0)) == -ENODEV);
  CHECK(err_of(netdev_nl_queue_get(h.net, h.ifindex(), QueueType::kRx, 0)) == -ENOENT);  // down
  h.enable_hds();
  REQUIRE(h.dev.open() == 0);
  CHECK(err_of(netdev_nl_queue_get(h.net, h.ifindex(), QueueType::kTx, 4)) == -EINVAL);
  REQUIRE(net_mp_open_rxq(h.dev, 1, {&h.provider()}) == 0);
  h.dev.rx_queue(0).xsk_pool = true;

  auto q0 = netdev_nl_queue_get(h.net, h.ifindex(), QueueType::kRx, 0);
  REQUIRE(q0);
  CHECK(q0->napi_id == h.dev.rx_queue(0).napi->id());
  CHECK(q0->xsk.has_value());
  CHECK_FALSE(q0->dmabuf.has_value());
  auto q1 = netdev_nl_queue_get(h.net, h.ifindex(), QueueType::kRx, 1);
  REQUIRE(q1);
  CHECK(q1->dmabuf == 1u);
  CHECK_FALSE(q1->io_uring.has_value());
  CHECK_FALSE(q1->xsk.has_value());
  CHECK(q1->napi_id == h.dev.rx_queue(1).napi->id());  // the NAPI the restart linked

  // queues.py check_xsk: queue 0 RX and TX carry xsk, no other queue does.
  auto qs = netdev_nl_queue_get_dump(h.net);
  REQUIRE(qs);
  std::set<std::pair<QueueType, std::uint32_t>> with_xsk;
  for (const auto& q : *qs) {
    if (q.xsk) with_xsk.emplace(q.type, q.id);
  }
  CHECK(with_xsk == std::set<std::pair<QueueType, std::uint32_t>>{{QueueType::kRx, 0}, {QueueType::kTx, 0}});
}

TEST_CASE("netdev genl: queues.py check_down — no queues and no NAPIs once the device is down",
          "[netstack][core][unit]") {
  NetdevHost h;
  REQUIRE(h.dev.open() == 0);
  auto napis = netdev_nl_napi_get_dump(h.net);
  REQUIRE(napis);
  REQUIRE(napis->size() == 4);
  const std::uint32_t napi_id = napis->front().id;
  CHECK(napis->front().id > napis->back().id);  // newest first
  auto napi = netdev_nl_napi_get(h.net, napi_id);
  REQUIRE(napi);
  CHECK(napi->ifindex == h.ifindex());
  CHECK_FALSE(napi->irq.has_value());
  CHECK(napi->threaded == NapiThreaded::kDisabled);

  h.dev.close();
  CHECK(err_of(netdev_nl_queue_get(h.net, h.ifindex(), QueueType::kRx, 0)) == -ENOENT);
  CHECK(err_of(netdev_nl_napi_get(h.net, napi_id)) == -ENOENT);
  auto qs = netdev_nl_queue_get_dump(h.net);
  REQUIRE(qs);
  CHECK(qs->empty());
  CHECK(napis_of(h) == 0);
}

TEST_CASE("netdev genl: nl_netdev.py napi_list_check — 100 NAPIs survive resets in every mode",
          "[netstack][core][unit]") {
  NetdevHost h(100);
  REQUIRE(h.dev.open() == 0);
  CHECK(napis_of(h) == 100);
  for (std::uint32_t queue : {50u, 0u, 99u}) {
    for (std::uint32_t mode = 0; mode <= 3; ++mode) {
      INFO("queue " << queue << " mode " << mode);
      REQUIRE(h.dev.queue_reset(queue, mode) == 0);
      CHECK(napis_of(h) == 100);
    }
  }
  CHECK(h.dev.blob_leaks() == 0);
}

// ---- page pools ------------------------------------------------------------------------------------------

TEST_CASE("netdev genl: nl_netdev.py page_pool_check", "[netstack][core][unit]") {
  NetdevHost h(1);  // the selftest's netdevsim has one queue
  h.pools.clock.set(sim::TimePoint::zero() + 10_s);

  // down -> no pools; up -> pools, nothing inflight; down -> none
  CHECK(pools_of(h).empty());
  REQUIRE(h.dev.open() == 0);
  auto pools = pools_of(h);
  REQUIRE(pools.size() == 1);
  CHECK(pools[0].inflight == 0);
  CHECK_FALSE(pools[0].detach_time.has_value());
  h.dev.close();
  CHECK(pools_of(h).empty());

  // up + pp_hold -> inflight >= 1
  REQUIRE(h.dev.open() == 0);
  REQUIRE(h.dev.pp_hold(true) == 0);
  pools = pools_of(h);
  REQUIRE(pools.size() == 1);
  CHECK(pools[0].inflight >= 1);
  const std::uint64_t held_id = pools[0].id;

  // down -> exactly one pool, inflight 1, detached
  h.advance(1_s);
  h.dev.close();
  pools = pools_of(h);
  REQUIRE(pools.size() == 1);
  CHECK(pools[0].id == held_id);
  CHECK(pools[0].inflight == 1);
  CHECK(pools[0].inflight_mem == 4096);
  CHECK(pools[0].detach_time == 11u);

  // up -> one attached and one detached
  REQUIRE(h.dev.open() == 0);
  pools = pools_of(h);
  REQUIRE(pools.size() == 2);
  CHECK(std::count_if(pools.begin(), pools.end(), [](const auto& p) { return p.detach_time.has_value(); }) == 1);

  // pp_hold n -> the detached pool is gone within 2 s (release retried every 1 s)
  REQUIRE(h.dev.pp_hold(false) == 0);
  h.advance(2_s);
  pools = pools_of(h);
  REQUIRE(pools.size() == 1);
  CHECK_FALSE(pools[0].detach_time.has_value());

  // down -> none
  h.dev.close();
  CHECK(pools_of(h).empty());

  // up + pp_hold, then the device goes away: the pool is orphaned (no ifindex)
  REQUIRE(h.dev.open() == 0);
  REQUIRE(h.dev.pp_hold(true) == 0);
  const std::uint32_t orphan_id = h.dev.rx_page_pool(0)->id();
  h.net.unregister_netdevice(h.dev);
  auto orphan = netdev_nl_page_pool_get(h.net, orphan_id);
  REQUIRE(orphan);
  CHECK_FALSE(orphan->ifindex.has_value());
  CHECK(orphan->inflight == 1);
  CHECK(orphan->detach_time.has_value());
}

TEST_CASE("netdev genl: page-pool-get fields and errors", "[netstack][core][unit]") {
  NetdevHost h;
  h.enable_hds();
  REQUIRE(h.dev.open() == 0);
  REQUIRE(net_mp_open_rxq(h.dev, 2, {&h.provider()}) == 0);

  const page_pool::PagePool* plain = h.dev.rx_page_pool(0);
  auto p0 = netdev_nl_page_pool_get(h.net, plain->id());
  REQUIRE(p0);
  CHECK(p0->ifindex == h.ifindex());
  CHECK(p0->napi_id == h.dev.rx_queue(0).napi->id());
  CHECK(p0->inflight == 0);
  CHECK_FALSE(p0->dmabuf.has_value());

  auto p2 = netdev_nl_page_pool_get(h.net, h.dev.rx_page_pool(2)->id());
  REQUIRE(p2);
  CHECK(p2->dmabuf == 1u);
  CHECK_FALSE(p2->io_uring.has_value());

  CHECK(err_of(netdev_nl_page_pool_get(h.net, 9999)) == -ENOENT);
  // A pool created without a netdev is invisible to netlink.
  page_pool::PagePool& hidden = h.pools.create();
  CHECK(err_of(netdev_nl_page_pool_get(h.net, hidden.id())) == -ENOENT);
  auto dump = netdev_nl_page_pool_get_dump(h.net);
  REQUIRE(dump);
  CHECK(dump->size() == 4);
  CHECK(dump->front().id > dump->back().id);  // newest first
  hidden.destroy();
}

TEST_CASE("netdev genl: detach-time of a pool detached in the first second is omitted, as in 6.18",
          "[netstack][core][unit]") {
  NetdevHost h(1);
  REQUIRE(h.dev.open() == 0);
  REQUIRE(h.dev.pp_hold(true) == 0);
  h.advance(500_ms);
  h.dev.close();
  auto pools = pools_of(h);
  REQUIRE(pools.size() == 1);
  CHECK(pools[0].inflight == 1);
  CHECK_FALSE(pools[0].detach_time.has_value());  // stored as 0 seconds
}

TEST_CASE("netdev genl: page-pool-stats-get", "[netstack][core][unit]") {
  NetdevHost h(1);
  REQUIRE(h.dev.open() == 0);
  const std::uint32_t id = h.dev.rx_page_pool(0)->id();
  REQUIRE(h.dev.pp_hold(true) == 0);
  REQUIRE(h.dev.pp_hold(false) == 0);

  PagePoolStatsRequest by_ifindex;
  by_ifindex.ifindex = h.ifindex();
  by_ifindex.id = id;
  auto err = netdev_nl_page_pool_stats_get(h.net, by_ifindex);
  REQUIRE_FALSE(err);
  CHECK(err.error().err == -EINVAL);
  CHECK(err.error().msg == "selecting by ifindex not supported");
  CHECK(err.error().bad_attr == "info.ifindex");
  CHECK(err_of(netdev_nl_page_pool_stats_get(h.net, {})) == -EINVAL);
  PagePoolStatsRequest unknown;
  unknown.id = 4242;
  CHECK(err_of(netdev_nl_page_pool_stats_get(h.net, unknown)) == -ENOENT);

  PagePoolStatsRequest req;
  req.id = id;
  auto stats = netdev_nl_page_pool_stats_get(h.net, req);
  REQUIRE(stats);
  CHECK(stats->id == id);
  CHECK(stats->ifindex == h.ifindex());
  CHECK(stats->alloc_slow == 1);
  CHECK(stats->recycle_ring == 1);
  CHECK(stats->alloc_fast == 0);
  auto dump = netdev_nl_page_pool_stats_get_dump(h.net);
  REQUIRE(dump);
  CHECK(dump->size() == 1);
}

// ---- qstats ----------------------------------------------------------------------------------------------

TEST_CASE("netdev genl: stats.py qstat_by_ifindex errors", "[netstack][core][unit]") {
  NetdevHost h;
  FakeNetDevice no_stats(h.pools.dma, 2, "lo-like");
  no_stats.stats_api = false;
  h.net.register_netdevice(no_stats);

  QstatsRequest req;
  req.ifindex = 0;
  auto r = netdev_nl_qstats_get_dump(h.net, req);
  REQUIRE_FALSE(r);
  CHECK(r.error().err == -ERANGE);
  CHECK(r.error().msg == "integer out of range");
  CHECK(r.error().bad_attr == "ifindex");
  req.ifindex = 1000;
  r = netdev_nl_qstats_get_dump(h.net, req);
  REQUIRE_FALSE(r);
  CHECK(r.error().err == -ENODEV);
  CHECK(r.error().bad_attr == "ifindex");
  req.ifindex = static_cast<std::uint32_t>(no_stats.ifindex());
  r = netdev_nl_qstats_get_dump(h.net, req);
  REQUIRE_FALSE(r);
  CHECK(r.error().err == -EOPNOTSUPP);
  CHECK(r.error().bad_attr == "ifindex");

  // Without an ifindex the device without stat ops is simply skipped.
  auto all = netdev_nl_qstats_get_dump(h.net, {});
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().ifindex == h.ifindex());
}

TEST_CASE("netdev genl: qstats device scope is base + real queues, unreported counters are absent",
          "[netstack][core][unit]") {
  NetdevHost h;
  REQUIRE(h.dev.open() == 0);
  h.dev.count_rx(0, 10, 1000);
  h.dev.count_rx(3, 5, 500);
  h.dev.count_tx(1, 7, 700);
  h.dev.count_rx_alloc_fail(1, 3);  // reported by the queue only, not by the base stats
  const QstatsInfo t = device_totals(h);
  CHECK_FALSE(t.queue_type.has_value());
  CHECK_FALSE(t.queue_id.has_value());
  CHECK(t.rx_packets == 15u);
  CHECK(t.rx_bytes == 1500u);
  CHECK(t.tx_packets == 7u);
  CHECK(t.tx_bytes == 700u);
  CHECK(t.rx_alloc_fail == 3u);
  CHECK_FALSE(t.rx_hw_drops.has_value());  // reported by nobody
  CHECK_FALSE(t.tx_stop.has_value());
}

TEST_CASE("netdev genl: qstats queue scope lists reporting queues of up devices only", "[netstack][core][unit]") {
  NetdevHost h;
  QstatsRequest req;
  req.scope = QstatsScope::kQueue;
  auto down = netdev_nl_qstats_get_dump(h.net, req);
  REQUIRE(down);
  CHECK(down->empty());  // stats.py check_down: no crash, nothing listed

  REQUIRE(h.dev.open() == 0);
  h.dev.count_rx(2, 3, 300);
  // Queue 1 loses its memory in a failed rollback: it reports nothing and gets no message.
  h.dev.fault_start = OpFault::once(-EIO);
  h.dev.fault_rollback_start = OpFault::once(-EIO);
  REQUIRE(netdev_rx_queue_restart(h.dev, 1) == -EIO);

  auto qs = netdev_nl_qstats_get_dump(h.net, req);
  REQUIRE(qs);
  std::vector<std::pair<QueueType, std::uint32_t>> ids;
  for (const QstatsInfo& q : *qs) ids.emplace_back(*q.queue_type, *q.queue_id);
  CHECK(ids == std::vector<std::pair<QueueType, std::uint32_t>>{{QueueType::kRx, 0},
                                                                {QueueType::kRx, 2},
                                                                {QueueType::kRx, 3},
                                                                {QueueType::kTx, 0},
                                                                {QueueType::kTx, 1},
                                                                {QueueType::kTx, 2},
                                                                {QueueType::kTx, 3}});
  CHECK((*qs)[1].rx_packets == 3u);
  CHECK_FALSE((*qs)[1].tx_packets.has_value());
}

TEST_CASE("netdev genl: qstats device totals survive restarts, down/up and fewer channels", "[netstack][core][unit]") {
  NetdevHost h;
  REQUIRE(h.dev.open() == 0);
  std::uint64_t rx = 0;
  std::uint64_t tx = 0;
  auto traffic = [&] {
    for (std::uint32_t q = 0; q < h.dev.real_num_rx_queues(); ++q) {
      h.dev.count_rx(q, 2, 200);
      h.dev.count_tx(q, 1, 100);
      rx += 2;
      tx += 1;
    }
  };
  std::uint64_t last_rx = 0;
  std::uint64_t last_tx = 0;
  auto check_totals = [&] {
    const QstatsInfo t = device_totals(h);
    CHECK(t.rx_packets == rx);
    CHECK(t.tx_packets == tx);
    CHECK(*t.rx_packets >= last_rx);  // no counter goes backwards
    CHECK(*t.tx_packets >= last_tx);
    last_rx = *t.rx_packets;
    last_tx = *t.tx_packets;
  };

  traffic();
  check_totals();
  for (std::uint32_t mode = 0; mode <= 3; ++mode) {
    REQUIRE(h.dev.queue_reset(1, mode) == 0);  // modes 0, 2, 3 replace queue 1's object
    check_totals();
    traffic();
  }
  h.dev.close();
  check_totals();
  REQUIRE(h.dev.open() == 0);
  traffic();
  check_totals();
  ChannelsRequest fewer;
  fewer.combined_count = 2;
  REQUIRE(ethtool_set_channels(h.dev, fewer) == 0);
  check_totals();
  ChannelsRequest more;
  more.combined_count = 4;
  REQUIRE(ethtool_set_channels(h.dev, more) == 0);
  check_totals();  // folded counters are not counted twice
}
