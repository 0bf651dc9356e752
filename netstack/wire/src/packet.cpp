// parse_packet: one pass, Ethernet to L4, through the checked views only (no Repr, no options
// walk): this is the NIC parser's hot path.
#include "nicemu/netstack/wire/packet.hpp"

#include "nicemu/netstack/wire/arp.hpp"
#include "nicemu/netstack/wire/icmpv4.hpp"
#include "nicemu/netstack/wire/icmpv6.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv4.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "nicemu/netstack/wire/udp.hpp"

namespace nicemu::netstack::wire {
namespace {

inline std::uint32_t u32(std::size_t v) { return static_cast<std::uint32_t>(v); }

inline void fail(ParsedPacket& p, PacketLayer layer, WireError e) {
  p.error = e;
  p.error_layer = layer;
}

void parse_l4(ParsedPacket& p, std::span<const std::byte> segment, const ChecksumCaps& caps) {
  switch (p.ip_protocol) {
    case ip_protocol::kTcp: {
      auto v = TcpView::check(segment);
      if (!v) return fail(p, PacketLayer::kL4, v.error());
      const TcpView& t = v.value();
      p.l4 = L4Kind::kTcp;
      p.src_port = t.src_port();
      p.dst_port = t.dst_port();
      p.tcp_flags = t.flags();
      p.header_len = p.l4_offset + u32(t.header_len());
      p.payload_len = u32(t.payload().size());
      if (caps.tcp.verify_rx && !t.verify_checksum(p.src_ip, p.dst_ip))
        fail(p, PacketLayer::kL4, WireError::kBadChecksum);
      return;
    }
    case ip_protocol::kUdp: {
      auto v = UdpView::check(segment);
      if (!v) return fail(p, PacketLayer::kL4, v.error());
      const UdpView& u = v.value();
      p.l4 = L4Kind::kUdp;
      p.src_port = u.src_port();
      p.dst_port = u.dst_port();
      p.header_len = p.l4_offset + u32(UdpView::kHeaderLen);
      p.payload_len = u32(u.payload().size());
      if (u.checksum() == 0) {
        if (p.l3 == L3Kind::kIpv6) fail(p, PacketLayer::kL4, WireError::kBadChecksum);
      } else if (caps.udp.verify_rx && !u.verify_checksum(p.src_ip, p.dst_ip)) {
        fail(p, PacketLayer::kL4, WireError::kBadChecksum);
      }
      return;
    }
    case ip_protocol::kIcmp: {
      if (p.l3 != L3Kind::kIpv4) return;  // ICMPv4 means nothing inside IPv6
      auto v = Icmpv4View::check(segment);
      if (!v) return fail(p, PacketLayer::kL4, v.error());
      const Icmpv4View& c = v.value();
      p.l4 = L4Kind::kIcmpv4;
      p.icmp_type = static_cast<std::uint8_t>(c.type());
      p.icmp_code = c.code();
      p.header_len = p.l4_offset + u32(Icmpv4View::kHeaderLen);
      p.payload_len = u32(c.data().size());
      if (caps.icmpv4.verify_rx && !c.verify_checksum()) fail(p, PacketLayer::kL4, WireError::kBadChecksum);
      return;
    }
    case ip_protocol::kIcmpv6: {
      if (p.l3 != L3Kind::kIpv6) return;
      auto v = Icmpv6View::check(segment);
      if (!v) return fail(p, PacketLayer::kL4, v.error());
      const Icmpv6View& c = v.value();
      p.l4 = L4Kind::kIcmpv6;
      p.icmp_type = static_cast<std::uint8_t>(c.type());
      p.icmp_code = c.code();
      p.header_len = p.l4_offset + u32(Icmpv6View::kHeaderLen);
      p.payload_len = u32(c.data().size());
      if (caps.icmpv6.verify_rx && !c.verify_checksum(p.src_ip.v6(), p.dst_ip.v6())) {
        fail(p, PacketLayer::kL4, WireError::kBadChecksum);
      }
      return;
    }
    default:
      return;  // an upper layer nicemu does not parse: headers end at L3
  }
}

void parse_ipv4(ParsedPacket& p, std::span<const std::byte> l3, const ChecksumCaps& caps) {
  auto v = Ipv4View::check(l3);
  if (!v) return fail(p, PacketLayer::kL3, v.error());
  const Ipv4View& ip = v.value();
  p.l3 = L3Kind::kIpv4;
  p.src_ip = ip.src();
  p.dst_ip = ip.dst();
  p.ip_protocol = ip.protocol();
  p.is_fragment = ip.is_fragment();
  p.l4_offset = p.l3_offset + u32(ip.header_len());
  p.header_len = p.l4_offset;
  p.payload_len = u32(ip.payload().size());
  if (caps.ipv4.verify_rx && !ip.verify_checksum()) return fail(p, PacketLayer::kL3, WireError::kBadChecksum);
  if (p.is_fragment) return fail(p, PacketLayer::kL3, WireError::kFragment);
  parse_l4(p, ip.payload(), caps);
}

void parse_ipv6(ParsedPacket& p, std::span<const std::byte> l3, const ChecksumCaps& caps) {
  auto v = Ipv6View::check(l3);
  if (!v) return fail(p, PacketLayer::kL3, v.error());
  const Ipv6View& ip = v.value();
  p.l3 = L3Kind::kIpv6;
  p.src_ip = ip.src();
  p.dst_ip = ip.dst();
  p.ip_protocol = ip.next_header();
  p.l4_offset = p.l3_offset + u32(Ipv6View::kHeaderLen);
  p.header_len = p.l4_offset;
  p.payload_len = u32(ip.payload().size());
  auto upper = ipv6_upper_layer(ip);
  if (!upper) {
    if (upper.error() == WireError::kFragment) {
      p.is_fragment = true;
      p.ip_protocol = ip_protocol::kFragment;
    }
    return fail(p, PacketLayer::kL3, upper.error());
  }
  const Ipv6UpperLayer& u = upper.value();
  p.ip_protocol = u.protocol;
  p.l4_offset = p.l3_offset + u32(u.offset);
  p.header_len = p.l4_offset;
  p.payload_len = u32(u.bytes.size());
  parse_l4(p, u.bytes, caps);
}

void parse_arp(ParsedPacket& p, std::span<const std::byte> l3) {
  auto v = ArpView::check(l3);
  if (!v) return fail(p, PacketLayer::kL3, v.error());
  p.l3 = L3Kind::kArp;
  auto r = ArpRepr::parse(v.value());
  if (!r) return fail(p, PacketLayer::kL3, r.error());
  p.src_ip = r.value().sender_ip;
  p.dst_ip = r.value().target_ip;
  p.header_len = p.l3_offset + u32(ArpRepr::kLen);
  p.payload_len = 0;
}

}  // namespace

ParsedPacket parse_packet(std::span<const std::byte> frame, const ChecksumCaps& caps) {
  ParsedPacket p;
  auto v = EthernetView::check(frame);
  if (!v) {
    fail(p, PacketLayer::kL2, v.error());
    return p;
  }
  const EthernetView& eth = v.value();
  p.dst_mac = eth.dst();
  p.src_mac = eth.src();
  p.vlan_count = static_cast<std::uint8_t>(eth.vlan_count());
  for (std::size_t i = 0; i < eth.vlan_count(); ++i) p.vlans[i] = eth.vlan(i);
  p.ethertype = eth.ethertype();
  p.l3_offset = u32(eth.header_len());
  p.header_len = p.l3_offset;
  p.payload_len = u32(eth.payload().size());
  switch (p.ethertype) {
    case ethertype::kIpv4:
      parse_ipv4(p, eth.payload(), caps);
      break;
    case ethertype::kIpv6:
      parse_ipv6(p, eth.payload(), caps);
      break;
    case ethertype::kArp:
      parse_arp(p, eth.payload());
      break;
    default:
      break;  // an EtherType nicemu does not parse: headers end at L2
  }
  return p;
}

}  // namespace nicemu::netstack::wire
