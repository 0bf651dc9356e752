// The socket's page frag on send (kernel: sk_page_frag_refill -> skb_page_frag_refill): send()
// copies into 32 KiB compound pages (SKB_FRAG_PAGE_ORDER 3) one after the other, falls back to
// single pages when no 32 KiB block is free, starts a page again from its beginning once only
// the socket holds it, and moves on when fewer than 32 bytes are left in it.
#include <catch2/catch.hpp>

#include <memory>
#include <set>

#include "tcp_harness.hpp"

using namespace nicemu;
using namespace nicemu::netstack::tcp;
using namespace nicemu::sim::literals;
using namespace nicemu::testing;

namespace {

TcpConfig frag_config() {
  TcpConfig c = plain_config();
  c.sndbuf = 1u << 20;
  c.sndbuf_locked = true;
  return c;
}

// The page and offset of a one-frag segment or write-queue skb.
struct Where {
  const netmem::Page* page;
  std::uint32_t offset;
};
Where where(const netstack::core::SkBuff& skb) {
  REQUIRE(skb.nr_frags() == 1);
  const netmem::Page* page = skb.frag(0).netmem.to_page();
  REQUIRE(page != nullptr);
  return {page, skb.frag(0).offset};
}

}  // namespace

TEST_CASE("tcp page frag: send() fills one 32 KiB compound page segment after segment",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, frag_config());
  open_active(env, sk);
  const auto data = pattern(10 * 1460);
  REQUIRE(sk.send(data, at(1_ms)) == static_cast<int>(data.size()));
  REQUIRE(env.out.size() == 10);  // the initial window, one segment per skb (no TSO)
  const netmem::Page* page = where(*env.out[0].skb).page;
  CHECK(page->order() == netstack::core::kSkbFragPageOrder);
  CHECK(page->size_bytes() == 32768);
  for (std::size_t i = 0; i < env.out.size(); ++i) {
    const Where w = where(*env.out[i].skb);
    CHECK(w.page == page);
    CHECK(w.offset == i * 1460);
    const auto bytes = TcpTestEnv::payload(env.out[i]);
    CHECK(std::equal(bytes.begin(), bytes.end(), data.begin() + static_cast<std::ptrdiff_t>(i * 1460)));
  }
  // One allocation for all of it: the 32 KiB block.
  CHECK(env.memory.stats().pages_in_use == 8);
  CHECK(env.memory.stats().noretry_failures == 0);
}

TEST_CASE("tcp page frag: with no 32 KiB block free send() falls back to single pages, not counted as a failure",
          "[netstack][tcp][unit]") {
  // Seven pages of capacity: an order-3 block (eight pages) never fits.
  TcpTestEnv env(netmem::HostMemoryConfig{7 * netmem::kPageSize, 0});
  TcpSock sk(env, frag_config());
  open_active(env, sk);
  const auto data = pattern(3 * 1460);
  REQUIRE(sk.send(data, at(1_ms)) == static_cast<int>(data.size()));
  REQUIRE(env.out.size() == 3);  // the second segment has two frags: it crosses into a second page
  std::set<const netmem::Page*> pages;
  std::size_t bytes = 0;
  for (const TcpSegment& s : env.out) {
    for (int f = 0; f < s.skb->nr_frags(); ++f) {
      const netmem::Page* page = s.skb->frag(f).netmem.to_page();
      REQUIRE(page != nullptr);
      CHECK(page->order() == 0);
      pages.insert(page);
    }
    bytes += s.payload_len;
  }
  CHECK(bytes == data.size());
  CHECK(pages.size() == 2);
  CHECK(env.memory.stats().noretry_failures >= 1);
  CHECK(env.memory.stats().alloc_failures == 0);
}

TEST_CASE("tcp page frag: a page only the socket still holds is filled again from its start",
          "[netstack][tcp][unit]") {
  TcpTestEnv env;
  TcpSock sk(env, frag_config());
  open_active(env, sk);
  REQUIRE(sk.send(pattern(2000), at(1_ms)) == 2000);
  REQUIRE(env.out.size() == 2);
  const netmem::Page* page = where(*env.out[0].skb).page;
  // Everything acknowledged and the sent clones gone: the socket's is the page's last reference.
  env.clear();
  TcpSegment ack = ack_of(env, kIss + 1 + 2000);
  sk.input(ack, at(2_ms));
  REQUIRE(page->ref_count() == 1);
  REQUIRE(sk.send(pattern(1000, 2000), at(3_ms)) == 1000);
  REQUIRE(env.out.size() == 1);
  const Where w = where(*env.out[0].skb);
  CHECK(w.page == page);
  CHECK(w.offset == 0);
  CHECK(env.memory.stats().pages_in_use == 8);  // no second block
}

TEST_CASE("tcp page frag: with fewer than 32 bytes left in the page, send() moves on to a new one",
          "[netstack][tcp][unit]") {
  TcpConfig cfg = frag_config();
  cfg.init_cwnd = 100;  // everything below leaves at once; the sent clones keep the pages held
  cfg.nodelay = true;   // and the short last segment too
  TcpTestEnv env;
  TcpSock sk(env, cfg);
  open_active(env, sk, kIss, kPeerIss, PeerOpts().win(65535));
  // Fill the first block up to 20 bytes before its end, then send 100 bytes more.
  const std::size_t first = 32768 - 20;
  REQUIRE(sk.send(pattern(first), at(1_ms)) == static_cast<int>(first));
  REQUIRE(sk.send(pattern(100, first), at(1_ms)) == 100);
  REQUIRE(!env.out.empty());
  const TcpSegment& tail = env.out.back();
  REQUIRE(tail.payload_len == 100);
  const Where w = where(*tail.skb);
  CHECK(w.offset == 0);
  CHECK(w.page != where(*env.out.front().skb).page);
  CHECK(w.page->order() == netstack::core::kSkbFragPageOrder);
  CHECK(env.memory.stats().pages_in_use == 16);
  const auto bytes = TcpTestEnv::payload(tail);
  const auto want = pattern(100, first);
  CHECK(std::equal(bytes.begin(), bytes.end(), want.begin()));
}
