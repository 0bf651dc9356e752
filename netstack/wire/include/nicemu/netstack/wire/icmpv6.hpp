// nicemu/netstack/wire/icmpv6.hpp — ICMPv6, with the Neighbour Discovery messages a host needs.
//
// Models: the ICMPv6 header and its checksum under the IPv6 pseudo-header (next header 58);
//   echo request/reply (identifier, sequence, data); Neighbour Solicitation (target, Source
//   Link-Layer Address option) and Neighbour Advertisement (R/S/O flags, target, Target
//   Link-Layer Address option). NDP options are walked by the 8-octet length rule: length 0,
//   an option running past the message, or a link-layer address option whose length is not 1
//   (Ethernet, RFC 2464 §6) → kBadOption; unknown options are skipped. An NS/NA with code ≠ 0
//   or a multicast target → kMalformed (RFC 4861 §7.1.1, §7.1.2). Every other type (errors,
//   router and redirect messages) is parsed generically: type, code, raw 4-byte
//   rest-of-header, data.
// Not modelled: the checks that need the IP header (hop limit 255, unspecified source with an
//   SLLA option, solicited flag with a multicast destination: the stack does them), router
//   solicitation/advertisement and redirect contents, MLD, nonce and other NDP options.
// References: RFC 4443 §2.1, §2.3 (checksum), §4.1-§4.2 (echo); RFC 4861 §4.3, §4.4, §4.6.1,
//   §7.1.1-§7.1.2; RFC 2464 §6; include/uapi/linux/icmpv6.h; include/net/ndisc.h
//   (struct nd_msg, struct nd_opt_hdr, ND_OPT_*); net/ipv6/ndisc.c (ndisc_parse_options).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/error.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"

namespace nicemu::netstack::wire {

// Any value may appear; the named ones are those the Repr interprets.
enum class Icmpv6Type : std::uint8_t {
  kDestUnreachable = 1,           // ICMPV6_DEST_UNREACH (generic)
  kPacketTooBig = 2,              // ICMPV6_PKT_TOOBIG (generic)
  kTimeExceeded = 3,              // ICMPV6_TIME_EXCEED (generic)
  kParamProblem = 4,              // ICMPV6_PARAMPROB (generic)
  kEchoRequest = 128,             // ICMPV6_ECHO_REQUEST
  kEchoReply = 129,               // ICMPV6_ECHO_REPLY
  kRouterSolicitation = 133,      // NDISC_ROUTER_SOLICITATION (generic)
  kRouterAdvertisement = 134,     // NDISC_ROUTER_ADVERTISEMENT (generic)
  kNeighbourSolicitation = 135,   // NDISC_NEIGHBOUR_SOLICITATION
  kNeighbourAdvertisement = 136,  // NDISC_NEIGHBOUR_ADVERTISEMENT
  kRedirect = 137,                // NDISC_REDIRECT (generic)
};

namespace ndp_option {
inline constexpr std::uint8_t kSourceLinkLayerAddr = 1;  // ND_OPT_SOURCE_LL_ADDR
inline constexpr std::uint8_t kTargetLinkLayerAddr = 2;  // ND_OPT_TARGET_LL_ADDR
}  // namespace ndp_option

template <class Byte>
class BasicIcmpv6View {
  static_assert(detail::kIsByte<Byte>);

 public:
  // struct icmp6hdr: every message RFC 4443 and RFC 4861 define has at least these 8 bytes
  // (icmpv6_rcv pulls them before looking at the type).
  static constexpr std::size_t kHeaderLen = 8;
  static constexpr std::size_t kNeighbourMessageLen = 24;  // header + target

  // `bytes` is exactly the ICMPv6 message (the upper-layer bytes of the IPv6 packet).
  static WireResult<BasicIcmpv6View> check(std::span<Byte> bytes) {
    if (bytes.size() < kHeaderLen) return wire_error(WireError::kTruncated);
    return BasicIcmpv6View(bytes);
  }
  // A read-only view of the same bytes (implicit: widening to const).
  operator BasicIcmpv6View<const std::byte>() const requires detail::kIsMutable<Byte> {  // NOLINT
    return BasicIcmpv6View<const std::byte>(b_);
  }

  Icmpv6Type type() const { return static_cast<Icmpv6Type>(detail::load_u8(b_.data())); }
  std::uint8_t code() const { return detail::load_u8(b_.data() + 1); }
  std::uint16_t checksum() const { return detail::load_be16(b_.data() + 2); }
  std::uint32_t rest_of_header() const { return detail::load_be32(b_.data() + 4); }
  std::uint16_t echo_ident() const { return detail::load_be16(b_.data() + 4); }
  std::uint16_t echo_seq() const { return detail::load_be16(b_.data() + 6); }
  // Neighbour Advertisement flags (byte 4).
  bool router_flag() const { return (detail::load_u8(b_.data() + 4) & 0x80u) != 0; }
  bool solicited_flag() const { return (detail::load_u8(b_.data() + 4) & 0x40u) != 0; }
  bool override_flag() const { return (detail::load_u8(b_.data() + 4) & 0x20u) != 0; }
  std::span<Byte> data() const { return b_.subspan(kHeaderLen); }
  std::span<Byte> bytes() const { return b_; }
  bool verify_checksum(const Ipv6Address& src, const Ipv6Address& dst) const {
    ChecksumAccumulator acc;
    add_ipv6_pseudo_header(acc, src, dst, ip_protocol::kIcmpv6, static_cast<std::uint32_t>(b_.size()));
    acc.add(b_);
    return acc.verifies();
  }

  void set_checksum(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 2, v); }
  void fill_checksum(const Ipv6Address& src, const Ipv6Address& dst) const requires detail::kIsMutable<Byte> {
    set_checksum(0);
    ChecksumAccumulator acc;
    add_ipv6_pseudo_header(acc, src, dst, ip_protocol::kIcmpv6, static_cast<std::uint32_t>(b_.size()));
    acc.add(b_);
    set_checksum(acc.checksum());
  }

 private:
  template <class>
  friend class BasicIcmpv6View;
  explicit BasicIcmpv6View(std::span<Byte> b) : b_(b) {}
  std::span<Byte> b_;
};

using Icmpv6View = BasicIcmpv6View<const std::byte>;
using Icmpv6ViewMut = BasicIcmpv6View<std::byte>;

struct Icmpv6Repr {
  Icmpv6Type type = Icmpv6Type::kEchoRequest;
  std::uint8_t code = 0;
  // Echo request/reply.
  std::uint16_t echo_ident = 0;
  std::uint16_t echo_seq = 0;
  // Neighbour Solicitation / Advertisement.
  Ipv6Address target;
  bool router_flag = false;     // NA R
  bool solicited_flag = false;  // NA S
  bool override_flag = false;   // NA O
  // NS: Source Link-Layer Address option; NA: Target Link-Layer Address option.
  std::optional<MacAddress> link_layer_addr;
  // Generic types only: bytes 4..7 (MTU for Packet Too Big, pointer for Parameter Problem).
  std::uint32_t rest_of_header = 0;
  // Echo data; generic types: the rest of the message. Empty for NS/NA (options are parsed).
  std::span<const std::byte> data;

  static WireResult<Icmpv6Repr> parse(const Icmpv6View& view, const Ipv6Address& src, const Ipv6Address& dst,
                                      const ChecksumCaps& caps);
  bool is_echo() const { return type == Icmpv6Type::kEchoRequest || type == Icmpv6Type::kEchoReply; }
  bool is_neighbour_message() const {
    return type == Icmpv6Type::kNeighbourSolicitation || type == Icmpv6Type::kNeighbourAdvertisement;
  }
  std::size_t buffer_len() const;
  // Writes the whole message; NS/NA options are emitted as one link-layer address option when
  // link_layer_addr is set. Fills the checksum when caps.icmpv6.fill_tx. Asserts out is large
  // enough.
  void emit(std::span<std::byte> out, const Ipv6Address& src, const Ipv6Address& dst, const ChecksumCaps& caps) const;

  friend bool operator==(const Icmpv6Repr& a, const Icmpv6Repr& b);
};

}  // namespace nicemu::netstack::wire
