// Header-data split placement (see header_split.hpp for what is modelled).
#include "nicemu/nic/hw/header_split.hpp"

#include "nicemu/base/assert.hpp"

namespace nicemu::nic::hw {

using netstack::wire::L4Kind;

const char* to_string(TcpDataSplit m) {
  switch (m) {
    case TcpDataSplit::kUnknown: return "unknown";
    case TcpDataSplit::kDisabled: return "disabled";
    case TcpDataSplit::kEnabled: return "enabled";
  }
  return "?";
}

const char* to_string(SplitVerdict v) {
  switch (v) {
    case SplitVerdict::kSplit: return "split";
    case SplitVerdict::kSplitOff: return "split-off";
    case SplitVerdict::kNotTcpUdp: return "not-tcp-udp";
    case SplitVerdict::kFragment: return "fragment";
    case SplitVerdict::kNoPayload: return "no-payload";
    case SplitVerdict::kBelowThreshold: return "below-threshold";
    case SplitVerdict::kHeaderTooLong: return "header-too-long";
  }
  return "?";
}

namespace {

// Cuts [from, frame_len) into rx_buf_len pieces.
void place_payload(RxLayout& out, std::uint32_t from, std::uint32_t frame_len, std::uint32_t rx_buf_len) {
  for (std::uint32_t at = from; at < frame_len;) {
    if (out.payload_buffers == RxLayout::kMaxPayloadBuffers) {
      out.too_many_buffers = true;
      return;
    }
    const std::uint32_t n = frame_len - at < rx_buf_len ? frame_len - at : rx_buf_len;
    out.payload[out.payload_buffers++] = RxPiece{at, n};
    at += n;
  }
}

SplitVerdict verdict_for(const netstack::wire::ParsedPacket& pkt, std::uint32_t frame_len,
                         const HeaderSplitConfig& cfg) {
  if (!cfg.split_on()) return SplitVerdict::kSplitOff;
  if (pkt.is_fragment) return SplitVerdict::kFragment;
  const bool l4_ok = pkt.l4 == L4Kind::kTcp || (cfg.split_udp && pkt.l4 == L4Kind::kUdp);
  if (!l4_ok || pkt.header_len == 0 || pkt.header_len > frame_len) return SplitVerdict::kNotTcpUdp;
  if (pkt.header_len == frame_len || pkt.payload_len == 0) return SplitVerdict::kNoPayload;
  if (frame_len <= cfg.hds_thresh) return SplitVerdict::kBelowThreshold;
  if (pkt.header_len > cfg.header_buf_len) return SplitVerdict::kHeaderTooLong;
  return SplitVerdict::kSplit;
}

}  // namespace

RxLayout plan_rx_layout(const netstack::wire::ParsedPacket& pkt, std::uint32_t frame_len,
                        const HeaderSplitConfig& cfg) {
  NICEMU_ASSERT(cfg.rx_buf_len > 0 && cfg.header_buf_len > 0, "plan_rx_layout: buffers of 0 bytes");
  RxLayout out;
  out.verdict = verdict_for(pkt, frame_len, cfg);
  if (out.verdict == SplitVerdict::kSplit) {
    out.header = RxPiece{0, pkt.header_len};
    place_payload(out, pkt.header_len, frame_len, cfg.rx_buf_len);
    return out;
  }
  // Not split. With the split on, small frames may go whole into the header buffer; a TCP/UDP
  // frame that is all headers (SYN, ACK) always does when it fits, on every profile: there is no
  // payload to separate, and a queue bound to device memory must still hand the stack readable
  // control segments (gve writes such packets to the header buffer with a payload length of 0).
  if (cfg.split_on() && frame_len <= cfg.header_buf_len &&
      (cfg.non_qualifying == NonQualifyingPlacement::kHeaderBufferIfFits || out.verdict == SplitVerdict::kNoPayload)) {
    out.header = RxPiece{0, frame_len};
    return out;
  }
  place_payload(out, 0, frame_len, cfg.rx_buf_len);
  return out;
}

}  // namespace nicemu::nic::hw
