// UDP through the socket API, both families: sendto/recvfrom, connected send/recv, MSG_PEEK,
// MSG_TRUNC and the truncated flag, ICMP port unreachable as ECONNREFUSED on a connected
// socket, disconnecting with AF_UNSPEC, and the errno values of the datagram calls.
#include <catch2/catch.hpp>

#include <cerrno>

#include "socket_pair_fixture.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::netstack::socket;
using namespace nicemu::sim::literals;
using nicemu::testing::socket_pattern;
using nicemu::testing::family_name;
using nicemu::testing::SocketHosts;

namespace {

bool readable(SocketHosts& h, int host, int fd) { return (h.revents(host, fd, kPOLLIN) & kPOLLIN) != 0; }
}  // namespace

TEST_CASE("socket udp: sendto and recvfrom carry datagrams byte-exact with the sender's address, in both "
          "families",
          "[netstack][socket][unit]") {
  for (int family : {kAF_INET, kAF_INET6}) {
    INFO(family_name(family));
    SocketHosts h;
    SocketTable& a = h.table(0);
    SocketTable& b = h.table(1);
    const int rx = b.socket(family, kSOCK_DGRAM, kIPPROTO_UDP);
    REQUIRE(b.bind(rx, SocketHosts::any(family, 9000)) == 0);
    const int tx = a.socket(family, kSOCK_DGRAM, 0);
    const std::vector<std::size_t> sizes{0, 1, 500, 1400};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      CHECK(a.sendto(tx, socket_pattern(sizes[i], static_cast<unsigned>(i)), 0, nullptr, h.now()) == -EDESTADDRREQ);
      const SockAddr to = SocketHosts::addr(family, 1, 9000);
      CHECK(a.sendto(tx, socket_pattern(sizes[i], static_cast<unsigned>(i)), 0, &to, h.now()) ==
            static_cast<std::int64_t>(sizes[i]));
    }
    SockAddr tx_name;
    REQUIRE(a.getsockname(tx, &tx_name) == 0);  // autobound by the first sendto
    CHECK(tx_name.port >= 32768);
    REQUIRE(h.run_until([&] {
      UdpInfo i;
      return b.udp_info(rx, &i) == 0 && i.queued_datagrams == sizes.size();
    }));
    std::vector<std::byte> buf(2000);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      SockAddr from;
      const auto n = b.recvfrom(rx, buf, 0, &from, h.now());
      REQUIRE(n == static_cast<std::int64_t>(sizes[i]));
      CHECK(from == SockAddr{SocketHosts::addr(family, 0, 0).addr, tx_name.port});
      CHECK(std::equal(buf.begin(), buf.begin() + n, socket_pattern(sizes[i], static_cast<unsigned>(i)).begin()));
    }
    CHECK(b.recv(rx, buf, 0, h.now()) == -EAGAIN);
    UdpInfo info;
    REQUIRE(b.udp_info(rx, &info) == 0);
    CHECK(info.stats.in_datagrams == sizes.size());
    CHECK(info.stats.in_bytes == 1901);
    REQUIRE(a.udp_info(tx, &info) == 0);
    CHECK(info.stats.out_datagrams == sizes.size());
    REQUIRE(a.close(tx, h.now()) == 0);
    REQUIRE(b.close(rx, h.now()) == 0);
    CHECK(h.net.stack(0).udp_sockets() == 0);
    CHECK(h.net.stack(1).udp_sockets() == 0);
  }
}

TEST_CASE("socket udp: a connected socket sends with send, receives with recv, and hears only its peer",
          "[netstack][socket][unit]") {
  for (int family : {kAF_INET, kAF_INET6}) {
    INFO(family_name(family));
    SocketHosts h;
    SocketTable& a = h.table(0);
    SocketTable& b = h.table(1);
    const int server = b.socket(family, kSOCK_DGRAM, 0);
    REQUIRE(b.bind(server, SocketHosts::any(family, 53)) == 0);
    const int client = a.socket(family, kSOCK_DGRAM, 0);
    REQUIRE(a.connect(client, SocketHosts::addr(family, 1, 53), h.now()) == 0);
    SockAddr peer, me;
    REQUIRE(a.getpeername(client, &peer) == 0);
    CHECK(peer == SocketHosts::addr(family, 1, 53));
    REQUIRE(a.getsockname(client, &me) == 0);
    const auto q = socket_pattern(40, 1);
    REQUIRE(a.send(client, q, 0, h.now()) == 40);
    REQUIRE(h.run_until([&] { return readable(h, 1, server); }));
    std::vector<std::byte> buf(100);
    SockAddr from;
    REQUIRE(b.recvfrom(server, buf, 0, &from, h.now()) == 40);
    CHECK(std::equal(q.begin(), q.end(), buf.begin()));
    // The answer comes back; a datagram from another port is not for the connected socket.
    const auto r = socket_pattern(60, 2);
    REQUIRE(b.sendto(server, r, 0, &from, h.now()) == 60);
    const int other = b.socket(family, kSOCK_DGRAM, 0);
    const SockAddr client_addr{SocketHosts::addr(family, 0, 0).addr, me.port};
    REQUIRE(b.sendto(other, socket_pattern(5, 3), 0, &client_addr, h.now()) == 5);
    REQUIRE(h.run_until([&] { return h.net.stack(0).stats().udp_no_ports == 1; }));
    REQUIRE(readable(h, 0, client));
    REQUIRE(a.recv(client, buf, 0, h.now()) == 60);
    CHECK(std::equal(r.begin(), r.end(), buf.begin()));
    CHECK(a.recv(client, buf, 0, h.now()) == -EAGAIN);
    // sendto with an address on a connected socket goes there (Linux allows it).
    const int third = b.socket(family, kSOCK_DGRAM, 0);
    REQUIRE(b.bind(third, SocketHosts::any(family, 54)) == 0);
    const SockAddr to54 = SocketHosts::addr(family, 1, 54);
    REQUIRE(a.sendto(client, q, 0, &to54, h.now()) == 40);
    REQUIRE(h.run_until([&] { return readable(h, 1, third); }));
  }
}

TEST_CASE("socket udp: MSG_PEEK returns the datagram again, a short buffer sets MSG_TRUNC in msg_flags, and "
          "MSG_TRUNC returns the real length",
          "[netstack][socket][unit]") {
  for (int family : {kAF_INET, kAF_INET6}) {
    INFO(family_name(family));
    SocketHosts h;
    SocketTable& b = h.table(1);
    const int rx = b.socket(family, kSOCK_DGRAM, 0);
    REQUIRE(b.bind(rx, SocketHosts::addr(family, 1, 7)) == 0);
    const int tx = h.table(0).socket(family, kSOCK_DGRAM, 0);
    const SockAddr to = SocketHosts::addr(family, 1, 7);
    const auto d1 = socket_pattern(600, 5), d2 = socket_pattern(300, 6), d3 = socket_pattern(50, 7);
    for (const auto* d : {&d1, &d2, &d3}) {
      REQUIRE(h.table(0).sendto(tx, *d, 0, &to, h.now()) == static_cast<std::int64_t>(d->size()));
    }
    REQUIRE(h.run_until([&] {
      UdpInfo i;
      return b.udp_info(rx, &i) == 0 && i.queued_datagrams == 3;
    }));
    std::vector<std::byte> small(100);
    const std::array<std::span<std::byte>, 1> iov{small};
    SockAddr from;
    RecvMsgHdr m{&from, iov, 0, {}, 0};
    // Peek: the first 100 bytes, the datagram stays; the flag says it did not fit.
    REQUIRE(b.recvmsg(rx, m, kMSG_PEEK, h.now()) == 100);
    CHECK(m.flags == kMSG_TRUNC);
    CHECK(std::equal(small.begin(), small.end(), d1.begin()));
    // MSG_PEEK | MSG_TRUNC: the real length, still not consumed.
    REQUIRE(b.recvmsg(rx, m, kMSG_PEEK | kMSG_TRUNC, h.now()) == 600);
    // A plain read of a short buffer: 100 bytes, MSG_TRUNC set, the rest of the datagram lost.
    REQUIRE(b.recvmsg(rx, m, 0, h.now()) == 100);
    CHECK(m.flags == kMSG_TRUNC);
    CHECK(from == SockAddr{SocketHosts::addr(family, 0, 0).addr, from.port});
    // MSG_TRUNC: the second datagram's real length although 100 bytes were copied.
    REQUIRE(b.recvmsg(rx, m, kMSG_TRUNC, h.now()) == 300);
    CHECK(m.flags == kMSG_TRUNC);
    CHECK(std::equal(small.begin(), small.end(), d2.begin()));
    // One that fits: no flag.
    REQUIRE(b.recvmsg(rx, m, kMSG_TRUNC, h.now()) == 50);
    CHECK(m.flags == 0);
    CHECK(b.recv(rx, small, kMSG_ERRQUEUE, h.now()) == -EAGAIN);
  }
}

TEST_CASE("socket udp: a port unreachable is ECONNREFUSED on a connected socket: POLLERR, then the next call "
          "reports it once",
          "[netstack][socket][unit]") {
  enum class Way { kRecv, kSend, kSoError };
  for (int family : {kAF_INET, kAF_INET6}) {
    for (Way way : {Way::kRecv, Way::kSend, Way::kSoError}) {
      INFO(family_name(family) << " way " << static_cast<int>(way));
      SocketHosts h;
      SocketTable& a = h.table(0);
      const int s = a.socket(family, kSOCK_DGRAM, 0);
      REQUIRE(a.connect(s, SocketHosts::addr(family, 1, 7777), h.now()) == 0);  // nobody there
      CHECK(h.revents(0, s, kPOLLIN | kPOLLOUT) == kPOLLOUT);
      const auto d = socket_pattern(10, 1);
      REQUIRE(a.send(s, d, 0, h.now()) == 10);
      REQUIRE(h.run_until([&] { return (h.revents(0, s, kPOLLIN) & kPOLLERR) != 0; }));
      CHECK(h.revents(0, s, kPOLLIN | kPOLLOUT) == (kPOLLOUT | kPOLLERR));  // an error is not POLLIN
      std::vector<std::byte> buf(16);
      int err = 0;
      switch (way) {
        case Way::kRecv: CHECK(a.recv(s, buf, 0, h.now()) == -ECONNREFUSED); break;
        case Way::kSend: CHECK(a.send(s, d, 0, h.now()) == -ECONNREFUSED); break;
        case Way::kSoError:
          REQUIRE(a.getsockopt(s, kSOL_SOCKET, kSO_ERROR, &err) == 0);
          CHECK(err == ECONNREFUSED);
          break;
      }
      CHECK(h.revents(0, s, kPOLLIN | kPOLLOUT) == kPOLLOUT);
      CHECK(a.recv(s, buf, 0, h.now()) == -EAGAIN);
      CHECK(a.send(s, d, 0, h.now()) == 10);
    }
  }
}

TEST_CASE("socket udp: connect to AF_UNSPEC dissolves the association", "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  const int s = a.socket(kAF_INET6, kSOCK_DGRAM, 0);
  REQUIRE(a.connect(s, SocketHosts::addr(kAF_INET6, 1, 9), h.now()) == 0);
  REQUIRE(a.connect(s, SockAddr{}, h.now()) == 0);
  SockAddr p;
  CHECK(a.getpeername(s, &p) == -ENOTCONN);
  std::vector<std::byte> d(4);
  CHECK(a.send(s, d, 0, h.now()) == -EDESTADDRREQ);
  CHECK(a.shutdown(s, kSHUT_RD, h.now()) == -ENOTCONN);
}

TEST_CASE("socket udp: connect picks the routed source address, and AF_UNSPEC gives back what bind() did not name",
          "[netstack][socket][unit]") {
  for (int family : {kAF_INET, kAF_INET6}) {
    INFO(family_name(family));
    SocketHosts h;
    SocketTable& a = h.table(0);
    // Unbound: connect autobinds a port and takes the routed source (ip4_datagram_connect).
    const int s = a.socket(family, kSOCK_DGRAM, 0);
    REQUIRE(a.connect(s, SocketHosts::addr(family, 1, 9), h.now()) == 0);
    SockAddr name;
    REQUIRE(a.getsockname(s, &name) == 0);
    CHECK(name.addr == SocketHosts::addr(family, 0, 0).addr);
    CHECK(name.port != 0);
    // Disconnect: neither was named by bind(), so both go (__udp_disconnect).
    REQUIRE(a.connect(s, SockAddr{}, h.now()) == 0);
    REQUIRE(a.getsockname(s, &name) == 0);
    CHECK(name.addr.is_unspecified());
    CHECK(name.port == 0);
    // Bound to a port on the wildcard: the port stays, the address goes back to the wildcard.
    const int b = a.socket(family, kSOCK_DGRAM, 0);
    REQUIRE(a.bind(b, SocketHosts::any(family, 7000)) == 0);
    REQUIRE(a.connect(b, SocketHosts::addr(family, 1, 9), h.now()) == 0);
    REQUIRE(a.getsockname(b, &name) == 0);
    CHECK(name.addr == SocketHosts::addr(family, 0, 0).addr);
    CHECK(name.port == 7000);
    REQUIRE(a.connect(b, SockAddr{}, h.now()) == 0);
    REQUIRE(a.getsockname(b, &name) == 0);
    CHECK(name.addr.is_unspecified());
    CHECK(name.port == 7000);
    // A third socket cannot take the port the second still holds.
    const int c = a.socket(family, kSOCK_DGRAM, 0);
    CHECK(a.bind(c, SocketHosts::any(family, 7000)) == -EADDRINUSE);
  }
}

TEST_CASE("socket udp: two sockets that both set SO_REUSEADDR share a port, and either alone does not",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(1);
  const int u1 = t.socket(kAF_INET, kSOCK_DGRAM, 0), u2 = t.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(t.setsockopt(u1, kSOL_SOCKET, kSO_REUSEADDR, 1, h.now()) == 0);
  REQUIRE(t.bind(u1, SocketHosts::any(kAF_INET, 5353)) == 0);
  CHECK(t.bind(u2, SocketHosts::any(kAF_INET, 5353)) == -EADDRINUSE);
  REQUIRE(t.setsockopt(u2, kSOL_SOCKET, kSO_REUSEADDR, 1, h.now()) == 0);
  REQUIRE(t.bind(u2, SocketHosts::any(kAF_INET, 5353)) == 0);
  // A datagram to the port reaches one of them.
  SocketTable& a = h.table(0);
  const int tx = a.socket(kAF_INET, kSOCK_DGRAM, 0);
  const SockAddr to = SocketHosts::addr(kAF_INET, 1, 5353);
  REQUIRE(a.sendto(tx, socket_pattern(100, 1), 0, &to, h.now()) == 100);
  REQUIRE(h.run_until([&] { return (h.revents(1, u1, kPOLLIN) | h.revents(1, u2, kPOLLIN)) != 0; }));
  // Turning it off on the first socket: a third one with SO_REUSEADDR is refused again.
  REQUIRE(t.setsockopt(u1, kSOL_SOCKET, kSO_REUSEADDR, 0, h.now()) == 0);
  const int u3 = t.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(t.setsockopt(u3, kSOL_SOCKET, kSO_REUSEADDR, 1, h.now()) == 0);
  CHECK(t.bind(u3, SocketHosts::any(kAF_INET, 5353)) == -EADDRINUSE);
}

TEST_CASE("socket udp: errno values of the datagram calls", "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  const int s4 = a.socket(kAF_INET, kSOCK_DGRAM, 0);
  const int s6 = a.socket(kAF_INET6, kSOCK_DGRAM, 0);
  std::vector<std::byte> d(8);
  const SockAddr v4 = SocketHosts::addr(kAF_INET, 1, 9), v6 = SocketHosts::addr(kAF_INET6, 1, 9);
  CHECK(a.send(s4, d, 0, h.now()) == -EDESTADDRREQ);
  CHECK(a.sendto(s4, d, 0, &v6, h.now()) == -EAFNOSUPPORT);
  CHECK(a.sendto(s6, d, 0, &v4, h.now()) == -ENETUNREACH);  // IPV6_V6ONLY
  const SockAddr far{wire::Ipv4Address{{198, 51, 100, 1}}, 9};
  CHECK(a.sendto(s4, d, 0, &far, h.now()) == -ENETUNREACH);
  const SockAddr port0 = SocketHosts::addr(kAF_INET, 1, 0);
  CHECK(a.sendto(s4, d, 0, &port0, h.now()) == -EINVAL);
  std::vector<std::byte> big(1473);  // MTU 1500 - 20 - 8 + 1, and nicemu does not fragment
  CHECK(a.sendto(s4, big, 0, &v4, h.now()) == -EMSGSIZE);
  CHECK(a.sendto(s4, d, kMSG_OOB, &v4, h.now()) == -EOPNOTSUPP);
  CHECK(a.connect(s6, v4, h.now()) == -EAFNOSUPPORT);
  CHECK(a.connect(s4, v6, h.now()) == -EAFNOSUPPORT);
  CHECK(a.listen(s4, 1) == -EOPNOTSUPP);
  CHECK(a.accept(s4, nullptr) == -EOPNOTSUPP);
  SockAddr p;
  CHECK(a.getpeername(s4, &p) == -ENOTCONN);
  std::vector<std::byte> buf(8);
  CHECK(a.recv(s4, buf, 0, h.now()) == -EAGAIN);
  // shutdown of an unconnected socket: ENOTCONN, yet the bits stick (datagram_poll shows them).
  CHECK(a.shutdown(s4, kSHUT_RDWR, h.now()) == -ENOTCONN);
  CHECK(h.revents(0, s4, kPOLLIN | kPOLLRDHUP) == (kPOLLIN | kPOLLRDHUP | kPOLLHUP));
  CHECK(a.sendto(s4, d, 0, &v4, h.now()) == -EPIPE);  // after SHUT_WR
  CHECK(a.recv(s4, buf, 0, h.now()) == -EAGAIN);      // non-blocking: still EAGAIN
  // Binding errors.
  const int b1 = a.socket(kAF_INET, kSOCK_DGRAM, 0), b2 = a.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(a.bind(b1, SocketHosts::any(kAF_INET, 5000)) == 0);
  CHECK(a.bind(b2, SocketHosts::addr(kAF_INET, 0, 5000)) == -EADDRINUSE);
  CHECK(a.bind(b1, SocketHosts::any(kAF_INET, 5001)) == -EINVAL);
  CHECK(a.bind(b2, SocketHosts::addr(kAF_INET, 1, 5000)) == -EADDRNOTAVAIL);
}
