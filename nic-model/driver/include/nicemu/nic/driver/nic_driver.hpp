// nicemu/nic/driver/nic_driver.hpp — the driver of the emulated NIC: the only code that knows
// both the silicon (DMA addresses, descriptors, completions) and the host (netmems, page pools,
// skbs, NAPI).
//
// Models: a header-split driver in the style of bnxt and GVE DQO with the netdev queue API
//   (Linux 6.18):
//   - channel i is interrupt vector i and NAPI i, serving RX queue i and TX queue i where they
//     exist (bnxt_napi); on profiles with combined channels (bnxt, mlx5) the RX and TX counts
//     are one combined count, on profiles without them (gve) they are set apart and the device
//     has max(rx, tx) channels, the extra ones serving one direction only;
//   - RX queue memory (the queue API's blob): a header page pool (readable host pages, order 0,
//     DMA-mapped FROM_DEVICE, carved into header buffers with page_pool_alloc_frag as bnxt's
//     head_pool) when header split is on, and a payload page pool whose buffers are rx-buf-len
//     bytes, created with the queue index and PP_FLAG_ALLOW_UNREADABLE_NETMEM when header split is
//     on so that a memory provider bound to the queue is picked up (bnxt_alloc_rx_page_pool);
//     posted buffers are `netmem_get_dma_addr() + offset` with a buffer id that indexes the ring's
//     array of netmems (the silicon never sees a netmem);
//   - NAPI poll (budget 64): TX completions first (not counted against the budget), then RX
//     completions: the header bytes are copied into the skb's linear area and the header buffer
//     goes back to its pool; each payload buffer becomes a frag (skb_add_rx_frag, truesize
//     rx-buf-len) and the skb is marked for page-pool recycling; with header split off the
//     headers are pulled into the linear area (eth_get_headlen) and small frames are copied
//     whole (copybreak); RSS hash and checksum verdict go into the skb; GRO; the buffers are
//     refilled in batches and the RX doorbell rung once per poll; napi_complete_done, then the
//     interrupt is unmasked;
//   - TX: an skb whose frags are all host pages goes zero-copy: its linear part (the headers) is
//     copied into the first descriptor's slot of a region mapped once at open (drivers inline
//     headers likewise) and each frag is a descriptor at its page's dma-direct address (host
//     memory is direct-mapped for the device: no mapping is made per packet, as dma_map_page()
//     without an IOMMU); any other skb is copied whole into the slot (GVE's queue-page-list
//     mode does that for every packet). A packet takes 1 + nr_frags descriptors; CHECKSUM_PARTIAL
//     becomes the descriptor's csum_start/csum_offset; the skb is freed when its completion
//     comes; the queue stops when fewer than MAX_SKB_FRAGS + 1 descriptors are free and wakes when
//     half the ring is free (netif_tx_stop_queue / netif_tx_wake_queue);
//   - the queue management ops (mem_alloc, mem_free, start, stop) in the core's order, with the
//     profile's restart quirks: netdevsim-like NAPI handling modes 0-3, a restart scope (the
//     queue alone, every queue paused, or a whole-device reset) and a firmware quiesce latency
//     during which the queue drops what is steered to it;
//   - fault knobs for CI on mem_alloc, mem_free, stop, start and the rollback start (once, every
//     Nth call, every call from a simulated time on), page-pool allocation faults, and a delay
//     added to every descriptor fetch;
//   - ethtool ops: channels (combined; separate rx/tx without combined channels as
//     gve_get_channels / gve_set_channels; either, not both, on a profile with both kinds as
//     bnxt_set_channels with and without shared rings), rings (sizes, rx-buf-len,
//     tcp-data-split, hds-thresh), coalescing (rx-usecs, rx-frames), RSS key/table/contexts and ntuple rules, applied to the
//     silicon's Steering; a change of rings or channels while up reconfigures every queue (the
//     driver's close + open, as most drivers do);
//   - stat ops: per-queue qstats since the queue's memory was allocated, and base stats that
//     collect what freed queues counted, so device totals survive restarts and down/up.
// Not modelled: gve's separate notify blocks for TX and RX queues and bnxt's dedicated
//   completion rings without shared rings (here RX queue i and TX queue i share vector i), XDP,
//   TX timestamps, TSO on transmit (the stack sends MSS-sized segments; the silicon's TSO is
//   exercised by its own tests), RX page splitting/packing of several frames into one buffer,
//   IOMMU mappings per packet (host memory is direct-mapped), IRQ affinity changes.
// References: drivers/net/ethernet/broadcom/bnxt/bnxt.c (bnxt_queue_mem_alloc/start/stop/free,
//   bnxt_alloc_rx_page_pool), drivers/net/ethernet/google/gve/gve_rx_dqo.c, gve_tx.c (QPL),
//   drivers/net/netdevsim/netdev.c (modes 0-3), include/net/netdev_queues.h; DESIGN.md §3 step 5.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nicemu/base/byte_worker.hpp"
#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/netmem.hpp"
#include "nicemu/netstack/core/gro.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/op_fault.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/nic/hw/nic.hpp"
#include "nicemu/page_pool/page_pool.hpp"
#include "nicemu/sim/event_queue.hpp"

namespace nicemu::nic::driver {

// A fault on one driver operation (CI knobs): the core's, as the netdevsim-like test device uses.
using OpFault = netstack::core::OpFault;

struct DriverFaults {
  OpFault mem_alloc, mem_free, stop, start, rollback_start;
  // Added to every TX descriptor fetch and RX doorbell (a slow firmware / descriptor cache miss).
  sim::Duration descriptor_delay = sim::Duration::zero();
};

// The driver's own counters (beyond qstats), for the run summary.
struct DriverStats {
  std::uint64_t rx_skb_alloc_fail = 0;    // no skb for a completion: the frame is dropped
  std::uint64_t rx_restart_discards = 0;  // completions discarded by a queue stop
  std::uint64_t rx_refill_retries = 0;    // refill timer runs after an empty ring
  std::uint64_t tx_restart_discards = 0;  // packets in flight on a TX queue that was reset
  std::uint64_t tx_linearize_fail = 0;    // an skb that could not be copied (unreadable frags)
  std::uint64_t tx_zero_copy = 0;         // skbs sent from their own pages (headers inlined)
  std::uint64_t tx_bounced = 0;           // skbs copied whole into a bounce slot
  std::uint64_t reconfigures = 0;         // ring/channel changes applied while up
  std::uint64_t device_resets = 0;        // restarts done as whole-device resets (profile quirk)
};

// What the driver needs from the host it runs on.
class DriverHost {
 public:
  // The CPU that services channel `channel`'s interrupt (its IRQ affinity).
  virtual int irq_cpu(std::uint32_t channel) = 0;
  // The interrupt of `channel` scheduled its NAPI (already marked scheduled on irq_cpu): run
  // NicDriver::napi_poll(channel) in softirq context on that CPU when the host gets to it.
  virtual void napi_scheduled(class NicDriver& dev, std::uint32_t channel) = 0;
  // kernel: netif_receive_skb(): GRO's output, up the stack. Takes ownership.
  virtual void netif_receive_skb(class NicDriver& dev, netstack::core::SkBuff* skb) = 0;

 protected:
  ~DriverHost() = default;
};

struct NicDriverConfig {
  std::string name = "eth0";
  std::array<std::uint8_t, 6> mac{};
  std::uint32_t mtu = 1500;
  // The RX queue count, and the TX one too on a profile with combined channels (bnxt, mlx5).
  // 0: the profile's default.
  std::uint32_t combined = 0;
  // TX queues on a profile without combined channels (gve), or with `split_channels`: 0 means as
  // many as `combined` when that is set, else the profile's default. Ignored otherwise.
  std::uint32_t tx = 0;
  // Start with separate RX and TX channels on a profile that has both kinds (bnxt: non-shared
  // rings, `ethtool -L combined 0 rx N tx M`); `combined` is then the RX count.
  bool split_channels = false;
  std::uint32_t rx_ring = 0;   // 0: the profile's default
  std::uint32_t tx_ring = 0;
  std::uint32_t rx_buf_len = 0;
  std::uint64_t rx_fifo_bytes = 0;  // 0: the profile's pipeline.rx-fifo-bytes
  std::uint32_t copybreak = 256;  // frames up to this many bytes are copied whole (split off)
  std::uint32_t refill_batch = 32;
};

class NicDriver final : public netstack::core::NetDevice,
                        private netstack::core::NetdevQueueMgmtOps,
                        private netstack::core::NetdevStatOps,
                        private netstack::core::EthtoolOps {
 public:
  static constexpr std::uint32_t kMaxSkbFrags = 17;  // MAX_SKB_FRAGS
  static constexpr std::uint32_t kTxStopThreshold = kMaxSkbFrags + 1;

  // `dma` is the device's DMA space (its IOMMU domain); `skbs` the host's skb allocator. The
  // driver registers nothing itself: the host registers it in its netns, then opens it.
  NicDriver(sim::EventQueue& events, netmem::DmaSpace& dma, hw::Port& port, hw::FramePool& frames,
            const hw::NicProfile& profile, hw::Steering steering, const NicDriverConfig& cfg, DriverHost& host,
            netstack::core::SkbAllocator& skbs, const page_pool::CallerContext& ctx);
  ~NicDriver() override;

  hw::Nic& hw() { return *nic_; }
  const hw::Nic& hw() const { return *nic_; }
  const hw::NicProfile& profile() const { return profile_; }
  // The channels in use (interrupt vectors with a NAPI): max(RX queues, TX queues).
  std::uint32_t channels() const { return std::max(real_num_rx_queues(), real_num_tx_queues()); }

  // Runs channel `channel`'s NAPI poll if it is scheduled (the host calls this in softirq
  // context); returns the RX work done, or -1 when the NAPI was not scheduled (nothing ran).
  int napi_poll(std::uint32_t channel);
  netstack::core::Napi* channel_napi(std::uint32_t channel) const;

  // kernel: netdevsim's debugfs queue_reset: restart RX queue `queue` through the core
  // (netdev_rx_queue_restart) with the profile's restart mode.
  int queue_restart(std::uint32_t queue);

  DriverFaults faults;
  // kernel-visible page pools of RX queue `queue` (header, payload); nullptr where none.
  page_pool::PagePool* header_pool(std::uint32_t queue) const;
  page_pool::PagePool* payload_pool(std::uint32_t queue) const;
  // Arms an allocation fault on the payload pool of every RX queue (and of pools created later).
  void set_payload_alloc_fault(const page_pool::AllocFault& f);
  void clear_payload_alloc_fault();

  const DriverStats& driver_stats() const { return dstats_; }
  // Buffers the driver holds on RX rings (posted or waiting to be), all queues.
  std::uint64_t rx_buffers_held() const;
  // TX packets posted and not yet completed, all queues.
  std::uint64_t tx_in_flight() const;

  // ---- NetDevice ----------------------------------------------------------------------------------------
  netstack::core::NetdevTx start_xmit(netstack::core::SkBuff* skb) override;
  netstack::core::NetdevQueueMgmtOps* queue_mgmt_ops() override { return this; }
  const netstack::core::NetdevStatOps* stat_ops() const override { return this; }
  netstack::core::EthtoolOps* ethtool_ops() override { return this; }

 protected:
  int ndo_open() override;
  int ndo_stop() override;

 private:
  struct RxBuf {
    netmem::NetmemRef nm = netmem::NetmemRef::none();
    std::uint32_t offset = 0;
    bool posted = false;  // given to the silicon (until its completion or a stop)
  };
  // Counters of one queue object, folded into the base when it is freed.
  struct RxCounters {
    std::uint64_t packets = 0, bytes = 0, alloc_fail = 0, hw_drops = 0, hw_drop_overruns = 0;
    std::uint64_t csum_unnecessary = 0, csum_none = 0, csum_bad = 0;
  };
  // One RX queue's memory (kernel: the queue API blob's content, bnxt_rx_ring_info).
  struct RxRing {
    std::uint32_t queue = 0;
    netstack::core::Napi* napi = nullptr;  // the NAPI serving this ring
    std::uint32_t napi_id = 0;
    bool owns_napi = false;                // freeing the ring deletes the NAPI
    page_pool::PagePool* hdr_pool = nullptr;
    page_pool::PagePool* pay_pool = nullptr;
    hw::RxQueueHw::Config hw_cfg;
    std::uint32_t buf_len = 4096;
    std::uint32_t hdr_len = 256;
    std::vector<RxBuf> hdr, pay;              // by buffer id
    std::vector<std::uint32_t> hdr_free, pay_free;  // ids without a netmem
    std::uint64_t hw_drops_seen = 0, hw_overruns_seen = 0;  // of the silicon queue, folded
    RxCounters c;
    bool refill_timer = false;
    bool hw_started = false;      // the silicon queue runs on this ring's buffers
    std::uint64_t start_seq = 0;  // the one rx_start_hw still allowed to run (0: none)
  };
  struct TxCounters {
    std::uint64_t packets = 0, bytes = 0, hw_drops = 0, hw_drop_errors = 0, needs_csum = 0, csum_none = 0;
    std::uint64_t stop = 0, wake = 0;
  };
  struct TxRing {
    std::uint32_t queue = 0;
    std::uint32_t size = 0;
    std::uint32_t slot_bytes = 0;
    // Bounce slots (GVE QPL style), calloc'd: fresh pages come zeroed from the kernel, so a ring
    // costs only the slots it touches (a memset of every slot cost ~10% of a short run).
    struct FreeDeleter {
      void operator()(std::byte* p) const {
        base::ByteWorker::get().drain();  // a TX job may still read a slot
        std::free(p);
      }
    };
    std::unique_ptr<std::byte, FreeDeleter> bounce;
    std::size_t bounce_bytes = 0;
    netmem::DmaAddr bounce_dma = 0;
    std::vector<netstack::core::SkBuff*> skbs;  // by slot
    // By slot: the byte worker job that last read the slot's bounce bytes (0: none); start_xmit
    // waits for it before it writes the slot again.
    std::vector<std::uint64_t> slot_jobs;
    std::uint64_t prod = 0, cons = 0;
    TxCounters c;
  };
  struct DriverQueueMem;

  // ---- queue management ops -----------------------------------------------------------------------------
  std::unique_ptr<netstack::core::QueueMem> ndo_queue_mem_blob() override;
  int ndo_queue_mem_alloc(netstack::core::NetDevice& dev, netstack::core::QueueMem& mem, int idx) override;
  void ndo_queue_mem_free(netstack::core::NetDevice& dev, netstack::core::QueueMem& mem) override;
  int ndo_queue_start(netstack::core::NetDevice& dev, netstack::core::QueueMem& mem, int idx) override;
  int ndo_queue_stop(netstack::core::NetDevice& dev, netstack::core::QueueMem& mem, int idx) override;

  // ---- stat ops -----------------------------------------------------------------------------------------------
  void get_queue_stats_rx(const netstack::core::NetDevice& dev, int idx, netstack::core::QstatsRx& rx) const override;
  void get_queue_stats_tx(const netstack::core::NetDevice& dev, int idx, netstack::core::QstatsTx& tx) const override;
  void get_base_stats(const netstack::core::NetDevice& dev, netstack::core::QstatsRx& rx,
                      netstack::core::QstatsTx& tx) const override;

  // ---- ethtool ops --------------------------------------------------------------------------------------------
  std::uint32_t supported_ring_params() const override;
  void get_channels(const netstack::core::NetDevice& dev, netstack::core::EthtoolChannels& out) const override;
  int set_channels(netstack::core::NetDevice& dev, const netstack::core::EthtoolChannels& req) override;
  void get_ringparam(const netstack::core::NetDevice& dev, netstack::core::EthtoolRingParam& out) const override;
  int set_ringparam(netstack::core::NetDevice& dev, const netstack::core::EthtoolRingParam& req) override;
  int get_coalesce(const netstack::core::NetDevice& dev, netstack::core::EthtoolCoalesce& out) const override;
  int set_coalesce(netstack::core::NetDevice& dev, const netstack::core::EthtoolCoalesce& req) override;
  int get_rss(const netstack::core::NetDevice& dev, netstack::core::EthtoolRss& out) const override;
  int set_rss(netstack::core::NetDevice& dev, const netstack::core::EthtoolRss& req) override;
  int create_rss_context(netstack::core::NetDevice& dev, const netstack::core::EthtoolRss& req) override;
  int remove_rss_context(netstack::core::NetDevice& dev, std::uint32_t context) override;
  int get_ntuple_rules(const netstack::core::NetDevice& dev,
                       std::vector<netstack::core::NtupleRule>& out) const override;
  int set_ntuple_rule(netstack::core::NetDevice& dev, const netstack::core::NtupleRule& rule) override;
  int del_ntuple_rule(netstack::core::NetDevice& dev, std::uint32_t location) override;

  // ---- RX ----------------------------------------------------------------------------------------------------
  hw::RxQueueHw::Config rx_hw_config() const;
  bool split_on() const;
  int rx_ring_alloc(RxRing& r, std::uint32_t queue, netstack::core::Napi* napi);
  void rx_ring_free(RxRing& r);
  void rx_ring_post_all(RxRing& r);
  bool post_payload(hw::RxQueueHw& hq, RxRing& r, std::uint32_t id);
  bool post_header(hw::RxQueueHw& hq, RxRing& r, std::uint32_t id);  // a fresh start of the silicon queue: post every buffer held
  // Allocates buffers for free ids (up to the ring size); returns how many were posted.
  std::uint32_t rx_refill(RxRing& r, bool post);
  void rx_stop_hw(RxRing& r);
  void rx_ring_renew(std::uint32_t queue);  // new memory for a running queue (device reset)
  void rx_start_hw(RxRing& r, sim::Duration after);
  int rx_poll(std::uint32_t channel, RxRing& r, int budget);
  netstack::core::SkBuff* rx_build_skb(RxRing& r, const hw::RxCompletion& c);
  void rx_put_buf(page_pool::PagePool* pool, RxBuf& b, std::vector<std::uint32_t>& free_ids, std::uint32_t id,
                  bool direct);
  void fold_rx(RxRing& r);
  void arm_refill_timer(RxRing& r);
  void rx_ring_doorbell(RxRing& r);  // with faults.descriptor_delay

  // ---- TX ----------------------------------------------------------------------------------------------------
  int tx_ring_alloc(TxRing& t, std::uint32_t queue);
  void tx_ring_free(TxRing& t);
  void settle_tx_bytes(TxRing& t, const hw::TxCompletion& c, const netstack::core::SkBuff* skb);
  int tx_clean(std::uint32_t channel);
  std::uint32_t tx_free_descs(const TxRing& t) const { return t.size - static_cast<std::uint32_t>(t.prod - t.cons); }

  // ---- channels / NAPI ---------------------------------------------------------------------------------------
  // The profile counts channels as combined RX+TX pairs (max combined > 0), or as RX and TX
  // queues set apart (gve: max combined 0).
  // kernel: BNXT_FLAG_SHARED_RINGS — combined channels (an RX and a TX ring on one completion
  // ring) while set. A profile with no combined channels (gve) never shares; one with both kinds
  // (bnxt: max combined and max rx/tx) switches with ethtool -L.
  bool combined_channels() const { return shared_rings_; }
  bool split_channels_supported() const {
    return profile_.channels.max.rx != 0 && profile_.channels.max.tx != 0;
  }
  // Sets the RX and TX queue counts (close + open of the datapath while up); the RSS table
  // follows the RX count unless the user configured it.
  int apply_channels(std::uint32_t rx, std::uint32_t tx);
  netstack::core::Napi& add_napi(std::uint32_t channel);
  void del_napi(netstack::core::Napi* napi);
  void on_irq(std::uint32_t channel);
  int reconfigure();  // close + open of the datapath while the device stays up
  int open_datapath();
  void close_datapath();

  sim::EventQueue& events_;
  hw::NicProfile profile_;
  NicDriverConfig cfg_;
  DriverHost& host_;
  netstack::core::SkbAllocator& skbs_;
  const page_pool::CallerContext& ctx_;
  std::unique_ptr<hw::Nic> nic_;
  // Current settings (ethtool).
  std::uint32_t rx_pending_, tx_pending_, rx_buf_len_;
  netstack::core::EthtoolCoalesce coalesce_;
  std::uint32_t restart_mode_ = 0;
  bool shared_rings_ = true;  // see combined_channels()
  std::vector<std::unique_ptr<RxRing>> rx_;     // current memory per RX queue (null: none)
  std::vector<std::unique_ptr<TxRing>> tx_;
  std::vector<netstack::core::Napi*> napi_;    // per channel: the NAPI its interrupt schedules
  std::vector<std::unique_ptr<netstack::core::GroContext>> gro_;  // per channel
  // Base stats: what freed queue objects counted.
  RxCounters base_rx_;
  TxCounters base_tx_;
  std::optional<page_pool::AllocFault> pay_fault_;
  DriverStats dstats_;
  std::uint64_t rx_start_seq_ = 0;  // numbers the rx_start_hw calls
};

// A rule as the silicon's steering holds it, in ethtool's form (struct ethtool_rx_flow_spec) as
// the core takes it; nullopt for hash-only flow types (ip4, ip6) that have no ntuple rules.
std::optional<netstack::core::NtupleRule> ntuple_rule_to_core(const hw::NtupleRule& rule);

}  // namespace nicemu::nic::driver
