// nicemu/app/report.hpp — what a run reports at its end: flows, hosts with their NICs, queues and
// page pools, links, the switch, expectation results, leaks and errors, as plain data.
//
// The runner fills a RunReport from the simulator's stats readers (which never change state,
// DESIGN.md §6); format_summary() turns it into the table printed at the end of every run and
// to_json() into the `--json` summary. Nothing here includes the simulator, so the formatters
// and their tests build without it.
//
// Counter sets that differ by kind (qstats a driver produces, a provider's stats, drop reasons)
// are ordered name→value lists (`Counters`): the order the runner adds them is the order they
// are printed, so output is deterministic and any subset works. Names are the kernel's where
// the kernel has one:
//   - qstats: the fields of netstack/core/qstats.hpp (include/net/netdev_queues.h), e.g.
//     rx "packets", "bytes", "alloc_fail", "hw_drops", "hw_drop_overruns", "csum_complete",
//     "csum_unnecessary", "csum_none", "csum_bad", "hw_gro_packets", "hw_gro_bytes",
//     "hw_gro_wire_packets", "hw_gro_wire_bytes", "hw_drop_ratelimits"; tx "packets", "bytes",
//     "hw_drops", "hw_drop_errors", "csum_none", "needs_csum", "hw_gso_packets", "hw_gso_bytes",
//     "hw_gso_wire_packets", "hw_gso_wire_bytes", "hw_drop_ratelimits", "stop", "wake". As the
//     kernel does, leave out fields still equal to kStatNotSet (the driver does not produce them).
//   - page-pool stats: struct page_pool_alloc_stats / page_pool_recycle_stats with the ethtool
//     prefix dropped: "alloc_fast", "alloc_slow", "alloc_slow_high_order", "alloc_empty",
//     "alloc_refill", "alloc_waive", "recycle_cached", "recycle_cache_full", "recycle_ring",
//     "recycle_ring_full", "recycle_released_refcnt"; nicemu's extra counters after them
//     ("alloc_failed", "dma_map_failed", ...).
//   - drops: the names in drop_reasons.hpp, one spelling that expect.drops takes too (link:
//     "fault-drop", "carrier-down", ...; NIC: "rx-fifo-drops", "rx-steer-drops", ...; queue:
//     "hw-drop-overruns", ...; stack: its DropReason's to_string()).
// Only non-zero drop reasons need to be added; the table prints "none" when a set is empty.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nicemu::app {

// Ordered name→value counters (see the file header for the names).
using Counters = std::vector<std::pair<std::string, std::uint64_t>>;

// The value of `name` in `c`, 0 when absent.
std::uint64_t counter_value(const Counters& c, std::string_view name);
// Sum of all values.
std::uint64_t counters_total(const Counters& c);

// ---- flows -----------------------------------------------------------------------------------

enum class FlowKind : std::uint8_t { kBulkTcp, kRrTcp, kUdp };
// "bulk-tcp", "rr-tcp", "udp": the workload kinds of the scenario file.
const char* to_string(FlowKind k);

// One connection (TCP) or one datagram stream (UDP) of a workload.
struct FlowReport {
  std::string workload;      // the workload's name in the scenario
  std::uint32_t index = 0;   // flow i of the workload
  FlowKind kind = FlowKind::kBulkTcp;
  std::string from, to;      // host names: client/sender, server/receiver
  std::string tuple;         // "10.0.0.1:49152 -> 10.0.0.2:5201" ("[fd00::1]:49152 -> ..." for v6)
  std::uint64_t bytes_sent = 0;         // payload bytes the sender's app handed to the socket
  std::uint64_t bytes_received = 0;     // payload bytes the receiver's app read
  std::uint64_t bytes_validated = 0;    // of those, checked against the pattern
  std::uint64_t validation_errors = 0;  // mismatching bytes (or chunks, as the runner counts)
  double goodput_gbps = 0;              // bytes_received * 8 / (end - start); see goodput_gbps()
  std::uint64_t retransmits = 0;        // TCP segments retransmitted by the sender
  std::uint64_t start_ns = 0, end_ns = 0;  // simulated time: first byte sent, last byte received
  bool done = false;                    // the flow finished what the workload asked

  // rr-tcp
  std::uint64_t transactions = 0;
  std::uint64_t latency_p50_ns = 0, latency_p99_ns = 0;
  // udp
  std::uint64_t datagrams_sent = 0, datagrams_received = 0, datagrams_lost = 0;

  // "bulk/0": workload name and flow index, as the table and the trace name a flow.
  std::string label() const;
};

// Goodput in Gbit/s of `bytes` over [start_ns, end_ns]; 0 when the interval is empty.
double goodput_gbps(std::uint64_t bytes, std::uint64_t start_ns, std::uint64_t end_ns);

// ---- hosts, NICs, queues, page pools ---------------------------------------------------------

struct PagePoolReport {
  std::uint32_t id = 0;       // the pool's id (netlink page-pool id, from 1)
  std::string provider;       // "host", "dmabuf", "io-uring" (the memory provider behind it)
  std::string role;           // "header" or "payload" where a queue has both; may be empty
  Counters stats;             // alloc_* / recycle_* (kernel names) then nicemu's extras
  std::int64_t inflight = 0;  // kernel: page_pool_inflight(), hold - release
  std::uint64_t inflight_mem = 0;  // bytes
  std::uint64_t hold_cnt = 0, release_cnt = 0;  // pages_state_hold_cnt / pages_state_release_cnt
  bool detached = false;      // destroyed with buffers still inflight
};

struct QueueReport {
  std::uint32_t index = 0;
  Counters rx, tx;            // qstats (kernel names; only the fields the driver produces)
  Counters drops;             // the queue's own drops by reason (no buffer, DMA fault, ...)
  std::vector<PagePoolReport> page_pools;
  std::uint32_t napi_id = 0;
  std::uint64_t irqs = 0;     // interrupts raised
  std::uint64_t polls = 0;    // NAPI polls run
};

struct NicReport {
  std::string name;           // "eth0"
  std::string profile;        // the NIC profile's name
  Counters rx, tx;            // device totals (qstats summed over queues, plus base stats)
  Counters drops;             // NIC-level drops by reason: rx-fifo-drops, rx-steer-drops, ...
  // netdev_rx_queue_restart() on this device (the core's records): calls, restarts, failures,
  // rollbacks, rollback_failures.
  Counters queue_restart;
  // Where the DMA engines moved bytes: rx_host_bytes / rx_device_bytes (written into host or
  // device memory), tx_host_bytes / tx_device_bytes (read), tx_desc_reads (descriptor fetches),
  // tx_zero_copy_skbs / tx_bounced_skbs (the driver's two transmit paths).
  Counters dma;
  std::vector<QueueReport> queues;
};

struct HostReport {
  std::string name;
  std::vector<double> cpu_busy;  // per CPU, fraction of simulated time busy, in [0, 1]
  Counters stack_drops;          // the IP stack's drops by reason
  Counters tcp;                  // TCP totals (segments in/out, retransmits, ...)
  // Devmem: bindings (created, unbound, freed, alive at the end of the traffic), their net_iovs,
  // and what the devmem flows received on this host did with tokens.
  Counters devmem;
  std::vector<NicReport> nics;
};

// ---- links and the switch --------------------------------------------------------------------

struct LinkDirectionReport {
  std::string from, to;        // the ends' names ("a", "b", "switch:1")
  std::uint64_t tx_frames = 0, tx_bytes = 0;
  std::uint64_t rx_frames = 0, rx_bytes = 0;
  Counters drops;              // by reason: fault-drop, rx-crc-error, carrier-down, tx-queue-full, ...
  Counters faults;             // frames altered, not lost: corrupted, duplicated, reordered
  double utilisation = 0;      // fraction of the line rate used over the run, in [0, 1]
};

struct LinkReport {
  std::string name;
  std::vector<LinkDirectionReport> directions;  // [0] forward, [1] reverse
};

struct SwitchReport {
  std::string name;
  Counters counters;           // learned, moved, aged_out, table_full, ...
  Counters drops;              // by reason: filtered, output-buffer-full, ...
};

// ---- verdict ---------------------------------------------------------------------------------

// One line of the scenario's `expect` map.
struct ExpectationResult {
  std::string name;    // "validation-errors <= 0", "min-goodput >= 20 Gbit/s", "drops.total <= 0"
  bool passed = false;
  std::string detail;  // what was measured, or why it failed ("flow bulk/1: 12.3 Gbit/s")
};

// Where a drop was counted, for drops_by_place().
struct DropRecord {
  std::string place;   // "host b stack", "host b nic eth0", "host b nic eth0 queue 3",
                       // "link ab a->b", "switch sw"
  std::string reason;
  std::uint64_t count = 0;
};

// One timeline action as it ran: when, what ("queue-restart d 1"), and "ok" or the error.
struct TimelineResult {
  std::uint64_t at_ns = 0;
  std::string action;
  std::string result;
};

struct RunReport {
  std::string scenario;
  std::uint64_t seed = 0;
  std::uint64_t sim_time_ns = 0;
  double wall_time_s = 0;
  unsigned threads = 1;  // the simulator's threads (base::ByteWorker): wall time only, never results
  // With 2 threads: byte jobs handed to the worker, and the times the simulation thread had to
  // wait for one (wall-clock dependent, like the speed figures).
  std::uint64_t byte_jobs = 0, byte_job_waits = 0;
  double byte_job_wait_s = 0;  // wall time the simulation thread waited for the byte worker
  std::string digest;  // hex digest of the event trace (two runs compare in one line)
  std::vector<FlowReport> flows;
  std::vector<HostReport> hosts;
  std::vector<LinkReport> links;
  std::optional<SwitchReport> switch_;
  std::vector<ExpectationResult> expectations;
  std::vector<TimelineResult> timeline;  // every timeline action, in the order it ran
  std::vector<std::string> leaks;   // each a sentence: "host b queue 3 pool 7: 12 pages inflight ..."
  std::vector<std::string> errors;  // runner errors: "queue 2 of host b is unhealthy after ..."

  // The data path at a glance: every flow's payload over the span from the first byte sent to
  // the last received, as a share of the line rate of the link the receivers are on (0: several
  // rates or no flows); the bytes the receiving NICs placed as headers and as payload; the bytes
  // DMA'd into host memory and into device memory (all NICs).
  double aggregate_goodput_gbps = 0;
  double line_rate_gbps = 0;
  std::uint64_t rx_header_bytes = 0, rx_payload_bytes = 0;
  std::uint64_t rx_dma_host_bytes = 0, rx_dma_device_bytes = 0;

  // The policy the scenario's `expect` map sets (defaults: DESIGN.md, any validation error or
  // leak fails the run). expect.validation-errors: N raises the first; expect.no-leaks: false
  // clears the second (leaks are still listed).
  std::uint64_t max_validation_errors = 0;
  bool leaks_fail = true;

  // Speed: simulated seconds per wall-clock second and simulated payload Gbit per wall-clock
  // second (payload = bytes received by the apps). 0 when wall_time_s is not positive.
  double sim_seconds_per_wall_second() const;
  double payload_gbit_per_wall_second() const;
  std::uint64_t payload_bytes() const;       // sum of flows' bytes_received
  std::uint64_t validation_errors() const;   // sum over flows

  // Every non-zero drop, where it was counted, in report order (hosts, NICs, queues, links,
  // switch), and the same summed by reason (first appearance order).
  std::vector<DropRecord> drops_by_place() const;
  Counters drops_by_reason() const;

  // Why the run fails, one short phrase each ("3 validation errors", "1 leak",
  // "expectation failed: min-goodput >= 20 Gbit/s", "1 error"); empty when it passes.
  std::vector<std::string> failure_reasons() const;
  bool passed() const { return failure_reasons().empty(); }
};

// ---- output (report_table.cpp holds these and the functions above; report_json.cpp the JSON) --

// The fixed-width summary printed at the end of every run (fits 100 columns for ordinary names),
// ending with "result: PASS" or "result: FAIL (reasons)".
std::string format_summary(const RunReport& r);

// One progress line: "progress: sim 0.250000000 s, payload 2.50 GB, wall 1.25 s, speed: 0.2
// simulated s per wall s, 16 Gbit simulated payload per wall s" (payload: bytes received so far).
std::string format_progress(std::uint64_t sim_time_ns, std::uint64_t payload_bytes, double wall_s);

// The `--json` summary: pretty-printed, keys in a fixed order (schema in apps/common/README.md).
std::string to_json(const RunReport& r);
// Writes to_json(r) to `path`; on failure returns false and, when `error` is set, a sentence
// naming the file and the reason.
bool write_json_file(const RunReport& r, const std::filesystem::path& path, std::string* error);

}  // namespace nicemu::app
