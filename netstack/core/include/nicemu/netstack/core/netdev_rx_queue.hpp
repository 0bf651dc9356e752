// nicemu/netstack/core/netdev_rx_queue.hpp — restarting one RX queue through the driver's queue
// management ops, and installing / removing a memory provider on an RX queue.
//
// Models: net/core/netdev_rx_queue.c (Linux 6.18):
//   - netdev_rx_queue_restart(): two per-queue memory blobs, ndo_queue_mem_alloc(new),
//     page_pool_check_memory_provider() (-ENODATA when the driver ignored the queue's
//     provider), then with the device running stop(old) -> start(new) with rollback to
//     start(old) (and the kernel's WARN text when that fails too), or with the device down
//     only allocate-and-free; finally mem_free(old);
//   - __net_mp_open_rxq() (here net_mp_open_rxq, which takes the extack): the checks in the
//     kernel's order with its errno values and extack messages, then set mp_params and restart,
//     clearing them again if the restart fails;
//   - __net_mp_close_rxq() (here net_mp_close_rxq): WARN and return on a bad index or on
//     params that do not match, clear, restart; only -ENETDOWN is a silent failure;
//   - dev_get_min_mp_channel_count() (net/core/dev.c) and netif_rxq_has_unreadable_mp().
// Not modelled: the instance lock (one thread drives a host), array_index_nospec, the
//   [K+] queue-config (qcfg) arguments.
// Records: every call is counted in the device's NetdevCoreState (netdev_core_state.hpp):
//   restarts, failures, rollbacks, unhealthy queues, the last warning.
// References: ../shared/reference/linux-kernel-semantics.md §3.2, §6.1, §6.2, §8.12–8.14.
#pragma once

#include <cstdint>

#include "nicemu/netstack/core/extack.hpp"
#include "nicemu/page_pool/types.hpp"

namespace nicemu::netstack::core {

class NetDevice;

// The kernel's WARN text when the rollback start fails (netdev_rx_queue_restart()).
inline constexpr const char* kRxQueueUnhealthyWarning =
    "Failed to restart old queue in error path. RX queue %d may be unhealthy.";

// kernel: netdev_rx_queue_restart(). 0 or a negative errno:
//   -EOPNOTSUPP no queue management ops; -ENOMEM a memory blob could not be allocated; the
//   error of ndo_queue_mem_alloc / ndo_queue_stop / ndo_queue_start(new); -ENODATA the queue
//   has a memory provider but no page pool of this device uses it for this queue.
// `rxq_idx` must be below num_rx_queues (callers check against real_num_rx_queues).
int netdev_rx_queue_restart(NetDevice& dev, std::uint32_t rxq_idx);

// kernel: page_pool_check_memory_provider(): 0, or -ENODATA if queue `rxq_idx` has a memory
// provider and no page pool listed under `dev` has that provider for that queue.
int page_pool_check_memory_provider(NetDevice& dev, std::uint32_t rxq_idx);

// kernel: __net_mp_open_rxq(). Installs provider `p` on RX queue `rxq_idx` and restarts the
// queue. Checks, in order: no queue management ops -EOPNOTSUPP; index >= real_num_rx_queues
// -ERANGE; tcp-data-split not explicitly enabled -EINVAL; hds-thresh not 0 -EINVAL; XDP attached
// -EEXIST; queue already has a provider -EEXIST; queue used by AF_XDP -EBUSY. Then the restart's
// own errors. `extack` may be null.
int net_mp_open_rxq(NetDevice& dev, std::uint32_t rxq_idx, page_pool::MemoryProviderParams p, Extack* extack = nullptr);

// kernel: __net_mp_close_rxq(). Removes provider `old_p` from RX queue `rxq_idx` and restarts
// the queue. Misuse (index out of range, params that are not the queue's) is a kernel WARN:
// counted in MpRxqStats::close_warnings and nothing changes. A restart failure other than
// -ENETDOWN is a WARN too; the provider stays removed either way.
void net_mp_close_rxq(NetDevice& dev, std::uint32_t rxq_idx, page_pool::MemoryProviderParams old_p);

// kernel: dev_get_min_mp_channel_count(): the highest RX queue index with a memory provider
// plus one, 0 if no queue has one. (Searched over real_num_rx_queues, as the kernel does.)
std::uint32_t dev_get_min_mp_channel_count(const NetDevice& dev);

// kernel: netif_rxq_has_unreadable_mp(): queue `idx` has a memory provider, so a driver should
// create its payload pool with PP_FLAG_ALLOW_UNREADABLE_NETMEM.
bool netif_rxq_has_unreadable_mp(const NetDevice& dev, std::uint32_t idx);

}  // namespace nicemu::netstack::core
