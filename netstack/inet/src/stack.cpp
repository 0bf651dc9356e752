// NetStack core: interfaces and addresses, routing, the Ethernet receive dispatch, the L3
// dispatch for L4 output, checksum offload bookkeeping, the device transmit, and time.
// The protocols live in arp.cpp, neighbour.cpp, ipv4.cpp, ipv6.cpp, ndisc.cpp, icmp.cpp,
// tcp_demux.cpp, udp.cpp and ports.cpp. See stack.hpp for what is modelled.
#include "nicemu/netstack/inet/stack.hpp"

#include "nicemu/netstack/core/etherdevice.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nicemu/netstack/core/etherdevice.hpp"
#include "nicemu/netstack/core/gro.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::IpAddress;
using wire::Ipv4Address;
using wire::Ipv6Address;
using wire::MacAddress;

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::kNotForUs: return "not-for-us";
    case DropReason::kTruncated: return "truncated";
    case DropReason::kBadHeader: return "bad-header";
    case DropReason::kBadChecksum: return "bad-checksum";
    case DropReason::kFragment: return "fragment";
    case DropReason::kNoRoute: return "no-route";
    case DropReason::kUnknownProtocol: return "unknown-protocol";
    case DropReason::kNoSocket: return "no-socket";
    case DropReason::kListenOverflow: return "listen-overflow";
    case DropReason::kSynQueueFull: return "syn-queue-full";
    case DropReason::kNeighQueueFull: return "neigh-queue-full";
    case DropReason::kNeighFailed: return "neigh-failed";
    case DropReason::kTxBusy: return "tx-busy";
    case DropReason::kNoBuffer: return "no-buffer";
    case DropReason::kUnsupported: return "unsupported";
    case DropReason::kBadNdisc: return "bad-ndisc";
    case DropReason::kUdpRcvbuf: return "udp-rcvbuf";
    case DropReason::kCount: break;
  }
  return "?";
}

std::uint64_t StackStats::total_drops() const {
  std::uint64_t n = 0;
  for (const auto d : drops) n += d;
  return n;
}

NetStack::NetStack(netmem::HostMemory& memory, const page_pool::CallerContext& ctx, StackConfig config)
    : memory_(memory),
      cfg_(config),
      skbs_(ctx),
      isn_(config.seed ^ 0x6e69'6365'6d75ull),
      // Linux's ip_local_port_range is 32768..60999; start somewhere the seed decides.
      next_port_(static_cast<std::uint16_t>(detail::kEphemeralLow + (config.seed * 2654435761u) %
                                                                         (detail::kEphemeralHigh - detail::kEphemeralLow + 1))) {}

NetStack::~NetStack() { clear(); }

void NetStack::clear() {
  for (auto& [addr, n] : neigh_) {
    for (SkBuff* skb : n.queue) core::kfree_skb(skb);
    n.queue.clear();
  }
  established_.clear();
  listeners_.clear();
  by_sock_.clear();
  tcp_ports_.clear();
  udp_ports_.clear();
  conns_.clear();  // sockets free their queues
  udp_.clear();
}

// ---- interfaces and addresses ----------------------------------------------------------------------

std::optional<Ipv4Address> NetStack::Iface::v4() const {
  for (const IfAddr& a : addrs) {
    if (a.addr.is_v4()) return a.addr.v4();
  }
  return std::nullopt;
}

std::size_t NetStack::add_interface(core::NetDevice& dev, MacAddress mac) {
  Iface ifc;
  ifc.dev = &dev;
  ifc.mac = mac;
  // RFC 4291 §2.5.1 / appendix A: fe80::/64 with the modified EUI-64 interface identifier.
  Ipv6Address ll;
  ll.octets[0] = 0xfe;
  ll.octets[1] = 0x80;
  ll.octets[8] = static_cast<std::uint8_t>(mac.octets[0] ^ 0x02u);
  ll.octets[9] = mac.octets[1];
  ll.octets[10] = mac.octets[2];
  ll.octets[11] = 0xff;
  ll.octets[12] = 0xfe;
  ll.octets[13] = mac.octets[3];
  ll.octets[14] = mac.octets[4];
  ll.octets[15] = mac.octets[5];
  ifc.addrs.push_back(IfAddr{IpAddress(ll), 64});
  ifaces_.push_back(std::move(ifc));
  return ifaces_.size() - 1;
}

std::size_t NetStack::add_interface(core::NetDevice& dev, MacAddress mac, Ipv4Address addr, std::uint8_t prefix_len) {
  const std::size_t i = add_interface(dev, mac);
  add_address(i, IpAddress(addr), prefix_len);
  return i;
}

void NetStack::add_address(std::size_t iface, IpAddress addr, std::uint8_t prefix_len) {
  NICEMU_ASSERT(iface < ifaces_.size(), "add_address: no such interface");
  NICEMU_ASSERT(addr.is_v4() || addr.is_v6(), "add_address: an address without a family");
  NICEMU_ASSERT(prefix_len <= (addr.is_v4() ? 32 : 128), "add_address: prefix longer than the address");
  ifaces_[iface].addrs.push_back(IfAddr{addr, prefix_len});
}

void NetStack::set_default_gateway(IpAddress gw) {
  if (gw.is_v4()) gateway4_ = gw.v4();
  else if (gw.is_v6()) gateway6_ = gw.v6();
}

bool NetStack::is_local(const IpAddress& a) const {
  for (const Iface& i : ifaces_) {
    for (const IfAddr& x : i.addrs) {
      if (x.addr == a) return true;
    }
  }
  return false;
}

Ipv6Address NetStack::link_local(std::size_t iface) const {
  NICEMU_ASSERT(iface < ifaces_.size(), "link_local: no such interface");
  return ifaces_[iface].addrs.front().addr.v6();
}

std::optional<std::size_t> NetStack::iface_of(const core::NetDevice& dev) const {
  for (std::size_t i = 0; i < ifaces_.size(); ++i) {
    if (ifaces_[i].dev == &dev) return i;
  }
  return std::nullopt;
}

bool NetStack::accepts_mac(std::size_t iface, const MacAddress& dst) const {
  const Iface& ifc = ifaces_[iface];
  if (dst == ifc.mac || dst.is_broadcast()) return true;
  if (!dst.is_multicast()) return false;
  // IPv6 groups this interface has joined: all-nodes and each address's solicited-node group.
  if (dst == detail::kAllNodes.multicast_mac()) return true;
  return std::any_of(ifc.addrs.begin(), ifc.addrs.end(), [&](const IfAddr& a) {
    return a.addr.is_v6() && a.addr.v6().solicited_node().multicast_mac() == dst;
  });
}

std::optional<NetStack::Route> NetStack::route(const IpAddress& dst) const {
  // Connected subnets first (longest prefix), then the family's default gateway.
  std::optional<Route> best;
  int best_len = -1;
  if (dst.is_v6() && dst.v6().is_link_local()) {
    // No scope ids here: a link-local destination is on the first interface.
    if (ifaces_.empty()) return std::nullopt;
    return Route{0, dst, IpAddress(link_local(0))};
  }
  for (std::size_t i = 0; i < ifaces_.size(); ++i) {
    for (const IfAddr& a : ifaces_[i].addrs) {
      if (a.addr.version() != dst.version() || (a.addr.is_v6() && a.addr.v6().is_link_local())) continue;
      if (detail::same_prefix(dst, a.addr, a.prefix_len) && a.prefix_len > best_len) {
        best = Route{i, dst, a.addr};
        best_len = a.prefix_len;
      }
    }
  }
  if (best) return best;
  std::optional<IpAddress> gw;
  if (dst.is_v4() && gateway4_) gw = IpAddress(*gateway4_);
  if (dst.is_v6() && gateway6_) gw = IpAddress(*gateway6_);
  if (!gw) return std::nullopt;
  if (gw->is_v6() && gw->v6().is_link_local()) {
    // A link-local router (the usual case with router advertisements): source is a global
    // address of the first interface when it has one.
    if (ifaces_.empty()) return std::nullopt;
    IpAddress src(link_local(0));
    for (const IfAddr& a : ifaces_[0].addrs) {
      if (a.addr.is_v6() && !a.addr.v6().is_link_local()) src = a.addr;
    }
    return Route{0, *gw, src};
  }
  for (std::size_t i = 0; i < ifaces_.size(); ++i) {
    for (const IfAddr& a : ifaces_[i].addrs) {
      if (a.addr.version() == gw->version() && detail::same_prefix(*gw, a.addr, a.prefix_len)) {
        return Route{i, *gw, a.addr};
      }
    }
  }
  return std::nullopt;
}

void NetStack::drop(SkBuff* skb, DropReason why) {
  ++stats_.drops[static_cast<std::size_t>(why)];
  if (packet_tracer_ != nullptr && skb != nullptr) trace_drop(*skb, to_string(why));
  if (why == DropReason::kBadChecksum) ++stats_.csum_errors;
  core::kfree_skb(skb);
}

void NetStack::set_packet_tracer(sim::PacketTracer* t) {
  packet_tracer_ = t;
  for (auto& c : conns_) c->sk->packet_tracer = t;
}

void NetStack::trace_drop(SkBuff& skb, const char* why) {
  trace(sim::PacketStage::kDrop, skb, packet_tracer_->now(), skb.len(), 0, why);  // handed no time here
}

void NetStack::trace(sim::PacketStage stage, SkBuff& skb, sim::TimePoint now, std::uint32_t len, std::uint32_t seq,
                     const char* note) {
  // A segment TCP sends is born here; a received packet carries its frame's id from the NIC.
  if (skb.trace_id == 0 && stage == sim::PacketStage::kTcpTransmit) skb.trace_id = packet_tracer_->new_packet_id();
  if (skb.trace_id == 0) return;  // untraced
  sim::PacketEvent e;
  e.stage = stage;
  e.id = skb.trace_id;
  e.len = len;
  e.seq = seq;
  e.note = note;
  packet_tracer_->on_event(now, e);
}

SkBuff* NetStack::alloc_tx_skb() {
  SkBuff* skb = skbs_.alloc();
  if (skb != nullptr) skb->reserve(detail::kTxHeadroom - core::kNetSkbPad);
  return skb;
}

// ---- receive ---------------------------------------------------------------------------------------

void NetStack::receive(core::NetDevice& dev, SkBuff* skb, sim::TimePoint now) {
  ++stats_.rx_frames;
  core::skb_orphan(*skb);  // kernel: ip_rcv_core() drops the sender's ownership (veth-like paths)
  const auto iface = iface_of(dev);
  if (!iface) return drop(skb, DropReason::kNotForUs);
  if (const auto mac = core::skb_mac_header_bytes(*skb); !mac.empty()) {
    // A NIC driver ran eth_type_trans() (and GRO may have merged): data is at the network
    // header, skb->protocol is set; the destination MAC is read at the mac header.
    auto eth_view = wire::EthernetView::check(mac);
    if (!eth_view) return drop(skb, DropReason::kBadHeader);
    if (!accepts_mac(*iface, eth_view->dst())) return drop(skb, DropReason::kNotForUs);
  } else {
    // A device that hands up whole frames (veth-like test devices): do eth_type_trans here.
    if (!core::pskb_may_pull(*skb, wire::EthernetView::kHeaderLen)) return drop(skb, DropReason::kTruncated);
    auto eth_view = wire::EthernetView::check(skb->linear());
    if (!eth_view) return drop(skb, DropReason::kBadHeader);
    auto eth = wire::EthernetRepr::parse(*eth_view);
    if (!eth) return drop(skb, DropReason::kBadHeader);
    if (!accepts_mac(*iface, eth->dst)) return drop(skb, DropReason::kNotForUs);
    skb->reset_mac_header();
    skb->pull(static_cast<std::uint32_t>(eth->buffer_len()));
    skb->protocol = eth->ethertype;
  }
  switch (skb->protocol) {
    case wire::ethertype::kArp: return arp_rcv(*iface, skb, now);
    case wire::ethertype::kIpv4: return ip_rcv(*iface, skb, now);
    case wire::ethertype::kIpv6: return ipv6_rcv(*iface, skb, now);
    default: return drop(skb, DropReason::kUnsupported);
  }
}

bool NetStack::l4_checksum_ok(const SkBuff& skb, const IpAddress& src, const IpAddress& dst, std::uint8_t protocol) {
  // kernel: skb_csum_unnecessary(): a NIC verified it, or it never left the host (veth hands
  // the sender's CHECKSUM_PARTIAL skb over as it is).
  if (skb.ip_summed == core::IpSummed::kUnnecessary || skb.ip_summed == core::IpSummed::kPartial) return true;
  // Unreadable payload cannot be summed in software: only a NIC that verified may deliver it.
  if (!core::skb_frags_readable(skb)) return false;
  wire::ChecksumAccumulator acc;
  wire::add_pseudo_header(acc, src, dst, protocol, skb.len());
  acc.add_u16(static_cast<std::uint16_t>(core::skb_checksum(skb, 0, static_cast<int>(skb.len()), 0)));
  return acc.verifies();
}

void NetStack::l4_set_partial(SkBuff& skb, const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                              std::uint16_t csum_field_offset) {
  // kernel: __tcp_v4_send_check() / udp4_hwcsum(): the field holds the pseudo-header sum, and
  // csum_start/csum_offset tell the device (or skb_checksum_help) where to finish.
  wire::ChecksumAccumulator acc;
  wire::add_pseudo_header(acc, src, dst, protocol, skb.len());
  wire::store_be16(skb.data() + csum_field_offset, acc.sum());
  const bool ok = core::skb_partial_csum_set(skb, 0, csum_field_offset);
  NICEMU_ASSERT(ok, "l4_set_partial: the L4 header is not in the linear area");
}

// ---- transmit -----------------------------------------------------------------------------------------

void NetStack::l4_output(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol, int ttl, SkBuff* skb,
                         sim::TimePoint now) {
  // A socket's IP_TTL / IPV6_UNICAST_HOPS, or the stack's default when it set none (-1).
  if (dst.is_v4()) return ip_output(src.v4(), dst.v4(), protocol, ttl >= 0 ? static_cast<std::uint8_t>(ttl) : cfg_.ttl, skb, now);
  return ip6_output(src.v6(), dst.v6(), protocol, ttl >= 0 ? static_cast<std::uint8_t>(ttl) : cfg_.hop_limit, skb, now);
}

void NetStack::dev_xmit(std::size_t iface, MacAddress dst, std::uint16_t ethertype, SkBuff* skb) {
  const Iface& ifc = ifaces_[iface];
  // kernel: validate_xmit_skb(): a GSO skb needs the device's TSO (TCP builds one only for a
  // device that has it; software segmentation, skb_gso_segment, is not modelled).
  if (skb->gso_size != 0 &&
      (ifc.dev->features & ((skb->gso_type & core::kSkbGsoTcpV6) != 0 ? core::kNetifFTso6 : core::kNetifFTso)) == 0) {
    return drop(skb, DropReason::kUnsupported);
  }
  // kernel: validate_xmit_skb(): a device without checksum offload gets the sum done here.
  if (skb->ip_summed == core::IpSummed::kPartial && (ifc.dev->features & core::kNetifFHwCsum) == 0) {
    if (core::skb_checksum_help(*skb) != 0) return drop(skb, DropReason::kUnsupported);
    ++stats_.tx_csum_sw;
  }
  wire::EthernetRepr eth;
  eth.dst = dst;
  eth.src = ifc.mac;
  eth.ethertype = ethertype;
  const auto len = static_cast<std::uint32_t>(eth.buffer_len());
  eth.emit({skb->push(len), len});
  skb->reset_mac_header();
  skb->dev = ifc.dev;
  ++stats_.tx_frames;
  // The qdisc owns the skb from here; a full qdisc drops and counts it there.
  if (core::dev_queue_xmit(*ifc.dev, skb) != core::NetXmit::kSuccess) ++stats_.drops[static_cast<std::size_t>(DropReason::kTxBusy)];
}

// ---- time ------------------------------------------------------------------------------------------------

std::optional<sim::TimePoint> NetStack::poll_at() const {
  std::optional<sim::TimePoint> t;
  auto take = [&t](sim::TimePoint x) {
    if (!t || x < *t) t = x;
  };
  for (const auto& [a, n] : neigh_) {
    if (n.probes > 0) take(n.next_probe);
  }
  for (const auto& c : conns_) {
    if (auto x = c->sk->next_timer()) take(*x);
  }
  return t;
}

void NetStack::poll(sim::TimePoint now) {
  neigh_timers(now);
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    tcp::TcpSock& sk = *conns_[i]->sk;
    if (auto t = sk.next_timer(); t && *t <= now) sk.on_timer(now);
  }
  reap();
}

// ---- introspection -----------------------------------------------------------------------------------------

std::optional<MacAddress> NetStack::arp_lookup(Ipv4Address a) const { return neigh_lookup(IpAddress(a)); }

std::optional<MacAddress> NetStack::neigh_lookup(const IpAddress& a) const {
  auto it = neigh_.find(a);
  if (it == neigh_.end()) return std::nullopt;
  return it->second.mac;
}

TcpTotals NetStack::tcp_totals() const {
  TcpTotals t = tcp_gone_;
  for (const auto& c : conns_) {
    detail::add_stats(t.sum, c->sk->stats());
    const tcp::TcpState st = c->sk->state();
    if (st == tcp::TcpState::kEstablished || st == tcp::TcpState::kCloseWait) ++t.curr_estab;
  }
  return t;
}

}  // namespace nicemu::netstack::inet
