// The run report (apps/common report.hpp): the verdict and its reasons, the speed figures, the
// summary table and the JSON summary, checked on hand-built reports.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "nicemu/app/report.hpp"

using namespace nicemu::app;
using Json = nlohmann::json;

namespace {

// Two hosts, a bulk flow, an rr flow and a udp flow, one link, drops in four places.
RunReport sample_report() {
  RunReport r;
  r.scenario = "devmem-basic";
  r.seed = 42;
  r.sim_time_ns = 2'500'000'000;  // 2.5 s
  r.wall_time_s = 5.0;
  r.digest = "9f3a0c1d22e4b5a6";

  FlowReport bulk;
  bulk.workload = "bulk";
  bulk.index = 0;
  bulk.kind = FlowKind::kBulkTcp;
  bulk.from = "a";
  bulk.to = "b";
  bulk.tuple = "10.0.0.1:49152 -> 10.0.0.2:5201";
  bulk.bytes_sent = 1'000'000'000;
  bulk.bytes_received = 1'000'000'000;
  bulk.bytes_validated = 999'000'000;
  bulk.validation_errors = 0;
  bulk.goodput_gbps = 8.0;
  bulk.retransmits = 17;
  bulk.start_ns = 0;
  bulk.end_ns = 1'000'000'000;
  bulk.done = true;
  r.flows.push_back(bulk);

  FlowReport rr;
  rr.workload = "rpc";
  rr.index = 1;
  rr.kind = FlowKind::kRrTcp;
  rr.from = "a";
  rr.to = "b";
  rr.bytes_sent = 64'000;
  rr.bytes_received = 250'000'000;
  rr.transactions = 1000;
  rr.latency_p50_ns = 12'345;
  rr.latency_p99_ns = 45'678;
  rr.done = true;
  r.flows.push_back(rr);

  FlowReport udp;
  udp.workload = "video";
  udp.index = 0;
  udp.kind = FlowKind::kUdp;
  udp.from = "b";
  udp.to = "a";
  udp.datagrams_sent = 100;
  udp.datagrams_received = 97;
  udp.datagrams_lost = 3;
  r.flows.push_back(udp);

  HostReport a;
  a.name = "a";
  a.cpu_busy = {0.25, 0.5};
  a.tcp = {{"segs_in", 10}, {"segs_out", 20}, {"retransmits", 17}};
  r.hosts.push_back(a);

  HostReport b;
  b.name = "b";
  b.cpu_busy = {0.125};
  b.stack_drops = {{"no-socket", 4}, {"bad-checksum", 0}};
  NicReport nic;
  nic.name = "eth0";
  nic.profile = "gve-dqo";
  nic.rx = {{"packets", 3000}, {"bytes", 4'500'000}, {"alloc_fail", 0}, {"csum_unnecessary", 2990}};
  nic.tx = {{"packets", 1500}, {"bytes", 99'000}};
  nic.drops = {{"rx-fifo-drops", 12}, {"rx-steer-drops", 0}};
  for (std::uint32_t qi = 0; qi < 2; ++qi) {
    QueueReport q;
    q.index = qi;
    q.rx = {{"packets", 1500}, {"bytes", 2'250'000}, {"alloc_fail", 0}, {"csum_unnecessary", 1495}};
    q.tx = {{"packets", 750}, {"bytes", 49'500}};
    q.napi_id = 8193 + qi;
    q.irqs = 100 + qi;
    q.polls = 200 + qi;
    PagePoolReport hdr;
    hdr.id = 2 * qi + 1;
    hdr.provider = "host";
    hdr.role = "header";
    hdr.stats = {{"alloc_fast", 5000}, {"alloc_slow", 8}, {"recycle_ring", 4990}};
    hdr.inflight = 1024;
    hdr.hold_cnt = 2048;
    hdr.release_cnt = 1024;
    q.page_pools.push_back(hdr);
    PagePoolReport payload = hdr;
    payload.id = 2 * qi + 2;
    payload.provider = "dmabuf";
    payload.role = "payload";
    payload.inflight = 7;
    q.page_pools.push_back(payload);
    nic.queues.push_back(q);
  }
  nic.queues[1].drops = {{"hw-drop-overruns", 2}};
  b.nics.push_back(nic);
  r.hosts.push_back(b);

  LinkReport l;
  l.name = "ab";
  LinkDirectionReport fwd;
  fwd.from = "a";
  fwd.to = "b";
  fwd.tx_frames = 3010;
  fwd.tx_bytes = 4'600'000;
  fwd.rx_frames = 3000;
  fwd.rx_bytes = 4'580'000;
  fwd.drops = {{"fault-drop", 10}};
  fwd.faults = {{"corrupted", 0}, {"duplicated", 5}, {"reordered", 0}};
  fwd.utilisation = 0.4;
  LinkDirectionReport rev;
  rev.from = "b";
  rev.to = "a";
  rev.tx_frames = 1500;
  rev.rx_frames = 1500;
  l.directions = {fwd, rev};
  r.links.push_back(l);

  r.expectations.push_back({"validation-errors <= 0", true, "0"});
  r.expectations.push_back({"workloads-done", true, "3 of 3 flows done"});
  return r;
}

// A report in which nothing was dropped and nothing fails.
RunReport clean_report() {
  RunReport r = sample_report();
  r.hosts[1].stack_drops.clear();
  r.hosts[1].nics[0].drops = {{"rx-fifo-drops", 0}};
  r.hosts[1].nics[0].queues[1].drops.clear();
  r.links[0].directions[0].drops.clear();
  return r;
}

}  // namespace

// ---- verdict ---------------------------------------------------------------------------------

TEST_CASE("apps-report: a clean report passes and has no failure reasons", "[apps-report][unit]") {
  const RunReport r = sample_report();
  CHECK(r.passed());
  CHECK(r.failure_reasons().empty());
}

TEST_CASE("apps-report: one validation error fails the run", "[apps-report][unit]") {
  RunReport r = sample_report();
  r.flows[0].validation_errors = 1;
  CHECK_FALSE(r.passed());
  REQUIRE(r.failure_reasons().size() == 1);
  CHECK(r.failure_reasons()[0] == "1 validation error");
}

TEST_CASE("apps-report: validation errors up to expect.validation-errors pass, one more fails",
          "[apps-report][unit]") {
  RunReport r = sample_report();
  r.max_validation_errors = 3;
  r.flows[0].validation_errors = 2;
  r.flows[2].validation_errors = 1;
  CHECK(r.passed());
  r.flows[2].validation_errors = 2;
  CHECK_FALSE(r.passed());
  CHECK(r.failure_reasons()[0] == "4 validation errors (at most 3 allowed)");
}

TEST_CASE("apps-report: a leak fails the run unless expect.no-leaks is false", "[apps-report][unit]") {
  RunReport r = sample_report();
  r.leaks.push_back("host b queue 1 pool 4: 7 pages inflight after teardown");
  CHECK_FALSE(r.passed());
  CHECK(r.failure_reasons() == std::vector<std::string>{"1 leak"});
  r.leaks_fail = false;
  CHECK(r.passed());
  CHECK_THAT(format_summary(r), Catch::Contains("leaks (allowed: expect.no-leaks is false)") &&
                                    Catch::Contains("7 pages inflight after teardown") &&
                                    Catch::Contains("result: PASS"));
}

TEST_CASE("apps-report: a failed expectation fails the run and is named", "[apps-report][unit]") {
  RunReport r = sample_report();
  r.expectations.push_back({"min-goodput >= 20 Gbit/s", false, "flow bulk/0: 8.000 Gbit/s"});
  CHECK_FALSE(r.passed());
  CHECK(r.failure_reasons() == std::vector<std::string>{"expectation failed: min-goodput >= 20 Gbit/s"});
}

TEST_CASE("apps-report: a runner error fails the run", "[apps-report][unit]") {
  RunReport r = sample_report();
  r.errors.push_back("queue 1 of host b is unhealthy: restart and rollback both failed");
  CHECK_FALSE(r.passed());
  CHECK(r.failure_reasons() == std::vector<std::string>{"1 error"});
}

// ---- arithmetic ------------------------------------------------------------------------------

TEST_CASE("apps-report: speed is simulated seconds and payload Gbit per wall-clock second",
          "[apps-report][unit]") {
  RunReport r = sample_report();
  // payload: 1e9 + 2.5e8 + 0 received bytes = 10 Gbit over 5 wall seconds.
  CHECK(r.payload_bytes() == 1'250'000'000u);
  CHECK(r.sim_seconds_per_wall_second() == Approx(0.5));
  CHECK(r.payload_gbit_per_wall_second() == Approx(2.0));
  r.wall_time_s = 0;
  CHECK(r.sim_seconds_per_wall_second() == 0.0);
  CHECK(r.payload_gbit_per_wall_second() == 0.0);
}

TEST_CASE("apps-report: goodput is bits over the flow's interval", "[apps-report][unit]") {
  CHECK(goodput_gbps(1'250'000'000, 0, 1'000'000'000) == Approx(10.0));
  CHECK(goodput_gbps(1000, 500, 500) == 0.0);
  CHECK(goodput_gbps(1000, 600, 500) == 0.0);
}

TEST_CASE("apps-report: drops are listed where they were counted and summed by reason",
          "[apps-report][unit]") {
  RunReport r = sample_report();
  r.switch_ = SwitchReport{"sw", {{"learned", 2}}, {{"output-buffer-full", 6}, {"fault-drop", 1}}};
  const std::vector<DropRecord> d = r.drops_by_place();
  REQUIRE(d.size() == 6);  // zero counters are left out
  CHECK(d[0].place == "host b stack");
  CHECK(d[0].reason == "no-socket");
  CHECK(d[0].count == 4);
  CHECK(d[1].place == "host b nic eth0");
  CHECK(d[1].reason == "rx-fifo-drops");
  CHECK(d[2].place == "host b nic eth0 queue 1");
  CHECK(d[3].place == "link ab a->b");
  CHECK(d[4].place == "switch sw");
  CHECK(d[4].reason == "output-buffer-full");
  CHECK(d[5].reason == "fault-drop");
  const Counters by_reason = r.drops_by_reason();
  CHECK(counter_value(by_reason, "fault-drop") == 11);  // link 10 + switch 1
  CHECK(counter_value(by_reason, "rx-fifo-drops") == 12);
  CHECK(counters_total(by_reason) == 4 + 12 + 2 + 10 + 6 + 1);
  CHECK(by_reason.front().first == "no-socket");  // first appearance order
}

// ---- the table -------------------------------------------------------------------------------

TEST_CASE("apps-report: the summary table shows the header, speed, flows and verdict", "[apps-report][unit]") {
  const std::string t = format_summary(sample_report());
  CHECK_THAT(t, Catch::StartsWith("nicemu run: devmem-basic\n"));
  CHECK_THAT(t, Catch::Contains("seed            42"));
  CHECK_THAT(t, Catch::Contains("2.500000000 s"));
  CHECK_THAT(t, Catch::Contains("9f3a0c1d22e4b5a6"));
  CHECK_THAT(t, Catch::Contains("speed: 0.5 simulated s per wall s, 2 Gbit simulated payload per wall s"));
  // One row per flow with its numbers.
  CHECK_THAT(t, Catch::Contains("bulk/0   bulk-tcp  a->b"));
  CHECK_THAT(t, Catch::Contains("1000000000  1000000000  999000000"));
  CHECK_THAT(t, Catch::Contains("8.000"));
  CHECK_THAT(t, Catch::Contains("rpc/1: 1000 transactions, latency p50 12.345 us, p99 45.678 us"));
  CHECK_THAT(t, Catch::Contains("video/0: datagrams sent 100, received 97, lost 3"));
  CHECK_THAT(t, Catch::Contains("PASS  validation-errors <= 0"));
  CHECK_THAT(t, Catch::EndsWith("\nresult: PASS\n"));
}

TEST_CASE("apps-report: the summary table lists every non-zero drop with its place and reason",
          "[apps-report][unit]") {
  const std::string t = format_summary(sample_report());
  const auto drops = t.find("\ndrops\n");
  REQUIRE(drops != std::string::npos);
  const std::string section = t.substr(drops, t.find("\nexpectations\n") - drops);
  CHECK_THAT(section, Catch::Contains("host b stack") && Catch::Contains("no-socket"));
  CHECK_THAT(section, Catch::Contains("host b nic eth0          rx-fifo-drops        12\n"));
  CHECK_THAT(section, Catch::Contains("host b nic eth0 queue 1  hw-drop-overruns      2\n"));
  CHECK_THAT(section, Catch::Contains("link ab a->b") && Catch::Contains("fault-drop"));
  CHECK_THAT(section, Catch::Contains("total 28: no-socket 4, rx-fifo-drops 12, hw-drop-overruns 2, fault-drop 10"));
  CHECK_THAT(section, !Catch::Contains("rx-steer-drops") && !Catch::Contains("bad-checksum"));
  CHECK_THAT(section, !Catch::Contains("none"));
}

TEST_CASE("apps-report: the summary table says none when nothing was dropped", "[apps-report][unit]") {
  const std::string t = format_summary(clean_report());
  CHECK_THAT(t, Catch::Contains("\ndrops\n  none\n"));
  CHECK_THAT(t, Catch::Contains("\nleaks\n  none\n"));
}

TEST_CASE("apps-report: the summary table shows FAIL with every reason", "[apps-report][unit]") {
  RunReport r = sample_report();
  r.flows[0].validation_errors = 3;
  r.leaks.push_back("host b: 2 tokens never returned");
  r.expectations.push_back({"drops.total <= 0", false, "28 drops"});
  const std::string t = format_summary(r);
  CHECK_THAT(t, Catch::Contains("FAIL  drops.total <= 0") && Catch::Contains("28 drops"));
  CHECK_THAT(t, Catch::Contains("\nleaks\n  - host b: 2 tokens never returned\n"));
  CHECK_THAT(t, Catch::EndsWith(
                    "\nresult: FAIL (3 validation errors; 1 leak; expectation failed: drops.total <= 0)\n"));
}

TEST_CASE("apps-report: qstats are a table of non-zero counters by queue with the device total",
          "[apps-report][unit]") {
  const std::string t = format_summary(sample_report());
  CHECK_THAT(t, Catch::Contains("host b: 1 CPU, busy 12.5%"));
  CHECK_THAT(t, Catch::Contains("host a: 2 CPUs, busy 25.0% 50.0%"));
  CHECK_THAT(t, Catch::Contains("  tcp: segs_in 10, segs_out 20, retransmits 17\n"));
  CHECK_THAT(t, Catch::Contains("  nic eth0 (gve-dqo)\n"));
  CHECK_THAT(t, Catch::Contains("    qstats                 total       q0       q1\n"));
  CHECK_THAT(t, Catch::Contains("    rx packets              3000     1500     1500\n"));
  CHECK_THAT(t, Catch::Contains("    rx csum_unnecessary     2990     1495     1495\n"));
  CHECK_THAT(t, Catch::Contains("    tx bytes               99000    49500    49500\n"));
  CHECK_THAT(t, Catch::Contains("    napi id                    -     8193     8194\n"));
  CHECK_THAT(t, Catch::Contains("    irqs                       -      100      101\n"));
  CHECK_THAT(t, !Catch::Contains("alloc_fail"));  // zero everywhere
}

TEST_CASE("apps-report: page pools show provider, inflight, hold and release and their stats",
          "[apps-report][unit]") {
  const std::string t = format_summary(sample_report());
  CHECK_THAT(t, Catch::Contains("    page pools    q0 pp1   q0 pp2  q1 pp3   q1 pp4\n"));
  CHECK_THAT(t, Catch::Contains("    provider        host   dmabuf    host   dmabuf\n"));
  CHECK_THAT(t, Catch::Contains("    inflight        1024        7    1024        7\n"));
  CHECK_THAT(t, Catch::Contains("    alloc_fast      5000     5000    5000     5000\n"));
}

TEST_CASE("apps-report: a NIC with many queues is cut into blocks that fit 100 columns",
          "[apps-report][unit]") {
  RunReport r = sample_report();
  NicReport& nic = r.hosts[1].nics[0];
  while (nic.queues.size() < 16) {
    QueueReport q = nic.queues[0];
    q.index = static_cast<std::uint32_t>(nic.queues.size());
    nic.queues.push_back(q);
  }
  const std::string t = format_summary(r);
  std::istringstream lines(t);
  std::string line;
  std::size_t widest = 0;
  while (std::getline(lines, line)) widest = std::max(widest, line.size());
  CHECK(widest <= 100);
  CHECK_THAT(t, Catch::Contains("q15"));
  CHECK_THAT(t, Catch::Contains("q15 pp2"));
}

TEST_CASE("apps-report: a progress line gives simulated time, payload and speed", "[apps-report][unit]") {
  CHECK(format_progress(250'000'000, 2'500'000'000, 1.25) ==
        "progress: sim 0.250000000 s, payload 2.50 GB, wall 1.25 s, speed: 0.2 simulated s per wall s, "
        "16 Gbit simulated payload per wall s");
}

// ---- JSON ------------------------------------------------------------------------------------

TEST_CASE("apps-report: the JSON summary has every key the issue lists with the report's values",
          "[apps-report][unit]") {
  const Json j = Json::parse(to_json(sample_report()));
  CHECK(j.at("scenario") == "devmem-basic");
  CHECK(j.at("seed") == 42);
  CHECK(j.at("sim_time_ns") == 2'500'000'000u);
  CHECK(j.at("wall_time_s").get<double>() == 5.0);
  CHECK(j.at("digest") == "9f3a0c1d22e4b5a6");
  CHECK(j.at("passed") == true);
  CHECK(j.at("speed").at("sim_seconds_per_wall_second").get<double>() == Approx(0.5));
  CHECK(j.at("speed").at("payload_gbit_per_wall_second").get<double>() == Approx(2.0));

  const Json& f = j.at("flows").at(0);
  CHECK(f.at("workload") == "bulk");
  CHECK(f.at("kind") == "bulk-tcp");
  CHECK(f.at("tuple") == "10.0.0.1:49152 -> 10.0.0.2:5201");
  CHECK(f.at("bytes_sent") == 1'000'000'000u);
  CHECK(f.at("bytes_received") == 1'000'000'000u);
  CHECK(f.at("bytes_validated") == 999'000'000u);
  CHECK(f.at("validation_errors") == 0);
  CHECK(f.at("goodput_gbps").get<double>() == 8.0);
  CHECK(f.at("retransmits") == 17);
  CHECK(f.at("done") == true);
  CHECK(j.at("flows").at(1).at("latency_p99_ns") == 45'678);
  CHECK(j.at("flows").at(2).at("datagrams_lost") == 3);

  const Json& nic = j.at("hosts").at(1).at("nics").at(0);
  CHECK(nic.at("profile") == "gve-dqo");
  CHECK(nic.at("qstats").at("rx").at("csum_unnecessary") == 2990);
  CHECK(nic.at("drops").at("rx-fifo-drops") == 12);
  const Json& q1 = nic.at("queues").at(1);
  CHECK(q1.at("index") == 1);
  CHECK(q1.at("napi_id") == 8194);
  CHECK(q1.at("qstats").at("rx").at("packets") == 1500);
  CHECK(q1.at("qstats").at("tx").at("bytes") == 49'500);
  CHECK(q1.at("drops").at("hw-drop-overruns") == 2);
  const Json& pool = q1.at("page_pools").at(1);
  CHECK(pool.at("id") == 4);
  CHECK(pool.at("provider") == "dmabuf");
  CHECK(pool.at("inflight") == 7);
  CHECK(pool.at("stats").at("alloc_fast") == 5000);
  CHECK(j.at("hosts").at(1).at("drops").at("no-socket") == 4);
  CHECK(j.at("hosts").at(0).at("cpu_busy").at(1).get<double>() == 0.5);

  CHECK(j.at("links").at(0).at("directions").at(0).at("drops").at("fault-drop") == 10);
  CHECK(j.at("switch").is_null());
  CHECK(j.at("drops").at("rx-fifo-drops") == 12);
  CHECK(j.at("drops_by_place").size() == 4);
  CHECK(j.at("expectations").at(1).at("name") == "workloads-done");
  CHECK(j.at("expectations").at(1).at("passed") == true);
  CHECK(j.at("leaks").empty());
  CHECK(j.at("errors").empty());
}

TEST_CASE("apps-report: the JSON summary keeps a fixed key order and is identical for identical reports",
          "[apps-report][unit]") {
  const std::string text = to_json(sample_report());
  CHECK(text == to_json(sample_report()));
  CHECK_THAT(text, Catch::StartsWith("{\n  \"scenario\": \"devmem-basic\",\n  \"seed\": 42,\n  \"sim_time_ns\":"));
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  CHECK(keys == std::vector<std::string>{"scenario", "seed", "sim_time_ns", "wall_time_s", "digest", "passed",
                                         "failure_reasons", "speed", "data_path", "flows", "hosts", "links", "switch", "drops",
                                         "drops_by_place", "expectations", "timeline", "leaks", "leaks_fail",
                                         "max_validation_errors", "errors"});
}

TEST_CASE("apps-report: the JSON summary lists the timeline's actions and each NIC's queue restarts",
          "[apps-report][unit]") {
  RunReport r = sample_report();
  r.timeline.push_back({4000000, "queue-restart b 1", "ok"});
  r.timeline.push_back({6000000, "queue-fault b start", "-5 (Input/output error)"});
  r.hosts[1].nics[0].queue_restart = {{"calls", 2}, {"restarts", 1}, {"failures", 1}};
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(to_json(r));
  REQUIRE(j.at("timeline").size() == 2);
  CHECK(j.at("timeline").at(0).at("at_ns") == 4000000);
  CHECK(j.at("timeline").at(0).at("action") == "queue-restart b 1");
  CHECK(j.at("timeline").at(0).at("result") == "ok");
  CHECK(j.at("timeline").at(1).at("result") == "-5 (Input/output error)");
  const auto& qr = j.at("hosts").at(1).at("nics").at(0).at("queue_restart");
  CHECK(qr.at("restarts") == 1);
  CHECK(qr.at("failures") == 1);
}

TEST_CASE("apps-report: the JSON summary of a failed run says why", "[apps-report][unit]") {
  RunReport r = sample_report();
  r.flows[0].validation_errors = 2;
  r.leaks.push_back("pool \"7\"\tleaked\n");
  r.switch_ = SwitchReport{"sw", {{"learned", 2}}, {{"filtered", 1}}};
  const Json j = Json::parse(to_json(r));
  CHECK(j.at("passed") == false);
  CHECK(j.at("failure_reasons") == Json::array({"2 validation errors", "1 leak"}));
  CHECK(j.at("leaks").at(0) == "pool \"7\"\tleaked\n");
  CHECK(j.at("switch").at("drops").at("filtered") == 1);
  CHECK(j.at("switch").at("counters").at("learned") == 2);
  CHECK(j.at("flows").at(0).at("validation_errors") == 2);
}

TEST_CASE("apps-report: bytes in a name that are not UTF-8 do not stop the JSON summary",
          "[apps-report][unit]") {
  RunReport r = sample_report();
  r.hosts[0].name = "bad\xff";
  const Json j = Json::parse(to_json(r));
  CHECK(j.at("hosts").at(0).at("name") == "bad\xef\xbf\xbd");  // U+FFFD
}

TEST_CASE("apps-report: write_json_file writes the summary and names the file when it cannot",
          "[apps-report][unit]") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "nicemu-apps-report-json";
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "summary.json";
  std::string error;
  REQUIRE(write_json_file(sample_report(), file, &error));
  CHECK(error.empty());
  std::ifstream in(file);
  const Json j = Json::parse(in);
  CHECK(j.at("seed") == 42);

  const std::filesystem::path bad = dir / "no-such-dir" / "summary.json";
  CHECK_FALSE(write_json_file(sample_report(), bad, &error));
  CHECK_THAT(error, Catch::Contains(bad.string()) && Catch::Contains("No such file"));
  std::filesystem::remove_all(dir);
}
