// ARP (RFC 826; net/ipv4/arp.c): answering requests for our IPv4 addresses, learning senders
// that address us, and sending requests and replies. The neighbour table is neighbour.cpp.
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/wire/arp.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::IpAddress;
using wire::Ipv4Address;
using wire::MacAddress;

void NetStack::arp_rcv(std::size_t iface, SkBuff* skb, sim::TimePoint now) {
  if (!core::pskb_may_pull(*skb, wire::ArpRepr::kLen)) return drop(skb, DropReason::kTruncated);
  auto view = wire::ArpView::check(skb->linear());
  if (!view) return drop(skb, DropReason::kBadHeader);
  auto arp = wire::ArpRepr::parse(*view);
  if (!arp) return drop(skb, DropReason::kBadHeader);
  core::kfree_skb(skb);
  if (arp->operation == wire::ArpOperation::kRequest) ++stats_.arp_requests_in;
  else ++stats_.arp_replies_in;
  bool ours = false;
  for (const IfAddr& a : ifaces_[iface].addrs) ours = ours || a.addr == IpAddress(arp->target_ip);
  if (!ours) return;  // not about us (no gratuitous learning)
  // Learn the sender (RFC 826 "merge"), then release what waited for it.
  neigh_update(iface, IpAddress(arp->sender_ip), arp->sender_mac, true, now);
  if (arp->operation == wire::ArpOperation::kRequest) {
    arp_send(iface, false, arp->sender_mac, arp->sender_ip, arp->sender_mac, now, arp->target_ip);
  }
}

void NetStack::arp_send(std::size_t iface, bool request, MacAddress dst_mac, Ipv4Address target,
                        MacAddress target_mac, sim::TimePoint now, std::optional<Ipv4Address> sender) {
  (void)now;
  // The sender address: the one asked about (replies), else ours in the target's subnet, else
  // the interface's first (arp_solicit's inet_select_addr).
  std::optional<Ipv4Address> ours = sender;
  for (const IfAddr& a : ifaces_[iface].addrs) {
    if (ours) break;
    if (a.addr.is_v4() && detail::same_prefix(a.addr, IpAddress(target), a.prefix_len)) ours = a.addr.v4();
  }
  if (!ours) ours = ifaces_[iface].v4();
  if (!ours) return;  // no IPv4 on this interface: nothing to ask with
  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr) return drop(nullptr, DropReason::kNoBuffer);
  wire::ArpRepr arp;
  arp.operation = request ? wire::ArpOperation::kRequest : wire::ArpOperation::kReply;
  arp.sender_mac = ifaces_[iface].mac;
  arp.sender_ip = *ours;
  arp.target_mac = target_mac;
  arp.target_ip = target;
  arp.emit({skb->put(wire::ArpRepr::kLen), wire::ArpRepr::kLen});
  if (request) ++stats_.arp_requests_out;
  else ++stats_.arp_replies_out;
  dev_xmit(iface, dst_mac, wire::ethertype::kArp, skb);
}

}  // namespace nicemu::netstack::inet
