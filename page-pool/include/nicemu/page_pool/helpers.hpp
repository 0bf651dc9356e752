// nicemu/page_pool/helpers.hpp — pp_ref_count semantics.
//
// Models: include/net/page_pool/helpers.h (Linux 6.18): page_pool_fragment_netmem(),
//   page_pool_ref_netmem(), page_pool_unref_netmem(), page_pool_unref_and_test().
//   A netmem enters a pool with pp_ref_count 1; the fragment allocator charges kBiasMax.
//   Unref of exactly the current count means "last user" and leaves the count at 1, so every
//   buffer sitting in a pool has pp_ref_count 1.
// Not modelled: atomics (one thread).
#pragma once

#include <cstdint>

#include "nicemu/base/assert.hpp"
#include "nicemu/netmem/netmem.hpp"

namespace nicemu::page_pool {

inline void page_pool_fragment_netmem(netmem::NetmemRef n, std::int64_t nr) { n.desc().pp_ref_count = nr; }

inline void page_pool_ref_netmem(netmem::NetmemRef n) { ++n.desc().pp_ref_count; }

// Returns the references left; 0 means the caller dropped the last one.
inline std::int64_t page_pool_unref_netmem(netmem::NetmemRef n, std::int64_t nr) {
  std::int64_t& count = n.desc().pp_ref_count;
  if (count == nr) {
    count = 1;
    return 0;
  }
  const std::int64_t ret = count - nr;
  NICEMU_ASSERT(ret >= 0, "page_pool_unref_netmem: pp_ref_count would go negative (double put)");
  // ret > 0 here: ret == 0 would mean count == nr, handled above. (The kernel also resets a
  // result of 0 to 1 because another CPU may race it down; one thread cannot.)
  count = ret;
  return ret;
}

inline bool page_pool_unref_and_test(netmem::NetmemRef n) { return page_pool_unref_netmem(n, 1) == 0; }

}  // namespace nicemu::page_pool
