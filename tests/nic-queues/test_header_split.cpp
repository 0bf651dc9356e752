// Header-data split placement with byte-exact offsets: TCP/IPv4 with and without options,
// TCP/IPv6, UDP, below the threshold, a payload spanning three buffers, the split off, and the
// frames that do not qualify.
#include <catch2/catch.hpp>

#include "frame_builder.hpp"
#include "nicemu/nic/hw/header_split.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using nicemu::testing::build_frame;
using nicemu::testing::FrameSpec;
namespace w = nicemu::netstack::wire;

namespace {
HeaderSplitConfig split_on() {
  HeaderSplitConfig c;
  c.mode = TcpDataSplit::kEnabled;
  c.hds_thresh = 0;
  c.rx_buf_len = 4096;
  c.header_buf_len = 256;
  return c;
}

RxLayout plan(const std::vector<std::byte>& f, const HeaderSplitConfig& c) {
  const auto pkt = w::parse_packet(f, w::ChecksumCaps::software());
  REQUIRE(pkt.ok());
  return plan_rx_layout(pkt, static_cast<std::uint32_t>(f.size()), c);
}
}  // namespace

TEST_CASE("header split: TCP/IPv4 without options puts 54 header bytes apart, the payload in one buffer",
          "[nic][hw][unit]") {
  FrameSpec s;
  s.payload_len = 1448;
  const auto f = build_frame(s);
  const RxLayout l = plan(f, split_on());
  CHECK(l.verdict == SplitVerdict::kSplit);
  CHECK(l.header.offset == 0);
  CHECK(l.header.len == 14 + 20 + 20);
  REQUIRE(l.payload_buffers == 1);
  CHECK(l.payload[0].offset == 54);
  CHECK(l.payload[0].len == 1448);
  // The first payload byte is the pattern's first.
  CHECK(f[l.payload[0].offset] == nicemu::testing::frame_payload_byte(0, 0));
}

TEST_CASE("header split: TCP options go with the headers (timestamps: 66 bytes)", "[nic][hw][unit]") {
  FrameSpec s;
  s.payload_len = 1448;
  s.tcp_timestamps = true;
  const RxLayout l = plan(build_frame(s), split_on());
  CHECK(l.header.len == 14 + 20 + 32);
  REQUIRE(l.payload_buffers == 1);
  CHECK(l.payload[0].offset == 66);
  CHECK(l.payload[0].len == 1448);
}

TEST_CASE("header split: TCP/IPv6 splits after 74 header bytes", "[nic][hw][unit]") {
  FrameSpec s;
  s.v6 = true;
  w::Ipv6Address a{}, b{};
  a.octets = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  b.octets = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  s.src = a;
  s.dst = b;
  s.payload_len = 1000;
  const RxLayout l = plan(build_frame(s), split_on());
  CHECK(l.verdict == SplitVerdict::kSplit);
  CHECK(l.header.len == 14 + 40 + 20);
  REQUIRE(l.payload_buffers == 1);
  CHECK(l.payload[0].offset == 74);
  CHECK(l.payload[0].len == 1000);
}

TEST_CASE("header split: UDP splits after its 8-byte header, unless the profile splits TCP only", "[nic][hw][unit]") {
  FrameSpec s;
  s.udp = true;
  s.payload_len = 500;
  const auto f = build_frame(s);
  RxLayout l = plan(f, split_on());
  CHECK(l.verdict == SplitVerdict::kSplit);
  CHECK(l.header.len == 14 + 20 + 8);
  CHECK(l.payload[0].offset == 42);
  CHECK(l.payload[0].len == 500);
  HeaderSplitConfig tcp_only = split_on();
  tcp_only.split_udp = false;
  l = plan(f, tcp_only);
  CHECK(l.verdict == SplitVerdict::kNotTcpUdp);
  CHECK(l.header.len == 0);  // 542 bytes do not fit the 256-byte header buffer
  REQUIRE(l.payload_buffers == 1);
  CHECK(l.payload[0].offset == 0);
  CHECK(l.payload[0].len == f.size());
}

TEST_CASE("header split: a 9000-byte payload spans three 4096-byte buffers", "[nic][hw][unit]") {
  FrameSpec s;
  s.payload_len = 9000 - 40;  // an MTU-9000 segment
  const auto f = build_frame(s);
  const RxLayout l = plan(f, split_on());
  CHECK(l.verdict == SplitVerdict::kSplit);
  REQUIRE(l.payload_buffers == 3);
  CHECK(l.payload[0].offset == 54);
  CHECK(l.payload[0].len == 4096);
  CHECK(l.payload[1].offset == 54 + 4096);
  CHECK(l.payload[1].len == 4096);
  CHECK(l.payload[2].offset == 54 + 8192);
  CHECK(l.payload[2].len == 8960 - 8192);
  CHECK(l.payload[2].offset + l.payload[2].len == f.size());
}

TEST_CASE("header split: at or below hds-thresh the frame is not split", "[nic][hw][unit]") {
  FrameSpec s;
  s.payload_len = 100;
  const auto f = build_frame(s);  // 154 bytes
  HeaderSplitConfig c = split_on();
  c.hds_thresh = 154;
  RxLayout l = plan(f, c);
  CHECK(l.verdict == SplitVerdict::kBelowThreshold);
  CHECK(l.header.len == 154);  // whole, into the header buffer (it fits)
  CHECK(l.payload_buffers == 0);
  c.hds_thresh = 153;
  l = plan(f, c);
  CHECK(l.verdict == SplitVerdict::kSplit);
  // A profile that never puts data in the header buffer sends it whole to a payload buffer.
  c.hds_thresh = 154;
  c.non_qualifying = NonQualifyingPlacement::kPayloadBuffers;
  l = plan(f, c);
  CHECK(l.header.len == 0);
  REQUIRE(l.payload_buffers == 1);
  CHECK(l.payload[0].len == 154);
}

TEST_CASE("header split: a frame that is all headers (a SYN, an ACK) goes whole into the header buffer on every "
          "profile, so a queue whose payload buffers are device memory still delivers readable control segments",
          "[nic][hw][unit]") {
  FrameSpec s;
  s.payload_len = 0;
  const auto f = build_frame(s);
  for (NonQualifyingPlacement p : {NonQualifyingPlacement::kHeaderBufferIfFits, NonQualifyingPlacement::kPayloadBuffers}) {
    HeaderSplitConfig c = split_on();
    c.non_qualifying = p;
    const RxLayout l = plan(f, c);
    CHECK(l.verdict == SplitVerdict::kNoPayload);
    CHECK(l.header.len == f.size());
    CHECK(l.payload_buffers == 0);
  }
  // Too long for the header buffer: the payload-buffer profile falls back to a payload buffer.
  HeaderSplitConfig c = split_on();
  c.non_qualifying = NonQualifyingPlacement::kPayloadBuffers;
  c.header_buf_len = static_cast<std::uint32_t>(f.size() - 1);
  const RxLayout l = plan(f, c);
  CHECK(l.header.len == 0);
  CHECK(l.payload_buffers == 1);
}

TEST_CASE("header split: off, or unknown on a device whose default is off, places whole frames in payload buffers",
          "[nic][hw][unit]") {
  FrameSpec s;
  s.payload_len = 6000;
  const auto f = build_frame(s);
  for (TcpDataSplit m : {TcpDataSplit::kDisabled, TcpDataSplit::kUnknown}) {
    HeaderSplitConfig c = split_on();
    c.mode = m;
    const RxLayout l = plan(f, c);
    CHECK(l.verdict == SplitVerdict::kSplitOff);
    CHECK(l.header.len == 0);
    REQUIRE(l.payload_buffers == 2);
    CHECK(l.payload[0].offset == 0);
    CHECK(l.payload[0].len == 4096);
    CHECK(l.payload[1].offset == 4096);
    CHECK(l.payload[1].len == f.size() - 4096);
  }
  HeaderSplitConfig c = split_on();
  c.mode = TcpDataSplit::kUnknown;
  c.unknown_means_enabled = true;
  CHECK(plan(f, c).verdict == SplitVerdict::kSplit);
}

TEST_CASE("header split: a pure ACK and a padded small frame stay whole in the header buffer", "[nic][hw][unit]") {
  FrameSpec s;  // no payload: 54 bytes, padded to 60
  const auto f = build_frame(s);
  REQUIRE(f.size() == 60);
  const RxLayout l = plan(f, split_on());
  CHECK(l.verdict == SplitVerdict::kNoPayload);
  CHECK(l.header.len == 60);
  CHECK(l.payload_buffers == 0);
  // Six bytes of payload padded to 60: the padding goes with the payload.
  s.payload_len = 2;
  const auto g = build_frame(s);
  REQUIRE(g.size() == 60);
  const RxLayout m = plan(g, split_on());
  CHECK(m.verdict == SplitVerdict::kSplit);
  CHECK(m.header.len == 54);
  REQUIRE(m.payload_buffers == 1);
  CHECK(m.payload[0].len == 6);
}

TEST_CASE("header split: headers longer than the header buffer are not split", "[nic][hw][unit]") {
  FrameSpec s;
  s.payload_len = 1000;
  s.tcp_timestamps = true;
  HeaderSplitConfig c = split_on();
  c.header_buf_len = 64;  // 66 bytes of headers
  const RxLayout l = plan(build_frame(s), c);
  CHECK(l.verdict == SplitVerdict::kHeaderTooLong);
  CHECK(l.header.len == 0);
  REQUIRE(l.payload_buffers == 1);
  CHECK(l.payload[0].offset == 0);
}

TEST_CASE("header split: ARP and IP fragments are not split, and too many buffers is reported", "[nic][hw][unit]") {
  w::ParsedPacket arp;
  arp.l3 = w::L3Kind::kArp;
  RxLayout l = plan_rx_layout(arp, 60, split_on());
  CHECK(l.verdict == SplitVerdict::kNotTcpUdp);
  CHECK(l.header.len == 60);
  w::ParsedPacket frag;
  frag.l3 = w::L3Kind::kIpv4;
  frag.is_fragment = true;
  l = plan_rx_layout(frag, 1514, split_on());
  CHECK(l.verdict == SplitVerdict::kFragment);
  REQUIRE(l.payload_buffers == 1);
  HeaderSplitConfig tiny = split_on();
  tiny.mode = TcpDataSplit::kDisabled;
  tiny.rx_buf_len = 512;
  l = plan_rx_layout(frag, 9014, tiny);  // 18 buffers of 512 bytes
  CHECK(l.too_many_buffers);
  CHECK(l.payload_buffers == RxLayout::kMaxPayloadBuffers);
}
