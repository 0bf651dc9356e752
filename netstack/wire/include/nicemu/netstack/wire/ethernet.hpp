// nicemu/netstack/wire/ethernet.hpp — Ethernet II frames with up to two VLAN tags.
//
// Models: the Ethernet II header (destination, source, EtherType), 802.1Q customer tags (TPID
//   0x8100) and 802.1ad service tags (TPID 0x88A8), stacked up to two deep (QinQ), each with
//   PCP, DEI and VID; the EtherType after the tags names the payload.
// Not modelled: the FCS (the link model accounts for it), minimum-frame padding on emit (the
//   NIC pads to 60 bytes), 802.3 length/LLC frames (EtherType < 0x0600 → kUnsupported in the
//   Repr), the pre-standard QinQ TPID 0x9100, more than two tags (kUnsupported).
// References: IEEE 802.3 §3.2; IEEE 802.1Q §9.6 (tag format); include/uapi/linux/if_ether.h
//   (ETH_P_IP, ETH_P_ARP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD), include/linux/if_vlan.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/error.hpp"

namespace nicemu::netstack::wire {

namespace ethertype {
inline constexpr std::uint16_t kIpv4 = 0x0800;          // ETH_P_IP
inline constexpr std::uint16_t kArp = 0x0806;           // ETH_P_ARP
inline constexpr std::uint16_t kVlan = 0x8100;          // ETH_P_8021Q
inline constexpr std::uint16_t kIpv6 = 0x86dd;          // ETH_P_IPV6
inline constexpr std::uint16_t kQinQ = 0x88a8;          // ETH_P_8021AD
inline constexpr std::uint16_t kMinEtherType = 0x0600;  // below: an 802.3 length field
inline constexpr bool is_vlan_tpid(std::uint16_t t) { return t == kVlan || t == kQinQ; }
}  // namespace ethertype

// One 802.1Q/802.1ad tag: TPID, then TCI = PCP(3) DEI(1) VID(12).
struct VlanTag {
  std::uint16_t tpid = ethertype::kVlan;
  std::uint8_t pcp = 0;   // priority code point, 0..7
  bool dei = false;       // drop eligible
  std::uint16_t vid = 0;  // 0..4095
  friend bool operator==(const VlanTag&, const VlanTag&) = default;
};

struct EthernetRepr;

template <class Byte>
class BasicEthernetView {
  static_assert(detail::kIsByte<Byte>);

 public:
  static constexpr std::size_t kHeaderLen = 14;  // without tags
  static constexpr std::size_t kTagLen = 4;
  static constexpr std::size_t kMaxTags = 2;

  // Checks the frame holds the header and every tag it announces (at most kMaxTags).
  static WireResult<BasicEthernetView> check(std::span<Byte> bytes) {
    if (bytes.size() < kHeaderLen) return wire_error(WireError::kTruncated);
    std::uint8_t tags = 0;
    while (ethertype::is_vlan_tpid(detail::load_be16(bytes.data() + 12 + kTagLen * tags))) {
      if (tags == kMaxTags) return wire_error(WireError::kUnsupported);
      ++tags;
      if (bytes.size() < kHeaderLen + kTagLen * tags) return wire_error(WireError::kTruncated);
    }
    return BasicEthernetView(bytes, tags);
  }

  // A read-only view of the same bytes (implicit: widening to const).
  operator BasicEthernetView<const std::byte>() const requires detail::kIsMutable<Byte> {  // NOLINT
    return BasicEthernetView<const std::byte>(b_, tags_);
  }

  MacAddress dst() const { return MacAddress::read(b_.data()); }
  MacAddress src() const { return MacAddress::read(b_.data() + 6); }
  std::size_t vlan_count() const { return tags_; }
  // Tag i, outermost first.
  VlanTag vlan(std::size_t i) const {
    NICEMU_ASSERT(i < tags_, "EthernetView::vlan: no such tag");
    const std::byte* p = b_.data() + 12 + kTagLen * i;
    const std::uint16_t tci = detail::load_be16(p + 2);
    return VlanTag{detail::load_be16(p), static_cast<std::uint8_t>(tci >> 13), (tci & 0x1000u) != 0,
                   static_cast<std::uint16_t>(tci & 0x0fffu)};
  }
  // The EtherType after the tags.
  std::uint16_t ethertype() const { return detail::load_be16(b_.data() + header_len() - 2); }
  std::size_t header_len() const { return kHeaderLen + kTagLen * tags_; }
  std::span<Byte> payload() const { return b_.subspan(header_len()); }
  std::span<Byte> bytes() const { return b_; }

  void set_dst(const MacAddress& a) const requires detail::kIsMutable<Byte> { a.write(b_.data()); }
  void set_src(const MacAddress& a) const requires detail::kIsMutable<Byte> { a.write(b_.data() + 6); }
  void set_ethertype(std::uint16_t t) const requires detail::kIsMutable<Byte> {
    detail::store_be16(b_.data() + header_len() - 2, t);
  }

 private:
  template <class>
  friend class BasicEthernetView;
  BasicEthernetView(std::span<Byte> b, std::uint8_t tags) : b_(b), tags_(tags) {}
  std::span<Byte> b_;
  std::uint8_t tags_ = 0;
};

using EthernetView = BasicEthernetView<const std::byte>;
using EthernetViewMut = BasicEthernetView<std::byte>;

struct EthernetRepr {
  MacAddress dst;
  MacAddress src;
  std::array<VlanTag, 2> vlans{};  // outermost first; entries past vlan_count are default
  std::uint8_t vlan_count = 0;
  std::uint16_t ethertype = 0;

  // kUnsupported for an 802.3 length field (EtherType < 0x0600).
  static WireResult<EthernetRepr> parse(const EthernetView& view);
  // The header bytes emit() writes (the payload follows, written by the next layer).
  std::size_t buffer_len() const { return EthernetView::kHeaderLen + EthernetView::kTagLen * vlan_count; }
  // Writes the header into out[0, buffer_len()). Asserts the buffer is large enough and the tags
  // are valid (TPID 0x8100/0x88A8, PCP ≤ 7, VID ≤ 4095).
  void emit(std::span<std::byte> out) const;

  friend bool operator==(const EthernetRepr&, const EthernetRepr&) = default;
};

}  // namespace nicemu::netstack::wire
