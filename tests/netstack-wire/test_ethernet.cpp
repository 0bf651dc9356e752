// Ethernet II with 802.1Q / 802.1ad tags: golden frames, round trips, malformed frames.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {
const MacAddress kA = MacAddress::parse("02:00:00:00:00:01").value();
const MacAddress kB = MacAddress::parse("02:00:00:00:00:02").value();
}  // namespace

TEST_CASE("ethernet: an untagged frame has a 14-byte header and exposes dst, src, EtherType",
          "[netstack][wire][unit]") {
  const auto frame = bytes_of(kTcpSynV4);
  const auto v = EthernetView::check(frame);
  REQUIRE(v.has_value());
  CHECK(v.value().dst() == kB);
  CHECK(v.value().src() == kA);
  CHECK(v.value().vlan_count() == 0);
  CHECK(v.value().ethertype() == ethertype::kIpv4);
  CHECK(v.value().header_len() == 14);
  CHECK(v.value().payload().size() == frame.size() - 14);
  CHECK(v.value().payload().data() == frame.data() + 14);
}

TEST_CASE("ethernet: an 802.1Q frame yields its tag (PCP 5, VID 100) and the inner EtherType",
          "[netstack][wire][unit]") {
  const auto v = EthernetView::check(bytes_of(kVlanUdpV4));
  REQUIRE(v.has_value());
  CHECK(v.value().vlan_count() == 1);
  CHECK(v.value().vlan(0) == VlanTag{ethertype::kVlan, 5, false, 100});
  CHECK(v.value().ethertype() == ethertype::kIpv4);
  CHECK(v.value().header_len() == 18);
}

TEST_CASE("ethernet: a QinQ frame yields the 802.1ad outer tag and the 802.1Q inner tag", "[netstack][wire][unit]") {
  const auto v = EthernetView::check(bytes_of(kQinQUdpV4));
  REQUIRE(v.has_value());
  CHECK(v.value().vlan_count() == 2);
  CHECK(v.value().vlan(0) == VlanTag{ethertype::kQinQ, 2, true, 10});
  CHECK(v.value().vlan(1) == VlanTag{ethertype::kVlan, 0, false, 20});
  CHECK(v.value().ethertype() == ethertype::kIpv4);
  CHECK(v.value().header_len() == 22);
}

TEST_CASE("ethernet: Repr emit reproduces the golden headers byte for byte and round-trips", "[netstack][wire][unit]") {
  for (const auto& frame : {bytes_of(kTcpSynV4), bytes_of(kVlanUdpV4), bytes_of(kQinQUdpV4), bytes_of(kArpRequest)}) {
    const auto repr = EthernetRepr::parse(EthernetView::check(frame).value());
    REQUIRE(repr.has_value());
    std::vector<std::byte> out(repr.value().buffer_len());
    repr.value().emit(out);
    CHECK(same_bytes(out, frame.first(out.size())));
    const auto again = EthernetRepr::parse(EthernetView::check(out).value());
    REQUIRE(again.has_value());
    CHECK(again.value() == repr.value());
  }
}

TEST_CASE("ethernet: the mutable view rewrites addresses and EtherType in place", "[netstack][wire][unit]") {
  auto frame = copy_of(kVlanUdpV4);
  const auto v = EthernetViewMut::check(frame);
  REQUIRE(v.has_value());
  v.value().set_dst(kA);
  v.value().set_src(kB);
  v.value().set_ethertype(ethertype::kIpv6);
  const EthernetView ro = v.value();
  CHECK(ro.dst() == kA);
  CHECK(ro.src() == kB);
  CHECK(ro.ethertype() == ethertype::kIpv6);
  CHECK(get16(frame, 16) == ethertype::kIpv6);
  CHECK(ro.vlan(0).vid == 100);
}

TEST_CASE("ethernet: a frame shorter than 14 bytes is kTruncated", "[netstack][wire][unit]") {
  CHECK(error_of(EthernetView::check(bytes_of(kTcpSynV4).first(13))) == WireError::kTruncated);
  CHECK(error_of(EthernetView::check(std::span<const std::byte>{})) == WireError::kTruncated);
}

TEST_CASE("ethernet: a tag announced but cut off is kTruncated", "[netstack][wire][unit]") {
  CHECK(error_of(EthernetView::check(bytes_of(kVlanUdpV4).first(17))) == WireError::kTruncated);
  CHECK(error_of(EthernetView::check(bytes_of(kQinQUdpV4).first(21))) == WireError::kTruncated);
  CHECK(error_of(EthernetView::check(bytes_of(kQinQUdpV4).first(22))) == kParsed);
}

TEST_CASE("ethernet: a third VLAN tag is kUnsupported", "[netstack][wire][unit]") {
  auto frame = copy_of(kQinQUdpV4);
  put16(frame, 20, ethertype::kVlan);  // the EtherType after two tags becomes a third TPID
  CHECK(error_of(EthernetView::check(frame)) == WireError::kUnsupported);
}

TEST_CASE("ethernet: an 802.3 length field passes the view but the Repr rejects it as kUnsupported",
          "[netstack][wire][unit]") {
  auto frame = copy_of(kTcpSynV4);
  put16(frame, 12, 0x05dc);  // 1500: a length, not an EtherType
  const auto v = EthernetView::check(frame);
  REQUIRE(v.has_value());
  CHECK(error_of(EthernetRepr::parse(v.value())) == WireError::kUnsupported);
}
