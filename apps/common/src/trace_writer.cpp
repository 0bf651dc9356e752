// trace_writer.cpp — streaming Chrome trace-event JSON (trace_writer.hpp).
//
// References: "Trace Event Format" (Google, the document chrome://tracing and Perfetto's JSON
//   importer follow): phases X, i, C, s/t/f, M; ts and dur in microseconds; "s":"t" thread
//   scope for instants; "bp":"e" binds a flow end to the enclosing slice. RFC 8259 §7 (string
//   escaping) and RFC 3629 §4 (well-formed UTF-8).
#include "nicemu/app/trace_writer.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "nicemu/base/assert.hpp"

namespace nicemu::app {

TraceWriter::TraceWriter(Options options) : options_(options) {}

TraceWriter::~TraceWriter() { (void)close(); }

std::optional<std::string> TraceWriter::open(const std::filesystem::path& path) {
  NICEMU_ASSERT(file_ == nullptr, "TraceWriter::open() on a writer that is already open");
  path_ = path.string();
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) return "cannot open trace file '" + path_ + "': " + std::strerror(errno);
  buf_.clear();
  // Room for one more event past the threshold, so steady state never grows the buffer.
  buf_.reserve(options_.buffer_bytes + 4096);
  error_.reset();
  first_event_ = true;
  written_ = 0;
  dropped_ = 0;
  put(R"({"displayTimeUnit":"ns","traceEvents":[)");
  return std::nullopt;
}

std::optional<std::string> TraceWriter::close() {
  if (file_ == nullptr) return std::nullopt;
  if (dropped_ > 0) {
    metadata(0, std::nullopt, "nicemu_trace_truncated",
             {TraceArg("events_dropped", dropped_), TraceArg("max_events", options_.max_events)});
  }
  put("\n],\"otherData\":{\"generator\":\"nicemu\",\"time_base\":\"simulated\",\"events_written\":");
  put_uint(written_);
  put(",\"events_dropped\":");
  put_uint(dropped_);
  put(",\"max_events\":");
  put_uint(options_.max_events);
  put("}}\n");
  flush();
  if (std::fclose(file_) != 0 && !error_) error_ = "closing trace file '" + path_ + "' failed: " + std::strerror(errno);
  file_ = nullptr;
  return error_;
}

// ---- events ----------------------------------------------------------------------------------

void TraceWriter::name_process(std::uint32_t pid, std::string_view name) {
  metadata(pid, std::nullopt, "process_name", {TraceArg("name", name)});
}

void TraceWriter::sort_process(std::uint32_t pid, std::int64_t sort_index) {
  metadata(pid, std::nullopt, "process_sort_index", {TraceArg("sort_index", sort_index)});
}

void TraceWriter::name_thread(std::uint32_t pid, std::uint32_t tid, std::string_view name) {
  metadata(pid, tid, "thread_name", {TraceArg("name", name)});
}

void TraceWriter::sort_thread(std::uint32_t pid, std::uint32_t tid, std::int64_t sort_index) {
  metadata(pid, tid, "thread_sort_index", {TraceArg("sort_index", sort_index)});
}

void TraceWriter::complete(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                           std::uint64_t ts_ns, std::uint64_t dur_ns, TraceArgs a) {
  complete_args(pid, tid, name, category, ts_ns, dur_ns, std::span<const TraceArg>(a.begin(), a.size()));
}

void TraceWriter::complete_args(std::uint32_t pid, std::uint32_t tid, std::string_view name,
                                std::string_view category, std::uint64_t ts_ns, std::uint64_t dur_ns,
                                std::span<const TraceArg> a) {
  if (!begin_counted(pid, ts_ns)) return;
  common('X', pid, tid, name, category, ts_ns);
  put(",\"dur\":");
  put_us(dur_ns);
  args(a);
  end_event();
}

void TraceWriter::instant(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                          std::uint64_t ts_ns, TraceArgs a) {
  if (!begin_counted(pid, ts_ns)) return;
  common('i', pid, tid, name, category, ts_ns);
  put(",\"s\":\"t\"");
  args(a);
  end_event();
}

void TraceWriter::counter(std::uint32_t pid, std::string_view name, std::uint64_t ts_ns, TraceArgs series) {
  if (!begin_counted(pid, ts_ns)) return;
  begin_event();
  put("{\"ph\":\"C\",\"pid\":");
  put_uint(pid);
  put(",\"name\":");
  put_string(name);
  put(",\"ts\":");
  put_us(ts_ns);
  args(series);
  end_event();
}

void TraceWriter::flow_start(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                             std::uint64_t ts_ns, std::uint64_t id) {
  flow('s', pid, tid, name, category, ts_ns, id);
}

void TraceWriter::flow_step(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                            std::uint64_t ts_ns, std::uint64_t id) {
  flow('t', pid, tid, name, category, ts_ns, id);
}

void TraceWriter::flow_end(std::uint32_t pid, std::uint32_t tid, std::string_view name, std::string_view category,
                           std::uint64_t ts_ns, std::uint64_t id) {
  flow('f', pid, tid, name, category, ts_ns, id);
}

// ---- pieces ----------------------------------------------------------------------------------

bool TraceWriter::begin_counted(std::uint32_t pid, std::uint64_t ts_ns) {
  if (file_ == nullptr) return false;
  if (written_ < options_.max_events) {
    ++written_;
    return true;
  }
  if (dropped_++ == 0) {
    // Mark where the trace stops, visible on every track (global instant); not counted.
    begin_event();
    put("{\"ph\":\"i\",\"s\":\"g\",\"pid\":");
    put_uint(pid);
    put(",\"tid\":0,\"name\":\"trace truncated: max_events reached\",\"cat\":\"nicemu\",\"ts\":");
    put_us(ts_ns);
    put(",\"args\":{\"max_events\":");
    put_uint(options_.max_events);
    put("}}");
    end_event();
  }
  return false;
}

void TraceWriter::begin_event() {
  put(first_event_ ? "\n" : ",\n");
  first_event_ = false;
}

void TraceWriter::end_event() {
  if (buf_.size() >= options_.buffer_bytes) flush();
}

void TraceWriter::common(char ph, std::uint32_t pid, std::uint32_t tid, std::string_view name,
                         std::string_view category, std::uint64_t ts_ns) {
  begin_event();
  put("{\"ph\":\"");
  put(ph);
  put("\",\"pid\":");
  put_uint(pid);
  put(",\"tid\":");
  put_uint(tid);
  put(",\"name\":");
  put_string(name);
  put(",\"cat\":");
  put_string(category);
  put(",\"ts\":");
  put_us(ts_ns);
}

void TraceWriter::metadata(std::uint32_t pid, std::optional<std::uint32_t> tid, std::string_view what,
                           TraceArgs a) {
  if (file_ == nullptr) return;
  begin_event();
  put("{\"ph\":\"M\",\"pid\":");
  put_uint(pid);
  put(",\"tid\":");
  put_uint(tid.value_or(0));
  put(",\"name\":");
  put_string(what);
  args(a);
  end_event();
}

void TraceWriter::flow(char ph, std::uint32_t pid, std::uint32_t tid, std::string_view name,
                       std::string_view category, std::uint64_t ts_ns, std::uint64_t id) {
  if (!begin_counted(pid, ts_ns)) return;
  common(ph, pid, tid, name, category, ts_ns);
  put(",\"id\":");
  put_uint(id);
  if (ph == 'f') put(",\"bp\":\"e\"");
  put('}');
  end_event();
}

void TraceWriter::args(std::span<const TraceArg> a) {
  if (a.size() != 0) {
    put(",\"args\":{");
    bool first = true;
    for (const TraceArg& arg : a) {
      if (!first) put(',');
      first = false;
      put_string(arg.key());
      put(':');
      put_arg_value(arg);
    }
    put('}');
  }
  put('}');
}

void TraceWriter::put_arg_value(const TraceArg& a) {
  switch (a.kind()) {
    case TraceArg::Kind::kInt: put_int(a.as_int()); return;
    case TraceArg::Kind::kUint: put_uint(a.as_uint()); return;
    case TraceArg::Kind::kDouble: put_double(a.as_double()); return;
    case TraceArg::Kind::kBool: put(a.as_bool() ? "true" : "false"); return;
    case TraceArg::Kind::kString: put_string(a.as_string()); return;
  }
}

void TraceWriter::put_uint(std::uint64_t v) {
  char tmp[24];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  buf_.append(tmp, r.ptr);
}

void TraceWriter::put_int(std::int64_t v) {
  char tmp[24];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  buf_.append(tmp, r.ptr);
}

void TraceWriter::put_double(double v) {
  if (!std::isfinite(v)) {  // JSON has no NaN or infinity
    put("null");
    return;
  }
  char tmp[32];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  buf_.append(tmp, r.ptr);
}

void TraceWriter::put_us(std::uint64_t ns) {
  put_uint(ns / 1000);
  const auto frac = static_cast<unsigned>(ns % 1000);
  const char digits[4] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10)};
  buf_.append(digits, sizeof digits);
}

namespace {
// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629 §4), 0 when ill-formed.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (i + 1 >= s.size()) return 0;
    const unsigned char c1 = b(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogates
    return cont(i + 1) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (i + 1 >= s.size()) return 0;
    const unsigned char c1 = b(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
    return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}
}  // namespace

void TraceWriter::put_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  put('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence(s, i);
      if (n == 0) {
        put("\\ufffd");
        ++i;
      } else {
        buf_.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': put("\\\""); break;
      case '\\': put("\\\\"); break;
      case '\b': put("\\b"); break;
      case '\f': put("\\f"); break;
      case '\n': put("\\n"); break;
      case '\r': put("\\r"); break;
      case '\t': put("\\t"); break;
      default:
        if (c < 0x20) {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          buf_.append(esc, sizeof esc);
        } else {
          put(static_cast<char>(c));
        }
    }
    ++i;
  }
  put('"');
}

void TraceWriter::flush() {
  if (file_ == nullptr || buf_.empty()) return;
  if (!error_ && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) {
    error_ = "writing trace file '" + path_ + "' failed: " + std::strerror(errno);
  }
  buf_.clear();  // keeps its capacity
}

}  // namespace nicemu::app
