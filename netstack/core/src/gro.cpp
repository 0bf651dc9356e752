// GRO for TCP over IPv4/IPv6: dev_gro_receive() + inet/ipv6_gro_receive() + tcp_gro_receive()
// + skb_gro_receive() and their completion, in the kernel's order of checks (see gro.hpp).
#include "nicemu/netstack/core/gro.hpp"

#include <algorithm>
#include <cstring>
#include <span>
#include <utility>

#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv4.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "nicemu/netstack/wire/tcp.hpp"

namespace nicemu::netstack::core {

namespace {

// kernel: TCP_FLAG_* as they sit in tcp_flag_word() (header bytes 12..15, host order here).
constexpr std::uint32_t kTcpFlagWordCwr = 0x00800000u;
constexpr std::uint32_t kTcpFlagWordPsh = 0x00080000u;
constexpr std::uint32_t kTcpFlagWordFin = 0x00010000u;

// tcp_gro_receive's out_check_final: these flags end a flow (and keep a new segment from being
// held).
constexpr std::uint8_t kFlushFlags =
    wire::TcpFlags::kUrg | wire::TcpFlags::kPsh | wire::TcpFlags::kRst | wire::TcpFlags::kSyn | wire::TcpFlags::kFin;

constexpr std::size_t kEthHeaderLen = wire::EthernetView::kHeaderLen;

// Packet tracing (sim/packet_trace.hpp): the device the skb came from says where to report.
// GRO is handed no time: the tracer tells it (a NAPI poll's instant).
sim::PacketTracer* tracer_of(const SkBuff& skb) { return skb.dev != nullptr ? skb.dev->packet_tracer : nullptr; }

void trace_gro(sim::PacketTracer& t, sim::PacketStage stage, std::uint64_t id, std::uint32_t len, const char* note,
               std::uint32_t count, std::uint64_t ref) {
  if (id == 0) return;
  sim::PacketEvent e;
  e.stage = stage;
  e.id = id;
  e.len = len;
  e.note = note;
  e.count = count;
  e.ref = ref;
  t.on_event(t.now(), e);
}

// dev_gro_receive's verdict for a segment (`into`: the held skb it merged into).
void trace_receive(sim::PacketTracer& t, std::uint64_t id, std::uint32_t len, const char* verdict,
                   std::uint64_t into = 0) {
  trace_gro(t, sim::PacketStage::kGroReceive, id, len, verdict, 0, into);
}

// napi_gro_complete: a held skb of `segs` segments leaves GRO.
void trace_complete(sim::PacketTracer& t, const SkBuff& skb, std::uint32_t segs, const char* why) {
  trace_gro(t, sim::PacketStage::kGroFlush, skb.trace_id, skb.len(), why, segs, 0);
}
// The longest L3 packet a header image describes: an IPv6 header plus a 65535-byte payload.
constexpr std::size_t kScratchLen = wire::Ipv6View::kHeaderLen + 0xffff;

}  // namespace

GroContext::GroContext(DeliverFn deliver) : deliver_(std::move(deliver)), scratch_(kScratchLen) {
  NICEMU_ASSERT(static_cast<bool>(deliver_), "GroContext needs a delivery callback");
}

GroContext::~GroContext() {
  for (int i = 0; i < nflows_; ++i) kfree_skb(flows_[static_cast<std::size_t>(i)].skb);
}

// Makes the first n bytes linear (kernel: skb_gro_header_slow -> pskb_may_pull) and copies them
// to the front of the header image.
bool GroContext::copy_headers(SkBuff& skb, std::uint32_t n) {
  if (!pskb_may_pull(skb, n, &skb_ops_stats_)) return false;
  std::memcpy(scratch_.data(), skb.data(), n);
  return true;
}

GroContext::ParseResult GroContext::parse(SkBuff& skb, Segment& seg) {
  const std::uint32_t l3len = skb.len();
  if (l3len > scratch_.size()) return ParseResult::kMalformed;
  const std::span<std::byte> l3(scratch_.data(), l3len);
  std::span<std::byte> l4;

  if (skb.protocol == wire::ethertype::kIpv4) {
    // kernel: inet_gro_receive()
    if (!copy_headers(skb, wire::Ipv4View::kMinHeaderLen)) return ParseResult::kMalformed;
    auto ip = wire::Ipv4View::check(l3);
    if (!ip.has_value()) return ParseResult::kMalformed;
    // "if (*(u8 *)iph != 0x45) goto out_unlock": options are not aggregated; nor are fragments.
    if (ip->ihl() != 5 || ip->is_fragment()) return ParseResult::kMalformed;
    if (ip->protocol() != wire::ip_protocol::kTcp) return ParseResult::kNotTcp;
    if (!ip->verify_checksum()) return ParseResult::kMalformed;  // ip_fast_csum()
    seg.v6 = false;
    seg.ip_flush = ip->total_len() != l3len;
    seg.src = ip->src();
    seg.dst = ip->dst();
    seg.ttl = ip->ttl();
    seg.tos = static_cast<std::uint8_t>((ip->dscp() << 2) | ip->ecn());
    seg.df = ip->dont_fragment();
    seg.id = ip->ident();
    l4 = l3.subspan(ip->header_len(), std::size_t{ip->total_len()} - ip->header_len());
  } else if (skb.protocol == wire::ethertype::kIpv6) {
    // kernel: ipv6_gro_receive()
    if (!copy_headers(skb, wire::Ipv6View::kHeaderLen)) return ParseResult::kMalformed;
    auto ip = wire::Ipv6View::check(l3);
    if (!ip.has_value()) return ParseResult::kMalformed;
    if (ip->next_header() != wire::ip_protocol::kTcp) return ParseResult::kNotTcp;
    seg.v6 = true;
    seg.ip_flush = wire::Ipv6View::kHeaderLen + ip->payload_len() != l3len;
    seg.src = ip->src();
    seg.dst = ip->dst();
    seg.flow_label = ip->flow_label();
    seg.ttl = ip->hop_limit();
    seg.tos = ip->traffic_class();
    l4 = l3.subspan(wire::Ipv6View::kHeaderLen, ip->payload_len());
  } else {
    return ParseResult::kNotIp;
  }

  // kernel: tcp4/6_gro_receive() -> tcp_gro_pull_header()
  const auto l4_off = static_cast<std::uint32_t>(l4.data() - l3.data());
  if (!copy_headers(skb, std::min<std::uint32_t>(l4_off + wire::TcpView::kMinHeaderLen, l3len))) {
    return ParseResult::kMalformed;
  }
  auto tcp_fixed = wire::TcpView::check(l4);
  if (!tcp_fixed.has_value()) return ParseResult::kMalformed;
  seg.hdr_len = l4_off + static_cast<std::uint32_t>(tcp_fixed->header_len());
  if (!copy_headers(skb, seg.hdr_len)) return ParseResult::kMalformed;
  const wire::TcpView tcp = *tcp_fixed;  // reads the image, now holding the options too
  seg.payload_len = l3len - seg.hdr_len;
  seg.sport = tcp.src_port();
  seg.dport = tcp.dst_port();
  seg.seq = tcp.seq_number();
  seg.ack = tcp.ack_number();
  seg.flags = tcp.flags().bits;
  seg.flag_word = wire::load_be32(tcp.bytes().data() + 12);
  const std::span<const std::byte> opts = tcp.options();
  seg.options_len = static_cast<std::uint8_t>(opts.size());
  std::copy(opts.begin(), opts.end(), seg.options.begin());
  return ParseResult::kOk;
}

// kernel: gro_list_prepare() (device and Ethernet header), inet/ipv6_gro_receive() (addresses,
// flow label) and tcp_gro_lookup() (ports).
int GroContext::find_flow(const SkBuff& skb, const Segment& seg) const {
  const bool has_mac = skb.mac_header != kNoHeader;
  const std::byte* mac = has_mac ? skb.data() - skb.headroom() + skb.mac_header : nullptr;
  for (int i = 0; i < nflows_; ++i) {
    const Flow& f = flows_[static_cast<std::size_t>(i)];
    if (f.dev != skb.dev || f.has_mac != has_mac) continue;
    if (has_mac && std::memcmp(f.mac.data(), mac, kEthHeaderLen) != 0) continue;  // compare_ether_header()
    if (f.first.v6 != seg.v6 || f.first.src != seg.src || f.first.dst != seg.dst) continue;
    if (f.first.flow_label != seg.flow_label) continue;
    if (f.first.sport != seg.sport || f.first.dport != seg.dport) continue;
    return i;
  }
  return -1;
}

// kernel: tcp_gro_receive() from "th2 = tcp_hdr(p)" to the sequence check, with
// gro_receive_network_flush() (inet_gro_flush / ipv6_gro_flush) where the kernel calls it.
GroContext::Why GroContext::can_merge(Flow& p, const SkBuff& skb, const Segment& seg) {
  const Segment& th2 = p.first;
  if ((seg.flags & wire::TcpFlags::kCwr) != 0) return Why::kHeader;
  if (((seg.flag_word ^ th2.flag_word) & ~(kTcpFlagWordCwr | kTcpFlagWordFin | kTcpFlagWordPsh)) != 0) {
    return Why::kHeader;
  }
  if (seg.ack != th2.ack) return Why::kHeader;
  // Data offsets are equal here (part of the flag word), so the option lengths are too.
  if (std::memcmp(seg.options.data(), th2.options.data(), seg.options_len) != 0) return Why::kOptions;
  if (!seg.v6) {
    // inet_gro_flush(): "All fields must match except length and checksum."
    if (seg.ttl != th2.ttl || seg.tos != th2.tos || seg.df != th2.df) return Why::kIp;
    const auto ipid_offset = static_cast<std::uint16_t>(seg.id - th2.id);
    if (p.count == 1 && seg.df && ipid_offset == 0) p.fixedid = true;
    if (ipid_offset != (p.fixedid ? 0 : p.count)) return Why::kIp;
  } else {
    // ipv6_gro_flush(): traffic class and hop limit.
    if (seg.tos != th2.tos || seg.ttl != th2.ttl) return Why::kIp;
  }
  const std::uint32_t mss = p.skb->gso_size;
  if (seg.payload_len - 1 >= mss) return Why::kSegmentSize;  // "flush |= (len - 1) >= mss" (unsigned)
  if (seg.seq != p.next_seq) return Why::kSeqGap;
  // Never mix readable and unreadable frags in one skb (skb->unreadable must be equal).
  if (skb.unreadable != p.skb->unreadable) return Why::kReadability;
  return Why::kNone;
}

// kernel: skb_gro_receive(): checks, then moves the segment's payload into p and frees the
// segment's skb (NAPI_GRO_FREE).
GroContext::Why GroContext::skb_gro_receive(Flow& p, SkBuff* skb, const Segment& seg) {
  SkBuff& held = *p.skb;
  if (held.pp_recycle != skb->pp_recycle) return Why::kPpRecycle;  // -ETOOMANYREFS
  if (seg.ip_flush) return Why::kIpLength;                           // NAPI_GRO_CB(skb)->flush: -E2BIG
  if (held.len() + seg.payload_len >= kGroLegacyMaxSize) return Why::kSizeLimit;  // -E2BIG
  const std::uint32_t linear_payload = skb->headlen() - seg.hdr_len;
  if (linear_payload != 0 && linear_payload > held.tailroom()) return Why::kLinearPayload;  // frag_list
  if (held.nr_frags() + skb->nr_frags() > kMaxSkbFrags) return Why::kFragLimit;           // frag_list

  if (linear_payload != 0) std::memcpy(held.put(linear_payload), skb->data() + seg.hdr_len, linear_payload);
  for (int i = 0; i < skb->nr_frags(); ++i) {
    const SkbFrag& f = skb->frag(i);
    skb_frag_ref(*skb, i);  // the held skb's reference; the segment's own goes with kfree_skb
    held.add_rx_frag(f.netmem, f.offset, f.len, 0);
  }
  held.truesize += skb->truesize;
  kfree_skb(skb);
  ++p.count;
  p.next_seq += seg.payload_len;
  p.or_flags |= static_cast<std::uint8_t>(seg.flags & (wire::TcpFlags::kFin | wire::TcpFlags::kPsh));
  return Why::kNone;
}

void GroContext::hold(SkBuff* skb, const Segment& seg) {
  Flow& f = flows_[static_cast<std::size_t>(nflows_++)];
  f = Flow{};
  f.skb = skb;
  f.dev = skb->dev;
  f.has_mac = skb->mac_header != kNoHeader;
  if (f.has_mac) {
    NICEMU_ASSERT(skb->mac_header + kEthHeaderLen <= kSkbHeadCapacity, "GRO: mac_header past the head");
    std::memcpy(f.mac.data(), skb->head() + skb->mac_header, kEthHeaderLen);
  }
  f.first = seg;
  f.next_seq = seg.seq + seg.payload_len;
  f.count = 1;
  // kernel: "if (!skb_is_gso(skb)) skb_shinfo(skb)->gso_size = skb_gro_len(skb);"
  skb->gso_size = static_cast<std::uint16_t>(seg.payload_len);
}

// kernel: tcp4/6_gro_complete() + inet_gro_complete() / ipv6_gro_complete() + tcp_gro_complete().
void GroContext::finish_headers(Flow& f) {
  SkBuff& skb = *f.skb;
  const std::uint32_t l3len = skb.len();
  const std::uint32_t hl = f.first.hdr_len;
  std::memcpy(scratch_.data(), skb.data(), hl);
  const std::span<std::byte> l3(scratch_.data(), l3len);
  wire::ChecksumAccumulator pseudo;
  std::span<std::byte> l4;
  if (!f.first.v6) {
    auto ip = wire::Ipv4ViewMut::check(l3);
    NICEMU_ASSERT(ip.has_value(), "GRO: held IPv4 header no longer parses");
    ip->set_total_len(static_cast<std::uint16_t>(l3len));
    ip->fill_checksum();  // kernel: csum_replace2(&iph->check, old tot_len, new tot_len)
    l4 = ip->payload();
    wire::add_ipv4_pseudo_header(pseudo, ip->src(), ip->dst(), wire::ip_protocol::kTcp,
                                 static_cast<std::uint16_t>(l4.size()));
    skb.gso_type |= kSkbGsoTcpV4 | (f.fixedid ? kSkbGsoTcpFixedId : 0);
  } else {
    auto ip = wire::Ipv6ViewMut::check(l3);
    NICEMU_ASSERT(ip.has_value(), "GRO: held IPv6 header no longer parses");
    ip->set_payload_len(static_cast<std::uint16_t>(l3len - wire::Ipv6View::kHeaderLen));
    l4 = ip->payload();
    wire::add_ipv6_pseudo_header(pseudo, ip->src(), ip->dst(), wire::ip_protocol::kTcp,
                                 static_cast<std::uint32_t>(l4.size()));
    skb.gso_type |= kSkbGsoTcpV6;
  }
  auto tcp = wire::TcpViewMut::check(l4);
  NICEMU_ASSERT(tcp.has_value(), "GRO: held TCP header no longer parses");
  tcp->set_flags(wire::TcpFlags{static_cast<std::uint8_t>(tcp->flags().bits | f.or_flags)});
  // th->check = ~tcp_v4_check(len, saddr, daddr, 0): the folded pseudo-header sum.
  tcp->set_checksum(pseudo.sum());
  if (tcp->flags().cwr()) skb.gso_type |= kSkbGsoTcpEcn;
  std::memcpy(skb.data(), scratch_.data(), hl);
  skb.gso_segs = f.count;
  skb.ip_summed = IpSummed::kUnnecessary;
}

void GroContext::deliver(SkBuff* skb) {
  ++stats_.delivered;
  deliver_(skb);
}

void GroContext::count_flush(Why why) {
  GroFlushStats& s = stats_.flush;
  switch (why) {
    case Why::kFlags: ++s.flags; break;
    case Why::kShortSegment: ++s.short_segment; break;
    case Why::kHeader: ++s.header_mismatch; break;
    case Why::kOptions: ++s.options_mismatch; break;
    case Why::kIp: ++s.ip_mismatch; break;
    case Why::kSegmentSize: ++s.segment_size; break;
    case Why::kSeqGap: ++s.seq_gap; break;
    case Why::kIpLength: ++s.ip_length; break;
    case Why::kPpRecycle: ++s.pp_recycle; break;
    case Why::kReadability: ++s.readability; break;
    case Why::kSizeLimit: ++s.size_limit; break;
    case Why::kFragLimit: ++s.frag_limit; break;
    case Why::kLinearPayload: ++s.linear_payload; break;
    case Why::kCsum: ++s.csum; break;
    case Why::kEvicted: ++s.evicted; break;
    case Why::kPollEnd: ++s.poll_end; break;
    case Why::kNone: NICEMU_ASSERT(false, "GRO: a flow completed without a reason"); break;
  }
}

// kernel: napi_gro_complete() (via gro_flush_oldest, the pp return of dev_gro_receive, or
// __gro_flush).
void GroContext::complete(int idx, Why why) {
  NICEMU_ASSERT(idx >= 0 && idx < nflows_, "GRO: no such held flow");
  Flow f = flows_[static_cast<std::size_t>(idx)];
  for (int i = idx; i + 1 < nflows_; ++i) flows_[static_cast<std::size_t>(i)] = flows_[static_cast<std::size_t>(i + 1)];
  flows_[static_cast<std::size_t>(--nflows_)] = Flow{};
  count_flush(why);
  if (sim::PacketTracer* t = tracer_of(*f.skb)) trace_complete(*t, *f.skb, f.count, why_name(why));
  if (f.count == 1) {
    f.skb->gso_size = 0;  // "if (NAPI_GRO_CB(skb)->count == 1) { skb_shinfo(skb)->gso_size = 0; goto out; }"
  } else {
    finish_headers(f);
    ++stats_.delivered_merged;
  }
  deliver(f.skb);
}

GroResult GroContext::gro_receive(SkBuff* skb) {
  NICEMU_ASSERT(skb != nullptr, "gro_receive(nullptr)");
  ++stats_.received;
  sim::PacketTracer* const tracer = tracer_of(*skb);
  const std::uint64_t trace_id = skb->trace_id;  // a merged segment's skb is gone when that is known
  const std::uint32_t trace_len = skb->len();
  Segment seg;
  const ParseResult parsed = parse(*skb, seg);
  if (parsed != ParseResult::kOk && tracer != nullptr) trace_receive(*tracer, trace_id, trace_len, "normal");
  switch (parsed) {
    case ParseResult::kOk: break;
    case ParseResult::kNotIp: ++stats_.passed_not_ip; deliver(skb); return GroResult::kNormal;
    case ParseResult::kNotTcp: ++stats_.passed_not_tcp; deliver(skb); return GroResult::kNormal;
    case ParseResult::kMalformed: ++stats_.passed_malformed; deliver(skb); return GroResult::kNormal;
  }

  const int idx = find_flow(*skb, seg);
  if (skb->ip_summed != IpSummed::kUnnecessary) {
    // Not verified by the NIC: no software check here (gro.hpp); keep the flow's order.
    if (idx >= 0) complete(idx, Why::kCsum);
    ++stats_.normal;
    if (tracer != nullptr) trace_receive(*tracer, trace_id, trace_len, "normal");
    deliver(skb);
    return GroResult::kNormal;
  }

  if (idx >= 0) {
    Flow& p = flows_[static_cast<std::size_t>(idx)];
    const std::uint32_t mss = p.skb->gso_size;
    Why why = can_merge(p, *skb, seg);
    if (why == Why::kNone) why = skb_gro_receive(p, skb, seg);
    if (why == Why::kNone) {
      ++stats_.merged;
      if (tracer != nullptr) trace_receive(*tracer, trace_id, trace_len, "merged", p.skb->trace_id);
      // out_check_final: a short segment or one of these flags ends the flow, merged.
      if ((seg.flags & kFlushFlags) != 0) {
        complete(idx, Why::kFlags);
      } else if (seg.payload_len < mss) {
        complete(idx, Why::kShortSegment);
      }
      return GroResult::kMergedFree;
    }
    complete(idx, why);  // pp = p: the held skb goes up first
  }

  // A new flow, or the segment that ended the old one (kernel: mss = 1 here, so "len < mss" is
  // "no payload"; NAPI_GRO_CB(skb)->flush from the IP layer covers the length mismatch).
  if (seg.payload_len == 0 || (seg.flags & kFlushFlags) != 0 || seg.ip_flush) {
    ++stats_.normal;
    if (tracer != nullptr) trace_receive(*tracer, trace_id, trace_len, "normal");
    deliver(skb);
    return GroResult::kNormal;
  }
  if (nflows_ == kMaxGroSkbs) complete(0, Why::kEvicted);  // gro_flush_oldest()
  if (tracer != nullptr) trace_receive(*tracer, trace_id, trace_len, "held");
  hold(skb, seg);
  ++stats_.held;
  return GroResult::kHeld;
}

const char* GroContext::why_name(Why why) {
  switch (why) {
    case Why::kNone: return "none";
    case Why::kFlags: return "flags";
    case Why::kShortSegment: return "short_segment";
    case Why::kHeader: return "header_mismatch";
    case Why::kOptions: return "options_mismatch";
    case Why::kIp: return "ip_mismatch";
    case Why::kSegmentSize: return "segment_size";
    case Why::kSeqGap: return "seq_gap";
    case Why::kIpLength: return "ip_length";
    case Why::kPpRecycle: return "pp_recycle";
    case Why::kReadability: return "readability";
    case Why::kSizeLimit: return "size_limit";
    case Why::kFragLimit: return "frag_limit";
    case Why::kLinearPayload: return "linear_payload";
    case Why::kCsum: return "csum";
    case Why::kEvicted: return "evicted";
    case Why::kPollEnd: return "poll_end";
  }
  return "?";
}

void GroContext::gro_flush_all() {
  while (nflows_ > 0) complete(0, Why::kPollEnd);
}

}  // namespace nicemu::netstack::core
