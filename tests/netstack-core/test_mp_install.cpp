// Memory-provider install and removal on an RX queue: __net_mp_open_rxq()'s checks in the kernel's
// order (§3.2), -ENODATA when the driver ignores the provider, __net_mp_close_rxq() semantics, and
// what unregister does to providers and pools.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "fake_net_device.hpp"
#include "nicemu/netstack/core/netdev_core_state.hpp"
#include "nicemu/netstack/core/netdev_genl.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"

using namespace nicemu;
using namespace nicemu::netstack::core;
using nicemu::testing::NetdevHost;
using nicemu::testing::NiovTestProvider;
using nicemu::testing::OpFault;
using page_pool::MemoryProviderParams;
using Log = std::vector<std::string>;

namespace {

// An up device with header split configured for providers, and one provider.
struct MpHost : NetdevHost {
  MpHost() : mp(provider()) {
    enable_hds();
    REQUIRE(dev.open() == 0);
    dev.clear_ops_log();
  }
  MemoryProviderParams params() { return {&mp}; }
  const MpRxqStats& stats() const { return dev.core_state.mp; }
  NiovTestProvider& mp;
};

}  // namespace

TEST_CASE("mp install: the queue restarts and its new page pool takes the provider", "[netstack][core][unit]") {
  MpHost h;
  Extack ext;
  CHECK(net_mp_open_rxq(h.dev, 2, h.params(), &ext) == 0);
  CHECK(ext.msg.empty());
  CHECK(h.dev.rx_queue(2).mp_params == h.params());
  CHECK(h.dev.rx_page_pool(2)->mp() == &h.mp);
  CHECK(h.dev.rx_page_pool(1)->mp() == nullptr);
  CHECK(h.mp.init_calls == 1);
  CHECK(h.dev.ops_log() == Log{"mem_alloc 2", "napi_add 2", "stop 2", "start(new) 2", "mem_free(old) 2", "napi_del 2"});
  CHECK(h.stats().opens == 1);
  CHECK(dev_get_min_mp_channel_count(h.dev) == 3);
  CHECK(netif_rxq_has_unreadable_mp(h.dev, 2));
  CHECK_FALSE(netif_rxq_has_unreadable_mp(h.dev, 1));
}

TEST_CASE("mp install: checks run in the kernel's order with its errno and message", "[netstack][core][unit]") {
  MpHost h;
  Extack ext;
  SECTION("no queue management ops: -EOPNOTSUPP, before the index check") {
    h.dev.queue_api = false;
    CHECK(net_mp_open_rxq(h.dev, 99, h.params(), &ext) == -EOPNOTSUPP);
    CHECK(ext.msg.empty());
  }
  SECTION("index out of range: -ERANGE, before the header-split check") {
    h.dev.hds_config = TcpDataSplit::kDisabled;
    CHECK(net_mp_open_rxq(h.dev, 4, h.params(), &ext) == -ERANGE);
    CHECK(ext.msg == "rx queue index out of range");
  }
  SECTION("tcp-data-split not explicitly enabled: -EINVAL, before the threshold check") {
    h.dev.hds_thresh = 256;
    SECTION("disabled") { h.dev.hds_config = TcpDataSplit::kDisabled; }
    SECTION("unknown, even though the driver reports enabled") { h.dev.hds_config = TcpDataSplit::kUnknown; }
    CHECK(net_mp_open_rxq(h.dev, 1, h.params(), &ext) == -EINVAL);
    CHECK(ext.msg == "tcp-data-split is disabled");
  }
  SECTION("hds-thresh not zero: -EINVAL, before the XDP check") {
    h.dev.hds_thresh = 256;
    h.dev.xdp_prog_count = 1;
    CHECK(net_mp_open_rxq(h.dev, 1, h.params(), &ext) == -EINVAL);
    CHECK(ext.msg == "hds-thresh is not zero");
  }
  SECTION("XDP attached: -EEXIST, before the already-bound check") {
    REQUIRE(net_mp_open_rxq(h.dev, 1, h.params()) == 0);
    h.dev.clear_ops_log();
    h.dev.xdp_prog_count = 1;
    CHECK(net_mp_open_rxq(h.dev, 1, h.params(), &ext) == -EEXIST);
    CHECK(ext.msg == "unable to custom memory provider to device with XDP program attached");
  }
  SECTION("queue already bound: -EEXIST, before the AF_XDP check") {
    REQUIRE(net_mp_open_rxq(h.dev, 1, h.params()) == 0);
    h.dev.clear_ops_log();
    h.dev.rx_queue(1).xsk_pool = true;
    CHECK(net_mp_open_rxq(h.dev, 1, {&h.provider()}, &ext) == -EEXIST);
    CHECK(ext.msg == "designated queue already memory provider bound");
    CHECK(h.dev.rx_queue(1).mp_params == h.params());  // still the first provider
  }
  SECTION("queue used by AF_XDP: -EBUSY") {
    h.dev.rx_queue(1).xsk_pool = true;
    CHECK(net_mp_open_rxq(h.dev, 1, h.params(), &ext) == -EBUSY);
    CHECK(ext.msg == "designated queue already in use by AF_XDP");
    CHECK(h.dev.rx_queue(1).mp_params.mp == nullptr);
  }
  CHECK(h.dev.ops_log().empty());  // refused before any restart
  CHECK(h.stats().open_failures == 1);
}

TEST_CASE("mp install: a null extack is fine (in-kernel callers pass NULL)", "[netstack][core][unit]") {
  MpHost h;
  h.dev.hds_config = TcpDataSplit::kDisabled;
  CHECK(net_mp_open_rxq(h.dev, 0, h.params(), nullptr) == -EINVAL);
}

TEST_CASE("mp install: a driver that ignores the provider gets -ENODATA and the queue stays as it was",
          "[netstack][core][unit]") {
  MpHost h;
  h.dev.ignore_provider = true;
  const std::uint32_t pool = h.dev.rx_page_pool(2)->id();
  CHECK(net_mp_open_rxq(h.dev, 2, h.params()) == -ENODATA);
  CHECK(h.dev.ops_log() == Log{"mem_alloc 2", "napi_add 2", "mem_free(new) 2", "napi_del 2"});
  CHECK(h.dev.rx_queue(2).mp_params.mp == nullptr);
  CHECK(h.dev.rx_page_pool(2)->id() == pool);
  CHECK(h.dev.core_state.queue_restart.last_error == -ENODATA);
  CHECK(h.mp.init_calls == 0);
}

TEST_CASE("mp install: page_pool_check_memory_provider passes only with a pool for that queue and provider",
          "[netstack][core][unit]") {
  MpHost h;
  CHECK(page_pool_check_memory_provider(h.dev, 1) == 0);  // no provider: nothing to check
  h.dev.rx_queue(1).mp_params = h.params();               // configured, but no pool took it yet
  CHECK(page_pool_check_memory_provider(h.dev, 1) == -ENODATA);
  h.dev.rx_queue(1).mp_params = {};
}

TEST_CASE("mp install: a failed restart leaves the queue without the provider", "[netstack][core][unit]") {
  MpHost h;
  SECTION("start fails, rollback works") { h.dev.fault_start = OpFault::once(-EIO); }
  SECTION("mem_alloc fails") { h.dev.fault_mem_alloc = OpFault::once(-EIO); }
  CHECK(net_mp_open_rxq(h.dev, 3, h.params()) == -EIO);
  CHECK(h.dev.rx_queue(3).mp_params.mp == nullptr);
  CHECK(dev_get_min_mp_channel_count(h.dev) == 0);
  CHECK(h.stats().open_failures == 1);
  CHECK(h.stats().opens == 0);
}

TEST_CASE("mp install: a provider that refuses the pool fails mem_alloc with its errno", "[netstack][core][unit]") {
  MpHost h;
  h.mp.init_error = -E2BIG;
  CHECK(net_mp_open_rxq(h.dev, 0, h.params()) == -E2BIG);
  CHECK(h.dev.rx_queue(0).mp_params.mp == nullptr);
}

TEST_CASE("mp install: bound while down, the queue picks up the provider at the next open", "[netstack][core][unit]") {
  NetdevHost h;
  NiovTestProvider& mp = h.provider();
  h.enable_hds();
  CHECK(net_mp_open_rxq(h.dev, 1, {&mp}) == 0);  // restart while down: allocate (with mp), free
  CHECK(h.pools.registry.size() == 0);
  REQUIRE(h.dev.open() == 0);
  CHECK(h.dev.rx_page_pool(1)->mp() == &mp);
  CHECK(h.dev.rx_page_pool(0)->mp() == nullptr);
}

TEST_CASE("mp close: the provider is cleared and the queue restarts without it", "[netstack][core][unit]") {
  MpHost h;
  REQUIRE(net_mp_open_rxq(h.dev, 2, h.params()) == 0);
  h.dev.clear_ops_log();
  net_mp_close_rxq(h.dev, 2, h.params());
  CHECK(h.dev.rx_queue(2).mp_params.mp == nullptr);
  CHECK(h.dev.rx_page_pool(2)->mp() == nullptr);
  CHECK(h.mp.destroy_calls == 1);  // the provider's pool was freed (nothing inflight)
  CHECK(h.dev.ops_log() == Log{"mem_alloc 2", "napi_add 2", "stop 2", "start(new) 2", "mem_free(old) 2", "napi_del 2"});
  CHECK(h.stats().closes == 1);
  CHECK(h.stats().close_warnings == 0);
  CHECK(dev_get_min_mp_channel_count(h.dev) == 0);
}

TEST_CASE("mp close: misuse is a warning and changes nothing", "[netstack][core][unit]") {
  MpHost h;
  REQUIRE(net_mp_open_rxq(h.dev, 2, h.params()) == 0);
  h.dev.clear_ops_log();
  SECTION("index out of range") {
    net_mp_close_rxq(h.dev, 4, h.params());
    CHECK(h.stats().last_warning == "net_mp_close_rxq: WARN_ON_ONCE(ifq_idx >= dev->real_num_rx_queues)");
  }
  SECTION("params that are not the queue's") {
    net_mp_close_rxq(h.dev, 2, {&h.provider()});
    CHECK(h.stats().last_warning == "net_mp_close_rxq: WARN_ON_ONCE(rxq->mp_params != *old_p)");
  }
  CHECK(h.stats().close_warnings == 1);
  CHECK(h.stats().closes == 0);
  CHECK(h.dev.rx_queue(2).mp_params == h.params());
  CHECK(h.dev.ops_log().empty());
}

TEST_CASE("mp close: a restart failing with -ENETDOWN is silent, any other error warns", "[netstack][core][unit]") {
  MpHost h;
  REQUIRE(net_mp_open_rxq(h.dev, 2, h.params()) == 0);
  SECTION("-ENETDOWN") {
    h.dev.fault_mem_alloc = OpFault::once(-ENETDOWN);
    net_mp_close_rxq(h.dev, 2, h.params());
    CHECK(h.stats().close_warnings == 0);
  }
  SECTION("-EIO") {
    h.dev.fault_mem_alloc = OpFault::once(-EIO);
    net_mp_close_rxq(h.dev, 2, h.params());
    CHECK(h.stats().close_warnings == 1);
    CHECK(h.stats().last_warning == "net_mp_close_rxq: WARN_ON(err && err != -ENETDOWN): restart returned -5");
  }
  CHECK(h.dev.rx_queue(2).mp_params.mp == nullptr);  // removed either way
  CHECK(h.stats().closes == 1);
}

TEST_CASE("mp close: closing on a down device restarts without starting", "[netstack][core][unit]") {
  MpHost h;
  REQUIRE(net_mp_open_rxq(h.dev, 1, h.params()) == 0);
  h.dev.close();
  h.dev.clear_ops_log();
  net_mp_close_rxq(h.dev, 1, h.params());
  CHECK(h.dev.ops_log() == Log{"mem_alloc 1", "napi_add 1", "mem_free(new) 1", "napi_del 1"});
  CHECK(h.stats().close_warnings == 0);
}

TEST_CASE("mp unregister: providers are uninstalled and the device's pools are orphaned", "[netstack][core][unit]") {
  MpHost h;
  REQUIRE(net_mp_open_rxq(h.dev, 0, h.params()) == 0);
  REQUIRE(h.dev.pp_hold(true) == 0);  // a net_iov of queue 0's provider pool stays out
  const std::uint32_t held_pool = h.dev.rx_page_pool(0)->id();

  h.net.unregister_netdevice(h.dev);

  CHECK(h.mp.uninstall_calls == 1);
  CHECK(h.dev.rx_queue(0).mp_params.mp == nullptr);
  // Only the pool holding the buffer survives, detached and without its ifindex.
  REQUIRE(h.pools.registry.size() == 1);
  auto info = netdev_nl_page_pool_get(h.net, held_pool);
  REQUIRE(info);
  CHECK_FALSE(info->ifindex.has_value());
  CHECK(info->inflight == 1);
  CHECK(info->dmabuf == 1u);
  auto dump = netdev_nl_page_pool_get_dump(h.net);
  REQUIRE(dump);
  REQUIRE(dump->size() == 1);
  CHECK(dump->front().id == held_pool);

  // A late close by the provider's owner finds nothing to do and does not warn.
  net_mp_close_rxq(h.dev, 0, h.params());
  CHECK(h.stats().close_warnings == 0);

  // Returning the buffer lets the pool go at the next release retry.
  REQUIRE(h.dev.pp_hold(false) == 0);
  h.advance(sim::Duration::from_s(1));
  CHECK(h.pools.registry.size() == 0);
  CHECK(h.mp.pools == 0);
}
