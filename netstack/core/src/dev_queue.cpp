// The transmit path: queue selection, qdisc FIFO, stop/wake (see dev_queue.hpp).
#include "nicemu/netstack/core/dev_queue.hpp"

#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"

namespace nicemu::netstack::core {

namespace {

void fifo_push_tail(NetdevTxQueue& q, SkBuff* skb) {
  skb->next = nullptr;
  skb->prev = q.tail;
  if (q.tail != nullptr) q.tail->next = skb; else q.head = skb;
  q.tail = skb;
  ++q.qlen;
  if (q.qlen > q.backlog_high_water) q.backlog_high_water = q.qlen;
}

void fifo_push_head(NetdevTxQueue& q, SkBuff* skb) {
  skb->prev = nullptr;
  skb->next = q.head;
  if (q.head != nullptr) q.head->prev = skb; else q.tail = skb;
  q.head = skb;
  ++q.qlen;
}

// Packet tracing (sim/packet_trace.hpp), called only with a tracer. The first stage that meets a
// packet without a trace id (one the stack did not trace yet: ARP, ND) asks for one. The core is
// handed no time: the tracer tells it.
void trace_xmit(NetDevice& dev, sim::PacketStage stage, SkBuff& skb, std::uint32_t queue, const char* note = nullptr) {
  sim::PacketTracer& t = *dev.packet_tracer;
  if (skb.trace_id == 0) skb.trace_id = t.new_packet_id();
  if (skb.trace_id == 0) return;  // the tracer follows no more packets
  sim::PacketEvent e;
  e.stage = stage;
  if (stage == sim::PacketStage::kDrop) e.at = sim::PacketStage::kDevQueueXmit;
  e.id = skb.trace_id;
  e.queue = queue;
  e.len = skb.len();
  e.note = note;
  if (stage == sim::PacketStage::kNdoStartXmit) e.bytes = skb.linear();
  t.on_event(t.now(), e);
}

SkBuff* fifo_pop(NetdevTxQueue& q) {
  SkBuff* skb = q.head;
  if (skb == nullptr) return nullptr;
  q.head = skb->next;
  if (q.head != nullptr) q.head->prev = nullptr; else q.tail = nullptr;
  skb->next = skb->prev = nullptr;
  --q.qlen;
  return skb;
}

// kernel: __qdisc_run(): hand packets to the driver until the FIFO is empty or the queue stops.
void qdisc_run(NetDevice& dev, std::uint32_t queue) {
  NetdevTxQueue& q = dev.tx_queue(queue);
  while (!q.stopped && q.head != nullptr) {
    SkBuff* skb = fifo_pop(q);
    if (dev.packet_tracer != nullptr) trace_xmit(dev, sim::PacketStage::kNdoStartXmit, *skb, queue);
    if (dev.start_xmit(skb) != NetdevTx::kOk) {  // kernel: dev_requeue_skb()
      ++q.requeues;
      if (dev.packet_tracer != nullptr) trace_xmit(dev, sim::PacketStage::kQdiscRequeue, *skb, queue);
      fifo_push_head(q, skb);
      return;
    }
  }
}

}  // namespace

// kernel: validate_xmit_unreadable_skb(): payload in device memory may only go to a device that
// does netmem TX, and only to the device its dma-buf binding was made for.
bool validate_xmit_unreadable_skb(const NetDevice& dev, const SkBuff& skb) {
  if (NICEMU_LIKELY(skb_frags_readable(skb))) return true;
  if (!dev.netmem_tx) return false;
  if (skb.nr_frags() > 0) {
    const netmem::NetIov* niov = skb.frag(0).netmem.to_net_iov();
    if (niov != nullptr && niov->type == netmem::NetIovType::kDmabuf) {
      const DevmemTable* table = dev.netns() != nullptr ? dev.netns()->devmem : nullptr;
      if (table == nullptr || table->devmem_niov_dev(*niov) != &dev) return false;
    }
  }
  return true;
}

NetXmit dev_queue_xmit(NetDevice& dev, SkBuff* skb) {
  const std::uint32_t queue = dev.select_queue(*skb);
  NICEMU_ASSERT(queue < dev.real_num_tx_queues(), "dev_queue_xmit: the driver picked a queue past real_num_tx_queues");
  skb->queue_mapping = static_cast<std::uint16_t>(queue);
  if (dev.packet_tracer != nullptr) trace_xmit(dev, sim::PacketStage::kDevQueueXmit, *skb, queue);
  NetdevTxQueue& q = dev.tx_queue(queue);
  if (!validate_xmit_unreadable_skb(dev, *skb)) {
    ++q.unreadable_drops;
    if (dev.packet_tracer != nullptr) trace_xmit(dev, sim::PacketStage::kDrop, *skb, queue, "unreadable-xmit");
    kfree_skb(skb);
    return NetXmit::kDrop;
  }
  // The bypass of an empty, running queue (kernel: TCQ_F_CAN_BYPASS / sch_direct_xmit).
  if (!q.stopped && q.head == nullptr) {
    if (dev.packet_tracer != nullptr) trace_xmit(dev, sim::PacketStage::kNdoStartXmit, *skb, queue);
    if (dev.start_xmit(skb) == NetdevTx::kOk) return NetXmit::kSuccess;
    ++q.requeues;
    if (dev.packet_tracer != nullptr) trace_xmit(dev, sim::PacketStage::kQdiscRequeue, *skb, queue);
    fifo_push_head(q, skb);
    ++q.enqueued;
    return NetXmit::kSuccess;
  }
  if (q.qlen >= dev.tx_queue_len) {
    ++q.qdisc_drops;
    if (dev.packet_tracer != nullptr) trace_xmit(dev, sim::PacketStage::kDrop, *skb, queue, "qdisc-full");
    kfree_skb(skb);
    return NetXmit::kDrop;
  }
  fifo_push_tail(q, skb);
  ++q.enqueued;
  qdisc_run(dev, queue);
  return NetXmit::kSuccess;
}

void netif_tx_stop_queue(NetDevice& dev, std::uint32_t queue) {
  NetdevTxQueue& q = dev.tx_queue(queue);
  if (q.stopped) return;
  q.stopped = true;
  ++q.stops;
}

void netif_tx_wake_queue(NetDevice& dev, std::uint32_t queue) {
  NetdevTxQueue& q = dev.tx_queue(queue);
  if (!q.stopped) return;
  q.stopped = false;
  ++q.wakes;
  qdisc_run(dev, queue);
}

bool netif_tx_queue_stopped(const NetDevice& dev, std::uint32_t queue) { return dev.tx_queue(queue).stopped; }

void dev_qdisc_reset(NetDevice& dev) {
  for (std::uint32_t i = 0; i < dev.num_tx_queues(); ++i) {
    NetdevTxQueue& q = dev.tx_queue(i);
    while (SkBuff* skb = fifo_pop(q)) kfree_skb(skb);
  }
}

}  // namespace nicemu::netstack::core
