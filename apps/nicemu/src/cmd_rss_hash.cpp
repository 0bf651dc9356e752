// cmd_rss_hash.cpp — `nicemu rss-hash`: the Toeplitz hash a NIC computes for a 2-tuple
// (addresses) or 4-tuple (addresses and ports), IPv4 or IPv6, under a given 40-byte key.
//
// Models: the hash input and hash of nic-model/hw (rss.hpp: hash_input, toeplitz_hash, the
//   Microsoft pseudocode) — this file has no hash of its own; the default key is the Microsoft
//   verification key, the NIC model's default, so the numbers match the published suite and
//   what `nicemu steer` reports.
// Not modelled: which fields a NIC hashes for a flow type (rx-flow-hash: `nicemu steer` applies
//   it), symmetric transforms, hash functions other than Toeplitz.
// Output: line 1 the hash as 0x%08x (scripts read only this line); then the input bytes as
//   hashed, the tuple, and the key.
// References: ../shared/reference/rss-toeplitz.md; Microsoft, "Verifying the RSS hash
//   calculation".
#include <cstdio>
#include <string>

#include "cli.hpp"
#include "nicemu/nic/hw/rss.hpp"

namespace nicemu::cli {

namespace hw = nic::hw;
namespace w = netstack::wire;

namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "nicemu rss-hash: %s\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int cmd_rss_hash(const RssHashOptions& options) {
  auto key = parse_rss_key(options.key);
  if (!key) return usage_error("--key: " + key.error());
  auto src = parse_address(options.src);
  if (!src) return usage_error("--src: " + src.error());
  auto dst = parse_address(options.dst);
  if (!dst) return usage_error("--dst: " + dst.error());
  if (src->version() != dst->version()) {
    return usage_error("--src " + options.src + " and --dst " + options.dst +
                       " are of different families; allowed: both IPv4 or both IPv6");
  }
  if (options.sport.has_value() != options.dport.has_value()) {
    return usage_error(std::string("--") + (options.sport ? "sport" : "dport") + " is given without --" +
                       (options.sport ? "dport" : "sport") +
                       "; give both (4-tuple: addresses and ports) or neither (2-tuple: addresses only)");
  }

  const bool four_tuple = options.sport.has_value();
  std::uint16_t sport = 0, dport = 0;
  if (four_tuple) {
    auto sp = parse_port(*options.sport);
    if (!sp) return usage_error("--sport: " + sp.error());
    auto dp = parse_port(*options.dport);
    if (!dp) return usage_error("--dport: " + dp.error());
    sport = *sp;
    dport = *dp;
  }

  const hw::HashInput input = four_tuple ? hw::hash_input(*src, *dst, sport, dport) : hw::hash_input(*src, *dst);
  const std::uint32_t hash = hw::toeplitz_hash(*key, input.span());

  std::printf("0x%08x\n", hash);
  std::string bytes;
  char buf[4];
  for (std::uint8_t b : input.span()) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    if (!bytes.empty()) bytes += ' ';
    bytes += buf;
  }
  std::printf("input: %s (%u bytes: source address, destination address%s, network order)\n", bytes.c_str(),
              static_cast<unsigned>(input.len), four_tuple ? ", source port, destination port" : "");
  const char* family = src->is_v6() ? "IPv6" : "IPv4";
  if (four_tuple) {
    std::printf("tuple: 4-tuple %s %s -> %s\n", family, format_endpoint(*src, sport).c_str(),
                format_endpoint(*dst, dport).c_str());
  } else {
    std::printf("tuple: 2-tuple %s %s -> %s\n", family, src->to_string().c_str(), dst->to_string().c_str());
  }
  const bool is_default = *key == hw::kMicrosoftRssKey;
  std::printf("key: %s%s\n", format_rss_key(*key).c_str(), is_default ? " (default: the Microsoft verification key)" : "");
  return kExitOk;
}

}  // namespace nicemu::cli
