// bulk-tcp over two stacks: byte-exact flows with every byte checked (IPv4, IPv6, through loss,
// duplication and reordering), a wrong byte caught at its offset, a client or a server that quits
// early, nothing left open, and no allocation in the apps' steps once the flows run.
#include <catch2/catch.hpp>

#include <cstdio>

#include "app_harness.hpp"
#include "counting_operator_new.hpp"  // counts every allocation of this test program

using namespace nicemu;
using app::BulkTcp;
using app::FlowStats;
using app::StreamError;
using netstack::wire::IpVersion;
using testing::AppHarness;
using testing::workload_spec;

namespace {

BulkTcp bulk(std::uint64_t bytes, std::uint32_t flows, std::uint64_t write_size = 64 * 1024) {
  BulkTcp b;
  b.bytes = bytes;
  b.flows = flows;
  b.write_size_bytes = write_size;
  b.pattern_seed = 77;
  return b;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// A flow that carried `bytes` cleanly: counted on both sides, checked, timed in order.
void check_clean(const FlowStats& f, std::uint64_t bytes) {
  INFO("flow " << f.index << " " << f.tuple);
  CHECK(f.done);
  CHECK(f.bytes_sent == bytes);
  CHECK(f.bytes_received == bytes);
  CHECK(f.bytes_validated == bytes);
  CHECK(f.errors.mismatched_bytes == 0);
  CHECK(f.errors.stream_errors() == 0);
  CHECK(f.validation_errors() == 0);
  REQUIRE(f.start.has_value());
  REQUIRE(f.first_byte_sent.has_value());
  REQUIRE(f.last_byte_received.has_value());
  REQUIRE(f.end.has_value());
  CHECK(*f.start <= *f.first_byte_sent);
  CHECK(*f.first_byte_sent < *f.last_byte_received);
  CHECK(*f.last_byte_received <= *f.end);
  CHECK(f.goodput_gbps() > 0);
}

}  // namespace

TEST_CASE("apps-workload: bulk tcp: four IPv4 flows arrive byte-exact to ports port+i and every byte is checked",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kBytes = 1 << 20;
  auto w = h.start(workload_spec("bulk", bulk(kBytes, 4), 6000));
  REQUIRE(h.run_apps());
  CHECK(w->done());
  REQUIRE(w->flows().size() == 4);
  for (const auto& f : w->flows()) {
    check_clean(f, kBytes);
    CHECK(starts_with(f.tuple, "192.0.2.1:"));
    CHECK(ends_with(f.tuple, " -> 192.0.2.2:" + std::to_string(6000 + f.index)));
    CHECK(f.retransmits == 0);  // a clean link
    std::printf("bulk flow %u %s: %.2f Gbit/s over %.3f ms simulated\n", f.index, f.tuple.c_str(), f.goodput_gbps(),
                (*f.last_byte_received - *f.first_byte_sent).seconds() * 1e3);
  }
  CHECK(w->validation_errors() == 0);
  // Every payload byte was copied twice (into the sender's socket, out of the receiver's).
  CHECK(h.work.bytes_copied == 2 * 4 * kBytes);
  CHECK(h.work.socket_calls > 0);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: flows survive loss, duplication and reordering byte-exact with retransmits counted",
          "[apps-workload][integration]") {
  AppHarness h(5, testing::LinkFaults{.drop = 0.02, .corrupt = 0.0, .dup = 0.01, .reorder = 0.02});
  constexpr std::uint64_t kBytes = 512 * 1024;
  auto w = h.start(workload_spec("lossy", bulk(kBytes, 3, 10000)));
  REQUIRE(h.run_apps(sim::Duration::from_s(60)));
  std::uint64_t retransmits = 0;
  for (const auto& f : w->flows()) {
    check_clean(f, kBytes);
    retransmits += f.retransmits;
  }
  CHECK(h.net.dropped > 0);
  CHECK(retransmits > 0);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: IPv6 flows for a duration, the client bound to its address",
          "[apps-workload][integration]") {
  AppHarness h;
  BulkTcp b;
  b.duration = sim::Duration::from_ms(2);
  b.flows = 2;
  auto spec = workload_spec("v6", b, 7000, IpVersion::kV6);
  spec.start = sim::Duration::from_us(300);
  auto w = h.start(spec, {}, /*bind_client=*/true);
  REQUIRE(h.run_apps());
  for (const auto& f : w->flows()) {
    INFO(f.tuple);
    CHECK(f.done);
    CHECK(starts_with(f.tuple, "[2001:db8::1]:"));
    CHECK(ends_with(f.tuple, " -> [2001:db8::2]:" + std::to_string(7000 + f.index)));
    CHECK(f.bytes_sent > 100 * 1024);
    CHECK(f.bytes_received == f.bytes_sent);
    CHECK(f.bytes_validated == f.bytes_sent);
    CHECK(f.validation_errors() == 0);
    REQUIRE(f.start.has_value());
    CHECK(*f.start == sim::TimePoint() + sim::Duration::from_us(300));  // the spec's start
    // Writing went on until start + duration, then the flow closed.
    REQUIRE(f.last_byte_received.has_value());
    REQUIRE(f.end.has_value());
    CHECK(*f.last_byte_received > sim::TimePoint() + sim::Duration::from_us(2000));
    CHECK(*f.end >= sim::TimePoint() + sim::Duration::from_us(2300));
    CHECK(f.goodput_gbps() > 0);
  }
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: a flipped byte is caught with its stream offset and the other flows stay clean",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kBytes = 300 * 1024;
  constexpr std::uint64_t kBad = 100003;  // flow 1's byte at this offset goes out wrong
  app::WorkloadOptions o;
  o.tamper_tx = [](std::uint32_t flow, app::Direction, std::uint64_t offset, std::span<std::byte> chunk) {
    if (flow == 1 && offset <= kBad && kBad < offset + chunk.size()) chunk[kBad - offset] ^= std::byte{0x20};
  };
  auto w = h.start(workload_spec("tampered", bulk(kBytes, 3, 16 * 1024)), o);
  REQUIRE(h.run_apps());
  const auto flows = w->flows();
  check_clean(flows[0], kBytes);
  check_clean(flows[2], kBytes);
  const FlowStats& f = flows[1];
  CHECK(f.done);
  CHECK(f.bytes_received == kBytes);
  CHECK(f.errors.mismatched_bytes == 1);
  REQUIRE(f.errors.first_bad_offset.has_value());
  CHECK(*f.errors.first_bad_offset == kBad);
  CHECK(f.errors.first_bad_direction == app::Direction::kClientToServer);
  CHECK(f.errors.stream_errors() == 0);
  CHECK(f.validation_errors() == 1);
  CHECK(w->validation_errors() == 1);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: a sender using another seed on one flow fails from the first differing byte",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kBytes = 64 * 1024;
  app::WorkloadOptions o;
  const app::BytePattern wrong(78, 0);  // the workload's seed is 77
  o.tamper_tx = [&](std::uint32_t flow, app::Direction, std::uint64_t offset, std::span<std::byte> chunk) {
    if (flow == 0) wrong.fill(offset, chunk);
  };
  auto w = h.start(workload_spec("seed", bulk(kBytes, 2)), o);
  REQUIRE(h.run_apps());
  const app::BytePattern right(77, 0);
  std::uint64_t first = 0, differing = 0;
  while (wrong.at(first) == right.at(first)) ++first;
  for (std::uint64_t i = 0; i < kBytes; ++i) differing += wrong.at(i) != right.at(i) ? 1 : 0;
  const FlowStats& f = w->flows()[0];
  CHECK(f.errors.first_bad_offset == first);
  CHECK(f.errors.mismatched_bytes == differing);
  CHECK(differing > kBytes * 250 / 256);
  check_clean(w->flows()[1], kBytes);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: a client that quits early leaves the server with a premature EOF",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kBytes = 8 << 20;
  auto w = h.start(workload_spec("quitter", bulk(kBytes, 1)));
  REQUIRE(h.run_until([&] { return w->flows()[0].bytes_received > 256 * 1024; }));
  w.client->stop(h.now());  // closes with data still queued: FIN after it
  REQUIRE(h.run_until([&] { return w.server->done(); }));
  const FlowStats& f = w->flows()[0];
  CHECK(f.errors.count(StreamError::kPrematureEof) == 1);
  CHECK(f.errors.first_stream_error == StreamError::kPrematureEof);
  CHECK(f.errors.mismatched_bytes == 0);
  CHECK(f.bytes_received < kBytes);
  CHECK(f.bytes_received == f.bytes_sent);  // what send() accepted still arrived, before the FIN
  CHECK_FALSE(f.done);                      // the client never finished it
  CHECK_FALSE(w.client->done());
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: a server that quits with unread data resets the client",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kBytes = 8 << 20;
  auto w = h.start(workload_spec("dropped", bulk(kBytes, 1)));
  REQUIRE(h.run_until([&] { return w->flows()[0].bytes_received > 256 * 1024; }));
  // The link runs on while the apps do not: data waits unread in the server's socket, so its
  // close answers with RST (tcp_close with unread data).
  h.net.run_until([] { return false; }, h.now() + sim::Duration::from_us(50));
  w.server->stop(h.now());
  REQUIRE(h.run_until([&] { return w.client->done(); }));
  const FlowStats& f = w->flows()[0];
  CHECK(f.errors.count(StreamError::kReset) == 1);
  REQUIRE(f.errors.first_stream_error == StreamError::kReset);
  CHECK((f.errors.first_stream_errno == -ECONNRESET || f.errors.first_stream_errno == -EPIPE));
  CHECK(f.bytes_sent < kBytes);
  CHECK(f.bytes_received < f.bytes_sent);
  CHECK_FALSE(f.done);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: 64 flows at once, and validate false counts bytes without checking them",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kBytes = 40000;
  auto checked = h.start(workload_spec("many", bulk(kBytes, 64, 3000), 10000));
  BulkTcp unchecked_params = bulk(kBytes, 2);
  unchecked_params.validate = false;
  app::WorkloadOptions o;
  o.tamper_tx = [](std::uint32_t, app::Direction, std::uint64_t, std::span<std::byte> chunk) {
    chunk[0] ^= std::byte{1};
  };
  auto unchecked = h.start(workload_spec("unchecked", unchecked_params, 20000), o);
  REQUIRE(h.run_apps());
  for (const auto& f : checked->flows()) check_clean(f, kBytes);
  for (const auto& f : unchecked->flows()) {
    CHECK(f.done);
    CHECK(f.bytes_received == kBytes);
    CHECK(f.bytes_validated == 0);
    CHECK(f.validation_errors() == 0);  // wrong bytes, but nobody looked
  }
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: a port held by another socket fails the listen and refuses the connect",
          "[apps-workload][integration]") {
  AppHarness h;
  namespace so = netstack::socket;
  const int squatter = h.table(1).socket(so::kAF_INET, so::kSOCK_STREAM, 0);  // bound, never listening
  REQUIRE(squatter >= 0);
  REQUIRE(h.table(1).bind(squatter, so::SockAddr{AppHarness::address(1, IpVersion::kV4), 5002}) == 0);
  auto w = h.start(workload_spec("held", bulk(64 * 1024, 3), 5001));
  REQUIRE(h.run_apps());
  const FlowStats& f = w->flows()[1];  // port 5002
  CHECK(f.done);
  CHECK(f.errors.count(StreamError::kListenFailed) == 1);
  CHECK(f.errors.first_stream_errno == -EADDRINUSE);
  CHECK(f.errors.count(StreamError::kConnectFailed) == 1);
  CHECK(f.errors.stream_errors() == 2);
  CHECK(f.bytes_sent == 0);
  check_clean(w->flows()[0], 64 * 1024);
  check_clean(w->flows()[2], 64 * 1024);
  REQUIRE(h.table(1).close(squatter, h.now()) == 0);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: bulk tcp: the apps' steps allocate nothing once the flows run",
          "[apps-workload][integration]") {
  AppHarness h;
  auto w = h.start(workload_spec("steady", bulk(16 << 20, 2)));
  // Connections, epoll registrations, the first writes and the send buffers' growth with the
  // congestion window (more socket memory) allocate; then the steady state.
  REQUIRE(h.run_until(
      [&] { return w->flows()[0].bytes_received > 8 << 20 && w->flows()[1].bytes_received > 8 << 20; }));
  h.allocation_counter = &testing::allocations;
  const std::uint64_t steps_before = h.steps;
  REQUIRE(h.run_until([&] { return w->flows()[0].bytes_received > 12 << 20; }));
  h.allocation_counter = nullptr;
  CHECK(h.steps - steps_before > 100);
  CHECK(h.step_allocations == 0);
  REQUIRE(h.run_apps());
  h.expect_clean_end();
}
