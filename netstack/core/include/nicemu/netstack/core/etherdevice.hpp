// nicemu/netstack/core/etherdevice.hpp — what an Ethernet driver does to a received frame before
// it hands the skb to GRO (kernel: eth_type_trans(), include/linux/etherdevice.h,
// net/ethernet/eth.c).
//
// Models: the MAC header is marked (skb->mac_header), pulled from the data (data then starts at
//   the network header), and the EtherType returned for skb->protocol. 802.1Q / 802.1ad tags are
//   pulled with the header (nicemu has no separate VLAN untagging step, so the returned type is
//   the inner one).
// Not modelled: skb->pkt_type (host / broadcast / multicast / other host): the stack filters by
//   destination MAC itself, reading the header at skb->mac_header; DSA tags; 802.3 length frames.
#pragma once

#include <cstdint>
#include <span>

#include "nicemu/netstack/core/skbuff.hpp"

namespace nicemu::netstack::core {

// Returns the EtherType (host order), or 0 when the frame is too short or its Ethernet header
// does not parse; then the skb is unchanged and the caller drops it.
std::uint16_t eth_type_trans(SkBuff& skb);

// The Ethernet header eth_type_trans() pulled (empty if it was not called on this skb).
std::span<const std::byte> skb_mac_header_bytes(const SkBuff& skb);

}  // namespace nicemu::netstack::core
