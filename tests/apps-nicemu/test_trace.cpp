// `nicemu run --trace FILE`: the trace-event JSON holds every packet stage from TCP on the sender
// through both NICs and the wire to the receiving socket, one packet's stages named by one id in
// pipeline order, the control operations of the timeline, no more packets than --trace-packets,
// and the same bytes for the same seed (tracing does not change the run: same digest).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nicemu_process.hpp"

using nicemu::testing::digest_of;
using nicemu::testing::run_nicemu;
using nicemu::testing::TempFile;
using Json = nlohmann::json;

namespace {

constexpr std::uint64_t kSoftwareIdBase = std::uint64_t{1} << 50;  // sim::kSoftwareIdBase

// The short default run every test here uses: 256 KiB per flow, and a timeline inside the traced
// window: a dropping link for 20 us and an RX queue restart on the receiver.
std::vector<std::string> short_run(const std::string& trace, std::vector<std::string> more = {}) {
  // The host-memory RSS scenario: its queue 1 carries a flow (the default's flows are on 2 and 3).
  std::vector<std::string> args = {
      "run",
      std::string(NICEMU_CONFIGS_DIR) + "/scenarios/host-memory-rss.yaml",
      "--quiet",
      "--set",
      "workloads.bulk.bytes=256KiB",
      "--set",
      "timeline=[{at: 20us, link-faults: {link: ab, direction: forward, drop: 0.05}}, "
      "{at: 40us, queue-restart: {host: b, queue: 1}}, {at: 60us, link-faults: {link: ab}}]",
      "--trace",
      trace};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The stages in pipeline order (sim::PacketStage's names); a drop ranks just after the stage
// that dropped the packet, dev_requeue_skb is left out (the skb goes back to before
// ndo_start_xmit).
const std::vector<std::string> kPipeline = {
    "tcp_transmit_skb", "dev_queue_xmit",  "ndo_start_xmit",    "tx_tso_segment",  "link_tx",      "link_rx",
    "rx_fifo",          "rx_parse",        "rx_steer",          "rx_header_split", "rx_dma_write", "rx_completion",
    "napi_gro_receive", "dev_gro_receive", "napi_gro_complete", "ip_rcv",          "tcp_v4_rcv",   "tcp_queue_rcv"};

double rank_of(const Json& e) {
  const std::string name = e["name"];
  if (name == "drop") {
    const auto at = e["args"].find("at");
    if (at == e["args"].end()) return static_cast<double>(kPipeline.size());
    return rank_of(Json{{"name", *at}}) + 0.5;
  }
  const auto it = std::find(kPipeline.begin(), kPipeline.end(), name);
  return it == kPipeline.end() ? -1 : static_cast<double>(it - kPipeline.begin());
}

struct Trace {
  Json doc;
  std::vector<Json> slices;                            // "X" events
  std::map<std::uint64_t, std::vector<Json>> packets;  // "packet" arg -> its slices, file order
  std::map<std::string, std::size_t> count;            // slices by name

  explicit Trace(const TempFile& f) {
    const std::string text = f.read();
    REQUIRE(!text.empty());
    doc = Json::parse(text);  // throws (fails the test) on invalid JSON
    REQUIRE(doc.is_object());
    REQUIRE(doc.contains("traceEvents"));
    REQUIRE(doc["traceEvents"].is_array());
    for (const Json& e : doc["traceEvents"]) {
      if (e.value("ph", "") != "X") continue;
      slices.push_back(e);
      ++count[e["name"].get<std::string>()];
      if (e.contains("args") && e["args"].contains("packet")) {
        packets[e["args"]["packet"].get<std::uint64_t>()].push_back(e);
      }
    }
  }
  std::vector<Json> events(const std::string& ph) const {
    std::vector<Json> v;
    for (const Json& e : doc["traceEvents"]) {
      if (e.value("ph", "") == ph) v.push_back(e);
    }
    return v;
  }
  const Json* instant(const std::string& name) const {
    for (const Json& e : doc["traceEvents"]) {
      if (e.value("ph", "") == "i" && e.value("name", "") == name) return &e;
    }
    return nullptr;
  }
  std::size_t software_packets() const {
    return static_cast<std::size_t>(
        std::count_if(packets.begin(), packets.end(), [](const auto& p) { return p.first >= kSoftwareIdBase; }));
  }
};

std::vector<std::string> names_of(const std::vector<Json>& v) {
  std::vector<std::string> n;
  for (const Json& e : v) n.push_back(e["name"]);
  return n;
}


}  // namespace

TEST_CASE("nicemu run --trace: the file is trace-event JSON with every packet stage and the control operations",
          "[apps-nicemu][integration]") {
  TempFile file(".json");
  const auto r = run_nicemu(short_run(file.path().string()));
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  const Trace t(file);
  CHECK(t.doc["otherData"]["generator"] == "nicemu");
  CHECK(t.doc["otherData"]["events_dropped"] == 0);
  // Every stage a packet or queue passes in this run. (napi_gro_complete needs a flow GRO holds;
  // its hook is checked in tests/netstack-core's GRO tests.)
  for (const char* stage : {"tcp_transmit_skb",
                            "dev_queue_xmit",
                            "ndo_start_xmit",
                            "tx_doorbell",
                            "tx_desc_fetch",
                            "tx_tso_segment",
                            "link_tx",
                            "link_rx",
                            "rx_fifo",
                            "rx_parse",
                            "rx_steer",
                            "rx_header_split",
                            "rx_dma_write",
                            "rx_completion",
                            "irq",
                            "rx_doorbell",
                            "napi_poll",
                            "napi_gro_receive",
                            "dev_gro_receive",
                            "ip_rcv",
                            "tcp_v4_rcv",
                            "tcp_queue_rcv",
                            "drop"}) {
    INFO(stage);
    CHECK(t.count.count(stage) == 1);
  }
  // The fields a reader follows a packet by.
  std::size_t steered = 0, dma = 0, split = 0;
  for (const Json& e : t.slices) {
    const Json& a = e["args"];
    if (e["name"] == "rx_steer") {
      // RSS names its indirection entry, a rule its location; not IP (ARP) goes to queue 0.
      steered += a.contains("queue") && a.contains("rss_hash") && a.contains("rule") &&
                 (a.contains("indir_index") || a["rule"].get<int>() >= 0 || a["by"] == "queue-0");
    } else if (e["name"] == "rx_dma_write") {
      dma += a.contains("dma_addr") && a.contains("len") && a.contains("dur_ns");
    } else if (e["name"] == "rx_header_split") {
      split += a.contains("hdr_len") && a.contains("payload_bufs") && a["split"] == "split";
    }
  }
  CHECK(steered == t.count.at("rx_steer"));
  CHECK(dma == t.count.at("rx_dma_write"));
  CHECK(split > 0);
  // The faults and the restart show as drops with their reasons.
  std::set<std::string> reasons;
  for (const Json& e : t.slices) {
    if (e["name"] == "drop") reasons.insert(e["args"]["reason"].get<std::string>());
  }
  CHECK(reasons.count("fault-drop") == 1);
  CHECK(reasons.count("rx-queue-stopped") == 1);
  // Flows join the stages: a start per packet and ends where journeys end.
  CHECK(t.events("s").size() >= t.packets.size() / 2);
  CHECK(!t.events("f").empty());
  // The control operations are still there, on the control process (pid 1).
  const Json* restart = t.instant("queue-restart b 1");
  REQUIRE(restart != nullptr);
  CHECK((*restart)["pid"] == 1);
  CHECK((*restart)["args"]["result"] == "ok");
  CHECK(t.instant("link-faults ab") != nullptr);
}

TEST_CASE("nicemu run --trace: one packet's stages carry its id in pipeline order from TCP to the receiving socket",
          "[apps-nicemu][integration]") {
  TempFile file(".json");
  const auto r = run_nicemu(short_run(file.path().string()));
  REQUIRE(r.exit_code == 0);
  const Trace t(file);

  // Every traced packet: its stages in pipeline order, time never going back.
  for (const auto& [id, slices] : t.packets) {
    double rank = -1;
    double ts = -1;
    for (const Json& e : slices) {
      if (e["name"] == "dev_requeue_skb") continue;
      INFO("packet " << id << ": " << e.dump());
      const double rk = rank_of(e);
      REQUIRE(rk >= 0);
      CHECK(rk >= rank);
      CHECK(e["ts"].get<double>() >= ts);
      rank = rk;
      ts = e["ts"].get<double>();
    }
  }

  // A data segment from host a's TCP to host b's socket: the software id on a, the frame id from
  // the TX engine on, joined at link_tx.
  // Delivered alone, or as the head of a GRO batch (napi_gro_complete hands the merged skb up
  // under the head's id; the segments merged into it end at dev_gro_receive).
  const std::vector<std::string> frame_stages = {
      "tx_tso_segment",  "link_tx",         "link_rx",      "rx_fifo",       "rx_parse",
      "rx_steer",        "rx_header_split", "rx_dma_write", "rx_completion", "napi_gro_receive",
      "dev_gro_receive", "ip_rcv",          "tcp_v4_rcv",   "tcp_queue_rcv"};
  std::vector<std::string> merged_stages = frame_stages;
  merged_stages.insert(merged_stages.begin() + 11, "napi_gro_complete");
  std::size_t journeys = 0, merged_heads = 0;
  for (const auto& [id, all_slices] : t.packets) {
    if (id >= kSoftwareIdBase) continue;
    // One rx_dma_write per buffer written (header piece, payload pieces): keep the first.
    std::vector<Json> slices;
    for (const Json& e : all_slices) {
      if (e["name"] == "rx_dma_write" && !slices.empty() && slices.back()["name"] == "rx_dma_write") continue;
      slices.push_back(e);
    }
    const bool merged = names_of(slices) == merged_stages;
    if (!merged && names_of(slices) != frame_stages) continue;
    const std::size_t tcp_rcv = merged ? 13 : 12;
    const Json& wire = slices[1];
    if (!wire["args"].contains("skb")) continue;
    const std::uint64_t skb = wire["args"]["skb"];
    REQUIRE(t.packets.count(skb) == 1);
    const std::vector<Json>& sw = t.packets.at(skb);
    INFO("frame " << id << ", skb " << skb);
    REQUIRE(sw.size() >= 3);  // more when the driver said busy: dev_requeue_skb, ndo_start_xmit again
    CHECK(sw[0]["name"] == "tcp_transmit_skb");
    CHECK(sw[1]["name"] == "dev_queue_xmit");
    CHECK(sw.back()["name"] == "ndo_start_xmit");
    CHECK(sw.back()["ts"].get<double>() <= slices.front()["ts"].get<double>());
    CHECK(sw[0]["args"]["seq"] == slices[tcp_rcv]["args"]["seq"]);  // TCP's sequence number arrives
    // The frame is the skb's first segment: all of it, or under TSO (a GSO skb of several
    // segments) its first MSS. Its payload is queued, with the segments GRO merged behind it
    // when it led a batch.
    const Json& parse = slices[4];
    REQUIRE(parse["name"] == "rx_parse");
    const std::uint64_t frame_payload =
        parse["args"]["len"].get<std::uint64_t>() - parse["args"]["hdr_len"].get<std::uint64_t>();
    CHECK(frame_payload <= sw[0]["args"]["len"].get<std::uint64_t>());
    const auto queued = slices[tcp_rcv + 1]["args"]["len"].get<std::uint64_t>();
    if (merged) {  // held by GRO; flushed alone or with segments merged behind it
      CHECK(frame_payload <= queued);
      if (queued > frame_payload) ++merged_heads;
    } else {
      CHECK(queued == frame_payload);
    }
    CHECK(sw[0]["pid"] == 10);                                        // sent by host a
    CHECK(slices.back()["pid"] == 11);                                // queued on host b
    CHECK(sw.back()["args"]["queue"] == slices[0]["args"]["queue"]);  // the TX queue the driver used
    ++journeys;
  }
  CHECK(journeys > 50);
  CHECK(merged_heads > 20);  // GRO merges in a run (the driver runs eth_type_trans first)
}

TEST_CASE("nicemu run --trace-packets limits the packets traced from the start, 2000 by default",
          "[apps-nicemu][integration]") {
  TempFile few(".json");
  const auto a = run_nicemu(short_run(few.path().string(), {"--trace-packets", "100"}));
  REQUIRE(a.exit_code == 0);
  const Trace t(few);
  CHECK(t.software_packets() == 100);
  for (const auto& [id, slices] : t.packets) {
    if (id >= kSoftwareIdBase || id <= 100) continue;
    // A later frame is traced only as the frame a traced skb became.
    INFO("frame " << id);
    const bool from_traced_skb = std::any_of(slices.begin(), slices.end(), [](const Json& e) {
      return e["name"] == "link_tx" && e["args"].contains("skb");
    });
    CHECK(from_traced_skb);
  }
  CHECK(t.packets.size() <= 300);
  const Json* summary = t.instant("packet trace");
  REQUIRE(summary != nullptr);
  CHECK((*summary)["args"]["max_packets"] == 100);

  TempFile def(".json");
  const auto b = run_nicemu(short_run(def.path().string()));
  REQUIRE(b.exit_code == 0);
  const Trace d(def);
  CHECK(d.software_packets() > 100);
  CHECK(d.software_packets() <= 2000);
  CHECK(d.packets.size() > 2 * t.packets.size());
  REQUIRE(d.instant("packet trace") != nullptr);
  CHECK((*d.instant("packet trace"))["args"]["max_packets"] == 2000);

  const auto help = run_nicemu({"run", "--help"});
  CHECK(help.out.find("--trace-packets") != std::string::npos);
  CHECK(help.out.find("Default: 2000") != std::string::npos);
  const auto alone = run_nicemu({"run", "--quiet", "--trace-packets", "10"});
  CHECK(alone.exit_code == 2);
  CHECK(alone.err.find("--trace-packets needs --trace") != std::string::npos);
}

TEST_CASE("nicemu run --trace: the same seed writes the same trace file, and tracing leaves the digest as it is",
          "[apps-nicemu][integration]") {
  TempFile one(".json"), two(".json");
  const auto a = run_nicemu(short_run(one.path().string()));
  const auto b = run_nicemu(short_run(two.path().string()));
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  const std::string x = one.read();
  CHECK(x.size() > 1000000);
  CHECK(x == two.read());
  std::vector<std::string> untraced = short_run("unused");
  untraced.resize(untraced.size() - 2);  // without --trace FILE
  const auto c = run_nicemu(untraced);
  REQUIRE(c.exit_code == 0);
  CHECK(digest_of(a.out) == digest_of(c.out));
}
