// eth_type_trans(): the driver's last step before GRO marks and pulls the Ethernet header (VLAN
// tags included) and returns the EtherType; a runt or unparsable header leaves the skb as it was.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "nicemu/netstack/core/etherdevice.hpp"
#include "skb_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::netstack::core;
using nicemu::testing::SkbHost;

namespace {

SkBuff* frame_skb(SkbHost& h, const std::vector<std::uint8_t>& bytes) {
  SkBuff* skb = h.skbs.alloc();
  REQUIRE(skb != nullptr);
  std::memcpy(skb->put(static_cast<std::uint32_t>(bytes.size())), bytes.data(), bytes.size());
  return skb;
}

std::vector<std::uint8_t> frame(std::vector<std::uint8_t> tags_and_type, std::size_t payload) {
  std::vector<std::uint8_t> f;
  f.reserve(12 + tags_and_type.size() + payload);
  for (const std::uint8_t b : {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}) f.push_back(b);  // dst, src
  for (const std::uint8_t b : tags_and_type) f.push_back(b);
  for (std::size_t i = 0; i < payload; ++i) f.push_back(static_cast<std::uint8_t>(0x45 + i));
  return f;
}

}  // namespace

TEST_CASE("eth_type_trans: pulls the Ethernet header, marks it, and returns the EtherType", "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = frame_skb(h, frame({0x08, 0x00}, 40));
  const std::uint32_t headroom = skb->headroom();
  CHECK(skb_mac_header_bytes(*skb).empty());  // not called yet
  CHECK(eth_type_trans(*skb) == 0x0800);
  CHECK(skb->len() == 40);
  CHECK(skb->headroom() == headroom + 14);
  CHECK(std::to_integer<int>(skb->data()[0]) == 0x45);  // data at the network header
  const auto mac = skb_mac_header_bytes(*skb);
  REQUIRE(mac.size() == 14);
  CHECK(std::to_integer<int>(mac[0]) == 0x02);
  CHECK(std::to_integer<int>(mac[5]) == 2);
  kfree_skb(skb);
}

TEST_CASE("eth_type_trans: 802.1Q and 802.1ad tags are pulled with the header, the inner type returned",
          "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = frame_skb(h, frame({0x88, 0xa8, 0x00, 0x05, 0x81, 0x00, 0x00, 0x07, 0x86, 0xdd}, 60));
  CHECK(eth_type_trans(*skb) == 0x86dd);
  CHECK(skb->len() == 60);
  CHECK(skb_mac_header_bytes(*skb).size() == 22);
  kfree_skb(skb);
}

TEST_CASE("eth_type_trans: a runt frame returns 0 and leaves the skb unchanged", "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = frame_skb(h, {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0});
  const std::uint32_t headroom = skb->headroom();
  CHECK(eth_type_trans(*skb) == 0);
  CHECK(skb->len() == 9);
  CHECK(skb->headroom() == headroom);
  CHECK(skb_mac_header_bytes(*skb).empty());
  kfree_skb(skb);
}
