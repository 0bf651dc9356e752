// Frame buffers and wire cost: the pool's reuse, growth, limit and ids; clone; the 24-byte
// overhead and the 60-byte minimum in wire_time.
#include <catch2/catch.hpp>

#include <algorithm>

#include <cstring>

#include "link_fixtures.hpp"
#include "nicemu/nic/hw/frame.hpp"

using namespace nicemu;
using namespace nicemu::nic::hw;
using nicemu::testing::make_frame;
using nicemu::testing::mac;

TEST_CASE("frame: a 1514-byte frame costs 1538 wire bytes, 123.04 ns at 100 Gbit/s", "[nic][hw][link][unit]") {
  CHECK(kMaxFrameLen == 9238);
  CHECK(wire_bytes(1514) == 1538);
  CHECK(wire_time(1514, 100'000'000'000).ps() == 123'040);
  // Short frames are padded to 60 bytes on the wire: 84 bytes = 6.72 ns at 100 Gbit/s.
  CHECK(wire_bytes(14) == 84);
  CHECK(wire_time(42, 100'000'000'000).ps() == 6'720);
  CHECK(wire_time(60, 100'000'000'000).ps() == 6'720);
  // A 9238-byte jumbo frame at 25 Gbit/s: 9262 * 8 / 25e9 s = 2963.84 ns.
  CHECK(wire_time(9238, 25'000'000'000).ps() == 2'963'840);
}

TEST_CASE("frame pool: freed buffers are reused, ids count up, and the pool grows only past its high-water mark",
          "[nic][hw][link][unit]") {
  FramePool pool;
  CHECK(pool.stats().capacity == 0);
  FrameRef a = pool.alloc();
  REQUIRE(a);
  CHECK(a.id() == 1);
  CHECK(a.len() == 0);
  CHECK(pool.stats().capacity == FramePool::kFramesPerChunk);
  const std::byte* buf_a = a.buffer().data();
  a.reset();
  CHECK(pool.in_use() == 0);
  FrameRef b = pool.alloc();
  CHECK(b.id() == 2);
  // FIFO reuse: the buffer freed longest ago comes first (a byte worker job may still be reading
  // the one freed last), so buf_a comes back after the chunk's other free buffers.
  CHECK(b.buffer().data() != buf_a);
  std::vector<FrameRef> rest;
  for (std::size_t i = 0; i + 2 < FramePool::kFramesPerChunk; ++i) rest.push_back(pool.alloc());
  CHECK(std::find_if(rest.begin(), rest.end(), [&](FrameRef& f) { return f.buffer().data() == buf_a; }) == rest.end());
  FrameRef again = pool.alloc();
  CHECK(again.buffer().data() == buf_a);
  CHECK(pool.stats().capacity == FramePool::kFramesPerChunk);
  rest.clear();
  again.reset();

  std::vector<FrameRef> many;
  for (std::size_t i = 0; i < FramePool::kFramesPerChunk; ++i) many.push_back(pool.alloc());
  CHECK(pool.stats().capacity == 2 * FramePool::kFramesPerChunk);
  CHECK(pool.stats().high_water == FramePool::kFramesPerChunk + 1);
  many.clear();
  b.reset();
  // Back under the high-water mark: no growth.
  for (std::size_t i = 0; i < FramePool::kFramesPerChunk; ++i) many.push_back(pool.alloc());
  CHECK(pool.stats().capacity == 2 * FramePool::kFramesPerChunk);
  CHECK(pool.in_use() == FramePool::kFramesPerChunk);
  many.clear();
  CHECK(pool.in_use() == 0);
}

TEST_CASE("frame pool: at max_frames alloc fails and counts alloc_failed, clone copies bytes with a fresh id",
          "[nic][hw][link][unit]") {
  FramePool pool(3);
  FrameRef a = make_frame(pool, 100, mac(2), mac(1), 9);
  FrameRef b = a.clone();
  REQUIRE(b);
  CHECK(b.id() != a.id());
  CHECK(b.len() == 100);
  CHECK(std::memcmp(a.bytes().data(), b.bytes().data(), 100) == 0);
  CHECK(b.bytes().data() != a.bytes().data());
  FrameRef c = pool.alloc();
  REQUIRE(c);
  FrameRef d = pool.alloc();
  CHECK_FALSE(d);
  CHECK_FALSE(a.clone());
  CHECK(pool.stats().alloc_failed == 2);
  CHECK(pool.stats().capacity == 3);
  c.reset();
  CHECK(pool.alloc());  // a freed buffer is available again
  FrameRef moved = std::move(a);
  CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from owner is empty
  CHECK(moved.len() == 100);
  CHECK(pool.in_use() == 2);
}
