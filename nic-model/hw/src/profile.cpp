// NIC profiles: ranges of every field, cross-field checks, and the header-split defaults.
#include "nicemu/nic/hw/profile.hpp"

#include <algorithm>
#include <array>

#include "field_rules.hpp"
#include "nicemu/base/assert.hpp"

namespace nicemu::nic::hw {

namespace {

using detail::UintRule;

// Keys as in configs/nics/*.yaml. Ranges are what the model can represent and what real drivers
// report (ethtool's u32 fields are wider); the comments in the preset files give the values.
constexpr std::array<UintRule, 35> kProfileRules{{
    {"channels.max-queues", 1, 4096, false, {}, 0, ""},
    {"channels.max.rx", 0, 4096, false, {}, 0, ""},
    {"channels.max.tx", 0, 4096, false, {}, 0, ""},
    {"channels.max.combined", 0, 4096, false, {}, 0, ""},
    {"channels.default.rx", 0, 4096, false, {}, 0, ""},
    {"channels.default.tx", 0, 4096, false, {}, 0, ""},
    {"channels.default.combined", 0, 4096, false, {}, 0, ""},
    {"rings.rx.min", 1, 65536, false, {}, 0, "descriptors"},
    {"rings.rx.max", 1, 65536, false, {}, 0, "descriptors"},
    {"rings.rx.default", 1, 65536, false, {}, 0, "descriptors"},
    {"rings.tx.min", 1, 65536, false, {}, 0, "descriptors"},
    {"rings.tx.max", 1, 65536, false, {}, 0, "descriptors"},
    {"rings.tx.default", 1, 65536, false, {}, 0, "descriptors"},
    {"rings.rx-buf-len.default", 256, 65536, true, {}, 0, "bytes"},
    {"rings.rx-buf-len.allowed", 256, 65536, true, {}, 0, "bytes"},
    {"header-split.header-buf-len", 0, 4096, false, {}, 0, "bytes"},
    {"header-split.hds-thresh-max", 0, 65535, false, {}, 0, "bytes"},
    {"header-split.hds-thresh-default", 0, 65535, false, {}, 0, "bytes"},
    {"descriptors.rx-desc-bytes", 4, 256, true, {}, 0, "bytes"},
    {"descriptors.rx-cqe-bytes", 4, 256, true, {}, 0, "bytes"},
    {"descriptors.tx-desc-bytes", 4, 256, true, {}, 0, "bytes"},
    {"descriptors.tx-cqe-bytes", 4, 256, true, {}, 0, "bytes"},
    {"descriptors.tx-prefetch", 1, 256, false, {}, 0, "descriptors"},
    {"pipeline.clock-mhz", 1, 10'000, false, {}, 0, "MHz"},
    {"pipeline.cycles.parse", 0, 65535, false, {}, 0, "cycles"},
    {"pipeline.cycles.steer", 0, 65535, false, {}, 0, "cycles"},
    {"pipeline.cycles.dma-setup", 0, 65535, false, {}, 0, "cycles"},
    {"pipeline.cycles.completion", 0, 65535, false, {}, 0, "cycles"},
    {"pipeline.cycles.tx-per-descriptor", 0, 65535, false, {}, 0, "cycles"},
    {"pipeline.rx-fifo-bytes", 16384, 67'108'864, false, {}, 0, "bytes"},
    {"mtu-max", 68, 65535, false, {}, 0, "bytes"},
    {"tso.max-size-bytes", 1, 16'777'216, false, {}, 0, "bytes"},
    {"tso.max-segments", 1, 65535, false, {}, 0, ""},
    {"coalesce.rx-usecs", 0, 65535, false, {}, 0, "us"},
    {"coalesce.rx-frames", 0, 65535, false, {}, 0, ""},
}};
// Kept apart so the array size above stays the count of numeric fields checked directly.
constexpr std::array<UintRule, 2> kRestartRules{{
    {"restart.mode", 0, 3, false, {}, 0, ""},
    {"restart.firmware-quiesce-us", 0, 10'000'000, false, {}, 0, "us"},
}};

const UintRule* find_any_rule(std::string_view field) {
  if (const UintRule* r = detail::find_rule(kProfileRules, field)) return r;
  return detail::find_rule(kRestartRules, field);
}

class Checker {
 public:
  void range(std::string_view field, std::uint64_t value) {
    const UintRule* r = find_any_rule(field);
    NICEMU_ASSERT(r != nullptr, "profile: no range rule for a field this file checks");
    detail::check_rule(errors_, *r, std::string(field), value);
  }
  void fail(std::string_view field, std::string message) {
    errors_.push_back(FieldError{std::string(field), std::move(message)});
  }
  void append(std::vector<FieldError> more) {
    for (FieldError& e : more) errors_.push_back(std::move(e));
  }
  std::vector<FieldError> take() { return std::move(errors_); }

 private:
  std::vector<FieldError> errors_;
};

std::string num(std::uint64_t v) { return std::to_string(v); }

void check_channels(Checker& c, const NicProfile::Channels& ch) {
  c.range("channels.max-queues", ch.max_queues);
  c.range("channels.max.rx", ch.max.rx);
  c.range("channels.max.tx", ch.max.tx);
  c.range("channels.max.combined", ch.max.combined);
  c.range("channels.default.rx", ch.defaults.rx);
  c.range("channels.default.tx", ch.defaults.tx);
  c.range("channels.default.combined", ch.defaults.combined);
  auto at_most_queues = [&](std::string_view field, std::uint32_t v) {
    if (v > ch.max_queues) {
      c.fail(field, num(v) + " is more than channels.max-queues (" + num(ch.max_queues) +
                        "); allowed: 0 to channels.max-queues");
    }
  };
  at_most_queues("channels.max.rx", ch.max.rx);
  at_most_queues("channels.max.tx", ch.max.tx);
  at_most_queues("channels.max.combined", ch.max.combined);
  if (ch.max.rx + ch.max.combined == 0) {
    c.fail("channels.max", "no RX channel possible; allowed: max.rx + max.combined of at least 1");
  }
  if (ch.max.tx + ch.max.combined == 0) {
    c.fail("channels.max", "no TX channel possible; allowed: max.tx + max.combined of at least 1");
  }
  auto at_most = [&](std::string_view field, std::uint32_t v, std::string_view max_field, std::uint32_t max) {
    if (v > max) {
      c.fail(field, num(v) + " is more than " + std::string(max_field) + " (" + num(max) + "); allowed: 0 to " +
                        std::string(max_field));
    }
  };
  at_most("channels.default.rx", ch.defaults.rx, "channels.max.rx", ch.max.rx);
  at_most("channels.default.tx", ch.defaults.tx, "channels.max.tx", ch.max.tx);
  at_most("channels.default.combined", ch.defaults.combined, "channels.max.combined", ch.max.combined);
  if (ch.defaults.rx + ch.defaults.combined == 0) {
    c.fail("channels.default", "no RX channel; allowed: default.rx + default.combined of at least 1");
  }
  if (ch.defaults.tx + ch.defaults.combined == 0) {
    c.fail("channels.default", "no TX channel; allowed: default.tx + default.combined of at least 1");
  }
  if (ch.defaults.rx + ch.defaults.combined > ch.max_queues) {
    c.fail("channels.default", "default.rx + default.combined (" + num(ch.defaults.rx + ch.defaults.combined) +
                                   ") needs more RX queues than channels.max-queues (" + num(ch.max_queues) + ")");
  }
  if (ch.defaults.tx + ch.defaults.combined > ch.max_queues) {
    c.fail("channels.default", "default.tx + default.combined (" + num(ch.defaults.tx + ch.defaults.combined) +
                                   ") needs more TX queues than channels.max-queues (" + num(ch.max_queues) + ")");
  }
}

void check_ring(Checker& c, std::string_view kind, const RingLimits& r) {
  const std::string pre = "rings." + std::string(kind) + ".";
  c.range(pre + "min", r.min);
  c.range(pre + "max", r.max);
  c.range(pre + "default", r.default_size);
  if (r.min > r.max) {
    c.fail(pre + "min",
           num(r.min) + " is more than " + pre + "max (" + num(r.max) + "); allowed: at most " + pre + "max");
  } else if (r.default_size < r.min || r.default_size > r.max) {
    c.fail(pre + "default", num(r.default_size) + " is outside the ring limits; allowed: " + pre + "min to " + pre +
                                "max (" + num(r.min) + " to " + num(r.max) + ")");
  }
}

void check_rings(Checker& c, const NicProfile::Rings& r) {
  check_ring(c, "rx", r.rx);
  check_ring(c, "tx", r.tx);
  c.range("rings.rx-buf-len.default", r.rx_buf_len_default);
  if (r.rx_buf_len_allowed.empty()) {
    c.fail("rings.rx-buf-len.allowed", "the list is empty; allowed: at least one buffer size");
    return;
  }
  for (std::size_t i = 0; i < r.rx_buf_len_allowed.size(); ++i) {
    const std::uint32_t v = r.rx_buf_len_allowed[i];
    c.range("rings.rx-buf-len.allowed", v);
    if (std::count(r.rx_buf_len_allowed.begin(), r.rx_buf_len_allowed.begin() + static_cast<std::ptrdiff_t>(i), v)) {
      c.fail("rings.rx-buf-len.allowed", num(v) + " is listed twice; allowed: each size once");
    }
  }
  if (std::find(r.rx_buf_len_allowed.begin(), r.rx_buf_len_allowed.end(), r.rx_buf_len_default) ==
      r.rx_buf_len_allowed.end()) {
    c.fail("rings.rx-buf-len.default",
           num(r.rx_buf_len_default) + " is not in rings.rx-buf-len.allowed; allowed: one of the listed sizes");
  }
}

void check_header_split(Checker& c, const NicProfile::HeaderSplit& h) {
  c.range("header-split.header-buf-len", h.header_buf_len);
  c.range("header-split.hds-thresh-max", h.hds_thresh_max);
  c.range("header-split.hds-thresh-default", h.hds_thresh_default);
  if (h.supported && h.header_buf_len < 64) {
    c.fail("header-split.header-buf-len",
           num(h.header_buf_len) +
               " cannot hold Ethernet + IPv4 + TCP headers; allowed: 64 to 4096 bytes when "
               "header split is supported");
  }
  if (!h.supported && h.enabled_by_default) {
    c.fail("header-split.enabled-by-default",
           "true without header split support; allowed: false when "
           "header-split.supported is false");
  }
  if (!h.supported && h.hds_thresh_max != 0) {
    c.fail("header-split.hds-thresh-max",
           num(h.hds_thresh_max) + " without header split support; allowed: 0 when header-split.supported is false");
  }
  if (h.hds_thresh_default > h.hds_thresh_max) {
    c.fail("header-split.hds-thresh-default", num(h.hds_thresh_default) +
                                                  " is more than header-split.hds-thresh-max (" +
                                                  num(h.hds_thresh_max) + "); allowed: 0 to hds-thresh-max");
  }
}

}  // namespace

const char* to_string(RestartScope s) {
  switch (s) {
    case RestartScope::kQueue:
      return "queue";
    case RestartScope::kAllQueues:
      return "all-queues";
    case RestartScope::kDevice:
      return "device";
  }
  return "?";
}

sim::Duration NicProfile::Pipeline::cycles_time(std::uint64_t n) const {
  NICEMU_ASSERT(clock_mhz > 0, "NicProfile::Pipeline::cycles_time: clock_mhz is 0 (validate the profile)");
  // One cycle at f MHz lasts 10^6 / f ps.
  const std::uint64_t ps = (n * 1'000'000 + clock_mhz - 1) / clock_mhz;
  return sim::Duration::from_ps(static_cast<std::int64_t>(ps));
}

std::vector<FieldError> validate_nic_profile(const NicProfile& p) {
  Checker c;
  if (p.name.empty()) c.fail("name", "empty; allowed: a non-empty name such as \"gve-dqo\"");
  check_channels(c, p.channels);
  check_rings(c, p.rings);
  check_header_split(c, p.header_split);
  c.range("descriptors.rx-desc-bytes", p.descriptors.rx_desc_bytes);
  c.range("descriptors.rx-cqe-bytes", p.descriptors.rx_cqe_bytes);
  c.range("descriptors.tx-desc-bytes", p.descriptors.tx_desc_bytes);
  c.range("descriptors.tx-cqe-bytes", p.descriptors.tx_cqe_bytes);
  c.range("descriptors.tx-prefetch", p.descriptors.tx_prefetch);
  c.range("pipeline.clock-mhz", p.pipeline.clock_mhz);
  c.range("pipeline.rx-fifo-bytes", p.pipeline.rx_fifo_bytes);
  c.range("pipeline.cycles.parse", p.pipeline.cycles.parse);
  c.range("pipeline.cycles.steer", p.pipeline.cycles.steer);
  c.range("pipeline.cycles.dma-setup", p.pipeline.cycles.dma_setup);
  c.range("pipeline.cycles.completion", p.pipeline.cycles.completion);
  c.range("pipeline.cycles.tx-per-descriptor", p.pipeline.cycles.tx_per_descriptor);
  c.append(validate_pcie_params(p.pcie, "pcie"));
  if (p.p2p) c.append(validate_pcie_params(*p.p2p, "p2p"));
  c.range("mtu-max", p.mtu_max);
  c.range("tso.max-size-bytes", p.tso.max_size_bytes);
  c.range("tso.max-segments", p.tso.max_segments);
  c.range("coalesce.rx-usecs", p.coalesce.rx_usecs);
  c.range("coalesce.rx-frames", p.coalesce.rx_frames);
  c.range("restart.mode", p.restart.mode);
  if (p.restart.firmware_quiesce < sim::Duration::zero() || p.restart.firmware_quiesce.ps() % 1'000'000 != 0) {
    c.fail("restart.firmware-quiesce-us", "must be a whole, non-negative number of microseconds");
  } else {
    c.range("restart.firmware-quiesce-us", static_cast<std::uint64_t>(p.restart.firmware_quiesce.us()));
  }
  return c.take();
}

std::string nic_profile_field_allowed(std::string_view field) {
  for (std::string_view section : {std::string_view("pcie."), std::string_view("p2p.")}) {
    if (field.starts_with(section)) return std::string(pcie_field_allowed(field.substr(section.size())));
  }
  if (const UintRule* r = find_any_rule(field)) return detail::rule_text(*r);
  return {};
}

HeaderSplitConfig header_split_defaults(const NicProfile& p) {
  HeaderSplitConfig cfg;
  cfg.mode = TcpDataSplit::kUnknown;
  cfg.unknown_means_enabled = p.header_split.supported && p.header_split.enabled_by_default;
  cfg.hds_thresh = p.header_split.hds_thresh_default;
  cfg.rx_buf_len = p.rings.rx_buf_len_default;
  cfg.header_buf_len = p.header_split.header_buf_len;
  cfg.split_udp = p.header_split.split_udp;
  cfg.non_qualifying = p.header_split.non_qualifying;
  return cfg;
}

}  // namespace nicemu::nic::hw
