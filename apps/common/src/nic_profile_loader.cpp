// NIC profile files (configs/nics/*.yaml) -> nic::hw::NicProfile, with errors at their lines.
#include "nicemu/app/nic_profile_loader.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "yaml_reader.hpp"

#ifndef NICEMU_APP_CONFIGS_DIR
#define NICEMU_APP_CONFIGS_DIR "configs"
#endif

namespace nicemu::app {

namespace {

using detail::MapReader;
using detail::NamedValue;
using nic::hw::NicProfile;
using nic::hw::PcieParams;

constexpr NamedValue<nic::hw::CompletionSplit> kCompletionSplits[] = {
    {"mps", nic::hw::CompletionSplit::kMps},
    {"rcb", nic::hw::CompletionSplit::kRcb},
};
constexpr NamedValue<nic::hw::NonQualifyingPlacement> kPlacements[] = {
    {"header-buffer-if-fits", nic::hw::NonQualifyingPlacement::kHeaderBufferIfFits},
    {"payload-buffers", nic::hw::NonQualifyingPlacement::kPayloadBuffers},
};
constexpr NamedValue<nic::hw::RestartScope> kRestartScopes[] = {
    {"queue", nic::hw::RestartScope::kQueue},
    {"all-queues", nic::hw::RestartScope::kAllQueues},
    {"device", nic::hw::RestartScope::kDevice},
};

void read_channel_counts(MapReader m, nic::hw::ChannelCounts& c) {
  m.get_uint("rx", c.rx);
  m.get_uint("tx", c.tx);
  m.get_uint("combined", c.combined);
  m.finish();
}

void read_ring(MapReader m, nic::hw::RingLimits& r) {
  m.get_uint("min", r.min);
  m.get_uint("max", r.max);
  m.get_uint("default", r.default_size);
  m.finish();
}

void read_pcie(MapReader m, PcieParams& p) {
  m.get_uint("generation", p.generation);
  m.get_uint("lanes", p.lanes);
  m.get_uint("max-payload-bytes", p.max_payload_bytes);
  m.get_uint("max-read-request-bytes", p.max_read_request_bytes);
  m.get_uint("read-completion-boundary-bytes", p.read_completion_boundary_bytes);
  m.get_enum<nic::hw::CompletionSplit>("completion-split", p.completion_split, kCompletionSplits);
  m.get_uint("tlp-overhead-bytes", p.tlp_overhead_bytes);
  m.get_uint("completion-overhead-bytes", p.completion_overhead_bytes);
  m.get_bool("ecrc", p.ecrc);
  m.get_uint("dllp-overhead-ppm", p.dllp_overhead_ppm);
  std::uint32_t ns = 0;
  if (m.get_uint("write-latency-ns", ns)) p.write_latency = sim::Duration::from_ns(ns);
  if (m.get_uint("read-latency-ns", ns)) p.read_latency = sim::Duration::from_ns(ns);
  m.get_uint("max-outstanding-reads", p.max_outstanding_reads);
  m.finish();
}

void read_profile(MapReader& top, NicProfile& p) {
  top.get_string("name", p.name);
  top.get_string("description", p.description);

  if (auto m = top.map("channels")) {
    m->get_uint("max-queues", p.channels.max_queues);
    if (auto c = m->map("max")) read_channel_counts(std::move(*c), p.channels.max);
    if (auto c = m->map("default")) read_channel_counts(std::move(*c), p.channels.defaults);
    m->finish();
  }
  if (auto m = top.map("rings")) {
    if (auto r = m->map("rx")) read_ring(std::move(*r), p.rings.rx);
    if (auto r = m->map("tx")) read_ring(std::move(*r), p.rings.tx);
    if (auto b = m->map("rx-buf-len")) {
      b->get_uint("default", p.rings.rx_buf_len_default);
      b->get_uint32_list("allowed", p.rings.rx_buf_len_allowed);
      b->finish();
    }
    m->finish();
  }
  if (auto m = top.map("header-split")) {
    m->get_bool("supported", p.header_split.supported);
    m->get_bool("enabled-by-default", p.header_split.enabled_by_default);
    m->get_bool("split-udp", p.header_split.split_udp);
    m->get_uint("header-buf-len", p.header_split.header_buf_len);
    m->get_uint("hds-thresh-max", p.header_split.hds_thresh_max);
    m->get_uint("hds-thresh-default", p.header_split.hds_thresh_default);
    m->get_enum<nic::hw::NonQualifyingPlacement>("non-qualifying", p.header_split.non_qualifying, kPlacements);
    m->finish();
  }
  if (auto m = top.map("descriptors")) {
    m->get_uint("rx-desc-bytes", p.descriptors.rx_desc_bytes);
    m->get_uint("rx-cqe-bytes", p.descriptors.rx_cqe_bytes);
    m->get_uint("tx-desc-bytes", p.descriptors.tx_desc_bytes);
    m->get_uint("tx-cqe-bytes", p.descriptors.tx_cqe_bytes);
    m->get_uint("tx-prefetch", p.descriptors.tx_prefetch);
    m->finish();
  }
  if (auto m = top.map("pipeline")) {
    m->get_uint("clock-mhz", p.pipeline.clock_mhz);
    if (auto c = m->map("cycles")) {
      c->get_uint("parse", p.pipeline.cycles.parse);
      c->get_uint("steer", p.pipeline.cycles.steer);
      c->get_uint("dma-setup", p.pipeline.cycles.dma_setup);
      c->get_uint("completion", p.pipeline.cycles.completion);
      c->get_uint("tx-per-descriptor", p.pipeline.cycles.tx_per_descriptor);
      c->finish();
    }
    m->get_uint("rx-fifo-bytes", p.pipeline.rx_fifo_bytes);
    m->finish();
  }
  if (auto m = top.map("pcie")) read_pcie(std::move(*m), p.pcie);
  if (auto m = top.optional_map("p2p")) {
    p.p2p.emplace();
    read_pcie(std::move(*m), *p.p2p);
  }
  top.get_uint("mtu-max", p.mtu_max);
  if (auto m = top.map("tso")) {
    m->get_uint("max-size-bytes", p.tso.max_size_bytes);
    m->get_uint("max-segments", p.tso.max_segments);
    m->finish();
  }
  if (auto m = top.map("coalesce")) {
    m->get_uint("rx-usecs", p.coalesce.rx_usecs);
    m->get_uint("rx-frames", p.coalesce.rx_frames);
    m->finish();
  }
  if (auto m = top.map("restart")) {
    m->get_uint("mode", p.restart.mode);
    m->get_enum<nic::hw::RestartScope>("scope", p.restart.scope, kRestartScopes);
    std::uint32_t us = 0;
    if (m->get_uint("firmware-quiesce-us", us)) p.restart.firmware_quiesce = sim::Duration::from_us(us);
    m->finish();
  }
  top.finish();
}

}  // namespace

NicProfileResult parse_nic_profile(std::string_view yaml_text, std::string_view source_name) {
  detail::ConfigReader reader(std::string(source_name), std::string(yaml_text),
                              [](std::string_view key) { return nic::hw::nic_profile_field_allowed(key); });
  std::optional<YAML::Node> root = reader.parse();
  if (!root) return base::Unexpected{reader.take_errors()};

  NicProfile profile;
  {
    const detail::Position top_at{root->Mark().line >= 0 ? root->Mark().line + 1 : 1, 1};
    MapReader top(reader, *root, "", top_at);
    read_profile(top, profile);
  }
  // Semantic checks only on a complete profile: a missing or mistyped value would otherwise
  // show up twice, once as itself and once as a range error on the value it left unset.
  if (!reader.has_errors()) {
    for (const nic::hw::FieldError& e : nic::hw::validate_nic_profile(profile)) {
      reader.error(ConfigErrorKind::kInvalidValue, reader.position_of(e.field), e.field, e.message);
    }
  }
  if (reader.has_errors()) return base::Unexpected{reader.take_errors()};
  return profile;
}

NicProfileResult load_nic_profile(const std::filesystem::path& path) {
  auto text = detail::read_config_file(path);
  if (!text) return base::Unexpected{text.error()};
  return parse_nic_profile(*text, path.string());
}

std::filesystem::path default_configs_dir() { return std::filesystem::path(NICEMU_APP_CONFIGS_DIR); }

std::filesystem::path resolve_nic_profile(std::string_view name, const std::filesystem::path& base_dir,
                                          const std::filesystem::path& configs_dir) {
  const bool is_path = name.find('/') != std::string_view::npos || name.ends_with(".yaml");
  if (!is_path) return configs_dir / "nics" / (std::string(name) + ".yaml");
  const std::filesystem::path p(name);
  return p.is_absolute() ? p : base_dir / p;
}

}  // namespace nicemu::app
