// pcap files through libpcap (see nicemu/nic/hw/pcap_capture.hpp).
#include "nicemu/nic/hw/pcap_capture.hpp"

#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>

namespace nicemu::nic::hw {

base::Result<std::unique_ptr<PcapCapture>, base::Error> PcapCapture::open(const std::string& path,
                                                                         std::uint32_t snaplen) {
  if (snaplen == 0) return base::Unexpected{base::Error{-EINVAL, "pcap capture " + path + ": snaplen must be positive"}};
  pcap_t* handle = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, static_cast<int>(snaplen), PCAP_TSTAMP_PRECISION_NANO);
  if (handle == nullptr) {
    return base::Unexpected{base::Error{-ENOMEM, "pcap capture " + path + ": libpcap could not create a handle"}};
  }
  pcap_dumper_t* dumper = pcap_dump_open(handle, path.c_str());
  if (dumper == nullptr) {
    std::string why = pcap_geterr(handle);
    pcap_close(handle);
    return base::Unexpected{base::Error{-EIO, "pcap capture: cannot create " + path + ": " + why}};
  }
  return std::unique_ptr<PcapCapture>(new PcapCapture(path, snaplen, handle, dumper));
}

PcapCapture::~PcapCapture() {
  pcap_dump_close(dumper_);
  pcap_close(handle_);
}

void PcapCapture::write(sim::TimePoint t, std::span<const std::byte> bytes) {
  NICEMU_ASSERT(t >= sim::TimePoint::zero(), "PcapCapture::write: time before the start of the run");
  const std::int64_t ns = t.ns();
  pcap_pkthdr h{};
  // With a nanosecond-precision handle, libpcap writes tv_usec as nanoseconds.
  h.ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  h.ts.tv_usec = static_cast<suseconds_t>(ns % 1'000'000'000);
  h.len = static_cast<bpf_u_int32>(bytes.size());
  h.caplen = static_cast<bpf_u_int32>(std::min<std::size_t>(bytes.size(), snaplen_));
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, reinterpret_cast<const u_char*>(bytes.data()));
  ++frames_written_;
}

void PcapCapture::on_frame(TapPoint /*point*/, sim::TimePoint t, std::uint64_t /*frame_id*/,
                           std::span<const std::byte> bytes) {
  write(t, bytes);
}

void PcapCapture::flush() { pcap_dump_flush(dumper_); }

}  // namespace nicemu::nic::hw
