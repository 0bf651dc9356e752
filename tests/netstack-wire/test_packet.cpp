// parse_packet: the NIC parser's one-pass summary of every golden frame, split points, errors
// with the layer they occur at, unknown protocols.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {
const ChecksumCaps kSoftware = ChecksumCaps::software();

WireError error_or_parsed(const ParsedPacket& p) { return p.error.value_or(kParsed); }
}  // namespace

TEST_CASE("packet: a TCP SYN's summary has addresses, ports, flags and the split point after options",
          "[netstack][wire][unit]") {
  const ParsedPacket p = parse_packet(bytes_of(kTcpSynV4), kSoftware);
  CHECK(p.ok());
  CHECK(p.dst_mac.to_string() == "02:00:00:00:00:02");
  CHECK(p.ethertype == ethertype::kIpv4);
  CHECK(p.l3 == L3Kind::kIpv4);
  CHECK(p.l3_offset == 14);
  CHECK(p.src_ip.to_string() == "10.0.0.1");
  CHECK(p.dst_ip.to_string() == "10.0.0.2");
  CHECK(p.ip_protocol == ip_protocol::kTcp);
  CHECK_FALSE(p.is_fragment);
  CHECK(p.l4 == L4Kind::kTcp);
  CHECK(p.l4_offset == 34);
  CHECK(p.src_port == 40312);
  CHECK(p.dst_port == 5201);
  CHECK(p.tcp_flags.syn());
  CHECK(p.header_len == 74);
  CHECK(p.payload_offset() == 74);
  CHECK(p.payload_len == 0);
}

TEST_CASE("packet: every golden frame is summarised with the expected layers, offsets and lengths",
          "[netstack][wire][unit]") {
  struct Expect {
    const char* name;
    std::span<const std::byte> frame;
    L3Kind l3;
    L4Kind l4;
    std::uint8_t protocol;
    std::uint32_t l3_offset, l4_offset, header_len, payload_len;
    WireError error;
  };
  const Expect cases[] = {
      {"syn", bytes_of(kTcpSynV4), L3Kind::kIpv4, L4Kind::kTcp, 6, 14, 34, 74, 0, kParsed},
      {"ack+sack", bytes_of(kTcpAckSackV4), L3Kind::kIpv4, L4Kind::kTcp, 6, 14, 34, 86, 0, kParsed},
      {"tcp v6 data", bytes_of(kTcpDataV6), L3Kind::kIpv6, L4Kind::kTcp, 6, 14, 54, 86, 14, kParsed},
      {"arp request", bytes_of(kArpRequest), L3Kind::kArp, L4Kind::kNone, 0, 14, 0, 42, 0, kParsed},
      {"arp reply padded", bytes_of(kArpReplyPadded), L3Kind::kArp, L4Kind::kNone, 0, 14, 0, 42, 0, kParsed},
      {"ns", bytes_of(kIcmpv6NeighbourSolicitation), L3Kind::kIpv6, L4Kind::kIcmpv6, 58, 14, 54, 62, 24, kParsed},
      {"na", bytes_of(kIcmpv6NeighbourAdvertisement), L3Kind::kIpv6, L4Kind::kIcmpv6, 58, 14, 54, 62, 24, kParsed},
      {"ext chain udp", bytes_of(kIpv6ExtChainUdp), L3Kind::kIpv6, L4Kind::kUdp, 17, 14, 70, 78, 9, kParsed},
      {"vlan udp", bytes_of(kVlanUdpV4), L3Kind::kIpv4, L4Kind::kUdp, 17, 18, 38, 46, 6, kParsed},
      {"qinq udp", bytes_of(kQinQUdpV4), L3Kind::kIpv4, L4Kind::kUdp, 17, 22, 42, 50, 6, kParsed},
      {"echo", bytes_of(kIcmpv4EchoRequest), L3Kind::kIpv4, L4Kind::kIcmpv4, 1, 14, 34, 42, 56, kParsed},
      {"unreachable", bytes_of(kIcmpv4PortUnreachable), L3Kind::kIpv4, L4Kind::kIcmpv4, 1, 14, 34, 42, 33, kParsed},
      {"echo v6", bytes_of(kIcmpv6EchoRequest), L3Kind::kIpv6, L4Kind::kIcmpv6, 58, 14, 54, 62, 13, kParsed},
      {"v4 fragment", bytes_of(kIpv4FirstFragment), L3Kind::kIpv4, L4Kind::kNone, 17, 14, 34, 34, 24,
       WireError::kFragment},
      {"v6 fragment", bytes_of(kIpv6Fragment), L3Kind::kIpv6, L4Kind::kNone, 44, 14, 54, 54, 32, WireError::kFragment},
  };
  for (const Expect& e : cases) {
    INFO(e.name);
    const ParsedPacket p = parse_packet(e.frame, kSoftware);
    CHECK(error_or_parsed(p) == e.error);
    CHECK(p.l3 == e.l3);
    CHECK(p.l4 == e.l4);
    CHECK(p.ip_protocol == e.protocol);
    CHECK(p.l3_offset == e.l3_offset);
    CHECK(p.l4_offset == e.l4_offset);
    CHECK(p.header_len == e.header_len);
    CHECK(p.payload_len == e.payload_len);
    CHECK(p.header_len + p.payload_len <= e.frame.size());
  }
}

TEST_CASE("packet: VLAN tags, ICMP type/code and ARP addresses are reported", "[netstack][wire][unit]") {
  const ParsedPacket q = parse_packet(bytes_of(kQinQUdpV4), kSoftware);
  CHECK(q.vlan_count == 2);
  CHECK(q.vlans[0].vid == 10);
  CHECK(q.vlans[1].vid == 20);
  CHECK(q.dst_port == 53);
  const ParsedPacket ns = parse_packet(bytes_of(kIcmpv6NeighbourSolicitation), kSoftware);
  CHECK(ns.icmp_type == 135);
  CHECK(ns.icmp_code == 0);
  CHECK(ns.dst_ip.to_string() == "ff02::1:ff00:2");
  const ParsedPacket unreach = parse_packet(bytes_of(kIcmpv4PortUnreachable), kSoftware);
  CHECK(unreach.icmp_type == 3);
  CHECK(unreach.icmp_code == 3);
  const ParsedPacket arp = parse_packet(bytes_of(kArpRequest), kSoftware);
  CHECK(arp.src_ip.to_string() == "10.0.0.1");
  CHECK(arp.dst_ip.to_string() == "10.0.0.2");
}

TEST_CASE("packet: Ethernet padding after the IP packet is not counted as payload", "[netstack][wire][unit]") {
  auto frame = copy_of(kVlanUdpV4);
  frame.resize(64, std::byte{0});
  const ParsedPacket p = parse_packet(frame, kSoftware);
  CHECK(p.ok());
  CHECK(p.header_len == 46);
  CHECK(p.payload_len == 6);
}

TEST_CASE("packet: a bad TCP checksum is an L4 error and the ports are still reported", "[netstack][wire][unit]") {
  auto frame = copy_of(kTcpSynV4);
  frame[50] ^= std::byte{0xff};  // checksum high byte
  const ParsedPacket p = parse_packet(frame, kSoftware);
  CHECK(error_or_parsed(p) == WireError::kBadChecksum);
  CHECK(p.error_layer == PacketLayer::kL4);
  CHECK(p.src_port == 40312);
  CHECK(p.header_len == 74);
  CHECK(parse_packet(frame, ChecksumCaps::offloaded()).ok());
}

TEST_CASE("packet: a bad IPv4 header checksum is an L3 error", "[netstack][wire][unit]") {
  auto frame = copy_of(kTcpSynV4);
  frame[22] = b(1);  // TTL
  const ParsedPacket p = parse_packet(frame, kSoftware);
  CHECK(error_or_parsed(p) == WireError::kBadChecksum);
  CHECK(p.error_layer == PacketLayer::kL3);
  CHECK(p.l4 == L4Kind::kNone);
}

TEST_CASE("packet: a zero UDP checksum is fine over IPv4 and an L4 error over IPv6", "[netstack][wire][unit]") {
  auto v4 = copy_of(kVlanUdpV4);
  put16(v4, 44, 0);
  CHECK(parse_packet(v4, kSoftware).ok());
  auto v6 = copy_of(kIpv6ExtChainUdp);
  put16(v6, 76, 0);
  const ParsedPacket p = parse_packet(v6, ChecksumCaps::offloaded());
  CHECK(error_or_parsed(p) == WireError::kBadChecksum);
  CHECK(p.error_layer == PacketLayer::kL4);
}

TEST_CASE("packet: an unknown EtherType is classified to L2 without an error", "[netstack][wire][unit]") {
  auto frame = copy_of(kTcpSynV4);
  put16(frame, 12, 0x88cc);  // LLDP
  const ParsedPacket p = parse_packet(frame, kSoftware);
  CHECK(p.ok());
  CHECK(p.l3 == L3Kind::kNone);
  CHECK(p.header_len == 14);
  CHECK(p.payload_len == frame.size() - 14);
}

TEST_CASE("packet: an unknown IP protocol ends the headers at L3 without an error", "[netstack][wire][unit]") {
  auto frame = copy_of(kTcpSynV4);
  frame[23] = b(47);  // GRE
  put16(frame, 24, 0);
  put16(frame, 24, internet_checksum(std::span(frame).subspan(14, 20)));
  const ParsedPacket p = parse_packet(frame, kSoftware);
  CHECK(p.ok());
  CHECK(p.ip_protocol == 47);
  CHECK(p.l4 == L4Kind::kNone);
  CHECK(p.header_len == 34);
  CHECK(p.payload_len == 40);
}

TEST_CASE("packet: errors carry the layer they occur at", "[netstack][wire][unit]") {
  const ParsedPacket l2 = parse_packet(bytes_of(kTcpSynV4).first(10), kSoftware);
  CHECK(error_or_parsed(l2) == WireError::kTruncated);
  CHECK(l2.error_layer == PacketLayer::kL2);
  const ParsedPacket l3 = parse_packet(bytes_of(kTcpSynV4).first(30), kSoftware);
  CHECK(error_or_parsed(l3) == WireError::kTruncated);
  CHECK(l3.error_layer == PacketLayer::kL3);
  auto frame = copy_of(kTcpSynV4);
  frame[46] = b(0x30);  // data offset 3
  const ParsedPacket l4 = parse_packet(frame, kSoftware);
  CHECK(error_or_parsed(l4) == WireError::kBadLength);
  CHECK(l4.error_layer == PacketLayer::kL4);
  CHECK(std::string(to_string(l4.error_layer)) == "l4");
  CHECK(std::string(to_string(WireError::kBadLength)) == "bad_length");
}
