// Address parsing and formatting (RFC 4291 §2.2, RFC 5952 §4, inet_pton(3) rules for IPv4).
#include "nicemu/netstack/wire/address.hpp"

#include <cstdio>

namespace nicemu::netstack::wire {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr char kHexDigits[] = "0123456789abcdef";

void append_decimal(std::string& out, unsigned v) {
  char buf[4];
  const int n = std::snprintf(buf, sizeof buf, "%u", v);
  out.append(buf, static_cast<std::size_t>(n));
}

void append_hex_group(std::string& out, std::uint16_t v) {
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = (static_cast<unsigned>(v) >> static_cast<unsigned>(shift)) & 0xfu;
    if (nibble != 0 || started || shift == 0) {
      out.push_back(kHexDigits[nibble]);
      started = true;
    }
  }
}

}  // namespace

// --- MacAddress ---

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  MacAddress a;
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t at = i * 3;
    if (i > 0 && text[at - 1] != sep) return std::nullopt;
    const int hi = hex_value(text[at]);
    const int lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    a.octets[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return a;
}

std::string MacAddress::to_string() const {
  std::string s;
  s.reserve(17);
  for (std::size_t i = 0; i < 6; ++i) {
    if (i > 0) s.push_back(':');
    s.push_back(kHexDigits[octets[i] >> 4]);
    s.push_back(kHexDigits[octets[i] & 0xfu]);
  }
  return s;
}

// --- Ipv4Address ---

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  Ipv4Address a;
  std::size_t i = 0;
  for (std::size_t part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
    const std::size_t start = i;
    unsigned v = 0;
    while (i < text.size() && is_digit(text[i])) {
      if (i - start == 3) return std::nullopt;
      v = v * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    if (i == start || v > 255) return std::nullopt;
    if (i - start > 1 && text[start] == '0') return std::nullopt;  // "01": inet_pton rejects it
    a.octets[part] = static_cast<std::uint8_t>(v);
  }
  if (i != text.size()) return std::nullopt;
  return a;
}

std::string Ipv4Address::to_string() const {
  std::string s;
  s.reserve(15);
  for (std::size_t i = 0; i < 4; ++i) {
    if (i > 0) s.push_back('.');
    append_decimal(s, octets[i]);
  }
  return s;
}

// --- Ipv6Address ---

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view text) {
  std::array<std::uint16_t, 8> head{};
  std::array<std::uint16_t, 8> tail{};
  std::size_t n_head = 0;
  std::size_t n_tail = 0;
  bool compressed = false;
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto push = [&](std::uint16_t g) {
    if (n_head + n_tail == 8) return false;
    if (compressed) {
      tail[n_tail++] = g;
    } else {
      head[n_head++] = g;
    }
    return true;
  };

  if (n >= 2 && text[0] == ':' && text[1] == ':') {
    compressed = true;
    i = 2;
  } else if (n >= 1 && text[0] == ':') {
    return std::nullopt;
  }
  while (i < n) {
    // One token: hex group, or a dotted quad that must end the text.
    std::size_t end = i;
    bool dotted = false;
    while (end < n && text[end] != ':') {
      if (text[end] == '.') dotted = true;
      ++end;
    }
    if (dotted) {
      if (end != n) return std::nullopt;
      const auto v4 = Ipv4Address::parse(text.substr(i, end - i));
      if (!v4) return std::nullopt;
      if (!push(static_cast<std::uint16_t>((v4->octets[0] << 8) | v4->octets[1]))) return std::nullopt;
      if (!push(static_cast<std::uint16_t>((v4->octets[2] << 8) | v4->octets[3]))) return std::nullopt;
      i = end;
      break;
    }
    if (end == i || end - i > 4) return std::nullopt;
    unsigned g = 0;
    for (std::size_t k = i; k < end; ++k) {
      const int h = hex_value(text[k]);
      if (h < 0) return std::nullopt;
      g = g * 16 + static_cast<unsigned>(h);
    }
    if (!push(static_cast<std::uint16_t>(g))) return std::nullopt;
    i = end;
    if (i == n) break;
    ++i;  // the ':'
    if (i < n && text[i] == ':') {
      if (compressed) return std::nullopt;  // a second "::"
      compressed = true;
      ++i;
    } else if (i == n) {
      return std::nullopt;  // a trailing single ':'
    }
  }
  const std::size_t groups = n_head + n_tail;
  if (compressed ? groups > 7 : groups != 8) return std::nullopt;

  Ipv6Address a;
  for (std::size_t k = 0; k < n_head; ++k) {
    a.octets[2 * k] = static_cast<std::uint8_t>(head[k] >> 8);
    a.octets[2 * k + 1] = static_cast<std::uint8_t>(head[k] & 0xffu);
  }
  for (std::size_t k = 0; k < n_tail; ++k) {
    const std::size_t at = 8 - n_tail + k;
    a.octets[2 * at] = static_cast<std::uint8_t>(tail[k] >> 8);
    a.octets[2 * at + 1] = static_cast<std::uint8_t>(tail[k] & 0xffu);
  }
  return a;
}

Ipv6Address Ipv6Address::from_ipv4_mapped(Ipv4Address v4) {
  Ipv6Address a;
  a.octets[10] = 0xff;
  a.octets[11] = 0xff;
  for (std::size_t i = 0; i < 4; ++i) a.octets[12 + i] = v4.octets[i];
  return a;
}

bool Ipv6Address::is_ipv4_mapped() const {
  for (std::size_t i = 0; i < 10; ++i) {
    if (octets[i] != 0) return false;
  }
  return octets[10] == 0xff && octets[11] == 0xff;
}

Ipv6Address Ipv6Address::solicited_node() const {
  Ipv6Address a;
  a.octets[0] = 0xff;
  a.octets[1] = 0x02;
  a.octets[11] = 0x01;
  a.octets[12] = 0xff;
  a.octets[13] = octets[13];
  a.octets[14] = octets[14];
  a.octets[15] = octets[15];
  return a;
}

MacAddress Ipv6Address::multicast_mac() const {
  return MacAddress{{0x33, 0x33, octets[12], octets[13], octets[14], octets[15]}};
}

std::string Ipv6Address::to_string() const {
  std::string s;
  s.reserve(39);
  if (is_ipv4_mapped()) {
    s = "::ffff:";
    s += Ipv4Address{{octets[12], octets[13], octets[14], octets[15]}}.to_string();
    return s;
  }
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  std::size_t best_start = 8;
  std::size_t best_len = 0;
  for (std::size_t k = 0; k < 8;) {
    if (group(k) != 0) {
      ++k;
      continue;
    }
    std::size_t run = k;
    while (run < 8 && group(run) == 0) ++run;
    if (run - k > best_len) {
      best_start = k;
      best_len = run - k;
    }
    k = run;
  }
  if (best_len < 2) best_start = 8;
  for (std::size_t k = 0; k < 8; ++k) {
    if (k == best_start) {
      s += "::";
      k += best_len - 1;
      continue;
    }
    if (k > 0 && k != best_start + best_len) s.push_back(':');
    append_hex_group(s, group(k));
  }
  return s;
}

// --- IpAddress ---

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    if (auto a = Ipv6Address::parse(text)) return IpAddress(*a);
    return std::nullopt;
  }
  if (auto a = Ipv4Address::parse(text)) return IpAddress(*a);
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  switch (version_) {
    case IpVersion::kV4:
      return v4().to_string();
    case IpVersion::kV6:
      return v6().to_string();
    case IpVersion::kNone:
      break;
  }
  return {};
}

}  // namespace nicemu::netstack::wire
