// nicemu/netstack/core/gro.hpp — generic receive offload for TCP over IPv4 and IPv6.
//
// Models: net/core/gro.c (dev_gro_receive, gro_flush_oldest, napi_gro_complete, napi_gro_flush,
//   skb_gro_receive), net/ipv4/af_inet.c + net/ipv6/ip6_offload.c (inet_gro_receive,
//   ipv6_gro_receive, inet_gro_flush / ipv6_gro_flush, inet_gro_complete), and
//   net/ipv4/tcp_offload.c + tcp4_offload/tcp6_offload (tcp_gro_receive, tcp4_gro_complete,
//   tcp_gro_complete), Linux 6.18:
//   - a flow is (device, Ethernet header bytes, IP addresses, IPv6 flow label, TCP ports);
//   - a segment merges into its flow's held skb when, as tcp_gro_receive() checks: it carries
//     no CWR; bytes 12..15 of the TCP header (data offset, flags, window) are equal except CWR,
//     FIN and PSH; the ACK number is equal; every option byte is equal (timestamps included:
//     the kernel compares the whole header after the first 20 bytes); the IP header agrees
//     (IPv4: TTL, TOS, DF, and an ID that increments by one per segment or stays fixed with DF;
//     IPv6: traffic class, hop limit); its payload is not longer than the flow's gso_size
//     (the first segment's payload) and not empty; its sequence number continues the flow;
//     pp_recycle is equal; the merged IP packet stays below GRO_LEGACY_MAX_SIZE (65536); the
//     frags fit in MAX_SKB_FRAGS (17);
//   - after a merge the flow is completed when the segment is shorter than gso_size or carries
//     URG, PSH, RST, SYN or FIN (tcp_gro_receive's out_check_final: the PSH segment is part of
//     the merged skb);
//   - a segment that does not merge completes its flow's held skb first; the segment itself is
//     then held as a new flow, or delivered at once (GRO_NORMAL) when it carries URG, PSH, RST,
//     SYN or FIN, has no payload, or its IP length disagrees with the skb (link padding);
//   - a new flow when kMaxGroSkbs (8) are held completes the oldest one first
//     (gro_flush_oldest);
//   - completion (napi_gro_complete): a flow of one segment is delivered as it arrived
//     (gso_size reset to 0); a merged one gets IPv4 total length + header checksum or IPv6
//     payload length, PSH/FIN OR-ed from the merged segments, the TCP checksum field set to the
//     pseudo-header sum as tcp4/6_gro_complete() write it, gso_segs, SKB_GSO_TCPV4/TCPV6 (+
//     TCP_FIXEDID, TCP_ECN), then the delivery callback;
//   - gro_flush_all() completes every held flow, oldest first (napi_gro_flush at the end of a
//     NAPI poll).
// nicemu choices (documented departures):
//   - One list of kMaxGroSkbs flows. The kernel hashes flows into GRO_HASH_BUCKETS (8) lists of
//     MAX_GRO_SKBS (8) each by skb->hash; with one list the 9th flow evicts the oldest, which
//     is the kernel's behaviour when the flows share a bucket (e.g. skb->hash 0: no RX hash).
//   - Checksums: only segments with ip_summed == CHECKSUM_UNNECESSARY are merged or held (the
//     NIC verified them). The kernel would verify a CHECKSUM_NONE/COMPLETE segment in software
//     (skb_gro_checksum_validate), which device memory does not allow; here such a segment
//     completes its flow (keeping order) and is delivered as is. A merged skb is delivered
//     CHECKSUM_UNNECESSARY (the kernel marks it CHECKSUM_PARTIAL for the case it is forwarded
//     and re-segmented; nicemu delivers locally, where both mean "verified").
//   - Readability: a segment merges only into a held skb of the same readability
//     (skb->unreadable equal), so a net_iov frag never lands in an skb marked readable.
//   - No frag_list: where the kernel would chain the segment on frag_list (frags do not fit;
//     payload bytes in the linear area behind a held skb's frags) the flow is completed and
//     the segment starts a new one. Linear payload of a segment is copied into the held skb's
//     tailroom when the held skb is still linear.
//   - The segment's headers must be (or be made, for a readable skb) linear: pskb_may_pull as
//     skb_gro_header_slow() does; an unreadable skb whose headers are not linear passes through.
// Not modelled: other protocols' GRO (UDP, tunnels, VLAN: they pass through unchanged, as do
//   IPv4 with options, IPv6 extension headers and fragments), gro_flush_timeout and ages,
//   hardware GRO / LRO, fraglist GRO, the frag0 fast path (nothing to gain in one process).
// Input: an skb as the driver hands it to napi_gro_receive(): eth_type_trans() done — data()
//   at the network header, protocol = EtherType, mac_header at the Ethernet header (or
//   kNoHeader: no link header to compare).
// Parsing: the one parser, netstack/wire. Its IP views check the packet length against the
//   bytes they are given; GRO holds only the headers (the payload may be in frags, even in
//   device memory), so the headers are copied to the front of a scratch buffer and parsed there
//   through a span as long as the packet (the bytes after the headers are never read).
// Allocation: none per packet (flows live in a fixed array; the scratch buffer is allocated
//   once per GroContext).
// References: net/core/gro.c, net/ipv4/tcp_offload.c, net/ipv4/af_inet.c,
//   net/ipv6/ip6_offload.c, include/net/gro.h, include/linux/skbuff.h (SKB_GSO_*);
//   ../shared/reference/linux-kernel-semantics.md §1.4.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/wire/address.hpp"

namespace nicemu::netstack::core {

inline constexpr int kMaxGroSkbs = 8;                     // MAX_GRO_SKBS
inline constexpr std::uint32_t kGroLegacyMaxSize = 65536;  // GRO_LEGACY_MAX_SIZE

// kernel: SKB_GSO_* (include/linux/skbuff.h).
inline constexpr std::uint32_t kSkbGsoTcpV4 = 1u << 0;
inline constexpr std::uint32_t kSkbGsoTcpEcn = 1u << 2;
inline constexpr std::uint32_t kSkbGsoTcpFixedId = 1u << 3;
inline constexpr std::uint32_t kSkbGsoTcpV6 = 1u << 4;

// kernel: enum gro_result (the values nicemu produces).
enum class GroResult : std::uint8_t {
  kMergedFree,  // GRO_MERGED_FREE: merged into a held skb; the segment's skb was freed
  kHeld,        // GRO_HELD: held as the first segment of a flow
  kNormal,      // GRO_NORMAL: delivered at once, unchanged
};

// Why a held skb was completed and delivered.
struct GroFlushStats {
  std::uint64_t flags = 0;            // the merged segment carried URG/PSH/RST/SYN/FIN
  std::uint64_t short_segment = 0;    // the merged segment was shorter than gso_size
  std::uint64_t header_mismatch = 0;  // CWR, or flag word / ACK number differ
  std::uint64_t options_mismatch = 0; // TCP option bytes differ
  std::uint64_t ip_mismatch = 0;      // TTL/TOS/DF/ID (IPv4), traffic class/hop limit (IPv6)
  std::uint64_t segment_size = 0;     // payload empty or longer than gso_size
  std::uint64_t seq_gap = 0;          // sequence number does not continue the flow
  std::uint64_t ip_length = 0;        // the segment's IP length disagrees with the skb (padding)
  std::uint64_t pp_recycle = 0;       // pp_recycle differs (kernel: -ETOOMANYREFS)
  std::uint64_t readability = 0;      // readable vs unreadable
  std::uint64_t size_limit = 0;       // would reach GRO_LEGACY_MAX_SIZE
  std::uint64_t frag_limit = 0;       // frags would exceed MAX_SKB_FRAGS
  std::uint64_t linear_payload = 0;   // payload in the linear area cannot follow the held frags
  std::uint64_t csum = 0;             // a segment of the flow was not CHECKSUM_UNNECESSARY
  std::uint64_t evicted = 0;          // a new flow found kMaxGroSkbs held (gro_flush_oldest)
  std::uint64_t poll_end = 0;         // gro_flush_all()
};

struct GroStats {
  std::uint64_t received = 0;        // gro_receive() calls
  std::uint64_t merged = 0;          // segments merged into a held skb (GRO_MERGED_FREE)
  std::uint64_t held = 0;            // segments held as a new flow (GRO_HELD)
  std::uint64_t normal = 0;          // TCP segments delivered at once (flags, no payload, csum, length)
  std::uint64_t passed_not_ip = 0;   // not IPv4/IPv6: passed through unchanged
  std::uint64_t passed_not_tcp = 0;  // IP but not TCP (or IPv6 extension headers)
  std::uint64_t passed_malformed = 0;  // headers the wire views reject, IPv4 options,
                                       // fragments, headers not linear in an unreadable skb
  std::uint64_t delivered = 0;       // skbs handed to the delivery callback
  std::uint64_t delivered_merged = 0;  // of those, merged skbs (gso_segs > 1)
  GroFlushStats flush;
};

// GRO state of one NAPI instance (kernel: napi->gro, struct gro_node).
class GroContext {
 public:
  // Receives every skb GRO lets go of: merged ones when their flow completes, others at once.
  using DeliverFn = std::function<void(SkBuff*)>;

  explicit GroContext(DeliverFn deliver);
  GroContext(const GroContext&) = delete;
  GroContext& operator=(const GroContext&) = delete;
  // Frees whatever is still held without delivering it (kernel: gro_cleanup() on
  // netif_napi_del); a NAPI poll ends with gro_flush_all(), so normally nothing is.
  ~GroContext();

  // kernel: napi_gro_receive() -> dev_gro_receive(). Takes ownership of skb.
  GroResult gro_receive(SkBuff* skb);
  // kernel: napi_gro_flush(napi, false): completes every held flow, oldest first.
  void gro_flush_all();

  int held_count() const { return nflows_; }
  const GroStats& stats() const { return stats_; }
  // Refusals of the skb helpers GRO calls (pskb_may_pull on headers).
  const SkbOpsStats& skb_ops_stats() const { return skb_ops_stats_; }

 private:
  // A parsed TCP segment (kernel: what NAPI_GRO_CB and the header pointers hold).
  struct Segment {
    bool v6 = false;
    std::uint32_t hdr_len = 0;      // network + TCP header bytes from data()
    std::uint32_t payload_len = 0;  // skb.len() - hdr_len
    bool ip_flush = false;          // IP length != the skb's bytes from the network header
    wire::IpAddress src;
    wire::IpAddress dst;
    std::uint32_t flow_label = 0;
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint32_t flag_word = 0;  // TCP header bytes 12..15 (kernel: tcp_flag_word())
    std::uint8_t flags = 0;
    std::uint8_t options_len = 0;
    std::array<std::byte, 40> options{};
    std::uint8_t ttl = 0;  // IPv4 TTL / IPv6 hop limit
    std::uint8_t tos = 0;  // IPv4 TOS byte / IPv6 traffic class
    bool df = false;
    std::uint16_t id = 0;
  };

  struct Flow {
    SkBuff* skb = nullptr;
    NetDevice* dev = nullptr;
    bool has_mac = false;
    std::array<std::byte, 14> mac{};
    Segment first;             // the held skb's own headers
    std::uint32_t next_seq = 0;
    std::uint16_t count = 0;   // kernel: NAPI_GRO_CB(p)->count
    bool fixedid = false;      // kernel: NAPI_GRO_CB(p)->ip_fixedid
    std::uint8_t or_flags = 0; // FIN/PSH of merged segments (kernel: OR-ed into th2 at merge)
  };
  enum class ParseResult : std::uint8_t { kOk, kNotIp, kNotTcp, kMalformed };
  // Why a segment did not merge, or why a flow completes (GroFlushStats names them).
  enum class Why : std::uint8_t {
    kNone,
    kFlags,
    kShortSegment,
    kHeader,
    kOptions,
    kIp,
    kSegmentSize,
    kSeqGap,
    kIpLength,
    kPpRecycle,
    kReadability,
    kSizeLimit,
    kFragLimit,
    kLinearPayload,
    kCsum,
    kEvicted,
    kPollEnd,
  };

  ParseResult parse(SkBuff& skb, Segment& seg);
  bool copy_headers(SkBuff& skb, std::uint32_t n);
  int find_flow(const SkBuff& skb, const Segment& seg) const;
  Why can_merge(Flow& p, const SkBuff& skb, const Segment& seg);
  Why skb_gro_receive(Flow& p, SkBuff* skb, const Segment& seg);
  void hold(SkBuff* skb, const Segment& seg);
  void complete(int idx, Why why);
  void finish_headers(Flow& f);
  void deliver(SkBuff* skb);
  void count_flush(Why why);
  static const char* why_name(Why why);  // for packet traces (GroFlushStats' names)

  DeliverFn deliver_;
  std::array<Flow, kMaxGroSkbs> flows_{};  // held flows, oldest first
  int nflows_ = 0;
  std::vector<std::byte> scratch_;  // header image, see "Parsing" above
  GroStats stats_;
  SkbOpsStats skb_ops_stats_;
};

}  // namespace nicemu::netstack::core
