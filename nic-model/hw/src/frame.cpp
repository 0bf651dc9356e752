// The frame buffer pool (see nicemu/nic/hw/frame.hpp).
#include "nicemu/nic/hw/frame.hpp"

#include <cstdio>
#include <cstring>

namespace nicemu::nic::hw {

FrameRef FrameRef::clone() const {
  return pool_->alloc_copy(bytes());
}

FramePool::FramePool(std::size_t max_frames) : max_frames_(max_frames) {}

FramePool::~FramePool() {
  base::ByteWorker::get().drain();  // no job may still touch the buffers freed here
  if (stats_.in_use != 0) {
    std::fprintf(stderr, "nicemu: FramePool destroyed with %zu frames still in use\n", stats_.in_use);
  }
  NICEMU_ASSERT(stats_.in_use == 0,
                "FramePool destroyed while frames are in use: destroy the links, switches and "
                "queues that hold frames before their pool");
}

void FramePool::add_chunk() {
  std::size_t n = kFramesPerChunk;
  if (max_frames_ != 0 && stats_.capacity + n > max_frames_) n = max_frames_ - stats_.capacity;
  NICEMU_ASSERT(n > 0, "FramePool::add_chunk: already at max_frames");
  // Not value-initialized: a fresh buffer's bytes are whatever the writer puts there, and pages
  // nobody writes are never touched.
  auto data = std::make_unique_for_overwrite<std::byte[]>(n * kStride);
  auto slots = std::make_unique<detail::FrameSlot[]>(n);
  free_.reserve(stats_.capacity + n);  // release() then never grows it
  for (std::size_t i = 0; i < n; ++i) {  // after the free buffers, the chunk's, first one first
    slots[i].data = data.get() + i * kStride;
    free_.push_back(&slots[i]);
  }
  data_chunks_.push_back(std::move(data));
  slot_chunks_.push_back(std::move(slots));
  stats_.capacity += n;
}

void FramePool::reserve(std::size_t frames) {
  if (max_frames_ != 0 && frames > max_frames_) frames = max_frames_;
  while (stats_.capacity < frames) add_chunk();
}

FrameRef FramePool::alloc() {
  if (free_.empty()) {
    if (max_frames_ != 0 && stats_.capacity >= max_frames_) {
      ++stats_.alloc_failed;
      return FrameRef();
    }
    add_chunk();
  }
  detail::FrameSlot* s = free_.pop_front();
  s->len = 0;
  s->id = next_id_++;
  ++stats_.allocs;
  ++stats_.in_use;
  if (stats_.in_use > stats_.high_water) stats_.high_water = stats_.in_use;
  return FrameRef(this, s);
}

FrameRef FramePool::alloc_copy(std::span<const std::byte> bytes) {
  NICEMU_ASSERT(bytes.size() <= kMaxFrameLen, "FramePool::alloc_copy: longer than kMaxFrameLen (9238 bytes)");
  FrameRef f = alloc();
  if (f) {
    if (!bytes.empty()) std::memcpy(f.buffer().data(), bytes.data(), bytes.size());
    f.set_len(bytes.size());
  }
  return f;
}

void FramePool::release(detail::FrameSlot* slot) {
  NICEMU_ASSERT(stats_.in_use > 0, "FramePool::release: more frames returned than handed out");
  --stats_.in_use;
  free_.push_back(slot);  // never allocates: reserved to capacity in add_chunk
}

}  // namespace nicemu::nic::hw
