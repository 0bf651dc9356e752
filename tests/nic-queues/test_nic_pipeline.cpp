// Two NICs joined by a 100 Gbit/s link, with test code standing in for the drivers: a packet
// posted on A's TX queue crosses the wire and lands byte-exact in B's buffers; B sees the
// completion only after its PCIe writes and raises its interrupt by the moderation rules; the
// stages cost simulated time in order; a flood faster than the host link overflows the RX FIFO
// and is counted; the same run twice gives the same times and counters.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "frame_builder.hpp"
#include "nicemu/nic/hw/nic.hpp"
#include "nicemu/sim/random.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;
using nicemu::testing::build_frame;
using nicemu::testing::FrameSpec;

namespace {

NicProfile test_profile() {
  NicProfile p;
  p.name = "test-nic";
  p.description = "pipeline tests";
  p.channels.max_queues = 4;
  p.channels.max = {4, 4, 4};
  p.channels.defaults = {0, 0, 2};
  p.rings.rx = {64, 4096, 1024};
  p.rings.tx = {64, 4096, 1024};
  p.rings.rx_buf_len_default = 4096;
  p.rings.rx_buf_len_allowed = {4096};
  p.header_split.supported = true;
  p.header_split.split_udp = true;
  p.header_split.header_buf_len = 256;
  p.header_split.non_qualifying = NonQualifyingPlacement::kHeaderBufferIfFits;
  p.descriptors = {16, 32, 16, 16};
  p.pipeline.clock_mhz = 1000;  // 1 ns a cycle
  p.pipeline.cycles = {10, 20, 30, 5, 8};
  p.pcie = PcieParams{};
  p.pcie.write_latency = 250_ns;
  p.pcie.read_latency = 500_ns;
  p.mtu_max = 9000;
  p.tso = {65536, 64};
  p.coalesce = {0, 0};
  return p;
}

// Host memory for one side's buffers, mapped in that NIC's DMA space.
struct HostBuffers {
  netmem::DmaSpace dma;
  std::vector<std::unique_ptr<std::vector<std::byte>>> mem;
  std::pair<netmem::DmaAddr, std::vector<std::byte>*> make(
      std::size_t len, netmem::DmaDirection dir,
      netmem::MemoryPlacement placement = netmem::MemoryPlacement::kHostMemory) {
    mem.push_back(std::make_unique<std::vector<std::byte>>(len));
    const auto m = dma.map(*mem.back(), dir, placement);
    REQUIRE(m.ok());
    return {m.addr, mem.back().get()};
  }
};

NicConfig no_moderation() {
  NicConfig c;
  c.coalesce = IrqModerationConfig{0, 0};
  return c;
}

struct Testbed {
  // B may have its own profile and configuration; A always has test_profile(). Interrupts fire
  // on every completion unless the configuration says otherwise.
  explicit Testbed(NicProfile prof_b = test_profile(), NicConfig cfg_b = no_moderation(),
                   NicProfile prof_a = test_profile())
      : streams(7), link(ev, streams, "ab", LinkConfig{}) {
    NicConfig cfg = no_moderation();
    cfg.rxq.split.mode = TcpDataSplit::kEnabled;
    cfg_b.rxq.split.mode = TcpDataSplit::kEnabled;
    auto sa = Steering::create(SteeringConfig{});
    SteeringConfig sc_b;
    sc_b.rx_queues = cfg_b.rx_queues;
    auto sb = Steering::create(sc_b);
    REQUIRE(sa);
    REQUIRE(sb);
    a = std::make_unique<Nic>(ev, mem_a.dma, link.port(0), frames, prof_a, std::move(*sa), cfg);
    b = std::make_unique<Nic>(ev, mem_b.dma, link.port(1), frames, prof_b, std::move(*sb), cfg_b);
  }
  // Posts one header and n payload buffers on B's queue 0 and rings.
  std::vector<std::vector<std::byte>*> post_rx(std::uint32_t n) {
    std::vector<std::vector<std::byte>*> bufs;
    for (std::uint32_t i = 0; i <= n; ++i) {
      auto [addr, m] = mem_b.make(i == 0 ? 256 : 4096, netmem::DmaDirection::kFromDevice);
      const RxBufferDesc d{addr, static_cast<std::uint32_t>(m->size()), i};
      REQUIRE((i == 0 ? b->rxq(0).post_header_buffer(d) : b->rxq(0).post_payload_buffer(d)));
      bufs.push_back(m);
    }
    b->rx_doorbell(0);
    return bufs;
  }
  // Posts a frame on A's TX queue 0 without ringing the doorbell.
  void post_tx(const std::vector<std::byte>& frame, std::uint32_t id) {
    auto [addr, m] = mem_a.make(frame.size(), netmem::DmaDirection::kToDevice);
    std::copy(frame.begin(), frame.end(), m->begin());
    TxDesc d;
    d.addr = addr;
    d.len = static_cast<std::uint32_t>(frame.size());
    d.eop = true;
    d.pkt_id = id;
    REQUIRE(a->txq(0).post(d));
  }
  void send(const std::vector<std::byte>& frame, std::uint32_t id) {
    post_tx(frame, id);
    a->tx_doorbell(0);
  }

  sim::EventQueue ev;
  sim::RandomStreams streams;
  FramePool frames;
  HostBuffers mem_a, mem_b;
  Link link;
  std::unique_ptr<Nic> a, b;
};

}  // namespace

TEST_CASE("nic pipeline: a packet sent by A lands byte-exact in B's buffers, and B's interrupt follows its completion",
          "[nic][hw][unit]") {
  Testbed t;
  const auto rx = t.post_rx(1);
  std::vector<sim::TimePoint> irqs_b, irqs_a;
  t.b->set_irq_handler(0, [&] { irqs_b.push_back(t.ev.now()); });
  t.a->set_irq_handler(0, [&] { irqs_a.push_back(t.ev.now()); });
  FrameSpec s;
  s.payload_len = 1448;
  s.payload_salt = 3;
  const auto frame = build_frame(s);
  t.ev.run_until(sim::TimePoint::zero() + 1_us);  // the RX doorbell reaches B
  const sim::TimePoint sent_at = t.ev.now();
  t.send(frame, 42);
  t.ev.run_until_idle();

  // B: one completion, published, with the bytes where it says.
  REQUIRE(t.b->rxq(0).completions_pending() == 1);
  const auto c = t.b->rxq(0).next_completion();
  REQUIRE(c.has_value());
  REQUIRE(c->header_used);
  REQUIRE(c->nfrags == 1);
  std::vector<std::byte> got(rx[0]->begin(), rx[0]->begin() + c->header_len);
  got.insert(got.end(), rx[1]->begin(), rx[1]->begin() + c->frags[0].len);
  CHECK(got == frame);
  CHECK(c->meta.csum == RxCsum::kUnnecessary);
  CHECK(c->meta.hash_type == RssHashType::kL4);
  CHECK(t.b->stats().rx_frames == 1);

  // Interrupts: A's for the TX completion, B's for the RX one (rx-usecs 0: at once).
  REQUIRE(irqs_a.size() == 1);
  REQUIRE(irqs_b.size() == 1);
  const auto txc = t.a->txq(0).next_completion();
  REQUIRE(txc.has_value());
  CHECK(txc->pkt_id == 42);
  CHECK(txc->wire_frames == 1);
  // Time adds up in order: the doorbell and the PCIe reads (more than the 500 ns read round trip
  // twice: descriptors, then data), the wire (123 ns serialization of 1538 bytes + 10 ns), B's
  // stage cycles (60 ns), B's PCIe writes (the 250 ns write latency).
  const sim::Duration total = irqs_b[0] - sent_at;
  INFO("send to interrupt: " << total.ps() << " ps");
  CHECK(total > 1000_ns + 133_ns + 60_ns + 250_ns);
  CHECK(total < 3_us);
  CHECK(t.a->pcie().stats().reads == 2);
  CHECK(t.b->pcie().stats().writes >= 2);
}

TEST_CASE("nic pipeline: a flood faster than the host's PCIe link overflows the RX FIFO, counted", "[nic][hw][unit]") {
  NicProfile slow = test_profile();
  slow.pcie.generation = 1;  // 2 Gbit/s of raw lane rate: far below the 100 Gbit/s wire
  slow.pcie.lanes = 1;
  slow.pcie.max_payload_bytes = 128;
  NicConfig cfg_b = no_moderation();
  cfg_b.rx_fifo_bytes = 16 * 1024;
  cfg_b.rxq.header_ring_size = 256;
  cfg_b.rxq.payload_ring_size = 256;
  Testbed t(slow, cfg_b);
  for (std::uint32_t i = 0; i < 64; ++i) {
    auto [addr, m] = t.mem_b.make(256, netmem::DmaDirection::kFromDevice);
    REQUIRE(t.b->rxq(0).post_header_buffer(RxBufferDesc{addr, 256, i}));
    auto [addr2, m2] = t.mem_b.make(4096, netmem::DmaDirection::kFromDevice);
    REQUIRE(t.b->rxq(0).post_payload_buffer(RxBufferDesc{addr2, 4096, 1000 + i}));
  }
  t.b->rx_doorbell(0);
  t.ev.run_until(sim::TimePoint::zero() + 5_us);
  FrameSpec s;
  s.payload_len = 1448;
  const auto frame = build_frame(s);
  for (std::uint32_t i = 0; i < 40; ++i) {
    auto [addr, m] = t.mem_a.make(frame.size(), netmem::DmaDirection::kToDevice);
    std::copy(frame.begin(), frame.end(), m->begin());
    TxDesc d{addr, static_cast<std::uint32_t>(frame.size()), true, i};
    REQUIRE(t.a->txq(0).post(d));
  }
  t.a->tx_doorbell(0);
  t.ev.run_until_idle();
  const NicStats& st = t.b->stats();
  CHECK(st.rx_frames == 40);
  CHECK(st.rx_fifo_drops > 0);
  CHECK(st.rx_fifo_high_water <= 16 * 1024);
  CHECK(t.b->rxq(0).stats().packets + st.rx_fifo_drops == 40);
  CHECK(t.b->rxq(0).completions_pending() == t.b->rxq(0).stats().packets);
}

TEST_CASE("nic pipeline: the same run twice gives the same times and counters", "[nic][hw][unit]") {
  auto run = [] {
    Testbed t;
    (void)t.post_rx(1);
    sim::TimePoint irq;
    t.b->set_irq_handler(0, [&] { irq = t.ev.now(); });
    FrameSpec s;
    s.payload_len = 1000;
    t.ev.run_until(sim::TimePoint::zero() + 1_us);
    t.send(build_frame(s), 1);
    t.ev.run_until_idle();
    return std::make_pair(irq, t.ev.events_run());
  };
  const auto r1 = run();
  const auto r2 = run();
  CHECK(r1 == r2);
  CHECK(r1.first > sim::TimePoint::zero());
}

TEST_CASE("nic pipeline: an ntuple rule steers a flow to queue 1, and a queue without buffers drops it, counted",
          "[nic][hw][unit]") {
  NicConfig cfg_b = no_moderation();
  cfg_b.rx_queues = 2;
  cfg_b.tx_queues = 2;
  Testbed t(test_profile(), cfg_b);
  NtupleRule r;
  r.flow_type = FlowType::kTcpV4;
  r.dst_port = 5001;
  r.dst_port_mask = 0xffff;
  r.queue = 1;
  REQUIRE(t.b->steering().insert_ntuple_rule(r));
  (void)t.post_rx(1);  // buffers on queue 0 only
  t.ev.run_until(sim::TimePoint::zero() + 1_us);
  FrameSpec s;
  s.payload_len = 500;
  t.send(build_frame(s), 1);  // dport 5001: the rule sends it to queue 1, which has no buffers
  s.dport = 6000;
  t.send(build_frame(s), 2);  // RSS; with the rule's flow elsewhere this one may land on 0 or 1
  t.ev.run_until_idle();
  CHECK(t.b->rxq(1).stats().hw_drop_overruns >= 1);
  CHECK(t.b->stats().rx_queue_drops >= 1);
  CHECK(t.b->stats().rx_frames == 2);
  CHECK(t.b->rxq(0).stats().packets + t.b->rxq(1).stats().packets + t.b->stats().rx_queue_drops == 2);
  CHECK(t.b->steering().stats().ntuple_hits == 1);
}

TEST_CASE("nic pipeline: a TSO send of 10000 bytes reaches B as seven frames, each completed in order",
          "[nic][hw][unit]") {
  NicConfig cfg_b = no_moderation();
  cfg_b.rxq.header_ring_size = 16;
  cfg_b.rxq.payload_ring_size = 16;
  Testbed t(test_profile(), cfg_b);
  for (std::uint32_t i = 0; i < 8; ++i) {
    auto [ha, hm] = t.mem_b.make(256, netmem::DmaDirection::kFromDevice);
    REQUIRE(t.b->rxq(0).post_header_buffer(RxBufferDesc{ha, 256, i}));
    auto [pa, pm] = t.mem_b.make(4096, netmem::DmaDirection::kFromDevice);
    REQUIRE(t.b->rxq(0).post_payload_buffer(RxBufferDesc{pa, 4096, 100 + i}));
  }
  t.b->rx_doorbell(0);
  t.ev.run_until(sim::TimePoint::zero() + 1_us);
  FrameSpec s;
  s.payload_len = 10000;
  auto big = build_frame(s);
  auto [addr, m] = t.mem_a.make(big.size(), netmem::DmaDirection::kToDevice);
  std::copy(big.begin(), big.end(), m->begin());
  TxDesc d{addr, static_cast<std::uint32_t>(big.size()), true, 9};
  d.gso_size = 1460;
  REQUIRE(t.a->txq(0).post(d));
  t.a->tx_doorbell(0);
  t.ev.run_until_idle();
  REQUIRE(t.b->rxq(0).completions_pending() == 7);
  std::uint32_t payload = 0;
  while (auto c = t.b->rxq(0).next_completion()) {
    CHECK(c->split == SplitVerdict::kSplit);
    CHECK(c->meta.csum == RxCsum::kUnnecessary);  // TSO filled every checksum
    payload += c->frags[0].len;
  }
  CHECK(payload == 10000);
  CHECK(t.a->txq(0).stats().hw_gso_wire_packets == 7);
}

TEST_CASE("nic pipeline: TX descriptor prefetch reads posted descriptors in batches of tx-prefetch",
          "[nic][hw][unit]") {
  FrameSpec spec;
  spec.payload_len = 200;
  const auto frame = build_frame(spec);
  sim::TimePoint done[2];
  for (const std::uint32_t prefetch : {1u, 4u}) {
    NicProfile pa = test_profile();
    pa.descriptors.tx_prefetch = prefetch;
    Testbed tb(test_profile(), no_moderation(), pa);
    for (std::uint32_t i = 0; i < 8; ++i) tb.post_tx(frame, i);
    tb.a->tx_doorbell(0);  // one doorbell for all eight
    tb.ev.run_until_idle();
    INFO("tx-prefetch " << prefetch);
    CHECK(tb.a->stats().tx_desc_reads == (prefetch == 1 ? 8u : 2u));
    CHECK(tb.a->stats().tx_descs_fetched == 8u);
    CHECK(tb.link.port(0).tx_stats().tx_frames == 8u);
    done[prefetch == 1 ? 0 : 1] = tb.ev.now();
  }
  // Six descriptor reads fewer, each a PCIe round trip the engine no longer waits for.
  CHECK(done[1] + 3000_ns <= done[0]);
}

TEST_CASE("nic pipeline: a full port transmit queue pauses the TX engine instead of dropping frames",
          "[nic][hw][unit]") {
  Testbed tb;
  // Room for two frames; each TSO send below becomes 7 frames at once.
  REQUIRE_FALSE(tb.link.port(0).set_tx_queue_limit(TxQueueLimit{0, 3100}).has_value());
  FrameSpec s;
  s.payload_len = 10000;
  const auto big = build_frame(s);
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto [addr, m] = tb.mem_a.make(big.size(), netmem::DmaDirection::kToDevice);
    std::copy(big.begin(), big.end(), m->begin());
    TxDesc d{addr, static_cast<std::uint32_t>(big.size()), true, i};
    d.gso_size = 1460;
    REQUIRE(tb.a->txq(0).post(d));
  }
  tb.a->tx_doorbell(0);
  tb.ev.run_until_idle();
  CHECK(tb.link.port(0).tx_stats().tx_frames == 21u);
  CHECK(tb.link.port(0).tx_stats().dropped[static_cast<std::size_t>(DropReason::kTxQueueFull)] == 0u);
  CHECK(tb.a->stats().tx_port_drops == 0u);
  CHECK(tb.a->stats().tx_port_stalls > 0u);     // the engine waited for the backlog
  CHECK(tb.a->stats().tx_backlog_high_water >= 5u);  // 7 frames, 2 fit in the port's queue
  std::size_t done = 0;
  while (auto c = tb.a->txq(0).next_completion()) {
    CHECK(c->outcome == TxOutcome::kSent);
    CHECK(c->wire_frames == 7u);
    ++done;
  }
  CHECK(done == 3u);
}

TEST_CASE("nic pipeline: payload for device memory goes peer-to-peer, headers and completions to the host",
          "[nic][hw][unit]") {
  // B's p2p path: a slow gen1 x1 link, so the peer write dominates when it is used.
  auto run = [](bool payload_in_device_memory) {
    NicProfile pb = test_profile();
    pb.p2p = PcieParams{};
    pb.p2p->generation = 1;
    pb.p2p->lanes = 1;
    pb.p2p->write_latency = 150_ns;
    pb.p2p->read_latency = 300_ns;
    Testbed t(pb);
    const auto placement = payload_in_device_memory ? netmem::MemoryPlacement::kDeviceMemory
                                                    : netmem::MemoryPlacement::kHostMemory;
    auto [ha, hm] = t.mem_b.make(256, netmem::DmaDirection::kFromDevice);
    REQUIRE(t.b->rxq(0).post_header_buffer(RxBufferDesc{ha, 256, 0}));
    auto [pa, pm] = t.mem_b.make(4096, netmem::DmaDirection::kFromDevice, placement);
    REQUIRE(t.b->rxq(0).post_payload_buffer(RxBufferDesc{pa, 4096, 1}));
    t.b->rx_doorbell(0);
    t.ev.run_until(sim::TimePoint::zero() + 1_us);
    FrameSpec s;
    s.payload_len = 1400;
    s.payload_salt = 9;
    const auto frame = build_frame(s);
    t.send(frame, 1);
    sim::TimePoint irq_at;
    t.b->set_irq_handler(0, [&] { irq_at = t.ev.now(); });
    t.ev.run_until_idle();
    REQUIRE(t.b->rxq(0).completions_pending() == 1);
    const auto c = t.b->rxq(0).next_completion();
    REQUIRE(c->frags[0].len == 1400);
    for (std::uint32_t i = 0; i < 1400; ++i) REQUIRE((*pm)[i] == nicemu::testing::frame_payload_byte(i, 9));
    const std::uint32_t hlen = c->header_len;
    const NicStats& st = t.b->stats();
    if (payload_in_device_memory) {
      CHECK(st.rx_dma_device_bytes == 1400u);
      CHECK(st.rx_dma_host_bytes == hlen);
      CHECK(t.b->p2p()->stats().write_bytes == 1400u);
      CHECK(t.b->pcie().stats().write_bytes == hlen + 32u);  // header piece + one 32-byte completion
    } else {
      CHECK(st.rx_dma_device_bytes == 0u);
      CHECK(st.rx_dma_host_bytes == hlen + 1400u);
      CHECK(t.b->p2p()->stats().write_bytes == 0u);
    }
    return irq_at;
  };
  const sim::TimePoint host = run(false);
  const sim::TimePoint device = run(true);
  // 1400 bytes over gen1 x1 (2 Gbit/s of data) take over 5.6 us; over gen4 x16, well under 1 us.
  CHECK(device - host > sim::Duration::from_us(5));
}
