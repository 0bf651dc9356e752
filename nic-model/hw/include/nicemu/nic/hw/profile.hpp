// nicemu/nic/hw/profile.hpp — a NIC profile: the limits, defaults, costs and quirks that make one
// emulated NIC behave like a GVE-DQO, a Broadcom Thor or a ConnectX (configs/nics/*.yaml).
//
// Models: what a driver reports through ethtool (channel maxima and defaults, ring limits,
//   rx-buf-len, tcp-data-split and hds-thresh, coalescing defaults, max MTU, TSO limits), how the
//   silicon places frames that do not qualify for header split, descriptor and completion entry
//   sizes (they cost PCIe time), the per-stage cost model (a NIC clock and cycles per stage per
//   packet or descriptor), the PCIe path to host memory and optionally the peer-to-peer path to
//   device memory behind a PCIe switch, and the driver's queue-restart quirks (netdevsim-like
//   restart modes 0-3, how much of the device a single-queue restart stops, firmware latency).
// Not modelled: per-queue differences (every queue of a profile is the same), TX coalescing,
//   adaptive moderation (DIM), link speeds (a property of the link, link.hpp), RSS table sizes
//   and key lengths (steering, rss.hpp).
// Validation: validate_nic_profile() checks every field against its documented range and the
//   fields against each other, returning every problem with the field's dotted key (as in the
//   YAML files) and a message that says what is allowed. A profile that validates is safe to
//   build a NIC from; code that takes a profile asserts that it validates.
// References: include/linux/ethtool.h (struct ethtool_channels, ethtool_ringparam,
//   kernel_ethtool_ringparam: rx_buf_len, tcp_data_split, hds_thresh, hds_thresh_max;
//   ethtool_coalesce: rx_coalesce_usecs, rx_max_coalesced_frames); drivers/net/netdevsim/
//   netdev.c (queue reset modes 0-3); ../shared/reference/linux-kernel-semantics.md §6.2, §6.6;
//   each preset file cites its own sources.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nicemu/nic/hw/field_error.hpp"
#include "nicemu/nic/hw/header_split.hpp"
#include "nicemu/nic/hw/pcie.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::nic::hw {

// ethtool -l: counts of RX-only, TX-only and combined channels.
struct ChannelCounts {
  std::uint32_t rx = 0;
  std::uint32_t tx = 0;
  std::uint32_t combined = 0;
};

// ethtool -g for one ring kind: descriptors per ring.
struct RingLimits {
  std::uint32_t min = 0;
  std::uint32_t max = 0;
  std::uint32_t default_size = 0;
};

// Cycles of the NIC clock each pipeline stage holds per unit of work (its initiation interval).
struct StageCycles {
  std::uint32_t parse = 0;              // per frame: L2-L4 parse
  std::uint32_t steer = 0;              // per frame: ntuple lookup / RSS hash and table
  std::uint32_t dma_setup = 0;          // per frame: buffer pick, DMA descriptor build
  std::uint32_t completion = 0;         // per frame: completion entry build
  std::uint32_t tx_per_descriptor = 0;  // per TX descriptor processed
};

// How much of the device stops while one RX queue restarts (queue mgmt ops start/stop).
enum class RestartScope : std::uint8_t {
  kQueue,      // only the restarted queue
  kAllQueues,  // every queue pauses for the restart (the driver quiesces the whole datapath)
  kDevice,     // the whole device resets (close + open) instead of one queue
};
const char* to_string(RestartScope s);

struct NicProfile {
  std::string name;         // e.g. "gve-dqo"
  std::string description;  // one line, free text

  struct Channels {
    std::uint32_t max_queues = 0;  // queue objects per direction the device has
    ChannelCounts max;             // ethtool max_rx / max_tx / max_combined
    ChannelCounts defaults;        // counts at probe
  } channels;

  struct Rings {
    RingLimits rx;
    RingLimits tx;
    std::uint32_t rx_buf_len_default = 0;           // bytes per payload buffer at probe
    std::vector<std::uint32_t> rx_buf_len_allowed;  // the values ethtool -G rx-buf-len accepts
  } rings;

  struct HeaderSplit {
    bool supported = false;            // tcp-data-split can be enabled
    bool enabled_by_default = false;   // what the device does while tcp-data-split is "unknown"
    bool split_udp = false;            // UDP is split as well as TCP
    std::uint32_t header_buf_len = 0;  // bytes per header buffer
    std::uint32_t hds_thresh_max = 0;  // 0: hds-thresh is not configurable
    std::uint32_t hds_thresh_default = 0;
    NonQualifyingPlacement non_qualifying = NonQualifyingPlacement::kPayloadBuffers;
  } header_split;

  struct Descriptors {
    std::uint32_t rx_desc_bytes = 0;  // one posted RX buffer descriptor
    std::uint32_t rx_cqe_bytes = 0;   // one RX completion entry
    std::uint32_t tx_desc_bytes = 0;  // one TX descriptor
    std::uint32_t tx_cqe_bytes = 0;   // one TX completion entry
    // TX descriptors the engine reads in one PCIe read when that many are posted, and keeps
    // until their packets go (descriptor prefetch); 1: each packet fetches its own.
    std::uint32_t tx_prefetch = 1;
  } descriptors;

  struct Pipeline {
    std::uint32_t clock_mhz = 0;
    StageCycles cycles;
    // The port's RX packet buffer: frames wait here for the RX engine; full = rx_fifo_drops.
    std::uint64_t rx_fifo_bytes = 256 * 1024;
    // The time `n` cycles take, rounded up to a picosecond.
    sim::Duration cycles_time(std::uint64_t n) const;
  } pipeline;

  PcieParams pcie;                // to host memory
  std::optional<PcieParams> p2p;  // to device memory behind a PCIe switch, when the NIC has it

  std::uint32_t mtu_max = 0;

  struct Tso {
    std::uint32_t max_size_bytes = 0;  // tso_max_size
    std::uint32_t max_segments = 0;    // tso_max_segs
  } tso;

  struct Coalesce {
    std::uint32_t rx_usecs = 0;   // rx-usecs at probe; 0: interrupt on every completion
    std::uint32_t rx_frames = 0;  // rx-frames at probe; 0: not used by this NIC
  } coalesce;

  struct Restart {
    std::uint32_t mode = 0;  // netdevsim-like NAPI/page-pool handling during restart, 0..3
    RestartScope scope = RestartScope::kQueue;
    sim::Duration firmware_quiesce;  // firmware commands per restart (queue destroy + create)
  } restart;
};

// Every problem of `p`, in field order; empty when the profile is usable.
std::vector<FieldError> validate_nic_profile(const NicProfile& p);
// What a field (dotted key, e.g. "rings.rx.max" or "pcie.lanes") accepts, in words; "" when the
// field has no numeric range (strings, booleans, names).
std::string nic_profile_field_allowed(std::string_view field);

// The header-split settings a NIC built from `p` starts with (tcp-data-split unknown, the
// profile's rx-buf-len and hds-thresh defaults, its header buffer and placement rules).
HeaderSplitConfig header_split_defaults(const NicProfile& p);

}  // namespace nicemu::nic::hw
