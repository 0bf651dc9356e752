// One NIC's pipeline (see nic.hpp for what is modelled).
#include "nicemu/nic/hw/nic.hpp"

#include <utility>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/byte_worker.hpp"
#include "nicemu/base/ring_index.hpp"
#include "nicemu/netstack/wire/packet.hpp"

namespace nicemu::nic::hw {

namespace w = netstack::wire;

namespace {
constexpr std::uint64_t kMinFrameBytes = 60;
}  // namespace

// Hands the TX queue's frames to the port, as frames from the pool.
class Nic::PortSink final : public TxFrameSink {
 public:
  explicit PortSink(Nic& nic) : nic_(nic) {}
  void tx_frame(std::span<const std::byte> frame) override {
    FrameRef f = nic_.frames_.alloc_copy(frame);
    if (!f) {
      ++nic_.stats_.tx_frame_alloc_fail;
      return;
    }
    send(std::move(f));
  }
  std::span<std::byte> frame_buffer(std::size_t len) override {
    if (!pending_) pending_ = nic_.frames_.alloc();
    if (!pending_ || len > FrameRef::capacity()) return {};
    return pending_.buffer();
  }
  void tx_frame_job(std::uint64_t job) override {
    NICEMU_ASSERT(pending_.valid(), "PortSink::tx_frame_job without a frame_buffer");
    pending_.set_job(job);
  }
  void tx_frame_built(std::size_t len) override {
    NICEMU_ASSERT(pending_.valid(), "PortSink::tx_frame_built without a frame_buffer");
    pending_.set_len(len);
    send(std::move(pending_));
  }

 private:
  void send(FrameRef f) {
    if (nic_.tx_backlog_.empty() && nic_.port_.tx_queue_has_room(f.len())) {
      if (!nic_.port_.transmit(std::move(f))) ++nic_.stats_.tx_port_drops;
    } else {
      nic_.tx_backlog_push(std::move(f));
    }
  }

  Nic& nic_;
  FrameRef pending_;  // handed out by frame_buffer, not sent yet
};

Nic::Nic(sim::EventQueue& events, netmem::DmaSpace& dma, Port& port, FramePool& frames, const NicProfile& profile,
         Steering steering, NicConfig cfg)
    : events_(events), dma_(dma), port_(port), frames_(frames), profile_(profile), steering_(std::move(steering)),
      cfg_(cfg), pcie_(profile.pcie) {
  if (profile.p2p) p2p_.emplace(*profile.p2p);
  NICEMU_ASSERT(cfg_.rx_queues > 0 && cfg_.tx_queues > 0, "Nic: at least one RX and one TX queue");
  NICEMU_ASSERT(steering_.rx_queues() <= cfg_.rx_queues, "Nic: steering spreads over more RX queues than exist");
  const std::uint32_t vectors = cfg_.rx_queues > cfg_.tx_queues ? cfg_.rx_queues : cfg_.tx_queues;
  for (std::uint32_t i = 0; i < cfg_.rx_queues; ++i) rx_.push_back(std::make_unique<RxQueueHw>(i, cfg_.rxq));
  for (std::uint32_t i = 0; i < cfg_.tx_queues; ++i) tx_.push_back(std::make_unique<TxQueueHw>(i, cfg_.txq));
  irq_handlers_.resize(vectors);
  for (std::uint32_t i = 0; i < vectors; ++i) {
    irq_.push_back(std::make_unique<IrqModerator>(events_, cfg_.coalesce, [this, i] {
      if (irq_handlers_[i]) irq_handlers_[i]();
    }));
  }
  tx_busy_.assign(cfg_.tx_queues, false);
  rx_running_.assign(cfg_.rx_queues, true);
  rx_gen_.assign(cfg_.rx_queues, 0);
  tx_gen_.assign(cfg_.tx_queues, 0);
  tx_desc_cached_.assign(cfg_.tx_queues, 0);
  sink_ = std::make_unique<PortSink>(*this);
  fifo_.resize(static_cast<std::size_t>(cfg_.rx_fifo_bytes / kMinFrameBytes) + 1);
  port_.set_rx_handler([this](FrameRef f) { on_frame(std::move(f)); });
  port_.set_tx_done_handler([this] { tx_backlog_drain(); });
}

Nic::~Nic() {
  port_.set_rx_handler({});
  port_.set_tx_done_handler({});
}

void Nic::set_irq_handler(std::uint32_t queue, IrqHandler h) { irq_handlers_.at(queue) = std::move(h); }

void Nic::irq_rearm(std::uint32_t queue) {
  std::uint32_t pending = 0;
  if (queue < rx_.size()) pending += static_cast<std::uint32_t>(rx_[queue]->completions_pending());
  if (queue < tx_.size()) pending += static_cast<std::uint32_t>(tx_[queue]->completions_pending());
  irq_[queue]->rearm(pending);
}

// ---- RX ------------------------------------------------------------------------------------------------------

void Nic::on_frame(FrameRef f) {
  ++stats_.rx_frames;
  const std::uint64_t len = f.len();
  if (fifo_bytes_ + len > cfg_.rx_fifo_bytes || fifo_count_ == fifo_.size()) {
    ++stats_.rx_fifo_drops;
    if (tracer_ != nullptr) trace_rx_drop(f.id(), sim::PacketEvent::kNone, sim::PacketStage::kRxFifo, "rx-fifo-full");
    return;  // f goes back to its pool
  }
  if (tracer_ != nullptr) trace_rx_fifo(f);
  fifo_[base::ring_add(fifo_head_, fifo_count_, fifo_.size())] = std::move(f);
  ++fifo_count_;
  fifo_bytes_ += len;
  if (fifo_bytes_ > stats_.rx_fifo_high_water) stats_.rx_fifo_high_water = fifo_bytes_;
  if (!rx_busy_) {
    rx_busy_ = true;
    rx_engine_step();
  }
}

// Takes the FIFO's head frame: its stage cycles first, then placement, DMA and the completion.
void Nic::rx_engine_step() {
  if (fifo_count_ == 0) {
    rx_busy_ = false;
    return;
  }
  const StageCycles& c = profile_.pipeline.cycles;
  events_.schedule_in(cycles(std::uint64_t{c.parse} + c.steer + c.dma_setup), [this] {
    FrameRef f = std::move(fifo_[fifo_head_]);
    fifo_head_ = base::ring_add(fifo_head_, 1, fifo_.size());
    --fifo_count_;
    const sim::TimePoint now = events_.now();
    // The frame holds its FIFO bytes until its data has gone out on PCIe; the engine takes the
    // next frame then, so a host link slower than the wire backs the FIFO up.
    sim::TimePoint leave = now;

    // The parser checks the IPv4 header; the L4 checksum is checked as the bytes go out to
    // memory (RxL4Check), so a frame is read once.
    w::ChecksumCaps caps = w::ChecksumCaps::software();
    caps.tcp.verify_rx = false;
    caps.udp.verify_rx = false;
    // Header fields only (frame.hpp: the payload may still be moving on the byte worker).
    const std::span<const std::byte> headers = f.header_bytes();
    w::ParsedPacket pkt = w::parse_packet(headers, caps);
    RxMeta meta;
    meta.csum = rx_csum_verdict(pkt);
    if (meta.csum == RxCsum::kBad) pkt = w::parse_packet(headers, w::ChecksumCaps::offloaded());
    const RxL4Check l4 = meta.csum == RxCsum::kBad ? RxL4Check{} : rx_l4_check(pkt, headers);
    const SteeringDecision d = steering_.steer(pkt);
    const std::uint32_t q = d.queue < rx_.size() ? d.queue : 0;
    if (d.drop) {
      ++stats_.rx_steer_drops;
      if (tracer_ != nullptr) {
        trace_rx_classified(f, pkt, rx_l4_verdict(l4, f.bytes(), meta.csum), d, q);
        trace_rx_drop(f.id(), q, sim::PacketStage::kRxSteer, "ntuple-drop");
      }
    } else if (!rx_running_[q]) {
      ++stats_.rx_queue_stopped_drops;
      if (tracer_ != nullptr) {
        trace_rx_classified(f, pkt, rx_l4_verdict(l4, f.bytes(), meta.csum), d, q);
        trace_rx_drop(f.id(), q, sim::PacketStage::kRxSteer, "rx-queue-stopped");
      }
    } else {
      meta.rss_hash = d.rss_hash;
      meta.hash_type = d.hash_type;
      meta.rule_id = d.rule ? static_cast<std::int32_t>(*d.rule) : -1;
      meta.trace_id = f.id();
      // The tracer reports the verdict now, so it gets the bytes placed inline.
      const bool offload = tracer_ == nullptr && base::ByteWorker::get().threaded();
      // Placed inline, the bytes must be final; placed by the worker, its job follows the TX one.
      const RxWork work = rx_[q]->receive(offload ? headers : f.bytes(), pkt, meta, dma_, /*publish=*/false, &l4, offload);
      if (work.job != 0) f.set_job(work.job);  // the worker reads the frame: not reused before
      if (tracer_ != nullptr) {
        trace_rx_classified(f, pkt, work.outcome == RxOutcome::kCompleted ? work.csum : rx_l4_verdict(l4, f.bytes(), meta.csum), d, q);
      }
      if (work.outcome != RxOutcome::kCompleted) {
        ++stats_.rx_queue_drops;
        if (tracer_ != nullptr) trace_rx_drop(f.id(), q, sim::PacketStage::kRxHeaderSplit, to_string(work.outcome));
      } else {
        // The data writes, then the completion entry (posted writes stay in order on PCIe).
        // Each piece goes to its own address over the path to its memory: host memory over the
        // NIC's PCIe link, device memory (a provider's dmabuf) peer-to-peer behind the switch.
        sim::TimePoint data_done = now;
        std::uint64_t placed = 0;
        for (std::uint32_t i = 0; i < work.dma_writes; ++i) placed += work.pieces[i].len;
        stats_.rx_header_bytes += work.header_len;
        stats_.rx_payload_bytes += placed - work.header_len;
        for (std::uint32_t i = 0; i < work.dma_writes; ++i) {
          const RxDmaPiece& piece = work.pieces[i];
          const bool to_device = piece.placement == netmem::MemoryPlacement::kDeviceMemory;
          PcieLink& path = to_device && p2p_ ? *p2p_ : pcie_;
          const PcieTransfer w = path.dma_write(now, piece.addr, piece.len);
          (to_device ? stats_.rx_dma_device_bytes : stats_.rx_dma_host_bytes) += piece.len;
          if (w.done > data_done) data_done = w.done;
          const sim::TimePoint on_link = w.done - path.params().write_latency;
          if (on_link > leave) leave = on_link;
        }
        PcieTransfer t = pcie_.write_completions(now, cfg_.completion_ring_addr, 1, profile_.descriptors.rx_cqe_bytes);
        const sim::TimePoint done = t.done > data_done ? t.done : data_done;
        const sim::TimePoint visible = done + cycles(profile_.pipeline.cycles.completion);
        if (tracer_ != nullptr) trace_rx_placed(f.id(), q, work, data_done);
        events_.schedule_at(visible, [this, q, gen = rx_gen_[q], id = f.id()] {
          if (gen != rx_gen_[q]) return;  // the queue was stopped meanwhile
          rx_[q]->publish_completions(1);
          if (tracer_ != nullptr) trace_queue(sim::PacketStage::kRxCompletion, id, q);
          irq_[q]->completions_written(1);
        });
      }
    }
    const auto len = static_cast<std::uint64_t>(f.len());
    events_.schedule_at(leave, [this, len] {
      fifo_bytes_ -= len;
      rx_engine_step();
    });
  });
}

void Nic::rx_doorbell(std::uint32_t queue) {
  const PcieTransfer t = pcie_.mmio_write(events_.now(), 4);
  events_.schedule_at(t.done, [this, queue, gen = rx_gen_[queue]] {
    if (gen != rx_gen_[queue]) return;
    rx_[queue]->doorbell();
    if (tracer_ != nullptr) trace_queue(sim::PacketStage::kRxDoorbell, 0, queue);
  });
}

// ---- queue control ---------------------------------------------------------------------------------------------

void Nic::rx_queue_stop(std::uint32_t q) {
  rx_running_.at(q) = false;
  ++rx_gen_[q];
}

void Nic::rx_queue_start(std::uint32_t q, const RxQueueHw::Config& cfg) {
  rx_.at(q) = std::make_unique<RxQueueHw>(q, cfg);
  rx_running_[q] = true;
  ++rx_gen_[q];
}

void Nic::tx_queue_reset(std::uint32_t q, const TxQueueHw::Config& cfg) {
  tx_.at(q) = std::make_unique<TxQueueHw>(q, cfg);
  tx_busy_[q] = false;
  tx_desc_cached_[q] = 0;
  ++tx_gen_[q];
}

void Nic::set_coalesce(const IrqModerationConfig& cfg) {
  cfg_.coalesce = cfg;
  for (auto& m : irq_) m->set_config(cfg);
}

// ---- TX ------------------------------------------------------------------------------------------------------

void Nic::tx_doorbell(std::uint32_t queue) {
  const PcieTransfer t = pcie_.mmio_write(events_.now(), 4);
  events_.schedule_at(t.done, [this, queue, gen = tx_gen_[queue]] {
    if (gen != tx_gen_[queue]) return;
    tx_[queue]->doorbell();
    if (tracer_ != nullptr) trace_queue(sim::PacketStage::kTxDoorbell, 0, queue);
    if (!tx_busy_[queue]) {
      tx_busy_[queue] = true;
      tx_engine_step(queue);
    }
  });
}

void Nic::tx_backlog_push(FrameRef f) {
  tx_backlog_.push_back(std::move(f));
  if (tx_backlog_.size() > stats_.tx_backlog_high_water) stats_.tx_backlog_high_water = tx_backlog_.size();
}

void Nic::tx_backlog_drain() {
  while (!tx_backlog_.empty()) {
    if (!port_.tx_queue_has_room(tx_backlog_.front().len())) return;  // the next tx-done calls again
    if (!port_.transmit(tx_backlog_.pop_front())) ++stats_.tx_port_drops;
  }
  if (tx_stalled_.empty()) return;
  // Resume in the order the engines stopped. One that fills the backlog again stalls anew; those
  // not reached yet keep their turn ahead of it.
  tx_resume_.swap(tx_stalled_);
  std::size_t i = 0;
  for (; i < tx_resume_.size() && tx_backlog_.empty(); ++i) {
    const StalledQueue w = tx_resume_[i];
    if (w.gen == tx_gen_[w.queue]) tx_engine_step(w.queue);  // else: reset meanwhile
  }
  tx_stalled_.insert(tx_stalled_.begin(), tx_resume_.begin() + static_cast<std::ptrdiff_t>(i), tx_resume_.end());
  tx_resume_.clear();
}

// One packet: descriptor fetch, data reads, per-descriptor cycles, out to the port, completion.
// The engine waits first while frames of earlier packets still wait for the port (the MAC's
// FIFO is full): a NIC never drops its own transmit traffic for lack of room on the wire.
void Nic::tx_engine_step(std::uint32_t q) {
  TxQueueHw& txq = *tx_[q];
  if (!txq.has_packet() || txq.completion_room() == 0) {
    tx_busy_[q] = false;
    return;
  }
  if (!tx_backlog_.empty()) {
    ++stats_.tx_port_stalls;
    tx_stalled_.push_back(StalledQueue{q, tx_gen_[q]});
    return;  // tx_busy_[q] stays set: the backlog's drain resumes this engine
  }
  const std::uint32_t ndesc = txq.descriptors_in_next_packet();
  // Descriptor prefetch: one read brings this packet's descriptors and, up to the profile's
  // tx-prefetch, those posted behind them; a packet whose descriptors are cached fetches none.
  std::uint32_t& cached = tx_desc_cached_[q];
  sim::TimePoint fetched = events_.now();
  if (cached < ndesc) {
    const auto posted = static_cast<std::uint32_t>(txq.visible_descriptors());
    const std::uint32_t want = std::max(ndesc, std::min(profile_.descriptors.tx_prefetch, posted));
    const PcieTransfer fetch =
        pcie_.read_descriptors(events_.now(), 0, want - cached, profile_.descriptors.tx_desc_bytes);
    ++stats_.tx_desc_reads;
    stats_.tx_descs_fetched += want - cached;
    cached = want;
    fetched = fetch.done;
  }
  cached -= ndesc;
  if (tracer_ != nullptr) trace_tx_fetch(q, ndesc, fetched);
  events_.schedule_at(fetched, [this, q, ndesc, gen = tx_gen_[q]] {
    if (gen != tx_gen_[q]) return;  // the queue was reset: its engine stopped with it
    // The descriptors are in: read the packet's bytes they point at.
    // Each descriptor's bytes come over the path to their memory (host, or peer device memory).
    const sim::TimePoint now = events_.now();
    sim::TimePoint data_done = now;
    for (std::uint32_t i = 0; i < ndesc; ++i) {
      const TxDesc& d = tx_[q]->next_descriptor(i);
      const bool from_device =
          dma_.resolve_for_device_read(d.addr, d.len).placement == netmem::MemoryPlacement::kDeviceMemory;
      PcieLink& path = from_device && p2p_ ? *p2p_ : pcie_;
      const PcieTransfer r = path.dma_read(now, d.addr, d.len);
      (from_device ? stats_.tx_dma_device_bytes : stats_.tx_dma_host_bytes) += d.len;
      if (r.done > data_done) data_done = r.done;
    }
    const sim::TimePoint ready = data_done + cycles(std::uint64_t{profile_.pipeline.cycles.tx_per_descriptor} * ndesc);
    events_.schedule_at(ready, [this, q, gen] {
      if (gen != tx_gen_[q]) return;
      if (tracer_ != nullptr) trace_tx_segment(q);
      tx_send(q);
    });
  });
}

void Nic::tx_send(std::uint32_t q) {
  {
    TxQueueHw& txq = *tx_[q];
    (void)txq.transmit_next(dma_, *sink_, /*publish=*/false, base::ByteWorker::get().threaded());
    const PcieTransfer c =
        pcie_.write_completions(events_.now(), cfg_.completion_ring_addr, 1, profile_.descriptors.tx_cqe_bytes);
    events_.schedule_at(c.done, [this, q, gen = tx_gen_[q]] {
      if (gen != tx_gen_[q]) return;
      tx_[q]->publish_completions(1);
      irq_[q]->completions_written(1);
    });
    tx_engine_step(q);
  }
}

// ---- packet tracing ----------------------------------------------------------------------------------------------

void Nic::trace_rx_fifo(const FrameRef& f) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kRxFifo;
  e.id = f.id();
  e.len = static_cast<std::uint32_t>(f.len());
  e.count = static_cast<std::uint32_t>(fifo_bytes_ + f.len());
  tracer_->on_event(events_.now(), e);
}

// The engine's parse/steer/DMA-setup cycles end now: the parse is the span before, the steering
// verdict the point at its end.
void Nic::trace_rx_classified(const FrameRef& f, const w::ParsedPacket& pkt, RxCsum csum,
                              const SteeringDecision& d, std::uint32_t q) {
  const StageCycles& c = profile_.pipeline.cycles;
  const sim::Duration spent = cycles(std::uint64_t{c.parse} + c.steer + c.dma_setup);
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kRxParse;
  e.id = f.id();
  e.len = static_cast<std::uint32_t>(f.len());
  e.hdr_len = pkt.header_len;
  e.note = to_string(csum);
  e.dur = spent;
  tracer_->on_event(events_.now() - spent, e);
  sim::PacketEvent s;
  s.stage = sim::PacketStage::kRxSteer;
  s.id = f.id();
  s.queue = q;
  s.hash = d.rss_hash;
  s.rule = d.rule ? static_cast<std::int32_t>(*d.rule) : -1;
  s.context = d.rss_context;
  if (d.indir_index) s.index = *d.indir_index;
  s.note = d.drop ? "ntuple-drop" : d.rule ? "ntuple" : d.indir_index ? "rss" : "queue-0";
  tracer_->on_event(events_.now(), s);
}

void Nic::trace_rx_placed(std::uint64_t id, std::uint32_t q, const RxWork& w, sim::TimePoint data_done) {
  const sim::TimePoint now = events_.now();
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kRxHeaderSplit;
  e.id = id;
  e.queue = q;
  e.hdr_len = w.header_len;
  e.count = w.payload_buffers;
  e.note = to_string(w.split);
  tracer_->on_event(now, e);
  // One event per buffer written (header piece first): where it went and into which memory.
  for (std::uint32_t i = 0; i < w.dma_writes; ++i) {
    const RxDmaPiece& p = w.pieces[i];
    sim::PacketEvent d;
    d.stage = sim::PacketStage::kRxDmaWrite;
    d.id = id;
    d.queue = q;
    d.addr = p.addr;
    d.len = p.len;
    d.count = i + 1;
    d.dur = data_done - now;
    d.note = p.placement == netmem::MemoryPlacement::kDeviceMemory ? "device memory" : "host memory";
    tracer_->on_event(now, d);
  }
}

void Nic::trace_rx_drop(std::uint64_t id, std::uint32_t q, sim::PacketStage at, const char* why) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kDrop;
  e.at = at;
  e.id = id;
  e.queue = q;
  e.note = why;
  tracer_->on_event(events_.now(), e);
}

void Nic::trace_queue(sim::PacketStage stage, std::uint64_t id, std::uint32_t q) {
  sim::PacketEvent e;
  e.stage = stage;
  e.id = id;
  e.queue = q;
  tracer_->on_event(events_.now(), e);
}

void Nic::trace_tx_fetch(std::uint32_t q, std::uint32_t ndesc, sim::TimePoint done) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kTxDescFetch;
  e.queue = q;
  e.count = ndesc;
  e.len = tx_[q]->bytes_in_next_packet();
  e.dur = done - events_.now();
  tracer_->on_event(events_.now(), e);
}

// The packet's bytes are in and the engine is about to cut its frames: the first one gets the
// frame pool's next id.
void Nic::trace_tx_segment(std::uint32_t q) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kTxSegment;
  e.id = frames_.next_id();
  e.queue = q;
  e.count = tx_[q]->descriptors_in_next_packet();
  e.len = tx_[q]->bytes_in_next_packet();
  tracer_->on_event(events_.now(), e);
}

}  // namespace nicemu::nic::hw
