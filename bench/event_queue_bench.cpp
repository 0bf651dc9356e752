// event_queue_bench — events scheduled and run per wall-clock second by nicemu::sim::EventQueue.
//
// Workload: a steady population of N pending events (N = 1k and 100k). Every event, when it
// runs, schedules one successor at now + uniform(1 ps .. 2 µs) with a random priority from an
// Rng, so each measured event is one schedule plus one pop, and the heap stays at N entries
// while event times interleave randomly (the worst case for a heap, unlike FIFO-like timers).
// Each size runs a warm-up and then 5 timed repeats; the median is printed as
//   event_queue[pending=<N>]: <events_per_s> events/s <ns_per_event> ns/event
// Wall-clock time is read only here, never by simulated behaviour (DESIGN.md §5).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/random.hpp"

namespace {

using nicemu::sim::Duration;
using nicemu::sim::EventQueue;
using nicemu::sim::Priority;
using nicemu::sim::Rng;

constexpr std::uint64_t kMaxDelayPs = 2'000'000;
constexpr int kRepeats = 5;

struct Context {
  EventQueue* queue;
  Rng* rng;
};

// Captures one pointer, like a component's `[this]`.
struct Successor {
  Context* ctx;
  void operator()() const {
    const auto delay = Duration::from_ps(1 + static_cast<std::int64_t>(ctx->rng->uniform(kMaxDelayPs)));
    const auto prio = static_cast<Priority>(ctx->rng->uniform(3));
    ctx->queue->schedule_in(delay, Successor{ctx}, prio);
  }
};

double run_once_ns_per_event(EventQueue& q, std::uint64_t events) {
  const std::uint64_t target = q.events_run() + events;
  const auto start = std::chrono::steady_clock::now();
  q.run_until([&q, target] { return q.events_run() >= target; });
  const auto stop = std::chrono::steady_clock::now();
  const double ns = std::chrono::duration<double, std::nano>(stop - start).count();
  return ns / static_cast<double>(events);
}

void bench(std::size_t pending, std::uint64_t events_per_repeat) {
  EventQueue q;
  Rng rng(pending);
  Context ctx{&q, &rng};
  for (std::size_t i = 0; i < pending; ++i) {
    q.schedule_in(Duration::from_ps(static_cast<std::int64_t>(rng.uniform(kMaxDelayPs))), Successor{&ctx});
  }
  run_once_ns_per_event(q, events_per_repeat / 2);  // warm-up: caches, branch predictors, heap shape

  std::vector<double> samples;
  for (int r = 0; r < kRepeats; ++r) samples.push_back(run_once_ns_per_event(q, events_per_repeat));
  std::sort(samples.begin(), samples.end());
  const double median_ns = samples[samples.size() / 2];
  if (q.size() != pending) {
    std::fprintf(stderr, "event_queue_bench: population drifted to %zu (expected %zu)\n", q.size(), pending);
  }
  std::printf("event_queue[pending=%zu]: %.0f events/s %.1f ns/event\n", pending, 1e9 / median_ns, median_ns);
}

}  // namespace

int main() {
  bench(1'000, 2'000'000);
  bench(100'000, 1'000'000);
  return 0;
}
