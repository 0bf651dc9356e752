// The driver's fault knobs under a TCP transfer: a queue restart whose start and rollback start
// both fail (the core's unhealthy-queue path), a fault at mem_free (void in the kernel), page-pool
// allocation failures (counted drops, refill retries, recovery), a descriptor fetch delay (the
// transfer slows down in simulated time) and the knob modes once / every Nth / from a time.
// Each case ends with the receive counters adding up and, once the device is down, no page
// pool, buffer or skb left.
#include "driver_checks.hpp"

using namespace nicemu;
using netstack::core::OpFault;
using netstack::core::QueueType;
using nicemu::testing::DriverTestbed;
using nicemu::testing::load_profile;

namespace {

constexpr sim::Duration kLimit = sim::Duration::from_s(5);

std::set<std::uint32_t> napi_ids_in_dump(app::Host& h) {
  std::set<std::uint32_t> ids;
  for (const auto& n : nicemu::testing::napis_of(h)) ids.insert(n.id);
  return ids;
}

}  // namespace

TEST_CASE(
    "nic driver fault: start and rollback start both failing leave the queue unhealthy and stopped, and nothing leaks",
    "[nic-driver][integration]") {
  using namespace nicemu::testing;
  for (std::uint32_t mode = 0; mode <= 3; ++mode) {
    INFO("restart mode " << mode);
    auto profile = load_profile("bnxt-thor");
    profile.restart.mode = mode;
    DriverTestbed tb(profile, 2, /*split=*/true);
    auto& nic = tb.b().nic();
    auto t = tb.start_transfer(5500);
    REQUIRE(tb.run_transfer(t, 5500, 1 << 20, kLimit));
    const std::uint64_t rx_before = device_qstats(tb.b()).rx_packets.value_or(0);

    nic.faults.start = OpFault::once(-EIO);
    nic.faults.rollback_start = OpFault::once(-ENOMEM);
    CHECK(nic.queue_restart(1) == -EIO);  // the original error, not the rollback's
    CHECK(nic.faults.start.fired == 1);
    CHECK(nic.faults.rollback_start.fired == 1);

    // The core's records (kernel: WARN "... may be unhealthy", old memory freed, queue stopped).
    const auto& rec = restart_records(tb.b());
    CHECK(rec.calls == 1);
    CHECK(rec.failures == 1);
    CHECK(rec.restarts == 0);
    CHECK(rec.rollbacks == 1);
    CHECK(rec.rollback_failures == 1);
    CHECK(rec.warnings == 1);
    CHECK(rec.last_error == -EIO);
    CHECK(rec.last_warning == "Failed to restart old queue in error path. RX queue 1 may be unhealthy.");
    CHECK(rec.unhealthy_queues == std::set<std::uint32_t>{1});

    // Queue 1 has no memory and stays stopped; queue 0 comes back after the firmware quiesce.
    CHECK(nic.payload_pool(1) == nullptr);
    CHECK(nic.header_pool(1) == nullptr);
    tb.run_for(profile.restart.firmware_quiesce + sim::Duration::from_us(1));
    CHECK_FALSE(nic.hw().rx_queue_running(1));
    CHECK(nic.hw().rx_queue_running(0));
    // Both freed rings' counters went to the base: device totals do not go backwards.
    CHECK(device_qstats(tb.b()).rx_packets.value_or(0) >= rx_before);
    // netdevsim: mode 1 keeps the queue's NAPI; in the other modes mem_free(old) deleted the
    // old NAPI and mem_free(new) the new one (mode 0), so the channel is left without one.
    const std::size_t napis = mode == 1 ? 2 : 1;
    CHECK(nic.napis().size() == napis);
    CHECK(napi_ids_in_dump(tb.b()).size() == napis);
    const auto rxqs = queues_of(tb.b(), QueueType::kRx);
    REQUIRE(rxqs.size() == 2);
    CHECK(rxqs[1].napi_id.has_value() == (mode == 1));
    CHECK(rxqs[0].napi_id == nic.channel_napi(0)->id());
    // Only queue 0's pools (header and payload) are still attached.
    std::size_t attached = 0;
    for (const page_pool::PagePool* p : tb.b().page_pools().pools_of(nic.ifindex())) attached += p->detached() ? 0 : 1;
    CHECK(attached == 2);

    // Down and up: the driver's open builds every queue again; the core keeps its record
    // until a restart of that queue succeeds.
    close_and_check_nothing_leaks(tb, t);
    REQUIRE(nic.open() == 0);
    tb.run_for(sim::Duration::from_us(10));
    CHECK(nic.hw().rx_queue_running(1));
    CHECK(nic.payload_pool(1) != nullptr);
    CHECK(nic.napis().size() == 2);
    CHECK(restart_records(tb.b()).unhealthy_queues == std::set<std::uint32_t>{1});
    REQUIRE(nic.queue_restart(1) == 0);
    CHECK(restart_records(tb.b()).unhealthy_queues.empty());
    auto t2 = tb.start_transfer(5501);
    REQUIRE(tb.run_transfer(t2, 5501, 1 << 20, kLimit));
    CHECK(t2.mismatches == 0);
    close_and_check_nothing_leaks(tb, t2);
  }
}

TEST_CASE("nic driver fault: a fault at mem_free cannot fail the restart and the old memory is still freed",
          "[nic-driver][integration]") {
  using namespace nicemu::testing;
  DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/true);
  auto& nic = tb.b().nic();
  auto t = tb.start_transfer(5510);
  REQUIRE(tb.run_transfer(t, 5510, 1 << 20, kLimit));
  const std::uint32_t old_pay = nic.payload_pool(0)->id();
  const std::uint32_t old_hdr = nic.header_pool(0)->id();

  // kernel: ndo_queue_mem_free returns void, so the core has no error to act on; the knob fires
  // (counted) and the driver frees the memory all the same.
  nic.faults.mem_free = OpFault::always(-EIO);
  CHECK(nic.queue_restart(0) == 0);
  CHECK(nic.faults.mem_free.calls == 1);  // mem_free(old) only: nothing failed before it
  CHECK(nic.faults.mem_free.fired == 1);
  const auto& rec = restart_records(tb.b());
  CHECK(rec.restarts == 1);
  CHECK(rec.failures == 0);
  CHECK(rec.warnings == 0);
  CHECK(nic.payload_pool(0)->id() != old_pay);
  // The old pools were destroyed: gone, or detached while the stack still holds their buffers.
  for (std::uint32_t id : {old_pay, old_hdr}) {
    const page_pool::PagePool* p = tb.b().page_pools().find(id);
    CHECK((p == nullptr || p->detached()));
  }
  // A failed mem_alloc frees what it made through mem_free as well: still no error from it.
  nic.faults.mem_alloc = OpFault::once(-ENOMEM);
  CHECK(nic.queue_restart(1) == -ENOMEM);
  CHECK(nic.faults.mem_free.calls == 1);  // mem_alloc failed before anything was allocated

  REQUIRE(tb.run_transfer(t, 5510, 3 << 20, kLimit));
  CHECK(t.mismatches == 0);
  for (std::uint32_t id : {old_pay, old_hdr}) CHECK(tb.b().page_pools().find(id) == nullptr);
  close_and_check_nothing_leaks(tb, t);
  CHECK(nic.faults.mem_free.fired == nic.faults.mem_free.calls);
}

TEST_CASE(
    "nic driver fault: page-pool allocation failures under traffic are counted, retried by the refill timer and the "
    "transfer completes once they clear",
    "[nic-driver][integration]") {
  using namespace nicemu::testing;
  DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/true);
  auto& nic = tb.b().nic();
  auto t = tb.start_transfer(5520);
  REQUIRE(tb.run_transfer(t, 5520, 1 << 20, kLimit));
  const auto q0 = device_qstats(tb.b());
  CHECK(q0.rx_alloc_fail.value_or(0) == 0);
  CHECK(q0.rx_hw_drop_overruns.value_or(0) == 0);
  const std::uint64_t retries0 = nic.driver_stats().rx_refill_retries;

  // Every payload allocation fails (pp_alloc_fail.py's fail_function on page_pool_alloc_netmems):
  // the rings run dry, frames find no buffer.
  nic.set_payload_alloc_fault(page_pool::AllocFault{0, tb.events.now(), 0});
  (void)tb.run_transfer(t, 5520, 4 << 20, sim::Duration::from_ms(20));
  const auto q1 = device_qstats(tb.b());
  std::uint64_t injected = 0, empty_rings = 0;
  for (std::uint32_t q = 0; q < 2; ++q) {
    injected += nic.payload_pool(q)->stats().extra.alloc_fault_injected;
    empty_rings += nic.hw().rxq(q).payload_buffers_visible() == 0 ? 1 : 0;
  }
  CHECK(injected > 0);
  CHECK(empty_rings >= 1);  // the flow's queue ran out
  // rx-alloc-fail counts each refill that stopped at a failed allocation: one injected failure.
  CHECK(q1.rx_alloc_fail.value_or(0) == injected);
  // Drops for want of a buffer: rx-hw-drop-overruns, also in the silicon queue's counter.
  CHECK(q1.rx_hw_drop_overruns.value_or(0) > 0);
  CHECK(q1.rx_hw_drops.value_or(0) >= q1.rx_hw_drop_overruns.value_or(0));
  std::uint64_t hw_overruns = 0;
  for (std::uint32_t q = 0; q < 2; ++q) hw_overruns += nic.hw().rxq(q).stats().hw_drop_overruns;
  CHECK(hw_overruns == q1.rx_hw_drop_overruns.value_or(0));
  // With no buffer posted the refill timer (50 us) keeps retrying: ~20 ms / 50 us of them.
  const std::uint64_t retries1 = nic.driver_stats().rx_refill_retries;
  CHECK(retries1 - retries0 >= 100);
  CHECK(t.received < (4u << 20));

  // The fault clears: the next timer run refills, the transfer recovers and finishes intact.
  nic.clear_payload_alloc_fault();
  tb.run_for(sim::Duration::from_us(60));
  for (std::uint32_t q = 0; q < 2; ++q) CHECK(nic.hw().rxq(q).payload_buffers_visible() > 0);
  REQUIRE(tb.run_transfer(t, 5520, 4 << 20, kLimit));
  CHECK(t.mismatches == 0);
  const std::uint64_t fails_after = device_qstats(tb.b()).rx_alloc_fail.value_or(0);
  CHECK(fails_after == q1.rx_alloc_fail.value_or(0));  // none once cleared
  close_and_check_nothing_leaks(tb, t);
}

TEST_CASE(
    "nic driver fault: every Nth page-pool allocation failing is counted as rx-alloc-fail and costs no byte of the "
    "transfer",
    "[nic-driver][integration]") {
  using namespace nicemu::testing;
  // 511: pp_alloc_fail.py's interval — a refill stops at the failed allocation and the next poll
  // goes on, so the ring never runs dry. 7: the refills (6 buffers each) fall behind the polls
  // (up to 64 completions each), the ring runs dry and frames are dropped, TCP recovers them.
  for (const std::uint64_t nth : {511u, 7u}) {
    INFO("every " << nth << "th allocation fails");
    DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/true);
    auto& nic = tb.b().nic();
    nic.set_payload_alloc_fault(page_pool::AllocFault{nth, sim::TimePoint::zero(), 0});
    auto t = tb.start_transfer(5530);
    // Enough packets for several failures at 511 (~2900 payload allocations); less at 7.
    REQUIRE(tb.run_transfer(t, 5530, nth == 511 ? 4u << 20 : 2u << 20, kLimit));
    CHECK(t.mismatches == 0);
    std::uint64_t injected = 0, failed = 0;
    for (std::uint32_t q = 0; q < 2; ++q) {
      injected += nic.payload_pool(q)->stats().extra.alloc_fault_injected;
      failed += nic.payload_pool(q)->stats().extra.alloc_failed;
    }
    const auto q = device_qstats(tb.b());
    // One rx-alloc-fail per failed refill, and every failure was the fault's.
    CHECK(q.rx_alloc_fail.value_or(0) == injected);
    // pp_alloc_fail.py: rx-alloc-fail >= packets / interval / 3.1.
    CHECK(static_cast<double>(injected) >=
          static_cast<double>(q.rx_packets.value_or(0)) / static_cast<double>(nth + 1) / 3.1);
    CHECK(failed == injected);
    if (nth == 511) {
      CHECK(q.rx_hw_drop_overruns.value_or(0) == 0);
    } else {
      CHECK(q.rx_hw_drop_overruns.value_or(0) > 0);
      CHECK(nic.driver_stats().rx_refill_retries > 0);
    }
    nic.clear_payload_alloc_fault();
    close_and_check_nothing_leaks(tb, t);
  }
}

TEST_CASE(
    "nic driver fault: a descriptor fetch delay keeps the transfer byte-exact and makes it slower in simulated time",
    "[nic-driver][integration]") {
  using namespace nicemu::testing;
  constexpr sim::Duration kDelay = sim::Duration::from_us(20);
  auto run = [&](sim::Duration delay) {
    DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/true);
    tb.a().nic().faults.descriptor_delay = delay;
    tb.b().nic().faults.descriptor_delay = delay;
    const sim::TimePoint start = tb.events.now();
    auto t = tb.start_transfer(5540);
    REQUIRE(tb.run_transfer(t, 5540, 2 << 20, kLimit));
    CHECK(t.mismatches == 0);
    const sim::Duration took = tb.events.now() - start;
    close_and_check_nothing_leaks(tb, t);
    return took;
  };
  const sim::Duration plain = run(sim::Duration::zero());
  const sim::Duration delayed = run(kDelay);
  INFO("plain " << plain.ps() << " ps, delayed " << delayed.ps() << " ps");
  // At least the SYN, the SYN-ACK and the last data segment each wait one delay in a row; every
  // round trip of slow start pays two.
  CHECK(delayed >= plain + kDelay * 3);
}

TEST_CASE("nic driver fault: the descriptor delay also holds back the RX doorbell", "[nic-driver][integration]") {
  using namespace nicemu::testing;
  for (const sim::Duration delay : {sim::Duration::zero(), sim::Duration::from_us(50)}) {
    INFO("delay " << delay.ps() << " ps");
    DriverTestbed tb(load_profile("bnxt-thor"), 1, /*split=*/true);
    auto& nic = tb.b().nic();
    nic.close();
    nic.faults.descriptor_delay = delay;
    REQUIRE(nic.open() == 0);
    tb.run_for(sim::Duration::from_us(10));  // an MMIO write takes about a microsecond
    if (delay == sim::Duration::zero()) {
      CHECK(nic.hw().rxq(0).payload_buffers_visible() > 0);
    } else {
      CHECK(nic.hw().rxq(0).payload_buffers_visible() == 0);
      tb.run_for(delay);
      CHECK(nic.hw().rxq(0).payload_buffers_visible() > 0);
    }
  }
}

TEST_CASE("nic driver fault: each knob mode fires once, every Nth call or from a simulated time on",
          "[nic-driver][integration]") {
  using namespace nicemu::testing;
  // The knob on each of mem_alloc, stop and start; restarts of queue 0 under traffic.
  for (int op = 0; op < 3; ++op) {
    for (int mode = 0; mode < 3; ++mode) {
      INFO("op " << op << " mode " << mode);
      DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/true);
      auto& nic = tb.b().nic();
      auto t = tb.start_transfer(5550);
      REQUIRE(tb.run_transfer(t, 5550, 512 << 10, kLimit));
      OpFault& f = op == 0 ? nic.faults.mem_alloc : op == 1 ? nic.faults.stop : nic.faults.start;
      const int err = op == 0 ? -ENOMEM : op == 1 ? -EBUSY : -EIO;
      const sim::TimePoint from = tb.events.now() + sim::Duration::from_ms(3);
      f = mode == 0 ? OpFault::once(err) : mode == 1 ? OpFault::every_nth(3, err) : OpFault::from_time(from, err);
      std::vector<int> results;
      std::vector<sim::TimePoint> times;
      for (int i = 0; i < 6; ++i) {
        times.push_back(tb.events.now());
        results.push_back(nic.queue_restart(0));
        // 1 ms between restarts, the transfer going on.
        REQUIRE(tb.run_transfer(t, 5550, (512u << 10) * static_cast<std::uint32_t>(i + 2), kLimit));
        tb.run_for(sim::Duration::from_ms(1) - sim::Duration::from_ns(1));
      }
      std::vector<int> want;
      for (std::size_t i = 0; i < times.size(); ++i) {
        if (mode == 0) want.push_back(i == 0 ? err : 0);
        if (mode == 1) want.push_back(i % 3 == 2 ? err : 0);
        if (mode == 2) want.push_back(times[i] >= from ? err : 0);
      }
      CHECK(results == want);
      if (mode == 2) {
        CHECK(results.front() == 0);  // the window covers both sides of `from`
        CHECK(results.back() == err);
      }
      std::uint64_t fails = 0;
      for (int r : results) fails += r != 0 ? 1 : 0;
      CHECK(f.fired == fails);
      CHECK(f.calls == 6);
      CHECK(restart_records(tb.b()).failures == fails);
      CHECK(restart_records(tb.b()).restarts == 6 - fails);
      CHECK(restart_records(tb.b()).rollbacks == (op == 2 ? fails : 0));  // start failed: rolled back
      CHECK(restart_records(tb.b()).unhealthy_queues.empty());
      CHECK(nic.napis().size() == 2);
      CHECK(t.mismatches == 0);
      close_and_check_nothing_leaks(tb, t);
    }
  }
}
