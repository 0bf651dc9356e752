// nicemu/netstack/wire/packet.hpp — one pass over a frame, Ethernet to L4, for the NIC model's
// parser (steering, RSS, header split) and for quick classification in the stack.
//
// Models: what a NIC's header parser extracts: MACs, up to two VLAN tags, EtherType, ARP,
//   IPv4 / IPv6 (through the extension headers) addresses and upper-layer protocol, fragments,
//   TCP / UDP ports and TCP flags, ICMP type and code, and the offsets and total header length
//   through L4 including TCP options — the split point of a header-splitting NIC. Checksums are
//   verified per ChecksumCaps (IPv4 header, TCP, UDP, ICMP). Allocation-free; one call, no state.
// Not modelled: tunnels (VXLAN, GRE, IP-in-IP: reported as an unknown L4 protocol), MPLS, PPPoE,
//   TCP option validation (only the data offset is checked; TcpRepr::parse validates options),
//   ICMP message contents beyond type and code.
// Unknown EtherTypes and unknown IP protocols are not errors: the frame is classified as far as
//   nicemu understands it (l3 or l4 == kNone) and header_len ends where understanding ends.
// References: the layers' headers; drivers/net/ethernet/google/gve (header split on the
//   parser's L4 end), include/uapi/linux/ethtool.h (ETHTOOL_TCP_DATA_SPLIT).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/error.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/tcp.hpp"

namespace nicemu::netstack::wire {

enum class L3Kind : std::uint8_t { kNone, kArp, kIpv4, kIpv6 };
enum class L4Kind : std::uint8_t { kNone, kTcp, kUdp, kIcmpv4, kIcmpv6 };
enum class PacketLayer : std::uint8_t { kL2, kL3, kL4 };

const char* to_string(L3Kind k);
const char* to_string(L4Kind k);
const char* to_string(PacketLayer l);

struct ParsedPacket {
  // L2
  MacAddress dst_mac;
  MacAddress src_mac;
  std::array<VlanTag, 2> vlans{};  // outermost first
  std::uint8_t vlan_count = 0;
  std::uint16_t ethertype = 0;  // after the tags

  // L3
  L3Kind l3 = L3Kind::kNone;
  std::uint32_t l3_offset = 0;  // == Ethernet header length with tags
  IpAddress src_ip;             // also ARP's sender / target protocol addresses
  IpAddress dst_ip;
  std::uint8_t ip_protocol = 0;  // upper-layer protocol (after IPv6 extension headers)
  bool is_fragment = false;

  // L4
  L4Kind l4 = L4Kind::kNone;
  std::uint32_t l4_offset = 0;  // end of the IP header (and IPv6 extension headers)
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  TcpFlags tcp_flags;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;

  // Headers through L4 including options: the header-split point. payload_offset == header_len.
  std::uint32_t header_len = 0;
  std::uint32_t payload_len = 0;  // bytes after the headers, link padding excluded

  // The first error met; fields of the layers before it (and the error layer's fields that
  // could be read, e.g. ports on a bad TCP checksum) are filled.
  std::optional<WireError> error;
  PacketLayer error_layer = PacketLayer::kL2;

  bool ok() const { return !error.has_value(); }
  std::uint32_t payload_offset() const { return header_len; }
};

// Walks Ethernet → VLAN tags → ARP | IPv4 | IPv6 (+ extension headers) → TCP | UDP | ICMP.
ParsedPacket parse_packet(std::span<const std::byte> frame, const ChecksumCaps& caps);

}  // namespace nicemu::netstack::wire
