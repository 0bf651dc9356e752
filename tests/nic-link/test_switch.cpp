// The store-and-forward switch: flooding and learning, filtering, store-and-forward timing,
// output-buffer drops per port, egress refusals, ageing and station moves, determinism.
#include <catch2/catch.hpp>

#include <cerrno>
#include <memory>

#include "link_fixtures.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/nic/hw/switch.hpp"
#include "nicemu/sim/trace_digest.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;
using netstack::wire::MacAddress;
using nicemu::testing::at;
using nicemu::testing::at_ps;
using nicemu::testing::mac;
using nicemu::testing::make_frame;
using nicemu::testing::Receiver;

namespace {

// Host i (MAC 02:00:00:00:00:0<i+1>) is end 0 of link i; the switch holds end 1 as its port i.
// Members are declared so that receivers, switch, links, queue and pool go in that order.
struct Star {
  Star(std::vector<LinkConfig> link_cfgs, const SwitchConfig& sc, std::uint64_t seed = 1, bool with_digest = false)
      : streams(seed) {
    for (std::size_t i = 0; i < link_cfgs.size(); ++i) {
      link_cfgs[i].trace_id = static_cast<std::uint32_t>(i);
      links.push_back(std::make_unique<Link>(q, streams, "link" + std::to_string(i), link_cfgs[i],
                                             with_digest ? &digest : nullptr));
    }
    sw = std::make_unique<Switch>(q, "sw0", sc, with_digest ? &digest : nullptr);
    for (auto& l : links) {
      auto r = sw->attach(l->port(1));
      REQUIRE(r);
    }
    for (auto& l : links) rx.push_back(std::make_unique<Receiver>(q, l->port(0)));
  }
  Star(std::size_t hosts, const SwitchConfig& sc, const LinkConfig& lc = LinkConfig{})
      : Star(std::vector<LinkConfig>(hosts, lc), sc) {}

  Port& host(std::size_t i) { return links[i]->port(0); }
  void send(std::size_t from, MacAddress dst, std::size_t len = 1514) {
    REQUIRE(host(from).transmit(make_frame(pool, len, dst, mac(static_cast<std::uint8_t>(from + 1)))));
  }
  void check_idle() {
    CHECK(q.empty());
    CHECK(sw->frames_in_pipeline() == 0);
    for (auto& l : links) CHECK(l->frames_held() == 0);
  }

  FramePool pool;
  sim::EventQueue q;
  sim::TraceDigest digest;
  sim::RandomStreams streams;
  std::vector<std::unique_ptr<Link>> links;
  std::unique_ptr<Switch> sw;
  std::vector<std::unique_ptr<Receiver>> rx;
};

LinkConfig link_100g() {
  LinkConfig c;
  c.propagation_delay = 50_ns;
  return c;
}

SwitchConfig switch_500ns() {
  SwitchConfig s;
  s.forwarding_latency = 500_ns;
  return s;
}

}  // namespace

TEST_CASE("switch: an unknown destination floods to every port but the ingress, a learned one goes to one port",
          "[nic][hw][switch][unit]") {
  Star s(3, switch_500ns(), link_100g());
  s.send(0, mac(2));  // A -> B: B unknown, flooded to B and C
  s.q.run_until_idle();
  CHECK(s.rx[1]->frames.size() == 1);
  CHECK(s.rx[2]->frames.size() == 1);
  CHECK(s.rx[0]->frames.empty());
  CHECK(s.sw->lookup(mac(1)) == std::optional<std::size_t>(0));
  CHECK(s.rx[1]->frames[0].bytes == s.rx[2]->frames[0].bytes);

  s.send(1, mac(1));  // B -> A: A known, only A gets it
  s.q.run_until_idle();
  CHECK(s.rx[0]->frames.size() == 1);
  CHECK(s.rx[2]->frames.size() == 1);

  s.send(0, mac(2));  // A -> B: B now known
  s.q.run_until_idle();
  CHECK(s.rx[1]->frames.size() == 2);
  CHECK(s.rx[2]->frames.size() == 1);

  CHECK(s.sw->port_stats(0).flooded == 1);
  CHECK(s.sw->port_stats(0).forwarded == 1);
  CHECK(s.sw->port_stats(1).forwarded == 1);
  CHECK(s.sw->port_stats(0).rx_frames == 2);
  CHECK(s.sw->port_stats(1).tx_frames == 2);
  CHECK(s.sw->port_stats(2).tx_frames == 1);
  CHECK(s.sw->stats().learned == 2);
  CHECK(s.sw->mac_table_size() == 2);
  s.check_idle();
}

TEST_CASE("switch: broadcast floods to all other ports, and a destination behind the ingress port is filtered",
          "[nic][hw][switch][unit]") {
  Star s(4, switch_500ns(), link_100g());
  s.send(0, MacAddress::broadcast());
  s.q.run_until_idle();
  for (std::size_t i = 1; i < 4; ++i) CHECK(s.rx[i]->frames.size() == 1);
  CHECK(s.rx[0]->frames.empty());
  // A frame from another station behind port 0 teaches the switch mac(9) is there; a frame
  // from port 0 to mac(9) must not go back out (nor anywhere else).
  REQUIRE(s.host(0).transmit(make_frame(s.pool, 100, mac(1), mac(9))));
  s.q.run_until_idle();
  CHECK(s.sw->port_stats(0).drops(SwitchDrop::kFiltered) == 1);  // mac(1) is behind port 0 too
  s.send(0, mac(9));
  s.q.run_until_idle();
  CHECK(s.sw->port_stats(0).drops(SwitchDrop::kFiltered) == 2);
  for (std::size_t i = 1; i < 4; ++i) CHECK(s.rx[i]->frames.size() == 1);
  // Flooded copies are separate buffers with their own ids.
  CHECK(s.rx[1]->frames[0].id != s.rx[2]->frames[0].id);
  s.check_idle();
  CHECK(s.pool.in_use() == 0);
}

TEST_CASE("switch: store and forward costs both serializations, both propagation delays and the latency",
          "[nic][hw][switch][unit]") {
  Star s(3, switch_500ns(), link_100g());
  s.send(0, mac(2));
  s.q.run_until_idle();
  // 123.04 ns in, 50 ns to the switch, 500 ns forwarding, 123.04 ns out, 50 ns to the host.
  REQUIRE(s.rx[1]->frames.size() == 1);
  CHECK(s.rx[1]->frames[0].t == at_ps(123'040 + 50'000 + 500'000 + 123'040 + 50'000));
  CHECK(s.rx[2]->frames[0].t == s.rx[1]->frames[0].t);

  SECTION("different line rates: the output serializes at its own rate, and a frame is never cut through") {
    std::vector<LinkConfig> cfgs(3, link_100g());
    cfgs[1].line_rate_bps = 10'000'000'000;
    Star m(cfgs, switch_500ns());
    m.send(0, mac(2), 1000);
    m.q.run_until_idle();
    REQUIRE(m.rx[1]->frames.size() == 1);
    // 1024 wire bytes: 81.92 ns at 100 Gbit/s, 819.2 ns at 10 Gbit/s.
    CHECK(m.rx[1]->frames[0].t == at_ps(81'920 + 50'000 + 500'000 + 819'200 + 50'000));
    CHECK(m.rx[2]->frames[0].t == at_ps(81'920 + 50'000 + 500'000 + 81'920 + 50'000));
  }
  SECTION("zero latency: the frame enters the output buffer the instant it is received") {
    SwitchConfig sc;
    sc.forwarding_latency = sim::Duration::zero();
    Star z(2, sc, link_100g());
    z.send(0, mac(2));
    z.q.run_until_idle();
    REQUIRE(z.rx[1]->frames.size() == 1);
    CHECK(z.rx[1]->frames[0].t == at_ps(2 * (123'040 + 50'000)));
  }
}

TEST_CASE("switch: an output buffer that overflows drops and counts per port when a fast input feeds a slow output",
          "[nic][hw][switch][unit]") {
  std::vector<LinkConfig> cfgs(3, link_100g());
  cfgs[1].line_rate_bps = 9'000'000'000;  // B's link: 1538 wire bytes take 1367.112 ns
  SwitchConfig sc = switch_500ns();
  sc.output_buffer_bytes = 4 * 1514;
  Star s(cfgs, sc);
  s.send(1, mac(1), 100);  // B introduces itself
  s.q.run_until(at(10_us));
  s.rx[0]->frames.clear();
  for (int i = 0; i < 20; ++i) s.send(0, mac(2));
  s.q.run_until_idle();
  // Arrivals every 123.04 ns into a 4-frame buffer that frees one frame per 1367.112 ns: frames
  // 0-3 fit, 4-11 overflow, frame 12 takes the place the first departure freed, 13-19 overflow.
  CHECK(s.sw->port_stats(1).drops(SwitchDrop::kOutputBufferFull) == 15);
  CHECK(s.sw->port_stats(1).tx_frames == 5);
  CHECK(s.links[1]->stats(1).drops(DropReason::kTxQueueFull) == 15);
  REQUIRE(s.rx[1]->frames.size() == 5);
  // The other ports lost nothing.
  CHECK(s.sw->port_stats(0).drops(SwitchDrop::kOutputBufferFull) == 0);
  CHECK(s.sw->port_stats(2).drops(SwitchDrop::kOutputBufferFull) == 0);
  // Back to back on the slow link once queued: 1367.112 ns apart.
  CHECK(s.rx[1]->frames[1].t - s.rx[1]->frames[0].t == sim::Duration::from_ps(1'367'112));
  s.check_idle();
}

TEST_CASE("switch: egress refusals are counted on the output port by reason", "[nic][hw][switch][unit]") {
  std::vector<LinkConfig> cfgs(3, link_100g());
  cfgs[0].mtu = 9000;
  cfgs[1].mtu = 9000;  // C (link 2) stays at 1500
  Star s(cfgs, switch_500ns());
  s.send(0, MacAddress::broadcast(), 9014);
  s.q.run_until_idle();
  CHECK(s.rx[1]->frames.size() == 1);
  CHECK(s.rx[2]->frames.empty());
  CHECK(s.sw->port_stats(2).drops(SwitchDrop::kEgressMtu) == 1);

  s.links[2]->set_carrier(false);
  s.send(0, MacAddress::broadcast(), 500);
  s.q.run_until_idle();
  CHECK(s.rx[1]->frames.size() == 2);
  CHECK(s.sw->port_stats(2).drops(SwitchDrop::kEgressCarrierDown) == 1);
  CHECK(s.sw->port_stats(1).drops(SwitchDrop::kEgressCarrierDown) == 0);
  s.check_idle();
}

TEST_CASE("switch: entries age out after mac_aging and a station that moves is relearned on its new port",
          "[nic][hw][switch][unit]") {
  SwitchConfig sc = switch_500ns();
  sc.mac_aging = 1_ms;
  Star s(3, sc, link_100g());
  s.send(0, mac(2));
  s.q.run_until_idle();
  CHECK(s.sw->lookup(mac(1)) == std::optional<std::size_t>(0));
  s.q.run_until(at(2_ms));
  CHECK_FALSE(s.sw->lookup(mac(1)));
  s.send(2, mac(1));  // aged out: flooded to A and B
  s.q.run_until_idle();
  CHECK(s.sw->stats().aged_out == 1);
  CHECK(s.rx[0]->frames.size() == 1);
  CHECK(s.rx[1]->frames.size() == 2);

  // mac(3) (C) appears on port 1: a move.
  REQUIRE(s.host(1).transmit(make_frame(s.pool, 100, mac(1), mac(3))));
  s.q.run_until_idle();
  CHECK(s.sw->stats().moved == 1);
  CHECK(s.sw->lookup(mac(3)) == std::optional<std::size_t>(1));
  const std::size_t at_b = s.rx[1]->frames.size();
  const std::size_t at_c = s.rx[2]->frames.size();
  s.send(0, mac(3));
  s.q.run_until_idle();
  CHECK(s.rx[1]->frames.size() == at_b + 1);  // followed the move
  CHECK(s.rx[2]->frames.size() == at_c);

  SECTION("a full table stops learning new sources, frames to them flood") {
    SwitchConfig tiny = switch_500ns();
    tiny.mac_table_entries = 1;
    Star t(3, tiny, link_100g());
    t.send(0, mac(2));
    t.send(1, mac(1));
    t.q.run_until_idle();
    CHECK(t.sw->stats().table_full == 1);
    CHECK_FALSE(t.sw->lookup(mac(2)));
    CHECK(t.sw->port_stats(1).forwarded == 1);  // to mac(1), which was learned
  }
}

TEST_CASE("switch: a four-host star with faulty links gives one digest per seed", "[nic][hw][switch][unit]") {
  auto run = [](std::uint64_t seed) {
    std::vector<LinkConfig> cfgs(4, link_100g());
    Star s(cfgs, switch_500ns(), seed, true);
    FaultConfig f;
    f.drop = 0.05;
    f.corrupt = 0.05;
    f.duplicate = 0.05;
    f.reorder = 0.05;
    for (auto& l : s.links) {
      REQUIRE_FALSE(l->port(0).set_faults(f));
      REQUIRE_FALSE(l->port(1).set_faults(f));
    }
    sim::Rng traffic = s.streams.stream("test/traffic");
    for (int i = 0; i < 300; ++i) {
      const auto from = static_cast<std::size_t>(traffic.uniform(4));
      const auto to = static_cast<std::uint8_t>(traffic.uniform(4) + 1);
      const auto len = static_cast<std::size_t>(traffic.uniform_range(60, 1514));
      s.q.schedule_at(at(200_ns * i), [&s, from, to, len] {
        s.host(from).transmit(make_frame(s.pool, len, mac(to), mac(static_cast<std::uint8_t>(from + 1))));
      });
    }
    s.q.run_until_idle();
    s.check_idle();
    std::uint64_t delivered = 0;
    for (auto& r : s.rx) delivered += r->frames.size();
    return std::make_pair(s.digest.hex(), delivered);
  };
  const auto a = run(5);
  CHECK(a == run(5));
  CHECK(a.first != run(6).first);
  CHECK(a.second > 0);
}

TEST_CASE("switch: config and attach errors are EINVAL with a message that says what to fix",
          "[nic][hw][switch][unit]") {
  SwitchConfig sc;
  CHECK_FALSE(sc.validate());
  sc.forwarding_latency = sim::Duration::from_ps(-1);
  REQUIRE(sc.validate());
  CHECK(sc.validate()->code == -EINVAL);
  sc = SwitchConfig{};
  sc.mac_table_entries = 0;
  REQUIRE(sc.validate());
  CHECK(sc.validate()->message.find("mac_table_entries") != std::string::npos);

  sim::EventQueue q;
  sim::RandomStreams streams(1);
  LinkConfig lc;
  lc.mtu = 9000;
  Link link(q, streams, "l0", lc);
  SwitchConfig small;
  small.output_buffer_bytes = 4000;
  Switch sw(q, "sw0", small);
  auto r = sw.attach(link.port(1));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == -EINVAL);
  CHECK(r.error().message.find("sw0: output buffer") != std::string::npos);
  CHECK(sw.port_count() == 0);
}
