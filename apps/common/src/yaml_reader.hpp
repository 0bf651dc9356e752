// Private to apps/common: strict reading of YAML configuration files with yaml-cpp.
//
// ConfigReader owns the file's text and the errors found so far; MapReader reads one YAML map:
// each get_*() call names a required key and converts its value strictly, and finish() reports
// every key that no call asked for as unknown, listing the keys that are allowed there. Errors
// carry the line and column of the key (yaml-cpp marks are 0-based; ours are 1-based). The
// reader remembers where each key was, so a later semantic check can point at it.
// yaml-cpp throws; nothing here lets an exception escape.
#pragma once

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "nicemu/app/config_error.hpp"
#include "nicemu/base/result.hpp"

namespace nicemu::app::detail {

struct Position {
  int line = 0;    // 1-based, 0: unknown
  int column = 0;  // 1-based, 0: unknown
};

class ConfigReader {
 public:
  // `allowed` describes what a numeric field accepts (for values that do not fit its type).
  ConfigReader(std::string file, std::string text, std::function<std::string(std::string_view)> allowed);

  // Parses the text; a syntax error is recorded (with the key nearest to where the parser
  // stopped) and nullopt returned.
  std::optional<YAML::Node> parse();

  void error(ConfigErrorKind kind, Position at, std::string key, std::string message);
  bool has_errors() const { return !errors_.errors.empty(); }
  // The errors, sorted by position.
  ConfigErrors take_errors();

  void remember(const std::string& key, Position at) { positions_.emplace(key, at); }
  // Where `key` (or its nearest enclosing key that was read) is in the file.
  Position position_of(std::string_view key) const;
  std::string allowed_text(std::string_view key) const { return allowed_ ? allowed_(key) : std::string(); }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::string text_;
  std::function<std::string(std::string_view)> allowed_;
  ConfigErrors errors_;
  std::map<std::string, Position, std::less<>> positions_;
};

// The whole text of the configuration file at `path`, or a kIo error naming the file and why
// it could not be opened (for load_scenario and load_nic_profile).
base::Result<std::string, ConfigErrors> read_config_file(const std::filesystem::path& path);

// The dotted key at (0-based) `line` of YAML `text`, found from indentation: the key on that
// line (or the nearest key above it) and the keys it is nested in. Best effort, for syntax
// errors where no parsed node exists.
std::string key_path_at_line(std::string_view text, int line);

template <class E>
struct NamedValue {
  std::string_view name;
  E value;
};

class MapReader {
 public:
  // Reads `node` as the map at `path` ("" for the top of the file); `at` is where its key is.
  MapReader(ConfigReader& reader, const YAML::Node& node, std::string path, Position at);
  MapReader(MapReader&&) noexcept;
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;
  MapReader& operator=(MapReader&&) = delete;
  ~MapReader();

  bool is_map() const { return is_map_; }

  // Required values. Each returns true and sets `out` when the key is present and its value has
  // the right type; otherwise it records an error and leaves `out` alone.
  template <std::unsigned_integral T>
  bool get_uint(std::string_view key, T& out) {
    std::uint64_t v = 0;
    if (!get_uint_impl(key, v, std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(v);
    return true;
  }
  bool get_bool(std::string_view key, bool& out);
  bool get_string(std::string_view key, std::string& out);
  bool get_uint32_list(std::string_view key, std::vector<std::uint32_t>& out);
  template <class E>
  bool get_enum(std::string_view key, E& out, std::span<const NamedValue<E>> names) {
    std::vector<std::string_view> all;
    for (const auto& n : names) all.push_back(n.name);
    std::size_t index = 0;
    if (!get_name_impl(key, all, index)) return false;
    out = names[index].value;
    return true;
  }
  // A required nested map (nullopt, with an error recorded, when missing or not a map).
  std::optional<MapReader> map(std::string_view key);
  // An optional nested map: nullopt without an error when the key is absent.
  std::optional<MapReader> optional_map(std::string_view key);

  // Optional keys: has() marks `key` as allowed here and says whether it is present (no error
  // when absent); call a get_*() after it to read the value.
  bool has(std::string_view key);
  // Every key of this map in file order, all marked allowed: for maps keyed by user-chosen names
  // (scenario hosts, links, workloads).
  std::vector<std::string> keys();
  // Marks every key as read, for a map whose contents were already reported as wrong as a whole.
  void ignore_rest();
  bool get_double(std::string_view key, double& out);
  bool get_string_list(std::string_view key, std::vector<std::string>& out);
  // A required list whose items are maps; item i is read at path "<key>.<i>".
  std::optional<std::vector<MapReader>> map_list(std::string_view key);
  // Records an invalid-value error at `key`'s position (for values whose text a caller parses).
  void invalid(std::string_view key, std::string message);
  void error_at(std::string_view key, ConfigErrorKind kind, std::string message);
  // The dotted path of `key` in this map.
  std::string path_of(std::string_view key) const { return full(key); }
  const std::string& path() const { return path_; }
  Position where() const { return at_; }
  ConfigReader& reader() { return *reader_; }

  // Reports every key of this map that no get_*()/map() call asked for. Call once, last.
  void finish();

 private:
  struct Entry {
    std::string key;
    Position at;
    YAML::Node value;
    bool used = false;
  };
  // The entry for `key` (marked used), or nullptr after recording a missing-key error whose
  // message says what was `expected`.
  Entry* require(std::string_view key, std::string_view expected);
  Entry* find(std::string_view key);
  void allow(std::string_view key);
  std::string full(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  bool get_uint_impl(std::string_view key, std::uint64_t& out, std::uint64_t type_max);
  bool get_name_impl(std::string_view key, const std::vector<std::string_view>& names, std::size_t& index);
  std::string expected_uint(std::string_view key) const;

  ConfigReader* reader_;
  std::string path_;
  Position at_;
  bool is_map_ = false;
  bool finished_ = false;
  std::vector<Entry> entries_;
  std::vector<std::string> asked_;  // keys asked for, in order: the allowed keys of this map
};

}  // namespace nicemu::app::detail
