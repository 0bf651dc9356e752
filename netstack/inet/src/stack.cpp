// NetStack: receive and transmit paths for Ethernet, ARP, IPv4, ICMP echo and TCP.
// See stack.hpp for what is modelled.
#include "nicemu/netstack/inet/stack.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/wire/arp.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/icmpv4.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv4.hpp"
#include "nicemu/netstack/wire/tcp.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::Ipv4Address;
using wire::MacAddress;

namespace {
// Room in front of any payload for Ethernet (+ 2 VLAN tags), IPv4 and a TCP header with
// options: the kernel's MAX_TCP_HEADER idea.
constexpr std::uint32_t kTxHeadroom = 128;
const wire::ChecksumCaps kSoftware = wire::ChecksumCaps::software();

bool same_subnet(Ipv4Address a, Ipv4Address b, std::uint8_t prefix) {
  if (prefix == 0) return true;
  const std::uint32_t mask = prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1u);
  return (a.to_u32() & mask) == (b.to_u32() & mask);
}
}  // namespace

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
    case DropReason::kNeighQueueFull: return "neigh-queue-full";
    case DropReason::kNeighFailed: return "neigh-failed";
    case DropReason::kTxBusy: return "tx-busy";
    case DropReason::kNoBuffer: return "no-buffer";
    case DropReason::kUnsupported: return "unsupported";
    case DropReason::kCount: break;
  }
  return "?";
}

NetStack::NetStack(netmem::HostMemory& memory, const page_pool::CallerContext& ctx, StackConfig config)
    : memory_(memory),
      cfg_(config),
      skbs_(ctx),
      isn_(config.seed ^ 0x6e69'6365'6d75ull),
      // Linux's ip_local_port_range is 32768..60999; start somewhere the seed decides.
      next_port_(static_cast<std::uint16_t>(32768 + (config.seed * 2654435761u) % 28232)) {}

NetStack::~NetStack() { clear(); }

void NetStack::clear() {
  for (auto& [addr, n] : neigh_) {
    for (SkBuff* skb : n.queue) core::kfree_skb(skb);
    n.queue.clear();
  }
  established_.clear();
  listeners_.clear();
  by_sock_.clear();
  conns_.clear();  // sockets free their queues
}

std::size_t NetStack::add_interface(core::NetDevice& dev, MacAddress mac, Ipv4Address addr, std::uint8_t prefix_len) {
  ifaces_.push_back(Iface{&dev, mac, addr, prefix_len});
  return ifaces_.size() - 1;
}

void NetStack::drop(SkBuff* skb, DropReason why) {
  ++stats_.drops[static_cast<std::size_t>(why)];
  core::kfree_skb(skb);
}

bool NetStack::is_local(Ipv4Address a) const {
  return std::any_of(ifaces_.begin(), ifaces_.end(), [&](const Iface& i) { return i.addr == a; });
}

std::optional<NetStack::Route> NetStack::route(Ipv4Address dst) const {
  // Connected subnets first (longest prefix), then the default gateway.
  std::optional<Route> best;
  int best_len = -1;
  for (std::size_t i = 0; i < ifaces_.size(); ++i) {
    if (same_subnet(dst, ifaces_[i].addr, ifaces_[i].prefix_len) && ifaces_[i].prefix_len > best_len) {
      best = Route{i, dst};
      best_len = ifaces_[i].prefix_len;
    }
  }
  if (best) return best;
  if (gateway_) {
    for (std::size_t i = 0; i < ifaces_.size(); ++i) {
      if (same_subnet(*gateway_, ifaces_[i].addr, ifaces_[i].prefix_len)) return Route{i, *gateway_};
    }
  }
  return std::nullopt;
}

SkBuff* NetStack::alloc_tx_skb() {
  SkBuff* skb = skbs_.alloc();
  if (skb != nullptr) skb->reserve(kTxHeadroom - core::kNetSkbPad);
  return skb;
}

// ---- receive ---------------------------------------------------------------------------------------

void NetStack::receive(core::NetDevice& dev, SkBuff* skb, sim::TimePoint now) {
  ++stats_.rx_frames;
  std::size_t iface = ifaces_.size();
  for (std::size_t i = 0; i < ifaces_.size(); ++i) {
    if (ifaces_[i].dev == &dev) iface = i;
  }
  if (iface == ifaces_.size()) return drop(skb, DropReason::kNotForUs);
  if (!core::pskb_may_pull(*skb, wire::EthernetView::kHeaderLen)) return drop(skb, DropReason::kTruncated);
  auto eth_view = wire::EthernetView::check(skb->linear());
  if (!eth_view) return drop(skb, DropReason::kBadHeader);
  auto eth = wire::EthernetRepr::parse(*eth_view);
  if (!eth) return drop(skb, DropReason::kBadHeader);
  if (eth->dst != ifaces_[iface].mac && !eth->dst.is_broadcast()) return drop(skb, DropReason::kNotForUs);
  skb->reset_mac_header();
  skb->pull(static_cast<std::uint32_t>(eth->buffer_len()));
  skb->protocol = eth->ethertype;
  switch (eth->ethertype) {
    case wire::ethertype::kArp: return arp_rcv(iface, skb, now);
    case wire::ethertype::kIpv4: return ip_rcv(iface, skb, now);
    default: return drop(skb, DropReason::kUnsupported);
  }
}

void NetStack::arp_rcv(std::size_t iface, SkBuff* skb, sim::TimePoint now) {
  if (!core::pskb_may_pull(*skb, wire::ArpRepr::kLen)) return drop(skb, DropReason::kTruncated);
  auto view = wire::ArpView::check(skb->linear());
  if (!view) return drop(skb, DropReason::kBadHeader);
  auto arp = wire::ArpRepr::parse(*view);
  if (!arp) return drop(skb, DropReason::kBadHeader);
  core::kfree_skb(skb);
  const Iface& ifc = ifaces_[iface];
  if (arp->operation == wire::ArpOperation::kRequest) ++stats_.arp_requests_in;
  else ++stats_.arp_replies_in;
  if (arp->target_ip != ifc.addr) return;  // not about us (no gratuitous learning)
  // Learn the sender (RFC 826 "merge"), then release what waited for it.
  Neigh& n = neigh_[arp->sender_ip];
  n.iface = iface;
  n.mac = arp->sender_mac;
  n.expires = now + cfg_.arp_reachable;
  n.probes = 0;
  while (!n.queue.empty()) {
    SkBuff* q = n.queue.front();
    n.queue.pop_front();
    dev_xmit(iface, *n.mac, wire::ethertype::kIpv4, q);
  }
  if (arp->operation == wire::ArpOperation::kRequest) {
    arp_send(iface, false, arp->sender_mac, arp->sender_ip, arp->sender_mac, now);
  }
}

void NetStack::ip_rcv(std::size_t iface, SkBuff* skb, sim::TimePoint now) {
  (void)iface;
  ++stats_.ip_in;
  if (!core::pskb_may_pull(*skb, wire::Ipv4View::kMinHeaderLen)) return drop(skb, DropReason::kTruncated);
  const auto ihl = static_cast<std::uint32_t>(std::to_integer<std::uint8_t>(skb->data()[0]) & 0x0fu) * 4;
  if (ihl >= wire::Ipv4View::kMinHeaderLen && !core::pskb_may_pull(*skb, ihl)) {
    return drop(skb, DropReason::kTruncated);
  }
  auto view = wire::Ipv4View::check(skb->linear(), skb->len());
  if (!view) {
    return drop(skb, view.error() == wire::WireError::kTruncated ? DropReason::kTruncated : DropReason::kBadHeader);
  }
  auto ip = wire::Ipv4Repr::parse(*view, kSoftware);
  if (!ip) {
    if (ip.error() == wire::WireError::kFragment) return drop(skb, DropReason::kFragment);
    if (ip.error() == wire::WireError::kBadChecksum) return drop(skb, DropReason::kBadChecksum);
    return drop(skb, DropReason::kBadHeader);
  }
  if (!is_local(ip->dst)) return drop(skb, DropReason::kNotForUs);  // hosts do not forward
  skb->reset_network_header();
  const std::uint32_t hlen = static_cast<std::uint32_t>(view->header_len());
  skb->trim(view->total_len());  // drop Ethernet padding
  skb->pull(hlen);
  skb->reset_transport_header();
  switch (ip->protocol) {
    case wire::ip_protocol::kIcmp: return icmp_rcv(ip->src, ip->dst, skb, now);
    case wire::ip_protocol::kTcp: return tcp_rcv(ip->src, ip->dst, skb, now);
    default: return drop(skb, DropReason::kUnknownProtocol);
  }
}

void NetStack::icmp_rcv(Ipv4Address src, Ipv4Address dst, SkBuff* skb, sim::TimePoint now) {
  // Echo data is small: work on a linear copy (the kernel also linearises ICMP).
  std::vector<std::byte> msg(skb->len());
  if (core::skb_copy_bits(*skb, 0, msg.data(), static_cast<int>(msg.size())) != 0) {
    return drop(skb, DropReason::kUnsupported);
  }
  core::kfree_skb(skb);
  auto view = wire::Icmpv4View::check(msg);
  if (!view) return drop(nullptr, DropReason::kBadHeader);
  auto icmp = wire::Icmpv4Repr::parse(*view, kSoftware);
  if (!icmp) return drop(nullptr, icmp.error() == wire::WireError::kBadChecksum ? DropReason::kBadChecksum
                                                                                 : DropReason::kBadHeader);
  if (icmp->type == wire::Icmpv4Type::kEchoReply) {
    ++stats_.icmp_echo_replies_in;
    echo_replies_.push_back({src, icmp->echo_ident, icmp->echo_seq, icmp->data.size(), now});
    return;
  }
  if (icmp->type != wire::Icmpv4Type::kEchoRequest) return;
  ++stats_.icmp_echo_requests_in;
  wire::Icmpv4Repr reply = *icmp;
  reply.type = wire::Icmpv4Type::kEchoReply;
  SkBuff* out = alloc_tx_skb();
  if (out == nullptr || reply.buffer_len() > out->tailroom()) {
    core::kfree_skb(out);
    return drop(nullptr, DropReason::kNoBuffer);
  }
  reply.emit({out->put(static_cast<std::uint32_t>(reply.buffer_len())), reply.buffer_len()}, kSoftware);
  ++stats_.icmp_echo_replies_out;
  ip_output(dst, src, wire::ip_protocol::kIcmp, out, now);
}

void NetStack::tcp_rcv(Ipv4Address src, Ipv4Address dst, SkBuff* skb, sim::TimePoint now) {
  ++stats_.tcp_segs_in;
  const std::uint32_t seg_len = skb->len();
  if (!core::pskb_may_pull(*skb, wire::TcpView::kMinHeaderLen)) return drop(skb, DropReason::kTruncated);
  const auto doff = static_cast<std::uint32_t>(std::to_integer<std::uint8_t>(skb->data()[12]) >> 4) * 4;
  if (doff > wire::TcpView::kMinHeaderLen && doff <= seg_len && !core::pskb_may_pull(*skb, doff)) {
    return drop(skb, DropReason::kTruncated);
  }
  auto view = wire::TcpView::check(skb->linear(), seg_len);
  if (!view) return drop(skb, DropReason::kBadHeader);
  // Checksum over the whole segment wherever its bytes live (a NIC that verified says so).
  if (skb->ip_summed != core::IpSummed::kUnnecessary) {
    wire::ChecksumAccumulator acc;
    wire::add_ipv4_pseudo_header(acc, src, dst, wire::ip_protocol::kTcp, static_cast<std::uint16_t>(seg_len));
    acc.add_u16(static_cast<std::uint16_t>(core::skb_checksum(*skb, 0, static_cast<int>(seg_len), 0)));
    // Unreadable payload cannot be summed in software: only a NIC that verified may deliver it.
    if (!skb_frags_readable(*skb) || !acc.verifies()) return drop(skb, DropReason::kBadChecksum);
  }
  auto repr = wire::TcpRepr::parse(*view, wire::IpAddress(src), wire::IpAddress(dst), wire::ChecksumCaps::offloaded());
  if (!repr) return drop(skb, DropReason::kBadHeader);
  tcp::TcpSegment seg;
  seg.sport = repr->src_port;
  seg.dport = repr->dst_port;
  seg.seq = repr->seq_number;
  seg.ack = repr->ack_number;
  seg.flags = repr->flags.bits;
  seg.window = repr->window;
  seg.opt = repr->options;
  seg.payload_len = static_cast<std::uint32_t>(view->payload_len());
  skb->pull(static_cast<std::uint32_t>(view->header_len()));
  if (seg.payload_len > 0) {
    seg.skb = skb;
  } else {
    core::kfree_skb(skb);
  }
  const tcp::FourTuple key{wire::IpAddress(dst), seg.dport, wire::IpAddress(src), seg.sport};
  if (auto it = established_.find(key); it != established_.end()) {
    it->second->sk->input(seg, now);
    reap();
    return;
  }
  auto lit = listeners_.find(seg.dport);
  if (lit != listeners_.end() && seg.has(tcp::kSyn) && !seg.has(tcp::kAck) && !seg.has(tcp::kRst)) {
    Conn* l = lit->second;
    if (l->accept_queue.size() + l->pending >= l->sk->backlog) {
      core::kfree_skb(seg.skb);
      return drop(nullptr, DropReason::kListenOverflow);
    }
    Conn* c = new_conn();
    c->tuple = key;
    c->listener = l;
    c->sk->parent = l->sk.get();
    // MSS from the device MTU: 20 bytes of IPv4 and 20 of TCP header (tcp_mss_clamp).
    const auto r = route(src);
    if (r) c->sk->config().mss = static_cast<std::uint16_t>(ifaces_[r->iface].dev->mtu - 40);
    established_[key] = c;
    ++l->pending;
    c->sk->accept_syn(seg, isn_.isn(key, now), now);
    core::kfree_skb(seg.skb);
    return;
  }
  // No socket (RFC 9293 §3.10.7.1): answer with RST unless it is one.
  if (!seg.has(tcp::kRst)) tcp_send_reset(dst, src, seg, now);
  core::kfree_skb(seg.skb);
  drop(nullptr, DropReason::kNoSocket);
}

void NetStack::tcp_send_reset(Ipv4Address src, Ipv4Address dst, const tcp::TcpSegment& in, sim::TimePoint now) {
  wire::TcpRepr r;
  r.src_port = in.dport;
  r.dst_port = in.sport;
  if (in.has(tcp::kAck)) {
    r.seq_number = in.ack;
    r.flags = wire::TcpFlags{tcp::kRst};
  } else {
    r.ack_number = in.seq + in.seg_len();
    r.flags = wire::TcpFlags{static_cast<std::uint8_t>(tcp::kRst | tcp::kAck)};
  }
  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr) return drop(nullptr, DropReason::kNoBuffer);
  const auto hlen = static_cast<std::uint32_t>(r.header_len());
  r.emit_header({skb->put(hlen), hlen}, wire::IpAddress(src), wire::IpAddress(dst), 0, 0, kSoftware);
  ++stats_.tcp_rst_out;
  ++stats_.tcp_segs_out;
  ip_output(src, dst, wire::ip_protocol::kTcp, skb, now);
}

// ---- transmit -----------------------------------------------------------------------------------------

void NetStack::ip_output(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, SkBuff* skb, sim::TimePoint now) {
  const auto r = route(dst);
  if (!r) return drop(skb, DropReason::kNoRoute);
  wire::Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = protocol;
  ip.payload_len = static_cast<std::uint16_t>(skb->len());
  ip.ttl = cfg_.ttl;
  ip.ident = ip_ident_++;
  std::byte* h = skb->push(wire::Ipv4Repr::kHeaderLen);
  ip.emit({h, wire::Ipv4Repr::kHeaderLen}, kSoftware);
  skb->reset_network_header();
  ++stats_.ip_out;
  neigh_output(*r, skb, now);
}

void NetStack::neigh_output(const Route& r, SkBuff* skb, sim::TimePoint now) {
  Neigh& n = neigh_[r.next_hop];
  n.iface = r.iface;
  if (n.mac && now < n.expires) {
    dev_xmit(r.iface, *n.mac, wire::ethertype::kIpv4, skb);
    return;
  }
  // Resolve: queue (dropping the oldest when full) and ask, unless a probe is already out.
  if (n.queue.size() >= cfg_.arp_queue_len) {
    drop(n.queue.front(), DropReason::kNeighQueueFull);
    n.queue.pop_front();
  }
  n.queue.push_back(skb);
  if (n.probes == 0) {
    n.mac.reset();
    n.probes = 1;
    n.next_probe = now + cfg_.arp_retrans;
    arp_send(r.iface, true, MacAddress::broadcast(), r.next_hop, MacAddress{}, now);
  }
}

void NetStack::arp_send(std::size_t iface, bool request, MacAddress dst_mac, Ipv4Address target,
                        MacAddress target_mac, sim::TimePoint now) {
  (void)now;
  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr) return drop(nullptr, DropReason::kNoBuffer);
  wire::ArpRepr arp;
  arp.operation = request ? wire::ArpOperation::kRequest : wire::ArpOperation::kReply;
  arp.sender_mac = ifaces_[iface].mac;
  arp.sender_ip = ifaces_[iface].addr;
  arp.target_mac = target_mac;
  arp.target_ip = target;
  arp.emit({skb->put(wire::ArpRepr::kLen), wire::ArpRepr::kLen});
  if (request) ++stats_.arp_requests_out;
  else ++stats_.arp_replies_out;
  dev_xmit(iface, dst_mac, wire::ethertype::kArp, skb);
}

void NetStack::dev_xmit(std::size_t iface, MacAddress dst, std::uint16_t ethertype, SkBuff* skb) {
  const Iface& ifc = ifaces_[iface];
  wire::EthernetRepr eth;
  eth.dst = dst;
  eth.src = ifc.mac;
  eth.ethertype = ethertype;
  const auto len = static_cast<std::uint32_t>(eth.buffer_len());
  eth.emit({skb->push(len), len});
  skb->reset_mac_header();
  skb->dev = ifc.dev;
  ++stats_.tx_frames;
  if (ifc.dev->start_xmit(skb) != core::NetdevTx::kOk) drop(skb, DropReason::kTxBusy);
}

// ---- TCP sockets ------------------------------------------------------------------------------------------

NetStack::Conn* NetStack::new_conn() {
  auto c = std::make_unique<Conn>();
  c->sk = std::make_unique<tcp::TcpSock>(static_cast<tcp::TcpSockEnv&>(*this), cfg_.tcp);
  Conn* raw = c.get();
  by_sock_[raw->sk.get()] = raw;
  conns_.push_back(std::move(c));
  return raw;
}

std::uint16_t NetStack::ephemeral_port() {
  const std::uint16_t p = next_port_;
  next_port_ = next_port_ >= 60999 ? 32768 : static_cast<std::uint16_t>(next_port_ + 1);
  return p;
}

tcp::TcpSock* NetStack::tcp_listen(std::uint16_t port, std::uint32_t backlog) {
  if (listeners_.count(port) != 0) return nullptr;  // -EADDRINUSE
  Conn* c = new_conn();
  c->tuple.local_port = port;
  c->sk->set_ports(port, 0);
  c->sk->backlog = backlog;
  (void)c->sk->listen();
  listeners_[port] = c;
  return c->sk.get();
}

tcp::TcpSock* NetStack::tcp_accept(tcp::TcpSock* listener) {
  auto it = by_sock_.find(listener);
  if (it == by_sock_.end() || it->second->accept_queue.empty()) return nullptr;
  Conn* child = it->second->accept_queue.front();
  it->second->accept_queue.pop_front();
  child->queued = false;
  child->listener = nullptr;
  child->sk->parent = nullptr;
  return child->sk.get();
}

tcp::TcpSock* NetStack::tcp_connect(Ipv4Address dst, std::uint16_t dport, sim::TimePoint now) {
  const auto r = route(dst);
  if (!r) return nullptr;  // -ENETUNREACH
  Conn* c = new_conn();
  const std::uint16_t sport = ephemeral_port();
  c->tuple = tcp::FourTuple{wire::IpAddress(ifaces_[r->iface].addr), sport, wire::IpAddress(dst), dport};
  c->sk->config().mss = static_cast<std::uint16_t>(ifaces_[r->iface].dev->mtu - 40);
  c->sk->set_ports(sport, dport);
  established_[c->tuple] = c;
  (void)c->sk->connect(isn_.isn(c->tuple, now), now);
  return c->sk.get();
}

void NetStack::tcp_release(tcp::TcpSock* sk, sim::TimePoint now) {
  auto it = by_sock_.find(sk);
  if (it == by_sock_.end()) return;
  Conn* c = it->second;
  c->released = true;
  if (c->sk->state() == tcp::TcpState::kListen) {
    listeners_.erase(c->tuple.local_port);
    for (Conn* child : c->accept_queue) {
      child->released = true;
      child->sk->abort(now);
    }
    c->accept_queue.clear();
  }
  c->sk->close(now);
  if (c->sk->state() == tcp::TcpState::kClosed) c->dead = true;
  reap();
}

core::SkBuff* NetStack::tcp_alloc_skb() { return alloc_tx_skb(); }

void NetStack::tcp_output(tcp::TcpSock& sk, tcp::TcpSegment& seg, sim::TimePoint now) {
  SkBuff* skb = seg.skb;
  seg.skb = nullptr;
  auto it = by_sock_.find(&sk);
  NICEMU_ASSERT(it != by_sock_.end(), "tcp_output from a socket the stack does not own");
  const tcp::FourTuple& t = it->second->tuple;
  if (skb == nullptr) skb = alloc_tx_skb();
  if (skb == nullptr) return drop(nullptr, DropReason::kNoBuffer);
  wire::TcpRepr r;
  r.src_port = seg.sport;
  r.dst_port = seg.dport;
  r.seq_number = seg.seq;
  r.ack_number = seg.ack;
  r.flags = wire::TcpFlags{seg.flags};
  r.window = seg.window;
  r.options = seg.opt;
  const auto payload_sum =
      seg.payload_len > 0 ? static_cast<std::uint16_t>(core::skb_checksum(*skb, 0, static_cast<int>(seg.payload_len), 0))
                          : std::uint16_t{0};
  const auto hlen = static_cast<std::uint32_t>(r.header_len());
  NICEMU_ASSERT(skb->headroom() >= hlen + 20 + 14, "tcp_output: skb without room for the headers");
  r.emit_header({skb->push(hlen), hlen}, t.local_addr, t.remote_addr, seg.payload_len, payload_sum, kSoftware);
  skb->reset_transport_header();
  ++stats_.tcp_segs_out;
  ip_output(t.local_addr.v4(), t.remote_addr.v4(), wire::ip_protocol::kTcp, skb, now);
}

void NetStack::tcp_state_change(tcp::TcpSock& sk, tcp::TcpState old_state) {
  auto it = by_sock_.find(&sk);
  if (it == by_sock_.end()) return;  // during construction
  Conn* c = it->second;
  if (c->listener != nullptr && old_state == tcp::TcpState::kSynReceived) {
    if (c->listener->pending > 0) --c->listener->pending;
    if (sk.state() == tcp::TcpState::kEstablished || sk.state() == tcp::TcpState::kCloseWait) {
      c->listener->accept_queue.push_back(c);
      c->queued = true;
    }
  }
  if (sk.state() == tcp::TcpState::kClosed && (c->released || c->listener != nullptr || old_state == tcp::TcpState::kSynReceived)) {
    c->dead = true;  // freed by reap(), outside the socket's own call stack
  }
}

void NetStack::reap() {
  for (auto& up : conns_) {
    Conn* c = up.get();
    if (!c->dead) continue;
    if (c->queued && c->listener != nullptr) {
      auto& q = c->listener->accept_queue;
      q.erase(std::remove(q.begin(), q.end(), c), q.end());
    }
    if (auto e = established_.find(c->tuple); e != established_.end() && e->second == c) established_.erase(e);
    by_sock_.erase(c->sk.get());
  }
  std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return c->dead; });
}

// ---- ICMP, ARP lookups, time ------------------------------------------------------------------------------

void NetStack::ping(Ipv4Address dst, std::uint16_t id, std::uint16_t seq, std::size_t len, sim::TimePoint now) {
  const auto r = route(dst);
  if (!r) return drop(nullptr, DropReason::kNoRoute);
  std::vector<std::byte> data(len);
  for (std::size_t i = 0; i < len; ++i) data[i] = static_cast<std::byte>(i);
  wire::Icmpv4Repr req;
  req.type = wire::Icmpv4Type::kEchoRequest;
  req.echo_ident = id;
  req.echo_seq = seq;
  req.data = data;
  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr || req.buffer_len() > skb->tailroom()) {
    core::kfree_skb(skb);
    return drop(nullptr, DropReason::kNoBuffer);
  }
  req.emit({skb->put(static_cast<std::uint32_t>(req.buffer_len())), req.buffer_len()}, kSoftware);
  ip_output(ifaces_[r->iface].addr, dst, wire::ip_protocol::kIcmp, skb, now);
}

std::optional<MacAddress> NetStack::arp_lookup(Ipv4Address a) const {
  auto it = neigh_.find(a);
  if (it == neigh_.end()) return std::nullopt;
  return it->second.mac;
}

std::optional<sim::TimePoint> NetStack::poll_at() const {
  std::optional<sim::TimePoint> t;
  auto take = [&t](sim::TimePoint x) {
    if (!t || x < *t) t = x;
  };
  for (const auto& [a, n] : neigh_) {
    if (n.probes > 0 && !n.mac) take(n.next_probe);
  }
  for (const auto& c : conns_) {
    if (auto x = c->sk->next_timer()) take(*x);
  }
  return t;
}

void NetStack::poll(sim::TimePoint now) {
  for (auto& [addr, n] : neigh_) {
    if (n.probes == 0 || n.mac || n.next_probe > now) continue;
    if (n.probes >= cfg_.arp_probes) {  // no answer: fail what waited
      while (!n.queue.empty()) {
        drop(n.queue.front(), DropReason::kNeighFailed);
        n.queue.pop_front();
      }
      n.probes = 0;
      continue;
    }
    ++n.probes;
    n.next_probe = now + cfg_.arp_retrans;
    arp_send(n.iface, true, MacAddress::broadcast(), addr, MacAddress{}, now);
  }
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    tcp::TcpSock& sk = *conns_[i]->sk;
    if (auto t = sk.next_timer(); t && *t <= now) sk.on_timer(now);
  }
  reap();
}

}  // namespace nicemu::netstack::inet
