// nicemu/nic/hw/steering.hpp — the NIC's flow steering: from a frame's bytes to an RX queue
// (or a drop), with the RSS hash the completion reports; and the ethtool-like configuration of
// RSS contexts, hash fields and ntuple rules with the kernel's checks and errno values.
//
// Models (one decision per frame, in this order):
//   1. parse with netstack/wire's parse_packet (checksums not verified: steering never looks at
//      them); frames that are not IPv4/IPv6 (ARP, other EtherTypes, L3 headers too short to
//      read) go to queue 0 with hash 0 and hash type none, as the default queue of NICs;
//   2. TCP/UDP over IPv4/IPv6 (not fragments) are looked up in the ntuple table; the matching
//      rule with the lowest location wins over RSS: action queue N → N; action -1 → drop;
//      context C [action N] → C's RSS choice (+ N: the original FLOW_RSS semantics, where the
//      rule's ring_cookie is added to the table entry; needs cap_rss_rxnfc_adds, else a nonzero
//      N is refused with -EINVAL as the kernel does);
//   3. otherwise RSS in the default context (0): the flow type's hash fields (tcp4/udp4/tcp6/
//      udp6; fragments, ICMP and other protocols use ip4/ip6) select the Toeplitz input; the
//      queue is indir[hash % size]. A flow type whose fields are "none" hashes nothing: hash 0,
//      type none, entry 0.
//   The reported hash: the hash of the context that chose the queue; for action-queue rules the
//   default context's hash (the parser computes it anyway and the stack still wants skb->hash);
//   none for drops and non-IP frames.
// Configuration mirrors the kernel's ethtool paths (net/ethtool/rss.c, ioctl.c) in their order:
//   set_rxfh: unknown context -ENOENT; empty table for a context -EINVAL ("can't reset table
//     for a context"); a table whose size does not divide the device's -EINVAL (a smaller table
//     is repeated); an entry >= the RX queue count -EINVAL ("entry %d: queue out of range");
//     key length != 40 -EINVAL. An empty table on context 0 is the default spread again.
//   create_rss_context: a requested id 0 or >= max contexts -ERANGE; then as set_rxfh (an empty
//     table given -ERANGE: the netlink policy's minimum length); id taken or none free -EBUSY;
//     ids from 1, lowest free first (xa_alloc). A new context spreads over all RX queues and
//     takes the device's key and the default hash fields.
//   remove_rss_context: id 0 -ERANGE; a rule still steering into it -EBUSY; unknown -ENOENT.
//   set_rx_flow_hash: bits outside RFH_MASK -EINVAL; unknown context -ENOENT; a flow type other
//     than tcp4/udp4/tcp6/udp6/ip4/ip6 -EINVAL; fields other than none, sd or sdfn -EINVAL;
//     sdfn for ip4/ip6 -EINVAL (bnxt's rules). Each context keeps its own fields
//     (rxfh_per_ctx_fields) and key (rxfh_per_ctx_key).
//   insert_ntuple_rule: context action with a nonzero queue offset and no cap_rss_rxnfc_adds
//     -EINVAL; unknown context -EINVAL; flow type other than tcp4/udp4/tcp6/udp6 -EINVAL; an
//     address of the wrong family -EINVAL; queue >= RX queue count -EINVAL (for a context: the
//     offset plus the table's largest entry); then the location (ntuple.hpp).
//   set_rx_queues: 0 or above the maximum -EINVAL; below what a table in use or a rule needs
//     -EINVAL (ethtool_check_max_channel: every context's table, the default one only when the
//     user set it); a default table the user never set is spread again over the new count.
//   nicemu also refuses a context table change that would send a rule's packets past the last
//   queue (-EINVAL); the kernel leaves that to the driver.
// Not modelled: aRFS (ndo_rx_flow_steer), hash function and input-transform selection (Toeplitz
//   only), per-queue counters (the RX rings count their packets), the netlink encoding.
// Counters: SteeringStats (device totals), RssContext::packets(), NtupleRuleInfo::hits. Reading
//   never changes them; lookup() decides without counting (for `nicemu steer`).
// References: net/ethtool/rss.c (ethnl_rss_set, ethnl_rss_create_doit, ethnl_rss_delete_doit),
//   net/ethtool/ioctl.c (ethtool_set_rxnfc, ethtool_set_rxfh), net/ethtool/common.c
//   (ethtool_check_max_channel, ethtool_check_rss_ctx_busy); include/linux/ethtool.h
//   (cap_rss_rxnfc_adds, rxfh_max_num_contexts); ../shared/reference/rss-toeplitz.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "nicemu/base/result.hpp"
#include "nicemu/netstack/wire/packet.hpp"
#include "nicemu/nic/hw/ntuple.hpp"
#include "nicemu/nic/hw/rss.hpp"
#include "nicemu/nic/hw/steering_types.hpp"

namespace nicemu::nic::hw {

struct SteeringConfig {
  std::uint32_t rx_queues = 1;           // RX queues in use at start (real_num_rx_queues)
  std::uint32_t max_rx_queues = 0;       // the device's maximum (ethtool -l "Pre-set"); 0: = rx_queues
  std::uint32_t indir_size = 128;        // entries of every indirection table (issue 4's default)
  RssKey key = kMicrosoftRssKey;         // the device key: context 0's and every new context's
  std::uint32_t max_rss_contexts = 32;   // kernel: rxfh_max_num_contexts — ids 1 .. max-1
  std::uint32_t ntuple_capacity = 1024;  // rule locations 0 .. capacity-1 (mlx5: 1024)
  bool rss_rxnfc_adds = true;            // kernel: cap_rss_rxnfc_adds (context rule + queue offset)
};

// What chose the queue.
enum class SteerSource : std::uint8_t {
  kNotIp,        // not IPv4/IPv6: queue 0
  kRss,          // the default context's table
  kRuleQueue,    // an ntuple rule with action queue
  kRuleContext,  // an ntuple rule with action context (that context's table, plus the offset)
  kRuleDrop,     // an ntuple rule with action drop
};
const char* to_string(SteerSource s);

struct SteeringDecision {
  SteerSource source = SteerSource::kNotIp;
  std::uint32_t queue = 0;
  bool drop = false;
  std::uint32_t rss_hash = 0;
  RssHashType hash_type = RssHashType::kNone;
  std::optional<std::uint32_t> rule{};         // the matched rule's location (= its id)
  std::uint32_t rss_context = 0;               // the context that hashed the packet
  std::optional<std::uint32_t> indir_index{};  // the table entry used (kRss, kRuleContext)
};

// Device totals, as a NIC's filter and RSS counters.
struct SteeringStats {
  std::uint64_t packets = 0;       // frames steered (dropped ones included)
  std::uint64_t ntuple_hits = 0;   // frames that matched a rule, whatever its action
  std::uint64_t ntuple_drops = 0;  // frames dropped by a rule with action -1
  std::uint64_t rss_l4 = 0;        // queue chosen by an RSS table, hash over addresses and ports
  std::uint64_t rss_l3 = 0;        // ... hash over addresses only
  std::uint64_t rss_none = 0;      // ... flow type hashing nothing (entry 0)
  std::uint64_t non_ip = 0;        // not IPv4/IPv6: queue 0
  std::uint64_t parse_errors = 0;  // frames the parser stopped on early (steered on what it read)
  friend bool operator==(const SteeringStats&, const SteeringStats&) = default;
};

// An `ethtool -X` request: absent fields are left as they are.
struct RxfhRequest {
  std::optional<std::vector<std::uint32_t>> indir{};  // empty: the default spread (context 0 only)
  std::optional<std::vector<std::uint8_t>> key{};     // kRssKeyLen bytes
};

class Steering {
 public:
  // Config errors (-EINVAL, with the field to fix): rx_queues 0 or above max_rx_queues,
  // indir_size 0 or above 65536, max_rss_contexts 0, ntuple_capacity 0.
  static base::Result<Steering, base::Error> create(const SteeringConfig& config);

  // ---- RX queues (ethtool -L) ----
  std::uint32_t rx_queues() const { return rx_queues_; }
  std::uint32_t max_rx_queues() const { return max_rx_queues_; }
  Status set_rx_queues(std::uint32_t n);

  // ---- RSS (ethtool -x / -X, rx-flow-hash) ----
  std::uint32_t indir_size() const { return indir_size_; }
  // nullptr for an id that names no context.
  const RssContext* rss_context(std::uint32_t id) const;
  std::vector<std::uint32_t> rss_context_ids() const;  // 0 first, then ascending
  Status set_rxfh(std::uint32_t context, const RxfhRequest& req);
  // `id`: the id asked for (netlink ETHTOOL_A_RSS_CONTEXT); none: the lowest free one.
  base::Result<std::uint32_t, base::Error> create_rss_context(const RxfhRequest& req,
                                                              std::optional<std::uint32_t> id = std::nullopt);
  Status remove_rss_context(std::uint32_t id);
  Status set_rx_flow_hash(std::uint32_t context, FlowType type, std::uint32_t fields);
  base::Result<std::uint32_t, base::Error> rx_flow_hash(std::uint32_t context, FlowType type) const;

  // ---- ntuple (ethtool -n / -N) ----
  // Returns the rule's location (its id). `replace`: a rule already at the location is replaced
  // (what mlx5 and ixgbe do) instead of -EEXIST.
  base::Result<std::uint32_t, base::Error> insert_ntuple_rule(const NtupleRule& rule, bool replace = false);
  Status delete_ntuple_rule(std::uint32_t location);
  const NtupleRuleInfo* ntuple_rule(std::uint32_t location) const { return ntuple_.find(location); }
  std::vector<NtupleRuleInfo> ntuple_rules() const { return ntuple_.list(); }
  std::uint32_t ntuple_capacity() const { return ntuple_.capacity(); }

  // ---- datapath (allocation-free) ----
  // The decision for a parsed frame, counting nothing.
  SteeringDecision lookup(const netstack::wire::ParsedPacket& p) const;
  // lookup() plus the counters.
  SteeringDecision steer(const netstack::wire::ParsedPacket& p);
  // Parses the frame (Ethernet onward, no FCS) and steers it.
  SteeringDecision steer(std::span<const std::byte> frame);

  const SteeringStats& stats() const { return stats_; }

 private:
  explicit Steering(const SteeringConfig& config);
  RssContext* context_mut(std::uint32_t id);
  // The highest queue a rule can reach with `n_rx_queues` queues (kernel:
  // ethtool_get_max_rxnfc_channel), if any rule steers to a queue.
  std::optional<std::uint64_t> max_rule_queue(std::uint32_t n_rx_queues) const;
  Status check_table_for_rules(std::uint32_t context, const std::vector<std::uint32_t>& table) const;
  // The validated table a request asks for (replicated to indir_size_), or none if it asks none.
  base::Result<std::optional<std::vector<std::uint32_t>>, base::Error> prep_indir(std::uint32_t context,
                                                                                  const RxfhRequest& req) const;
  void hash_in(const RssContext& ctx, const netstack::wire::ParsedPacket& p, bool has_ports, HashFlow flow,
               SteeringDecision& d) const;

  // lookup() through a memo of recent flows' decisions. lookup() depends on a frame's layer-3
  // and layer-4 kinds, addresses and ports and on the configuration only, and every method that
  // changes the configuration moves memo_gen_ (forgetting the memo), so the decisions are the
  // same; the simulator's speed only (a NIC computes them for every frame).
  SteeringDecision memo_lookup(const netstack::wire::ParsedPacket& p);
  struct MemoEntry {
    std::uint64_t gen = 0;  // memo_gen_ when stored; 0: empty
    netstack::wire::L3Kind l3{};
    netstack::wire::L4Kind l4{};
    std::uint16_t src_port = 0, dst_port = 0;
    std::array<std::uint8_t, 16> src_ip{}, dst_ip{};
    SteeringDecision decision{};
  };
  static constexpr std::size_t kMemoEntries = 64;
  std::array<MemoEntry, kMemoEntries> memo_{};
  std::uint64_t memo_gen_ = 1;

  std::uint32_t rx_queues_;
  std::uint32_t max_rx_queues_;
  std::uint32_t indir_size_;
  RssKey device_key_;
  std::uint32_t max_rss_contexts_;
  bool rss_rxnfc_adds_;
  RssContext default_context_;
  std::map<std::uint32_t, RssContext> contexts_;  // ids >= 1
  NtupleTable ntuple_;
  SteeringStats stats_;
};

}  // namespace nicemu::nic::hw
