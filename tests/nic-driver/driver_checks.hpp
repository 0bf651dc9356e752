// What the driver tests read back from a host through the core's netdev-family queries (queue,
// NAPI, page-pool and qstats dumps) and the end-of-test checks they share: the receive counters
// add up across the silicon, the driver and qstats, and a device taken down leaves no page pool,
// buffer or skb behind.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <vector>

#include "driver_testbed.hpp"
#include "nicemu/netstack/core/netdev_core_state.hpp"
#include "nicemu/netstack/core/netdev_genl.hpp"

namespace nicemu::testing {

inline std::uint32_t ifindex_of(app::Host& h) { return static_cast<std::uint32_t>(h.nic().ifindex()); }

inline const netstack::core::QueueRestartStats& restart_records(app::Host& h) {
  return netstack::core::netdev_core_state(h.nic())->queue_restart;
}

// qstats-get dump, device scope: the device's totals.
inline netstack::core::QstatsInfo device_qstats(app::Host& h) {
  const auto r =
      netstack::core::netdev_nl_qstats_get_dump(h.netns(), {ifindex_of(h), netstack::core::QstatsScope::kDevice});
  REQUIRE(r.has_value());
  REQUIRE(r.value().size() == 1);
  return r.value().front();
}

// queue-get dump of one device: its queues of `type` in id order (empty while it is down).
inline std::vector<netstack::core::NetdevQueueInfo> queues_of(app::Host& h, netstack::core::QueueType type) {
  const auto r = netstack::core::netdev_nl_queue_get_dump(h.netns(), ifindex_of(h));
  REQUIRE(r.has_value());
  std::vector<netstack::core::NetdevQueueInfo> out;
  for (const auto& q : r.value()) {
    if (q.type == type) out.push_back(q);
  }
  return out;
}

// napi-get dump of one device.
inline std::vector<netstack::core::NetdevNapiInfo> napis_of(app::Host& h) {
  const auto r = netstack::core::netdev_nl_napi_get_dump(h.netns(), ifindex_of(h));
  REQUIRE(r.has_value());
  return r.value();
}

// page-pool-get dump: the pools listed under this host's device (attached or detached).
inline std::vector<netstack::core::PagePoolInfo> pools_of(app::Host& h) {
  const auto r = netstack::core::netdev_nl_page_pool_get_dump(h.netns());
  REQUIRE(r.has_value());
  std::vector<netstack::core::PagePoolInfo> out;
  for (const auto& p : r.value()) {
    if (p.ifindex == ifindex_of(h)) out.push_back(p);
  }
  return out;
}

inline std::uint64_t pool_inflight(app::Host& h) {
  std::uint64_t n = 0;
  for (const auto& p : pools_of(h)) n += p.inflight;
  return n;
}

// Every frame the port handed to the NIC is accounted for exactly once, once traffic has stopped:
// dropped by the NIC (FIFO, steering, a queue without buffers, a stopped queue) or completed —
// and each completion was either delivered by the driver (qstats rx-packets), discarded by a
// queue stop, or dropped for want of an skb. The queues' drops in qstats are the NIC's.
inline void check_rx_accounting(app::Host& h) {
  INFO("host " << h.name());
  const auto& hw = h.nic().hw().stats();
  const auto& ds = h.nic().driver_stats();
  const auto q = device_qstats(h);
  std::uint64_t pending = 0;
  for (std::uint32_t i = 0; i < h.nic().hw().rx_queue_count(); ++i) {
    if (h.nic().hw().rx_queue_running(i)) {
      pending += h.nic().hw().rxq(i).completions_pending() + h.nic().hw().rxq(i).completions_unpublished();
    }
  }
  CHECK(pending == 0);  // the caller lets traffic stop first
  CHECK(hw.rx_frames == hw.rx_fifo_drops + hw.rx_steer_drops + hw.rx_queue_drops + hw.rx_queue_stopped_drops +
                            q.rx_packets.value_or(0) + ds.rx_restart_discards + ds.rx_skb_alloc_fail);
  CHECK(q.rx_hw_drops.value_or(0) == hw.rx_queue_drops);
  CHECK(q.rx_hw_drop_overruns.value_or(0) <= q.rx_hw_drops.value_or(0));
}

// Ends the transfer, lets both hosts go idle, takes host b down and waits past the page pools'
// release retries: nothing of b's may be left — no page pool listed (attached or detached), no
// buffer inflight, no skb outstanding.
inline void close_and_check_nothing_leaks(DriverTestbed& tb, DriverTestbed::Transfer& t) {
  tb.close_transfer(t);
  tb.run_for(sim::Duration::from_ms(300));
  check_rx_accounting(tb.a());
  check_rx_accounting(tb.b());
  tb.b().nic().close();
  tb.run_for(sim::Duration::from_s(3));
  CHECK(pools_of(tb.b()).empty());
  CHECK(tb.b().page_pools().detached_count() == 0);
  CHECK(tb.b().nic().rx_buffers_held() == 0);
  CHECK(tb.b().nic().tx_in_flight() == 0);
  CHECK(tb.b().stack().skbs().in_use() == 0);
}

}  // namespace nicemu::testing
