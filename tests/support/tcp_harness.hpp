// A TCP harness with a manual clock: a test hands segments to a TcpSock and inspects the
// segments it sends, or joins two sockets through a pipe with loss, reordering and delay.
#pragma once

#include <cstring>
#include <deque>
#include <functional>
#include <span>
#include <vector>

#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/tcp/tcp_sock.hpp"
#include "nicemu/sim/time.hpp"

#include <catch2/catch.hpp>
#include <optional>

namespace nicemu::testing {

using netstack::tcp::TcpSegment;
using netstack::tcp::TcpSock;
using netstack::tcp::TcpState;

class TcpTestEnv : public netstack::tcp::TcpSockEnv {
 public:
  explicit TcpTestEnv(netmem::HostMemoryConfig memory_config = {}) : memory(memory_config), skbs(ctx) {}
  ~TcpTestEnv() { clear(); }

  netstack::core::SkBuff* tcp_alloc_skb() override { return skbs.alloc(); }
  netmem::HostMemory& tcp_memory() override { return memory; }
  void tcp_output(TcpSock&, TcpSegment& seg, sim::TimePoint) override {
    out.push_back(seg);
    seg.skb = nullptr;
  }
  void tcp_state_change(TcpSock& sk, TcpState) override { states.push_back(sk.state()); }
  GsoCaps tcp_gso_caps(const TcpSock&) override { return gso; }

  // Takes the oldest sent segment (the caller then owns its skb).
  TcpSegment pop() {
    NICEMU_ASSERT(!out.empty(), "TcpTestEnv::pop: nothing was sent");
    TcpSegment s = out.front();
    out.pop_front();
    return s;
  }
  void clear() {
    for (auto& s : out) netstack::core::kfree_skb(s.skb);
    out.clear();
  }
  // The payload bytes of a sent segment.
  static std::vector<std::byte> payload(const TcpSegment& s) {
    std::vector<std::byte> v(s.payload_len);
    if (s.skb != nullptr && s.payload_len > 0) {
      NICEMU_ASSERT(netstack::core::skb_copy_bits(*s.skb, 0, v.data(), static_cast<int>(v.size())) == 0,
                    "payload copy failed");
    }
    return v;
  }

  netmem::HostMemory memory;
  page_pool::CallerContext ctx;
  netstack::core::SkbAllocator skbs;
  std::deque<TcpSegment> out;
  std::vector<TcpState> states;
  GsoCaps gso;  // the "device" TSO limits the socket reads at establishment; none by default
};

// A segment from the peer, with `payload` bytes in the skb's linear area (or in host-page frags
// when longer than the head).
inline TcpSegment make_seg(TcpTestEnv& env, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                           std::uint16_t window, std::span<const std::byte> payload = {}) {
  TcpSegment s;
  s.sport = 80;
  s.dport = 1000;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.window = window;
  s.payload_len = static_cast<std::uint32_t>(payload.size());
  if (!payload.empty()) {
    netstack::core::SkBuff* skb = env.skbs.alloc();
    std::size_t done = 0;
    const std::size_t lin = std::min<std::size_t>(payload.size(), skb->tailroom());
    std::memcpy(skb->put(static_cast<std::uint32_t>(lin)), payload.data(), lin);
    done = lin;
    while (done < payload.size()) {
      netmem::Page* page = env.memory.alloc_pages(0);
      const std::size_t n = std::min<std::size_t>(payload.size() - done, netmem::kPageSize);
      std::memcpy(netmem::page_address(*page).data(), payload.data() + done, n);
      skb->add_rx_frag(netmem::NetmemRef::from_page(*page), 0, static_cast<std::uint32_t>(n),
                       static_cast<std::uint32_t>(n));
      done += n;
    }
    s.skb = skb;
  }
  return s;
}

inline std::vector<std::byte> pattern(std::size_t n, std::uint64_t start = 0) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((start + i) * 7 + ((start + i) >> 8));
  return v;
}

using namespace netstack::tcp;  // NOLINT: test support, read like the tests
using namespace sim::literals;   // NOLINT

// ---- scripted-test helpers shared by the tcp tests ---------------------------------------------
// Times from the start of the test; our ISS and the peer's; a config without options (so tests
// see plain segments), immediate delayed ACKs off, NewReno.
inline sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }

inline constexpr std::uint32_t kIss = 1000;
inline constexpr std::uint32_t kPeerIss = 5000;

inline TcpConfig plain_config() {
  TcpConfig c;
  c.timestamps = false;
  c.sack = false;
  c.window_scaling = false;
  c.rcvbuf = 65535;
  c.quickacks = 0;
  c.congestion = CongestionAlgo::kNewReno;
  return c;
}

struct PeerOpts {
  std::uint16_t window = 65535;
  bool sack = false;
  std::optional<std::uint8_t> wscale;
  std::optional<std::uint32_t> tsval;  // peer offers timestamps with this TSval
  PeerOpts& win(std::uint16_t w) { window = w; return *this; }
  PeerOpts& sack_on() { sack = true; return *this; }
  PeerOpts& ws(std::uint8_t v) { wscale = v; return *this; }
  PeerOpts& ts(std::optional<std::uint32_t> v) { tsval = v; return *this; }
};

// Active open: SYN out, SYN-ACK in at 10 µs, ACK out. Leaves env.out empty.
inline void open_active(TcpTestEnv& env, TcpSock& sk, std::uint32_t iss = kIss, std::uint32_t peer_iss = kPeerIss,
                 PeerOpts p = {}) {
  sk.set_ports(1000, 80);
  REQUIRE(sk.connect(iss, at(0_us)) == 0);
  TcpSegment syn = env.pop();
  env.clear();
  TcpSegment synack = make_seg(env, kSyn | kAck, peer_iss, iss + 1, p.window);
  synack.opt.mss = 1460;
  synack.opt.sack_permitted = p.sack;
  synack.opt.window_scale = p.wscale;
  if (p.tsval && syn.opt.timestamps) synack.opt.timestamps = TcpTimestamps{*p.tsval, syn.opt.timestamps->tsval};
  sk.input(synack, at(10_us));
  REQUIRE(sk.state() == TcpState::kEstablished);
  env.clear();
}

inline TcpSegment ack_of(TcpTestEnv& env, std::uint32_t ack, std::uint16_t window = 65535, std::uint32_t seq = kPeerIss + 1) {
  return make_seg(env, kAck, seq, ack, window);
}


}  // namespace nicemu::testing
