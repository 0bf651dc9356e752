// nicemu/base/result.hpp — a value or an error, for user and config errors (STYLE.md: a user
// error is a returned result with a specific code and a message). GCC 12 has no std::expected.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "nicemu/base/assert.hpp"

namespace nicemu::base {

template <class E>
struct Unexpected {
  E error;
};
template <class E>
Unexpected(E) -> Unexpected<E>;

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    NICEMU_ASSERT(has_value(), "Result::value() called on an error");
    return std::get<0>(v_);
  }
  const T& value() const& {
    NICEMU_ASSERT(has_value(), "Result::value() called on an error");
    return std::get<0>(v_);
  }
  T&& value() && {
    NICEMU_ASSERT(has_value(), "Result::value() called on an error");
    return std::get<0>(std::move(v_));
  }
  const E& error() const {
    NICEMU_ASSERT(!has_value(), "Result::error() called on a value");
    return std::get<1>(v_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, E> v_;
};

// An error code with the sentence that tells the user what to fix (kernel: errno + extack).
struct Error {
  int code = 0;  // negative errno where the interface mirrors the kernel
  std::string message;
};

}  // namespace nicemu::base
