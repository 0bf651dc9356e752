// nicemu/netstack/core/skbuff_ops.hpp — the sk_buff helpers that read, move or copy frag bytes,
// each refusing unreadable (net_iov) payload exactly where the kernel refuses it.
//
// Models (Linux 6.18, net/core/skbuff.c unless named): skb_copy_bits, skb_store_bits,
//   skb_clone, skb_copy, __pskb_pull_tail (here pskb_pull_tail: a leading "__" is reserved in
//   C++) and pskb_may_pull (include/linux/skbuff.h), skb_try_coalesce, skb_split,
//   skb_checksum (__skb_checksum), skb_copy_datagram_iter (net/core/datagram.c),
//   skb_checksum_help (net/core/dev.c), skb_partial_csum_set, skb_frag_address,
//   skb_frags_readable. Where `!skb_frags_readable(skb)` (linux-kernel-semantics.md §1.5):
//     skb_copy_bits / skb_store_bits      the linear part is copied, then -EFAULT
//     skb_copy                            nullptr
//     pskb_pull_tail                      nullptr (payload cannot be pulled into the head)
//     skb_checksum                        WARN_ON_ONCE and 0 once the range reaches the frags
//     skb_try_coalesce                    refused when readability differs; unreadable bytes
//                                         are never copied into tailroom
//     skb_copy_datagram_iter              -EFAULT once the range reaches the frags
//     skb_checksum_help                   -EFAULT
//   The readability test is the skb's flag, as in the kernel: a readable host-page frag of an
//   unreadable skb is refused too.
// Not modelled: shared heads (skb_clone copies the linear area: see skbuff.hpp), head stealing
//   (nicemu's head is not a page, so skb_try_coalesce never sets *fragstolen and copies a
//   readable linear part instead), frag_list, zerocopy ubufs, pskb_expand_head (a pull that
//   does not fit in the kSkbHeadCapacity-byte head fails instead of growing it).
// Checksums: a __wsum here is a 32-bit one's-complement partial sum of the bytes read as
//   network-order 16-bit words (wire::ChecksumAccumulator); csum_fold() gives the field value in
//   host order, to be stored big-endian. Any representative of the same sum folds the same.
// Counters: every refusal is a return value plus a reason counted in the caller's SkbOpsStats
//   (optional last argument; the kernel has nothing to count but its WARN_ON_ONCE).
// References: include/linux/skbuff.h, include/linux/skbuff_ref.h, net/core/skbuff.c,
//   net/core/datagram.c, net/core/dev.c; ../shared/reference/linux-kernel-semantics.md §1.4–§1.5.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netmem/netmem.hpp"
#include "nicemu/netstack/core/skbuff.hpp"

namespace nicemu::netstack::core {

// Why a helper refused, per reason. Never reset by the helpers; readers change nothing.
struct SkbOpsStats {
  std::uint64_t copy_bits_unreadable = 0;     // skb_copy_bits reached unreadable frags: -EFAULT
  std::uint64_t store_bits_unreadable = 0;    // skb_store_bits reached unreadable frags: -EFAULT
  std::uint64_t bad_range = 0;                // offset/len outside the skb: -EFAULT
  std::uint64_t clone_alloc_failed = 0;       // skb_clone: the allocator had no skb
  std::uint64_t copy_unreadable = 0;          // skb_copy of an unreadable skb: nullptr
  std::uint64_t copy_alloc_failed = 0;        // skb_copy: no skb or no host page for the copy
  std::uint64_t pull_unreadable = 0;          // pskb_pull_tail on an unreadable skb
  std::uint64_t pull_no_room = 0;             // pskb_pull_tail: the head has no room left
  std::uint64_t coalesce_pp_recycle = 0;      // skb_try_coalesce: pp_recycle differs
  std::uint64_t coalesce_readability = 0;     // skb_try_coalesce: readability differs
  std::uint64_t coalesce_too_many_frags = 0;  // skb_try_coalesce: frags would exceed 17
  std::uint64_t coalesce_linear = 0;          // skb_try_coalesce: from's linear bytes cannot go
  std::uint64_t checksum_unreadable = 0;      // skb_checksum over unreadable frags (WARN_ON_ONCE)
  bool checksum_warned = false;               //   the WARN_ON_ONCE fired (set once, never cleared)
  std::uint64_t datagram_iter_efault = 0;     // skb_copy_datagram_iter: -EFAULT
  std::uint64_t checksum_help_unreadable = 0; // skb_checksum_help: -EFAULT
};

// kernel: skb_frags_readable().
inline bool skb_frags_readable(const SkBuff& skb) { return !skb.unreadable; }

// kernel: skb_frag_address(): the frag's bytes, or an empty view for a net_iov frag
// (netmem_address() is NULL for a net_iov).
netmem::ReadableView skb_frag_address(const SkbFrag& frag);

// kernel: skb_copy_bits(): copies `len` bytes at `offset` of the skb (linear, then frags) to
// `to`. 0, or -EFAULT when the range is outside the skb, or when it reaches the frags of an
// unreadable skb (the linear bytes have been copied by then).
int skb_copy_bits(const SkBuff& skb, int offset, void* to, int len, SkbOpsStats* stats = nullptr);

// kernel: skb_store_bits(): the reverse copy, into the skb. Same return rules.
int skb_store_bits(SkBuff& skb, int offset, const void* from, int len, SkbOpsStats* stats = nullptr);

// kernel: skb_clone(): a new skb from the same allocator with the same linear bytes (the whole
// head, so header offsets stay valid), metadata and cb; the frags are shared, one reference
// taken per frag (skb_frag_ref()). nullptr when the allocator has no skb.
SkBuff* skb_clone(const SkBuff& skb, SkbOpsStats* stats = nullptr);

// kernel: skb_copy(): a private copy with the same headroom, header offsets and metadata.
// nullptr for an unreadable skb. When headroom + len fits in the head the copy is fully linear
// (as the kernel's); otherwise (the head is 512 bytes here) the linear part is copied as is and
// the frag bytes are packed into order-0 pages from `memory` (page references, no page pool,
// pp_recycle off); without `memory`, or when a page or the skb cannot be allocated: nullptr.
SkBuff* skb_copy(const SkBuff& skb, netmem::HostMemory* memory = nullptr, SkbOpsStats* stats = nullptr);

// kernel: __pskb_pull_tail(): moves `delta` bytes from the start of the frags to the end of the
// linear area; frags emptied by it are released. Returns the new tail, or nullptr when the skb
// is unreadable or the head cannot hold the bytes. Asserts delta <= data_len (kernel: BUG).
std::byte* pskb_pull_tail(SkBuff& skb, std::uint32_t delta, SkbOpsStats* stats = nullptr);

// kernel: pskb_may_pull(): true when the first `len` bytes are (or could be made) linear.
// Bytes already linear succeed even for an unreadable skb; len > skb.len() fails.
inline bool pskb_may_pull(SkBuff& skb, std::uint32_t len, SkbOpsStats* stats = nullptr) {
  if (NICEMU_LIKELY(len <= skb.headlen())) return true;
  if (NICEMU_UNLIKELY(len > skb.len())) return false;  // SKB_DROP_REASON_PKT_TOO_SMALL
  return pskb_pull_tail(skb, len - skb.headlen(), stats) != nullptr;
}

// kernel: skb_try_coalesce(): appends `from`'s bytes to `to`. Refuses (false, nothing changed)
// when pp_recycle or readability differ. A linear `to` with tailroom for all of a readable
// `from` gets a copy (*delta_truesize 0; `from` keeps its frags). Otherwise `from`'s frags move
// to `to` with their references (`from` is left without frags), refused when the frags would
// exceed MAX_SKB_FRAGS; `from`'s linear bytes, if any, are copied into `to`'s tailroom first,
// refused when `to` is non-linear, they do not fit, or `from` is unreadable.
// *fragstolen is always false (no head stealing, see above); the caller frees `from`.
bool skb_try_coalesce(SkBuff& to, SkBuff& from, bool* fragstolen, int* delta_truesize, SkbOpsStats* stats = nullptr);

// kernel: skb_split(): bytes after `len` move to the empty `skb1`. A split inside the linear
// area copies the rest of it to skb1's linear area and moves every frag; otherwise frags move
// and a frag straddling `len` is shared (one more reference). skb1 inherits pp_recycle (the
// moved references are released the way they were taken) and the unreadable bit
// (kernel: copied inside the header, OR-ed otherwise); skb keeps its own unreadable bit.
void skb_split(SkBuff& skb, SkBuff& skb1, std::uint32_t len);

// kernel: skb_checksum(): the __wsum of `len` bytes at `offset` added to `csum`. When the range
// reaches the frags of an unreadable skb the result is 0 (kernel: WARN_ON_ONCE, return 0),
// counted in stats. Asserts the range lies inside the skb (kernel: BUG_ON).
std::uint32_t skb_checksum(const SkBuff& skb, int offset, int len, std::uint32_t csum, SkbOpsStats* stats = nullptr);

// kernel: csum_fold(): the 16-bit checksum field value (host order) of a __wsum.
std::uint16_t csum_fold(std::uint32_t csum);

// kernel: skb_copy_datagram_iter() (the recvmsg copy, fault_short false): copies to.size()
// bytes at `offset` into `to`. 0, or -EFAULT when the range is outside the skb or reaches the
// frags of an unreadable skb (the linear bytes have been written to `to` by then; the kernel
// also reverts the iov_iter, which a span does not have).
int skb_copy_datagram_iter(const SkBuff& skb, int offset, std::span<std::byte> to, SkbOpsStats* stats = nullptr);

// CHECKSUM_PARTIAL bookkeeping. kernel: csum_start/csum_offset share the 32-bit csum field in a
// union; here csum_start is the low 16 bits (offset from head()), csum_offset the high 16.
inline std::uint16_t skb_csum_start(const SkBuff& skb) { return static_cast<std::uint16_t>(skb.csum & 0xffffu); }
inline std::uint16_t skb_csum_offset(const SkBuff& skb) { return static_cast<std::uint16_t>(skb.csum >> 16); }
// kernel: skb_checksum_start_offset(): csum_start relative to data().
inline int skb_checksum_start_offset(const SkBuff& skb) {
  return static_cast<int>(skb_csum_start(skb)) - static_cast<int>(skb.headroom());
}
// kernel: skb_partial_csum_set(): the checksum covers from data()+start to the end and goes at
// start+off. false (nothing set) when start+off+2 is past the linear area.
bool skb_partial_csum_set(SkBuff& skb, std::uint16_t start, std::uint16_t off);

// kernel: skb_checksum_help(): software checksum for a CHECKSUM_PARTIAL skb (asserted; kernel
// callers check ip_summed first), or a CHECKSUM_COMPLETE one, which only becomes NONE.
// 0 and ip_summed NONE on success; -EINVAL for a GSO skb or a start/field outside the linear
// area; -EFAULT for an unreadable skb (no software checksum over device memory).
int skb_checksum_help(SkBuff& skb, SkbOpsStats* stats = nullptr);

}  // namespace nicemu::netstack::core
