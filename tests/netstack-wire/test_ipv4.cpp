// IPv4 headers: golden fields, emit/round trip, options, padding, malformed headers, fragments.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {
const ChecksumCaps kSoftware = ChecksumCaps::software();

std::vector<std::byte> l3_of_syn() {
  auto f = copy_of(kTcpSynV4);
  return std::vector<std::byte>(f.begin() + 14, f.end());
}

// Rewrites a header field and fixes the checksum, so the test isolates the field.
void refill(std::span<std::byte> l3) {
  const std::size_t ihl = (std::to_integer<std::size_t>(l3[0]) & 0xf) * 4;
  put16(l3, 10, 0);
  put16(l3, 10, internet_checksum(l3.first(std::min(ihl, l3.size()))));
}
}  // namespace

TEST_CASE("ipv4: the golden SYN's header parses field by field", "[netstack][wire][unit]") {
  const auto l3 = bytes_of(kTcpSynV4).subspan(14);
  const auto r = Ipv4View::check(l3);
  REQUIRE(r.has_value());
  const Ipv4View& v = r.value();
  CHECK(v.version() == 4);
  CHECK(v.ihl() == 5);
  CHECK(v.header_len() == 20);
  CHECK(v.dscp() == 0);
  CHECK(v.ecn() == 0);
  CHECK(v.total_len() == 60);
  CHECK(v.ident() == 0x3f2a);
  CHECK(v.dont_fragment());
  CHECK_FALSE(v.more_fragments());
  CHECK(v.frag_offset() == 0);
  CHECK_FALSE(v.is_fragment());
  CHECK(v.ttl() == 64);
  CHECK(v.protocol() == 6);
  CHECK(v.checksum() == 0xe78f);
  CHECK(v.verify_checksum());
  CHECK(v.src().to_string() == "10.0.0.1");
  CHECK(v.dst().to_string() == "10.0.0.2");
  CHECK(v.options().empty());
  CHECK(v.payload().size() == 40);
  CHECK(v.payload().data() == l3.data() + 20);
}

TEST_CASE("ipv4: the ICMP error's TOS 0xc0 reads as DSCP 48 (CS6), ECN 0, DF clear", "[netstack][wire][unit]") {
  const auto v = Ipv4View::check(bytes_of(kIcmpv4PortUnreachable).subspan(14)).value();
  CHECK(v.dscp() == 48);
  CHECK(v.ecn() == 0);
  CHECK_FALSE(v.dont_fragment());
  CHECK(v.protocol() == 1);
}

TEST_CASE("ipv4: Repr emit reproduces golden headers byte for byte and round-trips", "[netstack][wire][unit]") {
  for (const auto& frame : {bytes_of(kTcpSynV4), bytes_of(kTcpAckSackV4), bytes_of(kIcmpv4EchoRequest),
                            bytes_of(kIcmpv4PortUnreachable), bytes_of(kVlanUdpV4).subspan(4)}) {
    const auto l3 = frame.subspan(14);
    const auto repr = Ipv4Repr::parse(Ipv4View::check(l3).value(), kSoftware);
    REQUIRE(repr.has_value());
    std::vector<std::byte> out(repr.value().buffer_len());
    repr.value().emit(out, kSoftware);
    CHECK(same_bytes(out, l3.first(20)));
    // The header alone claims total_len bytes: give the view a buffer that long.
    std::vector<std::byte> whole(l3.begin(), l3.end());
    std::copy(out.begin(), out.end(), whole.begin());
    CHECK(Ipv4Repr::parse(Ipv4View::check(whole).value(), kSoftware).value() == repr.value());
  }
}

TEST_CASE("ipv4: emit without checksum fill writes 0, and the mutable view fills it later", "[netstack][wire][unit]") {
  Ipv4Repr r;
  r.src = Ipv4Address{{192, 0, 2, 1}};
  r.dst = Ipv4Address{{192, 0, 2, 2}};
  r.protocol = 17;
  r.payload_len = 0;
  r.ecn = 2;
  r.dscp = 10;
  std::vector<std::byte> out(20);
  r.emit(out, ChecksumCaps::offloaded());
  CHECK(get16(out, 10) == 0);
  const auto v = Ipv4ViewMut::check(out).value();
  CHECK_FALSE(v.verify_checksum());
  v.fill_checksum();
  CHECK(v.verify_checksum());
  CHECK(Ipv4Repr::parse(v, kSoftware).value() == r);
}

TEST_CASE("ipv4: bytes past total length (Ethernet padding) are outside the payload", "[netstack][wire][unit]") {
  auto l3 = l3_of_syn();
  l3.resize(l3.size() + 6, std::byte{0});
  const auto v = Ipv4View::check(l3).value();
  CHECK(v.payload().size() == 40);
  CHECK(Ipv4Repr::parse(v, kSoftware).value().payload_len == 40);
}

TEST_CASE("ipv4: options are bounds-checked, exposed as bytes and skipped by the Repr", "[netstack][wire][unit]") {
  auto l3 = l3_of_syn();
  l3.insert(l3.begin() + 20, {b(1), b(1), b(1), b(0)});  // NOP NOP NOP EOL
  l3[0] = b(0x46);
  put16(l3, 2, 64);
  refill(l3);
  const auto v = Ipv4View::check(l3).value();
  CHECK(v.header_len() == 24);
  CHECK(v.options().size() == 4);
  CHECK(v.options()[0] == b(1));
  CHECK(v.verify_checksum());
  const auto r = Ipv4Repr::parse(v, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().payload_len == 40);
}

TEST_CASE("ipv4: a header shorter than 20 bytes is kTruncated", "[netstack][wire][unit]") {
  const auto l3 = l3_of_syn();
  CHECK(error_of(Ipv4View::check(std::span(l3).first(19))) == WireError::kTruncated);
}

TEST_CASE("ipv4: a version other than 4 is kBadVersion", "[netstack][wire][unit]") {
  auto l3 = l3_of_syn();
  l3[0] = b(0x65);
  CHECK(error_of(Ipv4View::check(l3)) == WireError::kBadVersion);
}

TEST_CASE("ipv4: IHL below 5 is kBadLength", "[netstack][wire][unit]") {
  auto l3 = l3_of_syn();
  l3[0] = b(0x44);
  CHECK(error_of(Ipv4View::check(l3)) == WireError::kBadLength);
}

TEST_CASE("ipv4: a total length below IHL*4 is kBadLength", "[netstack][wire][unit]") {
  auto l3 = l3_of_syn();
  put16(l3, 2, 19);
  CHECK(error_of(Ipv4View::check(l3)) == WireError::kBadLength);
  l3[0] = b(0x4f);  // IHL 15 = 60 bytes, total length 40
  put16(l3, 2, 40);
  CHECK(error_of(Ipv4View::check(l3)) == WireError::kBadLength);
}

TEST_CASE("ipv4: a total length past the buffer is kTruncated", "[netstack][wire][unit]") {
  auto l3 = l3_of_syn();
  put16(l3, 2, 61);
  CHECK(error_of(Ipv4View::check(l3)) == WireError::kTruncated);
  put16(l3, 2, 60);
  CHECK(error_of(Ipv4View::check(std::span(l3).first(59))) == WireError::kTruncated);
}

TEST_CASE("ipv4: a wrong header checksum is kBadChecksum unless the NIC verified it", "[netstack][wire][unit]") {
  auto l3 = l3_of_syn();
  l3[8] = b(63);  // TTL changed, checksum not updated
  const auto v = Ipv4View::check(l3).value();
  CHECK_FALSE(v.verify_checksum());
  CHECK(error_of(Ipv4Repr::parse(v, kSoftware)) == WireError::kBadChecksum);
  CHECK(error_of(Ipv4Repr::parse(v, ChecksumCaps::offloaded())) == kParsed);
}

TEST_CASE("ipv4: a first fragment (MF set) is recognised and the Repr returns kFragment", "[netstack][wire][unit]") {
  const auto v = Ipv4View::check(bytes_of(kIpv4FirstFragment).subspan(14)).value();
  CHECK(v.is_fragment());
  CHECK(v.more_fragments());
  CHECK(v.frag_offset() == 0);
  CHECK(v.verify_checksum());
  CHECK(error_of(Ipv4Repr::parse(v, kSoftware)) == WireError::kFragment);
}

TEST_CASE("ipv4: a later fragment (offset 185 units = 1480 bytes, MF clear) is kFragment", "[netstack][wire][unit]") {
  auto l3 = l3_of_syn();
  put16(l3, 6, 185);
  refill(l3);
  const auto v = Ipv4View::check(l3).value();
  CHECK(v.frag_offset_bytes() == 1480);
  CHECK_FALSE(v.more_fragments());
  CHECK(v.is_fragment());
  CHECK(error_of(Ipv4Repr::parse(v, kSoftware)) == WireError::kFragment);
}

TEST_CASE("ipv4: a fragment with a bad checksum reports kBadChecksum first, as ip_rcv does", "[netstack][wire][unit]") {
  auto l3 = copy_of(kIpv4FirstFragment);
  l3[14 + 8] = b(1);
  CHECK(error_of(Ipv4Repr::parse(Ipv4View::check(std::span(l3).subspan(14)).value(), kSoftware)) ==
        WireError::kBadChecksum);
}
