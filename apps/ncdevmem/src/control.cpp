// ncdevmem's control operations on one host's NIC (see control.hpp).
#include "control.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "nicemu/base/errno.hpp"
#include "nicemu/nic/hw/ntuple.hpp"

namespace nicemu::ncdevmem::detail {

namespace core = netstack::core;
namespace dm = providers::dmabuf;

std::string strf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

std::string describe(int err, const std::string& extack) {
  std::string s = err < 0 ? "-" + base::errno_name(err) : std::to_string(err);
  if (!extack.empty()) s += " (" + extack + ")";
  return s;
}

namespace {

const char* tcp_data_split_str(core::TcpDataSplit v) {
  switch (v) {
    case core::TcpDataSplit::kUnknown:
      return "unknown";
    case core::TcpDataSplit::kDisabled:
      return "disabled";
    case core::TcpDataSplit::kEnabled:
      return "enabled";
  }
  return "?";
}


std::array<std::uint8_t, 16> full_mask(bool v6) {
  std::array<std::uint8_t, 16> m{};
  std::fill(m.begin(), m.begin() + (v6 ? 16 : 4), std::uint8_t{0xff});
  return m;
}

}  // namespace

Queues resolve_queues(app::Host& host, const Options& o, Mode mode, const LogFn& log) {
  NicControl ctl(host, log);
  Queues q{o.start_queue, o.num_queues, {}};
  if (mode == Mode::kBindTests) {
    if (q.start_queue < 0 && q.num_queues < 0) {
      const int n = ctl.rxq_num();
      if (n < 0) {
        q.error = "couldn't detect number of queues";
        return q;
      }
      if (n < 2) {
        q.error = strf("number of device queues is too low (%d)", n);
        return q;
      }
      // "make sure can bind to multiple queues"
      q.start_queue = n / 2;
      q.num_queues = n / 2;
    }
    if (q.start_queue < 0 || q.num_queues < 0) q.error = "Both -t and -q are required";
    return q;
  }
  if (q.start_queue < 0 && q.num_queues < 0) {
    const int n = ctl.rxq_num();
    if (n < 2) {
      q.error = strf("number of device queues is too low (%d)", n);
      return q;
    }
    q.num_queues = 1;
    q.start_queue = n - q.num_queues;
    if (log) log(strf("using queues %d..%d", q.start_queue, q.start_queue + q.num_queues));
  }
  if (q.start_queue < 0) {
    q.error = "Missing -t argument";
  } else if (q.num_queues < 0) {
    q.error = "Missing -q argument";
  } else if (!o.server_ip) {
    q.error = "Missing -s argument";
  } else if (o.port == 0) {
    q.error = "Missing -p argument";
  }
  return q;
}

std::vector<dm::QueueIdAttr> create_queues(int start, int num) {
  std::vector<dm::QueueIdAttr> q;
  for (int i = 0; i < num; ++i) q.push_back({static_cast<std::uint32_t>(start + i), dm::kNetdevQueueTypeRx});
  return q;
}

int NicControl::rxq_num() {
  core::EthtoolChannels ch;
  const int err = core::ethtool_get_channels(host_.nic(), ch);
  if (err < 0) return err;
  return static_cast<int>(ch.rx_count + ch.combined_count);
}

std::optional<RingConfig> NicControl::get_ring_config() {
  RingConfig c;
  if (core::ethtool_get_rings(host_.nic(), c.rings) < 0) return std::nullopt;
  const core::EthtoolOps* ops = host_.nic().ethtool_ops();
  c.hds_thresh_present = ops != nullptr && (ops->supported_ring_params() & core::kRingUseHdsThrs) != 0;
  return c;
}

void NicControl::restore_ring_config(const RingConfig& config) {
  core::RingsRequest req;
  req.tcp_data_split = core::TcpDataSplit::kUnknown;
  if (config.hds_thresh_present) req.hds_thresh = config.rings.hds_thresh;
  core::Extack ext;
  int ret = core::ethtool_set_rings(host_.nic(), req, &ext);
  if (ret < 0) log("YNL restoring HDS cfg: " + describe(ret, ext.msg));
  core::EthtoolRingParam now;
  if (core::ethtool_get_rings(host_.nic(), now) < 0) return;
  // "use explicit value if UKNOWN didn't give us the previous"
  if (now.tcp_data_split != config.rings.tcp_data_split) {
    req.tcp_data_split = config.rings.tcp_data_split;
    ext = {};
    ret = core::ethtool_set_rings(host_.nic(), req, &ext);
    if (ret < 0) log("YNL restoring expl HDS cfg: " + describe(ret, ext.msg));
  }
}

int NicControl::configure_headersplit(const RingConfig& old, bool on, std::string* extack) {
  core::RingsRequest req;
  if (on) {
    req.tcp_data_split = core::TcpDataSplit::kEnabled;
    if (old.hds_thresh_present) req.hds_thresh = 0;
  } else {
    req.tcp_data_split = core::TcpDataSplit::kUnknown;
  }
  core::Extack ext;
  const int ret = core::ethtool_set_rings(host_.nic(), req, &ext);
  if (extack != nullptr) *extack = ext.msg;
  if (ret < 0) {
    log("YNL failed: " + describe(ret, ext.msg));
    return ret;
  }
  core::EthtoolRingParam now;
  if (core::ethtool_get_rings(host_.nic(), now) == 0) {
    log(strf("TCP header split: %s", tcp_data_split_str(now.tcp_data_split)));
  }
  return 0;
}

int NicControl::configure_rss(int start_queue, std::string* extack) {
  log(strf("Running: ethtool -X %s equal %d", ifname().c_str(), start_queue));
  // ethtool(8) -X equal N: reads the table size, fills every entry with i % N (N >= 1).
  if (start_queue <= 0) {
    if (extack != nullptr) *extack = "equal needs at least one queue";
    return -EINVAL;
  }
  core::EthtoolRss cur;
  int ret = core::ethtool_get_rss(host_.nic(), 0, cur);
  if (ret < 0) return ret;
  core::RssRequest req;
  req.context = 0;
  std::vector<std::uint32_t> indir(cur.indir.size());
  for (std::size_t i = 0; i < indir.size(); ++i) {
    indir[i] = static_cast<std::uint32_t>(i % static_cast<std::size_t>(start_queue));
  }
  req.indir = std::move(indir);
  core::Extack ext;
  ret = core::ethtool_set_rss(host_.nic(), req, &ext);
  if (extack != nullptr) *extack = ext.msg;
  if (ret < 0) log("ethtool -X: " + describe(ret, ext.msg));
  return ret;
}

void NicControl::reset_rss() {
  log(strf("Running: ethtool -X %s default", ifname().c_str()));
  core::RssRequest req;
  req.context = 0;
  req.indir = std::vector<std::uint32_t>{};  // kernel: an empty table resets to the default spread
  core::Extack ext;
  if (const int ret = core::ethtool_set_rss(host_.nic(), req, &ext); ret < 0) {
    log("ethtool -X default: " + describe(ret, ext.msg));
  }
}

int NicControl::check_changing_channels(std::uint32_t rx, std::uint32_t tx, std::string* extack) {
  log(strf("setting channel count rx:%u tx:%u", rx, tx));
  core::EthtoolChannels chan;
  if (const int err = core::ethtool_get_channels(host_.nic(), chan); err < 0) {
    log("YNL get channels: " + describe(err));
    return err;
  }
  // What a channels reply carries (channels_fill_reply: a pair only where its maximum is nonzero).
  const bool rx_present = chan.max_rx != 0;
  const bool tx_present = chan.max_tx != 0;
  const bool combined_present = chan.max_combined != 0;
  core::ChannelsRequest req;
  if (combined_present) {
    if (rx_present || tx_present) {
      req.rx_count = 0;
      req.tx_count = 0;
    }
    if (rx == tx) {
      req.combined_count = rx;
    } else if (rx > tx) {
      req.combined_count = tx;
      req.rx_count = rx - tx;
    } else {
      req.combined_count = rx;
      req.tx_count = tx - rx;
    }
  } else if (rx_present) {
    req.rx_count = rx;
    req.tx_count = tx;
  } else {
    log("Error: device has neither combined nor rx channels");
    return -EOPNOTSUPP;
  }
  core::Extack ext;
  int ret = core::ethtool_set_channels(host_.nic(), req, &ext);
  if (extack != nullptr) *extack = ext.msg;
  if (ret != 0) {
    log("YNL set channels: " + describe(ret, ext.msg));
    return ret;
  }
  // "We were expecting a failure, go back to previous settings"
  core::ChannelsRequest back;
  back.combined_count = chan.combined_count;
  back.rx_count = chan.rx_count;
  back.tx_count = chan.tx_count;
  core::Extack ext2;
  if (const int r2 = core::ethtool_set_channels(host_.nic(), back, &ext2); r2 != 0) {
    log("YNL un-setting channels: " + describe(r2, ext2.msg));
  }
  return 0;
}

int NicControl::add_flow(const core::NtupleRule& rule, const std::string& text) {
  log("Running: ethtool -N " + ifname() + " " + text);
  core::Extack ext;
  const int loc = core::ethtool_set_ntuple_rule(host_.nic(), rule, &ext);
  if (loc < 0) {
    log("ethtool -N: " + describe(loc, ext.msg));
    return loc;
  }
  log(strf("Added flow rule with ID %d", loc));
  ntuple_ids_.push_back(static_cast<std::uint32_t>(loc));
  return loc;
}

int NicControl::configure_flow_steering(const Options& o, int start_queue) {
  const bool v6 = o.server_ip->is_v6();
  const char* type = v6 ? "tcp6" : "tcp4";
  core::NtupleRule rule;
  rule.flow_type = v6 ? core::FlowType::kTcp6 : core::FlowType::kTcp4;
  rule.dst_ip = o.server_ip->bytes();
  rule.dst_ip_mask = full_mask(v6);
  rule.dst_port = o.port;
  rule.dst_port_mask = 0xffff;
  rule.action = core::NtupleRule::Action::kQueue;
  rule.queue = static_cast<std::uint32_t>(start_queue);
  rule.location = nic::hw::kRxClsLocAny;  // ethtool -N without `loc`
  // "Try configure 5-tuple" (ncdevmem uses the port as the source port too: the peer binds it).
  if (o.client_ip && o.client_ip->is_v6() == v6) {
    core::NtupleRule five = rule;
    five.src_ip = o.client_ip->bytes();
    five.src_ip_mask = full_mask(v6);
    five.src_port = o.port;
    five.src_port_mask = 0xffff;
    const std::string text =
        strf("flow-type %s src-ip %s dst-ip %s src-port %u dst-port %u queue %d", type,
             o.client_ip->to_string().c_str(), o.server_ip->to_string().c_str(), o.port, o.port, start_queue);
    if (add_flow(five, text) >= 0) return 0;
  }
  // "If that fails, try configure 3-tuple"
  const std::string text =
      strf("flow-type %s dst-ip %s dst-port %u queue %d", type, o.server_ip->to_string().c_str(), o.port, start_queue);
  return add_flow(rule, text) >= 0 ? 0 : -1;
}

void NicControl::reset_flow_steering() {
  for (const std::uint32_t id : ntuple_ids_) {
    log(strf("Running: ethtool -N %s delete %u", ifname().c_str(), id));
    if (const int err = core::ethtool_del_ntuple_rule(host_.nic(), id); err < 0) {
      log("ethtool -N delete: " + describe(err));
    }
  }
  ntuple_ids_.clear();
}

std::unique_ptr<dm::NetdevNlSession> NicControl::bind_rx_queue(int dmabuf_fd,
                                                               const std::vector<dm::QueueIdAttr>& queues,
                                                               std::uint32_t* id, int* err, std::string* extack) {
  auto ys = std::make_unique<dm::NetdevNlSession>(host_.devmem(), host_.netns());
  dm::BindRxRequest req;
  req.ifindex = ifindex();
  req.fd = static_cast<std::uint32_t>(dmabuf_fd);
  req.queues = queues;
  core::Extack ext;
  const int r = ys->bind_rx(req, &ext);
  if (extack != nullptr) *extack = ext.msg;
  if (r < 0) {
    *err = r;
    log("netdev_bind_rx: " + base::errno_name(r));
    log("YNL failed: " + describe(r, ext.msg));
    return nullptr;  // ynl_sock_destroy(*ys)
  }
  *err = 0;
  *id = static_cast<std::uint32_t>(r);
  log(strf("got dmabuf id=%d", r));
  return ys;
}

std::unique_ptr<dm::NetdevNlSession> NicControl::bind_tx_queue(int dmabuf_fd, std::uint32_t* id, int* err,
                                                               std::string* extack) {
  auto ys = std::make_unique<dm::NetdevNlSession>(host_.devmem(), host_.netns());
  dm::BindTxRequest req;
  req.ifindex = ifindex();
  req.fd = static_cast<std::uint32_t>(dmabuf_fd);
  core::Extack ext;
  const int r = ys->bind_tx(req, &ext);
  if (extack != nullptr) *extack = ext.msg;
  if (r < 0) {
    *err = r;
    log("netdev_bind_tx: " + base::errno_name(r));
    log("YNL failed: " + describe(r, ext.msg));
    return nullptr;
  }
  *err = 0;
  *id = static_cast<std::uint32_t>(r);
  log(strf("got tx dmabuf id=%d", r));
  return ys;
}

}  // namespace nicemu::ncdevmem::detail
