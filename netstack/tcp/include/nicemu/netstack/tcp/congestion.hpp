// nicemu/netstack/tcp/congestion.hpp — pluggable congestion control.
//
// Models: struct tcp_congestion_ops (include/net/tcp.h) reduced to the hooks nicemu's TCP
//   calls: ssthresh on loss, cong_avoid on ACKs that advance snd_una outside recovery, and
//   events (RTO loss, recovery exit). Windows are counted in segments, as Linux does
//   (snd_cwnd, snd_cwnd_cnt).
//   - NewReno (RFC 5681 §3.1, Linux tcp_reno_cong_avoid): slow start adds the segments acked;
//     congestion avoidance adds one segment per cwnd segments acked; ssthresh = max(cwnd/2, 2).
//   - CUBIC (RFC 9438): W_cubic(t) = C (t - K)^3 + W_max with C = 0.4, beta_cubic = 0.7,
//     K = cbrt(W_max (1 - beta) / C), the Reno-friendly estimate W_est (§4.3), fast
//     convergence (§4.7), slow start below ssthresh. Computed in doubles with a cube root of
//     our own (Newton iterations), so results are identical on every platform.
// Not modelled: HyStart (Linux's CUBIC default), pacing, BBR.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "nicemu/sim/time.hpp"

namespace nicemu::netstack::tcp {

class TcpSock;

enum class CongestionAlgo : std::uint8_t { kNewReno, kCubic };
const char* to_string(CongestionAlgo a);

class CongestionOps {
 public:
  virtual ~CongestionOps() = default;
  virtual const char* name() const = 0;
  // New cwnd threshold after a loss (segments).
  virtual std::uint32_t ssthresh(const TcpSock& sk) = 0;
  // `acked` segments were newly acknowledged outside loss recovery.
  virtual void cong_avoid(TcpSock& sk, std::uint32_t acked, sim::TimePoint now) = 0;
  // A retransmission timeout: cwnd has been set to the loss window.
  virtual void on_rto(TcpSock&, sim::TimePoint) {}
  // Fast recovery was entered (after ssthresh() was taken).
  virtual void on_recovery_start(TcpSock&, sim::TimePoint) {}
  // An RTT sample (for algorithms that use delay; CUBIC uses the minimum).
  virtual void on_rtt_sample(TcpSock&, sim::Duration) {}
};

std::unique_ptr<CongestionOps> make_congestion_ops(CongestionAlgo algo);

// Exposed for tests: the cube root CUBIC uses (deterministic, |error| < 1e-12 relative).
double cubic_cbrt(double x);

}  // namespace nicemu::netstack::tcp
