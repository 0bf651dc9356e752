// nicemu/nic/hw/bus_resource.hpp — one direction of a bandwidth-limited bus (a PCIe link
// direction, a memory channel): a serial server whose reservations are intervals of simulated time.
//
// Models: a transfer occupies the bus for a caller-computed time (its bytes on the wire at the
//   bus rate); two transfers never overlap. A request asks for the first free interval of its
//   length that starts no earlier than `not_before` (first fit). Requests that may start at once
//   are served in call order, so concurrent DMAs queue behind each other; a request that can only
//   start later (a read completion that waits for the memory round trip) reserves its future
//   interval, and a later request that fits in the gap before it is placed there (the link sends
//   whatever TLP is ready; it is not idle while a completion is still on its way).
// Not modelled: priorities or arbitration between traffic classes (one FIFO of reservations),
//   splitting one transfer around a reservation (a transfer is one contiguous interval),
//   credit-based flow control stalls (the receiver always has buffer space).
// Invariants: `now` never goes backwards between calls; intervals never overlap; reservations
//   that ended before `now` are forgotten (the vector of pending intervals holds only the future,
//   so its length is bounded by the transfers in flight and steady state allocates nothing).
// References: SimBricks lib/simbricks/nicbm (the runner owns DMA timing); gem5 src/mem/
//   (busy-until ports); DESIGN.md §2 ("generic resources ... a bandwidth-limited bus").
#pragma once

#include <cstdint>
#include <vector>

#include "nicemu/sim/time.hpp"

namespace nicemu::nic::hw {

struct BusGrant {
  sim::TimePoint start;  // the transfer's first bit is on the bus
  sim::TimePoint end;    // its last bit has left (start + occupancy)
};

// Counters since construction; reading them changes nothing.
struct BusStats {
  std::uint64_t grants = 0;
  sim::Duration busy;            // sum of occupancies granted
  sim::Duration waited;          // sum over grants of (start - not_before): time spent queued
  sim::Duration max_wait;        // the longest single wait
  std::uint64_t backfilled = 0;  // grants placed in a gap before a reservation made earlier
};

class BusResource {
 public:
  BusResource() = default;

  // Reserves `occupancy` at the earliest start >= max(now, not_before) where it fits.
  // `now` is the caller's current simulated time (non-decreasing across calls, asserted).
  BusGrant reserve(sim::TimePoint now, sim::Duration occupancy, sim::TimePoint not_before) {
    // Inline: a transfer that starts inside or right at the end of the last reservation, with
    // nothing to forget (most PCIe TLPs of a burst). Its grant joins the last interval; every
    // gap lies before it, so reserve_slow's first-fit search would place it there too.
    if (occupancy > sim::Duration::zero() && now >= last_now_ && !pending_.empty() && pending_.front().end > now) {
      const sim::TimePoint earliest = not_before > now ? not_before : now;
      Interval& last = pending_.back();
      if (earliest >= last.start && earliest <= last.end) {
        last_now_ = now;
        const BusGrant g{last.end, last.end + occupancy};
        last.end = g.end;
        const sim::Duration wait = g.start - earliest;
        ++stats_.grants;
        stats_.busy += occupancy;
        stats_.waited += wait;
        if (wait > stats_.max_wait) stats_.max_wait = wait;
        return g;
      }
    }
    return reserve_slow(now, occupancy, not_before);
  }
  BusGrant reserve(sim::TimePoint now, sim::Duration occupancy) { return reserve(now, occupancy, now); }

  // The end of the last reservation (the bus is idle from then on, or now if that is later).
  sim::TimePoint free_at() const;
  // Busy stretches not yet finished at the last `now` (for tests and teardown checks);
  // reservations that touch are joined into one stretch.
  std::size_t pending() const { return pending_.size(); }
  const BusStats& stats() const { return stats_; }

 private:
  struct Interval {
    sim::TimePoint start, end;
  };
  void forget_before(sim::TimePoint now);
  BusGrant reserve_slow(sim::TimePoint now, sim::Duration occupancy, sim::TimePoint not_before);

  std::vector<Interval> pending_;  // sorted by start, disjoint, all ending after last_now_
  sim::TimePoint last_now_;
  BusStats stats_;
};

}  // namespace nicemu::nic::hw
