// Private to netstack/socket: one open descriptor (kernel: struct file + struct socket, with the
// parts of struct sock that belong to the socket layer rather than to TCP or UDP).
#pragma once

#include <cstdint>
#include <map>

#include "nicemu/netstack/socket/socket_table.hpp"

namespace nicemu::netstack::socket {

// sk_shutdown bits (include/net/sock.h).
inline constexpr std::uint8_t kRcvShutdown = 1;
inline constexpr std::uint8_t kSendShutdown = 2;
inline constexpr std::uint8_t kShutdownMask = 3;

// Epoll bits that are flags of the registration, not events (fs/eventpoll.c EP_PRIVATE_BITS).
inline constexpr std::uint32_t kEpPrivateBits = kEPOLLWAKEUP | kEPOLLONESHOT | kEPOLLET | kEPOLLEXCLUSIVE;

struct SocketTable::File {
  enum class Kind : std::uint8_t { kTcp, kUdp, kEpoll };
  // kernel: socket_state (include/uapi/linux/net.h), as af_inet.c moves it.
  enum class SockState : std::uint8_t { kUnconnected, kConnecting, kConnected, kDisconnecting };
  struct EpItem {
    std::uint32_t events = 0;  // with EPOLLERR | EPOLLHUP always added
    std::uint64_t data = 0;
  };

  Kind kind = Kind::kTcp;
  int family = 0, type = 0, protocol = 0;  // as resolved by socket(): protocol is TCP or UDP
  int file_flags = 0;                      // kSOCK_NONBLOCK | kSOCK_CLOEXEC as given (no effect)
  SockState state = SockState::kUnconnected;
  tcp::TcpSock* tcp = nullptr;    // owned by the NetStack
  inet::UdpSock* udp = nullptr;   // owned by the NetStack
  int sk_err = 0;                 // a negative errno the socket layer set itself (tcp_disconnect)
  std::uint8_t shutdown = 0;      // sk_shutdown bits recorded by shutdown()
  bool started = false;           // TCP left CLOSE (connect or accept): CLOSE now means tcp_done ran
  bool bind_addr_lock = false;    // SOCK_BINDADDR_LOCK: bind() named an address
  bool bind_port_lock = false;    // SOCK_BINDPORT_LOCK: bind() named a port
  bool reuseaddr = false;         // SO_REUSEADDR (sk_reuse)
  bool zerocopy = false;          // SO_ZEROCOPY (SOCK_ZEROCOPY): MSG_ZEROCOPY gets completions
  bool copy_offload = false;      // SocketTable::set_copy_offload (the simulator's, no kernel flag)
  bool recverr = false;           // IP_RECVERR / IPV6_RECVERR (recorded; completions queue anyway)
  int ttl = -1;                   // IP_TTL (inet->uc_ttl); -1 = net.ipv4.ip_default_ttl
  int hops = -1;                  // IPV6_UNICAST_HOPS (np->hop_limit); -1 = the default
  // Epoll descriptors: the interest list by fd, and where the next epoll_wait starts.
  std::map<int, EpItem> ep_items;
  int ep_cursor = 0;
};

// The application's view of TCP_CLOSE: TIME-WAIT belongs to a separate timewait sock in Linux
// (tcp_time_wait calls tcp_done), so the socket the application holds is already CLOSE.
inline bool tcp_closed(tcp::TcpState s) { return s == tcp::TcpState::kClosed || s == tcp::TcpState::kTimeWait; }

}  // namespace nicemu::netstack::socket
