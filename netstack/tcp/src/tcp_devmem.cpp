// Devmem TCP and MSG_ZEROCOPY on a TcpSock: recvmsg of unreadable skbs into control messages
// and tokens (net/ipv4/tcp.c tcp_recvmsg_dmabuf), SO_DEVMEM_DONTNEED (net/core/sock.c
// sock_devmem_dontneed), devmem TX frags (net/core/datagram.c zerocopy_fill_skb_from_devmem),
// zero-copy notifications (net/core/skbuff.c msg_zerocopy_realloc, __msg_zerocopy_callback).
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/tcp/tcp_sock.hpp"
#include "nicemu/page_pool/helpers.hpp"
#include "tcp_internal.hpp"

namespace nicemu::netstack::tcp {

using core::SkBuff;
using detail::tcp_cb;

// ---- the token table ------------------------------------------------------------------------------

void DevmemTokens::commit(std::uint32_t token, netmem::NetmemRef n, std::uint64_t trace_id) {
  NICEMU_ASSERT(token != 0 && token == next(), "DevmemTokens::commit: not the lowest free token");
  if (!free_.empty()) {
    free_.pop();
  } else {
    slots_.push_back(netmem::NetmemRef::none());
    trace_ids_.push_back(0);
  }
  slots_[token - 1] = n;
  trace_ids_[token - 1] = trace_id;
  ++count_;
}

netmem::NetmemRef DevmemTokens::erase(std::uint32_t token, std::uint64_t* trace_id) {
  if (token == 0 || token > slots_.size()) return netmem::NetmemRef::none();
  const netmem::NetmemRef n = slots_[token - 1];
  if (n.is_none()) return n;
  if (trace_id != nullptr) *trace_id = trace_ids_[token - 1];
  slots_[token - 1] = netmem::NetmemRef::none();
  free_.push(token);
  --count_;
  return n;
}

void DevmemTokens::release_all(const std::function<void(netmem::NetmemRef)>& put) {
  for (netmem::NetmemRef& n : slots_) {
    if (!n.is_none()) put(n);
  }
  slots_.clear();
  trace_ids_.clear();
  free_ = {};
  count_ = 0;
}

// ---- devmem RX ----------------------------------------------------------------------------------------

// One skb's part of a devmem recvmsg: `remaining` bytes from `offset` on. Linear bytes go to
// out[*iov_pos...] with one SCM_DEVMEM_LINEAR message; each frag's bytes become one
// SCM_DEVMEM_DMABUF message with a fresh token holding one page-pool reference. Returns the
// bytes received, or the error when none were.
int TcpSock::recvmsg_dmabuf(const SkBuff& skb, std::uint32_t offset, std::span<std::byte> out,
                            std::uint32_t remaining, DevmemCmsgSink& sink, std::size_t* iov_pos) {
  if (core::skb_frags_readable(skb)) return -ENODEV;
  std::uint32_t start = skb.headlen();
  int sent = 0;
  int err = 0;
  if (start > offset) {
    const std::uint32_t copy = std::min(start - offset, remaining);
    if (*iov_pos + copy > out.size()) return -EFAULT;
    std::memcpy(out.data() + *iov_pos, skb.data() + offset, copy);
    *iov_pos += copy;
    DmabufCmsg c;
    c.frag_size = copy;
    err = sink.put(DevmemCmsgSink::Kind::kLinear, c);
    if (err != 0) return err;
    sent += static_cast<int>(copy);
    offset += copy;
    remaining -= copy;
    if (remaining == 0) return sent;
  }
  for (int i = 0; i < skb.nr_frags(); ++i) {
    const core::SkbFrag& f = skb.frag(i);
    netmem::NetIov* niov = f.netmem.to_net_iov();
    // kernel: "Found non-dmabuf skb with net_iov" / an io_uring net_iov: -ENODEV.
    if (niov == nullptr || niov->type != netmem::NetIovType::kDmabuf) {
      err = -ENODEV;
      break;
    }
    const std::uint32_t end = start + f.len;
    if (end > offset) {
      const std::uint32_t copy = std::min(end - offset, remaining);
      const std::uint32_t token = user_frags_.next();
      if (token == 0) {
        err = -EBUSY;  // xa_alloc: every id of xa_limit_31b is taken
        break;
      }
      DmabufCmsg c;
      c.frag_offset = netmem::net_iov_virtual_addr(*niov) + f.offset + (offset - start);
      c.frag_size = copy;
      c.frag_token = token;
      c.dmabuf_id = niov->owner->owner_id();
      err = sink.put(DevmemCmsgSink::Kind::kDmabuf, c);
      if (err != 0) break;
      page_pool::page_pool_ref_netmem(f.netmem);  // the token's own reference
      user_frags_.commit(token, f.netmem, skb.trace_id);
      if (packet_tracer != nullptr && skb.trace_id != 0) {
        sim::PacketEvent e;
        e.stage = sim::PacketStage::kRecvmsgDevmem;
        e.id = skb.trace_id;
        e.offset = c.frag_offset;
        e.len = copy;
        e.count = token;
        e.context = c.dmabuf_id;  // the binding id (sim/packet_trace.hpp: kRecvmsgDevmem)
        e.addr = netmem::netmem_get_dma_addr(f.netmem) + f.offset + (offset - start);
        packet_tracer->on_event(packet_tracer->now(), e);
      }
      sent += static_cast<int>(copy);
      offset += copy;
      remaining -= copy;
      if (remaining == 0) return sent;
    }
    start = end;
  }
  if (err == 0 && remaining != 0) err = -EFAULT;  // no frag_list: the skb ended early
  return sent != 0 ? sent : err;
}

int TcpSock::devmem_dontneed(std::span<const DmabufToken> tokens) {
  int freed = 0;
  std::uint32_t frags = 0;
  for (const DmabufToken& t : tokens) {
    for (std::uint32_t j = 0; j < t.token_count; ++j) {
      if (++frags > kMaxDontneedFrags) return freed;
      std::uint64_t trace_id = 0;
      const netmem::NetmemRef n = user_frags_.erase(t.token_start + j, &trace_id);
      if (n.is_none() || !n.is_net_iov()) continue;
      if (packet_tracer != nullptr && trace_id != 0) {
        sim::PacketEvent e;
        e.stage = sim::PacketStage::kDevmemDontneed;
        e.id = trace_id;
        e.count = t.token_start + j;
        e.addr = netmem::netmem_get_dma_addr(n);
        e.note = n.desc().pp_ref_count == 1 ? "last reference: the net_iov goes back to its page pool's ring"
                                             : "the net_iov is still referenced (by the skb or another token)";
        packet_tracer->on_event(packet_tracer->now(), e);
      }
      // kernel: napi_pp_put_page() from process context (the ring, not the NAPI cache).
      const bool pp = core::napi_pp_put_page(n, page_pool::CallerContext{});
      NICEMU_ASSERT(pp, "SO_DEVMEM_DONTNEED: a token's net_iov is not a page-pool netmem");
      ++freed;
    }
  }
  return freed;
}

void TcpSock::release_user_frags() {
  if (user_frags_.size() == 0) return;
  user_frags_.release_all([](netmem::NetmemRef n) {
    const bool pp = core::napi_pp_put_page(n, page_pool::CallerContext{});
    NICEMU_ASSERT(pp, "tcp: a token's net_iov is not a page-pool netmem");
  });
}

// ---- transmit: the tail skb new bytes may join ----------------------------------------------------------

// The unsent tail skb that new bytes may join: no FIN, under one MSS, the same zero-copy
// notification (kernel: skb_zcopy_set refuses another), and devmem frags only with devmem frags.
SkBuff* TcpSock::writable_tail(core::UbufInfo* uarg, bool devmem) const {
  SkBuff* skb = write_queue_.tail;
  if (skb == nullptr || send_head_ == nullptr) return nullptr;  // nothing unsent
  if ((tcp_cb(skb).tcp_flags & kFin) != 0 || skb->len() >= mss_now_) return nullptr;
  if (skb->zcopy != uarg || skb->unreadable != devmem) return nullptr;
  return skb;
}

// ---- devmem TX ---------------------------------------------------------------------------------------------

int TcpSock::send_devmem(std::span<const DevmemIov> iov, const core::DevmemTxBinding& binding, core::UbufInfo* uarg,
                         sim::TimePoint now) {
  if (so_error_ != 0) return take_error();
  if (state_ == TcpState::kSynSent || state_ == TcpState::kSynReceived) return -EAGAIN;
  if ((state_ != TcpState::kEstablished && state_ != TcpState::kCloseWait) || shut_wr_) return -EPIPE;
  std::size_t copied = 0;
  int err = 0;
  bool full = false;
  SkBuff* skb = nullptr;  // the skb of this call being filled
  for (const DevmemIov& v : iov) {
    std::size_t done = 0;
    while (done < v.len) {
      if (write_queue_bytes_ >= cfg_.sndbuf) {
        full = true;
        break;
      }
      const std::uint64_t at = v.offset + done;
      std::uint32_t off_in = 0;
      netmem::NetIov* niov = at < binding.dmabuf_size() ? binding.tx_niov_at(at, &off_in) : nullptr;
      if (niov == nullptr) {
        err = -EFAULT;  // kernel: virt_addr >= binding->dmabuf->size
        break;
      }
      const netmem::NetmemRef nm = netmem::NetmemRef::from_net_iov(*niov);
      if (skb == nullptr) skb = writable_tail(uarg, /*devmem=*/true);
      if (skb != nullptr && skb->len() >= mss_now_) skb = nullptr;
      const int last = skb != nullptr ? skb->nr_frags() - 1 : -1;
      const bool contiguous = last >= 0 && skb->frag(last).netmem == nm &&
                              skb->frag(last).offset + skb->frag(last).len == off_in;
      // MAX_SKB_FRAGS reached (kernel: -EMSGSIZE from the fill, then a new segment).
      if (skb != nullptr && !contiguous && skb->nr_frags() == core::kMaxSkbFrags) skb = nullptr;
      if (skb == nullptr) {
        skb = new_write_skb();
        if (skb == nullptr) {
          full = true;
          break;
        }
        if (uarg != nullptr) {
          skb->zcopy = uarg;
          core::net_zcopy_get(uarg);
        }
      }
      std::uint32_t n = static_cast<std::uint32_t>(std::min<std::size_t>(v.len - done, mss_now_ - skb->len()));
      n = std::min(n, static_cast<std::uint32_t>(netmem::kPageSize) - off_in);  // clipped to the page
      n = std::min(n, cfg_.sndbuf - write_queue_bytes_);
      if (contiguous) {
        skb->coalesce_rx_frag(skb->nr_frags() - 1, n, n);
      } else {
        netmem::get_netmem(nm);  // a binding reference per frag
        skb->add_rx_frag(nm, off_in, n, n);
      }
      tcp_cb(skb).end_seq += n;
      write_seq_ += n;
      write_queue_bytes_ += n;
      done += n;
      copied += n;
    }
    if (err != 0 || full) break;
  }
  if (copied == 0) return err != 0 ? err : -EAGAIN;
  write_xmit(now);
  return static_cast<int>(copied);
}

// ---- MSG_ZEROCOPY notifications -----------------------------------------------------------------------------

core::UbufInfo* TcpSock::zerocopy_alloc(bool zerocopy, std::size_t size) {
  // kernel: msg_zerocopy_realloc() with the write queue tail's uarg.
  const SkBuff* tail = write_queue_.tail;
  if (core::UbufInfo* u = tail != nullptr ? tail->zcopy : nullptr;
      u != nullptr && u->owner == this && u->zerocopy == zerocopy && u->len < 0xfffe &&
      u->bytelen + size <= cfg_.sndbuf && u->id + u->len == zckey_) {
    ++u->len;
    u->bytelen += size;
    ++zckey_;
    core::net_zcopy_get(u);  // the call's reference
    return u;
  }
  core::UbufInfo* u = nullptr;
  if (!zc_free_.empty()) {
    u = zc_free_.back().release();
    zc_free_.pop_back();
    *u = core::UbufInfo{};
  } else {
    u = new core::UbufInfo;  // NOLINT(cppcoreguidelines-owning-memory): owned by its references
  }
  u->owner = this;
  u->id = zckey_++;
  u->len = 1;
  u->bytelen = size;
  u->zerocopy = zerocopy;
  u->next_owned = zc_inflight_;
  if (zc_inflight_ != nullptr) zc_inflight_->prev_owned = u;
  zc_inflight_ = u;
  return u;
}

void TcpSock::zerocopy_done(core::UbufInfo* uarg, bool sent_any) {
  if (uarg == nullptr) return;
  if (!sent_any) {
    --zckey_;    // kernel: msg_zerocopy_put_abort(): the id is taken back
    --uarg->len;  // ... a notification left with none is never queued
  }
  core::net_zcopy_put(uarg);
}

bool TcpSock::zerocopy_complete(core::UbufInfo& uarg) {
  if (uarg.prev_owned != nullptr) {
    uarg.prev_owned->next_owned = uarg.next_owned;
  } else {
    zc_inflight_ = uarg.next_owned;
  }
  if (uarg.next_owned != nullptr) uarg.next_owned->prev_owned = uarg.prev_owned;
  uarg.owner = nullptr;
  const std::uint32_t lo = uarg.id;
  const std::uint32_t len = uarg.len;
  const bool copied = !uarg.zerocopy;
  zc_free_.emplace_back(&uarg);  // reused by the next zerocopy_alloc
  if (len == 0 || user_closed_) return true;  // kernel: no notification for an abort or a dead socket
  const std::uint32_t hi = lo + len - 1;
  // kernel: skb_zerocopy_notify_extend(): a range right after the tail's joins it.
  if (!errq_.empty() && errq_.back().hi + 1 == lo) {
    errq_.back().hi = hi;
    return true;
  }
  errq_.push_back(ZerocopyNotification{lo, hi, copied});
  return true;
}

std::optional<ZerocopyNotification> TcpSock::pop_error_queue() {
  if (errq_.empty()) return std::nullopt;
  const ZerocopyNotification n = errq_.front();
  errq_.pop_front();
  return n;
}

}  // namespace nicemu::netstack::tcp
