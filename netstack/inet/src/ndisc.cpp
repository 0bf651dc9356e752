// IPv6 neighbour discovery, the address-resolution part (RFC 4861 §7; net/ipv6/ndisc.c):
// neighbour solicitations to the target's solicited-node group, advertisements in reply, the
// validity checks of §7.1 (hop limit 255, code 0, no multicast target, no solicited flag on a
// multicast advertisement), and learning link-layer addresses from both.
// Not modelled: router and prefix discovery, redirects, duplicate address detection (an NS from
// :: is answered to all-nodes as the RFC says, but we never send one), NUD's DELAY state and
// unicast probes (neighbour.cpp probes by multicast at once).
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/wire/icmpv6.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::IpAddress;
using wire::Ipv6Address;
using wire::MacAddress;

void NetStack::ndisc_rcv(std::size_t iface, const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t hop_limit,
                         const wire::Icmpv6Repr& msg, sim::TimePoint now) {
  // §7.1.1 / §7.1.2: off-link forgeries cannot keep hop limit 255. (Code and target were
  // checked by wire's parser.)
  if (hop_limit != detail::kNdiscHopLimit) return drop(nullptr, DropReason::kBadNdisc);
  const bool ours = [&] {
    for (const IfAddr& a : ifaces_[iface].addrs) {
      if (a.addr == IpAddress(msg.target)) return true;
    }
    return false;
  }();
  if (msg.type == wire::Icmpv6Type::kNeighbourSolicitation) {
    ++stats_.ndisc_ns_in;
    // From :: (a DAD probe) the destination must be a solicited-node group and no SLLA may come.
    if (src.is_unspecified() && (!dst.is_multicast() || msg.link_layer_addr)) {
      return drop(nullptr, DropReason::kBadNdisc);
    }
    if (!ours) return;  // not about us
    if (src.is_unspecified()) {
      ndisc_send_na(iface, msg.target, detail::kAllNodes, detail::kAllNodes.multicast_mac(), false);
      return;
    }
    std::optional<MacAddress> to = msg.link_layer_addr;
    if (to) {
      neigh_update(iface, IpAddress(src), *to, true, now);
    } else {
      to = neigh_lookup(IpAddress(src));  // a unicast NS (NUD) may omit it
      if (!to) return;
    }
    ndisc_send_na(iface, msg.target, src, *to, true);
    return;
  }
  ++stats_.ndisc_na_in;
  if (dst.is_multicast() && msg.solicited_flag) return drop(nullptr, DropReason::kBadNdisc);
  // An NA updates an entry we have (INCOMPLETE or not); unsolicited ones create nothing (§7.2.5).
  if (msg.link_layer_addr) neigh_update(iface, IpAddress(msg.target), *msg.link_layer_addr, false, now);
}

void NetStack::ndisc_send_ns(std::size_t iface, const Ipv6Address& target, sim::TimePoint now) {
  (void)now;
  // Source: an address of ours in the target's prefix, else the link-local one.
  Ipv6Address src = link_local(iface);
  for (const IfAddr& a : ifaces_[iface].addrs) {
    if (a.addr.is_v6() && !a.addr.v6().is_link_local() && detail::same_prefix(a.addr, IpAddress(target), a.prefix_len)) {
      src = a.addr.v6();
    }
  }
  wire::Icmpv6Repr ns;
  ns.type = wire::Icmpv6Type::kNeighbourSolicitation;
  ns.target = target;
  ns.link_layer_addr = ifaces_[iface].mac;
  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr) return drop(nullptr, DropReason::kNoBuffer);
  const Ipv6Address group = target.solicited_node();
  const auto len = static_cast<std::uint32_t>(ns.buffer_len());
  ns.emit({skb->put(len), len}, src, group, detail::kSoftware);
  ++stats_.ndisc_ns_out;
  ip6_output_direct(iface, src, group, detail::kNdiscHopLimit, group.multicast_mac(), skb);
}

void NetStack::ndisc_send_na(std::size_t iface, const Ipv6Address& target, const Ipv6Address& dst, MacAddress dst_mac,
                             bool solicited) {
  wire::Icmpv6Repr na;
  na.type = wire::Icmpv6Type::kNeighbourAdvertisement;
  na.target = target;
  na.solicited_flag = solicited;
  na.override_flag = true;  // our own address (§7.2.4)
  na.link_layer_addr = ifaces_[iface].mac;
  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr) return drop(nullptr, DropReason::kNoBuffer);
  const auto len = static_cast<std::uint32_t>(na.buffer_len());
  na.emit({skb->put(len), len}, target, dst, detail::kSoftware);
  ++stats_.ndisc_na_out;
  ip6_output_direct(iface, target, dst, detail::kNdiscHopLimit, dst_mac, skb);
}

}  // namespace nicemu::netstack::inet
