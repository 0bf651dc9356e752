// cli.hpp — the `nicemu` program's commands as plain functions over plain option structs, the
// exit codes they share, and the parsers of the text forms the command line takes (ports,
// addresses, RSS keys, flows). main.cpp turns argv into these structs with CLI11 (the only
// translation unit that includes it); cmd_rss_hash.cpp and cmd_steer.cpp implement the
// commands; run_options.hpp declares `nicemu run`'s.
//
// Errors: every parser returns the value or one sentence that says what is wrong and what is
// allowed; commands print "nicemu <command>: <sentence>" to stderr and return kExitUsage.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nicemu/app/scenario.hpp"
#include "nicemu/base/result.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/nic/hw/rss.hpp"

namespace nicemu::cli {

// ---- exit codes --------------------------------------------------------------------------------

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    // ran, but the result is a failure (run: an expectation)
inline constexpr int kExitUsage = 2;     // a bad option, value or configuration file: nothing ran
inline constexpr int kExitNotBuilt = 3;  // the command exists but is not implemented yet

// ---- nicemu rss-hash ---------------------------------------------------------------------------

struct RssHashOptions {
  std::string key = "default";  // "default" or 40 bytes in hex (parse_rss_key)
  std::string src, dst;         // IPv4 or IPv6 addresses, one family
  // Both or neither: with them the 4-tuple is hashed, without them the 2-tuple.
  std::optional<std::string> sport, dport;
};
// Prints the Toeplitz hash as 0x%08x on the first line, then the input bytes, the tuple and the
// key. kExitUsage on a bad key, address or port.
int cmd_rss_hash(const RssHashOptions& options);

// ---- nicemu steer ------------------------------------------------------------------------------

struct SteerOptions {
  // Where the NIC settings come from: a scenario file, a NIC profile (its defaults only), or,
  // with neither, the built-in default scenario.
  std::optional<std::filesystem::path> scenario;
  std::optional<std::string> profile;  // a preset name (configs/nics/<name>.yaml) or a path
  std::optional<std::string> host;     // none: the host that owns the flow's destination
  std::vector<app::Override> overrides;
  std::vector<std::string> flows;      // parse_flow's form; at least one
};
// Prints, per flow, what steered it (an ntuple rule or RSS context 0), the hash, the
// indirection table index and the queue. kExitUsage on a bad flow, host or configuration.
int cmd_steer(const SteerOptions& options);

// ---- text forms --------------------------------------------------------------------------------

// "0".."65535" (decimal digits only).
base::Result<std::uint16_t, std::string> parse_port(std::string_view text);
// An IPv4 or IPv6 address; an IPv6 address may be written in brackets ("[fd00::1]").
base::Result<netstack::wire::IpAddress, std::string> parse_address(std::string_view text);
// "default" (or empty): kMicrosoftRssKey. Otherwise 40 bytes as 80 hex digits; ':' or ' ' may
// separate bytes (6d:5a:56:da:... as ethtool -x prints it), but not split one.
base::Result<nic::hw::RssKey, std::string> parse_rss_key(std::string_view text);
// "6d:5a:56:da:..." (ethtool -x's form).
std::string format_rss_key(const nic::hw::RssKey& key);
// "a.b.c.d:port" or "[v6]:port".
std::string format_endpoint(const netstack::wire::IpAddress& address, std::uint16_t port);

// One flow of `nicemu steer --flow`: SRC:SPORT-DST:DPORT[/tcp|/udp], IPv6 as [addr]:port;
// the protocol defaults to tcp. Both addresses of one family.
struct FlowSpec {
  netstack::wire::IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;
  bool udp = false;
  std::string to_string() const;  // the canonical form, "10.0.0.1:40000-10.0.0.2:5201/tcp"
};
base::Result<FlowSpec, std::string> parse_flow(std::string_view text);

}  // namespace nicemu::cli
