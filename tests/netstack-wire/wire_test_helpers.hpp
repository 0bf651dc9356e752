// Helpers shared by the wire tests: readable WireError output, error extraction, byte patching.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nicemu/netstack/wire/wire.hpp"

namespace wire_test {

// WireError value meaning "the call succeeded" in error_of(); not a real WireError.
inline constexpr auto kParsed = static_cast<nicemu::netstack::wire::WireError>(0);

// The error of a WireResult, or kParsed when it holds a value.
template <class R>
nicemu::netstack::wire::WireError error_of(const R& r) {
  return r.has_value() ? kParsed : r.error();
}

inline std::byte b(unsigned v) { return static_cast<std::byte>(v); }

inline void put16(std::span<std::byte> s, std::size_t at, std::uint16_t v) {
  s[at] = static_cast<std::byte>(v >> 8);
  s[at + 1] = static_cast<std::byte>(v & 0xff);
}

inline std::uint16_t get16(std::span<const std::byte> s, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(s[at]) << 8) | std::to_integer<unsigned>(s[at + 1]));
}

inline std::vector<std::byte> bytes_from(std::initializer_list<unsigned> values) {
  std::vector<std::byte> v;
  v.reserve(values.size());
  for (unsigned x : values) v.push_back(static_cast<std::byte>(x));
  return v;
}

// True when `inner` lies entirely inside `outer` (an empty span at the end counts as inside).
inline bool within(std::span<const std::byte> inner, std::span<const std::byte> outer) {
  if (inner.empty()) return true;
  const auto* lo = outer.data();
  const auto* hi = outer.data() + outer.size();
  return inner.data() >= lo && inner.data() + inner.size() <= hi;
}

inline bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> c) {
  return a.size() == c.size() && std::equal(a.begin(), a.end(), c.begin());
}

}  // namespace wire_test

namespace Catch {
template <>
struct StringMaker<nicemu::netstack::wire::WireError> {
  static std::string convert(nicemu::netstack::wire::WireError e) {
    if (e == wire_test::kParsed) return "parsed (no error)";
    return nicemu::netstack::wire::to_string(e);
  }
};
}  // namespace Catch
