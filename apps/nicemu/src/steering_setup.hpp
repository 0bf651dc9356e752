// steering_setup.hpp — from a scenario's NIC settings (app::NicSettings: ethtool -L / -X /
// rx-flow-hash / -N) and the host's NIC profile to the NIC's flow steering (nic::hw::Steering),
// the way a driver's probe plus a series of ethtool calls would configure it. `nicemu steer`
// uses it to answer "which queue does this flow land on"; the runner builds each NIC's steering
// with the same calls so both agree.
//
// Models: the RX queue count as the scenario loader counts it (combined + rx channels, each the
//   setting or else the profile's default); the device's maximum (ethtool -l "Pre-set":
//   max rx + max combined, at most max-queues); `rss.key` as `ethtool -X hkey` on context 0
//   (the device key, used by new contexts, stays kMicrosoftRssKey); `rss.indir` through ethtool's
//   table builders (`equal N` / `weight ...`, `start S`); `rss.hash` as rx-flow-hash per flow
//   type; ntuple rules inserted in list order (`ethtool -N ... [loc L]`); a timeline `ethtool`
//   action in a fixed order (below).
//   `rss-contexts` as `ethtool -X context new` in list order, after the default context's
//   settings and before the ntuple rules that may steer into them.
// Not modelled: rx-flow-hash per RSS context, rings, header split and coalescing (they do not
//   steer; the runner applies them to the queues).
// Errors: the library's negative errno with its message, prefixed by the dotted scenario key the
//   setting came from ("hosts.b.nic.rss.indir: ..."). The scenario loader has already checked
//   most of them, so an error here is a setting the loader could not judge (e.g. a context that
//   does not exist, a location that is taken).
// References: nic-model/hw/README.md ("Flow steering"); net/ethtool/ioctl.c (ethtool_set_rxfh,
//   ethtool_set_rxnfc, ethtool_set_channels); configs/README.md ("NIC settings").
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "nicemu/app/scenario.hpp"
#include "nicemu/base/result.hpp"
#include "nicemu/netstack/core/netdev_core_state.hpp"
#include "nicemu/nic/hw/profile.hpp"
#include "nicemu/nic/hw/steering.hpp"

namespace nicemu::cli {

// The channel counts in force (ethtool -l "Current settings"): `settings` over `current`. At
// start `current` is the profile's defaults (profile.channels.defaults).
nic::hw::ChannelCounts channels_in_force(const nic::hw::ChannelCounts& current, const app::ChannelSettings& settings);
// RX queues of those channels: combined + rx.
std::uint32_t rx_queue_count(const nic::hw::ChannelCounts& channels);
// The most RX queues the device can have: max rx + max combined, at most max-queues.
std::uint32_t max_rx_queue_count(const nic::hw::NicProfile& profile);

// The SteeringConfig a NIC from `profile` with `channels` in force starts with (queues and their
// maximum; everything else the library's defaults: 128-entry tables, the Microsoft key).
nic::hw::SteeringConfig steering_config(const nic::hw::NicProfile& profile, const nic::hw::ChannelCounts& channels);

// `ethtool -X hkey` / `-X equal|weight [start]` / rx-flow-hash on context 0, in that order.
// The indirection table `spec` describes (ethtool -X equal N / weight ... [start S]) for a table
// of `table_size` entries; -EINVAL with ethtool's words when it cannot be built.
base::Result<std::vector<std::uint32_t>, base::Error> indir_table(const app::IndirSpec& spec, std::uint32_t table_size);

// `key_prefix`: the settings' dotted key, e.g. "hosts.b.nic" (errors name "<prefix>.rss.indir").
nic::hw::Status apply_rss_settings(nic::hw::Steering& steering, const app::RssSettings& rss, std::string_view key_prefix);
// `ethtool -X context new` for each entry in order (ids from the library: 1, 2, ... on a fresh
// NIC). `list_key`: e.g. "hosts.b.nic.rss-contexts" (errors name "<list_key>.<index>").
nic::hw::Status create_rss_contexts(nic::hw::Steering& steering, std::span<const app::RssSettings> contexts,
                                    std::string_view list_key);
// `ethtool -N` for each rule in order. `list_key`: the list's dotted key, e.g.
// "hosts.b.nic.ntuple" (errors name "<list_key>.<index>").
nic::hw::Status apply_ntuple_rules(nic::hw::Steering& steering, std::span<const nic::hw::NtupleRule> rules,
                                   std::string_view list_key);

// A host's steering at the start of a run: channels (over the profile's defaults), RSS, RSS
// contexts, ntuple rules. `key_prefix` as for apply_rss_settings ("hosts.<name>.nic").
base::Result<nic::hw::Steering, base::Error> build_steering(const nic::hw::NicProfile& profile,
                                                            const app::NicSettings& settings,
                                                            std::string_view key_prefix);

// What the core would have recorded had the setup been ethtool calls on the device: a user-set
// default table (IFF_RXFH_CONFIGURED, so later channel changes keep it and are checked against
// it) and each RSS context with its table. For a host built from build_steering().
void record_setup_in_core(netstack::core::NetdevCoreState& core, const nic::hw::Steering& steering,
                          const app::NicSettings& settings);

// A timeline `ethtool` action on a running NIC; `channels` is what is in force and is updated.
// Order: ntuple-delete (so a shrink is not blocked by a rule being removed), rss-context-delete
// (a context goes once no rule steers into it), then channels and RSS — RSS first when the queue
// count shrinks (the new table must fit before the queues go), channels first when it grows (the
// new table may use the new queues) — then rss-contexts (new contexts) and ntuple-add (rules may
// name the new queues and contexts). Stops at the first error; what was applied before it stays.
// `key_prefix`: the action's dotted key, e.g. "timeline.2.ethtool".
nic::hw::Status apply_ethtool_action(nic::hw::Steering& steering, nic::hw::ChannelCounts& channels,
                                     const app::EthtoolAction& action, std::string_view key_prefix);

// The ethtool flow type whose rx-flow-hash a HashFlow names (kTcp4 -> TCP_V4_FLOW, kIp4 ->
// IPV4_FLOW, ...).
nic::hw::FlowType flow_type_of(nic::hw::HashFlow flow);

}  // namespace nicemu::cli
