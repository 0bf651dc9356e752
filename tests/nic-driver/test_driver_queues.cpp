// The driver's queues as the core and the netdev family see them: the profile's restart scope
// (one queue, every queue paused, a device reset) and firmware quiesce time; the behaviours of
// the kernel selftests queues.py and nl_netdev.py that apply to a NIC driver (queue dump follows
// channel changes, nothing listed while down, NAPI count unchanged by restarts in modes 0-3,
// page pools listed per queue with their ifindex and NAPI, a held buffer keeps a detached pool,
// restarts while down); and interrupt moderation (rx-usecs, rx-frames) timed in simulated time.
#include "driver_checks.hpp"

#include <algorithm>
#include <map>

using namespace nicemu;
using netstack::core::QueueType;
using nicemu::testing::DriverTestbed;
using nicemu::testing::load_profile;

namespace {

constexpr sim::Duration kLimit = sim::Duration::from_s(5);

// Queues `bytes` more of the transfer's pattern into the client socket (what fits), so traffic
// flows while the test runs the event queue to exact times.
void queue_more(DriverTestbed& tb, DriverTestbed::Transfer& t, std::uint16_t port, std::uint64_t bytes) {
  std::vector<std::byte> buf(64 * 1024);
  const std::uint64_t until = t.sent + bytes;
  while (t.sent < until) {
    const std::uint64_t n = std::min<std::uint64_t>(buf.size(), until - t.sent);
    for (std::uint64_t i = 0; i < n; ++i) buf[i] = DriverTestbed::pattern(t.sent + i, port);
    const auto w = tb.a().sockets().send(t.cfd, {buf.data(), n}, 0, tb.events.now());
    if (w <= 0) break;
    t.sent += static_cast<std::uint64_t>(w);
  }
  tb.a().kick();
}

std::vector<std::uint32_t> payload_pool_ids(nic::driver::NicDriver& nic) {
  std::vector<std::uint32_t> ids;
  for (std::uint32_t q = 0; q < nic.channels(); ++q) ids.push_back(nic.payload_pool(q)->id());
  return ids;
}

// Every RX queue in the queue dump has a NAPI, the one its channel polls with, and that NAPI is
// in the NAPI dump; each queue's page pools are listed under the device with that NAPI — except
// the pools of `no_pool_napi` queues, made by a mode 2 or 3 restart before their NAPI existed.
// (netdevsim's pools point at the napi_struct that start() adds later, so the kernel's dump
// shows its id once added; here a page pool cannot refer to a NAPI not yet added.)
void check_queue_napi_pool_links(app::Host& h, const std::set<std::uint32_t>& no_pool_napi = {}) {
  using namespace nicemu::testing;
  auto& nic = h.nic();
  const auto rxqs = queues_of(h, QueueType::kRx);
  const auto txqs = queues_of(h, QueueType::kTx);
  REQUIRE(rxqs.size() == nic.channels());
  CHECK(txqs.size() == nic.channels());
  std::set<std::uint32_t> napi_ids;
  for (const auto& n : napis_of(h)) {
    CHECK(n.ifindex == ifindex_of(h));
    napi_ids.insert(n.id);
  }
  CHECK(napi_ids.size() == nic.channels());  // one NAPI per channel, no duplicates
  std::map<std::uint64_t, netstack::core::PagePoolInfo> pools;
  for (const auto& p : pools_of(h)) pools[p.id] = p;
  for (std::uint32_t q = 0; q < nic.channels(); ++q) {
    INFO("queue " << q);
    CHECK(rxqs[q].id == q);
    CHECK(rxqs[q].ifindex == ifindex_of(h));
    REQUIRE(rxqs[q].napi_id.has_value());
    CHECK(*rxqs[q].napi_id == nic.channel_napi(q)->id());
    CHECK(napi_ids.count(*rxqs[q].napi_id) == 1);
    for (const page_pool::PagePool* pool : {nic.header_pool(q), nic.payload_pool(q)}) {
      REQUIRE(pool != nullptr);
      const auto it = pools.find(pool->id());
      REQUIRE(it != pools.end());
      CHECK(it->second.ifindex == ifindex_of(h));
      if (no_pool_napi.count(q) != 0) {
        CHECK_FALSE(it->second.napi_id.has_value());
      } else {
        CHECK(it->second.napi_id == std::optional<std::uint64_t>{*rxqs[q].napi_id});
      }
      CHECK_FALSE(it->second.detach_time.has_value());
    }
  }
}

}  // namespace

TEST_CASE(
    "nic driver queues: the profile's restart scope decides which queues stop and get new memory, for the firmware "
    "quiesce time",
    "[nic-driver][integration]") {
  using namespace nicemu::testing;
  constexpr sim::Duration kQuiesce = sim::Duration::from_us(250);
  for (const auto scope :
       {nic::hw::RestartScope::kQueue, nic::hw::RestartScope::kAllQueues, nic::hw::RestartScope::kDevice}) {
    INFO("scope " << nic::hw::to_string(scope));
    auto profile = load_profile("bnxt-thor");
    profile.restart.scope = scope;
    profile.restart.firmware_quiesce = kQuiesce;
    DriverTestbed tb(profile, 4, /*split=*/true);
    auto& nic = tb.b().nic();
    auto t = tb.start_transfer(5600);
    REQUIRE(tb.run_transfer(t, 5600, 1 << 20, kLimit));
    const auto pools_before = payload_pool_ids(nic);
    std::vector<std::uint32_t> napis_before;
    for (std::uint32_t q = 0; q < 4; ++q) napis_before.push_back(nic.channel_napi(q)->id());
    const std::uint64_t resets_before = nic.driver_stats().device_resets;
    const std::uint64_t stopped_drops_before = nic.hw().stats().rx_queue_stopped_drops;

    queue_more(tb, t, 5600, 1 << 20);  // traffic in flight across the restart
    const sim::TimePoint t0 = tb.events.now();
    REQUIRE(nic.queue_restart(2) == 0);
    // The restart returns at once; the firmware's time is the queues being down.
    CHECK(tb.events.now() == t0);
    auto running = [&] {
      std::vector<bool> r;
      for (std::uint32_t q = 0; q < 4; ++q) r.push_back(nic.hw().rx_queue_running(q));
      return r;
    };
    const std::vector<bool> down_now = scope == nic::hw::RestartScope::kQueue
                                           ? std::vector<bool>{true, true, false, true}
                                           : std::vector<bool>{false, false, false, false};
    CHECK(running() == down_now);
    tb.events.run_until(t0 + kQuiesce - sim::Duration::from_ps(1));
    CHECK(running() == down_now);
    tb.events.run_until(t0 + kQuiesce);
    CHECK(running() == std::vector<bool>{true, true, true, true});

    // New memory: the restarted queue always; every queue on a device reset; the queues only
    // paused (all-queues: bnxt sets every VNIC's MRU to 0, gve quiesces all queues) keep theirs.
    const auto pools_after = payload_pool_ids(nic);
    for (std::uint32_t q = 0; q < 4; ++q) {
      INFO("queue " << q);
      const bool renewed = q == 2 || scope == nic::hw::RestartScope::kDevice;
      CHECK((pools_after[q] != pools_before[q]) == renewed);
      CHECK(nic.channel_napi(q)->id() == napis_before[q]);  // mode 1: the NAPIs stay
    }
    CHECK(nic.driver_stats().device_resets - resets_before == (scope == nic::hw::RestartScope::kDevice ? 1u : 0u));
    CHECK(nic.napis().size() == 4);
    check_queue_napi_pool_links(tb.b());
    // The transfer goes on and finishes intact (what the stopped queues dropped is resent).
    REQUIRE(tb.run_transfer(t, 5600, t.sent, kLimit));
    CHECK(t.mismatches == 0);
    if (scope != nic::hw::RestartScope::kQueue) {
      CHECK(nic.hw().stats().rx_queue_stopped_drops > stopped_drops_before);  // the flow's queue was down too
    }
    close_and_check_nothing_leaks(tb, t);
  }
}

TEST_CASE("nic driver queues: two restarts within the firmware quiesce start each queue once and the counters add up",
          "[nic-driver][integration]") {
  using namespace nicemu::testing;
  for (const auto scope :
       {nic::hw::RestartScope::kQueue, nic::hw::RestartScope::kAllQueues, nic::hw::RestartScope::kDevice}) {
    INFO("scope " << nic::hw::to_string(scope));
    auto profile = load_profile("bnxt-thor");
    profile.restart.scope = scope;
    DriverTestbed tb(profile, 4, /*split=*/true);
    auto& nic = tb.b().nic();
    auto t = tb.start_transfer(5610);
    REQUIRE(tb.run_transfer(t, 5610, 1 << 20, kLimit));
    for (int round = 0; round < 4; ++round) {
      queue_more(tb, t, 5610, 1 << 20);
      REQUIRE(nic.queue_restart(static_cast<std::uint32_t>(round % 4)) == 0);
      tb.run_for(profile.restart.firmware_quiesce / 3);
      REQUIRE(nic.queue_restart(static_cast<std::uint32_t>((round + 1) % 4)) == 0);
      tb.run_for(profile.restart.firmware_quiesce * 2);
      for (std::uint32_t q = 0; q < 4; ++q) CHECK(nic.hw().rx_queue_running(q));
      REQUIRE(tb.run_transfer(t, 5610, t.sent, kLimit));
    }
    CHECK(t.mismatches == 0);
    CHECK(restart_records(tb.b()).restarts == 8);
    close_and_check_nothing_leaks(tb, t);  // includes check_rx_accounting
  }
}

TEST_CASE("nic driver queues: the queue dump follows channel changes made with ethtool under traffic",
          "[nic-driver][integration]") {
  using namespace nicemu::testing;
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/true);
  auto& nic = tb.b().nic();
  auto t = tb.start_transfer(5620);
  REQUIRE(tb.run_transfer(t, 5620, 1 << 20, kLimit));
  check_queue_napi_pool_links(tb.b());
  const std::uint64_t reconfigures_before = nic.driver_stats().reconfigures;  // the testbed's tcp-data-split
  std::uint64_t want = 1 << 20;
  // queues.py addremove_queues: one fewer, then back; and further down and up.
  for (const std::uint32_t n : {3u, 4u, 1u, 6u, 4u}) {
    INFO("combined " << n);
    netstack::core::ChannelsRequest req;
    req.combined_count = n;
    REQUIRE(netstack::core::ethtool_set_channels(nic, req) == 0);
    netstack::core::EthtoolChannels ch;
    REQUIRE(netstack::core::ethtool_get_channels(nic, ch) == 0);
    CHECK(ch.combined_count == n);
    CHECK(queues_of(tb.b(), QueueType::kRx).size() == n);
    CHECK(queues_of(tb.b(), QueueType::kTx).size() == n);
    CHECK(napis_of(tb.b()).size() == n);
    tb.run_for(sim::Duration::from_us(10));
    check_queue_napi_pool_links(tb.b());
    // queue-get past the count is -EINVAL (netdev_nl_queue_validate).
    const auto past = netstack::core::netdev_nl_queue_get(tb.b().netns(), ifindex_of(tb.b()), QueueType::kRx, n);
    REQUIRE_FALSE(past.has_value());
    CHECK(past.error().err == -EINVAL);
    want += 1 << 20;
    REQUIRE(tb.run_transfer(t, 5620, want, kLimit));
  }
  CHECK(t.mismatches == 0);
  CHECK(nic.driver_stats().reconfigures - reconfigures_before == 5);
  close_and_check_nothing_leaks(tb, t);
}

TEST_CASE("nic driver queues: no queue, NAPI or page pool is listed while the device is down and all come back on up",
          "[nic-driver][integration]") {
  using namespace nicemu::testing;
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/true);
  auto& nic = tb.b().nic();
  auto t = tb.start_transfer(5630);
  REQUIRE(tb.run_transfer(t, 5630, 1 << 20, kLimit));
  const std::uint32_t old_napi = nic.channel_napi(0)->id();
  close_and_check_nothing_leaks(tb, t);  // takes b down

  // queues.py check_down.
  CHECK(queues_of(tb.b(), QueueType::kRx).empty());
  CHECK(queues_of(tb.b(), QueueType::kTx).empty());
  const auto q0 = netstack::core::netdev_nl_queue_get(tb.b().netns(), ifindex_of(tb.b()), QueueType::kRx, 0);
  REQUIRE_FALSE(q0.has_value());
  CHECK(q0.error().err == -ENOENT);
  const auto n0 = netstack::core::netdev_nl_napi_get(tb.b().netns(), old_napi);
  REQUIRE_FALSE(n0.has_value());
  CHECK(n0.error().err == -ENOENT);
  CHECK(napis_of(tb.b()).empty());
  CHECK(pools_of(tb.b()).empty());  // nl_netdev.py page_pool_check: down -> 0 pools

  REQUIRE(nic.open() == 0);
  CHECK(queues_of(tb.b(), QueueType::kRx).size() == 4);
  CHECK(queues_of(tb.b(), QueueType::kTx).size() == 4);
  CHECK(napis_of(tb.b()).size() == 4);
  CHECK(pools_of(tb.b()).size() == 8);  // header + payload per queue
  CHECK(nic.channel_napi(0)->id() != old_napi);
  check_queue_napi_pool_links(tb.b());
  // Idle, a payload pool's inflight pages are the ring's 511 buffers (the driver holds them),
  // plus what sits in the pool's alloc cache (kernel: hold_cnt counts pages taken from the page
  // allocator, cached ones included; a slow-path refill takes at most 64).
  tb.run_for(sim::Duration::from_ms(1));
  for (std::uint32_t q = 0; q < 4; ++q) {
    const std::int32_t inflight = nic.payload_pool(q)->inflight();
    CHECK(inflight >= 511);
    CHECK(inflight < 511 + 64);
  }
  auto t2 = tb.start_transfer(5631);
  REQUIRE(tb.run_transfer(t2, 5631, 1 << 20, kLimit));
  CHECK(t2.mismatches == 0);
  close_and_check_nothing_leaks(tb, t2);
}

TEST_CASE("nic driver queues: a buffer held across down keeps one detached pool listed until it is returned",
          "[nic-driver][integration]") {
  using namespace nicemu::testing;
  // nl_netdev.py page_pool_check with pp_hold: a page taken from rx queue 0's pool.
  DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/true);
  auto& nic = tb.b().nic();
  tb.run_for(sim::Duration::from_s(2));  // past the first second: detach-time is reported
  page_pool::PagePool* pool = nic.payload_pool(0);
  const std::uint32_t held_pool = pool->id();
  const netmem::NetmemRef held = pool->alloc_netmems();
  REQUIRE(held);
  nic.close();
  tb.run_for(sim::Duration::from_s(3));
  auto listed = pools_of(tb.b());
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].id == held_pool);
  CHECK(listed[0].inflight == 1);
  CHECK(listed[0].detach_time.has_value());
  REQUIRE(nic.open() == 0);
  listed = pools_of(tb.b());
  std::size_t detached = 0;
  for (const auto& p : listed) detached += p.detach_time.has_value() ? 1 : 0;
  CHECK(listed.size() == 5);  // 4 new (header + payload, 2 queues) + the held one
  CHECK(detached == 1);
  // Returning the page lets the release retry free the pool (within 2 s, the retry is 1 s).
  tb.b().page_pools().find(held_pool)->put_netmem(held, -1, false);
  tb.run_for(sim::Duration::from_s(2));
  tb.b().kick();
  tb.run_for(sim::Duration::from_s(1));
  CHECK(tb.b().page_pools().find(held_pool) == nullptr);
  CHECK(pools_of(tb.b()).size() == 4);
}

TEST_CASE("nic driver queues: restarts keep one NAPI per channel in every mode, in the NAPI and page-pool dumps",
          "[nic-driver][integration]") {
  using namespace nicemu::testing;
  // nl_netdev.py napi_list_check: queues in the middle, first and last; modes 0-3.
  for (std::uint32_t mode = 0; mode <= 3; ++mode) {
    INFO("restart mode " << mode);
    auto profile = load_profile("bnxt-thor");
    profile.restart.mode = mode;
    DriverTestbed tb(profile, 4, /*split=*/true);
    auto& nic = tb.b().nic();
    auto t = tb.start_transfer(5640);
    REQUIRE(tb.run_transfer(t, 5640, 512 << 10, kLimit));
    std::uint64_t want = 512 << 10;
    std::set<std::uint32_t> no_pool_napi;
    for (const std::uint32_t q : {2u, 0u, 3u}) {
      INFO("queue " << q);
      const std::uint32_t napi_before = nic.channel_napi(q)->id();
      REQUIRE(nic.queue_restart(q) == 0);
      CHECK(napis_of(tb.b()).size() == 4);
      // netdevsim: mode 1 keeps the queue's NAPI; modes 0, 2 and 3 give it a new one.
      CHECK((nic.channel_napi(q)->id() == napi_before) == (mode == 1));
      tb.run_for(profile.restart.firmware_quiesce);
      if (mode >= 2) no_pool_napi.insert(q);
      check_queue_napi_pool_links(tb.b(), no_pool_napi);
      want += 512 << 10;
      REQUIRE(tb.run_transfer(t, 5640, want, kLimit));
    }
    CHECK(t.mismatches == 0);
    close_and_check_nothing_leaks(tb, t);
  }
}

TEST_CASE(
    "nic driver queues: a restart while the device is down allocates and frees in modes 0, 2 and 3 and is refused in "
    "mode 1",
    "[nic-driver][integration]") {
  using namespace nicemu::testing;
  // nl_netdev.py nsim_rxq_reset_down.
  for (std::uint32_t mode = 0; mode <= 3; ++mode) {
    INFO("restart mode " << mode);
    auto profile = load_profile("bnxt-thor");
    profile.restart.mode = mode;
    DriverTestbed tb(profile, 4, /*split=*/true);
    auto& nic = tb.b().nic();
    nic.close();
    tb.run_for(sim::Duration::from_ms(1));
    const std::size_t pools_before = tb.b().page_pools().size();
    const int err = nic.queue_restart(1);
    CHECK(err == (mode == 1 ? -ENETDOWN : 0));
    const auto& rec = restart_records(tb.b());
    CHECK(rec.restarts_while_down == (mode == 1 ? 0u : 1u));
    CHECK(rec.failures == (mode == 1 ? 1u : 0u));
    CHECK(tb.b().page_pools().size() == pools_before);  // what mem_alloc made, mem_free freed
    CHECK(nic.napis().empty());
    CHECK(nic.rx_buffers_held() == 0);
    REQUIRE(nic.open() == 0);
    CHECK(nic.napis().size() == 4);
    auto t = tb.start_transfer(5650);
    REQUIRE(tb.run_transfer(t, 5650, 512 << 10, kLimit));
    CHECK(t.mismatches == 0);
    close_and_check_nothing_leaks(tb, t);
  }
}

namespace {

// When channel 0's NAPI polls after the first new completion on queue 0, in simulated time.
struct IrqTiming {
  sim::TimePoint first_completion{}, nth_completion{}, poll{};
  std::uint64_t by_timer = 0, by_frames = 0;
};

IrqTiming time_first_poll(DriverTestbed& tb, DriverTestbed::Transfer& t, std::uint16_t port, std::uint64_t bytes,
                          std::uint64_t nth) {
  auto& nic = tb.b().nic();
  auto& irq = nic.hw().irq(0);
  const std::uint64_t c0 = irq.stats().completions;
  const std::uint64_t p0 = nic.channel_napi(0)->polls();
  const std::uint64_t timer0 = irq.stats().by_timer, frames0 = irq.stats().by_frames;
  IrqTiming r;
  bool first = false, nth_seen = false;
  queue_more(tb, t, port, bytes);
  const sim::TimePoint end = tb.events.now() + sim::Duration::from_ms(10);
  while (tb.events.now() < end && nic.channel_napi(0)->polls() == p0) {
    if (!tb.events.run_one()) break;
    const std::uint64_t c = irq.stats().completions - c0;
    if (!first && c >= 1) {
      first = true;
      r.first_completion = tb.events.now();
    }
    if (!nth_seen && c >= nth) {
      nth_seen = true;
      r.nth_completion = tb.events.now();
    }
  }
  REQUIRE(first);
  REQUIRE(nic.channel_napi(0)->polls() > p0);
  r.poll = tb.events.now();
  r.by_timer = irq.stats().by_timer - timer0;
  r.by_frames = irq.stats().by_frames - frames0;
  return r;
}

}  // namespace

TEST_CASE("nic driver queues: rx-usecs and rx-frames set through ethtool time the NAPI poll after the first completion",
          "[nic-driver][integration]") {
  using namespace nicemu::testing;
  constexpr std::uint32_t kUsecs = 40, kFrames = 8;
  DriverTestbed tb(load_profile("bnxt-thor"), 1, /*split=*/true);
  auto& nic = tb.b().nic();
  auto t = tb.start_transfer(5660);
  REQUIRE(tb.run_transfer(t, 5660, 64 << 10, kLimit));  // warm: the window is open
  tb.run_for(sim::Duration::from_ms(50));               // idle: delayed ACKs out, interrupts armed

  netstack::core::CoalesceRequest req;
  req.rx_coalesce_usecs = kUsecs;
  req.rx_max_coalesced_frames = kFrames;
  REQUIRE(netstack::core::ethtool_set_coalesce(nic, req) == 0);
  netstack::core::EthtoolCoalesce c;
  REQUIRE(netstack::core::ethtool_get_coalesce(nic, c) == 0);
  CHECK(c.rx_coalesce_usecs == kUsecs);
  CHECK(c.rx_max_coalesced_frames == kFrames);
  CHECK(nic.hw().irq(0).config().rx_usecs == kUsecs);
  CHECK(nic.hw().irq(0).config().rx_frames == kFrames);

  SECTION("a single small packet waits rx-usecs") {
    const IrqTiming r = time_first_poll(tb, t, 5660, 100, 1);
    CHECK(r.poll - r.first_completion == sim::Duration::from_us(kUsecs));
    CHECK(r.by_timer == 1);
    CHECK(r.by_frames == 0);
  }
  SECTION("a burst of rx-frames packets is polled at once") {
    const IrqTiming r = time_first_poll(tb, t, 5660, kFrames * 1448, kFrames);
    CHECK(r.poll == r.nth_completion);  // the interrupt fires on the rx-frames-th completion
    CHECK(r.poll - r.first_completion < sim::Duration::from_us(kUsecs / 4));
    CHECK(r.by_frames == 1);
    CHECK(r.by_timer == 0);
  }
  SECTION("rx-usecs 0 polls in the instant of the completion") {
    netstack::core::CoalesceRequest zero;
    zero.rx_coalesce_usecs = 0;
    zero.rx_max_coalesced_frames = 0;
    REQUIRE(netstack::core::ethtool_set_coalesce(nic, zero) == 0);
    const IrqTiming r = time_first_poll(tb, t, 5660, 100, 1);
    CHECK(r.poll == r.first_completion);
  }
  REQUIRE(tb.run_transfer(t, 5660, t.sent, kLimit));
  CHECK(t.mismatches == 0);
  close_and_check_nothing_leaks(tb, t);
}
