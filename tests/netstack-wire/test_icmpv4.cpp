// ICMPv4: echo and destination unreachable golden packets, generic types, malformed messages.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {
const ChecksumCaps kSoftware = ChecksumCaps::software();

// Emits `r`, parses the bytes back, and returns the result.
Icmpv4Repr round_trip(const Icmpv4Repr& r, std::vector<std::byte>& out) {
  out.assign(r.buffer_len(), std::byte{0});
  r.emit(out, kSoftware);
  const auto again = Icmpv4Repr::parse(Icmpv4View::check(out).value(), kSoftware);
  REQUIRE(again.has_value());
  return again.value();
}
}  // namespace

TEST_CASE("icmpv4: the golden echo request parses (id 0x1234, seq 1, 56 data bytes)", "[netstack][wire][unit]") {
  const auto msg = bytes_of(kIcmpv4EchoRequest).subspan(34);
  const auto v = Icmpv4View::check(msg).value();
  CHECK(v.type() == Icmpv4Type::kEchoRequest);
  CHECK(v.code() == 0);
  CHECK(v.checksum() == 0xe255);
  CHECK(v.verify_checksum());
  const auto r = Icmpv4Repr::parse(v, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().is_echo());
  CHECK(r.value().echo_ident == 0x1234);
  CHECK(r.value().echo_seq == 1);
  CHECK(r.value().data.size() == 56);
  CHECK(r.value().data[16] == b(0x10));
  CHECK(r.value().data.data() == msg.data() + 8);
}

TEST_CASE("icmpv4: emit reproduces the golden messages byte for byte and round-trips", "[netstack][wire][unit]") {
  for (const auto& frame : {bytes_of(kIcmpv4EchoRequest), bytes_of(kIcmpv4PortUnreachable)}) {
    const auto msg = frame.subspan(34);
    const auto r = Icmpv4Repr::parse(Icmpv4View::check(msg).value(), kSoftware).value();
    std::vector<std::byte> out;
    CHECK(round_trip(r, out) == r);
    CHECK(same_bytes(out, msg));
  }
}

TEST_CASE("icmpv4: an echo reply built from a request in place carries the same id, seq and data",
          "[netstack][wire][unit]") {
  auto frame = copy_of(kIcmpv4EchoRequest);
  const std::span<std::byte> msg = std::span(frame).subspan(34);
  auto reply = Icmpv4Repr::parse(Icmpv4View::check(msg).value(), kSoftware).value();
  reply.type = Icmpv4Type::kEchoReply;
  reply.emit(msg, kSoftware);  // the data already sits at msg[8..]: nothing moves
  const auto back = Icmpv4Repr::parse(Icmpv4View::check(msg).value(), kSoftware);
  REQUIRE(back.has_value());
  CHECK(back.value().type == Icmpv4Type::kEchoReply);
  CHECK(back.value().echo_ident == 0x1234);
  CHECK(same_bytes(back.value().data, bytes_of(kIcmpv4EchoRequest).subspan(42)));
}

TEST_CASE("icmpv4: a port unreachable quotes the original IPv4 header and UDP ports", "[netstack][wire][unit]") {
  const auto r = Icmpv4Repr::parse(Icmpv4View::check(bytes_of(kIcmpv4PortUnreachable).subspan(34)).value(), kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().type == Icmpv4Type::kDestUnreachable);
  CHECK(r.value().code == icmpv4_code::kPortUnreachable);
  CHECK(r.value().next_hop_mtu == 0);
  const auto quoted = Ipv4View::check(r.value().data);
  REQUIRE(quoted.has_value());
  CHECK(quoted.value().src().to_string() == "10.0.0.1");
  CHECK(quoted.value().protocol() == ip_protocol::kUdp);
  CHECK(get16(quoted.value().payload(), 2) == 33434);
}

TEST_CASE("icmpv4: fragmentation needed carries the next-hop MTU (RFC 1191)", "[netstack][wire][unit]") {
  Icmpv4Repr r;
  r.type = Icmpv4Type::kDestUnreachable;
  r.code = icmpv4_code::kFragNeeded;
  r.next_hop_mtu = 1400;
  const auto quoted = bytes_of(kTcpSynV4).subspan(14, 28);
  r.data = quoted;
  std::vector<std::byte> out;
  const auto back = round_trip(r, out);
  CHECK(back == r);
  CHECK(get16(out, 6) == 1400);
}

TEST_CASE("icmpv4: other types are kept generically with their raw rest-of-header", "[netstack][wire][unit]") {
  Icmpv4Repr r;
  r.type = static_cast<Icmpv4Type>(42);
  r.code = 7;
  r.rest_of_header = 0xdeadbeef;
  const auto data = bytes_from({1, 2, 3});
  r.data = data;
  std::vector<std::byte> out;
  CHECK(round_trip(r, out) == r);
  CHECK(out[4] == b(0xde));
  CHECK(out[7] == b(0xef));
}

TEST_CASE("icmpv4: a message shorter than 8 bytes is kTruncated", "[netstack][wire][unit]") {
  CHECK(error_of(Icmpv4View::check(bytes_of(kIcmpv4EchoRequest).subspan(34, 7))) == WireError::kTruncated);
}

TEST_CASE("icmpv4: a wrong checksum is kBadChecksum unless verification is offloaded", "[netstack][wire][unit]") {
  auto frame = copy_of(kIcmpv4EchoRequest);
  frame[60] ^= std::byte{0x01};
  const auto v = Icmpv4View::check(std::span(frame).subspan(34)).value();
  CHECK(error_of(Icmpv4Repr::parse(v, kSoftware)) == WireError::kBadChecksum);
  CHECK(error_of(Icmpv4Repr::parse(v, ChecksumCaps::offloaded())) == kParsed);
}

TEST_CASE("icmpv4: an unreachable quoting fewer than 20 bytes or a non-IPv4 header is kMalformed",
          "[netstack][wire][unit]") {
  Icmpv4Repr r;
  r.type = Icmpv4Type::kDestUnreachable;
  r.code = icmpv4_code::kPortUnreachable;
  const auto short_quote = bytes_of(kTcpSynV4).subspan(14, 19);
  r.data = short_quote;
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out, kSoftware);
  CHECK(error_of(Icmpv4Repr::parse(Icmpv4View::check(out).value(), kSoftware)) == WireError::kMalformed);

  auto v6_quote = copy_of(kTcpSynV4);
  v6_quote[14] = b(0x65);
  r.data = std::span(v6_quote).subspan(14, 28);
  out.assign(r.buffer_len(), std::byte{0});
  r.emit(out, kSoftware);
  CHECK(error_of(Icmpv4Repr::parse(Icmpv4View::check(out).value(), kSoftware)) == WireError::kMalformed);
}
