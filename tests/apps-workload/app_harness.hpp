// Workload apps on two hosts: TwoHosts (two stacks over a veth-like link with faults) with one
// SocketTable per host, and an event loop that calls every app's step() after each batch of
// network events and at the apps' wake_at() times, as the host model does. Host 0 runs clients,
// host 1 servers (192.0.2.1 -> 192.0.2.2, 2001:db8::1 -> 2001:db8::2).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "nicemu/app/workload.hpp"
#include "nicemu/netstack/socket/socket_table.hpp"
#include "two_hosts.hpp"

namespace nicemu::testing {

class AppHarness {
 public:
  using SocketTable = netstack::socket::SocketTable;

  explicit AppHarness(std::uint64_t seed = 1, LinkFaults faults = {}, netstack::inet::StackConfig base = {})
      : net(seed, faults, base) {
    for (int i = 0; i < 2; ++i) tables_[i] = std::make_unique<SocketTable>(net.stack(i));
  }

  SocketTable& table(int i) { return *tables_[i]; }
  sim::TimePoint now() const { return net.now(); }

  static netstack::wire::IpAddress address(int host, netstack::wire::IpVersion v) {
    if (v == netstack::wire::IpVersion::kV6) return TwoHosts::addr6(host);
    return TwoHosts::addr(host);
  }

  // A started workload: the workload (statistics) and its two apps, which the harness owns.
  struct Running {
    std::unique_ptr<app::Workload> workload;
    app::App* server = nullptr;
    app::App* client = nullptr;
    app::Workload* operator->() const { return workload.get(); }
  };

  // The workload of `spec` with its client on host 0 and its server on host 1, registered to run.
  Running start(const app::WorkloadSpec& spec, app::WorkloadOptions options = {}, bool bind_client = false) {
    app::WorkloadPlacement where{table(0), table(1), address(1, spec.family), std::nullopt, {}, 0, nullptr};
    if (bind_client) where.client_addr = address(0, spec.family);
    auto r = app::make_workload(spec, where, std::move(options));
    if (!r) FAIL(r.error());
    Running w{std::move(*r)};
    apps_.push_back(w.workload->take_server());
    w.server = apps_.back().get();
    apps_.push_back(w.workload->take_client());
    w.client = apps_.back().get();
    return w;
  }

  // Runs until `done()` or `within` from now: after every batch of events each app steps, and the
  // clock jumps to the earliest wake_at() when no event comes before it. Returns done().
  template <class Done>
  bool run_until(Done&& done, sim::Duration within = sim::Duration::from_s(10)) {
    const sim::TimePoint end = net.now() + within;
    for (int spins = 0;;) {
      step_all();
      if (done()) return true;
      const std::optional<sim::TimePoint> wake = earliest_wake();
      if (wake && *wake <= net.now()) {
        REQUIRE(++spins < 1000);  // an app asking to run now, again and again
        continue;
      }
      spins = 0;
      const sim::TimePoint limit = wake ? std::min(*wake, end) : end;
      bool finished = false;
      net.run_until(
          [&] {
            step_all();
            finished = done();
            const auto w = earliest_wake();
            return finished || (w && *w < limit);
          },
          limit);
      if (finished || done()) return true;
      const auto w = earliest_wake();
      if (w && *w < limit) continue;            // an app asked for an earlier time while events ran
      if (!wake || *wake > end) return done();  // nothing due before the end
      if (net.now() < *wake) net.advance(*wake - net.now());
    }
  }

  bool run_apps(sim::Duration within = sim::Duration::from_s(10)) {
    return run_until([&] { return all_done(); }, within);
  }
  bool all_done() const {
    return std::all_of(apps_.begin(), apps_.end(), [](const auto& a) { return a->done(); });
  }
  void stop_all() {
    for (auto& a : apps_) a->stop(net.now());
  }
  // Stops and destroys every app, as a host does at the end of a run.
  void drop_apps() {
    stop_all();
    apps_.clear();
  }

  // After the apps finished: every descriptor closed by the apps themselves, then (TIME-WAIT
  // included) every connection, UDP socket, skb and page gone from both stacks once the link
  // has delivered what it carried.
  void expect_clean_end() {
    for (int i = 0; i < 2; ++i) CHECK(table(i).open_fds() == 0);
    stop_all();
    const bool gone = run_until([&] { return net.stack(0).connections() == 0 && net.stack(1).connections() == 0; },
                                sim::Duration::from_s(300));
    CHECK(gone);
    // Frames still on the link (a window sent just before a reset) land and are freed.
    net.run_until([] { return false; }, net.now() + sim::Duration::from_s(1));
    for (int i = 0; i < 2; ++i) {
      CHECK(net.stack(i).connections() == 0);
      CHECK(net.stack(i).udp_sockets() == 0);
      CHECK(net.stack(i).skbs().in_use() == 0);
      CHECK(net.memory(i).pages_in_use() == 0);
    }
  }

  TwoHosts net;
  app::StepWork work;       // summed over every step
  std::uint64_t steps = 0;  // step() calls
  // When set: a count of the program's allocations so far (counting_operator_new.hpp); the
  // allocations made inside step() calls are summed in step_allocations.
  std::uint64_t (*allocation_counter)() = nullptr;
  std::uint64_t step_allocations = 0;

 private:
  void step_all() {
    for (auto& a : apps_) {
      const std::uint64_t before = allocation_counter != nullptr ? allocation_counter() : 0;
      work += a->step(net.now());
      if (allocation_counter != nullptr) step_allocations += allocation_counter() - before;
      ++steps;
    }
  }
  std::optional<sim::TimePoint> earliest_wake() const {
    std::optional<sim::TimePoint> t;
    for (const auto& a : apps_) {
      if (auto w = a->wake_at(); w && (!t || *w < *t)) t = w;
    }
    return t;
  }

  std::unique_ptr<SocketTable> tables_[2];
  std::vector<std::unique_ptr<app::App>> apps_;  // as a host owns its apps
};

// A spec with the usual fields; params as given.
template <class Params>
app::WorkloadSpec workload_spec(std::string name, Params params, std::uint16_t port = 5001,
                                netstack::wire::IpVersion family = netstack::wire::IpVersion::kV4) {
  app::WorkloadSpec s;
  s.name = std::move(name);
  s.from = "a";
  s.to = "b";
  s.port = port;
  s.family = family;
  s.params = std::move(params);
  return s;
}

}  // namespace nicemu::testing
