// setsockopt / getsockopt with int values, tcp_info and the UDP counters (net/core/sock.c
// sk_setsockopt / sk_getsockopt, net/ipv4/tcp.c do_tcp_setsockopt / do_tcp_getsockopt /
// tcp_get_info, net/ipv4/ip_sockglue.c, net/ipv6/ipv6_sockglue.c).
//
// Levels as the kernel dispatches them: SOL_SOCKET for every socket; SOL_TCP only on TCP
// (elsewhere it reaches ip_setsockopt, which answers ENOPROTOOPT); SOL_IP on both families
// (ipv6_setsockopt hands SOL_IP to ip_setsockopt for TCP and UDP sockets); SOL_IPV6 only on
// AF_INET6 sockets.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <climits>

#include "file.hpp"

namespace nicemu::netstack::socket {

namespace {
// sk_setsockopt's SO_SNDBUF / SO_RCVBUF: the value as u32, capped at the sysctl maximum, then
// doubled (for the sk_buff overhead) and floored at the minimum.
std::uint32_t sock_buf_size(int value, std::uint32_t max, std::uint32_t min) {
  std::uint32_t v = std::min(static_cast<std::uint32_t>(value), max);
  v = std::min<std::uint32_t>(v, INT_MAX / 2);
  return std::max(v * 2, min);
}
}  // namespace

void SocketTable::apply_hop_limit(File& f) {
  // IP_TTL governs IPv4 packets, IPV6_UNICAST_HOPS IPv6 ones; -1 uses the stack's default. A
  // hop limit of 0 is sent as set (Linux allows it for IPv6; IP_TTL refuses 0 with EINVAL).
  const int hops = f.family == kAF_INET ? f.ttl : f.hops;
  if (f.kind == File::Kind::kTcp) {
    stack_.tcp_set_hop_limit(f.tcp, hops);
  } else if (f.kind == File::Kind::kUdp) {
    f.udp->hop_limit = hops;
  }
}

int SocketTable::setsockopt(int fd, int level, int optname, std::span<const std::byte> optval, sim::TimePoint now) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  // sk_setsockopt: every SOL_SOCKET option needs at least an int (checked before the switch).
  if (optval.size() < sizeof(int)) return -EINVAL;
  if (level == kSOL_SOCKET && optname == kSO_DEVMEM_DONTNEED) {
    // kernel: sock_devmem_dontneed().
    if (f->kind != File::Kind::kTcp) return -EBADF;
    if (optval.size() % sizeof(tcp::DmabufToken) != 0 ||
        optval.size() > sizeof(tcp::DmabufToken) * tcp::kMaxDontneedTokens) {
      return -EINVAL;
    }
    std::array<tcp::DmabufToken, tcp::kMaxDontneedTokens> tokens{};
    const std::size_t n = optval.size() / sizeof(tcp::DmabufToken);
    std::memcpy(tokens.data(), optval.data(), optval.size());
    return f->tcp->devmem_dontneed(std::span(tokens).first(n));
  }
  int value = 0;
  std::memcpy(&value, optval.data(), sizeof value);
  return setsockopt(fd, level, optname, value, now);
}

int SocketTable::setsockopt(int fd, int level, int optname, int value, sim::TimePoint now) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (level == kSOL_SOCKET && optname == kSO_DEVMEM_DONTNEED) {
    return f->kind == File::Kind::kTcp ? -EINVAL : -EBADF;  // an int is not a whole dmabuf_token
  }
  if (level == kSOL_SOCKET) return sol_socket_set(*f, optname, value);
  if (level == kSOL_TCP && f->kind == File::Kind::kTcp) {
    switch (optname) {
      case kTCP_NODELAY:
        f->tcp->set_nodelay(value != 0, now);
        return 0;
      default:
        return -ENOPROTOOPT;  // setting TCP_MAXSEG is not modelled, nor are the others
    }
  }
  if ((level == kSOL_IP && optname == kIP_RECVERR) ||
      (level == kSOL_IPV6 && f->family == kAF_INET6 && optname == kIPV6_RECVERR)) {
    f->recverr = value != 0;  // zero-copy completions are queued either way, as in Linux
    return 0;
  }
  if (level == kSOL_IP) {
    if (optname != kIP_TTL) return -ENOPROTOOPT;
    if (value != -1 && (value < 1 || value > 255)) return -EINVAL;
    f->ttl = value;
    apply_hop_limit(*f);
    return 0;
  }
  if (level == kSOL_IPV6 && f->family == kAF_INET6) {
    if (optname != kIPV6_UNICAST_HOPS) return -ENOPROTOOPT;
    if (value < -1 || value > 255) return -EINVAL;
    f->hops = value;
    apply_hop_limit(*f);
    return 0;
  }
  return -ENOPROTOOPT;
}

int SocketTable::sol_socket_set(File& f, int optname, int value) {
  const bool tcp = f.kind == File::Kind::kTcp;
  switch (optname) {
    case kSO_REUSEADDR:
      f.reuseaddr = value != 0;
      // The stack checks it at bind time (and at listen time for TCP).
      if (tcp) stack_.tcp_set_reuseaddr(f.tcp, f.reuseaddr);
      else stack_.udp_set_reuseaddr(f.udp, f.reuseaddr);
      return 0;
    case kSO_SNDBUF: {
      const std::uint32_t bytes = sock_buf_size(value, kWmemMax, kSockMinSndbuf);
      if (tcp) {
        f.tcp->set_sndbuf(bytes);
      } else {
        f.udp->sndbuf = bytes;
      }
      return 0;
    }
    case kSO_RCVBUF: {
      const std::uint32_t bytes = sock_buf_size(value, kRmemMax, kSockMinRcvbuf);
      if (tcp) {
        f.tcp->set_rcvbuf(bytes);
      } else {
        f.udp->rcvbuf = bytes;
      }
      return 0;
    }
    case kSO_ZEROCOPY:
      // sk_setsockopt allows it on AF_INET/AF_INET6 TCP and UDP sockets only (EOPNOTSUPP for the
      // rest); those are the only sockets here.
      if (value < 0 || value > 1) return -EINVAL;
      f.zerocopy = value == 1;
      return 0;
    default:
      return -ENOPROTOOPT;  // SO_TYPE, SO_ERROR, SO_DOMAIN ... are read-only; the rest not modelled
  }
}

int SocketTable::getsockopt(int fd, int level, int optname, int* value) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (level == kSOL_SOCKET) return sol_socket_get(*f, optname, value);
  if (level == kSOL_TCP && f->kind == File::Kind::kTcp) {
    switch (optname) {
      case kTCP_NODELAY:
        *value = f->tcp->config().nodelay ? 1 : 0;
        return 0;
      case kTCP_MAXSEG:
        *value = f->tcp->mss_now();  // mss_cache: 536 (TCP_MSS_DEFAULT) until the handshake
        return 0;
      default:
        return -ENOPROTOOPT;  // TCP_INFO is not an int: tcp_info()
    }
  }
  if ((level == kSOL_IP && optname == kIP_RECVERR) ||
      (level == kSOL_IPV6 && f->family == kAF_INET6 && optname == kIPV6_RECVERR)) {
    *value = f->recverr ? 1 : 0;
    return 0;
  }
  if (level == kSOL_IP) {
    if (optname != kIP_TTL) return -ENOPROTOOPT;
    *value = f->ttl < 0 ? stack_.config().ttl : f->ttl;
    return 0;
  }
  if (level == kSOL_IPV6 && f->family == kAF_INET6) {
    if (optname != kIPV6_UNICAST_HOPS) return -ENOPROTOOPT;
    *value = f->hops < 0 ? stack_.config().hop_limit : f->hops;
    return 0;
  }
  return -ENOPROTOOPT;
}

int SocketTable::sol_socket_get(File& f, int optname, int* value) {
  const bool tcp = f.kind == File::Kind::kTcp;
  switch (optname) {
    case kSO_REUSEADDR:
      *value = f.reuseaddr ? 1 : 0;
      return 0;
    case kSO_TYPE:
      *value = f.type;
      return 0;
    case kSO_ERROR:
      *value = -take_error(f);  // sock_error: read and cleared, as a positive errno
      return 0;
    case kSO_SNDBUF:
      *value = static_cast<int>(tcp ? f.tcp->config().sndbuf : f.udp->sndbuf);
      return 0;
    case kSO_RCVBUF:
      *value = static_cast<int>(tcp ? f.tcp->config().rcvbuf : f.udp->rcvbuf);
      return 0;
    case kSO_ZEROCOPY:
      *value = f.zerocopy ? 1 : 0;
      return 0;
    case kSO_ACCEPTCONN:
      *value = tcp && f.tcp->state() == tcp::TcpState::kListen ? 1 : 0;
      return 0;
    case kSO_PROTOCOL:
      *value = f.protocol;
      return 0;
    case kSO_DOMAIN:
      *value = f.family;
      return 0;
    default:
      return -ENOPROTOOPT;
  }
}

int SocketTable::tcp_info(int fd, TcpInfo* info) const {
  int err = 0;
  const File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (f->kind != File::Kind::kTcp) return -ENOPROTOOPT;
  const tcp::TcpSock& sk = *f->tcp;
  TcpInfo i;
  i.state = sk.state();
  i.snd_mss = sk.mss_now();
  i.snd_wscale = sk.snd_wscale();
  i.rcv_wscale = sk.rcv_wscale();
  i.sack = sk.sack_ok();
  i.timestamps = sk.ts_ok();
  i.rto_us = sk.rto().us();
  i.rtt_us = sk.srtt().us();
  i.rttvar_us = sk.rttvar().us();
  i.backoff = sk.backoff();
  i.snd_cwnd = sk.snd_cwnd();
  i.snd_ssthresh = sk.snd_ssthresh();
  i.unacked = sk.packets_out();
  i.sacked = sk.sacked_out();
  i.lost = sk.lost_out();
  i.retrans = sk.retrans_out();
  i.snd_wnd = sk.snd_wnd();
  i.rcv_wnd = sk.rcv_wnd();
  i.notsent_bytes = sk.bytes_unsent();
  i.rcv_queued = sk.bytes_readable();
  i.stats = sk.stats();
  *info = i;
  return 0;
}

int SocketTable::udp_info(int fd, UdpInfo* info) const {
  int err = 0;
  const File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (f->kind != File::Kind::kUdp) return -ENOPROTOOPT;
  info->stats = f->udp->stats();
  info->queued_datagrams = f->udp->queued_datagrams();
  info->rmem_alloc = f->udp->rmem_alloc();
  return 0;
}

}  // namespace nicemu::netstack::socket
