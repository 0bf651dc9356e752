// cli.cpp — the text forms `nicemu` takes on its command line (ports, addresses, RSS keys,
// flows) and where NIC presets are found. No CLI11 here: main.cpp is the only file that
// includes it; these parsers are plain functions the commands (and tests) call.
#include "cli.hpp"

#include <cstddef>
#include <cstdio>


namespace nicemu::cli {

namespace w = netstack::wire;
namespace hw = nic::hw;

namespace {

base::Unexpected<std::string> fail(std::string message) { return base::Unexpected{std::move(message)}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

base::Result<std::uint16_t, std::string> parse_port(std::string_view text) {
  if (text.empty()) return fail("a port is empty; allowed: 0 to 65535");
  std::uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return fail(quoted(text) + " is not a port; allowed: a decimal number 0 to 65535");
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
    if (v > 65535) return fail(quoted(text) + " is not a port; allowed: 0 to 65535");
  }
  return static_cast<std::uint16_t>(v);
}

base::Result<w::IpAddress, std::string> parse_address(std::string_view text) {
  std::string_view inner = text;
  const bool bracketed = inner.size() >= 2 && inner.front() == '[' && inner.back() == ']';
  if (bracketed) inner = inner.substr(1, inner.size() - 2);
  const std::optional<w::IpAddress> a = w::IpAddress::parse(inner);
  if (!a || (bracketed && !a->is_v6())) {
    return fail(quoted(text) + " is not an IP address; allowed: IPv4 like 10.0.0.1 or IPv6 like fd00::1");
  }
  return *a;
}

base::Result<hw::RssKey, std::string> parse_rss_key(std::string_view text) {
  if (text.empty() || text == "default") return hw::kMicrosoftRssKey;
  const std::string allowed =
      "; allowed: 'default' or 40 bytes as 80 hex digits, optionally with ':' between bytes (6d:5a:56:da:...)";
  hw::RssKey key{};
  std::size_t digits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ':' || c == ' ') {
      if (digits % 2 != 0) {
        return fail("the key has a separator inside a byte (after hex digit " + std::to_string(digits) + ")" + allowed);
      }
      continue;
    }
    const int h = hex_value(c);
    if (h < 0) {
      return fail("the key has " + quoted(std::string_view(&text[i], 1)) + " at position " + std::to_string(i + 1) +
                  ", which is not a hex digit" + allowed);
    }
    if (digits < 2 * hw::kRssKeyLen) {
      const std::size_t byte = digits / 2;
      key[byte] = static_cast<std::uint8_t>(digits % 2 == 0 ? h << 4 : key[byte] | h);
    }
    ++digits;
  }
  if (digits != 2 * hw::kRssKeyLen) {
    return fail("the key has " + std::to_string(digits) + " hex digits (" + std::to_string(digits / 2) +
                (digits % 2 != 0 ? ".5" : "") + " bytes), not 80 (40 bytes)" + allowed);
  }
  return key;
}

std::string format_rss_key(const hw::RssKey& key) {
  std::string s;
  char buf[4];
  for (std::size_t i = 0; i < key.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", key[i]);
    if (i != 0) s += ':';
    s += buf;
  }
  return s;
}

std::string format_endpoint(const w::IpAddress& address, std::uint16_t port) {
  const std::string a = address.to_string();
  return (address.is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(port);
}

std::string FlowSpec::to_string() const {
  return format_endpoint(src, src_port) + "-" + format_endpoint(dst, dst_port) + (udp ? "/udp" : "/tcp");
}

namespace {

// "a.b.c.d:port" or "[v6]:port" (`which`: "source" / "destination", for messages).
base::Result<std::pair<w::IpAddress, std::uint16_t>, std::string> parse_endpoint(std::string_view text,
                                                                                 std::string_view which) {
  const std::string where = std::string(which) + " " + quoted(text);
  std::string_view addr, port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(where + ": write an IPv6 endpoint as [ADDRESS]:PORT");
    }
    addr = text.substr(0, close + 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(where + " has no port; write ADDRESS:PORT");
    if (text.find(':') != colon) return fail(where + ": write an IPv6 endpoint in brackets, as [ADDRESS]:PORT");
    addr = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto a = parse_address(addr);
  if (!a) return fail(where + ": " + a.error());
  auto p = parse_port(port);
  if (!p) return fail(where + ": " + p.error());
  return std::pair{*a, *p};
}

}  // namespace

base::Result<FlowSpec, std::string> parse_flow(std::string_view text) {
  const std::string form = "; the form is SRC:SPORT-DST:DPORT[/tcp|/udp], IPv6 as [ADDR]:PORT";
  FlowSpec f;
  std::string_view endpoints = text;
  const std::size_t slash = text.rfind('/');
  if (slash != std::string_view::npos) {
    const std::string_view proto = text.substr(slash + 1);
    if (proto == "udp") {
      f.udp = true;
    } else if (proto != "tcp") {
      return fail("flow " + quoted(text) + ": protocol " + quoted(proto) + " is not allowed; allowed: tcp, udp");
    }
    endpoints = text.substr(0, slash);
  }
  // Neither IPv4 nor (bracketed) IPv6 text contains '-', so it separates the two ends.
  const std::size_t dash = endpoints.find('-');
  if (dash == std::string_view::npos || endpoints.find('-', dash + 1) != std::string_view::npos) {
    return fail("flow " + quoted(text) + " needs exactly one '-' between source and destination" + form);
  }
  auto src = parse_endpoint(endpoints.substr(0, dash), "source");
  if (!src) return fail("flow " + quoted(text) + ": " + src.error() + form);
  auto dst = parse_endpoint(endpoints.substr(dash + 1), "destination");
  if (!dst) return fail("flow " + quoted(text) + ": " + dst.error() + form);
  f.src = src->first;
  f.src_port = src->second;
  f.dst = dst->first;
  f.dst_port = dst->second;
  if (f.src.version() != f.dst.version()) {
    return fail("flow " + quoted(text) + ": the source and destination addresses are of different families; "
                "allowed: both IPv4 or both IPv6");
  }
  return f;
}

}  // namespace nicemu::cli
