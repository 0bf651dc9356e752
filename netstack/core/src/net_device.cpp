#include "nicemu/netstack/core/net_device.hpp"

#include <algorithm>
#include <cerrno>

#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/netstack/core/skbuff.hpp"

namespace nicemu::netstack::core {

NetDevice::NetDevice(std::string name, std::uint32_t num_rx_queues, std::uint32_t num_tx_queues)
    : name_(std::move(name)),
      rx_(num_rx_queues),
      tx_(num_tx_queues),
      num_tx_queues_(num_tx_queues),
      real_num_rx_queues_(num_rx_queues),
      real_num_tx_queues_(num_tx_queues) {
  NICEMU_ASSERT(num_rx_queues >= 1 && num_rx_queues <= kMaxQueues, "NetDevice: RX queue count out of 1..1024");
  NICEMU_ASSERT(num_tx_queues >= 1 && num_tx_queues <= kMaxQueues, "NetDevice: TX queue count out of 1..1024");
}

NetDevice::~NetDevice() { dev_qdisc_reset(*this); }

NetdevTxQueue& NetDevice::tx_queue(std::uint32_t idx) {
  NICEMU_ASSERT(idx < tx_.size(), "NetDevice::tx_queue: index past num_tx_queues");
  return tx_[idx];
}

const NetdevTxQueue& NetDevice::tx_queue(std::uint32_t idx) const {
  NICEMU_ASSERT(idx < tx_.size(), "NetDevice::tx_queue: index past num_tx_queues");
  return tx_[idx];
}

std::uint32_t NetDevice::select_queue(const SkBuff& skb) const {
  // kernel: skb_tx_hash() -> reciprocal_scale(hash, real_num_tx_queues)
  return static_cast<std::uint32_t>((std::uint64_t{skb.hash} * real_num_tx_queues_) >> 32);
}

int NetDevice::set_real_num_rx_queues(std::uint32_t n) {
  if (n < 1 || n > rx_.size()) return -EINVAL;
  real_num_rx_queues_ = n;
  return 0;
}

int NetDevice::set_real_num_tx_queues(std::uint32_t n) {
  if (n < 1 || n > num_tx_queues_) return -EINVAL;
  real_num_tx_queues_ = n;
  return 0;
}

NetdevRxQueue& NetDevice::rx_queue(std::uint32_t idx) {
  NICEMU_ASSERT(idx < rx_.size(), "NetDevice::rx_queue: index past num_rx_queues");
  return rx_[idx];
}

const NetdevRxQueue& NetDevice::rx_queue(std::uint32_t idx) const {
  NICEMU_ASSERT(idx < rx_.size(), "NetDevice::rx_queue: index past num_rx_queues");
  return rx_[idx];
}

page_pool::MemoryProviderParams NetDevice::rx_queue_mp_params(std::uint32_t queue_idx) const {
  return queue_idx < rx_.size() ? rx_[queue_idx].mp_params : page_pool::MemoryProviderParams{};
}

Napi& NetDevice::napi_add(Napi::PollFn poll, int weight) {
  NICEMU_ASSERT(netns_ != nullptr, "napi_add on a device that is not registered");
  napis_.push_back(std::make_unique<Napi>(*this, netns_->alloc_napi_id(), std::move(poll), weight));
  return *napis_.back();
}

void NetDevice::napi_del(Napi& napi) {
  for (NetdevRxQueue& q : rx_) {
    if (q.napi == &napi) q.napi = nullptr;
  }
  auto it = std::find_if(napis_.begin(), napis_.end(), [&](const auto& p) { return p.get() == &napi; });
  NICEMU_ASSERT(it != napis_.end(), "napi_del of a NAPI this device does not own");
  napis_.erase(it);
}

Napi* NetDevice::find_napi(std::uint32_t napi_id) const {
  for (const auto& n : napis_) {
    if (n->id() == napi_id) return n.get();
  }
  return nullptr;
}

netmem::DmaSpace* NetDevice::queue_dma_dev(int idx) {
  if (NetdevQueueMgmtOps* ops = queue_mgmt_ops()) {
    if (netmem::DmaSpace* d = ops->ndo_queue_get_dma_dev(*this, idx)) return d;
  }
  return dma_dev;
}

int NetDevice::open() {
  if (up_) return 0;
  if (!present_) return -ENODEV;
  const int err = ndo_open();
  if (err != 0) return err;
  up_ = true;
  return 0;
}

void NetDevice::close() {
  if (!up_) return;
  (void)ndo_stop();
  dev_qdisc_reset(*this);  // kernel: dev_deactivate_many() -> qdisc_reset
  up_ = false;
}

int NetNs::register_netdevice(NetDevice& dev) {
  if (dev.netns_ != nullptr) return -EEXIST;
  dev.netns_ = this;
  dev.ifindex_ = next_ifindex_++;
  devices_.emplace(dev.ifindex_, &dev);
  return dev.ifindex_;
}

void NetNs::unregister_netdevice(NetDevice& dev) {
  NICEMU_ASSERT(dev.netns_ == this, "unregister_netdevice: device not registered here");
  dev.close();
  // kernel: dev_memory_provider_uninstall(): tell every bound provider the queue is gone.
  for (std::uint32_t i = 0; i < dev.num_rx_queues(); ++i) {
    NetdevRxQueue& q = dev.rx_queue(i);
    if (q.mp_params.mp != nullptr) {
      page_pool::MemoryProvider* mp = q.mp_params.mp;
      mp->uninstall(dev, i);
      q.mp_params = {};
    }
  }
  page_pools_.netdev_unregistered(&dev);
  devices_.erase(dev.ifindex_);
  dev.netns_ = nullptr;
}

NetDevice* NetNs::dev_get_by_index(int ifindex) const {
  auto it = devices_.find(ifindex);
  return it == devices_.end() ? nullptr : it->second;
}

std::vector<NetDevice*> NetNs::devices() const {
  std::vector<NetDevice*> out;
  for (const auto& [i, d] : devices_) out.push_back(d);
  return out;
}

}  // namespace nicemu::netstack::core
