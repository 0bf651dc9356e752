// nicemu/nic/hw/pcie.hpp — PCIe timing of a device's DMA: how long writes, reads, descriptor
// fetches and completion writes take on a link of a given generation, width and payload size,
// and a stateful link whose two directions are shared by concurrent DMAs.
//
// Models:
//   - Link data rate: per-lane transfer rate × lanes × encoding efficiency. Gen1/2: 2.5/5 GT/s
//     with 8b/10b; gen3/4/5: 8/16/32 GT/s with 128b/130b. Of that, a configurable fraction
//     (dllp_overhead_ppm) is taken by data-link packets (Ack, UpdateFC) and ordered sets (SKP),
//     as pcie-bench's model deducts it; TLPs get the rest.
//   - Posted memory writes (device → host, "upstream"): a write of N bytes at address A is cut
//     into TLPs that end at every MPS-aligned address (the DMA engine's split: the first TLP runs
//     to the next MPS boundary, then full MPS TLPs, then the rest). MPS divides 4096, so no TLP
//     crosses a 4 KiB boundary (PCIe Base Spec §2.2.7). Payload travels in whole DWs: a TLP
//     carries the DWs that cover its bytes (first/last byte enables mask the rest), so an
//     unaligned start or end costs up to 3 extra bytes each. Each TLP adds tlp_overhead_bytes
//     (+4 with ECRC).
//   - Memory reads: the device sends read requests (header-only TLPs, upstream) that end at every
//     MRRS-aligned address; the completer answers each request with completions (downstream)
//     that end at every MPS-aligned address (completion_split = kMps: a root complex that
//     combines RCB-sized pieces) or every RCB-aligned address (kRcb). Each completion adds
//     completion_overhead_bytes (+4 with ECRC). A request's first completion can start
//     read_latency after the request's last byte left the device; completions then stream at
//     link rate. At most max_outstanding_reads requests (tags) are in flight.
//   - Latency: write_latency is the one-way time from a write's last byte on the link to the
//     data being in memory; read_latency is the round trip from a request's last byte to its
//     first completion byte, excluding serialization on either side.
//   - PcieLink: one BusResource per direction, so concurrent DMAs queue; writes and read
//     requests use upstream, read completions and host MMIO writes (doorbells) use downstream.
//   - Peer-to-peer DMA into device memory behind a PCIe switch is a second PcieParams (the
//     narrowest link on the path, the MPS negotiated along it, the switch's latency), used by a
//     second PcieLink; the DMA engine picks the link by the target of the address.
// Not modelled: link training and width/speed changes, replay after LCRC errors (NAK), credit
//   starvation (the receiver always has buffers), relaxed ordering and write-after-read ordering
//   rules (the queueing order is the call order), 3DW headers for addresses below 4 GiB (every
//   request is charged tlp_overhead_bytes), IOMMU/ATS translation latency, ACS redirection in
//   the switch, the host memory system's own bandwidth limit, gen6 FLIT mode.
// Rounding: link_time() rounds up to whole picoseconds; the *_time() functions round each
//   contiguous group of TLPs once (one request's completions, one write), so their error is
//   below 1 ps per group. Goodputs are exact ratios computed in long double.
// References: PCI Express Base Specification rev. 5.0 §2.2 (TLP headers: 3DW/4DW, Length in DW,
//   4 KiB rule), §2.3.1.1 (read completion boundary), §3.6 (DLLPs), §4.2 (8b/10b, 128b/130b);
//   R. Neugebauer et al., "Understanding PCIe performance for end host networking",
//   SIGCOMM 2018, and its model github.com/pcie-bench/pcie-model model/pcie.py (TLP overheads:
//   MWr/MRd 64-bit = 24 B, CplD = 20 B; DLLP deduction); AMD PG213 (PCIe 4 UltraScale+)
//   "Important note for high performance applications" (root complexes that combine RCB-sized
//   completions into MPS-sized ones); docs/nic-timing.md (formulas and worked numbers).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "nicemu/nic/hw/bus_resource.hpp"
#include "nicemu/nic/hw/field_error.hpp"
#include "nicemu/sim/time.hpp"

namespace nicemu::nic::hw {

// Where read completions are cut (a property of the completer, usually the root complex).
enum class CompletionSplit : std::uint8_t {
  kMps,  // at MPS-aligned addresses: the completer combines RCB-sized pieces
  kRcb,  // at every RCB-aligned address: one completion per 64 or 128 bytes
};
const char* to_string(CompletionSplit s);

// One PCIe path between the device and the memory it DMAs to. The defaults are a plain gen4 x16
// link for tests; real runs take every value from a NIC profile (configs/nics/*.yaml), where
// each one is documented with its source.
struct PcieParams {
  std::uint32_t generation = 4;                       // 1..5
  std::uint32_t lanes = 16;                           // 1, 2, 4, 8, 16
  std::uint32_t max_payload_bytes = 256;              // MPS: 128..4096, a power of two
  std::uint32_t max_read_request_bytes = 512;         // MRRS: 128..4096, a power of two
  std::uint32_t read_completion_boundary_bytes = 64;  // RCB: 64 or 128
  CompletionSplit completion_split = CompletionSplit::kMps;
  // Per memory write / read request TLP: framing 2 (STP+END; gen3+'s 4-byte STP token carries
  // the sequence number instead) + sequence number 2 + 4DW header 16 (64-bit address) + LCRC 4.
  std::uint32_t tlp_overhead_bytes = 24;
  // Per completion with data: the same with a 3DW header (12 bytes).
  std::uint32_t completion_overhead_bytes = 20;
  bool ecrc = false;                          // adds a 4-byte TLP digest to every TLP
  std::uint32_t dllp_overhead_ppm = 0;        // share of link time taken by DLLPs, SKPs
  sim::Duration write_latency;                // one way, see the file header
  sim::Duration read_latency;                 // round trip, see the file header
  std::uint32_t max_outstanding_reads = 256;  // tags (8-bit extended tags)
};

// Validation: every field within its documented range. `prefix` names the section of a profile
// the params came from ("pcie" or "p2p"), so errors carry "pcie.lanes" and the like.
std::vector<FieldError> validate_pcie_params(const PcieParams& p, std::string_view prefix = "pcie");
// What one field (the part after the prefix, e.g. "lanes") accepts, in words; "" if unknown.
std::string_view pcie_field_allowed(std::string_view field);

// ---- rates ------------------------------------------------------------------------------------
std::uint64_t pcie_transfers_per_second(std::uint32_t generation);  // per lane: 2.5e9 .. 32e9
struct LineEncoding {
  std::uint32_t data_bits;  // 8 or 128
  std::uint32_t line_bits;  // 10 or 130
};
LineEncoding pcie_encoding(std::uint32_t generation);
// GT/s × lanes × encoding, bit/s (gen4 x16: 252.06 Gbit/s).
long double pcie_link_data_rate_bps(const PcieParams& p);
// What TLPs can use: the data rate less dllp_overhead_ppm.
long double pcie_tlp_rate_bps(const PcieParams& p);
// The time `wire_bytes` of TLPs occupy one direction of the link (rounded up to a picosecond).
sim::Duration pcie_link_time(const PcieParams& p, std::uint64_t wire_bytes);

// ---- how a transfer is cut into TLPs ------------------------------------------------------------
struct TlpCount {
  std::uint64_t tlps = 0;
  std::uint64_t wire_bytes = 0;  // payload DWs + per-TLP overhead
};
// A posted write of `len` bytes at `addr`.
TlpCount pcie_write_tlps(const PcieParams& p, std::uint64_t addr, std::uint64_t len);
struct ReadTlps {
  TlpCount requests;     // upstream, header only
  TlpCount completions;  // downstream, with data
};
ReadTlps pcie_read_tlps(const PcieParams& p, std::uint64_t addr, std::uint64_t len);

// ---- one transfer on an idle link ---------------------------------------------------------------
// Until the last byte of a `len`-byte write at `addr` is in memory: serialization + write_latency.
sim::Duration pcie_write_time(const PcieParams& p, std::uint64_t addr, std::uint64_t len);
// Until the last completion byte of a `len`-byte read at `addr` is at the device. Runs a private
// idle PcieLink (it allocates the tag pool): for reports and tests; datapaths use a PcieLink.
sim::Duration pcie_read_time(const PcieParams& p, std::uint64_t addr, std::uint64_t len);
// Fetching `count` contiguous descriptors of `desc_bytes` each (one read).
sim::Duration pcie_descriptor_read_time(const PcieParams& p, std::uint64_t addr, std::uint32_t count,
                                        std::uint32_t desc_bytes);
// Writing `count` contiguous completion entries of `entry_bytes` each (one write).
sim::Duration pcie_completion_write_time(const PcieParams& p, std::uint64_t addr, std::uint32_t count,
                                         std::uint32_t entry_bytes);

// ---- throughput bounds --------------------------------------------------------------------------
// Payload bit/s of back-to-back `len`-byte writes at 4 KiB-aligned addresses (link-bound).
long double pcie_write_goodput_bps(const PcieParams& p, std::uint64_t len);
// Payload bit/s of back-to-back `len`-byte reads at 4 KiB-aligned addresses, bound by the
// completion direction (enough tags in flight to hide read_latency).
long double pcie_read_goodput_bps(const PcieParams& p, std::uint64_t len);

// ---- a link shared by concurrent DMAs -------------------------------------------------------------
struct PcieTransfer {
  sim::TimePoint start;          // the first TLP started on the link
  sim::TimePoint done;           // write: data in memory; read: last completion byte at the device
  std::uint64_t wire_bytes = 0;  // both directions
  std::uint64_t tlps = 0;        // both directions
};

struct PcieLinkStats {
  std::uint64_t writes = 0, reads = 0, mmio_writes = 0;
  std::uint64_t write_bytes = 0, read_bytes = 0;  // payload
  sim::Duration tag_wait;                         // time read requests waited for a free tag
};

class PcieLink {
 public:
  explicit PcieLink(const PcieParams& params);  // params must validate (asserted)

  // `now` is the current simulated time, non-decreasing across calls.
  PcieTransfer dma_write(sim::TimePoint now, std::uint64_t addr, std::uint64_t len);
  PcieTransfer dma_read(sim::TimePoint now, std::uint64_t addr, std::uint64_t len);
  PcieTransfer read_descriptors(sim::TimePoint now, std::uint64_t addr, std::uint32_t count, std::uint32_t desc_bytes);
  PcieTransfer write_completions(sim::TimePoint now, std::uint64_t addr, std::uint32_t count,
                                 std::uint32_t entry_bytes);
  // A host CPU's posted write of `len` bytes into the device's BAR (a doorbell): downstream.
  // `done` is when it reaches the device.
  PcieTransfer mmio_write(sim::TimePoint now, std::uint32_t len);

  const PcieParams& params() const { return params_; }
  const BusResource& upstream() const { return up_; }      // device → host
  const BusResource& downstream() const { return down_; }  // host → device
  const PcieLinkStats& stats() const { return stats_; }

 private:
  // Read tags: a request takes the tag that frees first (not before `earliest`) and holds it
  // until its completion has arrived.
  sim::TimePoint earliest_tag(sim::TimePoint earliest) const {
    const sim::TimePoint t = tag_free_[tag_head_];
    return t > earliest ? t : earliest;
  }
  void reuse_earliest_tag(sim::TimePoint free_again) {
    // The usual case inline: the completion ends no earlier than every other outstanding one,
    // so the freed tag goes to the back of the ring, which is the head's slot.
    const std::size_t n = tag_free_.size();
    const std::size_t last = tag_head_ == 0 ? n - 1 : tag_head_ - 1;
    if (n == 1 || !(free_again < tag_free_[last])) {
      tag_free_[tag_head_] = free_again;
      tag_head_ = tag_head_ + 1 == n ? 0 : tag_head_ + 1;
      return;
    }
    reuse_earliest_tag_sorted(free_again);
  }
  void reuse_earliest_tag_sorted(sim::TimePoint free_again);
  bool book_whole_requests(sim::TimePoint now, std::uint64_t k, std::uint64_t request_wire, sim::Duration rt,
                           BusResource::Tail& up, BusResource::Tail& down, PcieTransfer& out);
  // pcie_link_time(params_, wire_bytes), remembered for sizes below kLinkTimeCacheBytes: the
  // exact formula divides 128-bit integers, and the same few sizes recur for every packet.
  sim::Duration link_time(std::uint64_t wire_bytes) {
    if (wire_bytes < link_time_ps_.size() && link_time_ps_[wire_bytes] >= 0) {
      return sim::Duration::from_ps(link_time_ps_[wire_bytes]);
    }
    return link_time_slow(wire_bytes);
  }
  sim::Duration link_time_slow(std::uint64_t wire_bytes);

  static constexpr std::uint64_t kLinkTimeCacheBytes = 16384;
  PcieParams params_;
  std::vector<std::int64_t> link_time_ps_;  // -1: not computed yet
  BusResource up_, down_;
  std::vector<sim::TimePoint> tag_free_;  // when each read tag frees: a ring sorted from tag_head_
  std::size_t tag_head_ = 0;
  PcieLinkStats stats_;
};

}  // namespace nicemu::nic::hw
