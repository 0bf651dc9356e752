// nicemu/netstack/wire/ipv6.hpp — IPv6 fixed headers and the extension-header walk.
//
// Models: the 40-byte fixed header (version, traffic class, flow label, payload length, next
//   header, hop limit, addresses); the payload is exactly payload-length bytes (link padding
//   excluded). ipv6_upper_layer() walks the extension headers a host must step over —
//   Hop-by-Hop (0, only first), Routing (43), Destination Options (60): (len+1)*8 bytes;
//   AH (51): (len+2)*4 bytes (RFC 4302 §2.2) — up to kMaxIpv6ExtensionHeaders, and stops at
//   the first other next-header value (the upper layer; 59 No Next Header and 50 ESP are
//   reported as such). A Fragment header (44) returns kFragment: nicemu does not reassemble.
// Not modelled: processing the options inside Hop-by-Hop/Destination Options (they are skipped
//   whole; the "unrecognised option" action bits are not applied), routing-header forwarding,
//   jumbograms (payload length 0 means an empty payload), the final-destination rule for the
//   pseudo-header when a Routing header has segments left (the fixed header's dst is used).
// References: RFC 8200 §3, §4, §4.1 (order, Hop-by-Hop first), §4.3-§4.6; RFC 4302 §2.2;
//   include/uapi/linux/ipv6.h (struct ipv6hdr, struct ipv6_opt_hdr, struct frag_hdr);
//   net/ipv6/exthdrs_core.c (ipv6_skip_exthdr).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/error.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"

namespace nicemu::netstack::wire {

// Longest extension-header chain walked before giving up with kTooManyExtensions.
inline constexpr std::size_t kMaxIpv6ExtensionHeaders = 8;

template <class Byte>
class BasicIpv6View {
  static_assert(detail::kIsByte<Byte>);

 public:
  static constexpr std::size_t kHeaderLen = 40;

  // Fixed header present, version 6, payload length within the buffer (kTruncated).
  static WireResult<BasicIpv6View> check(std::span<Byte> bytes) {
    if (bytes.size() < kHeaderLen) return wire_error(WireError::kTruncated);
    const BasicIpv6View v(bytes);
    if (v.version() != 6) return wire_error(WireError::kBadVersion);
    if (kHeaderLen + v.payload_len() > bytes.size()) return wire_error(WireError::kTruncated);
    return v;
  }
  // For a packet whose payload is not in `prefix` (see BasicIpv4View's prefix check): the fixed
  // header is in `prefix`, and the payload length fits in `packet_len` (kTruncated). payload()
  // spans only the bytes present, so ipv6_upper_layer() finds extension headers only if they
  // are in the prefix too (else kTruncated: pull more first).
  static WireResult<BasicIpv6View> check(std::span<Byte> prefix, std::size_t packet_len) {
    if (prefix.size() < kHeaderLen) return wire_error(WireError::kTruncated);
    const BasicIpv6View v(prefix);
    if (v.version() != 6) return wire_error(WireError::kBadVersion);
    if (kHeaderLen + v.payload_len() > packet_len) return wire_error(WireError::kTruncated);
    return v;
  }
  // A read-only view of the same bytes (implicit: widening to const).
  operator BasicIpv6View<const std::byte>() const requires detail::kIsMutable<Byte> {  // NOLINT
    return BasicIpv6View<const std::byte>(b_);
  }

  std::uint8_t version() const { return static_cast<std::uint8_t>(detail::load_u8(b_.data()) >> 4); }
  std::uint8_t traffic_class() const { return static_cast<std::uint8_t>((detail::load_be16(b_.data()) >> 4) & 0xffu); }
  std::uint32_t flow_label() const { return detail::load_be32(b_.data()) & 0x000fffffu; }
  std::uint16_t payload_len() const { return detail::load_be16(b_.data() + 4); }
  std::uint8_t next_header() const { return detail::load_u8(b_.data() + 6); }
  std::uint8_t hop_limit() const { return detail::load_u8(b_.data() + 7); }
  Ipv6Address src() const { return Ipv6Address::read(b_.data() + 8); }
  Ipv6Address dst() const { return Ipv6Address::read(b_.data() + 24); }
  // (With a prefix view, only the payload bytes present in the prefix.)
  std::span<Byte> payload() const {
    const std::size_t avail = b_.size() - kHeaderLen;
    return b_.subspan(kHeaderLen, payload_len() < avail ? payload_len() : avail);
  }
  std::span<Byte> bytes() const { return b_; }

  // version 6, traffic class, flow label in one word.
  void set_traffic_class_flow_label(std::uint8_t tc, std::uint32_t flow) const requires detail::kIsMutable<Byte> {
    detail::store_be32(b_.data(), (std::uint32_t{6} << 28) | (std::uint32_t{tc} << 20) | (flow & 0x000fffffu));
  }
  void set_payload_len(std::uint16_t v) const requires detail::kIsMutable<Byte> {
    detail::store_be16(b_.data() + 4, v);
  }
  void set_next_header(std::uint8_t v) const requires detail::kIsMutable<Byte> { detail::store_u8(b_.data() + 6, v); }
  void set_hop_limit(std::uint8_t v) const requires detail::kIsMutable<Byte> { detail::store_u8(b_.data() + 7, v); }
  void set_src(const Ipv6Address& a) const requires detail::kIsMutable<Byte> { a.write(b_.data() + 8); }
  void set_dst(const Ipv6Address& a) const requires detail::kIsMutable<Byte> { a.write(b_.data() + 24); }

 private:
  template <class>
  friend class BasicIpv6View;
  explicit BasicIpv6View(std::span<Byte> b) : b_(b) {}
  std::span<Byte> b_;
};

using Ipv6View = BasicIpv6View<const std::byte>;
using Ipv6ViewMut = BasicIpv6View<std::byte>;

// True for the next-header values ipv6_upper_layer() steps over (and Fragment, which it stops at).
constexpr bool is_ipv6_extension_header(std::uint8_t nh) {
  return nh == ip_protocol::kHopByHop || nh == ip_protocol::kRouting || nh == ip_protocol::kFragment ||
         nh == ip_protocol::kDestinationOptions || nh == ip_protocol::kAh;
}

// One extension header: next header, its length by the rule of its kind, the bytes after the
// two-byte prefix (options, routing data, fragment fields, AH fields).
class Ipv6ExtensionHeaderView {
 public:
  // `kind` is the next-header value that announced this header (it decides the length rule).
  // kUnsupported for a kind that is not an extension header; kTruncated when it runs past bytes.
  static WireResult<Ipv6ExtensionHeaderView> check(std::uint8_t kind, std::span<const std::byte> bytes);

  std::uint8_t kind() const { return kind_; }
  std::uint8_t next_header() const { return detail::load_u8(b_.data()); }
  std::size_t header_len() const { return b_.size(); }
  std::span<const std::byte> data() const { return b_.subspan(2); }

 private:
  Ipv6ExtensionHeaderView(std::uint8_t kind, std::span<const std::byte> b) : kind_(kind), b_(b) {}
  std::uint8_t kind_;
  std::span<const std::byte> b_;  // exactly header_len() bytes
};

// Where the upper layer starts, after the extension headers.
struct Ipv6UpperLayer {
  std::uint8_t protocol = 0;         // TCP, UDP, ICMPv6, No Next Header, ESP, or any other
  std::size_t offset = 0;            // from the start of the IPv6 header
  std::uint8_t extension_count = 0;  // extension headers stepped over
  std::span<const std::byte> bytes;  // [offset, 40 + payload length)
};

// Walks the chain. Errors: kFragment (Fragment header), kMalformed (Hop-by-Hop not first),
// kTruncated (a header running past the payload), kTooManyExtensions.
WireResult<Ipv6UpperLayer> ipv6_upper_layer(const Ipv6View& view);

// The fixed header only; extension headers are walked with ipv6_upper_layer().
struct Ipv6Repr {
  static constexpr std::size_t kHeaderLen = 40;

  Ipv6Address src;
  Ipv6Address dst;
  std::uint8_t next_header = 0;
  std::uint16_t payload_len = 0;
  std::uint8_t hop_limit = 64;  // Linux's default (net.ipv6.conf.*.hop_limit)
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;  // 20 bits

  static WireResult<Ipv6Repr> parse(const Ipv6View& view);
  // The header bytes emit() writes (the payload follows, written by the next layer).
  std::size_t buffer_len() const { return kHeaderLen; }
  void emit(std::span<std::byte> out) const;  // asserts out is large enough and flow_label < 2^20

  friend bool operator==(const Ipv6Repr&, const Ipv6Repr&) = default;
};

}  // namespace nicemu::netstack::wire
