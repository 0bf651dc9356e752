#include "nicemu/netstack/tcp/isn.hpp"

namespace nicemu::netstack::tcp {

namespace {
std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  // splitmix64's finaliser over (h + v): every input bit reaches every output bit.
  std::uint64_t z = h + v + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t absorb_address(std::uint64_t h, const wire::IpAddress& a) {
  h = mix(h, static_cast<std::uint64_t>(a.version()));
  if (a.is_v4()) {
    const auto o = a.v4().octets;
    return mix(h, (std::uint64_t{o[0]} << 24) | (std::uint64_t{o[1]} << 16) | (std::uint64_t{o[2]} << 8) | o[3]);
  }
  if (a.is_v6()) {
    const auto o = a.v6().octets;
    std::uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; ++i) hi = (hi << 8) | o[static_cast<std::size_t>(i)];
    for (int i = 8; i < 16; ++i) lo = (lo << 8) | o[static_cast<std::size_t>(i)];
    return mix(mix(h, hi), lo);
  }
  return h;
}
}  // namespace

std::uint32_t IsnGenerator::keyed_hash(const FourTuple& t) const {
  std::uint64_t h = mix(secret_, 0x6528);
  h = absorb_address(h, t.local_addr);
  h = absorb_address(h, t.remote_addr);
  h = mix(h, (std::uint64_t{t.local_port} << 16) | t.remote_port);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

std::uint32_t IsnGenerator::isn(const FourTuple& t, sim::TimePoint now) const {
  const auto m = static_cast<std::uint32_t>(now.ps() / 4'000'000);  // 4 µs ticks
  return m + keyed_hash(t);
}

}  // namespace nicemu::netstack::tcp
