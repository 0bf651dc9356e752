// nicemu/netstack/wire/udp.hpp — UDP datagrams.
//
// Models: ports, length (≥ 8 and within the segment the IP layer delimits; the IP payload may
//   be longer and the excess is ignored, as udp_rcv trims it), the checksum under the
//   pseudo-header: 0 means "none" over IPv4 (RFC 768) and is an error over IPv6 (RFC 8200 §8.1
//   → kBadChecksum, whatever the caps say); a computed 0 is sent as 0xffff.
// Not modelled: UDP-Lite, zero-checksum IPv6 tunnels (RFC 6935, UDP_NO_CHECK6_RX), GSO/GRO
//   segmentation.
// References: RFC 768; RFC 8200 §8.1; include/uapi/linux/udp.h (struct udphdr); net/ipv4/udp.c
//   (__udp4_lib_rcv), net/ipv6/udp.c (udp6_csum_zero_error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/error.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"

namespace nicemu::netstack::wire {

template <class Byte>
class BasicUdpView {
  static_assert(detail::kIsByte<Byte>);

 public:
  static constexpr std::size_t kHeaderLen = 8;

  // `bytes` is the IP payload. Header present (kTruncated); length field ≥ 8 and ≤ bytes
  // (kBadLength).
  static WireResult<BasicUdpView> check(std::span<Byte> bytes) {
    if (bytes.size() < kHeaderLen) return wire_error(WireError::kTruncated);
    const BasicUdpView v(bytes);
    if (v.length() < kHeaderLen) return wire_error(WireError::kBadLength);
    if (v.length() > bytes.size()) return wire_error(WireError::kBadLength);
    return v;
  }
  // For a datagram whose payload is not in `prefix` (see BasicIpv4View's prefix check): the
  // 8-byte header is in `prefix` (kTruncated), and the UDP length is within `segment_len`, the
  // length the IP layer delimits (kBadLength). payload() spans only the bytes present; the
  // checksum is the caller's to verify over the whole datagram.
  static WireResult<BasicUdpView> check(std::span<Byte> prefix, std::size_t segment_len) {
    if (prefix.size() < kHeaderLen) return wire_error(WireError::kTruncated);
    const BasicUdpView v(prefix);
    if (v.length() < kHeaderLen) return wire_error(WireError::kBadLength);
    if (v.length() > segment_len) return wire_error(WireError::kBadLength);
    return v;
  }
  // The whole datagram is in the view (not only a prefix).
  bool complete() const { return b_.size() >= length(); }
  std::size_t payload_len() const { return std::size_t{length()} - kHeaderLen; }
  // A read-only view of the same bytes (implicit: widening to const).
  operator BasicUdpView<const std::byte>() const requires detail::kIsMutable<Byte> {  // NOLINT
    return BasicUdpView<const std::byte>(b_);
  }

  std::uint16_t src_port() const { return detail::load_be16(b_.data()); }
  std::uint16_t dst_port() const { return detail::load_be16(b_.data() + 2); }
  std::uint16_t length() const { return detail::load_be16(b_.data() + 4); }
  std::uint16_t checksum() const { return detail::load_be16(b_.data() + 6); }
  // The datagram as its length field delimits it: [0, length).
  std::span<Byte> datagram() const { return b_.first(length()); }
  std::span<Byte> payload() const {
    const std::size_t end = std::size_t{length()} < b_.size() ? std::size_t{length()} : b_.size();
    return b_.subspan(kHeaderLen, end - kHeaderLen);
  }
  std::span<Byte> bytes() const { return b_; }
  // A zero checksum field "verifies" only over IPv4 (no checksum).
  bool verify_checksum(const IpAddress& src, const IpAddress& dst) const {
    if (checksum() == 0) return src.is_v4();
    NICEMU_ASSERT(complete(), "UdpView::verify_checksum on a prefix view: sum the payload where it lives");
    return l4_checksum(src, dst, ip_protocol::kUdp, datagram()) == 0;
  }

  void set_src_port(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data(), v); }
  void set_dst_port(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 2, v); }
  void set_checksum(std::uint16_t v) const requires detail::kIsMutable<Byte> { detail::store_be16(b_.data() + 6, v); }
  void fill_checksum(const IpAddress& src, const IpAddress& dst) const requires detail::kIsMutable<Byte> {
    set_checksum(0);
    const std::uint16_t c = l4_checksum(src, dst, ip_protocol::kUdp, datagram());
    set_checksum(c == 0 ? std::uint16_t{0xffff} : c);
  }

 private:
  template <class>
  friend class BasicUdpView;
  explicit BasicUdpView(std::span<Byte> b) : b_(b) {}
  std::span<Byte> b_;
};

using UdpView = BasicUdpView<const std::byte>;
using UdpViewMut = BasicUdpView<std::byte>;

struct UdpRepr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::span<const std::byte> payload;

  // Zero checksum: accepted over IPv4, kBadChecksum over IPv6. Otherwise verified when
  // caps.udp.verify_rx.
  static WireResult<UdpRepr> parse(const UdpView& view, const IpAddress& src, const IpAddress& dst,
                                   const ChecksumCaps& caps);
  std::size_t buffer_len() const { return UdpView::kHeaderLen + payload.size(); }
  // Writes header and payload (the payload may already sit at out[8..]); fills the checksum when
  // caps.udp.fill_tx, else writes 0 (over IPv6 the NIC must then fill it: 0 is invalid there).
  // Asserts out is large enough and the datagram fits 65535 bytes.
  void emit(std::span<std::byte> out, const IpAddress& src, const IpAddress& dst, const ChecksumCaps& caps) const;

  friend bool operator==(const UdpRepr& a, const UdpRepr& b);
};

}  // namespace nicemu::netstack::wire
