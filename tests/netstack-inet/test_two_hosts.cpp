// Two IPv4 stacks over a veth-like link: ARP, ping, TCP through a listener, RSTs, drops by
// reason, and a bulk transfer through a link that drops, corrupts, duplicates and reorders.
#include <catch2/catch.hpp>

#include <cstring>

#include "nicemu/netstack/wire/ethernet.hpp"
#include "two_hosts.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::sim::literals;
using nicemu::testing::LinkFaults;
using nicemu::testing::TwoHosts;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }

std::vector<std::byte> pattern(std::size_t n, unsigned salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + salt) ^ (i >> 9));
  return v;
}
}  // namespace

TEST_CASE("inet: a ping resolves the neighbour by ARP and gets its echo reply", "[netstack][inet][unit]") {
  TwoHosts net;
  net.stack(0).ping(TwoHosts::addr(1), 7, 1, 56, at(0_us));
  CHECK(net.stack(0).stats().arp_requests_out == 1);
  REQUIRE(net.run_until([&] { return !net.stack(0).echo_replies().empty(); }, at(1_s)));
  const auto& r = net.stack(0).echo_replies().front();
  CHECK(r.from == TwoHosts::addr(1));
  CHECK(r.id == 7);
  CHECK(r.seq == 1);
  CHECK(r.len == 56);
  CHECK(net.stack(1).stats().icmp_echo_requests_in == 1);
  CHECK(net.stack(1).stats().arp_replies_out == 1);
  CHECK(net.stack(0).arp_lookup(TwoHosts::addr(1)) == TwoHosts::mac(1));
  CHECK(net.stack(1).arp_lookup(TwoHosts::addr(0)) == TwoHosts::mac(0));  // learned from the request
  // A second ping needs no ARP.
  net.stack(0).ping(TwoHosts::addr(1), 7, 2, 56, net.now());
  REQUIRE(net.run_until([&] { return net.stack(0).echo_replies().size() == 2; }, at(2_s)));
  CHECK(net.stack(0).stats().arp_requests_out == 1);
}

TEST_CASE("inet: an unanswered ARP is retried 3 times, then what waited is dropped as neigh-failed",
          "[netstack][inet][unit]") {
  TwoHosts net;
  const wire::Ipv4Address nobody{{192, 0, 2, 99}};
  net.stack(0).ping(nobody, 1, 1, 8, at(0_us));
  net.stack(0).ping(nobody, 1, 2, 8, at(0_us));
  net.run_until([] { return false; }, at(10_s));
  CHECK(net.stack(0).stats().arp_requests_out == 3);
  CHECK(net.stack(0).stats().drop(inet::DropReason::kNeighFailed) == 2);
  CHECK(net.stack(0).stats().ip_out == 2);
}

TEST_CASE("inet: a destination outside every subnet without a gateway is dropped as no-route",
          "[netstack][inet][unit]") {
  TwoHosts net;
  net.stack(0).ping(wire::Ipv4Address{{198, 51, 100, 1}}, 1, 1, 8, at(0_us));
  CHECK(net.stack(0).stats().drop(inet::DropReason::kNoRoute) == 1);
  CHECK(net.frames == 0);
}

TEST_CASE("inet: TCP connects through a listener, moves data both ways byte-exact, and closes",
          "[netstack][inet][unit]") {
  TwoHosts net;
  tcp::TcpSock* l = net.stack(1).tcp_listen(5001, 8);
  REQUIRE(l != nullptr);
  CHECK(net.stack(1).tcp_listen(5001, 8) == nullptr);  // port in use
  tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr(1), 5001, at(0_us));
  REQUIRE(c != nullptr);
  tcp::TcpSock* s = nullptr;
  REQUIRE(net.run_until([&] { return (s = net.stack(1).tcp_accept(l)) != nullptr; }, at(1_s)));
  CHECK(c->state() == tcp::TcpState::kEstablished);
  CHECK(c->mss_now() == 1500 - 40 - 12);  // MTU 1500, timestamps on
  const auto up = pattern(1 << 20, 1), down = pattern(300 * 1000, 2);
  std::size_t up_sent = 0, down_sent = 0;
  std::vector<std::byte> got_up, got_down, buf(65536);
  auto pump = [&] {
    if (up_sent < up.size()) {
      const int n = c->send(std::span(up).subspan(up_sent), net.now());
      if (n > 0) up_sent += static_cast<std::size_t>(n);
    }
    if (down_sent < down.size()) {
      const int n = s->send(std::span(down).subspan(down_sent), net.now());
      if (n > 0) down_sent += static_cast<std::size_t>(n);
    }
    for (int n; (n = s->recv(buf, net.now())) > 0;) got_up.insert(got_up.end(), buf.begin(), buf.begin() + n);
    for (int n; (n = c->recv(buf, net.now())) > 0;) got_down.insert(got_down.end(), buf.begin(), buf.begin() + n);
    return got_up.size() == up.size() && got_down.size() == down.size();
  };
  REQUIRE(net.run_until(pump, at(10_s)));
  CHECK(got_up == up);
  CHECK(got_down == down);
  net.stack(0).tcp_release(c, net.now());
  net.stack(1).tcp_release(s, net.now());
  net.stack(1).tcp_release(l, net.now());
  net.run_until([&] { return net.stack(0).connections() == 0 && net.stack(1).connections() == 0; }, at(200_s));
  CHECK(net.stack(0).connections() == 0);  // TIME-WAIT ended too
  CHECK(net.stack(1).connections() == 0);
  CHECK(net.stack(0).stats().drop(inet::DropReason::kBadChecksum) == 0);
}

TEST_CASE("inet: a SYN to a port nobody listens on is answered with RST: connection refused",
          "[netstack][inet][unit]") {
  TwoHosts net;
  tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr(1), 9, at(0_us));
  REQUIRE(net.run_until([&] { return c->state() == tcp::TcpState::kClosed; }, at(1_s)));
  CHECK(c->so_error() == -ECONNREFUSED);
  CHECK(net.stack(1).stats().tcp_rst_out == 1);
  CHECK(net.stack(1).stats().drop(inet::DropReason::kNoSocket) == 1);
  net.stack(0).tcp_release(c, net.now());
  CHECK(net.stack(0).connections() == 0);
}

TEST_CASE("inet: frames for another MAC, unknown EtherTypes and truncated IPv6 are dropped with their reason",
          "[netstack][inet][unit]") {
  TwoHosts net;
  core::SkBuff* skb = net.stack(0).skbs().alloc();
  wire::EthernetRepr eth;
  eth.dst = wire::MacAddress{{0x02, 9, 9, 9, 9, 9}};
  eth.src = TwoHosts::mac(0);
  eth.ethertype = wire::ethertype::kIpv4;
  eth.emit({skb->put(14), 14});
  net.stack(1).receive(net.dev(1), skb, at(0_us));
  CHECK(net.stack(1).stats().drop(inet::DropReason::kNotForUs) == 1);
  skb = net.stack(0).skbs().alloc();
  eth.dst = TwoHosts::mac(1);
  eth.ethertype = 0x88b5;  // IEEE local experimental
  eth.emit({skb->put(14), 14});
  net.stack(1).receive(net.dev(1), skb, at(0_us));
  CHECK(net.stack(1).stats().drop(inet::DropReason::kUnsupported) == 1);
  skb = net.stack(0).skbs().alloc();
  eth.ethertype = wire::ethertype::kIpv6;
  eth.emit({skb->put(14), 14});
  std::memset(skb->put(20), 0x60, 20);  // half an IPv6 header
  net.stack(1).receive(net.dev(1), skb, at(0_us));
  CHECK(net.stack(1).stats().drop(inet::DropReason::kTruncated) == 1);
}

TEST_CASE("inet: 4 MiB through a link with 1% drop, 1% reordering, 0.1% duplication and 0.1% corruption "
          "arrives byte-exact",
          "[netstack][inet][unit]") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    TwoHosts net(seed, LinkFaults{0.01, 0.001, 0.001, 0.01});
    tcp::TcpSock* l = net.stack(1).tcp_listen(5001, 8);
    tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr(1), 5001, at(0_us));
    tcp::TcpSock* s = nullptr;
    REQUIRE(net.run_until([&] { return (s = net.stack(1).tcp_accept(l)) != nullptr; }, at(10_s)));
    const auto data = pattern(4u << 20, static_cast<unsigned>(seed));
    std::size_t sent = 0;
    std::vector<std::byte> got, buf(65536);
    const bool done = net.run_until(
        [&] {
          if (sent < data.size()) {
            const int n = c->send(std::span(data).subspan(sent), net.now());
            if (n > 0) sent += static_cast<std::size_t>(n);
          }
          for (int n; (n = s->recv(buf, net.now())) > 0;) got.insert(got.end(), buf.begin(), buf.begin() + n);
          return got.size() == data.size();
        },
        at(600_s));
    INFO("seed " << seed << " got " << got.size() << " corrupted " << net.corrupted << " dropped " << net.dropped);
    CHECK(done);
    CHECK(got == data);
    CHECK(c->stats().retransmits > 0);
    CHECK(net.corrupted > 0);
    CHECK(net.stack(1).stats().drop(inet::DropReason::kBadChecksum) + net.stack(0).stats().drop(inet::DropReason::kBadChecksum) > 0);
  }
}

TEST_CASE("inet: the stack summary shows traffic, TCP totals and every drop by reason", "[netstack][inet][unit]") {
  TwoHosts net;
  net.stack(0).ping(TwoHosts::addr(1), 1, 1, 8, at(0_us));
  REQUIRE(net.run_until([&] { return !net.stack(0).echo_replies().empty(); }, at(1_s)));
  net.stack(0).tcp_connect(TwoHosts::addr(1), 4444, net.now());  // nobody listens: RST
  net.run_until([] { return false; }, net.now() + 10_ms);
  const std::string s = inet::stack_summary(net.stack(1));
  INFO(s);
  CHECK(s.find("echo_req_in=1") != std::string::npos);
  CHECK(s.find("rst_out=1") != std::string::npos);
  CHECK(s.find("drops: no-socket=1") != std::string::npos);
  const std::string s0 = inet::stack_summary(net.stack(0));
  INFO(s0);
  CHECK(s0.find("attempt_fails=1") != std::string::npos);
  CHECK(s0.find("drops: -") != std::string::npos);
}
