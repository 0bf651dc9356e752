// nicemu/app/nic_profile_loader.hpp — reads a NIC profile (configs/nics/*.yaml) into
// nic::hw::NicProfile.
//
// The format is the one the preset files show (configs/README.md describes it): every key is
// required except `p2p`; unknown and duplicate keys are errors; integers are plain unsigned
// YAML integers (quoted numbers are strings); booleans are true/false; names are the ones
// listed in each error message. After the file is read without errors, the profile goes through
// nic::hw::validate_nic_profile() and each problem is reported at the line of its key.
#pragma once

#include <filesystem>
#include <string_view>

#include "nicemu/app/config_error.hpp"
#include "nicemu/base/result.hpp"
#include "nicemu/nic/hw/profile.hpp"

namespace nicemu::app {

using NicProfileResult = base::Result<nic::hw::NicProfile, ConfigErrors>;

// Reads and validates the profile in `path`; errors name `path` as given.
NicProfileResult load_nic_profile(const std::filesystem::path& path);
// The same for YAML text already in memory; errors name `source_name`.
NicProfileResult parse_nic_profile(std::string_view yaml_text, std::string_view source_name);

// Where presets live unless told otherwise: the source tree's configs/ (a build-time path).
std::filesystem::path default_configs_dir();
// A profile as a scenario's `nic.profile` (or `nicemu steer --profile`) names it: a preset name
// -> <configs_dir>/nics/<name>.yaml; a path (it contains '/' or ends in ".yaml") -> itself when
// absolute, else relative to `base_dir` (the scenario file's folder; empty: the current one).
std::filesystem::path resolve_nic_profile(std::string_view name, const std::filesystem::path& base_dir,
                                          const std::filesystem::path& configs_dir);

}  // namespace nicemu::app
