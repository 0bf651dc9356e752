// Text helpers for configuration-file tests (scenario and NIC profile loaders): read a shipped
// file, find the line an error should name, and edit one occurrence to make a mistake.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace nicemu::testing {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// 1-based number of the first line that contains `needle`.
inline int line_of(const std::string& text, std::string_view needle) {
  const std::size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
}

// `text` with the first occurrence of `from` replaced by `to`.
inline std::string edit(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  return text;
}

}  // namespace nicemu::testing
