// netdev_rx_queue_restart(): the kernel's ordering (§6.2), its rollback, faults at every step,
// restarts while the device is down, and netdevsim's reset modes 0–3 (§6.6, §7.5).
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "fake_net_device.hpp"
#include "nicemu/netstack/core/netdev_core_state.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"

using namespace nicemu;
using namespace nicemu::netstack::core;
using nicemu::testing::NetdevHost;
using nicemu::testing::OpFault;
using Log = std::vector<std::string>;

namespace {

// An up device whose op log starts empty.
struct UpHost : NetdevHost {
  UpHost() {
    REQUIRE(dev.open() == 0);
    dev.clear_ops_log();
  }
  const QueueRestartStats& stats() const { return dev.core_state.queue_restart; }
  // End-of-test invariants: no blob alive, none freed while still holding memory.
  void check_no_leaks() const {
    CHECK(dev.blobs_alive() == 0);
    CHECK(dev.blob_leaks() == 0);
  }
};

}  // namespace

TEST_CASE("queue restart: up device allocates new, stops old, starts new, frees old", "[netstack][core][unit]") {
  UpHost h;
  const std::uint32_t old_pool = h.dev.rx_page_pool(1)->id();

  CHECK(netdev_rx_queue_restart(h.dev, 1) == 0);

  CHECK(h.dev.ops_log() == Log{"mem_alloc 1", "napi_add 1", "stop 1", "start(new) 1", "mem_free(old) 1", "napi_del 1"});
  CHECK(h.dev.rx_page_pool(1)->id() != old_pool);
  CHECK(h.pools.registry.find(old_pool) == nullptr);  // nothing inflight: freed at once
  CHECK(h.pools.registry.pools_of(h.dev.ifindex()).size() == 4);
  CHECK(h.dev.napis().size() == 4);
  CHECK(h.dev.rx_ring(1)->napi_enabled);
  CHECK(h.dev.rx_queue(1).napi == h.dev.rx_ring(1)->napi);
  CHECK(h.stats().calls == 1);
  CHECK(h.stats().restarts == 1);
  CHECK(h.stats().failures == 0);
  h.check_no_leaks();
}

TEST_CASE("queue restart: a driver without queue management ops gets -EOPNOTSUPP", "[netstack][core][unit]") {
  UpHost h;
  h.dev.queue_api = false;
  CHECK(netdev_rx_queue_restart(h.dev, 0) == -EOPNOTSUPP);
  CHECK(h.dev.ops_log().empty());
  CHECK(h.stats().failures == 1);
  CHECK(h.stats().last_error == -EOPNOTSUPP);
}

TEST_CASE("queue restart: a memory blob that cannot be allocated is -ENOMEM before any driver op",
          "[netstack][core][unit]") {
  UpHost h;
  SECTION("the first blob") { h.dev.fault_blob = OpFault::once(-ENOMEM); }
  SECTION("the second blob") { h.dev.fault_blob = OpFault::every_nth(2, -ENOMEM); }
  const std::uint32_t pool = h.dev.rx_page_pool(2)->id();
  CHECK(netdev_rx_queue_restart(h.dev, 2) == -ENOMEM);
  CHECK(h.dev.ops_log().empty());
  CHECK(h.dev.rx_page_pool(2)->id() == pool);
  CHECK(h.dev.fault_blob.fired == 1);
  h.check_no_leaks();
}

TEST_CASE("queue restart: mem_alloc failure is returned and the old queue keeps running", "[netstack][core][unit]") {
  UpHost h;
  h.dev.fault_mem_alloc = OpFault::once(-ENOMEM);
  const std::uint32_t pool = h.dev.rx_page_pool(1)->id();
  CHECK(netdev_rx_queue_restart(h.dev, 1) == -ENOMEM);
  CHECK(h.dev.ops_log() == Log{"mem_alloc 1"});
  CHECK(h.dev.rx_page_pool(1)->id() == pool);
  CHECK(h.dev.rx_ring(1)->napi_enabled);
  CHECK(h.stats().failures == 1);
  h.check_no_leaks();
}

TEST_CASE("queue restart: stop failure frees the new memory and leaves the old queue running",
          "[netstack][core][unit]") {
  UpHost h;
  h.dev.fault_stop = OpFault::once(-EIO);
  const std::uint32_t pool = h.dev.rx_page_pool(1)->id();
  CHECK(netdev_rx_queue_restart(h.dev, 1) == -EIO);
  CHECK(h.dev.ops_log() == Log{"mem_alloc 1", "napi_add 1", "stop 1", "mem_free(new) 1", "napi_del 1"});
  CHECK(h.dev.rx_page_pool(1)->id() == pool);
  CHECK(h.dev.rx_ring(1)->napi_enabled);
  CHECK(h.dev.napis().size() == 4);
  CHECK(h.pools.registry.pools_of(h.dev.ifindex()).size() == 4);
  CHECK(h.stats().rollbacks == 0);
  h.check_no_leaks();
}

TEST_CASE("queue restart: start failure rolls back to the old queue", "[netstack][core][unit]") {
  UpHost h;
  h.dev.fault_start = OpFault::once(-EIO);
  const std::uint32_t pool = h.dev.rx_page_pool(1)->id();
  CHECK(netdev_rx_queue_restart(h.dev, 1) == -EIO);
  CHECK(h.dev.ops_log() ==
        Log{"mem_alloc 1", "napi_add 1", "stop 1", "start(new) 1", "start(old) 1", "mem_free(new) 1", "napi_del 1"});
  CHECK(h.dev.rx_page_pool(1)->id() == pool);
  CHECK(h.dev.rx_ring(1)->napi_enabled);
  CHECK(h.dev.napis().size() == 4);
  CHECK(h.stats().rollbacks == 1);
  CHECK(h.stats().rollback_failures == 0);
  CHECK(h.stats().unhealthy_queues.empty());
  CHECK(h.stats().warnings == 0);
  h.check_no_leaks();
}

TEST_CASE("queue restart: start and rollback both failing leave the queue unhealthy with the kernel's warning",
          "[netstack][core][unit]") {
  UpHost h;
  h.dev.fault_start = OpFault::once(-EIO);
  h.dev.fault_rollback_start = OpFault::once(-ENOMEM);

  CHECK(netdev_rx_queue_restart(h.dev, 3) == -EIO);  // the original error

  CHECK(h.dev.ops_log() == Log{"mem_alloc 3", "napi_add 3", "stop 3", "start(new) 3", "start(old) 3", "mem_free(old) 3",
                               "napi_del 3", "mem_free(new) 3", "napi_del 3"});
  CHECK(h.stats().rollback_failures == 1);
  CHECK(h.stats().warnings == 1);
  CHECK(h.stats().last_warning == "Failed to restart old queue in error path. RX queue 3 may be unhealthy.");
  CHECK(h.stats().unhealthy_queues == std::set<std::uint32_t>{3});
  CHECK(h.dev.rx_ring(3) == nullptr);  // its memory is gone
  CHECK(h.dev.rx_queue(3).napi == nullptr);
  CHECK(h.dev.napis().size() == 3);
  h.check_no_leaks();

  // A later restart brings the queue back.
  CHECK(netdev_rx_queue_restart(h.dev, 3) == 0);
  CHECK(h.stats().unhealthy_queues.empty());
  CHECK(h.dev.rx_ring(3)->napi_enabled);
  CHECK(h.dev.napis().size() == 4);
  h.check_no_leaks();
}

TEST_CASE("queue restart: while the device is down it only allocates and frees", "[netstack][core][unit]") {
  NetdevHost h;
  CHECK(netdev_rx_queue_restart(h.dev, 1) == 0);
  CHECK(h.dev.ops_log() == Log{"mem_alloc 1", "napi_add 1", "mem_free(new) 1", "napi_del 1"});
  CHECK(h.dev.napis().empty());
  CHECK(h.pools.registry.pools_of(h.dev.ifindex()).empty());
  CHECK(h.dev.core_state.queue_restart.restarts_while_down == 1);
  CHECK(h.dev.core_state.queue_restart.restarts == 0);
  CHECK(h.dev.blobs_alive() == 0);
  CHECK(h.dev.blob_leaks() == 0);
}

TEST_CASE("queue restart: reset mode 1 needs the device up (-ENETDOWN)", "[netstack][core][unit]") {
  NetdevHost h;
  CHECK(h.dev.queue_reset(1, 1) == -ENETDOWN);
  CHECK(h.dev.core_state.queue_restart.last_error == -ENETDOWN);
  REQUIRE(h.dev.open() == 0);
  CHECK(h.dev.queue_reset(1, 1) == 0);
}

TEST_CASE("queue restart: nsim_rxq_reset_down — modes 0, 2 and 3 succeed while down", "[netstack][core][unit]") {
  NetdevHost h;
  for (std::uint32_t mode : {0u, 2u, 3u}) {
    INFO("mode " << mode);
    CHECK(h.dev.queue_reset(1, mode) == 0);
    CHECK(h.dev.napis().empty());
  }
  CHECK(h.pools.registry.size() == 0);
  CHECK(h.dev.blob_leaks() == 0);
}

TEST_CASE("queue restart: queue_reset refuses a queue past real_num_rx_queues and modes above 3",
          "[netstack][core][unit]") {
  UpHost h;
  CHECK(h.dev.queue_reset(4, 0) == -EINVAL);
  CHECK(h.dev.ops_log().empty());
  CHECK(h.dev.queue_reset(0, 4) == -EINVAL);
  CHECK(h.dev.ops_log() == Log{"mem_alloc 0"});
}

TEST_CASE("queue restart: NAPI add/delete order of each reset mode", "[netstack][core][unit]") {
  UpHost h;
  SECTION("mode 0: the new NAPI is added while the old one still runs, the old one goes at mem_free") {
    CHECK(h.dev.queue_reset(2, 0) == 0);
    CHECK(h.dev.ops_log() ==
          Log{"mem_alloc 2", "napi_add 2", "stop 2", "start(new) 2", "mem_free(old) 2", "napi_del 2"});
  }
  SECTION("mode 1: a new pool only, the NAPI stays") {
    const std::uint32_t napi = h.dev.rx_queue(2).napi->id();
    CHECK(h.dev.queue_reset(2, 1) == 0);
    CHECK(h.dev.ops_log() == Log{"mem_alloc 2", "stop 2", "start(new) 2", "mem_free(old) 2"});
    CHECK(h.dev.rx_queue(2).napi->id() == napi);
  }
  SECTION("mode 2: the old NAPI is deleted before the new one is added") {
    CHECK(h.dev.queue_reset(2, 2) == 0);
    CHECK(h.dev.ops_log() ==
          Log{"mem_alloc 2", "stop 2", "start(new) 2", "napi_del 2", "napi_add 2", "mem_free(old) 2"});
  }
  SECTION("mode 3: the new NAPI is added before the old one is deleted") {
    CHECK(h.dev.queue_reset(2, 3) == 0);
    CHECK(h.dev.ops_log() ==
          Log{"mem_alloc 2", "stop 2", "start(new) 2", "napi_add 2", "napi_del 2", "mem_free(old) 2"});
  }
  CHECK(h.dev.napis().size() == 4);
  CHECK(h.dev.rx_queue(2).napi != nullptr);
  CHECK(h.dev.rx_ring(2)->napi_enabled);
  h.check_no_leaks();
}

TEST_CASE("queue restart: a failure in every mode keeps the NAPI count and the old pool", "[netstack][core][unit]") {
  UpHost h;
  for (std::uint32_t mode = 0; mode <= 3; ++mode) {
    INFO("mode " << mode);
    const std::uint32_t pool = h.dev.rx_page_pool(1)->id();
    h.dev.fault_start = OpFault::once(-EIO);
    CHECK(h.dev.queue_reset(1, mode) == -EIO);
    CHECK(h.dev.napis().size() == 4);
    CHECK(h.dev.rx_page_pool(1)->id() == pool);
    CHECK(h.dev.rx_ring(1)->napi_enabled);
    CHECK(h.dev.rx_queue(1).napi == h.dev.rx_ring(1)->napi);
  }
  CHECK(h.stats().rollbacks == 4);
  h.check_no_leaks();
}

TEST_CASE("queue restart: a fault every 3rd start fails exactly those restarts", "[netstack][core][unit]") {
  UpHost h;
  h.dev.fault_start = OpFault::every_nth(3, -EBUSY);
  std::vector<int> results;
  for (int i = 0; i < 6; ++i) results.push_back(netdev_rx_queue_restart(h.dev, 0));
  CHECK(results == std::vector<int>{0, 0, -EBUSY, 0, 0, -EBUSY});
  CHECK(h.stats().restarts == 4);
  CHECK(h.stats().failures == 2);
  CHECK(h.stats().rollbacks == 2);
  h.check_no_leaks();
}
