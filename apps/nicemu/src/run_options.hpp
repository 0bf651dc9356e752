// run_options.hpp — what `nicemu run` was asked to do, as a plain struct: the command line
// (main.cpp, the only file that includes CLI11) fills it and `cmd_run` acts on it, so the runner
// never sees CLI11 and can be driven from tests or other programs the same way.
//
// Checked by the command line before cmd_run is called: every `--set` has the form KEY=VALUE
// (app::parse_override), every `--pcap` LINK=FILE, --progress and --quiet are not both given.
// Not checked there (cmd_run's job, because it needs the scenario): whether KEY and VALUE make a
// valid scenario, whether LINK names a link, whether the output files can be written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "nicemu/app/scenario.hpp"

namespace nicemu::cli {

// `--pcap LINK=FILE`: capture what both ends of link LINK receive into FILE.
struct PcapRequest {
  std::string link;
  std::filesystem::path path;
};

// How much the run says while it runs (the results at the end are printed either way).
enum class Verbosity : std::uint8_t {
  kNormal,    // a line when the run starts and one when it ends
  kProgress,  // --progress: also a line per simulated millisecond
  kQuiet,     // --quiet: only errors and the final summary
};

struct RunOptions {
  // The scenario file; none: the built-in default (app::default_scenario_yaml()).
  std::optional<std::filesystem::path> scenario;
  // `--set KEY=VALUE`, in command-line order (applied to the YAML tree before it is read).
  std::vector<app::Override> overrides;
  // `--seed N`: replaces the scenario's `seed`; none: the scenario's own (default 1).
  std::optional<std::uint64_t> seed;
  // `--json FILE`: the end-of-run summary as JSON; none: no JSON file.
  std::optional<std::filesystem::path> json_path;
  // `--pcap LINK=FILE`, any number, in command-line order.
  std::vector<PcapRequest> pcaps;
  // `--trace FILE`: Chrome trace-event JSON of packets and control operations; none: no trace.
  std::optional<std::filesystem::path> trace_path;
  // `--trace-packets N`: with --trace, the packets traced from the start of the run (frames
  // 1..N and the first N packets the hosts' stacks send; app::PacketTraceRecorder).
  std::uint64_t trace_packets = kDefaultTracePackets;
  static constexpr std::uint64_t kDefaultTracePackets = 2000;
  // `--explain N`: print the journey of the first N devmem packets (app::ExplainTracer); 0: off.
  std::uint32_t explain = 0;
  // `--threads 1|2`: base::ByteWorker's mode; none: its default (2 with two or more cores).
  std::optional<unsigned> threads;
  Verbosity verbosity = Verbosity::kNormal;
};

// Runs the scenario. Exit codes: 0 the run met its expectations; 1 it ran but an expectation
// failed; 2 a usage or configuration error (nothing ran); 3 the runner is not built (the stub).
int cmd_run(const RunOptions& options);

}  // namespace nicemu::cli
