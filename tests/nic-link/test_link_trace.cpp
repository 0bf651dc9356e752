// Packet tracing at the link (sim/packet_trace.hpp): link_tx when a frame's first bit leaves,
// link_rx when it is delivered, drops with their reason, all named by the frame's id; a link
// with a tracer times frames exactly as one without.
#include <catch2/catch.hpp>

#include "link_fixtures.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "recording_tracer.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;
using nicemu::testing::at_ps;
using nicemu::testing::mac;
using nicemu::testing::make_frame;
using nicemu::testing::Receiver;
using nicemu::testing::RecordingTracer;
using sim::PacketStage;

namespace {

struct Rig {
  explicit Rig(std::uint32_t trace_id) : streams(1), link(q, streams, "l0", config(trace_id)) {}
  static LinkConfig config(std::uint32_t trace_id) {
    LinkConfig c;
    c.propagation_delay = 50_ns;
    c.trace_id = trace_id;
    return c;
  }
  FramePool pool;
  sim::EventQueue q;
  sim::RandomStreams streams;
  Link link;
};

}  // namespace

TEST_CASE("link: a packet tracer sees link_tx at the first bit and link_rx at delivery, named by the frame id",
          "[nic][hw][link][unit]") {
  Rig r(3);
  RecordingTracer tr;
  r.link.set_packet_tracer(&tr);
  Receiver rx(r.q, r.link.port(1));
  FrameRef f = make_frame(r.pool, 1514, mac(2), mac(1));
  const std::uint64_t id = f.id();
  REQUIRE(r.link.port(0).transmit(std::move(f)));
  r.q.run_until_idle();
  REQUIRE(rx.frames.size() == 1);
  CHECK(rx.frames[0].t == at_ps(123'040 + 50'000));  // as without a tracer
  REQUIRE(tr.events.size() == 2);
  const auto& tx = tr.events[0];
  CHECK(tx.e.stage == PacketStage::kLinkTx);
  CHECK(tx.e.id == id);
  CHECK(tx.t == at_ps(0));
  CHECK(tx.e.len == 1514);
  CHECK(tx.e.port == 3 * 2 + 0);  // link trace id 3, sent by end a
  CHECK(tx.e.dur == sim::Duration::from_ps(123'040));
  CHECK(tx.bytes == 1514);
  const auto& del = tr.events[1];
  CHECK(del.e.stage == PacketStage::kLinkRx);
  CHECK(del.e.id == id);
  CHECK(del.t == rx.frames[0].t);
  CHECK(del.e.port == 3 * 2 + 0);

  // The other direction names end b.
  REQUIRE(r.link.port(1).transmit(make_frame(r.pool, 60, mac(1), mac(2))));
  r.q.run_until_idle();
  REQUIRE(tr.events.size() == 4);
  CHECK(tr.events[2].e.stage == PacketStage::kLinkTx);
  CHECK(tr.events[2].e.port == 3 * 2 + 1);
  CHECK(tr.events[2].e.len == 60);
  CHECK(tr.events[3].e.stage == PacketStage::kDrop);  // nobody receives at end a
  CHECK(std::string(tr.events[3].e.note) == "no-receiver");
}

TEST_CASE("link: a packet tracer sees a fault drop and a refused frame as drop events with the reason",
          "[nic][hw][link][unit]") {
  Rig r(0);
  RecordingTracer tr;
  r.link.set_packet_tracer(&tr);
  Receiver rx(r.q, r.link.port(1));
  FaultConfig drop_all;
  drop_all.drop = 1.0;
  REQUIRE_FALSE(r.link.port(0).set_faults(drop_all).has_value());
  FrameRef f = make_frame(r.pool, 1000, mac(2), mac(1));
  const std::uint64_t lost = f.id();
  REQUIRE(r.link.port(0).transmit(std::move(f)));
  FrameRef runt = make_frame(r.pool, 14, mac(2), mac(1));
  runt.set_len(10);
  const std::uint64_t refused = runt.id();
  CHECK_FALSE(r.link.port(0).transmit(std::move(runt)));
  r.q.run_until_idle();
  CHECK(rx.frames.empty());
  const auto drops = tr.of(PacketStage::kDrop);
  REQUIRE(drops.size() == 2);
  CHECK(drops[0].e.id == lost);
  CHECK(std::string(drops[0].e.note) == "fault-drop");
  CHECK(drops[0].e.at == PacketStage::kLinkTx);
  CHECK(drops[1].e.id == refused);
  CHECK(std::string(drops[1].e.note) == "runt");
  CHECK(tr.of(PacketStage::kLinkRx).empty());

  // Detached: nothing more is reported.
  r.link.set_packet_tracer(nullptr);
  REQUIRE(r.link.port(0).transmit(make_frame(r.pool, 1000, mac(2), mac(1))));
  r.q.run_until_idle();
  CHECK(tr.events.size() == 3);
}
