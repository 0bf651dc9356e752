// Readiness: the masks of tcp_poll (net/ipv4/tcp.c), inet_csk_listen_poll, datagram_poll
// (net/core/datagram.c) with udp_poll (net/ipv4/udp.c); poll(2) as fs/select.c do_pollfd
// filters them; a level-triggered epoll (fs/eventpoll.c).
#include <cerrno>

#include "file.hpp"

namespace nicemu::netstack::socket {

using tcp::TcpState;

namespace {
// sk_stream_is_writeable: free space at least half of what is queued (so a writer is woken with
// room for a third of the buffer), and the queue below the buffer (__sk_stream_memory_free).
bool sk_stream_is_writeable(const tcp::TcpSock& sk) {
  const std::uint32_t queued = sk.write_queue_bytes();
  const std::uint32_t sndbuf = sk.config().sndbuf;
  return queued < sndbuf && sndbuf - queued >= queued / 2;
}
}  // namespace

std::uint32_t SocketTable::tcp_poll(File& f) {
  const tcp::TcpSock& sk = *f.tcp;
  const TcpState st = sk.state();
  if (st == TcpState::kListen) {  // inet_csk_listen_poll
    return stack_.tcp_accept_queue_len(f.tcp) == 0 ? 0 : kEPOLLIN | kEPOLLRDNORM;
  }
  const bool closed = tcp_closed(st);
  std::uint8_t shut = f.shutdown;
  if (sk.fin_received()) shut |= kRcvShutdown;  // tcp_fin
  if (closed && f.started) shut = kShutdownMask;  // tcp_done
  std::uint32_t mask = 0;
  // EPOLLHUP only when both directions are shut, or in CLOSE (also a fresh socket: "to prevent
  // blocking on fresh not-connected or disconnected socket").
  if (shut == kShutdownMask || closed) mask |= kEPOLLHUP;
  if ((shut & kRcvShutdown) != 0) mask |= kEPOLLIN | kEPOLLRDNORM | kEPOLLRDHUP;
  if (st != TcpState::kSynSent && st != TcpState::kSynReceived) {
    if (sk.bytes_readable() > 0) mask |= kEPOLLIN | kEPOLLRDNORM;
    if ((shut & kSendShutdown) == 0) {
      if (sk_stream_is_writeable(sk)) mask |= kEPOLLOUT | kEPOLLWRNORM;
    } else {
      mask |= kEPOLLOUT | kEPOLLWRNORM;  // a write fails at once (EPIPE): it would not block
    }
  }
  if (f.sk_err != 0 || sk.so_error() != 0 || !sk.error_queue_empty()) mask |= kEPOLLERR;
  return mask;
}

std::uint32_t SocketTable::udp_poll(const File& f) const {
  const inet::UdpSock& sk = *f.udp;
  std::uint32_t mask = 0;
  if (sk.so_error != 0) mask |= kEPOLLERR;
  if ((f.shutdown & kRcvShutdown) != 0) mask |= kEPOLLRDHUP | kEPOLLIN | kEPOLLRDNORM;
  if (f.shutdown == kShutdownMask) mask |= kEPOLLHUP;
  if (sk.queued_datagrams() > 0) mask |= kEPOLLIN | kEPOLLRDNORM;
  // sock_writeable: datagrams leave at once, so nothing is ever charged against SO_SNDBUF.
  mask |= kEPOLLOUT | kEPOLLWRNORM | kEPOLLWRBAND;
  return mask;
}

std::uint32_t SocketTable::epoll_item_mask(std::uint32_t events, int fd) {
  File* t = file(fd);
  NICEMU_ASSERT(t != nullptr, "epoll: an interest-list entry outlived its descriptor");
  return poll_mask(*t) & events & ~kEpPrivateBits;
}

std::uint32_t SocketTable::poll_mask(File& f) {
  switch (f.kind) {
    case File::Kind::kTcp:
      return tcp_poll(f);
    case File::Kind::kUdp:
      return udp_poll(f);
    case File::Kind::kEpoll:
      // ep_eventpoll_poll: readable while some registered descriptor is ready.
      for (const auto& [fd, item] : f.ep_items) {
        if (epoll_item_mask(item.events, fd) != 0) return kEPOLLIN | kEPOLLRDNORM;
      }
      return 0;
  }
  return 0;
}

int SocketTable::poll(std::span<PollFd> fds) {
  if (fds.size() > static_cast<std::size_t>(cfg_.nofile)) return -EINVAL;  // nfds > RLIMIT_NOFILE
  int ready = 0;
  for (PollFd& p : fds) {
    p.revents = 0;
    if (p.fd < 0) continue;  // ignored, as poll(2) says
    File* f = file(p.fd);
    if (f == nullptr) {
      p.revents = kPOLLNVAL;
      ++ready;
      continue;
    }
    // do_pollfd: POLLERR and POLLHUP are reported whether asked for or not.
    const std::uint32_t filter = static_cast<std::uint16_t>(p.events) | static_cast<std::uint32_t>(kPOLLERR | kPOLLHUP);
    p.revents = static_cast<short>(poll_mask(*f) & filter);
    if (p.revents != 0) ++ready;
  }
  return ready;
}

// ---- epoll ---------------------------------------------------------------------------------------------

int SocketTable::epoll_create(int size) {
  if (size <= 0) return -EINVAL;
  return epoll_create1(0);
}

int SocketTable::epoll_create1(int flags) {
  if ((flags & ~kEPOLL_CLOEXEC) != 0) return -EINVAL;
  auto f = std::make_unique<File>();
  f->kind = File::Kind::kEpoll;
  f->file_flags = flags;
  return install(std::move(f));
}

int SocketTable::epoll_ctl(int epfd, int op, int fd, EpollEvent event) {
  // do_epoll_ctl's order: both descriptors, then what they are, then the operation.
  File* ep = file(epfd);
  if (ep == nullptr) return -EBADF;
  File* target = file(fd);
  if (target == nullptr) return -EBADF;
  if (ep == target || ep->kind != File::Kind::kEpoll) return -EINVAL;
  if (target->kind == File::Kind::kEpoll) return -EINVAL;  // nested epoll is not modelled
  const bool has_event = op == kEPOLL_CTL_ADD || op == kEPOLL_CTL_MOD;
  // Not modelled: edge triggering (needs wakeups the stack does not report) and exclusive
  // wakeups (one waiter only here). Refused rather than silently level-triggered.
  if (has_event && (event.events & (kEPOLLET | kEPOLLEXCLUSIVE)) != 0) return -EINVAL;
  const File::EpItem item{(event.events & ~kEPOLLWAKEUP) | kEPOLLERR | kEPOLLHUP, event.data};
  auto it = ep->ep_items.find(fd);
  switch (op) {
    case kEPOLL_CTL_ADD:
      if (it != ep->ep_items.end()) return -EEXIST;
      ep->ep_items.emplace(fd, item);
      return 0;
    case kEPOLL_CTL_DEL:
      if (it == ep->ep_items.end()) return -ENOENT;
      ep->ep_items.erase(it);
      return 0;
    case kEPOLL_CTL_MOD:
      if (it == ep->ep_items.end()) return -ENOENT;
      it->second = item;
      return 0;
    default:
      return -EINVAL;
  }
}

int SocketTable::epoll_wait(int epfd, std::span<EpollEvent> events) {
  if (events.empty()) return -EINVAL;  // maxevents <= 0, checked before the descriptor
  File* ep = file(epfd);
  if (ep == nullptr) return -EBADF;
  if (ep->kind != File::Kind::kEpoll) return -EINVAL;
  // Linux hands out its ready list in the order descriptors became ready and puts a
  // level-triggered entry back at the tail, so a full buffer does not starve the rest. Here:
  // ascending fd order, resuming after the last fd returned when the buffer was full.
  std::size_t n = 0;
  int last = -1;
  bool full = false;
  auto visit = [&](std::map<int, File::EpItem>::iterator from, std::map<int, File::EpItem>::iterator to) {
    for (auto it = from; it != to && !full; ++it) {
      const std::uint32_t mask = epoll_item_mask(it->second.events, it->first);
      if (mask == 0) continue;
      if (n == events.size()) {
        full = true;
        break;
      }
      events[n++] = EpollEvent{mask, it->second.data};
      last = it->first;
      if ((it->second.events & kEPOLLONESHOT) != 0) it->second.events &= kEpPrivateBits;  // disarmed until MOD
    }
  };
  const auto start = ep->ep_items.lower_bound(ep->ep_cursor);
  visit(start, ep->ep_items.end());
  visit(ep->ep_items.begin(), start);
  ep->ep_cursor = full ? last + 1 : 0;
  return static_cast<int>(n);
}

void SocketTable::epoll_forget(int fd) {
  for (auto& f : files_) {
    if (f != nullptr && f->kind == File::Kind::kEpoll) f->ep_items.erase(fd);
  }
}

}  // namespace nicemu::netstack::socket
