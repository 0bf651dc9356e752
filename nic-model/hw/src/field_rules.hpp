// Private: ranges of configuration fields, shared by the PCIe and NIC-profile validation so that
// a range is written once and its "allowed" text always matches the check.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nicemu/nic/hw/field_error.hpp"

namespace nicemu::nic::hw::detail {

struct UintRule {
  std::string_view field;  // dotted key (within its section for PCIe rules)
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  bool power_of_two = false;
  std::array<std::uint64_t, 8> one_of{};  // when one_of_count > 0: only these values
  std::uint8_t one_of_count = 0;
  std::string_view unit;  // appended to the allowed text ("ns", "bytes", ...)
};

bool rule_allows(const UintRule& rule, std::uint64_t value);
// "1 to 5", "one of 1, 2, 4, 8, 16", "a power of two from 128 to 4096 bytes".
std::string rule_text(const UintRule& rule);
const UintRule* find_rule(std::span<const UintRule> rules, std::string_view field);
// Appends an error for `full_field` when `value` breaks `rule`.
void check_rule(std::vector<FieldError>& out, const UintRule& rule, std::string full_field, std::uint64_t value);

}  // namespace nicemu::nic::hw::detail
