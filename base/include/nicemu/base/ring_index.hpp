// nicemu/base/ring_index.hpp — ring positions without a division.
//
// `(head + i) % size` with a size known only at run time is a 64-bit division (tens of cycles),
// and the NIC model's rings compute one per descriptor, completion and FIFO entry: about two
// million per flagship run, invisible to an instruction count (one instruction each) but a few
// percent of the simulation thread's time. Ring code only ever adds a position (below the size)
// and an offset within the ring (at most the size), so one compare and one subtraction give the
// same value; the precondition is checked.
#pragma once

#include <cstddef>

#include "nicemu/base/assert.hpp"

namespace nicemu::base {

// (pos + offset) mod size, for pos < size and offset <= size.
[[gnu::always_inline]] inline std::size_t ring_add(std::size_t pos, std::size_t offset, std::size_t size) {
  NICEMU_ASSERT(pos < size && offset <= size, "ring_add: position or offset outside the ring");
  const std::size_t s = pos + offset;
  return s >= size ? s - size : s;
}

}  // namespace nicemu::base
