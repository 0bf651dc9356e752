// GSO on transmit: with a TSO device, full-sized new segments that may go at once leave as one
// skb of several segments (gso_size = MSS) under one header, as the kernel's tcp_write_xmit
// sends TSO skbs; the scoreboard stays one skb per segment, so retransmissions are single
// segments. Without TSO nothing changes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <span>

#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using namespace nicemu::testing;

namespace {

TcpConfig gso_config() {
  TcpConfig c = plain_config();
  c.window_scaling = true;
  c.sndbuf = 1u << 20;
  c.sndbuf_locked = true;
  return c;
}

// A connection whose route's device has the given TSO limits, established with a peer that
// offers a 64 KiB window scaled by 2^7.
struct Connection {
  TcpTestEnv env;
  std::unique_ptr<TcpSock> sock;
  explicit Connection(TcpSockEnv::GsoCaps caps) {
    env.gso = caps;
    sock = std::make_unique<TcpSock>(env, gso_config());
    open_active(env, *sock, kIss, kPeerIss, PeerOpts().win(65535).ws(7));
  }
};

std::uint32_t payload_sum(const TcpTestEnv& env) {
  std::uint32_t n = 0;
  for (const auto& s : env.out) n += s.payload_len;
  return n;
}

}  // namespace

TEST_CASE("tcp gso: with TSO the initial window leaves as GSO skbs of up to 44 segments, byte-exact",
          "[netstack][tcp][unit]") {
  Connection c({65536, 65535});
  TcpTestEnv& env = c.env;
  TcpSock& sk = *c.sock;
  const auto data = pattern(100000);
  REQUIRE(sk.send(data, at(1_ms)) == 100000);
  // cwnd 10: ten segments of 1460 in one GSO skb (65535 - 321 bytes allow 44).
  REQUIRE(env.out.size() == 1);
  const TcpSegment& g = env.out[0];
  CHECK(g.seq == kIss + 1);
  CHECK(g.gso_size == 1460);
  CHECK(g.payload_len == 14600);
  CHECK((g.flags & kPsh) == 0);  // more data queued behind
  CHECK(g.skb->nr_frags() <= netstack::core::kMaxSkbFrags);
  const auto bytes = TcpTestEnv::payload(g);
  CHECK(std::equal(bytes.begin(), bytes.end(), data.begin()));
  CHECK(sk.packets_out() == 10);     // counted per segment
  CHECK(sk.stats().segs_out >= 10);  // as tcp_skb_pcount() counts
  CHECK(sk.stats().gso_skbs_out == 1);
}

TEST_CASE("tcp gso: without TSO every segment is its own skb", "[netstack][tcp][unit]") {
  Connection c({});  // no TSO
  TcpTestEnv& env = c.env;
  TcpSock& sk = *c.sock;
  const auto data = pattern(100000);
  REQUIRE(sk.send(data, at(1_ms)) == 100000);
  REQUIRE(env.out.size() == 10);
  for (const auto& s : env.out) {
    CHECK(s.gso_size == 0);
    CHECK(s.payload_len == 1460);
  }
  CHECK(sk.stats().gso_skbs_out == 0);
}

TEST_CASE("tcp gso: the size goal is gso_max_size less MAX_TCP_HEADER, gso_max_segs and half the peer's window",
          "[netstack][tcp][unit]") {
  struct Case {
    TcpSockEnv::GsoCaps caps;
    std::uint16_t peer_window;  // unscaled, with wscale 0 below
    std::uint32_t want_segs;    // segments in the first GSO skb (cwnd 10, 14600 bytes queued)
  };
  for (const Case c : {Case{{65536, 65535}, 65535, 10}, Case{{8000, 65535}, 65535, 5},
                       Case{{65536, 3}, 65535, 3}, Case{{65536, 65535}, 8000, 2}, Case{{65536, 1}, 65535, 1}}) {
    CAPTURE(c.caps.max_size, c.caps.max_segs, c.peer_window);
    TcpTestEnv env;
    env.gso = c.caps;
    TcpConfig cfg = gso_config();
    cfg.window_scaling = false;
    TcpSock sk(env, cfg);
    open_active(env, sk, kIss, kPeerIss, PeerOpts().win(c.peer_window));
    const auto data = pattern(14600);
    REQUIRE(sk.send(data, at(1_ms)) > 0);
    REQUIRE(!env.out.empty());
    const TcpSegment& first = env.out[0];
    CHECK(first.payload_len == c.want_segs * 1460);
    CHECK(first.gso_size == (c.want_segs > 1 ? 1460u : 0u));
  }
}

TEST_CASE("tcp gso: a short tail and a FIN leave on their own, with PSH on the last data",
          "[netstack][tcp][unit]") {
  Connection c({65536, 65535});
  TcpTestEnv& env = c.env;
  TcpSock& sk = *c.sock;
  const auto data = pattern(3 * 1460 + 100);
  REQUIRE(sk.send(data, at(1_ms)) == static_cast<int>(data.size()));
  REQUIRE(env.out.size() == 2);
  CHECK(env.out[0].gso_size == 1460);
  CHECK(env.out[0].payload_len == 3 * 1460);
  CHECK((env.out[0].flags & kPsh) == 0);
  CHECK(env.out[1].gso_size == 0);
  CHECK(env.out[1].payload_len == 100);
  CHECK((env.out[1].flags & kPsh) != 0);
  CHECK(payload_sum(env) == data.size());
}

TEST_CASE("tcp gso: a lost segment of a GSO skb is retransmitted alone after three duplicate ACKs",
          "[netstack][tcp][unit]") {
  Connection c({65536, 65535});
  TcpTestEnv& env = c.env;
  TcpSock& sk = *c.sock;
  const auto data = pattern(10 * 1460);
  REQUIRE(sk.send(data, at(1_ms)) == static_cast<int>(data.size()));
  REQUIRE(env.out.size() == 1);
  env.clear();
  // The peer got segments 1 and 3..: it acknowledges segment 1 and repeats that ACK.
  TcpSegment a = ack_of(env, kIss + 1 + 1460, 65535);
  sk.input(a, at(2_ms));
  env.clear();
  for (int i = 0; i < 3; ++i) {
    TcpSegment d = ack_of(env, kIss + 1 + 1460, 65535);
    sk.input(d, at(3_ms));
  }
  REQUIRE(!env.out.empty());
  const TcpSegment& r = env.out[0];
  CHECK(r.seq == kIss + 1 + 1460);
  CHECK(r.payload_len == 1460);
  CHECK(r.gso_size == 0);
  CHECK(sk.stats().fast_retransmits == 1);
  const auto bytes = TcpTestEnv::payload(r);
  CHECK(std::equal(bytes.begin(), bytes.end(), data.begin() + 1460));
}
