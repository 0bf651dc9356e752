// nicemu/netmem/dma.hpp — a device's DMA address space.
//
// Models: the IOMMU view of one device: regions of host pages or provider memory are mapped to
//   I/O virtual addresses (kernel: dma_map_page_attrs(), dma_buf_map_attachment()), unmapped,
//   synced for device or CPU (counted operations), and resolved by the device's DMA engine to the
//   bytes behind an address range, with the mapping's direction enforced. Each mapping records
//   where its bytes live (host memory, or device memory behind a PCIe switch) for the timing
//   model.
// Not modelled: cache coherence (a sync only counts), bounce buffers, IOMMU page-table walk
//   costs (the NIC model charges those), partial unmaps.
// Errors are results (DmaError), never asserts: a buggy driver is a user-visible failure.
// References: include/linux/dma-mapping.h, include/linux/dma-direction.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "nicemu/netmem/netmem.hpp"

namespace nicemu::netmem {

// kernel: enum dma_data_direction (same values).
enum class DmaDirection : std::uint8_t { kBidirectional = 0, kToDevice = 1, kFromDevice = 2, kNone = 3 };
const char* to_string(DmaDirection d);

// Where the bytes behind a mapping live.
enum class MemoryPlacement : std::uint8_t { kHostMemory = 0, kDeviceMemory = 1 };

enum class DmaError : std::uint8_t {
  kOk = 0,
  kNotMapped,       // no mapping covers the address
  kCrossesMapping,  // the range runs past the end of its mapping
  kDirection,       // e.g. the device writes into a DMA_TO_DEVICE mapping
  kExhausted,       // the I/O virtual address space is full
  kBadRegion,       // empty region, or DMA_NONE
};
const char* to_string(DmaError e);

struct DmaStats {
  std::uint64_t maps = 0;
  std::uint64_t unmaps = 0;
  std::uint64_t map_errors = 0;
  std::uint64_t unmap_errors = 0;
  std::uint64_t sync_for_device = 0;
  std::uint64_t sync_for_device_bytes = 0;
  std::uint64_t sync_for_cpu = 0;
  std::uint64_t sync_for_cpu_bytes = 0;
  std::uint64_t sync_errors = 0;
  std::uint64_t resolve_errors = 0;
};

// The result of resolving a device access: the bytes and where they live.
struct DmaTarget {
  std::span<std::byte> bytes;
  MemoryPlacement placement = MemoryPlacement::kHostMemory;
  DmaError error = DmaError::kOk;
  bool ok() const { return error == DmaError::kOk; }
};

struct DmaMapping {
  DmaAddr addr = 0;
  DmaError error = DmaError::kOk;
  bool ok() const { return error == DmaError::kOk; }
};

class DmaSpace {
 public:
  struct Config {
    std::string name = "dma";
    DmaAddr iova_base = DmaAddr{1} << 32;        // addresses start here (0 stays invalid)
    std::uint64_t iova_bytes = std::uint64_t{1} << 40;
  };

  explicit DmaSpace(Config config);
  DmaSpace() : DmaSpace(Config{}) {}
  DmaSpace(const DmaSpace&) = delete;
  DmaSpace& operator=(const DmaSpace&) = delete;

  // Maps `region` (CPU-side bytes) for the device. The address is page-aligned; the mapping
  // covers exactly region.size() bytes.
  DmaMapping map(std::span<std::byte> region, DmaDirection dir, MemoryPlacement placement);
  // kernel: dma_map_page_attrs() for a whole (compound) host page.
  DmaMapping map_page(Page& page, DmaDirection dir);
  // `addr` must be the start of a mapping.
  DmaError unmap(DmaAddr addr);

  // Device-side access, used by the NIC's DMA engine. Writes need kFromDevice or kBidirectional,
  // reads kToDevice or kBidirectional.
  DmaTarget resolve_for_device_write(DmaAddr addr, std::size_t len);
  DmaTarget resolve_for_device_read(DmaAddr addr, std::size_t len);

  // kernel: dma_sync_single_range_for_device()/_for_cpu(): counted; the range must be mapped.
  DmaError sync_for_device(DmaAddr addr, std::size_t len);
  DmaError sync_for_cpu(DmaAddr addr, std::size_t len);

  const std::string& name() const { return config_.name; }
  const DmaStats& stats() const { return stats_; }
  std::size_t mapping_count() const { return live_mappings_; }
  std::uint64_t mapped_bytes() const { return mapped_bytes_; }

 private:
  struct Slot {
    DmaAddr addr = 0;
    std::byte* cpu = nullptr;
    std::size_t len = 0;
    DmaDirection dir = DmaDirection::kNone;
    MemoryPlacement placement = MemoryPlacement::kHostMemory;
    bool live = false;
  };

  const Slot* lookup(DmaAddr addr, std::size_t len, DmaError& err) const;
  DmaTarget resolve(DmaAddr addr, std::size_t len, bool device_writes);
  std::uint64_t alloc_iova_pages(std::uint64_t npages);  // returns a page number or UINT64_MAX
  void free_iova_pages(std::uint64_t first, std::uint64_t npages);

  Config config_;
  DmaStats stats_;
  std::vector<Slot> slots_;                 // index 0 unused: page_table_ 0 means unmapped
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> page_table_;   // IOVA page (relative to iova_base) -> slot
  std::map<std::uint64_t, std::uint64_t> free_ranges_;  // first page -> page count
  std::uint64_t iova_pages_total_;
  std::size_t live_mappings_ = 0;
  std::uint64_t mapped_bytes_ = 0;
};

}  // namespace nicemu::netmem
