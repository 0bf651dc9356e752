// Hot-path allocation check: once a faulty four-host star has warmed up (frame pool, queues,
// in-flight slots, the event queue and the MAC table at their working size), moving frames
// through links and the switch allocates nothing.
#include <catch2/catch.hpp>

#include <memory>

#include "counting_operator_new.hpp"  // counts every allocation of this test program

#include "link_fixtures.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/nic/hw/switch.hpp"
#include "nicemu/sim/trace_digest.hpp"


using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;
using nicemu::testing::mac;
using nicemu::testing::make_frame;

namespace {

constexpr std::size_t kHosts = 4;

struct Net {
  Net() : streams(3), traffic(streams.stream("test/traffic")) {
    FaultConfig f;
    f.drop = 0.02;
    f.corrupt = 0.02;
    f.duplicate = 0.02;
    f.reorder = 0.02;
    for (std::size_t i = 0; i < kHosts; ++i) {
      LinkConfig c;
      c.trace_id = static_cast<std::uint32_t>(i);
      links.push_back(std::make_unique<Link>(q, streams, "link" + std::to_string(i), c, &digest));
      REQUIRE_FALSE(links[i]->port(0).set_faults(f));
      REQUIRE_FALSE(links[i]->port(1).set_faults(f));
    }
    SwitchConfig sc;
    sc.output_buffer_bytes = 16 * 1024;
    sw = std::make_unique<Switch>(q, "sw0", sc, &digest);
    for (auto& l : links) REQUIRE(sw->attach(l->port(1)));
    for (auto& l : links) l->port(0).set_rx_handler([this](FrameRef) { ++delivered; });
  }

  // One frame every 10 ns from a random host: ~630 Gbit/s offered to four 100 Gbit/s ports, half
  // of it for host 1, so transmit queues and host 1's small output buffer fill and drop too.
  void send_one() {
    const auto from = static_cast<std::size_t>(traffic.uniform(kHosts));
    // Half of all frames go to host 1, so its output port is oversubscribed.
    const auto to = static_cast<std::uint8_t>(traffic.uniform(2) == 0 ? 2 : traffic.uniform(kHosts) + 1);
    const auto len = static_cast<std::size_t>(traffic.uniform_range(60, 1514));
    links[from]->port(0).transmit(make_frame(pool, len, mac(to), mac(static_cast<std::uint8_t>(from + 1))));
    if (--remaining > 0) q.schedule_in(10_ns, [this] { send_one(); });
  }
  void run(std::uint64_t frames) {
    remaining = frames;
    q.schedule_in(10_ns, [this] { send_one(); });
    q.run_until_idle();
  }

  FramePool pool;
  sim::EventQueue q;
  sim::TraceDigest digest;
  sim::RandomStreams streams;
  sim::Rng traffic;
  std::vector<std::unique_ptr<Link>> links;
  std::unique_ptr<Switch> sw;
  std::uint64_t remaining = 0;
  std::uint64_t delivered = 0;
};

}  // namespace

TEST_CASE("link and switch: after warm-up, forwarding frames with faults on allocates nothing",
          "[nic][hw][link][switch][unit]") {
  Net net;
  net.run(20'000);  // warm-up
  const std::size_t pool_capacity = net.pool.stats().capacity;
  const std::uint64_t delivered_before = net.delivered;
  const std::uint64_t before = nicemu::testing::allocations();
  net.run(20'000);
  const std::uint64_t after = nicemu::testing::allocations();
  CHECK(after - before == 0);
  CHECK(net.pool.stats().capacity == pool_capacity);
  CHECK(net.delivered - delivered_before > 5'000);
  std::uint64_t buffer_drops = 0;
  for (std::size_t i = 0; i < kHosts; ++i) buffer_drops += net.sw->port_stats(i).drops(SwitchDrop::kOutputBufferFull);
  CHECK(buffer_drops > 0);
  CHECK(net.pool.in_use() == 0);
}
