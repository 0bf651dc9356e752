// The driver's datapath end to end: TCP between two hosts through their NICs (silicon + driver),
// with header split on and off; the bytes arrive intact, split frames go through header and
// payload buffers, nothing is dropped on the way and the rings keep their buffers posted.
#include "driver_testbed.hpp"

using namespace nicemu;
using nicemu::testing::DriverTestbed;
using nicemu::testing::load_profile;

namespace {

void check_no_drops(app::Host& h, std::uint32_t queues) {
  for (std::uint32_t q = 0; q < queues; ++q) {
    const auto& s = h.nic().hw().rxq(q).stats();
    INFO("host " << h.name() << " queue " << q);
    CHECK(s.hw_drops == 0);
    CHECK(h.nic().hw().rxq(q).payload_buffers_visible() > 0);
  }
  CHECK(h.nic().hw().stats().rx_fifo_drops == 0);
  CHECK(h.stack().stats().total_drops() == 0);
}

}  // namespace

TEST_CASE("nic driver: a TCP transfer between two hosts through their NICs arrives byte-exact with header split on",
          "[nic-driver][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/true);
  auto t = tb.start_transfer(5201);
  REQUIRE(tb.run_transfer(t, 5201, 4 << 20, sim::Duration::from_s(1)));
  CHECK(t.mismatches == 0);
  std::uint64_t split = 0, header_only = 0;
  for (std::uint32_t q = 0; q < 4; ++q) {
    split += tb.b().nic().hw().rxq(q).stats().split_packets;
    header_only += tb.a().nic().hw().rxq(q).stats().header_buffer_only;
    CHECK(tb.a().nic().hw().rxq(q).header_buffers_visible() > 0);  // header buffers are refilled
  }
  CHECK(split >= (4u << 20) / 1448);  // every data segment was split
  CHECK(header_only > 100);           // the ACKs went whole into header buffers
  check_no_drops(tb.a(), 4);
  check_no_drops(tb.b(), 4);
  netstack::socket::TcpInfo ti;
  REQUIRE(tb.a().sockets().tcp_info(t.cfd, &ti) == 0);
  CHECK(ti.stats.retransmits == 0);
  // Well above a megabit: the transfer is not waiting on timers.
  CHECK(tb.events.now() < sim::TimePoint::zero() + sim::Duration::from_ms(50));
  tb.close_transfer(t);
  tb.run_for(sim::Duration::from_ms(100));
}

TEST_CASE("nic driver: with header split off whole frames go to payload buffers and still arrive byte-exact",
          "[nic-driver][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/false);
  auto t = tb.start_transfer(5202);
  REQUIRE(tb.run_transfer(t, 5202, 4 << 20, sim::Duration::from_s(1)));
  CHECK(t.mismatches == 0);
  std::uint64_t split = 0;
  for (std::uint32_t q = 0; q < 2; ++q) split += tb.b().nic().hw().rxq(q).stats().split_packets;
  CHECK(split == 0);
  CHECK(tb.b().nic().header_pool(0) == nullptr);  // no header pool without split
  check_no_drops(tb.a(), 2);
  check_no_drops(tb.b(), 2);
  tb.close_transfer(t);
  tb.run_for(sim::Duration::from_ms(100));
}

TEST_CASE("nic driver: the silicon's RX FIFO and TX descriptor prefetch come from the profile",
          "[nic-driver][unit]") {
  for (const char* name : {"bnxt-thor", "gve-dqo", "mlx5"}) {
    INFO(name);
    const auto profile = load_profile(name);
    DriverTestbed tb(profile, 2, /*split=*/false);
    CHECK(tb.b().nic().hw().rx_fifo_capacity() == profile.pipeline.rx_fifo_bytes);
    CHECK(tb.b().nic().hw().profile().descriptors.tx_prefetch == profile.descriptors.tx_prefetch);
  }
  auto small = load_profile("bnxt-thor");
  small.pipeline.rx_fifo_bytes = 32 * 1024;
  DriverTestbed tb(small, 2, /*split=*/true);
  CHECK(tb.b().nic().hw().rx_fifo_capacity() == 32u * 1024);
}

TEST_CASE("nic driver: data segments go out zero-copy from the socket's pages, pure ACKs through the bounce slot",
          "[nic-driver][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 2, /*split=*/true);
  auto t = tb.start_transfer(5203);
  REQUIRE(tb.run_transfer(t, 5203, 2 << 20, sim::Duration::from_s(1)));
  CHECK(t.mismatches == 0);
  const auto& sender = tb.a().nic().driver_stats();
  const auto& receiver = tb.b().nic().driver_stats();
  // Every data skb carries its payload in page frags: 2 MiB of MSS-sized segments, sent in GSO
  // skbs of up to 64 KiB (the device has TSO) or alone.
  CHECK(sender.tx_zero_copy >= (2u << 20) / 65536);
  CHECK(tb.a().nic().hw().txq(0).stats().hw_gso_packets + tb.a().nic().hw().txq(1).stats().hw_gso_packets > 0);
  CHECK(sender.tx_bounced > 0);  // the handshake and the sender's own ACKs have no frags
  CHECK(receiver.tx_zero_copy == 0);
  CHECK(receiver.tx_bounced > 0);
  // The silicon read every byte of the zero-copy segments through the direct mapping.
  CHECK(tb.a().nic().hw().stats().tx_dma_host_bytes >= 2u << 20);
  check_no_drops(tb.a(), 2);
  check_no_drops(tb.b(), 2);
  tb.close_transfer(t);
  tb.run_for(sim::Duration::from_ms(100));
}
