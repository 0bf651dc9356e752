// nicemu/nic/hw/rss.hpp — receive-side scaling: the Toeplitz hash over a 40-byte key, the hash
// input of a packet, and one RSS context (key, hash fields per flow type, indirection table).
//
// Models: the Toeplitz hash of the Microsoft RSS specification, bit for bit (checked against
//   every row of the published verification suite and against DPDK's rte_softrss()); the hash
//   input "source address, destination address[, source port, destination port]" in network
//   order; per flow type the fields of ethtool's rx-flow-hash (tcp4/udp4/tcp6/udp6: none, sd or
//   sdfn; ip4/ip6: none or sd), defaults tcp sdfn, udp sd, ip sd; an indirection table whose
//   entry [hash % size] is the queue; ethtool -X's `equal N`, `start S`, `weight w0 w1 ...`
//   table builders (userspace ethtool's fill_indir_table rules and messages).
// Not modelled: hash functions other than Toeplitz (xor, crc32: ETH_RSS_HASH_*), symmetric
//   input transforms (RXH_XFRM_SYM_XOR / SYM_OR_XOR), fields other than s/d/f/n (L2DA, VLAN,
//   L3 proto, GTP TEID, IPv6 flow label, discard: refused with -EINVAL), IPv6 extension-header
//   addresses (NDIS_HASH_IPV6_EX: home address / routing header are not substituted).
// Key: the default is the Microsoft verification key (kMicrosoftRssKey) so that the hashes the
//   NIC reports are the published ones; Linux fills a random key once per boot
//   (netdev_rss_key_fill), which rss_key_from_seed() models deterministically from a seed.
// References: Microsoft, "RSS hashing functions" and "Verifying the RSS hash calculation"
//   (learn.microsoft.com/windows-hardware/drivers/network); Intel 82599 datasheet §7.1.2.8;
//   DPDK lib/hash/rte_thash.h and app/test/test_thash.c; net/ethtool/ioctl.c
//   (ethtool_rxfh_indir_default, netdev_rss_key_fill); ethtool.c (fill_indir_table);
//   drivers/net/ethernet/broadcom/bnxt/bnxt_ethtool.c (bnxt_set_rxfh_fields: 0, sd or sdfn).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nicemu/base/result.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/nic/hw/steering_types.hpp"

namespace nicemu::nic::hw {

inline constexpr std::size_t kRssKeyLen = 40;  // the Toeplitz key of the NICs modelled (320 bits)
using RssKey = std::array<std::uint8_t, kRssKeyLen>;

// The key of the Microsoft verification suite (also the 82599 datasheet's and DPDK's test key).
inline constexpr RssKey kMicrosoftRssKey = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                                            0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                                            0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                                            0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// A key drawn from sim::Rng(seed): five 64-bit outputs, most significant byte first. Same seed,
// same key — the deterministic stand-in for Linux's per-boot random netdev_rss_key.
RssKey rss_key_from_seed(std::uint64_t seed);

// The longest hash input: two IPv6 addresses and two ports.
inline constexpr std::size_t kMaxHashInputLen = 36;

// kernel: enum pkt_hash_types (PKT_HASH_TYPE_NONE / L3 / L4): what the reported hash covered.
enum class RssHashType : std::uint8_t { kNone, kL3, kL4 };
const char* to_string(RssHashType t);

// The bytes the Toeplitz hash runs over, in network order.
struct HashInput {
  std::array<std::uint8_t, kMaxHashInputLen> bytes{};
  std::uint8_t len = 0;
  std::span<const std::uint8_t> span() const { return {bytes.data(), len}; }
};
// Addresses only (8 bytes for IPv4, 32 for IPv6). Asserts both addresses are of one family.
HashInput hash_input(const netstack::wire::IpAddress& src, const netstack::wire::IpAddress& dst);
// Addresses then ports (12 or 36 bytes); ports in host order, written big-endian.
HashInput hash_input(const netstack::wire::IpAddress& src, const netstack::wire::IpAddress& dst, std::uint16_t src_port,
                     std::uint16_t dst_port);

// The Microsoft pseudocode, one input bit at a time: for each set bit (most significant first)
// XOR in the 32 key bits that start at that bit. Needs key.size() >= input.size() + 4
// (asserted). For configuration, the CLI and tests; the datapath uses ToeplitzHasher.
std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input);

// A key with its lookup table: for every 4-bit group of the input (72 for 36 bytes) and every
// value of it, the XOR of the key windows its set bits select. A hash is one lookup and one XOR
// per input nibble; the table (4.5 KiB) is rebuilt only when the key changes.
class ToeplitzHasher {
 public:
  explicit ToeplitzHasher(const RssKey& key);
  const RssKey& key() const { return key_; }
  // input.size() <= kMaxHashInputLen (asserted).
  std::uint32_t hash(std::span<const std::uint8_t> input) const;

 private:
  RssKey key_;
  std::array<std::array<std::uint32_t, 16>, 2 * kMaxHashInputLen> nibble_{};
};

// The flow types whose hash fields a context keeps, in the order of RssContext's field table.
enum class HashFlow : std::uint8_t { kTcp4, kUdp4, kIp4, kTcp6, kUdp6, kIp6 };
inline constexpr std::size_t kHashFlowCount = 6;
// tcp4/udp4/ip4 (IPV4_FLOW)/tcp6/udp6/ip6 (IPV6_FLOW) → its HashFlow; false for flow types the
// hardware does not hash separately.
bool hash_flow_of(FlowType t, HashFlow* out);
// The defaults of a NIC fresh from reset: TCP over addresses and ports, UDP and other IP over
// addresses only. UDP leaves the ports out, as on most NICs, because fragments hash over the
// addresses only: a UDP flow whose datagrams are sometimes fragmented would otherwise be split
// across queues.
std::uint32_t default_rx_flow_hash(HashFlow f);

// ---- ethtool -X table builders (userspace ethtool's rules, errors as -EINVAL with its words) ----
// `equal N [start S]`: entry i = S + i % N. N == 0 → -EINVAL.
base::Result<std::vector<std::uint32_t>, base::Error> ethtool_indir_equal(std::uint32_t table_size, std::uint32_t n,
                                                                          std::uint32_t start = 0);
// `weight w0 w1 ... [start S]`: queue S + j gets a share of the entries proportional to w_j,
// queues in order (entry i goes to the first j whose cumulative weight exceeds i * sum / size).
// All weights 0 → -EINVAL "At least one weight must be non-zero"; a sum above the table size →
// -EINVAL "Total weight exceeds the size of the indirection table".
base::Result<std::vector<std::uint32_t>, base::Error> ethtool_indir_weight(std::uint32_t table_size,
                                                                           std::span<const std::uint32_t> weights,
                                                                           std::uint32_t start = 0);
// kernel: ethtool_rxfh_indir_default(): entry i = i % n_rx_queues.
std::vector<std::uint32_t> ethtool_indir_default(std::uint32_t table_size, std::uint32_t n_rx_queues);

// One RSS context: the default one (id 0) or one made with `ethtool -X dev context new`. A plain
// holder of validated state; the Steering facade checks requests against queues and rules.
class RssContext {
 public:
  RssContext(const RssKey& key, std::vector<std::uint32_t> indir, bool indir_configured);

  const RssKey& key() const { return hasher_.key(); }
  void set_key(const RssKey& key) { hasher_ = ToeplitzHasher(key); }

  const std::vector<std::uint32_t>& indir() const { return indir_; }
  // Same size as before (asserted). `configured`: the user chose it (kernel:
  // IFF_RXFH_CONFIGURED / ctx->indir_configured), so a channel change must not respread it.
  void set_indir(std::vector<std::uint32_t> indir, bool configured);
  bool indir_configured() const { return indir_configured_; }
  std::uint32_t max_queue_in_table() const;

  std::uint32_t rx_flow_hash(HashFlow f) const { return fields_[static_cast<std::size_t>(f)]; }
  void set_rx_flow_hash(HashFlow f, std::uint32_t fields) { fields_[static_cast<std::size_t>(f)] = fields; }

  // ---- datapath ----
  std::uint32_t hash(std::span<const std::uint8_t> input) const { return hasher_.hash(input); }
  std::uint32_t indir_index(std::uint32_t hash) const { return hash % static_cast<std::uint32_t>(indir_.size()); }
  std::uint32_t queue_at(std::uint32_t index) const { return indir_[index]; }

  // Packets whose queue this context's table chose.
  std::uint64_t packets() const { return packets_; }
  void count_packet() { ++packets_; }

 private:
  ToeplitzHasher hasher_;
  std::vector<std::uint32_t> indir_;
  bool indir_configured_ = false;
  std::array<std::uint32_t, kHashFlowCount> fields_{};
  std::uint64_t packets_ = 0;
};

}  // namespace nicemu::nic::hw
