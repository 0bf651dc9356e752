// The Toeplitz hash against a second implementation: DPDK's header-only rte_softrss()
// (<rte_thash.h>, libdpdk-dev), on the verification suite and on seeded random tuples and keys.
// Compiled only when CMake found libdpdk (NICEMU_HAVE_RTE_THASH).
#include <catch2/catch.hpp>

#ifdef NICEMU_HAVE_RTE_THASH

#include <rte_thash.h>

#include <cstdint>
#include <cstring>

#include "nicemu/nic/hw/rss.hpp"
#include "nicemu/sim/random.hpp"
#include "steering_helpers.hpp"
#include "verification_suite.hpp"

using namespace nicemu;
using nic::hw::hash_input;
using nic::hw::RssKey;
using nic::hw::ToeplitzHasher;
using testing::ip;
namespace w = netstack::wire;

namespace {

struct DpdkHashes {
  std::uint32_t l3;
  std::uint32_t l4;
};

// rte_softrss() takes the tuple as 32-bit words in CPU order (rte_thash.h: "addresses and
// ports have to be CPU byte order").
DpdkHashes softrss(const w::IpAddress& src, const w::IpAddress& dst, std::uint16_t sport, std::uint16_t dport,
                   const RssKey& key) {
  union rte_thash_tuple tuple;
  std::memset(&tuple, 0, sizeof tuple);
  if (src.is_v4()) {
    tuple.v4.src_addr = src.v4().to_u32();
    tuple.v4.dst_addr = dst.v4().to_u32();
    tuple.v4.sport = sport;
    tuple.v4.dport = dport;
    return {rte_softrss(reinterpret_cast<std::uint32_t*>(&tuple), RTE_THASH_V4_L3_LEN, key.data()),
            rte_softrss(reinterpret_cast<std::uint32_t*>(&tuple), RTE_THASH_V4_L4_LEN, key.data())};
  }
  struct rte_ipv6_hdr hdr;
  std::memset(&hdr, 0, sizeof hdr);
  std::memcpy(&hdr.src_addr, src.bytes().data(), 16);
  std::memcpy(&hdr.dst_addr, dst.bytes().data(), 16);
  rte_thash_load_v6_addrs(&hdr, &tuple);
  tuple.v6.sport = sport;
  tuple.v6.dport = dport;
  return {rte_softrss(reinterpret_cast<std::uint32_t*>(&tuple), RTE_THASH_V6_L3_LEN, key.data()),
          rte_softrss(reinterpret_cast<std::uint32_t*>(&tuple), RTE_THASH_V6_L4_LEN, key.data())};
}

w::IpAddress random_address(sim::Rng& rng, bool v6) {
  if (!v6) return w::Ipv4Address::from_u32(static_cast<std::uint32_t>(rng.next_u64()));
  w::Ipv6Address a;
  for (auto& b : a.octets) b = static_cast<std::uint8_t>(rng.next_u64());
  return a;
}

}  // namespace

TEST_CASE("toeplitz: DPDK rte_softrss reproduces the verification suite as used here",
          "[nic][steering][rss][dpdk][unit]") {
  for (const auto& row : testing::kRssSuiteV4) {
    const DpdkHashes d = softrss(ip(row.src), ip(row.dst), row.src_port, row.dst_port, nic::hw::kMicrosoftRssKey);
    CHECK(d.l3 == row.hash_addresses);
    CHECK(d.l4 == row.hash_with_ports);
  }
  for (const auto& row : testing::kRssSuiteV6) {
    const DpdkHashes d = softrss(ip(row.src), ip(row.dst), row.src_port, row.dst_port, nic::hw::kMicrosoftRssKey);
    CHECK(d.l3 == row.hash_addresses);
    CHECK(d.l4 == row.hash_with_ports);
  }
}

TEST_CASE("toeplitz: agrees with DPDK rte_softrss on 400 seeded random tuples and keys, IPv4 and IPv6",
          "[nic][steering][rss][dpdk][unit]") {
  sim::Rng rng(20240611);
  int compared = 0;
  for (int k = 0; k < 8; ++k) {
    RssKey key = nic::hw::kMicrosoftRssKey;
    if (k > 0) {
      for (auto& b : key) b = static_cast<std::uint8_t>(rng.next_u64());
    }
    const ToeplitzHasher hasher(key);
    for (int n = 0; n < 50; ++n) {
      const bool v6 = (n % 2) == 1;
      const w::IpAddress src = random_address(rng, v6);
      const w::IpAddress dst = random_address(rng, v6);
      const auto sport = static_cast<std::uint16_t>(rng.next_u64());
      const auto dport = static_cast<std::uint16_t>(rng.next_u64());
      const DpdkHashes d = softrss(src, dst, sport, dport, key);
      INFO("key " << k << " " << src.to_string() << ":" << sport << " -> " << dst.to_string() << ":" << dport);
      REQUIRE(hasher.hash(hash_input(src, dst).span()) == d.l3);
      REQUIRE(hasher.hash(hash_input(src, dst, sport, dport).span()) == d.l4);
      ++compared;
    }
  }
  CHECK(compared == 400);
}

#endif  // NICEMU_HAVE_RTE_THASH
