// `nicemu run` end to end: the built-in default scenario and the four-host switch scenario move
// every byte validated and exit 0; the JSON summary has the fields the issue lists; the same seed
// gives the same digest and another seed another one.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "nicemu_process.hpp"

using nicemu::testing::run_nicemu;

namespace {

std::string digest_of(const std::string& out) {
  const auto p = out.find("digest");
  REQUIRE(p != std::string::npos);
  std::istringstream in(out.substr(p + 6));
  std::string d;
  in >> d;
  return d;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
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
  CHECK(j.find("\"bytes_validated\": 16777216") != std::string::npos);
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

TEST_CASE("nicemu run: the four-host switch scenario delivers every byte validated and exits 0", "[apps-nicemu][integration]") {
  const auto r = run_nicemu({"run", std::string(NICEMU_CONFIGS_DIR) + "/scenarios/four-hosts-switch.yaml", "--quiet"});
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("result: PASS") != std::string::npos);
}

TEST_CASE("nicemu run: a validation failure or an unmet expectation gives exit code 1", "[apps-nicemu][integration]") {
  // Expect more goodput than a 1 Gbit/s link can carry.
  const auto r = run_nicemu({"run", "--quiet", "--set", "links.ab.rate=1G", "--set", "workloads.bulk.bytes=256KiB",
                             "--set", "expect.min-goodput-gbps=50"});
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("result: FAIL") != std::string::npos);
}
