// nicemu/app/scenario.hpp — a scenario file (configs/scenarios/*.yaml) as plain structs: hosts,
// links, an optional switch, workloads, a timeline of control actions, a stop condition and
// the expectations a run must meet. Nothing here runs anything; the runner builds from it.
//
// The format is described key by key in configs/README.md ("Scenario files"). Reading follows
// the rules of every loader in apps/common (README): errors name the file, line, dotted key and
// what is allowed; unknown and duplicate keys are errors; every error is reported in one pass.
// Hosts, links and workloads are maps keyed by their names, so a name is unique by
// construction and a dotted key such as `hosts.b.nic.rings.rx` names one setting; that is also
// the syntax of overrides (`--set hosts.b.nic.rings.rx=2048`), which are applied to the YAML
// tree before it is read, so an override is checked exactly as if it had been in the file.
//
// NIC settings mirror ethtool: every field is optional and an absent one keeps the profile's
// default (at start) or the current value (in a timeline `ethtool` action).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "nicemu/app/config_error.hpp"
#include "nicemu/base/result.hpp"
#include "nicemu/netstack/tcp/congestion.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/netmem/dma.hpp"
#include "nicemu/nic/hw/header_split.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/nic/hw/ntuple.hpp"
#include "nicemu/nic/hw/profile.hpp"
#include "nicemu/nic/hw/rss.hpp"
#include "nicemu/nic/hw/switch.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::app {

// "10.0.0.1/24", "fd00::1/64".
struct IpPrefix {
  netstack::wire::IpAddress address{};
  std::uint8_t prefix_len = 0;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

// ---- NIC settings (ethtool -L / -G / -X / -N / -C) ------------------------------------------

struct ChannelSettings {  // ethtool -L
  std::optional<std::uint32_t> combined, rx, tx;
};

struct RingSettings {  // ethtool -G
  std::optional<std::uint32_t> rx, tx;
  std::optional<std::uint32_t> rx_buf_len;
  std::optional<nic::hw::TcpDataSplit> tcp_data_split;
  std::optional<std::uint32_t> hds_thresh;
};

// ethtool -X's table builders: `equal N` or `weight w0 w1 ...`, either with `start S`.
struct IndirSpec {
  std::optional<std::uint32_t> equal;  // set: equal N
  std::vector<std::uint32_t> weights;  // non-empty: weight ...
  std::uint32_t start = 0;
};

struct RssSettings {  // ethtool -X and rx-flow-hash
  std::optional<nic::hw::RssKey> key;  // nullopt: "default", the device's key
  std::optional<IndirSpec> indir;
  // rx-flow-hash per flow type: RXH_* bits (none, sd or sdfn), in file order.
  std::vector<std::pair<nic::hw::HashFlow, std::uint32_t>> hash_fields;
};

struct CoalesceSettings {  // ethtool -C
  std::optional<std::uint32_t> rx_usecs, rx_frames;
};

struct NicSettings {
  ChannelSettings channels;
  RingSettings rings;
  RssSettings rss;
  // ethtool -N ... rules; `location` is kRxClsLocAny unless `loc` is given. Masks use the
  // kernel's convention (a set bit must match).
  std::vector<nic::hw::NtupleRule> ntuple;
  CoalesceSettings coalesce;
  // ethtool -X context new [hkey ...] [equal|weight ... start S], one per entry, in list order
  // (key and indir only: rx-flow-hash is per device here). A NIC that has none gives them ids
  // 1, 2, ... in that order; ntuple rules steer into them with `action: context C [queue N]`.
  std::vector<RssSettings> rss_contexts;
};

// ---- devmem (hosts.<name>.devmem) ---------------------------------------------------------------

// A dma-buf the host's devmem control session binds at the start of the run: to RX queues
// (bind-rx) and/or for transmit (bind-tx). Each binding gets its own dma-buf of `dmabuf_bytes`.
struct DevmemSpec {
  std::uint64_t dmabuf_bytes = 64ull << 20;
  netmem::MemoryPlacement placement = netmem::MemoryPlacement::kDeviceMemory;
  std::vector<std::uint32_t> bind_rx;  // RX queues; empty: no RX binding
  bool bind_tx = false;
};

// ---- topology --------------------------------------------------------------------------------

struct CpuSpec {
  std::uint32_t count = 4;
  double ghz = 3.0;
};

// hosts.<name>.sysctl: the TCP knobs of net.ipv4 a host's stack takes (absent: Linux's defaults).
struct TcpSysctl {
  std::optional<std::array<std::uint32_t, 3>> wmem;     // net.ipv4.tcp_wmem: min, default, max
  std::optional<std::array<std::uint32_t, 3>> rmem;     // net.ipv4.tcp_rmem (the max is used)
  std::optional<std::uint32_t> limit_output_bytes;      // net.ipv4.tcp_limit_output_bytes
  std::optional<netstack::tcp::CongestionAlgo> congestion;  // net.ipv4.tcp_congestion_control
  std::optional<bool> sack, timestamps, window_scaling;  // net.ipv4.tcp_{sack,timestamps,window_scaling}
};

struct HostSpec {
  std::string name;
  CpuSpec cpus;
  std::string nic_profile;                   // as written: a preset name or a path
  std::filesystem::path nic_profile_path;    // the file it resolved to
  std::optional<nic::hw::NicProfile> profile;  // loaded (unless ScenarioOptions::load_profiles is false)
  std::vector<IpPrefix> addresses;
  NicSettings nic;
  std::optional<DevmemSpec> devmem;
  TcpSysctl sysctl;
  int line = 0;  // where the host is in the file (for the runner's own messages)
};

struct LinkEnd {
  bool is_switch = false;
  std::string host;                          // !is_switch
  std::optional<std::uint32_t> switch_port;  // is_switch: "switch:N"; nullopt: next free port
  friend bool operator==(const LinkEnd&, const LinkEnd&) = default;
};

struct LinkSpec {
  std::string name;
  std::array<LinkEnd, 2> ends;
  nic::hw::LinkConfig config;  // line rate, propagation delay, MTU
  // Per direction: [0] forward (ends[0] sends to ends[1]), [1] reverse.
  std::array<nic::hw::FaultConfig, 2> faults;
  int line = 0;
};

struct SwitchSpec {
  std::uint32_t ports = 0;
  nic::hw::SwitchConfig config;  // output buffer bytes, forwarding latency
};

// ---- workloads -------------------------------------------------------------------------------

struct BulkTcp {
  std::optional<std::uint64_t> bytes;      // per flow; exactly one of bytes / duration
  std::optional<sim::Duration> duration;
  std::uint32_t flows = 1;
  std::uint64_t write_size_bytes = 64 * 1024;
  std::uint64_t pattern_seed = 1;  // the byte pattern; flow i uses stream (pattern_seed, i)
  bool validate = true;            // the receiver checks every byte against the pattern
  // devmem-rx: the receiver reads with recvmsg(MSG_SOCK_DEVMEM), checks each frag through its
  // dma-buf mapping and returns the tokens with SO_DEVMEM_DONTNEED (the receiving host needs
  // devmem.bind-rx); `dontneed_delay` holds the tokens that long first.
  bool devmem_rx = false;
  sim::Duration dontneed_delay = sim::Duration::zero();
  // devmem-tx: the sender writes the pattern into its TX dma-buf and sends from there with
  // MSG_ZEROCOPY and SCM_DEVMEM_DMABUF, reusing a region once its completion came (the sending
  // host needs devmem.bind-tx).
  bool devmem_tx = false;
};

struct RequestResponseTcp {
  std::uint64_t request_bytes = 0;
  std::uint64_t response_bytes = 0;
  std::uint64_t count = 0;        // transactions in all
  std::uint32_t concurrency = 1;  // connections, each with one transaction outstanding
};

struct UdpStream {
  std::uint64_t rate_bps = 0;  // payload rate
  std::uint64_t size_bytes = 0;  // payload bytes per datagram
  std::uint64_t count = 0;
};

struct WorkloadSpec {
  std::string name;
  std::string from, to;  // host names: client / sender and server / receiver
  std::uint16_t port = 0;  // the server's port; flow i of bulk-tcp uses port + i
  netstack::wire::IpVersion family = netstack::wire::IpVersion::kV4;
  sim::Duration start = sim::Duration::zero();
  std::variant<BulkTcp, RequestResponseTcp, UdpStream> params;
  int line = 0;
};

// ---- timeline --------------------------------------------------------------------------------

struct EthtoolAction {
  std::string host;
  NicSettings changes;                      // ntuple: rules to add
  std::vector<std::uint32_t> ntuple_delete;  // rule locations to delete (applied before adds)
  std::vector<std::uint32_t> rss_context_delete;  // ethtool -X context C delete (after ntuple-delete)
};

struct QueueRestartAction {
  std::string host;
  std::uint32_t queue = 0;
};

// The queue management step a fault knob makes fail (netdev_queue_mgmt_ops; rollback_start is
// the start of the old memory after the new one failed).
enum class FaultOp : std::uint8_t { kMemAlloc, kMemFree, kStart, kStop, kRollbackStart };
const char* to_string(FaultOp op);

struct FaultMode {
  enum class Kind : std::uint8_t { kOff, kOnce, kEvery, kFrom };
  Kind kind = Kind::kOnce;
  std::uint32_t every = 0;                     // kEvery: every Nth call fails
  sim::Duration from = sim::Duration::zero();  // kFrom: every call at or after this time fails
};

struct QueueFaultAction {
  std::string host;
  FaultOp op = FaultOp::kMemAlloc;
  std::uint32_t queue = 0;
  FaultMode mode;
};

enum class LinkDirection : std::uint8_t { kForward, kReverse, kBoth };

// Replaces the fault settings of one or both directions; probabilities left out are 0, so
// `link-faults: {link: x}` turns faults off.
struct LinkFaultAction {
  std::string link;
  LinkDirection direction = LinkDirection::kBoth;
  nic::hw::FaultConfig faults;
};

struct CarrierAction {
  std::string link;
  bool up = true;
};

// A devmem control operation on a host: bind-rx of `queues` to a fresh dma-buf, or unbind
// (closing the host's control session: every binding it made goes).
struct DevmemAction {
  enum class Op : std::uint8_t { kBindRx, kUnbind };
  std::string host;
  Op op = Op::kBindRx;
  std::vector<std::uint32_t> queues;
};

using TimelineAction =
    std::variant<EthtoolAction, QueueRestartAction, QueueFaultAction, LinkFaultAction, CarrierAction, DevmemAction>;

struct TimelineEvent {
  sim::Duration at = sim::Duration::zero();
  TimelineAction action;
  int line = 0;
};

// ---- end of the run --------------------------------------------------------------------------

struct StopCondition {
  enum class When : std::uint8_t { kWorkloadsDone, kTime };
  When when = When::kWorkloadsDone;
  // kTime: when the run stops. kWorkloadsDone: the limit; reaching it with a workload unfinished
  // fails the run.
  sim::Duration time = sim::Duration::from_s(10);
};

// What the run must meet; an unmet expectation makes the exit code non-zero. Without an
// `expect` map: validation-errors 0, no-leaks true, workloads-done true.
struct Expectations {
  std::optional<std::uint64_t> max_validation_errors;  // validation-errors
  std::optional<double> min_goodput_gbps;             // every flow at least this
  std::optional<bool> no_leaks;                       // nothing in flight or leaked at the end
  std::optional<bool> workloads_done;                 // every workload finished
  std::optional<bool> timeline_ok;                    // every timeline action succeeded
  // drops: reason -> the most allowed ("total" for all reasons together).
  std::vector<std::pair<std::string, std::uint64_t>> max_drops;
};
// The reasons `expect.drops` accepts: "total" and every reason a report can name
// (drop_reasons.hpp: the link's, the switch's, the NIC's, the queues' and the stack's).
const std::vector<std::string_view>& expect_drop_reasons();

struct Scenario {
  std::string name;         // "" unless the file names itself
  std::string description;
  std::uint64_t seed = 1;
  std::vector<HostSpec> hosts;  // in file order
  std::vector<LinkSpec> links;
  std::optional<SwitchSpec> switch_;
  std::vector<WorkloadSpec> workloads;
  std::vector<TimelineEvent> timeline;  // sorted by time (stable: same time keeps file order)
  StopCondition stop;
  Expectations expect;

  const HostSpec* host(std::string_view name) const;
  const LinkSpec* link(std::string_view name) const;
};

// ---- reading ---------------------------------------------------------------------------------

// One `--set KEY=VALUE`: KEY is a dotted path (list items by index: `timeline.0.at`), VALUE is
// YAML (`2048`, `enabled`, `[1, 2]`, `{drop: 0.01}`).
struct Override {
  std::string key;
  std::string value;
};
// "KEY=VALUE" -> Override; an error sentence when there is no '=' or the key is empty.
base::Result<Override, std::string> parse_override(std::string_view text);

struct ScenarioOptions {
  // Where `nics/<name>.yaml` presets live; empty: the source tree's configs/ (build-time path).
  std::filesystem::path configs_dir;
  // Applied in order to the YAML tree before it is read. A path through a key or list item
  // that does not exist is an error; the last key may be new (then the reader judges it).
  std::vector<Override> overrides;
  // Load each host's NIC profile and check the NIC settings against it.
  bool load_profiles = true;
};

using ScenarioResult = base::Result<Scenario, ConfigErrors>;

// Reads and checks the scenario in `path`; errors name `path` as given. Profile paths are
// relative to the scenario file's folder.
ScenarioResult load_scenario(const std::filesystem::path& path, const ScenarioOptions& options = {});
// The same for text in memory; errors name `source_name`; profile paths are relative to the
// current directory.
ScenarioResult parse_scenario(std::string_view yaml_text, std::string_view source_name,
                              const ScenarioOptions& options = {});

// The scenario `nicemu run` uses without a file: two hosts a and b, one 100 Gbit/s link, header
// split on, 4 combined channels, bulk TCP flows spread by RSS, every byte validated, stop when
// the flows are done. configs/scenarios/default.yaml holds the same text (a test checks).
std::string_view default_scenario_yaml();

}  // namespace nicemu::app
