// nicemu/nic/hw/nic.hpp — one NIC: the pipeline that joins a port to the RX and TX queues
// through the parser, steering, the DMA engine on PCIe, and interrupts, with every stage costing
// simulated time.
//
// Models: RX — a frame delivered by the port enters the per-port RX FIFO (bytes bounded; a
//   frame that does not fit is dropped and counted, rx_fifo_drops, as a NIC's rx_missed_errors);
//   one RX engine takes frames in order: parse + steer + DMA setup cost NIC clock cycles (the
//   profile's stage cycles), then the frame is placed by its queue (header split, buffers) and
//   its bytes are written to host memory over PCIe (one posted write per piece), then the
//   completion entry is written over PCIe; the driver sees the completion when that write has
//   landed, and the queue's interrupt moderation counts it then. The engine takes the next frame
//   as soon as the stage cycles of this one are spent; PCIe contention is the link's (a shared
//   bus per direction), so a slow host link backs the FIFO up. A frame whose queue has no buffer
//   is dropped by the queue (hw_drop_overruns); a frame steered to drop is counted here.
//   TX — the driver's doorbell (an MMIO write over PCIe) starts the queue's TX engine: for each
//   whole packet the engine reads its descriptors (unless an earlier read prefetched them: one
//   read brings up to the profile's tx-prefetch posted descriptors) and then its bytes over PCIe,
//   spends per-descriptor cycles, hands the frames to the port (whose transmit queue and line
//   rate take over), and writes the completion over PCIe; completions raise the same queue
//   interrupt (combined channels). While the port's transmit queue is full, frames wait in a
//   backlog and the TX engines pause (back-pressure, never a drop); a port that refuses a frame
//   for another reason (carrier down) counts tx_port_drops. The RX FIFO's size is the
//   profile's pipeline.rx-fifo-bytes unless the driver says otherwise.
// Not modelled: RX descriptor fetches (posted buffers are known to the device at the doorbell),
//   several RX engines, pause frames, RX FIFO priority classes, the NIC's own memory (all data
//   goes straight to host memory or peer memory), interrupt cost on the host (the host model).
// References: DESIGN.md §3 steps 1–5; the profiles' sources in configs/nics/*.yaml;
//   docs/nic-timing.md for the PCIe and wire formulas.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/nic/hw/frame.hpp"
#include "nicemu/nic/hw/irq_moderation.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/nic/hw/pcie.hpp"
#include "nicemu/nic/hw/profile.hpp"
#include "nicemu/nic/hw/rx_queue.hpp"
#include "nicemu/nic/hw/steering.hpp"
#include "nicemu/nic/hw/tx_queue.hpp"
#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/packet_trace.hpp"

namespace nicemu::nic::hw {

struct NicConfig {
  std::uint32_t rx_queues = 1;
  std::uint32_t tx_queues = 1;
  RxQueueHw::Config rxq;  // for every RX queue
  TxQueueHw::Config txq;  // for every TX queue
  IrqModerationConfig coalesce;
  std::uint64_t rx_fifo_bytes = 256 * 1024;  // the per-port RX FIFO
  netmem::DmaAddr completion_ring_addr = 0;  // where completion writes go (for the PCIe model)
};

struct NicStats {
  std::uint64_t rx_frames = 0;        // frames the port delivered
  std::uint64_t rx_fifo_drops = 0;    // no room in the RX FIFO (rx_missed_errors)
  std::uint64_t rx_steer_drops = 0;   // an ntuple rule's drop action
  std::uint64_t rx_queue_drops = 0;   // dropped by the queue (no buffer, DMA fault, ...)
  std::uint64_t rx_queue_stopped_drops = 0;  // steered to a queue the driver has stopped
  std::uint64_t tx_port_drops = 0;    // the port refused a frame (carrier down, too long)
  std::uint64_t tx_desc_reads = 0;     // PCIe reads of TX descriptors (prefetch batches them)
  std::uint64_t tx_descs_fetched = 0;  // TX descriptors those reads brought in
  std::uint64_t tx_port_stalls = 0;   // times a TX queue's engine waited for room at the port
  std::uint64_t tx_backlog_high_water = 0;  // frames waiting for the port at once
  std::uint64_t tx_frame_alloc_fail = 0;
  std::uint64_t rx_fifo_high_water = 0;  // bytes
  std::uint64_t rx_dma_host_bytes = 0;    // frame bytes written into host memory
  std::uint64_t rx_dma_device_bytes = 0;  // frame bytes written into device memory (peer-to-peer)
  std::uint64_t rx_header_bytes = 0;      // of the frames placed, bytes in header buffers
  std::uint64_t rx_payload_bytes = 0;     // of the frames placed, bytes in payload buffers
  std::uint64_t tx_dma_host_bytes = 0;    // packet bytes read from host memory
  std::uint64_t tx_dma_device_bytes = 0;  // packet bytes read from device memory (peer-to-peer)
};

class Nic {
 public:
  // The driver's interrupt handler for one queue (NAPI schedule).
  using IrqHandler = sim::InplaceFunction<void(), 32>;

  Nic(sim::EventQueue& events, netmem::DmaSpace& dma, Port& port, FramePool& frames, const NicProfile& profile,
      Steering steering, NicConfig cfg);
  ~Nic();
  Nic(const Nic&) = delete;
  Nic& operator=(const Nic&) = delete;

  // ---- driver side ----------------------------------------------------------------------------------------
  RxQueueHw& rxq(std::uint32_t i) { return *rx_[i]; }
  TxQueueHw& txq(std::uint32_t i) { return *tx_[i]; }
  std::uint32_t rx_queue_count() const { return static_cast<std::uint32_t>(rx_.size()); }
  std::uint32_t tx_queue_count() const { return static_cast<std::uint32_t>(tx_.size()); }
  Steering& steering() { return steering_; }
  IrqModerator& irq(std::uint32_t i) { return *irq_[i]; }
  void set_irq_handler(std::uint32_t queue, IrqHandler h);
  // Tail writes (MMIO over PCIe): RX buffers posted become usable, TX packets start sending,
  // each once the write reaches the device.
  void rx_doorbell(std::uint32_t queue);
  void tx_doorbell(std::uint32_t queue);
  // napi_complete_done for the queue: unmask its interrupt.
  void irq_rearm(std::uint32_t queue);

  // ---- queue control (the driver's firmware commands) ------------------------------------------------------
  // Stops RX queue `q`: frames steered to it are dropped (rx_queue_stopped_drops) and completions
  // still in flight are discarded; the driver takes back every buffer it posted.
  void rx_queue_stop(std::uint32_t q);
  // Starts RX queue `q` afresh: empty rings sized by `cfg`, its split settings.
  void rx_queue_start(std::uint32_t q, const RxQueueHw::Config& cfg);
  bool rx_queue_running(std::uint32_t q) const { return rx_running_[q]; }
  // Resets TX queue `q` to empty rings (device down/up): packets not yet sent are forgotten and
  // their completions never come (the driver frees what it had posted).
  void tx_queue_reset(std::uint32_t q, const TxQueueHw::Config& cfg);
  void set_coalesce(const IrqModerationConfig& cfg);

  // ---- introspection ----------------------------------------------------------------------------------------
  const NicStats& stats() const { return stats_; }
  const PcieLink& pcie() const { return pcie_; }
  const PcieLink* p2p() const { return p2p_ ? &*p2p_ : nullptr; }

  // ---- packet tracing (sim/packet_trace.hpp) ------------------------------------------------------------------
  // The pipeline's stages and the queues' interrupts report to `t` (nullptr: nothing is traced).
  void set_packet_tracer(sim::PacketTracer* t) {
    tracer_ = t;
    for (std::uint32_t i = 0; i < irq_.size(); ++i) irq_[i]->set_packet_tracer(t, i);
  }
  sim::PacketTracer* packet_tracer() const { return tracer_; }
  const NicProfile& profile() const { return profile_; }
  std::uint64_t rx_fifo_bytes() const { return fifo_bytes_; }
  std::uint64_t rx_fifo_capacity() const { return cfg_.rx_fifo_bytes; }

 private:
  class PortSink;
  void on_frame(FrameRef f);
  void rx_engine_step();
  void tx_engine_step(std::uint32_t q);
  void tx_send(std::uint32_t q);
  // Frames the TX queues produced wait here while the port's transmit queue is full; the port's
  // tx-done drains them in order, and queue engines that waited resume once all are out.
  void tx_backlog_push(FrameRef f);
  void tx_backlog_drain();
  sim::Duration cycles(std::uint64_t n) const { return profile_.pipeline.cycles_time(n); }
  // Packet tracing; called only with a tracer.
  void trace_rx_fifo(const FrameRef& f);
  void trace_rx_classified(const FrameRef& f, const netstack::wire::ParsedPacket& pkt, RxCsum csum,
                           const SteeringDecision& d, std::uint32_t q);
  void trace_rx_placed(std::uint64_t id, std::uint32_t q, const RxWork& w, sim::TimePoint data_done);
  void trace_rx_drop(std::uint64_t id, std::uint32_t q, sim::PacketStage at, const char* why);
  void trace_queue(sim::PacketStage stage, std::uint64_t id, std::uint32_t q);
  void trace_tx_fetch(std::uint32_t q, std::uint32_t ndesc, sim::TimePoint done);
  void trace_tx_segment(std::uint32_t q);

  sim::EventQueue& events_;
  netmem::DmaSpace& dma_;
  Port& port_;
  FramePool& frames_;
  NicProfile profile_;
  Steering steering_;
  NicConfig cfg_;
  PcieLink pcie_;
  std::optional<PcieLink> p2p_;  // to device memory behind a PCIe switch (profile.p2p)
  std::vector<std::unique_ptr<RxQueueHw>> rx_;
  std::vector<std::unique_ptr<TxQueueHw>> tx_;
  std::vector<std::unique_ptr<IrqModerator>> irq_;
  std::vector<IrqHandler> irq_handlers_;
  std::vector<bool> tx_busy_;
  std::vector<bool> rx_running_;
  // Bumped when a queue is stopped or reset: events in flight for an older generation are void.
  std::vector<std::uint64_t> rx_gen_, tx_gen_;
  std::vector<std::uint32_t> tx_desc_cached_;  // descriptors fetched ahead, per TX queue
  std::unique_ptr<PortSink> sink_;
  detail::MoveRing<FrameRef> tx_backlog_;  // grows to the most frames ever waiting, no further
  struct StalledQueue {
    std::uint32_t queue;
    std::uint64_t gen;
  };
  std::vector<StalledQueue> tx_stalled_;  // engines waiting for the backlog to empty, in order
  std::vector<StalledQueue> tx_resume_;   // tx_backlog_drain's scratch (keeps its capacity)
  std::vector<FrameRef> fifo_;  // a ring sized for the most minimum-size frames the FIFO holds
  std::size_t fifo_head_ = 0, fifo_count_ = 0;
  std::uint64_t fifo_bytes_ = 0;
  bool rx_busy_ = false;
  NicStats stats_;
  sim::PacketTracer* tracer_ = nullptr;
};

}  // namespace nicemu::nic::hw
