// NewReno and CUBIC congestion control. See congestion.hpp for what is modelled.
#include "nicemu/netstack/tcp/congestion.hpp"

#include <algorithm>
#include <cmath>

#include "nicemu/netstack/tcp/tcp_sock.hpp"

namespace nicemu::netstack::tcp {

const char* to_string(CongestionAlgo a) {
  switch (a) {
    case CongestionAlgo::kNewReno: return "newreno";
    case CongestionAlgo::kCubic: return "cubic";
  }
  return "?";
}

double cubic_cbrt(double x) {
  if (x == 0.0) return 0.0;
  const bool neg = x < 0;
  const double a = neg ? -x : x;
  // Start from a power-of-two estimate, then Newton: y <- y - (y^3 - a) / (3 y^2).
  int e = 0;
  (void)std::frexp(a, &e);
  double y = std::ldexp(1.0, e / 3);
  for (int i = 0; i < 60; ++i) {
    const double next = y - (y * y * y - a) / (3.0 * y * y);
    if (next == y) break;
    y = next;
  }
  return neg ? -y : y;
}

namespace {

// Slow start shared by both (RFC 5681 §3.1; kernel: tcp_slow_start): cwnd grows by the segments
// acked, up to ssthresh; returns the acked segments left over for congestion avoidance.
std::uint32_t slow_start(TcpSock& sk, std::uint32_t acked) {
  const std::uint32_t cwnd = std::min(sk.snd_cwnd() + acked, sk.snd_ssthresh());
  const std::uint32_t used = cwnd - sk.snd_cwnd();
  sk.set_snd_cwnd(cwnd);
  return acked - used;
}

// Additive increase: one segment per `w` segments acked (kernel: tcp_cong_avoid_ai).
void cong_avoid_ai(TcpSock& sk, std::uint32_t w, std::uint32_t acked) {
  std::uint32_t& cnt = sk.snd_cwnd_cnt();
  if (cnt >= w) {
    cnt = 0;
    sk.set_snd_cwnd(sk.snd_cwnd() + 1);
  }
  cnt += acked;
  if (cnt >= w) {
    const std::uint32_t delta = cnt / w;
    cnt -= delta * w;
    sk.set_snd_cwnd(sk.snd_cwnd() + delta);
  }
}

class NewReno final : public CongestionOps {
 public:
  const char* name() const override { return "newreno"; }
  std::uint32_t ssthresh(const TcpSock& sk) override { return std::max(sk.snd_cwnd() >> 1, 2u); }
  void cong_avoid(TcpSock& sk, std::uint32_t acked, sim::TimePoint) override {
    if (sk.snd_cwnd() < sk.snd_ssthresh()) {
      acked = slow_start(sk, acked);
      if (acked == 0) return;
    }
    cong_avoid_ai(sk, sk.snd_cwnd(), acked);
  }
};

// RFC 9438.
class Cubic final : public CongestionOps {
 public:
  static constexpr double kC = 0.4;
  static constexpr double kBeta = 0.7;

  const char* name() const override { return "cubic"; }

  std::uint32_t ssthresh(const TcpSock& sk) override {
    const double cwnd = sk.snd_cwnd();
    // Fast convergence (§4.7): a flow that lost below its previous W_max releases bandwidth.
    if (cwnd < w_max_) w_max_ = cwnd * (1.0 + kBeta) / 2.0;
    else w_max_ = cwnd;
    epoch_started_ = false;
    return std::max(static_cast<std::uint32_t>(cwnd * kBeta), 2u);
  }

  void on_rto(TcpSock&, sim::TimePoint) override { epoch_started_ = false; }

  void on_rtt_sample(TcpSock&, sim::Duration rtt) override {
    if (min_rtt_.ps() == 0 || rtt < min_rtt_) min_rtt_ = rtt;
  }

  void cong_avoid(TcpSock& sk, std::uint32_t acked, sim::TimePoint now) override {
    if (sk.snd_cwnd() < sk.snd_ssthresh()) {
      acked = slow_start(sk, acked);
      if (acked == 0) return;
    }
    const double cwnd = sk.snd_cwnd();
    if (!epoch_started_) {  // §4.2: a new congestion-avoidance epoch
      epoch_started_ = true;
      epoch_start_ = now;
      if (w_max_ < cwnd) w_max_ = cwnd;  // no loss yet: the plateau is where we are
      // RFC 9438 §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), from the window the epoch starts
      // with (kernel bictcp_update: K = 0 at or above W_max). W_max (1 - beta) / C is that only
      // when cwnd_epoch is exactly beta W_max: wrong after fast convergence (W_max = 0.85 cwnd at
      // the loss, cwnd_epoch = 0.7) and when no loss set W_max (K = 0, not cbrt(0.75 W_max)).
      k_ = cubic_cbrt(std::max(w_max_ - cwnd, 0.0) / kC);
      w_est_ = cwnd;
    }
    const double rtt = min_rtt_.ps() > 0 ? min_rtt_.seconds() : 0.0;
    const double t = (now - epoch_start_).seconds();
    // W_cubic(t + RTT) is the target one RTT ahead (§4.2).
    const double dt = t + rtt - k_;
    const double target = kC * dt * dt * dt + w_max_;
    // Reno-friendly region (§4.3): W_est grows by alpha_cubic per RTT's worth of ACKs.
    const double alpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);
    w_est_ += alpha * static_cast<double>(acked) / cwnd;
    double goal = std::max(target, w_est_);
    // §4.4–4.5: grow towards the goal, at most 1.5x per RTT.
    goal = std::min(goal, cwnd * 1.5);
    if (goal <= cwnd) {
      // Keep a very slow increase (one segment per 100 RTTs, as Linux's cnt = 100 * cwnd).
      cong_avoid_ai(sk, 100 * sk.snd_cwnd(), acked);
      return;
    }
    // One more segment per cwnd / (goal - cwnd) segments acked.
    // (Clamped before the cast: a goal a hair above cwnd gives a huge quotient.)
    const auto w = static_cast<std::uint32_t>(std::clamp(cwnd / (goal - cwnd), 1.0, 100.0 * cwnd));
    cong_avoid_ai(sk, w, acked);
  }

  double w_max() const { return w_max_; }

 private:
  bool epoch_started_ = false;
  sim::TimePoint epoch_start_;
  double w_max_ = 0;
  double k_ = 0;
  double w_est_ = 0;
  sim::Duration min_rtt_{};
};

}  // namespace

std::unique_ptr<CongestionOps> make_congestion_ops(CongestionAlgo algo) {
  switch (algo) {
    case CongestionAlgo::kNewReno: return std::make_unique<NewReno>();
    case CongestionAlgo::kCubic: return std::make_unique<Cubic>();
  }
  return std::make_unique<NewReno>();
}

}  // namespace nicemu::netstack::tcp
