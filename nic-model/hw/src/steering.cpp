// Flow steering: the per-frame decision and the ethtool-like configuration (see steering.hpp).
#include "nicemu/nic/hw/steering.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>

#include "nicemu/base/assert.hpp"

namespace nicemu::nic::hw {

namespace wire = netstack::wire;

// ---- names ---------------------------------------------------------------------------------------

std::string to_string(FlowType t) {
  switch (t) {
    case FlowType::kTcpV4:
      return "tcp4";
    case FlowType::kUdpV4:
      return "udp4";
    case FlowType::kSctpV4:
      return "sctp4";
    case FlowType::kAhEspV4:
      return "ah_esp4";
    case FlowType::kTcpV6:
      return "tcp6";
    case FlowType::kUdpV6:
      return "udp6";
    case FlowType::kSctpV6:
      return "sctp6";
    case FlowType::kAhEspV6:
      return "ah_esp6";
    case FlowType::kAhV4:
      return "ah4";
    case FlowType::kEspV4:
      return "esp4";
    case FlowType::kAhV6:
      return "ah6";
    case FlowType::kEspV6:
      return "esp6";
    case FlowType::kIpUserV4:
      return "ip4 (user flow)";
    case FlowType::kIpUserV6:
      return "ip6 (user flow)";
    case FlowType::kIpV4:
      return "ip4";
    case FlowType::kIpV6:
      return "ip6";
    case FlowType::kEther:
      return "ether";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "flow-type 0x%x", static_cast<unsigned>(t));
  return buf;
}

std::string rxh_to_string(std::uint32_t fields) {
  // ethtool's letters in its order (ethtool.c parse_rxfhashopts / print_rxfhashopts).
  static constexpr struct {
    std::uint32_t bit;
    char letter;
  } kLetters[] = {{kRxhL2Da, 'm'},  {kRxhVlan, 'v'},  {kRxhL3Proto, 't'}, {kRxhIpSrc, 's'}, {kRxhIpDst, 'd'},
                  {kRxhL4B01, 'f'}, {kRxhL4B23, 'n'}, {kRxhGtpTeid, 'e'}, {kRxhIp6Fl, 'l'}, {kRxhDiscard, 'r'}};
  std::string s;
  for (const auto& l : kLetters) {
    if ((fields & l.bit) != 0) s += l.letter;
  }
  return s;
}

const char* to_string(SteerSource s) {
  switch (s) {
    case SteerSource::kNotIp:
      return "not-ip";
    case SteerSource::kRss:
      return "rss";
    case SteerSource::kRuleQueue:
      return "rule-queue";
    case SteerSource::kRuleContext:
      return "rule-context";
    case SteerSource::kRuleDrop:
      return "rule-drop";
  }
  return "?";
}

namespace {

std::string str(std::uint32_t v) { return std::to_string(v); }

base::Unexpected<base::Error> fail(int code, std::string message) {
  return base::Unexpected{base::Error{code, std::move(message)}};
}

bool is_v6_flow(FlowType t) {
  switch (t) {
    case FlowType::kTcpV6:
    case FlowType::kUdpV6:
    case FlowType::kSctpV6:
    case FlowType::kAhEspV6:
    case FlowType::kAhV6:
    case FlowType::kEspV6:
    case FlowType::kIpUserV6:
    case FlowType::kIpV6:
      return true;
    default:
      return false;
  }
}

// An ntuple address (value or mask) is either absent or of the rule's family.
bool family_fits(const wire::IpAddress& a, bool v6) { return a.version() == wire::IpVersion::kNone || a.is_v6() == v6; }

}  // namespace

// ---- construction ----------------------------------------------------------------------------------

base::Result<Steering, base::Error> Steering::create(const SteeringConfig& config) {
  const std::uint32_t max_q = config.max_rx_queues == 0 ? config.rx_queues : config.max_rx_queues;
  if (config.rx_queues == 0) return fail(-EINVAL, "rx_queues must be at least 1");
  if (config.rx_queues > max_q) {
    return fail(-EINVAL, "rx_queues (" + str(config.rx_queues) + ") exceeds max_rx_queues (" + str(max_q) + ")");
  }
  if (config.indir_size == 0 || config.indir_size > 65536) {
    return fail(-EINVAL, "indir_size must be 1..65536 (got " + str(config.indir_size) + ")");
  }
  if (config.max_rss_contexts == 0) return fail(-EINVAL, "max_rss_contexts must be at least 1 (the default context)");
  if (config.ntuple_capacity == 0) return fail(-EINVAL, "ntuple_capacity must be at least 1");
  return Steering(config);
}

Steering::Steering(const SteeringConfig& config)
    : rx_queues_(config.rx_queues),
      max_rx_queues_(config.max_rx_queues == 0 ? config.rx_queues : config.max_rx_queues),
      indir_size_(config.indir_size),
      device_key_(config.key),
      max_rss_contexts_(config.max_rss_contexts),
      rss_rxnfc_adds_(config.rss_rxnfc_adds),
      default_context_(config.key, ethtool_indir_default(config.indir_size, config.rx_queues), false),
      ntuple_(config.ntuple_capacity) {}

const RssContext* Steering::rss_context(std::uint32_t id) const {
  if (id == 0) return &default_context_;
  auto it = contexts_.find(id);
  return it == contexts_.end() ? nullptr : &it->second;
}

RssContext* Steering::context_mut(std::uint32_t id) {
  if (id == 0) return &default_context_;
  auto it = contexts_.find(id);
  return it == contexts_.end() ? nullptr : &it->second;
}

std::vector<std::uint32_t> Steering::rss_context_ids() const {
  std::vector<std::uint32_t> ids{0};
  for (const auto& [id, ctx] : contexts_) ids.push_back(id);
  return ids;
}

// ---- RX queues -------------------------------------------------------------------------------------

std::optional<std::uint64_t> Steering::max_rule_queue(std::uint32_t n_rx_queues) const {
  std::optional<std::uint64_t> max;
  for (const NtupleRuleInfo& info : ntuple_.list()) {
    const NtupleRule& r = info.rule;
    std::uint64_t q = r.queue;
    if (r.action == NtupleAction::kDrop) continue;
    if (r.action == NtupleAction::kRssContext) {
      // A default table the user never set is spread again over the new count.
      const bool respread = r.rss_context == 0 && !default_context_.indir_configured();
      q += respread ? n_rx_queues - 1 : rss_context(r.rss_context)->max_queue_in_table();
    }
    max = std::max(max.value_or(0), q);
  }
  return max;
}

Status Steering::set_rx_queues(std::uint32_t n) {
  ++memo_gen_;  // the configuration may change
  if (n == 0) {
    return Status::error(-EINVAL, "requested channel counts would result in no RX or TX channel being configured");
  }
  if (n > max_rx_queues_) {
    return Status::error(-EINVAL, "requested channel count exceeds maximum (" + str(max_rx_queues_) + ")");
  }
  // ethtool_check_max_channel(): every context's table, the default one only if the user set it.
  std::optional<std::uint32_t> max_rxfh;
  for (const auto& [id, ctx] : contexts_) max_rxfh = std::max(max_rxfh.value_or(0), ctx.max_queue_in_table());
  if (default_context_.indir_configured()) {
    max_rxfh = std::max(max_rxfh.value_or(0), default_context_.max_queue_in_table());
  }
  if (max_rxfh && n <= *max_rxfh) {
    return Status::error(
        -EINVAL, "requested channel counts are too low for existing indirection table (" + str(*max_rxfh) + ")");
  }
  if (const auto max_rule = max_rule_queue(n); max_rule && n <= *max_rule) {
    return Status::error(-EINVAL, "requested channel counts are too low for existing ntuple filter settings");
  }
  rx_queues_ = n;
  if (!default_context_.indir_configured()) default_context_.set_indir(ethtool_indir_default(indir_size_, n), false);
  return Status::success();
}

// ---- RSS ----------------------------------------------------------------------------------------------

base::Result<std::optional<std::vector<std::uint32_t>>, base::Error> Steering::prep_indir(
    std::uint32_t context, const RxfhRequest& req) const {
  using Table = std::optional<std::vector<std::uint32_t>>;
  if (!req.indir) return Table{};
  const std::vector<std::uint32_t>& user = *req.indir;
  if (user.empty()) {
    if (context != 0) return fail(-EINVAL, "can't reset table for a context");
    return Table{ethtool_indir_default(indir_size_, rx_queues_)};
  }
  if (indir_size_ % user.size() != 0) {
    return fail(-EINVAL, "size (" + std::to_string(user.size()) + ") mismatch with device indir table (" +
                             str(indir_size_) + ")");
  }
  for (std::size_t i = 0; i < user.size(); ++i) {
    if (user[i] >= rx_queues_) {
      return fail(-EINVAL, "entry " + std::to_string(i) + ": queue out of range (" + str(user[i]) + ")");
    }
  }
  std::vector<std::uint32_t> table(indir_size_);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = user[i % user.size()];  // repeat a smaller table
  return Table{std::move(table)};
}

Status Steering::check_table_for_rules(std::uint32_t context, const std::vector<std::uint32_t>& table) const {
  const std::uint32_t max_entry = *std::max_element(table.begin(), table.end());
  for (const NtupleRuleInfo& info : ntuple_.list()) {
    const NtupleRule& r = info.rule;
    if (r.action != NtupleAction::kRssContext || r.rss_context != context) continue;
    const std::uint64_t top = std::uint64_t{r.queue} + max_entry;
    if (top >= rx_queues_) {
      return Status::error(-EINVAL, "rule " + str(r.location) + " adds " + str(r.queue) +
                                        " to this context's entries: queue " + std::to_string(top) +
                                        " would be out of range; change or delete the rule first");
    }
  }
  return Status::success();
}

Status Steering::set_rxfh(std::uint32_t context, const RxfhRequest& req) {
  ++memo_gen_;  // the configuration may change
  RssContext* ctx = context_mut(context);
  if (ctx == nullptr) return Status::error(-ENOENT, "no RSS context " + str(context));
  auto table = prep_indir(context, req);
  if (!table) return Status::error(table.error().code, table.error().message);
  if (req.key && req.key->size() != kRssKeyLen) {
    return Status::error(-EINVAL,
                         "hkey: the key is " + str(kRssKeyLen) + " bytes, not " + std::to_string(req.key->size()));
  }
  if (table.value()) {
    Status s = check_table_for_rules(context, *table.value());
    if (!s.ok()) return s;
  }
  if (table.value()) {
    const bool configured = !req.indir->empty();  // an empty table is "ethtool -X default"
    ctx->set_indir(std::move(*table.value()), configured);
  }
  if (req.key) {
    RssKey key{};
    std::copy(req.key->begin(), req.key->end(), key.begin());
    ctx->set_key(key);
  }
  return Status::success();
}

base::Result<std::uint32_t, base::Error> Steering::create_rss_context(const RxfhRequest& req,
                                                                      std::optional<std::uint32_t> id) {
  ++memo_gen_;  // the configuration may change
  if (id && (*id == 0 || *id >= max_rss_contexts_)) {
    return fail(-ERANGE, "context: id " + str(*id) + " is outside 1.." + str(max_rss_contexts_ - 1));
  }
  if (req.indir && req.indir->empty()) return fail(-ERANGE, "indir: binary attribute size out of range");
  auto table = prep_indir(0, req);
  if (!table) return base::Unexpected{table.error()};
  if (req.key && req.key->size() != kRssKeyLen) {
    return fail(-EINVAL, "hkey: the key is " + str(kRssKeyLen) + " bytes, not " + std::to_string(req.key->size()));
  }
  std::uint32_t new_id = 0;
  if (id) {
    if (contexts_.count(*id) != 0) return fail(-EBUSY, "error allocating context ID: " + str(*id) + " is in use");
    new_id = *id;
  } else {
    new_id = 1;
    for (const auto& [used, ctx] : contexts_) {
      if (used != new_id) break;
      ++new_id;
    }
    if (new_id >= max_rss_contexts_) {
      return fail(-EBUSY, "error allocating context ID: all " + str(max_rss_contexts_ - 1) + " are in use");
    }
  }
  const bool configured = table.value().has_value();
  std::vector<std::uint32_t> indir =
      configured ? std::move(*table.value()) : ethtool_indir_default(indir_size_, rx_queues_);
  RssContext ctx(device_key_, std::move(indir), configured);
  if (req.key) {
    RssKey key{};
    std::copy(req.key->begin(), req.key->end(), key.begin());
    ctx.set_key(key);
  }
  contexts_.emplace(new_id, std::move(ctx));
  return new_id;
}

Status Steering::remove_rss_context(std::uint32_t id) {
  ++memo_gen_;  // the configuration may change
  if (id == 0) return Status::error(-ERANGE, "context: the default context (0) cannot be deleted");
  for (const NtupleRuleInfo& info : ntuple_.list()) {
    if (info.rule.action == NtupleAction::kRssContext && info.rule.rss_context == id) {
      return Status::error(
          -EBUSY, "rule " + str(info.rule.location) + " steers into context " + str(id) + "; delete the rule first");
    }
  }
  if (contexts_.erase(id) == 0) return Status::error(-ENOENT, "no RSS context " + str(id));
  return Status::success();
}

Status Steering::set_rx_flow_hash(std::uint32_t context, FlowType type, std::uint32_t fields) {
  ++memo_gen_;  // the configuration may change
  const std::uint32_t known = is_v6_flow(type) ? kRxhKnownMaskV6 : kRxhKnownMask;
  if ((fields & ~known) != 0) return Status::error(-EINVAL, "rx-flow-hash: unknown field bits");
  RssContext* ctx = context_mut(context);
  if (ctx == nullptr) return Status::error(-ENOENT, "no RSS context " + str(context));
  HashFlow flow{};
  if (!hash_flow_of(type, &flow)) {
    return Status::error(-EINVAL,
                         "rx-flow-hash: the NIC hashes tcp4, udp4, ip4, tcp6, udp6 and ip6, not " + to_string(type));
  }
  if (fields != 0 && fields != kRxh2Tuple && fields != kRxh4Tuple) {
    return Status::error(-EINVAL,
                         "rx-flow-hash: the NIC hashes sd, sdfn or nothing, not \"" + rxh_to_string(fields) + "\"");
  }
  if (fields == kRxh4Tuple && (flow == HashFlow::kIp4 || flow == HashFlow::kIp6)) {
    return Status::error(-EINVAL, "rx-flow-hash: " + to_string(type) + " has no ports: use sd");
  }
  ctx->set_rx_flow_hash(flow, fields);
  return Status::success();
}

base::Result<std::uint32_t, base::Error> Steering::rx_flow_hash(std::uint32_t context, FlowType type) const {
  const RssContext* ctx = rss_context(context);
  if (ctx == nullptr) return fail(-ENOENT, "no RSS context " + str(context));
  HashFlow flow{};
  if (!hash_flow_of(type, &flow)) return fail(-EINVAL, "rx-flow-hash: not hashed: " + to_string(type));
  return ctx->rx_flow_hash(flow);
}

// ---- ntuple ---------------------------------------------------------------------------------------------

base::Result<std::uint32_t, base::Error> Steering::insert_ntuple_rule(const NtupleRule& rule, bool replace) {
  ++memo_gen_;  // the configuration may change
  // net/ethtool/ioctl.c ethtool_set_rxnfc(): the core's FLOW_RSS checks come first.
  if (rule.action == NtupleAction::kRssContext) {
    if (!rss_rxnfc_adds_ && rule.queue != 0) {
      return fail(-EINVAL, "a queue offset with context needs a NIC that adds them (cap_rss_rxnfc_adds)");
    }
    if (rss_context(rule.rss_context) == nullptr) return fail(-EINVAL, "no RSS context " + str(rule.rss_context));
  }
  bool v6 = false;
  switch (rule.flow_type) {
    case FlowType::kTcpV4:
    case FlowType::kUdpV4:
      break;
    case FlowType::kTcpV6:
    case FlowType::kUdpV6:
      v6 = true;
      break;
    default:
      return fail(-EINVAL,
                  "flow-type " + to_string(rule.flow_type) + " is not supported: use tcp4, udp4, tcp6 or udp6");
  }
  if (!family_fits(rule.src_ip, v6) || !family_fits(rule.src_ip_mask, v6) || !family_fits(rule.dst_ip, v6) ||
      !family_fits(rule.dst_ip_mask, v6)) {
    return fail(-EINVAL, "an address of the wrong family for flow-type " + to_string(rule.flow_type));
  }
  switch (rule.action) {
    case NtupleAction::kQueue:
      if (rule.queue >= rx_queues_) {
        return fail(-EINVAL, "action " + str(rule.queue) + ": queue out of range (" + str(rx_queues_) + " RX queues)");
      }
      break;
    case NtupleAction::kRssContext: {
      const std::uint64_t top = std::uint64_t{rule.queue} + rss_context(rule.rss_context)->max_queue_in_table();
      if (top >= rx_queues_) {
        return fail(-EINVAL, "context " + str(rule.rss_context) + " action " + str(rule.queue) + " reaches queue " +
                                 std::to_string(top) + ", out of range (" + str(rx_queues_) + " RX queues)");
      }
      break;
    }
    case NtupleAction::kDrop:
      break;
  }
  return ntuple_.insert(rule, replace);
}

Status Steering::delete_ntuple_rule(std::uint32_t location) {
  ++memo_gen_;  // the configuration may change
  return ntuple_.erase(location);
}

// ---- datapath ---------------------------------------------------------------------------------------------

void Steering::hash_in(const RssContext& ctx, const wire::ParsedPacket& p, bool has_ports, HashFlow flow,
                       SteeringDecision& d) const {
  const std::uint32_t fields = ctx.rx_flow_hash(flow);
  if (fields == kRxh4Tuple && has_ports) {
    d.rss_hash = ctx.hash(hash_input(p.src_ip, p.dst_ip, p.src_port, p.dst_port).span());
    d.hash_type = RssHashType::kL4;
  } else if (fields != 0) {
    d.rss_hash = ctx.hash(hash_input(p.src_ip, p.dst_ip).span());
    d.hash_type = RssHashType::kL3;
  } else {
    d.rss_hash = 0;
    d.hash_type = RssHashType::kNone;
  }
}

SteeringDecision Steering::lookup(const wire::ParsedPacket& p) const {
  SteeringDecision d;
  if (p.l3 != wire::L3Kind::kIpv4 && p.l3 != wire::L3Kind::kIpv6) return d;  // kNotIp: queue 0, no hash

  const bool v6 = p.l3 == wire::L3Kind::kIpv6;
  const bool tcp = p.l4 == wire::L4Kind::kTcp;
  const bool udp = p.l4 == wire::L4Kind::kUdp;
  HashFlow flow = v6 ? HashFlow::kIp6 : HashFlow::kIp4;
  if (tcp) flow = v6 ? HashFlow::kTcp6 : HashFlow::kTcp4;
  if (udp) flow = v6 ? HashFlow::kUdp6 : HashFlow::kUdp4;

  if ((tcp || udp) && ntuple_.size() != 0) {
    NtupleFlowKey key;
    key.flow_type = tcp ? (v6 ? FlowType::kTcpV6 : FlowType::kTcpV4) : (v6 ? FlowType::kUdpV6 : FlowType::kUdpV4);
    key.src_ip = p.src_ip.bytes();
    key.dst_ip = p.dst_ip.bytes();
    key.src_port = p.src_port;
    key.dst_port = p.dst_port;
    if (const NtupleRuleInfo* hit = ntuple_.match(key)) {
      const NtupleRule& r = hit->rule;
      d.rule = r.location;
      switch (r.action) {
        case NtupleAction::kDrop:
          d.source = SteerSource::kRuleDrop;
          d.drop = true;
          return d;
        case NtupleAction::kQueue:
          d.source = SteerSource::kRuleQueue;
          d.queue = r.queue;
          hash_in(default_context_, p, true, flow, d);
          return d;
        case NtupleAction::kRssContext: {
          const RssContext* ctx = rss_context(r.rss_context);
          NICEMU_ASSERT(ctx != nullptr, "a rule steers into a context that exists (deletion is refused while used)");
          d.source = SteerSource::kRuleContext;
          d.rss_context = r.rss_context;
          hash_in(*ctx, p, true, flow, d);
          d.indir_index = ctx->indir_index(d.rss_hash);
          d.queue = r.queue + ctx->queue_at(*d.indir_index);
          return d;
        }
      }
    }
  }

  d.source = SteerSource::kRss;
  hash_in(default_context_, p, tcp || udp, flow, d);
  d.indir_index = default_context_.indir_index(d.rss_hash);
  d.queue = default_context_.queue_at(*d.indir_index);
  return d;
}

SteeringDecision Steering::memo_lookup(const wire::ParsedPacket& p) {
  if (p.l3 != wire::L3Kind::kIpv4 && p.l3 != wire::L3Kind::kIpv6) return lookup(p);
  const std::array<std::uint8_t, 16>& src = p.src_ip.bytes();
  const std::array<std::uint8_t, 16>& dst = p.dst_ip.bytes();
  // The slot: a multiplicative hash of the ports and the addresses' last bytes.
  const std::uint32_t h = (std::uint32_t{p.src_port} << 16 | p.dst_port) * 0x9e3779b1u ^
                          (std::uint32_t{src[15]} << 8 | dst[15]) * 0x85ebca6bu;
  MemoEntry& e = memo_[(h >> 26) % kMemoEntries];
  if (e.gen == memo_gen_ && e.l3 == p.l3 && e.l4 == p.l4 && e.src_port == p.src_port && e.dst_port == p.dst_port &&
      e.src_ip == src && e.dst_ip == dst) {
    return e.decision;
  }
  e = MemoEntry{memo_gen_, p.l3, p.l4, p.src_port, p.dst_port, src, dst, lookup(p)};
  return e.decision;
}

SteeringDecision Steering::steer(const wire::ParsedPacket& p) {
  const SteeringDecision d = memo_lookup(p);
  ++stats_.packets;
  if (!p.ok()) ++stats_.parse_errors;
  if (d.rule) {
    ++stats_.ntuple_hits;
    ntuple_.count_hit(*d.rule);
  }
  switch (d.source) {
    case SteerSource::kNotIp:
      ++stats_.non_ip;
      return d;
    case SteerSource::kRuleDrop:
      ++stats_.ntuple_drops;
      return d;
    case SteerSource::kRuleQueue:
      return d;
    case SteerSource::kRss:
    case SteerSource::kRuleContext:
      context_mut(d.rss_context)->count_packet();
      if (d.hash_type == RssHashType::kL4) ++stats_.rss_l4;
      if (d.hash_type == RssHashType::kL3) ++stats_.rss_l3;
      if (d.hash_type == RssHashType::kNone) ++stats_.rss_none;
      return d;
  }
  return d;
}

SteeringDecision Steering::steer(std::span<const std::byte> frame) {
  return steer(wire::parse_packet(frame, wire::ChecksumCaps::offloaded()));
}

}  // namespace nicemu::nic::hw
