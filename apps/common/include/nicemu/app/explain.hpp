// nicemu/app/explain.hpp — `nicemu run --explain N`: the journey of the first N packets whose
// payload the NIC wrote into device memory (a devmem flow), stage by stage with simulated
// timestamps, in words a reader can follow, each stage naming the file that implements it.
//
// Models nothing: a sim::PacketTracer that listens to every host and link of a run and keeps,
// for each frame on the wire, its stages (link, RX FIFO, parser, steering, header split, each
// DMA write with its address and memory, completion); a frame whose payload went to device
// memory is followed (the first N such frames) through the interrupt and the NAPI poll of its
// queue, the skb the driver built, GRO, IP, TCP and the socket queue (under the id of the GRO
// batch it joined, if any), then — matched by the DMA addresses of its payload buffers — the
// SCM_DEVMEM_DMABUF messages recvmsg made of them, the SO_DEVMEM_DONTNEED that returned each
// token, and the driver posting each net_iov to the ring again (refill).
// Cost: explain runs only; memory grows with the frames in flight until N are chosen.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/packet_trace.hpp"

namespace nicemu::app {

class ExplainTracer {
 public:
  ExplainTracer(const sim::EventQueue& clock, std::uint32_t packets) : clock_(clock), want_(packets) {}
  ExplainTracer(const ExplainTracer&) = delete;
  ExplainTracer& operator=(const ExplainTracer&) = delete;

  // The tracer a host (`index`, `name`) or the links report to; each event is kept with its
  // source, so queue-level events (interrupts, polls, refills) are matched on the right host.
  sim::PacketTracer& host(std::uint32_t index, const std::string& name);
  sim::PacketTracer& links() { return links_; }

  // The followed journeys as text (empty when no frame's payload reached device memory).
  std::string report() const;

 private:
  struct Line {
    int host = -1;  // -1: the links
    sim::TimePoint t;
    sim::PacketStage stage;
    std::string text;
  };
  struct Journey {
    std::vector<Line> lines;
    std::string tuple;                 // from the parser's view of the headers
    std::vector<std::uint64_t> pages;  // DMA addresses (page) of its payload buffers in device memory
    bool followed = false;
    int rx_host = -1;                                    // where its completion was written
    std::uint32_t wait_queue = sim::PacketEvent::kNone;  // completed: that queue's irq and polls
    bool wait_poll_end = false;                          // skb built: the poll's own line comes next
  };

  // One source of events: follows frames from the wire only (no software packet ids).
  class Source final : public sim::PacketTracer {
   public:
    Source(ExplainTracer& x, int host) : x_(x), host_(host) {}
    void on_event(sim::TimePoint t, const sim::PacketEvent& e) override { x_.on_event(host_, t, e); }
    std::uint64_t new_packet_id() override { return 0; }
    sim::TimePoint now() const override { return x_.clock_.now(); }

   private:
    ExplainTracer& x_;
    int host_;
  };

  void on_event(int host, sim::TimePoint t, const sim::PacketEvent& e);
  void add(Journey& j, int host, sim::TimePoint t, const sim::PacketEvent& e, std::string text);
  void drop_candidate(std::uint64_t id);
  Journey* journey_of_page(std::uint64_t addr, std::uint64_t* id);

  const sim::EventQueue& clock_;
  std::uint32_t want_;
  Source links_{*this, -1};
  std::vector<std::unique_ptr<Source>> hosts_;
  std::vector<std::string> host_names_;
  std::map<std::uint64_t, Journey> journeys_;                // candidates and followed, by frame id
  std::vector<std::uint64_t> order_;                         // followed frame ids, in choice order
  std::map<std::uint64_t, std::vector<std::uint64_t>> into_;  // GRO head id -> followed ids merged into it
};

}  // namespace nicemu::app
