// nicemu/netstack/wire/address.hpp — MAC, IPv4, IPv6 and family-tagged IP addresses.
//
// Models: 48-bit Ethernet addresses (broadcast, group bit), IPv4 and IPv6 addresses with the
//   special ranges the stack asks about, the IPv6 solicited-node multicast group and its MAC,
//   text parsing (for CLI flags and scenario files) and canonical formatting (RFC 5952 for IPv6).
// Not modelled: zone indices ("fe80::1%eth0"), prefix notation ("/64"), IPv4 shorthand forms
//   ("10.1"), IPv4-compatible IPv6 formatting (deprecated by RFC 4291 §2.5.5.1).
// References: RFC 4291 §2.2 (text forms), §2.5.5.2 (IPv4-mapped), §2.7.1 (solicited-node);
//   RFC 5952 §4 (canonical text); RFC 2464 §7 (IPv6 multicast over Ethernet); inet_pton(3).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "nicemu/base/assert.hpp"

namespace nicemu::netstack::wire {

struct MacAddress {
  std::array<std::uint8_t, 6> octets{};

  static constexpr MacAddress broadcast() { return MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  // "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff", hex digits of either case, two per octet.
  static std::optional<MacAddress> parse(std::string_view text);
  // Reads / writes 6 bytes; the caller has checked the bounds.
  static MacAddress read(const std::byte* p) {
    MacAddress a;
    std::memcpy(a.octets.data(), p, 6);
    return a;
  }
  void write(std::byte* p) const { std::memcpy(p, octets.data(), 6); }

  std::string to_string() const;  // lowercase, colon separated
  bool is_broadcast() const { return *this == broadcast(); }
  bool is_multicast() const { return (octets[0] & 0x01u) != 0; }  // group bit; includes broadcast
  bool is_unicast() const { return !is_multicast(); }
  bool is_zero() const { return *this == MacAddress{}; }
  bool is_locally_administered() const { return (octets[0] & 0x02u) != 0; }

  friend auto operator<=>(const MacAddress&, const MacAddress&) = default;
};

struct Ipv4Address {
  std::array<std::uint8_t, 4> octets{};

  static constexpr Ipv4Address from_u32(std::uint32_t host_order) {
    return Ipv4Address{{static_cast<std::uint8_t>(host_order >> 24), static_cast<std::uint8_t>(host_order >> 16),
                        static_cast<std::uint8_t>(host_order >> 8), static_cast<std::uint8_t>(host_order)}};
  }
  constexpr std::uint32_t to_u32() const {
    return (std::uint32_t{octets[0]} << 24) | (std::uint32_t{octets[1]} << 16) | (std::uint32_t{octets[2]} << 8) |
           std::uint32_t{octets[3]};
  }
  static constexpr Ipv4Address broadcast() { return from_u32(0xffffffffu); }
  // Dotted quad, four decimal parts 0..255, no leading zeros (inet_pton(AF_INET) rules).
  static std::optional<Ipv4Address> parse(std::string_view text);
  static Ipv4Address read(const std::byte* p) {
    Ipv4Address a;
    std::memcpy(a.octets.data(), p, 4);
    return a;
  }
  void write(std::byte* p) const { std::memcpy(p, octets.data(), 4); }

  std::string to_string() const;
  bool is_unspecified() const { return to_u32() == 0; }
  bool is_broadcast() const { return to_u32() == 0xffffffffu; }
  bool is_multicast() const { return (octets[0] & 0xf0u) == 0xe0u; }  // 224.0.0.0/4
  bool is_loopback() const { return octets[0] == 127; }
  bool is_link_local() const { return octets[0] == 169 && octets[1] == 254; }

  friend auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

struct Ipv6Address {
  std::array<std::uint8_t, 16> octets{};

  static constexpr Ipv6Address loopback() {
    Ipv6Address a;
    a.octets[15] = 1;
    return a;
  }
  // RFC 4291 §2.2 forms: eight hex groups, one "::", an optional dotted-quad tail.
  static std::optional<Ipv6Address> parse(std::string_view text);
  static Ipv6Address read(const std::byte* p) {
    Ipv6Address a;
    std::memcpy(a.octets.data(), p, 16);
    return a;
  }
  void write(std::byte* p) const { std::memcpy(p, octets.data(), 16); }
  static Ipv6Address from_ipv4_mapped(Ipv4Address v4);  // ::ffff:a.b.c.d

  std::string to_string() const;  // RFC 5952 canonical text
  std::uint16_t group(std::size_t i) const {
    NICEMU_ASSERT(i < 8, "an IPv6 address has eight 16-bit groups");
    return static_cast<std::uint16_t>((octets[2 * i] << 8) | octets[2 * i + 1]);
  }
  bool is_unspecified() const { return *this == Ipv6Address{}; }
  bool is_loopback() const { return *this == loopback(); }
  bool is_multicast() const { return octets[0] == 0xff; }
  bool is_link_local() const { return octets[0] == 0xfe && (octets[1] & 0xc0u) == 0x80u; }  // fe80::/10
  bool is_ipv4_mapped() const;
  // ff02::1:ffXX:XXXX with the low 24 bits of this address (RFC 4291 §2.7.1).
  Ipv6Address solicited_node() const;
  // 33:33 followed by the low 32 bits of a multicast address (RFC 2464 §7).
  MacAddress multicast_mac() const;

  friend auto operator<=>(const Ipv6Address&, const Ipv6Address&) = default;
};

enum class IpVersion : std::uint8_t { kNone = 0, kV4 = 4, kV6 = 6 };

// An IPv4 or IPv6 address in one trivially copyable value (for parse_packet, flow keys, CLI
// flags). A default-constructed IpAddress has no family (kNone): "no IP layer here".
class IpAddress {
 public:
  constexpr IpAddress() = default;
  constexpr IpAddress(Ipv4Address a) : version_(IpVersion::kV4) {  // NOLINT: implicit by design
    for (std::size_t i = 0; i < 4; ++i) bytes_[i] = a.octets[i];
  }
  constexpr IpAddress(Ipv6Address a) : version_(IpVersion::kV6), bytes_(a.octets) {}  // NOLINT

  // An IPv4 dotted quad or an IPv6 address.
  static std::optional<IpAddress> parse(std::string_view text);

  IpVersion version() const { return version_; }
  bool is_v4() const { return version_ == IpVersion::kV4; }
  bool is_v6() const { return version_ == IpVersion::kV6; }
  Ipv4Address v4() const {
    NICEMU_ASSERT(is_v4(), "IpAddress::v4() on an address that is not IPv4");
    return Ipv4Address{{bytes_[0], bytes_[1], bytes_[2], bytes_[3]}};
  }
  Ipv6Address v6() const {
    NICEMU_ASSERT(is_v6(), "IpAddress::v6() on an address that is not IPv6");
    return Ipv6Address{bytes_};
  }
  std::string to_string() const;  // "" for kNone
  // The address bytes: IPv4 in the first 4 (the rest zero), IPv6 in all 16.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  // 0.0.0.0 or :: (INADDR_ANY / in6addr_any); also true for kNone.
  bool is_unspecified() const {
    for (const auto b : bytes_) {
      if (b != 0) return false;
    }
    return true;
  }
  // The unspecified address of a family.
  static IpAddress any(IpVersion v) { return v == IpVersion::kV6 ? IpAddress(Ipv6Address{}) : IpAddress(Ipv4Address{}); }

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  IpVersion version_ = IpVersion::kNone;
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 in the first 4, the rest zero
};

}  // namespace nicemu::netstack::wire
