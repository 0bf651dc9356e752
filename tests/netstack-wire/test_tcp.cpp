// TCP: golden SYN / SACK ACK / IPv6 data segment, option rules, emit layout, malformed headers.
#include <catch2/catch.hpp>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {
const ChecksumCaps kSoftware = ChecksumCaps::software();
const IpAddress kA = Ipv4Address{{10, 0, 0, 1}};
const IpAddress kB = Ipv4Address{{10, 0, 0, 2}};

std::vector<std::byte> syn_segment() {
  const auto s = bytes_of(kTcpSynV4).subspan(34);
  return std::vector<std::byte>(s.begin(), s.end());
}

// A 20-byte header followed by `options` (padded with EOL to a multiple of 4), data offset set.
std::vector<std::byte> segment_with_options(std::initializer_list<unsigned> options) {
  std::vector<std::byte> seg(20, std::byte{0});
  put16(seg, 0, 1000);
  put16(seg, 2, 2000);
  seg[13] = b(TcpFlags::kAck);
  for (unsigned o : options) seg.push_back(b(o));
  while (seg.size() % 4 != 0) seg.push_back(b(0));
  seg[12] = static_cast<std::byte>((seg.size() / 4) << 4);
  return seg;
}

WireError option_error(std::initializer_list<unsigned> options) {
  const auto seg = segment_with_options(options);
  const auto v = TcpView::check(seg);
  REQUIRE(v.has_value());
  return error_of(TcpRepr::parse(v.value(), kA, kB, ChecksumCaps::offloaded()));
}

TcpRepr parse_options_ok(std::initializer_list<unsigned> options) {
  const auto seg = segment_with_options(options);
  const auto r = TcpRepr::parse(TcpView::check(seg).value(), kA, kB, ChecksumCaps::offloaded());
  REQUIRE(r.has_value());
  auto repr = r.value();
  repr.payload = {};  // seg dies here
  return repr;
}
}  // namespace

TEST_CASE("tcp: the golden Linux SYN parses field by field with MSS, SACK-permitted, timestamps, wscale",
          "[netstack][wire][unit]") {
  const auto seg = bytes_of(kTcpSynV4).subspan(34);
  const auto vr = TcpView::check(seg);
  REQUIRE(vr.has_value());
  const TcpView& v = vr.value();
  CHECK(v.src_port() == 40312);
  CHECK(v.dst_port() == 5201);
  CHECK(v.seq_number() == 0x5a3c1f00u);
  CHECK(v.ack_number() == 0);
  CHECK(v.data_offset() == 10);
  CHECK(v.header_len() == 40);
  CHECK(v.flags() == TcpFlags{TcpFlags::kSyn});
  CHECK(v.flags().syn());
  CHECK_FALSE(v.flags().ack());
  CHECK(v.window() == 64240);
  CHECK(v.checksum() == 0xea14);
  CHECK(v.urgent_pointer() == 0);
  CHECK(v.verify_checksum(kA, kB));
  CHECK(v.payload().empty());

  const auto r = TcpRepr::parse(v, kA, kB, kSoftware);
  REQUIRE(r.has_value());
  const TcpOptions& o = r.value().options;
  CHECK(o.mss == std::optional<std::uint16_t>(1460));
  CHECK(o.sack_permitted);
  REQUIRE(o.timestamps.has_value());
  CHECK(o.timestamps->tsval == 2825616262u);
  CHECK(o.timestamps->tsecr == 0);
  CHECK(o.window_scale == std::optional<std::uint8_t>(7));
  CHECK(o.sack_count == 0);
}

TEST_CASE("tcp: the golden ACK carries timestamps and two SACK blocks", "[netstack][wire][unit]") {
  const auto r = TcpRepr::parse(TcpView::check(bytes_of(kTcpAckSackV4).subspan(34)).value(), kB, kA, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().flags == TcpFlags{TcpFlags::kAck});
  CHECK(r.value().window == 501);
  CHECK(r.value().ack_number == 0x5a3c2f01u);
  const TcpOptions& o = r.value().options;
  CHECK_FALSE(o.mss.has_value());
  CHECK(o.timestamps == std::optional<TcpTimestamps>(TcpTimestamps{3000000001u, 2825616300u}));
  REQUIRE(o.sack_count == 2);
  CHECK(o.sack_blocks[0] == TcpSackBlock{0x5a3c3f01u, 0x5a3c4f01u});
  CHECK(o.sack_blocks[1] == TcpSackBlock{0x5a3c5f01u, 0x5a3c6f01u});
  CHECK(o.sack_blocks[2] == TcpSackBlock{});
}

TEST_CASE("tcp: the golden IPv6 segment's payload and checksum use the IPv6 pseudo-header", "[netstack][wire][unit]") {
  const IpAddress src = Ipv6Address::parse("2001:db8::1").value();
  const IpAddress dst = Ipv6Address::parse("2001:db8::2").value();
  const auto v = TcpView::check(bytes_of(kTcpDataV6).subspan(54)).value();
  CHECK(v.verify_checksum(src, dst));
  CHECK_FALSE(v.verify_checksum(dst, IpAddress(Ipv6Address::parse("2001:db8::3").value())));
  const auto r = TcpRepr::parse(v, src, dst, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().flags == TcpFlags{TcpFlags::kPsh | TcpFlags::kAck});
  CHECK(std::string(reinterpret_cast<const char*>(r.value().payload.data()), r.value().payload.size()) ==
        "hello, nicemu\n");
}

TEST_CASE("tcp: emit reproduces the three golden segments byte for byte (Linux option layout) and round-trips",
          "[netstack][wire][unit]") {
  struct Case {
    std::span<const std::byte> seg;
    IpAddress src, dst;
  };
  const IpAddress v6a = Ipv6Address::parse("2001:db8::1").value();
  const IpAddress v6b = Ipv6Address::parse("2001:db8::2").value();
  for (const Case& c :
       {Case{bytes_of(kTcpSynV4).subspan(34), kA, kB}, Case{bytes_of(kTcpAckSackV4).subspan(34), kB, kA},
        Case{bytes_of(kTcpDataV6).subspan(54), v6a, v6b}}) {
    const auto r = TcpRepr::parse(TcpView::check(c.seg).value(), c.src, c.dst, kSoftware).value();
    std::vector<std::byte> out(r.buffer_len());
    r.emit(out, c.src, c.dst, kSoftware);
    CHECK(same_bytes(out, c.seg));
    const auto again = TcpRepr::parse(TcpView::check(out).value(), c.src, c.dst, kSoftware);
    REQUIRE(again.has_value());
    CHECK(again.value() == r);
  }
}

TEST_CASE("tcp: emit without checksum fill leaves 0 and the mutable view fills it like a NIC would",
          "[netstack][wire][unit]") {
  auto r = TcpRepr::parse(TcpView::check(bytes_of(kTcpSynV4).subspan(34)).value(), kA, kB, kSoftware).value();
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out, kA, kB, ChecksumCaps::offloaded());
  CHECK(get16(out, 16) == 0);
  const auto v = TcpViewMut::check(out).value();
  v.fill_checksum(kA, kB);
  CHECK(get16(out, 16) == 0xea14);
}

TEST_CASE("tcp: the mutable view's setters change the fields the Repr then reads", "[netstack][wire][unit]") {
  auto seg = syn_segment();
  const auto v = TcpViewMut::check(seg).value();
  v.set_src_port(1);
  v.set_dst_port(2);
  v.set_seq_number(3);
  v.set_ack_number(4);
  v.set_flags(TcpFlags{TcpFlags::kSyn | TcpFlags::kAck | TcpFlags::kEce});
  v.set_window(5);
  v.set_urgent_pointer(6);
  v.fill_checksum(kA, kB);
  const auto r = TcpRepr::parse(v, kA, kB, kSoftware);
  REQUIRE(r.has_value());
  CHECK(r.value().src_port == 1);
  CHECK(r.value().dst_port == 2);
  CHECK(r.value().seq_number == 3);
  CHECK(r.value().ack_number == 4);
  CHECK(r.value().flags.ece());
  CHECK(r.value().flags.has(TcpFlags::kSyn | TcpFlags::kAck));
  CHECK(r.value().window == 5);
  CHECK(r.value().urgent_pointer == 6);
}

TEST_CASE("tcp: SACK-permitted without timestamps is emitted as NOP NOP SACK_PERM", "[netstack][wire][unit]") {
  TcpRepr r;
  r.flags = TcpFlags{TcpFlags::kSyn};
  r.options.sack_permitted = true;
  std::vector<std::byte> out(r.buffer_len());
  CHECK(out.size() == 24);
  r.emit(out, kA, kB, kSoftware);
  CHECK(same_bytes(std::span(out).subspan(20), bytes_from({1, 1, 4, 2})));
  CHECK(TcpRepr::parse(TcpView::check(out).value(), kA, kB, kSoftware).value() == r);
}

TEST_CASE("tcp: SACK blocks that do not fit in 40 option bytes are left out, as Linux does", "[netstack][wire][unit]") {
  TcpOptions o;
  o.sack_count = 4;
  for (std::uint32_t i = 0; i < 4; ++i) o.sack_blocks[i] = TcpSackBlock{i * 100, i * 100 + 50};
  CHECK(o.emitted_sack_count() == 4);  // 4 + 32 = 36 bytes
  CHECK(o.emitted_len() == 36);
  o.timestamps = TcpTimestamps{1, 2};
  CHECK(o.emitted_sack_count() == 3);  // 12 + 4 + 24 = 40
  CHECK(o.emitted_len() == 40);
  o.mss = 1460;
  o.window_scale = 7;
  CHECK(o.emitted_sack_count() == 2);  // 4 + 12 + 4 + 4 + 16 = 40
  TcpRepr r;
  r.flags = TcpFlags{TcpFlags::kAck};
  r.options = o;
  std::vector<std::byte> out(r.buffer_len());
  CHECK(out.size() == 60);
  r.emit(out, kA, kB, kSoftware);
  const auto back = TcpRepr::parse(TcpView::check(out).value(), kA, kB, kSoftware);
  REQUIRE(back.has_value());
  CHECK(back.value().options.sack_count == 2);
  CHECK(back.value().options.sack_blocks[1] == o.sack_blocks[1]);
}

TEST_CASE("tcp: emit copies a payload that sits elsewhere and leaves one already in place", "[netstack][wire][unit]") {
  const auto data = bytes_from({'d', 'a', 't', 'a'});
  TcpRepr r;
  r.flags = TcpFlags{TcpFlags::kPsh | TcpFlags::kAck};
  r.payload = data;
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out, kA, kB, kSoftware);
  CHECK(same_bytes(std::span(out).subspan(20), data));
  r.payload = std::span<const std::byte>(out).subspan(20);
  r.emit(out, kA, kB, kSoftware);
  CHECK(same_bytes(std::span(out).subspan(20), data));
  CHECK(TcpView::check(out).value().verify_checksum(kA, kB));
}

TEST_CASE("tcp: a segment shorter than 20 bytes is kTruncated", "[netstack][wire][unit]") {
  const auto seg = syn_segment();
  CHECK(error_of(TcpView::check(std::span(seg).first(19))) == WireError::kTruncated);
}

TEST_CASE("tcp: a data offset below 5 is kBadLength", "[netstack][wire][unit]") {
  auto seg = syn_segment();
  seg[12] = b(0x40);
  CHECK(error_of(TcpView::check(seg)) == WireError::kBadLength);
}

TEST_CASE("tcp: a data offset past the end of the segment is kBadLength", "[netstack][wire][unit]") {
  auto seg = syn_segment();
  seg[12] = b(0xb0);  // 44 bytes of header in a 40-byte segment
  CHECK(error_of(TcpView::check(seg)) == WireError::kBadLength);
  CHECK(error_of(TcpView::check(std::span(seg).first(39))) == WireError::kBadLength);
}

TEST_CASE("tcp: a wrong checksum is kBadChecksum unless the NIC verified it", "[netstack][wire][unit]") {
  auto seg = syn_segment();
  put16(seg, 14, 1000);  // window changed, checksum not updated
  const auto v = TcpView::check(seg).value();
  CHECK(error_of(TcpRepr::parse(v, kA, kB, kSoftware)) == WireError::kBadChecksum);
  CHECK(error_of(TcpRepr::parse(v, kA, kB, ChecksumCaps::offloaded())) == kParsed);
}

TEST_CASE("tcp: an MSS option with length 3 is rejected as kBadOption", "[netstack][wire][unit]") {
  CHECK(option_error({2, 3, 5, 1}) == WireError::kBadOption);
  CHECK(option_error({2, 4, 5, 0xb4}) == kParsed);
}

TEST_CASE("tcp: a window scale option whose length is not 3 is kBadOption", "[netstack][wire][unit]") {
  CHECK(option_error({3, 4, 7, 0}) == WireError::kBadOption);
  CHECK(option_error({3, 2}) == WireError::kBadOption);
}

TEST_CASE("tcp: a SACK-permitted option whose length is not 2 is kBadOption", "[netstack][wire][unit]") {
  CHECK(option_error({4, 3, 0}) == WireError::kBadOption);
}

TEST_CASE("tcp: a timestamps option whose length is not 10 is kBadOption", "[netstack][wire][unit]") {
  CHECK(option_error({8, 6, 0, 0, 0, 1}) == WireError::kBadOption);
}

TEST_CASE("tcp: a SACK option must hold 1..4 whole 8-byte blocks, else kBadOption", "[netstack][wire][unit]") {
  CHECK(option_error({5, 2}) == WireError::kBadOption);
  CHECK(option_error({5, 14, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}) == WireError::kBadOption);
  CHECK(option_error({5, 10, 0, 0, 0, 1, 0, 0, 0, 2}) == kParsed);
}

TEST_CASE("tcp: an option length below 2 is kBadOption", "[netstack][wire][unit]") {
  CHECK(option_error({30, 1}) == WireError::kBadOption);
  CHECK(option_error({30, 0}) == WireError::kBadOption);
}

TEST_CASE("tcp: an option running past the header, or a kind without its length byte, is kBadOption",
          "[netstack][wire][unit]") {
  CHECK(option_error({1, 1, 30, 6}) == WireError::kBadOption);  // 6 bytes claimed, 2 left
  CHECK(option_error({1, 1, 1, 2}) == WireError::kBadOption);   // MSS kind in the last byte
}

TEST_CASE("tcp: unknown options are skipped by their length and EOL ends the list", "[netstack][wire][unit]") {
  const auto r = parse_options_ok({30, 6, 0xaa, 0xbb, 0xcc, 0xdd, 2, 4, 0x23, 0x28, 0, 2, 3});
  CHECK(r.options.mss == std::optional<std::uint16_t>(9000));
  // After EOL the bytes "2 3" would be a bad MSS, but they are not options any more.
}

TEST_CASE("tcp: a repeated option keeps the last value, as tcp_parse_options does", "[netstack][wire][unit]") {
  const auto r = parse_options_ok({2, 4, 0x05, 0xb4, 2, 4, 0x05, 0xdc});
  CHECK(r.options.mss == std::optional<std::uint16_t>(1500));
}

TEST_CASE("tcp: a window scale above 14 is kept raw for the stack to clamp", "[netstack][wire][unit]") {
  const auto r = parse_options_ok({1, 3, 3, 20});
  CHECK(r.options.window_scale == std::optional<std::uint8_t>(20));
}

TEST_CASE("tcp: emit_header with the payload's sum gives the same bytes as emitting header and payload together",
          "[netstack][wire][unit]") {
  for (const IpAddress& src : {IpAddress(Ipv4Address{{10, 0, 0, 1}}), *IpAddress::parse("2001:db8::1")}) {
    const IpAddress dst = src.is_v4() ? IpAddress(Ipv4Address{{10, 0, 0, 2}}) : *IpAddress::parse("2001:db8::2");
    for (std::size_t len : {0u, 1u, 2u, 1447u, 1448u}) {
      std::vector<std::byte> payload(len);
      for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<std::byte>(i * 37 + 11);
      TcpRepr r;
      r.src_port = 40000;
      r.dst_port = 5001;
      r.seq_number = 0xfffffff0u;
      r.ack_number = 77;
      r.flags = TcpFlags{TcpFlags::kAck | TcpFlags::kPsh};
      r.window = 512;
      r.options.timestamps = TcpTimestamps{1, 2};
      r.options.sack_count = 1;
      r.options.sack_blocks[0] = {100, 200};
      r.payload = payload;
      std::vector<std::byte> whole(r.buffer_len());
      r.emit(whole, src, dst, kSoftware);
      ChecksumAccumulator acc;
      acc.add(payload);
      std::vector<std::byte> header(r.header_len());
      r.emit_header(header, src, dst, len, acc.sum(), kSoftware);
      CHECK(std::equal(header.begin(), header.end(), whole.begin()));
      std::vector<std::byte> no_fill(r.header_len());
      r.emit_header(no_fill, src, dst, len, acc.sum(), ChecksumCaps::offloaded());
      CHECK(no_fill[16] == std::byte{0});
      CHECK(no_fill[17] == std::byte{0});
    }
  }
}
