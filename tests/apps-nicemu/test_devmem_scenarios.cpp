// The devmem scenarios of configs/scenarios as `nicemu run` runs them: every byte validated, the
// summary's devmem figures telling the story of each (payload into device memory, devmem TX from
// device memory with completions, bind and unbind under traffic with held tokens, devmem and
// ordinary flows on one NIC), nothing leaked.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "nicemu_process.hpp"

using nicemu::testing::run_nicemu;
using Json = nlohmann::json;

namespace {

// Runs a scenario of configs/scenarios with --json; the parsed summary.
Json run_json(const std::string& scenario, std::vector<std::string> more = {}) {
  const std::string json = "/tmp/nicemu-test-devmem-" + scenario + ".json";
  std::vector<std::string> args = {"run", std::string(NICEMU_CONFIGS_DIR) + "/scenarios/" + scenario + ".yaml", "--quiet",
                                   "--json", json};
  args.insert(args.end(), more.begin(), more.end());
  const auto r = run_nicemu(args);
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream f(json);
  return Json::parse(f);
}

// A counter of a name -> value object (0 when absent).
std::uint64_t counter(const Json& counters, const std::string& name) {
  return counters.contains(name) ? counters[name].get<std::uint64_t>() : 0;
}

const Json& host(const Json& j, const std::string& name) {
  for (const auto& h : j["hosts"]) {
    if (h["name"] == name) return h;
  }
  FAIL("no host " << name);
  return j;
}

void every_byte_validated(const Json& j) {
  for (const auto& f : j["flows"]) {
    CHECK(f["validation_errors"] == 0);
    CHECK(f["bytes_validated"] == f["bytes_sent"]);
    CHECK(f["done"] == true);
  }
  CHECK(j["leaks"].empty());
}

}  // namespace

TEST_CASE("devmem scenario: the default puts every payload byte into device memory, every token comes back, "
          "and the binding is freed at the end",
          "[apps-nicemu][devmem][integration]") {
  const Json j = run_json("default", {"--set", "workloads.bulk.bytes=4MiB"});
  every_byte_validated(j);
  const Json& path = j["data_path"];
  CHECK(path["rx_dma_device_bytes"] == 8u * 4 * 1024 * 1024);  // exactly the payload
  CHECK(path["rx_header_bytes"].get<std::uint64_t>() > 0);
  CHECK(path["line_rate_gbps"] == 200.0);
  const double share = path["goodput_of_line_rate"].get<double>();
  CHECK(share > 0.3);
  CHECK(share < 1.0);
  const Json& b = host(j, "b");
  CHECK(counter(b["devmem"], "bindings_created") == 1);
  CHECK(counter(b["devmem"], "cmsg_frags") == counter(b["devmem"], "tokens_freed"));
  CHECK(counter(b["devmem"], "cmsg_frags") == 8u * 4 * 1024 * 1024 / 4096);  // page-sized frags
  CHECK(counter(b["devmem"], "readable_bytes") == 0);
  CHECK(counter(b["devmem"], "linear_bytes") == 0);
}

TEST_CASE("devmem scenario: devmem TX sends from host a's device memory with zero-copy completions into host b's "
          "device memory",
          "[apps-nicemu][devmem][integration]") {
  const Json j = run_json("devmem-tx", {"--set", "workloads.bulk.bytes=4MiB"});
  every_byte_validated(j);
  const Json& a = host(j, "a");
  CHECK(counter(a["nics"][0]["dma"], "tx_device_bytes") == 4u * 4 * 1024 * 1024);
  CHECK(counter(a["devmem"], "zc_sends") > 0);
  CHECK(counter(a["devmem"], "zc_completions") > 0);
  CHECK(counter(a["devmem"], "zc_copied") == 0);
  CHECK(j["data_path"]["rx_dma_device_bytes"] == 4u * 4 * 1024 * 1024);
}

TEST_CASE("devmem scenario: bind-rx under traffic, then the session closes while tokens are held: the old pools "
          "detach and, with the binding, are released once the tokens come back",
          "[apps-nicemu][devmem][integration]") {
  const Json j = run_json("devmem-bind-unbind");
  every_byte_validated(j);
  for (const auto& t : j["timeline"]) CHECK(t["result"] == "ok");
  const Json& b = host(j, "b");
  CHECK(counter(b["devmem"], "bindings_created") == 1);
  CHECK(counter(b["devmem"], "bindings_unbound") == 1);
  CHECK(counter(b["devmem"], "page_pools_detached") >= 1);
  CHECK(counter(b["devmem"], "readable_bytes") > 0);  // before the bind and after the unbind
  CHECK(counter(b["devmem"], "cmsg_frags") > 0);       // while bound
  CHECK(counter(b["devmem"], "cmsg_frags") == counter(b["devmem"], "tokens_freed"));
  // No leak: the runner's check after the NICs went down found every pool and binding freed.
}

TEST_CASE("devmem scenario: devmem and ordinary flows on one NIC each land where they should",
          "[apps-nicemu][devmem][integration]") {
  const Json j = run_json("devmem-mixed", {"--set", "workloads.bulk.bytes=2MiB", "--set", "workloads.plain.bytes=2MiB"});
  every_byte_validated(j);
  const Json& b = host(j, "b");
  CHECK(counter(b["devmem"], "cmsg_frags") == 4u * 2 * 1024 * 1024 / 4096);
  CHECK(j["data_path"]["rx_dma_device_bytes"] == 4u * 2 * 1024 * 1024);
  CHECK(j["data_path"]["rx_dma_host_bytes"].get<std::uint64_t>() > 4u * 2 * 1024 * 1024);  // the plain flows
}
