// fuzz_wire — libFuzzer target for nicemu::netstack_wire.
//
// Feeds the input to parse_packet (both checksum modes), to every XxxView::check and
// XxxRepr::parse at offset 0 and at the L3/L4 offsets parse_packet found, to TcpOptions::parse,
// to the checksum accumulator and to the address text parsers. Checks the invariants that must
// hold for any input:
//   - no crash, no sanitizer report (libFuzzer hands us an exact-size heap copy, so any read
//     past the end is an ASan report);
//   - every span a view or Repr returns lies inside the input;
//   - ParsedPacket offsets are ordered and header_len + payload_len fits in the frame;
//   - a Repr that parsed re-emits to bytes that parse to an equal Repr (TCP: SACK blocks that
//     emit() leaves out for lack of room are dropped from the expectation);
//   - a checksum summed over two spans equals the sum over one;
//   - a parsed address formats to text that parses back to the same address.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "nicemu/netstack/wire/wire.hpp"

using namespace nicemu::netstack::wire;

namespace {

[[noreturn]] void invariant_failed(const char* what) {
  std::fprintf(stderr, "fuzz_wire: invariant broken: %s\n", what);
  std::abort();
}

#define FUZZ_CHECK(cond, what)           \
  do {                                   \
    if (!(cond)) invariant_failed(what); \
  } while (0)

const ChecksumCaps kSoftware = ChecksumCaps::software();
const ChecksumCaps kOffloaded = ChecksumCaps::offloaded();
const IpAddress kV4a = Ipv4Address{{10, 0, 0, 1}};
const IpAddress kV4b = Ipv4Address{{10, 0, 0, 2}};
const Ipv6Address kV6a = Ipv6Address{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Address kV6b = Ipv6Address{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

bool within(std::span<const std::byte> inner, std::span<const std::byte> outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

TcpOptions as_emitted(TcpOptions o) {
  o.sack_count = static_cast<std::uint8_t>(o.emitted_sack_count());
  for (std::size_t i = o.sack_count; i < tcp_option::kMaxSackBlocks; ++i) o.sack_blocks[i] = {};
  return o;
}

void exercise_views(std::span<const std::byte> s) {
  if (auto v = EthernetView::check(s)) {
    FUZZ_CHECK(within(v.value().payload(), s), "ethernet payload inside the buffer");
    if (auto r = EthernetRepr::parse(v.value())) {
      std::vector<std::byte> out(r.value().buffer_len());
      r.value().emit(out);
      auto again = EthernetRepr::parse(EthernetView::check(out).value());
      FUZZ_CHECK(again.has_value() && again.value() == r.value(), "ethernet round trip");
    }
  }
  if (auto v = ArpView::check(s)) {
    FUZZ_CHECK(within(v.value().sender_hardware_addr(), s) && within(v.value().sender_protocol_addr(), s) &&
                   within(v.value().target_hardware_addr(), s) && within(v.value().target_protocol_addr(), s),
               "arp addresses inside the buffer");
    if (auto r = ArpRepr::parse(v.value())) {
      std::vector<std::byte> out(r.value().buffer_len());
      r.value().emit(out);
      auto again = ArpRepr::parse(ArpView::check(out).value());
      FUZZ_CHECK(again.has_value() && again.value() == r.value(), "arp round trip");
    }
  }
  if (auto v = Ipv4View::check(s)) {
    FUZZ_CHECK(within(v.value().options(), s) && within(v.value().payload(), s), "ipv4 spans inside the buffer");
    for (const ChecksumCaps& caps : {kSoftware, kOffloaded}) {
      if (auto r = Ipv4Repr::parse(v.value(), caps)) {
        std::vector<std::byte> out(Ipv4Repr::kHeaderLen + std::size_t{r.value().payload_len});
        r.value().emit(out, kSoftware);
        auto again = Ipv4Repr::parse(Ipv4View::check(out).value(), kSoftware);
        FUZZ_CHECK(again.has_value() && again.value() == r.value(), "ipv4 round trip");
      }
    }
  }
  if (auto v = Ipv6View::check(s)) {
    FUZZ_CHECK(within(v.value().payload(), s), "ipv6 payload inside the buffer");
    if (auto up = ipv6_upper_layer(v.value())) {
      FUZZ_CHECK(within(up.value().bytes, s) && up.value().offset >= Ipv6View::kHeaderLen &&
                     up.value().extension_count <= kMaxIpv6ExtensionHeaders,
                 "ipv6 upper layer inside the packet");
    }
    const Ipv6Repr r = Ipv6Repr::parse(v.value()).value();
    std::vector<std::byte> out(Ipv6Repr::kHeaderLen + std::size_t{r.payload_len});
    r.emit(out);
    auto again = Ipv6Repr::parse(Ipv6View::check(out).value());
    FUZZ_CHECK(again.has_value() && again.value() == r, "ipv6 round trip");
  }
  for (std::uint8_t kind : {ip_protocol::kHopByHop, ip_protocol::kFragment, ip_protocol::kAh}) {
    if (auto v = Ipv6ExtensionHeaderView::check(kind, s)) {
      FUZZ_CHECK(within(v.value().data(), s) && v.value().header_len() <= s.size(), "ipv6 extension header inside");
    }
  }
  if (auto v = Icmpv4View::check(s)) {
    FUZZ_CHECK(within(v.value().data(), s), "icmpv4 data inside the buffer");
    if (auto r = Icmpv4Repr::parse(v.value(), kOffloaded)) {
      FUZZ_CHECK(within(r.value().data, s), "icmpv4 repr data inside the buffer");
      std::vector<std::byte> out(r.value().buffer_len());
      r.value().emit(out, kSoftware);
      auto again = Icmpv4Repr::parse(Icmpv4View::check(out).value(), kSoftware);
      FUZZ_CHECK(again.has_value() && again.value() == r.value(), "icmpv4 round trip");
    }
  }
  if (auto v = Icmpv6View::check(s)) {
    FUZZ_CHECK(within(v.value().data(), s), "icmpv6 data inside the buffer");
    if (auto r = Icmpv6Repr::parse(v.value(), kV6a, kV6b, kOffloaded)) {
      FUZZ_CHECK(within(r.value().data, s), "icmpv6 repr data inside the buffer");
      std::vector<std::byte> out(r.value().buffer_len());
      r.value().emit(out, kV6a, kV6b, kSoftware);
      auto again = Icmpv6Repr::parse(Icmpv6View::check(out).value(), kV6a, kV6b, kSoftware);
      FUZZ_CHECK(again.has_value() && again.value() == r.value(), "icmpv6 round trip");
    }
  }
  if (auto v = TcpView::check(s)) {
    FUZZ_CHECK(within(v.value().options(), s) && within(v.value().payload(), s), "tcp spans inside the buffer");
    if (auto r = TcpRepr::parse(v.value(), kV4a, kV4b, kOffloaded)) {
      FUZZ_CHECK(within(r.value().payload, s), "tcp repr payload inside the buffer");
      TcpRepr expected = r.value();
      expected.options = as_emitted(expected.options);
      std::vector<std::byte> out(r.value().buffer_len());
      r.value().emit(out, kV4a, kV4b, kSoftware);
      auto again = TcpRepr::parse(TcpView::check(out).value(), kV4a, kV4b, kSoftware);
      FUZZ_CHECK(again.has_value() && again.value() == expected, "tcp round trip");
    }
  }
  if (auto v = UdpView::check(s)) {
    FUZZ_CHECK(within(v.value().payload(), s) && v.value().datagram().size() <= s.size(), "udp inside the buffer");
    const IpAddress a6 = kV6a;
    const IpAddress b6 = kV6b;
    const IpAddress pairs[2][2] = {{kV4a, kV4b}, {a6, b6}};
    for (const auto& pair : pairs) {
      if (auto r = UdpRepr::parse(v.value(), pair[0], pair[1], kOffloaded)) {
        std::vector<std::byte> out(r.value().buffer_len());
        r.value().emit(out, pair[0], pair[1], kSoftware);
        auto again = UdpRepr::parse(UdpView::check(out).value(), pair[0], pair[1], kSoftware);
        FUZZ_CHECK(again.has_value() && again.value() == r.value(), "udp round trip");
      }
    }
  }
}

void exercise_packet(std::span<const std::byte> frame) {
  for (const ChecksumCaps& caps : {kSoftware, kOffloaded}) {
    const ParsedPacket p = parse_packet(frame, caps);
    FUZZ_CHECK(std::size_t{p.header_len} + p.payload_len <= frame.size(), "header_len + payload_len within the frame");
    if (p.l3 != L3Kind::kNone) FUZZ_CHECK(p.l3_offset <= p.header_len, "L3 starts before the split point");
    if (p.l4 != L4Kind::kNone) {
      FUZZ_CHECK(p.l3_offset < p.l4_offset && p.l4_offset < p.header_len, "L4 offsets ordered");
    }
    if (p.ok() && p.l3 == L3Kind::kIpv4) FUZZ_CHECK(!p.is_fragment, "an accepted IPv4 packet is not a fragment");
  }
  const ParsedPacket p = parse_packet(frame, kOffloaded);
  exercise_views(frame);
  if (p.l3_offset != 0 && p.l3_offset <= frame.size()) exercise_views(frame.subspan(p.l3_offset));
  if (p.l4_offset != 0 && p.l4_offset <= frame.size()) exercise_views(frame.subspan(p.l4_offset));
}

void exercise_options(std::span<const std::byte> s) {
  const auto opts = s.first(std::min<std::size_t>(s.size(), tcp_option::kMaxOptionsLen));
  if (auto o = TcpOptions::parse(opts)) {
    std::vector<std::byte> out(o.value().emitted_len());
    FUZZ_CHECK(out.size() <= tcp_option::kMaxOptionsLen && out.size() % 4 == 0, "tcp options emit length");
    o.value().emit(out);
    auto again = TcpOptions::parse(out);
    FUZZ_CHECK(again.has_value() && again.value() == as_emitted(o.value()), "tcp options round trip");
  }
}

void exercise_checksum(std::span<const std::byte> s) {
  const std::size_t split = s.empty() ? 0 : std::to_integer<std::size_t>(s[0]) % (s.size() + 1);
  ChecksumAccumulator acc;
  acc.add(s.first(split));
  acc.add(s.subspan(split));
  FUZZ_CHECK(acc.sum() == ones_complement_sum(s), "two-span checksum equals one-span checksum");
}

void exercise_text(std::span<const std::byte> s) {
  const std::string_view text(reinterpret_cast<const char*>(s.data()), std::min<std::size_t>(s.size(), 64));
  if (auto a = MacAddress::parse(text)) FUZZ_CHECK(MacAddress::parse(a->to_string()) == a, "mac text round trip");
  if (auto a = Ipv4Address::parse(text)) FUZZ_CHECK(Ipv4Address::parse(a->to_string()) == a, "ipv4 text round trip");
  if (auto a = Ipv6Address::parse(text)) FUZZ_CHECK(Ipv6Address::parse(a->to_string()) == a, "ipv6 text round trip");
  if (auto a = IpAddress::parse(text)) FUZZ_CHECK(IpAddress::parse(a->to_string()) == a, "ip text round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  exercise_packet(bytes);
  exercise_options(bytes);
  exercise_checksum(bytes);
  exercise_text(bytes);
  return 0;
}
