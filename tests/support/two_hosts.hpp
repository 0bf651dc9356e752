// Two NetStacks joined by a veth-like link that can drop, corrupt, duplicate and reorder
// frames, driven by a manual event loop. Frames cross as skbs (as veth hands skbs over); a
// corrupted frame is copied first so the sender's retransmission data stays intact.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/sim/random.hpp"

namespace nicemu::testing {

struct LinkFaults {
  double drop = 0, corrupt = 0, dup = 0, reorder = 0;
};

class VethDevice final : public netstack::core::NetDevice {
 public:
  using Sink = std::function<void(netstack::core::SkBuff*)>;
  VethDevice(std::string name, Sink sink) : NetDevice(std::move(name), 1, 1), sink_(std::move(sink)) {}
  netstack::core::NetdevTx start_xmit(netstack::core::SkBuff* skb) override {
    sink_(skb);
    return netstack::core::NetdevTx::kOk;
  }

 protected:
  int ndo_open() override { return 0; }
  int ndo_stop() override { return 0; }

 private:
  Sink sink_;
};

class TwoHosts {
 public:
  explicit TwoHosts(std::uint64_t seed = 1, LinkFaults faults = {}, netstack::inet::StackConfig base = {})
      : rng_(sim::RandomStreams(seed).stream("two-hosts-link")), faults_(faults) {
    for (int i = 0; i < 2; ++i) {
      netstack::inet::StackConfig c = base;
      c.seed = seed * 2 + static_cast<std::uint64_t>(i);
      host_[i].memory = std::make_unique<netmem::HostMemory>();
      host_[i].dev = std::make_unique<VethDevice>(i == 0 ? "veth0" : "veth1",
                                                  [this, i](netstack::core::SkBuff* skb) { send(i, skb); });
      host_[i].stack = std::make_unique<netstack::inet::NetStack>(*host_[i].memory, ctx_, c);
    }
    for (int i = 0; i < 2; ++i) {
      const std::size_t ifc = stack(i).add_interface(*host_[i].dev, mac(i), addr(i), 24);
      stack(i).add_address(ifc, addr6(i), 64);
    }
  }
  ~TwoHosts() {
    for (auto& [k, v] : q_) netstack::core::kfree_skb(v.second);
    for (auto& h : host_) h.stack->clear();
  }

  static netstack::wire::MacAddress mac(int i) { return netstack::wire::MacAddress{{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(i + 1)}}; }
  static netstack::wire::Ipv4Address addr(int i) { return netstack::wire::Ipv4Address{{192, 0, 2, static_cast<std::uint8_t>(i + 1)}}; }
  // 2001:db8::1 and 2001:db8::2 (RFC 3849 documentation prefix), /64.
  static netstack::wire::Ipv6Address addr6(int i) {
    netstack::wire::Ipv6Address a{{0x20, 0x01, 0x0d, 0xb8}};
    a.octets[15] = static_cast<std::uint8_t>(i + 1);
    return a;
  }
  netstack::inet::NetStack& stack(int i) { return *host_[i].stack; }
  netmem::HostMemory& memory(int i) { return *host_[i].memory; }
  netstack::core::NetDevice& dev(int i) { return *host_[i].dev; }
  sim::TimePoint now() const { return now_; }

  // Runs events (frame deliveries, stack timers) until `done()` or `limit`; returns done().
  template <class Done>
  bool run_until(Done&& done, sim::TimePoint limit) {
    while (!done()) {
      std::optional<sim::TimePoint> next;
      if (!q_.empty()) next = q_.begin()->first.first;
      for (int i = 0; i < 2; ++i) {
        if (auto t = stack(i).poll_at(); t && (!next || *t < *next)) next = t;
      }
      if (!next || *next > limit) return done();
      now_ = std::max(now_, *next);
      if (!q_.empty() && q_.begin()->first.first <= now_) {
        auto it = q_.begin();
        auto [to, skb] = it->second;
        q_.erase(it);
        stack(to).receive(dev(to), skb, now_);
      }
      for (int i = 0; i < 2; ++i) {
        if (auto t = stack(i).poll_at(); t && *t <= now_) stack(i).poll(now_);
      }
    }
    return true;
  }
  void advance(sim::Duration d) { now_ += d; }

  std::uint64_t frames = 0, dropped = 0, corrupted = 0;
  // A test's own drops: a frame from host `from` for which it returns true is dropped (counted
  // in `dropped`) before the random faults apply.
  std::function<bool(int from, const netstack::core::SkBuff& frame)> drop_if;

  // The TCP flags and source port of an Ethernet + IPv4 (no options) + TCP frame; nullopt for
  // anything else.
  struct TcpFrame {
    std::uint8_t flags = 0;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t payload = 0;
  };
  static std::optional<TcpFrame> tcp_frame(const netstack::core::SkBuff& skb) {
    std::byte h[14 + 20 + 20];
    if (skb.len() < sizeof h || netstack::core::skb_copy_bits(skb, 0, h, sizeof h) != 0) return std::nullopt;
    auto u8 = [&](int i) { return std::to_integer<std::uint8_t>(h[i]); };
    if (u8(12) != 0x08 || u8(13) != 0x00 || u8(14) != 0x45 || u8(14 + 9) != 6) return std::nullopt;
    TcpFrame f;
    f.sport = static_cast<std::uint16_t>(u8(34) << 8 | u8(35));
    f.dport = static_cast<std::uint16_t>(u8(36) << 8 | u8(37));
    f.flags = u8(34 + 13);
    const auto doff = static_cast<std::uint32_t>(u8(34 + 12) >> 4) * 4;
    f.payload = skb.len() - 34 - doff;
    return f;
  }

 private:
  struct Host {
    std::unique_ptr<netmem::HostMemory> memory;
    std::unique_ptr<VethDevice> dev;
    std::unique_ptr<netstack::inet::NetStack> stack;
  };
  static constexpr sim::Duration kDelay = sim::Duration::from_us(10);

  void send(int from, netstack::core::SkBuff* skb) {
    ++frames;
    const int to = from ^ 1;
    if (drop_if && drop_if(from, *skb)) {
      ++dropped;
      netstack::core::kfree_skb(skb);
      return;
    }
    if (rng_.bernoulli(faults_.drop)) {
      ++dropped;
      netstack::core::kfree_skb(skb);
      return;
    }
    if (rng_.bernoulli(faults_.corrupt)) {
      // What travels on a wire carries finished checksums (a NIC with offload fills them).
      if (skb->ip_summed == netstack::core::IpSummed::kPartial) (void)netstack::core::skb_checksum_help(*skb);
      netstack::core::SkBuff* copy = netstack::core::skb_copy(*skb, host_[from].memory.get());
      netstack::core::kfree_skb(skb);
      if (copy == nullptr) return;
      const auto at = static_cast<int>(rng_.uniform(copy->len()));
      std::byte b{};
      (void)netstack::core::skb_copy_bits(*copy, at, &b, 1);
      b ^= std::byte{0x5a};
      (void)netstack::core::skb_store_bits(*copy, at, &b, 1);
      ++corrupted;
      skb = copy;
    }
    if (rng_.bernoulli(faults_.dup)) {
      if (auto* d = netstack::core::skb_clone(*skb)) push(to, d, now_ + kDelay);
    }
    push(to, skb, now_ + kDelay + (rng_.bernoulli(faults_.reorder) ? sim::Duration::from_us(50) : sim::Duration{}));
  }
  void push(int to, netstack::core::SkBuff* skb, sim::TimePoint t) { q_.emplace(std::make_pair(t, seq_++), std::make_pair(to, skb)); }

  page_pool::CallerContext ctx_;
  sim::Rng rng_;
  LinkFaults faults_;
  Host host_[2];
  sim::TimePoint now_;
  std::uint64_t seq_ = 0;
  std::map<std::pair<sim::TimePoint, std::uint64_t>, std::pair<int, netstack::core::SkBuff*>> q_;
};

}  // namespace nicemu::testing
