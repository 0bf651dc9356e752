// RX queue restart and memory-provider install/uninstall (kernel: net/core/netdev_rx_queue.c,
// net/core/page_pool_user.c page_pool_check_memory_provider(), net/core/dev.c
// dev_get_min_mp_channel_count()). See netdev_rx_queue.hpp.
#include "nicemu/netstack/core/netdev_rx_queue.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/netdev_core_state.hpp"
#include "nicemu/netstack/core/netns.hpp"

namespace nicemu::netstack::core {

namespace {

// kernel: WARN(1, ...): here a counter and the text in the device's records.
void record_restart_warning(NetdevCoreState* state, std::string text) {
  if (state == nullptr) return;
  ++state->queue_restart.warnings;
  state->queue_restart.last_warning = std::move(text);
}

void record_close_warning(NetdevCoreState* state, std::string text) {
  if (state == nullptr) return;
  ++state->mp.close_warnings;
  state->mp.last_warning = std::move(text);
}

std::string unhealthy_warning(std::uint32_t rxq_idx) {
  char buf[96];
  std::snprintf(buf, sizeof buf, kRxQueueUnhealthyWarning, static_cast<int>(rxq_idx));
  return buf;
}

}  // namespace

int page_pool_check_memory_provider(NetDevice& dev, std::uint32_t rxq_idx) {
  page_pool::MemoryProvider* mp = dev.rx_queue(rxq_idx).mp_params.mp;
  if (mp == nullptr) return 0;
  NICEMU_ASSERT(dev.netns() != nullptr, "page_pool_check_memory_provider: device is not registered");
  // kernel: walk dev->page_pools for a pool with this mp_priv and slow.queue_idx.
  return dev.netns()->page_pools().has_pool_with_provider(&dev, mp, rxq_idx) ? 0 : -ENODATA;
}

int netdev_rx_queue_restart(NetDevice& dev, std::uint32_t rxq_idx) {
  NetdevCoreState* state = netdev_core_state(dev);
  auto finish = [&](int err) {
    if (state != nullptr) {
      QueueRestartStats& s = state->queue_restart;
      if (err != 0) {
        ++s.failures;
        s.last_error = err;
      }
    }
    return err;
  };
  if (state != nullptr) ++state->queue_restart.calls;

  // 1. The driver must implement the queue API (kernel: any of stop/mem_free/mem_alloc/start
  //    missing -> -EOPNOTSUPP; here the table is all-or-nothing).
  NetdevQueueMgmtOps* qops = dev.queue_mgmt_ops();
  if (qops == nullptr) return finish(-EOPNOTSUPP);
  NICEMU_ASSERT(rxq_idx < dev.num_rx_queues(), "netdev_rx_queue_restart: queue index past num_rx_queues");
  const int idx = static_cast<int>(rxq_idx);

  // 2. Two zeroed blobs of ndo_queue_mem_size (kernel: kvzalloc x2).
  std::unique_ptr<QueueMem> new_mem = qops->ndo_queue_mem_blob();
  if (new_mem == nullptr) return finish(-ENOMEM);
  std::unique_ptr<QueueMem> old_mem = qops->ndo_queue_mem_blob();
  if (old_mem == nullptr) return finish(-ENOMEM);

  // 3. Allocate the new queue's memory (may run while the device is down).
  int err = qops->ndo_queue_mem_alloc(dev, *new_mem, idx);
  if (err != 0) return finish(err);

  // 4. A provider configured on the queue must have been picked up by a pool of the new memory.
  err = page_pool_check_memory_provider(dev, rxq_idx);
  if (err != 0) {
    qops->ndo_queue_mem_free(dev, *new_mem);
    return finish(err);
  }

  const bool running = dev.is_up();
  if (running) {
    // 5a. Stop the old queue; its memory lands in old_mem. On failure the old queue is assumed
    //     to be still running.
    err = qops->ndo_queue_stop(dev, *old_mem, idx);
    if (err != 0) {
      qops->ndo_queue_mem_free(dev, *new_mem);
      return finish(err);
    }
    // 5b. Start the new queue; on failure start the old one again.
    err = qops->ndo_queue_start(dev, *new_mem, idx);
    if (err != 0) {
      if (state != nullptr) ++state->queue_restart.rollbacks;
      if (qops->ndo_queue_start(dev, *old_mem, idx) != 0) {
        // kernel: WARN(1, "Failed to restart old queue in error path. ...") and free old_mem
        // so it does not leak; the queue is left stopped.
        if (state != nullptr) {
          ++state->queue_restart.rollback_failures;
          state->queue_restart.unhealthy_queues.insert(rxq_idx);
        }
        record_restart_warning(state, unhealthy_warning(rxq_idx));
        qops->ndo_queue_mem_free(dev, *old_mem);
      }
      qops->ndo_queue_mem_free(dev, *new_mem);
      return finish(err);
    }
  } else {
    // 5'. Device down: nothing to stop or start; the fresh allocation is what gets freed below.
    //     Drivers pick up the queue's mp_params at the next open.
    std::swap(new_mem, old_mem);
  }

  // 6. Free the old queue's memory (or, when down, the memory just allocated).
  qops->ndo_queue_mem_free(dev, *old_mem);
  if (state != nullptr) {
    if (running) {
      ++state->queue_restart.restarts;
      state->queue_restart.unhealthy_queues.erase(rxq_idx);
    } else {
      ++state->queue_restart.restarts_while_down;
    }
  }
  return finish(0);
}

int net_mp_open_rxq(NetDevice& dev, std::uint32_t rxq_idx, page_pool::MemoryProviderParams p, Extack* extack) {
  NetdevCoreState* state = netdev_core_state(dev);
  auto refuse = [&](int err) {
    if (state != nullptr) ++state->mp.open_failures;
    return err;
  };
  NICEMU_ASSERT(p.mp != nullptr, "net_mp_open_rxq: no memory provider given");

  // 1. Only drivers that run under the instance lock (queue management ops) can take one.
  if (!netdev_need_ops_lock(dev)) return refuse(-EOPNOTSUPP);
  // 2. Queue index.
  if (rxq_idx >= dev.real_num_rx_queues()) {
    nl_set_err_msg(extack, "rx queue index out of range");
    return refuse(-ERANGE);
  }
  // 3. Header split must have been explicitly enabled by the user (UNKNOWN does not count,
  //    even if the driver reports "enabled", §8.11).
  if (dev.hds_config != TcpDataSplit::kEnabled) {
    nl_set_err_msg(extack, "tcp-data-split is disabled");
    return refuse(-EINVAL);
  }
  // 4. Every byte of payload must land in the provider's buffers.
  if (dev.hds_thresh != 0) {
    nl_set_err_msg(extack, "hds-thresh is not zero");
    return refuse(-EINVAL);
  }
  // 5. XDP could read or redirect unreadable payload.
  if (dev.xdp_prog_count != 0) {
    nl_set_err_msg(extack, "unable to custom memory provider to device with XDP program attached");
    return refuse(-EEXIST);
  }
  NetdevRxQueue& rxq = dev.rx_queue(rxq_idx);
  // 6. ([K+] rx_page_size check not modelled.) 7. One provider per queue.
  if (rxq.mp_params.mp != nullptr) {
    nl_set_err_msg(extack, "designated queue already memory provider bound");
    return refuse(-EEXIST);
  }
  // 8. AF_XDP owns the queue.
  if (rxq.xsk_pool) {
    nl_set_err_msg(extack, "designated queue already in use by AF_XDP");
    return refuse(-EBUSY);
  }
  // 9. Install, restart; undo on failure.
  rxq.mp_params = p;
  const int err = netdev_rx_queue_restart(dev, rxq_idx);
  if (err != 0) {
    rxq.mp_params = {};
    return refuse(err);
  }
  if (state != nullptr) ++state->mp.opens;
  return 0;
}

void net_mp_close_rxq(NetDevice& dev, std::uint32_t rxq_idx, page_pool::MemoryProviderParams old_p) {
  NetdevCoreState* state = netdev_core_state(dev);
  if (rxq_idx >= dev.real_num_rx_queues()) {
    record_close_warning(state, "net_mp_close_rxq: WARN_ON_ONCE(ifq_idx >= dev->real_num_rx_queues)");
    return;
  }
  NetdevRxQueue& rxq = dev.rx_queue(rxq_idx);
  // Callers holding a device reference may get here after unregister already ran
  // dev_memory_provider_uninstall(): nothing left to do.
  if (!dev.is_registered() && rxq.mp_params.mp == nullptr) return;
  if (rxq.mp_params != old_p) {
    record_close_warning(state, "net_mp_close_rxq: WARN_ON_ONCE(rxq->mp_params != *old_p)");
    return;
  }
  rxq.mp_params = {};
  if (state != nullptr) ++state->mp.closes;
  // An unregistered device has no namespace (and no pools) to restart against; the kernel
  // reaches this only before unregister completes.
  if (!dev.is_registered()) return;
  const int err = netdev_rx_queue_restart(dev, rxq_idx);
  if (err != 0 && err != -ENETDOWN) {
    record_close_warning(state,
                         "net_mp_close_rxq: WARN_ON(err && err != -ENETDOWN): restart returned " + std::to_string(err));
  }
}

std::uint32_t dev_get_min_mp_channel_count(const NetDevice& dev) {
  for (std::uint32_t i = dev.real_num_rx_queues(); i-- > 0;) {
    // The channel count is the index plus 1.
    if (dev.rx_queue(i).mp_params.mp != nullptr) return i + 1;
  }
  return 0;
}

bool netif_rxq_has_unreadable_mp(const NetDevice& dev, std::uint32_t idx) {
  return dev.rx_queue(idx).mp_params.mp != nullptr;
}

NetdevCoreState* netdev_core_state(NetDevice& dev) { return &dev.core_state; }

const NetdevCoreState* netdev_core_state(const NetDevice& dev) { return &dev.core_state; }

}  // namespace nicemu::netstack::core
