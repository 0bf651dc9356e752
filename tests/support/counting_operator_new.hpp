// Replaces the global operator new/delete of a test program with ones that count every
// allocation, so a test can assert that a hot path allocates nothing in steady state. Include it
// in exactly one translation unit of a test executable. Every non-aligned form is replaced, so
// new/delete pairs always meet the same allocator (ASan checks that); the aligned forms keep
// the library's pair.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace nicemu::testing {
inline std::atomic<std::uint64_t> g_allocations{0};
// Allocations since the program started.
inline std::uint64_t allocations() { return g_allocations.load(); }

namespace detail {
inline void* counted_alloc(std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
inline void* counted_alloc_or_throw(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
}  // namespace detail
}  // namespace nicemu::testing

// GCC, seeing these definitions inline, takes free() after our operator new for a mismatch
// (-Wmismatched-new-delete); the pair is consistent: every form here ends in malloc/free.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) { return nicemu::testing::detail::counted_alloc_or_throw(n); }
void* operator new[](std::size_t n) { return nicemu::testing::detail::counted_alloc_or_throw(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return nicemu::testing::detail::counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return nicemu::testing::detail::counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
