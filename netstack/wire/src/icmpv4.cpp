#include "nicemu/netstack/wire/icmpv4.hpp"

#include <algorithm>
#include <cstring>

#include "nicemu/base/assert.hpp"

namespace nicemu::netstack::wire {

WireResult<Icmpv4Repr> Icmpv4Repr::parse(const Icmpv4View& view, const ChecksumCaps& caps) {
  if (caps.icmpv4.verify_rx && !view.verify_checksum()) return wire_error(WireError::kBadChecksum);
  Icmpv4Repr r;
  r.type = view.type();
  r.code = view.code();
  r.data = view.data();
  switch (r.type) {
    case Icmpv4Type::kEchoRequest:
    case Icmpv4Type::kEchoReply:
      r.echo_ident = view.echo_ident();
      r.echo_seq = view.echo_seq();
      break;
    case Icmpv4Type::kDestUnreachable: {
      // icmp_unreach(): the quoted datagram must start with a usable IPv4 header.
      const auto quoted = view.data();
      if (quoted.size() < 20) return wire_error(WireError::kMalformed);
      const std::uint8_t vihl = detail::load_u8(quoted.data());
      if ((vihl >> 4) != 4 || (vihl & 0x0fu) < 5) return wire_error(WireError::kMalformed);
      if (r.code == icmpv4_code::kFragNeeded) r.next_hop_mtu = view.next_hop_mtu();
      break;
    }
    default:
      r.rest_of_header = view.rest_of_header();
      break;
  }
  return r;
}

void Icmpv4Repr::emit(std::span<std::byte> out, const ChecksumCaps& caps) const {
  NICEMU_ASSERT(out.size() >= buffer_len(), "Icmpv4Repr::emit: buffer shorter than buffer_len()");
  std::byte* p = out.data();
  // Data first: it may overlap the header's bytes when the caller built it in place.
  if (!data.empty() && data.data() != p + Icmpv4View::kHeaderLen) {
    std::memmove(p + Icmpv4View::kHeaderLen, data.data(), data.size());
  }
  detail::store_u8(p, static_cast<std::uint8_t>(type));
  detail::store_u8(p + 1, code);
  detail::store_be16(p + 2, 0);
  switch (type) {
    case Icmpv4Type::kEchoRequest:
    case Icmpv4Type::kEchoReply:
      detail::store_be16(p + 4, echo_ident);
      detail::store_be16(p + 6, echo_seq);
      break;
    case Icmpv4Type::kDestUnreachable:
      detail::store_be16(p + 4, 0);
      detail::store_be16(p + 6, next_hop_mtu);
      break;
    default:
      detail::store_be32(p + 4, rest_of_header);
      break;
  }
  if (caps.icmpv4.fill_tx) detail::store_be16(p + 2, internet_checksum(out.first(buffer_len())));
}

bool operator==(const Icmpv4Repr& a, const Icmpv4Repr& b) {
  return a.type == b.type && a.code == b.code && a.echo_ident == b.echo_ident && a.echo_seq == b.echo_seq &&
         a.next_hop_mtu == b.next_hop_mtu && a.rest_of_header == b.rest_of_header && std::ranges::equal(a.data, b.data);
}

}  // namespace nicemu::netstack::wire
