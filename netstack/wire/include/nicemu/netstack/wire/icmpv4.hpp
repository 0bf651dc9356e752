// nicemu/netstack/wire/icmpv4.hpp — ICMP for IPv4.
//
// Models: the 8-byte ICMP header and checksum over the whole message; echo request/reply
//   (identifier, sequence number, data); destination unreachable (code, next-hop MTU for
//   "fragmentation needed", and the embedded original datagram, which must start with a
//   plausible IPv4 header — version 4, IHL ≥ 5, at least 20 bytes — else kMalformed, as
//   icmp_unreach() drops it). Every other type is parsed generically: type, code, the raw
//   4-byte rest-of-header and the data, and re-emitted unchanged (the stack decides what it
//   handles; Linux counts and drops unknown types without an error).
// Not modelled: interpretation of time exceeded, parameter problem, redirect, timestamp types
//   (generic only); ICMP extensions (RFC 4884).
// References: RFC 792; RFC 1191 §4 (next-hop MTU); RFC 1122 §3.2.2; include/uapi/linux/icmp.h
//   (struct icmphdr, ICMP_*); net/ipv4/icmp.c (icmp_rcv, icmp_unreach).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/error.hpp"

namespace nicemu::netstack::wire {

// Any value may appear; the named ones are those the Repr interprets.
enum class Icmpv4Type : std::uint8_t {
  kEchoReply = 0,        // ICMP_ECHOREPLY
  kDestUnreachable = 3,  // ICMP_DEST_UNREACH
  kEchoRequest = 8,      // ICMP_ECHO
  kTimeExceeded = 11,    // ICMP_TIME_EXCEEDED (generic)
};

namespace icmpv4_code {
inline constexpr std::uint8_t kPortUnreachable = 3;  // ICMP_PORT_UNREACH
inline constexpr std::uint8_t kFragNeeded = 4;       // ICMP_FRAG_NEEDED
}  // namespace icmpv4_code

template <class Byte>
class BasicIcmpv4View {
  static_assert(detail::kIsByte<Byte>);

 public:
  static constexpr std::size_t kHeaderLen = 8;

  // `bytes` is exactly the ICMP message (the IPv4 payload).
  static WireResult<BasicIcmpv4View> check(std::span<Byte> bytes) {
    if (bytes.size() < kHeaderLen) return wire_error(WireError::kTruncated);
    return BasicIcmpv4View(bytes);
  }
  // A read-only view of the same bytes (implicit: widening to const).
  operator BasicIcmpv4View<const std::byte>() const requires detail::kIsMutable<Byte> {  // NOLINT
    return BasicIcmpv4View<const std::byte>(b_);
  }

  Icmpv4Type type() const { return static_cast<Icmpv4Type>(detail::load_u8(b_.data())); }
  std::uint8_t code() const { return detail::load_u8(b_.data() + 1); }
  std::uint16_t checksum() const { return detail::load_be16(b_.data() + 2); }
  std::uint32_t rest_of_header() const { return detail::load_be32(b_.data() + 4); }
  std::uint16_t echo_ident() const { return detail::load_be16(b_.data() + 4); }
  std::uint16_t echo_seq() const { return detail::load_be16(b_.data() + 6); }
  std::uint16_t next_hop_mtu() const { return detail::load_be16(b_.data() + 6); }
  std::span<Byte> data() const { return b_.subspan(kHeaderLen); }
  std::span<Byte> bytes() const { return b_; }
  bool verify_checksum() const { return ones_complement_sum(b_) == 0xffffu; }

  void set_checksum(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 2, v); }
  void fill_checksum() const requires detail::kIsMutable<Byte> {
    set_checksum(0);
    set_checksum(internet_checksum(b_));
  }

 private:
  template <class>
  friend class BasicIcmpv4View;
  explicit BasicIcmpv4View(std::span<Byte> b) : b_(b) {}
  std::span<Byte> b_;
};

using Icmpv4View = BasicIcmpv4View<const std::byte>;
using Icmpv4ViewMut = BasicIcmpv4View<std::byte>;

struct Icmpv4Repr {
  Icmpv4Type type = Icmpv4Type::kEchoRequest;
  std::uint8_t code = 0;
  std::uint16_t echo_ident = 0;      // echo request/reply
  std::uint16_t echo_seq = 0;        // echo request/reply
  std::uint16_t next_hop_mtu = 0;    // destination unreachable, code 4 (RFC 1191); 0 otherwise
  std::uint32_t rest_of_header = 0;  // generic types only: the raw bytes 4..7
  // Echo data; the original datagram (destination unreachable); the rest of the message (generic).
  std::span<const std::byte> data;

  static WireResult<Icmpv4Repr> parse(const Icmpv4View& view, const ChecksumCaps& caps);
  bool is_echo() const { return type == Icmpv4Type::kEchoRequest || type == Icmpv4Type::kEchoReply; }
  std::size_t buffer_len() const { return Icmpv4View::kHeaderLen + data.size(); }
  // Writes the header and data (data may already sit at out[8..]); fills the checksum when
  // caps.icmpv4.fill_tx. Asserts out.size() >= buffer_len().
  void emit(std::span<std::byte> out, const ChecksumCaps& caps) const;

  // Equal when every field and the data bytes (not their addresses) are equal.
  friend bool operator==(const Icmpv4Repr& a, const Icmpv4Repr& b);
};

}  // namespace nicemu::netstack::wire
