// nicemu/netstack/wire/checksum.hpp — the Internet checksum, pseudo-headers, and the capability
// flags that say who computes it.
//
// Models: the 16-bit one's-complement sum of RFC 1071 over any number of byte spans (an odd-length
//   span shifts the byte lanes of the next one, as csum_block_add() does in the kernel), the
//   IPv4 (RFC 793 §3.1 / RFC 768) and IPv6 (RFC 8200 §8.1) pseudo-headers, and checksum offload:
//   ChecksumCaps says per protocol whether software fills the field on transmit and verifies it
//   on receive, so a NIC model that offloads can skip the work and the stack can trust the NIC's
//   verdict (the kernel's NETIF_F_*_CSUM features and CHECKSUM_UNNECESSARY).
// Not modelled: CHECKSUM_COMPLETE / CHECKSUM_PARTIAL bookkeeping (a field that is not filled is
//   written as 0; the NIC model fills it through the views' fill_checksum()), incremental
//   update (RFC 1624).
// References: RFC 1071 §1-§2 and §4.1, RFC 768, RFC 9293 §3.1, RFC 8200 §8.1;
//   include/net/checksum.h, include/linux/skbuff.h ("CHECKSUM_*").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/netstack/wire/address.hpp"

namespace nicemu::netstack::wire {

// Who does the checksum work for one protocol. true = software (this library) does it.
struct ChecksumDirection {
  bool fill_tx = true;    // emit() computes and writes the checksum; false leaves 0 for the NIC
  bool verify_rx = true;  // parse() verifies; false trusts the NIC (CHECKSUM_UNNECESSARY)
};

struct ChecksumCaps {
  ChecksumDirection ipv4;  // the IPv4 header checksum
  ChecksumDirection tcp;   // TCP over IPv4 and IPv6
  ChecksumDirection udp;   // UDP over IPv4 and IPv6
  ChecksumDirection icmpv4;
  ChecksumDirection icmpv6;

  // Software does everything (no offload): the default.
  static constexpr ChecksumCaps software() { return ChecksumCaps{}; }
  // Everything offloaded: nothing is filled, nothing is verified.
  static constexpr ChecksumCaps offloaded() {
    constexpr ChecksumDirection kNone{false, false};
    return ChecksumCaps{kNone, kNone, kNone, kNone, kNone};
  }
};

// A running one's-complement sum over any sequence of spans and fields. Summing spans A then B
// gives the same result as summing their concatenation, whatever their lengths.
class ChecksumAccumulator {
 public:
  void add(std::span<const std::byte> bytes);
  // Copies `bytes` to `to` (at least bytes.size() bytes, not overlapping) and adds them, in one
  // pass: what a DMA engine that checksums on the fly does (csum_partial_copy in the kernel).
  void add_copy(std::byte* to, std::span<const std::byte> bytes);
  // A 16-bit / 32-bit field given in host order, summed as its network-order bytes.
  void add_u16(std::uint16_t value);
  void add_u32(std::uint32_t value) {
    add_u16(static_cast<std::uint16_t>(value >> 16));
    add_u16(static_cast<std::uint16_t>(value & 0xffffu));
  }

  // The folded 16-bit one's-complement sum (0xffff over a message whose checksum verifies).
  std::uint16_t sum() const;
  // The value for the checksum field: the complement of sum().
  std::uint16_t checksum() const { return static_cast<std::uint16_t>(~sum()); }
  // True when the summed bytes, checksum field included, verify (RFC 1071 §1 (3)).
  bool verifies() const { return sum() == 0xffffu; }

 private:
  std::uint64_t acc_ = 0;  // sum of network-order 16-bit values, folded at the end
  bool odd_ = false;       // an odd number of bytes has been added so far
};

// Folded one's-complement sum of one span (network order, as if the span starts at an even
// offset). Processes 8 bytes per step in a 64-bit accumulator with end-around carry.
std::uint16_t ones_complement_sum(std::span<const std::byte> bytes);
// The same sum while copying the span to `to` (not overlapping).
std::uint16_t ones_complement_sum_copy(std::byte* to, std::span<const std::byte> bytes);

// The checksum field value for one span: ~sum.
inline std::uint16_t internet_checksum(std::span<const std::byte> bytes) {
  return static_cast<std::uint16_t>(~ones_complement_sum(bytes));
}

// Pseudo-headers. IPv4: src, dst, zero, protocol, 16-bit L4 length (RFC 9293 §3.1, RFC 768).
// IPv6: src, dst, 32-bit upper-layer length, three zero bytes, next header (RFC 8200 §8.1).
void add_ipv4_pseudo_header(ChecksumAccumulator& acc, const Ipv4Address& src, const Ipv4Address& dst,
                            std::uint8_t protocol, std::uint16_t l4_len);
void add_ipv6_pseudo_header(ChecksumAccumulator& acc, const Ipv6Address& src, const Ipv6Address& dst,
                            std::uint8_t next_header, std::uint32_t l4_len);
// Dispatches on the family; src and dst must be of the same family (asserted).
void add_pseudo_header(ChecksumAccumulator& acc, const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                       std::uint32_t l4_len);

// The checksum of an L4 message (checksum field included as it is) under a pseudo-header.
// Returns the field value to write when the field is zero, and 0 when a filled message verifies.
std::uint16_t l4_checksum(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                          std::span<const std::byte> message);

}  // namespace nicemu::netstack::wire
