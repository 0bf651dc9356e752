// nicemu/netstack/socket/cmsg.hpp — control messages (ancillary data) in Linux's x86-64 byte
// layout, written and read in a byte buffer the way msg_control is.
//
// Models: struct cmsghdr (cmsg_len as size_t, cmsg_level, cmsg_type: 16 bytes) and the
//   CMSG_ALIGN / CMSG_LEN / CMSG_SPACE / CMSG_FIRSTHDR / CMSG_NXTHDR arithmetic of glibc and
//   include/linux/socket.h on a 64-bit machine; put_cmsg() (a message that does not fit is cut
//   and MSG_CTRUNC set) and put_cmsg_notrunc() (-ETOOSMALL instead) of net/core/scm.c; CMSG_OK
//   of the send side (__sock_cmsg_send's caller checks each header).
// Not modelled: 32-bit compat layouts.
// References: cmsg(3), net/core/scm.c, include/linux/socket.h; the devmem and errqueue payloads
//   are in nicemu/netstack/tcp/devmem.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace nicemu::netstack::socket {

// struct cmsghdr on x86-64.
struct CmsgHdr {
  std::uint64_t cmsg_len = 0;  // header + data, unaligned
  std::int32_t cmsg_level = 0;
  std::int32_t cmsg_type = 0;
};
static_assert(sizeof(CmsgHdr) == 16);

inline constexpr std::size_t cmsg_align(std::size_t n) { return (n + 7) & ~std::size_t{7}; }  // CMSG_ALIGN
inline constexpr std::size_t cmsg_len(std::size_t data) { return sizeof(CmsgHdr) + data; }     // CMSG_LEN
inline constexpr std::size_t cmsg_space(std::size_t data) { return sizeof(CmsgHdr) + cmsg_align(data); }  // CMSG_SPACE

// One message read back from a control buffer.
struct CmsgView {
  int level = 0;
  int type = 0;
  std::uint64_t len = 0;              // cmsg_len as written
  std::span<const std::byte> data;    // cmsg_len - 16 bytes (cut at the buffer's end)
  // The payload as a T (e.g. tcp::DmabufCmsg); false when it is shorter than T.
  template <class T>
  bool as(T* out) const {
    if (data.size() < sizeof(T)) return false;
    std::memcpy(out, data.data(), sizeof(T));
    return true;
  }
};

// Calls fn(CmsgView) for each message of `control` (CMSG_FIRSTHDR / CMSG_NXTHDR: a header that
// does not fit, or a cmsg_len below 16 or past the end, stops the walk).
template <class Fn>
void for_each_cmsg(std::span<const std::byte> control, Fn&& fn) {
  std::size_t at = 0;
  while (at + sizeof(CmsgHdr) <= control.size()) {
    CmsgHdr h;
    std::memcpy(&h, control.data() + at, sizeof h);
    if (h.cmsg_len < sizeof(CmsgHdr) || h.cmsg_len > control.size() - at) return;
    fn(CmsgView{h.cmsg_level, h.cmsg_type, h.cmsg_len,
                control.subspan(at + sizeof(CmsgHdr), static_cast<std::size_t>(h.cmsg_len) - sizeof(CmsgHdr))});
    at += cmsg_align(static_cast<std::size_t>(h.cmsg_len));
  }
}

// Writes messages into a control buffer as the kernel's put_cmsg does: `used()` is what
// msg_controllen becomes on return; `truncated()` is MSG_CTRUNC.
class CmsgWriter {
 public:
  explicit CmsgWriter(std::span<std::byte> control) : buf_(control) {}

  // kernel: put_cmsg(): a message that does not fit whole is cut to the room left (a header
  // that does not fit at all is dropped) and MSG_CTRUNC is set.
  void put(int level, int type, std::span<const std::byte> data) {
    const std::size_t room = buf_.size() - used_;
    std::size_t len = cmsg_len(data.size());
    if (room < len) {
      truncated_ = true;
      if (room < sizeof(CmsgHdr)) return;
      len = room;
    }
    const CmsgHdr h{len, level, type};
    std::memcpy(buf_.data() + used_, &h, sizeof h);
    std::memcpy(buf_.data() + used_ + sizeof h, data.data(), len - sizeof h);
    used_ += std::min(cmsg_space(data.size()), room);
  }
  // kernel: put_cmsg_notrunc(): -ETOOSMALL (525) instead of cutting a message.
  int put_notrunc(int level, int type, std::span<const std::byte> data) {
    if (buf_.size() - used_ < cmsg_len(data.size())) return -525;
    put(level, type, data);
    return 0;
  }
  template <class T>
  int put_notrunc(int level, int type, const T& v) {
    return put_notrunc(level, type, std::as_bytes(std::span(&v, 1)));
  }

  std::size_t used() const { return used_; }
  bool truncated() const { return truncated_; }

 private:
  std::span<std::byte> buf_;
  std::size_t used_ = 0;
  bool truncated_ = false;
};

}  // namespace nicemu::netstack::socket
