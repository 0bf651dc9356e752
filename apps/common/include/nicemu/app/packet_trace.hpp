// nicemu/app/packet_trace.hpp — `nicemu run --trace`: the packet events of sim/packet_trace.hpp
// written as Chrome trace events (TraceWriter), next to the control operations the runner writes.
//
// What is traced: --trace-packets N (Options::max_packets) packets from the start of the run:
//   frames 1..N (frame ids count every frame the run makes, both directions, acknowledgements
//   included) and the first N packets born in a host's software (TCP segments, ARP), with the
//   frames those become. Queue-level events (doorbells, interrupts, NAPI polls) are written while
//   traced packets are moving: until `tail` after the last traced packet event. So a long run
//   costs file space only for its start; the rest of the run pays a few tests per hook.
// Tracks (trace_ids in trace_writer.hpp): a process per host — CPU c's NAPI polls (cpu_tid) and
//   the packets it handled in softirq (cpu_packets_tid), stack work outside softirq (kTidStack),
//   the NIC's port with its RX FIFO, parser and steering (port_tid), each RX and TX queue; a
//   process for the links (a track per direction: serialization, faults) and one for the switch
//   (a track per port: frames delivered to it).
// Events: each stage is a complete event ("X") named after the stage (to_string(PacketStage)),
//   category "packet" (queue-level ones "queue"), with the event's fields as args ("packet" is
//   the trace id; "dur_ns" a stage's modelled duration). Slices last 1 ns except the link's
//   serialization and a NAPI poll's CPU time, which are the real spans of tracks that serve one
//   thing at a time, so slices on a track never overlap partially. Flow events (name "packet",
//   id = the trace id) join one packet's slices: flow_start at its first, flow_end when it ends
//   (dropped, merged by GRO into another skb, queued in order on its socket), flow_step between.
//   A software-born packet's flow (TCP -> dev_queue_xmit -> ndo_start_xmit) ends at the link_tx
//   of the frame it became, where that frame's flow (id = frame id, from tx_tso_segment on)
//   continues; link_tx's "skb" arg names the software id. The two are matched by the headers
//   both stages see (addresses, IPv4 id, ports, sequence and acknowledgement numbers), which a
//   TSO skb shares with its first segment (the later segments' flows start at their link_tx).
// Cost: no allocation per event (fixed tables sized at construction; the writer's buffer);
//   deterministic: the output is a function of the event order, which is the run's.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nicemu/app/trace_writer.hpp"
#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/packet_trace.hpp"

namespace nicemu::app {

class PacketTraceRecorder {
 public:
  struct Options {
    std::uint64_t max_packets = 2000;  // --trace-packets
    // Queue-level events are written until this long after the last traced packet event.
    sim::Duration tail = sim::Duration::from_us(20);
  };
  // Where frames delivered at one end of a link show: the host's port track, or the switch port.
  struct Track {
    std::uint32_t pid = 0;
    std::uint32_t tid = 0;
  };

  // `writer` must be open; it and `clock` must outlive the recorder.
  PacketTraceRecorder(TraceWriter& writer, const sim::EventQueue& clock, Options options);
  ~PacketTraceRecorder();
  PacketTraceRecorder(const PacketTraceRecorder&) = delete;
  PacketTraceRecorder& operator=(const PacketTraceRecorder&) = delete;

  // Names host `index`'s tracks (process trace_ids::host_pid(index)) and returns the tracer to
  // attach to it (Host::set_packet_tracer). `rx_queues`/`tx_queues`: the queue tracks to name.
  sim::PacketTracer& add_host(std::uint32_t index, std::string_view name, std::uint32_t cpus, std::uint32_t rx_queues,
                              std::uint32_t tx_queues);
  // Names link `index`'s tracks (its LinkConfig::trace_id must be `index`); `ends[e]` is where
  // frames delivered at end e show. Call for every link, in order, before attaching links().
  void add_link(std::uint32_t index, std::string_view name, std::array<std::string, 2> end_names,
                std::array<Track, 2> ends);
  // Names the switch's process and `ports` port tracks.
  void add_switch(std::string_view name, std::uint32_t ports);
  // The tracer every link reports to (Link::set_packet_tracer).
  sim::PacketTracer& links();

  std::uint64_t packets_traced() const { return packets_; }  // flows started
  std::uint64_t events_written() const { return events_; }   // slices written
  std::uint64_t software_ids_issued() const { return issued_; }
  const Options& options() const { return options_; }

 private:
  class Source;
  struct IdState {
    std::uint64_t id = 0;
    std::uint64_t alias = 0;  // a frame: the software id of the skb it was made from
    bool started = false;     // its flow has begun
  };
  struct Pending {  // a traced skb handed to a driver, waiting to be seen on a wire
    std::uint64_t key = 0;
    std::uint64_t id = 0;
  };

  void record(Source& src, sim::TimePoint t, const sim::PacketEvent& e);
  std::uint64_t new_packet_id();
  bool traced(std::uint64_t id);
  IdState& state(std::uint64_t id);  // claims the slot for `id`
  Track track_of(const Source& src, const sim::PacketEvent& e, sim::PacketStage stage) const;
  void write_slice(Track tr, sim::TimePoint t, const sim::PacketEvent& e, std::uint64_t skb_alias);
  void write_flow(Track tr, std::uint64_t ts_ns, std::uint64_t id, bool end);

  TraceWriter& w_;
  const sim::EventQueue& clock_;
  Options options_;
  std::vector<std::unique_ptr<Source>> sources_;  // [0]: the links
  std::vector<std::array<Track, 2>> link_ends_;
  std::vector<IdState> ids_;      // direct-mapped by id
  std::vector<Pending> pending_;  // direct-mapped by header key
  std::uint64_t pending_count_ = 0;
  std::uint64_t issued_ = 0;
  std::uint64_t packets_ = 0;
  std::uint64_t events_ = 0;
  sim::TimePoint window_end_;
};

// The key packet_trace matches a transmitted skb to its frame by: a hash of the addresses, IPv4
// id, protocol, ports, sequence and acknowledgement numbers (ARP: its body) read from `frame`
// (Ethernet header first); no lengths, so a TSO skb and its first segment agree. 0 when the
// bytes are not an IP or ARP packet.
std::uint64_t packet_header_key(std::span<const std::byte> frame);

}  // namespace nicemu::app
