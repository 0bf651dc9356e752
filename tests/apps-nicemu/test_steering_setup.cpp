// apps/nicemu/src/steering_setup.hpp (a scenario's NIC settings -> nic::hw::Steering) and the
// command line's text parsers (cli.hpp), called directly.
#include <catch2/catch.hpp>

#include <cerrno>
#include <string>
#include <vector>

#include "cli.hpp"
#include "nicemu/app/nic_profile_loader.hpp"
#include "nicemu/app/scenario.hpp"
#include "steering_setup.hpp"

using namespace nicemu;
namespace hw = nic::hw;

namespace {

hw::NicProfile bnxt() {
  auto p = app::load_nic_profile(std::string(NICEMU_CONFIGS_DIR) + "/nics/bnxt-thor.yaml");
  REQUIRE(p.has_value());
  return *p;
}

hw::Steering built(const hw::NicProfile& p, const app::NicSettings& s) {
  auto r = cli::build_steering(p, s, "hosts.b.nic");
  INFO((r.has_value() ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  return std::move(r).value();
}

hw::NtupleRule rule_to_queue(std::uint16_t dport, std::uint32_t queue) {
  hw::NtupleRule r;
  r.dst_port = dport;
  r.dst_port_mask = 0xffff;
  r.queue = queue;
  return r;
}

}  // namespace

TEST_CASE("steering setup: channels count combined + rx over the profile's defaults, the maximum capped by "
          "max-queues",
          "[apps-nicemu][unit]") {
  const hw::NicProfile p = bnxt();  // defaults: combined 32; maxima rx 128 + combined 128, max-queues 128
  app::ChannelSettings none;
  CHECK(cli::rx_queue_count(cli::channels_in_force(p.channels.defaults, none)) == 32);
  app::ChannelSettings c;
  c.combined = 4;
  c.rx = 2;
  CHECK(cli::rx_queue_count(cli::channels_in_force(p.channels.defaults, c)) == 6);
  CHECK(cli::max_rx_queue_count(p) == 128);
  const hw::SteeringConfig cfg = cli::steering_config(p, cli::channels_in_force(p.channels.defaults, c));
  CHECK(cfg.rx_queues == 6);
  CHECK(cfg.max_rx_queues == 128);
}

TEST_CASE("steering setup: the RSS scenario's host b gets 4 queues, its equal-4 table, tcp4 sdfn",
          "[apps-nicemu][unit]") {
  auto s = app::load_scenario(std::string(NICEMU_CONFIGS_DIR) + "/scenarios/host-memory-rss.yaml");
  REQUIRE(s.has_value());
  const app::HostSpec* b = s->host("b");
  REQUIRE(b != nullptr);
  REQUIRE(b->profile.has_value());
  const hw::Steering st = built(*b->profile, b->nic);
  CHECK(st.rx_queues() == 4);
  const hw::RssContext& ctx = *st.rss_context(0);
  CHECK(ctx.indir_configured());
  CHECK(ctx.indir() == hw::ethtool_indir_equal(128, 4).value());
  CHECK(ctx.rx_flow_hash(hw::HashFlow::kTcp4) == hw::kRxh4Tuple);
  CHECK(ctx.key() == hw::kMicrosoftRssKey);
}

TEST_CASE("steering setup: key, weights table, hash fields and rules are applied as ethtool would",
          "[apps-nicemu][unit]") {
  const hw::NicProfile p = bnxt();
  app::NicSettings n;
  n.channels.combined = 4;
  n.rss.key = hw::rss_key_from_seed(3);
  n.rss.indir = app::IndirSpec{std::nullopt, {1, 3}, 2};  // weight 1 3 start 2
  n.rss.hash_fields.emplace_back(hw::HashFlow::kUdp4, hw::kRxh4Tuple);
  n.ntuple.push_back(rule_to_queue(5201, 1));
  const hw::Steering st = built(p, n);
  const hw::RssContext& ctx = *st.rss_context(0);
  CHECK(ctx.key() == hw::rss_key_from_seed(3));
  const std::vector<std::uint32_t> weights = {1, 3};
  CHECK(ctx.indir() == hw::ethtool_indir_weight(128, weights, 2).value());
  CHECK(ctx.rx_flow_hash(hw::HashFlow::kUdp4) == hw::kRxh4Tuple);
  REQUIRE(st.ntuple_rules().size() == 1);
  CHECK(st.ntuple_rules()[0].rule.location == 0);
  CHECK(st.ntuple_rules()[0].rule.queue == 1);
}

TEST_CASE("steering setup: a setting the library refuses comes back with its errno and dotted key",
          "[apps-nicemu][unit]") {
  const hw::NicProfile p = bnxt();
  app::NicSettings n;
  n.channels.combined = 4;
  n.ntuple.push_back(rule_to_queue(80, 1));
  hw::NtupleRule ctx_rule = rule_to_queue(81, 0);
  ctx_rule.action = hw::NtupleAction::kRssContext;
  ctx_rule.rss_context = 7;  // no such context
  n.ntuple.push_back(ctx_rule);
  auto r = cli::build_steering(p, n, "hosts.b.nic");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == -EINVAL);
  CHECK(r.error().message.rfind("hosts.b.nic.ntuple.1: ", 0) == 0);

  app::NicSettings too_wide;
  too_wide.channels.combined = 2;
  too_wide.rss.indir = app::IndirSpec{4, {}, 0};
  auto w = cli::build_steering(p, too_wide, "hosts.b.nic");
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().message.rfind("hosts.b.nic.rss.indir: ", 0) == 0);
}

TEST_CASE("steering setup: a timeline action that shrinks the queues sets the table first, one that grows them "
          "sets the queues first",
          "[apps-nicemu][unit]") {
  const hw::NicProfile p = bnxt();
  app::NicSettings n;
  n.channels.combined = 8;
  n.rss.indir = app::IndirSpec{8, {}, 0};
  hw::Steering st = built(p, n);
  hw::ChannelCounts channels = cli::channels_in_force(p.channels.defaults, n.channels);

  // Shrink to 2 with a table over 2: the table must change before the queues go.
  app::EthtoolAction shrink;
  shrink.changes.channels.combined = 2;
  shrink.changes.rss.indir = app::IndirSpec{2, {}, 0};
  hw::Status s1 = cli::apply_ethtool_action(st, channels, shrink, "timeline.0.ethtool");
  INFO(s1.message);
  REQUIRE(s1.ok());
  CHECK(st.rx_queues() == 2);
  CHECK(channels.combined == 2);
  CHECK(st.rss_context(0)->max_queue_in_table() == 1);

  // Grow to 6 with a table over 6 and a rule on queue 5: queues first, then table, then rule.
  app::EthtoolAction grow;
  grow.changes.channels.combined = 6;
  grow.changes.rss.indir = app::IndirSpec{6, {}, 0};
  grow.changes.ntuple.push_back(rule_to_queue(9000, 5));
  hw::Status s2 = cli::apply_ethtool_action(st, channels, grow, "timeline.1.ethtool");
  INFO(s2.message);
  REQUIRE(s2.ok());
  CHECK(st.rx_queues() == 6);
  CHECK(st.rss_context(0)->max_queue_in_table() == 5);
  CHECK(st.ntuple_rules().size() == 1);

  // Shrinking below the rule's queue is refused unless the rule is deleted first (ntuple-delete
  // runs before the channels change).
  app::EthtoolAction blocked;
  blocked.changes.channels.combined = 3;
  blocked.changes.rss.indir = app::IndirSpec{3, {}, 0};
  hw::Status s3 = cli::apply_ethtool_action(st, channels, blocked, "timeline.2.ethtool");
  CHECK_FALSE(s3.ok());
  CHECK(s3.message.rfind("timeline.2.ethtool.channels: ", 0) == 0);
  CHECK(channels.combined == 6);
  blocked.ntuple_delete.push_back(0);
  hw::Status s4 = cli::apply_ethtool_action(st, channels, blocked, "timeline.3.ethtool");
  INFO(s4.message);
  REQUIRE(s4.ok());
  CHECK(st.rx_queues() == 3);
  CHECK(st.ntuple_rules().empty());
}

TEST_CASE("cli parsers: flows in IPv4 and IPv6 forms, the protocol defaulting to tcp", "[apps-nicemu][unit]") {
  auto f = cli::parse_flow("10.0.0.1:40000-10.0.0.2:5201/udp");
  REQUIRE(f.has_value());
  CHECK(f->udp);
  CHECK(f->src.to_string() == "10.0.0.1");
  CHECK(f->src_port == 40000);
  CHECK(f->dst_port == 5201);
  auto v6 = cli::parse_flow("[fd00::1]:1-[fd00::2]:65535");
  REQUIRE(v6.has_value());
  CHECK_FALSE(v6->udp);
  CHECK(v6->to_string() == "[fd00::1]:1-[fd00::2]:65535/tcp");
  CHECK_FALSE(cli::parse_flow("10.0.0.1:1-10.0.0.2:2-10.0.0.3:3").has_value());
  CHECK_FALSE(cli::parse_flow("[fd00::1:1-[fd00::2]:2").has_value());
  CHECK_FALSE(cli::parse_flow("10.0.0.1:1 10.0.0.2:2").has_value());
}

TEST_CASE("cli parsers: RSS keys, ports and addresses", "[apps-nicemu][unit]") {
  auto k = cli::parse_rss_key(cli::format_rss_key(hw::rss_key_from_seed(9)));
  REQUIRE(k.has_value());
  CHECK(*k == hw::rss_key_from_seed(9));
  CHECK(cli::parse_rss_key("default").value() == hw::kMicrosoftRssKey);
  CHECK(cli::format_rss_key(hw::kMicrosoftRssKey).rfind("6d:5a:56:da:", 0) == 0);
  CHECK(cli::parse_port("0").value() == 0);
  CHECK(cli::parse_port("65535").value() == 65535);
  CHECK_FALSE(cli::parse_port("65536").has_value());
  CHECK_FALSE(cli::parse_port("+1").has_value());
  CHECK_FALSE(cli::parse_port("").has_value());
  CHECK(cli::parse_address("[fd00::1]").value().is_v6());
  CHECK_FALSE(cli::parse_address("[10.0.0.1]").has_value());
  CHECK(app::resolve_nic_profile("mlx5", {}, "/c") == std::filesystem::path("/c/nics/mlx5.yaml"));
  CHECK(app::resolve_nic_profile("my/nic.yaml", {}, "/c") == std::filesystem::path("my/nic.yaml"));
}
