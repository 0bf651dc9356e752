// nicemu/base/stream_copy.hpp — memcpy with streaming (non-temporal) stores.
//
// For the simulator's own speed, not a model: the bytes land exactly as memcpy puts them. A
// streaming store writes around the caches, so copying data that nothing reads for a long time
// (a sender's socket write queue megabytes deep) neither reads the destination's cache lines
// first nor evicts what the next events need. Data read again soon should use memcpy.
#pragma once

#include <cstddef>

namespace nicemu::base {

// Copies n bytes from `from` to `to` (no overlap). Short copies (< 256 bytes) use memcpy. Ends
// with a store fence, so the bytes are ordered before anything the caller does next.
void copy_streaming(std::byte* to, const std::byte* from, std::size_t n);

}  // namespace nicemu::base
