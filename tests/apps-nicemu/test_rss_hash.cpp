// `nicemu rss-hash`: the published RSS verification rows (../shared/reference/rss-toeplitz.md and
// the full suite of tests/nic-steering), key forms, and each kind of bad input.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "../nic-steering/verification_suite.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/nic/hw/rss.hpp"
#include "nicemu_process.hpp"

using namespace nicemu::testing;
namespace hw = nicemu::nic::hw;
namespace w = nicemu::netstack::wire;

namespace {

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// The key exactly as ../shared/reference/rss-toeplitz.md prints it (bytes separated by spaces).
constexpr const char* kReferenceKeySpaced =
    "6d 5a 56 da 25 5b 0e c2 41 67 25 3d 43 a3 8f b0 d0 ca 2b cb ae 7b 30 b4 77 cb 2d a3 80 30 f2 0c 6a 42 b7 3b "
    "be ac 01 fa";
constexpr const char* kReferenceKeyColons =
    "6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:"
    "be:ac:01:fa";
constexpr const char* kReferenceKeyPlain = "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa";

// The rows of ../shared/reference/rss-toeplitz.md, as printed there.
struct ReferenceRow {
  const char* src;
  const char* sport;
  const char* dst;
  const char* dport;
  const char* addresses_only;
  const char* with_ports;
};
constexpr ReferenceRow kReferenceRows[] = {
    {"66.9.149.187", "2794", "161.142.100.80", "1766", "0x323e8fc2", "0x51ccc178"},
    {"199.92.111.2", "14230", "65.69.140.83", "4739", "0xd718262a", "0xc626b0ea"},
    {"3ffe:2501:200:1fff::7", "2794", "3ffe:2501:200:3::1", "1766", "0x2cc18cd5", "0x40207d3d"},
};

ProcessResult hash_of(const std::string& key, const std::string& src, const std::string& dst) {
  return run_nicemu({"rss-hash", "--key", key, "--src", src, "--dst", dst});
}
ProcessResult hash_of(const std::string& key, const std::string& src, const std::string& dst, const std::string& sport,
                      const std::string& dport) {
  return run_nicemu({"rss-hash", "--key", key, "--src", src, "--dst", dst, "--sport", sport, "--dport", dport});
}

void require_first_line(const ProcessResult& r, const std::string& expected) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(first_line(r.out) == expected);
}

void require_usage_error(const ProcessResult& r, const std::string& option, const std::string& words) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find(option) != std::string::npos);
  CHECK(r.err.find(words) != std::string::npos);
}

}  // namespace

TEST_CASE("nicemu rss-hash: every row of the reference table, IPv4 and IPv6, with and without ports",
          "[apps-nicemu][integration]") {
  for (const ReferenceRow& row : kReferenceRows) {
    INFO(row.src << " -> " << row.dst);
    require_first_line(hash_of(kReferenceKeySpaced, row.src, row.dst), row.addresses_only);
    require_first_line(hash_of(kReferenceKeySpaced, row.src, row.dst, row.sport, row.dport), row.with_ports);
  }
}

TEST_CASE("nicemu rss-hash: the full verification suite (five IPv4, three IPv6 rows) with the default key",
          "[apps-nicemu][integration]") {
  auto check = [](const RssVerificationRow& row) {
    INFO(row.src << " -> " << row.dst);
    const auto two = run_nicemu({"rss-hash", "--src", row.src, "--dst", row.dst});
    require_first_line(two, hex32(row.hash_addresses));
    const auto four = run_nicemu({"rss-hash", "--src", row.src, "--dst", row.dst, "--sport",
                                  std::to_string(row.src_port), "--dport", std::to_string(row.dst_port)});
    require_first_line(four, hex32(row.hash_with_ports));
  };
  for (const auto& row : kRssSuiteV4) check(row);
  for (const auto& row : kRssSuiteV6) check(row);
}

TEST_CASE("nicemu rss-hash: the key may be given with colons, spaces, no separators or as 'default'",
          "[apps-nicemu][integration]") {
  const ReferenceRow& row = kReferenceRows[0];
  for (const char* key : {kReferenceKeyColons, kReferenceKeySpaced, kReferenceKeyPlain, "default"}) {
    INFO("key " << key);
    require_first_line(hash_of(key, row.src, row.dst, row.sport, row.dport), row.with_ports);
  }
  // Upper-case hex is the same key.
  std::string upper = kReferenceKeyPlain;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  require_first_line(hash_of(upper, row.src, row.dst, row.sport, row.dport), row.with_ports);
}

TEST_CASE("nicemu rss-hash: another key gives the library's Toeplitz hash of that key", "[apps-nicemu][integration]") {
  const hw::RssKey key = hw::rss_key_from_seed(42);
  std::string text;
  char buf[4];
  for (std::uint8_t b : key) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    text += buf;
  }
  const auto src = w::IpAddress::parse("10.1.2.3");
  const auto dst = w::IpAddress::parse("10.4.5.6");
  REQUIRE(src);
  REQUIRE(dst);
  const std::uint32_t expected = hw::toeplitz_hash(key, hw::hash_input(*src, *dst, 1234, 80).span());
  REQUIRE(expected != hw::toeplitz_hash(hw::kMicrosoftRssKey, hw::hash_input(*src, *dst, 1234, 80).span()));
  require_first_line(hash_of(text, "10.1.2.3", "10.4.5.6", "1234", "80"), hex32(expected));
}

TEST_CASE("nicemu rss-hash: the lines after the hash show the input bytes, the tuple and the key",
          "[apps-nicemu][integration]") {
  const auto r = run_nicemu({"rss-hash", "--src", "66.9.149.187", "--dst", "161.142.100.80", "--sport", "2794",
                             "--dport", "1766"});
  REQUIRE(r.exit_code == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() >= 4);
  // 66.9.149.187 = 42 09 95 bb, 161.142.100.80 = a1 8e 64 50, 2794 = 0a ea, 1766 = 06 e6.
  CHECK(lines[1].rfind("input: 42 09 95 bb a1 8e 64 50 0a ea 06 e6 (12 bytes", 0) == 0);
  CHECK(lines[2] == "tuple: 4-tuple IPv4 66.9.149.187:2794 -> 161.142.100.80:1766");
  CHECK(lines[3].rfind(std::string("key: ") + kReferenceKeyColons, 0) == 0);

  const auto v6 = run_nicemu({"rss-hash", "--src", "3ffe:2501:200:1fff::7", "--dst", "3ffe:2501:200:3::1"});
  REQUIRE(v6.exit_code == 0);
  const auto v6_lines = lines_of(v6.out);
  REQUIRE(v6_lines.size() >= 3);
  CHECK(v6_lines[1].find("(32 bytes") != std::string::npos);
  CHECK(v6_lines[2] == "tuple: 2-tuple IPv6 3ffe:2501:200:1fff::7 -> 3ffe:2501:200:3::1");
}

TEST_CASE("nicemu rss-hash: a bad key is refused with a message naming --key and the problem",
          "[apps-nicemu][integration]") {
  const std::string short_key(78, 'a');
  require_usage_error(hash_of(short_key, "10.0.0.1", "10.0.0.2"), "--key", "78 hex digits");
  std::string bad_digit = kReferenceKeyPlain;
  bad_digit[10] = 'g';
  require_usage_error(hash_of(bad_digit, "10.0.0.1", "10.0.0.2"), "--key", "not a hex digit");
  require_usage_error(hash_of("6d5:a56da", "10.0.0.1", "10.0.0.2"), "--key", "separator inside a byte");
  require_usage_error(hash_of(std::string(kReferenceKeyPlain) + "00", "10.0.0.1", "10.0.0.2"), "--key",
                      "82 hex digits");
}

TEST_CASE("nicemu rss-hash: bad addresses and ports are refused with a message naming the option",
          "[apps-nicemu][integration]") {
  require_usage_error(hash_of("default", "10.0.0.256", "10.0.0.2"), "--src", "not an IP address");
  require_usage_error(hash_of("default", "10.0.0.1", "fd00::zz"), "--dst", "not an IP address");
  require_usage_error(hash_of("default", "10.0.0.1", "fd00::1"), "--src", "different families");
  require_usage_error(hash_of("default", "10.0.0.1", "10.0.0.2", "70000", "80"), "--sport", "not a port");
  require_usage_error(hash_of("default", "10.0.0.1", "10.0.0.2", "80", "-1"), "--dport", "not a port");
  require_usage_error(run_nicemu({"rss-hash", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--sport", "80"}), "--sport",
                      "without --dport");
  require_usage_error(run_nicemu({"rss-hash", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80"}), "--dport",
                      "without --sport");
  require_usage_error(run_nicemu({"rss-hash", "--dst", "10.0.0.2"}), "--src", "required");
}
