// copy_floor_bench — the memory passes the flagship (`nicemu run`'s default) makes over every
// payload byte, with nothing else: no events, no NIC, TCP or driver model. What it prints is an
// upper bound for the flagship's "Gbit simulated payload per wall s" on this machine.
//
// Per 8 KiB segment, as the flagship moves it (same functions, same working sets):
//   app      BytePattern::fill into a 64 KiB user buffer (reused: stays in cache)
//   send     copy into 4 KiB pages of the sender's write queue: 8 flows x 4 MiB (tcp_wmem[2]),
//            a FIFO, so a page is written again only after the whole queue has gone by
//            (streaming stores when the queue is deep, as TcpSock::send)
//   TX DMA   the NIC reads the oldest queued segment and builds a frame: copy + checksum
//            (ones_complement_sum_copy) into one of a few frame buffers (reused: in cache)
//   RX DMA   the receiving NIC copies the frame's payload into two 4 KiB buffers of the bound
//            queues' rings: 2 queues x 1024 buffers, FIFO, copy + checksum
//   app      BytePattern::check of the 8 KiB through the dma-buf mapping
// Each line is one run; the last line is the median:
//   copy_floor: <median> Gbit/s payload per wall second (median of R runs of N GiB)
// Options: --gib N (default 2), --runs R (default 5), --by-reference (see run_once).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "nicemu/app/byte_pattern.hpp"
#include "nicemu/base/stream_copy.hpp"
#include "nicemu/netstack/wire/checksum.hpp"

using namespace nicemu;

namespace {

constexpr std::size_t kSeg = 8192;
constexpr std::size_t kPage = 4096;
constexpr std::size_t kWriteQueue = std::size_t{8} * (4u << 20);  // 8 flows x tcp_wmem[2]
constexpr std::size_t kRxRing = std::size_t{2} * 1024 * kPage;    // 2 bound queues x 1024 buffers
constexpr std::size_t kUserBuf = 64 * 1024;
constexpr std::size_t kFrames = 4;

struct Buf {
  explicit Buf(std::size_t n) : p(static_cast<std::byte*>(std::aligned_alloc(4096, n))), size(n) {
    std::memset(p, 0, n);  // fault every page in before timing
  }
  ~Buf() { std::free(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  std::byte* p;
  std::size_t size;
};

// by_reference: what frames that point at the sender's pages would cost instead (the TX engine
// only checksums; the receiving NIC copies straight from the write queue).
double run_once(std::uint64_t bytes, bool by_reference, std::uint64_t& sink) {
  Buf user(kUserBuf), queue(kWriteQueue), frames(kFrames * 9216), ring(kRxRing);
  const app::BytePattern pattern(1, 0);
  std::uint64_t produced = 0;  // stream offset the app has written into the queue
  std::uint64_t sent = 0;      // stream offset the TX DMA has read
  std::uint64_t bad = 0;
  std::size_t frame = 0, rx_at = 0;
  // Fill the write queue once so the timed loop starts in steady state: the TX side reads what
  // the app wrote a whole queue earlier.
  auto app_write = [&]() {
    pattern.fill(produced, std::span(user.p, kUserBuf));
    for (std::size_t off = 0; off < kUserBuf; off += kPage) {
      base::copy_streaming(queue.p + (produced + off) % kWriteQueue, user.p + off, kPage);
    }
    produced += kUserBuf;
  };
  while (produced < kWriteQueue) app_write();
  const auto t0 = std::chrono::steady_clock::now();
  while (sent < bytes) {
    if (produced + kUserBuf - sent <= kWriteQueue) app_write();
    // TX: one segment from the queue into a frame, checksummed.
    std::byte* f = frames.p + (frame++ % kFrames) * 9216;
    netstack::wire::ChecksumAccumulator tx;
    const std::span<const std::byte> seg(queue.p + sent % kWriteQueue, kSeg);
    if (by_reference) {
      tx.add(seg);
      f = queue.p + sent % kWriteQueue;
    } else {
      tx.add_copy(f, seg);
    }
    // RX: the frame's payload into two ring buffers, checksummed; the app checks them.
    netstack::wire::ChecksumAccumulator rx;
    for (std::size_t half = 0; half < kSeg; half += kPage) {
      std::byte* to = ring.p + rx_at;
      rx_at = (rx_at + kPage) % kRxRing;
      rx.add_copy(to, std::span<const std::byte>(f + half, kPage));
      bad += pattern.check(sent + half, std::span<const std::byte>(to, kPage)).mismatched_bytes;
    }
    sink += tx.sum() + rx.sum();
    sent += kSeg;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (bad != 0) {
    std::fprintf(stderr, "copy_floor: %llu corrupted bytes\n", static_cast<unsigned long long>(bad));
    std::exit(1);
  }
  return static_cast<double>(bytes) * 8 / s / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t gib = 2;
  int runs = 5;
  bool by_reference = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--gib")
      gib = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--runs")
      runs = std::atoi(argv[i + 1]);
  }
  std::vector<double> r;
  std::uint64_t sink = 0;
  for (int i = 0; i < runs; ++i) {
    r.push_back(run_once(gib << 30, by_reference, sink));
    std::printf("run %d: %.2f Gbit/s\n", i + 1, r.back());
  }
  std::sort(r.begin(), r.end());
  std::printf("copy_floor: %.2f Gbit/s payload per wall second (median of %d runs of %llu GiB; checksums %llu)\n",
              r[r.size() / 2], runs, static_cast<unsigned long long>(gib),
              static_cast<unsigned long long>(sink & 0xff));
  return 0;
}
