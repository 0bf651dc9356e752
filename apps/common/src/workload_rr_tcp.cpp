// request-response: min(concurrency, count) TCP connections to one server port, each with one
// transaction outstanding: the client writes request_bytes, the server reads them all and writes
// response_bytes, the client reads them all; `count` transactions in all. Both directions carry
// BytePattern streams (seed = FNV-1a of the workload's name; connection c's requests are stream
// 2c, its responses 2c + 1, offsets running on across its transactions) and both are checked.
//
// Models: a netperf-TCP_RR-like client and server over non-blocking sockets and epoll. Client,
//   per connection: connect -> (send the request until all of it is accepted -> read exactly
//   response_bytes)* -> no transactions left: shutdown(SHUT_WR) -> the server's FIN -> close.
//   Server: one listener; accept, then per connection (read exactly request_bytes -> send the
//   response)* until EOF -> close. Latency is the client's: the step that sent the request's
//   first byte to the step that read the response's last byte, in a fixed histogram.
// Not modelled: pipelining (one transaction outstanding per connection), think time between
//   transactions, connection per transaction (TCP_CRR).
// Attribution: the server learns which connection is which from the client's source address and
//   port (the client records them right after connect(), before any segment can arrive); a
//   connection from anywhere else is reset-closed and counted as kUnknownPeer on flow 0.
// References: netperf src/nettest_bsd.c (send_tcp_rr / recv_tcp_rr); HdrHistogram's bucket layout.
#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>

#include "nicemu/app/workload.hpp"
#include "tcp_pair_book.hpp"
#include "nicemu/sim/random.hpp"

namespace nicemu::app {
namespace {

using netstack::socket::EpollEvent;
using netstack::socket::SockAddr;
using netstack::socket::SocketTable;
namespace so = netstack::socket;

int family_of(netstack::wire::IpVersion v) {
  return v == netstack::wire::IpVersion::kV6 ? so::kAF_INET6 : so::kAF_INET;
}
bool is_reset(std::int64_t err) {
  return err == -ECONNRESET || err == -EPIPE || err == -ECONNABORTED || err == -ETIMEDOUT;
}
// How often a client that is due looks again for its server's listener.
constexpr sim::Duration kServerWait = sim::Duration::from_us(1);

struct RrShared {
  RrShared(const WorkloadSpec& spec, const RequestResponseTcp& p, const WorkloadPlacement& w, const WorkloadOptions& o)
      : name(spec.name),
        params(p),
        family(spec.family),
        server{w.server_addr, spec.port},
        start(sim::TimePoint() + spec.start),
        where(w),
        options(o),
        seed(sim::fnv1a_64(spec.name)),
        conns(static_cast<std::uint32_t>(std::min<std::uint64_t>(p.concurrency, p.count))),
        flows(conns),
        sides(conns),
        book(conns) {
    for (std::uint32_t c = 0; c < conns; ++c) flows[c].index = c;
  }

  std::string name;
  RequestResponseTcp params;
  netstack::wire::IpVersion family;
  SockAddr server;
  sim::TimePoint start;
  WorkloadPlacement where;
  WorkloadOptions options;
  std::uint64_t seed = 0;
  std::uint32_t conns = 0;
  std::vector<FlowStats> flows;
  struct Sides {
    bool client_registered = false;
    SockAddr client_local;        // the client's address and port, as the server will see them
    std::uint64_t client_retrans = 0, server_retrans = 0;
  };
  std::vector<Sides> sides;
  RrStats stats;
  std::uint64_t issued = 0;  // transactions handed to connections
  bool server_started = false;
  detail::TcpPairBook book;  // client/server sides of each connection
  bool client_finished = false;       // the client app is done

  bool server_finished() const { return server_started && book.server_done_count() == conns; }

  BytePattern requests(std::uint32_t c) const { return BytePattern(seed, 2 * std::uint64_t{c}); }
  BytePattern responses(std::uint32_t c) const { return BytePattern(seed, 2 * std::uint64_t{c} + 1); }
  void closed(std::uint32_t c, bool client, sim::TimePoint now) {
    if (book.closed(c, client) && !flows[c].done) {
      flows[c].done = true;
      flows[c].end = now;
    }
  }
  void accepted(std::uint32_t c) { book.accepted(c); }
  bool server_done(std::uint32_t c) const { return book.server_done(c); }
  void retransmits(SocketTable& t, int fd, std::uint32_t c, bool client) {
    so::TcpInfo info;
    if (t.tcp_info(fd, &info) != 0) return;
    const std::uint64_t n = info.stats.retransmits;
    if (client) {
      sides[c].client_retrans = n;
    } else {
      sides[c].server_retrans = n;
    }
    flows[c].retransmits = sides[c].client_retrans + sides[c].server_retrans;
  }
  void received(std::uint32_t c, std::uint64_t n, sim::TimePoint now) {
    flows[c].bytes_received += n;
    flows[c].last_byte_received = now;
  }
  void sent(std::uint32_t c, std::uint64_t n, sim::TimePoint now) {
    flows[c].bytes_sent += n;
    if (!flows[c].first_byte_sent) flows[c].first_byte_sent = now;
  }
};

// A buffer that holds the pattern bytes [off, off + len) of one (connection, direction); a short
// send keeps using them, anything else refills.
class TxBuffer {
 public:
  explicit TxBuffer(std::size_t bytes) : buf_(bytes) {}
  std::span<const std::byte> bytes_at(const RrShared& s, std::uint32_t c, Direction d, const BytePattern& p,
                                      std::uint64_t offset, std::uint64_t left) {
    const std::uint64_t key = 2 * std::uint64_t{c} + (d == Direction::kServerToClient ? 1 : 0);
    if (key != key_ || offset < off_ || offset >= off_ + len_) {
      key_ = key;
      off_ = offset;
      len_ = static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), left));
      const auto chunk = std::span(buf_).first(len_);
      p.fill(off_, chunk);
      if (s.options.tamper_tx) s.options.tamper_tx(c, d, off_, chunk);
    }
    // The chunk never runs past the message: len_ was at most `left` from off_ on.
    const auto at = static_cast<std::size_t>(offset - off_);
    return std::span<const std::byte>(buf_).subspan(at, len_ - at);
  }

 private:
  std::vector<std::byte> buf_;
  std::uint64_t key_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t off_ = 0;
  std::size_t len_ = 0;
};

// ---- client ------------------------------------------------------------------------------------------

class RrClient final : public App {
 public:
  RrClient(std::shared_ptr<RrShared> owner, SocketTable& t) : RrClient(*owner, t) { owner_ = std::move(owner); }

 private:
  RrClient(RrShared& s, SocketTable& t)
      : name_(s.name + "/client"),
        s_(s),
        t_(t),
        tx_(s.options.io_buffer_bytes),
        rx_(s.options.io_buffer_bytes),
        events_(s.conns + 1) {
    conns_.reserve(s.conns);
    for (std::uint32_t c = 0; c < s.conns; ++c) conns_.push_back(Conn{s.requests(c), s.responses(c)});
  }

 public:
  const std::string& name() const override { return name_; }
  bool done() const override { return finished_; }
  std::optional<sim::TimePoint> wake_at() const override {
    if (!opened_) return std::max(s_.start, retry_at_);
    return std::nullopt;
  }

  StepWork step(sim::TimePoint now) override {
    StepWork w;
    if (finished_) return w;
    if (!opened_) {
      if (now < s_.start) return w;
      if (!s_.server_started) {  // the runner starts servers first; until it has, look again soon
        retry_at_ = now + kServerWait;
        return w;
      }
      open(now, w);
    }
    if (epfd_ >= 0 && open_ > 0) {
      ++w.socket_calls;
      const int n = t_.epoll_wait(epfd_, events_);
      for (int k = 0; k < n; ++k) handle(static_cast<std::uint32_t>(events_[static_cast<std::size_t>(k)].data), now, w);
    }
    if (open_ == 0) {
      if (epfd_ >= 0) (void)t_.close(epfd_, now);
      epfd_ = -1;
      finished_ = true;
      s_.client_finished = true;
    }
    return w;
  }

  void stop(sim::TimePoint now) override {
    for (auto& c : conns_) {
      if (c.fd >= 0) (void)t_.close(c.fd, now);
      c.fd = -1;
    }
    if (epfd_ >= 0) (void)t_.close(epfd_, now);
    epfd_ = -1;
  }

 private:
  enum class State : std::uint8_t { kIdle, kConnecting, kSending, kReceiving, kWaitFin, kClosed };
  struct Conn {
    BytePattern req, resp;
    int fd = -1;
    State st = State::kIdle;
    std::uint64_t req_off = 0, resp_off = 0;     // stream offsets: request bytes sent, response bytes read
    std::uint64_t send_left = 0, recv_left = 0;  // of the current transaction
    sim::TimePoint tx_start{};
    bool unexpected = false;
  };

  void open(sim::TimePoint now, StepWork& w) {
    opened_ = true;
    ++w.socket_calls;
    epfd_ = t_.epoll_create1(0);
    for (std::uint32_t c = 0; c < conns_.size(); ++c) {
      Conn& k = conns_[c];
      FlowStats& fs = s_.flows[c];
      fs.start = now;
      ++open_;
      k.st = State::kConnecting;
      if (epfd_ < 0) {
        fail(c, StreamError::kConnectFailed, epfd_, now);
        continue;
      }
      w.socket_calls += 3;
      k.fd = t_.socket(family_of(s_.family), so::kSOCK_STREAM | so::kSOCK_NONBLOCK, 0);
      if (k.fd < 0) {
        fail(c, StreamError::kConnectFailed, k.fd, now);
        continue;
      }
      // Transactions are small: Nagle would hold a request's tail for the ACK of its head.
      (void)t_.setsockopt(k.fd, so::kSOL_TCP, so::kTCP_NODELAY, 1, now);
      if (s_.where.client_addr) {
        ++w.socket_calls;
        if (const int r = t_.bind(k.fd, SockAddr{*s_.where.client_addr, 0}); r < 0) {
          fail(c, StreamError::kConnectFailed, r, now);
          continue;
        }
      }
      const int r = t_.connect(k.fd, s_.server, now);
      if (r != 0 && r != -EINPROGRESS) {
        fail(c, StreamError::kConnectFailed, r, now);
        continue;
      }
      SockAddr local;
      (void)t_.getsockname(k.fd, &local);
      s_.sides[c].client_local = local;
      s_.sides[c].client_registered = true;
      fs.tuple = format_tuple(local, s_.server);
      (void)t_.epoll_ctl(epfd_, so::kEPOLL_CTL_ADD, k.fd, EpollEvent{so::kEPOLLOUT, c});
      if (r == 0) next_transaction(c, now, w);
    }
  }

  void handle(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    switch (k.st) {
      case State::kConnecting: {
        ++w.socket_calls;
        const int r = t_.connect(k.fd, s_.server, now);
        if (r == -EALREADY) return;
        if (r < 0) {
          fail(c, StreamError::kConnectFailed, r, now);
          return;
        }
        next_transaction(c, now, w);
        return;
      }
      case State::kSending:
        send_some(c, now, w);
        return;
      case State::kReceiving:
        recv_some(c, now, w);
        return;
      case State::kWaitFin:
        read_fin(c, now, w);
        return;
      case State::kIdle:
      case State::kClosed:
        return;
    }
  }

  void interest(std::uint32_t c, std::uint32_t events) {
    (void)t_.epoll_ctl(epfd_, so::kEPOLL_CTL_MOD, conns_[c].fd, EpollEvent{events, c});
  }

  void next_transaction(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    if (s_.issued < s_.params.count) {
      ++s_.issued;
      k.st = State::kSending;
      k.send_left = s_.params.request_bytes;
      k.recv_left = s_.params.response_bytes;
      interest(c, so::kEPOLLOUT);
      send_some(c, now, w);
      return;
    }
    ++w.socket_calls;
    if (const int r = t_.shutdown(k.fd, so::kSHUT_WR, now); r < 0) {
      fail(c, StreamError::kReset, r, now);
      return;
    }
    k.st = State::kWaitFin;
    interest(c, so::kEPOLLIN | so::kEPOLLRDHUP);
    read_fin(c, now, w);
  }

  void send_some(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    while (k.send_left > 0) {
      const auto chunk = tx_.bytes_at(s_, c, Direction::kClientToServer, k.req, k.req_off, k.send_left);
      ++w.socket_calls;
      const std::int64_t n = t_.send(k.fd, chunk, so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN || n == 0) return;
      if (n < 0) {
        fail(c, is_reset(n) ? StreamError::kReset : StreamError::kSendFailed, static_cast<int>(n), now);
        return;
      }
      if (k.send_left == s_.params.request_bytes) {  // the request's first byte
        k.tx_start = now;
        ++s_.stats.transactions_started;
      }
      const auto m = static_cast<std::uint64_t>(n);
      w.bytes_copied += m;
      k.req_off += m;
      k.send_left -= m;
      s_.sent(c, m, now);
    }
    s_.retransmits(t_, k.fd, c, /*client=*/true);
    k.st = State::kReceiving;
    interest(c, so::kEPOLLIN | so::kEPOLLRDHUP);
    recv_some(c, now, w);
  }

  void recv_some(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    FlowStats& fs = s_.flows[c];
    while (k.recv_left > 0) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(rx_.size(), k.recv_left));
      ++w.socket_calls;
      const std::int64_t n = t_.recv(k.fd, std::span(rx_).first(want), so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN) return;
      if (n <= 0) {
        if (n == 0) {
          fs.errors.add(StreamError::kPrematureEof);
        } else {
          fs.errors.add(is_reset(n) ? StreamError::kReset : StreamError::kRecvFailed, static_cast<int>(n));
        }
        close_conn(c, now, w);
        return;
      }
      const auto m = static_cast<std::uint64_t>(n);
      fs.errors.add(k.resp.check(k.resp_off, std::span<const std::byte>(rx_.data(), static_cast<std::size_t>(m))),
                    Direction::kServerToClient);
      fs.bytes_validated += m;
      w.bytes_copied += m;
      k.resp_off += m;
      k.recv_left -= m;
      s_.received(c, m, now);
    }
    s_.stats.latency.record(now - k.tx_start);
    ++s_.stats.transactions_done;
    next_transaction(c, now, w);
  }

  void read_fin(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    FlowStats& fs = s_.flows[c];
    for (;;) {
      ++w.socket_calls;
      const std::int64_t n = t_.recv(k.fd, rx_, so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN) return;
      if (n > 0) {  // the server answered something nobody asked for
        w.bytes_copied += static_cast<std::uint64_t>(n);
        if (!k.unexpected) fs.errors.add(StreamError::kUnexpectedData);
        k.unexpected = true;
        continue;
      }
      if (n < 0) fs.errors.add(is_reset(n) ? StreamError::kReset : StreamError::kRecvFailed, static_cast<int>(n));
      close_conn(c, now, w);
      return;
    }
  }

  void close_conn(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    if (k.fd >= 0) {
      s_.retransmits(t_, k.fd, c, /*client=*/true);
      ++w.socket_calls;
      (void)t_.close(k.fd, now);
    }
    k.fd = -1;
    k.st = State::kClosed;
    --open_;
    s_.closed(c, /*client=*/true, now);
  }

  void fail(std::uint32_t c, StreamError e, int err, sim::TimePoint now) {
    s_.flows[c].errors.add(e, err);
    StepWork ignored;
    close_conn(c, now, ignored);
  }

  std::shared_ptr<RrShared> owner_;
  std::string name_;
  RrShared& s_;
  SocketTable& t_;
  std::vector<Conn> conns_;
  TxBuffer tx_;
  std::vector<std::byte> rx_;
  std::vector<EpollEvent> events_;
  int epfd_ = -1;
  std::size_t open_ = 0;
  bool opened_ = false, finished_ = false;
  sim::TimePoint retry_at_;
};

// ---- server ------------------------------------------------------------------------------------------

class RrServer final : public App {
 public:
  static constexpr std::uint64_t kListener = std::numeric_limits<std::uint64_t>::max();

  RrServer(std::shared_ptr<RrShared> owner, SocketTable& t) : RrServer(*owner, t) { owner_ = std::move(owner); }

 private:
  RrServer(RrShared& s, SocketTable& t)
      : name_(s.name + "/server"),
        s_(s),
        t_(t),
        tx_(s.options.io_buffer_bytes),
        rx_(s.options.io_buffer_bytes),
        events_(s.conns + 1) {
    conns_.reserve(s.conns);
    for (std::uint32_t c = 0; c < s.conns; ++c) conns_.push_back(Conn{s.requests(c), s.responses(c)});
  }

 public:
  const std::string& name() const override { return name_; }
  bool done() const override { return s_.server_finished(); }
  std::optional<sim::TimePoint> wake_at() const override {
    if (!s_.server_started) return sim::TimePoint::zero();
    return std::nullopt;
  }

  StepWork step(sim::TimePoint now) override {
    StepWork w;
    if (!s_.server_started) open(now, w);
    if (listen_fd_ >= 0 && s_.book.client_gave_up() != gave_up_seen_) {
      gave_up_seen_ = s_.book.client_gave_up();
      maybe_close_listener(now, w);
    }
    if (epfd_ >= 0 && open_ > 0) {
      ++w.socket_calls;
      const int n = t_.epoll_wait(epfd_, events_);
      for (int k = 0; k < n; ++k) {
        const std::uint64_t d = events_[static_cast<std::size_t>(k)].data;
        if (d == kListener) {
          accept_all(now, w);
        } else {
          handle(static_cast<std::uint32_t>(d), now, w);
        }
      }
    }
    if (open_ == 0 && epfd_ >= 0) {
      ++w.socket_calls;
      (void)t_.close(epfd_, now);
      epfd_ = -1;
    }
    return w;
  }

  void stop(sim::TimePoint now) override {
    if (listen_fd_ >= 0) (void)t_.close(listen_fd_, now);
    listen_fd_ = -1;
    for (auto& c : conns_) {
      if (c.fd >= 0) (void)t_.close(c.fd, now);
      c.fd = -1;
    }
    if (epfd_ >= 0) (void)t_.close(epfd_, now);
    epfd_ = -1;
    open_ = 0;
  }

 private:
  enum class State : std::uint8_t { kIdle, kReading, kWriting, kClosed };
  struct Conn {
    BytePattern req, resp;
    int fd = -1;
    State st = State::kIdle;
    std::uint64_t req_off = 0, resp_off = 0;  // request bytes read, response bytes sent
    std::uint64_t got = 0;                    // of the current request
    std::uint64_t send_left = 0;              // of the current response
  };

  void open(sim::TimePoint now, StepWork& w) {
    s_.server_started = true;
    if (conns_.empty()) return;
    w.socket_calls += 6;
    epfd_ = t_.epoll_create1(0);
    int r = epfd_ < 0 ? epfd_ : 0;
    int fd = -1;
    if (r == 0) r = fd = t_.socket(family_of(s_.family), so::kSOCK_STREAM | so::kSOCK_NONBLOCK, 0);
    if (r >= 0) r = t_.setsockopt(fd, so::kSOL_SOCKET, so::kSO_REUSEADDR, 1, now);
    if (r == 0) r = t_.bind(fd, s_.server);
    if (r == 0) r = t_.listen(fd, static_cast<int>(std::min<std::uint32_t>(s_.conns, 4096)));
    if (r == 0) r = t_.epoll_ctl(epfd_, so::kEPOLL_CTL_ADD, fd, EpollEvent{so::kEPOLLIN, kListener});
    if (r < 0) {
      if (fd >= 0) (void)t_.close(fd, now);
      // Every connection fails to reach the server: each flow carries the error.
      for (std::uint32_t c = 0; c < conns_.size(); ++c) {
        s_.flows[c].errors.add(StreamError::kListenFailed, r);
        s_.closed(c, /*client=*/false, now);
      }
      return;
    }
    listen_fd_ = fd;
    ++open_;
  }

  // The listener goes when every connection has been accepted or abandoned by the client.
  void maybe_close_listener(sim::TimePoint now, StepWork& w) {
    for (std::uint32_t c = 0; c < conns_.size(); ++c) {
      if (!s_.book.pair(c).server_accepted && !s_.book.pair(c).client_closed) return;
    }
    ++w.socket_calls;
    (void)t_.close(listen_fd_, now);
    listen_fd_ = -1;
    --open_;
  }

  void accept_all(sim::TimePoint now, StepWork& w) {
    while (listen_fd_ >= 0) {
      SockAddr peer;
      ++w.socket_calls;
      const int fd = t_.accept4(listen_fd_, &peer, so::kSOCK_NONBLOCK);
      if (fd == -EAGAIN) return;
      if (fd < 0) {  // EMFILE and the like: the connection stays queued; report it on flow 0
        s_.flows[0].errors.add(StreamError::kListenFailed, fd);
        return;
      }
      std::uint32_t c = 0;
      while (c < conns_.size() &&
             !(s_.sides[c].client_registered && !s_.book.pair(c).server_accepted && s_.sides[c].client_local == peer)) {
        ++c;
      }
      if (c == conns_.size()) {
        ++s_.stats.unknown_peers;
        s_.flows[0].errors.add(StreamError::kUnknownPeer);
        ++w.socket_calls;
        (void)t_.close(fd, now);
        continue;
      }
      s_.accepted(c);
      Conn& k = conns_[c];
      k.fd = fd;
      k.st = State::kReading;
      ++open_;
      (void)t_.setsockopt(fd, so::kSOL_TCP, so::kTCP_NODELAY, 1, now);
      (void)t_.epoll_ctl(epfd_, so::kEPOLL_CTL_ADD, fd, EpollEvent{so::kEPOLLIN | so::kEPOLLRDHUP, c});
      read_some(c, now, w);
      maybe_close_listener(now, w);
    }
  }

  void handle(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    switch (conns_[c].st) {
      case State::kReading:
        read_some(c, now, w);
        return;
      case State::kWriting:
        send_some(c, now, w);
        return;
      case State::kIdle:
      case State::kClosed:
        return;
    }
  }

  void read_some(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    FlowStats& fs = s_.flows[c];
    const std::uint64_t req = s_.params.request_bytes;
    for (;;) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(rx_.size(), req - k.got));
      ++w.socket_calls;
      const std::int64_t n = t_.recv(k.fd, std::span(rx_).first(want), so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN) return;
      if (n <= 0) {
        if (n == 0 && k.got != 0) fs.errors.add(StreamError::kPrematureEof);  // EOF between requests is the end
        if (n < 0) fs.errors.add(is_reset(n) ? StreamError::kReset : StreamError::kRecvFailed, static_cast<int>(n));
        close_conn(c, now, w);
        return;
      }
      const auto m = static_cast<std::uint64_t>(n);
      fs.errors.add(k.req.check(k.req_off, std::span<const std::byte>(rx_.data(), static_cast<std::size_t>(m))),
                    Direction::kClientToServer);
      fs.bytes_validated += m;
      w.bytes_copied += m;
      k.req_off += m;
      k.got += m;
      s_.received(c, m, now);
      if (k.got == req) {
        k.got = 0;
        k.st = State::kWriting;
        k.send_left = s_.params.response_bytes;
        (void)t_.epoll_ctl(epfd_, so::kEPOLL_CTL_MOD, k.fd, EpollEvent{so::kEPOLLOUT, c});
        send_some(c, now, w);
        return;
      }
    }
  }

  void send_some(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    while (k.send_left > 0) {
      const auto chunk = tx_.bytes_at(s_, c, Direction::kServerToClient, k.resp, k.resp_off, k.send_left);
      ++w.socket_calls;
      const std::int64_t n = t_.send(k.fd, chunk, so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN || n == 0) return;
      if (n < 0) {
        s_.flows[c].errors.add(is_reset(n) ? StreamError::kReset : StreamError::kSendFailed, static_cast<int>(n));
        close_conn(c, now, w);
        return;
      }
      const auto m = static_cast<std::uint64_t>(n);
      w.bytes_copied += m;
      k.resp_off += m;
      k.send_left -= m;
      s_.sent(c, m, now);
    }
    s_.retransmits(t_, k.fd, c, /*client=*/false);
    k.st = State::kReading;
    (void)t_.epoll_ctl(epfd_, so::kEPOLL_CTL_MOD, k.fd, EpollEvent{so::kEPOLLIN | so::kEPOLLRDHUP, c});
  }

  void close_conn(std::uint32_t c, sim::TimePoint now, StepWork& w) {
    Conn& k = conns_[c];
    s_.retransmits(t_, k.fd, c, /*client=*/false);
    ++w.socket_calls;
    (void)t_.close(k.fd, now);
    k.fd = -1;
    k.st = State::kClosed;
    --open_;
    s_.closed(c, /*client=*/false, now);
  }

  std::shared_ptr<RrShared> owner_;
  std::string name_;
  RrShared& s_;
  SocketTable& t_;
  std::vector<Conn> conns_;
  TxBuffer tx_;
  std::vector<std::byte> rx_;
  std::vector<EpollEvent> events_;
  int epfd_ = -1;
  int listen_fd_ = -1;
  std::size_t open_ = 0;  // the listener and connections open
  std::uint64_t gave_up_seen_ = 0;
};

class RrTcpWorkload final : public Workload {
 public:
  RrTcpWorkload(const WorkloadSpec& spec, const RequestResponseTcp& params, const WorkloadPlacement& where,
                const WorkloadOptions& options)
      : Workload(spec.name, WorkloadKind::kRequestResponseTcp),
        shared_(std::make_shared<RrShared>(spec, params, where, options)) {
    attach(std::make_unique<RrServer>(shared_, where.server_table),
           std::make_unique<RrClient>(shared_, where.client_table));
  }
  bool done() const override { return shared_->client_finished && shared_->server_finished(); }
  std::span<const FlowStats> flows() const override { return shared_->flows; }
  const RrStats* rr_stats() const override { return &shared_->stats; }

 private:
  std::shared_ptr<RrShared> shared_;
};

}  // namespace

std::unique_ptr<Workload> make_rr_tcp(const WorkloadSpec& spec, const RequestResponseTcp& params,
                                      const WorkloadPlacement& where, const WorkloadOptions& options) {
  return std::make_unique<RrTcpWorkload>(spec, params, where, options);
}

}  // namespace nicemu::app
