// Scenario files (configs/scenarios/*.yaml) -> app::Scenario: overrides applied to the YAML
// tree, strict reading with errors at their lines, then cross-checks between the parts.
#include "nicemu/app/scenario.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "nicemu/app/drop_reasons.hpp"
#include "nicemu/app/nic_profile_loader.hpp"
#include "nicemu/app/units.hpp"
#include "yaml_reader.hpp"


namespace nicemu::app {

const char* to_string(FaultOp op) {
  switch (op) {
    case FaultOp::kMemAlloc: return "mem_alloc";
    case FaultOp::kMemFree: return "mem_free";
    case FaultOp::kStart: return "start";
    case FaultOp::kStop: return "stop";
    case FaultOp::kRollbackStart: return "rollback_start";
  }
  return "?";
}

const std::vector<std::string_view>& expect_drop_reasons() {
  static const std::vector<std::string_view> kReasons = [] {
    std::vector<std::string_view> v{"total"};
    const auto& all = drop_reason::all();
    v.insert(v.end(), all.begin(), all.end());
    return v;
  }();
  return kReasons;
}

const HostSpec* Scenario::host(std::string_view n) const {
  for (const HostSpec& h : hosts) {
    if (h.name == n) return &h;
  }
  return nullptr;
}

const LinkSpec* Scenario::link(std::string_view n) const {
  for (const LinkSpec& l : links) {
    if (l.name == n) return &l;
  }
  return nullptr;
}

base::Result<Override, std::string> parse_override(std::string_view text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return base::Unexpected{"'" + std::string(text) + "' has no '='; expected KEY=VALUE, like hosts.b.nic.rings.rx=2048"};
  }
  if (eq == 0) return base::Unexpected{"'" + std::string(text) + "' has an empty key; expected KEY=VALUE"};
  return Override{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

namespace {

using detail::ConfigReader;
using detail::MapReader;
using detail::NamedValue;
using detail::Position;
using netstack::wire::IpAddress;
using netstack::wire::IpVersion;
using netstack::wire::Ipv4Address;
using netstack::wire::Ipv6Address;
namespace hw = nic::hw;

constexpr NamedValue<netstack::tcp::CongestionAlgo> kCongestion[] = {
    {"cubic", netstack::tcp::CongestionAlgo::kCubic}, {"reno", netstack::tcp::CongestionAlgo::kNewReno}};
constexpr NamedValue<hw::TcpDataSplit> kTcpDataSplit[] = {
    {"unknown", hw::TcpDataSplit::kUnknown},
    {"disabled", hw::TcpDataSplit::kDisabled},
    {"enabled", hw::TcpDataSplit::kEnabled},
};
constexpr NamedValue<hw::FlowType> kNtupleFlowTypes[] = {
    {"tcp4", hw::FlowType::kTcpV4},
    {"udp4", hw::FlowType::kUdpV4},
    {"tcp6", hw::FlowType::kTcpV6},
    {"udp6", hw::FlowType::kUdpV6},
};
constexpr NamedValue<hw::HashFlow> kHashFlows[] = {
    {"tcp4", hw::HashFlow::kTcp4}, {"udp4", hw::HashFlow::kUdp4}, {"ip4", hw::HashFlow::kIp4},
    {"tcp6", hw::HashFlow::kTcp6}, {"udp6", hw::HashFlow::kUdp6}, {"ip6", hw::HashFlow::kIp6},
};
constexpr NamedValue<hw::CorruptMode> kCorruptModes[] = {
    {"fcs-error", hw::CorruptMode::kFcsError},
    {"pass-corrupted", hw::CorruptMode::kPassCorrupted},
};
constexpr NamedValue<FaultOp> kFaultOps[] = {
    {"mem_alloc", FaultOp::kMemAlloc}, {"mem_free", FaultOp::kMemFree},
    {"start", FaultOp::kStart},        {"stop", FaultOp::kStop},
    {"rollback_start", FaultOp::kRollbackStart},
};
constexpr NamedValue<LinkDirection> kDirections[] = {
    {"forward", LinkDirection::kForward},
    {"reverse", LinkDirection::kReverse},
    {"both", LinkDirection::kBoth},
};
constexpr NamedValue<StopCondition::When> kWhens[] = {
    {"workloads-done", StopCondition::When::kWorkloadsDone},
    {"time", StopCondition::When::kTime},
};
constexpr NamedValue<IpVersion> kFamilies[] = {
    {"ipv4", IpVersion::kV4},
    {"ipv6", IpVersion::kV6},
};
enum class WorkloadType : std::uint8_t { kBulkTcp, kRequestResponse, kUdp };
constexpr NamedValue<WorkloadType> kWorkloadTypes[] = {
    {"bulk-tcp", WorkloadType::kBulkTcp},
    {"request-response", WorkloadType::kRequestResponse},
    {"udp", WorkloadType::kUdp},
};
constexpr NamedValue<bool> kCarrierStates[] = {{"up", true}, {"down", false}};
constexpr NamedValue<netmem::MemoryPlacement> kPlacements[] = {{"device", netmem::MemoryPlacement::kDeviceMemory},
                                                               {"host", netmem::MemoryPlacement::kHostMemory}};
constexpr NamedValue<DevmemAction::Op> kDevmemOps[] = {{"bind-rx", DevmemAction::Op::kBindRx},
                                                       {"unbind", DevmemAction::Op::kUnbind}};

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += ", ";
    s += names[i];
  }
  return s;
}

// ---- optional values and values in units --------------------------------------------------------

template <class T>
void opt_uint(MapReader& m, std::string_view key, std::optional<T>& out) {
  if (!m.has(key)) return;
  T v{};
  if (m.get_uint(key, v)) out = v;
}

template <class T>
void opt_uint(MapReader& m, std::string_view key, T& out) {
  if (m.has(key)) m.get_uint(key, out);
}

bool get_duration(MapReader& m, std::string_view key, sim::Duration& out) {
  std::string text;
  if (!m.get_string(key, text)) return false;
  const auto r = parse_duration(text);
  if (!r) {
    m.invalid(key, r.error());
    return false;
  }
  out = *r;
  return true;
}

bool get_rate(MapReader& m, std::string_view key, std::uint64_t& out) {
  std::string text;
  if (!m.get_string(key, text)) return false;
  const auto r = parse_rate_bps(text);
  if (!r) {
    m.invalid(key, r.error());
    return false;
  }
  out = *r;
  return true;
}

bool get_size(MapReader& m, std::string_view key, std::uint64_t& out, std::uint64_t min = 0,
              std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
  std::string text;
  if (!m.get_string(key, text)) return false;
  const auto r = parse_size_bytes(text);
  if (!r) {
    m.invalid(key, r.error());
    return false;
  }
  if (*r < min || *r > max) {
    m.invalid(key, text + " is not allowed; allowed: " + std::to_string(min) + " to " + std::to_string(max) + " bytes");
    return false;
  }
  out = *r;
  return true;
}

bool get_probability(MapReader& m, std::string_view key, double& out) {
  double p = 0;
  if (!m.get_double(key, p)) return false;
  if (!(p >= 0.0 && p <= 1.0)) {
    m.invalid(key, "a per-frame probability; allowed: 0 to 1");
    return false;
  }
  out = p;
  return true;
}

// ---- addresses ------------------------------------------------------------------------------

// "addr" or "addr/prefix"; `prefix` stays nullopt without '/'.
bool parse_ip(std::string_view text, IpAddress& addr, std::optional<std::uint8_t>& prefix, std::string& error) {
  const std::size_t slash = text.find('/');
  const std::string_view a = text.substr(0, slash);
  const std::optional<IpAddress> ip = IpAddress::parse(a);
  if (!ip) {
    error = "'" + std::string(a) + "' is not an IPv4 address (like 10.0.0.1) or an IPv6 address (like fd00::1)";
    return false;
  }
  addr = *ip;
  if (slash == std::string_view::npos) return true;
  const std::string_view p = text.substr(slash + 1);
  const unsigned max = ip->is_v4() ? 32 : 128;
  unsigned v = 0;
  const bool digits = !p.empty() && p.size() <= 3 && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    for (char c : p) v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (!digits || v > max) {
    error = "prefix '/" + std::string(p) + "' is not allowed; allowed: /0 to /" + std::to_string(max);
    return false;
  }
  prefix = static_cast<std::uint8_t>(v);
  return true;
}

IpAddress prefix_mask(IpVersion v, unsigned prefix_len) {
  if (v == IpVersion::kV4) {
    return Ipv4Address::from_u32(prefix_len == 0 ? 0u : ~0u << (32 - prefix_len));
  }
  Ipv6Address a;
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bits = prefix_len > i * 8 ? std::min(8u, prefix_len - i * 8) : 0u;
    a.octets[i] = static_cast<std::uint8_t>(bits == 0 ? 0 : 0xffu << (8 - bits));
  }
  return a;
}

bool parse_hex_key(std::string_view text, hw::RssKey& key) {
  std::string hex;
  for (char c : text) {
    if (c != ':') hex += c;
  }
  if (hex.size() != 2 * hw::kRssKeyLen) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < hw::kRssKeyLen; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

// ---- NIC settings ---------------------------------------------------------------------------

void read_channels(MapReader m, ChannelSettings& c) {
  opt_uint(m, "combined", c.combined);
  opt_uint(m, "rx", c.rx);
  opt_uint(m, "tx", c.tx);
  m.finish();
}

void read_rings(MapReader m, RingSettings& r) {
  opt_uint(m, "rx", r.rx);
  opt_uint(m, "tx", r.tx);
  if (m.has("rx-buf-len")) {
    std::uint64_t v = 0;
    if (get_size(m, "rx-buf-len", v, 1, 65536)) r.rx_buf_len = static_cast<std::uint32_t>(v);
  }
  if (m.has("tcp-data-split")) {
    hw::TcpDataSplit s{};
    if (m.get_enum<hw::TcpDataSplit>("tcp-data-split", s, kTcpDataSplit)) r.tcp_data_split = s;
  }
  opt_uint(m, "hds-thresh", r.hds_thresh);
  m.finish();
}

void read_rss(MapReader m, RssSettings& rss) {
  if (m.has("key")) {
    std::string text;
    if (m.get_string("key", text) && text != "default") {
      hw::RssKey key{};
      if (parse_hex_key(text, key)) {
        rss.key = key;
      } else {
        m.invalid("key", "expected 'default' or 40 bytes in hex (80 hex digits, colons allowed, like 6d:5a:56:...)");
      }
    }
  }
  if (auto t = m.optional_map("indir")) {
    IndirSpec spec;
    const bool has_equal = t->has("equal");
    const bool has_weights = t->has("weights");
    if (has_equal == has_weights) {
      t->invalid(has_equal ? "weights" : "equal", "give exactly one of equal (N queues) or weights (a list)");
    }
    if (has_equal) {
      std::uint32_t n = 0;
      if (t->get_uint("equal", n)) {
        if (n == 0) t->invalid("equal", "0 is not allowed; allowed: 1 or more queues");
        spec.equal = n;
      }
    }
    if (has_weights) t->get_uint32_list("weights", spec.weights);
    opt_uint(*t, "start", spec.start);
    t->finish();
    rss.indir = spec;
  }
  if (auto h = m.optional_map("hash")) {
    for (const auto& f : kHashFlows) {
      if (!h->has(f.name)) continue;
      std::string text;
      if (!h->get_string(f.name, text)) continue;
      const bool ip_only = f.value == hw::HashFlow::kIp4 || f.value == hw::HashFlow::kIp6;
      if (text == "none") {
        rss.hash_fields.emplace_back(f.value, 0u);
      } else if (text == "sd") {
        rss.hash_fields.emplace_back(f.value, hw::kRxh2Tuple);
      } else if (text == "sdfn" && !ip_only) {
        rss.hash_fields.emplace_back(f.value, hw::kRxh4Tuple);
      } else {
        h->invalid(f.name, "'" + text + "' is not allowed; allowed: " + (ip_only ? "none, sd" : "none, sd, sdfn") +
                               " (s: source address, d: destination address, f/n: source/destination port)");
      }
    }
    h->finish();
  }
  m.finish();
}

// One ntuple rule: ethtool -N's fields.
void read_ntuple_rule(MapReader m, hw::NtupleRule& r) {
  m.get_enum<hw::FlowType>("flow-type", r.flow_type, kNtupleFlowTypes);
  const bool v6 = r.flow_type == hw::FlowType::kTcpV6 || r.flow_type == hw::FlowType::kUdpV6;
  const IpVersion family = v6 ? IpVersion::kV6 : IpVersion::kV4;
  auto read_ip = [&](std::string_view key, std::string_view mask_key, IpAddress& addr, IpAddress& mask) {
    std::optional<std::uint8_t> prefix;
    if (m.has(key)) {
      std::string text, error;
      if (m.get_string(key, text)) {
        if (!parse_ip(text, addr, prefix, error)) {
          m.invalid(key, error);
        } else if (addr.version() != family) {
          m.invalid(key, "'" + text + "' is not an " + (v6 ? "IPv6" : "IPv4") + " address, as flow-type " +
                             hw::to_string(r.flow_type) + " needs");
          addr = IpAddress{};
        } else {
          mask = prefix_mask(family, prefix.value_or(v6 ? 128 : 32));
        }
      }
    }
    if (m.has(mask_key)) {
      std::string text;
      if (m.get_string(mask_key, text)) {
        const std::optional<IpAddress> mk = IpAddress::parse(text);
        if (!m.has(key)) {
          m.invalid(mask_key, "a mask needs its address (" + std::string(key) + ")");
        } else if (prefix) {
          m.invalid(mask_key, "give either a prefix on " + std::string(key) + " or " + std::string(mask_key) + ", not both");
        } else if (!mk || mk->version() != family) {
          m.invalid(mask_key, "'" + text + "' is not an " + (v6 ? "IPv6" : "IPv4") +
                                  " mask; a set bit must match (like 255.255.255.0)");
        } else {
          mask = *mk;
        }
      }
    }
  };
  read_ip("src-ip", "src-ip-mask", r.src_ip, r.src_ip_mask);
  read_ip("dst-ip", "dst-ip-mask", r.dst_ip, r.dst_ip_mask);
  auto read_port = [&](std::string_view key, std::string_view mask_key, std::uint16_t& port, std::uint16_t& mask) {
    if (m.has(key) && m.get_uint(key, port)) mask = 0xffff;
    if (m.has(mask_key)) {
      if (!m.has(key)) m.invalid(mask_key, "a mask needs its port (" + std::string(key) + ")");
      m.get_uint(mask_key, mask);
    }
  };
  read_port("src-port", "src-port-mask", r.src_port, r.src_port_mask);
  read_port("dst-port", "dst-port-mask", r.dst_port, r.dst_port_mask);
  std::string action;
  if (m.get_string("action", action)) {
    std::istringstream in(action);
    std::string word, word2, extra;
    std::uint64_t n = 0, q = 0;
    bool ok = false;
    in >> word;
    if (word == "drop") {
      r.action = hw::NtupleAction::kDrop;
      ok = !(in >> extra);
    } else if (word == "queue" && (in >> n) && n <= 0xffffffffu) {
      r.action = hw::NtupleAction::kQueue;
      r.queue = static_cast<std::uint32_t>(n);
      ok = !(in >> extra);
    } else if (word == "context" && (in >> n) && n <= 0xffffffffu) {
      r.action = hw::NtupleAction::kRssContext;
      r.rss_context = static_cast<std::uint32_t>(n);
      r.queue = 0;
      ok = true;
      if (in >> word2) ok = word2 == "queue" && (in >> q) && q <= 0xffffffffu && !(in >> extra);
      r.queue = static_cast<std::uint32_t>(q);
    }
    if (!ok) m.invalid("action", "'" + action + "' is not allowed; allowed: queue N, drop, context C, context C queue N");
  }
  r.location = hw::kRxClsLocAny;
  if (m.has("loc")) {
    std::uint32_t loc = 0;
    if (m.get_uint("loc", loc)) r.location = loc;
  }
  m.finish();
}

void read_ntuple_list(MapReader& m, std::string_view key, std::vector<hw::NtupleRule>& out) {
  if (!m.has(key)) return;
  if (auto items = m.map_list(key)) {
    for (MapReader& item : *items) {
      hw::NtupleRule r;
      read_ntuple_rule(std::move(item), r);
      out.push_back(r);
    }
  }
}

void read_coalesce(MapReader m, CoalesceSettings& c) {
  opt_uint(m, "rx-usecs", c.rx_usecs);
  opt_uint(m, "rx-frames", c.rx_frames);
  m.finish();
}

// channels, rings, rss, coalesce (shared by a host's nic map and a timeline ethtool action).
void read_nic_settings(MapReader& m, NicSettings& s) {
  if (auto c = m.optional_map("channels")) read_channels(std::move(*c), s.channels);
  if (auto r = m.optional_map("rings")) read_rings(std::move(*r), s.rings);
  if (auto r = m.optional_map("rss")) read_rss(std::move(*r), s.rss);
  if (auto c = m.optional_map("coalesce")) read_coalesce(std::move(*c), s.coalesce);
  if (!m.has("rss-contexts")) return;
  if (auto items = m.map_list("rss-contexts")) {
    for (MapReader& item : *items) {
      RssSettings ctx;
      if (item.has("hash")) item.invalid("hash", "rx-flow-hash is set per device (rss.hash), not per RSS context");
      read_rss(std::move(item), ctx);
      ctx.hash_fields.clear();
      s.rss_contexts.push_back(std::move(ctx));
    }
  }
}

// ---- topology ---------------------------------------------------------------------------------

// hosts.<name>.sysctl: net.ipv4's TCP knobs, named as sysctl names them.
void read_sysctl(MapReader m, TcpSysctl& t) {
  auto triple = [&m](const char* key, std::optional<std::array<std::uint32_t, 3>>& out) {
    if (!m.has(key)) return;
    std::vector<std::uint32_t> v;
    if (!m.get_uint32_list(key, v)) return;
    if (v.size() != 3 || v[0] == 0 || v[0] > v[1] || v[1] > v[2]) {
      m.invalid(key, "expected [min, default, max] with 0 < min <= default <= max (bytes)");
      return;
    }
    out = std::array<std::uint32_t, 3>{v[0], v[1], v[2]};
  };
  triple("net.ipv4.tcp_wmem", t.wmem);
  triple("net.ipv4.tcp_rmem", t.rmem);
  if (m.has("net.ipv4.tcp_limit_output_bytes")) {
    std::uint32_t v = 0;
    if (m.get_uint("net.ipv4.tcp_limit_output_bytes", v)) t.limit_output_bytes = v;
  }
  if (m.has("net.ipv4.tcp_congestion_control")) {
    netstack::tcp::CongestionAlgo a{};
    if (m.get_enum<netstack::tcp::CongestionAlgo>("net.ipv4.tcp_congestion_control", a, kCongestion)) t.congestion = a;
  }
  auto flag = [&m](const char* key, std::optional<bool>& out) {
    if (!m.has(key)) return;
    std::uint32_t v = 0;
    if (!m.get_uint(key, v)) return;
    if (v > 1) {
      m.invalid(key, "allowed: 0 or 1");
      return;
    }
    out = v == 1;
  };
  flag("net.ipv4.tcp_sack", t.sack);
  flag("net.ipv4.tcp_timestamps", t.timestamps);
  flag("net.ipv4.tcp_window_scaling", t.window_scaling);
  m.finish();
}

void read_host(MapReader m, HostSpec& h) {
  if (auto c = m.optional_map("cpus")) {
    opt_uint(*c, "count", h.cpus.count);
    if (c->has("ghz") && c->get_double("ghz", h.cpus.ghz) && !(h.cpus.ghz > 0.0 && h.cpus.ghz <= 10.0)) {
      c->invalid("ghz", "allowed: more than 0 and at most 10");
    }
    if (h.cpus.count == 0 || h.cpus.count > 1024) c->invalid("count", "allowed: 1 to 1024");
    c->finish();
  }
  if (auto n = m.map("nic")) {
    n->get_string("profile", h.nic_profile);
    read_nic_settings(*n, h.nic);
    read_ntuple_list(*n, "ntuple", h.nic.ntuple);
    n->finish();
  }
  if (auto d = m.optional_map("devmem")) {
    DevmemSpec spec;
    if (auto b = d->optional_map("dmabuf")) {
      if (b->has("size") && get_size(*b, "size", spec.dmabuf_bytes, 4096, 64ull << 30) && spec.dmabuf_bytes % 4096 != 0) {
        b->invalid("size", "a dma-buf is a whole number of 4 KiB pages");
      }
      if (b->has("placement")) b->get_enum<netmem::MemoryPlacement>("placement", spec.placement, kPlacements);
      b->finish();
    }
    if (d->has("bind-rx")) {
      d->get_uint32_list("bind-rx", spec.bind_rx);
      if (spec.bind_rx.empty()) d->invalid("bind-rx", "an empty queue list binds nothing; leave bind-rx out instead");
    }
    if (d->has("bind-tx")) d->get_bool("bind-tx", spec.bind_tx);
    d->finish();
    h.devmem = std::move(spec);
  }
  if (auto y = m.optional_map("sysctl")) read_sysctl(std::move(*y), h.sysctl);
  std::vector<std::string> addresses;
  if (m.get_string_list("addresses", addresses)) {
    for (const std::string& text : addresses) {
      IpPrefix p;
      std::optional<std::uint8_t> prefix;
      std::string error;
      if (!parse_ip(text, p.address, prefix, error)) {
        m.invalid("addresses", error);
      } else if (!prefix) {
        m.invalid("addresses", "'" + text + "' has no prefix length; write it like 10.0.0.1/24 or fd00::1/64");
      } else {
        p.prefix_len = *prefix;
        h.addresses.push_back(p);
      }
    }
    if (addresses.empty()) m.invalid("addresses", "a host needs at least one address");
  }
  m.finish();
}

bool parse_end(const std::string& text, LinkEnd& end) {
  if (text == "switch") {
    end = LinkEnd{true, {}, std::nullopt};
    return true;
  }
  if (text.rfind("switch:", 0) == 0) {
    const std::string n = text.substr(7);
    if (n.empty() || n.size() > 6 || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    end = LinkEnd{true, {}, static_cast<std::uint32_t>(std::stoul(n))};
    return true;
  }
  end = LinkEnd{false, text, std::nullopt};
  return !text.empty();
}

void read_fault_config(MapReader m, hw::FaultConfig& f) {
  if (m.has("drop")) get_probability(m, "drop", f.drop);
  if (m.has("corrupt")) get_probability(m, "corrupt", f.corrupt);
  if (m.has("corrupt-mode")) m.get_enum<hw::CorruptMode>("corrupt-mode", f.corrupt_mode, kCorruptModes);
  if (m.has("duplicate")) get_probability(m, "duplicate", f.duplicate);
  if (m.has("reorder")) get_probability(m, "reorder", f.reorder);
  if (m.has("reorder-delay")) get_duration(m, "reorder-delay", f.reorder_delay);
  m.finish();
}

void read_link(MapReader m, LinkSpec& l) {
  std::vector<std::string> ends;
  if (m.get_string_list("ends", ends)) {
    if (ends.size() != 2) {
      m.invalid("ends", "a link has two ends; write [host, host] or [host, switch] (or switch:N for port N)");
    } else {
      for (std::size_t i = 0; i < 2; ++i) {
        if (!parse_end(ends[i], l.ends[i])) {
          m.invalid("ends", "'" + ends[i] + "' is not a host name, 'switch' or 'switch:N'");
        }
      }
    }
  }
  get_rate(m, "rate", l.config.line_rate_bps);
  if (m.has("delay")) get_duration(m, "delay", l.config.propagation_delay);
  if (m.has("mtu") && m.get_uint("mtu", l.config.mtu) &&
      (l.config.mtu < hw::kMinMtu || l.config.mtu > hw::kMaxMtu)) {
    m.invalid("mtu", std::to_string(l.config.mtu) + " is not allowed; allowed: " + std::to_string(hw::kMinMtu) + " to " +
                         std::to_string(hw::kMaxMtu));
  }
  if (auto f = m.optional_map("faults")) {
    if (auto d = f->optional_map("forward")) read_fault_config(std::move(*d), l.faults[0]);
    if (auto d = f->optional_map("reverse")) read_fault_config(std::move(*d), l.faults[1]);
    f->finish();
  }
  m.finish();
}

void read_switch(MapReader m, SwitchSpec& s) {
  if (m.get_uint("ports", s.ports) && (s.ports < 2 || s.ports > 256)) m.invalid("ports", "allowed: 2 to 256");
  if (m.has("output-buffer")) get_size(m, "output-buffer", s.config.output_buffer_bytes, 1);
  if (m.has("latency")) get_duration(m, "latency", s.config.forwarding_latency);
  m.finish();
}

// ---- workloads --------------------------------------------------------------------------------

void read_workload(MapReader m, WorkloadSpec& w) {
  WorkloadType type = WorkloadType::kBulkTcp;
  const bool typed = m.get_enum<WorkloadType>("type", type, kWorkloadTypes);
  m.get_string("from", w.from);
  m.get_string("to", w.to);
  if (m.get_uint("port", w.port) && w.port == 0) m.invalid("port", "allowed: 1 to 65535");
  if (m.has("family")) m.get_enum<IpVersion>("family", w.family, kFamilies);
  if (m.has("start")) get_duration(m, "start", w.start);
  if (!typed) {
    m.ignore_rest();  // the type is unknown: do not report its keys as unknown too
  } else if (type == WorkloadType::kBulkTcp) {
    BulkTcp b;
    const bool has_bytes = m.has("bytes");
    const bool has_duration = m.has("duration");
    if (has_bytes == has_duration) {
      m.error_at(has_bytes ? "duration" : "bytes", has_bytes ? ConfigErrorKind::kInvalidValue : ConfigErrorKind::kMissingKey,
                 "give exactly one of bytes (per flow, like 64MiB) or duration (like 10ms)");
    }
    if (has_bytes) {
      std::uint64_t v = 0;
      if (get_size(m, "bytes", v, 1)) b.bytes = v;
    }
    if (has_duration) {
      sim::Duration d;
      if (get_duration(m, "duration", d)) b.duration = d;
    }
    if (m.has("flows") && m.get_uint("flows", b.flows) && (b.flows == 0 || b.flows > 4096)) {
      m.invalid("flows", "allowed: 1 to 4096");
    }
    if (m.has("write-size")) get_size(m, "write-size", b.write_size_bytes, 1, 64ull << 20);
    opt_uint(m, "pattern-seed", b.pattern_seed);
    if (m.has("validate")) m.get_bool("validate", b.validate);
    if (m.has("devmem-rx")) m.get_bool("devmem-rx", b.devmem_rx);
    if (m.has("dontneed-delay")) {
      get_duration(m, "dontneed-delay", b.dontneed_delay);
      if (!b.devmem_rx) m.invalid("dontneed-delay", "only a devmem-rx receiver holds tokens; set devmem-rx: true");
    }
    if (m.has("devmem-tx")) m.get_bool("devmem-tx", b.devmem_tx);
    w.params = b;
  } else if (type == WorkloadType::kRequestResponse) {
    RequestResponseTcp r;
    get_size(m, "request-size", r.request_bytes, 1);
    get_size(m, "response-size", r.response_bytes, 1);
    if (m.get_uint("count", r.count) && r.count == 0) m.invalid("count", "allowed: 1 or more");
    if (m.has("concurrency") && m.get_uint("concurrency", r.concurrency) && r.concurrency == 0) {
      m.invalid("concurrency", "allowed: 1 or more");
    }
    w.params = r;
  } else {
    UdpStream u;
    get_rate(m, "rate", u.rate_bps);
    // 8 bytes at least: each datagram carries its sequence number; 65507: the largest UDP payload
    // over IPv4.
    get_size(m, "size", u.size_bytes, 8, 65507);
    if (m.get_uint("count", u.count) && u.count == 0) m.invalid("count", "allowed: 1 or more");
    w.params = u;
  }
  m.finish();
}

// ---- timeline ---------------------------------------------------------------------------------

void read_fault_mode(MapReader& m, FaultMode& mode) {
  std::string text;
  if (!m.get_string("mode", text)) return;
  std::istringstream in(text);
  std::string word, arg, extra;
  in >> word;
  bool ok = false;
  if (word == "once" || word == "off") {
    mode.kind = word == "once" ? FaultMode::Kind::kOnce : FaultMode::Kind::kOff;
    ok = !(in >> extra);
  } else if (word == "every" && (in >> arg) && !(in >> extra)) {
    const auto n = parse_size_bytes(arg);  // a plain integer; sizes accept exactly those
    ok = n && *n >= 1 && *n <= 0xffffffffu && arg.find_first_not_of("0123456789") == std::string::npos;
    if (ok) {
      mode.kind = FaultMode::Kind::kEvery;
      mode.every = static_cast<std::uint32_t>(*n);
    }
  } else if (word == "from" && (in >> arg) && !(in >> extra)) {
    const auto t = parse_duration(arg);
    ok = t.has_value();
    if (ok) {
      mode.kind = FaultMode::Kind::kFrom;
      mode.from = *t;
    } else {
      m.invalid("mode", t.error());
      return;
    }
  }
  if (!ok) m.invalid("mode", "'" + text + "' is not allowed; allowed: once, every N (N >= 1), from TIME (like from 10ms), off");
}

void read_event(MapReader m, TimelineEvent& e) {
  get_duration(m, "at", e.at);
  static constexpr std::string_view kActions[] = {"ethtool", "queue-restart", "fault", "link-faults", "carrier",
                                                  "devmem"};
  std::vector<std::string_view> present;
  for (std::string_view a : kActions) {
    if (m.has(a)) present.push_back(a);
  }
  if (present.size() != 1) {
    const std::string allowed = "ethtool, queue-restart, fault, link-faults, carrier, devmem";
    if (present.empty()) {
      m.reader().error(ConfigErrorKind::kMissingKey, m.where(), m.path(), "an event needs one action; allowed: " + allowed);
    } else {
      m.invalid(present[1], "an event has one action; split '" + std::string(present[0]) + "' and '" +
                                std::string(present[1]) + "' into two events");
    }
  }
  for (std::size_t i = 1; i < present.size(); ++i) {
    if (auto extra = m.optional_map(present[i])) {  // reported above; not unknown as well
      extra->ignore_rest();
      extra->finish();
    }
  }
  if (present.empty()) {
    m.finish();
    return;
  }
  const std::string_view kind = present[0];
  if (kind == "ethtool") {
    EthtoolAction a;
    if (auto x = m.map("ethtool")) {
      x->get_string("host", a.host);
      read_nic_settings(*x, a.changes);
      read_ntuple_list(*x, "ntuple-add", a.changes.ntuple);
      if (x->has("ntuple-delete")) x->get_uint32_list("ntuple-delete", a.ntuple_delete);
      if (x->has("rss-context-delete")) x->get_uint32_list("rss-context-delete", a.rss_context_delete);
      x->finish();
    }
    e.action = std::move(a);
  } else if (kind == "queue-restart") {
    QueueRestartAction a;
    if (auto x = m.map("queue-restart")) {
      x->get_string("host", a.host);
      x->get_uint("queue", a.queue);
      x->finish();
    }
    e.action = std::move(a);
  } else if (kind == "fault") {
    QueueFaultAction a;
    if (auto x = m.map("fault")) {
      x->get_string("host", a.host);
      x->get_enum<FaultOp>("op", a.op, kFaultOps);
      x->get_uint("queue", a.queue);
      read_fault_mode(*x, a.mode);
      x->finish();
    }
    e.action = std::move(a);
  } else if (kind == "link-faults") {
    LinkFaultAction a;
    if (auto x = m.map("link-faults")) {
      x->get_string("link", a.link);
      if (x->has("direction")) x->get_enum<LinkDirection>("direction", a.direction, kDirections);
      if (x->has("drop")) get_probability(*x, "drop", a.faults.drop);
      if (x->has("corrupt")) get_probability(*x, "corrupt", a.faults.corrupt);
      if (x->has("corrupt-mode")) x->get_enum<hw::CorruptMode>("corrupt-mode", a.faults.corrupt_mode, kCorruptModes);
      if (x->has("duplicate")) get_probability(*x, "duplicate", a.faults.duplicate);
      if (x->has("reorder")) get_probability(*x, "reorder", a.faults.reorder);
      if (x->has("reorder-delay")) get_duration(*x, "reorder-delay", a.faults.reorder_delay);
      x->finish();
    }
    e.action = std::move(a);
  } else if (kind == "devmem") {
    DevmemAction a;
    if (auto x = m.map("devmem")) {
      x->get_string("host", a.host);
      x->get_enum<DevmemAction::Op>("op", a.op, kDevmemOps);
      if (a.op == DevmemAction::Op::kBindRx) {
        if (x->get_uint32_list("queues", a.queues) && a.queues.empty()) x->invalid("queues", "bind-rx needs at least one queue");
      }
      x->finish();
    }
    e.action = std::move(a);
  } else {
    CarrierAction a;
    if (auto x = m.map("carrier")) {
      x->get_string("link", a.link);
      x->get_enum<bool>("state", a.up, kCarrierStates);
      x->finish();
    }
    e.action = std::move(a);
  }
  m.finish();
}

// ---- end of run -------------------------------------------------------------------------------

void read_stop(MapReader m, StopCondition& s) {
  m.get_enum<StopCondition::When>("when", s.when, kWhens);
  if (s.when == StopCondition::When::kTime || m.has("time")) {
    if (get_duration(m, "time", s.time) && s.time == sim::Duration::zero()) {
      m.invalid("time", "0 is not allowed; a run lasts more than 0");
    }
  }
  m.finish();
}

void read_expect(MapReader m, Expectations& x) {
  opt_uint(m, "validation-errors", x.max_validation_errors);
  if (m.has("min-goodput-gbps")) {
    double g = 0;
    if (m.get_double("min-goodput-gbps", g)) {
      if (g < 0) m.invalid("min-goodput-gbps", "allowed: 0 or more");
      x.min_goodput_gbps = g;
    }
  }
  if (m.has("no-leaks")) {
    bool b = false;
    if (m.get_bool("no-leaks", b)) x.no_leaks = b;
  }
  if (m.has("workloads-done")) {
    bool b = false;
    if (m.get_bool("workloads-done", b)) x.workloads_done = b;
  }
  if (m.has("timeline-ok")) {
    bool b = false;
    if (m.get_bool("timeline-ok", b)) x.timeline_ok = b;
  }
  if (auto d = m.optional_map("drops")) {
    for (std::string_view reason : expect_drop_reasons()) {
      if (!d->has(reason)) continue;
      std::uint64_t v = 0;
      if (d->get_uint(reason, v)) x.max_drops.emplace_back(std::string(reason), v);
    }
    d->finish();
  }
  m.finish();
}

// ---- the whole file ---------------------------------------------------------------------------

void read_scenario(MapReader& top, Scenario& s) {
  if (top.has("name")) top.get_string("name", s.name);
  if (top.has("description")) top.get_string("description", s.description);
  if (top.has("seed")) top.get_uint("seed", s.seed);
  if (auto hosts = top.map("hosts")) {
    for (const std::string& name : hosts->keys()) {
      HostSpec h;
      h.name = name;
      h.line = top.reader().position_of(hosts->path_of(name)).line;
      if (auto m = hosts->map(name)) read_host(std::move(*m), h);
      s.hosts.push_back(std::move(h));
    }
    if (s.hosts.empty()) hosts->reader().error(ConfigErrorKind::kInvalidValue, hosts->where(), "hosts", "a scenario needs at least one host");
    hosts->finish();
  }
  if (auto sw = top.optional_map("switch")) {
    SwitchSpec spec;
    read_switch(std::move(*sw), spec);
    s.switch_ = spec;
  }
  if (auto links = top.map("links")) {
    for (const std::string& name : links->keys()) {
      LinkSpec l;
      l.name = name;
      l.line = top.reader().position_of(links->path_of(name)).line;
      if (auto m = links->map(name)) read_link(std::move(*m), l);
      s.links.push_back(std::move(l));
    }
    links->finish();
  }
  if (auto workloads = top.optional_map("workloads")) {
    for (const std::string& name : workloads->keys()) {
      WorkloadSpec w;
      w.name = name;
      w.line = top.reader().position_of(workloads->path_of(name)).line;
      if (auto m = workloads->map(name)) read_workload(std::move(*m), w);
      s.workloads.push_back(std::move(w));
    }
    workloads->finish();
  }
  if (top.has("timeline")) {
    if (auto events = top.map_list("timeline")) {
      for (MapReader& m : *events) {
        TimelineEvent e;
        e.line = m.where().line;
        read_event(std::move(m), e);
        s.timeline.push_back(std::move(e));
      }
    }
  }
  if (auto m = top.optional_map("stop")) read_stop(std::move(*m), s.stop);
  if (auto m = top.optional_map("expect")) {
    read_expect(std::move(*m), s.expect);
  } else {
    s.expect.max_validation_errors = 0;
    s.expect.no_leaks = true;
    s.expect.workloads_done = true;
  }
  top.finish();
}

// ---- cross-checks -----------------------------------------------------------------------------

class Checker {
 public:
  Checker(ConfigReader& reader, const Scenario& s) : reader_(reader), s_(s) {}

  void error(const std::string& key, std::string message, ConfigErrorKind kind = ConfigErrorKind::kInvalidValue) {
    reader_.error(kind, reader_.position_of(key), key, std::move(message));
  }

  std::string host_names() const {
    std::vector<std::string> names;
    for (const HostSpec& h : s_.hosts) names.push_back(h.name);
    return names.empty() ? "(none)" : join(names);
  }
  std::string link_names() const {
    std::vector<std::string> names;
    for (const LinkSpec& l : s_.links) names.push_back(l.name);
    return names.empty() ? "(none)" : join(names);
  }

  // An empty name was already reported by the reader.
  bool check_host(const std::string& key, const std::string& name) {
    if (name.empty() || s_.host(name) != nullptr) return !name.empty();
    error(key, "no host '" + name + "'; hosts: " + host_names());
    return false;
  }
  bool check_link(const std::string& key, const std::string& name) {
    if (name.empty() || s_.link(name) != nullptr) return !name.empty();
    error(key, "no link '" + name + "'; links: " + link_names());
    return false;
  }

  // RX queues in use with these channel settings (given values over the profile's defaults);
  // nullopt when neither says.
  static std::optional<std::uint32_t> rx_queues(const HostSpec& h, const ChannelSettings& c) {
    if (!h.profile && !c.combined && !c.rx) return std::nullopt;
    const hw::ChannelCounts d = h.profile ? h.profile->channels.defaults : hw::ChannelCounts{};
    return c.combined.value_or(d.combined) + c.rx.value_or(d.rx);
  }

  // `path`: the settings' map; `ntuple_key`: its rule list ("ntuple" or "ntuple-add").
  void check_settings(const std::string& path, const std::string& ntuple_key, const HostSpec& h, const NicSettings& n,
                      std::optional<std::uint32_t> rxq) {
    if (h.profile) {
      const hw::NicProfile& p = *h.profile;
      const std::string where = " (NIC profile " + p.name + ")";
      auto max_check = [&](const std::string& key, const std::optional<std::uint32_t>& v, std::uint32_t max) {
        if (v && *v > max) error(key, std::to_string(*v) + " is not allowed; allowed: 0 to " + std::to_string(max) + where);
      };
      max_check(path + ".channels.combined", n.channels.combined, p.channels.max.combined);
      max_check(path + ".channels.rx", n.channels.rx, p.channels.max.rx);
      max_check(path + ".channels.tx", n.channels.tx, p.channels.max.tx);
      const auto within = [](const std::optional<std::uint32_t>& v, std::uint32_t max) { return !v || *v <= max; };
      if (ntuple_key == "ntuple" && p.channels.max.combined != 0 && p.channels.max.rx != 0 &&
          within(n.channels.combined, p.channels.max.combined) && within(n.channels.rx, p.channels.max.rx) &&
          within(n.channels.tx, p.channels.max.tx)) {
        // A device with both kinds (bnxt) takes all combined or all rx/tx: bnxt_set_channels
        // refuses a mix with EINVAL. The settings go over the profile's defaults.
        const std::uint32_t combined = n.channels.combined.value_or(p.channels.defaults.combined);
        const std::uint32_t rx = n.channels.rx.value_or(p.channels.defaults.rx);
        const std::uint32_t tx = n.channels.tx.value_or(p.channels.defaults.tx);
        if (combined != 0 && (rx != 0 || tx != 0)) {
          error(path + ".channels", "combined and rx/tx channels together are not allowed (combined " +
                                        std::to_string(combined) + " is in force); give combined: 0 for separate rx and " +
                                        "tx channels" + where);
        } else if (combined == 0 && (rx == 0 || tx == 0)) {
          error(path + ".channels", "separate channels need both rx and tx" + where);
        }
      }
      auto ring_check = [&](const std::string& key, const std::optional<std::uint32_t>& v, const hw::RingLimits& l) {
        if (v && (*v < l.min || *v > l.max)) {
          error(key, std::to_string(*v) + " is not allowed; allowed: " + std::to_string(l.min) + " to " +
                         std::to_string(l.max) + where);
        }
      };
      ring_check(path + ".rings.rx", n.rings.rx, p.rings.rx);
      ring_check(path + ".rings.tx", n.rings.tx, p.rings.tx);
      if (n.rings.rx_buf_len) {
        const auto& allowed = p.rings.rx_buf_len_allowed;
        if (std::find(allowed.begin(), allowed.end(), *n.rings.rx_buf_len) == allowed.end()) {
          std::vector<std::string> names;
          for (std::uint32_t v : allowed) names.push_back(std::to_string(v));
          error(path + ".rings.rx-buf-len", std::to_string(*n.rings.rx_buf_len) + " is not allowed; allowed: " +
                                                join(names) + where);
        }
      }
      if (n.rings.tcp_data_split == hw::TcpDataSplit::kEnabled && !p.header_split.supported) {
        error(path + ".rings.tcp-data-split", "the NIC has no header split; allowed: unknown, disabled" + where);
      }
      max_check(path + ".rings.hds-thresh", n.rings.hds_thresh, p.header_split.hds_thresh_max);
    }
    if (!rxq) return;
    if (*rxq == 0 && (n.channels.combined || n.channels.rx)) {
      error(path + ".channels", "no RX queue left; allowed: combined + rx at least 1");
    }
    auto indir_check = [&](const std::string& key, const std::optional<IndirSpec>& indir) {
      if (!indir) return;
      const IndirSpec& t = *indir;
      const std::uint64_t span = t.equal ? *t.equal : t.weights.size();
      if (std::uint64_t{t.start} + span > *rxq) {
        error(key, "start " + std::to_string(t.start) + " + " + std::to_string(span) + " queues is more than the " +
                       std::to_string(*rxq) + " RX queues");
      }
    };
    indir_check(path + ".rss.indir", n.rss.indir);
    for (std::size_t i = 0; i < n.rss_contexts.size(); ++i) {
      indir_check(path + ".rss-contexts." + std::to_string(i) + ".indir", n.rss_contexts[i].indir);
    }
    for (std::size_t i = 0; i < n.ntuple.size(); ++i) {
      const hw::NtupleRule& r = n.ntuple[i];
      if (r.action == hw::NtupleAction::kDrop) continue;
      if (r.action == hw::NtupleAction::kRssContext && ntuple_key == "ntuple" && r.rss_context != 0 &&
          r.rss_context > n.rss_contexts.size()) {
        error(path + ".ntuple." + std::to_string(i) + ".action",
              "context " + std::to_string(r.rss_context) + " does not exist; rss-contexts creates " +
                  (n.rss_contexts.empty() ? std::string("none") : "1 to " + std::to_string(n.rss_contexts.size())));
      }
      if (r.queue >= *rxq) {
        error(path + "." + ntuple_key + "." + std::to_string(i) + ".action",
              "queue " + std::to_string(r.queue) + " is not allowed; allowed: 0 to " + std::to_string(*rxq - 1) + " (" +
                  std::to_string(*rxq) + " RX queues)");
      }
    }
  }

  void run() {
    // Addresses unique over all hosts.
    std::map<IpAddress, std::string> owners;
    for (const HostSpec& h : s_.hosts) {
      for (const IpPrefix& p : h.addresses) {
        const auto [it, fresh] = owners.emplace(p.address, h.name);
        if (!fresh) {
          error("hosts." + h.name + ".addresses",
                p.address.to_string() + " is also host " + it->second + "'s address; every address is unique");
        }
      }
      check_settings("hosts." + h.name + ".nic", "ntuple", h, h.nic, rx_queues(h, h.nic.channels));
      if (h.devmem) {
        const auto rxq = rx_queues(h, h.nic.channels);
        for (const std::uint32_t q : h.devmem->bind_rx) {
          if (rxq && q >= *rxq) {
            error("hosts." + h.name + ".devmem.bind-rx", "queue " + std::to_string(q) + " is not allowed; allowed: 0 to " +
                                                              std::to_string(*rxq - 1) + " (" + std::to_string(*rxq) + " RX queues)");
          }
        }
      }
    }
    check_links();
    check_workloads();
    check_timeline();
  }

  void check_links() {
    std::map<std::string, std::string> host_link;
    std::set<std::uint32_t> ports;
    std::uint32_t switch_ends = 0;
    for (const LinkSpec& l : s_.links) {
      const std::string key = "links." + l.name + ".ends";
      if (l.ends[0].host.empty() && l.ends[1].host.empty() && !l.ends[0].is_switch && !l.ends[1].is_switch) continue;
      if (l.ends[0].is_switch && l.ends[1].is_switch) error(key, "a link cannot join the switch to itself");
      if (!l.ends[0].is_switch && !l.ends[1].is_switch && l.ends[0].host == l.ends[1].host) {
        error(key, "a link joins two different hosts (or a host and the switch)");
      }
      for (const LinkEnd& e : l.ends) {
        if (e.is_switch) {
          ++switch_ends;
          if (!s_.switch_) {
            error(key, "the scenario has no switch; add a `switch:` map or link two hosts directly");
          } else if (e.switch_port) {
            if (*e.switch_port >= s_.switch_->ports) {
              error(key, "switch port " + std::to_string(*e.switch_port) + " is not allowed; allowed: 0 to " +
                             std::to_string(s_.switch_->ports - 1));
            } else if (!ports.insert(*e.switch_port).second) {
              error(key, "switch port " + std::to_string(*e.switch_port) + " is already used by another link");
            }
          }
          continue;
        }
        if (!check_host(key, e.host)) continue;
        const auto [it, fresh] = host_link.emplace(e.host, l.name);
        if (!fresh && it->second != l.name) {
          error(key, "host " + e.host + " is already on link " + it->second + "; a host has one NIC port");
        }
        const HostSpec* h = s_.host(e.host);
        if (h->profile && l.config.mtu > h->profile->mtu_max) {
          error("links." + l.name + ".mtu", std::to_string(l.config.mtu) + " is more than host " + h->name +
                                                "'s NIC allows (mtu-max " + std::to_string(h->profile->mtu_max) + ")");
        }
      }
    }
    if (s_.switch_ && switch_ends > s_.switch_->ports) {
      error("switch.ports", std::to_string(switch_ends) + " links end at the switch but it has " +
                                std::to_string(s_.switch_->ports) + " ports");
    }
  }

  void check_workloads() {
    for (const WorkloadSpec& w : s_.workloads) {
      const std::string path = "workloads." + w.name;
      const bool from_ok = check_host(path + ".from", w.from);
      const bool to_ok = check_host(path + ".to", w.to);
      if (from_ok && to_ok && w.from == w.to) error(path + ".to", "a workload runs between two different hosts");
      for (const auto& [key, name, ok] : {std::tuple{".from", w.from, from_ok}, std::tuple{".to", w.to, to_ok}}) {
        if (!ok) continue;
        const HostSpec* h = s_.host(name);
        const bool has_family = std::any_of(h->addresses.begin(), h->addresses.end(),
                                            [&](const IpPrefix& p) { return p.address.version() == w.family; });
        if (!has_family && !h->addresses.empty()) {
          error(path + key, "host " + name + " has no " + (w.family == IpVersion::kV6 ? "IPv6" : "IPv4") +
                                " address for this workload's family");
        }
      }
      if (const auto* b = std::get_if<BulkTcp>(&w.params); b != nullptr && w.port + b->flows - 1 > 65535) {
        error(path + ".flows", "flow i uses port + i: ports past 65535; lower port or flows");
      }
      if (const auto* b = std::get_if<BulkTcp>(&w.params); b != nullptr) {
        const HostSpec* to = to_ok ? s_.host(w.to) : nullptr;
        const HostSpec* from = from_ok ? s_.host(w.from) : nullptr;
        const bool timeline_binds = std::any_of(s_.timeline.begin(), s_.timeline.end(), [&](const TimelineEvent& e) {
          const auto* a = std::get_if<DevmemAction>(&e.action);
          return a != nullptr && a->host == w.to && a->op == DevmemAction::Op::kBindRx;
        });
        if (b->devmem_rx && to != nullptr && !(to->devmem && !to->devmem->bind_rx.empty()) && !timeline_binds) {
          error(path + ".devmem-rx", "host " + w.to + " binds no RX queue; give it devmem: {bind-rx: [...]}");
        }
        if (b->devmem_tx && from != nullptr && !(from->devmem && from->devmem->bind_tx)) {
          error(path + ".devmem-tx", "host " + w.from + " has no TX binding; give it devmem: {bind-tx: true}");
        }
      }
    }
  }

  void check_timeline() {
    std::map<std::string, std::optional<std::uint32_t>> rxq;
    for (const HostSpec& h : s_.hosts) rxq[h.name] = rx_queues(h, h.nic.channels);
    // The file order of events, to name their keys ("timeline.<i>").
    std::vector<std::size_t> order(s_.timeline.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return s_.timeline[a].at < s_.timeline[b].at; });
    for (std::size_t i : order) {
      const TimelineEvent& e = s_.timeline[i];
      const std::string path = "timeline." + std::to_string(i);
      auto queue_check = [&](const std::string& key, const std::string& host, std::uint32_t queue) {
        const auto& n = rxq[host];
        if (n && queue >= *n) {
          error(key, "queue " + std::to_string(queue) + " is not allowed; allowed: 0 to " +
                         std::to_string(*n == 0 ? 0 : *n - 1) + " (host " + host + " has " + std::to_string(*n) +
                         " RX queues at this time)");
        }
      };
      if (const auto* a = std::get_if<EthtoolAction>(&e.action)) {
        if (!check_host(path + ".ethtool.host", a->host)) continue;
        const HostSpec& h = *s_.host(a->host);
        ChannelSettings c = a->changes.channels;
        if (c.combined || c.rx) {
          // Channels not named keep their current count; a partial change is relative to now.
          rxq[h.name] = rx_queues(h, c);
        }
        check_settings(path + ".ethtool", "ntuple-add", h, a->changes, rxq[h.name]);
      } else if (const auto* q = std::get_if<QueueRestartAction>(&e.action)) {
        if (check_host(path + ".queue-restart.host", q->host)) queue_check(path + ".queue-restart.queue", q->host, q->queue);
      } else if (const auto* f = std::get_if<QueueFaultAction>(&e.action)) {
        if (check_host(path + ".fault.host", f->host)) queue_check(path + ".fault.queue", f->host, f->queue);
      } else if (const auto* lf = std::get_if<LinkFaultAction>(&e.action)) {
        check_link(path + ".link-faults.link", lf->link);
      } else if (const auto* ca = std::get_if<CarrierAction>(&e.action)) {
        check_link(path + ".carrier.link", ca->link);
      } else if (const auto* dm = std::get_if<DevmemAction>(&e.action)) {
        if (check_host(path + ".devmem.host", dm->host)) {
          for (const std::uint32_t dq : dm->queues) queue_check(path + ".devmem.queues", dm->host, dq);
        }
      }
    }
    if (s_.stop.when == StopCondition::When::kTime) {
      for (std::size_t i = 0; i < s_.timeline.size(); ++i) {
        if (s_.timeline[i].at > s_.stop.time) {
          error("timeline." + std::to_string(i) + ".at", "after the stop time; the event would never happen");
        }
      }
    }
  }

 private:
  ConfigReader& reader_;
  const Scenario& s_;
};

// ---- overrides --------------------------------------------------------------------------------

// A copy of `n` whose nodes carry no position (errors in it then have no line: it came from the
// command line, and the message says so).
YAML::Node without_marks(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      YAML::Node s(n.Scalar());
      if (n.Tag() == "!") s.SetTag("!");
      return s;
    }
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const YAML::Node& item : n) out.push_back(without_marks(item));
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (auto it = n.begin(); it != n.end(); ++it) out[it->first.Scalar()] = without_marks(it->second);
      return out;
    }
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

std::vector<std::string> split_dots(std::string_view key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    parts.emplace_back(key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::optional<std::size_t> parse_index(const std::string& s) {
  if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<std::size_t>(std::stoul(s));
}

// Applies one override to `root`; an error sentence when its path does not exist.
std::optional<std::string> apply_override(YAML::Node& root, const Override& o) {
  const std::string prefix = "--set " + o.key + "=" + o.value + ": ";
  YAML::Node value;
  try {
    value = without_marks(YAML::Load(o.value));
  } catch (const YAML::Exception& e) {
    return prefix + "the value is not valid YAML: " + e.msg;
  }
  const std::vector<std::string> parts = split_dots(o.key);
  for (const std::string& p : parts) {
    if (p.empty()) return prefix + "the key has an empty part; write keys like hosts.b.nic.rings.rx";
  }
  YAML::Node cur;
  cur.reset(root);
  std::string walked;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    const std::string here = walked.empty() ? "the top of the file" : "'" + walked + "'";
    if (cur.IsMap()) {
      YAML::Node child;
      bool found = false;
      std::vector<std::string> keys;
      for (auto it = cur.begin(); it != cur.end(); ++it) {
        keys.push_back(it->first.Scalar());
        if (it->first.Scalar() == part) {
          child.reset(it->second);
          found = true;
        }
      }
      if (last) {
        cur[part] = value;  // a new key is judged by the reader like any other
        return std::nullopt;
      }
      if (!found) return prefix + "no key '" + part + "' in " + here + "; keys there: " + (keys.empty() ? "(none)" : join(keys));
      cur.reset(child);
    } else if (cur.IsSequence()) {
      const std::optional<std::size_t> index = parse_index(part);
      if (!index || *index >= cur.size()) {
        return prefix + here + " is a list of " + std::to_string(cur.size()) + " items; '" + part +
               "' is not allowed; allowed: an index 0 to " + std::to_string(cur.size() == 0 ? 0 : cur.size() - 1);
      }
      if (last) {
        cur[*index] = value;
        return std::nullopt;
      }
      YAML::Node child = cur[*index];
      cur.reset(child);
    } else {
      return prefix + here + " is a single value, not a map or a list; it has no '" + part + "'";
    }
    walked += (walked.empty() ? "" : ".") + part;
  }
  return std::nullopt;
}

// ---- NIC profiles -----------------------------------------------------------------------------

std::string preset_names(const std::filesystem::path& configs_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(configs_dir / "nics", ec)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names.empty() ? "(none found in " + (configs_dir / "nics").string() + ")" : join(names);
}

ScenarioResult parse_in(std::string_view yaml_text, std::string_view source_name, const ScenarioOptions& options,
                        const std::filesystem::path& base_dir) {
  ConfigReader reader(std::string(source_name), std::string(yaml_text), nullptr);
  std::optional<YAML::Node> root = reader.parse();
  if (!root) return base::Unexpected{reader.take_errors()};

  for (const Override& o : options.overrides) {
    if (auto err = apply_override(*root, o)) reader.error(ConfigErrorKind::kUnknownKey, {}, o.key, *err);
  }
  if (reader.has_errors()) return base::Unexpected{reader.take_errors()};

  Scenario s;
  {
    const Position top_at{root->Mark().line >= 0 ? root->Mark().line + 1 : 1, 1};
    MapReader top(reader, *root, "", top_at);
    read_scenario(top, s);
  }
  std::stable_sort(s.timeline.begin(), s.timeline.end(),
                   [](const TimelineEvent& a, const TimelineEvent& b) { return a.at < b.at; });

  std::vector<ConfigError> profile_errors;
  if (options.load_profiles) {
    const std::filesystem::path configs_dir =
        options.configs_dir.empty() ? default_configs_dir() : options.configs_dir;
    for (HostSpec& h : s.hosts) {
      if (h.nic_profile.empty()) continue;
      const std::string key = "hosts." + h.name + ".nic.profile";
      h.nic_profile_path = resolve_nic_profile(h.nic_profile, base_dir, configs_dir);
      std::error_code ec;
      if (!std::filesystem::is_regular_file(h.nic_profile_path, ec)) {
        reader.error(ConfigErrorKind::kInvalidValue, reader.position_of(key), key,
                     "no NIC profile '" + h.nic_profile + "' (looked for " + h.nic_profile_path.string() +
                         "); allowed: a preset (" + preset_names(configs_dir) + ") or a path to a profile file");
        continue;
      }
      NicProfileResult p = load_nic_profile(h.nic_profile_path);
      if (!p) {
        reader.error(ConfigErrorKind::kInvalidValue, reader.position_of(key), key,
                     "the NIC profile " + h.nic_profile_path.string() + " has errors (listed below)");
        profile_errors.insert(profile_errors.end(), p.error().errors.begin(), p.error().errors.end());
        continue;
      }
      h.profile = std::move(*p);
    }
  }

  Checker checker(reader, s);
  checker.run();

  ConfigErrors errors = reader.take_errors();
  // Errors in values that came from --set: say so (a new key has no line; a replaced value has
  // its key's line in the file).
  for (ConfigError& e : errors.errors) {
    for (const Override& o : options.overrides) {
      if (e.key == o.key || e.key.rfind(o.key + ".", 0) == 0) {
        e.message += " (set by --set " + o.key + "=" + o.value + ")";
        break;
      }
    }
  }
  errors.errors.insert(errors.errors.end(), profile_errors.begin(), profile_errors.end());
  if (!errors.errors.empty()) return base::Unexpected{std::move(errors)};
  return s;
}

}  // namespace

ScenarioResult parse_scenario(std::string_view yaml_text, std::string_view source_name, const ScenarioOptions& options) {
  return parse_in(yaml_text, source_name, options, std::filesystem::path("."));
}

ScenarioResult load_scenario(const std::filesystem::path& path, const ScenarioOptions& options) {
  auto text = detail::read_config_file(path);
  if (!text) return base::Unexpected{text.error()};
  return parse_in(*text, path.string(), options, path.parent_path().empty() ? "." : path.parent_path());
}

}  // namespace nicemu::app
