// nicemu/sim/time.hpp — simulated time as integer picoseconds.
//
// Models: a point on the simulated timeline (TimePoint) and a signed span between two points
//   (Duration), both 64-bit integer picoseconds (±106 days of range), with exact conversions
//   from ns/µs/ms/s and the serialization time of N bytes at R bit/s.
// Not modelled: wall-clock time (never read by simulated behaviour, DESIGN.md §5).
// Rounding: every conversion from a coarser unit is exact. transmit_time() rounds *up* to the
//   next whole picosecond, so a modelled link never sends faster than its line rate; the error
//   is below 1 ps per call and does not accumulate when callers convert byte totals at once.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/int128.hpp"

namespace nicemu::sim {

class Duration {
 public:
  constexpr Duration() = default;

  static constexpr Duration from_ps(std::int64_t ps) { return Duration(ps); }
  static constexpr Duration from_ns(std::int64_t ns) { return Duration(ns * 1'000); }
  static constexpr Duration from_us(std::int64_t us) { return Duration(us * 1'000'000); }
  static constexpr Duration from_ms(std::int64_t ms) { return Duration(ms * 1'000'000'000); }
  static constexpr Duration from_s(std::int64_t s) { return Duration(s * 1'000'000'000'000); }
  static constexpr Duration zero() { return Duration(0); }
  static constexpr Duration max() { return Duration(std::numeric_limits<std::int64_t>::max()); }

  constexpr std::int64_t ps() const { return ps_; }
  // Truncating conversions (towards zero), for display and coarse-grained reporting.
  constexpr std::int64_t ns() const { return ps_ / 1'000; }
  constexpr std::int64_t us() const { return ps_ / 1'000'000; }
  constexpr std::int64_t ms() const { return ps_ / 1'000'000'000; }
  constexpr double seconds() const { return static_cast<double>(ps_) * 1e-12; }

  constexpr Duration operator+(Duration o) const { return Duration(ps_ + o.ps_); }
  constexpr Duration operator-(Duration o) const { return Duration(ps_ - o.ps_); }
  constexpr Duration operator*(std::int64_t k) const { return Duration(ps_ * k); }
  constexpr Duration operator/(std::int64_t k) const { return Duration(ps_ / k); }
  constexpr std::int64_t operator/(Duration o) const { return ps_ / o.ps_; }
  constexpr Duration& operator+=(Duration o) { ps_ += o.ps_; return *this; }
  constexpr Duration& operator-=(Duration o) { ps_ -= o.ps_; return *this; }
  constexpr auto operator<=>(const Duration&) const = default;

 private:
  constexpr explicit Duration(std::int64_t ps) : ps_(ps) {}
  std::int64_t ps_ = 0;
};

class TimePoint {
 public:
  constexpr TimePoint() = default;  // the start of the simulation

  static constexpr TimePoint from_ps(std::int64_t ps) { return TimePoint(ps); }
  static constexpr TimePoint zero() { return TimePoint(0); }
  static constexpr TimePoint max() { return TimePoint(std::numeric_limits<std::int64_t>::max()); }

  constexpr std::int64_t ps() const { return ps_; }
  constexpr std::int64_t ns() const { return ps_ / 1'000; }
  constexpr Duration since_start() const { return Duration::from_ps(ps_); }

  constexpr TimePoint operator+(Duration d) const { return TimePoint(ps_ + d.ps()); }
  constexpr TimePoint operator-(Duration d) const { return TimePoint(ps_ - d.ps()); }
  constexpr Duration operator-(TimePoint o) const { return Duration::from_ps(ps_ - o.ps_); }
  constexpr TimePoint& operator+=(Duration d) { ps_ += d.ps(); return *this; }
  constexpr auto operator<=>(const TimePoint&) const = default;

 private:
  constexpr explicit TimePoint(std::int64_t ps) : ps_(ps) {}
  std::int64_t ps_ = 0;
};

inline namespace literals {
constexpr Duration operator""_ps(unsigned long long v) { return Duration::from_ps(static_cast<std::int64_t>(v)); }
constexpr Duration operator""_ns(unsigned long long v) { return Duration::from_ns(static_cast<std::int64_t>(v)); }
constexpr Duration operator""_us(unsigned long long v) { return Duration::from_us(static_cast<std::int64_t>(v)); }
constexpr Duration operator""_ms(unsigned long long v) { return Duration::from_ms(static_cast<std::int64_t>(v)); }
constexpr Duration operator""_s(unsigned long long v) { return Duration::from_s(static_cast<std::int64_t>(v)); }
}  // namespace literals

// Time to serialize `bytes` at `rate_bps` bit/s: ceil(bytes * 8 * 10^12 / rate_bps) ps, computed
// in 128-bit integers (exact for any byte count below 2^60 and any positive rate).
// Example: 1538 bytes at 100 Gbit/s = 123'040 ps (123.04 ns), exactly.
constexpr Duration transmit_time(std::uint64_t bytes, std::uint64_t rate_bps) {
  NICEMU_ASSERT(rate_bps > 0, "transmit_time: a rate of 0 bit/s never finishes");
  const base::u128 bits_ps = static_cast<base::u128>(bytes) * 8u * 1'000'000'000'000u;
  const base::u128 ps = (bits_ps + rate_bps - 1) / rate_bps;
  NICEMU_ASSERT(ps <= static_cast<base::u128>(std::numeric_limits<std::int64_t>::max()),
                "transmit_time: result does not fit in 64-bit picoseconds");
  return Duration::from_ps(static_cast<std::int64_t>(ps));
}

// Bytes that fit in `d` at `rate_bps` (floor): the inverse of transmit_time, for budgets.
constexpr std::uint64_t bytes_in(Duration d, std::uint64_t rate_bps) {
  NICEMU_ASSERT(d.ps() >= 0, "bytes_in: negative duration");
  const base::u128 bits = static_cast<base::u128>(d.ps()) * rate_bps / 1'000'000'000'000u;
  return static_cast<std::uint64_t>(bits / 8u);
}

// Read-only access to "now" for components that may read time but not schedule (page pools,
// fault hooks). The event queue implements it; tests use ManualClock.
class Clock {
 public:
  virtual TimePoint now() const = 0;

 protected:
  ~Clock() = default;
};

class ManualClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void set(TimePoint t) {
    NICEMU_ASSERT(t >= now_, "ManualClock: time never goes backwards");
    now_ = t;
  }
  void advance(Duration d) { set(now_ + d); }

 private:
  TimePoint now_{};
};

}  // namespace nicemu::sim
