// nicemu/netstack/socket/socket_table.hpp — the BSD socket API of one host: a process's file
// descriptor table holding TCP, UDP and epoll descriptors on top of the host's NetStack.
//
// Models: the system calls socket, bind, listen, accept/accept4, connect, send/sendto/sendmsg,
//   recv/recvfrom/recvmsg, shutdown, close, setsockopt/getsockopt, getsockname/getpeername,
//   poll and epoll_create/epoll_create1/epoll_ctl/epoll_wait for AF_INET and AF_INET6 stream
//   (TCP) and datagram (UDP) sockets, with Linux's argument checks in Linux's order and its
//   errno values; the fd table (lowest free descriptor from 3, EMFILE at RLIMIT_NOFILE);
//   struct socket's state (SS_UNCONNECTED / SS_CONNECTING / SS_CONNECTED) with
//   __inet_stream_connect's answers (EINPROGRESS, EALREADY, 0 once, then EISCONN; a failed
//   attempt reports its error once and leaves the socket reusable); sk_shutdown and
//   inet_shutdown's rules (ENOTCONN in CLOSE while still recording the bits; SHUT_RD on a
//   listener and any shutdown of a SYN-SENT socket disconnect it); tcp_disconnect (connect to
//   AF_UNSPEC); readiness exactly as tcp_poll, inet_csk_listen_poll, datagram_poll + udp_poll
//   compute it; a level-triggered epoll with EPOLLONESHOT; SO_RCVBUF/SO_SNDBUF arithmetic of
//   sk_setsockopt; SO_ERROR read-and-clear; tcp_info and UDP counters.
// Not modelled: blocking (every socket acts as O_NONBLOCK: apps run on simulated time), signals
//   (no SIGPIPE: every send behaves as with MSG_NOSIGNAL), dup/fork/fcntl, other families and
//   types (AF_UNIX, AF_PACKET, SOCK_RAW, ping sockets), IPv4-mapped addresses on AF_INET6 sockets
//   (they are IPV6_V6ONLY), urgent data (MSG_OOB: EOPNOTSUPP on send, EINVAL on TCP recv), edge-
//   triggered and exclusive epoll (EPOLLET / EPOLLEXCLUSIVE: EINVAL), nested epoll (EINVAL),
//   setting TCP_MAXSEG (ENOPROTOOPT), privileged ports (bind below 1024 is allowed), error
//   queue entries other than MSG_ZEROCOPY completions (a UDP socket's MSG_ERRQUEUE finds it
//   empty: EAGAIN), SO_LINGER, SO_RCVLOWAT, SO_REUSEPORT, SO_BINDTODEVICE, timeouts.
// Devmem TCP and MSG_ZEROCOPY (issue 5): recvmsg(MSG_SOCK_DEVMEM) writes SCM_DEVMEM_LINEAR /
//   SCM_DEVMEM_DMABUF control messages (struct dmabuf_cmsg, put_cmsg_notrunc: -ETOOSMALL) into
//   msg_control in Linux's x86-64 layout (cmsg.hpp); SO_DEVMEM_DONTNEED takes struct
//   dmabuf_token[] (setsockopt with a buffer); sendmsg reads SOL_SOCKET / SCM_DEVMEM_DMABUF
//   (tcp_sendmsg_locked's checks and errnos); MSG_ZEROCOPY with SO_ZEROCOPY queues completions
//   read with recvmsg(MSG_ERRQUEUE) as IP_RECVERR / IPV6_RECVERR + sock_extended_err (ordinary
//   memory is copied: SO_EE_CODE_ZEROCOPY_COPIED), and POLLERR while one waits. Not modelled:
//   MSG_PEEK and MSG_TRUNC on devmem data (both give EFAULT here; Linux would peek with tokens
//   or drop the bytes uncopied), MSG_ZEROCOPY on UDP (copied, no notification).
// References: net/socket.c (__sys_socket, __sys_accept4_file, __sys_listen), net/ipv4/af_inet.c
//   (inet_create, __inet_bind, inet_listen, __inet_stream_connect, inet_dgram_connect,
//   inet_shutdown, inet_getname), net/ipv6/af_inet6.c, net/core/sock.c (sk_setsockopt,
//   sk_getsockopt), net/ipv4/tcp.c (tcp_poll, tcp_recvmsg, tcp_sendmsg, tcp_disconnect,
//   do_tcp_setsockopt, tcp_get_info), net/ipv4/udp.c (udp_poll, udp_sendmsg, udp_recvmsg),
//   net/core/datagram.c (datagram_poll), net/ipv4/ip_sockglue.c, net/ipv6/ipv6_sockglue.c,
//   fs/select.c (do_poll), fs/eventpoll.c.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/inet/udp.hpp"
#include "nicemu/netstack/socket/constants.hpp"
#include "nicemu/netstack/tcp/tcp_sock.hpp"
#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::netstack::socket {

// struct sockaddr_in / sockaddr_in6 in one value: an address without a family (IpVersion::kNone)
// is AF_UNSPEC.
struct SockAddr {
  wire::IpAddress addr;
  std::uint16_t port = 0;

  int family() const {
    return addr.is_v4() ? kAF_INET : addr.is_v6() ? kAF_INET6 : kAF_UNSPEC;
  }
  friend bool operator==(const SockAddr&, const SockAddr&) = default;
};

// struct msghdr for sendmsg: the destination (nullptr: the connected peer), the data, and
// control messages (cmsg.hpp's layout; SOL_SOCKET / SCM_DEVMEM_DMABUF with a u32 binding id
// makes a MSG_ZEROCOPY send a devmem send whose iov bases are offsets into the dma-buf; see
// devmem_iov()).
struct SendMsgHdr {
  const SockAddr* name = nullptr;
  std::span<const std::span<const std::byte>> iov;
  std::span<const std::byte> control;
};

// A devmem TX iov entry: struct iovec whose iov_base is a byte offset into the dma-buf (the
// kernel reads it as a number). nicemu carries the offset in a span of that "address" and length.
inline std::span<const std::byte> devmem_iov(std::uint64_t offset, std::size_t len) {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the offset travels where a pointer would
  return {reinterpret_cast<const std::byte*>(static_cast<std::uintptr_t>(offset)), len};
}

// struct msghdr for recvmsg: where the source goes (may be nullptr), the buffers, the control
// buffer (msg_control), and on return msg_controllen (`controllen`: bytes of control messages
// written) and msg_flags (kMSG_TRUNC when a datagram did not fit, kMSG_CTRUNC when a control
// message was cut, kMSG_ERRQUEUE for an error-queue read).
struct RecvMsgHdr {
  SockAddr* name = nullptr;
  std::span<const std::span<std::byte>> iov;
  int flags = 0;
  std::span<std::byte> control;
  std::size_t controllen = 0;
};

// struct sock_extended_err (include/uapi/linux/errqueue.h, 16 bytes): the payload of the
// IP_RECVERR / IPV6_RECVERR message an error-queue read returns, followed by the offender's
// address (struct sockaddr_in / sockaddr_in6, zeros for a zero-copy completion).
struct SockExtendedErr {
  std::uint32_t ee_errno = 0;
  std::uint8_t ee_origin = 0;
  std::uint8_t ee_type = 0;
  std::uint8_t ee_code = 0;
  std::uint8_t ee_pad = 0;
  std::uint32_t ee_info = 0;
  std::uint32_t ee_data = 0;
};
static_assert(sizeof(SockExtendedErr) == 16);

// struct pollfd.
struct PollFd {
  int fd = -1;
  short events = 0;
  short revents = 0;
};

// struct epoll_event (the data union as its u64 member).
struct EpollEvent {
  std::uint32_t events = 0;
  std::uint64_t data = 0;
};

// getsockopt(TCP_INFO): the fields of struct tcp_info the model has, with their kernel names,
// and the socket's counters.
struct TcpInfo {
  tcp::TcpState state = tcp::TcpState::kClosed;  // tcpi_state
  std::uint32_t snd_mss = 0;                     // tcpi_snd_mss (mss_cache)
  std::uint8_t snd_wscale = 0, rcv_wscale = 0;   // tcpi_snd_wscale, tcpi_rcv_wscale
  bool sack = false, timestamps = false;         // tcpi_options TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS
  std::int64_t rto_us = 0, rtt_us = 0, rttvar_us = 0;  // tcpi_rto, tcpi_rtt, tcpi_rttvar
  std::uint32_t backoff = 0;                     // tcpi_backoff
  std::uint32_t snd_cwnd = 0, snd_ssthresh = 0;  // tcpi_snd_cwnd, tcpi_snd_ssthresh (segments)
  std::uint32_t unacked = 0, sacked = 0, lost = 0, retrans = 0;  // tcpi_unacked ... (segments)
  std::uint32_t snd_wnd = 0, rcv_wnd = 0;        // tcpi_snd_wnd, tcpi_rcv_wnd (bytes)
  std::uint32_t notsent_bytes = 0;               // tcpi_notsent_bytes
  std::uint32_t rcv_queued = 0;                  // bytes readable (the ioctl SIOCINQ)
  tcp::TcpSockStats stats;                       // tcpi_total_retrans = stats.retransmits, ...
};

// A UDP socket's counters and receive queue.
struct UdpInfo {
  inet::UdpSockStats stats;
  std::size_t queued_datagrams = 0;
  std::uint32_t rmem_alloc = 0;  // bytes charged against SO_RCVBUF (sk_rmem_alloc)
};

struct SocketTableConfig {
  int nofile = kDefaultNofile;  // RLIMIT_NOFILE: descriptors must be below it
  // Descriptors open as files of another kind in the same process (dma-bufs): skipped when a
  // socket gets the lowest free number, so the process has one descriptor space. None if empty.
  std::function<bool(int fd)> other_files;
};

// One process's descriptors on one host. Calls return >= 0 or a negative errno (the kernel's
// convention); every socket is non-blocking. The NetStack owns the connections: closing a TCP
// descriptor hands the connection back to it (FIN, TIME-WAIT and the rest go on without the
// table), and destroying the table without close_all() abandons its sockets to the stack
// (NetStack::clear frees them).
class SocketTable {
 public:
  explicit SocketTable(inet::NetStack& stack, SocketTableConfig config = {});
  ~SocketTable();
  SocketTable(const SocketTable&) = delete;
  SocketTable& operator=(const SocketTable&) = delete;

  // ---- descriptors -------------------------------------------------------------------------------
  // socket(2): `type` may carry kSOCK_NONBLOCK | kSOCK_CLOEXEC. EINVAL (other flags, type out of
  // range, protocol out of range), EAFNOSUPPORT, ESOCKTNOSUPPORT (a type inet has no protocol
  // for here), EPROTONOSUPPORT, EMFILE.
  int socket(int family, int type, int protocol);
  // close(2): EBADF when fd is not open.
  int close(int fd, sim::TimePoint now);
  // Closes every descriptor, lowest first (a process exiting).
  void close_all(sim::TimePoint now);

  // ---- connections -----------------------------------------------------------------------------------
  int bind(int fd, const SockAddr& addr);
  int listen(int fd, int backlog);
  // `peer` (may be nullptr) receives the peer's address. accept4 takes kSOCK_NONBLOCK |
  // kSOCK_CLOEXEC.
  int accept(int fd, SockAddr* peer) { return accept4(fd, peer, 0); }
  int accept4(int fd, SockAddr* peer, int flags);
  int connect(int fd, const SockAddr& addr, sim::TimePoint now);
  int shutdown(int fd, int how, sim::TimePoint now);
  int getsockname(int fd, SockAddr* addr) const;
  int getpeername(int fd, SockAddr* addr) const;

  // ---- data --------------------------------------------------------------------------------------------
  std::int64_t send(int fd, std::span<const std::byte> buf, int flags, sim::TimePoint now);
  std::int64_t sendto(int fd, std::span<const std::byte> buf, int flags, const SockAddr* to, sim::TimePoint now);
  std::int64_t sendmsg(int fd, const SendMsgHdr& msg, int flags, sim::TimePoint now);
  std::int64_t recv(int fd, std::span<std::byte> buf, int flags, sim::TimePoint now);
  std::int64_t recvfrom(int fd, std::span<std::byte> buf, int flags, SockAddr* from, sim::TimePoint now);
  std::int64_t recvmsg(int fd, RecvMsgHdr& msg, int flags, sim::TimePoint now);

  // Not a system call: the app promises that the buffers it passes to send() on `fd` change only
  // through byte worker jobs handed over later (base/byte_worker.hpp), so TCP may hand its copy
  // to the worker (TcpSock::send's copy_offload). The simulator's speed; results are the same.
  // 0, or -EBADF / -ENOTSOCK.
  int set_copy_offload(int fd, bool on);

  // ---- options -----------------------------------------------------------------------------------------
  // int-valued options (optlen is sizeof(int)). ENOPROTOOPT for options not modelled, EINVAL for
  // bad values, ENOTSOCK for an epoll descriptor.
  int setsockopt(int fd, int level, int optname, int value, sim::TimePoint now);
  // setsockopt with an optval buffer of optval.size() bytes (optlen): SO_DEVMEM_DONTNEED takes
  // struct dmabuf_token[] (EINVAL below 4 bytes as every option, EBADF on a non-TCP socket,
  // EINVAL unless a multiple of 8 bytes and at most 128 tokens; returns the tokens freed);
  // other options read an int from the first 4 bytes.
  int setsockopt(int fd, int level, int optname, std::span<const std::byte> optval, sim::TimePoint now);
  int getsockopt(int fd, int level, int optname, int* value);
  // getsockopt(TCP_INFO); ENOPROTOOPT on a UDP socket (as the kernel answers SOL_TCP there).
  int tcp_info(int fd, TcpInfo* info) const;
  // A UDP socket's counters; ENOPROTOOPT on a TCP socket.
  int udp_info(int fd, UdpInfo* info) const;

  // ---- readiness ---------------------------------------------------------------------------------------
  // poll(2) with a zero timeout: fills revents, returns how many entries have any.
  int poll(std::span<PollFd> fds);
  int epoll_create(int size);
  int epoll_create1(int flags);
  int epoll_ctl(int epfd, int op, int fd, EpollEvent event);
  // Level-triggered: every ready descriptor each call, ascending by fd; when more are ready than
  // fit, the next call starts after the last one returned (so none starves). Never waits.
  int epoll_wait(int epfd, std::span<EpollEvent> events);

  // ---- introspection -------------------------------------------------------------------------------
  std::size_t open_fds() const;
  bool is_open(int fd) const { return file(fd) != nullptr; }
  const SocketTableConfig& config() const { return cfg_; }
  inet::NetStack& stack() { return stack_; }

 private:
  struct File;

  File* file(int fd) const;
  // The socket behind fd, or nullptr with *err = -EBADF / -ENOTSOCK.
  File* sock(int fd, int* err) const;
  int alloc_fd() const;  // lowest free descriptor, or -EMFILE
  int install(std::unique_ptr<File> f);

  // socket_table.cpp
  int take_error(File& f);  // the pending error (negative), cleared
  int tcp_connect(File& f, const SockAddr& addr, sim::TimePoint now);
  void tcp_disconnect(File& f, sim::TimePoint now);
  void release(File& f, sim::TimePoint now);
  // data.cpp
  std::int64_t do_sendmsg(File& f, const SendMsgHdr& msg, int flags, sim::TimePoint now);
  std::int64_t do_recvmsg(File& f, RecvMsgHdr& msg, int flags, sim::TimePoint now);
  int tcp_recv_empty(File& f);
  std::int64_t tcp_recvmsg(File& f, RecvMsgHdr& msg, int flags, sim::TimePoint now);
  std::int64_t tcp_recv_error(File& f, RecvMsgHdr& msg);
  std::int64_t tcp_sendmsg(File& f, const SendMsgHdr& msg, int flags, sim::TimePoint now);
  // sockopt.cpp
  int sol_socket_set(File& f, int optname, int value);
  int sol_socket_get(File& f, int optname, int* value);
  void apply_hop_limit(File& f);
  // poll.cpp
  std::uint32_t poll_mask(File& f);
  std::uint32_t tcp_poll(File& f);
  std::uint32_t udp_poll(const File& f) const;
  std::uint32_t epoll_item_mask(std::uint32_t events, int fd);
  void epoll_forget(int fd);

  inet::NetStack& stack_;
  SocketTableConfig cfg_;
  std::vector<std::unique_ptr<File>> files_;  // by descriptor
};

}  // namespace nicemu::netstack::socket
