// Event queue implementation: slots with generations (stable indices for handles) plus a 4-ary
// min-heap of (key, slot) entries. A 4-ary heap halves the depth of a binary heap, and its four
// children (96 bytes) sit in about one and a half cache lines, which makes pops cheaper for the
// 10^3..10^6 pending events a NIC simulation keeps.
#include "nicemu/sim/event_queue.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace nicemu::sim {

namespace {

constexpr std::size_t kArity = 4;

// Cold path: build a message with both times so the report says how far in the past it was.
[[noreturn, gnu::cold, gnu::noinline]] void fail_in_past(const char* op, TimePoint now,
                                                         TimePoint requested) {
  char msg[200];
  std::snprintf(msg, sizeof msg,
                "EventQueue::%s: requested time %" PRId64 " ps is in the past (now is %" PRId64
                " ps); events can only be scheduled at or after now()",
                op, requested.ps(), now.ps());
  ::nicemu::base::assert_fail(__FILE__, __LINE__, "when >= now()", msg);
}

[[noreturn, gnu::cold, gnu::noinline]] void fail_negative_delay(const char* op, TimePoint now,
                                                                Duration delay) {
  char msg[200];
  std::snprintf(msg, sizeof msg,
                "EventQueue::%s: delay %" PRId64 " ps puts the event in the past (now is %" PRId64
                " ps, requested %" PRId64 " ps)",
                op, delay.ps(), now.ps(), (now + delay).ps());
  ::nicemu::base::assert_fail(__FILE__, __LINE__, "delay >= 0", msg);
}

}  // namespace

TimePoint EventQueue::checked_target(TimePoint when, const char* op) const {
  if (NICEMU_UNLIKELY(when < now_)) fail_in_past(op, now_, when);
  return when;
}

TimePoint EventQueue::checked_target(Duration delay, const char* op) const {
  if (NICEMU_UNLIKELY(delay < Duration::zero())) fail_negative_delay(op, now_, delay);
  NICEMU_ASSERT(delay <= TimePoint::max() - now_,
                "EventQueue: now() + delay overflows 64-bit picoseconds (over 106 days)");
  return now_ + delay;
}

EventHandle EventQueue::schedule_at(TimePoint when, Callback cb, Priority prio) {
  checked_target(when, "schedule_at");
  NICEMU_ASSERT(static_cast<bool>(cb), "EventQueue::schedule_at: empty callback");
  const std::uint32_t slot = alloc_slot();
  callbacks_[slot] = std::move(cb);
  heap_.emplace_back();
  sift_up(heap_.size() - 1, HeapEntry{when, next_seq_++, prio, slot});
  return EventHandle(slot, generations_[slot]);
}

EventHandle EventQueue::schedule_in(Duration delay, Callback cb, Priority prio) {
  return schedule_at(checked_target(delay, "schedule_in"), std::move(cb), prio);
}

bool EventQueue::cancel(EventHandle& h) {
  const bool was_pending = pending(h);
  const std::uint32_t slot = h.slot_;
  h.reset();
  if (!was_pending) return false;
  heap_remove(links_[slot]);
  free_slot(slot);
  return true;
}

bool EventQueue::reschedule(EventHandle h, TimePoint when) {
  if (!pending(h)) return false;
  checked_target(when, "reschedule");
  const std::size_t pos = links_[h.slot_];
  HeapEntry& e = heap_[pos];
  const bool earlier = when < e.when;
  e.when = when;
  e.seq = next_seq_++;
  // A fresh sequence makes the key strictly larger unless the time moved earlier.
  if (earlier) {
    sift_up(pos, e);
  } else {
    sift_down(pos);
  }
  return true;
}

bool EventQueue::reschedule_in(EventHandle h, Duration delay) {
  if (!pending(h)) return false;
  return reschedule(h, checked_target(delay, "reschedule_in"));
}

bool EventQueue::is_pending(EventHandle h) const { return pending(h); }

TimePoint EventQueue::when(EventHandle h) const {
  NICEMU_ASSERT(pending(h), "EventQueue::when: the handle does not name a pending event");
  return heap_[links_[h.slot_]].when;
}

std::optional<TimePoint> EventQueue::next_event_time() const {
  if (heap_.empty()) return std::nullopt;
  return heap_[0].when;
}

std::size_t EventQueue::capacity() const {
  return std::min({callbacks_.capacity(), generations_.capacity(), links_.capacity(), heap_.capacity()});
}

void EventQueue::reserve(std::size_t pending_events) {
  callbacks_.reserve(pending_events);
  generations_.reserve(pending_events);
  links_.reserve(pending_events);
  heap_.reserve(pending_events);
}

[[gnu::always_inline]] inline std::uint32_t EventQueue::alloc_slot() {
  std::uint32_t slot = free_head_;
  if (slot != kNoSlot) {
    free_head_ = links_[slot];
  } else {
    NICEMU_ASSERT(generations_.size() < kNoSlot, "EventQueue: more than 2^32-1 pending events");
    slot = static_cast<std::uint32_t>(generations_.size());
    callbacks_.emplace_back();
    generations_.push_back(0);
    links_.push_back(kNoSlot);
  }
  ++generations_[slot];  // even (free) -> odd (pending)
  return slot;
}

[[gnu::always_inline]] inline void EventQueue::free_slot(std::uint32_t slot) {
  callbacks_[slot].reset();
  ++generations_[slot];  // odd (pending) -> even (free): every handle to it is now stale
  // LIFO reuse keeps the working set of slots small and warm in the cache.
  links_[slot] = free_head_;
  free_head_ = slot;
}

[[gnu::always_inline]] inline void EventQueue::place(std::size_t pos, const HeapEntry& e) {
  heap_[pos] = e;
  links_[e.slot] = static_cast<std::uint32_t>(pos);
}

// `e` goes into the hole at `pos` or above it (it is passed by value rather than read back from
// heap_[pos]: a just-stored entry read back at once stalls on store forwarding).
[[gnu::always_inline]] inline void EventQueue::sift_up(std::size_t pos, const HeapEntry e) {
  while (pos > 0) {
    const std::size_t parent = (pos - 1) / kArity;
    if (!before(e, heap_[parent])) break;
    place(pos, heap_[parent]);
    pos = parent;
  }
  place(pos, e);
}

// The smallest of the children starting at `first` (first < n). A full set of four is compared
// as a tournament: three comparisons, two of them independent of each other.
[[gnu::always_inline]] inline std::size_t EventQueue::min_child(std::size_t first, std::size_t n) const {
  if (first + kArity <= n) {
    const std::size_t a = before(heap_[first + 1], heap_[first]) ? first + 1 : first;
    const std::size_t b = before(heap_[first + 3], heap_[first + 2]) ? first + 3 : first + 2;
    return before(heap_[b], heap_[a]) ? b : a;
  }
  std::size_t best = first;
  for (std::size_t c = first + 1; c < n; ++c) {
    if (before(heap_[c], heap_[best])) best = c;
  }
  return best;
}

void EventQueue::sift_down(std::size_t pos) {
  const HeapEntry e = heap_[pos];
  const std::size_t n = heap_.size();
  for (std::size_t first = pos * kArity + 1; first < n; first = pos * kArity + 1) {
    const std::size_t best = min_child(first, n);
    if (!before(heap_[best], e)) break;
    place(pos, heap_[best]);
    pos = best;
  }
  place(pos, e);
}

// Removal moves the hole at `pos` down to a leaf along the smaller children without comparing
// against the element that will fill it (the former last entry, which almost always belongs
// near the bottom), then sifts that element up from the leaf. This saves one comparison per
// level over a classic sift-down and is correct for any `pos`: every entry on the path moved
// up by one level under a parent no larger than itself, so sift_up may carry the element above
// `pos` when it is smaller than pos's ancestors (cancel in the middle of the heap).
[[gnu::always_inline]] inline void EventQueue::heap_remove(std::size_t pos) {
  const HeapEntry moved = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (pos == n) return;  // it was the last entry
  for (std::size_t first = pos * kArity + 1; first < n; first = pos * kArity + 1) {
    const std::size_t best = min_child(first, n);
    place(pos, heap_[best]);
    pos = best;
  }
  sift_up(pos, moved);
}

void EventQueue::run_top() {
  const HeapEntry top = heap_[0];
  heap_remove(0);
  // Move the callback out and free the slot before running it: the callback may then schedule,
  // cancel or reschedule anything (its own handle already reads as not pending), and the slots
  // vector may grow under it without invalidating what is running.
  Callback cb = std::move(callbacks_[top.slot]);
  free_slot(top.slot);
  now_ = top.when;
  ++events_run_;
  cb();
}

bool EventQueue::run_one() {
  RunScope scope(*this);
  if (heap_.empty()) return false;
  run_top();
  return true;
}

RunResult EventQueue::run_until(TimePoint limit) {
  RunScope scope(*this);
  checked_target(limit, "run_until");
  std::uint64_t n = 0;
  while (has_event_at_or_before(limit)) {
    run_top();
    ++n;
    if (stop_requested_) return {n, StopReason::kStopped};
  }
  now_ = limit;
  return {n, StopReason::kTimeLimit};
}

RunResult EventQueue::run_until_idle() {
  RunScope scope(*this);
  std::uint64_t n = 0;
  while (!heap_.empty()) {
    run_top();
    ++n;
    if (stop_requested_) return {n, StopReason::kStopped};
  }
  return {n, StopReason::kIdle};
}

}  // namespace nicemu::sim
