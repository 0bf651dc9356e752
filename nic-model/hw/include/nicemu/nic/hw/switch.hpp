// nicemu/nic/hw/switch.hpp — a store-and-forward Ethernet switch for topologies of more than
// two hosts.
//
// Models: N ports, each the switch's end of a Link (so each output port is that link's
//   transmitter: a serial server at the link's line rate, whose transmit queue is the port's
//   output buffer with a byte limit). A frame is handled only once it has been received whole
//   (the link delivers at the end of its slot), then after `forwarding_latency`: the source MAC
//   is learned (source → ingress port) on receipt; the destination is looked up when the
//   latency has passed; a known unicast destination goes to its port, an unknown, multicast or
//   broadcast destination is flooded to every port but the ingress; a destination learned on
//   the ingress port is filtered. Output-buffer overflow and every other loss is counted per
//   port with a reason. MAC entries age out after `mac_aging` without traffic from that source.
// Not modelled: VLANs (tags are forwarded untouched, one broadcast domain), STP (a loop in the
//   topology storms, as it would without STP), IGMP/MLD snooping (multicast floods), cut-through
//   forwarding, a shared buffer pool between ports, PFC/pause, per-priority queues, a lookup
//   pipeline that could limit the frame rate (forwarding is a fixed latency per frame).
// References: IEEE 802.1Q §8.7 (learning process), §8.8 (filtering database, ageing time
//   default 300 s), §8.6.3 (frames are not sent back out of their reception port).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nicemu/base/result.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/nic/hw/frame.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/trace_digest.hpp"

namespace nicemu::nic::hw {

struct SwitchConfig {
  // Receipt of the last bit to the frame entering its output buffer. 500 ns: a round value in
  // the range data-centre switch vendors quote for port-to-port latency (hundreds of ns); not
  // fitted to any measurement.
  sim::Duration forwarding_latency = sim::Duration::from_ns(500);
  // Per output port. 512 KiB: e.g. a 64 MB shared-buffer 100G switch ASIC divided over 128
  // ports (an order of magnitude, not a specific product). Must hold one max-size frame of
  // every attached link (attach() checks).
  std::uint64_t output_buffer_bytes = 512 * 1024;
  // Filtering-database size; sources beyond it are not learned (their frames still forward).
  std::size_t mac_table_entries = 8192;
  sim::Duration mac_aging = sim::Duration::from_s(300);  // IEEE 802.1Q default ageing time
  std::uint32_t trace_id = 0;                            // identifies the switch in TraceDigest records

  std::optional<base::Error> validate() const;
};

enum class SwitchDrop : std::uint8_t {
  kFiltered,           // ingress: destination is behind the ingress port
  kMalformed,          // ingress: the frame has no readable Ethernet header
  kOutputBufferFull,   // egress: the output buffer's byte limit
  kEgressCarrierDown,  // egress: the output link is down
  kEgressMtu,          // egress: the frame is longer than the output link's MTU allows
  kNoFrameBuffer,      // egress: no buffer for a flooded copy (frame pool at its limit)
  kCount
};
const char* to_string(SwitchDrop r);

struct SwitchPortStats {
  std::uint64_t rx_frames = 0;  // received whole on this port
  std::uint64_t rx_bytes = 0;
  std::uint64_t forwarded = 0;  // received here, sent to one known port
  std::uint64_t flooded = 0;    // received here, flooded
  std::uint64_t tx_frames = 0;  // accepted into this port's output buffer
  std::uint64_t tx_bytes = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(SwitchDrop::kCount)> dropped{};

  std::uint64_t drops(SwitchDrop r) const { return dropped[static_cast<std::size_t>(r)]; }
  friend bool operator==(const SwitchPortStats&, const SwitchPortStats&) = default;
};

struct SwitchStats {
  std::uint64_t learned = 0;     // new filtering-database entries
  std::uint64_t moved = 0;       // a known source seen on another port
  std::uint64_t aged_out = 0;    // entries found expired at lookup
  std::uint64_t table_full = 0;  // sources not learned because the table was full
};

class Switch {
 public:
  // Asserts cfg.validate() succeeded. The queue and the digest must outlive the switch, and
  // the switch must be destroyed before the links it is attached to.
  Switch(sim::EventQueue& queue, std::string name, const SwitchConfig& cfg, sim::TraceDigest* digest = nullptr);
  // Cancels its event, releases the frames in its pipeline and detaches from its ports.
  ~Switch();
  Switch(const Switch&) = delete;
  Switch& operator=(const Switch&) = delete;

  // Makes `port` (the switch's end of a link) the next switch port and returns its index. The
  // port must have no rx handler yet (asserted). EINVAL if the output buffer cannot hold one
  // max-size frame of that link.
  base::Result<std::size_t, base::Error> attach(Port& port);

  std::size_t port_count() const { return ports_.size(); }
  Port& port(std::size_t i) {
    NICEMU_ASSERT(i < ports_.size(), "Switch::port: no such port");
    return *ports_[i];
  }
  const SwitchPortStats& port_stats(std::size_t i) const {
    NICEMU_ASSERT(i < stats_.size(), "Switch::port_stats: no such port");
    return stats_[i];
  }
  const SwitchStats& stats() const { return totals_; }
  // The port a unicast MAC was learned on (expired entries are not reported).
  std::optional<std::size_t> lookup(const netstack::wire::MacAddress& mac) const;
  std::size_t mac_table_size() const { return table_.size(); }
  // Frames received and waiting out the forwarding latency.
  std::size_t frames_in_pipeline() const { return pipeline_.size(); }
  const std::string& name() const { return name_; }
  const SwitchConfig& config() const { return cfg_; }

 private:
  struct Entry {
    std::size_t port;
    sim::TimePoint last_seen;
  };
  struct Pending {
    FrameRef frame;
    std::uint32_t in_port = 0;
    sim::TimePoint ready;
  };

  void on_receive(std::size_t in_port, FrameRef frame);
  void on_forward();
  void learn(const netstack::wire::MacAddress& src, std::size_t port);
  std::optional<std::size_t> find(const netstack::wire::MacAddress& mac);  // ages out
  void egress(std::size_t out_port, FrameRef frame);
  void count_drop(std::size_t port, SwitchDrop r, std::uint64_t frame_id);

  sim::EventQueue& queue_;
  std::string name_;
  SwitchConfig cfg_;
  sim::TraceDigest* digest_;
  std::vector<Port*> ports_;
  std::vector<SwitchPortStats> stats_;
  SwitchStats totals_;
  // Ordered, so nothing depends on hashing; lookups are O(log n) in the number of stations.
  std::map<netstack::wire::MacAddress, Entry> table_;
  // Ready times never decrease (receipts are in time order, the latency is fixed), so one FIFO
  // and one pending event for its head suffice.
  detail::MoveRing<Pending> pipeline_;
  std::size_t pipeline_reserved_ = 0;
  sim::EventHandle forward_event_;
};

}  // namespace nicemu::nic::hw
