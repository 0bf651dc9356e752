// The netdev netlink family's queries (kernel: net/core/netdev-genl.c,
// net/core/page_pool_user.c). See netdev_genl.hpp.
#include "nicemu/netstack/core/netdev_genl.hpp"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <limits>
#include <string_view>
#include <utility>

#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/netstack/core/qstats.hpp"
#include "nicemu/page_pool/memory_provider.hpp"
#include "nicemu/page_pool/page_pool.hpp"

namespace nicemu::netstack::core {

namespace {

NlError nl_error(int err, std::string msg = {}, std::string bad_attr = {}) {
  return NlError{err, std::move(msg), std::move(bad_attr)};
}

// The attributes a memory provider writes (kernel: mp_ops->nl_fill into the reply skb):
// NETDEV_A_QUEUE_DMABUF / NETDEV_A_PAGE_POOL_DMABUF ("dmabuf", u32 binding id) and
// NETDEV_A_QUEUE_IO_URING / NETDEV_A_PAGE_POOL_IO_URING ("io-uring", empty nest).
class ProviderAttrs final : public page_pool::NlAttrWriter {
 public:
  void put_u32(std::string_view attr, std::uint32_t value) override {
    NICEMU_ASSERT(attr == "dmabuf", "memory provider wrote a u32 attribute the netdev family does not have");
    dmabuf = value;
  }
  void put_empty_nest(std::string_view attr) override {
    NICEMU_ASSERT(attr == "io-uring", "memory provider wrote a nest the netdev family does not have");
    io_uring = NlEmptyNest{};
  }
  std::optional<std::uint32_t> dmabuf;
  std::optional<NlEmptyNest> io_uring;
};

NetDevice* dev_by_index(const NetNs& net, std::uint32_t ifindex) {
  if (ifindex > static_cast<std::uint32_t>(std::numeric_limits<int>::max())) return nullptr;
  return net.dev_get_by_index(static_cast<int>(ifindex));
}

std::uint32_t ifindex_of(const NetDevice& dev) { return static_cast<std::uint32_t>(dev.ifindex()); }

// ---- queue ------------------------------------------------------------------------------------------

// kernel: netdev_nl_queue_fill_one()
NlResult<NetdevQueueInfo> queue_fill_one(const NetDevice& dev, std::uint32_t q_idx, QueueType type) {
  NetdevQueueInfo q;
  q.id = q_idx;
  q.ifindex = ifindex_of(dev);
  q.type = type;
  if (q_idx < dev.num_rx_queues()) {
    const NetdevRxQueue& rxq = dev.rx_queue(q_idx);
    if (type == QueueType::kRx) {
      if (rxq.napi != nullptr) q.napi_id = rxq.napi->id();
      if (rxq.mp_params.mp != nullptr) {
        ProviderAttrs attrs;
        if (rxq.mp_params.mp->nl_fill(attrs, true) != 0) return base::Unexpected(nl_error(-EMSGSIZE));
        q.dmabuf = attrs.dmabuf;
        q.io_uring = attrs.io_uring;
      }
      if (rxq.xsk_pool) q.xsk = NlEmptyNest{};
    } else if (rxq.xsk_pool && q_idx < dev.real_num_rx_queues()) {
      // xsk_reg_pool_at_qid() registers the pool on the RX and the TX queue of that id.
      q.xsk = NlEmptyNest{};
    }
  }
  return q;
}

// kernel: netdev_nl_queue_validate()
int queue_validate(const NetDevice& dev, std::uint32_t q_id, QueueType type) {
  switch (type) {
    case QueueType::kRx:
      return q_id >= dev.real_num_rx_queues() ? -EINVAL : 0;
    case QueueType::kTx:
      return q_id >= dev.real_num_tx_queues() ? -EINVAL : 0;
  }
  return -EINVAL;
}

// kernel: netdev_nl_queue_dump_one()
NlResult<std::vector<NetdevQueueInfo>> queue_dump_one(const NetDevice& dev, std::vector<NetdevQueueInfo> out) {
  if (!dev.is_up()) return out;
  for (std::uint32_t i = 0; i < dev.real_num_rx_queues(); ++i) {
    auto q = queue_fill_one(dev, i, QueueType::kRx);
    if (!q) return base::Unexpected(q.error());
    out.push_back(std::move(q.value()));
  }
  for (std::uint32_t i = 0; i < dev.real_num_tx_queues(); ++i) {
    auto q = queue_fill_one(dev, i, QueueType::kTx);
    if (!q) return base::Unexpected(q.error());
    out.push_back(std::move(q.value()));
  }
  return out;
}

// ---- napi ------------------------------------------------------------------------------------------------

NetdevNapiInfo napi_fill_one(const Napi& napi) {
  NetdevNapiInfo n;
  n.ifindex = ifindex_of(napi.dev());
  n.id = napi.id();
  if (napi.irq >= 0) n.irq = static_cast<std::uint32_t>(napi.irq);
  n.defer_hard_irqs = napi.defer_hard_irqs;
  n.gro_flush_timeout = napi.gro_flush_timeout_ns;
  n.irq_suspend_timeout = napi.irq_suspend_timeout_ns;
  n.threaded = napi.threaded;
  return n;
}

// kernel: netdev_nl_napi_dump_one(): an up device's NAPIs, newest (highest id) first.
void napi_dump_one(const NetDevice& dev, std::vector<NetdevNapiInfo>& out) {
  if (!dev.is_up()) return;
  std::vector<const Napi*> napis;
  for (const auto& n : dev.napis()) {
    if (n->id() >= kMinNapiId) napis.push_back(n.get());
  }
  std::sort(napis.begin(), napis.end(), [](const Napi* a, const Napi* b) { return a->id() > b->id(); });
  for (const Napi* n : napis) out.push_back(napi_fill_one(*n));
}

// ---- page pool --------------------------------------------------------------------------------------------

// kernel: the pool is listed under a netdev (created with params.netdev); pools created without
// one are invisible to netlink (hlist_unhashed).
bool page_pool_visible(const page_pool::PagePool& pool) { return pool.params().netdev != nullptr; }

// kernel: page_pool_nl_fill()
NlResult<PagePoolInfo> page_pool_fill(const page_pool::PagePool& pool) {
  PagePoolInfo info;
  info.id = pool.id();
  if (const std::optional<int> ifindex = pool.ifindex()) info.ifindex = static_cast<std::uint32_t>(*ifindex);
  const page_pool::NapiOwner* napi = pool.params().napi;
  if (napi != nullptr && napi->napi_id >= kMinNapiId) info.napi_id = napi->napi_id;  // napi_id_valid()
  const std::int32_t inflight = pool.inflight();
  info.inflight = inflight > 0 ? static_cast<std::uint64_t>(inflight) : 0;
  info.inflight_mem = pool.inflight_mem();
  if (const std::optional<sim::TimePoint> t = pool.detach_time()) {
    // 6.18 stores boottime seconds and omits 0 (a pool detached in the first second, §8.10).
    const auto seconds = static_cast<std::uint64_t>(t->ps() / sim::Duration::from_s(1).ps());
    if (seconds != 0) info.detach_time = seconds;
  }
  if (pool.mp() != nullptr) {
    ProviderAttrs attrs;
    if (pool.mp()->nl_fill(attrs, false) != 0) return base::Unexpected(nl_error(-EMSGSIZE));
    info.dmabuf = attrs.dmabuf;
    info.io_uring = attrs.io_uring;
  }
  return info;
}

PagePoolStatsInfo page_pool_stats_fill(const page_pool::PagePool& pool) {
  PagePoolStatsInfo s;
  s.id = pool.id();
  if (const std::optional<int> ifindex = pool.ifindex()) s.ifindex = static_cast<std::uint32_t>(*ifindex);
  const page_pool::PagePoolStats& st = pool.stats();
  s.alloc_fast = st.alloc.fast;
  s.alloc_slow = st.alloc.slow;
  s.alloc_slow_high_order = st.alloc.slow_high_order;
  s.alloc_empty = st.alloc.empty;
  s.alloc_refill = st.alloc.refill;
  s.alloc_waive = st.alloc.waive;
  s.recycle_cached = st.recycle.cached;
  s.recycle_cache_full = st.recycle.cache_full;
  s.recycle_ring = st.recycle.ring;
  s.recycle_ring_full = st.recycle.ring_full;
  s.recycle_released_refcnt = st.recycle.released_refcnt;
  return s;
}

// Listed pools in dump order: orphaned ones (kernel: re-parented to loopback, ifindex 1) first,
// then each device's, newest first.
std::vector<const page_pool::PagePool*> page_pools_in_dump_order(const NetNs& net) {
  std::vector<const page_pool::PagePool*> out;
  std::vector<page_pool::PagePool*> all = net.page_pools().all();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (page_pool_visible(**it) && !(*it)->ifindex().has_value()) out.push_back(*it);
  }
  for (const NetDevice* dev : net.devices()) {
    for (const page_pool::PagePool* pool : net.page_pools().pools_of(dev->ifindex())) out.push_back(pool);
  }
  return out;
}

// ---- qstats -------------------------------------------------------------------------------------------------

struct RxField {
  std::uint64_t QstatsRx::*stat;
  std::optional<std::uint64_t> QstatsInfo::*attr;
};
struct TxField {
  std::uint64_t QstatsTx::*stat;
  std::optional<std::uint64_t> QstatsInfo::*attr;
};

// In the order of the qstats attribute set (netdev.yaml).
constexpr RxField kRxFields[] = {
    {&QstatsRx::packets, &QstatsInfo::rx_packets},
    {&QstatsRx::bytes, &QstatsInfo::rx_bytes},
    {&QstatsRx::alloc_fail, &QstatsInfo::rx_alloc_fail},
    {&QstatsRx::hw_drops, &QstatsInfo::rx_hw_drops},
    {&QstatsRx::hw_drop_overruns, &QstatsInfo::rx_hw_drop_overruns},
    {&QstatsRx::csum_complete, &QstatsInfo::rx_csum_complete},
    {&QstatsRx::csum_unnecessary, &QstatsInfo::rx_csum_unnecessary},
    {&QstatsRx::csum_none, &QstatsInfo::rx_csum_none},
    {&QstatsRx::csum_bad, &QstatsInfo::rx_csum_bad},
    {&QstatsRx::hw_gro_packets, &QstatsInfo::rx_hw_gro_packets},
    {&QstatsRx::hw_gro_bytes, &QstatsInfo::rx_hw_gro_bytes},
    {&QstatsRx::hw_gro_wire_packets, &QstatsInfo::rx_hw_gro_wire_packets},
    {&QstatsRx::hw_gro_wire_bytes, &QstatsInfo::rx_hw_gro_wire_bytes},
    {&QstatsRx::hw_drop_ratelimits, &QstatsInfo::rx_hw_drop_ratelimits},
};
constexpr TxField kTxFields[] = {
    {&QstatsTx::packets, &QstatsInfo::tx_packets},
    {&QstatsTx::bytes, &QstatsInfo::tx_bytes},
    {&QstatsTx::hw_drops, &QstatsInfo::tx_hw_drops},
    {&QstatsTx::hw_drop_errors, &QstatsInfo::tx_hw_drop_errors},
    {&QstatsTx::csum_none, &QstatsInfo::tx_csum_none},
    {&QstatsTx::needs_csum, &QstatsInfo::tx_needs_csum},
    {&QstatsTx::hw_gso_packets, &QstatsInfo::tx_hw_gso_packets},
    {&QstatsTx::hw_gso_bytes, &QstatsInfo::tx_hw_gso_bytes},
    {&QstatsTx::hw_gso_wire_packets, &QstatsInfo::tx_hw_gso_wire_packets},
    {&QstatsTx::hw_gso_wire_bytes, &QstatsInfo::tx_hw_gso_wire_bytes},
    {&QstatsTx::hw_drop_ratelimits, &QstatsInfo::tx_hw_drop_ratelimits},
    {&QstatsTx::stop, &QstatsInfo::tx_stop},
    {&QstatsTx::wake, &QstatsInfo::tx_wake},
};

// kernel: memchr_inv(stats, 0xff, sizeof(stats)) == NULL — the driver reported nothing.
bool nothing_reported(const QstatsRx& rx) {
  return std::all_of(std::begin(kRxFields), std::end(kRxFields),
                     [&](const RxField& f) { return rx.*f.stat == kStatNotSet; });
}
bool nothing_reported(const QstatsTx& tx) {
  return std::all_of(std::begin(kTxFields), std::end(kTxFields),
                     [&](const TxField& f) { return tx.*f.stat == kStatNotSet; });
}

// kernel: netdev_nl_stats_add(): fields the queue did not report are skipped.
void stats_add(QstatsRx& sum, const QstatsRx& add) {
  for (const RxField& f : kRxFields) {
    if (add.*f.stat == kStatNotSet) continue;
    if (sum.*f.stat == kStatNotSet) sum.*f.stat = 0;
    sum.*f.stat += add.*f.stat;
  }
}
void stats_add(QstatsTx& sum, const QstatsTx& add) {
  for (const TxField& f : kTxFields) {
    if (add.*f.stat == kStatNotSet) continue;
    if (sum.*f.stat == kStatNotSet) sum.*f.stat = 0;
    sum.*f.stat += add.*f.stat;
  }
}

// kernel: netdev_nl_stats_write_rx() / _tx(): only the fields that are set.
void stats_write(QstatsInfo& out, const QstatsRx& rx) {
  for (const RxField& f : kRxFields) {
    if (rx.*f.stat != kStatNotSet) out.*f.attr = rx.*f.stat;
  }
}
void stats_write(QstatsInfo& out, const QstatsTx& tx) {
  for (const TxField& f : kTxFields) {
    if (tx.*f.stat != kStatNotSet) out.*f.attr = tx.*f.stat;
  }
}

// kernel: netdev_nl_stats_by_netdev(): base stats + the sum over the real queues.
void qstats_by_netdev(const NetDevice& dev, const NetdevStatOps& ops, std::vector<QstatsInfo>& out) {
  QstatsRx rx_sum;
  QstatsTx tx_sum;
  ops.get_base_stats(dev, rx_sum, tx_sum);
  // The op was there, but nothing reported: no message.
  if (nothing_reported(rx_sum) && nothing_reported(tx_sum)) return;
  for (std::uint32_t i = 0; i < dev.real_num_rx_queues(); ++i) {
    QstatsRx rx;
    ops.get_queue_stats_rx(dev, static_cast<int>(i), rx);
    stats_add(rx_sum, rx);
  }
  for (std::uint32_t i = 0; i < dev.real_num_tx_queues(); ++i) {
    QstatsTx tx;
    ops.get_queue_stats_tx(dev, static_cast<int>(i), tx);
    stats_add(tx_sum, tx);
  }
  QstatsInfo info;
  info.ifindex = ifindex_of(dev);
  stats_write(info, rx_sum);
  stats_write(info, tx_sum);
  out.push_back(std::move(info));
}

// kernel: netdev_nl_stats_by_queue(): one message per queue that reported anything; up only.
void qstats_by_queue(const NetDevice& dev, const NetdevStatOps& ops, std::vector<QstatsInfo>& out) {
  if (!dev.is_up()) return;
  for (std::uint32_t i = 0; i < dev.real_num_rx_queues(); ++i) {
    QstatsRx rx;
    ops.get_queue_stats_rx(dev, static_cast<int>(i), rx);
    if (nothing_reported(rx)) continue;
    QstatsInfo info;
    info.ifindex = ifindex_of(dev);
    info.queue_type = QueueType::kRx;
    info.queue_id = i;
    stats_write(info, rx);
    out.push_back(std::move(info));
  }
  for (std::uint32_t i = 0; i < dev.real_num_tx_queues(); ++i) {
    QstatsTx tx;
    ops.get_queue_stats_tx(dev, static_cast<int>(i), tx);
    if (nothing_reported(tx)) continue;
    QstatsInfo info;
    info.ifindex = ifindex_of(dev);
    info.queue_type = QueueType::kTx;
    info.queue_id = i;
    stats_write(info, tx);
    out.push_back(std::move(info));
  }
}

void qstats_dump_one(const NetDevice& dev, QstatsScope scope, std::vector<QstatsInfo>& out) {
  const NetdevStatOps* ops = dev.stat_ops();
  if (ops == nullptr) return;
  switch (scope) {
    case QstatsScope::kDevice:
      qstats_by_netdev(dev, *ops, out);
      return;
    case QstatsScope::kQueue:
      qstats_by_queue(dev, *ops, out);
      return;
  }
}

}  // namespace

// ---- dev-get --------------------------------------------------------------------------------------------

NlResult<NetdevDevInfo> netdev_nl_dev_get(const NetNs& net, std::uint32_t ifindex) {
  const NetDevice* dev = dev_by_index(net, ifindex);
  if (dev == nullptr) return base::Unexpected(nl_error(-ENODEV));
  NetdevDevInfo info;
  info.ifindex = ifindex_of(*dev);
  return info;
}

std::vector<NetdevDevInfo> netdev_nl_dev_get_dump(const NetNs& net) {
  std::vector<NetdevDevInfo> out;
  for (const NetDevice* dev : net.devices()) {
    NetdevDevInfo info;
    info.ifindex = ifindex_of(*dev);
    out.push_back(info);
  }
  return out;
}

// ---- queue-get ----------------------------------------------------------------------------------------

NlResult<NetdevQueueInfo> netdev_nl_queue_get(const NetNs& net, std::uint32_t ifindex, QueueType type,
                                              std::uint32_t id) {
  const NetDevice* dev = dev_by_index(net, ifindex);
  if (dev == nullptr) return base::Unexpected(nl_error(-ENODEV));
  // kernel: netdev_nl_queue_fill()
  if (!dev->is_up()) return base::Unexpected(nl_error(-ENOENT));
  const int err = queue_validate(*dev, id, type);
  if (err != 0) return base::Unexpected(nl_error(err));
  return queue_fill_one(*dev, id, type);
}

NlResult<std::vector<NetdevQueueInfo>> netdev_nl_queue_get_dump(const NetNs& net,
                                                                std::optional<std::uint32_t> ifindex) {
  if (ifindex.has_value()) {
    const NetDevice* dev = dev_by_index(net, *ifindex);
    if (dev == nullptr) return base::Unexpected(nl_error(-ENODEV));
    return queue_dump_one(*dev, {});
  }
  std::vector<NetdevQueueInfo> out;
  for (const NetDevice* dev : net.devices()) {
    auto r = queue_dump_one(*dev, std::move(out));
    if (!r) return r;
    out = std::move(r.value());
  }
  return out;
}

// ---- napi-get ------------------------------------------------------------------------------------------

NlResult<NetdevNapiInfo> netdev_nl_napi_get(const NetNs& net, std::uint32_t napi_id) {
  for (const NetDevice* dev : net.devices()) {
    const Napi* napi = dev->find_napi(napi_id);
    if (napi == nullptr) continue;
    // kernel: netdev_nl_napi_fill_one() writes nothing for a device that is down; the empty
    // reply becomes -ENOENT.
    if (!dev->is_up()) return base::Unexpected(nl_error(-ENOENT));
    return napi_fill_one(*napi);
  }
  return base::Unexpected(nl_error(-ENOENT, {}, "id"));  // unknown NAPI id
}

NlResult<std::vector<NetdevNapiInfo>> netdev_nl_napi_get_dump(const NetNs& net, std::optional<std::uint32_t> ifindex) {
  std::vector<NetdevNapiInfo> out;
  if (ifindex.has_value()) {
    const NetDevice* dev = dev_by_index(net, *ifindex);
    if (dev == nullptr) return base::Unexpected(nl_error(-ENODEV));
    napi_dump_one(*dev, out);
    return out;
  }
  for (const NetDevice* dev : net.devices()) napi_dump_one(*dev, out);
  return out;
}

// ---- page-pool-get ------------------------------------------------------------------------------------

NlResult<PagePoolInfo> netdev_nl_page_pool_get(const NetNs& net, std::uint32_t id) {
  const page_pool::PagePool* pool = net.page_pools().find(id);
  if (pool == nullptr || !page_pool_visible(*pool)) return base::Unexpected(nl_error(-ENOENT));
  return page_pool_fill(*pool);
}

NlResult<std::vector<PagePoolInfo>> netdev_nl_page_pool_get_dump(const NetNs& net) {
  std::vector<PagePoolInfo> out;
  for (const page_pool::PagePool* pool : page_pools_in_dump_order(net)) {
    auto info = page_pool_fill(*pool);
    if (!info) return base::Unexpected(info.error());
    out.push_back(std::move(info.value()));
  }
  return out;
}

// ---- page-pool-stats-get ------------------------------------------------------------------------------

NlResult<PagePoolStatsInfo> netdev_nl_page_pool_stats_get(const NetNs& net, const PagePoolStatsRequest& req) {
  if (req.ifindex.has_value()) {
    return base::Unexpected(nl_error(-EINVAL, "selecting by ifindex not supported", "info.ifindex"));
  }
  if (!req.id.has_value()) return base::Unexpected(nl_error(-EINVAL, {}, "info.id"));  // NL_REQ_ATTR_CHECK
  if (*req.id > std::numeric_limits<std::uint32_t>::max()) return base::Unexpected(nl_error(-ENOENT));
  const page_pool::PagePool* pool = net.page_pools().find(static_cast<std::uint32_t>(*req.id));
  if (pool == nullptr || !page_pool_visible(*pool)) return base::Unexpected(nl_error(-ENOENT));
  return page_pool_stats_fill(*pool);
}

NlResult<std::vector<PagePoolStatsInfo>> netdev_nl_page_pool_stats_get_dump(const NetNs& net) {
  std::vector<PagePoolStatsInfo> out;
  for (const page_pool::PagePool* pool : page_pools_in_dump_order(net)) out.push_back(page_pool_stats_fill(*pool));
  return out;
}

// ---- qstats-get ---------------------------------------------------------------------------------------

NlResult<std::vector<QstatsInfo>> netdev_nl_qstats_get_dump(const NetNs& net, const QstatsRequest& req) {
  std::vector<QstatsInfo> out;
  if (req.ifindex.has_value()) {
    // Policy: ifindex min 1 (lib/nlattr.c reports "integer out of range").
    if (*req.ifindex == 0) return base::Unexpected(nl_error(-ERANGE, "integer out of range", "ifindex"));
    const NetDevice* dev = dev_by_index(net, *req.ifindex);
    if (dev == nullptr) return base::Unexpected(nl_error(-ENODEV, {}, "ifindex"));
    if (dev->stat_ops() == nullptr) return base::Unexpected(nl_error(-EOPNOTSUPP, {}, "ifindex"));
    qstats_dump_one(*dev, req.scope, out);
    return out;
  }
  for (const NetDevice* dev : net.devices()) qstats_dump_one(*dev, req.scope, out);
  return out;
}

}  // namespace nicemu::netstack::core
