// Strict YAML reading for configuration files: types, unknown keys, positions of errors.
#include "yaml_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "nicemu/base/assert.hpp"

namespace nicemu::app {

const char* to_string(ConfigErrorKind k) {
  switch (k) {
    case ConfigErrorKind::kIo:
      return "io";
    case ConfigErrorKind::kSyntax:
      return "syntax";
    case ConfigErrorKind::kUnknownKey:
      return "unknown-key";
    case ConfigErrorKind::kDuplicateKey:
      return "duplicate-key";
    case ConfigErrorKind::kMissingKey:
      return "missing-key";
    case ConfigErrorKind::kWrongType:
      return "wrong-type";
    case ConfigErrorKind::kInvalidValue:
      return "invalid-value";
  }
  return "?";
}

std::string ConfigError::to_string() const {
  std::string s = file;
  if (line > 0) {
    s += ':' + std::to_string(line);
    if (column > 0) s += ':' + std::to_string(column);
  }
  s += ": ";
  if (!key.empty()) s += key + ": ";
  s += message;
  return s;
}

std::string ConfigErrors::to_string() const {
  std::string s;
  for (const ConfigError& e : errors) {
    s += e.to_string();
    s += '\n';
  }
  return s;
}

namespace detail {

namespace {

Position position(const YAML::Mark& m) {
  if (m.line < 0) return {};
  return Position{m.line + 1, m.column + 1};
}

// How a value looks, for "expected X, got Y" messages.
std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      if (n.Tag() == "!") return "the quoted string \"" + n.Scalar() + "\"";
      return "'" + n.Scalar() + "'";
  }
  return "something else";
}

bool is_plain_scalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string join(const std::vector<std::string_view>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += ", ";
    s += names[i];
  }
  return s;
}

struct KeyLine {
  int indent = 0;
  std::string key;
};

// The key a YAML line starts with ("  lanes: 16" -> {2, "lanes"}), if it has one.
std::optional<KeyLine> key_on_line(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  if (i < line.size() && line[i] == '-' && (i + 1 == line.size() || line[i + 1] == ' ')) {
    i += 1;
    while (i < line.size() && line[i] == ' ') ++i;
  }
  if (i >= line.size() || line[i] == '#') return std::nullopt;
  for (std::size_t j = i; j < line.size(); ++j) {
    const char c = line[j];
    if (c == '#' || c == '{' || c == '[') return std::nullopt;
    if (c == ':' && (j + 1 == line.size() || line[j + 1] == ' ')) {
      std::string key(line.substr(i, j - i));
      while (!key.empty() && key.back() == ' ') key.pop_back();
      if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') && key.back() == key.front()) {
        key = key.substr(1, key.size() - 2);
      }
      if (key.empty()) return std::nullopt;
      return KeyLine{static_cast<int>(i), key};
    }
  }
  return std::nullopt;
}

}  // namespace

base::Result<std::string, ConfigErrors> read_config_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    ConfigErrors errors;
    errors.errors.push_back(ConfigError{ConfigErrorKind::kIo, path.string(), 0, 0, "",
                                        std::string("cannot open the file: ") + std::strerror(err)});
    return base::Unexpected{std::move(errors)};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string key_path_at_line(std::string_view text, int line) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    lines.push_back(text.substr(start, end - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (lines.empty() || line < 0) return {};
  int i = std::min(line, static_cast<int>(lines.size()) - 1);
  std::optional<KeyLine> here;
  for (; i >= 0 && !here; --i) here = key_on_line(lines[static_cast<std::size_t>(i)]);
  if (!here) return {};
  std::string path = here->key;
  int indent = here->indent;
  for (; i >= 0 && indent > 0; --i) {
    const std::optional<KeyLine> k = key_on_line(lines[static_cast<std::size_t>(i)]);
    if (k && k->indent < indent) {
      path.insert(0, k->key + ".");
      indent = k->indent;
    }
  }
  return path;
}

ConfigReader::ConfigReader(std::string file, std::string text, std::function<std::string(std::string_view)> allowed)
    : file_(std::move(file)), text_(std::move(text)), allowed_(std::move(allowed)) {}

std::optional<YAML::Node> ConfigReader::parse() {
  try {
    return YAML::Load(text_);
  } catch (const YAML::Exception& e) {
    error(ConfigErrorKind::kSyntax, position(e.mark), key_path_at_line(text_, e.mark.line),
          "YAML syntax error: " + e.msg + " (the key shown is the one nearest to where the parser stopped)");
  } catch (const std::exception& e) {
    error(ConfigErrorKind::kSyntax, {}, {}, std::string("cannot parse the file: ") + e.what());
  }
  return std::nullopt;
}

void ConfigReader::error(ConfigErrorKind kind, Position at, std::string key, std::string message) {
  errors_.errors.push_back(ConfigError{kind, file_, at.line, at.column, std::move(key), std::move(message)});
}

ConfigErrors ConfigReader::take_errors() {
  std::stable_sort(errors_.errors.begin(), errors_.errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return std::move(errors_);
}

Position ConfigReader::position_of(std::string_view key) const {
  std::string k(key);
  while (true) {
    if (auto it = positions_.find(k); it != positions_.end()) return it->second;
    const std::size_t dot = k.rfind('.');
    if (dot == std::string::npos) return {};
    k.resize(dot);
  }
}

// ---- MapReader --------------------------------------------------------------------------------

MapReader::MapReader(ConfigReader& reader, const YAML::Node& node, std::string path, Position at)
    : reader_(&reader), path_(std::move(path)), at_(at) {
  if (!node.IsMap()) {
    const std::string what = path_.empty() ? "the file" : "'" + path_ + "'";
    reader_->error(ConfigErrorKind::kWrongType, at_, path_,
                   "expected " + what + " to be a map of keys (key: value lines), got " + describe(node));
    return;
  }
  is_map_ = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const Position key_at = position(it->first.Mark());
    if (!it->first.IsScalar()) {
      reader_->error(ConfigErrorKind::kWrongType, key_at, path_,
                     "a key must be a plain name, got " + describe(it->first));
      continue;
    }
    const std::string key = it->first.Scalar();
    if (find(key) != nullptr) {
      reader_->error(ConfigErrorKind::kDuplicateKey, key_at, full(key),
                     "appears twice in this map; allowed: each key once (the first one is used)");
      continue;
    }
    entries_.push_back(Entry{key, key_at, it->second, false});
    reader_->remember(full(key), key_at);
  }
}

MapReader::MapReader(MapReader&& o) noexcept
    : reader_(o.reader_),
      path_(std::move(o.path_)),
      at_(o.at_),
      is_map_(o.is_map_),
      finished_(o.finished_),
      entries_(std::move(o.entries_)),
      asked_(std::move(o.asked_)) {
  o.reader_ = nullptr;
}

MapReader::~MapReader() {
  NICEMU_ASSERT(reader_ == nullptr || !is_map_ || finished_,
                "MapReader destroyed without finish(): unknown keys would go unreported");
}

MapReader::Entry* MapReader::find(std::string_view key) {
  for (Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

void MapReader::allow(std::string_view key) {
  if (std::find(asked_.begin(), asked_.end(), key) == asked_.end()) asked_.emplace_back(key);
}

MapReader::Entry* MapReader::require(std::string_view key, std::string_view expected) {
  allow(key);
  if (!is_map_) return nullptr;
  Entry* e = find(key);
  if (e == nullptr) {
    reader_->error(ConfigErrorKind::kMissingKey, at_, full(key), "missing; expected " + std::string(expected));
    return nullptr;
  }
  e->used = true;
  return e;
}

std::string MapReader::expected_uint(std::string_view key) const {
  std::string s = "an unsigned integer";
  const std::string allowed = reader_->allowed_text(full(key));
  if (!allowed.empty()) s += " (allowed: " + allowed + ")";
  return s;
}

bool MapReader::get_uint_impl(std::string_view key, std::uint64_t& out, std::uint64_t type_max) {
  Entry* e = require(key, expected_uint(key));
  if (e == nullptr) return false;
  const YAML::Node& v = e->value;
  const std::string text = v.IsScalar() ? v.Scalar() : std::string();
  const bool negative = !text.empty() && text[0] == '-' && all_digits(std::string_view(text).substr(1));
  if (!is_plain_scalar(v) || (!all_digits(text) && !negative)) {
    reader_->error(ConfigErrorKind::kWrongType, e->at, full(key),
                   "expected " + expected_uint(key) + ", got " + describe(v));
    return false;
  }
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (negative || ec != std::errc() || ptr != text.data() + text.size() || value > type_max) {
    std::string allowed = reader_->allowed_text(full(key));
    if (allowed.empty()) allowed = "0 to " + std::to_string(type_max);
    reader_->error(ConfigErrorKind::kInvalidValue, e->at, full(key), text + " is not allowed; allowed: " + allowed);
    return false;
  }
  out = value;
  return true;
}

bool MapReader::get_bool(std::string_view key, bool& out) {
  Entry* e = require(key, "true or false");
  if (e == nullptr) return false;
  if (is_plain_scalar(e->value) && (e->value.Scalar() == "true" || e->value.Scalar() == "false")) {
    out = e->value.Scalar() == "true";
    return true;
  }
  reader_->error(ConfigErrorKind::kWrongType, e->at, full(key), "expected true or false, got " + describe(e->value));
  return false;
}

bool MapReader::get_string(std::string_view key, std::string& out) {
  Entry* e = require(key, "a string");
  if (e == nullptr) return false;
  if (!e->value.IsScalar()) {
    reader_->error(ConfigErrorKind::kWrongType, e->at, full(key), "expected a string, got " + describe(e->value));
    return false;
  }
  out = e->value.Scalar();
  return true;
}

bool MapReader::get_uint32_list(std::string_view key, std::vector<std::uint32_t>& out) {
  const std::string expected = "a list of unsigned integers, like [2048, 4096]";
  Entry* e = require(key, expected);
  if (e == nullptr) return false;
  if (!e->value.IsSequence()) {
    reader_->error(ConfigErrorKind::kWrongType, e->at, full(key),
                   "expected " + expected + ", got " + describe(e->value));
    return false;
  }
  std::vector<std::uint32_t> values;
  bool ok = true;
  for (const YAML::Node& item : e->value) {
    const Position at = position(item.Mark());
    const std::string text = item.IsScalar() ? item.Scalar() : std::string();
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (!is_plain_scalar(item) || !all_digits(text)) {
      reader_->error(ConfigErrorKind::kWrongType, at, full(key),
                     "expected every item to be an unsigned integer, got " + describe(item));
      ok = false;
    } else if (ec != std::errc() || ptr != text.data() + text.size() || v > std::numeric_limits<std::uint32_t>::max()) {
      std::string allowed = reader_->allowed_text(full(key));
      if (allowed.empty()) allowed = "0 to 4294967295";
      std::string message = text;
      message += " is not allowed; allowed: ";
      message += allowed;
      reader_->error(ConfigErrorKind::kInvalidValue, at, full(key), std::move(message));
      ok = false;
    } else {
      values.push_back(static_cast<std::uint32_t>(v));
    }
  }
  if (ok) out = std::move(values);
  return ok;
}

bool MapReader::get_name_impl(std::string_view key, const std::vector<std::string_view>& names, std::size_t& index) {
  const std::string expected = "one of: " + join(names);
  Entry* e = require(key, expected);
  if (e == nullptr) return false;
  if (!e->value.IsScalar()) {
    reader_->error(ConfigErrorKind::kWrongType, e->at, full(key),
                   "expected " + expected + ", got " + describe(e->value));
    return false;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == e->value.Scalar()) {
      index = i;
      return true;
    }
  }
  reader_->error(ConfigErrorKind::kInvalidValue, e->at, full(key),
                 "'" + e->value.Scalar() + "' is not allowed; allowed: " + join(names));
  return false;
}

std::optional<MapReader> MapReader::map(std::string_view key) {
  Entry* e = require(key, "a map of keys");
  if (e == nullptr) return std::nullopt;
  MapReader child(*reader_, e->value, full(key), e->at);
  if (!child.is_map()) return std::nullopt;
  return child;
}

std::optional<MapReader> MapReader::optional_map(std::string_view key) {
  allow(key);
  if (!is_map_) return std::nullopt;
  Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  e->used = true;
  MapReader child(*reader_, e->value, full(key), e->at);
  if (!child.is_map()) return std::nullopt;
  return child;
}

bool MapReader::has(std::string_view key) {
  allow(key);
  return is_map_ && find(key) != nullptr;
}

std::vector<std::string> MapReader::keys() {
  std::vector<std::string> out;
  for (const Entry& e : entries_) {
    allow(e.key);
    out.push_back(e.key);
  }
  return out;
}

void MapReader::ignore_rest() {
  for (Entry& e : entries_) e.used = true;
}

bool MapReader::get_double(std::string_view key, double& out) {
  const std::string expected = "a number, like 0.5";
  Entry* e = require(key, expected);
  if (e == nullptr) return false;
  const std::string text = e->value.IsScalar() ? e->value.Scalar() : std::string();
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  const bool digits_only = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+';
  });
  if (!is_plain_scalar(e->value) || text.empty() || !digits_only || ec != std::errc() ||
      ptr != text.data() + text.size()) {
    reader_->error(ConfigErrorKind::kWrongType, e->at, full(key), "expected " + expected + ", got " + describe(e->value));
    return false;
  }
  out = v;
  return true;
}

bool MapReader::get_string_list(std::string_view key, std::vector<std::string>& out) {
  const std::string expected = "a list of strings, like [a, b]";
  Entry* e = require(key, expected);
  if (e == nullptr) return false;
  if (!e->value.IsSequence()) {
    reader_->error(ConfigErrorKind::kWrongType, e->at, full(key), "expected " + expected + ", got " + describe(e->value));
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (const YAML::Node& item : e->value) {
    if (!item.IsScalar()) {
      reader_->error(ConfigErrorKind::kWrongType, position(item.Mark()).line > 0 ? position(item.Mark()) : e->at,
                     full(key), "expected every item to be a string, got " + describe(item));
      ok = false;
    } else {
      values.push_back(item.Scalar());
    }
  }
  if (ok) out = std::move(values);
  return ok;
}

std::optional<std::vector<MapReader>> MapReader::map_list(std::string_view key) {
  const std::string expected = "a list of maps (lines starting with '- ')";
  Entry* e = require(key, expected);
  if (e == nullptr) return std::nullopt;
  if (!e->value.IsSequence()) {
    reader_->error(ConfigErrorKind::kWrongType, e->at, full(key), "expected " + expected + ", got " + describe(e->value));
    return std::nullopt;
  }
  std::vector<MapReader> items;
  std::size_t i = 0;
  for (const YAML::Node& item : e->value) {
    Position at = position(item.Mark());
    if (at.line == 0) at = e->at;
    const std::string item_path = full(key) + "." + std::to_string(i++);
    reader_->remember(item_path, at);
    MapReader child(*reader_, item, item_path, at);
    if (child.is_map()) items.push_back(std::move(child));
  }
  return items;
}

void MapReader::invalid(std::string_view key, std::string message) {
  error_at(key, ConfigErrorKind::kInvalidValue, std::move(message));
}

void MapReader::error_at(std::string_view key, ConfigErrorKind kind, std::string message) {
  const Entry* e = find(key);
  reader_->error(kind, e != nullptr ? e->at : at_, full(key), std::move(message));
}

void MapReader::finish() {
  NICEMU_ASSERT(!finished_, "MapReader::finish() called twice");
  finished_ = true;
  if (!is_map_) return;
  std::vector<std::string_view> allowed(asked_.begin(), asked_.end());
  for (const Entry& e : entries_) {
    if (e.used) continue;
    reader_->error(ConfigErrorKind::kUnknownKey, e.at, full(e.key),
                   "unknown key '" + e.key + "'; allowed keys here: " + join(allowed));
  }
}

}  // namespace detail
}  // namespace nicemu::app
