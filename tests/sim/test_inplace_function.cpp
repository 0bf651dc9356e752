// InplaceFunction: empty state, invocation, move semantics and destruction of captures, with
// no heap use (checked at compile time by size, at run time by capture identity).
#include <catch2/catch.hpp>

#include <memory>
#include <type_traits>
#include <utility>

#include "nicemu/sim/inplace_function.hpp"

using nicemu::sim::InplaceFunction;

namespace {

struct Tracker {
  explicit Tracker(int* live) : live_(live) { ++*live_; }
  Tracker(Tracker&& o) noexcept : live_(o.live_) { ++*live_; }
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;
  ~Tracker() { --*live_; }
  int* live_;
};

int add_one(int x) { return x + 1; }

}  // namespace

static_assert(!std::is_copy_constructible_v<InplaceFunction<void(), 32>>);
static_assert(std::is_nothrow_move_constructible_v<InplaceFunction<void(), 32>>);
static_assert(std::is_nothrow_move_assignable_v<InplaceFunction<void(), 32>>);
// The object is the buffer plus one pointer: nothing lives elsewhere.
static_assert(sizeof(InplaceFunction<void(), 64>) <= 64 + 16);

TEST_CASE("inplace function: default, nullptr and moved-from functions are empty", "[sim][unit]") {
  InplaceFunction<int(int), 32> f;
  CHECK_FALSE(f);
  InplaceFunction<int(int), 32> g = nullptr;
  CHECK_FALSE(g);
  InplaceFunction<int(int), 32> h = [](int x) { return x * 2; };
  CHECK(h);
  InplaceFunction<int(int), 32> moved = std::move(h);
  CHECK(moved);
  CHECK_FALSE(h);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  moved = nullptr;
  CHECK_FALSE(moved);
  int (*null_fn)(int) = nullptr;
  InplaceFunction<int(int), 32> from_null_ptr = null_fn;
  CHECK_FALSE(from_null_ptr);
}

TEST_CASE("inplace function: calls lambdas, function pointers and mutable state with arguments",
          "[sim][unit]") {
  InplaceFunction<int(int), 32> f = [](int x) { return x * 3; };
  CHECK(f(5) == 15);
  InplaceFunction<int(int), 32> p = &add_one;
  CHECK(p(41) == 42);
  int counter = 0;
  InplaceFunction<void(), 32> inc = [&counter, step = 2]() mutable { counter += step++; };
  inc();
  inc();
  CHECK(counter == 5);
  // Move-only captures work and arguments are forwarded (an rvalue unique_ptr here).
  InplaceFunction<int(std::unique_ptr<int>), 32> take = [base = std::make_unique<int>(10)](std::unique_ptr<int> v) {
    return *base + *v;
  };
  CHECK(take(std::make_unique<int>(5)) == 15);
  // A void signature may wrap a callable that returns a value.
  InplaceFunction<void(int), 16> discard = [](int x) { return x; };
  discard(1);
}

TEST_CASE("inplace function: moving relocates the capture and destruction releases it exactly once",
          "[sim][unit]") {
  int live = 0;
  {
    InplaceFunction<int(), 48> a = [t = Tracker(&live)] { return *t.live_; };
    CHECK(live == 1);
    CHECK(a() == 1);
    InplaceFunction<int(), 48> b = std::move(a);
    CHECK(live == 1);  // relocated: the old copy is destroyed, the new one lives
    CHECK(b() == 1);
    InplaceFunction<int(), 48> c = [t = Tracker(&live)] { return 7; };
    CHECK(live == 2);
    c = std::move(b);  // the capture c held is destroyed first
    CHECK(live == 1);
    CHECK(c() == 1);
    c = std::move(c);  // self-move keeps the function
    CHECK(c);
    CHECK(live == 1);
    c.reset();
    CHECK(live == 0);
    CHECK_FALSE(c);
    InplaceFunction<int(), 48> d = [t = Tracker(&live)] { return 0; };
    CHECK(live == 1);
  }
  CHECK(live == 0);
}
