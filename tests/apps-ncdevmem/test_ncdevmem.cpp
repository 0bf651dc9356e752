// apps/ncdevmem on two emulated hosts (a = 10.0.0.1, b = 10.0.0.2): the binding self-test (mode
// A) on the NIC profiles devmem.py would probe, the devmem RX server (mode B) against the
// pattern sender of devmem.py's check_rx, and the devmem TX client (mode C) against the sink of
// check_tx / check_tx_chunks; plus the failures ncdevmem must report (too few queues, a flow that
// misses the bound queue, a wrong pattern, a missing flag).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "driver_testbed.hpp"
#include "nicemu/ncdevmem/ncdevmem.hpp"
#include "nicemu/netstack/core/ethtool_core.hpp"

using namespace nicemu;
using nicemu::testing::DriverTestbed;
using nicemu::testing::load_profile;
namespace nc = nicemu::ncdevmem;
namespace core = nicemu::netstack::core;

namespace {

const netstack::wire::IpAddress kAddrA = DriverTestbed::addr(0);  // 10.0.0.1
const netstack::wire::IpAddress kAddrB = DriverTestbed::addr(1);  // 10.0.0.2

// ncdevmem's stderr, kept for the checks (and printed by Catch when a check fails).
struct Log {
  std::vector<std::string> lines;
  nc::LogFn fn() {
    return [this](const std::string& l) { lines.push_back(l); };
  }
  bool has(const std::string& part) const {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(part) != std::string::npos; });
  }
  std::string text() const {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
};

// The NIC's state that ncdevmem must leave as it found it.
struct NicState {
  core::EthtoolChannels channels;
  core::EthtoolRingParam rings;
  core::EthtoolRss rss;
  std::vector<core::NtupleRule> rules;
  core::TcpDataSplit hds_config = core::TcpDataSplit::kUnknown;

  static NicState of(app::Host& h) {
    NicState s;
    REQUIRE(core::ethtool_get_channels(h.nic(), s.channels) == 0);
    REQUIRE(core::ethtool_get_rings(h.nic(), s.rings) == 0);
    REQUIRE(core::ethtool_get_rss(h.nic(), 0, s.rss) == 0);
    REQUIRE(core::ethtool_get_ntuple_rules(h.nic(), s.rules) == 0);
    s.hds_config = h.nic().hds_config;
    return s;
  }
};

void check_same(const NicState& before, const NicState& after) {
  CHECK(after.channels == before.channels);
  CHECK(after.rings == before.rings);
  CHECK(after.rss.indir == before.rss.indir);
  CHECK(after.rules.empty());
  CHECK(after.hds_config == before.hds_config);
}

// Everything a run set up is undone on `h`: no binding alive, no dma-buf open, the NIC as before.
void check_undone(app::Host& h, const NicState& before) {
  CHECK(h.devmem().bindings_alive() == 0);
  CHECK(h.dmabufs().open_descriptors() == 0);
  check_same(before, NicState::of(h));
}

nc::Options server_options(Log& log, std::uint16_t port) {
  nc::Options o;
  o.listen = true;
  o.server_ip = kAddrB;
  o.port = port;
  o.validation = 7;
  o.log = log.fn();
  return o;
}

// Mode B on host b, devmem.py's sender on host a; runs until both are done (or `limit`).
struct RxRun {
  RxRun(DriverTestbed& tb, const nc::Options& o, nc::PeerOptions peer)
      : server(static_cast<nc::DevmemServer&>(tb.b().add_app(std::make_unique<nc::DevmemServer>(tb.b(), o)))),
        client(static_cast<nc::PeerPatternClient&>(
            tb.a().add_app(std::make_unique<nc::PeerPatternClient>(tb.a(), o, peer)))) {}
  bool run(DriverTestbed& tb, sim::Duration limit) {
    return tb.run_until([&](sim::TimePoint) { return server.done() && client.done(); }, limit);
  }
  nc::DevmemServer& server;
  nc::PeerPatternClient& client;
};

// Mode C on host a, devmem.py's sink on host b.
struct TxRun {
  TxRun(DriverTestbed& tb, const nc::Options& o)
      : sink(static_cast<nc::PeerSinkServer&>(tb.b().add_app(std::make_unique<nc::PeerSinkServer>(tb.b(), o)))),
        client(static_cast<nc::DevmemClient&>(tb.a().add_app(std::make_unique<nc::DevmemClient>(tb.a(), o)))) {}
  bool run(DriverTestbed& tb, sim::Duration limit) {
    return tb.run_until([&](sim::TimePoint) { return sink.done() && client.done(); }, limit);
  }
  nc::PeerSinkServer& sink;
  nc::DevmemClient& client;
};

}  // namespace

// ---- mode A --------------------------------------------------------------------------------------------

TEST_CASE(
    "ncdevmem mode A: the binding self-test passes on bnxt-thor with 4 and 8 queues and "
    "leaves the NIC as it was",
    "[apps][ncdevmem][integration]") {
  for (const std::uint32_t channels : {4u, 8u}) {
    INFO("channels " << channels);
    DriverTestbed tb(load_profile("bnxt-thor"), channels, /*split=*/false);
    app::Host& h = tb.b();
    const NicState before = NicState::of(h);
    Log log;
    nc::Options o;
    o.log = log.fn();
    const nc::ModeAResult r = nc::run_devmem_tests(h, o);
    INFO(log.text());
    CHECK(r.pass);
    CHECK(r.reason.empty());
    CHECK(r.start_queue == static_cast<int>(channels / 2));
    CHECK(r.num_queues == static_cast<int>(channels / 2));
    // The bind with header split off made a binding (id 1) that failed at the queue and went;
    // ids are cyclic, so the bind that had to succeed got id 2.
    CHECK(r.dmabuf_id == 2);
    REQUIRE(r.steps.size() == 8);
    for (const auto& s : r.steps) CHECK(s.ok);
    CHECK(r.steps[2].err == -EINVAL);  // unfilled queue entries: no id, no type
    CHECK(r.steps[4].err == -EINVAL);
    CHECK(r.steps[4].extack == "tcp-data-split is disabled");
    CHECK(r.steps[6].err == 0);
    CHECK(r.steps[7].err == -EINVAL);
    CHECK_THAT(r.steps[7].extack,
               Catch::Contains("too low for existing memory provider setting (" + std::to_string(channels) + ")"));
    // Cleanup: unbound (the queues restarted without the provider), rings, RSS and the dma-buf back.
    tb.run_for(sim::Duration::from_ms(100));
    CHECK(h.devmem().bindings_alive() == 0);
    CHECK(h.devmem().stats().bindings_created == 2);
    CHECK(h.devmem().stats().bindings_freed == 2);
    CHECK(h.dmabufs().open_descriptors() == 0);
    for (std::uint32_t q = 0; q < channels; ++q) CHECK(h.nic().rx_queue(q).mp_params.mp == nullptr);
    check_same(before, NicState::of(h));
  }
}

TEST_CASE("ncdevmem mode A: passes on gve-dqo, whose rings have no hds-thresh", "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("gve-dqo"), 4, /*split=*/false);
  app::Host& h = tb.b();
  const NicState before = NicState::of(h);
  Log log;
  nc::Options o;
  o.log = log.fn();
  const nc::ModeAResult r = nc::run_devmem_tests(h, o);
  INFO(log.text());
  CHECK(r.pass);
  REQUIRE(r.steps.size() == 8);
  CHECK(r.steps[1].err == 0);  // header split on without hds-thresh (gve has none: EOPNOTSUPP if sent)
  CHECK(r.steps[6].err == 0);
  CHECK(r.steps[7].err == -EINVAL);  // the channel change while bound is refused
  tb.run_for(sim::Duration::from_ms(100));
  check_undone(h, before);
}

TEST_CASE(
    "ncdevmem mode A: a NIC with one channel fails with 'number of device queues is too low' "
    "and touches nothing",
    "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 1, /*split=*/false);
  app::Host& h = tb.b();
  const NicState before = NicState::of(h);
  nc::Options o;
  const nc::ModeAResult r = nc::run_devmem_tests(h, o);
  CHECK_FALSE(r.pass);
  CHECK_THAT(r.reason, Catch::StartsWith("number of device queues is too low (1)"));
  CHECK(h.devmem().stats().bindings_created == 0);
  CHECK(h.dmabufs().open_descriptors() == 0);
  check_same(before, NicState::of(h));
}

// ---- mode B ----------------------------------------------------------------------------------------------

TEST_CASE(
    "ncdevmem mode B: 1 KiB of devmem.py's pattern arrives in the dma-buf, validates with "
    "-v 7, every token is freed one by one, and cleanup frees the binding",
    "[apps][ncdevmem][integration]") {
  for (const char* profile : {"bnxt-thor", "gve-dqo"}) {
    INFO(profile);
    DriverTestbed tb(load_profile(profile), 4, /*split=*/false);
    const NicState before = NicState::of(tb.b());
    Log log;
    RxRun run(tb, server_options(log, 5201), nc::PeerOptions{});
    CHECK(run.run(tb, sim::Duration::from_s(1)));
    INFO(log.text());
    const nc::Result& r = run.server.result();
    CHECK(r.pass());
    CHECK(r.reason.empty());
    CHECK(run.client.result().pass());
    CHECK(run.server.start_queue() == 3);  // one queue, the last
    CHECK(run.server.num_queues() == 1);
    CHECK(run.server.dmabuf_id() == 1);
    const nc::Counters& c = r.counters;
    CHECK(c.bytes_received == 1024);
    CHECK(c.dmabuf_bytes + c.linear_bytes == 1024);
    CHECK(c.dmabuf_bytes > 0);
    CHECK(c.validated_bytes == 1024);
    CHECK(c.validation_errors == 0);
    CHECK(c.frags >= 1);
    CHECK(c.tokens_freed == c.frags);
    CHECK(c.page_aligned_frags + c.non_page_aligned_frags == c.frags);
    CHECK(tb.b().nic().hw().stats().rx_dma_device_bytes >= c.dmabuf_bytes);  // landed in device memory
    CHECK(log.has("Added flow rule with ID"));
    CHECK(log.has("flow-type tcp4 dst-ip 10.0.0.2 dst-port 5201 queue 3"));
    // Everything undone; the binding goes once its pools have every buffer back.
    tb.run_for(sim::Duration::from_s(2));
    CHECK(tb.b().page_pools().detached_count() == 0);
    check_undone(tb.b(), before);
  }
}

TEST_CASE("ncdevmem mode B: 1 MiB with -c (the 5-tuple rule) arrives whole and validates",
          "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/false);
  Log log;
  nc::Options o = server_options(log, 5202);
  o.client_ip = kAddrA;  // the peer binds 10.0.0.1:5202, as socat's bind=
  nc::PeerOptions peer;
  peer.bytes = 1u << 20;
  RxRun run(tb, o, peer);
  CHECK(run.run(tb, sim::Duration::from_s(1)));
  INFO(log.text());
  const nc::Result& r = run.server.result();
  CHECK(r.pass());
  const nc::Counters& c = r.counters;
  CHECK(c.bytes_received == 1u << 20);
  CHECK(c.validated_bytes == 1u << 20);
  CHECK(c.validation_errors == 0);
  CHECK(c.tokens_freed == c.frags);
  CHECK(c.frags > 100);  // MTU-sized frags, one token each
  CHECK(run.client.result().counters.bytes_sent == 1u << 20);
  CHECK(log.has("flow-type tcp4 src-ip 10.0.0.1 dst-ip 10.0.0.2 src-port 5202 dst-port 5202 queue 3"));
  CHECK(log.has("Got connection from 10.0.0.1:5202"));
  tb.run_for(sim::Duration::from_s(2));
  CHECK(tb.b().devmem().bindings_alive() == 0);
  CHECK(tb.b().devmem().stats().bindings_freed == 1);
}

TEST_CASE(
    "ncdevmem mode B: without the ntuple rule the flow lands on an RSS queue without the "
    "binding and the server fails with 'flow steering error'",
    "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/false);
  const NicState before = NicState::of(tb.b());
  Log log;
  nc::Options o = server_options(log, 5203);
  o.flow_steering = false;
  RxRun run(tb, o, nc::PeerOptions{});
  tb.run_until([&](sim::TimePoint) { return run.server.done(); }, sim::Duration::from_s(1));
  INFO(log.text());
  const nc::Result& r = run.server.result();
  REQUIRE(r.finished());
  CHECK_FALSE(r.pass());
  CHECK_THAT(r.reason, Catch::StartsWith("flow steering error"));
  CHECK(r.counters.frags == 0);
  CHECK(r.counters.bytes_received > 0);  // readable bytes, copied, no devmem cmsg
  CHECK_FALSE(log.has("Added flow rule"));
  tb.run_for(sim::Duration::from_s(2));
  CHECK(tb.b().devmem().bindings_alive() == 0);
  check_same(before, NicState::of(tb.b()));
}

TEST_CASE(
    "ncdevmem mode B: a flow that lands on a queue bound to another dma-buf fails with 'received "
    "on wrong dmabuf_id: flow steering error'",
    "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/true);
  app::Host& h = tb.b();
  // Another program's binding on the RSS queues 0..2 (id 1); ncdevmem binds queue 3 (id 2).
  const int other_fd = h.dmabufs().create(1u << 22, netmem::MemoryPlacement::kDeviceMemory);
  REQUIRE(other_fd >= 0);
  auto other = std::make_unique<providers::dmabuf::NetdevNlSession>(h.devmem(), h.netns());
  providers::dmabuf::BindRxRequest req;
  req.ifindex = static_cast<std::uint32_t>(h.nic().ifindex());
  req.fd = static_cast<std::uint32_t>(other_fd);
  for (std::uint32_t q = 0; q < 3; ++q) req.queues.push_back({q, providers::dmabuf::kNetdevQueueTypeRx});
  REQUIRE(other->bind_rx(req) == 1);
  Log log;
  nc::Options o = server_options(log, 5207);
  o.flow_steering = false;  // RSS spreads the flow over 0..2
  RxRun run(tb, o, nc::PeerOptions{});
  tb.run_until([&](sim::TimePoint) { return run.server.done(); }, sim::Duration::from_s(1));
  INFO(log.text());
  const nc::Result& r = run.server.result();
  REQUIRE(r.finished());
  CHECK_FALSE(r.pass());
  CHECK(run.server.dmabuf_id() == 2);
  CHECK(r.reason == "received on wrong dmabuf_id: flow steering error (dmabuf_id 1, bound 2)");
  CHECK(r.counters.frags == 1);
  CHECK(r.counters.tokens_freed == 0);  // failed before SO_DEVMEM_DONTNEED
  other.reset();
  (void)h.dmabufs().close(other_fd);
  tb.run_for(sim::Duration::from_s(2));
  CHECK(h.devmem().bindings_alive() == 0);
}

TEST_CASE(
    "ncdevmem mode B: a run stopped before the client came fails with a reason and still "
    "undoes its setup",
    "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/false);
  const NicState before = NicState::of(tb.b());
  Log log;
  auto& srv = static_cast<nc::DevmemServer&>(
      tb.b().add_app(std::make_unique<nc::DevmemServer>(tb.b(), server_options(log, 5208))));
  tb.run_for(sim::Duration::from_ms(10));
  tb.b().kick();
  CHECK_FALSE(srv.done());
  CHECK(srv.dmabuf_id() == 1);
  CHECK(srv.flow_rules().size() == 1);
  CHECK(tb.b().devmem().bindings_alive() == 1);
  tb.b().shutdown();  // stop() on every app
  CHECK(srv.result().finished());
  CHECK(srv.result().reason == "stopped before the client exited");
  CHECK(srv.flow_rules().empty());
  tb.run_for(sim::Duration::from_s(2));
  check_undone(tb.b(), before);
}

TEST_CASE("ncdevmem mode B: a sender of the wrong pattern fails validation after 21 wrong bytes",
          "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/false);
  Log log;
  nc::PeerOptions peer;
  peer.modulus = 8;  // `-v 7` on the server: byte 7 is '\n' here, 7 there
  RxRun run(tb, server_options(log, 5204), peer);
  tb.run_until([&](sim::TimePoint) { return run.server.done(); }, sim::Duration::from_s(1));
  const nc::Result& r = run.server.result();
  REQUIRE(r.finished());
  CHECK_FALSE(r.pass());
  CHECK(r.reason == "validation failed");
  CHECK(r.counters.validation_errors == nc::kMaxValidationErrors + 1);
  CHECK(log.has("Failed validation: expected=10, actual=7, index=6"));
  tb.run_for(sim::Duration::from_s(2));
  CHECK(tb.b().devmem().bindings_alive() == 0);
}

TEST_CASE("ncdevmem mode B: without -p the server fails with 'Missing -p argument' before any setup",
          "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/false);
  Log log;
  nc::Options o = server_options(log, 0);
  auto& srv = static_cast<nc::DevmemServer&>(tb.b().add_app(std::make_unique<nc::DevmemServer>(tb.b(), o)));
  tb.run_until([&](sim::TimePoint) { return srv.done(); }, sim::Duration::from_ms(1));
  CHECK(srv.result().finished());
  CHECK(srv.result().reason == "Missing -p argument");
  CHECK(tb.b().devmem().stats().bindings_created == 0);
  CHECK(tb.b().dmabufs().open_descriptors() == 0);
}

// ---- mode C ----------------------------------------------------------------------------------------------

TEST_CASE(
    "ncdevmem mode C: the lines hello and world go out of the dma-buf one sendmsg each with "
    "a completion each, with and without -z 3, and the peer gets exactly hello newline world",
    "[apps][ncdevmem][integration]") {
  for (const std::size_t chunk : {std::size_t{0}, std::size_t{3}}) {
    INFO("-z " << chunk);
    DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/false);
    Log log;
    nc::Options o;
    o.server_ip = kAddrB;
    o.port = 5205;
    o.max_chunk = chunk;
    o.tx_lines = nc::split_lines("hello\nworld");
    o.log = log.fn();
    REQUIRE(o.tx_lines == std::vector<std::string>{"hello\n", "world"});
    TxRun run(tb, o);
    CHECK(run.run(tb, sim::Duration::from_s(1)));
    INFO(log.text());
    CHECK(run.client.result().pass());
    CHECK(run.client.result().reason.empty());
    CHECK(run.sink.result().pass());
    CHECK(run.sink.received() == "hello\nworld");
    const nc::Counters& c = run.client.result().counters;
    CHECK(c.lines_sent == 2);
    CHECK(c.bytes_sent == 11);
    CHECK(c.completions == 2);
    CHECK(c.completions_copied == 0);  // sent from the dma-buf, not copied
    CHECK(run.client.tx_dmabuf_id() == 1);
    CHECK(log.has("tx complete [0,0]"));
    CHECK(log.has("tx complete [1,1]"));
    CHECK(tb.a().nic().hw().stats().tx_dma_device_bytes >= 11);
    tb.run_for(sim::Duration::from_ms(100));
    CHECK(tb.a().devmem().bindings_alive() == 0);
    CHECK(tb.a().dmabufs().open_descriptors() == 0);
  }
}

TEST_CASE("ncdevmem mode C: a line that needs more than 1024 iovecs of -z bytes fails before sending",
          "[apps][ncdevmem][integration]") {
  DriverTestbed tb(load_profile("bnxt-thor"), 4, /*split=*/false);
  nc::Options o;
  o.server_ip = kAddrB;
  o.port = 5206;
  o.max_chunk = 1;
  o.tx_lines = {std::string(1025, 'x')};
  TxRun run(tb, o);
  tb.run_until([&](sim::TimePoint) { return run.client.done(); }, sim::Duration::from_s(1));
  CHECK_FALSE(run.client.result().pass());
  CHECK(run.client.result().reason == "can't partition 1025 bytes into maximum of 1024 chunks");
  CHECK(run.client.result().counters.bytes_sent == 0);
  tb.run_for(sim::Duration::from_ms(100));
  CHECK(tb.a().devmem().bindings_alive() == 0);
}
