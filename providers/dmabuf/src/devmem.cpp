// Devmem bindings, the dmabuf memory provider and bind-rx / bind-tx (see devmem.hpp).
#include "nicemu/providers/dmabuf/devmem.hpp"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <string>

#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"
#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/page_pool/page_pool.hpp"

namespace nicemu::providers::dmabuf {

namespace core = netstack::core;
using netmem::NetmemRef;

// ---- chunk owner --------------------------------------------------------------------------------

DmabufChunkOwner::DmabufChunkOwner(NetDevmemBinding& binding, std::size_t num_niovs, std::uint64_t base_virtual,
                                   netmem::DmaAddr base_dma_addr, std::uint32_t binding_id)
    : NetIovArea(num_niovs, base_virtual, netmem::NetIovType::kDmabuf, binding_id),
      binding_(binding),
      base_dma_addr_(base_dma_addr) {}

void DmabufChunkOwner::on_get_netmem(netmem::NetIov&) { binding_.get(); }
void DmabufChunkOwner::on_put_netmem(netmem::NetIov&) { binding_.put(); }

// ---- binding ------------------------------------------------------------------------------------

NetDevmemBinding::NetDevmemBinding(Devmem& devmem, core::NetDevice& dev, std::shared_ptr<Dmabuf> dmabuf,
                                   netmem::DmaDirection dir)
    : devmem_(devmem), dev_(&dev), dmabuf_(std::move(dmabuf)), direction_(dir) {}

NetDevmemBinding::~NetDevmemBinding() = default;

void NetDevmemBinding::put() {
  NICEMU_ASSERT(ref_ > 0, "net_devmem_dmabuf_binding_put: no reference left");
  if (--ref_ == 0) devmem_.free_binding(*this);  // `this` is gone after this call
}

netmem::NetIov* NetDevmemBinding::niov_at(std::uint64_t offset, std::uint32_t* off_in_niov) const {
  if (!is_tx() || offset >= dmabuf_->size()) return nullptr;
  const std::size_t idx = static_cast<std::size_t>((offset - owner_->base_virtual()) / netmem::kPageSize);
  if (off_in_niov != nullptr) *off_in_niov = static_cast<std::uint32_t>(offset % netmem::kPageSize);
  return &owner_->niov(idx);
}

int NetDevmemBinding::init(page_pool::PagePool& pool) {
  // kernel: mp_dmabuf_devmem_init(): dma-buf addresses need no (and must not get) DMA syncs.
  pool.set_dma_sync(false);
  pool.set_dma_sync_for_cpu(false);
  if (pool.params().order != 0) {
    ++stats_.init_refused;
    return -E2BIG;
  }
  get();  // the pool holds the binding
  return 0;
}

void NetDevmemBinding::destroy(page_pool::PagePool&) { put(); }

// kernel: mp_dmabuf_devmem_alloc_netmems() -> net_devmem_alloc_dmabuf(): the lowest free net_iov
// (gen_pool's first fit), one per call.
NetmemRef NetDevmemBinding::alloc_netmems(page_pool::PagePool& pool) {
  ++stats_.alloc_calls;
  if (free_.empty()) {
    ++stats_.empty;
    return NetmemRef::none();
  }
  std::pop_heap(free_.begin(), free_.end(), std::greater<>());
  const std::uint32_t idx = free_.back();
  free_.pop_back();
  netmem::NetIov& niov = owner_->niov(idx);
  niov.pp_magic = 0;
  niov.pp = nullptr;
  niov.pp_ref_count = 0;
  const NetmemRef n = NetmemRef::from_net_iov(niov);
  page_pool::net_mp_niov_set_page_pool(pool, n);
  ++stats_.handed_out;
  return n;
}

// kernel: mp_dmabuf_devmem_release_page(): back to the chunk allocator; the pool keeps nothing.
bool NetDevmemBinding::release_netmem(page_pool::PagePool&, NetmemRef netmem) {
  if (!netmem.is_net_iov() || netmem.net_iov().owner != owner_.get() || netmem.desc().pp_ref_count != 1) {
    ++stats_.release_warnings;  // WARN_ON in the kernel; the buffer is not taken back
    return false;
  }
  page_pool::net_mp_niov_clear_page_pool(netmem);
  free_.push_back(static_cast<std::uint32_t>(owner_->index_of(netmem.net_iov())));
  std::push_heap(free_.begin(), free_.end(), std::greater<>());
  ++stats_.released;
  return false;
}

int NetDevmemBinding::nl_fill(page_pool::NlAttrWriter& out, bool) const {
  out.put_u32("dmabuf", id_);  // NETDEV_A_QUEUE_DMABUF / NETDEV_A_PAGE_POOL_DMABUF
  return 0;
}

// kernel: mp_dmabuf_devmem_uninstall(): the device is going away.
void NetDevmemBinding::uninstall(page_pool::PpNetdev&, std::uint32_t rxq_idx) {
  bound_rxqs_.erase(rxq_idx);
  if (bound_rxqs_.empty()) dev_ = nullptr;
}

// ---- the binding table ----------------------------------------------------------------------

Devmem::~Devmem() {
  // Bindings still referenced (a session or pool outlived this) are dropped with it.
  for (auto& b : alive_) b->session_ = nullptr;
}

NetDevmemBinding* Devmem::bind_dmabuf(core::NetDevice& dev, netmem::DmaSpace* dma_dev, netmem::DmaDirection dir,
                                      int dmabuf_fd, NetdevNlSession* session, core::Extack* extack, int* err) {
  if (dma_dev == nullptr) {
    core::nl_set_err_msg(extack, "Device doesn't support DMA");
    *err = -EOPNOTSUPP;
    return nullptr;
  }
  std::shared_ptr<Dmabuf> buf;
  if (const int e = exporter_.get(dmabuf_fd, &buf); e != 0) {
    *err = e;
    return nullptr;
  }
  std::unique_ptr<NetDevmemBinding> b(new NetDevmemBinding(*this, dev, buf, dir));
  const netmem::DmaMapping m = buf->attach(*dma_dev, dir);
  if (!m.ok()) {
    core::nl_set_err_msg(extack, "Failed to map dmabuf attachment");
    *err = -ENOMEM;
    return nullptr;
  }
  b->dma_dev_ = dma_dev;
  b->dma_addr_ = m.addr;
  // kernel: xa_alloc_cyclic(&net_devmem_dmabuf_bindings, ...): the next free id from the last
  // one handed out, from 1, wrapping.
  std::uint32_t id = next_id_;
  while (ids_.count(id) != 0) id = id == UINT32_MAX ? 1 : id + 1;
  next_id_ = id == UINT32_MAX ? 1 : id + 1;
  b->id_ = id;
  // One chunk: the whole dma-buf, one net_iov per page at base + index * PAGE_SIZE.
  const std::size_t n = buf->size() / netmem::kPageSize;
  b->owner_ = std::make_unique<DmabufChunkOwner>(*b, n, 0, m.addr, id);
  for (std::size_t i = 0; i < n; ++i) page_pool::net_mp_niov_set_dma_addr(b->owner_->niov(i), m.addr + i * netmem::kPageSize);
  b->free_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) b->free_.push_back(static_cast<std::uint32_t>(i));  // sorted: a min-heap
  ids_[id] = b.get();
  if (session != nullptr) {
    b->session_ = session;
    session->bindings_.push_back(b.get());
  }
  ++stats_.bindings_created;
  alive_.push_back(std::move(b));
  return alive_.back().get();
}

int Devmem::bind_dmabuf_to_queue(core::NetDevice& dev, std::uint32_t rxq_idx, NetDevmemBinding& binding,
                                 core::Extack* extack) {
  const int err = core::net_mp_open_rxq(dev, rxq_idx, page_pool::MemoryProviderParams{&binding}, extack);
  if (err != 0) return err;
  binding.bound_rxqs_.insert(rxq_idx);
  return 0;
}

void Devmem::unbind_dmabuf(NetDevmemBinding& b) {
  ids_.erase(b.id_);  // lookups fail from here on
  if (b.session_ != nullptr) {
    auto& list = b.session_->bindings_;
    list.erase(std::remove(list.begin(), list.end(), &b), list.end());
    b.session_ = nullptr;
  }
  const std::set<std::uint32_t> rxqs = b.bound_rxqs_;
  for (const std::uint32_t q : rxqs) {
    if (b.dev_ != nullptr) core::net_mp_close_rxq(*b.dev_, q, page_pool::MemoryProviderParams{&b});
  }
  ++stats_.bindings_unbound;
  b.put();  // the session's reference
}

NetDevmemBinding* Devmem::lookup(std::uint32_t id) const {
  const auto it = ids_.find(id);
  return it != ids_.end() ? it->second : nullptr;
}

core::NetDevice* Devmem::devmem_niov_dev(const netmem::NetIov& niov) const {
  const auto* owner = dynamic_cast<const DmabufChunkOwner*>(niov.owner);
  if (owner == nullptr || &owner->binding().devmem_ != this) return nullptr;
  return owner->binding().dev();
}

NetdevNlSession::NetdevNlSession(Devmem& devmem, core::NetNs& netns) : devmem_(devmem), netns_(netns) {
  netns_.devmem = &devmem_;
}

// kernel: __net_devmem_dmabuf_binding_free(): unmap and detach the attachment, drop the dma-buf.
void Devmem::free_binding(NetDevmemBinding& b) {
  NICEMU_ASSERT(b.free_.size() == b.owner_->num_niovs(),
                "can't destroy genpool: a net_iov of the binding is still allocated");
  b.dmabuf_->detach(*b.dma_dev_, b.dma_addr_);
  ++stats_.bindings_freed;
  const auto it = std::find_if(alive_.begin(), alive_.end(), [&b](const auto& p) { return p.get() == &b; });
  NICEMU_ASSERT(it != alive_.end(), "Devmem::free_binding: unknown binding");
  alive_.erase(it);
}

// ---- netlink ----------------------------------------------------------------------------------

namespace {

// kernel: netdev_nl_get_dma_dev(): every selected queue must DMA through the same device.
netmem::DmaSpace* get_dma_dev(core::NetDevice& dev, const std::vector<bool>& rxqs, core::Extack* extack, int* err) {
  netmem::DmaSpace* dma_dev = nullptr;
  std::uint32_t prev = 0;
  for (std::uint32_t q = 0; q < rxqs.size(); ++q) {
    if (!rxqs[q]) continue;
    netmem::DmaSpace* d = dev.queue_dma_dev(static_cast<int>(q));
    if (dma_dev != nullptr && d != dma_dev) {
      core::nl_set_err_msg(extack, "DMA device mismatch between queue " + std::to_string(q) + " and " +
                                       std::to_string(prev) + " (multi-PF device?)");
      *err = -EOPNOTSUPP;
      return nullptr;
    }
    dma_dev = d;
    prev = q;
  }
  *err = 0;
  return dma_dev;
}

// netdev_dmabuf_nl_policy: ifindex is a u32 of at least 1 (netlink's range check: -ERANGE).
int ifindex_out_of_policy(const std::optional<std::uint32_t>& ifindex, core::Extack* extack) {
  if (!ifindex || *ifindex >= 1) return 0;
  core::nl_set_err_msg_attr(extack, "ifindex", "integer out of range");
  return -ERANGE;
}

int missing(core::Extack* extack, const char* attr) {
  core::nl_set_err_msg_attr(extack, attr, "missing attribute");  // GENL_REQ_ATTR_CHECK
  return -EINVAL;
}

}  // namespace

int NetdevNlSession::bind_rx(const BindRxRequest& req, core::Extack* extack) {
  // The policy (netdev_dmabuf_nl_policy, netdev_queue_id_nl_policy) first: ifindex >= 1, queue
  // type <= 1.
  if (const int e = ifindex_out_of_policy(req.ifindex, extack); e != 0) return e;
  for (const QueueIdAttr& q : req.queues) {
    if (q.type && *q.type > 1) {
      core::nl_set_err_msg_attr(extack, "queues.type", "integer out of range");
      return -ERANGE;
    }
  }
  if (!req.ifindex) return missing(extack, "ifindex");
  if (!req.fd) return missing(extack, "fd");
  if (req.queues.empty()) return missing(extack, "queues");

  core::NetDevice* dev = netns_.dev_get_by_index(static_cast<int>(*req.ifindex));
  if (dev == nullptr || !dev->is_present()) return -ENODEV;
  if (!core::netdev_need_ops_lock(*dev)) {
    core::nl_set_bad_attr(extack, "ifindex");
    return -EOPNOTSUPP;
  }
  // kernel: netdev_nl_read_rxq_bitmap()
  std::vector<bool> rxqs(dev->real_num_rx_queues(), false);
  for (const QueueIdAttr& q : req.queues) {
    if (!q.id) return missing(extack, "queues.id");
    if (!q.type) return missing(extack, "queues.type");
    if (*q.type != kNetdevQueueTypeRx) {
      core::nl_set_bad_attr(extack, "queues.type");
      return -EINVAL;
    }
    if (*q.id >= rxqs.size()) {
      core::nl_set_bad_attr(extack, "queues.id");
      return -EINVAL;
    }
    rxqs[*q.id] = true;
  }
  int err = 0;
  netmem::DmaSpace* dma_dev = get_dma_dev(*dev, rxqs, extack, &err);
  if (err != 0) return err;
  NetDevmemBinding* b = devmem_.bind_dmabuf(*dev, dma_dev, netmem::DmaDirection::kFromDevice,
                                            static_cast<int>(*req.fd), this, extack, &err);
  if (b == nullptr) return err;
  for (std::uint32_t q = 0; q < rxqs.size(); ++q) {
    if (!rxqs[q]) continue;
    err = devmem_.bind_dmabuf_to_queue(*dev, q, *b, extack);
    if (err != 0) {
      devmem_.unbind_dmabuf(*b);  // reverts the queues already switched
      return err;
    }
  }
  return static_cast<int>(b->id());
}

int NetdevNlSession::bind_tx(const BindTxRequest& req, core::Extack* extack) {
  if (const int e = ifindex_out_of_policy(req.ifindex, extack); e != 0) return e;
  if (!req.ifindex) return missing(extack, "ifindex");
  if (!req.fd) return missing(extack, "fd");
  core::NetDevice* dev = netns_.dev_get_by_index(static_cast<int>(*req.ifindex));
  if (dev == nullptr || !dev->is_present()) return -ENODEV;
  if (!dev->netmem_tx) {
    core::nl_set_err_msg(extack, "Driver does not support netmem TX");
    return -EOPNOTSUPP;
  }
  int err = 0;
  NetDevmemBinding* b = devmem_.bind_dmabuf(*dev, dev->queue_dma_dev(0), netmem::DmaDirection::kToDevice,
                                            static_cast<int>(*req.fd), this, extack, &err);
  if (b == nullptr) return err;
  return static_cast<int>(b->id());
}

void NetdevNlSession::close() {
  while (!bindings_.empty()) devmem_.unbind_dmabuf(*bindings_.front());
}

}  // namespace nicemu::providers::dmabuf
