// The udmabuf-like exporter (see dmabuf.hpp for what is modelled).
#include "nicemu/providers/dmabuf/dmabuf.hpp"

#include <cerrno>

#include <sys/mman.h>
#include <unistd.h>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/byte_worker.hpp"
#include "nicemu/netmem/netmem.hpp"

namespace nicemu::providers::dmabuf {

Dmabuf::Dmabuf(std::uint64_t id, int memfd, std::size_t size, std::byte* dev_view, std::byte* app_view,
               netmem::MemoryPlacement placement)
    : id_(id), memfd_(memfd), size_(size), dev_view_(dev_view), app_view_(app_view), placement_(placement) {}

Dmabuf::~Dmabuf() {
  base::ByteWorker::get().drain();  // no byte worker job may still touch the mappings
  ::munmap(dev_view_, size_);
  ::munmap(app_view_, size_);
  ::close(memfd_);
}

int Dmabuf::sync(std::uint64_t flags) {
  // kernel: dma_buf_ioctl(DMA_BUF_IOCTL_SYNC)
  if ((flags & ~kDmaBufSyncValidFlagsMask) != 0 || (flags & kDmaBufSyncRw) == 0) {
    ++stats_.sync_errors;
    return -EINVAL;
  }
  if ((flags & kDmaBufSyncEnd) != 0) {
    ++stats_.sync_end;
    if (cpu_access_ > 0) --cpu_access_;
  } else {
    ++stats_.sync_start;
    ++cpu_access_;
  }
  return 0;
}

netmem::DmaMapping Dmabuf::attach(netmem::DmaSpace& dma, netmem::DmaDirection dir) {
  const netmem::DmaMapping m = dma.map(std::span<std::byte>(dev_view_, size_), dir, placement_);
  if (m.ok()) ++stats_.attachments;
  return m;
}

void Dmabuf::detach(netmem::DmaSpace& dma, netmem::DmaAddr addr) {
  (void)dma.unmap(addr);
  ++stats_.detachments;
}

int DmabufExporter::create(std::size_t size, netmem::MemoryPlacement placement) {
  if (size == 0 || size % netmem::kPageSize != 0) return -EINVAL;
  const int memfd = ::memfd_create("nicemu-udmabuf", MFD_CLOEXEC);
  if (memfd < 0) return -ENOMEM;
  if (::ftruncate(memfd, static_cast<off_t>(size)) != 0) {
    ::close(memfd);
    return -ENOMEM;
  }
  // Two views of the same pages: the device's (what an attachment maps) and the application's.
  // Both populated now: udmabuf pins every page of the memfd at UDMABUF_CREATE, so the memory
  // exists from creation on (and a run does not pay first-touch faults in its data path).
  void* dev = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, memfd, 0);
  void* app = dev == MAP_FAILED ? MAP_FAILED
                                : ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, memfd, 0);
  if (dev == MAP_FAILED || app == MAP_FAILED) {
    if (dev != MAP_FAILED) ::munmap(dev, size);
    ::close(memfd);
    return -ENOMEM;
  }
  int fd = 3;  // the lowest free number from 3 (0-2 are the standard streams)
  while (is_open(fd) || (other_files_ && other_files_(fd))) ++fd;
  files_[fd] = std::shared_ptr<Dmabuf>(
      new Dmabuf(next_id_++, memfd, size, static_cast<std::byte*>(dev), static_cast<std::byte*>(app), placement));
  return fd;
}

int DmabufExporter::close(int fd) {
  return files_.erase(fd) == 1 ? 0 : -EBADF;
}

int DmabufExporter::get(int fd, std::shared_ptr<Dmabuf>* out) const {
  auto it = files_.find(fd);
  if (it == files_.end()) return (other_files_ && other_files_(fd)) ? -EINVAL : -EBADF;
  *out = it->second;
  return 0;
}

}  // namespace nicemu::providers::dmabuf
