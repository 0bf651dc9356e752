// The NIC driver (see nic_driver.hpp for what it models).
#include "nicemu/nic/driver/nic_driver.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/populate.hpp"
#include "nicemu/netstack/core/dev_queue.hpp"
#include "nicemu/netstack/core/etherdevice.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"
#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/netstack/wire/packet.hpp"

namespace nicemu::nic::driver {

namespace core = netstack::core;
namespace w = netstack::wire;
using netmem::NetmemRef;

// The queue API's blob: one RX queue's memory between alloc and start (new) or between stop and
// free (old).
struct NicDriver::DriverQueueMem final : core::QueueMem {
  std::unique_ptr<RxRing> ring;
  bool filled_by_stop = false;
  std::uint32_t queue = 0;
};

namespace {

std::uint32_t or_default(std::uint32_t v, std::uint32_t d) { return v != 0 ? v : d; }

// Packet tracing (sim/packet_trace.hpp): the skb built from a completion, handed to GRO.
void trace_skb_build(sim::PacketTracer& t, sim::TimePoint now, const core::SkBuff& skb, const core::Napi* napi) {
  if (skb.trace_id == 0) return;
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kSkbBuild;
  e.id = skb.trace_id;
  e.queue = skb.queue_mapping;
  e.napi_id = skb.napi_id;
  if (napi != nullptr && napi->list_owner() >= 0) e.cpu = static_cast<std::uint32_t>(napi->list_owner());
  e.len = skb.len();
  e.hdr_len = skb.headlen();
  e.count = static_cast<std::uint32_t>(skb.nr_frags());
  t.on_event(now, e);
}

}  // namespace

NicDriver::NicDriver(sim::EventQueue& events, netmem::DmaSpace& dma, hw::Port& port, hw::FramePool& frames,
                     const hw::NicProfile& profile, hw::Steering steering, const NicDriverConfig& cfg,
                     DriverHost& host, core::SkbAllocator& skbs, const page_pool::CallerContext& ctx)
    : NetDevice(cfg.name, profile.channels.max_queues, profile.channels.max_queues),
      events_(events),
      profile_(profile),
      cfg_(cfg),
      host_(host),
      skbs_(skbs),
      ctx_(ctx) {
  mac = cfg.mac;
  mtu = cfg.mtu;
  max_mtu = profile.mtu_max;
  dma_dev = &dma;
  features = core::kNetifFSg | core::kNetifFHwCsum | core::kNetifFRxCsum | core::kNetifFGro | core::kNetifFNtuple |
             core::kNetifFRxhash | core::kNetifFTso | core::kNetifFTso6;
  // Devmem TX: gve (6.16) and mlx5 (6.17) set dev->netmem_tx; nicemu's driver maps net_iov
  // frags for every profile (whether bnxt sets it in 6.18 is unverified).
  netmem_tx = true;
  // Every queue restart (ethtool, a memory provider's install or uninstall, a direct one) runs
  // the driver's queue ops the same way: the profile's mode.
  restart_mode_ = profile.restart.mode;
  // kernel: netif_set_tso_max_size/segs() from the profile; gso_max_size stays at its default
  // (GSO_LEGACY_MAX_SIZE, 64 KiB: BIG TCP is not modelled), gso_max_segs follows the device.
  gso_max_size = std::min<std::uint32_t>(gso_max_size, profile.tso.max_size_bytes);
  gso_max_segs = std::min<std::uint32_t>(gso_max_segs, profile.tso.max_segments);
  rx_pending_ = or_default(cfg.rx_ring, profile.rings.rx.default_size);
  tx_pending_ = or_default(cfg.tx_ring, profile.rings.tx.default_size);
  rx_buf_len_ = or_default(cfg.rx_buf_len, profile.rings.rx_buf_len_default);
  hds_thresh = profile.header_split.hds_thresh_default;
  coalesce_.rx_coalesce_usecs = profile.coalesce.rx_usecs;
  coalesce_.rx_max_coalesced_frames = profile.coalesce.rx_frames;
  // Starting queue counts: cfg.combined is the RX count; the TX count is the same on profiles
  // with combined channels, cfg.tx (or the RX count) on those without (gve_init_priv: the
  // device's defaults, separate per direction).
  const hw::NicProfile::Channels& ch = profile.channels;
  std::uint32_t rx_count = 0, tx_count = 0;
  shared_rings_ = ch.max.combined != 0 && !(cfg.split_channels && ch.max.rx != 0 && ch.max.tx != 0);
  if (shared_rings_) {
    rx_count = tx_count = or_default(cfg.combined, std::max<std::uint32_t>(1, ch.defaults.combined));
  } else {
    rx_count = or_default(cfg.combined, std::max<std::uint32_t>(1, ch.defaults.rx));
    tx_count = or_default(cfg.tx, cfg.combined != 0 ? cfg.combined : std::max<std::uint32_t>(1, ch.defaults.tx));
  }
  NICEMU_ASSERT(rx_count <= ch.max_queues, "NicDriver: more RX queues than the profile's max-queues");
  NICEMU_ASSERT(tx_count <= ch.max_queues, "NicDriver: more TX queues than the profile's max-queues");
  (void)set_real_num_rx_queues(rx_count);
  (void)set_real_num_tx_queues(tx_count);
  NICEMU_ASSERT(steering.rx_queues() == rx_count, "NicDriver: steering must spread over the starting RX queue count");

  hw::NicConfig nc;
  nc.rx_queues = profile.channels.max_queues;
  nc.tx_queues = profile.channels.max_queues;
  nc.rxq = rx_hw_config();
  nc.txq.ring_size = tx_pending_;
  nc.txq.max_frame_len = mtu + 14;
  nc.txq.tso_max_size = profile.tso.max_size_bytes;
  nc.coalesce = hw::IrqModerationConfig{coalesce_.rx_coalesce_usecs, coalesce_.rx_max_coalesced_frames};
  nc.rx_fifo_bytes = cfg.rx_fifo_bytes != 0 ? cfg.rx_fifo_bytes : profile.pipeline.rx_fifo_bytes;
  nic_ = std::make_unique<hw::Nic>(events, dma, port, frames, profile, std::move(steering), nc);
  // Every queue starts stopped: the silicon takes frames only for queues the driver started.
  for (std::uint32_t q = 0; q < nic_->rx_queue_count(); ++q) nic_->rx_queue_stop(q);
  for (std::uint32_t q = 0; q < profile.channels.max_queues; ++q) {
    nic_->set_irq_handler(q, [this, q] { on_irq(q); });
  }
  rx_.resize(num_rx_queues());
  tx_.resize(num_tx_queues());
  napi_.assign(num_rx_queues(), nullptr);
  gro_.resize(num_rx_queues());
}

NicDriver::~NicDriver() {
  if (is_registered()) netns()->unregister_netdevice(*this);
  if (is_up()) close();
  close_datapath();
}

// ---- settings ---------------------------------------------------------------------------------------------------

bool NicDriver::split_on() const {
  if (!profile_.header_split.supported) return false;
  if (hds_config == core::TcpDataSplit::kEnabled) return true;
  return hds_config == core::TcpDataSplit::kUnknown && profile_.header_split.enabled_by_default;
}

hw::RxQueueHw::Config NicDriver::rx_hw_config() const {
  hw::RxQueueHw::Config c;
  c.split = hw::header_split_defaults(profile_);
  c.split.mode = static_cast<hw::TcpDataSplit>(hds_config);
  c.split.hds_thresh = hds_thresh;
  c.split.rx_buf_len = rx_buf_len_;
  c.payload_ring_size = rx_pending_;
  c.header_ring_size = split_on() ? rx_pending_ : 1;
  c.completion_ring_size = 2 * rx_pending_;
  return c;
}

// ---- channels and NAPI ----------------------------------------------------------------------------------------

core::Napi& NicDriver::add_napi(std::uint32_t channel) {
  return napi_add([this, channel](int budget) -> int {
    // The poll of channel `channel` (whichever NAPI object serves it now).
    (void)tx_clean(channel);
    int done = 0;
    if (rx_[channel] != nullptr) done = rx_poll(channel, *rx_[channel], budget);
    if (gro_[channel] != nullptr) gro_[channel]->gro_flush_all();  // napi_complete_done flushes GRO
    core::Napi* napi = napi_[channel];
    if (napi != nullptr && napi->complete_done(done, budget)) nic_->irq_rearm(channel);
    return done;
  });
}

void NicDriver::del_napi(core::Napi* napi) {
  for (auto& n : napi_) {
    if (n == napi) n = nullptr;
  }
  for (std::uint32_t q = 0; q < num_rx_queues(); ++q) {
    if (rx_queue(q).napi == napi) rx_queue(q).napi = nullptr;
    RxRing* r = rx_[q].get();
    if (r != nullptr && r->napi == napi) {
      if (r->pay_pool != nullptr) r->pay_pool->disable_direct_recycling();
      if (r->hdr_pool != nullptr) r->hdr_pool->disable_direct_recycling();
    }
  }
  napi_del(*napi);
}

core::Napi* NicDriver::channel_napi(std::uint32_t channel) const {
  return channel < napi_.size() ? napi_[channel] : nullptr;
}

void NicDriver::on_irq(std::uint32_t channel) {
  core::Napi* napi = channel_napi(channel);
  if (napi == nullptr) return;  // no NAPI (restart under way): the next rearm raises it again
  if (napi->schedule(host_.irq_cpu(channel))) host_.napi_scheduled(*this, channel);
}

int NicDriver::napi_poll(std::uint32_t channel) {
  core::Napi* napi = channel_napi(channel);
  if (napi == nullptr || !napi->scheduled()) return -1;
  return napi->run_poll(napi->weight());
}

// ---- RX memory ------------------------------------------------------------------------------------------------

int NicDriver::rx_ring_alloc(RxRing& r, std::uint32_t queue, core::Napi* napi) {
  r.queue = queue;
  r.hw_cfg = rx_hw_config();
  r.buf_len = rx_buf_len_;
  r.hdr_len = profile_.header_split.header_buf_len;
  const bool split = split_on();
  auto make_pool = [&](bool header, page_pool::PagePool** out) -> int {
    page_pool::PagePoolParams p;
    p.order = 0;
    p.pool_size = rx_pending_;
    p.nid = page_pool::kNumaNoNode;
    p.dev = dma_dev;
    p.napi = napi != nullptr ? napi->pp_owner() : nullptr;
    p.dma_dir = netmem::DmaDirection::kFromDevice;
    p.netdev = this;
    p.queue_idx = queue;
    p.flags = page_pool::kPpFlagDmaMap | page_pool::kPpFlagDmaSyncDev;
    p.max_len = header ? static_cast<std::uint32_t>(netmem::kPageSize) : r.buf_len;
    if (!header && split) p.flags |= page_pool::kPpFlagAllowUnreadableNetmem;
    auto res = netns()->page_pools().create(p);
    if (!res.has_value()) return res.error().code;
    *out = res.value();
    return 0;
  };
  int err = 0;
  if (split) err = make_pool(true, &r.hdr_pool);
  if (err == 0) err = make_pool(false, &r.pay_pool);
  if (err != 0) {
    rx_ring_free(r);
    return err;
  }
  if (pay_fault_) r.pay_pool->set_alloc_fault(*pay_fault_);
  r.pay.assign(r.hw_cfg.payload_ring_size, RxBuf{});
  r.pay_free.clear();
  for (std::uint32_t i = r.hw_cfg.payload_ring_size; i-- > 0;) r.pay_free.push_back(i);
  if (split) {
    r.hdr.assign(r.hw_cfg.header_ring_size, RxBuf{});
    r.hdr_free.clear();
    for (std::uint32_t i = r.hw_cfg.header_ring_size; i-- > 0;) r.hdr_free.push_back(i);
  }
  // Fill the ring (kernel: bnxt_alloc_rx_rings in queue_mem_alloc): buffers are held, posted
  // when the queue starts. A pool that cannot give every buffer is not an error (alloc_fail).
  (void)rx_refill(r, /*post=*/false);
  return 0;
}

void NicDriver::rx_put_buf(page_pool::PagePool* pool, RxBuf& b, std::vector<std::uint32_t>& free_ids,
                           std::uint32_t id, bool direct) {
  if (b.nm) pool->put_netmem(b.nm, -1, direct, ctx_);
  b = RxBuf{};
  free_ids.push_back(id);
}

void NicDriver::rx_ring_free(RxRing& r) {
  fold_rx(r);
  for (std::uint32_t i = 0; i < r.pay.size(); ++i) {
    if (r.pay[i].nm) rx_put_buf(r.pay_pool, r.pay[i], r.pay_free, i, false);
  }
  for (std::uint32_t i = 0; i < r.hdr.size(); ++i) {
    if (r.hdr[i].nm) rx_put_buf(r.hdr_pool, r.hdr[i], r.hdr_free, i, false);
  }
  if (r.pay_pool != nullptr) r.pay_pool->destroy();
  if (r.hdr_pool != nullptr) r.hdr_pool->destroy();
  r.pay_pool = r.hdr_pool = nullptr;
  // The NAPI may be gone already (a mode-2/3 start deleted it): look it up by id.
  if (r.owns_napi && r.napi != nullptr && find_napi(r.napi_id) == r.napi) del_napi(r.napi);
  r.napi = nullptr;
  r.owns_napi = false;
}

void NicDriver::fold_rx(RxRing& r) {
  base_rx_.packets += std::exchange(r.c.packets, 0);
  base_rx_.bytes += std::exchange(r.c.bytes, 0);
  base_rx_.alloc_fail += std::exchange(r.c.alloc_fail, 0);
  base_rx_.hw_drops += std::exchange(r.c.hw_drops, 0);
  base_rx_.hw_drop_overruns += std::exchange(r.c.hw_drop_overruns, 0);
  base_rx_.csum_unnecessary += std::exchange(r.c.csum_unnecessary, 0);
  base_rx_.csum_none += std::exchange(r.c.csum_none, 0);
  base_rx_.csum_bad += std::exchange(r.c.csum_bad, 0);
}

// Gives buffer `id` (which holds a netmem) to the silicon: its DMA address and length. A net_iov
// is one page, so a buffer never runs past it.
bool NicDriver::post_payload(hw::RxQueueHw& hq, RxRing& r, std::uint32_t id) {
  RxBuf& b = r.pay[id];
  const std::uint32_t len = b.nm.is_net_iov() ? std::min(r.buf_len, static_cast<std::uint32_t>(netmem::kPageSize)) : r.buf_len;
  b.posted = hq.post_payload_buffer({netmem::netmem_get_dma_addr(b.nm) + b.offset, len, id});
  if (packet_tracer != nullptr && b.posted && b.nm.is_net_iov()) {
    sim::PacketEvent e;
    e.stage = sim::PacketStage::kRxRefill;
    e.queue = r.queue;
    e.addr = netmem::netmem_get_dma_addr(b.nm) + b.offset;
    packet_tracer->on_event(events_.now(), e);
  }
  return b.posted;
}

bool NicDriver::post_header(hw::RxQueueHw& hq, RxRing& r, std::uint32_t id) {
  RxBuf& b = r.hdr[id];
  b.posted = hq.post_header_buffer({netmem::netmem_get_dma_addr(b.nm) + b.offset, r.hdr_len, id});
  return b.posted;
}

std::uint32_t NicDriver::rx_refill(RxRing& r, bool post) {
  std::uint32_t posted = 0;
  hw::RxQueueHw* hq = post ? &nic_->rxq(r.queue) : nullptr;
  while (!r.pay_free.empty()) {
    const std::uint32_t id = r.pay_free.back();
    RxBuf& b = r.pay[id];
    NetmemRef n;
    std::uint32_t off = 0;
    if (r.buf_len >= netmem::kPageSize || r.pay_pool->mp() != nullptr) {
      n = r.pay_pool->alloc_netmems();
    } else {
      n = r.pay_pool->alloc_frag_netmem(&off, r.buf_len);
    }
    if (!n) {
      ++r.c.alloc_fail;
      break;
    }
    r.pay_free.pop_back();
    b.nm = n;
    b.offset = off;
    b.posted = false;
    if (hq != nullptr) {
      if (!post_payload(*hq, r, id)) break;
      ++posted;
    }
  }
  while (!r.hdr_free.empty() && r.hdr_pool != nullptr) {
    const std::uint32_t id = r.hdr_free.back();
    std::uint32_t off = 0;
    NetmemRef n = r.hdr_pool->alloc_frag_netmem(&off, r.hdr_len);
    if (!n) {
      ++r.c.alloc_fail;
      break;
    }
    r.hdr_free.pop_back();
    RxBuf& b = r.hdr[id];
    b.nm = n;
    b.offset = off;
    b.posted = false;
    if (hq != nullptr) {
      if (!post_header(*hq, r, id)) break;
      ++posted;
    }
  }
  return posted;
}

void NicDriver::rx_ring_post_all(RxRing& r) {
  hw::RxQueueHw& hq = nic_->rxq(r.queue);
  for (std::uint32_t id = 0; id < r.pay.size(); ++id) {
    if (r.pay[id].nm) (void)post_payload(hq, r, id);
  }
  for (std::uint32_t id = 0; id < r.hdr.size(); ++id) {
    if (r.hdr[id].nm) (void)post_header(hq, r, id);
  }
  (void)rx_refill(r, /*post=*/true);
}

// The silicon queue stops: completions not yet read are discarded (their buffers stay with the
// ring, which reposts or frees them), and its drop counters fold into the ring's. A ring whose
// start is still pending (a second restart within the firmware quiesce) has nothing to fold, and
// that start is called off.
void NicDriver::rx_stop_hw(RxRing& r) {
  r.start_seq = 0;
  if (r.hw_started) {
    hw::RxQueueHw& hq = nic_->rxq(r.queue);
    const auto& s = hq.stats();
    r.c.hw_drops += s.hw_drops - r.hw_drops_seen;
    r.c.hw_drop_overruns += s.hw_drop_overruns - r.hw_overruns_seen;
    r.hw_drops_seen = r.hw_overruns_seen = 0;
    dstats_.rx_restart_discards += hq.completions_pending() + hq.completions_unpublished();
    r.hw_started = false;
  }
  nic_->rx_queue_stop(r.queue);
  for (auto& b : r.pay) b.posted = false;
  for (auto& b : r.hdr) b.posted = false;
}

// The silicon queue starts afresh with this ring's buffers, `after` from now (the firmware's
// queue-create latency); frames steered to it meanwhile are dropped and counted by the NIC.
void NicDriver::rx_start_hw(RxRing& r, sim::Duration after) {
  const std::uint32_t q = r.queue;
  RxRing* rp = &r;
  const std::uint64_t seq = ++rx_start_seq_;
  r.start_seq = seq;
  auto start = [this, q, rp, seq] {
    RxRing* cur = rx_[q].get();
    // The ring went away, was stopped again or got a later start meanwhile: only the last start
    // runs (a second one would replace the silicon queue and lose what the first received).
    if (cur == nullptr || cur != rp || cur->start_seq != seq) return;
    cur->start_seq = 0;
    nic_->rx_queue_start(q, cur->hw_cfg);
    cur->hw_started = true;
    cur->hw_drops_seen = cur->hw_overruns_seen = 0;
    rx_ring_post_all(*cur);
    rx_ring_doorbell(*cur);
    nic_->irq_rearm(q);
  };
  if (after <= sim::Duration::zero()) {
    start();
  } else {
    events_.schedule_in(after, start);
  }
}

// The RX tail write; the fault knob's descriptor delay holds it back (a slow firmware: the
// buffers posted reach the silicon that much later). A ring gone meanwhile rings nothing.
void NicDriver::rx_ring_doorbell(RxRing& r) {
  if (faults.descriptor_delay <= sim::Duration::zero()) {
    nic_->rx_doorbell(r.queue);
    return;
  }
  const std::uint32_t q = r.queue;
  RxRing* rp = &r;
  events_.schedule_in(faults.descriptor_delay, [this, q, rp] {
    if (rx_[q].get() == rp && nic_->rx_queue_running(q)) nic_->rx_doorbell(q);
  });
}

void NicDriver::arm_refill_timer(RxRing& r) {
  if (r.refill_timer) return;
  r.refill_timer = true;
  const std::uint32_t q = r.queue;
  RxRing* rp = &r;
  // No buffer is posted and none will come back by itself: retry later (kernel drivers
  // reschedule NAPI or a refill work item for this).
  events_.schedule_in(sim::Duration::from_us(50), [this, q, rp] {
    if (rx_[q].get() != rp) return;  // the ring went away
    rp->refill_timer = false;
    ++dstats_.rx_refill_retries;
    if (!nic_->rx_queue_running(q)) return;
    if (rx_refill(*rp, true) > 0) rx_ring_doorbell(*rp);
    if ((nic_->rxq(q).payload_buffers_visible() == 0 && !rp->pay_free.empty()) ||
        (rp->hdr_pool != nullptr && nic_->rxq(q).header_buffers_visible() == 0 && !rp->hdr_free.empty())) {
      arm_refill_timer(*rp);
    }
  });
}

// ---- RX poll --------------------------------------------------------------------------------------------------

core::SkBuff* NicDriver::rx_build_skb(RxRing& r, const hw::RxCompletion& c) {
  core::SkBuff* skb = skbs_.alloc();
  if (skb == nullptr) {
    ++dstats_.rx_skb_alloc_fail;
    ++r.c.alloc_fail;
    // Drop the frame: its buffers go back to their pools.
    if (c.header_used) rx_put_buf(r.hdr_pool, r.hdr[c.header_buf_id], r.hdr_free, c.header_buf_id, true);
    for (std::uint8_t i = 0; i < c.nfrags; ++i) {
      rx_put_buf(r.pay_pool, r.pay[c.frags[i].buf_id], r.pay_free, c.frags[i].buf_id, true);
    }
    return nullptr;
  }
  std::uint8_t first_frag = 0;
  if (c.header_used) {
    RxBuf& hb = r.hdr[c.header_buf_id];
    const auto src = netmem::netmem_address(hb.nm).bytes();
    std::memcpy(skb->put(c.header_len), src.data() + hb.offset, c.header_len);
    rx_put_buf(r.hdr_pool, hb, r.hdr_free, c.header_buf_id, true);
  } else if (c.nfrags > 0 && !r.pay[c.frags[0].buf_id].nm.is_net_iov()) {
    // Header split off (or the frame did not qualify): pull the headers into the linear area,
    // or copy a small frame whole (copybreak) and recycle its buffer at once.
    RxBuf& b = r.pay[c.frags[0].buf_id];
    const auto page = netmem::netmem_address(b.nm).bytes().subspan(b.offset, c.frags[0].len);
    std::uint32_t pull = 0;
    if (c.frame_len <= cfg_.copybreak && c.nfrags == 1) {
      pull = c.frags[0].len;
    } else {
      const w::ParsedPacket p = w::parse_packet(page, w::ChecksumCaps::offloaded());  // eth_get_headlen
      pull = std::min<std::uint32_t>({p.header_len != 0 ? p.header_len : 14u, c.frags[0].len, 256u});
    }
    std::memcpy(skb->put(pull), page.data(), pull);
    if (pull == c.frags[0].len) {
      rx_put_buf(r.pay_pool, b, r.pay_free, c.frags[0].buf_id, true);
    } else {
      skb->add_rx_frag(b.nm, b.offset + pull, c.frags[0].len - pull, r.buf_len);
      b = RxBuf{};
      r.pay_free.push_back(c.frags[0].buf_id);
    }
    first_frag = 1;
  }
  for (std::uint8_t i = first_frag; i < c.nfrags; ++i) {
    const std::uint32_t id = c.frags[i].buf_id;
    RxBuf& b = r.pay[id];
    skb->add_rx_frag(b.nm, b.offset, c.frags[i].len, r.buf_len);  // the skb takes the pp reference
    b = RxBuf{};
    r.pay_free.push_back(id);
  }
  skb->pp_recycle = true;  // kernel: skb_mark_for_recycle()
  skb->dev = this;
  skb->skb_iif = ifindex();
  skb->queue_mapping = static_cast<std::uint16_t>(r.queue);
  skb->hash = c.meta.rss_hash;
  skb->l4_hash = c.meta.hash_type == hw::RssHashType::kL4;
  skb->tstamp = events_.now();
  skb->trace_id = c.meta.trace_id;
  switch (c.meta.csum) {
    case hw::RxCsum::kUnnecessary:
      skb->ip_summed = core::IpSummed::kUnnecessary;
      ++r.c.csum_unnecessary;
      break;
    case hw::RxCsum::kNone:
      skb->ip_summed = core::IpSummed::kNone;
      ++r.c.csum_none;
      break;
    case hw::RxCsum::kBad:
      skb->ip_summed = core::IpSummed::kNone;
      ++r.c.csum_bad;
      break;
  }
  return skb;
}

int NicDriver::rx_poll(std::uint32_t channel, RxRing& r, int budget) {
  if (!nic_->rx_queue_running(r.queue)) return 0;
  hw::RxQueueHw& hq = nic_->rxq(r.queue);
  core::GroContext& gro = *gro_[channel];
  core::Napi* napi = napi_[channel];
  int done = 0;
  while (done < budget) {
    const auto c = hq.next_completion();
    if (!c) break;
    ++done;
    core::SkBuff* skb = rx_build_skb(r, *c);
    if (skb == nullptr) continue;
    // kernel: skb->protocol = eth_type_trans(skb, dev) before napi_gro_receive(): GRO and the
    // stack then see the network header at data.
    skb->protocol = core::eth_type_trans(*skb);
    if (skb->protocol == 0) {
      ++r.c.hw_drops;  // a runt or an unparsable Ethernet header the silicon passed up
      core::kfree_skb(skb);
      continue;
    }
    ++r.c.packets;
    r.c.bytes += skb->len();
    if (napi != nullptr) skb->napi_id = napi->id();
    if (packet_tracer != nullptr) trace_skb_build(*packet_tracer, events_.now(), *skb, napi);
    (void)gro.gro_receive(skb);
  }
  // Refill in batches, one doorbell per poll (kernel: bnxt_db_write after the poll loop).
  const bool split = r.hdr_pool != nullptr;
  if (r.pay_free.size() >= cfg_.refill_batch || hq.payload_buffers_visible() < cfg_.refill_batch ||
      (split && (r.hdr_free.size() >= cfg_.refill_batch || hq.header_buffers_visible() < cfg_.refill_batch))) {
    if (rx_refill(r, true) > 0) rx_ring_doorbell(r);
  }
  if ((hq.payload_buffers_visible() == 0 && !r.pay_free.empty()) ||
      (split && hq.header_buffers_visible() == 0 && !r.hdr_free.empty())) {
    arm_refill_timer(r);
  }
  return done;
}

// ---- TX ---------------------------------------------------------------------------------------------------------

int NicDriver::tx_ring_alloc(TxRing& t, std::uint32_t queue) {
  t.queue = queue;
  t.size = tx_pending_;
  t.slot_bytes = (mtu + 14 + 63) / 64 * 64;
  t.bounce_bytes = std::size_t{t.size} * t.slot_bytes;
  t.bounce.reset(static_cast<std::byte*>(std::calloc(t.bounce_bytes, 1)));
  if (!t.bounce) return -ENOMEM;
  base::populate_pages(t.bounce.get(), t.bounce_bytes);  // ring memory is there from set-up on
  const auto m = dma_dev->map(std::span(t.bounce.get(), t.bounce_bytes), netmem::DmaDirection::kToDevice,
                              netmem::MemoryPlacement::kHostMemory);
  if (!m.ok()) return -ENOMEM;
  t.bounce_dma = m.addr;
  t.skbs.assign(t.size, nullptr);
  t.slot_jobs.assign(t.size, 0);
  t.prod = t.cons = 0;
  hw::TxQueueHw::Config hc;
  hc.ring_size = t.size;
  hc.max_frame_len = mtu + 14;
  hc.tso_max_size = profile_.tso.max_size_bytes;
  hc.completion_ring_size = t.size;
  nic_->tx_queue_reset(queue, hc);
  return 0;
}

void NicDriver::tx_ring_free(TxRing& t) {
  base::ByteWorker::get().drain();  // no job may still read the packets freed here
  // Packets posted and not completed are lost with the queue (the silicon forgot them).
  while (t.cons < t.prod) {
    core::SkBuff*& skb = t.skbs[t.cons % t.size];
    if (skb != nullptr) {
      core::kfree_skb(skb);
      skb = nullptr;
      ++dstats_.tx_restart_discards;
    }
    ++t.cons;
  }
  nic_->tx_queue_reset(t.queue, hw::TxQueueHw::Config{});
  if (t.bounce) (void)dma_dev->unmap(t.bounce_dma);
  base_tx_.packets += std::exchange(t.c.packets, 0);
  base_tx_.bytes += std::exchange(t.c.bytes, 0);
  base_tx_.hw_drops += std::exchange(t.c.hw_drops, 0);
  base_tx_.hw_drop_errors += std::exchange(t.c.hw_drop_errors, 0);
  base_tx_.needs_csum += std::exchange(t.c.needs_csum, 0);
  base_tx_.csum_none += std::exchange(t.c.csum_none, 0);
  base_tx_.stop += std::exchange(t.c.stop, 0);
  base_tx_.wake += std::exchange(t.c.wake, 0);
  t.bounce.reset();
  t.bounce_bytes = 0;
}

core::NetdevTx NicDriver::start_xmit(core::SkBuff* skb) {
  const std::uint32_t q = skb->queue_mapping;
  TxRing* t = q < tx_.size() ? tx_[q].get() : nullptr;
  if (t == nullptr || !is_up()) {
    core::kfree_skb(skb);  // kernel: a down device's queue is stopped; count as a hw drop
    ++base_tx_.hw_drops;
    return core::NetdevTx::kOk;
  }
  // Zero copy when every frag is a host page the device sees (dma-direct): the linear part —
  // the headers — goes into the first descriptor's slot (copied, as drivers inline headers) and
  // each frag is a descriptor at its page's DMA address. Otherwise the skb is copied whole into
  // the slot (GVE's QPL mode does this for every packet).
  const std::uint32_t len = skb->len();
  const int nfrags = skb->nr_frags();
  const std::uint32_t headlen = skb->headlen();
  // Devmem TX (netmem_tx): a net_iov frag is a descriptor at the DMA address its binding mapped
  // for this device (kernel: netmem_dma_unmap_addr_set / skb_frag_dma_map of a net_iov).
  bool direct = nfrags > 0 && headlen <= t->slot_bytes && (core::skb_frags_readable(*skb) || netmem_tx);
  for (int i = 0; direct && i < nfrags; ++i) {
    const netmem::NetmemRef nm = skb->frag(i).netmem;
    if (nm.is_net_iov()) {
      direct = netmem_tx && netmem::netmem_get_dma_addr(nm) != 0;
    } else {
      direct = nm.page().dma_direct() != 0;
    }
  }
  const std::uint32_t ndesc = direct ? (headlen > 0 ? 1u : 0u) + static_cast<std::uint32_t>(nfrags) : 1u;
  if (tx_free_descs(*t) < ndesc) {
    core::netif_tx_stop_queue(*this, q);
    ++t->c.stop;
    return core::NetdevTx::kBusy;
  }
  if (!direct && (len > t->slot_bytes || !core::skb_frags_readable(*skb))) {
    ++dstats_.tx_linearize_fail;
    ++t->c.hw_drop_errors;
    ++t->c.hw_drops;
    core::kfree_skb(skb);
    return core::NetdevTx::kOk;
  }
  const std::uint32_t slot = static_cast<std::uint32_t>(t->prod % t->size);
  if (t->slot_jobs[slot] != 0) base::ByteWorker::get().wait(std::exchange(t->slot_jobs[slot], 0));
  std::byte* dst = t->bounce.get() + std::size_t{slot} * t->slot_bytes;
  const netmem::DmaAddr slot_dma = t->bounce_dma + std::uint64_t{slot} * t->slot_bytes;
  hw::TxDesc first;
  first.pkt_id = slot;
  if (skb->gso_size != 0) {
    // TSO: the device cuts the payload into gso_size frames, each with a copy of the headers.
    if (skb->ip_summed != core::IpSummed::kPartial) {  // a TSO skb always carries CHECKSUM_PARTIAL
      ++t->c.hw_drop_errors;
      ++t->c.hw_drops;
      core::kfree_skb(skb);
      return core::NetdevTx::kOk;
    }
    first.gso_size = skb->gso_size;
  }
  if (skb->ip_summed == core::IpSummed::kPartial) {
    first.csum_partial = true;
    first.csum_start = static_cast<std::uint16_t>(core::skb_checksum_start_offset(*skb));
    first.csum_offset = static_cast<std::uint16_t>(core::skb_csum_offset(*skb));
    ++t->c.needs_csum;
  } else {
    ++t->c.csum_none;
  }
  hw::TxQueueHw& hq = nic_->txq(q);
  auto post = [&](hw::TxDesc d, bool last) {
    d.eop = last;
    d.pkt_id = slot;
    const bool ok = hq.post(d);
    NICEMU_ASSERT(ok, "NicDriver::start_xmit: the silicon ring is fuller than the driver's");
  };
  if (direct) {
    std::uint32_t posted = 0;
    if (headlen > 0) {
      std::memcpy(dst, skb->data(), headlen);
      hw::TxDesc d = first;
      d.addr = slot_dma;
      d.len = headlen;
      post(d, ++posted == ndesc);
    }
    for (int i = 0; i < nfrags; ++i) {
      const core::SkbFrag& f = skb->frag(i);
      hw::TxDesc d = posted == 0 ? first : hw::TxDesc{};
      d.addr = (f.netmem.is_net_iov() ? netmem::netmem_get_dma_addr(f.netmem) : f.netmem.to_page()->dma_direct()) +
               f.offset;
      d.len = f.len;
      // A send() copy into the page may still be on the byte worker: the device's read follows it.
      if (!f.netmem.is_net_iov()) d.bytes_job = f.netmem.to_page()->byte_job_background;
      post(d, ++posted == ndesc);
    }
    ++dstats_.tx_zero_copy;
  } else {
    const int err = core::skb_copy_bits(*skb, 0, dst, static_cast<int>(len));
    NICEMU_ASSERT(err == 0, "NicDriver::start_xmit: skb_copy_bits failed on a readable skb");
    hw::TxDesc d = first;
    d.addr = slot_dma;
    d.len = len;
    post(d, true);
    ++dstats_.tx_bounced;
  }
  t->skbs[slot] = skb;
  t->prod += ndesc;
  if (faults.descriptor_delay > sim::Duration::zero()) {
    events_.schedule_in(faults.descriptor_delay, [this, q, t] {
      if (tx_[q].get() == t) nic_->tx_doorbell(q);
    });
  } else {
    nic_->tx_doorbell(q);
  }
  // kernel: netif_txq_maybe_stop(): stop while a worst-case skb might not fit.
  if (tx_free_descs(*t) < kTxStopThreshold) {
    core::netif_tx_stop_queue(*this, q);
    ++t->c.stop;
  }
  return core::NetdevTx::kOk;
}

// The NIC's byte worker may still be reading a completed packet (base/byte_worker.hpp): its
// bounce slot and its host pages are tagged with the job, so that they are rewritten only after
// it (start_xmit, HostMemory::take); a net_iov frag is the app's dma-buf, which it may rewrite
// as soon as the completion notification is out, so that waits here.
void NicDriver::settle_tx_bytes(TxRing& t, const hw::TxCompletion& c, const core::SkBuff* skb) {
  t.slot_jobs[c.pkt_id] = c.byte_job;
  if (skb == nullptr) return;
  for (int i = 0; i < skb->nr_frags(); ++i) {
    const netmem::NetmemRef nm = skb->frag(i).netmem;
    if (nm.is_net_iov()) {
      base::ByteWorker::get().wait(c.byte_job);
      return;
    }
    nm.to_page()->note_byte_job(c.byte_job);
  }
}

int NicDriver::tx_clean(std::uint32_t channel) {
  TxRing* t = channel < tx_.size() ? tx_[channel].get() : nullptr;
  if (t == nullptr) return 0;
  hw::TxQueueHw& hq = nic_->txq(channel);
  int n = 0;
  while (auto c = hq.next_completion()) {
    core::SkBuff*& skb = t->skbs[c->pkt_id];
    if (c->outcome == hw::TxOutcome::kSent) {
      t->c.packets += c->wire_frames;
      t->c.bytes += c->wire_bytes;
    } else {
      ++t->c.hw_drops;
      ++t->c.hw_drop_errors;
    }
    if (c->byte_job != 0) settle_tx_bytes(*t, *c, skb);
    if (skb != nullptr) {
      core::kfree_skb(skb);  // kernel: napi_consume_skb()
      skb = nullptr;
    }
    t->cons += c->descs;
    ++n;
  }
  // kernel: netif_txq_completed_wake(): wake once half the ring is free.
  if (core::netif_tx_queue_stopped(*this, channel) && tx_free_descs(*t) >= std::max(kTxStopThreshold, t->size / 2)) {
    ++t->c.wake;
    core::netif_tx_wake_queue(*this, channel);
  }
  return n;
}

// ---- open / stop ------------------------------------------------------------------------------------------------

int NicDriver::open_datapath() {
  const std::uint32_t rx_n = real_num_rx_queues();
  const std::uint32_t tx_n = real_num_tx_queues();
  // Channel i serves RX queue i and TX queue i where they exist (one direction only on the
  // channels past the smaller count, on profiles without combined channels).
  for (std::uint32_t i = 0; i < channels(); ++i) {
    core::Napi& napi = add_napi(i);
    napi_[i] = &napi;
    int err = 0;
    if (i < rx_n) {
      gro_[i] = std::make_unique<core::GroContext>([this](core::SkBuff* skb) { host_.netif_receive_skb(*this, skb); });
      auto ring = std::make_unique<RxRing>();
      err = rx_ring_alloc(*ring, i, &napi);
      if (err == 0) {
        ring->napi = &napi;
        ring->napi_id = napi.id();
        ring->owns_napi = true;
        rx_[i] = std::move(ring);
        rx_queue(i).napi = &napi;  // kernel: netif_queue_set_napi()
      }
    }
    if (err == 0 && i < tx_n) {
      auto tr = std::make_unique<TxRing>();
      err = tx_ring_alloc(*tr, i);
      if (err == 0) tx_[i] = std::move(tr);
    }
    if (err != 0) {
      close_datapath();  // deletes this channel's NAPI too (napi_[i])
      return err;
    }
  }
  for (std::uint32_t i = 0; i < rx_n; ++i) rx_start_hw(*rx_[i], sim::Duration::zero());
  // Packets that waited in a stopped queue's qdisc go out on the new rings.
  for (std::uint32_t i = 0; i < tx_n; ++i) {
    if (core::netif_tx_queue_stopped(*this, i)) core::netif_tx_wake_queue(*this, i);
  }
  return 0;
}

void NicDriver::close_datapath() {
  for (std::uint32_t i = 0; i < rx_.size(); ++i) {
    if (rx_[i] != nullptr) {
      rx_stop_hw(*rx_[i]);
      rx_ring_free(*rx_[i]);
      rx_[i].reset();
    }
    if (napi_[i] != nullptr) del_napi(napi_[i]);
    gro_[i].reset();
  }
  for (auto& t : tx_) {
    if (t != nullptr) {
      tx_ring_free(*t);
      t.reset();
    }
  }
}

int NicDriver::ndo_open() { return open_datapath(); }

int NicDriver::ndo_stop() {
  close_datapath();
  return 0;
}

int NicDriver::reconfigure() {
  if (!is_up()) return 0;
  ++dstats_.reconfigures;
  close_datapath();
  return open_datapath();
}

// ---- queue management ops ---------------------------------------------------------------------------------------

std::unique_ptr<core::QueueMem> NicDriver::ndo_queue_mem_blob() { return std::make_unique<DriverQueueMem>(); }

int NicDriver::ndo_queue_mem_alloc(core::NetDevice&, core::QueueMem& mem_base, int idx) {
  auto& mem = static_cast<DriverQueueMem&>(mem_base);
  const auto q = static_cast<std::uint32_t>(idx);
  mem.queue = q;
  if (faults.mem_alloc.fires(events_.now())) return faults.mem_alloc.err;
  if (restart_mode_ > 3) return -EINVAL;
  if (restart_mode_ == 1 && !is_up()) return -ENETDOWN;
  auto ring = std::make_unique<RxRing>();
  core::Napi* napi = nullptr;
  if (restart_mode_ == 0) {
    napi = &add_napi(q);
    ring->napi = napi;
    ring->napi_id = napi->id();
    ring->owns_napi = true;
  } else if (restart_mode_ == 1) {
    napi = napi_[q];  // the queue keeps its NAPI
  }
  const int err = rx_ring_alloc(*ring, q, napi);
  if (err != 0) {
    if (ring->owns_napi && ring->napi != nullptr) del_napi(ring->napi);
    return err;
  }
  if (restart_mode_ == 1 && napi != nullptr) {
    ring->napi = napi;
    ring->napi_id = napi->id();
  }
  mem.ring = std::move(ring);
  return 0;
}

void NicDriver::ndo_queue_mem_free(core::NetDevice&, core::QueueMem& mem_base) {
  auto& mem = static_cast<DriverQueueMem&>(mem_base);
  if (faults.mem_free.fires(events_.now())) {
    // kernel: queue_mem_free returns void; a "failure" here is a driver leaking nothing but
    // reporting the fault: the memory is still freed so that nothing leaks.
  }
  if (mem.ring != nullptr) {
    rx_ring_free(*mem.ring);
    mem.ring.reset();
  }
}

int NicDriver::ndo_queue_stop(core::NetDevice&, core::QueueMem& mem_base, int idx) {
  auto& mem = static_cast<DriverQueueMem&>(mem_base);
  const auto q = static_cast<std::uint32_t>(idx);
  mem.queue = q;
  if (faults.stop.fires(events_.now())) return faults.stop.err;
  mem.filled_by_stop = true;
  RxRing* r = rx_[q].get();
  if (r == nullptr) return 0;
  // The profile's scope: the whole device (or every queue) pauses while this one restarts.
  if (profile_.restart.scope != hw::RestartScope::kQueue) {
    if (profile_.restart.scope == hw::RestartScope::kDevice) ++dstats_.device_resets;
    for (std::uint32_t i = 0; i < rx_.size(); ++i) {
      if (i != q && rx_[i] != nullptr) {
        rx_stop_hw(*rx_[i]);
        if (profile_.restart.scope == hw::RestartScope::kDevice) rx_ring_renew(i);
        rx_start_hw(*rx_[i], profile_.restart.firmware_quiesce);
      }
    }
    if (profile_.restart.scope == hw::RestartScope::kDevice) {
      for (std::uint32_t i = 0; i < tx_.size(); ++i) {
        if (tx_[i] == nullptr) continue;
        tx_ring_free(*tx_[i]);
        (void)tx_ring_alloc(*tx_[i], i);
        if (core::netif_tx_queue_stopped(*this, i)) core::netif_tx_wake_queue(*this, i);
      }
    }
  }
  rx_stop_hw(*r);
  // kernel: bnxt_queue_stop(): page_pool_disable_direct_recycling() before the NAPI may go.
  if (r->pay_pool != nullptr) r->pay_pool->disable_direct_recycling();
  if (r->hdr_pool != nullptr) r->hdr_pool->disable_direct_recycling();
  if (restart_mode_ == 1) r->owns_napi = false;  // the queue keeps its NAPI
  mem.ring = std::move(rx_[q]);
  return 0;
}

// A whole-device reset (the profile's `device` scope: close + open) gives a stopped queue new
// memory as open would: new rings and page pools; its NAPI stays (the channel's). If the new
// memory cannot be had the queue comes back on its old one.
void NicDriver::rx_ring_renew(std::uint32_t queue) {
  RxRing& old = *rx_[queue];
  auto fresh = std::make_unique<RxRing>();
  if (rx_ring_alloc(*fresh, queue, old.napi) != 0) return;
  fresh->napi = old.napi;
  fresh->napi_id = old.napi_id;
  fresh->owns_napi = std::exchange(old.owns_napi, false);
  if (old.pay_pool != nullptr) old.pay_pool->disable_direct_recycling();
  if (old.hdr_pool != nullptr) old.hdr_pool->disable_direct_recycling();
  rx_ring_free(old);
  rx_[queue] = std::move(fresh);
}

int NicDriver::ndo_queue_start(core::NetDevice&, core::QueueMem& mem_base, int idx) {
  auto& mem = static_cast<DriverQueueMem&>(mem_base);
  const auto q = static_cast<std::uint32_t>(idx);
  OpFault& fault = mem.filled_by_stop ? faults.rollback_start : faults.start;
  if (fault.fires(events_.now())) return fault.err;
  if (mem.ring == nullptr) return 0;  // the stopped queue had no memory: nothing to bring back
  RxRing& next = *mem.ring;
  core::Napi* old = napi_[q];
  auto give_ring_a_napi = [&] {
    if (next.napi != nullptr) return;
    next.napi = &add_napi(q);
    next.napi_id = next.napi->id();
  };
  auto drop_old_napi = [&] {
    if (old == nullptr || old == next.napi) return;
    napi_[q] = nullptr;
    del_napi(old);
  };
  if (!mem.filled_by_stop) {
    // netdevsim's orders: mode 2 deletes the old NAPI before adding the new one, mode 3 adds the
    // new one first; mode 0 added it in mem_alloc (the old one goes with mem_free(old)); mode 1
    // keeps the queue's NAPI.
    if (restart_mode_ == 2) {
      drop_old_napi();
      give_ring_a_napi();
    } else if (restart_mode_ == 3) {
      give_ring_a_napi();
      drop_old_napi();
    }
  } else if (next.napi == nullptr || (old != nullptr && old != next.napi)) {
    // Rolling back to the old memory: keep whichever NAPI the channel has.
    next.napi = old;
    next.napi_id = old != nullptr ? old->id() : 0;
  }
  give_ring_a_napi();
  next.owns_napi = true;  // the ring in service deletes its NAPI when it is freed
  napi_[q] = next.napi;
  rx_queue(q).napi = next.napi;  // kernel: netif_queue_set_napi()
  rx_[q] = std::move(mem.ring);
  rx_start_hw(*rx_[q], profile_.restart.firmware_quiesce);
  return 0;
}

int NicDriver::queue_restart(std::uint32_t queue) {
  if (queue >= real_num_rx_queues()) return -EINVAL;
  return core::netdev_rx_queue_restart(*this, queue);
}

// ---- pools, faults, introspection ----------------------------------------------------------------------------

page_pool::PagePool* NicDriver::header_pool(std::uint32_t queue) const {
  return queue < rx_.size() && rx_[queue] != nullptr ? rx_[queue]->hdr_pool : nullptr;
}

page_pool::PagePool* NicDriver::payload_pool(std::uint32_t queue) const {
  return queue < rx_.size() && rx_[queue] != nullptr ? rx_[queue]->pay_pool : nullptr;
}

void NicDriver::set_payload_alloc_fault(const page_pool::AllocFault& f) {
  pay_fault_ = f;
  for (auto& r : rx_) {
    if (r != nullptr && r->pay_pool != nullptr) r->pay_pool->set_alloc_fault(f);
  }
}

void NicDriver::clear_payload_alloc_fault() {
  pay_fault_.reset();
  for (auto& r : rx_) {
    if (r != nullptr && r->pay_pool != nullptr) r->pay_pool->clear_alloc_fault();
  }
}

std::uint64_t NicDriver::rx_buffers_held() const {
  std::uint64_t n = 0;
  for (const auto& r : rx_) {
    if (r == nullptr) continue;
    for (const auto& b : r->pay) n += b.nm ? 1 : 0;
    for (const auto& b : r->hdr) n += b.nm ? 1 : 0;
  }
  return n;
}

std::uint64_t NicDriver::tx_in_flight() const {
  std::uint64_t n = 0;
  for (const auto& t : tx_) {
    if (t != nullptr) n += t->prod - t->cons;
  }
  return n;
}

// ---- stat ops -----------------------------------------------------------------------------------------------------

void NicDriver::get_queue_stats_rx(const core::NetDevice&, int idx, core::QstatsRx& rx) const {
  const RxRing* r = rx_[static_cast<std::size_t>(idx)].get();
  if (r == nullptr) return;
  const auto& hs = nic_->rxq(r->queue).stats();
  const bool running = nic_->rx_queue_running(r->queue);
  rx.packets = r->c.packets;
  rx.bytes = r->c.bytes;
  rx.alloc_fail = r->c.alloc_fail;
  rx.hw_drops = r->c.hw_drops + (running ? hs.hw_drops - r->hw_drops_seen : 0);
  rx.hw_drop_overruns = r->c.hw_drop_overruns + (running ? hs.hw_drop_overruns - r->hw_overruns_seen : 0);
  rx.csum_unnecessary = r->c.csum_unnecessary;
  rx.csum_none = r->c.csum_none;
  rx.csum_bad = r->c.csum_bad;
}

void NicDriver::get_queue_stats_tx(const core::NetDevice&, int idx, core::QstatsTx& tx) const {
  const TxRing* t = tx_[static_cast<std::size_t>(idx)].get();
  if (t == nullptr) return;
  tx.packets = t->c.packets;
  tx.bytes = t->c.bytes;
  tx.hw_drops = t->c.hw_drops;
  tx.hw_drop_errors = t->c.hw_drop_errors;
  tx.needs_csum = t->c.needs_csum;
  tx.csum_none = t->c.csum_none;
  tx.stop = t->c.stop;
  tx.wake = t->c.wake;
}

void NicDriver::get_base_stats(const core::NetDevice&, core::QstatsRx& rx, core::QstatsTx& tx) const {
  rx.packets = base_rx_.packets;
  rx.bytes = base_rx_.bytes;
  rx.alloc_fail = base_rx_.alloc_fail;
  rx.hw_drops = base_rx_.hw_drops;
  rx.hw_drop_overruns = base_rx_.hw_drop_overruns;
  rx.csum_unnecessary = base_rx_.csum_unnecessary;
  rx.csum_none = base_rx_.csum_none;
  rx.csum_bad = base_rx_.csum_bad;
  tx.packets = base_tx_.packets;
  tx.bytes = base_tx_.bytes;
  tx.hw_drops = base_tx_.hw_drops;
  tx.hw_drop_errors = base_tx_.hw_drop_errors;
  tx.needs_csum = base_tx_.needs_csum;
  tx.csum_none = base_tx_.csum_none;
  tx.stop = base_tx_.stop;
  tx.wake = base_tx_.wake;
}

// ---- ethtool ops ----------------------------------------------------------------------------------------------------

std::uint32_t NicDriver::supported_ring_params() const {
  std::uint32_t s = 0;
  if (profile_.rings.rx_buf_len_allowed.size() > 1) s |= core::kRingUseRxBufLen;
  if (profile_.header_split.supported) s |= core::kRingUseTcpDataSplit;
  if (profile_.header_split.hds_thresh_max > 0) s |= core::kRingUseHdsThrs;
  return s;
}

void NicDriver::get_channels(const core::NetDevice&, core::EthtoolChannels& out) const {
  out = {};
  out.max_rx = profile_.channels.max.rx;
  out.max_tx = profile_.channels.max.tx;
  out.max_combined = profile_.channels.max.combined;
  if (combined_channels()) {
    out.combined_count = real_num_rx_queues();
  } else {
    // kernel: gve_get_channels() (and bnxt_get_channels without shared rings): RX and TX
    // queues apart, no combined (nor other) channels.
    out.rx_count = real_num_rx_queues();
    out.tx_count = real_num_tx_queues();
  }
}

int NicDriver::set_channels(core::NetDevice&, const core::EthtoolChannels& req) {
  std::uint32_t rx = 0, tx = 0;
  bool shared = shared_rings_;
  if (profile_.channels.max.combined != 0 && split_channels_supported()) {
    // kernel: bnxt_set_channels(): all combined or all rx/tx (the core merged the request with
    // the current counts, so leaving combined channels takes `combined 0`), never other ones.
    if (req.other_count != 0) return -EINVAL;
    if (req.combined_count == 0 && (req.rx_count == 0 || req.tx_count == 0)) return -EINVAL;
    if (req.combined_count != 0 && (req.rx_count != 0 || req.tx_count != 0)) return -EINVAL;
    shared = req.combined_count != 0;
    rx = shared ? req.combined_count : req.rx_count;
    tx = shared ? req.combined_count : req.tx_count;
  } else if (profile_.channels.max.combined != 0) {
    if (req.rx_count != 0 || req.tx_count != 0) return -EOPNOTSUPP;  // combined channels only
    rx = tx = req.combined_count;
  } else {
    // kernel: gve_set_channels(): "Changing combined is not allowed" (gve reports 0), and both
    // rx and tx must be non-zero; the maxima were checked by the core (ethnl_set_channels).
    if (req.combined_count != 0) return -EINVAL;
    rx = req.rx_count;
    tx = req.tx_count;
  }
  const std::uint32_t max_queues = profile_.channels.max_queues;
  if (rx == 0 || tx == 0 || rx > max_queues || tx > max_queues) return -EINVAL;
  const bool was_shared = shared_rings_;
  shared_rings_ = shared;
  const int err = apply_channels(rx, tx);
  if (err != 0) shared_rings_ = was_shared;
  return err;
}

int NicDriver::apply_channels(std::uint32_t rx, std::uint32_t tx) {
  const std::uint32_t old_rx = real_num_rx_queues();
  const std::uint32_t old_tx = real_num_tx_queues();
  if (is_up()) close_datapath();
  int err = set_real_num_rx_queues(rx);
  if (err == 0) err = set_real_num_tx_queues(tx);
  if (err == 0) {
    const auto s = nic_->steering().set_rx_queues(rx);
    if (!s.ok()) err = s.code;
  }
  if (err == 0 && !core_state.rxfh_configured) {
    // A table the user did not set follows the RX queue count (ethtool_rxfh_indir_default;
    // gve_set_channels: reset_rss unless netif_is_rxfh_configured).
    (void)nic_->steering().set_rxfh(0, hw::RxfhRequest{std::vector<std::uint32_t>{}, std::nullopt});
  }
  if (err != 0) {
    (void)set_real_num_rx_queues(old_rx);
    (void)set_real_num_tx_queues(old_tx);
  }
  if (is_up()) {
    ++dstats_.reconfigures;
    const int e2 = open_datapath();
    if (err == 0) err = e2;
  }
  return err;
}

void NicDriver::get_ringparam(const core::NetDevice&, core::EthtoolRingParam& out) const {
  out = {};
  out.rx_max_pending = profile_.rings.rx.max;
  out.tx_max_pending = profile_.rings.tx.max;
  out.rx_pending = rx_pending_;
  out.tx_pending = tx_pending_;
  out.rx_buf_len = rx_buf_len_;
  out.tcp_data_split = split_on() ? core::TcpDataSplit::kEnabled : core::TcpDataSplit::kDisabled;
  out.hds_thresh = hds_thresh;
  out.hds_thresh_max = profile_.header_split.hds_thresh_max;
}

int NicDriver::set_ringparam(core::NetDevice&, const core::EthtoolRingParam& req) {
  if (req.rx_pending < profile_.rings.rx.min || req.tx_pending < profile_.rings.tx.min) return -EINVAL;
  const auto& allowed = profile_.rings.rx_buf_len_allowed;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), req.rx_buf_len) == allowed.end()) return -EINVAL;
  if (req.tcp_data_split == core::TcpDataSplit::kEnabled && !profile_.header_split.supported) return -EOPNOTSUPP;
  rx_pending_ = req.rx_pending;
  tx_pending_ = req.tx_pending;
  rx_buf_len_ = req.rx_buf_len;
  // dev.hds_config / hds_thresh already hold the request (the core set them before calling).
  return reconfigure();
}

int NicDriver::get_coalesce(const core::NetDevice&, core::EthtoolCoalesce& out) const {
  out = coalesce_;
  return 0;
}

int NicDriver::set_coalesce(core::NetDevice&, const core::EthtoolCoalesce& req) {
  coalesce_ = req;
  nic_->set_coalesce(hw::IrqModerationConfig{req.rx_coalesce_usecs, req.rx_max_coalesced_frames});
  return 0;
}

int NicDriver::get_rss(const core::NetDevice&, core::EthtoolRss& out) const {
  const hw::RssContext* ctx = nic_->steering().rss_context(out.context);
  if (ctx == nullptr) return -ENOENT;
  out.key.assign(ctx->key().begin(), ctx->key().end());
  out.indir = ctx->indir();
  return 0;
}

int NicDriver::set_rss(core::NetDevice&, const core::EthtoolRss& req) {
  hw::RxfhRequest r;
  if (!req.indir.empty()) r.indir = req.indir;
  if (!req.key.empty()) r.key = req.key;
  const auto s = nic_->steering().set_rxfh(req.context, r);
  return s.ok() ? 0 : s.code;
}

int NicDriver::create_rss_context(core::NetDevice&, const core::EthtoolRss& req) {
  hw::RxfhRequest r;
  if (!req.indir.empty()) r.indir = req.indir;
  if (!req.key.empty()) r.key = req.key;
  auto res = nic_->steering().create_rss_context(r);
  if (!res.has_value()) return res.error().code;
  return static_cast<int>(res.value());
}

int NicDriver::remove_rss_context(core::NetDevice&, std::uint32_t context) {
  const auto s = nic_->steering().remove_rss_context(context);
  return s.ok() ? 0 : s.code;
}

namespace {

hw::FlowType to_hw(core::FlowType f) { return static_cast<hw::FlowType>(static_cast<std::uint32_t>(f)); }
core::FlowType to_core(hw::FlowType f) { return static_cast<core::FlowType>(static_cast<std::uint32_t>(f)); }

w::IpAddress to_ip(const std::array<std::uint8_t, 16>& b, bool v6) {
  if (v6) {
    w::Ipv6Address a{};
    std::copy(b.begin(), b.end(), a.octets.begin());
    return a;
  }
  w::Ipv4Address a{};
  std::copy(b.begin(), b.begin() + 4, a.octets.begin());
  return a;
}


}  // namespace

std::optional<core::NtupleRule> ntuple_rule_to_core(const hw::NtupleRule& h) {
  switch (h.flow_type) {
    case hw::FlowType::kTcpV4:
    case hw::FlowType::kUdpV4:
    case hw::FlowType::kTcpV6:
    case hw::FlowType::kUdpV6: break;
    default: return std::nullopt;  // ip4/ip6 hash flow types: no ntuple rules
  }
  core::NtupleRule r;
  r.flow_type = to_core(h.flow_type);
  r.src_ip = h.src_ip.bytes();
  r.src_ip_mask = h.src_ip_mask.bytes();
  r.dst_ip = h.dst_ip.bytes();
  r.dst_ip_mask = h.dst_ip_mask.bytes();
  r.src_port = h.src_port;
  r.src_port_mask = h.src_port_mask;
  r.dst_port = h.dst_port;
  r.dst_port_mask = h.dst_port_mask;
  r.action = h.action == hw::NtupleAction::kDrop         ? core::NtupleRule::Action::kDrop
             : h.action == hw::NtupleAction::kRssContext ? core::NtupleRule::Action::kRssContext
                                                         : core::NtupleRule::Action::kQueue;
  r.queue = h.queue;
  r.rss_context = h.rss_context;
  r.location = h.location;
  return r;
}

int NicDriver::get_ntuple_rules(const core::NetDevice&, std::vector<core::NtupleRule>& out) const {
  out.clear();
  for (const hw::NtupleRuleInfo& info : nic_->steering().ntuple_rules()) {
    if (auto r = ntuple_rule_to_core(info.rule)) out.push_back(*r);
  }
  return 0;
}

int NicDriver::set_ntuple_rule(core::NetDevice&, const core::NtupleRule& rule) {
  const bool v6 = rule.flow_type == core::FlowType::kTcp6 || rule.flow_type == core::FlowType::kUdp6;
  hw::NtupleRule h;
  h.flow_type = to_hw(rule.flow_type);
  h.src_ip = to_ip(rule.src_ip, v6);
  h.src_ip_mask = to_ip(rule.src_ip_mask, v6);
  h.dst_ip = to_ip(rule.dst_ip, v6);
  h.dst_ip_mask = to_ip(rule.dst_ip_mask, v6);
  h.src_port = rule.src_port;
  h.src_port_mask = rule.src_port_mask;
  h.dst_port = rule.dst_port;
  h.dst_port_mask = rule.dst_port_mask;
  h.action = rule.action == core::NtupleRule::Action::kDrop         ? hw::NtupleAction::kDrop
             : rule.action == core::NtupleRule::Action::kRssContext ? hw::NtupleAction::kRssContext
                                                                    : hw::NtupleAction::kQueue;
  h.queue = rule.queue;
  h.rss_context = rule.rss_context;
  h.location = rule.location;
  auto res = nic_->steering().insert_ntuple_rule(h, /*replace=*/true);
  if (!res.has_value()) return res.error().code;
  return static_cast<int>(res.value());
}

int NicDriver::del_ntuple_rule(core::NetDevice&, std::uint32_t location) {
  const auto s = nic_->steering().delete_ntuple_rule(location);
  return s.ok() ? 0 : s.code;
}

}  // namespace nicemu::nic::driver
