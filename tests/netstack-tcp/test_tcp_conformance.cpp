// TCP conformance: behaviour the per-state and data tests do not pin down — RST rules in every
// synchronized state, timestamps and PAWS, window scaling edges, sequence wraparound, timers
// (RTO cap and give-up, persist backoff, RFC 6298 §5.7), receiver and sender silly-window
// avoidance, buffers, SACK generation, recovery entry and exit, CUBIC's epoch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>

#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using namespace nicemu::testing;
using nicemu::testing::make_seg;
using nicemu::testing::pattern;
using nicemu::testing::TcpTestEnv;

namespace {
// Drives the socket to the given state after an active open (plain config, no data).
// FIN-WAIT-1: our FIN sent. FIN-WAIT-2: it is ACKed. CLOSE-WAIT: the peer's FIN received.
// CLOSING: FIN crossed ours. LAST-ACK: CLOSE-WAIT then our FIN. TIME-WAIT: FIN-WAIT-2 then FIN.
void drive_to(TcpTestEnv& env, TcpSock& sk, TcpState target) {
  open_active(env, sk);
  const sim::TimePoint t = at(1_ms);
  switch (target) {
    case TcpState::kFinWait1:
      REQUIRE(sk.shutdown_write(t) == 0);
      break;
    case TcpState::kFinWait2: {
      REQUIRE(sk.shutdown_write(t) == 0);
      TcpSegment a = ack_of(env, kIss + 2);
      sk.input(a, t);
      break;
    }
    case TcpState::kCloseWait: {
      TcpSegment f = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 1, 65535);
      sk.input(f, t);
      break;
    }
    case TcpState::kClosing: {
      REQUIRE(sk.shutdown_write(t) == 0);
      TcpSegment f = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 1, 65535);
      sk.input(f, t);
      break;
    }
    case TcpState::kLastAck: {
      TcpSegment f = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 1, 65535);
      sk.input(f, t);
      REQUIRE(sk.shutdown_write(t) == 0);
      break;
    }
    case TcpState::kTimeWait: {
      REQUIRE(sk.shutdown_write(t) == 0);
      TcpSegment a = ack_of(env, kIss + 2);
      sk.input(a, t);
      TcpSegment f = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 2, 65535);
      sk.input(f, t);
      break;
    }
    default:
      break;
  }
  REQUIRE(sk.state() == target);
  env.clear();
}

// Sends `n` full segments (1460 bytes) and returns the sent segments' count.
std::size_t send_segments(TcpTestEnv& env, TcpSock& sk, int n, sim::TimePoint t) {
  const auto data = pattern(static_cast<std::size_t>(n) * 1460);
  REQUIRE(sk.send(data, t) == static_cast<int>(data.size()));
  const std::size_t k = env.out.size();
  env.clear();
  return k;
}
}  // namespace

// ---- RST and SYN rules in every synchronized state -----------------------------------------------------

TEST_CASE("tcp conformance: a RST at RCV.NXT closes every synchronized state, one elsewhere is challenged",
          "[netstack][tcp][unit]") {
  const TcpState states[] = {TcpState::kFinWait1, TcpState::kFinWait2, TcpState::kCloseWait,
                             TcpState::kClosing,  TcpState::kLastAck,  TcpState::kTimeWait};
  for (const TcpState st : states) {
    CAPTURE(to_string(st));
    TcpTestEnv env;
    TcpSock sk(env, plain_config());
    drive_to(env, sk, st);
    const bool fin_in = st == TcpState::kCloseWait || st == TcpState::kClosing || st == TcpState::kLastAck ||
                        st == TcpState::kTimeWait;
    const std::uint32_t rcv_nxt = kPeerIss + 1 + (fin_in ? 1u : 0u);
    REQUIRE(sk.rcv_nxt() == rcv_nxt);
    // In the window but not exact: challenge ACK, state kept (RFC 5961 §3.2).
    TcpSegment off = make_seg(env, kRst, rcv_nxt + 10, 0, 0);
    sk.input(off, at(2_ms));
    CHECK(sk.state() == st);
    REQUIRE(env.out.size() == 1);
    CHECK(env.out.front().flags == kAck);
    CHECK(env.out.front().ack == rcv_nxt);
    env.clear();
    // Outside the window: silently dropped (no ACK for a RST, RFC 9293 §3.10.7.4).
    TcpSegment far = make_seg(env, kRst, rcv_nxt + 200000, 0, 0);
    sk.input(far, at(3_ms));
    CHECK(sk.state() == st);
    CHECK(env.out.empty());
    // Exact: CLOSED, no RST in answer.
    TcpSegment exact = make_seg(env, kRst, rcv_nxt, 0, 0);
    sk.input(exact, at(4_ms));
    CHECK(sk.state() == TcpState::kClosed);
    CHECK(env.out.empty());
    CHECK_FALSE(sk.next_timer().has_value());
    if (st == TcpState::kCloseWait) CHECK(sk.so_error() == -EPIPE);  // kernel: tcp_reset
    if (st == TcpState::kFinWait1 || st == TcpState::kFinWait2) CHECK(sk.so_error() == -ECONNRESET);
  }
}

TEST_CASE("tcp conformance: a duplicate SYN-ACK after ESTABLISHED is ACKed, not reset", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  TcpSegment dup = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 65535);
  sk.input(dup, at(1_ms));
  CHECK(sk.state() == TcpState::kEstablished);
  REQUIRE(env.out.size() == 1);
  const TcpSegment a = env.pop();
  CHECK(a.flags == kAck);
  CHECK(a.seq == kIss + 1);
  CHECK(a.ack == kPeerIss + 1);
  CHECK(sk.stats().rst_out == 0);
}

TEST_CASE("tcp conformance: a retransmitted SYN in SYN-RECEIVED is answered with the SYN-ACK again",
          "[netstack][tcp][unit]") {
  // RFC 9293 §3.10.7.4 / Linux tcp_check_req: the peer lost our SYN-ACK and retransmits its SYN;
  // a bare ACK (which its SYN-SENT state drops) would leave it waiting for our RTO.
  TcpTestEnv env;
  TcpSock child(env, plain_config());
  TcpSegment syn = make_seg(env, kSyn, kPeerIss, 0, 8000);
  child.accept_syn(syn, kIss, at(0_us));
  env.clear();
  TcpSegment again = make_seg(env, kSyn, kPeerIss, 0, 8000);
  child.input(again, at(1_s));
  CHECK(child.state() == TcpState::kSynReceived);
  REQUIRE(env.out.size() == 1);
  const TcpSegment sa = env.pop();
  CHECK(sa.flags == (kSyn | kAck));
  CHECK(sa.seq == kIss);
  CHECK(sa.ack == kPeerIss + 1);
  // A SYN with another ISN is not a retransmission: challenge ACK.
  TcpSegment other = make_seg(env, kSyn, kPeerIss + 7, 0, 8000);
  child.input(other, at(2_s));
  REQUIRE(env.out.size() == 1);
  CHECK(env.pop().flags == kAck);
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 8000);
  child.input(ack, at(3_s));
  CHECK(child.state() == TcpState::kEstablished);
}

// ---- segments in the closing states --------------------------------------------------------------------

TEST_CASE("tcp conformance: CLOSE-WAIT and LAST-ACK ignore new data but ACK the peer's FIN again",
          "[netstack][tcp][unit]") {
  for (const TcpState st : {TcpState::kCloseWait, TcpState::kLastAck}) {
    CAPTURE(to_string(st));
    TcpTestEnv env;
    TcpSock sk(env, plain_config());
    drive_to(env, sk, st);
    // Data past the FIN is ignored (RFC 9293 §3.10.7.4, segment text in CLOSE-WAIT/LAST-ACK).
    const auto data = pattern(100);
    TcpSegment d = make_seg(env, kAck, kPeerIss + 2, kIss + 1, 65535, data);
    sk.input(d, at(2_ms));
    CHECK(sk.bytes_readable() == 0);
    CHECK(sk.state() == st);
    std::vector<std::byte> buf(10);
    CHECK(sk.recv(buf, at(2_ms)) == 0);  // still end of stream
    env.clear();
    // The peer's FIN again (our ACK was lost): acknowledged.
    TcpSegment fin = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 1, 65535);
    sk.input(fin, at(3_ms));
    REQUIRE_FALSE(env.out.empty());
    CHECK(env.out.back().ack == kPeerIss + 2);
    CHECK(sk.state() == st);
  }
}

TEST_CASE("tcp conformance: half close by the peer, then we send data and close (CLOSE-WAIT to LAST-ACK)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  drive_to(env, sk, TcpState::kCloseWait);
  CHECK(sk.writable());
  const auto data = pattern(3000);
  CHECK(sk.send(data, at(2_ms)) == 3000);
  // Minshall's Nagle: no small segment is unacknowledged, so the 80-byte tail goes at once.
  REQUIRE(env.out.size() == 3);
  CHECK(env.out.back().payload_len == 80);
  sk.close(at(3_ms));  // nothing unread: FIN, LAST-ACK
  CHECK(sk.state() == TcpState::kLastAck);
  REQUIRE(env.out.size() == 4);
  CHECK(env.out.back().flags == (kAck | kFin));
  CHECK(env.out.back().seq == kIss + 1 + 3000);
  std::vector<std::byte> got;
  for (auto& s : env.out) {
    const auto p = TcpTestEnv::payload(s);
    got.insert(got.end(), p.begin(), p.end());
  }
  CHECK(got == data);
  env.clear();
  TcpSegment a = ack_of(env, kIss + 1 + 3001, 65535, kPeerIss + 2);
  sk.input(a, at(4_ms));
  CHECK(sk.state() == TcpState::kClosed);
  CHECK(sk.so_error() == 0);
}

TEST_CASE("tcp conformance: Nagle (Minshall's variant) sends a small tail behind full segments, holds a second "
          "small one, and lets a FIN carry it",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(1460 + 100);
  REQUIRE(sk.send(data, at(1_ms)) == 1560);
  // Full segments in flight do not hold the tail: no small segment is unacknowledged yet.
  REQUIRE(env.out.size() == 2);
  CHECK(env.out.back().payload_len == 100);
  env.clear();
  REQUIRE(sk.send(std::span(data).first(100), at(1_ms)) == 100);
  REQUIRE(env.out.empty());  // the first small segment is unacknowledged: this one waits
  // An ACK for the full segment only: the small one is still out, the hold goes on.
  TcpSegment a = ack_of(env, kIss + 1 + 1460);
  sk.input(a, at(1_ms));
  CHECK(env.out.empty());
  REQUIRE(sk.shutdown_write(at(2_ms)) == 0);
  // The FIN is queued on the unsent tail; a segment with a FIN is never held by Nagle.
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().flags == (kAck | kFin | kPsh));
  CHECK(env.out.front().payload_len == 100);
  CHECK(env.out.front().seq == kIss + 1 + 1560);
}

TEST_CASE("tcp conformance: simultaneous close — CLOSING waits for the ACK of our FIN, then TIME-WAIT 2MSL",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.time_wait = 10_s;
  TcpSock sk(env, cfg);
  drive_to(env, sk, TcpState::kClosing);
  // Our FIN is still unacknowledged: its retransmission timer runs.
  REQUIRE(sk.next_timer().has_value());
  sk.on_timer(*sk.next_timer());
  REQUIRE(env.out.size() == 1);
  CHECK((env.out.front().flags & kFin) != 0);
  CHECK(sk.state() == TcpState::kClosing);
  env.clear();
  TcpSegment a = ack_of(env, kIss + 2, 65535, kPeerIss + 2);
  sk.input(a, at(5_s));
  CHECK(sk.state() == TcpState::kTimeWait);
  CHECK(sk.next_timer() == at(5_s) + 10_s);
  sk.on_timer(at(15_s));
  CHECK(sk.state() == TcpState::kClosed);
}

// ---- timestamps and PAWS ---------------------------------------------------------------------------------

TEST_CASE("tcp conformance: TSecr echoes TS.Recent, which only a segment at Last.ACK.sent updates (RFC 7323 §4.3)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.timestamps = true;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().ts(100));
  REQUIRE(sk.ts_ok());
  const auto data = pattern(3 * 1460);
  const std::uint32_t mss = sk.mss_now();
  // First segment (at Last.ACK.sent): TS.Recent = 200; delayed ACK pending.
  TcpSegment s1 = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 65535, std::span(data).first(mss));
  s1.opt.timestamps = TcpTimestamps{200, 0};
  sk.input(s1, at(1_ms));
  CHECK(env.out.empty());
  // Second segment, beyond Last.ACK.sent: does not update TS.Recent; the ACK echoes 200.
  TcpSegment s2 = make_seg(env, kAck, kPeerIss + 1 + mss, kIss + 1, 65535, std::span(data).subspan(mss, mss));
  s2.opt.timestamps = TcpTimestamps{300, 0};
  sk.input(s2, at(2_ms));
  REQUIRE(env.out.size() == 1);
  REQUIRE(env.out.front().opt.timestamps.has_value());
  CHECK(env.out.front().opt.timestamps->tsecr == 200);
  env.clear();
  // Out of order (a hole before it): TS.Recent stays; the duplicate ACK echoes 200 still.
  TcpSegment s4 = make_seg(env, kAck, kPeerIss + 1 + 3 * mss, kIss + 1, 65535, std::span(data).first(10));
  s4.opt.timestamps = TcpTimestamps{400, 0};
  sk.input(s4, at(3_ms));
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().opt.timestamps->tsecr == 200);
  env.clear();
  // The in-order segment at Last.ACK.sent updates it.
  TcpSegment s3 = make_seg(env, kAck, kPeerIss + 1 + 2 * mss, kIss + 1, 65535, std::span(data).subspan(2 * mss, mss));
  s3.opt.timestamps = TcpTimestamps{350, 0};
  sk.input(s3, at(4_ms));
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().opt.timestamps->tsecr == 350);
}

TEST_CASE("tcp conformance: PAWS compares timestamps modulo 2^32 and lets a RST through",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.timestamps = true;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().ts(0xfffffff0u));
  const auto data = pattern(100);
  // TSval wrapped past 2^32: newer, accepted.
  TcpSegment s1 = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 65535, data);
  s1.opt.timestamps = TcpTimestamps{0x10, 0};
  sk.input(s1, at(1_ms));
  CHECK(sk.bytes_readable() == 100);
  CHECK(sk.stats().paws_rejected == 0);
  env.clear();
  // An old one (before the wrap): rejected with an ACK.
  TcpSegment s2 = make_seg(env, kAck, kPeerIss + 101, kIss + 1, 65535, data);
  s2.opt.timestamps = TcpTimestamps{0xfffffff8u, 0};
  sk.input(s2, at(2_ms));
  CHECK(sk.bytes_readable() == 100);
  CHECK(sk.stats().paws_rejected == 1);
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().ack == kPeerIss + 101);
  CHECK(env.out.front().opt.timestamps->tsecr == 0x10);
  env.clear();
  // A RST with an old timestamp is not subject to PAWS (RFC 7323 §5.3 R1).
  TcpSegment rst = make_seg(env, kRst, kPeerIss + 101, 0, 0);
  rst.opt.timestamps = TcpTimestamps{5, 0};
  sk.input(rst, at(3_ms));
  CHECK(sk.state() == TcpState::kClosed);
  CHECK(sk.so_error() == -ECONNRESET);
}

// ---- window scaling --------------------------------------------------------------------------------------

TEST_CASE("tcp conformance: a peer window with scale 14 and a shrinking peer window", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.window_scaling = true;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().win(65535).ws(14));
  CHECK(sk.snd_wscale() == 14);
  TcpSegment a = ack_of(env, kIss + 1, 65535);
  sk.input(a, at(1_ms));
  CHECK(sk.snd_wnd() == 65535u << 14);  // 1 GiB - 16 KiB
  // The peer shrinks its window to one unit (16 KiB) with data queued: only what fits goes out.
  TcpSegment b = ack_of(env, kIss + 1, 1);
  sk.input(b, at(2_ms));
  CHECK(sk.snd_wnd() == 16384);
  const auto data = pattern(40000);
  REQUIRE(sk.send(data, at(3_ms)) == 40000);
  std::uint32_t sent = 0;
  for (auto& s : env.out) sent += s.payload_len;
  CHECK(sent == 14600);  // cwnd (10) limits first
  env.clear();
  TcpSegment c = ack_of(env, kIss + 1 + 14600, 1);
  sk.input(c, at(4_ms));
  sent = 0;
  for (auto& s : env.out) {
    sent += s.payload_len;
    CHECK(seq_le(s.seq + s.payload_len, kIss + 1 + 14600 + 16384));  // never past the right edge
  }
  // 11 full segments fit; the 324 bytes left of the window are below an MSS and below half the
  // largest window offered: sender SWS avoidance keeps them.
  CHECK(sent == 11 * 1460);
  env.clear();
}

TEST_CASE("tcp conformance: the advertised window is rounded down to the scale unit", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.window_scaling = true;
  cfg.rcvbuf = 1u << 20;  // 1 MiB: scale 5 (units of 32 bytes)
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().ws(2));
  REQUIRE(sk.rcv_wscale() == 5);
  const auto data = pattern(1000);  // leaves 1 MiB - 1000, not a multiple of 32
  TcpSegment s = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 65535, data);
  sk.input(s, at(1_ms));
  TcpSegment s2 = make_seg(env, kAck, kPeerIss + 1001, kIss + 1, 65535, data);
  sk.input(s2, at(2_ms));
  REQUIRE_FALSE(env.out.empty());
  const TcpSegment ack = env.out.back();
  CHECK(ack.ack == kPeerIss + 2001);
  // The right edge promised at the open (1 MiB past kPeerIss + 1) must not move left; the free
  // space (1 MiB - 2000) is not a multiple of 32, so the edge is kept by rounding up one unit:
  // 1046576 -> 1046592 = 32706 << 5.
  const std::uint32_t edge = ack.ack + (static_cast<std::uint32_t>(ack.window) << 5);
  CHECK(seq_ge(edge, kPeerIss + 1 + (1u << 20)));
  CHECK(ack.window == 32706);
}

// ---- sequence wraparound ---------------------------------------------------------------------------------

TEST_CASE("tcp conformance: a transfer both ways across 2^32", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.sack = true;
  TcpSock sk(env, cfg);
  const std::uint32_t iss = 0xffffff00u, peer_iss = 0xffffff80u;
  open_active(env, sk, iss, peer_iss, PeerOpts().sack_on());
  // Sending: 8 segments cross the wrap; ACK them one by one.
  const auto data = pattern(8 * 1460);
  REQUIRE(sk.send(data, at(1_ms)) == static_cast<int>(data.size()));
  REQUIRE(env.out.size() == 8);
  std::vector<std::byte> got;
  std::uint32_t expect_seq = iss + 1;
  for (auto& s : env.out) {
    CHECK(s.seq == expect_seq);
    expect_seq += s.payload_len;
    const auto p = TcpTestEnv::payload(s);
    got.insert(got.end(), p.begin(), p.end());
  }
  CHECK(got == data);
  env.clear();
  // Segment 2 lost: SACK for 3..8 recovers it across the wrap.
  auto s = [&](int i) { return iss + 1 + static_cast<std::uint32_t>(i - 1) * 1460; };
  TcpSegment d = ack_of(env, s(2), 65535, peer_iss + 1);
  d.opt.sack_blocks[0] = {s(3), s(9)};
  d.opt.sack_count = 1;
  sk.input(d, at(2_ms));
  CHECK(sk.in_recovery());
  REQUIRE_FALSE(env.out.empty());
  CHECK(env.out.front().seq == s(2));
  env.clear();
  TcpSegment full = ack_of(env, s(9), 65535, peer_iss + 1);
  sk.input(full, at(3_ms));
  CHECK_FALSE(sk.in_recovery());
  CHECK(sk.snd_una() == iss + 1 + 8 * 1460);
  CHECK(sk.bytes_in_flight() == 0);
  CHECK(sk.packets_out() == 0);
  CHECK_FALSE(sk.next_timer().has_value());
  env.clear();
  // Receiving: segments out of order across the wrap, then the hole fills.
  const auto in = pattern(3 * 1000, 99);
  auto r = [&](int i) { return peer_iss + 1 + static_cast<std::uint32_t>(i) * 1000; };
  TcpSegment r2 = make_seg(env, kAck, r(2), s(9), 65535, std::span(in).subspan(2000, 1000));
  sk.input(r2, at(4_ms));
  CHECK(sk.ooo_bytes() == 1000);
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().opt.sack_count == 1);
  CHECK(env.out.front().opt.sack_blocks[0].left == r(2));
  CHECK(env.out.front().opt.sack_blocks[0].right == r(3));
  env.clear();
  TcpSegment r0 = make_seg(env, kAck, r(0), s(9), 65535, std::span(in).first(1000));
  sk.input(r0, at(5_ms));
  TcpSegment r1 = make_seg(env, kAck, r(1), s(9), 65535, std::span(in).subspan(1000, 1000));
  sk.input(r1, at(6_ms));
  CHECK(sk.rcv_nxt() == r(3));
  CHECK(sk.ooo_bytes() == 0);
  std::vector<std::byte> buf(3000);
  CHECK(sk.recv(buf, at(7_ms)) == 3000);
  CHECK(buf == in);
}

// ---- timers ----------------------------------------------------------------------------------------------

TEST_CASE("tcp conformance: the RTO doubles up to rto_max, and retries2 timeouts give ETIMEDOUT",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.rto_max = 2_s;
  cfg.retries2 = 5;
  TcpSock sk(env, cfg);
  open_active(env, sk);
  const auto data = pattern(100);
  REQUIRE(sk.send(data, at(1_ms)) == 100);
  env.clear();
  REQUIRE(sk.rto() == 200_ms);
  sim::TimePoint t = at(1_ms);
  const sim::Duration expect[] = {200_ms, 400_ms, 800_ms, 1600_ms, 2_s, 2_s};
  for (int i = 0; i < 6; ++i) {
    REQUIRE(sk.next_timer().has_value());
    CHECK(*sk.next_timer() - t == expect[i]);
    t = *sk.next_timer();
    sk.on_timer(t);
    if (i < 5) {
      CHECK(sk.state() == TcpState::kEstablished);
      REQUIRE(env.out.size() == 1);
      CHECK(env.out.front().seq == kIss + 1);
      env.clear();
    }
  }
  CHECK(sk.state() == TcpState::kClosed);
  CHECK(sk.so_error() == -ETIMEDOUT);
  CHECK(sk.stats().retransmits == 5);
  CHECK(env.out.empty());  // a timed-out connection goes away without a RST (as Linux)
}

TEST_CASE("tcp conformance: a second timeout of the same data keeps ssthresh (RFC 5681 §3.1)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  send_segments(env, sk, 10, at(1_ms));
  REQUIRE(sk.snd_cwnd() == 10);
  sk.on_timer(*sk.next_timer());
  CHECK(sk.snd_ssthresh() == 5);
  CHECK(sk.snd_cwnd() == 1);
  env.clear();
  sk.on_timer(*sk.next_timer());  // the retransmission is lost too
  CHECK(sk.snd_ssthresh() == 5);  // "held constant", not max(1 / 2, 2)
  CHECK(sk.snd_cwnd() == 1);
  env.clear();
  // A new loss episode after recovery does reduce it again.
  TcpSegment a = ack_of(env, kIss + 1 + 10 * 1460);
  sk.input(a, at(3_s));
  CHECK(sk.packets_out() == 0);
}

TEST_CASE("tcp conformance: after a retransmitted SYN the RTO starts at 3 s (RFC 6298 §5.7)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  sk.on_timer(at(1_s));  // SYN retransmitted
  env.clear();
  TcpSegment synack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 65535);
  synack.opt.mss = 1460;
  sk.input(synack, at(1500_ms));
  REQUIRE(sk.state() == TcpState::kEstablished);
  CHECK(sk.srtt() == 0_us);  // Karn: no sample
  CHECK(sk.rto() == 3_s);
  CHECK(sk.backoff() == 0);
  env.clear();
  REQUIRE(sk.send(pattern(10), at(2_s)) == 10);
  CHECK(sk.next_timer() == at(2_s) + 3_s);
}

TEST_CASE("tcp conformance: zero-window probes back off up to rto_max, and an opened window resets the backoff",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.rto_max = 5_s;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().win(0));
  REQUIRE(sk.send(pattern(1000), at(1_ms)) == 1000);
  CHECK(env.out.empty());
  sim::TimePoint t = at(1_ms);
  const sim::Duration expect[] = {200_ms, 400_ms, 800_ms, 1600_ms, 3200_ms, 5_s, 5_s, 5_s};
  for (const auto d : expect) {
    REQUIRE(sk.next_timer().has_value());
    CHECK(*sk.next_timer() - t == d);
    t = *sk.next_timer();
    sk.on_timer(t);
    REQUIRE(env.out.size() == 1);
    CHECK(env.out.front().seq == kIss);  // snd_una - 1: an old ACK the peer must answer
    CHECK(env.out.front().payload_len == 0);
    env.clear();
    TcpSegment still = ack_of(env, kIss + 1, 0);  // the answer: still closed
    sk.input(still, t);
    CHECK(env.out.empty());
  }
  CHECK(sk.state() == TcpState::kEstablished);  // probing never gives up while answered
  // Many more probes than retries2 would allow for retransmissions.
  for (int i = 0; i < 20; ++i) {
    t = *sk.next_timer();
    sk.on_timer(t);
    env.clear();
  }
  // The window opens: the data goes out and the RTO starts from the base RTO again.
  TcpSegment open = ack_of(env, kIss + 1, 65535);
  sk.input(open, t);
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().payload_len == 1000);
  env.clear();
  REQUIRE(sk.next_timer().has_value());
  CHECK(*sk.next_timer() - t == sk.rto());
  // That data is lost: a retransmission, not ETIMEDOUT.
  sk.on_timer(*sk.next_timer());
  CHECK(sk.state() == TcpState::kEstablished);
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().payload_len == 1000);
}

TEST_CASE("tcp conformance: a small window the sender SWS rule will not fill is still probed",
          "[netstack][tcp][unit]") {
  // The peer offered 64 KiB, then 100 bytes with nothing in flight. Sender SWS avoidance holds the
  // data (100 < MSS and < max_window / 2), so the persist timer must run: otherwise a lost window
  // update stalls the connection for ever. Linux (tcp_write_wakeup) sends what fits when it fires.
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  send_segments(env, sk, 2, at(1_ms));
  TcpSegment a = ack_of(env, kIss + 1 + 2920, 100);
  sk.input(a, at(2_ms));
  CHECK(sk.snd_wnd() == 100);
  REQUIRE(sk.send(pattern(1000), at(3_ms)) == 1000);
  CHECK(env.out.empty());
  REQUIRE(sk.next_timer().has_value());
  sk.on_timer(*sk.next_timer());
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().seq == kIss + 1 + 2920);
  CHECK(env.out.front().payload_len == 100);
  CHECK(sk.bytes_in_flight() == 100);
}

TEST_CASE("tcp conformance: delayed ACKs — quick ACKs at the start, then every second segment",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.quickacks = 3;
  TcpSock sk(env, cfg);
  open_active(env, sk);
  const auto data = pattern(1000);
  std::uint32_t seq = kPeerIss + 1;
  std::vector<std::size_t> acks;
  for (int i = 0; i < 7; ++i) {
    TcpSegment s = make_seg(env, kAck, seq, kIss + 1, 65535, data);
    seq += 1000;
    sk.input(s, at(sim::Duration::from_ms(1 + i)));
    acks.push_back(env.out.size());
    env.clear();
  }
  // 3 quick ACKs, then every second segment.
  CHECK(acks == std::vector<std::size_t>{1, 1, 1, 0, 1, 0, 1});
  CHECK(sk.stats().delayed_acks == 0);
}

// ---- receiver and sender silly-window avoidance -------------------------------------------------------------

TEST_CASE("tcp conformance: after a zero window, reading a few bytes does not advertise a tiny window",
          "[netstack][tcp][unit]") {
  // RFC 9293 §3.8.6.2.2 (receiver SWS): the window opens only by min(RCV.BUFF / 2, MSS) or more;
  // kernel __tcp_select_window: free space below the MSS is advertised as 0.
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(65535);
  std::uint32_t off = 0;
  while (off < data.size()) {
    const std::uint32_t n = std::min<std::uint32_t>(1460, static_cast<std::uint32_t>(data.size()) - off);
    TcpSegment s = make_seg(env, kAck, kPeerIss + 1 + off, kIss + 1, 65535, std::span(data).subspan(off, n));
    sk.input(s, at(1_ms));
    off += n;
  }
  sk.on_timer(at(100_ms));
  REQUIRE_FALSE(env.out.empty());
  CHECK(env.out.back().window == 0);
  env.clear();
  std::vector<std::byte> buf(10);
  CHECK(sk.recv(buf, at(200_ms)) == 10);
  CHECK(env.out.empty());  // no window update for 10 bytes
  TcpSegment probe = make_seg(env, kAck, kPeerIss + 65535, kIss + 1, 65535);  // RCV.NXT - 1
  sk.input(probe, at(300_ms));
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().window == 0);
  env.clear();
  // Reading a full MSS and more opens it (and sends the update at once).
  std::vector<std::byte> big(4000);
  CHECK(sk.recv(big, at(400_ms)) == 4000);
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().window >= 1460);
}

TEST_CASE("tcp conformance: the send buffer limit gives a short write, then -EAGAIN, and writable() flips",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.sndbuf = 8000;
  cfg.sndbuf_locked = true;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().win(2000));
  CHECK(sk.writable());
  const auto data = pattern(10000);
  CHECK(sk.send(data, at(1_ms)) == 8000);
  CHECK_FALSE(sk.writable());
  CHECK(sk.send(data, at(2_ms)) == -EAGAIN);
  std::uint32_t first = 0;
  for (auto& s : env.out) first += s.payload_len;
  env.clear();
  TcpSegment a = ack_of(env, kIss + 1 + first, 2000);
  sk.input(a, at(3_ms));
  CHECK(sk.writable());
  CHECK(sk.send(data, at(4_ms)) == static_cast<int>(first));
}

TEST_CASE("tcp conformance: recv with a small buffer walks across skb boundaries", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(3 * 700);
  for (int i = 0; i < 3; ++i) {
    TcpSegment s = make_seg(env, kAck, kPeerIss + 1 + static_cast<std::uint32_t>(i) * 700, kIss + 1, 65535,
                            std::span(data).subspan(static_cast<std::size_t>(i) * 700, 700));
    sk.input(s, at(1_ms));
  }
  std::vector<std::byte> got;
  std::vector<std::byte> buf(333);
  for (;;) {
    const int n = sk.recv(buf, at(2_ms));
    if (n == -EAGAIN) break;
    REQUIRE(n > 0);
    got.insert(got.end(), buf.begin(), buf.begin() + n);
  }
  CHECK(got == data);
  CHECK(sk.bytes_readable() == 0);
  CHECK(sk.recv(buf, at(3_ms)) == -EAGAIN);
}

// ---- SACK generation -----------------------------------------------------------------------------------------

TEST_CASE("tcp conformance: SACK blocks — the triggering block first, at most 3 with timestamps, 4 without",
          "[netstack][tcp][unit]") {
  for (const bool ts : {true, false}) {
    CAPTURE(ts);
    TcpTestEnv env;
    TcpConfig cfg = plain_config();
    cfg.sack = true;
    cfg.timestamps = ts;
    TcpSock sk(env, cfg);
    open_active(env, sk, kIss, kPeerIss, PeerOpts().sack_on().ts(ts ? std::optional<std::uint32_t>(1) : std::nullopt));
    const auto data = pattern(100);
    // Five islands at 1000, 2000, ..., 5000 bytes past RCV.NXT; the last arrival is the 3000 one.
    for (const std::uint32_t k : {1u, 2u, 4u, 5u, 3u}) {
      TcpSegment s = make_seg(env, kAck, kPeerIss + 1 + k * 1000, kIss + 1, 65535, data);
      if (ts) s.opt.timestamps = TcpTimestamps{2, 0};
      sk.input(s, at(1_ms));
    }
    REQUIRE(env.out.size() == 5);
    const TcpSegment& last = env.out.back();
    CHECK(last.opt.sack_count == (ts ? 3 : 4));
    CHECK(last.opt.sack_blocks[0] == SackBlock{kPeerIss + 3001, kPeerIss + 3101});
    for (int i = 1; i < last.opt.sack_count; ++i) {
      CHECK(last.opt.sack_blocks[static_cast<std::size_t>(i)] != last.opt.sack_blocks[0]);
    }
    CHECK(last.ack == kPeerIss + 1);
  }
}

// ---- loss recovery ----------------------------------------------------------------------------------------------

TEST_CASE("tcp conformance: SACK recovery exits at the recovery point and may be re-entered at once",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.sack = true;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().sack_on());
  send_segments(env, sk, 10, at(1_ms));
  auto s = [](int i) { return kIss + 1 + static_cast<std::uint32_t>(i - 1) * 1460; };
  TcpSegment d = ack_of(env, s(1));
  d.opt.sack_blocks[0] = {s(2), s(5)};
  d.opt.sack_count = 1;
  sk.input(d, at(2_ms));
  REQUIRE(sk.in_recovery());
  const std::uint32_t recovery_point = sk.high_seq();
  CHECK(recovery_point == s(11));
  env.clear();
  // A partial ACK keeps recovery.
  TcpSegment p = ack_of(env, s(5));
  sk.input(p, at(3_ms));
  CHECK(sk.in_recovery());
  // ACK of everything: exit, cwnd = ssthresh.
  TcpSegment f = ack_of(env, s(11));
  sk.input(f, at(4_ms));
  CHECK_FALSE(sk.in_recovery());
  CHECK(sk.snd_cwnd() == sk.snd_ssthresh());
  CHECK(sk.sacked_out() == 0);
  CHECK(sk.lost_out() == 0);
  CHECK(sk.retrans_out() == 0);
}

TEST_CASE("tcp conformance: NewReno may fast-retransmit again once the ACKs reach the recovery point",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  send_segments(env, sk, 8, at(1_ms));
  auto s = [](int i) { return kIss + 1 + static_cast<std::uint32_t>(i - 1) * 1460; };
  for (int i = 0; i < 3; ++i) {
    TcpSegment d = ack_of(env, s(1));
    sk.input(d, at(2_ms));
  }
  REQUIRE(sk.in_recovery());
  CHECK(sk.high_seq() == s(9));
  env.clear();
  TcpSegment full = ack_of(env, s(9));
  sk.input(full, at(3_ms));
  CHECK_FALSE(sk.in_recovery());
  const auto more = pattern(4 * 1460);
  REQUIRE(sk.send(more, at(4_ms)) == static_cast<int>(more.size()));
  env.clear();
  for (int i = 0; i < 3; ++i) {
    TcpSegment d = ack_of(env, s(9));
    sk.input(d, at(5_ms));
  }
  CHECK(sk.in_recovery());
  REQUIRE_FALSE(env.out.empty());
  CHECK(env.out.front().seq == s(9));
}

TEST_CASE("newreno: slow start doubles per RTT up to ssthresh, then grows by one per window",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  auto cc = make_congestion_ops(CongestionAlgo::kNewReno);
  sk.set_snd_cwnd(4);
  sk.set_snd_ssthresh(16);
  cc->cong_avoid(sk, 4, at(1_ms));
  CHECK(sk.snd_cwnd() == 8);
  cc->cong_avoid(sk, 8, at(2_ms));
  CHECK(sk.snd_cwnd() == 16);  // stops at ssthresh exactly
  cc->cong_avoid(sk, 16, at(3_ms));
  CHECK(sk.snd_cwnd() == 17);  // then AI: 16 acked at cwnd 16 gives one
  sk.set_snd_cwnd(15);
  sk.snd_cwnd_cnt() = 0;
  cc->cong_avoid(sk, 4, at(4_ms));  // 15 -> 16 by slow start (1 used), 3 left for AI at 16
  CHECK(sk.snd_cwnd() == 16);
  CHECK(sk.snd_cwnd_cnt() == 3);
}

TEST_CASE("cubic: K counts from the window at the start of the epoch (RFC 9438 §4.2)", "[netstack][tcp][unit]") {
  // K = cbrt((W_max - cwnd_epoch) / C). Without a loss the epoch starts at W_max (K = 0) and the
  // window grows at once; after a fast-convergence loss W_max = 0.85 cwnd, cwnd_epoch = 0.7 cwnd.
  SECTION("no loss yet: K = 0, W(t) = 0.4 t^3 + 50") {
    TcpTestEnv env;
    TcpSock sk(env, plain_config());
    auto cc = make_congestion_ops(CongestionAlgo::kCubic);
    sk.set_snd_cwnd(50);
    sk.set_snd_ssthresh(50);
    for (int step = 0; step <= 8; ++step) {  // one window of ACKs every 500 ms for 4 s
      cc->cong_avoid(sk, sk.snd_cwnd(), at(sim::Duration::from_ms(500 * step)));
    }
    // W_cubic(4 s) = 75.6 (with K = cbrt(50 * 0.3 / 0.4) = 3.35 s it would be 50.1, and the
    // Reno-friendly estimate only about 54).
    CHECK(sk.snd_cwnd() >= 68);
    CHECK(sk.snd_cwnd() <= 77);
  }
  SECTION("fast convergence: W_max = 68, cwnd_epoch = 56, K = cbrt(30) = 3.11 s") {
    TcpTestEnv env;
    TcpSock sk(env, plain_config());
    auto cc = make_congestion_ops(CongestionAlgo::kCubic);
    sk.set_snd_cwnd(100);
    (void)cc->ssthresh(sk);  // W_max 100
    sk.set_snd_cwnd(80);
    sk.set_snd_ssthresh(cc->ssthresh(sk));  // 80 < 100: W_max = 68, ssthresh 56
    REQUIRE(sk.snd_ssthresh() == 56);
    sk.set_snd_cwnd(56);
    for (int step = 1; step <= 10; ++step) {  // one window of ACKs every 100 ms for 1 s
      cc->cong_avoid(sk, sk.snd_cwnd(), at(sim::Duration::from_ms(100 * step)));
    }
    // W_cubic(1 s) = 0.4 (1 - 3.11)^3 + 68 = 64.2 (with K = cbrt(68 * 0.3 / 0.4) = 3.71 s: 60.0;
    // the Reno-friendly estimate is about 61).
    CHECK(sk.snd_cwnd() >= 63);
    CHECK(sk.snd_cwnd() <= 66);
  }
}

// ---- zero windows: ours and the peer's --------------------------------------------------------------------------

TEST_CASE("tcp conformance: with our window at zero, a data segment at RCV.NXT still delivers its ACK",
          "[netstack][tcp][unit]") {
  // RFC 9293 §3.10.7.4: "If the RCV.WND is zero, no segments will be acceptable, but special
  // allowance should be made to accept valid ACKs, URGs, and RSTs" (kernel tcp_sequence accepts
  // SEG.SEQ = RCV.NXT and tcp_data_queue drops the text).
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  // Fill our receive buffer (65535 bytes): window 0.
  const auto in = pattern(65535);
  std::uint32_t off = 0;
  while (off < in.size()) {
    const std::uint32_t n = std::min<std::uint32_t>(1460, static_cast<std::uint32_t>(in.size()) - off);
    TcpSegment s = make_seg(env, kAck, kPeerIss + 1 + off, kIss + 1, 65535, std::span(in).subspan(off, n));
    sk.input(s, at(1_ms));
    off += n;
  }
  sk.on_timer(at(50_ms));
  env.clear();
  // We send data; the peer's next data segment carries the ACK for it.
  REQUIRE(sk.send(pattern(1000), at(60_ms)) == 1000);
  env.clear();
  const std::uint32_t rcv_nxt = sk.rcv_nxt();
  TcpSegment d = make_seg(env, kAck, rcv_nxt, kIss + 1 + 1000, 65535, pattern(500));
  sk.input(d, at(70_ms));
  CHECK(sk.snd_una() == kIss + 1 + 1000);  // the ACK was taken
  CHECK(sk.bytes_in_flight() == 0);
  CHECK(sk.rcv_nxt() == rcv_nxt);  // the text was not
  CHECK(sk.bytes_readable() == 65535);
  REQUIRE_FALSE(env.out.empty());
  CHECK(env.out.back().ack == rcv_nxt);
  CHECK(env.out.back().window == 0);
}

TEST_CASE("tcp conformance: a FIN is not sent into a zero window, the window is probed instead",
          "[netstack][tcp][unit]") {
  // A FIN occupies sequence space: a receiver with a zero window must drop it (RFC 9293
  // §3.10.7.4), so sending it only runs the retransmission timer (and retries2) down. Linux's
  // tcp_snd_wnd_test holds it and probes.
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  TcpSegment z = ack_of(env, kIss + 1, 0);
  sk.input(z, at(1_ms));
  REQUIRE(sk.snd_wnd() == 0);
  REQUIRE(sk.shutdown_write(at(2_ms)) == 0);
  CHECK(sk.state() == TcpState::kFinWait1);
  CHECK(env.out.empty());
  REQUIRE(sk.next_timer().has_value());
  sk.on_timer(*sk.next_timer());
  REQUIRE(env.out.size() == 1);
  CHECK(env.out.front().seq == kIss);  // a probe, not the FIN
  CHECK((env.out.front().flags & kFin) == 0);
  env.clear();
  TcpSegment open = ack_of(env, kIss + 1, 1000);
  sk.input(open, at(1_s));
  REQUIRE(env.out.size() == 1);
  CHECK((env.out.front().flags & kFin) != 0);
  CHECK(env.out.front().seq == kIss + 1);
  env.clear();
  TcpSegment fa = ack_of(env, kIss + 2, 1000);
  sk.input(fa, at(2_s));
  CHECK(sk.state() == TcpState::kFinWait2);
}

TEST_CASE("tcp conformance: an ACK older than SND.UNA - MAX.SND.WND gets a challenge ACK (RFC 5961 §5.2)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk, kIss, kPeerIss, PeerOpts().win(3000));
  const auto data = pattern(100);
  TcpSegment old = make_seg(env, kAck, kPeerIss + 1, kIss + 1 - 3001, 3000, data);
  sk.input(old, at(1_ms));
  CHECK(sk.stats().challenge_acks == 1);
  CHECK(sk.bytes_readable() == 0);  // dropped, text included
  TcpSegment ok = make_seg(env, kAck, kPeerIss + 1, kIss + 1 - 3000, 3000, data);
  sk.input(ok, at(2_ms));
  CHECK(sk.stats().challenge_acks == 1);
  CHECK(sk.bytes_readable() == 100);  // an old but acceptable ACK: the text is taken
}

TEST_CASE("tcp conformance: data that arrives with the FIN in FIN-WAIT-2 stays readable in TIME-WAIT",
          "[netstack][tcp][unit]") {
  // Half close: we shut down writing, the peer answers with data and its FIN. TIME-WAIT must not
  // throw the unread answer away (kernel: tcp_time_wait leaves the full socket, receive queue
  // included, to the application).
  for (const bool fin_wait1 : {false, true}) {
    CAPTURE(fin_wait1);
    TcpTestEnv env;
    TcpSock sk(env, plain_config());
    drive_to(env, sk, fin_wait1 ? TcpState::kFinWait1 : TcpState::kFinWait2);
    const auto data = pattern(700);
    // In FIN-WAIT-1 the same segment acknowledges our FIN.
    TcpSegment d = make_seg(env, kAck | kFin, kPeerIss + 1, kIss + 2, 65535, data);
    sk.input(d, at(2_ms));
    CHECK(sk.state() == TcpState::kTimeWait);
    CHECK(sk.readable());
    std::vector<std::byte> got(1000);
    REQUIRE(sk.recv(got, at(3_ms)) == 700);
    got.resize(700);
    CHECK(got == data);
    CHECK(sk.recv(got, at(4_ms)) == 0);  // then end of stream
    CHECK(sk.hung_up());
  }
}

TEST_CASE("tcp conformance: CLOSING to TIME-WAIT keeps unread data too", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  REQUIRE(sk.shutdown_write(at(1_ms)) == 0);
  const auto data = pattern(300);
  TcpSegment d = make_seg(env, kAck | kFin, kPeerIss + 1, kIss + 1, 65535, data);  // crosses our FIN
  sk.input(d, at(2_ms));
  REQUIRE(sk.state() == TcpState::kClosing);
  TcpSegment a = ack_of(env, kIss + 2, 65535, kPeerIss + 302);
  sk.input(a, at(3_ms));
  REQUIRE(sk.state() == TcpState::kTimeWait);
  std::vector<std::byte> got(300);
  CHECK(sk.recv(got, at(4_ms)) == 300);
  CHECK(got == data);
}

// ---- reassembly under arbitrary overlap ----------------------------------------------------------------------

TEST_CASE("tcp conformance: random overlapping, duplicated and reordered segments reassemble byte-exact",
          "[netstack][tcp][unit]") {
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull;
    auto rnd = [&](std::uint32_t n) {  // xorshift64*, deterministic everywhere
      state ^= state >> 12;
      state ^= state << 25;
      state ^= state >> 27;
      return static_cast<std::uint32_t>((state * 2685821657736338717ull) >> 33) % n;
    };
    TcpTestEnv env;
    TcpConfig cfg = plain_config();
    cfg.sack = true;
    TcpSock sk(env, cfg);
    const std::uint32_t peer_iss = 0xfffff000u + seed * 97;  // some runs cross 2^32
    open_active(env, sk, kIss, peer_iss, PeerOpts().sack_on());
    const std::uint32_t total = 20000;
    const auto data = pattern(total, seed);
    std::vector<std::byte> got;
    std::vector<std::byte> buf(4096);
    std::uint32_t covered_to = 0;  // every byte below was offered at least once
    bool fin_sent = false;
    for (int step = 0; step < 400 && !sk.fin_received(); ++step) {
      // Mostly near the reading point, sometimes far ahead; sometimes old data again.
      std::uint32_t off = covered_to > 0 && rnd(5) == 0 ? rnd(covered_to) : covered_to + rnd(6000);
      if (off >= total) off = total - 1;
      std::uint32_t len = 1 + rnd(1460);
      if (off + len > total) len = total - off;
      const bool fin = off + len == total && rnd(2) == 0;
      fin_sent |= fin;
      TcpSegment s = make_seg(env, static_cast<std::uint8_t>(kAck | (fin ? kFin : 0)), peer_iss + 1 + off, kIss + 1,
                              65535, std::span(data).subspan(off, len));
      sk.input(s, at(sim::Duration::from_ms(1 + step)));
      if (off <= covered_to) covered_to = std::max(covered_to, off + len);
      // SACK blocks describe only data above RCV.NXT and never overlap.
      for (auto& o : env.out) {
        for (int i = 0; i < o.opt.sack_count; ++i) {
          const auto& b = o.opt.sack_blocks[static_cast<std::size_t>(i)];
          CHECK(seq_gt(b.left, o.ack));
          CHECK(seq_lt(b.left, b.right));
          for (int j = 0; j < i; ++j) {
            const auto& c = o.opt.sack_blocks[static_cast<std::size_t>(j)];
            CHECK((seq_le(b.right, c.left) || seq_le(c.right, b.left)));
          }
        }
      }
      env.clear();
      if (rnd(3) == 0) {
        const int n = sk.recv(buf, at(sim::Duration::from_ms(1 + step)));
        if (n > 0) got.insert(got.end(), buf.begin(), buf.begin() + n);
      }
      // The window never promises more than the buffer holds.
      CHECK(sk.bytes_readable() + sk.ooo_bytes() <= cfg.rcvbuf);
    }
    // Fill whatever is still missing, in order, with the FIN.
    while (!sk.fin_received()) {
      const std::uint32_t off = sk.rcv_nxt() - (peer_iss + 1);
      REQUIRE(off <= total);
      std::uint32_t len = std::min<std::uint32_t>(1460, total - off);
      const bool fin = off + len == total;
      TcpSegment s = make_seg(env, static_cast<std::uint8_t>(kAck | (fin ? kFin : 0)), peer_iss + 1 + off, kIss + 1,
                              65535, std::span(data).subspan(off, len));
      sk.input(s, at(1_s));
      env.clear();
      for (;;) {
        const int n = sk.recv(buf, at(1_s));
        if (n <= 0) break;
        got.insert(got.end(), buf.begin(), buf.begin() + n);
      }
    }
    for (;;) {
      const int n = sk.recv(buf, at(2_s));
      if (n <= 0) {
        CHECK(n == 0);
        break;
      }
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
    CHECK(got.size() == total);
    CHECK(got == data);
    CHECK(sk.ooo_bytes() == 0);
    CHECK(sk.ooo_segments() == 0);
    CHECK(sk.rcv_nxt() == peer_iss + 1 + total + 1);
    CHECK(sk.state() == TcpState::kCloseWait);
    (void)fin_sent;
  }
}

TEST_CASE("tcp conformance: a SYN in any synchronized state gets a challenge ACK, never a reset (RFC 5961 §4)",
          "[netstack][tcp][unit]") {
  for (const TcpState st : {TcpState::kEstablished, TcpState::kFinWait1, TcpState::kFinWait2, TcpState::kCloseWait,
                            TcpState::kClosing, TcpState::kLastAck, TcpState::kTimeWait}) {
    CAPTURE(to_string(st));
    TcpTestEnv env;
    TcpSock sk(env, plain_config());
    drive_to(env, sk, st);
    for (const std::uint32_t seq : {sk.rcv_nxt(), sk.rcv_nxt() + 100, sk.rcv_nxt() - 100000}) {
      TcpSegment syn = make_seg(env, kSyn, seq, 0, 8000);
      sk.input(syn, at(2_ms));
      CHECK(sk.state() == st);
      REQUIRE(env.out.size() == 1);
      CHECK(env.out.front().flags == kAck);
      CHECK(env.out.front().ack == sk.rcv_nxt());
      env.clear();
    }
  }
}

TEST_CASE("cubic: the target is W_cubic one minimum RTT ahead (RFC 9438 §4.2)", "[netstack][tcp][unit]") {
  // W_max 100, cwnd 70 at the epoch, K = cbrt(30 / 0.4) = 4.2172 s. With a 500 ms minimum RTT
  // the first ACKs aim at W_cubic(0.5 s) = 0.4 (0.5 - 4.2172)^3 + 100 = 79.45: one segment per
  // floor(70 / 9.45) = 7 acked, so a window of 70 ACKs adds 10. Without an RTT the target is
  // W_cubic(0) = 70 and the Reno-friendly 70.53 adds nothing yet.
  for (const bool rtt : {true, false}) {
    CAPTURE(rtt);
    TcpTestEnv env;
    TcpSock sk(env, plain_config());
    auto cc = make_congestion_ops(CongestionAlgo::kCubic);
    if (rtt) cc->on_rtt_sample(sk, 500_ms);
    sk.set_snd_cwnd(100);
    sk.set_snd_ssthresh(cc->ssthresh(sk));
    sk.set_snd_cwnd(70);
    cc->cong_avoid(sk, 70, at(1_s));
    CHECK(sk.snd_cwnd() == (rtt ? 80u : 70u));
  }
}

TEST_CASE("tcp conformance: after a retransmitted SYN a timestamp echo still gives the RTT (RFC 7323 §4.1)",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.timestamps = true;
  TcpSock sk(env, cfg);
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  env.clear();
  sk.on_timer(at(1_s));
  const TcpSegment syn2 = env.pop();
  REQUIRE(syn2.opt.timestamps.has_value());
  TcpSegment synack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 65535);
  synack.opt.mss = 1460;
  synack.opt.timestamps = TcpTimestamps{7, syn2.opt.timestamps->tsval};  // answers the second SYN
  sk.input(synack, at(1_s) + 30_ms);
  REQUIRE(sk.state() == TcpState::kEstablished);
  CHECK(sk.srtt() == 30_ms);
  CHECK(sk.rto() == 200_ms);
}
