// One TX queue of the silicon (see tx_queue.hpp for what is modelled).
#include "nicemu/nic/hw/tx_queue.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/byte_worker.hpp"
#include "nicemu/base/ring_index.hpp"
#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/packet.hpp"

namespace nicemu::nic::hw {

namespace w = netstack::wire;
using w::detail::load_be16;
using w::detail::load_be32;
using w::detail::store_be16;
using w::detail::store_be32;

namespace {
constexpr std::uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;
constexpr std::uint32_t kMaxHeaders = 14 + 8 + 40 + 60 + 60;  // Ethernet, tags, IPv6 (+ext), TCP
// segment_and_send's bytes_after when the byte worker is not used (no job number is all ones).
constexpr std::uint64_t kNoOffload = ~std::uint64_t{0};

std::uint16_t fold_for_field(std::uint16_t folded_sum) {
  const auto c = static_cast<std::uint16_t>(~folded_sum);
  return c != 0 ? c : 0xffffu;  // CSUM_MANGLED_0
}
}  // namespace

const char* to_string(TxOutcome o) {
  switch (o) {
    case TxOutcome::kSent: return "sent";
    case TxOutcome::kDropDmaFault: return "dma-fault";
    case TxOutcome::kDropTooManyDescs: return "too-many-descriptors";
    case TxOutcome::kDropTooLong: return "too-long";
    case TxOutcome::kDropBadTso: return "bad-tso";
  }
  return "?";
}

TxQueueHw::TxQueueHw(std::uint32_t index, Config cfg)
    : index_(index), cfg_(cfg), ring_(cfg.ring_size), completions_(cfg.completion_ring_size),
      gather_size_(std::max(cfg.tso_max_size, cfg.max_frame_len) + kMaxHeaders),
      gather_(new std::byte[gather_size_]), frame_(new std::byte[cfg.max_frame_len]) {
  NICEMU_ASSERT(cfg_.ring_size > 0 && cfg_.completion_ring_size > 0, "TxQueueHw: rings need entries");
  parts_.reserve(cfg_.max_descs_per_packet);
}

// Jobs may still read through this queue's descriptors into memory its owner frees next.
TxQueueHw::~TxQueueHw() { base::ByteWorker::get().drain(); }

bool TxQueueHw::post(const TxDesc& d) {
  if (count_ == ring_.size()) return false;
  ring_[base::ring_add(head_, count_, ring_.size())] = d;
  ++count_;
  return true;
}

void TxQueueHw::doorbell() { visible_ = count_; }

std::optional<TxCompletion> TxQueueHw::next_completion() {
  if (comp_visible_ == 0) return std::nullopt;
  const TxCompletion c = completions_[comp_head_];
  comp_head_ = base::ring_add(comp_head_, 1, completions_.size());
  --comp_count_;
  --comp_visible_;
  return c;
}

void TxQueueHw::publish_completions(std::size_t n) {
  NICEMU_ASSERT(comp_visible_ + n <= comp_count_, "TxQueueHw: publishing completions not written");
  comp_visible_ += n;
}

bool TxQueueHw::has_packet() const {
  for (std::size_t i = 0; i < visible_; ++i) {
    if (ring_[base::ring_add(head_, i, ring_.size())].eop) return true;
  }
  return false;
}

std::uint32_t TxQueueHw::descriptors_in_next_packet() const {
  std::uint32_t n = 0;
  while (n < visible_ && !ring_[base::ring_add(head_, n, ring_.size())].eop) ++n;
  NICEMU_ASSERT(n < visible_, "TxQueueHw: no whole packet is visible");
  return n + 1;
}

std::uint32_t TxQueueHw::bytes_in_next_packet() const {
  const std::uint32_t n = descriptors_in_next_packet();
  std::uint32_t bytes = 0;
  for (std::uint32_t i = 0; i < n; ++i) bytes += ring_[base::ring_add(head_, i, ring_.size())].len;
  return bytes;
}

void TxQueueHw::send_frame(std::span<const std::byte> frame, bool in_sink_buffer, TxFrameSink& sink, TxWork& work) {
  if (in_sink_buffer) {
    sink.tx_frame_built(frame.size());
  } else {
    sink.tx_frame(frame);
  }
  ++work.wire_frames;
  work.wire_bytes += static_cast<std::uint32_t>(frame.size());
  ++stats_.packets;
  stats_.bytes += frame.size();
}

TxWork TxQueueHw::transmit_next(netmem::DmaSpace& dma, TxFrameSink& sink, bool publish, bool offload) {
  NICEMU_ASSERT(completion_room() > 0, "TxQueueHw::transmit_next without completion room");
  TxWork work;
  std::size_t ndesc = 0;
  while (ndesc < visible_ && !ring_[base::ring_add(head_, ndesc, ring_.size())].eop) ++ndesc;
  NICEMU_ASSERT(ndesc < visible_, "TxQueueHw::transmit_next without a whole packet (check has_packet)");
  ++ndesc;
  const TxDesc first = ring_[head_];

  // Gather the packet's bytes through the DMA space: straight into the sink's frame buffer when
  // the packet is one frame (no TSO) and the sink offers one, else into the gather scratch.
  TxOutcome outcome = TxOutcome::kSent;
  std::size_t len = 0;
  if (ndesc > cfg_.max_descs_per_packet) outcome = TxOutcome::kDropTooManyDescs;
  std::byte* into = gather_.get();
  std::size_t room = gather_size_;
  bool in_sink = false;
  if (first.gso_size == 0 && outcome == TxOutcome::kSent) {
    const std::size_t total = bytes_in_next_packet();
    if (total <= cfg_.max_frame_len) {
      const std::span<std::byte> fb = sink.frame_buffer(total);
      if (fb.size() >= total) {
        into = fb.data();
        room = fb.size();
        in_sink = true;
      }
    }
  }
  // A one-frame checksum offload is computed as the bytes stream in (from csum_start on): one
  // pass over the data instead of a copy and a second read.
  const bool csum_inline = first.gso_size == 0 && first.csum_partial;
  w::ChecksumAccumulator csum;
  // A TSO packet's payload is read segment by segment straight from the descriptors' memory
  // (segment_and_send); only its headers are gathered here.
  const bool tso = first.gso_size != 0;
  // With the byte worker, a frag's page may still be being filled by a send() copy job
  // (TcpSock::send's copy_offload; the driver puts it in the descriptor): bytes read here,
  // outside a job, wait for it first. A TSO packet's headers are in its first descriptor (the
  // driver's slot), which no job writes; its payload is read by jobs that follow these.
  std::uint64_t bytes_after = 0;
  if (offload) {
    for (std::size_t i = 0; i < ndesc; ++i) bytes_after = std::max(bytes_after, ring_[base::ring_add(head_, i, ring_.size())].bytes_job);
    if (!tso) base::ByteWorker::get().wait(bytes_after);
  }
  std::size_t gathered = 0;  // TSO: the header bytes copied into the gather buffer
  parts_.clear();
  for (std::size_t i = 0; i < ndesc && outcome == TxOutcome::kSent; ++i) {
    const TxDesc& d = ring_[base::ring_add(head_, i, ring_.size())];
    if (len + d.len > room) {
      outcome = TxOutcome::kDropTooLong;
      break;
    }
    const netmem::DmaTarget t = dma.resolve_for_device_read(d.addr, d.len);
    if (!t.ok()) {
      outcome = TxOutcome::kDropDmaFault;
      ++stats_.dma_faults;
      break;
    }
    if (tso) {
      parts_.push_back(t.bytes.first(d.len));
      if (len < kMaxHeaders && (i == 0 || !offload)) {
        const std::size_t n = std::min<std::size_t>(d.len, kMaxHeaders - len);
        std::memcpy(into + len, t.bytes.data(), n);
        gathered = len + n;
      }
    } else {
      const std::size_t plain =
          csum_inline ? std::min<std::size_t>(d.len, first.csum_start > len ? first.csum_start - len : 0) : d.len;
      std::memcpy(into + len, t.bytes.data(), plain);
      if (plain < d.len) csum.add_copy(into + len + plain, t.bytes.subspan(plain, d.len - plain));
    }
    len += d.len;
    ++work.dma_reads;
    work.dma_bytes += d.len;
  }
  std::span<std::byte> pkt(into, len);

  if (outcome == TxOutcome::kSent) {
    if (first.gso_size != 0) {
      outcome = segment_and_send(pkt, gathered, parts_, first, sink, work, offload ? bytes_after : kNoOffload);
    } else if (len > cfg_.max_frame_len) {
      outcome = TxOutcome::kDropTooLong;
    } else {
      if (first.csum_partial) {
        ++stats_.needs_csum;
        const std::size_t field = std::size_t{first.csum_start} + first.csum_offset;
        if (first.csum_start >= len || field + 2 > len) {
          outcome = TxOutcome::kDropBadTso;  // a malformed offload request
        } else {
          store_be16(pkt.data() + field, fold_for_field(csum.sum()));
        }
      } else {
        ++stats_.csum_none;
      }
      if (outcome == TxOutcome::kSent) send_frame(pkt, in_sink, sink, work);
    }
  }
  if (outcome != TxOutcome::kSent) {
    ++stats_.hw_drops;
    ++stats_.hw_drop_errors;
  }
  work.outcome = outcome;

  head_ = base::ring_add(head_, ndesc, ring_.size());
  count_ -= ndesc;
  visible_ -= ndesc;
  TxCompletion& c = completions_[base::ring_add(comp_head_, comp_count_, completions_.size())];
  ++comp_count_;
  if (publish) ++comp_visible_;
  c = TxCompletion{first.pkt_id, static_cast<std::uint32_t>(ndesc), work.wire_frames, work.wire_bytes, outcome,
                   offload ? base::ByteWorker::get().submitted() : 0};
  return work;
}

namespace {
// Asks the host's caches for the next segment's payload (the `len` bytes from byte `off` of part
// `part` on) while this one is copied: a socket's write queue is megabytes deep, so those bytes
// are long out of cache, and the fetch then overlaps the copy. The simulator's speed only.
void prefetch_payload(std::span<const std::span<const std::byte>> parts, std::size_t part, std::size_t off,
                      std::size_t len) {
  constexpr std::size_t kLine = 64;
  for (; part < parts.size() && len > 0; ++part, off = 0) {
    if (off >= parts[part].size()) {
      off -= parts[part].size();
      continue;
    }
    const std::size_t take = std::min(len, parts[part].size() - off);
    const std::byte* b = parts[part].data() + off;
    for (std::size_t at = 0; at < take; at += kLine) __builtin_prefetch(b + at);
    __builtin_prefetch(b + take - 1);
    len -= take;
  }
}
}  // namespace

namespace {
// With this many foreground jobs queued the worker is behind (a slow or preempted core): the TX
// engine copies segments itself rather than wait for it later. 16, not more: with a worker
// slowed by 0.5-1 us per job, 64 moved almost no work and 8 little more than 16; with the worker
// keeping up, 16 cost < 1% (docs/performance.md, session 10).
constexpr std::uint64_t kTxCopyOffloadQueue = 16;

// One TSO segment's payload, copied into its frame and checksummed on the byte worker: the
// frame's headers are written and summed already (`acc`); the job adds the payload and stores
// the TCP checksum. Segments gathered from more than kMaxPieces pieces are built inline.
struct SegmentCopyJob {
  static constexpr std::size_t kMaxPieces = 8;
  std::byte* to = nullptr;         // the frame, just past the headers
  std::byte* csum_field = nullptr; // the frame's TCP checksum
  w::ChecksumAccumulator acc;
  std::uint32_t npieces = 0;
  std::array<const std::byte*, kMaxPieces> from{};
  std::array<std::uint32_t, kMaxPieces> len{};

  void operator()() {
    std::byte* at = to;
    for (std::uint32_t i = 0; i < npieces; ++i) {
      acc.add_copy(at, std::span<const std::byte>(from[i], len[i]));
      at += len[i];
    }
    store_be16(csum_field, acc.checksum());
  }
};
}  // namespace

TxOutcome TxQueueHw::segment_and_send(std::span<std::byte> pkt, std::size_t gathered,
                                      std::span<const std::span<const std::byte>> parts, const TxDesc& first,
                                      TxFrameSink& sink, TxWork& work, std::uint64_t bytes_after) {
  const bool offload = bytes_after != kNoOffload;
  base::ByteWorker& bw = base::ByteWorker::get();
  if (pkt.size() > cfg_.tso_max_size + kMaxHeaders) return TxOutcome::kDropTooLong;
  // Only the first `gathered` bytes are in `pkt`; the parser, with checksums offloaded, reads
  // nothing past the headers. Headers longer than that (IPv6 extension headers, or headers past
  // the first descriptor with the byte worker on) get the whole packet gathered first.
  w::ParsedPacket p = w::parse_packet(pkt, w::ChecksumCaps::offloaded());
  const bool partial = gathered < std::min<std::size_t>(kMaxHeaders, pkt.size());  // headers past descriptor 0
  if ((p.ok() && p.header_len > gathered) || (!p.ok() && partial)) {
    if (offload) bw.wait(bytes_after);
    std::size_t at = 0;
    for (const auto& part : parts) {
      std::memcpy(pkt.data() + at, part.data(), part.size());
      at += part.size();
    }
    p = w::parse_packet(pkt, w::ChecksumCaps::offloaded());
  }
  if (!p.ok() || p.l4 != w::L4Kind::kTcp || p.header_len == 0) return TxOutcome::kDropBadTso;
  const std::uint32_t hlen = p.header_len;
  const std::uint32_t mss = first.gso_size;
  const std::uint32_t payload = p.payload_len;
  if (hlen + mss > cfg_.max_frame_len) return TxOutcome::kDropTooLong;
  ++stats_.hw_gso_packets;
  stats_.hw_gso_bytes += pkt.size();
  ++stats_.needs_csum;

  const bool v4 = p.l3 == w::L3Kind::kIpv4;
  const std::uint32_t l3 = p.l3_offset, l4 = p.l4_offset;
  const std::uint32_t seq0 = load_be32(pkt.data() + l4 + 4);
  const std::uint8_t flags0 = std::to_integer<std::uint8_t>(pkt[l4 + 13]);
  const std::uint16_t id0 = v4 ? load_be16(pkt.data() + l3 + 4) : 0;
  const std::uint32_t ip_hlen = l4 - l3;
  const std::uint32_t nseg = payload == 0 ? 1 : (payload + mss - 1) / mss;
  // The payload is read in order: a cursor over the descriptors' memory, from the first byte
  // after the headers.
  std::size_t part = 0;
  std::size_t part_off = hlen;
  while (part < parts.size() && part_off >= parts[part].size()) part_off -= parts[part++].size();
  for (std::uint32_t i = 0; i < nseg; ++i) {
    const std::uint32_t off = i * mss;
    const std::uint32_t n = std::min(mss, payload - off);
    const std::span<std::byte> fb = sink.frame_buffer(hlen + n);
    const bool in_sink = fb.size() >= hlen + n;
    std::byte* f = in_sink ? fb.data() : frame_.get();
    std::memcpy(f, pkt.data(), hlen);  // the payload follows below, checksummed as it is copied
    const std::uint32_t flen = hlen + n;
    const std::uint32_t l4_len = flen - l4;
    if (v4) {
      store_be16(f + l3 + 2, static_cast<std::uint16_t>(ip_hlen + l4_len));
      store_be16(f + l3 + 4, static_cast<std::uint16_t>(id0 + i));
      store_be16(f + l3 + 10, 0);
      store_be16(f + l3 + 10, w::internet_checksum(std::span<const std::byte>(f + l3, ip_hlen)));
    } else {
      store_be16(f + l3 + 4, static_cast<std::uint16_t>(ip_hlen - 40 + l4_len));
    }
    store_be32(f + l4 + 4, seq0 + off);
    std::uint8_t flags = flags0;
    if (i + 1 < nseg) flags = static_cast<std::uint8_t>(flags & ~(kTcpFin | kTcpPsh));
    if (i > 0) flags = static_cast<std::uint8_t>(flags & ~kTcpCwr);
    f[l4 + 13] = std::byte{flags};
    store_be16(f + l4 + 16, 0);
    w::ChecksumAccumulator acc;
    w::add_pseudo_header(acc, p.src_ip, p.dst_ip, w::ip_protocol::kTcp, l4_len);
    acc.add(std::span<const std::byte>(f + l4, hlen - l4));
    // The payload's pieces, for the byte worker; too many of them, or the worker far behind while
    // the send() copies of these pages are done, and the segment is built here (the simulation
    // thread would soon wait for the worker anyway). Which thread copies changes no byte.
    if (offload && in_sink && (bw.queued_below(kTxCopyOffloadQueue) || !bw.done(bytes_after))) {
      SegmentCopyJob job;
      job.to = f + hlen;
      job.csum_field = f + l4 + 16;
      job.acc = acc;
      std::size_t jp = part, jo = part_off;
      std::uint32_t left = n;
      while (left > 0 && job.npieces < SegmentCopyJob::kMaxPieces) {
        const auto take = static_cast<std::uint32_t>(std::min<std::size_t>(left, parts[jp].size() - jo));
        job.from[job.npieces] = parts[jp].data() + jo;
        job.len[job.npieces++] = take;
        left -= take;
        jo += take;
        if (jo == parts[jp].size()) {
          ++jp;
          jo = 0;
        }
      }
      if (left == 0) {
        part = jp;
        part_off = jo;
        // After the send() copies (background jobs) that filled these pages.
        sink.tx_frame_job(bw.run(job, bytes_after));
        send_frame(std::span<const std::byte>(f, flen), in_sink, sink, work);
        ++stats_.hw_gso_wire_packets;
        stats_.hw_gso_wire_bytes += flen;
        continue;
      }
    }
    // Built here: after the send() copies that filled the pages.
    if (offload) bw.wait(bytes_after);
    if (i + 1 < nseg) prefetch_payload(parts, part, part_off + n, std::min(mss, payload - off - n));
    for (std::uint32_t done = 0; done < n;) {  // this segment's payload, checksummed as it is copied
      const std::span<const std::byte> from = parts[part].subspan(part_off);
      const std::uint32_t take = static_cast<std::uint32_t>(std::min<std::size_t>(n - done, from.size()));
      acc.add_copy(f + hlen + done, from.first(take));
      done += take;
      part_off += take;
      if (part_off == parts[part].size()) {
        ++part;
        part_off = 0;
      }
    }
    store_be16(f + l4 + 16, acc.checksum());
    send_frame(std::span<const std::byte>(f, flen), in_sink, sink, work);
    ++stats_.hw_gso_wire_packets;
    stats_.hw_gso_wire_bytes += flen;
  }
  return TxOutcome::kSent;
}

}  // namespace nicemu::nic::hw
