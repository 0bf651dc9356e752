// nicemu/netstack/core/ethtool.hpp — ethtool-like configuration objects and driver ops.
//
// Models: the kernel objects behind `ethtool -l/-L` (struct ethtool_channels), `-g/-G`
//   (struct ethtool_ringparam + struct kernel_ethtool_ringparam: rx_buf_len, tcp_data_split,
//   hds_thresh, hds_thresh_max), `-c/-C` (struct ethtool_coalesce), `-x/-X` (RSS: key,
//   indirection table, contexts) and `-n/-N` (ntuple rules, struct ethtool_rx_flow_spec), and
//   struct ethtool_ops as the driver's table. The core's validation of each request lives in
//   ethtool_core.hpp (net/ethtool/{channels,rings,common}.c); drivers only apply.
// Not modelled: the netlink encoding; link modes, pause, FEC, EEPROM.
// References: include/uapi/linux/ethtool.h, include/linux/ethtool.h, net/ethtool/*.c;
//   ../shared/reference/linux-kernel-semantics.md §3.2, §7.6.
#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <vector>

namespace nicemu::netstack::core {

class NetDevice;

// kernel: ETHTOOL_TCP_DATA_SPLIT_* (same values).
enum class TcpDataSplit : std::uint8_t { kUnknown = 0, kDisabled = 1, kEnabled = 2 };

// kernel: ETHTOOL_RING_USE_* bits of ethtool_ops.supported_ring_params.
inline constexpr std::uint32_t kRingUseRxBufLen = 1u << 0;
inline constexpr std::uint32_t kRingUseTcpDataSplit = 1u << 5;
inline constexpr std::uint32_t kRingUseHdsThrs = 1u << 6;

struct EthtoolChannels {
  std::uint32_t max_rx = 0, max_tx = 0, max_other = 0, max_combined = 0;
  std::uint32_t rx_count = 0, tx_count = 0, other_count = 0, combined_count = 0;
  friend bool operator==(const EthtoolChannels&, const EthtoolChannels&) = default;
};

struct EthtoolRingParam {
  std::uint32_t rx_max_pending = 0, rx_pending = 0;
  std::uint32_t tx_max_pending = 0, tx_pending = 0;
  std::uint32_t rx_buf_len = 0;
  TcpDataSplit tcp_data_split = TcpDataSplit::kUnknown;
  std::uint32_t hds_thresh = 0;
  std::uint32_t hds_thresh_max = 0;
  friend bool operator==(const EthtoolRingParam&, const EthtoolRingParam&) = default;
};

struct EthtoolCoalesce {
  std::uint32_t rx_coalesce_usecs = 0;
  std::uint32_t rx_max_coalesced_frames = 0;
  std::uint32_t tx_coalesce_usecs = 0;
  std::uint32_t tx_max_coalesced_frames = 0;
  friend bool operator==(const EthtoolCoalesce&, const EthtoolCoalesce&) = default;
};

// RSS configuration of one context (0 = the default context).
struct EthtoolRss {
  std::uint32_t context = 0;
  std::vector<std::uint8_t> key;       // Toeplitz key (40 bytes on the NICs modelled)
  std::vector<std::uint32_t> indir;    // indirection table: entry -> queue
  friend bool operator==(const EthtoolRss&, const EthtoolRss&) = default;
};

// kernel: TCP_V4_FLOW, UDP_V4_FLOW, TCP_V6_FLOW, UDP_V6_FLOW.
enum class FlowType : std::uint8_t { kTcp4 = 0x01, kUdp4 = 0x02, kTcp6 = 0x05, kUdp6 = 0x06 };

// An ntuple rule (kernel: struct ethtool_rx_flow_spec). Addresses are 16 bytes in network order;
// IPv4 uses the first 4. Masks: set bits must match.
struct NtupleRule {
  FlowType flow_type = FlowType::kTcp4;
  std::array<std::uint8_t, 16> src_ip{}, src_ip_mask{};
  std::array<std::uint8_t, 16> dst_ip{}, dst_ip_mask{};
  std::uint16_t src_port = 0, src_port_mask = 0;
  std::uint16_t dst_port = 0, dst_port_mask = 0;
  // Action: a queue, drop (kernel: RX_CLS_FLOW_DISC), or an RSS context (FLOW_RSS).
  enum class Action : std::uint8_t { kQueue, kDrop, kRssContext } action = Action::kQueue;
  std::uint32_t queue = 0;
  std::uint32_t rss_context = 0;
  std::uint32_t location = 0;  // kernel: fs.location; the rule's id
  friend bool operator==(const NtupleRule&, const NtupleRule&) = default;
};

// The driver's ethtool table (kernel: struct ethtool_ops). The core validates first; a driver
// returns 0 or a negative errno for what only it can judge (e.g. a ring size it cannot do).
class EthtoolOps {
 public:
  virtual ~EthtoolOps() = default;
  virtual std::uint32_t supported_ring_params() const { return 0; }

  virtual void get_channels(const NetDevice& dev, EthtoolChannels& out) const = 0;
  virtual int set_channels(NetDevice& dev, const EthtoolChannels& req) = 0;
  virtual void get_ringparam(const NetDevice& dev, EthtoolRingParam& out) const = 0;
  virtual int set_ringparam(NetDevice& dev, const EthtoolRingParam& req) = 0;
  virtual int get_coalesce(const NetDevice&, EthtoolCoalesce&) const { return -EOPNOTSUPP; }
  virtual int set_coalesce(NetDevice&, const EthtoolCoalesce&) { return -EOPNOTSUPP; }
  virtual int get_rss(const NetDevice&, EthtoolRss&) const { return -EOPNOTSUPP; }
  virtual int set_rss(NetDevice&, const EthtoolRss&) { return -EOPNOTSUPP; }
  // Creates an RSS context; returns its id (> 0) or a negative errno.
  virtual int create_rss_context(NetDevice&, const EthtoolRss&) { return -EOPNOTSUPP; }
  virtual int remove_rss_context(NetDevice&, std::uint32_t) { return -EOPNOTSUPP; }
  virtual int get_ntuple_rules(const NetDevice&, std::vector<NtupleRule>&) const { return -EOPNOTSUPP; }
  // Inserts or replaces the rule at `rule.location`; returns the location or a negative errno.
  virtual int set_ntuple_rule(NetDevice&, const NtupleRule&) { return -EOPNOTSUPP; }
  virtual int del_ntuple_rule(NetDevice&, std::uint32_t) { return -EOPNOTSUPP; }
};

}  // namespace nicemu::netstack::core
