// Test fixtures for SkBuff tests: a host with a page-pool registry, a host-page pool, a net_iov
// pool on a fake netdev queue, the host's execution context and an SkbAllocator; and builders
// that craft skbs (headers only, linear + frags, frags spanning pages, a net_iov among pages)
// while recording the bytes they should hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/page_pool/page_pool.hpp"
#include "page_pool_fixtures.hpp"

namespace nicemu::testing {

// The byte at logical position `i` of a crafted skb whose pattern is `seed`.
inline std::byte pattern_byte(std::uint32_t seed, std::size_t i) {
  return static_cast<std::byte>((seed * 131u + i * 7u + (i >> 8) * 13u) & 0xffu);
}

struct SkbHost {
  PoolHost host;
  page_pool::CallerContext ctx;  // what runs now (kernel: smp_processor_id(), in_softirq())
  netstack::core::SkbAllocator skbs;
  page_pool::PagePool* pages = nullptr;  // host-page pool, no provider

  FakePpNetdev netdev{1};
  NiovTestProvider provider{64};
  page_pool::PagePool* niovs = nullptr;  // the queue's payload pool: hands out net_iovs

  explicit SkbHost(std::size_t skb_limit = 0) : skbs(ctx, skb_limit) {
    pages = &host.create();
    netdev.set_mp(0, &provider);
    niovs = &host.create(host.payload_params(netdev, 0));
  }
  ~SkbHost() {
    niovs->destroy();
    pages->destroy();
  }
  SkbHost(const SkbHost&) = delete;
  SkbHost& operator=(const SkbHost&) = delete;

  // An skb with `n` linear bytes of the pattern, recorded in `expect`.
  netstack::core::SkBuff* linear(std::uint32_t n, std::vector<std::byte>* expect = nullptr, std::uint32_t seed = 1) {
    netstack::core::SkBuff* skb = skbs.alloc();
    NICEMU_ASSERT(skb != nullptr, "SkbHost::linear: allocator empty");
    std::byte* p = skb->put(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      p[i] = pattern_byte(seed, i);
      if (expect != nullptr) expect->push_back(p[i]);
    }
    return skb;
  }

  // Appends a page-pool page frag of `len` bytes at `offset`, filled with the pattern continuing
  // at the skb's current length; marks the skb for recycling (skb_mark_for_recycle).
  netmem::NetmemRef add_page_frag(netstack::core::SkBuff& skb, std::uint32_t offset, std::uint32_t len,
                                  std::vector<std::byte>* expect = nullptr, std::uint32_t seed = 1) {
    const netmem::NetmemRef n = pages->alloc_netmems();
    NICEMU_ASSERT(static_cast<bool>(n), "SkbHost::add_page_frag: pool empty");
    std::byte* p = netmem::netmem_address(n).data() + offset;
    const std::size_t base = skb.len();
    for (std::uint32_t i = 0; i < len; ++i) {
      p[i] = pattern_byte(seed, base + i);
      if (expect != nullptr) expect->push_back(p[i]);
    }
    skb.add_rx_frag(n, offset, len, static_cast<std::uint32_t>(netmem::kPageSize));
    skb.pp_recycle = true;
    return n;
  }

  // Appends a net_iov frag (device memory: no bytes to record); the skb becomes unreadable.
  netmem::NetmemRef add_niov_frag(netstack::core::SkBuff& skb, std::uint32_t offset, std::uint32_t len) {
    const netmem::NetmemRef n = niovs->alloc_netmems();
    NICEMU_ASSERT(static_cast<bool>(n), "SkbHost::add_niov_frag: provider empty");
    skb.add_rx_frag(n, offset, len, static_cast<std::uint32_t>(netmem::kPageSize));
    skb.pp_recycle = true;
    return n;
  }

  // Buffers of the host-page pool that are out of the pool (in skbs).
  std::int64_t pages_out() const {
    return static_cast<std::int64_t>(pages->inflight()) - pages->alloc_cache_count() -
           static_cast<std::int64_t>(pages->ring_count());
  }
  std::int64_t niovs_out() const {
    return static_cast<std::int64_t>(niovs->inflight()) - niovs->alloc_cache_count() -
           static_cast<std::int64_t>(niovs->ring_count());
  }
};

// The logical bytes of a readable skb, read through linear() and the frags' pages directly
// (independent of the helpers under test).
inline std::vector<std::byte> skb_bytes(const netstack::core::SkBuff& skb) {
  std::vector<std::byte> out(skb.linear().begin(), skb.linear().end());
  for (int i = 0; i < skb.nr_frags(); ++i) {
    const netstack::core::SkbFrag& f = skb.frag(i);
    const netmem::ReadableView v = netmem::netmem_address(f.netmem);
    NICEMU_ASSERT(static_cast<bool>(v), "skb_bytes: unreadable frag");
    out.insert(out.end(), v.data() + f.offset, v.data() + f.offset + f.len);
  }
  return out;
}

// RFC 1071 §4.1, byte by byte: the reference for checksum tests (independent of wire's).
inline std::uint16_t reference_ones_complement_sum(const std::vector<std::byte>& bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto b = std::to_integer<std::uint32_t>(bytes[i]);
    sum += (i % 2 == 0) ? (b << 8) : b;
    while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(sum);
}

}  // namespace nicemu::testing
