// nicemu/netstack/socket/constants.hpp — the uapi numbers of the BSD socket API, with Linux's
// values and spelling behind a `k` (libc defines the plain names as macros).
//
// Models: include/linux/socket.h (AF_*, MSG_*, SOL_*), include/linux/net.h (SOCK_*),
//   include/uapi/asm-generic/socket.h (SO_*), include/uapi/linux/in.h and in6.h (IPPROTO_*,
//   IP_TTL, IPV6_UNICAST_HOPS), include/uapi/linux/tcp.h (TCP_*), include/uapi/asm-generic/poll.h
//   (POLL*), include/uapi/linux/eventpoll.h (EPOLL*), include/net/sock.h (SOCK_MIN_*BUF) and the
//   defaults of net.core.{r,w}mem_max and RLIMIT_NOFILE on x86-64.
// Not modelled: constants of the families, types and options the socket layer does not offer.
// References: the headers above (Linux 6.18); socket(7), tcp(7), ip(7), ipv6(7), poll(2), epoll(7).
#pragma once

#include <cstdint>

namespace nicemu::netstack::socket {

// The kernel's spelling after the `k` (kAF_INET, not kAfInet) so a reader can grep both trees.
// NOLINTBEGIN(readability-identifier-naming)

// ---- families, types, protocols (socket(2)) ------------------------------------------------------
inline constexpr int kAF_UNSPEC = 0;
inline constexpr int kAF_INET = 2;
inline constexpr int kAF_INET6 = 10;
inline constexpr int kAF_MAX = 46;  // NPROTO: families at or above it are refused with EAFNOSUPPORT

inline constexpr int kSOCK_STREAM = 1;
inline constexpr int kSOCK_DGRAM = 2;
inline constexpr int kSOCK_RAW = 3;
inline constexpr int kSOCK_SEQPACKET = 5;
inline constexpr int kSOCK_MAX = 11;            // SOCK_PACKET + 1: types at or above it are EINVAL
inline constexpr int kSOCK_TYPE_MASK = 0xf;
inline constexpr int kSOCK_NONBLOCK = 04000;    // O_NONBLOCK
inline constexpr int kSOCK_CLOEXEC = 02000000;  // O_CLOEXEC

inline constexpr int kIPPROTO_IP = 0;
inline constexpr int kIPPROTO_TCP = 6;
inline constexpr int kIPPROTO_UDP = 17;
inline constexpr int kIPPROTO_IPV6 = 41;
inline constexpr int kIPPROTO_MAX = 263;  // protocols at or above it are EINVAL (inet_create)

// ---- socket options ------------------------------------------------------------------------------
inline constexpr int kSOL_SOCKET = 1;
inline constexpr int kSOL_IP = kIPPROTO_IP;
inline constexpr int kSOL_TCP = kIPPROTO_TCP;
inline constexpr int kSOL_UDP = kIPPROTO_UDP;
inline constexpr int kSOL_IPV6 = kIPPROTO_IPV6;

inline constexpr int kSO_REUSEADDR = 2;
inline constexpr int kSO_TYPE = 3;
inline constexpr int kSO_ERROR = 4;
inline constexpr int kSO_SNDBUF = 7;
inline constexpr int kSO_RCVBUF = 8;
inline constexpr int kSO_ACCEPTCONN = 30;
inline constexpr int kSO_PROTOCOL = 38;
inline constexpr int kSO_DOMAIN = 39;
inline constexpr int kSO_ZEROCOPY = 60;
// Devmem TCP (include/uapi/asm-generic/socket.h): the cmsg types equal the option numbers.
inline constexpr int kSO_DEVMEM_LINEAR = 78;
inline constexpr int kSCM_DEVMEM_LINEAR = kSO_DEVMEM_LINEAR;
inline constexpr int kSO_DEVMEM_DMABUF = 79;
inline constexpr int kSCM_DEVMEM_DMABUF = kSO_DEVMEM_DMABUF;
inline constexpr int kSO_DEVMEM_DONTNEED = 80;

inline constexpr int kTCP_NODELAY = 1;
inline constexpr int kTCP_MAXSEG = 2;
inline constexpr int kTCP_INFO = 11;

inline constexpr int kIP_TTL = 2;
inline constexpr int kIP_RECVERR = 11;
inline constexpr int kIPV6_UNICAST_HOPS = 16;
inline constexpr int kIPV6_RECVERR = 25;

// struct sock_extended_err (include/uapi/linux/errqueue.h) for MSG_ZEROCOPY completions.
inline constexpr std::uint8_t kSO_EE_ORIGIN_ZEROCOPY = 5;
inline constexpr std::uint8_t kSO_EE_CODE_ZEROCOPY_COPIED = 1;

// Buffer limits (net.core.rmem_max / wmem_max defaults; include/net/sock.h SOCK_MIN_RCVBUF =
// 2048 + the sk_buff truesize, SOCK_MIN_SNDBUF twice that, on x86-64).
inline constexpr std::uint32_t kRmemMax = 212992;
inline constexpr std::uint32_t kWmemMax = 212992;
inline constexpr std::uint32_t kSockMinRcvbuf = 2304;
inline constexpr std::uint32_t kSockMinSndbuf = 4608;
// TCP_MAXSEG bounds (include/net/tcp.h TCP_MIN_MSS, MAX_TCP_WINDOW).
inline constexpr int kTcpMinMss = 88;
inline constexpr int kMaxTcpWindow = 32767;

// ---- message flags (send(2), recv(2)) --------------------------------------------------------------
inline constexpr int kMSG_OOB = 0x1;
inline constexpr int kMSG_PEEK = 0x2;
inline constexpr int kMSG_CTRUNC = 0x8;
inline constexpr int kMSG_TRUNC = 0x20;
inline constexpr int kMSG_DONTWAIT = 0x40;
inline constexpr int kMSG_WAITALL = 0x100;
inline constexpr int kMSG_ERRQUEUE = 0x2000;
inline constexpr int kMSG_NOSIGNAL = 0x4000;
inline constexpr int kMSG_SOCK_DEVMEM = 0x2000000;  // receive devmem skbs as cmsg
inline constexpr int kMSG_ZEROCOPY = 0x4000000;

inline constexpr int kSHUT_RD = 0;
inline constexpr int kSHUT_WR = 1;
inline constexpr int kSHUT_RDWR = 2;

// ---- poll(2) events (short, as struct pollfd has them) ---------------------------------------------
inline constexpr short kPOLLIN = 0x001;
inline constexpr short kPOLLPRI = 0x002;
inline constexpr short kPOLLOUT = 0x004;
inline constexpr short kPOLLERR = 0x008;
inline constexpr short kPOLLHUP = 0x010;
inline constexpr short kPOLLNVAL = 0x020;
inline constexpr short kPOLLRDNORM = 0x040;
inline constexpr short kPOLLRDBAND = 0x080;
inline constexpr short kPOLLWRNORM = 0x100;
inline constexpr short kPOLLWRBAND = 0x200;
inline constexpr short kPOLLRDHUP = 0x2000;

// ---- epoll(7) ------------------------------------------------------------------------------------------
inline constexpr std::uint32_t kEPOLLIN = 0x001;
inline constexpr std::uint32_t kEPOLLPRI = 0x002;
inline constexpr std::uint32_t kEPOLLOUT = 0x004;
inline constexpr std::uint32_t kEPOLLERR = 0x008;
inline constexpr std::uint32_t kEPOLLHUP = 0x010;
inline constexpr std::uint32_t kEPOLLRDNORM = 0x040;
inline constexpr std::uint32_t kEPOLLRDBAND = 0x080;
inline constexpr std::uint32_t kEPOLLWRNORM = 0x100;
inline constexpr std::uint32_t kEPOLLWRBAND = 0x200;
inline constexpr std::uint32_t kEPOLLRDHUP = 0x2000;
inline constexpr std::uint32_t kEPOLLEXCLUSIVE = 1u << 28;
inline constexpr std::uint32_t kEPOLLWAKEUP = 1u << 29;
inline constexpr std::uint32_t kEPOLLONESHOT = 1u << 30;
inline constexpr std::uint32_t kEPOLLET = 1u << 31;

inline constexpr int kEPOLL_CTL_ADD = 1;
inline constexpr int kEPOLL_CTL_DEL = 2;
inline constexpr int kEPOLL_CTL_MOD = 3;
inline constexpr int kEPOLL_CLOEXEC = kSOCK_CLOEXEC;

// ---- limits -------------------------------------------------------------------------------------------------
inline constexpr int kDefaultNofile = 1024;  // RLIMIT_NOFILE soft limit (ulimit -n)
inline constexpr int kFirstFd = 3;           // 0, 1 and 2 are stdin, stdout, stderr

// NOLINTEND(readability-identifier-naming)

}  // namespace nicemu::netstack::socket
