// The sk_buff helpers of skbuff_ops.hpp. Each follows the kernel function it names, statement
// order included where the order decides what is copied before a refusal.
//
// How frags move: SkBuff changes its frag array only through add_rx_frag (append, handing a
// reference over), trim and skb_release_frags (drop references). A frag that changes skb, or
// that stays while the array is rebuilt, therefore takes a new reference for its new place
// (skb_frag_ref) before the old place releases its own. The counts end where the kernel's
// in-place edits leave them; nothing between the two steps can observe the extra reference.
#include "nicemu/netstack/core/skbuff_ops.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "nicemu/netstack/wire/bytes.hpp"
#include "nicemu/netstack/wire/checksum.hpp"

namespace nicemu::netstack::core {

namespace {

template <class T>
void bump(SkbOpsStats* stats, T SkbOpsStats::*field) {
  if (stats != nullptr) ++(stats->*field);
}

// The bytes of frag `f` from `off` on; the skb is readable (asserted: a net_iov frag in an skb
// whose unreadable bit is clear is an skb bug, not a datapath outcome).
std::byte* frag_bytes(const SkbFrag& f, std::uint32_t off) {
  const netmem::ReadableView v = netmem::netmem_address(f.netmem);
  NICEMU_ASSERT(static_cast<bool>(v), "net_iov frag in an skb not marked unreadable");
  NICEMU_ASSERT(std::size_t{f.offset} + f.len <= v.size(), "skb frag runs past its page");
  return v.data() + f.offset + off;
}

// Calls fn(bytes, n) for each piece of the frag area covering [offset, offset + len), where
// `offset` counts from the start of the skb (>= headlen). Returns the bytes left uncovered
// (non-zero only when the range runs past the skb).
template <class Fn>
std::uint32_t for_each_frag_piece(const SkBuff& skb, std::uint32_t offset, std::uint32_t len, Fn&& fn) {
  std::uint32_t start = skb.headlen();
  for (int i = 0; i < skb.nr_frags() && len > 0; ++i) {
    const SkbFrag& f = skb.frag(i);
    const std::uint32_t end = start + f.len;
    if (end > offset) {
      const std::uint32_t copy = std::min(end - offset, len);
      fn(frag_bytes(f, offset - start), copy);
      len -= copy;
      offset += copy;
    }
    start = end;
  }
  return len;
}

// Gives a fresh skb (headroom kNetSkbPad, empty) the layout `headroom` + `headlen` linear bytes.
void set_linear_layout(SkBuff& n, std::uint32_t headroom, std::uint32_t headlen) {
  if (headroom >= n.headroom()) {
    n.reserve(headroom - n.headroom());
    n.put(headlen);
    return;
  }
  const std::uint32_t pushed = n.headroom() - headroom;
  n.push(pushed);
  if (headlen >= pushed) {
    n.put(headlen - pushed);
  } else {
    n.trim(headlen);
  }
}

// kernel: __copy_skb_header() — everything but the data layout, frags and list links.
void copy_skb_header(SkBuff& n, const SkBuff& old) {
  n.truesize = old.truesize;
  n.unreadable = old.unreadable;
  n.pp_recycle = old.pp_recycle;
  n.protocol = old.protocol;
  n.mac_header = old.mac_header;
  n.network_header = old.network_header;
  n.transport_header = old.transport_header;
  n.dev = old.dev;
  n.skb_iif = old.skb_iif;
  n.queue_mapping = old.queue_mapping;
  n.hash = old.hash;
  n.l4_hash = old.l4_hash;
  n.ip_summed = old.ip_summed;
  n.csum = old.csum;
  n.gso_size = old.gso_size;
  n.gso_segs = old.gso_segs;
  n.gso_type = old.gso_type;
  n.tstamp = old.tstamp;
  n.napi_id = old.napi_id;
  n.cb = old.cb;
}

const std::byte* head_of(const SkBuff& skb) { return skb.data() - skb.headroom(); }

// kernel: csum_add() — one's-complement addition of two __wsum.
std::uint32_t csum_add(std::uint32_t a, std::uint32_t b) {
  const std::uint32_t r = a + b;
  return r + (r < b ? 1u : 0u);
}

}  // namespace

netmem::ReadableView skb_frag_address(const SkbFrag& frag) {
  const netmem::ReadableView v = netmem::netmem_address(frag.netmem);
  if (!v) return {};
  return {v.data() + frag.offset, frag.len};
}

int skb_copy_bits(const SkBuff& skb, int offset, void* to, int len, SkbOpsStats* stats) {
  if (offset < 0 || len < 0 || offset > static_cast<int>(skb.len()) - len) {
    bump(stats, &SkbOpsStats::bad_range);
    return -EFAULT;
  }
  auto* out = static_cast<std::byte*>(to);
  // Copy header.
  const int copy = static_cast<int>(skb.headlen()) - offset;
  if (copy > 0) {
    const int n = std::min(copy, len);
    std::memcpy(out, skb.data() + offset, static_cast<std::size_t>(n));
    if ((len -= n) == 0) return 0;
    offset += n;
    out += n;
  }
  if (!skb_frags_readable(skb)) {
    bump(stats, &SkbOpsStats::copy_bits_unreadable);
    return -EFAULT;
  }
  const std::uint32_t left = for_each_frag_piece(skb, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(len),
                                                 [&out](std::byte* p, std::uint32_t n) {
                                                   std::memcpy(out, p, n);
                                                   out += n;
                                                 });
  NICEMU_ASSERT(left == 0, "skb_copy_bits: frags shorter than data_len");
  return 0;
}

int skb_store_bits(SkBuff& skb, int offset, const void* from, int len, SkbOpsStats* stats) {
  if (offset < 0 || len < 0 || offset > static_cast<int>(skb.len()) - len) {
    bump(stats, &SkbOpsStats::bad_range);
    return -EFAULT;
  }
  const auto* in = static_cast<const std::byte*>(from);
  const int copy = static_cast<int>(skb.headlen()) - offset;
  if (copy > 0) {
    const int n = std::min(copy, len);
    std::memcpy(skb.data() + offset, in, static_cast<std::size_t>(n));
    if ((len -= n) == 0) return 0;
    offset += n;
    in += n;
  }
  if (!skb_frags_readable(skb)) {
    bump(stats, &SkbOpsStats::store_bits_unreadable);
    return -EFAULT;
  }
  const std::uint32_t left = for_each_frag_piece(skb, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(len),
                                                 [&in](std::byte* p, std::uint32_t n) {
                                                   std::memcpy(p, in, n);
                                                   in += n;
                                                 });
  NICEMU_ASSERT(left == 0, "skb_store_bits: frags shorter than data_len");
  return 0;
}

SkBuff* skb_clone(const SkBuff& skb, SkbOpsStats* stats) {
  SkBuff* n = skb.allocator().alloc();
  if (n == nullptr) {
    bump(stats, &SkbOpsStats::clone_alloc_failed);
    return nullptr;
  }
  set_linear_layout(*n, skb.headroom(), skb.headlen());
  // Head through tail: every byte a reader can address (headers pushed or pulled, the linear
  // data); the tailroom holds nothing. The TCP transmit path clones on every segment.
  std::memcpy(n->head(), head_of(skb), skb.headroom() + skb.headlen());
  copy_skb_header(*n, skb);
  for (int i = 0; i < skb.nr_frags(); ++i) {
    const SkbFrag& f = skb.frag(i);
    skb_frag_ref(skb, i);
    n->add_rx_frag(f.netmem, f.offset, f.len, 0);
  }
  n->zcopy = skb.zcopy;  // kernel: a clone shares skb_shinfo and with it the ubuf_info
  net_zcopy_get(n->zcopy);
  return n;
}

SkBuff* skb_copy(const SkBuff& skb, netmem::HostMemory* memory, SkbOpsStats* stats) {
  if (!skb_frags_readable(skb)) {
    bump(stats, &SkbOpsStats::copy_unreadable);
    return nullptr;
  }
  const std::uint32_t headroom = skb.headroom();
  const bool fits_linear = headroom + skb.len() <= kSkbHeadCapacity;
  if (!fits_linear && memory == nullptr) {
    bump(stats, &SkbOpsStats::copy_alloc_failed);
    return nullptr;
  }
  SkBuff* n = skb.allocator().alloc();
  if (n == nullptr) {
    bump(stats, &SkbOpsStats::copy_alloc_failed);
    return nullptr;
  }
  copy_skb_header(*n, skb);
  // A private copy: fresh memory, no page pool, nothing unreadable (the source is readable).
  n->pp_recycle = false;
  n->unreadable = false;
  n->truesize = 0;
  if (fits_linear) {
    set_linear_layout(*n, headroom, skb.len());
    std::memcpy(n->head(), head_of(skb), headroom);  // kernel: skb_copy_bits(skb, -headerlen, ...)
    const int rc = skb_copy_bits(skb, 0, n->data(), static_cast<int>(skb.len()));
    NICEMU_ASSERT(rc == 0, "skb_copy: copy of a readable skb failed");
    return n;
  }
  set_linear_layout(*n, headroom, skb.headlen());
  std::memcpy(n->head(), head_of(skb), headroom + skb.headlen());
  std::uint32_t off = skb.headlen();
  while (off < skb.len()) {
    netmem::Page* page = n->nr_frags() < kMaxSkbFrags ? memory->alloc_pages(0) : nullptr;
    if (page == nullptr) {
      kfree_skb(n);
      bump(stats, &SkbOpsStats::copy_alloc_failed);
      return nullptr;
    }
    const std::uint32_t chunk = std::min<std::uint32_t>(skb.len() - off, netmem::kPageSize);
    const int rc = skb_copy_bits(skb, static_cast<int>(off), netmem::page_address(*page).data(), static_cast<int>(chunk));
    NICEMU_ASSERT(rc == 0, "skb_copy: copy of a readable skb failed");
    // The page's only reference (from alloc_pages) belongs to the frag.
    n->add_rx_frag(netmem::NetmemRef::from_page(*page), 0, chunk, static_cast<std::uint32_t>(netmem::kPageSize));
    off += chunk;
  }
  return n;
}

std::byte* pskb_pull_tail(SkBuff& skb, std::uint32_t delta, SkbOpsStats* stats) {
  if (!skb_frags_readable(skb)) {
    bump(stats, &SkbOpsStats::pull_unreadable);
    return nullptr;
  }
  NICEMU_ASSERT(delta <= skb.data_len(), "__pskb_pull_tail: pulling more than the frags hold");
  // The head's free space after the linear bytes (skb_tailroom() is 0 for a non-linear skb;
  // this is skb->end - skb->tail). The kernel would pskb_expand_head(); the head here is fixed.
  const std::uint32_t room = kSkbHeadCapacity - skb.headroom() - skb.headlen();
  if (delta > room) {
    bump(stats, &SkbOpsStats::pull_no_room);
    return nullptr;
  }
  std::byte* tail = skb.data() + skb.headlen();
  const int rc = skb_copy_bits(skb, static_cast<int>(skb.headlen()), tail, static_cast<int>(delta));
  NICEMU_ASSERT(rc == 0, "__pskb_pull_tail: copy from readable frags failed");

  // Eat pulled area: frags fully pulled are released, the first one left is shortened.
  std::array<SkbFrag, kMaxSkbFrags> kept{};
  int nkept = 0;
  std::uint32_t eat = delta;
  for (int i = 0; i < skb.nr_frags(); ++i) {
    const SkbFrag& f = skb.frag(i);
    if (f.len <= eat) {  // released with the rest below
      eat -= f.len;
      continue;
    }
    skb_frag_ref(skb, i);
    kept[static_cast<std::size_t>(nkept++)] = SkbFrag{f.netmem, f.offset + eat, f.len - eat};
    eat = 0;
  }
  skb_release_frags(skb, skb.allocator().ctx());
  skb.put(delta);  // the bytes are already in place
  for (int k = 0; k < nkept; ++k) {
    const SkbFrag& f = kept[static_cast<std::size_t>(k)];
    skb.add_rx_frag(f.netmem, f.offset, f.len, 0);
  }
  return tail;
}

bool skb_try_coalesce(SkBuff& to, SkBuff& from, bool* fragstolen, int* delta_truesize, SkbOpsStats* stats) {
  *fragstolen = false;
  // kernel: "avoid mixing page_pool and non-page_pool allocated pages within the same SKB".
  if (to.pp_recycle != from.pp_recycle) {
    bump(stats, &SkbOpsStats::coalesce_pp_recycle);
    return false;
  }
  if (skb_frags_readable(from) != skb_frags_readable(to)) {
    bump(stats, &SkbOpsStats::coalesce_readability);
    return false;
  }
  const std::uint32_t len = from.len();
  if (len <= to.tailroom() && skb_frags_readable(from)) {
    if (len != 0) {
      const int rc = skb_copy_bits(from, 0, to.put(len), static_cast<int>(len));
      NICEMU_ASSERT(rc == 0, "skb_try_coalesce: copy of a readable skb failed");
    }
    *delta_truesize = 0;
    return true;
  }
  if (to.nr_frags() + from.nr_frags() > kMaxSkbFrags) {
    bump(stats, &SkbOpsStats::coalesce_too_many_frags);
    return false;
  }
  if (from.headlen() != 0) {
    // The kernel steals from's head page as one more frag; nicemu's head is not a page, so the
    // linear bytes are copied into to's tailroom when they fit and are readable, else refused.
    if (from.headlen() > to.tailroom() || !skb_frags_readable(from)) {
      bump(stats, &SkbOpsStats::coalesce_linear);
      return false;
    }
    std::memcpy(to.put(from.headlen()), from.data(), from.headlen());
  }
  const int delta = static_cast<int>(from.truesize);
  for (int i = 0; i < from.nr_frags(); ++i) {
    const SkbFrag& f = from.frag(i);
    skb_frag_ref(from, i);
    to.add_rx_frag(f.netmem, f.offset, f.len, 0);
  }
  skb_release_frags(from, from.allocator().ctx());  // kernel: from_shinfo->nr_frags = 0
  to.truesize += static_cast<std::uint32_t>(delta);
  *delta_truesize = delta;
  return true;
}

void skb_split(SkBuff& skb, SkBuff& skb1, std::uint32_t len) {
  NICEMU_ASSERT(len <= skb.len(), "skb_split past the end of the skb");
  NICEMU_ASSERT(skb1.len() == 0 && skb1.nr_frags() == 0, "skb_split into a non-empty skb");
  const std::uint32_t pos = skb.headlen();
  skb1.pp_recycle = skb.pp_recycle;
  skb1.zcopy = skb.zcopy;  // kernel: skb_zerocopy_clone() in tcp_fragment
  net_zcopy_get(skb1.zcopy);
  if (len < pos) {
    // kernel: skb_split_inside_header(): the rest of the linear area is copied, frags move.
    std::memcpy(skb1.put(pos - len), skb.data() + len, pos - len);
    for (int i = 0; i < skb.nr_frags(); ++i) {
      const SkbFrag& f = skb.frag(i);
      skb_frag_ref(skb, i);
      skb1.add_rx_frag(f.netmem, f.offset, f.len, 0);
    }
    skb1.unreadable = skb.unreadable;
  } else {
    // kernel: skb_split_no_header(): frags after len move; one straddling len is shared.
    std::uint32_t start = pos;
    for (int i = 0; i < skb.nr_frags(); ++i) {
      const SkbFrag& f = skb.frag(i);
      if (start + f.len > len) {
        const std::uint32_t cut = start < len ? len - start : 0;
        skb_frag_ref(skb, i);
        skb1.add_rx_frag(f.netmem, f.offset + cut, f.len - cut, 0);
      }
      start += f.len;
    }
    skb1.unreadable = skb1.unreadable || skb.unreadable;
  }
  // Drops the references of every frag (or part) now held by skb1, keeps the rest, and shortens
  // a straddling frag (kernel: skb_frag_size_set(frag, len - pos)).
  skb.trim(len);
}

std::uint32_t skb_checksum(const SkBuff& skb, int offset, int len, std::uint32_t csum, SkbOpsStats* stats) {
  NICEMU_ASSERT(offset >= 0 && len >= 0 && offset <= static_cast<int>(skb.len()) - len,
                "skb_checksum: range outside the skb (kernel: BUG_ON)");
  wire::ChecksumAccumulator acc;
  const int copy = static_cast<int>(skb.headlen()) - offset;
  if (copy > 0) {
    const int n = std::min(copy, len);
    acc.add({skb.data() + offset, static_cast<std::size_t>(n)});
    if ((len -= n) == 0) return csum_add(csum, acc.sum());
    offset += n;
  }
  if (!skb_frags_readable(skb)) {
    // kernel: if (WARN_ON_ONCE(!skb_frags_readable(skb))) return 0;
    if (stats != nullptr) {
      ++stats->checksum_unreadable;
      stats->checksum_warned = true;
    }
    return 0;
  }
  const std::uint32_t left =
      for_each_frag_piece(skb, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(len),
                          [&acc](std::byte* p, std::uint32_t n) { acc.add({p, n}); });
  NICEMU_ASSERT(left == 0, "skb_checksum: frags shorter than data_len");
  return csum_add(csum, acc.sum());
}

std::uint16_t csum_fold(std::uint32_t csum) {
  std::uint32_t s = (csum & 0xffffu) + (csum >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return static_cast<std::uint16_t>(~s & 0xffffu);
}

int skb_copy_datagram_iter(const SkBuff& skb, int offset, std::span<std::byte> to, SkbOpsStats* stats) {
  // kernel: __skb_datagram_iter(skb, offset, to, len, fault_short = false, simple_copy_to_iter)
  std::uint32_t len = static_cast<std::uint32_t>(to.size());
  if (offset < 0) {
    bump(stats, &SkbOpsStats::datagram_iter_efault);
    return -EFAULT;
  }
  std::byte* out = to.data();
  const int copy = static_cast<int>(skb.headlen()) - offset;
  if (copy > 0) {
    const std::uint32_t n = std::min(static_cast<std::uint32_t>(copy), len);
    std::memcpy(out, skb.data() + offset, n);
    len -= n;
    if (len == 0) return 0;
    offset += static_cast<int>(n);
    out += n;
  }
  if (!skb_frags_readable(skb)) {
    // short_copy: the iterator still has room for bytes the skb cannot give → fault.
    if (len == 0) return 0;
    bump(stats, &SkbOpsStats::datagram_iter_efault);
    return -EFAULT;
  }
  len = for_each_frag_piece(skb, static_cast<std::uint32_t>(offset), len, [&out](std::byte* p, std::uint32_t n) {
    std::memcpy(out, p, n);
    out += n;
  });
  if (len == 0) return 0;
  // "someone gave us a bogus length on the skb"
  bump(stats, &SkbOpsStats::datagram_iter_efault);
  return -EFAULT;
}

bool skb_partial_csum_set(SkBuff& skb, std::uint16_t start, std::uint16_t off) {
  const std::uint32_t csum_end = std::uint32_t{start} + off + 2;  // sizeof(__sum16)
  const std::uint32_t csum_start = skb.headroom() + start;
  if (csum_start >= 0xffffu || csum_end > skb.headlen()) return false;
  skb.ip_summed = IpSummed::kPartial;
  skb.csum = csum_start | (std::uint32_t{off} << 16);
  skb.transport_header = static_cast<std::uint16_t>(csum_start);
  return true;
}

int skb_checksum_help(SkBuff& skb, SkbOpsStats* stats) {
  if (skb.ip_summed == IpSummed::kComplete) {
    skb.ip_summed = IpSummed::kNone;  // out_set_summed
    return 0;
  }
  NICEMU_ASSERT(skb.ip_summed == IpSummed::kPartial, "skb_checksum_help on an skb that is not CHECKSUM_PARTIAL");
  if (skb.gso_size != 0) return -EINVAL;  // skb_warn_bad_offload()
  if (!skb_frags_readable(skb)) {
    bump(stats, &SkbOpsStats::checksum_help_unreadable);
    return -EFAULT;
  }
  int offset = skb_checksum_start_offset(skb);
  if (offset < 0 || offset >= static_cast<int>(skb.headlen())) return -EINVAL;  // WARN_ONCE
  const std::uint32_t csum = skb_checksum(skb, offset, static_cast<int>(skb.len()) - offset, 0, stats);
  offset += skb_csum_offset(skb);
  if (offset + 2 > static_cast<int>(skb.headlen())) return -EINVAL;  // WARN_ONCE
  const std::uint16_t folded = csum_fold(csum);
  wire::store_be16(skb.data() + offset, folded != 0 ? folded : 0xffffu);  // CSUM_MANGLED_0
  skb.ip_summed = IpSummed::kNone;
  return 0;
}

}  // namespace nicemu::netstack::core
