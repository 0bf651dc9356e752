// Two TCP sockets joined by a pipe that loses, reorders and duplicates segments: a bulk
// transfer arrives byte-exact, loss is repaired, and nothing is left behind at the end.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "nicemu/sim/random.hpp"
#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using nicemu::testing::pattern;
using nicemu::testing::TcpTestEnv;

namespace {

struct Faults {
  double loss = 0, reorder = 0, dup = 0;
};

class Pipe {
 public:
  Pipe(std::uint64_t seed, Faults f) : rng_(sim::RandomStreams(seed).stream("tcp-pipe")), f_(f) {}

  void send(int to, TcpSegment seg, sim::TimePoint now) {
    ++sent_;
    if (rng_.bernoulli(f_.loss)) {
      ++lost_;
      netstack::core::kfree_skb(seg.skb);
      return;
    }
    if (rng_.bernoulli(f_.dup)) {
      TcpSegment copy = seg;
      if (seg.skb != nullptr) copy.skb = netstack::core::skb_clone(*seg.skb);
      push(to, copy, now + kDelay);
    }
    const sim::Duration extra = rng_.bernoulli(f_.reorder) ? 60_us : 0_us;
    push(to, seg, now + kDelay + extra);
  }
  bool empty() const { return q_.empty(); }
  sim::TimePoint next() const { return q_.begin()->first.first; }
  // Pops the earliest segment: (destination, segment).
  std::pair<int, TcpSegment> pop() {
    auto it = q_.begin();
    auto v = it->second;
    q_.erase(it);
    return v;
  }
  void drain() {
    for (auto& [k, v] : q_) netstack::core::kfree_skb(v.second.skb);
    q_.clear();
  }
  std::uint64_t sent_ = 0, lost_ = 0;

 private:
  static constexpr sim::Duration kDelay = 20_us;
  void push(int to, TcpSegment seg, sim::TimePoint t) { q_.emplace(std::make_pair(t, seq_++), std::make_pair(to, seg)); }
  sim::Rng rng_;
  Faults f_;
  std::uint64_t seq_ = 0;
  std::map<std::pair<sim::TimePoint, std::uint64_t>, std::pair<int, TcpSegment>> q_;
};

class PipeEnv final : public TcpTestEnv {
 public:
  PipeEnv(Pipe& pipe, int side) : pipe_(pipe), side_(side) {}
  void tcp_output(TcpSock&, TcpSegment& seg, sim::TimePoint) override {
    pipe_.send(side_ ^ 1, seg, now);
    seg.skb = nullptr;
  }
  sim::TimePoint now;

 private:
  Pipe& pipe_;
  int side_;
};

struct Transfer {
  bool complete = false;
  std::uint64_t received = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t a_retransmits = 0, a_timeouts = 0, a_fast = 0, b_sack_sent = 0;
  TcpState a_final{}, b_final{};
  std::uint64_t skbs_left = 0, pages_left = 0;
  std::uint64_t segments = 0, lost = 0;
  std::uint64_t scoreboard_checks = 0;
  std::string scoreboard_error;  // the first disagreement verify_scoreboard found, if any
  sim::TimePoint end;
  friend bool operator==(const Transfer&, const Transfer&) = default;
};

// With verify, A's SACK scoreboard is recounted from scratch after every event and checked
// against the SACK blocks of each ACK it takes in (TcpSock::verify_scoreboard).
Transfer run_transfer(std::uint64_t seed, std::size_t total, Faults faults, TcpConfig cfg, bool verify = false) {
  Transfer r;
  Pipe pipe(seed, faults);
  PipeEnv ea(pipe, 0), eb(pipe, 1);
  {
    TcpSock a(ea, cfg), b(eb, cfg);
    a.set_ports(1000, 80);
    const auto data = pattern(total);
    std::vector<std::byte> buf(64 * 1024);
    std::size_t sent = 0;
    sim::TimePoint now = sim::TimePoint::zero();
    ea.now = now;
    REQUIRE(a.connect(0x1234, now) == 0);
    bool closed_a = false, closed_b = false;
    const sim::TimePoint limit = now + 600_s;
    while (now < limit) {
      // Applications: A writes what fits, B reads and checks everything it can.
      ea.now = eb.now = now;
      if (a.state() == TcpState::kEstablished && sent < total) {
        const int n = a.send(std::span(data).subspan(sent, std::min<std::size_t>(total - sent, 256 * 1024)), now);
        if (n > 0) sent += static_cast<std::size_t>(n);
      }
      if (sent == total && !closed_a && a.state() == TcpState::kEstablished) {
        a.close(now);
        closed_a = true;
      }
      for (;;) {
        const int n = b.recv(buf, now);
        if (n <= 0) break;
        for (int i = 0; i < n; ++i) {
          if (r.received + static_cast<std::uint64_t>(i) >= total ||
              buf[static_cast<std::size_t>(i)] != data[r.received + static_cast<std::uint64_t>(i)]) {
            ++r.mismatches;
          }
        }
        r.received += static_cast<std::uint64_t>(n);
      }
      if (b.fin_received() && !closed_b) {
        b.close(now);
        closed_b = true;
      }
      if (closed_b && (a.state() == TcpState::kTimeWait || a.state() == TcpState::kClosed) &&
          b.state() == TcpState::kClosed) {
        r.complete = r.received == total;
        break;
      }
      // Next event: a segment arriving or a timer.
      std::optional<sim::TimePoint> next;
      if (!pipe.empty()) next = pipe.next();
      for (auto t : {a.next_timer(), b.next_timer()}) {
        if (t && (!next || *t < *next)) next = t;
      }
      if (!next) break;  // stuck: nothing can happen any more
      now = std::max(now, *next);
      ea.now = eb.now = now;
      if (!pipe.empty() && pipe.next() <= now) {
        auto [to, seg] = pipe.pop();
        if (to == 1 && b.state() == TcpState::kClosed && seg.has(kSyn) && !seg.has(kAck) && b.iss() == 0) {
          b.accept_syn(seg, 0x9876, now);
          netstack::core::kfree_skb(seg.skb);
        } else {
          const auto blocks = seg.opt.sack_blocks;
          const int n_blocks = seg.opt.sack_count;
          const bool was_recovering = a.in_recovery();
          const std::uint32_t sent_end = a.snd_nxt();
          const TcpSockStats before = a.stats();
          (to == 0 ? a : b).input(seg, now);
          // A segment rejected before ACK processing (PAWS, outside the window) has its SACK
          // blocks ignored, as in the kernel.
          const bool rejected = a.stats().paws_rejected != before.paws_rejected ||
                                a.stats().dropped_not_acceptable != before.dropped_not_acceptable ||
                                a.stats().challenge_acks != before.challenge_acks;
          if (verify && to == 0 && r.scoreboard_error.empty()) {
            // The blocks sack_update acts on: non-empty, wholly above the cumulative ACK and below
            // what was sent when it came (after a go-back-N rewind, SACKs for data not yet sent
            // again are not kept); none when this ACK ended recovery, which clears the scoreboard.
            std::vector<SackBlock> acted;
            for (int i = 0; i < n_blocks && !rejected && !(was_recovering && !a.in_recovery()); ++i) {
              const SackBlock blk = blocks[static_cast<std::size_t>(i)];
              if (seq_lt(blk.left, blk.right) && seq_ge(blk.left, a.snd_una()) && seq_le(blk.right, sent_end)) {
                acted.push_back(blk);
              }
            }
            r.scoreboard_error = a.verify_scoreboard(acted);
            ++r.scoreboard_checks;
          }
        }
      }
      if (a.next_timer() && *a.next_timer() <= now) a.on_timer(now);
      if (b.next_timer() && *b.next_timer() <= now) b.on_timer(now);
      if (verify && r.scoreboard_error.empty()) {
        r.scoreboard_error = a.verify_scoreboard();
        ++r.scoreboard_checks;
      }
    }
    r.a_retransmits = a.stats().retransmits;
    r.a_timeouts = a.stats().timeouts;
    r.a_fast = a.stats().fast_retransmits;
    r.b_sack_sent = b.stats().sack_blocks_sent;
    r.a_final = a.state();
    r.b_final = b.state();
    r.segments = pipe.sent_;
    r.lost = pipe.lost_;
    r.end = now;
    pipe.drain();
  }
  r.skbs_left = ea.skbs.in_use() + eb.skbs.in_use();
  r.pages_left = ea.memory.pages_in_use() + eb.memory.pages_in_use();
  return r;
}

}  // namespace

TEST_CASE("tcp pipe: a clean 4 MiB transfer arrives byte-exact without retransmissions", "[netstack][tcp][unit]") {
  TcpConfig cfg;
  cfg.rcvbuf = 256 * 1024;
  const Transfer r = run_transfer(1, 4u << 20, Faults{}, cfg);
  CHECK(r.complete);
  CHECK(r.mismatches == 0);
  CHECK(r.a_retransmits == 0);
  CHECK(r.b_final == TcpState::kClosed);
  CHECK(r.skbs_left == 0);
  CHECK(r.pages_left == 0);
}

TEST_CASE("tcp pipe: 4 MiB through 1% loss, 1% reordering and 0.1% duplication arrives byte-exact",
          "[netstack][tcp][unit]") {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u}) {
    for (CongestionAlgo cc : {CongestionAlgo::kNewReno, CongestionAlgo::kCubic}) {
      TcpConfig cfg;
      cfg.rcvbuf = 256 * 1024;
      cfg.congestion = cc;
      const Transfer r = run_transfer(seed, 4u << 20, Faults{0.01, 0.01, 0.001}, cfg);
      INFO("seed " << seed << " cc " << to_string(cc) << " received " << r.received << " retrans "
                   << r.a_retransmits << " timeouts " << r.a_timeouts << " fast " << r.a_fast);
      CHECK(r.complete);
      CHECK(r.mismatches == 0);
      CHECK(r.a_retransmits > 0);
      CHECK(r.a_fast > 0);
      CHECK(r.b_sack_sent > 0);
      CHECK(r.skbs_left == 0);
      CHECK(r.pages_left == 0);
    }
  }
}

TEST_CASE("tcp pipe: the same seed gives the same run, another seed another run", "[netstack][tcp][unit]") {
  TcpConfig cfg;
  cfg.rcvbuf = 256 * 1024;
  const Faults faults{0.01, 0.01, 0.001};
  const Transfer a = run_transfer(7, 1u << 20, faults, cfg);
  const Transfer b = run_transfer(7, 1u << 20, faults, cfg);
  const Transfer c = run_transfer(8, 1u << 20, faults, cfg);
  REQUIRE(a.complete);
  CHECK(a == b);  // every counter, the segment count and the simulated end time
  CHECK(a.segments != c.segments);
  CHECK_FALSE(a.end == c.end);
}

TEST_CASE("tcp pipe: the SACK scoreboard and its hints agree with a recount after every event",
          "[netstack][tcp][unit]") {
  // The hints (highest_sack, lost_skb_hint, retransmit_skb_hint, the cached SACK ranges) let an
  // ACK cost what it changes; this recounts everything they stand for, through light and heavy
  // loss, and with a receive window large enough for long scoreboards.
  struct Case {
    std::uint64_t seed;
    Faults faults;
    std::uint32_t rcvbuf;
  };
  for (const Case& c : {Case{21, {0.01, 0.01, 0.001}, 256 * 1024}, Case{22, {0.05, 0.02, 0.01}, 1024 * 1024},
                        Case{23, {0.15, 0.05, 0.0}, 512 * 1024}}) {
    TcpConfig cfg;
    cfg.rcvbuf = c.rcvbuf;
    const Transfer r = run_transfer(c.seed, 2u << 20, c.faults, cfg, /*verify=*/true);
    INFO("seed " << c.seed << " loss " << c.faults.loss << " checks " << r.scoreboard_checks << " fast " << r.a_fast);
    CHECK(r.scoreboard_error == "");
    CHECK(r.complete);
    CHECK(r.mismatches == 0);
    CHECK(r.a_fast > 0);
    CHECK(r.scoreboard_checks > 300);
  }
}
