#include "nicemu/netstack/wire/ipv6.hpp"

#include "nicemu/base/assert.hpp"

namespace nicemu::netstack::wire {

WireResult<Ipv6ExtensionHeaderView> Ipv6ExtensionHeaderView::check(std::uint8_t kind,
                                                                   std::span<const std::byte> bytes) {
  if (!is_ipv6_extension_header(kind)) return wire_error(WireError::kUnsupported);
  if (bytes.size() < 2) return wire_error(WireError::kTruncated);
  const std::size_t len_field = detail::load_u8(bytes.data() + 1);
  std::size_t len = 0;
  switch (kind) {
    case ip_protocol::kFragment:
      len = 8;
      break;  // fixed size (RFC 8200 §4.5)
    case ip_protocol::kAh:
      len = (len_field + 2) * 4;
      break;  // RFC 4302 §2.2
    default:
      len = (len_field + 1) * 8;
      break;  // RFC 8200 §4.3, §4.4, §4.6
  }
  if (len > bytes.size()) return wire_error(WireError::kTruncated);
  return Ipv6ExtensionHeaderView(kind, bytes.first(len));
}

WireResult<Ipv6UpperLayer> ipv6_upper_layer(const Ipv6View& view) {
  const std::span<const std::byte> packet = view.bytes().first(Ipv6View::kHeaderLen + view.payload_len());
  std::uint8_t nh = view.next_header();
  std::size_t offset = Ipv6View::kHeaderLen;
  std::uint8_t count = 0;
  while (is_ipv6_extension_header(nh)) {
    // RFC 8200 §4.1: Hop-by-Hop appears only immediately after the fixed header.
    if (nh == ip_protocol::kHopByHop && count != 0) return wire_error(WireError::kMalformed);
    if (count == kMaxIpv6ExtensionHeaders) return wire_error(WireError::kTooManyExtensions);
    auto ext = Ipv6ExtensionHeaderView::check(nh, packet.subspan(offset));
    if (!ext) return wire_error(ext.error());
    if (nh == ip_protocol::kFragment) return wire_error(WireError::kFragment);
    nh = ext.value().next_header();
    offset += ext.value().header_len();
    ++count;
  }
  return Ipv6UpperLayer{nh, offset, count, packet.subspan(offset)};
}

WireResult<Ipv6Repr> Ipv6Repr::parse(const Ipv6View& view) {
  Ipv6Repr r;
  r.src = view.src();
  r.dst = view.dst();
  r.next_header = view.next_header();
  r.payload_len = view.payload_len();
  r.hop_limit = view.hop_limit();
  r.traffic_class = view.traffic_class();
  r.flow_label = view.flow_label();
  return r;
}

void Ipv6Repr::emit(std::span<std::byte> out) const {
  NICEMU_ASSERT(out.size() >= kHeaderLen, "Ipv6Repr::emit: buffer shorter than 40 bytes");
  NICEMU_ASSERT(flow_label <= 0x000fffffu, "Ipv6Repr: the flow label is 20 bits");
  std::byte* p = out.data();
  detail::store_be32(p, (std::uint32_t{6} << 28) | (std::uint32_t{traffic_class} << 20) | flow_label);
  detail::store_be16(p + 4, payload_len);
  detail::store_u8(p + 6, next_header);
  detail::store_u8(p + 7, hop_limit);
  src.write(p + 8);
  dst.write(p + 24);
}

}  // namespace nicemu::netstack::wire
