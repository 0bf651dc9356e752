// One direction of a bandwidth-limited bus: first-fit reservations of simulated time.
#include "nicemu/nic/hw/bus_resource.hpp"

#include <algorithm>

#include "nicemu/base/assert.hpp"

namespace nicemu::nic::hw {

void BusResource::forget_before(sim::TimePoint now) {
  // Intervals are disjoint and sorted by start, so their ends are sorted too.
  std::size_t done = 0;
  while (done < pending_.size() && pending_[done].end <= now) ++done;
  if (done > 0) pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
}

BusGrant BusResource::reserve_slow(sim::TimePoint now, sim::Duration occupancy, sim::TimePoint not_before) {
  NICEMU_ASSERT(now >= last_now_, "BusResource::reserve: `now` went backwards");
  NICEMU_ASSERT(occupancy >= sim::Duration::zero(), "BusResource::reserve: negative occupancy");
  last_now_ = now;
  if (!pending_.empty() && pending_.front().end <= now) forget_before(now);

  const sim::TimePoint earliest = std::max(now, not_before);
  if (pending_.empty() || earliest >= pending_.back().end) {
    // After everything reserved (the common case): the search below would pass every interval.
    const sim::TimePoint end = earliest + occupancy;
    if (occupancy > sim::Duration::zero()) {
      if (!pending_.empty() && pending_.back().end == earliest) pending_.back().end = end;
      else pending_.push_back(Interval{earliest, end});
    }
    ++stats_.grants;
    stats_.busy += occupancy;
    return BusGrant{earliest, end};
  }
  if (occupancy > sim::Duration::zero() && earliest >= pending_.back().start) {
    // Inside the last reservation (the other common case: a burst of requests made at one
    // instant queue back to back). Every gap lies before `earliest`, so the search below would
    // end right after the last interval: the grant joins it.
    const sim::TimePoint start = pending_.back().end;
    const sim::TimePoint end = start + occupancy;
    pending_.back().end = end;
    const sim::Duration wait = start - earliest;
    ++stats_.grants;
    stats_.busy += occupancy;
    stats_.waited += wait;
    stats_.max_wait = std::max(stats_.max_wait, wait);
    return BusGrant{start, end};
  }
  sim::TimePoint start = earliest;
  std::size_t at = 0;
  for (; at < pending_.size(); ++at) {
    const Interval& busy = pending_[at];
    if (busy.end <= start) continue;             // entirely before the candidate start
    if (start + occupancy <= busy.start) break;  // fits in the gap before this reservation
    start = busy.end;                            // overlaps: try right after it
  }
  const bool backfilled = at < pending_.size();
  const sim::TimePoint end = start + occupancy;
  if (occupancy > sim::Duration::zero()) {
    // Busy time that touches a neighbour joins it, so back-to-back grants (the common case: one
    // transfer's TLPs) keep the list short and this search cheap. Grants are unchanged by it.
    const bool joins_prev = at > 0 && pending_[at - 1].end == start;
    const bool joins_next = at < pending_.size() && pending_[at].start == end;
    if (joins_prev && joins_next) {
      pending_[at - 1].end = pending_[at].end;
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(at));
    } else if (joins_prev) {
      pending_[at - 1].end = end;
    } else if (joins_next) {
      pending_[at].start = start;
    } else {
      pending_.insert(pending_.begin() + static_cast<std::ptrdiff_t>(at), Interval{start, end});
    }
  }

  const sim::Duration wait = start - earliest;
  ++stats_.grants;
  stats_.busy += occupancy;
  stats_.waited += wait;
  stats_.max_wait = std::max(stats_.max_wait, wait);
  if (backfilled && occupancy > sim::Duration::zero()) ++stats_.backfilled;
  return BusGrant{start, end};
}

sim::TimePoint BusResource::free_at() const {
  if (pending_.empty()) return last_now_;
  return std::max(last_now_, pending_.back().end);
}

}  // namespace nicemu::nic::hw
