// Pcap capture through libpcap, read back with libpcap: bytes, nanosecond timestamps (tx taps at
// the start of serialization, rx taps at delivery), the nanosecond magic, link type, snaplen.
#include <catch2/catch.hpp>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "link_fixtures.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/nic/hw/pcap_capture.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;
using nicemu::testing::at;
using nicemu::testing::mac;
using nicemu::testing::make_frame;
using nicemu::testing::Receiver;

namespace {

struct Record {
  std::int64_t ns;
  std::uint32_t len;
  std::vector<std::byte> bytes;  // caplen bytes
};

// A file name unique to this process and test, removed when the object goes.
class TempPath {
 public:
  explicit TempPath(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("nicemu_nic_link_" + std::to_string(::getpid()) + "_" + name + ".pcap")) {}
  ~TempPath() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

std::vector<Record> read_pcap(const std::string& path, int* linktype = nullptr) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  INFO(err);
  REQUIRE(p != nullptr);
  if (linktype != nullptr) *linktype = pcap_datalink(p);
  std::vector<Record> out;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(p, &h, &data) == 1) {
    const auto* b = reinterpret_cast<const std::byte*>(data);
    out.push_back(Record{static_cast<std::int64_t>(h->ts.tv_sec) * 1'000'000'000 + h->ts.tv_usec, h->len,
                         std::vector<std::byte>(b, b + h->caplen)});
  }
  pcap_close(p);
  return out;
}

std::uint32_t file_u32(const std::string& path, std::size_t offset) {
  std::ifstream f(path, std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  std::uint32_t v = 0;
  f.read(reinterpret_cast<char*>(&v), sizeof v);  // written in host byte order, like libpcap
  return v;
}

LinkConfig link_50ns() {
  LinkConfig c;
  c.propagation_delay = 50_ns;
  return c;
}

}  // namespace

TEST_CASE("pcap: a link capture round-trips bytes and nanosecond delivery times through libpcap",
          "[nic][hw][pcap][unit]") {
  TempPath file("roundtrip");
  FramePool pool;
  sim::EventQueue q;
  sim::RandomStreams streams(1);
  Link link(q, streams, "l0", link_50ns());
  Receiver rx_b(q, link.port(1));
  Receiver rx_a(q, link.port(0));
  auto cap = PcapCapture::open(file.str());
  REQUIRE(cap);
  link.add_capture(**cap);

  link.port(0).transmit(make_frame(pool, 1514, mac(2), mac(1), 1));
  link.port(0).transmit(make_frame(pool, 1514, mac(2), mac(1), 2));
  link.port(0).transmit(make_frame(pool, 42, mac(2), mac(1), 3));  // padded to 60
  link.port(1).transmit(make_frame(pool, 1000, mac(1), mac(2), 4));
  // Much later: the seconds field is used.
  q.schedule_at(at(2_s + 500_ms), [&] { link.port(1).transmit(make_frame(pool, 200, mac(1), mac(2), 5)); });
  q.run_until_idle();
  (*cap)->flush();
  CHECK((*cap)->frames_written() == 5);

  const auto recs = read_pcap(file.str());
  REQUIRE(recs.size() == 5);
  // Delivery times, in file order: b->a 1000 B at 81.92 + 50 ns; a->b at 173.04, 296.08 and
  // 296.08 + 6.72 (84 wire bytes) + 50 ns; the late one at 2.5 s + 17.92 + 50 ns. Truncated to ns.
  CHECK(recs[0].ns == 131);
  CHECK(recs[1].ns == 173);
  CHECK(recs[2].ns == 296);
  CHECK(recs[3].ns == 302);
  CHECK(recs[4].ns == 2'500'000'067);
  CHECK(recs[0].bytes == rx_a.frames[0].bytes);
  CHECK(recs[1].bytes == rx_b.frames[0].bytes);
  CHECK(recs[2].bytes == rx_b.frames[1].bytes);
  CHECK(recs[3].bytes == rx_b.frames[2].bytes);
  CHECK(recs[3].len == 60);
  CHECK(recs[4].bytes == rx_a.frames[1].bytes);
  CHECK(recs[4].bytes.size() == 200);
  CHECK(recs[1].bytes[14] == nicemu::testing::pattern_byte(14, 1));
  for (auto& r : recs) CHECK(r.len == r.bytes.size());
  link.port(0).remove_tap(**cap);
  link.port(1).remove_tap(**cap);
}

TEST_CASE("pcap: files carry the nanosecond magic 0xa1b23c4d and DLT_EN10MB, and snaplen cuts caplen but not len",
          "[nic][hw][pcap][unit]") {
  TempPath file("snaplen");
  {
    auto cap = PcapCapture::open(file.str(), 64);
    REQUIRE(cap);
    FramePool pool;
    FrameRef f = make_frame(pool, 1514, mac(2), mac(1), 7);
    (*cap)->write(sim::TimePoint::zero() + 1_us, f.bytes());
  }  // closed
  CHECK(file_u32(file.str(), 0) == 0xa1b23c4du);
  CHECK(file_u32(file.str(), 16) == 64u);  // snaplen
  CHECK(file_u32(file.str(), 20) == 1u);   // LINKTYPE_ETHERNET
  int linktype = -1;
  const auto recs = read_pcap(file.str(), &linktype);
  CHECK(linktype == DLT_EN10MB);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].ns == 1000);
  CHECK(recs[0].len == 1514);
  CHECK(recs[0].bytes.size() == 64);
  CHECK(recs[0].bytes[63] == nicemu::testing::pattern_byte(63, 7));
}

TEST_CASE("pcap: a tx tap stamps the start of serialization and sees bytes as sent, an rx tap stamps delivery",
          "[nic][hw][pcap][unit]") {
  TempPath tx_file("tx");
  TempPath rx_file("rx");
  FramePool pool;
  sim::EventQueue q;
  sim::RandomStreams streams(1);
  Link link(q, streams, "l0", link_50ns());
  Receiver rx(q, link.port(1));
  auto tx_cap = PcapCapture::open(tx_file.str());
  auto rx_cap = PcapCapture::open(rx_file.str());
  REQUIRE(tx_cap);
  REQUIRE(rx_cap);
  link.port(0).add_tap(**tx_cap, TapPoint::kTx);
  link.port(1).add_tap(**rx_cap, TapPoint::kRx);
  FaultConfig f;
  f.corrupt = 1.0;
  f.corrupt_mode = CorruptMode::kPassCorrupted;
  REQUIRE_FALSE(link.port(0).set_faults(f));
  link.port(0).transmit(make_frame(pool, 1514, mac(2), mac(1), 1));
  link.port(0).transmit(make_frame(pool, 1514, mac(2), mac(1), 2));
  q.run_until_idle();
  (*tx_cap)->flush();
  (*rx_cap)->flush();
  const auto sent = read_pcap(tx_file.str());
  const auto got = read_pcap(rx_file.str());
  REQUIRE(sent.size() == 2);
  REQUIRE(got.size() == 2);
  CHECK(sent[0].ns == 0);
  CHECK(sent[1].ns == 123);  // 123.04 ns
  CHECK(got[0].ns == 173);
  CHECK(got[1].ns == 296);
  // Sent bytes are the originals, received ones carry the corruption.
  CHECK(sent[0].bytes[20] == nicemu::testing::pattern_byte(20, 1));
  CHECK(sent[0].bytes != got[0].bytes);
  CHECK(got[0].bytes == rx.frames[0].bytes);
  link.port(0).remove_tap(**tx_cap);
  link.port(1).remove_tap(**rx_cap);
}

TEST_CASE("pcap: a file that cannot be created is an error naming the file", "[nic][hw][pcap][unit]") {
  auto cap = PcapCapture::open("/nonexistent-dir-nicemu/x.pcap");
  REQUIRE_FALSE(cap);
  CHECK(cap.error().code == -EIO);
  CHECK(cap.error().message.find("/nonexistent-dir-nicemu/x.pcap") != std::string::npos);
  auto zero = PcapCapture::open("/tmp/unused.pcap", 0);
  REQUIRE_FALSE(zero);
  CHECK(zero.error().code == -EINVAL);
}
