// TCP's glue to IP for both families (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c,
// net/ipv4/af_inet.c, inet_connection_sock.c): socket-level calls (bind, listen, connect,
// accept, release), demux of arriving segments to connections and listeners, RSTs for segments
// nobody wants, segment output with CHECKSUM_PARTIAL, and the lifetime of connections.
#include <algorithm>
#include <cerrno>

#include "nicemu/netstack/core/gro.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"

#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/sim/random.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/tcp.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using tcp::TcpState;
using wire::IpAddress;
using wire::IpVersion;

namespace {
constexpr std::uint16_t kTcpCsumOffset = 16;
// sk_acceptq_is_full: `>`, so listen(N) holds N + 1 connections (since Linux 5.4, c609e6aae4ef).
template <class Listener>
bool acceptq_is_full(const Listener& l) {
  return l.accept_queue.size() > l.sk->backlog;
}
bool is_established_like(TcpState s) {
  return s == TcpState::kEstablished || s == TcpState::kCloseWait;
}
}  // namespace

// ---- connections --------------------------------------------------------------------------------

NetStack::Conn* NetStack::new_conn(IpVersion family) {
  auto c = std::make_unique<Conn>();
  c->family = family;
  c->tuple.local_addr = IpAddress::any(family);
  c->tuple.remote_addr = IpAddress::any(family);
  c->sk = std::make_unique<tcp::TcpSock>(static_cast<tcp::TcpSockEnv&>(*this), cfg_.tcp);
  c->sk->packet_tracer = packet_tracer_;
  Conn* raw = c.get();
  by_sock_[raw->sk.get()] = raw;
  conns_.push_back(std::move(c));
  return raw;
}

NetStack::Conn* NetStack::conn_of(const tcp::TcpSock* sk) const {
  auto it = by_sock_.find(sk);
  NICEMU_ASSERT(it != by_sock_.end(), "a TcpSock this stack does not own (or one already released and freed)");
  return it->second;
}

std::uint16_t NetStack::tcp_mss_for(std::size_t iface, IpVersion family) const {
  // tcp_mss_clamp: the device MTU minus 20 (IPv4) or 40 (IPv6) and 20 bytes of TCP header.
  const std::uint32_t mtu = ifaces_[iface].dev->mtu;
  return static_cast<std::uint16_t>(mtu - (family == IpVersion::kV4 ? 40 : 60));
}

void NetStack::reap() {
  for (auto& up : conns_) {
    Conn* c = up.get();
    if (!c->dead) continue;
    if (c->queued && c->listener != nullptr) {
      auto& q = c->listener->accept_queue;
      q.erase(std::remove(q.begin(), q.end(), c), q.end());
    }
    if (c->hashed) {
      if (auto e = established_.find(c->tuple); e != established_.end() && e->second == c) established_.erase(e);
    }
    if (c->listening) {
      auto& v = listeners_[{c->tuple.local_port, c->family}];
      std::erase(v, c);
      if (v.empty()) listeners_.erase({c->tuple.local_port, c->family});
    }
    if (c->bound) port_unbind(tcp_ports_, c->tuple.local_port, c);
    detail::add_stats(tcp_gone_.sum, c->sk->stats());
    by_sock_.erase(c->sk.get());
  }
  std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return c->dead; });
}

// ---- socket-level calls ---------------------------------------------------------------------------

tcp::TcpSock* NetStack::tcp_socket(IpVersion family) {
  NICEMU_ASSERT(family == IpVersion::kV4 || family == IpVersion::kV6, "tcp_socket: a family is needed");
  return new_conn(family)->sk.get();
}

base::Result<std::uint16_t, int> NetStack::inet_bind(tcp::TcpSock* sk, IpAddress local, std::uint16_t port) {
  Conn* c = conn_of(sk);
  if (local.version() != c->family) return base::Unexpected{-EAFNOSUPPORT};
  if (!local.is_unspecified() && !is_local(local)) return base::Unexpected{-EADDRNOTAVAIL};
  if (c->bound || sk->state() != TcpState::kClosed) return base::Unexpected{-EINVAL};
  auto p = port_bind(tcp_ports_, local, port, c, c->reuseaddr);
  if (!p) return p;
  c->bound = true;
  c->tuple.local_addr = local;
  c->tuple.local_port = *p;
  sk->set_ports(*p, 0);
  return p;
}

int NetStack::inet_listen(tcp::TcpSock* sk, std::uint32_t backlog) {
  Conn* c = conn_of(sk);
  backlog = std::min(backlog, cfg_.somaxconn);
  if (sk->state() == TcpState::kListen) {  // a second listen() only changes the backlog
    sk->backlog = backlog;
    return 0;
  }
  if (sk->state() != TcpState::kClosed || c->hashed) return -EINVAL;
  if (!c->bound) {
    auto p = inet_bind(sk, IpAddress::any(c->family), 0);
    if (!p) return p.error();
  } else if (const int err = port_check(tcp_ports_, c->tuple.local_addr, c->tuple.local_port, c->reuseaddr, c);
             err != 0) {
    return err;  // inet_csk_listen_start re-checks: another listener took the port meanwhile
  }
  sk->backlog = backlog;
  if (const int err = sk->listen(); err != 0) return err;
  c->listening = true;
  port_set_listening(c->tuple.local_port, c, true);
  listeners_[{c->tuple.local_port, c->family}].push_back(c);
  return 0;
}

int NetStack::inet_stream_connect(tcp::TcpSock* sk, IpAddress dst, std::uint16_t dport, sim::TimePoint now) {
  Conn* c = conn_of(sk);
  if (dst.version() != c->family) return -EAFNOSUPPORT;
  switch (sk->state()) {
    case TcpState::kClosed: break;
    case TcpState::kListen: return -EINVAL;
    case TcpState::kSynSent: return -EALREADY;
    default: return -EISCONN;
  }
  if (c->hashed) return -EISCONN;  // connected once and closed since: not reusable (as Linux: EISCONN/EBADFD)
  if (dport == 0 || dst.is_unspecified()) return -ECONNREFUSED;
  const auto r = route(dst);
  if (!r) return -ENETUNREACH;
  const IpAddress src = c->tuple.local_addr.is_unspecified() ? r->src : c->tuple.local_addr;
  if (!c->bound) {
    const std::uint16_t p = port_pick_free(tcp_ports_, src);
    if (p == 0) return -EADDRNOTAVAIL;  // __inet_hash_connect: no port left
    tcp_ports_[p].push_back(Binding{src, c, c->reuseaddr, false});
    c->bound = true;
    c->tuple.local_port = p;
  }
  const tcp::FourTuple t{src, c->tuple.local_port, dst, dport};
  if (established_.count(t) != 0) return -EADDRNOTAVAIL;
  c->tuple = t;
  sk->config().mss = tcp_mss_for(r->iface, c->family);
  sk->set_ports(t.local_port, dport);
  established_[t] = c;
  tcp_hashed(c);
  return sk->connect(isn_.isn(t, now), now);
}

std::size_t NetStack::tcp_accept_queue_len(const tcp::TcpSock* listener) const {
  const Conn* l = conn_of(listener);
  return l->listening ? l->accept_queue.size() : 0;
}

std::size_t NetStack::tcp_syn_queue_len(const tcp::TcpSock* listener) const {
  const Conn* l = conn_of(listener);
  return l->listening ? l->pending : 0;
}

base::Result<tcp::TcpSock*, int> NetStack::inet_accept(tcp::TcpSock* listener) {
  Conn* l = conn_of(listener);
  if (listener->state() != TcpState::kListen) return base::Unexpected{-EINVAL};
  if (l->accept_queue.empty()) return base::Unexpected{-EAGAIN};
  Conn* child = l->accept_queue.front();
  l->accept_queue.pop_front();
  child->queued = false;
  child->listener = nullptr;
  child->sk->parent = nullptr;
  return child->sk.get();
}

void NetStack::tcp_release(tcp::TcpSock* sk, sim::TimePoint now) {
  auto it = by_sock_.find(sk);
  if (it == by_sock_.end()) return;
  Conn* c = it->second;
  c->released = true;
  if (sk->state() == TcpState::kListen) {
    // Children not yet accepted die with the listener (inet_csk_listen_stop): those in the
    // accept queue and those still in SYN-RECEIVED.
    for (auto& up : conns_) {
      Conn* child = up.get();
      if (child->listener != c) continue;
      child->released = true;
      child->listener = nullptr;
      child->queued = false;
      child->sk->parent = nullptr;
      child->sk->abort(now);
      child->dead = true;
    }
    c->accept_queue.clear();
    c->pending = 0;
  }
  sk->close(now);
  if (sk->state() == TcpState::kClosed) c->dead = true;
  reap();
}

void NetStack::tcp_set_reuseaddr(tcp::TcpSock* sk, bool on) {
  Conn* c = conn_of(sk);
  c->reuseaddr = on;
  if (c->bound) {
    for (Binding& b : tcp_ports_[c->tuple.local_port]) {
      if (b.owner == c) b.reuse = on;
    }
  }
}

void NetStack::tcp_set_hop_limit(tcp::TcpSock* sk, int hops) {
  NICEMU_ASSERT(hops >= -1 && hops <= 255, "tcp_set_hop_limit: -1 or 0..255");
  conn_of(sk)->hop_limit = hops;
}

tcp::FourTuple NetStack::tcp_tuple(const tcp::TcpSock* sk) const { return conn_of(sk)->tuple; }

// ---- shortcuts ------------------------------------------------------------------------------------

tcp::TcpSock* NetStack::tcp_listen(std::uint16_t port, std::uint32_t backlog) {
  tcp::TcpSock* sk = tcp_socket(IpVersion::kV4);
  if (!inet_bind(sk, IpAddress::any(IpVersion::kV4), port) || inet_listen(sk, backlog) != 0) {
    conn_of(sk)->dead = true;
    reap();
    return nullptr;
  }
  return sk;
}

tcp::TcpSock* NetStack::tcp_accept(tcp::TcpSock* listener) {
  auto r = inet_accept(listener);
  return r ? *r : nullptr;
}

tcp::TcpSock* NetStack::tcp_connect(IpAddress dst, std::uint16_t dport, sim::TimePoint now) {
  tcp::TcpSock* sk = tcp_socket(dst.version());
  if (inet_stream_connect(sk, dst, dport, now) != 0) {
    conn_of(sk)->dead = true;
    reap();
    return nullptr;
  }
  return sk;
}

// ---- receive -----------------------------------------------------------------------------------------

NetStack::Conn* NetStack::listener_for(const IpAddress& dst, std::uint16_t dport) const {
  auto it = listeners_.find({dport, dst.version()});
  if (it == listeners_.end()) return nullptr;
  Conn* wildcard = nullptr;
  for (Conn* l : it->second) {  // an exact address beats the wildcard (compute_score)
    if (l->tuple.local_addr == dst) return l;
    if (l->tuple.local_addr.is_unspecified() && wildcard == nullptr) wildcard = l;
  }
  return wildcard;
}

void NetStack::tcp_rcv(const IpAddress& src, const IpAddress& dst, SkBuff* skb, sim::TimePoint now) {
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
  if (!l4_checksum_ok(*skb, src, dst, wire::ip_protocol::kTcp)) return drop(skb, DropReason::kBadChecksum);
  auto repr = wire::TcpRepr::parse(*view, src, dst, wire::ChecksumCaps::offloaded());
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
  if (packet_tracer_ != nullptr) trace(sim::PacketStage::kTcpRcv, *skb, now, seg.payload_len, seg.seq);
  skb->pull(static_cast<std::uint32_t>(view->header_len()));
  if (seg.payload_len > 0) {
    seg.skb = skb;
  } else {
    core::kfree_skb(skb);
  }
  const tcp::FourTuple key{dst, seg.dport, src, seg.sport};
  if (auto it = established_.find(key); it != established_.end()) {
    Conn* c = it->second;
    // The handshake's last ACK while the listener's accept queue is full: dropped, and the
    // child stays in SYN-RECEIVED to retransmit its SYN-ACK (tcp_check_req failing in
    // syn_recv_sock with net.ipv4.tcp_abort_on_overflow = 0).
    if (c->listener != nullptr && c->sk->state() == TcpState::kSynReceived && seg.has(tcp::kAck) &&
        !seg.has(tcp::kRst) && !seg.has(tcp::kSyn) && acceptq_is_full(*c->listener)) {
      core::kfree_skb(seg.skb);
      return drop(nullptr, DropReason::kListenOverflow);
    }
    c->sk->input(seg, now);
    reap();
    return;
  }
  Conn* l = listener_for(dst, seg.dport);
  if (l != nullptr && seg.has(tcp::kSyn) && !seg.has(tcp::kAck) && !seg.has(tcp::kRst)) {
    // tcp_conn_request's two limits, both `>` as in current kernels: handshakes under way
    // (without SYN cookies, which nicemu does not implement) and the accept queue.
    if (l->pending > l->sk->backlog) {
      core::kfree_skb(seg.skb);
      return drop(nullptr, DropReason::kSynQueueFull);
    }
    if (acceptq_is_full(*l)) {
      core::kfree_skb(seg.skb);
      return drop(nullptr, DropReason::kListenOverflow);
    }
    const auto r = route(src);
    if (!r) {
      core::kfree_skb(seg.skb);
      return drop(nullptr, DropReason::kNoRoute);
    }
    Conn* c = new_conn(l->family);
    c->tuple = key;
    c->listener = l;
    c->reuseaddr = l->reuseaddr;
    c->hop_limit = l->hop_limit;
    c->sk->parent = l->sk.get();
    c->sk->config() = l->sk->config();  // options set on the listener are inherited
    c->sk->config().mss = tcp_mss_for(r->iface, l->family);
    c->sk->set_ports(seg.dport, seg.sport);
    // The child shares the listener's port (inet_inherit_port).
    tcp_ports_[seg.dport].push_back(Binding{dst, c, c->reuseaddr, false});
    c->bound = true;
    established_[key] = c;
    tcp_hashed(c);
    ++l->pending;
    ++tcp_gone_.passive_opens;
    c->sk->accept_syn(seg, isn_.isn(key, now), now);
    core::kfree_skb(seg.skb);
    reap();
    return;
  }
  // No socket (RFC 9293 §3.10.7.1): answer with RST unless it is one.
  if (!seg.has(tcp::kRst)) tcp_send_reset(dst, src, seg, now);
  core::kfree_skb(seg.skb);
  drop(nullptr, DropReason::kNoSocket);
}

// ---- transmit ------------------------------------------------------------------------------------------

void NetStack::tcp_send_reset(const IpAddress& src, const IpAddress& dst, const tcp::TcpSegment& in,
                              sim::TimePoint now) {
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
  r.emit_header({skb->put(hlen), hlen}, src, dst, 0, 0, wire::ChecksumCaps::offloaded());
  l4_set_partial(*skb, src, dst, wire::ip_protocol::kTcp, kTcpCsumOffset);
  ++stats_.tcp_rst_out;
  ++stats_.tcp_segs_out;
  l4_output(src, dst, wire::ip_protocol::kTcp, 0, skb, now);
}

core::SkBuff* NetStack::tcp_alloc_skb() { return alloc_tx_skb(); }

// kernel: sk_set_txhash() (random per socket there; a mix of the ports and the run seed here,
// so runs repeat).
void NetStack::tcp_hashed(Conn* c) {
  c->hashed = true;
  const std::uint64_t ports = std::uint64_t{c->tuple.local_port} << 16 | c->tuple.remote_port;
  c->txhash = static_cast<std::uint32_t>(sim::splitmix64_mix(ports ^ (cfg_.seed * 0x9e3779b97f4a7c15ULL)));
}

void NetStack::tcp_output(tcp::TcpSock& sk, tcp::TcpSegment& seg, sim::TimePoint now) {
  SkBuff* skb = seg.skb;
  seg.skb = nullptr;
  const Conn* c = conn_of(&sk);
  const tcp::FourTuple& t = c->tuple;
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
  const auto hlen = static_cast<std::uint32_t>(r.header_len());
  NICEMU_ASSERT(skb->headroom() >= hlen + 40 + 14, "tcp_output: skb without room for the headers");
  r.emit_header({skb->push(hlen), hlen}, t.local_addr, t.remote_addr, seg.payload_len, 0,
                wire::ChecksumCaps::offloaded());
  skb->reset_transport_header();
  // kernel: tcp_v4_send_check / tcp_v6_send_check: CHECKSUM_PARTIAL, finished by the device or
  // by skb_checksum_help at the device (dev_xmit).
  l4_set_partial(*skb, t.local_addr, t.remote_addr, wire::ip_protocol::kTcp, kTcpCsumOffset);
  if (seg.gso_size != 0) {  // kernel: tcp_set_skb_tso_segs() / tcp_gso_segs()
    skb->gso_size = static_cast<std::uint16_t>(seg.gso_size);
    skb->gso_segs = static_cast<std::uint16_t>((seg.payload_len + seg.gso_size - 1) / seg.gso_size);
    skb->gso_type = t.remote_addr.is_v4() ? core::kSkbGsoTcpV4 : core::kSkbGsoTcpV6;
  }
  skb->hash = c->txhash;  // kernel: skb_set_hash_from_sk(), read by netdev_pick_tx
  skb->l4_hash = true;
  if (packet_tracer_ != nullptr) trace(sim::PacketStage::kTcpTransmit, *skb, now, seg.payload_len, seg.seq);
  ++stats_.tcp_segs_out;
  l4_output(t.local_addr, t.remote_addr, wire::ip_protocol::kTcp, c->hop_limit, skb, now);
}

// kernel: sk_setup_caps(): TSO for the connection's family on the device its route leaves by.
tcp::TcpSockEnv::GsoCaps NetStack::tcp_gso_caps(const tcp::TcpSock& sk) {
  const Conn* c = conn_of(&sk);
  if (c == nullptr) return {};
  const auto r = route(c->tuple.remote_addr);
  if (!r) return {};
  const core::NetDevice* dev = ifaces_[r->iface].dev;
  const std::uint64_t need = c->tuple.remote_addr.is_v4() ? core::kNetifFTso : core::kNetifFTso6;
  if (dev == nullptr || (dev->features & need) == 0 || (dev->features & core::kNetifFSg) == 0) return {};
  return {dev->gso_max_size, dev->gso_max_segs};
}

core::NetNs* NetStack::netns() const {
  for (const Iface& i : ifaces_) {
    if (i.dev != nullptr && i.dev->netns() != nullptr) return i.dev->netns();
  }
  return nullptr;
}

core::NetDevice* NetStack::tcp_route_dev(const tcp::TcpSock* sk) const {
  const Conn* c = conn_of(sk);
  if (c == nullptr || c->tuple.remote_addr.is_unspecified()) return nullptr;
  const auto r = route(c->tuple.remote_addr);
  return r ? ifaces_[r->iface].dev : nullptr;
}

void NetStack::tcp_state_change(tcp::TcpSock& sk, TcpState old_state) {
  auto it = by_sock_.find(&sk);
  if (it == by_sock_.end()) return;  // during construction
  Conn* c = it->second;
  const TcpState s = sk.state();
  if (old_state == TcpState::kClosed && s == TcpState::kSynSent) ++tcp_gone_.active_opens;
  if ((old_state == TcpState::kSynSent || old_state == TcpState::kSynReceived) && s == TcpState::kClosed) {
    ++tcp_gone_.attempt_fails;
  }
  if (is_established_like(old_state) && s == TcpState::kClosed) ++tcp_gone_.estab_resets;
  if (c->listener != nullptr && old_state == TcpState::kSynReceived) {
    if (c->listener->pending > 0) --c->listener->pending;
    if (is_established_like(s)) {
      c->listener->accept_queue.push_back(c);
      c->queued = true;
    }
  }
  // Freed by reap(), outside the socket's own call stack: a socket the application let go, and
  // a child that died in SYN-RECEIVED (kernel: a request sock). A child reset while it waits in
  // the accept queue stays there, and accept() returns it (as Linux: the error comes on the
  // first read); an active opener reset in SYN-RECEIVED (simultaneous open) belongs to the
  // application, which still holds it.
  if (s == TcpState::kClosed && (c->released || (c->listener != nullptr && !c->queued))) {
    c->dead = true;
  }
}

}  // namespace nicemu::netstack::inet
