// One TX queue of the silicon: packets gathered from several descriptors through the DMA space,
// checksum offload finishing CHECKSUM_PARTIAL, TSO cutting a large send into MSS frames with
// each header fixed, bad requests dropped as hw_drop_errors but still completed, and the
// doorbell deciding what the device sees.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <vector>

#include "byte_worker_threads.hpp"
#include "frame_builder.hpp"
#include "nicemu/netstack/wire/wire.hpp"
#include "nicemu/nic/hw/tx_queue.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using nicemu::testing::build_frame;
using nicemu::testing::frame_payload_byte;
using nicemu::testing::FrameSpec;
namespace w = nicemu::netstack::wire;

namespace {

struct Capture final : TxFrameSink {
  std::vector<std::vector<std::byte>> frames;
  void tx_frame(std::span<const std::byte> f) override { frames.emplace_back(f.begin(), f.end()); }
};

// Packet bytes in host memory, mapped for device reads, cut into descriptors of `chunk` bytes.
struct TxMem {
  netmem::DmaSpace dma;
  std::vector<std::vector<std::byte>> mem;

  std::vector<TxDesc> descs(const std::vector<std::byte>& pkt, std::size_t chunk, std::uint32_t id,
                            netmem::DmaDirection dir = netmem::DmaDirection::kToDevice) {
    std::vector<TxDesc> out;
    for (std::size_t at = 0; at < pkt.size(); at += chunk) {
      const std::size_t n = std::min(chunk, pkt.size() - at);
      mem.emplace_back(pkt.begin() + static_cast<std::ptrdiff_t>(at), pkt.begin() + static_cast<std::ptrdiff_t>(at + n));
      const auto m = dma.map(mem.back(), dir, netmem::MemoryPlacement::kHostMemory);
      REQUIRE(m.ok());
      TxDesc d;
      d.addr = m.addr;
      d.len = static_cast<std::uint32_t>(n);
      d.pkt_id = id;
      out.push_back(d);
    }
    out.back().eop = true;
    return out;
  }
};

// A TCP frame whose checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL, as the stack
// leaves it), and the offload fields that go with it.
std::vector<std::byte> partial_frame(FrameSpec s, TxDesc& first) {
  auto f = build_frame(s);
  const auto p = w::parse_packet(f, w::ChecksumCaps::offloaded());
  REQUIRE(p.ok());
  const std::uint32_t l4_len = p.header_len + p.payload_len - p.l4_offset;
  w::ChecksumAccumulator acc;
  w::add_pseudo_header(acc, p.src_ip, p.dst_ip, w::ip_protocol::kTcp, l4_len);
  w::detail::store_be16(f.data() + p.l4_offset + 16, acc.sum());
  first.csum_partial = true;
  first.csum_start = static_cast<std::uint16_t>(p.l4_offset);
  first.csum_offset = 16;
  return f;
}

// `s` as the stack hands a CHECKSUM_PARTIAL packet to the driver: in descriptors of `chunk`
// bytes with the checksum offload (and TSO's MSS, 0: none) on the first, posted to `q` and rung.
// Returns the packet's bytes.
std::vector<std::byte> post_partial(TxQueueHw& q, TxMem& m, const FrameSpec& s, std::size_t chunk, std::uint32_t id,
                                    std::uint16_t gso_size = 0) {
  TxDesc first;
  auto f = partial_frame(s, first);
  auto ds = m.descs(f, chunk, id);
  ds[0].csum_partial = first.csum_partial;
  ds[0].csum_start = first.csum_start;
  ds[0].csum_offset = first.csum_offset;
  ds[0].gso_size = gso_size;
  for (const TxDesc& d : ds) REQUIRE(q.post(d));
  q.doorbell();
  return f;
}

bool checksums_ok(const std::vector<std::byte>& f) { return w::parse_packet(f, w::ChecksumCaps::software()).ok(); }

}  // namespace

TEST_CASE("tx queue: a packet gathered from three descriptors goes out byte-exact and completes once",
          "[nic][hw][unit]") {
  TxQueueHw q(0, TxQueueHw::Config{});
  TxMem m;
  FrameSpec s;
  s.payload_len = 1000;
  const auto f = build_frame(s);
  for (const TxDesc& d : m.descs(f, 400, 77)) REQUIRE(q.post(d));
  CHECK_FALSE(q.has_packet());  // not rung yet
  q.doorbell();
  REQUIRE(q.has_packet());
  Capture cap;
  const TxWork work = q.transmit_next(m.dma, cap);
  CHECK(work.outcome == TxOutcome::kSent);
  CHECK(work.dma_reads == 3);
  CHECK(work.dma_bytes == f.size());
  REQUIRE(cap.frames.size() == 1);
  CHECK(cap.frames[0] == f);
  const auto c = q.next_completion();
  REQUIRE(c.has_value());
  CHECK(c->pkt_id == 77);
  CHECK(c->descs == 3);
  CHECK(c->wire_frames == 1);
  CHECK(q.free_descriptors() == 1024);
  CHECK(q.stats().csum_none == 1);
}

TEST_CASE("tx queue: checksum offload finishes a CHECKSUM_PARTIAL TCP frame", "[nic][hw][unit]") {
  TxQueueHw q(0, TxQueueHw::Config{});
  TxMem m;
  FrameSpec s;
  s.payload_len = 777;
  const auto f = post_partial(q, m, s, 4096, 1);
  REQUIRE_FALSE(checksums_ok(f));
  Capture cap;
  REQUIRE(q.transmit_next(m.dma, cap).outcome == TxOutcome::kSent);
  REQUIRE(cap.frames.size() == 1);
  CHECK(checksums_ok(cap.frames[0]));
  CHECK(cap.frames[0] == build_frame(s));  // the same bytes software would have produced
  CHECK(q.stats().needs_csum == 1);
}

TEST_CASE("tx queue: TSO cuts 10000 bytes into MSS-sized frames with sequence, length, id, flags and checksums fixed",
          "[nic][hw][unit]") {
  // Descriptors of 4096 bytes, of 777 (segments straddle them at odd offsets) and of 33 (the
  // headers too are spread over descriptors).
  for (const std::size_t chunk : {std::size_t{4096}, std::size_t{777}, std::size_t{33}})
  for (bool v6 : {false, true}) {
    INFO((v6 ? "IPv6" : "IPv4") << ", descriptors of " << chunk << " bytes");
    TxQueueHw::Config qc;
    qc.max_descs_per_packet = 512;
    qc.ring_size = 1024;
    TxQueueHw q(0, qc);
    TxMem m;
    FrameSpec s;
    s.v6 = v6;
    if (v6) {
      w::Ipv6Address a{}, b{};
      a.octets[0] = b.octets[0] = 0x20;
      a.octets[15] = 1;
      b.octets[15] = 2;
      s.src = a;
      s.dst = b;
    }
    s.payload_len = 10000;
    s.tcp_timestamps = true;
    s.tcp_flags = 0x10 | 0x08 | 0x01 | 0x80;  // ACK PSH FIN CWR
    // MTU 1500 with timestamps: 1448 bytes a frame over IPv4, 1428 over IPv6.
    const std::uint32_t mss = v6 ? 1428 : 1448;
    const std::uint32_t nseg = (10000 + mss - 1) / mss;
    (void)post_partial(q, m, s, chunk, 5, static_cast<std::uint16_t>(mss));
    Capture cap;
    const TxWork work = q.transmit_next(m.dma, cap);
    REQUIRE(work.outcome == TxOutcome::kSent);
    REQUIRE(cap.frames.size() == nseg);  // 7 over IPv4, 8 over IPv6
    std::uint32_t expect_seq = 1000, payload_at = 0;
    for (std::size_t i = 0; i < cap.frames.size(); ++i) {
      const auto& fr = cap.frames[i];
      const auto p = w::parse_packet(fr, w::ChecksumCaps::software());
      INFO("frame " << i);
      REQUIRE(p.ok());  // IPv4 header and TCP checksums verify
      const std::uint32_t n = i + 1 < cap.frames.size() ? mss : 10000u - (nseg - 1) * mss;
      CHECK(fr.size() <= 1514);
      CHECK(p.payload_len == n);
      CHECK(w::detail::load_be32(fr.data() + p.l4_offset + 4) == expect_seq);
      const auto flags = std::to_integer<std::uint8_t>(fr[p.l4_offset + 13]);
      CHECK(((flags & 0x01) != 0) == (i + 1 == cap.frames.size()));  // FIN on the last only
      CHECK(((flags & 0x08) != 0) == (i + 1 == cap.frames.size()));  // PSH on the last only
      CHECK(((flags & 0x80) != 0) == (i == 0));                      // CWR on the first only
      if (!v6) CHECK(w::detail::load_be16(fr.data() + 14 + 4) == static_cast<std::uint16_t>(i));  // id 0, 1, ...
      for (std::uint32_t k = 0; k < n; ++k) {
        if (fr[p.header_len + k] != frame_payload_byte(payload_at + k, 0)) FAIL("payload byte " << payload_at + k);
      }
      expect_seq += n;
      payload_at += n;
    }
    CHECK(work.wire_frames == nseg);
    CHECK(q.stats().hw_gso_packets == 1);
    CHECK(q.stats().hw_gso_wire_packets == nseg);
    CHECK(q.stats().packets == nseg);
    const auto c = q.next_completion();
    REQUIRE(c.has_value());
    CHECK(c->wire_frames == nseg);
  }
}

namespace {
// A sink with frame buffers of its own (the zero-copy path the port offers), one per frame, read
// once the jobs that finish them have run; it counts the frames a byte worker job finishes.
struct BufferSink final : TxFrameSink {
  std::vector<std::unique_ptr<std::vector<std::byte>>> bufs;
  std::vector<std::size_t> lens;  // of the frames sent, bufs[0..lens.size())
  std::size_t jobs = 0;
  void tx_frame(std::span<const std::byte> f) override {
    bufs.push_back(std::make_unique<std::vector<std::byte>>(f.begin(), f.end()));
    lens.push_back(f.size());
  }
  std::span<std::byte> frame_buffer(std::size_t len) override {
    if (len > 16384) return {};
    if (bufs.size() == lens.size()) bufs.push_back(std::make_unique<std::vector<std::byte>>(16384));
    return std::span(*bufs.back());
  }
  void tx_frame_built(std::size_t len) override { lens.push_back(len); }
  void tx_frame_job(std::uint64_t job) override { jobs += job != 0 ? 1 : 0; }
  std::span<const std::byte> frame(std::size_t i) const { return std::span(*bufs[i]).first(lens[i]); }
};

struct NoJob {
  void operator()() const {}
};
}  // namespace

// The byte worker copies TSO segments while it keeps up; when it is far behind, the TX engine
// (the simulation thread, which would soon wait for it) builds them itself, with the same bytes.
TEST_CASE("tx queue: TSO with the byte worker far behind builds the segments here, byte for byte",
          "[nic][hw][unit]") {
  nicemu::testing::ByteWorkerThreads threads(2);
  auto& bw = nicemu::base::ByteWorker::get();
  for (const bool behind : {false, true}) {
    INFO((behind ? "worker held behind 20 jobs" : "worker keeping up"));
    TxQueueHw::Config qc;
    qc.max_descs_per_packet = 64;
    qc.ring_size = 64;
    TxQueueHw q(0, qc);
    TxMem m;
    FrameSpec s;
    s.payload_len = 10000;
    s.tcp_timestamps = true;
    (void)post_partial(q, m, s, 4096, 5, 1448);
    std::atomic<bool> open{!behind};
    if (behind) {
      (void)bw.run(nicemu::testing::GateJob{&open});
      for (int i = 0; i < 20; ++i) (void)bw.run(NoJob{});
      REQUIRE_FALSE(bw.queued_below(16));
    }
    BufferSink sink;
    const TxWork work = q.transmit_next(m.dma, sink, /*publish=*/true, /*offload=*/true);
    REQUIRE(work.outcome == TxOutcome::kSent);
    // Held behind its gate, the worker has run nothing: every byte checked here was written by
    // the TX engine itself.
    CHECK(sink.jobs == (behind ? 0u : 7u));
    if (!behind) bw.drain();
    REQUIRE(sink.lens.size() == 7);
    std::uint32_t payload_at = 0;
    for (std::size_t i = 0; i < sink.lens.size(); ++i) {
      INFO("frame " << i);
      const auto fr = sink.frame(i);
      const auto p = w::parse_packet(fr, w::ChecksumCaps::software());
      REQUIRE(p.ok());  // the TCP checksum verifies
      for (std::uint32_t k = 0; k < p.payload_len; ++k) {
        if (fr[p.header_len + k] != frame_payload_byte(payload_at + k, 0)) FAIL("payload byte " << payload_at + k);
      }
      payload_at += p.payload_len;
    }
    CHECK(payload_at == 10000);
    open.store(true, std::memory_order_release);
    bw.drain();
  }
}

TEST_CASE("tx queue: bad requests are dropped as hw_drop_errors and still completed", "[nic][hw][unit]") {
  TxQueueHw::Config cfg;
  cfg.max_descs_per_packet = 2;
  TxQueueHw q(0, cfg);
  TxMem m;
  FrameSpec s;
  s.payload_len = 1460;  // 1514 bytes: the maximum without TSO
  const auto ok = build_frame(s);
  Capture cap;
  // Three descriptors where the profile takes two.
  for (const TxDesc& d : m.descs(ok, 600, 1)) REQUIRE(q.post(d));
  // Mapped for device writes only: the read faults.
  for (const TxDesc& d : m.descs(ok, 4096, 2, netmem::DmaDirection::kFromDevice)) REQUIRE(q.post(d));
  // Above the MTU without TSO.
  s.payload_len = 1461;
  for (const TxDesc& d : m.descs(build_frame(s), 4096, 3)) REQUIRE(q.post(d));
  // TSO on UDP.
  FrameSpec u;
  u.udp = true;
  u.payload_len = 3000;
  auto uds = m.descs(build_frame(u), 4096, 4);
  uds[0].gso_size = 1400;
  for (const TxDesc& d : uds) REQUIRE(q.post(d));
  q.doorbell();
  const TxOutcome expect[] = {TxOutcome::kDropTooManyDescs, TxOutcome::kDropDmaFault, TxOutcome::kDropTooLong,
                              TxOutcome::kDropBadTso};
  for (std::uint32_t id = 1; id <= 4; ++id) {
    REQUIRE(q.has_packet());
    CHECK(q.transmit_next(m.dma, cap).outcome == expect[id - 1]);
    const auto c = q.next_completion();
    REQUIRE(c.has_value());
    CHECK(c->pkt_id == id);
    CHECK(c->wire_frames == 0);
  }
  CHECK(cap.frames.empty());
  CHECK(q.stats().hw_drop_errors == 4);
  CHECK(q.stats().dma_faults == 1);
  CHECK(q.free_descriptors() == 1024);
}
