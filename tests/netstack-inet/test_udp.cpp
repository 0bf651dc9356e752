// UDP between two stacks, both families: datagrams byte-exact (small ones in the skb head, large
// ones in page frags), the socket lookup's preferences, the receive-buffer limit, port
// unreachable and its ECONNREFUSED, MSG_PEEK/truncation, and every errno of the NetStack calls.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>

#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "two_hosts.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::sim::literals;
using nicemu::testing::TwoHosts;
using wire::IpAddress;
using wire::IpVersion;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }

std::vector<std::byte> pattern(std::size_t n, unsigned salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 31 + salt);
  return v;
}

IpAddress peer(IpVersion fam, int i) {
  return fam == IpVersion::kV4 ? IpAddress(TwoHosts::addr(i)) : IpAddress(TwoHosts::addr6(i));
}

base::Result<std::size_t, int> send_to(inet::NetStack& st, inet::UdpSock* s, std::span<const std::byte> data,
                                       std::optional<IpAddress> dst, std::uint16_t port, sim::TimePoint now) {
  const std::array<std::span<const std::byte>, 1> iov{data};
  return st.udp_sendmsg(s, iov, dst, port, now);
}

base::Result<inet::UdpRecv, int> recv_into(inet::NetStack& st, inet::UdpSock* s, std::span<std::byte> buf,
                                           bool peek = false) {
  const std::array<std::span<std::byte>, 1> iov{buf};
  return st.udp_recvmsg(s, iov, peek);
}
}  // namespace

TEST_CASE("udp: datagrams of every size cross byte-exact in both families", "[netstack][inet][udp][unit]") {
  for (IpVersion fam : {IpVersion::kV4, IpVersion::kV6}) {
    INFO((fam == IpVersion::kV4 ? "IPv4" : "IPv6"));
    TwoHosts net;
    inet::UdpSock* rx = net.stack(1).udp_socket(fam);
    REQUIRE(net.stack(1).udp_bind(rx, IpAddress::any(fam), 9000).value() == 9000);
    inet::UdpSock* tx = net.stack(0).udp_socket(fam);
    const std::size_t max = fam == IpVersion::kV4 ? 1472 : 1452;  // MTU - IP - UDP
    const std::vector<std::size_t> sizes{0, 1, 100, 383, 384, 1000, max};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const auto data = pattern(sizes[i], static_cast<unsigned>(i));
      auto r = send_to(net.stack(0), tx, data, peer(fam, 1), 9000, net.now());
      REQUIRE(r);
      CHECK(*r == sizes[i]);
    }
    REQUIRE(net.run_until([&] { return rx->queued_datagrams() == sizes.size(); }, at(1_s)));
    CHECK(tx->local_port >= 32768);  // autobound to an ephemeral port
    std::vector<std::byte> buf(2000);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto r = recv_into(net.stack(1), rx, buf);
      REQUIRE(r);
      CHECK(r->datagram_len == sizes[i]);
      CHECK(r->copied == sizes[i]);
      CHECK(r->from == peer(fam, 0));
      CHECK(r->from_port == tx->local_port);
      CHECK(std::equal(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(sizes[i]),
                       pattern(sizes[i], static_cast<unsigned>(i)).begin()));
    }
    CHECK(recv_into(net.stack(1), rx, buf).error() == -EAGAIN);
    CHECK(rx->stats().in_datagrams == sizes.size());
    CHECK(net.stack(0).stats().udp_out == sizes.size());
    CHECK(net.stack(1).stats().udp_in == sizes.size());
    CHECK(net.stack(0).stats().tx_csum_sw == sizes.size());  // the veth has no checksum offload
    CHECK(net.stack(1).stats().total_drops() == 0);
    net.stack(0).udp_release(tx);
    net.stack(1).udp_release(rx);
    CHECK(net.stack(1).udp_sockets() == 0);
  }
}

TEST_CASE("udp: a datagram nobody listens for gets a port unreachable, which a connected sender sees "
          "as ECONNREFUSED",
          "[netstack][inet][udp][unit]") {
  for (IpVersion fam : {IpVersion::kV4, IpVersion::kV6}) {
    INFO((fam == IpVersion::kV4 ? "IPv4" : "IPv6"));
    TwoHosts net;
    inet::UdpSock* tx = net.stack(0).udp_socket(fam);
    REQUIRE(net.stack(0).udp_connect(tx, peer(fam, 1), 7777) == 0);
    const auto data = pattern(10, 1);
    REQUIRE(send_to(net.stack(0), tx, data, std::nullopt, 0, at(0_us)));
    REQUIRE(net.run_until([&] { return net.stack(0).stats().icmp_unreach_in == 1; }, at(1_s)));
    CHECK(net.stack(1).stats().udp_no_ports == 1);
    CHECK(net.stack(1).stats().icmp_unreach_out == 1);
    CHECK(net.stack(1).stats().drop(inet::DropReason::kNoSocket) == 1);
    CHECK(tx->readable());  // the error is readable
    // The next call reports it once.
    CHECK(send_to(net.stack(0), tx, data, std::nullopt, 0, net.now()).error() == -ECONNREFUSED);
    CHECK(send_to(net.stack(0), tx, data, std::nullopt, 0, net.now()));
  }
}

TEST_CASE("udp: an unconnected sender hears nothing of port unreachables", "[netstack][inet][udp][unit]") {
  TwoHosts net;
  inet::UdpSock* tx = net.stack(0).udp_socket(IpVersion::kV4);
  REQUIRE(send_to(net.stack(0), tx, pattern(4, 0), peer(IpVersion::kV4, 1), 7777, at(0_us)));
  REQUIRE(net.run_until([&] { return net.stack(0).stats().icmp_unreach_in == 1; }, at(1_s)));
  CHECK(tx->so_error == 0);
}

TEST_CASE("udp: MSG_PEEK leaves the datagram, a short buffer truncates and loses the rest",
          "[netstack][inet][udp][unit]") {
  TwoHosts net;
  inet::UdpSock* rx = net.stack(1).udp_socket(IpVersion::kV4);
  REQUIRE(net.stack(1).udp_bind(rx, IpAddress(TwoHosts::addr(1)), 53));
  inet::UdpSock* tx = net.stack(0).udp_socket(IpVersion::kV4);
  const auto data = pattern(600, 3);
  REQUIRE(send_to(net.stack(0), tx, data, peer(IpVersion::kV4, 1), 53, at(0_us)));
  REQUIRE(send_to(net.stack(0), tx, pattern(5, 4), peer(IpVersion::kV4, 1), 53, at(0_us)));
  REQUIRE(net.run_until([&] { return rx->queued_datagrams() == 2; }, at(1_s)));
  std::vector<std::byte> small(100);
  auto p = recv_into(net.stack(1), rx, small, true);
  REQUIRE(p);
  CHECK(p->copied == 100);
  CHECK(p->datagram_len == 600);
  CHECK(rx->queued_datagrams() == 2);
  auto r = recv_into(net.stack(1), rx, small);
  REQUIRE(r);
  CHECK(r->copied == 100);
  CHECK(r->datagram_len == 600);  // what MSG_TRUNC reports
  CHECK(std::equal(small.begin(), small.end(), data.begin()));
  auto next = recv_into(net.stack(1), rx, small);  // the rest of the first one is gone
  REQUIRE(next);
  CHECK(next->datagram_len == 5);
}

TEST_CASE("udp: the lookup prefers a connected socket, then an address-bound one, then the wildcard",
          "[netstack][inet][udp][unit]") {
  TwoHosts net;
  inet::NetStack& st = net.stack(1);
  inet::UdpSock* any = st.udp_socket(IpVersion::kV4);
  REQUIRE(st.udp_bind(any, IpAddress::any(IpVersion::kV4), 5000));
  // The wildcard holds the port: binding the same port to a specific address conflicts.
  inet::UdpSock* exact = st.udp_socket(IpVersion::kV4);
  CHECK(st.udp_bind(exact, IpAddress(TwoHosts::addr(1)), 5000).error() == -EADDRINUSE);
  // An IPv6 socket is V6ONLY here: the same port number is free in the other family.
  inet::UdpSock* six = st.udp_socket(IpVersion::kV6);
  CHECK(st.udp_bind(six, IpAddress::any(IpVersion::kV6), 5000).value() == 5000);

  inet::UdpSock* tx = net.stack(0).udp_socket(IpVersion::kV4);
  REQUIRE(net.stack(0).udp_bind(tx, IpAddress::any(IpVersion::kV4), 6000));
  REQUIRE(send_to(net.stack(0), tx, pattern(1, 0), peer(IpVersion::kV4, 1), 5000, at(0_us)));
  REQUIRE(net.run_until([&] { return any->queued_datagrams() == 1; }, at(1_s)));
  CHECK(six->queued_datagrams() == 0);
}

TEST_CASE("udp: a full receive buffer drops and counts", "[netstack][inet][udp][unit]") {
  TwoHosts net;
  inet::UdpSock* rx = net.stack(1).udp_socket(IpVersion::kV4);
  REQUIRE(net.stack(1).udp_bind(rx, IpAddress::any(IpVersion::kV4), 9));
  rx->rcvbuf = 2304;  // SOCK_MIN_RCVBUF
  inet::UdpSock* tx = net.stack(0).udp_socket(IpVersion::kV4);
  for (int i = 0; i < 20; ++i) REQUIRE(send_to(net.stack(0), tx, pattern(1000, 0), peer(IpVersion::kV4, 1), 9, at(0_us)));
  net.run_until([] { return false; }, at(1_s));
  CHECK(rx->queued_datagrams() > 0);
  CHECK(rx->queued_datagrams() < 20);
  CHECK(rx->stats().rcvbuf_errors == 20 - rx->queued_datagrams());
  CHECK(net.stack(1).stats().drop(inet::DropReason::kUdpRcvbuf) == rx->stats().rcvbuf_errors);
}

TEST_CASE("udp: errno values of bind, connect and sendmsg", "[netstack][inet][udp][unit]") {
  TwoHosts net;
  inet::NetStack& st = net.stack(0);
  inet::UdpSock* s = st.udp_socket(IpVersion::kV4);
  CHECK(st.udp_bind(s, IpAddress(TwoHosts::addr6(0)), 1).error() == -EAFNOSUPPORT);
  CHECK(st.udp_bind(s, IpAddress(TwoHosts::addr(1)), 1).error() == -EADDRNOTAVAIL);  // not ours
  REQUIRE(st.udp_bind(s, IpAddress(TwoHosts::addr(0)), 1));
  CHECK(st.udp_bind(s, IpAddress(TwoHosts::addr(0)), 2).error() == -EINVAL);  // already bound
  const auto data = pattern(10, 0);
  CHECK(send_to(st, s, data, std::nullopt, 0, at(0_us)).error() == -EDESTADDRREQ);
  CHECK(send_to(st, s, data, peer(IpVersion::kV6, 1), 9, at(0_us)).error() == -EAFNOSUPPORT);
  CHECK(send_to(st, s, data, peer(IpVersion::kV4, 1), 0, at(0_us)).error() == -EINVAL);
  CHECK(send_to(st, s, data, IpAddress(wire::Ipv4Address{{198, 51, 100, 1}}), 9, at(0_us)).error() == -ENETUNREACH);
  CHECK(send_to(st, s, pattern(1473, 0), peer(IpVersion::kV4, 1), 9, at(0_us)).error() == -EMSGSIZE);
  CHECK(st.udp_connect(s, IpAddress(wire::Ipv4Address{{198, 51, 100, 1}}), 9) == -ENETUNREACH);
  CHECK(st.udp_connect(s, peer(IpVersion::kV6, 1), 9) == -EAFNOSUPPORT);
  REQUIRE(st.udp_connect(s, peer(IpVersion::kV4, 1), 9) == 0);
  CHECK(st.udp_connect(s, IpAddress{}, 0) == 0);  // AF_UNSPEC disconnects
  CHECK_FALSE(s->peer_addr.has_value());
  CHECK(send_to(st, s, data, std::nullopt, 0, at(0_us)).error() == -EDESTADDRREQ);
}

TEST_CASE("udp: IPv6 datagrams with a zero checksum are refused (RFC 8200 §8.1)", "[netstack][inet][udp][unit]") {
  TwoHosts net;
  inet::UdpSock* rx = net.stack(1).udp_socket(IpVersion::kV6);
  REQUIRE(net.stack(1).udp_bind(rx, IpAddress::any(IpVersion::kV6), 9));
  core::SkBuff* skb = net.stack(0).skbs().alloc();
  wire::EthernetRepr eth;
  eth.dst = TwoHosts::mac(1);
  eth.src = TwoHosts::mac(0);
  eth.ethertype = wire::ethertype::kIpv6;
  eth.emit({skb->put(14), 14});
  wire::Ipv6Repr ip;
  ip.src = TwoHosts::addr6(0);
  ip.dst = TwoHosts::addr6(1);
  ip.next_header = wire::ip_protocol::kUdp;
  ip.payload_len = 12;
  ip.emit({skb->put(40), 40});
  const std::array<std::uint8_t, 12> udp{0x12, 0x34, 0x00, 0x09, 0x00, 0x0c, 0x00, 0x00, 'a', 'b', 'c', 'd'};
  std::memcpy(skb->put(12), udp.data(), 12);
  net.stack(1).receive(net.dev(1), skb, at(0_us));
  CHECK(net.stack(1).stats().drop(inet::DropReason::kBadChecksum) == 1);
  CHECK(rx->queued_datagrams() == 0);
}
