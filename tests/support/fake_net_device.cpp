// FakeNetDevice: see fake_net_device.hpp. Kernel counterpart: drivers/net/netdevsim/netdev.c.
#include "fake_net_device.hpp"

#include <algorithm>
#include <utility>

#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"
#include "nicemu/netstack/core/netns.hpp"

namespace nicemu::testing {

using netstack::core::EthtoolChannels;
using netstack::core::EthtoolCoalesce;
using netstack::core::EthtoolRingParam;
using netstack::core::EthtoolRss;
using netstack::core::NetDevice;
using netstack::core::NtupleRule;
using netstack::core::QstatsRx;
using netstack::core::QstatsTx;
using netstack::core::QueueMem;
using netstack::core::TcpDataSplit;

FakeQueueMem::FakeQueueMem(FakeNetDevice& d) : dev(d) { ++dev.blobs_alive_; }

FakeQueueMem::~FakeQueueMem() {
  --dev.blobs_alive_;
  if (rq != nullptr || pp != nullptr) {
    ++dev.blob_leaks_;
    dev.release_mem(*this);
  }
}

FakeNetDevice::FakeNetDevice(netmem::DmaSpace& dma, std::uint32_t queues, std::string name)
    : NetDevice(std::move(name), queues, queues), rq_(queues, nullptr), tx_packets_(queues, 0), tx_bytes_(queues, 0) {
  dma_dev = &dma;
  features |= netstack::core::kNetifFNtuple;
  // kernel: nsim_queue_init() allocates every receive queue object up front.
  for (std::uint32_t i = 0; i < queues; ++i) rq_[i] = new_queue_object();
  ring.rx_max_pending = kMaxPending;
  ring.tx_max_pending = kMaxPending;
  ring.rx_pending = 512;
  ring.tx_pending = 512;
  ring.hds_thresh_max = kHdsThreshMax;
  rss_key.resize(kRssKeySize);
  for (std::uint32_t i = 0; i < kRssKeySize; ++i) rss_key[i] = static_cast<std::uint8_t>(0x6d + 7 * i);
  default_rss_indir();
}

FakeNetDevice::~FakeNetDevice() {
  // kernel: nsim_destroy() returns a held page, then unregisters (which closes the device).
  if (held_) (void)pp_hold(false);
  if (is_registered()) netns()->unregister_netdevice(*this);
}

// ---- objects ------------------------------------------------------------------------------------------

FakeRxQueue* FakeNetDevice::new_queue_object() {
  auto rq = std::make_unique<FakeRxQueue>();
  FakeRxQueue* raw = rq.get();
  rq_owned_.emplace(raw, std::move(rq));
  return raw;
}

void FakeNetDevice::fold_rx_counters(FakeRxQueue& rq) {
  base_rx_packets_ += rq.rx_packets;
  base_rx_bytes_ += rq.rx_bytes;
  base_rx_alloc_fail_ += rq.rx_alloc_fail;
  rq.rx_packets = 0;
  rq.rx_bytes = 0;
  rq.rx_alloc_fail = 0;
}

void FakeNetDevice::free_queue_object(FakeRxQueue* rq) {
  fold_rx_counters(*rq);
  // A queue whose current object goes away is dead until a restart or open replaces it.
  std::replace(rq_.begin(), rq_.end(), rq, static_cast<FakeRxQueue*>(nullptr));
  rq_owned_.erase(rq);
}

void FakeNetDevice::napi_add_to(FakeRxQueue& rq, std::uint32_t queue) {
  NICEMU_ASSERT(rq.napi == nullptr, "FakeNetDevice: NAPI added twice");
  rq.napi = &napi_add([](int) { return 0; });
  rq.napi_enabled = false;
  log("napi_add", queue);
}

void FakeNetDevice::napi_del_from(FakeRxQueue& rq, std::uint32_t queue) {
  NICEMU_ASSERT(rq.napi != nullptr, "FakeNetDevice: deleting a NAPI that is not added");
  // Our Napi dies here; a pool that points at it must forget it first.
  if (rq.page_pool != nullptr) rq.page_pool->disable_direct_recycling();
  napi_del(*rq.napi);
  rq.napi = nullptr;
  rq.napi_enabled = false;
  log("napi_del", queue);
}

// kernel: nsim_create_page_pool() (+ the flags that make providers bindable, see the header).
int FakeNetDevice::create_page_pool(FakeRxQueue& rq, std::uint32_t queue, page_pool::PagePool** out) {
  page_pool::PagePoolParams p;
  p.order = 0;
  p.pool_size = kRingSize;
  p.nid = page_pool::kNumaNoNode;
  p.dev = dma_dev;
  p.napi = rq.napi != nullptr ? rq.napi->pp_owner() : nullptr;
  p.dma_dir = netmem::DmaDirection::kBidirectional;
  p.netdev = this;
  p.queue_idx = queue;
  if (hds_config == TcpDataSplit::kEnabled) {
    p.flags = page_pool::kPpFlagDmaMap | page_pool::kPpFlagDmaSyncDev;
    p.max_len = netmem::kPageSize;
    if (!ignore_provider) p.flags |= page_pool::kPpFlagAllowUnreadableNetmem;
  }
  auto r = netns()->page_pools().create(p);
  if (!r.has_value()) return r.error().code;
  *out = r.value();
  return 0;
}

void FakeNetDevice::destroy_page_pool(page_pool::PagePool* pool) {
  // A queue object still pointing at the pool forgets it (mode 1 after a failed rollback).
  for (FakeRxQueue* rq : rq_) {
    if (rq != nullptr && rq->page_pool == pool) rq->page_pool = nullptr;
  }
  pool->destroy();
}

page_pool::PagePool* FakeNetDevice::rx_page_pool(std::uint32_t queue) const {
  const FakeRxQueue* rq = rq_.at(queue);
  return rq != nullptr ? rq->page_pool : nullptr;
}

// ---- open / stop (kernel: nsim_open / nsim_stop) -------------------------------------------------------

int FakeNetDevice::ndo_open() {
  const std::uint32_t n = num_rx_queues();
  for (std::uint32_t i = 0; i < n; ++i) {
    if (rq_[i] == nullptr) rq_[i] = new_queue_object();  // a queue left dead by a failed rollback
    napi_add_to(*rq_[i], i);
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    const int err = create_page_pool(*rq_[i], i, &rq_[i]->page_pool);
    if (err != 0) {
      while (i-- > 0) destroy_page_pool(rq_[i]->page_pool);
      for (std::uint32_t j = 0; j < n; ++j) napi_del_from(*rq_[j], j);
      return err;
    }
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    rx_queue(i).napi = rq_[i]->napi;  // kernel: netif_queue_set_napi()
    rq_[i]->napi_enabled = true;
  }
  return 0;
}

int FakeNetDevice::ndo_stop() {
  for (std::uint32_t i = 0; i < num_rx_queues(); ++i) {
    if (rq_[i] != nullptr && rq_[i]->napi != nullptr) napi_del_from(*rq_[i], i);
  }
  for (FakeRxQueue* rq : rq_) {
    if (rq != nullptr && rq->page_pool != nullptr) destroy_page_pool(rq->page_pool);
  }
  return 0;
}

// ---- queue management ops (kernel: nsim_queue_mgmt_ops) ----------------------------------------------

std::unique_ptr<QueueMem> FakeNetDevice::ndo_queue_mem_blob() {
  if (fault_blob.fires()) return nullptr;
  return std::make_unique<FakeQueueMem>(*this);
}

int FakeNetDevice::ndo_queue_mem_alloc(NetDevice&, QueueMem& mem_base, int idx) {
  auto& mem = static_cast<FakeQueueMem&>(mem_base);
  const auto queue = static_cast<std::uint32_t>(idx);
  mem.queue = queue;
  log("mem_alloc", queue);
  if (fault_mem_alloc.fires()) return fault_mem_alloc.err;
  if (rq_reset_mode_ > 3) return -EINVAL;
  if (rq_reset_mode_ == 1) {
    if (!is_up()) return -ENETDOWN;
    if (rq_[queue] == nullptr) return -EIO;  // a dead queue has no NAPI to give the pool
    return create_page_pool(*rq_[queue], queue, &mem.pp);
  }
  FakeRxQueue* rq = new_queue_object();
  if (rq_reset_mode_ == 0) napi_add_to(*rq, queue);
  const int err = create_page_pool(*rq, queue, &rq->page_pool);
  if (err != 0) {
    if (rq->napi != nullptr) napi_del_from(*rq, queue);
    free_queue_object(rq);
    return err;
  }
  mem.rq = rq;
  return 0;
}

void FakeNetDevice::release_mem(FakeQueueMem& mem) {
  if (mem.pp != nullptr) {
    destroy_page_pool(mem.pp);
    mem.pp = nullptr;
  }
  if (mem.rq != nullptr) {
    FakeRxQueue* rq = mem.rq;
    mem.rq = nullptr;
    if (rq->napi != nullptr) napi_del_from(*rq, mem.queue);
    if (rq->page_pool != nullptr) destroy_page_pool(rq->page_pool);
    free_queue_object(rq);
  }
}

void FakeNetDevice::ndo_queue_mem_free(NetDevice&, QueueMem& mem_base) {
  auto& mem = static_cast<FakeQueueMem&>(mem_base);
  log(mem.filled_by_stop ? "mem_free(old)" : "mem_free(new)", mem.queue);
  release_mem(mem);
}

int FakeNetDevice::ndo_queue_start(NetDevice&, QueueMem& mem_base, int idx) {
  auto& mem = static_cast<FakeQueueMem&>(mem_base);
  const auto queue = static_cast<std::uint32_t>(idx);
  log(mem.filled_by_stop ? "start(old)" : "start(new)", queue);
  OpFault& fault = mem.filled_by_stop ? fault_rollback_start : fault_start;
  if (fault.fires()) return fault.err;

  if (rq_reset_mode_ == 1) {
    FakeRxQueue* rq = rq_[queue];
    if (rq == nullptr) return -EIO;
    if (mem.pp != nullptr) rq->page_pool = mem.pp;
    mem.pp = nullptr;
    rq->napi_enabled = true;
    return 0;
  }
  FakeRxQueue* cur = rq_[queue];
  FakeRxQueue* next = mem.rq;
  if (next == nullptr) return 0;  // the stopped queue was dead: nothing to bring back
  // kernel comment: "netif_napi_add()/_del() should normally be called from alloc/free, here
  // we want to test various call orders."
  if (rq_reset_mode_ == 2) {
    if (cur != nullptr && cur->napi != nullptr) napi_del_from(*cur, queue);
    if (next->napi == nullptr) napi_add_to(*next, queue);
  } else if (rq_reset_mode_ == 3) {
    FakeRxQueue* old = cur;
    if (next->napi == nullptr) napi_add_to(*next, queue);
    if (old != nullptr && old != next && old->napi != nullptr) napi_del_from(*old, queue);
  }
  rq_[queue] = next;
  mem.rq = nullptr;
  next->napi_enabled = true;
  rx_queue(queue).napi = next->napi;
  return 0;
}

int FakeNetDevice::ndo_queue_stop(NetDevice&, QueueMem& mem_base, int idx) {
  auto& mem = static_cast<FakeQueueMem&>(mem_base);
  const auto queue = static_cast<std::uint32_t>(idx);
  mem.queue = queue;
  log("stop", queue);
  if (fault_stop.fires()) return fault_stop.err;
  mem.filled_by_stop = true;
  FakeRxQueue* rq = rq_[queue];
  if (rq == nullptr) return 0;  // dead queue: nothing runs
  rq->napi_enabled = false;
  if (rq_reset_mode_ == 1) {
    mem.pp = rq->page_pool;
    if (mem.pp != nullptr) mem.pp->disable_direct_recycling();
  } else {
    mem.rq = rq;  // rq_[queue] keeps pointing at it until start replaces it (as netdevsim)
  }
  return 0;
}

// ---- debugfs-like knobs ------------------------------------------------------------------------------

int FakeNetDevice::queue_reset(std::uint32_t queue, std::uint32_t mode) {
  if (queue >= real_num_rx_queues()) return -EINVAL;
  rq_reset_mode_ = mode;
  const int err = netstack::core::netdev_rx_queue_restart(*this, queue);
  rq_reset_mode_ = 0;
  return err;
}

int FakeNetDevice::pp_hold(bool hold) {
  if (hold == static_cast<bool>(held_)) return 0;
  if (hold) {
    if (!is_up()) return -ENETDOWN;
    page_pool::PagePool* pool = rx_page_pool(0);
    if (pool == nullptr) return -ENOMEM;
    held_ = pool->alloc_netmems();
    return held_ ? 0 : -ENOMEM;
  }
  // kernel: page_pool_put_full_page(pp_page_to_nmdesc(page)->pp, page, false)
  held_.desc().pp->put_full_netmem(held_, false);
  held_ = netmem::NetmemRef::none();
  return 0;
}

void FakeNetDevice::count_rx(std::uint32_t queue, std::uint64_t packets, std::uint64_t bytes) {
  NICEMU_ASSERT(queue < num_rx_queues() && rq_[queue] != nullptr, "FakeNetDevice::count_rx: no such queue object");
  rq_[queue]->rx_packets += packets;
  rq_[queue]->rx_bytes += bytes;
}

void FakeNetDevice::count_rx_alloc_fail(std::uint32_t queue, std::uint64_t n) {
  NICEMU_ASSERT(queue < num_rx_queues() && rq_[queue] != nullptr,
                "FakeNetDevice::count_rx_alloc_fail: no such queue object");
  rq_[queue]->rx_alloc_fail += n;
}

void FakeNetDevice::count_tx(std::uint32_t queue, std::uint64_t packets, std::uint64_t bytes) {
  NICEMU_ASSERT(queue < num_tx_queues(), "FakeNetDevice::count_tx: no such queue");
  tx_packets_[queue] += packets;
  tx_bytes_[queue] += bytes;
}

// ---- stat ops (per queue since the queue object was created; base = what went away) ---------------

void FakeNetDevice::get_queue_stats_rx(const NetDevice&, int idx, QstatsRx& rx) const {
  const FakeRxQueue* rq = rq_[static_cast<std::size_t>(idx)];
  if (rq == nullptr) return;  // a dead queue reports nothing
  rx.packets = rq->rx_packets;
  rx.bytes = rq->rx_bytes;
  rx.alloc_fail = rq->rx_alloc_fail;
}

void FakeNetDevice::get_queue_stats_tx(const NetDevice&, int idx, QstatsTx& tx) const {
  tx.packets = tx_packets_[static_cast<std::size_t>(idx)];
  tx.bytes = tx_bytes_[static_cast<std::size_t>(idx)];
}

void FakeNetDevice::get_base_stats(const NetDevice&, QstatsRx& rx, QstatsTx& tx) const {
  rx.packets = base_rx_packets_;
  rx.bytes = base_rx_bytes_;
  if (base_rx_alloc_fail_ != 0) rx.alloc_fail = base_rx_alloc_fail_;
  tx.packets = base_tx_packets_;
  tx.bytes = base_tx_bytes_;
}

// ---- ethtool ops -------------------------------------------------------------------------------------

std::uint32_t FakeNetDevice::supported_ring_params() const { return ring_params_supported; }

void FakeNetDevice::get_channels(const NetDevice&, EthtoolChannels& out) const {
  out = {};
  out.max_combined = num_rx_queues();
  out.combined_count = real_num_rx_queues();
}

int FakeNetDevice::set_channels(NetDevice&, const EthtoolChannels& req) {
  ++calls_.set_channels;
  const std::uint32_t n = req.combined_count;
  // Counters of queues that go away move to the base so device totals never go backwards.
  for (std::uint32_t i = n; i < num_rx_queues(); ++i) {
    if (rq_[i] != nullptr) fold_rx_counters(*rq_[i]);
  }
  for (std::uint32_t i = n; i < num_tx_queues(); ++i) {
    base_tx_packets_ += std::exchange(tx_packets_[i], 0);
    base_tx_bytes_ += std::exchange(tx_bytes_[i], 0);
  }
  // kernel: netif_set_real_num_queues(dev, combined, combined)
  int err = set_real_num_rx_queues(n);
  if (err == 0) err = set_real_num_tx_queues(n);
  if (err != 0) return err;
  // A table the user did not set follows the channel count (kernel: ethtool_rxfh_indir_default
  // unless netif_is_rxfh_configured()).
  const netstack::core::NetdevCoreState& st = core_state;
  if (!st.rxfh_configured) default_rss_indir();
  return 0;
}

void FakeNetDevice::get_ringparam(const NetDevice&, EthtoolRingParam& out) const {
  out = ring;
  out.rx_max_pending = kMaxPending;
  out.tx_max_pending = kMaxPending;
  out.hds_thresh_max = kHdsThreshMax;
  // kernel: nsim_get_ringparam() reports "enabled" while the config is UNKNOWN.
  out.tcp_data_split = hds_config == TcpDataSplit::kUnknown ? TcpDataSplit::kEnabled : hds_config;
  out.hds_thresh = hds_thresh;
}

int FakeNetDevice::set_ringparam(NetDevice&, const EthtoolRingParam& req) {
  ++calls_.set_ringparam;
  if (fault_set_ringparam.fires()) return fault_set_ringparam.err;
  ring = req;
  return 0;
}

int FakeNetDevice::get_coalesce(const NetDevice&, EthtoolCoalesce& out) const {
  out = coalesce;
  return 0;
}

int FakeNetDevice::set_coalesce(NetDevice&, const EthtoolCoalesce& req) {
  ++calls_.set_coalesce;
  coalesce = req;
  return 0;
}

void FakeNetDevice::default_rss_indir() {
  rss_indir.assign(kRssIndirSize, 0);
  for (std::uint32_t i = 0; i < kRssIndirSize; ++i) rss_indir[i] = i % real_num_rx_queues();
}

int FakeNetDevice::get_rss(const NetDevice&, EthtoolRss& out) const {
  if (out.context == 0) {
    out.key = rss_key;
    out.indir = rss_indir;
    return 0;
  }
  auto it = rss_contexts.find(out.context);
  if (it == rss_contexts.end()) return -ENOENT;
  out = it->second;
  return 0;
}

int FakeNetDevice::set_rss(NetDevice&, const EthtoolRss& req) {
  ++calls_.set_rss;
  if (req.context == 0) {
    if (!req.key.empty()) rss_key = req.key;
    if (!req.indir.empty()) rss_indir = req.indir;
    return 0;
  }
  auto it = rss_contexts.find(req.context);
  if (it == rss_contexts.end()) return -ENOENT;
  if (!req.key.empty()) it->second.key = req.key;
  if (!req.indir.empty()) it->second.indir = req.indir;
  return 0;
}

int FakeNetDevice::create_rss_context(NetDevice&, const EthtoolRss& req) {
  ++calls_.create_rss_context;
  EthtoolRss ctx = req;
  ctx.context = next_rss_context_++;
  if (ctx.key.empty()) ctx.key = rss_key;
  if (ctx.indir.empty()) {  // driver default: spread over every queue
    ctx.indir.assign(kRssIndirSize, 0);
    for (std::uint32_t i = 0; i < kRssIndirSize; ++i) ctx.indir[i] = i % real_num_rx_queues();
  }
  rss_contexts[ctx.context] = ctx;
  return static_cast<int>(ctx.context);
}

int FakeNetDevice::remove_rss_context(NetDevice&, std::uint32_t context) {
  ++calls_.remove_rss_context;
  return rss_contexts.erase(context) == 1 ? 0 : -ENOENT;
}

int FakeNetDevice::get_ntuple_rules(const NetDevice&, std::vector<NtupleRule>& out) const {
  out.clear();
  for (const auto& [loc, rule] : ntuple_rules) out.push_back(rule);
  return 0;
}

int FakeNetDevice::set_ntuple_rule(NetDevice&, const NtupleRule& rule) {
  ++calls_.set_ntuple_rule;
  ntuple_rules[rule.location] = rule;
  return static_cast<int>(rule.location);
}

int FakeNetDevice::del_ntuple_rule(NetDevice&, std::uint32_t location) {
  ++calls_.del_ntuple_rule;
  return ntuple_rules.erase(location) == 1 ? 0 : -ENOENT;
}

}  // namespace nicemu::testing
