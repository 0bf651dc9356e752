// `nicemu run --explain N`: the journey of the first N devmem packets, every stage from the wire
// to the refill of the net_iovs, in time order, each line naming its file; the run itself is the
// same as without it (same digest).
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "nicemu_process.hpp"

using nicemu::testing::digest_of;
using nicemu::testing::run_nicemu;

namespace {

struct Line {
  double t = 0;
  std::string where, stage, text;  // where: "link" or the host's name
};

// The lines of packet `k` (1-based) of the explain block.
std::vector<Line> packet_lines(const std::string& out, int k) {
  std::vector<Line> lines;
  std::istringstream in(out);
  std::string s;
  bool inside = false;
  while (std::getline(in, s)) {
    if (s.rfind("packet ", 0) == 0) {
      inside = s.rfind("packet " + std::to_string(k) + ":", 0) == 0;
      continue;
    }
    if (!inside) continue;
    if (s.empty() || s.rfind("  ", 0) != 0) {
      inside = false;
      continue;
    }
    std::istringstream ls(s);
    Line l;
    ls >> l.t >> l.where >> l.stage;
    std::getline(ls, l.text);
    lines.push_back(l);
  }
  return lines;
}


}  // namespace

TEST_CASE("nicemu run --explain: each devmem packet's journey from the link to the refill of its net_iovs, in "
          "time order, with the DMA into device memory, the cmsg, the token and DONTNEED",
          "[apps-nicemu][integration]") {
  const auto r = run_nicemu({"run", "--quiet", "--explain", "3", "--set", "workloads.bulk.bytes=1MiB"});
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("explain: the journey of the first 3 packets") != std::string::npos);
  for (int k = 1; k <= 3; ++k) {
    const auto lines = packet_lines(r.out, k);
    INFO("packet " << k);
    REQUIRE(!lines.empty());
    std::vector<std::string> stages;
    double t = 0;
    for (const Line& l : lines) {
      CHECK(l.t >= t);  // time never goes back
      t = l.t;
      if (stages.empty() || stages.back() != l.stage) stages.push_back(l.stage);
      CHECK(l.text.find("  [") != std::string::npos);  // the file that implements it
    }
    // Every stage the issue lists, in this order (interrupts and polls may repeat).
    // The NAPI poll that built the skb reports when it ends, after the stack took the packet.
    const std::vector<std::string> order = {"link_tx",          "link_rx",         "rx_fifo",
                                            "rx_parse",         "rx_steer",        "rx_header_split",
                                            "rx_dma_write",     "rx_completion",   "irq",
                                            "napi_gro_receive", "dev_gro_receive", "ip_rcv",
                                            "tcp_v4_rcv",       "tcp_queue_rcv",   "napi_poll",
                                            "tcp_recvmsg_dmabuf", "sock_devmem_dontneed", "rx_refill"};
    std::size_t at = 0;
    for (const std::string& s : stages) {
      if (at < order.size() && s == order[at]) ++at;
    }
    CHECK(at == order.size());
    bool device = false, steered = false;
    for (const Line& l : lines) {
      device = device || (l.stage == "rx_dma_write" && l.text.find("in device memory") != std::string::npos);
      steered = steered || (l.stage == "rx_steer" && l.text.find("ntuple rule") != std::string::npos);
    }
    CHECK(device);
    CHECK(steered);
    // From the wire on, everything happens on the receiving host b.
    for (const Line& l : lines) {
      if (l.stage != "link_tx" && l.stage != "link_rx") CHECK(l.where == "b");
    }
  }
  // Explaining changes nothing in the run.
  const auto plain = run_nicemu({"run", "--quiet", "--set", "workloads.bulk.bytes=1MiB"});
  REQUIRE(plain.exit_code == 0);
  CHECK(digest_of(plain.out) == digest_of(r.out));
}

TEST_CASE("nicemu run --explain: bad counts and --trace together are usage errors, a run without device "
          "memory says so",
          "[apps-nicemu][integration]") {
  CHECK(run_nicemu({"run", "--explain", "0"}).exit_code == 2);
  CHECK(run_nicemu({"run", "--explain", "x"}).exit_code == 2);
  CHECK(run_nicemu({"run", "--explain", "1", "--trace", "/tmp/nicemu-explain-trace.json"}).exit_code == 2);
  const auto r = run_nicemu({"run", std::string(NICEMU_CONFIGS_DIR) + "/scenarios/host-memory-rss.yaml", "--quiet",
                             "--explain", "1", "--set", "workloads.bulk.bytes=256KiB"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("explain: no packet's payload was written into device memory") != std::string::npos);
}
