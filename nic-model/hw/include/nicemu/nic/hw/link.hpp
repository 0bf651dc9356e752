// nicemu/nic/hw/link.hpp — a full-duplex point-to-point Ethernet link between two ports.
//
// Models: each direction as a serial server. A port's transmitter takes frames from its
//   transmit queue one at a time; a frame holds it for wire_time(len) = (max(len, 60) + 24)
//   bytes at the line rate (frame.hpp), and arrives at the peer port at the end of that slot
//   plus the propagation delay, where the peer's rx handler gets it (scheduled on the
//   sim::EventQueue). Per port: a transmit queue with frame and byte limits; MTU enforcement at
//   the sender; padding of short frames to 60 bytes; carrier (link up/down); taps (pcap).
//   Per direction: seeded fault injection (drop, corrupt, duplicate, reorder with a delay) that
//   can be switched at simulated times, and counters for every outcome.
// Not modelled: auto-negotiation and link training time (carrier changes are instantaneous),
//   pause frames / PFC (no backpressure across the wire), bit errors as a rate (corruption is
//   per frame), the sub-slot position of the last FCS bit (delivery is at the end of the
//   24-byte-overhead slot, so the IFG is counted before delivery), half duplex.
// References: IEEE 802.3 §4.2.3.3 (pad), §4.4.2 (IFG); Linux include/uapi/linux/if_link.h
//   (rtnl_link_stats64: rx_crc_errors, tx_carrier_errors, tx_dropped); netem
//   (net/sched/sch_netem.c: loss, corrupt, duplicate, reorder) for the fault vocabulary;
//   netdevsim for fault knobs kept with the device; Intel 82599 datasheet (TXPBSIZE default
//   0xA0 = 160 KB transmit packet buffer) for the default transmit queue size.
//
// Choices where hardware varies, used consistently here:
//   - MTU: a frame is accepted iff len <= mtu + 14 + 4 × (VLAN tags it carries, at most 2, as
//     read by netstack/wire's EthernetView). Longer frames are refused by the sending port
//     (DropReason::kMtuExceeded), as a MAC refuses a frame over its max-frame-size register;
//     frames shorter than an Ethernet header are refused as kRunt. Frames under 60 bytes are
//     padded with zeros to 60 (the MAC's pad), so the receiver gets 60 bytes.
//   - The transmit queue's occupancy includes the frame being serialized (it stays in the
//     packet buffer until its last bit has left), so a byte limit is a buffer size.
//   - Faults are drawn when a frame starts serialization, each kind from its own named stream
//     ("<link>/<a->b|b->a>/drop", ".../corrupt", ".../duplicate", ".../reorder"), and every
//     enabled kind draws for every frame, so one kind's probability never shifts another
//     kind's choices. Drop wins over the others. A dropped frame still uses its wire slot.
//   - Corrupt flips one byte (a non-zero XOR mask). CorruptMode::kFcsError: the byte is
//     anywhere in the frame, the receiver's FCS check fails, the frame is discarded and counted
//     as rx_crc_errors (DropReason::kCrcError); taps at the receiver do not see it (tcpdump
//     does not see FCS errors either). CorruptMode::kPassCorrupted: the corruption happened
//     before the FCS was computed ("corrupt payload past FCS"), so the byte is past the
//     14-byte Ethernet header and the receiver gets the corrupted frame; upper layers must
//     catch it.
//   - Duplicate: the port sends a copy (fresh frame id, bytes as sent before any corruption)
//     right after the original; the copy costs its own wire slot, is not subject to faults and
//     does not count against the transmit queue's limits.
//   - Reorder: the frame arrives `reorder_delay` later than it would have, so frames sent
//     after it can overtake it; it does not hold up the transmitter.
//   - Carrier down: frames on the wire (serializing or propagating, both directions) are lost
//     (kLinkDownInFlight); frames waiting in transmit queues, a pending duplicate, and frames
//     handed to transmit() while down are dropped as kCarrierDown.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nicemu/base/result.hpp"
#include "nicemu/nic/hw/frame.hpp"
#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/inplace_function.hpp"
#include "nicemu/sim/packet_trace.hpp"
#include "nicemu/sim/random.hpp"
#include "nicemu/sim/trace_digest.hpp"

namespace nicemu::nic::hw {

// Why a link did not deliver a frame. Indexes LinkDirectionStats::dropped.
enum class DropReason : std::uint8_t {
  kRunt,              // sender: shorter than an Ethernet header (14 bytes)
  kMtuExceeded,       // sender: longer than mtu + 14 + 4 × VLAN tags
  kTxQueueFull,       // sender: the transmit queue's frame or byte limit
  kCarrierDown,       // sender: handed over, queued or pending while the carrier was down
  kFaultDrop,         // wire: fault injection lost it (the slot was used)
  kCrcError,          // receiver: FCS check failed after a kFcsError corruption (rx_crc_errors)
  kLinkDownInFlight,  // wire: serializing or propagating when the carrier went down
  kNoFrameBuffer,     // sender: a duplicate could not be made, the frame pool is at its limit
  kNoReceiver,        // receiver: the port has no rx handler
  kCount
};
const char* to_string(DropReason r);

// Counters of one direction (frames sent by one port toward its peer). Bytes are frame bytes
// after padding, without the 24 bytes of wire overhead. Conservation, at any instant:
//   tx_frames == rx_frames + dropped[kFaultDrop] + dropped[kCrcError]
//                + dropped[kLinkDownInFlight] + dropped[kNoReceiver] + frames on the wire.
struct LinkDirectionStats {
  std::uint64_t tx_frames = 0;  // started serialization (duplicate copies included)
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_frames = 0;  // delivered to the peer's rx handler
  std::uint64_t rx_bytes = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped{};
  std::uint64_t corrupted = 0;   // a byte flipped (either mode)
  std::uint64_t duplicated = 0;  // copies made and queued for sending
  std::uint64_t reordered = 0;   // frames delayed by reorder_delay

  std::uint64_t drops(DropReason r) const { return dropped[static_cast<std::size_t>(r)]; }
  std::uint64_t rx_crc_errors() const { return drops(DropReason::kCrcError); }
  std::uint64_t dropped_total() const;
  friend bool operator==(const LinkDirectionStats&, const LinkDirectionStats&) = default;
};

enum class CorruptMode : std::uint8_t {
  kFcsError,       // the receiver's FCS check fails: dropped and counted as rx_crc_errors
  kPassCorrupted,  // corrupted before the FCS was computed: delivered with the flipped byte
};

// Fault injection on one direction. Probabilities are per frame, in [0, 1]; 0 disables a kind
// (and stops its stream from drawing).
struct FaultConfig {
  double drop = 0;
  double corrupt = 0;
  CorruptMode corrupt_mode = CorruptMode::kFcsError;
  double duplicate = 0;
  double reorder = 0;
  // Extra delay of a reordered frame; should exceed the gap between frames to reorder anything.
  sim::Duration reorder_delay = sim::Duration::from_us(1);

  bool any() const { return drop > 0 || corrupt > 0 || duplicate > 0 || reorder > 0; }
  // EINVAL with a message naming the field when a probability is outside [0, 1] (or NaN) or
  // the delay is negative.
  std::optional<base::Error> validate() const;
};

// A transmit queue's limits; 0 means no limit. Occupancy includes the frame being serialized.
struct TxQueueLimit {
  std::size_t frames = 0;
  std::uint64_t bytes = 0;
};

struct LinkConfig {
  std::uint64_t line_rate_bps = 100'000'000'000;
  // About 5 ns per metre in fibre or twinax (velocity factor ~0.66); 10 ns ≈ a 2 m cable.
  sim::Duration propagation_delay = sim::Duration::from_ns(10);
  // The L3 MTU both MACs accept: kMinMtu..kMaxMtu (68..9216).
  std::uint32_t mtu = 1500;
  // Each port's transmit queue, until Port::set_tx_queue_limit changes it. 160 KiB: the Intel
  // 82599's transmit packet buffer (TXPBSIZE default). bytes must be 0 or hold a max frame.
  TxQueueLimit tx_queue{0, 160 * 1024};
  // Identifies the link in TraceDigest records (direction = trace_id * 2 + sending end).
  std::uint32_t trace_id = 0;

  // The longest frame a port accepts with `vlan_tags` tags.
  std::size_t max_frame_len(std::size_t vlan_tags) const { return mtu + kEthHeaderLen + kVlanTagLen * vlan_tags; }
  // EINVAL with a message naming the field and the allowed values.
  std::optional<base::Error> validate() const;
};

class Link;

// One end of a Link: a MAC's transmit side (queue + serializer toward the peer) and its
// receive side (an rx handler the peer's frames are delivered to).
class Port {
 public:
  // Takes ownership of a delivered frame. The NIC's RX FIFO (or a switch) plugs in here.
  using RxHandler = sim::InplaceFunction<void(FrameRef), 48>;
  // Called when this port's transmitter finishes a frame's slot (queue space may have freed).
  using TxDoneHandler = sim::InplaceFunction<void(), 48>;
  // Called after the link's carrier changed (both ports are told).
  using CarrierHandler = sim::InplaceFunction<void(bool up), 48>;

  // The result of transmit(): accepted, or refused with the reason (already counted).
  struct TxOutcome {
    bool accepted = false;
    DropReason reason = DropReason::kCount;  // meaningful only when !accepted
    explicit operator bool() const { return accepted; }
  };

  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  const std::string& name() const { return name_; }
  Link& link() { return *link_; }
  Port& peer();
  bool carrier() const;

  // Hands a frame to the transmitter. Refused frames are released and counted. Never
  // allocates in steady state, never throws.
  TxOutcome transmit(FrameRef frame);

  void set_rx_handler(RxHandler h) { rx_handler_ = std::move(h); }
  bool has_rx_handler() const { return static_cast<bool>(rx_handler_); }
  void set_tx_done_handler(TxDoneHandler h) { tx_done_handler_ = std::move(h); }
  void set_carrier_handler(CarrierHandler h) { carrier_handler_ = std::move(h); }

  // Limits of this port's transmit queue. EINVAL if `bytes` is non-zero but smaller than the
  // longest frame the link's MTU allows (that frame could never be sent).
  std::optional<base::Error> set_tx_queue_limit(const TxQueueLimit& limit);
  const TxQueueLimit& tx_queue_limit() const { return tx_limit_; }
  // Whether the transmit queue has room for one more frame of `len` bytes (padded to the
  // minimum frame as transmit() pads it). A MAC's DMA side asks this before it hands a frame
  // over, so that a full queue backs the sender up instead of dropping (tx_done_handler tells
  // when room frees).
  bool tx_queue_has_room(std::size_t len) const;
  // Occupancy of the transmit queue, including the frame being serialized.
  std::size_t tx_queue_frames() const { return occ_frames_; }
  std::uint64_t tx_queue_bytes() const { return occ_bytes_; }
  bool tx_busy() const { return tx_busy_; }

  // Fault injection on the frames this port sends. set_faults applies now; schedule_faults
  // applies at `at` (kPriorityControl: before datapath events of that instant). Both return
  // FaultConfig::validate()'s error and change nothing on error.
  std::optional<base::Error> set_faults(const FaultConfig& f);
  std::optional<base::Error> schedule_faults(sim::TimePoint at, const FaultConfig& f);
  const FaultConfig& faults() const { return faults_; }

  // The direction this port sends on, and the one it receives on (the peer's tx_stats()).
  const LinkDirectionStats& tx_stats() const { return stats_; }
  const LinkDirectionStats& rx_stats() const;

  // Taps see frames at this port: kTx when they start serialization here, kRx when they are
  // delivered here. A tap must outlive its attachment (remove_tap, or the link's destruction).
  void add_tap(FrameTap& tap, TapPoint where);
  void remove_tap(FrameTap& tap);

  // Frames of this direction serializing or propagating (not the ones waiting in the queue).
  std::size_t frames_on_wire() const { return flight_count_; }

 private:
  friend class Link;

  struct InFlight {
    FrameRef frame;
    sim::EventHandle arrival;
    bool fcs_error = false;
  };
  struct Tap {
    FrameTap* tap;
    TapPoint where;
  };

  Port(Link& link, int end, std::string name, const sim::RandomStreams& streams, std::string_view direction);

  void reserve_tx_queue();
  void reserve_flight(const FaultConfig& f);
  void drop(DropReason r, std::uint64_t frame_id);
  void start_next();
  void on_tx_end();
  void on_arrival(std::uint32_t slot);
  void deliver(FrameRef frame);
  void tap(TapPoint point, const FrameRef& f);
  // Packet tracing (sim/packet_trace.hpp): kLinkTx, kLinkRx, kDrop; called only with a tracer.
  void trace_tx_start(const FrameRef& f, sim::Duration slot);
  void trace_delivered(const FrameRef& f);
  void trace_drop(DropReason r, std::uint64_t frame_id);
  void lose_everything();  // carrier down
  void cancel_events();    // destruction
  std::uint64_t direction_id() const;

  Link* link_;
  int end_;
  std::string name_;

  RxHandler rx_handler_;
  TxDoneHandler tx_done_handler_;
  CarrierHandler carrier_handler_;
  std::vector<Tap> taps_;

  // --- transmit side (this port → peer) ---
  TxQueueLimit tx_limit_;
  detail::MoveRing<FrameRef> tx_queue_;
  std::size_t occ_frames_ = 0;
  std::uint64_t occ_bytes_ = 0;
  bool tx_busy_ = false;
  bool tx_current_counted_ = false;  // the frame in the slot counts in occ_* (copies do not)
  std::uint32_t tx_current_len_ = 0;
  sim::EventHandle tx_end_;
  FrameRef pending_duplicate_;

  FaultConfig faults_;
  sim::Rng drop_rng_;
  sim::Rng corrupt_rng_;
  sim::Rng duplicate_rng_;
  sim::Rng reorder_rng_;
  std::vector<FaultConfig> scheduled_faults_;
  std::vector<sim::EventHandle> control_events_;

  // Frames on the wire, by slot; free slots are reused (LIFO), so no allocation in steady state.
  std::vector<InFlight> flight_;
  std::vector<std::uint32_t> flight_free_;
  std::size_t flight_count_ = 0;

  LinkDirectionStats stats_;
};

class Link {
 public:
  // Asserts cfg.validate() succeeded (validate user input first). `name` names the link's
  // random streams, so it must be unique in the run. The queue and the digest must outlive the
  // link; the link must be destroyed before the FramePool its frames come from.
  Link(sim::EventQueue& queue, const sim::RandomStreams& streams, std::string name, const LinkConfig& cfg,
       sim::TraceDigest* digest = nullptr);
  // Cancels its pending events and releases every frame it holds.
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  const std::string& name() const { return name_; }
  const LinkConfig& config() const { return cfg_; }
  // End 0 is "a", end 1 is "b".
  Port& port(int end) {
    NICEMU_ASSERT(end == 0 || end == 1, "Link::port: end is 0 or 1");
    return ports_[static_cast<std::size_t>(end)];
  }
  const Port& port(int end) const {
    NICEMU_ASSERT(end == 0 || end == 1, "Link::port: end is 0 or 1");
    return ports_[static_cast<std::size_t>(end)];
  }
  // The direction sent by `from_end`.
  const LinkDirectionStats& stats(int from_end) const { return port(from_end).tx_stats(); }

  bool carrier() const { return carrier_; }
  // Takes effect now; see the file header for what happens to frames when it goes down.
  void set_carrier(bool up);
  // Takes effect at `at`, at kPriorityControl (a frame arriving at exactly `at` is lost).
  void schedule_carrier(sim::TimePoint at, bool up);

  // Adds `tap` as a kRx tap on both ports: everything both receivers got, stamped at delivery.
  void add_capture(FrameTap& tap);

  // Frames the link holds: queued, pending duplicates, serializing or propagating.
  std::size_t frames_held() const;

  sim::EventQueue& queue() { return queue_; }
  sim::TraceDigest* digest() { return digest_; }
  // Packet events of both directions go to `t` (nullptr: none); it must outlive the link.
  void set_packet_tracer(sim::PacketTracer* t) { tracer_ = t; }

 private:
  friend class Port;

  sim::EventQueue& queue_;
  std::string name_;
  LinkConfig cfg_;
  sim::TraceDigest* digest_;
  sim::PacketTracer* tracer_ = nullptr;
  bool carrier_ = true;
  std::array<Port, 2> ports_;
  std::vector<sim::EventHandle> control_events_;
};

}  // namespace nicemu::nic::hw
