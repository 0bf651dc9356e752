// nicemu/netstack/core/netdev_genl.hpp — in-process queries of the netdev netlink family.
//
// Models: net/core/netdev-genl.c and net/core/page_pool_user.c (Linux 6.18), the read side of
//   the `netdev` family (Documentation/netlink/specs/netdev.yaml): dev-get, queue-get,
//   napi-get, page-pool-get, page-pool-stats-get (do + dump) and qstats-get (dump only).
//   Reply fields carry the spec's attribute names (dashes as underscores); an attribute the
//   kernel may leave out is a std::optional; empty nests (io-uring, xsk) are NlEmptyNest.
//   Errors are the kernel's negative errno values with its extack message and bad attribute.
//   Dumps return everything at once (no resumption), in the kernel's order:
//   - queue dump: devices that are up, in ifindex order; RX queues then TX queues;
//   - napi dump: devices that are up; NAPIs in descending id (the kernel's napi_list order);
//   - page-pool dump: orphaned pools first (the kernel parks them on loopback, ifindex 1), then
//     each device in ifindex order; within a device newest pool first;
//   - qstats dump: devices in ifindex order (device scope), or per queue for up devices.
// Not modelled: netlink encoding, notifications (dev/page-pool add/del/change ntf), napi-set,
//   bind-rx / bind-tx (the providers' side), netns other than the one passed, the NAPI `pid`
//   (no kthreads: threaded NAPIs report no pid), XDP feature bits (always 0: XDP programs are
//   not modelled).
// Derived: a TX queue shows `xsk` when the RX queue with the same id has an AF_XDP pool
//   (xsk_reg_pool_at_qid() binds both directions).
// Page-pool detach-time is in seconds of simulated time, omitted while the pool is attached —
//   and, exactly as 6.18, also omitted for a pool detached within the first second (the
//   stored value is 0 seconds, §8.10).
// References: ../shared/reference/linux-kernel-semantics.md §2.6–§2.8, §6.4, §6.5, §7.4–§7.6.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nicemu/base/result.hpp"
#include "nicemu/netstack/core/napi.hpp"
#include "nicemu/netstack/core/net_device.hpp"

namespace nicemu::netstack::core {

class NetNs;

// The error of a netlink request: negative errno, extack message, bad attribute.
struct NlError {
  int err = 0;
  std::string msg;
  std::string bad_attr;
};

template <class T>
using NlResult = base::Result<T, NlError>;

// A present, empty nest attribute (NETDEV_A_*_IO_URING, NETDEV_A_QUEUE_XSK).
struct NlEmptyNest {
  friend bool operator==(const NlEmptyNest&, const NlEmptyNest&) = default;
};

// ---- dev-get ----------------------------------------------------------------------------------
struct NetdevDevInfo {
  std::uint32_t ifindex = 0;
  std::uint64_t xdp_features = 0;
  std::optional<std::uint32_t> xdp_zc_max_segs;  // only with NETDEV_XDP_ACT_XSK_ZEROCOPY
  std::uint64_t xdp_rx_metadata_features = 0;
  std::uint64_t xsk_features = 0;
};
// Unknown ifindex -> -ENODEV.
NlResult<NetdevDevInfo> netdev_nl_dev_get(const NetNs& net, std::uint32_t ifindex);
std::vector<NetdevDevInfo> netdev_nl_dev_get_dump(const NetNs& net);

// ---- queue-get --------------------------------------------------------------------------------
struct NetdevQueueInfo {
  std::uint32_t id = 0;
  std::uint32_t ifindex = 0;
  QueueType type = QueueType::kRx;
  std::optional<std::uint32_t> napi_id;  // a NAPI is linked to the queue
  std::optional<std::uint32_t> dmabuf;   // from the provider's nl_fill(for_rx_queue=true)
  std::optional<NlEmptyNest> io_uring;   // idem
  std::optional<NlEmptyNest> xsk;        // an AF_XDP pool is bound
};
// Unknown ifindex -> -ENODEV; device not up -> -ENOENT; id >= real_num_{rx,tx}_queues ->
// -EINVAL; a provider's nl_fill failing -> -EMSGSIZE.
NlResult<NetdevQueueInfo> netdev_nl_queue_get(const NetNs& net, std::uint32_t ifindex, QueueType type,
                                              std::uint32_t id);
// `ifindex` set: only that device (unknown -> -ENODEV; down -> empty).
NlResult<std::vector<NetdevQueueInfo>> netdev_nl_queue_get_dump(const NetNs& net,
                                                                std::optional<std::uint32_t> ifindex = {});

// ---- napi-get ----------------------------------------------------------------------------------
struct NetdevNapiInfo {
  std::uint32_t ifindex = 0;
  std::uint32_t id = 0;
  std::optional<std::uint32_t> irq;  // when the NAPI has an IRQ (irq >= 0)
  std::optional<std::uint32_t> pid;  // threaded NAPI kthread (never: not modelled)
  std::uint32_t defer_hard_irqs = 0;
  std::uint64_t gro_flush_timeout = 0;    // ns
  std::uint64_t irq_suspend_timeout = 0;  // ns
  NapiThreaded threaded = NapiThreaded::kDisabled;
};
// Unknown id or device down -> -ENOENT.
NlResult<NetdevNapiInfo> netdev_nl_napi_get(const NetNs& net, std::uint32_t napi_id);
NlResult<std::vector<NetdevNapiInfo>> netdev_nl_napi_get_dump(const NetNs& net,
                                                              std::optional<std::uint32_t> ifindex = {});

// ---- page-pool-get ------------------------------------------------------------------------------
struct PagePoolInfo {
  std::uint64_t id = 0;
  std::optional<std::uint32_t> ifindex;  // omitted for orphaned pools
  std::optional<std::uint64_t> napi_id;  // the pool's NAPI, if it has a valid id
  std::uint64_t inflight = 0;
  std::uint64_t inflight_mem = 0;            // inflight * (PAGE_SIZE << order)
  std::optional<std::uint64_t> detach_time;  // seconds; only once destroyed with buffers inflight
  std::optional<std::uint32_t> dmabuf;       // from the provider's nl_fill(for_rx_queue=false)
  std::optional<NlEmptyNest> io_uring;       // idem
};
// Unknown id, or a pool created without a netdev (invisible) -> -ENOENT.
NlResult<PagePoolInfo> netdev_nl_page_pool_get(const NetNs& net, std::uint32_t id);
NlResult<std::vector<PagePoolInfo>> netdev_nl_page_pool_get_dump(const NetNs& net);

// ---- page-pool-stats-get ----------------------------------------------------------------------------
// The request's `info` nest.
struct PagePoolStatsRequest {
  std::optional<std::uint64_t> id;
  std::optional<std::uint32_t> ifindex;  // not supported by the kernel: -EINVAL
};
struct PagePoolStatsInfo {
  std::uint64_t id = 0;                  // info.id
  std::optional<std::uint32_t> ifindex;  // info.ifindex
  std::uint64_t alloc_fast = 0;
  std::uint64_t alloc_slow = 0;
  std::uint64_t alloc_slow_high_order = 0;
  std::uint64_t alloc_empty = 0;
  std::uint64_t alloc_refill = 0;
  std::uint64_t alloc_waive = 0;
  std::uint64_t recycle_cached = 0;
  std::uint64_t recycle_cache_full = 0;
  std::uint64_t recycle_ring = 0;
  std::uint64_t recycle_ring_full = 0;
  std::uint64_t recycle_released_refcnt = 0;
};
// info.ifindex present -> -EINVAL "selecting by ifindex not supported"; no info.id -> -EINVAL;
// unknown id -> -ENOENT.
NlResult<PagePoolStatsInfo> netdev_nl_page_pool_stats_get(const NetNs& net, const PagePoolStatsRequest& req);
NlResult<std::vector<PagePoolStatsInfo>> netdev_nl_page_pool_stats_get_dump(const NetNs& net);

// ---- qstats-get (dump only) -------------------------------------------------------------------------
// kernel: enum netdev_qstats_scope (a flag set; 0 = device totals).
enum class QstatsScope : std::uint8_t { kDevice = 0, kQueue = 1 };

struct QstatsRequest {
  std::optional<std::uint32_t> ifindex;  // absent: every device
  QstatsScope scope = QstatsScope::kDevice;
};

// One qstats message: device totals (no queue_type / queue_id) or one queue. A counter the
// device does not report is absent.
struct QstatsInfo {
  std::uint32_t ifindex = 0;
  std::optional<QueueType> queue_type;
  std::optional<std::uint32_t> queue_id;
  std::optional<std::uint64_t> rx_packets, rx_bytes, rx_alloc_fail, rx_hw_drops, rx_hw_drop_overruns, rx_csum_complete,
      rx_csum_unnecessary, rx_csum_none, rx_csum_bad, rx_hw_gro_packets, rx_hw_gro_bytes, rx_hw_gro_wire_packets,
      rx_hw_gro_wire_bytes, rx_hw_drop_ratelimits;
  std::optional<std::uint64_t> tx_packets, tx_bytes, tx_hw_drops, tx_hw_drop_errors, tx_csum_none, tx_needs_csum,
      tx_hw_gso_packets, tx_hw_gso_bytes, tx_hw_gso_wire_packets, tx_hw_gso_wire_bytes, tx_hw_drop_ratelimits, tx_stop,
      tx_wake;
};
// ifindex 0 -> -ERANGE (policy min 1); unknown -> -ENODEV; device without stat ops ->
// -EOPNOTSUPP (bad attribute "ifindex" for all three). Without ifindex, devices without stat
// ops are skipped.
NlResult<std::vector<QstatsInfo>> netdev_nl_qstats_get_dump(const NetNs& net, const QstatsRequest& req);

}  // namespace nicemu::netstack::core
