#include "nicemu/netstack/wire/ethernet.hpp"

namespace nicemu::netstack::wire {

WireResult<EthernetRepr> EthernetRepr::parse(const EthernetView& view) {
  EthernetRepr r;
  r.dst = view.dst();
  r.src = view.src();
  r.vlan_count = static_cast<std::uint8_t>(view.vlan_count());
  for (std::size_t i = 0; i < view.vlan_count(); ++i) r.vlans[i] = view.vlan(i);
  r.ethertype = view.ethertype();
  if (r.ethertype < ethertype::kMinEtherType) return wire_error(WireError::kUnsupported);
  return r;
}

void EthernetRepr::emit(std::span<std::byte> out) const {
  NICEMU_ASSERT(vlan_count <= EthernetView::kMaxTags, "EthernetRepr: at most two VLAN tags");
  NICEMU_ASSERT(out.size() >= buffer_len(), "EthernetRepr::emit: buffer shorter than buffer_len()");
  std::byte* p = out.data();
  dst.write(p);
  src.write(p + 6);
  p += 12;
  for (std::size_t i = 0; i < vlan_count; ++i) {
    const VlanTag& t = vlans[i];
    NICEMU_ASSERT(ethertype::is_vlan_tpid(t.tpid), "EthernetRepr: a VLAN tag's TPID must be 0x8100 or 0x88a8");
    NICEMU_ASSERT(t.pcp <= 7 && t.vid <= 0x0fff, "EthernetRepr: PCP is 3 bits and VID 12 bits");
    detail::store_be16(p, t.tpid);
    detail::store_be16(p + 2, static_cast<std::uint16_t>((t.pcp << 13) | (t.dei ? 0x1000 : 0) | t.vid));
    p += EthernetView::kTagLen;
  }
  detail::store_be16(p, ethertype);
}

}  // namespace nicemu::netstack::wire
