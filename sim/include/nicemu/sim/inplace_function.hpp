// nicemu/sim/inplace_function.hpp — a move-only callable stored inside the object, never on the heap.
//
// Models: nothing of the simulated system; it is the storage for event callbacks, which are
//   created and destroyed millions of times per simulated second. std::function may allocate
//   and must be copyable; this type never allocates and holds move-only captures (owners of
//   buffers, STYLE.md "ownership is in the types").
// Not modelled: copying (callbacks that own resources must not be duplicated), callables larger
//   than Capacity or over-aligned beyond Alignment (rejected at compile time, so a growing
//   capture is a build error rather than a silent allocation), throwing moves (the event queue
//   moves callbacks on its noexcept paths).
// References: P0792 function_ref / SG14 inplace_function (same idea: a fixed buffer plus a
//   small table of operations per stored type).
#pragma once

#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

#include "nicemu/base/assert.hpp"

namespace nicemu::sim {

template <class Signature, std::size_t Capacity, std::size_t Alignment = alignof(std::max_align_t)>
class InplaceFunction;

template <class R, class... Args, std::size_t Capacity, std::size_t Alignment>
class InplaceFunction<R(Args...), Capacity, Alignment> {
 public:
  static constexpr std::size_t kCapacity = Capacity;
  static constexpr std::size_t kAlignment = Alignment;

  InplaceFunction() noexcept = default;
  InplaceFunction(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor): mirrors std::function

  // Implicit on purpose: `queue.schedule_in(d, [this] { ... })` must read naturally.
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, InplaceFunction> &&
             !std::is_same_v<std::remove_cvref_t<F>, std::nullptr_t> &&
             std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
  InplaceFunction(F&& f) noexcept(std::is_nothrow_constructible_v<std::decay_t<F>, F>) {  // NOLINT
    using Fn = std::decay_t<F>;
    static_assert(sizeof(Fn) <= Capacity,
                  "InplaceFunction: the callable (its captures) is larger than the inline buffer; "
                  "capture less (e.g. a pointer to a context struct) or raise Capacity");
    static_assert(alignof(Fn) <= Alignment,
                  "InplaceFunction: the callable needs a stricter alignment than the inline buffer");
    static_assert(std::is_nothrow_move_constructible_v<Fn>,
                  "InplaceFunction: the callable must be nothrow-move-constructible, because the "
                  "owner relocates it on paths that must not throw");
    if constexpr (std::is_pointer_v<Fn> || std::is_member_pointer_v<Fn>) {
      if (f == nullptr) return;  // a null function pointer is an empty function, as in std::function
    }
    ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
    ops_ = &kOpsFor<Fn>;
  }

  InplaceFunction(InplaceFunction&& other) noexcept { take(other); }

  InplaceFunction& operator=(InplaceFunction&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }

  InplaceFunction& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }

  InplaceFunction(const InplaceFunction&) = delete;
  InplaceFunction& operator=(const InplaceFunction&) = delete;

  ~InplaceFunction() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  R operator()(Args... args) {
    NICEMU_ASSERT(ops_ != nullptr, "InplaceFunction: called while empty (moved-from or never set)");
    return ops_->invoke(storage_, std::forward<Args>(args)...);
  }

  // Destroys the stored callable now (its captures may own resources that must go back early).
  void reset() noexcept {
    if (ops_ != nullptr) {
      if (ops_->destroy != nullptr) ops_->destroy(storage_);
      ops_ = nullptr;
    }
  }

 private:
  // One table per stored type instead of three pointers per object keeps the object small;
  // the event queue stores one of these per pending event.
  struct Ops {
    R (*invoke)(void* self, Args&&... args);
    // Move-construct into dst, destroy src; nullptr when the callable is trivially copyable
    // (almost every lambda: pointers and numbers), which then moves as plain bytes.
    void (*relocate)(void* dst, void* src) noexcept;
    void (*destroy)(void* self) noexcept;             // nullptr when trivially destructible
  };

  template <class Fn>
  static Fn* as(void* p) noexcept {
    return std::launder(static_cast<Fn*>(p));
  }

  template <class Fn>
  static R invoke_impl(void* self, Args&&... args) {
    if constexpr (std::is_void_v<R>) {
      std::invoke(*as<Fn>(self), std::forward<Args>(args)...);
    } else {
      return std::invoke(*as<Fn>(self), std::forward<Args>(args)...);
    }
  }

  template <class Fn>
  static void relocate_impl(void* dst, void* src) noexcept {
    Fn* from = as<Fn>(src);
    ::new (dst) Fn(std::move(*from));
    from->~Fn();
  }

  template <class Fn>
  static void destroy_impl(void* self) noexcept {
    as<Fn>(self)->~Fn();
  }

  template <class Fn>
  static constexpr Ops kOpsFor = {
      &invoke_impl<Fn>,
      std::is_trivially_copyable_v<Fn> ? nullptr : &relocate_impl<Fn>,
      std::is_trivially_destructible_v<Fn> ? nullptr : &destroy_impl<Fn>,
  };

  void take(InplaceFunction& other) noexcept {
    if (other.ops_ != nullptr) {
      if (other.ops_->relocate != nullptr) other.ops_->relocate(storage_, other.storage_);
      else std::memcpy(storage_, other.storage_, Capacity);  // the whole buffer: a fixed-size copy
      ops_ = other.ops_;
      other.ops_ = nullptr;
    }
  }

  alignas(Alignment) std::byte storage_[Capacity];
  const Ops* ops_ = nullptr;
};

}  // namespace nicemu::sim
