// cmd_run.cpp — `nicemu run`: builds the system a scenario describes (links, switch, hosts with
// their NICs, workloads, the timeline), runs it on one event queue until the stop condition, and
// reports (summary table, --json, --pcap, --trace, exit code).
//
// Models: the assembly order a lab would follow: cables first (links with their faults, the
//   switch), then each host powers on (memory, page pools, NIC silicon and driver, stack; the
//   driver opens), then the NIC settings are applied as ethtool calls (steering at probe from the
//   scenario's channels/RSS/ntuple, then rings and coalescing through the core's ethtool checks),
//   then the apps start at their times, and the timeline's control actions run at theirs (its
//   ethtool changes through the core's checks: -N delete, -L, -X, -N insert; a refused one is
//   reported with its errno and extack text and the run goes on). The
//   run ends when every workload is done (or at the time limit); apps are stopped, the hosts get
//   a quiet period to finish closing, the NICs go down, and whatever is still held is a leak.
// Not modelled yet: RSS contexts from scenarios, rx-flow-hash changes through a core operation
//   (they go to the steering directly), several NICs per host, app CPU time.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "nicemu/app/drop_reasons.hpp"
#include "nicemu/app/explain.hpp"
#include "nicemu/app/host.hpp"
#include "nicemu/app/packet_trace.hpp"
#include "nicemu/app/report.hpp"
#include "nicemu/app/scenario.hpp"
#include "nicemu/app/trace_writer.hpp"
#include "nicemu/app/workload.hpp"
#include "nicemu/base/byte_worker.hpp"
#include "nicemu/netstack/core/ethtool_core.hpp"
#include "nicemu/netstack/core/netdev_genl.hpp"
#include "nicemu/netstack/core/skbuff.hpp"
#include "nicemu/nic/hw/link.hpp"
#include "nicemu/nic/hw/pcap_capture.hpp"
#include "nicemu/nic/hw/switch.hpp"
#include "nicemu/providers/dmabuf/devmem.hpp"
#include "nicemu/sim/random.hpp"
#include "nicemu/sim/trace_digest.hpp"
#include "run_options.hpp"
#include "steering_setup.hpp"

namespace nicemu::cli {

namespace {

namespace core = netstack::core;
namespace hw = nic::hw;

std::string errno_text(int err) {
  std::ostringstream o;
  o << err << " (" << std::strerror(-err) << ")";
  return o.str();
}

struct Runner {
  explicit Runner(const app::Scenario& sc, const RunOptions& opt) : sc_(sc), opt_(opt), streams_(sc.seed) {}
  // The packet recorder goes before the hosts and links (members go in reverse order): detach it
  // first, as closing sockets still sends.
  ~Runner() { detach_packet_trace(); }

  const app::Scenario& sc_;
  const RunOptions& opt_;
  sim::EventQueue events_;
  sim::RandomStreams streams_;
  sim::TraceDigest digest_;
  hw::FramePool frames_;
  std::vector<std::unique_ptr<hw::Link>> links_;
  std::unique_ptr<hw::Switch> switch_;
  std::vector<std::unique_ptr<app::Host>> hosts_;
  std::map<std::string, std::size_t> host_index_;
  std::vector<hw::ChannelCounts> channels_;
  std::vector<std::unique_ptr<app::Workload>> workloads_;
  std::vector<std::unique_ptr<hw::PcapCapture>> pcaps_;
  std::unique_ptr<app::TraceWriter> trace_;
  std::unique_ptr<app::PacketTraceRecorder> packet_trace_;
  std::unique_ptr<app::ExplainTracer> explain_;  // --explain; detached with the recorder
  // Per link, per end: the switch port it is attached to (none: a host's NIC), for trace tracks.
  std::vector<std::array<std::optional<std::uint32_t>, 2>> link_switch_ports_;
  // Per host: the devmem control session (as ncdevmem's YNL socket) and the dma-bufs of its
  // bindings by id, kept as the application keeps its mappings. After hosts_: closed first.
  struct HostDevmem {
    std::unique_ptr<providers::dmabuf::NetdevNlSession> session;
    std::map<std::uint32_t, std::shared_ptr<providers::dmabuf::Dmabuf>> dmabufs;
    std::uint32_t tx_binding = 0;
    std::uint64_t bind_failures = 0;
  };
  std::vector<HostDevmem> devmem_;
  app::RunReport report_;
  std::uint64_t timeline_ok_ = 0;
  std::vector<std::string> timeline_results_;

  app::Host* host(const std::string& name) {
    auto it = host_index_.find(name);
    return it == host_index_.end() ? nullptr : hosts_[it->second].get();
  }

  void error(std::string e) { report_.errors.push_back(std::move(e)); }

  // ---- build ------------------------------------------------------------------------------------------------
  bool build() {
    // Links and the switch.
    std::map<std::string, hw::Port*> host_port;
    if (sc_.switch_) {
      switch_ = std::make_unique<hw::Switch>(events_, "switch", sc_.switch_->config, &digest_);
    }
    std::uint32_t trace_id = 0;
    for (const app::LinkSpec& ls : sc_.links) {
      hw::LinkConfig lc = ls.config;
      lc.trace_id = trace_id++;
      links_.push_back(std::make_unique<hw::Link>(events_, streams_, ls.name, lc, &digest_));
      link_switch_ports_.emplace_back();
      hw::Link& l = *links_.back();
      for (int end = 0; end < 2; ++end) {
        if (auto e = l.port(end).set_faults(ls.faults[static_cast<std::size_t>(end)])) {
          error("links." + ls.name + ".faults: " + e->message);
          return false;
        }
        const app::LinkEnd& le = ls.ends[static_cast<std::size_t>(end)];
        if (le.is_switch) {
          if (!switch_) {
            error("links." + ls.name + ": an end is the switch but the scenario has no switch");
            return false;
          }
          auto r = switch_->attach(l.port(end));
          if (!r.has_value()) {
            error("links." + ls.name + ": " + r.error().message);
            return false;
          }
          link_switch_ports_.back()[static_cast<std::size_t>(end)] = static_cast<std::uint32_t>(r.value());
        } else {
          if (host_port.count(le.host) != 0) {
            error("links." + ls.name + ": host " + le.host + " is already on a link (one NIC per host)");
            return false;
          }
          host_port[le.host] = &l.port(end);
        }
      }
    }
    // Hosts.
    std::uint8_t mac_last = 1;
    for (const app::HostSpec& hs : sc_.hosts) {
      auto pit = host_port.find(hs.name);
      if (pit == host_port.end()) {
        error("hosts." + hs.name + ": the host is on no link");
        return false;
      }
      const hw::NicProfile& prof = *hs.profile;
      const std::string key = "hosts." + hs.name + ".nic";
      auto steering = build_steering(prof, hs.nic, key);
      if (!steering.has_value()) {
        error(steering.error().message);
        return false;
      }
      const hw::ChannelCounts ch = channels_in_force(prof.channels.defaults, hs.nic.channels);
      app::HostConfig hc;
      hc.name = hs.name;
      hc.cpus = hs.cpus.count;
      hc.ghz = hs.cpus.ghz;
      hc.profile = prof;
      hc.nic.name = "eth0";
      hc.nic.combined = rx_queue_count(ch);
      hc.nic.tx = ch.tx + ch.combined;  // gve-like profiles (no combined channels) count TX apart
      // bnxt-like profiles (both kinds) start with separate rx/tx channels when combined is 0.
      hc.nic.split_channels = ch.combined == 0 && prof.channels.max.combined != 0;
      hc.nic.mtu = 1500;
      for (const auto& ls : sc_.links) {
        for (const auto& e : ls.ends) {
          if (!e.is_switch && e.host == hs.name) hc.nic.mtu = ls.config.mtu;
        }
      }
      hc.nic.mac = {0x02, 0x00, 0x00, 0x00, 0x00, mac_last++};
      hc.stack.seed = sc_.seed * 1000 + host_index_.size();
      const app::TcpSysctl& y = hs.sysctl;
      if (y.wmem) {
        hc.stack.tcp.sndbuf = (*y.wmem)[1];
        hc.stack.tcp.sndbuf_max = (*y.wmem)[2];
      }
      if (y.rmem) hc.stack.tcp.rcvbuf = (*y.rmem)[2];  // no receive-buffer autotuning: the max from the start
      if (y.limit_output_bytes) hc.stack.tcp.limit_output_bytes = *y.limit_output_bytes;
      if (y.congestion) hc.stack.tcp.congestion = *y.congestion;
      if (y.sack) hc.stack.tcp.sack = *y.sack;
      if (y.timestamps) hc.stack.tcp.timestamps = *y.timestamps;
      if (y.window_scaling) hc.stack.tcp.window_scaling = *y.window_scaling;
      for (const auto& a : hs.addresses) hc.addresses.emplace_back(a.address, a.prefix_len);
      host_index_[hs.name] = hosts_.size();
      hosts_.push_back(std::make_unique<app::Host>(events_, *pit->second, frames_, hc, std::move(*steering)));
      channels_.push_back(ch);
      app::Host& h = *hosts_.back();
      record_setup_in_core(h.nic().core_state, h.nic().hw().steering(), hs.nic);
      auto e = apply_rings(h, hs.nic.rings, key + ".rings");
      if (!e) e = apply_coalesce(h, hs.nic.coalesce, key + ".coalesce");
      if (e) {
        error(*e);
        return false;
      }
    }
    // Devmem bindings made at the start (ncdevmem's setup: the NIC settings above come first).
    devmem_.resize(hosts_.size());
    for (std::size_t hi = 0; hi < sc_.hosts.size(); ++hi) {
      const app::HostSpec& hs = sc_.hosts[hi];
      if (!hs.devmem) continue;
      const std::string key = "hosts." + hs.name + ".devmem";
      if (!hs.devmem->bind_rx.empty()) {
        if (auto e = devmem_bind_rx(hi, hs.devmem->bind_rx)) {
          error(key + ".bind-rx: " + *e);
          return false;
        }
      }
      if (hs.devmem->bind_tx) {
        auto id = devmem_bind_tx(hi);
        if (!id.has_value()) {
          error(key + ".bind-tx: " + id.error());
          return false;
        }
        devmem_[hi].tx_binding = *id;
      }
    }
    // Captures.
    for (const PcapRequest& p : opt_.pcaps) {
      hw::Link* link = nullptr;
      for (auto& l : links_) {
        if (l->name() == p.link) link = l.get();
      }
      if (link == nullptr) {
        error("--pcap " + p.link + "=" + p.path.string() + ": no link is named " + p.link);
        return false;
      }
      auto cap = hw::PcapCapture::open(p.path.string());
      if (!cap.has_value()) {
        error("--pcap: " + cap.error().message);
        return false;
      }
      link->add_capture(**cap);
      pcaps_.push_back(std::move(*cap));
    }
    // Workloads.
    for (const app::WorkloadSpec& ws : sc_.workloads) {
      app::Host* from = host(ws.from);
      app::Host* to = host(ws.to);
      if (from == nullptr || to == nullptr) {
        error("workloads." + ws.name + ": unknown host");
        return false;
      }
      auto addr_of = [&](const app::HostSpec& hs) -> std::optional<netstack::wire::IpAddress> {
        for (const auto& a : hs.addresses) {
          if (a.address.version() == ws.family) return a.address;
        }
        return std::nullopt;
      };
      const auto saddr = addr_of(*sc_.host(ws.to));
      if (!saddr) {
        error("workloads." + ws.name + ": host " + ws.to + " has no address of the workload's family");
        return false;
      }
      app::WorkloadPlacement where{from->sockets(), to->sockets(), *saddr, addr_of(*sc_.host(ws.from)), {}, 0, nullptr};
      const std::size_t to_i = host_index_[ws.to];
      const std::size_t from_i = host_index_[ws.from];
      where.server_dmabuf = [this, to_i](std::uint32_t id) -> providers::dmabuf::Dmabuf* {
        auto it = devmem_[to_i].dmabufs.find(id);
        return it == devmem_[to_i].dmabufs.end() ? nullptr : it->second.get();
      };
      if (devmem_[from_i].tx_binding != 0) {
        where.client_tx_binding = devmem_[from_i].tx_binding;
        where.client_tx_dmabuf = devmem_[from_i].dmabufs[devmem_[from_i].tx_binding].get();
      }
      auto w = app::make_workload(ws, where, app::WorkloadOptions{});
      if (!w.has_value()) {
        error(w.error());
        return false;
      }
      workloads_.push_back(std::move(*w));
      to->add_app(workloads_.back()->take_server());
      from->add_app(workloads_.back()->take_client());
    }
    // The timeline.
    for (std::size_t i = 0; i < sc_.timeline.size(); ++i) {
      const app::TimelineEvent& ev = sc_.timeline[i];
      events_.schedule_at(sim::TimePoint::zero() + ev.at, [this, i] { run_action(i); },
                          sim::kPriorityControl);
    }
    if (opt_.trace_path && !open_trace()) return false;
    if (opt_.explain > 0) {
      explain_ = std::make_unique<app::ExplainTracer>(events_, opt_.explain);
      for (auto& l : links_) l->set_packet_tracer(&explain_->links());
      for (std::size_t i = 0; i < hosts_.size(); ++i) {
        hosts_[i]->set_packet_tracer(&explain_->host(static_cast<std::uint32_t>(i), hosts_[i]->name()));
      }
    }
    prefault_host_memory();
    for (auto& h : hosts_) h->kick();
    return true;
  }

  // Host memory the run will write, faulted in now (HostMemory::prefault): the pools' ring
  // buffers, and what bulk-tcp sockets may fill — tcp_wmem[2] per sending flow (not from a
  // dma-buf) in the 32 KiB blocks of the sockets' page frags (kSkbFragPageOrder), tcp_rmem[2]
  // per receiving flow (not into one) in pages — up to kPrefaultMax per host and kind; beyond,
  // memory grows on demand in the run as before. Which pages the run uses, and when, does not
  // change: only who pays the first touch, and the run's wall clock does not.
  static constexpr std::uint64_t kPrefaultMax = std::uint64_t{256} << 20;
  void prefault_host_memory() {
    std::vector<std::uint64_t> send(hosts_.size(), 0), receive(hosts_.size(), 0);
    for (const app::WorkloadSpec& ws : sc_.workloads) {
      const auto* b = std::get_if<app::BulkTcp>(&ws.params);
      if (b == nullptr) continue;
      const std::size_t from = host_index_[ws.from], to = host_index_[ws.to];
      if (!b->devmem_tx) send[from] += std::uint64_t{b->flows} * hosts_[from]->config().stack.tcp.sndbuf_max;
      if (!b->devmem_rx) receive[to] += std::uint64_t{b->flows} * hosts_[to]->config().stack.tcp.rcvbuf;
    }
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      hosts_[i]->memory().prefault(std::min(receive[i], kPrefaultMax));
      hosts_[i]->memory().prefault(std::min(send[i], kPrefaultMax), netstack::core::kSkbFragPageOrder);
    }
  }

  // ---- devmem -----------------------------------------------------------------------------------------------
  providers::dmabuf::NetdevNlSession& devmem_session(std::size_t hi) {
    HostDevmem& d = devmem_[hi];
    if (!d.session) d.session = std::make_unique<providers::dmabuf::NetdevNlSession>(hosts_[hi]->devmem(), hosts_[hi]->netns());
    return *d.session;
  }
  const app::DevmemSpec& devmem_spec(std::size_t hi) {
    static const app::DevmemSpec kDefault;
    return sc_.hosts[hi].devmem ? *sc_.hosts[hi].devmem : kDefault;
  }
  static std::string bind_error(int err, const core::Extack& ext) {
    std::string e = errno_text(err);
    if (!ext.msg.empty()) e += ": " + ext.msg;
    if (!ext.bad_attr.empty()) e += " (attribute " + ext.bad_attr + ")";
    return e;
  }
  // A fresh dma-buf of the host's devmem size bound by `bind(session, ifindex, fd, extack)`
  // (bind-rx or bind-tx): the binding id, its dma-buf kept by id as the application keeps its
  // mapping; or an error sentence (the dma-buf closed again).
  template <class Bind>
  base::Result<std::uint32_t, std::string> devmem_bind(std::size_t hi, const char* what, Bind&& bind) {
    const app::DevmemSpec& spec = devmem_spec(hi);
    providers::dmabuf::DmabufExporter& exporter = hosts_[hi]->dmabufs();
    const int fd = exporter.create(spec.dmabuf_bytes, spec.placement);
    if (fd < 0) {
      return base::Unexpected(std::string("creating a dma-buf of ") + std::to_string(spec.dmabuf_bytes) +
                              " bytes: " + errno_text(fd));
    }
    core::Extack ext;
    const int id = bind(devmem_session(hi), static_cast<std::uint32_t>(hosts_[hi]->nic().ifindex()),
                        static_cast<std::uint32_t>(fd), &ext);
    if (id < 0) {
      ++devmem_[hi].bind_failures;
      (void)exporter.close(fd);
      return base::Unexpected(std::string(what) + " failed: " + bind_error(id, ext));
    }
    std::shared_ptr<providers::dmabuf::Dmabuf> buf;
    (void)exporter.get(fd, &buf);
    devmem_[hi].dmabufs[static_cast<std::uint32_t>(id)] = std::move(buf);
    return static_cast<std::uint32_t>(id);
  }
  // bind-rx of `queues`; nullopt on success, else what went wrong.
  std::optional<std::string> devmem_bind_rx(std::size_t hi, const std::vector<std::uint32_t>& queues) {
    auto id = devmem_bind(hi, "bind-rx", [&](auto& session, std::uint32_t ifindex, std::uint32_t fd, core::Extack* ext) {
      providers::dmabuf::BindRxRequest req;
      req.ifindex = ifindex;
      req.fd = fd;
      for (const std::uint32_t q : queues) req.queues.push_back({q, providers::dmabuf::kNetdevQueueTypeRx});
      return session.bind_rx(req, ext);
    });
    if (!id.has_value()) return id.error();
    return std::nullopt;
  }
  base::Result<std::uint32_t, std::string> devmem_bind_tx(std::size_t hi) {
    return devmem_bind(hi, "bind-tx", [](auto& session, std::uint32_t ifindex, std::uint32_t fd, core::Extack* ext) {
      providers::dmabuf::BindTxRequest req;
      req.ifindex = ifindex;
      req.fd = fd;
      return session.bind_tx(req, ext);
    });
  }
  // The application exits: its control session closes, unbinding what it bound.
  void devmem_close_sessions() {
    for (auto& d : devmem_) {
      if (d.session) d.session->close();
    }
  }

  // --trace: the control operations' tracks, and the packet recorder attached to every host and
  // link (trace_ids in trace_writer.hpp).
  bool open_trace() {
    namespace ids = app::trace_ids;
    trace_ = std::make_unique<app::TraceWriter>();
    if (auto e = trace_->open(*opt_.trace_path)) {
      error("--trace: " + *e);
      return false;
    }
    trace_->name_process(ids::kPidControl, "control");
    trace_->sort_process(ids::kPidControl, 1);
    trace_->name_thread(ids::kPidControl, 0, "timeline");
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      const auto tid = ids::control_tid(static_cast<std::uint32_t>(i));
      trace_->name_thread(ids::kPidControl, tid, "host " + hosts_[i]->name());
    }
    app::PacketTraceRecorder::Options po;
    po.max_packets = opt_.trace_packets;
    packet_trace_ = std::make_unique<app::PacketTraceRecorder>(*trace_, events_, po);
    if (switch_) packet_trace_->add_switch(switch_->name(), static_cast<std::uint32_t>(switch_->port_count()));
    for (std::size_t l = 0; l < links_.size(); ++l) {
      std::array<std::string, 2> names;
      std::array<app::PacketTraceRecorder::Track, 2> ends;
      for (std::size_t end = 0; end < 2; ++end) {
        const app::LinkEnd& le = sc_.links[l].ends[end];
        if (const auto port = link_switch_ports_[l][end]) {
          names[end] = "switch:" + std::to_string(*port);
          ends[end] = {ids::kPidSwitch, *port};
        } else {
          names[end] = le.host;
          ends[end] = {ids::host_pid(static_cast<std::uint32_t>(host_index_[le.host])), ids::port_tid(0)};
        }
      }
      packet_trace_->add_link(static_cast<std::uint32_t>(l), links_[l]->name(), names, ends);
      links_[l]->set_packet_tracer(&packet_trace_->links());
    }
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      app::Host& h = *hosts_[i];
      h.set_packet_tracer(&packet_trace_->add_host(static_cast<std::uint32_t>(i), h.name(), h.config().cpus,
                                                   h.nic().real_num_rx_queues(), h.nic().real_num_tx_queues()));
    }
    return true;
  }

  void detach_packet_trace() {
    for (auto& h : hosts_) h->set_packet_tracer(nullptr);
    for (auto& l : links_) l->set_packet_tracer(nullptr);
  }

  // Ends the trace: what the packet recorder did, then the file's closing.
  void close_trace(std::ostream& log) {
    if (!trace_) return;
    detach_packet_trace();
    trace_->instant(app::trace_ids::kPidControl, 0, "packet trace", "control", sim_ns(),
                    {app::TraceArg("packets_traced", packet_trace_->packets_traced()),
                     app::TraceArg("max_packets", opt_.trace_packets),
                     app::TraceArg("packet_events", packet_trace_->events_written())});
    packet_trace_.reset();
    if (auto e = trace_->close()) log << "nicemu run: --trace: " << *e << '\n';
  }

  // ethtool -G / -C from a scenario's settings; the error sentence, or nullopt.
  std::optional<std::string> apply_rings(app::Host& h, const app::RingSettings& r, const std::string& key) {
    core::RingsRequest req;
    req.rx = r.rx;
    req.tx = r.tx;
    req.rx_buf_len = r.rx_buf_len;
    if (r.tcp_data_split) req.tcp_data_split = static_cast<core::TcpDataSplit>(*r.tcp_data_split);
    req.hds_thresh = r.hds_thresh;
    if (!req.rx && !req.tx && !req.rx_buf_len && !req.tcp_data_split && !req.hds_thresh) return std::nullopt;
    core::Extack ex;
    const int err = core::ethtool_set_rings(h.nic(), req, &ex);
    if (err == 0) return std::nullopt;
    return key + ": ethtool -G refused: " + errno_text(err) + (ex.msg.empty() ? "" : ": " + ex.msg);
  }

  std::optional<std::string> apply_coalesce(app::Host& h, const app::CoalesceSettings& c, const std::string& key) {
    if (!c.rx_usecs && !c.rx_frames) return std::nullopt;
    core::CoalesceRequest req;
    req.rx_coalesce_usecs = c.rx_usecs;
    req.rx_max_coalesced_frames = c.rx_frames;
    const int err = core::ethtool_set_coalesce(h.nic(), req);
    if (err == 0) return std::nullopt;
    return key + ": ethtool -C refused: " + errno_text(err);
  }

  // ---- the timeline ----------------------------------------------------------------------------------------
  // A timeline action on the control process: the timeline's track, and the track of the host
  // it acted on (none for link actions).
  void control_trace(const std::string& what, const std::string& result, std::optional<std::size_t> host) {
    if (!trace_) return;
    const auto ts = static_cast<std::uint64_t>(events_.now().ns());
    trace_->instant(app::trace_ids::kPidControl, 0, what, app::trace_cat::kControl, ts,
                    {app::TraceArg("result", std::string_view(result))});
    if (host) {
      trace_->instant(app::trace_ids::kPidControl, app::trace_ids::control_tid(static_cast<std::uint32_t>(*host)), what,
                      app::trace_cat::kControl, ts, {app::TraceArg("result", std::string_view(result))});
    }
  }

  // `ethtool -X [hkey ...] [equal|weight ... start S]` of `rss` for a table of `indir_size`
  // entries, or why the table cannot be built.
  static base::Result<core::RssRequest, std::string> rss_request(const app::RssSettings& rss,
                                                                 std::size_t indir_size) {
    core::RssRequest req;
    if (rss.key) req.hkey = std::vector<std::uint8_t>(rss.key->begin(), rss.key->end());
    if (rss.indir) {
      auto table = indir_table(*rss.indir, static_cast<std::uint32_t>(indir_size));
      if (!table) return base::Unexpected(table.error().message);
      req.indir = std::move(table).value();
    }
    return req;
  }

  // A timeline's ethtool -N delete / -X context delete / -L / -X / -X context new / -N insert
  // on a running host, each through the core's ethtool checks as the kernel runs them
  // (channels: the RSS table and the memory providers in use; RSS: table entries below the queue
  // count, key length; ntuple: flow type, queue range, location). rx-flow-hash has no core operation in nicemu (the kernel's
  // ETHTOOL_SRXFH is ioctl-only) and goes to the device's steering directly. When channels
  // shrink, RSS goes first (the kernel refuses channels that the table still uses).
  std::optional<std::string> apply_timeline_ethtool(app::Host& h, std::size_t hi, const app::EthtoolAction& a) {
    core::NetDevice& dev = h.nic();
    core::Extack ex;
    auto refused = [&](const std::string& op, int err) {
      return std::optional<std::string>(op + ": " + errno_text(err) + (ex.msg.empty() ? "" : ": " + ex.msg));
    };
    for (const std::uint32_t loc : a.ntuple_delete) {
      if (const int err = core::ethtool_del_ntuple_rule(dev, loc); err != 0) {
        return refused("ethtool -N delete " + std::to_string(loc), err);
      }
    }
    for (const std::uint32_t ctx : a.rss_context_delete) {
      if (const int err = core::ethtool_remove_rss_context(dev, ctx, &ex); err != 0) {
        return refused("ethtool -X context " + std::to_string(ctx) + " delete", err);
      }
    }
    const hw::ChannelCounts next = channels_in_force(channels_[hi], a.changes.channels);
    const bool channels_change = a.changes.channels.combined || a.changes.channels.rx || a.changes.channels.tx;
    auto set_channels = [&]() -> std::optional<std::string> {
      if (!channels_change) return std::nullopt;
      core::ChannelsRequest req;
      const hw::NicProfile* p = sc_.hosts[hi].profile ? &*sc_.hosts[hi].profile : nullptr;
      const bool has_combined = p == nullptr || p->channels.max.combined != 0;
      const bool has_split = p != nullptr && p->channels.max.rx != 0 && p->channels.max.tx != 0;
      if (next.combined == 0 && has_split) {
        req.rx_count = next.rx;  // ethtool -L [combined 0] rx N tx M (gve; bnxt without shared rings)
        req.tx_count = next.tx;
        if (has_combined) req.combined_count = 0;
      } else {
        req.combined_count = next.combined + (has_split ? 0 : next.rx);
        if (has_split) {  // what is in force besides: bnxt refuses both kinds together
          req.rx_count = next.rx;
          req.tx_count = next.tx;
        }
      }
      if (const int err = core::ethtool_set_channels(dev, req, &ex); err != 0) return refused("ethtool -L", err);
      channels_[hi] = next;
      return std::nullopt;
    };
    auto set_rss = [&]() -> std::optional<std::string> {
      const app::RssSettings& rss = a.changes.rss;
      if (rss.key || rss.indir) {
        std::size_t indir_size = 0;
        if (rss.indir) {
          core::EthtoolRss cur;
          if (const int err = core::ethtool_get_rss(dev, 0, cur); err != 0) return refused("ethtool -x", err);
          indir_size = cur.indir.size();
        }
        auto req = rss_request(rss, indir_size);
        if (!req) return "ethtool -X: " + req.error();
        if (const int err = core::ethtool_set_rss(dev, *req, &ex); err != 0) return refused("ethtool -X", err);
      }
      hw::Steering& st = h.nic().hw().steering();
      for (const auto& [flow, fields] : rss.hash_fields) {
        if (hw::Status s2 = st.set_rx_flow_hash(0, flow_type_of(flow), fields); !s2.ok()) {
          return "ethtool -N rx-flow-hash " + std::string(hw::to_string(flow_type_of(flow))) + ": " + s2.message;
        }
      }
      return std::nullopt;
    };
    const bool shrink = channels_change && rx_queue_count(next) < rx_queue_count(channels_[hi]);
    if (shrink) {
      if (auto e = set_rss()) return e;
      if (auto e = set_channels()) return e;
    } else {
      if (auto e = set_channels()) return e;
      if (auto e = set_rss()) return e;
    }
    for (const app::RssSettings& c : a.changes.rss_contexts) {
      auto req = rss_request(c, h.nic().hw().steering().indir_size());
      if (!req) return "ethtool -X context new: " + req.error();
      if (const int id = core::ethtool_create_rss_context(dev, *req, &ex); id < 0) {
        return refused("ethtool -X context new", id);
      }
    }
    for (std::size_t i = 0; i < a.changes.ntuple.size(); ++i) {
      const auto rule = nic::driver::ntuple_rule_to_core(a.changes.ntuple[i]);
      if (!rule) return "ethtool -N insert: flow type " + std::string(hw::to_string(a.changes.ntuple[i].flow_type)) +
                        " has no ntuple rules (tcp4, udp4, tcp6, udp6)";
      if (const int loc = core::ethtool_set_ntuple_rule(dev, *rule, &ex); loc < 0) {
        return refused("ethtool -N insert", loc);
      }
    }
    return std::nullopt;
  }

  void run_action(std::size_t i) {
    const app::TimelineEvent& ev = sc_.timeline[i];
    const std::string key = "timeline." + std::to_string(i);
    std::string what, result = "ok";
    std::optional<std::size_t> on_host;  // the host the action acted on
    std::visit(
        [&](const auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, app::EthtoolAction>) {
            what = "ethtool " + a.host;
            app::Host* h = host(a.host);
            const std::size_t hi = host_index_[a.host];
            on_host = hi;
            if (auto e = apply_timeline_ethtool(*h, hi, a)) {
              result = *e;
              return;
            }
            auto e = apply_rings(*h, a.changes.rings, key + ".ethtool.rings");
            if (!e) e = apply_coalesce(*h, a.changes.coalesce, key + ".ethtool.coalesce");
            if (e) result = *e;
          } else if constexpr (std::is_same_v<T, app::QueueRestartAction>) {
            what = "queue-restart " + a.host + " " + std::to_string(a.queue);
            on_host = host_index_[a.host];
            const int err = host(a.host)->nic().queue_restart(a.queue);
            if (err != 0) result = errno_text(err);
          } else if constexpr (std::is_same_v<T, app::QueueFaultAction>) {
            what = std::string("queue-fault ") + a.host + " " + app::to_string(a.op);
            on_host = host_index_[a.host];
            nic::driver::DriverFaults& f = host(a.host)->nic().faults;
            nic::driver::OpFault* op = nullptr;
            switch (a.op) {
              case app::FaultOp::kMemAlloc: op = &f.mem_alloc; break;
              case app::FaultOp::kMemFree: op = &f.mem_free; break;
              case app::FaultOp::kStart: op = &f.start; break;
              case app::FaultOp::kStop: op = &f.stop; break;
              case app::FaultOp::kRollbackStart: op = &f.rollback_start; break;
            }
            switch (a.mode.kind) {
              case app::FaultMode::Kind::kOff: *op = nic::driver::OpFault::off(); break;
              case app::FaultMode::Kind::kOnce: *op = nic::driver::OpFault::once(-EIO); break;
              case app::FaultMode::Kind::kEvery: *op = nic::driver::OpFault::every_nth(a.mode.every, -EIO); break;
              case app::FaultMode::Kind::kFrom:
                *op = nic::driver::OpFault::from_time(sim::TimePoint::zero() + a.mode.from, -EIO);
                break;
            }
          } else if constexpr (std::is_same_v<T, app::LinkFaultAction>) {
            what = "link-faults " + a.link;
            for (auto& l : links_) {
              if (l->name() != a.link) continue;
              for (int end = 0; end < 2; ++end) {
                const bool hit = a.direction == app::LinkDirection::kBoth ||
                                 (a.direction == app::LinkDirection::kForward) == (end == 0);
                if (hit) {
                  if (auto e = l->port(end).set_faults(a.faults)) result = e->message;
                }
              }
            }
          } else if constexpr (std::is_same_v<T, app::CarrierAction>) {
            what = std::string("carrier ") + a.link + (a.up ? " up" : " down");
            for (auto& l : links_) {
              if (l->name() == a.link) l->set_carrier(a.up);
            }
          } else if constexpr (std::is_same_v<T, app::DevmemAction>) {
            const std::size_t hi = host_index_[a.host];
            on_host = hi;
            if (a.op == app::DevmemAction::Op::kBindRx) {
              what = "devmem bind-rx " + a.host + " queues";
              for (const std::uint32_t q : a.queues) what += " " + std::to_string(q);
              if (auto e = devmem_bind_rx(hi, a.queues)) result = *e;
            } else {
              what = "devmem unbind " + a.host + " (control session closed)";
              if (devmem_[hi].session) devmem_[hi].session->close();
            }
          }
        },
        ev.action);
    if (result == "ok") {
      ++timeline_ok_;
    } else {
      timeline_results_.push_back(key + " (" + what + "): " + result);
    }
    digest_.record(events_.now(), 0x7100, {i, result == "ok" ? 0u : 1u});
    report_.timeline.push_back({sim_ns(), what, result});
    control_trace(what, result, on_host);
    for (auto& h : hosts_) h->kick();
  }

  // ---- run --------------------------------------------------------------------------------------------------------
  bool workloads_done() const {
    for (const auto& w : workloads_) {
      if (!w->done()) return false;
    }
    return true;
  }

  std::uint64_t payload_so_far() const {
    std::uint64_t n = 0;
    for (const auto& w : workloads_) {
      for (const auto& f : w->flows()) n += f.bytes_received;
    }
    return n;
  }

  void run(std::ostream& log) {
    const base::ByteWorker::Stats bw0 = base::ByteWorker::get().stats();
    const auto wall0 = std::chrono::steady_clock::now();
    auto last_progress = wall0;
    const sim::TimePoint limit = sim::TimePoint::zero() + sc_.stop.time;
    const bool until_done = sc_.stop.when == app::StopCondition::When::kWorkloadsDone;
    const sim::Duration slice = sim::Duration::from_us(100);
    sim::TimePoint next_ms = sim::TimePoint::zero() + sim::Duration::from_ms(1);
    while (events_.now() < limit) {
      if (until_done && workloads_done()) break;
      sim::TimePoint to = events_.now() + slice;
      if (to > limit) to = limit;
      const auto r = events_.run_until(to);
      if (r.reason == sim::StopReason::kIdle && events_.empty()) {
        if (until_done && !workloads_done()) error("the run went idle before the workloads finished");
        break;
      }
      const auto now_wall = std::chrono::steady_clock::now();
      const double wall = std::chrono::duration<double>(now_wall - wall0).count();
      if (opt_.verbosity == Verbosity::kProgress && events_.now() >= next_ms) {
        next_ms = events_.now() + sim::Duration::from_ms(1);
        log << app::format_progress(sim_ns(), payload_so_far(), wall) << '\n';
      } else if (opt_.verbosity == Verbosity::kNormal &&
                 std::chrono::duration<double>(now_wall - last_progress).count() >= 2.0) {
        last_progress = now_wall;
        log << app::format_progress(sim_ns(), payload_so_far(), wall) << '\n';
      }
    }
    report_.sim_time_ns = sim_ns();
    if (until_done && !workloads_done()) {
      error("stop.time reached (" + std::to_string(sc_.stop.time.ns()) + " ns) with a workload unfinished");
    }
    // Wind down: stop the apps, give connections time to close (FIN exchange, TIME-WAIT is the
    // stack's own), take the NICs down.
    for (auto& h : hosts_) h->shutdown();
    events_.run_until(events_.now() + sim::Duration::from_ms(200));
    report_.wall_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    report_.threads = base::ByteWorker::get().threads();
    const base::ByteWorker::Stats bw = base::ByteWorker::get().stats();
    report_.byte_jobs = bw.jobs - bw0.jobs;
    report_.byte_job_waits = bw.waits - bw0.waits;
    report_.byte_job_wait_s = static_cast<double>(bw.wait_ns - bw0.wait_ns) * 1e-9;
  }

  std::uint64_t sim_ns() const { return static_cast<std::uint64_t>(events_.now().ns()); }

  // ---- report ------------------------------------------------------------------------------------------------------
  void fill_report() {
    app::RunReport& r = report_;
    r.scenario = sc_.name.empty() ? "(unnamed)" : sc_.name;
    r.seed = sc_.seed;
    if (sc_.expect.max_validation_errors) r.max_validation_errors = *sc_.expect.max_validation_errors;
    if (sc_.expect.no_leaks) r.leaks_fail = *sc_.expect.no_leaks;
    for (const auto& w : workloads_) {
      const app::WorkloadSpec* spec = nullptr;
      for (const auto& ws : sc_.workloads) {
        if (ws.name == w->name()) spec = &ws;
      }
      for (const app::FlowStats& f : w->flows()) {
        app::FlowReport fr;
        fr.workload = w->name();
        fr.index = f.index;
        fr.kind = w->kind() == app::WorkloadKind::kBulkTcp ? app::FlowKind::kBulkTcp
                  : w->kind() == app::WorkloadKind::kRequestResponseTcp ? app::FlowKind::kRrTcp
                                                           : app::FlowKind::kUdp;
        fr.from = spec != nullptr ? spec->from : "";
        fr.to = spec != nullptr ? spec->to : "";
        fr.tuple = f.tuple;
        fr.bytes_sent = f.bytes_sent;
        fr.bytes_received = f.bytes_received;
        fr.bytes_validated = f.bytes_validated;
        fr.validation_errors = f.validation_errors();
        fr.retransmits = f.retransmits;
        const auto ns = [](std::optional<sim::TimePoint> t) {
          return t ? static_cast<std::uint64_t>(t->ns()) : 0;
        };
        fr.start_ns = ns(f.first_byte_sent ? f.first_byte_sent : f.start);
        fr.end_ns = ns(f.last_byte_received);
        fr.goodput_gbps = app::goodput_gbps(fr.bytes_received, fr.start_ns, fr.end_ns);
        fr.done = f.done;
        if (const app::RrStats* rr = w->rr_stats()) {
          fr.transactions = rr->transactions_done;
          fr.latency_p50_ns = static_cast<std::uint64_t>(rr->latency.percentile(0.50).ps() / 1000);
          fr.latency_p99_ns = static_cast<std::uint64_t>(rr->latency.percentile(0.99).ps() / 1000);
        }
        if (const app::UdpStats* u = w->udp_stats()) {
          fr.datagrams_sent = u->datagrams_sent;
          fr.datagrams_received = u->datagrams_received;
          fr.datagrams_lost = u->lost;
        }
        r.flows.push_back(fr);
        digest_.record(events_.now(), 0x7200, {fr.bytes_sent, fr.bytes_received, fr.validation_errors, fr.retransmits});
      }
    }
    for (std::size_t hi = 0; hi < hosts_.size(); ++hi) r.hosts.push_back(host_report(*hosts_[hi], hi));
    // The data path at a glance.
    std::uint64_t first_ns = 0, last_ns = 0, bytes = 0;
    for (const auto& f : r.flows) {
      if (f.bytes_received == 0 || f.end_ns <= f.start_ns) continue;
      if (first_ns == 0 || f.start_ns < first_ns) first_ns = f.start_ns;
      last_ns = std::max(last_ns, f.end_ns);
      bytes += f.bytes_received;
    }
    r.aggregate_goodput_gbps = app::goodput_gbps(bytes, first_ns, last_ns);
    double rate = 0;
    bool one_rate = true;
    for (const auto& ws : sc_.workloads) {
      for (const auto& ls : sc_.links) {
        for (const auto& e : ls.ends) {
          if (e.is_switch || e.host != ws.to) continue;
          const double g = double(ls.config.line_rate_bps) / 1e9;
          if (rate != 0 && rate != g) one_rate = false;
          rate = g;
        }
      }
    }
    r.line_rate_gbps = one_rate ? rate : 0;
    for (auto& hp : hosts_) {
      const auto& ns = hp->nic().hw().stats();
      r.rx_header_bytes += ns.rx_header_bytes;
      r.rx_payload_bytes += ns.rx_payload_bytes;
      r.rx_dma_host_bytes += ns.rx_dma_host_bytes;
      r.rx_dma_device_bytes += ns.rx_dma_device_bytes;
    }
    for (std::size_t i = 0; i < links_.size(); ++i) r.links.push_back(link_report(*links_[i], sc_.links[i]));
    if (switch_) {
      app::SwitchReport s;
      s.name = switch_->name();
      r.switch_ = s;
    }
    // Expectations.
    const auto& ex = sc_.expect;
    const bool all_done = workloads_done();
    if (ex.workloads_done.value_or(true)) {
      r.expectations.push_back({"workloads-done", all_done, all_done ? "every workload finished" : "a workload did not finish"});
    }
    if (ex.min_goodput_gbps) {
      bool ok = true;
      std::string detail = "every flow";
      for (const auto& f : r.flows) {
        if (f.goodput_gbps < *ex.min_goodput_gbps) {
          ok = false;
          detail = "flow " + f.label() + ": " + std::to_string(f.goodput_gbps) + " Gbit/s";
          break;
        }
      }
      r.expectations.push_back({"min-goodput >= " + std::to_string(*ex.min_goodput_gbps) + " Gbit/s", ok, detail});
    }
    const app::Counters drops = r.drops_by_reason();
    for (const auto& [reason, most] : ex.max_drops) {
      const std::uint64_t n = reason == "total" ? app::counters_total(drops) : app::counter_value(drops, reason);
      r.expectations.push_back({"drops." + reason + " <= " + std::to_string(most), n <= most, std::to_string(n) + " counted"});
    }
    for (const auto& t : timeline_results_) r.expectations.push_back({"timeline", true, t});
    if (ex.timeline_ok.value_or(false)) {
      const auto bad = std::find_if(r.timeline.begin(), r.timeline.end(),
                                    [](const app::TimelineResult& t) { return t.result != "ok"; });
      r.expectations.push_back({"timeline-ok", bad == r.timeline.end(),
                                bad == r.timeline.end()
                                    ? "every timeline action succeeded"
                                    : bad->action + " at " + std::to_string(bad->at_ns) + " ns: " + bad->result});
    }
    digest_.record(events_.now(), 0x7300, {events_.events_run(), r.sim_time_ns});
    r.digest = digest_.hex();
  }

  // One qstats-get message as report counters: the RX or TX fields the device reports, with the
  // kernel's names (netdev_queue_stats_rx / _tx) without the family's "rx-"/"tx-" prefix.
  static app::Counters qstats_counters(const core::QstatsInfo& q, bool rx) {
    app::Counters c;
    auto add = [&c](const char* n, const std::optional<std::uint64_t>& v) {
      if (v) c.emplace_back(n, *v);
    };
    if (rx) {
      add("packets", q.rx_packets);
      add("bytes", q.rx_bytes);
      add("alloc_fail", q.rx_alloc_fail);
      add("hw_drops", q.rx_hw_drops);
      add("hw_drop_overruns", q.rx_hw_drop_overruns);
      add("csum_unnecessary", q.rx_csum_unnecessary);
      add("csum_none", q.rx_csum_none);
      add("csum_bad", q.rx_csum_bad);
    } else {
      add("packets", q.tx_packets);
      add("bytes", q.tx_bytes);
      add("hw_drops", q.tx_hw_drops);
      add("hw_drop_errors", q.tx_hw_drop_errors);
      add("needs_csum", q.tx_needs_csum);
      add("csum_none", q.tx_csum_none);
      add("stop", q.tx_stop);
      add("wake", q.tx_wake);
    }
    return c;
  }

  static app::PagePoolReport pool_report(const page_pool::PagePool& p, const char* role) {
    app::PagePoolReport pr;
    pr.id = p.id();
    pr.provider = p.mp() != nullptr ? "provider" : "host";
    pr.role = role;
    const auto& s = p.stats();
    pr.stats = {{"alloc_fast", s.alloc.fast},       {"alloc_slow", s.alloc.slow},
                {"alloc_empty", s.alloc.empty},     {"alloc_refill", s.alloc.refill},
                {"recycle_cached", s.recycle.cached}, {"recycle_cache_full", s.recycle.cache_full},
                {"recycle_ring", s.recycle.ring},   {"recycle_ring_full", s.recycle.ring_full},
                {"recycle_released_refcnt", s.recycle.released_refcnt}};
    pr.inflight = p.inflight();
    pr.inflight_mem = p.inflight_mem();
    pr.hold_cnt = p.hold_cnt();
    pr.release_cnt = p.release_cnt();
    pr.detached = p.detached();
    return pr;
  }

  app::HostReport host_report(app::Host& h, std::size_t hi) {
    app::HostReport hr;
    hr.name = h.name();
    {
      const auto& ds = h.devmem().stats();
      std::uint64_t niovs = 0, niovs_free = 0;
      for (const auto& [id, buf] : devmem_[hi].dmabufs) {
        if (const auto* b = h.devmem().lookup(id)) {
          niovs += b->num_niovs();
          niovs_free += b->free_niovs();
        }
      }
      std::uint64_t frags = 0, freed = 0, linear = 0, readable = 0, zc = 0, zc_done = 0, zc_copied = 0;
      for (std::size_t k = 0; k < sc_.workloads.size() && k < workloads_.size(); ++k) {
        const bool rx_here = sc_.workloads[k].to == h.name();
        const bool tx_here = sc_.workloads[k].from == h.name();
        for (const app::FlowStats& f : workloads_[k]->flows()) {
          if (rx_here) {
            frags += f.devmem.frags;
            freed += f.devmem.tokens_freed;
            linear += f.devmem.linear_bytes;
            readable += f.devmem.readable_bytes;
          }
          if (tx_here) {
            zc += f.devmem.zc_sends;
            zc_done += f.devmem.zc_completions;
            zc_copied += f.devmem.zc_copied;
          }
        }
      }
      const auto& ps = h.page_pools().stats();
      hr.devmem = {{"bindings_created", ds.bindings_created},
                   {"bindings_unbound", ds.bindings_unbound},
                   {"bindings_freed", ds.bindings_freed},
                   {"bind_failures", devmem_[hi].bind_failures},
                   {"niovs", niovs},
                   {"niovs_in_use", niovs - niovs_free},
                   {"cmsg_frags", frags},
                   {"tokens_freed", freed},
                   {"linear_bytes", linear},
                   {"readable_bytes", readable},
                   {"zc_sends", zc},
                   {"zc_completions", zc_done},
                   {"zc_copied", zc_copied},
                   {"page_pools_detached", ps.detached},
                   {"page_pools_released_after_detach", ps.released_after_detach}};
    }
    const double sim_s = double(report_.sim_time_ns) * 1e-9;
    for (const auto& c : h.cpu_stats()) {
      hr.cpu_busy.push_back(sim_s > 0 ? std::min(1.0, double(c.busy.ps()) * 1e-12 / sim_s) : 0.0);
    }
    const auto& ss = h.stack().stats();
    for (std::size_t i = 0; i < ss.drops.size(); ++i) {
      if (ss.drops[i] != 0) {
        hr.stack_drops.emplace_back(netstack::inet::to_string(static_cast<netstack::inet::DropReason>(i)), ss.drops[i]);
      }
    }
    const auto tt = h.stack().tcp_totals();
    hr.tcp = {{"active_opens", tt.active_opens}, {"passive_opens", tt.passive_opens},
              {"attempt_fails", tt.attempt_fails}, {"estab_resets", tt.estab_resets},
              {"retransmits", tt.sum.retransmits}, {"abort_on_close", tt.sum.abort_on_close},
              {"abort_on_data", tt.sum.abort_on_data}};
    nic::driver::NicDriver& d = h.nic();
    app::NicReport nr;
    nr.name = d.name();
    nr.profile = d.profile().name;
    // qstats-get, as `ynl --dump qstats-get` would ask: device totals (base stats plus every
    // queue's, summed by the core), then each queue.
    const auto ifindex = static_cast<std::uint32_t>(d.ifindex());
    const auto totals = core::netdev_nl_qstats_get_dump(h.netns(), {ifindex, core::QstatsScope::kDevice});
    const auto per_queue = core::netdev_nl_qstats_get_dump(h.netns(), {ifindex, core::QstatsScope::kQueue});
    const core::QstatsInfo dev_total = totals.has_value() && !totals.value().empty() ? totals.value().front() : core::QstatsInfo{};
    for (std::uint32_t q = 0; q < d.real_num_rx_queues(); ++q) {
      app::QueueReport qr;
      qr.index = q;
      if (per_queue.has_value()) {
        for (const core::QstatsInfo& m : per_queue.value()) {
          if (m.queue_id != q) continue;
          if (m.queue_type == core::QueueType::kRx) qr.rx = qstats_counters(m, true);
          if (m.queue_type == core::QueueType::kTx) qr.tx = qstats_counters(m, false);
        }
      }
      const auto& hs = d.hw().rxq(q).stats();
      namespace dr = app::drop_reason;
      if (hs.hw_drop_overruns != 0) qr.drops.emplace_back(dr::kHwDropOverruns, hs.hw_drop_overruns);
      if (hs.dma_faults != 0) qr.drops.emplace_back(dr::kDmaFault, hs.dma_faults);
      const auto& txq = d.tx_queue(q);
      if (txq.qdisc_drops != 0) qr.drops.emplace_back(dr::kQdiscFull, txq.qdisc_drops);
      if (txq.unreadable_drops != 0) qr.drops.emplace_back(dr::kUnreadableXmit, txq.unreadable_drops);
      if (const auto* p = d.header_pool(q)) qr.page_pools.push_back(pool_report(*p, "header"));
      if (const auto* p = d.payload_pool(q)) qr.page_pools.push_back(pool_report(*p, "payload"));
      if (const auto* n = d.channel_napi(q)) {
        qr.napi_id = n->id();
        qr.polls = n->polls();
      }
      qr.irqs = d.hw().irq(q).stats().interrupts;
      nr.queues.push_back(std::move(qr));
    }
    nr.rx = qstats_counters(dev_total, true);
    nr.tx = qstats_counters(dev_total, false);
    const auto& ns = d.hw().stats();
    namespace dr = app::drop_reason;
    nr.drops = {{std::string(dr::kRxFifo), ns.rx_fifo_drops},
                {std::string(dr::kRxSteer), ns.rx_steer_drops},
                {std::string(dr::kRxQueueStopped), ns.rx_queue_stopped_drops},
                {std::string(dr::kTxPort), ns.tx_port_drops},
                {std::string(dr::kRxSkbAllocFail), d.driver_stats().rx_skb_alloc_fail},
                {std::string(dr::kRxRestartDiscards), d.driver_stats().rx_restart_discards},
                {std::string(dr::kTxRestartDiscards), d.driver_stats().tx_restart_discards}};
    nr.dma = {{"rx_header_bytes", ns.rx_header_bytes},
              {"rx_payload_bytes", ns.rx_payload_bytes},
              {"rx_host_bytes", ns.rx_dma_host_bytes},
              {"rx_device_bytes", ns.rx_dma_device_bytes},
              {"tx_host_bytes", ns.tx_dma_host_bytes},
              {"tx_device_bytes", ns.tx_dma_device_bytes},
              {"tx_desc_reads", ns.tx_desc_reads},
              {"tx_zero_copy_skbs", d.driver_stats().tx_zero_copy},
              {"tx_bounced_skbs", d.driver_stats().tx_bounced}};
    const core::QueueRestartStats& qr = d.core_state.queue_restart;
    nr.queue_restart = {{"calls", qr.calls},
                        {"restarts", qr.restarts},
                        {"failures", qr.failures},
                        {"rollbacks", qr.rollbacks},
                        {"rollback_failures", qr.rollback_failures}};
    hr.nics.push_back(std::move(nr));
    digest_.record(events_.now(), 0x7400,
                   {dev_total.rx_packets.value_or(0), dev_total.tx_packets.value_or(0), ns.rx_fifo_drops});
    return hr;
  }

  app::LinkReport link_report(const hw::Link& l, const app::LinkSpec& spec) {
    app::LinkReport lr;
    lr.name = l.name();
    for (int end = 0; end < 2; ++end) {
      const auto& s = l.stats(end);
      app::LinkDirectionReport d;
      auto end_name = [&](int e) {
        const auto& le = spec.ends[static_cast<std::size_t>(e)];
        return le.is_switch ? std::string("switch") : le.host;
      };
      d.from = end_name(end);
      d.to = end_name(1 - end);
      d.tx_frames = s.tx_frames;
      d.tx_bytes = s.tx_bytes;
      d.rx_frames = s.rx_frames;
      d.rx_bytes = s.rx_bytes;
      for (std::size_t i = 0; i < s.dropped.size(); ++i) {
        if (s.dropped[i] != 0) d.drops.emplace_back(hw::to_string(static_cast<hw::DropReason>(i)), s.dropped[i]);
      }
      d.faults = {{"corrupted", s.corrupted}, {"duplicated", s.duplicated}, {"reordered", s.reordered}};
      const double sim_s = double(report_.sim_time_ns) * 1e-9;
      d.utilisation = sim_s > 0 ? std::min(1.0, double(s.tx_bytes + 24 * s.tx_frames) * 8.0 /
                                                    (double(l.config().line_rate_bps) * sim_s))
                                : 0.0;
      lr.directions.push_back(std::move(d));
    }
    return lr;
  }

  // Leaks: after the NICs went down, nothing may be held: page-pool pages, skbs, frames.
  void check_leaks() {
    devmem_close_sessions();  // the applications exit: their control sessions close (unbind)
    for (auto& h : hosts_) h->nic().close();
    events_.run_until(events_.now() + sim::Duration::from_s(2));  // page-pool release retries
    for (auto& hp : hosts_) {
      app::Host& h = *hp;
      for (page_pool::PagePool* p : h.page_pools().all()) {
        if (p->inflight() != 0) {
          report_.leaks.push_back("host " + h.name() + " page pool " + std::to_string(p->id()) + ": " +
                                  std::to_string(p->inflight()) + " pages inflight after the NIC went down");
        }
      }
      if (h.stack().skbs().in_use() != 0 && h.stack().connections() == 0) {
        report_.leaks.push_back("host " + h.name() + ": " + std::to_string(h.stack().skbs().in_use()) +
                                " skbs still allocated");
      }
      if (h.nic().rx_buffers_held() != 0 || h.nic().tx_in_flight() != 0) {
        report_.leaks.push_back("host " + h.name() + ": the driver still holds buffers after close");
      }
      if (h.devmem().bindings_alive() != 0) {
        report_.leaks.push_back("host " + h.name() + ": " + std::to_string(h.devmem().bindings_alive()) +
                                " devmem bindings still alive after their session closed and the NIC went down");
      }
    }
  }
};

}  // namespace

int cmd_run(const RunOptions& options) {
  std::ostream& log = std::cerr;
  app::ScenarioOptions so;
  so.overrides = options.overrides;
  auto loaded = options.scenario ? app::load_scenario(*options.scenario, so)
                                 : app::parse_scenario(app::default_scenario_yaml(), "(built-in default)", so);
  if (!loaded.has_value()) {
    log << loaded.error().to_string();
    return 2;
  }
  app::Scenario sc = std::move(loaded.value());
  if (options.seed) sc.seed = *options.seed;
  if (options.threads) base::ByteWorker::get().set_threads(*options.threads);

  Runner r(sc, options);
  if (options.verbosity != Verbosity::kQuiet) {
    log << "nicemu run: " << (sc.name.empty() ? "(unnamed)" : sc.name) << ", seed " << sc.seed << ", "
        << sc.hosts.size() << " hosts, " << sc.links.size() << " links, " << sc.workloads.size() << " workloads\n";
  }
  if (!r.build()) {
    for (const auto& e : r.report_.errors) log << "nicemu run: " << e << '\n';
    return 2;
  }
  r.run(log);
  r.fill_report();
  if (r.explain_) {
    r.detach_packet_trace();  // the journeys end with the traffic; shutdown is not part of them
    std::cout << r.explain_->report() << '\n';
  }
  r.check_leaks();
  r.close_trace(log);
  for (auto& p : r.pcaps_) p->flush();
  std::cout << app::format_summary(r.report_);
  if (options.json_path) {
    std::string err;
    if (!app::write_json_file(r.report_, *options.json_path, &err)) {
      log << "nicemu run: --json: " << err << '\n';
      return 2;
    }
  }
  return r.report_.passed() ? 0 : 1;
}

}  // namespace nicemu::cli
