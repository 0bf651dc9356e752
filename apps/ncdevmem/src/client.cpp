// Mode C: ncdevmem's do_client() as an event-driven program (see ncdevmem.hpp).
//
// Phases: setup (first step: bind-tx, the socket, SO_ZEROCOPY, connect) -> connecting (connect
// again says 0 once established) -> per line: sending (one devmem sendmsg) -> waiting for the
// completion (the error queue at every step, a timer at the deadline) -> done. The cleanup runs
// once, in ncdevmem's order: netlink session (unbind), socket, the dma-buf.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "control.hpp"
#include "nicemu/ncdevmem/ncdevmem.hpp"
#include "nicemu/netstack/socket/cmsg.hpp"
#include "nicemu/providers/dmabuf/dmabuf.hpp"

namespace nicemu::ncdevmem {

namespace so = netstack::socket;
namespace dm = providers::dmabuf;
using detail::describe;
using detail::strf;

struct DevmemClient::State {
  State(app::Host& host, const LogFn& log) : ctl(host, log) {}

  enum class Phase : std::uint8_t { kInit, kConnecting, kSending, kWaitCompletion, kDone } phase = Phase::kInit;
  detail::NicControl ctl;
  int mem_fd = -1;
  std::shared_ptr<dm::Dmabuf> mem;
  std::unique_ptr<dm::NetdevNlSession> ys;
  int socket_fd = -1;
  std::size_t line = 0;  // the next line to send (or whose completion is awaited)
  sim::TimePoint deadline{};
  bool cleaned_up = false;
};

DevmemClient::DevmemClient(app::Host& host, Options options, std::string name)
    : Program(host, std::move(options), std::move(name)) {
  s_ = std::make_unique<State>(host_, opt_.log);
}

DevmemClient::~DevmemClient() {
  if (!s_->cleaned_up) cleanup(last_now_);
}

std::optional<sim::TimePoint> DevmemClient::wake_at() const {
  switch (s_->phase) {
    case State::Phase::kInit:
      return sim::TimePoint::zero();  // set up at once
    case State::Phase::kWaitCompletion:
      return s_->deadline;
    default:
      return std::nullopt;
  }
}

void DevmemClient::stop(sim::TimePoint now) {
  last_now_ = now;
  if (!done()) finish(now, std::string("stopped before every line was sent and completed"));
}

app::StepWork DevmemClient::step(sim::TimePoint now) {
  app::StepWork w;
  last_now_ = now;
  State& s = *s_;
  if (s.phase == State::Phase::kInit) setup(now, w);
  if (s.phase == State::Phase::kConnecting) {
    ++w.socket_calls;
    const so::SockAddr server_sin{*opt_.server_ip, opt_.port};
    const int r = host_.sockets().connect(s.socket_fd, server_sin, now);  // 0 once established
    if (r == -EALREADY || r == -EINPROGRESS) return w;
    if (r < 0) {
      finish(now, "connect: " + describe(r));
      return w;
    }
    s.phase = State::Phase::kSending;
  }
  send_lines(now, w);
  return w;
}

void DevmemClient::setup(sim::TimePoint now, app::StepWork& w) {
  State& s = *s_;
  log(strf("using ifindex=%d", host_.nic().ifindex()));
  const detail::Queues q = detail::resolve_queues(host_, opt_, Mode::kClient, opt_.log);
  if (!q.error.empty()) return finish(now, q.error);

  s.mem_fd = host_.dmabufs().create(opt_.dmabuf_pages * kPageSize, opt_.dmabuf_placement);
  if (s.mem_fd < 0) return finish(now, "Failed to allocate memory buffer: " + describe(s.mem_fd));
  if (const int err = host_.dmabufs().get(s.mem_fd, &s.mem); err < 0) {
    return finish(now, "Failed to map the memory buffer: " + describe(err));
  }

  auto& t = host_.sockets();
  w.socket_calls += 3;
  s.socket_fd =
      t.socket(opt_.server_ip->is_v6() ? so::kAF_INET6 : so::kAF_INET, so::kSOCK_STREAM | so::kSOCK_NONBLOCK, 0);
  if (s.socket_fd < 0) return finish(now, "create socket: " + describe(s.socket_fd));
  if (const int r = t.setsockopt(s.socket_fd, so::kSOL_SOCKET, so::kSO_REUSEADDR, 1, now); r < 0) {
    return finish(now, "SO_REUSEADDR failed: " + describe(r));
  }
  // SO_BINDTODEVICE(ifname): not modelled; the host has one NIC, so every route leaves by it.

  std::uint32_t id = 0;
  int err = 0;
  std::string ext;
  s.ys = s.ctl.bind_tx_queue(s.mem_fd, &id, &err, &ext);
  if (!s.ys) return finish(now, "Failed to bind: " + describe(err, ext));
  tx_dmabuf_id_ = id;

  if (opt_.client_ip) {
    if (const int r = t.bind(s.socket_fd, so::SockAddr{*opt_.client_ip, opt_.port}); r < 0) {
      return finish(now, "bind: " + describe(r));
    }
  }
  if (const int r = t.setsockopt(s.socket_fd, so::kSOL_SOCKET, so::kSO_ZEROCOPY, 1, now); r < 0) {
    return finish(now, "set sock opt: " + describe(r));
  }
  log(strf("Connect to %s %u (via %s)", opt_.server_ip->to_string().c_str(), opt_.port, s.ctl.ifname().c_str()));
  const int r = t.connect(s.socket_fd, so::SockAddr{*opt_.server_ip, opt_.port}, now);
  if (r != 0 && r != -EINPROGRESS) return finish(now, "connect: " + describe(r));
  s.phase = r == 0 ? State::Phase::kSending : State::Phase::kConnecting;
}

void DevmemClient::send_lines(sim::TimePoint now, app::StepWork& w) {
  State& s = *s_;
  for (;;) {
    if (s.phase == State::Phase::kSending) {
      if (s.line == opt_.tx_lines.size()) {
        log(std::string(kTestPrefix) + ": tx ok");
        return finish(now, std::nullopt);
      }
      if (!send_line(now, w)) return;
    } else if (s.phase == State::Phase::kWaitCompletion) {
      if (!wait_completion(now, w)) return;
    } else {
      return;
    }
  }
}

bool DevmemClient::send_line(sim::TimePoint now, app::StepWork& w) {
  State& s = *s_;
  const std::string& line = opt_.tx_lines[s.line];
  const std::size_t line_size = line.size();
  if (line_size == 0) {  // getline() never reads an empty line; nothing to send
    ++s.line;
    return true;
  }
  // iov_base is an offset into the dma-buf: the line sits at offset 0.
  std::vector<std::span<const std::byte>> iov;
  if (opt_.max_chunk != 0) {
    const std::size_t n = (line_size + opt_.max_chunk - 1) / opt_.max_chunk;
    if (n > kMaxIov) {
      finish(now, strf("can't partition %zu bytes into maximum of %zu chunks", line_size, kMaxIov));
      return false;
    }
    for (std::size_t i = 0; i < n; ++i) {
      iov.push_back(so::devmem_iov(i * opt_.max_chunk, std::min(opt_.max_chunk, line_size - i * opt_.max_chunk)));
    }
  } else {
    iov.push_back(so::devmem_iov(0, line_size));
  }
  if (line_size > s.mem->size()) {
    finish(now, strf("line of %zu bytes does not fit the %zu-byte dma-buf", line_size, s.mem->size()));
    return false;
  }
  // memcpy_to_device(): write through the mapping inside a DMA_BUF_IOCTL_SYNC bracket.
  (void)s.mem->sync(dm::kDmaBufSyncStart | dm::kDmaBufSyncWrite);
  std::memcpy(s.mem->map_writable().data(), line.data(), line_size);
  (void)s.mem->sync(dm::kDmaBufSyncEnd | dm::kDmaBufSyncWrite);

  std::array<std::byte, so::cmsg_space(sizeof(std::uint32_t))> control{};
  so::CmsgWriter cw(control);
  const std::uint32_t ddmabuf = tx_dmabuf_id_;
  cw.put(so::kSOL_SOCKET, so::kSCM_DEVMEM_DMABUF, std::as_bytes(std::span(&ddmabuf, 1)));
  ++w.socket_calls;
  const std::int64_t ret =
      host_.sockets().sendmsg(s.socket_fd, so::SendMsgHdr{nullptr, iov, control}, so::kMSG_ZEROCOPY, now);
  if (ret == -EAGAIN) return false;  // a blocking sendmsg would wait for room: so does this
  if (ret < 0) {
    finish(now, "Failed sendmsg: " + describe(static_cast<int>(ret)));
    return false;
  }
  log(strf("sendmsg_ret=%lld", static_cast<long long>(ret)));
  if (static_cast<std::size_t>(ret) != line_size) {
    finish(now, strf("Did not send all bytes %lld vs %zu", static_cast<long long>(ret), line_size));
    return false;
  }
  result_.counters.bytes_sent += line_size;
  ++result_.counters.lines_sent;
  s.phase = State::Phase::kWaitCompletion;
  s.deadline = now + opt_.completion_wait;
  return true;
}

// wait_compl(): read the error queue until a zero-copy completion comes or the wait is over.
bool DevmemClient::wait_completion(sim::TimePoint now, app::StepWork& w) {
  State& s = *s_;
  for (;;) {
    std::array<std::byte, so::cmsg_space(100)> control{};  // char control[CMSG_SPACE(100)]
    so::RecvMsgHdr msg{nullptr, {}, 0, control, 0};
    ++w.socket_calls;
    const std::int64_t ret = host_.sockets().recvmsg(s.socket_fd, msg, so::kMSG_ERRQUEUE, now);
    if (ret == -EAGAIN) {
      if (now >= s.deadline) finish(now, "did not receive tx completion");
      return false;
    }
    if (ret < 0) {
      finish(now, "recvmsg(MSG_ERRQUEUE): " + describe(static_cast<int>(ret)));
      return false;
    }
    if ((msg.flags & so::kMSG_CTRUNC) != 0) {
      finish(now, "MSG_CTRUNC");
      return false;
    }
    std::optional<std::string> failure;
    bool completed = false;
    so::for_each_cmsg(std::span<const std::byte>(control).first(std::min(msg.controllen, control.size())),
                      [&](const so::CmsgView& cm) {
                        if (completed || failure) return;
                        const bool recverr = (cm.level == so::kSOL_IP && cm.type == so::kIP_RECVERR) ||
                                             (cm.level == so::kSOL_IPV6 && cm.type == so::kIPV6_RECVERR);
                        if (!recverr) return;
                        so::SockExtendedErr serr;
                        if (!cm.as(&serr)) {
                          failure = "IP_RECVERR shorter than struct sock_extended_err";
                          return;
                        }
                        if (serr.ee_origin != so::kSO_EE_ORIGIN_ZEROCOPY) {
                          failure = strf("wrong origin %u", serr.ee_origin);
                          return;
                        }
                        if (serr.ee_errno != 0) {
                          failure = strf("wrong errno %u", serr.ee_errno);
                          return;
                        }
                        log(strf("tx complete [%u,%u]", serr.ee_info, serr.ee_data));
                        ++result_.counters.completions;
                        if (serr.ee_code == so::kSO_EE_CODE_ZEROCOPY_COPIED) ++result_.counters.completions_copied;
                        completed = true;
                      });
    if (failure) {
      finish(now, *failure);
      return false;
    }
    if (completed) {
      ++s.line;
      s.phase = State::Phase::kSending;
      return true;
    }
  }
}

void DevmemClient::finish(sim::TimePoint now, std::optional<std::string> failure) {
  if (failure) {
    fail(now, std::move(*failure));
  } else {
    pass(now);
  }
  cleanup(now);
}

void DevmemClient::cleanup(sim::TimePoint now) {
  State& s = *s_;
  if (s.cleaned_up) return;
  s.cleaned_up = true;
  s.phase = State::Phase::kDone;
  s.ys.reset();  // ynl_sock_destroy(): unbinds
  if (s.socket_fd >= 0) (void)host_.sockets().close(s.socket_fd, now);
  s.socket_fd = -1;
  s.mem.reset();
  if (s.mem_fd >= 0) (void)host_.dmabufs().close(s.mem_fd);
  s.mem_fd = -1;
}

}  // namespace nicemu::ncdevmem
