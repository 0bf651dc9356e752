// nicemu/netmem/netmem.hpp — netmem: a handle to a host page or to a net_iov.
//
// Models: include/net/netmem.h. NetmemRef is a tagged, trivially copyable handle: bit 0 set
//   means net_iov (kernel: NET_IOV 0x01). Page and NetIov share the NetmemDesc fields the page
//   pool uses (pp_magic, pp, dma_addr, pp_ref_count), as the kernel's struct netmem_desc mirrors
//   those fields at the same offsets in struct page and struct net_iov. A net_iov has no
//   readable view (netmem_address() is NULL); its index comes from its NetIovArea.
// Not modelled: atomics (nicemu is one thread: pp_ref_count is a plain integer), the
//   PP_DMA_INDEX bits of pp_magic (a Page keeps its pool DMA index in its own field), folios,
//   compound tails (a higher-order Page is one descriptor).
// References: include/net/netmem.h, include/net/page_pool/helpers.h (Linux 6.18);
//   ../shared/reference/linux-kernel-semantics.md §1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/byte_worker.hpp"

namespace nicemu::page_pool {
class PagePool;  // owns the pp pointer's target; netmem only carries the pointer (kernel: same)
}

namespace nicemu::netmem {

inline constexpr std::size_t kPageShift = 12;
inline constexpr std::size_t kPageSize = std::size_t{1} << kPageShift;

// An I/O virtual address as the device sees it (kernel: dma_addr_t).
using DmaAddr = std::uint64_t;

// kernel: PP_SIGNATURE (0x40 + POISON_POINTER_DELTA, which is 0 without CONFIG_ILLEGAL_POINTER_VALUE).
inline constexpr std::uint64_t kPpSignature = 0x40;

// The fields struct page and struct net_iov share (kernel: struct netmem_desc).
struct NetmemDesc {
  std::uint64_t flags = 0;
  std::uint64_t pp_magic = 0;  // kPpSignature while a page pool owns the buffer
  page_pool::PagePool* pp = nullptr;
  DmaAddr dma_addr = 0;
  std::int64_t pp_ref_count = 0;
};

class HostMemory;
class Page;

// The bytes of readable memory. Only host pages give one; holding a ReadableView is the proof
// that the bytes may be read by CPU code (headers, copied payload).
class ReadableView {
 public:
  ReadableView() = default;
  ReadableView(std::byte* data, std::size_t size) : data_(data), size_(size) {}
  explicit operator bool() const { return data_ != nullptr; }
  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::span<std::byte> bytes() const { return {data_, size_}; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// A host page of kPageSize << order bytes (kernel: struct page, head of a compound page).
// Allocated and freed by HostMemory; lives while its refcount (kernel: _refcount) is above 0.
class Page : public NetmemDesc {
 public:
  Page(const Page&) = delete;
  Page& operator=(const Page&) = delete;

  std::uint32_t order() const { return order_; }
  std::size_t size_bytes() const { return kPageSize << order_; }
  int nid() const { return nid_; }
  std::int32_t ref_count() const { return ref_count_; }
  bool pfmemalloc() const { return pfmemalloc_; }
  HostMemory& memory() const { return *memory_; }
  // A stable number for this page frame (for traces and tests; never an address).
  std::uint64_t pfn() const { return pfn_; }
  // The page's address in the DMA space its memory is direct-mapped into (kernel: dma-direct,
  // phys_to_dma()), 0 when its HostMemory has none (HostMemory::attach_dma_direct).
  DmaAddr dma_direct() const { return dma_direct_; }

  // The owning pool's DMA-tracking slot (kernel: the PP_DMA_INDEX bits of pp_magic); 0 = none.
  std::uint32_t pp_dma_index = 0;
  // The last base::ByteWorker job that reads or writes the page (a transmitted frag, a send()
  // copy; 0: none): page_address() and HostMemory::take wait for it. Simulator bookkeeping, no
  // kernel field.
  std::uint64_t byte_job = 0, byte_job_background = 0;  // one per lane of the worker
  void note_byte_job(std::uint64_t job) {
    std::uint64_t& tag = (job & base::ByteWorker::kBackgroundBit) != 0 ? byte_job_background : byte_job;
    if (job > tag) tag = job;
  }
  // Waits for the jobs in the tags and clears them.
  void settle_byte_jobs() {
    if (byte_job != 0) base::ByteWorker::get().wait(std::exchange(byte_job, 0));
    if (byte_job_background != 0) base::ByteWorker::get().wait(std::exchange(byte_job_background, 0));
  }

 private:
  friend class HostMemory;
  friend ReadableView page_address(Page& page);
  friend ReadableView page_address_for_job(Page& page);
  friend void get_page(Page& page);
  friend void put_page(Page& page);
  Page() = default;

  std::byte* data_ = nullptr;
  HostMemory* memory_ = nullptr;
  std::uint64_t pfn_ = 0;
  DmaAddr dma_direct_ = 0;
  std::int32_t ref_count_ = 0;
  std::uint32_t order_ = 0;
  int nid_ = 0;
  bool pfmemalloc_ = false;
};

// The bytes of a host page (kernel: page_address()): the CPU's view, so it first waits for the
// byte worker job that last touched the page (Page::byte_job), if any.
inline ReadableView page_address(Page& page) {
  page.settle_byte_jobs();
  return {page.data_, page.size_bytes()};
}
// The same bytes without waiting, for code that hands them to a byte worker job (which runs
// after every earlier job) and tags the page with it. Not for reading or writing them here.
inline ReadableView page_address_for_job(Page& page) { return {page.data_, page.size_bytes()}; }

// kernel: get_page()/put_page(). The last put returns the page to its HostMemory.
void get_page(Page& page);
void put_page(Page& page);

enum class NetIovType : std::uint8_t { kDmabuf = 0, kIoUring = 1 };  // kernel: enum net_iov_type

class NetIovArea;

// One PAGE_SIZE of memory a provider owns and the CPU cannot read (kernel: struct net_iov).
struct NetIov : NetmemDesc {
  NetIovArea* owner = nullptr;
  NetIovType type = NetIovType::kDmabuf;
};

// A run of net_iovs over one contiguous chunk of provider memory (kernel: struct net_iov_area).
// Providers derive from it to attach their own state (kernel: container_of on the area).
class NetIovArea {
 public:
  // `base_virtual`: byte offset of this chunk inside the memory it covers (kernel: base_virtual).
  // `owner_id`: the dmabuf binding id (DMABUF) or the io_uring area id (IOURING).
  NetIovArea(std::size_t num_niovs, std::uint64_t base_virtual, NetIovType type, std::uint32_t owner_id);
  virtual ~NetIovArea() = default;
  NetIovArea(const NetIovArea&) = delete;
  NetIovArea& operator=(const NetIovArea&) = delete;

  std::size_t num_niovs() const { return niovs_.size(); }
  std::uint64_t base_virtual() const { return base_virtual_; }
  NetIovType type() const { return type_; }
  std::uint32_t owner_id() const { return owner_id_; }
  NetIov& niov(std::size_t idx) {
    NICEMU_ASSERT(idx < niovs_.size(), "NetIovArea::niov: index past the end of the area");
    return niovs_[idx];
  }
  std::span<NetIov> niovs() { return niovs_; }

  // kernel: net_iov_idx() — the net_iov's position in its area.
  std::size_t index_of(const NetIov& niov) const {
    NICEMU_ASSERT(niov.owner == this, "NetIovArea::index_of: net_iov belongs to another area");
    return static_cast<std::size_t>(&niov - niovs_.data());
  }

  // Hooks for get_netmem()/put_netmem() on a net_iov of this area (kernel: a devmem niov takes
  // and drops a binding reference; io_uring niovs do nothing).
  virtual void on_get_netmem(NetIov&) {}
  virtual void on_put_netmem(NetIov&) {}

 private:
  std::vector<NetIov> niovs_;
  std::uint64_t base_virtual_;
  NetIovType type_;
  std::uint32_t owner_id_;
};

// kernel: net_iov_virtual_addr() — the byte offset of a net_iov inside the memory its area covers.
inline std::uint64_t net_iov_virtual_addr(const NetIov& niov) {
  return niov.owner->base_virtual() + niov.owner->index_of(niov) * kPageSize;
}

// A page or a net_iov (kernel: netmem_ref). No conversion to or from integers or pointers except
// through the named, checked functions below.
class NetmemRef {
 public:
  constexpr NetmemRef() = default;  // "none" (kernel: 0)
  static constexpr NetmemRef none() { return NetmemRef(); }
  static NetmemRef from_page(Page& page) { return NetmemRef(reinterpret_cast<std::uintptr_t>(static_cast<NetmemDesc*>(&page))); }
  static NetmemRef from_net_iov(NetIov& niov) {
    return NetmemRef(reinterpret_cast<std::uintptr_t>(static_cast<NetmemDesc*>(&niov)) | kNetIovTag);
  }

  bool is_none() const { return bits_ == 0; }
  explicit operator bool() const { return bits_ != 0; }
  bool is_net_iov() const { return (bits_ & kNetIovTag) != 0; }  // kernel: netmem_is_net_iov()

  // Checked conversions: nullptr when the handle is of the other kind or none
  // (kernel: netmem_to_page() WARNs and returns NULL for a net_iov).
  Page* to_page() const { return (is_none() || is_net_iov()) ? nullptr : static_cast<Page*>(raw()); }
  NetIov* to_net_iov() const { return is_net_iov() ? static_cast<NetIov*>(raw()) : nullptr; }
  // Asserting conversions for code that has already checked the kind.
  Page& page() const {
    NICEMU_ASSERT(!is_none() && !is_net_iov(), "NetmemRef::page() on a net_iov or none");
    return *static_cast<Page*>(raw());
  }
  NetIov& net_iov() const {
    NICEMU_ASSERT(is_net_iov(), "NetmemRef::net_iov() on a page or none");
    return *static_cast<NetIov*>(raw());
  }
  // The shared fields (kernel: __netmem_clear_lsb()).
  NetmemDesc& desc() const {
    NICEMU_ASSERT(!is_none(), "NetmemRef::desc() on none");
    return *raw();
  }

  friend bool operator==(NetmemRef a, NetmemRef b) { return a.bits_ == b.bits_; }

 private:
  static constexpr std::uintptr_t kNetIovTag = 0x1;  // kernel: NET_IOV
  constexpr explicit NetmemRef(std::uintptr_t bits) : bits_(bits) {}
  NetmemDesc* raw() const { return reinterpret_cast<NetmemDesc*>(bits_ & ~kNetIovTag); }
  std::uintptr_t bits_ = 0;
};
static_assert(std::is_trivially_copyable_v<NetmemRef>);
static_assert(sizeof(NetmemRef) == sizeof(std::uintptr_t));
static_assert(alignof(NetmemDesc) >= 2, "bit 0 of a NetmemDesc address must be free for the tag");

// kernel: netmem_ref_count() — a net_iov has only pp_ref_count, so it reports 1.
inline std::int32_t netmem_ref_count(NetmemRef n) { return n.is_net_iov() ? 1 : n.page().ref_count(); }
// kernel: netmem_address() — empty for a net_iov.
inline ReadableView netmem_address(NetmemRef n) { return n.is_net_iov() ? ReadableView{} : page_address(n.page()); }
inline bool netmem_is_pfmemalloc(NetmemRef n) { return !n.is_net_iov() && n.page().pfmemalloc(); }
// kernel: netmem_is_pref_nid() — NUMA does not apply to net_iovs.
inline bool netmem_is_pref_nid(NetmemRef n, int nid) { return n.is_net_iov() || n.page().nid() == nid; }
// kernel: netmem_get_dma_addr()
inline DmaAddr netmem_get_dma_addr(NetmemRef n) { return n.desc().dma_addr; }

// kernel: get_netmem()/put_netmem(): page refcount for pages, the area's hooks for net_iovs.
inline void get_netmem(NetmemRef n) {
  if (n.is_net_iov()) {
    NetIov& niov = n.net_iov();
    niov.owner->on_get_netmem(niov);
  } else {
    get_page(n.page());
  }
}
inline void put_netmem(NetmemRef n) {
  if (n.is_net_iov()) {
    NetIov& niov = n.net_iov();
    niov.owner->on_put_netmem(niov);
  } else {
    put_page(n.page());
  }
}

}  // namespace nicemu::netmem
