// cmd_steer.cpp — `nicemu steer`: which RX queue a flow lands on at a host's NIC, and why (an
// ntuple rule, or RSS context 0's hash through its indirection table), under the NIC settings
// of a scenario or the defaults of a NIC profile.
//
// Models: the NIC's steering exactly as the runner builds it (steering_setup.hpp: channels, RSS
//   key / table / hash fields, ntuple rules, from nic::hw::Steering), asked about a real frame:
//   a TCP (ACK, no payload) or UDP (empty) frame built with netstack/wire's emitters, parsed by
//   netstack/wire's parser and decided by Steering::lookup(), which counts nothing. When a rule
//   decides, the same NIC without its rules says where RSS alone would have put the flow.
// Not modelled: timeline actions (the settings at the start of the run are used), RSS contexts
//   other than 0, flows of other protocols (ICMP, fragments: the NIC hashes them with ip4/ip6's
//   fields), VLAN tags.
// Output, per flow, `name: value` lines (stable for scripts): flow, host, flow-type,
//   steered-by, rule, hash, indir-index, queue (a number or "drop"), rss-alone (rules only).
//   Before the first flow of each host, a block describing its NIC (nic, profile, rx-queues,
//   rss-key, indir, hash-fields, ntuple rules).
// References: nic-model/hw/README.md ("Flow steering"); nic-model/hw/include/nicemu/nic/hw/
//   steering.hpp (the decision order).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "nicemu/app/nic_profile_loader.hpp"
#include "nicemu/app/scenario.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv4.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "nicemu/netstack/wire/packet.hpp"
#include "nicemu/netstack/wire/tcp.hpp"
#include "nicemu/netstack/wire/udp.hpp"
#include "nicemu/nic/hw/steering.hpp"
#include "steering_setup.hpp"

namespace nicemu::cli {

namespace hw = nic::hw;
namespace w = netstack::wire;

namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "nicemu steer: %s\n", message.c_str());
  return kExitUsage;
}

// Where the NIC's settings come from: one host of a scenario, or a bare profile.
struct NicSource {
  std::string name;                  // the host's name, or "profile <name>"
  std::string key_prefix;            // "hosts.<name>.nic" (errors), "" for a profile
  std::string profile_name;
  std::filesystem::path profile_path;
  const hw::NicProfile* profile = nullptr;
  const app::NicSettings* settings = nullptr;
};

// A NIC built once and asked about every flow that goes to it.
struct BuiltNic {
  std::unique_ptr<hw::Steering> steering;
  std::unique_ptr<hw::Steering> rss_only;  // the same settings without the ntuple rules
};

// The frame a NIC would receive for the flow: Ethernet, IPv4/IPv6, TCP (ACK) or UDP, no payload.
std::vector<std::byte> build_frame(const FlowSpec& f) {
  const w::ChecksumCaps caps = w::ChecksumCaps::software();
  std::vector<std::byte> l4;
  if (f.udp) {
    w::UdpRepr u;
    u.src_port = f.src_port;
    u.dst_port = f.dst_port;
    l4.resize(u.buffer_len());
    u.emit(l4, f.src, f.dst, caps);
  } else {
    w::TcpRepr t;
    t.src_port = f.src_port;
    t.dst_port = f.dst_port;
    t.flags = w::TcpFlags{w::TcpFlags::kAck};
    t.window = 65535;
    l4.resize(t.buffer_len());
    t.emit(l4, f.src, f.dst, caps);
  }
  w::EthernetRepr eth;
  eth.dst = w::MacAddress{{0x02, 0, 0, 0, 0, 2}};
  eth.src = w::MacAddress{{0x02, 0, 0, 0, 0, 1}};
  eth.ethertype = f.src.is_v6() ? w::ethertype::kIpv6 : w::ethertype::kIpv4;
  std::vector<std::byte> frame(eth.buffer_len());
  eth.emit(frame);
  const std::uint8_t proto = f.udp ? w::ip_protocol::kUdp : w::ip_protocol::kTcp;
  const std::size_t l3_at = frame.size();
  if (f.src.is_v6()) {
    w::Ipv6Repr ip;
    ip.src = f.src.v6();
    ip.dst = f.dst.v6();
    ip.next_header = proto;
    ip.payload_len = static_cast<std::uint16_t>(l4.size());
    frame.resize(l3_at + ip.buffer_len());
    ip.emit(std::span(frame).subspan(l3_at));
  } else {
    w::Ipv4Repr ip;
    ip.src = f.src.v4();
    ip.dst = f.dst.v4();
    ip.protocol = proto;
    ip.payload_len = static_cast<std::uint16_t>(l4.size());
    frame.resize(l3_at + ip.buffer_len());
    ip.emit(std::span(frame).subspan(l3_at), caps);
  }
  frame.insert(frame.end(), l4.begin(), l4.end());
  if (frame.size() < 60) frame.resize(60);  // the MAC pads to the Ethernet minimum
  return frame;
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string fields_text(std::uint32_t fields) { return fields == 0 ? "none" : hw::rxh_to_string(fields); }

// The prefix length of a contiguous mask (255.255.255.0 -> 24); none for other masks.
std::optional<std::size_t> prefix_len_of(const w::IpAddress& mask) {
  const std::size_t bits = mask.is_v6() ? 128 : 32;
  std::size_t len = 0;
  while (len < bits && (mask.bytes()[len / 8] & (0x80u >> (len % 8))) != 0) ++len;
  for (std::size_t i = len; i < bits; ++i) {
    if ((mask.bytes()[i / 8] & (0x80u >> (i % 8))) != 0) return std::nullopt;
  }
  return len;
}

bool is_zero_mask(const w::IpAddress& mask) { return mask.version() == w::IpVersion::kNone || mask.is_unspecified(); }

// The rule as a scenario's ntuple list writes it: an address with /prefix when its mask is one,
// else with `mask` (the kernel's convention: a set bit must match).
std::string describe_rule(const hw::NtupleRule& r) {
  std::string s = "flow-type " + hw::to_string(r.flow_type);
  auto ip = [&](const char* name, const w::IpAddress& a, const w::IpAddress& m) {
    if (is_zero_mask(m)) return;
    s += std::string(" ") + name + " " + a.to_string();
    const std::optional<std::size_t> len = prefix_len_of(m);
    if (!len) {
      s += " mask " + m.to_string();
    } else if (*len != (m.is_v6() ? 128u : 32u)) {
      s += "/" + std::to_string(*len);
    }
  };
  auto port = [&](const char* name, std::uint16_t p, std::uint16_t m) {
    if (m == 0) return;
    s += std::string(" ") + name + " " + std::to_string(p);
    if (m != 0xffff) s += " mask 0x" + hex32(m).substr(6);  // the low 16 bits
  };
  ip("src-ip", r.src_ip, r.src_ip_mask);
  ip("dst-ip", r.dst_ip, r.dst_ip_mask);
  port("src-port", r.src_port, r.src_port_mask);
  port("dst-port", r.dst_port, r.dst_port_mask);
  switch (r.action) {
    case hw::NtupleAction::kQueue:
      s += " action queue " + std::to_string(r.queue);
      break;
    case hw::NtupleAction::kDrop:
      s += " action drop";
      break;
    case hw::NtupleAction::kRssContext:
      s += " action context " + std::to_string(r.rss_context);
      if (r.queue != 0) s += " queue " + std::to_string(r.queue);
      break;
  }
  return s + " loc " + std::to_string(r.location);
}

void print_nic(const NicSource& src, const hw::Steering& s) {
  const hw::RssContext& ctx = *s.rss_context(0);
  std::printf("nic: %s\n", src.name.c_str());
  std::printf("  profile: %s (%s)\n", src.profile_name.c_str(), src.profile_path.string().c_str());
  std::printf("  rx-queues: %u (device maximum %u)\n", s.rx_queues(), s.max_rx_queues());
  std::printf("  rss-key: %s%s\n", format_rss_key(ctx.key()).c_str(),
              ctx.key() == hw::kMicrosoftRssKey ? " (default: the Microsoft verification key)" : "");
  std::vector<std::uint32_t> per_queue(s.rx_queues(), 0);
  for (std::uint32_t q : ctx.indir()) {
    if (q < per_queue.size()) ++per_queue[q];
  }
  std::string spread;
  for (std::size_t q = 0; q < per_queue.size(); ++q) {
    if (!spread.empty()) spread += ' ';
    spread += std::to_string(q) + ":" + std::to_string(per_queue[q]);
  }
  std::printf("  indir: %zu entries, %s; entries per queue %s\n", ctx.indir().size(),
              ctx.indir_configured() ? "set by the user (rss.indir)" : "the default spread", spread.c_str());
  std::string hash;
  constexpr hw::HashFlow kFlows[] = {hw::HashFlow::kTcp4, hw::HashFlow::kUdp4, hw::HashFlow::kIp4,
                                     hw::HashFlow::kTcp6, hw::HashFlow::kUdp6, hw::HashFlow::kIp6};
  for (hw::HashFlow f : kFlows) {
    if (!hash.empty()) hash += ", ";
    hash += hw::to_string(flow_type_of(f)) + " " + fields_text(ctx.rx_flow_hash(f));
  }
  std::printf("  hash-fields: %s\n", hash.c_str());
  const std::vector<hw::NtupleRuleInfo> rules = s.ntuple_rules();
  std::printf("  ntuple-rules: %zu\n", rules.size());
  for (const hw::NtupleRuleInfo& r : rules) std::printf("    %s\n", describe_rule(r.rule).c_str());
}

base::Result<BuiltNic, std::string> build_nic(const NicSource& src) {
  auto full = build_steering(*src.profile, *src.settings, src.key_prefix);
  if (!full) return base::Unexpected{full.error().message};
  app::NicSettings no_rules = *src.settings;
  no_rules.ntuple.clear();
  auto bare = build_steering(*src.profile, no_rules, src.key_prefix);
  NICEMU_ASSERT(bare.has_value(), "settings that build with their rules build without them");
  BuiltNic b;
  b.steering = std::make_unique<hw::Steering>(std::move(full).value());
  b.rss_only = std::make_unique<hw::Steering>(std::move(bare).value());
  return b;
}

void print_decision(const FlowSpec& flow, const std::string& host_line, const BuiltNic& nic) {
  const std::vector<std::byte> frame = build_frame(flow);
  const w::ParsedPacket p = w::parse_packet(frame, w::ChecksumCaps::offloaded());
  NICEMU_ASSERT(p.ok(), "a frame built by build_frame parses");
  const hw::SteeringDecision d = nic.steering->lookup(p);
  const hw::FlowType ft = flow.udp ? (flow.src.is_v6() ? hw::FlowType::kUdpV6 : hw::FlowType::kUdpV4)
                                   : (flow.src.is_v6() ? hw::FlowType::kTcpV6 : hw::FlowType::kTcpV4);
  hw::HashFlow hf{};
  const bool hashed_flow = hw::hash_flow_of(ft, &hf);
  NICEMU_ASSERT(hashed_flow, "tcp4/udp4/tcp6/udp6 have hash fields");
  const hw::RssContext& ctx = *nic.steering->rss_context(d.rss_context);

  std::printf("flow: %s\n", flow.to_string().c_str());
  std::printf("  host: %s\n", host_line.c_str());
  std::printf("  flow-type: %s\n", hw::to_string(ft).c_str());
  switch (d.source) {
    case hw::SteerSource::kRss:
      std::printf("  steered-by: rss context %u\n", d.rss_context);
      break;
    case hw::SteerSource::kRuleQueue:
    case hw::SteerSource::kRuleDrop:
    case hw::SteerSource::kRuleContext:
      std::printf("  steered-by: ntuple rule %u (%s)\n", *d.rule,
                  describe_rule(nic.steering->ntuple_rule(*d.rule)->rule).c_str());
      break;
    case hw::SteerSource::kNotIp:
      std::printf("  steered-by: not IP (the default queue)\n");
      break;
  }
  std::printf("  rule: %s\n", d.rule ? std::to_string(*d.rule).c_str() : "none");
  if (d.source == hw::SteerSource::kRuleDrop) {
    std::printf("  hash: none (dropped before hashing)\n");
  } else {
    std::printf("  hash: %s (%s, context %u fields %s)\n", hex32(d.rss_hash).c_str(), hw::to_string(d.hash_type),
                d.rss_context, fields_text(ctx.rx_flow_hash(hf)).c_str());
  }
  if (d.indir_index) {
    std::printf("  indir-index: %u (hash %% %zu)\n", *d.indir_index, ctx.indir().size());
  } else {
    std::printf("  indir-index: none (%s)\n", d.drop ? "dropped" : "the rule names the queue");
  }
  if (d.drop) {
    std::printf("  queue: drop\n");
  } else {
    std::printf("  queue: %u\n", d.queue);
  }
  if (d.rule) {
    const hw::SteeringDecision r = nic.rss_only->lookup(p);
    std::printf("  rss-alone: queue %u (indir-index %u, hash %s)\n", r.queue, r.indir_index.value_or(0),
                hex32(r.rss_hash).c_str());
  }
}

std::string preset_list(const std::filesystem::path& configs_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(configs_dir / "nics", ec)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none found in " + (configs_dir / "nics").string() : s;
}

std::string host_names(const app::Scenario& s) {
  std::string names;
  for (const app::HostSpec& h : s.hosts) names += (names.empty() ? "" : ", ") + h.name;
  return names;
}

const app::HostSpec* owner_of(const app::Scenario& s, const w::IpAddress& a) {
  for (const app::HostSpec& h : s.hosts) {
    for (const app::IpPrefix& p : h.addresses) {
      if (p.address == a) return &h;
    }
  }
  return nullptr;
}

}  // namespace

int cmd_steer(const SteerOptions& o) {
  if (o.flows.empty()) return usage_error("give at least one --flow SRC:SPORT-DST:DPORT[/tcp|/udp]");
  if (o.profile && o.scenario) return usage_error("give a scenario file or --profile, not both");
  if (o.profile && o.host) return usage_error("--host picks a host of a scenario; with --profile there is one NIC");
  if (o.profile && !o.overrides.empty()) {
    return usage_error("--set changes a scenario; with --profile the NIC keeps its profile's defaults "
                       "(give a scenario file to change settings)");
  }
  std::vector<FlowSpec> flows;
  for (const std::string& text : o.flows) {
    auto f = parse_flow(text);
    if (!f) return usage_error("--flow: " + f.error());
    flows.push_back(*f);
  }

  // Where the settings come from.
  std::optional<app::Scenario> scenario;
  std::optional<hw::NicProfile> bare_profile;
  const app::NicSettings no_settings;
  if (o.profile) {
    const std::filesystem::path configs = app::default_configs_dir();
    const std::filesystem::path path = app::resolve_nic_profile(*o.profile, {}, configs);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return usage_error("--profile: no NIC profile '" + *o.profile + "' (looked for " + path.string() +
                         "); allowed: a preset (" + preset_list(configs) + ") or a path to a profile file");
    }
    auto p = app::load_nic_profile(path);
    if (!p) return usage_error("--profile: the NIC profile has errors:\n" + p.error().to_string());
    bare_profile = std::move(*p);
  } else {
    app::ScenarioOptions so;
    so.overrides = o.overrides;
    auto s = o.scenario ? app::load_scenario(*o.scenario, so)
                        : app::parse_scenario(app::default_scenario_yaml(), "(built-in default scenario)", so);
    if (!s) {
      std::fprintf(stderr, "nicemu steer: the scenario has errors:\n%s", s.error().to_string().c_str());
      if (!s.error().to_string().ends_with("\n")) std::fputc('\n', stderr);
      return kExitUsage;
    }
    scenario = std::move(*s);
    if (scenario->hosts.empty()) return usage_error("the scenario has no hosts");
    if (o.host && scenario->host(*o.host) == nullptr) {
      return usage_error("--host: no host '" + *o.host + "'; hosts: " + host_names(*scenario));
    }
  }

  auto source_for = [&](const app::HostSpec& h) {
    NicSource src;
    src.name = h.name;
    src.key_prefix = "hosts." + h.name + ".nic";
    src.profile_name = h.nic_profile;
    src.profile_path = h.nic_profile_path;
    NICEMU_ASSERT(h.profile.has_value(), "the scenario loader loads every host's profile");
    src.profile = &*h.profile;
    src.settings = &h.nic;
    return src;
  };

  std::map<std::string, BuiltNic> built;  // by NicSource::name
  for (const FlowSpec& flow : flows) {
    NicSource src;
    std::string host_line;
    if (bare_profile) {
      src.name = "profile " + bare_profile->name;
      src.profile_name = bare_profile->name;
      src.profile_path = app::resolve_nic_profile(*o.profile, {}, app::default_configs_dir());
      src.profile = &*bare_profile;
      src.settings = &no_settings;
      host_line = src.name + " (its defaults)";
    } else if (o.host) {
      src = source_for(*scenario->host(*o.host));
      host_line = src.name + " (--host)";
    } else if (const app::HostSpec* h = owner_of(*scenario, flow.dst)) {
      src = source_for(*h);
      host_line = src.name + " (owns the destination " + flow.dst.to_string() + ")";
    } else {
      src = source_for(scenario->hosts.front());
      host_line = src.name + " (no host owns " + flow.dst.to_string() + "; the first host)";
    }
    auto it = built.find(src.name);
    if (it == built.end()) {
      auto b = build_nic(src);
      if (!b) return usage_error("cannot configure the NIC of " + src.name + ": " + b.error());
      it = built.emplace(src.name, std::move(b).value()).first;
      print_nic(src, *it->second.steering);
    }
    print_decision(flow, host_line, it->second);
  }
  return kExitOk;
}

}  // namespace nicemu::cli
