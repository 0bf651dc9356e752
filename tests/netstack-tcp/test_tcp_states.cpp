// TCP connection states, one group per state: opening (active, passive, simultaneous), the
// synchronized states' checks (RST, SYN, PAWS, window), and closing (active, passive,
// simultaneous, TIME-WAIT, abort on unread data).
#include <catch2/catch.hpp>

#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using namespace nicemu::testing;
using nicemu::testing::make_seg;
using nicemu::testing::pattern;
using nicemu::testing::TcpTestEnv;


// ---- CLOSED / SYN-SENT ----------------------------------------------------------------------------

TEST_CASE("tcp SYN-SENT: connect sends a SYN with MSS, window scale, SACK-permitted and timestamps",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg;  // defaults: every option on, rcvbuf 6 MiB
  TcpSock sk(env, cfg);
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  CHECK(sk.state() == TcpState::kSynSent);
  TcpSegment syn = env.pop();
  CHECK(syn.flags == kSyn);
  CHECK(syn.seq == kIss);
  CHECK(syn.sport == 1000);
  CHECK(syn.dport == 80);
  CHECK(syn.opt.mss == 1460);
  CHECK(syn.opt.window_scale == 7);  // 6 MiB >> 7 fits in 16 bits
  CHECK(syn.opt.sack_permitted);
  REQUIRE(syn.opt.timestamps.has_value());
  CHECK(syn.opt.timestamps->tsecr == 0);
  CHECK(syn.window == 65535);  // never scaled in a SYN
  CHECK(sk.connect(kIss, at(1_us)) == -EALREADY);
  CHECK(sk.next_timer() == at(1_s));  // initial RTO (RFC 6298 §2.1)
}

TEST_CASE("tcp SYN-SENT: a SYN-ACK with every option negotiates them all", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, TcpConfig{});
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  TcpSegment syn = env.pop();
  TcpSegment synack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 29200);
  synack.opt.mss = 1400;
  synack.opt.window_scale = 9;
  synack.opt.sack_permitted = true;
  synack.opt.timestamps = TcpTimestamps{777, syn.opt.timestamps->tsval};
  sk.input(synack, at(30_us));
  CHECK(sk.state() == TcpState::kEstablished);
  CHECK(sk.mss_now() == 1400 - 12);  // the peer's MSS, minus the timestamp option
  CHECK(sk.snd_wscale() == 9);
  CHECK(sk.rcv_wscale() == 7);
  CHECK(sk.sack_ok());
  CHECK(sk.ts_ok());
  CHECK(sk.snd_wnd() == 29200);  // the SYN-ACK's window is not scaled
  CHECK(sk.srtt() == 30_us);     // the SYN was sent once: it gives an RTT sample
  CHECK(sk.rto() == 200_ms);     // floored at TCP_RTO_MIN
  TcpSegment ack = env.pop();
  CHECK(ack.flags == kAck);
  CHECK(ack.seq == kIss + 1);
  CHECK(ack.ack == kPeerIss + 1);
  REQUIRE(ack.opt.timestamps.has_value());
  CHECK(ack.opt.timestamps->tsecr == 777);
}

TEST_CASE("tcp SYN-SENT: options the peer did not offer are off, and the window scale clamps at 14",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, TcpConfig{});
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  env.clear();
  SECTION("no options: MSS 536, no scaling, no SACK, no timestamps") {
    TcpSegment synack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 1000);
    sk.input(synack, at(1_us));
    CHECK(sk.mss_now() == 536);
    CHECK(sk.snd_wscale() == 0);
    CHECK(sk.rcv_wscale() == 0);  // we must not scale what we advertise either
    CHECK_FALSE(sk.sack_ok());
    CHECK_FALSE(sk.ts_ok());
  }
  SECTION("a shift of 15 is treated as 14 (RFC 7323 §2.3)") {
    TcpSegment synack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 1000);
    synack.opt.window_scale = 15;
    sk.input(synack, at(1_us));
    CHECK(sk.snd_wscale() == 14);
  }
}

TEST_CASE("tcp SYN-SENT: an unacceptable ACK is answered with RST seq=SEG.ACK", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  env.clear();
  TcpSegment bad = make_seg(env, kSyn | kAck, kPeerIss, kIss + 77, 1000);
  sk.input(bad, at(1_us));
  CHECK(sk.state() == TcpState::kSynSent);
  TcpSegment rst = env.pop();
  CHECK(rst.flags == kRst);
  CHECK(rst.seq == kIss + 77);
}

TEST_CASE("tcp SYN-SENT: RST with an acceptable ACK refuses the connection, without ACK it is ignored",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  env.clear();
  TcpSegment rst_no_ack = make_seg(env, kRst, 0, 0, 0);
  sk.input(rst_no_ack, at(1_us));
  CHECK(sk.state() == TcpState::kSynSent);
  TcpSegment rst = make_seg(env, kRst | kAck, 0, kIss + 1, 0);
  sk.input(rst, at(2_us));
  CHECK(sk.state() == TcpState::kClosed);
  CHECK(sk.so_error() == -ECONNREFUSED);
  CHECK(env.out.empty());  // never answer a RST
}

TEST_CASE("tcp SYN-SENT: the SYN is retransmitted with backoff, then the connection times out",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.syn_retries = 2;
  TcpSock sk(env, cfg);
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  env.clear();
  sk.on_timer(at(1_s));
  CHECK(env.pop().flags == kSyn);
  CHECK(sk.next_timer() == at(3_s));  // 2 s after the first retry
  sk.on_timer(at(3_s));
  CHECK(env.pop().flags == kSyn);
  CHECK(sk.next_timer() == at(7_s));
  sk.on_timer(at(7_s));
  CHECK(sk.state() == TcpState::kClosed);
  CHECK(sk.so_error() == -ETIMEDOUT);
  CHECK(sk.stats().timeouts == 2);
}

TEST_CASE("tcp simultaneous open: SYN-SENT receives a SYN, answers SYN-ACK, then ESTABLISHED",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  env.clear();
  TcpSegment syn = make_seg(env, kSyn, kPeerIss, 0, 8000);
  sk.input(syn, at(1_us));
  CHECK(sk.state() == TcpState::kSynReceived);
  TcpSegment synack = env.pop();
  CHECK(synack.flags == (kSyn | kAck));
  CHECK(synack.seq == kIss);
  CHECK(synack.ack == kPeerIss + 1);
  // The peer's SYN-ACK (its SYN again, acknowledging ours) completes the open at once, as in
  // Linux (tcp_validate_incoming); RFC 9293 alone would answer an ACK and wait for the peer's.
  TcpSegment their_synack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 8000);
  sk.input(their_synack, at(2_us));
  CHECK(sk.state() == TcpState::kEstablished);
  CHECK(sk.stats().challenge_acks == 0);
  CHECK(sk.stats().dropped_not_acceptable == 0);
  // The peer's ACK that follows is a duplicate, and harmless.
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 8000);
  sk.input(ack, at(3_us));
  CHECK(sk.state() == TcpState::kEstablished);
}

TEST_CASE("tcp simultaneous open: a SYN-ACK that does not acknowledge exactly our SYN is not taken as the ACK",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  TcpSegment syn = make_seg(env, kSyn, kPeerIss, 0, 8000);
  sk.input(syn, at(1_us));
  REQUIRE(sk.state() == TcpState::kSynReceived);
  env.clear();
  TcpSegment wrong_ack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 2, 8000);  // beyond SND.NXT
  sk.input(wrong_ack, at(2_us));
  CHECK(sk.state() == TcpState::kSynReceived);
  TcpSegment other_isn = make_seg(env, kSyn | kAck, kPeerIss + 5, kIss + 1, 8000);
  sk.input(other_isn, at(3_us));
  CHECK(sk.state() != TcpState::kEstablished);
}

// ---- LISTEN / SYN-RECEIVED -----------------------------------------------------------------------------

TEST_CASE("tcp passive open: a child answers SYN-ACK and is established by the ACK", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock child(env, plain_config());
  TcpSegment syn = make_seg(env, kSyn, kPeerIss, 0, 8000);
  syn.sport = 40000;
  syn.dport = 80;
  syn.opt.mss = 1200;
  child.accept_syn(syn, kIss, at(0_us));
  CHECK(child.state() == TcpState::kSynReceived);
  CHECK(child.local_port() == 80);
  CHECK(child.remote_port() == 40000);
  TcpSegment synack = env.pop();
  CHECK(synack.flags == (kSyn | kAck));
  CHECK(synack.seq == kIss);
  CHECK(synack.ack == kPeerIss + 1);
  CHECK(synack.opt.mss == 1460);
  CHECK_FALSE(synack.opt.window_scale.has_value());  // only answered when offered
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 8000);
  child.input(ack, at(50_us));
  CHECK(child.state() == TcpState::kEstablished);
  CHECK(child.mss_now() == 1200);
  CHECK(child.snd_wnd() == 8000);
  CHECK(child.srtt() == 50_us);
}

TEST_CASE("tcp SYN-RECEIVED: an ACK outside SND.UNA..SND.NXT gets a RST", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock child(env, plain_config());
  TcpSegment syn = make_seg(env, kSyn, kPeerIss, 0, 8000);
  child.accept_syn(syn, kIss, at(0_us));
  env.clear();
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 5, 8000);
  child.input(ack, at(1_us));
  CHECK(child.state() == TcpState::kSynReceived);
  TcpSegment rst = env.pop();
  CHECK(rst.flags == kRst);
  CHECK(rst.seq == kIss + 5);
}

TEST_CASE("tcp LISTEN: an ACK is answered with RST, a RST is ignored", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock l(env, plain_config());
  REQUIRE(l.listen() == 0);
  TcpSegment rst = make_seg(env, kRst, 1, 0, 0);
  l.input(rst, at(0_us));
  CHECK(env.out.empty());
  TcpSegment ack = make_seg(env, kAck, 1, 4242, 0);
  l.input(ack, at(0_us));
  TcpSegment r = env.pop();
  CHECK(r.flags == kRst);
  CHECK(r.seq == 4242);
  CHECK(l.state() == TcpState::kListen);
}

// ---- ESTABLISHED: checks before data ----------------------------------------------------------------------

TEST_CASE("tcp ESTABLISHED: a RST at RCV.NXT resets, one elsewhere in the window gets a challenge ACK",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  TcpSegment off = make_seg(env, kRst, kPeerIss + 100, 0, 0);
  sk.input(off, at(1_ms));
  CHECK(sk.state() == TcpState::kEstablished);
  CHECK(sk.stats().challenge_acks == 1);
  TcpSegment challenge = env.pop();
  CHECK(challenge.flags == kAck);
  CHECK(challenge.ack == kPeerIss + 1);
  TcpSegment exact = make_seg(env, kRst, kPeerIss + 1, 0, 0);
  sk.input(exact, at(2_ms));
  CHECK(sk.state() == TcpState::kClosed);
  CHECK(sk.so_error() == -ECONNRESET);
  CHECK(sk.recv(std::span<std::byte>(), at(3_ms)) == -ECONNRESET);
}

TEST_CASE("tcp ESTABLISHED: a SYN gets a challenge ACK (RFC 5961 §4)", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  TcpSegment syn = make_seg(env, kSyn, kPeerIss + 1, 0, 8000);
  sk.input(syn, at(1_ms));
  CHECK(sk.state() == TcpState::kEstablished);
  CHECK(sk.stats().challenge_acks == 1);
  CHECK(env.pop().flags == kAck);
}

TEST_CASE("tcp ESTABLISHED: a segment outside the receive window is answered with an ACK and dropped",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(100);
  TcpSegment far = make_seg(env, kAck, kPeerIss + 1 + 70000, kIss + 1, 8000, data);
  sk.input(far, at(1_ms));
  CHECK(sk.stats().dropped_not_acceptable == 1);
  CHECK(sk.bytes_readable() == 0);
  TcpSegment ack = env.pop();
  CHECK(ack.ack == kPeerIss + 1);
}

TEST_CASE("tcp ESTABLISHED: PAWS drops a segment with an older timestamp", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.timestamps = true;
  TcpSock sk(env, cfg);
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  TcpSegment syn = env.pop();
  TcpSegment synack = make_seg(env, kSyn | kAck, kPeerIss, kIss + 1, 8000);
  synack.opt.timestamps = TcpTimestamps{1000, syn.opt.timestamps->tsval};
  sk.input(synack, at(10_us));
  env.clear();
  const auto data = pattern(10);
  TcpSegment fresh = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 8000, data);
  fresh.opt.timestamps = TcpTimestamps{1005, 0};
  sk.input(fresh, at(1_ms));
  CHECK(sk.bytes_readable() == 10);
  env.clear();
  TcpSegment old = make_seg(env, kAck, kPeerIss + 11, kIss + 1, 8000, data);
  old.opt.timestamps = TcpTimestamps{999, 0};
  sk.input(old, at(2_ms));
  CHECK(sk.stats().paws_rejected == 1);
  CHECK(sk.bytes_readable() == 10);
  CHECK(env.pop().flags == kAck);
}

TEST_CASE("tcp ESTABLISHED: an ACK for data never sent is answered with an ACK and ignored",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 500, 8000);
  sk.input(ack, at(1_ms));
  CHECK(sk.snd_una() == kIss + 1);
  CHECK(env.pop().ack == kPeerIss + 1);
}

// ---- closing ---------------------------------------------------------------------------------------------------

TEST_CASE("tcp active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for 2MSL, CLOSED", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  sk.close(at(1_ms));
  CHECK(sk.state() == TcpState::kFinWait1);
  TcpSegment fin = env.pop();
  CHECK(fin.flags == (kFin | kAck));
  CHECK(fin.seq == kIss + 1);
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 2, 8000);
  sk.input(ack, at(2_ms));
  CHECK(sk.state() == TcpState::kFinWait2);
  TcpSegment their_fin = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 2, 8000);
  sk.input(their_fin, at(3_ms));
  CHECK(sk.state() == TcpState::kTimeWait);
  TcpSegment last = env.pop();
  CHECK(last.flags == kAck);
  CHECK(last.ack == kPeerIss + 2);
  CHECK(sk.next_timer() == at(3_ms) + 60_s);
  sk.on_timer(at(3_ms) + 59_s);
  CHECK(sk.state() == TcpState::kTimeWait);
  sk.on_timer(at(3_ms) + 60_s);
  CHECK(sk.state() == TcpState::kClosed);
}

TEST_CASE("tcp passive close: CLOSE-WAIT, end of stream, LAST-ACK, CLOSED", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  TcpSegment fin = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 1, 8000);
  sk.input(fin, at(1_ms));
  CHECK(sk.state() == TcpState::kCloseWait);
  CHECK(env.pop().ack == kPeerIss + 2);
  std::byte buf[8];
  CHECK(sk.recv(buf, at(2_ms)) == 0);  // end of stream
  CHECK(sk.readable());
  sk.close(at(3_ms));
  CHECK(sk.state() == TcpState::kLastAck);
  CHECK(env.pop().flags == (kFin | kAck));
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 2, kIss + 2, 8000);
  sk.input(ack, at(4_ms));
  CHECK(sk.state() == TcpState::kClosed);
  CHECK(sk.so_error() == 0);
}

TEST_CASE("tcp simultaneous close: FIN-WAIT-1 receives FIN, CLOSING, then TIME-WAIT", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  sk.close(at(1_ms));
  env.clear();
  TcpSegment their_fin = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 1, 8000);  // does not ack our FIN
  sk.input(their_fin, at(2_ms));
  CHECK(sk.state() == TcpState::kClosing);
  CHECK(env.pop().ack == kPeerIss + 2);
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 2, kIss + 2, 8000);
  sk.input(ack, at(3_ms));
  CHECK(sk.state() == TcpState::kTimeWait);
}

TEST_CASE("tcp close with unread data sends RST (RFC 2525 §2.17)", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto data = pattern(50);
  TcpSegment seg = make_seg(env, kAck | kPsh, kPeerIss + 1, kIss + 1, 8000, data);
  sk.input(seg, at(1_ms));
  env.clear();
  sk.close(at(2_ms));
  CHECK(sk.state() == TcpState::kClosed);
  TcpSegment rst = env.pop();
  CHECK((rst.flags & kRst) != 0);
  CHECK(rst.seq == kIss + 1);
  CHECK(sk.stats().rst_out == 1);
  CHECK(sk.stats().abort_on_close == 1);  // kernel: TCPAbortOnClose
  CHECK(sk.stats().abort_on_data == 0);
}

TEST_CASE("tcp new data after close in FIN-WAIT-1 or FIN-WAIT-2 is answered with RST (RFC 1122 4.2.2.13)",
          "[netstack][tcp][unit]") {
  for (const bool fin_acked : {false, true}) {
    INFO((fin_acked ? "FIN-WAIT-2" : "FIN-WAIT-1"));
    TcpTestEnv env;
    TcpSock sk(env, plain_config());
    open_active(env, sk);
    sk.close(at(1_ms));
    REQUIRE(sk.state() == TcpState::kFinWait1);
    if (fin_acked) {
      TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 2, 8000);
      sk.input(ack, at(2_ms));
      REQUIRE(sk.state() == TcpState::kFinWait2);
    }
    env.clear();
    // A segment with no new data (an old retransmission's range) is not a reason to reset.
    TcpSegment old = make_seg(env, kAck, kPeerIss + 1, kIss + 2, 8000);
    sk.input(old, at(3_ms));
    CHECK(sk.stats().abort_on_data == 0);
    const auto data = pattern(100);
    TcpSegment seg = make_seg(env, kAck | kPsh, kPeerIss + 1, kIss + 2, 8000, data);
    sk.input(seg, at(4_ms));
    CHECK(sk.state() == TcpState::kClosed);
    CHECK(sk.stats().abort_on_data == 1);
    CHECK(sk.stats().bytes_received == 0);
    // kernel: tcp_v4_send_reset in reply to a segment with ACK: RST, seq = its ack, no ACK.
    const TcpSegment rst = env.pop();
    CHECK(rst.flags == kRst);
    CHECK(rst.seq == kIss + 2);
  }
}

TEST_CASE("tcp after a shutdown of the write side alone, data in FIN-WAIT is still received", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  REQUIRE(sk.shutdown_write(at(1_ms)) == 0);
  REQUIRE(sk.state() == TcpState::kFinWait1);
  const auto data = pattern(100);
  TcpSegment seg = make_seg(env, kAck | kPsh, kPeerIss + 1, kIss + 2, 8000, data);
  sk.input(seg, at(2_ms));
  CHECK(sk.state() == TcpState::kFinWait2);
  CHECK(sk.stats().bytes_received == 100);
  CHECK(sk.stats().abort_on_data == 0);
}

TEST_CASE("tcp CLOSED: a segment is answered with RST by the RFC's rules", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  TcpSegment with_ack = make_seg(env, kAck, 10, 20, 0);
  sk.input(with_ack, at(0_us));
  TcpSegment r1 = env.pop();
  CHECK(r1.flags == kRst);
  CHECK(r1.seq == 20);
  const auto data = pattern(5);
  TcpSegment no_ack = make_seg(env, kPsh, 10, 0, 0, data);
  sk.input(no_ack, at(0_us));
  TcpSegment r2 = env.pop();
  CHECK(r2.flags == (kRst | kAck));
  CHECK(r2.seq == 0);
  CHECK(r2.ack == 15);
}

TEST_CASE("tcp TIME-WAIT: a retransmitted FIN is acknowledged and restarts 2MSL", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  sk.close(at(1_ms));
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 2, 8000);
  sk.input(ack, at(2_ms));
  TcpSegment fin = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 2, 8000);
  sk.input(fin, at(3_ms));
  REQUIRE(sk.state() == TcpState::kTimeWait);
  env.clear();
  TcpSegment again = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 2, 8000);
  sk.input(again, at(30_s));
  CHECK(env.pop().ack == kPeerIss + 2);
  CHECK(sk.next_timer() == at(30_s) + 60_s);
  sk.on_timer(at(63_s));
  CHECK(sk.state() == TcpState::kTimeWait);
}

TEST_CASE("tcp FIN-WAIT-1: a FIN that also acknowledges ours goes straight to TIME-WAIT", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  sk.close(at(1_ms));
  TcpSegment finack = make_seg(env, kFin | kAck, kPeerIss + 1, kIss + 2, 8000);
  sk.input(finack, at(2_ms));
  CHECK(sk.state() == TcpState::kTimeWait);
}

TEST_CASE("tcp SYN-RECEIVED: close sends FIN (FIN-WAIT-1), a RST at RCV.NXT drops a passive child",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  {
    TcpSock child(env, plain_config());
    TcpSegment syn = make_seg(env, kSyn, kPeerIss, 0, 8000);
    child.accept_syn(syn, kIss, at(0_us));
    env.clear();
    child.close(at(1_us));
    CHECK(child.state() == TcpState::kFinWait1);
    TcpSegment fin = env.pop();
    CHECK((fin.flags & kFin) != 0);
  }
  env.clear();
  TcpSock listener(env, plain_config());
  TcpSock child(env, plain_config());
  child.parent = &listener;
  TcpSegment syn = make_seg(env, kSyn, kPeerIss, 0, 8000);
  child.accept_syn(syn, kIss, at(0_us));
  TcpSegment rst = make_seg(env, kRst, kPeerIss + 1, 0, 0);
  child.input(rst, at(1_us));
  CHECK(child.state() == TcpState::kClosed);
}

TEST_CASE("tcp SYN-SENT: close goes straight to CLOSED", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(kIss, at(0_us)) == 0);
  env.clear();
  sk.close(at(1_us));
  CHECK(sk.state() == TcpState::kClosed);
  CHECK(env.out.empty());
  CHECK_FALSE(sk.next_timer().has_value());
}

TEST_CASE("tcp FIN-WAIT-2: data still arrives and is readable after our FIN", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  (void)sk.shutdown_write(at(1_ms));
  TcpSegment ack = make_seg(env, kAck, kPeerIss + 1, kIss + 2, 8000);
  sk.input(ack, at(2_ms));
  REQUIRE(sk.state() == TcpState::kFinWait2);
  const auto data = pattern(300);
  TcpSegment d = make_seg(env, kAck, kPeerIss + 1, kIss + 2, 8000, data);
  sk.input(d, at(3_ms));
  std::vector<std::byte> got(300);
  CHECK(sk.recv(got, at(4_ms)) == 300);
  CHECK(got == data);
  CHECK(sk.send(data, at(5_ms)) == -EPIPE);  // shut down for writing
}
