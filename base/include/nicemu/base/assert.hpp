// nicemu/base/assert.hpp — always-on invariant checks.
//
// A broken invariant is nicemu's own bug: it aborts loudly with file, line, the failed
// condition and a message, in every build type (NDEBUG does not remove it). User and config
// errors are never asserted: they are returned as results (STYLE.md, "three kinds of failure").
#pragma once

#include <cstdio>
#include <cstdlib>

#define NICEMU_LIKELY(x) __builtin_expect(!!(x), 1)
#define NICEMU_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace nicemu::base {

[[noreturn, gnu::cold, gnu::noinline]] inline void assert_fail(const char* file, int line,
                                                               const char* cond, const char* msg) {
  std::fprintf(stderr, "nicemu: invariant violated at %s:%d: %s: %s\n", file, line, cond, msg);
  std::fflush(stderr);
  std::abort();
}

}  // namespace nicemu::base

// NICEMU_ASSERT(cond, "message") — the message says what went wrong in words a reader can act on.
#define NICEMU_ASSERT(cond, msg)                                              \
  do {                                                                        \
    if (NICEMU_UNLIKELY(!(cond))) ::nicemu::base::assert_fail(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)
