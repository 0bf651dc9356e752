// TCP through the socket API between two hosts: byte-exact transfers both ways over IPv4 and
// IPv6 with a clean close, __inet_stream_connect's answers, refused and reset connections,
// bind/listen/accept errno values, the accept backlog, shutdown in every state that matters,
// close, and the recv/send flags.
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

TEST_CASE("socket tcp: a connection over IPv4 and over IPv6 carries bytes both ways exactly and closes to no "
          "connection",
          "[netstack][socket][unit]") {
  for (int family : {kAF_INET, kAF_INET6}) {
    INFO(family_name(family));
    SocketHosts h;
    SocketTable& a = h.table(0);
    SocketTable& b = h.table(1);
    auto conn = h.tcp_connect_pair(family);
    SockAddr local, peer, seen;
    REQUIRE(a.getsockname(conn.client, &local) == 0);
    CHECK(local.addr == SocketHosts::addr(family, 0, 0).addr);
    CHECK(local.port >= 32768);
    REQUIRE(a.getpeername(conn.client, &peer) == 0);
    CHECK(peer == SocketHosts::addr(family, 1, 5001));
    REQUIRE(b.getpeername(conn.server, &seen) == 0);
    CHECK(seen == local);

    const auto up = socket_pattern(1 << 20, 1), down = socket_pattern(300 * 1000, 2);
    std::size_t up_sent = 0, down_sent = 0;
    std::vector<std::byte> got_up, got_down;
    REQUIRE(h.run_until(
        [&] {
          if (up_sent < up.size()) {
            const auto n = a.send(conn.client, std::span(up).subspan(up_sent), 0, h.now());
            if (n > 0) up_sent += static_cast<std::size_t>(n);
          }
          if (down_sent < down.size()) {
            const auto n = b.send(conn.server, std::span(down).subspan(down_sent), 0, h.now());
            if (n > 0) down_sent += static_cast<std::size_t>(n);
          }
          h.drain(1, conn.server, got_up);
          h.drain(0, conn.client, got_down);
          return got_up.size() == up.size() && got_down.size() == down.size();
        },
        10_s));
    CHECK(got_up == up);
    CHECK(got_down == down);

    // Orderly close: the client's FIN is the server's end of stream, then the server closes.
    REQUIRE(a.shutdown(conn.client, kSHUT_WR, h.now()) == 0);
    std::vector<std::byte> rest;
    REQUIRE(h.run_until([&] { return h.drain(1, conn.server, rest) == 0; }));
    CHECK(rest.empty());
    REQUIRE(b.close(conn.server, h.now()) == 0);
    REQUIRE(h.run_until([&] { return h.drain(0, conn.client, rest) == 0; }));
    REQUIRE(a.close(conn.client, h.now()) == 0);
    REQUIRE(b.close(conn.listener, h.now()) == 0);
    CHECK(a.open_fds() == 0);
    CHECK(b.open_fds() == 0);
    REQUIRE(h.all_connections_gone());  // TIME-WAIT ran out too
    CHECK(h.net.stack(0).tcp_totals().estab_resets == 0);
    CHECK(h.net.stack(1).tcp_totals().sum.rst_out == 0);
  }
}

TEST_CASE("socket tcp: a non-blocking connect answers EINPROGRESS, EALREADY while in SYN-SENT, 0 once "
          "established, then EISCONN",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  const int l = h.table(1).socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(h.table(1).bind(l, SocketHosts::any(kAF_INET, 80)) == 0);
  REQUIRE(h.table(1).listen(l, 4) == 0);
  const int c = a.socket(kAF_INET, kSOCK_STREAM | kSOCK_NONBLOCK, 0);
  const SockAddr to = SocketHosts::addr(kAF_INET, 1, 80);
  CHECK(a.connect(c, to, h.now()) == -EINPROGRESS);
  CHECK(a.connect(c, to, h.now()) == -EALREADY);
  SockAddr p;
  CHECK(a.getpeername(c, &p) == -ENOTCONN);  // SYN-SENT has no peer yet
  REQUIRE(h.run_until([&] { return h.revents(0, c, kPOLLOUT) == kPOLLOUT; }));
  CHECK(a.connect(c, to, h.now()) == 0);
  CHECK(a.connect(c, to, h.now()) == -EISCONN);
  CHECK(a.connect(c, SocketHosts::addr(kAF_INET, 1, 81), h.now()) == -EISCONN);
  REQUIRE(a.getpeername(c, &p) == 0);
  CHECK(p == to);
}

TEST_CASE("socket tcp: a refused connect shows POLLERR with POLLHUP, SO_ERROR reports ECONNREFUSED once, and the "
          "socket can connect again",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  const int c = a.socket(kAF_INET, kSOCK_STREAM, 0);
  const SockAddr to = SocketHosts::addr(kAF_INET, 1, 9);  // nobody listens on port 9
  REQUIRE(a.connect(c, to, h.now()) == -EINPROGRESS);
  CHECK(h.revents(0, c, kPOLLIN | kPOLLOUT) == 0);  // SYN-SENT: nothing yet
  REQUIRE(h.run_until([&] { return (h.revents(0, c, kPOLLOUT) & kPOLLERR) != 0; }));
  // tcp_done: both directions shut, CLOSE, an error pending.
  CHECK(h.revents(0, c, kPOLLIN | kPOLLOUT | kPOLLRDHUP) ==
        (kPOLLIN | kPOLLOUT | kPOLLRDHUP | kPOLLERR | kPOLLHUP));

  SECTION("SO_ERROR reads the error, and the next connect reports ECONNABORTED and resets the socket") {
    int err = -1;
    REQUIRE(a.getsockopt(c, kSOL_SOCKET, kSO_ERROR, &err) == 0);
    CHECK(err == ECONNREFUSED);
    REQUIRE(a.getsockopt(c, kSOL_SOCKET, kSO_ERROR, &err) == 0);
    CHECK(err == 0);
    CHECK((h.revents(0, c, kPOLLOUT) & kPOLLERR) == 0);
    CHECK(a.connect(c, to, h.now()) == -ECONNABORTED);
  }
  SECTION("the next connect reports ECONNREFUSED itself") {
    CHECK(a.connect(c, to, h.now()) == -ECONNREFUSED);
    int err = -1;
    REQUIRE(a.getsockopt(c, kSOL_SOCKET, kSO_ERROR, &err) == 0);
    CHECK(err == 0);
  }
  // Either way the socket is fresh again: a listener now exists and the same socket connects.
  CHECK(h.revents(0, c, kPOLLIN | kPOLLOUT) == (kPOLLOUT | kPOLLHUP));
  const int l = h.table(1).socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(h.table(1).bind(l, SocketHosts::any(kAF_INET, 9)) == 0);
  REQUIRE(h.table(1).listen(l, 1) == 0);
  REQUIRE(a.connect(c, to, h.now()) == -EINPROGRESS);
  REQUIRE(h.run_until([&] { return a.connect(c, to, h.now()) == 0; }));
  CHECK(h.run_until([&] { return h.table(1).accept(l, nullptr) >= 0; }));
}

TEST_CASE("socket tcp: bind's errno values, and AF_UNSPEC binding an AF_INET socket to INADDR_ANY",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int s1 = t.socket(kAF_INET, kSOCK_STREAM, 0);
  const int s2 = t.socket(kAF_INET, kSOCK_STREAM, 0);
  const int s6 = t.socket(kAF_INET6, kSOCK_STREAM, 0);
  CHECK(t.bind(s1, SockAddr{wire::Ipv4Address{{198, 51, 100, 7}}, 80}) == -EADDRNOTAVAIL);  // not ours
  CHECK(t.bind(s1, SocketHosts::any(kAF_INET6, 80)) == -EAFNOSUPPORT);
  CHECK(t.bind(s6, SocketHosts::addr(kAF_INET, 0, 80)) == -EAFNOSUPPORT);  // IPV6_V6ONLY
  CHECK(t.bind(s6, SockAddr{}) == -EAFNOSUPPORT);                          // AF_UNSPEC only for AF_INET
  REQUIRE(t.bind(s1, SockAddr{{}, 80}) == 0);                              // AF_UNSPEC: INADDR_ANY
  SockAddr got;
  REQUIRE(t.getsockname(s1, &got) == 0);
  CHECK(got == SocketHosts::any(kAF_INET, 80));
  CHECK(t.bind(s1, SocketHosts::any(kAF_INET, 81)) == -EINVAL);  // already bound
  CHECK(t.bind(s2, SocketHosts::addr(kAF_INET, 0, 80)) == -EADDRINUSE);
  REQUIRE(t.bind(s2, SocketHosts::any(kAF_INET, 0)) == 0);  // an ephemeral port
  REQUIRE(t.getsockname(s2, &got) == 0);
  CHECK(got.port >= 32768);
  CHECK(t.bind(s6, SocketHosts::any(kAF_INET6, 80)) == 0);  // the families do not share ports
  CHECK(t.bind(99, SocketHosts::any(kAF_INET, 1)) == -EBADF);
}

TEST_CASE("socket tcp: listen's and accept's errno values", "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(1);
  const int u = t.socket(kAF_INET, kSOCK_DGRAM, 0);
  CHECK(t.listen(u, 1) == -EOPNOTSUPP);
  CHECK(t.accept(u, nullptr) == -EOPNOTSUPP);
  const int s = t.socket(kAF_INET, kSOCK_STREAM, 0);
  CHECK(t.accept(s, nullptr) == -EINVAL);  // not listening
  REQUIRE(t.listen(s, 1) == 0);            // binds an ephemeral port first
  SockAddr got;
  REQUIRE(t.getsockname(s, &got) == 0);
  CHECK(got.port >= 32768);
  CHECK(t.accept(s, nullptr) == -EAGAIN);
  CHECK(t.accept4(s, nullptr, 0x1) == -EINVAL);  // flags other than SOCK_NONBLOCK | SOCK_CLOEXEC
  CHECK(t.listen(s, 16) == 0);                   // a listener may change its backlog
  CHECK(t.connect(s, SocketHosts::addr(kAF_INET, 0, 80), h.now()) == -EISCONN);  // listening
  int v = -1;
  REQUIRE(t.getsockopt(s, kSOL_SOCKET, kSO_ACCEPTCONN, &v) == 0);
  CHECK(v == 1);
  // Two sockets on one port with SO_REUSEADDR: the second may not listen while the first does.
  const int r1 = t.socket(kAF_INET, kSOCK_STREAM, 0), r2 = t.socket(kAF_INET, kSOCK_STREAM, 0);
  for (int r : {r1, r2}) {
    REQUIRE(t.setsockopt(r, kSOL_SOCKET, kSO_REUSEADDR, 1, h.now()) == 0);
    REQUIRE(t.bind(r, SocketHosts::any(kAF_INET, 7000)) == 0);
  }
  REQUIRE(t.listen(r1, 1) == 0);
  CHECK(t.listen(r2, 1) == -EADDRINUSE);
  // A connected socket may not listen.
  auto conn = h.tcp_connect_pair(kAF_INET);
  CHECK(h.table(0).listen(conn.client, 1) == -EINVAL);
  CHECK(t.listen(conn.server, 1) == -EINVAL);
  const int ep = t.epoll_create1(0);
  CHECK(t.accept(ep, nullptr) == -ENOTSOCK);
  CHECK(t.listen(ep, 1) == -ENOTSOCK);
  CHECK(t.accept(200, nullptr) == -EBADF);
}

TEST_CASE("socket tcp: listen(1) holds two established connections, drops further SYNs until one is "
          "accepted, and accept returns the peer's address",
          "[netstack][socket][unit]") {
  // sk_acceptq_is_full compares with `>`: listen(N) holds N + 1 (Linux since 5.4).
  SocketHosts h;
  SocketTable& a = h.table(0);
  SocketTable& b = h.table(1);
  const int l = b.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(b.bind(l, SocketHosts::any(kAF_INET, 80)) == 0);
  REQUIRE(b.listen(l, 1) == 0);
  int c[3];
  for (int i = 0; i < 2; ++i) {
    c[i] = a.socket(kAF_INET, kSOCK_STREAM, 0);
    REQUIRE(a.connect(c[i], SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EINPROGRESS);
    h.run_for(1_ms);  // the handshake takes three 10 us link crossings
    CHECK(a.connect(c[i], SocketHosts::addr(kAF_INET, 1, 80), h.now()) == 0);  // established
  }
  CHECK(h.revents(1, l, kPOLLIN) == kPOLLIN);
  c[2] = a.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(a.connect(c[2], SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EINPROGRESS);
  h.run_for(500_ms);
  CHECK(h.net.stack(1).stats().drop(inet::DropReason::kListenOverflow) >= 1);
  CHECK(a.connect(c[2], SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EALREADY);  // still SYN-SENT
  SockAddr peer;
  const int s1 = b.accept(l, &peer);
  REQUIRE(s1 >= 0);
  SockAddr c1_name;
  REQUIRE(a.getsockname(c[0], &c1_name) == 0);
  CHECK(peer == c1_name);  // in arrival order
  REQUIRE(b.accept(l, nullptr) >= 0);
  // The retransmitted SYN now finds room.
  int s3 = -1;
  REQUIRE(h.run_until([&] { return (s3 = b.accept(l, nullptr)) >= 0; }, 5_s));
  CHECK(a.connect(c[2], SocketHosts::addr(kAF_INET, 1, 80), h.now()) == 0);
}

TEST_CASE("socket tcp: closing a listener resets connections nobody accepted", "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  const int l = h.table(1).socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(h.table(1).listen(l, 4) == 0);
  SockAddr name;
  REQUIRE(h.table(1).getsockname(l, &name) == 0);
  const int c = a.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(a.connect(c, SocketHosts::addr(kAF_INET, 1, name.port), h.now()) == -EINPROGRESS);
  REQUIRE(h.run_until([&] { return h.revents(1, l, kPOLLIN) != 0; }));  // established, not accepted
  REQUIRE(h.table(1).close(l, h.now()) == 0);
  REQUIRE(h.run_until([&] { return (h.revents(0, c, kPOLLIN) & kPOLLERR) != 0; }));
  std::vector<std::byte> buf(10);
  CHECK(a.recv(c, buf, 0, h.now()) == -ECONNRESET);
  CHECK(a.recv(c, buf, 0, h.now()) == 0);  // after the error: end of stream (tcp_done)
  REQUIRE(a.close(c, h.now()) == 0);
  REQUIRE(h.all_connections_gone(1_s));
}

TEST_CASE("socket tcp: shutdown(SHUT_WR) is the peer's end of stream while the other direction still works",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  SocketTable& b = h.table(1);
  auto conn = h.tcp_connect_pair(kAF_INET6);
  const auto data = socket_pattern(5000, 3);
  REQUIRE(a.send(conn.client, data, 0, h.now()) == 5000);
  REQUIRE(a.shutdown(conn.client, kSHUT_WR, h.now()) == 0);
  CHECK(a.send(conn.client, data, 0, h.now()) == -EPIPE);
  CHECK(a.shutdown(conn.client, kSHUT_WR, h.now()) == 0);  // again: nothing more to do
  std::vector<std::byte> got;
  REQUIRE(h.run_until([&] { return h.drain(1, conn.server, got) == 0; }));
  CHECK(got == data);
  CHECK(h.revents(1, conn.server, kPOLLIN | kPOLLOUT | kPOLLRDHUP) == (kPOLLIN | kPOLLOUT | kPOLLRDHUP));
  // The server still sends; the half-closed client still reads.
  REQUIRE(b.send(conn.server, data, 0, h.now()) == 5000);
  std::vector<std::byte> back;
  REQUIRE(h.run_until([&] {
    h.drain(0, conn.client, back);
    return back.size() == data.size();
  }));
  CHECK(back == data);
  // The client shut SEND only: writable (a write fails at once) and no hang-up yet.
  CHECK(h.revents(0, conn.client, kPOLLIN | kPOLLOUT) == kPOLLOUT);
}

TEST_CASE("socket tcp: shutdown(SHUT_RD) makes recv return 0 once the queued bytes are read",
          "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  std::vector<std::byte> buf(100);
  CHECK(h.table(1).recv(conn.server, buf, 0, h.now()) == -EAGAIN);
  REQUIRE(h.table(0).send(conn.client, socket_pattern(10, 1), 0, h.now()) == 10);
  REQUIRE(h.run_until([&] { return (h.revents(1, conn.server, kPOLLIN) & kPOLLIN) != 0; }));
  REQUIRE(h.table(1).shutdown(conn.server, kSHUT_RD, h.now()) == 0);
  CHECK(h.revents(1, conn.server, kPOLLIN | kPOLLRDHUP) == (kPOLLIN | kPOLLRDHUP));
  CHECK(h.table(1).recv(conn.server, buf, 0, h.now()) == 10);
  CHECK(h.table(1).recv(conn.server, buf, 0, h.now()) == 0);
}

TEST_CASE("socket tcp: shutdown of an unconnected socket is ENOTCONN yet records the shutdown, a bad how is "
          "EINVAL",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int s = t.socket(kAF_INET, kSOCK_STREAM, 0);
  CHECK(t.shutdown(s, 3, h.now()) == -EINVAL);
  CHECK(t.shutdown(s, -1, h.now()) == -EINVAL);
  CHECK(h.revents(0, s, kPOLLIN | kPOLLOUT | kPOLLRDHUP) == (kPOLLOUT | kPOLLHUP));
  CHECK(t.shutdown(s, kSHUT_RDWR, h.now()) == -ENOTCONN);
  // inet_shutdown sets sk_shutdown even in CLOSE: now the read side reports hang-up too.
  CHECK(h.revents(0, s, kPOLLIN | kPOLLOUT | kPOLLRDHUP) == (kPOLLIN | kPOLLOUT | kPOLLRDHUP | kPOLLHUP));
}

TEST_CASE("socket tcp: shutdown(SHUT_RD) on a listener stops it listening, keeping its port",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& b = h.table(1);
  const int l = b.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(b.bind(l, SocketHosts::any(kAF_INET, 443)) == 0);
  REQUIRE(b.listen(l, 4) == 0);
  CHECK(b.shutdown(l, kSHUT_WR, h.now()) == 0);  // a listener ignores SHUT_WR
  int v = 0;
  REQUIRE(b.getsockopt(l, kSOL_SOCKET, kSO_ACCEPTCONN, &v) == 0);
  CHECK(v == 1);
  REQUIRE(b.shutdown(l, kSHUT_RD, h.now()) == 0);
  REQUIRE(b.getsockopt(l, kSOL_SOCKET, kSO_ACCEPTCONN, &v) == 0);
  CHECK(v == 0);
  SockAddr name;
  REQUIRE(b.getsockname(l, &name) == 0);
  CHECK(name.port == 443);
  const int c = h.table(0).socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(h.table(0).connect(c, SocketHosts::addr(kAF_INET, 1, 443), h.now()) == -EINPROGRESS);
  REQUIRE(h.run_until(
      [&] { return h.table(0).connect(c, SocketHosts::addr(kAF_INET, 1, 443), h.now()) != -EALREADY; }));
  CHECK(h.net.stack(1).stats().tcp_rst_out == 1);  // refused: nobody listens
  REQUIRE(b.listen(l, 4) == 0);  // and it may listen again
  REQUIRE(b.getsockname(l, &name) == 0);
  CHECK(name.port == 443);
}

TEST_CASE("socket tcp: shutdown of a connecting socket abandons the attempt with ECONNRESET",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  const int c = a.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(a.connect(c, SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EINPROGRESS);
  REQUIRE(a.shutdown(c, kSHUT_WR, h.now()) == 0);
  int err = 0;
  REQUIRE(a.getsockopt(c, kSOL_SOCKET, kSO_ERROR, &err) == 0);
  CHECK(err == ECONNRESET);
  h.run_for(10_ms);
  CHECK(h.net.stack(0).connections() == 1);  // only the fresh socket; the attempt is gone
  std::vector<std::byte> buf(4);
  CHECK(a.recv(c, buf, 0, h.now()) == -ENOTCONN);
}

TEST_CASE("socket tcp: connect to AF_UNSPEC resets the connection and leaves a socket that can connect again",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  auto conn = h.tcp_connect_pair(kAF_INET);
  REQUIRE(a.connect(conn.client, SockAddr{}, h.now()) == 0);
  int err = 0;
  REQUIRE(a.getsockopt(conn.client, kSOL_SOCKET, kSO_ERROR, &err) == 0);
  CHECK(err == ECONNRESET);
  REQUIRE(h.run_until([&] { return (h.revents(1, conn.server, kPOLLIN) & kPOLLERR) != 0; }));
  std::vector<std::byte> buf(4);
  CHECK(h.table(1).recv(conn.server, buf, 0, h.now()) == -ECONNRESET);
  REQUIRE(a.connect(conn.client, SocketHosts::addr(kAF_INET, 1, 5001), h.now()) == -EINPROGRESS);
  REQUIRE(h.run_until([&] { return h.table(1).accept(conn.listener, nullptr) >= 0; }));
}

TEST_CASE("socket tcp: recv on a never-connected socket or a listener is ENOTCONN, send is EPIPE, and EAGAIN "
          "while connecting",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int s = t.socket(kAF_INET, kSOCK_STREAM, 0);
  std::vector<std::byte> buf(8);
  CHECK(t.recv(s, buf, 0, h.now()) == -ENOTCONN);
  CHECK(t.send(s, buf, 0, h.now()) == -EPIPE);
  CHECK(t.send(s, {}, 0, h.now()) == -EPIPE);
  const int l = t.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(t.listen(l, 1) == 0);
  CHECK(t.recv(l, buf, 0, h.now()) == -ENOTCONN);
  CHECK(t.send(l, buf, 0, h.now()) == -EPIPE);
  REQUIRE(t.connect(s, SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EINPROGRESS);
  CHECK(t.send(s, buf, 0, h.now()) == -EAGAIN);
  CHECK(t.recv(s, buf, 0, h.now()) == -EAGAIN);
}

TEST_CASE("socket tcp: an AF_INET6 socket is IPV6_V6ONLY: an IPv4 destination is unreachable",
          "[netstack][socket][unit]") {
  SocketHosts h;
  const int s = h.table(0).socket(kAF_INET6, kSOCK_STREAM, 0);
  CHECK(h.table(0).connect(s, SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -ENETUNREACH);
  const int s4 = h.table(0).socket(kAF_INET, kSOCK_STREAM, 0);
  CHECK(h.table(0).connect(s4, SocketHosts::addr(kAF_INET6, 1, 80), h.now()) == -EAFNOSUPPORT);
  CHECK(h.table(0).connect(s4, SockAddr{wire::Ipv4Address{{198, 51, 100, 1}}, 80}, h.now()) == -ENETUNREACH);
}

TEST_CASE("socket tcp: MSG_PEEK leaves the bytes, MSG_TRUNC discards them, recvmsg scatters and sendmsg gathers",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  SocketTable& b = h.table(1);
  auto conn = h.tcp_connect_pair(kAF_INET);
  const auto data = socket_pattern(3000, 9);
  const std::array<std::span<const std::byte>, 3> out{std::span(data).first(1000), std::span<const std::byte>{},
                                                      std::span(data).subspan(1000)};
  REQUIRE(a.sendmsg(conn.client, SendMsgHdr{nullptr, out, {}}, 0, h.now()) == 3000);
  REQUIRE(h.run_until([&] {
    TcpInfo i;
    return b.tcp_info(conn.server, &i) == 0 && i.rcv_queued == 3000;
  }));
  std::vector<std::byte> p1(100), p2(200);
  const std::array<std::span<std::byte>, 2> peek_iov{p1, p2};
  RecvMsgHdr m{nullptr, peek_iov, 0, {}, 0};
  REQUIRE(b.recvmsg(conn.server, m, kMSG_PEEK, h.now()) == 300);
  CHECK(std::equal(p1.begin(), p1.end(), data.begin()));
  CHECK(std::equal(p2.begin(), p2.end(), data.begin() + 100));
  // MSG_TRUNC on TCP: the next 500 bytes are consumed without being copied.
  std::vector<std::byte> junk(500, std::byte{0xee});
  REQUIRE(b.recv(conn.server, junk, kMSG_TRUNC, h.now()) == 500);
  CHECK(junk == std::vector<std::byte>(500, std::byte{0xee}));
  std::vector<std::byte> r1(1000), r2(4000);
  const std::array<std::span<std::byte>, 2> iov{r1, r2};
  SockAddr from{SocketHosts::addr(kAF_INET, 0, 1)};
  RecvMsgHdr m2{&from, iov, -1, {}, 0};
  REQUIRE(b.recvmsg(conn.server, m2, 0, h.now()) == 2500);
  CHECK(m2.flags == 0);
  CHECK(from == SockAddr{});  // TCP reports no address
  CHECK(std::equal(r1.begin(), r1.end(), data.begin() + 500));
  CHECK(std::equal(r2.begin(), r2.begin() + 1500, data.begin() + 1500));
  // Flags TCP does not have.
  std::vector<std::byte> buf(4);
  CHECK(b.recv(conn.server, buf, kMSG_OOB, h.now()) == -EINVAL);
  CHECK(b.send(conn.server, buf, kMSG_OOB, h.now()) == -EOPNOTSUPP);
  CHECK(b.recv(conn.server, buf, kMSG_ERRQUEUE, h.now()) == -EAGAIN);
  // MSG_DONTWAIT, MSG_NOSIGNAL and MSG_ZEROCOPY send as usual.
  CHECK(b.send(conn.server, buf, kMSG_DONTWAIT | kMSG_NOSIGNAL | kMSG_ZEROCOPY, h.now()) == 4);
}

TEST_CASE("socket tcp: close with unread data resets the connection: the peer sees ECONNRESET",
          "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  REQUIRE(h.table(0).send(conn.client, socket_pattern(100, 1), 0, h.now()) == 100);
  REQUIRE(h.run_until([&] { return (h.revents(1, conn.server, kPOLLIN) & kPOLLIN) != 0; }));
  REQUIRE(h.table(1).close(conn.server, h.now()) == 0);  // 100 bytes never read
  CHECK(h.table(1).close(conn.server, h.now()) == -EBADF);
  REQUIRE(h.run_until([&] { return (h.revents(0, conn.client, kPOLLIN) & kPOLLERR) != 0; }));
  std::vector<std::byte> buf(4);
  CHECK(h.table(0).send(conn.client, buf, 0, h.now()) == -ECONNRESET);
  CHECK(h.table(0).send(conn.client, buf, 0, h.now()) == -EPIPE);
}
