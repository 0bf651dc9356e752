// nicemu/netstack/wire/arp.hpp — ARP packets.
//
// Models: the ARP packet layout with its self-described address lengths (the view is generic),
//   and Ethernet/IPv4 ARP requests and replies (the Repr), as Linux's arp_rcv() accepts them.
// Not modelled: RARP, InARP, ARP over other hardware or protocol types (→ kUnsupported), the
//   gratuitous/probe distinction (a request whose sender IP is 0 or equals the target IP; the
//   stack looks at the addresses).
// References: RFC 826; include/uapi/linux/if_arp.h (struct arphdr, ARPHRD_ETHER, ARPOP_*).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/error.hpp"

namespace nicemu::netstack::wire {

enum class ArpOperation : std::uint16_t { kRequest = 1, kReply = 2 };  // ARPOP_REQUEST, ARPOP_REPLY

namespace arp {
inline constexpr std::uint16_t kHardwareEthernet = 1;  // ARPHRD_ETHER
}  // namespace arp

template <class Byte>
class BasicArpView {
  static_assert(detail::kIsByte<Byte>);

 public:
  static constexpr std::size_t kFixedLen = 8;  // htype, ptype, hlen, plen, oper

  // Checks the fixed part and the four addresses its lengths announce.
  static WireResult<BasicArpView> check(std::span<Byte> bytes) {
    if (bytes.size() < kFixedLen) return wire_error(WireError::kTruncated);
    const BasicArpView v(bytes);
    if (bytes.size() < v.packet_len()) return wire_error(WireError::kTruncated);
    return v;
  }
  // A read-only view of the same bytes (implicit: widening to const).
  operator BasicArpView<const std::byte>() const requires detail::kIsMutable<Byte> {  // NOLINT
    return BasicArpView<const std::byte>(b_);
  }

  std::uint16_t hardware_type() const { return detail::load_be16(b_.data()); }
  std::uint16_t protocol_type() const { return detail::load_be16(b_.data() + 2); }
  std::uint8_t hardware_len() const { return detail::load_u8(b_.data() + 4); }
  std::uint8_t protocol_len() const { return detail::load_u8(b_.data() + 5); }
  std::uint16_t operation() const { return detail::load_be16(b_.data() + 6); }
  std::size_t packet_len() const { return kFixedLen + 2 * (std::size_t{hardware_len()} + protocol_len()); }
  std::span<Byte> sender_hardware_addr() const { return b_.subspan(kFixedLen, hardware_len()); }
  std::span<Byte> sender_protocol_addr() const { return b_.subspan(kFixedLen + hardware_len(), protocol_len()); }
  std::span<Byte> target_hardware_addr() const {
    return b_.subspan(kFixedLen + std::size_t{hardware_len()} + protocol_len(), hardware_len());
  }
  std::span<Byte> target_protocol_addr() const {
    return b_.subspan(kFixedLen + 2 * std::size_t{hardware_len()} + protocol_len(), protocol_len());
  }
  std::span<Byte> bytes() const { return b_; }

 private:
  template <class>
  friend class BasicArpView;
  explicit BasicArpView(std::span<Byte> b) : b_(b) {}
  std::span<Byte> b_;
};

using ArpView = BasicArpView<const std::byte>;
using ArpViewMut = BasicArpView<std::byte>;

// An Ethernet/IPv4 ARP request or reply.
struct ArpRepr {
  static constexpr std::size_t kLen = 28;

  ArpOperation operation = ArpOperation::kRequest;
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;
  Ipv4Address target_ip;

  // kUnsupported unless htype 1 / ptype 0x0800 / hlen 6 / plen 4 and a request or reply.
  static WireResult<ArpRepr> parse(const ArpView& view);
  std::size_t buffer_len() const { return kLen; }
  void emit(std::span<std::byte> out) const;  // asserts out.size() >= kLen

  friend bool operator==(const ArpRepr&, const ArpRepr&) = default;
};

}  // namespace nicemu::netstack::wire
