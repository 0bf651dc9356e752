// Ntuple rules: precedence over RSS and by location, masks, drop, RSS-context actions with and
// without a queue offset, locations (given, any, first, last), listing and hit counts, every error
// the insert and delete paths return, and the tuple-space lookup against a plain scan.
#include <catch2/catch.hpp>

#include <cerrno>
#include <map>
#include <set>
#include <vector>

#include "nicemu/nic/hw/steering.hpp"
#include "nicemu/sim/random.hpp"
#include "steering_helpers.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using testing::insert_err;
using testing::insert_ok;
using testing::ip;
using testing::make_steering;
using testing::require_ok;
using Rule = testing::RuleBuilder;
namespace w = netstack::wire;

namespace {

w::ParsedPacket flow(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport, bool udp = false) {
  w::ParsedPacket p;
  p.src_ip = ip(src);
  p.dst_ip = ip(dst);
  p.l3 = p.src_ip.is_v6() ? w::L3Kind::kIpv6 : w::L3Kind::kIpv4;
  p.l4 = udp ? w::L4Kind::kUdp : w::L4Kind::kTcp;
  p.ip_protocol = udp ? 17 : 6;
  p.src_port = sport;
  p.dst_port = dport;
  return p;
}

RxfhRequest indir(std::vector<std::uint32_t> t) {
  RxfhRequest r;
  r.indir = std::move(t);
  return r;
}

}  // namespace

TEST_CASE("ntuple: a matching rule steers to its queue and wins over RSS", "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(8);
  const w::ParsedPacket p = flow("192.0.2.1", 40000, "192.0.2.2", 5201);
  const SteeringDecision by_rss = s.lookup(p);
  REQUIRE(by_rss.source == SteerSource::kRss);
  const std::uint32_t other = (by_rss.queue + 3) % 8;

  const std::uint32_t loc = insert_ok(s, Rule(FlowType::kTcpV4).dst_ip("192.0.2.2").dst_port(5201).action(other));
  CHECK(loc == 0);
  const SteeringDecision d = s.lookup(p);
  CHECK(d.source == SteerSource::kRuleQueue);
  CHECK(d.queue == other);
  CHECK(d.rule == loc);
  CHECK_FALSE(d.drop);
  // The completion still carries the RSS hash of the default context.
  CHECK(d.rss_hash == by_rss.rss_hash);
  CHECK(d.hash_type == RssHashType::kL4);
  // Other flows still go by RSS.
  CHECK(s.lookup(flow("192.0.2.1", 40000, "192.0.2.2", 5202)).source == SteerSource::kRss);
}

TEST_CASE("ntuple: the lowest location wins when several rules match, whatever the insertion order",
          "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(8);
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(5001).action(1).loc(10));
  insert_ok(s, Rule(FlowType::kTcpV4).dst_ip("10.0.0.2").action(2).loc(3));
  insert_ok(s, Rule(FlowType::kTcpV4).src_port(7777).action(4).loc(7));
  const w::ParsedPacket both = flow("10.0.0.1", 7777, "10.0.0.2", 5001);
  CHECK(s.lookup(both).queue == 2);
  CHECK(s.lookup(both).rule == 3u);
  require_ok(s.delete_ntuple_rule(3));
  CHECK(s.lookup(both).queue == 4);
  require_ok(s.delete_ntuple_rule(7));
  CHECK(s.lookup(both).queue == 1);
  insert_ok(s, Rule(FlowType::kTcpV4).src_ip("10.0.0.1").action(6).loc(0));
  CHECK(s.lookup(both).queue == 6);
  CHECK(s.lookup(both).rule == 0u);
}

TEST_CASE("ntuple: masks select address prefixes and port ranges in both families", "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(8);
  insert_ok(s, Rule(FlowType::kTcpV4).src_ip("192.168.0.0", "255.255.0.0").action(5));
  insert_ok(s, Rule(FlowType::kUdpV4).dst_port(0x1380, 0xfff0).action(6));  // 4992..5007
  insert_ok(s, Rule(FlowType::kTcpV6).dst_ip("fd00:1:2:3::", "ffff:ffff:ffff:ffff::").dst_port(443).action(7));

  CHECK(s.lookup(flow("192.168.7.9", 1, "10.0.0.1", 2)).queue == 5);
  CHECK(s.lookup(flow("192.168.255.255", 1, "10.0.0.1", 2)).queue == 5);
  CHECK(s.lookup(flow("192.169.0.1", 1, "10.0.0.1", 2)).source == SteerSource::kRss);

  CHECK(s.lookup(flow("10.0.0.1", 1, "10.0.0.2", 4992, true)).queue == 6);
  CHECK(s.lookup(flow("10.0.0.1", 1, "10.0.0.2", 5007, true)).queue == 6);
  CHECK(s.lookup(flow("10.0.0.1", 1, "10.0.0.2", 5008, true)).source == SteerSource::kRss);
  CHECK(s.lookup(flow("10.0.0.1", 1, "10.0.0.2", 4991, true)).source == SteerSource::kRss);

  CHECK(s.lookup(flow("fd00::9", 5, "fd00:1:2:3:aaaa::1", 443)).queue == 7);
  CHECK(s.lookup(flow("fd00::9", 5, "fd00:1:2:4::1", 443)).source == SteerSource::kRss);
  CHECK(s.lookup(flow("fd00::9", 5, "fd00:1:2:3::1", 444)).source == SteerSource::kRss);
}

TEST_CASE("ntuple: a rule matches only its flow type", "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(8);
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(5001).action(3));  // every other field wildcard
  CHECK(s.lookup(flow("10.0.0.1", 1, "10.0.0.2", 5001)).queue == 3);
  CHECK(s.lookup(flow("10.0.0.1", 1, "10.0.0.2", 5001, true)).source == SteerSource::kRss);  // udp4
  CHECK(s.lookup(flow("fd00::1", 1, "fd00::2", 5001)).source == SteerSource::kRss);          // tcp6
}

TEST_CASE("ntuple: action -1 drops the packet and counts it", "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(4);
  const std::uint32_t loc = insert_ok(s, Rule(FlowType::kUdpV6).src_ip("2001:db8::66").drop());
  const w::ParsedPacket p = flow("2001:db8::66", 9, "2001:db8::1", 53, true);
  const SteeringDecision d = s.steer(p);
  CHECK(d.drop);
  CHECK(d.source == SteerSource::kRuleDrop);
  CHECK(d.rule == loc);
  CHECK(s.stats().ntuple_drops == 1);
  CHECK(s.stats().ntuple_hits == 1);
  CHECK(s.ntuple_rule(loc)->hits == 1);
  CHECK_FALSE(s.steer(flow("2001:db8::67", 9, "2001:db8::1", 53, true)).drop);
  CHECK(s.stats().ntuple_drops == 1);
}

TEST_CASE("ntuple: action context spreads the flow over that context's table with its own key",
          "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(8);
  RxfhRequest req = indir({4, 5});  // `context new start 4 equal 2`
  const RssKey key = rss_key_from_seed(11);
  req.key = std::vector<std::uint8_t>(key.begin(), key.end());
  const std::uint32_t ctx = s.create_rss_context(req).value();
  const std::uint32_t loc = insert_ok(s, Rule(FlowType::kTcpV4).dst_port(5001).context(ctx));

  std::set<std::uint32_t> seen;
  for (std::uint16_t sport = 1000; sport < 1200; ++sport) {
    const w::ParsedPacket p = flow("10.0.0.1", sport, "10.0.0.2", 5001);
    const SteeringDecision d = s.steer(p);
    REQUIRE(d.source == SteerSource::kRuleContext);
    REQUIRE(d.rule == loc);
    REQUIRE(d.rss_context == ctx);
    const std::uint32_t h = toeplitz_hash(key, hash_input(p.src_ip, p.dst_ip, p.src_port, p.dst_port).span());
    REQUIRE(d.rss_hash == h);
    REQUIRE(d.queue == (h % 128 % 2 == 0 ? 4u : 5u));
    seen.insert(d.queue);
  }
  CHECK(seen == std::set<std::uint32_t>{4, 5});
  CHECK(s.rss_context(ctx)->packets() == 200);
  CHECK(s.rss_context(0)->packets() == 0);
  CHECK(s.ntuple_rule(loc)->hits == 200);
}

TEST_CASE("ntuple: context with action N adds N to the table entry when the NIC adds them",
          "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(8);
  const std::uint32_t ctx = s.create_rss_context(indir({0, 1})).value();  // `context new equal 2`
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(80).context(ctx));
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(81).context(ctx, 2));
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(82).context(ctx, 6));
  std::map<std::uint16_t, std::set<std::uint32_t>> seen;
  for (std::uint16_t sport = 1; sport < 200; ++sport) {
    for (const std::uint16_t dport : {80, 81, 82})
      seen[dport].insert(s.lookup(flow("10.0.0.1", sport, "10.0.0.2", dport)).queue);
  }
  CHECK(seen[80] == std::set<std::uint32_t>{0, 1});
  CHECK(seen[81] == std::set<std::uint32_t>{2, 3});
  CHECK(seen[82] == std::set<std::uint32_t>{6, 7});
  // Offset 7 would reach queue 8.
  CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(83).context(ctx, 7)) == -EINVAL);
  // The context's table cannot grow past what the rules allow.
  const Status grow = s.set_rxfh(ctx, indir({0, 1, 2}));
  CHECK(grow.code == -EINVAL);  // size 3 does not divide 128
  const Status reach = s.set_rxfh(ctx, indir({0, 2}));
  CHECK(reach.code == -EINVAL);  // rule at dport 82: 6 + 2 = 8
  CHECK_THAT(reach.message, Catch::Contains("rule 2"));

  SteeringConfig no_adds;
  no_adds.rss_rxnfc_adds = false;
  Steering t = make_steering(8, 0, no_adds);
  const std::uint32_t c = t.create_rss_context({}).value();
  CHECK(insert_err(t, Rule(FlowType::kTcpV4).dst_port(81).context(c, 2)) == -EINVAL);
  insert_ok(t, Rule(FlowType::kTcpV4).dst_port(80).context(c));
}

TEST_CASE("ntuple: a rule may steer into the default context", "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(4);
  require_ok(s.set_rxfh(0, indir({1})));
  insert_ok(s, Rule(FlowType::kUdpV4).dst_port(53).context(0, 2));
  const SteeringDecision d = s.lookup(flow("10.0.0.1", 1, "10.0.0.2", 53, true));
  CHECK(d.source == SteerSource::kRuleContext);
  CHECK(d.rss_context == 0);
  CHECK(d.queue == 3);
}

TEST_CASE("ntuple: special locations take the lowest free (any, first) or highest free (last) location",
          "[nic][steering][ntuple][unit]") {
  SteeringConfig cfg;
  cfg.ntuple_capacity = 8;
  Steering s = make_steering(4, 0, cfg);
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(1).action(0)) == 0);
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(2).action(0)) == 1);
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(3).action(0).loc(2)) == 2);
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(4).action(0).loc(kRxClsLocAny)) == 3);
  require_ok(s.delete_ntuple_rule(1));
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(5).action(0).loc(kRxClsLocFirst)) == 1);
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(6).action(0).loc(kRxClsLocLast)) == 7);
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(7).action(0).loc(kRxClsLocLast)) == 6);
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(8).action(0)) == 4);
  CHECK(insert_ok(s, Rule(FlowType::kTcpV4).dst_port(9).action(0)) == 5);
  CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(10).action(0)) == -ENOSPC);
  CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(10).action(0).loc(kRxClsLocLast)) == -ENOSPC);
  CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(10).action(0).loc(kRxClsLocFirst)) == -ENOSPC);
}

TEST_CASE("ntuple: rules list in location order with their hit counts and masked values",
          "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(4);
  insert_ok(s, Rule(FlowType::kTcpV4).dst_ip("10.1.2.3", "255.255.0.0").action(1).loc(9));
  insert_ok(s, Rule(FlowType::kUdpV6).dst_port(53).action(2).loc(4));
  insert_ok(s, Rule(FlowType::kTcpV4).src_port(22).drop().loc(6));
  s.steer(flow("10.0.0.1", 1, "10.1.9.9", 2));
  s.steer(flow("10.0.0.1", 1, "10.1.9.9", 3));
  s.steer(flow("fd00::1", 1, "fd00::2", 53, true));

  const auto rules = s.ntuple_rules();
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].rule.location == 4);
  CHECK(rules[1].rule.location == 6);
  CHECK(rules[2].rule.location == 9);
  CHECK(rules[0].hits == 1);
  CHECK(rules[1].hits == 0);
  CHECK(rules[2].hits == 2);
  CHECK(rules[2].rule.dst_ip == ip("10.1.0.0"));  // stored under its mask
  CHECK(rules[2].rule.dst_ip_mask == ip("255.255.0.0"));
  CHECK(rules[1].rule.action == NtupleAction::kDrop);
  CHECK(s.ntuple_rule(5) == nullptr);
  CHECK(s.ntuple_capacity() == 1024);
}

TEST_CASE("ntuple: insert errors carry the kernel's errno", "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(8);
  const std::uint32_t ctx = s.create_rss_context({}).value();  // spreads over all 8 queues

  SECTION("queue beyond the RX queues") {
    CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(1).action(8)) == -EINVAL);
  }
  SECTION("unknown RSS context") { CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(1).context(9)) == -EINVAL); }
  SECTION("context table plus offset beyond the RX queues") {
    CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(1).context(ctx, 1)) == -EINVAL);
  }
  SECTION("flow types the NIC does not filter") {
    for (const FlowType t : {FlowType::kSctpV4, FlowType::kAhEspV4, FlowType::kIpUserV4, FlowType::kIpUserV6,
                             FlowType::kEther, FlowType::kIpV4, static_cast<FlowType>(0x77)}) {
      INFO(to_string(t));
      CHECK(insert_err(s, Rule(t).action(1)) == -EINVAL);
    }
  }
  SECTION("an address of the other family") {
    CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_ip("fd00::1").action(1)) == -EINVAL);
    CHECK(insert_err(s, Rule(FlowType::kUdpV6).src_ip("fd00::1", "255.255.255.0").action(1)) == -EINVAL);
  }
  SECTION("location out of range") {
    CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(1).action(1).loc(1024)) == -EINVAL);
    CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(1).action(1).loc(0x80000000u)) == -EINVAL);
  }
  SECTION("location taken, unless replacing") {
    insert_ok(s, Rule(FlowType::kTcpV4).dst_port(1).action(1).loc(5));
    s.steer(flow("10.0.0.1", 9, "10.0.0.2", 1));
    CHECK(insert_err(s, Rule(FlowType::kTcpV4).dst_port(2).action(2).loc(5)) == -EEXIST);
    CHECK(s.lookup(flow("10.0.0.1", 9, "10.0.0.2", 1)).queue == 1);  // untouched
    auto r = s.insert_ntuple_rule(Rule(FlowType::kTcpV4).dst_port(2).action(2).loc(5), true);
    REQUIRE(r.has_value());
    CHECK(r.value() == 5);
    CHECK(s.lookup(flow("10.0.0.1", 9, "10.0.0.2", 1)).source == SteerSource::kRss);
    CHECK(s.lookup(flow("10.0.0.1", 9, "10.0.0.2", 2)).queue == 2);
    CHECK(s.ntuple_rule(5)->hits == 0);
    CHECK(s.ntuple_rules().size() == 1);
  }
  // A refused rule leaves nothing behind.
  CHECK(s.ntuple_rules().size() <= 1);
}

TEST_CASE("ntuple: delete errors: location out of range, no rule there", "[nic][steering][ntuple][unit]") {
  Steering s = make_steering(4);
  CHECK(s.delete_ntuple_rule(1024).code == -EINVAL);
  CHECK(s.delete_ntuple_rule(3).code == -ENOENT);
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(1).action(1).loc(3));
  require_ok(s.delete_ntuple_rule(3));
  CHECK(s.delete_ntuple_rule(3).code == -ENOENT);
  CHECK(s.ntuple_rules().empty());
  CHECK(s.lookup(flow("10.0.0.1", 9, "10.0.0.2", 1)).source == SteerSource::kRss);
}

TEST_CASE("ntuple: the tuple-space lookup agrees with a scan of the rules in location order",
          "[nic][steering][ntuple][unit]") {
  SteeringConfig cfg;
  cfg.ntuple_capacity = 256;
  Steering s = make_steering(8, 0, cfg);
  sim::Rng rng(1234);
  const std::vector<const char*> nets{"10.0.0.0", "10.0.1.0", "10.1.0.0"};
  const std::vector<const char*> masks{"255.255.255.255", "255.255.255.0", "255.255.0.0", "0.0.0.0"};
  auto pick = [&](const auto& v) { return v[rng.uniform(v.size())]; };
  // A packet drawn near the rules' values, so that many match and many overlap.
  auto random_packet = [&] {
    w::ParsedPacket p;
    p.l3 = w::L3Kind::kIpv4;
    const bool udp = rng.bernoulli(0.3);
    p.l4 = udp ? w::L4Kind::kUdp : w::L4Kind::kTcp;
    auto near = [&](const char* base) {
      return w::Ipv4Address::from_u32(ip(base).v4().to_u32() + static_cast<std::uint32_t>(rng.uniform(4)));
    };
    p.src_ip = near(pick(nets));
    p.dst_ip = near(pick(nets));
    p.src_port = static_cast<std::uint16_t>(1000 + rng.uniform(4));
    p.dst_port = static_cast<std::uint16_t>(80 + rng.uniform(4));
    return p;
  };
  auto matches = [](const NtupleRule& r, const w::ParsedPacket& p) {
    const FlowType ft = p.l4 == w::L4Kind::kUdp ? FlowType::kUdpV4 : FlowType::kTcpV4;
    if (r.flow_type != ft) return false;
    auto field = [](const w::IpAddress& a) { return a.is_v4() ? a.v4().to_u32() : 0u; };
    if ((p.src_ip.v4().to_u32() & field(r.src_ip_mask)) != field(r.src_ip)) return false;
    if ((p.dst_ip.v4().to_u32() & field(r.dst_ip_mask)) != field(r.dst_ip)) return false;
    if ((p.src_port & r.src_port_mask) != r.src_port) return false;
    if ((p.dst_port & r.dst_port_mask) != r.dst_port) return false;
    return true;
  };

  int compared = 0;
  int matched = 0;
  for (int round = 0; round < 40; ++round) {
    // Insert six rules at random locations (some replace, some are refused), delete up to five.
    for (int i = 0; i < 6; ++i) {
      Rule r(rng.bernoulli(0.3) ? FlowType::kUdpV4 : FlowType::kTcpV4);
      if (rng.bernoulli(0.7)) r.src_ip(pick(nets), pick(masks));
      if (rng.bernoulli(0.7)) r.dst_ip(pick(nets), pick(masks));
      if (rng.bernoulli(0.5))
        r.src_port(static_cast<std::uint16_t>(1000 + rng.uniform(4)), rng.bernoulli(0.5) ? 0xffff : 0xfffe);
      if (rng.bernoulli(0.5))
        r.dst_port(static_cast<std::uint16_t>(80 + rng.uniform(4)), rng.bernoulli(0.5) ? 0xffff : 0xfffc);
      r.action(static_cast<std::uint32_t>(rng.uniform(8))).loc(static_cast<std::uint32_t>(rng.uniform(256)));
      (void)s.insert_ntuple_rule(r, rng.bernoulli(0.5));
    }
    const auto listed = s.ntuple_rules();
    for (int i = 0; i < 5 && !listed.empty(); ++i) {
      (void)s.delete_ntuple_rule(listed[rng.uniform(listed.size())].rule.location);
    }
    const auto rules = s.ntuple_rules();  // location order
    for (int i = 0; i < 50; ++i) {
      const w::ParsedPacket p = random_packet();
      std::optional<std::uint32_t> expect;
      for (const auto& info : rules) {
        if (matches(info.rule, p)) {
          expect = info.rule.location;
          break;
        }
      }
      const SteeringDecision d = s.lookup(p);
      INFO("round " << round << " packet " << i);
      REQUIRE(d.rule == expect);
      ++compared;
      if (expect) ++matched;
    }
  }
  CHECK(compared == 2000);
  CHECK(matched > 200);  // the comparison exercised real matches, not just misses
  CHECK(matched < 1900);
}

TEST_CASE("steering: steer() gives lookup()'s decision after every kind of configuration change",
          "[nic][steering][unit]") {
  // steer() remembers recent flows' decisions; each change below must make it decide afresh, so
  // after each one every flow is steered twice (the second from the memo) and compared with
  // lookup(), which computes from scratch.
  Steering s = make_steering(4, 8);
  std::vector<w::ParsedPacket> flows;
  for (std::uint16_t i = 0; i < 40; ++i) {
    flows.push_back(flow("192.0.2.1", static_cast<std::uint16_t>(40000 + i), "192.0.2.2", 5201 + i % 4, i % 5 == 0));
  }
  flows.push_back(flow("2001:db8::1", 40000, "2001:db8::2", 5201));
  auto agree = [&](const char* after) {
    INFO("after " << after);
    for (int round = 0; round < 2; ++round) {
      for (const w::ParsedPacket& p : flows) {
        const SteeringDecision want = s.lookup(p);
        const SteeringDecision got = s.steer(p);
        REQUIRE(got.source == want.source);
        REQUIRE(got.queue == want.queue);
        REQUIRE(got.drop == want.drop);
        REQUIRE(got.rss_hash == want.rss_hash);
        REQUIRE(got.hash_type == want.hash_type);
        REQUIRE(got.rule == want.rule);
        REQUIRE(got.rss_context == want.rss_context);
        REQUIRE(got.indir_index == want.indir_index);
      }
    }
  };
  agree("creation");
  const std::uint32_t to_q3 = insert_ok(s, Rule(FlowType::kTcpV4).dst_port(5202).action(3));
  agree("a rule inserted");
  (void)insert_ok(s, Rule(FlowType::kUdpV4).dst_port(5201).drop());
  agree("a drop rule inserted");
  require_ok(s.set_rx_queues(8));  // the default spread covers the new queues
  agree("the queue count changed");
  require_ok(s.set_rxfh(0, indir({1, 0})));
  agree("the default table changed");
  RxfhRequest key;
  key.key = std::vector<std::uint8_t>(kRssKeyLen, 0x5a);
  require_ok(s.set_rxfh(0, key));
  agree("the key changed");
  require_ok(s.set_rx_flow_hash(0, FlowType::kTcpV4, kRxhIpSrc | kRxhIpDst));
  agree("rx-flow-hash changed");
  auto ctx = s.create_rss_context(indir({2, 3}));
  REQUIRE(ctx.has_value());
  const std::uint32_t into_ctx = insert_ok(s, Rule(FlowType::kTcpV4).dst_port(5203).context(ctx.value()));
  agree("a context and a rule into it");  // creating or removing an unused context changes no decision
  require_ok(s.set_rxfh(ctx.value(), indir({3, 2})));
  agree("the context's table changed");
  require_ok(s.delete_ntuple_rule(into_ctx));
  require_ok(s.remove_rss_context(ctx.value()));
  agree("the context's rule and the context removed");
  require_ok(s.delete_ntuple_rule(to_q3));
  agree("a rule deleted");
}
