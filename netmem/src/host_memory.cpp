#include "nicemu/netmem/host_memory.hpp"

#include <algorithm>
#include <cstdint>
#include <new>

#include <sys/mman.h>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/byte_worker.hpp"
#include "nicemu/base/populate.hpp"
#include "nicemu/netmem/dma.hpp"

namespace nicemu::netmem {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// Anonymous, zero-filled memory aligned to kHugePage, with MADV_HUGEPAGE so that a machine whose
// transparent_hugepage setting is "madvise" (Debian's default) backs it with 2 MiB pages. Without
// huge pages (or when madvise refuses) it is ordinary 4 KiB-backed memory: only speed differs.
void* map_chunk(std::size_t bytes) {
  void* raw = ::mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t end = begin + bytes + kHugePage;
  if (aligned > begin) ::munmap(raw, aligned - begin);
  if (end > aligned + bytes) ::munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  void* m = reinterpret_cast<void*>(aligned);
  (void)::madvise(m, bytes, MADV_HUGEPAGE);
  return m;
}

}  // namespace

HostMemory::HostMemory(HostMemoryConfig config) : config_(config) {}

void HostMemory::map_direct(std::size_t ci, std::uint32_t order) {
  Chunk& c = chunks_[ci];
  const DmaMapping m =
      dma_direct_->map(std::span<std::byte>(c.memory, c.bytes), DmaDirection::kBidirectional, MemoryPlacement::kHostMemory);
  NICEMU_ASSERT(m.ok(), "HostMemory: the dma-direct space cannot map a chunk (IOVA space exhausted)");
  c.dma = m.addr;
  const std::size_t block = kPageSize << order;
  for (std::size_t i = 0; i < c.blocks; ++i) c.pages[i].dma_direct_ = c.dma + i * block;
}

void HostMemory::attach_dma_direct(DmaSpace& dma) {
  NICEMU_ASSERT(dma_direct_ == nullptr, "HostMemory::attach_dma_direct: already attached");
  dma_direct_ = &dma;
  for (std::size_t i = 0; i < chunks_.size(); ++i) map_direct(i, chunks_[i].pages[0].order_);
}

void HostMemory::detach_dma_direct() {
  if (dma_direct_ == nullptr) return;
  for (Chunk& c : chunks_) {
    if (c.dma != 0) (void)dma_direct_->unmap(c.dma);
    c.dma = 0;
    for (std::size_t i = 0; i < c.blocks; ++i) c.pages[i].dma_direct_ = 0;
  }
  dma_direct_ = nullptr;
}

HostMemory::~HostMemory() {
  base::ByteWorker::get().drain();  // no byte worker job may still touch these pages
  for (Chunk& c : chunks_) ::munmap(c.memory, c.bytes);
}

void HostMemory::prefault(std::uint64_t bytes, std::uint32_t order) {
  NICEMU_ASSERT(order <= kMaxOrder, "HostMemory::prefault: order above kMaxOrder");
  base::ByteWorker::get().drain();  // no job may be writing what the fallback rewrites
  auto grown_pages = [this] {
    std::uint64_t n = 0;
    for (std::uint32_t o = 0; o <= kMaxOrder; ++o) n += std::uint64_t{total_blocks_[o]} << o;
    return n;
  };
  const std::uint64_t chunk_pages = std::uint64_t{blocks_per_chunk(order)} << order;
  while ((std::uint64_t{total_blocks_[order]} << order) * kPageSize < bytes &&
         grown_pages() + chunk_pages <= capacity_pages()) {
    if (!grow(order, /*behind_free=*/true)) break;
  }
  for (; populated_chunks_ < chunks_.size(); ++populated_chunks_) {
    base::populate_pages(chunks_[populated_chunks_].memory, chunks_[populated_chunks_].bytes);
  }
}

bool HostMemory::grow(std::uint32_t order, bool behind_free) {
  const std::size_t blocks = blocks_per_chunk(order);
  const std::size_t block = kPageSize << order;
  Chunk chunk;
  // Anonymous mappings come zero-filled (as the kernel hands out zeroed pages), page-aligned, and
  // are only backed as pages are first touched: no memset pass over memory nobody used yet.
  chunk.bytes = block * blocks;
  void* m = map_chunk(chunk.bytes);
  if (m == nullptr) return false;  // the host process is out of memory: take() fails
  chunk.memory = static_cast<std::byte*>(m);
  chunk.pages.reset(new Page[blocks]);
  auto& list = free_[order];
  total_blocks_[order] += blocks;
  list.reserve(total_blocks_[order]);  // free_page() then never reallocates
  // Push in reverse so pages are handed out in ascending pfn order (readable traces). Grown
  // ahead of need, the chunk goes behind what is free already: handed out only once that is gone.
  const std::size_t at = behind_free ? 0 : list.size();
  list.insert(list.begin() + static_cast<std::ptrdiff_t>(at), blocks, nullptr);
  for (std::size_t i = blocks; i-- > 0;) {
    Page& p = chunk.pages[i];
    p.data_ = chunk.memory + i * block;
    p.memory_ = this;
    p.order_ = order;
    p.nid_ = config_.nid;
    p.pfn_ = next_pfn_ + (i << order);
    list[at + (blocks - 1 - i)] = &p;
  }
  next_pfn_ += blocks << order;
  chunk.blocks = blocks;
  chunks_.push_back(std::move(chunk));
  if (dma_direct_ != nullptr) map_direct(chunks_.size() - 1, order);
  return true;
}

Page* HostMemory::take(std::uint32_t order) {
  if (order > kMaxOrder) return nullptr;  // before the shift below: order may be any u32
  const std::uint64_t n = std::uint64_t{1} << order;
  if (stats_.pages_in_use + n > capacity_pages()) return nullptr;
  auto& list = free_[order];
  if (list.empty() && !grow(order)) return nullptr;
  Page* p = list.back();
  list.pop_back();
  p->settle_byte_jobs();  // the byte worker may still be reading or filling it
  p->ref_count_ = 1;
  p->flags = 0;
  p->pp_magic = 0;
  p->pp = nullptr;
  p->dma_addr = 0;
  p->pp_ref_count = 0;
  p->pp_dma_index = 0;
  p->pfmemalloc_ = false;
  stats_.pages_in_use += n;
  if (stats_.pages_in_use > stats_.peak_pages_in_use) stats_.peak_pages_in_use = stats_.pages_in_use;
  return p;
}

Page* HostMemory::take_counted(std::uint32_t order, std::uint64_t& misses) {
  ++stats_.alloc_calls;
  Page* p = take(order);
  if (p == nullptr) ++misses;
  return p;
}

Page* HostMemory::alloc_pages(std::uint32_t order) { return take_counted(order, stats_.alloc_failures); }

Page* HostMemory::alloc_pages_noretry(std::uint32_t order) { return take_counted(order, stats_.noretry_failures); }

std::size_t HostMemory::alloc_pages_bulk(std::span<Page*> out) {
  ++stats_.alloc_calls;
  std::size_t got = 0;
  for (Page*& slot : out) {
    Page* p = take(0);
    if (p == nullptr) break;
    slot = p;
    ++got;
  }
  if (got < out.size()) ++stats_.alloc_failures;
  return got;
}

void HostMemory::free_page(Page& page) {
  ++stats_.frees;
  stats_.pages_in_use -= std::uint64_t{1} << page.order_;
  free_[page.order_].push_back(&page);
}

void get_page(Page& page) {
  NICEMU_ASSERT(page.ref_count_ > 0, "get_page on a free page");
  ++page.ref_count_;
}

void put_page(Page& page) {
  NICEMU_ASSERT(page.ref_count_ > 0, "put_page on a free page (double free)");
  if (--page.ref_count_ == 0) page.memory_->free_page(page);
}

NetIovArea::NetIovArea(std::size_t num_niovs, std::uint64_t base_virtual, NetIovType type, std::uint32_t owner_id)
    : niovs_(num_niovs), base_virtual_(base_virtual), type_(type), owner_id_(owner_id) {
  for (NetIov& n : niovs_) {
    n.owner = this;
    n.type = type;
  }
}

}  // namespace nicemu::netmem
