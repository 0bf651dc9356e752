// nicemu/nic/hw/ntuple.hpp — the NIC's ntuple (flow director) rule table: rules at locations,
// masked matches on addresses and ports, lowest location wins.
//
// Models: ethtool -N flow-type tcp4|udp4|tcp6|udp6 with src-ip/dst-ip/src-port/dst-port and
//   their masks (the kernel's struct ethtool_rx_flow_spec: a set mask bit must match, a zero
//   mask ignores the field), action N (a queue), action -1 (drop: RX_CLS_FLOW_DISC) or
//   context C [action N] (RSS inside context C, N added to the table entry); rule locations
//   0 .. capacity-1 where the location is the rule's id ("Added rule with ID N"), insert at a
//   given location or at a free one (RX_CLS_LOC_ANY / FIRST: the lowest free location,
//   RX_CLS_LOC_LAST: the highest), delete, list in location order (ethtool -n); per-rule hit
//   counters. Errors: location >= capacity -EINVAL, location taken -EEXIST (unless the caller
//   asks to replace), no free location -ENOSPC, unknown location on delete/get -ENOENT.
// Lookup: a TCAM matches all rules at once and takes the lowest location. nicemu groups rules by
//   (flow type, masks) and keeps one hash map per group keyed by the masked fields (tuple space
//   search), so a lookup costs one probe per distinct mask set, not one per rule; groups are
//   visited in order of their lowest location and the search stops once no group can beat the
//   best match. Allocation-free.
// Not modelled: flow types sctp4/ah4/esp4/ip4 user flows/ether (refused by Steering with
//   -EINVAL), TOS / traffic class, VLAN and MAC extensions (FLOW_EXT, FLOW_MAC_EXT), the
//   wake-on-LAN action (RX_CLS_FLOW_WAKE), user-defined data. Validation of actions against
//   queues and contexts is the Steering facade's (it knows both).
// Masks: this is the kernel's convention (1 = must match). ethtool's command line takes the
//   opposite ("m 0.0.0.255" = ignore the last octet) and inverts it before the ioctl.
// References: include/uapi/linux/ethtool.h (struct ethtool_rx_flow_spec, RX_CLS_LOC_*,
//   RX_CLS_FLOW_DISC); drivers/net/ethernet/mellanox/mlx5/core/en_fs_ethtool.c (rules by
//   location, -ENOENT on deleting an empty one); drivers/net/ethernet/intel/ixgbe/
//   ixgbe_ethtool.c ("Location out of range" -EINVAL); ethtool rxclass.c (special locations).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "nicemu/base/result.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/nic/hw/steering_types.hpp"

namespace nicemu::nic::hw {

// kernel: RX_CLS_LOC_ANY / RX_CLS_LOC_FIRST / RX_CLS_LOC_LAST (RX_CLS_LOC_SPECIAL set).
inline constexpr std::uint32_t kRxClsLocAny = 0xffffffffu;
inline constexpr std::uint32_t kRxClsLocFirst = 0xfffffffeu;
inline constexpr std::uint32_t kRxClsLocLast = 0xfffffffdu;

enum class NtupleAction : std::uint8_t {
  kQueue,       // ring_cookie = queue
  kDrop,        // ring_cookie = RX_CLS_FLOW_DISC (ethtool "action -1")
  kRssContext,  // FLOW_RSS + rss_context; ring_cookie = queue offset
};

struct NtupleRule {
  FlowType flow_type = FlowType::kTcpV4;
  // Values and masks. An address left without a family (IpAddress{}) is all zeros; a present
  // address must have the flow type's family. Ports in host order.
  netstack::wire::IpAddress src_ip{}, src_ip_mask{};
  netstack::wire::IpAddress dst_ip{}, dst_ip_mask{};
  std::uint16_t src_port = 0, src_port_mask = 0;
  std::uint16_t dst_port = 0, dst_port_mask = 0;

  NtupleAction action = NtupleAction::kQueue;
  std::uint32_t queue = 0;        // kQueue: the queue; kRssContext: added to the table entry
  std::uint32_t rss_context = 0;  // kRssContext: the context (0 = the default one)
  std::uint32_t location = kRxClsLocAny;

  friend bool operator==(const NtupleRule&, const NtupleRule&) = default;
};

struct NtupleRuleInfo {
  NtupleRule rule{};  // as stored: location resolved, values ANDed with their masks
  std::uint64_t hits = 0;
};

// What a packet offers to the rule table: its ntuple flow type and fields (addresses in the first
// 4 bytes for IPv4, the rest zero).
struct NtupleFlowKey {
  FlowType flow_type = FlowType::kTcpV4;
  std::array<std::uint8_t, 16> src_ip{};
  std::array<std::uint8_t, 16> dst_ip{};
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;

  friend bool operator==(const NtupleFlowKey&, const NtupleFlowKey&) = default;
};

class NtupleTable {
 public:
  // `capacity` locations, 0 .. capacity-1 (kernel: ETHTOOL_GRXCLSRLCNT's data). Asserts > 0.
  explicit NtupleTable(std::uint32_t capacity);
  NtupleTable(NtupleTable&&) = default;
  NtupleTable& operator=(NtupleTable&&) = default;
  NtupleTable(const NtupleTable&) = delete;
  NtupleTable& operator=(const NtupleTable&) = delete;

  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(entries_.size()); }

  // Where a rule asking for `location` would go: the location itself, or the free one a special
  // location picks. -EINVAL out of range, -EEXIST taken (unless `replace`), -ENOSPC full.
  base::Result<std::uint32_t, base::Error> resolve_location(std::uint32_t location, bool replace) const;
  // Stores the rule (already validated by the caller) at resolve_location(); returns the
  // location. Values are ANDed with their masks. A replaced rule's hit count restarts at 0.
  base::Result<std::uint32_t, base::Error> insert(const NtupleRule& rule, bool replace);
  // -EINVAL out of range, -ENOENT no rule there.
  Status erase(std::uint32_t location);
  // nullptr when the location holds no rule.
  const NtupleRuleInfo* find(std::uint32_t location) const;
  // Every rule in location order (ethtool -n).
  std::vector<NtupleRuleInfo> list() const;

  // ---- datapath ----
  // The matching rule with the lowest location, or nullptr. Allocation-free.
  const NtupleRuleInfo* match(const NtupleFlowKey& key) const;
  // Counts a hit on the rule at `location` (one match() returned).
  void count_hit(std::uint32_t location);

 private:
  struct KeyHash {
    std::size_t operator()(const NtupleFlowKey& k) const;
  };
  // Rules that share a flow type and masks; by masked key, their locations in ascending order.
  struct Group {
    NtupleFlowKey mask;  // flow_type holds the group's flow type
    std::unordered_map<NtupleFlowKey, std::vector<NtupleRuleInfo*>, KeyHash> by_key;
    std::uint32_t min_location = 0;
    std::uint32_t rules = 0;
  };

  static NtupleFlowKey key_of(const NtupleRule& r);
  static NtupleFlowKey mask_of(const NtupleRule& r);
  static NtupleFlowKey apply(const NtupleFlowKey& key, const NtupleFlowKey& mask);
  void index(NtupleRuleInfo* info);
  void unindex(NtupleRuleInfo* info);
  void sort_groups();

  std::uint32_t capacity_;
  std::map<std::uint32_t, NtupleRuleInfo> entries_;  // by location; node addresses are stable
  std::vector<Group> groups_;                        // ascending min_location
};

}  // namespace nicemu::nic::hw
