// Scenario files (apps/common scenario.hpp): the built-in default and the shipped scenarios
// load; every part of the format comes through as written; each kind of mistake - syntax,
// unknown key, duplicate key, missing key, wrong type, bad value, a reference to something that
// does not exist - is an error naming the file, the line and the key; all errors come at once;
// --set overrides change the tree before it is read and are checked like the file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "nicemu/app/drop_reasons.hpp"
#include "nicemu/app/scenario.hpp"
#include "config_text.hpp"

using namespace nicemu;
using namespace nicemu::app;
using namespace nicemu::sim::literals;
namespace hw = nicemu::nic::hw;
using netstack::wire::IpAddress;

using nicemu::testing::edit;
using nicemu::testing::line_of;
using nicemu::testing::read_text;

namespace {

const std::string kConfigs = NICEMU_CONFIGS_DIR;
const std::string kSource = "configs/scenarios/test.yaml";

ScenarioOptions opts(std::vector<Override> overrides = {}) {
  ScenarioOptions o;
  o.configs_dir = kConfigs;
  o.overrides = std::move(overrides);
  return o;
}

ScenarioResult parse(const std::string& text, std::vector<Override> overrides = {}) {
  return parse_scenario(text, kSource, opts(std::move(overrides)));
}

Scenario parse_ok(const std::string& text, std::vector<Override> overrides = {}) {
  ScenarioResult r = parse(text, std::move(overrides));
  if (!r) FAIL(r.error().to_string());
  return std::move(r).value();
}

ConfigError only_error(const ScenarioResult& r) {
  REQUIRE_FALSE(r.has_value());
  INFO(r.error().to_string());
  REQUIRE(r.error().errors.size() == 1);
  return r.error().errors[0];
}

// Every part of the format once.
const std::string kFull = R"(name: full
description: "every key once"
seed: 42
hosts:
  a:
    cpus: {count: 2, ghz: 2.5}
    nic:
      profile: bnxt-thor
      channels: {combined: 4, tx: 0}
      rings: {rx: 1024, tx: 1024, rx-buf-len: 4KiB, tcp-data-split: enabled, hds-thresh: 0}
      rss:
        key: "6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:be:ac:01:fa"
        indir: {weights: [1, 1, 2], start: 1}
        hash: {tcp4: sdfn, udp4: sd, ip6: none}
      rss-contexts:
        - {indir: {equal: 2, start: 2}}
      ntuple:
        - {flow-type: tcp4, src-ip: 10.0.0.0/24, dst-port: 5201, action: queue 2, loc: 5}
        - {flow-type: udp4, dst-ip: 10.0.0.1, dst-ip-mask: 255.255.0.0, src-port: 53, src-port-mask: 255, action: drop}
        - {flow-type: tcp6, dst-ip: "fd00::1/64", action: context 1 queue 1}
      coalesce: {rx-usecs: 16, rx-frames: 64}
    addresses: [10.0.0.1/24, "fd00::1/64"]
  b:
    nic: {profile: mlx5}
    addresses: [10.0.0.2/24, "fd00::2/64"]
  c:
    nic: {profile: gve-dqo}
    addresses: [10.0.0.3/24]
switch: {ports: 3, output-buffer: 1MiB, latency: 300ns}
links:
  a-sw:
    ends: [a, switch]
    rate: 25Gbit/s
    delay: 2.5us
    mtu: 9000
    faults:
      forward: {drop: 0.01, corrupt: 0.001, corrupt-mode: pass-corrupted, duplicate: 0.002, reorder: 0.05, reorder-delay: 3us}
      reverse: {drop: 0.5}
  b-sw: {ends: [b, "switch:2"], rate: 100G}
  c-sw: {ends: [c, switch], rate: 400Mbit}
workloads:
  bulk:
    type: bulk-tcp
    from: a
    to: b
    port: 5201
    family: ipv6
    start: 1ms
    duration: 10ms
    flows: 4
    write-size: 128KiB
    pattern-seed: 9
    validate: false
  rpc:
    type: request-response
    from: c
    to: a
    port: 8000
    request-size: 64
    response-size: 1MiB
    count: 100
    concurrency: 8
  dgrams:
    type: udp
    from: b
    to: c
    port: 9000
    rate: 1G
    size: 1472
    count: 5000
timeline:
  - at: 30ms
    carrier: {link: b-sw, state: down}
  - at: 10ms
    ethtool:
      host: a
      channels: {combined: 8}
      rings: {rx: 2000}
      coalesce: {rx-usecs: 0}
      ntuple-delete: [5]
      ntuple-add:
        - {flow-type: tcp4, dst-port: 80, action: queue 7}
  - at: 10ms
    queue-restart: {host: a, queue: 3}
  - at: 1ms
    fault: {host: a, op: mem_alloc, queue: 1, mode: once}
  - at: 2ms
    fault: {host: a, op: rollback_start, queue: 1, mode: every 3}
  - at: 3ms
    fault: {host: a, op: stop, queue: 0, mode: from 5ms}
  - at: 4ms
    fault: {host: a, op: start, queue: 0, mode: off}
  - at: 20ms
    link-faults: {link: a-sw, direction: reverse, duplicate: 0.1}
stop: {when: time, time: 50ms}
expect:
  validation-errors: 0
  min-goodput-gbps: 2.5
  no-leaks: true
  workloads-done: false
  drops: {fault-drop: 1000, total: 2000}
)";

// A small valid scenario for mistakes to be made in.
const std::string kSmall = R"(seed: 3
hosts:
  a:
    nic:
      profile: bnxt-thor
      channels: {combined: 4}
    addresses: [10.0.0.1/24]
  b:
    nic: {profile: bnxt-thor}
    addresses: [10.0.0.2/24]
links:
  ab:
    ends: [a, b]
    rate: 100G
workloads:
  bulk:
    type: bulk-tcp
    from: a
    to: b
    port: 5201
    bytes: 1MiB
)";

}  // namespace

// ---- shipped scenarios ---------------------------------------------------------------------------

TEST_CASE("scenario: the built-in default is the text of configs/scenarios/default.yaml", "[scenario][unit]") {
  CHECK(std::string(default_scenario_yaml()) == read_text(kConfigs + "/scenarios/default.yaml"));
}

TEST_CASE("scenario: the default is the devmem flagship: 200 Gbit/s, MTU 8244, header split, the upper "
          "queues of b bound to device memory, ntuple rules steering every flow there",
          "[scenario][unit]") {
  const Scenario s = parse_ok(std::string(default_scenario_yaml()));
  REQUIRE(s.hosts.size() == 2);
  CHECK(s.hosts[0].name == "a");
  CHECK(s.hosts[1].name == "b");
  for (const HostSpec& h : s.hosts) {
    REQUIRE(h.profile.has_value());
    CHECK(h.nic.rings.tcp_data_split == hw::TcpDataSplit::kEnabled);
    CHECK(h.nic.channels.rx == 4u);
  }
  const HostSpec& b = s.hosts[1];
  REQUIRE(b.devmem.has_value());
  CHECK(b.devmem->bind_rx == std::vector<std::uint32_t>{2, 3});
  CHECK(b.devmem->placement == netmem::MemoryPlacement::kDeviceMemory);
  CHECK(b.nic.rss.indir->equal == 2u);  // other traffic stays on the lower queues
  REQUIRE(s.links.size() == 1);
  CHECK(s.links[0].config.line_rate_bps == 200'000'000'000u);
  CHECK(s.links[0].config.mtu == 8244u);
  REQUIRE(s.workloads.size() == 1);
  const auto& bulk = std::get<BulkTcp>(s.workloads[0].params);
  CHECK(bulk.flows > 1);
  CHECK(bulk.validate);
  CHECK(bulk.devmem_rx);
  // One rule per flow, each to a bound queue.
  REQUIRE(b.nic.ntuple.size() == bulk.flows);
  for (std::uint32_t i = 0; i < bulk.flows; ++i) {
    CHECK(b.nic.ntuple[i].dst_port == s.workloads[0].port + i);
    CHECK((b.nic.ntuple[i].queue == 2 || b.nic.ntuple[i].queue == 3));
  }
  CHECK(s.stop.when == StopCondition::When::kWorkloadsDone);
  CHECK(s.expect.max_validation_errors == 0u);
}

TEST_CASE("scenario: devmem settings are read and checked (queues in range, a devmem-rx workload needs an "
          "RX binding on its receiver, sizes in whole pages)",
          "[scenario][unit]") {
  const std::string base = std::string(default_scenario_yaml());
  {
    ScenarioOptions o = opts();
    o.overrides.push_back({"hosts.b.devmem.bind-rx", "[2, 9]"});
    const ScenarioResult r = parse_scenario(base, "t", o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find("hosts.b.devmem.bind-rx: queue 9 is not allowed") != std::string::npos);
  }
  {
    ScenarioOptions o = opts();
    o.overrides.push_back({"hosts.b.devmem", "{dmabuf: {size: 64MiB}}"});
    const ScenarioResult r = parse_scenario(base, "t", o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find("workloads.bulk.devmem-rx: host b binds no RX queue") != std::string::npos);
  }
  {
    ScenarioOptions o = opts();
    o.overrides.push_back({"hosts.b.devmem.dmabuf.size", "5000B"});
    const ScenarioResult r = parse_scenario(base, "t", o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find("whole number of 4 KiB pages") != std::string::npos);
  }
  {
    ScenarioOptions o = opts();
    o.overrides.push_back({"hosts.b.devmem.dmabuf.placement", "gpu"});
    const ScenarioResult r = parse_scenario(base, "t", o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find("placement") != std::string::npos);
  }
  {
    ScenarioOptions o = opts();
    o.overrides.push_back({"workloads.bulk.devmem-tx", "true"});
    const ScenarioResult r = parse_scenario(base, "t", o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find("host a has no TX binding") != std::string::npos);
  }
}

TEST_CASE("scenario: the four-host switch scenario loads with its faults and queue restart", "[scenario][unit]") {
  const ScenarioResult r = load_scenario(kConfigs + "/scenarios/four-hosts-switch.yaml", opts());
  if (!r) FAIL(r.error().to_string());
  const Scenario& s = *r;
  CHECK(s.hosts.size() == 4);
  REQUIRE(s.switch_.has_value());
  CHECK(s.switch_->ports == 4);
  CHECK(s.links.size() == 4);
  for (const LinkSpec& l : s.links) CHECK(l.ends[1].is_switch);
  const auto has = [&](auto pred) { return std::any_of(s.timeline.begin(), s.timeline.end(), pred); };
  CHECK(has([](const TimelineEvent& e) { return std::holds_alternative<QueueRestartAction>(e.action); }));
  CHECK(has([](const TimelineEvent& e) {
    const auto* f = std::get_if<LinkFaultAction>(&e.action);
    return f != nullptr && f->faults.any();
  }));
  CHECK(has([](const TimelineEvent& e) {
    const auto* f = std::get_if<LinkFaultAction>(&e.action);
    return f != nullptr && !f->faults.any();
  }));
}

// ---- every part of the format ------------------------------------------------------------------

TEST_CASE("scenario: hosts, NIC settings and addresses come through as written", "[scenario][unit]") {
  const Scenario s = parse_ok(kFull);
  CHECK(s.name == "full");
  CHECK(s.seed == 42);
  const HostSpec* a = s.host("a");
  REQUIRE(a != nullptr);
  CHECK(a->cpus.count == 2);
  CHECK(a->cpus.ghz == Approx(2.5));
  CHECK(a->nic_profile == "bnxt-thor");
  CHECK(a->nic_profile_path == std::filesystem::path(kConfigs) / "nics" / "bnxt-thor.yaml");
  REQUIRE(a->profile.has_value());
  CHECK(a->profile->name == "bnxt-thor");
  CHECK(a->nic.channels.combined == 4u);
  CHECK(a->nic.channels.tx == 0u);
  CHECK_FALSE(a->nic.channels.rx.has_value());
  CHECK(a->nic.rings.rx == 1024u);
  CHECK(a->nic.rings.rx_buf_len == 4096u);
  CHECK(a->nic.rings.tcp_data_split == hw::TcpDataSplit::kEnabled);
  CHECK(a->nic.rings.hds_thresh == 0u);
  REQUIRE(a->nic.rss.key.has_value());
  CHECK(*a->nic.rss.key == hw::kMicrosoftRssKey);
  REQUIRE(a->nic.rss.indir.has_value());
  CHECK(a->nic.rss.indir->weights == std::vector<std::uint32_t>{1, 1, 2});
  CHECK(a->nic.rss.indir->start == 1);
  CHECK_FALSE(a->nic.rss.indir->equal.has_value());
  REQUIRE(a->nic.rss.hash_fields.size() == 3);
  CHECK(a->nic.rss.hash_fields[0] == std::pair{hw::HashFlow::kTcp4, hw::kRxh4Tuple});
  CHECK(a->nic.rss.hash_fields[1] == std::pair{hw::HashFlow::kUdp4, hw::kRxh2Tuple});
  CHECK(a->nic.rss.hash_fields[2] == std::pair{hw::HashFlow::kIp6, 0u});
  CHECK(a->nic.coalesce.rx_usecs == 16u);
  CHECK(a->nic.coalesce.rx_frames == 64u);
  REQUIRE(a->addresses.size() == 2);
  CHECK(a->addresses[0] == IpPrefix{*IpAddress::parse("10.0.0.1"), 24});
  CHECK(a->addresses[1] == IpPrefix{*IpAddress::parse("fd00::1"), 64});
  CHECK(s.host("b")->cpus.count == CpuSpec{}.count);  // defaults
  CHECK(s.host("nobody") == nullptr);
}

TEST_CASE("scenario: ntuple rules take prefixes, masks, ports and the three actions", "[scenario][unit]") {
  const Scenario s = parse_ok(kFull);
  const auto& rules = s.host("a")->nic.ntuple;
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].flow_type == hw::FlowType::kTcpV4);
  CHECK(rules[0].src_ip == *IpAddress::parse("10.0.0.0"));
  CHECK(rules[0].src_ip_mask == *IpAddress::parse("255.255.255.0"));
  CHECK(rules[0].dst_port == 5201);
  CHECK(rules[0].dst_port_mask == 0xffff);
  CHECK(rules[0].src_port_mask == 0);
  CHECK(rules[0].action == hw::NtupleAction::kQueue);
  CHECK(rules[0].queue == 2);
  CHECK(rules[0].location == 5);
  CHECK(rules[1].dst_ip_mask == *IpAddress::parse("255.255.0.0"));
  CHECK(rules[1].src_port == 53);
  CHECK(rules[1].src_port_mask == 0xff);
  CHECK(rules[1].action == hw::NtupleAction::kDrop);
  CHECK(rules[1].location == hw::kRxClsLocAny);
  CHECK(rules[2].flow_type == hw::FlowType::kTcpV6);
  CHECK(rules[2].dst_ip_mask == *IpAddress::parse("ffff:ffff:ffff:ffff::"));
  CHECK(rules[2].action == hw::NtupleAction::kRssContext);
  CHECK(rules[2].rss_context == 1);
  CHECK(rules[2].queue == 1);
}

TEST_CASE("scenario: links, faults per direction and the switch come through as written", "[scenario][unit]") {
  const Scenario s = parse_ok(kFull);
  REQUIRE(s.switch_.has_value());
  CHECK(s.switch_->ports == 3);
  CHECK(s.switch_->config.output_buffer_bytes == 1u << 20);
  CHECK(s.switch_->config.forwarding_latency == 300_ns);
  const LinkSpec* l = s.link("a-sw");
  REQUIRE(l != nullptr);
  CHECK(l->ends[0] == LinkEnd{false, "a", std::nullopt});
  CHECK(l->ends[1] == LinkEnd{true, "", std::nullopt});
  CHECK(l->config.line_rate_bps == 25'000'000'000u);
  CHECK(l->config.propagation_delay == 2500_ns);
  CHECK(l->config.mtu == 9000);
  CHECK(l->faults[0].drop == Approx(0.01));
  CHECK(l->faults[0].corrupt == Approx(0.001));
  CHECK(l->faults[0].corrupt_mode == hw::CorruptMode::kPassCorrupted);
  CHECK(l->faults[0].duplicate == Approx(0.002));
  CHECK(l->faults[0].reorder == Approx(0.05));
  CHECK(l->faults[0].reorder_delay == 3_us);
  CHECK(l->faults[1].drop == Approx(0.5));
  CHECK(l->faults[1].reorder == 0.0);
  CHECK(s.link("b-sw")->ends[1].switch_port == 2u);
  CHECK(s.link("c-sw")->config.line_rate_bps == 400'000'000u);
  CHECK(s.link("c-sw")->config.mtu == 1500);  // default
}

TEST_CASE("scenario: the three workload kinds come through as written", "[scenario][unit]") {
  const Scenario s = parse_ok(kFull);
  REQUIRE(s.workloads.size() == 3);
  const WorkloadSpec& bulk = s.workloads[0];
  CHECK(bulk.name == "bulk");
  CHECK(bulk.from == "a");
  CHECK(bulk.to == "b");
  CHECK(bulk.port == 5201);
  CHECK(bulk.family == netstack::wire::IpVersion::kV6);
  CHECK(bulk.start == 1_ms);
  const auto& b = std::get<BulkTcp>(bulk.params);
  CHECK_FALSE(b.bytes.has_value());
  CHECK(b.duration == 10_ms);
  CHECK(b.flows == 4);
  CHECK(b.write_size_bytes == 128 * 1024);
  CHECK(b.pattern_seed == 9);
  CHECK_FALSE(b.validate);
  const auto& rr = std::get<RequestResponseTcp>(s.workloads[1].params);
  CHECK(rr.request_bytes == 64);
  CHECK(rr.response_bytes == 1u << 20);
  CHECK(rr.count == 100);
  CHECK(rr.concurrency == 8);
  const auto& u = std::get<UdpStream>(s.workloads[2].params);
  CHECK(u.rate_bps == 1'000'000'000u);
  CHECK(u.size_bytes == 1472);
  CHECK(u.count == 5000);
}

TEST_CASE("scenario: the timeline is sorted by time, keeping file order at equal times", "[scenario][unit]") {
  const Scenario s = parse_ok(kFull);
  REQUIRE(s.timeline.size() == 8);
  for (std::size_t i = 1; i < s.timeline.size(); ++i) CHECK(s.timeline[i - 1].at <= s.timeline[i].at);
  const auto& f0 = std::get<QueueFaultAction>(s.timeline[0].action);
  CHECK(f0.op == FaultOp::kMemAlloc);
  CHECK(f0.mode.kind == FaultMode::Kind::kOnce);
  const auto& f1 = std::get<QueueFaultAction>(s.timeline[1].action);
  CHECK(f1.op == FaultOp::kRollbackStart);
  CHECK(f1.mode.kind == FaultMode::Kind::kEvery);
  CHECK(f1.mode.every == 3);
  const auto& f2 = std::get<QueueFaultAction>(s.timeline[2].action);
  CHECK(f2.mode.kind == FaultMode::Kind::kFrom);
  CHECK(f2.mode.from == 5_ms);
  CHECK(std::get<QueueFaultAction>(s.timeline[3].action).mode.kind == FaultMode::Kind::kOff);
  // Two events at 10 ms: the ethtool change comes first, as in the file.
  const auto& eth = std::get<EthtoolAction>(s.timeline[4].action);
  CHECK(s.timeline[4].at == 10_ms);
  CHECK(eth.host == "a");
  CHECK(eth.changes.channels.combined == 8u);
  CHECK(eth.changes.rings.rx == 2000u);
  CHECK(eth.changes.coalesce.rx_usecs == 0u);
  CHECK(eth.ntuple_delete == std::vector<std::uint32_t>{5});
  REQUIRE(eth.changes.ntuple.size() == 1);
  CHECK(eth.changes.ntuple[0].queue == 7);  // allowed: 8 queues after this change
  CHECK(std::get<QueueRestartAction>(s.timeline[5].action).queue == 3);
  const auto& lf = std::get<LinkFaultAction>(s.timeline[6].action);
  CHECK(lf.link == "a-sw");
  CHECK(lf.direction == LinkDirection::kReverse);
  CHECK(lf.faults.duplicate == Approx(0.1));
  CHECK(lf.faults.drop == 0.0);
  const auto& c = std::get<CarrierAction>(s.timeline[7].action);
  CHECK(c.link == "b-sw");
  CHECK_FALSE(c.up);
  CHECK(s.timeline[7].line == line_of(kFull, "- at: 30ms"));
}

TEST_CASE("scenario: stop condition and expectations come through as written", "[scenario][unit]") {
  const Scenario s = parse_ok(kFull);
  CHECK(s.stop.when == StopCondition::When::kTime);
  CHECK(s.stop.time == 50_ms);
  CHECK(s.expect.max_validation_errors == 0u);
  CHECK(s.expect.min_goodput_gbps == Approx(2.5));
  CHECK(s.expect.no_leaks == true);
  CHECK(s.expect.workloads_done == false);
  REQUIRE(s.expect.max_drops.size() == 2);
  CHECK(s.expect.max_drops[0] == std::pair<std::string, std::uint64_t>{"total", 2000});
  CHECK(s.expect.max_drops[1] == std::pair<std::string, std::uint64_t>{"fault-drop", 1000});
}

TEST_CASE("scenario: expect.drops takes every reason a run report can name, in the report's spelling",
          "[scenario][unit]") {
  // One spelling for both: a reason the report prints must be one an expectation can limit
  // (a misspelt key would otherwise be an expectation that can never fail).
  for (const std::string_view reason : nicemu::app::drop_reason::all()) {
    INFO(reason);
    const Scenario s = parse_ok(kSmall + "expect:\n  drops: {" + std::string(reason) + ": 3}\n");
    REQUIRE(s.expect.max_drops.size() == 1);
    CHECK(s.expect.max_drops[0].first == reason);
  }
  for (const char* reason : {"rx-fifo-drops", "rx-steer-drops", "hw-drop-overruns", "neigh-failed", "no-socket",
                             "unreadable-xmit", "fault-drop", "egress-mtu"}) {
    CHECK(std::find(nicemu::app::drop_reason::all().begin(), nicemu::app::drop_reason::all().end(), reason) !=
          nicemu::app::drop_reason::all().end());
  }
  const ConfigError e = only_error(parse(kSmall + "expect:\n  drops: {rx_fifo_drops: 3}\n"));
  CHECK(e.kind == ConfigErrorKind::kUnknownKey);
  CHECK(e.key == "expect.drops.rx_fifo_drops");
}

TEST_CASE("scenario: configs/README.md lists every reason expect.drops takes", "[scenario][docs][unit]") {
  std::ifstream f(kConfigs + "/README.md");
  REQUIRE(f.good());
  std::string row;
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("| `drops.<reason>` |", 0) == 0) row = line;
  }
  REQUIRE_FALSE(row.empty());
  for (const std::string_view reason : nicemu::app::drop_reason::all()) {
    INFO(reason);
    CHECK(row.find("`" + std::string(reason) + "`") != std::string::npos);
  }
}

TEST_CASE("scenario: rss-contexts and rss-context-delete come through, rules may steer into the contexts",
          "[scenario][unit]") {
  const std::string text = edit(kSmall, "      channels: {combined: 4}\n",
                                "      channels: {combined: 4}\n"
                                "      rss-contexts:\n"
                                "        - {indir: {start: 2, equal: 2}}\n"
                                "        - {key: default, indir: {weights: [1, 3]}}\n"
                                "      ntuple:\n"
                                "        - {flow-type: tcp4, dst-port: 5201, action: context 2 queue 1}\n") +
                           "timeline:\n"
                           "  - at: 1ms\n"
                           "    ethtool: {host: a, ntuple-delete: [0], rss-context-delete: [2, 1], rss-contexts: "
                           "[{indir: {equal: 4}}]}\n";
  const Scenario s = parse_ok(text);
  const HostSpec& a = *s.host("a");
  REQUIRE(a.nic.rss_contexts.size() == 2);
  REQUIRE(a.nic.rss_contexts[0].indir.has_value());
  CHECK(a.nic.rss_contexts[0].indir->start == 2);
  CHECK(a.nic.rss_contexts[0].indir->equal == 2u);
  CHECK_FALSE(a.nic.rss_contexts[1].key.has_value());
  CHECK(a.nic.rss_contexts[1].indir->weights == std::vector<std::uint32_t>{1, 3});
  REQUIRE(a.nic.ntuple.size() == 1);
  CHECK(a.nic.ntuple[0].action == hw::NtupleAction::kRssContext);
  CHECK(a.nic.ntuple[0].rss_context == 2);
  REQUIRE(s.timeline.size() == 1);
  const auto& act = std::get<EthtoolAction>(s.timeline[0].action);
  CHECK(act.rss_context_delete == std::vector<std::uint32_t>{2, 1});
  REQUIRE(act.changes.rss_contexts.size() == 1);
  CHECK(act.changes.rss_contexts[0].indir->equal == 4u);
}

TEST_CASE("scenario errors: an RSS context past the queues, with a hash, or one a rule names that is not created",
          "[scenario][errors][unit]") {
  const auto with = [&](const std::string& nic_lines) {
    return parse(edit(kSmall, "      channels: {combined: 4}\n", "      channels: {combined: 4}\n" + nic_lines));
  };
  const ConfigError wide = only_error(with("      rss-contexts: [{indir: {start: 3, equal: 2}}]\n"));
  CHECK(wide.key == "hosts.a.nic.rss-contexts.0.indir");
  CHECK_THAT(wide.message, Catch::Contains("start 3 + 2 queues is more than the 4 RX queues"));
  const ConfigError hash = only_error(with("      rss-contexts: [{hash: {tcp4: sd}}]\n"));
  CHECK(hash.key == "hosts.a.nic.rss-contexts.0.hash");
  CHECK_THAT(hash.message, Catch::Contains("per device"));
  const ConfigError missing = only_error(with("      rss-contexts: [{indir: {equal: 2}}]\n"
                                              "      ntuple: [{flow-type: tcp4, dst-port: 1, action: context 2}]\n"));
  CHECK(missing.key == "hosts.a.nic.ntuple.0.action");
  CHECK_THAT(missing.message, Catch::Contains("context 2 does not exist; rss-contexts creates 1 to 1"));
}

TEST_CASE("scenario: a host's sysctl TCP knobs come through as written", "[scenario][unit]") {
  const std::string text = edit(kSmall, "    addresses: [10.0.0.1/24]\n",
                                "    addresses: [10.0.0.1/24]\n"
                                "    sysctl:\n"
                                "      net.ipv4.tcp_wmem: [4096, 65536, 524288]\n"
                                "      net.ipv4.tcp_rmem: [4096, 131072, 8388608]\n"
                                "      net.ipv4.tcp_limit_output_bytes: 262144\n"
                                "      net.ipv4.tcp_congestion_control: reno\n"
                                "      net.ipv4.tcp_sack: 0\n"
                                "      net.ipv4.tcp_timestamps: 1\n");
  const Scenario s = parse_ok(text);
  const TcpSysctl& y = s.host("a")->sysctl;
  CHECK(y.wmem == std::array<std::uint32_t, 3>{4096, 65536, 524288});
  CHECK(y.rmem == std::array<std::uint32_t, 3>{4096, 131072, 8388608});
  CHECK(y.limit_output_bytes == 262144u);
  CHECK(y.congestion == nicemu::netstack::tcp::CongestionAlgo::kNewReno);
  CHECK(y.sack == false);
  CHECK(y.timestamps == true);
  CHECK_FALSE(y.window_scaling.has_value());
  CHECK_FALSE(s.host("b")->sysctl.wmem.has_value());
  const ConfigError e = only_error(parse(edit(kSmall, "    addresses: [10.0.0.1/24]\n",
                                              "    addresses: [10.0.0.1/24]\n    sysctl: {net.ipv4.tcp_sack: 2}\n")));
  CHECK(e.key == "hosts.a.sysctl.net.ipv4.tcp_sack");
  CHECK_THAT(e.message, Catch::Contains("allowed: 0 or 1"));
}

TEST_CASE("scenario: without stop and expect the run waits for the workloads and expects a clean run",
          "[scenario][unit]") {
  const Scenario s = parse_ok(kSmall);
  CHECK(s.stop.when == StopCondition::When::kWorkloadsDone);
  CHECK(s.stop.time == 10_s);
  CHECK(s.expect.max_validation_errors == 0u);
  CHECK(s.expect.no_leaks == true);
  CHECK(s.expect.workloads_done == true);
  CHECK(s.timeline.empty());
  CHECK_FALSE(s.switch_.has_value());
}

TEST_CASE("scenario: a profile given as a path is read from that file", "[scenario][unit]") {
  const std::string path = kConfigs + "/nics/mlx5.yaml";
  const Scenario s = parse_ok(edit(kSmall, "nic: {profile: bnxt-thor}", "nic: {profile: \"" + path + "\"}"));
  REQUIRE(s.host("b")->profile.has_value());
  CHECK(s.host("b")->profile->name == "mlx5");
}

// ---- mistakes ---------------------------------------------------------------------------------

TEST_CASE("scenario errors: malformed YAML names the line", "[scenario][errors][unit]") {
  const std::string text = edit(kSmall, "rate: 100G", "rate: [100G");
  const ConfigError e = only_error(parse(text));
  CHECK(e.kind == ConfigErrorKind::kSyntax);
  CHECK(e.file == kSource);
  CHECK(e.line >= line_of(text, "rate: [100G"));
}

TEST_CASE("scenario errors: an unknown key names its line and lists the allowed keys", "[scenario][errors][unit]") {
  const std::string text = edit(kSmall, "rate: 100G", "rate: 100G\n    speed: 1");
  const ConfigError e = only_error(parse(text));
  CHECK(e.kind == ConfigErrorKind::kUnknownKey);
  CHECK(e.line == line_of(text, "speed: 1"));
  CHECK(e.key == "links.ab.speed");
  CHECK_THAT(e.message, Catch::Contains("ends, rate, delay, mtu, faults"));
  CHECK_THAT(e.to_string(), Catch::StartsWith(kSource + ":" + std::to_string(e.line) + ":5: links.ab.speed: "));
}

TEST_CASE("scenario errors: a duplicate host is a duplicate key", "[scenario][errors][unit]") {
  const std::string text = edit(kSmall, "links:", "  a:\n    nic: {profile: mlx5}\n    addresses: [10.0.0.9/24]\nlinks:");
  const ScenarioResult r = parse(text);
  REQUIRE_FALSE(r);
  INFO(r.error().to_string());
  const auto& errs = r.error().errors;
  CHECK(std::any_of(errs.begin(), errs.end(), [&](const ConfigError& e) {
    return e.kind == ConfigErrorKind::kDuplicateKey && e.key == "hosts.a" && e.line == line_of(text, "  a:\n    nic: {profile: mlx5}");
  }));
}

TEST_CASE("scenario errors: a missing required key names the map it belongs in", "[scenario][errors][unit]") {
  const std::string text = edit(kSmall, "    port: 5201\n", "");
  const ConfigError e = only_error(parse(text));
  CHECK(e.kind == ConfigErrorKind::kMissingKey);
  CHECK(e.key == "workloads.bulk.port");
  CHECK(e.line == line_of(text, "  bulk:"));
}

TEST_CASE("scenario errors: wrong types say what was expected", "[scenario][errors][unit]") {
  const std::string text = edit(kSmall, "channels: {combined: 4}", "channels: {combined: four}");
  const ConfigError e = only_error(parse(text));
  CHECK(e.kind == ConfigErrorKind::kWrongType);
  CHECK(e.key == "hosts.a.nic.channels.combined");
  CHECK(e.line == line_of(text, "combined: four"));
  CHECK_THAT(e.message, Catch::Contains("unsigned integer"));
}

TEST_CASE("scenario errors: a bad time, rate or size names its key and the allowed forms", "[scenario][errors][unit]") {
  SECTION("rate") {
    const std::string text = edit(kSmall, "rate: 100G", "rate: 100GB");
    const ConfigError e = only_error(parse(text));
    CHECK(e.kind == ConfigErrorKind::kInvalidValue);
    CHECK(e.key == "links.ab.rate");
    CHECK(e.line == line_of(text, "rate: 100GB"));
    CHECK_THAT(e.message, Catch::Contains("not bytes"));
  }
  SECTION("size") {
    const std::string text = edit(kSmall, "bytes: 1MiB", "bytes: 1M");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "workloads.bulk.bytes");
    CHECK(e.line == line_of(text, "bytes: 1M"));
    CHECK_THAT(e.message, Catch::Contains("ambiguous"));
  }
  SECTION("a UDP datagram too small for its sequence number") {
    const std::string text = std::string(kSmall) +
                             "  u:\n    type: udp\n    from: a\n    to: b\n    port: 9000\n    rate: 1G\n"
                             "    size: 7\n    count: 10\n";
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "workloads.u.size");
    CHECK_THAT(e.message, Catch::Contains("8"));
  }
  SECTION("time") {
    const std::string text = edit(kSmall, "rate: 100G", "rate: 100G\n    delay: 10");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "links.ab.delay");
    CHECK(e.line == line_of(text, "delay: 10"));
    CHECK_THAT(e.message, Catch::Contains("has no unit"));
  }
  SECTION("negative time") {
    const std::string text = kSmall + "timeline:\n  - at: -1ms\n    queue-restart: {host: a, queue: 0}\n";
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "timeline.0.at");
    CHECK(e.line == line_of(text, "at: -1ms"));
    CHECK_THAT(e.message, Catch::Contains("negative"));
  }
}

TEST_CASE("scenario errors: bad names, addresses, probabilities and actions", "[scenario][errors][unit]") {
  SECTION("an address without a prefix") {
    const std::string text = edit(kSmall, "[10.0.0.2/24]", "[10.0.0.2]");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "hosts.b.addresses");
    CHECK(e.line == line_of(text, "[10.0.0.2]"));
    CHECK_THAT(e.message, Catch::Contains("no prefix"));
  }
  SECTION("a malformed address") {
    const std::string text = edit(kSmall, "[10.0.0.2/24]", "[10.0.300.2/24]");
    CHECK_THAT(only_error(parse(text)).message, Catch::Contains("is not an IPv4 address"));
  }
  SECTION("an enum value") {
    const std::string text = edit(kSmall, "channels: {combined: 4}", "rings: {tcp-data-split: on}");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "hosts.a.nic.rings.tcp-data-split");
    CHECK_THAT(e.message, Catch::Contains("allowed: unknown, disabled, enabled"));
  }
  SECTION("a probability") {
    const std::string text = edit(kSmall, "rate: 100G", "rate: 100G\n    faults: {forward: {drop: 1.5}}");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "links.ab.faults.forward.drop");
    CHECK(e.line == line_of(text, "drop: 1.5"));
    CHECK_THAT(e.message, Catch::Contains("0 to 1"));
  }
  SECTION("an ntuple action") {
    const std::string text =
        edit(kSmall, "channels: {combined: 4}", "ntuple: [{flow-type: tcp4, dst-port: 1, action: steer 2}]");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "hosts.a.nic.ntuple.0.action");
    CHECK_THAT(e.message, Catch::Contains("allowed: queue N, drop, context C"));
  }
  SECTION("an ntuple address of the wrong family") {
    const std::string text =
        edit(kSmall, "channels: {combined: 4}", "ntuple: [{flow-type: tcp6, dst-ip: 10.0.0.1, action: drop}]");
    CHECK_THAT(only_error(parse(text)).message, Catch::Contains("is not an IPv6 address"));
  }
  SECTION("a fault mode") {
    const std::string text = kSmall + "timeline:\n  - at: 1ms\n    fault: {host: a, op: mem_alloc, queue: 0, mode: every 0}\n";
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "timeline.0.fault.mode");
    CHECK_THAT(e.message, Catch::Contains("every N (N >= 1)"));
  }
  SECTION("an event with two actions") {
    const std::string text = kSmall +
                             "timeline:\n  - at: 1ms\n    queue-restart: {host: a, queue: 0}\n"
                             "    carrier: {link: ab, state: down}\n";
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "timeline.0.carrier");
    CHECK_THAT(e.message, Catch::Contains("one action"));
  }
  SECTION("bulk TCP with both bytes and duration") {
    const std::string text = edit(kSmall, "bytes: 1MiB", "bytes: 1MiB\n    duration: 1ms");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "workloads.bulk.duration");
    CHECK_THAT(e.message, Catch::Contains("exactly one of bytes"));
  }
  SECTION("an RSS key of the wrong length") {
    const std::string text = edit(kSmall, "channels: {combined: 4}", "rss: {key: \"6d:5a\"}");
    CHECK(only_error(parse(text)).key == "hosts.a.nic.rss.key");
  }
}

TEST_CASE("scenario errors: references to hosts, links and switch ports that do not exist",
          "[scenario][errors][unit]") {
  SECTION("a link end") {
    const std::string text = edit(kSmall, "ends: [a, b]", "ends: [a, z]");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "links.ab.ends");
    CHECK(e.line == line_of(text, "ends: [a, z]"));
    CHECK_THAT(e.message, Catch::Contains("no host 'z'; hosts: a, b"));
  }
  SECTION("a workload's host") {
    const std::string text = edit(kSmall, "to: b", "to: q");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "workloads.bulk.to");
    CHECK(e.line == line_of(text, "to: q"));
  }
  SECTION("a switch end without a switch") {
    const std::string text = edit(kSmall, "ends: [a, b]", "ends: [a, switch]");
    CHECK_THAT(only_error(parse(text)).message, Catch::Contains("no switch"));
  }
  SECTION("a timeline link") {
    const std::string text = kSmall + "timeline:\n  - at: 1ms\n    carrier: {link: nope, state: down}\n";
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "timeline.0.carrier.link");
    CHECK_THAT(e.message, Catch::Contains("links: ab"));
  }
  SECTION("a duplicate address") {
    const std::string text = edit(kSmall, "[10.0.0.2/24]", "[10.0.0.1/24]");
    CHECK_THAT(only_error(parse(text)).message, Catch::Contains("every address is unique"));
  }
  SECTION("a workload family the hosts have no address for") {
    const std::string text = edit(kSmall, "port: 5201", "port: 5201\n    family: ipv6");
    const ScenarioResult r = parse(text);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().errors[0].message, Catch::Contains("no IPv6 address"));
  }
  SECTION("a NIC profile that does not exist") {
    const std::string text = edit(kSmall, "nic: {profile: bnxt-thor}", "nic: {profile: e1000}");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "hosts.b.nic.profile");
    CHECK(e.line == line_of(text, "profile: e1000"));
    CHECK_THAT(e.message, Catch::Contains("bnxt-thor, gve-dqo, mlx5"));
  }
}

TEST_CASE("scenario errors: queues beyond the channels and settings beyond the NIC profile",
          "[scenario][errors][unit]") {
  SECTION("an ntuple queue") {
    const std::string text = edit(kSmall, "channels: {combined: 4}",
                                  "channels: {combined: 4}\n      ntuple: [{flow-type: tcp4, dst-port: 1, action: queue 4}]");
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "hosts.a.nic.ntuple.0.action");
    CHECK(e.line == line_of(text, "ntuple:"));
    CHECK_THAT(e.message, Catch::Contains("allowed: 0 to 3 (4 RX queues)"));
  }
  SECTION("a queue restart after the channels shrank") {
    const std::string text = kSmall +
                             "timeline:\n  - at: 1ms\n    ethtool: {host: a, channels: {combined: 2}}\n"
                             "  - at: 2ms\n    queue-restart: {host: a, queue: 3}\n";
    const ConfigError e = only_error(parse(text));
    CHECK(e.key == "timeline.1.queue-restart.queue");
    CHECK_THAT(e.message, Catch::Contains("has 2 RX queues at this time"));
  }
  SECTION("an indirection table wider than the queues") {
    const std::string text = edit(kSmall, "channels: {combined: 4}", "channels: {combined: 4}\n      rss: {indir: {equal: 4, start: 1}}");
    CHECK(only_error(parse(text)).key == "hosts.a.nic.rss.indir");
  }
  SECTION("ring size, rx-buf-len and channels outside the profile's limits") {
    const std::string text = edit(kSmall, "channels: {combined: 4}",
                                  "channels: {combined: 4, rx: 200}\n      rings: {rx: 100000, rx-buf-len: 3000}");
    const ScenarioResult r = parse(text);
    REQUIRE_FALSE(r);
    INFO(r.error().to_string());
    REQUIRE(r.error().errors.size() == 3);
    CHECK(r.error().errors[0].key == "hosts.a.nic.channels.rx");
    CHECK_THAT(r.error().errors[0].message, Catch::Contains("NIC profile bnxt-thor"));
    CHECK(r.error().errors[1].key == "hosts.a.nic.rings.rx");
    CHECK(r.error().errors[2].key == "hosts.a.nic.rings.rx-buf-len");
  }
}

TEST_CASE("scenario errors: every error in the file is reported at once, in line order", "[scenario][errors][unit]") {
  std::string text = edit(kSmall, "rate: 100G", "rate: fast");
  text = edit(text, "seed: 3", "seed: -3");
  text = edit(text, "to: b", "to: b\n    colour: blue");
  const ScenarioResult r = parse(text);
  REQUIRE_FALSE(r);
  INFO(r.error().to_string());
  REQUIRE(r.error().errors.size() == 3);
  CHECK(r.error().errors[0].key == "seed");
  CHECK(r.error().errors[1].key == "links.ab.rate");
  CHECK(r.error().errors[2].key == "workloads.bulk.colour");
  CHECK(r.error().errors[0].line < r.error().errors[1].line);
  CHECK(r.error().errors[1].line < r.error().errors[2].line);
}

TEST_CASE("scenario errors: a file that cannot be read is an io error naming it", "[scenario][errors][unit]") {
  const ConfigError e = only_error(load_scenario("/nonexistent/scenario.yaml", opts()));
  CHECK(e.kind == ConfigErrorKind::kIo);
  CHECK(e.file == "/nonexistent/scenario.yaml");
}

// ---- overrides --------------------------------------------------------------------------------

TEST_CASE("scenario overrides: KEY=VALUE is split at the first '='", "[scenario][override][unit]") {
  const auto o = parse_override("hosts.b.nic.rings.rx=2048");
  REQUIRE(o);
  CHECK(o->key == "hosts.b.nic.rings.rx");
  CHECK(o->value == "2048");
  CHECK(parse_override("a=b=c")->value == "b=c");
  CHECK_FALSE(parse_override("no-equals"));
  CHECK_FALSE(parse_override("=1"));
}

TEST_CASE("scenario overrides: change a value, add an optional key, change a list item", "[scenario][override][unit]") {
  const std::string text = std::string(default_scenario_yaml()) +
                           "timeline:\n  - at: 1ms\n    queue-restart: {host: b, queue: 0}\n";
  const Scenario s = parse_ok(text, {{"hosts.b.nic.rings.rx", "1024"},
                                     {"links.ab.rate", "25G"},
                                     {"workloads.bulk.flows", "16"},
                                     {"hosts.a.nic.coalesce", "{rx-usecs: 0}"},
                                     {"timeline.0.at", "5ms"},
                                     {"seed", "99"}});
  CHECK(s.host("b")->nic.rings.rx == 1024u);
  CHECK(s.link("ab")->config.line_rate_bps == 25'000'000'000u);
  CHECK(std::get<BulkTcp>(s.workloads[0].params).flows == 16);
  CHECK(s.host("a")->nic.coalesce.rx_usecs == 0u);
  CHECK(s.timeline[0].at == 5_ms);
  CHECK(s.seed == 99);
}

TEST_CASE("scenario overrides: a path that does not exist is an error listing what does",
          "[scenario][override][unit]") {
  SECTION("an unknown host") {
    const ConfigError e = only_error(parse(kSmall, {{"hosts.c.nic.rings.rx", "1"}}));
    CHECK(e.kind == ConfigErrorKind::kUnknownKey);
    CHECK(e.key == "hosts.c.nic.rings.rx");
    CHECK(e.file == kSource);
    CHECK_THAT(e.message, Catch::Contains("no key 'c' in 'hosts'; keys there: a, b"));
  }
  SECTION("a list index out of range") {
    const std::string text = kSmall + "timeline:\n  - at: 1ms\n    queue-restart: {host: a, queue: 0}\n";
    CHECK_THAT(only_error(parse(text, {{"timeline.3.at", "1ms"}})).message, Catch::Contains("a list of 1 items"));
  }
  SECTION("a path through a single value") {
    CHECK_THAT(only_error(parse(kSmall, {{"seed.x", "1"}})).message, Catch::Contains("is a single value"));
  }
  SECTION("an unknown last key is judged by the reader and says it came from --set") {
    const ConfigError e = only_error(parse(kSmall, {{"links.ab.speed", "1"}}));
    CHECK(e.kind == ConfigErrorKind::kUnknownKey);
    CHECK(e.key == "links.ab.speed");
    CHECK(e.line == 0);
    CHECK_THAT(e.message, Catch::Contains("allowed keys here") && Catch::Contains("(set by --set links.ab.speed=1)"));
  }
  SECTION("a bad value is checked like the file's") {
    const ConfigError e = only_error(parse(kSmall, {{"links.ab.rate", "100GB"}}));
    CHECK(e.key == "links.ab.rate");
    CHECK_THAT(e.message, Catch::Contains("not bytes") && Catch::Contains("--set links.ab.rate=100GB"));
  }
  SECTION("a quoted number stays a string") {
    const ConfigError e = only_error(parse(kSmall, {{"seed", "'5'"}}));
    CHECK(e.kind == ConfigErrorKind::kWrongType);
  }
}

TEST_CASE("scenario errors: an unknown workload type is one error, not one per key", "[scenario][errors][unit]") {
  const std::string text = edit(kSmall, "type: bulk-tcp", "type: bulk");
  const ConfigError e = only_error(parse(text));
  CHECK(e.key == "workloads.bulk.type");
  CHECK_THAT(e.message, Catch::Contains("allowed: bulk-tcp, request-response, udp"));
}

TEST_CASE("scenario errors: a key of another workload type is unknown for this one", "[scenario][errors][unit]") {
  const std::string text = edit(kSmall, "bytes: 1MiB", "bytes: 1MiB\n    concurrency: 4");
  const ConfigError e = only_error(parse(text));
  CHECK(e.kind == ConfigErrorKind::kUnknownKey);
  CHECK(e.key == "workloads.bulk.concurrency");
}
