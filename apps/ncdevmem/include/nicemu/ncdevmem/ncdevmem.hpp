// nicemu/ncdevmem/ncdevmem.hpp — the kernel selftest ncdevmem (devmem TCP netcat) as programs
// that run on emulated hosts: the binding self-test (mode A), the devmem RX server (mode B, -l)
// and the devmem TX client (mode C), plus the two peers devmem.py runs on the remote host (a
// `yes | head -c | socat` sender and a `socat -U - TCP-LISTEN` sink).
//
// Models: tools/testing/selftests/drivers/net/hw/ncdevmem.c (Linux 6.18) step by step, with its
//   option defaults, its control operations in its order (ring config saved and restored,
//   header split, `ethtool -X equal N`, `ethtool -N flow-type ... queue N` with the 3-tuple
//   fallback and the rules it added removed again, bind-rx / bind-tx over a fresh netdev netlink
//   socket each, `ethtool -L` through check_changing_channels()), its checks and its messages;
//   the server's recvmsg(MSG_SOCK_DEVMEM) loop with an 80000-byte control buffer and an 819200-
//   byte iovec, every frag read through the dma-buf mapping between DMA_BUF_IOCTL_SYNC START and
//   END and validated with validate_buffer()'s pattern, each token returned with
//   SO_DEVMEM_DONTNEED {token, 1} (must free exactly 1); the client's line-by-line devmem
//   sendmsg(MSG_ZEROCOPY) with iovecs of dma-buf offsets in chunks of -z bytes (at most 1024) and
//   the wait for its MSG_ERRQUEUE completion; and devmem.py's check_rx / check_tx /
//   check_tx_chunks peers.
// Not modelled: blocking calls (every socket is O_NONBLOCK: a call that would block makes the
//   program wait for the next network event or its timer — the same calls in the same order),
//   wall-clock time (the completion wait is simulated time), SO_BINDTODEVICE and SO_REUSEPORT
//   (the socket layer has neither; one NIC per host), IPv4-mapped IPv6 sockets (an IPv4 -s gives
//   an AF_INET socket), stdin (mode C's lines are given in Options::tx_lines), printing the
//   received bytes when -v is not given, the udmabuf's memfd (providers/dmabuf models it).
// Departures (each noted where it happens): ncdevmem's DMA_BUF_IOCTL_SYNC for reading passes
//   DMA_BUF_SYNC_START without DMA_BUF_SYNC_READ, which the kernel refuses with EINVAL (ncdevmem
//   does not check); here the bracket is START|READ and END|READ and a failure is a failure.
//   SCM_DEVMEM_LINEAR bytes (in the iovec) are validated too, in stream order (ncdevmem logs
//   them and has a TODO). A recvmsg error other than EAGAIN and EFAULT is counted and retried at
//   the next event instead of in a busy loop.
// References: ../shared/reference/linux-kernel-semantics.md §4, §7.1, §7.2; ncdevmem.c and
//   devmem.py in tools/testing/selftests/drivers/net/hw/; Documentation/networking/devmem.rst.
//
// Use (see README.md):
//   ModeAResult r = run_devmem_tests(host, opts);                         // mode A, synchronous
//   auto& srv = host_b.add_app(std::make_unique<DevmemServer>(host_b, opts));      // mode B
//   host_a.add_app(std::make_unique<PeerPatternClient>(host_a, opts, PeerOptions{}));
//   ... run the event queue until srv.done(); read srv.result() ...
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nicemu/app/host.hpp"
#include "nicemu/app/workload.hpp"
#include "nicemu/netmem/dma.hpp"
#include "nicemu/netstack/socket/cmsg.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::ncdevmem {

// ncdevmem.c's constants.
inline constexpr std::size_t kNumPages = 16000;            // NUM_PAGES: the udmabuf's size in pages
inline constexpr std::size_t kPageSize = 4096;             // getpagesize()
inline constexpr std::size_t kMaxIov = 1024;               // MAX_IOV
inline constexpr std::size_t kServerControlBytes = 80000;  // char ctrl_data[sizeof(int) * 20000]
inline constexpr std::size_t kServerIovBytes = 819200;     // char iobuf[819200]
inline constexpr std::uint32_t kMaxValidationErrors = 20;  // validate_buffer: "errors > 20" fails
inline constexpr const char* kTestPrefix = "ncdevmem";     // TEST_PREFIX

// One line of the program's stderr (nullptr: silent).
using LogFn = std::function<void(const std::string& line)>;

// ncdevmem's command line. -f (the interface) is the app::Host the program runs on: its one NIC.
struct Options {
  bool listen = false;                                 // -l: server (mode B)
  std::optional<netstack::wire::IpAddress> server_ip;  // -s
  std::optional<netstack::wire::IpAddress> client_ip;  // -c
  std::uint16_t port = 0;                              // -p (0: not given)
  std::uint64_t validation = 0;                        // -v N: validate_buffer's modulus (0: none)
  int num_queues = -1;                                 // -q (-1: not given)
  int start_queue = -1;                                // -t (-1: not given)
  std::size_t max_chunk = 0;                           // -z: largest TX iovec entry (0: one iovec)
  // Mode C's stdin, one entry per getline() (each keeps its '\n'; see split_lines()).
  std::vector<std::string> tx_lines;

  // ---- knobs that are not flags ----
  std::size_t dmabuf_pages = kNumPages;  // the udmabuf's size in pages
  netmem::MemoryPlacement dmabuf_placement = netmem::MemoryPlacement::kDeviceMemory;
  sim::Duration completion_wait = sim::Duration::from_ms(500);  // waittime_ms
  // Test hook: false leaves out the ntuple rule of mode B (the flow then lands on an RSS queue,
  // which has no binding: "flow steering error").
  bool flow_steering = true;
  LogFn log;             // ncdevmem's stderr
  bool verbose = false;  // also the per-call and per-frag lines (recvmsg ret=, received frag_page=)
};

enum class Mode : std::uint8_t {
  kBindTests,  // neither -s nor -c: run_devmem_tests()
  kServer,     // -l
  kClient,     // -s without -l
};
// ncdevmem's main(): which program the options select.
Mode mode_of(const Options& o);

// "hello\nworld" -> {"hello\n", "world"}: what getline() reads from that stdin.
std::vector<std::string> split_lines(std::string_view text);

// validate_buffer()'s byte sequence for modulus N: a seed that starts at 1, is sent as is except
// 0, which is '\n', and wraps to 0 when it reaches N (an unsigned char, as in ncdevmem). For N = 7
// that is 1,2,3,4,5,6,'\n',1,... = `yes $(echo -e \\x01\\x02\\x03\\x04\\x05\\x06)`.
class PatternSeed {
 public:
  explicit PatternSeed(std::uint64_t modulus) : modulus_(modulus) {}
  std::byte next() {
    const std::byte b = seed_ != 0 ? static_cast<std::byte>(seed_) : std::byte{'\n'};
    ++seed_;
    if (seed_ == modulus_) seed_ = 0;
    return b;
  }

 private:
  std::uint64_t modulus_;
  std::uint8_t seed_ = 1;
};

// ---- results -----------------------------------------------------------------------------------------

struct Counters {
  std::uint64_t recvmsg_calls = 0;       // recvmsg(MSG_SOCK_DEVMEM) calls that returned data
  std::uint64_t recvmsg_errors = 0;      // calls that failed with other than EAGAIN (retried)
  std::uint64_t bytes_received = 0;      // what recvmsg returned, dma-buf and linear bytes
  std::uint64_t dmabuf_bytes = 0;        // ncdevmem's total_received: SCM_DEVMEM_DMABUF bytes
  std::uint64_t linear_bytes = 0;        // SCM_DEVMEM_LINEAR bytes (in the iovec)
  std::uint64_t frags = 0;               // SCM_DEVMEM_DMABUF messages
  std::uint64_t page_aligned_frags = 0;  // frag_size a multiple of the page size (ncdevmem's test)
  std::uint64_t non_page_aligned_frags = 0;
  std::uint64_t tokens_freed = 0;        // sum of SO_DEVMEM_DONTNEED's return values
  std::uint64_t validated_bytes = 0;     // bytes compared with the pattern (-v)
  std::uint64_t validation_errors = 0;   // of those, wrong
  std::uint64_t skipped_cmsgs = 0;       // "skipping non-devmem cmsg"
  std::uint64_t bytes_sent = 0;          // TX: bytes sendmsg / send accepted
  std::uint64_t lines_sent = 0;          // mode C: sendmsg calls that sent a whole line
  std::uint64_t completions = 0;         // mode C: MSG_ZEROCOPY completions read
  std::uint64_t completions_copied = 0;  // of those, with SO_EE_CODE_ZEROCOPY_COPIED
};

struct Result {
  enum class Status : std::uint8_t { kRunning, kPass, kFail };
  Status status = Status::kRunning;
  std::string reason;  // on failure: ncdevmem's message and what the kernel said
  Counters counters;
  std::optional<sim::TimePoint> finished_at;

  bool finished() const { return status != Status::kRunning; }
  bool pass() const { return status == Status::kPass; }
};

// One step of run_devmem_tests().
struct ModeAStep {
  std::string name;    // what ncdevmem does ("bind-rx with header split off")
  bool ok = false;     // the step came out as the test wants
  int err = 0;         // the operation's return (0 or a negative errno)
  std::string extack;  // the kernel's message for it, if any
};

struct ModeAResult {
  bool pass = false;
  std::string reason;  // the first failing step's message ("" on pass)
  std::vector<ModeAStep> steps;
  int num_queues = -1;  // the queues tested: start_queue .. start_queue + num_queues - 1
  int start_queue = -1;
  std::uint32_t dmabuf_id = 0;  // of the bind that had to succeed (0: none)
};

// ---- mode A ----------------------------------------------------------------------------------------------

// ncdevmem's run_devmem_tests() on `host`'s NIC, after main()'s queue defaults (num_queues =
// rx + combined channels, fail below 2; start_queue = n / 2; num_queues = n / 2; -t and -q
// together or neither): save the ring config; `ethtool -X equal start_queue`; header split on
// (tcp-data-split enabled, hds-thresh 0 where the device has it); (1) bind-rx with an unfilled
// queue list must fail; (2) tcp-data-split unknown -> bind-rx must fail; (3) header split on ->
// bind-rx must succeed; (4) while bound, channels -> num_queues must fail (restored if it
// succeeds); cleanup: close the netlink session (unbinds), restore the rings, `ethtool -X
// default`, close the dma-buf. Control operations take no simulated time (they run under rtnl
// in process context), so this is a plain function: call it at the time the test runs (the
// queue restarts it causes go on in the event queue afterwards). Never asserts on the device's
// answers: every outcome is in the result.
ModeAResult run_devmem_tests(app::Host& host, const Options& options);

// ---- the programs ------------------------------------------------------------------------------------

// What the four programs share: a name, the host, the result, the log.
class Program : public app::App {
 public:
  const std::string& name() const override { return name_; }
  bool done() const override { return result_.finished(); }
  const Result& result() const { return result_; }

 protected:
  Program(app::Host& host, Options options, std::string name);
  void log(const std::string& line) const;
  void pass(sim::TimePoint now);
  void fail(sim::TimePoint now, std::string reason);

  app::Host& host_;
  Options opt_;
  std::string name_;
  Result result_;
  sim::TimePoint last_now_{};  // of the last step() / stop(): when a destructor closes what is left
};

// Mode B: `ncdevmem -l -f IF -s SERVER [-c CLIENT] -p PORT [-v N] [-q Q -t T]`. Defaults: one
// queue, the last RX queue. Sets up at its first step (header split, RSS over the queues below
// start_queue, the ntuple rule to start_queue, bind-rx of start_queue.. start_queue+num_queues-1,
// a listener on SERVER:PORT), accepts one connection and reads it with MSG_SOCK_DEVMEM until the
// client closes (pass) or a check fails; then undoes everything in ncdevmem's order.
class DevmemServer final : public Program {
 public:
  DevmemServer(app::Host& host, Options options, std::string name = "ncdevmem/server");
  ~DevmemServer() override;
  DevmemServer(const DevmemServer&) = delete;
  DevmemServer& operator=(const DevmemServer&) = delete;

  app::StepWork step(sim::TimePoint now) override;
  std::optional<sim::TimePoint> wake_at() const override;
  void stop(sim::TimePoint now) override;

  std::uint32_t dmabuf_id() const { return dmabuf_id_; }  // the RX binding (0 before bind-rx)
  int start_queue() const { return start_queue_; }
  int num_queues() const { return num_queues_; }
  // The ntuple rules ncdevmem added and has not removed yet.
  const std::vector<std::uint32_t>& flow_rules() const;

 private:
  struct State;
  void setup(sim::TimePoint now, app::StepWork& w);
  void receive(sim::TimePoint now, app::StepWork& w);
  struct MessageScan;
  // false: a check failed (the result says which).
  bool handle_message(std::int64_t n, std::size_t controllen, sim::TimePoint now, app::StepWork& w);
  void handle_cmsg(const netstack::socket::CmsgView& cm, MessageScan& m, sim::TimePoint now, app::StepWork& w);
  // validate_buffer(): false once more than kMaxValidationErrors bytes were wrong.
  bool validate(std::span<const std::byte> bytes);
  void finish(sim::TimePoint now, std::optional<std::string> failure);
  void cleanup(sim::TimePoint now);

  std::unique_ptr<State> s_;
  int start_queue_ = -1, num_queues_ = -1;
  std::uint32_t dmabuf_id_ = 0;
};

// Mode C: `ncdevmem -f IF -s SERVER [-c CLIENT] -p PORT [-z CHUNK]` with Options::tx_lines as
// stdin. bind-tx, SO_ZEROCOPY, connect; for each line: copy it into the dma-buf at offset 0, one
// devmem sendmsg(MSG_ZEROCOPY) of iovecs (dma-buf offsets, -z bytes each) that must send all of
// it, then wait up to completion_wait for its completion on the error queue.
class DevmemClient final : public Program {
 public:
  DevmemClient(app::Host& host, Options options, std::string name = "ncdevmem/client");
  ~DevmemClient() override;
  DevmemClient(const DevmemClient&) = delete;
  DevmemClient& operator=(const DevmemClient&) = delete;

  app::StepWork step(sim::TimePoint now) override;
  std::optional<sim::TimePoint> wake_at() const override;
  void stop(sim::TimePoint now) override;

  std::uint32_t tx_dmabuf_id() const { return tx_dmabuf_id_; }

 private:
  struct State;
  void setup(sim::TimePoint now, app::StepWork& w);
  void send_lines(sim::TimePoint now, app::StepWork& w);
  bool send_line(sim::TimePoint now, app::StepWork& w);        // false: wait
  bool wait_completion(sim::TimePoint now, app::StepWork& w);  // false: wait
  void finish(sim::TimePoint now, std::optional<std::string> failure);
  void cleanup(sim::TimePoint now);

  std::unique_ptr<State> s_;
  std::uint32_t tx_dmabuf_id_ = 0;
};

// The remote side of devmem.py's check_rx: `yes $(echo -e \\x01..\\x06) | head -c BYTES | socat
// -u - TCP:SERVER:PORT[,bind=CLIENT:PORT]` over plain TCP.
struct PeerOptions {
  std::uint64_t bytes = 1024;  // head -c
  // The pattern's modulus: validate_buffer's sequence; 0 takes Options::validation, or 7 (the
  // six bytes and '\n' devmem.py sends) when that is 0 too.
  std::uint64_t modulus = 0;
  // Until the first connect (devmem.py waits for ncdevmem's port to listen, and a bnxt bind
  // restarts the device).
  sim::Duration start_delay = sim::Duration::from_ms(50);
  std::size_t write_size = 64 * 1024;  // bytes per send()
};

// Connects to Options::server_ip:port (bound to client_ip:port when -c is given, as socat's
// bind=), sends the pattern, shuts down its write side at the end (socat at stdin's EOF) and
// closes when the server has closed too.
class PeerPatternClient final : public Program {
 public:
  PeerPatternClient(app::Host& host, Options options, PeerOptions peer, std::string name = "socat/client");
  ~PeerPatternClient() override;
  PeerPatternClient(const PeerPatternClient&) = delete;
  PeerPatternClient& operator=(const PeerPatternClient&) = delete;

  app::StepWork step(sim::TimePoint now) override;
  std::optional<sim::TimePoint> wake_at() const override;
  void stop(sim::TimePoint now) override;

 private:
  void close_fd(sim::TimePoint now);
  PeerOptions peer_;
  std::uint64_t modulus_ = 7;
  PatternSeed seed_;
  std::vector<std::byte> buf_;
  std::size_t buf_at_ = 0, buf_len_ = 0;  // unsent part of buf_
  int fd_ = -1;
  enum class St : std::uint8_t { kWaiting, kConnecting, kSending, kWaitFin, kDone } st_ = St::kWaiting;
  std::optional<sim::TimePoint> start_at_;
};

// The remote side of devmem.py's check_tx: `socat -U - TCP-LISTEN:PORT` — listens on
// Options::server_ip:port, accepts one connection and keeps every byte until the client closes.
class PeerSinkServer final : public Program {
 public:
  PeerSinkServer(app::Host& host, Options options, std::string name = "socat/server");
  ~PeerSinkServer() override;
  PeerSinkServer(const PeerSinkServer&) = delete;
  PeerSinkServer& operator=(const PeerSinkServer&) = delete;

  app::StepWork step(sim::TimePoint now) override;
  std::optional<sim::TimePoint> wake_at() const override;
  void stop(sim::TimePoint now) override;

  const std::string& received() const { return received_; }  // socat's stdout

 private:
  void close_fds(sim::TimePoint now);
  int lfd_ = -1, fd_ = -1;
  bool started_ = false;
  std::string received_;
};

}  // namespace nicemu::ncdevmem
