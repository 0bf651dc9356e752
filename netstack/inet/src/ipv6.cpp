// IPv6 receive and output (net/ipv6/ip6_input.c, ip6_output.c, exthdrs.c) and ICMPv6 echo and
// errors (net/ipv6/icmp.c). Neighbour discovery is ndisc.cpp.
#include <vector>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/icmpv6.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::IpAddress;
using wire::Ipv6Address;
using wire::MacAddress;

void NetStack::ipv6_rcv(std::size_t iface, SkBuff* skb, sim::TimePoint now) {
  ++stats_.ip6_in;
  if (packet_tracer_ != nullptr) trace(sim::PacketStage::kIpRcv, *skb, now, skb->len(), 0, "ipv6");
  if (!core::pskb_may_pull(*skb, wire::Ipv6View::kHeaderLen)) return drop(skb, DropReason::kTruncated);
  auto view = wire::Ipv6View::check(skb->linear(), skb->len());
  if (!view) {
    return drop(skb, view.error() == wire::WireError::kTruncated ? DropReason::kTruncated : DropReason::kBadHeader);
  }
  auto ip = wire::Ipv6Repr::parse(*view);
  if (!ip) return drop(skb, DropReason::kBadHeader);
  // ipv6_rcv_core: a multicast source is invalid (RFC 4291 §2.7).
  if (ip->src.is_multicast()) return drop(skb, DropReason::kBadHeader);
  const bool for_us = ip->dst.is_multicast() ? accepts_mac(iface, ip->dst.multicast_mac()) : is_local(IpAddress(ip->dst));
  if (!for_us) return drop(skb, DropReason::kNotForUs);  // hosts do not forward
  skb->reset_network_header();
  skb->trim(static_cast<std::uint32_t>(wire::Ipv6View::kHeaderLen + ip->payload_len));  // Ethernet padding
  // Walk the extension headers to the upper layer (ip6_protocol_deliver_rcu / ipv6_parse_hopopts).
  std::uint32_t off = wire::Ipv6View::kHeaderLen;
  std::uint8_t nh = ip->next_header;
  for (std::size_t count = 0; wire::is_ipv6_extension_header(nh); ++count) {
    if (nh == wire::ip_protocol::kFragment) return drop(skb, DropReason::kFragment);
    if (count >= wire::kMaxIpv6ExtensionHeaders) return drop(skb, DropReason::kBadHeader);
    if (nh == wire::ip_protocol::kHopByHop && count != 0) return drop(skb, DropReason::kBadHeader);  // RFC 8200 §4.1
    if (!core::pskb_may_pull(*skb, off + 2)) return drop(skb, DropReason::kTruncated);
    const auto units = std::to_integer<std::uint32_t>(skb->data()[off + 1]);
    const std::uint32_t len = nh == wire::ip_protocol::kAh ? (units + 2) * 4 : (units + 1) * 8;
    if (!core::pskb_may_pull(*skb, off + len)) return drop(skb, DropReason::kTruncated);
    auto ext = wire::Ipv6ExtensionHeaderView::check(nh, skb->linear().subspan(off));
    if (!ext) return drop(skb, DropReason::kBadHeader);
    nh = ext->next_header();
    off += static_cast<std::uint32_t>(ext->header_len());
  }
  skb->pull(off);
  skb->reset_transport_header();
  const IpAddress src(ip->src), dst(ip->dst);
  switch (nh) {
    case wire::ip_protocol::kIcmpv6: return icmpv6_rcv(iface, ip->src, ip->dst, ip->hop_limit, skb, now);
    case wire::ip_protocol::kTcp:
      if (ip->dst.is_multicast()) return drop(skb, DropReason::kNotForUs);
      return tcp_rcv(src, dst, skb, now);
    case wire::ip_protocol::kUdp:
      if (ip->dst.is_multicast()) return drop(skb, DropReason::kNotForUs);  // no multicast sockets
      return udp_rcv(src, dst, skb, now);
    case wire::ip_protocol::kNoNextHeader: core::kfree_skb(skb); return;
    default: return drop(skb, DropReason::kUnknownProtocol);
  }
}

void NetStack::icmpv6_rcv(std::size_t iface, const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t hop_limit,
                          SkBuff* skb, sim::TimePoint now) {
  std::vector<std::byte> msg(skb->len());
  if (core::skb_copy_bits(*skb, 0, msg.data(), static_cast<int>(msg.size())) != 0) {
    return drop(skb, DropReason::kUnsupported);
  }
  core::kfree_skb(skb);
  auto view = wire::Icmpv6View::check(msg);
  if (!view) return drop(nullptr, DropReason::kBadHeader);
  auto icmp = wire::Icmpv6Repr::parse(*view, src, dst, detail::kSoftware);
  if (!icmp) {
    if (icmp.error() == wire::WireError::kBadChecksum) return drop(nullptr, DropReason::kBadChecksum);
    const bool nd = view->type() == wire::Icmpv6Type::kNeighbourSolicitation ||
                    view->type() == wire::Icmpv6Type::kNeighbourAdvertisement;
    return drop(nullptr, nd ? DropReason::kBadNdisc : DropReason::kBadHeader);
  }
  switch (icmp->type) {
    case wire::Icmpv6Type::kNeighbourSolicitation:
    case wire::Icmpv6Type::kNeighbourAdvertisement: return ndisc_rcv(iface, src, dst, hop_limit, *icmp, now);
    case wire::Icmpv6Type::kEchoReply:
      ++stats_.icmp6_echo_replies_in;
      echo_replies_.push_back({IpAddress(src), icmp->echo_ident, icmp->echo_seq, icmp->data.size(), hop_limit, now});
      return;
    case wire::Icmpv6Type::kDestUnreachable:
      ++stats_.icmp_unreach_in;
      if (icmp->code == 4) icmp_unreach_rcv(IpAddress(src), icmp->data);  // ICMPV6_PORT_UNREACH
      return;
    case wire::Icmpv6Type::kEchoRequest: break;
    default: return;
  }
  ++stats_.icmp6_echo_requests_in;
  // icmpv6_echo_reply: from the address asked (or, for a multicast request, our routed source).
  Ipv6Address from = dst;
  if (dst.is_multicast()) {
    const auto r = route(IpAddress(src));
    if (!r) return drop(nullptr, DropReason::kNoRoute);
    from = r->src.v6();
  }
  wire::Icmpv6Repr reply = *icmp;
  reply.type = wire::Icmpv6Type::kEchoReply;
  SkBuff* out = alloc_tx_skb();
  if (out == nullptr || reply.buffer_len() > out->tailroom()) {
    core::kfree_skb(out);
    return drop(nullptr, DropReason::kNoBuffer);
  }
  reply.emit({out->put(static_cast<std::uint32_t>(reply.buffer_len())), reply.buffer_len()}, from, src, detail::kSoftware);
  ++stats_.icmp6_echo_replies_out;
  ip6_output(from, src, wire::ip_protocol::kIcmpv6, cfg_.hop_limit, out, now);
}

void NetStack::ip6_output(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t protocol,
                          std::uint8_t hop_limit, SkBuff* skb, sim::TimePoint now) {
  const auto r = route(IpAddress(dst));
  if (!r) return drop(skb, DropReason::kNoRoute);
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = protocol;
  ip.payload_len = static_cast<std::uint16_t>(skb->len());
  ip.hop_limit = hop_limit;
  ip.emit({skb->push(wire::Ipv6Repr::kHeaderLen), wire::Ipv6Repr::kHeaderLen});
  skb->reset_network_header();
  ++stats_.ip6_out;
  neigh_output(*r, wire::ethertype::kIpv6, skb, now);
}

void NetStack::ip6_output_direct(std::size_t iface, const Ipv6Address& src, const Ipv6Address& dst,
                                 std::uint8_t hop_limit, MacAddress dst_mac, SkBuff* skb) {
  wire::Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = wire::ip_protocol::kIcmpv6;
  ip.payload_len = static_cast<std::uint16_t>(skb->len());
  ip.hop_limit = hop_limit;
  ip.emit({skb->push(wire::Ipv6Repr::kHeaderLen), wire::Ipv6Repr::kHeaderLen});
  skb->reset_network_header();
  ++stats_.ip6_out;
  dev_xmit(iface, dst_mac, wire::ethertype::kIpv6, skb);
}

}  // namespace nicemu::netstack::inet
