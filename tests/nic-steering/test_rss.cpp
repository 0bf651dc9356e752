// RSS: the indirection table (default spread, ethtool -X equal / start / weight, user tables and
// their checks), queue = table[hash % size], spreading of many flows, channel changes, hash fields
// per flow type (rx-flow-hash) and additional RSS contexts, with every error the kernel returns.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <set>
#include <vector>

#include "nicemu/nic/hw/steering.hpp"
#include "nicemu/sim/random.hpp"
#include "steering_helpers.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using testing::ip;
using testing::make_steering;
using testing::require_ok;
namespace w = netstack::wire;

namespace {

std::vector<std::uint32_t> table_of(const Steering& s, std::uint32_t ctx = 0) {
  const RssContext* c = s.rss_context(ctx);
  REQUIRE(c != nullptr);
  return c->indir();
}

std::map<std::uint32_t, int> histogram(const std::vector<std::uint32_t>& t) {
  std::map<std::uint32_t, int> h;
  for (const auto q : t) ++h[q];
  return h;
}

// A parsed TCP/UDP packet without building bytes: what parse_packet would report.
w::ParsedPacket flow(const w::IpAddress& src, std::uint16_t sport, const w::IpAddress& dst, std::uint16_t dport,
                     bool udp = false) {
  w::ParsedPacket p;
  p.l3 = src.is_v6() ? w::L3Kind::kIpv6 : w::L3Kind::kIpv4;
  p.l4 = udp ? w::L4Kind::kUdp : w::L4Kind::kTcp;
  p.ip_protocol = udp ? 17 : 6;
  p.src_ip = src;
  p.dst_ip = dst;
  p.src_port = sport;
  p.dst_port = dport;
  return p;
}

w::ParsedPacket random_flow(sim::Rng& rng, bool v6 = false, bool udp = false) {
  w::IpAddress src, dst;
  if (v6) {
    w::Ipv6Address a, b;
    for (auto& x : a.octets) x = static_cast<std::uint8_t>(rng.next_u64());
    for (auto& x : b.octets) x = static_cast<std::uint8_t>(rng.next_u64());
    src = a;
    dst = b;
  } else {
    src = w::Ipv4Address::from_u32(static_cast<std::uint32_t>(rng.next_u64()));
    dst = w::Ipv4Address::from_u32(static_cast<std::uint32_t>(rng.next_u64()));
  }
  return flow(src, static_cast<std::uint16_t>(rng.next_u64()), dst, static_cast<std::uint16_t>(rng.next_u64()), udp);
}

RxfhRequest indir(std::vector<std::uint32_t> t) {
  RxfhRequest r;
  r.indir = std::move(t);
  return r;
}

std::vector<std::uint32_t> equal(std::uint32_t size, std::uint32_t n, std::uint32_t start = 0) {
  auto t = ethtool_indir_equal(size, n, start);
  REQUIRE(t.has_value());
  return t.value();
}

std::uint32_t l4_hash(const RssKey& key, const w::ParsedPacket& p) {
  return toeplitz_hash(key, hash_input(p.src_ip, p.dst_ip, p.src_port, p.dst_port).span());
}
std::uint32_t l3_hash(const RssKey& key, const w::ParsedPacket& p) {
  return toeplitz_hash(key, hash_input(p.src_ip, p.dst_ip).span());
}

}  // namespace

// ---- indirection table -----------------------------------------------------------------------------

TEST_CASE("rss: the default table spreads 128 entries over N queues as index mod N", "[nic][steering][rss][unit]") {
  for (const std::uint32_t n : {1u, 3u, 4u, 7u, 16u}) {
    INFO(n << " queues");
    const Steering s = make_steering(n);
    const auto t = table_of(s);
    REQUIRE(t.size() == 128);
    for (std::uint32_t i = 0; i < 128; ++i) CHECK(t[i] == i % n);
    CHECK_FALSE(s.rss_context(0)->indir_configured());
  }
}

TEST_CASE("rss: equal N start S fills entry i with S + i mod N", "[nic][steering][rss][unit]") {
  const auto t = equal(128, 3, 2);
  for (std::uint32_t i = 0; i < 128; ++i) CHECK(t[i] == 2 + i % 3);
  Steering s = make_steering(8);
  require_ok(s.set_rxfh(0, indir(t)));
  CHECK(table_of(s) == t);
  CHECK(s.rss_context(0)->indir_configured());
  auto zero = ethtool_indir_equal(128, 0);
  REQUIRE_FALSE(zero.has_value());
  CHECK(zero.error().code == -EINVAL);
}

TEST_CASE("rss: weight gives each queue a share of the table proportional to its weight",
          "[nic][steering][rss][unit]") {
  const std::array<std::uint32_t, 2> w12{1, 2};
  auto small = ethtool_indir_weight(6, w12);
  REQUIRE(small.has_value());
  CHECK(small.value() == std::vector<std::uint32_t>{0, 0, 1, 1, 1, 1});

  const std::array<std::uint32_t, 3> w112{1, 1, 2};
  auto t = ethtool_indir_weight(128, w112);
  REQUIRE(t.has_value());
  CHECK(histogram(t.value()) == std::map<std::uint32_t, int>{{0, 32}, {1, 32}, {2, 64}});
  CHECK(std::is_sorted(t.value().begin(), t.value().end()));  // queues in order, each a contiguous run

  // A zero weight skips its queue; start shifts every queue.
  const std::array<std::uint32_t, 3> w301{3, 0, 1};
  auto shifted = ethtool_indir_weight(128, w301, 4);
  REQUIRE(shifted.has_value());
  CHECK(histogram(shifted.value()) == std::map<std::uint32_t, int>{{4, 96}, {6, 32}});
}

TEST_CASE("rss: weight errors are ethtool's: all weights zero, a sum above the table size",
          "[nic][steering][rss][unit]") {
  const std::array<std::uint32_t, 2> zeros{0, 0};
  auto a = ethtool_indir_weight(128, zeros);
  REQUIRE_FALSE(a.has_value());
  CHECK(a.error().code == -EINVAL);
  CHECK(a.error().message == "At least one weight must be non-zero");
  const std::array<std::uint32_t, 2> big{100, 29};
  auto b = ethtool_indir_weight(128, big);
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error().code == -EINVAL);
  CHECK(b.error().message == "Total weight exceeds the size of the indirection table");
  const std::array<std::uint32_t, 2> exact{100, 28};
  CHECK(ethtool_indir_weight(128, exact).has_value());
}

TEST_CASE("rss: the queue is table[hash mod size] with the Toeplitz hash of the flow", "[nic][steering][rss][unit]") {
  Steering s = make_steering(16);
  sim::Rng rng(7);
  std::vector<std::uint32_t> t(128);
  for (auto& e : t) e = static_cast<std::uint32_t>(rng.uniform(16));
  require_ok(s.set_rxfh(0, indir(t)));
  for (int i = 0; i < 500; ++i) {
    const w::ParsedPacket p = random_flow(rng, i % 2 == 1);
    const SteeringDecision d = s.lookup(p);
    const std::uint32_t h = l4_hash(kMicrosoftRssKey, p);
    REQUIRE(d.source == SteerSource::kRss);
    REQUIRE(d.rss_hash == h);
    REQUIRE(d.hash_type == RssHashType::kL4);
    REQUIRE(d.indir_index == h % 128);
    REQUIRE(d.queue == t[h % 128]);
  }
}

TEST_CASE("rss: 4000 flows spread evenly over the queues of the default table", "[nic][steering][rss][unit]") {
  Steering s = make_steering(4);
  sim::Rng rng(99);
  std::array<int, 4> per_queue{};
  for (int i = 0; i < 4000; ++i) ++per_queue[s.lookup(random_flow(rng)).queue];
  for (const int n : per_queue) {
    CHECK(n > 850);  // 1000 expected; the binomial spread is about 27
    CHECK(n < 1150);
  }
}

TEST_CASE("rss: equal 2 start 2 sends every flow to queue 2 or 3 and equal 5 on 4 queues is refused",
          "[nic][steering][rss][unit]") {
  Steering s = make_steering(4);
  require_ok(s.set_rxfh(0, indir(equal(128, 2, 2))));
  sim::Rng rng(3);
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(s.lookup(random_flow(rng)).queue);
  CHECK(seen == std::set<std::uint32_t>{2, 3});

  const Status st = s.set_rxfh(0, indir(equal(128, 5)));
  CHECK(st.code == -EINVAL);
  CHECK(st.message == "entry 4: queue out of range (4)");
  CHECK(table_of(s) == equal(128, 2, 2));  // unchanged
}

TEST_CASE("rss: a table smaller than the device's is repeated when its size divides 128",
          "[nic][steering][rss][unit]") {
  Steering s = make_steering(4);
  require_ok(s.set_rxfh(0, indir({3, 1})));
  const auto t = table_of(s);
  for (std::uint32_t i = 0; i < 128; ++i) CHECK(t[i] == (i % 2 == 0 ? 3u : 1u));
  const Status st = s.set_rxfh(0, indir({0, 1, 2}));
  CHECK(st.code == -EINVAL);
  CHECK(st.message == "size (3) mismatch with device indir table (128)");
}

TEST_CASE("rss: set_rxfh checks the key length and the context", "[nic][steering][rss][unit]") {
  Steering s = make_steering(4);
  RxfhRequest bad_key;
  bad_key.key = std::vector<std::uint8_t>(39, 1);
  CHECK(s.set_rxfh(0, bad_key).code == -EINVAL);
  CHECK(s.set_rxfh(5, indir({0})).code == -ENOENT);

  RxfhRequest key;
  const RssKey k = rss_key_from_seed(1);
  key.key = std::vector<std::uint8_t>(k.begin(), k.end());
  require_ok(s.set_rxfh(0, key));
  CHECK(s.rss_context(0)->key() == k);
  const w::ParsedPacket p = flow(ip("10.0.0.1"), 1000, ip("10.0.0.2"), 80);
  CHECK(s.lookup(p).rss_hash == l4_hash(k, p));
}

TEST_CASE("rss: ethtool -X default restores the spread and marks the table unconfigured",
          "[nic][steering][rss][unit]") {
  Steering s = make_steering(4);
  require_ok(s.set_rxfh(0, indir(equal(128, 1, 3))));
  require_ok(s.set_rxfh(0, indir({})));
  CHECK(table_of(s) == ethtool_indir_default(128, 4));
  CHECK_FALSE(s.rss_context(0)->indir_configured());
}

// ---- channel changes ----------------------------------------------------------------------------------

TEST_CASE("rss: a channel change respreads a default table and keeps a table the user set",
          "[nic][steering][rss][unit]") {
  Steering s = make_steering(4, 8);
  require_ok(s.set_rx_queues(2));
  CHECK(table_of(s) == ethtool_indir_default(128, 2));
  require_ok(s.set_rx_queues(8));
  CHECK(table_of(s) == ethtool_indir_default(128, 8));
  CHECK(s.rx_queues() == 8);

  require_ok(s.set_rxfh(0, indir(equal(128, 4))));
  require_ok(s.set_rx_queues(6));
  CHECK(table_of(s) == equal(128, 4));
}

TEST_CASE("rss: set_rx_queues refuses counts the tables and rules in use need", "[nic][steering][rss][unit]") {
  Steering s = make_steering(8);
  CHECK(s.set_rx_queues(0).code == -EINVAL);
  CHECK(s.set_rx_queues(9).code == -EINVAL);

  require_ok(s.set_rxfh(0, indir(equal(128, 4))));
  const Status low = s.set_rx_queues(3);
  CHECK(low.code == -EINVAL);
  CHECK(low.message == "requested channel counts are too low for existing indirection table (3)");
  require_ok(s.set_rx_queues(4));

  // Contexts count whether or not the user set their table.
  require_ok(s.set_rx_queues(8));
  auto ctx = s.create_rss_context({});
  REQUIRE(ctx.has_value());
  CHECK(s.set_rx_queues(7).code == -EINVAL);
  require_ok(s.remove_rss_context(ctx.value()));

  testing::insert_ok(s, testing::RuleBuilder(FlowType::kTcpV4).dst_port(5001).action(5));
  const Status rules = s.set_rx_queues(5);
  CHECK(rules.code == -EINVAL);
  CHECK(rules.message == "requested channel counts are too low for existing ntuple filter settings");
  require_ok(s.set_rx_queues(6));
  CHECK(s.rx_queues() == 6);
}

// ---- hash fields ------------------------------------------------------------------------------------------

TEST_CASE("rss: rx-flow-hash defaults are tcp sdfn, udp sd and other IP sd in every flow type",
          "[nic][steering][rss][unit]") {
  const Steering s = make_steering(4);
  auto get = [&](FlowType t) {
    auto r = s.rx_flow_hash(0, t);
    REQUIRE(r.has_value());
    return r.value();
  };
  CHECK(get(FlowType::kTcpV4) == kRxh4Tuple);
  CHECK(get(FlowType::kTcpV6) == kRxh4Tuple);
  CHECK(get(FlowType::kUdpV4) == kRxh2Tuple);
  CHECK(get(FlowType::kUdpV6) == kRxh2Tuple);
  CHECK(get(FlowType::kIpV4) == kRxh2Tuple);
  CHECK(get(FlowType::kIpV6) == kRxh2Tuple);
  CHECK(rxh_to_string(get(FlowType::kTcpV4)) == "sdfn");
}

TEST_CASE("rss: rx-flow-hash selects the Toeplitz input: udp4 sdfn adds ports, tcp4 sd drops them, none hashes nothing",
          "[nic][steering][rss][unit]") {
  Steering s = make_steering(4);
  require_ok(s.set_rxfh(0, indir({2, 1, 0, 3})));
  const w::ParsedPacket udp = flow(ip("10.1.1.1"), 4000, ip("10.2.2.2"), 53, true);
  const w::ParsedPacket tcp = flow(ip("10.1.1.1"), 4000, ip("10.2.2.2"), 80);

  SteeringDecision d = s.lookup(udp);
  CHECK(d.hash_type == RssHashType::kL3);
  CHECK(d.rss_hash == l3_hash(kMicrosoftRssKey, udp));
  require_ok(s.set_rx_flow_hash(0, FlowType::kUdpV4, kRxh4Tuple));
  d = s.lookup(udp);
  CHECK(d.hash_type == RssHashType::kL4);
  CHECK(d.rss_hash == l4_hash(kMicrosoftRssKey, udp));

  require_ok(s.set_rx_flow_hash(0, FlowType::kTcpV4, kRxh2Tuple));
  d = s.lookup(tcp);
  CHECK(d.hash_type == RssHashType::kL3);
  CHECK(d.rss_hash == l3_hash(kMicrosoftRssKey, tcp));

  require_ok(s.set_rx_flow_hash(0, FlowType::kTcpV4, 0));
  d = s.lookup(tcp);
  CHECK(d.hash_type == RssHashType::kNone);
  CHECK(d.rss_hash == 0);
  CHECK(d.indir_index == 0u);
  CHECK(d.queue == 2);  // entry 0
  // IPv6 TCP keeps its own setting.
  CHECK(s.lookup(flow(ip("fd00::1"), 1, ip("fd00::2"), 2)).hash_type == RssHashType::kL4);
}

TEST_CASE("rss: rx-flow-hash errors: unknown bits, unknown context, unhashed flow type, field sets the NIC lacks",
          "[nic][steering][rss][unit]") {
  Steering s = make_steering(4);
  CHECK(s.set_rx_flow_hash(0, FlowType::kTcpV4, 1u << 12).code == -EINVAL);                // outside RFH_MASK
  CHECK(s.set_rx_flow_hash(0, FlowType::kTcpV4, kRxh2Tuple | kRxhIp6Fl).code == -EINVAL);  // flow label on IPv4
  CHECK(s.set_rx_flow_hash(3, FlowType::kTcpV4, kRxh4Tuple).code == -ENOENT);
  CHECK(s.set_rx_flow_hash(0, FlowType::kSctpV4, kRxh2Tuple).code == -EINVAL);
  CHECK(s.set_rx_flow_hash(0, FlowType::kEther, kRxhL2Da).code == -EINVAL);
  CHECK(s.set_rx_flow_hash(0, FlowType::kTcpV4, kRxhIpSrc).code == -EINVAL);               // "s"
  CHECK(s.set_rx_flow_hash(0, FlowType::kTcpV4, kRxh2Tuple | kRxhL4B01).code == -EINVAL);  // "sdf"
  CHECK(s.set_rx_flow_hash(0, FlowType::kTcpV6, kRxh4Tuple | kRxhL2Da).code == -EINVAL);   // "msdfn"
  CHECK(s.set_rx_flow_hash(0, FlowType::kIpV4, kRxh4Tuple).code == -EINVAL);               // ip4 has no ports
  CHECK(s.set_rx_flow_hash(0, FlowType::kIpV6, kRxh2Tuple | kRxhIp6Fl).code == -EINVAL);   // "sdl"
  CHECK(s.rx_flow_hash(3, FlowType::kTcpV4).error().code == -ENOENT);
  CHECK(s.rx_flow_hash(0, FlowType::kSctpV6).error().code == -EINVAL);
  // Nothing changed.
  CHECK(s.rx_flow_hash(0, FlowType::kTcpV4).value() == kRxh4Tuple);
  CHECK(s.rx_flow_hash(0, FlowType::kIpV4).value() == kRxh2Tuple);
}

// ---- contexts ---------------------------------------------------------------------------------------------

TEST_CASE("rss: new contexts get ids from 1 with their own table, key and hash fields", "[nic][steering][rss][unit]") {
  Steering s = make_steering(8);
  CHECK(s.create_rss_context({}).value() == 1);
  CHECK(s.create_rss_context({}).value() == 2);
  CHECK(s.create_rss_context({}).value() == 3);
  require_ok(s.remove_rss_context(2));
  CHECK(s.create_rss_context({}).value() == 2);  // lowest free id (xa_alloc)
  CHECK(s.create_rss_context({}, 7).value() == 7);
  CHECK(s.rss_context_ids() == std::vector<std::uint32_t>{0, 1, 2, 3, 7});

  // Defaults: spread over all queues, the device key, default fields.
  const RssContext* c1 = s.rss_context(1);
  REQUIRE(c1 != nullptr);
  CHECK(c1->indir() == ethtool_indir_default(128, 8));
  CHECK(c1->key() == kMicrosoftRssKey);
  CHECK(c1->rx_flow_hash(HashFlow::kTcp4) == kRxh4Tuple);
  CHECK_FALSE(c1->indir_configured());

  // `context new start 3 equal 2 hkey ...`
  RxfhRequest req = indir(equal(128, 2, 3));
  const RssKey k = rss_key_from_seed(5);
  req.key = std::vector<std::uint8_t>(k.begin(), k.end());
  const std::uint32_t id = s.create_rss_context(req).value();
  CHECK(id == 4);
  CHECK(s.rss_context(id)->indir() == equal(128, 2, 3));
  CHECK(s.rss_context(id)->key() == k);
  CHECK(s.rss_context(id)->indir_configured());

  // Per-context changes leave the default context alone.
  require_ok(s.set_rxfh(1, indir(equal(128, 1, 6))));
  require_ok(s.set_rx_flow_hash(1, FlowType::kUdpV4, kRxh4Tuple));
  CHECK(s.rss_context(1)->indir() == equal(128, 1, 6));
  CHECK(s.rx_flow_hash(1, FlowType::kUdpV4).value() == kRxh4Tuple);
  CHECK(table_of(s) == ethtool_indir_default(128, 8));
  CHECK(s.rx_flow_hash(0, FlowType::kUdpV4).value() == kRxh2Tuple);
  // A context's table cannot be reset to the default spread.
  const Status reset = s.set_rxfh(1, indir({}));
  CHECK(reset.code == -EINVAL);
  CHECK(reset.message == "can't reset table for a context");
}

TEST_CASE("rss: context creation errors: id out of range, id taken, no id free, bad table or key",
          "[nic][steering][rss][unit]") {
  SteeringConfig cfg;
  cfg.max_rss_contexts = 3;  // ids 1 and 2
  Steering s = make_steering(4, 0, cfg);
  CHECK(s.create_rss_context({}, 0).error().code == -ERANGE);
  CHECK(s.create_rss_context({}, 3).error().code == -ERANGE);
  CHECK(s.create_rss_context(indir({})).error().code == -ERANGE);
  CHECK(s.create_rss_context(indir({0, 4})).error().code == -EINVAL);
  CHECK(s.create_rss_context(indir({0, 1, 2})).error().code == -EINVAL);
  RxfhRequest short_key;
  short_key.key = std::vector<std::uint8_t>(16, 0);
  CHECK(s.create_rss_context(short_key).error().code == -EINVAL);
  CHECK(s.rss_context_ids() == std::vector<std::uint32_t>{0});  // nothing was made

  CHECK(s.create_rss_context({}, 2).value() == 2);
  CHECK(s.create_rss_context({}, 2).error().code == -EBUSY);
  CHECK(s.create_rss_context({}).value() == 1);
  const auto full = s.create_rss_context({});
  REQUIRE_FALSE(full.has_value());
  CHECK(full.error().code == -EBUSY);
}

TEST_CASE("rss: context deletion: the default context, unknown ids, contexts a rule uses",
          "[nic][steering][rss][unit]") {
  Steering s = make_steering(4);
  const std::uint32_t id = s.create_rss_context({}).value();
  CHECK(s.remove_rss_context(0).code == -ERANGE);
  CHECK(s.remove_rss_context(9).code == -ENOENT);
  const std::uint32_t loc = testing::insert_ok(s, testing::RuleBuilder(FlowType::kTcpV4).dst_port(80).context(id));
  const Status busy = s.remove_rss_context(id);
  CHECK(busy.code == -EBUSY);
  CHECK(s.rss_context(id) != nullptr);
  require_ok(s.delete_ntuple_rule(loc));
  require_ok(s.remove_rss_context(id));
  CHECK(s.rss_context(id) == nullptr);
  CHECK(s.remove_rss_context(id).code == -ENOENT);
}

TEST_CASE("rss: configuration errors name the field to fix", "[nic][steering][rss][unit]") {
  auto bad = [](SteeringConfig c) {
    auto r = Steering::create(c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == -EINVAL);
    return r.error().message;
  };
  SteeringConfig c;
  c.rx_queues = 0;
  CHECK_THAT(bad(c), Catch::Contains("rx_queues"));
  c = {};
  c.rx_queues = 8;
  c.max_rx_queues = 4;
  CHECK_THAT(bad(c), Catch::Contains("max_rx_queues"));
  c = {};
  c.indir_size = 0;
  CHECK_THAT(bad(c), Catch::Contains("indir_size"));
  c = {};
  c.max_rss_contexts = 0;
  CHECK_THAT(bad(c), Catch::Contains("max_rss_contexts"));
  c = {};
  c.ntuple_capacity = 0;
  CHECK_THAT(bad(c), Catch::Contains("ntuple_capacity"));
}
