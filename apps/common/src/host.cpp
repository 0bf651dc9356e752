// One emulated host (see host.hpp for what is modelled).
#include "nicemu/app/host.hpp"

#include <algorithm>
#include <utility>

#include "nicemu/app/workload.hpp"
#include "nicemu/base/assert.hpp"
#include "nicemu/netstack/core/skbuff.hpp"

namespace nicemu::app {

namespace core = netstack::core;

HostConfig two_host_config(int index, const nic::hw::NicProfile& profile, std::uint32_t channels, std::uint64_t seed) {
  HostConfig c;
  c.name = index == 0 ? "a" : "b";
  c.cpus = 4;
  c.profile = profile;
  c.nic.name = "eth0";
  c.nic.combined = channels;
  c.nic.mac = {0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(index + 1)};
  c.stack.seed = seed * 2 + static_cast<std::uint64_t>(index);
  c.addresses.push_back({netstack::wire::Ipv4Address{{10, 0, 0, static_cast<std::uint8_t>(index + 1)}}, 24});
  return c;
}

Host::Host(sim::EventQueue& events, nic::hw::Port& port, nic::hw::FramePool& frames, const HostConfig& cfg,
           nic::hw::Steering steering)
    : events_(events), cfg_(cfg) {
  NICEMU_ASSERT(cfg_.cpus >= 1, "Host: at least one CPU");
  memory_ = std::make_unique<netmem::HostMemory>();
  pools_ = std::make_unique<page_pool::PagePoolRegistry>(*memory_, events_);
  netns_ = std::make_unique<core::NetNs>(*pools_);
  netmem::DmaSpace::Config dc;
  dc.name = cfg_.name + "-nic";
  dma_ = std::make_unique<netmem::DmaSpace>(dc);
  // The NIC sees host memory direct-mapped (no IOMMU): the driver hands it socket pages as they are.
  memory_->attach_dma_direct(*dma_);
  stack_ = std::make_unique<netstack::inet::NetStack>(*memory_, ctx_, cfg_.stack);
  driver_ = std::make_unique<nic::driver::NicDriver>(events_, *dma_, port, frames, cfg_.profile, std::move(steering),
                                                     cfg_.nic, static_cast<nic::driver::DriverHost&>(*this),
                                                     stack_->skbs(), ctx_);
  netns_->register_netdevice(*driver_);
  cpus_.resize(cfg_.cpus);
  for (auto& c : cpus_) c.runq.assign(driver_->num_rx_queues() + 1, 0);
  cpu_stats_.resize(cfg_.cpus);
  // The interface: the first IPv4 address with it, the others after.
  const netstack::wire::MacAddress mac{cfg_.nic.mac};
  const auto& addrs = cfg_.addresses;
  const auto first_v4 = std::find_if(addrs.begin(), addrs.end(), [](const auto& a) { return a.first.is_v4(); });
  const std::size_t iface = first_v4 != addrs.end()
                                ? stack_->add_interface(*driver_, mac, first_v4->first.v4(), first_v4->second)
                                : stack_->add_interface(*driver_, mac);
  for (auto it = addrs.begin(); it != addrs.end(); ++it) {
    if (it != first_v4) stack_->add_address(iface, it->first, it->second);
  }
  const int err = driver_->open();
  NICEMU_ASSERT(err == 0, "Host: the NIC did not open");
  dmabufs_ = std::make_unique<providers::dmabuf::DmabufExporter>(
      [this](int fd) { return sockets_ != nullptr && sockets_->is_open(fd); });
  devmem_ = std::make_unique<providers::dmabuf::Devmem>(*dmabufs_);
  netstack::socket::SocketTableConfig st;
  st.other_files = [this](int fd) { return dmabufs_->is_open(fd); };
  sockets_ = std::make_unique<netstack::socket::SocketTable>(*stack_, st);
}

Host::~Host() {
  events_.cancel(timer_);
  apps_.clear();
  if (sockets_) sockets_->close_all(events_.now());
  sockets_.reset();
  stack_->clear();
  driver_->close();
  driver_.reset();
  stack_.reset();
  // Every devmem buffer is back now: detached pools can go, then the bindings (which unmap from
  // the DMA space), then the dma-bufs.
  if (netns_->devmem == devmem_.get()) netns_->devmem = nullptr;
  (void)pools_->run_release_retries(events_.now() + sim::Duration::from_s(3600));
  devmem_.reset();
  dmabufs_.reset();
  memory_->detach_dma_direct();
}

App& Host::add_app(std::unique_ptr<App> app) {
  apps_.push_back(std::move(app));
  return *apps_.back();
}

void Host::shutdown() {
  for (auto& a : apps_) a->stop(events_.now());
  if (sockets_) sockets_->close_all(events_.now());
  arm_timer();
}

void Host::kick() { after_activity(); }

// ---- interrupts and softirq ------------------------------------------------------------------------------------

int Host::irq_cpu(std::uint32_t channel) { return static_cast<int>(channel % cfg_.cpus); }

void Host::napi_scheduled(nic::driver::NicDriver&, std::uint32_t channel) { cpu_enqueue(irq_cpu(channel), channel); }

void Host::cpu_enqueue(int cpu, std::uint32_t channel) {
  Cpu& c = cpus_[static_cast<std::size_t>(cpu)];
  NICEMU_ASSERT(c.count < c.runq.size(), "Host: a CPU's softirq queue overflowed");
  c.runq[(c.head + c.count) % c.runq.size()] = channel;
  ++c.count;
  if (!c.event_pending) {
    c.event_pending = true;
    const sim::TimePoint at = c.busy_until > events_.now() ? c.busy_until : events_.now();
    events_.schedule_at(at, [this, cpu] { cpu_run(cpu); });
  }
}

// One softirq poll on `cpu`: the head channel's NAPI, costed in CPU time.
void Host::cpu_run(int cpu) {
  Cpu& c = cpus_[static_cast<std::size_t>(cpu)];
  c.event_pending = false;
  if (c.count == 0) return;
  const std::uint32_t channel = c.runq[c.head];
  c.head = (c.head + 1) % c.runq.size();
  --c.count;
  ctx_.cpu = cpu;
  ctx_.in_softirq = true;
  rx_packets_in_poll_ = rx_bytes_in_poll_ = 0;
  in_activity_ = true;
  const int work = driver_->napi_poll(channel);
  in_activity_ = false;
  ctx_.in_softirq = false;
  ctx_.cpu = -1;
  HostCpuStats& st = cpu_stats_[static_cast<std::size_t>(cpu)];
  const double cycles = cfg_.costs.per_poll + double(cfg_.costs.per_packet) * double(rx_packets_in_poll_) +
                        cfg_.costs.per_byte * double(rx_bytes_in_poll_);
  const auto cost = sim::Duration::from_ps(static_cast<std::int64_t>(cycles * 1000.0 / cfg_.ghz));
  c.busy_until = events_.now() + cost;
  st.busy = st.busy + cost;
  ++st.polls;
  st.packets += rx_packets_in_poll_;
  if (tracer_ != nullptr) trace_napi_poll(cpu, channel, cost);
  // A poll that used its whole budget stays scheduled: it goes to the back of the queue.
  if (work >= 0) {
    core::Napi* napi = driver_->channel_napi(channel);
    if (napi != nullptr && napi->scheduled() && napi->list_owner() == cpu) {
      c.runq[(c.head + c.count) % c.runq.size()] = channel;
      ++c.count;
    }
  }
  if (c.count > 0 && !c.event_pending) {
    c.event_pending = true;
    events_.schedule_at(c.busy_until, [this, cpu] { cpu_run(cpu); });
  }
  after_activity();
}

void Host::set_packet_tracer(sim::PacketTracer* t) {
  tracer_ = t;
  driver_->packet_tracer = t;
  driver_->hw().set_packet_tracer(t);
  stack_->set_packet_tracer(t);
}

void Host::trace_napi_poll(int cpu, std::uint32_t channel, sim::Duration cost) {
  sim::PacketEvent e;
  e.stage = sim::PacketStage::kNapiPoll;
  e.queue = channel;
  e.cpu = static_cast<std::uint32_t>(cpu);
  if (const core::Napi* napi = driver_->channel_napi(channel)) e.napi_id = napi->id();
  e.count = static_cast<std::uint32_t>(rx_packets_in_poll_);
  e.dur = cost;
  tracer_->on_event(events_.now(), e);
}

void Host::netif_receive_skb(nic::driver::NicDriver& dev, core::SkBuff* skb) {
  ++rx_packets_in_poll_;
  rx_bytes_in_poll_ += skb->len();
  stack_->receive(dev, skb, events_.now());
}

// ---- timers and apps ---------------------------------------------------------------------------------------------

void Host::after_activity() {
  const sim::TimePoint now = events_.now();
  if (auto t = stack_->poll_at(); t && *t <= now) stack_->poll(now);
  (void)pools_->run_release_retries(now);
  for (auto& a : apps_) (void)a->step(now);
  arm_timer();
}

void Host::arm_timer() {
  std::optional<sim::TimePoint> next = stack_->poll_at();
  auto take = [&next](std::optional<sim::TimePoint> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  take(pools_->next_release_retry());
  for (const auto& a : apps_) take(a->wake_at());
  if (!next) {
    events_.cancel(timer_);
    return;
  }
  sim::TimePoint at = *next;
  if (at < events_.now()) at = events_.now();
  if (events_.is_pending(timer_)) {
    if (timer_at_ == at) return;
    events_.cancel(timer_);
  }
  timer_at_ = at;
  timer_ = events_.schedule_at(at, [this] { on_timer(); });
}

void Host::on_timer() {
  timer_.reset();
  after_activity();
}

}  // namespace nicemu::app
