// bulk-tcp: `flows` TCP connections, flow i from the client to port + i of the server, each
// carrying `bytes` (or as much as fits in `duration`) of BytePattern (pattern_seed, i); the
// server checks every byte.
//
// Models: an iperf3-like sender and receiver over non-blocking sockets. Client, per flow:
//   connect (EINPROGRESS) -> EPOLLOUT -> connect again says 0 -> send write_size chunks until
//   EAGAIN, again at each EPOLLOUT -> all sent (or the duration is over): shutdown(SHUT_WR) ->
//   wait for the server's FIN (recv 0) -> close. Server, per flow: a listener on port + i ->
//   accept one connection, close the listener -> recv and check until EOF -> close. A flow is done
//   when both sides have closed it; end of stream before every byte (premature EOF), a reset,
//   bytes past the expected end, a refused connect are stream errors of the side that sees them.
// Not modelled: reconnecting, several connections per port, SO_SNDBUF / SO_RCVBUF tuning (the
//   stack's defaults), the sender's CPU (StepWork reports it).
// References: iperf3 src/iperf_tcp.c (iperf_tcp_send / iperf_tcp_recv), src/net.c (Nwrite's
//   EAGAIN handling); connect(2) "EINPROGRESS"; shutdown(2).
#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>

#include "nicemu/app/workload.hpp"
#include "tcp_pair_book.hpp"

namespace nicemu::app {
namespace {

using netstack::socket::EpollEvent;
using netstack::socket::SockAddr;
using netstack::socket::SocketTable;
namespace so = netstack::socket;

int family_of(netstack::wire::IpVersion v) {
  return v == netstack::wire::IpVersion::kV6 ? so::kAF_INET6 : so::kAF_INET;
}

// What both apps of the workload share: the spec, the flows' statistics, and each side's progress.
struct BulkShared {
  BulkShared(const WorkloadSpec& spec, const BulkTcp& p, const WorkloadPlacement& w, const WorkloadOptions& o)
      : name(spec.name),
        params(p),
        family(spec.family),
        port(spec.port),
        start(sim::TimePoint() + spec.start),
        where(w),
        options(o),
        flows(p.flows),
        book(p.flows) {
    for (std::uint32_t i = 0; i < p.flows; ++i) flows[i].index = i;
  }

  std::string name;
  BulkTcp params;
  netstack::wire::IpVersion family;
  std::uint16_t port = 0;
  sim::TimePoint start;
  WorkloadPlacement where;
  WorkloadOptions options;
  std::vector<FlowStats> flows;
  detail::TcpPairBook book;           // client/server sides of each flow
  bool server_started = false;        // the server has opened its listeners (the client waits for it)
  bool client_finished = false;       // the client app is done

  bool server_finished() const { return server_started && book.server_done_count() == flows.size(); }

  SockAddr server_addr(std::uint32_t i) const {
    return SockAddr{where.server_addr, static_cast<std::uint16_t>(port + i)};
  }
  void closed(std::uint32_t i, bool client, sim::TimePoint now) {
    if (book.closed(i, client) && !flows[i].done) {
      flows[i].done = true;
      flows[i].end = now;
    }
  }
  void accepted(std::uint32_t i) { book.accepted(i); }
  bool server_done(std::uint32_t i) const { return book.server_done(i); }
};

// Reads tcpi_total_retrans of `fd` into the flow: when the flow closes, fails or is stopped (not
// after every send: tcp_info also counts the unsent bytes, a walk of the write queue).
void read_retransmits(SocketTable& t, int fd, FlowStats& f) {
  so::TcpInfo info;
  if (t.tcp_info(fd, &info) == 0) f.retransmits = info.stats.retransmits;
}

bool is_reset(std::int64_t err) {
  return err == -ECONNRESET || err == -EPIPE || err == -ECONNABORTED || err == -ETIMEDOUT;
}
// How often a client that is due looks again for its server's listeners.
constexpr sim::Duration kServerWait = sim::Duration::from_us(1);

// ---- client ------------------------------------------------------------------------------------------

class BulkClient final : public App {
 public:
  BulkClient(std::shared_ptr<BulkShared> owner, SocketTable& t) : BulkClient(*owner, t) { owner_ = std::move(owner); }

 private:
  BulkClient(BulkShared& s, SocketTable& t)
      : name_(s.name + "/client"),
        s_(s),
        t_(t),
        buf_(static_cast<std::size_t>(s.params.write_size_bytes)),
        events_(s.params.flows + 1) {
    flows_.reserve(s.params.flows);
    for (std::uint32_t i = 0; i < s.params.flows; ++i) flows_.push_back(Flow{BytePattern(s.params.pattern_seed, i)});
  }

 public:
  const std::string& name() const override { return name_; }
  bool done() const override { return finished_; }
  std::optional<sim::TimePoint> wake_at() const override {
    if (finished_) return std::nullopt;
    if (!opened_) return std::max(s_.start, retry_at_);
    if (deadline_ && !deadline_passed_) return *deadline_;
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
    if (deadline_ && !deadline_passed_ && now >= *deadline_) {
      deadline_passed_ = true;
      for (std::uint32_t i = 0; i < flows_.size(); ++i) {
        if (flows_[i].st == State::kSending) finish_sending(i, now, w);
      }
    }
    if (epfd_ >= 0 && open_flows_ > 0) {
      ++w.socket_calls;
      const int n = t_.epoll_wait(epfd_, events_);
      for (int k = 0; k < n; ++k) handle(static_cast<std::uint32_t>(events_[static_cast<std::size_t>(k)].data), now, w);
    }
    if (open_flows_ == 0) {
      if (epfd_ >= 0) (void)t_.close(epfd_, now);
      epfd_ = -1;
      finished_ = true;
      s_.client_finished = true;
    }
    return w;
  }

  void stop(sim::TimePoint now) override {
    for (std::uint32_t i = 0; i < flows_.size(); ++i) {
      Flow& f = flows_[i];
      if (f.fd >= 0) {
        read_retransmits(t_, f.fd, s_.flows[i]);  // the count so far (it is read at close otherwise)
        (void)t_.close(f.fd, now);
      }
      f.fd = -1;
    }
    if (epfd_ >= 0) (void)t_.close(epfd_, now);
    epfd_ = -1;
  }

 private:
  enum class State : std::uint8_t { kIdle, kConnecting, kSending, kWaitFin, kClosed };
  struct Flow {
    BytePattern pattern;
    int fd = -1;
    State st = State::kIdle;
    std::uint64_t sent = 0;   // bytes send() accepted
    bool unexpected = false;  // the server sent data (kUnexpectedData counted)
  };

  void open(sim::TimePoint now, StepWork& w) {
    opened_ = true;
    if (s_.params.duration) deadline_ = now + *s_.params.duration;
    ++w.socket_calls;
    epfd_ = t_.epoll_create1(0);
    for (std::uint32_t i = 0; i < flows_.size(); ++i) {
      Flow& f = flows_[i];
      FlowStats& fs = s_.flows[i];
      fs.start = now;
      ++open_flows_;
      f.st = State::kConnecting;
      if (epfd_ < 0) {
        fail(i, StreamError::kConnectFailed, epfd_, now);
        continue;
      }
      w.socket_calls += 3;
      f.fd = t_.socket(family_of(s_.family), so::kSOCK_STREAM | so::kSOCK_NONBLOCK, 0);
      if (f.fd < 0) {
        fail(i, StreamError::kConnectFailed, f.fd, now);
        continue;
      }
      if (s_.where.client_addr) {
        ++w.socket_calls;
        if (const int r = t_.bind(f.fd, SockAddr{*s_.where.client_addr, 0}); r < 0) {
          fail(i, StreamError::kConnectFailed, r, now);
          continue;
        }
      }
      const int r = t_.connect(f.fd, s_.server_addr(i), now);
      if (r != 0 && r != -EINPROGRESS) {
        fail(i, StreamError::kConnectFailed, r, now);
        continue;
      }
      SockAddr local;
      (void)t_.getsockname(f.fd, &local);
      fs.tuple = format_tuple(local, s_.server_addr(i));
      (void)t_.epoll_ctl(epfd_, so::kEPOLL_CTL_ADD, f.fd, EpollEvent{so::kEPOLLOUT, i});
      if (r == 0) connected(i, now, w);
    }
  }

  void handle(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Flow& f = flows_[i];
    switch (f.st) {
      case State::kConnecting: {
        ++w.socket_calls;
        const int r = t_.connect(f.fd, s_.server_addr(i), now);  // 0 once established, else the error
        if (r == -EALREADY) return;
        if (r < 0) {
          fail(i, StreamError::kConnectFailed, r, now);
          return;
        }
        connected(i, now, w);
        return;
      }
      case State::kSending:
        send_some(i, now, w);
        return;
      case State::kWaitFin:
        read_fin(i, now, w);
        return;
      case State::kIdle:
      case State::kClosed:
        return;
    }
  }

  void connected(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    flows_[i].st = State::kSending;
    send_some(i, now, w);
  }

  bool more_to_send(const Flow& f, sim::TimePoint now) const {
    if (deadline_) return now < *deadline_;
    return f.sent < *s_.params.bytes;
  }

  void send_some(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Flow& f = flows_[i];
    FlowStats& fs = s_.flows[i];
    while (more_to_send(f, now)) {
      if (buf_flow_ != i || f.sent < buf_off_ || f.sent >= buf_off_ + buf_len_) refill(i, f);
      const auto at = static_cast<std::size_t>(f.sent - buf_off_);
      ++w.socket_calls;
      const std::int64_t n = t_.send(f.fd, std::span(buf_).subspan(at, buf_len_ - at), so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN || n == 0) break;
      if (n < 0) {
        fail(i, is_reset(n) ? StreamError::kReset : StreamError::kSendFailed, static_cast<int>(n), now);
        return;
      }
      const auto sent = static_cast<std::uint64_t>(n);
      w.bytes_copied += sent;
      f.sent += sent;
      fs.bytes_sent += sent;
      if (!fs.first_byte_sent) fs.first_byte_sent = now;
    }
    if (!more_to_send(f, now)) finish_sending(i, now, w);
  }

  // The write buffer holds flow `buf_flow_`'s bytes [buf_off_, buf_off_ + buf_len_); a short send
  // keeps using it, another flow refills it.
  void refill(std::uint32_t i, const Flow& f) {
    std::uint64_t len = s_.params.write_size_bytes;
    if (s_.params.bytes) len = std::min(len, *s_.params.bytes - f.sent);
    buf_flow_ = i;
    buf_off_ = f.sent;
    buf_len_ = static_cast<std::size_t>(len);
    const auto chunk = std::span(buf_).first(buf_len_);
    f.pattern.fill(buf_off_, chunk);
    if (s_.options.tamper_tx) s_.options.tamper_tx(i, Direction::kClientToServer, buf_off_, chunk);
  }

  void finish_sending(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Flow& f = flows_[i];
    ++w.socket_calls;
    if (const int r = t_.shutdown(f.fd, so::kSHUT_WR, now); r < 0) {
      fail(i, StreamError::kReset, r, now);  // ENOTCONN: the connection is already gone
      return;
    }
    f.st = State::kWaitFin;
    (void)t_.epoll_ctl(epfd_, so::kEPOLL_CTL_MOD, f.fd, EpollEvent{so::kEPOLLIN | so::kEPOLLRDHUP, i});
    read_fin(i, now, w);
  }

  // After SHUT_WR the server sends nothing but its FIN.
  void read_fin(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Flow& f = flows_[i];
    FlowStats& fs = s_.flows[i];
    std::byte scratch[2048];
    for (;;) {
      ++w.socket_calls;
      const std::int64_t n = t_.recv(f.fd, scratch, so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN) return;
      if (n > 0) {
        w.bytes_copied += static_cast<std::uint64_t>(n);
        if (!f.unexpected) fs.errors.add(StreamError::kUnexpectedData);
        f.unexpected = true;
        continue;
      }
      if (n < 0) {
        fail(i, is_reset(n) ? StreamError::kReset : StreamError::kRecvFailed, static_cast<int>(n), now);
        return;
      }
      close_flow(i, now, w);  // EOF: the server read everything and closed
      return;
    }
  }

  void close_flow(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Flow& f = flows_[i];
    if (f.fd >= 0) {
      read_retransmits(t_, f.fd, s_.flows[i]);
      ++w.socket_calls;
      (void)t_.close(f.fd, now);
    }
    f.fd = -1;
    f.st = State::kClosed;
    --open_flows_;
    s_.closed(i, /*client=*/true, now);
  }

  void fail(std::uint32_t i, StreamError e, int err, sim::TimePoint now) {
    s_.flows[i].errors.add(e, err);
    StepWork ignored;
    close_flow(i, now, ignored);
  }

  std::shared_ptr<BulkShared> owner_;
  std::string name_;
  BulkShared& s_;
  SocketTable& t_;
  std::vector<Flow> flows_;
  std::vector<std::byte> buf_;
  std::uint32_t buf_flow_ = std::numeric_limits<std::uint32_t>::max();
  std::uint64_t buf_off_ = 0;
  std::size_t buf_len_ = 0;
  std::vector<EpollEvent> events_;
  int epfd_ = -1;
  std::size_t open_flows_ = 0;
  bool opened_ = false, finished_ = false;
  std::optional<sim::TimePoint> deadline_;
  bool deadline_passed_ = false;
  sim::TimePoint retry_at_;
};

// ---- server ------------------------------------------------------------------------------------------

class BulkServer final : public App {
 public:
  BulkServer(std::shared_ptr<BulkShared> owner, SocketTable& t) : BulkServer(*owner, t) { owner_ = std::move(owner); }

 private:
  BulkServer(BulkShared& s, SocketTable& t)
      : name_(s.name + "/server"), s_(s), t_(t), buf_(s.options.io_buffer_bytes), events_(s.params.flows + 1) {
    conns_.reserve(s.params.flows);
    for (std::uint32_t i = 0; i < s.params.flows; ++i) conns_.push_back(Conn{BytePattern(s.params.pattern_seed, i)});
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
    if (s_.book.client_gave_up() != gave_up_seen_) {  // flows the client abandoned before connecting
      gave_up_seen_ = s_.book.client_gave_up();
      for (std::uint32_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].listen_fd >= 0 && s_.server_done(i)) {
          ++w.socket_calls;
          (void)t_.close(conns_[i].listen_fd, now);
          conns_[i].listen_fd = -1;
          --open_;
        }
      }
    }
    if (epfd_ >= 0 && open_ > 0) {
      ++w.socket_calls;
      const int n = t_.epoll_wait(epfd_, events_);
      for (int k = 0; k < n; ++k) {
        const std::uint64_t d = events_[static_cast<std::size_t>(k)].data;
        const auto i = static_cast<std::uint32_t>(d >> 1);
        if ((d & 1) != 0) {
          accept_one(i, now, w);
        } else {
          read_some(i, now, w);
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
    for (auto& c : conns_) {
      if (c.listen_fd >= 0) (void)t_.close(c.listen_fd, now);
      if (c.fd >= 0) (void)t_.close(c.fd, now);
      c.listen_fd = c.fd = -1;
    }
    if (epfd_ >= 0) (void)t_.close(epfd_, now);
    epfd_ = -1;
    open_ = 0;
  }

 private:
  struct Conn {
    BytePattern pattern;
    int listen_fd = -1;
    int fd = -1;
    std::uint64_t received = 0;
    bool past_end = false;  // kUnexpectedData counted
  };

  void open(sim::TimePoint now, StepWork& w) {
    s_.server_started = true;
    ++w.socket_calls;
    epfd_ = t_.epoll_create1(0);
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
      if (epfd_ < 0) {
        listen_failed(i, epfd_, now);
        continue;
      }
      w.socket_calls += 5;
      const int fd = t_.socket(family_of(s_.family), so::kSOCK_STREAM | so::kSOCK_NONBLOCK, 0);
      if (fd < 0) {
        listen_failed(i, fd, now);
        continue;
      }
      int r = t_.setsockopt(fd, so::kSOL_SOCKET, so::kSO_REUSEADDR, 1, now);
      if (r == 0) r = t_.bind(fd, s_.server_addr(i));
      if (r == 0) r = t_.listen(fd, 4);
      if (r == 0)
        r = t_.epoll_ctl(epfd_, so::kEPOLL_CTL_ADD, fd, EpollEvent{so::kEPOLLIN, (std::uint64_t{i} << 1) | 1});
      if (r < 0) {
        (void)t_.close(fd, now);
        listen_failed(i, r, now);
        continue;
      }
      conns_[i].listen_fd = fd;
      ++open_;
    }
  }

  void listen_failed(std::uint32_t i, int err, sim::TimePoint now) {
    s_.flows[i].errors.add(StreamError::kListenFailed, err);
    s_.closed(i, /*client=*/false, now);
  }

  void accept_one(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Conn& c = conns_[i];
    if (c.listen_fd < 0) return;
    SockAddr peer;
    ++w.socket_calls;
    const int fd = t_.accept4(c.listen_fd, &peer, so::kSOCK_NONBLOCK);
    if (fd == -EAGAIN) return;
    // One connection per flow: the listener goes once it has handed one over (or failed).
    w.socket_calls += 2;
    (void)t_.close(c.listen_fd, now);
    c.listen_fd = -1;
    if (fd < 0) {
      --open_;
      listen_failed(i, fd, now);
      return;
    }
    s_.accepted(i);
    c.fd = fd;
    FlowStats& fs = s_.flows[i];
    if (fs.tuple.empty()) fs.tuple = format_tuple(peer, s_.server_addr(i));
    (void)t_.epoll_ctl(epfd_, so::kEPOLL_CTL_ADD, fd,
                       EpollEvent{so::kEPOLLIN | so::kEPOLLRDHUP, std::uint64_t{i} << 1});
    read_some(i, now, w);
  }

  void read_some(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    FlowStats& fs = s_.flows[i];
    for (;;) {
      ++w.socket_calls;
      const std::int64_t n = t_.recv(c.fd, buf_, so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN) return;
      if (n > 0) {
        const auto len = static_cast<std::size_t>(n);
        const std::span<const std::byte> data(buf_.data(), len);
        if (s_.params.validate) {
          fs.errors.add(c.pattern.check(c.received, data), Direction::kClientToServer);
          fs.bytes_validated += len;
        }
        c.received += len;
        w.bytes_copied += len;
        fs.bytes_received += len;
        fs.last_byte_received = now;
        if (s_.params.bytes && c.received > *s_.params.bytes && !c.past_end) {
          c.past_end = true;
          fs.errors.add(StreamError::kUnexpectedData);
        }
        continue;
      }
      if (n == 0) {
        // End of stream: every byte the client sent must be here. (In duration mode the client's
        // count is final: it shut down its side after its last send.)
        const std::uint64_t expected = s_.params.bytes ? *s_.params.bytes : fs.bytes_sent;
        if (c.received < expected) fs.errors.add(StreamError::kPrematureEof);
      } else {
        fs.errors.add(is_reset(n) ? StreamError::kReset : StreamError::kRecvFailed, static_cast<int>(n));
      }
      ++w.socket_calls;
      (void)t_.close(c.fd, now);
      c.fd = -1;
      --open_;
      s_.closed(i, /*client=*/false, now);
      return;
    }
  }

  std::shared_ptr<BulkShared> owner_;
  std::string name_;
  BulkShared& s_;
  SocketTable& t_;
  std::vector<Conn> conns_;
  std::vector<std::byte> buf_;
  std::vector<EpollEvent> events_;
  int epfd_ = -1;
  std::size_t open_ = 0;  // listeners and connections open
  std::uint64_t gave_up_seen_ = 0;
};

class BulkTcpWorkload final : public Workload {
 public:
  BulkTcpWorkload(const WorkloadSpec& spec, const BulkTcp& params, const WorkloadPlacement& where,
                  const WorkloadOptions& options)
      : Workload(spec.name, WorkloadKind::kBulkTcp),
        shared_(std::make_shared<BulkShared>(spec, params, where, options)) {
    attach(std::make_unique<BulkServer>(shared_, where.server_table),
           std::make_unique<BulkClient>(shared_, where.client_table));
  }
  bool done() const override { return shared_->client_finished && shared_->server_finished(); }
  std::span<const FlowStats> flows() const override { return shared_->flows; }

 private:
  std::shared_ptr<BulkShared> shared_;
};

}  // namespace

std::unique_ptr<Workload> make_bulk_tcp(const WorkloadSpec& spec, const BulkTcp& params, const WorkloadPlacement& where,
                                        const WorkloadOptions& options) {
  return std::make_unique<BulkTcpWorkload>(spec, params, where, options);
}

}  // namespace nicemu::app
