// nicemu/nic/hw/field_error.hpp — a configuration value the hardware model refuses.
//
// Validation of PCIe parameters and NIC profiles returns a list of these (a user error is a
// returned result, STYLE.md). `field` is the dotted key the value has in a profile file
// (configs/nics/*.yaml, e.g. "pcie.max-payload-bytes"), so a loader can point at the line;
// `message` says what is wrong and what is allowed.
#pragma once

#include <string>

namespace nicemu::nic::hw {

struct FieldError {
  std::string field;
  std::string message;
};

}  // namespace nicemu::nic::hw
