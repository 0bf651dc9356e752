// One RX queue of the silicon: posted buffers become visible at the doorbell, a frame's bytes
// land byte-exact in the header and payload buffers behind their DMA addresses, the completion
// names the buffers and lengths, and a frame without buffers or completion room is dropped and
// counted without consuming anything.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "frame_builder.hpp"
#include "nicemu/nic/hw/rx_queue.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using nicemu::testing::build_frame;
using nicemu::testing::FrameSpec;
namespace w = nicemu::netstack::wire;

namespace {

// Buffers in host memory, mapped for the device, as a driver would post them.
struct Buffers {
  netmem::DmaSpace dma;
  std::vector<std::vector<std::byte>> mem;
  std::vector<netmem::DmaAddr> addr;

  RxBufferDesc make(std::uint32_t len, netmem::DmaDirection dir = netmem::DmaDirection::kFromDevice) {
    mem.emplace_back(len, std::byte{0xee});
    const auto m = dma.map(mem.back(), dir, netmem::MemoryPlacement::kHostMemory);
    REQUIRE(m.ok());
    addr.push_back(m.addr);
    return RxBufferDesc{m.addr, len, static_cast<std::uint32_t>(mem.size() - 1)};
  }
};

RxQueueHw::Config split_config() {
  RxQueueHw::Config c;
  c.header_ring_size = 8;
  c.payload_ring_size = 8;
  c.completion_ring_size = 8;
  c.split.mode = TcpDataSplit::kEnabled;
  c.split.rx_buf_len = 4096;
  c.split.header_buf_len = 256;
  return c;
}

RxWork receive(RxQueueHw& q, const std::vector<std::byte>& f, Buffers& b) {
  const auto pkt = w::parse_packet(f, w::ChecksumCaps::software());
  RxMeta meta;
  meta.csum = rx_csum_verdict(pkt);
  meta.rss_hash = 0x1234;
  meta.hash_type = RssHashType::kL4;
  return q.receive(f, pkt, meta, b.dma);
}

}  // namespace

TEST_CASE("rx queue: a split frame's headers and payload land byte-exact in the posted buffers",
          "[nic][hw][unit]") {
  RxQueueHw q(3, split_config());
  Buffers b;
  REQUIRE(q.post_header_buffer(b.make(256)));
  for (int i = 0; i < 3; ++i) REQUIRE(q.post_payload_buffer(b.make(4096)));
  q.doorbell();
  FrameSpec s;
  s.payload_len = 9000 - 40;
  s.payload_salt = 9;
  const auto f = build_frame(s);
  const RxWork work = receive(q, f, b);
  REQUIRE(work.outcome == RxOutcome::kCompleted);
  CHECK(work.dma_writes == 4);
  CHECK(work.dma_bytes == f.size());
  const auto c = q.next_completion();
  REQUIRE(c.has_value());
  CHECK(c->frame_len == f.size());
  CHECK(c->split == SplitVerdict::kSplit);
  REQUIRE(c->header_used);
  CHECK(c->header_buf_id == 0);
  CHECK(c->header_len == 54);
  REQUIRE(c->nfrags == 3);
  CHECK(c->meta.csum == RxCsum::kUnnecessary);
  CHECK(c->meta.rss_hash == 0x1234);
  // Reassemble from the buffers the completion names: exactly the frame.
  std::vector<std::byte> got(b.mem[c->header_buf_id].begin(), b.mem[c->header_buf_id].begin() + c->header_len);
  for (std::uint8_t i = 0; i < c->nfrags; ++i) {
    const auto& m = b.mem[c->frags[i].buf_id];
    got.insert(got.end(), m.begin(), m.begin() + c->frags[i].len);
  }
  CHECK(got == f);
  // Past each piece the buffers are untouched.
  CHECK(b.mem[c->frags[2].buf_id][c->frags[2].len] == std::byte{0xee});
  CHECK(q.stats().packets == 1);
  CHECK(q.stats().split_packets == 1);
  CHECK(q.stats().csum_unnecessary == 1);
  CHECK_FALSE(q.next_completion().has_value());
}

TEST_CASE("rx queue: posted buffers are invisible until the doorbell, and a frame without buffers is an overrun",
          "[nic][hw][unit]") {
  RxQueueHw q(0, split_config());
  Buffers b;
  REQUIRE(q.post_header_buffer(b.make(256)));
  REQUIRE(q.post_payload_buffer(b.make(4096)));
  FrameSpec s;
  s.payload_len = 1000;
  const auto f = build_frame(s);
  RxWork work = receive(q, f, b);
  CHECK(work.outcome == RxOutcome::kDropNoHeaderBuffer);
  CHECK(work.dma_writes == 0);
  CHECK(q.stats().hw_drop_overruns == 1);
  CHECK(q.stats().hw_drops == 1);
  CHECK(b.mem[0][0] == std::byte{0xee});  // nothing written
  q.doorbell();
  CHECK(receive(q, f, b).outcome == RxOutcome::kCompleted);
  // Both queues are empty again: the next frame is dropped and consumes nothing.
  CHECK(receive(q, f, b).outcome == RxOutcome::kDropNoHeaderBuffer);
  REQUIRE(q.post_header_buffer(b.make(256)));
  q.doorbell();
  CHECK(receive(q, f, b).outcome == RxOutcome::kDropNoPayloadBuffer);
  CHECK(q.header_buffers_visible() == 1);  // the header buffer was not used up
  CHECK(q.stats().hw_drop_overruns == 3);
  CHECK(q.stats().packets == 1);
}

TEST_CASE("rx queue: a full completion ring drops the frame as an overrun", "[nic][hw][unit]") {
  RxQueueHw::Config c = split_config();
  c.completion_ring_size = 2;
  RxQueueHw q(0, c);
  Buffers b;
  for (int i = 0; i < 3; ++i) REQUIRE(q.post_header_buffer(b.make(256)));
  q.doorbell();
  FrameSpec s;  // a pure ACK: header buffer only
  const auto f = build_frame(s);
  CHECK(receive(q, f, b).outcome == RxOutcome::kCompleted);
  CHECK(receive(q, f, b).outcome == RxOutcome::kCompleted);
  CHECK(receive(q, f, b).outcome == RxOutcome::kDropNoCompletion);
  CHECK(q.stats().header_buffer_only == 2);
  REQUIRE(q.next_completion().has_value());
  CHECK(receive(q, f, b).outcome == RxOutcome::kCompleted);
  CHECK(q.completions_pending() == 2);
}

TEST_CASE("rx queue: a buffer not mapped for device writes is a DMA fault, and nothing is written", "[nic][hw][unit]") {
  RxQueueHw q(0, split_config());
  Buffers b;
  REQUIRE(q.post_header_buffer(b.make(256)));
  REQUIRE(q.post_payload_buffer(b.make(4096, netmem::DmaDirection::kToDevice)));  // wrong direction
  q.doorbell();
  FrameSpec s;
  s.payload_len = 1000;
  const RxWork work = receive(q, build_frame(s), b);
  CHECK(work.outcome == RxOutcome::kDropDmaFault);
  CHECK(q.stats().dma_faults == 1);
  CHECK(q.stats().hw_drops == 1);
  CHECK(q.stats().hw_drop_overruns == 0);
  CHECK(b.mem[0][0] == std::byte{0xee});  // the header was not written either
  CHECK(q.header_buffers_visible() == 1);
  // A payload buffer shorter than its piece is refused the same way.
  RxQueueHw q2(1, split_config());
  REQUIRE(q2.post_header_buffer(b.make(256)));
  REQUIRE(q2.post_payload_buffer(b.make(512)));
  q2.doorbell();
  CHECK(receive(q2, build_frame(s), b).outcome == RxOutcome::kDropDmaFault);
}

TEST_CASE("rx queue: with the split off, whole frames go to payload buffers, and a bad checksum is delivered and counted",
          "[nic][hw][unit]") {
  RxQueueHw::Config c = split_config();
  c.split.mode = TcpDataSplit::kDisabled;
  RxQueueHw q(0, c);
  Buffers b;
  REQUIRE(q.post_payload_buffer(b.make(4096)));
  q.doorbell();
  FrameSpec s;
  s.payload_len = 1448;
  auto f = build_frame(s);
  f[60] ^= std::byte{0x01};  // a payload byte: the TCP checksum no longer matches
  REQUIRE(receive(q, f, b).outcome == RxOutcome::kCompleted);
  const auto comp = q.next_completion();
  REQUIRE(comp.has_value());
  CHECK_FALSE(comp->header_used);
  REQUIRE(comp->nfrags == 1);
  CHECK(comp->frags[0].len == f.size());
  CHECK(comp->meta.csum == RxCsum::kBad);
  CHECK(q.stats().csum_bad == 1);
  CHECK(std::equal(f.begin(), f.end(), b.mem[0].begin()));
}

TEST_CASE("rx queue: stopping reclaims every posted buffer in order, rung or not", "[nic][hw][unit]") {
  RxQueueHw q(0, split_config());
  Buffers b;
  REQUIRE(q.post_header_buffer(b.make(256)));
  REQUIRE(q.post_payload_buffer(b.make(4096)));
  q.doorbell();
  REQUIRE(q.post_payload_buffer(b.make(4096)));
  const auto back = q.reclaim_buffers();
  REQUIRE(back.size() == 3);
  CHECK(back[0].buf_id == 0);
  CHECK(back[1].buf_id == 1);
  CHECK(back[2].buf_id == 2);
  CHECK(q.header_buffers_visible() == 0);
  CHECK(q.payload_buffers_visible() == 0);
  // The rings are usable again.
  for (int i = 0; i < 8; ++i) CHECK(q.post_payload_buffer(b.make(4096)));
  CHECK_FALSE(q.post_payload_buffer(b.make(4096)));  // full
}

// The NIC checks the L4 checksum while the pieces are written (RxL4Check): its verdict must be the
// one a parse-time check gives, whatever the split and however many buffers the payload spans.
TEST_CASE("rx queue: the checksum checked while the bytes are written gives the parse-time verdict",
          "[nic][hw][unit]") {
  struct Variant {
    const char* name;
    FrameSpec spec;
  };
  std::vector<Variant> variants;
  {
    FrameSpec s;
    s.payload_len = 9000;  // three payload buffers
    variants.push_back({"tcp4 9000", s});
    s.tcp_timestamps = true;
    s.payload_len = 1447;  // odd
    variants.push_back({"tcp4 ts odd", s});
    s = FrameSpec{};
    s.payload_len = 3;  // padded to 60 bytes
    variants.push_back({"tcp4 tiny", s});
    s = FrameSpec{};
    s.v6 = true;
    s.src = *w::Ipv6Address::parse("2001:db8::1");
    s.dst = *w::Ipv6Address::parse("2001:db8::2");
    s.payload_len = 5000;
    variants.push_back({"tcp6 5000", s});
    s.udp = true;
    s.payload_len = 777;
    variants.push_back({"udp6", s});
    s = FrameSpec{};
    s.udp = true;
    s.payload_len = 4097;
    variants.push_back({"udp4", s});
  }
  for (const auto& v : variants) {
    for (const bool split : {true, false}) {
      const auto good = build_frame(v.spec);
      const auto pkt0 = w::parse_packet(good, w::ChecksumCaps::software());
      REQUIRE(pkt0.ok());
      // Flip nothing, a byte of the L4 header, the last payload byte, or the link padding.
      for (const int where : {-1, 0, 1, 2}) {
        auto f = good;
        if (where == 0) f[pkt0.l4_offset + 1] ^= std::byte{0x40};
        if (where == 1) f[pkt0.header_len + pkt0.payload_len - 1] ^= std::byte{0x01};
        if (where == 2) {
          if (pkt0.header_len + pkt0.payload_len == f.size()) continue;  // no padding
          f.back() ^= std::byte{0xff};
        }
        CAPTURE(v.name, split, where);
        RxQueueHw::Config c = split_config();
        if (!split) c.split.mode = TcpDataSplit::kDisabled;
        RxQueueHw q(0, c);
        Buffers b;
        REQUIRE(q.post_header_buffer(b.make(256)));
        for (int i = 0; i < 4; ++i) REQUIRE(q.post_payload_buffer(b.make(4096)));
        q.doorbell();
        w::ChecksumCaps caps = w::ChecksumCaps::software();
        caps.tcp.verify_rx = caps.udp.verify_rx = false;
        const auto pkt = w::parse_packet(f, caps);
        RxMeta meta;
        meta.csum = rx_csum_verdict(pkt);
        const RxL4Check l4 = rx_l4_check(pkt, f);
        CHECK(l4.on);
        const RxWork work = q.receive(f, pkt, meta, b.dma, true, &l4);
        REQUIRE(work.outcome == RxOutcome::kCompleted);
        const RxCsum want = rx_csum_verdict(w::parse_packet(f, w::ChecksumCaps::software()));
        CHECK(want == (where == 0 || where == 1 ? RxCsum::kBad : RxCsum::kUnnecessary));
        CHECK(work.csum == want);
        const auto comp = q.next_completion();
        REQUIRE(comp.has_value());
        CHECK(comp->meta.csum == want);
        CHECK((want == RxCsum::kBad ? q.stats().csum_bad : q.stats().csum_unnecessary) == 1);
        // And the bytes landed exactly: header buffer (if used) then the frags, in order.
        std::vector<std::byte> landed;
        if (comp->header_used) landed.insert(landed.end(), b.mem[0].begin(), b.mem[0].begin() + comp->header_len);
        for (std::uint8_t i = 0; i < comp->nfrags; ++i) {
          const auto& m = b.mem[comp->frags[i].buf_id];
          landed.insert(landed.end(), m.begin(), m.begin() + comp->frags[i].len);
        }
        CHECK(landed == f);
      }
    }
  }
}

TEST_CASE("rx queue: UDP over IPv4 without a checksum is not checked", "[nic][hw][unit]") {
  FrameSpec s;
  s.udp = true;
  s.payload_len = 100;
  auto f = build_frame(s);
  const auto pkt = w::parse_packet(f, w::ChecksumCaps::software());
  REQUIRE(pkt.ok());
  f[pkt.l4_offset + 6] = std::byte{0};
  f[pkt.l4_offset + 7] = std::byte{0};
  CHECK_FALSE(rx_l4_check(w::parse_packet(f, w::ChecksumCaps::software()), f).on);
}
