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
#include <cstring>
#include <array>
#include <deque>
#include <cerrno>
#include <limits>
#include <memory>

#include "nicemu/app/workload.hpp"
#include "nicemu/base/byte_worker.hpp"
#include "nicemu/netstack/socket/cmsg.hpp"
#include "nicemu/netstack/tcp/devmem.hpp"
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
        events_(s.params.flows + 1) {
    // One write buffer per flow while they fit in kPerFlowBuffers (each flow's bytes are then
    // made once, however the flows' sends interleave), else one the flows share.
    const std::uint64_t size = s.params.write_size_bytes;
    bufs_.resize(size * s.params.flows <= kPerFlowBuffers ? s.params.flows : 1);
    buf_.resize(static_cast<std::size_t>(size * bufs_.size()));
    flows_.reserve(s.params.flows);
    for (std::uint32_t i = 0; i < s.params.flows; ++i) flows_.push_back(Flow{BytePattern(s.params.pattern_seed, i), -1, State::kIdle, 0, false, {}, 0, {}, 0});
  }

 public:
  ~BulkClient() override { base::ByteWorker::get().drain(); }  // fill and TCP copy jobs use buf_
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
  // devmem-tx: a flow's slice of the TX dma-buf, cut in slots of write_size; a slot is filled
  // with the next bytes of the stream and sent (perhaps in several calls, each a notification id);
  // it is filled again only once every id that sent from it has completed.
  struct TxSlot {
    std::uint64_t off = 0;        // in the dma-buf
    std::uint64_t stream_off = 0; // the stream offset of its first byte
    std::size_t len = 0, sent = 0;
    std::uint32_t pending = 0;    // notification ids not yet completed
  };
  struct Flow {
    BytePattern pattern;
    int fd = -1;
    State st = State::kIdle;
    std::uint64_t sent = 0;   // bytes send() accepted
    bool unexpected = false;  // the server sent data (kUnexpectedData counted)
    std::vector<TxSlot> slots;
    std::size_t slot = 0;                                // the slot being sent from
    std::deque<std::pair<std::uint32_t, std::size_t>> ids;  // notification id -> slot, in id order
    std::uint32_t next_id = 0;                           // the socket's next MSG_ZEROCOPY id
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
      // The write buffers change only through fill jobs (refill), so TCP may copy from them on
      // the byte worker too. Not with a tamper hook, which writes them itself.
      if (!s_.options.tamper_tx) (void)t_.set_copy_offload(f.fd, true);
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
    if (s_.params.devmem_tx) {
      Flow& f = flows_[i];
      w.socket_calls += 2;
      int r = t_.setsockopt(f.fd, so::kSOL_SOCKET, so::kSO_ZEROCOPY, 1, now);
      if (r == 0) r = t_.epoll_ctl(epfd_, so::kEPOLL_CTL_MOD, f.fd, EpollEvent{so::kEPOLLOUT | so::kEPOLLERR, i});
      if (r < 0 || s_.where.client_tx_dmabuf == nullptr) {
        fail(i, StreamError::kDevmem, r < 0 ? r : -EINVAL, now);
        return;
      }
      const std::uint64_t slice = s_.where.client_tx_dmabuf->size() / flows_.size();
      const std::uint64_t slot_len = std::min<std::uint64_t>(s_.params.write_size_bytes, slice);
      for (std::uint64_t at = 0; slot_len > 0 && at + slot_len <= slice; at += slot_len) {
        f.slots.push_back(TxSlot{i * slice + at, 0, 0, 0, 0});
      }
      if (f.slots.empty()) {
        fail(i, StreamError::kDevmem, -ENOSPC, now);
        return;
      }
    }
    send_some(i, now, w);
  }

  // ---- devmem TX ------------------------------------------------------------------------------------
  // Completions: each notification [lo, hi] frees the ids' hold on their slots.
  void read_completions(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Flow& f = flows_[i];
    FlowStats& fs = s_.flows[i];
    for (;;) {
      std::array<std::byte, 64> ctl{};
      std::array<std::span<std::byte>, 0> none{};
      so::RecvMsgHdr m{nullptr, none, 0, ctl, 0};
      ++w.socket_calls;
      if (t_.recvmsg(f.fd, m, so::kMSG_ERRQUEUE, now) != 0) return;
      so::SockExtendedErr ee;
      std::memcpy(&ee, ctl.data() + sizeof(so::CmsgHdr), sizeof ee);
      if ((m.flags & so::kMSG_CTRUNC) != 0 || ee.ee_origin != so::kSO_EE_ORIGIN_ZEROCOPY || ee.ee_errno != 0) {
        fs.errors.add(StreamError::kDevmem, -static_cast<int>(ee.ee_errno));
        continue;
      }
      const std::uint64_t n = std::uint64_t{ee.ee_data} - ee.ee_info + 1;
      fs.devmem.zc_completions += n;
      if (ee.ee_code == so::kSO_EE_CODE_ZEROCOPY_COPIED) fs.devmem.zc_copied += n;
      while (!f.ids.empty() && f.ids.front().first <= ee.ee_data) {
        --f.slots[f.ids.front().second].pending;
        f.ids.pop_front();
      }
    }
  }

  // Sends from the current slot (filling it first if it is fresh); false when it must wait for a
  // completion or the socket's buffer.
  bool send_devmem(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Flow& f = flows_[i];
    FlowStats& fs = s_.flows[i];
    providers::dmabuf::Dmabuf& buf = *s_.where.client_tx_dmabuf;
    TxSlot& sl = f.slots[f.slot];
    if (sl.sent == sl.len) {  // fresh: wait for its earlier use to complete, then fill it
      if (sl.pending != 0) return false;
      std::uint64_t len = std::min<std::uint64_t>(s_.params.write_size_bytes, buf.size() / flows_.size());
      if (s_.params.bytes) len = std::min(len, *s_.params.bytes - f.sent);
      sl.stream_off = f.sent;
      sl.len = static_cast<std::size_t>(len);
      sl.sent = 0;
      (void)buf.sync(providers::dmabuf::kDmaBufSyncStart | providers::dmabuf::kDmaBufSyncWrite);
      const auto chunk = buf.map_writable().subspan(sl.off, sl.len);
      f.pattern.fill(sl.stream_off, chunk);
      if (s_.options.tamper_tx) s_.options.tamper_tx(i, Direction::kClientToServer, sl.stream_off, chunk);
      (void)buf.sync(providers::dmabuf::kDmaBufSyncEnd | providers::dmabuf::kDmaBufSyncWrite);
    }
    const std::uint32_t id = s_.where.client_tx_binding;
    std::array<std::byte, so::cmsg_space(sizeof(std::uint32_t))> control{};
    so::CmsgWriter cw(control);
    cw.put(so::kSOL_SOCKET, so::kSCM_DEVMEM_DMABUF, std::as_bytes(std::span(&id, 1)));
    const std::array<std::span<const std::byte>, 1> iov{so::devmem_iov(sl.off + sl.sent, sl.len - sl.sent)};
    ++w.socket_calls;
    const std::int64_t n = t_.sendmsg(f.fd, so::SendMsgHdr{nullptr, iov, control}, so::kMSG_ZEROCOPY | so::kMSG_DONTWAIT, now);
    if (n == -EAGAIN || n == 0) return false;
    if (n < 0) {
      fail(i, is_reset(n) ? StreamError::kReset : StreamError::kDevmem, static_cast<int>(n), now);
      return false;
    }
    ++fs.devmem.zc_sends;
    f.ids.emplace_back(f.next_id++, f.slot);
    ++sl.pending;
    sl.sent += static_cast<std::size_t>(n);
    f.sent += static_cast<std::uint64_t>(n);
    fs.bytes_sent += static_cast<std::uint64_t>(n);
    if (!fs.first_byte_sent) fs.first_byte_sent = now;
    if (sl.sent == sl.len) f.slot = (f.slot + 1) % f.slots.size();
    return true;
  }

  bool more_to_send(const Flow& f, sim::TimePoint now) const {
    if (deadline_) return now < *deadline_;
    return f.sent < *s_.params.bytes;
  }

  void send_some(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Flow& f = flows_[i];
    FlowStats& fs = s_.flows[i];
    if (s_.params.devmem_tx) {
      read_completions(i, now, w);
      while (f.st == State::kSending && more_to_send(f, now) && send_devmem(i, now, w)) {
      }
      if (f.st == State::kSending && !more_to_send(f, now)) finish_sending(i, now, w);
      return;
    }
    while (more_to_send(f, now)) {
      const std::size_t b = bufs_.size() == 1 ? 0 : i;
      WriteBuf& wb = bufs_[b];
      if (wb.flow != i || f.sent < wb.off || f.sent >= wb.off + wb.len) refill(i, f, b);
      const auto at = static_cast<std::size_t>(f.sent - wb.off);
      ++w.socket_calls;
      const std::int64_t n = t_.send(f.fd, buffer(b).subspan(at, wb.len - at), so::kMSG_DONTWAIT, now);
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

  // Write buffer `b` holds flow `flow`'s bytes [off, off + len); a short send keeps using it,
  // another flow (when they share one) refills it.
  void refill(std::uint32_t i, const Flow& f, std::size_t b) {
    std::uint64_t len = s_.params.write_size_bytes;
    if (s_.params.bytes) len = std::min(len, *s_.params.bytes - f.sent);
    WriteBuf& wb = bufs_[b];
    wb.flow = i;
    wb.off = f.sent;
    wb.len = static_cast<std::size_t>(len);
    const auto chunk = buffer(b).first(wb.len);
    base::ByteWorker& bw = base::ByteWorker::get();
    if (bw.threaded() && !s_.options.tamper_tx) {
      // After the jobs that still copy this buffer's old bytes, before the ones that copy these.
      (void)bw.run_background(FillJob{&f.pattern, wb.off, chunk.data(), chunk.size()});
      return;
    }
    f.pattern.fill(wb.off, chunk);  // no job uses this buffer (one thread, or no copy offload)
    if (s_.options.tamper_tx) s_.options.tamper_tx(i, Direction::kClientToServer, wb.off, chunk);
  }
  struct FillJob {
    const BytePattern* pattern;
    std::uint64_t off;
    std::byte* to;
    std::size_t len;
    // In pieces, letting the NIC's jobs through between them (a buffer is tens of KiB).
    void operator()() const {
      constexpr std::size_t kPiece = 8192;
      for (std::size_t at = 0; at < len; at += kPiece) {
        if (at > 0) base::ByteWorker::get().yield_to_foreground();
        pattern->fill(off + at, std::span<std::byte>(to + at, std::min(kPiece, len - at)));
      }
    }
  };
  std::span<std::byte> buffer(std::size_t b) {
    const auto size = static_cast<std::size_t>(s_.params.write_size_bytes);
    return std::span(buf_).subspan(b * size, size);
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
  static constexpr std::uint64_t kPerFlowBuffers = 8 << 20;  // bytes
  struct WriteBuf {
    std::uint32_t flow = std::numeric_limits<std::uint32_t>::max();
    std::uint64_t off = 0;
    std::size_t len = 0;
  };
  std::vector<std::byte> buf_;  // bufs_.size() buffers of write_size bytes
  std::vector<WriteBuf> bufs_;
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
    conns_.reserve(s.params.flows);  // never reallocated: byte worker jobs point at the patterns
    for (std::uint32_t i = 0; i < s.params.flows; ++i) conns_.push_back(Conn{BytePattern(s.params.pattern_seed, i)});
  }

 public:
  // Pattern checks may still run on the byte worker (they read the conns' patterns and the
  // dma-buf, and write the flows' errors).
  ~BulkServer() override { base::ByteWorker::get().drain(); }

  const std::string& name() const override { return name_; }
  bool done() const override { return s_.server_finished(); }
  std::optional<sim::TimePoint> wake_at() const override {
    if (!s_.server_started) return sim::TimePoint::zero();
    if (!held_.empty()) return held_.front().due;
    return std::nullopt;
  }

  StepWork step(sim::TimePoint now) override {
    StepWork w;
    if (!s_.server_started) open(now, w);
    return_held_tokens(now, w);
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
    held_.clear();  // closing the sockets releases the tokens they hold
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

  // ---- devmem receive (ncdevmem's server loop) ------------------------------------------------------
  // One recvmsg(MSG_SOCK_DEVMEM): the frags are read where they are (the dma-buf mapping, between
  // DMA_BUF_IOCTL_SYNC start and end) and checked; their tokens go back with SO_DEVMEM_DONTNEED
  // at once or after `dontneed_delay`. Returns recvmsg's result.
  std::int64_t read_devmem(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Conn& c = conns_[i];
    FlowStats& fs = s_.flows[i];
    const std::array<std::span<std::byte>, 1> iov{std::span(buf_)};
    so::RecvMsgHdr m{nullptr, iov, 0, control_, 0};
    ++w.socket_calls;
    const std::int64_t n = t_.recvmsg(c.fd, m, so::kMSG_SOCK_DEVMEM | so::kMSG_DONTWAIT, now);
    if (n <= 0) return n;
    std::size_t iov_at = 0;
    bool any_cmsg = false;
    tokens_.clear();
    providers::dmabuf::Dmabuf* synced = nullptr;
    // The frags' checks go to the byte worker together, before their tokens go back.
    PatternCheckRun checks(c.pattern, c.received, fs.errors);
    so::for_each_cmsg(std::span<const std::byte>(control_).first(m.controllen), [&](const so::CmsgView& cm) {
      netstack::tcp::DmabufCmsg d;
      if (cm.level != so::kSOL_SOCKET || !cm.as(&d)) return;
      any_cmsg = true;
      std::span<const std::byte> bytes;
      if (cm.type == so::kSCM_DEVMEM_LINEAR) {
        bytes = std::span<const std::byte>(buf_).subspan(iov_at, d.frag_size);
        iov_at += d.frag_size;
        fs.devmem.linear_bytes += d.frag_size;
        w.bytes_copied += d.frag_size;
      } else if (cm.type == so::kSCM_DEVMEM_DMABUF) {
        providers::dmabuf::Dmabuf* buf = s_.where.server_dmabuf ? s_.where.server_dmabuf(d.dmabuf_id) : nullptr;
        if (buf == nullptr || d.frag_offset + d.frag_size > buf->size()) {
          fs.errors.add(StreamError::kDevmem, -EINVAL);  // ncdevmem: "flow steering error"
          return;
        }
        if (buf != synced) {
          if (synced != nullptr) (void)synced->sync(providers::dmabuf::kDmaBufSyncEnd | providers::dmabuf::kDmaBufSyncRead);
          (void)buf->sync(providers::dmabuf::kDmaBufSyncStart | providers::dmabuf::kDmaBufSyncRead);
          synced = buf;
        }
        bytes = buf->map().subspan(d.frag_offset, d.frag_size);
        ++fs.devmem.frags;
        fs.devmem.dmabuf_bytes += d.frag_size;
        if (d.frag_offset % netmem::kPageSize == 0) ++fs.devmem.page_aligned_frags;
        if (!tokens_.empty() && tokens_.back().token_start + tokens_.back().token_count == d.frag_token) {
          ++tokens_.back().token_count;
        } else {
          tokens_.push_back({d.frag_token, 1});
        }
      } else {
        return;
      }
      check(c, fs, bytes, now, &checks, /*in_dmabuf=*/cm.type == so::kSCM_DEVMEM_DMABUF);
    });
    checks.flush();
    if (synced != nullptr) (void)synced->sync(providers::dmabuf::kDmaBufSyncEnd | providers::dmabuf::kDmaBufSyncRead);
    if (!any_cmsg) {
      // Readable data (a queue without the binding): plain bytes in the iov.
      const auto len = static_cast<std::size_t>(n);
      fs.devmem.readable_bytes += len;
      w.bytes_copied += len;
      check(c, fs, std::span<const std::byte>(buf_).first(len), now);
    }
    if (s_.params.dontneed_delay > sim::Duration::zero()) {
      for (const auto& t : tokens_) held_.push_back({now + s_.params.dontneed_delay, i, t});
    } else {
      dontneed(i, tokens_, now, w);
    }
    return n;
  }

  // SO_DEVMEM_DONTNEED of `ranges` in calls of at most 128; each must free every token it names.
  void dontneed(std::uint32_t i, std::span<const netstack::tcp::DmabufToken> ranges, sim::TimePoint now, StepWork& w) {
    Conn& c = conns_[i];
    FlowStats& fs = s_.flows[i];
    for (std::size_t at = 0; at < ranges.size(); at += netstack::tcp::kMaxDontneedTokens) {
      const auto part = ranges.subspan(at, std::min<std::size_t>(netstack::tcp::kMaxDontneedTokens, ranges.size() - at));
      std::uint64_t want = 0;
      for (const auto& t : part) want += t.token_count;
      ++w.socket_calls;
      const int r = t_.setsockopt(c.fd, so::kSOL_SOCKET, so::kSO_DEVMEM_DONTNEED, std::as_bytes(part), now);
      if (r >= 0) fs.devmem.tokens_freed += static_cast<std::uint64_t>(r);
      if (r < 0 || static_cast<std::uint64_t>(r) != want) fs.errors.add(StreamError::kDevmem, r < 0 ? r : 0);
    }
  }

  void return_held_tokens(sim::TimePoint now, StepWork& w) {
    while (!held_.empty() && held_.front().due <= now) {
      const Held h = held_.front();
      held_.pop_front();
      if (conns_[h.flow].fd >= 0) dontneed(h.flow, std::span(&h.token, 1), now, w);
    }
  }

  // Bytes in the dma-buf may be checked on the byte worker: they stay put until their token comes
  // back, and the buffer's next DMA is a later job. The flow's mismatch count is read through
  // flows(), which waits for the worker.
  void check(Conn& c, FlowStats& fs, std::span<const std::byte> data, sim::TimePoint now,
             PatternCheckRun* run = nullptr, bool in_dmabuf = false) {
    if (s_.params.validate) {
      if (run != nullptr) {
        run->add(data, in_dmabuf);
      } else {
        check_pattern(c.pattern, c.received, data, fs.errors, in_dmabuf);
      }
      fs.bytes_validated += data.size();
    }
    c.received += data.size();
    fs.bytes_received += data.size();
    fs.last_byte_received = now;
    if (s_.params.bytes && c.received > *s_.params.bytes && !c.past_end) {
      c.past_end = true;
      fs.errors.add(StreamError::kUnexpectedData);
    }
  }

  void read_some(std::uint32_t i, sim::TimePoint now, StepWork& w) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    FlowStats& fs = s_.flows[i];
    for (;;) {
      if (s_.params.devmem_rx) {
        const std::int64_t n = read_devmem(i, now, w);
        if (n == -EAGAIN) return;
        if (n > 0) continue;
        if (!end_of_stream(i, n, now, w)) continue;
        return;
      }
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
      (void)end_of_stream(i, n, now, w);
      return;
    }
  }

  // recv gave 0 (end of stream) or an error: the flow's server side ends. Returns true.
  bool end_of_stream(std::uint32_t i, std::int64_t n, sim::TimePoint now, StepWork& w) {
    Conn& c = conns_[i];
    FlowStats& fs = s_.flows[i];
    if (n == 0) {
      // End of stream: every byte the client sent must be here. (In duration mode the client's
      // count is final: it shut down its side after its last send.)
      const std::uint64_t expected = s_.params.bytes ? *s_.params.bytes : fs.bytes_sent;
      if (c.received < expected) fs.errors.add(StreamError::kPrematureEof);
    } else {
      fs.errors.add(is_reset(n) ? StreamError::kReset : StreamError::kRecvFailed, static_cast<int>(n));
    }
    // Tokens still held go back before the close (their ids die with the socket anyway).
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->flow == i) {
        dontneed(i, std::span(&it->token, 1), now, w);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
    ++w.socket_calls;
    (void)t_.close(c.fd, now);
    c.fd = -1;
    --open_;
    s_.closed(i, /*client=*/false, now);
    return true;
  }

  // Tokens held for dontneed_delay (in due order: the delay is fixed).
  struct Held {
    sim::TimePoint due;
    std::uint32_t flow = 0;
    netstack::tcp::DmabufToken token;
  };

  std::shared_ptr<BulkShared> owner_;
  std::string name_;
  BulkShared& s_;
  SocketTable& t_;
  std::vector<Conn> conns_;
  std::vector<std::byte> buf_;
  std::vector<std::byte> control_ = std::vector<std::byte>(80 * 1024);  // ncdevmem's ~80 KB
  std::vector<netstack::tcp::DmabufToken> tokens_;
  std::deque<Held> held_;
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
  std::span<const FlowStats> flows() const override {
    base::ByteWorker::get().drain();  // the server's pattern checks add to the flows' errors
    return shared_->flows;
  }

 private:
  std::shared_ptr<BulkShared> shared_;
};

}  // namespace

namespace {
// Checked on this thread: a difference counts after the worker's checks of earlier bytes (and
// not while the worker may be adding to the same errors).
void check_here(const BytePattern& pattern, std::uint64_t offset, std::span<const std::byte> data,
                FlowErrors& errors) {
  if (const PatternCheck r = pattern.check(offset, data); !r.ok()) {
    base::ByteWorker::get().drain();
    errors.add(r, Direction::kClientToServer);
  }
}
}  // namespace

void PatternChunks::operator()() const {
  std::uint64_t at = offset;
  for (std::uint32_t i = 0; i < n; ++i) {
    errors->add(pattern->check(at, std::span<const std::byte>(data[i], len[i])), Direction::kClientToServer);
    at += len[i];
  }
}

void PatternCheckRun::add(std::span<const std::byte> data, bool offload) {
  if (!offload || !base::ByteWorker::get().threaded()) {
    flush();
    check_here(*chunks_.pattern, next_, data, *chunks_.errors);
    next_ += data.size();
    return;
  }
  // A chunk longer than a job's length field goes in pieces (frags are at most a page or two).
  while (!data.empty()) {
    if (chunks_.n == kPieces) flush();
    if (chunks_.n == 0) chunks_.offset = next_;
    const auto len = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), std::uint32_t{1} << 31));
    chunks_.data[chunks_.n] = data.data();
    chunks_.len[chunks_.n++] = len;
    next_ += len;
    data = data.subspan(len);
  }
}

void PatternCheckRun::flush() {
  if (chunks_.n == 0) return;
  base::ByteWorker& bw = base::ByteWorker::get();
  if (bw.threaded() && bw.queued_below(max_queued_)) {
    (void)bw.run(chunks_);
  } else {
    // The worker is behind: it gets no more work; this thread, which would soon wait for it
    // anyway, checks the bytes itself.
    std::uint64_t at = chunks_.offset;
    for (std::uint32_t i = 0; i < chunks_.n; ++i) {
      check_here(*chunks_.pattern, at, std::span<const std::byte>(chunks_.data[i], chunks_.len[i]), *chunks_.errors);
      at += chunks_.len[i];
    }
  }
  chunks_.n = 0;
}

void check_pattern(const BytePattern& pattern, std::uint64_t offset, std::span<const std::byte> data,
                   FlowErrors& errors, bool offload, std::uint64_t max_queued) {
  PatternCheckRun run(pattern, offset, errors, max_queued);
  run.add(data, offload);
}

std::unique_ptr<Workload> make_bulk_tcp(const WorkloadSpec& spec, const BulkTcp& params, const WorkloadPlacement& where,
                                        const WorkloadOptions& options) {
  return std::make_unique<BulkTcpWorkload>(spec, params, where, options);
}

}  // namespace nicemu::app
