// Ranges of configuration fields and the words that describe them.
#include "field_rules.hpp"

#include <bit>

namespace nicemu::nic::hw::detail {

bool rule_allows(const UintRule& rule, std::uint64_t value) {
  if (rule.one_of_count > 0) {
    for (std::uint8_t i = 0; i < rule.one_of_count; ++i) {
      if (rule.one_of[i] == value) return true;
    }
    return false;
  }
  if (value < rule.min || value > rule.max) return false;
  return !rule.power_of_two || std::has_single_bit(value);
}

std::string rule_text(const UintRule& rule) {
  std::string text;
  if (rule.one_of_count > 0) {
    text = "one of ";
    for (std::uint8_t i = 0; i < rule.one_of_count; ++i) {
      if (i > 0) text += ", ";
      text += std::to_string(rule.one_of[i]);
    }
  } else if (rule.power_of_two) {
    text = "a power of two from " + std::to_string(rule.min) + " to " + std::to_string(rule.max);
  } else {
    text = std::to_string(rule.min) + " to " + std::to_string(rule.max);
  }
  if (!rule.unit.empty()) {
    text += ' ';
    text += rule.unit;
  }
  return text;
}

const UintRule* find_rule(std::span<const UintRule> rules, std::string_view field) {
  for (const UintRule& r : rules) {
    if (r.field == field) return &r;
  }
  return nullptr;
}

void check_rule(std::vector<FieldError>& out, const UintRule& rule, std::string full_field, std::uint64_t value) {
  if (rule_allows(rule, value)) return;
  out.push_back(
      FieldError{std::move(full_field), std::to_string(value) + " is not allowed; allowed: " + rule_text(rule)});
}

}  // namespace nicemu::nic::hw::detail
