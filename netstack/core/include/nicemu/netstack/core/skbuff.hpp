// nicemu/netstack/core/skbuff.hpp — socket buffers.
//
// Models: struct sk_buff as the data path uses it (Linux 6.18): a readable linear area
//   (head, headroom, data, tail) followed by up to MAX_SKB_FRAGS (17) netmem frags
//   (offset, length); `len` counts both, `data_len` the frags only. Frags own references:
//   page-pool references when `pp_recycle` is set and the netmem belongs to a pool (kernel:
//   napi_pp_put_page()), otherwise get_netmem()/put_netmem() references. Any net_iov frag sets
//   `unreadable`; helpers that would read frag bytes refuse as the kernel does (skbuff_ops.hpp).
//   Header offsets (mac, network, transport), protocol, RSS hash, queue mapping, checksum state
//   (ip_summed), GSO fields, a timestamp, and the 48-byte control buffer (cb) that protocols use.
//   MSG_ZEROCOPY's completion tracking (struct ubuf_info_msgzc behind skb_zcopy()): every skb
//   that carries the sent bytes (write-queue skb, its clones and splits, a GSO skb) holds one
//   reference on the call's UbufInfo; the last one gone tells its owner (the socket), which
//   queues the completion notification.
// Not modelled: shared heads and dataref (skb_clone copies the at most kSkbHeadCapacity-byte
//   linear area and shares the frags by reference: same observable behaviour, simpler
//   ownership), frag_list, skb_shared_info beyond frags and GSO, destructors.
// Allocation: SkbAllocator hands out SkBuffs from a free list; nothing is allocated from the
//   C++ heap in steady state.
// References: include/linux/skbuff.h, include/linux/skbuff_ref.h, net/core/skbuff.c;
//   ../shared/reference/linux-kernel-semantics.md §1.3–§1.5.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "nicemu/base/assert.hpp"
#include "nicemu/netmem/netmem.hpp"
#include "nicemu/page_pool/types.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::netstack::core {

class NetDevice;
class SkbAllocator;
struct UbufInfo;

// Who hears that a MSG_ZEROCOPY send has completed (kernel: the callback of ubuf_info_msgzc,
// msg_zerocopy_callback, which queues the notification on the socket's error queue).
class UbufOwner {
 public:
  // The last reference went: queue the notification. True when the owner keeps the object for
  // reuse (a free list: no allocation per sendmsg in steady state); false: net_zcopy_put frees it.
  virtual bool zerocopy_complete(UbufInfo& uarg) = 0;

 protected:
  ~UbufOwner() = default;
};

// kernel: struct ubuf_info_msgzc — one MSG_ZEROCOPY sendmsg call's notification: ids
// [id, id + len) (sk_zckey values), whether the bytes were really sent in place (`zerocopy`;
// false: they were copied, SO_EE_CODE_ZEROCOPY_COPIED), and a reference per skb holding them.
// The owner may be gone (the socket closed): then the last reference just frees it.
struct UbufInfo {
  UbufOwner* owner = nullptr;
  std::uint32_t id = 0;
  std::uint32_t len = 1;
  std::uint64_t bytelen = 0;  // bytes the calls asked to send (the extension limit)
  bool zerocopy = true;
  std::uint32_t refcnt = 1;
  UbufInfo* next_owned = nullptr;  // the owner's list of notifications still in flight
  UbufInfo* prev_owned = nullptr;
};
// kernel: net_zcopy_get() / net_zcopy_put(): the last put calls the owner, then frees.
inline void net_zcopy_get(UbufInfo* u) {
  if (u != nullptr) ++u->refcnt;
}
void net_zcopy_put(UbufInfo* u);

inline constexpr int kMaxSkbFrags = 17;                // MAX_SKB_FRAGS
inline constexpr std::uint32_t kSkbHeadCapacity = 512; // linear bytes per skb (head + tailroom)
inline constexpr std::uint32_t kNetSkbPad = 64;        // NET_SKB_PAD: headroom reserved at alloc
inline constexpr std::uint16_t kNoHeader = 0xffff;     // an unset header offset
// SKB_FRAG_PAGE_ORDER, get_order(32768): the order of the compound pages a socket's page frag
// (sk->sk_frag) is refilled with, falling back to one page when none is free.
inline constexpr std::uint32_t kSkbFragPageOrder = 3;

// kernel: skb_frag_t (bv_page/netmem, bv_offset, bv_len).
struct SkbFrag {
  netmem::NetmemRef netmem;
  std::uint32_t offset = 0;
  std::uint32_t len = 0;
};

// kernel: CHECKSUM_NONE / UNNECESSARY / COMPLETE / PARTIAL.
enum class IpSummed : std::uint8_t { kNone = 0, kUnnecessary = 1, kComplete = 2, kPartial = 3 };

class SkBuff;

// The transmit owner of skbs below TCP (kernel: the socket's sk_wmem_alloc as TCP small queues
// read it, and the TSQ_THROTTLED / TSQ_QUEUED flags). Shared by the socket and every skb it
// handed down; freed by whichever lets go last (the socket may close while skbs sit in a ring).
struct SkbTxOwner {
  std::uint32_t refs = 1;    // the socket's + one per skb in flight
  std::uint64_t bytes = 0;   // bytes of this socket's skbs in qdiscs and device rings
  bool throttled = false;    // TSQ_THROTTLED: the socket stopped sending at its limit
  bool deferred = false;     // TSQ_QUEUED: bytes were freed while throttled: send more
};
// kernel: skb_set_owner_w() for TCP's transmit skbs.
void skb_set_tx_owner(SkBuff& skb, SkbTxOwner& owner);
// The socket lets go of its owner (its own reference).
void skb_tx_owner_put(SkbTxOwner* owner);
// kernel: skb_orphan(): the skb stops counting against its owner (freed, or handed across a
// veth or into a receive path).
void skb_orphan(SkBuff& skb);

class SkBuff {
 public:
  SkBuff(const SkBuff&) = delete;
  SkBuff& operator=(const SkBuff&) = delete;

  // ---- sizes ---------------------------------------------------------------------------------
  std::uint32_t len() const { return len_; }            // linear + frags
  std::uint32_t data_len() const { return data_len_; }  // frags only
  std::uint32_t headlen() const { return len_ - data_len_; }  // kernel: skb_headlen()
  std::uint32_t headroom() const { return data_off_; }
  // kernel: skb_tailroom() is 0 for a non-linear skb: bytes put at the tail would land before
  // the frags. (The free space after the linear bytes exists either way; pskb_pull_tail uses it.)
  std::uint32_t tailroom() const { return data_len_ != 0 ? 0 : kSkbHeadCapacity - data_off_ - headlen(); }
  std::uint32_t truesize = 0;

  // ---- the linear area (always readable) ------------------------------------------------------
  std::byte* data() { return head_.data() + data_off_; }
  const std::byte* data() const { return head_.data() + data_off_; }
  std::span<std::byte> linear() { return {data(), headlen()}; }
  std::span<const std::byte> linear() const { return {data(), headlen()}; }
  std::byte* head() { return head_.data(); }
  const std::byte* head() const { return head_.data(); }
  // kernel: skb_reserve(), skb_put(), skb_push(), skb_pull() (linear only; asserts the room —
  // callers check headroom()/tailroom()/headlen() first, as kernel callers must).
  void reserve(std::uint32_t n);
  std::byte* put(std::uint32_t n);
  std::byte* push(std::uint32_t n);
  std::byte* pull(std::uint32_t n);
  // kernel: skb_trim() for the linear-only case and pskb_trim() over frags (drops references).
  void trim(std::uint32_t new_len);

  // ---- frags ----------------------------------------------------------------------------------------
  int nr_frags() const { return nr_frags_; }
  const SkbFrag& frag(int i) const { return frags_[static_cast<std::size_t>(i)]; }
  SkbFrag& frag(int i) { return frags_[static_cast<std::size_t>(i)]; }
  // kernel: skb_add_rx_frag_netmem(): appends a frag whose reference the caller hands over;
  // sets `unreadable` for a net_iov. Asserts nr_frags < kMaxSkbFrags (callers check).
  void add_rx_frag(netmem::NetmemRef n, std::uint32_t offset, std::uint32_t size, std::uint32_t truesize);
  // kernel: skb_coalesce_rx_frag(): frag i grows by `size` bytes (contiguous data appended).
  void coalesce_rx_frag(int i, std::uint32_t size, std::uint32_t true_size) {
    NICEMU_ASSERT(i >= 0 && i < nr_frags_, "skb_coalesce_rx_frag: no such frag");
    frags_[static_cast<std::size_t>(i)].len += size;
    len_ += size;
    data_len_ += size;
    truesize += true_size;
  }
  // kernel: skb_frags_readable().
  bool frags_readable() const { return !unreadable; }

  bool unreadable = false;  // kernel: skb->unreadable
  bool pp_recycle = false;  // kernel: skb->pp_recycle (skb_mark_for_recycle)

  // ---- metadata -------------------------------------------------------------------------------------
  std::uint16_t protocol = 0;  // EtherType, host order
  std::uint16_t mac_header = kNoHeader;        // offsets from head()
  std::uint16_t network_header = kNoHeader;
  std::uint16_t transport_header = kNoHeader;
  void reset_mac_header() { mac_header = static_cast<std::uint16_t>(data_off_); }
  void reset_network_header() { network_header = static_cast<std::uint16_t>(data_off_); }
  void reset_transport_header() { transport_header = static_cast<std::uint16_t>(data_off_); }
  std::byte* network_header_ptr() { return head_.data() + network_header; }
  std::byte* transport_header_ptr() { return head_.data() + transport_header; }

  NetDevice* dev = nullptr;
  int skb_iif = 0;
  std::uint16_t queue_mapping = 0;
  std::uint32_t hash = 0;
  bool l4_hash = false;
  IpSummed ip_summed = IpSummed::kNone;
  std::uint32_t csum = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t gso_segs = 0;
  std::uint32_t gso_type = 0;
  sim::TimePoint tstamp;
  std::uint32_t napi_id = 0;  // kernel: skb->napi_id (which NAPI delivered it)
  // nicemu's own: the packet's trace id (sim/packet_trace.hpp): on receive the frame's id from
  // the NIC's completion, on transmit one the tracer handed out at the first stage; 0: none.
  // Read by packet tracers only. Not copied by clone or copy: a clone is sent as a packet of
  // its own (TCP transmits clones of its write queue).
  std::uint64_t trace_id = 0;
  // kernel: skb->sk + skb->destructor = tcp_wfree (TCP small queues): the transmit owner told
  // when this skb, on its way to the device, is freed. Not copied by clone or copy.
  struct SkbTxOwner* tx_owner = nullptr;
  std::uint32_t tx_owner_bytes = 0;
  // kernel: skb_zcopy(skb): the MSG_ZEROCOPY notification this skb's bytes belong to; the skb
  // holds one reference (clones and splits take their own). Not copied by copy_skb_header.
  UbufInfo* zcopy = nullptr;

  // kernel: skb->cb, 48 bytes of per-layer scratch (TCP_SKB_CB lives here).
  alignas(8) std::array<std::byte, 48> cb{};

  // Queue links (kernel: sk_buff_head lists).
  SkBuff* next = nullptr;
  SkBuff* prev = nullptr;

  SkbAllocator& allocator() const { return *allocator_; }

 private:
  friend class SkbAllocator;
  friend void skb_release_frags(SkBuff& skb, const page_pool::CallerContext& ctx);
  SkBuff() = default;

  SkbAllocator* allocator_ = nullptr;
  std::uint32_t data_off_ = 0;
  std::uint32_t len_ = 0;
  std::uint32_t data_len_ = 0;
  int nr_frags_ = 0;
  std::array<SkbFrag, kMaxSkbFrags> frags_{};
  std::array<std::byte, kSkbHeadCapacity> head_;
};

struct SkbAllocatorStats {
  std::uint64_t allocs = 0;
  std::uint64_t frees = 0;
  std::uint64_t alloc_failures = 0;  // the configured limit was reached
  std::uint64_t in_use = 0;
  std::uint64_t peak_in_use = 0;
};

// One host's skb slab (kernel: skbuff_cache). Frees read the host's current execution context
// to return page-pool frags the way the kernel's napi_pp_put_page() would from that context.
class SkbAllocator {
 public:
  // `ctx` is the host's current context (NetNs::ctx); `limit` caps live skbs (0 = none).
  explicit SkbAllocator(const page_pool::CallerContext& ctx, std::size_t limit = 0);
  ~SkbAllocator();
  SkbAllocator(const SkbAllocator&) = delete;
  SkbAllocator& operator=(const SkbAllocator&) = delete;

  // kernel: alloc_skb() + skb_reserve(NET_SKB_PAD). nullptr when the limit is reached.
  SkBuff* alloc();
  // kernel: kfree_skb() / consume_skb(): drops frag references, returns the skb to the slab.
  void free(SkBuff* skb);

  const SkbAllocatorStats& stats() const { return stats_; }
  std::uint64_t in_use() const { return stats_.in_use; }
  const page_pool::CallerContext& ctx() const { return ctx_; }

 private:
  static constexpr std::size_t kChunk = 256;
  const page_pool::CallerContext& ctx_;
  std::size_t limit_;
  std::vector<std::unique_ptr<SkBuff[]>> chunks_;
  std::vector<SkBuff*> free_;
  SkbAllocatorStats stats_;
};

// kernel: kfree_skb().
inline void kfree_skb(SkBuff* skb) {
  if (skb != nullptr) skb->allocator().free(skb);
}

// kernel: skb_frag_ref() for a frag being shared by a second skb.
void skb_frag_ref(const SkBuff& skb, int i);
// kernel: __skb_frag_unref(frag, skb->pp_recycle) for every frag, then nr_frags = 0.
void skb_release_frags(SkBuff& skb, const page_pool::CallerContext& ctx);
// kernel: napi_pp_put_page(): drops one page-pool reference of a netmem that belongs to a pool
// (recycling it when it was the last, as `ctx` allows). False, doing nothing, otherwise.
bool napi_pp_put_page(netmem::NetmemRef n, const page_pool::CallerContext& ctx);

}  // namespace nicemu::netstack::core
