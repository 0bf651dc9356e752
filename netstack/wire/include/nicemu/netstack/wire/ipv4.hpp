// nicemu/netstack/wire/ipv4.hpp — IPv4 headers.
//
// Models: the IPv4 header: version, IHL (options are bounds-checked and exposed as bytes, not
//   interpreted, as Linux does for a host that is not a router), DSCP/ECN, total length (the
//   buffer may be longer: Ethernet padding is outside payload()), identification, DF/MF,
//   fragment offset, TTL, protocol, header checksum (verify / fill), addresses. Fragments are
//   recognised (is_fragment()); Ipv4Repr::parse returns kFragment so the stack counts and drops
//   them.
// Not modelled: reassembly, option processing (record route, timestamps, source routing; the
//   Repr never emits options), the reserved "evil" bit (ignored on receive, zero on emit).
// References: RFC 791 §3.1; RFC 2474 §3 and RFC 3168 §5 (DSCP/ECN); RFC 6864 (ID);
//   include/uapi/linux/ip.h (struct iphdr, IP_DF, IP_MF, IP_OFFSET); net/ipv4/ip_input.c
//   (ip_rcv_core checks, in the same order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/error.hpp"

namespace nicemu::netstack::wire {

template <class Byte>
class BasicIpv4View {
  static_assert(detail::kIsByte<Byte>);

 public:
  static constexpr std::size_t kMinHeaderLen = 20;
  static constexpr std::size_t kMaxHeaderLen = 60;

  // ip_rcv_core order: length of the fixed header, version, IHL ≥ 5, total length ≥ IHL*4
  // (kBadLength), total length ≤ buffer (kTruncated). The buffer may extend past total length.
  static WireResult<BasicIpv4View> check(std::span<Byte> bytes) {
    if (bytes.size() < kMinHeaderLen) return wire_error(WireError::kTruncated);
    const BasicIpv4View v(bytes);
    if (v.version() != 4) return wire_error(WireError::kBadVersion);
    if (v.ihl() < 5) return wire_error(WireError::kBadLength);
    if (v.total_len() < v.header_len()) return wire_error(WireError::kBadLength);
    if (v.total_len() > bytes.size()) return wire_error(WireError::kTruncated);
    return v;
  }
  // For a packet whose payload is not in `prefix` (skb frags, device memory): `prefix` holds at
  // least the header, options included (kTruncated otherwise: pull more into the linear area
  // first, as the kernel's pskb_may_pull does); `packet_len` is the packet's real length from
  // this header on, and the total length must fit in it (kTruncated). payload() then spans only
  // the payload bytes present in `prefix`; payload_len() is the real length.
  static WireResult<BasicIpv4View> check(std::span<Byte> prefix, std::size_t packet_len) {
    if (prefix.size() < kMinHeaderLen) return wire_error(WireError::kTruncated);
    const BasicIpv4View v(prefix);
    if (v.version() != 4) return wire_error(WireError::kBadVersion);
    if (v.ihl() < 5) return wire_error(WireError::kBadLength);
    if (v.total_len() < v.header_len()) return wire_error(WireError::kBadLength);
    if (v.header_len() > prefix.size()) return wire_error(WireError::kTruncated);
    if (v.total_len() > packet_len) return wire_error(WireError::kTruncated);
    return v;
  }
  // A read-only view of the same bytes (implicit: widening to const).
  operator BasicIpv4View<const std::byte>() const requires detail::kIsMutable<Byte> {  // NOLINT
    return BasicIpv4View<const std::byte>(b_);
  }

  std::uint8_t version() const { return static_cast<std::uint8_t>(detail::load_u8(b_.data()) >> 4); }
  std::uint8_t ihl() const { return static_cast<std::uint8_t>(detail::load_u8(b_.data()) & 0x0fu); }
  std::size_t header_len() const { return std::size_t{ihl()} * 4; }
  std::uint8_t dscp() const { return static_cast<std::uint8_t>(detail::load_u8(b_.data() + 1) >> 2); }
  std::uint8_t ecn() const { return static_cast<std::uint8_t>(detail::load_u8(b_.data() + 1) & 0x03u); }
  std::uint16_t total_len() const { return detail::load_be16(b_.data() + 2); }
  std::uint16_t ident() const { return detail::load_be16(b_.data() + 4); }
  bool dont_fragment() const { return (detail::load_u8(b_.data() + 6) & 0x40u) != 0; }
  bool more_fragments() const { return (detail::load_u8(b_.data() + 6) & 0x20u) != 0; }
  // In 8-octet units, as on the wire; frag_offset_bytes() in bytes.
  std::uint16_t frag_offset() const { return static_cast<std::uint16_t>(detail::load_be16(b_.data() + 6) & 0x1fffu); }
  std::uint32_t frag_offset_bytes() const { return std::uint32_t{frag_offset()} * 8; }
  bool is_fragment() const { return more_fragments() || frag_offset() != 0; }
  std::uint8_t ttl() const { return detail::load_u8(b_.data() + 8); }
  std::uint8_t protocol() const { return detail::load_u8(b_.data() + 9); }
  std::uint16_t checksum() const { return detail::load_be16(b_.data() + 10); }
  Ipv4Address src() const { return Ipv4Address::read(b_.data() + 12); }
  Ipv4Address dst() const { return Ipv4Address::read(b_.data() + 16); }
  std::span<Byte> options() const { return b_.subspan(kMinHeaderLen, header_len() - kMinHeaderLen); }
  std::span<Byte> header() const { return b_.first(header_len()); }
  // [header_len, total_len): trailing link-layer padding is excluded.
  // (With a prefix view, only the payload bytes present in the prefix.)
  std::span<Byte> payload() const {
    const std::size_t end = std::size_t{total_len()} < b_.size() ? std::size_t{total_len()} : b_.size();
    return b_.subspan(header_len(), end - header_len());
  }
  std::size_t payload_len() const { return std::size_t{total_len()} - header_len(); }
  std::span<Byte> bytes() const { return b_; }
  bool verify_checksum() const { return ones_complement_sum(header()) == 0xffffu; }

  void set_dscp_ecn(std::uint8_t dscp, std::uint8_t ecn) const requires detail::kIsMutable<Byte> {
    detail::store_u8(b_.data() + 1, static_cast<std::uint8_t>((dscp << 2) | (ecn & 0x03u)));
  }
  void set_total_len(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 2, v); }
  void set_ident(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 4, v); }
  void set_ttl(std::uint8_t v) const requires detail::kIsMutable<Byte> { detail::store_u8(b_.data() + 8, v); }
  void set_src(const Ipv4Address& a) const requires detail::kIsMutable<Byte> { a.write(b_.data() + 12); }
  void set_dst(const Ipv4Address& a) const requires detail::kIsMutable<Byte> { a.write(b_.data() + 16); }
  void set_checksum(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 10, v); }
  // Recomputes the header checksum (what a NIC with IPv4 checksum offload does).
  void fill_checksum() const requires detail::kIsMutable<Byte> {
    set_checksum(0);
    set_checksum(internet_checksum(header()));
  }

 private:
  template <class>
  friend class BasicIpv4View;
  explicit BasicIpv4View(std::span<Byte> b) : b_(b) {}
  std::span<Byte> b_;
};

using Ipv4View = BasicIpv4View<const std::byte>;
using Ipv4ViewMut = BasicIpv4View<std::byte>;

// The IPv4 header a host sends and accepts: no options, never a fragment.
struct Ipv4Repr {
  static constexpr std::size_t kHeaderLen = 20;

  Ipv4Address src;
  Ipv4Address dst;
  std::uint8_t protocol = 0;
  std::uint16_t payload_len = 0;  // bytes after the header (total length - IHL*4)
  std::uint8_t ttl = 64;          // Linux's default (net.ipv4.ip_default_ttl)
  std::uint8_t dscp = 0;
  std::uint8_t ecn = 0;
  std::uint16_t ident = 0;
  bool dont_fragment = true;  // Linux sets DF with PMTU discovery on

  // Verifies the header checksum when caps.ipv4.verify_rx (kBadChecksum), then rejects
  // fragments (kFragment). Options are skipped: payload_len counts from the end of the options.
  static WireResult<Ipv4Repr> parse(const Ipv4View& view, const ChecksumCaps& caps);
  // The header bytes emit() writes (the payload follows, written by the next layer).
  std::size_t buffer_len() const { return kHeaderLen; }
  // Writes a 20-byte header with total length kHeaderLen + payload_len; fills the checksum when
  // caps.ipv4.fill_tx, else writes 0. Asserts out is large enough and dscp/ecn fit their bits.
  void emit(std::span<std::byte> out, const ChecksumCaps& caps) const;

  friend bool operator==(const Ipv4Repr&, const Ipv4Repr&) = default;
};

}  // namespace nicemu::netstack::wire
