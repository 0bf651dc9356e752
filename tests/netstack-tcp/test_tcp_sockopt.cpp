// The TcpSock calls behind setsockopt and recv flags: TCP_NODELAY pushes what Nagle holds,
// SO_RCVBUF shrunk below the queued bytes neither wraps nor pulls the window back, MSG_PEEK
// reads without consuming.
#include <catch2/catch.hpp>

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
  std::vector<std::byte> none(10);
  CHECK(sk.peek(0, none) == 0);
  const auto data = pattern(2000);
  TcpSegment s1 = make_seg(env, kAck, kPeerIss + 1, kIss + 1, 65535, std::span(data).first(1200));
  sk.input(s1, at(1_ms));
  TcpSegment s2 = make_seg(env, kAck, kPeerIss + 1 + 1200, kIss + 1, 65535, std::span(data).subspan(1200));
  sk.input(s2, at(2_ms));
  std::vector<std::byte> p(1500);
  REQUIRE(sk.peek(100, p) == 1500);  // spans both skbs
  CHECK(std::equal(p.begin(), p.end(), data.begin() + 100));
  CHECK(sk.bytes_readable() == 2000);
  std::vector<std::byte> all(4000);
  REQUIRE(sk.recv(std::span(all).first(700), at(3_ms)) == 700);
  REQUIRE(sk.peek(1000, p) == 300);  // only 1300 unread bytes are left
  CHECK(std::equal(p.begin(), p.begin() + 300, data.begin() + 1700));
  REQUIRE(sk.recv(std::span(all).subspan(700), at(4_ms)) == 1300);
  all.resize(2000);
  CHECK(all == data);
}
