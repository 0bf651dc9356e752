// IPv6 fixed headers and the extension-header walk: golden packets, round trips, malformed
// chains, fragments.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {

// An IPv6 packet whose payload is `ext` followed by 8 bytes of upper layer (a UDP header).
std::vector<std::byte> ipv6_with_chain(std::uint8_t first_nh, const std::vector<std::byte>& ext) {
  std::vector<std::byte> p(40 + ext.size() + 8, std::byte{0});
  p[0] = b(0x60);
  put16(p, 4, static_cast<std::uint16_t>(ext.size() + 8));
  p[6] = std::byte{first_nh};
  p[7] = b(64);
  std::copy(ext.begin(), ext.end(), p.begin() + 40);
  return p;
}

// An 8-byte options header (Hop-by-Hop / Destination Options) with a PadN filling it.
std::vector<std::byte> options_header(std::uint8_t next) {
  return {std::byte{next}, b(0), b(1), b(4), b(0), b(0), b(0), b(0)};
}

}  // namespace

TEST_CASE("ipv6: the golden TCP packet's fixed header parses field by field", "[netstack][wire][unit]") {
  const auto l3 = bytes_of(kTcpDataV6).subspan(14);
  const auto r = Ipv6View::check(l3);
  REQUIRE(r.has_value());
  const Ipv6View& v = r.value();
  CHECK(v.version() == 6);
  CHECK(v.traffic_class() == 0);
  CHECK(v.flow_label() == 0x12345);
  CHECK(v.payload_len() == 46);
  CHECK(v.next_header() == ip_protocol::kTcp);
  CHECK(v.hop_limit() == 64);
  CHECK(v.src().to_string() == "2001:db8::1");
  CHECK(v.dst().to_string() == "2001:db8::2");
  CHECK(v.payload().size() == 46);
  CHECK(v.payload().data() == l3.data() + 40);
}

TEST_CASE("ipv6: Repr emit reproduces golden fixed headers byte for byte and round-trips", "[netstack][wire][unit]") {
  for (const auto& frame : {bytes_of(kTcpDataV6), bytes_of(kIcmpv6NeighbourSolicitation), bytes_of(kIpv6ExtChainUdp)}) {
    const auto l3 = frame.subspan(14);
    const auto repr = Ipv6Repr::parse(Ipv6View::check(l3).value());
    REQUIRE(repr.has_value());
    std::vector<std::byte> out(l3.begin(), l3.end());
    std::fill(out.begin(), out.begin() + 40, std::byte{0xee});
    repr.value().emit(out);
    CHECK(same_bytes(out, l3));
    CHECK(Ipv6Repr::parse(Ipv6View::check(out).value()).value() == repr.value());
  }
}

TEST_CASE("ipv6: traffic class and flow label are written and read across their shared word",
          "[netstack][wire][unit]") {
  Ipv6Repr r;
  r.traffic_class = 0xb8;  // DSCP 46 (EF)
  r.flow_label = 0xfedcb;
  r.next_header = ip_protocol::kNoNextHeader;
  std::vector<std::byte> out(40);
  r.emit(out);
  const auto v = Ipv6View::check(out).value();
  CHECK(v.traffic_class() == 0xb8);
  CHECK(v.flow_label() == 0xfedcb);
  CHECK(out[0] == b(0x6b));
  CHECK(out[1] == b(0x8f));
}

TEST_CASE("ipv6: the walk steps over Hop-by-Hop and Destination Options to UDP at offset 56",
          "[netstack][wire][unit]") {
  const auto v = Ipv6View::check(bytes_of(kIpv6ExtChainUdp).subspan(14)).value();
  CHECK(v.next_header() == ip_protocol::kHopByHop);
  const auto up = ipv6_upper_layer(v);
  REQUIRE(up.has_value());
  CHECK(up.value().protocol == ip_protocol::kUdp);
  CHECK(up.value().offset == 56);
  CHECK(up.value().extension_count == 2);
  CHECK(up.value().bytes.size() == 17);
  CHECK(up.value().bytes.data() == v.bytes().data() + 56);

  const auto hbh = Ipv6ExtensionHeaderView::check(ip_protocol::kHopByHop, v.payload());
  REQUIRE(hbh.has_value());
  CHECK(hbh.value().next_header() == ip_protocol::kDestinationOptions);
  CHECK(hbh.value().header_len() == 8);
  // Router Alert option: type 5, length 2, value 0 (MLD).
  CHECK(hbh.value().data()[0] == b(5));
  CHECK(hbh.value().data()[1] == b(2));
  const auto dst = Ipv6ExtensionHeaderView::check(ip_protocol::kDestinationOptions, v.payload().subspan(8));
  REQUIRE(dst.has_value());
  CHECK(dst.value().next_header() == ip_protocol::kUdp);
}

TEST_CASE("ipv6: a packet without extension headers has its upper layer at offset 40", "[netstack][wire][unit]") {
  const auto up = ipv6_upper_layer(Ipv6View::check(bytes_of(kTcpDataV6).subspan(14)).value());
  REQUIRE(up.has_value());
  CHECK(up.value().protocol == ip_protocol::kTcp);
  CHECK(up.value().offset == 40);
  CHECK(up.value().extension_count == 0);
}

TEST_CASE("ipv6: AH is stepped over by its own (len+2)*4 rule", "[netstack][wire][unit]") {
  std::vector<std::byte> ah(24, std::byte{0});
  ah[0] = std::byte{ip_protocol::kTcp};
  ah[1] = b(4);  // (4 + 2) * 4 = 24 bytes
  const auto p = ipv6_with_chain(ip_protocol::kAh, ah);
  const auto up = ipv6_upper_layer(Ipv6View::check(p).value());
  REQUIRE(up.has_value());
  CHECK(up.value().protocol == ip_protocol::kTcp);
  CHECK(up.value().offset == 64);
}

TEST_CASE("ipv6: Routing headers are stepped over and No Next Header ends the walk", "[netstack][wire][unit]") {
  auto ext = options_header(ip_protocol::kNoNextHeader);
  const auto p = ipv6_with_chain(ip_protocol::kRouting, ext);
  const auto up = ipv6_upper_layer(Ipv6View::check(p).value());
  REQUIRE(up.has_value());
  CHECK(up.value().protocol == ip_protocol::kNoNextHeader);
  CHECK(up.value().offset == 48);
}

TEST_CASE("ipv6: a Fragment header makes the walk return kFragment", "[netstack][wire][unit]") {
  const auto v = Ipv6View::check(bytes_of(kIpv6Fragment).subspan(14)).value();
  CHECK(error_of(ipv6_upper_layer(v)) == WireError::kFragment);
  const auto frag = Ipv6ExtensionHeaderView::check(ip_protocol::kFragment, v.payload());
  REQUIRE(frag.has_value());
  CHECK(frag.value().header_len() == 8);
  CHECK(frag.value().next_header() == ip_protocol::kUdp);
}

TEST_CASE("ipv6: Hop-by-Hop anywhere but first is kMalformed", "[netstack][wire][unit]") {
  auto ext = options_header(ip_protocol::kHopByHop);
  const auto hbh = options_header(ip_protocol::kUdp);
  ext.insert(ext.end(), hbh.begin(), hbh.end());
  const auto p = ipv6_with_chain(ip_protocol::kDestinationOptions, ext);
  CHECK(error_of(ipv6_upper_layer(Ipv6View::check(p).value())) == WireError::kMalformed);
}

TEST_CASE("ipv6: an extension header running past the payload is kTruncated", "[netstack][wire][unit]") {
  auto ext = options_header(ip_protocol::kUdp);
  ext[1] = b(2);  // claims 24 bytes; 8 + 8 are there
  const auto p = ipv6_with_chain(ip_protocol::kDestinationOptions, ext);
  CHECK(error_of(ipv6_upper_layer(Ipv6View::check(p).value())) == WireError::kTruncated);
}

TEST_CASE("ipv6: eight extension headers are walked, a ninth is kTooManyExtensions", "[netstack][wire][unit]") {
  for (std::size_t n : {8u, 9u}) {
    std::vector<std::byte> ext;
    for (std::size_t i = 0; i < n; ++i) {
      const auto h = options_header(i + 1 == n ? ip_protocol::kUdp : ip_protocol::kDestinationOptions);
      ext.insert(ext.end(), h.begin(), h.end());
    }
    const auto p = ipv6_with_chain(ip_protocol::kDestinationOptions, ext);
    const auto up = ipv6_upper_layer(Ipv6View::check(p).value());
    INFO("headers " << n);
    if (n == 8) {
      REQUIRE(up.has_value());
      CHECK(up.value().extension_count == 8);
      CHECK(up.value().offset == 40 + 64);
    } else {
      CHECK(error_of(up) == WireError::kTooManyExtensions);
    }
  }
}

TEST_CASE("ipv6: a header shorter than 40 bytes is kTruncated", "[netstack][wire][unit]") {
  CHECK(error_of(Ipv6View::check(bytes_of(kTcpDataV6).subspan(14, 39))) == WireError::kTruncated);
}

TEST_CASE("ipv6: a version other than 6 is kBadVersion", "[netstack][wire][unit]") {
  auto l3 = copy_of(kTcpDataV6);
  l3[14] = b(0x40);
  CHECK(error_of(Ipv6View::check(std::span(l3).subspan(14))) == WireError::kBadVersion);
}

TEST_CASE("ipv6: a payload length past the buffer is kTruncated and a longer buffer is padding",
          "[netstack][wire][unit]") {
  auto l3 = copy_of(kTcpDataV6);
  const std::span<std::byte> p = std::span(l3).subspan(14);
  put16(p, 4, 47);
  CHECK(error_of(Ipv6View::check(p)) == WireError::kTruncated);
  put16(p, 4, 30);
  const auto v = Ipv6View::check(p);
  REQUIRE(v.has_value());
  CHECK(v.value().payload().size() == 30);
}

TEST_CASE("ipv6: the extension view refuses a non-extension kind as kUnsupported", "[netstack][wire][unit]") {
  const auto data = bytes_from({6, 0, 0, 0, 0, 0, 0, 0});
  CHECK(error_of(Ipv6ExtensionHeaderView::check(ip_protocol::kTcp, data)) == WireError::kUnsupported);
  CHECK(error_of(Ipv6ExtensionHeaderView::check(ip_protocol::kFragment, std::span(data).first(7))) ==
        WireError::kTruncated);
  CHECK(error_of(Ipv6ExtensionHeaderView::check(ip_protocol::kHopByHop, std::span(data).first(1))) ==
        WireError::kTruncated);
}
