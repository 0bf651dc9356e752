#include "nicemu/netstack/wire/icmpv6.hpp"

#include <algorithm>
#include <cstring>

#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"

namespace nicemu::netstack::wire {
namespace {

constexpr std::size_t kLinkLayerOptionLen = 8;  // type, length 1, 6-byte MAC (RFC 2464 §6)

// Walks NDP options (RFC 4861 §4.6: length in units of 8 octets, 0 is invalid) and returns the
// link-layer address of the wanted type, if present. Other options are skipped.
WireResult<std::optional<MacAddress>> parse_link_layer_option(std::span<const std::byte> opts, std::uint8_t wanted) {
  std::optional<MacAddress> found;
  std::size_t i = 0;
  while (i < opts.size()) {
    if (opts.size() - i < 2) return wire_error(WireError::kBadOption);
    const std::uint8_t type = detail::load_u8(opts.data() + i);
    const std::size_t len = std::size_t{detail::load_u8(opts.data() + i + 1)} * 8;
    if (len == 0 || len > opts.size() - i) return wire_error(WireError::kBadOption);
    if (type == wanted) {
      if (len != kLinkLayerOptionLen) return wire_error(WireError::kBadOption);
      found = MacAddress::read(opts.data() + i + 2);
    }
    i += len;
  }
  return found;
}

}  // namespace

WireResult<Icmpv6Repr> Icmpv6Repr::parse(const Icmpv6View& view, const Ipv6Address& src, const Ipv6Address& dst,
                                         const ChecksumCaps& caps) {
  if (caps.icmpv6.verify_rx && !view.verify_checksum(src, dst)) return wire_error(WireError::kBadChecksum);
  Icmpv6Repr r;
  r.type = view.type();
  r.code = view.code();
  switch (r.type) {
    case Icmpv6Type::kEchoRequest:
    case Icmpv6Type::kEchoReply:
      r.echo_ident = view.echo_ident();
      r.echo_seq = view.echo_seq();
      r.data = view.data();
      break;
    case Icmpv6Type::kNeighbourSolicitation:
    case Icmpv6Type::kNeighbourAdvertisement: {
      const auto b = view.bytes();
      if (b.size() < Icmpv6View::kNeighbourMessageLen) return wire_error(WireError::kTruncated);
      if (r.code != 0) return wire_error(WireError::kMalformed);
      r.target = Ipv6Address::read(b.data() + 8);
      if (r.target.is_multicast()) return wire_error(WireError::kMalformed);
      const bool is_ns = r.type == Icmpv6Type::kNeighbourSolicitation;
      if (!is_ns) {
        r.router_flag = view.router_flag();
        r.solicited_flag = view.solicited_flag();
        r.override_flag = view.override_flag();
      }
      auto lla = parse_link_layer_option(b.subspan(Icmpv6View::kNeighbourMessageLen),
                                         is_ns ? ndp_option::kSourceLinkLayerAddr : ndp_option::kTargetLinkLayerAddr);
      if (!lla) return wire_error(lla.error());
      r.link_layer_addr = lla.value();
      break;
    }
    default:
      r.rest_of_header = view.rest_of_header();
      r.data = view.data();
      break;
  }
  return r;
}

std::size_t Icmpv6Repr::buffer_len() const {
  if (is_neighbour_message()) {
    return Icmpv6View::kNeighbourMessageLen + (link_layer_addr ? kLinkLayerOptionLen : 0);
  }
  return Icmpv6View::kHeaderLen + data.size();
}

void Icmpv6Repr::emit(std::span<std::byte> out, const Ipv6Address& src, const Ipv6Address& dst,
                      const ChecksumCaps& caps) const {
  const std::size_t len = buffer_len();
  NICEMU_ASSERT(out.size() >= len, "Icmpv6Repr::emit: buffer shorter than buffer_len()");
  std::byte* p = out.data();
  if (!is_neighbour_message() && !data.empty() && data.data() != p + Icmpv6View::kHeaderLen) {
    std::memmove(p + Icmpv6View::kHeaderLen, data.data(), data.size());
  }
  detail::store_u8(p, static_cast<std::uint8_t>(type));
  detail::store_u8(p + 1, code);
  detail::store_be16(p + 2, 0);
  if (is_echo()) {
    detail::store_be16(p + 4, echo_ident);
    detail::store_be16(p + 6, echo_seq);
  } else if (is_neighbour_message()) {
    const bool is_ns = type == Icmpv6Type::kNeighbourSolicitation;
    std::uint8_t flags = 0;
    if (!is_ns) {
      flags = static_cast<std::uint8_t>((router_flag ? 0x80u : 0u) | (solicited_flag ? 0x40u : 0u) |
                                        (override_flag ? 0x20u : 0u));
    }
    detail::store_u8(p + 4, flags);
    detail::store_u8(p + 5, 0);
    detail::store_be16(p + 6, 0);
    target.write(p + 8);
    if (link_layer_addr) {
      std::byte* o = p + Icmpv6View::kNeighbourMessageLen;
      detail::store_u8(o, is_ns ? ndp_option::kSourceLinkLayerAddr : ndp_option::kTargetLinkLayerAddr);
      detail::store_u8(o + 1, 1);
      link_layer_addr->write(o + 2);
    }
  } else {
    detail::store_be32(p + 4, rest_of_header);
  }
  if (caps.icmpv6.fill_tx) {
    ChecksumAccumulator acc;
    add_ipv6_pseudo_header(acc, src, dst, ip_protocol::kIcmpv6, static_cast<std::uint32_t>(len));
    acc.add(out.first(len));
    detail::store_be16(p + 2, acc.checksum());
  }
}

bool operator==(const Icmpv6Repr& a, const Icmpv6Repr& b) {
  return a.type == b.type && a.code == b.code && a.echo_ident == b.echo_ident && a.echo_seq == b.echo_seq &&
         a.target == b.target && a.router_flag == b.router_flag && a.solicited_flag == b.solicited_flag &&
         a.override_flag == b.override_flag && a.link_layer_addr == b.link_layer_addr &&
         a.rest_of_header == b.rest_of_header && std::ranges::equal(a.data, b.data);
}

}  // namespace nicemu::netstack::wire
