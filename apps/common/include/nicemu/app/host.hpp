// nicemu/app/host.hpp — one emulated host: memory, its page pools and netns, a NIC (silicon and
// driver) on a port, one netstack with its socket table, CPUs that run NAPI polls, and the apps.
//
// Models: the host side of DESIGN.md §3 steps 4–8. An interrupt schedules its channel's NAPI on
//   the CPU of its IRQ affinity (channel i -> CPU i mod CPUs); each CPU is a serial server that
//   runs the softirq polls queued on it in order, each poll costing CPU time (cycles per poll,
//   per packet and per byte moved, at the host's clock), so a busy CPU delays the next poll and
//   the NIC's rings fill; a poll that used its whole budget is queued again behind the others
//   (net_rx_action's round robin). Packets go up the stack inside the poll (netif_receive_skb);
//   the stack's timers, the page pools' release retries and the apps' timers are one event at the
//   earliest of their times. Apps step after every poll and timer, at that simulated time.
// Not modelled: app threads' CPU time and scheduling (apps run in zero time on no CPU), ksoftirqd,
//   RPS/RFS, IRQ cost itself, NUMA, cache effects.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nicemu/netmem/dma.hpp"
#include "nicemu/netmem/host_memory.hpp"
#include "nicemu/netstack/core/netns.hpp"
#include "nicemu/netstack/inet/stack.hpp"
#include "nicemu/netstack/socket/socket_table.hpp"
#include "nicemu/nic/driver/nic_driver.hpp"
#include "nicemu/page_pool/page_pool.hpp"
#include "nicemu/providers/dmabuf/devmem.hpp"
#include "nicemu/sim/event_queue.hpp"

namespace nicemu::app {

class App;

// CPU cost of the receive path, in cycles of the host's clock (defaults: a few hundred
// nanoseconds per packet at 3 GHz, in the range per-packet costs of Linux's RX path are
// reported in; see docs/performance.md).
struct HostCpuCosts {
  std::uint32_t per_poll = 300;      // softirq entry, NAPI bookkeeping
  std::uint32_t per_packet = 900;    // driver + GRO + IP + TCP per packet
  double per_byte = 0.0;             // bytes touched by the CPU in the poll (none: DMA'd)
};

struct HostConfig {
  std::string name = "host";
  std::uint32_t cpus = 4;
  double ghz = 3.0;
  HostCpuCosts costs;
  nic::hw::NicProfile profile;
  nic::driver::NicDriverConfig nic;
  netstack::inet::StackConfig stack;
  // Addresses: the first IPv4 one is given with the interface; the rest are added.
  std::vector<std::pair<netstack::wire::IpAddress, std::uint8_t>> addresses;
};

// Host `index` of two hosts on one link (0: "a" at 10.0.0.1/24, 1: "b" at 10.0.0.2/24, MACs
// 02:00:00:00:00:01 and :02) with `profile` and `channels` channels: the pair the driver tests'
// testbed and the standalone ncdevmem program build.
HostConfig two_host_config(int index, const nic::hw::NicProfile& profile, std::uint32_t channels, std::uint64_t seed);

struct HostCpuStats {
  std::uint64_t polls = 0;
  std::uint64_t packets = 0;
  sim::Duration busy = sim::Duration::zero();
};

class Host final : private nic::driver::DriverHost {
 public:
  // Builds and opens the NIC with `steering` (configured as at probe: its rx_queues are the
  // starting channel count); errors (a bad steering configuration) abort with a message, as the
  // runner checks the configuration first.
  Host(sim::EventQueue& events, nic::hw::Port& port, nic::hw::FramePool& frames, const HostConfig& cfg,
       nic::hw::Steering steering);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const std::string& name() const { return cfg_.name; }
  netstack::inet::NetStack& stack() { return *stack_; }
  netstack::socket::SocketTable& sockets() { return *sockets_; }
  nic::driver::NicDriver& nic() { return *driver_; }
  const nic::driver::NicDriver& nic() const { return *driver_; }
  netstack::core::NetNs& netns() { return *netns_; }
  page_pool::PagePoolRegistry& page_pools() { return *pools_; }
  netmem::HostMemory& memory() { return *memory_; }
  netmem::DmaSpace& dma() { return *dma_; }
  // Devmem: the host's dma-buf exporter (descriptors share one number space with the sockets)
  // and binding table; control sessions are NetdevNlSession(devmem(), netns()).
  providers::dmabuf::DmabufExporter& dmabufs() { return *dmabufs_; }
  providers::dmabuf::Devmem& devmem() { return *devmem_; }
  const std::vector<HostCpuStats>& cpu_stats() const { return cpu_stats_; }
  const HostConfig& config() const { return cfg_; }

  // Apps run on this host from now on (the host owns them).
  App& add_app(std::unique_ptr<App> app);
  const std::vector<std::unique_ptr<App>>& apps() const { return apps_; }
  // Steps every app and re-arms the host timer (call after changing something from outside).
  void kick();
  // Closes every socket and drops the apps (end of a run); the stack's connections go away.
  void shutdown();
  // Every packet stage of this host (NIC silicon, driver, core, stack, NAPI polls on the CPUs)
  // reports to `t` (sim/packet_trace.hpp); nullptr: none. `t` must outlive the host.
  void set_packet_tracer(sim::PacketTracer* t);

 private:
  struct Cpu {
    std::vector<std::uint32_t> runq;  // channels whose NAPI waits (ring buffer)
    std::size_t head = 0, count = 0;
    sim::TimePoint busy_until{};
    bool event_pending = false;
  };

  // ---- DriverHost -----------------------------------------------------------------------------------
  int irq_cpu(std::uint32_t channel) override;
  void napi_scheduled(nic::driver::NicDriver& dev, std::uint32_t channel) override;
  void netif_receive_skb(nic::driver::NicDriver& dev, netstack::core::SkBuff* skb) override;

  void cpu_enqueue(int cpu, std::uint32_t channel);
  void cpu_run(int cpu);
  void after_activity();
  void on_timer();
  void arm_timer();
  void trace_napi_poll(int cpu, std::uint32_t channel, sim::Duration cost);

  sim::EventQueue& events_;
  HostConfig cfg_;
  std::unique_ptr<netmem::HostMemory> memory_;
  std::unique_ptr<page_pool::PagePoolRegistry> pools_;
  std::unique_ptr<netstack::core::NetNs> netns_;
  std::unique_ptr<netmem::DmaSpace> dma_;
  page_pool::CallerContext ctx_;
  std::unique_ptr<netstack::inet::NetStack> stack_;
  std::unique_ptr<nic::driver::NicDriver> driver_;
  std::unique_ptr<netstack::socket::SocketTable> sockets_;
  std::unique_ptr<providers::dmabuf::DmabufExporter> dmabufs_;
  std::unique_ptr<providers::dmabuf::Devmem> devmem_;
  std::vector<std::unique_ptr<App>> apps_;
  std::vector<Cpu> cpus_;
  std::vector<HostCpuStats> cpu_stats_;
  sim::EventHandle timer_;
  sim::TimePoint timer_at_{};
  bool in_activity_ = false;
  std::uint64_t rx_packets_in_poll_ = 0;
  std::uint64_t rx_bytes_in_poll_ = 0;
  sim::PacketTracer* tracer_ = nullptr;
};

}  // namespace nicemu::app
