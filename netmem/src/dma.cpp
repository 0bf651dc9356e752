#include "nicemu/netmem/dma.hpp"

#include <limits>

namespace nicemu::netmem {

namespace {
constexpr std::uint64_t kNoPage = std::numeric_limits<std::uint64_t>::max();

std::uint64_t pages_for(std::size_t len) { return (len + kPageSize - 1) >> kPageShift; }
}  // namespace

const char* to_string(DmaDirection d) {
  switch (d) {
    case DmaDirection::kBidirectional: return "DMA_BIDIRECTIONAL";
    case DmaDirection::kToDevice: return "DMA_TO_DEVICE";
    case DmaDirection::kFromDevice: return "DMA_FROM_DEVICE";
    case DmaDirection::kNone: return "DMA_NONE";
  }
  return "?";
}

const char* to_string(DmaError e) {
  switch (e) {
    case DmaError::kOk: return "ok";
    case DmaError::kNotMapped: return "address not mapped";
    case DmaError::kCrossesMapping: return "range runs past the end of its mapping";
    case DmaError::kDirection: return "access against the mapping's DMA direction";
    case DmaError::kExhausted: return "I/O virtual address space exhausted";
    case DmaError::kBadRegion: return "empty region or DMA_NONE";
  }
  return "?";
}

DmaSpace::DmaSpace(Config config) : config_(std::move(config)), iova_pages_total_(config_.iova_bytes >> kPageShift) {
  NICEMU_ASSERT(config_.iova_base % kPageSize == 0, "DmaSpace: iova_base must be page-aligned");
  NICEMU_ASSERT(config_.iova_base != 0, "DmaSpace: address 0 is reserved for 'no mapping'");
  slots_.emplace_back();  // slot 0 = unmapped
  free_ranges_.emplace(0, iova_pages_total_);
}

std::uint64_t DmaSpace::alloc_iova_pages(std::uint64_t npages) {
  // First fit, lowest address first: deterministic and keeps the page table compact.
  for (auto it = free_ranges_.begin(); it != free_ranges_.end(); ++it) {
    if (it->second < npages) continue;
    const std::uint64_t first = it->first;
    const std::uint64_t rest = it->second - npages;
    free_ranges_.erase(it);
    if (rest > 0) free_ranges_.emplace(first + npages, rest);
    return first;
  }
  return kNoPage;
}

void DmaSpace::free_iova_pages(std::uint64_t first, std::uint64_t npages) {
  auto [it, inserted] = free_ranges_.emplace(first, npages);
  NICEMU_ASSERT(inserted, "DmaSpace: IOVA range freed twice");
  auto next = std::next(it);
  if (next != free_ranges_.end() && it->first + it->second == next->first) {
    it->second += next->second;
    free_ranges_.erase(next);
  }
  if (it != free_ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second == it->first) {
      prev->second += it->second;
      free_ranges_.erase(it);
    }
  }
}

DmaMapping DmaSpace::map(std::span<std::byte> region, DmaDirection dir, MemoryPlacement placement) {
  if (region.empty() || dir == DmaDirection::kNone) {
    ++stats_.map_errors;
    return {0, DmaError::kBadRegion};
  }
  const std::uint64_t npages = pages_for(region.size());
  const std::uint64_t first = alloc_iova_pages(npages);
  if (first == kNoPage) {
    ++stats_.map_errors;
    return {0, DmaError::kExhausted};
  }
  std::uint32_t slot_idx;
  if (!free_slots_.empty()) {
    slot_idx = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot_idx = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot_idx];
  s.addr = config_.iova_base + (first << kPageShift);
  s.cpu = region.data();
  s.len = region.size();
  s.dir = dir;
  s.placement = placement;
  s.live = true;
  if (page_table_.size() < first + npages) page_table_.resize(first + npages, 0);
  for (std::uint64_t p = first; p < first + npages; ++p) page_table_[p] = slot_idx;
  ++stats_.maps;
  ++live_mappings_;
  mapped_bytes_ += region.size();
  return {s.addr, DmaError::kOk};
}

DmaMapping DmaSpace::map_page(Page& page, DmaDirection dir) {
  return map(page_address(page).bytes(), dir, MemoryPlacement::kHostMemory);
}

DmaError DmaSpace::unmap(DmaAddr addr) {
  DmaError err = DmaError::kOk;
  const Slot* s = lookup(addr, 1, err);
  if (s == nullptr || s->addr != addr) {
    ++stats_.unmap_errors;
    return s == nullptr ? err : DmaError::kNotMapped;
  }
  const std::uint64_t first = (addr - config_.iova_base) >> kPageShift;
  const std::uint64_t npages = pages_for(s->len);
  const std::uint32_t slot_idx = page_table_[first];
  for (std::uint64_t p = first; p < first + npages; ++p) page_table_[p] = 0;
  mapped_bytes_ -= s->len;
  slots_[slot_idx] = Slot{};
  free_slots_.push_back(slot_idx);
  free_iova_pages(first, npages);
  ++stats_.unmaps;
  --live_mappings_;
  return DmaError::kOk;
}

const DmaSpace::Slot* DmaSpace::lookup(DmaAddr addr, std::size_t len, DmaError& err) const {
  if (addr < config_.iova_base) {
    err = DmaError::kNotMapped;
    return nullptr;
  }
  const std::uint64_t page = (addr - config_.iova_base) >> kPageShift;
  if (page >= page_table_.size() || page_table_[page] == 0) {
    err = DmaError::kNotMapped;
    return nullptr;
  }
  const Slot& s = slots_[page_table_[page]];
  const std::uint64_t off = addr - s.addr;
  if (off >= s.len) {  // inside the mapping's last IOVA page but past its bytes
    err = DmaError::kNotMapped;
    return nullptr;
  }
  if (len > s.len - off) {
    err = DmaError::kCrossesMapping;
    return nullptr;
  }
  err = DmaError::kOk;
  return &s;
}

DmaTarget DmaSpace::resolve(DmaAddr addr, std::size_t len, bool device_writes) {
  DmaError err = DmaError::kOk;
  const Slot* s = lookup(addr, len, err);
  if (s == nullptr) {
    ++stats_.resolve_errors;
    return {{}, MemoryPlacement::kHostMemory, err};
  }
  const bool allowed = s->dir == DmaDirection::kBidirectional ||
                       (device_writes ? s->dir == DmaDirection::kFromDevice : s->dir == DmaDirection::kToDevice);
  if (!allowed) {
    ++stats_.resolve_errors;
    return {{}, s->placement, DmaError::kDirection};
  }
  return {{s->cpu + (addr - s->addr), len}, s->placement, DmaError::kOk};
}

DmaTarget DmaSpace::resolve_for_device_write(DmaAddr addr, std::size_t len) { return resolve(addr, len, true); }
DmaTarget DmaSpace::resolve_for_device_read(DmaAddr addr, std::size_t len) { return resolve(addr, len, false); }

DmaError DmaSpace::sync_for_device(DmaAddr addr, std::size_t len) {
  DmaError err = DmaError::kOk;
  if (lookup(addr, len, err) == nullptr) {
    ++stats_.sync_errors;
    return err;
  }
  ++stats_.sync_for_device;
  stats_.sync_for_device_bytes += len;
  return DmaError::kOk;
}

DmaError DmaSpace::sync_for_cpu(DmaAddr addr, std::size_t len) {
  DmaError err = DmaError::kOk;
  if (lookup(addr, len, err) == nullptr) {
    ++stats_.sync_errors;
    return err;
  }
  ++stats_.sync_for_cpu;
  stats_.sync_for_cpu_bytes += len;
  return DmaError::kOk;
}

}  // namespace nicemu::netmem
