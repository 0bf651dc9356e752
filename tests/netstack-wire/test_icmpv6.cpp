// ICMPv6: echo, Neighbour Solicitation / Advertisement golden packets, NDP option rules, checksum
// under the pseudo-header, malformed messages.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {
const ChecksumCaps kSoftware = ChecksumCaps::software();

struct Msg {
  Ipv6Address src;
  Ipv6Address dst;
  std::vector<std::byte> bytes;  // the ICMPv6 message
};

template <std::size_t N>
Msg message_of(const std::array<std::uint8_t, N>& frame) {
  const auto ip = Ipv6View::check(bytes_of(frame).subspan(14)).value();
  return Msg{ip.src(), ip.dst(), std::vector<std::byte>(ip.payload().begin(), ip.payload().end())};
}

WireError parse_error(Msg& m) {
  // Options and fields changed by the test: refill the checksum so only the change is judged.
  Icmpv6ViewMut::check(m.bytes).value().fill_checksum(m.src, m.dst);
  return error_of(Icmpv6Repr::parse(Icmpv6View::check(m.bytes).value(), m.src, m.dst, kSoftware));
}
}  // namespace

TEST_CASE("icmpv6: the golden neighbour solicitation parses (target, source link-layer address)",
          "[netstack][wire][unit]") {
  const Msg m = message_of(kIcmpv6NeighbourSolicitation);
  const auto v = Icmpv6View::check(m.bytes).value();
  CHECK(v.type() == Icmpv6Type::kNeighbourSolicitation);
  CHECK(v.code() == 0);
  CHECK(v.checksum() == 0x7a97);
  CHECK(v.verify_checksum(m.src, m.dst));
  const auto r = Icmpv6Repr::parse(v, m.src, m.dst, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().target.to_string() == "fe80::2");
  REQUIRE(r.value().link_layer_addr.has_value());
  CHECK(r.value().link_layer_addr->to_string() == "02:00:00:00:00:01");
  CHECK(r.value().target.solicited_node() == m.dst);
}

TEST_CASE("icmpv6: the golden neighbour advertisement parses (S and O set, R clear, target LLA)",
          "[netstack][wire][unit]") {
  const Msg m = message_of(kIcmpv6NeighbourAdvertisement);
  const auto r = Icmpv6Repr::parse(Icmpv6View::check(m.bytes).value(), m.src, m.dst, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().type == Icmpv6Type::kNeighbourAdvertisement);
  CHECK_FALSE(r.value().router_flag);
  CHECK(r.value().solicited_flag);
  CHECK(r.value().override_flag);
  CHECK(r.value().target.to_string() == "fe80::2");
  REQUIRE(r.value().link_layer_addr.has_value());
  CHECK(r.value().link_layer_addr->to_string() == "02:00:00:00:00:02");
}

TEST_CASE("icmpv6: the golden echo request parses (id 0x4242, seq 7, data)", "[netstack][wire][unit]") {
  const Msg m = message_of(kIcmpv6EchoRequest);
  const auto r = Icmpv6Repr::parse(Icmpv6View::check(m.bytes).value(), m.src, m.dst, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().is_echo());
  CHECK(r.value().echo_ident == 0x4242);
  CHECK(r.value().echo_seq == 7);
  CHECK(std::string(reinterpret_cast<const char*>(r.value().data.data()), r.value().data.size()) == "ping6 payload");
}

TEST_CASE("icmpv6: emit reproduces NS, NA and echo byte for byte and round-trips", "[netstack][wire][unit]") {
  for (Msg m : {message_of(kIcmpv6NeighbourSolicitation), message_of(kIcmpv6NeighbourAdvertisement),
                message_of(kIcmpv6EchoRequest)}) {
    const auto r = Icmpv6Repr::parse(Icmpv6View::check(m.bytes).value(), m.src, m.dst, kSoftware).value();
    std::vector<std::byte> out(r.buffer_len());
    r.emit(out, m.src, m.dst, kSoftware);
    CHECK(same_bytes(out, m.bytes));
    const auto again = Icmpv6Repr::parse(Icmpv6View::check(out).value(), m.src, m.dst, kSoftware);
    REQUIRE(again.has_value());
    CHECK(again.value() == r);
  }
}

TEST_CASE("icmpv6: an NS without a link-layer option emits 24 bytes and parses without one", "[netstack][wire][unit]") {
  Icmpv6Repr r;
  r.type = Icmpv6Type::kNeighbourSolicitation;
  r.target = Ipv6Address::parse("2001:db8::99").value();
  const Ipv6Address src;  // DAD: unspecified source
  const Ipv6Address dst = r.target.solicited_node();
  std::vector<std::byte> out(r.buffer_len());
  CHECK(out.size() == 24);
  r.emit(out, src, dst, kSoftware);
  const auto back = Icmpv6Repr::parse(Icmpv6View::check(out).value(), src, dst, kSoftware);
  REQUIRE(back.has_value());
  CHECK_FALSE(back.value().link_layer_addr.has_value());
  CHECK(back.value() == r);
}

TEST_CASE("icmpv6: the checksum covers the pseudo-header: another destination is kBadChecksum",
          "[netstack][wire][unit]") {
  const Msg m = message_of(kIcmpv6NeighbourSolicitation);
  const auto v = Icmpv6View::check(m.bytes).value();
  const Ipv6Address other = Ipv6Address::parse("ff02::1").value();
  CHECK(error_of(Icmpv6Repr::parse(v, m.src, other, kSoftware)) == WireError::kBadChecksum);
  CHECK(error_of(Icmpv6Repr::parse(v, m.src, other, ChecksumCaps::offloaded())) == kParsed);
}

TEST_CASE("icmpv6: an NDP option with length 0 is kBadOption", "[netstack][wire][unit]") {
  Msg m = message_of(kIcmpv6NeighbourSolicitation);
  m.bytes[25] = b(0);
  CHECK(parse_error(m) == WireError::kBadOption);
}

TEST_CASE("icmpv6: an NDP option running past the message is kBadOption", "[netstack][wire][unit]") {
  Msg m = message_of(kIcmpv6NeighbourSolicitation);
  m.bytes[25] = b(2);  // 16 bytes claimed, 8 present
  CHECK(parse_error(m) == WireError::kBadOption);
  m = message_of(kIcmpv6NeighbourSolicitation);
  m.bytes.push_back(b(14));  // a lone option type byte without its length
  CHECK(parse_error(m) == WireError::kBadOption);
}

TEST_CASE("icmpv6: a source link-layer option longer than Ethernet's 8 bytes is kBadOption", "[netstack][wire][unit]") {
  Msg m = message_of(kIcmpv6NeighbourSolicitation);
  m.bytes[25] = b(2);
  m.bytes.resize(m.bytes.size() + 8, std::byte{0});
  CHECK(parse_error(m) == WireError::kBadOption);
}

TEST_CASE("icmpv6: unknown NDP options (a nonce) are skipped by their length", "[netstack][wire][unit]") {
  Msg m = message_of(kIcmpv6NeighbourSolicitation);
  for (unsigned x : {14u, 1u, 1u, 2u, 3u, 4u, 5u, 6u}) m.bytes.push_back(b(x));  // nonce option, 8 bytes
  CHECK(parse_error(m) == kParsed);
  const auto r = Icmpv6Repr::parse(Icmpv6View::check(m.bytes).value(), m.src, m.dst, kSoftware);
  CHECK(r.value().link_layer_addr->to_string() == "02:00:00:00:00:01");
}

TEST_CASE("icmpv6: an NS shorter than 24 bytes is kTruncated and under 8 bytes the view refuses it",
          "[netstack][wire][unit]") {
  Msg m = message_of(kIcmpv6NeighbourSolicitation);
  m.bytes.resize(20);
  CHECK(parse_error(m) == WireError::kTruncated);
  CHECK(error_of(Icmpv6View::check(std::span(m.bytes).first(7))) == WireError::kTruncated);
}

TEST_CASE("icmpv6: an NS with code 1 or a multicast target is kMalformed", "[netstack][wire][unit]") {
  Msg m = message_of(kIcmpv6NeighbourSolicitation);
  m.bytes[1] = b(1);
  CHECK(parse_error(m) == WireError::kMalformed);
  m = message_of(kIcmpv6NeighbourSolicitation);
  m.bytes[8] = b(0xff);
  CHECK(parse_error(m) == WireError::kMalformed);
}

TEST_CASE("icmpv6: error messages are kept generically (Packet Too Big keeps its MTU)", "[netstack][wire][unit]") {
  Icmpv6Repr r;
  r.type = Icmpv6Type::kPacketTooBig;
  r.rest_of_header = 1280;
  const auto quoted = bytes_of(kTcpDataV6).subspan(14, 48);
  r.data = quoted;
  const Ipv6Address src = Ipv6Address::parse("2001:db8::ff").value();
  const Ipv6Address dst = Ipv6Address::parse("2001:db8::1").value();
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out, src, dst, kSoftware);
  const auto back = Icmpv6Repr::parse(Icmpv6View::check(out).value(), src, dst, kSoftware);
  REQUIRE(back.has_value());
  CHECK(back.value() == r);
  CHECK(back.value().rest_of_header == 1280);
}
