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

  // The last busy stretch, for booking transfers at its end in a row without a reserve() each
  // (PcieLink::dma_read books a read's requests and completions so). Each join() books what
  // reserve() books through its inline case, and only when that case applies; extend_tail()
  // then leaves the resource as those reserve() calls would have.
  struct Tail {
    sim::TimePoint start, end;
    std::uint64_t grants = 0;
    sim::Duration busy, waited, max_wait;
    // Whether reserve()'s inline case takes a transfer of `occupancy` not before `earliest`
    // (>= now): one that may start inside the stretch or at its end.
    bool admits(sim::Duration occupancy, sim::TimePoint earliest) const {
      return occupancy > sim::Duration::zero() && earliest >= start && earliest <= end;
    }
    // Books such a transfer right after the stretch; false, booking nothing, for any other.
    bool join(sim::Duration occupancy, sim::TimePoint earliest, BusGrant& g) {
      if (!admits(occupancy, earliest)) return false;
      g = BusGrant{end, end + occupancy};
      end = g.end;
      const sim::Duration wait = g.start - earliest;
      ++grants;
      busy += occupancy;
      waited += wait;
      if (wait > max_wait) max_wait = wait;
      return true;
    }
  };
  // The stretch to join at `now` (false: reserve() would not take its inline case at `now`:
  // time went backwards, or nothing reserved ends after `now`).
  bool tail(sim::TimePoint now, Tail& t) const {
    if (!(now >= last_now_) || pending_.empty() || !(pending_.front().end > now)) return false;
    t = Tail{pending_.back().start, pending_.back().end, 0, {}, {}, stats_.max_wait};
    return true;
  }
  void extend_tail(sim::TimePoint now, const Tail& t) {
    if (t.grants == 0) return;
    last_now_ = now;
    pending_.back().end = t.end;
    stats_.grants += t.grants;
    stats_.busy += t.busy;
    stats_.waited += t.waited;
    stats_.max_wait = t.max_wait;
  }

  // Reserves `occupancy` at the earliest start >= max(now, not_before) where it fits.
  // `now` is the caller's current simulated time (non-decreasing across calls, asserted).
  BusGrant reserve(sim::TimePoint now, sim::Duration occupancy, sim::TimePoint not_before) {
    // Inline: a transfer that starts inside or right at the end of the last reservation, with
    // nothing to forget (most PCIe TLPs of a burst). Its grant joins the last interval; every
    // gap lies before it, so reserve_slow's first-fit search would place it there too.
    Tail t;
    BusGrant g;
    if (tail(now, t) && t.join(occupancy, not_before > now ? not_before : now, g)) {
      extend_tail(now, t);
      return g;
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
