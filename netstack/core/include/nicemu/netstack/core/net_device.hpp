// nicemu/netstack/core/net_device.hpp — the network device the core and the protocols see.
//
// Models: struct net_device as far as nicemu needs it (Linux 6.18): identity (ifindex, name,
//   MAC, MTU, features, netmem_tx), queue counts (real_num_rx/tx_queues), the RX queue objects
//   with their memory-provider params (struct netdev_rx_queue), the configuration the core
//   checks (dev->cfg: hds_config, hds_thresh), the XDP program count, and the driver's tables:
//   net_device_ops (open, stop, start_xmit), netdev_queue_mgmt_ops, netdev_stat_ops and
//   ethtool_ops. A driver derives from NetDevice and implements the tables it supports.
// Not modelled: the instance lock (one thread; the checks that need it always pass),
//   qdiscs, netdev notifier chains beyond what the page pool registry needs, XDP programs
//   themselves (only their count, for the kernel's exclusion rules).
// References: include/linux/netdevice.h, include/net/netdev_queues.h,
//   include/net/netdev_rx_queue.h; ../shared/reference/linux-kernel-semantics.md §3.2, §6.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netstack/core/dev_queue.hpp"
#include "nicemu/netstack/core/ethtool.hpp"
#include "nicemu/netstack/core/napi.hpp"
#include "nicemu/netstack/core/netdev_core_state.hpp"
#include "nicemu/netstack/core/qstats.hpp"
#include "nicemu/page_pool/types.hpp"
#include "nicemu/sim/packet_trace.hpp"

namespace nicemu::netstack::core {

class NetNs;
class SkBuff;

// kernel: enum netdev_queue_type.
enum class QueueType : std::uint8_t { kRx = 0, kTx = 1 };

// Feature bits (kernel: NETIF_F_*), the subset nicemu models.
inline constexpr std::uint64_t kNetifFSg = 1u << 0;        // scatter-gather
inline constexpr std::uint64_t kNetifFHwCsum = 1u << 1;    // checksum offload (TX)
inline constexpr std::uint64_t kNetifFRxCsum = 1u << 2;    // checksum offload (RX)
inline constexpr std::uint64_t kNetifFTso = 1u << 3;       // TCP segmentation offload (v4)
inline constexpr std::uint64_t kNetifFTso6 = 1u << 4;      // TCP segmentation offload (v6)
inline constexpr std::uint64_t kNetifFGro = 1u << 5;       // software GRO
inline constexpr std::uint64_t kNetifFNtuple = 1u << 6;    // ntuple filters
inline constexpr std::uint64_t kNetifFRxhash = 1u << 7;    // RSS hash delivered

// kernel: netdev_tx_t.
enum class NetdevTx : std::uint8_t { kOk = 0, kBusy = 1 };

// kernel: struct netdev_rx_queue (the fields the core uses).
struct NetdevRxQueue {
  page_pool::MemoryProviderParams mp_params;
  Napi* napi = nullptr;
  bool xsk_pool = false;  // an AF_XDP pool is bound (kernel: rxq->pool)
};

// The per-queue memory blob of the queue API (kernel: the ndo_queue_mem_size bytes that the
// core kvzalloc()s twice per restart). A driver derives its own.
struct QueueMem {
  virtual ~QueueMem() = default;
};

// kernel: struct netdev_queue_mgmt_ops.
class NetdevQueueMgmtOps {
 public:
  virtual ~NetdevQueueMgmtOps() = default;
  // kernel: kvzalloc(ndo_queue_mem_size); nullptr means -ENOMEM.
  virtual std::unique_ptr<QueueMem> ndo_queue_mem_blob() = 0;
  virtual int ndo_queue_mem_alloc(NetDevice& dev, QueueMem& mem, int idx) = 0;
  virtual void ndo_queue_mem_free(NetDevice& dev, QueueMem& mem) = 0;
  virtual int ndo_queue_start(NetDevice& dev, QueueMem& mem, int idx) = 0;
  // Writes the stopped queue's memory into `mem`.
  virtual int ndo_queue_stop(NetDevice& dev, QueueMem& mem, int idx) = 0;
  // Optional (kernel: NULL op → dev->dev.parent). Return nullptr for "no override".
  virtual netmem::DmaSpace* ndo_queue_get_dma_dev(NetDevice&, int) { return nullptr; }
};

// kernel: struct netdev_stat_ops. Fill only the fields the device produces.
class NetdevStatOps {
 public:
  virtual ~NetdevStatOps() = default;
  virtual void get_queue_stats_rx(const NetDevice& dev, int idx, QstatsRx& rx) const = 0;
  virtual void get_queue_stats_tx(const NetDevice& dev, int idx, QstatsTx& tx) const = 0;
  virtual void get_base_stats(const NetDevice& dev, QstatsRx& rx, QstatsTx& tx) const = 0;
};

class NetDevice : public page_pool::PpNetdev {
 public:
  static constexpr std::size_t kMaxQueues = 1024;

  NetDevice(std::string name, std::uint32_t num_rx_queues, std::uint32_t num_tx_queues);
  virtual ~NetDevice();
  NetDevice(const NetDevice&) = delete;
  NetDevice& operator=(const NetDevice&) = delete;

  // ---- identity -------------------------------------------------------------------------------
  int ifindex() const override { return ifindex_; }
  const std::string& name() const { return name_; }
  NetNs* netns() const { return netns_; }
  std::array<std::uint8_t, 6> mac{};
  std::uint32_t mtu = 1500;
  std::uint32_t min_mtu = 68;
  std::uint32_t max_mtu = 9216;
  std::uint64_t features = 0;
  // The largest GSO packet the stack builds for this device and its most segments (kernel:
  // dev->gso_max_size, GSO_LEGACY_MAX_SIZE by default, and dev->gso_max_segs), used with
  // NETIF_F_TSO / NETIF_F_TSO6.
  std::uint32_t gso_max_size = 65536;
  std::uint32_t gso_max_segs = 65535;
  bool netmem_tx = false;  // kernel: dev->netmem_tx (devmem TX capable)
  // nicemu's own: where the core's and the driver's hooks for this device's packets report
  // (dev_queue_xmit, ndo_start_xmit, GRO, the driver's RX); nullptr: no tracing.
  sim::PacketTracer* packet_tracer = nullptr;

  // ---- state ------------------------------------------------------------------------------------
  bool is_up() const { return up_; }              // kernel: netif_running() / IFF_UP
  bool is_present() const { return present_; }    // kernel: netif_device_present()
  bool is_registered() const { return netns_ != nullptr; }
  void set_present(bool v) { present_ = v; }

  // ---- queues -------------------------------------------------------------------------------------
  std::uint32_t num_rx_queues() const { return static_cast<std::uint32_t>(rx_.size()); }
  std::uint32_t num_tx_queues() const { return num_tx_queues_; }
  std::uint32_t real_num_rx_queues() const { return real_num_rx_queues_; }
  std::uint32_t real_num_tx_queues() const { return real_num_tx_queues_; }
  // kernel: netif_set_real_num_rx_queues(); returns -EINVAL above num_rx_queues or for 0.
  int set_real_num_rx_queues(std::uint32_t n);
  int set_real_num_tx_queues(std::uint32_t n);
  NetdevTxQueue& tx_queue(std::uint32_t idx);
  const NetdevTxQueue& tx_queue(std::uint32_t idx) const;
  std::uint32_t tx_queue_len = 1000;  // kernel: dev->tx_queue_len (the qdisc FIFO's limit)
  // kernel: ndo_select_queue, or netdev_pick_tx's skb_tx_hash when a driver has none: the flow
  // hash (skb->hash) scaled onto real_num_tx_queues.
  virtual std::uint32_t select_queue(const SkBuff& skb) const;
  NetdevRxQueue& rx_queue(std::uint32_t idx);
  const NetdevRxQueue& rx_queue(std::uint32_t idx) const;
  page_pool::MemoryProviderParams rx_queue_mp_params(std::uint32_t queue_idx) const override;

  // ---- the configuration the core checks (kernel: dev->cfg) --------------------------------------
  TcpDataSplit hds_config = TcpDataSplit::kUnknown;
  std::uint32_t hds_thresh = 0;
  std::uint32_t xdp_prog_count = 0;  // kernel: dev_xdp_prog_count()
  // What net/core and net/ethtool remember about this device, and nicemu's restart records.
  NetdevCoreState core_state;

  // ---- NAPI ------------------------------------------------------------------------------------------
  // kernel: netif_napi_add(): the NAPI gets the next id of the device's netns.
  Napi& napi_add(Napi::PollFn poll, int weight = kNapiPollWeight);
  // kernel: netif_napi_del().
  void napi_del(Napi& napi);
  const std::vector<std::unique_ptr<Napi>>& napis() const { return napis_; }
  Napi* find_napi(std::uint32_t napi_id) const;

  // ---- the driver's tables (nullptr: not supported) ---------------------------------------------------
  virtual NetdevQueueMgmtOps* queue_mgmt_ops() { return nullptr; }
  virtual const NetdevStatOps* stat_ops() const { return nullptr; }
  virtual EthtoolOps* ethtool_ops() { return nullptr; }
  const EthtoolOps* ethtool_ops() const { return const_cast<NetDevice*>(this)->ethtool_ops(); }
  // The device that does DMA for this netdev (kernel: dev->dev.parent with a dma_mask); nullptr
  // for a device that does no DMA (netdevsim).
  netmem::DmaSpace* dma_dev = nullptr;
  // kernel: netdev_queue_get_dma_dev().
  netmem::DmaSpace* queue_dma_dev(int idx);

  // ---- open / close (kernel: dev_open() / dev_close()) -------------------------------------------------
  int open();
  void close();
  // kernel: ndo_start_xmit; the device owns the skb from here (kOk) or refuses it (kBusy).
  virtual NetdevTx start_xmit(SkBuff* skb) = 0;

 protected:
  // kernel: ndo_open / ndo_stop.
  virtual int ndo_open() = 0;
  virtual int ndo_stop() = 0;

 private:
  friend class NetNs;
  std::string name_;
  NetNs* netns_ = nullptr;
  int ifindex_ = 0;
  bool up_ = false;
  bool present_ = true;
  std::vector<NetdevRxQueue> rx_;
  std::vector<NetdevTxQueue> tx_;
  std::uint32_t num_tx_queues_;
  std::uint32_t real_num_rx_queues_;
  std::uint32_t real_num_tx_queues_;
  std::vector<std::unique_ptr<Napi>> napis_;
};

// kernel: netdev_need_ops_lock(): true for drivers with queue management ops.
inline bool netdev_need_ops_lock(NetDevice& dev) { return dev.queue_mgmt_ops() != nullptr; }

}  // namespace nicemu::netstack::core
