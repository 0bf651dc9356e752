// send/sendto/sendmsg and recv/recvfrom/recvmsg (net/ipv4/tcp.c tcp_sendmsg_locked and
// tcp_recvmsg_locked, net/ipv4/udp.c udp_sendmsg and udp_recvmsg, net/ipv6/udp.c udpv6_sendmsg).
#include <array>
#include <cerrno>

#include <cstring>

#include "file.hpp"
#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/netstack/socket/cmsg.hpp"

namespace nicemu::netstack::socket {

using tcp::TcpState;

// ---- send ------------------------------------------------------------------------------------------

std::int64_t SocketTable::send(int fd, std::span<const std::byte> buf, int flags, sim::TimePoint now) {
  return sendto(fd, buf, flags, nullptr, now);
}

std::int64_t SocketTable::sendto(int fd, std::span<const std::byte> buf, int flags, const SockAddr* to,
                                 sim::TimePoint now) {
  const std::array<std::span<const std::byte>, 1> iov{buf};
  return sendmsg(fd, SendMsgHdr{to, iov, {}}, flags, now);
}

std::int64_t SocketTable::sendmsg(int fd, const SendMsgHdr& msg, int flags, sim::TimePoint now) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  return do_sendmsg(*f, msg, flags, now);
}

namespace {

// kernel: sock_cmsg_send() / __sock_cmsg_send() for what a TCP send reads: each header must be
// CMSG_OK; SOL_SOCKET messages nicemu knows none of but SCM_DEVMEM_DMABUF, whose payload is a
// bare u32 binding id (cmsg_len == CMSG_LEN(4)); other SOL_SOCKET types are EINVAL; other
// levels are skipped.
int sock_cmsg_send(std::span<const std::byte> control, std::uint32_t* dmabuf_id) {
  std::size_t at = 0;
  while (at + sizeof(CmsgHdr) <= control.size()) {
    CmsgHdr h;
    std::memcpy(&h, control.data() + at, sizeof h);
    if (h.cmsg_len < sizeof(CmsgHdr) || h.cmsg_len > control.size() - at) return -EINVAL;  // !CMSG_OK
    if (h.cmsg_level == kSOL_SOCKET) {
      if (h.cmsg_type != kSCM_DEVMEM_DMABUF || h.cmsg_len != cmsg_len(sizeof(std::uint32_t))) return -EINVAL;
      std::memcpy(dmabuf_id, control.data() + at + sizeof(CmsgHdr), sizeof(std::uint32_t));
    }
    at += cmsg_align(static_cast<std::size_t>(h.cmsg_len));
  }
  return 0;
}

}  // namespace

// MSG_DONTWAIT and MSG_NOSIGNAL change nothing here (every socket is non-blocking, no signals).
std::int64_t SocketTable::do_sendmsg(File& f, const SendMsgHdr& msg, int flags, sim::TimePoint now) {
  if ((flags & kMSG_OOB) != 0) return -EOPNOTSUPP;  // urgent data is not modelled (udp_sendmsg's answer)
  if (f.kind == File::Kind::kTcp) return tcp_sendmsg(f, msg, flags, now);
  const SockAddr* to = msg.name;
  const auto iov = msg.iov;
  std::optional<wire::IpAddress> dst;
  std::uint16_t port = 0;
  if (to != nullptr && to->family() != kAF_UNSPEC) {
    // udpv6_sendmsg: an IPv4 destination on an IPV6_V6ONLY socket.
    if (f.family == kAF_INET6 && to->family() == kAF_INET) return -ENETUNREACH;
    dst = to->addr;
    port = to->port;
  }
  if ((f.shutdown & kSendShutdown) != 0) {
    // sock_alloc_send_pskb: the pending error, else EPIPE after shutdown(SHUT_WR).
    const int e = take_error(f);
    return e != 0 ? e : -EPIPE;
  }
  auto r = stack_.udp_sendmsg(f.udp, iov, dst, port, now);
  if (!r) return r.error();
  return static_cast<std::int64_t>(*r);
}

// kernel: tcp_sendmsg_locked(). The socket layer's own error (tcp_disconnect) comes first, as
// sk_stream_wait_connect's sock_error; then the control messages; MSG_ZEROCOPY on a socket with
// SO_ZEROCOPY gets a notification id (msg_zerocopy_realloc) and, with a dma-buf id, the binding
// (net_devmem_get_binding: EINVAL unknown or not a TX binding, EHOSTUNREACH no route, ENODEV
// the route leaves by another device or the device is gone); a dma-buf id without both
// MSG_ZEROCOPY and SO_ZEROCOPY is EINVAL; a bad control message is reported next; TcpSock does
// the rest (state, buffer) in the kernel's order. tcp_sendmsg ignores msg_name.
std::int64_t SocketTable::tcp_sendmsg(File& f, const SendMsgHdr& msg, int flags, sim::TimePoint now) {
  if (f.sk_err != 0) return take_error(f);
  tcp::TcpSock* sk = f.tcp;
  std::uint32_t dmabuf_id = 0;
  const int sockc_err = msg.control.empty() ? 0 : sock_cmsg_send(msg.control, &dmabuf_id);
  std::size_t size = 0;
  for (const auto& v : msg.iov) size += v.size();
  core::UbufInfo* uarg = nullptr;
  const core::DevmemTxBinding* binding = nullptr;
  if ((flags & kMSG_ZEROCOPY) != 0 && size != 0 && f.zerocopy) {
    // Devmem frags go out in place; other bytes are copied (nicemu shares no application
    // memory with the stack), which the completion reports as SO_EE_CODE_ZEROCOPY_COPIED.
    uarg = sk->zerocopy_alloc(/*zerocopy=*/dmabuf_id != 0, size);
    if (dmabuf_id != 0) {
      int err = 0;
      const core::NetNs* ns = stack_.netns();
      core::DevmemTxBinding* b = ns != nullptr && ns->devmem != nullptr ? ns->devmem->devmem_lookup(dmabuf_id) : nullptr;
      if (b == nullptr || !b->is_tx()) {
        err = -EINVAL;
      } else if (core::NetDevice* dev = stack_.tcp_route_dev(sk); dev == nullptr) {
        err = -EHOSTUNREACH;
      } else if (b->bound_dev() != dev) {
        err = -ENODEV;
      }
      if (err != 0) {
        sk->zerocopy_done(uarg, false);
        return err;
      }
      binding = b;
    }
  }
  if (dmabuf_id != 0 && binding == nullptr) {
    sk->zerocopy_done(uarg, false);
    return -EINVAL;
  }
  if (sockc_err != 0) {
    sk->zerocopy_done(uarg, false);
    return sockc_err;
  }
  std::int64_t total = 0;
  if (binding != nullptr) {
    std::array<tcp::TcpSock::DevmemIov, 64> chunk{};
    std::size_t n = 0;
    auto flush = [&]() -> bool {
      const int r = sk->send_devmem(std::span(chunk).first(n), *binding, uarg, now);
      std::size_t want = 0;
      for (std::size_t i = 0; i < n; ++i) want += chunk[i].len;
      n = 0;
      if (r < 0) {
        if (total == 0) total = r;
        return false;
      }
      total += r;
      return static_cast<std::size_t>(r) == want;
    };
    bool go = true;
    for (const auto& v : msg.iov) {
      if (v.empty()) continue;
      chunk[n++] = {static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(v.data())), v.size()};
      if (n == chunk.size() && !(go = flush())) break;
    }
    if (go && n > 0) flush();
  } else {
    bool any = false;
    for (const auto& v : msg.iov) {
      if (v.empty()) continue;
      any = true;
      const int n = sk->send(v, now, uarg, f.copy_offload);
      if (n < 0) {
        if (total == 0) total = n;
        break;
      }
      total += n;
      if (static_cast<std::size_t>(n) < v.size()) break;  // the send buffer is full
    }
    if (!any) total = sk->send({}, now);  // a zero-length send still reports the state's error
  }
  sk->zerocopy_done(uarg, total > 0);
  return total;
}

// ---- recv -------------------------------------------------------------------------------------------

std::int64_t SocketTable::recv(int fd, std::span<std::byte> buf, int flags, sim::TimePoint now) {
  return recvfrom(fd, buf, flags, nullptr, now);
}

std::int64_t SocketTable::recvfrom(int fd, std::span<std::byte> buf, int flags, SockAddr* from, sim::TimePoint now) {
  const std::array<std::span<std::byte>, 1> iov{buf};
  RecvMsgHdr msg{from, iov, 0, {}, 0};
  return recvmsg(fd, msg, flags, now);
}

std::int64_t SocketTable::recvmsg(int fd, RecvMsgHdr& msg, int flags, sim::TimePoint now) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  return do_recvmsg(*f, msg, flags, now);
}

std::int64_t SocketTable::do_recvmsg(File& f, RecvMsgHdr& msg, int flags, sim::TimePoint now) {
  msg.flags = 0;
  msg.controllen = 0;
  if ((flags & kMSG_ERRQUEUE) != 0) {
    if (f.kind == File::Kind::kTcp) return tcp_recv_error(f, msg);
    return -EAGAIN;  // ip_recv_error: the error queue is empty
  }
  if (f.kind == File::Kind::kTcp) {
    if (msg.name != nullptr) *msg.name = SockAddr{};  // TCP reports no address (msg_namelen 0)
    if ((flags & kMSG_OOB) != 0) return -EINVAL;      // tcp_recv_urg: no urgent data
    return tcp_recvmsg(f, msg, flags, now);
  }
  auto r = stack_.udp_recvmsg(f.udp, msg.iov, (flags & kMSG_PEEK) != 0);
  if (!r) return r.error();
  if (r->copied < r->datagram_len) msg.flags |= kMSG_TRUNC;
  if (msg.name != nullptr) *msg.name = SockAddr{r->from, r->from_port};
  // MSG_TRUNC asks for the datagram's real length (udp_recvmsg: "if (flags & MSG_TRUNC) err = ulen").
  return static_cast<std::int64_t>((flags & kMSG_TRUNC) != 0 ? r->datagram_len : r->copied);
}

// tcp_recvmsg_locked with nothing to read, in its order: end of stream (SOCK_DONE), the pending
// error, shutdown(SHUT_RD), CLOSE (0 after tcp_done, ENOTCONN on a never-connected socket), and
// EAGAIN for a non-blocking socket.
int SocketTable::tcp_recv_empty(File& f) {
  const tcp::TcpSock* sk = f.tcp;
  if (sk->fin_received()) return 0;
  if (const int e = take_error(f); e != 0) return e;
  if ((f.shutdown & kRcvShutdown) != 0) return 0;
  if (tcp_closed(sk->state())) return f.started ? 0 : -ENOTCONN;
  return -EAGAIN;
}

// kernel: ip_recv_error() / ipv6_recv_error() for a zero-copy completion: one IP_RECVERR
// (IPV6_RECVERR) message holding struct sock_extended_err and a zeroed offender address, no
// data (0), MSG_ERRQUEUE in msg_flags; EAGAIN when the queue is empty.
std::int64_t SocketTable::tcp_recv_error(File& f, RecvMsgHdr& msg) {
  const auto n = f.tcp->pop_error_queue();
  if (!n) return -EAGAIN;
  SockExtendedErr ee;
  ee.ee_origin = kSO_EE_ORIGIN_ZEROCOPY;
  ee.ee_code = n->copied ? kSO_EE_CODE_ZEROCOPY_COPIED : 0;
  ee.ee_info = n->lo;
  ee.ee_data = n->hi;
  // struct sock_exterr_skb's errhdr: the error, then sockaddr_in (16 bytes) or sockaddr_in6 (28).
  std::array<std::byte, sizeof(SockExtendedErr) + 28> errhdr{};
  std::memcpy(errhdr.data(), &ee, sizeof ee);
  const bool v6 = f.family == kAF_INET6;
  const std::size_t len = sizeof(SockExtendedErr) + (v6 ? 28 : 16);
  CmsgWriter w(msg.control);
  w.put(v6 ? kSOL_IPV6 : kSOL_IP, v6 ? kIPV6_RECVERR : kIP_RECVERR, std::span(errhdr).first(len));
  msg.controllen = w.used();
  msg.flags |= kMSG_ERRQUEUE | (w.truncated() ? kMSG_CTRUNC : 0);
  return 0;
}

namespace {
// Devmem control messages into msg_control (put_cmsg_notrunc, SOL_SOCKET).
class ControlSink final : public tcp::DevmemCmsgSink {
 public:
  explicit ControlSink(std::span<std::byte> control) : w_(control) {}
  int put(Kind kind, const tcp::DmabufCmsg& c) override {
    return w_.put_notrunc(kSOL_SOCKET, kind == Kind::kLinear ? kSCM_DEVMEM_LINEAR : kSCM_DEVMEM_DMABUF, c);
  }
  const CmsgWriter& writer() const { return w_; }

 private:
  CmsgWriter w_;
};
}  // namespace

std::int64_t SocketTable::tcp_recvmsg(File& f, RecvMsgHdr& msg, int flags, sim::TimePoint now) {
  const auto iov = msg.iov;
  tcp::TcpSock* sk = f.tcp;
  if (sk->state() == TcpState::kListen) return -ENOTCONN;
  if (sk->bytes_readable() == 0) return tcp_recv_empty(f);
  std::int64_t total = 0;
  ControlSink sink(msg.control);
  tcp::DevmemCmsgSink* devmem = (flags & kMSG_SOCK_DEVMEM) != 0 ? &sink : nullptr;
  // kernel: tcp_recvmsg_locked. MSG_PEEK reads without consuming; MSG_TRUNC consumes without
  // copying (and, with MSG_PEEK, does neither: the length only).
  using Mode = tcp::TcpSock::RecvMode;
  const bool peek = (flags & kMSG_PEEK) != 0, trunc = (flags & kMSG_TRUNC) != 0;
  const Mode mode = peek ? (trunc ? Mode::kPeekTruncate : Mode::kPeek) : (trunc ? Mode::kTruncate : Mode::kConsume);
  int last_unreadable = -1;  // one call never mixes readable and unreadable data
  for (const auto& v : iov) {
    if (v.empty()) continue;
    const int n = sk->recvmsg(v, trunc ? nullptr : devmem, now, &last_unreadable, mode, static_cast<std::uint32_t>(total));
    if (n <= 0) {
      if (total == 0) total = n;
      break;
    }
    total += n;
    if (static_cast<std::size_t>(n) < v.size()) break;
  }
  msg.controllen = sink.writer().used();
  return total;
}

}  // namespace nicemu::netstack::socket
