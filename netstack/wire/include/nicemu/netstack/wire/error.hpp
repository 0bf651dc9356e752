// nicemu/netstack/wire/error.hpp — why header bytes were rejected, and the result type every
// check() and parse() returns.
//
// Models: the reasons Linux counts and drops a malformed packet (IPSTATS_MIB_INHDRERRORS,
//   INTRUNCATEDPKTS, CSUMERRORS, TCP_MIB_INERRS, UDP_MIB_INERRORS), as one small enum so a caller
//   can keep a counter per reason.
// Not modelled: the kernel's per-protocol MIB split (the stack maps a WireError to its counter).
// References: include/uapi/linux/snmp.h (IPSTATS_MIB_*, TCP_MIB_*, UDP_MIB_*).
#pragma once

#include <cstdint>

#include "nicemu/base/result.hpp"

namespace nicemu::netstack::wire {

// The length rule, used the same way by every format:
//   kTruncated — the buffer ends before the fixed header does, or before the length an L3 header
//                says the packet has (IPv4 total length, IPv6 payload length, an extension header
//                running past the IPv6 payload).
//   kBadLength — a length field that is impossible on its own (IHL < 5, data offset < 5, UDP
//                length < 8) or larger than the enclosing layer allows (an L4 view is handed
//                exactly the segment its IP header delimits, so a TCP data offset or UDP length
//                past that segment is a bad length, not a short buffer).
enum class WireError : std::uint8_t {
  kTruncated = 1,
  kBadLength,
  kBadVersion,         // IP version field does not match the header being parsed
  kBadChecksum,        // includes a zero UDP checksum over IPv6 (RFC 8200 §8.1)
  kBadOption,          // TCP option, IPv6 option or NDP option with an illegal length
  kUnsupported,        // well formed but outside what nicemu models (ARP for non-Ethernet/IPv4,
                       // an 802.3 length field, a third VLAN tag)
  kFragment,           // an IPv4 fragment or an IPv6 Fragment header: nicemu does not reassemble
  kMalformed,          // a field value the RFC forbids (Hop-by-Hop not first, NS target multicast)
  kTooManyExtensions,  // an IPv6 extension-header chain longer than kMaxIpv6ExtensionHeaders
};

const char* to_string(WireError e);

template <class T>
using WireResult = base::Result<T, WireError>;

inline base::Unexpected<WireError> wire_error(WireError e) { return base::Unexpected<WireError>{e}; }

}  // namespace nicemu::netstack::wire
