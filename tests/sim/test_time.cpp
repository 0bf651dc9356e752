// Simulated time: exact unit conversions, serialization time at line rate, and the manual clock.
#include <catch2/catch.hpp>

#include <cstdint>

#include "nicemu/sim/time.hpp"

using namespace nicemu::sim;

TEST_CASE("time: conversions from coarser units are exact picoseconds", "[sim][unit]") {
  CHECK(Duration::from_ns(1).ps() == 1'000);
  CHECK(Duration::from_us(1).ps() == 1'000'000);
  CHECK(Duration::from_ms(1).ps() == 1'000'000'000);
  CHECK(Duration::from_s(1).ps() == 1'000'000'000'000);
  CHECK((3_us).ps() == 3'000'000);
  CHECK((7_ps).ps() == 7);
  CHECK((2_s).ps() == 2'000'000'000'000);
  CHECK((1_ms + 250_us).ps() == 1'250'000'000);
  CHECK(Duration::from_ps(1'999).ns() == 1);  // truncates towards zero
  CHECK(Duration::from_ps(-1'999).ns() == -1);
  CHECK(Duration::from_ms(1500).seconds() == Approx(1.5));
  CHECK(Duration::max().ps() == INT64_MAX);
}

TEST_CASE("time: time points and durations combine like a timeline", "[sim][unit]") {
  const TimePoint t0 = TimePoint::zero();
  const TimePoint t1 = t0 + 10_ns;
  CHECK(t1.ps() == 10'000);
  CHECK((t1 - t0) == 10_ns);
  CHECK((t0 - t1) == Duration::from_ps(-10'000));
  CHECK((t1 - 3_ns).ps() == 7'000);
  CHECK(t0 < t1);
  CHECK(TimePoint{} == TimePoint::zero());
  CHECK(t1.since_start() == 10_ns);
  CHECK((10_ns / 4_ns) == 2);
  CHECK((10_ns / 4) == Duration::from_ps(2'500));
  CHECK((10_ns * 3) == 30_ns);
}

TEST_CASE("time: a 1538-byte frame at 100 Gbit/s serializes in exactly 123040 ps", "[sim][unit]") {
  CHECK(transmit_time(1538, 100'000'000'000ULL).ps() == 123'040);
  CHECK(transmit_time(64, 10'000'000'000ULL).ps() == 51'200);
  CHECK(transmit_time(0, 1).ps() == 0);
  // 1 byte at 1 Gbit/s = 8 ns.
  CHECK(transmit_time(1, 1'000'000'000ULL) == 8_ns);
}

TEST_CASE("time: transmit_time rounds up to the next picosecond, never faster than line rate",
          "[sim][unit]") {
  // 1 byte at 3 bit/s: 8e12 / 3 = 2'666'666'666'666.67 ps -> ...667.
  CHECK(transmit_time(1, 3).ps() == 2'666'666'666'667);
  // 1 byte at 400 Gbit/s = 20 ps exactly; at 300 Gbit/s = 26.67 ps -> 27.
  CHECK(transmit_time(1, 400'000'000'000ULL).ps() == 20);
  CHECK(transmit_time(1, 300'000'000'000ULL).ps() == 27);
  // Converting a total at once is exact where per-frame rounding would accumulate.
  CHECK(transmit_time(3, 300'000'000'000ULL).ps() == 80);
  CHECK(3 * transmit_time(1, 300'000'000'000ULL).ps() == 81);
}

TEST_CASE("time: bytes_in is the floor inverse of transmit_time", "[sim][unit]") {
  const std::uint64_t rates[] = {1'000'000'000ULL, 10'000'000'000ULL, 25'000'000'000ULL,
                                 100'000'000'000ULL, 300'000'000'000ULL, 400'000'000'000ULL};
  for (const std::uint64_t rate : rates) {
    for (std::uint64_t bytes : {0ULL, 1ULL, 63ULL, 64ULL, 1500ULL, 1538ULL, 9000ULL, 65536ULL}) {
      INFO("rate " << rate << " bytes " << bytes);
      const Duration d = transmit_time(bytes, rate);
      CHECK(bytes_in(d, rate) == bytes);
      // One picosecond less is not enough time for the last byte.
      if (bytes > 0) CHECK(bytes_in(d - 1_ps, rate) == bytes - 1);
    }
  }
  CHECK(bytes_in(1_us, 100'000'000'000ULL) == 12'500);
  CHECK(bytes_in(Duration::zero(), 100'000'000'000ULL) == 0);
}

TEST_CASE("time: the manual clock starts at zero and moves only when told", "[sim][unit]") {
  ManualClock clock;
  const Clock& c = clock;
  CHECK(c.now() == TimePoint::zero());
  clock.advance(5_us);
  CHECK(c.now().ps() == 5'000'000);
  clock.set(TimePoint::from_ps(5'000'000));  // setting the same time is allowed
  CHECK(c.now().ps() == 5'000'000);
  clock.set(TimePoint::zero() + 1_ms);
  CHECK(c.now() == TimePoint::zero() + 1_ms);
  clock.advance(Duration::zero());
  CHECK(c.now().ns() == 1'000'000);
}
