// nicemu/netstack/wire/bytes.hpp — network-byte-order loads and stores over std::byte.
//
// Models: nothing by itself; the one place where header fields become integers (ntohs/htons).
// Not modelled: unaligned-access tricks: every access is byte-wise, which compilers turn into a
//   single load plus a byte swap.
// References: RFC 1700 ("network byte order" is big-endian).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace nicemu::netstack::wire::detail {

inline std::uint8_t load_u8(const std::byte* p) { return std::to_integer<std::uint8_t>(p[0]); }

inline std::uint16_t load_be16(const std::byte* p) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
}

inline std::uint32_t load_be32(const std::byte* p) {
  return (std::to_integer<std::uint32_t>(p[0]) << 24) | (std::to_integer<std::uint32_t>(p[1]) << 16) |
         (std::to_integer<std::uint32_t>(p[2]) << 8) | std::to_integer<std::uint32_t>(p[3]);
}

inline void store_u8(std::byte* p, std::uint8_t v) { p[0] = std::byte{v}; }

inline void store_be16(std::byte* p, std::uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v & 0xffu);
}

inline void store_be32(std::byte* p, std::uint32_t v) {
  p[0] = static_cast<std::byte>(v >> 24);
  p[1] = static_cast<std::byte>((v >> 16) & 0xffu);
  p[2] = static_cast<std::byte>((v >> 8) & 0xffu);
  p[3] = static_cast<std::byte>(v & 0xffu);
}

// Views are templates over `const std::byte` (read) and `std::byte` (read and write).
template <class Byte>
inline constexpr bool kIsByte = std::is_same_v<std::remove_const_t<Byte>, std::byte>;

template <class Byte>
inline constexpr bool kIsMutable = !std::is_const_v<Byte>;

}  // namespace nicemu::netstack::wire::detail

// Network-byte-order loads and stores, for code outside wire that edits header bytes in place
// (GRO, checksum helpers).
namespace nicemu::netstack::wire {
using detail::load_be16;
using detail::load_be32;
using detail::store_be16;
using detail::store_be32;
}  // namespace nicemu::netstack::wire
