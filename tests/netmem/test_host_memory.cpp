// HostMemory: the page allocator the page pool and the host provider draw from — orders,
// refcounts, capacity (memory pressure), bulk allocation, reuse and determinism.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "nicemu/base/byte_worker.hpp"
#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/host_memory.hpp"
#include "byte_worker_threads.hpp"

using namespace nicemu::netmem;

namespace {

HostMemoryConfig pages_capacity(std::uint64_t pages) { return HostMemoryConfig{.capacity_bytes = pages * kPageSize, .nid = 0}; }

bool all_zero(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

TEST_CASE("host memory: an order-0 page is one zero-filled, writable, aligned 4 KiB page with refcount 1",
          "[netmem][unit]") {
  HostMemory mem;
  Page* page = mem.alloc_pages(0);
  REQUIRE(page != nullptr);
  CHECK(page->order() == 0);
  CHECK(page->size_bytes() == 4096);
  CHECK(page->ref_count() == 1);
  CHECK(page->nid() == 0);
  CHECK(&page->memory() == &mem);
  CHECK_FALSE(page->pfmemalloc());
  CHECK(page->pp == nullptr);
  CHECK(page->pp_magic == 0);
  CHECK(page->pp_ref_count == 0);
  CHECK(page->dma_addr == 0);
  const ReadableView v = page_address(*page);
  REQUIRE(static_cast<bool>(v));
  CHECK(v.size() == 4096);
  CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % 4096 == 0);
  CHECK(all_zero(v.bytes()));
  v.bytes()[0] = std::byte{1};
  v.bytes()[4095] = std::byte{2};
  CHECK(page_address(*page).bytes()[0] == std::byte{1});
  CHECK(page_address(*page).bytes()[4095] == std::byte{2});
  CHECK(mem.pages_in_use() == 1);
  CHECK(mem.stats().alloc_calls == 1);
  CHECK(mem.stats().alloc_failures == 0);
  put_page(*page);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: higher orders give 4096 << order bytes, aligned, zero-filled and counted as 2^order pages",
          "[netmem][unit]") {
  HostMemory mem;
  std::uint64_t expected_in_use = 0;
  std::vector<Page*> held;
  for (std::uint32_t order : {1u, 2u, 3u}) {
    Page* page = mem.alloc_pages(order);
    REQUIRE(page != nullptr);
    held.push_back(page);
    expected_in_use += std::uint64_t{1} << order;
    CHECK(page->order() == order);
    CHECK(page->size_bytes() == (std::size_t{4096} << order));
    CHECK(page->ref_count() == 1);
    const ReadableView v = page_address(*page);
    CHECK(v.size() == (std::size_t{4096} << order));
    CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % 4096 == 0);
    CHECK(all_zero(v.bytes()));
    v.bytes().back() = std::byte{0xee};  // the last byte of the compound page is writable
    CHECK(page_address(*page).bytes()[v.size() - 1] == std::byte{0xee});
    CHECK(mem.pages_in_use() == expected_in_use);
  }
  CHECK(mem.pages_in_use() == 2 + 4 + 8);
  for (Page* p : held) put_page(*p);
  CHECK(mem.pages_in_use() == 0);
  CHECK(mem.stats().frees == 3);
}

TEST_CASE("host memory: pages handed out at once have distinct pfns and non-overlapping bytes", "[netmem][unit]") {
  HostMemory mem;
  std::vector<Page*> pages;
  std::set<std::uint64_t> pfns;
  // More than one backing chunk (kChunkPages) and a mix of orders.
  for (int i = 0; i < 70; ++i) pages.push_back(mem.alloc_pages(0));
  for (int i = 0; i < 3; ++i) pages.push_back(mem.alloc_pages(2));
  for (Page* p : pages) REQUIRE(p != nullptr);
  for (Page* p : pages) pfns.insert(p->pfn());
  CHECK(pfns.size() == pages.size());

  // Sort by data pointer and check that no two pages' bytes overlap.
  std::vector<Page*> by_addr = pages;
  std::sort(by_addr.begin(), by_addr.end(),
            [](Page* a, Page* b) { return page_address(*a).data() < page_address(*b).data(); });
  for (std::size_t i = 1; i < by_addr.size(); ++i) {
    const ReadableView prev = page_address(*by_addr[i - 1]);
    CHECK(prev.data() + prev.size() <= page_address(*by_addr[i]).data());
  }
  CHECK(mem.pages_in_use() == 70 + 3 * 4);
  for (Page* p : pages) put_page(*p);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: put_page frees at refcount 0 and the leak check returns to 0", "[netmem][unit]") {
  HostMemory mem;
  std::array<Page*, 5> pages{};
  for (Page*& p : pages) {
    p = mem.alloc_pages(0);
    REQUIRE(p != nullptr);
  }
  CHECK(mem.pages_in_use() == 5);
  for (std::size_t i = 0; i < pages.size(); ++i) {
    put_page(*pages[i]);
    CHECK(mem.pages_in_use() == 5 - (i + 1));
    CHECK(mem.stats().frees == i + 1);
  }
  CHECK(mem.pages_in_use() == 0);
  CHECK(mem.stats().pages_in_use == 0);
}

TEST_CASE("host memory: get_page then put_page keeps the page alive until the last put", "[netmem][unit]") {
  HostMemory mem;
  Page* page = mem.alloc_pages(1);
  REQUIRE(page != nullptr);
  get_page(*page);
  get_page(*page);
  CHECK(page->ref_count() == 3);
  put_page(*page);
  CHECK(page->ref_count() == 2);
  CHECK(mem.pages_in_use() == 2);
  CHECK(mem.stats().frees == 0);
  put_page(*page);
  CHECK(page->ref_count() == 1);
  CHECK(mem.pages_in_use() == 2);
  put_page(*page);
  CHECK(mem.pages_in_use() == 0);
  CHECK(mem.stats().frees == 1);
}

TEST_CASE("host memory: allocation past capacity returns nullptr and counts alloc_failures", "[netmem][unit]") {
  HostMemory mem(pages_capacity(4));
  CHECK(mem.capacity_pages() == 4);
  std::array<Page*, 4> pages{};
  for (Page*& p : pages) {
    p = mem.alloc_pages(0);
    REQUIRE(p != nullptr);
  }
  CHECK(mem.alloc_pages(0) == nullptr);
  CHECK(mem.stats().alloc_failures == 1);
  CHECK(mem.stats().alloc_calls == 5);
  CHECK(mem.pages_in_use() == 4);
  // Freeing one page makes room for exactly one more.
  put_page(*pages[0]);
  pages[0] = mem.alloc_pages(0);
  CHECK(pages[0] != nullptr);
  CHECK(mem.alloc_pages(0) == nullptr);
  CHECK(mem.stats().alloc_failures == 2);
  for (Page* p : pages)
    if (p != nullptr) put_page(*p);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: a higher-order allocation counts 2^order pages against the capacity", "[netmem][unit]") {
  HostMemory mem(pages_capacity(8));
  Page* order2 = mem.alloc_pages(2);  // 4 pages
  REQUIRE(order2 != nullptr);
  CHECK(mem.pages_in_use() == 4);
  CHECK(mem.alloc_pages(3) == nullptr);  // 8 more pages would exceed 8
  CHECK(mem.stats().alloc_failures == 1);
  Page* order1 = mem.alloc_pages(1);  // 2 pages: 6 in use
  REQUIRE(order1 != nullptr);
  CHECK(mem.alloc_pages(2) == nullptr);  // 4 more would be 10
  CHECK(mem.stats().alloc_failures == 2);
  Page* a = mem.alloc_pages(0);
  Page* b = mem.alloc_pages(0);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(mem.pages_in_use() == 8);
  CHECK(mem.alloc_pages(0) == nullptr);
  CHECK(mem.stats().alloc_failures == 3);
  put_page(*order2);
  CHECK(mem.pages_in_use() == 4);
  Page* again = mem.alloc_pages(2);  // exactly fills the capacity again
  REQUIRE(again != nullptr);
  CHECK(mem.pages_in_use() == 8);
  for (Page* p : {order1, a, b, again}) put_page(*p);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: the whole capacity as one order-3 block fits exactly", "[netmem][unit]") {
  HostMemory mem(pages_capacity(8));
  Page* p = mem.alloc_pages(3);
  REQUIRE(p != nullptr);
  CHECK(mem.pages_in_use() == 8);
  CHECK(mem.alloc_pages(0) == nullptr);
  put_page(*p);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: an order above kMaxOrder fails and is counted", "[netmem][unit]") {
  HostMemory mem;
  CHECK(mem.alloc_pages(HostMemory::kMaxOrder + 1) == nullptr);
  CHECK(mem.alloc_pages(HostMemory::kMaxOrder + 5) == nullptr);
  CHECK(mem.stats().alloc_failures == 2);
  CHECK(mem.stats().alloc_calls == 2);
  CHECK(mem.pages_in_use() == 0);
  // The allocator still works afterwards.
  Page* p = mem.alloc_pages(0);
  REQUIRE(p != nullptr);
  put_page(*p);
}

TEST_CASE("host memory: alloc_pages_bulk fills the whole request when memory allows", "[netmem][unit]") {
  HostMemory mem;
  std::array<Page*, 16> out{};
  CHECK(mem.alloc_pages_bulk(out) == 16);
  std::set<std::uint64_t> pfns;
  for (Page* p : out) {
    REQUIRE(p != nullptr);
    CHECK(p->order() == 0);
    CHECK(p->ref_count() == 1);
    pfns.insert(p->pfn());
  }
  CHECK(pfns.size() == 16);
  CHECK(mem.pages_in_use() == 16);
  for (Page* p : out) put_page(*p);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: alloc_pages_bulk returns fewer pages near capacity and leaves the rest untouched",
          "[netmem][unit]") {
  HostMemory mem(pages_capacity(10));
  Page* hold = mem.alloc_pages(2);  // 4 of 10 pages in use
  REQUIRE(hold != nullptr);
  std::array<Page*, 8> out{};
  const std::size_t got = mem.alloc_pages_bulk(out);
  CHECK(got == 6);
  for (std::size_t i = 0; i < got; ++i) CHECK(out[i] != nullptr);
  for (std::size_t i = got; i < out.size(); ++i) CHECK(out[i] == nullptr);
  CHECK(mem.pages_in_use() == 10);
  CHECK(mem.stats().alloc_failures == 1);  // one short call, one failure
  CHECK(mem.stats().alloc_calls == 2);      // alloc_pages(2) and one bulk call
  // Full: a bulk request gets nothing.
  std::array<Page*, 2> more{};
  CHECK(mem.alloc_pages_bulk(more) == 0);
  CHECK(more[0] == nullptr);
  for (std::size_t i = 0; i < got; ++i) put_page(*out[i]);
  put_page(*hold);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: freed pages are reused and peak_pages_in_use is tracked", "[netmem][unit]") {
  HostMemory mem;
  Page* a = mem.alloc_pages(0);
  Page* b = mem.alloc_pages(0);
  Page* c = mem.alloc_pages(0);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  REQUIRE(c != nullptr);
  CHECK(mem.stats().peak_pages_in_use == 3);
  const std::uint64_t b_pfn = b->pfn();
  put_page(*b);
  CHECK(mem.pages_in_use() == 2);
  CHECK(mem.stats().peak_pages_in_use == 3);
  Page* d = mem.alloc_pages(0);
  REQUIRE(d != nullptr);
  CHECK(d->pfn() == b_pfn);  // the freed frame comes back
  CHECK(d->ref_count() == 1);
  CHECK(mem.stats().peak_pages_in_use == 3);
  Page* e = mem.alloc_pages(1);
  REQUIRE(e != nullptr);
  CHECK(mem.stats().peak_pages_in_use == 5);
  for (Page* p : {a, c, d, e}) put_page(*p);
  CHECK(mem.pages_in_use() == 0);
  CHECK(mem.stats().peak_pages_in_use == 5);
  // A later, smaller high-water mark does not lower the peak.
  Page* f = mem.alloc_pages(0);
  REQUIRE(f != nullptr);
  CHECK(mem.pages_in_use() == 1);
  CHECK(mem.stats().peak_pages_in_use == 5);
  put_page(*f);
}

TEST_CASE("host memory: a reused page comes back with its pool fields and flags reset", "[netmem][unit]") {
  HostMemory mem;
  Page* p = mem.alloc_pages(0);
  REQUIRE(p != nullptr);
  p->pp_magic = kPpSignature;
  p->pp_ref_count = 3;
  p->dma_addr = 0x1000;
  p->flags = 0xff;
  p->pp_dma_index = 7;
  HostMemory::set_pfmemalloc_for_test(*p, true);
  const std::uint64_t pfn = p->pfn();
  put_page(*p);
  Page* q = mem.alloc_pages(0);
  REQUIRE(q != nullptr);
  CHECK(q->pfn() == pfn);
  CHECK(q->pp_magic == 0);
  CHECK(q->pp_ref_count == 0);
  CHECK(q->dma_addr == 0);
  CHECK(q->flags == 0);
  CHECK(q->pp == nullptr);
  CHECK(q->pp_dma_index == 0);
  CHECK_FALSE(q->pfmemalloc());
  put_page(*q);
}

TEST_CASE("host memory: nid comes from the configuration", "[netmem][unit]") {
  HostMemory mem(HostMemoryConfig{.capacity_bytes = 16 * kPageSize, .nid = 3});
  CHECK(mem.nid() == 3);
  CHECK(mem.capacity_pages() == 16);
  Page* p = mem.alloc_pages(0);
  REQUIRE(p != nullptr);
  CHECK(p->nid() == 3);
  put_page(*p);
}

TEST_CASE("host memory: two instances given the same calls hand out the same pfns", "[netmem][unit]") {
  auto run = [](HostMemory& mem) {
    std::vector<std::uint64_t> pfns;
    std::vector<Page*> held;
    for (int round = 0; round < 3; ++round) {
      for (std::uint32_t order : {0u, 0u, 1u, 0u, 2u}) {
        Page* p = mem.alloc_pages(order);
        REQUIRE(p != nullptr);
        pfns.push_back(p->pfn());
        held.push_back(p);
      }
      std::array<Page*, 4> bulk{};
      REQUIRE(mem.alloc_pages_bulk(bulk) == 4);
      for (Page* p : bulk) {
        pfns.push_back(p->pfn());
        held.push_back(p);
      }
      // Free every other page so the next round reuses frames.
      for (std::size_t i = 0; i < held.size(); i += 2) put_page(*held[i]);
      std::vector<Page*> kept;
      for (std::size_t i = 1; i < held.size(); i += 2) kept.push_back(held[i]);
      held = kept;
    }
    for (Page* p : held) put_page(*p);
    return pfns;
  };
  HostMemory m1;
  HostMemory m2;
  const std::vector<std::uint64_t> a = run(m1);
  const std::vector<std::uint64_t> b = run(m2);
  CHECK(a.size() == 27);
  CHECK(a == b);
  CHECK(m1.pages_in_use() == 0);
  CHECK(m2.pages_in_use() == 0);
  CHECK(m1.stats().peak_pages_in_use == m2.stats().peak_pages_in_use);
}

// An order is any u32: the check must come before computing 1 << order (UBSan caught this).
TEST_CASE("host memory: an order of 64 or more fails like any order above kMaxOrder",
          "[netmem][unit]") {
  HostMemory mem;
  CHECK(mem.alloc_pages(64) == nullptr);
  CHECK(mem.alloc_pages(UINT32_MAX) == nullptr);
  CHECK(mem.stats().alloc_failures == 2);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: dma-direct gives every page, old and new, a device address that resolves to its bytes",
          "[netmem][unit]") {
  HostMemory mem;
  DmaSpace dma;
  Page* before = mem.alloc_pages(0);  // grown before the attach
  REQUIRE(before != nullptr);
  CHECK(before->dma_direct() == 0);
  mem.attach_dma_direct(dma);
  CHECK(before->dma_direct() != 0);
  std::vector<Page*> pages{before};
  for (std::size_t i = 0; i < 3 * HostMemory::kChunkPages + 8; ++i) pages.push_back(mem.alloc_pages(0));  // 4 chunks
  Page* big = mem.alloc_pages(2);
  pages.push_back(big);
  std::set<DmaAddr> seen;
  for (Page* p : pages) {
    REQUIRE(p != nullptr);
    REQUIRE(p->dma_direct() != 0);
    CHECK(seen.insert(p->dma_direct()).second);
    page_address(*p).data()[p->size_bytes() - 1] = std::byte{0x5a};
    const DmaTarget t = dma.resolve_for_device_read(p->dma_direct() + p->size_bytes() - 1, 1);
    REQUIRE(t.ok());
    CHECK(t.bytes.data() == page_address(*p).data() + p->size_bytes() - 1);
    CHECK(t.placement == MemoryPlacement::kHostMemory);
  }
  const std::size_t mappings = dma.mapping_count();
  CHECK(mappings >= 5);  // one per chunk: 4 order-0 chunks and one order-2 chunk
  mem.detach_dma_direct();
  CHECK(dma.mapping_count() == 0);
  CHECK(before->dma_direct() == 0);
  for (Page* p : pages) put_page(*p);
}

namespace {
// A byte worker job that stands for a NIC still reading a transmitted page: it takes a while,
// then marks that it has run.
struct SlowReadJob {
  std::atomic<bool>* ran;
  void operator()() const {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ran->store(true, std::memory_order_release);
  }
};

// A page of a fresh HostMemory, with the byte worker's thread on (its mode restored after).
struct PageWithWorker : nicemu::testing::ByteWorkerThreads {
  HostMemory mem;
  Page* page = mem.alloc_pages(0);
};
}  // namespace

TEST_CASE("host memory: a freed page tagged with a byte worker job is handed out again only after the job ran",
          "[netmem][unit]") {
  PageWithWorker t;
  REQUIRE(t.page != nullptr);
  std::atomic<bool> ran{false};
  t.page->note_byte_job(t.bw.run(SlowReadJob{&ran}));
  put_page(*t.page);
  Page* again = t.mem.alloc_pages(0);  // LIFO: the same page
  CHECK(again == t.page);
  CHECK(ran.load(std::memory_order_acquire));
  CHECK(again->byte_job == 0);
  put_page(*again);
}

TEST_CASE("host memory: page_address waits for the byte worker jobs a page is tagged with, in either lane",
          "[netmem][unit]") {
  PageWithWorker t;
  REQUIRE(t.page != nullptr);
  std::atomic<bool> fg{false}, bg{false};
  t.page->note_byte_job(t.bw.run_background(SlowReadJob{&bg}));
  t.page->note_byte_job(t.bw.run(SlowReadJob{&fg}));
  CHECK(t.page->byte_job_background != 0);
  (void)page_address(*t.page);
  CHECK(fg.load(std::memory_order_acquire));
  CHECK(bg.load(std::memory_order_acquire));
  CHECK(t.page->byte_job == 0);
  CHECK(t.page->byte_job_background == 0);
  put_page(*t.page);
}

TEST_CASE("host memory: prefault grows the pool ahead, and pages come out as growth on demand gives them",
          "[netmem][unit]") {
  // The same allocation pattern (pages held, some freed, more taken) on a pool that grows on
  // demand and on one prefaulted with three chunks: the same pfns in the same order, and the
  // prefaulted pool's pages are zero-filled and writable like fresh ones.
  HostMemory lazy, ahead;
  ahead.prefault(3 * HostMemory::kChunkPages * kPageSize);
  std::vector<std::uint64_t> lazy_pfns, ahead_pfns;
  auto drive = [](HostMemory& mem, std::vector<std::uint64_t>& pfns) {
    std::vector<Page*> held;
    for (int round = 0; round < 4; ++round) {
      for (std::size_t i = 0; i < HostMemory::kChunkPages * 3 / 4; ++i) {
        Page* p = mem.alloc_pages(0);
        REQUIRE(p != nullptr);
        pfns.push_back(p->pfn());
        held.push_back(p);
      }
      // Give back every third page held: freed pages come back before fresh ones.
      for (std::size_t i = 0; i < held.size(); i += 3) {
        if (held[i] != nullptr) put_page(*std::exchange(held[i], nullptr));
      }
    }
    for (Page* p : held) {
      if (p != nullptr) {
        const ReadableView v = page_address(*p);
        CHECK(all_zero(v.bytes()));
        v.bytes()[0] = std::byte{1};
        put_page(*p);
      }
    }
  };
  drive(lazy, lazy_pfns);
  drive(ahead, ahead_pfns);
  CHECK(lazy_pfns == ahead_pfns);
  CHECK(lazy.pages_in_use() == 0);
  CHECK(ahead.pages_in_use() == 0);
}

TEST_CASE("host memory: alloc_pages_noretry counts a miss in noretry_failures, not in alloc_failures",
          "[netmem][unit]") {
  HostMemory mem(HostMemoryConfig{7 * kPageSize, 0});  // an order-3 block (8 pages) never fits
  CHECK(mem.alloc_pages_noretry(3) == nullptr);
  CHECK(mem.stats().noretry_failures == 1);
  CHECK(mem.stats().alloc_failures == 0);
  CHECK(mem.stats().alloc_calls == 1);
  Page* p = mem.alloc_pages_noretry(0);  // the caller's fallback
  REQUIRE(p != nullptr);
  CHECK(p->order() == 0);
  CHECK(mem.stats().noretry_failures == 1);
  put_page(*p);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("host memory: prefault grows an order's pool ahead, and its blocks come out as growth on demand gives them",
          "[netmem][unit]") {
  // Order-3 blocks (the sockets' 32 KiB page frags): the same pfns in the same order with and
  // without prefaulting two chunks, blocks zero-filled and writable, the order-0 pool untouched.
  HostMemory lazy, ahead;
  const std::size_t per_chunk = HostMemory::kChunkPages >> 3;
  ahead.prefault(2 * per_chunk * (kPageSize << 3), 3);
  CHECK(ahead.chunks() == 2);
  CHECK(lazy.chunks() == 0);
  std::vector<std::uint64_t> lazy_pfns, ahead_pfns;
  auto drive = [per_chunk](HostMemory& mem, std::vector<std::uint64_t>& pfns) {
    std::vector<Page*> held;
    for (std::size_t i = 0; i < per_chunk * 3; ++i) {
      Page* p = mem.alloc_pages(3);
      REQUIRE(p != nullptr);
      REQUIRE(p->size_bytes() == 32768);
      pfns.push_back(p->pfn());
      held.push_back(p);
    }
    for (Page* p : held) {
      const ReadableView v = page_address(*p);
      CHECK(all_zero(v.bytes()));
      v.bytes()[v.size() - 1] = std::byte{1};
      put_page(*p);
    }
    Page* single = mem.alloc_pages(0);
    REQUIRE(single != nullptr);
    pfns.push_back(single->pfn());
    put_page(*single);
  };
  drive(lazy, lazy_pfns);
  drive(ahead, ahead_pfns);
  CHECK(lazy_pfns == ahead_pfns);
  CHECK(lazy.pages_in_use() == 0);
  CHECK(ahead.pages_in_use() == 0);
  // Never past the capacity: a small memory prefaults what fits and no more.
  HostMemory small(HostMemoryConfig{HostMemory::kChunkPages * kPageSize, 0});
  small.prefault(std::uint64_t{1} << 30, 3);
  CHECK(small.chunks() == 1);
  Page* p = small.alloc_pages(3);
  REQUIRE(p != nullptr);
  put_page(*p);
}
