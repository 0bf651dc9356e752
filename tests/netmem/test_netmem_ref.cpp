// NetmemRef: the tagged page / net_iov handle, its checked conversions and the netmem_* helpers;
// NetIovArea indexing and hooks. Kernel reference: include/net/netmem.h (shared/reference §1.1-1.2).
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netmem/netmem.hpp"

using namespace nicemu::netmem;

namespace {

// An area that counts the get_netmem()/put_netmem() hook calls (kernel: devmem binding refs).
class CountingArea : public NetIovArea {
 public:
  using NetIovArea::NetIovArea;
  void on_get_netmem(NetIov& niov) override {
    ++gets;
    last = &niov;
  }
  void on_put_netmem(NetIov& niov) override {
    ++puts;
    last = &niov;
  }
  int gets = 0;
  int puts = 0;
  NetIov* last = nullptr;
};

}  // namespace

TEST_CASE("netmem: NetmemRef is a trivially copyable, pointer-sized handle", "[netmem][unit]") {
  STATIC_REQUIRE(std::is_trivially_copyable_v<NetmemRef>);
  STATIC_REQUIRE(sizeof(NetmemRef) == sizeof(void*));
  STATIC_REQUIRE(sizeof(NetmemRef) == sizeof(std::uintptr_t));
}

TEST_CASE("netmem: NetmemRef has no implicit conversion to or from integers or pointers", "[netmem][unit]") {
  // Into a NetmemRef.
  STATIC_REQUIRE_FALSE(std::is_convertible_v<std::uintptr_t, NetmemRef>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<unsigned long, NetmemRef>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<int, NetmemRef>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<void*, NetmemRef>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<Page*, NetmemRef>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetIov*, NetmemRef>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemDesc*, NetmemRef>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<Page&, NetmemRef>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetIov&, NetmemRef>);
  // Not even explicitly from outside: the bits constructor is private.
  STATIC_REQUIRE_FALSE(std::is_constructible_v<NetmemRef, std::uintptr_t>);
  // Out of a NetmemRef.
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemRef, std::uintptr_t>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemRef, unsigned long>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemRef, int>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemRef, bool>);  // operator bool is explicit
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemRef, void*>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemRef, Page*>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemRef, NetIov*>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<NetmemRef, NetmemDesc*>);
  // The explicit test is still available for `if (ref)`.
  STATIC_REQUIRE(std::is_constructible_v<bool, NetmemRef>);
}

TEST_CASE("netmem: none is falsy and converts to neither a page nor a net_iov", "[netmem][unit]") {
  const NetmemRef n = NetmemRef::none();
  CHECK(n.is_none());
  CHECK_FALSE(static_cast<bool>(n));
  CHECK_FALSE(n.is_net_iov());
  CHECK(n.to_page() == nullptr);
  CHECK(n.to_net_iov() == nullptr);
  CHECK(n == NetmemRef{});
}

TEST_CASE("netmem: a page ref converts to its page and not to a net_iov", "[netmem][unit]") {
  HostMemory mem;
  Page* page = mem.alloc_pages(0);
  REQUIRE(page != nullptr);
  const NetmemRef n = NetmemRef::from_page(*page);
  CHECK(static_cast<bool>(n));
  CHECK_FALSE(n.is_none());
  CHECK_FALSE(n.is_net_iov());
  CHECK(n.to_page() == page);
  CHECK(n.to_net_iov() == nullptr);
  CHECK(&n.page() == page);
  CHECK(&n.desc() == static_cast<NetmemDesc*>(page));
  put_page(*page);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("netmem: a net_iov ref is tagged, converts back to its net_iov and not to a page", "[netmem][unit]") {
  NetIovArea area(4, 0, NetIovType::kDmabuf, 7);
  NetIov& niov = area.niov(2);
  // Bit 0 of a descriptor address is free, so the tag cannot collide with a real pointer bit.
  REQUIRE(reinterpret_cast<std::uintptr_t>(&niov) % 2 == 0);
  const NetmemRef n = NetmemRef::from_net_iov(niov);
  CHECK(static_cast<bool>(n));
  CHECK_FALSE(n.is_none());
  CHECK(n.is_net_iov());
  CHECK(n.to_net_iov() == &niov);
  CHECK(n.to_page() == nullptr);
  CHECK(&n.net_iov() == &niov);
  CHECK(&n.desc() == static_cast<NetmemDesc*>(&niov));  // the tag is cleared for the shared fields
  CHECK_FALSE(n == NetmemRef::none());
}

TEST_CASE("netmem: desc() reaches the shared fields of both pages and net_iovs", "[netmem][unit]") {
  HostMemory mem;
  Page* page = mem.alloc_pages(0);
  REQUIRE(page != nullptr);
  NetIovArea area(2, 0, NetIovType::kIoUring, 3);
  NetIov& niov = area.niov(1);

  const NetmemRef p = NetmemRef::from_page(*page);
  const NetmemRef v = NetmemRef::from_net_iov(niov);
  p.desc().pp_ref_count = 5;
  p.desc().pp_magic = kPpSignature;
  p.desc().dma_addr = 0x1234'5000;
  v.desc().pp_ref_count = 9;
  v.desc().pp_magic = kPpSignature;
  v.desc().dma_addr = 0xabcd'0000;

  CHECK(page->pp_ref_count == 5);
  CHECK(page->pp_magic == kPpSignature);
  CHECK(page->dma_addr == 0x1234'5000);
  CHECK(netmem_get_dma_addr(p) == 0x1234'5000);
  CHECK(niov.pp_ref_count == 9);
  CHECK(niov.pp_magic == kPpSignature);
  CHECK(niov.dma_addr == 0xabcd'0000);
  CHECK(netmem_get_dma_addr(v) == 0xabcd'0000);
  // The neighbour in the area is untouched.
  CHECK(area.niov(0).pp_ref_count == 0);
  CHECK(area.niov(0).dma_addr == 0);
  put_page(*page);
}

TEST_CASE("netmem: refs are equal exactly when they name the same buffer of the same kind", "[netmem][unit]") {
  HostMemory mem;
  Page* a = mem.alloc_pages(0);
  Page* b = mem.alloc_pages(0);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  NetIovArea area(2, 0, NetIovType::kDmabuf, 1);

  CHECK(NetmemRef::from_page(*a) == NetmemRef::from_page(*a));
  CHECK_FALSE(NetmemRef::from_page(*a) == NetmemRef::from_page(*b));
  CHECK(NetmemRef::from_net_iov(area.niov(0)) == NetmemRef::from_net_iov(area.niov(0)));
  CHECK_FALSE(NetmemRef::from_net_iov(area.niov(0)) == NetmemRef::from_net_iov(area.niov(1)));
  CHECK_FALSE(NetmemRef::from_page(*a) == NetmemRef::from_net_iov(area.niov(0)));
  CHECK_FALSE(NetmemRef::from_page(*a) == NetmemRef::none());
  CHECK(NetmemRef::none() == NetmemRef::none());
  const NetmemRef copy = NetmemRef::from_net_iov(area.niov(1));
  const NetmemRef copy2 = copy;  // NOLINT(performance-unnecessary-copy-initialization)
  CHECK(copy2 == copy);
  CHECK(copy2.to_net_iov() == &area.niov(1));
  put_page(*a);
  put_page(*b);
}

TEST_CASE("netmem: netmem_ref_count is 1 for a net_iov and the page refcount for a page", "[netmem][unit]") {
  HostMemory mem;
  Page* page = mem.alloc_pages(0);
  REQUIRE(page != nullptr);
  NetIovArea area(1, 0, NetIovType::kDmabuf, 1);
  area.niov(0).pp_ref_count = 42;  // only pp_ref_count exists for a net_iov: it is not reported

  const NetmemRef p = NetmemRef::from_page(*page);
  CHECK(netmem_ref_count(p) == 1);
  get_page(*page);
  CHECK(netmem_ref_count(p) == 2);
  CHECK(page->ref_count() == 2);
  CHECK(netmem_ref_count(NetmemRef::from_net_iov(area.niov(0))) == 1);
  put_page(*page);
  CHECK(netmem_ref_count(p) == 1);
  put_page(*page);
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("netmem: netmem_address is empty for a net_iov and covers the page bytes for a page", "[netmem][unit]") {
  HostMemory mem;
  NetIovArea area(1, 0, NetIovType::kDmabuf, 1);
  const ReadableView none_view = netmem_address(NetmemRef::from_net_iov(area.niov(0)));
  CHECK_FALSE(static_cast<bool>(none_view));
  CHECK(none_view.data() == nullptr);
  CHECK(none_view.size() == 0);
  CHECK(none_view.bytes().empty());

  for (std::uint32_t order : {0u, 1u, 3u}) {
    Page* page = mem.alloc_pages(order);
    REQUIRE(page != nullptr);
    const ReadableView v = netmem_address(NetmemRef::from_page(*page));
    CHECK(static_cast<bool>(v));
    CHECK(v.size() == (std::size_t{4096} << order));
    CHECK(v.data() == page_address(*page).data());
    CHECK(v.bytes().size() == v.size());
    // The view aliases the page's bytes.
    v.bytes().back() = std::byte{0x5a};
    CHECK(page_address(*page).bytes()[v.size() - 1] == std::byte{0x5a});
    put_page(*page);
  }
  CHECK(mem.pages_in_use() == 0);
}

TEST_CASE("netmem: netmem_is_pref_nid compares the node for a page and is always true for a net_iov", "[netmem][unit]") {
  HostMemory node1(HostMemoryConfig{.capacity_bytes = 64 * kPageSize, .nid = 1});
  Page* page = node1.alloc_pages(0);
  REQUIRE(page != nullptr);
  CHECK(page->nid() == 1);
  const NetmemRef p = NetmemRef::from_page(*page);
  CHECK(netmem_is_pref_nid(p, 1));
  CHECK_FALSE(netmem_is_pref_nid(p, 0));
  CHECK_FALSE(netmem_is_pref_nid(p, 2));

  NetIovArea area(1, 0, NetIovType::kDmabuf, 1);
  const NetmemRef v = NetmemRef::from_net_iov(area.niov(0));
  CHECK(netmem_is_pref_nid(v, 0));
  CHECK(netmem_is_pref_nid(v, 1));
  CHECK(netmem_is_pref_nid(v, -1));
  put_page(*page);
}

TEST_CASE("netmem: netmem_is_pfmemalloc is false for a net_iov and follows the page flag", "[netmem][unit]") {
  HostMemory mem;
  Page* page = mem.alloc_pages(0);
  REQUIRE(page != nullptr);
  const NetmemRef p = NetmemRef::from_page(*page);
  CHECK_FALSE(netmem_is_pfmemalloc(p));
  HostMemory::set_pfmemalloc_for_test(*page, true);
  CHECK(netmem_is_pfmemalloc(p));
  NetIovArea area(1, 0, NetIovType::kDmabuf, 1);
  CHECK_FALSE(netmem_is_pfmemalloc(NetmemRef::from_net_iov(area.niov(0))));
  put_page(*page);
}

TEST_CASE("netmem: get_netmem/put_netmem change a page's refcount and free it on the last put", "[netmem][unit]") {
  HostMemory mem;
  Page* page = mem.alloc_pages(0);
  REQUIRE(page != nullptr);
  const NetmemRef p = NetmemRef::from_page(*page);
  get_netmem(p);
  CHECK(page->ref_count() == 2);
  put_netmem(p);
  CHECK(page->ref_count() == 1);
  CHECK(mem.pages_in_use() == 1);
  CHECK(mem.stats().frees == 0);
  put_netmem(p);
  CHECK(mem.pages_in_use() == 0);
  CHECK(mem.stats().frees == 1);
}

TEST_CASE("netmem: get_netmem/put_netmem on a net_iov call its area's hooks", "[netmem][unit]") {
  CountingArea area(3, 0, NetIovType::kDmabuf, 11);
  NetIov& niov = area.niov(1);
  niov.pp_ref_count = 1;
  const NetmemRef v = NetmemRef::from_net_iov(niov);

  get_netmem(v);
  CHECK(area.gets == 1);
  CHECK(area.puts == 0);
  CHECK(area.last == &niov);
  get_netmem(v);
  put_netmem(v);
  CHECK(area.gets == 2);
  CHECK(area.puts == 1);
  put_netmem(NetmemRef::from_net_iov(area.niov(2)));
  CHECK(area.puts == 2);
  CHECK(area.last == &area.niov(2));
  // The hooks own the reference semantics: pp_ref_count is not the binding refcount.
  CHECK(niov.pp_ref_count == 1);
}

TEST_CASE("netmem: a plain NetIovArea's hooks do nothing", "[netmem][unit]") {
  NetIovArea area(1, 0, NetIovType::kIoUring, 2);
  const NetmemRef v = NetmemRef::from_net_iov(area.niov(0));
  get_netmem(v);
  put_netmem(v);
  CHECK(area.niov(0).pp_ref_count == 0);
  CHECK(netmem_ref_count(v) == 1);
}

TEST_CASE("netmem: a NetIovArea sets owner and type on every net_iov and indexes them", "[netmem][unit]") {
  NetIovArea area(8, 0x10'0000, NetIovType::kIoUring, 42);
  CHECK(area.num_niovs() == 8);
  CHECK(area.niovs().size() == 8);
  CHECK(area.base_virtual() == 0x10'0000);
  CHECK(area.type() == NetIovType::kIoUring);
  CHECK(area.owner_id() == 42);
  for (std::size_t i = 0; i < area.num_niovs(); ++i) {
    NetIov& niov = area.niov(i);
    CHECK(niov.owner == &area);
    CHECK(niov.type == NetIovType::kIoUring);
    CHECK(area.index_of(niov) == i);
    CHECK(&area.niovs()[i] == &niov);
    CHECK(net_iov_virtual_addr(niov) == 0x10'0000 + i * 4096);
  }
  CHECK(net_iov_virtual_addr(area.niov(7)) == 0x10'7000);

  NetIovArea dmabuf(2, 0, NetIovType::kDmabuf, 5);
  CHECK(dmabuf.owner_id() == 5);
  CHECK(dmabuf.niov(0).type == NetIovType::kDmabuf);
  CHECK(dmabuf.niov(1).owner == &dmabuf);
  CHECK(net_iov_virtual_addr(dmabuf.niov(0)) == 0);
  CHECK(net_iov_virtual_addr(dmabuf.niov(1)) == 4096);
}
