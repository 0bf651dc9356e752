#include "nicemu/netstack/wire/udp.hpp"

#include <algorithm>
#include <cstring>

#include "nicemu/base/assert.hpp"

namespace nicemu::netstack::wire {

WireResult<UdpRepr> UdpRepr::parse(const UdpView& view, const IpAddress& src, const IpAddress& dst,
                                   const ChecksumCaps& caps) {
  if (view.checksum() == 0) {
    // RFC 8200 §8.1: a zero UDP checksum over IPv6 is discarded; over IPv4 it means "none".
    if (!src.is_v4()) return wire_error(WireError::kBadChecksum);
  } else if (caps.udp.verify_rx && view.complete() && !view.verify_checksum(src, dst)) {
    return wire_error(WireError::kBadChecksum);
  }
  UdpRepr r;
  r.src_port = view.src_port();
  r.dst_port = view.dst_port();
  r.payload = view.payload();
  return r;
}

void UdpRepr::emit(std::span<std::byte> out, const IpAddress& src, const IpAddress& dst,
                   const ChecksumCaps& caps) const {
  const std::size_t total = buffer_len();
  NICEMU_ASSERT(total <= 0xffff, "UdpRepr: the datagram must fit the 16-bit length field");
  NICEMU_ASSERT(out.size() >= total, "UdpRepr::emit: buffer shorter than buffer_len()");
  std::byte* p = out.data();
  if (!payload.empty() && payload.data() != p + UdpView::kHeaderLen) {
    std::memmove(p + UdpView::kHeaderLen, payload.data(), payload.size());
  }
  detail::store_be16(p, src_port);
  detail::store_be16(p + 2, dst_port);
  detail::store_be16(p + 4, static_cast<std::uint16_t>(total));
  detail::store_be16(p + 6, 0);
  if (caps.udp.fill_tx) {
    const std::uint16_t c = l4_checksum(src, dst, ip_protocol::kUdp, out.first(total));
    detail::store_be16(p + 6, c == 0 ? std::uint16_t{0xffff} : c);  // RFC 768: 0 means "none"
  }
}

bool operator==(const UdpRepr& a, const UdpRepr& b) {
  return a.src_port == b.src_port && a.dst_port == b.dst_port && std::ranges::equal(a.payload, b.payload);
}

}  // namespace nicemu::netstack::wire
