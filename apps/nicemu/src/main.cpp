// main.cpp — the `nicemu` program's command line: subcommands `run`, `rss-hash` and `steer`,
// their options, help texts and defaults. The only translation unit that includes CLI11 (it is
// slow to compile): everything here turns argv into the plain option structs of cli.hpp and
// run_options.hpp and calls the command; nothing here models anything.
//
// Exit codes (cli.hpp): 0 success (and --help, --version); 2 a usage error — an unknown option,
// a missing or malformed value — with a sentence naming the option; otherwise the command's own.
// Values CLI11 would convert loosely (a seed of "-1" becomes 2^64-1) are taken as text and
// parsed here or by the command.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "run_options.hpp"

#ifndef NICEMU_VERSION
#define NICEMU_VERSION "unknown"
#endif

namespace nicemu::cli {
namespace {

// What main() collects before it knows which subcommand ran; converted after parsing.
struct RawRun {
  std::string scenario;
  std::vector<std::string> sets, pcaps;
  std::string seed, json, trace, trace_packets, explain, threads;
  bool progress = false, quiet = false;
};

struct RawSteer {
  std::string scenario, profile, host;
  std::vector<std::string> sets, flows;
};

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "nicemu%s%s: %s\nRun 'nicemu%s%s --help' for the options.\n", command.empty() ? "" : " ",
               command.c_str(), message.c_str(), command.empty() ? "" : " ", command.c_str());
  return kExitUsage;
}

// `--set KEY=VALUE` texts -> overrides; false (after printing) on the first bad one.
bool convert_sets(const std::string& command, const std::vector<std::string>& sets, std::vector<app::Override>& out) {
  for (const std::string& text : sets) {
    auto o = app::parse_override(text);
    if (!o) {
      usage_error(command, "--set " + text + ": " + o.error());
      return false;
    }
    out.push_back(*o);
  }
  return true;
}

// A decimal unsigned 64-bit number, digits only.
bool parse_u64(const std::string& text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

int finish_run(const RawRun& raw, const CLI::App& cmd) {
  RunOptions o;
  if (!raw.scenario.empty()) o.scenario = raw.scenario;
  if (!convert_sets("run", raw.sets, o.overrides)) return kExitUsage;
  if (cmd.count("--seed") != 0) {
    std::uint64_t seed = 0;
    if (!parse_u64(raw.seed, seed)) {
      return usage_error("run", "--seed " + raw.seed + ": not a seed; allowed: an integer 0 to 18446744073709551615");
    }
    o.seed = seed;
  }
  if (cmd.count("--json") != 0) o.json_path = raw.json;
  if (cmd.count("--trace") != 0) o.trace_path = raw.trace;
  if (cmd.count("--trace-packets") != 0) {
    if (!parse_u64(raw.trace_packets, o.trace_packets)) {
      return usage_error("run", "--trace-packets " + raw.trace_packets +
                                    ": not a count; allowed: an integer 0 to 18446744073709551615");
    }
    if (cmd.count("--trace") == 0) return usage_error("run", "--trace-packets needs --trace FILE");
  }
  if (cmd.count("--explain") != 0) {
    std::uint64_t n = 0;
    if (!parse_u64(raw.explain, n) || n == 0 || n > 1000) {
      return usage_error("run", "--explain " + raw.explain + ": not a packet count; allowed: an integer 1 to 1000");
    }
    if (cmd.count("--trace") != 0) return usage_error("run", "--explain and --trace each follow packets; use one");
    o.explain = static_cast<std::uint32_t>(n);
  }
  for (const std::string& text : raw.pcaps) {
    const std::size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
      return usage_error("run", "--pcap " + text + ": expected LINK=FILE (a link name of the scenario, '=', a file)");
    }
    o.pcaps.push_back(PcapRequest{text.substr(0, eq), text.substr(eq + 1)});
  }
  if (cmd.count("--threads") != 0) {
    if (raw.threads != "1" && raw.threads != "2") {
      return usage_error("run", "--threads " + raw.threads + ": allowed: 1 or 2");
    }
    o.threads = raw.threads == "1" ? 1u : 2u;
  }
  o.verbosity = raw.progress ? Verbosity::kProgress : raw.quiet ? Verbosity::kQuiet : Verbosity::kNormal;
  return cmd_run(o);
}

int finish_steer(const RawSteer& raw) {
  SteerOptions o;
  if (!raw.scenario.empty()) o.scenario = raw.scenario;
  if (!raw.profile.empty()) o.profile = raw.profile;
  if (!raw.host.empty()) o.host = raw.host;
  if (!convert_sets("steer", raw.sets, o.overrides)) return kExitUsage;
  o.flows = raw.flows;
  return cmd_steer(o);
}

int run_cli(int argc, char** argv) {
  CLI::App app{
      "nicemu: a full-system emulator of a header-splitting, flow-steering multi-queue NIC and a userspace "
      "TCP/IP stack, in simulated time."};
  app.name("nicemu");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("nicemu ") + NICEMU_VERSION, "Print the version and exit");
  app.footer(
      "Exit codes: 0 success; 1 a run whose expectations failed; 2 a usage or configuration error;\n"
      "3 a command that is not built yet. 'nicemu SUBCOMMAND --help' explains each subcommand.");

  // ---- run ----
  RawRun run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a scenario: hosts, links, workloads, a timeline; report the results");
  run_cmd->add_option("SCENARIO", run.scenario,
                      "Scenario file (configs/scenarios/*.yaml; format in configs/README.md). "
                      "Default: the built-in scenario, the same as configs/scenarios/default.yaml")
      ->type_name("FILE");
  run_cmd->add_option("--set", run.sets,
                      "Change one scenario key before it is read, e.g. --set hosts.b.nic.rings.rx=2048 "
                      "(KEY a dotted path, VALUE YAML); repeat for more, applied in order. Default: none")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  run_cmd->add_option("--seed", run.seed, "Seed of every random stream; replaces the scenario's 'seed'. "
                                          "Default: the scenario's (1 when it has none)")
      ->type_name("N");
  run_cmd->add_option("--json", run.json, "Write the end-of-run summary as JSON to FILE. Default: no JSON file")
      ->type_name("FILE");
  run_cmd->add_option("--pcap", run.pcaps,
                      "Capture the frames both ends of link LINK receive into pcap FILE (Wireshark reads it); "
                      "repeat for more links. Default: no capture")
      ->type_name("LINK=FILE")
      ->allow_extra_args(false);
  run_cmd->add_option("--trace", run.trace,
                      "Write a Chrome trace-event JSON of packets and control operations to FILE "
                      "(open in Perfetto): every stage of the first --trace-packets packets, from TCP "
                      "through the NICs and the wire to the receiving socket. Default: no trace")
      ->type_name("FILE");
  run_cmd->add_option("--trace-packets", run.trace_packets,
                      "With --trace: how many packets to trace from the start of the run (frames 1..N and "
                      "the first N packets the hosts send); a run moves about 100k. Default: 2000")
      ->type_name("N");
  run_cmd->add_option("--explain", run.explain,
                      "Print the journey of the first N packets whose payload went into device memory "
                      "(devmem): link, parser, steering, header split, DMA, completion, interrupt, NAPI, "
                      "skb, GRO, TCP, recvmsg cmsg and token, DONTNEED, refill, each with its simulated "
                      "time and the file that implements it. Default: off")
      ->type_name("N");
  run_cmd->add_option("--threads", run.threads,
                      "Threads of the simulator: 2 moves payload bytes (copies, checksums, pattern checks) on a "
                      "second thread; 1 runs everything on one. Results are the same byte for byte. Default: 2 "
                      "on a machine with two or more cores (environment NICEMU_THREADS overrides)")
      ->type_name("N");
  CLI::Option* progress = run_cmd->add_flag(
      "--progress", run.progress, "Print a progress line per simulated millisecond. Default: off");
  CLI::Option* quiet =
      run_cmd->add_flag("--quiet", run.quiet, "Print only errors and the final summary. Default: off");
  progress->excludes(quiet);

  // ---- rss-hash ----
  RssHashOptions hash;
  std::string sport, dport;
  CLI::App* hash_cmd = app.add_subcommand(
      "rss-hash", "Print the Toeplitz RSS hash of a 2-tuple (addresses) or 4-tuple (addresses and ports), "
                  "IPv4 or IPv6, as 0x%08x on the first line");
  hash_cmd->add_option("--key", hash.key,
                       "The 40-byte Toeplitz key: 80 hex digits, ':' or ' ' between bytes allowed "
                       "(6d:5a:56:da:...), or 'default'. Default: default, the Microsoft verification key "
                       "(the NIC model's default)")
      ->type_name("HEX|default");
  hash_cmd->add_option("--src", hash.src, "Source IPv4 or IPv6 address. Required")->type_name("IP")->required();
  hash_cmd->add_option("--dst", hash.dst, "Destination address, same family as --src. Required")
      ->type_name("IP")
      ->required();
  hash_cmd->add_option("--sport", sport,
                       "Source port 0-65535; with --dport the 4-tuple is hashed. Default: none (2-tuple)")
      ->type_name("N");
  hash_cmd->add_option("--dport", dport, "Destination port 0-65535; needs --sport. Default: none (2-tuple)")
      ->type_name("N");

  // ---- steer ----
  RawSteer steer;
  CLI::App* steer_cmd = app.add_subcommand(
      "steer", "Show which RX queue a flow lands on at a NIC and why: the ntuple rule, or the RSS hash, "
               "indirection table index and queue");
  CLI::Option* steer_scenario = steer_cmd->add_option(
      "SCENARIO", steer.scenario,
      "Scenario file whose NIC settings are used. Default: the built-in default scenario (unless --profile)")
      ->type_name("FILE");
  CLI::Option* steer_profile = steer_cmd->add_option(
      "--profile", steer.profile,
      "Use a NIC profile's defaults instead of a scenario: a preset name (configs/nics/NAME.yaml, e.g. bnxt-thor) "
      "or a path to a profile file. Default: none (a scenario)")
      ->type_name("NAME");
  steer_profile->excludes(steer_scenario);
  steer_cmd->add_option("--host", steer.host,
                        "The scenario host whose NIC receives the flows. Default: the host that owns the flow's "
                        "destination address, else the first host")
      ->type_name("H");
  steer_cmd->add_option("--set", steer.sets,
                        "Change one scenario key before it is read (as 'nicemu run --set'); repeat for more. "
                        "Default: none")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  steer_cmd->add_option("--flow", steer.flows,
                        "The flow: SRC:SPORT-DST:DPORT/tcp or /udp (tcp when left out), IPv6 as [ADDR]:PORT, "
                        "e.g. 10.0.0.1:40000-10.0.0.2:5201/tcp; repeat for more flows. Required")
      ->type_name("FLOW")
      ->allow_extra_args(false)
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::vector<CLI::App*> given = app.get_subcommands();
    if (given.empty() && argc > 1 && argv[1][0] != '-') {
      // CLI11 reports only "A subcommand is required" for a word that is not one.
      return usage_error("", std::string("'") + argv[1] + "' is not a subcommand; allowed: run, rss-hash, steer");
    }
    return usage_error(given.empty() ? "" : given.front()->get_name(), e.what());
  }

  if (run_cmd->parsed()) return finish_run(run, *run_cmd);
  if (hash_cmd->parsed()) {
    if (hash_cmd->count("--sport") != 0) hash.sport = sport;
    if (hash_cmd->count("--dport") != 0) hash.dport = dport;
    return cmd_rss_hash(hash);
  }
  if (steer_cmd->parsed()) return finish_steer(steer);
  return usage_error("", "no subcommand given");  // require_subcommand(1) makes this unreachable
}

}  // namespace
}  // namespace nicemu::cli

int main(int argc, char** argv) { return nicemu::cli::run_cli(argc, argv); }
