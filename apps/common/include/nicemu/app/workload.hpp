// nicemu/app/workload.hpp — the programs `nicemu run` starts on emulated hosts: an App runs on one
// host and talks only through that host's SocketTable; a Workload is the client/server pair a
// scenario's workload spec describes (bulk TCP, request/response TCP, a paced UDP stream), with
// the per-flow numbers the run report prints.
//
// Models: event-driven, non-blocking programs in the style of iperf3, netperf TCP_RR and a UDP
//   packet generator: every socket is O_NONBLOCK, readiness comes from a level-triggered epoll,
//   connect is EINPROGRESS then completes, a short send or EAGAIN waits for EPOLLOUT. step(now)
//   does all the work possible without blocking and returns; wake_at() says when the app needs a
//   timer (a delayed start, UDP pacing, the end of a timed transfer). Payloads are a BytePattern
//   and receivers check every byte; stream errors (reset, premature EOF, refused connect, data
//   where none is due) are counted by reason next to the mismatched bytes.
// Not modelled: CPU time (step() returns the work it did — bytes copied, socket calls — so the
//   host model can charge it; the app itself costs nothing), threads (one event loop per app),
//   MSG_ZEROCOPY outside devmem, reconnecting after an error, UDP datagrams
//   under 8 bytes (the sequence number needs 8; make_workload refuses them).
// References: iperf3 (src/iperf_tcp.c, iperf_udp.c: sequence numbers, lost and out-of-order
//   counting), netperf TCP_RR (one transaction outstanding per connection), RFC 4737 §3
//   (reordered: a packet whose sequence number is below one already received).
//
// How the host model uses it:
//   auto w = make_workload(spec, {client_table, server_table, server_addr, client_addr});
//   host(spec.to).add_app(w->take_server()); host(spec.from).add_app(w->take_client());
//   (or keep them in the workload and hand the hosts w->server() / w->client() by reference)
//   ... after network events on a host, and at each app's wake_at(): app.step(now);
//   ... the run ends when every w->done() (or at the time limit); then app.stop(now) on every app;
//   report from w->flows() (and rr_stats() / udp_stats()).
// The hosts own the apps; the workload and its apps share the flows' statistics (each holds a
// reference count), so the report can be read after the hosts dropped their apps.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nicemu/app/byte_pattern.hpp"
#include "nicemu/app/scenario.hpp"
#include "nicemu/base/assert.hpp"
#include "nicemu/base/int128.hpp"
#include "nicemu/base/result.hpp"
#include "nicemu/netstack/socket/socket_table.hpp"
#include "nicemu/providers/dmabuf/dmabuf.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::app {

// ---- the app interface ---------------------------------------------------------------------------

// The work one step() did, for the host model to turn into CPU time (a hook: nothing charges it
// yet). Counts what a real program would spend CPU on; pattern generation and checking are the
// emulator's own validation and are not counted.
struct StepWork {
  std::uint64_t bytes_copied = 0;  // payload bytes send() and recv() copied into or out of socket buffers
  std::uint64_t socket_calls = 0;  // calls into the SocketTable (socket, connect, send, recv, epoll_wait, ...)

  StepWork& operator+=(const StepWork& o) {
    bytes_copied += o.bytes_copied;
    socket_calls += o.socket_calls;
    return *this;
  }
};

class App {
 public:
  virtual ~App() = default;
  // "<workload>/client" or "<workload>/server".
  virtual const std::string& name() const = 0;
  // Does everything possible at `now` without blocking, then returns. Called after the host has
  // processed network events and at wake_at(); an extra call is harmless (it finds nothing ready).
  virtual StepWork step(sim::TimePoint now) = 0;
  // When the app needs step() even if no network event comes; nullopt: only network events.
  // A time at or before now means "step me now" (e.g. a server that has not opened its listener).
  virtual std::optional<sim::TimePoint> wake_at() const = 0;
  // Nothing more to do: every flow of this side ended (completed or failed) and its sockets are
  // closed, except that a server whose client gave a flow up before connecting may still hold
  // that flow's listener until its next step or stop().
  virtual bool done() const = 0;
  // End of the run: closes every descriptor still open (a flow cut short stays not done).
  virtual void stop(sim::TimePoint now) = 0;
};

// ---- statistics ------------------------------------------------------------------------------------

// Errors of a stream other than wrong bytes; each is counted once per occurrence with its errno.
enum class StreamError : std::uint8_t {
  kConnectFailed,   // connect() failed (refused, timed out, unreachable)
  kListenFailed,    // the server could not open, bind, listen on or accept from its socket
  kReset,           // the connection was reset (ECONNRESET, EPIPE) before its end
  kPrematureEof,    // end of stream before every expected byte arrived
  kUnexpectedData,  // bytes past the expected end, or data where none was due
  kSendFailed,      // send() failed otherwise (UDP: EMSGSIZE, ENETUNREACH, ...)
  kRecvFailed,      // recv() failed otherwise
  kBadDatagram,     // UDP: wrong length, or a sequence number outside 0..count-1
  kUnknownPeer,     // request/response: a connection from no client of this workload
  kDevmem,          // devmem API: a frag from an unknown binding, DONTNEED freeing fewer than asked, a
                    // devmem send or completion that failed
};
inline constexpr std::size_t kStreamErrorKinds = 10;
inline const char* to_string(StreamError e) {
  switch (e) {
    case StreamError::kConnectFailed:
      return "connect-failed";
    case StreamError::kListenFailed:
      return "listen-failed";
    case StreamError::kReset:
      return "reset";
    case StreamError::kPrematureEof:
      return "premature-eof";
    case StreamError::kUnexpectedData:
      return "unexpected-data";
    case StreamError::kSendFailed:
      return "send-failed";
    case StreamError::kRecvFailed:
      return "recv-failed";
    case StreamError::kBadDatagram:
      return "bad-datagram";
    case StreamError::kUnknownPeer:
      return "unknown-peer";
    case StreamError::kDevmem:
      return "devmem";
  }
  return "?";
}

// Which way the bytes went (request/response flows carry data both ways).
enum class Direction : std::uint8_t { kClientToServer, kServerToClient };

struct FlowErrors {
  std::uint64_t mismatched_bytes = 0;             // received bytes that differ from the pattern
  std::optional<std::uint64_t> first_bad_offset;  // stream offset of the first (UDP: seq * size + i)
  Direction first_bad_direction = Direction::kClientToServer;
  std::array<std::uint64_t, kStreamErrorKinds> stream{};  // stream errors by reason
  std::optional<StreamError> first_stream_error;
  int first_stream_errno = 0;  // negative errno of the first stream error (0: none applies)

  std::uint64_t stream_errors() const {
    std::uint64_t n = 0;
    for (const auto v : stream) n += v;
    return n;
  }
  std::uint64_t count(StreamError e) const { return stream[static_cast<std::size_t>(e)]; }
  // The report's validation_errors: mismatched bytes plus stream errors.
  std::uint64_t total() const { return mismatched_bytes + stream_errors(); }

  void add(const PatternCheck& c, Direction d) {
    if (c.ok()) return;
    if (!first_bad_offset) {
      first_bad_offset = c.first_bad_offset;
      first_bad_direction = d;
    }
    mismatched_bytes += c.mismatched_bytes;
  }
  void add(StreamError e, int err = 0) {
    ++stream[static_cast<std::size_t>(e)];
    if (!first_stream_error) {
      first_stream_error = e;
      first_stream_errno = err;
    }
  }
};

// Compares `data` with `pattern`'s stream bytes [offset, offset + size) and adds what differs to
// `errors` (client to server). With `offload`, on the byte worker (base/byte_worker.hpp) while it
// has fewer than `max_queued` foreground jobs queued: the bytes must then stay put until a later
// job or a wait, and `errors` be read only after a drain. A worker further behind than that gets
// no more work: this thread, which would soon wait for it anyway, checks the bytes itself, and
// bytes that differ count after the worker's checks of earlier ones. Which thread checks changes
// no result.
inline constexpr std::uint64_t kCheckOffloadQueue = 64;
void check_pattern(const BytePattern& pattern, std::uint64_t offset, std::span<const std::byte> data,
                   FlowErrors& errors, bool offload, std::uint64_t max_queued = kCheckOffloadQueue);

// Chunks of one stream at consecutive offsets from `offset`, checked in order: what a
// PatternCheckRun below collects, and, handed over as it stands, the byte worker job.
struct PatternChunks {
  static constexpr std::size_t kMax = 16;
  const BytePattern* pattern = nullptr;
  FlowErrors* errors = nullptr;
  std::uint64_t offset = 0;  // stream offset of data[0]
  std::uint32_t n = 0;
  std::array<const std::byte*, kMax> data{};
  std::array<std::uint32_t, kMax> len{};
  void operator()() const;
};

// check_pattern over a run of chunks of one stream at consecutive offsets (one recvmsg's frags,
// wherever each lies): the chunks handed over together go to the worker as one job of up to
// kPieces chunks instead of one job each. Results are those of check_pattern per chunk, in
// order: a chunk checked here (not offloaded, or the worker behind) first hands over the chunks
// before it. flush() (or the destructor) hands over what is collected; it must come before
// anything that lets the collected bytes change (returning their tokens).
class PatternCheckRun {
 public:
  static constexpr std::size_t kPieces = PatternChunks::kMax;
  PatternCheckRun(const BytePattern& pattern, std::uint64_t offset, FlowErrors& errors,
                  std::uint64_t max_queued = kCheckOffloadQueue)
      : max_queued_(max_queued), next_(offset) {
    chunks_.pattern = &pattern;
    chunks_.errors = &errors;
  }
  ~PatternCheckRun() { flush(); }
  PatternCheckRun(const PatternCheckRun&) = delete;
  PatternCheckRun& operator=(const PatternCheckRun&) = delete;

  // The stream's next `data.size()` bytes, checked as check_pattern(..., offload) would.
  void add(std::span<const std::byte> data, bool offload);
  void flush();

 private:
  std::uint64_t max_queued_;
  std::uint64_t next_;     // stream offset of the next chunk
  PatternChunks chunks_;   // collected, not handed over yet
};

// One flow (a TCP connection, or the UDP stream) as the run report shows it. Request/response
// flows carry data both ways: the byte counts add both directions and retransmits both sockets.
// A devmem flow's receive and transmit figures.
struct DevmemFlowStats {
  std::uint64_t linear_bytes = 0;      // received through SCM_DEVMEM_LINEAR (copied: not split)
  std::uint64_t dmabuf_bytes = 0;      // received as SCM_DEVMEM_DMABUF frags (read in the dma-buf)
  std::uint64_t frags = 0;             // SCM_DEVMEM_DMABUF messages
  std::uint64_t page_aligned_frags = 0;
  std::uint64_t tokens_freed = 0;      // SO_DEVMEM_DONTNEED's returns, summed
  std::uint64_t readable_bytes = 0;    // arrived readable on a devmem receiver (an unbound queue)
  std::uint64_t zc_sends = 0;          // devmem TX: sendmsg calls that sent
  std::uint64_t zc_completions = 0;    // devmem TX: notification ids completed
  std::uint64_t zc_copied = 0;         // of those, reported COPIED (should be 0)
};

struct FlowStats {
  std::uint32_t index = 0;  // bulk-tcp: flow i (port + i); request-response: connection i; udp: 0
  // "192.0.2.1:40000 -> 192.0.2.2:5001" or "[2001:db8::1]:40000 -> [2001:db8::2]:5001"
  // (client -> server); "" until the client's connect() has run.
  std::string tuple;
  std::uint64_t bytes_sent = 0;       // payload bytes send() accepted
  std::uint64_t bytes_received = 0;   // payload bytes recv() returned (UDP: duplicates included)
  std::uint64_t bytes_validated = 0;  // of those, compared with the pattern
  FlowErrors errors;
  // tcpi_total_retrans of the sending socket (bulk: the client's), read at each event of the
  // flow and last before its close; request/response: both sockets; UDP: 0.
  std::uint64_t retransmits = 0;
  std::optional<sim::TimePoint> start;               // the client's connect() (UDP: first send)
  std::optional<sim::TimePoint> first_byte_sent;     // first send() that accepted a byte
  std::optional<sim::TimePoint> last_byte_received;  // last recv() that returned a byte
  std::optional<sim::TimePoint> end;                 // both sides done with the flow
  DevmemFlowStats devmem;
  bool done = false;                                 // both sides finished the flow (completed or failed: see errors)

  std::uint64_t validation_errors() const { return errors.total(); }
  // Payload bytes received over the flow's active time (first byte sent -> last byte received);
  // 0 when that time is not known or not positive.
  double goodput_gbps() const {
    if (!first_byte_sent || !last_byte_received || *last_byte_received <= *first_byte_sent) return 0;
    return static_cast<double>(bytes_received) * 8.0 / (*last_byte_received - *first_byte_sent).seconds() / 1e9;
  }
};

// Latencies in a fixed log-linear histogram (HdrHistogram's layout with 64 sub-buckets per power
// of two: values below 64 ps exact, otherwise within 1/64 = 1.6 %); no allocation per record.
class LatencyHistogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = kSub + (64 - kSubBits) * kSub;

  void record(sim::Duration d) {
    const auto v = static_cast<std::uint64_t>(d.ps() < 0 ? 0 : d.ps());
    ++counts_[bucket(v)];
    ++count_;
    sum_ps_ += v;
    if (count_ == 1 || v < min_) min_ = v;
    if (v > max_) max_ = v;
  }
  std::uint64_t count() const { return count_; }
  sim::Duration min() const { return ps(min_); }
  sim::Duration max() const { return ps(max_); }
  sim::Duration mean() const { return ps(count_ == 0 ? 0 : sum_ps_ / count_); }
  // The value at quantile q (0 < q <= 1): the highest value of the bucket holding the
  // ceil(q * count)-th smallest record, capped at max(); zero when empty.
  sim::Duration percentile(double q) const {
    if (count_ == 0) return ps(0);
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
    rank = std::max<std::uint64_t>(1, std::min(rank, count_));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return ps(std::min(highest(i), max_));
    }
    return ps(max_);
  }

  static std::size_t bucket(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    const int e = std::bit_width(v) - 1;  // >= kSubBits
    const auto sub = static_cast<std::size_t>((v >> (e - kSubBits)) & (kSub - 1));
    return kSub + static_cast<std::size_t>(e - kSubBits) * kSub + sub;
  }
  static std::uint64_t highest(std::size_t b) {
    if (b < kSub) return b;
    const std::size_t e = (b - kSub) / kSub + kSubBits;
    const std::uint64_t sub = (b - kSub) % kSub;
    const std::uint64_t lo = (kSub + sub) << (e - kSubBits);
    return lo + ((std::uint64_t{1} << (e - kSubBits)) - 1);
  }

 private:
  static sim::Duration ps(std::uint64_t v) { return sim::Duration::from_ps(static_cast<std::int64_t>(v)); }
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0, sum_ps_ = 0, min_ = 0, max_ = 0;
};

struct RrStats {
  std::uint64_t transactions_started = 0;  // requests whose first byte was sent
  std::uint64_t transactions_done = 0;     // responses read in full
  // Request's first byte sent -> response's last byte read, at the client.
  LatencyHistogram latency;
  std::uint64_t unknown_peers = 0;  // connections the server refused to attribute (also a stream error of flow 0)
};

struct UdpStats {
  std::uint64_t datagrams_sent = 0;      // accepted by send()
  std::uint64_t send_would_block = 0;    // send() answered EAGAIN / ENOBUFS; retried later
  std::uint64_t send_errors = 0;         // send() failed otherwise; the datagram is not sent
  std::uint64_t datagrams_received = 0;  // duplicates included
  std::uint64_t unique_received = 0;
  // While running: sequence numbers below the highest received that have not arrived; once the
  // receiver finished: count - unique_received.
  std::uint64_t lost = 0;
  std::uint64_t reordered = 0;      // arrived after a higher sequence number had (RFC 4737)
  std::uint64_t duplicates = 0;     // a sequence number received again
  std::uint64_t bad_datagrams = 0;  // wrong length or sequence number out of range (not validated)
};

// ---- workloads -------------------------------------------------------------------------------------

enum class WorkloadKind : std::uint8_t { kBulkTcp, kRequestResponseTcp, kUdpStream };

// What the host model knows about where the workload runs. The tables belong to the hosts (a
// table may be shared with other apps of the host: each app closes only its own descriptors).
struct WorkloadPlacement {
  netstack::socket::SocketTable& client_table;  // on host `from`
  netstack::socket::SocketTable& server_table;  // on host `to`
  // An address of host `to` in the spec's family: the client connects to it, the server binds it.
  netstack::wire::IpAddress server_addr;
  // An address of host `from` to bind the client to; nullopt: the route picks the source.
  std::optional<netstack::wire::IpAddress> client_addr;
  // devmem-rx: the application's mapping of the dma-buf behind a binding id of host `to` (the
  // ids a recvmsg reports; nullptr for an id the host never made). Kept after unbind, as an
  // application keeps its mmap.
  std::function<providers::dmabuf::Dmabuf*(std::uint32_t binding_id)> server_dmabuf;
  // devmem-tx: host `from`'s TX binding id and the dma-buf behind it.
  std::uint32_t client_tx_binding = 0;
  providers::dmabuf::Dmabuf* client_tx_dmabuf = nullptr;
};

// Called on every chunk a sender fills with the pattern before handing it to send(): `chunk` holds
// the bytes for stream offsets [offset, offset + chunk.size()) of `flow` in direction `dir` and may
// be changed. A chunk whose send() was short may be filled (and passed here) again from the first
// unsent byte, so a hook should be a function of (flow, dir, offset) only. For tests that make a
// receiver's check fail (UDP: offset = seq * size, the whole datagram).
using TamperTx =
    std::function<void(std::uint32_t flow, Direction dir, std::uint64_t offset, std::span<std::byte> chunk)>;

struct WorkloadOptions {
  // UDP: how long the receiver keeps listening after the sender's last datagram before it counts
  // the missing ones as lost.
  sim::Duration udp_linger = sim::Duration::from_ms(10);
  // Bytes per recv() call (and the largest send() of request/response and UDP data).
  std::size_t io_buffer_bytes = 128 * 1024;
  TamperTx tamper_tx;  // test hook; empty in runs
};

class Workload {
 public:
  virtual ~Workload() = default;
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  const std::string& name() const { return name_; }
  WorkloadKind kind() const { return kind_; }
  // The two apps: the server runs on host `to`, the client on host `from`. Either the workload
  // keeps them and a host uses them by reference (server() / client()), or a host takes one
  // (take_*) and owns it from then on. The apps and the workload share the statistics, so either
  // may be destroyed first.
  App& server() {
    NICEMU_ASSERT(server_ != nullptr, "Workload::server: the server app was taken by a host");
    return *server_;
  }
  App& client() {
    NICEMU_ASSERT(client_ != nullptr, "Workload::client: the client app was taken by a host");
    return *client_;
  }
  std::unique_ptr<App> take_server() {
    NICEMU_ASSERT(server_ != nullptr, "Workload::take_server: the server app was taken already");
    return std::move(server_);
  }
  std::unique_ptr<App> take_client() {
    NICEMU_ASSERT(client_ != nullptr, "Workload::take_client: the client app was taken already");
    return std::move(client_);
  }
  // Both apps are done (as their done() says), whoever owns them now.
  virtual bool done() const = 0;
  virtual std::span<const FlowStats> flows() const = 0;
  virtual const RrStats* rr_stats() const { return nullptr; }
  virtual const UdpStats* udp_stats() const { return nullptr; }

  // Sums over flows(), for a one-line summary.
  std::uint64_t validation_errors() const {
    std::uint64_t n = 0;
    for (const auto& f : flows()) n += f.validation_errors();
    return n;
  }

 protected:
  Workload(std::string name, WorkloadKind kind) : name_(std::move(name)), kind_(kind) {}
  // The subclass's constructor hands over its two apps.
  void attach(std::unique_ptr<App> server, std::unique_ptr<App> client) {
    server_ = std::move(server);
    client_ = std::move(client);
  }

 private:
  std::string name_;
  WorkloadKind kind_;
  std::unique_ptr<App> server_, client_;  // until the hosts take them
};

// Each kind's workload; the parameters have passed check_workload(). Definitions:
// workload_bulk_tcp.cpp, workload_rr_tcp.cpp, workload_udp.cpp.
std::unique_ptr<Workload> make_bulk_tcp(const WorkloadSpec& spec, const BulkTcp& params, const WorkloadPlacement& where,
                                        const WorkloadOptions& options);
std::unique_ptr<Workload> make_rr_tcp(const WorkloadSpec& spec, const RequestResponseTcp& params,
                                      const WorkloadPlacement& where, const WorkloadOptions& options);
std::unique_ptr<Workload> make_udp_stream(const WorkloadSpec& spec, const UdpStream& params,
                                          const WorkloadPlacement& where, const WorkloadOptions& options);

inline constexpr std::uint64_t kMaxUdpCount = std::uint64_t{1} << 32;

// The sentence that says what to fix when the spec cannot run here; nullopt when it can.
inline std::optional<std::string> check_workload(const WorkloadSpec& spec, const WorkloadPlacement& where,
                                                 const WorkloadOptions& options = {}) {
  const std::string w = "workload " + spec.name + ": ";
  if (where.server_addr.version() != spec.family) return w + "the server address is not of the workload's family";
  if (where.client_addr && where.client_addr->version() != spec.family) {
    return w + "the client address is not of the workload's family";
  }
  if (options.io_buffer_bytes == 0) return w + "io_buffer_bytes must be at least 1";
  if (const auto* b = std::get_if<BulkTcp>(&spec.params)) {
    if (b->flows == 0) return w + "flows must be at least 1";
    if (spec.port == 0 || spec.port + std::uint64_t{b->flows} - 1 > 65535)
      return w + "ports port..port+flows-1 must be 1..65535";
    if (b->bytes.has_value() == b->duration.has_value()) return w + "give exactly one of bytes or duration";
    if (b->write_size_bytes == 0) return w + "write-size must be at least 1 byte";
  } else if (const auto* r = std::get_if<RequestResponseTcp>(&spec.params)) {
    if (spec.port == 0) return w + "port must be 1..65535";
    if (r->request_bytes == 0 || r->response_bytes == 0)
      return w + "request-size and response-size must be at least 1 byte";
    if (r->concurrency == 0) return w + "concurrency must be at least 1";
  } else if (const auto* u = std::get_if<UdpStream>(&spec.params)) {
    if (spec.port == 0) return w + "port must be 1..65535";
    if (u->size_bytes < 8) return w + "size must be at least 8 bytes (each datagram carries a 64-bit sequence number)";
    // The receiver keeps one bit per datagram.
    if (u->count > kMaxUdpCount) return w + "count must be at most 2^32 datagrams (the receiver keeps a bit for each)";
    // The last datagram's send time must fit simulated time (int64 picoseconds, about 106 days).
    if (u->rate_bps != 0 && static_cast<base::u128>(u->count) * u->size_bytes * 8u * 1'000'000'000'000u / u->rate_bps >=
                                (base::u128{1} << 62)) {
      return w + "count * size at this rate lasts longer than simulated time reaches; raise rate or lower count";
    }
  }
  return std::nullopt;
}

// The workload a spec describes, or the sentence of check_workload().
inline base::Result<std::unique_ptr<Workload>, std::string> make_workload(const WorkloadSpec& spec,
                                                                          const WorkloadPlacement& where,
                                                                          const WorkloadOptions& options = {}) {
  if (auto e = check_workload(spec, where, options)) return base::Unexpected{std::move(*e)};
  if (const auto* b = std::get_if<BulkTcp>(&spec.params)) return make_bulk_tcp(spec, *b, where, options);
  if (const auto* r = std::get_if<RequestResponseTcp>(&spec.params)) return make_rr_tcp(spec, *r, where, options);
  return make_udp_stream(spec, std::get<UdpStream>(spec.params), where, options);
}

// "a:p -> b:q" with IPv6 addresses in brackets (the form of FlowStats::tuple).
inline std::string format_endpoint(const netstack::socket::SockAddr& a) {
  const std::string host = a.addr.to_string();
  return (a.addr.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(a.port);
}
inline std::string format_tuple(const netstack::socket::SockAddr& client, const netstack::socket::SockAddr& server) {
  return format_endpoint(client) + " -> " + format_endpoint(server);
}

}  // namespace nicemu::app
