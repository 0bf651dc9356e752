// nicemu/netstack/core/netns.hpp — one host's networking namespace.
//
// Models: struct net as nicemu needs it: the devices by ifindex (ids from 1, never reused while
//   the namespace lives, kernel: dev_index_reserve()), the NAPI id allocator (from
//   MIN_NAPI_ID), the host's page pool registry, and the execution context of whatever code
//   runs now (softirq on a CPU, or process context), which the page pool reads to decide
//   direct recycling. Libraries hold no global state: two hosts are two NetNs.
// Not modelled: loopback device creation (a later issue), netns moves.
// References: net/core/dev.c (register_netdevice, unregister_netdevice_many_notify).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "nicemu/netstack/core/devmem_tx.hpp"
#include "nicemu/netstack/core/napi.hpp"
#include "nicemu/page_pool/page_pool.hpp"

namespace nicemu::netstack::core {

class NetDevice;

class NetNs {
 public:
  explicit NetNs(page_pool::PagePoolRegistry& page_pools) : page_pools_(page_pools) {}
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  // kernel: register_netdevice(): assigns the next ifindex. Returns it, or a negative errno
  // (-EEXIST if already registered).
  int register_netdevice(NetDevice& dev);
  // kernel: unregister_netdevice_many_notify(): close, uninstall memory providers from every RX
  // queue (mp_ops->uninstall), then detach the device's page pools from it (orphaned).
  void unregister_netdevice(NetDevice& dev);

  NetDevice* dev_get_by_index(int ifindex) const;
  std::vector<NetDevice*> devices() const;  // ifindex order

  std::uint32_t alloc_napi_id() { return next_napi_id_++; }

  page_pool::PagePoolRegistry& page_pools() const { return page_pools_; }

  // What runs now. The host model sets it around NAPI polls (softirq on a CPU) and app code
  // (process context); frees of skbs and page pool puts read it.
  page_pool::CallerContext ctx;
  // The host's devmem bindings (providers/dmabuf sets it when a control session opens);
  // nullptr: devmem was never used on this host.
  DevmemTable* devmem = nullptr;

 private:
  page_pool::PagePoolRegistry& page_pools_;
  std::map<int, NetDevice*> devices_;
  int next_ifindex_ = 1;
  std::uint32_t next_napi_id_ = kMinNapiId;
};

}  // namespace nicemu::netstack::core
