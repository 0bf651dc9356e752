#include "nicemu/netstack/wire/arp.hpp"

#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"

namespace nicemu::netstack::wire {

WireResult<ArpRepr> ArpRepr::parse(const ArpView& view) {
  if (view.hardware_type() != arp::kHardwareEthernet || view.protocol_type() != ethertype::kIpv4 ||
      view.hardware_len() != 6 || view.protocol_len() != 4) {
    return wire_error(WireError::kUnsupported);
  }
  const std::uint16_t op = view.operation();
  if (op != static_cast<std::uint16_t>(ArpOperation::kRequest) &&
      op != static_cast<std::uint16_t>(ArpOperation::kReply)) {
    return wire_error(WireError::kUnsupported);
  }
  ArpRepr r;
  r.operation = static_cast<ArpOperation>(op);
  r.sender_mac = MacAddress::read(view.sender_hardware_addr().data());
  r.sender_ip = Ipv4Address::read(view.sender_protocol_addr().data());
  r.target_mac = MacAddress::read(view.target_hardware_addr().data());
  r.target_ip = Ipv4Address::read(view.target_protocol_addr().data());
  return r;
}

void ArpRepr::emit(std::span<std::byte> out) const {
  NICEMU_ASSERT(out.size() >= kLen, "ArpRepr::emit: buffer shorter than 28 bytes");
  std::byte* p = out.data();
  detail::store_be16(p, arp::kHardwareEthernet);
  detail::store_be16(p + 2, ethertype::kIpv4);
  detail::store_u8(p + 4, 6);
  detail::store_u8(p + 5, 4);
  detail::store_be16(p + 6, static_cast<std::uint16_t>(operation));
  sender_mac.write(p + 8);
  sender_ip.write(p + 14);
  target_mac.write(p + 18);
  target_ip.write(p + 24);
}

}  // namespace nicemu::netstack::wire
