// The event queue: ordering key (time, priority, sequence), cancel and reschedule by handle,
// the run variants, re-entrant callbacks, a randomized check against a reference model, and
// allocation-free steady state.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <tuple>
#include <vector>

#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/random.hpp"
#include "counting_operator_new.hpp"

// counting_operator_new.hpp counts every allocation of this program, so the steady-state test can
// prove that scheduling and running events allocates nothing (not just that capacity() stays put).

using namespace nicemu::sim;

namespace {

TimePoint at_ns(std::int64_t ns) { return TimePoint::zero() + Duration::from_ns(ns); }

}  // namespace

TEST_CASE("event queue: events at the same time run by priority, then in insertion order",
          "[sim][unit]") {
  EventQueue q;
  std::string order;
  q.schedule_at(at_ns(5), [&] { order += 'a'; });                      // prio 0, seq 0
  q.schedule_at(at_ns(5), [&] { order += 'b'; }, kPriorityStats);      // prio 100
  q.schedule_at(at_ns(5), [&] { order += 'c'; }, kPriorityControl);    // prio -100
  q.schedule_at(at_ns(5), [&] { order += 'd'; });                      // prio 0, seq 3
  q.schedule_at(at_ns(5), [&] { order += 'e'; }, kPriorityControl);    // prio -100, later seq
  q.schedule_at(at_ns(5), [&] { order += 'f'; }, kPriorityLast);
  q.schedule_at(at_ns(4), [&] { order += 'g'; }, kPriorityLast);       // earlier time wins
  const RunResult r = q.run_until_idle();
  CHECK(order == "gceadbf");
  CHECK(r.events_run == 7);
  CHECK(r.reason == StopReason::kIdle);
  CHECK(q.events_run() == 7);
  CHECK(q.now() == at_ns(5));
}

TEST_CASE("event queue: events run in time order and now() reads each event's time",
          "[sim][unit]") {
  EventQueue q;
  std::vector<std::int64_t> seen;
  for (const std::int64_t t : {30, 10, 20, 10, 40, 0}) {
    q.schedule_at(at_ns(t), [&q, &seen, t] {
      CHECK(q.now() == at_ns(t));
      seen.push_back(q.now().ns());
    });
  }
  CHECK(q.size() == 6);
  CHECK(q.next_event_time() == at_ns(0));
  q.run_until_idle();
  CHECK(seen == std::vector<std::int64_t>{0, 10, 10, 20, 30, 40});
  CHECK(q.empty());
  CHECK_FALSE(q.next_event_time().has_value());
}

TEST_CASE("event queue: schedule_in and reschedule_in measure from now()", "[sim][unit]") {
  EventQueue q;
  q.run_until(at_ns(100));
  std::vector<std::int64_t> seen;
  const EventHandle h = q.schedule_in(Duration::from_ns(7), [&] { seen.push_back(q.now().ns()); });
  CHECK(q.when(h) == at_ns(107));
  q.schedule_in(Duration::zero(), [&] { seen.push_back(q.now().ns()); });  // "now" is allowed
  CHECK(q.reschedule_in(h, Duration::from_ns(3)));
  CHECK(q.when(h) == at_ns(103));
  q.run_until_idle();
  CHECK(seen == std::vector<std::int64_t>{100, 103});
}

TEST_CASE("event queue: run_one runs exactly the earliest event", "[sim][unit]") {
  EventQueue q;
  CHECK_FALSE(q.run_one());
  int ran = 0;
  q.schedule_at(at_ns(2), [&] { ran = 2; });
  q.schedule_at(at_ns(1), [&] { ran = 1; });
  CHECK(q.run_one());
  CHECK(ran == 1);
  CHECK(q.now() == at_ns(1));
  CHECK(q.size() == 1);
  CHECK(q.run_one());
  CHECK(ran == 2);
  CHECK_FALSE(q.run_one());
  CHECK(q.events_run() == 2);
}

TEST_CASE("event queue: cancel returns true once and leaves the other events untouched",
          "[sim][unit]") {
  EventQueue q;
  std::string order;
  EventHandle a = q.schedule_at(at_ns(1), [&] { order += 'a'; });
  EventHandle b = q.schedule_at(at_ns(2), [&] { order += 'b'; });
  EventHandle c = q.schedule_at(at_ns(3), [&] { order += 'c'; });
  EventHandle b_copy = b;

  CHECK(q.cancel(b));
  CHECK_FALSE(b.valid());  // cancel resets the handle it was given
  CHECK_FALSE(q.is_pending(b_copy));
  CHECK_FALSE(q.cancel(b_copy));  // the second cancel of the same event finds nothing
  CHECK_FALSE(b_copy.valid());
  CHECK(q.is_pending(a));
  CHECK(q.is_pending(c));
  CHECK(q.when(a) == at_ns(1));
  CHECK(q.when(c) == at_ns(3));
  CHECK(q.size() == 2);

  EventHandle none;
  CHECK_FALSE(none);
  CHECK_FALSE(q.cancel(none));

  q.run_until_idle();
  CHECK(order == "ac");
}

TEST_CASE("event queue: a stale handle never touches the new event in its reused slot",
          "[sim][unit]") {
  EventQueue q;
  int fired = 0;
  EventHandle old_fired = q.schedule_at(at_ns(1), [&] { ++fired; });
  q.run_until_idle();
  CHECK(fired == 1);
  CHECK(old_fired.valid());                // still names an event...
  CHECK_FALSE(q.is_pending(old_fired));    // ...that has run

  // The single free slot is reused by the next event; the old handle must not reach it.
  std::string order;
  EventHandle fresh = q.schedule_at(at_ns(5), [&] { order += 'n'; });
  CHECK_FALSE(fresh == old_fired);
  EventHandle stale_copy = old_fired;
  CHECK_FALSE(q.cancel(stale_copy));
  CHECK_FALSE(q.reschedule(old_fired, at_ns(9)));
  CHECK(q.is_pending(fresh));
  CHECK(q.when(fresh) == at_ns(5));

  // Same for a cancelled event whose slot is taken over.
  EventHandle cancelled = q.schedule_at(at_ns(6), [&] { order += 'x'; });
  EventHandle cancelled_copy = cancelled;
  CHECK(q.cancel(cancelled));
  EventHandle reuser = q.schedule_at(at_ns(7), [&] { order += 'r'; });
  CHECK_FALSE(q.cancel(cancelled_copy));
  CHECK_FALSE(q.reschedule(cancelled_copy, at_ns(8)));
  CHECK(q.is_pending(reuser));
  CHECK(q.size() == 2);

  q.run_until_idle();
  CHECK(order == "nr");
}

TEST_CASE("event queue: reschedule moves an event, keeps callback and priority, and takes a fresh "
          "sequence",
          "[sim][unit]") {
  EventQueue q;
  std::string order;
  SECTION("earlier") {
    q.schedule_at(at_ns(5), [&] { order += 'a'; });
    EventHandle h = q.schedule_at(at_ns(20), [&] { order += 'h'; });
    CHECK(q.reschedule(h, at_ns(2)));
    CHECK(q.when(h) == at_ns(2));
    q.run_until_idle();
    CHECK(order == "ha");
  }
  SECTION("later") {
    EventHandle h = q.schedule_at(at_ns(1), [&] { order += 'h'; });
    q.schedule_at(at_ns(5), [&] { order += 'a'; });
    CHECK(q.reschedule(h, at_ns(9)));
    q.run_until(at_ns(8));
    CHECK(order == "a");
    CHECK(q.is_pending(h));
    q.run_until_idle();
    CHECK(order == "ah");
    CHECK(q.now() == at_ns(9));
  }
  SECTION("to the same time it goes behind equal-priority events scheduled before the call") {
    EventHandle h = q.schedule_at(at_ns(5), [&] { order += 'h'; });
    q.schedule_at(at_ns(5), [&] { order += 'a'; });
    CHECK(q.reschedule(h, at_ns(5)));
    q.schedule_at(at_ns(5), [&] { order += 'b'; });  // scheduled after the reschedule
    q.run_until_idle();
    CHECK(order == "ahb");
  }
  SECTION("priority is kept: a control event still runs before default ones at its new time") {
    q.schedule_at(at_ns(7), [&] { order += 'a'; });
    EventHandle h = q.schedule_at(at_ns(1), [&] { order += 'h'; }, kPriorityControl);
    q.schedule_at(at_ns(7), [&] { order += 'b'; }, kPriorityStats);
    CHECK(q.reschedule(h, at_ns(7)));
    q.run_until_idle();
    CHECK(order == "hab");
  }
  SECTION("a fired or cancelled event cannot be rescheduled") {
    EventHandle fired = q.schedule_at(at_ns(1), [&] { order += 'f'; });
    EventHandle gone = q.schedule_at(at_ns(2), [&] { order += 'g'; });
    EventHandle gone_copy = gone;
    q.run_until(at_ns(1));
    CHECK(q.cancel(gone));
    CHECK_FALSE(q.reschedule(fired, at_ns(3)));
    CHECK_FALSE(q.reschedule_in(gone_copy, Duration::from_ns(1)));
    CHECK_FALSE(q.reschedule(EventHandle{}, at_ns(3)));
    CHECK(q.empty());
    q.run_until_idle();
    CHECK(order == "f");
  }
}

TEST_CASE("event queue: run_until runs events up to and including the limit, advances now() to "
          "the limit and leaves later events pending",
          "[sim][unit]") {
  EventQueue q;
  std::vector<std::int64_t> seen;
  for (const std::int64_t t : {1, 5, 10, 11, 20}) {
    q.schedule_at(at_ns(t), [&seen, &q] { seen.push_back(q.now().ns()); });
  }
  const RunResult r = q.run_until(at_ns(10));
  CHECK(r.events_run == 3);
  CHECK(r.reason == StopReason::kTimeLimit);
  CHECK(seen == std::vector<std::int64_t>{1, 5, 10});
  CHECK(q.now() == at_ns(10));
  CHECK(q.size() == 2);
  CHECK(q.next_event_time() == at_ns(11));

  // An event a callback schedules inside the window runs in the same call.
  q.schedule_at(at_ns(12), [&] { q.schedule_at(at_ns(13), [&] { seen.push_back(-13); }); });
  const RunResult r2 = q.run_until(at_ns(15));
  CHECK(r2.events_run == 3);  // 11, 12, 13
  CHECK(seen.back() == -13);
  CHECK(q.now() == at_ns(15));
  CHECK(q.size() == 1);
}

TEST_CASE("event queue: run_until on an idle queue still advances the clock", "[sim][unit]") {
  EventQueue q;
  const RunResult r = q.run_until(at_ns(250));
  CHECK(r.events_run == 0);
  CHECK(r.reason == StopReason::kTimeLimit);
  CHECK(q.now() == at_ns(250));
  CHECK(q.run_until(at_ns(250)).events_run == 0);  // a limit equal to now() is allowed
  CHECK(q.now() == at_ns(250));
}

TEST_CASE("event queue: run_until_idle runs everything, including events scheduled by callbacks",
          "[sim][unit]") {
  EventQueue q;
  int chain = 0;
  // A chain of 100 events, each scheduling the next 1 ns later.
  struct Link {
    EventQueue* q;
    int* chain;
    void operator()() const {
      if (++*chain < 100) q->schedule_in(Duration::from_ns(1), Link{q, chain});
    }
  };
  q.schedule_at(at_ns(0), Link{&q, &chain});
  const RunResult r = q.run_until_idle();
  CHECK(r.reason == StopReason::kIdle);
  CHECK(r.events_run == 100);
  CHECK(chain == 100);
  CHECK(q.now() == at_ns(99));
  CHECK(q.empty());
  // Idle again right away.
  const RunResult again = q.run_until_idle();
  CHECK(again.events_run == 0);
  CHECK(again.reason == StopReason::kIdle);
}

TEST_CASE("event queue: run_until with a predicate stops after the event that makes it true",
          "[sim][unit]") {
  EventQueue q;
  int count = 0;
  for (int i = 1; i <= 10; ++i) q.schedule_at(at_ns(i * 10), [&] { ++count; });

  SECTION("stops on the event that satisfies it; now() stays at that event") {
    const RunResult r = q.run_until([&] { return count == 3; });
    CHECK(r.reason == StopReason::kPredicate);
    CHECK(r.events_run == 3);
    CHECK(q.now() == at_ns(30));
    CHECK(q.size() == 7);
  }
  SECTION("an already-true predicate runs nothing") {
    const RunResult r = q.run_until([] { return true; });
    CHECK(r.reason == StopReason::kPredicate);
    CHECK(r.events_run == 0);
    CHECK(q.size() == 10);
  }
  SECTION("a finite limit wins when reached first and advances now() to it") {
    const RunResult r = q.run_until([&] { return count == 8; }, at_ns(45));
    CHECK(r.reason == StopReason::kTimeLimit);
    CHECK(r.events_run == 4);
    CHECK(q.now() == at_ns(45));
  }
  SECTION("without a limit it ends idle, at the last event's time") {
    const RunResult r = q.run_until([] { return false; });
    CHECK(r.reason == StopReason::kIdle);
    CHECK(r.events_run == 10);
    CHECK(q.now() == at_ns(100));
  }
}

TEST_CASE("event queue: stop() from a callback ends the current run after that callback",
          "[sim][unit]") {
  EventQueue q;
  std::vector<int> seen;
  q.schedule_at(at_ns(1), [&] { seen.push_back(1); });
  q.schedule_at(at_ns(2), [&] {
    seen.push_back(2);
    q.stop();
    seen.push_back(22);  // the callback itself finishes
  });
  q.schedule_at(at_ns(2), [&] { seen.push_back(3); });
  q.schedule_at(at_ns(4), [&] { seen.push_back(4); });

  const RunResult r = q.run_until(at_ns(100));
  CHECK(r.reason == StopReason::kStopped);
  CHECK(r.events_run == 2);
  CHECK(seen == std::vector<int>{1, 2, 22});
  CHECK(q.now() == at_ns(2));  // not advanced to the limit
  CHECK(q.size() == 2);

  // The request does not leak into the next run.
  const RunResult rest = q.run_until_idle();
  CHECK(rest.reason == StopReason::kIdle);
  CHECK(rest.events_run == 2);
  CHECK(seen == std::vector<int>{1, 2, 22, 3, 4});

  // stop() wins over a predicate that becomes true on the same event.
  bool flag = false;
  q.schedule_at(at_ns(50), [&] {
    flag = true;
    q.stop();
  });
  q.schedule_at(at_ns(60), [] {});
  const RunResult both = q.run_until([&] { return flag; });
  CHECK(both.reason == StopReason::kStopped);
  CHECK(both.events_run == 1);
  CHECK(q.size() == 1);
}

TEST_CASE("event queue: callbacks may schedule, cancel and reschedule during a run, including "
          "into their own freed slot",
          "[sim][unit]") {
  EventQueue q;
  std::string order;
  EventHandle victim = q.schedule_at(at_ns(10), [&] { order += 'v'; });
  EventHandle mover = q.schedule_at(at_ns(20), [&] { order += 'm'; });
  EventHandle self;
  self = q.schedule_at(at_ns(5), [&] {
    order += 's';
    // Its own event is no longer pending: the slot was freed before the callback ran.
    CHECK_FALSE(q.is_pending(self));
    EventHandle own = self;
    CHECK_FALSE(q.cancel(own));
    CHECK(q.cancel(victim));
    CHECK(q.reschedule(mover, at_ns(6)));
    // The next schedule reuses the freed slot (LIFO); the old handle still reads as stale.
    EventHandle reborn = q.schedule_at(at_ns(7), [&] { order += 'r'; });
    CHECK(q.is_pending(reborn));
    CHECK_FALSE(q.is_pending(self));
    q.schedule_at(q.now(), [&] { order += 'n'; });  // same instant, runs later in this run
  });
  const RunResult r = q.run_until(at_ns(100));
  CHECK(order == "snmr");
  CHECK(r.events_run == 4);
  CHECK(q.empty());
}

namespace {

// Counts live copies of a capture, to see when the queue destroys callbacks.
struct LiveCounter {
  explicit LiveCounter(int* live) : live_(live) { ++*live_; }
  LiveCounter(LiveCounter&& o) noexcept : live_(o.live_) { ++*live_; }
  LiveCounter(const LiveCounter& o) : live_(o.live_) { ++*live_; }
  LiveCounter& operator=(const LiveCounter&) = delete;
  ~LiveCounter() { --*live_; }
  int* live_;
};

}  // namespace

TEST_CASE("event queue: a callback's captures are destroyed when it runs, when it is cancelled "
          "and with the queue",
          "[sim][unit]") {
  int live = 0;
  {
    EventQueue q;
    q.schedule_at(at_ns(1), [c = LiveCounter(&live)] {});
    EventHandle h = q.schedule_at(at_ns(2), [c = LiveCounter(&live)] {});
    q.schedule_at(at_ns(3), [c = LiveCounter(&live)] {});
    CHECK(live == 3);
    q.run_one();
    CHECK(live == 2);
    CHECK(q.cancel(h));
    CHECK(live == 1);
  }
  CHECK(live == 0);
}

TEST_CASE("event queue: matches a reference model over thousands of random operations",
          "[sim][unit]") {
  // Reference: a std::map ordered by exactly the documented key (time, priority, sequence).
  using Key = std::tuple<std::int64_t, Priority, std::uint64_t>;
  for (const std::uint64_t seed : {1ULL, 2ULL, 3ULL, 0xdecafULL}) {
    INFO("seed " << seed);
    Rng rng(seed);
    EventQueue q;
    std::map<Key, int> ref;
    std::vector<std::map<Key, int>::iterator> ref_pos;  // by event id; end() when not pending
    std::vector<EventHandle> handles;                    // by event id
    std::uint64_t ref_seq = 0;
    std::int64_t ref_now = 0;
    std::vector<int> fired;
    std::vector<int> ref_fired;
    const Priority prios[] = {-1, 0, 0, 1};

    auto ref_pending = [&](int id) { return ref_pos[static_cast<std::size_t>(id)] != ref.end(); };
    auto ref_run_top = [&] {
      auto it = ref.begin();
      ref_now = std::get<0>(it->first);
      ref_fired.push_back(it->second);
      ref_pos[static_cast<std::size_t>(it->second)] = ref.end();
      ref.erase(it);
    };
    // Half the probes pick a recent event (likely pending, so cancels and reschedules hit the
    // middle of a deep heap), half any event ever scheduled (likely fired: stale handles).
    auto random_id = [&] {
      const std::uint64_t n = handles.size();
      if (n > 64 && rng.bernoulli(0.5)) return static_cast<int>(n - 1 - rng.uniform(64));
      return static_cast<int>(rng.uniform(n));
    };
    // Half the times fall on a coarse grid of 8 instants (ties, so priority and sequence decide),
    // half spread over a microsecond (so the heap grows deep).
    auto random_time = [&] {
      return ref_now + (rng.bernoulli(0.5) ? static_cast<std::int64_t>(rng.uniform(8)) * 1000
                                            : static_cast<std::int64_t>(rng.uniform(1'000'000)));
    };
    std::size_t max_pending = 0;

    for (int op = 0; op < 6000; ++op) {
      // Grow the population for the first half, then let it drain.
      const std::uint64_t schedule_percent = op < 3000 ? 55 : 20;
      const std::uint64_t kind = rng.uniform(100);
      if (kind < schedule_percent || handles.empty()) {
        const std::int64_t t = random_time();
        const Priority prio = prios[rng.uniform(4)];
        const int id = static_cast<int>(handles.size());
        handles.push_back(q.schedule_at(TimePoint::from_ps(t), [&fired, id] { fired.push_back(id); }, prio));
        ref_pos.push_back(ref.emplace(Key{t, prio, ref_seq++}, id).first);
      } else if (kind < schedule_percent + 20) {
        const int id = random_id();
        EventHandle h = handles[static_cast<std::size_t>(id)];
        const bool expected = ref_pending(id);
        REQUIRE(q.cancel(h) == expected);
        if (expected) {
          ref.erase(ref_pos[static_cast<std::size_t>(id)]);
          ref_pos[static_cast<std::size_t>(id)] = ref.end();
        }
      } else if (kind < schedule_percent + 35) {
        const int id = random_id();
        const std::int64_t t = random_time();
        const bool expected = ref_pending(id);
        REQUIRE(q.reschedule(handles[static_cast<std::size_t>(id)], TimePoint::from_ps(t)) == expected);
        if (expected) {
          auto& it = ref_pos[static_cast<std::size_t>(id)];
          const Priority prio = std::get<1>(it->first);
          ref.erase(it);
          it = ref.emplace(Key{t, prio, ref_seq++}, id).first;
        }
      } else if (kind < schedule_percent + 40) {
        const bool expected = !ref.empty();
        REQUIRE(q.run_one() == expected);
        if (expected) ref_run_top();
      } else {
        const std::int64_t limit = ref_now + static_cast<std::int64_t>(rng.uniform(5'000));
        const RunResult r = q.run_until(TimePoint::from_ps(limit));
        std::uint64_t expected_run = 0;
        while (!ref.empty() && std::get<0>(ref.begin()->first) <= limit) {
          ref_run_top();
          ++expected_run;
        }
        ref_now = limit;
        REQUIRE(r.events_run == expected_run);
        REQUIRE(r.reason == StopReason::kTimeLimit);
      }

      REQUIRE(fired == ref_fired);
      REQUIRE(q.size() == ref.size());
      max_pending = std::max(max_pending, ref.size());
      REQUIRE(q.now().ps() == ref_now);
      const int probe = random_id();
      REQUIRE(q.is_pending(handles[static_cast<std::size_t>(probe)]) == ref_pending(probe));
      if (ref_pending(probe)) {
        REQUIRE(q.when(handles[static_cast<std::size_t>(probe)]).ps() ==
                std::get<0>(ref_pos[static_cast<std::size_t>(probe)]->first));
      }
    }
    q.run_until_idle();
    while (!ref.empty()) ref_run_top();
    CHECK(fired == ref_fired);
    CHECK(fired.size() > 1000);
    CHECK(max_pending > 300);  // the heap was several levels deep
  }
}

namespace {

// A steady population: every event schedules its successor at a pseudo-random later time.
struct Churn {
  EventQueue* q;
  Rng* rng;
  std::uint64_t* ran;
  void operator()() const {
    ++*ran;
    q->schedule_in(Duration::from_ps(1 + static_cast<std::int64_t>(rng->uniform(1'000'000))),
                   Churn{q, rng, ran}, static_cast<Priority>(rng->uniform(3)));
  }
};

}  // namespace

TEST_CASE("event queue: after warm-up, scheduling and running allocates nothing and capacity "
          "stays fixed",
          "[sim][unit]") {
  EventQueue q;
  Rng rng(7);
  std::uint64_t ran = 0;
  constexpr int kPopulation = 1000;
  for (int i = 0; i < kPopulation; ++i) {
    q.schedule_in(Duration::from_ps(static_cast<std::int64_t>(rng.uniform(1'000'000))),
                  Churn{&q, &rng, &ran});
  }
  q.run_until([&] { return ran >= 10'000; });  // warm-up
  const std::size_t capacity = q.capacity();
  CHECK(capacity >= kPopulation);

  const std::uint64_t allocations_before = nicemu::testing::allocations();
  q.run_until([&] { return ran >= 110'000; });
  // Cancel and schedule churn as well: freed slots are reused.
  for (int i = 0; i < 1000; ++i) {
    EventHandle h = q.schedule_in(Duration::from_ns(5), Churn{&q, &rng, &ran});
    q.cancel(h);
  }
  const std::uint64_t allocations_after = nicemu::testing::allocations();

  CHECK(allocations_after - allocations_before == 0);
  CHECK(q.capacity() == capacity);
  CHECK(q.size() == kPopulation);

  // The accessor is not constant: exceeding the old maximum population makes it grow.
  for (std::size_t i = 0; i <= capacity; ++i) q.schedule_in(Duration::from_ns(1), [] {});
  CHECK(q.capacity() > capacity);
}
