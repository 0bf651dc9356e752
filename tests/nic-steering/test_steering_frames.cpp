// The steering facade on real frames built with netstack/wire's emitters: the published hashes
// come out of frames, non-IP frames go to queue 0, ICMP / fragments / truncated headers hash over
// addresses, VLAN tags are looked through, counters add up, and the devmem / io_uring zero-copy
// setups of the kernel selftests (ncdevmem, iou-zcrx.py) steer as they expect.
#include <catch2/catch.hpp>

#include <cerrno>
#include <set>
#include <vector>

#include "nicemu/netstack/wire/wire.hpp"
#include "nicemu/nic/hw/steering.hpp"
#include "nicemu/sim/random.hpp"
#include "steering_helpers.hpp"
#include "verification_suite.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using testing::insert_ok;
using testing::ip;
using testing::make_steering;
using testing::require_ok;
using testing::tcp_frame;
using testing::udp_frame;
using Rule = testing::RuleBuilder;
namespace w = netstack::wire;

namespace {

RxfhRequest indir(std::vector<std::uint32_t> t) {
  RxfhRequest r;
  r.indir = std::move(t);
  return r;
}

w::EthernetRepr ethernet(std::uint16_t ethertype) {
  w::EthernetRepr eth;
  eth.dst = w::MacAddress{{0x02, 0, 0, 0, 0, 2}};
  eth.src = w::MacAddress{{0x02, 0, 0, 0, 0, 1}};
  eth.ethertype = ethertype;
  return eth;
}

std::vector<std::byte> arp_frame() {
  std::vector<std::byte> f(14 + w::ArpRepr::kLen);
  ethernet(w::ethertype::kArp).emit(f);
  w::ArpRepr arp;
  arp.sender_mac = w::MacAddress{{0x02, 0, 0, 0, 0, 1}};
  arp.sender_ip = ip("192.0.2.1").v4();
  arp.target_ip = ip("192.0.2.2").v4();
  arp.emit(std::span(f).subspan(14));
  f.resize(60);
  return f;
}

// IPv4 carrying `l4` bytes of protocol `proto` (ICMP echo, or a TCP header cut short).
std::vector<std::byte> ipv4_frame(std::uint8_t proto, std::vector<std::byte> l4, const char* src = "192.0.2.1",
                                  const char* dst = "192.0.2.2") {
  std::vector<std::byte> f(14 + w::Ipv4Repr::kHeaderLen);
  ethernet(w::ethertype::kIpv4).emit(f);
  w::Ipv4Repr ip4;
  ip4.src = ip(src).v4();
  ip4.dst = ip(dst).v4();
  ip4.protocol = proto;
  ip4.payload_len = static_cast<std::uint16_t>(l4.size());
  ip4.emit(std::span(f).subspan(14), w::ChecksumCaps::software());
  f.insert(f.end(), l4.begin(), l4.end());
  if (f.size() < 60) f.resize(60);
  return f;
}

std::vector<std::byte> icmp_echo_frame() {
  std::vector<std::byte> icmp(8, std::byte{0});
  icmp[0] = std::byte{8};  // echo request
  return ipv4_frame(w::ip_protocol::kIcmp, icmp);
}

// The first fragment of a TCP segment: the MF bit set; the parser reports kFragment.
std::vector<std::byte> tcp_first_fragment_frame() {
  std::vector<std::byte> f = tcp_frame("192.0.2.1", 40000, "192.0.2.2", 5001);
  f[14 + 6] = std::byte{0x20};  // flags: MF, fragment offset 0 (DF cleared)
  f[14 + 7] = std::byte{0x00};
  return f;
}

// The same TCP frame with one 802.1Q tag.
std::vector<std::byte> vlan_tagged(const std::vector<std::byte>& untagged) {
  std::vector<std::byte> f(untagged.size() + 4);
  for (std::size_t i = 0; i < 12; ++i) f[i] = untagged[i];  // MACs
  f[12] = std::byte{0x81};                                  // TPID 0x8100, VID 100
  f[13] = std::byte{0x00};
  f[14] = std::byte{0x00};
  f[15] = std::byte{0x64};
  for (std::size_t i = 12; i < untagged.size(); ++i) f[i + 4] = untagged[i];
  return f;
}

}  // namespace

TEST_CASE("steering: frames built from the verification suite report the published hashes",
          "[nic][steering][frames][unit]") {
  Steering s = make_steering(4);
  auto check = [&](const testing::RssVerificationRow& row) {
    INFO(row.src << ":" << row.src_port << " -> " << row.dst << ":" << row.dst_port);
    const SteeringDecision tcp = s.steer(tcp_frame(row.src, row.src_port, row.dst, row.dst_port));
    CHECK(tcp.source == SteerSource::kRss);
    CHECK(tcp.hash_type == RssHashType::kL4);
    CHECK(tcp.rss_hash == row.hash_with_ports);
    CHECK(tcp.queue == row.hash_with_ports % 128 % 4);
    // UDP hashes over the addresses by default.
    const SteeringDecision udp = s.steer(udp_frame(row.src, row.src_port, row.dst, row.dst_port));
    CHECK(udp.hash_type == RssHashType::kL3);
    CHECK(udp.rss_hash == row.hash_addresses);
    CHECK(udp.queue == row.hash_addresses % 128 % 4);
  };
  for (const auto& row : testing::kRssSuiteV4) check(row);
  for (const auto& row : testing::kRssSuiteV6) check(row);
  CHECK(s.stats().packets == 16);
  CHECK(s.stats().rss_l4 == 8);
  CHECK(s.stats().rss_l3 == 8);
  CHECK(s.stats().parse_errors == 0);
}

TEST_CASE("steering: frames that are not IP go to queue 0 with no hash, whatever the table says",
          "[nic][steering][frames][unit]") {
  Steering s = make_steering(4);
  require_ok(s.set_rxfh(0, indir({2, 3})));  // RSS never uses queue 0
  for (const auto& f : {arp_frame(), [] {
                          std::vector<std::byte> x(60);
                          ethernet(0x88b5).emit(x);  // an EtherType nicemu does not parse
                          return x;
                        }()}) {
    const SteeringDecision d = s.steer(f);
    CHECK(d.source == SteerSource::kNotIp);
    CHECK(d.queue == 0);
    CHECK(d.rss_hash == 0);
    CHECK(d.hash_type == RssHashType::kNone);
    CHECK_FALSE(d.rule.has_value());
    CHECK_FALSE(d.indir_index.has_value());
  }
  CHECK(s.stats().non_ip == 2);
  CHECK(s.stats().packets == 2);
  CHECK(s.rss_context(0)->packets() == 0);
}

TEST_CASE("steering: ICMP and IP fragments hash over the addresses and never match a TCP rule",
          "[nic][steering][frames][unit]") {
  Steering s = make_steering(4);
  insert_ok(s, Rule(FlowType::kTcpV4).action(3));  // every TCP/IPv4 packet
  const std::uint32_t l3 = toeplitz_hash(kMicrosoftRssKey, hash_input(ip("192.0.2.1"), ip("192.0.2.2")).span());

  const SteeringDecision icmp = s.steer(icmp_echo_frame());
  CHECK(icmp.source == SteerSource::kRss);
  CHECK(icmp.hash_type == RssHashType::kL3);
  CHECK(icmp.rss_hash == l3);

  const SteeringDecision frag = s.steer(tcp_first_fragment_frame());
  CHECK(frag.source == SteerSource::kRss);
  CHECK(frag.hash_type == RssHashType::kL3);
  CHECK(frag.rss_hash == l3);
  CHECK(s.stats().parse_errors == 1);  // the parser reports the fragment

  // The whole segment matches the rule.
  CHECK(s.steer(tcp_frame("192.0.2.1", 40000, "192.0.2.2", 5001)).queue == 3);
  // ip4 set to "none": no hash, entry 0.
  require_ok(s.set_rx_flow_hash(0, FlowType::kIpV4, 0));
  const SteeringDecision none = s.steer(icmp_echo_frame());
  CHECK(none.hash_type == RssHashType::kNone);
  CHECK(none.queue == s.rss_context(0)->indir()[0]);
  CHECK(s.stats().rss_none == 1);
}

TEST_CASE("steering: a TCP header cut short is a parse error steered by the addresses",
          "[nic][steering][frames][unit]") {
  Steering s = make_steering(4);
  const SteeringDecision d = s.steer(ipv4_frame(w::ip_protocol::kTcp, std::vector<std::byte>(10, std::byte{1})));
  CHECK(d.source == SteerSource::kRss);
  CHECK(d.hash_type == RssHashType::kL3);
  CHECK(s.stats().parse_errors == 1);
}

TEST_CASE("steering: a VLAN tag does not change the decision", "[nic][steering][frames][unit]") {
  Steering s = make_steering(8);
  const auto plain = tcp_frame("198.51.100.7", 33000, "203.0.113.9", 443);
  const SteeringDecision a = s.lookup(w::parse_packet(plain, w::ChecksumCaps::offloaded()));
  const SteeringDecision b = s.steer(vlan_tagged(plain));
  CHECK(b.rss_hash == a.rss_hash);
  CHECK(b.queue == a.queue);
  CHECK(b.hash_type == RssHashType::kL4);
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(443).action(6));
  CHECK(s.steer(vlan_tagged(plain)).queue == 6);
}

TEST_CASE("steering: lookup counts nothing, steer counts, and the counters add up", "[nic][steering][frames][unit]") {
  Steering s = make_steering(4);
  const std::uint32_t ctx = s.create_rss_context(indir({1})).value();
  insert_ok(s, Rule(FlowType::kUdpV4).dst_port(53).drop());
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(22).action(2));
  insert_ok(s, Rule(FlowType::kTcpV4).dst_port(80).context(ctx));
  std::vector<std::vector<std::byte>> frames;
  sim::Rng rng(5);
  for (int i = 0; i < 100; ++i) {
    const auto sport = static_cast<std::uint16_t>(1024 + rng.uniform(60000));
    switch (i % 6) {
      case 0:
        frames.push_back(udp_frame("10.0.0.1", sport, "10.0.0.2", 53));
        break;
      case 1:
        frames.push_back(tcp_frame("10.0.0.1", sport, "10.0.0.2", 22));
        break;
      case 2:
        frames.push_back(tcp_frame("10.0.0.1", sport, "10.0.0.2", 80));
        break;
      case 3:
        frames.push_back(arp_frame());
        break;
      case 4:
        frames.push_back(udp_frame("fd00::1", sport, "fd00::2", 9000));
        break;
      default:
        frames.push_back(tcp_frame("fd00::1", sport, "fd00::2", 9000));
        break;
    }
  }
  for (const auto& f : frames) (void)s.lookup(w::parse_packet(f, w::ChecksumCaps::offloaded()));
  CHECK(s.stats() == SteeringStats{});
  CHECK(s.ntuple_rules()[0].hits == 0);

  std::uint64_t rule_queue = 0;
  for (const auto& f : frames) rule_queue += s.steer(f).source == SteerSource::kRuleQueue ? 1 : 0;
  const SteeringStats& st = s.stats();
  CHECK(st.packets == 100);
  CHECK(st.non_ip == 17);
  CHECK(st.ntuple_drops == 17);
  CHECK(st.ntuple_hits == 17 + 17 + 17);
  CHECK(rule_queue == 17);
  CHECK(st.rss_l4 == 17 + 16);  // context rule (tcp4) and tcp6 by RSS
  CHECK(st.rss_l3 == 16);       // udp6 by RSS
  CHECK(st.packets == st.non_ip + st.ntuple_drops + rule_queue + st.rss_l4 + st.rss_l3 + st.rss_none);
  CHECK(s.rss_context(ctx)->packets() == 17);
  CHECK(s.rss_context(0)->packets() == 32);
  for (const auto& info : s.ntuple_rules()) CHECK(info.hits == 17);
}

TEST_CASE("steering: the ncdevmem setup keeps RSS off the devmem queue and steers the flow onto it",
          "[nic][steering][frames][unit]") {
  // ncdevmem -l on 4 queues: `ethtool -X equal 2` (start_queue = n/2), then
  // `flow-type tcp4 src-ip C dst-ip S src-port P dst-port 5201 action 3`.
  Steering s = make_steering(4);
  auto t = ethtool_indir_equal(s.indir_size(), 2);
  REQUIRE(t.has_value());
  require_ok(s.set_rxfh(0, indir(t.value())));
  const std::uint32_t id = insert_ok(
      s, Rule(FlowType::kTcpV4).src_ip("192.0.2.1").dst_ip("192.0.2.2").src_port(40000).dst_port(5201).action(3));
  CHECK(s.steer(tcp_frame("192.0.2.1", 40000, "192.0.2.2", 5201)).queue == 3);
  sim::Rng rng(77);
  std::set<std::uint32_t> other;
  for (int i = 0; i < 300; ++i) {
    const auto sport = static_cast<std::uint16_t>(rng.uniform(65536));
    if (sport == 40000) continue;
    other.insert(s.steer(tcp_frame("192.0.2.1", sport, "192.0.2.2", 5201)).queue);
  }
  CHECK(other == std::set<std::uint32_t>{0, 1});
  require_ok(s.delete_ntuple_rule(id));
  require_ok(s.set_rxfh(0, indir({})));  // cleanup: `ethtool -X default`
  CHECK(s.rss_context(0)->indir() == ethtool_indir_default(128, 4));
}

TEST_CASE("steering: the iou-zcrx rss setup steers a flow through a one-queue context",
          "[nic][steering][frames][unit]") {
  // iou-zcrx.py test_zcrx_rss on N = 4: `ethtool -X equal 3`, `context new start 3 equal 1`,
  // `flow-type tcp6 dst-port 9999 context <id>`.
  Steering s = make_steering(4);
  require_ok(s.set_rxfh(0, indir(ethtool_indir_equal(128, 3).value())));
  const std::uint32_t ctx = s.create_rss_context(indir(ethtool_indir_equal(128, 1, 3).value())).value();
  CHECK(ctx == 1);
  insert_ok(s, Rule(FlowType::kTcpV6).dst_port(9999).context(ctx));
  for (std::uint16_t sport = 50000; sport < 50050; ++sport) {
    const SteeringDecision d = s.steer(tcp_frame("2001:db8::1", sport, "2001:db8::2", 9999));
    REQUIRE(d.queue == 3);
    REQUIRE(d.source == SteerSource::kRuleContext);
    REQUIRE(s.steer(tcp_frame("2001:db8::1", sport, "2001:db8::2", 9998)).queue < 3);
  }
  // The context cannot go while the rule uses it; the channel count cannot drop below it.
  CHECK(s.remove_rss_context(ctx).code == -EBUSY);
  CHECK(s.set_rx_queues(3).code == -EINVAL);
}
