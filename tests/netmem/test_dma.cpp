// DmaSpace: mapping regions for a device, device-side resolution with DMA direction rules,
// counted syncs, errors as results, and I/O virtual address reuse.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/host_memory.hpp"

using namespace nicemu::netmem;

namespace {

// A CPU-side buffer whose bytes are numbered, so that an offset mistake shows up in the value.
std::vector<std::byte> numbered_bytes(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 7 + 1);
  return v;
}

DmaSpace tiny_space(std::uint64_t pages) {
  DmaSpace::Config c;
  c.name = "tiny";
  c.iova_bytes = pages * kPageSize;
  return DmaSpace(c);
}

}  // namespace

TEST_CASE("dma: map returns a page-aligned, non-zero address inside the IOVA window", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> a(100);
  std::vector<std::byte> b(5000);
  const DmaMapping ma = dma.map(a, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  const DmaMapping mb = dma.map(b, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  REQUIRE(ma.ok());
  REQUIRE(mb.ok());
  CHECK(ma.error == DmaError::kOk);
  CHECK(ma.addr != 0);
  CHECK(mb.addr != 0);
  CHECK(ma.addr % kPageSize == 0);
  CHECK(mb.addr % kPageSize == 0);
  CHECK(ma.addr >= DmaSpace::Config{}.iova_base);
  CHECK(ma.addr != mb.addr);
  // A 100-byte mapping still owns a whole IOVA page: the next mapping does not share it.
  CHECK((mb.addr >= ma.addr + kPageSize || mb.addr + 2 * kPageSize <= ma.addr));
  CHECK(dma.stats().maps == 2);
  CHECK(dma.stats().map_errors == 0);
}

TEST_CASE("dma: a device write into a DMA_FROM_DEVICE mapping lands in the region at the right offset",
          "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(3 * kPageSize, std::byte{0});
  const DmaMapping m = dma.map(region, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());

  const std::size_t off = kPageSize + 100;  // crosses into the second IOVA page
  const DmaTarget t = dma.resolve_for_device_write(m.addr + off, 16);
  REQUIRE(t.ok());
  CHECK(t.error == DmaError::kOk);
  CHECK(t.bytes.size() == 16);
  CHECK(t.bytes.data() == region.data() + off);
  for (std::size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<std::byte>(0xa0 + i);
  CHECK(region[off - 1] == std::byte{0});
  CHECK(region[off] == std::byte{0xa0});
  CHECK(region[off + 15] == std::byte{0xaf});
  CHECK(region[off + 16] == std::byte{0});

  // The very last byte of the mapping is reachable too.
  const DmaTarget last = dma.resolve_for_device_write(m.addr + region.size() - 1, 1);
  REQUIRE(last.ok());
  last.bytes[0] = std::byte{0x77};
  CHECK(region.back() == std::byte{0x77});
  CHECK(dma.stats().resolve_errors == 0);
}

TEST_CASE("dma: a device read from a DMA_TO_DEVICE mapping sees the region's bytes", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region = numbered_bytes(6000);
  const DmaMapping m = dma.map(region, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  const DmaTarget t = dma.resolve_for_device_read(m.addr + 4100, 8);
  REQUIRE(t.ok());
  REQUIRE(t.bytes.size() == 8);
  CHECK(t.bytes.data() == region.data() + 4100);
  for (std::size_t i = 0; i < 8; ++i) CHECK(t.bytes[i] == region[4100 + i]);
}

TEST_CASE("dma: a device write into a DMA_TO_DEVICE mapping is refused", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(kPageSize);
  const DmaMapping m = dma.map(region, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  const DmaTarget t = dma.resolve_for_device_write(m.addr, 64);
  CHECK_FALSE(t.ok());
  CHECK(t.error == DmaError::kDirection);
  CHECK(t.bytes.empty());
  CHECK(dma.stats().resolve_errors == 1);
  // Reading is what the mapping is for.
  CHECK(dma.resolve_for_device_read(m.addr, 64).ok());
  CHECK(dma.stats().resolve_errors == 1);
}

TEST_CASE("dma: a device read from a DMA_FROM_DEVICE mapping is refused", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(kPageSize);
  const DmaMapping m = dma.map(region, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  const DmaTarget t = dma.resolve_for_device_read(m.addr + 8, 64);
  CHECK(t.error == DmaError::kDirection);
  CHECK(t.bytes.empty());
  CHECK(dma.stats().resolve_errors == 1);
  CHECK(dma.resolve_for_device_write(m.addr + 8, 64).ok());
}

TEST_CASE("dma: a DMA_BIDIRECTIONAL mapping allows device reads and writes", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(kPageSize, std::byte{0});
  const DmaMapping m = dma.map(region, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  const DmaTarget w = dma.resolve_for_device_write(m.addr + 10, 4);
  REQUIRE(w.ok());
  w.bytes[0] = std::byte{0x42};
  const DmaTarget r = dma.resolve_for_device_read(m.addr + 10, 4);
  REQUIRE(r.ok());
  CHECK(r.bytes[0] == std::byte{0x42});
  CHECK(region[10] == std::byte{0x42});
  CHECK(dma.stats().resolve_errors == 0);
}

TEST_CASE("dma: an address before any mapping is not mapped", "[netmem][unit]") {
  DmaSpace dma;
  const DmaAddr base = DmaSpace::Config{}.iova_base;
  CHECK(dma.resolve_for_device_write(base, 1).error == DmaError::kNotMapped);  // nothing mapped yet
  std::vector<std::byte> region(kPageSize);
  const DmaMapping m = dma.map(region, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  CHECK(dma.resolve_for_device_read(0, 1).error == DmaError::kNotMapped);
  CHECK(dma.resolve_for_device_read(base - 1, 1).error == DmaError::kNotMapped);
  CHECK(dma.resolve_for_device_read(m.addr - 1, 1).error == DmaError::kNotMapped);
  CHECK(dma.resolve_for_device_read(m.addr + 100 * kPageSize, 1).error == DmaError::kNotMapped);
  CHECK(dma.stats().resolve_errors == 5);
}

TEST_CASE("dma: an address is not mapped after unmap", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(2 * kPageSize);
  const DmaMapping m = dma.map(region, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  REQUIRE(dma.resolve_for_device_write(m.addr + kPageSize, 8).ok());
  REQUIRE(dma.unmap(m.addr) == DmaError::kOk);
  CHECK(dma.resolve_for_device_write(m.addr, 8).error == DmaError::kNotMapped);
  CHECK(dma.resolve_for_device_write(m.addr + kPageSize, 8).error == DmaError::kNotMapped);
  CHECK(dma.stats().unmaps == 1);
}

TEST_CASE("dma: the tail of a mapping's last IOVA page past its length is not mapped", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(kPageSize + 100);
  const DmaMapping m = dma.map(region, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  CHECK(dma.resolve_for_device_read(m.addr + kPageSize + 99, 1).ok());
  CHECK(dma.resolve_for_device_read(m.addr + kPageSize + 100, 1).error == DmaError::kNotMapped);
  CHECK(dma.resolve_for_device_write(m.addr + 2 * kPageSize - 1, 1).error == DmaError::kNotMapped);
  CHECK(dma.sync_for_cpu(m.addr + kPageSize + 200, 1) == DmaError::kNotMapped);
}

TEST_CASE("dma: a range running past the end of its mapping crosses the mapping", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> a(kPageSize);
  std::vector<std::byte> b(kPageSize);
  const DmaMapping ma = dma.map(a, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory);
  const DmaMapping mb = dma.map(b, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory);
  REQUIRE(ma.ok());
  REQUIRE(mb.ok());
  CHECK(dma.resolve_for_device_read(ma.addr, kPageSize).ok());
  CHECK(dma.resolve_for_device_read(ma.addr, kPageSize + 1).error == DmaError::kCrossesMapping);
  CHECK(dma.resolve_for_device_write(ma.addr + kPageSize - 10, 11).error == DmaError::kCrossesMapping);
  // Even when the next IOVA page belongs to another mapping: one access never spans two.
  REQUIRE(mb.addr == ma.addr + kPageSize);
  CHECK(dma.resolve_for_device_write(ma.addr + kPageSize - 10, 20).error == DmaError::kCrossesMapping);
  CHECK(dma.stats().resolve_errors == 3);
}

TEST_CASE("dma: unmap of a non-start address or of an unmapped address fails and is counted", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(2 * kPageSize);
  const DmaMapping m = dma.map(region, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  CHECK(dma.unmap(m.addr + 1) != DmaError::kOk);
  CHECK(dma.unmap(m.addr + kPageSize) != DmaError::kOk);
  CHECK(dma.unmap(m.addr + kPageSize) == DmaError::kNotMapped);
  CHECK(dma.stats().unmap_errors == 3);
  CHECK(dma.mapping_count() == 1);  // the failed unmaps left the mapping alone
  CHECK(dma.resolve_for_device_read(m.addr, 2 * kPageSize).ok());

  CHECK(dma.unmap(m.addr) == DmaError::kOk);
  CHECK(dma.unmap(m.addr) == DmaError::kNotMapped);  // twice
  CHECK(dma.unmap(0) == DmaError::kNotMapped);
  CHECK(dma.stats().unmap_errors == 5);
  CHECK(dma.stats().unmaps == 1);
  CHECK(dma.mapping_count() == 0);
}

TEST_CASE("dma: an empty region or DMA_NONE is a bad region", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(64);
  const DmaMapping empty = dma.map(std::span<std::byte>{}, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  CHECK_FALSE(empty.ok());
  CHECK(empty.error == DmaError::kBadRegion);
  CHECK(empty.addr == 0);
  const DmaMapping none = dma.map(region, DmaDirection::kNone, MemoryPlacement::kHostMemory);
  CHECK(none.error == DmaError::kBadRegion);
  CHECK(none.addr == 0);
  CHECK(dma.stats().map_errors == 2);
  CHECK(dma.stats().maps == 0);
  CHECK(dma.mapping_count() == 0);
  CHECK(dma.mapped_bytes() == 0);
}

TEST_CASE("dma: sync_for_device and sync_for_cpu count operations and bytes", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(2 * kPageSize);
  const DmaMapping m = dma.map(region, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  CHECK(dma.sync_for_device(m.addr, 1500) == DmaError::kOk);
  CHECK(dma.sync_for_device(m.addr + 4000, 200) == DmaError::kOk);
  CHECK(dma.sync_for_cpu(m.addr + 64, 128) == DmaError::kOk);
  CHECK(dma.stats().sync_for_device == 2);
  CHECK(dma.stats().sync_for_device_bytes == 1700);
  CHECK(dma.stats().sync_for_cpu == 1);
  CHECK(dma.stats().sync_for_cpu_bytes == 128);
  CHECK(dma.stats().sync_errors == 0);
}

TEST_CASE("dma: syncs on unmapped or overrunning ranges fail and are counted", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> region(kPageSize);
  const DmaMapping m = dma.map(region, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory);
  REQUIRE(m.ok());
  CHECK(dma.sync_for_device(m.addr + kPageSize, 1) == DmaError::kNotMapped);
  CHECK(dma.sync_for_cpu(m.addr, kPageSize + 1) == DmaError::kCrossesMapping);
  REQUIRE(dma.unmap(m.addr) == DmaError::kOk);
  CHECK(dma.sync_for_device(m.addr, 1) == DmaError::kNotMapped);
  CHECK(dma.sync_for_cpu(m.addr, 1) == DmaError::kNotMapped);
  CHECK(dma.stats().sync_errors == 4);
  CHECK(dma.stats().sync_for_device == 0);
  CHECK(dma.stats().sync_for_cpu == 0);
  CHECK(dma.stats().sync_for_device_bytes == 0);
  CHECK(dma.stats().sync_for_cpu_bytes == 0);
}

TEST_CASE("dma: after an unmap a new mapping reuses the IOVA range", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> a(2 * kPageSize);
  std::vector<std::byte> b = numbered_bytes(2 * kPageSize);
  const DmaMapping ma = dma.map(a, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  REQUIRE(ma.ok());
  REQUIRE(dma.unmap(ma.addr) == DmaError::kOk);
  const DmaMapping mb = dma.map(b, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  REQUIRE(mb.ok());
  CHECK(mb.addr == ma.addr);
  // The address now reaches the new region with the new direction.
  const DmaTarget r = dma.resolve_for_device_read(mb.addr + 5, 1);
  REQUIRE(r.ok());
  CHECK(r.bytes.data() == b.data() + 5);
  CHECK(r.bytes[0] == b[5]);
  CHECK(dma.resolve_for_device_write(mb.addr, 1).error == DmaError::kDirection);
}

TEST_CASE("dma: a tiny IOVA space runs out with kExhausted and recovers after an unmap", "[netmem][unit]") {
  DmaSpace dma = tiny_space(3);
  std::vector<std::byte> page1(kPageSize);
  std::vector<std::byte> page2(kPageSize);
  std::vector<std::byte> page3(kPageSize);
  std::vector<std::byte> extra(10);
  const DmaMapping m1 = dma.map(page1, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  const DmaMapping m2 = dma.map(page2, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  const DmaMapping m3 = dma.map(page3, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  REQUIRE(m1.ok());
  REQUIRE(m2.ok());
  REQUIRE(m3.ok());
  const DmaMapping full = dma.map(extra, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  CHECK(full.error == DmaError::kExhausted);
  CHECK(full.addr == 0);
  CHECK(dma.stats().map_errors == 1);
  CHECK(dma.mapping_count() == 3);

  REQUIRE(dma.unmap(m2.addr) == DmaError::kOk);
  const DmaMapping again = dma.map(extra, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  REQUIRE(again.ok());
  CHECK(again.addr == m2.addr);
  CHECK(dma.mapping_count() == 3);
}

TEST_CASE("dma: unmapping two neighbours coalesces their IOVA space for one larger mapping", "[netmem][unit]") {
  DmaSpace dma = tiny_space(4);
  std::vector<std::byte> p(kPageSize);
  std::vector<DmaMapping> m;
  for (int i = 0; i < 4; ++i) {
    m.push_back(dma.map(p, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory));
    REQUIRE(m.back().ok());
  }
  std::vector<std::byte> two_pages(2 * kPageSize);
  CHECK(dma.map(two_pages, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory).error ==
        DmaError::kExhausted);

  // Free pages 0 and 2: two free pages, but not adjacent — still no room for two.
  REQUIRE(dma.unmap(m[0].addr) == DmaError::kOk);
  REQUIRE(dma.unmap(m[2].addr) == DmaError::kOk);
  CHECK(dma.map(two_pages, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory).error ==
        DmaError::kExhausted);

  // Free page 1 (lower neighbour of 2 is 1, upper neighbour of 0 is 1): 0..2 coalesce into three pages.
  REQUIRE(dma.unmap(m[1].addr) == DmaError::kOk);
  std::vector<std::byte> three_pages(3 * kPageSize);
  const DmaMapping big = dma.map(three_pages, DmaDirection::kBidirectional, MemoryPlacement::kHostMemory);
  REQUIRE(big.ok());
  CHECK(big.addr == m[0].addr);
  CHECK(dma.resolve_for_device_write(big.addr + 3 * kPageSize - 1, 1).ok());
  CHECK(dma.mapping_count() == 2);
  CHECK(dma.mapped_bytes() == 4 * kPageSize);
}

TEST_CASE("dma: freeing the upper then the lower neighbour coalesces into one range", "[netmem][unit]") {
  DmaSpace dma = tiny_space(2);
  std::vector<std::byte> p(kPageSize);
  const DmaMapping a = dma.map(p, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  const DmaMapping b = dma.map(p, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(dma.unmap(b.addr) == DmaError::kOk);
  REQUIRE(dma.unmap(a.addr) == DmaError::kOk);
  std::vector<std::byte> two_pages(2 * kPageSize);
  const DmaMapping both = dma.map(two_pages, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  REQUIRE(both.ok());
  CHECK(both.addr == a.addr);
  // And the space is full again.
  CHECK(dma.map(p, DmaDirection::kToDevice, MemoryPlacement::kHostMemory).error == DmaError::kExhausted);
}

TEST_CASE("dma: map_page maps the whole page's bytes", "[netmem][unit]") {
  HostMemory mem;
  DmaSpace dma;
  Page* page = mem.alloc_pages(1);
  REQUIRE(page != nullptr);
  const DmaMapping m = dma.map_page(*page, DmaDirection::kFromDevice);
  REQUIRE(m.ok());
  CHECK(m.addr % kPageSize == 0);
  CHECK(dma.mapped_bytes() == 2 * kPageSize);
  const DmaTarget t = dma.resolve_for_device_write(m.addr + kPageSize + 3, 2);
  REQUIRE(t.ok());
  CHECK(t.placement == MemoryPlacement::kHostMemory);
  t.bytes[0] = std::byte{0x11};
  t.bytes[1] = std::byte{0x22};
  CHECK(page_address(*page).bytes()[kPageSize + 3] == std::byte{0x11});
  CHECK(page_address(*page).bytes()[kPageSize + 4] == std::byte{0x22});
  CHECK(dma.resolve_for_device_write(m.addr, 2 * kPageSize).ok());
  CHECK(dma.resolve_for_device_write(m.addr, 2 * kPageSize + 1).error == DmaError::kCrossesMapping);
  REQUIRE(dma.unmap(m.addr) == DmaError::kOk);
  put_page(*page);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("dma: resolve reports the mapping's memory placement", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> host(kPageSize);
  std::vector<std::byte> device(kPageSize);
  const DmaMapping mh = dma.map(host, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  const DmaMapping md = dma.map(device, DmaDirection::kFromDevice, MemoryPlacement::kDeviceMemory);
  REQUIRE(mh.ok());
  REQUIRE(md.ok());
  const DmaTarget th = dma.resolve_for_device_write(mh.addr, 8);
  const DmaTarget td = dma.resolve_for_device_write(md.addr, 8);
  REQUIRE(th.ok());
  REQUIRE(td.ok());
  CHECK(th.placement == MemoryPlacement::kHostMemory);
  CHECK(td.placement == MemoryPlacement::kDeviceMemory);
  CHECK(td.bytes.data() == device.data());
  // A direction error still says where the bytes would have been.
  CHECK(dma.resolve_for_device_read(md.addr, 8).placement == MemoryPlacement::kDeviceMemory);
}

TEST_CASE("dma: mapping_count and mapped_bytes track maps and unmaps", "[netmem][unit]") {
  DmaSpace dma;
  std::vector<std::byte> a(100);
  std::vector<std::byte> b(3 * kPageSize + 1);
  std::vector<std::byte> c(kPageSize);
  CHECK(dma.mapping_count() == 0);
  CHECK(dma.mapped_bytes() == 0);
  const DmaMapping ma = dma.map(a, DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
  const DmaMapping mb = dma.map(b, DmaDirection::kFromDevice, MemoryPlacement::kHostMemory);
  const DmaMapping mc = dma.map(c, DmaDirection::kBidirectional, MemoryPlacement::kDeviceMemory);
  REQUIRE(ma.ok());
  REQUIRE(mb.ok());
  REQUIRE(mc.ok());
  CHECK(dma.mapping_count() == 3);
  CHECK(dma.mapped_bytes() == 100 + 3 * kPageSize + 1 + kPageSize);
  REQUIRE(dma.unmap(mb.addr) == DmaError::kOk);
  CHECK(dma.mapping_count() == 2);
  CHECK(dma.mapped_bytes() == 100 + kPageSize);
  CHECK(dma.unmap(mb.addr) == DmaError::kNotMapped);  // a failed unmap changes nothing
  CHECK(dma.mapping_count() == 2);
  CHECK(dma.mapped_bytes() == 100 + kPageSize);
  REQUIRE(dma.unmap(ma.addr) == DmaError::kOk);
  REQUIRE(dma.unmap(mc.addr) == DmaError::kOk);
  CHECK(dma.mapping_count() == 0);
  CHECK(dma.mapped_bytes() == 0);
  CHECK(dma.stats().maps == 3);
  CHECK(dma.stats().unmaps == 3);
}

TEST_CASE("dma: many maps and unmaps reuse slots and keep every live mapping resolvable", "[netmem][unit]") {
  DmaSpace dma = tiny_space(16);
  std::vector<std::vector<std::byte>> regions;
  for (int i = 0; i < 8; ++i) regions.push_back(numbered_bytes(static_cast<std::size_t>(i + 1) * 1000));
  std::vector<DmaMapping> live(regions.size());
  for (int round = 0; round < 20; ++round) {
    for (std::size_t i = 0; i < regions.size(); ++i) {
      if (round > 0 && (i + static_cast<std::size_t>(round)) % 3 != 0) continue;
      if (live[i].addr != 0) REQUIRE(dma.unmap(live[i].addr) == DmaError::kOk);
      live[i] = dma.map(regions[i], DmaDirection::kToDevice, MemoryPlacement::kHostMemory);
      REQUIRE(live[i].ok());
    }
    for (std::size_t i = 0; i < regions.size(); ++i) {
      const DmaTarget t = dma.resolve_for_device_read(live[i].addr, regions[i].size());
      REQUIRE(t.ok());
      CHECK(t.bytes.data() == regions[i].data());
    }
  }
  CHECK(dma.mapping_count() == regions.size());
  for (DmaMapping& m : live) REQUIRE(dma.unmap(m.addr) == DmaError::kOk);
  CHECK(dma.mapping_count() == 0);
  CHECK(dma.mapped_bytes() == 0);
  CHECK(dma.stats().unmap_errors == 0);
}

TEST_CASE("dma: direction and error names are the kernel's words", "[netmem][unit]") {
  CHECK(std::string(to_string(DmaDirection::kBidirectional)) == "DMA_BIDIRECTIONAL");
  CHECK(std::string(to_string(DmaDirection::kToDevice)) == "DMA_TO_DEVICE");
  CHECK(std::string(to_string(DmaDirection::kFromDevice)) == "DMA_FROM_DEVICE");
  CHECK(std::string(to_string(DmaDirection::kNone)) == "DMA_NONE");
  CHECK(static_cast<int>(DmaDirection::kBidirectional) == 0);
  CHECK(static_cast<int>(DmaDirection::kToDevice) == 1);
  CHECK(static_cast<int>(DmaDirection::kFromDevice) == 2);
  CHECK(static_cast<int>(DmaDirection::kNone) == 3);
  CHECK(std::string(to_string(DmaError::kExhausted)) == "I/O virtual address space exhausted");
}
