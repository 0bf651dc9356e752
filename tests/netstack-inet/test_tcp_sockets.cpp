// TCP's socket-level calls on NetStack (inet_bind, inet_listen, inet_stream_connect,
// inet_accept, tcp_release): the port rules and their errno values, listener choice, children
// dying with their listener, checksum offload on transmit, and the stack's TCP totals.
#include <catch2/catch.hpp>

#include <cerrno>

#include "two_hosts.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::sim::literals;
using nicemu::testing::LinkFaults;
using nicemu::testing::TwoHosts;
using wire::IpAddress;
using wire::IpVersion;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }
const IpAddress kAny4 = IpAddress::any(IpVersion::kV4);
}  // namespace

TEST_CASE("tcp sockets: bind refuses a taken port, a foreign address, a wrong family and a second bind",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  inet::NetStack& st = net.stack(0);
  tcp::TcpSock* a = st.tcp_socket(IpVersion::kV4);
  REQUIRE(st.inet_bind(a, kAny4, 80).value() == 80);
  CHECK(st.inet_bind(a, kAny4, 81).error() == -EINVAL);
  tcp::TcpSock* b = st.tcp_socket(IpVersion::kV4);
  CHECK(st.inet_bind(b, kAny4, 80).error() == -EADDRINUSE);
  CHECK(st.inet_bind(b, IpAddress(TwoHosts::addr(0)), 80).error() == -EADDRINUSE);  // overlaps the wildcard
  CHECK(st.inet_bind(b, IpAddress(TwoHosts::addr(1)), 80).error() == -EADDRNOTAVAIL);
  CHECK(st.inet_bind(b, IpAddress(TwoHosts::addr6(0)), 80).error() == -EAFNOSUPPORT);
  tcp::TcpSock* six = st.tcp_socket(IpVersion::kV6);
  CHECK(st.inet_bind(six, IpAddress::any(IpVersion::kV6), 80).value() == 80);  // V6ONLY: its own port space
  // Port 0 picks an ephemeral port.
  const auto p = st.inet_bind(b, kAny4, 0);
  REQUIRE(p);
  CHECK(*p >= 32768);
  CHECK(*p <= 60999);
  // Releasing a bound socket frees its port.
  st.tcp_release(a, at(0_us));
  tcp::TcpSock* c = st.tcp_socket(IpVersion::kV4);
  CHECK(st.inet_bind(c, kAny4, 80).value() == 80);
}

TEST_CASE("tcp sockets: SO_REUSEADDR shares a port with non-listening sockets, never with a listener",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  inet::NetStack& st = net.stack(0);
  tcp::TcpSock* a = st.tcp_socket(IpVersion::kV4);
  tcp::TcpSock* b = st.tcp_socket(IpVersion::kV4);
  st.tcp_set_reuseaddr(a, true);
  st.tcp_set_reuseaddr(b, true);
  REQUIRE(st.inet_bind(a, kAny4, 8000));
  REQUIRE(st.inet_bind(b, kAny4, 8000));  // both reuse, neither listens
  REQUIRE(st.inet_listen(a, 5) == 0);
  CHECK(st.inet_listen(b, 5) == -EADDRINUSE);  // inet_csk_listen_start re-checks
  tcp::TcpSock* c = st.tcp_socket(IpVersion::kV4);
  st.tcp_set_reuseaddr(c, true);
  CHECK(st.inet_bind(c, kAny4, 8000).error() == -EADDRINUSE);  // a is listening now
}

TEST_CASE("tcp sockets: a server restarts on its port while old connections sit in TIME-WAIT, with SO_REUSEADDR",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  inet::NetStack& srv = net.stack(1);
  tcp::TcpSock* l = srv.tcp_socket(IpVersion::kV4);
  srv.tcp_set_reuseaddr(l, true);
  REQUIRE(srv.inet_bind(l, kAny4, 7000));
  REQUIRE(srv.inet_listen(l, 4) == 0);
  tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr(1), 7000, at(0_us));
  tcp::TcpSock* s = nullptr;
  REQUIRE(net.run_until([&] { return (s = srv.tcp_accept(l)) != nullptr; }, at(1_s)));
  // The server closes first, so its side goes to TIME-WAIT.
  srv.tcp_release(s, net.now());
  srv.tcp_release(l, net.now());
  REQUIRE(net.run_until([&] { return c->fin_received(); }, at(2_s)));
  net.stack(0).tcp_release(c, net.now());
  REQUIRE(net.run_until([&] { return s->state() == tcp::TcpState::kTimeWait; }, at(3_s)));
  tcp::TcpSock* plain = srv.tcp_socket(IpVersion::kV4);
  CHECK(srv.inet_bind(plain, kAny4, 7000).error() == -EADDRINUSE);  // TIME-WAIT holds the port
  tcp::TcpSock* again = srv.tcp_socket(IpVersion::kV4);
  srv.tcp_set_reuseaddr(again, true);
  CHECK(srv.inet_bind(again, kAny4, 7000).value() == 7000);
  CHECK(srv.inet_listen(again, 4) == 0);
}

TEST_CASE("tcp sockets: connect's errno values", "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  inet::NetStack& st = net.stack(0);
  tcp::TcpSock* s = st.tcp_socket(IpVersion::kV4);
  CHECK(st.inet_stream_connect(s, IpAddress(TwoHosts::addr6(1)), 80, at(0_us)) == -EAFNOSUPPORT);
  CHECK(st.inet_stream_connect(s, IpAddress(wire::Ipv4Address{{198, 51, 100, 7}}), 80, at(0_us)) == -ENETUNREACH);
  tcp::TcpSock* l = net.stack(1).tcp_listen(80, 4);
  REQUIRE(l != nullptr);
  REQUIRE(st.inet_stream_connect(s, IpAddress(TwoHosts::addr(1)), 80, at(0_us)) == 0);
  CHECK(st.inet_stream_connect(s, IpAddress(TwoHosts::addr(1)), 80, at(0_us)) == -EALREADY);
  REQUIRE(net.run_until([&] { return s->state() == tcp::TcpState::kEstablished; }, at(1_s)));
  CHECK(st.inet_stream_connect(s, IpAddress(TwoHosts::addr(1)), 80, net.now()) == -EISCONN);
  CHECK(st.tcp_tuple(s).local_addr == IpAddress(TwoHosts::addr(0)));
  CHECK(st.tcp_tuple(s).local_port >= 32768);
  tcp::TcpSock* lis = st.tcp_socket(IpVersion::kV4);
  REQUIRE(st.inet_listen(lis, 1) == 0);  // autobinds
  CHECK(st.tcp_tuple(lis).local_port >= 32768);
  CHECK(st.inet_stream_connect(lis, IpAddress(TwoHosts::addr(1)), 80, net.now()) == -EINVAL);
  CHECK(st.inet_accept(lis).error() == -EAGAIN);
  CHECK(st.inet_accept(s).error() == -EINVAL);
}

TEST_CASE("tcp sockets: a listener bound to the address wins over the wildcard one", "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  inet::NetStack& srv = net.stack(1);
  // Two listeners on one port, bound to two different local addresses: each connection reaches
  // the one bound to the address it targets.
  srv.add_address(0, IpAddress(wire::Ipv4Address{{192, 0, 2, 77}}), 24);
  tcp::TcpSock* exact = srv.tcp_socket(IpVersion::kV4);
  REQUIRE(srv.inet_bind(exact, IpAddress(TwoHosts::addr(1)), 443));
  tcp::TcpSock* other = srv.tcp_socket(IpVersion::kV4);
  REQUIRE(srv.inet_bind(other, IpAddress(wire::Ipv4Address{{192, 0, 2, 77}}), 443));
  REQUIRE(srv.inet_listen(exact, 4) == 0);
  REQUIRE(srv.inet_listen(other, 4) == 0);
  net.stack(0).tcp_connect(TwoHosts::addr(1), 443, at(0_us));
  net.stack(0).tcp_connect(wire::Ipv4Address{{192, 0, 2, 77}}, 443, at(0_us));
  net.run_until([] { return false; }, at(1_s));
  CHECK(srv.tcp_accept(exact) != nullptr);
  CHECK(srv.tcp_accept(other) != nullptr);
  CHECK(srv.tcp_accept(exact) == nullptr);
}

TEST_CASE("tcp sockets: closing a listener kills its children, queued or still in SYN-RECEIVED",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net(1, LinkFaults{});
  inet::NetStack& srv = net.stack(1);
  tcp::TcpSock* l = srv.tcp_listen(9000, 8);
  tcp::TcpSock* c1 = net.stack(0).tcp_connect(TwoHosts::addr(1), 9000, at(0_us));
  REQUIRE(net.run_until([&] { return c1->state() == tcp::TcpState::kEstablished; }, at(1_s)));
  // A second client's SYN reaches the server, whose SYN-ACK is still on the wire when the
  // listener goes away.
  tcp::TcpSock* c2 = net.stack(0).tcp_connect(TwoHosts::addr(1), 9000, net.now());
  REQUIRE(net.run_until([&] { return srv.connections() == 3; }, net.now() + 1_ms));
  srv.tcp_release(l, net.now());
  CHECK(srv.connections() == 0);
  REQUIRE(net.run_until([&] { return c1->state() == tcp::TcpState::kClosed && c2->state() == tcp::TcpState::kClosed; },
                        net.now() + 1_s));
  CHECK(c1->so_error() == -ECONNRESET);
}

TEST_CASE("tcp sockets: with NETIF_F_HW_CSUM the stack leaves checksums to the device", "[netstack][inet][tcp][unit]") {
  for (bool offload : {false, true}) {
    INFO("offload " << offload);
    TwoHosts net;
    if (offload) {
      net.dev(0).features |= core::kNetifFHwCsum;
      net.dev(1).features |= core::kNetifFHwCsum;
    }
    tcp::TcpSock* l = net.stack(1).tcp_listen(5000, 1);
    tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr(1), 5000, at(0_us));
    tcp::TcpSock* s = nullptr;
    REQUIRE(net.run_until([&] { return (s = net.stack(1).tcp_accept(l)) != nullptr; }, at(1_s)));
    std::vector<std::byte> data(200000), got, buf(65536);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i % 251);
    std::size_t sent = 0;
    REQUIRE(net.run_until(
        [&] {
          if (sent < data.size()) {
            if (int n = c->send(std::span(data).subspan(sent), net.now()); n > 0) sent += static_cast<std::size_t>(n);
          }
          for (int n; (n = s->recv(buf, net.now())) > 0;) got.insert(got.end(), buf.begin(), buf.begin() + n);
          return got.size() == data.size();
        },
        at(5_s)));
    CHECK(got == data);
    if (offload) {
      CHECK(net.stack(0).stats().tx_csum_sw == 0);  // CHECKSUM_PARTIAL went to the device as it was
    } else {
      CHECK(net.stack(0).stats().tx_csum_sw == net.stack(0).stats().tcp_segs_out);
    }
    CHECK(net.stack(1).stats().csum_errors == 0);
  }
}

TEST_CASE("tcp sockets: the stack's TCP totals add up its connections, live and gone", "[netstack][inet][tcp][unit]") {
  TwoHosts net(5, LinkFaults{0.02, 0, 0, 0});
  tcp::TcpSock* l = net.stack(1).tcp_listen(5000, 1);
  tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr(1), 5000, at(0_us));
  tcp::TcpSock* s = nullptr;
  REQUIRE(net.run_until([&] { return (s = net.stack(1).tcp_accept(l)) != nullptr; }, at(10_s)));
  std::vector<std::byte> data(500000, std::byte{7}), buf(65536);
  std::size_t sent = 0, got = 0;
  REQUIRE(net.run_until(
      [&] {
        if (sent < data.size()) {
          if (int n = c->send(std::span(data).subspan(sent), net.now()); n > 0) sent += static_cast<std::size_t>(n);
        }
        for (int n; (n = s->recv(buf, net.now())) > 0;) got += static_cast<std::size_t>(n);
        return got == data.size();
      },
      at(60_s)));
  const auto live = net.stack(0).tcp_totals();
  CHECK(live.curr_estab == 1);
  CHECK(live.active_opens == 1);
  CHECK(live.sum.retransmits == c->stats().retransmits);
  CHECK(live.sum.retransmits > 0);
  const auto before = c->stats();
  net.stack(0).tcp_release(c, net.now());
  net.stack(1).tcp_release(s, net.now());
  net.stack(1).tcp_release(l, net.now());
  REQUIRE(net.run_until([&] { return net.stack(0).connections() == 0; }, at(300_s)));
  const auto gone = net.stack(0).tcp_totals();
  CHECK(gone.curr_estab == 0);
  CHECK(gone.sum.bytes_acked >= before.bytes_acked);
  CHECK(gone.sum.retransmits >= before.retransmits);
  CHECK(gone.sum.segs_out >= before.segs_out);
}
