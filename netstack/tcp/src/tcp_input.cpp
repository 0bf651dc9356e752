// TcpSock segment arrival: RFC 9293 §3.10.7 in order — SYN-SENT; then for synchronized states
// the sequence check (with PAWS), RST, SYN, ACK, data, FIN — with RFC 5961's challenge ACKs,
// RFC 6298 RTT sampling, and fast retransmit / NewReno recovery (RFC 5681, RFC 6582).
#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/tcp/tcp_sock.hpp"
#include "tcp_internal.hpp"

namespace nicemu::netstack::tcp {

using core::SkBuff;
using detail::tcp_cb;

namespace {
void drop(TcpSegment& seg) {
  core::kfree_skb(seg.skb);
  seg.skb = nullptr;
}
}  // namespace

void TcpSock::input(TcpSegment& seg, sim::TimePoint now) {
  ++stats_.segs_in;
  if (seg.has(kRst)) ++stats_.rst_in;
  if (seg.opt.sack_count > 0) stats_.sack_blocks_received += seg.opt.sack_count;
  switch (state_) {
    case TcpState::kClosed:
      // RFC 9293 §3.10.7.1: answer anything but a RST with a RST.
      if (!seg.has(kRst)) {
        if (seg.has(kAck)) send_rst(seg.ack, 0, false, now);
        else send_rst(0, seg.seq + seg.seg_len(), true, now);
      }
      drop(seg);
      return;
    case TcpState::kListen:
      input_listen(seg, now);
      return;
    case TcpState::kSynSent:
      input_syn_sent(seg, now);
      return;
    default:
      break;
  }

  // TIME-WAIT (RFC 9293 §3.10.7.4): a retransmission of the peer's FIN is acknowledged and
  // restarts the 2MSL timeout.
  if (state_ == TcpState::kTimeWait && seg.has(kFin) && !seg.has(kRst) && seg.seq + seg.seg_len() == rcv_nxt_) {
    timewait_at_ = now + cfg_.time_wait;
    send_ack(now);
    drop(seg);
    return;
  }

  // SYN-RECEIVED: the peer's SYN again (it lost our SYN-ACK) is answered with the SYN-ACK. This
  // must come before the sequence check, which finds SEG.SEQ = IRS < RCV.NXT unacceptable and would
  // answer a bare ACK that the peer's SYN-SENT state drops (RFC 9293 §3.8.1 / §3.10.7.3: only a
  // SYN-ACK completes its open; kernel: tcp_check_req retransmits the SYN-ACK).
  if (state_ == TcpState::kSynReceived && (seg.flags & (kSyn | kAck | kRst)) == kSyn && seg.seq == irs_) {
    send_syn(now, true);
    drop(seg);
    return;
  }

  // SYN-RECEIVED after a simultaneous open: the peer's SYN-ACK repeats its SYN (SEQ = IRS, one
  // below RCV.NXT) and acknowledges ours. RFC 9293 finds it unacceptable and answers an ACK,
  // costing a round trip; Linux takes it as the ACK that completes the open (tcp_validate_incoming
  // lets exactly this SYN-ACK pass), and so does nicemu: the SYN is consumed and the rest goes on.
  if (state_ == TcpState::kSynReceived && parent == nullptr && (seg.flags & (kSyn | kAck | kRst | kFin)) == (kSyn | kAck) &&
      seg.payload_len == 0 && seg.seq + 1 == rcv_nxt_ && seg.ack == snd_nxt_) {
    seg.seq += 1;
    seg.flags = static_cast<std::uint8_t>(seg.flags & ~kSyn);
  }

  // 1. Sequence number check, with PAWS first (RFC 7323 §5.3).
  if (paws_reject(seg, now)) {
    ++stats_.paws_rejected;
    if (!seg.has(kRst)) send_ack(now);
    drop(seg);
    return;
  }
  if (!acceptable(seg)) {
    ++stats_.dropped_not_acceptable;
    if (!seg.has(kRst)) send_ack(now);
    drop(seg);
    return;
  }
  // Keep TS.Recent (RFC 7323 §4.3): SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent.
  if (ts_ok_ && seg.opt.timestamps && seq_le(seg.seq, rcv_wup_) && seq_ge(seg.opt.timestamps->tsval, ts_recent_)) {
    ts_recent_ = seg.opt.timestamps->tsval;
    ts_recent_stamp_ = now;
  }

  // 2. RST (RFC 5961 §3): only an exact match resets; anything else in the window is challenged.
  if (seg.has(kRst)) {
    if (seg.seq == rcv_nxt_) {
      if (state_ == TcpState::kSynReceived && parent != nullptr) {
        reset_connection(-ECONNREFUSED);  // a passive open goes away (kernel: the request dies)
      } else if (state_ == TcpState::kCloseWait) {
        reset_connection(-EPIPE);
      } else if (state_ == TcpState::kTimeWait || state_ == TcpState::kClosing || state_ == TcpState::kLastAck) {
        purge_queues();
        set_state(TcpState::kClosed);
      } else {
        reset_connection(-ECONNRESET);
      }
    } else {
      send_challenge_ack(now);
    }
    drop(seg);
    return;
  }

  // 3. SYN in a synchronized state (RFC 5961 §4): challenge ACK. (A retransmitted SYN in
  // SYN-RECEIVED was answered above.)
  if (seg.has(kSyn)) {
    send_challenge_ack(now);
    drop(seg);
    return;
  }

  // 4. ACK.
  if (!seg.has(kAck)) {
    drop(seg);
    return;
  }
  if (state_ == TcpState::kSynReceived) {
    if (!(seq_lt(snd_una_, seg.ack) && seq_le(seg.ack, snd_nxt_))) {
      send_rst(seg.ack, 0, false, now);
      drop(seg);
      return;
    }
    // Our SYN is acknowledged: RTT from the SYN-ACK if it was sent once (Karn).
    syn_acked_rtt(seg, now);
    snd_una_ = seg.ack;
    snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
    max_window_ = std::max(max_window_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    rto_at_.reset();
    backoff_ = 0;
    set_state(TcpState::kEstablished);
  }
  if (!process_ack(seg, now)) {
    drop(seg);
    return;
  }
  if (state_ == TcpState::kClosed) {  // LAST-ACK completed inside process_ack
    drop(seg);
    return;
  }

  // 5. Data (URG is ignored).
  if ((seg.payload_len > 0 || seg.has(kFin)) && user_closed_ &&
      (state_ == TcpState::kFinWait1 || state_ == TcpState::kFinWait2) &&
      seq_gt(seg.seq + seg.payload_len, rcv_nxt_)) {
    // New data for a socket the application has closed: nobody will read it. RFC 1122
    // §4.2.2.13 says reset, as the kernel does (tcp_rcv_state_process with RCV_SHUTDOWN:
    // TCPAbortOnData, tcp_reset, then a RST in reply to the segment).
    ++stats_.abort_on_data;
    send_rst(seg.ack, 0, false, now);
    reset_connection(-ECONNRESET);
    drop(seg);
    return;
  }
  if (seg.payload_len > 0) {
    if (state_ == TcpState::kEstablished || state_ == TcpState::kFinWait1 || state_ == TcpState::kFinWait2) {
      process_data(seg, now);
    } else {
      drop(seg);  // the peer already sent FIN: data after it is ignored (RFC 9293 §3.10.7.4)
    }
  } else if (seg.has(kFin)) {
    process_data(seg, now);  // a bare FIN goes through the same in-order logic
  } else {
    drop(seg);
  }
  write_xmit(now);
}

void TcpSock::input_listen(TcpSegment& seg, sim::TimePoint now) {
  // RFC 9293 §3.10.7.2. A SYN is handled by the demux, which creates the child (accept_syn).
  if (!seg.has(kRst) && seg.has(kAck)) send_rst(seg.ack, 0, false, now);
  drop(seg);
}

void TcpSock::input_syn_sent(TcpSegment& seg, sim::TimePoint now) {
  // RFC 9293 §3.10.7.3.
  if (seg.has(kAck) && (seq_le(seg.ack, iss_) || seq_gt(seg.ack, snd_nxt_))) {
    if (!seg.has(kRst)) send_rst(seg.ack, 0, false, now);
    drop(seg);
    return;
  }
  if (seg.has(kRst)) {
    if (seg.has(kAck)) reset_connection(-ECONNREFUSED);
    drop(seg);
    return;
  }
  if (!seg.has(kSyn)) {
    drop(seg);
    return;
  }
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  copied_seq_ = rcv_nxt_;
  rcv_wup_ = rcv_nxt_;
  init_from_syn_options(seg, now);
  if (seg.has(kAck)) {
    syn_acked_rtt(seg, now);
    snd_una_ = seg.ack;
    snd_wnd_ = seg.window;  // never scaled in a SYN
    max_window_ = snd_wnd_;
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    rto_at_.reset();
    backoff_ = 0;
    set_state(TcpState::kEstablished);
    send_ack(now);
    write_xmit(now);
  } else {
    // Simultaneous open (RFC 9293 §3.5 figure 8): SYN-RECEIVED, answer SYN-ACK.
    snd_wnd_ = seg.window;
    max_window_ = snd_wnd_;
    snd_wl1_ = seg.seq;
    set_state(TcpState::kSynReceived);
    send_syn(now, true);
  }
  drop(seg);
}

bool TcpSock::paws_reject(const TcpSegment& seg, sim::TimePoint now) const {
  if (!ts_ok_ || !seg.opt.timestamps || seg.has(kRst)) return false;
  // TS.Recent older than 24 days is invalid (RFC 7323 §5.5).
  if (now - ts_recent_stamp_ > sim::Duration::from_s(24 * 24 * 3600)) return false;
  return seq_lt(seg.opt.timestamps->tsval, ts_recent_);
}

bool TcpSock::acceptable(const TcpSegment& seg) const {
  // RFC 9293 §3.10.7.4, the four cases, with the window we last advertised.
  const std::uint32_t right = rcv_wup_ + rcv_wnd_;
  const std::uint32_t wnd = seq_gt(right, rcv_nxt_) ? right - rcv_nxt_ : 0;
  const std::uint32_t len = seg.seg_len();
  if (len == 0) {
    if (wnd == 0) return seg.seq == rcv_nxt_;
    return seq_in(seg.seq, rcv_nxt_, rcv_nxt_ + wnd);
  }
  // A zero window accepts no text, but "special allowance should be made to accept valid ACKs,
  // URGs, and RSTs": a segment at RCV.NXT goes on for its control fields, and process_data trims
  // its text away (kernel: tcp_sequence accepts SEG.SEQ = RCV.NXT; tcp_data_queue drops the text).
  if (wnd == 0) return seg.seq == rcv_nxt_;
  return seq_in(seg.seq, rcv_nxt_, rcv_nxt_ + wnd) || seq_in(seg.seq + len - 1, rcv_nxt_, rcv_nxt_ + wnd);
}

void TcpSock::rtt_sample(sim::Duration r) {
  if (r.ps() <= 0) r = sim::Duration::from_ps(1);
  // RFC 6298 §2.2–2.3.
  if (!have_rtt_) {
    srtt_ = r;
    rttvar_ = r / 2;
    have_rtt_ = true;
  } else {
    const sim::Duration diff = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = (rttvar_ * 3 + diff) / 4;
    srtt_ = (srtt_ * 7 + r) / 8;
  }
  const sim::Duration g = sim::Duration::from_ms(1);  // clock granularity G
  rto_ = srtt_ + std::max(g, rttvar_ * 4);
  rto_ = std::clamp(rto_, cfg_.rto_min, cfg_.rto_max);  // §2.4–2.5 with Linux's 200 ms floor
  cc_->on_rtt_sample(*this, r);
}

void TcpSock::clean_rtx_queue(std::uint32_t ack, sim::TimePoint now, bool& rtt_sampled, std::uint32_t& acked_segs) {
  bool retrans_acked = false;
  std::int64_t first_sent = -1;
  while (SkBuff* skb = write_queue_.head) {
    auto& cb = tcp_cb(skb);
    if (seq_gt(cb.end_seq, ack)) break;  // not fully acknowledged
    if (skb == send_head_) {
      // Sent before a go-back-N rewind and acknowledged now: it is no longer to be sent.
      send_head_ = skb->next;
    } else if (packets_out_ > 0) {
      --packets_out_;
    }
    if ((cb.sacked & detail::kCbSacked) != 0) --sacked_out_;
    else if ((cb.sacked & detail::kCbLost) != 0) --lost_out_;
    if ((cb.sacked & detail::kCbRetrans) != 0) --retrans_out_;
    if (skb == highest_sack_) highest_sack_ = nullptr;
    if (skb == retransmit_skb_hint_) retransmit_skb_hint_ = nullptr;
    if (lost_skb_hint_ != nullptr) {  // freed from the head up: this skb is at or below the hint
      if ((cb.sacked & detail::kCbSacked) != 0) --lost_cnt_hint_;
      if (skb == lost_skb_hint_) lost_skb_hint_ = nullptr;
    }
    if (cb.retransmitted) retrans_acked = true;
    else if (first_sent < 0) first_sent = cb.sent_ps;
    write_queue_bytes_ -= skb->len();
    stats_.bytes_acked += skb->len();
    write_queue_.unlink(skb);
    core::kfree_skb(skb);
    ++acked_segs;
  }
  // Karn's rule (RFC 6298 §3): no sample when a retransmitted segment is acknowledged.
  if (!retrans_acked && first_sent >= 0) {
    rtt_sample(now - sim::TimePoint::from_ps(first_sent));
    rtt_sampled = true;
  }
}

bool TcpSock::process_ack(const TcpSegment& seg, sim::TimePoint now) {
  const std::uint32_t ack = seg.ack;
  // "Acknowledges something not yet sent": against the highest sequence ever sent, since a
  // retransmission timeout rewinds snd_nxt (go-back-N) over data the peer may have received.
  if (seq_gt(ack, snd_max_)) {
    send_ack(now);
    return false;
  }
  // RFC 5961 §5: an ACK older than the window the peer could have seen is challenged.
  if (seq_lt(ack, snd_una_ - std::max(max_window_, 1u))) {
    send_challenge_ack(now);
    return false;
  }
  const std::uint32_t prior_una = snd_una_;
  const std::uint32_t prior_wnd = snd_wnd_;
  const std::uint32_t prior_packets = packets_out_;

  // Window update (RFC 9293 §3.10.7.4): only from a segment that is not older.
  if (seq_le(snd_una_, ack) &&
      (seq_lt(snd_wl1_, seg.seq) || (snd_wl1_ == seg.seq && seq_le(snd_wl2_, ack)))) {
    snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
    max_window_ = std::max(max_window_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = ack;
    if (snd_wnd_ > 0 && persist_at_) {
      // The window opened while we were probing: stop, and forget the probes' backoff (kernel:
      // tcp_ack_probe clears icsk_backoff). Otherwise the next RTO starts at rto << probes and,
      // after retries2 probes, the first RTO gives ETIMEDOUT (RFC 6298 §5.5 backs off only for
      // retransmissions of the same data; RFC 9293 §3.8.6.1 probing is not a retransmission).
      persist_at_.reset();
      backoff_ = 0;
    }
  }

  if (sack_ok_ && seg.opt.sack_count > 0) sack_update(seg);

  if (seq_gt(ack, snd_una_)) {
    std::uint32_t acked_segs = 0;
    bool rtt_sampled = false;
    clean_rtx_queue(ack, now, rtt_sampled, acked_segs);
    // A timestamp echo gives an RTT sample even for retransmitted data (RFC 7323 §4.1).
    if (!rtt_sampled && ts_ok_ && seg.opt.timestamps && seg.opt.timestamps->tsecr != 0) {
      const std::uint32_t ms = tsval(now) - seg.opt.timestamps->tsecr;
      if (ms < 0x7fffffff) rtt_sample(sim::Duration::from_ms(ms));
    }
    snd_una_ = ack;
    if (seq_lt(snd_nxt_, snd_una_)) snd_nxt_ = snd_una_;  // after go-back-N
    backoff_ = 0;
    dupacks_ = 0;
    if (in_recovery_ && sack_ok_) {
      if (seq_ge(ack, high_seq_)) {  // RFC 6675 §5: the recovery point is covered
        in_recovery_ = false;
        snd_cwnd_ = snd_ssthresh_;
        clear_scoreboard();
      }
    } else if (in_recovery_) {
      on_new_ack_in_recovery(ack, acked_segs, now);
    } else {
      if (in_loss_ && seq_ge(ack, high_seq_)) in_loss_ = false;
      // Grow only when the window was in use (kernel: tcp_is_cwnd_limited, slow-start rule).
      if (prior_packets * 2 >= snd_cwnd_) cc_->cong_avoid(*this, acked_segs, now);
    }
    // kernel: tcp_check_space() -> tcp_new_space() once the ACK freed queued data.
    if (acked_segs > 0) new_space();
    // RFC 6298 §5.2–5.3: stop the timer when all is acknowledged, else restart it.
    if (packets_out_ == 0 && write_queue_.head == send_head_) rto_at_.reset();
    else arm_rto(now);
  } else if (ack == prior_una && seg.payload_len == 0 && !seg.has(kSyn) && !seg.has(kFin) &&
             snd_wnd_ == prior_wnd && packets_out_ > 0) {
    // RFC 5681 §2 duplicate ACK.
    ++stats_.dup_acks_in;
    ++dupacks_;
    if (!sack_ok_) on_dupack(now);
  }

  if (sack_ok_) {
    // RFC 6675 §5: enter on DupThresh duplicate ACKs or DupThresh SACKed segments, once the
    // ACKs are past the previous recovery point.
    if (!in_recovery_ && !in_loss_ && seq_ge(snd_una_, high_seq_) &&
        (dupacks_ >= cfg_.dupthresh || sacked_out_ >= cfg_.dupthresh) && packets_out_ > 0) {
      sack_enter_recovery(now);
    }
    if (in_recovery_) {
      sack_mark_lost();
      sack_retransmit(now);
    }
  }

  // Our FIN acknowledged?
  const bool fin_acked = fin_queued_ && write_queue_.empty() && snd_una_ == write_seq_;
  if (fin_acked) {
    if (state_ == TcpState::kFinWait1) {
      set_state(TcpState::kFinWait2);
    } else if (state_ == TcpState::kClosing) {
      enter_time_wait(now);
    } else if (state_ == TcpState::kLastAck) {
      purge_queues();
      set_state(TcpState::kClosed);
      return true;
    }
  }
  return true;
}

void TcpSock::on_dupack(sim::TimePoint now) {
  if (in_recovery_) {
    snd_cwnd_ += 1;  // RFC 6582 §3.2 step 3: inflate by one segment per further duplicate
    write_xmit(now);
    return;
  }
  if (in_loss_ || dupacks_ != cfg_.dupthresh) return;
  // RFC 6582 §3.2 step 2: no new fast retransmit while the ACKs are still below `recover` (the
  // data outstanding at the last loss). nicemu allows it once they reach `recover` exactly, so a
  // loss right after a recovery is repaired without waiting for the RTO (as Linux does).
  if (seq_lt(snd_una_, high_seq_)) return;
  snd_ssthresh_ = cc_->ssthresh(*this);
  high_seq_ = snd_nxt_;
  in_recovery_ = true;
  cc_->on_recovery_start(*this, now);
  ++stats_.fast_retransmits;
  retransmit_head(now);
  snd_cwnd_ = snd_ssthresh_ + cfg_.dupthresh;
  arm_rto(now);
}

void TcpSock::on_new_ack_in_recovery(std::uint32_t ack, std::uint32_t acked_segs, sim::TimePoint now) {
  if (seq_ge(ack, high_seq_)) {
    // Full acknowledgment (RFC 6582 §3.2 step 4, option 1):
    // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS), in segments.
    snd_cwnd_ = std::min(snd_ssthresh_, std::max(packets_out_, 1u) + 1);
    in_recovery_ = false;
    return;
  }
  // Partial acknowledgment (step 5): retransmit the next unacknowledged segment, deflate by the
  // amount acknowledged, add back one segment.
  ++stats_.fast_retransmits;
  retransmit_head(now);
  snd_cwnd_ = snd_cwnd_ > acked_segs ? snd_cwnd_ - acked_segs : 1;
  snd_cwnd_ += 1;
  arm_rto(now);
}

// ---- SACK scoreboard and RFC 6675 recovery ------------------------------------------------------------
//
// The scoreboard is the sent part of the write queue, [head, send_head_): only those skbs carry
// kCbSacked, kCbLost and kCbRetrans (a go-back-N rewind clears the scoreboard first). An ACK costs
// what it changes, with hints in the manner of the kernel's tcp_sacktag_write_queue,
// tcp_mark_head_lost and tcp_xmit_retransmit_queue. What each promises:
// - recv_sack_cache_: every skb lying whole inside one of its ranges is SACKed. A range is a block
//   of the previous SACK, cut at the end of the sent part as it was then. A SACK mark goes only
//   with the scoreboard, and skbs queued later lie above the cut, so the promise holds until
//   clear_scoreboard; a new block walks only its parts outside the ranges.
// - highest_sack_: the highest SACKed skb, a place to start walks from besides the head.
// - lost_skb_hint_: every skb at or below it is SACKed or marked lost; lost_cnt_hint_ counts the
//   SACKed ones. sack_mark_lost resumes above it.
// - retransmit_skb_hint_: no skb at or below it waits for a retransmission (lost, not
//   retransmitted, not SACKed). sack_retransmit resumes above it.
// Every hint points into the sent part or is null ("from the head"). The cumulative ACK frees
// skbs from the head up, so clean_rtx_queue drops a hint whose skb it frees (everything below
// went with it); splits happen only at send_head_, above every hint; clear_scoreboard,
// enter_time_wait and purge_queues reset them all. verify_scoreboard() checks all of this.

std::uint32_t TcpSock::sent_end_seq() const {
  if (send_head_ != nullptr) return tcp_cb(send_head_).seq;
  return write_queue_.tail != nullptr ? tcp_cb(write_queue_.tail).end_seq : snd_una_;
}

// The first skb of the sent part that ends after `seq` (send_head_ when there is none), reached
// from the head or from highest_sack_, whichever is nearer in sequence space.
SkBuff* TcpSock::sack_skip(std::uint32_t seq) const {
  SkBuff* skb = write_queue_.head;
  if (SkBuff* h = highest_sack_; h != nullptr) {
    const auto& hcb = tcp_cb(h);
    if (seq_le(hcb.end_seq, seq)) {
      skb = h->next;
    } else if (seq_le(hcb.seq, seq) || hcb.seq - seq < seq - tcp_cb(skb).seq) {
      skb = h;  // back down to the skb whose predecessor ends at or before seq
      while (skb->prev != nullptr && seq_gt(tcp_cb(skb->prev).end_seq, seq)) skb = skb->prev;
      return skb;
    }
  }
  while (skb != nullptr && skb != send_head_ && seq_le(tcp_cb(skb).end_seq, seq)) skb = skb->next;
  return skb;
}

void TcpSock::sack_tag_one(SkBuff* skb) {
  auto& cb = tcp_cb(skb);
  if ((cb.sacked & detail::kCbLost) != 0) --lost_out_;
  if ((cb.sacked & detail::kCbRetrans) != 0) --retrans_out_;
  cb.sacked = detail::kCbSacked;
  ++sacked_out_;
  if (lost_skb_hint_ != nullptr && seq_le(cb.seq, tcp_cb(lost_skb_hint_).seq)) ++lost_cnt_hint_;
  if (highest_sack_ == nullptr || seq_gt(cb.seq, tcp_cb(highest_sack_).seq)) highest_sack_ = skb;
}

// SACKs the sent skbs that overlap [from, to) and that block `b` covers whole.
void TcpSock::sack_tag_range(const SackBlock& b, std::uint32_t from, std::uint32_t to) {
  for (SkBuff* skb = sack_skip(from); skb != nullptr && skb != send_head_; skb = skb->next) {
    const auto& cb = tcp_cb(skb);
    if (seq_ge(cb.seq, to)) break;
    if ((cb.sacked & detail::kCbSacked) == 0 && seq_ge(cb.seq, b.left) && seq_le(cb.end_seq, b.right)) {
      sack_tag_one(skb);
    }
  }
}

void TcpSock::sack_update(const TcpSegment& seg) {
  const std::uint32_t sent_end = sent_end_seq();
  std::array<SackBlock, kMaxSackBlocks> tagged{};
  int n_tagged = 0;
  for (int i = 0; i < seg.opt.sack_count; ++i) {
    const SackBlock b = seg.opt.sack_blocks[static_cast<std::size_t>(i)];
    // Ignore blocks that are empty, below snd_una (D-SACK) or beyond what was sent.
    if (!seq_lt(b.left, b.right) || seq_lt(b.left, snd_una_) || seq_gt(b.right, snd_max_)) continue;
    // The cached ranges overlapping the block, in sequence order: the block is walked only
    // around them, each part from the skb that straddles its start.
    std::array<SackBlock, kMaxSackBlocks> done{};
    int n_done = 0;
    for (int k = 0; k < recv_sack_cache_len_; ++k) {
      const SackBlock c = recv_sack_cache_[static_cast<std::size_t>(k)];
      if (!seq_lt(c.left, b.right) || !seq_gt(c.right, b.left)) continue;
      int at = n_done++;
      for (; at > 0 && seq_lt(c.left, done[static_cast<std::size_t>(at - 1)].left); --at) {
        done[static_cast<std::size_t>(at)] = done[static_cast<std::size_t>(at - 1)];
      }
      done[static_cast<std::size_t>(at)] = c;
    }
    // Ranges that touch or overlap leave no part between them, yet an skb across the seam can
    // lie whole in the block and in neither range: walk the whole block then.
    for (int k = 1; k < n_done; ++k) {
      if (seq_ge(done[static_cast<std::size_t>(k - 1)].right, done[static_cast<std::size_t>(k)].left)) n_done = 0;
    }
    std::uint32_t from = b.left;
    for (int k = 0; k < n_done; ++k) {
      const SackBlock& c = done[static_cast<std::size_t>(k)];
      if (seq_lt(from, c.left)) sack_tag_range(b, from, c.left);
      from = seq_max(from, c.right);
    }
    if (seq_lt(from, b.right)) sack_tag_range(b, from, b.right);
    const std::uint32_t right = seq_min(b.right, sent_end);
    if (seq_lt(b.left, right)) tagged[static_cast<std::size_t>(n_tagged++)] = {b.left, right};
  }
  recv_sack_cache_ = tagged;
  recv_sack_cache_len_ = n_tagged;
}

void TcpSock::sack_enter_recovery(sim::TimePoint now) {
  snd_ssthresh_ = cc_->ssthresh(*this);
  snd_cwnd_ = snd_ssthresh_;  // RFC 6675 §5 step (4.2)
  high_seq_ = snd_max_;       // RecoveryPoint = HighData
  in_recovery_ = true;
  cc_->on_recovery_start(*this, now);
  // (4.3): the first unacknowledged segment is presumed lost and retransmitted at once,
  // whatever the pipe.
  SkBuff* head = write_queue_.head;
  if (head != nullptr && head != send_head_ && (tcp_cb(head).sacked & (detail::kCbSacked | detail::kCbLost)) == 0) {
    auto& cb = tcp_cb(head);
    cb.sacked |= detail::kCbLost | detail::kCbRetrans;
    ++lost_out_;
    ++retrans_out_;
    ++stats_.fast_retransmits;
    xmit_skb(head, true, now);
    arm_rto(now);
  }
}

void TcpSock::sack_mark_lost() {
  // IsLost (RFC 6675 §4): DupThresh or more SACKed segments above it. For a segment not SACKed
  // that is sacked_out minus the SACKed segments below it, so a walk up from the head counting
  // SACKed segments finds the lost ones, up to the first segment with fewer than DupThresh SACKed
  // above. The walk resumes above lost_skb_hint_, where the previous one stopped, because the
  // segments at or below the hint are still decided: the SACKed count above any segment never
  // falls while the scoreboard lives (marks are added, not removed; the cumulative ACK frees
  // segments below, not above; new data comes on top), so a segment found lost stays lost; and
  // its mark goes only when it becomes SACKed, which sack_tag_one counts into lost_cnt_hint_.
  SkBuff* skb = lost_skb_hint_ != nullptr ? lost_skb_hint_->next : write_queue_.head;
  for (; skb != nullptr && skb != send_head_; skb = skb->next) {
    auto& cb = tcp_cb(skb);
    if ((cb.sacked & detail::kCbSacked) != 0) {
      ++lost_cnt_hint_;
    } else {
      if (sacked_out_ - lost_cnt_hint_ < cfg_.dupthresh) break;
      if ((cb.sacked & (detail::kCbLost | detail::kCbRetrans)) == 0) {
        cb.sacked |= detail::kCbLost;
        ++lost_out_;
        // sack_retransmit never passes lost_skb_hint_, so this does not happen today; it keeps
        // the retransmit hint's promise should segments be marked lost another way (RACK).
        if (retransmit_skb_hint_ != nullptr && seq_le(cb.seq, tcp_cb(retransmit_skb_hint_).seq)) {
          retransmit_skb_hint_ = skb->prev;
        }
      }
    }
    lost_skb_hint_ = skb;
  }
}

void TcpSock::sack_retransmit(sim::TimePoint now) {
  // NextSeg rule 1: the lowest lost segment not yet retransmitted, while pipe < cwnd. Nothing
  // waits at or below retransmit_skb_hint_, nor above lost_skb_hint_ (only sack_mark_lost marks
  // segments lost without retransmitting them).
  SkBuff* const end = lost_skb_hint_ != nullptr ? lost_skb_hint_->next : write_queue_.head;
  SkBuff* skb = retransmit_skb_hint_ != nullptr ? retransmit_skb_hint_->next : write_queue_.head;
  for (; skb != end && skb != nullptr && skb != send_head_; skb = skb->next) {
    if (in_flight() >= snd_cwnd_) break;
    auto& cb = tcp_cb(skb);
    if ((cb.sacked & detail::kCbLost) != 0 && (cb.sacked & (detail::kCbRetrans | detail::kCbSacked)) == 0) {
      xmit_skb(skb, true, now);
      cb.sacked |= detail::kCbRetrans;
      ++retrans_out_;
      ++stats_.fast_retransmits;
      arm_rto(now);
    }
    retransmit_skb_hint_ = skb;
  }
}

void TcpSock::clear_scoreboard() {
  for (SkBuff* skb = write_queue_.head; skb != nullptr && skb != send_head_; skb = skb->next) tcp_cb(skb).sacked = 0;
  sacked_out_ = lost_out_ = retrans_out_ = 0;
  reset_sack_hints();
}

void TcpSock::reset_sack_hints() {
  highest_sack_ = lost_skb_hint_ = retransmit_skb_hint_ = nullptr;
  lost_cnt_hint_ = 0;
  recv_sack_cache_len_ = 0;
}

std::string TcpSock::verify_scoreboard(std::span<const SackBlock> sacked) const {
  auto at = [](const char* what, const SkBuff* skb) {
    return std::string(what) + " (skb seq " + std::to_string(tcp_cb(skb).seq) + ")";
  };
  auto counts = [](const char* what, std::uint64_t have, std::uint64_t want) {
    return std::string(what) + " is " + std::to_string(have) + ", recounted " + std::to_string(want);
  };
  // The sent part, and the marks on it.
  std::vector<const SkBuff*> sent;
  std::uint32_t n_sacked = 0, n_lost = 0, n_retrans = 0;
  bool in_sent = true;
  for (const SkBuff* skb = write_queue_.head; skb != nullptr; skb = skb->next) {
    if (skb == send_head_) in_sent = false;
    const std::uint8_t m = tcp_cb(skb).sacked;
    if (!in_sent) {
      if (m != 0) return at("scoreboard marks on an skb not sent since the last rewind", skb);
      continue;
    }
    sent.push_back(skb);
    if ((m & detail::kCbSacked) != 0 && m != detail::kCbSacked) return at("SACKed and marked lost or retransmitted", skb);
    if ((m & detail::kCbRetrans) != 0 && (m & detail::kCbLost) == 0) return at("retransmitted but not marked lost", skb);
    n_sacked += (m & detail::kCbSacked) != 0 ? 1u : 0u;
    n_lost += (m & detail::kCbLost) != 0 ? 1u : 0u;
    n_retrans += (m & detail::kCbRetrans) != 0 ? 1u : 0u;
  }
  if (sacked_out_ != n_sacked) return counts("sacked_out", sacked_out_, n_sacked);
  if (lost_out_ != n_lost) return counts("lost_out", lost_out_, n_lost);
  if (retrans_out_ != n_retrans) return counts("retrans_out", retrans_out_, n_retrans);

  // IsLost the slow way: SACKed segments above each one, counted from the top.
  const std::size_t n = sent.size();
  std::vector<std::uint32_t> sacked_above(n);
  for (std::size_t i = n, above = 0; i-- > 0;) {
    sacked_above[i] = static_cast<std::uint32_t>(above);
    if ((tcp_cb(sent[i]).sacked & detail::kCbSacked) != 0) ++above;
  }
  auto index_of = [&](const SkBuff* hint) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < n; ++i) {
      if (sent[i] == hint) return i;
    }
    return std::nullopt;
  };
  const bool recovering = in_recovery_ && sack_ok_;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t m = tcp_cb(sent[i]).sacked;
    if (!recovering && (m & (detail::kCbLost | detail::kCbRetrans)) != 0) return at("marked lost outside recovery", sent[i]);
    if (!recovering || (m & detail::kCbSacked) != 0) continue;
    const bool is_lost = sacked_above[i] >= cfg_.dupthresh;
    if (is_lost && (m & detail::kCbLost) == 0) return at("IsLost but not marked lost", sent[i]);
    // Only entering recovery marks a segment lost without IsLost, and retransmits it with that.
    if (!is_lost && m == detail::kCbLost) return at("marked lost but not IsLost", sent[i]);
    if (m == detail::kCbLost && in_flight() < snd_cwnd_) return at("lost, not retransmitted, with room in cwnd", sent[i]);
  }

  // The hints' promises.
  std::optional<std::size_t> highest;
  for (std::size_t i = 0; i < n; ++i) {
    if ((tcp_cb(sent[i]).sacked & detail::kCbSacked) != 0) highest = i;
  }
  if (highest ? highest_sack_ != sent[*highest] : highest_sack_ != nullptr) return "highest_sack is not the highest SACKed skb";
  std::size_t lost_upto = 0;  // skbs at or below lost_skb_hint_
  if (lost_skb_hint_ != nullptr) {
    const auto i = index_of(lost_skb_hint_);
    if (!i) return "lost_skb_hint is not in the sent part";
    lost_upto = *i + 1;
  }
  std::uint32_t sacked_below = 0;
  for (std::size_t i = 0; i < lost_upto; ++i) {
    const std::uint8_t m = tcp_cb(sent[i]).sacked;
    if (m == 0) return at("neither SACKed nor lost at or below lost_skb_hint", sent[i]);
    if ((m & detail::kCbSacked) != 0) ++sacked_below;
  }
  if (lost_cnt_hint_ != sacked_below) return counts("lost_cnt_hint", lost_cnt_hint_, sacked_below);
  std::size_t retrans_upto = 0;
  if (retransmit_skb_hint_ != nullptr) {
    const auto i = index_of(retransmit_skb_hint_);
    if (!i) return "retransmit_skb_hint is not in the sent part";
    retrans_upto = *i + 1;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (tcp_cb(sent[i]).sacked != detail::kCbLost) continue;
    if (i < retrans_upto) return at("waits for a retransmission at or below retransmit_skb_hint", sent[i]);
    if (i >= lost_upto) return at("waits for a retransmission above lost_skb_hint", sent[i]);
  }

  // The cached SACK ranges, and the blocks the caller says were SACKed.
  auto whole_inside_unsacked = [&](const SackBlock& b) -> const SkBuff* {
    for (const SkBuff* skb : sent) {
      const auto& cb = tcp_cb(skb);
      if (seq_ge(cb.seq, b.left) && seq_le(cb.end_seq, b.right) && (cb.sacked & detail::kCbSacked) == 0) return skb;
    }
    return nullptr;
  };
  for (int k = 0; k < recv_sack_cache_len_; ++k) {
    if (const SkBuff* skb = whole_inside_unsacked(recv_sack_cache_[static_cast<std::size_t>(k)])) {
      return at("inside a cached SACK range but not SACKed", skb);
    }
  }
  for (const SackBlock& b : sacked) {
    if (const SkBuff* skb = whole_inside_unsacked(b)) return at("inside a SACK block but not SACKed", skb);
  }
  return {};
}

// ---- data ---------------------------------------------------------------------------------------------

void TcpSock::process_data(TcpSegment& seg, sim::TimePoint now) {
  SkBuff* skb = seg.skb;
  seg.skb = nullptr;
  std::uint32_t seq = seg.seq;
  std::uint32_t end_seq = seg.seq + seg.payload_len + (seg.has(kFin) ? 1u : 0u);
  std::uint32_t offset = 0;
  std::uint8_t fin = seg.has(kFin) ? kFin : 0;
  // Trim to the window (RFC 9293 §3.10.7.4, "segment text"): data before RCV.NXT and past the
  // right edge is dropped; a FIN past the edge is dropped with it.
  const std::uint32_t right = seq_max(rcv_wup_ + rcv_wnd_, rcv_nxt_);
  if (seq_gt(end_seq, right)) {
    end_seq = right;
    fin = 0;
  }
  if (seq_lt(seq, rcv_nxt_)) {
    offset = rcv_nxt_ - seq;
    seq = rcv_nxt_;
  }
  if (!seq_lt(seq, end_seq)) {  // nothing new
    core::kfree_skb(skb);
    schedule_ack(true, now);
    return;
  }
  if (skb == nullptr) {  // a bare FIN: an empty skb carries it through the queues
    skb = env_.tcp_alloc_skb();
    if (skb == nullptr) return;
  }
  const std::uint32_t payload = end_seq - seq - (fin ? 1u : 0u);
  if (rcv_queue_bytes_ + ooo_bytes_ + payload > cfg_.rcvbuf) {
    ++stats_.dropped_rcvbuf;  // the peer overran the window we offered
    core::kfree_skb(skb);
    schedule_ack(true, now);
    return;
  }
  auto& cb = tcp_cb(skb);
  cb = {};
  cb.seq = seq - offset;
  cb.end_seq = end_seq;
  cb.offset = offset;
  cb.tcp_flags = fin;
  if (seq == rcv_nxt_) {
    const bool had_ooo = !ooo_queue_.empty();
    const bool had_fin = fin_received_;
    queue_in_order(skb, now);
    ooo_drain(now);
    if (fin_received_ && !had_fin) return;  // process_fin() has acknowledged everything
    ++segs_since_ack_;
    // RFC 5681 §4.2: acknowledge at least every second segment; filling a hole at once.
    schedule_ack(had_ooo || segs_since_ack_ >= 2, now);
  } else {
    ++stats_.ooo_segments;
    last_ooo_seq_ = seq;
    ooo_insert(skb);
    schedule_ack(true, now);  // RFC 5681 §4.2: a duplicate ACK at once for out-of-order data
  }
}

void TcpSock::queue_in_order(SkBuff* skb, sim::TimePoint now) {
  auto& cb = tcp_cb(skb);
  const std::uint32_t payload = cb.end_seq - (cb.seq + cb.offset) - ((cb.tcp_flags & kFin) ? 1u : 0u);
  rcv_nxt_ = cb.end_seq;
  stats_.bytes_received += payload;
  if (packet_tracer != nullptr) trace_queue(*skb, payload, now, "tcp_queue_rcv");
  if (payload > 0) {
    rcv_queue_.push_back(skb);
    rcv_queue_bytes_ += payload;
  }
  if ((cb.tcp_flags & kFin) != 0) {
    if (payload == 0) core::kfree_skb(skb);
    process_fin(now);
  } else if (payload == 0) {
    core::kfree_skb(skb);
  }
}

// Packet tracing (sim/packet_trace.hpp): `payload` new bytes of the segment queued on the socket.
void TcpSock::trace_queue(const SkBuff& skb, std::uint32_t payload, sim::TimePoint now, const char* where) const {
  if (skb.trace_id == 0) return;
  const auto& cb = tcp_cb(&skb);
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kTcpQueue;
  e.id = skb.trace_id;
  e.seq = cb.seq + cb.offset;
  e.len = payload;
  e.note = where;
  packet_tracer->on_event(now, e);
}

void TcpSock::ooo_insert(SkBuff* skb) {
  auto& cb = tcp_cb(skb);
  std::uint32_t seq = cb.seq + cb.offset;
  // Find the first queued skb that ends after this one starts.
  SkBuff* pos = ooo_queue_.head;
  while (pos != nullptr && seq_le(tcp_cb(pos).end_seq, seq)) pos = pos->next;
  // Trim our front against the previous skb's end.
  if (pos != nullptr && seq_le(tcp_cb(pos).seq + tcp_cb(pos).offset, seq)) {
    if (seq_ge(tcp_cb(pos).end_seq, cb.end_seq)) {  // fully covered already
      core::kfree_skb(skb);
      return;
    }
    const std::uint32_t cut = tcp_cb(pos).end_seq - seq;
    cb.offset += cut;
    seq += cut;
    pos = pos->next;
  }
  // Drop queued skbs we cover entirely; trim our end against the next one.
  while (pos != nullptr && seq_le(tcp_cb(pos).end_seq, cb.end_seq) &&
         seq_ge(tcp_cb(pos).seq + tcp_cb(pos).offset, seq)) {
    SkBuff* covered = pos;
    pos = pos->next;
    const auto& ccb = tcp_cb(covered);
    ooo_bytes_ -= ccb.end_seq - (ccb.seq + ccb.offset) - ((ccb.tcp_flags & kFin) ? 1u : 0u);
    ooo_queue_.unlink(covered);
    core::kfree_skb(covered);
  }
  if (pos != nullptr && seq_lt(tcp_cb(pos).seq + tcp_cb(pos).offset, cb.end_seq)) {
    cb.end_seq = tcp_cb(pos).seq + tcp_cb(pos).offset;
    cb.tcp_flags &= static_cast<std::uint8_t>(~kFin);
  }
  const std::uint32_t payload = cb.end_seq - seq - ((cb.tcp_flags & kFin) ? 1u : 0u);
  ooo_bytes_ += payload;
  if (packet_tracer != nullptr) trace_queue(*skb, payload, packet_tracer->now(), "tcp_data_queue_ofo");
  ooo_queue_.insert_before(pos, skb);
}

void TcpSock::ooo_drain(sim::TimePoint now) {
  while (SkBuff* skb = ooo_queue_.head) {
    auto& cb = tcp_cb(skb);
    const std::uint32_t start = cb.seq + cb.offset;
    if (seq_gt(start, rcv_nxt_)) break;  // still a hole
    ooo_queue_.unlink(skb);
    ooo_bytes_ -= cb.end_seq - start - ((cb.tcp_flags & kFin) ? 1u : 0u);
    if (seq_le(cb.end_seq, rcv_nxt_)) {  // wholly old by now
      core::kfree_skb(skb);
      continue;
    }
    cb.offset += rcv_nxt_ - start;
    queue_in_order(skb, now);
  }
}

void TcpSock::process_fin(sim::TimePoint now) {
  fin_received_ = true;
  switch (state_) {
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
      set_state(TcpState::kCloseWait);
      break;
    case TcpState::kFinWait1: {
      const bool our_fin_acked = fin_queued_ && write_queue_.empty() && snd_una_ == write_seq_;
      if (our_fin_acked) enter_time_wait(now);
      else set_state(TcpState::kClosing);  // simultaneous close
      break;
    }
    case TcpState::kFinWait2:
      enter_time_wait(now);
      break;
    case TcpState::kTimeWait:
      timewait_at_ = now + cfg_.time_wait;  // restart the 2MSL timeout
      break;
    default:
      break;
  }
  send_ack(now);
}

void TcpSock::schedule_ack(bool immediate, sim::TimePoint now) {
  if (immediate || quickacks_left_ > 0) {
    if (quickacks_left_ > 0) --quickacks_left_;
    send_ack(now);
    return;
  }
  ack_pending_ = true;
  if (!delack_at_) delack_at_ = now + cfg_.delack;
}

void TcpSock::enter_time_wait(sim::TimePoint now) {
  // Both FINs are in: nothing is left to send, nothing more arrives in order. The receive queue
  // stays: in-order data that came with (or just before) the peer's FIN is still the
  // application's to read (RFC 9293 §3.10.7.4 signals "connection closing" only after pending
  // RECEIVEs; kernel: tcp_time_wait leaves the full socket and its queue to the owner). Purging it
  // here lost the answer to a half close. It goes when TIME-WAIT ends in CLOSED.
  for (Queue* q : {&write_queue_, &ooo_queue_}) {
    while (SkBuff* skb = q->head) {
      q->unlink(skb);
      core::kfree_skb(skb);
    }
  }
  send_head_ = nullptr;
  write_queue_bytes_ = ooo_bytes_ = 0;
  packets_out_ = 0;
  sacked_out_ = lost_out_ = retrans_out_ = 0;
  reset_sack_hints();
  rto_at_.reset();
  persist_at_.reset();
  delack_at_.reset();
  timewait_at_ = now + cfg_.time_wait;
  set_state(TcpState::kTimeWait);
}

}  // namespace nicemu::netstack::tcp
