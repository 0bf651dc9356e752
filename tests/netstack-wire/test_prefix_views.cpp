// Header-only ("prefix") views: the headers sit in an skb's linear area while the payload lives
// in frags or device memory, so the views check lengths against the real packet length.
#include <catch2/catch.hpp>

#include <vector>

#include "nicemu/netstack/wire/ipv4.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "nicemu/netstack/wire/tcp.hpp"
#include "nicemu/netstack/wire/udp.hpp"

using namespace nicemu::netstack::wire;

namespace {
// A 1000-byte IPv4 packet carrying a TCP segment with 12 bytes of options (timestamps).
std::vector<std::byte> packet() {
  TcpRepr tcp;
  tcp.src_port = 1;
  tcp.dst_port = 2;
  tcp.flags = TcpFlags{TcpFlags::kAck};
  tcp.options.timestamps = TcpTimestamps{5, 6};
  std::vector<std::byte> payload(1000 - 20 - 32, std::byte{0x5a});
  tcp.payload = payload;
  Ipv4Repr ip;
  ip.src = Ipv4Address{{10, 0, 0, 1}};
  ip.dst = Ipv4Address{{10, 0, 0, 2}};
  ip.protocol = 6;
  ip.payload_len = static_cast<std::uint16_t>(tcp.buffer_len());
  std::vector<std::byte> out(20 + tcp.buffer_len());
  ip.emit(out, ChecksumCaps::software());
  tcp.emit(std::span(out).subspan(20), ip.src, ip.dst, ChecksumCaps::software());
  return out;
}
}  // namespace

TEST_CASE("ipv4 prefix view: the header alone is checked against the real packet length", "[netstack][wire][unit]") {
  const auto p = packet();
  const std::span<const std::byte> head = std::span(p).first(52);  // IPv4 + TCP headers only
  auto v = Ipv4View::check(head, p.size());
  REQUIRE(v.has_value());
  CHECK(v->payload_len() == 980);
  CHECK(v->payload().size() == 32);  // only what the prefix holds
  auto r = Ipv4Repr::parse(*v, ChecksumCaps::software());  // the header checksum needs only the header
  REQUIRE(r.has_value());
  CHECK(r->payload_len == 980);
  CHECK(Ipv4View::check(head, 999).error() == WireError::kTruncated);  // total length past the packet
  CHECK(Ipv4View::check(std::span(p).first(10), p.size()).error() == WireError::kTruncated);
  // The whole packet through the prefix entry behaves like check(bytes).
  auto whole = Ipv4View::check(std::span<const std::byte>(p), p.size());
  REQUIRE(whole.has_value());
  CHECK(whole->payload().size() == 980);
}

TEST_CASE("tcp prefix view: options parse from the header, the checksum is left to the caller", "[netstack][wire][unit]") {
  const auto p = packet();
  const std::span<const std::byte> seg_head = std::span(p).subspan(20, 32);
  auto v = TcpView::check(seg_head, 980);
  REQUIRE(v.has_value());
  CHECK_FALSE(v->complete());
  CHECK(v->payload_len() == 948);
  CHECK(v->payload().empty());
  auto r = TcpRepr::parse(*v, IpAddress(Ipv4Address{{10, 0, 0, 1}}), IpAddress(Ipv4Address{{10, 0, 0, 2}}),
                          ChecksumCaps::software());
  REQUIRE(r.has_value());
  CHECK(r->options.timestamps == TcpTimestamps{5, 6});
  CHECK(TcpView::check(std::span(p).subspan(20, 24), 980).error() == WireError::kTruncated);  // options cut
  CHECK(TcpView::check(seg_head, 30).error() == WireError::kBadLength);  // data offset past the segment
  auto whole = TcpView::check(std::span(p).subspan(20), 980);
  REQUIRE(whole.has_value());
  CHECK(whole->complete());
  CHECK(whole->verify_checksum(IpAddress(Ipv4Address{{10, 0, 0, 1}}), IpAddress(Ipv4Address{{10, 0, 0, 2}})));
}

TEST_CASE("udp and ipv6 prefix views: lengths against the real packet, payload only as present",
          "[netstack][wire][unit]") {
  std::vector<std::byte> payload(500, std::byte{0x33});
  UdpRepr udp;
  udp.src_port = 7;
  udp.dst_port = 9;
  udp.payload = payload;
  const IpAddress src = *IpAddress::parse("2001:db8::1");
  const IpAddress dst = *IpAddress::parse("2001:db8::2");
  Ipv6Repr ip;
  ip.src = src.v6();
  ip.dst = dst.v6();
  ip.next_header = 17;
  ip.payload_len = static_cast<std::uint16_t>(udp.buffer_len());
  std::vector<std::byte> pkt(40 + udp.buffer_len());
  ip.emit(pkt);
  udp.emit(std::span(pkt).subspan(40), src, dst, ChecksumCaps::software());

  auto v6 = Ipv6View::check(std::span<const std::byte>(pkt).first(48), pkt.size());
  REQUIRE(v6.has_value());
  CHECK(v6->payload_len() == 508);
  CHECK(v6->payload().size() == 8);
  CHECK(Ipv6View::check(std::span<const std::byte>(pkt).first(48), pkt.size() - 1).error() == WireError::kTruncated);

  auto u = UdpView::check(std::span<const std::byte>(pkt).subspan(40, 8), 508);
  REQUIRE(u.has_value());
  CHECK_FALSE(u->complete());
  CHECK(u->payload_len() == 500);
  CHECK(u->payload().empty());
  auto r = UdpRepr::parse(*u, src, dst, ChecksumCaps::software());  // not verifiable here: no error
  REQUIRE(r.has_value());
  CHECK(r->dst_port == 9);
  CHECK(UdpView::check(std::span<const std::byte>(pkt).subspan(40, 8), 100).error() == WireError::kBadLength);
  auto whole = UdpView::check(std::span<const std::byte>(pkt).subspan(40));
  REQUIRE(whole.has_value());
  CHECK(whole->complete());
  CHECK(whole->verify_checksum(src, dst));
}
