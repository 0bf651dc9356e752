// base::copy_streaming: the same bytes as memcpy for every length and both alignments, nothing
// written outside the destination.
#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

#include "nicemu/base/stream_copy.hpp"

using nicemu::base::copy_streaming;

TEST_CASE("base: copy_streaming copies exactly the bytes memcpy would, at any length and alignment",
          "[base][unit]") {
  std::vector<std::byte> src(5000);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::byte>((i * 131 + 7) & 0xff);
  for (std::size_t len : {0u, 1u, 15u, 255u, 256u, 257u, 1000u, 4096u, 4500u}) {
    for (std::size_t dst_off : {0u, 1u, 8u, 13u}) {
      for (std::size_t src_off : {0u, 3u}) {
        std::vector<std::byte> dst(len + 64, std::byte{0xee});
        copy_streaming(dst.data() + dst_off, src.data() + src_off, len);
        INFO("length " << len << " destination offset " << dst_off << " source offset " << src_off);
        for (std::size_t i = 0; i < dst_off; ++i) REQUIRE(dst[i] == std::byte{0xee});
        for (std::size_t i = 0; i < len; ++i) REQUIRE(dst[dst_off + i] == src[src_off + i]);
        for (std::size_t i = dst_off + len; i < dst.size(); ++i) REQUIRE(dst[i] == std::byte{0xee});
      }
    }
  }
}
