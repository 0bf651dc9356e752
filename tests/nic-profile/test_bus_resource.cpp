// BusResource: one direction of a bandwidth-limited bus. FIFO queueing of transfers that are
// ready at once, first-fit placement of later ones into gaps, statistics, forgetting the past.
#include <catch2/catch.hpp>

#include <algorithm>
#include <utility>
#include <vector>

#include "nicemu/nic/hw/bus_resource.hpp"
#include "nicemu/sim/random.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }
}  // namespace

TEST_CASE("bus: transfers ready at the same time are served one after another in call order", "[bus][unit]") {
  BusResource bus;
  const BusGrant a = bus.reserve(at(0_ns), 10_ns);
  const BusGrant b = bus.reserve(at(0_ns), 5_ns);
  const BusGrant c = bus.reserve(at(2_ns), 1_ns);
  CHECK(a.start == at(0_ns));
  CHECK(a.end == at(10_ns));
  CHECK(b.start == at(10_ns));
  CHECK(b.end == at(15_ns));
  CHECK(c.start == at(15_ns));
  CHECK(bus.stats().grants == 3);
  CHECK(bus.stats().busy == 16_ns);
  CHECK(bus.stats().waited == 10_ns + 13_ns);
  CHECK(bus.stats().max_wait == 13_ns);
  CHECK(bus.free_at() == at(16_ns));
}

TEST_CASE("bus: an idle bus starts a transfer at once", "[bus][unit]") {
  BusResource bus;
  bus.reserve(at(0_ns), 10_ns);
  const BusGrant g = bus.reserve(at(50_ns), 10_ns);
  CHECK(g.start == at(50_ns));
  CHECK(bus.stats().waited == 0_ns);
  CHECK(bus.pending() == 1);  // the first one is over and forgotten
}

TEST_CASE("bus: a later-ready reservation leaves a gap that a short transfer can use", "[bus][unit]") {
  BusResource bus;
  // A completion that can only start at 100 ns.
  const BusGrant late = bus.reserve(at(0_ns), 20_ns, at(100_ns));
  CHECK(late.start == at(100_ns));
  // Fits before it.
  const BusGrant early = bus.reserve(at(1_ns), 30_ns);
  CHECK(early.start == at(1_ns));
  CHECK(bus.stats().backfilled == 1);
  // Does not fit in [31, 100): goes after the late one.
  const BusGrant big = bus.reserve(at(2_ns), 80_ns);
  CHECK(big.start == at(120_ns));
  // Fits exactly in [31, 100).
  const BusGrant exact = bus.reserve(at(3_ns), 69_ns);
  CHECK(exact.start == at(31_ns));
  CHECK(exact.end == at(100_ns));
  CHECK(bus.free_at() == at(200_ns));
}

TEST_CASE("bus: back-to-back reservations join into one busy stretch, a gap stays free", "[bus][unit]") {
  BusResource bus;
  for (int i = 0; i < 100; ++i) bus.reserve(at(0_ns), 10_ns);
  CHECK(bus.pending() == 1);
  CHECK(bus.free_at() == at(1000_ns));
  const BusGrant late = bus.reserve(at(0_ns), 10_ns, at(2000_ns));  // leaves [1000, 2000) free
  CHECK(late.start == at(2000_ns));
  CHECK(bus.pending() == 2);
  const BusGrant fill = bus.reserve(at(0_ns), 1000_ns);  // exactly the gap: all joins into one
  CHECK(fill.start == at(1000_ns));
  CHECK(bus.pending() == 1);
  const BusGrant after = bus.reserve(at(0_ns), 5_ns);
  CHECK(after.start == at(2010_ns));
  CHECK(bus.stats().busy == 2015_ns);
}

TEST_CASE("bus: zero-length transfers take no bus time and never wait", "[bus][unit]") {
  BusResource bus;
  bus.reserve(at(0_ns), 10_ns);
  const BusGrant z = bus.reserve(at(0_ns), 0_ns);
  CHECK(z.start == at(0_ns));
  CHECK(z.end == at(0_ns));
  CHECK(bus.pending() == 1);
  CHECK(bus.stats().busy == 10_ns);
}

namespace {
// First fit written the plain way, for comparison: every interval ever granted, scanned again
// until the transfer overlaps none (transfers of at least one tick).
struct ReferenceBus {
  std::vector<std::pair<sim::TimePoint, sim::TimePoint>> busy;
  BusGrant reserve(sim::TimePoint now, sim::Duration occupancy, sim::TimePoint not_before) {
    sim::TimePoint start = std::max(now, not_before);
    bool moved = true;
    while (moved) {
      moved = false;
      for (const auto& [s, e] : busy) {
        if (start < e && s < start + occupancy) {
          start = e;
          moved = true;
        }
      }
    }
    busy.emplace_back(start, start + occupancy);
    return BusGrant{start, start + occupancy};
  }
};
}  // namespace

TEST_CASE("bus: grants match a plain first-fit search over random bursts and gaps", "[bus][unit]") {
  BusResource bus;
  ReferenceBus ref;
  sim::Rng rng(7);
  sim::TimePoint now = at(0_ns);
  sim::Duration waited = 0_ns;
  for (int i = 0; i < 5000; ++i) {
    if (rng.next_u64() % 4 == 0) now = now + sim::Duration::from_ns(static_cast<std::int64_t>(rng.next_u64() % 50));
    const auto occupancy = sim::Duration::from_ns(static_cast<std::int64_t>(1 + rng.next_u64() % 20));
    const auto ahead =
        sim::Duration::from_ns(static_cast<std::int64_t>(rng.next_u64() % 3 == 0 ? rng.next_u64() % 200 : 0));
    const BusGrant g = bus.reserve(now, occupancy, now + ahead);
    const BusGrant r = ref.reserve(now, occupancy, now + ahead);
    REQUIRE(g.start == r.start);
    REQUIRE(g.end == r.end);
    waited += g.start - (now + ahead);
  }
  CHECK(bus.stats().grants == 5000);
  CHECK(bus.stats().waited == waited);
}
