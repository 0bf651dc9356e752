// `nicemu run` end to end: the built-in default scenario and the four-host switch scenario move
// every byte validated and exit 0 (the four-host one through its link faults and queue restart,
// which its JSON summary shows happened); the JSON summary has the fields the issue lists; the
// same seed gives the same digest and another seed another one.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nicemu_process.hpp"

using nicemu::testing::digest_of;
using nicemu::testing::run_nicemu;

namespace {


std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

const std::string kRssScenario = std::string(NICEMU_CONFIGS_DIR) + "/scenarios/host-memory-rss.yaml";

// `nicemu run` on the host-memory RSS scenario with 1 MiB per flow and these `--set` overrides,
// its JSON summary parsed (null when the run wrote none).
struct RssRun {
  nicemu::testing::ProcessResult process;
  nlohmann::json json;
  // Host b's NIC queues in the summary.
  const nlohmann::json& b_queues() const {
    for (const auto& h : json["hosts"]) {
      if (h["name"] == "b") return h["nics"][0]["queues"];
    }
    FAIL("no host b in the summary");
    return json;
  }
  std::uint64_t b_rx_packets(std::size_t q) const { return b_queues()[q]["qstats"]["rx"]["packets"].get<std::uint64_t>(); }
  std::vector<std::string> timeline_results() const {
    std::vector<std::string> out;
    for (const auto& t : json["timeline"]) out.push_back(t["result"].get<std::string>());
    return out;
  }
};

RssRun run_rss(const std::vector<std::string>& sets) {
  nicemu::testing::TempFile file(".json");
  std::vector<std::string> args = {"run", kRssScenario, "--quiet", "--json", file.path().string(), "--set",
                                   "workloads.bulk.bytes=1MiB"};
  for (const std::string& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  RssRun r{run_nicemu(args), nullptr};
  const std::string text = file.read();
  if (!text.empty()) r.json = nlohmann::json::parse(text);
  return r;
}

// `args` with one more `--set KEY=VALUE`, run.
nicemu::testing::ProcessResult run_with_set(std::vector<std::string> args, const std::string& key_value) {
  args.push_back("--set");
  args.push_back(key_value);
  return run_nicemu(args);
}

}  // namespace

TEST_CASE("nicemu run: the default scenario validates every byte of its 8 flows and exits 0", "[apps-nicemu][integration]") {
  const std::string json = "/tmp/nicemu-test-run-default.json";
  const auto r = run_nicemu({"run", "--quiet", "--json", json});
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("result: PASS") != std::string::npos);
  CHECK(r.out.find("bulk/7") != std::string::npos);
  const std::string j = slurp(json);
  for (const char* key : {"\"seed\"", "\"sim_time_ns\"", "\"wall_time_s\"", "\"digest\"", "\"bytes_sent\"",
                          "\"bytes_received\"", "\"bytes_validated\"", "\"validation_errors\"", "\"goodput_gbps\"",
                          "\"retransmits\"", "\"qstats\"", "\"inflight\"", "\"drops\""}) {
    INFO(key);
    CHECK(j.find(key) != std::string::npos);
  }
  CHECK(j.find("\"bytes_validated\": 67108864") != std::string::npos);
}

TEST_CASE("nicemu run: the same seed prints the same digest, another seed another digest", "[apps-nicemu][integration]") {
  const auto a = run_nicemu({"run", "--quiet", "--set", "workloads.bulk.bytes=2MiB"});
  const auto b = run_nicemu({"run", "--quiet", "--set", "workloads.bulk.bytes=2MiB"});
  const auto c = run_nicemu({"run", "--quiet", "--set", "workloads.bulk.bytes=2MiB", "--seed", "7"});
  INFO(a.out << "\n" << c.out);
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  REQUIRE(c.exit_code == 0);
  CHECK(digest_of(a.out) == digest_of(b.out));
  CHECK(digest_of(a.out) != digest_of(c.out));
}

TEST_CASE(
    "nicemu run: the four-host switch scenario delivers every byte validated through its link faults and queue restart",
    "[apps-nicemu][integration]") {
  nicemu::testing::TempFile json(".json");
  const auto r = run_nicemu({"run", std::string(NICEMU_CONFIGS_DIR) + "/scenarios/four-hosts-switch.yaml", "--quiet",
                             "--json", json.path().string()});
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("result: PASS") != std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(json.read());
  CHECK(j["passed"] == true);

  // Every flow: all bytes sent arrived and were validated.
  REQUIRE(j["flows"].size() == 8);  // from-a 2, from-b 2, rpc-c 4
  for (const auto& f : j["flows"]) {
    INFO(f.dump());
    CHECK(f["bytes_sent"].get<std::uint64_t>() > 0);
    CHECK(f["bytes_received"] == f["bytes_sent"]);
    CHECK(f["bytes_validated"] == f["bytes_sent"]);
    CHECK(f["validation_errors"] == 0);
    CHECK(f["done"] == true);
  }

  // The faults happened: a's link dropped frames toward the switch (and reordered some), and
  // a's senders retransmitted what was lost.
  const nlohmann::json* a_sw = nullptr;
  for (const auto& l : j["links"]) {
    if (l["name"] == "a-sw") a_sw = &l;
  }
  REQUIRE(a_sw != nullptr);
  const auto& fwd = (*a_sw)["directions"][0];
  CHECK(fwd["from"] == "a");
  CHECK(fwd["drops"].value("fault-drop", std::uint64_t{0}) > 0);
  CHECK(fwd["faults"]["reordered"].get<std::uint64_t>() > 0);
  CHECK(j["drops"].value("fault-drop", std::uint64_t{0}) > 0);
  for (const auto& f : j["flows"]) {
    if (f["workload"] == "from-a") CHECK(f["retransmits"].get<std::uint64_t>() > 0);
  }
  for (const auto& h : j["hosts"]) {
    if (h["name"] == "a") CHECK(h["tcp"]["retransmits"].get<std::uint64_t>() > 0);
  }

  // The queue restart on d ran at 4 ms and the core restarted the queue once.
  bool restart_ok = false;
  for (const auto& t : j["timeline"]) {
    if (t["action"] == "queue-restart d 1") restart_ok = t["result"] == "ok" && t["at_ns"] == 4000000;
  }
  CHECK(restart_ok);
  CHECK(j["timeline"].size() == 3);
  for (const auto& h : j["hosts"]) {
    const std::uint64_t restarts = h["nics"][0]["queue_restart"]["restarts"];
    CHECK(restarts == (h["name"] == "d" ? 1u : 0u));
    CHECK(h["nics"][0]["queue_restart"]["failures"] == 0);
  }

  // Nothing leaked: no page-pool page, skb or driver buffer held after the NICs went down (the
  // runner's check; the page pools in the summary are read before, with buffers on the rings).
  CHECK(j["leaks"].empty());
  CHECK(j["leaks_fail"] == true);
  CHECK(j["errors"].empty());
}

TEST_CASE("nicemu run: a validation failure or an unmet expectation gives exit code 1", "[apps-nicemu][integration]") {
  // Expect more goodput than a 1 Gbit/s link can carry.
  const auto r = run_nicemu({"run", "--quiet", "--set", "links.ab.rate=1G", "--set", "workloads.bulk.bytes=256KiB",
                             "--set", "expect.min-goodput-gbps=50"});
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("result: FAIL") != std::string::npos);
}

TEST_CASE("nicemu run: an RSS context from the scenario spreads the flows a rule sends to it over its queues only",
          "[apps-nicemu][integration]") {
  const RssRun r = run_rss({"hosts.b.nic.rss-contexts=[{indir: {start: 2, equal: 2}}]",
                            "hosts.b.nic.ntuple=[{flow-type: tcp4, dst-ip: 10.0.0.2, action: context 1}]"});
  INFO("stdout:\n" << r.process.out << "\nstderr:\n" << r.process.err);
  REQUIRE(r.process.exit_code == 0);
  // The 8 flows (8 MiB in all) land on queues 2 and 3, both used; 0 and 1 see at most the ARP.
  CHECK(r.b_rx_packets(0) + r.b_rx_packets(1) <= 2);
  CHECK(r.b_rx_packets(2) > 100);
  CHECK(r.b_rx_packets(3) > 100);
  // A rule into a context the scenario does not create is refused when the file is read.
  const RssRun bad = run_rss({"hosts.b.nic.ntuple=[{flow-type: tcp4, dst-port: 5201, action: context 2}]",
                              "hosts.b.nic.rss-contexts=[{indir: {start: 2, equal: 2}}]"});
  CHECK(bad.process.exit_code == 2);
  CHECK(bad.process.err.find("hosts.b.nic.ntuple.0.action: context 2 does not exist; rss-contexts creates 1 to 1") !=
        std::string::npos);
}

TEST_CASE("nicemu run: timeline ethtool creates and deletes RSS contexts through the core's checks",
          "[apps-nicemu][integration]") {
  const RssRun r = run_rss(
      {"timeline=[{at: 5us, ethtool: {host: b, rss-contexts: [{indir: {start: 1, equal: 3}}], ntuple-add: "
       "[{flow-type: tcp4, dst-port: 5201, action: context 1, loc: 4}]}}, "
       "{at: 10us, ethtool: {host: b, rss-context-delete: [1]}}, "
       "{at: 15us, ethtool: {host: b, ntuple-delete: [4], rss-context-delete: [1]}}, "
       "{at: 20us, ethtool: {host: b, rss-context-delete: [1]}}]"});
  INFO("stdout:\n" << r.process.out << "\nstderr:\n" << r.process.err);
  REQUIRE(r.process.exit_code == 0);
  const auto results = r.timeline_results();
  REQUIRE(results.size() == 4);
  CHECK(results[0] == "ok");
  // The kernel's ethtool_check_rss_ctx_busy(): a rule still steers into the context.
  CHECK(results[1].find("ethtool -X context 1 delete: -16 (Device or resource busy)") != std::string::npos);
  CHECK(results[2] == "ok");  // the rule first, then the context
  CHECK(results[3].find("ethtool -X context 1 delete: -2 (No such file or directory)") != std::string::npos);
}

TEST_CASE("nicemu run: a table the scenario sets stays as set when a timeline changes the channel count",
          "[apps-nicemu][integration]") {
  // ethtool -X equal 2 marks the table user-configured (IFF_RXFH_CONFIGURED): a later ethtool -L
  // keeps it instead of spreading over the new queue count.
  const RssRun r = run_rss({"workloads.bulk.bytes=2MiB", "hosts.b.nic.rss={indir: {equal: 2}}",
                            "timeline=[{at: 5us, ethtool: {host: b, channels: {combined: 3}}}]"});
  INFO("stdout:\n" << r.process.out << "\nstderr:\n" << r.process.err);
  REQUIRE(r.process.exit_code == 0);
  REQUIRE(r.b_queues().size() == 3);
  CHECK(r.b_rx_packets(0) > 0);
  CHECK(r.b_rx_packets(1) > 0);
  CHECK(r.b_rx_packets(2) == 0);
}

TEST_CASE("nicemu run: bnxt channels are all combined or all rx/tx, from the scenario and from the timeline",
          "[apps-nicemu][integration]") {
  const RssRun r = run_rss({"hosts.b.nic.channels={combined: 0, rx: 4, tx: 2}",
                            "timeline=[{at: 5us, ethtool: {host: b, channels: {combined: 2}}}, "
                            "{at: 6us, ethtool: {host: b, channels: {combined: 2, rx: 0, tx: 0}, rss: {indir: {equal: 2}}}}, "
                            "{at: 7us, ethtool: {host: b, channels: {rx: 2, tx: 2}}}]"});
  INFO("stdout:\n" << r.process.out << "\nstderr:\n" << r.process.err);
  REQUIRE(r.process.exit_code == 0);
  const auto results = r.timeline_results();
  REQUIRE(results.size() == 3);
  CHECK(results[0] == "ethtool -L: -22 (Invalid argument)");  // rx 4 tx 2 still in force
  CHECK(results[1] == "ok");                                  // back to shared rings
  CHECK(results[2] == "ethtool -L: -22 (Invalid argument)");  // combined 2 in force
  CHECK(r.b_queues().size() == 2);
  // Both kinds at the start: refused when the file is read, with what to write instead.
  const RssRun mixed = run_rss({"hosts.b.nic.channels={rx: 4, tx: 2}"});
  CHECK(mixed.process.exit_code == 2);
  CHECK(mixed.process.err.find("hosts.b.nic.channels: combined and rx/tx channels together are not allowed (combined "
                               "32 is in force); give combined: 0") != std::string::npos);
}

TEST_CASE("nicemu run: hosts' sysctl net.ipv4.tcp_timestamps 0 gives 12 payload bytes more per segment",
          "[apps-nicemu][integration]") {
  // MTU 8244: MSS 8192 with the timestamp option (12 bytes aligned), 8204 without.
  const auto a_to_b = [](const RssRun& r) {
    INFO("stdout:\n" << r.process.out << "\nstderr:\n" << r.process.err);
    REQUIRE(r.process.exit_code == 0);
    return r.json["links"][0]["directions"][0];
  };
  const auto on = a_to_b(run_rss({"workloads.bulk.bytes=8MiB"}));
  const auto off = a_to_b(run_rss({"workloads.bulk.bytes=8MiB", "hosts.a.sysctl={net.ipv4.tcp_timestamps: 0}",
                                   "hosts.b.sysctl={net.ipv4.tcp_timestamps: 0}"}));
  // 8 flows of 8 MiB: 1024 segments each with timestamps, 1023 (1022.5 rounded up) without.
  CHECK(on["tx_frames"].get<std::uint64_t>() - off["tx_frames"].get<std::uint64_t>() == 8);
  CHECK(on["tx_bytes"].get<std::uint64_t>() > off["tx_bytes"].get<std::uint64_t>());
  // A sysctl value the kernel would refuse is refused when the file is read.
  const RssRun bad = run_rss({"hosts.a.sysctl={net.ipv4.tcp_wmem: [4096, 16384, 100]}"});
  CHECK(bad.process.exit_code == 2);
  CHECK(bad.process.err.find("hosts.a.sysctl.net.ipv4.tcp_wmem: expected [min, default, max] with 0 < min <= "
                             "default <= max (bytes)") != std::string::npos);
}

TEST_CASE("nicemu run: expect.drops limits a NIC's drops by the name the report prints", "[apps-nicemu][integration]") {
  // 50 datagrams that an ntuple rule drops in the receiving NIC: rx-steer-drops counts them.
  const std::vector<std::string> base = {
      "run", std::string(NICEMU_CONFIGS_DIR) + "/scenarios/host-memory-rss.yaml", "--quiet", "--set",
      "workloads={dgrams: {type: udp, from: a, to: b, port: 6000, rate: 1G, size: 1000, count: 50}}", "--set",
      "hosts.b.nic.ntuple=[{flow-type: udp4, dst-port: 6000, action: drop}]"};
  auto with = [&](const std::string& drops) { return run_with_set(base, "expect.drops=" + drops); };
  const auto over = with("{rx-steer-drops: 49}");
  INFO("stdout:\n" << over.out << "\nstderr:\n" << over.err);
  CHECK(over.exit_code == 1);
  CHECK(over.out.find("rx-steer-drops     50") != std::string::npos);
  CHECK(over.out.find("FAIL  drops.rx-steer-drops <= 49  50 counted") != std::string::npos);
  const auto within = with("{rx-steer-drops: 50, total: 50}");
  INFO("stdout:\n" << within.out);
  CHECK(within.exit_code == 0);
  CHECK(within.out.find("PASS  drops.rx-steer-drops <= 50  50 counted") != std::string::npos);
}

TEST_CASE("nicemu run: a timeline's ethtool changes go through the core's checks and report its errors",
          "[apps-nicemu][integration]") {
  const std::string json = "/tmp/nicemu-test-run-timeline-ethtool.json";
  const auto r = run_nicemu(
      {"run", std::string(NICEMU_CONFIGS_DIR) + "/scenarios/host-memory-rss.yaml", "--quiet", "--json", json, "--set",
       "workloads.bulk.bytes=1MiB", "--set",
       "timeline=[{at: 10us, ethtool: {host: b, ntuple-add: [{flow-type: tcp4, dst-port: 5201, action: queue 3, loc: "
       "5}]}}, {at: 20us, ethtool: {host: b, channels: {combined: 2}}}, {at: 25us, ethtool: {host: b, channels: "
       "{combined: 2}, rss: {indir: {equal: 2}}}}, {at: 30us, ethtool: {host: b, ntuple-add: "
       "[{flow-type: tcp4, dst-port: 5202, action: queue 1, loc: 100000}]}}, {at: 40us, ethtool: {host: b, "
       "ntuple-delete: [7]}}, {at: 50us, ethtool: {host: b, ntuple-delete: [5]}}, "
       "{at: 60us, ethtool: {host: b, channels: {combined: 2}}}]"});
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);  // refused actions are reported, the run goes on
  const std::string j = slurp(json);
  // Channels below what the table the scenario set (equal 4) uses, then, with the table on 2
  // queues, below a queue a rule uses: ethnl_set_channels' checks in the kernel's order and words.
  CHECK(j.find("ethtool -L: -22 (Invalid argument): requested channel counts are too low for existing indirection "
               "table (3)") != std::string::npos);
  CHECK(j.find("ethtool -L: -22 (Invalid argument): requested channel counts are too low for existing ntuple "
               "filter settings") != std::string::npos);
  CHECK(j.find("ethtool -N insert: -22 (Invalid argument)") != std::string::npos);  // a location past the table
  CHECK(j.find("ethtool -N delete 7: -2 (No such file or directory)") != std::string::npos);
  CHECK(r.out.find("timeline-ok") == std::string::npos);  // not expected unless asked for
  // After the rule is gone and the table spreads over 2 queues, the same shrink is accepted.
  const auto last = j.rfind("\"at_ns\": 60000");
  REQUIRE(last != std::string::npos);
  CHECK(j.find("\"result\": \"ok\"", last) != std::string::npos);
}

TEST_CASE("nicemu run: expect.timeline-ok fails the run when a timeline action is refused", "[apps-nicemu][integration]") {
  const std::vector<std::string> base = {"run", std::string(NICEMU_CONFIGS_DIR) + "/scenarios/host-memory-rss.yaml",
                                         "--quiet", "--set", "workloads.bulk.bytes=1MiB", "--set",
                                         "expect.timeline-ok=true"};
  auto with = [&](const std::string& timeline) { return run_with_set(base, "timeline=" + timeline); };
  const auto bad = with("[{at: 10us, ethtool: {host: b, ntuple-delete: [7]}}]");
  INFO("stdout:\n" << bad.out << "\nstderr:\n" << bad.err);
  CHECK(bad.exit_code == 1);
  const auto row = bad.out.find("FAIL  timeline-ok");
  REQUIRE(row != std::string::npos);
  CHECK(bad.out.find("ethtool b at 10000 ns: ethtool -N delete 7: -2 (No such file or directory)", row) !=
        std::string::npos);
  const auto good = with("[{at: 10us, queue-restart: {host: b, queue: 1}}]");
  INFO("stdout:\n" << good.out);
  CHECK(good.exit_code == 0);
  const auto ok_row = good.out.find("PASS  timeline-ok");
  REQUIRE(ok_row != std::string::npos);
  CHECK(good.out.find("every timeline action succeeded", ok_row) != std::string::npos);
}
