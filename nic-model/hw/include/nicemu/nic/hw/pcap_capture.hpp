// nicemu/nic/hw/pcap_capture.hpp — writes the frames a tap sees to a pcap file through libpcap.
//
// Models: a capture point (tcpdump on a port, or a tap on a link): each frame is written with
//   its bytes (up to the snap length) and a timestamp in simulated nanoseconds since the start
//   of the run — the time the tap saw it (TapPoint::kTx: the first bit leaves the sending port;
//   kRx: delivery at the receiving port, i.e. the end of the frame's wire slot plus the
//   propagation delay; see frame.hpp and link.hpp). Picoseconds are truncated to whole ns.
//   Files use link type DLT_EN10MB and the nanosecond pcap magic 0xa1b23c4d (Wireshark and
//   tcpdump read it; tcpdump prints µs unless given --nano).
// Not modelled: the FCS (frames are written without it, as Linux captures them by default),
//   frames the receiving MAC discards (FCS errors), pcapng, capture filters, dropped captures.
// References: pcap-savefile(5) and pcap_open_dead(3PCAP) (nanosecond time stamps),
//   pcap_dump_open(3PCAP); tcpdump's default snap length 262144 (MAXIMUM_SNAPLEN).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "nicemu/base/result.hpp"
#include "nicemu/nic/hw/frame.hpp"
#include "nicemu/sim/time.hpp"

// libpcap's handle types (pcap/pcap.h typedefs them); declared here so that including this
// header does not pull in libpcap, which nic_hw links privately.
struct pcap;
struct pcap_dumper;

namespace nicemu::nic::hw {

class PcapCapture final : public FrameTap {
 public:
  static constexpr std::uint32_t kDefaultSnaplen = 262144;

  // Creates (truncates) `path`. The error names the file and says what libpcap reported.
  static base::Result<std::unique_ptr<PcapCapture>, base::Error> open(const std::string& path,
                                                                     std::uint32_t snaplen = kDefaultSnaplen);
  // Flushes and closes the file.
  ~PcapCapture();
  PcapCapture(const PcapCapture&) = delete;
  PcapCapture& operator=(const PcapCapture&) = delete;

  // Writes one frame stamped `t`. Frames should be written in time order (taps do: they run at
  // the event queue's now()).
  void write(sim::TimePoint t, std::span<const std::byte> bytes);
  void on_frame(TapPoint point, sim::TimePoint t, std::uint64_t frame_id, std::span<const std::byte> bytes) override;
  // Pushes buffered records to the file (so a reader sees them before close).
  void flush();

  std::uint64_t frames_written() const { return frames_written_; }
  const std::string& path() const { return path_; }
  std::uint32_t snaplen() const { return snaplen_; }

 private:
  PcapCapture(std::string path, std::uint32_t snaplen, ::pcap* handle, ::pcap_dumper* dumper)
      : path_(std::move(path)), snaplen_(snaplen), handle_(handle), dumper_(dumper) {}

  std::string path_;
  std::uint32_t snaplen_;
  ::pcap* handle_;
  ::pcap_dumper* dumper_;
  std::uint64_t frames_written_ = 0;
};

}  // namespace nicemu::nic::hw
