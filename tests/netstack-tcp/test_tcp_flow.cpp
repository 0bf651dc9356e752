// Flow control end to end: two sockets through a delaying pipe, a receiver that reads slowly out
// of a small buffer (zero windows, window updates, receiver SWS), with window updates lost on the
// way (only the persist timer can recover), and sequence numbers that cross 2^32.
#include <catch2/catch.hpp>

#include <deque>

#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using nicemu::testing::pattern;
using nicemu::testing::TcpTestEnv;

namespace {

struct Link {
  struct Item {
    sim::TimePoint t;
    int to;
    TcpSegment seg;
  };
  std::deque<Item> q;  // constant delay: arrival order is send order
  std::uint64_t state = 0x12345678abcdefull;
  double drop_updates_to_a = 0;  // probability a window update from B is lost
  bool seen_ack_to_a = false;
  std::uint32_t last_ack_to_a = 0;
  std::uint64_t dropped = 0;

  double uniform() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return static_cast<double>((state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
  }
  void send(int to, TcpSegment seg, sim::TimePoint now) {
    // A pure window update from B (no payload, nothing newly acknowledged) may be lost.
    const bool update = to == 0 && seg.payload_len == 0 && (seg.flags & (kSyn | kFin | kRst)) == 0 &&
                        seen_ack_to_a && seg.ack == last_ack_to_a;
    if (to == 0 && (seg.flags & kAck) != 0) {
      seen_ack_to_a = true;
      last_ack_to_a = seg.ack;
    }
    if (update && uniform() < drop_updates_to_a) {
      ++dropped;
      netstack::core::kfree_skb(seg.skb);
      return;
    }
    q.push_back(Item{now + 1_ms, to, seg});
  }
  void drain() {
    for (auto& i : q) netstack::core::kfree_skb(i.seg.skb);
    q.clear();
  }
};

class LinkEnv final : public TcpTestEnv {
 public:
  LinkEnv(Link& l, int side) : link_(l), side_(side) {}
  void tcp_output(TcpSock&, TcpSegment& seg, sim::TimePoint) override {
    link_.send(side_ ^ 1, seg, now);
    seg.skb = nullptr;
  }
  sim::TimePoint now;

 private:
  Link& link_;
  int side_;
};

struct Result {
  bool complete = false;
  std::uint64_t received = 0, mismatches = 0, probes = 0, timeouts = 0, dropped = 0;
  sim::TimePoint end;
  std::uint64_t skbs_left = 0, pages_left = 0;
};

// A sends `total` bytes to B; B reads at most `chunk` bytes every `period`.
Result run(TcpConfig cfg, std::uint32_t total, std::uint32_t chunk, sim::Duration period, double drop_acks) {
  Result r;
  Link link;
  link.drop_updates_to_a = drop_acks;
  LinkEnv ea(link, 0), eb(link, 1);
  {
    TcpSock a(ea, cfg), b(eb, cfg);
    a.set_ports(1000, 80);
    const auto data = pattern(total, 3);
    std::vector<std::byte> buf(chunk);
    std::size_t sent = 0;
    sim::TimePoint now = sim::TimePoint::zero();
    sim::TimePoint next_read = now;
    ea.now = eb.now = now;
    REQUIRE(a.connect(0xffffff00u, now) == 0);  // our sequence numbers cross 2^32 at once
    bool closed_a = false;
    const sim::TimePoint limit = now + 120_s;
    while (now < limit) {
      ea.now = eb.now = now;
      if (a.state() == TcpState::kEstablished && sent < total) {
        const int n = a.send(std::span(data).subspan(sent), now);
        if (n > 0) sent += static_cast<std::size_t>(n);
      }
      if (sent == total && !closed_a && a.state() == TcpState::kEstablished) {
        a.close(now);
        closed_a = true;
      }
      if (now >= next_read) {
        next_read = now + period;
        const int n = b.recv(buf, now);
        for (int i = 0; i < n; ++i) {
          if (r.received + static_cast<std::uint64_t>(i) >= total ||
              buf[static_cast<std::size_t>(i)] != data[r.received + static_cast<std::uint64_t>(i)]) {
            ++r.mismatches;
          }
        }
        if (n > 0) r.received += static_cast<std::uint64_t>(n);
        if (n == 0 && b.fin_received()) {
          r.complete = r.received == total;
          break;
        }
      }
      std::optional<sim::TimePoint> next = next_read;
      if (!link.q.empty() && link.q.front().t < *next) next = link.q.front().t;
      for (auto t : {a.next_timer(), b.next_timer()}) {
        if (t && *t < *next) next = t;
      }
      now = std::max(now, *next);
      ea.now = eb.now = now;
      while (!link.q.empty() && link.q.front().t <= now) {
        Link::Item it = link.q.front();
        link.q.pop_front();
        if (it.to == 1 && b.state() == TcpState::kClosed && it.seg.has(kSyn) && !it.seg.has(kAck)) {
          b.accept_syn(it.seg, 0xfffffff0u, now);
          netstack::core::kfree_skb(it.seg.skb);
        } else {
          (it.to == 0 ? a : b).input(it.seg, now);
        }
      }
      if (a.next_timer() && *a.next_timer() <= now) a.on_timer(now);
      if (b.next_timer() && *b.next_timer() <= now) b.on_timer(now);
    }
    r.probes = a.stats().zero_window_probes;
    r.dropped = link.dropped;
    r.timeouts = a.stats().timeouts;
    r.end = now;
    link.drain();
  }
  r.skbs_left = ea.skbs.in_use() + eb.skbs.in_use();
  r.pages_left = ea.memory.pages_in_use() + eb.memory.pages_in_use();
  return r;
}

}  // namespace

TEST_CASE("tcp flow: a slow reader with a small buffer receives everything across 2^32",
          "[netstack][tcp][unit]") {
  for (const bool ts : {false, true}) {
    CAPTURE(ts);
    TcpConfig cfg;
    cfg.rcvbuf = 16 * 1024;
    cfg.sndbuf = 64 * 1024;
    cfg.sndbuf_locked = true;
    cfg.timestamps = ts;
    // 512 KiB read at 4000 bytes every 5 ms: about 0.66 s of reading.
    const Result r = run(cfg, 512 * 1024, 4000, 5_ms, 0.0);
    INFO("received " << r.received << " probes " << r.probes << " timeouts " << r.timeouts);
    CHECK(r.complete);
    CHECK(r.mismatches == 0);
    CHECK(r.end < sim::TimePoint::zero() + 2_s);
    CHECK(r.timeouts == 0);
    CHECK(r.skbs_left == 0);
    CHECK(r.pages_left == 0);
  }
}

TEST_CASE("tcp flow: lost window updates are recovered by the persist timer", "[netstack][tcp][unit]") {
  // The reader empties its 8 KiB buffer every 200 ms: the sender sits at a zero window with
  // nothing in flight, and the window updates the read sends are lost on the way.
  for (const double drop : {0.5, 1.0}) {
    CAPTURE(drop);
    TcpConfig cfg;
    cfg.rcvbuf = 8 * 1024;
    cfg.sndbuf = 32 * 1024;
    cfg.sndbuf_locked = true;
    const Result r = run(cfg, 64 * 1024, 8192, 200_ms, drop);
    INFO("received " << r.received << " probes " << r.probes << " timeouts " << r.timeouts << " dropped "
                      << r.dropped);
    CHECK(r.complete);
    CHECK(r.dropped > 0);
    CHECK(r.end < sim::TimePoint::zero() + 10_s);  // about 1.6 s of reading: no stall
    CHECK(r.mismatches == 0);
    CHECK(r.skbs_left == 0);
    CHECK(r.pages_left == 0);
  }
}
