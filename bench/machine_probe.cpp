// machine_probe — how the machine is doing right now, in the two quantities that move nicemu's
// speed line on a shared machine (docs/performance.md, session 11): how long a cache line takes
// to go from one core to the other and back (the simulation thread and the byte worker hand jobs
// and bytes over through such lines), and how long a dependent load takes in a working set the
// size of a shared L3 slice (the flagship's socket pages and dma-buf ring do not fit in one).
// Prints one line:
//   machine: core-to-core round trip <ns> ns, 16 MiB chase <ns> ns/load
// Each figure is the median of 5 trials; the whole probe takes about 0.3 s. bench/ab_speed.sh
// runs it before every round when PROBE names it, and splits its ratios by the round trip.
// Not a benchmark of nicemu: nothing of nicemu runs here.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double median5(std::array<double, 5> v) {
  std::sort(v.begin(), v.end());
  return v[2];
}

// One line bounced between this thread and another: each side waits for the other's value and
// answers with the next one. Returns nanoseconds per round trip.
double round_trip_ns(int trips) {
  alignas(64) std::atomic<std::int64_t> line{0};
  std::thread other([&] {
    for (std::int64_t i = 0; i < trips; ++i) {
      while (line.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      line.store(2 * i + 2, std::memory_order_release);
    }
  });
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < trips; ++i) {
    line.store(2 * i + 1, std::memory_order_release);
    while (line.load(std::memory_order_acquire) != 2 * i + 2) {
    }
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  other.join();
  return ns / trips;
}

// A random cyclic permutation of `bytes / 64` cache lines, walked with dependent loads.
class Chase {
 public:
  Chase(std::size_t bytes, std::uint64_t seed) : lines_(bytes / 64) {
    const std::size_t n = lines_.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i = 0; i < n; ++i) lines_[order[i]].next = order[(i + 1) % n];
    for (std::size_t i = 0; i < n; ++i) at_ = lines_[at_].next;  // bring the set in once
  }
  // Nanoseconds per load over `loads` dependent loads.
  double walk_ns(int loads) {
    const auto t0 = Clock::now();
    for (int i = 0; i < loads; ++i) at_ = lines_[at_].next;
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / loads;
  }
  std::size_t position() const { return at_; }

 private:
  struct alignas(64) Line {
    std::size_t next = 0;
  };
  std::vector<Line> lines_;
  std::size_t at_ = 0;
};

}  // namespace

int main() {
  Chase big(std::size_t{16} << 20, 1);
  std::array<double, 5> rt{}, big_ns{};
  for (std::size_t i = 0; i < 5; ++i) {
    rt[i] = round_trip_ns(20000);
    big_ns[i] = big.walk_ns(100000);
  }
  std::printf("machine: core-to-core round trip %.0f ns, 16 MiB chase %.0f ns/load\n", median5(rt), median5(big_ns));
  // The walk's end point, so the compiler keeps it (never true).
  return big.position() == ~std::size_t{0} ? 1 : 0;
}
