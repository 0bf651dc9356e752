// nicemu/sim/trace_digest.hpp — a one-line fingerprint of a run's event trace.
//
// Models: nothing of the simulated system. Components record what they did (time, a kind
//   code, a few integers) and the digest folds each record into a running 128-bit hash, so
//   two runs can be compared in one line (DESIGN.md §5: same scenario and seed, same digest).
// Covers: exactly what components record, in the order they record it — nothing else. An
//   aspect nobody records (a counter, a payload byte) can change without changing the digest;
//   record it if it must be pinned. Recorded values must be simulation facts (ids, sizes,
//   sequence numbers), never pointer values, wall-clock readings or the order of iterating an
//   unordered container, or the digest stops being reproducible.
// Not modelled: cryptographic strength. The hash resists accidental collisions (two lanes of
//   64 bits with strong, different mixers), not an adversary.
// The hex format is part of the contract: expected digests are stored in tests and CI, so any
//   change to the mixing must be deliberate and update them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "nicemu/sim/time.hpp"

namespace nicemu::sim {

class TraceDigest {
 public:
  TraceDigest() = default;

  // Absorbs one record: its time, kind, number of values, then the values. The count is
  // absorbed before the values, so splitting the same numbers differently between records
  // ((a,b)+(c) vs (a)+(b,c)) gives a different digest.
  void record(TimePoint t, std::uint32_t kind, std::initializer_list<std::uint64_t> values);
  void record(TimePoint t, std::uint32_t kind, std::span<const std::uint64_t> values);

  // 32 lowercase hex characters (lane a, then lane b). Does not change the state, so it can be
  // printed mid-run and recording can continue.
  std::string hex() const;
  std::uint64_t records() const { return records_; }

  friend bool operator==(const TraceDigest&, const TraceDigest&) = default;

 private:
  void absorb(std::uint64_t w);

  // Arbitrary non-zero starting values (the first digits of pi and e) so that an empty
  // digest and a digest of zeros differ.
  std::uint64_t a_ = 0x243f6a8885a308d3ULL;
  std::uint64_t b_ = 0xb7e151628aed2a6bULL;
  std::uint64_t records_ = 0;
};

}  // namespace nicemu::sim
