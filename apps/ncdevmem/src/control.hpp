// The control operations ncdevmem runs (ethtool over netlink or the ethtool CLI, netdev
// bind-rx / bind-tx over YNL), one function each, on one host's NIC, with ncdevmem's log lines.
//
// Models: ncdevmem.c's rxq_num(), get_ring_config(), restore_ring_config(),
//   configure_headersplit(), configure_rss() / reset_rss() (`ethtool -X IF equal N` /
//   `default`: the CLI fills the device's whole indirection table with i % N),
//   check_changing_channels(), configure_flow_steering() / reset_flow_steering() (`ethtool -N IF
//   flow-type tcp4|tcp6 ... queue N` at RX_CLS_LOC_ANY; the ids it added are deleted again),
//   bind_rx_queue() / bind_tx_queue() (a fresh netdev netlink socket per call, destroyed when the
//   call fails; on success the caller owns it and closing it unbinds).
// Not modelled: the ethtool CLI's text (rule ids come back as numbers, not parsed from "Added
//   rule with ID"), YNL's message encoding.
// Attribute presence follows the kernel's replies: a channels reply carries rx/tx/combined
//   counts only where the maximum is nonzero (net/ethtool/channels.c channels_fill_reply), a
//   rings reply carries hds-thresh only when the driver supports it (ETHTOOL_RING_USE_HDS_THRS).
// References: ncdevmem.c; net/ethtool/{channels,rings,rss,ioctl}.c; ethtool(8) -X equal.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nicemu/app/host.hpp"
#include "nicemu/ncdevmem/ncdevmem.hpp"
#include "nicemu/netstack/core/ethtool.hpp"
#include "nicemu/netstack/core/ethtool_core.hpp"
#include "nicemu/providers/dmabuf/devmem.hpp"

namespace nicemu::ncdevmem::detail {

// printf into a std::string.
std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// "-EINVAL (tcp-data-split is disabled)": an errno and the kernel's extack message, if any.
std::string describe(int err, const std::string& extack = {});

// The ring config ncdevmem saves (ethtool_rings_get_rsp) with hds-thresh's presence.
struct RingConfig {
  netstack::core::EthtoolRingParam rings;
  bool hds_thresh_present = false;
};

// The channel and queue defaults of ncdevmem's main(), or the reason they cannot be had.
struct Queues {
  int start_queue = -1;
  int num_queues = -1;
  std::string error;  // "" when the queues are known
};
Queues resolve_queues(app::Host& host, const Options& o, Mode mode, const LogFn& log);

class NicControl {
 public:
  NicControl(app::Host& host, LogFn log) : host_(host), log_(std::move(log)) {}

  // rx_count + combined_count, or a negative errno.
  int rxq_num();
  std::optional<RingConfig> get_ring_config();
  // 0 or a negative errno; `extack` (may be null) gets the kernel's message.
  int configure_headersplit(const RingConfig& old, bool on, std::string* extack = nullptr);
  void restore_ring_config(const RingConfig& config);
  int configure_rss(int start_queue, std::string* extack = nullptr);
  void reset_rss();
  // 0 when the change went through (and was undone), else the negative errno of the refusal.
  int check_changing_channels(std::uint32_t rx, std::uint32_t tx, std::string* extack = nullptr);
  // The 5-tuple rule (with -c), else or if that fails the 3-tuple one; 0 or -1.
  int configure_flow_steering(const Options& o, int start_queue);
  void reset_flow_steering();
  const std::vector<std::uint32_t>& flow_rules() const { return ntuple_ids_; }

  // A new session bound as asked, or nullptr with *err (and *extack) set; *id the binding id.
  std::unique_ptr<providers::dmabuf::NetdevNlSession> bind_rx_queue(
      int dmabuf_fd, const std::vector<providers::dmabuf::QueueIdAttr>& queues, std::uint32_t* id, int* err,
      std::string* extack = nullptr);
  std::unique_ptr<providers::dmabuf::NetdevNlSession> bind_tx_queue(int dmabuf_fd, std::uint32_t* id, int* err,
                                                                    std::string* extack = nullptr);

  std::uint32_t ifindex() const { return static_cast<std::uint32_t>(host_.nic().ifindex()); }
  const std::string& ifname() const { return host_.nic().name(); }

 private:
  void log(const std::string& line) const {
    if (log_) log_(line);
  }
  int add_flow(const netstack::core::NtupleRule& rule, const std::string& text);

  app::Host& host_;
  LogFn log_;
  std::vector<std::uint32_t> ntuple_ids_;
};

// create_queues(): `num` queue-id entries from `start`, type RX.
std::vector<providers::dmabuf::QueueIdAttr> create_queues(int start, int num);

}  // namespace nicemu::ncdevmem::detail
