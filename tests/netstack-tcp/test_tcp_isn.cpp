#include <catch2/catch.hpp>

#include "nicemu/netstack/tcp/isn.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::sim::literals;

namespace {
tcp::FourTuple tuple(std::uint16_t lport) {
  return {*wire::IpAddress::parse("192.0.2.1"), lport, *wire::IpAddress::parse("192.0.2.2"), 80};
}
}  // namespace

TEST_CASE("tcp ISN (RFC 6528): a 4 µs clock plus a keyed hash of the four-tuple", "[netstack][tcp][unit]") {
  const tcp::IsnGenerator g(42);
  const auto t0 = sim::TimePoint::zero();
  CHECK(g.isn(tuple(1000), t0 + 4_us) == g.isn(tuple(1000), t0) + 1);
  CHECK(g.isn(tuple(1000), t0 + 1_s) == g.isn(tuple(1000), t0) + 250'000);
  CHECK(g.isn(tuple(1000), t0) != g.isn(tuple(1001), t0));  // another connection, another offset
  CHECK(tcp::IsnGenerator(43).isn(tuple(1000), t0) != g.isn(tuple(1000), t0));  // another seed
  CHECK(tcp::IsnGenerator(42).isn(tuple(1000), t0) == g.isn(tuple(1000), t0));  // reproducible
  tcp::FourTuple v6{*wire::IpAddress::parse("2001:db8::1"), 1000, *wire::IpAddress::parse("2001:db8::2"), 80};
  tcp::FourTuple v6b = v6;
  v6b.remote_addr = *wire::IpAddress::parse("2001:db8::3");
  CHECK(g.keyed_hash(v6) != g.keyed_hash(v6b));
}
