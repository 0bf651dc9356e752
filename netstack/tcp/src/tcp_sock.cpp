// TcpSock: opening, the application interface, timers and queues. Segment arrival is in
// tcp_input.cpp, transmission in tcp_output.cpp.
#include "nicemu/netstack/tcp/tcp_sock.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>

#include "nicemu/base/byte_worker.hpp"
#include "nicemu/base/stream_copy.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "tcp_internal.hpp"

namespace nicemu::netstack::tcp {

using core::SkBuff;
using detail::tcp_cb;

namespace {
// Write-queue depth from which send() copies with streaming stores (see there).
constexpr std::uint32_t kStreamingCopyQueued = 1u << 20;
}  // namespace

const char* to_string(TcpState s) {
  switch (s) {
    case TcpState::kClosed: return "CLOSED";
    case TcpState::kListen: return "LISTEN";
    case TcpState::kSynSent: return "SYN-SENT";
    case TcpState::kSynReceived: return "SYN-RECEIVED";
    case TcpState::kEstablished: return "ESTABLISHED";
    case TcpState::kFinWait1: return "FIN-WAIT-1";
    case TcpState::kFinWait2: return "FIN-WAIT-2";
    case TcpState::kCloseWait: return "CLOSE-WAIT";
    case TcpState::kClosing: return "CLOSING";
    case TcpState::kLastAck: return "LAST-ACK";
    case TcpState::kTimeWait: return "TIME-WAIT";
  }
  return "?";
}

// ---- queues ---------------------------------------------------------------------------------------

void TcpSock::Queue::push_back(SkBuff* skb) {
  skb->next = nullptr;
  skb->prev = tail;
  if (tail != nullptr) tail->next = skb; else head = skb;
  tail = skb;
  ++len;
}

void TcpSock::Queue::insert_before(SkBuff* pos, SkBuff* skb) {
  if (pos == nullptr) {
    push_back(skb);
    return;
  }
  skb->next = pos;
  skb->prev = pos->prev;
  if (pos->prev != nullptr) pos->prev->next = skb; else head = skb;
  pos->prev = skb;
  ++len;
}

void TcpSock::Queue::unlink(SkBuff* skb) {
  if (skb->prev != nullptr) skb->prev->next = skb->next; else head = skb->next;
  if (skb->next != nullptr) skb->next->prev = skb->prev; else tail = skb->prev;
  skb->next = skb->prev = nullptr;
  --len;
}

// ---- lifetime -----------------------------------------------------------------------------------------

TcpSock::TcpSock(TcpSockEnv& env, const TcpConfig& config)
    : env_(env), cfg_(config), cc_(make_congestion_ops(config.congestion)) {
  rto_ = cfg_.rto_initial;
  snd_cwnd_ = cfg_.init_cwnd;
}

TcpSock::~TcpSock() {
  purge_queues();
  release_user_frags();
  // Notifications still in flight (skbs in rings) outlive the socket: disown them.
  for (core::UbufInfo* u = zc_inflight_; u != nullptr; u = u->next_owned) u->owner = nullptr;
  core::skb_tx_owner_put(tsq_);  // skbs still in a ring keep the owner alive until freed
}

void TcpSock::purge_queues() {
  for (Queue* q : {&write_queue_, &rcv_queue_, &ooo_queue_}) {
    while (SkBuff* skb = q->head) {
      q->unlink(skb);
      core::kfree_skb(skb);
    }
  }
  send_head_ = nullptr;
  write_queue_bytes_ = rcv_queue_bytes_ = ooo_bytes_ = 0;
  packets_out_ = 0;
  sacked_out_ = lost_out_ = retrans_out_ = 0;
  reset_sack_hints();
  if (frag_page_ != nullptr) {
    netmem::put_page(*frag_page_);
    frag_page_ = nullptr;
  }
}

void TcpSock::set_state(TcpState s) {
  if (s == state_) return;
  const TcpState old = state_;
  state_ = s;
  // kernel: tcp_init_transfer() -> tcp_init_buffer_space() sizes the send buffer at establishment.
  if (s == TcpState::kEstablished && !cfg_.sndbuf_locked) sndbuf_expand();
  // kernel: sk_setup_caps() when the route is set: the device's TSO and GSO limits.
  if (s == TcpState::kEstablished) gso_ = env_.tcp_gso_caps(*this);
  // kernel: tcp_done / tcp_time_wait destroy an orphaned socket (tcp_v4_destroy_sock releases
  // its tokens); one the application still holds is destroyed when it closes (close() below).
  if (user_closed_ && (s == TcpState::kClosed || s == TcpState::kTimeWait)) release_user_frags();
  if (s == TcpState::kClosed) {
    rto_at_.reset();
    delack_at_.reset();
    persist_at_.reset();
    timewait_at_.reset();
  }
  env_.tcp_state_change(*this, old);
}

void TcpSock::reset_connection(int err) {
  // kernel: tcp_reset(): ECONNREFUSED in SYN-SENT, EPIPE in CLOSE-WAIT, else ECONNRESET. It
  // purges the write queue and calls tcp_done; what already arrived in order stays readable,
  // ahead of the error (tcp_recvmsg reads the receive queue before it reports sk_err).
  so_error_ = err;
  Queue keep = rcv_queue_;
  const std::uint32_t keep_bytes = rcv_queue_bytes_;
  rcv_queue_ = Queue{};
  purge_queues();
  rcv_queue_ = keep;
  rcv_queue_bytes_ = keep_bytes;
  set_state(TcpState::kClosed);
}

std::uint32_t TcpSock::tsval(sim::TimePoint now) const {
  // A millisecond timestamp clock (Linux's default TS clock), offset per connection.
  return static_cast<std::uint32_t>(now.ps() / 1'000'000'000) + ts_offset_;
}

// ---- opening --------------------------------------------------------------------------------------------

int TcpSock::connect(std::uint32_t iss, sim::TimePoint now) {
  if (state_ == TcpState::kSynSent || state_ == TcpState::kSynReceived) return -EALREADY;
  if (state_ != TcpState::kClosed) return -EISCONN;
  iss_ = iss;
  snd_una_ = iss;
  snd_nxt_ = iss + 1;
  snd_max_ = iss + 1;
  high_seq_ = iss;
  snd_sml_ = iss;
  write_seq_ = iss + 1;
  ts_offset_ = iss * 2654435761u;  // a per-connection TS offset derived from the ISN
  // Our window scale: the smallest shift that fits the receive buffer in 16 bits (max 14).
  rcv_wscale_ = 0;
  if (cfg_.window_scaling) {
    while (rcv_wscale_ < 14 && (cfg_.rcvbuf >> rcv_wscale_) > 65535) ++rcv_wscale_;
  }
  rcv_wnd_ = std::min<std::uint32_t>(cfg_.rcvbuf, 65535u << rcv_wscale_);
  set_state(TcpState::kSynSent);
  syn_tries_ = 0;
  send_syn(now, false);
  rto_ = cfg_.rto_initial;
  arm_rto(now);
  return 0;
}

int TcpSock::listen() {
  if (state_ != TcpState::kClosed && state_ != TcpState::kListen) return -EINVAL;
  set_state(TcpState::kListen);
  return 0;
}

void TcpSock::accept_syn(const TcpSegment& syn, std::uint32_t iss, sim::TimePoint now) {
  NICEMU_ASSERT(state_ == TcpState::kClosed, "accept_syn on a socket that is in use");
  sport_ = syn.dport;
  dport_ = syn.sport;
  iss_ = iss;
  snd_una_ = iss;
  snd_nxt_ = iss + 1;
  snd_max_ = iss + 1;
  high_seq_ = iss;
  snd_sml_ = iss;
  write_seq_ = iss + 1;
  ts_offset_ = iss * 2654435761u;
  irs_ = syn.seq;
  rcv_nxt_ = syn.seq + 1;
  copied_seq_ = rcv_nxt_;
  rcv_wscale_ = 0;
  if (cfg_.window_scaling && syn.opt.window_scale) {
    while (rcv_wscale_ < 14 && (cfg_.rcvbuf >> rcv_wscale_) > 65535) ++rcv_wscale_;
  }
  rcv_wnd_ = std::min<std::uint32_t>(cfg_.rcvbuf, 65535u << rcv_wscale_);
  rcv_wup_ = rcv_nxt_;
  init_from_syn_options(syn, now);
  snd_wnd_ = syn.window;  // the window in a SYN is never scaled (RFC 7323 §2.2)
  max_window_ = snd_wnd_;
  snd_wl1_ = syn.seq;
  snd_wl2_ = iss;
  set_state(TcpState::kSynReceived);
  syn_tries_ = 0;
  send_syn(now, true);
  rto_ = cfg_.rto_initial;
  arm_rto(now);
}

void TcpSock::init_from_syn_options(const TcpSegment& syn, sim::TimePoint now) {
  const std::uint16_t peer_mss = syn.opt.mss.value_or(536);  // RFC 9293 §3.7.1 default
  mss_now_ = std::min(cfg_.mss, peer_mss);
  mss_clamp_ = mss_now_;  // rx_opt.mss_clamp: before the timestamp option takes its share
  wscale_ok_ = cfg_.window_scaling && syn.opt.window_scale.has_value();
  if (wscale_ok_) {
    snd_wscale_ = std::min<std::uint8_t>(*syn.opt.window_scale, 14);  // RFC 7323 §2.3
  } else {
    snd_wscale_ = 0;
    rcv_wscale_ = 0;
  }
  sack_ok_ = cfg_.sack && syn.opt.sack_permitted;
  ts_ok_ = cfg_.timestamps && syn.opt.timestamps.has_value();
  if (ts_ok_) {
    ts_recent_ = syn.opt.timestamps->tsval;
    ts_recent_stamp_ = now;
    mss_now_ = static_cast<std::uint16_t>(mss_now_ - 12);  // TCPOLEN_TSTAMP_ALIGNED
  }
  mss_now_ = std::max<std::uint16_t>(mss_now_, 48);  // TCP_MIN_SND_MSS
  snd_cwnd_ = cfg_.init_cwnd;
  snd_cwnd_cnt_ = 0;
  snd_ssthresh_ = 0x7fffffff;
  quickacks_left_ = cfg_.quickacks;
}

// ---- the application interface ------------------------------------------------------------------------------

std::uint32_t TcpSock::bytes_unsent() const {
  std::uint32_t n = 0;
  for (const SkBuff* s = send_head_; s != nullptr; s = s->next) n += s->len();
  return n;
}

std::size_t TcpSock::ooo_segments() const { return ooo_queue_.len; }

namespace {
// send()'s copies from the caller's buffer into pages, run by the byte worker (set_copy_offload).
struct SendCopyJob {
  static constexpr std::size_t kMaxPieces = 8;
  std::array<std::byte*, kMaxPieces> to{};
  std::array<const std::byte*, kMaxPieces> from{};
  std::array<std::uint32_t, kMaxPieces> len{};
  std::uint32_t n = 0;
  bool streaming = false;
  void operator()() const {
    for (std::uint32_t i = 0; i < n; ++i) {
      if (i > 0) base::ByteWorker::get().yield_to_foreground();
      if (streaming) base::copy_streaming(to[i], from[i], len[i]);
      else std::memcpy(to[i], from[i], len[i]);
    }
  }
};

// Collects one send()'s pieces into jobs of up to kMaxPieces and tags each page with its job.
class SendCopier {
 public:
  SendCopier(bool on, bool streaming) : on_(on) { job_.streaming = streaming; }
  ~SendCopier() { flush(); }
  bool on() const { return on_; }
  SendCopier(const SendCopier&) = delete;
  SendCopier& operator=(const SendCopier&) = delete;
  void add(netmem::Page& page, std::uint32_t off, const std::byte* from, std::uint32_t len) {
    if (job_.n == SendCopyJob::kMaxPieces) flush();
    job_.to[job_.n] = netmem::page_address_for_job(page).data() + off;
    job_.from[job_.n] = from;
    job_.len[job_.n] = len;
    pages_[job_.n++] = &page;
  }
  void flush() {
    if (job_.n == 0) return;
    const std::uint64_t seq = base::ByteWorker::get().run_background(job_);
    for (std::uint32_t i = 0; i < job_.n; ++i) pages_[i]->note_byte_job(seq);
    job_.n = 0;
  }

 private:
  bool on_;
  SendCopyJob job_;
  std::array<netmem::Page*, SendCopyJob::kMaxPieces> pages_{};
};
}  // namespace

// kernel: sk_page_frag_refill() -> skb_page_frag_refill(32, &sk->sk_frag, ...). A page only the
// socket still references (every skb that used it is gone) is filled again from its start; one
// with at least 32 bytes left is kept; otherwise the socket drops its reference and takes a
// 32 KiB compound page (SKB_FRAG_PAGE_ORDER; the kernel asks without retrying) or, when none is
// free, a single page. False when not even that is left.
bool TcpSock::page_frag_refill() {
  constexpr std::uint32_t kMinRoom = 32;
  if (frag_page_ != nullptr) {
    if (frag_page_->ref_count() == 1) {
      frag_page_->settle_byte_jobs();  // a byte worker job may still read its old bytes
      frag_off_ = 0;
      return true;
    }
    if (frag_off_ + kMinRoom <= frag_page_->size_bytes()) return true;
    netmem::put_page(*frag_page_);
  }
  frag_off_ = 0;
  netmem::HostMemory& mem = env_.tcp_memory();
  frag_page_ = mem.alloc_pages_noretry(core::kSkbFragPageOrder);
  if (frag_page_ == nullptr) frag_page_ = mem.alloc_pages(0);
  return frag_page_ != nullptr;
}

int TcpSock::send(std::span<const std::byte> data, sim::TimePoint now, core::UbufInfo* uarg, bool copy_offload) {
  if (so_error_ != 0) return take_error();
  if (state_ == TcpState::kSynSent || state_ == TcpState::kSynReceived) return -EAGAIN;
  if ((state_ != TcpState::kEstablished && state_ != TcpState::kCloseWait) || shut_wr_) return -EPIPE;
  if (data.empty()) return 0;
  SendCopier offload(copy_offload && base::ByteWorker::get().threaded(), write_queue_bytes_ >= kStreamingCopyQueued);
  std::size_t copied = 0;
  while (copied < data.size()) {
    if (write_queue_bytes_ >= cfg_.sndbuf) break;
    const std::uint32_t space = cfg_.sndbuf - write_queue_bytes_;
    // Append to the tail skb while it is unsent, has no FIN, holds less than one MSS, belongs to
    // the same zero-copy notification (kernel: skb_zcopy_set refuses another) and is readable.
    SkBuff* skb = writable_tail(uarg, /*devmem=*/false);
    if (skb == nullptr) skb = new_write_skb();
    if (skb == nullptr) break;
    if (!page_frag_refill()) break;
    const int last = skb->nr_frags() - 1;
    const bool contiguous = last >= 0 && skb->frag(last).netmem.to_page() == frag_page_ &&
                            skb->frag(last).offset + skb->frag(last).len == frag_off_;
    if (!contiguous && skb->nr_frags() == core::kMaxSkbFrags) {
      skb = new_write_skb();  // out of frag slots: start another skb
      if (skb == nullptr) break;
    }
    if (uarg != nullptr && skb->zcopy == nullptr) {
      skb->zcopy = uarg;  // kernel: skb_zcopy_set()
      core::net_zcopy_get(uarg);
    }
    std::uint32_t n = static_cast<std::uint32_t>(std::min<std::size_t>(data.size() - copied, mss_now_ - skb->len()));
    n = std::min(n, static_cast<std::uint32_t>(frag_page_->size_bytes()) - frag_off_);
    n = std::min(n, space);
    // copy_from_user. Bytes queued behind a deep write queue are not read until the NIC gets
    // to them, megabytes later: streaming stores keep them out of the caches the next events
    // use (the simulator's speed only; the bytes are the same).
    if (offload.on()) {
      offload.add(*frag_page_, frag_off_, data.data() + copied, n);
    } else {
      std::byte* const dst = netmem::page_address(*frag_page_).data() + frag_off_;
      if (write_queue_bytes_ >= kStreamingCopyQueued) base::copy_streaming(dst, data.data() + copied, n);
      else std::memcpy(dst, data.data() + copied, n);
    }
    if (contiguous && skb == write_queue_.tail && last == skb->nr_frags() - 1) {
      skb->coalesce_rx_frag(last, n, n);
    } else {
      netmem::get_page(*frag_page_);
      skb->add_rx_frag(netmem::NetmemRef::from_page(*frag_page_), frag_off_, n, n);
    }
    frag_off_ += n;
    tcp_cb(skb).end_seq += n;
    write_seq_ += n;
    write_queue_bytes_ += n;
    copied += n;
  }
  offload.flush();  // the last job goes to the worker before anything can transmit the pages
  if (copied == 0) return -EAGAIN;
  write_xmit(now);
  return static_cast<int>(copied);
}

int TcpSock::recvmsg(std::span<std::byte> out, DevmemCmsgSink* devmem, sim::TimePoint now, int* last_unreadable_io,
                     RecvMode mode, std::uint32_t peek_skip) {
  if (state_ == TcpState::kListen) return -ENOTCONN;
  if (rcv_queue_.empty()) {
    if (so_error_ != 0) return take_error();
    return (fin_received_ || state_ == TcpState::kClosed) ? 0 : -EAGAIN;
  }
  const bool peek = mode == RecvMode::kPeek || mode == RecvMode::kPeekTruncate;
  const bool copy = mode == RecvMode::kConsume || mode == RecvMode::kPeek;
  const std::uint32_t window_before = rcv_wnd_ - (rcv_nxt_ - rcv_wup_);
  std::size_t copied = 0;   // bytes received (kernel: copied), frags included
  std::size_t iov_pos = 0;  // bytes written to `out` (differs from copied for devmem skbs)
  int last_unreadable_local = -1;
  int& last_unreadable = last_unreadable_io != nullptr ? *last_unreadable_io : last_unreadable_local;  // kernel: last_copied_dmabuf
  SkBuff* next = rcv_queue_.head;
  std::uint32_t skip = peek ? peek_skip : 0;  // MSG_PEEK: bytes already peeked by this call
  while (copied < out.size() && next != nullptr) {
    SkBuff* skb = next;
    next = skb->next;
    auto& cb = tcp_cb(skb);
    std::uint32_t avail = cb.end_seq - cb.seq - ((cb.tcp_flags & kFin) ? 1u : 0u) - cb.offset;
    if (skip >= avail) {  // peeked before
      skip -= avail;
      continue;
    }
    const std::uint32_t from = cb.offset + skip;
    avail -= skip;
    skip = 0;
    std::uint32_t n = static_cast<std::uint32_t>(std::min<std::size_t>(avail, out.size() - copied));
    bool partial = false;
    // MSG_TRUNC: the bytes are dropped, not copied (kernel: the copy block is skipped whole, so
    // devmem data goes too, without tokens and without EFAULT).
    if (n > 0 && copy) {
      const int unreadable = skb->unreadable ? 1 : 0;
      if (last_unreadable != -1 && last_unreadable != unreadable) break;  // never mix in one call
      if (unreadable == 0) {
        if (core::skb_copy_datagram_iter(*skb, static_cast<int>(from), out.subspan(iov_pos, n)) != 0) {
          if (copied == 0) return -EFAULT;
          break;
        }
        iov_pos += n;
      } else if (devmem == nullptr) {
        // Unreadable (devmem) payload needs recvmsg(MSG_SOCK_DEVMEM); the data stays queued.
        if (copied == 0) return -EFAULT;
        break;
      } else {
        // MSG_PEEK too: each peek hands out tokens of its own (the kernel has no special case).
        const int used = recvmsg_dmabuf(*skb, from, out, n, *devmem, &iov_pos);
        if (used <= 0) {
          // kernel: tcp_recvmsg_locked turns any failure of tcp_recvmsg_dmabuf (-ETOOSMALL from
          // put_cmsg_notrunc, -ENODEV for a net_iov that is not devmem) into -EFAULT when
          // nothing was received yet; ETOOSMALL never reaches userspace.
          if (copied == 0) return -EFAULT;
          break;
        }
        partial = static_cast<std::uint32_t>(used) < n;
        n = static_cast<std::uint32_t>(used);
      }
      last_unreadable = unreadable;
    }
    copied += n;
    if (!peek) {
      cb.offset += n;
      rcv_queue_bytes_ -= n;
      copied_seq_ += n;
      if (cb.offset + cb.seq + ((cb.tcp_flags & kFin) ? 1u : 0u) == cb.end_seq) {
        rcv_queue_.unlink(skb);
        core::kfree_skb(skb);
      }
    }
    if (partial) break;  // the control buffer filled up: the next message would not fit
  }
  if (peek) return static_cast<int>(copied);
  // Window update (kernel: tcp_cleanup_rbuf): tell the peer when reading opened the window a lot.
  if (state_ == TcpState::kEstablished || state_ == TcpState::kFinWait1 || state_ == TcpState::kFinWait2) {
    // set_rcvbuf may have shrunk the buffer below what is queued: no space then, not a wrap.
    const std::uint32_t queued = rcv_queue_bytes_ + ooo_bytes_;
    const std::uint32_t free_now = cfg_.rcvbuf > queued ? cfg_.rcvbuf - queued : 0;
    if (free_now >= 2 * window_before && free_now - window_before >= mss_now_) send_ack(now);
  }
  return static_cast<int>(copied);
}

void TcpSock::set_nodelay(bool on, sim::TimePoint now) {
  cfg_.nodelay = on;
  if (on) write_xmit(now);  // write_xmit sends only in states that may send
}

// kernel: tcp_sndbuf_expand(): room for twice the segments in flight (Fast Recovery needs 1.7 times
// the window with CUBIC, rounded to 2), at least TCP_INIT_CWND and reordering + 1 of them, each
// segment counted at its worst-case (non-GSO) skb truesize; never above tcp_wmem[2], never shrinks.
// The value is the kernel's sk_sndbuf for the same window (87040 for MSS 1460 and 10 segments).
void TcpSock::sndbuf_expand() {
  // MAX_TCP_HEADER and SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), then
  // SKB_DATA_ALIGN(sizeof(struct sk_buff)), as on x86-64.
  constexpr std::uint32_t kMaxTcpHeader = 320, kSharedInfo = 320, kSkBuff = 256;
  const std::uint32_t mss = std::max<std::uint32_t>(mss_now_, mss_clamp_);
  const std::uint64_t per_mss = std::bit_ceil(mss + kMaxTcpHeader + kSharedInfo) + kSkBuff;
  const std::uint32_t nr_segs = std::max({std::uint32_t{10}, snd_cwnd_, cfg_.dupthresh + 1});
  const std::uint64_t sndmem = 2 * nr_segs * per_mss;
  if (cfg_.sndbuf < sndmem) cfg_.sndbuf = static_cast<std::uint32_t>(std::min<std::uint64_t>(sndmem, cfg_.sndbuf_max));
}

// kernel: tcp_new_space(), after an ACK freed queued data: grow the buffer unless it is locked or
// the congestion window is full (then more buffer would not send more).
void TcpSock::new_space() {
  if (cfg_.sndbuf_locked || in_flight() >= snd_cwnd_) return;
  sndbuf_expand();
}

SkBuff* TcpSock::new_write_skb() {
  SkBuff* skb = env_.tcp_alloc_skb();
  if (skb == nullptr) return nullptr;
  auto& cb = tcp_cb(skb);
  cb = {};
  cb.seq = write_seq_;
  cb.end_seq = write_seq_;
  write_queue_.push_back(skb);
  if (send_head_ == nullptr) send_head_ = skb;
  return skb;
}

void TcpSock::queue_fin(sim::TimePoint now) {
  if (fin_queued_) return;
  fin_queued_ = true;
  SkBuff* tail = write_queue_.tail;
  if (tail != nullptr && send_head_ != nullptr) {
    // The tail is still unsent: carry the FIN on it (kernel: tcp_send_fin).
    tcp_cb(tail).tcp_flags |= kFin;
    tcp_cb(tail).end_seq += 1;
  } else {
    SkBuff* skb = new_write_skb();
    NICEMU_ASSERT(skb != nullptr, "tcp: no skb for a FIN (the skb allocator limit is too low)");
    tcp_cb(skb).end_seq += 1;
    tcp_cb(skb).tcp_flags = kFin;
  }
  write_seq_ += 1;
  write_xmit(now);
}

int TcpSock::shutdown_write(sim::TimePoint now) {
  if (state_ == TcpState::kListen || state_ == TcpState::kClosed || state_ == TcpState::kSynSent) return -ENOTCONN;
  if (shut_wr_) return 0;
  shut_wr_ = true;
  if (state_ == TcpState::kEstablished || state_ == TcpState::kSynReceived) {
    set_state(TcpState::kFinWait1);
    queue_fin(now);
  } else if (state_ == TcpState::kCloseWait) {
    set_state(TcpState::kLastAck);
    queue_fin(now);
  }
  return 0;
}

void TcpSock::close(sim::TimePoint now) {
  user_closed_ = true;
  switch (state_) {
    case TcpState::kClosed:
    case TcpState::kTimeWait:
      release_user_frags();
      return;
    case TcpState::kListen:
    case TcpState::kSynSent:
      purge_queues();
      set_state(TcpState::kClosed);
      return;
    default:
      break;
  }
  if (rcv_queue_bytes_ > 0 || !rcv_queue_.empty()) {
    ++stats_.abort_on_close;
    abort(now);  // unread data: RST (RFC 2525 §2.17; kernel: TCPAbortOnClose)
    return;
  }
  (void)shutdown_write(now);
}

void TcpSock::abort(sim::TimePoint now) {
  if (state_ != TcpState::kClosed && state_ != TcpState::kListen && state_ != TcpState::kSynSent &&
      state_ != TcpState::kTimeWait) {
    send_rst(snd_nxt_, rcv_nxt_, true, now);
  }
  purge_queues();
  set_state(TcpState::kClosed);
}

// ---- readiness --------------------------------------------------------------------------------------------

bool TcpSock::readable() const {
  return rcv_queue_bytes_ > 0 || fin_received_ || so_error_ != 0;
}

bool TcpSock::writable() const {
  return (state_ == TcpState::kEstablished || state_ == TcpState::kCloseWait) && !shut_wr_ &&
         write_queue_bytes_ < cfg_.sndbuf;
}

bool TcpSock::hung_up() const {
  return state_ == TcpState::kClosed || (fin_received_ && shut_wr_);
}

// ---- timers -------------------------------------------------------------------------------------------------

std::optional<sim::TimePoint> TcpSock::next_timer() const {
  // TSQ: bytes were freed below a throttled socket: run at once (kernel: the TSQ tasklet).
  if (tsq_->deferred) return sim::TimePoint::zero();
  std::optional<sim::TimePoint> t;
  for (const auto& x : {rto_at_, delack_at_, persist_at_, timewait_at_}) {
    if (x && (!t || *x < *t)) t = x;
  }
  return t;
}

void TcpSock::arm_rto(sim::TimePoint now) {
  sim::Duration d = rto_;
  for (std::uint32_t i = 0; i < backoff_ && d < cfg_.rto_max; ++i) d = d * 2;
  if (d > cfg_.rto_max) d = cfg_.rto_max;
  rto_at_ = now + d;
}

void TcpSock::syn_acked_rtt(const TcpSegment& seg, sim::TimePoint now) {
  // Our SYN (or SYN-ACK) is acknowledged. Sent once: its RTT is a sample (Karn). Retransmitted:
  // a timestamp echo still says which transmission is answered (RFC 7323 §4.1; kernel:
  // tcp_ack_update_rtt falls back to tcp_rtt_tsopt_us).
  if (syn_tries_ == 0) {
    rtt_sample(now - syn_sent_at_);
    return;
  }
  if (ts_ok_ && seg.opt.timestamps && seg.opt.timestamps->tsecr != 0) {
    const std::uint32_t ms = tsval(now) - seg.opt.timestamps->tsecr;
    if (ms < 0x7fffffff) {
      rtt_sample(sim::Duration::from_ms(ms));
      return;
    }
  }
  // RFC 6298 §5.7: no RTT sample from the handshake; an RTO below 3 s is re-initialized to 3 s
  // when data transmission begins (kernel: tcp_init_metrics, TCP_TIMEOUT_FALLBACK). Without this
  // the RTO stayed at the 1 s initial value after a lost SYN.
  if (have_rtt_) return;
  const sim::Duration fallback = std::min(sim::Duration::from_s(3), cfg_.rto_max);
  if (rto_ < fallback) rto_ = fallback;
}

void TcpSock::on_timer(sim::TimePoint now) {
  if (tsq_->deferred) {  // kernel: tcp_tsq_handler() -> tcp_write_xmit()
    tsq_->deferred = false;
    write_xmit(now);
  }
  if (timewait_at_ && *timewait_at_ <= now) {
    timewait_at_.reset();
    purge_queues();
    set_state(TcpState::kClosed);
    return;
  }
  if (delack_at_ && *delack_at_ <= now) {
    delack_at_.reset();
    if (ack_pending_) {
      ++stats_.delayed_acks;
      send_ack(now);
    }
  }
  if (rto_at_ && *rto_at_ <= now) {
    rto_at_.reset();
    on_rto(now);
  }
  if (persist_at_ && *persist_at_ <= now) {
    persist_at_.reset();
    on_persist(now);
  }
}

void TcpSock::on_rto(sim::TimePoint now) {
  if (state_ == TcpState::kSynSent || state_ == TcpState::kSynReceived) {
    if (++syn_tries_ > cfg_.syn_retries) {
      reset_connection(-ETIMEDOUT);
      return;
    }
    ++stats_.timeouts;
    ++stats_.retransmits;
    ++backoff_;
    send_syn(now, state_ == TcpState::kSynReceived);
    arm_rto(now);
    return;
  }
  if (write_queue_.empty() || send_head_ == write_queue_.head) return;  // nothing outstanding
  ++stats_.timeouts;
  if (backoff_ >= cfg_.retries2) {
    reset_connection(-ETIMEDOUT);
    return;
  }
  // RFC 5681 §3.1 eq. 4 / RFC 6298 §5: ssthresh from the congestion module, cwnd = loss window,
  // back off, and go back to the first unacknowledged segment. When the data has already been
  // retransmitted by the timer (a timeout in a row, backoff_ > 0), RFC 5681 §3.1 holds ssthresh
  // constant (kernel: tcp_enter_loss takes ssthresh only when icsk_retransmits is 0); taking it
  // again from cwnd = 1 would collapse it to 2 (and CUBIC's W_max with it).
  if (backoff_ == 0) snd_ssthresh_ = cc_->ssthresh(*this);
  snd_cwnd_ = 1;
  snd_cwnd_cnt_ = 0;
  cc_->on_rto(*this, now);
  in_recovery_ = false;
  in_loss_ = true;
  high_seq_ = snd_max_;
  dupacks_ = 0;
  clear_scoreboard();
  ++backoff_;
  send_head_ = write_queue_.head;
  snd_nxt_ = snd_una_;
  packets_out_ = 0;
  write_xmit(now);
  if (!rto_at_) arm_rto(now);
}

void TcpSock::on_persist(sim::TimePoint now) {
  if (send_head_ == nullptr || packets_out_ > 0) return;
  const std::uint32_t wnd_end = snd_una_ + snd_wnd_;
  const std::uint32_t seq = tcp_cb(send_head_).seq;
  if (seq_lt(seq, wnd_end)) {
    // A window too small for sender SWS avoidance to use (RFC 9293 §3.8.6.2.1 allows sending on
    // an override timeout): send what fits (kernel: tcp_write_wakeup), then the RTO takes over
    // with the backoff cleared (tcp_send_probe0).
    const std::uint32_t room = wnd_end - seq;
    if (room >= send_head_->len() || split_skb(send_head_, room)) {
      backoff_ = 0;
      transmit_new(send_head_, now);
      return;
    }
  }
  // Linux's zero-window probe: an old ACK (seq snd_una - 1) the peer must answer.
  ++stats_.zero_window_probes;
  TcpSegment seg;
  fill_header(seg, snd_una_ - 1, kAck, now);
  env_.tcp_output(*this, seg, now);
  ++stats_.segs_out;
  ++backoff_;
  sim::Duration d = rto_;
  for (std::uint32_t i = 0; i < backoff_ && d < cfg_.rto_max; ++i) d = d * 2;
  persist_at_ = now + std::min(d, cfg_.rto_max);
}

}  // namespace nicemu::netstack::tcp
