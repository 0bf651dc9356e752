// Link timing in simulated time: serialization (bytes + 24 at line rate), propagation,
// back-to-back queueing per direction, queue limits, MTU, padding, carrier, config errors.
#include <catch2/catch.hpp>

#include <cerrno>

#include "link_fixtures.hpp"
#include "nicemu/nic/hw/link.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;
using nicemu::testing::at;
using nicemu::testing::at_ps;
using nicemu::testing::mac;
using nicemu::testing::make_frame;
using nicemu::testing::Receiver;

namespace {

LinkConfig config_100g(sim::Duration prop = 50_ns) {
  LinkConfig c;
  c.line_rate_bps = 100'000'000'000;
  c.propagation_delay = prop;
  c.mtu = 1500;
  return c;
}

// Declared in this order so the link goes before the queue and the pool.
struct Rig {
  explicit Rig(const LinkConfig& cfg, std::uint64_t seed = 1) : streams(seed), link(q, streams, "l0", cfg) {}
  FramePool pool;
  sim::EventQueue q;
  sim::RandomStreams streams;
  Link link;
};

}  // namespace

TEST_CASE("link: a 1514-byte frame arrives 123.04 ns of serialization plus the propagation delay after it is sent",
          "[nic][hw][link][unit]") {
  Rig r(config_100g(50_ns));
  Receiver rx(r.q, r.link.port(1));
  REQUIRE(r.link.port(0).transmit(make_frame(r.pool, 1514, mac(2), mac(1))));
  CHECK(r.link.port(0).tx_busy());
  r.q.run_until_idle();
  REQUIRE(rx.frames.size() == 1);
  CHECK(rx.frames[0].t == at_ps(123'040 + 50'000));
  CHECK(rx.frames[0].bytes.size() == 1514);
  // A frame sent later, on an idle link, takes the same time from its send time.
  r.q.run_until(at(1_us));
  r.link.port(0).transmit(make_frame(r.pool, 1514, mac(2), mac(1)));
  r.q.run_until_idle();
  REQUIRE(rx.frames.size() == 2);
  CHECK(rx.frames[1].t == at(1_us) + sim::Duration::from_ps(173'040));
  const auto& s = r.link.stats(0);
  CHECK(s.tx_frames == 2);
  CHECK(s.tx_bytes == 2 * 1514);
  CHECK(s.rx_frames == 2);
  CHECK(s.rx_bytes == 2 * 1514);
  CHECK(s.dropped_total() == 0);
  CHECK(r.link.frames_held() == 0);
  CHECK(r.q.empty());
}

TEST_CASE("link: back-to-back frames queue behind each other on one direction while the other direction is free",
          "[nic][hw][link][unit]") {
  Rig r(config_100g(50_ns));
  Receiver at_b(r.q, r.link.port(1));
  Receiver at_a(r.q, r.link.port(0));
  int tx_done = 0;
  r.link.port(0).set_tx_done_handler([&tx_done] { ++tx_done; });
  for (int i = 0; i < 3; ++i) REQUIRE(r.link.port(0).transmit(make_frame(r.pool, 1514, mac(2), mac(1))));
  REQUIRE(r.link.port(1).transmit(make_frame(r.pool, 1514, mac(1), mac(2))));
  CHECK(r.link.port(0).tx_queue_frames() == 3);  // the serializing frame included
  CHECK(r.link.port(0).tx_queue_bytes() == 3 * 1514);
  r.q.run_until(at_ps(123'040));
  CHECK(r.link.port(0).tx_queue_frames() == 2);
  r.q.run_until_idle();
  REQUIRE(at_b.frames.size() == 3);
  for (std::int64_t k = 0; k < 3; ++k) CHECK(at_b.frames[static_cast<std::size_t>(k)].t == at_ps(123'040 * (k + 1) + 50'000));
  REQUIRE(at_a.frames.size() == 1);
  CHECK(at_a.frames[0].t == at_ps(123'040 + 50'000));  // full duplex: not behind a->b
  CHECK(tx_done == 3);
  CHECK(r.link.port(0).tx_queue_frames() == 0);
  CHECK(r.link.port(0).tx_queue_bytes() == 0);
  CHECK(r.q.empty());
}

TEST_CASE("link: propagation delay shifts arrival and lets several frames be on the wire at once",
          "[nic][hw][link][unit]") {
  Rig r(config_100g(1_us));
  Receiver rx(r.q, r.link.port(1));
  for (int i = 0; i < 5; ++i) r.link.port(0).transmit(make_frame(r.pool, 1514, mac(2), mac(1)));
  r.q.run_until(at_ps(5 * 123'040));  // all serialized, none arrived
  CHECK(rx.frames.empty());
  CHECK(r.link.port(0).frames_on_wire() == 5);
  r.q.run_until_idle();
  REQUIRE(rx.frames.size() == 5);
  CHECK(rx.frames[0].t == at_ps(123'040 + 1'000'000));
  CHECK(rx.frames[4].t == at_ps(5 * 123'040 + 1'000'000));
}

TEST_CASE("link: the transmit queue's frame and byte limits drop and count frames as tx-queue-full",
          "[nic][hw][link][unit]") {
  SECTION("frame limit") {
    LinkConfig c = config_100g();
    c.tx_queue = TxQueueLimit{4, 0};
    Rig r(c);
    Receiver rx(r.q, r.link.port(1));
    int accepted = 0;
    for (int i = 0; i < 10; ++i) accepted += r.link.port(0).transmit(make_frame(r.pool, 1000, mac(2), mac(1))) ? 1 : 0;
    CHECK(accepted == 4);
    CHECK(r.link.stats(0).drops(DropReason::kTxQueueFull) == 6);
    // When the first frame's slot ends, one place is free again, and only one.
    r.q.run_until(at(wire_time(1000, c.line_rate_bps)));
    CHECK(r.link.port(0).tx_queue_frames() == 3);
    CHECK(r.link.port(0).transmit(make_frame(r.pool, 1000, mac(2), mac(1))));
    CHECK_FALSE(r.link.port(0).transmit(make_frame(r.pool, 1000, mac(2), mac(1))));
    r.q.run_until_idle();
    CHECK(rx.frames.size() == 5);
    CHECK(r.link.stats(0).drops(DropReason::kTxQueueFull) == 7);
  }
  SECTION("byte limit: occupancy counts padded bytes and the serializing frame") {
    LinkConfig c = config_100g();
    c.tx_queue = TxQueueLimit{0, 3100};
    Rig r(c);
    Receiver rx(r.q, r.link.port(1));
    auto& p = r.link.port(0);
    CHECK(p.transmit(make_frame(r.pool, 1514, mac(2), mac(1))));
    CHECK(p.transmit(make_frame(r.pool, 1514, mac(2), mac(1))));  // 3028 bytes
    const auto refused = p.transmit(make_frame(r.pool, 100, mac(2), mac(1)));
    CHECK_FALSE(refused);
    CHECK(refused.reason == DropReason::kTxQueueFull);
    CHECK(p.transmit(make_frame(r.pool, 40, mac(2), mac(1))));  // padded to 60: 3088 <= 3100
    CHECK(p.tx_queue_bytes() == 3088);
    r.q.run_until_idle();
    CHECK(rx.frames.size() == 3);
    CHECK(r.link.stats(0).drops(DropReason::kTxQueueFull) == 1);
  }
  SECTION("a byte limit below one max-size frame is a config error") {
    Rig r(config_100g());
    auto err = r.link.port(0).set_tx_queue_limit(TxQueueLimit{0, 1000});
    REQUIRE(err);
    CHECK(err->code == -EINVAL);
    CHECK(err->message.find("1522") != std::string::npos);
    CHECK_FALSE(r.link.port(0).set_tx_queue_limit(TxQueueLimit{0, 1522}));
  }
}

TEST_CASE("link: frames over MTU plus header and tags are refused at the sender, each VLAN tag adds 4 bytes",
          "[nic][hw][link][unit]") {
  Rig r(config_100g());
  Receiver rx(r.q, r.link.port(1));
  auto& p = r.link.port(0);
  CHECK(p.transmit(make_frame(r.pool, 1514, mac(2), mac(1))));
  auto over = p.transmit(make_frame(r.pool, 1515, mac(2), mac(1)));
  CHECK_FALSE(over);
  CHECK(over.reason == DropReason::kMtuExceeded);
  CHECK(p.transmit(make_frame(r.pool, 1518, mac(2), mac(1), 0, 1)));
  CHECK_FALSE(p.transmit(make_frame(r.pool, 1519, mac(2), mac(1), 0, 1)));
  CHECK(p.transmit(make_frame(r.pool, 1522, mac(2), mac(1), 0, 2)));
  CHECK_FALSE(p.transmit(make_frame(r.pool, 1523, mac(2), mac(1), 0, 2)));
  r.q.run_until_idle();
  CHECK(rx.frames.size() == 3);
  CHECK(r.link.stats(0).drops(DropReason::kMtuExceeded) == 3);
  CHECK(r.link.stats(0).tx_frames == 3);

  SECTION("jumbo MTU 9216 carries 9230-byte frames") {
    LinkConfig c = config_100g();
    c.mtu = 9216;
    Rig j(c);
    Receiver jr(j.q, j.link.port(1));
    CHECK(j.link.port(0).transmit(make_frame(j.pool, 9230, mac(2), mac(1))));
    CHECK_FALSE(j.link.port(0).transmit(make_frame(j.pool, 9231, mac(2), mac(1))));
    j.q.run_until_idle();
    REQUIRE(jr.frames.size() == 1);
    CHECK(jr.frames[0].t == at(wire_time(9230, c.line_rate_bps) + 50_ns));
  }
}

TEST_CASE("link: frames under 60 bytes are padded with zeros, frames under 14 bytes are refused as runts",
          "[nic][hw][link][unit]") {
  Rig r(config_100g());
  Receiver rx(r.q, r.link.port(1));
  auto& p = r.link.port(0);
  CHECK(p.transmit(make_frame(r.pool, 42, mac(2), mac(1), 5)));  // an ARP-sized frame
  auto runt = p.transmit(make_frame(r.pool, 13, mac(2), mac(1)));
  CHECK_FALSE(runt);
  CHECK(runt.reason == DropReason::kRunt);
  r.q.run_until_idle();
  REQUIRE(rx.frames.size() == 1);
  const auto& b = rx.frames[0].bytes;
  REQUIRE(b.size() == 60);
  for (std::size_t i = 14; i < 42; ++i) CHECK(b[i] == nicemu::testing::pattern_byte(i, 5));
  for (std::size_t i = 42; i < 60; ++i) CHECK(b[i] == std::byte{0});
  CHECK(rx.frames[0].t == at_ps(6'720 + 50'000));  // 84 wire bytes
  CHECK(r.link.stats(0).tx_bytes == 60);
  CHECK(r.link.stats(0).drops(DropReason::kRunt) == 1);
}

TEST_CASE("link: carrier down loses frames on the wire and in the queues, refuses new ones, and up again works",
          "[nic][hw][link][unit]") {
  Rig r(config_100g(1_us));
  Receiver rx_b(r.q, r.link.port(1));
  Receiver rx_a(r.q, r.link.port(0));
  std::vector<std::pair<sim::TimePoint, bool>> carrier_seen;
  r.link.port(0).set_carrier_handler([&](bool up) { carrier_seen.emplace_back(r.q.now(), up); });
  // a->b: 6 frames back to back; the first arrives at 1.12304 µs. b->a: one frame.
  for (int i = 0; i < 6; ++i) r.link.port(0).transmit(make_frame(r.pool, 1514, mac(2), mac(1)));
  r.link.port(1).transmit(make_frame(r.pool, 1514, mac(1), mac(2)));
  // Down at 500 ns: frame k started at k × 123.04 ns, so frames 0..3 are propagating, frame 4
  // (started at 492.16 ns) is serializing and frame 5 waits in the queue.
  r.link.schedule_carrier(at(500_ns), false);
  r.link.schedule_carrier(at(3_us), true);
  r.q.run_until(at(1_us));
  CHECK_FALSE(r.link.carrier());
  auto refused = r.link.port(0).transmit(make_frame(r.pool, 100, mac(2), mac(1)));
  CHECK_FALSE(refused);
  CHECK(refused.reason == DropReason::kCarrierDown);
  r.q.run_until(at(3_us));
  CHECK(r.link.carrier());
  CHECK(r.link.frames_held() == 0);
  REQUIRE(r.link.port(0).transmit(make_frame(r.pool, 1514, mac(2), mac(1))));
  r.q.run_until_idle();

  const auto& ab = r.link.stats(0);
  CHECK(ab.drops(DropReason::kLinkDownInFlight) == 5);  // frames 0..4
  CHECK(ab.drops(DropReason::kCarrierDown) == 2);       // frame 5 (queued) + the one refused
  CHECK(ab.tx_frames == 6);                              // 0..4 and the frame after carrier up
  REQUIRE(rx_b.frames.size() == 1);
  CHECK(rx_b.frames[0].t == at(3_us) + sim::Duration::from_ps(123'040 + 1'000'000));
  CHECK(r.link.stats(1).drops(DropReason::kLinkDownInFlight) == 1);
  CHECK(rx_a.frames.empty());
  REQUIRE(carrier_seen.size() == 2);
  CHECK(carrier_seen[0] == std::make_pair(at(500_ns), false));
  CHECK(carrier_seen[1] == std::make_pair(at(3_us), true));
  CHECK(r.link.port(0).tx_queue_bytes() == 0);
  CHECK(r.q.empty());
}

TEST_CASE("link: a carrier change at the instant a frame arrives applies first and loses the frame",
          "[nic][hw][link][unit]") {
  Rig r(config_100g(50_ns));
  Receiver rx(r.q, r.link.port(1));
  r.link.port(0).transmit(make_frame(r.pool, 1514, mac(2), mac(1)));
  r.link.schedule_carrier(at_ps(173'040), false);
  r.q.run_until_idle();
  CHECK(rx.frames.empty());
  CHECK(r.link.stats(0).drops(DropReason::kLinkDownInFlight) == 1);
}

TEST_CASE("link: a port without an rx handler drops deliveries as no-receiver", "[nic][hw][link][unit]") {
  Rig r(config_100g());
  r.link.port(0).transmit(make_frame(r.pool, 100, mac(2), mac(1)));
  r.q.run_until_idle();
  CHECK(r.link.stats(0).drops(DropReason::kNoReceiver) == 1);
  CHECK(r.link.stats(0).rx_frames == 0);
  CHECK(r.pool.in_use() == 0);
}

TEST_CASE("link: config errors are EINVAL with a message naming the field and the allowed values",
          "[nic][hw][link][unit]") {
  LinkConfig c;
  CHECK_FALSE(c.validate());
  c.mtu = 9217;
  auto e = c.validate();
  REQUIRE(e);
  CHECK(e->code == -EINVAL);
  CHECK(e->message.find("mtu 9217 is outside 68..9216") != std::string::npos);
  c = LinkConfig{};
  c.line_rate_bps = 0;
  REQUIRE(c.validate());
  CHECK(c.validate()->message.find("line_rate_bps") != std::string::npos);
  c = LinkConfig{};
  c.propagation_delay = sim::Duration::from_ps(-1);
  REQUIRE(c.validate());
  CHECK(c.validate()->message.find("propagation_delay") != std::string::npos);
  c = LinkConfig{};
  c.mtu = 9000;
  c.tx_queue.bytes = 9000;
  REQUIRE(c.validate());
  CHECK(c.validate()->message.find("tx_queue.bytes") != std::string::npos);
}
