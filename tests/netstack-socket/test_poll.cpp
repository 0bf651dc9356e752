// Readiness as tcp_poll / datagram_poll compute it, through poll() and a level-triggered epoll:
// writable after connect, readable on data, POLLRDHUP on FIN, POLLHUP|POLLERR on reset, a
// listener readable with a connection to accept, the send buffer's wake-up threshold; epoll's
// order, its resumption after a full buffer, EPOLLONESHOT, and its errno values.
#include <catch2/catch.hpp>

#include <cerrno>

#include "socket_pair_fixture.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::netstack::socket;
using namespace nicemu::sim::literals;
using nicemu::testing::socket_pattern;
using nicemu::testing::SocketHosts;

namespace {
constexpr short kAll = kPOLLIN | kPOLLPRI | kPOLLOUT | kPOLLRDNORM | kPOLLWRNORM | kPOLLRDHUP;
}  // namespace

TEST_CASE("poll: a TCP socket is POLLOUT|POLLHUP fresh, nothing while connecting, writable once connected",
          "[netstack][socket][unit]") {
  SocketHosts h;
  const int l = h.table(1).socket(kAF_INET, kSOCK_STREAM, 0);
  REQUIRE(h.table(1).bind(l, SocketHosts::any(kAF_INET, 80)) == 0);
  CHECK(h.revents(1, l, kAll) == (kPOLLOUT | kPOLLWRNORM | kPOLLHUP));  // bound, still CLOSE
  REQUIRE(h.table(1).listen(l, 4) == 0);
  CHECK(h.revents(1, l, kAll) == 0);  // a listener with nothing to accept
  const int c = h.table(0).socket(kAF_INET, kSOCK_STREAM, 0);
  CHECK(h.revents(0, c, kAll) == (kPOLLOUT | kPOLLWRNORM | kPOLLHUP));
  REQUIRE(h.table(0).connect(c, SocketHosts::addr(kAF_INET, 1, 80), h.now()) == -EINPROGRESS);
  CHECK(h.revents(0, c, kAll) == 0);
  REQUIRE(h.run_until([&] { return h.revents(0, c, kAll) != 0; }));
  CHECK(h.revents(0, c, kAll) == (kPOLLOUT | kPOLLWRNORM));
  REQUIRE(h.run_until([&] { return h.revents(1, l, kAll) != 0; }));
  CHECK(h.revents(1, l, kAll) == (kPOLLIN | kPOLLRDNORM));  // the listener has one to accept
  const int s = h.table(1).accept(l, nullptr);
  REQUIRE(s >= 0);
  CHECK(h.revents(1, l, kAll) == 0);
  CHECK(h.revents(1, s, kAll) == (kPOLLOUT | kPOLLWRNORM));
}

TEST_CASE("poll: a TCP socket is readable while received bytes wait, and not once they are read",
          "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET6);
  REQUIRE(h.table(0).send(conn.client, socket_pattern(3000, 1), 0, h.now()) == 3000);
  REQUIRE(h.run_until([&] { return (h.revents(1, conn.server, kPOLLIN) & kPOLLIN) != 0; }));
  CHECK(h.revents(1, conn.server, kAll) == (kPOLLIN | kPOLLRDNORM | kPOLLOUT | kPOLLWRNORM));
  std::vector<std::byte> got;
  REQUIRE(h.run_until([&] {
    h.drain(1, conn.server, got);
    return got.size() == 3000;
  }));
  CHECK(h.revents(1, conn.server, kAll) == (kPOLLOUT | kPOLLWRNORM));
}

TEST_CASE("poll: a received FIN is POLLIN|POLLRDHUP without POLLHUP, POLLHUP comes when both directions are "
          "shut",
          "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  REQUIRE(h.table(0).shutdown(conn.client, kSHUT_WR, h.now()) == 0);
  REQUIRE(h.run_until([&] { return (h.revents(1, conn.server, kPOLLRDHUP) & kPOLLRDHUP) != 0; }));
  CHECK(h.revents(1, conn.server, kAll) == (kPOLLIN | kPOLLRDNORM | kPOLLRDHUP | kPOLLOUT | kPOLLWRNORM));
  std::vector<std::byte> buf(10);
  CHECK(h.table(1).recv(conn.server, buf, 0, h.now()) == 0);
  REQUIRE(h.table(1).shutdown(conn.server, kSHUT_WR, h.now()) == 0);
  CHECK(h.revents(1, conn.server, kAll) ==
        (kPOLLIN | kPOLLRDNORM | kPOLLRDHUP | kPOLLOUT | kPOLLWRNORM | kPOLLHUP));
  // The client hears the FIN and goes to TIME-WAIT: CLOSE as the application sees it.
  REQUIRE(h.run_until([&] { return (h.revents(0, conn.client, kAll) & kPOLLHUP) != 0; }));
  CHECK(h.revents(0, conn.client, kAll) == (kPOLLIN | kPOLLRDNORM | kPOLLRDHUP | kPOLLOUT | kPOLLWRNORM | kPOLLHUP));
}

TEST_CASE("poll: a reset connection is POLLERR|POLLHUP (with POLLIN|POLLRDHUP|POLLOUT) until the error is read",
          "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  REQUIRE(h.table(1).send(conn.server, socket_pattern(10, 1), 0, h.now()) == 10);
  REQUIRE(h.run_until([&] { return (h.revents(0, conn.client, kPOLLIN) & kPOLLIN) != 0; }));
  REQUIRE(h.table(0).close(conn.client, h.now()) == 0);  // unread data: RST
  REQUIRE(h.run_until([&] { return (h.revents(1, conn.server, kAll) & kPOLLERR) != 0; }));
  CHECK(h.revents(1, conn.server, kAll) ==
        (kPOLLIN | kPOLLRDNORM | kPOLLRDHUP | kPOLLOUT | kPOLLWRNORM | kPOLLHUP | kPOLLERR));
  // POLLERR and POLLHUP come even when not asked for.
  CHECK(h.revents(1, conn.server, 0) == (kPOLLHUP | kPOLLERR));
  int err = 0;
  REQUIRE(h.table(1).getsockopt(conn.server, kSOL_SOCKET, kSO_ERROR, &err) == 0);
  CHECK(err == ECONNRESET);
  CHECK(h.revents(1, conn.server, 0) == kPOLLHUP);
}

TEST_CASE("poll: writable only while a third of the send buffer is free", "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  SocketTable& a = h.table(0);
  SocketTable& b = h.table(1);
  REQUIRE(b.setsockopt(conn.server, kSOL_SOCKET, kSO_RCVBUF, 2000, h.now()) == 0);  // a slow reader
  REQUIRE(a.setsockopt(conn.client, kSOL_SOCKET, kSO_SNDBUF, 15000, h.now()) == 0);  // 30000 bytes
  const auto data = socket_pattern(30000, 2);
  REQUIRE(a.send(conn.client, data, 0, h.now()) == 30000);
  CHECK(h.revents(0, conn.client, kPOLLOUT) == 0);
  std::vector<std::byte> got;
  // Reading frees the client's buffer; POLLOUT returns once queued <= 2/3 of SO_SNDBUF.
  REQUIRE(h.run_until(
      [&] {
        h.drain(1, conn.server, got);
        TcpInfo i;
        REQUIRE(a.tcp_info(conn.client, &i) == 0);
        const bool writable = (h.revents(0, conn.client, kPOLLOUT) & kPOLLOUT) != 0;
        const std::uint32_t queued = 30000 - static_cast<std::uint32_t>(i.stats.bytes_acked);
        CHECK(writable == (queued <= 20000));
        return writable;
      },
      30_s));
  CHECK(got.size() >= 10000);
}

TEST_CASE("poll: a UDP socket is always writable, readable with a datagram queued, and POLLNVAL marks a "
          "closed descriptor",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  SocketTable& b = h.table(1);
  const int rx = b.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(b.bind(rx, SocketHosts::any(kAF_INET, 9)) == 0);
  CHECK(h.revents(1, rx, kAll) == (kPOLLOUT | kPOLLWRNORM));
  const int tx = a.socket(kAF_INET, kSOCK_DGRAM, 0);
  const SockAddr to = SocketHosts::addr(kAF_INET, 1, 9);
  REQUIRE(a.sendto(tx, socket_pattern(5, 1), 0, &to, h.now()) == 5);
  REQUIRE(h.run_until([&] { return (h.revents(1, rx, kPOLLIN) & kPOLLIN) != 0; }));
  const int closed = b.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(b.close(closed, h.now()) == 0);
  std::array<PollFd, 4> fds{PollFd{rx, kPOLLIN, 0}, PollFd{-1, kPOLLIN, 77}, PollFd{closed, kPOLLIN, 0},
                            PollFd{rx, kPOLLOUT | kPOLLWRBAND, 0}};
  CHECK(b.poll(fds) == 3);
  CHECK(fds[0].revents == kPOLLIN);
  CHECK(fds[1].revents == 0);  // negative fds are skipped
  CHECK(fds[2].revents == kPOLLNVAL);
  CHECK(fds[3].revents == (kPOLLOUT | kPOLLWRBAND));
  std::vector<PollFd> too_many(1025);
  CHECK(b.poll(too_many) == -EINVAL);  // more than RLIMIT_NOFILE entries
}

// ---- epoll ------------------------------------------------------------------------------------------------

TEST_CASE("epoll: level-triggered readiness repeats until the data is read, in ascending descriptor order",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& a = h.table(0);
  SocketTable& b = h.table(1);
  const int ep = b.epoll_create1(kEPOLL_CLOEXEC);
  REQUIRE(ep >= 0);
  std::vector<int> rx;
  for (std::uint16_t port = 100; port < 104; ++port) {
    const int s = b.socket(kAF_INET, kSOCK_DGRAM, 0);
    REQUIRE(b.bind(s, SocketHosts::any(kAF_INET, port)) == 0);
    REQUIRE(b.epoll_ctl(ep, kEPOLL_CTL_ADD, s, EpollEvent{kEPOLLIN, static_cast<std::uint64_t>(port)}) == 0);
    rx.push_back(s);
  }
  std::array<EpollEvent, 8> ev{};
  CHECK(b.epoll_wait(ep, ev) == 0);
  const int tx = a.socket(kAF_INET, kSOCK_DGRAM, 0);
  for (std::uint16_t port : {103, 101}) {  // sent out of order
    const SockAddr to = SocketHosts::addr(kAF_INET, 1, port);
    REQUIRE(a.sendto(tx, socket_pattern(4, port), 0, &to, h.now()) == 4);
  }
  REQUIRE(h.run_until([&] { return b.epoll_wait(ep, ev) == 2; }));
  for (int round = 0; round < 2; ++round) {  // level-triggered: again, same order
    REQUIRE(b.epoll_wait(ep, ev) == 2);
    CHECK(ev[0].data == 101);
    CHECK(ev[0].events == kEPOLLIN);
    CHECK(ev[1].data == 103);
  }
  CHECK(h.revents(1, ep, kPOLLIN) == kPOLLIN);  // the epoll descriptor itself polls readable
  std::vector<std::byte> buf(8);
  REQUIRE(b.recv(rx[1], buf, 0, h.now()) == 4);
  REQUIRE(b.epoll_wait(ep, ev) == 1);
  CHECK(ev[0].data == 103);
  REQUIRE(b.recv(rx[3], buf, 0, h.now()) == 4);
  CHECK(b.epoll_wait(ep, ev) == 0);
  CHECK(h.revents(1, ep, kPOLLIN) == 0);
}

TEST_CASE("epoll: when more descriptors are ready than fit, the next wait resumes after the last one returned",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int ep = t.epoll_create1(0);
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) {
    const int s = t.socket(kAF_INET, kSOCK_DGRAM, 0);  // always writable
    REQUIRE(t.epoll_ctl(ep, kEPOLL_CTL_ADD, s, EpollEvent{kEPOLLOUT, static_cast<std::uint64_t>(s)}) == 0);
    fds.push_back(s);
  }
  std::array<EpollEvent, 2> ev{};
  std::vector<std::uint64_t> order;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(t.epoll_wait(ep, ev) == 2);
    order.push_back(ev[0].data);
    order.push_back(ev[1].data);
  }
  const std::vector<std::uint64_t> want{4, 5, 6, 7, 8, 4, 5, 6, 7, 8};
  CHECK(order == want);
  CHECK(ev[0].events == (kEPOLLOUT));
}

TEST_CASE("epoll: EPOLLONESHOT reports once, then nothing until EPOLL_CTL_MOD re-arms it",
          "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int ep = t.epoll_create1(0);
  const int s = t.socket(kAF_INET6, kSOCK_DGRAM, 0);
  REQUIRE(t.epoll_ctl(ep, kEPOLL_CTL_ADD, s, EpollEvent{kEPOLLOUT | kEPOLLONESHOT, 1}) == 0);
  std::array<EpollEvent, 4> ev{};
  CHECK(t.epoll_wait(ep, ev) == 1);
  CHECK(t.epoll_wait(ep, ev) == 0);
  REQUIRE(t.epoll_ctl(ep, kEPOLL_CTL_MOD, s, EpollEvent{kEPOLLOUT | kEPOLLONESHOT, 2}) == 0);
  REQUIRE(t.epoll_wait(ep, ev) == 1);
  CHECK(ev[0].data == 2);
}

TEST_CASE("epoll: POLLERR and POLLHUP are reported without being asked, a closed descriptor leaves the set",
          "[netstack][socket][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  SocketTable& b = h.table(1);
  const int ep = b.epoll_create(10);
  REQUIRE(b.epoll_ctl(ep, kEPOLL_CTL_ADD, conn.server, EpollEvent{kEPOLLIN, 7}) == 0);
  std::array<EpollEvent, 4> ev{};
  CHECK(b.epoll_wait(ep, ev) == 0);
  h.table(0).connect(conn.client, SockAddr{}, h.now());  // AF_UNSPEC: reset the connection
  REQUIRE(h.run_until([&] { return b.epoll_wait(ep, ev) == 1; }));
  CHECK(ev[0].events == (kEPOLLIN | kEPOLLERR | kEPOLLHUP));
  CHECK(ev[0].data == 7);
  REQUIRE(b.close(conn.server, h.now()) == 0);
  CHECK(b.epoll_wait(ep, ev) == 0);
  CHECK(b.epoll_ctl(ep, kEPOLL_CTL_DEL, conn.server, {}) == -EBADF);
  const int again = b.socket(kAF_INET, kSOCK_DGRAM, 0);
  REQUIRE(again == conn.server);  // the same number, a new file: not in the set
  CHECK(b.epoll_ctl(ep, kEPOLL_CTL_MOD, again, EpollEvent{kEPOLLOUT, 1}) == -ENOENT);
  CHECK(b.epoll_ctl(ep, kEPOLL_CTL_ADD, again, EpollEvent{kEPOLLOUT, 1}) == 0);
}

TEST_CASE("epoll: errno values of epoll_create, epoll_ctl and epoll_wait", "[netstack][socket][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  CHECK(t.epoll_create(0) == -EINVAL);
  CHECK(t.epoll_create(-1) == -EINVAL);
  CHECK(t.epoll_create1(1) == -EINVAL);
  const int ep = t.epoll_create1(0);
  const int ep2 = t.epoll_create1(0);
  const int s = t.socket(kAF_INET, kSOCK_STREAM, 0);
  const int s2 = t.socket(kAF_INET, kSOCK_STREAM, 0);
  const EpollEvent in{kEPOLLIN, 0};
  CHECK(t.epoll_ctl(99, kEPOLL_CTL_ADD, s, in) == -EBADF);
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_ADD, 99, in) == -EBADF);
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_ADD, ep, in) == -EINVAL);   // itself
  CHECK(t.epoll_ctl(s, kEPOLL_CTL_ADD, s2, in) == -EINVAL);    // not an epoll descriptor
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_ADD, ep2, in) == -EINVAL);  // nested epoll is not modelled
  CHECK(t.epoll_ctl(ep, 4, s, in) == -EINVAL);                 // no such operation
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_ADD, s, EpollEvent{kEPOLLIN | kEPOLLET, 0}) == -EINVAL);
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_ADD, s, EpollEvent{kEPOLLIN | kEPOLLEXCLUSIVE, 0}) == -EINVAL);
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_MOD, s, in) == -ENOENT);
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_DEL, s, in) == -ENOENT);
  REQUIRE(t.epoll_ctl(ep, kEPOLL_CTL_ADD, s, in) == 0);
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_ADD, s, in) == -EEXIST);
  CHECK(t.epoll_ctl(ep, kEPOLL_CTL_DEL, s, in) == 0);
  std::array<EpollEvent, 1> ev{};
  CHECK(t.epoll_wait(ep, std::span<EpollEvent>{}) == -EINVAL);  // maxevents 0, before the descriptor
  CHECK(t.epoll_wait(99, std::span<EpollEvent>{}) == -EINVAL);
  CHECK(t.epoll_wait(99, ev) == -EBADF);
  CHECK(t.epoll_wait(s, ev) == -EINVAL);  // not an epoll descriptor
}
