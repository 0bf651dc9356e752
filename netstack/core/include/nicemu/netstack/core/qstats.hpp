// nicemu/netstack/core/qstats.hpp — per-queue statistics with the kernel's field names.
//
// Models: include/net/netdev_queues.h struct netdev_queue_stats_rx / _tx (Linux 6.18). As in
//   the kernel, a driver fills only the fields it produces; the core pre-fills every field with
//   kNotSet (~0, NETDEV_STAT_NOT_SET) and omits fields still equal to it.
// References: ../shared/reference/linux-kernel-semantics.md §6.4.
#pragma once

#include <cstdint>
#include <limits>

namespace nicemu::netstack::core {

inline constexpr std::uint64_t kStatNotSet = std::numeric_limits<std::uint64_t>::max();

struct QstatsRx {
  std::uint64_t bytes = kStatNotSet;
  std::uint64_t packets = kStatNotSet;
  std::uint64_t alloc_fail = kStatNotSet;
  std::uint64_t hw_drops = kStatNotSet;
  std::uint64_t hw_drop_overruns = kStatNotSet;
  std::uint64_t csum_complete = kStatNotSet;
  std::uint64_t csum_unnecessary = kStatNotSet;
  std::uint64_t csum_none = kStatNotSet;
  std::uint64_t csum_bad = kStatNotSet;
  std::uint64_t hw_gro_packets = kStatNotSet;
  std::uint64_t hw_gro_bytes = kStatNotSet;
  std::uint64_t hw_gro_wire_packets = kStatNotSet;
  std::uint64_t hw_gro_wire_bytes = kStatNotSet;
  std::uint64_t hw_drop_ratelimits = kStatNotSet;
};

struct QstatsTx {
  std::uint64_t bytes = kStatNotSet;
  std::uint64_t packets = kStatNotSet;
  std::uint64_t hw_drops = kStatNotSet;
  std::uint64_t hw_drop_errors = kStatNotSet;
  std::uint64_t csum_none = kStatNotSet;
  std::uint64_t needs_csum = kStatNotSet;
  std::uint64_t hw_gso_packets = kStatNotSet;
  std::uint64_t hw_gso_bytes = kStatNotSet;
  std::uint64_t hw_gso_wire_packets = kStatNotSet;
  std::uint64_t hw_gso_wire_bytes = kStatNotSet;
  std::uint64_t hw_drop_ratelimits = kStatNotSet;
  std::uint64_t stop = kStatNotSet;
  std::uint64_t wake = kStatNotSet;
};

}  // namespace nicemu::netstack::core
