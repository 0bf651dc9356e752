// nicemu/sim/packet_trace.hpp — following packets through the emulated system: the stages a
// packet passes (named after the kernel functions and the silicon steps that mirror them), one
// event per stage, and the observer interface every layer's hooks call.
//
// Models: nothing of the simulated system; an observer of it. DESIGN.md §6 (a trace of packets)
//   and the teacher's "follow one packet" need: `nicemu run --trace` writes these events as
//   Chrome trace events (apps/common packet_trace.hpp), and `--explain N` will print the journey
//   of the first N packets from the same events.
// Identity: a packet's trace id names it at every stage.
//   - A frame's id (nic/hw FrameRef::id(), from the run's frame pool: 1, 2, ...) names it on the
//     wire and in the receiving host: the NIC copies it into the RX completion (RxMeta::trace_id),
//     the driver into the skb it builds (SkBuff::trace_id), and GRO, IP and TCP pass the skb on.
//   - A packet born in a host's software (a TCP segment, an ARP request) gets an id from the
//     tracer at its first stage (new_packet_id(); kSoftwareIdBase and up, never a frame id) and
//     keeps it through dev_queue_xmit and ndo_start_xmit. The silicon never sees an skb, so the
//     frame it becomes has a frame id; the TX engine's kTxSegment event names that frame id (the
//     next the frame pool hands out) and a tracer joins the two by the packet's headers (both
//     kNdoStartXmit and kLinkTx carry the bytes).
//   - Queue-level events (a doorbell, an interrupt, a NAPI poll) concern no single packet: id 0.
// Cost: every hook is `if (tracer != nullptr) <one call>`; with no tracer attached a run pays one
//   pointer test per hook and its behaviour, digest and output are the same with or without one
//   (tracers only observe; the ids they hand out are read by tracers only).
// Time: hooks pass the stage's simulated time. Layers that are handed no time (netstack/core's
//   dev_queue_xmit and GRO, DESIGN.md §2: the stack never reads the clock for behaviour) pass
//   tracer->now(), which only the tracer sees.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/sim/time.hpp"

namespace nicemu::sim {

// In pipeline order (TX host, TX NIC, wire, RX NIC, RX host). Which PacketEvent fields a stage
// sets is listed with it; the rest keep their defaults.
enum class PacketStage : std::uint8_t {
  // ---- transmit, host software ----
  kTcpTransmit,   // tcp_transmit_skb: a segment leaves TCP. id, seq, len (payload)
  kDevQueueXmit,  // dev_queue_xmit: netdev_pick_tx chose the TX queue. id, queue, len (frame)
  kQdiscRequeue,  // dev_requeue_skb: the driver said NETDEV_TX_BUSY; back to the qdisc. id, queue
  kNdoStartXmit,  // ndo_start_xmit: the core hands the skb to the driver. id, queue, len, bytes
  // ---- transmit, NIC ----
  kTxDoorbell,   // the TX tail write reached the device (queue-level). queue
  kTxDescFetch,  // the TX engine reads a packet's descriptors over PCIe. queue, count (descriptors),
                 // len (packet bytes), dur (the PCIe read)
  kTxSegment,    // the packet's bytes are in: checksum / TSO, frame(s) to the port. id (the first
                 // frame it becomes), queue, count (descriptors), len (packet bytes)
  // ---- the wire ----
  kLinkTx,  // the first bit leaves a port. id, len, port (direction), dur (serialization), bytes
  kLinkRx,  // the last bit reached the peer port, FCS good: delivered. id, len, port
  // ---- receive, NIC ----
  kRxFifo,         // the frame entered the port's RX FIFO. id, len, count (FIFO bytes now)
  kRxParse,        // the RX engine parsed it (after its parse/steer/DMA-setup cycles). id, len,
                   // hdr_len (L2-L4 headers), note (checksum verdict)
  kRxSteer,        // the queue: ntuple rule, else RSS context + Toeplitz hash + indirection entry.
                   // id, queue, hash, rule (-1: none), context, index, note (why)
  kRxHeaderSplit,  // placement in the queue's buffers. id, queue, hdr_len (to the header buffer),
                   // count (payload buffers), note (split verdict)
  kRxDmaWrite,     // the frame's bytes written to host memory over PCIe. id, queue, addr (first
                   // buffer's DMA address), len (bytes), count (writes), dur (until the data landed)
  kRxCompletion,   // the completion entry became visible to the driver. id, queue
  kIrq,            // a queue's interrupt fired (queue-level). queue, note (rx-frames or rx-usecs)
  kRxDoorbell,     // RX buffers the driver posted reached the device (queue-level). queue
  kNapiPoll,       // a NAPI poll ran in softirq on a CPU (queue-level). queue (channel), napi_id,
                   // cpu, count (RX packets), dur (its CPU time)
  // ---- receive, host software ----
  kSkbBuild,    // the driver built the skb from the completion and calls napi_gro_receive.
                // id, queue, napi_id, cpu, len, hdr_len (linear bytes), count (frags)
  kGroReceive,  // dev_gro_receive's verdict. id, len, note (held, merged, normal),
                // ref (merged: the held skb's id)
  kGroFlush,    // napi_gro_complete: a held skb leaves GRO for the stack. id, len,
                // count (segments), note (why)
  kIpRcv,       // ip_rcv / ipv6_rcv. id, len, note (ipv4 or ipv6)
  kTcpRcv,      // tcp_v4_rcv / tcp_v6_rcv. id, seq, len (payload)
  kTcpQueue,    // the data is queued on the socket. id, seq, len (new payload bytes),
                // note (tcp_queue_rcv: in order; tcp_data_queue_ofo: out of order)
  // ---- devmem, after the socket ----
  kRecvmsgDevmem,  // tcp_recvmsg_dmabuf: one SCM_DEVMEM_DMABUF message for a frag of the packet.
                   // id, offset (frag_offset in the dma-buf), len (frag_size), count (the token),
                   // context (the binding id), addr (the net_iov's DMA address)
  kDevmemDontneed, // SO_DEVMEM_DONTNEED freed the token. id, count (the token), addr (DMA address),
                   // note (whether that was the last reference: back to the page pool)
  kRxRefill,       // the driver posted a net_iov payload buffer to the ring (queue-level). queue,
                   // addr (DMA address)
  kDrop,        // the packet was dropped. id, at (the stage that dropped it), queue or port
                // where known, note (the reason)
  kCount
};

// The stage's name as a trace shows it (the kernel function or silicon step).
constexpr const char* to_string(PacketStage s) {
  switch (s) {
    case PacketStage::kTcpTransmit:
      return "tcp_transmit_skb";
    case PacketStage::kDevQueueXmit:
      return "dev_queue_xmit";
    case PacketStage::kQdiscRequeue:
      return "dev_requeue_skb";
    case PacketStage::kNdoStartXmit:
      return "ndo_start_xmit";
    case PacketStage::kTxDoorbell:
      return "tx_doorbell";
    case PacketStage::kTxDescFetch:
      return "tx_desc_fetch";
    case PacketStage::kTxSegment:
      return "tx_tso_segment";
    case PacketStage::kLinkTx:
      return "link_tx";
    case PacketStage::kLinkRx:
      return "link_rx";
    case PacketStage::kRxFifo:
      return "rx_fifo";
    case PacketStage::kRxParse:
      return "rx_parse";
    case PacketStage::kRxSteer:
      return "rx_steer";
    case PacketStage::kRxHeaderSplit:
      return "rx_header_split";
    case PacketStage::kRxDmaWrite:
      return "rx_dma_write";
    case PacketStage::kRxCompletion:
      return "rx_completion";
    case PacketStage::kIrq:
      return "irq";
    case PacketStage::kRxDoorbell:
      return "rx_doorbell";
    case PacketStage::kNapiPoll:
      return "napi_poll";
    case PacketStage::kSkbBuild:
      return "napi_gro_receive";
    case PacketStage::kGroReceive:
      return "dev_gro_receive";
    case PacketStage::kGroFlush:
      return "napi_gro_complete";
    case PacketStage::kIpRcv:
      return "ip_rcv";
    case PacketStage::kTcpRcv:
      return "tcp_v4_rcv";
    case PacketStage::kTcpQueue:
      return "tcp_queue_rcv";
    case PacketStage::kRecvmsgDevmem:
      return "tcp_recvmsg_dmabuf";
    case PacketStage::kDevmemDontneed:
      return "sock_devmem_dontneed";
    case PacketStage::kRxRefill:
      return "rx_refill";
    case PacketStage::kDrop:
      return "drop";
    case PacketStage::kCount:
      break;
  }
  return "?";
}

// Ids new_packet_id() hands out start here: above every frame id a run can reach, below 2^53
// (trace viewers read ids as JavaScript numbers).
inline constexpr std::uint64_t kSoftwareIdBase = std::uint64_t{1} << 50;

// One stage of one packet (or of a queue). A plain value: hooks fill the fields their stage
// lists (PacketStage) and leave the others at these defaults.
struct PacketEvent {
  static constexpr std::uint32_t kNone = 0xffffffffu;

  PacketStage stage = PacketStage::kCount;
  PacketStage at = PacketStage::kCount;  // kDrop: the stage that dropped the packet
  std::uint64_t id = 0;                  // the packet's trace id; 0 for a queue-level event
  std::uint64_t ref = 0;                 // a related packet (GRO: the held skb a segment merged into)
  std::uint32_t queue = kNone;           // RX or TX queue (the NAPI channel for kNapiPoll)
  std::uint32_t len = 0;                 // bytes, as the stage lists
  std::uint32_t hdr_len = 0;             // header bytes
  std::uint32_t count = 0;               // descriptors, buffers, writes, segments, packets (per stage)
  std::uint64_t addr = 0;                // a DMA address
  std::uint64_t offset = 0;              // a dma-buf offset (devmem)
  std::uint32_t hash = 0;                // RSS hash
  std::int32_t rule = -1;                // ntuple rule location, -1 for none
  std::uint32_t context = kNone;         // RSS context
  std::uint32_t index = kNone;           // RSS indirection table entry
  std::uint32_t napi_id = 0;             // 0 for none
  std::uint32_t cpu = kNone;
  std::uint32_t seq = 0;               // TCP sequence number
  std::uint32_t port = kNone;          // link direction: the link's trace id * 2 + the sending end
  Duration dur = Duration::zero();     // how long the stage took; zero: a point in time
  const char* note = nullptr;          // a string with static storage: a verdict or drop reason
  std::span<const std::byte> bytes{};  // the packet's bytes (headers at least), during the call only
};

// The observer. Implementations must not change the simulated system (schedule events, touch
// packets) and must not keep `e.bytes` beyond the call (`e.note` has static storage: keeping
// the pointer is fine).
class PacketTracer {
 public:
  // One stage at simulated time `t` (a hook passes the time the stage happened or starts).
  virtual void on_event(TimePoint t, const PacketEvent& e) = 0;
  // A trace id for a packet born in software, asked by the first stage that sees it with id 0.
  // 0 when the tracer follows no more packets: the packet stays untraced (id 0 throughout).
  // Ids are kSoftwareIdBase and above, so they never collide with frame ids.
  virtual std::uint64_t new_packet_id() = 0;
  // The simulated time, for hooks in layers that are handed none (see "Time" above).
  virtual TimePoint now() const = 0;

 protected:
  ~PacketTracer() = default;
};

}  // namespace nicemu::sim
