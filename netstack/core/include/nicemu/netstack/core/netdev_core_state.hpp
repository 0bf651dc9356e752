// nicemu/netstack/core/netdev_core_state.hpp — what the core remembers about one device
// between control operations, and the records a CI run reads afterwards.
//
// Models: the per-device state that net/core and net/ethtool keep outside the driver and that
//   struct NetDevice does not (yet) carry: IFF_RXFH_CONFIGURED (dev->priv_flags), the RSS
//   contexts (dev->ethtool->rss_ctx), the count of single-buffer XDP programs
//   (dev_xdp_sb_prog_count()). Plus nicemu's own records of queue restarts and memory-provider
//   open/close (the kernel only WARNs; a CI run needs counts and the warning text).
// Where it lives: NetDevice::core_state; netdev_core_state(dev) returns it (never nullptr).
// References: net/core/netdev_rx_queue.c, net/ethtool/{rss,common}.c, net/core/dev.c.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace nicemu::netstack::core {

class NetDevice;

// Records of netdev_rx_queue_restart() on one device. Counters never go backwards.
struct QueueRestartStats {
  std::uint64_t calls = 0;                // every call, whatever the outcome
  std::uint64_t restarts = 0;             // returned 0 with the device up: new memory running
  std::uint64_t restarts_while_down = 0;  // returned 0 with the device down: allocated, then freed
  std::uint64_t failures = 0;             // returned an error
  std::uint64_t rollbacks = 0;            // start(new) failed, start(old) brought the old queue back
  std::uint64_t rollback_failures = 0;    // start(old) failed too: the queue may be unhealthy
  std::uint64_t warnings = 0;             // kernel WARN()s on this path
  int last_error = 0;                     // the last error returned (0 if none yet)
  std::string last_warning;               // the text of the last WARN()
  // Queues left stopped by a failed rollback; a later successful restart takes a queue out.
  std::set<std::uint32_t> unhealthy_queues;
};

// Records of net_mp_open_rxq() / net_mp_close_rxq() on one device.
struct MpRxqStats {
  std::uint64_t opens = 0;           // providers installed
  std::uint64_t open_failures = 0;   // open refused or the restart failed
  std::uint64_t closes = 0;          // providers cleared (whatever the restart returned)
  std::uint64_t close_warnings = 0;  // WARN_ON_ONCE / WARN_ON in __net_mp_close_rxq
  std::string last_warning;
};

struct NetdevCoreState {
  QueueRestartStats queue_restart;
  MpRxqStats mp;
  // kernel: IFF_RXFH_CONFIGURED — the user set the default context's indirection table (it is
  // then no longer re-spread by the driver when the channel count changes).
  bool rxfh_configured = false;
  // kernel: dev->ethtool->rss_ctx — additional RSS contexts by id, with their tables.
  std::map<std::uint32_t, std::vector<std::uint32_t>> rss_ctx;
  // kernel: dev_xdp_sb_prog_count() — attached XDP programs without frags support.
  std::uint32_t xdp_sb_prog_count = 0;
};

// The device's core state (kept for the callers written against a nullable lookup).
NetdevCoreState* netdev_core_state(NetDevice& dev);
const NetdevCoreState* netdev_core_state(const NetDevice& dev);

}  // namespace nicemu::netstack::core
