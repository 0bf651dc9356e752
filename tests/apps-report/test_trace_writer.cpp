// The Chrome trace-event writer (apps/common trace_writer.hpp): what it writes parses as JSON,
// keeps events in order with the right fields, escapes any string, stays valid when empty or
// truncated by the event cap, and reports files it cannot open.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "nicemu/app/trace_writer.hpp"

using namespace nicemu::app;
using Json = nlohmann::json;

namespace {

// A file in a fresh temporary folder, removed with the fixture.
struct TraceFile {
  std::filesystem::path dir;
  std::filesystem::path path;
  explicit TraceFile(const char* name) {
    dir = std::filesystem::temp_directory_path() / ("nicemu-apps-report-" + std::string(name));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    path = dir / "trace.json";
  }
  ~TraceFile() { std::filesystem::remove_all(dir); }
  std::string text() const {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  Json json() const { return Json::parse(text()); }
};

}  // namespace

TEST_CASE("apps-report: an empty trace is valid JSON with no events", "[apps-report][trace][unit]") {
  TraceFile f("empty");
  TraceWriter w;
  REQUIRE_FALSE(w.open(f.path).has_value());
  CHECK(w.is_open());
  CHECK_FALSE(w.close().has_value());
  CHECK_FALSE(w.is_open());
  const Json j = f.json();
  CHECK(j.at("displayTimeUnit") == "ns");
  CHECK(j.at("traceEvents").is_array());
  CHECK(j.at("traceEvents").empty());
  CHECK(j.at("otherData").at("events_written") == 0);
  CHECK(j.at("otherData").at("events_dropped") == 0);
}

TEST_CASE("apps-report: trace events come out in order with their phase, track, time and args",
          "[apps-report][trace][unit]") {
  TraceFile f("order");
  {
    TraceWriter w;
    REQUIRE_FALSE(w.open(f.path).has_value());
    w.name_process(trace_ids::host_pid(1), "host b");
    w.name_thread(trace_ids::host_pid(1), trace_ids::rx_queue_tid(0, 3), "eth0 rx 3");
    w.sort_process(trace_ids::kPidControl, -1);
    w.complete(trace_ids::host_pid(1), trace_ids::rx_queue_tid(0, 3), "rx dma", trace_cat::kPacket, 12'345, 1'500,
               {{"len", 1514}, {"queue", 3u}, {"provider", "dmabuf"}, {"split", true}, {"ratio", 0.5}});
    w.instant(trace_ids::kPidControl, trace_ids::control_tid(1), "queue restart", trace_cat::kControl,
              2'000'000'001);
    w.counter(trace_ids::host_pid(1), "pool 4 inflight", 3'000, {{"inflight", std::int64_t{-2}}});
    w.flow_start(trace_ids::host_pid(0), trace_ids::tx_queue_tid(0, 0), "pkt", trace_cat::kPacket, 10'000, 77);
    w.flow_step(trace_ids::kPidLinks, trace_ids::link_tid(0, 0), "pkt", trace_cat::kPacket, 11'000, 77);
    w.flow_end(trace_ids::host_pid(1), trace_ids::rx_queue_tid(0, 3), "pkt", trace_cat::kPacket, 12'400, 77);
    CHECK(w.events_written() == 6);  // metadata is not counted
    CHECK_FALSE(w.close().has_value());
  }
  const Json j = f.json();
  const Json& ev = j.at("traceEvents");
  REQUIRE(ev.size() == 9);

  CHECK(ev[0].at("ph") == "M");
  CHECK(ev[0].at("name") == "process_name");
  CHECK(ev[0].at("pid") == 11);
  CHECK(ev[0].at("args").at("name") == "host b");
  CHECK(ev[1].at("name") == "thread_name");
  CHECK(ev[1].at("tid") == 10003);
  CHECK(ev[2].at("name") == "process_sort_index");
  CHECK(ev[2].at("args").at("sort_index") == -1);

  const Json& x = ev[3];
  CHECK(x.at("ph") == "X");
  CHECK(x.at("name") == "rx dma");
  CHECK(x.at("cat") == "packet");
  CHECK(x.at("ts").get<double>() == Approx(12.345));
  CHECK(x.at("dur").get<double>() == Approx(1.5));
  CHECK(x.at("args").at("len") == 1514);
  CHECK(x.at("args").at("queue") == 3);
  CHECK(x.at("args").at("provider") == "dmabuf");
  CHECK(x.at("args").at("split") == true);
  CHECK(x.at("args").at("ratio").get<double>() == 0.5);

  CHECK(ev[4].at("ph") == "i");
  CHECK(ev[4].at("s") == "t");
  CHECK(ev[4].at("pid") == trace_ids::kPidControl);
  CHECK(ev[4].at("ts").get<double>() == Approx(2'000'000.001));
  CHECK(ev[5].at("ph") == "C");
  CHECK(ev[5].at("args").at("inflight") == -2);
  CHECK(ev[6].at("ph") == "s");
  CHECK(ev[6].at("id") == 77);
  CHECK(ev[7].at("ph") == "t");
  CHECK(ev[8].at("ph") == "f");
  CHECK(ev[8].at("bp") == "e");
  CHECK(ev[8].at("id") == 77);
}

TEST_CASE("apps-report: trace timestamps are microseconds with three decimals of simulated ns",
          "[apps-report][trace][unit]") {
  TraceFile f("ts");
  TraceWriter w;
  REQUIRE_FALSE(w.open(f.path).has_value());
  w.complete(1, 0, "a", "c", 12'345, 7, {});
  w.complete(1, 0, "b", "c", 5, 1'000, {});
  REQUIRE_FALSE(w.close().has_value());
  const std::string t = f.text();
  CHECK_THAT(t, Catch::Contains("\"ts\":12.345,\"dur\":0.007"));
  CHECK_THAT(t, Catch::Contains("\"ts\":0.005,\"dur\":1.000"));
}

TEST_CASE("apps-report: odd names in a trace are escaped so the file parses back to the same text",
          "[apps-report][trace][unit]") {
  const std::string odd = std::string("q\"uo\\te\n\t\r\b\f") + '\x01' + '\x1f' + '\0' + "end \xc3\xa9 \xe2\x82\xac";
  TraceFile f("escape");
  TraceWriter w;
  REQUIRE_FALSE(w.open(f.path).has_value());
  w.name_process(1, odd);
  w.instant(1, 2, odd, odd, 0, {{odd, odd}});
  REQUIRE_FALSE(w.close().has_value());
  const std::string t = f.text();
  CHECK_THAT(t, Catch::Contains(R"(q\"uo\\te\n\t\r\b\f\u0001\u001f\u0000end)"));
  const Json j = Json::parse(t);
  CHECK(j.at("traceEvents")[0].at("args").at("name") == odd);
  const Json& e = j.at("traceEvents")[1];
  CHECK(e.at("name") == odd);
  CHECK(e.at("cat") == odd);
  CHECK(e.at("args").at(odd) == odd);
}

TEST_CASE("apps-report: bytes that are not UTF-8 become U+FFFD and the trace still parses",
          "[apps-report][trace][unit]") {
  // A lone continuation byte, a truncated 3-byte sequence, an overlong '/', a surrogate.
  const std::string bad = std::string("a\x80") + "b\xe2\x82" + "c\xc0\xaf" + "d\xed\xa0\x80";
  TraceFile f("utf8");
  TraceWriter w;
  REQUIRE_FALSE(w.open(f.path).has_value());
  w.instant(1, 1, bad, "c", 0);
  REQUIRE_FALSE(w.close().has_value());
  const Json j = Json::parse(f.text());
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  CHECK(j.at("traceEvents")[0].at("name") == "a" + r + "b" + r + r + "c" + r + r + "d" + r + r + r);
}

TEST_CASE("apps-report: the trace event cap leaves the rest out, counts it and marks where",
          "[apps-report][trace][unit]") {
  TraceFile f("cap");
  TraceWriter w(TraceWriter::Options{.max_events = 3, .buffer_bytes = 64});
  REQUIRE_FALSE(w.open(f.path).has_value());
  w.name_process(1, "host a");
  for (std::uint64_t i = 0; i < 10; ++i) w.complete(1, 0, "ev" + std::to_string(i), "c", i * 1000, 10);
  w.name_thread(1, 0, "cpu 0");  // metadata still goes in after the cap
  CHECK(w.events_written() == 3);
  CHECK(w.events_dropped() == 7);
  REQUIRE_FALSE(w.close().has_value());
  const Json j = f.json();
  const Json& ev = j.at("traceEvents");
  REQUIRE(ev.size() == 1 + 3 + 1 + 1 + 1);
  CHECK(ev[1].at("name") == "ev0");
  CHECK(ev[3].at("name") == "ev2");
  CHECK(ev[4].at("ph") == "i");
  CHECK(ev[4].at("s") == "g");
  CHECK(ev[4].at("name") == "trace truncated: max_events reached");
  CHECK(ev[4].at("ts").get<double>() == Approx(3.0));  // the first event left out
  CHECK(ev[5].at("name") == "thread_name");
  CHECK(ev[6].at("ph") == "M");
  CHECK(ev[6].at("name") == "nicemu_trace_truncated");
  CHECK(ev[6].at("args").at("events_dropped") == 7);
  CHECK(ev[6].at("args").at("max_events") == 3);
  CHECK(j.at("otherData").at("events_dropped") == 7);
  CHECK(j.at("otherData").at("events_written") == 3);
}

TEST_CASE("apps-report: a trace larger than the buffer is written whole", "[apps-report][trace][unit]") {
  TraceFile f("big");
  TraceWriter w(TraceWriter::Options{.max_events = 1'000'000, .buffer_bytes = 256});
  REQUIRE_FALSE(w.open(f.path).has_value());
  for (std::uint64_t i = 0; i < 5000; ++i) w.complete(1, i % 4, "frame", "packet", i * 100, 50, {{"i", i}});
  REQUIRE_FALSE(w.close().has_value());
  const Json j = f.json();
  const Json& ev = j.at("traceEvents");
  REQUIRE(ev.size() == 5000);
  for (std::size_t i = 0; i < ev.size(); ++i) {
    if (ev[i].at("args").at("i") != i) FAIL("event " << i << " out of order");
  }
}

TEST_CASE("apps-report: a trace file that cannot be opened is named in the error and nothing is written",
          "[apps-report][trace][unit]") {
  TraceFile f("badpath");
  const std::filesystem::path bad = f.dir / "missing-dir" / "trace.json";
  TraceWriter w;
  const std::optional<std::string> err = w.open(bad);
  REQUIRE(err.has_value());
  CHECK_THAT(*err, Catch::Contains(bad.string()) && Catch::Contains("No such file"));
  CHECK_FALSE(w.is_open());
  w.complete(1, 1, "x", "c", 0, 1);  // no-op when not open
  CHECK(w.events_written() == 0);
  CHECK_FALSE(w.close().has_value());
}

TEST_CASE("apps-report: destroying an open trace writer finishes the file", "[apps-report][trace][unit]") {
  TraceFile f("dtor");
  {
    TraceWriter w;
    REQUIRE_FALSE(w.open(f.path).has_value());
    w.instant(1, 1, "only", "c", 42);
  }
  const Json j = f.json();
  REQUIRE(j.at("traceEvents").size() == 1);
  CHECK(j.at("traceEvents")[0].at("name") == "only");
}
