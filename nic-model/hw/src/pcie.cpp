// PCIe DMA timing: TLP splitting, link time, one-transfer times, and a shared link.
// The formulas and worked numbers are in docs/nic-timing.md.
#include "nicemu/nic/hw/pcie.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <functional>

#include "field_rules.hpp"
#include "nicemu/base/assert.hpp"
#include "nicemu/base/int128.hpp"

namespace nicemu::nic::hw {

namespace {

using detail::UintRule;

// Ranges of the fields of one PCIe section; keys as in configs/nics/*.yaml under pcie: / p2p:.
constexpr std::array<UintRule, 11> kPcieRules{{
    {"generation", 1, 5, false, {}, 0, ""},
    {"lanes", 0, 0, false, {1, 2, 4, 8, 16}, 5, ""},
    {"max-payload-bytes", 128, 4096, true, {}, 0, "bytes"},
    {"max-read-request-bytes", 128, 4096, true, {}, 0, "bytes"},
    {"read-completion-boundary-bytes", 0, 0, false, {64, 128}, 2, "bytes"},
    {"tlp-overhead-bytes", 16, 64, false, {}, 0, "bytes"},
    {"completion-overhead-bytes", 16, 64, false, {}, 0, "bytes"},
    {"dllp-overhead-ppm", 0, 500'000, false, {}, 0, "ppm"},
    {"write-latency-ns", 0, 100'000, false, {}, 0, "ns"},
    {"read-latency-ns", 0, 100'000, false, {}, 0, "ns"},
    {"max-outstanding-reads", 1, 1024, false, {}, 0, ""},
}};

const UintRule& rule(std::string_view field) {
  const UintRule* r = detail::find_rule(kPcieRules, field);
  NICEMU_ASSERT(r != nullptr, "pcie: no range rule for a field this file checks");
  return *r;
}

constexpr std::uint64_t align_down(std::uint64_t v, std::uint64_t a) { return v / a * a; }
// std::has_single_bit without the POPCNT instruction (the build targets baseline x86-64) is a
// library call; this is two instructions.
constexpr bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }
// Pieces a range [start, end) is cut into at every `granule`-aligned address.
constexpr std::uint64_t pieces(std::uint64_t start, std::uint64_t end, std::uint64_t granule) {
  return (end + granule - 1) / granule - start / granule;
}
// Bytes of the DWs that cover [start, end): payload travels in whole DWs.
constexpr std::uint64_t dw_span(std::uint64_t start, std::uint64_t end) {
  return align_up(end, 4) - align_down(start, 4);
}

std::uint64_t write_tlp_overhead(const PcieParams& p) { return p.tlp_overhead_bytes + (p.ecrc ? 4u : 0u); }
std::uint64_t completion_tlp_overhead(const PcieParams& p) { return p.completion_overhead_bytes + (p.ecrc ? 4u : 0u); }
std::uint64_t completion_granule(const PcieParams& p) {
  const std::uint64_t split =
      p.completion_split == CompletionSplit::kRcb ? p.read_completion_boundary_bytes : p.max_payload_bytes;
  // A completion never spans two requests; requests end at MRRS-aligned addresses.
  return std::min<std::uint64_t>(split, p.max_read_request_bytes);
}

}  // namespace

const char* to_string(CompletionSplit s) {
  switch (s) {
    case CompletionSplit::kMps:
      return "mps";
    case CompletionSplit::kRcb:
      return "rcb";
  }
  return "?";
}

std::vector<FieldError> validate_pcie_params(const PcieParams& p, std::string_view prefix) {
  std::vector<FieldError> errors;
  const std::string pre = std::string(prefix) + ".";
  auto check = [&](std::string_view field, std::uint64_t value) {
    detail::check_rule(errors, rule(field), pre + std::string(field), value);
  };
  auto check_ns = [&](std::string_view field, sim::Duration d) {
    if (d < sim::Duration::zero()) {
      errors.push_back(FieldError{pre + std::string(field),
                                  "a negative latency is not allowed; allowed: " + detail::rule_text(rule(field))});
      return;
    }
    if (d.ps() % 1000 != 0) {
      errors.push_back(FieldError{pre + std::string(field), "must be a whole number of nanoseconds"});
      return;
    }
    check(field, static_cast<std::uint64_t>(d.ns()));
  };
  check("generation", p.generation);
  check("lanes", p.lanes);
  check("max-payload-bytes", p.max_payload_bytes);
  check("max-read-request-bytes", p.max_read_request_bytes);
  check("read-completion-boundary-bytes", p.read_completion_boundary_bytes);
  check("tlp-overhead-bytes", p.tlp_overhead_bytes);
  check("completion-overhead-bytes", p.completion_overhead_bytes);
  check("dllp-overhead-ppm", p.dllp_overhead_ppm);
  check_ns("write-latency-ns", p.write_latency);
  check_ns("read-latency-ns", p.read_latency);
  check("max-outstanding-reads", p.max_outstanding_reads);
  return errors;
}

std::string_view pcie_field_allowed(std::string_view field) {
  // The texts are built once; rules are constexpr data, so this is stable for the process.
  static const std::array<std::string, kPcieRules.size()> texts = [] {
    std::array<std::string, kPcieRules.size()> t;
    for (std::size_t i = 0; i < kPcieRules.size(); ++i) t[i] = detail::rule_text(kPcieRules[i]);
    return t;
  }();
  for (std::size_t i = 0; i < kPcieRules.size(); ++i) {
    if (kPcieRules[i].field == field) return texts[i];
  }
  return {};
}

// ---- rates ------------------------------------------------------------------------------------

std::uint64_t pcie_transfers_per_second(std::uint32_t generation) {
  switch (generation) {
    case 1:
      return 2'500'000'000;
    case 2:
      return 5'000'000'000;
    case 3:
      return 8'000'000'000;
    case 4:
      return 16'000'000'000;
    case 5:
      return 32'000'000'000;
    default:
      break;
  }
  NICEMU_ASSERT(false, "pcie_transfers_per_second: generation must be 1..5 (validate the params first)");
  return 0;
}

LineEncoding pcie_encoding(std::uint32_t generation) {
  return generation <= 2 ? LineEncoding{8, 10} : LineEncoding{128, 130};
}

long double pcie_link_data_rate_bps(const PcieParams& p) {
  const LineEncoding enc = pcie_encoding(p.generation);
  return static_cast<long double>(pcie_transfers_per_second(p.generation)) * p.lanes * enc.data_bits / enc.line_bits;
}

long double pcie_tlp_rate_bps(const PcieParams& p) {
  return pcie_link_data_rate_bps(p) * (1'000'000 - p.dllp_overhead_ppm) / 1'000'000.0L;
}

sim::Duration pcie_link_time(const PcieParams& p, std::uint64_t wire_bytes) {
  // ps = ceil(bytes × 8 × line_bits × 1e12 × 1e6 / (T/s × lanes × data_bits × (1e6 − ppm))),
  // exact in 128-bit integers for any byte count below 2^40.
  NICEMU_ASSERT(wire_bytes < (std::uint64_t{1} << 40), "pcie_link_time: transfer too large");
  NICEMU_ASSERT(p.dllp_overhead_ppm < 1'000'000, "pcie_link_time: DLLPs cannot take the whole link");
  const LineEncoding enc = pcie_encoding(p.generation);
  const base::u128 num = static_cast<base::u128>(wire_bytes) * 8u * enc.line_bits * 1'000'000'000'000u * 1'000'000u;
  const base::u128 den = static_cast<base::u128>(pcie_transfers_per_second(p.generation)) * p.lanes * enc.data_bits *
                         (1'000'000u - p.dllp_overhead_ppm);
  const base::u128 ps = (num + den - 1) / den;
  return sim::Duration::from_ps(static_cast<std::int64_t>(ps));
}

// ---- TLP splitting ----------------------------------------------------------------------------

TlpCount pcie_write_tlps(const PcieParams& p, std::uint64_t addr, std::uint64_t len) {
  if (len == 0) return {};
  const std::uint64_t end = addr + len;
  const std::uint64_t n = pieces(addr, end, p.max_payload_bytes);
  return TlpCount{n, dw_span(addr, end) + n * write_tlp_overhead(p)};
}

ReadTlps pcie_read_tlps(const PcieParams& p, std::uint64_t addr, std::uint64_t len) {
  if (len == 0) return {};
  const std::uint64_t end = addr + len;
  const std::uint64_t requests = pieces(addr, end, p.max_read_request_bytes);
  const std::uint64_t completions = pieces(addr, end, completion_granule(p));
  ReadTlps r;
  r.requests = TlpCount{requests, requests * write_tlp_overhead(p)};
  r.completions = TlpCount{completions, dw_span(addr, end) + completions * completion_tlp_overhead(p)};
  return r;
}

// ---- one transfer on an idle link -------------------------------------------------------------

sim::Duration pcie_write_time(const PcieParams& p, std::uint64_t addr, std::uint64_t len) {
  if (len == 0) return sim::Duration::zero();
  return pcie_link_time(p, pcie_write_tlps(p, addr, len).wire_bytes) + p.write_latency;
}

sim::Duration pcie_read_time(const PcieParams& p, std::uint64_t addr, std::uint64_t len) {
  // The same arithmetic as a shared link that carries nothing else.
  PcieLink link(p);
  return link.dma_read(sim::TimePoint::zero(), addr, len).done.since_start();
}

sim::Duration pcie_descriptor_read_time(const PcieParams& p, std::uint64_t addr, std::uint32_t count,
                                        std::uint32_t desc_bytes) {
  return pcie_read_time(p, addr, std::uint64_t{count} * desc_bytes);
}

sim::Duration pcie_completion_write_time(const PcieParams& p, std::uint64_t addr, std::uint32_t count,
                                         std::uint32_t entry_bytes) {
  return pcie_write_time(p, addr, std::uint64_t{count} * entry_bytes);
}

long double pcie_write_goodput_bps(const PcieParams& p, std::uint64_t len) {
  NICEMU_ASSERT(len > 0, "pcie_write_goodput_bps: a zero-length write carries nothing");
  const TlpCount t = pcie_write_tlps(p, 0, len);
  return pcie_tlp_rate_bps(p) * static_cast<long double>(len) / static_cast<long double>(t.wire_bytes);
}

long double pcie_read_goodput_bps(const PcieParams& p, std::uint64_t len) {
  NICEMU_ASSERT(len > 0, "pcie_read_goodput_bps: a zero-length read carries nothing");
  const ReadTlps t = pcie_read_tlps(p, 0, len);
  return pcie_tlp_rate_bps(p) * static_cast<long double>(len) / static_cast<long double>(t.completions.wire_bytes);
}

// ---- PcieLink ---------------------------------------------------------------------------------

PcieLink::PcieLink(const PcieParams& params) : params_(params) {
  NICEMU_ASSERT(validate_pcie_params(params_).empty(), "PcieLink: params do not validate (validate_pcie_params)");
  tag_free_.assign(params_.max_outstanding_reads, sim::TimePoint::zero());  // sorted: all equal
}

sim::Duration PcieLink::link_time_slow(std::uint64_t wire_bytes) {
  if (wire_bytes >= kLinkTimeCacheBytes) return pcie_link_time(params_, wire_bytes);
  if (link_time_ps_.empty()) link_time_ps_.assign(kLinkTimeCacheBytes, -1);
  std::int64_t& ps = link_time_ps_[wire_bytes];
  if (ps < 0) ps = pcie_link_time(params_, wire_bytes).ps();
  return sim::Duration::from_ps(ps);
}

void PcieLink::reuse_earliest_tag_sorted(sim::TimePoint free_again) {
  // The ring is sorted from tag_head_ on. The earliest tag leaves the front and comes back in
  // order; a completion usually ends after every other outstanding one, so it lands at the back
  // with no moves (a backfilled one moves a few places forward).
  const std::size_t n = tag_free_.size();
  std::size_t at = tag_head_;  // the freed slot is the ring's last position now
  tag_head_ = tag_head_ + 1 == n ? 0 : tag_head_ + 1;
  for (std::size_t moved = 1; moved < n; ++moved) {
    const std::size_t prev = at == 0 ? n - 1 : at - 1;
    if (!(free_again < tag_free_[prev])) break;
    tag_free_[at] = tag_free_[prev];
    at = prev;
  }
  tag_free_[at] = free_again;
}

PcieTransfer PcieLink::dma_write(sim::TimePoint now, std::uint64_t addr, std::uint64_t len) {
  ++stats_.writes;
  stats_.write_bytes += len;
  if (len == 0) return PcieTransfer{now, now, 0, 0};
  const TlpCount t = pcie_write_tlps(params_, addr, len);
  const BusGrant g = up_.reserve(now, link_time(t.wire_bytes));
  return PcieTransfer{g.start, g.end + params_.write_latency, t.wire_bytes, t.tlps};
}

PcieTransfer PcieLink::dma_read(sim::TimePoint now, std::uint64_t addr, std::uint64_t len) {
  ++stats_.reads;
  stats_.read_bytes += len;
  PcieTransfer out{now, now, 0, 0};
  if (len == 0) return out;
  const std::uint64_t end = addr + len;
  const std::uint64_t mrrs = params_.max_read_request_bytes;
  const std::uint64_t granule = completion_granule(params_);
  const std::uint64_t request_wire = write_tlp_overhead(params_);
  const sim::Duration request_time = link_time(request_wire);
  // MRRS and the completion granule are powers of two on every real link: shifts then, not
  // divisions (this loop runs once per read request).
  const bool pow2 = is_pow2(mrrs) && is_pow2(granule);
  const int mrrs_shift = std::countr_zero(mrrs), granule_shift = std::countr_zero(granule);
  bool first = true;
  // After a request booked through reserve(), the next ones usually find a free tag and follow
  // it back to back on both links: they are booked on the links' last stretches (`chained`)
  // with the same results, and the stretches written back when the chain ends.
  BusResource::Tail up_tail, down_tail;
  bool chained = false;
  for (std::uint64_t start = addr; start < end;) {
    if (chained && pow2 && (start & (mrrs - 1)) == 0) {
      // Whole MRRS-sized requests from here on are alike: the chain's arithmetic for all of them.
      std::uint64_t k = (((end >> mrrs_shift) << mrrs_shift) - start) >> mrrs_shift;
      k = std::min<std::uint64_t>(k, tag_free_.size());
      if (k >= 2 && book_whole_requests(now, k, request_wire, request_time, up_tail, down_tail, out)) {
        start += k << mrrs_shift;
        continue;
      }
    }
    const std::uint64_t stop =
        std::min(end, (pow2 ? (start >> mrrs_shift) << mrrs_shift : align_down(start, mrrs)) + mrrs);
    const std::uint64_t completions = pow2 ? ((stop + granule - 1) >> granule_shift) - (start >> granule_shift)
                                           : pieces(start, stop, granule);
    const std::uint64_t completion_wire = dw_span(start, stop) + completions * completion_tlp_overhead(params_);
    const sim::Duration completion_time = link_time(completion_wire);
    BusGrant request, data;
    if (chained) {
      // reserve()'s inline case on both links, checked before either is booked.
      const sim::TimePoint request_end = up_tail.end + request_time;
      const sim::TimePoint data_earliest = std::max(now, request_end + params_.read_latency);
      chained = !(now < tag_free_[tag_head_]) && up_tail.admits(request_time, now) &&
                down_tail.admits(completion_time, data_earliest);
      if (chained) {
        (void)up_tail.join(request_time, now, request);
        (void)down_tail.join(completion_time, data_earliest, data);
      } else {
        up_.extend_tail(now, up_tail);
        down_.extend_tail(now, down_tail);
      }
    }
    if (!chained) {
      const sim::TimePoint tag = earliest_tag(now);
      stats_.tag_wait += tag - now;
      request = up_.reserve(now, request_time, tag);
      data = down_.reserve(now, completion_time, request.end + params_.read_latency);
      chained = stop < end && up_.tail(now, up_tail) && down_.tail(now, down_tail);
    }
    reuse_earliest_tag(data.end);
    if (first) out.start = request.start;
    first = false;
    out.done = std::max(out.done, data.end);
    out.wire_bytes += request_wire + completion_wire;
    out.tlps += 1 + completions;
    start = stop;
  }
  if (chained) {
    up_.extend_tail(now, up_tail);
    down_.extend_tail(now, down_tail);
  }
  return out;
}

// `k` read requests of MRRS bytes each at an MRRS-aligned address, made at `now` right after
// requests booked on `up` and `down` (PcieLink::dma_read's chain, so never a read's first
// request): each takes the oldest tag,
// joins the upstream stretch at its end and has its completions join the downstream stretch at
// its end — in closed form, or false (nothing booked) when one of them would not. Request i's
// grants are up [U + i·rt, U + (i+1)·rt) and down [D + i·occ, D + (i+1)·occ), so the waits are
// linear in i: their sums and maxima follow from the first and the last.
bool PcieLink::book_whole_requests(sim::TimePoint now, std::uint64_t k, std::uint64_t request_wire,
                                   sim::Duration rt, BusResource::Tail& up, BusResource::Tail& down,
                                   PcieTransfer& out) {
  const std::uint64_t mrrs = params_.max_read_request_bytes;
  const std::uint64_t completions = mrrs / completion_granule(params_);
  const std::uint64_t completion_wire = mrrs + completions * completion_tlp_overhead(params_);
  const sim::Duration occ = link_time(completion_wire);
  const auto kk = static_cast<std::int64_t>(k);
  // Tags: the ring is sorted from its head, so the k oldest are free now when the k-th is.
  const std::size_t n = tag_free_.size();
  if (now < tag_free_[(tag_head_ + k - 1) % n]) return false;
  const sim::TimePoint u0 = up.end, d0 = down.end;
  // Request i's completions may start at e_i = u0 + (i+1)·rt + latency, which must lie in the
  // downstream stretch as it has grown by then: e_i <= d0 + i·occ, a linear condition that holds
  // for every i once it holds for the first (Tail::admits) and the last.
  const sim::TimePoint e0 = u0 + rt + params_.read_latency;
  if (!up.admits(rt, now) || !down.admits(occ, e0)) return false;
  const sim::Duration slack0 = d0 - e0;                              // request 0's downstream wait
  const sim::Duration slack_last = slack0 + (occ - rt) * (kk - 1);   // request k-1's
  if (slack_last < sim::Duration::zero()) return false;

  const std::int64_t pairs = kk * (kk - 1) / 2;
  up.end = u0 + rt * kk;
  up.grants += k;
  up.busy += rt * kk;
  up.waited += (u0 - now) * kk + rt * pairs;
  up.max_wait = std::max(up.max_wait, (u0 - now) + rt * (kk - 1));
  down.end = d0 + occ * kk;
  down.grants += k;
  down.busy += occ * kk;
  down.waited += slack0 * kk + (occ - rt) * pairs;
  down.max_wait = std::max({down.max_wait, slack0, slack_last});
  for (std::int64_t i = 1; i <= kk; ++i) reuse_earliest_tag(d0 + occ * i);
  out.done = std::max(out.done, down.end);
  out.wire_bytes += k * (request_wire + completion_wire);
  out.tlps += k * (1 + completions);
  return true;
}

PcieTransfer PcieLink::read_descriptors(sim::TimePoint now, std::uint64_t addr, std::uint32_t count,
                                        std::uint32_t desc_bytes) {
  return dma_read(now, addr, std::uint64_t{count} * desc_bytes);
}

PcieTransfer PcieLink::write_completions(sim::TimePoint now, std::uint64_t addr, std::uint32_t count,
                                         std::uint32_t entry_bytes) {
  return dma_write(now, addr, std::uint64_t{count} * entry_bytes);
}

PcieTransfer PcieLink::mmio_write(sim::TimePoint now, std::uint32_t len) {
  ++stats_.mmio_writes;
  if (len == 0) return PcieTransfer{now, now, 0, 0};
  // A CPU store to a BAR: one posted write TLP (doorbells are 4 or 8 bytes, well below MPS).
  const TlpCount t = pcie_write_tlps(params_, 0, len);
  const BusGrant g = down_.reserve(now, link_time(t.wire_bytes));
  return PcieTransfer{g.start, g.end + params_.write_latency, t.wire_bytes, t.tlps};
}

}  // namespace nicemu::nic::hw
