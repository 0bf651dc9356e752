// Private to netstack/tcp: the per-skb control block (kernel: struct tcp_skb_cb in skb->cb).
#pragma once

#include <cstdint>
#include <type_traits>

#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::netstack::tcp::detail {

struct TcpSkbCb {
  std::uint32_t seq;      // first sequence number (kernel: TCP_SKB_CB(skb)->seq)
  std::uint32_t end_seq;  // seq + payload + SYN + FIN
  std::uint32_t offset;   // payload bytes at the front already consumed or trimmed away
  std::uint8_t tcp_flags; // FIN (and SYN) carried by this skb
  std::uint8_t retransmitted;  // sent more than once (Karn's rule)
  std::uint8_t sacked;    // scoreboard bits: kCbSacked, kCbLost, kCbRetrans
  std::uint8_t pad;
  std::int64_t sent_ps;   // last transmission time (RTT samples)
};
static_assert(sizeof(TcpSkbCb) <= sizeof(core::SkBuff::cb));
static_assert(std::is_trivially_copyable_v<TcpSkbCb>);

// Scoreboard bits (kernel: TCPCB_SACKED_ACKED, TCPCB_LOST, TCPCB_SACKED_RETRANS).
inline constexpr std::uint8_t kCbSacked = 1;
inline constexpr std::uint8_t kCbLost = 2;
inline constexpr std::uint8_t kCbRetrans = 4;

inline TcpSkbCb& tcp_cb(core::SkBuff* skb) { return *reinterpret_cast<TcpSkbCb*>(skb->cb.data()); }
inline const TcpSkbCb& tcp_cb(const core::SkBuff* skb) { return *reinterpret_cast<const TcpSkbCb*>(skb->cb.data()); }


}  // namespace nicemu::netstack::tcp::detail
