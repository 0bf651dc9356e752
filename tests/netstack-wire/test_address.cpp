// MAC, IPv4, IPv6 and IpAddress: parsing from text, canonical formatting, special ranges.
#include <catch2/catch.hpp>

#include "wire_test_helpers.hpp"

using namespace nicemu::netstack::wire;

TEST_CASE("address: a MAC parses with colons or dashes and formats lowercase with colons", "[netstack][wire][unit]") {
  const auto m = MacAddress::parse("02:1A:bc:00:ff:09");
  REQUIRE(m.has_value());
  CHECK(m->octets == std::array<std::uint8_t, 6>{0x02, 0x1a, 0xbc, 0x00, 0xff, 0x09});
  CHECK(m->to_string() == "02:1a:bc:00:ff:09");
  CHECK(MacAddress::parse("02-1a-bc-00-ff-09") == m);
  CHECK_FALSE(MacAddress::parse("02:1a:bc:00:ff").has_value());
  CHECK_FALSE(MacAddress::parse("02:1a:bc:00:ff:0g").has_value());
  CHECK_FALSE(MacAddress::parse("02:1a-bc:00:ff:09").has_value());
}

TEST_CASE("address: MAC broadcast is multicast, the group bit makes multicast, 02: is local",
          "[netstack][wire][unit]") {
  CHECK(MacAddress::broadcast().is_broadcast());
  CHECK(MacAddress::broadcast().is_multicast());
  CHECK(MacAddress::parse("33:33:ff:00:00:02")->is_multicast());
  CHECK(MacAddress::parse("02:00:00:00:00:01")->is_unicast());
  CHECK(MacAddress::parse("02:00:00:00:00:01")->is_locally_administered());
  CHECK(MacAddress{}.is_zero());
}

TEST_CASE("address: IPv4 dotted quads parse and format and malformed text is rejected", "[netstack][wire][unit]") {
  const auto a = Ipv4Address::parse("192.168.1.20");
  REQUIRE(a.has_value());
  CHECK(a->to_u32() == 0xc0a80114u);
  CHECK(a->to_string() == "192.168.1.20");
  CHECK(Ipv4Address::from_u32(0x0a000001u).to_string() == "10.0.0.1");
  CHECK(Ipv4Address::parse("0.0.0.0")->is_unspecified());
  CHECK(Ipv4Address::parse("255.255.255.255")->is_broadcast());
  CHECK(Ipv4Address::parse("224.0.0.251")->is_multicast());
  CHECK(Ipv4Address::parse("127.0.0.1")->is_loopback());
  CHECK(Ipv4Address::parse("169.254.3.4")->is_link_local());
  for (const char* bad :
       {"256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "", "1.2.3.4 ", "a.b.c.d", "1234.1.1.1"}) {
    INFO(bad);
    CHECK_FALSE(Ipv4Address::parse(bad).has_value());
  }
}

TEST_CASE("address: IPv6 text forms parse (::, embedded IPv4) and format per RFC 5952", "[netstack][wire][unit]") {
  struct Case {
    const char* in;
    const char* canonical;
  };
  for (const Case& c :
       {Case{"2001:db8::1", "2001:db8::1"}, Case{"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
        Case{"::", "::"}, Case{"::1", "::1"}, Case{"fe80::", "fe80::"},
        Case{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // first of two equal runs
        Case{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // a single zero group stays
        Case{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"}, Case{"::ffff:10.0.0.1", "::ffff:10.0.0.1"},
        Case{"64:ff9b::192.0.2.33", "64:ff9b::c000:221"}, Case{"ff02::1:ff00:2", "ff02::1:ff00:2"}}) {
    INFO(c.in);
    const auto a = Ipv6Address::parse(c.in);
    REQUIRE(a.has_value());
    CHECK(a->to_string() == c.canonical);
    CHECK(Ipv6Address::parse(a->to_string()) == a);
  }
  for (const char* bad : {":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
                          "12345::", ":1::", "1::2:", "::ffff:1.2.3", "::1.2.3.4:5", "g::1", ""}) {
    INFO(bad);
    CHECK_FALSE(Ipv6Address::parse(bad).has_value());
  }
}

TEST_CASE("address: IPv6 special ranges and the solicited-node group with its MAC", "[netstack][wire][unit]") {
  const auto target = Ipv6Address::parse("fe80::abcd:1234:5678").value();
  CHECK(target.is_link_local());
  CHECK(Ipv6Address::loopback().is_loopback());
  CHECK(Ipv6Address{}.is_unspecified());
  const Ipv6Address sn = target.solicited_node();
  CHECK(sn.to_string() == "ff02::1:ff34:5678");
  CHECK(sn.is_multicast());
  CHECK(sn.multicast_mac().to_string() == "33:33:ff:34:56:78");
  CHECK(Ipv6Address::from_ipv4_mapped(Ipv4Address{{10, 0, 0, 1}}).is_ipv4_mapped());
}

TEST_CASE("address: IpAddress holds either family, compares by family then bytes", "[netstack][wire][unit]") {
  const auto v4 = IpAddress::parse("10.0.0.1");
  const auto v6 = IpAddress::parse("2001:db8::1");
  REQUIRE(v4.has_value());
  REQUIRE(v6.has_value());
  CHECK(v4->is_v4());
  CHECK(v6->is_v6());
  CHECK(v4->v4() == Ipv4Address{{10, 0, 0, 1}});
  CHECK(v4->to_string() == "10.0.0.1");
  CHECK(v6->to_string() == "2001:db8::1");
  CHECK(*v4 != IpAddress(Ipv6Address::from_ipv4_mapped(Ipv4Address{{10, 0, 0, 1}})));
  CHECK(*v4 < *v6);
  CHECK(IpAddress{}.version() == IpVersion::kNone);
  CHECK(IpAddress{}.to_string().empty());
  CHECK_FALSE(IpAddress::parse("10.0.0").has_value());
  CHECK_FALSE(IpAddress::parse("2001:db8:::1").has_value());
}
