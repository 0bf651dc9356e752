// nicemu/nic/hw/steering_types.hpp — the vocabulary shared by RSS, ntuple rules and the steering
// facade: ethtool's flow types and hash-field bits, and the outcome of a control operation.
//
// Models: the flow_type numbers and RXH_* bits of include/uapi/linux/ethtool.h, so a rule or a
//   rx-flow-hash setting reads like the ethtool call that made it.
// Not modelled: FLOW_EXT / FLOW_MAC_EXT / FLOW_RSS flag bits (the rule's action says "RSS
//   context" instead), RXH_XFRM_* input transforms.
// References: include/uapi/linux/ethtool.h (TCP_V4_FLOW.., RXH_*, RX_CLS_*); net/ethtool/rss.c
//   (RFH_MASK); ethtool(8) -n/-N/-x/-X.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace nicemu::nic::hw {

// kernel: the flow_type values (TCP_V4_FLOW = 0x01 ... ETHER_FLOW = 0x12). Any value may be
// passed in; the operations refuse the ones the hardware does not handle.
enum class FlowType : std::uint32_t {
  kTcpV4 = 0x01,     // TCP_V4_FLOW      ethtool "tcp4"
  kUdpV4 = 0x02,     // UDP_V4_FLOW      "udp4"
  kSctpV4 = 0x03,    // SCTP_V4_FLOW     "sctp4"
  kAhEspV4 = 0x04,   // AH_ESP_V4_FLOW
  kTcpV6 = 0x05,     // TCP_V6_FLOW      "tcp6"
  kUdpV6 = 0x06,     // UDP_V6_FLOW      "udp6"
  kSctpV6 = 0x07,    // SCTP_V6_FLOW     "sctp6"
  kAhEspV6 = 0x08,   // AH_ESP_V6_FLOW
  kAhV4 = 0x09,      // AH_V4_FLOW       "ah4"
  kEspV4 = 0x0a,     // ESP_V4_FLOW      "esp4"
  kAhV6 = 0x0b,      // AH_V6_FLOW       "ah6"
  kEspV6 = 0x0c,     // ESP_V6_FLOW      "esp6"
  kIpUserV4 = 0x0d,  // IPV4_USER_FLOW   ntuple "ip4"
  kIpUserV6 = 0x0e,  // IPV6_USER_FLOW   ntuple "ip6"
  kIpV4 = 0x10,      // IPV4_FLOW        rx-flow-hash "ip4" (IPv4 that is not TCP or UDP)
  kIpV6 = 0x11,      // IPV6_FLOW        rx-flow-hash "ip6"
  kEther = 0x12,     // ETHER_FLOW       "ether"
};

// ethtool's name for the flow type ("tcp4", ...); "flow-type 0x<hex>" for other values.
std::string to_string(FlowType t);

// kernel: RXH_* — which header fields feed the RSS hash (ethtool rx-flow-hash letters in brackets).
inline constexpr std::uint32_t kRxhL2Da = 1u << 1;      // RXH_L2DA      [m] destination MAC
inline constexpr std::uint32_t kRxhVlan = 1u << 2;      // RXH_VLAN      [v]
inline constexpr std::uint32_t kRxhL3Proto = 1u << 3;   // RXH_L3_PROTO  [t]
inline constexpr std::uint32_t kRxhIpSrc = 1u << 4;     // RXH_IP_SRC    [s]
inline constexpr std::uint32_t kRxhIpDst = 1u << 5;     // RXH_IP_DST    [d]
inline constexpr std::uint32_t kRxhL4B01 = 1u << 6;     // RXH_L4_B_0_1  [f] source port
inline constexpr std::uint32_t kRxhL4B23 = 1u << 7;     // RXH_L4_B_2_3  [n] destination port
inline constexpr std::uint32_t kRxhGtpTeid = 1u << 8;   // RXH_GTP_TEID  [e]
inline constexpr std::uint32_t kRxhIp6Fl = 1u << 9;     // RXH_IP6_FL    [l] IPv6 flow label
inline constexpr std::uint32_t kRxhDiscard = 1u << 31;  // RXH_DISCARD   [r]
// The two settings a Toeplitz NIC of this kind takes besides "none": `sd` and `sdfn`.
inline constexpr std::uint32_t kRxh2Tuple = kRxhIpSrc | kRxhIpDst;
inline constexpr std::uint32_t kRxh4Tuple = kRxh2Tuple | kRxhL4B01 | kRxhL4B23;
// kernel: RFH_MASK / RFH_MASKv6 of net/ethtool/rss.c — bits outside them fail the netlink policy.
inline constexpr std::uint32_t kRxhKnownMask =
    kRxhL2Da | kRxhVlan | kRxhIpSrc | kRxhIpDst | kRxhL3Proto | kRxhL4B01 | kRxhL4B23 | kRxhGtpTeid | kRxhDiscard;
inline constexpr std::uint32_t kRxhKnownMaskV6 = kRxhKnownMask | kRxhIp6Fl;

// ethtool's letters for a field set ("sdfn"), "" for none.
std::string rxh_to_string(std::uint32_t fields);

// The outcome of a control operation: 0 or the kernel's negative errno, and on failure the
// sentence that says what to fix (the kernel's extack message where it sets one).
struct [[nodiscard]] Status {
  int code = 0;
  std::string message;

  bool ok() const { return code == 0; }
  static Status success() { return Status{}; }
  static Status error(int negative_errno, std::string what) { return Status{negative_errno, std::move(what)}; }
};

}  // namespace nicemu::nic::hw
