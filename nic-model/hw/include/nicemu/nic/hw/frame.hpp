// nicemu/nic/hw/frame.hpp — Ethernet frames as the port hardware sees them, and their buffers.
//
// Models: a frame as the bytes from the destination MAC through the end of the payload (what a
//   MAC hands to the host and takes from it: no preamble, SFD or FCS stored); its cost on the
//   wire (the frame, padded to the 60-byte minimum, plus 24 bytes of preamble, SFD, FCS and
//   inter-frame gap); a pool of fixed-size frame buffers (MTU 9216 plus the Ethernet header
//   and two VLAN tags) handed out as move-only owners; taps that observe frames at a port.
// Not modelled: the FCS bytes themselves (an FCS error is a flag the link sets, see link.hpp),
//   frames longer than kMaxFrameLen, 802.3 length/LLC frames (the switch forwards them by MAC
//   like any frame; nothing here interprets the EtherType).
// References: IEEE 802.3 §3.1.1 (frame format), §4.2.3.3 (pad to minFrameSize 64 with the FCS),
//   §4.4.2 (interFrameGap 96 bits); include/uapi/linux/if_ether.h (ETH_HLEN 14, ETH_ZLEN 60,
//   ETH_FCS_LEN 4, ETH_MIN_MTU 68), include/linux/if_vlan.h (VLAN_HLEN 4); the buffer-owner
//   idea of Seastar's packet deleters and the kernel's page_pool inflight accounting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/byte_worker.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::nic::hw {

inline constexpr std::size_t kEthHeaderLen = 14;    // ETH_HLEN: destination, source, EtherType
inline constexpr std::size_t kVlanTagLen = 4;       // VLAN_HLEN
inline constexpr std::size_t kMaxVlanTags = 2;      // 802.1ad service tag + 802.1Q customer tag
inline constexpr std::size_t kMinFrameLen = 60;     // ETH_ZLEN: the 64-byte minimum without FCS
inline constexpr std::size_t kFcsLen = 4;           // ETH_FCS_LEN
inline constexpr std::uint32_t kMinMtu = 68;        // ETH_MIN_MTU (RFC 791's minimum IPv4 MTU)
inline constexpr std::uint32_t kMaxMtu = 9216;      // the largest jumbo MTU nicemu's NICs accept
// The longest frame any port accepts: MTU 9216 + header + two tags = 9238 bytes.
inline constexpr std::size_t kMaxFrameLen = kMaxMtu + kEthHeaderLen + kMaxVlanTags * kVlanTagLen;
// Per frame on the wire besides its bytes: preamble 7 + SFD 1 + FCS 4 + inter-frame gap 12.
inline constexpr std::size_t kWireOverheadBytes = 24;

// Bytes a frame of `frame_len` occupies on the wire: padded to kMinFrameLen, plus the overhead.
constexpr std::uint64_t wire_bytes(std::size_t frame_len) {
  return (frame_len < kMinFrameLen ? kMinFrameLen : frame_len) + kWireOverheadBytes;
}
// The time a frame of `frame_len` holds a port's transmitter at `line_rate_bps`
// (1514 bytes at 100 Gbit/s: 1538 wire bytes, 123.04 ns).
constexpr sim::Duration wire_time(std::size_t frame_len, std::uint64_t line_rate_bps) {
  return sim::transmit_time(wire_bytes(frame_len), line_rate_bps);
}

namespace detail {
// A FIFO of move-only values in a power-of-two ring that grows (doubling) only when full, so a
// queue that has reached its working size allocates nothing (std::deque allocates and frees
// blocks as it moves). T must be default-constructible and nothrow-movable.
template <class T>
class MoveRing {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  T& front() {
    NICEMU_ASSERT(size_ > 0, "MoveRing::front on an empty ring");
    return buf_[head_];
  }
  void push_back(T v) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = std::move(v);
    ++size_;
  }
  // Makes room for `n` values without growing later (rounded up to a power of two).
  void reserve(std::size_t n) {
    if (n <= buf_.size()) return;
    std::size_t cap = buf_.empty() ? 16 : buf_.size();
    while (cap < n) cap *= 2;
    regrow(cap);
  }
  T pop_front() {
    NICEMU_ASSERT(size_ > 0, "MoveRing::pop_front on an empty ring");
    T v = std::move(buf_[head_]);
    buf_[head_] = T{};
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
    return v;
  }

 private:
  void grow() { regrow(buf_.empty() ? 16 : buf_.size() * 2); }
  void regrow(std::size_t cap) {
    std::vector<T> bigger(cap);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(buf_[(head_ + i) & (buf_.size() - 1)]);
    buf_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> buf_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};
}  // namespace detail

class FramePool;

namespace detail {
// One buffer's bookkeeping; lives in the pool, at a stable address, for the pool's lifetime.
struct FrameSlot {
  std::byte* data = nullptr;  // kMaxFrameLen bytes
  std::uint64_t id = 0;
  std::uint32_t len = 0;
  // The last base::ByteWorker job that writes or reads these bytes (0: none): every access from
  // the simulation thread waits for it first.
  std::uint64_t job = 0;
};
}  // namespace detail

// Owns one frame buffer of a FramePool: move-only; destroying or reset()ting it returns the
// buffer. An empty FrameRef (default-constructed, moved-from, or a failed alloc) owns nothing.
class FrameRef {
 public:
  FrameRef() = default;
  FrameRef(FrameRef&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), slot_(std::exchange(o.slot_, nullptr)) {}
  FrameRef& operator=(FrameRef&& o) noexcept {
    if (this != &o) {
      reset();
      pool_ = std::exchange(o.pool_, nullptr);
      slot_ = std::exchange(o.slot_, nullptr);
    }
    return *this;
  }
  FrameRef(const FrameRef&) = delete;
  FrameRef& operator=(const FrameRef&) = delete;
  ~FrameRef() { reset(); }

  bool valid() const { return slot_ != nullptr; }
  explicit operator bool() const { return valid(); }

  // The trace id: unique among the frames one pool has handed out (1, 2, ...), 0 = none.
  std::uint64_t id() const { return slot().id; }
  void set_id(std::uint64_t id) { slot().id = id; }

  std::size_t len() const { return slot().len; }
  // Sets the frame's length; bytes past the old length keep whatever the buffer held.
  void set_len(std::size_t len) {
    NICEMU_ASSERT(len <= kMaxFrameLen, "FrameRef::set_len: longer than kMaxFrameLen (9238 bytes)");
    slot().len = static_cast<std::uint32_t>(len);
  }
  static constexpr std::size_t capacity() { return kMaxFrameLen; }

  // The bytes, once the byte worker's job on them (if any) has run.
  std::span<std::byte> bytes() { return {settled().data, slot().len}; }
  std::span<const std::byte> bytes() const { return {settled().data, slot().len}; }
  // The whole buffer (capacity() bytes), for writers that fill it before set_len().
  std::span<std::byte> buffer() { return {settled().data, kMaxFrameLen}; }
  // The bytes without waiting for the byte worker, for parsers of header fields: the TX engine
  // writes a frame's headers itself before it hands the payload and the TCP checksum to the
  // worker, so everything here is final except those (parse_packet without L4 verification
  // reads neither).
  std::span<const std::byte> header_bytes() const { return {slot().data, slot().len}; }
  // A byte worker job now writes or reads this frame (base/byte_worker.hpp).
  void set_job(std::uint64_t job) { slot().job = job; }

  // A copy of the bytes in a new buffer from the same pool, with a fresh id. Empty when the
  // pool is at its limit (counted in the pool's alloc_failed).
  FrameRef clone() const;

  FramePool* pool() const { return pool_; }
  void reset();

 private:
  friend class FramePool;
  FrameRef(FramePool* pool, detail::FrameSlot* slot) : pool_(pool), slot_(slot) {}
  detail::FrameSlot& slot() const {
    NICEMU_ASSERT(slot_ != nullptr, "FrameRef: used while empty (moved-from or a failed alloc)");
    return *slot_;
  }
  detail::FrameSlot& settled() const {
    detail::FrameSlot& s = slot();
    if (s.job != 0) {
      base::ByteWorker::get().wait(s.job);
      s.job = 0;
    }
    return s;
  }

  FramePool* pool_ = nullptr;
  detail::FrameSlot* slot_ = nullptr;
};

struct FramePoolStats {
  std::uint64_t allocs = 0;        // successful alloc() calls (clones included)
  std::uint64_t alloc_failed = 0;  // alloc() at max_frames: the caller counts its own drop
  std::size_t in_use = 0;          // buffers owned by FrameRefs now
  std::size_t high_water = 0;      // the most ever in use at once
  std::size_t capacity = 0;        // buffers allocated so far (free + in use)
};

// A pool of kMaxFrameLen-byte buffers. It grows in chunks of kFramesPerChunk buffers only when
// more frames are alive than ever before (as the event queue grows), so steady state allocates
// nothing; reserve() pre-allocates. `max_frames` (0 = no limit) bounds it for tests and for
// memory budgets; a frame on a simulated wire occupies no silicon buffer, so a topology
// normally leaves it unlimited. Ids come from a per-pool counter, so they follow the
// (deterministic) allocation order. Not thread-safe (one simulation, one thread).
class FramePool {
 public:
  static constexpr std::size_t kFramesPerChunk = 64;

  explicit FramePool(std::size_t max_frames = 0);
  // Every FrameRef must be gone: destroy links, switches and queues holding frames first.
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // A buffer with len() == 0 and a fresh id; empty at max_frames.
  FrameRef alloc();
  // alloc() and copy `bytes` in (asserts bytes.size() <= kMaxFrameLen).
  FrameRef alloc_copy(std::span<const std::byte> bytes);
  void reserve(std::size_t frames);

  const FramePoolStats& stats() const { return stats_; }
  std::size_t in_use() const { return stats_.in_use; }
  // The id the next successful alloc() hands out (tracing: names the frame a TX engine is about
  // to make, sim/packet_trace.hpp).
  std::uint64_t next_id() const { return next_id_; }
  std::size_t max_frames() const { return max_frames_; }

 private:
  friend class FrameRef;
  // Buffers lie a whole number of cache lines apart, so all start at the same offset within a
  // line: the chunk's, which new[] aligns to 16 bytes only (in the flagship on Debian 12 they
  // start 32 bytes into a line). Moving the boundaries within the headers (so the parser's 48
  // bytes and the TCP checksum the byte worker writes fall on different lines) measured no
  // different (session 11, docs/performance.md).
  static constexpr std::size_t kStride = (kMaxFrameLen + 63) / 64 * 64;

  void add_chunk();
  void release(detail::FrameSlot* slot);

  std::size_t max_frames_;
  std::vector<std::unique_ptr<std::byte[]>> data_chunks_;
  std::vector<std::unique_ptr<detail::FrameSlot[]>> slot_chunks_;
  // FIFO: the buffer freed longest ago is reused first, so a byte worker job still reading a
  // just-freed frame seldom holds up the next alloc.
  detail::MoveRing<detail::FrameSlot*> free_;
  std::uint64_t next_id_ = 1;
  FramePoolStats stats_;
};

inline void FrameRef::reset() {
  if (slot_ != nullptr) {
    pool_->release(slot_);
    pool_ = nullptr;
    slot_ = nullptr;
  }
}

// Where a tap sees a frame on a port.
enum class TapPoint : std::uint8_t {
  kTx = 1,  // the first bit leaves this port (start of serialization); bytes as sent
  kRx = 2,  // the last bit has arrived at this port (delivery); bytes as received
  kBoth = 3,
};

// An observer of frames at a port (pcap capture, tracing). Called synchronously from the
// datapath; it must not keep the span, and must not transmit or change carrier from the call.
class FrameTap {
 public:
  virtual void on_frame(TapPoint point, sim::TimePoint t, std::uint64_t frame_id,
                        std::span<const std::byte> bytes) = 0;

 protected:
  ~FrameTap() = default;
};

// Record kinds the link and switch feed into a sim::TraceDigest (values listed per kind).
// The codes are part of the digest contract: changing one changes every stored digest.
namespace trace_kind {
inline constexpr std::uint32_t kLinkTxStart = 0x4c4b0001;    // {direction, frame id, len}
inline constexpr std::uint32_t kLinkDelivered = 0x4c4b0002;  // {direction, frame id, len}
inline constexpr std::uint32_t kLinkDrop = 0x4c4b0003;       // {direction, frame id, reason}
inline constexpr std::uint32_t kLinkCorrupt = 0x4c4b0004;    // {direction, frame id, offset, xor mask}
inline constexpr std::uint32_t kLinkDuplicate = 0x4c4b0005;  // {direction, frame id, copy id}
inline constexpr std::uint32_t kLinkReorder = 0x4c4b0006;    // {direction, frame id, extra delay ps}
inline constexpr std::uint32_t kLinkCarrier = 0x4c4b0007;    // {link trace id, up}
inline constexpr std::uint32_t kSwitchLearn = 0x53570001;    // {switch id, port, mac}
inline constexpr std::uint32_t kSwitchForward = 0x53570002;  // {switch id, in port, out port, frame id}
inline constexpr std::uint32_t kSwitchFlood = 0x53570003;    // {switch id, in port, frame id}
inline constexpr std::uint32_t kSwitchDrop = 0x53570004;     // {switch id, port, frame id, reason}
}  // namespace trace_kind


}  // namespace nicemu::nic::hw
