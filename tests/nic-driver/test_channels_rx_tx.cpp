// Channels on a profile without combined ones (gve-dqo: max rx 16, tx 16, combined 0): the driver
// reports and takes separate RX and TX counts as gve_get_channels / gve_set_channels do, behind
// the core's checks (ethnl_set_channels, ethtool_check_max_channel), bnxt takes either kind
// (bnxt_set_channels with and without shared rings) and mlx5 only combined ones; and the driver
// testbed's header split on every profile, with hds-thresh sent only where the device has it.
#include "driver_checks.hpp"

#include <algorithm>

#include <cerrno>

#include "nicemu/netstack/core/netdev_rx_queue.hpp"
#include "page_pool_fixtures.hpp"

using namespace nicemu;
using netstack::core::ChannelsRequest;
using netstack::core::EthtoolChannels;
using netstack::core::Extack;
using netstack::core::QueueType;
using nicemu::testing::DriverTestbed;
using nicemu::testing::load_profile;
namespace core = nicemu::netstack::core;

namespace {

constexpr sim::Duration kLimit = sim::Duration::from_s(5);

EthtoolChannels channels_of(app::Host& h) {
  EthtoolChannels ch;
  REQUIRE(core::ethtool_get_channels(h.nic(), ch) == 0);
  return ch;
}

ChannelsRequest rx_tx(std::uint32_t rx, std::uint32_t tx) {
  ChannelsRequest r;
  r.rx_count = rx;
  r.tx_count = tx;
  return r;
}

// The channel counts ethtool -l reports.
void check_channel_counts(app::Host& h, std::uint32_t combined, std::uint32_t rx, std::uint32_t tx) {
  const EthtoolChannels ch = channels_of(h);
  CHECK(ch.combined_count == combined);
  CHECK(ch.rx_count == rx);
  CHECK(ch.tx_count == tx);
}

// The device's queues, NAPIs and steering all follow `rx` RX and `tx` TX queues: the queue dump
// lists that many of each, every RX queue has the NAPI of its channel, there is one NAPI per
// channel (max(rx, tx)), and RSS spreads over the RX queues.
void check_queue_counts(app::Host& h, std::uint32_t rx, std::uint32_t tx) {
  using namespace nicemu::testing;
  auto& nic = h.nic();
  INFO("host " << h.name() << " rx " << rx << " tx " << tx);
  CHECK(nic.real_num_rx_queues() == rx);
  CHECK(nic.real_num_tx_queues() == tx);
  CHECK(nic.channels() == std::max(rx, tx));
  const auto rxqs = queues_of(h, QueueType::kRx);
  REQUIRE(rxqs.size() == rx);
  CHECK(queues_of(h, QueueType::kTx).size() == tx);
  CHECK(napis_of(h).size() == std::max(rx, tx));
  for (std::uint32_t q = 0; q < rx; ++q) {
    REQUIRE(rxqs[q].napi_id.has_value());
    CHECK(*rxqs[q].napi_id == nic.channel_napi(q)->id());
    CHECK(nic.payload_pool(q) != nullptr);
  }
  for (std::uint32_t q = rx; q < nic.channels(); ++q) {
    CHECK(nic.channel_napi(q) != nullptr);  // a TX-only channel: its NAPI cleans TX completions
    CHECK(nic.payload_pool(q) == nullptr);
  }
  CHECK(nic.hw().steering().rx_queues() == rx);
  core::EthtoolRss rss;
  REQUIRE(core::ethtool_get_rss(nic, 0, rss) == 0);
  REQUIRE_FALSE(rss.indir.empty());
  CHECK(*std::max_element(rss.indir.begin(), rss.indir.end()) == rx - 1);  // the default spread
}

}  // namespace

TEST_CASE("nic driver channels: gve-dqo reports separate RX and TX channels with their maxima and no combined ones",
          "[nic-driver][unit]") {
  DriverTestbed tb(load_profile("gve-dqo"), 4, /*split=*/false);
  const EthtoolChannels ch = channels_of(tb.b());
  CHECK(ch.max_rx == 16);
  CHECK(ch.max_tx == 16);
  CHECK(ch.max_other == 0);
  CHECK(ch.max_combined == 0);
  CHECK(ch.rx_count == 4);  // NicDriverConfig::combined is the RX count; TX follows it by default
  CHECK(ch.tx_count == 4);
  CHECK(ch.other_count == 0);
  CHECK(ch.combined_count == 0);
  check_queue_counts(tb.b(), 4, 4);
}

TEST_CASE("nic driver channels: ethtool -L rx 2 tx 2 on gve-dqo leaves 2 RX and 2 TX queues that carry a transfer",
          "[nic-driver][integration]") {
  DriverTestbed tb(load_profile("gve-dqo"), 4, /*split=*/true);
  auto& nic = tb.b().nic();
  const std::uint64_t reconfigures = nic.driver_stats().reconfigures;
  Extack ext;
  REQUIRE(core::ethtool_set_channels(nic, rx_tx(2, 2), &ext) == 0);
  CHECK(ext.msg.empty());
  const EthtoolChannels ch = channels_of(tb.b());
  CHECK(ch.rx_count == 2);
  CHECK(ch.tx_count == 2);
  CHECK(ch.combined_count == 0);
  CHECK(nic.driver_stats().reconfigures == reconfigures + 1);  // close + open while up
  check_queue_counts(tb.b(), 2, 2);
  // A request that changes nothing does not reach the driver (ethnl_set_channels: !mod).
  REQUIRE(core::ethtool_set_channels(nic, rx_tx(2, 2)) == 0);
  CHECK(nic.driver_stats().reconfigures == reconfigures + 1);
  auto t = tb.start_transfer(5700);
  REQUIRE(tb.run_transfer(t, 5700, 1 << 20, kLimit));
  CHECK(t.mismatches == 0);
  nicemu::testing::close_and_check_nothing_leaks(tb, t);
}

TEST_CASE(
    "nic driver channels: gve-dqo takes different RX and TX counts, the channels past the smaller count serve "
    "one direction and traffic completes",
    "[nic-driver][integration]") {
  DriverTestbed tb(load_profile("gve-dqo"), 4, /*split=*/true);
  // The sender transmits on up to 4 TX queues with one RX queue; the receiver has more RX
  // queues than TX queues.
  REQUIRE(core::ethtool_set_channels(tb.a().nic(), rx_tx(1, 4)) == 0);
  REQUIRE(core::ethtool_set_channels(tb.b().nic(), rx_tx(3, 2)) == 0);
  check_queue_counts(tb.a(), 1, 4);
  check_queue_counts(tb.b(), 3, 2);
  std::uint64_t want = 256 << 10;
  std::vector<DriverTestbed::Transfer> ts;
  for (std::uint16_t port = 5710; port < 5718; ++port) {
    ts.push_back(tb.start_transfer(port));
    REQUIRE(tb.run_transfer(ts.back(), port, want, kLimit));
    CHECK(ts.back().mismatches == 0);
  }
  tb.run_for(sim::Duration::from_ms(300));
  // Host a's TX queues past its single RX queue sent packets and had them completed: the
  // TX-only channels' NAPIs ran.
  const auto per_queue =
      core::netdev_nl_qstats_get_dump(tb.a().netns(), {nicemu::testing::ifindex_of(tb.a()), core::QstatsScope::kQueue});
  REQUIRE(per_queue.has_value());
  std::uint64_t tx_only_packets = 0;
  for (const auto& q : per_queue.value()) {
    if (q.queue_type == QueueType::kTx && q.queue_id.value_or(0) >= 1) tx_only_packets += q.tx_packets.value_or(0);
  }
  CHECK(tx_only_packets > 0);
  CHECK(tb.a().nic().tx_in_flight() == 0);
  CHECK(tb.b().nic().tx_in_flight() == 0);
  for (auto& t : ts) tb.close_transfer(t);
  tb.run_for(sim::Duration::from_ms(300));
  nicemu::testing::check_rx_accounting(tb.a());
  nicemu::testing::check_rx_accounting(tb.b());
  // Down and up keeps the counts; down, nothing is left.
  tb.b().nic().close();
  tb.run_for(sim::Duration::from_s(3));
  CHECK(nicemu::testing::pools_of(tb.b()).empty());
  CHECK(tb.b().nic().rx_buffers_held() == 0);
  CHECK(tb.b().stack().skbs().in_use() == 0);
  REQUIRE(tb.b().nic().open() == 0);
  check_queue_counts(tb.b(), 3, 2);
}

TEST_CASE("nic driver channels: gve-dqo refuses combined channels, a zero count and counts above the maximum",
          "[nic-driver][unit]") {
  DriverTestbed tb(load_profile("gve-dqo"), 4, /*split=*/false);
  auto& nic = tb.b().nic();
  const std::uint64_t reconfigures = nic.driver_stats().reconfigures;
  SECTION("combined 2: above max_combined 0 (the core)") {
    ChannelsRequest r;
    r.combined_count = 2;
    Extack ext;
    CHECK(core::ethtool_set_channels(nic, r, &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel count exceeds maximum");
    CHECK(ext.bad_attr == "combined-count");
  }
  SECTION("rx 0: no RX channel would be left (the core)") {
    Extack ext;
    CHECK(core::ethtool_set_channels(nic, rx_tx(0, 2), &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel counts would result in no RX or TX channel being configured");
    CHECK(ext.bad_attr == "rx-count");
  }
  SECTION("tx 0: no TX channel would be left (the core)") {
    Extack ext;
    CHECK(core::ethtool_set_channels(nic, rx_tx(2, 0), &ext) == -EINVAL);
    CHECK(ext.bad_attr == "tx-count");
  }
  SECTION("rx 17 / tx 17: above max_rx / max_tx 16 (the core)") {
    Extack ext;
    CHECK(core::ethtool_set_channels(nic, rx_tx(17, 4), &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel count exceeds maximum");
    CHECK(ext.bad_attr == "rx-count");
    ext = {};
    CHECK(core::ethtool_set_channels(nic, rx_tx(4, 17), &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel count exceeds maximum");
    CHECK(ext.bad_attr == "tx-count");
  }
  SECTION("the driver's own checks (gve_set_channels): combined must stay 0, rx and tx non-zero") {
    core::EthtoolOps& ops = *nic.ethtool_ops();
    EthtoolChannels ch;
    ops.get_channels(nic, ch);
    ch.combined_count = 2;
    CHECK(ops.set_channels(nic, ch) == -EINVAL);
    ops.get_channels(nic, ch);
    ch.rx_count = 0;
    CHECK(ops.set_channels(nic, ch) == -EINVAL);
    ops.get_channels(nic, ch);
    ch.tx_count = 0;
    CHECK(ops.set_channels(nic, ch) == -EINVAL);
  }
  // Nothing changed.
  const EthtoolChannels ch = channels_of(tb.b());
  CHECK(ch.rx_count == 4);
  CHECK(ch.tx_count == 4);
  CHECK(ch.combined_count == 0);
  CHECK(nic.driver_stats().reconfigures == reconfigures);
  check_queue_counts(tb.b(), 4, 4);
}

TEST_CASE(
    "nic driver channels: on gve-dqo the RX count cannot go down to a queue with a memory provider "
    "(ethtool_check_max_channel counts rx channels)",
    "[nic-driver][integration]") {
  nicemu::testing::NiovTestProvider provider(4096);  // outlives the testbed's pools
  DriverTestbed tb(load_profile("gve-dqo"), 4, /*split=*/true);
  auto& nic = tb.b().nic();
  REQUIRE(core::net_mp_open_rxq(nic, 2, page_pool::MemoryProviderParams{&provider}) == 0);
  REQUIRE(nic.payload_pool(2)->mp() == &provider);
  Extack ext;
  CHECK(core::ethtool_set_channels(nic, rx_tx(2, 4), &ext) == -EINVAL);
  CHECK(ext.msg == "requested channel counts are too low for existing memory provider setting (3)");
  // The kernel's `<=` against a count: the bound queue's index + 1 is refused as well.
  ext = {};
  CHECK(core::ethtool_set_channels(nic, rx_tx(3, 3), &ext) == -EINVAL);
  CHECK(ext.msg == "requested channel counts are too low for existing memory provider setting (3)");
  check_queue_counts(tb.b(), 4, 4);
  // Fewer TX queues only: allowed, and the bound queue gets the provider back on reopen.
  REQUIRE(core::ethtool_set_channels(nic, rx_tx(4, 2)) == 0);
  check_queue_counts(tb.b(), 4, 2);
  CHECK(nic.payload_pool(2)->mp() == &provider);
  core::net_mp_close_rxq(nic, 2, page_pool::MemoryProviderParams{&provider});
  CHECK(nic.rx_queue(2).mp_params.mp == nullptr);
  REQUIRE(core::ethtool_set_channels(nic, rx_tx(2, 2)) == 0);
  check_queue_counts(tb.b(), 2, 2);
}

TEST_CASE("nic driver channels: bnxt-thor takes all combined or all rx/tx channels, mlx5 only combined",
          "[nic-driver][unit]") {
  SECTION("bnxt-thor") {
    DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/false);
    auto& nic = tb.b().nic();
    EthtoolChannels ch = channels_of(tb.b());
    CHECK(ch.max_combined == 128);
    CHECK(ch.max_rx == 128);
    check_channel_counts(tb.b(), 4, 0, 0);
    ChannelsRequest r;
    r.combined_count = 2;
    REQUIRE(core::ethtool_set_channels(nic, r) == 0);
    check_channel_counts(tb.b(), 2, 0, 0);
    check_queue_counts(tb.b(), 2, 2);
    // kernel: bnxt_set_channels(). The core merges the request with what is in force, so rx/tx
    // alone come with combined 2 and are refused; `combined 0 rx 4 tx 2` leaves shared rings.
    CHECK(core::ethtool_set_channels(nic, rx_tx(4, 2)) == -EINVAL);
    check_queue_counts(tb.b(), 2, 2);
    ChannelsRequest split = rx_tx(4, 2);
    split.combined_count = 0;
    REQUIRE(core::ethtool_set_channels(nic, split) == 0);
    check_channel_counts(tb.b(), 0, 4, 2);
    check_queue_counts(tb.b(), 4, 2);
    // Back: combined alone comes with rx 4 tx 2 in force (refused); with rx 0 tx 0 it is taken.
    ChannelsRequest back;
    back.combined_count = 3;
    CHECK(core::ethtool_set_channels(nic, back) == -EINVAL);
    check_queue_counts(tb.b(), 4, 2);
    back.rx_count = 0;
    back.tx_count = 0;
    REQUIRE(core::ethtool_set_channels(nic, back) == 0);
    ch = channels_of(tb.b());
    CHECK(ch.combined_count == 3);
    CHECK(ch.rx_count == 0);
    check_queue_counts(tb.b(), 3, 3);
  }
  SECTION("mlx5") {
    DriverTestbed tb(load_profile("mlx5"), 4, /*split=*/false);
    EthtoolChannels ch = channels_of(tb.b());
    CHECK(ch.max_combined == 256);
    CHECK(ch.max_rx == 0);
    CHECK(ch.combined_count == 4);
    Extack ext;
    CHECK(core::ethtool_set_channels(tb.b().nic(), rx_tx(2, 2), &ext) == -EINVAL);  // max_rx 0
    CHECK(ext.bad_attr == "rx-count");
    ChannelsRequest r;
    r.combined_count = 3;
    REQUIRE(core::ethtool_set_channels(tb.b().nic(), r) == 0);
    check_queue_counts(tb.b(), 3, 3);
  }
}

TEST_CASE(
    "driver testbed: header split on builds on gve-dqo, bnxt-thor and mlx5 with tcp-data-split enabled, "
    "hds-thresh sent only where the device has it",
    "[nic-driver][unit]") {
  for (const char* name : {"gve-dqo", "bnxt-thor", "mlx5"}) {
    INFO(name);
    const auto profile = load_profile(name);
    DriverTestbed tb(profile, 4, /*split=*/true);
    for (app::Host* h : {&tb.a(), &tb.b()}) {
      auto& nic = h->nic();
      CHECK(nic.hds_config == core::TcpDataSplit::kEnabled);
      core::EthtoolRingParam rings;
      REQUIRE(core::ethtool_get_rings(nic, rings) == 0);
      CHECK(rings.tcp_data_split == core::TcpDataSplit::kEnabled);
      CHECK(rings.hds_thresh == 0);  // bnxt: set to 0 from its default 256; gve, mlx5: none
      CHECK(rings.hds_thresh_max == profile.header_split.hds_thresh_max);
      const bool hds_thrs = (nic.ethtool_ops()->supported_ring_params() & core::kRingUseHdsThrs) != 0;
      CHECK(hds_thrs == (profile.header_split.hds_thresh_max > 0));
      CHECK(nic.header_pool(0) != nullptr);  // the queues run split: a header pool each
    }
  }
}
