// nicemu/base/populate.hpp — fault a buffer's pages in at set-up, not in the run loop.
//
// What it is: madvise(MADV_POPULATE_WRITE) over the whole pages inside a buffer (Linux 5.14+),
//   falling back to writing one zero byte per page, as a driver's dma_alloc_coherent() gives it
//   memory that is really there. A fresh anonymous mapping costs a page fault (and, in a virtual
//   machine, an exit) at its first write; populated once at ring or pool set-up, the simulation's
//   first pass over it no longer pays that on the clock.
// Not for: memory whose contents matter (the fallback writes zeros; only use it on buffers that
//   are zero or unwritten), or memory that may be shared with another process.
#pragma once

#include <cstddef>

namespace nicemu::base {

// Faults in the pages of [p, p + n). Zero-filled or never-written memory only (see above).
void populate_zeroed(void* p, std::size_t n);

}  // namespace nicemu::base
