// `nicemu run --threads`: the byte worker (base/byte_worker.hpp) changes wall time only. Every
// scenario of configs/scenarios, and the flagship with corrupted frames on the wire, gives the
// same summary — digest, flows, hosts' counters, drops, devmem figures — with one thread and two.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "nicemu_process.hpp"

using nicemu::testing::run_nicemu;
using Json = nlohmann::json;

namespace {

// The run's JSON summary without what depends on the wall clock.
// `tag` keeps the JSON files of tests that CTest runs at the same time apart.
Json run_with_threads(const std::string& tag, const std::string& threads, std::vector<std::string> args) {
  const std::string json = "/tmp/nicemu-test-threads-" + tag + "-" + threads + ".json";
  args.insert(args.end(), {"--quiet", "--threads", threads, "--json", json});
  const auto r = run_nicemu(args);
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream f(json);
  Json j = Json::parse(f);
  CHECK(j["speed"]["threads"] == std::stoi(threads));
  j.erase("wall_time_s");
  j.erase("speed");
  return j;
}

void same_with_one_and_two_threads(const std::vector<std::string>& args) {
  const Json one = run_with_threads("scenario", "1", args);
  const Json two = run_with_threads("scenario", "2", args);
  CHECK(one["digest"] == two["digest"]);
  CHECK(one["flows"] == two["flows"]);
  CHECK(one["hosts"] == two["hosts"]);
  CHECK(one == two);
}

std::string scenario(const std::string& name) { return std::string(NICEMU_CONFIGS_DIR) + "/scenarios/" + name + ".yaml"; }

}  // namespace

TEST_CASE("nicemu run --threads: each scenario gives the same summary and digest with one thread and two",
          "[apps-nicemu][integration]") {
  SECTION("default (devmem RX, flagship)") {
    same_with_one_and_two_threads({"run", "--set", "workloads.bulk.bytes=4MiB"});
  }
  SECTION("default, the flows sharing one write buffer (8 x 2 MiB is past the per-flow limit)") {
    same_with_one_and_two_threads({"run", "--set", "workloads.bulk.bytes=4MiB", "--set", "workloads.bulk.write-size=2MiB"});
  }
  SECTION("default at MTU 1500") {
    same_with_one_and_two_threads({"run", "--set", "workloads.bulk.bytes=2MiB", "--set",
                                   "links.ab={ends: [a, b], rate: 200G, delay: 10ns, mtu: 1500}"});
  }
  SECTION("devmem-tx") { same_with_one_and_two_threads({"run", scenario("devmem-tx"), "--set", "workloads.bulk.bytes=4MiB"}); }
  SECTION("devmem-bind-unbind") { same_with_one_and_two_threads({"run", scenario("devmem-bind-unbind")}); }
  SECTION("devmem-mixed") {
    same_with_one_and_two_threads({"run", scenario("devmem-mixed"), "--set", "workloads.bulk.bytes=2MiB", "--set",
                                   "workloads.plain.bytes=2MiB"});
  }
  SECTION("host-memory-rss") { same_with_one_and_two_threads({"run", scenario("host-memory-rss")}); }
  SECTION("four-hosts-switch") { same_with_one_and_two_threads({"run", scenario("four-hosts-switch")}); }
}

TEST_CASE("nicemu run --threads: corrupted frames get the same checksum verdicts, drops and retransmits with "
          "one thread and two",
          "[apps-nicemu][integration]") {
  // pass-corrupted: the frame arrives with a flipped byte, so the NIC's L4 check (on the byte
  // worker with two threads) finds it bad and TCP retransmits.
  const std::vector<std::string> args = {
      "run", "--set", "workloads.bulk.bytes=4MiB", "--set",
      "links.ab={ends: [a, b], rate: 200G, delay: 10ns, mtu: 8244, faults: {forward: {corrupt: 0.01, corrupt-mode: pass-corrupted}}}"};
  const Json one = run_with_threads("corrupt", "1", args);
  const Json two = run_with_threads("corrupt", "2", args);
  CHECK(one == two);
  std::uint64_t retransmits = 0;
  for (const auto& f : one["flows"]) retransmits += f["retransmits"].get<std::uint64_t>();
  CHECK(retransmits > 0);
}
