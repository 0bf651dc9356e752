// The descriptor table: lowest free descriptor from 3, EMFILE at RLIMIT_NOFILE (also for
// accept, which leaves the connection queued), socket()'s argument checks in Linux's order,
// EBADF and ENOTSOCK.
#include <catch2/catch.hpp>

#include <cerrno>

#include "socket_pair_fixture.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::netstack::socket;
using namespace nicemu::sim::literals;
using nicemu::testing::SocketHosts;

TEST_CASE("socket table: descriptors are the lowest free ones from 3, sockets and epolls alike",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  CHECK(t.socket(kAF_INET, kSOCK_STREAM, 0) == 3);
  CHECK(t.socket(kAF_INET6, kSOCK_DGRAM, 0) == 4);
  CHECK(t.epoll_create1(0) == 5);
  CHECK(t.socket(kAF_INET, kSOCK_DGRAM, 0) == 6);
  REQUIRE(t.close(4, h.now()) == 0);
  REQUIRE(t.close(3, h.now()) == 0);
  CHECK(t.open_fds() == 2);
  CHECK(t.socket(kAF_INET, kSOCK_STREAM, 0) == 3);
  CHECK(t.epoll_create(1) == 4);
  CHECK(t.socket(kAF_INET, kSOCK_STREAM, 0) == 7);
  t.close_all(h.now());
  CHECK(t.open_fds() == 0);
  CHECK(h.net.stack(0).connections() == 0);
  CHECK(h.net.stack(0).udp_sockets() == 0);
}

TEST_CASE("socket table: the 1022nd descriptor is EMFILE under the default RLIMIT_NOFILE of 1024",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  for (int i = 0; i < 1021; ++i) REQUIRE(t.socket(kAF_INET, kSOCK_DGRAM, 0) == 3 + i);
  CHECK(t.socket(kAF_INET, kSOCK_DGRAM, 0) == -EMFILE);
  CHECK(t.epoll_create1(0) == -EMFILE);
  CHECK(h.net.stack(0).udp_sockets() == 1021);  // the refused socket left nothing behind
  REQUIRE(t.close(500, h.now()) == 0);
  CHECK(t.socket(kAF_INET, kSOCK_STREAM, 0) == 500);
}

TEST_CASE("socket table: accept at the descriptor limit is EMFILE and leaves the connection to a later accept",
          "[netstack][socket][unit]") {
  SocketHosts h(1, {}, {}, SocketTableConfig{6, {}});  // descriptors 3, 4, 5
  SocketTable& b = h.table(1);
  const int l = b.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(b.bind(l, SocketHosts::any(kAF_INET, 80)) == 0);
  REQUIRE(b.listen(l, 4) == 0);
  const int filler1 = b.socket(kAF_INET, kSOCK_DGRAM, 0);
  const int filler2 = b.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(filler2 == 5);
  CHECK(b.socket(kAF_INET, kSOCK_DGRAM, 0) == -EMFILE);
  const int c = h.table(0).socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(h.table(0).connect(c, SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EINPROGRESS);
  REQUIRE(h.run_until([&] { return h.revents(1, l, kPOLLIN) == kPOLLIN; }));
  CHECK(b.accept(l, nullptr) == -EMFILE);
  CHECK(h.revents(1, l, kPOLLIN) == kPOLLIN);  // still queued
  REQUIRE(b.close(filler1, h.now()) == 0);
  CHECK(b.accept(l, nullptr) == filler1);
  CHECK(b.accept(l, nullptr) == -EMFILE);  // the flags and the descriptor come before EAGAIN
  CHECK(b.accept4(l, nullptr, 0x1) == -EINVAL);
}

TEST_CASE("socket table: socket() checks flags, family, type and protocol in Linux's order",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  CHECK(t.socket(kAF_INET, kSOCK_STREAM | 0x100, 0) == -EINVAL);  // a flag that is not NONBLOCK/CLOEXEC
  CHECK(t.socket(99, kSOCK_STREAM | 0x100, 0) == -EINVAL);        // ... checked before the family
  CHECK(t.socket(-1, kSOCK_STREAM, 0) == -EAFNOSUPPORT);
  CHECK(t.socket(kAF_MAX, kSOCK_STREAM, 0) == -EAFNOSUPPORT);
  CHECK(t.socket(99, 12, 0) == -EAFNOSUPPORT);  // family out of range first
  CHECK(t.socket(1, 12, 0) == -EINVAL);         // AF_UNIX is in range: the bad type speaks first
  CHECK(t.socket(1, kSOCK_STREAM, 0) == -EAFNOSUPPORT);   // AF_UNIX is not modelled
  CHECK(t.socket(17, kSOCK_DGRAM, 0) == -EAFNOSUPPORT);   // nor AF_PACKET
  CHECK(t.socket(kAF_UNSPEC, kSOCK_STREAM, 0) == -EAFNOSUPPORT);
  CHECK(t.socket(kAF_INET, kSOCK_MAX, 0) == -EINVAL);
  CHECK(t.socket(kAF_INET, kSOCK_STREAM, -1) == -EINVAL);
  CHECK(t.socket(kAF_INET, kSOCK_STREAM, kIPPROTO_MAX) == -EINVAL);
  CHECK(t.socket(kAF_INET, kSOCK_RAW, 0) == -ESOCKTNOSUPPORT);
  CHECK(t.socket(kAF_INET6, kSOCK_SEQPACKET, 0) == -ESOCKTNOSUPPORT);
  CHECK(t.socket(kAF_INET, kSOCK_STREAM, kIPPROTO_UDP) == -EPROTONOSUPPORT);
  CHECK(t.socket(kAF_INET6, kSOCK_DGRAM, kIPPROTO_TCP) == -EPROTONOSUPPORT);
  CHECK(t.socket(kAF_INET, kSOCK_DGRAM, 1) == -EPROTONOSUPPORT);  // ping sockets are not modelled
  CHECK(t.open_fds() == 0);
  CHECK(h.net.stack(0).connections() == 0);
  const int s = t.socket(kAF_INET6, kSOCK_STREAM | kSOCK_NONBLOCK | kSOCK_CLOEXEC, kIPPROTO_TCP);
  REQUIRE(s == 3);
  int v = 0;
  REQUIRE(t.getsockopt(s, kSOL_SOCKET, kSO_PROTOCOL, &v) == 0);
  CHECK(v == kIPPROTO_TCP);
  REQUIRE(t.getsockopt(s, kSOL_SOCKET, kSO_DOMAIN, &v) == 0);
  CHECK(v == kAF_INET6);
  const int u = t.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(t.getsockopt(u, kSOL_SOCKET, kSO_PROTOCOL, &v) == 0);
  CHECK(v == kIPPROTO_UDP);  // protocol 0 resolved to the type's protocol
}

TEST_CASE("socket table: a descriptor that is not open is EBADF, an epoll descriptor is not a socket",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int s = t.socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(t.close(s, h.now()) == 0);
  std::vector<std::byte> buf(4);
  SockAddr addr;
  int v = 0;
  for (int fd : {s, -1, 0, 1, 2, 1000, 5000}) {
    INFO("fd " << fd);
    CHECK(t.close(fd, h.now()) == -EBADF);
    CHECK(t.bind(fd, SocketHosts::any(kAF_INET, 1)) == -EBADF);
    CHECK(t.listen(fd, 1) == -EBADF);
    CHECK(t.connect(fd, SocketHosts::addr(kAF_INET, 1, 1), h.now()) == -EBADF);
    CHECK(t.send(fd, buf, 0, h.now()) == -EBADF);
    CHECK(t.recv(fd, buf, 0, h.now()) == -EBADF);
    CHECK(t.shutdown(fd, kSHUT_RDWR, h.now()) == -EBADF);
    CHECK(t.getsockname(fd, &addr) == -EBADF);
    CHECK(t.getpeername(fd, &addr) == -EBADF);
    CHECK(t.setsockopt(fd, kSOL_SOCKET, kSO_REUSEADDR, 1, h.now()) == -EBADF);
    CHECK(t.getsockopt(fd, kSOL_SOCKET, kSO_TYPE, &v) == -EBADF);
  }
  const int ep = t.epoll_create1(0);
  CHECK(t.bind(ep, SocketHosts::any(kAF_INET, 1)) == -ENOTSOCK);
  CHECK(t.connect(ep, SocketHosts::addr(kAF_INET, 1, 1), h.now()) == -ENOTSOCK);
  CHECK(t.send(ep, buf, 0, h.now()) == -ENOTSOCK);
  CHECK(t.recv(ep, buf, 0, h.now()) == -ENOTSOCK);
  CHECK(t.shutdown(ep, kSHUT_RD, h.now()) == -ENOTSOCK);
  CHECK(t.getsockname(ep, &addr) == -ENOTSOCK);
  CHECK(t.setsockopt(ep, kSOL_SOCKET, kSO_REUSEADDR, 1, h.now()) == -ENOTSOCK);
  CHECK(t.getsockopt(ep, kSOL_SOCKET, kSO_TYPE, &v) == -ENOTSOCK);
  TcpInfo ti;
  CHECK(t.tcp_info(ep, &ti) == -ENOTSOCK);
  CHECK(t.close(ep, h.now()) == 0);
}
