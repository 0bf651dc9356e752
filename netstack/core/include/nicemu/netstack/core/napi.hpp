// nicemu/netstack/core/napi.hpp — NAPI instances.
//
// Models: struct napi_struct as the page pool and the netdev netlink family see it: an id
//   (from MIN_NAPI_ID = NR_CPUS + 1 = 8193 with Debian's NR_CPUS=8192, per host here), the CPU
//   it is scheduled on (list_owner), the IRQ, a weight/budget of 64 (NAPI_POLL_WEIGHT), the
//   queue it serves, and the driver's poll function. The host model decides when to poll
//   (interrupt -> schedule on a simulated CPU -> poll(budget) in softirq context).
// Not modelled: busy polling, threaded NAPI kthreads (the `threaded` attribute is kept only),
//   gro_flush_timeout / defer_hard_irqs timing (attributes kept for napi-get/napi-set).
// References: include/linux/netdevice.h, net/core/dev.c (napi_hash_add, __napi_schedule).
#pragma once

#include <cstdint>
#include <functional>

#include "nicemu/page_pool/types.hpp"

namespace nicemu::netstack::core {

class NetDevice;

inline constexpr int kNapiPollWeight = 64;        // NAPI_POLL_WEIGHT
inline constexpr std::uint32_t kMinNapiId = 8193;  // MIN_NAPI_ID = NR_CPUS + 1

enum class NapiThreaded : std::uint8_t { kDisabled = 0, kEnabled = 1, kBusyPoll = 2 };

class Napi {
 public:
  // `poll(budget)` returns the work done (<= budget); done < budget means "complete".
  using PollFn = std::function<int(int budget)>;

  Napi(NetDevice& dev, std::uint32_t napi_id, PollFn poll, int weight = kNapiPollWeight)
      : dev_(dev), poll_(std::move(poll)), weight_(weight) {
    owner_.napi_id = napi_id;
  }
  Napi(const Napi&) = delete;
  Napi& operator=(const Napi&) = delete;

  std::uint32_t id() const { return owner_.napi_id; }
  NetDevice& dev() const { return dev_; }
  int weight() const { return weight_; }
  int irq = -1;
  NapiThreaded threaded = NapiThreaded::kDisabled;
  std::uint32_t defer_hard_irqs = 0;
  std::uint64_t gro_flush_timeout_ns = 0;
  std::uint64_t irq_suspend_timeout_ns = 0;

  // What page pools read (kernel: napi->list_owner).
  page_pool::NapiOwner* pp_owner() { return &owner_; }
  bool scheduled() const { return owner_.list_owner >= 0; }
  int list_owner() const { return owner_.list_owner; }

  // kernel: napi_schedule(): mark scheduled on `cpu`. Returns false if it already was.
  bool schedule(int cpu) {
    if (owner_.list_owner >= 0) return false;
    owner_.list_owner = cpu;
    return true;
  }
  // Runs one poll in softirq context on the scheduled CPU; completes the NAPI when the driver
  // did less than the budget (kernel: napi_complete_done()). Returns the work done.
  int run_poll(int budget) {
    completed_in_poll_ = false;
    const int done = poll_(budget);
    ++polls_;
    if (done < budget && !completed_in_poll_) owner_.list_owner = -1;
    return done;
  }
  // kernel: napi_complete_done() called by the driver inside its poll, before it unmasks its
  // interrupt: the NAPI is idle from here, so an interrupt raised by the unmask schedules it
  // again (and run_poll leaves that new schedule alone). Returns false when work == budget
  // (the poll must not complete then).
  bool complete_done(int work, int budget) {
    if (work >= budget) return false;
    owner_.list_owner = -1;
    completed_in_poll_ = true;
    return true;
  }
  std::uint64_t polls() const { return polls_; }

 private:
  NetDevice& dev_;
  PollFn poll_;
  int weight_;
  page_pool::NapiOwner owner_;
  std::uint64_t polls_ = 0;
  bool completed_in_poll_ = false;
};

}  // namespace nicemu::netstack::core
