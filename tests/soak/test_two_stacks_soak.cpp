// Issue 3's robustness check: two stacks joined by a fault-injecting link move 64 MiB of a known
// pattern each way at once with 1% loss, 1% reordering, 0.1% duplication and 0.1% corruption,
// for several seeds: every byte arrives, loss is repaired, and nothing is left in flight.
#include <catch2/catch.hpp>

#include "two_hosts.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::sim::literals;
using nicemu::testing::LinkFaults;
using nicemu::testing::TwoHosts;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }

// A pattern each side can check without keeping a copy: byte i of stream `salt`.
std::byte expected(std::uint64_t i, unsigned salt) { return static_cast<std::byte>((i * 131 + salt) ^ (i >> 11)); }

struct Stream {
  unsigned salt;
  std::uint64_t total;
  std::uint64_t sent = 0, received = 0, errors = 0;
  std::vector<std::byte> chunk = std::vector<std::byte>(64 * 1024);

  void pump_send(tcp::TcpSock& sk, sim::TimePoint now) {
    while (sent < total) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), total - sent));
      for (std::size_t i = 0; i < n; ++i) chunk[i] = expected(sent + i, salt);
      const int k = sk.send(std::span(chunk).first(n), now);
      if (k <= 0) return;
      sent += static_cast<std::uint64_t>(k);
    }
  }
  void pump_recv(tcp::TcpSock& sk, sim::TimePoint now, std::vector<std::byte>& buf) {
    for (int n; (n = sk.recv(buf, now)) > 0;) {
      for (int i = 0; i < n; ++i) {
        if (buf[static_cast<std::size_t>(i)] != expected(received + static_cast<std::uint64_t>(i), salt)) ++errors;
      }
      received += static_cast<std::uint64_t>(n);
    }
  }
};
}  // namespace

TEST_CASE("soak: 64 MiB each way through 1% loss, 1% reordering, 0.1% duplication, 0.1% corruption", "[soak]") {
  for (std::uint64_t seed : {11u, 12u, 13u}) {
    TwoHosts net(seed, LinkFaults{0.01, 0.001, 0.001, 0.01});
    tcp::TcpSock* l = net.stack(1).tcp_listen(5001, 8);
    tcp::TcpSock* a = net.stack(0).tcp_connect(TwoHosts::addr(1), 5001, at(0_us));
    tcp::TcpSock* b = nullptr;
    REQUIRE(net.run_until([&] { return (b = net.stack(1).tcp_accept(l)) != nullptr; }, at(30_s)));
    Stream up{1, 64u << 20}, down{2, 64u << 20};
    std::vector<std::byte> buf(256 * 1024);
    const bool done = net.run_until(
        [&] {
          up.pump_send(*a, net.now());
          down.pump_send(*b, net.now());
          up.pump_recv(*b, net.now(), buf);
          down.pump_recv(*a, net.now(), buf);
          return up.received == up.total && down.received == down.total;
        },
        at(3600_s));
    INFO("seed " << seed << " up " << up.received << " down " << down.received << " frames " << net.frames
                 << " dropped " << net.dropped << " corrupted " << net.corrupted);
    CHECK(done);
    CHECK(up.errors == 0);
    CHECK(down.errors == 0);
    CHECK(a->stats().retransmits > 0);
    CHECK(b->stats().retransmits > 0);
    CHECK(net.corrupted > 0);
    // Close both ends and let TIME-WAIT run out: nothing may remain anywhere.
    net.stack(0).tcp_release(a, net.now());
    net.stack(1).tcp_release(b, net.now());
    net.stack(1).tcp_release(l, net.now());
    net.run_until([&] { return net.stack(0).connections() == 0 && net.stack(1).connections() == 0; },
                  net.now() + 300_s);
    CHECK(net.stack(0).connections() == 0);
    CHECK(net.stack(1).connections() == 0);
    CHECK(net.stack(0).skbs().in_use() == 0);
    CHECK(net.stack(1).skbs().in_use() == 0);
    CHECK(net.memory(0).pages_in_use() == 0);
    CHECK(net.memory(1).pages_in_use() == 0);
  }
}
