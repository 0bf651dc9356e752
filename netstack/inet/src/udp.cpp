// UDP for both families (RFC 768; net/ipv4/udp.c, net/ipv6/udp.c): binding, connect, sendmsg
// (CHECKSUM_PARTIAL, payload in host pages), receive with the socket lookup's preference for
// connected and address-bound sockets, the receive-buffer limit, and recvmsg with MSG_PEEK /
// MSG_TRUNC semantics. ICMP port unreachable for datagrams no socket wants is icmp.cpp.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/udp.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::IpAddress;
using wire::IpVersion;

namespace {
constexpr std::uint16_t kUdpCsumOffset = 6;
constexpr std::uint32_t kUdpHeaderLen = 8;
// Charged against SO_RCVBUF per queued skb besides its bytes (the kernel's truesize counts the
// sk_buff and its head as well as the data).
constexpr std::uint32_t kSkbOverhead = 256;
}  // namespace

UdpSock::~UdpSock() {
  for (Datagram& d : queue_) core::kfree_skb(d.skb);
}

UdpSock* NetStack::udp_socket(IpVersion family) {
  NICEMU_ASSERT(family == IpVersion::kV4 || family == IpVersion::kV6, "udp_socket: a family is needed");
  auto s = std::make_unique<UdpSock>();
  s->local_addr = IpAddress::any(family);
  udp_.push_back(std::move(s));
  return udp_.back().get();
}

base::Result<std::uint16_t, int> NetStack::udp_bind(UdpSock* sk, IpAddress local, std::uint16_t port) {
  if (local.version() != sk->local_addr.version()) return base::Unexpected{-EAFNOSUPPORT};
  if (!local.is_unspecified() && !is_local(local)) return base::Unexpected{-EADDRNOTAVAIL};
  if (sk->local_port != 0) return base::Unexpected{-EINVAL};
  auto p = port_bind(udp_ports_, local, port, sk, sk->reuseaddr_);
  if (!p) return p;
  sk->local_addr = local;
  sk->local_port = *p;
  sk->bind_addr_lock_ = !local.is_unspecified();
  sk->bind_port_lock_ = port != 0;
  return p;
}

void NetStack::udp_set_reuseaddr(UdpSock* sk, bool on) {
  sk->reuseaddr_ = on;
  if (sk->local_port == 0) return;
  for (Binding& b : udp_ports_[sk->local_port]) {
    if (b.owner == sk) b.reuse = on;
  }
}

// The bind table keeps each socket's local address (udp_lib_rehash when connect or disconnect
// changes it).
void NetStack::udp_rehash(UdpSock* sk) {
  for (Binding& b : udp_ports_[sk->local_port]) {
    if (b.owner == sk) b.addr = sk->local_addr;
  }
}

int NetStack::udp_connect(UdpSock* sk, IpAddress dst, std::uint16_t dport) {
  if (dst.version() == IpVersion::kNone) {  // AF_UNSPEC: __udp_disconnect
    sk->peer_addr.reset();
    sk->peer_port = 0;
    if (!sk->bind_addr_lock_ && sk->local_port != 0) {
      sk->local_addr = IpAddress::any(sk->local_addr.version());
      udp_rehash(sk);
    }
    if (!sk->bind_port_lock_ && sk->local_port != 0) {
      port_unbind(udp_ports_, sk->local_port, sk);
      sk->local_port = 0;
    }
    return 0;
  }
  if (dst.version() != sk->local_addr.version()) return -EAFNOSUPPORT;
  const auto r = route(dst);
  if (!r) return -ENETUNREACH;
  if (sk->local_port == 0) {
    auto p = udp_bind(sk, IpAddress::any(dst.version()), 0);
    if (!p) return p.error();
  }
  if (sk->local_addr.is_unspecified()) {  // ip4_datagram_connect / ip6_datagram_connect
    sk->local_addr = r->src;
    udp_rehash(sk);
  }
  sk->peer_addr = dst;
  sk->peer_port = dport;
  return 0;
}

void NetStack::udp_release(UdpSock* sk) {
  if (sk->local_port != 0) port_unbind(udp_ports_, sk->local_port, sk);
  std::erase_if(udp_, [sk](const std::unique_ptr<UdpSock>& s) { return s.get() == sk; });
}

base::Result<std::size_t, int> NetStack::udp_sendmsg(UdpSock* sk, std::span<const std::span<const std::byte>> iov,
                                                     std::optional<IpAddress> dst, std::uint16_t dport,
                                                     sim::TimePoint now) {
  if (sk->so_error != 0) return base::Unexpected{sk->take_error()};
  const IpVersion family = sk->local_addr.version();
  if (dst) {
    if (dst->version() != family) return base::Unexpected{-EAFNOSUPPORT};
    if (dport == 0) return base::Unexpected{-EINVAL};
  } else {
    if (!sk->peer_addr) return base::Unexpected{-EDESTADDRREQ};
    dst = sk->peer_addr;
    dport = sk->peer_port;
  }
  std::size_t len = 0;
  for (const auto& v : iov) len += v.size();
  const std::size_t ip_hlen = family == IpVersion::kV4 ? 20 : 40;
  if (len > 0xffffu - kUdpHeaderLen - (family == IpVersion::kV4 ? ip_hlen : 0)) return base::Unexpected{-EMSGSIZE};
  const auto r = route(*dst);
  if (!r) return base::Unexpected{-ENETUNREACH};
  // No fragmentation in nicemu: a datagram must fit the route's MTU (as IP_PMTUDISC_DO).
  if (len + kUdpHeaderLen + ip_hlen > ifaces_[r->iface].dev->mtu) return base::Unexpected{-EMSGSIZE};
  if (sk->local_port == 0) {
    auto p = udp_bind(sk, IpAddress::any(family), 0);
    if (!p) return base::Unexpected{-EAGAIN};  // inet_autobind failure
  }
  const IpAddress src = sk->local_addr.is_unspecified() ? r->src : sk->local_addr;

  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr) return base::Unexpected{-ENOBUFS};
  std::byte* hdr = skb->put(kUdpHeaderLen);
  // Payload: in the linear area when it fits, else in host pages (the way ip_append_data fills
  // page frags for a scatter-gather device).
  if (len <= skb->tailroom()) {
    for (const auto& v : iov) {
      if (!v.empty()) std::memcpy(skb->put(static_cast<std::uint32_t>(v.size())), v.data(), v.size());
    }
  } else {
    std::size_t vi = 0, voff = 0, left = len;
    while (left > 0) {
      netmem::Page* page = memory_.alloc_pages(0);
      if (page == nullptr || skb->nr_frags() == core::kMaxSkbFrags) {
        if (page != nullptr) netmem::put_page(*page);
        core::kfree_skb(skb);
        return base::Unexpected{-ENOBUFS};
      }
      const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(left, netmem::kPageSize));
      std::byte* to = netmem::page_address(*page).data();
      for (std::uint32_t done = 0; done < n;) {
        while (voff == iov[vi].size()) {
          ++vi;
          voff = 0;
        }
        const std::size_t k = std::min<std::size_t>(n - done, iov[vi].size() - voff);
        std::memcpy(to + done, iov[vi].data() + voff, k);
        done += static_cast<std::uint32_t>(k);
        voff += k;
      }
      skb->add_rx_frag(netmem::NetmemRef::from_page(*page), 0, n, netmem::kPageSize);
      left -= n;
    }
  }
  wire::store_be16(hdr, sk->local_port);
  wire::store_be16(hdr + 2, dport);
  wire::store_be16(hdr + 4, static_cast<std::uint16_t>(kUdpHeaderLen + len));
  wire::store_be16(hdr + 6, 0);
  skb->reset_transport_header();
  l4_set_partial(*skb, src, *dst, wire::ip_protocol::kUdp, kUdpCsumOffset);
  ++stats_.udp_out;
  ++sk->stats_.out_datagrams;
  sk->stats_.out_bytes += len;
  l4_output(src, *dst, wire::ip_protocol::kUdp, sk->hop_limit, skb, now);
  return len;
}

base::Result<UdpRecv, int> NetStack::udp_recvmsg(UdpSock* sk, std::span<const std::span<std::byte>> iov, bool peek) {
  if (sk->so_error != 0) return base::Unexpected{sk->take_error()};
  if (sk->queue_.empty()) return base::Unexpected{-EAGAIN};
  UdpSock::Datagram& d = sk->queue_.front();
  UdpRecv out;
  out.datagram_len = d.skb->len();
  out.from = d.from;
  out.from_port = d.from_port;
  std::size_t off = 0;
  for (const auto& v : iov) {
    if (off >= out.datagram_len) break;
    const std::size_t n = std::min(v.size(), out.datagram_len - off);
    if (core::skb_copy_datagram_iter(*d.skb, static_cast<int>(off), v.first(n)) != 0) {
      return base::Unexpected{-EFAULT};
    }
    off += n;
  }
  out.copied = off;
  if (!peek) {
    sk->rmem_alloc_ -= std::min(sk->rmem_alloc_, d.skb->truesize + kSkbOverhead);
    ++sk->stats_.in_datagrams;
    sk->stats_.in_bytes += out.datagram_len;
    core::kfree_skb(d.skb);
    sk->queue_.pop_front();
  }
  return out;
}

UdpSock* NetStack::udp_lookup(const IpAddress& src, std::uint16_t sport, const IpAddress& dst,
                              std::uint16_t dport) const {
  // compute_score: a connected socket matching the peer beats one bound to the address, which
  // beats a wildcard one; ties go to the first created.
  UdpSock* best = nullptr;
  int best_score = -1;
  for (const auto& up : udp_) {
    UdpSock* s = up.get();
    if (s->local_port != dport || s->local_addr.version() != dst.version()) continue;
    int score = 0;
    if (!s->local_addr.is_unspecified()) {
      if (s->local_addr != dst) continue;
      score += 2;
    }
    if (s->peer_addr) {
      if (*s->peer_addr != src || s->peer_port != sport) continue;
      score += 4;
    }
    if (score > best_score) {
      best = s;
      best_score = score;
    }
  }
  return best;
}

void NetStack::udp_rcv(const IpAddress& src, const IpAddress& dst, SkBuff* skb, sim::TimePoint now) {
  if (!core::pskb_may_pull(*skb, kUdpHeaderLen)) return drop(skb, DropReason::kTruncated);
  auto view = wire::UdpView::check(skb->linear(), skb->len());
  if (!view) return drop(skb, DropReason::kBadHeader);
  if (view->length() < skb->len()) skb->trim(view->length());  // __udp4_lib_rcv: pskb_trim_rcsum
  if (view->checksum() == 0) {
    if (src.is_v6()) return drop(skb, DropReason::kBadChecksum);  // RFC 8200 §8.1: mandatory in IPv6
  } else if (!l4_checksum_ok(*skb, src, dst, wire::ip_protocol::kUdp)) {
    return drop(skb, DropReason::kBadChecksum);
  }
  const std::uint16_t sport = view->src_port(), dport = view->dst_port();
  UdpSock* sk = udp_lookup(src, sport, dst, dport);
  if (sk == nullptr) {
    ++stats_.udp_no_ports;
    // Quote the offending datagram from its IP header (still in the linear area before data).
    std::vector<std::byte> quote(std::min<std::size_t>(skb->len() + (skb->data() - skb->network_header_ptr()), 512));
    const auto ip_hlen = static_cast<std::size_t>(skb->data() - skb->network_header_ptr());
    std::memcpy(quote.data(), skb->network_header_ptr(), std::min(ip_hlen, quote.size()));
    if (quote.size() > ip_hlen &&
        core::skb_copy_bits(*skb, 0, quote.data() + ip_hlen, static_cast<int>(quote.size() - ip_hlen)) != 0) {
      quote.resize(ip_hlen + kUdpHeaderLen);  // unreadable payload: the header is enough (RFC 792)
    }
    icmp_send_port_unreach(src, dst, quote, now);
    return drop(skb, DropReason::kNoSocket);
  }
  // __udp_enqueue_schedule_skb: refuse once the queue is over SO_RCVBUF.
  if (sk->rmem_alloc_ > sk->rcvbuf) {
    ++sk->stats_.rcvbuf_errors;
    return drop(skb, DropReason::kUdpRcvbuf);
  }
  skb->pull(kUdpHeaderLen);
  sk->rmem_alloc_ += skb->truesize + kSkbOverhead;
  sk->queue_.push_back(UdpSock::Datagram{skb, src, sport, now});
  ++stats_.udp_in;
}

}  // namespace nicemu::netstack::inet
