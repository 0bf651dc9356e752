// UDP: golden datagrams over IPv4 (VLAN) and IPv6 (extension chain), checksum rules, lengths.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {
const ChecksumCaps kSoftware = ChecksumCaps::software();
const IpAddress kSrc4 = Ipv4Address{{192, 168, 1, 10}};
const IpAddress kDst4 = Ipv4Address{{192, 168, 1, 20}};
const IpAddress kSrc6 = Ipv6Address::parse("2001:db8::1").value();
const IpAddress kDst6 = Ipv6Address::parse("2001:db8::2").value();

std::vector<std::byte> vlan_datagram() {
  const auto s = bytes_of(kVlanUdpV4).subspan(38);
  return std::vector<std::byte>(s.begin(), s.end());
}
std::vector<std::byte> v6_datagram() {
  const auto s = bytes_of(kIpv6ExtChainUdp).subspan(70);
  return std::vector<std::byte>(s.begin(), s.end());
}
}  // namespace

TEST_CASE("udp: the golden VLAN datagram parses field by field", "[netstack][wire][unit]") {
  const auto d = vlan_datagram();
  const auto v = UdpView::check(d).value();
  CHECK(v.src_port() == 12345);
  CHECK(v.dst_port() == 53);
  CHECK(v.length() == 14);
  CHECK(v.checksum() == 0x0cb1);
  CHECK(v.verify_checksum(kSrc4, kDst4));
  const auto r = UdpRepr::parse(v, kSrc4, kDst4, kSoftware);
  REQUIRE(r.has_value());
  CHECK(std::string(reinterpret_cast<const char*>(r.value().payload.data()), r.value().payload.size()) == "nicemu");
}

TEST_CASE("udp: the golden datagram behind an IPv6 extension chain verifies with the IPv6 pseudo-header",
          "[netstack][wire][unit]") {
  const auto d = v6_datagram();
  const auto v = UdpView::check(d).value();
  CHECK(v.src_port() == 5353);
  CHECK(v.dst_port() == 9999);
  CHECK(v.length() == 17);
  CHECK(v.checksum() == 0x5bf4);
  CHECK(v.verify_checksum(kSrc6, kDst6));
  const auto r = UdpRepr::parse(v, kSrc6, kDst6, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().payload.size() == 9);
}

TEST_CASE("udp: emit reproduces both golden datagrams byte for byte and round-trips", "[netstack][wire][unit]") {
  struct Case {
    std::vector<std::byte> d;
    IpAddress src, dst;
  };
  for (const Case& c : {Case{vlan_datagram(), kSrc4, kDst4}, Case{v6_datagram(), kSrc6, kDst6}}) {
    const auto r = UdpRepr::parse(UdpView::check(c.d).value(), c.src, c.dst, kSoftware).value();
    std::vector<std::byte> out(r.buffer_len());
    r.emit(out, c.src, c.dst, kSoftware);
    CHECK(same_bytes(out, c.d));
    CHECK(UdpRepr::parse(UdpView::check(out).value(), c.src, c.dst, kSoftware).value() == r);
  }
}

TEST_CASE("udp: a computed checksum of 0 is sent as 0xffff and verifies", "[netstack][wire][unit]") {
  // With a zero payload word the checksum is c; putting c into that word makes the sum 0xffff,
  // so the checksum computes to 0 and must go on the wire as 0xffff (RFC 768).
  auto payload = bytes_from({0, 0});
  UdpRepr r{1000, 2000, payload};
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out, kSrc4, kDst4, kSoftware);
  put16(payload, 0, get16(out, 6));
  r.emit(out, kSrc4, kDst4, kSoftware);
  CHECK(get16(out, 6) == 0xffff);
  CHECK(UdpView::check(out).value().verify_checksum(kSrc4, kDst4));
}

TEST_CASE("udp: a zero checksum over IPv4 means none and is accepted", "[netstack][wire][unit]") {
  auto d = vlan_datagram();
  put16(d, 6, 0);
  CHECK(error_of(UdpRepr::parse(UdpView::check(d).value(), kSrc4, kDst4, kSoftware)) == kParsed);
}

TEST_CASE("udp: a zero checksum over IPv6 is kBadChecksum even when verification is offloaded",
          "[netstack][wire][unit]") {
  auto d = v6_datagram();
  put16(d, 6, 0);
  const auto v = UdpView::check(d).value();
  CHECK_FALSE(v.verify_checksum(kSrc6, kDst6));
  CHECK(error_of(UdpRepr::parse(v, kSrc6, kDst6, kSoftware)) == WireError::kBadChecksum);
  CHECK(error_of(UdpRepr::parse(v, kSrc6, kDst6, ChecksumCaps::offloaded())) == WireError::kBadChecksum);
}

TEST_CASE("udp: a wrong checksum is kBadChecksum unless the NIC verified it", "[netstack][wire][unit]") {
  auto d = vlan_datagram();
  d[9] ^= std::byte{0x20};
  const auto v = UdpView::check(d).value();
  CHECK(error_of(UdpRepr::parse(v, kSrc4, kDst4, kSoftware)) == WireError::kBadChecksum);
  CHECK(error_of(UdpRepr::parse(v, kSrc4, kDst4, ChecksumCaps::offloaded())) == kParsed);
}

TEST_CASE("udp: fewer than 8 bytes is kTruncated", "[netstack][wire][unit]") {
  const auto d = vlan_datagram();
  CHECK(error_of(UdpView::check(std::span(d).first(7))) == WireError::kTruncated);
}

TEST_CASE("udp: a length field below 8 is kBadLength", "[netstack][wire][unit]") {
  auto d = vlan_datagram();
  put16(d, 4, 7);
  CHECK(error_of(UdpView::check(d)) == WireError::kBadLength);
}

TEST_CASE("udp: a length field past the IP payload is kBadLength", "[netstack][wire][unit]") {
  auto d = vlan_datagram();
  put16(d, 4, 15);
  CHECK(error_of(UdpView::check(d)) == WireError::kBadLength);
}

TEST_CASE("udp: an IP payload longer than the UDP length is trimmed to the UDP length", "[netstack][wire][unit]") {
  auto d = vlan_datagram();
  d.resize(d.size() + 5, std::byte{0x77});
  const auto v = UdpView::check(d).value();
  CHECK(v.payload().size() == 6);
  CHECK(v.datagram().size() == 14);
  CHECK(v.verify_checksum(kSrc4, kDst4));
}
