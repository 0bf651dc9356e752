// nicemu/nic/hw/irq_moderation.hpp — when a queue's interrupt fires: ethtool's rx-usecs and
// rx-frames (interrupt coalescing), and the interrupt masked while NAPI polls.
//
// Models: one interrupt vector per queue. A completion written while the vector is armed starts
//   the moderation window: the interrupt fires when rx-frames completions have gathered (if
//   rx-frames > 0) or rx-usecs after the first of them, whichever comes first; rx-usecs 0 fires
//   at once. Firing masks the vector (the driver's NAPI runs with the queue's interrupt
//   disabled); completions while masked only count. napi_complete_done re-arms it
//   (`rearm(now, pending)`): if completions are already waiting, the window starts again at
//   once. Every firing is an event on the sim::EventQueue at the datapath priority, so the
//   order is a function of time only.
// Not modelled: adaptive moderation (DIM), tx-usecs/tx-frames, MSI-X message cost (the host's
//   CPU model charges the interrupt), interrupt affinity.
// References: Documentation/networking/ethtool-netlink.rst (COALESCE_GET: rx-usecs,
//   rx-max-frames), include/uapi/linux/ethtool.h struct ethtool_coalesce.
#pragma once

#include <cstdint>

#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/inplace_function.hpp"
#include "nicemu/sim/packet_trace.hpp"

namespace nicemu::nic::hw {

struct IrqModerationConfig {
  std::uint32_t rx_usecs = 8;    // ethtool -C rx-usecs
  std::uint32_t rx_frames = 0;   // ethtool -C rx-frames (0 = no frame limit)
};

struct IrqModerationStats {
  std::uint64_t interrupts = 0;
  std::uint64_t by_frames = 0;  // fired because rx-frames completions gathered
  std::uint64_t by_timer = 0;   // fired because rx-usecs passed
  std::uint64_t completions = 0;
};

class IrqModerator {
 public:
  using Handler = sim::InplaceFunction<void(), 32>;  // the driver's interrupt handler
  IrqModerator(sim::EventQueue& events, IrqModerationConfig cfg, Handler on_irq);
  ~IrqModerator();
  IrqModerator(const IrqModerator&) = delete;
  IrqModerator& operator=(const IrqModerator&) = delete;

  // The device wrote `n` completions at the current simulated time.
  void completions_written(std::uint32_t n = 1);
  // napi_complete_done: unmask; `pending` completions are already waiting.
  void rearm(std::uint32_t pending);
  // ethtool -C: takes effect from the next window.
  void set_config(IrqModerationConfig cfg) { cfg_ = cfg; }
  const IrqModerationConfig& config() const { return cfg_; }
  bool masked() const { return masked_; }
  const IrqModerationStats& stats() const { return stats_; }
  // Each firing becomes a kIrq event of queue `vector` (nullptr: none).
  void set_packet_tracer(sim::PacketTracer* t, std::uint32_t vector) {
    tracer_ = t;
    vector_ = vector;
  }

 private:
  void fire(bool by_frames);
  void start_window();
  void trace_irq(bool by_frames);

  sim::EventQueue& events_;
  IrqModerationConfig cfg_;
  Handler on_irq_;
  bool masked_ = false;
  std::uint32_t gathered_ = 0;  // completions in the current window
  sim::EventHandle timer_;
  IrqModerationStats stats_;
  sim::PacketTracer* tracer_ = nullptr;
  std::uint32_t vector_ = 0;
};

}  // namespace nicemu::nic::hw
