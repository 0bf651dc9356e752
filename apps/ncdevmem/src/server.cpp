// Mode B: ncdevmem's do_server() as an event-driven program (see ncdevmem.hpp).
//
// Phases: setup (first step: the control operations, then the listener) -> accepting ->
// receiving (recvmsg(MSG_SOCK_DEVMEM) until EAGAIN at every step) -> done. Whatever ends the
// run (the client's EOF, a failed check, stop(), the destructor) runs the cleanup once, in
// ncdevmem's order: client socket, listener, netlink session (unbind), flow rules, RSS, rings,
// the dma-buf.
#include <array>
#include <cerrno>
#include <cstring>

#include "control.hpp"
#include "nicemu/base/errno.hpp"
#include "nicemu/ncdevmem/ncdevmem.hpp"
#include "nicemu/netstack/socket/cmsg.hpp"
#include "nicemu/netstack/tcp/devmem.hpp"
#include "nicemu/providers/dmabuf/dmabuf.hpp"

namespace nicemu::ncdevmem {

namespace so = netstack::socket;
namespace dm = providers::dmabuf;
namespace tcp = netstack::tcp;
using detail::describe;
using detail::strf;

struct DevmemServer::State {
  State(app::Host& host, const LogFn& log, std::uint64_t modulus)
      : ctl(host, log), iobuf(kServerIovBytes), control(kServerControlBytes), seed(modulus) {}

  enum class Phase : std::uint8_t { kInit, kAccepting, kReceiving, kDone } phase = Phase::kInit;
  detail::NicControl ctl;
  int mem_fd = -1;
  std::shared_ptr<dm::Dmabuf> mem;
  std::optional<detail::RingConfig> ring_config;
  bool headersplit_set = false;
  bool rss_set = false;
  std::unique_ptr<dm::NetdevNlSession> ys;
  int socket_fd = -1;
  int client_fd = -1;
  std::vector<std::byte> iobuf;
  std::vector<std::byte> control;
  PatternSeed seed;
  bool cleaned_up = false;
};

DevmemServer::DevmemServer(app::Host& host, Options options, std::string name)
    : Program(host, std::move(options), std::move(name)) {
  s_ = std::make_unique<State>(host_, opt_.log, opt_.validation);
}

DevmemServer::~DevmemServer() {
  if (!s_->cleaned_up) cleanup(last_now_);
}

const std::vector<std::uint32_t>& DevmemServer::flow_rules() const { return s_->ctl.flow_rules(); }

std::optional<sim::TimePoint> DevmemServer::wake_at() const {
  if (s_->phase == State::Phase::kInit) return sim::TimePoint::zero();  // set up at once
  return std::nullopt;
}

void DevmemServer::stop(sim::TimePoint now) {
  last_now_ = now;
  if (!done()) finish(now, std::string("stopped before the client exited"));
}

app::StepWork DevmemServer::step(sim::TimePoint now) {
  app::StepWork w;
  last_now_ = now;
  switch (s_->phase) {
    case State::Phase::kInit:
      setup(now, w);
      if (s_->phase != State::Phase::kAccepting) break;
      [[fallthrough]];
    case State::Phase::kAccepting: {
      so::SockAddr peer;
      ++w.socket_calls;
      const int fd = host_.sockets().accept4(s_->socket_fd, &peer, so::kSOCK_NONBLOCK);
      if (fd == -EAGAIN) break;
      if (fd < 0) {
        finish(now, "Failed to accept: " + describe(fd));
        break;
      }
      s_->client_fd = fd;
      log("Got connection from " + app::format_endpoint(peer));
      s_->phase = State::Phase::kReceiving;
      [[fallthrough]];
    }
    case State::Phase::kReceiving:
      receive(now, w);
      break;
    case State::Phase::kDone:
      break;
  }
  return w;
}

void DevmemServer::setup(sim::TimePoint now, app::StepWork& w) {
  State& s = *s_;
  log(strf("using ifindex=%d", host_.nic().ifindex()));
  const detail::Queues q = detail::resolve_queues(host_, opt_, Mode::kServer, opt_.log);
  if (!q.error.empty()) return finish(now, q.error);
  start_queue_ = q.start_queue;
  num_queues_ = q.num_queues;

  // main(): mem = provider->alloc(getpagesize() * NUM_PAGES)
  s.mem_fd = host_.dmabufs().create(opt_.dmabuf_pages * kPageSize, opt_.dmabuf_placement);
  if (s.mem_fd < 0) return finish(now, "Failed to allocate memory buffer: " + describe(s.mem_fd));
  if (const int err = host_.dmabufs().get(s.mem_fd, &s.mem); err < 0) {
    return finish(now, "Failed to map the memory buffer: " + describe(err));
  }

  s.ring_config = s.ctl.get_ring_config();
  if (!s.ring_config) return finish(now, "Failed to get current ring configuration");
  std::string ext;
  int err = s.ctl.configure_headersplit(*s.ring_config, true, &ext);
  if (err != 0) return finish(now, "Failed to enable TCP header split: " + describe(err, ext));
  s.headersplit_set = true;
  // "Configure RSS to divert all traffic from our devmem queues"
  err = s.ctl.configure_rss(start_queue_, &ext);
  if (err != 0) return finish(now, "Failed to configure rss: " + describe(err, ext));
  s.rss_set = true;
  // "Flow steer our devmem flows to start_queue"
  if (opt_.flow_steering) {
    if (s.ctl.configure_flow_steering(opt_, start_queue_) != 0) return finish(now, "Failed to configure flow steering");
  } else {
    log("flow steering left out (test hook): the flow lands on an RSS queue");
  }

  std::uint32_t id = 0;
  s.ys = s.ctl.bind_rx_queue(s.mem_fd, detail::create_queues(start_queue_, num_queues_), &id, &err, &ext);
  if (!s.ys) return finish(now, "Failed to bind: " + describe(err, ext));
  dmabuf_id_ = id;

  auto& t = host_.sockets();
  const so::SockAddr server_sin{*opt_.server_ip, opt_.port};
  w.socket_calls += 4;
  s.socket_fd =
      t.socket(opt_.server_ip->is_v6() ? so::kAF_INET6 : so::kAF_INET, so::kSOCK_STREAM | so::kSOCK_NONBLOCK, 0);
  if (s.socket_fd < 0) return finish(now, "Failed to create socket: " + describe(s.socket_fd));
  // enable_reuseaddr(): SO_REUSEPORT is not modelled by the socket layer; SO_REUSEADDR is.
  if (const int r = t.setsockopt(s.socket_fd, so::kSOL_SOCKET, so::kSO_REUSEADDR, 1, now); r < 0) {
    return finish(now, "SO_REUSEADDR failed: " + describe(r));
  }
  log("binding to address " + app::format_endpoint(server_sin));
  if (const int r = t.bind(s.socket_fd, server_sin); r < 0) return finish(now, "Failed to bind: " + describe(r));
  if (const int r = t.listen(s.socket_fd, 1); r < 0) return finish(now, "Failed to listen: " + describe(r));
  log("Waiting for connection on " + app::format_endpoint(server_sin));
  s.phase = State::Phase::kAccepting;
}

void DevmemServer::receive(sim::TimePoint now, app::StepWork& w) {
  State& s = *s_;
  auto& t = host_.sockets();
  while (s.phase == State::Phase::kReceiving) {
    const std::array<std::span<std::byte>, 1> iov{std::span<std::byte>(s.iobuf)};
    so::RecvMsgHdr msg{nullptr, iov, 0, s.control, 0};
    ++w.socket_calls;
    const std::int64_t ret = t.recvmsg(s.client_fd, msg, so::kMSG_SOCK_DEVMEM, now);
    if (opt_.verbose && ret != -EAGAIN) log(strf("recvmsg ret=%lld", static_cast<long long>(ret)));
    if (ret == -EAGAIN) return;  // the next network event steps us again
    if (ret == -EFAULT) return finish(now, "received EFAULT, won't recover");
    if (ret < 0) {
      // ncdevmem: perror("recvmsg") and try again.
      ++result_.counters.recvmsg_errors;
      log("recvmsg: " + describe(static_cast<int>(ret)));
      return;
    }
    if (ret == 0) {
      log("client exited");
      return finish(now, std::nullopt);
    }
    ++result_.counters.recvmsg_calls;
    result_.counters.bytes_received += static_cast<std::uint64_t>(ret);
    if (!handle_message(ret, msg.controllen, now, w)) return;
    if (opt_.verbose) {
      log(strf("total_received=%llu", static_cast<unsigned long long>(result_.counters.dmabuf_bytes)));
    }
  }
}

// What one recvmsg's control messages said so far.
struct DevmemServer::MessageScan {
  std::size_t total = 0;   // bytes recvmsg returned
  std::size_t iov_at = 0;  // SCM_DEVMEM_LINEAR bytes sit in the iovec in stream order
  bool is_devmem = false;  // a devmem cmsg was seen
  std::optional<std::string> failure;
};

bool DevmemServer::handle_message(std::int64_t n, std::size_t controllen, sim::TimePoint now, app::StepWork& w) {
  State& s = *s_;
  MessageScan m;
  m.total = static_cast<std::size_t>(n);
  const auto control = std::span<const std::byte>(s.control).first(std::min(controllen, s.control.size()));
  so::for_each_cmsg(control, [&](const so::CmsgView& cm) {
    if (!m.failure) handle_cmsg(cm, m, now, w);
  });
  if (m.failure) {
    finish(now, *m.failure);
    return false;
  }
  if (!m.is_devmem) {
    // Readable bytes (a queue without the binding): copied into the iovec, no devmem cmsg.
    finish(now,
           strf("flow steering error (recvmsg returned %lld bytes without a devmem cmsg)", static_cast<long long>(n)));
    return false;
  }
  return true;
}

void DevmemServer::handle_cmsg(const so::CmsgView& cm, MessageScan& m, sim::TimePoint now, app::StepWork& w) {
  State& s = *s_;
  Counters& c = result_.counters;
  if (cm.level != so::kSOL_SOCKET || (cm.type != so::kSCM_DEVMEM_DMABUF && cm.type != so::kSCM_DEVMEM_LINEAR)) {
    log("skipping non-devmem cmsg");
    ++c.skipped_cmsgs;
    return;
  }
  tcp::DmabufCmsg d;
  if (!cm.as(&d)) {
    m.failure =
        strf("devmem cmsg of %llu bytes is shorter than struct dmabuf_cmsg", static_cast<unsigned long long>(cm.len));
    return;
  }
  m.is_devmem = true;
  if (cm.type == so::kSCM_DEVMEM_LINEAR) {
    if (opt_.verbose) log(strf("SCM_DEVMEM_LINEAR. dmabuf_cmsg->frag_size=%u", d.frag_size));
    if (m.iov_at + d.frag_size > m.total) {
      m.failure = strf("SCM_DEVMEM_LINEAR of %u bytes past the %zu bytes recvmsg returned", d.frag_size, m.total);
      return;
    }
    c.linear_bytes += d.frag_size;
    w.bytes_copied += d.frag_size;
    // Departure: ncdevmem leaves these bytes unchecked (a TODO); they are part of the stream.
    if (opt_.validation != 0 && !validate(std::span<const std::byte>(s.iobuf).subspan(m.iov_at, d.frag_size))) {
      m.failure = "validation failed";
      return;
    }
    m.iov_at += d.frag_size;
    return;
  }
  c.dmabuf_bytes += d.frag_size;
  ++c.frags;
  if (opt_.verbose) {
    log(
        strf("received frag_page=%llu, in_page_offset=%llu, frag_offset=%llu, frag_size=%u, token=%u, "
             "total_received=%llu, dmabuf_id=%u",
             static_cast<unsigned long long>(d.frag_offset / kPageSize),
             static_cast<unsigned long long>(d.frag_offset % kPageSize), static_cast<unsigned long long>(d.frag_offset),
             d.frag_size, d.frag_token, static_cast<unsigned long long>(c.dmabuf_bytes), d.dmabuf_id));
  }
  if (d.dmabuf_id != dmabuf_id_) {
    m.failure =
        strf("received on wrong dmabuf_id: flow steering error (dmabuf_id %u, bound %u)", d.dmabuf_id, dmabuf_id_);
    return;
  }
  if (d.frag_size % kPageSize != 0) {
    ++c.non_page_aligned_frags;
  } else {
    ++c.page_aligned_frags;
  }
  if (d.frag_offset > s.mem->size() || d.frag_size > s.mem->size() - d.frag_offset) {
    m.failure = strf("frag [%llu, +%u) outside the %zu-byte dma-buf", static_cast<unsigned long long>(d.frag_offset),
                     d.frag_size, s.mem->size());
    return;
  }
  // memcpy_from_device(): read through the mapping inside a DMA_BUF_IOCTL_SYNC bracket.
  // Departure: ncdevmem passes DMA_BUF_SYNC_START without READ (EINVAL, unchecked).
  if (const int e = s.mem->sync(dm::kDmaBufSyncStart | dm::kDmaBufSyncRead); e != 0) {
    m.failure = "DMA_BUF_IOCTL_SYNC start: " + describe(e);
    return;
  }
  const auto frag = s.mem->map().subspan(static_cast<std::size_t>(d.frag_offset), d.frag_size);
  const bool valid = opt_.validation == 0 || validate(frag);
  if (const int e = s.mem->sync(dm::kDmaBufSyncEnd | dm::kDmaBufSyncRead); e != 0) {
    m.failure = "DMA_BUF_IOCTL_SYNC end: " + describe(e);
    return;
  }
  if (!valid) {
    m.failure = "validation failed";
    return;
  }
  const tcp::DmabufToken token{d.frag_token, 1};
  ++w.socket_calls;
  const int ret = host_.sockets().setsockopt(s.client_fd, so::kSOL_SOCKET, so::kSO_DEVMEM_DONTNEED,
                                             std::as_bytes(std::span(&token, 1)), now);
  if (ret > 0) c.tokens_freed += static_cast<std::uint64_t>(ret);
  if (ret != 1) m.failure = "SO_DEVMEM_DONTNEED not enough tokens: returned " + describe(ret);
}

// validate_buffer(): the seed runs across calls; more than 20 wrong bytes in the run fail it.
bool DevmemServer::validate(std::span<const std::byte> bytes) {
  Counters& c = result_.counters;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::byte expected = s_->seed.next();
    ++c.validated_bytes;
    if (bytes[i] == expected) continue;
    ++c.validation_errors;
    log(strf("Failed validation: expected=%u, actual=%u, index=%zu", static_cast<unsigned>(expected),
             static_cast<unsigned>(bytes[i]), i));
    if (c.validation_errors > kMaxValidationErrors) return false;
  }
  return true;
}

void DevmemServer::finish(sim::TimePoint now, std::optional<std::string> failure) {
  if (failure) {
    fail(now, std::move(*failure));
  } else {
    const Counters& c = result_.counters;
    log(std::string(kTestPrefix) + ": ok");
    log(strf("page_aligned_frags=%llu, non_page_aligned_frags=%llu",
             static_cast<unsigned long long>(c.page_aligned_frags),
             static_cast<unsigned long long>(c.non_page_aligned_frags)));
    pass(now);
  }
  cleanup(now);
}

void DevmemServer::cleanup(sim::TimePoint now) {
  State& s = *s_;
  if (s.cleaned_up) return;
  s.cleaned_up = true;
  s.phase = State::Phase::kDone;
  auto& t = host_.sockets();
  if (s.client_fd >= 0) (void)t.close(s.client_fd, now);
  if (s.socket_fd >= 0) (void)t.close(s.socket_fd, now);
  s.client_fd = s.socket_fd = -1;
  s.ys.reset();  // ynl_sock_destroy(): unbinds
  s.ctl.reset_flow_steering();
  if (s.rss_set) s.ctl.reset_rss();
  if (s.headersplit_set) s.ctl.restore_ring_config(*s.ring_config);
  s.mem.reset();
  if (s.mem_fd >= 0) (void)host_.dmabufs().close(s.mem_fd);
  s.mem_fd = -1;
}

}  // namespace nicemu::ncdevmem
