// nicemu/netstack/wire/ip_protocol.hpp — IP protocol / IPv6 next-header numbers.
//
// Models: the numbers nicemu parses or walks past.
// Not modelled: the rest of the IANA registry (other values pass through as plain numbers).
// References: include/uapi/linux/in.h (IPPROTO_*), include/uapi/linux/in6.h (IPPROTO_HOPOPTS,
//   IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_NONE, IPPROTO_DSTOPTS); RFC 8200 §4.
#pragma once

#include <cstdint>

namespace nicemu::netstack::wire::ip_protocol {

inline constexpr std::uint8_t kHopByHop = 0;             // IPPROTO_HOPOPTS
inline constexpr std::uint8_t kIcmp = 1;                 // IPPROTO_ICMP
inline constexpr std::uint8_t kTcp = 6;                  // IPPROTO_TCP
inline constexpr std::uint8_t kUdp = 17;                 // IPPROTO_UDP
inline constexpr std::uint8_t kRouting = 43;             // IPPROTO_ROUTING
inline constexpr std::uint8_t kFragment = 44;            // IPPROTO_FRAGMENT
inline constexpr std::uint8_t kEsp = 50;                 // IPPROTO_ESP
inline constexpr std::uint8_t kAh = 51;                  // IPPROTO_AH
inline constexpr std::uint8_t kIcmpv6 = 58;              // IPPROTO_ICMPV6
inline constexpr std::uint8_t kNoNextHeader = 59;        // IPPROTO_NONE
inline constexpr std::uint8_t kDestinationOptions = 60;  // IPPROTO_DSTOPTS

}  // namespace nicemu::netstack::wire::ip_protocol
