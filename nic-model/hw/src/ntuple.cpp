// The ntuple rule table: locations, masked keys, tuple-space lookup (see ntuple.hpp).
#include "nicemu/nic/hw/ntuple.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "nicemu/base/assert.hpp"
#include "nicemu/sim/random.hpp"

namespace nicemu::nic::hw {

namespace {

std::string location_range(std::uint32_t capacity) { return "0.." + std::to_string(capacity - 1); }

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  // One splitmix64 finalizer round over (h ^ v): every input bit reaches every output bit.
  return sim::splitmix64_mix(h ^ v);
}

}  // namespace

std::size_t NtupleTable::KeyHash::operator()(const NtupleFlowKey& k) const {
  std::uint64_t words[4];
  std::memcpy(&words[0], k.src_ip.data(), 16);
  std::memcpy(&words[2], k.dst_ip.data(), 16);
  std::uint64_t h = mix(static_cast<std::uint64_t>(k.flow_type), (std::uint64_t{k.src_port} << 16) | k.dst_port);
  for (const std::uint64_t w : words) h = mix(h, w);
  return static_cast<std::size_t>(h);
}

NtupleTable::NtupleTable(std::uint32_t capacity) : capacity_(capacity) {
  NICEMU_ASSERT(capacity > 0, "an ntuple table has at least one location");
}

NtupleFlowKey NtupleTable::key_of(const NtupleRule& r) {
  NtupleFlowKey k;
  k.flow_type = r.flow_type;
  k.src_ip = r.src_ip.bytes();
  k.dst_ip = r.dst_ip.bytes();
  k.src_port = r.src_port;
  k.dst_port = r.dst_port;
  return k;
}

NtupleFlowKey NtupleTable::mask_of(const NtupleRule& r) {
  NtupleFlowKey m;
  m.flow_type = r.flow_type;
  m.src_ip = r.src_ip_mask.bytes();
  m.dst_ip = r.dst_ip_mask.bytes();
  m.src_port = r.src_port_mask;
  m.dst_port = r.dst_port_mask;
  return m;
}

NtupleFlowKey NtupleTable::apply(const NtupleFlowKey& key, const NtupleFlowKey& mask) {
  NtupleFlowKey out;
  out.flow_type = key.flow_type;
  for (std::size_t i = 0; i < 16; ++i) {
    out.src_ip[i] = static_cast<std::uint8_t>(key.src_ip[i] & mask.src_ip[i]);
    out.dst_ip[i] = static_cast<std::uint8_t>(key.dst_ip[i] & mask.dst_ip[i]);
  }
  out.src_port = static_cast<std::uint16_t>(key.src_port & mask.src_port);
  out.dst_port = static_cast<std::uint16_t>(key.dst_port & mask.dst_port);
  return out;
}

base::Result<std::uint32_t, base::Error> NtupleTable::resolve_location(std::uint32_t location, bool replace) const {
  if (location == kRxClsLocAny || location == kRxClsLocFirst) {
    std::uint32_t candidate = 0;
    for (const auto& [loc, info] : entries_) {
      if (loc != candidate) break;
      ++candidate;
    }
    if (candidate < capacity_) return candidate;
    return base::Unexpected{base::Error{
        -ENOSPC, "no free rule location: all " + std::to_string(capacity_) + " are in use; delete a rule first"}};
  }
  if (location == kRxClsLocLast) {
    std::uint32_t candidate = capacity_ - 1;
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      if (it->first != candidate) break;
      if (candidate == 0) {
        return base::Unexpected{base::Error{
            -ENOSPC, "no free rule location: all " + std::to_string(capacity_) + " are in use; delete a rule first"}};
      }
      --candidate;
    }
    return candidate;
  }
  if (location >= capacity_) {
    return base::Unexpected{base::Error{
        -EINVAL, "Location out of range: " + std::to_string(location) + " is not in " + location_range(capacity_)}};
  }
  if (!replace && entries_.count(location) != 0) {
    return base::Unexpected{base::Error{-EEXIST, "location " + std::to_string(location) +
                                                     " already holds a rule; delete it first or pick another loc"}};
  }
  return location;
}

base::Result<std::uint32_t, base::Error> NtupleTable::insert(const NtupleRule& rule, bool replace) {
  auto where = resolve_location(rule.location, replace);
  if (!where) return where;
  const std::uint32_t loc = where.value();
  if (auto old = entries_.find(loc); old != entries_.end()) {
    unindex(&old->second);
    entries_.erase(old);
  }
  NtupleRuleInfo info;
  info.rule = rule;
  info.rule.location = loc;
  // Store what the hardware compares: values under their masks (the mask bytes keep the
  // family of the value so that a listed rule reads back as it was given).
  const NtupleFlowKey masked = apply(key_of(rule), mask_of(rule));
  auto put_address = [](netstack::wire::IpAddress& a, const std::array<std::uint8_t, 16>& bytes) {
    if (a.is_v4()) a = netstack::wire::Ipv4Address{{bytes[0], bytes[1], bytes[2], bytes[3]}};
    if (a.is_v6()) a = netstack::wire::Ipv6Address{bytes};
  };
  put_address(info.rule.src_ip, masked.src_ip);
  put_address(info.rule.dst_ip, masked.dst_ip);
  info.rule.src_port = masked.src_port;
  info.rule.dst_port = masked.dst_port;
  auto [it, inserted] = entries_.emplace(loc, info);
  NICEMU_ASSERT(inserted, "a resolved rule location is free");
  index(&it->second);
  return loc;
}

Status NtupleTable::erase(std::uint32_t location) {
  if (location >= capacity_) {
    return Status::error(
        -EINVAL, "Location out of range: " + std::to_string(location) + " is not in " + location_range(capacity_));
  }
  auto it = entries_.find(location);
  if (it == entries_.end()) return Status::error(-ENOENT, "no rule at location " + std::to_string(location));
  unindex(&it->second);
  entries_.erase(it);
  return Status::success();
}

const NtupleRuleInfo* NtupleTable::find(std::uint32_t location) const {
  auto it = entries_.find(location);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<NtupleRuleInfo> NtupleTable::list() const {
  std::vector<NtupleRuleInfo> out;
  out.reserve(entries_.size());
  for (const auto& [loc, info] : entries_) out.push_back(info);
  return out;
}

void NtupleTable::count_hit(std::uint32_t location) {
  auto it = entries_.find(location);
  NICEMU_ASSERT(it != entries_.end(), "a hit is counted on a rule that exists");
  ++it->second.hits;
}

void NtupleTable::index(NtupleRuleInfo* info) {
  const NtupleFlowKey mask = mask_of(info->rule);
  auto g = std::find_if(groups_.begin(), groups_.end(), [&](const Group& x) { return x.mask == mask; });
  if (g == groups_.end()) {
    groups_.push_back(Group{});
    g = groups_.end() - 1;
    g->mask = mask;
    g->min_location = info->rule.location;
  }
  std::vector<NtupleRuleInfo*>& same = g->by_key[apply(key_of(info->rule), mask)];
  auto pos = std::lower_bound(same.begin(), same.end(), info->rule.location,
                              [](const NtupleRuleInfo* a, std::uint32_t loc) { return a->rule.location < loc; });
  same.insert(pos, info);
  ++g->rules;
  g->min_location = std::min(g->min_location, info->rule.location);
  sort_groups();
}

void NtupleTable::unindex(NtupleRuleInfo* info) {
  const NtupleFlowKey mask = mask_of(info->rule);
  auto g = std::find_if(groups_.begin(), groups_.end(), [&](const Group& x) { return x.mask == mask; });
  NICEMU_ASSERT(g != groups_.end(), "an indexed rule has a group");
  auto k = g->by_key.find(apply(key_of(info->rule), mask));
  NICEMU_ASSERT(k != g->by_key.end(), "an indexed rule is under its masked key");
  auto& same = k->second;
  same.erase(std::remove(same.begin(), same.end(), info), same.end());
  if (same.empty()) g->by_key.erase(k);
  if (--g->rules == 0) {
    groups_.erase(g);
    return;
  }
  g->min_location = capacity_;
  for (const auto& [key, locs] : g->by_key) g->min_location = std::min(g->min_location, locs.front()->rule.location);
  sort_groups();
}

void NtupleTable::sort_groups() {
  std::sort(groups_.begin(), groups_.end(),
            [](const Group& a, const Group& b) { return a.min_location < b.min_location; });
}

const NtupleRuleInfo* NtupleTable::match(const NtupleFlowKey& key) const {
  const NtupleRuleInfo* best = nullptr;
  for (const Group& g : groups_) {
    if (best != nullptr && g.min_location > best->rule.location) break;  // no later group can win
    if (g.mask.flow_type != key.flow_type) continue;
    auto it = g.by_key.find(apply(key, g.mask));
    if (it == g.by_key.end()) continue;
    const NtupleRuleInfo* candidate = it->second.front();
    if (best == nullptr || candidate->rule.location < best->rule.location) best = candidate;
  }
  return best;
}

}  // namespace nicemu::nic::hw
