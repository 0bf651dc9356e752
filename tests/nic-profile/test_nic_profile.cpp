// NicProfile validation in nic-model/hw: a complete profile passes; each kind of inconsistency is
// reported with the field's dotted key and what is allowed; derived settings (cycle times,
// header-split defaults).
#include <catch2/catch.hpp>

#include <algorithm>

#include "nicemu/nic/hw/profile.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using namespace nicemu::sim::literals;

namespace {

NicProfile valid_profile() {
  NicProfile p;
  p.name = "test-nic";
  p.description = "a profile for tests";
  p.channels.max_queues = 8;
  p.channels.max = {8, 8, 8};
  p.channels.defaults = {0, 0, 4};
  p.rings.rx = {64, 4096, 1024};
  p.rings.tx = {64, 4096, 1024};
  p.rings.rx_buf_len_default = 4096;
  p.rings.rx_buf_len_allowed = {2048, 4096};
  p.header_split.supported = true;
  p.header_split.split_udp = true;
  p.header_split.header_buf_len = 256;
  p.header_split.hds_thresh_max = 1023;
  p.header_split.hds_thresh_default = 256;
  p.header_split.non_qualifying = NonQualifyingPlacement::kHeaderBufferIfFits;
  p.descriptors = {16, 32, 16, 16};
  p.pipeline.clock_mhz = 1000;
  p.pipeline.cycles = {4, 4, 4, 4, 4};
  p.pcie = PcieParams{};
  p.pcie.write_latency = 250_ns;
  p.pcie.read_latency = 500_ns;
  p.mtu_max = 9000;
  p.tso = {262143, 65535};
  p.coalesce = {10, 15};
  p.restart.mode = 1;
  p.restart.scope = RestartScope::kAllQueues;
  p.restart.firmware_quiesce = 100_us;
  return p;
}

bool has_error(const std::vector<FieldError>& errors, std::string_view field) {
  return std::any_of(errors.begin(), errors.end(), [&](const FieldError& e) { return e.field == field; });
}

}  // namespace

TEST_CASE("profile: a complete, consistent profile validates", "[profile][unit]") {
  const auto errors = validate_nic_profile(valid_profile());
  for (const auto& e : errors) INFO(e.field << ": " << e.message);
  CHECK(errors.empty());
}

TEST_CASE("profile: out-of-range fields name the field and the allowed range", "[profile][unit]") {
  NicProfile p = valid_profile();
  p.restart.mode = 4;
  p.pcie.lanes = 32;
  p.mtu_max = 40;
  const auto errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].field == "pcie.lanes");
  CHECK(errors[1].field == "mtu-max");
  CHECK(errors[1].message == "40 is not allowed; allowed: 68 to 65535 bytes");
  CHECK(errors[2].field == "restart.mode");
  CHECK(errors[2].message == "4 is not allowed; allowed: 0 to 3");
}

TEST_CASE("profile: channel defaults must fit the maxima and leave an RX and a TX channel", "[profile][unit]") {
  NicProfile p = valid_profile();
  p.channels.defaults = {0, 0, 9};  // more than max.combined and than max-queues
  auto errors = validate_nic_profile(p);
  CHECK(has_error(errors, "channels.default.combined"));
  CHECK(has_error(errors, "channels.default"));
  p = valid_profile();
  p.channels.defaults = {0, 2, 0};  // no RX channel
  errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "channels.default");
  CHECK(errors[0].message.find("no RX channel") != std::string::npos);
  p = valid_profile();
  p.channels.max.rx = 9;
  errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "channels.max.rx");
}

TEST_CASE("profile: ring defaults lie between min and max", "[profile][unit]") {
  NicProfile p = valid_profile();
  p.rings.rx.default_size = 8192;
  auto errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "rings.rx.default");
  CHECK(errors[0].message == "8192 is outside the ring limits; allowed: rings.rx.min to rings.rx.max (64 to 4096)");
  p = valid_profile();
  p.rings.tx.min = 8192;
  errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "rings.tx.min");
}

TEST_CASE("profile: rx-buf-len default is one of the allowed sizes, all powers of two", "[profile][unit]") {
  NicProfile p = valid_profile();
  p.rings.rx_buf_len_default = 8192;
  auto errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "rings.rx-buf-len.default");
  p = valid_profile();
  p.rings.rx_buf_len_allowed = {2048, 3000, 4096, 4096};
  errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message == "3000 is not allowed; allowed: a power of two from 256 to 65536 bytes");
  CHECK(errors[1].message == "4096 is listed twice; allowed: each size once");
  p.rings.rx_buf_len_allowed.clear();
  CHECK(has_error(validate_nic_profile(p), "rings.rx-buf-len.allowed"));
}

TEST_CASE("profile: header split limits are consistent with support", "[profile][unit]") {
  NicProfile p = valid_profile();
  p.header_split.hds_thresh_default = 2000;
  auto errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "header-split.hds-thresh-default");
  p = valid_profile();
  p.header_split.supported = false;  // but hds-thresh-max is still 1023
  p.header_split.hds_thresh_default = 0;
  errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "header-split.hds-thresh-max");
  p = valid_profile();
  p.header_split.header_buf_len = 32;
  CHECK(has_error(validate_nic_profile(p), "header-split.header-buf-len"));
}

TEST_CASE("profile: the p2p section is validated under its own name", "[profile][unit]") {
  NicProfile p = valid_profile();
  p.p2p = PcieParams{};
  CHECK(validate_nic_profile(p).empty());
  p.p2p->max_read_request_bytes = 100;
  const auto errors = validate_nic_profile(p);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "p2p.max-read-request-bytes");
}

TEST_CASE("profile: allowed texts for fields, numeric or not", "[profile][unit]") {
  CHECK(nic_profile_field_allowed("rings.rx.max") == "1 to 65536 descriptors");
  CHECK(nic_profile_field_allowed("p2p.lanes") == "one of 1, 2, 4, 8, 16");
  CHECK(nic_profile_field_allowed("restart.mode") == "0 to 3");
  CHECK(nic_profile_field_allowed("name").empty());
}

TEST_CASE("profile: stage cycles convert to time at the NIC clock", "[profile][unit]") {
  NicProfile p = valid_profile();
  CHECK(p.pipeline.cycles_time(4) == 4_ns);
  p.pipeline.clock_mhz = 1500;
  CHECK(p.pipeline.cycles_time(3) == 2_ns);
  CHECK(p.pipeline.cycles_time(1) == 667_ps);  // 666.67 ps rounded up
}

TEST_CASE("profile: header-split defaults come from the profile", "[profile][unit]") {
  NicProfile p = valid_profile();
  const HeaderSplitConfig cfg = header_split_defaults(p);
  CHECK(cfg.mode == TcpDataSplit::kUnknown);
  CHECK_FALSE(cfg.split_on());
  CHECK(cfg.hds_thresh == 256);
  CHECK(cfg.rx_buf_len == 4096);
  CHECK(cfg.header_buf_len == 256);
  CHECK(cfg.non_qualifying == NonQualifyingPlacement::kHeaderBufferIfFits);
  p.header_split.enabled_by_default = true;
  CHECK(header_split_defaults(p).split_on());
}
