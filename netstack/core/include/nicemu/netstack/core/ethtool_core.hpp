// nicemu/netstack/core/ethtool_core.hpp — the core's validation in front of a driver's
// EthtoolOps, and XDP attach/detach as far as the memory-provider rules need it.
//
// Models (Linux 6.18):
//   - channels-set (net/ethtool/channels.c ethnl_set_channels + common.c
//     ethtool_check_max_channel): a request that changes nothing returns 0 without calling the
//     driver; counts above the maxima; no RX or no TX channel left; the RSS tables, ntuple
//     rules and memory providers in use (each compared with `<=` as the kernel does — for
//     providers that makes a count equal to highest-bound-index + 1 fail too, §3.2); zero-copy
//     AF_XDP sockets on queues that would go away; then the driver;
//   - rings-set (net/ethtool/rings.c ethnl_set_rings_validate + ethnl_set_rings): unsupported
//     attributes -EOPNOTSUPP; the current config (the core's hds_config / hds_thresh, not what
//     the driver reports) plus the request; no change -> 0; tcp-data-split enabled with
//     single-buffer XDP; the memory-provider guards; sizes above the maxima (hds-thresh
//     included); then the core records hds_config / hds_thresh and calls the driver (restored
//     if the driver fails: dev.hds_config plays both dev->cfg and dev->cfg_pending);
//   - coalesce-set: no change -> 0, else the driver;
//   - RSS (net/ethtool/rss.c ethnl_rss_set / ethnl_rss_create_doit / ethnl_rss_delete_doit):
//     indirection table size and entries (< real_num_rx_queues), key length, context existence,
//     IFF_RXFH_CONFIGURED bookkeeping, contexts busy while an ntuple rule uses them;
//   - ntuple insert (net/ethtool/ioctl.c ethtool_set_rxnfc, ETHTOOL_SRXCLSRLINS): flow types
//     tcp4/udp4/tcp6/udp6, target queue < real_num_rx_queues, RSS context must exist;
//   - XDP install (net/core/dev.c dev_xdp_install): -EBUSY while tcp-data-split is enabled (for
//     a program without frags support) or while any queue has a memory provider.
// Not modelled: netlink encoding and notifications, link settings, rx_buf_len
//   (drivers here do not support it: -EOPNOTSUPP), the ioctl (legacy) paths, hash functions
//   and input-xfrm, ethnl_ops_begin/complete (runtime PM), XDP programs themselves.
// Departure: NETIF_F_NTUPLE is checked once here for every ntuple insert (in the kernel each
//   driver refuses rule insertion while n-tuple filtering is off).
// Extack: messages are the kernel's where it sets one; otherwise only the bad attribute is
//   named, as in the kernel. Returns: 0 or a negative errno (create_rss_context and
//   set_ntuple_rule return the new id / location on success).
// References: ../shared/reference/linux-kernel-semantics.md §3.2, §7.1, §7.6, §8.11.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "nicemu/netstack/core/ethtool.hpp"
#include "nicemu/netstack/core/extack.hpp"

namespace nicemu::netstack::core {

class NetDevice;

// ---- channels (ethtool -l / -L) -----------------------------------------------------------------
// Attributes of a channels-set request; absent ones keep their current value.
struct ChannelsRequest {
  std::optional<std::uint32_t> rx_count, tx_count, other_count, combined_count;
};
int ethtool_get_channels(const NetDevice& dev, EthtoolChannels& out);
int ethtool_set_channels(NetDevice& dev, const ChannelsRequest& req, Extack* extack = nullptr);

// ---- rings (ethtool -g / -G) ------------------------------------------------------------------------
struct RingsRequest {
  std::optional<std::uint32_t> rx, tx, rx_buf_len;
  std::optional<TcpDataSplit> tcp_data_split;
  std::optional<std::uint32_t> hds_thresh;
};
// What the driver reports (netdevsim reports "enabled" while the config is UNKNOWN).
int ethtool_get_rings(const NetDevice& dev, EthtoolRingParam& out);
int ethtool_set_rings(NetDevice& dev, const RingsRequest& req, Extack* extack = nullptr);

// ---- coalesce (ethtool -c / -C) -----------------------------------------------------------------------
struct CoalesceRequest {
  std::optional<std::uint32_t> rx_coalesce_usecs, rx_max_coalesced_frames;
  std::optional<std::uint32_t> tx_coalesce_usecs, tx_max_coalesced_frames;
};
int ethtool_get_coalesce(const NetDevice& dev, EthtoolCoalesce& out);
int ethtool_set_coalesce(NetDevice& dev, const CoalesceRequest& req, Extack* extack = nullptr);

// ---- RSS (ethtool -x / -X) ------------------------------------------------------------------------------
struct RssRequest {
  std::uint32_t context = 0;                        // 0: the default context
  std::optional<std::vector<std::uint32_t>> indir;  // empty vector: reset to the default spread
  std::optional<std::vector<std::uint8_t>> hkey;
};
int ethtool_get_rss(const NetDevice& dev, std::uint32_t context, EthtoolRss& out);
int ethtool_set_rss(NetDevice& dev, const RssRequest& req, Extack* extack = nullptr);
// `req.context` is ignored; returns the new context id (> 0) or a negative errno.
int ethtool_create_rss_context(NetDevice& dev, const RssRequest& req, Extack* extack = nullptr);
int ethtool_remove_rss_context(NetDevice& dev, std::uint32_t context, Extack* extack = nullptr);

// ---- ntuple (ethtool -n / -N) -----------------------------------------------------------------------------
int ethtool_get_ntuple_rules(const NetDevice& dev, std::vector<NtupleRule>& out);
// Returns the rule's location or a negative errno.
int ethtool_set_ntuple_rule(NetDevice& dev, const NtupleRule& rule, Extack* extack = nullptr);
int ethtool_del_ntuple_rule(NetDevice& dev, std::uint32_t location);

// ---- XDP (the parts the memory-provider rules need) ---------------------------------------------------
// kernel: dev_xdp_install() with a program: bumps dev.xdp_prog_count. `xdp_has_frags` false is
// a single-buffer program (refused while tcp-data-split is enabled).
int dev_xdp_attach(NetDevice& dev, bool xdp_has_frags = false, Extack* extack = nullptr);
// Detaches one program of that kind; 0 also when none is attached (as the kernel).
int dev_xdp_detach(NetDevice& dev, bool xdp_has_frags = false);

}  // namespace nicemu::netstack::core
