// The neighbour table shared by ARP and ND (net/core/neighbour.c, simplified): resolution with
// a bounded queue of waiting packets, retransmitted solicitations, a reachable time, and
// re-probing of a stale entry while it keeps being used.
//
// States, in the kernel's terms: no MAC and probing = INCOMPLETE; MAC before `expires` =
// REACHABLE; MAC after `expires` = STALE, and the first packet sent then starts probing (the
// kernel waits in DELAY for upper-layer confirmation first and probes by unicast; nicemu probes
// at once with a broadcast ARP request / multicast NS); probes unanswered = FAILED (the MAC is
// forgotten and waiting packets are dropped with kNeighFailed).
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::IpAddress;
using wire::MacAddress;

namespace {
std::uint16_t ethertype_of(const IpAddress& a) { return a.is_v4() ? wire::ethertype::kIpv4 : wire::ethertype::kIpv6; }
}  // namespace

void NetStack::neigh_output(const Route& r, std::uint16_t ethertype, SkBuff* skb, sim::TimePoint now) {
  Neigh& n = neigh_[r.next_hop];
  n.iface = r.iface;
  if (n.mac) {
    if (now >= n.expires && n.probes == 0) {  // STALE: keep using it, confirm it
      n.probes = 1;
      n.next_probe = now + cfg_.arp_retrans;
      neigh_solicit(r.next_hop, n, now);
    }
    dev_xmit(r.iface, *n.mac, ethertype, skb);
    return;
  }
  // INCOMPLETE: queue (dropping the oldest when full) and ask, unless a probe is already out.
  if (n.queue.size() >= cfg_.arp_queue_len) {
    drop(n.queue.front(), DropReason::kNeighQueueFull);
    n.queue.pop_front();
  }
  n.queue.push_back(skb);
  if (n.probes == 0) {
    n.probes = 1;
    n.next_probe = now + cfg_.arp_retrans;
    neigh_solicit(r.next_hop, n, now);
  }
}

void NetStack::neigh_update(std::size_t iface, const IpAddress& addr, MacAddress mac, bool create, sim::TimePoint now) {
  auto it = neigh_.find(addr);
  if (it == neigh_.end()) {
    if (!create) return;
    it = neigh_.emplace(addr, Neigh{}).first;
  }
  Neigh& n = it->second;
  n.iface = iface;
  n.mac = mac;
  n.expires = now + cfg_.arp_reachable;
  n.probes = 0;
  while (!n.queue.empty()) {
    SkBuff* q = n.queue.front();
    n.queue.pop_front();
    dev_xmit(iface, mac, ethertype_of(addr), q);
  }
}

void NetStack::neigh_solicit(const IpAddress& addr, Neigh& n, sim::TimePoint now) {
  if (addr.is_v4()) {
    arp_send(n.iface, true, MacAddress::broadcast(), addr.v4(), MacAddress{}, now);
  } else {
    ndisc_send_ns(n.iface, addr.v6(), now);
  }
}

void NetStack::neigh_timers(sim::TimePoint now) {
  for (auto& [addr, n] : neigh_) {
    if (n.probes == 0 || n.next_probe > now) continue;
    if (n.probes >= cfg_.arp_probes) {  // FAILED: forget the address, fail what waited
      n.mac.reset();
      while (!n.queue.empty()) {
        drop(n.queue.front(), DropReason::kNeighFailed);
        n.queue.pop_front();
      }
      n.probes = 0;
      continue;
    }
    ++n.probes;
    n.next_probe = now + cfg_.arp_retrans;
    neigh_solicit(addr, n, now);
  }
}

}  // namespace nicemu::netstack::inet
