// nicemu/providers/dmabuf/dmabuf.hpp — a dma-buf exporter in the style of udmabuf.
//
// Models: drivers/dma-buf/udmabuf.c as ncdevmem uses it: a memfd of a page-multiple size turned
//   into a dma-buf file descriptor (UDMABUF_CREATE); dma_buf_get() on a descriptor (-EBADF for no
//   file, -EINVAL for a file that is not a dma-buf); the importer's attachment, which gives the
//   device one contiguous DMA mapping of the whole buffer (dma_buf_attach +
//   dma_buf_map_attachment); the exporter's mmap, through which the application reads what the
//   device wrote, bracketed by DMA_BUF_IOCTL_SYNC start/end calls with the kernel's flag checks.
//   Each buffer also says where its memory is (device memory behind a PCIe switch, or host
//   memory): the NIC's timing model charges DMA to it over that path.
// Not modelled: scatter-gather tables of several entries (one contiguous mapping), fences,
//   dma_buf_ops other than the ones above, memfd seals (udmabuf requires F_SEAL_SHRINK).
//   Descriptors are numbered in the exporter's own table; a caller that owns another file table
//   (sockets) tells the exporter which numbers are taken (`FileProbe`).
// Netstack code has no way to read a buffer: the only readable views are the application's
//   mapping (Dmabuf::map) and the device's attachment (through the DmaSpace, as DMA).
// References: include/uapi/linux/udmabuf.h, include/uapi/linux/dma-buf.h (DMA_BUF_SYNC_*),
//   drivers/dma-buf/dma-buf.c (dma_buf_get, dma_buf_ioctl), tools/testing/selftests/drivers/net/
//   hw/ncdevmem.c; ../shared/reference/linux-kernel-semantics.md §3.3.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>

#include "nicemu/netmem/dma.hpp"

namespace nicemu::providers::dmabuf {

// include/uapi/linux/dma-buf.h
inline constexpr std::uint64_t kDmaBufSyncRead = 1u << 0;
inline constexpr std::uint64_t kDmaBufSyncWrite = 2u << 0;
inline constexpr std::uint64_t kDmaBufSyncRw = kDmaBufSyncRead | kDmaBufSyncWrite;
inline constexpr std::uint64_t kDmaBufSyncStart = 0u << 2;
inline constexpr std::uint64_t kDmaBufSyncEnd = 1u << 2;
inline constexpr std::uint64_t kDmaBufSyncValidFlagsMask = kDmaBufSyncRw | kDmaBufSyncEnd;

struct DmabufStats {
  std::uint64_t sync_start = 0;
  std::uint64_t sync_end = 0;
  std::uint64_t sync_errors = 0;
  std::uint64_t attachments = 0;  // dma_buf_attach + map_attachment calls that succeeded
  std::uint64_t detachments = 0;
};

// One dma-buf: memfd-backed memory mapped twice, once for devices (attach) and once for the
// application (map). Shared by its descriptor and every importer holding it (dma_buf_get).
class Dmabuf {
 public:
  ~Dmabuf();
  Dmabuf(const Dmabuf&) = delete;
  Dmabuf& operator=(const Dmabuf&) = delete;

  std::uint64_t id() const { return id_; }  // the exporter's buffer number (as an inode number)
  std::size_t size() const { return size_; }
  netmem::MemoryPlacement placement() const { return placement_; }

  // The application's mapping (mmap of the dma-buf descriptor). Read between sync(START) and
  // sync(END) for the device's writes to be visible, as on real hardware.
  std::span<const std::byte> map() const { return {app_view_, size_}; }
  std::span<std::byte> map_writable() { return {app_view_, size_}; }
  // kernel: DMA_BUF_IOCTL_SYNC: 0, or -EINVAL for flags outside DMA_BUF_SYNC_VALID_FLAGS_MASK or
  // with neither READ nor WRITE.
  int sync(std::uint64_t flags);
  bool in_cpu_access() const { return cpu_access_ > 0; }

  // kernel: dma_buf_attach() + dma_buf_map_attachment(): the whole buffer mapped for the device
  // behind `dma` in `dir`, at the buffer's placement. Returns the mapping (check ok()).
  netmem::DmaMapping attach(netmem::DmaSpace& dma, netmem::DmaDirection dir);
  // kernel: dma_buf_unmap_attachment() + dma_buf_detach().
  void detach(netmem::DmaSpace& dma, netmem::DmaAddr addr);

  const DmabufStats& stats() const { return stats_; }

 private:
  friend class DmabufExporter;
  Dmabuf(std::uint64_t id, int memfd, std::size_t size, std::byte* dev_view, std::byte* app_view,
         netmem::MemoryPlacement placement);

  std::uint64_t id_;
  int memfd_;
  std::size_t size_;
  std::byte* dev_view_;  // what attachments map for devices
  std::byte* app_view_;  // the application's mmap
  netmem::MemoryPlacement placement_;
  int cpu_access_ = 0;  // open sync(START) brackets
  DmabufStats stats_;
};

// Says whether a descriptor number is an open file of another kind (a socket): dma_buf_get()
// then answers -EINVAL instead of -EBADF, and create() does not hand that number out.
using FileProbe = std::function<bool(int fd)>;

// The exporter of one host: its descriptor table of dma-bufs.
class DmabufExporter {
 public:
  explicit DmabufExporter(FileProbe other_files = {}) : other_files_(std::move(other_files)) {}

  // udmabuf UDMABUF_CREATE over a fresh memfd of `size` bytes: the new descriptor, or -EINVAL
  // (size 0 or not a multiple of the page size), -ENOMEM (the memfd or its mappings failed).
  int create(std::size_t size, netmem::MemoryPlacement placement);
  // close(fd): the descriptor's reference goes; importers keep theirs. -EBADF if not a dma-buf.
  int close(int fd);
  // kernel: dma_buf_get(fd): a new reference, or -EBADF (no such file) / -EINVAL (not a dma-buf).
  int get(int fd, std::shared_ptr<Dmabuf>* out) const;

  std::size_t open_descriptors() const { return files_.size(); }
  bool is_open(int fd) const { return files_.count(fd) != 0; }

 private:
  FileProbe other_files_;
  std::map<int, std::shared_ptr<Dmabuf>> files_;
  std::uint64_t next_id_ = 1;
};

}  // namespace nicemu::providers::dmabuf
