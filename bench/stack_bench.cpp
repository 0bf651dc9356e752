// stack_bench — payload throughput of two whole nicemu stacks per wall-clock second (issue 3):
// two NetStacks in one process joined by an in-memory veth-like link (no NIC model), one bulk
// TCP flow over IPv4 and Ethernet, MTU 1500 (MSS 1448 with timestamps), CUBIC, 64 KiB
// application writes, payload copied into the sender's socket buffer and out of the receiver's,
// and every received byte compared with the pattern that was sent.
//   stack_bench [--bytes N (default 4 GiB)] [--runs R (default 5)] [--seed S (default 1)]
//               [--delay-ns D (default 1000)] [--fill]
// Prints each run, then "stack_bulk: <median> Gbit/s median of R runs (...)". Exits 1 when a
// byte differs, the transfer stalls, a segment is retransmitted or a frame is dropped.
//
// The link behaves as veth does between two namespaces: frames cross as skbs, in order, with
// the sender's CHECKSUM_PARTIAL left as it is (both devices have NETIF_F_HW_CSUM, so the sender
// never sums the payload, and the receiver takes a PARTIAL skb as verified, as
// skb_csum_unnecessary() does). Each frame arrives `delay` after it was sent, in simulated time;
// the link has no bit rate, so simulated time says nothing about throughput (it is printed as a
// determinism check: the same seed gives the same simulated time and segment count).
// One round of the loop is: the sender makes one 64 KiB write (less when its buffer is nearly
// full); the clock moves to the next event and every frame due by then is delivered, and the
// timers due run; the receiver reads and checks everything queued. So, as on one CPU with veth
// (whose transmit hands the frame to the peer's backlog, processed in the softirq that follows),
// the frames of a write are received soon after it and the data is still in cache. --fill makes
// the sender fill its whole send buffer (autotuned as Linux: 2 x cwnd segments, at most 4 MiB)
// before the link runs: the whole window then
// crosses as one batch, a cache-unfriendly worst case.
// The comparison target is the Linux kernel's own TCP across a veth pair on this machine, one
// stream, MTU 1500 (docs/performance.md): at least 11 Gbit/s. Linux sends 64 KB GSO packets
// across veth; nicemu sends one skb per 1448-byte segment (no GSO/GRO on this path).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/sim/random.hpp"
#include "nicemu/sim/time.hpp"

using namespace nicemu;
using netstack::core::SkBuff;
using netstack::tcp::TcpSock;
using netstack::tcp::TcpState;

namespace {

constexpr std::size_t kWriteBytes = 64 * 1024;  // one application write
constexpr std::size_t kReadBytes = 64 * 1024;   // one application read
// The pattern repeats every kPatternPeriod bytes: prime, so neither a misplaced 1448-byte
// segment nor a misplaced 64 KiB write lines up with an identical stretch.
constexpr std::size_t kPatternPeriod = 65521;
constexpr std::uint16_t kPort = 5001;
// A transfer that has not finished after this much simulated time is stuck (timers keep firing).
constexpr sim::Duration kSimTimeLimit = sim::Duration::from_s(600);

// Frames in flight on the link, in send order (the delay is constant, so also in arrival order).
// A ring that grows to the largest flight and then stops allocating.
class Link {
 public:
  struct Frame {
    sim::TimePoint at;
    int to = 0;
    SkBuff* skb = nullptr;
  };
  bool empty() const { return size_ == 0; }
  std::size_t peak() const { return peak_; }  // most frames ever on the link at once
  const Frame& front() const { return ring_[head_]; }
  void push(const Frame& f) {
    if (size_ == ring_.size()) grow();
    ring_[(head_ + size_) & (ring_.size() - 1)] = f;
    ++size_;
    peak_ = std::max(peak_, size_);
  }
  Frame pop() {
    Frame f = ring_[head_];
    head_ = (head_ + 1) & (ring_.size() - 1);
    --size_;
    return f;
  }
  void clear() {
    while (!empty()) netstack::core::kfree_skb(pop().skb);
  }

 private:
  void grow() {
    std::vector<Frame> bigger(ring_.empty() ? 1024 : ring_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<Frame> ring_;
  std::size_t head_ = 0, size_ = 0, peak_ = 0;
};

// One end of the veth pair: what the stack transmits is put on the link for the peer.
class VethEnd final : public netstack::core::NetDevice {
 public:
  VethEnd(std::string name, Link& link, const sim::TimePoint& now, sim::Duration delay, int peer)
      : NetDevice(std::move(name), 1, 1), link_(link), now_(now), delay_(delay), peer_(peer) {
    mtu = 1500;
    // kernel: veth advertises NETIF_F_HW_CSUM; what crosses keeps CHECKSUM_PARTIAL.
    features |= netstack::core::kNetifFHwCsum | netstack::core::kNetifFRxCsum | netstack::core::kNetifFSg;
  }
  netstack::core::NetdevTx start_xmit(SkBuff* skb) override {
    ++frames;
    link_.push({now_ + delay_, peer_, skb});
    return netstack::core::NetdevTx::kOk;
  }
  std::uint64_t frames = 0;

 protected:
  int ndo_open() override { return 0; }
  int ndo_stop() override { return 0; }

 private:
  Link& link_;
  const sim::TimePoint& now_;
  sim::Duration delay_;
  int peer_;
};

struct Options {
  std::uint64_t bytes = std::uint64_t{4} << 30;
  int runs = 5;
  std::uint64_t seed = 1;
  std::int64_t delay_ns = 1000;
  bool fill = false;  // the sender fills its whole buffer before the link runs
};

struct Result {
  bool ok = false;
  double secs = 0;
  double gbps = 0;
  std::uint64_t received = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t frames = 0;     // both directions
  std::uint64_t data_segs = 0;  // segments the sender sent
  std::uint64_t retransmits = 0;
  std::uint64_t drops = 0;
  sim::Duration sim_time{};  // simulated time of the transfer
  std::uint16_t mss = 0;
  std::size_t peak_link_frames = 0;
  std::string failure;
};

netstack::wire::MacAddress mac(int i) { return {{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(i + 1)}}; }
netstack::wire::Ipv4Address addr(int i) { return {{192, 0, 2, static_cast<std::uint8_t>(i + 1)}}; }

// The byte stream: byte k of the flow is pattern[k % kPatternPeriod]. The buffer holds one
// period plus one read so any read compares against one contiguous stretch.
std::vector<std::byte> make_pattern(std::uint64_t seed) {
  std::vector<std::byte> p(kPatternPeriod + std::max(kWriteBytes, kReadBytes));
  std::uint64_t state = seed ^ 0x73'7461'636bull;
  for (std::size_t i = 0; i < kPatternPeriod; i += 8) {
    const std::uint64_t v = sim::splitmix64(state);
    for (std::size_t j = 0; j < 8 && i + j < kPatternPeriod; ++j) p[i + j] = static_cast<std::byte>(v >> (8 * j));
  }
  for (std::size_t i = kPatternPeriod; i < p.size(); ++i) p[i] = p[i - kPatternPeriod];
  return p;
}

Result run_once(const Options& opt, const std::vector<std::byte>& pattern) {
  Result res;
  page_pool::CallerContext ctx;
  sim::TimePoint now;
  const sim::Duration delay = sim::Duration::from_ns(opt.delay_ns);
  Link link;
  netmem::HostMemory memory[2];
  std::unique_ptr<VethEnd> dev[2];
  std::unique_ptr<netstack::inet::NetStack> stack[2];
  for (int i = 0; i < 2; ++i) {
    netstack::inet::StackConfig cfg;
    cfg.seed = opt.seed * 2 + static_cast<std::uint64_t>(i);
    dev[i] = std::make_unique<VethEnd>(i == 0 ? "veth0" : "veth1", link, now, delay, i ^ 1);
    stack[i] = std::make_unique<netstack::inet::NetStack>(memory[i], ctx, cfg);
    stack[i]->add_interface(*dev[i], mac(i), addr(i), 24);
  }

  // One step of the event loop: the clock moves to the next event, every frame due by then is
  // delivered, then the stack timers due run. False when nothing at all is scheduled.
  auto step = [&]() -> bool {
    std::optional<sim::TimePoint> next;
    if (!link.empty()) next = link.front().at;
    for (auto& s : stack) {
      if (auto t = s->poll_at(); t && (!next || *t < *next)) next = t;
    }
    if (!next) return false;
    now = std::max(now, *next);
    while (!link.empty() && link.front().at <= now) {
      const Link::Frame f = link.pop();
      stack[f.to]->receive(*dev[f.to], f.skb, now);
    }
    for (auto& s : stack) {
      if (auto t = s->poll_at(); t && *t <= now) s->poll(now);
    }
    return true;
  };

  // Handshake (not timed).
  TcpSock* listener = stack[1]->tcp_listen(kPort, 16);
  TcpSock* client = stack[0]->tcp_connect(netstack::wire::IpAddress(addr(1)), kPort, now);
  TcpSock* server = nullptr;
  while (listener != nullptr && client != nullptr && server == nullptr &&
         now < sim::TimePoint() + sim::Duration::from_s(1)) {
    if (!step()) break;
    if (client->state() == TcpState::kEstablished) server = stack[1]->tcp_accept(listener);
  }
  if (server == nullptr) {
    res.failure = "no connection";
  } else {
    std::vector<std::byte> in(kReadBytes);
    std::uint64_t sent = 0, received = 0;
    const sim::TimePoint sim_start = now;
    const auto t0 = std::chrono::steady_clock::now();
    while (received < opt.bytes) {
      // The sender: one 64 KiB write per round (a short write when its buffer is nearly full,
      // -EAGAIN when it is full); with --fill, writes until the buffer is full.
      bool progress = false;
      while (sent < opt.bytes) {
        const std::size_t off = static_cast<std::size_t>(sent % kPatternPeriod);
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kWriteBytes, opt.bytes - sent));
        const int n = client->send(std::span(pattern).subspan(off, want), now);
        if (n <= 0) break;
        sent += static_cast<std::uint64_t>(n);
        progress = true;
        if (!opt.fill) break;
      }
      // The link and the stacks' timers.
      if (step()) progress = true;
      // The receiver reads what is there and checks every byte.
      for (;;) {
        const int n = server->recv(in, now);
        if (n <= 0) break;
        const auto len = static_cast<std::size_t>(n);
        const std::byte* want = pattern.data() + received % kPatternPeriod;
        if (std::memcmp(in.data(), want, len) != 0) {
          for (std::size_t i = 0; i < len; ++i) {
            if (in[i] == want[i]) continue;
            if (res.mismatches < 5) {
              std::fprintf(stderr, "stack_bench: byte %llu is 0x%02x, sent 0x%02x\n",
                           static_cast<unsigned long long>(received + i), std::to_integer<unsigned>(in[i]),
                           std::to_integer<unsigned>(want[i]));
            }
            ++res.mismatches;
          }
        }
        received += len;
        progress = true;
      }
      if (!progress) {
        res.failure = "stalled: nothing to send, receive or deliver, and no timer armed";
        break;
      }
      if (now - sim_start > kSimTimeLimit) {
        res.failure = "no progress: the simulated-time limit passed";
        break;
      }
    }
    const auto t1 = std::chrono::steady_clock::now();
    res.secs = std::chrono::duration<double>(t1 - t0).count();
    res.received = received;
    res.gbps = static_cast<double>(received) * 8.0 / res.secs / 1e9;
    res.sim_time = now - sim_start;
    res.mss = client->mss_now();
    res.data_segs = client->stats().segs_out;
    res.retransmits = client->stats().retransmits + server->stats().retransmits;
  }
  res.frames = dev[0]->frames + dev[1]->frames;
  res.peak_link_frames = link.peak();
  res.drops = stack[0]->stats().total_drops() + stack[1]->stats().total_drops();
  if (res.failure.empty() && res.received != opt.bytes) res.failure = "incomplete transfer";
  if (res.failure.empty() && res.mismatches != 0) res.failure = "received bytes differ from the bytes sent";
  if (res.failure.empty() && res.retransmits != 0) res.failure = "segments were retransmitted";
  if (res.failure.empty() && res.drops != 0) res.failure = "frames were dropped";
  res.ok = res.failure.empty();
  // Teardown: frames on the link first (their skbs belong to the stacks' allocators), then
  // every stack's sockets before any stack goes (a receive queue holds the peer's pages).
  link.clear();
  for (auto& s : stack) s->clear();
  // Nothing may be left in flight: every skb back in its slab, every page back in its memory.
  for (int i = 0; i < 2 && res.ok; ++i) {
    if (stack[i]->skbs().in_use() != 0 || memory[i].pages_in_use() != 0) {
      res.ok = false;
      res.failure = "skbs or pages leaked";
    }
  }
  return res;
}

bool parse_u64(const char* s, std::uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(s, &end, 10);
  return end != s && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::uint64_t v = 0;
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--bytes") == 0 && has_value && parse_u64(argv[i + 1], v) && v > 0) {
      opt.bytes = v;
    } else if (std::strcmp(argv[i], "--runs") == 0 && has_value && parse_u64(argv[i + 1], v) && v > 0 && v < 1000) {
      opt.runs = static_cast<int>(v);
    } else if (std::strcmp(argv[i], "--seed") == 0 && has_value && parse_u64(argv[i + 1], v)) {
      opt.seed = v;
    } else if (std::strcmp(argv[i], "--delay-ns") == 0 && has_value && parse_u64(argv[i + 1], v) && v < 1'000'000'000) {
      opt.delay_ns = static_cast<std::int64_t>(v);
    } else if (std::strcmp(argv[i], "--fill") == 0) {
      opt.fill = true;
      continue;
    } else {
      std::fprintf(stderr,
                   "usage: stack_bench [--bytes N>0 (default 4294967296)] [--runs R (1..999, default 5)]\n"
                   "                   [--seed S (default 1)] [--delay-ns D (link delay, default 1000)]\n"
                   "                   [--fill (the sender fills its buffer before the link runs)]\n");
      return 2;
    }
    ++i;
  }
  const std::vector<std::byte> pattern = make_pattern(opt.seed);
  std::vector<double> gbps;
  Result last;
  for (int r = 0; r < opt.runs; ++r) {
    last = run_once(opt, pattern);
    const double sim_s = static_cast<double>(last.sim_time.ps()) / 1e12;
    std::printf(
        "run %d: %.2f Gbit/s  %llu bytes in %.3f s wall, %.2f M frames/s (%llu segments sent, %llu frames, "
        "at most %zu on the link), %.3f ms simulated\n",
        r + 1, last.gbps, static_cast<unsigned long long>(last.received), last.secs,
        static_cast<double>(last.frames) / last.secs / 1e6, static_cast<unsigned long long>(last.data_segs),
        static_cast<unsigned long long>(last.frames), last.peak_link_frames, sim_s * 1e3);
    if (!last.ok) {
      std::fprintf(stderr, "stack_bench: run %d failed: %s (%llu mismatched bytes, %llu retransmits, %llu drops)\n",
                   r + 1, last.failure.c_str(), static_cast<unsigned long long>(last.mismatches),
                   static_cast<unsigned long long>(last.retransmits), static_cast<unsigned long long>(last.drops));
      return 1;
    }
    gbps.push_back(last.gbps);
  }
  std::sort(gbps.begin(), gbps.end());
  const double median = (gbps[(gbps.size() - 1) / 2] + gbps[gbps.size() / 2]) / 2;
  std::printf(
      "stack_bulk: %.2f Gbit/s median of %d runs (payload per wall-clock second; %llu MiB per run, MSS %u, "
      "link delay %lld ns, seed %llu%s; min %.2f, max %.2f)\n",
      median, opt.runs, static_cast<unsigned long long>(opt.bytes >> 20), static_cast<unsigned>(last.mss),
      static_cast<long long>(opt.delay_ns), static_cast<unsigned long long>(opt.seed), opt.fill ? ", --fill" : "",
      gbps.front(), gbps.back());
  return 0;
}
