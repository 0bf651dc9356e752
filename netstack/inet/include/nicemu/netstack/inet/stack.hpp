// nicemu/netstack/inet/stack.hpp — one host's IPv4 stack: interfaces, routes, ARP, ICMP echo,
// and TCP connections (demux, listen/accept, RSTs for segments no socket wants).
//
// Models: net/ipv4 as far as a host needs it: ip_rcv (header checks in ip_rcv_core's order,
//   Ethernet padding trimmed, fragments counted and dropped), routing for directly connected
//   subnets and one default gateway, ip_output with a 20-byte header (DF set, TTL 64), ARP
//   (RFC 826) with a per-neighbour queue of packets waiting for resolution (bounded; the oldest
//   is dropped when it is full, as Linux does), retransmitted requests and a reachable time;
//   ICMP echo request/reply (RFC 792); TCP demux by four-tuple, listeners by port with a
//   backlog and an accept queue, RFC 6528 ISNs from the run seed, MSS from the device MTU, and
//   RSTs for segments that reach no socket (RFC 9293 §3.10.7.1). Every drop has a reason.
// Not modelled yet (docs/status.md): IPv6 and neighbour discovery, UDP, the BSD socket API,
//   IP options, ICMP errors (unreachables are not sent), multiple gateways, checksum offload
//   (checksums are always computed in software here).
// Time: never read; every entry point takes `now`, and poll_at() says when poll(now) is due.
// References: RFC 791, 826, 792, 1122, 9293; net/ipv4/{ip_input,ip_output,arp,icmp,tcp_ipv4}.c.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/tcp/isn.hpp"
#include "nicemu/netstack/tcp/tcp_sock.hpp"
#include "nicemu/netstack/wire/address.hpp"

namespace nicemu::netstack::inet {

enum class DropReason : std::uint8_t {
  kNotForUs,        // another host's MAC or IP address
  kTruncated,       // shorter than its headers say
  kBadHeader,       // bad version, IHL, lengths, options
  kBadChecksum,
  kFragment,        // nicemu does not reassemble
  kNoRoute,
  kUnknownProtocol,
  kNoSocket,        // a TCP segment no socket wants (answered with RST unless it is one)
  kListenOverflow,  // a SYN for a listener whose backlog is full
  kNeighQueueFull,  // the oldest packet waiting for ARP was dropped
  kNeighFailed,     // ARP got no answer
  kTxBusy,          // the device refused the frame
  kNoBuffer,        // no skb could be allocated
  kUnsupported,     // IPv6 and other EtherTypes not handled yet
  kCount,
};
const char* to_string(DropReason r);

struct StackStats {
  std::uint64_t rx_frames = 0, tx_frames = 0;
  std::uint64_t ip_in = 0, ip_out = 0;
  std::uint64_t arp_requests_in = 0, arp_replies_in = 0, arp_requests_out = 0, arp_replies_out = 0;
  std::uint64_t icmp_echo_requests_in = 0, icmp_echo_replies_out = 0, icmp_echo_replies_in = 0;
  std::uint64_t tcp_segs_in = 0, tcp_segs_out = 0, tcp_rst_out = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> drops{};
  std::uint64_t drop(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
};

struct StackConfig {
  std::uint64_t seed = 1;                                   // the run seed (ISNs, ephemeral ports)
  tcp::TcpConfig tcp;                                       // per-socket defaults
  std::uint8_t ttl = 64;                                    // net.ipv4.ip_default_ttl
  sim::Duration arp_reachable = sim::Duration::from_s(30);  // base_reachable_time
  sim::Duration arp_retrans = sim::Duration::from_s(1);     // retrans_time
  std::uint32_t arp_probes = 3;                             // mcast_solicit
  std::size_t arp_queue_len = 101;                          // unres_qlen (packets)
};

class NetStack final : private tcp::TcpSockEnv {
 public:
  NetStack(netmem::HostMemory& memory, const page_pool::CallerContext& ctx, StackConfig config);
  ~NetStack();
  NetStack(const NetStack&) = delete;
  NetStack& operator=(const NetStack&) = delete;

  // ---- configuration ------------------------------------------------------------------------
  // Adds an interface with one IPv4 address; installs the connected route. Returns its index.
  std::size_t add_interface(core::NetDevice& dev, wire::MacAddress mac, wire::Ipv4Address addr,
                            std::uint8_t prefix_len);
  void set_default_gateway(wire::Ipv4Address gw) { gateway_ = gw; }

  // ---- receive (data at the Ethernet header; the stack takes the skb) ---------------------------
  void receive(core::NetDevice& dev, core::SkBuff* skb, sim::TimePoint now);

  // ---- TCP (a thin interface; the BSD socket layer comes next) ----------------------------------
  // A listening socket on `port` (all local addresses); nullptr if the port is taken.
  tcp::TcpSock* tcp_listen(std::uint16_t port, std::uint32_t backlog);
  // An established child from the listener's accept queue, or nullptr (-EAGAIN).
  tcp::TcpSock* tcp_accept(tcp::TcpSock* listener);
  // Active open from an ephemeral port; nullptr with no route.
  tcp::TcpSock* tcp_connect(wire::Ipv4Address dst, std::uint16_t dport, sim::TimePoint now);
  // The application is done with the socket: close() it; the stack frees it once CLOSED.
  void tcp_release(tcp::TcpSock* sk, sim::TimePoint now);

  // ---- ICMP -------------------------------------------------------------------------------------------
  void ping(wire::Ipv4Address dst, std::uint16_t id, std::uint16_t seq, std::size_t len, sim::TimePoint now);
  struct EchoReply {
    wire::Ipv4Address from;
    std::uint16_t id = 0, seq = 0;
    std::size_t len = 0;
    sim::TimePoint at;
  };
  const std::vector<EchoReply>& echo_replies() const { return echo_replies_; }

  // ---- time -------------------------------------------------------------------------------------------
  std::optional<sim::TimePoint> poll_at() const;
  void poll(sim::TimePoint now);

  // Frees every connection and every frame waiting for ARP (teardown: a stack may hold skbs of
  // another host's allocator, so a topology empties all stacks before destroying any).
  void clear();

  // ---- introspection ------------------------------------------------------------------------------------
  const StackStats& stats() const { return stats_; }
  core::SkbAllocator& skbs() { return skbs_; }
  std::size_t connections() const { return conns_.size(); }
  std::optional<wire::MacAddress> arp_lookup(wire::Ipv4Address a) const;

 private:
  struct Iface {
    core::NetDevice* dev = nullptr;
    wire::MacAddress mac;
    wire::Ipv4Address addr;
    std::uint8_t prefix_len = 0;
  };
  struct Neigh {
    std::size_t iface = 0;
    std::optional<wire::MacAddress> mac;
    sim::TimePoint expires;     // while resolved
    sim::TimePoint next_probe;  // while resolving
    std::uint32_t probes = 0;
    std::deque<core::SkBuff*> queue;
  };
  struct Conn {
    std::unique_ptr<tcp::TcpSock> sk;
    tcp::FourTuple tuple;
    Conn* listener = nullptr;
    std::deque<Conn*> accept_queue;  // listeners: established children not yet accepted
    std::uint32_t pending = 0;       // listeners: children still in SYN-RECEIVED
    bool queued = false;             // children: in the accept queue
    bool released = false;           // the application let go
    bool dead = false;               // to be freed by reap()
  };
  struct Route {
    std::size_t iface = 0;
    wire::Ipv4Address next_hop;
  };

  // TcpSockEnv
  core::SkBuff* tcp_alloc_skb() override;
  netmem::HostMemory& tcp_memory() override { return memory_; }
  void tcp_output(tcp::TcpSock& sk, tcp::TcpSegment& seg, sim::TimePoint now) override;
  void tcp_state_change(tcp::TcpSock& sk, tcp::TcpState old_state) override;

  void drop(core::SkBuff* skb, DropReason why);
  std::optional<Route> route(wire::Ipv4Address dst) const;
  bool is_local(wire::Ipv4Address a) const;
  void arp_rcv(std::size_t iface, core::SkBuff* skb, sim::TimePoint now);
  void ip_rcv(std::size_t iface, core::SkBuff* skb, sim::TimePoint now);
  void icmp_rcv(wire::Ipv4Address src, wire::Ipv4Address dst, core::SkBuff* skb, sim::TimePoint now);
  void tcp_rcv(wire::Ipv4Address src, wire::Ipv4Address dst, core::SkBuff* skb, sim::TimePoint now);
  void tcp_send_reset(wire::Ipv4Address src, wire::Ipv4Address dst, const tcp::TcpSegment& in, sim::TimePoint now);
  // skb data at the L4 header; takes the skb.
  void ip_output(wire::Ipv4Address src, wire::Ipv4Address dst, std::uint8_t protocol, core::SkBuff* skb,
                 sim::TimePoint now);
  void neigh_output(const Route& r, core::SkBuff* skb, sim::TimePoint now);
  void arp_send(std::size_t iface, bool request, wire::MacAddress dst_mac, wire::Ipv4Address target,
                wire::MacAddress target_mac, sim::TimePoint now);
  void dev_xmit(std::size_t iface, wire::MacAddress dst, std::uint16_t ethertype, core::SkBuff* skb);
  core::SkBuff* alloc_tx_skb();
  std::uint16_t ephemeral_port();
  Conn* new_conn();
  void reap();

  netmem::HostMemory& memory_;
  StackConfig cfg_;
  core::SkbAllocator skbs_;
  tcp::IsnGenerator isn_;
  std::vector<Iface> ifaces_;
  std::optional<wire::Ipv4Address> gateway_;
  std::map<wire::Ipv4Address, Neigh> neigh_;
  std::vector<std::unique_ptr<Conn>> conns_;                    // owner, in creation order
  std::map<tcp::FourTuple, Conn*> established_;                 // by (local, remote)
  std::map<std::uint16_t, Conn*> listeners_;
  std::unordered_map<const tcp::TcpSock*, Conn*> by_sock_;      // lookups only, never iterated
  std::uint16_t next_port_;
  std::uint16_t ip_ident_ = 0;
  std::vector<EchoReply> echo_replies_;
  StackStats stats_;
};

}  // namespace nicemu::netstack::inet
