// Socket options: SO_RCVBUF / SO_SNDBUF arithmetic and their effect on TCP, SO_REUSEADDR,
// SO_TYPE, SO_ERROR, SO_ZEROCOPY, TCP_NODELAY pushing held data, TCP_MAXSEG, IP_TTL and
// IPV6_UNICAST_HOPS read off the wire, ENOPROTOOPT and EINVAL, tcp_info and UDP counters.
#include <catch2/catch.hpp>

#include <cerrno>

#include "socket_pair_fixture.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::netstack::socket;
using namespace nicemu::sim::literals;
using nicemu::testing::socket_pattern;
using nicemu::testing::SocketHosts;
using nicemu::testing::WireTap;

namespace {
int get(SocketTable& t, int fd, int level, int opt) {
  int v = -12345;
  REQUIRE(t.getsockopt(fd, level, opt, &v) == 0);
  return v;
}
}  // namespace

TEST_CASE("sockopt: SO_RCVBUF and SO_SNDBUF are capped at 212992, doubled, and floored at 2304 and 4608",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  for (int type : {kSOCK_STREAM, kSOCK_DGRAM}) {
    INFO("type " << type);
    const int s = t.socket(kAF_INET, type, 0);
    struct Case {
      int set, rcv, snd;
    };
    for (const Case c : {Case{1000, 2304, 4608}, Case{1500, 3000, 4608}, Case{1, 2304, 4608}, Case{0, 2304, 4608},
                         Case{4000, 8000, 8000}, Case{212992, 425984, 425984}, Case{1 << 30, 425984, 425984},
                         Case{-1, 425984, 425984}}) {
      INFO("set " << c.set);
      REQUIRE(t.setsockopt(s, kSOL_SOCKET, kSO_RCVBUF, c.set, h.now()) == 0);
      REQUIRE(t.setsockopt(s, kSOL_SOCKET, kSO_SNDBUF, c.set, h.now()) == 0);
      CHECK(get(t, s, kSOL_SOCKET, kSO_RCVBUF) == c.rcv);
      CHECK(get(t, s, kSOL_SOCKET, kSO_SNDBUF) == c.snd);
    }
  }
  // The defaults: UDP has net.core.rmem_default / wmem_default, TCP its TcpConfig (tcp_rmem/wmem max).
  const int u = t.socket(kAF_INET6, kSOCK_DGRAM, 0);
  CHECK(get(t, u, kSOL_SOCKET, kSO_RCVBUF) == 212992);
  const int s = t.socket(kAF_INET6, kSOCK_STREAM, 0);
  CHECK(get(t, s, kSOL_SOCKET, kSO_RCVBUF) == static_cast<int>(tcp::TcpConfig{}.rcvbuf));
}

TEST_CASE("sockopt: SO_RCVBUF on a listener is inherited by accepted sockets and bounds the window the peer "
          "sees",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& b = h.table(1);
  const int l = b.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(b.setsockopt(l, kSOL_SOCKET, kSO_RCVBUF, 4096, h.now()) == 0);
  REQUIRE(b.bind(l, SocketHosts::any(kAF_INET, 80)) == 0);
  REQUIRE(b.listen(l, 1) == 0);
  const int c = h.table(0).socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(h.table(0).connect(c, SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EINPROGRESS);
  int s = -1;
  REQUIRE(h.run_until([&] { return (s = b.accept(l, nullptr)) >= 0; }));
  CHECK(get(b, s, kSOL_SOCKET, kSO_RCVBUF) == 8192);
  TcpInfo ci;
  REQUIRE(h.table(0).tcp_info(c, &ci) == 0);
  CHECK(ci.snd_wnd <= 8192);
  CHECK(ci.snd_wnd > 0);
  // The client queues far more than that (its send buffer takes it), but the server, which does
  // not read, gets no more than its window.
  REQUIRE(h.table(0).send(c, socket_pattern(100000, 1), 0, h.now()) > 32768);
  h.run_for(100_ms);
  TcpInfo si;
  REQUIRE(b.tcp_info(s, &si) == 0);
  CHECK(si.rcv_queued <= 8192);
  CHECK(si.rcv_queued > 4000);
}

TEST_CASE("sockopt: SO_SNDBUF bounds what one send takes", "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  SocketTable& a = h.table(0);
  REQUIRE(a.setsockopt(conn.client, kSOL_SOCKET, kSO_SNDBUF, 5000, h.now()) == 0);  // 10000 bytes
  CHECK(a.send(conn.client, socket_pattern(50000, 2), 0, h.now()) == 10000);
  CHECK(a.send(conn.client, socket_pattern(10, 2), 0, h.now()) == -EAGAIN);
}

TEST_CASE("sockopt: SO_REUSEADDR round-trips and lets two non-listening sockets share a port",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int s1 = t.socket(kAF_INET, kSOCK_STREAM, 0), s2 = t.socket(kAF_INET, kSOCK_STREAM, 0);
  CHECK(get(t, s1, kSOL_SOCKET, kSO_REUSEADDR) == 0);
  REQUIRE(t.bind(s1, SocketHosts::any(kAF_INET, 6000)) == 0);
  CHECK(t.bind(s2, SocketHosts::any(kAF_INET, 6000)) == -EADDRINUSE);
  REQUIRE(t.setsockopt(s1, kSOL_SOCKET, kSO_REUSEADDR, 7, h.now()) == 0);  // any non-zero
  CHECK(get(t, s1, kSOL_SOCKET, kSO_REUSEADDR) == 1);
  REQUIRE(t.setsockopt(s2, kSOL_SOCKET, kSO_REUSEADDR, 1, h.now()) == 0);
  CHECK(t.bind(s2, SocketHosts::any(kAF_INET, 6000)) == 0);
  REQUIRE(t.setsockopt(s2, kSOL_SOCKET, kSO_REUSEADDR, 0, h.now()) == 0);
  CHECK(get(t, s2, kSOL_SOCKET, kSO_REUSEADDR) == 0);
  const int u = t.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(t.setsockopt(u, kSOL_SOCKET, kSO_REUSEADDR, 1, h.now()) == 0);
  CHECK(get(t, u, kSOL_SOCKET, kSO_REUSEADDR) == 1);
}

TEST_CASE("sockopt: SO_TYPE, SO_DOMAIN, SO_PROTOCOL and SO_ERROR are read-only", "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int s = t.socket(kAF_INET, kSOCK_STREAM, 0), u = t.socket(kAF_INET6, kSOCK_DGRAM, 0);
  CHECK(get(t, s, kSOL_SOCKET, kSO_TYPE) == kSOCK_STREAM);
  CHECK(get(t, u, kSOL_SOCKET, kSO_TYPE) == kSOCK_DGRAM);
  CHECK(get(t, u, kSOL_SOCKET, kSO_DOMAIN) == kAF_INET6);
  CHECK(get(t, s, kSOL_SOCKET, kSO_ERROR) == 0);
  CHECK(get(t, u, kSOL_SOCKET, kSO_ACCEPTCONN) == 0);
  for (int opt : {kSO_TYPE, kSO_ERROR, kSO_DOMAIN, kSO_PROTOCOL, kSO_ACCEPTCONN}) {
    CHECK(t.setsockopt(s, kSOL_SOCKET, opt, 1, h.now()) == -ENOPROTOOPT);
  }
}

TEST_CASE("sockopt: SO_ZEROCOPY takes 0 or 1 on TCP and UDP, anything else is EINVAL, and accepted sockets "
          "inherit it",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& b = h.table(1);
  const int u = b.socket(kAF_INET6, kSOCK_DGRAM, 0);
  CHECK(get(b, u, kSOL_SOCKET, kSO_ZEROCOPY) == 0);
  REQUIRE(b.setsockopt(u, kSOL_SOCKET, kSO_ZEROCOPY, 1, h.now()) == 0);
  CHECK(get(b, u, kSOL_SOCKET, kSO_ZEROCOPY) == 1);
  CHECK(b.setsockopt(u, kSOL_SOCKET, kSO_ZEROCOPY, 2, h.now()) == -EINVAL);
  CHECK(b.setsockopt(u, kSOL_SOCKET, kSO_ZEROCOPY, -1, h.now()) == -EINVAL);
  CHECK(get(b, u, kSOL_SOCKET, kSO_ZEROCOPY) == 1);  // unchanged by the refused values
  const int l = b.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(b.setsockopt(l, kSOL_SOCKET, kSO_ZEROCOPY, 1, h.now()) == 0);
  REQUIRE(b.bind(l, SocketHosts::any(kAF_INET, 80)) == 0);
  REQUIRE(b.listen(l, 1) == 0);
  const int c = h.table(0).socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(h.table(0).connect(c, SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EINPROGRESS);
  int s = -1;
  REQUIRE(h.run_until([&] { return (s = b.accept(l, nullptr)) >= 0; }));
  CHECK(get(b, s, kSOL_SOCKET, kSO_ZEROCOPY) == 1);
  CHECK(get(h.table(0), c, kSOL_SOCKET, kSO_ZEROCOPY) == 0);
}

TEST_CASE("sockopt: turning TCP_NODELAY on sends the small segment Nagle holds", "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  SocketTable& a = h.table(0);
  CHECK(get(a, conn.client, kSOL_TCP, kTCP_NODELAY) == 0);
  const auto small = socket_pattern(100, 1);
  REQUIRE(a.send(conn.client, small, 0, h.now()) == 100);
  REQUIRE(a.send(conn.client, small, 0, h.now()) == 100);
  TcpInfo i;
  REQUIRE(a.tcp_info(conn.client, &i) == 0);
  CHECK(i.notsent_bytes == 100);  // held until the first is acknowledged
  REQUIRE(a.setsockopt(conn.client, kSOL_TCP, kTCP_NODELAY, 1, h.now()) == 0);
  CHECK(get(a, conn.client, kSOL_TCP, kTCP_NODELAY) == 1);
  REQUIRE(a.tcp_info(conn.client, &i) == 0);
  CHECK(i.notsent_bytes == 0);
  CHECK(i.unacked == 2);
  REQUIRE(a.send(conn.client, small, 0, h.now()) == 100);  // and the next small write goes at once
  REQUIRE(a.tcp_info(conn.client, &i) == 0);
  CHECK(i.notsent_bytes == 0);
  REQUIRE(a.setsockopt(conn.client, kSOL_TCP, kTCP_NODELAY, 0, h.now()) == 0);
  CHECK(get(a, conn.client, kSOL_TCP, kTCP_NODELAY) == 0);
}

TEST_CASE("sockopt: TCP_MAXSEG reads 536 before the handshake and the negotiated MSS after, setting it is not "
          "modelled",
          "[netstack][socket][unit]") {
  for (int family : {kAF_INET, kAF_INET6}) {
    INFO("family " << family);
    SocketHosts h;
    SocketTable& a = h.table(0);
    const int fresh = a.socket(family, kSOCK_STREAM, 0);
    CHECK(get(a, fresh, kSOL_TCP, kTCP_MAXSEG) == 536);  // TCP_MSS_DEFAULT
    CHECK(a.setsockopt(fresh, kSOL_TCP, kTCP_MAXSEG, 1000, h.now()) == -ENOPROTOOPT);
    auto conn = h.tcp_connect_pair(family);
    // MTU 1500 minus IP (20 or 40), TCP (20) and the timestamp option (12).
    CHECK(get(a, conn.client, kSOL_TCP, kTCP_MAXSEG) == (family == kAF_INET ? 1448 : 1428));
  }
}

TEST_CASE("sockopt: IP_TTL and IPV6_UNICAST_HOPS round-trip, refuse values outside -1..255, and are what the "
          "socket's packets carry",
          "[netstack][socket][unit]") {
  WireTap tap;
  tap.learn_peer();
  SocketTable& t = *tap.table;
  const int u4 = t.socket(kAF_INET, kSOCK_DGRAM, 0), u6 = t.socket(kAF_INET6, kSOCK_DGRAM, 0);
  CHECK(get(t, u4, kSOL_IP, kIP_TTL) == 64);  // net.ipv4.ip_default_ttl
  CHECK(get(t, u6, kSOL_IPV6, kIPV6_UNICAST_HOPS) == 64);
  CHECK(t.setsockopt(u4, kSOL_IP, kIP_TTL, 0, sim::TimePoint{}) == -EINVAL);
  CHECK(t.setsockopt(u4, kSOL_IP, kIP_TTL, 256, sim::TimePoint{}) == -EINVAL);
  CHECK(t.setsockopt(u4, kSOL_IP, kIP_TTL, -2, sim::TimePoint{}) == -EINVAL);
  CHECK(t.setsockopt(u6, kSOL_IPV6, kIPV6_UNICAST_HOPS, 256, sim::TimePoint{}) == -EINVAL);
  CHECK(t.setsockopt(u6, kSOL_IPV6, kIPV6_UNICAST_HOPS, -2, sim::TimePoint{}) == -EINVAL);
  CHECK(t.setsockopt(u4, kSOL_IPV6, kIPV6_UNICAST_HOPS, 5, sim::TimePoint{}) == -ENOPROTOOPT);  // IPv4 socket
  REQUIRE(t.setsockopt(u4, kSOL_IP, kIP_TTL, 7, sim::TimePoint{}) == 0);
  REQUIRE(t.setsockopt(u6, kSOL_IPV6, kIPV6_UNICAST_HOPS, 9, sim::TimePoint{}) == 0);
  REQUIRE(t.setsockopt(u6, kSOL_IP, kIP_TTL, 3, sim::TimePoint{}) == 0);  // accepted; IPv4-only, so no effect
  CHECK(get(t, u4, kSOL_IP, kIP_TTL) == 7);
  CHECK(get(t, u6, kSOL_IPV6, kIPV6_UNICAST_HOPS) == 9);
  CHECK(get(t, u6, kSOL_IP, kIP_TTL) == 3);
  const std::vector<std::byte> d(10);
  const SockAddr p4 = SocketHosts::addr(kAF_INET, 1, 9), p6 = SocketHosts::addr(kAF_INET6, 1, 9);
  REQUIRE(t.sendto(u4, d, 0, &p4, sim::TimePoint{}) == 10);
  REQUIRE(t.sendto(u6, d, 0, &p6, sim::TimePoint{}) == 10);
  REQUIRE(tap.frames.size() == 2);
  CHECK(WireTap::hop_limit_of(tap.frames[0]) == 7);
  CHECK(WireTap::hop_limit_of(tap.frames[1]) == 9);
  // -1 goes back to the default.
  REQUIRE(t.setsockopt(u4, kSOL_IP, kIP_TTL, -1, sim::TimePoint{}) == 0);
  CHECK(get(t, u4, kSOL_IP, kIP_TTL) == 64);
  REQUIRE(t.sendto(u4, d, 0, &p4, sim::TimePoint{}) == 10);
  CHECK(WireTap::hop_limit_of(tap.frames.back()) == 64);
  // IPv6 takes a hop limit of 0 and sends it as set (do_ipv6_setsockopt allows -1..255).
  REQUIRE(t.setsockopt(u6, kSOL_IPV6, kIPV6_UNICAST_HOPS, 0, sim::TimePoint{}) == 0);
  CHECK(get(t, u6, kSOL_IPV6, kIPV6_UNICAST_HOPS) == 0);
  REQUIRE(t.sendto(u6, d, 0, &p6, sim::TimePoint{}) == 10);
  CHECK(WireTap::hop_limit_of(tap.frames.back()) == 0);
  // TCP: the SYN already carries it.
  const int s4 = t.socket(kAF_INET, kSOCK_STREAM, 0), s6 = t.socket(kAF_INET6, kSOCK_STREAM, 0);
  REQUIRE(t.setsockopt(s4, kSOL_IP, kIP_TTL, 33, sim::TimePoint{}) == 0);
  REQUIRE(t.setsockopt(s6, kSOL_IPV6, kIPV6_UNICAST_HOPS, 44, sim::TimePoint{}) == 0);
  tap.frames.clear();
  REQUIRE(t.connect(s4, SocketHosts::addr(kAF_INET, 1, 80), sim::TimePoint{}) == -EINPROGRESS);
  REQUIRE(t.connect(s6, SocketHosts::addr(kAF_INET6, 1, 80), sim::TimePoint{}) == -EINPROGRESS);
  REQUIRE(tap.frames.size() == 2);
  CHECK(WireTap::hop_limit_of(tap.frames[0]) == 33);
  CHECK(WireTap::hop_limit_of(tap.frames[1]) == 44);
}

TEST_CASE("sockopt: options of another level or unknown ones are ENOPROTOOPT", "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int s = t.socket(kAF_INET, kSOCK_STREAM, 0), u = t.socket(kAF_INET, kSOCK_DGRAM, 0);
  int v = 0;
  CHECK(t.setsockopt(s, kSOL_SOCKET, 9999, 1, h.now()) == -ENOPROTOOPT);
  CHECK(t.getsockopt(s, kSOL_SOCKET, 9999, &v) == -ENOPROTOOPT);
  CHECK(t.setsockopt(u, kSOL_TCP, kTCP_NODELAY, 1, h.now()) == -ENOPROTOOPT);  // TCP options on UDP
  CHECK(t.getsockopt(u, kSOL_TCP, kTCP_NODELAY, &v) == -ENOPROTOOPT);
  CHECK(t.setsockopt(s, kSOL_TCP, 999, 1, h.now()) == -ENOPROTOOPT);
  CHECK(t.getsockopt(s, kSOL_TCP, kTCP_INFO, &v) == -ENOPROTOOPT);  // not an int: tcp_info()
  CHECK(t.setsockopt(s, kSOL_UDP, 1, 1, h.now()) == -ENOPROTOOPT);
  CHECK(t.setsockopt(s, 12345, 1, 1, h.now()) == -ENOPROTOOPT);
  CHECK(t.setsockopt(s, kSOL_IP, 99, 1, h.now()) == -ENOPROTOOPT);
  CHECK(t.getsockopt(s, kSOL_IPV6, kIPV6_UNICAST_HOPS, &v) == -ENOPROTOOPT);
}

TEST_CASE("sockopt: tcp_info shows the connection's state and counters, udp_info the datagram counters",
          "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  SocketTable& a = h.table(0);
  SocketTable& b = h.table(1);
  const auto data = socket_pattern(20000, 4);
  REQUIRE(a.send(conn.client, data, 0, h.now()) == 20000);
  std::vector<std::byte> got;
  REQUIRE(h.run_until([&] {
    h.drain(1, conn.server, got);
    return got.size() == data.size();
  }));
  h.run_for(100_ms);  // the last ACK
  TcpInfo ci, si;
  REQUIRE(a.tcp_info(conn.client, &ci) == 0);
  REQUIRE(b.tcp_info(conn.server, &si) == 0);
  CHECK(ci.state == tcp::TcpState::kEstablished);
  CHECK(ci.stats.bytes_acked == 20000);
  CHECK(si.stats.bytes_received == 20000);
  CHECK(ci.snd_mss == 1448);
  CHECK(ci.sack);
  CHECK(ci.timestamps);
  CHECK(ci.rtt_us > 0);
  CHECK(ci.unacked == 0);
  CHECK(ci.stats.segs_out >= 14);  // 20000 / 1448 data segments, the handshake's ACK
  TcpInfo li;
  REQUIRE(b.tcp_info(conn.listener, &li) == 0);
  CHECK(li.state == tcp::TcpState::kListen);
  const int u = a.socket(kAF_INET, kSOCK_DGRAM, 0);
  UdpInfo ui;
  CHECK(a.tcp_info(u, &ci) == -ENOPROTOOPT);
  CHECK(a.udp_info(conn.client, &ui) == -ENOPROTOOPT);
  REQUIRE(a.udp_info(u, &ui) == 0);
  CHECK(ui.stats.out_datagrams == 0);
}
