// `nicemu steer`: flows on the default scenario land where the library's Steering puts them
// (and spread over the queues as RSS does); ntuple rules from a scenario file or --set win over
// RSS; --profile uses the profile's defaults; the host is chosen by the destination address;
// each kind of bad input is refused with exit code 2 and a message naming it.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "frame_builder.hpp"
#include "nicemu/netstack/wire/wire.hpp"
#include "nicemu/nic/hw/steering.hpp"
#include "nicemu_process.hpp"

using namespace nicemu::testing;
namespace hw = nicemu::nic::hw;
namespace w = nicemu::netstack::wire;

namespace {

w::IpAddress ip(const char* text) {
  auto a = w::IpAddress::parse(text);
  REQUIRE(a.has_value());
  return *a;
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// The library's own answer, independent of nicemu's code: a Steering with `rx_queues` queues
// (and, if `equal`, `ethtool -X equal N`) over a frame built by tests/support/frame_builder.hpp.
hw::SteeringDecision library_decision(std::uint32_t rx_queues, std::uint32_t equal, const char* src,
                                      std::uint16_t sport, const char* dst, std::uint16_t dport, bool udp = false) {
  hw::SteeringConfig c;
  c.rx_queues = rx_queues;
  auto s = hw::Steering::create(c);
  REQUIRE(s.has_value());
  if (equal != 0) {
    hw::RxfhRequest req;
    req.indir = hw::ethtool_indir_equal(s->indir_size(), equal).value();
    REQUIRE(s->set_rxfh(0, req).ok());
  }
  FrameSpec f;
  f.src = ip(src);
  f.dst = ip(dst);
  f.v6 = f.src.is_v6();
  f.udp = udp;
  f.sport = sport;
  f.dport = dport;
  return s->lookup(w::parse_packet(build_frame(f), w::ChecksumCaps::offloaded()));
}

// configs/scenarios/host-memory-rss.yaml: host b spreads every flow over its 4 queues by RSS (the
// built-in default steers its flows to devmem-bound queues with ntuple rules instead).
const std::string kRssScenario = std::string(NICEMU_CONFIGS_DIR) + "/scenarios/host-memory-rss.yaml";

// The queue RSS picks in the RSS scenario's host b for 10.0.0.1:sport -> 10.0.0.2:dport.
std::uint32_t default_b_rss_queue(std::uint16_t sport, std::uint16_t dport) {
  return library_decision(4, 4, "10.0.0.1", sport, "10.0.0.2", dport).queue;
}

std::string flow_text(std::uint16_t sport, std::uint16_t dport) {
  return "10.0.0.1:" + std::to_string(sport) + "-10.0.0.2:" + std::to_string(dport) + "/tcp";
}

void require_ok(const ProcessResult& r) {
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
}

void require_usage_error(const ProcessResult& r, const std::string& words1, const std::string& words2 = "") {
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(words1) != std::string::npos);
  CHECK(r.err.find(words2) != std::string::npos);
}

// Two hosts of the default scenario's shape; host b has `rules` (YAML list items) as its ntuple.
std::string scenario_with_rules(const std::string& rules) {
  return "hosts:\n"
         "  a:\n"
         "    nic: {profile: bnxt-thor, channels: {combined: 4}}\n"
         "    addresses: [10.0.0.1/24]\n"
         "  b:\n"
         "    nic:\n"
         "      profile: bnxt-thor\n"
         "      channels: {combined: 4}\n"
         "      rss: {indir: {equal: 4}}\n"
         "      ntuple:\n" +
         rules +
         "    addresses: [10.0.0.2/24]\n"
         "links:\n"
         "  ab: {ends: [a, b], rate: 100G}\n";
}

}  // namespace

TEST_CASE("nicemu steer: flows on the RSS scenario land on the queue the library's Steering computes",
          "[apps-nicemu][integration]") {
  const std::vector<std::pair<std::uint16_t, std::uint16_t>> ports = {{40000, 5201}, {40001, 5202}, {12345, 80},
                                                                      {1, 65535}};
  std::vector<std::string> args = {"steer", kRssScenario};
  for (const auto& [sp, dp] : ports) {
    args.push_back("--flow");
    args.push_back(flow_text(sp, dp));
  }
  const auto r = run_nicemu(args);
  require_ok(r);
  const auto queues = values_of(r.out, "queue");
  const auto hashes = values_of(r.out, "hash");
  const auto indexes = values_of(r.out, "indir-index");
  const auto steered = values_of(r.out, "steered-by");
  const auto hosts = values_of(r.out, "host");
  REQUIRE(queues.size() == ports.size());
  REQUIRE(hashes.size() == ports.size());
  REQUIRE(indexes.size() == ports.size());
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const auto d = library_decision(4, 4, "10.0.0.1", ports[i].first, "10.0.0.2", ports[i].second);
    INFO("flow " << flow_text(ports[i].first, ports[i].second));
    CHECK(queues[i] == std::to_string(d.queue));
    CHECK(first_word(hashes[i]) == hex32(d.rss_hash));
    CHECK(hashes[i].find("(L4,") != std::string::npos);
    REQUIRE(d.indir_index.has_value());
    CHECK(first_word(indexes[i]) == std::to_string(*d.indir_index));
    CHECK(steered[i] == "rss context 0");
    CHECK(hosts[i].rfind("b (owns the destination 10.0.0.2)", 0) == 0);
  }
  // The NIC block: host b's 4 queues and its `equal 4` table, 32 entries each.
  CHECK(values_of(r.out, "rx-queues").at(0).rfind("4 ", 0) == 0);
  CHECK(values_of(r.out, "indir").at(0).find("0:32 1:32 2:32 3:32") != std::string::npos);
}

TEST_CASE("nicemu steer: 64 flows of the RSS scenario spread over all 4 queues as RSS does",
          "[apps-nicemu][integration]") {
  std::vector<std::string> args = {"steer", kRssScenario};
  for (std::uint16_t i = 0; i < 64; ++i) {
    args.push_back("--flow");
    args.push_back(flow_text(static_cast<std::uint16_t>(40000 + i), 5201));
  }
  const auto r = run_nicemu(args);
  require_ok(r);
  const auto queues = values_of(r.out, "queue");
  REQUIRE(queues.size() == 64);
  std::set<std::string> seen;
  for (std::uint16_t i = 0; i < 64; ++i) {
    CHECK(queues[i] == std::to_string(default_b_rss_queue(static_cast<std::uint16_t>(40000 + i), 5201)));
    seen.insert(queues[i]);
  }
  CHECK(seen == std::set<std::string>{"0", "1", "2", "3"});
}

TEST_CASE("nicemu steer: an ntuple rule in a scenario file wins over RSS, the lowest location first, drop drops",
          "[apps-nicemu][integration]") {
  const std::uint16_t sport = 40000;
  const std::uint32_t rss = default_b_rss_queue(sport, 6000);
  const std::uint32_t rule_queue = (rss + 1) % 4;
  const std::uint32_t later_queue = (rss + 2) % 4;
  TempFile file(".yaml");
  file.write(scenario_with_rules(
      "        - {flow-type: tcp4, src-ip: 10.0.0.1, dst-port: 6000, action: queue " + std::to_string(rule_queue) +
      ", loc: 7}\n"
      "        - {flow-type: tcp4, dst-port: 6000, action: queue " +
      std::to_string(later_queue) +
      ", loc: 9}\n"
      "        - {flow-type: tcp4, dst-port: 6001, action: drop, loc: 3}\n"));
  const auto r = run_nicemu({"steer", file.path().string(), "--flow", flow_text(sport, 6000), "--flow",
                             flow_text(sport, 6001), "--flow", flow_text(sport, 6002)});
  require_ok(r);
  const auto queues = values_of(r.out, "queue");
  const auto rules = values_of(r.out, "rule");
  const auto steered = values_of(r.out, "steered-by");
  const auto alone = values_of(r.out, "rss-alone");
  REQUIRE(queues.size() == 3);
  // Port 6000: rules at 7 and 9 match; 7 wins over both the later rule and RSS.
  CHECK(queues[0] == std::to_string(rule_queue));
  CHECK(rules[0] == "7");
  CHECK(steered[0].rfind("ntuple rule 7 (flow-type tcp4 src-ip 10.0.0.1 dst-port 6000 action queue", 0) == 0);
  REQUIRE(alone.size() == 2);
  CHECK(alone[0].rfind("queue " + std::to_string(rss) + " ", 0) == 0);
  // Port 6001: the drop rule.
  CHECK(queues[1] == "drop");
  CHECK(rules[1] == "3");
  // Port 6002: no rule, RSS.
  CHECK(queues[2] == std::to_string(default_b_rss_queue(sport, 6002)));
  CHECK(rules[2] == "none");
  CHECK(steered[2] == "rss context 0");
  // The NIC block lists the three rules in location order.
  CHECK(values_of(r.out, "ntuple-rules").at(0) == "3");
}

TEST_CASE("nicemu steer: a rule added with --set on the RSS scenario wins over RSS", "[apps-nicemu][integration]") {
  const std::uint32_t rss = default_b_rss_queue(40000, 5201);
  const std::uint32_t q = (rss + 3) % 4;
  const auto r = run_nicemu({"steer", kRssScenario, "--set",
                             "hosts.b.nic.ntuple=[{flow-type: tcp4, dst-port: 5201, action: queue " + std::to_string(q) +
                                 "}]",
                             "--flow", flow_text(40000, 5201)});
  require_ok(r);
  CHECK(values_of(r.out, "queue") == std::vector<std::string>{std::to_string(q)});
  CHECK(values_of(r.out, "rule") == std::vector<std::string>{"0"});  // RX_CLS_LOC_ANY: the lowest free location
  CHECK(values_of(r.out, "rss-alone").at(0).rfind("queue " + std::to_string(rss) + " ", 0) == 0);
  // Without the rule the same flow goes where RSS puts it.
  const auto plain = run_nicemu({"steer", kRssScenario, "--flow", flow_text(40000, 5201)});
  require_ok(plain);
  CHECK(values_of(plain.out, "queue") == std::vector<std::string>{std::to_string(rss)});
}

TEST_CASE("nicemu steer: a rule into an RSS context from the scenario spreads over that context's queues",
          "[apps-nicemu][integration]") {
  std::vector<std::string> args = {"steer", kRssScenario, "--set",
                                   "hosts.b.nic.rss-contexts=[{indir: {start: 2, equal: 2}}]", "--set",
                                   "hosts.b.nic.ntuple=[{flow-type: tcp4, dst-port: 5201, action: context 1}]"};
  for (std::uint16_t sport = 40000; sport < 40016; ++sport) {
    args.push_back("--flow");
    args.push_back(flow_text(sport, 5201));
  }
  const auto r = run_nicemu(args);
  require_ok(r);
  const auto queues = values_of(r.out, "queue");
  REQUIRE(queues.size() == 16);
  CHECK(std::set<std::string>(queues.begin(), queues.end()) == std::set<std::string>{"2", "3"});
  for (const std::string& h : values_of(r.out, "hash")) CHECK(h.find("context 1") != std::string::npos);
}

TEST_CASE("nicemu steer: --set changes the queue count and the table the flow is spread over",
          "[apps-nicemu][integration]") {
  const auto r = run_nicemu({"steer", kRssScenario, "--set", "hosts.b.nic.channels.combined=8", "--set",
                             "hosts.b.nic.rss.indir={equal: 8}", "--flow", flow_text(40000, 5201)});
  require_ok(r);
  const auto d = library_decision(8, 8, "10.0.0.1", 40000, "10.0.0.2", 5201);
  CHECK(values_of(r.out, "queue") == std::vector<std::string>{std::to_string(d.queue)});
  CHECK(values_of(r.out, "rx-queues").at(0).rfind("8 ", 0) == 0);
}

TEST_CASE("nicemu steer: --profile uses the profile's default channels, spread and hash fields",
          "[apps-nicemu][integration]") {
  // bnxt-thor: 32 combined channels by default, the default spread over them, tcp4 sdfn.
  const auto tcp = run_nicemu({"steer", "--profile", "bnxt-thor", "--flow", "192.0.2.1:1000-192.0.2.2:2000/tcp"});
  require_ok(tcp);
  const auto d = library_decision(32, 0, "192.0.2.1", 1000, "192.0.2.2", 2000);
  CHECK(values_of(tcp.out, "queue") == std::vector<std::string>{std::to_string(d.queue)});
  CHECK(first_word(values_of(tcp.out, "hash").at(0)) == hex32(d.rss_hash));
  CHECK(values_of(tcp.out, "rx-queues").at(0).rfind("32 ", 0) == 0);

  // UDP hashes the addresses only by default (udp4 sd): the 2-tuple hash.
  const auto udp = run_nicemu({"steer", "--profile", "bnxt-thor", "--flow", "192.0.2.1:1000-192.0.2.2:2000/udp"});
  require_ok(udp);
  const auto du = library_decision(32, 0, "192.0.2.1", 1000, "192.0.2.2", 2000, true);
  CHECK(du.hash_type == hw::RssHashType::kL3);
  CHECK(first_word(values_of(udp.out, "hash").at(0)) == hex32(du.rss_hash));
  CHECK(values_of(udp.out, "hash").at(0).find("(L3,") != std::string::npos);
  CHECK(values_of(udp.out, "queue") == std::vector<std::string>{std::to_string(du.queue)});

  // IPv6 in brackets, mlx5: 128 combined channels by default.
  const auto v6 = run_nicemu({"steer", "--profile", "mlx5", "--flow", "[fd00::1]:1000-[fd00::2]:2000/tcp"});
  require_ok(v6);
  const auto d6 = library_decision(128, 0, "fd00::1", 1000, "fd00::2", 2000);
  CHECK(values_of(v6.out, "queue") == std::vector<std::string>{std::to_string(d6.queue)});
  CHECK(values_of(v6.out, "flow-type") == std::vector<std::string>{"tcp6"});
}

TEST_CASE("nicemu steer: the host is the destination's owner, --host, or else the first host",
          "[apps-nicemu][integration]") {
  const auto r = run_nicemu({"steer", kRssScenario, "--flow", "10.0.0.2:5201-10.0.0.1:40000", "--flow",
                             "10.9.9.9:1-10.9.9.8:2/udp"});
  require_ok(r);
  const auto hosts = values_of(r.out, "host");
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0] == "a (owns the destination 10.0.0.1)");
  CHECK(hosts[1] == "a (no host owns 10.9.9.8; the first host)");
  const auto forced = run_nicemu({"steer", "--host", "b", "--flow", "10.0.0.2:5201-10.0.0.1:40000"});
  require_ok(forced);
  CHECK(values_of(forced.out, "host") == std::vector<std::string>{"b (--host)"});
}

TEST_CASE("nicemu steer: bad flows, hosts, profiles and settings are refused with exit code 2",
          "[apps-nicemu][integration]") {
  require_usage_error(run_nicemu({"steer", kRssScenario, "--flow", "10.0.0.1:40000-10.0.0.2/tcp"}), "--flow", "has no port");
  require_usage_error(run_nicemu({"steer", kRssScenario, "--flow", "10.0.0.1:1-10.0.0.2:2/sctp"}), "--flow", "'sctp'");
  require_usage_error(run_nicemu({"steer", kRssScenario, "--flow", "10.0.0.1:1-10.0.0.2:99999"}), "--flow", "not a port");
  require_usage_error(run_nicemu({"steer", kRssScenario, "--flow", "fd00::1:1-fd00::2:2"}), "--flow", "in brackets");
  require_usage_error(run_nicemu({"steer", kRssScenario, "--flow", "10.0.0.1:1-[fd00::2]:2"}), "--flow", "different families");
  require_usage_error(run_nicemu({"steer", "--host", "zz", "--flow", "10.0.0.1:1-10.0.0.2:2"}), "no host 'zz'",
                      "hosts: a, b");
  require_usage_error(run_nicemu({"steer", "--profile", "no-such-nic", "--flow", "10.0.0.1:1-10.0.0.2:2"}),
                      "no NIC profile 'no-such-nic'", "bnxt-thor");
  require_usage_error(run_nicemu({"steer", kRssScenario, "--set", "hosts.b.nic.channels.combined=999", "--flow",
                                  "10.0.0.1:1-10.0.0.2:2"}),
                      "hosts.b.nic.channels.combined", "--set");
  require_usage_error(run_nicemu({"steer", kRssScenario, "--set", "hosts.b.nic.channels.combined", "--flow", "10.0.0.1:1-10.0.0.2:2"}),
                      "--set", "=");
  require_usage_error(run_nicemu({"steer"}), "--flow", "required");
  require_usage_error(run_nicemu({"steer", "x.yaml", "--profile", "mlx5", "--flow", "10.0.0.1:1-10.0.0.2:2"}),
                      "--profile", "excludes");
  require_usage_error(run_nicemu({"steer", "/no/such/scenario.yaml", "--flow", "10.0.0.1:1-10.0.0.2:2"}),
                      "/no/such/scenario.yaml", "cannot open");
}

TEST_CASE("nicemu steer: a rule into an RSS context the NIC does not have is refused, naming the rule's key",
          "[apps-nicemu][integration]") {
  TempFile file(".yaml");
  file.write(scenario_with_rules("        - {flow-type: tcp4, dst-port: 6000, action: context 5}\n"));
  const auto r = run_nicemu({"steer", file.path().string(), "--flow", flow_text(1, 6000)});
  require_usage_error(r, "hosts.b.nic.ntuple.0");
}
