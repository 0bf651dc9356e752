// steering_setup.cpp — a scenario's NIC settings applied to nic::hw::Steering as ethtool calls
// (the rules and their order are in steering_setup.hpp).
#include "steering_setup.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace nicemu::cli {

namespace hw = nic::hw;

namespace {

hw::Status prefixed(const std::string& key, int code, const std::string& message) {
  return hw::Status::error(code, key + ": " + message);
}

std::string join_key(std::string_view prefix, std::string_view rest) {
  return prefix.empty() ? std::string(rest) : std::string(prefix) + "." + std::string(rest);
}

}  // namespace

hw::FlowType flow_type_of(hw::HashFlow flow) {
  switch (flow) {
    case hw::HashFlow::kTcp4: return hw::FlowType::kTcpV4;
    case hw::HashFlow::kUdp4: return hw::FlowType::kUdpV4;
    case hw::HashFlow::kIp4: return hw::FlowType::kIpV4;
    case hw::HashFlow::kTcp6: return hw::FlowType::kTcpV6;
    case hw::HashFlow::kUdp6: return hw::FlowType::kUdpV6;
    case hw::HashFlow::kIp6: return hw::FlowType::kIpV6;
  }
  NICEMU_ASSERT(false, "flow_type_of: a HashFlow value outside the enum");
  return hw::FlowType::kTcpV4;
}

hw::ChannelCounts channels_in_force(const hw::ChannelCounts& current, const app::ChannelSettings& settings) {
  return hw::ChannelCounts{settings.rx.value_or(current.rx), settings.tx.value_or(current.tx),
                           settings.combined.value_or(current.combined)};
}

std::uint32_t rx_queue_count(const hw::ChannelCounts& channels) { return channels.combined + channels.rx; }

std::uint32_t max_rx_queue_count(const hw::NicProfile& profile) {
  const std::uint64_t sum = std::uint64_t{profile.channels.max.rx} + profile.channels.max.combined;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(sum, profile.channels.max_queues));
}

hw::SteeringConfig steering_config(const hw::NicProfile& profile, const hw::ChannelCounts& channels) {
  hw::SteeringConfig c;
  c.rx_queues = rx_queue_count(channels);
  c.max_rx_queues = max_rx_queue_count(profile);
  return c;
}

base::Result<std::vector<std::uint32_t>, base::Error> indir_table(const app::IndirSpec& spec, std::uint32_t table_size) {
  return spec.equal ? hw::ethtool_indir_equal(table_size, *spec.equal, spec.start)
                    : hw::ethtool_indir_weight(table_size, spec.weights, spec.start);
}

hw::Status apply_rss_settings(hw::Steering& steering, const app::RssSettings& rss, std::string_view key_prefix) {
  if (rss.key) {
    hw::RxfhRequest req;
    req.key = std::vector<std::uint8_t>(rss.key->begin(), rss.key->end());
    if (hw::Status st = steering.set_rxfh(0, req); !st.ok()) {
      return prefixed(join_key(key_prefix, "rss.key"), st.code, st.message);
    }
  }
  if (rss.indir) {
    const std::string key = join_key(key_prefix, "rss.indir");
    auto table = indir_table(*rss.indir, steering.indir_size());
    if (!table) return prefixed(key, table.error().code, table.error().message);
    hw::RxfhRequest req;
    req.indir = std::move(table).value();
    if (hw::Status st = steering.set_rxfh(0, req); !st.ok()) return prefixed(key, st.code, st.message);
  }
  for (const auto& [flow, fields] : rss.hash_fields) {
    if (hw::Status st = steering.set_rx_flow_hash(0, flow_type_of(flow), fields); !st.ok()) {
      return prefixed(join_key(key_prefix, "rss.hash." + hw::to_string(flow_type_of(flow))), st.code, st.message);
    }
  }
  return hw::Status::success();
}

hw::Status create_rss_contexts(hw::Steering& steering, std::span<const app::RssSettings> contexts,
                               std::string_view list_key) {
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    const std::string key = join_key(list_key, std::to_string(i));
    hw::RxfhRequest req;
    if (contexts[i].key) req.key = std::vector<std::uint8_t>(contexts[i].key->begin(), contexts[i].key->end());
    if (contexts[i].indir) {
      auto table = indir_table(*contexts[i].indir, steering.indir_size());
      if (!table) return prefixed(key + ".indir", table.error().code, table.error().message);
      req.indir = std::move(table).value();
    }
    auto id = steering.create_rss_context(req);
    if (!id) return prefixed(key, id.error().code, id.error().message);
  }
  return hw::Status::success();
}

hw::Status apply_ntuple_rules(hw::Steering& steering, std::span<const hw::NtupleRule> rules, std::string_view list_key) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    auto loc = steering.insert_ntuple_rule(rules[i]);
    if (!loc) return prefixed(join_key(list_key, std::to_string(i)), loc.error().code, loc.error().message);
  }
  return hw::Status::success();
}

base::Result<hw::Steering, base::Error> build_steering(const hw::NicProfile& profile, const app::NicSettings& settings,
                                                      std::string_view key_prefix) {
  const hw::ChannelCounts channels = channels_in_force(profile.channels.defaults, settings.channels);
  auto created = hw::Steering::create(steering_config(profile, channels));
  if (!created) {
    return base::Unexpected{base::Error{created.error().code,
                                        join_key(key_prefix, "channels") + ": " + created.error().message}};
  }
  hw::Steering steering = std::move(created).value();
  if (hw::Status st = apply_rss_settings(steering, settings.rss, key_prefix); !st.ok()) {
    return base::Unexpected{base::Error{st.code, st.message}};
  }
  if (hw::Status st = create_rss_contexts(steering, settings.rss_contexts, join_key(key_prefix, "rss-contexts"));
      !st.ok()) {
    return base::Unexpected{base::Error{st.code, st.message}};
  }
  if (hw::Status st = apply_ntuple_rules(steering, settings.ntuple, join_key(key_prefix, "ntuple")); !st.ok()) {
    return base::Unexpected{base::Error{st.code, st.message}};
  }
  return steering;
}

void record_setup_in_core(netstack::core::NetdevCoreState& core, const hw::Steering& steering,
                          const app::NicSettings& settings) {
  core.rxfh_configured = settings.rss.indir.has_value();
  for (const std::uint32_t id : steering.rss_context_ids()) {
    if (id != 0) core.rss_ctx[id] = steering.rss_context(id)->indir();
  }
}

hw::Status apply_ethtool_action(hw::Steering& steering, hw::ChannelCounts& channels, const app::EthtoolAction& action,
                                std::string_view key_prefix) {
  for (std::size_t i = 0; i < action.ntuple_delete.size(); ++i) {
    if (hw::Status st = steering.delete_ntuple_rule(action.ntuple_delete[i]); !st.ok()) {
      return prefixed(join_key(key_prefix, "ntuple-delete." + std::to_string(i)), st.code, st.message);
    }
  }
  for (std::size_t i = 0; i < action.rss_context_delete.size(); ++i) {
    if (hw::Status st = steering.remove_rss_context(action.rss_context_delete[i]); !st.ok()) {
      return prefixed(join_key(key_prefix, "rss-context-delete." + std::to_string(i)), st.code, st.message);
    }
  }
  const hw::ChannelCounts next = channels_in_force(channels, action.changes.channels);
  const std::uint32_t n = rx_queue_count(next);
  auto set_channels = [&]() -> hw::Status {
    if (n != steering.rx_queues()) {
      if (hw::Status st = steering.set_rx_queues(n); !st.ok()) {
        return prefixed(join_key(key_prefix, "channels"), st.code, st.message);
      }
    }
    channels = next;
    return hw::Status::success();
  };
  const bool shrink = n < steering.rx_queues();
  if (shrink) {
    if (hw::Status st = apply_rss_settings(steering, action.changes.rss, key_prefix); !st.ok()) return st;
    if (hw::Status st = set_channels(); !st.ok()) return st;
  } else {
    if (hw::Status st = set_channels(); !st.ok()) return st;
    if (hw::Status st = apply_rss_settings(steering, action.changes.rss, key_prefix); !st.ok()) return st;
  }
  if (hw::Status st = create_rss_contexts(steering, action.changes.rss_contexts, join_key(key_prefix, "rss-contexts"));
      !st.ok()) {
    return st;
  }
  return apply_ntuple_rules(steering, action.changes.ntuple, join_key(key_prefix, "ntuple-add"));
}

}  // namespace nicemu::cli
