// Socket-API fixtures: two hosts (TwoHosts) with one process's SocketTable each, helpers that
// make a connected TCP pair and pump data, and a WireTap — one stack whose frames are captured
// instead of delivered, to read header fields (TTL, hop limit) of what the sockets send.
#pragma once

#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <vector>

#include "nicemu/netstack/socket/socket_table.hpp"
#include "nicemu/netstack/wire/arp.hpp"
#include "nicemu/netstack/wire/ethernet.hpp"
#include "nicemu/netstack/wire/icmpv6.hpp"
#include "nicemu/netstack/wire/ip_protocol.hpp"
#include "nicemu/netstack/wire/ipv6.hpp"
#include "two_hosts.hpp"

namespace nicemu::testing {

inline const char* family_name(int family) { return family == netstack::socket::kAF_INET ? "IPv4" : "IPv6"; }

inline std::vector<std::byte> socket_pattern(std::size_t n, unsigned salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + salt) ^ (i >> 9));
  return v;
}

class SocketHosts {
 public:
  using SocketTable = netstack::socket::SocketTable;
  using SockAddr = netstack::socket::SockAddr;

  explicit SocketHosts(std::uint64_t seed = 1, LinkFaults faults = {}, netstack::inet::StackConfig base = {},
                       netstack::socket::SocketTableConfig tables = {})
      : net(seed, faults, base) {
    for (int i = 0; i < 2; ++i) tables_[i] = std::make_unique<SocketTable>(net.stack(i), tables);
  }

  SocketTable& table(int i) { return *tables_[i]; }
  sim::TimePoint now() const { return net.now(); }

  // Runs the two hosts until done() or `within` from now; returns done().
  template <class Done>
  bool run_until(Done&& done, sim::Duration within = sim::Duration::from_s(10)) {
    return net.run_until(std::forward<Done>(done), net.now() + within);
  }
  // Runs every event due in the next `d` and leaves the clock at now + d.
  void run_for(sim::Duration d) {
    const sim::TimePoint end = net.now() + d;
    net.run_until([] { return false; }, end);
    if (net.now() < end) net.advance(end - net.now());
  }

  // Host i's address of a family (kAF_INET: 192.0.2.(i+1), kAF_INET6: 2001:db8::(i+1)).
  static SockAddr addr(int family, int i, std::uint16_t port) {
    if (family == netstack::socket::kAF_INET6) return SockAddr{TwoHosts::addr6(i), port};
    return SockAddr{TwoHosts::addr(i), port};
  }
  static SockAddr any(int family, std::uint16_t port) {
    using netstack::wire::IpVersion;
    const IpVersion v = family == netstack::socket::kAF_INET6 ? IpVersion::kV6 : IpVersion::kV4;
    return SockAddr{netstack::wire::IpAddress::any(v), port};
  }

  // A listener on host 1, a client on host 0 connected to it, the accepted server socket.
  struct TcpConn {
    int listener = -1, client = -1, server = -1;
  };
  TcpConn tcp_connect_pair(int family, std::uint16_t port = 5001, int backlog = 8) {
    using namespace netstack::socket;
    TcpConn c;
    c.listener = table(1).socket(family, kSOCK_STREAM, 0);
    REQUIRE(c.listener >= 0);
    REQUIRE(table(1).bind(c.listener, any(family, port)) == 0);
    REQUIRE(table(1).listen(c.listener, backlog) == 0);
    c.client = table(0).socket(family, kSOCK_STREAM | kSOCK_NONBLOCK, 0);
    REQUIRE(c.client >= 0);
    REQUIRE(table(0).connect(c.client, addr(family, 1, port), now()) == -EINPROGRESS);
    REQUIRE(run_until([&] { return (c.server = table(1).accept(c.listener, nullptr)) >= 0; }));
    REQUIRE(table(0).connect(c.client, addr(family, 1, port), now()) == 0);
    return c;
  }

  // poll() of one descriptor; the revents.
  short revents(int host, int fd, short events) {
    netstack::socket::PollFd p{fd, events, 0};
    REQUIRE(table(host).poll(std::span(&p, 1)) >= 0);
    return p.revents;
  }

  // Reads everything readable from fd into `into`; returns the last recv result (<= 0).
  std::int64_t drain(int host, int fd, std::vector<std::byte>& into) {
    std::vector<std::byte> buf(65536);
    for (;;) {
      const std::int64_t n = table(host).recv(fd, buf, 0, now());
      if (n <= 0) return n;
      into.insert(into.end(), buf.begin(), buf.begin() + n);
    }
  }

  // Runs until neither stack has a connection left (TIME-WAIT included).
  bool all_connections_gone(sim::Duration within = sim::Duration::from_s(200)) {
    return run_until([&] { return net.stack(0).connections() == 0 && net.stack(1).connections() == 0; }, within);
  }

  TwoHosts net;

 private:
  std::unique_ptr<SocketTable> tables_[2];
};

// One stack (192.0.2.1/24, 2001:db8::1/64) on a device whose frames are kept in `frames`
// (Ethernet onwards) instead of going anywhere. learn_peer() makes the stack learn the peer's
// MAC (192.0.2.2 / 2001:db8::2) from an ARP request or an NS, so that what it sends next leaves
// at once.
class WireTap {
 public:
  WireTap()
      : dev_("tap0",
             [this](netstack::core::SkBuff* skb) {
               if (skb->ip_summed == netstack::core::IpSummed::kPartial) (void)netstack::core::skb_checksum_help(*skb);
               std::vector<std::byte> f(skb->len());
               (void)netstack::core::skb_copy_bits(*skb, 0, f.data(), static_cast<int>(f.size()));
               frames.push_back(std::move(f));
               netstack::core::kfree_skb(skb);
             }),
        stack_(memory_, ctx_, netstack::inet::StackConfig{}) {
    const std::size_t ifc = stack_.add_interface(dev_, TwoHosts::mac(0), TwoHosts::addr(0), 24);
    stack_.add_address(ifc, TwoHosts::addr6(0), 64);
    table = std::make_unique<netstack::socket::SocketTable>(stack_);
  }
  ~WireTap() {
    table.reset();
    stack_.clear();
  }

  void learn_peer() {
    using namespace netstack;
    {  // ARP request from the peer, for our address: the stack learns the sender (and replies).
      core::SkBuff* skb = stack_.skbs().alloc();
      ethernet(*skb, wire::MacAddress::broadcast(), wire::ethertype::kArp);
      wire::ArpRepr arp;
      arp.operation = wire::ArpOperation::kRequest;
      arp.sender_mac = TwoHosts::mac(1);
      arp.sender_ip = TwoHosts::addr(1);
      arp.target_ip = TwoHosts::addr(0);
      arp.emit({skb->put(wire::ArpRepr::kLen), wire::ArpRepr::kLen});
      stack_.receive(dev_, skb, sim::TimePoint::zero());
    }
    {  // NS from the peer with its link-layer address (RFC 4861 §7.2.3 creates the entry).
      wire::Icmpv6Repr ns;
      ns.type = wire::Icmpv6Type::kNeighbourSolicitation;
      ns.target = TwoHosts::addr6(0);
      ns.link_layer_addr = TwoHosts::mac(1);
      std::vector<std::byte> l4(ns.buffer_len());
      ns.emit(l4, TwoHosts::addr6(1), TwoHosts::addr6(0), wire::ChecksumCaps::software());
      core::SkBuff* skb = stack_.skbs().alloc();
      ethernet(*skb, TwoHosts::mac(0), wire::ethertype::kIpv6);
      wire::Ipv6Repr ip;
      ip.src = TwoHosts::addr6(1);
      ip.dst = TwoHosts::addr6(0);
      ip.next_header = wire::ip_protocol::kIcmpv6;
      ip.payload_len = static_cast<std::uint16_t>(l4.size());
      ip.hop_limit = 255;
      ip.emit({skb->put(40), 40});
      std::memcpy(skb->put(static_cast<std::uint32_t>(l4.size())), l4.data(), l4.size());
      stack_.receive(dev_, skb, sim::TimePoint::zero());
    }
    REQUIRE(stack_.neigh_lookup(TwoHosts::addr(1)).has_value());
    REQUIRE(stack_.neigh_lookup(TwoHosts::addr6(1)).has_value());
    frames.clear();
  }

  // TTL (IPv4) or hop limit (IPv6) of a captured frame.
  static std::uint8_t hop_limit_of(const std::vector<std::byte>& frame) {
    const auto ethertype = static_cast<std::uint16_t>((std::to_integer<unsigned>(frame[12]) << 8) |
                                                      std::to_integer<unsigned>(frame[13]));
    return std::to_integer<std::uint8_t>(frame[ethertype == netstack::wire::ethertype::kIpv6 ? 14 + 7 : 14 + 8]);
  }

  netstack::inet::NetStack& stack() { return stack_; }
  std::unique_ptr<netstack::socket::SocketTable> table;
  std::vector<std::vector<std::byte>> frames;

 private:
  void ethernet(netstack::core::SkBuff& skb, netstack::wire::MacAddress dst, std::uint16_t ethertype) {
    netstack::wire::EthernetRepr eth;
    eth.dst = dst;
    eth.src = TwoHosts::mac(1);
    eth.ethertype = ethertype;
    eth.emit({skb.put(14), 14});
  }

  page_pool::CallerContext ctx_;
  netmem::HostMemory memory_;
  VethDevice dev_;
  netstack::inet::NetStack stack_;
};

}  // namespace nicemu::testing
