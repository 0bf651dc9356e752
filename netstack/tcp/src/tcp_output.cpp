// TcpSock transmission: headers and options, ACKs, RSTs, the write loop with cwnd, the peer's
// window, Nagle and sender SWS avoidance; retransmission.
#include <algorithm>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/tcp/tcp_sock.hpp"
#include "tcp_internal.hpp"

namespace nicemu::netstack::tcp {

using core::SkBuff;
using detail::tcp_cb;

std::uint16_t TcpSock::advertised_window(bool syn) const {
  if (syn) return static_cast<std::uint16_t>(std::min<std::uint32_t>(rcv_wnd_, 65535));  // never scaled
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(rcv_wnd_ >> rcv_wscale_, 65535));
}

// Chooses the window to advertise now (kernel: tcp_select_window; RFC 9293 §3.8.6.2.2):
// never move the right edge left, and grow it only by at least min(rcvbuf/2, MSS).
void TcpSock::update_rcv_wnd() {
  const std::uint32_t queued = rcv_queue_bytes_ + ooo_bytes_;
  const std::uint32_t free_space = queued >= cfg_.rcvbuf ? 0 : cfg_.rcvbuf - queued;
  const std::uint32_t max_wnd = 65535u << rcv_wscale_;
  const std::uint32_t unit = 1u << rcv_wscale_;
  std::uint32_t cur = rcv_wnd_ > rcv_nxt_ - rcv_wup_ ? rcv_wnd_ - (rcv_nxt_ - rcv_wup_) : 0;
  std::uint32_t wnd = std::min(free_space, max_wnd) / unit * unit;
  if (wnd < cur) {
    wnd = (cur + unit - 1) / unit * unit;  // keep the promised right edge (rounded up to the scale)
  } else if (wnd - cur < std::min(cfg_.rcvbuf / 2, static_cast<std::uint32_t>(mss_now_))) {
    // Receiver SWS avoidance: too small an increase. This holds for a zero window too
    // (RFC 9293 §3.8.6.2.2; kernel __tcp_select_window advertises 0 below one MSS of free space):
    // reading a few bytes out of a full buffer must not offer a few-byte window.
    wnd = (cur + unit - 1) / unit * unit;
  }
  rcv_wnd_ = std::min(wnd, max_wnd);
  rcv_wup_ = rcv_nxt_;
}

void TcpSock::fill_syn_options(TcpSegment& seg, bool syn_ack) const {
  seg.opt.mss = cfg_.mss;
  if (syn_ack ? wscale_ok_ : cfg_.window_scaling) seg.opt.window_scale = rcv_wscale_;
  seg.opt.sack_permitted = syn_ack ? sack_ok_ : cfg_.sack;
}

void TcpSock::build_sack_blocks(TcpSegment& seg) const {
  if (!sack_ok_ || ooo_queue_.empty()) return;
  // With timestamps there is room for 3 blocks, without for 4 (40 bytes of options).
  const int max_blocks = ts_ok_ ? 3 : 4;
  // Merge the out-of-order queue into contiguous blocks, in sequence order.
  SackBlock blocks[64];
  int n = 0;
  for (const SkBuff* s = ooo_queue_.head; s != nullptr; s = s->next) {
    const auto& cb = tcp_cb(s);
    const std::uint32_t start = cb.seq + cb.offset;
    if (n > 0 && seq_le(start, blocks[n - 1].right)) {
      blocks[n - 1].right = seq_max(blocks[n - 1].right, cb.end_seq);
    } else if (n < 64) {
      blocks[n++] = {start, cb.end_seq};
    }
  }
  // RFC 2018 §4: the first block holds the segment that triggered this ACK.
  int first = n - 1;
  for (int i = 0; i < n; ++i) {
    if (seq_in(last_ooo_seq_, blocks[i].left, blocks[i].right)) first = i;
  }
  seg.opt.sack_blocks[0] = blocks[first];
  seg.opt.sack_count = 1;
  for (int i = n - 1; i >= 0 && seg.opt.sack_count < max_blocks; --i) {
    if (i != first) seg.opt.sack_blocks[seg.opt.sack_count++] = blocks[i];
  }
}

void TcpSock::fill_header(TcpSegment& seg, std::uint32_t seq, std::uint8_t flags, sim::TimePoint now) {
  seg.sport = sport_;
  seg.dport = dport_;
  seg.seq = seq;
  seg.flags = flags;
  const bool syn = (flags & kSyn) != 0;
  if ((flags & kAck) != 0) {
    seg.ack = rcv_nxt_;
    if (!syn) update_rcv_wnd();
    ack_pending_ = false;
    segs_since_ack_ = 0;
    delack_at_.reset();
  }
  seg.window = advertised_window(syn);
  if (syn ? (((flags & kAck) != 0) ? ts_ok_ : cfg_.timestamps) : ts_ok_) {
    seg.opt.timestamps = TcpTimestamps{tsval(now), (flags & kAck) != 0 ? ts_recent_ : 0};
  }
  if (!syn && (flags & kAck) != 0) {
    build_sack_blocks(seg);
    stats_.sack_blocks_sent += seg.opt.sack_count;
  }
}

void TcpSock::send_syn(sim::TimePoint now, bool syn_ack) {
  TcpSegment seg;
  fill_syn_options(seg, syn_ack);
  fill_header(seg, iss_, syn_ack ? static_cast<std::uint8_t>(kSyn | kAck) : kSyn, now);
  syn_sent_at_ = now;
  env_.tcp_output(*this, seg, now);
  ++stats_.segs_out;
}

void TcpSock::send_ack(sim::TimePoint now) {
  TcpSegment seg;
  fill_header(seg, snd_nxt_, kAck, now);
  env_.tcp_output(*this, seg, now);
  ++stats_.segs_out;
}

void TcpSock::send_challenge_ack(sim::TimePoint now) {
  ++stats_.challenge_acks;
  send_ack(now);
}

void TcpSock::send_rst(std::uint32_t seq, std::uint32_t ack, bool with_ack, sim::TimePoint now) {
  TcpSegment seg;
  seg.sport = sport_;
  seg.dport = dport_;
  seg.seq = seq;
  seg.ack = with_ack ? ack : 0;
  seg.flags = with_ack ? static_cast<std::uint8_t>(kRst | kAck) : kRst;
  env_.tcp_output(*this, seg, now);
  ++stats_.segs_out;
  ++stats_.rst_out;
}

bool TcpSock::nagle_allows(const SkBuff* skb) const {
  // RFC 896 with Minshall's variant, as the kernel's tcp_nagle_check / tcp_minshall_check: hold a
  // sub-MSS segment only while an earlier sub-MSS segment is unacknowledged (snd_sml, the end of
  // the last small segment sent, lies in (snd_una, snd_nxt]). So the tail of a write goes out at
  // once behind full-sized segments instead of waiting for their (delayed) ACK.
  if (cfg_.nodelay) return true;
  if ((tcp_cb(skb).tcp_flags & kFin) != 0) return true;
  if (skb->len() >= mss_now_) return true;
  const bool small_unacked = seq_gt(snd_sml_, snd_una_) && seq_le(snd_sml_, snd_nxt_);
  return packets_out_ == 0 || !small_unacked;
}

void TcpSock::xmit_skb(SkBuff* skb, bool retransmit, sim::TimePoint now) {
  auto& cb = tcp_cb(skb);
  TcpSegment seg;
  std::uint8_t flags = kAck;
  if ((cb.tcp_flags & kFin) != 0) flags |= kFin;
  if (skb->len() > 0 && skb->next == nullptr) flags |= kPsh;
  fill_header(seg, cb.seq, flags, now);
  if (skb->len() > 0) {
    seg.skb = core::skb_clone(*skb);
    NICEMU_ASSERT(seg.skb != nullptr, "tcp: no skb for a clone (the skb allocator limit is too low)");
    core::skb_set_tx_owner(*seg.skb, *tsq_);  // kernel: skb_set_owner_w() in __tcp_transmit_skb
    seg.payload_len = skb->len();
  }
  cb.sent_ps = now.ps();
  if (retransmit) {
    cb.retransmitted = 1;
    ++stats_.retransmits;
  }
  stats_.bytes_sent += skb->len();
  env_.tcp_output(*this, seg, now);
  ++stats_.segs_out;
}

void TcpSock::write_xmit(sim::TimePoint now) {
  if (state_ != TcpState::kEstablished && state_ != TcpState::kCloseWait && state_ != TcpState::kFinWait1 &&
      state_ != TcpState::kLastAck && state_ != TcpState::kClosing) {
    return;
  }
  // Full-sized new segments that may go now leave together as one GSO skb when the device has
  // TSO (kernel: tcp_write_xmit sends skbs of up to the size goal, tcp_xmit_size_goal); the
  // write queue keeps one skb per segment, so SACK, loss marking and retransmission stay per MSS.
  GsoBatch batch;
  const std::uint32_t max_segs = gso_size_goal_segs();
  while (SkBuff* skb = send_head_) {
    auto& cb = tcp_cb(skb);
    if (in_flight() >= snd_cwnd_) break;  // congestion window full (RFC 6675 pipe)
    const std::uint32_t wnd_end = snd_una_ + snd_wnd_;
    const std::uint32_t data_end = cb.seq + skb->len();
    // A bare FIN needs one octet of window too: it occupies sequence space, and a receiver with
    // a zero window drops it (RFC 9293 §3.10.7.4), so sent now it would only wear the RTO down
    // (retries2); held, the persist timer probes (kernel: tcp_snd_wnd_test counts the FIN).
    if (skb->len() == 0 && !seq_lt(cb.seq, wnd_end)) break;
    if (skb->len() > 0 && seq_gt(data_end, wnd_end)) {
      // Only part fits in the peer's window. Sender SWS (RFC 9293 §3.8.6.2.1): send a part only
      // if it is at least an MSS or half the largest window the peer ever offered.
      const std::uint32_t room = seq_gt(wnd_end, cb.seq) ? wnd_end - cb.seq : 0;
      if (room == 0 || (room < mss_now_ && room < max_window_ / 2) || !split_skb(skb, room)) break;
    }
    if (!nagle_allows(skb)) break;
    // kernel: tcp_small_queue_check(): enough of this socket waits in qdiscs and rings already.
    if (tsq_->bytes + batch.bytes >= cfg_.limit_output_bytes) {
      tsq_->throttled = true;
      break;
    }
    const bool batchable = max_segs > 1 && skb->len() == mss_now_ && (cb.tcp_flags & kFin) == 0 &&
                           !seq_lt(cb.seq, snd_max_);  // new data only
    if (batchable) {
      if (!batch.fits(*skb, max_segs)) flush_gso(batch, now);
      batch.add(skb);
      transmit_new(skb, now, /*deferred=*/true);
      continue;
    }
    flush_gso(batch, now);
    transmit_new(skb, now);
  }
  flush_gso(batch, now);
  // Data waiting and nothing in flight: the window (zero, or too small for sender SWS avoidance)
  // holds it, and only a window update the peer may lose would release it. Probe (kernel:
  // tcp_check_probe_timer arms whenever packets_out is 0 and the queue is not empty; with nothing
  // in flight neither cwnd nor Nagle can be what stopped us).
  if (send_head_ != nullptr && packets_out_ == 0 && !persist_at_) {
    sim::Duration d = rto_;
    for (std::uint32_t i = 0; i < backoff_ && d < cfg_.rto_max; ++i) d = d * 2;
    persist_at_ = now + std::min(d, cfg_.rto_max);
  }
}

// Sends the skb at send_head_ and advances it (the bookkeeping of tcp_event_new_data_sent).
// `deferred`: the skb is in a GSO batch that flush_gso() sends.
void TcpSock::transmit_new(SkBuff* skb, sim::TimePoint now, bool deferred) {
  auto& cb = tcp_cb(skb);
  const bool retransmit = seq_lt(cb.seq, snd_max_);
  if (!deferred) xmit_skb(skb, retransmit, now);
  if (seq_gt(cb.end_seq, snd_nxt_)) snd_nxt_ = cb.end_seq;
  if (seq_gt(snd_nxt_, snd_max_)) snd_max_ = snd_nxt_;
  if (skb->len() < mss_now_) snd_sml_ = cb.end_seq;  // tcp_minshall_update
  ++packets_out_;
  send_head_ = skb->next;
  if (!rto_at_) arm_rto(now);
}

// ---- GSO --------------------------------------------------------------------------------------------------

// Segments per GSO skb (kernel: tcp_xmit_size_goal): the device's gso_max_size less
// MAX_TCP_HEADER and one byte, at most half the largest window the peer offered
// (tcp_bound_to_half_wnd), in whole MSS, at most gso_max_segs. 1: no GSO. The kernel's
// tcp_tso_autosize (about 1 ms of data at the pacing rate) is not modelled: at these rates it
// asks for more than gso_max_size anyway.
std::uint32_t TcpSock::gso_size_goal_segs() const {
  if (gso_.max_segs <= 1 || gso_.max_size <= 321 || mss_now_ == 0) return 1;
  std::uint32_t goal = gso_.max_size - 1 - 320;
  const std::uint32_t cutoff = max_window_ > 536 ? max_window_ / 2 : max_window_;
  goal = std::min(goal, std::max(cutoff, static_cast<std::uint32_t>(mss_now_)));
  return std::max<std::uint32_t>(1, std::min(goal / mss_now_, gso_.max_segs));
}

namespace {
// A frag that starts where the previous one ends, in the same netmem, joins it in a GSO skb.
bool continues(const core::SkbFrag& f, netmem::NetmemRef prev, std::uint32_t prev_end) {
  return f.netmem == prev && f.offset == prev_end;
}
}  // namespace

// The frags `skb` adds to the batch: one per frag, less one where it continues the previous.
int TcpSock::GsoBatch::new_frags(const SkBuff& skb) const {
  int n = 0;
  netmem::NetmemRef prev = count > 0 ? last_netmem : netmem::NetmemRef::none();
  std::uint32_t end = last_end;
  for (int i = 0; i < skb.nr_frags(); ++i) {
    const core::SkbFrag& f = skb.frag(i);
    if (prev.is_none() || !continues(f, prev, end)) ++n;
    prev = f.netmem;
    end = f.offset + f.len;
  }
  return n;
}

bool TcpSock::GsoBatch::fits(const SkBuff& skb, std::uint32_t max_segs) const {
  if (count == 0) return true;
  // One skb holds one zero-copy notification and is readable or not as a whole.
  if (skb.zcopy != first->zcopy || skb.unreadable != first->unreadable) return false;
  return count + 1 <= max_segs && nr_frags + new_frags(skb) <= core::kMaxSkbFrags;
}

void TcpSock::GsoBatch::add(SkBuff* skb) {
  nr_frags += new_frags(*skb);
  if (count == 0) first = skb;
  ++count;
  bytes += skb->len();
  if (skb->nr_frags() > 0) {
    const core::SkbFrag& f = skb->frag(skb->nr_frags() - 1);
    last_netmem = f.netmem;
    last_end = f.offset + f.len;
  }
}

void TcpSock::flush_gso(GsoBatch& b, sim::TimePoint now) {
  if (b.count == 0) return;
  if (b.count == 1) {
    xmit_skb(b.first, false, now);
  } else {
    xmit_gso(b.first, b.count, now);
  }
  b = GsoBatch{};
}

// One skb for `count` consecutive full-sized segments from `first` on: their frags, referenced
// once more and joined where they touch, under one header (kernel: a TSO skb of gso_segs
// segments; the device cuts it and fixes each copy of the header).
void TcpSock::xmit_gso(SkBuff* first, std::uint32_t count, sim::TimePoint now) {
  SkBuff* last = first;
  for (std::uint32_t k = 1; k < count; ++k) last = last->next;
  std::uint8_t flags = kAck;
  if (last->next == nullptr) flags |= kPsh;  // the device sets PSH on the last segment only
  TcpSegment seg;
  fill_header(seg, tcp_cb(first).seq, flags, now);
  SkBuff* g = env_.tcp_alloc_skb();
  NICEMU_ASSERT(g != nullptr, "tcp: no skb for a GSO skb (the skb allocator limit is too low)");
  SkBuff* s = first;
  for (std::uint32_t k = 0; k < count; ++k, s = s->next) {
    for (int i = 0; i < s->nr_frags(); ++i) {
      const core::SkbFrag& f = s->frag(i);
      const int at = g->nr_frags() - 1;
      if (at >= 0 && continues(f, g->frag(at).netmem, g->frag(at).offset + g->frag(at).len)) {
        g->coalesce_rx_frag(at, f.len, 0);
      } else {
        core::skb_frag_ref(*s, i);
        g->add_rx_frag(f.netmem, f.offset, f.len, 0);
      }
    }
    tcp_cb(s).sent_ps = now.ps();
    stats_.bytes_sent += s->len();
  }
  g->zcopy = first->zcopy;  // the batch shares one notification (GsoBatch::fits)
  core::net_zcopy_get(g->zcopy);
  core::skb_set_tx_owner(*g, *tsq_);  // kernel: skb_set_owner_w() in __tcp_transmit_skb
  seg.skb = g;
  seg.payload_len = g->len();
  seg.gso_size = mss_now_;
  env_.tcp_output(*this, seg, now);
  stats_.segs_out += count;  // as tcp_skb_pcount() counts a TSO skb
  ++stats_.gso_skbs_out;
}

// Splits the payload of an unsent skb after `len` bytes into a new skb queued right after it
// (kernel: tcp_fragment). False when no skb could be allocated.
bool TcpSock::split_skb(SkBuff* skb, std::uint32_t len) {
  SkBuff* rest = env_.tcp_alloc_skb();
  if (rest == nullptr) return false;
  core::skb_split(*skb, *rest, len);
  auto& cb = tcp_cb(skb);
  auto& rcb = tcp_cb(rest);
  rcb = {};
  rcb.seq = cb.seq + len;
  rcb.end_seq = cb.end_seq;
  rcb.tcp_flags = cb.tcp_flags;
  cb.end_seq = cb.seq + len;
  cb.tcp_flags = 0;
  write_queue_.insert_before(skb->next, rest);
  return true;
}

void TcpSock::retransmit_head(sim::TimePoint now) {
  SkBuff* head = write_queue_.head;
  if (head == nullptr || head == send_head_) return;
  xmit_skb(head, true, now);
}

}  // namespace nicemu::netstack::tcp
