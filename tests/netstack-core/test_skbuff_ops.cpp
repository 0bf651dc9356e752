// The sk_buff helpers against readable and unreadable skbs: every row of
// linux-kernel-semantics.md §1.5 that applies to them, frag reference counts through clone,
// coalesce, split and pull, and checksums against a byte-by-byte RFC 1071 reference.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <vector>

#include "nicemu/netstack/core/skbuff_ops.hpp"
#include "nicemu/sim/random.hpp"
#include "skb_fixtures.hpp"

using namespace nicemu;
using namespace nicemu::netstack::core;
using netmem::NetmemRef;
using nicemu::testing::pattern_byte;
using nicemu::testing::reference_ones_complement_sum;
using nicemu::testing::SkbHost;
using nicemu::testing::skb_bytes;

namespace {

// 66 header bytes, then three page frags (the middle one at an offset near the page end).
SkBuff* readable_skb(SkbHost& h, std::vector<std::byte>& expect) {
  SkBuff* skb = h.linear(66, &expect);
  h.add_page_frag(*skb, 0, 1448, &expect);
  h.add_page_frag(*skb, 3000, 1096, &expect);
  h.add_page_frag(*skb, 100, 700, &expect);
  return skb;
}

// 66 header bytes, a page frag, then one net_iov frag among pages.
SkBuff* unreadable_skb(SkbHost& h, std::vector<std::byte>& linear) {
  SkBuff* skb = h.linear(66, &linear);
  h.add_page_frag(*skb, 0, 1000);
  h.add_niov_frag(*skb, 0, 4096);
  h.add_page_frag(*skb, 0, 500);
  return skb;
}

std::vector<std::byte> slice(const std::vector<std::byte>& v, std::size_t off, std::size_t n) {
  return {v.begin() + static_cast<std::ptrdiff_t>(off), v.begin() + static_cast<std::ptrdiff_t>(off + n)};
}

}  // namespace

// ---- skb_frags_readable, skb_frag_address ----------------------------------------------------

TEST_CASE("skb_frag_address: a page frag gives its bytes, a net_iov frag gives nothing", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = h.linear(10, &expect);
  h.add_page_frag(*skb, 200, 50, &expect);
  h.add_niov_frag(*skb, 0, 100);
  const netmem::ReadableView page = skb_frag_address(skb->frag(0));
  REQUIRE(page);
  CHECK(page.size() == 50);
  CHECK(page.data()[0] == expect[10]);
  CHECK_FALSE(skb_frag_address(skb->frag(1)));
  CHECK_FALSE(skb_frags_readable(*skb));
  kfree_skb(skb);
}

// ---- skb_copy_bits / skb_store_bits ----------------------------------------------------------

TEST_CASE("skb_copy_bits: copies any range of a readable skb across linear and frags", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  sim::Rng rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const auto off = static_cast<int>(rng.uniform(skb->len()));
    const auto len = static_cast<int>(rng.uniform(skb->len() - static_cast<std::uint32_t>(off) + 1));
    std::vector<std::byte> out(static_cast<std::size_t>(len));
    REQUIRE(skb_copy_bits(*skb, off, out.data(), len) == 0);
    CHECK(out == slice(expect, static_cast<std::size_t>(off), static_cast<std::size_t>(len)));
  }
  kfree_skb(skb);
}

TEST_CASE("skb_copy_bits: a range outside the skb is -EFAULT", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  SkbOpsStats stats;
  std::vector<std::byte> out(skb->len() + 1);
  CHECK(skb_copy_bits(*skb, 0, out.data(), static_cast<int>(skb->len()) + 1, &stats) == -EFAULT);
  CHECK(skb_copy_bits(*skb, static_cast<int>(skb->len()), out.data(), 1, &stats) == -EFAULT);
  CHECK(skb_copy_bits(*skb, -1, out.data(), 2, &stats) == -EFAULT);
  CHECK(stats.bad_range == 3);
  kfree_skb(skb);
}

TEST_CASE("skb_copy_bits on an unreadable skb: the linear range copies, a range into the frags is -EFAULT "
          "after the linear part",
          "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  SkbOpsStats stats;
  std::vector<std::byte> out(100, std::byte{0xee});
  CHECK(skb_copy_bits(*skb, 10, out.data(), 56, &stats) == 0);
  CHECK(slice(out, 0, 56) == slice(linear, 10, 56));
  CHECK(stats.copy_bits_unreadable == 0);

  std::fill(out.begin(), out.end(), std::byte{0xee});
  CHECK(skb_copy_bits(*skb, 20, out.data(), 100, &stats) == -EFAULT);
  CHECK(slice(out, 0, 46) == slice(linear, 20, 46));  // "copies linear part then -EFAULT"
  CHECK(out[46] == std::byte{0xee});
  CHECK(stats.copy_bits_unreadable == 1);

  // The readable page frag in front of the net_iov is refused too: the test is the skb's bit.
  CHECK(skb_copy_bits(*skb, 70, out.data(), 10, &stats) == -EFAULT);
  CHECK(stats.copy_bits_unreadable == 2);
  kfree_skb(skb);
}

TEST_CASE("skb_store_bits: writes through to the frag pages of a readable skb", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  std::vector<std::byte> in(2000);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::byte>(i * 3);
  REQUIRE(skb_store_bits(*skb, 50, in.data(), static_cast<int>(in.size())) == 0);
  std::copy(in.begin(), in.end(), expect.begin() + 50);
  CHECK(skb_bytes(*skb) == expect);
  kfree_skb(skb);
}

TEST_CASE("skb_store_bits on an unreadable skb: the linear part is written, then -EFAULT", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  SkbOpsStats stats;
  const std::vector<std::byte> in(30, std::byte{0x5a});
  CHECK(skb_store_bits(*skb, 50, in.data(), 30, &stats) == -EFAULT);
  CHECK(stats.store_bits_unreadable == 1);
  for (std::size_t i = 50; i < 66; ++i) CHECK(skb->data()[i] == std::byte{0x5a});
  CHECK(skb_store_bits(*skb, 0, in.data(), 30, &stats) == 0);  // linear only: fine
  kfree_skb(skb);
}

// ---- skb_clone --------------------------------------------------------------------------------

TEST_CASE("skb_clone: same bytes, metadata and cb, every frag takes a pp reference that comes back",
          "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  std::memset(skb->push(14), 0xab, 14);  // a MAC header in front, so mac_header sits before data
  skb->reset_mac_header();
  skb->pull(14);
  skb->reset_network_header();
  skb->protocol = 0x86dd;
  skb->hash = 0x1234;
  skb->ip_summed = IpSummed::kUnnecessary;
  skb->gso_size = 1448;
  skb->cb[5] = std::byte{0x77};
  SkBuff* c = skb_clone(*skb);
  REQUIRE(c != nullptr);
  CHECK(c != skb);
  CHECK(skb_bytes(*c) == expect);
  CHECK(c->headroom() == skb->headroom());
  CHECK(c->headlen() == skb->headlen());
  CHECK(c->mac_header == skb->mac_header);
  CHECK(c->network_header == skb->network_header);
  CHECK(std::memcmp(c->head() + c->mac_header, skb->head() + skb->mac_header, 14) == 0);
  CHECK(c->protocol == 0x86dd);
  CHECK(c->hash == 0x1234);
  CHECK(c->ip_summed == IpSummed::kUnnecessary);
  CHECK(c->gso_size == 1448);
  CHECK(c->cb[5] == std::byte{0x77});
  CHECK(c->pp_recycle);
  CHECK(c->truesize == skb->truesize);
  for (int i = 0; i < skb->nr_frags(); ++i) {
    CHECK(c->frag(i).netmem == skb->frag(i).netmem);
    CHECK(skb->frag(i).netmem.desc().pp_ref_count == 2);
    CHECK(skb->frag(i).netmem.page().ref_count() == 1);  // pp frags: pp_ref_count, not the page's
  }
  c->data()[0] = std::byte{0xff};  // the clone's linear area is its own
  CHECK(skb->data()[0] == expect[0]);
  kfree_skb(skb);
  for (int i = 0; i < c->nr_frags(); ++i) CHECK(c->frag(i).netmem.desc().pp_ref_count == 1);
  CHECK(h.pages_out() == 3);
  kfree_skb(c);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_clone: plain page frags take page references", "[netstack][core][unit]") {
  SkbHost h;
  netmem::Page* page = h.host.memory.alloc_pages(0);
  SkBuff* skb = h.linear(20);
  skb->add_rx_frag(NetmemRef::from_page(*page), 0, 100, netmem::kPageSize);
  SkBuff* c = skb_clone(*skb);
  REQUIRE(c != nullptr);
  CHECK(page->ref_count() == 2);
  kfree_skb(c);
  CHECK(page->ref_count() == 1);
  kfree_skb(skb);
}

TEST_CASE("skb_clone of an unreadable skb shares the net_iov and stays unreadable", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  SkBuff* c = skb_clone(*skb);
  REQUIRE(c != nullptr);
  CHECK(c->unreadable);
  CHECK(c->len() == skb->len());
  CHECK(skb->frag(1).netmem.is_net_iov());
  CHECK(skb->frag(1).netmem.desc().pp_ref_count == 2);
  kfree_skb(skb);
  kfree_skb(c);
  CHECK(h.niovs_out() == 0);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_clone: an empty allocator gives nullptr and takes no reference", "[netstack][core][unit]") {
  SkbHost h(1);
  SkBuff* skb = h.linear(20);
  const NetmemRef n = h.add_page_frag(*skb, 0, 100);
  SkbOpsStats stats;
  CHECK(skb_clone(*skb, &stats) == nullptr);
  CHECK(stats.clone_alloc_failed == 1);
  CHECK(h.skbs.stats().alloc_failures == 1);
  CHECK(n.desc().pp_ref_count == 1);
  kfree_skb(skb);
}

// ---- skb_copy ----------------------------------------------------------------------------------

TEST_CASE("skb_copy: a small readable skb becomes a fully linear private copy", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = h.linear(54, &expect);
  h.add_page_frag(*skb, 10, 200, &expect);
  skb->network_header = static_cast<std::uint16_t>(skb->headroom() + 14);
  SkBuff* c = skb_copy(*skb);
  REQUIRE(c != nullptr);
  CHECK(c->nr_frags() == 0);
  CHECK(c->headlen() == 254);
  CHECK(c->headroom() == skb->headroom());
  CHECK(c->network_header == skb->network_header);
  CHECK(skb_bytes(*c) == expect);
  CHECK_FALSE(c->pp_recycle);
  kfree_skb(skb);
  kfree_skb(c);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_copy: a large readable skb gets its frag bytes in fresh host pages", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  const std::uint64_t pages_before = h.host.memory.pages_in_use();
  SkbOpsStats stats;
  CHECK(skb_copy(*skb, nullptr, &stats) == nullptr);  // does not fit the head, no memory given
  CHECK(stats.copy_alloc_failed == 1);
  SkBuff* c = skb_copy(*skb, &h.host.memory, &stats);
  REQUIRE(c != nullptr);
  CHECK(skb_bytes(*c) == expect);
  CHECK(c->headlen() == skb->headlen());
  CHECK(c->nr_frags() == 1);  // 3244 frag bytes fit in one page
  CHECK_FALSE(c->frag(0).netmem.is_net_iov());
  CHECK(c->frag(0).netmem.desc().pp == nullptr);
  CHECK(h.host.memory.pages_in_use() == pages_before + 1);
  // Private: writing the copy leaves the original alone.
  netmem::netmem_address(c->frag(0).netmem).data()[0] = ~expect[66];
  CHECK(skb_bytes(*skb) == expect);
  kfree_skb(c);
  CHECK(h.host.memory.pages_in_use() == pages_before);
  kfree_skb(skb);
}

TEST_CASE("skb_copy of an unreadable skb returns nullptr", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  SkbOpsStats stats;
  const std::uint64_t in_use = h.skbs.in_use();
  CHECK(skb_copy(*skb, &h.host.memory, &stats) == nullptr);
  CHECK(stats.copy_unreadable == 1);
  CHECK(h.skbs.in_use() == in_use);
  kfree_skb(skb);
}

// ---- pskb_may_pull / pskb_pull_tail -------------------------------------------------------------

TEST_CASE("pskb_may_pull: bytes already linear succeed without touching the skb", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  CHECK(pskb_may_pull(*skb, 66));
  CHECK(skb->headlen() == 66);
  kfree_skb(skb);
}

TEST_CASE("pskb_may_pull on an unreadable skb cannot pull payload into the head", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  SkbOpsStats stats;
  CHECK_FALSE(pskb_may_pull(*skb, 80, &stats));
  CHECK(pskb_pull_tail(*skb, 10, &stats) == nullptr);
  CHECK(stats.pull_unreadable == 2);
  CHECK(skb->headlen() == 66);
  CHECK(skb->nr_frags() == 3);
  kfree_skb(skb);
}

TEST_CASE("pskb_may_pull: pulls frag bytes into the linear area, releasing emptied frags", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = h.linear(40, &expect);
  h.add_page_frag(*skb, 0, 100, &expect);
  const NetmemRef second = h.add_page_frag(*skb, 3000, 200, &expect);
  h.add_page_frag(*skb, 500, 100, &expect);
  const std::uint32_t len = skb->len();
  const std::uint32_t truesize = skb->truesize;
  CHECK(h.pages_out() == 3);
  REQUIRE(pskb_may_pull(*skb, 40 + 40));  // 40 bytes of the first frag
  CHECK(skb->headlen() == 80);
  CHECK(skb->nr_frags() == 3);
  CHECK(skb->frag(0).len == 60);
  CHECK(skb->frag(0).offset == 40);
  CHECK(skb->len() == len);
  CHECK(skb_bytes(*skb) == expect);
  // Past the first frag and into the second: the first frag goes back to its pool.
  REQUIRE(pskb_may_pull(*skb, 40 + 100 + 10));
  CHECK(skb->headlen() == 150);
  CHECK(skb->nr_frags() == 2);
  CHECK(skb->frag(0).netmem == second);
  CHECK(skb->frag(0).offset == 3010);
  CHECK(skb->frag(0).len == 190);
  CHECK(second.desc().pp_ref_count == 1);
  CHECK(h.pages_out() == 2);
  CHECK(skb->len() == len);
  CHECK(skb->data_len() == 190 + 100);
  CHECK(skb->truesize == truesize);
  CHECK(skb_bytes(*skb) == expect);
  // Everything (440 bytes fit the 448 the head has after NET_SKB_PAD): the skb becomes linear.
  REQUIRE(pskb_may_pull(*skb, len));
  CHECK(skb->nr_frags() == 0);
  CHECK(skb->headlen() == len);
  CHECK(h.pages_out() == 0);
  CHECK(skb_bytes(*skb) == expect);
  kfree_skb(skb);
}

TEST_CASE("pskb_may_pull fails when the head has no room or the skb is too short", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  SkbOpsStats stats;
  CHECK_FALSE(pskb_may_pull(*skb, kSkbHeadCapacity, &stats));  // headroom 64 + 512 > 512
  CHECK(stats.pull_no_room == 1);
  CHECK_FALSE(pskb_may_pull(*skb, skb->len() + 1, &stats));
  CHECK(skb->headlen() == 66);
  CHECK(skb_bytes(*skb) == expect);
  CHECK(pskb_may_pull(*skb, kSkbHeadCapacity - kNetSkbPad));  // exactly fills the head
  CHECK(skb->headroom() + skb->headlen() == kSkbHeadCapacity);
  CHECK(skb_bytes(*skb) == expect);
  kfree_skb(skb);
}

// ---- skb_try_coalesce --------------------------------------------------------------------------

TEST_CASE("skb_try_coalesce: frags move from `from` to `to` with their references", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* to = h.linear(66, &expect);
  h.add_page_frag(*to, 0, 1448, &expect);
  std::vector<std::byte> from_bytes;
  SkBuff* from = h.skbs.alloc();
  h.add_page_frag(*from, 0, 1448, &from_bytes, 9);
  h.add_page_frag(*from, 2000, 1448, &from_bytes, 9);
  expect.insert(expect.end(), from_bytes.begin(), from_bytes.end());
  const std::uint32_t from_truesize = from->truesize;
  bool stolen = true;
  int delta = -1;
  REQUIRE(skb_try_coalesce(*to, *from, &stolen, &delta));
  CHECK_FALSE(stolen);
  CHECK(delta == static_cast<int>(from_truesize));
  CHECK(to->nr_frags() == 3);
  CHECK(to->len() == 66 + 3 * 1448);
  CHECK(skb_bytes(*to) == expect);
  CHECK(from->nr_frags() == 0);
  for (int i = 0; i < to->nr_frags(); ++i) CHECK(to->frag(i).netmem.desc().pp_ref_count == 1);
  kfree_skb(from);
  CHECK(h.pages_out() == 3);
  kfree_skb(to);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_try_coalesce: a readable `from` that fits a linear `to`'s tailroom is copied", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* to = h.linear(66, &expect);
  to->pp_recycle = true;  // an RX skb of the same driver (kernel: skb_mark_for_recycle)
  std::vector<std::byte> from_bytes;
  SkBuff* from = h.linear(20, &from_bytes, 3);
  h.add_page_frag(*from, 0, 100, &from_bytes, 3);
  expect.insert(expect.end(), from_bytes.begin(), from_bytes.end());
  bool stolen = true;
  int delta = -1;
  REQUIRE(skb_try_coalesce(*to, *from, &stolen, &delta));
  CHECK(delta == 0);
  CHECK(to->nr_frags() == 0);
  CHECK(skb_bytes(*to) == expect);
  CHECK(from->nr_frags() == 1);  // from keeps its frag; the caller frees it
  kfree_skb(from);
  kfree_skb(to);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_try_coalesce never mixes readable and unreadable skbs", "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* readable = h.linear(66);
  h.add_page_frag(*readable, 0, 1000);
  SkBuff* unreadable = h.skbs.alloc();
  h.add_niov_frag(*unreadable, 0, 4096);
  SkbOpsStats stats;
  bool stolen = false;
  int delta = 0;
  CHECK_FALSE(skb_try_coalesce(*readable, *unreadable, &stolen, &delta, &stats));
  CHECK_FALSE(skb_try_coalesce(*unreadable, *readable, &stolen, &delta, &stats));
  CHECK(stats.coalesce_readability == 2);
  CHECK(readable->nr_frags() == 1);
  CHECK(unreadable->nr_frags() == 1);
  CHECK_FALSE(readable->unreadable);
  kfree_skb(readable);
  kfree_skb(unreadable);
}

TEST_CASE("skb_try_coalesce: two unreadable skbs merge by moving net_iov frags, never by copying",
          "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* to = h.linear(66);
  h.add_niov_frag(*to, 0, 4096);
  SkBuff* from = h.skbs.alloc();
  const NetmemRef n1 = h.add_niov_frag(*from, 0, 4096);
  const NetmemRef n2 = h.add_niov_frag(*from, 0, 100);
  bool stolen = false;
  int delta = 0;
  REQUIRE(skb_try_coalesce(*to, *from, &stolen, &delta));
  CHECK(to->nr_frags() == 3);
  CHECK(to->frag(1).netmem == n1);
  CHECK(to->frag(2).netmem == n2);
  CHECK(n1.desc().pp_ref_count == 1);
  CHECK(to->unreadable);
  CHECK(to->len() == 66 + 4096 + 4096 + 100);
  kfree_skb(from);
  CHECK(h.niovs_out() == 3);
  kfree_skb(to);
  CHECK(h.niovs_out() == 0);
}

TEST_CASE("skb_try_coalesce refuses: pp_recycle differs, too many frags, linear bytes behind frags",
          "[netstack][core][unit]") {
  SkbHost h;
  SkbOpsStats stats;
  bool stolen = false;
  int delta = 0;
  SkBuff* to = h.linear(66);
  for (int i = 0; i < 10; ++i) h.add_page_frag(*to, 0, 100);
  SkBuff* from = h.skbs.alloc();
  for (int i = 0; i < 8; ++i) h.add_page_frag(*from, 0, 100);
  CHECK_FALSE(skb_try_coalesce(*to, *from, &stolen, &delta, &stats));
  CHECK(stats.coalesce_too_many_frags == 1);

  from->pp_recycle = false;
  CHECK_FALSE(skb_try_coalesce(*to, *from, &stolen, &delta, &stats));
  CHECK(stats.coalesce_pp_recycle == 1);
  from->pp_recycle = true;

  SkBuff* with_head = h.linear(30);
  h.add_page_frag(*with_head, 0, 1000);
  CHECK_FALSE(skb_try_coalesce(*to, *with_head, &stolen, &delta, &stats));  // `to` has frags
  CHECK(stats.coalesce_linear == 1);
  CHECK(to->nr_frags() == 10);
  CHECK(to->len() == 66 + 1000);
  kfree_skb(with_head);
  kfree_skb(from);
  kfree_skb(to);
  CHECK(h.pages_out() == 0);
}

// ---- skb_split ---------------------------------------------------------------------------------

TEST_CASE("skb_split across a frag shares the straddling frag and keeps every byte", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  SkBuff* skb1 = h.skbs.alloc();
  const std::uint32_t len = 66 + 1448 + 500;  // inside the second frag
  const NetmemRef straddling = skb->frag(1).netmem;
  skb_split(*skb, *skb1, len);
  CHECK(skb->len() == len);
  CHECK(skb->nr_frags() == 2);
  CHECK(skb->frag(1).len == 500);
  CHECK(skb1->len() == expect.size() - len);
  CHECK(skb1->headlen() == 0);
  CHECK(skb1->nr_frags() == 2);
  CHECK(skb1->frag(0).netmem == straddling);
  CHECK(skb1->frag(0).offset == 3000 + 500);
  CHECK(skb1->frag(0).len == 1096 - 500);
  CHECK(straddling.desc().pp_ref_count == 2);
  CHECK(skb1->pp_recycle);
  CHECK(skb_bytes(*skb) == slice(expect, 0, len));
  CHECK(skb_bytes(*skb1) == slice(expect, len, expect.size() - len));
  kfree_skb(skb);
  CHECK(straddling.desc().pp_ref_count == 1);
  kfree_skb(skb1);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_split on a frag boundary moves whole frags", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  SkBuff* skb1 = h.skbs.alloc();
  skb_split(*skb, *skb1, 66 + 1448);
  CHECK(skb->nr_frags() == 1);
  CHECK(skb1->nr_frags() == 2);
  for (int i = 0; i < skb1->nr_frags(); ++i) CHECK(skb1->frag(i).netmem.desc().pp_ref_count == 1);
  CHECK(skb_bytes(*skb1) == slice(expect, 66 + 1448, expect.size() - 66 - 1448));
  kfree_skb(skb);
  kfree_skb(skb1);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_split inside the linear area copies the rest of the head and moves every frag",
          "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  SkBuff* skb1 = h.skbs.alloc();
  skb_split(*skb, *skb1, 40);
  CHECK(skb->len() == 40);
  CHECK(skb->nr_frags() == 0);
  CHECK(skb1->headlen() == 26);
  CHECK(skb1->nr_frags() == 3);
  CHECK(skb_bytes(*skb) == slice(expect, 0, 40));
  CHECK(skb_bytes(*skb1) == slice(expect, 40, expect.size() - 40));
  kfree_skb(skb);
  CHECK(h.pages_out() == 3);
  kfree_skb(skb1);
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_split carries the unreadable bit to the second skb", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  SkBuff* skb1 = h.skbs.alloc();
  skb_split(*skb, *skb1, 66 + 1000 + 2000);  // inside the net_iov frag
  CHECK(skb1->unreadable);
  CHECK(skb->unreadable);  // the kernel never clears the bit on split
  CHECK(skb1->frag(0).netmem.is_net_iov());
  CHECK(skb1->frag(0).offset == 2000);
  CHECK(skb1->frag(0).netmem.desc().pp_ref_count == 2);
  kfree_skb(skb);
  kfree_skb(skb1);

  // Inside the header: the bit is copied as it is.
  std::vector<std::byte> linear2;
  SkBuff* other = unreadable_skb(h, linear2);
  SkBuff* tail = h.skbs.alloc();
  skb_split(*other, *tail, 40);
  CHECK(tail->unreadable);
  CHECK(tail->headlen() == 26);
  CHECK(tail->nr_frags() == 3);
  kfree_skb(other);
  kfree_skb(tail);
  CHECK(h.niovs_out() == 0);
  CHECK(h.pages_out() == 0);
}

// ---- skb_checksum -------------------------------------------------------------------------------

TEST_CASE("skb_checksum equals a byte-by-byte RFC 1071 sum for random frag layouts and ranges",
          "[netstack][core][unit]") {
  SkbHost h;
  sim::Rng rng(42);
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<std::byte> expect;
    SkBuff* skb = h.linear(static_cast<std::uint32_t>(rng.uniform(200)), &expect, static_cast<std::uint32_t>(trial));
    const int nfrags = static_cast<int>(rng.uniform(kMaxSkbFrags + 1));
    for (int i = 0; i < nfrags; ++i) {
      const auto len = static_cast<std::uint32_t>(rng.uniform_range(1, 3000));
      const auto off = static_cast<std::uint32_t>(rng.uniform(netmem::kPageSize - len + 1));
      h.add_page_frag(*skb, off, len, &expect, static_cast<std::uint32_t>(trial));
    }
    if (skb->len() == 0) {
      kfree_skb(skb);
      continue;
    }
    const auto off = static_cast<std::uint32_t>(rng.uniform(skb->len()));
    const auto len = static_cast<std::uint32_t>(rng.uniform(skb->len() - off + 1));
    const std::uint32_t csum = skb_checksum(*skb, static_cast<int>(off), static_cast<int>(len), 0);
    const std::uint16_t ref = reference_ones_complement_sum(slice(expect, off, len));
    INFO("trial " << trial << " off " << off << " len " << len);
    CHECK(csum_fold(csum) == static_cast<std::uint16_t>(~ref));
    kfree_skb(skb);
  }
  CHECK(h.pages_out() == 0);
}

TEST_CASE("skb_checksum adds the csum it is given", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  const std::uint32_t first = skb_checksum(*skb, 0, 1001, 0);  // an odd length across a frag edge
  // Continuing from an even offset equals summing the whole range.
  const std::uint32_t a = skb_checksum(*skb, 0, 1000, 0);
  const std::uint32_t b = skb_checksum(*skb, 1000, static_cast<int>(skb->len()) - 1000, a);
  CHECK(csum_fold(b) == static_cast<std::uint16_t>(~reference_ones_complement_sum(expect)));
  CHECK(csum_fold(first) == static_cast<std::uint16_t>(~reference_ones_complement_sum(slice(expect, 0, 1001))));
  // Within the linear area too.
  const std::uint32_t head = skb_checksum(*skb, 0, 10, 0);
  const std::uint32_t more = skb_checksum(*skb, 10, 20, head);
  CHECK(csum_fold(more) == static_cast<std::uint16_t>(~reference_ones_complement_sum(slice(expect, 0, 30))));
  kfree_skb(skb);
}

TEST_CASE("skb_checksum over unreadable frags returns 0 and counts the WARN_ON_ONCE", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  SkbOpsStats stats;
  const std::uint32_t head = skb_checksum(*skb, 0, 66, 0, &stats);
  CHECK(csum_fold(head) == static_cast<std::uint16_t>(~reference_ones_complement_sum(linear)));
  CHECK(stats.checksum_unreadable == 0);
  CHECK_FALSE(stats.checksum_warned);
  CHECK(skb_checksum(*skb, 0, static_cast<int>(skb->len()), 0, &stats) == 0);
  CHECK(skb_checksum(*skb, 70, 10, 0x1234, &stats) == 0);
  CHECK(stats.checksum_unreadable == 2);
  CHECK(stats.checksum_warned);
  kfree_skb(skb);
}

// ---- skb_copy_datagram_iter ------------------------------------------------------------------

TEST_CASE("skb_copy_datagram_iter copies a readable skb into the user buffer", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  std::vector<std::byte> out(expect.size() - 66);
  CHECK(skb_copy_datagram_iter(*skb, 66, out) == 0);
  CHECK(out == slice(expect, 66, expect.size() - 66));
  std::vector<std::byte> too_long(expect.size() + 1);
  SkbOpsStats stats;
  CHECK(skb_copy_datagram_iter(*skb, 0, too_long, &stats) == -EFAULT);
  CHECK(stats.datagram_iter_efault == 1);
  kfree_skb(skb);
}

TEST_CASE("skb_copy_datagram_iter on an unreadable skb: linear bytes copy, frag bytes are -EFAULT",
          "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  SkbOpsStats stats;
  std::vector<std::byte> head(26);
  CHECK(skb_copy_datagram_iter(*skb, 40, head, &stats) == 0);
  CHECK(head == slice(linear, 40, 26));
  std::vector<std::byte> more(30, std::byte{0});
  CHECK(skb_copy_datagram_iter(*skb, 60, more, &stats) == -EFAULT);
  CHECK(slice(more, 0, 6) == slice(linear, 60, 6));
  std::vector<std::byte> payload(100);
  CHECK(skb_copy_datagram_iter(*skb, 66, payload, &stats) == -EFAULT);
  CHECK(stats.datagram_iter_efault == 2);
  std::vector<std::byte> nothing;
  CHECK(skb_copy_datagram_iter(*skb, 100, nothing, &stats) == 0);  // nothing asked: no short copy
  kfree_skb(skb);
}

// ---- skb_checksum_help ---------------------------------------------------------------------------

TEST_CASE("skb_checksum_help fills the checksum of a CHECKSUM_PARTIAL skb in software", "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> expect;
  SkBuff* skb = readable_skb(h, expect);
  // The "L4 header" starts at 34 and its checksum field is at +16; zero the field first.
  std::byte zero[2] = {};
  REQUIRE(skb_store_bits(*skb, 34 + 16, zero, 2) == 0);
  REQUIRE(skb_partial_csum_set(*skb, 34, 16));
  CHECK(skb->ip_summed == IpSummed::kPartial);
  CHECK(skb_checksum_start_offset(*skb) == 34);
  CHECK(skb->transport_header == skb->headroom() + 34);
  REQUIRE(skb_checksum_help(*skb) == 0);
  CHECK(skb->ip_summed == IpSummed::kNone);
  const std::vector<std::byte> after = skb_bytes(*skb);
  CHECK(reference_ones_complement_sum(slice(after, 34, after.size() - 34)) == 0xffff);
  kfree_skb(skb);
}

TEST_CASE("skb_checksum_help: -EFAULT for an unreadable skb, -EINVAL for GSO, COMPLETE becomes NONE",
          "[netstack][core][unit]") {
  SkbHost h;
  std::vector<std::byte> linear;
  SkBuff* skb = unreadable_skb(h, linear);
  REQUIRE(skb_partial_csum_set(*skb, 34, 16));
  SkbOpsStats stats;
  CHECK(skb_checksum_help(*skb, &stats) == -EFAULT);
  CHECK(stats.checksum_help_unreadable == 1);
  CHECK(skb->ip_summed == IpSummed::kPartial);
  CHECK(skb->data()[34 + 16] == linear[34 + 16]);  // nothing written

  skb->gso_size = 1448;
  CHECK(skb_checksum_help(*skb, &stats) == -EINVAL);
  skb->ip_summed = IpSummed::kComplete;
  CHECK(skb_checksum_help(*skb, &stats) == 0);
  CHECK(skb->ip_summed == IpSummed::kNone);
  kfree_skb(skb);
}

TEST_CASE("skb_partial_csum_set refuses a field past the linear area", "[netstack][core][unit]") {
  SkbHost h;
  SkBuff* skb = h.linear(40);
  CHECK_FALSE(skb_partial_csum_set(*skb, 30, 9));  // 30 + 9 + 2 > 40
  CHECK(skb->ip_summed == IpSummed::kNone);
  CHECK(skb_partial_csum_set(*skb, 30, 8));
  CHECK(skb_csum_offset(*skb) == 8);
  kfree_skb(skb);
}
