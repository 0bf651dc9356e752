// Times, rates and sizes as scenario files write them (units.hpp lists the forms).
#include "nicemu/app/units.hpp"

#include <cstddef>
#include <limits>
#include <optional>

#include "nicemu/base/int128.hpp"

namespace nicemu::app {

namespace {

using base::u128;

struct Number {
  u128 integer = 0;
  u128 fraction = 0;        // the digits after the point as an integer
  u128 fraction_scale = 1;  // 10^(number of fraction digits)
  std::string_view unit;    // what follows the number, spaces before it skipped
};

// "<digits>[.<digits>]<spaces><unit>"; nullopt when it does not start with a number.
std::optional<Number> split_number(std::string_view text, bool& negative) {
  Number n;
  std::size_t i = 0;
  negative = !text.empty() && text[0] == '-';
  if (negative || (!text.empty() && text[0] == '+')) i = 1;
  const std::size_t digits_start = i;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    n.integer = n.integer * 10 + static_cast<unsigned>(text[i] - '0');
    if (n.integer > (u128{1} << 64)) return std::nullopt;  // keeps n * 10^12 inside 128 bits
  }
  bool any_digit = i > digits_start;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const std::size_t frac_start = i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (i - frac_start >= 18) return std::nullopt;  // more precision than any unit needs
      n.fraction = n.fraction * 10 + static_cast<unsigned>(text[i] - '0');
      n.fraction_scale *= 10;
    }
    if (i == frac_start) return std::nullopt;
    any_digit = true;
  }
  if (!any_digit) return std::nullopt;
  while (i < text.size() && text[i] == ' ') ++i;
  n.unit = text.substr(i);
  return n;
}

// n * multiplier exactly, or nullopt when the fraction leaves a remainder.
std::optional<u128> scale(const Number& n, u128 multiplier) {
  const u128 frac = n.fraction * multiplier;
  if (frac % n.fraction_scale != 0) return std::nullopt;
  return n.integer * multiplier + frac / n.fraction_scale;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

base::Result<sim::Duration, std::string> parse_duration(std::string_view text) {
  static constexpr std::string_view kAllowed =
      "a time with a unit: ps, ns, us (or µs), ms, s, like 10ns, 2.5us, 10ms, 2s";
  bool negative = false;
  const std::optional<Number> n = split_number(text, negative);
  if (!n) return base::Unexpected{quoted(text) + " is not a time; expected " + std::string(kAllowed)};
  if (negative) return base::Unexpected{quoted(text) + " is negative; times are 0 or more"};
  u128 unit_ps = 0;
  if (n->unit == "ps") unit_ps = 1;
  else if (n->unit == "ns") unit_ps = 1'000;
  else if (n->unit == "us" || n->unit == "µs") unit_ps = 1'000'000;
  else if (n->unit == "ms") unit_ps = 1'000'000'000;
  else if (n->unit == "s") unit_ps = 1'000'000'000'000;
  if (unit_ps == 0) {
    if (n->unit.empty()) return base::Unexpected{quoted(text) + " has no unit; expected " + std::string(kAllowed)};
    return base::Unexpected{quoted(text) + ": unknown unit " + quoted(n->unit) + "; expected " + std::string(kAllowed)};
  }
  const std::optional<u128> ps = scale(*n, unit_ps);
  if (!ps) return base::Unexpected{quoted(text) + " is not a whole number of picoseconds (the finest time step)"};
  if (*ps > static_cast<u128>(std::numeric_limits<std::int64_t>::max())) {
    return base::Unexpected{quoted(text) + " is too long; the longest simulated time is about 106 days"};
  }
  return sim::Duration::from_ps(static_cast<std::int64_t>(*ps));
}

base::Result<std::uint64_t, std::string> parse_rate_bps(std::string_view text) {
  static constexpr std::string_view kAllowed =
      "a rate like 100G, 25Gbit/s, 400Mbit, 10Gbps or 1000000bit/s (K, M, G, T are powers of 1000)";
  bool negative = false;
  const std::optional<Number> n = split_number(text, negative);
  if (!n) return base::Unexpected{quoted(text) + " is not a rate; expected " + std::string(kAllowed)};
  if (negative) return base::Unexpected{quoted(text) + " is negative; a rate is more than 0"};
  std::string_view unit = n->unit;
  u128 multiplier = 1;
  bool has_multiplier = false;
  if (!unit.empty()) {
    switch (unit[0]) {
      case 'K': case 'k': multiplier = 1'000; has_multiplier = true; break;
      case 'M': multiplier = 1'000'000; has_multiplier = true; break;
      case 'G': multiplier = 1'000'000'000; has_multiplier = true; break;
      case 'T': multiplier = 1'000'000'000'000; has_multiplier = true; break;
      default: break;
    }
  }
  if (has_multiplier) unit.remove_prefix(1);
  const bool bits = unit == "bit" || unit == "bit/s" || unit == "bps" || unit == "b/s";
  if (!(bits || (unit.empty() && has_multiplier))) {
    if (n->unit.empty()) return base::Unexpected{quoted(text) + " has no unit; expected " + std::string(kAllowed)};
    if (unit == "B" || unit == "B/s" || unit == "Bps") {
      return base::Unexpected{quoted(text) + ": rates are in bits per second, not bytes; expected " +
                              std::string(kAllowed)};
    }
    return base::Unexpected{quoted(text) + ": unknown unit " + quoted(n->unit) + "; expected " + std::string(kAllowed)};
  }
  const std::optional<u128> bps = scale(*n, multiplier);
  if (!bps) return base::Unexpected{quoted(text) + " is not a whole number of bits per second"};
  if (*bps == 0) return base::Unexpected{quoted(text) + " is 0; a rate is more than 0"};
  if (*bps > static_cast<u128>(std::numeric_limits<std::uint64_t>::max())) {
    return base::Unexpected{quoted(text) + " is too large"};
  }
  return static_cast<std::uint64_t>(*bps);
}

base::Result<std::uint64_t, std::string> parse_size_bytes(std::string_view text) {
  static constexpr std::string_view kAllowed =
      "a size in bytes like 1500, 1500B, 64KiB, 4MiB, 1GiB (powers of 1024) or 9KB, 1MB (powers of 1000)";
  bool negative = false;
  const std::optional<Number> n = split_number(text, negative);
  if (!n) return base::Unexpected{quoted(text) + " is not a size; expected " + std::string(kAllowed)};
  if (negative) return base::Unexpected{quoted(text) + " is negative; sizes are 0 or more"};
  struct Unit {
    std::string_view name;
    u128 bytes;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KiB", u128{1} << 10},
      {"MiB", u128{1} << 20},
      {"GiB", u128{1} << 30},
      {"TiB", u128{1} << 40},
      {"KB", 1'000},
      {"kB", 1'000},
      {"MB", 1'000'000},
      {"GB", 1'000'000'000},
      {"TB", 1'000'000'000'000},
  };
  for (const Unit& u : kUnits) {
    if (u.name != n->unit) continue;
    const std::optional<u128> bytes = scale(*n, u.bytes);
    if (!bytes) return base::Unexpected{quoted(text) + " is not a whole number of bytes"};
    if (*bytes > static_cast<u128>(std::numeric_limits<std::uint64_t>::max())) {
      return base::Unexpected{quoted(text) + " is too large"};
    }
    return static_cast<std::uint64_t>(*bytes);
  }
  if (n->unit == "K" || n->unit == "M" || n->unit == "G" || n->unit == "k") {
    return base::Unexpected{quoted(text) + ": " + quoted(n->unit) + " is ambiguous; write KiB/MiB/GiB (1024) or KB/MB/GB (1000)"};
  }
  return base::Unexpected{quoted(text) + ": unknown unit " + quoted(n->unit) + "; expected " + std::string(kAllowed)};
}

}  // namespace nicemu::app
