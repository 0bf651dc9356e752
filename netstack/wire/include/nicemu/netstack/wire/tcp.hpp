// nicemu/netstack/wire/tcp.hpp — TCP segments and their options.
//
// Models: the TCP header (ports, sequence and acknowledgment numbers, data offset 5..15 within
//   the segment, the eight flags FIN SYN RST PSH ACK URG ECE CWR, window, checksum under the
//   IPv4/IPv6 pseudo-header, urgent pointer) and the options Linux's tcp_parse_options()
//   understands: EOL, NOP, MSS (len 4), Window Scale (len 3, shift kept raw: the stack clamps it
//   to 14 as Linux does), SACK-Permitted (len 2), SACK (len 2+8n, n = 1..4), Timestamps (len 10).
//   Unknown kinds are skipped by their length. A length < 2, an option running past the header,
//   or a wrong length for a known kind → kBadOption (Linux silently stops parsing instead; a
//   strict verdict is more useful to a model that counts). A repeated option: the last wins, as
//   in Linux. emit() writes options in Linux's order and layout (tcp_options_write): MSS;
//   SACK-Permitted+Timestamps packed as 04 02 08 0a (else NOP NOP before either); NOP + WScale;
//   NOP NOP + SACK blocks — every group a multiple of 4 bytes. SACK blocks that do not fit in the
//   40 option bytes after the others are left out, as tcp_established_options() does.
// Not modelled: the NS bit (RFC 3540, historic; reserved bits are ignored on receive and zero on
//   emit), TCP-AO/MD5 signatures, Fast Open cookies, MPTCP (all skipped as unknown options).
// References: RFC 9293 §3.1-§3.2; RFC 7323 §2.2, §3.2 (window scale, timestamps); RFC 2018 §2-§3
//   (SACK); RFC 3168 §6.1 (ECE/CWR); include/uapi/linux/tcp.h (struct tcphdr, TCPOPT_*),
//   include/net/tcp.h (TCPOLEN_*); net/ipv4/tcp_input.c (tcp_parse_options),
//   net/ipv4/tcp_output.c (tcp_options_write).
#pragma once

#include <array>
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

// The flag byte (byte 13 of the header), as a value that cannot be mixed up with an integer.
struct TcpFlags {
  static constexpr std::uint8_t kFin = 0x01;
  static constexpr std::uint8_t kSyn = 0x02;
  static constexpr std::uint8_t kRst = 0x04;
  static constexpr std::uint8_t kPsh = 0x08;
  static constexpr std::uint8_t kAck = 0x10;
  static constexpr std::uint8_t kUrg = 0x20;
  static constexpr std::uint8_t kEce = 0x40;
  static constexpr std::uint8_t kCwr = 0x80;

  std::uint8_t bits = 0;

  constexpr bool fin() const { return (bits & kFin) != 0; }
  constexpr bool syn() const { return (bits & kSyn) != 0; }
  constexpr bool rst() const { return (bits & kRst) != 0; }
  constexpr bool psh() const { return (bits & kPsh) != 0; }
  constexpr bool ack() const { return (bits & kAck) != 0; }
  constexpr bool urg() const { return (bits & kUrg) != 0; }
  constexpr bool ece() const { return (bits & kEce) != 0; }
  constexpr bool cwr() const { return (bits & kCwr) != 0; }
  constexpr bool has(std::uint8_t mask) const { return (bits & mask) == mask; }
  friend constexpr bool operator==(TcpFlags, TcpFlags) = default;
};

namespace tcp_option {
inline constexpr std::uint8_t kEndOfList = 0;      // TCPOPT_EOL
inline constexpr std::uint8_t kNop = 1;            // TCPOPT_NOP
inline constexpr std::uint8_t kMss = 2;            // TCPOPT_MSS, TCPOLEN_MSS 4
inline constexpr std::uint8_t kWindowScale = 3;    // TCPOPT_WINDOW, TCPOLEN_WINDOW 3
inline constexpr std::uint8_t kSackPermitted = 4;  // TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM 2
inline constexpr std::uint8_t kSack = 5;           // TCPOPT_SACK, 2 + 8n
inline constexpr std::uint8_t kTimestamps = 8;     // TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP 10
inline constexpr std::size_t kMaxSackBlocks = 4;
inline constexpr std::size_t kMaxOptionsLen = 40;
}  // namespace tcp_option

struct TcpSackBlock {
  std::uint32_t left = 0;   // first sequence number of the block
  std::uint32_t right = 0;  // sequence number just past the block
  friend bool operator==(const TcpSackBlock&, const TcpSackBlock&) = default;
};

struct TcpTimestamps {
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
  friend bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

struct TcpOptions {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // raw shift; the stack clamps to 14 (RFC 7323 §2.3)
  bool sack_permitted = false;
  std::array<TcpSackBlock, tcp_option::kMaxSackBlocks> sack_blocks{};  // entries past sack_count are zero
  std::uint8_t sack_count = 0;
  std::optional<TcpTimestamps> timestamps;

  // Walks option bytes (the header after the fixed 20 bytes).
  static WireResult<TcpOptions> parse(std::span<const std::byte> bytes);
  // How many SACK blocks emit() writes: all that fit in 40 bytes after the other options.
  std::size_t emitted_sack_count() const;
  // Bytes emit() writes: always a multiple of 4, at most 40.
  std::size_t emitted_len() const;
  // Writes emitted_len() bytes in Linux's layout; asserts out is large enough.
  void emit(std::span<std::byte> out) const;

  friend bool operator==(const TcpOptions&, const TcpOptions&) = default;
};

template <class Byte>
class BasicTcpView {
  static_assert(detail::kIsByte<Byte>);

 public:
  static constexpr std::size_t kMinHeaderLen = 20;
  static constexpr std::size_t kMaxHeaderLen = 60;

  // `bytes` is exactly the segment the IP layer delimits. Fixed header present (kTruncated),
  // data offset ≥ 5 and within the segment (kBadLength).
  static WireResult<BasicTcpView> check(std::span<Byte> bytes) {
    if (bytes.size() < kMinHeaderLen) return wire_error(WireError::kTruncated);
    const BasicTcpView v(bytes);
    if (v.data_offset() < 5) return wire_error(WireError::kBadLength);
    if (v.header_len() > bytes.size()) return wire_error(WireError::kBadLength);
    return v;
  }
  // For a segment whose payload is not in `prefix` (skb frags, device memory): `prefix` holds at
  // least the header and options (kTruncated otherwise), `segment_len` is the segment's real
  // length from the IP layer (data offset past it: kBadLength). payload() spans only the payload
  // bytes present in `prefix`, payload_len() is the real length, and the checksum must be
  // verified by the caller over the whole segment (verify_checksum() asserts completeness).
  static WireResult<BasicTcpView> check(std::span<Byte> prefix, std::size_t segment_len) {
    if (prefix.size() < kMinHeaderLen || segment_len < kMinHeaderLen) return wire_error(WireError::kTruncated);
    const BasicTcpView v(prefix.first(prefix.size() < segment_len ? prefix.size() : segment_len), segment_len);
    if (v.data_offset() < 5) return wire_error(WireError::kBadLength);
    if (v.header_len() > segment_len) return wire_error(WireError::kBadLength);
    if (v.header_len() > v.b_.size()) return wire_error(WireError::kTruncated);
    return v;
  }
  // A read-only view of the same bytes (implicit: widening to const).
  operator BasicTcpView<const std::byte>() const requires detail::kIsMutable<Byte> {  // NOLINT
    return BasicTcpView<const std::byte>(b_, len_);
  }
  // The whole segment is in the view (not only a prefix).
  bool complete() const { return b_.size() == len_; }
  std::size_t segment_len() const { return len_; }
  std::size_t payload_len() const { return len_ - header_len(); }

  std::uint16_t src_port() const { return detail::load_be16(b_.data()); }
  std::uint16_t dst_port() const { return detail::load_be16(b_.data() + 2); }
  std::uint32_t seq_number() const { return detail::load_be32(b_.data() + 4); }
  std::uint32_t ack_number() const { return detail::load_be32(b_.data() + 8); }
  std::uint8_t data_offset() const { return static_cast<std::uint8_t>(detail::load_u8(b_.data() + 12) >> 4); }
  std::size_t header_len() const { return std::size_t{data_offset()} * 4; }
  TcpFlags flags() const { return TcpFlags{detail::load_u8(b_.data() + 13)}; }
  std::uint16_t window() const { return detail::load_be16(b_.data() + 14); }
  std::uint16_t checksum() const { return detail::load_be16(b_.data() + 16); }
  std::uint16_t urgent_pointer() const { return detail::load_be16(b_.data() + 18); }
  std::span<Byte> options() const { return b_.subspan(kMinHeaderLen, header_len() - kMinHeaderLen); }
  std::span<Byte> payload() const { return b_.subspan(header_len()); }
  std::span<Byte> bytes() const { return b_; }
  bool verify_checksum(const IpAddress& src, const IpAddress& dst) const {
    NICEMU_ASSERT(complete(), "TcpView::verify_checksum on a prefix view: sum the payload where it lives");
    return l4_checksum(src, dst, ip_protocol::kTcp, b_) == 0;
  }

  void set_src_port(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data(), v); }
  void set_dst_port(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 2, v); }
  void set_seq_number(std::uint32_t v) const requires detail::kIsMutable<Byte> { detail::store_be32(b_.data() + 4, v); }
  void set_ack_number(std::uint32_t v) const requires detail::kIsMutable<Byte> { detail::store_be32(b_.data() + 8, v); }
  void set_flags(TcpFlags f) const requires detail::kIsMutable<Byte> { detail::store_u8(b_.data() + 13, f.bits); }
  void set_window(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 14, v); }
  void set_checksum(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 16, v); }
  void set_urgent_pointer(std::uint16_t v) const requires detail::kIsMutable<Byte> {
    detail::store_be16(b_.data() + 18, v);
  }
  // Recomputes the checksum over the whole segment (what a NIC with TX checksum offload does).
  void fill_checksum(const IpAddress& src, const IpAddress& dst) const requires detail::kIsMutable<Byte> {
    set_checksum(0);
    set_checksum(l4_checksum(src, dst, ip_protocol::kTcp, b_));
  }

 private:
  template <class>
  friend class BasicTcpView;
  explicit BasicTcpView(std::span<Byte> b) : b_(b), len_(b.size()) {}
  BasicTcpView(std::span<Byte> b, std::size_t len) : b_(b), len_(len) {}
  std::span<Byte> b_;
  std::size_t len_;  // the segment's length (b_ may hold only a prefix)
};

using TcpView = BasicTcpView<const std::byte>;
using TcpViewMut = BasicTcpView<std::byte>;

struct TcpRepr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq_number = 0;
  std::uint32_t ack_number = 0;
  TcpFlags flags;
  std::uint16_t window = 0;  // as on the wire (unscaled)
  std::uint16_t urgent_pointer = 0;
  TcpOptions options;
  std::span<const std::byte> payload;

  // Verifies the checksum when caps.tcp.verify_rx and the view holds the whole segment
  // (kBadChecksum), then parses the options. From a prefix view, `payload` holds only the
  // payload bytes present; the segment's payload length is view.payload_len().
  static WireResult<TcpRepr> parse(const TcpView& view, const IpAddress& src, const IpAddress& dst,
                                   const ChecksumCaps& caps);
  std::size_t header_len() const { return TcpView::kMinHeaderLen + options.emitted_len(); }
  std::size_t buffer_len() const { return header_len() + payload.size(); }
  // Writes header, options and payload (the payload may already sit at out[header_len()..]);
  // fills the checksum when caps.tcp.fill_tx, else writes 0. Asserts out.size() >= buffer_len().
  void emit(std::span<std::byte> out, const IpAddress& src, const IpAddress& dst, const ChecksumCaps& caps) const;
  // Writes the header and options only (header_len() bytes), for a payload that lives elsewhere
  // (skb frags, device memory). `payload` is ignored; the segment is taken to carry
  // `payload_len` bytes whose RFC 1071 sum (ChecksumAccumulator::sum() over them) is
  // `payload_sum`. Fills the checksum when caps.tcp.fill_tx, else writes 0.
  void emit_header(std::span<std::byte> out, const IpAddress& src, const IpAddress& dst, std::size_t payload_len,
                   std::uint16_t payload_sum, const ChecksumCaps& caps) const;

  // Equal when every field and the payload bytes (not their addresses) are equal.
  friend bool operator==(const TcpRepr& a, const TcpRepr& b);
};

}  // namespace nicemu::netstack::wire
