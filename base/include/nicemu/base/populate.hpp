// nicemu/base/populate.hpp — fault a buffer's pages in at set-up, not in the run loop.
//
// What it is: madvise(MADV_POPULATE_WRITE) over the whole pages inside a buffer (Linux 5.14+),
//   falling back to rewriting one byte per page with its own value, as a driver's
//   dma_alloc_coherent() gives it memory that is really there. A fresh anonymous mapping costs a
//   page fault (and, in a virtual machine, often a much slower fault of the host) at its first
//   write; populated once at ring or pool set-up, the simulation's first pass over it no longer
//   pays that on the clock. Contents are kept.
// Not for: memory another thread may be writing meanwhile (the fallback rewrites a byte), or
//   memory shared with another process.
#pragma once

#include <cstddef>

namespace nicemu::base {

// Faults in the pages of [p, p + n), keeping their contents.
void populate_pages(void* p, std::size_t n);

}  // namespace nicemu::base
