// bind-rx and bind-tx on an emulated header-split NIC: every check in the kernel's order with its
// errno, all-or-nothing queue switching, the provider in the queues' page pools, payload landing
// in the dma-buf, and the binding's lifetime across the control session's close.
#include <catch2/catch.hpp>

#include <cerrno>
#include <memory>

#include "driver_testbed.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"
#include "nicemu/providers/dmabuf/devmem.hpp"

using namespace nicemu;
using namespace nicemu::providers::dmabuf;
using nicemu::testing::DriverTestbed;
using nicemu::testing::load_profile;
namespace core = nicemu::netstack::core;

namespace {

constexpr std::size_t kDmabufBytes = 4u << 20;  // 1024 net_iovs

// Host b of a two-host testbed (4 channels, header split as asked), with devmem on top.
struct DevmemBed {
  explicit DevmemBed(bool split = true) : tb(load_profile("bnxt-thor"), 4, split), devmem(exporter) {
    fd = exporter.create(kDmabufBytes, netmem::MemoryPlacement::kDeviceMemory);
    REQUIRE(fd >= 3);
    session = std::make_unique<NetdevNlSession>(devmem, tb.b().netns());
  }
  ~DevmemBed() { session.reset(); }  // unbinds while the device still exists

  std::uint32_t ifindex() { return static_cast<std::uint32_t>(tb.b().nic().ifindex()); }
  BindRxRequest rx(std::initializer_list<std::uint32_t> queues) {
    BindRxRequest r;
    r.ifindex = ifindex();
    r.fd = static_cast<std::uint32_t>(fd);
    for (const std::uint32_t q : queues) r.queues.push_back({q, kNetdevQueueTypeRx});
    return r;
  }
  page_pool::MemoryProvider* provider_of(std::uint32_t q) { return tb.b().nic().rx_queue(q).mp_params.mp; }

  DriverTestbed tb;
  DmabufExporter exporter;
  Devmem devmem;
  int fd = -1;
  std::unique_ptr<NetdevNlSession> session;
};

}  // namespace

TEST_CASE("bind-rx: missing or out-of-policy attributes are refused before anything is looked up",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  core::Extack ext;
  BindRxRequest r = d.rx({2});
  r.ifindex.reset();
  CHECK(d.session->bind_rx(r, &ext) == -EINVAL);
  CHECK(ext.bad_attr == "ifindex");
  r = d.rx({2});
  r.fd.reset();
  CHECK(d.session->bind_rx(r, &ext) == -EINVAL);
  CHECK(ext.bad_attr == "fd");
  r = d.rx({});  // an unfilled queue list (ncdevmem's first self-test)
  CHECK(d.session->bind_rx(r, &ext) == -EINVAL);
  CHECK(ext.bad_attr == "queues");
  r = d.rx({2});
  r.ifindex = 0;
  CHECK(d.session->bind_rx(r, &ext) == -ERANGE);
  r = d.rx({2});
  r.queues[0].type = 2;
  CHECK(d.session->bind_rx(r, &ext) == -ERANGE);
  CHECK(ext.bad_attr == "queues.type");
  r = d.rx({2});
  r.queues[0].id.reset();
  CHECK(d.session->bind_rx(r, &ext) == -EINVAL);
  CHECK(ext.bad_attr == "queues.id");
  CHECK(d.devmem.bindings_alive() == 0);
}

TEST_CASE("bind-rx: the device, the queue list and the dma-buf are checked in the kernel's order",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  core::Extack ext;
  BindRxRequest r = d.rx({2});
  r.ifindex = 999;
  CHECK(d.session->bind_rx(r) == -ENODEV);
  d.tb.b().nic().set_present(false);
  CHECK(d.session->bind_rx(d.rx({2})) == -ENODEV);
  d.tb.b().nic().set_present(true);
  r = d.rx({2});
  r.queues[0].type = kNetdevQueueTypeTx;
  CHECK(d.session->bind_rx(r, &ext) == -EINVAL);
  CHECK(ext.bad_attr == "queues.type");
  r = d.rx({4});  // 4 channels: queues 0..3
  CHECK(d.session->bind_rx(r, &ext) == -EINVAL);  // netlink says EINVAL, not the core's ERANGE
  CHECK(ext.bad_attr == "queues.id");
  r = d.rx({2});
  r.fd = 42;
  CHECK(d.session->bind_rx(r) == -EBADF);
  CHECK(d.devmem.bindings_alive() == 0);
  CHECK(d.provider_of(2) == nullptr);
}

TEST_CASE("bind-rx: header split must be explicitly enabled with hds-thresh 0 (the core's checks)",
          "[providers-dmabuf][integration]") {
  DevmemBed d(/*split=*/false);
  core::Extack ext;
  CHECK(d.session->bind_rx(d.rx({2}), &ext) == -EINVAL);
  CHECK(ext.msg == "tcp-data-split is disabled");
  CHECK(d.devmem.bindings_alive() == 0);  // the binding made for the call is gone again
  CHECK(d.provider_of(2) == nullptr);
  core::RingsRequest on;
  on.tcp_data_split = core::TcpDataSplit::kEnabled;
  on.hds_thresh = 128;
  REQUIRE(core::ethtool_set_rings(d.tb.b().nic(), on) == 0);
  CHECK(d.session->bind_rx(d.rx({2}), &ext) == -EINVAL);
  CHECK(ext.msg == "hds-thresh is not zero");
  on.hds_thresh = 0;
  REQUIRE(core::ethtool_set_rings(d.tb.b().nic(), on) == 0);
  const int id = d.session->bind_rx(d.rx({2}), &ext);
  CHECK(id == 3);  // ids are not reused at once (cyclic from 1): the two failed calls took 1 and 2
}

TEST_CASE("bind-rx: a binding switches every listed queue to the provider, ids count up from 1",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  const int id = d.session->bind_rx(d.rx({2, 3, 3}));  // duplicates collapse
  REQUIRE(id == 1);
  NetDevmemBinding* b = d.devmem.lookup(1);
  REQUIRE(b != nullptr);
  CHECK(b->bound_rxqs() == std::set<std::uint32_t>{2, 3});
  CHECK(b->num_niovs() == kDmabufBytes / netmem::kPageSize);
  CHECK(d.provider_of(2) == b);
  CHECK(d.provider_of(3) == b);
  CHECK(d.provider_of(0) == nullptr);
  // The restarted queues' payload pools use it: they hold net_iovs, and the binding is held
  // by the session and by each pool.
  CHECK(b->stats().handed_out > 0);
  CHECK(b->ref() == 3);
  // Shrinking the channels below a bound queue is refused (ncdevmem's self-test).
  core::ChannelsRequest ch;
  ch.combined_count = 3;
  CHECK(core::ethtool_set_channels(d.tb.b().nic(), ch) == -EINVAL);
  // A second binding on a free queue gets the next id.
  const int fd2 = d.exporter.create(kDmabufBytes, netmem::MemoryPlacement::kDeviceMemory);
  BindRxRequest r = d.rx({1});
  r.fd = static_cast<std::uint32_t>(fd2);
  CHECK(d.session->bind_rx(r) == 2);
  CHECK(d.session->bindings().size() == 2);
}

TEST_CASE("bind-rx: a queue that is already bound fails the call and reverts the queues switched before it",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  REQUIRE(d.session->bind_rx(d.rx({2})) == 1);
  core::Extack ext;
  CHECK(d.session->bind_rx(d.rx({1, 2}), &ext) == -EEXIST);
  CHECK(ext.msg == "designated queue already memory provider bound");
  CHECK(d.provider_of(1) == nullptr);  // queue 1 was switched, then reverted
  CHECK(d.provider_of(2) == d.devmem.lookup(1));
  CHECK(d.devmem.lookup(2) == nullptr);
  CHECK(d.devmem.bindings_alive() == 1);
  CHECK(d.session->bindings().size() == 1);
}

TEST_CASE("bind-rx: payload lands in the dma-buf, the stack cannot read it, and closing the session "
          "keeps the binding until the held buffers come back",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  REQUIRE(d.session->bind_rx(d.rx({0, 1, 2, 3})) == 1);
  NetDevmemBinding* b = d.devmem.lookup(1);
  d.tb.run_for(sim::Duration::from_ms(50));  // the restarts' firmware quiesce (bnxt restarts the device)
  auto t = d.tb.start_transfer(5201);
  // Nothing readable arrives: recv() gives EFAULT for devmem payload and leaves it queued.
  CHECK_FALSE(d.tb.run_transfer(t, 5201, 256 * 1024, sim::Duration::from_ms(20)));
  CHECK(t.received == 0);
  REQUIRE(t.sfd >= 0);
  std::vector<std::byte> buf(1024);
  CHECK(d.tb.b().sockets().recv(t.sfd, buf, 0, d.tb.events.now()) == -EFAULT);
  CHECK(d.tb.b().nic().hw().stats().rx_dma_device_bytes > 0);
  // The bytes are in the dma-buf: the first payload byte of the stream is at some net_iov.
  std::size_t nonzero = 0;
  std::shared_ptr<Dmabuf> dmabuf;
  REQUIRE(d.exporter.get(d.fd, &dmabuf) == 0);
  for (const std::byte x : dmabuf->map()) nonzero += x != std::byte{0} ? 1 : 0;
  CHECK(nonzero > 0);
  // Close the session: the id goes, the queues restart without the provider, but the socket
  // still holds net_iovs, so the old pools stay (detached) and keep the binding.
  d.session->close();
  CHECK(d.devmem.lookup(1) == nullptr);
  CHECK(d.provider_of(0) == nullptr);
  CHECK(d.devmem.bindings_alive() == 1);
  CHECK(d.tb.b().page_pools().detached_count() > 0);
  CHECK(b->ref() >= 1);
  // The socket closes: its skbs go, the pools get every net_iov back and are freed, and so is
  // the binding (its attachment detached).
  d.tb.close_transfer(t);
  d.tb.run_for(sim::Duration::from_s(2));
  CHECK(d.tb.b().page_pools().detached_count() == 0);
  CHECK(d.devmem.bindings_alive() == 0);
  CHECK(dmabuf->stats().detachments == 1);
}

TEST_CASE("bind-tx: required attributes, a present device, netmem TX support, then a TX binding",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  BindTxRequest r;
  CHECK(d.session->bind_tx(r) == -EINVAL);
  r.ifindex = d.ifindex();
  CHECK(d.session->bind_tx(r) == -EINVAL);
  r.fd = static_cast<std::uint32_t>(d.fd);
  r.ifindex = 999;
  CHECK(d.session->bind_tx(r) == -ENODEV);
  r.ifindex = d.ifindex();
  core::Extack ext;
  d.tb.b().nic().netmem_tx = false;
  CHECK(d.session->bind_tx(r, &ext) == -EOPNOTSUPP);
  CHECK(ext.msg == "Driver does not support netmem TX");
  d.tb.b().nic().netmem_tx = true;
  const int id = d.session->bind_tx(r);
  REQUIRE(id == 1);
  NetDevmemBinding* b = d.devmem.lookup(1);
  REQUIRE(b != nullptr);
  CHECK(b->is_tx());
  CHECK(b->bound_rxqs().empty());
  std::uint32_t off = 0;
  netmem::NetIov* n = b->niov_at(5 * netmem::kPageSize + 7, &off);
  REQUIRE(n != nullptr);
  CHECK(netmem::net_iov_virtual_addr(*n) == 5 * netmem::kPageSize);
  CHECK(off == 7);
  CHECK(b->niov_at(kDmabufBytes, &off) == nullptr);
  // A TX frag's reference holds the binding past the session.
  netmem::get_netmem(netmem::NetmemRef::from_net_iov(*n));
  d.session->close();
  CHECK(d.devmem.bindings_alive() == 1);
  netmem::put_netmem(netmem::NetmemRef::from_net_iov(*n));
  CHECK(d.devmem.bindings_alive() == 0);
}

TEST_CASE("devmem: unregistering the device uninstalls the provider from each queue and clears the "
          "binding's device, closing the session then frees it (the close-after-unload ordering)",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  REQUIRE(d.session->bind_rx(d.rx({1, 2})) == 1);
  NetDevmemBinding* b = d.devmem.lookup(1);
  REQUIRE(b != nullptr);
  CHECK(b->dev() == &d.tb.b().nic());
  // unregister_netdevice: close (the driver destroys its pools), then mp_ops->uninstall per queue.
  d.tb.b().netns().unregister_netdevice(d.tb.b().nic());
  CHECK(b->dev() == nullptr);
  CHECK(b->bound_rxqs().empty());
  d.session->close();  // no device to restart queues on
  CHECK(d.devmem.lookup(1) == nullptr);
  CHECK(d.devmem.bindings_alive() == 0);
}

TEST_CASE("devmem: the provider refuses pools of order above 0 and turns their DMA sync off",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  REQUIRE(d.session->bind_rx(d.rx({2})) == 1);
  NetDevmemBinding* b = d.devmem.lookup(1);
  page_pool::PagePoolParams p;
  p.order = 1;
  p.pool_size = 64;
  p.flags = page_pool::kPpFlagAllowUnreadableNetmem | page_pool::kPpFlagDmaMap | page_pool::kPpFlagDmaSyncDev;
  p.max_len = netmem::kPageSize;
  p.dma_dir = netmem::DmaDirection::kFromDevice;
  p.queue_idx = 2;
  p.netdev = &d.tb.b().nic();
  p.dev = &d.tb.b().dma();
  auto r = d.tb.b().page_pools().create(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == -E2BIG);
  CHECK(b->stats().init_refused == 1);
  // The queue's own payload pool (order 0) took it and syncs nothing.
  bool found = false;
  for (page_pool::PagePool* pool : d.tb.b().page_pools().pools_of(static_cast<int>(d.ifindex()))) {
    if (pool->mp() == b) {
      found = true;
      CHECK_FALSE(pool->dma_sync());
      CHECK_FALSE(pool->dma_sync_for_cpu());
    }
  }
  CHECK(found);
}

TEST_CASE("bind-rx restarts the queue with the driver's own queue ops: a profile that keeps its NAPI across a "
          "restart (bnxt, mode 1) keeps it for a provider's install and uninstall too",
          "[providers-dmabuf][integration]") {
  DevmemBed d;
  const std::uint32_t before = d.tb.b().nic().channel_napi(2)->id();
  REQUIRE(d.session->bind_rx(d.rx({2})) == 1);
  d.tb.run_for(sim::Duration::from_ms(1));
  CHECK(d.provider_of(2) != nullptr);
  CHECK(d.tb.b().nic().channel_napi(2)->id() == before);
  d.session->close();
  d.tb.run_for(sim::Duration::from_ms(1));
  CHECK(d.provider_of(2) == nullptr);
  CHECK(d.tb.b().nic().channel_napi(2)->id() == before);
  // A direct restart (ethtool-like) behaves the same.
  REQUIRE(d.tb.b().nic().queue_restart(2) == 0);
  CHECK(d.tb.b().nic().channel_napi(2)->id() == before);
}
