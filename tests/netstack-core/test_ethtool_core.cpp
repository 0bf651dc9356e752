// The core's ethtool validation: channels (incl. the memory-provider, RSS, ntuple and AF_XDP
// guards with the kernel's `<=`), rings (HDS config, provider guards, XDP), coalesce, RSS tables
// and contexts, ntuple rules, and XDP attach (§3.2, §7.6 hds.py).
#include <catch2/catch.hpp>

#include <vector>

#include "fake_net_device.hpp"
#include "nicemu/netstack/core/ethtool_core.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"

using namespace nicemu;
using namespace nicemu::netstack::core;
using nicemu::testing::NetdevHost;

namespace {

ChannelsRequest combined(std::uint32_t n) {
  ChannelsRequest r;
  r.combined_count = n;
  return r;
}

NtupleRule rule_to_queue(std::uint32_t queue, std::uint32_t location = 0) {
  NtupleRule r;
  r.flow_type = FlowType::kTcp6;
  r.dst_port = 5201;
  r.dst_port_mask = 0xffff;
  r.queue = queue;
  r.location = location;
  return r;
}

// `ethtool -X <if> equal n`
RssRequest rss_equal(std::uint32_t n) {
  RssRequest r;
  r.indir = std::vector<std::uint32_t>(nicemu::testing::FakeNetDevice::kRssIndirSize, 0);
  for (std::size_t i = 0; i < r.indir->size(); ++i) (*r.indir)[i] = static_cast<std::uint32_t>(i % n);
  return r;
}

}  // namespace

// ---- channels -----------------------------------------------------------------------------------------

TEST_CASE("ethtool channels: get reports the queues, an unchanged request never reaches the driver",
          "[netstack][core][unit]") {
  NetdevHost h(8);
  EthtoolChannels ch;
  REQUIRE(ethtool_get_channels(h.dev, ch) == 0);
  CHECK(ch.max_combined == 8);
  CHECK(ch.combined_count == 8);
  CHECK(ethtool_set_channels(h.dev, combined(8)) == 0);
  CHECK(ethtool_set_channels(h.dev, {}) == 0);
  CHECK(h.dev.driver_calls().set_channels == 0);
  CHECK(ethtool_set_channels(h.dev, combined(7)) == 0);
  CHECK(h.dev.driver_calls().set_channels == 1);
  CHECK(h.dev.real_num_rx_queues() == 7);
  CHECK(h.dev.real_num_tx_queues() == 7);
}

TEST_CASE("ethtool channels: counts above the maxima and no RX/TX channel are -EINVAL", "[netstack][core][unit]") {
  NetdevHost h(8);
  Extack ext;
  SECTION("combined above max_combined") {
    CHECK(ethtool_set_channels(h.dev, combined(9), &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel count exceeds maximum");
    CHECK(ext.bad_attr == "combined-count");
  }
  SECTION("rx above max_rx (0)") {
    ChannelsRequest r;
    r.rx_count = 1;
    CHECK(ethtool_set_channels(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel count exceeds maximum");
    CHECK(ext.bad_attr == "rx-count");
  }
  SECTION("combined 0 leaves no RX channel") {
    CHECK(ethtool_set_channels(h.dev, combined(0), &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel counts would result in no RX or TX channel being configured");
    CHECK(ext.bad_attr == "combined-count");
  }
  CHECK(h.dev.driver_calls().set_channels == 0);
  CHECK(h.dev.real_num_rx_queues() == 8);
}

TEST_CASE("ethtool channels: a bound provider keeps its queue, with the kernel's <= (queue 3: 4 refused, 5 allowed)",
          "[netstack][core][unit]") {
  NetdevHost h(8);
  h.enable_hds();
  REQUIRE(h.dev.open() == 0);
  REQUIRE(net_mp_open_rxq(h.dev, 3, {&h.provider()}) == 0);
  Extack ext;
  CHECK(ethtool_set_channels(h.dev, combined(3), &ext) == -EINVAL);
  CHECK(ethtool_set_channels(h.dev, combined(4), &ext) == -EINVAL);
  CHECK(ext.msg == "requested channel counts are too low for existing memory provider setting (4)");
  CHECK(h.dev.real_num_rx_queues() == 8);
  CHECK(ethtool_set_channels(h.dev, combined(5), &ext) == 0);
  CHECK(h.dev.real_num_rx_queues() == 5);
}

TEST_CASE("ethtool channels: a user RSS table and ntuple rules keep their queues", "[netstack][core][unit]") {
  NetdevHost h(8);
  Extack ext;
  SECTION("RSS table: highest entry 5") {
    REQUIRE(ethtool_set_rss(h.dev, rss_equal(6)) == 0);
    CHECK(ethtool_set_channels(h.dev, combined(5), &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel counts are too low for existing indirection table (5)");
    CHECK(ethtool_set_channels(h.dev, combined(6), &ext) == 0);
  }
  SECTION("RSS table reset to the default: it follows the channel count again") {
    REQUIRE(ethtool_set_rss(h.dev, rss_equal(6)) == 0);
    RssRequest reset;
    reset.indir = std::vector<std::uint32_t>{};
    REQUIRE(ethtool_set_rss(h.dev, reset) == 0);
    CHECK(ethtool_set_channels(h.dev, combined(2), &ext) == 0);
    CHECK(h.dev.rss_indir[3] == 1);  // re-spread over 2 queues by the driver
  }
  SECTION("RSS context: its table counts too") {
    RssRequest ctx = rss_equal(7);
    REQUIRE(ethtool_create_rss_context(h.dev, ctx) == 1);
    CHECK(ethtool_set_channels(h.dev, combined(6), &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel counts are too low for existing indirection table (6)");
  }
  SECTION("ntuple rule to queue 6") {
    REQUIRE(ethtool_set_ntuple_rule(h.dev, rule_to_queue(6)) == 0);
    CHECK(ethtool_set_channels(h.dev, combined(6), &ext) == -EINVAL);
    CHECK(ext.msg == "requested channel counts are too low for existing ntuple filter settings");
    CHECK(ethtool_set_channels(h.dev, combined(7), &ext) == 0);
  }
}

TEST_CASE("ethtool channels: a zero-copy AF_XDP socket keeps its queue", "[netstack][core][unit]") {
  NetdevHost h(8);
  h.dev.rx_queue(5).xsk_pool = true;
  Extack ext;
  CHECK(ethtool_set_channels(h.dev, combined(5), &ext) == -EINVAL);
  CHECK(ext.msg == "requested channel counts are too low for existing zerocopy AF_XDP sockets");
  CHECK(ethtool_set_channels(h.dev, combined(6), &ext) == 0);
}

// ---- rings -----------------------------------------------------------------------------------------------

TEST_CASE("ethtool rings: the core records tcp-data-split and hds-thresh, UNKNOWN stays UNKNOWN",
          "[netstack][core][unit]") {
  NetdevHost h;
  EthtoolRingParam r;
  REQUIRE(ethtool_get_rings(h.dev, r) == 0);
  CHECK(r.tcp_data_split == TcpDataSplit::kEnabled);  // netdevsim reports "enabled" for UNKNOWN
  CHECK(r.hds_thresh_max == 1024);

  RingsRequest rx_only;
  rx_only.rx = 1024;
  CHECK(ethtool_set_rings(h.dev, rx_only) == 0);
  CHECK(h.dev.ring.rx_pending == 1024);
  CHECK(h.dev.hds_config == TcpDataSplit::kUnknown);  // the core's config did not change

  RingsRequest split;
  split.tcp_data_split = TcpDataSplit::kEnabled;  // a change: the config was UNKNOWN
  split.hds_thresh = 0;
  CHECK(ethtool_set_rings(h.dev, split) == 0);
  CHECK(h.dev.hds_config == TcpDataSplit::kEnabled);
  CHECK(h.dev.driver_calls().set_ringparam == 2);
  CHECK(ethtool_set_rings(h.dev, split) == 0);  // now unchanged: the driver is not called
  CHECK(h.dev.driver_calls().set_ringparam == 2);
}

TEST_CASE("ethtool rings: a driver that refuses the change leaves the core's HDS config as it was",
          "[netstack][core][unit]") {
  NetdevHost h;
  h.dev.fault_set_ringparam = nicemu::testing::OpFault::once(-ENOMEM);
  RingsRequest r;
  r.tcp_data_split = TcpDataSplit::kEnabled;
  r.hds_thresh = 128;
  CHECK(ethtool_set_rings(h.dev, r) == -ENOMEM);
  CHECK(h.dev.hds_config == TcpDataSplit::kUnknown);
  CHECK(h.dev.hds_thresh == 0);
  CHECK(ethtool_set_rings(h.dev, r) == 0);
  CHECK(h.dev.hds_config == TcpDataSplit::kEnabled);
  CHECK(h.dev.hds_thresh == 128);
}

TEST_CASE("ethtool rings: limits — sizes and hds-thresh above the maxima", "[netstack][core][unit]") {
  NetdevHost h;
  Extack ext;
  RingsRequest r;
  SECTION("rx") {
    r.rx = 4097;
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.bad_attr == "rx");
  }
  SECTION("tx") {
    r.tx = 4097;
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.bad_attr == "tx");
  }
  SECTION("hds-thresh = max + 1 (hds.py)") {
    r.hds_thresh = 1025;
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.bad_attr == "hds-thresh");
  }
  CHECK(ext.msg == "requested ring size exceeds maximum");
  CHECK(h.dev.driver_calls().set_ringparam == 0);
  r = {};
  r.hds_thresh = 1024;
  CHECK(ethtool_set_rings(h.dev, r) == 0);
  CHECK(h.dev.hds_thresh == 1024);
}

TEST_CASE("ethtool rings: attributes the driver does not support are -EOPNOTSUPP", "[netstack][core][unit]") {
  NetdevHost h;
  Extack ext;
  RingsRequest r;
  SECTION("rx-buf-len") {
    r.rx_buf_len = 8192;
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EOPNOTSUPP);
    CHECK(ext.msg == "setting rx buf len not supported");
  }
  SECTION("tcp-data-split") {
    h.dev.ring_params_supported = kRingUseHdsThrs;
    r.tcp_data_split = TcpDataSplit::kEnabled;
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EOPNOTSUPP);
    CHECK(ext.msg == "setting TCP data split is not supported");
  }
  SECTION("hds-thresh") {
    h.dev.ring_params_supported = kRingUseTcpDataSplit;
    r.hds_thresh = 0;  // even an unchanged value: the attribute itself is refused
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EOPNOTSUPP);
    CHECK(ext.msg == "setting hds-thresh is not supported");
  }
  CHECK(h.dev.driver_calls().set_ringparam == 0);
}

TEST_CASE("ethtool rings: with a provider bound, header split cannot be turned off nor the threshold raised",
          "[netstack][core][unit]") {
  NetdevHost h;
  h.enable_hds();
  REQUIRE(h.dev.open() == 0);
  REQUIRE(net_mp_open_rxq(h.dev, 1, {&h.provider()}) == 0);
  Extack ext;
  RingsRequest r;
  SECTION("disabled") {
    r.tcp_data_split = TcpDataSplit::kDisabled;
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.msg == "can't disable tcp-data-split while device has memory provider enabled");
  }
  SECTION("back to unknown (ncdevmem's \"header split off\")") {
    r.tcp_data_split = TcpDataSplit::kUnknown;
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.msg == "can't disable tcp-data-split while device has memory provider enabled");
  }
  SECTION("non-zero hds-thresh") {
    r.hds_thresh = 64;
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.msg == "can't set non-zero hds_thresh while device is memory provider enabled");
  }
  CHECK(h.dev.hds_config == TcpDataSplit::kEnabled);
  CHECK(h.dev.hds_thresh == 0);
  RingsRequest size_only;
  size_only.rx = 2048;
  CHECK(ethtool_set_rings(h.dev, size_only) == 0);  // other ring changes are fine
}

TEST_CASE("ethtool rings: tcp-data-split cannot be enabled under a single-buffer XDP program",
          "[netstack][core][unit]") {
  NetdevHost h;
  Extack ext;
  RingsRequest r;
  r.tcp_data_split = TcpDataSplit::kEnabled;
  SECTION("single buffer") {
    REQUIRE(dev_xdp_attach(h.dev) == 0);
    CHECK(ethtool_set_rings(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.msg == "tcp-data-split can not be enabled with single buffer XDP");
    CHECK(ext.bad_attr == "tcp-data-split");
    CHECK(h.dev.hds_config == TcpDataSplit::kUnknown);
  }
  SECTION("frags-aware program") {
    REQUIRE(dev_xdp_attach(h.dev, true) == 0);
    CHECK(ethtool_set_rings(h.dev, r, &ext) == 0);
  }
}

TEST_CASE("ethtool XDP: refused while tcp-data-split is enabled or a provider is bound", "[netstack][core][unit]") {
  NetdevHost h;
  Extack ext;
  SECTION("hds.py: single-buffer XDP fails with split enabled, works with unknown") {
    h.enable_hds();
    CHECK(dev_xdp_attach(h.dev, false, &ext) == -EBUSY);
    CHECK(ext.msg == "unable to install XDP to device using tcp-data-split");
    CHECK(dev_xdp_attach(h.dev, true, &ext) == 0);  // frags-aware is fine
    REQUIRE(dev_xdp_detach(h.dev, true) == 0);
    h.dev.hds_config = TcpDataSplit::kUnknown;
    CHECK(dev_xdp_attach(h.dev) == 0);
    CHECK(h.dev.xdp_prog_count == 1);
    CHECK(dev_xdp_detach(h.dev) == 0);
    CHECK(h.dev.xdp_prog_count == 0);
  }
  SECTION("provider bound: -EBUSY, split checked first") {
    h.enable_hds();
    REQUIRE(h.dev.open() == 0);
    REQUIRE(net_mp_open_rxq(h.dev, 0, {&h.provider()}) == 0);
    CHECK(dev_xdp_attach(h.dev, false, &ext) == -EBUSY);
    CHECK(ext.msg == "unable to install XDP to device using tcp-data-split");
    CHECK(dev_xdp_attach(h.dev, true, &ext) == -EBUSY);
    CHECK(ext.msg == "unable to install XDP to device using memory provider");
    CHECK(h.dev.xdp_prog_count == 0);
  }
}

// ---- coalesce, RSS, ntuple -----------------------------------------------------------------------------

TEST_CASE("ethtool coalesce: changes reach the driver, an unchanged request does not", "[netstack][core][unit]") {
  NetdevHost h;
  CoalesceRequest c;
  c.rx_coalesce_usecs = 50;
  CHECK(ethtool_set_coalesce(h.dev, c) == 0);
  CHECK(ethtool_set_coalesce(h.dev, c) == 0);
  CHECK(h.dev.driver_calls().set_coalesce == 1);
  EthtoolCoalesce got;
  REQUIRE(ethtool_get_coalesce(h.dev, got) == 0);
  CHECK(got.rx_coalesce_usecs == 50);
}

TEST_CASE("ethtool RSS: table entries, table size and key length are checked", "[netstack][core][unit]") {
  NetdevHost h(8);
  Extack ext;
  RssRequest r;
  SECTION("entry past real_num_rx_queues") {
    r.indir = std::vector<std::uint32_t>{0, 8};
    CHECK(ethtool_set_rss(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.msg == "entry 1: queue out of range (8)");
  }
  SECTION("size that does not divide the device table (128)") {
    r.indir = std::vector<std::uint32_t>{0, 1, 2};
    CHECK(ethtool_set_rss(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.msg == "size (3) mismatch with device indir table (128)");
  }
  SECTION("key of the wrong length") {
    r.hkey = std::vector<std::uint8_t>(39, 1);
    CHECK(ethtool_set_rss(h.dev, r, &ext) == -EINVAL);
    CHECK(ext.bad_attr == "hkey");
  }
  CHECK(h.dev.driver_calls().set_rss == 0);
}

TEST_CASE("ethtool RSS: a short table is replicated and marks the table user-configured", "[netstack][core][unit]") {
  NetdevHost h(8);
  RssRequest r;
  r.indir = std::vector<std::uint32_t>{2, 3};
  CHECK(ethtool_set_rss(h.dev, r) == 0);
  CHECK(h.dev.rss_indir.size() == 128);
  CHECK(h.dev.rss_indir[126] == 2);
  CHECK(h.dev.rss_indir[127] == 3);
  CHECK(h.dev.core_state.rxfh_configured);
  CHECK(ethtool_set_rss(h.dev, r) == 0);  // unchanged: the driver is not called again
  CHECK(h.dev.driver_calls().set_rss == 1);
  RssRequest key;
  key.hkey = std::vector<std::uint8_t>(40, 0xab);
  CHECK(ethtool_set_rss(h.dev, key) == 0);
  CHECK(h.dev.rss_key == *key.hkey);
}

TEST_CASE("ethtool RSS contexts: create, refuse to remove while a rule uses it, remove", "[netstack][core][unit]") {
  NetdevHost h(8);
  Extack ext;
  const int ctx = ethtool_create_rss_context(h.dev, rss_equal(2));
  REQUIRE(ctx == 1);
  CHECK(h.dev.core_state.rss_ctx.count(1) == 1);

  RssRequest reset;
  reset.context = 1;
  reset.indir = std::vector<std::uint32_t>{};
  CHECK(ethtool_set_rss(h.dev, reset, &ext) == -EINVAL);
  CHECK(ext.msg == "can't reset table for a context");

  NtupleRule rule = rule_to_queue(0, 7);
  rule.action = NtupleRule::Action::kRssContext;
  rule.rss_context = 1;
  REQUIRE(ethtool_set_ntuple_rule(h.dev, rule) == 7);
  CHECK(ethtool_remove_rss_context(h.dev, 1) == -EBUSY);
  REQUIRE(ethtool_del_ntuple_rule(h.dev, 7) == 0);
  CHECK(ethtool_remove_rss_context(h.dev, 1) == 0);
  CHECK(ethtool_remove_rss_context(h.dev, 1) == -ENOENT);
  RssRequest unknown;
  unknown.context = 5;
  unknown.indir = std::vector<std::uint32_t>{0};
  CHECK(ethtool_set_rss(h.dev, unknown) == -ENOENT);
}

TEST_CASE("ethtool ntuple: flow types, target queue and RSS context are checked, needs NETIF_F_NTUPLE",
          "[netstack][core][unit]") {
  NetdevHost h(4);
  CHECK(ethtool_set_ntuple_rule(h.dev, rule_to_queue(3, 2)) == 2);
  CHECK(h.dev.ntuple_rules.count(2) == 1);
  CHECK(ethtool_set_ntuple_rule(h.dev, rule_to_queue(4)) == -EINVAL);
  NtupleRule bad_type = rule_to_queue(0);
  bad_type.flow_type = static_cast<FlowType>(0x03);  // not tcp4/udp4/tcp6/udp6
  CHECK(ethtool_set_ntuple_rule(h.dev, bad_type) == -EINVAL);
  NtupleRule to_ctx = rule_to_queue(0);
  to_ctx.action = NtupleRule::Action::kRssContext;
  to_ctx.rss_context = 3;  // does not exist
  CHECK(ethtool_set_ntuple_rule(h.dev, to_ctx) == -EINVAL);
  NtupleRule drop = rule_to_queue(99);
  drop.action = NtupleRule::Action::kDrop;  // no queue to check
  CHECK(ethtool_set_ntuple_rule(h.dev, drop) == 0);
  h.dev.features &= ~kNetifFNtuple;
  CHECK(ethtool_set_ntuple_rule(h.dev, rule_to_queue(1, 1)) == -EOPNOTSUPP);
  CHECK(h.dev.driver_calls().set_ntuple_rule == 2);
}
