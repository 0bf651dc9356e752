#include "nicemu/netstack/wire/ipv4.hpp"

#include "nicemu/base/assert.hpp"

namespace nicemu::netstack::wire {

WireResult<Ipv4Repr> Ipv4Repr::parse(const Ipv4View& view, const ChecksumCaps& caps) {
  // ip_rcv_core verifies the checksum before ip_local_deliver looks at fragments.
  if (caps.ipv4.verify_rx && !view.verify_checksum()) return wire_error(WireError::kBadChecksum);
  if (view.is_fragment()) return wire_error(WireError::kFragment);
  Ipv4Repr r;
  r.src = view.src();
  r.dst = view.dst();
  r.protocol = view.protocol();
  r.payload_len = static_cast<std::uint16_t>(view.total_len() - view.header_len());
  r.ttl = view.ttl();
  r.dscp = view.dscp();
  r.ecn = view.ecn();
  r.ident = view.ident();
  r.dont_fragment = view.dont_fragment();
  return r;
}

void Ipv4Repr::emit(std::span<std::byte> out, const ChecksumCaps& caps) const {
  NICEMU_ASSERT(out.size() >= kHeaderLen, "Ipv4Repr::emit: buffer shorter than 20 bytes");
  NICEMU_ASSERT(payload_len <= 0xffff - kHeaderLen, "Ipv4Repr: payload_len + 20 must fit the 16-bit total length");
  NICEMU_ASSERT(dscp < 64 && ecn < 4, "Ipv4Repr: DSCP is 6 bits and ECN 2 bits");
  std::byte* p = out.data();
  detail::store_u8(p, 0x45);  // version 4, IHL 5
  detail::store_u8(p + 1, static_cast<std::uint8_t>((dscp << 2) | ecn));
  detail::store_be16(p + 2, static_cast<std::uint16_t>(kHeaderLen + payload_len));
  detail::store_be16(p + 4, ident);
  detail::store_be16(p + 6, dont_fragment ? std::uint16_t{0x4000} : std::uint16_t{0});
  detail::store_u8(p + 8, ttl);
  detail::store_u8(p + 9, protocol);
  detail::store_be16(p + 10, 0);
  src.write(p + 12);
  dst.write(p + 16);
  if (caps.ipv4.fill_tx) detail::store_be16(p + 10, internet_checksum(out.first(kHeaderLen)));
}

}  // namespace nicemu::netstack::wire
