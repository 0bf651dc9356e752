// nicemu/netstack/core/dev_queue.hpp — the transmit path between the protocols and a driver:
// TX queue selection, the per-queue stopped state, and a FIFO queueing discipline.
//
// Models: dev_queue_xmit() (net/core/dev.c) as far as nicemu needs it: netdev_pick_tx() — the
//   driver's ndo_select_queue or, without one, the flow hash modulo real_num_tx_queues (skb_tx_hash);
//   the queue's qdisc, a single-band FIFO limited to dev->tx_queue_len packets (1000, as
//   pfifo_fast/pfifo's default limit; net/sched/sch_fifo.c) — a packet that finds the FIFO full is
//   dropped and counted (qdisc drops); __qdisc_run() draining the FIFO into ndo_start_xmit while
//   the queue is not stopped; a driver's NETDEV_TX_BUSY requeues the packet at the head
//   (dev_requeue_skb); netif_tx_stop_queue() / netif_tx_wake_queue() (a wake runs the qdisc).
// Not modelled: qdisc classes and bands, BQL (dql limits), TSQ, xmit_more batching, lockless
//   qdiscs, qdisc watchdogs.
// References: net/core/dev.c (__dev_queue_xmit, netdev_pick_tx, skb_tx_hash), net/sched/sch_generic.c
//   (qdisc_restart, dev_requeue_skb, netif_schedule_queue), net/sched/sch_fifo.c,
//   include/linux/netdevice.h (netif_tx_stop_queue, netif_tx_wake_queue, netif_tx_queue_stopped).
#pragma once

#include <cstdint>

namespace nicemu::netstack::core {

class NetDevice;
class SkBuff;

// The transmit side of one TX queue (kernel: struct netdev_queue + its qdisc).
struct NetdevTxQueue {
  bool stopped = false;          // kernel: __QUEUE_STATE_DRV_XOFF
  SkBuff* head = nullptr;        // the qdisc's FIFO (skb->next links)
  SkBuff* tail = nullptr;
  std::uint32_t qlen = 0;
  // Counters (kernel: the qdisc's gnet_stats and the queue's stop/wake counts).
  std::uint64_t enqueued = 0;    // packets that waited in the qdisc
  std::uint64_t qdisc_drops = 0; // the FIFO was full (tx_queue_len)
  // validate_xmit_unreadable_skb(): devmem frags for a device without netmem TX, or whose
  // binding belongs to another device
  std::uint64_t unreadable_drops = 0;
  std::uint64_t requeues = 0;    // the driver said NETDEV_TX_BUSY
  std::uint64_t stops = 0;
  std::uint64_t wakes = 0;
  std::uint32_t backlog_high_water = 0;
};

// kernel: NET_XMIT_SUCCESS / NET_XMIT_DROP.
enum class NetXmit : std::uint8_t { kSuccess = 0, kDrop = 1 };

// kernel: dev_queue_xmit(). Takes ownership of `skb` whatever happens: sent to the driver,
// queued in the qdisc, or dropped (counted in the queue's qdisc_drops) and freed.
NetXmit dev_queue_xmit(NetDevice& dev, SkBuff* skb);
// kernel: validate_xmit_unreadable_skb(): false when the skb must be dropped (unreadable frags
// for a device without netmem_tx, or a devmem binding made for another device).
bool validate_xmit_unreadable_skb(const NetDevice& dev, const SkBuff& skb);
// kernel: netif_tx_stop_queue().
void netif_tx_stop_queue(NetDevice& dev, std::uint32_t queue);
// kernel: netif_tx_wake_queue(): clears the stop and runs the queue's qdisc.
void netif_tx_wake_queue(NetDevice& dev, std::uint32_t queue);
bool netif_tx_queue_stopped(const NetDevice& dev, std::uint32_t queue);
// Frees every packet waiting in the device's qdiscs (kernel: dev_deactivate -> qdisc_reset, on
// close).
void dev_qdisc_reset(NetDevice& dev);

}  // namespace nicemu::netstack::core
