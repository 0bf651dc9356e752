// Devmem TCP end to end on two emulated hosts: recvmsg(MSG_SOCK_DEVMEM) hands out control
// messages whose frags the application reads through its dma-buf mapping (every byte checked),
// SO_DEVMEM_DONTNEED returns each token (1 freed per call, as ncdevmem requires), and devmem TX
// sends bytes straight from a dma-buf with MSG_ZEROCOPY completions; plus the TX checks.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <memory>

#include "driver_testbed.hpp"
#include "nicemu/netstack/socket/cmsg.hpp"
#include "nicemu/netstack/tcp/devmem.hpp"
#include "nicemu/providers/dmabuf/devmem.hpp"

using namespace nicemu;
using namespace nicemu::providers::dmabuf;
using namespace nicemu::netstack::socket;
using nicemu::testing::DriverTestbed;
using nicemu::testing::load_profile;
namespace tcp = nicemu::netstack::tcp;

namespace {

constexpr std::size_t kDmabufBytes = 4u << 20;

// One host's devmem: the exporter, the binding table and a control session.
struct HostDevmem {
  explicit HostDevmem(app::Host& h) : devmem(exporter) {
    fd = exporter.create(kDmabufBytes, netmem::MemoryPlacement::kDeviceMemory);
    REQUIRE(fd >= 3);
    session = std::make_unique<NetdevNlSession>(devmem, h.netns());
    REQUIRE(exporter.get(fd, &dmabuf) == 0);
  }
  ~HostDevmem() { session.reset(); }
  HostDevmem(const HostDevmem&) = delete;
  HostDevmem& operator=(const HostDevmem&) = delete;

  DmabufExporter exporter;
  Devmem devmem;
  int fd = -1;
  std::shared_ptr<Dmabuf> dmabuf;
  std::unique_ptr<NetdevNlSession> session;
};

struct Bed {
  Bed() : tb(load_profile("bnxt-thor"), 4, true), a(tb.a()), b(tb.b()) {}
  // The stacks let go of their skbs (devmem frags hold bindings) and the detached pools are
  // released before the devmem state goes.
  ~Bed() {
    a.session.reset();
    b.session.reset();
    tb.a().stack().clear();
    tb.b().stack().clear();
    tb.run_for(sim::Duration::from_s(2));
  }
  std::uint32_t ifindex(app::Host& h) { return static_cast<std::uint32_t>(h.nic().ifindex()); }
  int bind_rx_all() {
    BindRxRequest r;
    r.ifindex = ifindex(tb.b());
    r.fd = static_cast<std::uint32_t>(b.fd);
    for (std::uint32_t q = 0; q < 4; ++q) r.queues.push_back({q, kNetdevQueueTypeRx});
    return b.session->bind_rx(r);
  }
  int bind_tx() {
    BindTxRequest r;
    r.ifindex = ifindex(tb.a());
    r.fd = static_cast<std::uint32_t>(a.fd);
    return a.session->bind_tx(r);
  }
  DriverTestbed tb;
  HostDevmem a, b;
};

// The receiving loop of ncdevmem's server: recvmsg(MSG_SOCK_DEVMEM), each frag read through the
// dma-buf mapping and checked, each token returned with SO_DEVMEM_DONTNEED (1 freed each).
struct DevmemReader {
  std::uint64_t received = 0, mismatches = 0, linear_bytes = 0, frags = 0, dontneed_not_one = 0;
  std::uint64_t wrong_id = 0, calls_without_cmsg = 0;
  std::vector<std::byte> iobuf = std::vector<std::byte>(800 * 1024);
  std::vector<std::byte> control = std::vector<std::byte>(80 * 1024);

  std::int64_t read(SocketTable& t, int fd, Dmabuf& dmabuf, std::uint32_t id, std::uint16_t port, sim::TimePoint now) {
    const std::array<std::span<std::byte>, 1> iov{iobuf};
    RecvMsgHdr m{nullptr, iov, 0, control, 0};
    const std::int64_t n = t.recvmsg(fd, m, kMSG_SOCK_DEVMEM, now);
    if (n <= 0) return n;
    std::size_t iov_at = 0;
    int cmsgs = 0;
    REQUIRE(dmabuf.sync(kDmaBufSyncStart | kDmaBufSyncRead) == 0);
    for_each_cmsg(std::span<const std::byte>(control).first(m.controllen), [&](const CmsgView& c) {
      tcp::DmabufCmsg d;
      REQUIRE(c.level == kSOL_SOCKET);
      REQUIRE(c.as(&d));
      ++cmsgs;
      if (c.type == kSCM_DEVMEM_LINEAR) {
        check(std::span<const std::byte>(iobuf).subspan(iov_at, d.frag_size), port);
        iov_at += d.frag_size;
        linear_bytes += d.frag_size;
        return;
      }
      REQUIRE(c.type == kSCM_DEVMEM_DMABUF);
      if (d.dmabuf_id != id) ++wrong_id;
      check(dmabuf.map().subspan(d.frag_offset, d.frag_size), port);
      ++frags;
      const tcp::DmabufToken tok{d.frag_token, 1};
      if (t.setsockopt(fd, kSOL_SOCKET, kSO_DEVMEM_DONTNEED, std::as_bytes(std::span(&tok, 1)), now) != 1) {
        ++dontneed_not_one;
      }
    });
    REQUIRE(dmabuf.sync(kDmaBufSyncEnd | kDmaBufSyncRead) == 0);
    if (cmsgs == 0) ++calls_without_cmsg;
    return n;
  }
  void check(std::span<const std::byte> bytes, std::uint16_t port) {
    for (const std::byte x : bytes) {
      if (x != DriverTestbed::pattern(received, port)) ++mismatches;
      ++received;
    }
  }
};

}  // namespace

TEST_CASE("devmem RX end to end: every byte arrives in the dma-buf, is read through the mapping "
          "from the control messages, and every token is given back one by one",
          "[providers-dmabuf][devmem][integration]") {
  Bed d;
  REQUIRE(d.bind_rx_all() == 1);
  d.tb.run_for(sim::Duration::from_ms(50));  // bnxt restarts the device for the bind
  constexpr std::uint16_t kPort = 5301;
  constexpr std::uint64_t kBytes = 2u << 20;
  auto t = d.tb.start_transfer(kPort);
  std::vector<std::byte> buf(64 * 1024);
  DevmemReader r;
  auto& as = d.tb.a().sockets();
  auto& bs = d.tb.b().sockets();
  const bool done = d.tb.run_until(
      [&](sim::TimePoint now) {
        if (t.sfd < 0) t.sfd = bs.accept4(t.lfd, nullptr, kSOCK_NONBLOCK);
        while (t.sent < kBytes) {
          const std::uint64_t n = std::min<std::uint64_t>(buf.size(), kBytes - t.sent);
          for (std::uint64_t i = 0; i < n; ++i) buf[i] = DriverTestbed::pattern(t.sent + i, kPort);
          const auto w = as.send(t.cfd, {buf.data(), n}, 0, now);
          if (w <= 0) break;
          t.sent += static_cast<std::uint64_t>(w);
        }
        if (t.sfd >= 0) {
          while (r.read(bs, t.sfd, *d.b.dmabuf, 1, kPort, now) > 0) {
          }
        }
        return r.received == kBytes;
      },
      sim::Duration::from_ms(200));
  CHECK(done);
  CHECK(r.received == kBytes);
  CHECK(r.mismatches == 0);
  CHECK(r.wrong_id == 0);
  CHECK(r.dontneed_not_one == 0);
  CHECK(r.calls_without_cmsg == 0);
  CHECK(r.frags > 0);
  CHECK(d.tb.b().nic().hw().stats().rx_dma_device_bytes >= kBytes - r.linear_bytes);
  NetDevmemBinding* binding = d.b.devmem.lookup(1);
  REQUIRE(binding != nullptr);
  d.tb.close_transfer(t);
  d.tb.run_for(sim::Duration::from_ms(10));
  // Every net_iov is back with a pool or the binding: the session's close frees everything.
  d.b.session->close();
  d.tb.run_for(sim::Duration::from_s(2));
  CHECK(d.b.devmem.bindings_alive() == 0);
  CHECK(d.tb.b().page_pools().detached_count() == 0);
}

TEST_CASE("devmem TX end to end: bytes written into the dma-buf leave from device memory with "
          "MSG_ZEROCOPY, arrive intact, and a completion (not COPIED) comes on the error queue",
          "[providers-dmabuf][devmem][integration]") {
  Bed d;
  REQUIRE(d.bind_tx() == 1);
  constexpr std::uint16_t kPort = 5302;
  auto t = d.tb.start_transfer(kPort);
  auto& as = d.tb.a().sockets();
  auto& bs = d.tb.b().sockets();
  REQUIRE(d.tb.run_until([&](sim::TimePoint) { return (t.sfd = bs.accept4(t.lfd, nullptr, kSOCK_NONBLOCK)) >= 0; },
                         sim::Duration::from_ms(50)));
  REQUIRE(as.setsockopt(t.cfd, kSOL_SOCKET, kSO_ZEROCOPY, 1, d.tb.events.now()) == 0);
  // The application writes the payload into its dma-buf (ncdevmem copies a line to offset 0).
  constexpr std::size_t kLen = 200'000;
  constexpr std::uint64_t kBase = 12'345;  // not page aligned: frags are cut at page boundaries
  auto map = d.a.dmabuf->map_writable();
  REQUIRE(d.a.dmabuf->sync(kDmaBufSyncStart | kDmaBufSyncWrite) == 0);
  for (std::size_t i = 0; i < kLen; ++i) map[kBase + i] = DriverTestbed::pattern(i, kPort);
  REQUIRE(d.a.dmabuf->sync(kDmaBufSyncEnd | kDmaBufSyncWrite) == 0);
  // iov bases are offsets into the dma-buf, in chunks of 3000 bytes.
  std::vector<std::span<const std::byte>> iov;
  for (std::size_t at = 0; at < kLen; at += 3000) iov.push_back(devmem_iov(kBase + at, std::min<std::size_t>(3000, kLen - at)));
  std::vector<std::byte> control(cmsg_space(4));
  CmsgWriter w(control);
  const std::uint32_t id = 1;
  w.put(kSOL_SOCKET, kSCM_DEVMEM_DMABUF, std::as_bytes(std::span(&id, 1)));
  std::size_t sent = 0;
  std::vector<std::byte> got;
  std::vector<std::byte> rbuf(64 * 1024);
  bool completion = false;
  SockExtendedErr ee;
  const bool done = d.tb.run_until(
      [&](sim::TimePoint now) {
        if (sent < kLen) {
          // What is left of the iov list from `sent` on.
          std::vector<std::span<const std::byte>> rest;
          std::size_t skip = sent;
          for (const auto& v : iov) {
            if (skip >= v.size()) {
              skip -= v.size();
              continue;
            }
            rest.push_back(devmem_iov(reinterpret_cast<std::uintptr_t>(v.data()) + skip, v.size() - skip));
            skip = 0;
          }
          const auto n = as.sendmsg(t.cfd, SendMsgHdr{nullptr, rest, control}, kMSG_ZEROCOPY, now);
          if (n > 0) sent += static_cast<std::size_t>(n);
        }
        for (;;) {
          const auto n = bs.recv(t.sfd, rbuf, 0, now);
          if (n <= 0) break;
          got.insert(got.end(), rbuf.begin(), rbuf.begin() + n);
        }
        std::array<std::byte, 64> ctl{};
        std::array<std::span<std::byte>, 0> none{};
        RecvMsgHdr m{nullptr, none, 0, ctl, 0};
        if (as.recvmsg(t.cfd, m, kMSG_ERRQUEUE, now) == 0) {
          std::memcpy(&ee, ctl.data() + 16, sizeof ee);
          completion = true;
        }
        return got.size() == kLen && sent == kLen && completion;
      },
      sim::Duration::from_ms(200));
  CHECK(done);
  REQUIRE(got.size() == kLen);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < kLen; ++i) bad += got[i] != DriverTestbed::pattern(i, kPort) ? 1 : 0;
  CHECK(bad == 0);
  CHECK(completion);
  CHECK(ee.ee_origin == kSO_EE_ORIGIN_ZEROCOPY);
  CHECK(ee.ee_code == 0);  // sent in place
  CHECK(ee.ee_errno == 0);
  CHECK(d.tb.a().nic().hw().stats().tx_dma_device_bytes >= kLen);
  d.tb.close_transfer(t);
  d.tb.run_for(sim::Duration::from_ms(20));
  d.a.session->close();
  CHECK(d.a.devmem.bindings_alive() == 0);  // no frag holds it any more
}

TEST_CASE("devmem TX checks: an RX binding's id and an unknown id are EINVAL, an offset at the "
          "dma-buf's end is EFAULT, nothing is queued",
          "[providers-dmabuf][devmem][integration]") {
  Bed d;
  REQUIRE(d.bind_tx() == 1);
  // An RX binding on host a too (id 2).
  BindRxRequest rx;
  rx.ifindex = d.ifindex(d.tb.a());
  rx.fd = static_cast<std::uint32_t>(d.a.exporter.create(kDmabufBytes, netmem::MemoryPlacement::kHostMemory));
  rx.queues.push_back({3, kNetdevQueueTypeRx});
  REQUIRE(d.a.session->bind_rx(rx) == 2);
  d.tb.run_for(sim::Duration::from_ms(50));
  constexpr std::uint16_t kPort = 5303;
  auto t = d.tb.start_transfer(kPort);
  auto& as = d.tb.a().sockets();
  REQUIRE(d.tb.run_until(
      [&](sim::TimePoint) { return (t.sfd = d.tb.b().sockets().accept4(t.lfd, nullptr, kSOCK_NONBLOCK)) >= 0; },
      sim::Duration::from_ms(50)));
  REQUIRE(as.setsockopt(t.cfd, kSOL_SOCKET, kSO_ZEROCOPY, 1, d.tb.events.now()) == 0);
  const auto send_with = [&](std::uint32_t binding, std::uint64_t offset) {
    std::vector<std::byte> control(cmsg_space(4));
    CmsgWriter w(control);
    w.put(kSOL_SOCKET, kSCM_DEVMEM_DMABUF, std::as_bytes(std::span(&binding, 1)));
    const std::array<std::span<const std::byte>, 1> iov{devmem_iov(offset, 100)};
    return as.sendmsg(t.cfd, SendMsgHdr{nullptr, iov, control}, kMSG_ZEROCOPY, d.tb.events.now());
  };
  CHECK(send_with(2, 0) == -EINVAL);  // an RX binding
  CHECK(send_with(9, 0) == -EINVAL);  // no such binding
  CHECK(send_with(1, kDmabufBytes) == -EFAULT);
  CHECK(send_with(1, kDmabufBytes - 50) == 50);  // up to the end, then the rest would fault
  d.tb.close_transfer(t);
}

TEST_CASE("devmem: a host's dma-buf and socket descriptors share one number space (lowest free first), and "
          "dma_buf_get on a socket's number is EINVAL, on a free one EBADF",
          "[providers-dmabuf][devmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 2, true);
  app::Host& h = tb.a();
  auto& st = h.sockets();
  const int used = st.socket(kAF_INET, kSOCK_STREAM, 0);  // whatever the host opened before
  REQUIRE(used >= 3);
  const int buf = h.dmabufs().create(1 << 20, netmem::MemoryPlacement::kDeviceMemory);
  CHECK(buf == used + 1);
  const int sock = st.socket(kAF_INET, kSOCK_STREAM, 0);
  CHECK(sock == used + 2);
  std::shared_ptr<Dmabuf> out;
  CHECK(h.dmabufs().get(sock, &out) == -EINVAL);
  CHECK(h.dmabufs().get(sock + 1, &out) == -EBADF);
  CHECK(st.close(used, tb.events.now()) == 0);
  CHECK(h.dmabufs().create(1 << 20, netmem::MemoryPlacement::kHostMemory) == used);  // the lowest free
  CHECK(st.socket(kAF_INET, kSOCK_STREAM, 0) == sock + 1);
  CHECK(h.dmabufs().close(buf) == 0);
  CHECK(st.socket(kAF_INET, kSOCK_DGRAM, 0) == buf);
}
