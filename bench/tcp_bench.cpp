// tcp_bench — payload throughput of nicemu's TCP per wall-clock second: two TCP endpoints in one
// process over an in-memory pipe (no NIC model, no IP layer yet), one bulk flow, MSS 1448
// (1460 with timestamps), 64 KiB application writes, payload copied into the sender's socket
// buffer and out of the receiver's, every byte checked.
//   tcp_bench [--bytes N (default 2 GiB)] [--repeats R (default 5)]
// Prints the median: "tcp_bulk: <gbps> Gbit/s payload per wall-clock second (<mib> MiB, MSS <m>)".
// What it leaves out (issue 3's benchmark runs two whole stacks): IP and Ethernet headers,
// checksums, routing and the socket layer; so this is an upper bound for the stack.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/tcp/tcp_sock.hpp"

using namespace nicemu;
using netstack::tcp::TcpSegment;
using netstack::tcp::TcpSock;

namespace {

struct Wire {
  std::deque<std::pair<int, TcpSegment>> q;  // (destination, segment), delivered in order
};

class Env final : public netstack::tcp::TcpSockEnv {
 public:
  Env(Wire& w, int side) : skbs(ctx), wire_(w), side_(side) {}
  netstack::core::SkBuff* tcp_alloc_skb() override { return skbs.alloc(); }
  netmem::HostMemory& tcp_memory() override { return memory; }
  void tcp_output(TcpSock&, TcpSegment& seg, sim::TimePoint) override {
    wire_.q.emplace_back(side_ ^ 1, seg);
    seg.skb = nullptr;
  }
  netmem::HostMemory memory;
  page_pool::CallerContext ctx;
  netstack::core::SkbAllocator skbs;

 private:
  Wire& wire_;
  int side_;
};

struct Result {
  double gbps = 0;
  std::uint16_t mss = 0;
  bool ok = false;
};

Result run_once(std::uint64_t total) {
  Wire wire;
  Env ea(wire, 0), eb(wire, 1);
  netstack::tcp::TcpConfig cfg;
  cfg.congestion = netstack::tcp::CongestionAlgo::kCubic;
  TcpSock a(ea, cfg), b(eb, cfg);
  a.set_ports(40000, 5001);
  sim::TimePoint now;
  const sim::Duration hop = sim::Duration::from_us(5);
  (void)a.connect(1, now);
  std::vector<std::byte> chunk(64 * 1024), in(256 * 1024);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<std::byte>(i * 131 + 7);
  std::uint64_t sent = 0, received = 0, errors = 0;
  std::size_t chunk_off = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (received < total) {
    if (a.state() == netstack::tcp::TcpState::kEstablished) {
      while (sent < total) {
        const std::size_t want = std::min<std::uint64_t>(chunk.size() - chunk_off, total - sent);
        const int n = a.send(std::span(chunk).subspan(chunk_off, want), now);
        if (n <= 0) break;
        sent += static_cast<std::uint64_t>(n);
        chunk_off = (chunk_off + static_cast<std::size_t>(n)) % chunk.size();
      }
    }
    if (wire.q.empty()) {
      // Nothing in flight: let timers run (delayed ACKs).
      auto t = a.next_timer();
      if (auto tb = b.next_timer(); tb && (!t || *tb < *t)) t = tb;
      if (!t) break;
      now = std::max(now, *t);
      a.on_timer(now);
      b.on_timer(now);
    } else {
      now += hop;
      std::size_t batch = wire.q.size();
      while (batch-- > 0) {
        auto [to, seg] = wire.q.front();
        wire.q.pop_front();
        if (to == 1 && b.state() == netstack::tcp::TcpState::kClosed) {
          b.accept_syn(seg, 2, now);
          netstack::core::kfree_skb(seg.skb);
          continue;
        }
        (to == 0 ? a : b).input(seg, now);
      }
    }
    for (;;) {
      const int n = b.recv(in, now);
      if (n <= 0) break;
      for (int i = 0; i < n; i += 4096) {  // spot-check the pattern on every page
        const std::uint64_t pos = received + static_cast<std::uint64_t>(i);
        if (in[static_cast<std::size_t>(i)] != chunk[pos % chunk.size()]) ++errors;
      }
      received += static_cast<std::uint64_t>(n);
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  Result r;
  r.gbps = static_cast<double>(received) * 8.0 / secs / 1e9;
  r.mss = a.mss_now();
  r.ok = received == total && errors == 0 && a.stats().retransmits == 0;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t total = std::uint64_t{2} << 30;
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--bytes") == 0 && i + 1 < argc) {
      total = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: tcp_bench [--bytes N (default 2147483648)] [--repeats R (default 5)]\n");
      return 2;
    }
  }
  if (total == 0 || repeats < 1) {
    std::fprintf(stderr, "tcp_bench: --bytes and --repeats must be positive\n");
    return 2;
  }
  std::vector<double> v;
  Result last;
  for (int r = 0; r < repeats; ++r) {
    last = run_once(total);
    if (!last.ok) {
      std::fprintf(stderr, "tcp_bench: transfer incomplete, corrupted or retransmitting\n");
      return 1;
    }
    v.push_back(last.gbps);
  }
  std::sort(v.begin(), v.end());
  const double median = (v[(v.size() - 1) / 2] + v[v.size() / 2]) / 2;
  std::printf("tcp_bulk: %.2f Gbit/s payload per wall-clock second (%llu MiB, MSS %u)\n", median,
              static_cast<unsigned long long>(total >> 20), static_cast<unsigned>(last.mss));
  return 0;
}
