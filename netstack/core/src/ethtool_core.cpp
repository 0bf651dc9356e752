// The core's ethtool validation (kernel: net/ethtool/{channels,rings,coalesce,rss,common,ioctl}.c)
// and XDP install checks (net/core/dev.c). See ethtool_core.hpp.
#include "nicemu/netstack/core/ethtool_core.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <string>

#include "nicemu/netstack/core/net_device.hpp"
#include "nicemu/netstack/core/netdev_core_state.hpp"
#include "nicemu/netstack/core/netdev_rx_queue.hpp"

namespace nicemu::netstack::core {

namespace {

// kernel: ethnl_update_u32() / ethnl_update_u8(): take the attribute if present, note a change.
template <class T>
void ethnl_update(T& dst, const std::optional<T>& attr, bool& mod) {
  if (!attr.has_value() || *attr == dst) return;
  dst = *attr;
  mod = true;
}

template <class... Args>
std::string format(const char* fmt, Args... args) {
  char buf[160];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

std::uint32_t xdp_sb_prog_count(const NetDevice& dev) {
  const NetdevCoreState* state = netdev_core_state(dev);
  return state != nullptr ? state->xdp_sb_prog_count : dev.xdp_prog_count;
}

std::uint32_t max_of(const std::vector<std::uint32_t>& table) {
  return table.empty() ? 0 : *std::max_element(table.begin(), table.end());
}

// kernel: ethtool_get_max_rxnfc_channel(): the highest queue an ntuple rule can steer to.
int get_max_rxnfc_channel(const NetDevice& dev, std::uint64_t* max) {
  const EthtoolOps* ops = dev.ethtool_ops();
  std::vector<NtupleRule> rules;
  const int err = ops->get_ntuple_rules(dev, rules);
  if (err != 0) return err;
  if (rules.empty()) return -EINVAL;  // kernel: rule_cnt <= 0
  const NetdevCoreState* state = netdev_core_state(dev);
  std::uint64_t max_ring = 0;
  for (const NtupleRule& rule : rules) {
    if (rule.action == NtupleRule::Action::kDrop) continue;
    std::uint64_t ring = rule.queue;
    if (rule.action == NtupleRule::Action::kRssContext && state != nullptr) {
      auto it = state->rss_ctx.find(rule.rss_context);
      if (it != state->rss_ctx.end()) ring += max_of(it->second);
    }
    max_ring = std::max(max_ring, ring);
  }
  *max = max_ring;
  return 0;
}

// kernel: ethtool_get_max_rxfh_channel(): the highest queue any RSS table uses — the contexts
// always, the default table only if the user configured it (IFF_RXFH_CONFIGURED).
std::uint32_t get_max_rxfh_channel(const NetDevice& dev) {
  const NetdevCoreState* state = netdev_core_state(dev);
  std::uint32_t current_max = 0;
  if (state == nullptr) return current_max;
  for (const auto& [id, table] : state->rss_ctx) current_max = std::max(current_max, max_of(table));
  if (!state->rxfh_configured) return current_max;
  EthtoolRss rss;
  rss.context = 0;
  if (dev.ethtool_ops()->get_rss(dev, rss) != 0) return std::numeric_limits<std::uint32_t>::max();
  return std::max(current_max, max_of(rss.indir));
}

// kernel: ethtool_check_max_channel() (net/ethtool/common.c).
int ethtool_check_max_channel(const NetDevice& dev, const EthtoolChannels& ch, Extack* extack) {
  std::uint64_t max_rxnfc_in_use = 0;
  if (get_max_rxnfc_channel(dev, &max_rxnfc_in_use) != 0) max_rxnfc_in_use = 0;
  const std::uint32_t max_rxfh_in_use = get_max_rxfh_channel(dev);
  const std::uint64_t rx_channels = std::uint64_t{ch.combined_count} + ch.rx_count;
  if (rx_channels <= max_rxfh_in_use) {
    nl_set_err_msg(extack, format("requested channel counts are too low for existing indirection table (%d)",
                                  static_cast<int>(max_rxfh_in_use)));
    return -EINVAL;
  }
  if (rx_channels <= max_rxnfc_in_use) {
    nl_set_err_msg(extack, "requested channel counts are too low for existing ntuple filter settings");
    return -EINVAL;
  }
  // `<=` against a count (index + 1), kept from the kernel: a count equal to highest bound
  // index + 1 is refused as well (§3.2).
  const std::uint32_t max_mp_in_use = dev_get_min_mp_channel_count(dev);
  if (rx_channels <= max_mp_in_use) {
    nl_set_err_msg(extack, format("requested channel counts are too low for existing memory provider setting (%d)",
                                  static_cast<int>(max_mp_in_use)));
    return -EINVAL;
  }
  return 0;
}

// kernel: rss_set_prep_indir(): validates a user table and expands it to the device's size.
int rss_prep_indir(const NetDevice& dev, const RssRequest& req, const EthtoolRss& cur, bool for_create,
                   std::vector<std::uint32_t>& out, bool& reset, bool& mod, Extack* extack) {
  if (!req.indir.has_value()) return 0;
  const std::vector<std::uint32_t>& user = *req.indir;
  const std::size_t indir_size = cur.indir.size();
  const std::uint32_t num_rx_rings = dev.real_num_rx_queues();
  if (for_create && user.empty()) {  // RSS_CREATE policy: NLA_POLICY_MIN(NLA_BINARY, 1)
    nl_set_bad_attr(extack, "indir");
    return -EINVAL;
  }
  if (indir_size == 0) return -EOPNOTSUPP;
  if (user.empty()) {
    if (req.context != 0) {
      nl_set_err_msg_attr(extack, "indir", "can't reset table for a context");
      return -EINVAL;
    }
    reset = true;
  } else if (indir_size % user.size() != 0) {
    nl_set_err_msg_attr(extack, "indir",
                        format("size (%d) mismatch with device indir table (%d)", static_cast<int>(user.size()),
                               static_cast<int>(indir_size)));
    return -EINVAL;
  }
  for (std::size_t i = 0; i < user.size(); ++i) {
    if (user[i] < num_rx_rings) continue;
    nl_set_err_msg_attr(extack, "indir",
                        format("entry %d: queue out of range (%d)", static_cast<int>(i), static_cast<int>(user[i])));
    return -EINVAL;
  }
  out.assign(indir_size, 0);
  for (std::size_t i = 0; i < indir_size; ++i) {
    // Replicate the user's table to fill the device table; or the default spread
    // (kernel: ethtool_rxfh_indir_default(i, n) = i % n).
    out[i] = user.empty() ? static_cast<std::uint32_t>(i % num_rx_rings) : user[i % user.size()];
  }
  mod |= out != cur.indir;
  return 0;
}

// kernel: rss_set_prep_hkey()
int rss_prep_hkey(const RssRequest& req, const EthtoolRss& cur, std::vector<std::uint8_t>& out, bool& mod,
                  Extack* extack) {
  if (!req.hkey.has_value()) return 0;
  if (req.hkey->size() != cur.key.size()) {
    nl_set_bad_attr(extack, "hkey");
    return -EINVAL;
  }
  out = *req.hkey;
  mod |= out != cur.key;
  return 0;
}

}  // namespace

// ---- channels ------------------------------------------------------------------------------------

int ethtool_get_channels(const NetDevice& dev, EthtoolChannels& out) {
  const EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  ops->get_channels(dev, out);
  return 0;
}

int ethtool_set_channels(NetDevice& dev, const ChannelsRequest& req, Extack* extack) {
  EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  EthtoolChannels ch;
  ops->get_channels(dev, ch);
  const std::uint32_t old_total = ch.combined_count + std::max(ch.rx_count, ch.tx_count);

  bool mod = false;
  bool mod_combined = false;
  ethnl_update(ch.rx_count, req.rx_count, mod);
  ethnl_update(ch.tx_count, req.tx_count, mod);
  ethnl_update(ch.other_count, req.other_count, mod);
  ethnl_update(ch.combined_count, req.combined_count, mod_combined);
  mod |= mod_combined;
  if (!mod) return 0;

  // Ensure the new counts are within limits.
  const char* err_attr = nullptr;
  if (ch.rx_count > ch.max_rx)
    err_attr = "rx-count";
  else if (ch.tx_count > ch.max_tx)
    err_attr = "tx-count";
  else if (ch.other_count > ch.max_other)
    err_attr = "other-count";
  else if (ch.combined_count > ch.max_combined)
    err_attr = "combined-count";
  if (err_attr != nullptr) {
    nl_set_err_msg_attr(extack, err_attr, "requested channel count exceeds maximum");
    return -EINVAL;
  }
  // Ensure there is at least one RX and one TX channel.
  if (ch.combined_count == 0 && ch.rx_count == 0)
    err_attr = "rx-count";
  else if (ch.combined_count == 0 && ch.tx_count == 0)
    err_attr = "tx-count";
  if (err_attr != nullptr) {
    if (mod_combined) err_attr = "combined-count";
    nl_set_err_msg_attr(extack, err_attr,
                        "requested channel counts would result in no RX or TX channel being configured");
    return -EINVAL;
  }

  const int err = ethtool_check_max_channel(dev, ch, extack);
  if (err != 0) return err;

  // Disabling channels: refuse while a zero-copy AF_XDP socket uses one of them.
  const std::uint32_t from_channel = ch.combined_count + std::min(ch.rx_count, ch.tx_count);
  for (std::uint32_t i = from_channel; i < old_total && i < dev.num_rx_queues(); ++i) {
    if (dev.rx_queue(i).xsk_pool) {
      nl_set_err_msg(extack, "requested channel counts are too low for existing zerocopy AF_XDP sockets");
      return -EINVAL;
    }
  }

  const int ret = ops->set_channels(dev, ch);
  return ret < 0 ? ret : 0;
}

// ---- rings ---------------------------------------------------------------------------------------------

int ethtool_get_rings(const NetDevice& dev, EthtoolRingParam& out) {
  const EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  ops->get_ringparam(dev, out);
  return 0;
}

int ethtool_set_rings(NetDevice& dev, const RingsRequest& req, Extack* extack) {
  EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  // ethnl_set_rings_validate(): attributes the driver cannot take.
  const std::uint32_t supported = ops->supported_ring_params();
  if (req.rx_buf_len.has_value() && (supported & kRingUseRxBufLen) == 0) {
    nl_set_err_msg_attr(extack, "rx-buf-len", "setting rx buf len not supported");
    return -EOPNOTSUPP;
  }
  if (req.tcp_data_split.has_value() && (supported & kRingUseTcpDataSplit) == 0) {
    nl_set_err_msg_attr(extack, "tcp-data-split", "setting TCP data split is not supported");
    return -EOPNOTSUPP;
  }
  if (req.hds_thresh.has_value() && (supported & kRingUseHdsThrs) == 0) {
    nl_set_err_msg_attr(extack, "hds-thresh", "setting hds-thresh is not supported");
    return -EOPNOTSUPP;
  }

  // ethtool_ringparam_get_cfg(): the driver gives its current state; the HDS fields are the
  // core's config (UNKNOWN stays UNKNOWN even if the driver reports "enabled").
  EthtoolRingParam r;
  ops->get_ringparam(dev, r);
  r.tcp_data_split = dev.hds_config;
  r.hds_thresh = dev.hds_thresh;

  bool mod = false;
  ethnl_update(r.rx_pending, req.rx, mod);
  ethnl_update(r.tx_pending, req.tx, mod);
  ethnl_update(r.rx_buf_len, req.rx_buf_len, mod);
  ethnl_update(r.tcp_data_split, req.tcp_data_split, mod);
  ethnl_update(r.hds_thresh, req.hds_thresh, mod);
  if (!mod) return 0;

  if (r.tcp_data_split == TcpDataSplit::kEnabled && xdp_sb_prog_count(dev) != 0) {
    nl_set_err_msg_attr(extack, "tcp-data-split", "tcp-data-split can not be enabled with single buffer XDP");
    return -EINVAL;
  }
  if (dev_get_min_mp_channel_count(dev) != 0) {
    if (r.tcp_data_split != TcpDataSplit::kEnabled) {
      nl_set_err_msg(extack, "can't disable tcp-data-split while device has memory provider enabled");
      return -EINVAL;
    }
    if (r.hds_thresh != 0) {
      nl_set_err_msg(extack, "can't set non-zero hds_thresh while device is memory provider enabled");
      return -EINVAL;
    }
  }

  // Ensure the new ring parameters are within limits.
  const char* err_attr = nullptr;
  if (r.rx_pending > r.rx_max_pending)
    err_attr = "rx";
  else if (r.tx_pending > r.tx_max_pending)
    err_attr = "tx";
  else if (r.hds_thresh > r.hds_thresh_max)
    err_attr = "hds-thresh";
  if (err_attr != nullptr) {
    nl_set_err_msg_attr(extack, err_attr, "requested ring size exceeds maximum");
    return -EINVAL;
  }

  // kernel: dev->cfg_pending->hds_config/hds_thresh, made current when the driver succeeds.
  const TcpDataSplit old_config = dev.hds_config;
  const std::uint32_t old_thresh = dev.hds_thresh;
  dev.hds_config = r.tcp_data_split;
  dev.hds_thresh = r.hds_thresh;
  const int ret = ops->set_ringparam(dev, r);
  if (ret < 0) {
    dev.hds_config = old_config;
    dev.hds_thresh = old_thresh;
    return ret;
  }
  return 0;
}

// ---- coalesce ------------------------------------------------------------------------------------------

int ethtool_get_coalesce(const NetDevice& dev, EthtoolCoalesce& out) {
  const EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  return ops->get_coalesce(dev, out);
}

int ethtool_set_coalesce(NetDevice& dev, const CoalesceRequest& req, Extack*) {
  EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  EthtoolCoalesce c;
  int err = ops->get_coalesce(dev, c);
  if (err != 0) return err;
  bool mod = false;
  ethnl_update(c.rx_coalesce_usecs, req.rx_coalesce_usecs, mod);
  ethnl_update(c.rx_max_coalesced_frames, req.rx_max_coalesced_frames, mod);
  ethnl_update(c.tx_coalesce_usecs, req.tx_coalesce_usecs, mod);
  ethnl_update(c.tx_max_coalesced_frames, req.tx_max_coalesced_frames, mod);
  if (!mod) return 0;
  err = ops->set_coalesce(dev, c);
  return err < 0 ? err : 0;
}

// ---- RSS -------------------------------------------------------------------------------------------------

int ethtool_get_rss(const NetDevice& dev, std::uint32_t context, EthtoolRss& out) {
  const EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  out = {};
  out.context = context;
  return ops->get_rss(dev, out);
}

int ethtool_set_rss(NetDevice& dev, const RssRequest& req, Extack* extack) {
  EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  NetdevCoreState* state = netdev_core_state(dev);
  // rss_prepare(): the context must exist.
  if (req.context != 0 && (state == nullptr || state->rss_ctx.count(req.context) == 0)) return -ENOENT;
  EthtoolRss cur;
  cur.context = req.context;
  int err = ops->get_rss(dev, cur);
  if (err != 0) return err;

  bool mod = false;
  bool reset = false;
  EthtoolRss next;
  next.context = req.context;
  err = rss_prep_indir(dev, req, cur, false, next.indir, reset, mod, extack);
  if (err != 0) return err;
  err = rss_prep_hkey(req, cur, next.key, mod, extack);
  if (err != 0) return err;

  if (mod) {  // else: nothing to tell the driver
    err = ops->set_rss(dev, next);
    if (err < 0) return err;
  }
  if (state == nullptr) return 0;
  if (req.context != 0) {
    if (!next.indir.empty()) state->rss_ctx[req.context] = next.indir;
  } else if (reset) {
    state->rxfh_configured = false;  // kernel: dev->priv_flags &= ~IFF_RXFH_CONFIGURED
  } else if (req.indir.has_value()) {
    state->rxfh_configured = true;  // kernel: dev->priv_flags |= IFF_RXFH_CONFIGURED
  }
  return 0;
}

int ethtool_create_rss_context(NetDevice& dev, const RssRequest& req, Extack* extack) {
  EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  // rss_get_data_alloc(): the sizes come from the device's default context.
  EthtoolRss dflt;
  dflt.context = 0;
  int err = ops->get_rss(dev, dflt);
  if (err != 0) return err;
  RssRequest create = req;
  create.context = 0;
  bool mod = false;
  bool reset = false;
  EthtoolRss ctx;
  err = rss_prep_indir(dev, create, dflt, true, ctx.indir, reset, mod, extack);
  if (err != 0) return err;
  err = rss_prep_hkey(create, dflt, ctx.key, mod, extack);
  if (err != 0) return err;
  const int id = ops->create_rss_context(dev, ctx);
  if (id < 0) return id;
  // Remember the table the driver ended up with (its defaults if the user gave none).
  if (NetdevCoreState* state = netdev_core_state(dev)) {
    EthtoolRss made;
    made.context = static_cast<std::uint32_t>(id);
    state->rss_ctx[made.context] = ops->get_rss(dev, made) == 0 ? made.indir : ctx.indir;
  }
  return id;
}

int ethtool_remove_rss_context(NetDevice& dev, std::uint32_t context, Extack*) {
  EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  // kernel: ethtool_check_rss_ctx_busy(): an ntuple rule still steers into the context.
  std::vector<NtupleRule> rules;
  if (ops->get_ntuple_rules(dev, rules) == 0) {
    for (const NtupleRule& rule : rules) {
      if (rule.action == NtupleRule::Action::kRssContext && rule.rss_context == context) return -EBUSY;
    }
  }
  NetdevCoreState* state = netdev_core_state(dev);
  if (state != nullptr && state->rss_ctx.count(context) == 0) return -ENOENT;
  const int err = ops->remove_rss_context(dev, context);
  if (err != 0) return err;
  if (state != nullptr) state->rss_ctx.erase(context);
  return 0;
}

// ---- ntuple ------------------------------------------------------------------------------------------------

int ethtool_get_ntuple_rules(const NetDevice& dev, std::vector<NtupleRule>& out) {
  const EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  return ops->get_ntuple_rules(dev, out);
}

int ethtool_set_ntuple_rule(NetDevice& dev, const NtupleRule& rule, Extack*) {
  EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  if ((dev.features & kNetifFNtuple) == 0) return -EOPNOTSUPP;
  switch (rule.flow_type) {
    case FlowType::kTcp4:
    case FlowType::kUdp4:
    case FlowType::kTcp6:
    case FlowType::kUdp6:
      break;
    default:
      return -EINVAL;
  }
  switch (rule.action) {
    case NtupleRule::Action::kRssContext: {
      // Nonzero ring with RSS only makes sense if the NIC adds them together (no driver here
      // sets cap_rss_rxnfc_adds); the context must exist.
      if (rule.queue != 0) return -EINVAL;
      const NetdevCoreState* state = netdev_core_state(dev);
      if (state == nullptr || state->rss_ctx.count(rule.rss_context) == 0) return -EINVAL;
      break;
    }
    case NtupleRule::Action::kQueue:
      if (rule.queue >= dev.real_num_rx_queues()) return -EINVAL;
      break;
    case NtupleRule::Action::kDrop:
      break;
  }
  return ops->set_ntuple_rule(dev, rule);
}

int ethtool_del_ntuple_rule(NetDevice& dev, std::uint32_t location) {
  EthtoolOps* ops = dev.ethtool_ops();
  if (ops == nullptr) return -EOPNOTSUPP;
  return ops->del_ntuple_rule(dev, location);
}

// ---- XDP ---------------------------------------------------------------------------------------------------

int dev_xdp_attach(NetDevice& dev, bool xdp_has_frags, Extack* extack) {
  // kernel: dev_xdp_install(), in this order.
  if (dev.hds_config == TcpDataSplit::kEnabled && !xdp_has_frags) {
    nl_set_err_msg(extack, "unable to install XDP to device using tcp-data-split");
    return -EBUSY;
  }
  if (dev_get_min_mp_channel_count(dev) != 0) {
    nl_set_err_msg(extack, "unable to install XDP to device using memory provider");
    return -EBUSY;
  }
  ++dev.xdp_prog_count;
  if (!xdp_has_frags) {
    if (NetdevCoreState* state = netdev_core_state(dev)) ++state->xdp_sb_prog_count;
  }
  return 0;
}

int dev_xdp_detach(NetDevice& dev, bool xdp_has_frags) {
  if (dev.xdp_prog_count == 0) return 0;
  --dev.xdp_prog_count;
  if (!xdp_has_frags) {
    NetdevCoreState* state = netdev_core_state(dev);
    if (state != nullptr && state->xdp_sb_prog_count > 0) --state->xdp_sb_prog_count;
  }
  return 0;
}

}  // namespace nicemu::netstack::core
