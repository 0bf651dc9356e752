// request-response over two stacks: every transaction done with its latency recorded, both
// directions checked (a wrong response byte is caught at its offset), loss survived, nothing
// left open.
#include <catch2/catch.hpp>

#include <cstdio>

#include "app_harness.hpp"

using namespace nicemu;
using app::RequestResponseTcp;
using netstack::wire::IpVersion;
using testing::AppHarness;
using testing::workload_spec;

namespace {

RequestResponseTcp rr(std::uint64_t req, std::uint64_t resp, std::uint64_t count, std::uint32_t concurrency) {
  RequestResponseTcp r;
  r.request_bytes = req;
  r.response_bytes = resp;
  r.count = count;
  r.concurrency = concurrency;
  return r;
}

void print_latency(const char* what, const app::RrStats& s) {
  const auto us = [](sim::Duration d) { return static_cast<double>(d.ps()) / 1e6; };
  std::printf("%s: %llu transactions, latency min %.2f us, p50 %.2f us, p99 %.2f us, max %.2f us, mean %.2f us\n", what,
              static_cast<unsigned long long>(s.transactions_done), us(s.latency.min()), us(s.latency.percentile(0.5)),
              us(s.latency.percentile(0.99)), us(s.latency.max()), us(s.latency.mean()));
}

}  // namespace

TEST_CASE("apps-workload: request-response: every transaction completes with its latency and both directions checked",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kReq = 100, kResp = 3000, kCount = 200;
  auto w = h.start(workload_spec("rr", rr(kReq, kResp, kCount, 4), 8080));
  REQUIRE(h.run_apps());
  CHECK(w->done());
  const app::RrStats* s = w->rr_stats();
  REQUIRE(s != nullptr);
  print_latency("rr 100/3000 x4", *s);
  CHECK(s->transactions_started == kCount);
  CHECK(s->transactions_done == kCount);
  CHECK(s->latency.count() == kCount);
  // At least a round trip over the 10 µs link each way; a few round trips at most on a clean link.
  CHECK(s->latency.min() >= sim::Duration::from_us(20));
  CHECK(s->latency.percentile(0.5) >= s->latency.min());
  CHECK(s->latency.percentile(0.99) >= s->latency.percentile(0.5));
  CHECK(s->latency.max() >= s->latency.percentile(0.99));
  CHECK(s->latency.max() < sim::Duration::from_ms(1));
  REQUIRE(w->flows().size() == 4);
  std::uint64_t sent = 0;
  for (const auto& f : w->flows()) {
    INFO(f.tuple);
    CHECK(f.done);
    CHECK(f.tuple.rfind("192.0.2.1:", 0) == 0);
    CHECK(f.tuple.find(" -> 192.0.2.2:8080") != std::string::npos);
    CHECK(f.bytes_received == f.bytes_sent);
    CHECK(f.bytes_validated == f.bytes_received);
    CHECK(f.bytes_sent % (kReq + kResp) == 0);
    CHECK(f.bytes_sent > 0);
    CHECK(f.validation_errors() == 0);
    sent += f.bytes_sent;
  }
  CHECK(sent == kCount * (kReq + kResp));
  h.expect_clean_end();
}

TEST_CASE("apps-workload: request-response: fewer transactions than connections opens only as many connections",
          "[apps-workload][integration]") {
  AppHarness h;
  auto w = h.start(workload_spec("few", rr(10, 10, 2, 8)));
  REQUIRE(h.run_apps());
  CHECK(w->flows().size() == 2);
  CHECK(w->rr_stats()->transactions_done == 2);
  CHECK(w->validation_errors() == 0);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: request-response: a wrong response byte is caught at its offset on its connection",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kResp = 5000;
  constexpr std::uint64_t kBad = 3 * kResp + 17;  // the 4th response of connection 1, byte 17
  app::WorkloadOptions o;
  o.tamper_tx = [](std::uint32_t conn, app::Direction d, std::uint64_t offset, std::span<std::byte> chunk) {
    if (conn == 1 && d == app::Direction::kServerToClient && offset <= kBad && kBad < offset + chunk.size()) {
      chunk[kBad - offset] ^= std::byte{0xff};
    }
  };
  auto w = h.start(workload_spec("rr-bad", rr(64, kResp, 40, 2)), o);
  REQUIRE(h.run_apps());
  CHECK(w->rr_stats()->transactions_done == 40);
  const app::FlowStats& bad = w->flows()[1];
  CHECK(bad.errors.mismatched_bytes == 1);
  REQUIRE(bad.errors.first_bad_offset.has_value());
  CHECK(*bad.errors.first_bad_offset == kBad);
  CHECK(bad.errors.first_bad_direction == app::Direction::kServerToClient);
  CHECK(w->flows()[0].validation_errors() == 0);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: request-response: IPv6 through loss and reordering, with retransmits and a longer tail",
          "[apps-workload][integration]") {
  AppHarness h(9, testing::LinkFaults{.drop = 0.03, .corrupt = 0.0, .dup = 0.0, .reorder = 0.03});
  constexpr std::uint64_t kCount = 300;
  auto w = h.start(workload_spec("rr-lossy", rr(200, 8000, kCount, 3), 9000, IpVersion::kV6));
  REQUIRE(h.run_apps(sim::Duration::from_s(120)));
  const app::RrStats* s = w->rr_stats();
  print_latency("rr 200/8000 x3 IPv6, 3% loss", *s);
  CHECK(s->transactions_done == kCount);
  std::uint64_t retransmits = 0;
  for (const auto& f : w->flows()) {
    CHECK(f.done);
    CHECK(f.validation_errors() == 0);
    CHECK(f.tuple.rfind("[2001:db8::1]:", 0) == 0);
    retransmits += f.retransmits;
  }
  CHECK(retransmits > 0);
  CHECK(s->latency.percentile(0.99) > s->latency.percentile(0.5));
  h.expect_clean_end();
}
