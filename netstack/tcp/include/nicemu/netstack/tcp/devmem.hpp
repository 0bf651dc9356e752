// nicemu/netstack/tcp/devmem.hpp — the devmem TCP socket API's data structures: the control
// message a devmem recvmsg produces, the token ranges SO_DEVMEM_DONTNEED takes, the per-socket
// token table, and the zero-copy completion a MSG_ZEROCOPY send produces.
//
// Models: include/uapi/linux/uio.h (struct dmabuf_cmsg, struct dmabuf_token), the per-socket
//   xarray of user frags (sk->sk_user_frags: XA_FLAGS_ALLOC1 with xa_limit_31b, so tokens run
//   from 1 to 2^31 - 1 and the lowest free one is handed out first), and the notification range
//   of MSG_ZEROCOPY (struct sock_extended_err's ee_info..ee_data, coalesced as
//   skb_zerocopy_notify_extend does).
// Not modelled: tcp_xa_pool's batched reservation (the tokens handed out are the same: the
//   lowest free, in frag order); the xarray's locking.
// References: ../shared/reference/linux-kernel-semantics.md §4.1–§4.4; net/ipv4/tcp.c
//   (tcp_recvmsg_dmabuf), net/core/sock.c (sock_devmem_dontneed), net/core/skbuff.c
//   (__msg_zerocopy_callback).
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "nicemu/netmem/netmem.hpp"

namespace nicemu::netstack::tcp {

// kernel: struct dmabuf_cmsg (24 bytes): where one frag of received payload lies in the dma-buf.
struct DmabufCmsg {
  std::uint64_t frag_offset = 0;  // byte offset into the dma-buf
  std::uint32_t frag_size = 0;
  std::uint32_t frag_token = 0;   // return it with SO_DEVMEM_DONTNEED
  std::uint32_t dmabuf_id = 0;    // the binding id
  std::uint32_t flags = 0;        // unused, reserved
};
static_assert(sizeof(DmabufCmsg) == 24);

// kernel: struct dmabuf_token (8 bytes): tokens [token_start, token_start + token_count).
struct DmabufToken {
  std::uint32_t token_start = 0;
  std::uint32_t token_count = 0;
};
static_assert(sizeof(DmabufToken) == 8);

inline constexpr int kETOOSMALL = 525;                  // kernel-internal errno (include/linux/errno.h)
inline constexpr std::uint32_t kMaxDontneedTokens = 128;  // MAX_DONTNEED_TOKENS
inline constexpr std::uint32_t kMaxDontneedFrags = 1024;  // MAX_DONTNEED_FRAGS
inline constexpr std::uint32_t kMaxUserFragToken = 0x7fffffff;  // xa_limit_31b

// Where a devmem recvmsg puts its control messages (the socket layer writes them into
// msg_control). put() returns 0, or -ETOOSMALL when the control buffer has no room for a whole
// message (kernel: put_cmsg_notrunc).
class DevmemCmsgSink {
 public:
  enum class Kind : std::uint8_t { kLinear, kDmabuf };  // SCM_DEVMEM_LINEAR, SCM_DEVMEM_DMABUF
  virtual int put(Kind kind, const DmabufCmsg& cmsg) = 0;

 protected:
  ~DevmemCmsgSink() = default;
};

// kernel: sk->sk_user_frags — the net_iovs the application holds through tokens.
class DevmemTokens {
 public:
  // The token the next commit() gets: the lowest free one, or 0 when all 2^31 - 1 are taken.
  std::uint32_t next() const {
    if (!free_.empty()) return free_.top();
    return slots_.size() < kMaxUserFragToken ? static_cast<std::uint32_t>(slots_.size() + 1) : 0;
  }
  // Stores `n` under next(); `trace_id`: the packet it came in (packet tracing; 0: none).
  void commit(std::uint32_t token, netmem::NetmemRef n, std::uint64_t trace_id = 0);
  // kernel: __xa_erase(): the netmem under `token`, removed; none if there is none.
  // *trace_id (if given) gets the packet's trace id.
  netmem::NetmemRef erase(std::uint32_t token, std::uint64_t* trace_id = nullptr);
  std::size_t size() const { return count_; }
  // Empties the table, handing each netmem to `put` (kernel: tcp_v4_destroy_sock).
  void release_all(const std::function<void(netmem::NetmemRef)>& put);

 private:
  std::vector<netmem::NetmemRef> slots_;  // token t at index t - 1
  std::vector<std::uint64_t> trace_ids_;  // parallel to slots_
  std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, std::greater<>> free_;  // free tokens below size
  std::size_t count_ = 0;
};

// One MSG_ZEROCOPY completion on the error queue (kernel: an skb whose sock_extended_err has
// ee_origin SO_EE_ORIGIN_ZEROCOPY, ee_info = lo, ee_data = hi, ee_code COPIED when copied).
struct ZerocopyNotification {
  std::uint32_t lo = 0;
  std::uint32_t hi = 0;
  bool copied = false;
};

}  // namespace nicemu::netstack::tcp
