// Link fault injection: each kind's effect and counters, switching faults at simulated times,
// conservation of frames, independence of the kinds' streams, and reproducibility by seed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <map>

#include "link_fixtures.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/sim/trace_digest.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;
using nicemu::testing::at;
using nicemu::testing::mac;
using nicemu::testing::make_frame;
using nicemu::testing::Receiver;

namespace {

constexpr std::uint64_t kRate = 100'000'000'000;
constexpr std::size_t kLen = 1000;
const sim::Duration kSlot = wire_time(kLen, kRate);  // 1024 wire bytes at 100 Gbit/s: 81.92 ns
constexpr sim::Duration kProp = 50_ns;
constexpr sim::Duration kGap = 200_ns;  // between sends: longer than a slot, so nothing queues

// Remembers what a port sent: id → (start of serialization, bytes as sent).
class SentTap final : public FrameTap {
 public:
  void on_frame(TapPoint, sim::TimePoint t, std::uint64_t id, std::span<const std::byte> bytes) override {
    sent[id] = {t, std::vector<std::byte>(bytes.begin(), bytes.end())};
  }
  std::map<std::uint64_t, std::pair<sim::TimePoint, std::vector<std::byte>>> sent;
};

struct Outcome {
  std::vector<std::uint64_t> ids;      // delivered at b, in order
  std::vector<sim::TimePoint> times;
  std::vector<std::vector<std::byte>> bytes;
  LinkDirectionStats ab;
  LinkDirectionStats ba;
  std::string digest;
  std::map<std::uint64_t, std::pair<sim::TimePoint, std::vector<std::byte>>> sent;
  bool operator==(const Outcome&) const = default;
};

// `n` frames a->b every kGap (and b->a every third gap), both directions faulty, run to idle.
Outcome run(std::uint64_t seed, const FaultConfig& f, int n = 400, std::size_t max_frames = 0) {
  FramePool pool(max_frames);
  sim::EventQueue q;
  sim::TraceDigest digest;
  sim::RandomStreams streams(seed);
  LinkConfig c;
  c.line_rate_bps = kRate;
  c.propagation_delay = kProp;
  Outcome out;
  {
    Link link(q, streams, "l0", c, &digest);
    Receiver rx_b(q, link.port(1));
    Receiver rx_a(q, link.port(0));
    SentTap tap;
    link.port(0).add_tap(tap, TapPoint::kTx);
    REQUIRE_FALSE(link.port(0).set_faults(f));
    REQUIRE_FALSE(link.port(1).set_faults(f));
    for (int i = 0; i < n; ++i) {
      q.schedule_at(at(kGap * i), [&link, &pool, i] {
        if (auto fr = make_frame(pool, kLen, mac(2), mac(1), static_cast<std::uint8_t>(i)); fr) {
          link.port(0).transmit(std::move(fr));
        }
        if (i % 3 == 0) {
          if (auto fr = make_frame(pool, kLen, mac(1), mac(2)); fr) link.port(1).transmit(std::move(fr));
        }
      });
    }
    q.run_until_idle();
    CHECK(link.frames_held() == 0);
    for (const auto& r : rx_b.frames) {
      out.ids.push_back(r.id);
      out.times.push_back(r.t);
      out.bytes.push_back(r.bytes);
    }
    out.ab = link.stats(0);
    out.ba = link.stats(1);
    out.sent = tap.sent;
  }
  out.digest = digest.hex();
  CHECK(pool.in_use() == 0);
  return out;
}

// Frames of `o` that arrived later than an undisturbed frame would.
std::vector<std::uint64_t> late_frames(const Outcome& o) {
  std::vector<std::uint64_t> late;
  for (std::size_t i = 0; i < o.ids.size(); ++i) {
    const sim::TimePoint sent_at = o.sent.at(o.ids[i]).first;
    if (o.times[i] - sent_at > kSlot + kProp) late.push_back(o.ids[i]);
  }
  return late;
}

void check_conservation(const LinkDirectionStats& s) {
  CHECK(s.tx_frames == s.rx_frames + s.drops(DropReason::kFaultDrop) + s.drops(DropReason::kCrcError) +
                           s.drops(DropReason::kLinkDownInFlight) + s.drops(DropReason::kNoReceiver));
}

}  // namespace

TEST_CASE("link faults: drop loses frames on the wire, counts fault-drop, and the lost frame still used its slot",
          "[nic][hw][link][faults][unit]") {
  FaultConfig f;
  f.drop = 0.25;
  const Outcome o = run(1, f);
  CHECK(o.ab.tx_frames == 400);
  CHECK(o.ab.drops(DropReason::kFaultDrop) > 60);  // 100 expected
  CHECK(o.ab.drops(DropReason::kFaultDrop) < 140);
  CHECK(o.ab.rx_frames == o.ids.size());
  check_conservation(o.ab);
  check_conservation(o.ba);
  CHECK(o.ab.corrupted + o.ab.duplicated + o.ab.reordered == 0);

  SECTION("drop 1 loses everything; the next frame still waits for the dropped one's slot") {
    FramePool pool;
    sim::EventQueue q;
    sim::RandomStreams streams(1);
    Link link(q, streams, "l0", LinkConfig{}, nullptr);
    Receiver rx(q, link.port(1));
    FaultConfig all;
    all.drop = 1.0;
    REQUIRE_FALSE(link.port(0).set_faults(all));
    link.port(0).transmit(make_frame(pool, 1514, mac(2), mac(1)));
    REQUIRE_FALSE(link.port(0).set_faults(FaultConfig{}));  // applies to frames not yet started
    link.port(0).transmit(make_frame(pool, 1514, mac(2), mac(1)));
    q.run_until_idle();
    REQUIRE(rx.frames.size() == 1);
    CHECK(rx.frames[0].t == at(sim::Duration::from_ps(2 * 123'040) + LinkConfig{}.propagation_delay));
    CHECK(link.stats(0).drops(DropReason::kFaultDrop) == 1);
  }
}

TEST_CASE("link faults: FCS-error corruption is discarded by the receiver and counted as rx_crc_errors",
          "[nic][hw][link][faults][unit]") {
  FaultConfig f;
  f.corrupt = 0.2;
  f.corrupt_mode = CorruptMode::kFcsError;
  const Outcome o = run(3, f);
  CHECK(o.ab.corrupted > 40);
  CHECK(o.ab.corrupted < 120);
  CHECK(o.ab.rx_crc_errors() == o.ab.corrupted);
  CHECK(o.ab.rx_frames == 400 - o.ab.corrupted);
  check_conservation(o.ab);
  // Whatever was delivered is intact.
  for (std::size_t i = 0; i < o.ids.size(); ++i) CHECK(o.bytes[i] == o.sent.at(o.ids[i]).second);
}

TEST_CASE("link faults: pass-corrupted frames arrive with exactly one byte flipped past the Ethernet header",
          "[nic][hw][link][faults][unit]") {
  FaultConfig f;
  f.corrupt = 0.2;
  f.corrupt_mode = CorruptMode::kPassCorrupted;
  const Outcome o = run(3, f);
  CHECK(o.ab.corrupted > 40);
  CHECK(o.ab.rx_crc_errors() == 0);
  CHECK(o.ab.rx_frames == 400);
  std::uint64_t damaged = 0;
  for (std::size_t i = 0; i < o.ids.size(); ++i) {
    const auto& sent = o.sent.at(o.ids[i]).second;
    REQUIRE(sent.size() == o.bytes[i].size());
    std::size_t diffs = 0;
    std::size_t where = 0;
    for (std::size_t k = 0; k < sent.size(); ++k) {
      if (sent[k] != o.bytes[i][k]) {
        ++diffs;
        where = k;
      }
    }
    if (diffs > 0) {
      ++damaged;
      CHECK(diffs == 1);
      CHECK(where >= kEthHeaderLen);
    }
  }
  CHECK(damaged == o.ab.corrupted);
}

TEST_CASE("link faults: a duplicate is a back-to-back copy with a fresh id and the same bytes",
          "[nic][hw][link][faults][unit]") {
  FaultConfig f;
  f.duplicate = 0.2;
  const Outcome o = run(5, f);
  CHECK(o.ab.duplicated > 40);
  CHECK(o.ab.tx_frames == 400 + o.ab.duplicated);
  CHECK(o.ab.rx_frames == o.ab.tx_frames);
  std::uint64_t copies = 0;
  for (std::size_t i = 1; i < o.ids.size(); ++i) {
    if (o.times[i] - o.times[i - 1] == kSlot && o.bytes[i] == o.bytes[i - 1]) {
      ++copies;
      CHECK(o.ids[i] != o.ids[i - 1]);
    }
  }
  CHECK(copies == o.ab.duplicated);

  SECTION("no buffer for the copy: the original goes, the copy is counted as no-frame-buffer") {
    FramePool pool(1);
    sim::EventQueue q;
    sim::RandomStreams streams(1);
    Link link(q, streams, "l0", LinkConfig{}, nullptr);
    Receiver rx(q, link.port(1));
    FaultConfig always;
    always.duplicate = 1.0;
    REQUIRE_FALSE(link.port(0).set_faults(always));
    link.port(0).transmit(make_frame(pool, 100, mac(2), mac(1)));
    q.run_until_idle();
    CHECK(rx.frames.size() == 1);
    CHECK(link.stats(0).duplicated == 0);
    CHECK(link.stats(0).drops(DropReason::kNoFrameBuffer) == 1);
  }
}

TEST_CASE("link faults: a reordered frame arrives reorder_delay late and later frames overtake it",
          "[nic][hw][link][faults][unit]") {
  FaultConfig f;
  f.reorder = 0.1;
  f.reorder_delay = 1_us;  // five sends later
  const Outcome o = run(7, f);
  CHECK(o.ab.reordered > 15);
  CHECK(o.ab.rx_frames == 400);
  const auto late = late_frames(o);
  CHECK(late.size() == o.ab.reordered);
  for (std::uint64_t id : late) {
    const auto it = std::find(o.ids.begin(), o.ids.end(), id);
    const auto i = static_cast<std::size_t>(it - o.ids.begin());
    CHECK(o.times[i] - o.sent.at(id).first == kSlot + kProp + 1_us);
  }
  CHECK_FALSE(std::is_sorted(o.ids.begin(), o.ids.end()));
}

TEST_CASE("link faults: faults switch on and off at scheduled simulated times", "[nic][hw][link][faults][unit]") {
  FramePool pool;
  sim::EventQueue q;
  sim::RandomStreams streams(1);
  Link link(q, streams, "l0", LinkConfig{}, nullptr);
  Receiver rx(q, link.port(1));
  FaultConfig lossy;
  lossy.drop = 1.0;
  REQUIRE_FALSE(link.port(0).schedule_faults(at(10_us), lossy));
  REQUIRE_FALSE(link.port(0).schedule_faults(at(20_us), FaultConfig{}));
  for (int i = 0; i <= 30; ++i) {
    q.schedule_at(at(1_us * i), [&link, &pool] { link.port(0).transmit(make_frame(pool, 500, mac(2), mac(1))); });
  }
  q.run_until_idle();
  // Frames starting at 10 µs .. 19 µs are lost (a change at t applies before frames at t).
  CHECK(link.stats(0).drops(DropReason::kFaultDrop) == 10);
  CHECK(rx.frames.size() == 21);
  CHECK(rx.frames[10].t - at(20_us) == wire_time(500, LinkConfig{}.line_rate_bps) + LinkConfig{}.propagation_delay);
}

TEST_CASE("link faults: every kind at once keeps the counters balanced, link flaps included",
          "[nic][hw][link][faults][unit]") {
  FramePool pool;
  sim::EventQueue q;
  sim::RandomStreams streams(11);
  Link link(q, streams, "l0", LinkConfig{}, nullptr);
  Receiver rx_b(q, link.port(1));
  Receiver rx_a(q, link.port(0));
  FaultConfig f;
  f.drop = 0.1;
  f.corrupt = 0.1;
  f.duplicate = 0.1;
  f.reorder = 0.1;
  REQUIRE_FALSE(link.port(0).set_faults(f));
  f.corrupt_mode = CorruptMode::kPassCorrupted;
  REQUIRE_FALSE(link.port(1).set_faults(f));
  for (int i = 0; i < 2000; ++i) {
    q.schedule_at(at(100_ns * i), [&link, &pool] {
      link.port(0).transmit(make_frame(pool, 1514, mac(2), mac(1)));
      link.port(1).transmit(make_frame(pool, 300, mac(1), mac(2)));
    });
  }
  link.schedule_carrier(at(50_us + 5_ns), false);  // mid-slot in both directions
  link.schedule_carrier(at(60_us), true);
  q.run_until_idle();
  for (int d = 0; d < 2; ++d) {
    const auto& s = link.stats(d);
    check_conservation(s);
    CHECK(s.drops(DropReason::kLinkDownInFlight) > 0);
    CHECK(s.drops(DropReason::kCarrierDown) > 0);
    CHECK(s.duplicated > 0);
    CHECK(s.reordered > 0);
    CHECK(s.corrupted > 0);
  }
  // a->b is oversubscribed (1538 wire bytes every 100 ns at 100 Gbit/s = 123 %): the queue fills.
  CHECK(link.stats(0).drops(DropReason::kTxQueueFull) > 0);
  // FCS-error corruption on a->b (a corrupted frame lost to the flap is not a CRC error).
  CHECK(link.stats(0).rx_crc_errors() > 0);
  CHECK(link.stats(0).rx_crc_errors() <= link.stats(0).corrupted);
  CHECK(link.stats(1).rx_crc_errors() == 0);
  CHECK(rx_b.frames.size() == link.stats(0).rx_frames);
  CHECK(rx_a.frames.size() == link.stats(1).rx_frames);
  CHECK(link.frames_held() == 0);
  CHECK(q.empty());
}

TEST_CASE("link faults: each kind draws from its own stream, so adding drops does not move the reorders",
          "[nic][hw][link][faults][unit]") {
  FaultConfig only_reorder;
  only_reorder.reorder = 0.2;
  FaultConfig with_drops = only_reorder;
  with_drops.drop = 0.5;
  const Outcome a = run(9, only_reorder);
  const Outcome b = run(9, with_drops);
  REQUIRE(b.ab.drops(DropReason::kFaultDrop) > 100);
  // Frame ids follow the send order in both runs (no duplicates), so they can be compared.
  std::vector<std::uint64_t> expected;
  for (std::uint64_t id : late_frames(a)) {
    if (std::find(b.ids.begin(), b.ids.end(), id) != b.ids.end()) expected.push_back(id);
  }
  std::vector<std::uint64_t> got = late_frames(b);
  std::sort(expected.begin(), expected.end());
  std::sort(got.begin(), got.end());
  CHECK(got == expected);
  CHECK_FALSE(got.empty());
}

TEST_CASE("link faults: the same seed gives the same frames, counters and digest, another seed does not",
          "[nic][hw][link][faults][unit]") {
  FaultConfig f;
  const int kind = GENERATE(0, 1, 2, 3, 4);
  switch (kind) {
    case 0: f.drop = 0.3; break;
    case 1: f.corrupt = 0.3; break;
    case 2: f.corrupt = 0.3; f.corrupt_mode = CorruptMode::kPassCorrupted; break;
    case 3: f.duplicate = 0.3; break;
    default: f.reorder = 0.3; break;
  }
  INFO("fault kind " << kind);
  const Outcome a = run(42, f);
  const Outcome again = run(42, f);
  const Outcome other = run(43, f);
  CHECK(a == again);
  CHECK(a.digest == again.digest);
  CHECK(a.digest != other.digest);
  // The outcome itself differs, not only the digest: which frames were hit.
  const bool same_frames = a.ids == other.ids && a.times == other.times && a.bytes == other.bytes;
  CHECK_FALSE(same_frames);
}

TEST_CASE("link faults: probabilities outside [0, 1], NaN and negative delays are EINVAL and change nothing",
          "[nic][hw][link][faults][unit]") {
  sim::EventQueue q;
  sim::RandomStreams streams(1);
  Link link(q, streams, "l0", LinkConfig{}, nullptr);
  FaultConfig ok;
  ok.drop = 0.5;
  REQUIRE_FALSE(link.port(0).set_faults(ok));
  FaultConfig bad;
  bad.drop = 1.5;
  auto e = link.port(0).set_faults(bad);
  REQUIRE(e);
  CHECK(e->code == -EINVAL);
  CHECK(e->message.find("drop") != std::string::npos);
  bad = FaultConfig{};
  bad.corrupt = std::nan("");
  REQUIRE(link.port(0).set_faults(bad));
  CHECK(link.port(0).set_faults(bad)->message.find("corrupt") != std::string::npos);
  bad = FaultConfig{};
  bad.reorder_delay = sim::Duration::from_ps(-1);
  REQUIRE(link.port(0).schedule_faults(at(1_us), bad));
  CHECK(link.port(0).faults().drop == 0.5);
  CHECK(q.empty());  // the refused schedule left no event
}
