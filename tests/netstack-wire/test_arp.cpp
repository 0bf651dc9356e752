// ARP for Ethernet/IPv4: golden request and padded reply, round trips, unsupported variants.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

TEST_CASE("arp: the golden request parses field by field", "[netstack][wire][unit]") {
  const auto v = ArpView::check(bytes_of(kArpRequest).subspan(14));
  REQUIRE(v.has_value());
  CHECK(v.value().hardware_type() == 1);
  CHECK(v.value().protocol_type() == 0x0800);
  CHECK(v.value().hardware_len() == 6);
  CHECK(v.value().protocol_len() == 4);
  CHECK(v.value().operation() == 1);
  CHECK(v.value().packet_len() == 28);
  const auto r = ArpRepr::parse(v.value());
  REQUIRE(r.has_value());
  CHECK(r.value().operation == ArpOperation::kRequest);
  CHECK(r.value().sender_mac.to_string() == "02:00:00:00:00:01");
  CHECK(r.value().sender_ip.to_string() == "10.0.0.1");
  CHECK(r.value().target_mac.is_zero());
  CHECK(r.value().target_ip.to_string() == "10.0.0.2");
}

TEST_CASE("arp: a padded reply parses and the padding is ignored", "[netstack][wire][unit]") {
  const auto l3 = bytes_of(kArpReplyPadded).subspan(14);
  REQUIRE(l3.size() == 46);
  const auto r = ArpRepr::parse(ArpView::check(l3).value());
  REQUIRE(r.has_value());
  CHECK(r.value().operation == ArpOperation::kReply);
  CHECK(r.value().sender_ip.to_string() == "10.0.0.2");
  CHECK(r.value().target_mac.to_string() == "02:00:00:00:00:01");
}

TEST_CASE("arp: emit reproduces the golden request and reply, and round-trips", "[netstack][wire][unit]") {
  for (const auto& frame : {bytes_of(kArpRequest), bytes_of(kArpReplyPadded)}) {
    const auto r = ArpRepr::parse(ArpView::check(frame.subspan(14)).value()).value();
    std::vector<std::byte> out(r.buffer_len());
    r.emit(out);
    CHECK(same_bytes(out, frame.subspan(14, 28)));
    CHECK(ArpRepr::parse(ArpView::check(out).value()).value() == r);
  }
}

TEST_CASE("arp: a packet shorter than its fixed part or its addresses is kTruncated", "[netstack][wire][unit]") {
  const auto l3 = bytes_of(kArpRequest).subspan(14);
  CHECK(error_of(ArpView::check(l3.first(7))) == WireError::kTruncated);
  CHECK(error_of(ArpView::check(l3.first(27))) == WireError::kTruncated);
}

TEST_CASE("arp: a non-Ethernet hardware type or non-IPv4 protocol is kUnsupported", "[netstack][wire][unit]") {
  auto l3 = copy_of(kArpRequest);
  const std::span<std::byte> p = std::span(l3).subspan(14);
  put16(p, 0, 6);  // IEEE 802
  CHECK(error_of(ArpRepr::parse(ArpView::check(p).value())) == WireError::kUnsupported);
  put16(p, 0, 1);
  put16(p, 2, 0x86dd);
  CHECK(error_of(ArpRepr::parse(ArpView::check(p).value())) == WireError::kUnsupported);
}

TEST_CASE("arp: an operation other than request or reply (RARP 3) is kUnsupported", "[netstack][wire][unit]") {
  auto l3 = copy_of(kArpRequest);
  const std::span<std::byte> p = std::span(l3).subspan(14);
  put16(p, 6, 3);
  CHECK(error_of(ArpRepr::parse(ArpView::check(p).value())) == WireError::kUnsupported);
}

TEST_CASE("arp: the generic view bounds odd address lengths and the Repr refuses them", "[netstack][wire][unit]") {
  auto l3 = copy_of(kArpRequest);
  const std::span<std::byte> p = std::span(l3).subspan(14);
  p[5] = b(5);  // protocol length 5: 8 + 2*(6+5) = 30 bytes needed, 28 present
  CHECK(error_of(ArpView::check(p)) == WireError::kTruncated);
  p[5] = b(3);  // 26 bytes needed: fits
  const auto v = ArpView::check(p);
  REQUIRE(v.has_value());
  CHECK(v.value().target_protocol_addr().size() == 3);
  CHECK(within(v.value().target_protocol_addr(), p));
  CHECK(error_of(ArpRepr::parse(v.value())) == WireError::kUnsupported);
}
