// SkBuff and SkbAllocator: the slab (free list, limit, in_use), the linear-area operations,
// frags and the references they own, and where freed frags go (page pool ring or alloc cache,
// or put_page without pp_recycle).
#include <catch2/catch.hpp>

#include <vector>

#include "nicemu/netstack/core/skbuff.hpp"
#include "skb_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::netstack::core;
using netmem::NetmemRef;
using nicemu::testing::SkbHost;
using nicemu::testing::skb_bytes;

TEST_CASE("skb allocator: a freed skb is reused from the free list", "[netstack][core][unit]") {
  page_pool::CallerContext ctx;
  SkbAllocator a(ctx);
  SkBuff* first = a.alloc();
  REQUIRE(first != nullptr);
  a.free(first);
  SkBuff* second = a.alloc();
  CHECK(second == first);
  CHECK(a.stats().allocs == 2);
  CHECK(a.stats().frees == 1);
  CHECK(a.in_use() == 1);
  a.free(second);
}

TEST_CASE("skb allocator: a reused skb comes back clean with NET_SKB_PAD headroom", "[netstack][core][unit]") {
  page_pool::CallerContext ctx;
  SkbAllocator a(ctx);
  SkBuff* skb = a.alloc();
  skb->put(100);
  skb->protocol = 0x0800;
  skb->hash = 7;
  skb->gso_size = 1448;
  skb->cb[3] = std::byte{9};
  skb->unreadable = true;
  a.free(skb);
  SkBuff* again = a.alloc();
  REQUIRE(again == skb);
  CHECK(again->len() == 0);
  CHECK(again->headroom() == kNetSkbPad);
  CHECK(again->protocol == 0);
  CHECK(again->hash == 0);
  CHECK(again->gso_size == 0);
  CHECK(again->cb[3] == std::byte{0});
  CHECK_FALSE(again->unreadable);
  a.free(again);
}

TEST_CASE("skb allocator: the limit makes alloc return nullptr and counts alloc_failures", "[netstack][core][unit]") {
  page_pool::CallerContext ctx;
  SkbAllocator a(ctx, 2);
  SkBuff* s1 = a.alloc();
  SkBuff* s2 = a.alloc();
  REQUIRE(s1 != nullptr);
  REQUIRE(s2 != nullptr);
  CHECK(a.alloc() == nullptr);
  CHECK(a.alloc() == nullptr);
  CHECK(a.stats().alloc_failures == 2);
  CHECK(a.stats().allocs == 2);
  a.free(s1);
  SkBuff* s3 = a.alloc();
  CHECK(s3 == s1);
  a.free(s2);
  a.free(s3);
}

TEST_CASE("skb allocator: in_use goes back to 0 and peak_in_use keeps the high mark", "[netstack][core][unit]") {
  page_pool::CallerContext ctx;
  SkbAllocator a(ctx);
  std::vector<SkBuff*> held;
  for (int i = 0; i < 300; ++i) held.push_back(a.alloc());  // more than one chunk of 256
  CHECK(a.in_use() == 300);
  for (SkBuff* s : held) kfree_skb(s);
  CHECK(a.in_use() == 0);
  CHECK(a.stats().peak_in_use == 300);
  CHECK(a.stats().frees == 300);
}

TEST_CASE("skb: reserve, put, push and pull move data and tail like skb_reserve/put/push/pull", "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = h.skbs.alloc();
  CHECK(skb->headroom() == kNetSkbPad);
  CHECK(skb->tailroom() == kSkbHeadCapacity - kNetSkbPad);
  skb->reserve(16);
  CHECK(skb->headroom() == kNetSkbPad + 16);
  std::byte* tail = skb->put(40);
  CHECK(tail == skb->data());
  CHECK(skb->len() == 40);
  CHECK(skb->headlen() == 40);
  CHECK(skb->tailroom() == kSkbHeadCapacity - kNetSkbPad - 16 - 40);
  tail[0] = std::byte{0xaa};
  std::byte* front = skb->push(14);
  CHECK(front == skb->data());
  CHECK(skb->len() == 54);
  CHECK(skb->headroom() == kNetSkbPad + 2);
  CHECK(skb->data()[14] == std::byte{0xaa});
  skb->pull(14);
  CHECK(skb->len() == 40);
  CHECK(skb->data()[0] == std::byte{0xaa});
  skb->trim(10);
  CHECK(skb->len() == 10);
  CHECK(skb->tailroom() == kSkbHeadCapacity - kNetSkbPad - 16 - 10);
  kfree_skb(skb);
}

TEST_CASE("skb: tailroom is 0 once the skb has frags, as skb_tailroom() says", "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = h.linear(54);
  CHECK(skb->tailroom() > 0);
  h.add_page_frag(*skb, 0, 1000);
  CHECK(skb->tailroom() == 0);
  skb->trim(54);  // back to linear
  CHECK(skb->tailroom() == kSkbHeadCapacity - kNetSkbPad - 54);
  kfree_skb(skb);
}

TEST_CASE("skb: add_rx_frag with a page-pool page keeps the skb readable and counts len, data_len, truesize",
          "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = h.linear(66);
  const NetmemRef page = h.add_page_frag(*skb, 128, 1448);
  CHECK(skb->nr_frags() == 1);
  CHECK(skb->frag(0).netmem == page);
  CHECK(skb->frag(0).offset == 128);
  CHECK(skb->frag(0).len == 1448);
  CHECK(skb->len() == 66 + 1448);
  CHECK(skb->data_len() == 1448);
  CHECK(skb->headlen() == 66);
  CHECK(skb->truesize == netmem::kPageSize);
  CHECK(skb->frags_readable());
  kfree_skb(skb);
}

TEST_CASE("skb: add_rx_frag with a net_iov sets unreadable", "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = h.linear(66);
  h.add_page_frag(*skb, 0, 100);
  CHECK(skb->frags_readable());
  const NetmemRef niov = h.add_niov_frag(*skb, 0, 4096);
  CHECK(niov.is_net_iov());
  CHECK(skb->unreadable);
  CHECK_FALSE(skb->frags_readable());
  kfree_skb(skb);
  CHECK(h.niovs_out() == 0);
}

TEST_CASE("skb free: pp_recycle frags go back to the pool's ring from process context", "[netstack][core][unit]") {
  SkbHost h;  // ctx: process context (not softirq)
  SkBuff* skb = h.linear(66);
  h.add_page_frag(*skb, 0, 2000);
  h.add_page_frag(*skb, 0, 3000);
  h.add_niov_frag(*skb, 0, 4096);
  CHECK(h.pages_out() == 2);
  CHECK(h.niovs_out() == 1);
  const std::size_t ring_before = h.pages->ring_count();
  const std::uint32_t cache_before = h.pages->alloc_cache_count();
  kfree_skb(skb);
  CHECK(h.pages->ring_count() == ring_before + 2);
  CHECK(h.pages->alloc_cache_count() == cache_before);
  CHECK(h.pages->stats().recycle.ring == 2);
  CHECK(h.niovs->stats().recycle.ring == 1);
  CHECK(h.pages_out() == 0);
  CHECK(h.niovs_out() == 0);
}

TEST_CASE("skb free: pp_recycle frags go to the alloc cache in softirq on the NAPI owner's CPU",
          "[netstack][core][unit]") {
  SkbHost h;
  page_pool::NapiOwner napi;
  napi.list_owner = 3;
  page_pool::PagePoolParams p;
  p.napi = &napi;
  page_pool::PagePool& pool = h.host.create(p);
  SkBuff* skb = h.linear(66);
  const NetmemRef n = pool.alloc_netmems();
  skb->add_rx_frag(n, 0, 1500, netmem::kPageSize);
  skb->pp_recycle = true;
  const std::uint32_t cache_before = pool.alloc_cache_count();
  h.ctx = page_pool::CallerContext{3, true};  // softirq on CPU 3
  kfree_skb(skb);
  CHECK(pool.alloc_cache_count() == cache_before + 1);
  CHECK(pool.stats().recycle.cached == 1);
  CHECK(pool.stats().recycle.ring == 0);
  pool.destroy();
}

TEST_CASE("skb free: softirq on another CPU still recycles through the ring", "[netstack][core][unit]") {
  SkbHost h;
  page_pool::NapiOwner napi;
  napi.list_owner = 3;
  page_pool::PagePoolParams p;
  p.napi = &napi;
  page_pool::PagePool& pool = h.host.create(p);
  SkBuff* skb = h.linear(66);
  skb->add_rx_frag(pool.alloc_netmems(), 0, 1500, netmem::kPageSize);
  skb->pp_recycle = true;
  h.ctx = page_pool::CallerContext{1, true};
  kfree_skb(skb);
  CHECK(pool.stats().recycle.cached == 0);
  CHECK(pool.stats().recycle.ring == 1);
  pool.destroy();
}

TEST_CASE("skb free: without pp_recycle a frag drops its page reference (put_page)", "[netstack][core][unit]") {
  SkbHost h;
  const std::uint64_t in_use_before = h.host.memory.pages_in_use();
  netmem::Page* page = h.host.memory.alloc_pages(0);
  REQUIRE(page != nullptr);
  netmem::get_page(*page);  // someone else holds it too
  SkBuff* skb = h.linear(66);
  skb->add_rx_frag(NetmemRef::from_page(*page), 0, 500, netmem::kPageSize);  // hands one reference over
  CHECK_FALSE(skb->pp_recycle);
  CHECK(page->ref_count() == 2);
  kfree_skb(skb);
  CHECK(page->ref_count() == 1);
  netmem::put_page(*page);
  CHECK(h.host.memory.pages_in_use() == in_use_before);
}

TEST_CASE("skb: trim inside the linear area releases every frag to the page pool", "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = h.linear(66);
  h.add_page_frag(*skb, 0, 1000);
  h.add_page_frag(*skb, 0, 1000);
  CHECK(h.pages_out() == 2);
  skb->trim(20);
  CHECK(skb->len() == 20);
  CHECK(skb->nr_frags() == 0);
  CHECK(skb->data_len() == 0);
  CHECK(h.pages_out() == 0);
  CHECK(h.pages->stats().recycle.ring == 2);
  kfree_skb(skb);
}

TEST_CASE("skb: trim into the frags shortens the last kept frag and releases the rest", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = h.linear(66, &expect);
  h.add_page_frag(*skb, 100, 1000, &expect);
  h.add_page_frag(*skb, 0, 1000, &expect);
  h.add_page_frag(*skb, 0, 1000, &expect);
  CHECK(h.pages_out() == 3);
  skb->trim(66 + 1500);
  CHECK(skb->len() == 1566);
  CHECK(skb->data_len() == 1500);
  CHECK(skb->nr_frags() == 2);
  CHECK(skb->frag(1).len == 500);
  CHECK(h.pages_out() == 2);
  expect.resize(1566);
  CHECK(skb_bytes(*skb) == expect);
  kfree_skb(skb);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_frag_ref: a pp frag of a pp_recycle skb takes a pp reference, a plain page a page reference",
          "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = h.linear(10);
  const NetmemRef pp_page = h.add_page_frag(*skb, 0, 100);
  CHECK(pp_page.desc().pp_ref_count == 1);
  skb_frag_ref(*skb, 0);
  CHECK(pp_page.desc().pp_ref_count == 2);
  CHECK(pp_page.page().ref_count() == 1);
  h.pages->put_full_netmem(pp_page, false);  // drop the extra reference
  CHECK(pp_page.desc().pp_ref_count == 1);
  kfree_skb(skb);

  netmem::Page* page = h.host.memory.alloc_pages(0);
  SkBuff* plain = h.linear(10);
  plain->add_rx_frag(NetmemRef::from_page(*page), 0, 100, netmem::kPageSize);
  skb_frag_ref(*plain, 0);
  CHECK(page->ref_count() == 2);
  netmem::put_page(*page);
  kfree_skb(plain);
  CHECK(h.pages_out() == 0);
}
