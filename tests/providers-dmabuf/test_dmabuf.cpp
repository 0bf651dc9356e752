// The udmabuf-like exporter: sizes, descriptor numbers, dma_buf_get's errors, DMA_BUF_IOCTL_SYNC's
// flag checks, and the device's writes showing through the application's mapping.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/netmem.hpp"
#include "nicemu/providers/dmabuf/dmabuf.hpp"

using namespace nicemu;
using namespace nicemu::providers::dmabuf;

TEST_CASE("dmabuf: a buffer is a whole number of pages, and descriptors are the lowest free from 3",
          "[providers-dmabuf][unit]") {
  DmabufExporter ex;
  CHECK(ex.create(0, netmem::MemoryPlacement::kDeviceMemory) == -EINVAL);
  CHECK(ex.create(netmem::kPageSize + 1, netmem::MemoryPlacement::kDeviceMemory) == -EINVAL);
  const int a = ex.create(4 * netmem::kPageSize, netmem::MemoryPlacement::kDeviceMemory);
  const int b = ex.create(netmem::kPageSize, netmem::MemoryPlacement::kHostMemory);
  CHECK(a == 3);
  CHECK(b == 4);
  REQUIRE(ex.close(a) == 0);
  CHECK(ex.close(a) == -EBADF);
  CHECK(ex.create(netmem::kPageSize, netmem::MemoryPlacement::kHostMemory) == 3);
  std::shared_ptr<Dmabuf> buf;
  REQUIRE(ex.get(b, &buf) == 0);
  CHECK(buf->size() == netmem::kPageSize);
  CHECK(buf->placement() == netmem::MemoryPlacement::kHostMemory);
}

TEST_CASE("dmabuf: dma_buf_get is EBADF for no file and EINVAL for a file that is not a dma-buf",
          "[providers-dmabuf][unit]") {
  DmabufExporter ex([](int fd) { return fd == 3 || fd == 5; });  // two sockets
  const int fd = ex.create(netmem::kPageSize, netmem::MemoryPlacement::kDeviceMemory);
  CHECK(fd == 4);  // 3 is taken by a socket
  std::shared_ptr<Dmabuf> buf;
  CHECK(ex.get(3, &buf) == -EINVAL);
  CHECK(ex.get(7, &buf) == -EBADF);
  CHECK(ex.get(fd, &buf) == 0);
  // The importer's reference outlives the descriptor.
  REQUIRE(ex.close(fd) == 0);
  CHECK(ex.get(fd, &buf) == -EBADF);
  CHECK(buf->size() == netmem::kPageSize);
}

TEST_CASE("dmabuf: DMA_BUF_IOCTL_SYNC takes READ and/or WRITE with START or END, nothing else",
          "[providers-dmabuf][unit]") {
  DmabufExporter ex;
  std::shared_ptr<Dmabuf> buf;
  REQUIRE(ex.get(ex.create(netmem::kPageSize, netmem::MemoryPlacement::kDeviceMemory), &buf) == 0);
  CHECK(buf->sync(kDmaBufSyncStart) == -EINVAL);                // neither READ nor WRITE
  CHECK(buf->sync(kDmaBufSyncRead | (1u << 3)) == -EINVAL);     // an unknown bit
  CHECK(buf->sync(kDmaBufSyncStart | kDmaBufSyncRead) == 0);
  CHECK(buf->in_cpu_access());
  CHECK(buf->sync(kDmaBufSyncEnd | kDmaBufSyncRead) == 0);
  CHECK_FALSE(buf->in_cpu_access());
  CHECK(buf->sync(kDmaBufSyncStart | kDmaBufSyncRw) == 0);
  CHECK(buf->stats().sync_start == 2);
  CHECK(buf->stats().sync_end == 1);
  CHECK(buf->stats().sync_errors == 2);
}

TEST_CASE("dmabuf: what a device writes through its attachment is what the application's mapping reads",
          "[providers-dmabuf][unit]") {
  DmabufExporter ex;
  std::shared_ptr<Dmabuf> buf;
  REQUIRE(ex.get(ex.create(3 * netmem::kPageSize, netmem::MemoryPlacement::kDeviceMemory), &buf) == 0);
  netmem::DmaSpace dma;
  const netmem::DmaMapping m = buf->attach(dma, netmem::DmaDirection::kFromDevice);
  REQUIRE(m.ok());
  // The device writes 10 bytes across the first page boundary.
  const netmem::DmaTarget t = dma.resolve_for_device_write(m.addr + netmem::kPageSize - 4, 10);
  REQUIRE(t.ok());
  CHECK(t.placement == netmem::MemoryPlacement::kDeviceMemory);
  for (std::size_t i = 0; i < 10; ++i) t.bytes[i] = static_cast<std::byte>(0xa0 + i);
  REQUIRE(buf->sync(kDmaBufSyncStart | kDmaBufSyncRead) == 0);
  const auto view = buf->map();
  for (std::size_t i = 0; i < 10; ++i) CHECK(view[netmem::kPageSize - 4 + i] == static_cast<std::byte>(0xa0 + i));
  REQUIRE(buf->sync(kDmaBufSyncEnd | kDmaBufSyncRead) == 0);
  buf->detach(dma, m.addr);
  CHECK_FALSE(dma.resolve_for_device_write(m.addr, 1).ok());
  CHECK(buf->stats().attachments == 1);
  CHECK(buf->stats().detachments == 1);
}
