// FakeNetDevice — a netdevsim-like device for control-path tests of netstack/core: queue
// restart, memory-provider install, ethtool-like validation and the netdev netlink queries.
//
// Models: drivers/net/netdevsim/netdev.c (Linux 6.18), §6.6 of the reference:
//   - N RX and N TX queues; one receive queue object per RX queue (nsim_rq) allocated at
//     construction; open creates one NAPI and one page pool per RX queue (all num_rx_queues, as
//     nsim_init_napi does) and links each NAPI to its queue; stop deletes them;
//   - page pools: order 0, pool_size 256, nid NUMA_NO_NODE, napi, netdev and queue_idx set,
//     DMA_BIDIRECTIONAL. Unlike netdevsim, when the core's hds_config is kEnabled the pools get
//     DMA_MAP | DMA_SYNC_DEV | ALLOW_UNREADABLE_NETMEM (max_len PAGE_SIZE) so providers can be
//     bound; `ignore_provider` leaves ALLOW_UNREADABLE out (-> -ENODATA at restart);
//   - queue management ops with netdevsim's reset modes 0–3 (queue_reset(idx, mode), like the
//     debugfs file): 0 new NAPI + new pool, the new NAPI added while the old one is still
//     enabled; 1 only a new pool (mem_alloc -ENETDOWN when down); 2 new NAPI + pool, old NAPI
//     deleted before the new one is added (in start); 3 new NAPI added before the old one is
//     deleted; > 3 -EINVAL;
//   - pp_hold(true/false) like the debugfs file: hold one buffer of RX queue 0's pool;
//   - stat ops: per-queue rx/tx packets and bytes (and rx alloc_fail) counters bumped by tests,
//     folded into base stats when a queue object is freed or a channel goes away, so device
//     totals never go backwards; base stats report alloc_fail only once some was folded (a
//     counter only the queues report until then); ethtool ops that store what they are given (channels with
//     max_combined = N, rings with TCP_DATA_SPLIT | HDS_THRS support and hds_thresh_max 1024, coalesce, RSS key, table
//     and contexts, ntuple rules).
// Departures from netdevsim (each for testability or because our objects differ):
//   - Fault knobs on every queue op and on blob allocation (once / every Nth / always, errno).
//     A start on the memory that stop filled is the rollback start and uses its own knob.
//   - Our Napi objects exist only while added to the device, so a mode-0 NAPI is added just
//     before its pool is created (netdevsim: just after), and mode-2/3 pools, created before
//     their NAPI exists, have no NAPI (no napi-id, no NAPI-local direct recycling).
//   - A pool forgets its NAPI (page_pool_disable_direct_recycling) before the NAPI is deleted.
//   - queue start also links the queue to its NAPI (netif_queue_set_napi) so queue-get shows
//     the NAPI after a restart; netdevsim links only at open.
//   - mem_free deletes a NAPI that is still added whatever the mode (netdevsim only in mode 0,
//     which differs only after a failed rollback); a queue whose memory was freed by a failed
//     rollback is "dead" (no queue object) until a later restart or open gives it a new one.
//   - No data path: start_xmit refuses every skb (kBusy).
// References: drivers/net/netdevsim/{netdev.c,ethtool.c}; ../shared/reference/
//   linux-kernel-semantics.md §6.6, §7.4, §7.5.
#pragma once

#include <cerrno>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/netmem.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/netdev_core_state.hpp"
#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/netstack/core/op_fault.hpp"
#include "nicemu/page_pool/page_pool.hpp"
#include "nicemu/sim/time.hpp"
#include "page_pool_fixtures.hpp"

namespace nicemu::testing {

// A fault on one driver operation (shared with the NIC model's driver).
using OpFault = netstack::core::OpFault;

class FakeNetDevice;

// The receive queue object (kernel: struct nsim_rq).
struct FakeRxQueue {
  netstack::core::Napi* napi = nullptr;  // non-null while added to the device
  bool napi_enabled = false;
  page_pool::PagePool* page_pool = nullptr;
  std::uint64_t rx_packets = 0;  // since this queue object was created
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_alloc_fail = 0;
};

// The per-queue memory blob (kernel: struct nsim_queue_mem).
struct FakeQueueMem final : netstack::core::QueueMem {
  explicit FakeQueueMem(FakeNetDevice& dev);
  ~FakeQueueMem() override;
  FakeNetDevice& dev;
  FakeRxQueue* rq = nullptr;          // modes 0, 2, 3
  page_pool::PagePool* pp = nullptr;  // mode 1
  bool filled_by_stop = false;        // this blob holds the stopped (old) queue
  std::uint32_t queue = 0;
};

class FakeNetDevice final : public netstack::core::NetDevice,
                            private netstack::core::NetdevQueueMgmtOps,
                            private netstack::core::NetdevStatOps,
                            private netstack::core::EthtoolOps {
 public:
  static constexpr std::uint32_t kRingSize = 256;       // NSIM_RING_SIZE
  static constexpr std::uint32_t kHdsThreshMax = 1024;  // NSIM_HDS_THRESHOLD_MAX
  static constexpr std::uint32_t kMaxPending = 4096;
  static constexpr std::uint32_t kRssIndirSize = 128;
  static constexpr std::uint32_t kRssKeySize = 40;

  FakeNetDevice(netmem::DmaSpace& dma, std::uint32_t queues, std::string name = "nsim0");
  ~FakeNetDevice() override;

  // ---- knobs --------------------------------------------------------------------------------------
  bool ignore_provider = false;  // pools without ALLOW_UNREADABLE_NETMEM
  bool queue_api = true;         // false: no queue management ops
  bool stats_api = true;         // false: no stat ops (like lo)
  // ethtool_ops.supported_ring_params (netdevsim: TCP_DATA_SPLIT | HDS_THRS)
  std::uint32_t ring_params_supported = netstack::core::kRingUseTcpDataSplit | netstack::core::kRingUseHdsThrs;
  OpFault fault_blob;  // ndo_queue_mem_blob (the core's kvzalloc)
  OpFault fault_mem_alloc;
  OpFault fault_stop;
  OpFault fault_start;           // start of newly allocated memory
  OpFault fault_rollback_start;  // start of the memory stop filled (the core's rollback)
  OpFault fault_set_ringparam;   // the driver refuses a ring configuration

  // kernel: debugfs queue_reset "<queue> <mode>": -EINVAL if queue >= real_num_rx_queues, else
  // netdev_rx_queue_restart() with reset mode `mode`.
  int queue_reset(std::uint32_t queue, std::uint32_t mode);
  // kernel: debugfs pp_hold: true holds one buffer of RX queue 0's pool (-ENETDOWN when down),
  // false puts it back into whatever pool it came from (possibly detached by now).
  int pp_hold(bool hold);
  bool pp_held() const { return static_cast<bool>(held_); }

  // Traffic counters (no data path): add to queue `queue`'s per-queue stats.
  void count_rx(std::uint32_t queue, std::uint64_t packets, std::uint64_t bytes);
  void count_rx_alloc_fail(std::uint32_t queue, std::uint64_t n);
  void count_tx(std::uint32_t queue, std::uint64_t packets, std::uint64_t bytes);

  // ---- introspection (never changes state) --------------------------------------------------------
  // Queue ops and NAPI changes in call order: "mem_alloc 3", "napi_add 3", "stop 3",
  // "start(new) 3", "start(old) 3", "napi_del 3", "mem_free(old) 3", "mem_free(new) 3".
  const std::vector<std::string>& ops_log() const { return ops_log_; }
  void clear_ops_log() { ops_log_.clear(); }
  const FakeRxQueue* rx_ring(std::uint32_t queue) const { return rq_.at(queue); }
  page_pool::PagePool* rx_page_pool(std::uint32_t queue) const;
  std::size_t queue_objects() const { return rq_owned_.size(); }
  int blobs_alive() const { return blobs_alive_; }
  // Blobs destroyed while still holding a queue or a pool: the core forgot a mem_free.
  int blob_leaks() const { return blob_leaks_; }

  struct DriverCalls {
    int set_channels = 0, set_ringparam = 0, set_coalesce = 0, set_rss = 0;
    int create_rss_context = 0, remove_rss_context = 0, set_ntuple_rule = 0, del_ntuple_rule = 0;
  };
  const DriverCalls& driver_calls() const { return calls_; }

  // The state ethtool ops store.
  netstack::core::EthtoolRingParam ring;  // rx/tx pending, rx_buf_len, tcp_data_split, hds_thresh
  netstack::core::EthtoolCoalesce coalesce;
  std::vector<std::uint8_t> rss_key;
  std::vector<std::uint32_t> rss_indir;
  std::map<std::uint32_t, netstack::core::EthtoolRss> rss_contexts;
  std::map<std::uint32_t, netstack::core::NtupleRule> ntuple_rules;

  // ---- NetDevice --------------------------------------------------------------------------------------
  netstack::core::NetdevTx start_xmit(netstack::core::SkBuff*) override {
    ++tx_refused_;
    return netstack::core::NetdevTx::kBusy;
  }
  netstack::core::NetdevQueueMgmtOps* queue_mgmt_ops() override { return queue_api ? this : nullptr; }
  const netstack::core::NetdevStatOps* stat_ops() const override { return stats_api ? this : nullptr; }
  netstack::core::EthtoolOps* ethtool_ops() override { return this; }

 protected:
  int ndo_open() override;
  int ndo_stop() override;

 private:
  friend struct FakeQueueMem;

  // ---- queue management ops ---------------------------------------------------------------------
  std::unique_ptr<netstack::core::QueueMem> ndo_queue_mem_blob() override;
  int ndo_queue_mem_alloc(netstack::core::NetDevice& dev, netstack::core::QueueMem& mem, int idx) override;
  void ndo_queue_mem_free(netstack::core::NetDevice& dev, netstack::core::QueueMem& mem) override;
  int ndo_queue_start(netstack::core::NetDevice& dev, netstack::core::QueueMem& mem, int idx) override;
  int ndo_queue_stop(netstack::core::NetDevice& dev, netstack::core::QueueMem& mem, int idx) override;

  // ---- stat ops -----------------------------------------------------------------------------------------
  void get_queue_stats_rx(const netstack::core::NetDevice& dev, int idx, netstack::core::QstatsRx& rx) const override;
  void get_queue_stats_tx(const netstack::core::NetDevice& dev, int idx, netstack::core::QstatsTx& tx) const override;
  void get_base_stats(const netstack::core::NetDevice& dev, netstack::core::QstatsRx& rx,
                      netstack::core::QstatsTx& tx) const override;

  // ---- ethtool ops --------------------------------------------------------------------------------------
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

  // ---- helpers ------------------------------------------------------------------------------------------
  FakeRxQueue* new_queue_object();
  void free_queue_object(FakeRxQueue* rq);
  void napi_add_to(FakeRxQueue& rq, std::uint32_t queue);
  void napi_del_from(FakeRxQueue& rq, std::uint32_t queue);
  int create_page_pool(FakeRxQueue& rq, std::uint32_t queue, page_pool::PagePool** out);
  void destroy_page_pool(page_pool::PagePool* pool);
  void release_mem(FakeQueueMem& mem);
  void fold_rx_counters(FakeRxQueue& rq);
  void default_rss_indir();
  void log(std::string what, std::uint32_t queue) { ops_log_.push_back(std::move(what) + " " + std::to_string(queue)); }

  std::uint32_t rq_reset_mode_ = 0;
  std::vector<FakeRxQueue*> rq_;  // current queue object per RX queue (kernel: ns->rq[])
  std::unordered_map<const FakeRxQueue*, std::unique_ptr<FakeRxQueue>> rq_owned_;
  netmem::NetmemRef held_;
  std::vector<std::string> ops_log_;
  int blobs_alive_ = 0;
  int blob_leaks_ = 0;
  std::uint64_t tx_refused_ = 0;
  DriverCalls calls_;
  // Stats of queue objects that no longer exist (kernel: what get_base_stats makes up for).
  std::uint64_t base_rx_packets_ = 0, base_rx_bytes_ = 0, base_rx_alloc_fail_ = 0;
  std::uint64_t base_tx_packets_ = 0, base_tx_bytes_ = 0;
  std::vector<std::uint64_t> tx_packets_, tx_bytes_;
  std::uint32_t next_rss_context_ = 1;
};

// One host for control-path tests: memory, a DMA space, a manual clock, the page pool registry,
// a netns, devmem-shaped providers and one registered FakeNetDevice (down until opened).
// Members are destroyed device first, so the device closes while its pools' providers live.
struct NetdevHost {
  explicit NetdevHost(std::uint32_t queues = 4) : dev(pools.dma, queues) { net.register_netdevice(dev); }

  // A provider with `niovs` net_iovs (binding id = its number, from 1).
  NiovTestProvider& provider(std::size_t niovs = 64) {
    return providers.emplace_back(niovs, static_cast<std::uint32_t>(providers.size() + 1));
  }
  // The configuration a provider needs, as `ethtool -G tcp-data-split on hds-thresh 0` leaves it.
  void enable_hds() {
    dev.hds_config = netstack::core::TcpDataSplit::kEnabled;
    dev.hds_thresh = 0;
  }
  // Runs the page pools' release retries up to now + `d`, as the host's event loop will.
  void advance(sim::Duration d) {
    const sim::TimePoint until = pools.clock.now() + d;
    while (auto next = pools.registry.next_release_retry()) {
      if (*next > until) break;
      pools.clock.set(*next);
      pools.registry.run_release_retries(*next);
    }
    pools.clock.set(until);
  }
  std::uint32_t ifindex() const { return static_cast<std::uint32_t>(dev.ifindex()); }

  PoolHost pools;
  std::deque<NiovTestProvider> providers;
  netstack::core::NetNs net{pools.registry};
  FakeNetDevice dev;
};

}  // namespace nicemu::testing
