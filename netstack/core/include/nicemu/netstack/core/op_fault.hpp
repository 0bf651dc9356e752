// nicemu/netstack/core/op_fault.hpp — a fault knob on one driver operation, for CI of the queue
// API and ethtool paths: make an op fail once, every Nth call, always, or every call from a
// simulated time on, with a chosen errno.
//
// Models: what netdevsim's debugfs knobs and the kernel's fault-injection attributes give a test:
//   a driver op returning an error on demand. Drivers (the netdevsim-like FakeNetDevice in tests,
//   the NIC model's driver) hold one per operation and ask fires() on every call.
// Not modelled: probabilistic faults (the run seed would have to drive them), task filters.
#pragma once

#include <cerrno>
#include <cstdint>

#include "nicemu/sim/time.hpp"

namespace nicemu::netstack::core {

struct OpFault {
  enum class Mode : std::uint8_t { kOff, kOnce, kEveryNth, kAlways, kFrom };
  Mode mode = Mode::kOff;
  std::uint64_t nth = 0;
  sim::TimePoint from{};  // kFrom: every call at or after this simulated time fails
  int err = -EIO;
  std::uint64_t calls = 0;  // calls seen since the fault was set
  std::uint64_t fired = 0;  // failures made

  static OpFault off() { return {}; }
  static OpFault once(int err = -EIO) { return {Mode::kOnce, 0, {}, err}; }
  static OpFault every_nth(std::uint64_t n, int err = -EIO) { return {Mode::kEveryNth, n, {}, err}; }
  static OpFault always(int err = -EIO) { return {Mode::kAlways, 0, {}, err}; }
  static OpFault from_time(sim::TimePoint t, int err = -EIO) { return {Mode::kFrom, 0, t, err}; }

  // Counts one call at `now`; true if it must fail (then `err` is the result).
  bool fires(sim::TimePoint now = sim::TimePoint::zero()) {
    ++calls;
    bool fail = false;
    switch (mode) {
      case Mode::kOff:
        break;
      case Mode::kOnce:
        fail = true;
        mode = Mode::kOff;
        break;
      case Mode::kEveryNth:
        fail = nth != 0 && calls % nth == 0;
        break;
      case Mode::kAlways:
        fail = true;
        break;
      case Mode::kFrom:
        fail = now >= from;
        break;
    }
    if (fail) ++fired;
    return fail;
  }
};

}  // namespace nicemu::netstack::core
