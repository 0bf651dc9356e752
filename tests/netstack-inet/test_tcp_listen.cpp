// Listeners and the lifetime of connections through two stacks: Linux's backlog rules (the
// accept queue holds backlog + 1, handshakes under way are limited apart, the handshake's last
// ACK waits while the accept queue is full), a child reset in the accept queue is still
// accepted, a reset leaves received data readable, and a simultaneous open reset in
// SYN-RECEIVED stays with the application that holds it.
#include <catch2/catch.hpp>

#include <cerrno>
#include <vector>

#include "two_hosts.hpp"

using namespace nicemu;
using namespace nicemu::netstack;
using namespace nicemu::sim::literals;
using nicemu::testing::TwoHosts;
using tcp::TcpState;
using wire::IpAddress;
using wire::IpVersion;

namespace {
sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }

std::uint16_t local_port(TwoHosts& net, int host, const tcp::TcpSock* sk) {
  return net.stack(host).tcp_tuple(sk).local_port;
}

// A pure ACK (no SYN, FIN, RST, no payload) from `host`, optionally only from `sport`.
auto pure_ack_from(int host, std::uint16_t sport = 0) {
  return [host, sport](int from, const core::SkBuff& skb) {
    const auto f = TwoHosts::tcp_frame(skb);
    return from == host && f && f->flags == tcp::kAck && f->payload == 0 && (sport == 0 || f->sport == sport);
  };
}
}  // namespace

TEST_CASE("tcp listen: listen(1) holds two established connections, and a third SYN is a listen overflow",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  tcp::TcpSock* l = net.stack(1).tcp_listen(80, 1);
  std::vector<tcp::TcpSock*> c;
  for (int i = 0; i < 2; ++i) {
    c.push_back(net.stack(0).tcp_connect(TwoHosts::addr(1), 80, net.now()));
    REQUIRE(net.run_until([&] { return net.stack(1).tcp_accept_queue_len(l) == c.size(); }, net.now() + 1_s));
  }
  c.push_back(net.stack(0).tcp_connect(TwoHosts::addr(1), 80, net.now()));
  net.run_until([] { return false; }, net.now() + 500_ms);
  CHECK(c[2]->state() == TcpState::kSynSent);  // its SYN was dropped; it retries later
  CHECK(net.stack(1).stats().drop(inet::DropReason::kListenOverflow) >= 1);
  CHECK(net.stack(1).tcp_accept_queue_len(l) == 2);
  // Accepting makes room: the retransmitted SYN gets in.
  REQUIRE(net.stack(1).tcp_accept(l) != nullptr);
  REQUIRE(net.run_until([&] { return net.stack(1).tcp_accept_queue_len(l) == 2; }, net.now() + 5_s));
  CHECK(c[2]->state() == TcpState::kEstablished);
}

TEST_CASE("tcp listen: handshakes under way are limited to backlog + 1 (no SYN cookies)", "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  tcp::TcpSock* l = net.stack(1).tcp_listen(80, 1);
  net.drop_if = pure_ack_from(0);  // the clients' final ACKs are lost: children stay in SYN-RECEIVED
  std::vector<tcp::TcpSock*> c;
  for (int i = 0; i < 3; ++i) c.push_back(net.stack(0).tcp_connect(TwoHosts::addr(1), 80, at(0_us)));
  net.run_until([] { return false; }, at(100_ms));
  CHECK(net.stack(1).tcp_syn_queue_len(l) == 2);
  CHECK(net.stack(1).tcp_accept_queue_len(l) == 0);
  CHECK(net.stack(1).stats().drop(inet::DropReason::kSynQueueFull) == 1);
  // The ACKs get through again: the SYN-ACK retransmissions complete both handshakes, and the
  // third client's SYN then meets a full accept queue.
  net.drop_if = nullptr;
  REQUIRE(net.run_until([&] { return net.stack(1).tcp_accept_queue_len(l) == 2; }, at(5_s)));
  REQUIRE(net.run_until([&] { return net.stack(1).stats().drop(inet::DropReason::kListenOverflow) >= 1; }, at(20_s)));
  CHECK(c[2]->state() == TcpState::kSynSent);
}

TEST_CASE("tcp listen: the handshake's last ACK is dropped while the accept queue is full, and the child completes "
          "once accept makes room",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  tcp::TcpSock* l = net.stack(1).tcp_listen(80, 1);
  tcp::TcpSock* c1 = net.stack(0).tcp_connect(TwoHosts::addr(1), 80, at(0_us));
  tcp::TcpSock* c2 = net.stack(0).tcp_connect(TwoHosts::addr(1), 80, at(0_us));
  net.drop_if = pure_ack_from(0, local_port(net, 0, c2));  // c2's handshake hangs in SYN-RECEIVED
  REQUIRE(net.run_until([&] { return net.stack(1).tcp_accept_queue_len(l) == 1; }, at(100_ms)));
  tcp::TcpSock* c3 = net.stack(0).tcp_connect(TwoHosts::addr(1), 80, net.now());
  REQUIRE(net.run_until([&] { return net.stack(1).tcp_accept_queue_len(l) == 2; }, at(200_ms)));
  CHECK(c1->state() == TcpState::kEstablished);
  CHECK(c3->state() == TcpState::kEstablished);
  CHECK(net.stack(1).tcp_syn_queue_len(l) == 1);
  // c2's ACKs pass now, but the queue holds 2 > backlog: the ACK answering the retransmitted
  // SYN-ACK is dropped and the child stays in SYN-RECEIVED.
  net.drop_if = nullptr;
  const auto overflows = [&] { return net.stack(1).stats().drop(inet::DropReason::kListenOverflow); };
  REQUIRE(net.run_until([&] { return overflows() >= 1; }, at(2_s)));
  CHECK(net.stack(1).tcp_syn_queue_len(l) == 1);
  CHECK(net.stack(1).tcp_accept_queue_len(l) == 2);
  REQUIRE(net.stack(1).tcp_accept(l) != nullptr);
  REQUIRE(net.run_until([&] { return net.stack(1).tcp_accept_queue_len(l) == 2; }, at(10_s)));
  CHECK(net.stack(1).tcp_syn_queue_len(l) == 0);
  CHECK(c2->state() == TcpState::kEstablished);
}

TEST_CASE("tcp listen: a child reset while it waits in the accept queue is still accepted, and reports the reset",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  tcp::TcpSock* l = net.stack(1).tcp_listen(80, 4);
  tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr(1), 80, at(0_us));
  REQUIRE(net.run_until([&] { return net.stack(1).tcp_accept_queue_len(l) == 1; }, at(1_s)));
  c->abort(net.now());  // RST
  net.run_until([] { return false; }, net.now() + 1_ms);
  CHECK(net.stack(1).tcp_accept_queue_len(l) == 1);
  tcp::TcpSock* child = net.stack(1).tcp_accept(l);
  REQUIRE(child != nullptr);
  CHECK(child->state() == TcpState::kClosed);
  std::vector<std::byte> buf(16);
  CHECK(child->recv(buf, net.now()) == -ECONNRESET);
  CHECK(child->recv(buf, net.now()) == 0);
  const std::size_t before = net.stack(1).connections();
  net.stack(1).tcp_release(child, net.now());
  CHECK(net.stack(1).connections() == before - 1);
  net.stack(0).tcp_release(c, net.now());
}

TEST_CASE("tcp listen: after a reset, data that arrived in order is still read before the error",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  tcp::TcpSock* l = net.stack(1).tcp_listen(80, 4);
  tcp::TcpSock* c = net.stack(0).tcp_connect(TwoHosts::addr(1), 80, at(0_us));
  tcp::TcpSock* s = nullptr;
  REQUIRE(net.run_until([&] { return (s = net.stack(1).tcp_accept(l)) != nullptr; }, at(1_s)));
  std::vector<std::byte> data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7);
  REQUIRE(c->send(data, net.now()) == 1000);
  REQUIRE(net.run_until([&] { return s->bytes_readable() == 1000; }, net.now() + 1_s));
  c->abort(net.now());
  REQUIRE(net.run_until([&] { return s->state() == TcpState::kClosed; }, net.now() + 1_s));
  std::vector<std::byte> got(2000);
  REQUIRE(s->recv(got, net.now()) == 1000);
  CHECK(std::equal(data.begin(), data.end(), got.begin()));
  CHECK(s->recv(got, net.now()) == -ECONNRESET);
  CHECK(s->recv(got, net.now()) == 0);
  net.stack(1).tcp_release(s, net.now());
  net.stack(0).tcp_release(c, net.now());
  CHECK(net.stack(1).skbs().in_use() == 0);
}

TEST_CASE("tcp listen: an active opener reset in SYN-RECEIVED (simultaneous open) stays the application's",
          "[netstack][inet][tcp][unit]") {
  TwoHosts net;
  tcp::TcpSock* a = net.stack(0).tcp_socket(IpVersion::kV4);
  tcp::TcpSock* b = net.stack(1).tcp_socket(IpVersion::kV4);
  REQUIRE(net.stack(0).inet_bind(a, IpAddress::any(IpVersion::kV4), 5000));
  REQUIRE(net.stack(1).inet_bind(b, IpAddress::any(IpVersion::kV4), 6000));
  // From host 1 only its SYN and RSTs get through: host 0 stays in SYN-RECEIVED.
  net.drop_if = [](int from, const core::SkBuff& skb) {
    const auto f = TwoHosts::tcp_frame(skb);
    return from == 1 && f && f->flags != tcp::kSyn && (f->flags & tcp::kRst) == 0;
  };
  REQUIRE(net.stack(0).inet_stream_connect(a, IpAddress(TwoHosts::addr(1)), 6000, at(0_us)) == 0);
  REQUIRE(net.stack(1).inet_stream_connect(b, IpAddress(TwoHosts::addr(0)), 5000, at(0_us)) == 0);
  const bool both = net.run_until(
      [&] { return a->state() == TcpState::kSynReceived && b->state() == TcpState::kEstablished; }, at(100_ms));
  INFO("a " << tcp::to_string(a->state()) << " b " << tcp::to_string(b->state()));
  REQUIRE(both);
  b->abort(net.now());
  REQUIRE(net.run_until([&] { return a->state() == TcpState::kClosed; }, net.now() + 1_ms));
  CHECK(net.stack(0).connections() == 1);  // not freed under the application
  CHECK(a->take_error() == -ECONNRESET);    // tcp_reset in SYN-RECV
  net.stack(0).tcp_release(a, net.now());
  net.stack(1).tcp_release(b, net.now());
  CHECK(net.stack(0).connections() == 0);
}
