#include "nicemu/netstack/core/skbuff.hpp"

#include "nicemu/page_pool/page_pool.hpp"

namespace nicemu::netstack::core {

namespace {
bool netmem_is_pp(netmem::NetmemRef n) {
  // kernel: netmem_is_pp(): (pp_magic & PP_MAGIC_MASK) == PP_SIGNATURE
  return n.desc().pp != nullptr && (n.desc().pp_magic & ~std::uint64_t{0x3}) == netmem::kPpSignature;
}

void frag_unref(bool pp_recycle, netmem::NetmemRef n, const page_pool::CallerContext& ctx) {
  if (!pp_recycle || !napi_pp_put_page(n, ctx)) netmem::put_netmem(n);
}
}  // namespace

bool napi_pp_put_page(netmem::NetmemRef n, const page_pool::CallerContext& ctx) {
  if (!netmem_is_pp(n)) return false;
  n.desc().pp->put_full_netmem(n, false, ctx);
  return true;
}

void net_zcopy_put(UbufInfo* u) {
  if (u == nullptr) return;
  NICEMU_ASSERT(u->refcnt > 0, "net_zcopy_put: no reference left");
  if (--u->refcnt != 0) return;
  if (u->owner != nullptr && u->owner->zerocopy_complete(*u)) return;  // back on the owner's free list
  delete u;  // NOLINT(cppcoreguidelines-owning-memory): a socket gone meanwhile allocated it
}

void SkBuff::reserve(std::uint32_t n) {
  NICEMU_ASSERT(len_ == 0, "skb_reserve on a non-empty skb");
  NICEMU_ASSERT(data_off_ + n <= kSkbHeadCapacity, "skb_reserve past the head");
  data_off_ += n;
}

std::byte* SkBuff::put(std::uint32_t n) {
  NICEMU_ASSERT(data_len_ == 0, "skb_put on an skb with frags (kernel: SKB_LINEAR_ASSERT)");
  NICEMU_ASSERT(n <= tailroom(), "skb_put past the tail (skb_over_panic)");
  std::byte* tail = data() + headlen();
  len_ += n;
  return tail;
}

std::byte* SkBuff::push(std::uint32_t n) {
  NICEMU_ASSERT(n <= data_off_, "skb_push past the head (skb_under_panic)");
  data_off_ -= n;
  len_ += n;
  return data();
}

std::byte* SkBuff::pull(std::uint32_t n) {
  NICEMU_ASSERT(n <= headlen(), "skb_pull past the linear area");
  data_off_ += n;
  len_ -= n;
  return data();
}

void SkBuff::add_rx_frag(netmem::NetmemRef n, std::uint32_t offset, std::uint32_t size, std::uint32_t true_size) {
  NICEMU_ASSERT(nr_frags_ < kMaxSkbFrags, "skb_add_rx_frag: MAX_SKB_FRAGS reached");
  NICEMU_ASSERT(static_cast<bool>(n), "skb_add_rx_frag: no netmem");
  frags_[static_cast<std::size_t>(nr_frags_++)] = SkbFrag{n, offset, size};
  len_ += size;
  data_len_ += size;
  truesize += true_size;
  if (n.is_net_iov()) unreadable = true;
}

void SkBuff::trim(std::uint32_t new_len) {
  NICEMU_ASSERT(new_len <= len_, "skb trim to a longer length");
  if (new_len < headlen()) {  // into the linear area: every frag goes
    skb_release_frags(*this, allocator_->ctx());
    len_ = new_len;
    return;
  }
  // Keep the frags that still hold data (the last one shortened); release the rest.
  std::uint32_t remaining = new_len - headlen();
  int keep = 0;
  for (; keep < nr_frags_ && remaining > 0; ++keep) {
    SkbFrag& f = frags_[static_cast<std::size_t>(keep)];
    if (f.len > remaining) f.len = remaining;
    remaining -= f.len;
  }
  for (int i = keep; i < nr_frags_; ++i) {
    SkbFrag& f = frags_[static_cast<std::size_t>(i)];
    frag_unref(pp_recycle, f.netmem, allocator_->ctx());
    f = SkbFrag{};
  }
  nr_frags_ = keep;
  data_len_ = new_len - headlen();
  len_ = new_len;
}

void skb_frag_ref(const SkBuff& skb, int i) {
  const netmem::NetmemRef n = skb.frag(i).netmem;
  if (skb.pp_recycle && netmem_is_pp(n)) {
    page_pool::page_pool_ref_netmem(n);  // kernel: skb_pp_frag_ref()
  } else {
    netmem::get_netmem(n);
  }
}

void skb_release_frags(SkBuff& skb, const page_pool::CallerContext& ctx) {
  for (int i = 0; i < skb.nr_frags_; ++i) {
    SkbFrag& f = skb.frags_[static_cast<std::size_t>(i)];
    frag_unref(skb.pp_recycle, f.netmem, ctx);
    f = SkbFrag{};
  }
  skb.len_ -= skb.data_len_;
  skb.data_len_ = 0;
  skb.nr_frags_ = 0;
}

SkbAllocator::SkbAllocator(const page_pool::CallerContext& ctx, std::size_t limit) : ctx_(ctx), limit_(limit) {}

SkbAllocator::~SkbAllocator() {
  // skbs still allocated go away with their chunks; the transmit owners they hold do not (a
  // socket may outlive this allocator), so let go of those references here.
  for (auto& chunk : chunks_) {
    for (std::size_t i = 0; i < kChunk; ++i) skb_orphan(chunk[i]);
  }
}

SkBuff* SkbAllocator::alloc() {
  if (limit_ != 0 && stats_.in_use >= limit_) {
    ++stats_.alloc_failures;
    return nullptr;
  }
  if (free_.empty()) {
    chunks_.emplace_back(new SkBuff[kChunk]);
    free_.reserve(chunks_.size() * kChunk);
    for (std::size_t i = kChunk; i-- > 0;) {
      SkBuff* s = &chunks_.back()[i];
      s->allocator_ = this;
      free_.push_back(s);
    }
  }
  SkBuff* skb = free_.back();
  free_.pop_back();
  ++stats_.allocs;
  if (++stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
  skb->data_off_ = kNetSkbPad;
  return skb;
}

void skb_set_tx_owner(SkBuff& skb, SkbTxOwner& owner) {
  NICEMU_ASSERT(skb.tx_owner == nullptr, "skb_set_tx_owner: the skb has an owner");
  skb.tx_owner = &owner;
  skb.tx_owner_bytes = skb.len();
  owner.bytes += skb.tx_owner_bytes;
  ++owner.refs;
}

void skb_tx_owner_put(SkbTxOwner* owner) {
  if (owner != nullptr && --owner->refs == 0) delete owner;
}

void skb_orphan(SkBuff& skb) {
  SkbTxOwner* o = skb.tx_owner;
  if (o == nullptr) return;
  // kernel: tcp_wfree(): the bytes leave the socket's account; a throttled socket may send more.
  o->bytes -= skb.tx_owner_bytes;
  if (o->throttled) {
    o->throttled = false;
    o->deferred = true;
  }
  skb.tx_owner = nullptr;
  skb.tx_owner_bytes = 0;
  skb_tx_owner_put(o);
}

void SkbAllocator::free(SkBuff* skb) {
  NICEMU_ASSERT(skb->allocator_ == this, "kfree_skb: skb from another allocator");
  skb_orphan(*skb);
  skb_release_frags(*skb, ctx_);
  if (skb->zcopy != nullptr) {
    net_zcopy_put(skb->zcopy);  // kernel: skb_zcopy_clear() in skb_release_data()
    skb->zcopy = nullptr;
  }
  // Reset everything but the head bytes (kernel: the slab object is reinitialised on alloc).
  skb->data_off_ = 0;
  skb->len_ = 0;
  skb->data_len_ = 0;
  skb->truesize = 0;
  skb->unreadable = false;
  skb->pp_recycle = false;
  skb->protocol = 0;
  skb->mac_header = skb->network_header = skb->transport_header = kNoHeader;
  skb->dev = nullptr;
  skb->skb_iif = 0;
  skb->queue_mapping = 0;
  skb->hash = 0;
  skb->l4_hash = false;
  skb->ip_summed = IpSummed::kNone;
  skb->csum = 0;
  skb->gso_size = skb->gso_segs = 0;
  skb->gso_type = 0;
  skb->tstamp = {};
  skb->napi_id = 0;
  skb->trace_id = 0;
  skb->cb.fill(std::byte{0});
  skb->next = skb->prev = nullptr;
  ++stats_.frees;
  --stats_.in_use;
  free_.push_back(skb);
}

}  // namespace nicemu::netstack::core
