// The page pool fragment allocator: several users share one buffer through pp_ref_count.
#include <catch2/catch.hpp>

#include "page_pool_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::page_pool;
using netmem::NetmemRef;
using nicemu::testing::PoolHost;

TEST_CASE("page pool frag: fragments are carved from one page at increasing offsets", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  std::uint32_t off[5] = {};
  NetmemRef f[5];
  for (int i = 0; i < 4; ++i) f[i] = pool.alloc_frag_netmem(&off[i], 1000);
  CHECK(f[0] == f[1]);
  CHECK(f[0] == f[3]);
  CHECK(off[0] == 0);
  CHECK(off[1] == 1000);
  CHECK(off[3] == 3000);
  CHECK(f[0].desc().pp_ref_count == kBiasMax);
  // The fifth does not fit: the first page is drained to its 4 users, a new page starts.
  f[4] = pool.alloc_frag_netmem(&off[4], 1000);
  CHECK_FALSE(f[4] == f[0]);
  CHECK(off[4] == 0);
  CHECK(f[0].desc().pp_ref_count == 4);
  // Users return one by one; only the last recycles the page.
  const std::uint32_t cache = pool.alloc_cache_count();
  for (int i = 0; i < 3; ++i) pool.recycle_direct(f[i]);
  CHECK(pool.alloc_cache_count() == cache);
  pool.recycle_direct(f[3]);
  CHECK(pool.alloc_cache_count() == cache + 1);
  CHECK(f[0].desc().pp_ref_count == 1);
}

TEST_CASE("page pool frag: a drained page whose users are gone is reused at once", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  std::uint32_t off = 0;
  NetmemRef a = pool.alloc_frag_netmem(&off, 3000);
  pool.recycle_direct(a);  // the only user returns; the pool still holds the bias
  const auto fast = pool.stats().alloc.fast;
  const auto cached = pool.stats().recycle.cached;
  NetmemRef b = pool.alloc_frag_netmem(&off, 3000);  // does not fit after 3000: drain
  CHECK(b == a);
  CHECK(off == 0);
  CHECK(pool.stats().alloc.fast == fast + 1);
  CHECK(pool.stats().recycle.cached == cached + 1);
  pool.recycle_direct(b);
}

TEST_CASE("page pool frag: larger than the buffer fails", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  std::uint32_t off = 0;
  CHECK_FALSE(pool.alloc_frag_netmem(&off, 4097));
}

TEST_CASE("page pool alloc_netmem: whole buffer above half a page, else a fragment that may take the rest",
          "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  std::uint32_t off = 99, size = 3000;
  NetmemRef whole = pool.alloc_netmem(&off, &size);
  CHECK(size == 4096);
  CHECK(off == 0);
  CHECK(whole.desc().pp_ref_count == 1);
  std::uint32_t off1 = 0, size1 = 1500;
  NetmemRef a = pool.alloc_netmem(&off1, &size1);
  CHECK(size1 == 1500);
  std::uint32_t off2 = 0, size2 = 1500;
  NetmemRef b = pool.alloc_netmem(&off2, &size2);
  CHECK(b == a);
  CHECK(off2 == 1500);
  CHECK(size2 == 4096 - 1500);  // no room for a third: this one takes the rest (truesize)
  pool.recycle_direct(whole);
  pool.recycle_direct(a);
  pool.recycle_direct(b);
}

TEST_CASE("page pool frag: destroy drains the current fragment page", "[page_pool][unit]") {
  PoolHost h;
  PagePool& pool = h.create();
  std::uint32_t off = 0;
  NetmemRef a = pool.alloc_frag_netmem(&off, 512);
  pool.recycle_direct(a);
  pool.destroy();
  CHECK(h.registry.size() == 0);  // nothing inflight: the bias was dropped
  CHECK(h.memory.pages_in_use() == 0);
}
