// A packet tracer (sim/packet_trace.hpp) for tests: records every event with its time (the bytes
// span dropped, its size kept), hands out software ids from kSoftwareIdBase + 1, and tells the
// time a test sets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nicemu/sim/packet_trace.hpp"

namespace nicemu::testing {

class RecordingTracer final : public sim::PacketTracer {
 public:
  struct Record {
    sim::TimePoint t;
    sim::PacketEvent e;     // e.bytes is empty (the span is valid during the call only)
    std::size_t bytes = 0;  // e.bytes.size() at the call
  };

  void on_event(sim::TimePoint t, const sim::PacketEvent& e) override {
    Record r{t, e, e.bytes.size()};
    r.e.bytes = {};
    events.push_back(r);
  }
  std::uint64_t new_packet_id() override { return sim::kSoftwareIdBase + ++issued; }
  sim::TimePoint now() const override { return clock; }

  // The events of one stage, in order.
  std::vector<Record> of(sim::PacketStage stage) const {
    std::vector<Record> v;
    for (const Record& r : events) {
      if (r.e.stage == stage) v.push_back(r);
    }
    return v;
  }

  std::vector<Record> events;
  std::uint64_t issued = 0;
  sim::TimePoint clock;
};

}  // namespace nicemu::testing
