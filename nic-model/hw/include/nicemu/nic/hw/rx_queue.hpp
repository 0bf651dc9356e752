// nicemu/nic/hw/rx_queue.hpp — one RX queue of the silicon: the buffers the driver posts, the
// DMA of a frame's bytes into them, and the completion the device writes back.
//
// Models: a queue in the style of GVE DQO and bnxt with header-data split: two buffer queues the
//   driver posts to (header buffers and payload buffers, each a DMA address, a length and the
//   driver's buffer id), made visible to the device only by the doorbell (the driver's tail
//   write); a completion ring the device fills, one entry per frame, carrying the frame length,
//   the header buffer and length, the payload buffers and their lengths (one frag each), the RSS
//   hash and its type, the matched ntuple rule, the checksum verdict and the split verdict. The
//   frame's bytes are written through the device's DmaSpace, so they really land in the host page
//   or provider memory behind each address. A frame that finds too few posted buffers, or no free
//   completion entry, is dropped and counted (hw_drop_overruns), never silently; a DMA fault (a
//   buffer not mapped for device writes) drops it as hw_drops. Buffers are consumed in posting
//   order; a payload buffer takes one frag of at most its own length and rx-buf-len.
// Not modelled here: time (the pipeline charges PCIe time for the bytes and writes `receive`
//   reports), the per-port RX FIFO, interrupt moderation, descriptor fetch latency, buffer
//   packing of several frames into one buffer (GVE DQO's and bnxt's page splitting), LRO.
// References: drivers/net/ethernet/google/gve/gve_desc_dqo.h (gve_rx_desc_dqo,
//   gve_rx_compl_desc_dqo: header_len, split_header, buf_id, hash, l4_csum error bits);
//   include/net/netdev_queues.h (struct netdev_queue_stats_rx: the counter names);
//   ../shared/reference/linux-kernel-semantics.md §6.4.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "nicemu/base/ring_index.hpp"
#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/netmem.hpp"
#include "nicemu/nic/hw/header_split.hpp"
#include "nicemu/netstack/wire/checksum.hpp"
#include "nicemu/nic/hw/rss.hpp"

namespace nicemu::nic::hw {

// One buffer the driver posts.
struct RxBufferDesc {
  netmem::DmaAddr addr = 0;
  std::uint32_t len = 0;
  std::uint32_t buf_id = 0;  // the driver's handle, returned in the completion
};

// The device's checksum verdict (how the driver sets skb->ip_summed).
enum class RxCsum : std::uint8_t {
  kNone,         // not checked (not TCP/UDP, or a fragment): CHECKSUM_NONE
  kUnnecessary,  // IPv4 header and L4 checksum verified good: CHECKSUM_UNNECESSARY
  kBad,          // a checksum was wrong: delivered with CHECKSUM_NONE, counted csum_bad
};
const char* to_string(RxCsum c);

// The L4 checksum check the device runs while a frame's bytes stream to memory: the frame's bytes
// [start, end) (the L4 header and payload, link padding excluded) added to `sum` (the
// pseudo-header, already added) must verify. One pass over the data instead of a parse-time
// pass and the copy. rx_l4_check() builds it for a parsed packet (off for a packet the device does
// not check: not TCP/UDP, a fragment, UDP over IPv4 without a checksum).
struct RxL4Check {
  bool on = false;
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  netstack::wire::ChecksumAccumulator sum;
};
RxL4Check rx_l4_check(const netstack::wire::ParsedPacket& pkt, std::span<const std::byte> frame);
// The check done in one pass over `frame` apart from any copy: `fallback` when it is off.
RxCsum rx_l4_verdict(const RxL4Check& check, std::span<const std::byte> frame, RxCsum fallback);

// What the classifier decided for a frame, passed to the queue with its bytes.
struct RxMeta {
  std::uint32_t rss_hash = 0;
  RssHashType hash_type = RssHashType::kNone;  // as skb_set_hash's pkt_hash_types
  std::int32_t rule_id = -1;  // the ntuple rule that matched, -1 for none
  RxCsum csum = RxCsum::kNone;
  // nicemu's own, not a hardware field: the frame's trace id (FrameRef::id), carried through the
  // completion so the driver can name the same packet in the skb (sim/packet_trace.hpp).
  std::uint64_t trace_id = 0;
};

struct RxFragCompletion {
  std::uint32_t buf_id = 0;
  std::uint32_t len = 0;
};

// One completion entry.
struct RxCompletion {
  std::uint32_t frame_len = 0;
  bool header_used = false;
  std::uint32_t header_buf_id = 0;
  std::uint32_t header_len = 0;
  std::uint8_t nfrags = 0;
  std::array<RxFragCompletion, RxLayout::kMaxPayloadBuffers> frags{};
  RxMeta meta;
  SplitVerdict split = SplitVerdict::kSplitOff;
};

// Counters with the kernel's qstats names where one exists (netdev_queue_stats_rx).
struct RxQueueHwStats {
  std::uint64_t packets = 0;            // completed frames
  std::uint64_t bytes = 0;              // their bytes (Ethernet header on, no FCS)
  std::uint64_t hw_drops = 0;           // every frame the queue dropped
  std::uint64_t hw_drop_overruns = 0;   // ... for want of a posted buffer or a completion entry
  std::uint64_t csum_unnecessary = 0;
  std::uint64_t csum_none = 0;
  std::uint64_t csum_bad = 0;
  // nicemu's own.
  std::uint64_t dma_faults = 0;         // a buffer not mapped for device writes
  std::uint64_t too_many_buffers = 0;   // a frame needing more than MAX_SKB_FRAGS buffers
  std::uint64_t split_packets = 0;      // frames whose headers and payload were separated
  std::uint64_t header_buffer_only = 0; // frames placed whole in a header buffer
};

enum class RxOutcome : std::uint8_t {
  kCompleted,
  kDropNoHeaderBuffer,   // hw_drop_overruns
  kDropNoPayloadBuffer,  // hw_drop_overruns
  kDropNoCompletion,     // hw_drop_overruns: the completion ring is full
  kDropTooManyBuffers,   // hw_drops
  kDropDmaFault,         // hw_drops
};
const char* to_string(RxOutcome o);

// What one frame cost the device, for the timing model, and where it went (for tracing).
// One DMA write of a placed frame: where it went and which memory is behind the address.
struct RxDmaPiece {
  netmem::DmaAddr addr = 0;
  std::uint32_t len = 0;
  netmem::MemoryPlacement placement = netmem::MemoryPlacement::kHostMemory;
};

struct RxWork {
  RxOutcome outcome = RxOutcome::kCompleted;
  // The writes in order (header piece first): the NIC charges each on the PCIe path to its
  // memory (host memory, or device memory behind a PCIe switch) with its own address.
  std::array<RxDmaPiece, RxLayout::kMaxPayloadBuffers + 1> pieces{};
  std::uint32_t dma_writes = 0;  // buffer writes (one per header or payload piece)
  std::uint32_t dma_bytes = 0;   // frame bytes written
  SplitVerdict split = SplitVerdict::kSplitOff;
  std::uint32_t header_len = 0;          // bytes placed in the header buffer (0: none used)
  std::uint8_t payload_buffers = 0;      // payload buffers used (one frag each)
  netmem::DmaAddr first_addr = 0;        // DMA address of the first buffer written
  RxCsum csum = RxCsum::kNone;           // the verdict the completion carries (not with `job`)
  // With offload: the byte worker job that copies the frame and checks its L4 checksum (0: the
  // bytes were placed inline). The frame must not be reused before it has run.
  std::uint64_t job = 0;
};

class RxQueueHw {
 public:
  struct Config {
    std::uint32_t header_ring_size = 1024;   // header buffer queue entries
    std::uint32_t payload_ring_size = 1024;  // payload buffer queue entries
    std::uint32_t completion_ring_size = 2048;
    HeaderSplitConfig split;
  };
  RxQueueHw(std::uint32_t index, Config cfg);
  ~RxQueueHw();
  RxQueueHw(const RxQueueHw&) = delete;
  RxQueueHw& operator=(const RxQueueHw&) = delete;

  std::uint32_t index() const { return index_; }
  const Config& config() const { return cfg_; }

  // ---- driver side ----------------------------------------------------------------------------------
  // Post a buffer; false when the queue is full (the driver keeps it). Posted buffers are not
  // seen by the device until doorbell().
  bool post_header_buffer(const RxBufferDesc& d) { return post(header_q_, d); }
  bool post_payload_buffer(const RxBufferDesc& d) { return post(payload_q_, d); }
  // The tail write: everything posted so far becomes visible to the device.
  void doorbell();
  // The next completion the device has published, in order; nullopt when none is.
  std::optional<RxCompletion> next_completion();
  std::size_t completions_pending() const { return completions_.visible; }
  // Buffers the device may still use (visible) and posted but not yet rung.
  std::size_t header_buffers_visible() const { return header_q_.visible; }
  std::size_t payload_buffers_visible() const { return payload_q_.visible; }
  // Stopping the queue: every buffer not yet used comes back (in posting order, headers first)
  // so the driver can free it; completions not yet read are returned by next_completion first.
  std::vector<RxBufferDesc> reclaim_buffers();

  // ---- device side -----------------------------------------------------------------------------------
  // Places `frame` (parsed as `pkt`) per the split settings: writes its pieces through `dma` into
  // the buffers at the heads of the queues and appends a completion. All or nothing: a frame that
  // is dropped consumes no buffer and writes nothing. With `publish` false the completion is
  // written but the driver sees it only after publish_completions() (the pipeline publishes it
  // when the completion's PCIe write has landed). With `l4` on, the L4 checksum is checked as
  // the bytes are written and its verdict replaces meta.csum in the completion (RxWork::csum).
  // With `offload` the copies and the check run on the byte worker (base/byte_worker.hpp) as job
  // RxWork::job; next_completion waits for it, and the csum counters count when it has run.
  RxWork receive(std::span<const std::byte> frame, const netstack::wire::ParsedPacket& pkt, const RxMeta& meta,
                 netmem::DmaSpace& dma, bool publish = true, const RxL4Check* l4 = nullptr, bool offload = false);
  // Makes the oldest `n` written completions visible to the driver.
  void publish_completions(std::size_t n);
  std::size_t completions_unpublished() const { return completions_.count - completions_.visible; }

  // Waits for the byte worker's jobs first: they count the csum verdicts.
  const RxQueueHwStats& stats() const;

 private:
  // A fixed-capacity FIFO of descriptors: [head, head+visible) are visible to the device,
  // [head+visible, head+count) posted but not yet rung.
  struct DescRing {
    std::vector<RxBufferDesc> slots;
    std::size_t head = 0, count = 0, visible = 0;
    const RxBufferDesc& at(std::size_t i) const { return slots[base::ring_add(head, i, slots.size())]; }
  };
  struct CompletionRing {
    std::vector<RxCompletion> slots;
    std::vector<std::uint64_t> jobs;  // per slot: the byte worker job completing it (0: none)
    std::size_t head = 0, count = 0, visible = 0;  // [head, head+visible) published
  };
  static bool post(DescRing& r, const RxBufferDesc& d);
  static void consume(DescRing& r, std::size_t n);
  RxWork drop(RxOutcome why);

  std::uint32_t index_;
  Config cfg_;
  DescRing header_q_, payload_q_;
  CompletionRing completions_;
  RxQueueHwStats stats_;
};

// The device's checksum verdict for a frame parse_packet() read with software verification.
RxCsum rx_csum_verdict(const netstack::wire::ParsedPacket& pkt);

}  // namespace nicemu::nic::hw
