// The Internet checksum: RFC 1071 known answers, odd lengths, multi-span sums, pseudo-headers,
// fill-then-verify, and the golden packets' checksums.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {

// The textbook algorithm, 16 bits at a time with a 32-bit accumulator: the reference the fast
// 64-bit implementation is checked against.
std::uint16_t reference_sum(std::span<const std::byte> data) {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) {
    sum += (std::to_integer<std::uint32_t>(data[i]) << 8) | std::to_integer<std::uint32_t>(data[i + 1]);
    sum = (sum & 0xffff) + (sum >> 16);
  }
  if (i < data.size()) {
    sum += std::to_integer<std::uint32_t>(data[i]) << 8;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(sum);
}

std::vector<std::byte> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<std::byte> v(n);
  for (auto& x : v) x = static_cast<std::byte>(rng() & 0xff);
  return v;
}

}  // namespace

TEST_CASE("checksum: the RFC 1071 §3 example sums to 0xddf2 and its checksum is 0x220d", "[netstack][wire][unit]") {
  const auto data = bytes_from({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
  CHECK(ones_complement_sum(data) == 0xddf2);
  CHECK(internet_checksum(data) == 0x220d);
}

TEST_CASE("checksum: a textbook IPv4 header (checksum b861) fills and verifies", "[netstack][wire][unit]") {
  auto hdr = bytes_from({0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                         0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7});
  CHECK(internet_checksum(hdr) == 0xb861);
  put16(hdr, 10, 0xb861);
  CHECK(ones_complement_sum(hdr) == 0xffff);
  CHECK(internet_checksum(hdr) == 0);
}

TEST_CASE("checksum: empty and all-zero input sum to 0, all-ones input to 0xffff", "[netstack][wire][unit]") {
  CHECK(ones_complement_sum({}) == 0);
  CHECK(internet_checksum({}) == 0xffff);
  const std::vector<std::byte> zeros(1001, std::byte{0});
  CHECK(ones_complement_sum(zeros) == 0);
  // 64 KiB of 0xff: every 64-bit add carries; the folded sum stays 0xffff.
  const std::vector<std::byte> ones(65536, std::byte{0xff});
  CHECK(ones_complement_sum(ones) == 0xffff);
}

TEST_CASE("checksum: a trailing odd byte is summed as the high byte of a zero-padded word", "[netstack][wire][unit]") {
  CHECK(ones_complement_sum(bytes_from({0xab})) == 0xab00);
  CHECK(ones_complement_sum(bytes_from({0x12, 0x34, 0x56})) == 0x1234 + 0x5600);
}

TEST_CASE("checksum: the 64-bit sum equals the 16-bit reference for every length 0..300", "[netstack][wire][unit]") {
  std::mt19937 rng(1071);
  for (std::size_t n = 0; n <= 300; ++n) {
    const auto data = random_bytes(rng, n);
    INFO("length " << n);
    REQUIRE(ones_complement_sum(data) == reference_sum(data));
  }
}

TEST_CASE("checksum: a sum over random splits into spans equals the sum over one span", "[netstack][wire][unit]") {
  std::mt19937 rng(42);
  for (int round = 0; round < 500; ++round) {
    const auto data = random_bytes(rng, 1 + rng() % 200);
    const std::span<const std::byte> all(data);
    ChecksumAccumulator acc;
    std::size_t at = 0;
    while (at < data.size()) {
      const std::size_t len = std::min<std::size_t>(data.size() - at, rng() % 9);  // 0..8, odd lengths too
      acc.add(all.subspan(at, len));
      at += len;
    }
    INFO("round " << round << " length " << data.size());
    REQUIRE(acc.sum() == reference_sum(data));
  }
}

TEST_CASE("checksum: summing while copying gives the same sum and an exact copy, over random splits",
          "[netstack][wire][unit]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    const auto data = random_bytes(rng, 1 + rng() % 9000);
    const std::span<const std::byte> all(data);
    std::vector<std::byte> copy(data.size() + 1, std::byte{0x5a});  // one guard byte past the end
    REQUIRE(ones_complement_sum_copy(copy.data(), all) == reference_sum(data));
    std::fill(copy.begin(), copy.end(), std::byte{0x5a});
    ChecksumAccumulator acc;
    std::size_t at = 0;
    while (at < data.size()) {
      const std::size_t len = std::min<std::size_t>(data.size() - at, rng() % 3001);  // odd lengths too
      acc.add_copy(copy.data() + at, all.subspan(at, len));
      at += len;
    }
    INFO("round " << round << " length " << data.size());
    REQUIRE(acc.sum() == reference_sum(data));
    REQUIRE(std::equal(data.begin(), data.end(), copy.begin()));
    REQUIRE(copy.back() == std::byte{0x5a});
  }
}

TEST_CASE("checksum: spans past the 256 KiB lane-flush boundary sum as the reference, copying or not",
          "[netstack][wire][unit]") {
  // The word loop sums 16-bit halves into 32-bit lanes and flushes them every 65536 words: all
  // 0xff bytes bring each lane to its limit, random bytes check the flush itself.
  std::mt19937 rng(65536);
  std::vector<std::vector<std::byte>> inputs;
  inputs.emplace_back(std::size_t{1} << 20, std::byte{0xff});
  inputs.emplace_back((std::size_t{1} << 20) + 3, std::byte{0xff});
  inputs.push_back(random_bytes(rng, 262144 + 5));
  inputs.push_back(random_bytes(rng, 3 * 262144 + 17));
  for (const auto& data : inputs) {
    INFO("length " << data.size());
    CHECK(ones_complement_sum(data) == reference_sum(data));
    std::vector<std::byte> copy(data.size());
    CHECK(ones_complement_sum_copy(copy.data(), data) == reference_sum(data));
    CHECK(copy == data);
  }
}

TEST_CASE("checksum: add_u16 and add_u32 after an odd number of bytes equal adding their bytes",
          "[netstack][wire][unit]") {
  const auto data = bytes_from({0x01, 0x02, 0x03, 0xde, 0xad, 0xbe, 0xef, 0x12, 0x34});
  ChecksumAccumulator by_fields;
  by_fields.add(std::span(data).first(3));
  by_fields.add_u32(0xdeadbeef);
  by_fields.add_u16(0x1234);
  CHECK(by_fields.sum() == reference_sum(data));
}

TEST_CASE("checksum: the IPv4 pseudo-header is src, dst, zero, protocol, length", "[netstack][wire][unit]") {
  ChecksumAccumulator acc;
  add_ipv4_pseudo_header(acc, Ipv4Address{{10, 0, 0, 1}}, Ipv4Address{{10, 0, 0, 2}}, 6, 40);
  const auto expected = bytes_from({10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 40});
  CHECK(acc.sum() == reference_sum(expected));
}

TEST_CASE("checksum: the IPv6 pseudo-header is src, dst, 32-bit length, zeros, next header", "[netstack][wire][unit]") {
  const auto src = Ipv6Address::parse("2001:db8::1").value();
  const auto dst = Ipv6Address::parse("fe80::2").value();
  ChecksumAccumulator acc;
  add_ipv6_pseudo_header(acc, src, dst, 58, 0x12345);
  std::vector<std::byte> expected;
  for (auto o : src.octets) expected.push_back(std::byte{o});
  for (auto o : dst.octets) expected.push_back(std::byte{o});
  for (unsigned x : {0x00u, 0x01u, 0x23u, 0x45u, 0u, 0u, 0u, 58u}) expected.push_back(b(x));
  CHECK(acc.sum() == reference_sum(expected));
}

TEST_CASE("checksum: an L4 checksum filled into a message then verifies, and one flipped bit fails",
          "[netstack][wire][unit]") {
  std::mt19937 rng(7);
  const IpAddress src = Ipv4Address{{192, 0, 2, 1}};
  const IpAddress dst = Ipv4Address{{198, 51, 100, 7}};
  for (std::size_t n : {8u, 9u, 63u, 64u, 1499u}) {
    auto msg = random_bytes(rng, n);
    put16(msg, 6, 0);
    put16(msg, 6, l4_checksum(src, dst, 17, msg));
    INFO("length " << n);
    CHECK(l4_checksum(src, dst, 17, msg) == 0);
    msg[n / 2] ^= std::byte{0x10};
    CHECK(l4_checksum(src, dst, 17, msg) != 0);
  }
}

TEST_CASE("checksum: the golden packets' IPv4 header and L4 checksums verify", "[netstack][wire][unit]") {
  // IPv4 header of the SYN: bytes 14..34.
  CHECK(ones_complement_sum(bytes_of(kTcpSynV4).subspan(14, 20)) == 0xffff);
  const IpAddress a = Ipv4Address{{10, 0, 0, 1}};
  const IpAddress c = Ipv4Address{{10, 0, 0, 2}};
  CHECK(l4_checksum(a, c, 6, bytes_of(kTcpSynV4).subspan(34)) == 0);
  CHECK(l4_checksum(c, a, 6, bytes_of(kTcpAckSackV4).subspan(34)) == 0);
  const IpAddress v6a = Ipv6Address::parse("2001:db8::1").value();
  const IpAddress v6b = Ipv6Address::parse("2001:db8::2").value();
  CHECK(l4_checksum(v6a, v6b, 6, bytes_of(kTcpDataV6).subspan(54)) == 0);
  CHECK(l4_checksum(v6a, v6b, 58, bytes_of(kIcmpv6EchoRequest).subspan(54)) == 0);
  CHECK(internet_checksum(bytes_of(kIcmpv4EchoRequest).subspan(34)) == 0);
}

TEST_CASE("checksum: caps default to software for every protocol and offloaded() turns all off",
          "[netstack][wire][unit]") {
  const ChecksumCaps sw = ChecksumCaps::software();
  CHECK((sw.ipv4.fill_tx && sw.ipv4.verify_rx && sw.tcp.fill_tx && sw.tcp.verify_rx && sw.udp.verify_rx &&
         sw.icmpv4.verify_rx && sw.icmpv6.verify_rx));
  const ChecksumCaps off = ChecksumCaps::offloaded();
  CHECK_FALSE((off.ipv4.fill_tx || off.ipv4.verify_rx || off.tcp.fill_tx || off.tcp.verify_rx || off.udp.fill_tx ||
               off.udp.verify_rx || off.icmpv4.verify_rx || off.icmpv6.fill_tx));
}
