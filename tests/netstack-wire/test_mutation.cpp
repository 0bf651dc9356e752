// Robustness: random mutations of every golden frame. Parsing never crashes, never returns a
// view or span that reaches past the buffer (the sanitizer build checks every read), and a Repr
// that parsed re-emits to bytes that parse to an equal Repr.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "golden_packets.hpp"
#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;
using namespace wire_test;

namespace {

const ChecksumCaps kOffloaded = ChecksumCaps::offloaded();
const IpAddress kV4a = Ipv4Address{{10, 0, 0, 1}};
const IpAddress kV4b = Ipv4Address{{10, 0, 0, 2}};
const Ipv6Address kV6a = Ipv6Address::parse("2001:db8::1").value();
const Ipv6Address kV6b = Ipv6Address::parse("2001:db8::2").value();

struct Tally {
  std::size_t checks = 0;
  std::size_t round_trips = 0;
  std::size_t failures = 0;
};

void expect(bool ok, Tally& t, const char* what) {
  ++t.checks;
  if (!ok) {
    ++t.failures;
    if (t.failures <= 5) UNSCOPED_INFO("invariant broken: " << what);
  }
}

template <class Repr, class Reparse>
void round_trip(const Repr& r, Reparse reparse, Tally& t, const char* what) {
  std::vector<std::byte> out(r.buffer_len());
  ++t.round_trips;
  const auto again = reparse(out, r);
  expect(again.has_value() && again.value() == r, t, what);
}

void exercise_at(std::span<const std::byte> s, Tally& t) {
  if (auto v = EthernetView::check(s)) {
    expect(within(v.value().payload(), s), t, "ethernet payload");
    if (auto r = EthernetRepr::parse(v.value())) {
      round_trip(
          r.value(),
          [](std::vector<std::byte>& out, const EthernetRepr& x) {
            x.emit(out);
            return EthernetRepr::parse(EthernetView::check(out).value());
          },
          t, "ethernet round trip");
    }
  }
  if (auto v = ArpView::check(s)) {
    expect(within(v.value().sender_hardware_addr(), s) && within(v.value().target_protocol_addr(), s), t, "arp addrs");
    if (auto r = ArpRepr::parse(v.value())) {
      round_trip(
          r.value(),
          [](std::vector<std::byte>& out, const ArpRepr& x) {
            x.emit(out);
            return ArpRepr::parse(ArpView::check(out).value());
          },
          t, "arp round trip");
    }
  }
  if (auto v = Ipv4View::check(s)) {
    expect(within(v.value().options(), s) && within(v.value().payload(), s), t, "ipv4 spans");
    if (auto r = Ipv4Repr::parse(v.value(), kOffloaded)) {
      std::vector<std::byte> out(20 + std::size_t{r.value().payload_len});
      r.value().emit(out, ChecksumCaps::software());
      const auto again = Ipv4Repr::parse(Ipv4View::check(out).value(), ChecksumCaps::software());
      ++t.round_trips;
      expect(again.has_value() && again.value() == r.value(), t, "ipv4 round trip");
    }
  }
  if (auto v = Ipv6View::check(s)) {
    expect(within(v.value().payload(), s), t, "ipv6 payload");
    if (auto up = ipv6_upper_layer(v.value())) {
      expect(within(up.value().bytes, s) && up.value().offset <= s.size(), t, "ipv6 upper layer");
    }
    const auto r = Ipv6Repr::parse(v.value()).value();
    std::vector<std::byte> out(40 + std::size_t{r.payload_len});
    r.emit(out);
    ++t.round_trips;
    expect(Ipv6Repr::parse(Ipv6View::check(out).value()).value() == r, t, "ipv6 round trip");
  }
  if (auto v = Icmpv4View::check(s)) {
    expect(within(v.value().data(), s), t, "icmpv4 data");
    if (auto r = Icmpv4Repr::parse(v.value(), kOffloaded)) {
      round_trip(
          r.value(),
          [](std::vector<std::byte>& out, const Icmpv4Repr& x) {
            x.emit(out, ChecksumCaps::software());
            return Icmpv4Repr::parse(Icmpv4View::check(out).value(), ChecksumCaps::software());
          },
          t, "icmpv4 round trip");
    }
  }
  if (auto v = Icmpv6View::check(s)) {
    expect(within(v.value().data(), s), t, "icmpv6 data");
    if (auto r = Icmpv6Repr::parse(v.value(), kV6a, kV6b, kOffloaded)) {
      round_trip(
          r.value(),
          [](std::vector<std::byte>& out, const Icmpv6Repr& x) {
            x.emit(out, kV6a, kV6b, ChecksumCaps::software());
            return Icmpv6Repr::parse(Icmpv6View::check(out).value(), kV6a, kV6b, ChecksumCaps::software());
          },
          t, "icmpv6 round trip");
    }
  }
  if (auto v = TcpView::check(s)) {
    expect(within(v.value().options(), s) && within(v.value().payload(), s), t, "tcp spans");
    if (auto r = TcpRepr::parse(v.value(), kV4a, kV4b, kOffloaded)) {
      TcpRepr expected = r.value();
      expected.options.sack_count = static_cast<std::uint8_t>(expected.options.emitted_sack_count());
      for (std::size_t i = expected.options.sack_count; i < tcp_option::kMaxSackBlocks; ++i) {
        expected.options.sack_blocks[i] = {};
      }
      std::vector<std::byte> out(r.value().buffer_len());
      r.value().emit(out, kV4a, kV4b, ChecksumCaps::software());
      const auto again = TcpRepr::parse(TcpView::check(out).value(), kV4a, kV4b, ChecksumCaps::software());
      ++t.round_trips;
      expect(again.has_value() && again.value() == expected, t, "tcp round trip");
    }
  }
  if (auto v = UdpView::check(s)) {
    expect(within(v.value().payload(), s), t, "udp payload");
    const IpAddress src6 = kV6a;
    const IpAddress dst6 = kV6b;
    for (const auto& [src, dst] : {std::pair{kV4a, kV4b}, std::pair{src6, dst6}}) {
      if (auto r = UdpRepr::parse(v.value(), src, dst, kOffloaded)) {
        std::vector<std::byte> out(r.value().buffer_len());
        r.value().emit(out, src, dst, ChecksumCaps::software());
        const auto again = UdpRepr::parse(UdpView::check(out).value(), src, dst, ChecksumCaps::software());
        ++t.round_trips;
        expect(again.has_value() && again.value() == r.value(), t, "udp round trip");
      }
    }
  }
}

void exercise(std::span<const std::byte> frame, Tally& t) {
  for (const ChecksumCaps& caps : {ChecksumCaps::software(), ChecksumCaps::offloaded()}) {
    const ParsedPacket p = parse_packet(frame, caps);
    expect(std::size_t{p.header_len} + p.payload_len <= frame.size(), t, "packet lengths within frame");
    expect(p.l3_offset <= p.header_len || p.header_len == 0, t, "l3 offset before split point");
    if (p.l4 != L4Kind::kNone) expect(p.l3_offset < p.l4_offset && p.l4_offset < p.header_len, t, "l4 offsets ordered");
  }
  const ParsedPacket p = parse_packet(frame, kOffloaded);
  for (std::size_t off : {std::size_t{0}, std::size_t{14}, std::size_t{18}, std::size_t{22}, std::size_t{p.l3_offset},
                          std::size_t{p.l4_offset}}) {
    if (off <= frame.size()) exercise_at(frame.subspan(off), t);
  }
}

std::vector<std::byte> mutate(std::span<const std::byte> golden, std::mt19937& rng) {
  std::vector<std::byte> v(golden.begin(), golden.end());
  static constexpr unsigned kInteresting[] = {0x00, 0xff, 0x80, 0x7f, 0x01, 0x02, 0x05, 0x0a, 0x45, 0x60, 0x81, 0x88};
  const unsigned n = 1 + rng() % 4;
  for (unsigned i = 0; i < n; ++i) {
    switch (rng() % 7) {
      case 0:
        if (!v.empty()) v[rng() % v.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
        break;
      case 1:
        if (!v.empty()) v[rng() % v.size()] = static_cast<std::byte>(rng() & 0xff);
        break;
      case 2:
        if (!v.empty()) v[rng() % v.size()] = static_cast<std::byte>(kInteresting[rng() % std::size(kInteresting)]);
        break;
      case 3:
        v.resize(rng() % (v.size() + 1));
        break;
      case 4:
        for (unsigned k = rng() % 16; k > 0; --k) v.push_back(static_cast<std::byte>(rng() & 0xff));
        break;
      case 5:
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng() % (v.size() + 1)), static_cast<std::byte>(rng() & 0xff));
        break;
      default:
        if (!v.empty()) v.erase(v.begin() + static_cast<std::ptrdiff_t>(rng() % v.size()));
        break;
    }
  }
  return v;
}

}  // namespace

TEST_CASE("mutation: the unmodified golden frames satisfy every invariant", "[netstack][wire][unit]") {
  Tally t;
  for (const GoldenFrame& g : all_golden_frames()) {
    const std::vector<std::byte> exact(g.bytes.begin(), g.bytes.end());
    exercise(exact, t);
  }
  CHECK(t.failures == 0);
  CHECK(t.round_trips > 20);
}

TEST_CASE("mutation: 3000 random mutations per golden frame never crash, overrun or break a round trip",
          "[netstack][wire][unit]") {
  std::mt19937 rng(20240601);
  Tally t;
  std::size_t parsed_ok = 0;
  for (const GoldenFrame& g : all_golden_frames()) {
    for (int i = 0; i < 3000; ++i) {
      // An exact-size heap copy: any read past the end is an ASan report in the Sanitize build.
      const std::vector<std::byte> m = mutate(g.bytes, rng);
      exercise(m, t);
      if (parse_packet(m, ChecksumCaps::software()).ok()) ++parsed_ok;
    }
  }
  CHECK(t.failures == 0);
  CHECK(t.checks > 100000);
  CHECK(t.round_trips > 10000);
  // Some mutants (e.g. a payload byte changed with offloaded checksums) still parse; most break.
  CHECK(parsed_ok > 0);
}
