// nicemu/nic/hw/tx_queue.hpp — one TX queue of the silicon: descriptors the driver posts, the
// DMA reads of a packet's bytes, checksum offload, TSO, and the completions the device returns.
//
// Models: a descriptor ring the driver fills with one or more descriptors per packet (a DMA
//   address and a length each; the last one marked end-of-packet), made visible by the doorbell
//   (the tail write). The first descriptor of a packet carries its offloads, as the skb gives
//   them to a driver: CHECKSUM_PARTIAL (csum_start, csum_offset: the device sums from csum_start
//   to the end, the field already holding the pseudo-header sum, and stores the folded result,
//   0 sent as 0xffff, as skb_checksum_help does) and TSO (gso_size = MSS: the device cuts the
//   payload after the headers into MSS-sized frames and fixes each one's headers — IPv4 total
//   length, identification (+1 per frame) and header checksum, IPv6 payload length, TCP
//   sequence number, FIN and PSH only on the last frame, CWR only on the first, and the TCP
//   checksum). The device reads each packet's bytes through the DmaSpace (they really come from
//   the memory behind the addresses), hands every wire frame to a sink, and writes one
//   completion per packet. Bad requests (a DMA fault, a chain longer than the profile allows, a
//   frame above the MTU without TSO, TSO on something that is not TCP) drop the packet, counted
//   as hw_drop_errors, and still complete it so the driver frees its buffers.
// Not modelled here: time (the pipeline charges PCIe reads and wire serialization), UDP
//   segmentation (USO), tunnels, VLAN insertion, per-descriptor completions, the queue stop/wake
//   decision (the driver's: it reads free_descriptors()).
// References: include/linux/skbuff.h (CHECKSUM_PARTIAL, csum_start/csum_offset, gso_size);
//   net/ipv4/tcp_offload.c tcp_gso_segment (which flags go on which segment, seq per segment);
//   net/ipv4/af_inet.c inet_gso_segment (IPv4 id + 1 per segment); include/net/netdev_queues.h
//   (struct netdev_queue_stats_tx: the counter names).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "nicemu/base/ring_index.hpp"
#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/netmem.hpp"

namespace nicemu::nic::hw {

struct TxDesc {
  netmem::DmaAddr addr = 0;
  std::uint32_t len = 0;
  bool eop = false;           // the packet's last descriptor
  std::uint32_t pkt_id = 0;   // the driver's cookie (read from the first descriptor)
  // Offloads, read from the first descriptor of a packet.
  bool csum_partial = false;
  std::uint16_t csum_start = 0;   // from the start of the frame
  std::uint16_t csum_offset = 0;  // of the checksum field, from csum_start
  std::uint16_t gso_size = 0;     // TSO: MSS; 0 = no segmentation
  // Not a descriptor field: the last background byte worker job that wrote the descriptor's
  // bytes (a send() copy; 0: none or unknown), so that the segment's job runs after it only
  // (base/byte_worker.hpp).
  std::uint64_t bytes_job = 0;
};

enum class TxOutcome : std::uint8_t {
  kSent,
  kDropDmaFault,     // a descriptor's range is not mapped for device reads
  kDropTooManyDescs, // more descriptors than the profile takes per packet
  kDropTooLong,      // a frame above the maximum without TSO, or a TSO packet above tso_max_size
  kDropBadTso,       // TSO on a frame that is not TCP over IPv4/IPv6, or gso_size of 0
};
const char* to_string(TxOutcome o);

struct TxCompletion {
  std::uint32_t pkt_id = 0;
  std::uint32_t descs = 0;       // descriptors the packet used (the driver frees that many)
  std::uint32_t wire_frames = 0; // frames sent (TSO: segments)
  std::uint32_t wire_bytes = 0;  // their bytes (Ethernet header on, no FCS)
  TxOutcome outcome = TxOutcome::kSent;
  // The last base::ByteWorker job reading the packet's memory (0: none). The bytes may still be
  // on their way: the driver must not let the packet's memory be rewritten before it has run
  // (it tags the pages it frees with it, and waits for it on memory that is not its own).
  std::uint64_t byte_job = 0;
};

// Counters with the kernel's qstats names where one exists (netdev_queue_stats_tx).
struct TxQueueHwStats {
  std::uint64_t packets = 0;            // wire frames sent
  std::uint64_t bytes = 0;
  std::uint64_t hw_drops = 0;
  std::uint64_t hw_drop_errors = 0;     // malformed requests
  std::uint64_t needs_csum = 0;         // packets that asked for checksum offload
  std::uint64_t csum_none = 0;          // packets that did not
  std::uint64_t hw_gso_packets = 0;     // TSO packets (before segmentation)
  std::uint64_t hw_gso_bytes = 0;
  std::uint64_t hw_gso_wire_packets = 0;  // the frames they became
  std::uint64_t hw_gso_wire_bytes = 0;
  std::uint64_t dma_faults = 0;         // nicemu's own
};

// Where the device's wire frames go (the port's transmit side).
class TxFrameSink {
 public:
  // Takes a finished frame built in the queue's own scratch (the sink copies it).
  virtual void tx_frame(std::span<const std::byte> frame) = 0;
  // The zero-copy path, optional: a buffer of at least `len` bytes that the queue builds the
  // next frame in, or an empty span (then the queue builds it in its scratch and calls
  // tx_frame). The buffer stays the sink's; tx_frame_built(len) sends its first `len` bytes,
  // and asking again without sending hands out the same buffer.
  virtual std::span<std::byte> frame_buffer(std::size_t len) {
    (void)len;
    return {};
  }
  virtual void tx_frame_built(std::size_t len) { (void)len; }
  // The buffer handed out by frame_buffer gets its payload and L4 checksum from byte worker job
  // `job` (base/byte_worker.hpp): whoever reads the frame's bytes waits for it. Called before
  // tx_frame_built, only for sinks that hand out buffers.
  virtual void tx_frame_job(std::uint64_t job) { (void)job; }

 protected:
  ~TxFrameSink() = default;
};

// What one packet cost the device, for the timing model.
struct TxWork {
  TxOutcome outcome = TxOutcome::kSent;
  std::uint32_t dma_reads = 0;   // descriptor data reads
  std::uint32_t dma_bytes = 0;   // bytes read
  std::uint32_t wire_frames = 0;
  std::uint32_t wire_bytes = 0;
};

class TxQueueHw {
 public:
  struct Config {
    std::uint32_t ring_size = 1024;
    std::uint32_t max_frame_len = 1514;  // MTU + Ethernet header: the largest frame without TSO
    std::uint32_t tso_max_size = 65536;  // the largest TSO packet (netif tso_max_size)
    std::uint32_t max_descs_per_packet = 18;  // MAX_SKB_FRAGS + 1
    std::uint32_t completion_ring_size = 1024;
  };
  TxQueueHw(std::uint32_t index, Config cfg);
  ~TxQueueHw();
  TxQueueHw(const TxQueueHw&) = delete;
  TxQueueHw& operator=(const TxQueueHw&) = delete;

  std::uint32_t index() const { return index_; }

  // ---- driver side -------------------------------------------------------------------------------------
  bool post(const TxDesc& d);  // false when the ring is full
  void doorbell();             // everything posted becomes visible
  std::size_t free_descriptors() const { return ring_.size() - count_; }
  std::optional<TxCompletion> next_completion();
  std::size_t completions_pending() const { return comp_visible_; }

  // ---- device side ------------------------------------------------------------------------------------------
  // True when a whole packet (through its end-of-packet descriptor) is visible.
  bool has_packet() const;
  // The next visible packet's descriptor count and byte count (call only when has_packet()).
  std::uint32_t descriptors_in_next_packet() const;
  std::uint32_t bytes_in_next_packet() const;
  // Sends the next visible packet: reads it through `dma`, applies its offloads, gives each
  // wire frame to `sink`, and appends a completion (which needs room: call only when
  // completion_room() is non-zero).
  // With `publish` false the completion is visible to the driver only after publish_completions().
  // With `offload`, a TSO segment's payload copy and checksum built in the sink's buffer run on
  // the byte worker (base/byte_worker.hpp): the frame's readers wait for them, and the
  // completion carries the last one (TxCompletion::byte_job) for the driver.
  TxWork transmit_next(netmem::DmaSpace& dma, TxFrameSink& sink, bool publish = true, bool offload = false);
  void publish_completions(std::size_t n);
  std::size_t completion_room() const { return completions_.size() - comp_count_; }
  // Descriptor `i` (from 0) of the next visible packet (i < descriptors_in_next_packet()).
  const TxDesc& next_descriptor(std::uint32_t i) const { return ring_[base::ring_add(head_, i, ring_.size())]; }
  // Descriptors the doorbell made visible and the queue has not sent yet.
  std::size_t visible_descriptors() const { return visible_; }

  const TxQueueHwStats& stats() const { return stats_; }

 private:
  // `pkt` is as long as the packet and holds its first `gathered` bytes (the headers, unless they
  // run past them); the payload is read from `parts` (the descriptors' memory, in order).
  // `bytes_after`: the background byte worker job the packet's bytes wait for (its descriptors'
  // bytes_job), or ~0 to build every segment inline.
  TxOutcome segment_and_send(std::span<std::byte> pkt, std::size_t gathered,
                             std::span<const std::span<const std::byte>> parts, const TxDesc& first,
                             TxFrameSink& sink, TxWork& work, std::uint64_t bytes_after);
  // Sends a frame: built in the sink's buffer (in_sink_buffer) or in the queue's scratch.
  void send_frame(std::span<const std::byte> frame, bool in_sink_buffer, TxFrameSink& sink, TxWork& work);

  std::uint32_t index_;
  Config cfg_;
  std::vector<TxDesc> ring_;
  std::size_t head_ = 0, count_ = 0, visible_ = 0;
  std::vector<TxCompletion> completions_;
  std::size_t comp_head_ = 0, comp_count_ = 0, comp_visible_ = 0;
  // Scratch left uninitialised on purpose: a queue's gather buffer is as large as the biggest TSO
  // send (512 KiB on some profiles) and a NIC has up to 128 queues, so only the pages a queue
  // really uses should ever be touched.
  std::size_t gather_size_;
  std::unique_ptr<std::byte[]> gather_;  // one packet's bytes (tso_max_size + headers)
  std::unique_ptr<std::byte[]> frame_;   // one TSO segment being built
  std::vector<std::span<const std::byte>> parts_;  // a TSO packet's descriptor memory, in order
  TxQueueHwStats stats_;
};

}  // namespace nicemu::nic::hw
