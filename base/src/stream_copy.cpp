// copy_streaming: SSE2 (every x86-64) streaming stores of 16 bytes once the destination is
// aligned; the unaligned head and the tail go through memcpy. Other architectures use memcpy.
#include "nicemu/base/stream_copy.hpp"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace nicemu::base {

void copy_streaming(std::byte* to, const std::byte* from, std::size_t n) {
#if defined(__x86_64__)
  if (n >= 256) {
    const std::size_t head = (16 - (reinterpret_cast<std::uintptr_t>(to) & 15u)) & 15u;
    std::memcpy(to, from, head);
    to += head;
    from += head;
    n -= head;
    for (; n >= 64; n -= 64, to += 64, from += 64) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 16));
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 32));
      const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 48));
      _mm_stream_si128(reinterpret_cast<__m128i*>(to), a);
      _mm_stream_si128(reinterpret_cast<__m128i*>(to + 16), b);
      _mm_stream_si128(reinterpret_cast<__m128i*>(to + 32), c);
      _mm_stream_si128(reinterpret_cast<__m128i*>(to + 48), d);
    }
    for (; n >= 16; n -= 16, to += 16, from += 16) {
      _mm_stream_si128(reinterpret_cast<__m128i*>(to), _mm_loadu_si128(reinterpret_cast<const __m128i*>(from)));
    }
    std::memcpy(to, from, n);
    _mm_sfence();
    return;
  }
#endif
  std::memcpy(to, from, n);
}

}  // namespace nicemu::base
