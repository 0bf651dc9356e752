// The descriptor table and the connection calls: socket, close, bind, listen, accept4, connect,
// shutdown, getsockname, getpeername (net/socket.c, net/ipv4/af_inet.c, net/ipv6/af_inet6.c,
// tcp_disconnect in net/ipv4/tcp.c).
#include <algorithm>
#include <cerrno>
#include <climits>

#include "file.hpp"

namespace nicemu::netstack::socket {

using tcp::TcpState;
using wire::IpAddress;
using wire::IpVersion;

namespace {
IpVersion version_of(int family) { return family == kAF_INET6 ? IpVersion::kV6 : IpVersion::kV4; }

// tcp_need_reset(): the states tcp_disconnect (and tcp_close with unread data) answer with RST.
bool tcp_need_reset(TcpState s) {
  return s == TcpState::kEstablished || s == TcpState::kCloseWait || s == TcpState::kFinWait1 ||
         s == TcpState::kFinWait2 || s == TcpState::kSynReceived;
}
}  // namespace

SocketTable::SocketTable(inet::NetStack& stack, SocketTableConfig config) : stack_(stack), cfg_(config) {
  NICEMU_ASSERT(cfg_.nofile > kFirstFd, "SocketTableConfig::nofile must leave room above stdin/stdout/stderr");
}

SocketTable::~SocketTable() = default;

// ---- descriptors ---------------------------------------------------------------------------------

SocketTable::File* SocketTable::file(int fd) const {
  if (fd < 0 || static_cast<std::size_t>(fd) >= files_.size()) return nullptr;
  return files_[static_cast<std::size_t>(fd)].get();
}

SocketTable::File* SocketTable::sock(int fd, int* err) const {
  File* f = file(fd);
  if (f == nullptr) {
    *err = -EBADF;
    return nullptr;
  }
  if (f->kind == File::Kind::kEpoll) {  // sockfd_lookup: not a socket
    *err = -ENOTSOCK;
    return nullptr;
  }
  return f;
}

int SocketTable::alloc_fd() const {
  // get_unused_fd_flags: the lowest free descriptor below RLIMIT_NOFILE.
  for (int fd = kFirstFd; fd < cfg_.nofile; ++fd) {
    if (file(fd) == nullptr && !(cfg_.other_files && cfg_.other_files(fd))) return fd;
  }
  return -EMFILE;
}

int SocketTable::install(std::unique_ptr<File> f) {
  const int fd = alloc_fd();
  if (fd < 0) return fd;
  if (files_.size() <= static_cast<std::size_t>(fd)) files_.resize(static_cast<std::size_t>(fd) + 1);
  files_[static_cast<std::size_t>(fd)] = std::move(f);
  return fd;
}

std::size_t SocketTable::open_fds() const {
  return static_cast<std::size_t>(
      std::count_if(files_.begin(), files_.end(), [](const auto& f) { return f != nullptr; }));
}

int SocketTable::socket(int family, int type, int protocol) {
  // __sys_socket_create, __sock_create, inet_create / inet6_create, in their order.
  const int flags = type & ~kSOCK_TYPE_MASK;
  if ((flags & ~(kSOCK_NONBLOCK | kSOCK_CLOEXEC)) != 0) return -EINVAL;
  type &= kSOCK_TYPE_MASK;
  if (family < 0 || family >= kAF_MAX) return -EAFNOSUPPORT;
  if (type >= kSOCK_MAX) return -EINVAL;
  if (family != kAF_INET && family != kAF_INET6) return -EAFNOSUPPORT;  // no such family here
  if (protocol < 0 || protocol >= kIPPROTO_MAX) return -EINVAL;
  // inetsw: the protocols of each type (here TCP for streams, UDP for datagrams).
  int proto = 0;
  if (type == kSOCK_STREAM) {
    proto = kIPPROTO_TCP;
  } else if (type == kSOCK_DGRAM) {
    proto = kIPPROTO_UDP;
  } else {
    return -ESOCKTNOSUPPORT;  // raw sockets are not modelled; SEQPACKET and others have no entry
  }
  if (protocol != kIPPROTO_IP && protocol != proto) return -EPROTONOSUPPORT;
  if (alloc_fd() < 0) return -EMFILE;  // sock_map_fd after the socket exists; nothing to undo here

  auto f = std::make_unique<File>();
  f->family = family;
  f->type = type;
  f->protocol = proto;
  f->file_flags = flags;
  if (type == kSOCK_STREAM) {
    f->kind = File::Kind::kTcp;
    f->tcp = stack_.tcp_socket(version_of(family));
  } else {
    f->kind = File::Kind::kUdp;
    f->udp = stack_.udp_socket(version_of(family));
  }
  return install(std::move(f));
}

void SocketTable::release(File& f, sim::TimePoint now) {
  switch (f.kind) {
    case File::Kind::kTcp:
      // inet_release -> tcp_close: children never accepted are reset (inet_csk_listen_stop, in
      // tcp_release); a connection with unread data is reset, else it closes with FIN in the
      // background.
      stack_.tcp_release(f.tcp, now);
      f.tcp = nullptr;
      break;
    case File::Kind::kUdp:
      stack_.udp_release(f.udp);
      f.udp = nullptr;
      break;
    case File::Kind::kEpoll:
      break;
  }
}

int SocketTable::close(int fd, sim::TimePoint now) {
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  epoll_forget(fd);  // eventpoll_release: a closed file leaves every interest list
  release(*f, now);
  files_[static_cast<std::size_t>(fd)].reset();
  return 0;
}

void SocketTable::close_all(sim::TimePoint now) {
  for (std::size_t fd = 0; fd < files_.size(); ++fd) {
    if (files_[fd] != nullptr) (void)close(static_cast<int>(fd), now);
  }
}

int SocketTable::take_error(File& f) {
  if (f.sk_err != 0) {
    const int e = f.sk_err;
    f.sk_err = 0;
    return e;
  }
  if (f.kind == File::Kind::kTcp) return f.tcp->take_error();
  if (f.kind == File::Kind::kUdp) return f.udp->take_error();
  return 0;
}

// ---- bind, listen, accept --------------------------------------------------------------------------

int SocketTable::bind(int fd, const SockAddr& addr) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  IpAddress local = addr.addr;
  if (f->family == kAF_INET && addr.family() == kAF_UNSPEC) {
    local = IpAddress::any(IpVersion::kV4);  // __inet_bind: AF_UNSPEC is accepted as INADDR_ANY
  } else if (addr.family() != f->family) {
    return -EAFNOSUPPORT;
  }
  auto r = f->kind == File::Kind::kTcp ? stack_.inet_bind(f->tcp, local, addr.port)
                                       : stack_.udp_bind(f->udp, local, addr.port);
  if (!r) return r.error();
  f->bind_addr_lock = !local.is_unspecified();
  f->bind_port_lock = addr.port != 0;
  return 0;
}

int SocketTable::listen(int fd, int backlog) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (f->kind == File::Kind::kUdp) return -EOPNOTSUPP;  // inet_dgram_ops: sock_no_listen
  // inet_listen: only an unconnected socket in CLOSE or LISTEN.
  if (f->state != File::SockState::kUnconnected) return -EINVAL;
  const TcpState st = f->tcp->state();
  if (st != TcpState::kClosed && st != TcpState::kListen) return -EINVAL;
  // __sys_listen: the backlog, taken as unsigned, is clamped to net.core.somaxconn.
  const std::uint32_t clamped = std::min(static_cast<std::uint32_t>(backlog), stack_.config().somaxconn);
  return stack_.inet_listen(f->tcp, clamped);
}

int SocketTable::accept4(int fd, SockAddr* peer, int flags) {
  // __sys_accept4_file's order: flags, a free descriptor, then the socket's own checks.
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  if ((flags & ~(kSOCK_NONBLOCK | kSOCK_CLOEXEC)) != 0) return -EINVAL;
  if (alloc_fd() < 0) return -EMFILE;
  if (f->kind == File::Kind::kEpoll) return -ENOTSOCK;
  if (f->kind == File::Kind::kUdp) return -EOPNOTSUPP;  // sock_no_accept
  if (f->tcp->state() != TcpState::kListen) return -EINVAL;  // inet_csk_accept
  auto taken = stack_.inet_accept(f->tcp);
  if (!taken) return taken.error();
  tcp::TcpSock* child = *taken;

  // The child is a clone of the listener (sk_clone_lock): the stack copied the TCP config, the
  // hop limit and SO_REUSEADDR; the socket layer's own flags come along here.
  auto c = std::make_unique<File>();
  c->kind = File::Kind::kTcp;
  c->family = f->family;
  c->type = f->type;
  c->protocol = f->protocol;
  c->file_flags = flags;
  c->state = File::SockState::kConnected;  // inet_accept: newsock->state = SS_CONNECTED
  c->tcp = child;
  c->started = true;
  c->reuseaddr = f->reuseaddr;
  c->zerocopy = f->zerocopy;
  c->ttl = f->ttl;
  c->hops = f->hops;
  if (peer != nullptr) {
    const tcp::FourTuple t = stack_.tcp_tuple(child);
    *peer = SockAddr{t.remote_addr, t.remote_port};
  }
  return install(std::move(c));
}

// ---- connect ------------------------------------------------------------------------------------------

int SocketTable::connect(int fd, const SockAddr& addr, sim::TimePoint now) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (f->kind == File::Kind::kTcp) return tcp_connect(*f, addr, now);
  // inet_dgram_connect: AF_UNSPEC dissolves the association (udp_disconnect).
  if (addr.family() == kAF_UNSPEC) return stack_.udp_connect(f->udp, IpAddress{}, 0);
  // __ip6_datagram_connect: an IPv4 address on an IPV6_V6ONLY socket.
  if (f->family == kAF_INET6 && addr.family() == kAF_INET) return -EAFNOSUPPORT;
  return stack_.udp_connect(f->udp, addr.addr, addr.port);
}

int SocketTable::tcp_connect(File& f, const SockAddr& addr, sim::TimePoint now) {
  using SS = File::SockState;
  // __inet_stream_connect.
  if (addr.family() == kAF_UNSPEC) {
    tcp_disconnect(f, now);
    return 0;
  }
  int err = 0;
  switch (f.state) {
    case SS::kConnected:
      return -EISCONN;
    case SS::kDisconnecting:
      return -EINVAL;
    case SS::kConnecting:
      err = -EALREADY;
      break;
    case SS::kUnconnected: {
      if (f.tcp->state() != TcpState::kClosed) return -EISCONN;  // e.g. listening
      // tcp_v6_connect: an IPv4 address on an IPV6_V6ONLY socket is unreachable.
      if (f.family == kAF_INET6 && addr.family() == kAF_INET) return -ENETUNREACH;
      if (const int r = stack_.inet_stream_connect(f.tcp, addr.addr, addr.port, now); r != 0) return r;
      f.started = true;
      f.state = SS::kConnecting;
      err = -EINPROGRESS;  // non-blocking: the SYN is out
      break;
    }
  }
  const TcpState st = f.tcp->state();
  if (st == TcpState::kSynSent || st == TcpState::kSynReceived) return err;
  if (tcp_closed(st)) {
    // Refused, timed out or reset: report the error once and make the socket reusable.
    int e = take_error(f);
    if (e == 0) e = -ECONNABORTED;
    tcp_disconnect(f, now);
    return e;
  }
  f.state = SS::kConnected;
  return 0;
}

// tcp_disconnect(): back to a fresh CLOSE socket that can connect or listen again. The NetStack
// never reuses a connection, so the socket layer releases it and takes a new TcpSock with the
// same options, bound again where bind() had locked the address or port.
void SocketTable::tcp_disconnect(File& f, sim::TimePoint now) {
  tcp::TcpSock* old = f.tcp;
  const TcpState st = old->state();
  if (st == TcpState::kListen) {
    // tcp_release below resets the children never accepted (inet_csk_listen_stop).
  } else if (tcp_need_reset(st)) {
    old->abort(now);
    f.sk_err = -ECONNRESET;
  } else if (st == TcpState::kSynSent) {
    f.sk_err = -ECONNRESET;
  }
  const tcp::TcpConfig cfg = old->config();
  const tcp::FourTuple tuple = stack_.tcp_tuple(old);
  stack_.tcp_release(old, now);

  tcp::TcpSock* fresh = stack_.tcp_socket(version_of(f.family));
  fresh->config() = cfg;  // buffers and TCP_NODELAY; the MSS is set again at connect
  f.tcp = fresh;
  stack_.tcp_set_reuseaddr(fresh, f.reuseaddr);
  apply_hop_limit(f);
  if (f.bind_addr_lock || f.bind_port_lock) {
    const IpAddress local = f.bind_addr_lock ? tuple.local_addr : IpAddress::any(version_of(f.family));
    const std::uint16_t port = f.bind_port_lock ? tuple.local_port : 0;
    if (!stack_.inet_bind(fresh, local, port)) {
      // Another socket holds the port now (in Linux the socket would have kept it).
      f.bind_addr_lock = f.bind_port_lock = false;
    }
  }
  f.state = File::SockState::kUnconnected;
  f.started = false;
  f.shutdown = 0;
}

// ---- shutdown ------------------------------------------------------------------------------------------

int SocketTable::set_copy_offload(int fd, bool on) {
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  f->copy_offload = on;
  return 0;
}

int SocketTable::shutdown(int fd, int how, sim::TimePoint now) {
  using SS = File::SockState;
  int err = 0;
  File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (how < kSHUT_RD || how > kSHUT_RDWR) return -EINVAL;
  const auto bits = static_cast<std::uint8_t>(how + 1);  // SHUT_RD -> RCV_SHUTDOWN, ...
  if (f->kind == File::Kind::kUdp) {
    // inet_shutdown: an unconnected UDP socket is in CLOSE: ENOTCONN, and the bits are set anyway.
    f->shutdown |= bits;
    return f->udp->peer_addr ? 0 : -ENOTCONN;
  }
  const TcpState st = f->tcp->state();
  if (f->state == SS::kConnecting) {
    f->state = (st == TcpState::kSynSent || st == TcpState::kSynReceived || tcp_closed(st)) ? SS::kDisconnecting
                                                                                             : SS::kConnected;
  }
  if (st == TcpState::kListen) {
    if ((bits & kRcvShutdown) != 0) tcp_disconnect(*f, now);  // stops listening
    return 0;
  }
  if (st == TcpState::kSynSent) {
    tcp_disconnect(*f, now);
    return 0;
  }
  f->shutdown |= bits;
  if (tcp_closed(st)) return -ENOTCONN;
  if ((bits & kSendShutdown) != 0) (void)f->tcp->shutdown_write(now);  // tcp_shutdown: FIN after the data
  return 0;
}

// ---- names --------------------------------------------------------------------------------------------

int SocketTable::getsockname(int fd, SockAddr* addr) const {
  int err = 0;
  const File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (f->kind == File::Kind::kTcp) {
    const tcp::FourTuple t = stack_.tcp_tuple(f->tcp);
    *addr = SockAddr{t.local_addr, t.local_port};
  } else {
    *addr = SockAddr{f->udp->local_addr, f->udp->local_port};
  }
  return 0;
}

int SocketTable::getpeername(int fd, SockAddr* addr) const {
  int err = 0;
  const File* f = sock(fd, &err);
  if (f == nullptr) return err;
  if (f->kind == File::Kind::kTcp) {
    // inet_getname(peer): no peer port, or CLOSE / SYN-SENT.
    const TcpState st = f->tcp->state();
    if (st == TcpState::kListen || st == TcpState::kSynSent || tcp_closed(st)) return -ENOTCONN;
    const tcp::FourTuple t = stack_.tcp_tuple(f->tcp);
    *addr = SockAddr{t.remote_addr, t.remote_port};
    return 0;
  }
  if (!f->udp->peer_addr) return -ENOTCONN;
  *addr = SockAddr{*f->udp->peer_addr, f->udp->peer_port};
  return 0;
}

}  // namespace nicemu::netstack::socket
