// Two emulated hosts (app::Host: NIC silicon + driver + stack + CPUs) joined by one link, for
// driver tests: a TCP transfer through the sockets with every byte checked, driven by the event
// queue. Profiles come from configs/nics/ with the test's changes.
#pragma once

#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "nicemu/app/host.hpp"
#include "nicemu/app/nic_profile_loader.hpp"
#include "nicemu/netstack/core/ethtool_core.hpp"
#include "nicemu/netstack/socket/constants.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/sim/random.hpp"

namespace nicemu::testing {

inline nic::hw::NicProfile load_profile(const std::string& name) {
  auto r = app::load_nic_profile(std::string(NICEMU_CONFIGS_DIR) + "/nics/" + name + ".yaml");
  REQUIRE(r.has_value());
  return r.value();
}

struct DriverTestbed {
  explicit DriverTestbed(nic::hw::NicProfile profile, std::uint32_t channels = 4, bool split = true,
                         std::uint64_t seed = 1, nic::hw::LinkConfig link_cfg = {})
      : streams(seed), link(events, streams, "ab", link_cfg) {
    for (int i = 0; i < 2; ++i) {
      const app::HostConfig c = app::two_host_config(i, profile, channels, seed);
      nic::hw::SteeringConfig sc;
      sc.rx_queues = channels;
      sc.max_rx_queues = profile.channels.max_queues;
      auto steering = nic::hw::Steering::create(sc);
      REQUIRE(steering.has_value());
      hosts[i] = std::make_unique<app::Host>(events, link.port(i), frames, c, std::move(*steering));
      if (split) {
        netstack::core::RingsRequest req;
        req.tcp_data_split = netstack::core::TcpDataSplit::kEnabled;
        // hds-thresh only where the device takes it (ETHTOOL_RING_USE_HDS_THRS, hds-thresh-max
        // above 0: bnxt); gve and mlx5 refuse the attribute with -EOPNOTSUPP (ncdevmem likewise
        // sends it only "if supported").
        if (profile.header_split.hds_thresh_max > 0) req.hds_thresh = 0;
        REQUIRE(netstack::core::ethtool_set_rings(hosts[i]->nic(), req) == 0);
      }
    }
  }
  ~DriverTestbed() {
    for (auto& h : hosts) h.reset();
  }
  static netstack::wire::Ipv4Address addr(int i) {
    return netstack::wire::Ipv4Address{{10, 0, 0, static_cast<std::uint8_t>(i + 1)}};
  }
  app::Host& a() { return *hosts[0]; }
  app::Host& b() { return *hosts[1]; }

  // One TCP connection a -> b on `port` moving `bytes` of a pattern; returns bytes received and
  // checked. Every byte is compared; `mismatches` counts the wrong ones.
  struct Transfer {
    int lfd = -1, cfd = -1, sfd = -1;
    std::uint64_t sent = 0, received = 0, mismatches = 0;
    bool eof = false;
  };
  static std::byte pattern(std::uint64_t off, std::uint16_t port) {
    return static_cast<std::byte>((off * 131 + (off >> 8) * 7 + port) & 0xff);
  }
  Transfer start_transfer(std::uint16_t port) {
    namespace s = netstack::socket;
    Transfer t;
    auto& bs = b().sockets();
    auto& as = a().sockets();
    t.lfd = bs.socket(s::kAF_INET, s::kSOCK_STREAM | s::kSOCK_NONBLOCK, 0);
    REQUIRE(t.lfd >= 0);
    REQUIRE(bs.bind(t.lfd, s::SockAddr{addr(1), port}) == 0);
    REQUIRE(bs.listen(t.lfd, 16) == 0);
    t.cfd = as.socket(s::kAF_INET, s::kSOCK_STREAM | s::kSOCK_NONBLOCK, 0);
    REQUIRE(t.cfd >= 0);
    const int r = as.connect(t.cfd, s::SockAddr{addr(1), port}, events.now());
    REQUIRE((r == 0 || r == -EINPROGRESS));
    return t;
  }
  // Pumps a transfer: sends what fits, reads what came, until `bytes` arrived or `limit`.
  bool run_transfer(Transfer& t, std::uint16_t port, std::uint64_t bytes, sim::Duration limit) {
    std::vector<std::byte> buf(64 * 1024);
    const sim::TimePoint end = events.now() + limit;
    auto pump = [&] {
      auto& as = a().sockets();
      auto& bs = b().sockets();
      const sim::TimePoint now = events.now();
      if (t.sfd < 0) t.sfd = bs.accept4(t.lfd, nullptr, netstack::socket::kSOCK_NONBLOCK);
      while (t.sent < bytes) {
        const std::uint64_t n = std::min<std::uint64_t>(buf.size(), bytes - t.sent);
        for (std::uint64_t i = 0; i < n; ++i) buf[i] = pattern(t.sent + i, port);
        const auto w = as.send(t.cfd, {buf.data(), n}, 0, now);
        if (w <= 0) break;
        t.sent += static_cast<std::uint64_t>(w);
      }
      if (t.sfd >= 0) {
        for (;;) {
          const auto rd = bs.recv(t.sfd, buf, 0, now);
          if (rd <= 0) break;
          for (std::int64_t i = 0; i < rd; ++i) {
            if (buf[static_cast<std::size_t>(i)] != pattern(t.received + static_cast<std::uint64_t>(i), port)) ++t.mismatches;
          }
          t.received += static_cast<std::uint64_t>(rd);
        }
      }
    };
    while (t.received < bytes && events.now() < end) {
      pump();
      a().kick();
      b().kick();
      if (!events.run_one()) break;
    }
    pump();
    return t.received == bytes;
  }
  void close_transfer(Transfer& t) {
    const sim::TimePoint now = events.now();
    if (t.cfd >= 0) a().sockets().close(t.cfd, now);
    if (t.sfd >= 0) b().sockets().close(t.sfd, now);
    if (t.lfd >= 0) b().sockets().close(t.lfd, now);
    t = Transfer{};
  }
  void run_for(sim::Duration d) { events.run_until(events.now() + d); }
  // Runs events, calling step(now) before each, until step returns true or `limit` passes.
  template <class Step>
  bool run_until(Step&& step, sim::Duration limit) {
    const sim::TimePoint end = events.now() + limit;
    for (;;) {
      if (step(events.now())) return true;
      if (events.now() >= end) return false;
      a().kick();
      b().kick();
      if (!events.run_one()) return step(events.now());
    }
  }

  sim::EventQueue events;
  sim::RandomStreams streams;
  nic::hw::FramePool frames;
  nic::hw::Link link;
  std::unique_ptr<app::Host> hosts[2];
};

}  // namespace nicemu::testing
