// IPv6 between two stacks: neighbour discovery (NS/NA, caches, failure, stale re-probe, the
// RFC 4861 §7.1 checks), ICMPv6 echo to global and link-local addresses, extension headers,
// fragments, and TCP over IPv6 end to end.
#include <catch2/catch.hpp>

#include <cstring>

#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/icmpv6.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "two_hosts.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::sim::literals;
using nicemu::testing::TwoHosts;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }

// An Ethernet + IPv6 frame from host 0 to host 1 with `l4` after `ext` (already encoded
// extension headers); `first_nh` is the IPv6 header's next header.
core::SkBuff* ipv6_frame(TwoHosts& net, std::uint8_t first_nh, std::span<const std::byte> ext,
                         std::span<const std::byte> l4, std::uint8_t hop_limit = 64,
                         std::optional<wire::Ipv6Address> dst = std::nullopt, wire::MacAddress dst_mac = TwoHosts::mac(1)) {
  core::SkBuff* skb = net.stack(0).skbs().alloc();
  wire::EthernetRepr eth;
  eth.dst = dst_mac;
  eth.src = TwoHosts::mac(0);
  eth.ethertype = wire::ethertype::kIpv6;
  eth.emit({skb->put(14), 14});
  wire::Ipv6Repr ip;
  ip.src = TwoHosts::addr6(0);
  ip.dst = dst.value_or(TwoHosts::addr6(1));
  ip.next_header = first_nh;
  ip.payload_len = static_cast<std::uint16_t>(ext.size() + l4.size());
  ip.hop_limit = hop_limit;
  ip.emit({skb->put(40), 40});
  if (!ext.empty()) std::memcpy(skb->put(static_cast<std::uint32_t>(ext.size())), ext.data(), ext.size());
  if (!l4.empty()) std::memcpy(skb->put(static_cast<std::uint32_t>(l4.size())), l4.data(), l4.size());
  return skb;
}

std::vector<std::byte> echo_request(std::uint16_t seq, const wire::Ipv6Address& dst = TwoHosts::addr6(1)) {
  const std::array<std::byte, 4> data{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  wire::Icmpv6Repr req;
  req.type = wire::Icmpv6Type::kEchoRequest;
  req.echo_ident = 9;
  req.echo_seq = seq;
  req.data = data;
  std::vector<std::byte> out(req.buffer_len());
  req.emit(out, TwoHosts::addr6(0), dst, wire::ChecksumCaps::software());
  return out;
}
}  // namespace

TEST_CASE("ipv6: a ping resolves the neighbour by NS/NA and gets its echo reply", "[netstack][inet][ipv6][unit]") {
  TwoHosts net;
  net.stack(0).ping(TwoHosts::addr6(1), 3, 1, 56, at(0_us));
  CHECK(net.stack(0).stats().ndisc_ns_out == 1);
  REQUIRE(net.run_until([&] { return !net.stack(0).echo_replies().empty(); }, at(1_s)));
  const auto& r = net.stack(0).echo_replies().front();
  CHECK(r.from == wire::IpAddress(TwoHosts::addr6(1)));
  CHECK(r.id == 3);
  CHECK(r.seq == 1);
  CHECK(r.len == 56);
  CHECK(r.ttl == 64);
  CHECK(net.stack(1).stats().ndisc_ns_in == 1);
  CHECK(net.stack(1).stats().ndisc_na_out == 1);
  CHECK(net.stack(0).stats().ndisc_na_in == 1);
  CHECK(net.stack(1).stats().icmp6_echo_requests_in == 1);
  CHECK(net.stack(0).neigh_lookup(TwoHosts::addr6(1)) == TwoHosts::mac(1));
  CHECK(net.stack(1).neigh_lookup(TwoHosts::addr6(0)) == TwoHosts::mac(0));  // learned from the NS's SLLA
  // A second ping needs no ND; nothing was dropped anywhere.
  net.stack(0).ping(TwoHosts::addr6(1), 3, 2, 56, net.now());
  REQUIRE(net.run_until([&] { return net.stack(0).echo_replies().size() == 2; }, at(2_s)));
  CHECK(net.stack(0).stats().ndisc_ns_out == 1);
  CHECK(net.stack(0).stats().total_drops() == 0);
  CHECK(net.stack(1).stats().total_drops() == 0);
}

TEST_CASE("ipv6: each interface has an EUI-64 link-local address that answers pings", "[netstack][inet][ipv6][unit]") {
  TwoHosts net;
  const auto ll1 = net.stack(1).link_local(0);
  // 02:00:00:00:00:02 -> fe80::0000:00ff:fe00:0002 (the U/L bit flipped).
  CHECK(ll1.to_string() == "fe80::ff:fe00:2");
  net.stack(0).ping(ll1, 1, 1, 8, at(0_us));
  REQUIRE(net.run_until([&] { return !net.stack(0).echo_replies().empty(); }, at(1_s)));
  CHECK(net.stack(0).echo_replies().front().from == wire::IpAddress(ll1));
}

TEST_CASE("ipv6: an address nobody answers for fails after the probes, dropping what waited",
          "[netstack][inet][ipv6][unit]") {
  TwoHosts net;
  wire::Ipv6Address ghost = TwoHosts::addr6(0);
  ghost.octets[15] = 0x99;
  net.stack(0).ping(ghost, 1, 1, 8, at(0_us));
  net.stack(0).ping(ghost, 1, 2, 8, at(0_us));
  net.run_until([] { return false; }, at(10_s));
  CHECK(net.stack(0).stats().ndisc_ns_out == 3);  // mcast_solicit
  CHECK(net.stack(0).stats().drop(inet::DropReason::kNeighFailed) == 2);
  CHECK_FALSE(net.stack(0).neigh_lookup(ghost).has_value());
}

TEST_CASE("ipv6: a stale neighbour keeps being used while it is probed again", "[netstack][inet][ipv6][unit]") {
  TwoHosts net;
  net.stack(0).ping(TwoHosts::addr6(1), 1, 1, 8, at(0_us));
  REQUIRE(net.run_until([&] { return net.stack(0).echo_replies().size() == 1; }, at(1_s)));
  net.advance(31_s);  // past the reachable time
  const sim::TimePoint sent = net.now();
  net.stack(0).ping(TwoHosts::addr6(1), 1, 2, 8, sent);
  CHECK(net.stack(0).stats().ndisc_ns_out == 2);  // a re-probe went out...
  REQUIRE(net.run_until([&] { return net.stack(0).echo_replies().size() == 2; }, net.now() + 1_s));
  // ...and the echo did not wait for its answer: one link delay each way (10 us).
  CHECK(net.stack(0).echo_replies().back().at - sent == 20_us);
  CHECK(net.stack(0).stats().total_drops() == 0);
}

TEST_CASE("ipv6: neighbour messages that fail RFC 4861 validation are dropped", "[netstack][inet][ipv6][unit]") {
  TwoHosts net;
  wire::Icmpv6Repr ns;
  ns.type = wire::Icmpv6Type::kNeighbourSolicitation;
  ns.target = TwoHosts::addr6(1);
  ns.link_layer_addr = TwoHosts::mac(0);
  const auto group = TwoHosts::addr6(1).solicited_node();
  std::vector<std::byte> msg(ns.buffer_len());
  ns.emit(msg, TwoHosts::addr6(0), group, wire::ChecksumCaps::software());
  SECTION("hop limit below 255: forwarded from off-link") {
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kIcmpv6, {}, msg, 64, group, group.multicast_mac()),
                         at(0_us));
    CHECK(net.stack(1).stats().drop(inet::DropReason::kBadNdisc) == 1);
    CHECK(net.stack(1).stats().ndisc_na_out == 0);
    CHECK_FALSE(net.stack(1).neigh_lookup(TwoHosts::addr6(0)).has_value());
  }
  SECTION("hop limit 255: answered, and the sender is learned") {
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kIcmpv6, {}, msg, 255, group, group.multicast_mac()),
                         at(0_us));
    CHECK(net.stack(1).stats().ndisc_na_out == 1);
    CHECK(net.stack(1).neigh_lookup(TwoHosts::addr6(0)) == TwoHosts::mac(0));
  }
  SECTION("a non-zero code") {
    msg[1] = std::byte{1};
    msg[2] = msg[3] = std::byte{0};
    wire::Icmpv6ViewMut::check(msg).value().fill_checksum(TwoHosts::addr6(0), group);
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kIcmpv6, {}, msg, 255, group, group.multicast_mac()),
                         at(0_us));
    CHECK(net.stack(1).stats().drop(inet::DropReason::kBadNdisc) == 1);
  }
  SECTION("a solicitation for someone else's address is ignored, not answered") {
    ns.target.octets[15] = 0x77;
    ns.emit(msg, TwoHosts::addr6(0), group, wire::ChecksumCaps::software());
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kIcmpv6, {}, msg, 255, group, group.multicast_mac()),
                         at(0_us));
    CHECK(net.stack(1).stats().ndisc_ns_in == 1);
    CHECK(net.stack(1).stats().ndisc_na_out == 0);
    CHECK(net.stack(1).stats().total_drops() == 0);
  }
}

TEST_CASE("ipv6: extension headers are walked to the upper layer, fragments are dropped",
          "[netstack][inet][ipv6][unit]") {
  TwoHosts net;
  // Teach host 1 where host 0 is so its reply needs no ND.
  net.stack(1).ping(TwoHosts::addr6(0), 1, 1, 8, at(0_us));
  REQUIRE(net.run_until([&] { return net.stack(1).echo_replies().size() == 1; }, at(1_s)));
  const auto req = echo_request(5);
  SECTION("hop-by-hop then destination options (8 bytes each, PadN)") {
    const std::array<std::byte, 16> ext{std::byte{wire::ip_protocol::kDestinationOptions}, std::byte{0}, std::byte{1},
                                        std::byte{4}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                                        std::byte{wire::ip_protocol::kIcmpv6}, std::byte{0}, std::byte{1},
                                        std::byte{4}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kHopByHop, ext, req), net.now());
    REQUIRE(net.run_until([&] { return net.stack(0).echo_replies().size() == 1; }, net.now() + 1_s));
    CHECK(net.stack(0).echo_replies().front().seq == 5);
  }
  SECTION("hop-by-hop anywhere but first is refused") {
    const std::array<std::byte, 16> ext{std::byte{wire::ip_protocol::kHopByHop}, std::byte{0}, std::byte{1},
                                        std::byte{4}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                                        std::byte{wire::ip_protocol::kIcmpv6}, std::byte{0}, std::byte{1},
                                        std::byte{4}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kDestinationOptions, ext, req), net.now());
    CHECK(net.stack(1).stats().drop(inet::DropReason::kBadHeader) == 1);
  }
  SECTION("a fragment header") {
    const std::array<std::byte, 8> frag{std::byte{wire::ip_protocol::kIcmpv6}, std::byte{0}, std::byte{0},
                                        std::byte{1},  // more fragments
                                        std::byte{0}, std::byte{0}, std::byte{0}, std::byte{7}};
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kFragment, frag, req), net.now());
    CHECK(net.stack(1).stats().drop(inet::DropReason::kFragment) == 1);
  }
  SECTION("an extension header longer than the packet") {
    const std::array<std::byte, 8> ext{std::byte{wire::ip_protocol::kIcmpv6}, std::byte{200}, std::byte{1},
                                       std::byte{4}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kHopByHop, ext, req), net.now());
    CHECK(net.stack(1).stats().drop(inet::DropReason::kTruncated) == 1);
  }
  SECTION("a packet for another address is not forwarded") {
    wire::Ipv6Address other = TwoHosts::addr6(1);
    other.octets[15] = 0x42;
    net.stack(1).receive(net.dev(1), ipv6_frame(net, wire::ip_protocol::kIcmpv6, {}, echo_request(5, other), 64, other),
                         net.now());
    CHECK(net.stack(1).stats().drop(inet::DropReason::kNotForUs) == 1);
  }
}

TEST_CASE("ipv6: TCP carries data both ways byte-exact and closes down to nothing", "[netstack][inet][ipv6][unit]") {
  TwoHosts net;
  tcp::TcpSock* l = net.stack(1).tcp_socket(wire::IpVersion::kV6);
  REQUIRE(net.stack(1).inet_bind(l, wire::IpAddress::any(wire::IpVersion::kV6), 8080));
  REQUIRE(net.stack(1).inet_listen(l, 4) == 0);
  tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr6(1), 8080, at(0_us));
  REQUIRE(c != nullptr);
  CHECK(c->config().mss == 1440);  // MTU 1500 - 40 (IPv6) - 20 (TCP)
  tcp::TcpSock* s = nullptr;
  REQUIRE(net.run_until([&] { return (s = net.stack(1).tcp_accept(l)) != nullptr; }, at(1_s)));
  CHECK(net.stack(1).tcp_tuple(s).remote_addr == wire::IpAddress(TwoHosts::addr6(0)));
  std::vector<std::byte> up(300000), down(70000);
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<std::byte>(i * 7 + 1);
  for (std::size_t i = 0; i < down.size(); ++i) down[i] = static_cast<std::byte>(i * 13 + 5);
  std::size_t su = 0, sd = 0;
  std::vector<std::byte> gu, gd, buf(65536);
  REQUIRE(net.run_until(
      [&] {
        if (su < up.size()) { if (int n = c->send(std::span(up).subspan(su), net.now()); n > 0) su += static_cast<std::size_t>(n); }
        if (sd < down.size()) { if (int n = s->send(std::span(down).subspan(sd), net.now()); n > 0) sd += static_cast<std::size_t>(n); }
        for (int n; (n = s->recv(buf, net.now())) > 0;) gu.insert(gu.end(), buf.begin(), buf.begin() + n);
        for (int n; (n = c->recv(buf, net.now())) > 0;) gd.insert(gd.end(), buf.begin(), buf.begin() + n);
        return gu.size() == up.size() && gd.size() == down.size();
      },
      at(10_s)));
  CHECK(gu == up);
  CHECK(gd == down);
  CHECK(net.stack(0).stats().ip6_out > 0);
  CHECK(net.stack(0).stats().ip_out == 0);  // nothing went over IPv4
  net.stack(0).tcp_release(c, net.now());
  net.stack(1).tcp_release(s, net.now());
  net.stack(1).tcp_release(l, net.now());
  REQUIRE(net.run_until([&] { return net.stack(0).connections() == 0 && net.stack(1).connections() == 0; }, at(200_s)));
  const auto t0 = net.stack(0).tcp_totals();
  CHECK(t0.active_opens == 1);
  CHECK(t0.sum.bytes_received == down.size());
  CHECK(net.stack(1).tcp_totals().passive_opens == 1);
}

TEST_CASE("ipv6: off-link destinations go to the default gateway, resolved at its link-local address",
          "[netstack][inet][ipv6][unit]") {
  TwoHosts net;
  const wire::Ipv6Address far{{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};
  net.stack(0).ping(far, 1, 1, 8, at(0_us));
  CHECK(net.stack(0).stats().drop(inet::DropReason::kNoRoute) == 1);
  net.stack(0).set_default_gateway(net.stack(1).link_local(0));
  net.stack(0).ping(far, 1, 2, 8, net.now());
  net.run_until([] { return false; }, at(1_s));
  CHECK(net.stack(0).neigh_lookup(net.stack(1).link_local(0)) == TwoHosts::mac(1));
  CHECK(net.stack(1).stats().ip6_in >= 2);                            // the NS and the echo
  CHECK(net.stack(1).stats().drop(inet::DropReason::kNotForUs) == 1);  // a host does not forward
}
