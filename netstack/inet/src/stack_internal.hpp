// Helpers shared by NetStack's source files (not part of the public interface).
#pragma once

#include <cstdint>

#include "nicemu/netstack/tcp/tcp_sock.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/checksum.hpp"

namespace nicemu::netstack::inet::detail {

// Room in front of any payload for Ethernet (+ 2 VLAN tags), IPv6 and a TCP header with
// options: the kernel's MAX_TCP_HEADER idea (14 + 8 + 40 + 60 = 122).
inline constexpr std::uint32_t kTxHeadroom = 128;
inline constexpr wire::ChecksumCaps kSoftware = wire::ChecksumCaps::software();
// net.ipv4.ip_local_port_range (both families).
inline constexpr std::uint16_t kEphemeralLow = 32768;
inline constexpr std::uint16_t kEphemeralHigh = 60999;
// ff02::1, the all-nodes group every IPv6 interface joins.
inline constexpr wire::Ipv6Address kAllNodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};
// RFC 4861 §7.1: ND messages travel with hop limit 255 (and are refused otherwise).
inline constexpr std::uint8_t kNdiscHopLimit = 255;

// The first `prefix` bits of a and b (same family) are equal.
inline bool same_prefix(const wire::IpAddress& a, const wire::IpAddress& b, std::uint8_t prefix) {
  if (a.version() != b.version()) return false;
  const auto& x = a.bytes();
  const auto& y = b.bytes();
  const std::size_t n = a.is_v4() ? 4 : 16;
  std::uint32_t bits = prefix;
  for (std::size_t i = 0; i < n && bits > 0; ++i) {
    const std::uint32_t take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<std::uint8_t>(0xff00u >> take);
    if ((x[i] & mask) != (y[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

inline void add_stats(tcp::TcpSockStats& to, const tcp::TcpSockStats& s) {
  to.segs_in += s.segs_in;
  to.segs_out += s.segs_out;
  to.bytes_sent += s.bytes_sent;
  to.bytes_acked += s.bytes_acked;
  to.bytes_received += s.bytes_received;
  to.retransmits += s.retransmits;
  to.fast_retransmits += s.fast_retransmits;
  to.timeouts += s.timeouts;
  to.dup_acks_in += s.dup_acks_in;
  to.ooo_segments += s.ooo_segments;
  to.sack_blocks_sent += s.sack_blocks_sent;
  to.sack_blocks_received += s.sack_blocks_received;
  to.zero_window_probes += s.zero_window_probes;
  to.challenge_acks += s.challenge_acks;
  to.paws_rejected += s.paws_rejected;
  to.rst_in += s.rst_in;
  to.rst_out += s.rst_out;
  to.dropped_not_acceptable += s.dropped_not_acceptable;
  to.dropped_rcvbuf += s.dropped_rcvbuf;
  to.delayed_acks += s.delayed_acks;
  to.gso_skbs_out += s.gso_skbs_out;
  to.abort_on_close += s.abort_on_close;
  to.abort_on_data += s.abort_on_data;
}

}  // namespace nicemu::netstack::inet::detail
