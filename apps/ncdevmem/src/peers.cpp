// The remote side of devmem.py: the pattern sender of check_rx (`yes ... | head -c N | socat -u
// - TCP:...`) and the sink of check_tx (`socat -U - TCP-LISTEN:...`), over plain TCP sockets.
#include <algorithm>
#include <cerrno>

#include "control.hpp"
#include "nicemu/ncdevmem/ncdevmem.hpp"

namespace nicemu::ncdevmem {

namespace so = netstack::socket;
using detail::describe;

namespace {

int family_of(const netstack::wire::IpAddress& a) { return a.is_v6() ? so::kAF_INET6 : so::kAF_INET; }

std::uint64_t peer_modulus(const PeerOptions& p, const Options& o) {
  if (p.modulus != 0) return p.modulus;
  return o.validation != 0 ? o.validation : 7;
}

}  // namespace

// ---- the sender ------------------------------------------------------------------------------------------

PeerPatternClient::PeerPatternClient(app::Host& host, Options options, PeerOptions peer, std::string name)
    : Program(host, std::move(options), std::move(name)),
      peer_(peer),
      modulus_(peer_modulus(peer, opt_)),
      seed_(modulus_),
      buf_(std::max<std::size_t>(peer.write_size, 1)) {}

PeerPatternClient::~PeerPatternClient() {
  if (fd_ >= 0) (void)host_.sockets().close(fd_, last_now_);
}

std::optional<sim::TimePoint> PeerPatternClient::wake_at() const {
  if (st_ != St::kWaiting) return std::nullopt;
  return start_at_.value_or(sim::TimePoint::zero());
}

void PeerPatternClient::close_fd(sim::TimePoint now) {
  if (fd_ >= 0) (void)host_.sockets().close(fd_, now);
  fd_ = -1;
}

void PeerPatternClient::stop(sim::TimePoint now) {
  last_now_ = now;
  if (!done()) fail(now, "stopped before the transfer ended");
  st_ = St::kDone;
  close_fd(now);
}

app::StepWork PeerPatternClient::step(sim::TimePoint now) {
  app::StepWork w;
  last_now_ = now;
  auto& t = host_.sockets();
  const auto give_up = [&](std::string why) {
    fail(now, std::move(why));
    st_ = St::kDone;
    close_fd(now);
  };
  if (st_ == St::kWaiting) {
    if (!start_at_) start_at_ = now + peer_.start_delay;
    if (now < *start_at_) return w;
    if (!opt_.server_ip || opt_.port == 0) {
      give_up("socat: no server address or port");
      return w;
    }
    w.socket_calls += 2;
    fd_ = t.socket(family_of(*opt_.server_ip), so::kSOCK_STREAM | so::kSOCK_NONBLOCK, 0);
    if (fd_ < 0) {
      give_up("socat: socket: " + describe(fd_));
      return w;
    }
    if (opt_.client_ip) {  // bind=CLIENT:PORT (the 5-tuple ncdevmem's rule matches)
      (void)t.setsockopt(fd_, so::kSOL_SOCKET, so::kSO_REUSEADDR, 1, now);
      if (const int r = t.bind(fd_, so::SockAddr{*opt_.client_ip, opt_.port}); r < 0) {
        give_up("socat: bind: " + describe(r));
        return w;
      }
    }
    const int r = t.connect(fd_, so::SockAddr{*opt_.server_ip, opt_.port}, now);
    if (r != 0 && r != -EINPROGRESS) {
      give_up("socat: connect: " + describe(r));
      return w;
    }
    st_ = St::kConnecting;
  }
  if (st_ == St::kConnecting) {
    ++w.socket_calls;
    const int r = t.connect(fd_, so::SockAddr{*opt_.server_ip, opt_.port}, now);
    if (r == -EALREADY || r == -EINPROGRESS) return w;
    if (r < 0) {
      give_up("socat: connect: " + describe(r));
      return w;
    }
    st_ = St::kSending;
  }
  if (st_ == St::kSending) {
    Counters& c = result_.counters;
    while (c.bytes_sent < peer_.bytes) {
      if (buf_at_ == buf_len_) {  // head -c: the next piece of the pattern
        buf_len_ = static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), peer_.bytes - c.bytes_sent));
        for (std::size_t i = 0; i < buf_len_; ++i) buf_[i] = seed_.next();
        buf_at_ = 0;
      }
      ++w.socket_calls;
      const std::int64_t n = t.send(fd_, std::span(buf_).subspan(buf_at_, buf_len_ - buf_at_), so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN || n == 0) return w;
      if (n < 0) {
        give_up("socat: send: " + describe(static_cast<int>(n)));
        return w;
      }
      buf_at_ += static_cast<std::size_t>(n);
      c.bytes_sent += static_cast<std::uint64_t>(n);
      w.bytes_copied += static_cast<std::uint64_t>(n);
    }
    // stdin's EOF: shut the write side down, wait for the server's close.
    ++w.socket_calls;
    if (const int r = t.shutdown(fd_, so::kSHUT_WR, now); r < 0) {
      give_up("socat: shutdown: " + describe(r));
      return w;
    }
    st_ = St::kWaitFin;
  }
  if (st_ == St::kWaitFin) {
    std::byte scratch[2048];
    for (;;) {
      ++w.socket_calls;
      const std::int64_t n = t.recv(fd_, scratch, 0, now);
      if (n == -EAGAIN) return w;
      if (n < 0) {
        give_up("socat: recv: " + describe(static_cast<int>(n)));
        return w;
      }
      if (n == 0) break;
      result_.counters.bytes_received += static_cast<std::uint64_t>(n);
    }
    st_ = St::kDone;
    close_fd(now);
    pass(now);
  }
  return w;
}

// ---- the sink ----------------------------------------------------------------------------------------------

PeerSinkServer::PeerSinkServer(app::Host& host, Options options, std::string name)
    : Program(host, std::move(options), std::move(name)) {}

PeerSinkServer::~PeerSinkServer() {
  auto& t = host_.sockets();
  if (fd_ >= 0) (void)t.close(fd_, last_now_);
  if (lfd_ >= 0) (void)t.close(lfd_, last_now_);
}

std::optional<sim::TimePoint> PeerSinkServer::wake_at() const {
  if (started_) return std::nullopt;
  return sim::TimePoint::zero();  // listen at once
}

void PeerSinkServer::close_fds(sim::TimePoint now) {
  auto& t = host_.sockets();
  if (fd_ >= 0) (void)t.close(fd_, now);
  if (lfd_ >= 0) (void)t.close(lfd_, now);
  fd_ = lfd_ = -1;
}

void PeerSinkServer::stop(sim::TimePoint now) {
  last_now_ = now;
  if (!done()) fail(now, "stopped before the client closed");
  close_fds(now);
}

app::StepWork PeerSinkServer::step(sim::TimePoint now) {
  app::StepWork w;
  last_now_ = now;
  if (done()) return w;
  auto& t = host_.sockets();
  const auto give_up = [&](std::string why) {
    fail(now, std::move(why));
    close_fds(now);
  };
  if (!started_) {
    started_ = true;
    if (!opt_.server_ip || opt_.port == 0) {
      give_up("socat: no listen address or port");
      return w;
    }
    w.socket_calls += 4;
    lfd_ = t.socket(family_of(*opt_.server_ip), so::kSOCK_STREAM | so::kSOCK_NONBLOCK, 0);
    if (lfd_ < 0) {
      give_up("socat: socket: " + describe(lfd_));
      return w;
    }
    (void)t.setsockopt(lfd_, so::kSOL_SOCKET, so::kSO_REUSEADDR, 1, now);
    if (const int r = t.bind(lfd_, so::SockAddr{*opt_.server_ip, opt_.port}); r < 0) {
      give_up("socat: bind: " + describe(r));
      return w;
    }
    if (const int r = t.listen(lfd_, 1); r < 0) {
      give_up("socat: listen: " + describe(r));
      return w;
    }
  }
  if (fd_ < 0) {
    ++w.socket_calls;
    fd_ = t.accept4(lfd_, nullptr, so::kSOCK_NONBLOCK);
    if (fd_ == -EAGAIN) {
      fd_ = -1;
      return w;
    }
    if (fd_ < 0) {
      const int err = fd_;
      fd_ = -1;
      give_up("socat: accept: " + describe(err));
      return w;
    }
  }
  std::byte buf[4096];
  for (;;) {
    ++w.socket_calls;
    const std::int64_t n = t.recv(fd_, buf, 0, now);
    if (n == -EAGAIN) return w;
    if (n < 0) {
      give_up("socat: recv: " + describe(static_cast<int>(n)));
      return w;
    }
    if (n == 0) break;
    received_.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
    result_.counters.bytes_received += static_cast<std::uint64_t>(n);
    w.bytes_copied += static_cast<std::uint64_t>(n);
  }
  close_fds(now);
  pass(now);
  return w;
}

}  // namespace nicemu::ncdevmem
