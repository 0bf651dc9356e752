// The `nicemu` command line as a whole: --help of the program and of each subcommand lists the
// options with their defaults; `nicemu run` (the stub until the runner exists) reads the
// scenario and refuses bad options with exit code 2; usage errors name the option.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "nicemu_process.hpp"

using namespace nicemu::testing;

namespace {

void require_help_lists(const std::vector<std::string>& args, const std::vector<std::string>& words) {
  const auto r = run_nicemu(args);
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  for (const std::string& w : words) {
    INFO("looking for " << w);
    CHECK(r.out.find(w) != std::string::npos);
  }
}

void require_usage_error(const ProcessResult& r, const std::string& words1, const std::string& words2 = "") {
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(words1) != std::string::npos);
  CHECK(r.err.find(words2) != std::string::npos);
}

}  // namespace

TEST_CASE("nicemu --help lists the subcommands and the exit codes", "[apps-nicemu][integration]") {
  require_help_lists({"--help"}, {"run", "rss-hash", "steer", "Exit codes", "--version"});
}

TEST_CASE("nicemu run --help lists every option with its default", "[apps-nicemu][integration]") {
  require_help_lists({"run", "--help"}, {"SCENARIO", "--set KEY=VALUE", "--seed N", "--json FILE", "--pcap LINK=FILE",
                                         "--trace FILE", "--progress", "--quiet", "Default: the built-in scenario",
                                         "Default: the scenario's", "Default: no JSON file", "Default: no capture",
                                         "Default: no trace"});
}

TEST_CASE("nicemu rss-hash --help lists every option with its default", "[apps-nicemu][integration]") {
  require_help_lists({"rss-hash", "--help"}, {"--key HEX|default", "--src IP", "--dst IP", "--sport N", "--dport N",
                                              "Default: default, the Microsoft verification key",
                                              "Default: none (2-tuple)", "Required"});
}

TEST_CASE("nicemu steer --help lists every option with its default", "[apps-nicemu][integration]") {
  require_help_lists({"steer", "--help"}, {"SCENARIO", "--profile NAME", "--host H", "--set KEY=VALUE", "--flow FLOW",
                                           "Default: the built-in default scenario", "Default: the host that owns",
                                           "/tcp or /udp", "[ADDR]:PORT"});
}

TEST_CASE("nicemu: no subcommand, an unknown one or an unknown option is a usage error naming it",
          "[apps-nicemu][integration]") {
  require_usage_error(run_nicemu({}), "subcommand");
  require_usage_error(run_nicemu({"fly"}), "fly");
  require_usage_error(run_nicemu({"rss-hash", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--colour"}), "--colour",
                      "nicemu rss-hash --help");
}


// What the command line itself refuses (main.cpp), and configuration errors any cmd_run reports.
TEST_CASE("nicemu run: bad --set, --seed, --pcap and flag combinations are refused with exit code 2",
          "[apps-nicemu][integration]") {
  require_usage_error(run_nicemu({"run", "--set", "seed"}), "--set seed", "=");
  require_usage_error(run_nicemu({"run", "--seed", "-1"}), "--seed -1", "not a seed");
  require_usage_error(run_nicemu({"run", "--seed", "12x"}), "--seed 12x", "not a seed");
  require_usage_error(run_nicemu({"run", "--pcap", "ab"}), "--pcap ab", "LINK=FILE");
  require_usage_error(run_nicemu({"run", "--pcap", "=x.pcap"}), "--pcap =x.pcap", "LINK=FILE");
  require_usage_error(run_nicemu({"run", "--progress", "--quiet"}), "--progress", "excludes");
  require_usage_error(run_nicemu({"run", "--set", "hosts.b.nic.rings.rx=100000"}), "hosts.b.nic.rings.rx",
                      "(set by --set hosts.b.nic.rings.rx=100000)");
  require_usage_error(run_nicemu({"run", "--set", "hosts.zz.nic.rings.rx=1024"}), "hosts.zz");
  require_usage_error(run_nicemu({"run", "--pcap", "nolink=x.pcap"}), "nolink");
  require_usage_error(run_nicemu({"run", "/no/such/file.yaml"}), "/no/such/file.yaml", "cannot open");
}
