// The Toeplitz hash: every row of the RSS verification suite through both implementations (the
// bit-by-bit definition and the table-driven hasher the datapath uses), their agreement on random
// keys and inputs, the hash input layout, and keys drawn from a seed.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "nicemu/nic/hw/rss.hpp"
#include "nicemu/sim/random.hpp"
#include "steering_helpers.hpp"
#include "verification_suite.hpp"

using namespace nicemu;
using nic::hw::hash_input;
using nic::hw::kMicrosoftRssKey;
using nic::hw::toeplitz_hash;
using nic::hw::ToeplitzHasher;
using testing::ip;

namespace {

void check_row(const testing::RssVerificationRow& row) {
  INFO(row.src << ":" << row.src_port << " -> " << row.dst << ":" << row.dst_port);
  const auto l3 = hash_input(ip(row.src), ip(row.dst));
  const auto l4 = hash_input(ip(row.src), ip(row.dst), row.src_port, row.dst_port);
  const ToeplitzHasher hasher(kMicrosoftRssKey);
  CHECK(toeplitz_hash(kMicrosoftRssKey, l3.span()) == row.hash_addresses);
  CHECK(toeplitz_hash(kMicrosoftRssKey, l4.span()) == row.hash_with_ports);
  CHECK(hasher.hash(l3.span()) == row.hash_addresses);
  CHECK(hasher.hash(l4.span()) == row.hash_with_ports);
}

}  // namespace

TEST_CASE("toeplitz: every IPv4 row of the verification suite, addresses only and with ports",
          "[nic][steering][rss][unit]") {
  const std::size_t i = GENERATE(range<std::size_t>(0, testing::kRssSuiteV4.size()));
  check_row(testing::kRssSuiteV4[i]);
}

TEST_CASE("toeplitz: every IPv6 row of the verification suite, addresses only and with ports",
          "[nic][steering][rss][unit]") {
  const std::size_t i = GENERATE(range<std::size_t>(0, testing::kRssSuiteV6.size()));
  check_row(testing::kRssSuiteV6[i]);
}

TEST_CASE("toeplitz: the table-driven hasher equals the bit-by-bit definition for random keys and inputs",
          "[nic][steering][rss][unit]") {
  sim::Rng rng(0x70e9117a);
  for (int k = 0; k < 20; ++k) {
    nic::hw::RssKey key{};
    for (auto& b : key) b = static_cast<std::uint8_t>(rng.next_u64());
    const ToeplitzHasher hasher(key);
    for (int n = 0; n < 50; ++n) {
      std::vector<std::uint8_t> input(rng.uniform(nic::hw::kMaxHashInputLen + 1));
      for (auto& b : input) b = static_cast<std::uint8_t>(rng.next_u64());
      INFO("key " << k << " input length " << input.size());
      REQUIRE(hasher.hash(input) == toeplitz_hash(key, input));
    }
  }
}

TEST_CASE("toeplitz: each input bit XORs in the key window that starts at that bit", "[nic][steering][rss][unit]") {
  // A single set bit at position p selects key bits p..p+31; the empty input hashes to 0.
  const ToeplitzHasher hasher(kMicrosoftRssKey);
  CHECK(hasher.hash({}) == 0);
  std::array<std::uint8_t, 1> first_bit{0x80};
  CHECK(hasher.hash(first_bit) == 0x6d5a56dau);  // the key's first 32 bits
  std::array<std::uint8_t, 2> bit_8{0x00, 0x80};
  CHECK(hasher.hash(bit_8) == 0x5a56da25u);  // key bytes 1..4
  std::array<std::uint8_t, 1> bit_7{0x01};
  // Key bits 7..38: 0x6d5a56da25 << 7, top 32 bits.
  CHECK(hasher.hash(bit_7) == static_cast<std::uint32_t>((0x6d5a56da25ull << 7) >> 8));
}

TEST_CASE("toeplitz: the hash input is source address, destination address, source port, destination port",
          "[nic][steering][rss][unit]") {
  const auto in = hash_input(ip("66.9.149.187"), ip("161.142.100.80"), 2794, 1766);
  const std::vector<std::uint8_t> expect{66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6};
  CHECK(std::vector<std::uint8_t>(in.span().begin(), in.span().end()) == expect);
  CHECK(hash_input(ip("66.9.149.187"), ip("161.142.100.80")).len == 8);
  const auto v6 = hash_input(ip("3ffe:2501:200:1fff::7"), ip("3ffe:2501:200:3::1"), 2794, 1766);
  REQUIRE(v6.len == 36);
  CHECK(v6.bytes[0] == 0x3f);
  CHECK(v6.bytes[15] == 0x07);
  CHECK(v6.bytes[16] == 0x3f);
  CHECK(v6.bytes[31] == 0x01);
  CHECK(v6.bytes[32] == 0x0a);
  CHECK(v6.bytes[35] == 0xe6);
}

TEST_CASE("toeplitz: a key drawn from a seed is the same for the same seed and differs for another",
          "[nic][steering][rss][unit]") {
  const auto a = nic::hw::rss_key_from_seed(42);
  CHECK(a == nic::hw::rss_key_from_seed(42));
  CHECK(a != nic::hw::rss_key_from_seed(43));
  CHECK(a != kMicrosoftRssKey);
  // The bytes are sim::Rng(seed)'s outputs, most significant byte first.
  sim::Rng rng(42);
  const std::uint64_t first = rng.next_u64();
  CHECK(a[0] == static_cast<std::uint8_t>(first >> 56));
  CHECK(a[7] == static_cast<std::uint8_t>(first));
}
