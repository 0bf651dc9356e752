// eth_type_trans(): mark, check and pull the Ethernet header (see etherdevice.hpp).
#include "nicemu/netstack/core/etherdevice.hpp"

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"

namespace nicemu::netstack::core {

std::uint16_t eth_type_trans(SkBuff& skb) {
  if (!pskb_may_pull(skb, wire::EthernetView::kHeaderLen)) return 0;
  auto view = wire::EthernetView::check(skb.linear());
  if (!view) return 0;
  auto eth = wire::EthernetRepr::parse(*view);
  if (!eth) return 0;
  const auto len = static_cast<std::uint32_t>(eth->buffer_len());
  if (!pskb_may_pull(skb, len)) return 0;
  skb.reset_mac_header();
  skb.pull(len);
  return eth->ethertype;
}

std::span<const std::byte> skb_mac_header_bytes(const SkBuff& skb) {
  if (skb.mac_header == kNoHeader || skb.mac_header >= skb.headroom()) return {};
  return {skb.head() + skb.mac_header, skb.headroom() - skb.mac_header};
}

}  // namespace nicemu::netstack::core
