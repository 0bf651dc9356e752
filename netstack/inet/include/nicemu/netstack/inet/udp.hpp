// nicemu/netstack/inet/udp.hpp — a UDP socket as the stack keeps it (net/ipv4/udp.c,
// net/ipv6/udp.c): its binding, an optional connected peer, and a receive queue of datagrams.
//
// Models: the receive queue charged against SO_RCVBUF by each skb's truesize (a datagram that
//   would overflow it is dropped and counted, as __udp_enqueue_schedule_skb does), MSG_PEEK and
//   MSG_TRUNC semantics of recvmsg, the pending socket error (an ICMP port unreachable reported
//   to a connected socket becomes ECONNREFUSED, as Linux does), and the SNMP-style counters.
// Not modelled: IP fragmentation (a datagram larger than the path MTU is refused with EMSGSIZE,
//   as with IP_PMTUDISC_DO), corking (UDP_CORK/MSG_MORE), multicast and broadcast receive, GSO/GRO.
// The NetStack owns UdpSocks; applications reach them through NetStack's udp_* calls or the
// socket layer (netstack/socket).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::netstack::inet {

// kernel: UDP_MIB_* for one socket (the stack keeps the same counters for all sockets).
struct UdpSockStats {
  std::uint64_t in_datagrams = 0;    // delivered to the application
  std::uint64_t out_datagrams = 0;
  std::uint64_t rcvbuf_errors = 0;   // dropped: the receive queue was full
  std::uint64_t in_bytes = 0, out_bytes = 0;  // payload bytes
};

class UdpSock {
 public:
  struct Datagram {
    core::SkBuff* skb = nullptr;  // data at the payload
    wire::IpAddress from;
    std::uint16_t from_port = 0;
    sim::TimePoint at;
  };

  UdpSock() = default;
  ~UdpSock();
  UdpSock(const UdpSock&) = delete;
  UdpSock& operator=(const UdpSock&) = delete;

  wire::IpAddress local_addr;  // unspecified of the family = any local address
  std::uint16_t local_port = 0;
  std::optional<wire::IpAddress> peer_addr;  // set by connect()
  std::uint16_t peer_port = 0;
  std::uint32_t rcvbuf = 212992;  // SO_RCVBUF (net.core.rmem_default)
  std::uint32_t sndbuf = 212992;  // SO_SNDBUF (net.core.wmem_default); kept for getsockopt
  int hop_limit = -1;             // IP_TTL / IPV6_UNICAST_HOPS, 0..255; -1 = the stack's default
  int so_error = 0;               // negative errno, reported once

  bool readable() const { return !queue_.empty() || so_error != 0; }
  bool writable() const { return true; }  // datagrams leave at once; nothing stays queued to send
  std::size_t queued_datagrams() const { return queue_.size(); }
  std::uint32_t rmem_alloc() const { return rmem_alloc_; }
  const UdpSockStats& stats() const { return stats_; }
  int take_error() {
    const int e = so_error;
    so_error = 0;
    return e;
  }

 private:
  friend class NetStack;
  bool reuseaddr_ = false;        // SO_REUSEADDR (sk_reuse)
  bool bind_addr_lock_ = false;   // SOCK_BINDADDR_LOCK: bind() named the address
  bool bind_port_lock_ = false;   // SOCK_BINDPORT_LOCK: bind() named the port
  std::deque<Datagram> queue_;
  std::uint32_t rmem_alloc_ = 0;  // truesize of the queued skbs
  UdpSockStats stats_;
};

// What a recvfrom returned: bytes copied, the datagram's whole length (MSG_TRUNC), its source.
struct UdpRecv {
  std::size_t copied = 0;
  std::size_t datagram_len = 0;
  wire::IpAddress from;
  std::uint16_t from_port = 0;
};

}  // namespace nicemu::netstack::inet
