// nicemu/netstack/inet/stack.hpp — one host's IPv4/IPv6 stack: interfaces, routes, ARP and
// neighbour discovery, ICMP echo, UDP, and TCP connections (binding, demux, listen/accept, RSTs).
//
// Models: net/ipv4 and net/ipv6 as far as a host needs them. ip_rcv / ipv6_rcv (header checks
//   in the kernel's order, Ethernet padding trimmed, IPv6 extension headers walked, fragments
//   counted and dropped, no forwarding); routing for directly connected subnets (longest
//   prefix) and one default gateway per family; ip_output / ip6_output (DF set, TTL/hop limit
//   from the socket or the stack default); a neighbour table shared by ARP (RFC 826) and ND
//   (RFC 4861: NS to the solicited-node group, NA with S/O flags, hop limit 255 enforced on
//   receive) with a per-neighbour queue of packets waiting for resolution (bounded; the oldest
//   is dropped when it is full, as Linux does), retransmitted solicitations, a reachable time and
//   re-probing of stale entries while still using them; ICMP and ICMPv6 echo (RFC 792, 4443);
//   ICMP port unreachable for UDP without a socket, and its delivery to a connected UDP socket
//   as ECONNREFUSED; UDP (RFC 768) with zero checksums refused on IPv6; TCP demux by four-tuple,
//   listeners by port with a backlog and an accept queue, port binding with EADDRINUSE rules
//   (SO_REUSEADDR lets a port held by non-listening sockets be bound again), ephemeral ports from
//   32768..60999, RFC 6528 ISNs from the run seed, MSS from the device MTU, and RSTs for segments
//   that reach no socket (RFC 9293 §3.10.7.1). Checksums on transmit are CHECKSUM_PARTIAL (as
//   Linux TCP/UDP produce them) and completed in software at the device unless the device has
//   NETIF_F_HW_CSUM (validate_xmit_skb); on receive a NIC's CHECKSUM_UNNECESSARY (or a
//   veth-like CHECKSUM_PARTIAL) skips verification. Every drop has a reason.
// Not modelled: IP options (skipped), fragmentation and reassembly, duplicate address
//   detection (addresses are usable at once, as with `nodad`), router discovery and redirects,
//   IPv4-mapped dual-stack sockets (an AF_INET6 socket is IPV6_V6ONLY), multicast and
//   broadcast sockets, more than one default gateway per family, ICMP errors other than port
//   unreachable, ICMP rate limits.
// Time: never read; every entry point takes `now`, and poll_at() says when poll(now) is due.
// References: RFC 791, 768, 792, 826, 1122, 4291, 4443, 4861, 8200, 9293; net/ipv4/{ip_input,
//   ip_output,arp,icmp,udp,tcp_ipv4,inet_connection_sock}.c, net/ipv6/{ip6_input,ip6_output,
//   ndisc,icmp,udp,tcp_ipv6}.c, net/core/neighbour.c.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "nicemu/base/result.hpp"
#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/inet/udp.hpp"
#include "nicemu/netstack/tcp/isn.hpp"
#include "nicemu/netstack/tcp/tcp_sock.hpp"
#include "nicemu/netstack/wire/address.hpp"

namespace nicemu::netstack::wire {
struct Icmpv6Repr;
}

namespace nicemu::netstack::inet {

enum class DropReason : std::uint8_t {
  kNotForUs,        // another host's MAC or IP address
  kTruncated,       // shorter than its headers say
  kBadHeader,       // bad version, IHL, lengths, options, extension headers
  kBadChecksum,
  kFragment,        // nicemu does not reassemble
  kNoRoute,
  kUnknownProtocol,
  kNoSocket,        // a TCP segment or UDP datagram no socket wants
  kListenOverflow,  // a SYN, or the handshake's last ACK, for a listener whose accept queue is
                    // full (kernel: LINUX_MIB_LISTENOVERFLOWS)
  kSynQueueFull,    // a SYN for a listener with more than backlog handshakes under way (kernel:
                    // inet_csk_reqsk_queue_is_full without SYN cookies, LINUX_MIB_LISTENDROPS)
  kNeighQueueFull,  // the oldest packet waiting for ARP/ND was dropped
  kNeighFailed,     // ARP/ND got no answer
  kTxBusy,          // the device's qdisc was full (dev_queue_xmit dropped the frame)
  kNoBuffer,        // no skb could be allocated
  kUnsupported,     // other EtherTypes, unreadable payload where bytes are needed
  kBadNdisc,        // an ND message failing RFC 4861 §7.1 validation (hop limit, code, target)
  kUdpRcvbuf,       // a UDP socket's receive buffer was full
  kCount,
};
const char* to_string(DropReason r);

struct StackStats {
  std::uint64_t rx_frames = 0, tx_frames = 0;
  std::uint64_t ip_in = 0, ip_out = 0;      // IPv4
  std::uint64_t ip6_in = 0, ip6_out = 0;    // IPv6
  std::uint64_t arp_requests_in = 0, arp_replies_in = 0, arp_requests_out = 0, arp_replies_out = 0;
  std::uint64_t ndisc_ns_in = 0, ndisc_na_in = 0, ndisc_ns_out = 0, ndisc_na_out = 0;
  std::uint64_t icmp_echo_requests_in = 0, icmp_echo_replies_out = 0, icmp_echo_replies_in = 0;
  std::uint64_t icmp6_echo_requests_in = 0, icmp6_echo_replies_out = 0, icmp6_echo_replies_in = 0;
  std::uint64_t icmp_unreach_out = 0, icmp_unreach_in = 0;  // port unreachable, both families
  std::uint64_t tcp_segs_in = 0, tcp_segs_out = 0, tcp_rst_out = 0;
  std::uint64_t udp_in = 0, udp_out = 0, udp_no_ports = 0;
  std::uint64_t csum_errors = 0;            // any protocol (also counted as kBadChecksum drops)
  std::uint64_t tx_csum_sw = 0;             // CHECKSUM_PARTIAL completed in software at the device
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> drops{};
  std::uint64_t drop(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t total_drops() const;
};

// The stack's TCP counters summed over every connection it has had (closed ones included).
struct TcpTotals {
  tcp::TcpSockStats sum;  // the per-socket counters, added up
  // kernel: TCP_MIB_ACTIVEOPENS, PASSIVEOPENS, ATTEMPTFAILS, ESTABRESETS, CURRESTAB.
  std::uint64_t active_opens = 0, passive_opens = 0, attempt_fails = 0, estab_resets = 0, curr_estab = 0;
};

struct StackConfig {
  std::uint64_t seed = 1;                                   // the run seed (ISNs, ephemeral ports)
  tcp::TcpConfig tcp;                                       // per-socket defaults
  std::uint8_t ttl = 64;                                    // net.ipv4.ip_default_ttl
  std::uint8_t hop_limit = 64;                              // net.ipv6.conf.*.hop_limit
  sim::Duration arp_reachable = sim::Duration::from_s(30);  // base_reachable_time (ARP and ND)
  sim::Duration arp_retrans = sim::Duration::from_s(1);     // retrans_time (ARP and ND)
  std::uint32_t arp_probes = 3;                             // mcast_solicit
  std::size_t arp_queue_len = 101;                          // unres_qlen (packets)
  std::uint32_t somaxconn = 4096;                           // net.core.somaxconn
};

class NetStack final : private tcp::TcpSockEnv {
 public:
  NetStack(netmem::HostMemory& memory, const page_pool::CallerContext& ctx, StackConfig config);
  ~NetStack();
  NetStack(const NetStack&) = delete;
  NetStack& operator=(const NetStack&) = delete;

  // ---- configuration ------------------------------------------------------------------------
  // Adds an interface with its IPv6 link-local address (fe80::/64, modified EUI-64 from the MAC)
  // and, if given, one IPv4 address; installs the connected routes. Returns its index.
  std::size_t add_interface(core::NetDevice& dev, wire::MacAddress mac);
  std::size_t add_interface(core::NetDevice& dev, wire::MacAddress mac, wire::Ipv4Address addr,
                            std::uint8_t prefix_len);
  // Another address (either family) on interface `iface`, with its connected route.
  void add_address(std::size_t iface, wire::IpAddress addr, std::uint8_t prefix_len);
  // The default gateway of the address's family.
  void set_default_gateway(wire::IpAddress gw);
  bool is_local(const wire::IpAddress& a) const;
  // The fe80:: address of an interface.
  wire::Ipv6Address link_local(std::size_t iface) const;

  // ---- receive (data at the Ethernet header; the stack takes the skb) ---------------------------
  void receive(core::NetDevice& dev, core::SkBuff* skb, sim::TimePoint now);

  // ---- TCP, socket-level (named after the kernel's inet_* functions they mirror) -----------------
  // A fresh socket in CLOSED, owned by the stack until tcp_release() (kernel: inet_create).
  tcp::TcpSock* tcp_socket(wire::IpVersion family);
  // Binds to `local` (the family's unspecified address = any) and `port` (0 = an ephemeral port).
  // Returns the port, or -EINVAL (already bound, or not CLOSED), -EAFNOSUPPORT (family differs),
  // -EADDRNOTAVAIL (not a local address), -EADDRINUSE.
  base::Result<std::uint16_t, int> inet_bind(tcp::TcpSock* sk, wire::IpAddress local, std::uint16_t port);
  // Passive open; binds an ephemeral port first if unbound. Backlog clamped to somaxconn; a
  // listener may call it again to change its backlog. 0, -EINVAL, -EADDRINUSE.
  int inet_listen(tcp::TcpSock* sk, std::uint32_t backlog);
  // Active open: routes, picks the source address (and an ephemeral port if unbound), sends SYN.
  // 0, or -EAFNOSUPPORT, -ENETUNREACH, -EISCONN (already connected), -EALREADY (in progress),
  // -EINVAL (listening), -EADDRNOTAVAIL (no free port / four-tuple taken).
  int inet_stream_connect(tcp::TcpSock* sk, wire::IpAddress dst, std::uint16_t dport, sim::TimePoint now);
  // An established child from the listener's accept queue, or -EAGAIN; -EINVAL if not listening.
  // A child reset while it waited is still returned (its error comes on the first call).
  base::Result<tcp::TcpSock*, int> inet_accept(tcp::TcpSock* listener);
  // Children waiting in the listener's accept queue (kernel: sk_ack_backlog), and those still in
  // SYN-RECEIVED (inet_csk_reqsk_queue_len). 0 for a socket that is not listening.
  std::size_t tcp_accept_queue_len(const tcp::TcpSock* listener) const;
  std::size_t tcp_syn_queue_len(const tcp::TcpSock* listener) const;
  // The application is done with the socket: close() it; the stack frees it once CLOSED.
  void tcp_release(tcp::TcpSock* sk, sim::TimePoint now);
  // SO_REUSEADDR (checked at bind and listen time, as in the kernel).
  void tcp_set_reuseaddr(tcp::TcpSock* sk, bool on);
  // IP_TTL / IPV6_UNICAST_HOPS for the connection's segments, 0..255; -1 = the stack's default.
  void tcp_set_hop_limit(tcp::TcpSock* sk, int hops);
  // The connection's addresses (after bind/connect/accept): local and remote.
  tcp::FourTuple tcp_tuple(const tcp::TcpSock* sk) const;
  // The device the connection's route leaves by (kernel: __sk_dst_get(sk)->dev), or nullptr
  // when the peer has no route (or the socket has no peer).
  core::NetDevice* tcp_route_dev(const tcp::TcpSock* sk) const;
  // The namespace the stack's devices are registered in (nullptr before any is).
  core::NetNs* netns() const;

  // Shortcuts used by tests and benchmarks: socket+bind+listen on any address; socket+connect.
  tcp::TcpSock* tcp_listen(std::uint16_t port, std::uint32_t backlog);  // nullptr if taken
  tcp::TcpSock* tcp_accept(tcp::TcpSock* listener);  // nullptr: none ready
  tcp::TcpSock* tcp_connect(wire::IpAddress dst, std::uint16_t dport, sim::TimePoint now);  // nullptr: no route

  // ---- UDP --------------------------------------------------------------------------------------
  UdpSock* udp_socket(wire::IpVersion family);
  // As tcp_bind (ports are per protocol).
  base::Result<std::uint16_t, int> udp_bind(UdpSock* sk, wire::IpAddress local, std::uint16_t port);
  // SO_REUSEADDR: two UDP sockets that both set it may bind the same address and port.
  void udp_set_reuseaddr(UdpSock* sk, bool on);
  // Sets the default peer (binding an ephemeral port if unbound) and, when the socket is bound
  // to the wildcard, the routed source address (ip4_datagram_connect). An unspecified address
  // disconnects (AF_UNSPEC, __udp_disconnect): the source address goes back to the wildcard
  // unless bind() named it, and an ephemeral port is given up unless bind() named the port.
  // 0, -EAFNOSUPPORT, -ENETUNREACH.
  int udp_connect(UdpSock* sk, wire::IpAddress dst, std::uint16_t dport);
  // Sends one datagram made of the concatenated `iov` to dst (or the connected peer when dst is
  // nullopt; Linux allows sendto on a connected UDP socket). Returns the payload length, or
  // -EDESTADDRREQ, -EAFNOSUPPORT, -ENETUNREACH, -EMSGSIZE (above the path MTU or
  // SO_SNDBUF), -ENOBUFS, or the pending error (e.g. -ECONNREFUSED).
  base::Result<std::size_t, int> udp_sendmsg(UdpSock* sk, std::span<const std::span<const std::byte>> iov,
                                             std::optional<wire::IpAddress> dst, std::uint16_t dport,
                                             sim::TimePoint now);
  // Copies the next datagram (truncated to the iov; the rest is lost unless `peek`).
  // -EAGAIN when empty; the pending error first.
  base::Result<UdpRecv, int> udp_recvmsg(UdpSock* sk, std::span<const std::span<std::byte>> iov, bool peek);
  void udp_release(UdpSock* sk);

  // ---- ICMP -------------------------------------------------------------------------------------------
  // An echo request of `len` data bytes to dst (either family), from the routed source address.
  void ping(wire::IpAddress dst, std::uint16_t id, std::uint16_t seq, std::size_t len, sim::TimePoint now);
  struct EchoReply {
    wire::IpAddress from;
    std::uint16_t id = 0, seq = 0;
    std::size_t len = 0;
    std::uint8_t ttl = 0;  // TTL / hop limit as received
    sim::TimePoint at;
  };
  const std::vector<EchoReply>& echo_replies() const { return echo_replies_; }

  // ---- time -------------------------------------------------------------------------------------------
  std::optional<sim::TimePoint> poll_at() const;
  void poll(sim::TimePoint now);

  // Frees every connection, UDP socket and frame waiting for resolution (teardown: a stack may
  // hold skbs of another host's allocator, so a topology empties all stacks before destroying any).
  void clear();

  // ---- introspection ------------------------------------------------------------------------------------
  const StackStats& stats() const { return stats_; }
  // TCP counters of all connections, live and gone.
  TcpTotals tcp_totals() const;
  core::SkbAllocator& skbs() { return skbs_; }
  std::size_t connections() const { return conns_.size(); }
  std::size_t udp_sockets() const { return udp_.size(); }
  std::optional<wire::MacAddress> arp_lookup(wire::Ipv4Address a) const;
  std::optional<wire::MacAddress> neigh_lookup(const wire::IpAddress& a) const;
  const StackConfig& config() const { return cfg_; }

  // ---- packet tracing (sim/packet_trace.hpp) ------------------------------------------------------
  // TCP transmit, ip_rcv, tcp_v4_rcv, socket queueing and the stack's drops report to `t`
  // (nullptr: none), for connections made before and after the call.
  void set_packet_tracer(sim::PacketTracer* t);

 private:
  struct IfAddr {
    wire::IpAddress addr;
    std::uint8_t prefix_len = 0;
  };
  struct Iface {
    core::NetDevice* dev = nullptr;
    wire::MacAddress mac;
    std::vector<IfAddr> addrs;  // IPv6 link-local first
    std::optional<wire::Ipv4Address> v4() const;
  };
  // kernel: struct neighbour (one table for both families here).
  struct Neigh {
    std::size_t iface = 0;
    std::optional<wire::MacAddress> mac;
    sim::TimePoint expires;     // while resolved: after it, used but re-probed (STALE/PROBE)
    sim::TimePoint next_probe;  // while probing
    std::uint32_t probes = 0;   // solicitations sent in the current round (0 = not probing)
    std::deque<core::SkBuff*> queue;
  };
  struct Conn {
    std::unique_ptr<tcp::TcpSock> sk;
    tcp::FourTuple tuple;
    wire::IpVersion family = wire::IpVersion::kV4;
    Conn* listener = nullptr;
    std::deque<Conn*> accept_queue;  // listeners: established children not yet accepted
    std::uint32_t pending = 0;       // listeners: children still in SYN-RECEIVED
    bool bound = false;              // holds tuple.local_port in the bind table
    bool hashed = false;             // in established_
    std::uint32_t txhash = 0;        // kernel: sk->sk_txhash, set when hashed (picks the TX queue)
    bool listening = false;          // in listeners_
    bool reuseaddr = false;
    int hop_limit = -1;              // IP_TTL / IPV6_UNICAST_HOPS; -1 = the stack's default
    bool queued = false;             // children: in the accept queue
    bool released = false;           // the application let go
    bool dead = false;               // to be freed by reap()
  };
  // Sets c->tuple-derived state of a connection entering established_ (the TX hash).
  void tcp_hashed(Conn* c);
  struct Route {
    std::size_t iface = 0;
    wire::IpAddress next_hop;
    wire::IpAddress src;  // preferred source address
  };
  // A bind-table entry (kernel: inet_bind_bucket owners / udp hash slot).
  struct Binding {
    wire::IpAddress addr;  // unspecified = any of its family
    const void* owner = nullptr;
    bool reuse = false;    // SO_REUSEADDR
    bool listening = false;
  };

  // TcpSockEnv
  core::SkBuff* tcp_alloc_skb() override;
  netmem::HostMemory& tcp_memory() override { return memory_; }
  void tcp_output(tcp::TcpSock& sk, tcp::TcpSegment& seg, sim::TimePoint now) override;
  void tcp_state_change(tcp::TcpSock& sk, tcp::TcpState old_state) override;
  GsoCaps tcp_gso_caps(const tcp::TcpSock& sk) override;

  void drop(core::SkBuff* skb, DropReason why);
  // Packet tracing; called only with a tracer. A segment TCP sends gets its trace id here.
  void trace(sim::PacketStage stage, core::SkBuff& skb, sim::TimePoint now, std::uint32_t len,
             std::uint32_t seq = 0, const char* note = nullptr);
  void trace_drop(core::SkBuff& skb, const char* why);
  std::optional<Route> route(const wire::IpAddress& dst) const;
  std::optional<std::size_t> iface_of(const core::NetDevice& dev) const;
  bool accepts_mac(std::size_t iface, const wire::MacAddress& dst) const;
  // stack.cpp: the L3 dispatch for L4 protocols (skb data at the L4 header; takes the skb).
  void l4_output(const wire::IpAddress& src, const wire::IpAddress& dst, std::uint8_t protocol,
                 int ttl, core::SkBuff* skb, sim::TimePoint now);
  void dev_xmit(std::size_t iface, wire::MacAddress dst, std::uint16_t ethertype, core::SkBuff* skb);
  core::SkBuff* alloc_tx_skb();
  // L4 checksum over the whole skb from data() under the pseudo-header; true if it verifies
  // (or a device/veth vouched for it).
  bool l4_checksum_ok(const core::SkBuff& skb, const wire::IpAddress& src, const wire::IpAddress& dst,
                      std::uint8_t protocol);
  // CHECKSUM_PARTIAL for the L4 header at data(): the field gets the pseudo-header sum.
  void l4_set_partial(core::SkBuff& skb, const wire::IpAddress& src, const wire::IpAddress& dst,
                      std::uint8_t protocol, std::uint16_t csum_field_offset);

  // arp.cpp
  void arp_rcv(std::size_t iface, core::SkBuff* skb, sim::TimePoint now);
  void arp_send(std::size_t iface, bool request, wire::MacAddress dst_mac, wire::Ipv4Address target,
                wire::MacAddress target_mac, sim::TimePoint now,
                std::optional<wire::Ipv4Address> sender = std::nullopt);
  // ipv4.cpp
  void ip_rcv(std::size_t iface, core::SkBuff* skb, sim::TimePoint now);
  void icmp_rcv(wire::Ipv4Address src, wire::Ipv4Address dst, std::uint8_t ttl, core::SkBuff* skb,
                sim::TimePoint now);
  void ip_output(wire::Ipv4Address src, wire::Ipv4Address dst, std::uint8_t protocol, std::uint8_t ttl,
                 core::SkBuff* skb, sim::TimePoint now);
  // ipv6.cpp
  void ipv6_rcv(std::size_t iface, core::SkBuff* skb, sim::TimePoint now);
  void icmpv6_rcv(std::size_t iface, const wire::Ipv6Address& src, const wire::Ipv6Address& dst,
                  std::uint8_t hop_limit, core::SkBuff* skb, sim::TimePoint now);
  void ip6_output(const wire::Ipv6Address& src, const wire::Ipv6Address& dst, std::uint8_t protocol,
                  std::uint8_t hop_limit, core::SkBuff* skb, sim::TimePoint now);
  // ip6_output without routing: to a multicast group or a known link-layer address (ND).
  void ip6_output_direct(std::size_t iface, const wire::Ipv6Address& src, const wire::Ipv6Address& dst,
                         std::uint8_t hop_limit, wire::MacAddress dst_mac, core::SkBuff* skb);
  // ndisc.cpp
  void ndisc_rcv(std::size_t iface, const wire::Ipv6Address& src, const wire::Ipv6Address& dst,
                 std::uint8_t hop_limit, const wire::Icmpv6Repr& msg, sim::TimePoint now);
  void ndisc_send_ns(std::size_t iface, const wire::Ipv6Address& target, sim::TimePoint now);
  void ndisc_send_na(std::size_t iface, const wire::Ipv6Address& target, const wire::Ipv6Address& dst,
                     wire::MacAddress dst_mac, bool solicited);
  // neighbour.cpp
  void neigh_output(const Route& r, std::uint16_t ethertype, core::SkBuff* skb, sim::TimePoint now);
  // Learned a link-layer address (ARP reply/request, NA, NS with SLLA): update and flush.
  void neigh_update(std::size_t iface, const wire::IpAddress& addr, wire::MacAddress mac, bool create,
                    sim::TimePoint now);
  void neigh_solicit(const wire::IpAddress& addr, Neigh& n, sim::TimePoint now);
  void neigh_timers(sim::TimePoint now);
  // icmp errors (ipv4.cpp / ipv6.cpp): port unreachable quoting `offending` (data at its IP header).
  void icmp_send_port_unreach(const wire::IpAddress& src, const wire::IpAddress& dst,
                              std::span<const std::byte> offending, sim::TimePoint now);
  void icmp_unreach_rcv(const wire::IpAddress& from, std::span<const std::byte> quoted);
  // tcp_demux.cpp
  void tcp_rcv(const wire::IpAddress& src, const wire::IpAddress& dst, core::SkBuff* skb, sim::TimePoint now);
  void tcp_send_reset(const wire::IpAddress& src, const wire::IpAddress& dst, const tcp::TcpSegment& in,
                      sim::TimePoint now);
  Conn* conn_of(const tcp::TcpSock* sk) const;
  Conn* listener_for(const wire::IpAddress& dst, std::uint16_t dport) const;
  Conn* new_conn(wire::IpVersion family);
  void reap();
  std::uint16_t tcp_mss_for(std::size_t iface, wire::IpVersion family) const;
  // ports.cpp: the bind tables (kernel: inet_bind_bucket / udp_table).
  // 0, or -EADDRINUSE when `owner` may not hold addr:port next to the port's other owners.
  int port_check(const std::map<std::uint16_t, std::vector<Binding>>& table, const wire::IpAddress& addr,
                 std::uint16_t port, bool reuse, const void* owner) const;
  // An ephemeral port with no owner of addr's family at all (connect), or 0.
  std::uint16_t port_pick_free(const std::map<std::uint16_t, std::vector<Binding>>& table,
                               const wire::IpAddress& addr);
  base::Result<std::uint16_t, int> port_bind(std::map<std::uint16_t, std::vector<Binding>>& table,
                                             const wire::IpAddress& addr, std::uint16_t port, const void* owner,
                                             bool reuse);
  void port_unbind(std::map<std::uint16_t, std::vector<Binding>>& table, std::uint16_t port, const void* owner);
  void port_set_listening(std::uint16_t port, const void* owner, bool listening);
  // udp.cpp
  void udp_rehash(UdpSock* sk);
  void udp_rcv(const wire::IpAddress& src, const wire::IpAddress& dst, core::SkBuff* skb, sim::TimePoint now);
  UdpSock* udp_lookup(const wire::IpAddress& src, std::uint16_t sport, const wire::IpAddress& dst,
                      std::uint16_t dport) const;

  netmem::HostMemory& memory_;
  StackConfig cfg_;
  core::SkbAllocator skbs_;
  tcp::IsnGenerator isn_;
  std::vector<Iface> ifaces_;
  std::optional<wire::Ipv4Address> gateway4_;
  std::optional<wire::Ipv6Address> gateway6_;
  std::map<wire::IpAddress, Neigh> neigh_;
  std::vector<std::unique_ptr<Conn>> conns_;                    // owner, in creation order
  std::map<tcp::FourTuple, Conn*> established_;                 // by (local, remote)
  // Listeners by (port, family); several when bound to different addresses.
  std::map<std::pair<std::uint16_t, wire::IpVersion>, std::vector<Conn*>> listeners_;
  std::unordered_map<const tcp::TcpSock*, Conn*> by_sock_;      // lookups only, never iterated
  std::map<std::uint16_t, std::vector<Binding>> tcp_ports_;     // bound TCP ports
  std::map<std::uint16_t, std::vector<Binding>> udp_ports_;     // bound UDP ports
  std::vector<std::unique_ptr<UdpSock>> udp_;                   // owner, in creation order
  std::uint16_t next_port_;
  std::uint16_t ip_ident_ = 0;
  std::vector<EchoReply> echo_replies_;
  StackStats stats_;
  TcpTotals tcp_gone_;  // counters of connections already freed
  sim::PacketTracer* packet_tracer_ = nullptr;
};

// The stack's counters as lines of "area: name=value ..." (zero counters left out), every drop
// by reason included: for run summaries.
std::string stack_summary(const NetStack& st);

}  // namespace nicemu::netstack::inet
