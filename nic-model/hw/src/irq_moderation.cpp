// Interrupt moderation (see irq_moderation.hpp for what is modelled).
#include "nicemu/nic/hw/irq_moderation.hpp"

#include <utility>

namespace nicemu::nic::hw {

IrqModerator::IrqModerator(sim::EventQueue& events, IrqModerationConfig cfg, Handler on_irq)
    : events_(events), cfg_(cfg), on_irq_(std::move(on_irq)) {}

IrqModerator::~IrqModerator() { events_.cancel(timer_); }

void IrqModerator::completions_written(std::uint32_t n) {
  stats_.completions += n;
  if (masked_ || n == 0) return;
  const bool first = gathered_ == 0;
  gathered_ += n;
  if (cfg_.rx_frames > 0 && gathered_ >= cfg_.rx_frames) return fire(true);
  if (first) start_window();
}

void IrqModerator::start_window() {
  if (cfg_.rx_usecs == 0) return fire(false);
  timer_ = events_.schedule_in(sim::Duration::from_us(cfg_.rx_usecs), [this] {
    timer_.reset();
    fire(false);
  });
}

void IrqModerator::rearm(std::uint32_t pending) {
  masked_ = false;
  gathered_ = 0;
  if (pending > 0) {
    gathered_ = pending;
    if (cfg_.rx_frames > 0 && gathered_ >= cfg_.rx_frames) return fire(true);
    start_window();
  }
}

void IrqModerator::fire(bool by_frames) {
  events_.cancel(timer_);
  masked_ = true;
  gathered_ = 0;
  ++stats_.interrupts;
  ++(by_frames ? stats_.by_frames : stats_.by_timer);
  if (tracer_ != nullptr) trace_irq(by_frames);
  on_irq_();
}

void IrqModerator::trace_irq(bool by_frames) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kIrq;
  e.queue = vector_;
  e.note = by_frames ? "rx-frames" : "rx-usecs";
  tracer_->on_event(events_.now(), e);
}

}  // namespace nicemu::nic::hw
