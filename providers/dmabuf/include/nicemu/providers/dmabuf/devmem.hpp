// nicemu/providers/dmabuf/devmem.hpp — devmem TCP bindings: a dma-buf bound to a device's RX
// queues (bind-rx) or for transmit (bind-tx), the net_iovs over its pages, the memory provider
// the queues' page pools use, and the control session that owns the bindings.
//
// Models: net/core/devmem.c and the bind-rx / bind-tx handlers of net/core/netdev-genl.c (Linux
//   6.18):
//   - NetDevmemBinding (struct net_devmem_dmabuf_binding): the dma-buf and its attachment
//     (mapped DMA_FROM_DEVICE for RX, DMA_TO_DEVICE for TX), one chunk owner (a NetIovArea)
//     with one net_iov per page and its offset in the dma-buf, a chunk allocator handing out the
//     lowest free net_iov (gen_pool's first fit), a reference count held by the control session
//     (1), by every page pool that uses the binding (provider init/destroy) and by every net_iov
//     reference taken with get_netmem() (TX frags), the set of bound RX queues, and an id;
//   - the provider ops (dmabuf_devmem_ops): init forces order 0 (-E2BIG) and turns DMA sync off;
//     alloc_netmems hands out one net_iov; release_netmem takes it back (returns false);
//     destroy drops the pool's reference; nl_fill reports the binding id on queues and page
//     pools; uninstall forgets a queue and clears the device when none is left;
//   - net_devmem_bind_dmabuf(), net_devmem_bind_dmabuf_to_queue(), net_devmem_unbind_dmabuf(),
//     net_devmem_lookup_dmabuf(), net_devmem_get_niov_at();
//   - NetdevNlSession (struct netdev_nl_sock): bind_rx() and bind_tx() with the kernel's checks
//     in the kernel's order, its errno values and extack texts, all or nothing (a failing queue
//     reverts those already switched); close() (netdev_nl_sock_priv_destroy) unbinds every
//     binding the session made: the queues restart without the provider, and pools still
//     holding buffers stay alive (detached) with the binding until the buffers come back.
// Not modelled: RCU and the locks (one thread drives a host); the binding's deferred free work
//   (it is freed at once when its last reference goes); sg tables of several chunks; the [K+]
//   percpu_ref and the [IDX] freelist allocator.
// The ids are per Devmem (one per emulated host kernel), from 1, allocated cyclically (xarray
//   XA_FLAGS_ALLOC1 with xa_alloc_cyclic).
// References: ../shared/reference/linux-kernel-semantics.md §3.2–§3.6, §4.4;
//   Documentation/networking/devmem.rst.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/netmem.hpp"
#include "nicemu/netstack/core/devmem_tx.hpp"
#include "nicemu/netstack/core/extack.hpp"
#include "nicemu/page_pool/memory_provider.hpp"
#include "nicemu/providers/dmabuf/dmabuf.hpp"

namespace nicemu::netstack::core {
class NetDevice;
class NetNs;
}  // namespace nicemu::netstack::core

namespace nicemu::providers::dmabuf {

class Devmem;
class NetDevmemBinding;
class NetdevNlSession;

// kernel: struct dmabuf_genpool_chunk_owner — the net_iovs over one DMA chunk of the dma-buf.
class DmabufChunkOwner final : public netmem::NetIovArea {
 public:
  DmabufChunkOwner(NetDevmemBinding& binding, std::size_t num_niovs, std::uint64_t base_virtual,
                   netmem::DmaAddr base_dma_addr, std::uint32_t binding_id);
  NetDevmemBinding& binding() const { return binding_; }
  netmem::DmaAddr base_dma_addr() const { return base_dma_addr_; }
  // kernel: net_devmem_get_net_iov() / net_devmem_put_net_iov(): a reference on a devmem
  // net_iov outside its page pool (a TX frag) holds the binding.
  void on_get_netmem(netmem::NetIov&) override;
  void on_put_netmem(netmem::NetIov&) override;

 private:
  NetDevmemBinding& binding_;
  netmem::DmaAddr base_dma_addr_;
};

struct NetDevmemBindingStats {
  std::uint64_t alloc_calls = 0;
  std::uint64_t handed_out = 0;   // net_iovs given to page pools
  std::uint64_t released = 0;     // net_iovs taken back
  std::uint64_t empty = 0;        // alloc_netmems found every net_iov in use
  std::uint64_t init_refused = 0;
  std::uint64_t release_warnings = 0;  // release_netmem of a page or with references left (WARN)
};

// kernel: struct net_devmem_dmabuf_binding, and the memory provider its queues' pools use
// (mp_ops = dmabuf_devmem_ops, mp_priv = the binding).
class NetDevmemBinding final : public page_pool::MemoryProvider, public netstack::core::DevmemTxBinding {
 public:
  ~NetDevmemBinding() override;
  NetDevmemBinding(const NetDevmemBinding&) = delete;
  NetDevmemBinding& operator=(const NetDevmemBinding&) = delete;

  std::uint32_t id() const { return id_; }
  netstack::core::NetDevice* dev() const { return dev_; }  // null once uninstalled
  netmem::DmaDirection direction() const { return direction_; }
  const Dmabuf& dmabuf() const { return *dmabuf_; }
  std::uint32_t ref() const { return ref_; }
  const std::set<std::uint32_t>& bound_rxqs() const { return bound_rxqs_; }
  bool is_tx() const override { return direction_ == netmem::DmaDirection::kToDevice; }
  // ---- what the TX path reads (netstack/core/devmem_tx.hpp) ----------------------------------
  netstack::core::NetDevice* bound_dev() const override { return dev_; }
  std::uint64_t dmabuf_size() const override { return dmabuf_->size(); }
  netmem::NetIov* tx_niov_at(std::uint64_t offset, std::uint32_t* off_in_niov) const override {
    return is_tx() ? niov_at(offset, off_in_niov) : nullptr;
  }

  std::size_t num_niovs() const { return owner_->num_niovs(); }
  std::size_t free_niovs() const { return free_.size(); }
  DmabufChunkOwner& owner() { return *owner_; }
  // kernel: net_devmem_get_niov_at(): the net_iov holding byte `offset` of the dma-buf and the
  // offset inside it; nullptr past the end (TX bindings only, as the kernel's tx_vec).
  netmem::NetIov* niov_at(std::uint64_t offset, std::uint32_t* off_in_niov) const;

  // kernel: net_devmem_dmabuf_binding_get() / _put(). The last put frees the binding.
  void get() { ++ref_; }
  void put();

  // ---- the provider (dmabuf_devmem_ops) ----------------------------------------------------
  netmem::NetmemRef alloc_netmems(page_pool::PagePool& pool) override;
  bool release_netmem(page_pool::PagePool& pool, netmem::NetmemRef netmem) override;
  int init(page_pool::PagePool& pool) override;
  void destroy(page_pool::PagePool& pool) override;
  int nl_fill(page_pool::NlAttrWriter& out, bool for_rx_queue) const override;
  void uninstall(page_pool::PpNetdev& dev, std::uint32_t rxq_idx) override;
  const char* name() const override { return "dmabuf"; }

  const NetDevmemBindingStats& stats() const { return stats_; }

 private:
  friend class Devmem;
  NetDevmemBinding(Devmem& devmem, netstack::core::NetDevice& dev, std::shared_ptr<Dmabuf> dmabuf,
                   netmem::DmaDirection dir);

  Devmem& devmem_;
  netstack::core::NetDevice* dev_;
  std::shared_ptr<Dmabuf> dmabuf_;
  netmem::DmaSpace* dma_dev_ = nullptr;
  netmem::DmaAddr dma_addr_ = 0;  // the attachment's mapping
  netmem::DmaDirection direction_;
  std::unique_ptr<DmabufChunkOwner> owner_;
  std::vector<std::uint32_t> free_;  // the chunk allocator: free net_iov indices, a min-heap
  std::uint32_t ref_ = 1;     // the control session's
  std::uint32_t id_ = 0;
  std::set<std::uint32_t> bound_rxqs_;
  NetdevNlSession* session_ = nullptr;
  NetDevmemBindingStats stats_;
};

struct DevmemStats {
  std::uint64_t bindings_created = 0;
  std::uint64_t bindings_unbound = 0;
  std::uint64_t bindings_freed = 0;
};

// The devmem state of one emulated kernel: the binding table and the exporter of its dma-bufs.
class Devmem final : public netstack::core::DevmemTable {
 public:
  explicit Devmem(DmabufExporter& exporter) : exporter_(exporter) {}
  ~Devmem();
  Devmem(const Devmem&) = delete;
  Devmem& operator=(const Devmem&) = delete;

  // kernel: net_devmem_bind_dmabuf(): a new binding with one reference (the session's), or
  // nullptr and *err: -EOPNOTSUPP (no DMA device), -EBADF / -EINVAL (dma_buf_get), -ENOMEM
  // (the attachment could not be mapped).
  NetDevmemBinding* bind_dmabuf(netstack::core::NetDevice& dev, netmem::DmaSpace* dma_dev, netmem::DmaDirection dir,
                                int dmabuf_fd, NetdevNlSession* session, netstack::core::Extack* extack, int* err);
  // kernel: net_devmem_bind_dmabuf_to_queue(): install the provider on the queue (restart).
  int bind_dmabuf_to_queue(netstack::core::NetDevice& dev, std::uint32_t rxq_idx, NetDevmemBinding& binding,
                           netstack::core::Extack* extack);
  // kernel: net_devmem_unbind_dmabuf(): the id goes (lookups fail), every bound queue restarts
  // without the provider, the session's reference is dropped.
  void unbind_dmabuf(NetDevmemBinding& binding);
  // kernel: net_devmem_lookup_dmabuf(): a binding not yet unbound, or nullptr (no reference
  // is taken: one thread drives a host).
  NetDevmemBinding* lookup(std::uint32_t id) const;
  // ---- netstack/core/devmem_tx.hpp --------------------------------------------------------------
  netstack::core::DevmemTxBinding* devmem_lookup(std::uint32_t id) const override { return lookup(id); }
  netstack::core::NetDevice* devmem_niov_dev(const netmem::NetIov& niov) const override;

  DmabufExporter& exporter() { return exporter_; }
  std::size_t bindings_alive() const { return alive_.size(); }  // not yet freed
  const DevmemStats& stats() const { return stats_; }

 private:
  friend class NetDevmemBinding;
  void free_binding(NetDevmemBinding& b);

  DmabufExporter& exporter_;
  std::vector<std::unique_ptr<NetDevmemBinding>> alive_;
  std::map<std::uint32_t, NetDevmemBinding*> ids_;  // bindings not yet unbound, by id
  std::uint32_t next_id_ = 1;  // xa_alloc_cyclic's next
  DevmemStats stats_;
};

// One entry of bind-rx's queue list (NETDEV_A_DMABUF_QUEUES: a nest of queue-id attributes).
struct QueueIdAttr {
  std::optional<std::uint32_t> id;    // NETDEV_A_QUEUE_ID
  std::optional<std::uint32_t> type;  // NETDEV_A_QUEUE_TYPE: 0 rx, 1 tx
};
inline constexpr std::uint32_t kNetdevQueueTypeRx = 0;
inline constexpr std::uint32_t kNetdevQueueTypeTx = 1;

struct BindRxRequest {
  std::optional<std::uint32_t> ifindex;  // NETDEV_A_DMABUF_IFINDEX
  std::optional<std::uint32_t> fd;       // NETDEV_A_DMABUF_FD
  std::vector<QueueIdAttr> queues;       // NETDEV_A_DMABUF_QUEUES (empty: the attribute is absent)
};

struct BindTxRequest {
  std::optional<std::uint32_t> ifindex;
  std::optional<std::uint32_t> fd;
};

// kernel: struct netdev_nl_sock — one netlink socket of the netdev family, with the bindings it
// created. Closing it (or destroying it) unbinds them.
class NetdevNlSession {
 public:
  // Points the namespace at the host's bindings (the TX path looks them up there).
  NetdevNlSession(Devmem& devmem, netstack::core::NetNs& netns);
  ~NetdevNlSession() { close(); }
  NetdevNlSession(const NetdevNlSession&) = delete;
  NetdevNlSession& operator=(const NetdevNlSession&) = delete;

  // kernel: netdev_nl_bind_rx_doit(): the new binding's id, or a negative errno.
  int bind_rx(const BindRxRequest& req, netstack::core::Extack* extack = nullptr);
  // kernel: netdev_nl_bind_tx_doit(): the new binding's id, or a negative errno.
  int bind_tx(const BindTxRequest& req, netstack::core::Extack* extack = nullptr);
  // kernel: netdev_nl_sock_priv_destroy(): unbinds every binding of this session.
  void close();

  const std::vector<NetDevmemBinding*>& bindings() const { return bindings_; }

 private:
  friend class Devmem;
  Devmem& devmem_;
  netstack::core::NetNs& netns_;
  std::vector<NetDevmemBinding*> bindings_;  // kernel: priv->bindings
};

}  // namespace nicemu::providers::dmabuf
