// One RX queue of the silicon (see rx_queue.hpp for what is modelled).
#include "nicemu/nic/hw/rx_queue.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/byte_worker.hpp"
#include "nicemu/base/ring_index.hpp"

namespace nicemu::nic::hw {

using netstack::wire::L4Kind;
using netstack::wire::WireError;

const char* to_string(RxCsum c) {
  switch (c) {
    case RxCsum::kNone: return "none";
    case RxCsum::kUnnecessary: return "unnecessary";
    case RxCsum::kBad: return "bad";
  }
  return "?";
}

const char* to_string(RxOutcome o) {
  switch (o) {
    case RxOutcome::kCompleted: return "completed";
    case RxOutcome::kDropNoHeaderBuffer: return "no-header-buffer";
    case RxOutcome::kDropNoPayloadBuffer: return "no-payload-buffer";
    case RxOutcome::kDropNoCompletion: return "no-completion-entry";
    case RxOutcome::kDropTooManyBuffers: return "too-many-buffers";
    case RxOutcome::kDropDmaFault: return "dma-fault";
  }
  return "?";
}

RxCsum rx_csum_verdict(const netstack::wire::ParsedPacket& pkt) {
  if (pkt.error == WireError::kBadChecksum) return RxCsum::kBad;
  if (!pkt.ok() || pkt.is_fragment) return RxCsum::kNone;
  return pkt.l4 == L4Kind::kTcp || pkt.l4 == L4Kind::kUdp ? RxCsum::kUnnecessary : RxCsum::kNone;
}

RxL4Check rx_l4_check(const netstack::wire::ParsedPacket& pkt, std::span<const std::byte> frame) {
  RxL4Check c;
  if (!pkt.ok() || pkt.is_fragment) return c;
  if (pkt.l4 != L4Kind::kTcp && pkt.l4 != L4Kind::kUdp) return c;
  const std::uint32_t l4_len = pkt.header_len - pkt.l4_offset + pkt.payload_len;
  if (pkt.l4_offset + l4_len > frame.size()) return c;
  // UDP over IPv4 may leave the checksum out (0, RFC 768); over IPv6 the parser already refused it.
  if (pkt.l4 == L4Kind::kUdp && frame[pkt.l4_offset + 6] == std::byte{0} && frame[pkt.l4_offset + 7] == std::byte{0}) {
    return c;
  }
  c.on = true;
  c.start = pkt.l4_offset;
  c.end = pkt.l4_offset + l4_len;
  const std::uint8_t proto = pkt.l4 == L4Kind::kTcp ? netstack::wire::ip_protocol::kTcp : netstack::wire::ip_protocol::kUdp;
  netstack::wire::add_pseudo_header(c.sum, pkt.src_ip, pkt.dst_ip, proto, l4_len);
  return c;
}

RxCsum rx_l4_verdict(const RxL4Check& check, std::span<const std::byte> frame, RxCsum fallback) {
  if (!check.on) return fallback;
  netstack::wire::ChecksumAccumulator sum = check.sum;
  sum.add(frame.subspan(check.start, check.end - check.start));
  return sum.verifies() ? RxCsum::kUnnecessary : RxCsum::kBad;
}

RxQueueHw::RxQueueHw(std::uint32_t index, Config cfg) : index_(index), cfg_(cfg) {
  NICEMU_ASSERT(cfg_.header_ring_size > 0 && cfg_.payload_ring_size > 0 && cfg_.completion_ring_size > 0,
                "RxQueueHw: rings need at least one entry");
  header_q_.slots.resize(cfg_.header_ring_size);
  payload_q_.slots.resize(cfg_.payload_ring_size);
  completions_.slots.resize(cfg_.completion_ring_size);
  completions_.jobs.assign(cfg_.completion_ring_size, 0);
}

bool RxQueueHw::post(DescRing& r, const RxBufferDesc& d) {
  if (r.count == r.slots.size()) return false;
  r.slots[base::ring_add(r.head, r.count, r.slots.size())] = d;
  ++r.count;
  return true;
}

void RxQueueHw::consume(DescRing& r, std::size_t n) {
  r.head = base::ring_add(r.head, n, r.slots.size());
  r.count -= n;
  r.visible -= n;
}

void RxQueueHw::doorbell() {
  header_q_.visible = header_q_.count;
  payload_q_.visible = payload_q_.count;
}

// The completion's bytes and verdict are final once its job has run.
std::optional<RxCompletion> RxQueueHw::next_completion() {
  if (completions_.visible == 0) return std::nullopt;
  if (const std::uint64_t job = std::exchange(completions_.jobs[completions_.head], 0)) {
    base::ByteWorker::get().wait(job);
  }
  RxCompletion c = completions_.slots[completions_.head];
  completions_.head = base::ring_add(completions_.head, 1, completions_.slots.size());
  --completions_.count;
  --completions_.visible;
  return c;
}

void RxQueueHw::publish_completions(std::size_t n) {
  NICEMU_ASSERT(completions_.visible + n <= completions_.count, "RxQueueHw: publishing completions not written");
  completions_.visible += n;
}

// Jobs may still write into the buffers (or this queue's completions) freed after this.
RxQueueHw::~RxQueueHw() { base::ByteWorker::get().drain(); }

const RxQueueHwStats& RxQueueHw::stats() const {
  base::ByteWorker::get().drain();
  return stats_;
}

std::vector<RxBufferDesc> RxQueueHw::reclaim_buffers() {
  base::ByteWorker::get().drain();  // the driver frees these buffers next
  std::vector<RxBufferDesc> out;
  out.reserve(header_q_.count + payload_q_.count);
  for (DescRing* r : {&header_q_, &payload_q_}) {
    for (std::size_t i = 0; i < r->count; ++i) out.push_back(r->at(i));
    r->head = r->count = r->visible = 0;
  }
  return out;
}

RxWork RxQueueHw::drop(RxOutcome why) {
  ++stats_.hw_drops;
  if (why == RxOutcome::kDropNoHeaderBuffer || why == RxOutcome::kDropNoPayloadBuffer ||
      why == RxOutcome::kDropNoCompletion) {
    ++stats_.hw_drop_overruns;
  }
  if (why == RxOutcome::kDropTooManyBuffers) ++stats_.too_many_buffers;
  if (why == RxOutcome::kDropDmaFault) ++stats_.dma_faults;
  RxWork w;
  w.outcome = why;
  return w;
}

namespace {
// One buffer's piece of a frame, resolved.
struct PlaceTarget {
  std::byte* to = nullptr;
  std::uint32_t offset = 0;  // in the frame
  std::uint32_t len = 0;
};

// Copies the frame's pieces into their buffers; with `l4` on, sums the checked range as it goes
// (in frame order, without gaps) and returns the verdict, else `csum`.
RxCsum place_pieces(std::span<const std::byte> frame, std::span<const PlaceTarget> targets, const RxL4Check* l4,
                    RxCsum csum) {
  std::optional<netstack::wire::ChecksumAccumulator> sum;
  std::uint32_t summed_to = 0;
  if (l4 != nullptr && l4->on) {
    sum = l4->sum;
    summed_to = l4->start;
  }
  for (const PlaceTarget& t : targets) {
    std::byte* to = t.to;
    const std::uint32_t a = t.offset, b = t.offset + t.len;
    const std::uint32_t s = sum ? std::max(a, l4->start) : b, e = sum ? std::min(b, l4->end) : b;
    if (s < e && s == summed_to) {
      std::memcpy(to, frame.data() + a, s - a);
      sum->add_copy(to + (s - a), frame.subspan(s, e - s));
      std::memcpy(to + (e - a), frame.data() + e, b - e);
      summed_to = e;
    } else {
      std::memcpy(to, frame.data() + a, t.len);
    }
  }
  if (!sum) return csum;
  // The pieces did not cover the range in order: sum it apart.
  if (summed_to != l4->end) return rx_l4_verdict(*l4, frame, csum);
  return sum->verifies() ? RxCsum::kUnnecessary : RxCsum::kBad;
}

void count_csum(RxQueueHwStats& st, RxCsum csum) {
  switch (csum) {
    case RxCsum::kUnnecessary: ++st.csum_unnecessary; break;
    case RxCsum::kBad: ++st.csum_bad; break;
    case RxCsum::kNone: ++st.csum_none; break;
  }
}

// A frame placed on the byte worker: the copies, the verdict into its completion and counters.
struct PlaceJob {
  static constexpr std::size_t kMaxTargets = 6;
  const std::byte* frame = nullptr;
  std::uint32_t frame_len = 0;
  std::uint32_t ntargets = 0;
  std::array<PlaceTarget, kMaxTargets> targets{};
  RxL4Check l4;
  RxCsum fallback = RxCsum::kNone;
  RxCompletion* completion = nullptr;
  RxQueueHwStats* stats = nullptr;

  void operator()() {
    const RxCsum c = place_pieces(std::span<const std::byte>(frame, frame_len),
                                  std::span<const PlaceTarget>(targets.data(), ntargets), &l4, fallback);
    completion->meta.csum = c;
    count_csum(*stats, c);
  }
};
}  // namespace

RxWork RxQueueHw::receive(std::span<const std::byte> frame, const netstack::wire::ParsedPacket& pkt,
                          const RxMeta& meta, netmem::DmaSpace& dma, bool publish, const RxL4Check* l4,
                          bool offload) {
  const auto frame_len = static_cast<std::uint32_t>(frame.size());
  const RxLayout layout = plan_rx_layout(pkt, frame_len, cfg_.split);
  if (layout.too_many_buffers) return drop(RxOutcome::kDropTooManyBuffers);

  // Check everything before touching anything: the frame is placed whole or not at all.
  const bool need_header = layout.header.len > 0;
  if (need_header && header_q_.visible == 0) return drop(RxOutcome::kDropNoHeaderBuffer);
  if (layout.payload_buffers > payload_q_.visible) return drop(RxOutcome::kDropNoPayloadBuffer);
  if (completions_.count == completions_.slots.size()) return drop(RxOutcome::kDropNoCompletion);

  // Resolve every target first (a fault must leave no partial write behind). A payload buffer
  // shorter than its piece cannot take it: the piece size is min(rx-buf-len, what is left), so
  // a driver posting short buffers gets a DMA fault rather than an overrun into the next one.
  RxWork work;
  std::array<PlaceTarget, RxLayout::kMaxPayloadBuffers + 1> targets{};
  std::size_t nt = 0;
  auto resolve = [&](const RxBufferDesc& d, const RxPiece& p) {
    if (p.len > d.len) return false;
    const netmem::DmaTarget t = dma.resolve_for_device_write(d.addr, p.len);
    if (!t.ok()) return false;
    work.pieces[nt] = RxDmaPiece{d.addr, p.len, t.placement};
    targets[nt++] = PlaceTarget{t.bytes.data(), p.offset, p.len};
    return true;
  };
  if (need_header && !resolve(header_q_.at(0), layout.header)) return drop(RxOutcome::kDropDmaFault);
  for (std::uint8_t i = 0; i < layout.payload_buffers; ++i) {
    if (!resolve(payload_q_.at(i), layout.payload[i])) return drop(RxOutcome::kDropDmaFault);
  }
  work.split = layout.verdict;
  work.header_len = need_header ? layout.header.len : 0;
  work.payload_buffers = layout.payload_buffers;
  work.first_addr = need_header ? header_q_.at(0).addr : layout.payload_buffers > 0 ? payload_q_.at(0).addr : 0;
  work.dma_writes = static_cast<std::uint32_t>(nt);
  for (std::size_t i = 0; i < nt; ++i) work.dma_bytes += targets[i].len;

  const std::size_t slot = base::ring_add(completions_.head, completions_.count, completions_.slots.size());
  RxCompletion& c = completions_.slots[slot];
  ++completions_.count;
  if (publish) ++completions_.visible;
  c = RxCompletion{};
  c.frame_len = frame_len;
  c.meta = meta;
  c.split = layout.verdict;
  if (need_header) {
    c.header_used = true;
    c.header_buf_id = header_q_.at(0).buf_id;
    c.header_len = layout.header.len;
    consume(header_q_, 1);
  }
  c.nfrags = layout.payload_buffers;
  for (std::uint8_t i = 0; i < layout.payload_buffers; ++i) {
    c.frags[i] = RxFragCompletion{payload_q_.at(i).buf_id, layout.payload[i].len};
  }
  consume(payload_q_, layout.payload_buffers);
  ++stats_.packets;
  stats_.bytes += frame_len;
  if (layout.split()) ++stats_.split_packets;
  else if (need_header) ++stats_.header_buffer_only;

  if (offload && nt <= PlaceJob::kMaxTargets) {
    // The bytes move on the byte worker; the completion is written, its verdict comes with them.
    PlaceJob job;
    job.frame = frame.data();
    job.frame_len = frame_len;
    job.ntargets = static_cast<std::uint32_t>(nt);
    std::copy_n(targets.begin(), nt, job.targets.begin());
    if (l4 != nullptr) job.l4 = *l4;
    job.fallback = meta.csum;
    job.completion = &c;
    job.stats = &stats_;
    work.job = base::ByteWorker::get().run(job);
    completions_.jobs[slot] = work.job;
    return work;
  }
  // Inline: after the worker's jobs, which may still read these buffers' earlier contents.
  if (offload) base::ByteWorker::get().drain();
  work.csum = place_pieces(frame, std::span<const PlaceTarget>(targets.data(), nt), l4, meta.csum);
  c.meta.csum = work.csum;
  count_csum(stats_, work.csum);
  return work;
}

}  // namespace nicemu::nic::hw
