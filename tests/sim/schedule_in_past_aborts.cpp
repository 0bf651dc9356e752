// Death test: scheduling before now() is a bug in the caller and must abort with a message that
// says "in the past" and gives both times. Run by expect_abort.cmake, which checks exactly that.
#include <cstdio>

#include "nicemu/sim/event_queue.hpp"

int main() {
  using namespace nicemu::sim;
  EventQueue q;
  q.run_until(TimePoint::zero() + Duration::from_ns(10));
  q.schedule_at(TimePoint::zero() + Duration::from_ns(5), [] {});
  std::puts("schedule_in_past_aborts: scheduling at 5 ns with now() = 10 ns did not abort");
  return 0;
}
