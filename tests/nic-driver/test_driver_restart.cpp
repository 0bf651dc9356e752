// Queue restarts through the core (netdev_rx_queue_restart -> the driver's queue API) while a
// TCP transfer runs, in each of netdevsim's NAPI modes: the transfer finishes byte-exact, the
// device keeps one NAPI per channel, the restarted queue gets new page pools, device totals never
// go backwards, and a fault at a step fails the restart with its errno and leaves the queue
// running on its old memory.
#include "driver_testbed.hpp"

#include "nicemu/netstack/core/netdev_genl.hpp"

using namespace nicemu;
using nicemu::testing::DriverTestbed;
using nicemu::testing::load_profile;

namespace {

std::uint64_t device_rx_packets(app::Host& h) {
  const auto r = netstack::core::netdev_nl_qstats_get_dump(
      h.netns(), {static_cast<std::uint32_t>(h.nic().ifindex()), netstack::core::QstatsScope::kDevice});
  REQUIRE(r.has_value());
  REQUIRE(r.value().size() == 1);
  return r.value().front().rx_packets.value_or(0);
}

}  // namespace

TEST_CASE("nic driver: restarting every RX queue under traffic keeps the transfer byte-exact in each NAPI mode",
          "[nic-driver][integration]") {
  for (std::uint32_t mode = 0; mode <= 3; ++mode) {
    INFO("restart mode " << mode);
    auto profile = load_profile("bnxt-thor");
    profile.restart.mode = mode;
    DriverTestbed tb(profile, 4, /*split=*/true);
    auto t = tb.start_transfer(5300);
    REQUIRE(tb.run_transfer(t, 5300, 1 << 20, sim::Duration::from_s(1)));
    const std::size_t napis = tb.b().nic().napis().size();
    REQUIRE(napis == 4);
    for (std::uint32_t q = 0; q < 4; ++q) {
      const std::uint32_t old_pool = tb.b().nic().payload_pool(q)->id();
      const std::uint64_t before = device_rx_packets(tb.b());
      REQUIRE(tb.b().nic().queue_restart(q) == 0);
      CHECK(tb.b().nic().napis().size() == napis);             // NAPI count unchanged by restarts
      CHECK(tb.b().nic().payload_pool(q)->id() != old_pool);   // new memory
      CHECK(device_rx_packets(tb.b()) >= before);              // totals survive the restart
      // More data after each restart: the queue works again.
      REQUIRE(tb.run_transfer(t, 5300, (2u + q) << 20, sim::Duration::from_s(2)));
    }
    CHECK(t.mismatches == 0);
    tb.close_transfer(t);
    tb.run_for(sim::Duration::from_ms(100));
  }
}

TEST_CASE("nic driver: a fault at a queue-API step fails the restart with its errno and the queue keeps working",
          "[nic-driver][integration]") {
  for (int step = 0; step < 3; ++step) {
    INFO("fault at step " << step);
    DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/true);
    auto& f = tb.b().nic().faults;
    if (step == 0) f.mem_alloc = netstack::core::OpFault::once(-ENOMEM);
    if (step == 1) f.stop = netstack::core::OpFault::once(-EBUSY);
    if (step == 2) f.start = netstack::core::OpFault::once(-EIO);
    auto t = tb.start_transfer(5400);
    REQUIRE(tb.run_transfer(t, 5400, 1 << 20, sim::Duration::from_s(1)));
    const int want = step == 0 ? -ENOMEM : step == 1 ? -EBUSY : -EIO;
    std::uint32_t failed = 0;
    for (std::uint32_t q = 0; q < 2; ++q) {
      const int err = tb.b().nic().queue_restart(q);
      if (err != 0) {
        CHECK(err == want);
        ++failed;
      }
    }
    CHECK(failed == 1);  // the fault fires once
    CHECK(tb.b().nic().napis().size() == 2);
    REQUIRE(tb.run_transfer(t, 5400, 3 << 20, sim::Duration::from_s(2)));
    CHECK(t.mismatches == 0);
    tb.close_transfer(t);
    tb.run_for(sim::Duration::from_ms(100));
  }
}
