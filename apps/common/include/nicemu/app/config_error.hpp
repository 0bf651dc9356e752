// nicemu/app/config_error.hpp — what is wrong with a configuration file, and where.
//
// Every loader in apps/common (NIC profiles now, scenarios later) reports user errors this way
// (STYLE.md: a config error is a returned result with a specific code and a message that says
// what to fix). An error names the file, the 1-based line and column, the dotted key
// ("pcie.lanes") and what is allowed. Loaders collect every error they can find in one pass.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nicemu::app {

enum class ConfigErrorKind : std::uint8_t {
  kIo,            // the file cannot be read
  kSyntax,        // not valid YAML
  kUnknownKey,    // a key the format does not have (typos are never ignored)
  kDuplicateKey,  // the same key twice in one map
  kMissingKey,    // a required key is absent
  kWrongType,     // e.g. a string where an integer belongs
  kInvalidValue,  // the right type, but out of range or inconsistent with another value
};
const char* to_string(ConfigErrorKind k);

struct ConfigError {
  ConfigErrorKind kind = ConfigErrorKind::kInvalidValue;
  std::string file;
  int line = 0;         // 1-based; 0 when the error concerns the whole file
  int column = 0;       // 1-based; 0 when unknown
  std::string key;      // dotted path, "" for the whole file
  std::string message;  // what is wrong and what is allowed

  // "file:line:column: key: message" (parts that are unknown are left out).
  std::string to_string() const;
};

struct ConfigErrors {
  std::vector<ConfigError> errors;  // in file order
  // One error per line.
  std::string to_string() const;
};

}  // namespace nicemu::app
