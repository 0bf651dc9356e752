// The socket layer's part of the devmem API and MSG_ZEROCOPY: control messages in Linux's x86-64
// byte layout (put_cmsg / put_cmsg_notrunc), SO_DEVMEM_DONTNEED's argument checks, the checks a
// sendmsg with SCM_DEVMEM_DMABUF goes through, and MSG_ZEROCOPY completions read from the error
// queue (IP_RECVERR / IPV6_RECVERR with struct sock_extended_err), coalesced as the kernel does.
#include <catch2/catch.hpp>

#include <array>
#include <cerrno>
#include <cstring>

#include "nicemu/netstack/socket/cmsg.hpp"
#include "nicemu/netstack/tcp/devmem.hpp"
#include "socket_pair_fixture.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::netstack::socket;
using namespace nicemu::sim::literals;
using nicemu::testing::socket_pattern;
using nicemu::testing::SocketHosts;

namespace {

template <class T>
T read_at(std::span<const std::byte> b, std::size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

std::vector<std::byte> devmem_id_cmsg(std::uint32_t id, std::size_t payload = sizeof(std::uint32_t),
                                      int level = kSOL_SOCKET, int type = kSCM_DEVMEM_DMABUF) {
  std::vector<std::byte> c(cmsg_space(payload));
  CmsgWriter w(c);
  std::vector<std::byte> data(payload);
  std::memcpy(data.data(), &id, std::min(payload, sizeof id));
  w.put(level, type, data);
  c.resize(w.used());
  return c;
}

}  // namespace

TEST_CASE("cmsg: a devmem message is a 16-byte header (cmsg_len, level, type) and the 24-byte "
          "struct dmabuf_cmsg, a message that does not fit whole is ETOOSMALL, never cut",
          "[netstack][socket][devmem][unit]") {
  std::array<std::byte, 79> buf{};
  CmsgWriter w(buf);
  tcp::DmabufCmsg c;
  c.frag_offset = 0x1122334455667788ull;
  c.frag_size = 0x1000;
  c.frag_token = 3;
  c.dmabuf_id = 9;
  REQUIRE(w.put_notrunc(kSOL_SOCKET, kSCM_DEVMEM_DMABUF, c) == 0);
  CHECK(w.used() == 40);  // CMSG_SPACE(24)
  const std::span<const std::byte> b(buf);
  CHECK(read_at<std::uint64_t>(b, 0) == 40);  // CMSG_LEN(24)
  CHECK(read_at<std::int32_t>(b, 8) == 1);    // SOL_SOCKET
  CHECK(read_at<std::int32_t>(b, 12) == 79);  // SCM_DEVMEM_DMABUF
  CHECK(read_at<std::uint64_t>(b, 16) == 0x1122334455667788ull);
  CHECK(read_at<std::uint32_t>(b, 24) == 0x1000);
  CHECK(read_at<std::uint32_t>(b, 28) == 3);
  CHECK(read_at<std::uint32_t>(b, 32) == 9);
  CHECK(read_at<std::uint32_t>(b, 36) == 0);
  CHECK(w.put_notrunc(kSOL_SOCKET, kSCM_DEVMEM_LINEAR, c) == -tcp::kETOOSMALL);  // 39 bytes left
  CHECK(w.used() == 40);
  CHECK_FALSE(w.truncated());
  int n = 0;
  for_each_cmsg(std::span<const std::byte>(buf).first(w.used()), [&](const CmsgView& m) {
    ++n;
    tcp::DmabufCmsg back;
    REQUIRE(m.as(&back));
    CHECK(m.type == kSCM_DEVMEM_DMABUF);
    CHECK(back.frag_token == 3);
  });
  CHECK(n == 1);
}

TEST_CASE("cmsg: put_cmsg cuts a message to the room left and sets MSG_CTRUNC",
          "[netstack][socket][unit]") {
  std::array<std::byte, 30> buf{};
  CmsgWriter w(buf);
  const std::array<std::byte, 32> payload{};
  w.put(kSOL_IP, kIP_RECVERR, payload);
  CHECK(w.truncated());
  CHECK(w.used() == 30);
  CHECK(read_at<std::uint64_t>(std::span<const std::byte>(buf), 0) == 30);
  std::array<std::byte, 8> tiny{};
  CmsgWriter t(tiny);
  t.put(kSOL_IP, kIP_RECVERR, payload);
  CHECK(t.truncated());
  CHECK(t.used() == 0);
}

TEST_CASE("SO_DEVMEM_DONTNEED: argument checks in the kernel's order",
          "[netstack][socket][devmem][unit]") {
  SocketHosts h;
  SocketTable& t = h.table(0);
  const int tcp_fd = t.socket(kAF_INET, kSOCK_STREAM, 0);
  const int udp_fd = t.socket(kAF_INET, kSOCK_DGRAM, 0);
  const int ep = t.epoll_create1(0);
  std::array<tcp::DmabufToken, 130> tokens{};
  const auto bytes = [&](std::size_t n) { return std::as_bytes(std::span(tokens)).first(n); };
  CHECK(t.setsockopt(99, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, bytes(8), h.now()) == -EBADF);
  CHECK(t.setsockopt(ep, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, bytes(8), h.now()) == -ENOTSOCK);
  CHECK(t.setsockopt(tcp_fd, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, bytes(0), h.now()) == -EINVAL);  // < sizeof(int)
  CHECK(t.setsockopt(udp_fd, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, bytes(8), h.now()) == -EBADF);
  CHECK(t.setsockopt(tcp_fd, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, bytes(4), h.now()) == -EINVAL);
  CHECK(t.setsockopt(tcp_fd, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, bytes(12), h.now()) == -EINVAL);
  CHECK(t.setsockopt(tcp_fd, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, bytes(129 * 8), h.now()) == -EINVAL);
  tokens[0] = {1, 5};
  CHECK(t.setsockopt(tcp_fd, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, bytes(128 * 8), h.now()) == 0);  // none held
  CHECK(t.setsockopt(tcp_fd, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, 1, h.now()) == -EINVAL);  // an int
}

TEST_CASE("sendmsg with SCM_DEVMEM_DMABUF: a malformed control message, a dma-buf id without "
          "MSG_ZEROCOPY and SO_ZEROCOPY, and an unknown id are EINVAL, nothing is sent",
          "[netstack][socket][devmem][unit]") {
  SocketHosts h;
  auto conn = h.tcp_connect_pair(kAF_INET);
  SocketTable& a = h.table(0);
  const auto data = socket_pattern(1000, 1);
  const std::array<std::span<const std::byte>, 1> iov{data};
  const auto send = [&](const std::vector<std::byte>& control, int flags) {
    return a.sendmsg(conn.client, SendMsgHdr{nullptr, iov, control}, flags, h.now());
  };
  CHECK(send(devmem_id_cmsg(1, 8), kMSG_ZEROCOPY) == -EINVAL);                         // cmsg_len != CMSG_LEN(4)
  CHECK(send(devmem_id_cmsg(1, 4, kSOL_SOCKET, 1234), 0) == -EINVAL);                  // an unknown SOL_SOCKET type
  std::vector<std::byte> bad = devmem_id_cmsg(1);
  bad[0] = std::byte{200};                                                             // cmsg_len past the buffer
  CHECK(send(bad, 0) == -EINVAL);
  CHECK(send(devmem_id_cmsg(1), 0) == -EINVAL);               // no MSG_ZEROCOPY
  CHECK(send(devmem_id_cmsg(1), kMSG_ZEROCOPY) == -EINVAL);   // no SO_ZEROCOPY
  REQUIRE(a.setsockopt(conn.client, kSOL_SOCKET, kSO_ZEROCOPY, 1, h.now()) == 0);
  CHECK(send(devmem_id_cmsg(1), kMSG_ZEROCOPY) == -EINVAL);   // no binding 1 on this host
  CHECK(send(devmem_id_cmsg(7, 4, kSOL_IP, 99), 0) == 1000);  // other levels are not SOL_SOCKET's business
  // The failed zero-copy calls gave their notification ids back: the next one is 0.
  CHECK(send({}, kMSG_ZEROCOPY) == 1000);
  std::vector<std::byte> got;
  REQUIRE(h.run_until([&] {
    h.drain(1, conn.server, got);
    return got.size() == 2000;
  }));
  std::array<std::byte, 64> control{};
  std::array<std::span<std::byte>, 0> none{};
  RecvMsgHdr m{nullptr, none, 0, control, 0};
  REQUIRE(h.run_until([&] { return a.recvmsg(conn.client, m, kMSG_ERRQUEUE, h.now()) == 0; }));
  SockExtendedErr ee;
  std::memcpy(&ee, control.data() + 16, sizeof ee);
  CHECK(ee.ee_info == 0);
  CHECK(ee.ee_data == 0);
}

TEST_CASE("MSG_ZEROCOPY: each call gets the next id, completions come on the error queue as one "
          "IP_RECVERR / IPV6_RECVERR message once the data is acknowledged, consecutive ranges "
          "joined, COPIED since nicemu copies ordinary memory, POLLERR while one waits",
          "[netstack][socket][unit]") {
  for (const int family : {kAF_INET, kAF_INET6}) {
    SECTION(nicemu::testing::family_name(family)) {
      SocketHosts h;
      auto conn = h.tcp_connect_pair(family);
      SocketTable& a = h.table(0);
      const auto data = socket_pattern(3000, 2);
      // Without SO_ZEROCOPY the flag is ignored: no notification.
      REQUIRE(a.send(conn.client, data, kMSG_ZEROCOPY, h.now()) == 3000);
      REQUIRE(a.setsockopt(conn.client, kSOL_SOCKET, kSO_ZEROCOPY, 1, h.now()) == 0);
      const int level = family == kAF_INET6 ? kSOL_IPV6 : kSOL_IP;
      const int recverr = family == kAF_INET6 ? kIPV6_RECVERR : kIP_RECVERR;
      REQUIRE(a.setsockopt(conn.client, level, recverr, 1, h.now()) == 0);  // as ncdevmem does
      int on = 0;
      REQUIRE(a.getsockopt(conn.client, level, recverr, &on) == 0);
      CHECK(on == 1);
      for (int i = 0; i < 3; ++i) REQUIRE(a.send(conn.client, data, kMSG_ZEROCOPY, h.now()) == 3000);
      CHECK(a.send(conn.client, {}, kMSG_ZEROCOPY, h.now()) == 0);  // size 0: no id taken
      std::vector<std::byte> got;
      REQUIRE(h.run_until([&] {
        h.drain(1, conn.server, got);
        return got.size() == 12000;
      }));
      h.run_for(5_ms);
      CHECK((h.revents(0, conn.client, kPOLLIN) & kPOLLERR) != 0);
      std::array<std::byte, 128> control{};
      std::array<std::span<std::byte>, 0> none{};
      RecvMsgHdr m{nullptr, none, 0, control, 0};
      REQUIRE(a.recvmsg(conn.client, m, kMSG_ERRQUEUE, h.now()) == 0);
      CHECK((m.flags & kMSG_ERRQUEUE) != 0);
      CHECK((m.flags & kMSG_CTRUNC) == 0);
      const bool v6 = family == kAF_INET6;
      CHECK(m.controllen == cmsg_space(v6 ? 44 : 32));
      const std::span<const std::byte> b(control);
      CHECK(read_at<std::uint64_t>(b, 0) == cmsg_len(v6 ? 44 : 32));
      CHECK(read_at<std::int32_t>(b, 8) == (v6 ? kSOL_IPV6 : kSOL_IP));
      CHECK(read_at<std::int32_t>(b, 12) == (v6 ? kIPV6_RECVERR : kIP_RECVERR));
      SockExtendedErr ee;
      std::memcpy(&ee, control.data() + 16, sizeof ee);
      CHECK(ee.ee_errno == 0);
      CHECK(ee.ee_origin == kSO_EE_ORIGIN_ZEROCOPY);
      CHECK(ee.ee_code == kSO_EE_CODE_ZEROCOPY_COPIED);
      CHECK(ee.ee_info == 0);
      CHECK(ee.ee_data == 2);  // ids 0..2 in one notification
      CHECK(a.recvmsg(conn.client, m, kMSG_ERRQUEUE, h.now()) == -EAGAIN);
      CHECK((h.revents(0, conn.client, kPOLLIN) & kPOLLERR) == 0);
      // A control buffer too small cuts the message: MSG_CTRUNC.
      REQUIRE(a.send(conn.client, data, kMSG_ZEROCOPY, h.now()) == 3000);
      REQUIRE(h.run_until([&] {
        h.drain(1, conn.server, got);
        return (h.revents(0, conn.client, kPOLLIN) & kPOLLERR) != 0;
      }));
      std::array<std::byte, 24> small{};
      RecvMsgHdr s{nullptr, none, 0, small, 0};
      REQUIRE(a.recvmsg(conn.client, s, kMSG_ERRQUEUE, h.now()) == 0);
      CHECK((s.flags & kMSG_CTRUNC) != 0);
      CHECK(s.controllen == 24);
    }
  }
}
