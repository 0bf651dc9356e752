// send/sendto/sendmsg and recv/recvfrom/recvmsg (net/ipv4/tcp.c tcp_sendmsg_locked and
// tcp_recvmsg_locked, net/ipv4/udp.c udp_sendmsg and udp_recvmsg, net/ipv6/udp.c udpv6_sendmsg).
#include <array>
#include <cerrno>

#include "file.hpp"

namespace nicemu::netstack::socket {

using tcp::TcpState;

// ---- send ------------------------------------------------------------------------------------------

std::int64_t SocketTable::send(int fd, std::span<const std::byte> buf, int flags, sim::TimePoint now) {
  return sendto(fd, buf, flags, nullptr, now);
}

std::int64_t SocketTable::sendto(int fd, std::span<const std::byte> buf, int flags, const SockAddr* to,
                                 sim::TimePoint now) {
  const std::array<std::span<const std::byte>, 1> iov{buf};
  return sendmsg(fd, SendMsgHdr{to, iov}, flags, now);
}

std::int64_t SocketTable::sendmsg(int fd, const SendMsgHdr& msg, int flags, sim::TimePoint now) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  return do_sendmsg(*f, msg.name, msg.iov, flags, now);
}

// MSG_DONTWAIT and MSG_NOSIGNAL change nothing here (every socket is non-blocking, no signals);
// MSG_ZEROCOPY copies like a plain send until issue 5 gives it completions.
std::int64_t SocketTable::do_sendmsg(File& f, const SockAddr* to, std::span<const std::span<const std::byte>> iov,
                                     int flags, sim::TimePoint now) {
  if ((flags & kMSG_OOB) != 0) return -EOPNOTSUPP;  // urgent data is not modelled (udp_sendmsg's answer)
  if (f.kind == File::Kind::kTcp) {
    // tcp_sendmsg ignores msg_name. The socket layer's own error (tcp_disconnect) comes first,
    // as sk_stream_wait_connect's sock_error; TcpSock::send does the rest in the kernel's order.
    if (f.sk_err != 0) return take_error(f);
    std::int64_t total = 0;
    bool any = false;
    for (const auto& v : iov) {
      if (v.empty()) continue;
      any = true;
      const int n = f.tcp->send(v, now);
      if (n < 0) return total > 0 ? total : n;
      total += n;
      if (static_cast<std::size_t>(n) < v.size()) break;  // the send buffer is full
    }
    if (!any) return f.tcp->send({}, now);  // a zero-length send still reports the state's error
    return total;
  }
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

// ---- recv -------------------------------------------------------------------------------------------

std::int64_t SocketTable::recv(int fd, std::span<std::byte> buf, int flags, sim::TimePoint now) {
  return recvfrom(fd, buf, flags, nullptr, now);
}

std::int64_t SocketTable::recvfrom(int fd, std::span<std::byte> buf, int flags, SockAddr* from, sim::TimePoint now) {
  const std::array<std::span<std::byte>, 1> iov{buf};
  RecvMsgHdr msg{from, iov, 0};
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
  if ((flags & kMSG_ERRQUEUE) != 0) return -EAGAIN;  // ip_recv_error: the error queue is empty
  if (f.kind == File::Kind::kTcp) {
    if (msg.name != nullptr) *msg.name = SockAddr{};  // TCP reports no address (msg_namelen 0)
    if ((flags & kMSG_OOB) != 0) return -EINVAL;      // tcp_recv_urg: no urgent data
    return tcp_recvmsg(f, msg.iov, flags, now);
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

std::int64_t SocketTable::tcp_recvmsg(File& f, std::span<const std::span<std::byte>> iov, int flags,
                                      sim::TimePoint now) {
  tcp::TcpSock* sk = f.tcp;
  if (sk->state() == TcpState::kListen) return -ENOTCONN;
  if (sk->bytes_readable() == 0) return tcp_recv_empty(f);
  std::int64_t total = 0;
  if ((flags & kMSG_PEEK) != 0) {
    for (const auto& v : iov) {
      const int n = sk->peek(static_cast<std::uint32_t>(total), v);
      if (n < 0) return total > 0 ? total : n;
      total += n;
      if (static_cast<std::size_t>(n) < v.size()) break;
    }
    return total;
  }
  if ((flags & kMSG_TRUNC) != 0) {
    // tcp_recvmsg with MSG_TRUNC consumes the bytes without copying them out.
    std::size_t want = 0;
    for (const auto& v : iov) want += v.size();
    std::array<std::byte, 2048> scratch{};
    while (static_cast<std::size_t>(total) < want) {
      const std::size_t chunk = std::min(scratch.size(), want - static_cast<std::size_t>(total));
      const int n = sk->recv(std::span(scratch).first(chunk), now);
      if (n <= 0) return total > 0 ? total : n;
      total += n;
      if (static_cast<std::size_t>(n) < chunk) break;
    }
    return total;
  }
  for (const auto& v : iov) {
    if (v.empty()) continue;
    const int n = sk->recv(v, now);
    if (n <= 0) return total > 0 ? total : n;
    total += n;
    if (static_cast<std::size_t>(n) < v.size()) break;
  }
  return total;
}

}  // namespace nicemu::netstack::socket
