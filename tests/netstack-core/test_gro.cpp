// GRO: which TCP segments merge (tcp_gro_receive's checks), what completes a flow, what the
// merged skb looks like (lengths, gso fields, fixed headers, every payload byte), readable vs
// unreadable, the 64 KiB and 17-frag limits, eviction of the oldest of 8 flows, pass-through.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "nicemu/netstack/core/gro.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/ipv4.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "nicemu/netstack/wire/tcp.hpp"
#include "nicemu/netstack/wire/udp.hpp"
#include "nicemu/sim/random.hpp"
#include "recording_tracer.hpp"
#include "skb_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::netstack::core;
namespace wire = nicemu::netstack::wire;
using nicemu::testing::SkbHost;
using nicemu::testing::skb_bytes;

namespace {

constexpr std::uint8_t kAck = wire::TcpFlags::kAck;
constexpr std::uint8_t kPsh = wire::TcpFlags::kPsh;
constexpr std::uint16_t kMss = 1448;

// The payload byte at TCP sequence number `seq` of the test stream (so the merged payload can be
// checked against the concatenation of the inputs).
std::byte stream_byte(std::uint32_t seq) { return static_cast<std::byte>((seq * 7u + (seq >> 9)) & 0xffu); }

enum class Where : std::uint8_t { kPageFrag, kTwoPageFrags, kLinear, kNiov };

struct SegSpec {
  std::uint32_t seq = 1000;
  std::uint32_t ack = 5000;
  std::uint8_t flags = kAck;
  std::uint32_t payload = kMss;
  Where where = Where::kPageFrag;
  std::uint16_t sport = 40000;
  std::uint16_t dport = 5201;
  std::uint16_t ip_id = 1;
  bool df = true;
  std::uint8_t ttl = 64;
  std::optional<wire::TcpTimestamps> ts = wire::TcpTimestamps{100, 200};
  bool v6 = false;
  IpSummed ip_summed = IpSummed::kUnnecessary;
};

const wire::Ipv4Address kSrc4 = wire::Ipv4Address::from_u32(0x0a000001);
const wire::Ipv4Address kDst4 = wire::Ipv4Address::from_u32(0x0a000002);
wire::Ipv6Address v6addr(std::uint8_t last) {
  wire::Ipv6Address a;
  a.octets[0] = 0xfd;
  a.octets[15] = last;
  return a;
}

// Builds an RX skb as a header-splitting driver hands it to napi_gro_receive(): Ethernet, IP and
// TCP headers in the linear area (eth_type_trans done: data() at the IP header), the payload
// where `where` says.
SkBuff* make_segment(SkbHost& h, const SegSpec& s) {
  SkBuff* skb = h.skbs.alloc();
  REQUIRE(skb != nullptr);
  wire::TcpRepr tcp;
  tcp.src_port = s.sport;
  tcp.dst_port = s.dport;
  tcp.seq_number = s.seq;
  tcp.ack_number = s.ack;
  tcp.flags = wire::TcpFlags{s.flags};
  tcp.window = 512;
  tcp.options.timestamps = s.ts;
  const std::uint32_t tcp_len = static_cast<std::uint32_t>(tcp.header_len());
  const std::uint32_t ip_len = s.v6 ? 40 : 20;
  const std::uint32_t l4_len = tcp_len + s.payload;
  std::byte* eth = skb->put(14 + ip_len + tcp_len);
  wire::EthernetRepr e;
  e.src = wire::MacAddress{{2, 0, 0, 0, 0, 1}};
  e.dst = wire::MacAddress{{2, 0, 0, 0, 0, 2}};
  e.ethertype = s.v6 ? wire::ethertype::kIpv6 : wire::ethertype::kIpv4;
  e.emit({eth, 14});
  wire::ChecksumCaps caps = wire::ChecksumCaps::offloaded();
  caps.ipv4.fill_tx = true;  // GRO checks the IPv4 header checksum (ip_fast_csum)
  wire::IpAddress src;
  wire::IpAddress dst;
  if (s.v6) {
    wire::Ipv6Repr ip;
    ip.src = v6addr(1);
    ip.dst = v6addr(2);
    ip.next_header = wire::ip_protocol::kTcp;
    ip.payload_len = static_cast<std::uint16_t>(l4_len);
    ip.hop_limit = s.ttl;
    ip.emit({eth + 14, 40});
    src = ip.src;
    dst = ip.dst;
  } else {
    wire::Ipv4Repr ip;
    ip.src = kSrc4;
    ip.dst = kDst4;
    ip.protocol = wire::ip_protocol::kTcp;
    ip.payload_len = static_cast<std::uint16_t>(l4_len);
    ip.ttl = s.ttl;
    ip.ident = s.ip_id;
    ip.dont_fragment = s.df;
    ip.emit({eth + 14, 20}, caps);
    src = ip.src;
    dst = ip.dst;
  }
  tcp.emit({eth + 14 + ip_len, tcp_len}, src, dst, caps);
  skb->reset_mac_header();
  skb->pull(14);  // eth_type_trans()
  skb->reset_network_header();
  skb->protocol = e.ethertype;
  skb->ip_summed = s.ip_summed;
  skb->pp_recycle = true;  // a page-pool driver marks every RX skb (skb_mark_for_recycle)
  switch (s.where) {
    case Where::kLinear: {
      std::byte* p = skb->put(s.payload);
      for (std::uint32_t i = 0; i < s.payload; ++i) p[i] = stream_byte(s.seq + i);
      break;
    }
    case Where::kPageFrag:
    case Where::kTwoPageFrags: {
      const std::uint32_t first = s.where == Where::kPageFrag ? s.payload : s.payload / 2;
      std::uint32_t done = 0;
      for (const std::uint32_t part : {first, s.payload - first}) {
        if (part == 0) continue;
        const netmem::NetmemRef n = h.pages->alloc_netmems();
        const std::uint32_t off = (s.seq + done) % 64;  // frags at odd places in their pages
        std::byte* p = netmem::netmem_address(n).data() + off;
        for (std::uint32_t i = 0; i < part; ++i) p[i] = stream_byte(s.seq + done + i);
        skb->add_rx_frag(n, off, part, static_cast<std::uint32_t>(netmem::kPageSize));
        done += part;
      }
      break;
    }
    case Where::kNiov:
      if (s.payload != 0) h.add_niov_frag(*skb, 0, s.payload);
      break;
  }
  return skb;
}

struct GroHarness {
  SkbHost h;
  std::vector<SkBuff*> delivered;
  GroContext gro{[this](SkBuff* skb) { delivered.push_back(skb); }};

  GroResult rx(const SegSpec& s) { return gro.gro_receive(make_segment(h, s)); }
  void free_delivered() {
    for (SkBuff* skb : delivered) kfree_skb(skb);
    delivered.clear();
  }
  ~GroHarness() {
    gro.gro_flush_all();
    free_delivered();
  }
};

std::uint32_t hdr_len(const SkBuff& skb, bool v6 = false) {
  const std::uint32_t ip = v6 ? 40 : 20;
  auto tcp = wire::TcpView::check(std::span<const std::byte>(skb.data() + ip, skb.headlen() - ip));
  REQUIRE(tcp.has_value());
  return ip + static_cast<std::uint32_t>(tcp->header_len());
}

wire::TcpView tcp_of(const SkBuff& skb, bool v6 = false) {
  const std::uint32_t ip = v6 ? 40 : 20;
  auto tcp = wire::TcpView::check(std::span<const std::byte>(skb.data() + ip, skb.headlen() - ip));
  REQUIRE(tcp.has_value());
  return *tcp;
}

// The IPv4 header of an skb, checked over a copy of the headers padded to the packet's length
// (the payload lives in frags).
struct HeaderImage {
  std::vector<std::byte> bytes;
  explicit HeaderImage(const SkBuff& skb) : bytes(skb.len()) {
    std::copy(skb.data(), skb.data() + skb.headlen(), bytes.begin());
  }
};

void check_payload(const SkBuff& skb, std::uint32_t first_seq, std::uint32_t len, bool v6 = false) {
  const std::vector<std::byte> all = skb_bytes(skb);
  const std::uint32_t hl = hdr_len(skb, v6);
  REQUIRE(all.size() == hl + len);
  std::vector<std::byte> want(len);
  for (std::uint32_t i = 0; i < len; ++i) want[i] = stream_byte(first_seq + i);
  CHECK(std::vector<std::byte>(all.begin() + hl, all.end()) == want);
}

}  // namespace

TEST_CASE("gro: three in-order segments merge into one skb that is delivered at the end of the poll",
          "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  CHECK(t.rx(s) == GroResult::kHeld);
  s.seq += kMss;
  s.ip_id = 2;
  CHECK(t.rx(s) == GroResult::kMergedFree);
  s.seq += kMss;
  s.ip_id = 3;
  CHECK(t.rx(s) == GroResult::kMergedFree);
  CHECK(t.gro.held_count() == 1);
  CHECK(t.delivered.empty());
  CHECK(t.h.skbs.in_use() == 1);  // the two merged segments' skbs were freed

  t.gro.gro_flush_all();
  REQUIRE(t.delivered.size() == 1);
  const SkBuff& m = *t.delivered[0];
  const std::uint32_t hl = 20 + 32;
  CHECK(m.len() == hl + 3 * kMss);
  CHECK(m.headlen() == hl);
  CHECK(m.nr_frags() == 3);
  CHECK(m.gso_size == kMss);
  CHECK(m.gso_segs == 3);
  CHECK(m.gso_type == kSkbGsoTcpV4);
  CHECK(m.ip_summed == IpSummed::kUnnecessary);
  HeaderImage img(m);
  auto ip = wire::Ipv4View::check(std::span<const std::byte>(img.bytes));
  REQUIRE(ip.has_value());
  CHECK(ip->total_len() == m.len());
  CHECK(ip->verify_checksum());
  CHECK(ip->ident() == 1);  // the first segment's header
  const wire::TcpView tcp = tcp_of(m);
  CHECK(tcp.seq_number() == 1000);
  CHECK(tcp.flags().bits == kAck);
  // tcp4_gro_complete: th->check = ~tcp_v4_check(len, saddr, daddr, 0)
  wire::ChecksumAccumulator pseudo;
  wire::add_ipv4_pseudo_header(pseudo, kSrc4, kDst4, wire::ip_protocol::kTcp,
                               static_cast<std::uint16_t>(m.len() - 20));
  CHECK(tcp.checksum() == pseudo.sum());
  check_payload(m, 1000, 3 * kMss);
  CHECK(t.gro.stats().held == 1);
  CHECK(t.gro.stats().merged == 2);
  CHECK(t.gro.stats().flush.poll_end == 1);
  CHECK(t.gro.stats().delivered_merged == 1);
  CHECK(t.gro.held_count() == 0);
  t.free_delivered();
  CHECK(t.h.pages_out() == 0);
  CHECK(t.h.skbs.in_use() == 0);
}

TEST_CASE("gro: every merged payload byte equals the concatenation of the inputs, whatever the frag layout",
          "[netstack][core][unit]") {
  GroHarness t;
  sim::Rng rng(11);
  SegSpec s;
  s.where = Where::kTwoPageFrags;
  const std::uint32_t first_seq = s.seq;
  for (std::uint16_t i = 0; i < 8; ++i) {
    s.where = rng.uniform(2) == 0 ? Where::kTwoPageFrags : Where::kPageFrag;
    s.ip_id = static_cast<std::uint16_t>(1 + i);
    t.rx(s);
    s.seq += kMss;
  }
  t.gro.gro_flush_all();
  REQUIRE(t.delivered.size() == 1);
  CHECK(t.delivered[0]->gso_segs == 8);
  check_payload(*t.delivered[0], first_seq, 8 * kMss);
}

TEST_CASE("gro: a PSH segment is merged and completes the flow at once", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += kMss;
  s.ip_id = 2;
  s.flags = kAck | kPsh;
  CHECK(t.rx(s) == GroResult::kMergedFree);
  REQUIRE(t.delivered.size() == 1);
  CHECK(t.gro.held_count() == 0);
  const SkBuff& m = *t.delivered[0];
  CHECK(m.gso_segs == 2);
  CHECK(tcp_of(m).flags().psh());  // PSH from the last segment
  check_payload(m, 1000, 2 * kMss);
  CHECK(t.gro.stats().flush.flags == 1);
}

TEST_CASE("gro: a PSH segment of no held flow is delivered at once, not held", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  s.flags = kAck | kPsh;
  CHECK(t.rx(s) == GroResult::kNormal);
  CHECK(t.delivered.size() == 1);
  CHECK(t.delivered[0]->gso_size == 0);
  CHECK(t.gro.stats().normal == 1);
}

TEST_CASE("gro: a sequence gap completes the held flow and starts a new one", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += 2 * kMss;  // one segment lost
  s.ip_id = 2;
  CHECK(t.rx(s) == GroResult::kHeld);
  REQUIRE(t.delivered.size() == 1);
  CHECK(tcp_of(*t.delivered[0]).seq_number() == 1000);
  CHECK(t.delivered[0]->gso_size == 0);  // a flow of one segment goes up as it arrived
  CHECK(t.delivered[0]->gso_segs == 0);
  CHECK(t.gro.held_count() == 1);
  CHECK(t.gro.stats().flush.seq_gap == 1);
  t.gro.gro_flush_all();
  REQUIRE(t.delivered.size() == 2);
  CHECK(tcp_of(*t.delivered[1]).seq_number() == 1000 + 2 * kMss);
}

TEST_CASE("gro: segments whose TCP options differ do not merge", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += kMss;
  s.ip_id = 2;
  s.ts = wire::TcpTimestamps{101, 200};  // tsval moved on: the kernel compares every option byte
  CHECK(t.rx(s) == GroResult::kHeld);
  CHECK(t.gro.stats().flush.options_mismatch == 1);
  s.seq += kMss;
  s.ip_id = 3;
  s.ts.reset();  // no options at all: the data offset differs
  CHECK(t.rx(s) == GroResult::kHeld);
  CHECK(t.gro.stats().flush.header_mismatch == 1);
  CHECK(t.gro.stats().merged == 0);
  t.gro.gro_flush_all();
  CHECK(t.delivered.size() == 3);
}

TEST_CASE("gro: a different ACK number or window does not merge", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += kMss;
  s.ip_id = 2;
  s.ack += 1;
  CHECK(t.rx(s) == GroResult::kHeld);
  CHECK(t.gro.stats().flush.header_mismatch == 1);
  CHECK(t.gro.stats().merged == 0);
}

TEST_CASE("gro: IPv4 ID must step by one per segment, or stay fixed with DF (SKB_GSO_TCP_FIXEDID)",
          "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  s.ip_id = 7;
  t.rx(s);
  s.seq += kMss;
  CHECK(t.rx(s) == GroResult::kMergedFree);  // same ID with DF: a fixed-ID flow
  s.seq += kMss;
  CHECK(t.rx(s) == GroResult::kMergedFree);
  s.seq += kMss;
  s.ip_id = 9;
  CHECK(t.rx(s) == GroResult::kHeld);  // a fixed-ID flow must keep its ID
  CHECK(t.gro.stats().flush.ip_mismatch == 1);
  REQUIRE(t.delivered.size() == 1);
  CHECK(t.delivered[0]->gso_type == (kSkbGsoTcpV4 | kSkbGsoTcpFixedId));
  s.seq += kMss;
  s.ip_id = 11;  // 9 -> 11 skips one
  CHECK(t.rx(s) == GroResult::kHeld);
  CHECK(t.gro.stats().flush.ip_mismatch == 2);
}

TEST_CASE("gro: readable and unreadable segments of one flow never merge, unreadable ones merge together",
          "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);  // readable: payload in a host page
  s.seq += kMss;
  s.ip_id = 2;
  s.where = Where::kNiov;  // header split onto a devmem queue
  CHECK(t.rx(s) == GroResult::kHeld);
  CHECK(t.gro.stats().flush.readability == 1);
  REQUIRE(t.delivered.size() == 1);
  CHECK_FALSE(t.delivered[0]->unreadable);
  s.seq += kMss;
  s.ip_id = 3;
  CHECK(t.rx(s) == GroResult::kMergedFree);
  t.gro.gro_flush_all();
  REQUIRE(t.delivered.size() == 2);
  const SkBuff& m = *t.delivered[1];
  CHECK(m.unreadable);
  CHECK(m.gso_segs == 2);
  CHECK(m.nr_frags() == 2);
  CHECK(m.frag(0).netmem.is_net_iov());
  CHECK(m.frag(1).netmem.is_net_iov());
  CHECK(m.len() == 52 + 2 * kMss);
  HeaderImage img(m);
  auto ip = wire::Ipv4View::check(std::span<const std::byte>(img.bytes));
  REQUIRE(ip.has_value());
  CHECK(ip->total_len() == m.len());
  t.free_delivered();
  CHECK(t.h.niovs_out() == 0);
}

TEST_CASE("gro: the 64 KiB limit (GRO_LEGACY_MAX_SIZE) completes the flow", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  s.payload = 4000;
  for (std::uint16_t i = 0; i < 17; ++i) {
    s.ip_id = static_cast<std::uint16_t>(1 + i);
    t.rx(s);
    s.seq += s.payload;
  }
  // 52 + 16 * 4000 = 64052; one more would make 68052 >= 65536.
  CHECK(t.gro.stats().flush.size_limit == 1);
  REQUIRE(t.delivered.size() == 1);
  CHECK(t.delivered[0]->len() == 52 + 16 * 4000);
  CHECK(t.delivered[0]->gso_segs == 16);
  check_payload(*t.delivered[0], 1000, 16 * 4000);
  CHECK(t.gro.held_count() == 1);
}

TEST_CASE("gro: frags beyond MAX_SKB_FRAGS complete the flow", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  for (std::uint16_t i = 0; i < 18; ++i) {
    s.ip_id = static_cast<std::uint16_t>(1 + i);
    t.rx(s);
    s.seq += kMss;
  }
  CHECK(t.gro.stats().flush.frag_limit == 1);
  REQUIRE(t.delivered.size() == 1);
  CHECK(t.delivered[0]->nr_frags() == kMaxSkbFrags);
  CHECK(t.delivered[0]->gso_segs == 17);
}

TEST_CASE("gro: the 9th flow completes the oldest held flow (gro_flush_oldest)", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  for (std::uint16_t f = 0; f < 9; ++f) {
    s.sport = static_cast<std::uint16_t>(40000 + f);
    CHECK(t.rx(s) == GroResult::kHeld);
  }
  CHECK(t.gro.held_count() == kMaxGroSkbs);
  REQUIRE(t.delivered.size() == 1);
  CHECK(tcp_of(*t.delivered[0]).src_port() == 40000);
  CHECK(t.gro.stats().flush.evicted == 1);
  t.gro.gro_flush_all();
  REQUIRE(t.delivered.size() == 9);
  for (std::uint16_t f = 1; f < 9; ++f) CHECK(tcp_of(*t.delivered[f]).src_port() == 40000 + f);  // arrival order
}

TEST_CASE("gro: non-TCP packets pass through unchanged and leave held flows held", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  // A UDP datagram over IPv4.
  SkBuff* udp = t.h.skbs.alloc();
  std::byte* p = udp->put(20 + 8 + 100);
  wire::Ipv4Repr ip;
  ip.src = kSrc4;
  ip.dst = kDst4;
  ip.protocol = wire::ip_protocol::kUdp;
  ip.payload_len = 108;
  ip.emit({p, 20}, wire::ChecksumCaps::software());
  wire::UdpRepr u;
  u.src_port = 1;
  u.dst_port = 2;
  std::vector<std::byte> payload(100, std::byte{0x42});
  u.payload = payload;
  u.emit({p + 20, 108}, ip.src, ip.dst, wire::ChecksumCaps::software());
  udp->protocol = wire::ethertype::kIpv4;
  const std::vector<std::byte> before = skb_bytes(*udp);
  CHECK(t.gro.gro_receive(udp) == GroResult::kNormal);
  // An ARP frame (not IP).
  SkBuff* arp = t.h.linear(28);
  arp->protocol = wire::ethertype::kArp;
  CHECK(t.gro.gro_receive(arp) == GroResult::kNormal);
  REQUIRE(t.delivered.size() == 2);
  CHECK(t.delivered[0] == udp);
  CHECK(skb_bytes(*udp) == before);
  CHECK(t.delivered[1] == arp);
  CHECK(t.gro.held_count() == 1);
  CHECK(t.gro.stats().passed_not_tcp == 1);
  CHECK(t.gro.stats().passed_not_ip == 1);
}

TEST_CASE("gro: a malformed header passes through, an unreadable skb without linear headers too",
          "[netstack][core][unit]") {
  GroHarness t;
  SkBuff* bad = t.h.linear(30);  // version nibble garbage
  bad->protocol = wire::ethertype::kIpv4;
  CHECK(t.gro.gro_receive(bad) == GroResult::kNormal);
  SkBuff* niov_only = t.h.skbs.alloc();  // whole frame in device memory: no header to read
  t.h.add_niov_frag(*niov_only, 0, 1500);
  niov_only->protocol = wire::ethertype::kIpv4;
  CHECK(t.gro.gro_receive(niov_only) == GroResult::kNormal);
  CHECK(t.gro.stats().passed_malformed == 2);
  CHECK(t.gro.skb_ops_stats().pull_unreadable == 1);
}

TEST_CASE("gro: a segment without payload completes the flow and is delivered after it", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += kMss;
  s.ip_id = 2;
  s.payload = 0;  // a pure ACK
  CHECK(t.rx(s) == GroResult::kNormal);
  REQUIRE(t.delivered.size() == 2);
  CHECK(tcp_of(*t.delivered[0]).seq_number() == 1000);
  CHECK(t.delivered[1]->len() == 52);
  CHECK(t.gro.stats().flush.segment_size == 1);
}

TEST_CASE("gro: a short segment is merged and completes the flow", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += kMss;
  s.ip_id = 2;
  s.payload = 500;
  CHECK(t.rx(s) == GroResult::kMergedFree);
  REQUIRE(t.delivered.size() == 1);
  CHECK(t.delivered[0]->len() == 52 + kMss + 500);
  CHECK(t.delivered[0]->gso_size == kMss);
  CHECK(t.gro.stats().flush.short_segment == 1);
  check_payload(*t.delivered[0], 1000, kMss + 500);
}

TEST_CASE("gro: a segment longer than gso_size does not merge", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  s.payload = 1000;
  t.rx(s);
  s.seq += 1000;
  s.ip_id = 2;
  s.payload = 1001;
  CHECK(t.rx(s) == GroResult::kHeld);
  CHECK(t.gro.stats().flush.segment_size == 1);
}

TEST_CASE("gro: a segment the NIC did not verify completes its flow and passes through", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += kMss;
  s.ip_id = 2;
  s.ip_summed = IpSummed::kNone;
  CHECK(t.rx(s) == GroResult::kNormal);
  REQUIRE(t.delivered.size() == 2);
  CHECK(tcp_of(*t.delivered[1]).seq_number() == 1000 + kMss);
  CHECK(t.gro.stats().flush.csum == 1);
  CHECK(t.gro.held_count() == 0);
}

TEST_CASE("gro: IPv6 segments merge and get the payload length fixed", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  s.v6 = true;
  for (int i = 0; i < 3; ++i) {
    t.rx(s);
    s.seq += kMss;
  }
  t.gro.gro_flush_all();
  REQUIRE(t.delivered.size() == 1);
  const SkBuff& m = *t.delivered[0];
  CHECK(m.gso_segs == 3);
  CHECK(m.gso_type == kSkbGsoTcpV6);
  HeaderImage img(m);
  auto ip = wire::Ipv6View::check(std::span<const std::byte>(img.bytes));
  REQUIRE(ip.has_value());
  CHECK(ip->payload_len() == m.len() - 40);
  check_payload(m, 1000, 3 * kMss, true);
}

TEST_CASE("gro: payload in the linear area is copied while the held skb is still linear", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  s.where = Where::kLinear;
  s.payload = 100;
  t.rx(s);
  s.seq += 100;
  s.ip_id = 2;
  CHECK(t.rx(s) == GroResult::kMergedFree);
  s.seq += 100;
  s.ip_id = 3;
  s.where = Where::kPageFrag;  // frags may follow linear bytes
  CHECK(t.rx(s) == GroResult::kMergedFree);
  s.seq += 100;
  s.ip_id = 4;
  s.where = Where::kLinear;  // but linear bytes cannot follow frags
  CHECK(t.rx(s) == GroResult::kHeld);
  CHECK(t.gro.stats().flush.linear_payload == 1);
  REQUIRE(t.delivered.size() == 1);
  CHECK(t.delivered[0]->gso_segs == 3);
  check_payload(*t.delivered[0], 1000, 300);
}

TEST_CASE("gro: page-pool and non-page-pool segments do not merge (skb_gro_receive: -ETOOMANYREFS)",
          "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += kMss;
  s.ip_id = 2;
  SkBuff* other = make_segment(t.h, s);
  other->pp_recycle = false;  // e.g. a copybreak skb of another allocator
  for (int i = 0; i < other->nr_frags(); ++i) {
    // Hand the frag over as a plain page reference, as a non-pp skb would hold it.
    const netmem::NetmemRef n = other->frag(i).netmem;
    netmem::get_page(n.page());
    t.h.pages->put_full_netmem(n, false);
  }
  CHECK(t.gro.gro_receive(other) == GroResult::kHeld);
  CHECK(t.gro.stats().flush.pp_recycle == 1);
  CHECK(t.gro.stats().merged == 0);
}

TEST_CASE("gro: segments of different Ethernet headers are different flows", "[netstack][core][unit]") {
  GroHarness t;
  SegSpec s;
  t.rx(s);
  s.seq += kMss;
  s.ip_id = 2;
  SkBuff* other = make_segment(t.h, s);
  other->head()[other->mac_header + 6] = std::byte{0x7e};  // another source MAC
  CHECK(t.gro.gro_receive(other) == GroResult::kHeld);
  CHECK(t.gro.held_count() == 2);
  CHECK(t.delivered.empty());
}

namespace {

// A device whose packets report to a tracer (GRO finds it through skb->dev).
class TracedDevice final : public NetDevice {
 public:
  explicit TracedDevice(sim::PacketTracer& t) : NetDevice("trace0", 1, 1) { packet_tracer = &t; }
  NetdevTx start_xmit(SkBuff* skb) override {
    kfree_skb(skb);
    return NetdevTx::kOk;
  }

 protected:
  int ndo_open() override { return 0; }
  int ndo_stop() override { return 0; }
};

}  // namespace

TEST_CASE("gro: a packet tracer sees each segment held or merged into the held skb, and the completion",
          "[netstack][core][unit]") {
  nicemu::testing::RecordingTracer tr;
  tr.clock = sim::TimePoint::from_ps(5'000'000);
  TracedDevice dev(tr);
  GroHarness t;
  SegSpec s;
  for (std::uint64_t id = 11; id <= 13; ++id) {
    SkBuff* skb = make_segment(t.h, s);
    skb->dev = &dev;
    skb->trace_id = id;
    (void)t.gro.gro_receive(skb);
    s.seq += kMss;
    ++s.ip_id;
  }
  t.gro.gro_flush_all();
  using sim::PacketStage;
  const auto rx = tr.of(PacketStage::kGroReceive);
  REQUIRE(rx.size() == 3);
  CHECK(rx[0].e.id == 11);
  CHECK(std::string(rx[0].e.note) == "held");
  CHECK(rx[1].e.id == 12);
  CHECK(std::string(rx[1].e.note) == "merged");
  CHECK(rx[1].e.ref == 11);
  CHECK(rx[2].e.id == 13);
  CHECK(rx[2].e.ref == 11);
  CHECK(rx[2].t == tr.clock);
  const auto done = tr.of(PacketStage::kGroFlush);
  REQUIRE(done.size() == 1);
  CHECK(done[0].e.id == 11);
  CHECK(done[0].e.count == 3);
  CHECK(std::string(done[0].e.note) == "poll_end");
  REQUIRE(t.delivered.size() == 1);
  CHECK(t.delivered[0]->trace_id == 11);
  t.delivered[0]->dev = nullptr;
}
