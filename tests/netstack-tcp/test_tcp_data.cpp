// TCP data transfer: receiving in and out of order with SACK blocks, delayed ACKs, window
// scaling and zero windows; sending under cwnd, Nagle, RTO with backoff, fast retransmit and
// NewReno recovery; congestion control against hand-computed windows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using namespace nicemu::testing;
using nicemu::testing::make_seg;
using nicemu::testing::pattern;
using nicemu::testing::TcpTestEnv;


// ---- receiving ---------------------------------------------------------------------------------------------

TEST_CASE("tcp receive: in-order data is ACKed every second segment, else after the delayed-ACK timer",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(2 * 1460);
  TcpSegment s1 = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 8000, std::span(data).first(1460));
  sk.input(s1, at(1_ms));
  CHECK(env.out.empty());
  CHECK(sk.next_timer() == at(1_ms) + 40_ms);
  TcpSegment s2 = make_seg(env, kAck, kPeerIss + 1 + 1460, kIss + 1, 8000, std::span(data).subspan(1460));
  sk.input(s2, at(2_ms));
  TcpSegment a = env.pop();
  CHECK(a.ack == kPeerIss + 1 + 2920);
  CHECK_FALSE(sk.next_timer().has_value());
  std::vector<std::byte> got(4000);
  CHECK(sk.recv(got, at(3_ms)) == 2920);
  got.resize(2920);
  CHECK(got == data);
  // One more segment: the delayed-ACK timer sends the ACK.
  TcpSegment s3 = make_seg(env, kAck, kPeerIss + 1 + 2920, kIss + 1, 8000, std::span(data).first(100));
  sk.input(s3, at(4_ms));
  CHECK(env.out.empty());
  sk.on_timer(at(44_ms));
  CHECK(env.pop().ack == kPeerIss + 1 + 3020);
  CHECK(sk.stats().delayed_acks == 1);
}

TEST_CASE("tcp receive: out-of-order data is ACKed at once with SACK blocks and delivered when the hole fills",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.sack = true;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts{}.sack_on());
  const auto data = pattern(3 * 1000);
  const std::uint32_t base = kPeerIss + 1;
  TcpSegment third = make_seg(env, kAck, base + 2000, kIss + 1, 8000, std::span(data).subspan(2000));
  sk.input(third, at(1_ms));
  TcpSegment d1 = env.pop();
  CHECK(d1.ack == base);
  REQUIRE(d1.opt.sack_count == 1);
  CHECK(d1.opt.sack_blocks[0] == SackBlock{base + 2000, base + 3000});
  CHECK(sk.ooo_bytes() == 1000);
  TcpSegment second = make_seg(env, kAck, base + 1000, kIss + 1, 8000, std::span(data).subspan(1000, 1000));
  sk.input(second, at(2_ms));
  TcpSegment d2 = env.pop();
  CHECK(d2.ack == base);
  REQUIRE(d2.opt.sack_count == 1);
  CHECK(d2.opt.sack_blocks[0] == SackBlock{base + 1000, base + 3000});  // merged, holds the newest arrival
  CHECK(sk.stats().ooo_segments == 2);
  TcpSegment first = make_seg(env, kAck, base, kIss + 1, 8000, std::span(data).first(1000));
  sk.input(first, at(3_ms));
  TcpSegment a = env.pop();
  CHECK(a.ack == base + 3000);
  CHECK(a.opt.sack_count == 0);
  std::vector<std::byte> got(3000);
  CHECK(sk.recv(got, at(4_ms)) == 3000);
  CHECK(got == data);
  CHECK(sk.ooo_segments() == 0);
}

TEST_CASE("tcp receive: overlapping and duplicate segments deliver each byte once", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(3000);
  const std::uint32_t base = kPeerIss + 1;
  auto feed = [&](std::uint32_t off, std::uint32_t len, sim::Duration t) {
    TcpSegment s = make_seg(env, kAck, base + off, kIss + 1, 8000, std::span(data).subspan(off, len));
    sk.input(s, at(t));
  };
  feed(1500, 1000, 1_ms);  // out of order
  feed(2000, 1000, 2_ms);  // overlaps its tail
  feed(1500, 500, 3_ms);   // fully covered
  feed(0, 1600, 4_ms);     // fills the hole and overlaps
  feed(0, 100, 5_ms);      // old duplicate
  std::vector<std::byte> got(4000);
  CHECK(sk.recv(got, at(6_ms)) == 3000);
  got.resize(3000);
  CHECK(got == data);
  CHECK(sk.rcv_nxt() == base + 3000);
}

TEST_CASE("tcp receive: the advertised window shrinks as data queues and is scaled by rcv_wscale",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.window_scaling = true;
  cfg.rcvbuf = 1u << 20;  // 1 MiB: shift 5
  TcpSock sk(env, cfg);
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  CHECK(env.pop().opt.window_scale == 5);
  TcpSegment synack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 65535);
  synack.opt.window_scale = 2;
  sk.input(synack, at(10_us));
  TcpSegment ack = env.pop();
  CHECK(ack.window == (1u << 20) >> 5);
  const auto data = pattern(1460 * 2);
  TcpSegment s = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 1000, data);
  sk.input(s, at(1_ms));
  sk.on_timer(at(41_ms));  // delayed ACK
  TcpSegment a = env.pop();
  // The right edge may not move left; the window drops by the data received.
  CHECK(a.window == ((1u << 20) - 2920 + 31) / 32);
  CHECK(sk.snd_wnd() == 1000u << 2);
}

TEST_CASE("tcp receive: a full buffer advertises a zero window, reading it reopens with an update",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.rcvbuf = 4000;
  TcpSock sk(env, cfg);
  open_active(env, sk);
  const auto data = pattern(4000);
  TcpSegment s = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 8000, data);
  sk.input(s, at(1_ms));
  sk.on_timer(at(41_ms));
  TcpSegment a = env.pop();
  CHECK(a.window == 0);
  // More data does not fit: answered with an ACK, dropped.
  const auto more = pattern(10);
  TcpSegment s2 = make_seg(env, kAck, kPeerIss + 4001, kIss + 1, 8000, more);
  sk.input(s2, at(42_ms));
  CHECK(env.pop().window == 0);
  std::vector<std::byte> got(4000);
  CHECK(sk.recv(got, at(50_ms)) == 4000);
  TcpSegment update = env.pop();
  CHECK(update.window == 4000);
}

// ---- sending ----------------------------------------------------------------------------------------------------

TEST_CASE("tcp send: the initial window is 10 segments and ACKs release more (slow start)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(20 * 1460);
  CHECK(sk.send(data, at(1_ms)) == static_cast<int>(data.size()));
  REQUIRE(env.out.size() == 10);
  for (std::size_t i = 0; i < 10; ++i) {
    CHECK(env.out[i].seq == kIss + 1 + i * 1460);
    CHECK(env.out[i].payload_len == 1460);
    CHECK(TcpTestEnv::payload(env.out[i]) ==
          std::vector<std::byte>(data.begin() + static_cast<long>(i * 1460), data.begin() + static_cast<long>((i + 1) * 1460)));
  }
  env.clear();
  CHECK(sk.packets_out() == 10);
  TcpSegment a = ack_of(env, kIss + 1 + 2 * 1460);
  sk.input(a, at(2_ms));
  CHECK(sk.snd_cwnd() == 12);  // +2 segments acked in slow start
  CHECK(env.out.size() == 4);  // 8 in flight + 4 = 12
  CHECK(sk.stats().bytes_acked == 2 * 1460);
}

TEST_CASE("tcp send: Nagle holds a small segment while data is in flight, TCP_NODELAY does not",
          "[netstack][tcp][unit]") {
  for (bool nodelay : {false, true}) {
    TcpTestEnv env;
    TcpConfig cfg = plain_config();
    cfg.nodelay = nodelay;
    TcpSock sk(env, cfg);
    open_active(env, sk);
    const auto small = pattern(100);
    CHECK(sk.send(small, at(1_ms)) == 100);
    CHECK(sk.send(small, at(2_ms)) == 100);
    CHECK(env.out.size() == (nodelay ? 2u : 1u));
    if (!nodelay) {
      env.clear();
      TcpSegment a = ack_of(env, kIss + 101);
      sk.input(a, at(3_ms));
      REQUIRE(env.out.size() == 1);
      CHECK(env.out[0].seq == kIss + 101);
    }
  }
}

TEST_CASE("tcp send: the peer's window limits what is sent, a zero window is probed", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk, kIss, kPeerIss, PeerOpts{}.win(3000));
  const auto data = pattern(10000);
  CHECK(sk.send(data, at(1_ms)) == 10000);
  // 3000 bytes fit: two full segments; the 80-byte rest is below MSS and half the max window.
  REQUIRE(env.out.size() == 2);
  env.clear();
  TcpSegment zero = ack_of(env, kIss + 1 + 2920, 0);
  sk.input(zero, at(2_ms));
  CHECK(sk.snd_wnd() == 0);
  CHECK(env.out.empty());
  const auto probe_at = sk.next_timer();
  REQUIRE(probe_at.has_value());
  sk.on_timer(*probe_at);
  TcpSegment probe = env.pop();
  CHECK(probe.seq == kIss + 1 + 2920 - 1);  // snd_una - 1: the peer must answer
  CHECK(probe.payload_len == 0);
  CHECK(sk.stats().zero_window_probes == 1);
  TcpSegment open = ack_of(env, kIss + 1 + 2920, 2000);
  sk.input(open, at(*probe_at - sim::TimePoint::zero() + 1_ms));
  REQUIRE(env.out.size() == 1);
  CHECK(env.out[0].payload_len == 1460);
}

TEST_CASE("tcp RTO: retransmission with exponential backoff, reset by a new ACK (RFC 6298)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  CHECK(sk.rto() == 200_ms);  // 10 µs SYN RTT, floored
  const auto data = pattern(1000);
  sk.send(data, at(1_ms));
  env.clear();
  CHECK(sk.next_timer() == at(201_ms));
  sk.on_timer(at(201_ms));
  TcpSegment re = env.pop();
  CHECK(re.seq == kIss + 1);
  CHECK(re.payload_len == 1000);
  CHECK(sk.stats().timeouts == 1);
  CHECK(sk.stats().retransmits == 1);
  CHECK(sk.snd_cwnd() == 1);
  CHECK(sk.next_timer() == at(601_ms));  // doubled
  sk.on_timer(at(601_ms));
  env.clear();
  CHECK(sk.next_timer() == at(1401_ms));  // doubled again
  TcpSegment a = ack_of(env, kIss + 1001);
  sk.input(a, at(1500_ms));
  CHECK(sk.backoff() == 0);
  CHECK_FALSE(sk.next_timer().has_value());
  CHECK(sk.srtt() == sim::Duration::from_us(10));  // Karn: no sample from the retransmitted segment
}

TEST_CASE("tcp fast retransmit and NewReno: 3 duplicate ACKs, inflation, partial and full ACK (RFC 6582)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(10 * 1460);
  sk.send(data, at(1_ms));
  env.clear();
  const std::uint32_t una = kIss + 1;
  for (int i = 0; i < 2; ++i) {
    TcpSegment d = ack_of(env, una);
    sk.input(d, at(2_ms));
  }
  CHECK(env.out.empty());
  TcpSegment d3 = ack_of(env, una);
  sk.input(d3, at(3_ms));
  REQUIRE(env.out.size() == 1);
  CHECK(env.out[0].seq == una);  // the first unacknowledged segment again
  env.clear();
  CHECK(sk.in_recovery());
  CHECK(sk.snd_ssthresh() == 5);      // NewReno: cwnd / 2
  CHECK(sk.snd_cwnd() == 5 + 3);      // ssthresh + 3 segments
  CHECK(sk.high_seq() == una + 10 * 1460);
  TcpSegment d4 = ack_of(env, una);
  sk.input(d4, at(4_ms));
  CHECK(sk.snd_cwnd() == 9);          // inflated by one
  TcpSegment partial = ack_of(env, una + 3 * 1460);
  sk.input(partial, at(5_ms));
  REQUIRE(env.out.size() >= 1);
  CHECK(env.out[0].seq == una + 3 * 1460);  // the next hole
  CHECK(sk.snd_cwnd() == 9 - 3 + 1);        // deflated by 3 acked, plus one
  CHECK(sk.in_recovery());
  env.clear();
  TcpSegment full = ack_of(env, una + 10 * 1460);
  sk.input(full, at(6_ms));
  CHECK_FALSE(sk.in_recovery());
  CHECK(sk.snd_cwnd() == 2);  // min(ssthresh 5, max(FlightSize 0, 1) + 1)
  CHECK(sk.stats().fast_retransmits == 2);
  CHECK(sk.stats().dup_acks_in == 4);
}

// ---- congestion control ------------------------------------------------------------------------------------------

TEST_CASE("newreno: congestion avoidance adds one segment per window of ACKs", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  auto cc = make_congestion_ops(CongestionAlgo::kNewReno);
  sk.set_snd_cwnd(10);
  sk.set_snd_ssthresh(5);
  for (int i = 0; i < 9; ++i) cc->cong_avoid(sk, 1, at(1_ms));
  CHECK(sk.snd_cwnd() == 10);
  cc->cong_avoid(sk, 1, at(1_ms));
  CHECK(sk.snd_cwnd() == 11);
  sk.set_snd_cwnd(4);  // below ssthresh: slow start up to ssthresh, the rest additive
  sk.snd_cwnd_cnt() = 0;
  cc->cong_avoid(sk, 3, at(2_ms));
  CHECK(sk.snd_cwnd() == 5);
  CHECK(cc->ssthresh(sk) == 2);
}

TEST_CASE("cubic: the cube root is exact enough, ssthresh is 0.7 cwnd with fast convergence (RFC 9438)",
          "[netstack][tcp][unit]") {
  CHECK(cubic_cbrt(27.0) == Approx(3.0).epsilon(1e-14));
  CHECK(cubic_cbrt(75.0) == Approx(4.217163326508746).epsilon(1e-12));
  CHECK(cubic_cbrt(-8.0) == Approx(-2.0).epsilon(1e-14));
  CHECK(cubic_cbrt(1e-9) == Approx(1e-3).epsilon(1e-12));
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  auto cc = make_congestion_ops(CongestionAlgo::kCubic);
  sk.set_snd_cwnd(100);
  CHECK(cc->ssthresh(sk) == 70);       // beta 0.7, W_max = 100
  sk.set_snd_cwnd(80);                 // the next loss comes below W_max: fast convergence
  CHECK(cc->ssthresh(sk) == 56);       // W_max becomes 80 * 1.7 / 2 = 68
}

TEST_CASE("cubic: after a loss the window follows C (t - K)^3 + W_max", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  auto cc = make_congestion_ops(CongestionAlgo::kCubic);
  sk.set_snd_cwnd(100);
  sk.set_snd_ssthresh(cc->ssthresh(sk));  // 70, W_max 100, K = cbrt(100 * 0.3 / 0.4) = 4.2172 s
  sk.set_snd_cwnd(70);
  // Feed ACKs for one window every 100 ms for 4.2 s (min RTT unknown: 0); the window should be
  // near W_max at t = K and below it before.
  sim::TimePoint t = at(0_ms);
  std::uint32_t at_2s = 0;
  for (int step = 1; step <= 42; ++step) {
    t = at(sim::Duration::from_ms(100 * step));
    cc->cong_avoid(sk, sk.snd_cwnd(), t);
    if (step == 20) at_2s = sk.snd_cwnd();
  }
  // W_cubic(2 s) = 0.4 (2 - 4.2172)^3 + 100 = 95.64; W_cubic(4.2 s) = 100.0.
  CHECK(at_2s >= 90);
  CHECK(at_2s <= 97);
  CHECK(sk.snd_cwnd() >= 98);
  CHECK(sk.snd_cwnd() <= 101);
}

TEST_CASE("tcp SACK recovery (RFC 6675): the scoreboard marks lost segments and pipe gates retransmissions",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.sack = true;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts{}.sack_on());
  const auto data = pattern(10 * 1460);
  sk.send(data, at(1_ms));
  env.clear();
  auto s = [](int i) { return kIss + 1 + static_cast<std::uint32_t>(i - 1) * 1460; };  // segment i starts here
  // Segments 2..4 arrived: one duplicate ACK carrying 3 SACKed segments enters recovery.
  TcpSegment d1 = ack_of(env, s(1));
  d1.opt.sack_blocks[0] = {s(2), s(5)};
  d1.opt.sack_count = 1;
  sk.input(d1, at(2_ms));
  CHECK(sk.in_recovery());
  CHECK(sk.sacked_out() == 3);
  CHECK(sk.snd_ssthresh() == 5);
  CHECK(sk.snd_cwnd() == 5);  // cwnd = ssthresh, no inflation
  REQUIRE(env.out.size() == 1);
  CHECK(env.out[0].seq == s(1));  // (4.3) the first segment, whatever the pipe
  CHECK(sk.in_flight() == 10 - 3 - 1 + 1);
  env.clear();
  // Segments 6..8 too: segment 5 now has 3 SACKed segments above it, so it is lost; the pipe
  // (10 - 6 sacked - 2 lost + 1 retransmitted = 3) leaves room for it.
  TcpSegment d2 = ack_of(env, s(1));
  d2.opt.sack_blocks[0] = {s(6), s(9)};
  d2.opt.sack_blocks[1] = {s(2), s(5)};
  d2.opt.sack_count = 2;
  sk.input(d2, at(3_ms));
  CHECK(sk.sacked_out() == 6);
  CHECK(sk.lost_out() == 2);
  REQUIRE(env.out.size() == 1);
  CHECK(env.out[0].seq == s(5));
  CHECK(sk.retrans_out() == 2);
  CHECK(sk.in_flight() == 10 - 6 - 2 + 2);
  CHECK(sk.stats().fast_retransmits == 2);
  env.clear();
  // Everything acknowledged: recovery ends at the recovery point with cwnd = ssthresh.
  TcpSegment full = ack_of(env, s(11));
  sk.input(full, at(4_ms));
  CHECK_FALSE(sk.in_recovery());
  CHECK(sk.snd_cwnd() == 5);
  CHECK(sk.sacked_out() == 0);
  CHECK(sk.lost_out() == 0);
  CHECK(sk.retrans_out() == 0);
  CHECK(sk.packets_out() == 0);
}
