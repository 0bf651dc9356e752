// nicemu/nic/hw/header_split.hpp — where the bytes of one received frame go: the header buffer,
// the payload buffers, or both (header-data split, "HDS").
//
// Models: the device-level ethtool settings tcp-data-split (ETHTOOL_TCP_DATA_SPLIT_UNKNOWN /
//   DISABLED / ENABLED) and hds-thresh, and rx-buf-len (the size of each payload buffer). A frame
//   qualifies for the split when the split is on, the parser found its L4 header (TCP, or UDP on
//   profiles that split UDP), it is not an IP fragment, its headers fit the header buffer, it
//   carries payload, and its length is above hds-thresh (ethtool-netlink.rst: "if the received
//   packet size is larger than this threshold value, header and data will be split"). Then the
//   headers through L4, options included, go to the header buffer and the rest of the frame
//   (payload and any link padding) to payload buffers of rx-buf-len bytes each, one frag per
//   buffer. A frame that does not qualify goes where the profile says: whole into the header
//   buffer when it fits (as GVE DQO and bnxt place small packets), or whole into payload buffers.
//   With the split off, every frame goes whole to payload buffers.
// Not modelled: splitting at L2 or L3 for non-TCP/UDP traffic (some NICs can), jumbo-frame
//   placement modes, aggregation (LRO/HW-GRO), header buffers larger than one buffer.
// References: Documentation/networking/ethtool-netlink.rst (RINGS_GET: tcp-data-split,
//   hds-thresh, rx-buf-len); drivers/net/ethernet/google/gve/gve_rx_dqo.c (header buffer,
//   "hbo" header-buffer overflow); drivers/net/ethernet/broadcom/bnxt/bnxt.c (rx_copybreak and
//   jumbo placement); ../shared/reference/linux-kernel-semantics.md §3.7.
#pragma once

#include <array>
#include <cstdint>

#include "nicemu/netstack/wire/packet.hpp"

namespace nicemu::nic::hw {

// ethtool's values (include/uapi/linux/ethtool_netlink_generated.h).
enum class TcpDataSplit : std::uint8_t { kUnknown = 0, kDisabled = 1, kEnabled = 2 };
const char* to_string(TcpDataSplit m);

// Where a frame that does not qualify for the split goes (a profile property).
enum class NonQualifyingPlacement : std::uint8_t {
  kHeaderBufferIfFits,  // whole into the header buffer when it fits, else whole to payload buffers
  kPayloadBuffers,      // always whole to payload buffers
};

struct HeaderSplitConfig {
  TcpDataSplit mode = TcpDataSplit::kUnknown;
  bool unknown_means_enabled = false;  // what the device does under "unknown" (its default)
  std::uint32_t hds_thresh = 0;        // frames of at most this length are not split
  std::uint32_t rx_buf_len = 4096;     // bytes per payload buffer
  std::uint32_t header_buf_len = 256;  // bytes per header buffer
  bool split_udp = true;               // the profile splits UDP as well as TCP
  NonQualifyingPlacement non_qualifying = NonQualifyingPlacement::kHeaderBufferIfFits;

  bool split_on() const {
    return mode == TcpDataSplit::kEnabled || (mode == TcpDataSplit::kUnknown && unknown_means_enabled);
  }
};

// Why a frame was or was not split (for counters and traces).
enum class SplitVerdict : std::uint8_t {
  kSplit,              // headers to the header buffer, payload to payload buffers
  kSplitOff,           // tcp-data-split is off
  kNotTcpUdp,          // no L4 header the profile splits on (ARP, ICMP, parse error before L4)
  kFragment,           // an IP fragment
  kNoPayload,          // headers only (a pure ACK): nothing to split off
  kBelowThreshold,     // frame length <= hds-thresh
  kHeaderTooLong,      // headers longer than the header buffer (GVE's "header buffer overflow")
};
const char* to_string(SplitVerdict v);

// One stretch of the frame for one buffer.
struct RxPiece {
  std::uint32_t offset = 0;  // in the frame
  std::uint32_t len = 0;
};

// The placement of one frame. header.len == 0: no header buffer used. payload: one piece per
// payload buffer, in order, each at most rx_buf_len bytes.
struct RxLayout {
  static constexpr std::size_t kMaxPayloadBuffers = 17;  // MAX_SKB_FRAGS: one frag per buffer
  SplitVerdict verdict = SplitVerdict::kSplitOff;
  RxPiece header;
  std::array<RxPiece, kMaxPayloadBuffers> payload{};
  std::uint8_t payload_buffers = 0;
  bool too_many_buffers = false;  // the frame needs more than kMaxPayloadBuffers: drop it

  bool split() const { return verdict == SplitVerdict::kSplit; }
};

// The layout of a frame of `frame_len` bytes that parse_packet() described as `pkt`.
RxLayout plan_rx_layout(const netstack::wire::ParsedPacket& pkt, std::uint32_t frame_len,
                        const HeaderSplitConfig& cfg);

}  // namespace nicemu::nic::hw
