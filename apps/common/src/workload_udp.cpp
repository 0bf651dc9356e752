// udp-stream: the client sends `count` datagrams of size_bytes at rate_bps (payload bits per
// second), paced by wake_at(); the server counts what arrives and checks every byte.
//
// Models: an iperf3-UDP-like sender and receiver on non-blocking sockets. Datagram k is due at
//   start + transmit_time(k * size_bytes, rate_bps) (exact, no drift; rate 0: all at once). Its
//   bytes are BytePattern (FNV-1a of the workload's name, 0) at stream offsets
//   [k * size, (k + 1) * size) with the first 8 replaced by k (little-endian), so the receiver
//   knows each datagram's place. The receiver keeps one bit per sequence number (count / 8 bytes,
//   allocated at construction): a bit already set is a duplicate; a number below the highest seen
//   is reordered (RFC 4737 §3); lost is count - unique once it finishes. It finishes when every
//   datagram has arrived, or once the sender is done and nothing has arrived for the linger time
//   (WorkloadOptions::udp_linger, at least four inter-datagram gaps).
// Not modelled: a control channel (iperf3 reports through TCP; here both ends share the
//   statistics), fragmentation (a datagram larger than the path MTU fails with EMSGSIZE: the
//   sender stops and counts it), a sender that keeps time while send() would block (it retries
//   after one gap and the schedule shifts by nothing: late datagrams go out in a burst).
// References: iperf3 src/iperf_udp.c (iperf_udp_recv: sequence, lost, out-of-order counting);
//   RFC 4737 §3 (reordering); udp(7) (ECONNREFUSED on a connected socket after ICMP unreachable).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "nicemu/app/workload.hpp"
#include "nicemu/sim/random.hpp"

namespace nicemu::app {
namespace {

using netstack::socket::SockAddr;
using netstack::socket::SocketTable;
namespace so = netstack::socket;

int family_of(netstack::wire::IpVersion v) {
  return v == netstack::wire::IpVersion::kV6 ? so::kAF_INET6 : so::kAF_INET;
}
constexpr std::size_t kSeqBytes = 8;
constexpr sim::Duration kReceiverWait = sim::Duration::from_us(1);

struct UdpShared {
  UdpShared(const WorkloadSpec& spec, const UdpStream& p, const WorkloadPlacement& w, const WorkloadOptions& o)
      : name(spec.name),
        params(p),
        family(spec.family),
        server{w.server_addr, spec.port},
        start(sim::TimePoint() + spec.start),
        where(w),
        options(o),
        pattern(sim::fnv1a_64(spec.name), 0),
        flows(1) {}

  std::string name;
  UdpStream params;
  netstack::wire::IpVersion family;
  SockAddr server;
  sim::TimePoint start;
  WorkloadPlacement where;
  WorkloadOptions options;
  BytePattern pattern;
  std::vector<FlowStats> flows;  // one
  UdpStats stats;
  bool receiver_started = false;
  bool sender_closed = false, receiver_closed = false;
  std::optional<sim::TimePoint> sender_end;

  FlowStats& flow() { return flows[0]; }
  // Inter-datagram gap (zero when unpaced).
  sim::Duration gap() const {
    return params.rate_bps == 0 ? sim::Duration::zero() : sim::transmit_time(params.size_bytes, params.rate_bps);
  }
  void closed(bool sender, sim::TimePoint now) {
    (sender ? sender_closed : receiver_closed) = true;
    if (sender_closed && receiver_closed && !flows[0].done) {
      flows[0].done = true;
      flows[0].end = now;
    }
  }
};

// ---- sender ------------------------------------------------------------------------------------------

class UdpSender final : public App {
 public:
  UdpSender(std::shared_ptr<UdpShared> owner, SocketTable& t) : UdpSender(*owner, t) { owner_ = std::move(owner); }

 private:
  UdpSender(UdpShared& s, SocketTable& t) : name_(s.name + "/client"), s_(s), t_(t), buf_(s.params.size_bytes) {}

 public:
  const std::string& name() const override { return name_; }
  bool done() const override { return finished_; }
  std::optional<sim::TimePoint> wake_at() const override {
    if (finished_) return std::nullopt;
    if (!opened_) return std::max(s_.start, retry_at_);
    return std::max(due(next_), retry_at_);
  }

  StepWork step(sim::TimePoint now) override {
    StepWork w;
    if (finished_) return w;
    if (!opened_) {
      if (now < s_.start) return w;
      if (!s_.receiver_started) {  // the runner starts receivers first; until it has, look again soon
        retry_at_ = now + kReceiverWait;
        return w;
      }
      if (!open(now, w)) return w;
    }
    while (next_ < s_.params.count && due(next_) <= now && retry_at_ <= now) {
      if (!send_one(now, w)) break;
    }
    if (next_ == s_.params.count) finish(now, w);
    return w;
  }

  void stop(sim::TimePoint now) override {
    if (fd_ >= 0) (void)t_.close(fd_, now);
    fd_ = -1;
  }

 private:
  sim::TimePoint due(std::uint64_t k) const {
    if (s_.params.rate_bps == 0) return t0_;
    return t0_ + sim::transmit_time(k * s_.params.size_bytes, s_.params.rate_bps);
  }

  bool open(sim::TimePoint now, StepWork& w) {
    opened_ = true;
    t0_ = now;
    s_.flow().start = now;
    w.socket_calls += 2;
    fd_ = t_.socket(family_of(s_.family), so::kSOCK_DGRAM | so::kSOCK_NONBLOCK, 0);
    int r = fd_ < 0 ? fd_ : 0;
    if (r == 0 && s_.where.client_addr) {
      ++w.socket_calls;
      r = t_.bind(fd_, SockAddr{*s_.where.client_addr, 0});
    }
    if (r == 0) r = t_.connect(fd_, s_.server, now);
    if (r == 0) {
      SockAddr local;
      (void)t_.getsockname(fd_, &local);
      s_.flow().tuple = format_tuple(local, s_.server);
      return true;
    }
    s_.flow().errors.add(StreamError::kSendFailed, r);
    finish(now, w);
    return false;
  }

  // Sends datagram next_; false when the loop should stop for now.
  bool send_one(sim::TimePoint now, StepWork& w) {
    const std::uint64_t offset = next_ * s_.params.size_bytes;
    s_.pattern.fill(offset, buf_);
    std::memcpy(buf_.data(), &next_, kSeqBytes);  // little-endian (byte_pattern.cpp asserts the host is)
    if (s_.options.tamper_tx) s_.options.tamper_tx(0, Direction::kClientToServer, offset, buf_);
    ++w.socket_calls;
    const std::int64_t n = t_.send(fd_, buf_, so::kMSG_DONTWAIT, now);
    if (n == -EAGAIN || n == -ENOBUFS) {
      ++s_.stats.send_would_block;
      retry_at_ = now + std::max(s_.gap(), kReceiverWait);
      return false;
    }
    if (n == -ECONNREFUSED) {
      // An ICMP port unreachable came back (udp(7)): reported once, the datagram was not sent;
      // the next attempt sends it.
      ++s_.stats.send_errors;
      s_.flow().errors.add(StreamError::kSendFailed, static_cast<int>(n));
      return true;
    }
    if (n < 0) {  // EMSGSIZE, ENETUNREACH, ...: every datagram would fail the same way
      ++s_.stats.send_errors;
      s_.flow().errors.add(StreamError::kSendFailed, static_cast<int>(n));
      finish(now, w);
      return false;
    }
    w.bytes_copied += static_cast<std::uint64_t>(n);
    ++s_.stats.datagrams_sent;
    s_.flow().bytes_sent += static_cast<std::uint64_t>(n);
    if (!s_.flow().first_byte_sent) s_.flow().first_byte_sent = now;
    ++next_;
    return true;
  }

  void finish(sim::TimePoint now, StepWork& w) {
    if (fd_ >= 0) {
      ++w.socket_calls;
      (void)t_.close(fd_, now);
    }
    fd_ = -1;
    finished_ = true;
    s_.sender_end = now;
    s_.closed(/*sender=*/true, now);
  }

  std::shared_ptr<UdpShared> owner_;
  std::string name_;
  UdpShared& s_;
  SocketTable& t_;
  std::vector<std::byte> buf_;
  int fd_ = -1;
  std::uint64_t next_ = 0;  // the next sequence number to send
  sim::TimePoint t0_;
  sim::TimePoint retry_at_;
  bool opened_ = false, finished_ = false;
};

// ---- receiver ----------------------------------------------------------------------------------------

class UdpReceiver final : public App {
 public:
  UdpReceiver(std::shared_ptr<UdpShared> owner, SocketTable& t) : UdpReceiver(*owner, t) { owner_ = std::move(owner); }

 private:
  UdpReceiver(UdpShared& s, SocketTable& t)
      : name_(s.name + "/server"),
        s_(s),
        t_(t),
        buf_(s.params.size_bytes + 1),  // one byte more: a longer datagram shows as too long
        seen_((s.params.count + 63) / 64),
        linger_(std::max(s.options.udp_linger, s.gap() * 4)) {}

 public:
  const std::string& name() const override { return name_; }
  bool done() const override { return finished_; }
  std::optional<sim::TimePoint> wake_at() const override {
    if (finished_) return std::nullopt;
    if (!s_.receiver_started) return sim::TimePoint::zero();
    return check_at_;
  }

  StepWork step(sim::TimePoint now) override {
    StepWork w;
    if (finished_) return w;
    if (!s_.receiver_started && !open(now, w)) return w;
    bool got = false;
    for (;;) {
      ++w.socket_calls;
      const std::int64_t n = t_.recv(fd_, buf_, so::kMSG_DONTWAIT, now);
      if (n == -EAGAIN) break;
      if (n < 0) {
        s_.flow().errors.add(StreamError::kRecvFailed, static_cast<int>(n));
        break;
      }
      got = true;
      w.bytes_copied += static_cast<std::uint64_t>(n);
      take(std::span<const std::byte>(buf_.data(), static_cast<std::size_t>(n)), now);
      if (unique_ == s_.params.count) break;
    }
    if (unique_ == s_.params.count) {
      finish(now, w);
    } else if (got) {
      check_at_ = now + linger_;
    } else if (now >= check_at_) {
      // Quiet for the linger time: done if the sender is, else look again later.
      if (s_.sender_end && now >= *s_.sender_end + linger_) {
        finish(now, w);
      } else {
        check_at_ = now + linger_;
      }
    }
    return w;
  }

  void stop(sim::TimePoint now) override {
    if (fd_ >= 0) (void)t_.close(fd_, now);
    fd_ = -1;
  }

 private:
  bool open(sim::TimePoint now, StepWork& w) {
    s_.receiver_started = true;
    check_at_ = std::max(now, s_.start) + linger_;
    w.socket_calls += 2;
    fd_ = t_.socket(family_of(s_.family), so::kSOCK_DGRAM | so::kSOCK_NONBLOCK, 0);
    const int r = fd_ < 0 ? fd_ : t_.bind(fd_, s_.server);
    if (r == 0) return true;
    s_.flow().errors.add(StreamError::kListenFailed, r);
    finish(now, w);
    return false;
  }

  void take(std::span<const std::byte> d, sim::TimePoint now) {
    FlowStats& fs = s_.flow();
    UdpStats& st = s_.stats;
    ++st.datagrams_received;
    fs.bytes_received += d.size();
    fs.last_byte_received = now;
    std::uint64_t seq = 0;
    if (d.size() == s_.params.size_bytes) std::memcpy(&seq, d.data(), kSeqBytes);
    if (d.size() != s_.params.size_bytes || seq >= s_.params.count) {
      ++st.bad_datagrams;
      fs.errors.add(StreamError::kBadDatagram);
      return;
    }
    const std::uint64_t bit = std::uint64_t{1} << (seq & 63);
    std::uint64_t& word = seen_[seq >> 6];
    if ((word & bit) != 0) {
      ++st.duplicates;
    } else {
      word |= bit;
      ++unique_;
      ++st.unique_received;
      if (any_ && seq < highest_) ++st.reordered;
      if (!any_ || seq > highest_) highest_ = seq;
      any_ = true;
      st.lost = highest_ + 1 - unique_;
    }
    const std::uint64_t offset = seq * s_.params.size_bytes + kSeqBytes;
    fs.errors.add(s_.pattern.check(offset, d.subspan(kSeqBytes)), Direction::kClientToServer);
    fs.bytes_validated += d.size() - kSeqBytes;
  }

  void finish(sim::TimePoint now, StepWork& w) {
    if (fd_ >= 0) {
      ++w.socket_calls;
      (void)t_.close(fd_, now);
    }
    fd_ = -1;
    finished_ = true;
    s_.stats.lost = s_.params.count - unique_;
    s_.closed(/*sender=*/false, now);
  }

  std::shared_ptr<UdpShared> owner_;
  std::string name_;
  UdpShared& s_;
  SocketTable& t_;
  std::vector<std::byte> buf_;
  std::vector<std::uint64_t> seen_;  // one bit per sequence number
  sim::Duration linger_;
  int fd_ = -1;
  std::uint64_t unique_ = 0, highest_ = 0;
  bool any_ = false, finished_ = false;
  sim::TimePoint check_at_;
};

class UdpStreamWorkload final : public Workload {
 public:
  UdpStreamWorkload(const WorkloadSpec& spec, const UdpStream& params, const WorkloadPlacement& where,
                    const WorkloadOptions& options)
      : Workload(spec.name, WorkloadKind::kUdpStream),
        shared_(std::make_shared<UdpShared>(spec, params, where, options)) {
    attach(std::make_unique<UdpReceiver>(shared_, where.server_table),
           std::make_unique<UdpSender>(shared_, where.client_table));
  }
  bool done() const override { return shared_->sender_closed && shared_->receiver_closed; }
  std::span<const FlowStats> flows() const override { return shared_->flows; }
  const UdpStats* udp_stats() const override { return &shared_->stats; }

 private:
  std::shared_ptr<UdpShared> shared_;
};

}  // namespace

std::unique_ptr<Workload> make_udp_stream(const WorkloadSpec& spec, const UdpStream& params,
                                          const WorkloadPlacement& where, const WorkloadOptions& options) {
  return std::make_unique<UdpStreamWorkload>(spec, params, where, options);
}

}  // namespace nicemu::app
