// nicemu/app/units.hpp — the units scenario files (and the CLI's --set) write numbers in.
//
// Times:  "10ns", "2.5us" (or "2.5µs"), "10ms", "2s", "500ps" -> sim::Duration. A unit is
//         required; a fraction must come out as whole picoseconds; negative times are refused.
// Rates:  "100G", "25Gbit/s", "400Mbit", "10Gbps", "1500bit/s" -> bits per second. Multipliers
//         K, M, G, T are decimal (10^3 ... 10^12), as for line rates; a unit is required.
// Sizes:  "1500", "1500B", "64KiB", "4MiB", "1GiB" (binary, 2^10 ...), "9KB", "1MB" (decimal,
//         10^3 ...) -> bytes. A bare integer is bytes.
// Each parser returns the value or one sentence that says what is wrong and what is allowed;
// the scenario loader adds the file, line and key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nicemu/base/result.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::app {

base::Result<sim::Duration, std::string> parse_duration(std::string_view text);
base::Result<std::uint64_t, std::string> parse_rate_bps(std::string_view text);
base::Result<std::uint64_t, std::string> parse_size_bytes(std::string_view text);

}  // namespace nicemu::app
