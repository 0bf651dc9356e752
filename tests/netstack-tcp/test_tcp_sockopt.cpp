// The TcpSock calls behind setsockopt and recv flags: TCP_NODELAY pushes what Nagle holds,
// SO_RCVBUF shrunk below the queued bytes neither wraps nor pulls the window back, MSG_PEEK
// reads without consuming.
#include <catch2/catch.hpp>

#include <algorithm>
#include <span>

#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using namespace nicemu::testing;

TEST_CASE("tcp sockopt: turning TCP_NODELAY on sends the segment Nagle was holding", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto small = pattern(100);
  REQUIRE(sk.send(small, at(1_ms)) == 100);
  REQUIRE(sk.send(small, at(2_ms)) == 100);
  REQUIRE(env.out.size() == 1);  // the second 100 bytes wait for the first ACK
  env.clear();
  sk.set_nodelay(true, at(3_ms));
  REQUIRE(env.out.size() == 1);
  CHECK(env.out[0].seq == kIss + 101);
  CHECK(env.out[0].payload_len == 100);
  CHECK(sk.config().nodelay);
  env.clear();
  // Turning it off sends nothing and holds the next small write again.
  sk.set_nodelay(false, at(4_ms));
  CHECK(env.out.empty());
  REQUIRE(sk.send(small, at(5_ms)) == 100);
  CHECK(env.out.empty());
}

TEST_CASE("tcp sockopt: TCP_NODELAY before the connection is up sends nothing", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  sk.set_nodelay(true, at(0_us));
  CHECK(env.out.empty());
  CHECK(sk.state() == TcpState::kClosed);
}

TEST_CASE("tcp sockopt: a receive buffer shrunk below the queued bytes keeps the window edge and sends no "
          "spurious window update",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());  // rcvbuf 65535, no window scaling
  open_active(env, sk);
  const auto data = pattern(3000);
  TcpSegment s = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 65535, data);
  sk.input(s, at(1_ms));
  sk.on_timer(at(50_ms));  // the delayed ACK
  REQUIRE(env.out.size() == 1);
  const std::uint32_t right_edge = env.out[0].ack + env.out[0].window;
  env.clear();
  sk.set_rcvbuf(1000);  // below the 3000 queued bytes
  std::vector<std::byte> buf(100);
  CHECK(sk.recv(buf, at(60_ms)) == 100);
  CHECK(env.out.empty());  // 900 bytes of "free space" would have been 4 GB with a wrap
  // The next ACK still offers the promised right edge.
  TcpSegment more = make_seg(env, kAck, kPeerIss + 1 + 3000, kIss + 1, 65535, pattern(10));
  sk.input(more, at(61_ms));
  sk.on_timer(at(200_ms));
  REQUIRE_FALSE(env.out.empty());
  const TcpSegment& a = env.out.back();
  CHECK(a.ack + a.window >= right_edge);
}

TEST_CASE("tcp sockopt: peek copies from any offset without consuming, recv then reads the same bytes",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  const auto peek = [&sk](std::uint32_t offset, std::span<std::byte> out) {
    return sk.recvmsg(out, nullptr, at(0_ms), nullptr, TcpSock::RecvMode::kPeek, offset);
  };
  std::vector<std::byte> none(10);
  CHECK(peek(0, none) == -EAGAIN);  // nothing received yet
  const auto data = pattern(2000);
  TcpSegment s1 = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 65535, std::span(data).first(1200));
  sk.input(s1, at(1_ms));
  TcpSegment s2 = make_seg(env, kAck, kPeerIss + 1 + 1200, kIss + 1, 65535, std::span(data).subspan(1200));
  sk.input(s2, at(2_ms));
  std::vector<std::byte> p(1500);
  REQUIRE(peek(100, p) == 1500);  // spans both skbs
  CHECK(std::equal(p.begin(), p.end(), data.begin() + 100));
  CHECK(sk.bytes_readable() == 2000);
  std::vector<std::byte> all(4000);
  REQUIRE(sk.recv(std::span(all).first(700), at(3_ms)) == 700);
  REQUIRE(peek(1000, p) == 300);  // only 1300 unread bytes are left
  CHECK(std::equal(p.begin(), p.begin() + 300, data.begin() + 1700));
  REQUIRE(sk.recv(std::span(all).subspan(700), at(4_ms)) == 1300);
  all.resize(2000);
  CHECK(all == data);
}

// Send-buffer autotuning (kernel: tcp_init_buffer_space / tcp_sndbuf_expand / tcp_new_space).
// per-MSS memory for MSS 1460: roundup_pow_of_two(1460 + 320 + 320) + 256 = 4352 bytes.
TEST_CASE("tcp sockopt: the send buffer starts at tcp_wmem[1] and is sized to 2 x 10 segments at establishment",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  CHECK(sk.config().sndbuf == 16384);  // net.ipv4.tcp_wmem[1]
  open_active(env, sk);
  CHECK(sk.config().sndbuf == 2 * 10 * 4352);  // 87040, as ss -m shows for a fresh Ethernet socket
  CHECK_FALSE(sk.config().sndbuf_locked);
}

TEST_CASE("tcp sockopt: the send buffer grows with the congestion window, up to tcp_wmem[2]",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpConfig cfg = plain_config();
  cfg.window_scaling = true;
  cfg.sndbuf_max = 200000;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().win(65535).ws(7));
  const auto data = pattern(400000);
  std::uint32_t queued = static_cast<std::uint32_t>(sk.send(data, at(1_ms)));
  CHECK(queued == 87040);  // the buffer, charged in payload bytes
  std::uint32_t acked = kIss + 1;
  std::uint32_t last_sndbuf = sk.config().sndbuf;
  for (int round = 0; round < 4; ++round) {
    // ACK all that is in flight: slow start doubles cwnd, and with the window not full the
    // buffer is expanded to 2 x cwnd segments.
    std::uint32_t sent = 0;
    for (auto& s : env.out) sent += s.payload_len;
    env.clear();
    acked += sent;
    TcpSegment a = ack_of(env, acked, 65535);
    sk.input(a, at(2_ms + sim::Duration::from_ms(round)));
    INFO("round " << round << " cwnd " << sk.snd_cwnd());
    const std::uint64_t want = std::min<std::uint64_t>(2ull * sk.snd_cwnd() * 4352, 200000);
    CHECK(sk.config().sndbuf == std::max<std::uint64_t>(want, last_sndbuf));
    CHECK(sk.config().sndbuf >= last_sndbuf);  // never shrinks
    last_sndbuf = sk.config().sndbuf;
    queued += static_cast<std::uint32_t>(std::max(0, sk.send(std::span(data).subspan(queued), at(3_ms))));
  }
  CHECK(sk.snd_cwnd() > 20);
  CHECK(sk.config().sndbuf == 200000);  // capped
}

TEST_CASE("tcp sockopt: SO_SNDBUF locks the send buffer: ACKs no longer grow it", "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, plain_config());
  open_active(env, sk);
  sk.set_sndbuf(30000);
  CHECK(sk.config().sndbuf_locked);
  const auto data = pattern(100000);
  REQUIRE(sk.send(data, at(1_ms)) == 30000);
  std::uint32_t sent = 0;
  for (auto& s : env.out) sent += s.payload_len;
  env.clear();
  TcpSegment a = ack_of(env, kIss + 1 + sent, 65535);
  sk.input(a, at(2_ms));
  CHECK(sk.snd_cwnd() > 10);
  CHECK(sk.config().sndbuf == 30000);
}
