// nicemu/netstack/tcp/segment.hpp — a TCP segment as the TCP state machine sees it.
//
// Models: the header fields and options of RFC 9293 §3.1 with RFC 7323 (window scale,
//   timestamps) and RFC 2018 (SACK) options, already parsed (by netstack/wire, in the IP glue)
//   or to be emitted; the payload travels in an skb whose data starts at the payload.
//   Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
// Not modelled: urgent data (URG is accepted and ignored, as most stacks treat it), TCP-AO/MD5,
//   ECN negotiation (ECE/CWR are carried but not acted on).
// References: RFC 9293 §3.1, §3.4; RFC 7323 §2–§3; RFC 2018 §3; include/net/tcp.h (before()/after()).
#pragma once

#include <cstdint>

#include "nicemu/netstack/wire/tcp.hpp"

namespace nicemu::netstack::core {
class SkBuff;
}

namespace nicemu::netstack::tcp {

// Flags (the header's byte 13), as netstack/wire names them.
inline constexpr std::uint8_t kFin = wire::TcpFlags::kFin;
inline constexpr std::uint8_t kSyn = wire::TcpFlags::kSyn;
inline constexpr std::uint8_t kRst = wire::TcpFlags::kRst;
inline constexpr std::uint8_t kPsh = wire::TcpFlags::kPsh;
inline constexpr std::uint8_t kAck = wire::TcpFlags::kAck;
inline constexpr std::uint8_t kUrg = wire::TcpFlags::kUrg;
inline constexpr std::uint8_t kEce = wire::TcpFlags::kEce;
inline constexpr std::uint8_t kCwr = wire::TcpFlags::kCwr;

// kernel: before()/after() in include/net/tcp.h.
constexpr bool seq_lt(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
constexpr bool seq_le(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) <= 0; }
constexpr bool seq_gt(std::uint32_t a, std::uint32_t b) { return seq_lt(b, a); }
constexpr bool seq_ge(std::uint32_t a, std::uint32_t b) { return seq_le(b, a); }
constexpr std::uint32_t seq_max(std::uint32_t a, std::uint32_t b) { return seq_gt(a, b) ? a : b; }
constexpr std::uint32_t seq_min(std::uint32_t a, std::uint32_t b) { return seq_lt(a, b) ? a : b; }
// a <= x < b in sequence space
constexpr bool seq_in(std::uint32_t x, std::uint32_t a, std::uint32_t b) { return seq_le(a, x) && seq_lt(x, b); }

// The options are wire's own representation: the IP glue hands a parsed TcpRepr's options
// straight to TCP, and TCP's options go straight to TcpRepr::emit.
using SackBlock = wire::TcpSackBlock;
using TcpTimestamps = wire::TcpTimestamps;
using TcpOptions = wire::TcpOptions;
inline constexpr int kMaxSackBlocks = static_cast<int>(wire::tcp_option::kMaxSackBlocks);

struct TcpSegment {
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // as on the wire (not scaled)
  TcpOptions opt;
  std::uint32_t payload_len = 0;
  // Payload owner: skb data (linear from data(), then frags) starts at the payload. Incoming:
  // TCP takes the skb over. Outgoing: the output hook takes it over. nullptr when no payload.
  core::SkBuff* skb = nullptr;
  // Outgoing only: non-zero when the payload is several segments of this size, for the device
  // to cut (TSO) with copies of this header (kernel: skb_shinfo(skb)->gso_size).
  std::uint32_t gso_size = 0;

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  // SEG.LEN (RFC 9293): payload plus one for SYN and one for FIN.
  std::uint32_t seg_len() const {
    return payload_len + ((flags & kSyn) ? 1u : 0u) + ((flags & kFin) ? 1u : 0u);
  }
};

}  // namespace nicemu::netstack::tcp
