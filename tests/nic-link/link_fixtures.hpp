// Helpers for the nic-link tests: frames with a real Ethernet header and a byte pattern, a
// receiver that records what a port was handed and when, and time shorthands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nicemu/netstack/wire/address.hpp"
#include "nicemu/nic/hw/frame.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/sim/event_queue.hpp"

namespace nicemu::testing {

inline sim::TimePoint at_ps(std::int64_t ps) { return sim::TimePoint::from_ps(ps); }
inline sim::TimePoint at(sim::Duration d) { return sim::TimePoint::zero() + d; }

inline netstack::wire::MacAddress mac(std::uint8_t host) {
  return netstack::wire::MacAddress{{0x02, 0, 0, 0, 0, host}};
}

inline std::byte pattern_byte(std::size_t i, std::uint8_t salt) { return static_cast<std::byte>(i * 7 + salt); }

// A frame of `len` bytes: dst, src, `vlan_tags` 802.1Q tags, EtherType 0x88b5 (IEEE local
// experimental), then pattern bytes. len must hold the header.
inline nic::hw::FrameRef make_frame(nic::hw::FramePool& pool, std::size_t len, netstack::wire::MacAddress dst,
                                    netstack::wire::MacAddress src, std::uint8_t salt = 0,
                                    std::size_t vlan_tags = 0) {
  nic::hw::FrameRef f = pool.alloc();
  auto b = f.buffer();
  for (std::size_t i = 0; i < len; ++i) b[i] = pattern_byte(i, salt);
  dst.write(b.data());
  src.write(b.data() + 6);
  std::size_t off = 12;
  for (std::size_t t = 0; t < vlan_tags; ++t, off += 4) {
    b[off] = std::byte{0x81};
    b[off + 1] = std::byte{0x00};
    b[off + 2] = std::byte{0x00};
    b[off + 3] = static_cast<std::byte>(10 + t);  // VID 10, 11
  }
  if (len >= off + 2) {
    b[off] = std::byte{0x88};
    b[off + 1] = std::byte{0xb5};
  }
  f.set_len(len);
  return f;
}

struct Received {
  sim::TimePoint t;
  std::uint64_t id;
  std::vector<std::byte> bytes;
};

// Records every frame a port delivers (time, id, bytes) and releases it.
class Receiver {
 public:
  Receiver(sim::EventQueue& q, nic::hw::Port& port) : q_(q) {
    port.set_rx_handler([this](nic::hw::FrameRef f) {
      frames.push_back(Received{q_.now(), f.id(), std::vector<std::byte>(f.bytes().begin(), f.bytes().end())});
    });
  }
  std::vector<Received> frames;

  std::vector<std::uint64_t> ids() const {
    std::vector<std::uint64_t> v;
    for (const auto& r : frames) v.push_back(r.id);
    return v;
  }

 private:
  sim::EventQueue& q_;
};

}  // namespace nicemu::testing
