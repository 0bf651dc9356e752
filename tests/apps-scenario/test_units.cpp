// The units scenario files write numbers in (apps/common units.hpp): times, rates and sizes,
// their exact conversions and the sentence each mistake produces.
#include <catch2/catch.hpp>

#include <string>

#include "nicemu/app/units.hpp"

using namespace nicemu;
using namespace nicemu::app;
using namespace nicemu::sim::literals;

namespace {
// The error sentence of a parse that must fail.
template <class R>
std::string error_of(const R& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error();
}
}  // namespace

TEST_CASE("units: times in ps, ns, us, ms and s convert exactly", "[scenario][units][unit]") {
  CHECK(*parse_duration("10ns") == 10_ns);
  CHECK(*parse_duration("2.5us") == 2500_ns);
  CHECK(*parse_duration("2.5µs") == 2500_ns);
  CHECK(*parse_duration("10ms") == 10_ms);
  CHECK(*parse_duration("2s") == 2_s);
  CHECK(*parse_duration("500ps") == 500_ps);
  CHECK(*parse_duration("0.001ns") == 1_ps);
  CHECK(*parse_duration("0s") == sim::Duration::zero());
  CHECK(*parse_duration("1.5 ms") == 1500_us);
}

TEST_CASE("units: a time without a unit, with an unknown unit, negative or finer than 1 ps is refused",
          "[scenario][units][unit]") {
  CHECK_THAT(error_of(parse_duration("10")), Catch::Contains("has no unit") && Catch::Contains("ns, us"));
  CHECK_THAT(error_of(parse_duration("10min")), Catch::Contains("unknown unit 'min'"));
  CHECK_THAT(error_of(parse_duration("-5ms")), Catch::Contains("negative"));
  CHECK_THAT(error_of(parse_duration("0.0001ns")), Catch::Contains("whole number of picoseconds"));
  CHECK_THAT(error_of(parse_duration("soon")), Catch::Contains("is not a time"));
  CHECK_THAT(error_of(parse_duration("200000000s")), Catch::Contains("too long"));
  CHECK_THAT(error_of(parse_duration("")), Catch::Contains("is not a time"));
}

TEST_CASE("units: rates with decimal multipliers and bit units", "[scenario][units][unit]") {
  CHECK(*parse_rate_bps("100G") == 100'000'000'000u);
  CHECK(*parse_rate_bps("25Gbit/s") == 25'000'000'000u);
  CHECK(*parse_rate_bps("400Mbit") == 400'000'000u);
  CHECK(*parse_rate_bps("10Gbps") == 10'000'000'000u);
  CHECK(*parse_rate_bps("2.5G") == 2'500'000'000u);
  CHECK(*parse_rate_bps("1000bit/s") == 1000u);
  CHECK(*parse_rate_bps("1T") == 1'000'000'000'000u);
}

TEST_CASE("units: a rate in bytes, without a unit, zero or negative is refused", "[scenario][units][unit]") {
  CHECK_THAT(error_of(parse_rate_bps("100")), Catch::Contains("has no unit"));
  CHECK_THAT(error_of(parse_rate_bps("10GB/s")), Catch::Contains("bits per second, not bytes"));
  CHECK_THAT(error_of(parse_rate_bps("0G")), Catch::Contains("more than 0"));
  CHECK_THAT(error_of(parse_rate_bps("-1G")), Catch::Contains("negative"));
  CHECK_THAT(error_of(parse_rate_bps("10Gfoo")), Catch::Contains("unknown unit 'Gfoo'"));
  CHECK_THAT(error_of(parse_rate_bps("fast")), Catch::Contains("is not a rate"));
}

TEST_CASE("units: sizes are bytes, binary KiB..TiB and decimal KB..TB", "[scenario][units][unit]") {
  CHECK(*parse_size_bytes("1500") == 1500u);
  CHECK(*parse_size_bytes("1500B") == 1500u);
  CHECK(*parse_size_bytes("64KiB") == 65536u);
  CHECK(*parse_size_bytes("4MiB") == 4u << 20);
  CHECK(*parse_size_bytes("1GiB") == 1u << 30);
  CHECK(*parse_size_bytes("9KB") == 9000u);
  CHECK(*parse_size_bytes("1.5KiB") == 1536u);
  CHECK(*parse_size_bytes("0") == 0u);
}

TEST_CASE("units: an ambiguous, unknown, fractional-byte or negative size is refused", "[scenario][units][unit]") {
  CHECK_THAT(error_of(parse_size_bytes("64K")), Catch::Contains("ambiguous") && Catch::Contains("KiB"));
  CHECK_THAT(error_of(parse_size_bytes("64kb")), Catch::Contains("unknown unit 'kb'"));
  CHECK_THAT(error_of(parse_size_bytes("1.5B")), Catch::Contains("whole number of bytes"));
  CHECK_THAT(error_of(parse_size_bytes("-1")), Catch::Contains("negative"));
  CHECK_THAT(error_of(parse_size_bytes("big")), Catch::Contains("is not a size"));
  CHECK_THAT(error_of(parse_size_bytes("99999999999TiB")), Catch::Contains("too large"));
}
