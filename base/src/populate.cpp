// populate_pages (see nicemu/base/populate.hpp).
#include "nicemu/base/populate.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace nicemu::base {

void populate_pages(void* p, std::size_t n) {
  if (p == nullptr || n == 0) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (begin + page - 1) / page * page;  // whole pages only: madvise wants
  const std::uintptr_t last = (begin + n) / page * page;          // them, and bytes outside are not ours
  if (first >= last) return;
#ifdef MADV_POPULATE_WRITE
  if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_WRITE) == 0) return;
#endif
  for (std::uintptr_t a = first; a < last; a += page) {
    volatile unsigned char* b = reinterpret_cast<volatile unsigned char*>(a);
    *b = *b;
  }
}

}  // namespace nicemu::base
