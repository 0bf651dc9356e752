// udp-stream over two stacks: pacing at the configured rate, loss counted exactly when the link
// drops chosen datagrams, duplicates and reordering counted, a wrong byte and a wrong sequence
// number caught, IPv6, and make_workload's refusals.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>

#include "app_harness.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"

using namespace nicemu;
using app::StreamError;
using app::UdpStream;
using netstack::wire::IpVersion;
using testing::AppHarness;
using testing::workload_spec;

namespace {

UdpStream udp(std::uint64_t rate_bps, std::uint64_t size, std::uint64_t count) {
  UdpStream u;
  u.rate_bps = rate_bps;
  u.size_bytes = size;
  u.count = count;
  return u;
}

// The sequence number of an Ethernet + IPv4 (no options) + UDP frame of this workload; nullopt
// for anything else.
std::optional<std::uint64_t> udp_seq(const netstack::core::SkBuff& skb) {
  std::byte h[14 + 20 + 8 + 8];
  if (skb.len() < sizeof h || netstack::core::skb_copy_bits(skb, 0, h, sizeof h) != 0) return std::nullopt;
  if (std::to_integer<unsigned>(h[12]) != 0x08 || std::to_integer<unsigned>(h[13]) != 0x00 ||
      std::to_integer<unsigned>(h[14 + 9]) != 17) {
    return std::nullopt;
  }
  std::uint64_t seq = 0;
  std::memcpy(&seq, h + 14 + 20 + 8, 8);
  return seq;
}

}  // namespace

TEST_CASE("apps-workload: udp: datagrams are paced at the payload rate and all arrive checked",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kSize = 1000, kCount = 1000;
  auto spec = workload_spec("udp", udp(1'000'000'000, kSize, kCount), 9999);
  spec.start = sim::Duration::from_us(50);
  auto w = h.start(spec);
  REQUIRE(h.run_apps());
  const app::UdpStats* s = w->udp_stats();
  REQUIRE(s != nullptr);
  CHECK(s->datagrams_sent == kCount);
  CHECK(s->datagrams_received == kCount);
  CHECK(s->unique_received == kCount);
  CHECK(s->lost == 0);
  CHECK(s->duplicates == 0);
  CHECK(s->reordered == 0);
  CHECK(s->bad_datagrams == 0);
  const app::FlowStats& f = w->flows()[0];
  CHECK(f.done);
  CHECK(f.tuple.rfind("192.0.2.1:", 0) == 0);
  CHECK(f.tuple.find(" -> 192.0.2.2:9999") != std::string::npos);
  CHECK(f.bytes_sent == kSize * kCount);
  CHECK(f.bytes_received == kSize * kCount);
  CHECK(f.bytes_validated == (kSize - 8) * kCount);
  CHECK(f.validation_errors() == 0);
  // 1000 datagrams of 1000 bytes at 1 Gbit/s: one every 8 µs, the last sent 7.992 ms after the
  // first, which left at the start time; the receiver sees it one link delay (10 µs) later.
  REQUIRE(f.first_byte_sent.has_value());
  CHECK(*f.first_byte_sent == sim::TimePoint() + sim::Duration::from_us(50));
  CHECK(*f.last_byte_received - *f.first_byte_sent == sim::Duration::from_us(7992 + 10));
  std::printf("udp 1 Gbit/s: goodput %.4f Gbit/s\n", f.goodput_gbps());
  CHECK(f.goodput_gbps() == Approx(8e6 / 8.002e-3 / 1e9));
  // Every step sent what was due and asked for the next datagram's time.
  h.expect_clean_end();
}

TEST_CASE("apps-workload: udp: datagrams the link drops are counted lost, duplicates and reordering counted",
          "[apps-workload][integration]") {
  AppHarness h(3, testing::LinkFaults{.drop = 0.0, .corrupt = 0.0, .dup = 0.03, .reorder = 0.05});
  std::uint64_t dropped = 0;
  h.net.drop_if = [&](int from, const netstack::core::SkBuff& skb) {
    const auto seq = udp_seq(skb);
    if (from != 0 || !seq || *seq % 10 != 3) return false;
    ++dropped;
    return true;
  };
  constexpr std::uint64_t kCount = 2000;
  auto w = h.start(workload_spec("udp-lossy", udp(2'000'000'000, 1200, kCount)));
  REQUIRE(h.run_apps());
  const app::UdpStats& s = *w->udp_stats();
  CHECK(dropped == kCount / 10);
  CHECK(s.datagrams_sent == kCount);
  CHECK(s.lost == kCount / 10);
  CHECK(s.unique_received + s.lost == kCount);
  CHECK(s.duplicates > 0);
  CHECK(s.reordered > 0);
  CHECK(s.datagrams_received == s.unique_received + s.duplicates);
  const app::FlowStats& f = w->flows()[0];
  CHECK(f.validation_errors() == 0);
  CHECK(f.done);
  std::printf("udp lossy: %llu sent, %llu unique, %llu lost, %llu duplicates, %llu reordered\n",
              static_cast<unsigned long long>(s.datagrams_sent), static_cast<unsigned long long>(s.unique_received),
              static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.duplicates),
              static_cast<unsigned long long>(s.reordered));
  h.expect_clean_end();
}

TEST_CASE("apps-workload: udp: when the last datagrams are lost the receiver gives up after the linger time",
          "[apps-workload][integration]") {
  AppHarness h;
  h.net.drop_if = [&](int from, const netstack::core::SkBuff& skb) {
    const auto seq = udp_seq(skb);
    return from == 0 && seq && *seq >= 95;
  };
  app::WorkloadOptions o;
  o.udp_linger = sim::Duration::from_ms(5);
  auto w = h.start(workload_spec("udp-tail", udp(100'000'000, 500, 100)), o);
  REQUIRE(h.run_apps());
  const app::UdpStats& s = *w->udp_stats();
  CHECK(s.lost == 5);
  CHECK(s.unique_received == 95);
  const app::FlowStats& f = w->flows()[0];
  REQUIRE(f.end.has_value());
  // The sender finished at its last datagram (99 gaps of 40 µs); the receiver linger later.
  CHECK(*f.end >= sim::TimePoint() + sim::Duration::from_us(99 * 40) + sim::Duration::from_ms(5));
  CHECK(*f.end < sim::TimePoint() + sim::Duration::from_ms(20));
  h.expect_clean_end();
}

TEST_CASE("apps-workload: udp: IPv6, a wrong payload byte and a wrong sequence number are caught",
          "[apps-workload][integration]") {
  AppHarness h;
  constexpr std::uint64_t kSize = 700, kCount = 50;
  app::WorkloadOptions o;
  o.tamper_tx = [](std::uint32_t, app::Direction, std::uint64_t offset, std::span<std::byte> d) {
    if (offset == 5 * kSize) d[20] ^= std::byte{0x04};  // datagram 5, payload byte 20
    if (offset == 7 * kSize) d[0] = std::byte{0xff};    // datagram 7 claims sequence 255
  };
  auto w = h.start(workload_spec("udp6", udp(500'000'000, kSize, kCount), 4000, IpVersion::kV6), o,
                   /*bind_client=*/true);
  REQUIRE(h.run_apps());
  const app::UdpStats& s = *w->udp_stats();
  const app::FlowStats& f = w->flows()[0];
  CHECK(f.tuple.rfind("[2001:db8::1]:", 0) == 0);
  CHECK(s.bad_datagrams == 1);
  CHECK(s.lost == 1);  // datagram 7 never arrived as itself
  CHECK(f.errors.count(StreamError::kBadDatagram) == 1);
  CHECK(f.errors.mismatched_bytes == 1);
  REQUIRE(f.errors.first_bad_offset.has_value());
  CHECK(*f.errors.first_bad_offset == 5 * kSize + 20);
  CHECK(f.validation_errors() == 2);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: udp: a datagram larger than the MTU stops the sender with EMSGSIZE",
          "[apps-workload][integration]") {
  AppHarness h;
  app::WorkloadOptions o;
  o.udp_linger = sim::Duration::from_ms(1);
  auto w = h.start(workload_spec("udp-big", udp(1'000'000'000, 9000, 10)), o);
  REQUIRE(h.run_apps());
  const app::FlowStats& f = w->flows()[0];
  CHECK(w->udp_stats()->send_errors == 1);
  CHECK(w->udp_stats()->datagrams_sent == 0);
  CHECK(f.errors.count(StreamError::kSendFailed) == 1);
  CHECK(f.errors.first_stream_errno == -EMSGSIZE);
  CHECK(w->udp_stats()->lost == 10);
  h.expect_clean_end();
}

TEST_CASE("apps-workload: make_workload refuses what cannot run, with a sentence", "[apps-workload][unit]") {
  AppHarness h;
  app::WorkloadPlacement where{h.table(0), h.table(1), AppHarness::address(1, IpVersion::kV4), std::nullopt, {}, 0, nullptr};
  auto small = app::make_workload(workload_spec("tiny", udp(1000, 4, 1)), where);
  REQUIRE_FALSE(small);
  CHECK(small.error().find("at least 8 bytes") != std::string::npos);
  auto family = app::make_workload(workload_spec("v6", udp(1000, 100, 1), 5000, IpVersion::kV6), where);
  REQUIRE_FALSE(family);
  CHECK(family.error().find("family") != std::string::npos);
  app::BulkTcp both;
  both.bytes = 10;
  both.duration = sim::Duration::from_ms(1);
  auto b = app::make_workload(workload_spec("both", both), where);
  REQUIRE_FALSE(b);
  CHECK(b.error().find("exactly one of bytes or duration") != std::string::npos);
  auto many = app::make_workload(workload_spec("many", udp(1000, 100, app::kMaxUdpCount + 1)), where);
  REQUIRE_FALSE(many);
  CHECK(many.error().find("at most 2^32") != std::string::npos);
  auto slow = app::make_workload(workload_spec("slow", udp(1, 65000, 1'000'000)), where);
  REQUIRE_FALSE(slow);
  CHECK(slow.error().find("raise rate") != std::string::npos);
  auto ok = app::make_workload(workload_spec("fine", udp(1000, 100, 1)), where);
  CHECK(ok.has_value());
}

TEST_CASE("apps-workload: the workload and its apps share the statistics, so either may go first",
          "[apps-workload][integration]") {
  AppHarness h;
  auto gone_first = h.start(workload_spec("early", udp(1'000'000'000, 100, 20), 6001));
  gone_first.workload.reset();  // the apps run on without it
  auto kept = h.start(workload_spec("kept", udp(1'000'000'000, 100, 30), 6002));
  REQUIRE(h.run_apps());
  h.expect_clean_end();
  h.drop_apps();  // the hosts drop their apps; the report reads the workload afterwards
  CHECK(kept->done());
  CHECK(kept->udp_stats()->unique_received == 30);
  CHECK(kept->flows()[0].bytes_received == 3000);
  CHECK(kept->flows()[0].done);
}
