// Mode A: ncdevmem's run_devmem_tests() (see ncdevmem.hpp). Each operation is one ModeAStep;
// the first step that does not come out as the test wants ends the run, and the cleanup undoes
// what was set up, in ncdevmem's order (its err_* labels).
#include <memory>
#include <string>

#include "control.hpp"
#include "nicemu/ncdevmem/ncdevmem.hpp"

namespace nicemu::ncdevmem {

using detail::describe;
using detail::strf;

ModeAResult run_devmem_tests(app::Host& host, const Options& o) {
  ModeAResult r;
  const auto log = [&o](const std::string& line) {
    if (o.log) o.log(line);
  };
  const auto step = [&r](std::string name, bool ok, int err, std::string extack) {
    r.steps.push_back(ModeAStep{std::move(name), ok, err, std::move(extack)});
    return ok;
  };
  const auto failed = [&r, &log](std::string reason) {
    r.pass = false;
    r.reason = std::move(reason);
    log(std::string(kTestPrefix) + ": " + r.reason);
  };

  log(strf("using ifindex=%d", host.nic().ifindex()));
  const detail::Queues q = detail::resolve_queues(host, o, Mode::kBindTests, o.log);
  r.start_queue = q.start_queue;
  r.num_queues = q.num_queues;
  if (!q.error.empty()) {
    step("queue count", false, 0, {});
    failed(q.error);
    return r;
  }
  detail::NicControl ctl(host, o.log);

  // mem = provider->alloc(getpagesize() * NUM_PAGES)
  const int fd = host.dmabufs().create(o.dmabuf_pages * kPageSize, o.dmabuf_placement);
  if (fd < 0) {
    step("udmabuf create", false, fd, {});
    failed("Failed to allocate memory buffer: " + describe(fd));
    return r;
  }

  // The cleanup, entered at the level reached (ncdevmem's goto labels, outermost last).
  enum class Undo { kFreeMem, kFreeRingConfig, kResetRss, kResetHeadersplit, kUnbind };
  std::unique_ptr<providers::dmabuf::NetdevNlSession> ys;
  std::optional<detail::RingConfig> ring_config;
  const auto cleanup = [&](Undo from) {
    switch (from) {
      case Undo::kUnbind:
        ys.reset();  // "Closing the netlink socket does an implicit unbind"
        [[fallthrough]];
      case Undo::kResetHeadersplit:
        ctl.restore_ring_config(*ring_config);
        [[fallthrough]];
      case Undo::kResetRss:
        ctl.reset_rss();
        [[fallthrough]];
      case Undo::kFreeRingConfig:
      case Undo::kFreeMem:
        (void)host.dmabufs().close(fd);
    }
  };

  ring_config = ctl.get_ring_config();
  if (!ring_config) {
    step("get ring config", false, 0, {});
    failed("Failed to get current ring configuration");
    cleanup(Undo::kFreeMem);
    return r;
  }

  // "Configure RSS to divert all traffic from our devmem queues"
  std::string ext;
  int err = ctl.configure_rss(q.start_queue, &ext);
  if (!step(strf("ethtool -X equal %d", q.start_queue), err == 0, err, ext)) {
    failed("rss error: " + describe(err, ext));
    cleanup(Undo::kFreeRingConfig);
    return r;
  }

  err = ctl.configure_headersplit(*ring_config, true, &ext);
  if (!step("header split on", err == 0, err, ext)) {
    failed("Failed to configure header split: " + describe(err, ext));
    cleanup(Undo::kResetRss);
    return r;
  }

  // (1) an allocated but unfilled queue array: entries without id and type.
  std::uint32_t id = 0;
  ys = ctl.bind_rx_queue(fd, std::vector<providers::dmabuf::QueueIdAttr>(static_cast<std::size_t>(q.num_queues)), &id,
                         &err, &ext);
  if (!step("bind-rx with an unfilled queue list must fail", ys == nullptr, err, ext)) {
    failed("Binding empty queues array should have failed");
    cleanup(Undo::kUnbind);
    return r;
  }

  // (2) tcp-data-split "unknown": the core's config is not ENABLED.
  err = ctl.configure_headersplit(*ring_config, false, &ext);
  if (!step("header split unknown", err == 0, err, ext)) {
    failed("Failed to configure header split: " + describe(err, ext));
    cleanup(Undo::kResetHeadersplit);
    return r;
  }
  ys = ctl.bind_rx_queue(fd, detail::create_queues(q.start_queue, q.num_queues), &id, &err, &ext);
  if (!step("bind-rx with header split off must fail", ys == nullptr, err, ext)) {
    failed("Configure dmabuf with header split off should have failed");
    cleanup(Undo::kUnbind);
    return r;
  }

  // (3) header split on: the bind must succeed.
  err = ctl.configure_headersplit(*ring_config, true, &ext);
  if (!step("header split on", err == 0, err, ext)) {
    failed("Failed to configure header split: " + describe(err, ext));
    cleanup(Undo::kResetHeadersplit);
    return r;
  }
  ys = ctl.bind_rx_queue(fd, detail::create_queues(q.start_queue, q.num_queues), &id, &err, &ext);
  if (!step(strf("bind-rx queues %d..%d", q.start_queue, q.start_queue + q.num_queues - 1), ys != nullptr, err, ext)) {
    failed("Failed to bind: " + describe(err, ext));
    cleanup(Undo::kResetHeadersplit);
    return r;
  }
  r.dmabuf_id = id;

  // (4) "Deactivating a bound queue should not be legal"
  const auto n = static_cast<std::uint32_t>(q.num_queues);
  err = ctl.check_changing_channels(n, n, &ext);
  if (!step(strf("channels -> %u while bound must fail", n), err != 0, err, ext)) {
    failed("Deactivating a bound queue should be illegal");
    cleanup(Undo::kUnbind);
    return r;
  }

  r.pass = true;
  log(std::string(kTestPrefix) + ": ok");
  cleanup(Undo::kUnbind);
  return r;
}

}  // namespace nicemu::ncdevmem
