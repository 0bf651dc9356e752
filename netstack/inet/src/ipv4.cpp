// IPv4 receive and output (net/ipv4/ip_input.c, ip_output.c) and ICMP (net/ipv4/icmp.c): echo
// and port-unreachable errors, both ways.
#include <algorithm>
#include <vector>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/icmpv4.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv4.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::IpAddress;
using wire::Ipv4Address;

void NetStack::ip_rcv(std::size_t iface, SkBuff* skb, sim::TimePoint now) {
  (void)iface;
  ++stats_.ip_in;
  if (packet_tracer_ != nullptr) trace(sim::PacketStage::kIpRcv, *skb, now, skb->len(), 0, "ipv4");
  if (!core::pskb_may_pull(*skb, wire::Ipv4View::kMinHeaderLen)) return drop(skb, DropReason::kTruncated);
  const auto ihl = static_cast<std::uint32_t>(std::to_integer<std::uint8_t>(skb->data()[0]) & 0x0fu) * 4;
  if (ihl >= wire::Ipv4View::kMinHeaderLen && !core::pskb_may_pull(*skb, ihl)) {
    return drop(skb, DropReason::kTruncated);
  }
  auto view = wire::Ipv4View::check(skb->linear(), skb->len());
  if (!view) {
    return drop(skb, view.error() == wire::WireError::kTruncated ? DropReason::kTruncated : DropReason::kBadHeader);
  }
  auto ip = wire::Ipv4Repr::parse(*view, detail::kSoftware);
  if (!ip) {
    if (ip.error() == wire::WireError::kFragment) return drop(skb, DropReason::kFragment);
    if (ip.error() == wire::WireError::kBadChecksum) return drop(skb, DropReason::kBadChecksum);
    return drop(skb, DropReason::kBadHeader);
  }
  if (!is_local(IpAddress(ip->dst))) return drop(skb, DropReason::kNotForUs);  // hosts do not forward
  skb->reset_network_header();
  const std::uint32_t hlen = static_cast<std::uint32_t>(view->header_len());
  skb->trim(view->total_len());  // drop Ethernet padding
  skb->pull(hlen);
  skb->reset_transport_header();
  switch (ip->protocol) {
    case wire::ip_protocol::kIcmp: return icmp_rcv(ip->src, ip->dst, ip->ttl, skb, now);
    case wire::ip_protocol::kTcp: return tcp_rcv(IpAddress(ip->src), IpAddress(ip->dst), skb, now);
    case wire::ip_protocol::kUdp: return udp_rcv(IpAddress(ip->src), IpAddress(ip->dst), skb, now);
    default: return drop(skb, DropReason::kUnknownProtocol);
  }
}

void NetStack::icmp_rcv(Ipv4Address src, Ipv4Address dst, std::uint8_t ttl, SkBuff* skb, sim::TimePoint now) {
  // ICMP messages are small: work on a linear copy (the kernel also linearises ICMP).
  std::vector<std::byte> msg(skb->len());
  if (core::skb_copy_bits(*skb, 0, msg.data(), static_cast<int>(msg.size())) != 0) {
    return drop(skb, DropReason::kUnsupported);
  }
  core::kfree_skb(skb);
  auto view = wire::Icmpv4View::check(msg);
  if (!view) return drop(nullptr, DropReason::kBadHeader);
  auto icmp = wire::Icmpv4Repr::parse(*view, detail::kSoftware);
  if (!icmp) return drop(nullptr, icmp.error() == wire::WireError::kBadChecksum ? DropReason::kBadChecksum
                                                                                 : DropReason::kBadHeader);
  switch (icmp->type) {
    case wire::Icmpv4Type::kEchoReply:
      ++stats_.icmp_echo_replies_in;
      echo_replies_.push_back({IpAddress(src), icmp->echo_ident, icmp->echo_seq, icmp->data.size(), ttl, now});
      return;
    case wire::Icmpv4Type::kDestUnreachable:
      ++stats_.icmp_unreach_in;
      if (icmp->code == wire::icmpv4_code::kPortUnreachable) icmp_unreach_rcv(IpAddress(src), icmp->data);
      return;
    case wire::Icmpv4Type::kEchoRequest: break;
    default: return;  // other types are counted by nobody in a host that ignores them (as Linux)
  }
  ++stats_.icmp_echo_requests_in;
  wire::Icmpv4Repr reply = *icmp;
  reply.type = wire::Icmpv4Type::kEchoReply;
  SkBuff* out = alloc_tx_skb();
  if (out == nullptr || reply.buffer_len() > out->tailroom()) {
    core::kfree_skb(out);
    return drop(nullptr, DropReason::kNoBuffer);
  }
  reply.emit({out->put(static_cast<std::uint32_t>(reply.buffer_len())), reply.buffer_len()}, detail::kSoftware);
  ++stats_.icmp_echo_replies_out;
  ip_output(dst, src, wire::ip_protocol::kIcmp, cfg_.ttl, out, now);
}

void NetStack::ip_output(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, std::uint8_t ttl, SkBuff* skb,
                         sim::TimePoint now) {
  const auto r = route(IpAddress(dst));
  if (!r) return drop(skb, DropReason::kNoRoute);
  wire::Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = protocol;
  ip.payload_len = static_cast<std::uint16_t>(skb->len());
  ip.ttl = ttl;
  // kernel: ip_select_ident_segs(): a GSO skb takes one id per segment (the device counts up).
  ip.ident = ip_ident_;
  ip_ident_ = static_cast<decltype(ip_ident_)>(ip_ident_ + std::max<std::uint32_t>(1, skb->gso_segs));
  std::byte* h = skb->push(wire::Ipv4Repr::kHeaderLen);
  ip.emit({h, wire::Ipv4Repr::kHeaderLen}, detail::kSoftware);
  skb->reset_network_header();
  ++stats_.ip_out;
  neigh_output(*r, wire::ethertype::kIpv4, skb, now);
}

}  // namespace nicemu::netstack::inet
