// ICMP for both families beyond echo handling: ping() to start an echo, port unreachable sent for
// UDP datagrams nobody wants (RFC 792 / RFC 4443 §3.1 code 4; net/ipv4/icmp.c icmp_send,
// net/ipv6/icmp.c icmp6_send) and received errors handed to the UDP socket they concern
// (__udp4_lib_err: a connected socket gets ECONNREFUSED). TCP ignores ICMP errors here.
#include <cerrno>
#include <vector>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/wire/icmpv4.hpp"
#include "nicemu/netstack/wire/icmpv6.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv4.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "stack_internal.hpp"

namespace nicemu::netstack::inet {

using core::SkBuff;
using wire::IpAddress;

void NetStack::ping(IpAddress dst, std::uint16_t id, std::uint16_t seq, std::size_t len, sim::TimePoint now) {
  const auto r = route(dst);
  if (!r) return drop(nullptr, DropReason::kNoRoute);
  std::vector<std::byte> data(len);
  for (std::size_t i = 0; i < len; ++i) data[i] = static_cast<std::byte>(i);
  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr || len + 8 > skb->tailroom()) {
    core::kfree_skb(skb);
    return drop(nullptr, DropReason::kNoBuffer);
  }
  if (dst.is_v4()) {
    wire::Icmpv4Repr req;
    req.type = wire::Icmpv4Type::kEchoRequest;
    req.echo_ident = id;
    req.echo_seq = seq;
    req.data = data;
    req.emit({skb->put(static_cast<std::uint32_t>(req.buffer_len())), req.buffer_len()}, detail::kSoftware);
    return ip_output(r->src.v4(), dst.v4(), wire::ip_protocol::kIcmp, cfg_.ttl, skb, now);
  }
  wire::Icmpv6Repr req;
  req.type = wire::Icmpv6Type::kEchoRequest;
  req.echo_ident = id;
  req.echo_seq = seq;
  req.data = data;
  req.emit({skb->put(static_cast<std::uint32_t>(req.buffer_len())), req.buffer_len()}, r->src.v6(), dst.v6(),
           detail::kSoftware);
  ip6_output(r->src.v6(), dst.v6(), wire::ip_protocol::kIcmpv6, cfg_.hop_limit, skb, now);
}

void NetStack::icmp_send_port_unreach(const IpAddress& src, const IpAddress& dst, std::span<const std::byte> offending,
                                      sim::TimePoint now) {
  // To the offender (`src`), from the address it tried (`dst`).
  SkBuff* skb = alloc_tx_skb();
  if (skb == nullptr) return drop(nullptr, DropReason::kNoBuffer);
  const std::size_t quote = std::min<std::size_t>(offending.size(), skb->tailroom() - 8);
  ++stats_.icmp_unreach_out;
  if (src.is_v4()) {
    wire::Icmpv4Repr m;
    m.type = wire::Icmpv4Type::kDestUnreachable;
    m.code = wire::icmpv4_code::kPortUnreachable;
    m.data = offending.first(quote);
    m.emit({skb->put(static_cast<std::uint32_t>(m.buffer_len())), m.buffer_len()}, detail::kSoftware);
    return ip_output(dst.v4(), src.v4(), wire::ip_protocol::kIcmp, cfg_.ttl, skb, now);
  }
  wire::Icmpv6Repr m;
  m.type = wire::Icmpv6Type::kDestUnreachable;
  m.code = 4;  // ICMPV6_PORT_UNREACH
  m.data = offending.first(quote);
  m.emit({skb->put(static_cast<std::uint32_t>(m.buffer_len())), m.buffer_len()}, dst.v6(), src.v6(), detail::kSoftware);
  ip6_output(dst.v6(), src.v6(), wire::ip_protocol::kIcmpv6, cfg_.hop_limit, skb, now);
}

void NetStack::icmp_unreach_rcv(const IpAddress& from, std::span<const std::byte> quoted) {
  (void)from;
  // The quoted datagram is one we sent: its source is ours, its destination the peer.
  IpAddress qsrc, qdst;
  std::size_t l4 = 0;
  std::uint8_t proto = 0;
  if (!quoted.empty() && (std::to_integer<std::uint8_t>(quoted[0]) >> 4) == 4) {
    auto v = wire::Ipv4View::check(quoted, 0xffff);
    if (!v) return;
    qsrc = IpAddress(v->src());
    qdst = IpAddress(v->dst());
    proto = v->protocol();
    l4 = v->header_len();
  } else {
    auto v = wire::Ipv6View::check(quoted, 0xffff + 40);
    if (!v) return;
    qsrc = IpAddress(v->src());
    qdst = IpAddress(v->dst());
    proto = v->next_header();
    l4 = wire::Ipv6View::kHeaderLen;
  }
  if (proto != wire::ip_protocol::kUdp || quoted.size() < l4 + 4) return;
  const std::uint16_t sport = wire::load_be16(quoted.data() + l4);
  const std::uint16_t dport = wire::load_be16(quoted.data() + l4 + 2);
  UdpSock* sk = udp_lookup(qdst, dport, qsrc, sport);
  // Only a connected socket hears about it (without IP_RECVERR, as Linux).
  if (sk != nullptr && sk->peer_addr && *sk->peer_addr == qdst && sk->peer_port == dport) sk->so_error = -ECONNREFUSED;
}

}  // namespace nicemu::netstack::inet
