// nicemu/netstack/core/devmem_tx.hpp — what the socket layer and the transmit path need from
// devmem TX bindings, without including a provider.
//
// Models: the part of net/core/devmem.c that net/ipv4/tcp.c, net/core/datagram.c and
//   net/core/dev.c call for devmem TX (Linux 6.18): net_devmem_lookup_dmabuf() (a binding by
//   id; RX bindings have no tx_vec), binding->dev (nullptr once the device went away),
//   the dma-buf's size, net_devmem_get_niov_at() (the net_iov holding a byte offset); and, for
//   validate_xmit_unreadable_skb(), the device a net_iov's binding belongs to.
// Not modelled: the binding reference a lookup takes (one thread drives a host; the frags take
//   their own references through get_netmem()).
// The provider (providers/dmabuf) implements it; each NetNs points at its host's table.
#pragma once

#include <cstdint>

#include "nicemu/netmem/netmem.hpp"

namespace nicemu::netstack::core {

class NetDevice;

// One binding as the TX path sees it (kernel: struct net_devmem_dmabuf_binding).
class DevmemTxBinding {
 public:
  virtual bool is_tx() const = 0;                 // kernel: binding->tx_vec != NULL
  virtual NetDevice* bound_dev() const = 0;       // kernel: binding->dev (nullptr after uninstall)
  virtual std::uint64_t dmabuf_size() const = 0;  // kernel: binding->dmabuf->size
  // kernel: net_devmem_get_niov_at(): the net_iov holding byte `offset` of the dma-buf and the
  // offset inside it, or nullptr past the end.
  virtual netmem::NetIov* tx_niov_at(std::uint64_t offset, std::uint32_t* off_in_niov) const = 0;

 protected:
  ~DevmemTxBinding() = default;
};

// The bindings of one host (kernel: the net_devmem_dmabuf_bindings xarray).
class DevmemTable {
 public:
  // kernel: net_devmem_lookup_dmabuf(): a binding not yet unbound, or nullptr.
  virtual DevmemTxBinding* devmem_lookup(std::uint32_t id) const = 0;
  // The device whose binding owns `niov` (kernel: net_devmem_iov_binding(niov)->dev), or nullptr.
  virtual NetDevice* devmem_niov_dev(const netmem::NetIov& niov) const = 0;

 protected:
  ~DevmemTable() = default;
};

}  // namespace nicemu::netstack::core
