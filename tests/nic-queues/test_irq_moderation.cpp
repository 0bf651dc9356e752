// Interrupt moderation in simulated time: rx-usecs after the first completion, rx-frames
// completions, whichever first; masked while NAPI runs; re-armed with completions waiting.
#include <catch2/catch.hpp>

#include <vector>

#include "nicemu/nic/hw/irq_moderation.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }
}  // namespace

TEST_CASE("irq moderation: rx-usecs after the first completion, not after the last", "[nic][hw][unit]") {
  sim::EventQueue ev;
  std::vector<sim::TimePoint> irqs;
  IrqModerator m(ev, IrqModerationConfig{8, 0}, [&] { irqs.push_back(ev.now()); });
  ev.schedule_at(at(1_us), [&] { m.completions_written(); });
  ev.schedule_at(at(5_us), [&] { m.completions_written(); });
  ev.schedule_at(at(8_us), [&] { m.completions_written(); });
  ev.run_until_idle();
  REQUIRE(irqs.size() == 1);
  CHECK(irqs[0] == at(9_us));
  CHECK(m.masked());
  CHECK(m.stats().by_timer == 1);
  CHECK(m.stats().completions == 3);
}

TEST_CASE("irq moderation: rx-frames fires early, and rx-usecs 0 fires at once", "[nic][hw][unit]") {
  sim::EventQueue ev;
  std::vector<sim::TimePoint> irqs;
  IrqModerator m(ev, IrqModerationConfig{50, 4}, [&] { irqs.push_back(ev.now()); });
  for (int i = 1; i <= 4; ++i) ev.schedule_at(at(sim::Duration::from_us(i)), [&] { m.completions_written(); });
  ev.run_until_idle();
  REQUIRE(irqs.size() == 1);
  CHECK(irqs[0] == at(4_us));
  CHECK(m.stats().by_frames == 1);
  sim::EventQueue ev2;
  std::vector<sim::TimePoint> irqs2;
  IrqModerator z(ev2, IrqModerationConfig{0, 0}, [&] { irqs2.push_back(ev2.now()); });
  ev2.schedule_at(at(3_us), [&] { z.completions_written(); });
  ev2.run_until_idle();
  REQUIRE(irqs2.size() == 1);
  CHECK(irqs2[0] == at(3_us));
}

TEST_CASE("irq moderation: masked while NAPI polls, and re-arming with completions waiting starts a new window",
          "[nic][hw][unit]") {
  sim::EventQueue ev;
  std::vector<sim::TimePoint> irqs;
  IrqModerator m(ev, IrqModerationConfig{10, 0}, [&] { irqs.push_back(ev.now()); });
  ev.schedule_at(at(0_us), [&] { m.completions_written(); });
  ev.schedule_at(at(12_us), [&] { m.completions_written(5); });  // masked: counted only
  ev.schedule_at(at(20_us), [&] { m.rearm(5); });               // NAPI done, 5 still waiting
  ev.schedule_at(at(40_us), [&] { m.rearm(0); });               // nothing waiting: armed, quiet
  ev.run_until_idle();
  REQUIRE(irqs.size() == 2);
  CHECK(irqs[0] == at(10_us));
  CHECK(irqs[1] == at(30_us));
  CHECK_FALSE(m.masked());
  CHECK(m.stats().completions == 6);
}
