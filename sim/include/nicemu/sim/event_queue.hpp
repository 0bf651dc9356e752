// nicemu/sim/event_queue.hpp — the discrete-event queue that drives every simulated component.
//
// Models: the passage of simulated time. An event is a callback to run at a TimePoint. Events
//   run in the order of the key (time, priority, insertion sequence): the key is total and
//   never depends on addresses, hashing or heap internals, so a run is a pure function of
//   (scenario, seed) (DESIGN.md §5). The queue is also the simulation's Clock.
// Not modelled: parallel execution (one queue, one thread; simulated CPU cores are resources,
//   not threads), real-time pacing (a pacer for DPDK runs calls run_until with wall-clock
//   limits; the queue itself never reads the wall clock), events that outlive the queue
//   (pending callbacks are destroyed, not run, when the queue is destroyed).
// References: gem5 src/sim/eventq.hh (time then priority, named priorities); SimBricks
//   lib/simbricks/nicbm (the lesson taken: cancel by handle, never by key, so a cancel cannot
//   remove some other event that happens to share the key).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "nicemu/base/assert.hpp"
#include "nicemu/sim/inplace_function.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::sim {

// Among events at the same TimePoint the lower priority runs first; equal priorities run in
// insertion order. Priorities say "which side of an instant" an event belongs to; they are not
// a way to make something faster.
using Priority = std::int32_t;

// Control-plane changes (fault knobs, link up/down, queue-restart steps) scheduled for time t
// take effect before datapath events at t, so "drop the link at 10 µs" applies to a frame that
// arrives at exactly 10 µs (gem5 runs its debug/config events before CPU ticks for this reason).
inline constexpr Priority kPriorityControl = -100;
// Everything that models the datapath.
inline constexpr Priority kPriorityDefault = 0;
// Samplers and stats dumps at time t see the state after every datapath event at t, so a CSV
// row stamped t is consistent with the counters at t (gem5 Stat_Event_Pri).
inline constexpr Priority kPriorityStats = 100;
// "End of run" events run after everything else at their instant (gem5 Sim_Exit_Pri).
inline constexpr Priority kPriorityLast = std::numeric_limits<Priority>::max();

// Names one scheduled event. Copyable and cheap. A handle outlives its event safely: once the
// event has run or been cancelled, or its slot has been reused by a new event, the queue treats
// the handle as stale (it compares the slot's generation) and never acts on the new event.
class EventHandle {
 public:
  constexpr EventHandle() = default;  // refers to no event

  // True when the handle came from schedule_* and was not reset by cancel(). It says nothing
  // about whether the event is still pending: ask EventQueue::is_pending for that.
  constexpr bool valid() const { return generation_ != 0; }
  constexpr explicit operator bool() const { return valid(); }

  constexpr void reset() { *this = EventHandle(); }

  friend constexpr bool operator==(const EventHandle&, const EventHandle&) = default;

 private:
  friend class EventQueue;
  constexpr EventHandle(std::uint32_t slot, std::uint64_t generation)
      : slot_(slot), generation_(generation) {}

  std::uint32_t slot_ = 0;
  // 64 bits so that a stale handle cannot alias a later event in the same slot within any
  // feasible run (a 32-bit counter wraps after ~4·10^9 reuses of one slot: minutes of wall-clock
  // time at full event rate).
  std::uint64_t generation_ = 0;  // 0 = none; issued generations are odd
};

enum class StopReason {
  kTimeLimit,  // every event at or before the limit has run; now() == limit
  kIdle,       // no event is left; now() is the time of the last event run
  kStopped,    // a callback called stop(); now() is that callback's time
  kPredicate,  // the caller's predicate became true; now() is the last event's time
};

struct RunResult {
  std::uint64_t events_run;  // by this call
  StopReason reason;
};

class EventQueue final : public Clock {
 public:
  // 64 bytes holds a `this` pointer plus several handles, sizes and ids; bigger state belongs in
  // the component, not in the capture.
  using Callback = InplaceFunction<void(), 64>;

  EventQueue() = default;
  ~EventQueue() = default;
  // Components keep `Clock&` / `EventQueue&` to it, and handles index its slots.
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;
  EventQueue(EventQueue&&) = delete;
  EventQueue& operator=(EventQueue&&) = delete;

  // --- scheduling -------------------------------------------------------------------------
  // Scheduling before now() is a bug in the caller and aborts ("in the past", both times in ps).
  // `when == now()` is allowed: the event runs in the current instant, after events already
  // queued for now() with the same or a lower priority.
  EventHandle schedule_at(TimePoint when, Callback cb, Priority prio = kPriorityDefault);
  // A negative delay aborts like a past time.
  EventHandle schedule_in(Duration delay, Callback cb, Priority prio = kPriorityDefault);

  // Removes a pending event and destroys its callback. Returns true if it was pending; false for
  // a none, fired, cancelled or stale handle (and then touches nothing). Always resets `h`.
  bool cancel(EventHandle& h);

  // Moves a pending event to `when`, keeping its callback and priority. It takes a fresh
  // insertion sequence, so among equal (time, priority) it now runs after events scheduled
  // before this call, exactly as if it had been cancelled and scheduled again. Returns false if
  // the event is not pending (nothing changes). Same past-time rule as schedule_at.
  bool reschedule(EventHandle h, TimePoint when);
  bool reschedule_in(EventHandle h, Duration delay);

  // --- inspection (no side effects) -------------------------------------------------------
  bool is_pending(EventHandle h) const;
  TimePoint when(EventHandle h) const;  // aborts unless is_pending(h)
  TimePoint now() const override { return now_; }
  std::optional<TimePoint> next_event_time() const;  // earliest pending event, if any
  std::size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }
  std::uint64_t events_run() const { return events_run_; }  // since construction
  // Pending events the queue can hold without allocating. It only grows when the number of
  // pending events exceeds every earlier maximum (tests use it to prove steady state is
  // allocation-free).
  std::size_t capacity() const;
  void reserve(std::size_t pending_events);

  // --- running ----------------------------------------------------------------------------
  // Runs every event with time <= limit (including ones scheduled meanwhile), then sets
  // now() = limit even if nothing ran. Returns kTimeLimit, or kStopped (now() stays at the
  // stopping event's time). `limit` before now() aborts.
  RunResult run_until(TimePoint limit);
  // Runs until no event is left (kIdle) or stop() (kStopped).
  RunResult run_until_idle();
  // Runs events in order until `done()` is true (kPredicate), checking it once before the first
  // event (so an already-true condition runs nothing) and after every event. If no event at or
  // before `limit` remains: with the default limit (no limit) it returns kIdle; with a finite
  // limit it advances now() to `limit` and returns kTimeLimit, like run_until(limit).
  // stop() wins over the predicate when both happen on the same event.
  template <class Pred>
    requires std::predicate<Pred&>
  RunResult run_until(Pred&& done, TimePoint limit = TimePoint::max());
  // Runs the earliest event, if any. Returns false when the queue is empty.
  bool run_one();
  // From inside a callback: the current run_* call returns after this callback (kStopped).
  // Each run_* call starts with the request cleared, so stop() outside a run has no effect.
  void stop() { stop_requested_ = true; }

 private:
  static constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

  // The key is copied into the heap entry so that sifting compares contiguous memory instead
  // of chasing a slot index per comparison; the slot only learns its new heap position.
  struct HeapEntry {
    TimePoint when;
    std::uint64_t seq;
    Priority prio;
    std::uint32_t slot;
  };

  // The run loop's state: at most one run_* is active; nesting would interleave two "nows".
  class RunScope {
   public:
    explicit RunScope(EventQueue& q) : q_(q) {
      NICEMU_ASSERT(!q_.running_, "EventQueue: run_* called from inside a callback (runs do not nest)");
      q_.running_ = true;
      q_.stop_requested_ = false;
    }
    ~RunScope() { q_.running_ = false; }
    RunScope(const RunScope&) = delete;
    RunScope& operator=(const RunScope&) = delete;

   private:
    EventQueue& q_;
  };

  static bool before(const HeapEntry& a, const HeapEntry& b) {
    if (a.when != b.when) return a.when < b.when;
    if (a.prio != b.prio) return a.prio < b.prio;
    return a.seq < b.seq;
  }

  bool has_event_at_or_before(TimePoint limit) const { return !heap_.empty() && heap_[0].when <= limit; }
  bool pending(EventHandle h) const {
    return h.slot_ < generations_.size() && generations_[h.slot_] == h.generation_ &&
           (h.generation_ & 1) != 0;
  }
  TimePoint checked_target(TimePoint when, const char* op) const;
  TimePoint checked_target(Duration delay, const char* op) const;
  std::uint32_t alloc_slot();
  void free_slot(std::uint32_t slot);
  void heap_remove(std::size_t pos);
  void sift_up(std::size_t pos, HeapEntry e);
  void sift_down(std::size_t pos);
  std::size_t min_child(std::size_t first, std::size_t n) const;
  void place(std::size_t pos, const HeapEntry& e);
  void run_top();  // pops the earliest event, frees its slot, then runs its callback

  // Per-slot state as parallel arrays: sifting rewrites links_ for every entry it moves, and a
  // dense 4-byte array keeps those writes within few cache lines, where slots that also carried
  // the 80-byte callback would spread them over 20x more memory.
  std::vector<Callback> callbacks_;         // empty while the slot is free
  // Odd while the slot holds a pending event, even while free; bumped on allocate and on free,
  // so a handle (which records the odd value) matches only the very event it was issued for.
  std::vector<std::uint64_t> generations_;
  std::vector<std::uint32_t> links_;        // pending: position in heap_; free: next free slot
  std::uint32_t free_head_ = kNoSlot;
  std::vector<HeapEntry> heap_;  // 4-ary min-heap on (when, prio, seq)
  TimePoint now_{};
  std::uint64_t next_seq_ = 0;
  std::uint64_t events_run_ = 0;
  bool running_ = false;
  bool stop_requested_ = false;
};

template <class Pred>
  requires std::predicate<Pred&>
RunResult EventQueue::run_until(Pred&& done, TimePoint limit) {
  RunScope scope(*this);
  if (limit != TimePoint::max()) checked_target(limit, "run_until");
  std::uint64_t n = 0;
  if (done()) return {n, StopReason::kPredicate};
  while (has_event_at_or_before(limit)) {
    run_top();
    ++n;
    if (stop_requested_) return {n, StopReason::kStopped};
    if (done()) return {n, StopReason::kPredicate};
  }
  if (limit == TimePoint::max()) return {n, StopReason::kIdle};
  now_ = limit;
  return {n, StopReason::kTimeLimit};
}

}  // namespace nicemu::sim
