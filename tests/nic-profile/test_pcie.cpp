// PCIe timing: link rates, TLP splitting at MPS / MRRS / 4 KiB, write and read times against
// hand-computed picoseconds, goodputs for several generations, widths and payload sizes, read
// vs write, tags, queueing of concurrent DMAs on a shared link, and the numbers quoted in
// docs/nic-timing.md. Expected values were computed by hand (exact fractions, then rounded up to
// a picosecond), not by running this code.
#include <catch2/catch.hpp>

#include <cmath>
#include <tuple>

#include "nicemu/nic/hw/frame.hpp"
#include "nicemu/nic/hw/pcie.hpp"
#include "nicemu/sim/random.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;

namespace {

PcieParams link(std::uint32_t gen, std::uint32_t lanes, std::uint32_t mps) {
  PcieParams p;
  p.generation = gen;
  p.lanes = lanes;
  p.max_payload_bytes = mps;
  p.max_read_request_bytes = 512;
  p.read_completion_boundary_bytes = 64;
  p.completion_split = CompletionSplit::kMps;
  p.tlp_overhead_bytes = 24;
  p.completion_overhead_bytes = 20;
  p.ecrc = false;
  p.dllp_overhead_ppm = 0;
  p.write_latency = 250_ns;
  p.read_latency = 500_ns;
  p.max_outstanding_reads = 256;
  return p;
}

double gbps(long double bps) { return static_cast<double>(bps / 1e9L); }

}  // namespace

TEST_CASE("pcie: link data rate is GT/s x lanes x encoding for every generation", "[pcie][unit]") {
  CHECK(gbps(pcie_link_data_rate_bps(link(1, 1, 128))) == Approx(2.0).epsilon(1e-12));            // 2.5 x 8/10
  CHECK(gbps(pcie_link_data_rate_bps(link(2, 4, 128))) == Approx(16.0).epsilon(1e-12));           // 5 x 4 x 8/10
  CHECK(gbps(pcie_link_data_rate_bps(link(3, 8, 256))) == Approx(63.015384615).epsilon(1e-9));    // 8 x 8 x 128/130
  CHECK(gbps(pcie_link_data_rate_bps(link(4, 16, 256))) == Approx(252.061538462).epsilon(1e-9));  // 16 x 16 x 128/130
  CHECK(gbps(pcie_link_data_rate_bps(link(5, 16, 512))) == Approx(504.123076923).epsilon(1e-9));  // 32 x 16 x 128/130
  PcieParams p = link(4, 16, 256);
  p.dllp_overhead_ppm = 8553;
  CHECK(gbps(pcie_tlp_rate_bps(p)) == Approx(252.061538462 * (1 - 0.008553)).epsilon(1e-9));
}

TEST_CASE("pcie: link time is exact and rounds up to a picosecond", "[pcie][unit]") {
  const PcieParams p = link(4, 16, 256);
  // 4480 bytes x 8 x 130 / (16e9 x 16 x 128) s = 142187.5 ps -> 142188 ps.
  CHECK(pcie_link_time(p, 4480) == 142'188_ps);
  // 256 bytes: exactly 8125 ps, no rounding.
  CHECK(pcie_link_time(p, 256) == 8'125_ps);
  // gen1 x1: 2 Gbit/s, 1 byte = 4 ns exactly.
  CHECK(pcie_link_time(link(1, 1, 128), 1) == 4_ns);
  CHECK(pcie_link_time(p, 0) == 0_ps);
}

TEST_CASE("pcie: writes are cut at MPS-aligned addresses and carry whole DWs", "[pcie][unit]") {
  const PcieParams p = link(4, 16, 256);
  // Aligned 4096: 16 TLPs of 256, 4096 + 16 x 24 = 4480 wire bytes.
  TlpCount t = pcie_write_tlps(p, 0, 4096);
  CHECK(t.tlps == 16);
  CHECK(t.wire_bytes == 4480);
  // 1500 at 0: 5 x 256 + 220 -> 6 TLPs, 1500 + 144.
  t = pcie_write_tlps(p, 0, 1500);
  CHECK(t.tlps == 6);
  CHECK(t.wire_bytes == 1644);
  // 1500 at 2 (the usual NET_IP_ALIGN offset): still 6 TLPs (first ends at 256), but the DWs
  // covering [2, 1502) are [0, 1504): 1504 payload bytes on the wire.
  t = pcie_write_tlps(p, 2, 1500);
  CHECK(t.tlps == 6);
  CHECK(t.wire_bytes == 1504 + 6 * 24);
  // 200 bytes at 4000 cross a 4 KiB (and MPS) boundary: [4000, 4096) and [4096, 4200).
  t = pcie_write_tlps(p, 4000, 200);
  CHECK(t.tlps == 2);
  CHECK(t.wire_bytes == 200 + 2 * 24);
  // 256 bytes at 128: not aligned to MPS, so two TLPs of 128.
  CHECK(pcie_write_tlps(p, 128, 256).tlps == 2);
  // MPS 4096 still splits at 4 KiB: 8 KiB at 2048 -> [2048,4096) [4096,8192) [8192,10240).
  CHECK(pcie_write_tlps(link(4, 16, 4096), 2048, 8192).tlps == 3);
  // ECRC adds 4 bytes per TLP.
  PcieParams e = p;
  e.ecrc = true;
  CHECK(pcie_write_tlps(e, 0, 4096).wire_bytes == 4096 + 16 * 28);
  CHECK(pcie_write_tlps(p, 0, 0).tlps == 0);
}

TEST_CASE("pcie: write goodput for several generations, widths and MPS", "[pcie][unit]") {
  // goodput = data rate x len / (len + TLPs x 24), len = 4096 at a 4 KiB-aligned address.
  CHECK(gbps(pcie_write_goodput_bps(link(4, 16, 256), 4096)) == Approx(230.456263736).epsilon(1e-9));  // x 256/280
  CHECK(gbps(pcie_write_goodput_bps(link(4, 16, 128), 4096)) == Approx(212.262348178).epsilon(1e-9));  // x 128/152
  CHECK(gbps(pcie_write_goodput_bps(link(4, 16, 512), 4096)) == Approx(240.775200918).epsilon(1e-9));  // x 512/536
  CHECK(gbps(pcie_write_goodput_bps(link(3, 8, 256), 4096)) == Approx(57.614065934).epsilon(1e-9));
  CHECK(gbps(pcie_write_goodput_bps(link(5, 16, 512), 4096)) == Approx(481.550401837).epsilon(1e-9));
  CHECK(gbps(pcie_write_goodput_bps(link(1, 1, 128), 4096)) == Approx(1.684210526).epsilon(1e-9));   // 2 x 128/152
  CHECK(gbps(pcie_write_goodput_bps(link(2, 4, 128), 4096)) == Approx(13.473684211).epsilon(1e-9));  // 16 x 128/152
  // Small writes pay the per-TLP overhead in full: 64 bytes in an 88-byte TLP.
  CHECK(gbps(pcie_write_goodput_bps(link(4, 16, 256), 64)) == Approx(252.061538462 * 64 / 88).epsilon(1e-9));
  // 1500 bytes: 1644 wire bytes.
  CHECK(gbps(pcie_write_goodput_bps(link(4, 16, 256), 1500)) == Approx(229.983155531).epsilon(1e-9));
  // DLLP overhead scales the whole rate.
  PcieParams d = link(4, 16, 256);
  d.dllp_overhead_ppm = 8553;
  CHECK(gbps(pcie_write_goodput_bps(d, 4096)) == Approx(228.485171313).epsilon(1e-9));
}

TEST_CASE("pcie: write time is serialization plus one-way latency", "[pcie][unit]") {
  const PcieParams p = link(4, 16, 256);
  CHECK(pcie_write_time(p, 0, 4096) == 142'188_ps + 250_ns);  // 4480 wire bytes
  CHECK(pcie_write_time(p, 0, 1500) == 52'178_ps + 250_ns);   // 1644 wire bytes: 52177.5 ps rounded up
  CHECK(pcie_write_time(link(3, 8, 256), 0, 4096) == 568'750_ps + 250_ns);
  CHECK(pcie_write_time(link(5, 16, 512), 0, 4096) == 68'047_ps + 250_ns);  // 4288 wire bytes
  CHECK(pcie_write_time(link(1, 1, 128), 0, 1500) == 7'152_ns + 250_ns);    // 12 TLPs, 1788 bytes at 2 Gbit/s
  CHECK(pcie_write_time(p, 0, 0) == 0_ps);
  // A completion entry write: one 32-byte TLP of 56 wire bytes.
  CHECK(pcie_completion_write_time(p, 0, 1, 32) == 1'778_ps + 250_ns);
}

TEST_CASE("pcie: reads split requests at MRRS and completions at MPS or RCB", "[pcie][unit]") {
  PcieParams p = link(4, 16, 256);
  ReadTlps r = pcie_read_tlps(p, 0, 4096);
  CHECK(r.requests.tlps == 8);  // 4096 / 512
  CHECK(r.requests.wire_bytes == 8 * 24);
  CHECK(r.completions.tlps == 16);  // MPS-sized
  CHECK(r.completions.wire_bytes == 4096 + 16 * 20);
  p.completion_split = CompletionSplit::kRcb;
  r = pcie_read_tlps(p, 0, 4096);
  CHECK(r.completions.tlps == 64);  // one per 64-byte RCB
  CHECK(r.completions.wire_bytes == 4096 + 64 * 20);
  // An unaligned 100-byte read at 60: one request, completions cut at the RCB boundaries 64 and
  // 128 -> [60,64) [64,128) [128,160); DWs [60,160) = 100 bytes.
  r = pcie_read_tlps(p, 60, 100);
  CHECK(r.requests.tlps == 1);
  CHECK(r.completions.tlps == 3);
  CHECK(r.completions.wire_bytes == 100 + 3 * 20);
  // MRRS smaller than MPS: a completion never spans two requests.
  PcieParams small = link(4, 16, 512);
  small.max_read_request_bytes = 128;
  r = pcie_read_tlps(small, 0, 1024);
  CHECK(r.requests.tlps == 8);
  CHECK(r.completions.tlps == 8);
}

TEST_CASE("pcie: read time adds the round trip to request and completion serialization", "[pcie][unit]") {
  const PcieParams p = link(4, 16, 256);
  // 4096 at 0: request 1 takes 762 ps (24 bytes); its completions (512 + 2 x 20 = 552 bytes,
  // 17520 ps) start 500 ns later; requests 2..8 leave meanwhile, so the eight groups of
  // completions stream back to back: 762 + 500000 + 8 x 17520 = 640922 ps.
  CHECK(pcie_read_time(p, 0, 4096) == 640'922_ps);
  // Four 32-byte descriptors: one request, one 148-byte completion (4697.1 -> 4698 ps).
  CHECK(pcie_descriptor_read_time(p, 0, 4, 32) == 505'460_ps);
  // Completions cut at 64 bytes cost 64 x 20 header bytes instead of 16 x 20.
  PcieParams rcb = p;
  rcb.completion_split = CompletionSplit::kRcb;
  CHECK(pcie_read_time(rcb, 0, 4096) == 671'394_ps);
  // gen3 x8, 64 bytes: 24-byte request 3047 ps, 84-byte completion 10665 ps.
  CHECK(pcie_read_time(link(3, 8, 256), 0, 64) == 513'712_ps);
}

TEST_CASE("pcie: a read of N bytes takes longer than a write of N bytes", "[pcie][unit]") {
  // Descriptor- and packet-sized transfers: the read pays a round trip and a request TLP.
  for (std::uint32_t gen : {1u, 3u, 4u, 5u}) {
    const PcieParams p = link(gen, 16, 256);
    for (std::uint64_t len : {32u, 64u, 1500u, 4096u, 9000u}) {
      INFO("gen " << gen << " len " << len);
      CHECK(pcie_read_time(p, 0, len) > pcie_write_time(p, 0, len));
    }
  }
  // Not a law, though: completions carry 3DW headers (20 bytes) where writes carry 4DW (24),
  // so on a slow link a long enough read catches up with the extra 250 ns of round trip.
  // gen1 x16 (32 Gbit/s): at 64 KiB the 256 TLPs' 4 bytes each (256 ns) exactly make up for
  // the extra 250 ns of round trip plus the 6 ns request; at 128 KiB the read is 256 ns faster.
  const PcieParams slow = link(1, 16, 256);
  CHECK(pcie_read_time(slow, 0, 65536) == pcie_write_time(slow, 0, 65536));
  CHECK(pcie_read_time(slow, 0, 65536) == 18'170_ns);
  CHECK(pcie_write_time(slow, 0, 131072) - pcie_read_time(slow, 0, 131072) == 256_ns);
  // ... but streaming reads move more payload per link second: completions carry 3DW headers.
  const PcieParams p = link(4, 16, 256);
  CHECK(gbps(pcie_read_goodput_bps(p, 4096)) == Approx(233.796209588).epsilon(1e-9));  // x 4096/4416
  CHECK(pcie_read_goodput_bps(p, 4096) > pcie_write_goodput_bps(p, 4096));
  PcieParams rcb = p;
  rcb.completion_split = CompletionSplit::kRcb;
  CHECK(gbps(pcie_read_goodput_bps(rcb, 4096)) == Approx(192.046886447).epsilon(1e-9));  // x 4096/5376
}

TEST_CASE("pcie: read requests wait for a free tag", "[pcie][unit]") {
  PcieParams p = link(4, 16, 256);
  p.max_outstanding_reads = 2;
  // Requests 3..8 each wait for the completion of the request two before them:
  // hand-computed with the same rule as the 256-tag case above.
  CHECK(pcie_read_time(p, 0, 4096) == 2'090'648_ps);
  PcieLink l(p);
  const PcieTransfer t = l.dma_read(sim::TimePoint::zero(), 0, 4096);
  CHECK(t.done.since_start() == 2'090'648_ps);
  CHECK(l.stats().tag_wait > sim::Duration::zero());
}

TEST_CASE("pcie: a long read gives the grants and statistics of its requests read one by one", "[pcie][bus][unit]") {
  // A read is its MRRS-sized requests, each taking a tag, queueing upstream and getting its
  // completions downstream in order: reading the same bytes one request at a time must give
  // the same transfer and every counter the same, with few tags (requests wait), interleaved
  // writes and doorbells (gaps and backfills) and reads of every length.
  for (std::uint32_t tags : {4u, 16u, 256u}) {
    PcieParams p = link(4, 16, 256);
    p.max_outstanding_reads = tags;
    PcieLink whole(p);
    PcieLink pieces(p);
    sim::Rng rng(tags);
    sim::TimePoint now = sim::TimePoint::zero();
    for (int op = 0; op < 3000; ++op) {
      now = now + sim::Duration::from_ns(static_cast<std::int64_t>(rng.uniform(4) == 0 ? rng.uniform(2000) : 0));
      const std::uint64_t addr = rng.uniform(1u << 20);
      const std::uint64_t len = 1 + rng.uniform(rng.uniform(2) == 0 ? 600 : 20000);
      INFO("tags " << tags << " op " << op);
      switch (rng.uniform(4)) {
        case 0: {
          const PcieTransfer a = whole.dma_write(now, addr, len);
          const PcieTransfer b = pieces.dma_write(now, addr, len);
          REQUIRE(a.done == b.done);
          break;
        }
        case 1: {
          const PcieTransfer a = whole.mmio_write(now, 8);
          const PcieTransfer b = pieces.mmio_write(now, 8);
          REQUIRE(a.done == b.done);
          break;
        }
        default: {
          const PcieTransfer a = whole.dma_read(now, addr, len);
          PcieTransfer b{sim::TimePoint::max(), now, 0, 0};
          for (std::uint64_t at = addr; at < addr + len;) {
            const std::uint64_t stop = std::min(addr + len, (at / 512 + 1) * 512);
            const PcieTransfer r = pieces.dma_read(now, at, stop - at);
            if (at == addr) b.start = r.start;
            b.done = std::max(b.done, r.done);
            b.wire_bytes += r.wire_bytes;
            b.tlps += r.tlps;
            at = stop;
          }
          REQUIRE(a.start == b.start);
          REQUIRE(a.done == b.done);
          REQUIRE(a.wire_bytes == b.wire_bytes);
          REQUIRE(a.tlps == b.tlps);
        }
      }
    }
    for (const bool up : {true, false}) {
      const BusStats& x = (up ? whole.upstream() : whole.downstream()).stats();
      const BusStats& y = (up ? pieces.upstream() : pieces.downstream()).stats();
      CHECK(x.grants == y.grants);
      CHECK(x.busy == y.busy);
      CHECK(x.waited == y.waited);
      CHECK(x.max_wait == y.max_wait);
      CHECK(x.backfilled == y.backfilled);
    }
    CHECK(whole.stats().tag_wait == pieces.stats().tag_wait);
    CHECK(whole.stats().read_bytes == pieces.stats().read_bytes);
  }
}

TEST_CASE("pcie: a shared link queues concurrent DMA writes", "[pcie][bus][unit]") {
  const PcieParams p = link(4, 16, 256);
  PcieLink l(p);
  const sim::TimePoint t0 = sim::TimePoint::zero();
  const PcieTransfer a = l.dma_write(t0, 0, 4096);
  const PcieTransfer b = l.dma_write(t0, 8192, 4096);  // issued at the same time: waits for a
  CHECK(a.start == t0);
  CHECK(a.done == t0 + 142'188_ps + 250_ns);
  CHECK(b.start == t0 + 142'188_ps);
  CHECK(b.done == t0 + 142'188_ps * 2 + 250_ns);
  CHECK(l.upstream().stats().waited == 142'188_ps);
  // A write issued after the link went idle does not wait.
  const sim::TimePoint later = t0 + 1_us;
  const PcieTransfer c = l.dma_write(later, 0, 64);
  CHECK(c.start == later);
  CHECK(c.done == later + 2'793_ps + 250_ns);  // 88 wire bytes
  // Writes and read completions use different directions: a read's completions do not wait
  // for writes, but its request queues behind them.
  PcieLink m(p);
  m.dma_write(t0, 0, 4096);
  const PcieTransfer r = m.dma_read(t0, 0, 64);
  CHECK(r.start == t0 + 142'188_ps);
  CHECK(r.done == t0 + 142'188_ps + 762_ps + 500_ns + 2'667_ps);  // 84-byte completion: 2666.02 ps
}

TEST_CASE("pcie: a doorbell fits in the gap before a completion that is still on its way", "[pcie][bus][unit]") {
  const PcieParams p = link(4, 16, 256);
  PcieLink l(p);
  const sim::TimePoint t0 = sim::TimePoint::zero();
  // The read's completion reserves the downstream direction from 500.762 ns on.
  const PcieTransfer r = l.dma_read(t0, 0, 64);
  CHECK(r.done == t0 + 762_ps + 500_ns + 2'667_ps);
  // A doorbell (8-byte MMIO write, 32 wire bytes = 1016 ps) at 10 ns goes out at once.
  const PcieTransfer d = l.mmio_write(t0 + 10_ns, 8);
  CHECK(d.start == t0 + 10_ns);
  CHECK(d.done == t0 + 10_ns + 1'016_ps + 250_ns);
  CHECK(l.downstream().stats().backfilled == 1);
  // One that would overlap the completion goes after it.
  const PcieTransfer e = l.mmio_write(t0 + 500_ns, 8);
  CHECK(e.start == r.done);
}

TEST_CASE("pcie: an idle shared link gives the one-transfer times", "[pcie][bus][unit]") {
  const PcieParams p = link(4, 16, 256);
  for (std::uint64_t addr : {0u, 2u, 60u, 4000u}) {
    for (std::uint64_t len : {1u, 32u, 64u, 1500u, 4096u, 9000u, 65536u}) {
      INFO("addr " << addr << " len " << len);
      PcieLink w(p);
      CHECK(w.dma_write(sim::TimePoint::zero(), addr, len).done.since_start() == pcie_write_time(p, addr, len));
      PcieLink r(p);
      const PcieTransfer t = r.dma_read(sim::TimePoint::zero(), addr, len);
      CHECK(t.done.since_start() == pcie_read_time(p, addr, len));
      const ReadTlps tlps = pcie_read_tlps(p, addr, len);
      CHECK(t.tlps == tlps.requests.tlps + tlps.completions.tlps);
      CHECK(t.wire_bytes == tlps.requests.wire_bytes + tlps.completions.wire_bytes);
    }
  }
}

TEST_CASE("pcie: back-to-back writes on a shared link run at the write goodput", "[pcie][bus][unit]") {
  PcieParams p = link(4, 16, 256);
  p.dllp_overhead_ppm = 8553;
  PcieLink l(p);
  sim::TimePoint last;
  constexpr int kWrites = 1000;
  for (int i = 0; i < kWrites; ++i) last = l.dma_write(sim::TimePoint::zero(), std::uint64_t(i) * 4096, 4096).done;
  const long double seconds = static_cast<long double>((last - p.write_latency).ps()) * 1e-12L;
  const long double bps = 4096.0L * 8 * kWrites / seconds;
  // Each write is rounded up by < 1 ps on its own, so the measured rate is a hair lower.
  CHECK(gbps(bps) == Approx(gbps(pcie_write_goodput_bps(p, 4096))).epsilon(1e-5));
  CHECK(l.stats().writes == kWrites);
  CHECK(l.stats().write_bytes == 4096u * kWrites);
}

TEST_CASE("pcie: the peer-to-peer path is a second link with its own parameters", "[pcie][unit]") {
  PcieParams host = link(4, 16, 256);
  PcieParams p2p = link(4, 16, 256);
  p2p.write_latency = 150_ns;  // through a switch, not the root complex
  p2p.read_latency = 600_ns;
  PcieLink to_host(host), to_gpu(p2p);
  const sim::TimePoint t0 = sim::TimePoint::zero();
  const PcieTransfer a = to_host.dma_write(t0, 0, 4096);
  const PcieTransfer b = to_gpu.dma_write(t0, 0, 4096);
  // Independent directions: neither waits for the other.
  CHECK(a.start == t0);
  CHECK(b.start == t0);
  CHECK(b.done == t0 + 142'188_ps + 150_ns);
  CHECK(pcie_read_time(p2p, 0, 64) == 762_ps + 600_ns + 2'667_ps);
}

TEST_CASE("pcie: the numbers docs/nic-timing.md quotes", "[pcie][docs][unit]") {
  // Serialization on the wire: (frame + 24) bytes at line rate. 1514-byte frame = 1538 bytes.
  CHECK(wire_time(1514, 100'000'000'000) == 123'040_ps);
  CHECK(sim::transmit_time(1538, 100'000'000'000) == 123'040_ps);
  CHECK(wire_time(60, 100'000'000'000) == 6'720_ps);  // minimum frame: 84 bytes, 148.8 Mframes/s
  // gen4 x16, MPS 256.
  PcieParams p = link(4, 16, 256);
  CHECK(gbps(pcie_link_data_rate_bps(p)) == Approx(252.0615).epsilon(1e-6));
  CHECK(gbps(pcie_write_goodput_bps(p, 4096)) == Approx(230.4563).epsilon(1e-6));
  p.dllp_overhead_ppm = 8553;
  CHECK(gbps(pcie_tlp_rate_bps(p)) == Approx(249.9057).epsilon(1e-6));
  CHECK(gbps(pcie_write_goodput_bps(p, 4096)) == Approx(228.4852).epsilon(1e-6));
  // One 1500-byte packet write and its 32-byte completion entry, as in the worked example.
  p.dllp_overhead_ppm = 0;
  CHECK(pcie_write_time(p, 0, 1500) - p.write_latency == 52'178_ps);
  CHECK(pcie_completion_write_time(p, 0, 1, 32) - p.write_latency == 1'778_ps);
  CHECK(pcie_write_time(p, 2, 1500) - p.write_latency == 52'305_ps);  // 1648 wire bytes
}

TEST_CASE("pcie: the rate and wire tables of docs/nic-timing.md", "[pcie][docs][unit]") {
  const std::uint64_t g = 1'000'000'000;
  for (auto [frame, rate, ps] : {std::tuple{60, 100 * g, 6'720},
                                 {60, 200 * g, 3'360},
                                 {60, 400 * g, 1'680},
                                 {1514, 100 * g, 123'040},
                                 {1514, 200 * g, 61'520},
                                 {1514, 400 * g, 30'760},
                                 {9014, 100 * g, 723'040},
                                 {9014, 200 * g, 361'520},
                                 {9014, 400 * g, 180'760}}) {
    INFO(frame << " bytes at " << rate);
    CHECK(wire_time(static_cast<std::size_t>(frame), rate).ps() == ps);
  }
  for (auto [gen, lanes, expected] : {std::tuple{1u, 8u, 16.0},
                                      {1u, 16u, 32.0},
                                      {2u, 8u, 32.0},
                                      {2u, 16u, 64.0},
                                      {3u, 8u, 63.0154},
                                      {3u, 16u, 126.0308},
                                      {4u, 8u, 126.0308},
                                      {4u, 16u, 252.0615},
                                      {5u, 8u, 252.0615},
                                      {5u, 16u, 504.1231}}) {
    INFO("gen" << gen << " x" << lanes);
    CHECK(gbps(pcie_link_data_rate_bps(link(gen, lanes, 256))) == Approx(expected).epsilon(5e-7));
  }
  // The DLLP derivation: Ack + UpdateFC, 8 bytes each, per 168 symbol times x 16 lanes; SKP 4/1538.
  CHECK(std::lround(2.0 * 8 / (168 * 16) * 1e6) == 5952);
  CHECK(std::lround(4.0 / 1538 * 1e6) == 2601);
  CHECK(std::lround((2.0 * 8 / (168 * 16) + 4.0 / 1538) * 1e6) == 8553);
  CHECK(std::lround((2.0 * 8 / 168 + 4.0 / 1538) * 1e6) == 97'839);  // pcie-bench's reading
}

TEST_CASE("pcie: gen4 x16 carries 200GbE of 1500-byte frames with header split at 90.6 percent",
          "[pcie][docs][bus][unit]") {
  PcieParams p = link(4, 16, 256);
  p.dllp_overhead_ppm = 8553;
  // Per frame: a 66-byte header, 1448 bytes of payload into a 4 KiB buffer, a 32-byte
  // completion entry; one 16-descriptor fetch request per 16 frames.
  const std::uint64_t header = pcie_write_tlps(p, 0, 66).wire_bytes;
  const std::uint64_t payload = pcie_write_tlps(p, 0, 1448).wire_bytes;
  const std::uint64_t cqe = pcie_write_tlps(p, 0, 32).wire_bytes;
  const std::uint64_t fetch = pcie_read_tlps(p, 0, 16 * 32).requests.wire_bytes;
  CHECK(header == 92);
  CHECK(payload == 1592);
  CHECK(cqe == 56);
  CHECK(fetch == 24);
  const long double per_frame = header + payload + cqe + fetch / 16.0L;
  CHECK(static_cast<double>(per_frame) == 1741.5);
  const long double frames_per_s = 200e9L / (1538 * 8);
  CHECK(static_cast<double>(frames_per_s / 1e6L) == Approx(16.2549).epsilon(1e-5));
  CHECK(gbps(frames_per_s * per_frame * 8) == Approx(226.4629).epsilon(1e-6));
  CHECK(static_cast<double>(frames_per_s * per_frame * 8 / pcie_tlp_rate_bps(p)) == Approx(0.906).epsilon(1e-3));
  PcieParams x8 = p;
  x8.lanes = 8;
  CHECK(static_cast<double>(frames_per_s * per_frame * 8 / pcie_tlp_rate_bps(x8)) == Approx(1.8124).epsilon(1e-4));

  // On a shared link the three writes (55.703 ns) fit in the 61.52 ns between frames: the queue
  // never grows, whatever the number of frames.
  CHECK(pcie_link_time(p, header) + pcie_link_time(p, payload) + pcie_link_time(p, cqe) == 55'703_ps);
  PcieLink l(p);
  sim::TimePoint t;
  for (int i = 0; i < 10'000; ++i) {
    l.dma_write(t, 0, 66);
    l.dma_write(t, 4096, 1448);
    l.dma_write(t, 8192, 32);
    t += wire_time(1514, 200'000'000'000);
  }
  CHECK(l.upstream().stats().max_wait < 55'703_ps);
  CHECK(l.upstream().free_at() <= t);
}

TEST_CASE("pcie: validation names each bad field and what it allows", "[pcie][unit]") {
  CHECK(validate_pcie_params(link(4, 16, 256)).empty());
  PcieParams p = link(4, 16, 256);
  p.generation = 6;
  p.lanes = 3;
  p.max_payload_bytes = 384;
  p.read_completion_boundary_bytes = 32;
  p.read_latency = sim::Duration::from_ps(-1000);
  const auto errors = validate_pcie_params(p, "p2p");
  REQUIRE(errors.size() == 5);
  CHECK(errors[0].field == "p2p.generation");
  CHECK(errors[0].message == "6 is not allowed; allowed: 1 to 5");
  CHECK(errors[1].field == "p2p.lanes");
  CHECK(errors[1].message == "3 is not allowed; allowed: one of 1, 2, 4, 8, 16");
  CHECK(errors[2].field == "p2p.max-payload-bytes");
  CHECK(errors[2].message == "384 is not allowed; allowed: a power of two from 128 to 4096 bytes");
  CHECK(errors[3].field == "p2p.read-completion-boundary-bytes");
  CHECK(errors[4].field == "p2p.read-latency-ns");
  CHECK(pcie_field_allowed("lanes") == "one of 1, 2, 4, 8, 16");
  CHECK(pcie_field_allowed("no-such-field").empty());
}
