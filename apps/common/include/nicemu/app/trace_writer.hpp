// nicemu/app/trace_writer.hpp — `nicemu run --trace`: Chrome trace-event JSON of packets and
// control operations, opened by Perfetto (ui.perfetto.dev) and chrome://tracing.
//
// Format: the trace-event "JSON Object Format":
//   {"displayTimeUnit":"ns","traceEvents":[ {event}, ... ],"otherData":{...}}
// Events are streamed to the file as they come, through one buffer (no DOM, no allocation per
// event once the buffer has grown to its size), so a long run costs file space, not memory.
// close() finishes the file; it is valid JSON even when no event was written, and after
// max_events counted events the rest are left out and counted: a global instant event marks
// where that began, and a final metadata event ("nicemu_trace_truncated") and otherData say how
// many were left out.
//
// Timestamps are simulated time. The caller passes nanoseconds; the file holds microseconds
// with three decimals ("ts":12.345), so nanosecond precision survives. Strings are escaped as
// JSON requires (quote, backslash, control characters as \n, \t or \u00XX); bytes that are not
// valid UTF-8 are written as U+FFFD so the file always parses.
//
// Track convention (trace_ids below): one process per host, one for control operations, one for
// links and one for the switch; within a host one thread per CPU and one per RX and TX queue of
// each NIC. A packet's stages on different tracks (TX queue, link, RX queue, NAPI poll on a
// CPU) are joined by flow events with the packet's id, each emitted inside the complete event
// of its stage (flow_start at the first stage, flow_step between, flow_end at the last).
#pragma once

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nicemu::app {

// Suggested pids and tids (any integers work; these keep hosts apart and sort sensibly).
namespace trace_ids {
inline constexpr std::uint32_t kPidControl = 1;  // control operations; tid: control_tid()
inline constexpr std::uint32_t kPidLinks = 2;    // links; tid: link_tid()
inline constexpr std::uint32_t kPidSwitch = 3;   // the switch; tid: its port number
// Host i (scenario order, from 0).
constexpr std::uint32_t host_pid(std::uint32_t host_index) { return 10 + host_index; }
// In a host's process: CPU c (NAPI polls, apps, stack work on that CPU).
constexpr std::uint32_t cpu_tid(std::uint32_t cpu) { return cpu; }
// In a host's process: the packets CPU c worked on in softirq (skb build, GRO, IP, TCP), a track
// next to its NAPI polls rather than inside them (a poll's span is known only when it ends).
constexpr std::uint32_t cpu_packets_tid(std::uint32_t cpu) { return 1000 + cpu; }
// In a host's process: stack work outside softirq (apps' sends, timers).
inline constexpr std::uint32_t kTidStack = 9000;
// In a host's process: NIC n's port: frames arriving, its RX FIFO, parser and steering.
constexpr std::uint32_t port_tid(std::uint32_t nic) { return 10000 * (nic + 1) - 1; }
// In a host's process: RX / TX queue q (q < 5000) of the host's NIC n (from 0).
constexpr std::uint32_t rx_queue_tid(std::uint32_t nic, std::uint32_t q) { return 10000 * (nic + 1) + q; }
constexpr std::uint32_t tx_queue_tid(std::uint32_t nic, std::uint32_t q) { return 10000 * (nic + 1) + 5000 + q; }
// In kPidLinks: link l (scenario order), direction 0 forward (ends[0] -> ends[1]), 1 reverse.
constexpr std::uint32_t link_tid(std::uint32_t link_index, std::uint32_t direction) {
  return 2 * link_index + direction;
}
// In kPidControl: 0 for the timeline, host_index + 1 for operations on that host (bind-rx,
// queue restart steps, ethtool changes).
constexpr std::uint32_t control_tid(std::uint32_t host_index) { return host_index + 1; }
}  // namespace trace_ids

// Suggested categories ("cat"): Perfetto can filter by them.
namespace trace_cat {
inline constexpr std::string_view kPacket = "packet";      // a frame's stages: tx, wire, rx, napi
inline constexpr std::string_view kControl = "control";    // bind-rx, queue restart, ethtool
inline constexpr std::string_view kNapi = "napi";
inline constexpr std::string_view kPagePool = "page_pool";
inline constexpr std::string_view kTcp = "tcp";
inline constexpr std::string_view kDrop = "drop";
}  // namespace trace_cat

// One argument of an event: key → integer, floating point, bool or string. Holds views: the
// strings must outlive the call that writes the event (they are copied into the buffer then).
class TraceArg {
 public:
  enum class Kind : std::uint8_t { kInt, kUint, kDouble, kBool, kString };

  template <std::signed_integral T>
  TraceArg(std::string_view key, T v) : key_(key), kind_(Kind::kInt), i_(v) {}
  template <std::unsigned_integral T>
    requires(!std::same_as<T, bool>)
  TraceArg(std::string_view key, T v) : key_(key), kind_(Kind::kUint), u_(v) {}
  TraceArg(std::string_view key, double v) : key_(key), kind_(Kind::kDouble), d_(v) {}
  TraceArg(std::string_view key, bool v) : key_(key), kind_(Kind::kBool), b_(v) {}
  TraceArg(std::string_view key, std::string_view v) : key_(key), kind_(Kind::kString), s_(v) {}
  TraceArg(std::string_view key, const char* v) : key_(key), kind_(Kind::kString), s_(v) {}
  TraceArg(std::string_view key, const std::string& v) : key_(key), kind_(Kind::kString), s_(v) {}
  TraceArg() : kind_(Kind::kInt) {}  // for arrays filled later (complete_args)

  std::string_view key() const { return key_; }
  Kind kind() const { return kind_; }
  std::int64_t as_int() const { return i_; }
  std::uint64_t as_uint() const { return u_; }
  double as_double() const { return d_; }
  bool as_bool() const { return b_; }
  std::string_view as_string() const { return s_; }

 private:
  std::string_view key_;
  Kind kind_;
  std::int64_t i_ = 0;
  std::uint64_t u_ = 0;
  double d_ = 0;
  bool b_ = false;
  std::string_view s_;
};

using TraceArgs = std::initializer_list<TraceArg>;

class TraceWriter {
 public:
  struct Options {
    std::uint64_t max_events = 10'000'000;  // counted events (metadata is not counted)
    std::size_t buffer_bytes = 1 << 20;     // written to the file when this full
  };

  TraceWriter() : TraceWriter(Options{}) {}
  explicit TraceWriter(Options options);
  ~TraceWriter();  // close(), ignoring its error
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Creates (truncates) the file and writes the opening of the JSON object. Returns a sentence
  // naming the file and the reason on failure, nullopt on success. Asserts it is not open.
  [[nodiscard]] std::optional<std::string> open(const std::filesystem::path& path);
  bool is_open() const { return file_ != nullptr; }
  // Writes what is buffered, the truncation note, the closing brackets and otherData, and
  // closes the file. Returns the first write error of the whole trace, if any. Nothing happens
  // when not open.
  std::optional<std::string> close();

  // Every call below does nothing unless the writer is open.

  // Metadata ("ph":"M"): names and sort order of tracks. Not counted against max_events.
  void name_process(std::uint32_t pid, std::string_view name);
  void sort_process(std::uint32_t pid, std::int64_t sort_index);
  void name_thread(std::uint32_t pid, std::uint32_t tid, std::string_view name);
  void sort_thread(std::uint32_t pid, std::uint32_t tid, std::int64_t sort_index);

  // A span of simulated time on a track ("ph":"X").
  void complete(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                std::uint64_t ts_ns, std::uint64_t dur_ns, TraceArgs args = {});
  // complete() with a run-time list of arguments.
  void complete_args(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                     std::uint64_t ts_ns, std::uint64_t dur_ns, std::span<const TraceArg> args);
  // A point in time on a track ("ph":"i", thread scope).
  void instant(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
               std::uint64_t ts_ns, TraceArgs args = {});
  // Values of named series drawn as a counter track of the process ("ph":"C"); numeric args.
  void counter(std::uint32_t pid, std::string_view name, std::uint64_t ts_ns, TraceArgs series);
  // Flow events ("ph":"s", "t", "f") joining one packet's stages across tracks. Use the same
  // name, category and id for the whole flow; ids are written as JSON integers (keep them below
  // 2^53 for JavaScript viewers). flow_end binds to the enclosing slice ("bp":"e").
  void flow_start(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                  std::uint64_t ts_ns, std::uint64_t id);
  void flow_step(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                 std::uint64_t ts_ns, std::uint64_t id);
  void flow_end(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                std::uint64_t ts_ns, std::uint64_t id);

  std::uint64_t events_written() const { return written_; }  // counted events in the file
  std::uint64_t events_dropped() const { return dropped_; }  // counted events left out
  std::uint64_t max_events() const { return options_.max_events; }

 private:
  // Starts a counted event: false (and counts it) when over the cap or not open.
  bool begin_counted(std::uint32_t pid, std::uint64_t ts_ns);
  void begin_event();  // separator
  void end_event();    // flush when the buffer is full
  void common(char ph, std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
              std::uint64_t ts_ns);
  void metadata(std::uint32_t pid, std::optional<std::uint32_t> tid, std::string_view what, TraceArgs a);
  void flow(char ph, std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
            std::uint64_t ts_ns, std::uint64_t id);
  void args(TraceArgs a) { args(std::span<const TraceArg>(a.begin(), a.size())); }
  void args(std::span<const TraceArg> a);
  void put(std::string_view s) { buf_.append(s); }
  void put(char c) { buf_.push_back(c); }
  void put_uint(std::uint64_t v);
  void put_int(std::int64_t v);
  void put_double(double v);
  void put_us(std::uint64_t ns);  // microseconds with three decimals
  void put_string(std::string_view s);
  void put_arg_value(const TraceArg& a);
  void flush();

  Options options_;
  std::FILE* file_ = nullptr;
  std::string path_;
  std::string buf_;
  std::optional<std::string> error_;
  bool first_event_ = true;
  std::uint64_t written_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace nicemu::app
