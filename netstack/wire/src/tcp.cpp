#include "nicemu/netstack/wire/tcp.hpp"

#include <algorithm>
#include <cstring>

#include "nicemu/base/assert.hpp"

namespace nicemu::netstack::wire {
namespace {

constexpr std::uint8_t kMssLen = 4;            // TCPOLEN_MSS
constexpr std::uint8_t kWindowScaleLen = 3;    // TCPOLEN_WINDOW
constexpr std::uint8_t kSackPermittedLen = 2;  // TCPOLEN_SACK_PERM
constexpr std::uint8_t kTimestampsLen = 10;    // TCPOLEN_TIMESTAMP
constexpr std::size_t kSackBlockLen = 8;       // TCPOLEN_SACK_PERBLOCK

// Aligned sizes as emitted (TCPOLEN_*_ALIGNED).
constexpr std::size_t kMssAligned = 4;
constexpr std::size_t kTimestampsAligned = 12;  // NOP NOP TS, or SACK_PERM TS
constexpr std::size_t kSackPermittedAligned = 4;
constexpr std::size_t kWindowScaleAligned = 4;
constexpr std::size_t kSackBaseAligned = 4;  // NOP NOP kind len

}  // namespace

WireResult<TcpOptions> TcpOptions::parse(std::span<const std::byte> bytes) {
  TcpOptions o;
  const std::byte* p = bytes.data();
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t kind = detail::load_u8(p + i);
    if (kind == tcp_option::kEndOfList) break;
    if (kind == tcp_option::kNop) {
      ++i;
      continue;
    }
    if (n - i < 2) return wire_error(WireError::kBadOption);
    const std::size_t len = detail::load_u8(p + i + 1);
    if (len < 2 || len > n - i) return wire_error(WireError::kBadOption);
    const std::byte* v = p + i + 2;
    switch (kind) {
      case tcp_option::kMss:
        if (len != kMssLen) return wire_error(WireError::kBadOption);
        o.mss = detail::load_be16(v);
        break;
      case tcp_option::kWindowScale:
        if (len != kWindowScaleLen) return wire_error(WireError::kBadOption);
        o.window_scale = detail::load_u8(v);
        break;
      case tcp_option::kSackPermitted:
        if (len != kSackPermittedLen) return wire_error(WireError::kBadOption);
        o.sack_permitted = true;
        break;
      case tcp_option::kSack: {
        const std::size_t blocks = (len - 2) / kSackBlockLen;
        if ((len - 2) % kSackBlockLen != 0 || blocks == 0 || blocks > tcp_option::kMaxSackBlocks) {
          return wire_error(WireError::kBadOption);
        }
        o.sack_blocks = {};
        for (std::size_t b = 0; b < blocks; ++b) {
          o.sack_blocks[b] =
              TcpSackBlock{detail::load_be32(v + b * kSackBlockLen), detail::load_be32(v + b * kSackBlockLen + 4)};
        }
        o.sack_count = static_cast<std::uint8_t>(blocks);
        break;
      }
      case tcp_option::kTimestamps:
        if (len != kTimestampsLen) return wire_error(WireError::kBadOption);
        o.timestamps = TcpTimestamps{detail::load_be32(v), detail::load_be32(v + 4)};
        break;
      default:
        break;  // unknown kind: skipped by its length
    }
    i += len;
  }
  return o;
}

namespace {

std::size_t len_without_sack(const TcpOptions& o) {
  std::size_t len = 0;
  if (o.mss) len += kMssAligned;
  if (o.timestamps) {
    len += kTimestampsAligned;  // SACK-Permitted rides in the two NOP slots
  } else if (o.sack_permitted) {
    len += kSackPermittedAligned;
  }
  if (o.window_scale) len += kWindowScaleAligned;
  return len;
}

}  // namespace

std::size_t TcpOptions::emitted_sack_count() const {
  NICEMU_ASSERT(sack_count <= tcp_option::kMaxSackBlocks, "TcpOptions: at most four SACK blocks");
  const std::size_t room = tcp_option::kMaxOptionsLen - len_without_sack(*this);
  if (sack_count == 0 || room < kSackBaseAligned + kSackBlockLen) return 0;
  return std::min<std::size_t>(sack_count, (room - kSackBaseAligned) / kSackBlockLen);
}

std::size_t TcpOptions::emitted_len() const {
  const std::size_t sacks = emitted_sack_count();
  return len_without_sack(*this) + (sacks == 0 ? 0 : kSackBaseAligned + sacks * kSackBlockLen);
}

void TcpOptions::emit(std::span<std::byte> out) const {
  NICEMU_ASSERT(out.size() >= emitted_len(), "TcpOptions::emit: buffer shorter than emitted_len()");
  std::byte* p = out.data();
  auto put4 = [&p](std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    detail::store_u8(p, a);
    detail::store_u8(p + 1, b);
    detail::store_u8(p + 2, c);
    detail::store_u8(p + 3, d);
    p += 4;
  };
  if (mss) {
    put4(tcp_option::kMss, kMssLen, 0, 0);
    detail::store_be16(p - 2, *mss);
  }
  if (timestamps) {
    if (sack_permitted) {
      put4(tcp_option::kSackPermitted, kSackPermittedLen, tcp_option::kTimestamps, kTimestampsLen);
    } else {
      put4(tcp_option::kNop, tcp_option::kNop, tcp_option::kTimestamps, kTimestampsLen);
    }
    detail::store_be32(p, timestamps->tsval);
    detail::store_be32(p + 4, timestamps->tsecr);
    p += 8;
  } else if (sack_permitted) {
    put4(tcp_option::kNop, tcp_option::kNop, tcp_option::kSackPermitted, kSackPermittedLen);
  }
  if (window_scale) put4(tcp_option::kNop, tcp_option::kWindowScale, kWindowScaleLen, *window_scale);
  const std::size_t sacks = emitted_sack_count();
  if (sacks != 0) {
    put4(tcp_option::kNop, tcp_option::kNop, tcp_option::kSack, static_cast<std::uint8_t>(2 + sacks * kSackBlockLen));
    for (std::size_t b = 0; b < sacks; ++b) {
      detail::store_be32(p, sack_blocks[b].left);
      detail::store_be32(p + 4, sack_blocks[b].right);
      p += kSackBlockLen;
    }
  }
}

WireResult<TcpRepr> TcpRepr::parse(const TcpView& view, const IpAddress& src, const IpAddress& dst,
                                   const ChecksumCaps& caps) {
  // A prefix view cannot be verified here: the caller sums the payload where it lives.
  if (caps.tcp.verify_rx && view.complete() && !view.verify_checksum(src, dst)) {
    return wire_error(WireError::kBadChecksum);
  }
  auto opts = TcpOptions::parse(view.options());
  if (!opts) return wire_error(opts.error());
  TcpRepr r;
  r.src_port = view.src_port();
  r.dst_port = view.dst_port();
  r.seq_number = view.seq_number();
  r.ack_number = view.ack_number();
  r.flags = view.flags();
  r.window = view.window();
  r.urgent_pointer = view.urgent_pointer();
  r.options = opts.value();
  r.payload = view.payload();
  return r;
}

void TcpRepr::emit(std::span<std::byte> out, const IpAddress& src, const IpAddress& dst,
                   const ChecksumCaps& caps) const {
  const std::size_t hlen = header_len();
  const std::size_t total = hlen + payload.size();
  NICEMU_ASSERT(out.size() >= total, "TcpRepr::emit: buffer shorter than buffer_len()");
  std::byte* p = out.data();
  // Payload first: it may overlap the header's bytes when the caller built it in place.
  if (!payload.empty() && payload.data() != p + hlen) std::memmove(p + hlen, payload.data(), payload.size());
  detail::store_be16(p, src_port);
  detail::store_be16(p + 2, dst_port);
  detail::store_be32(p + 4, seq_number);
  detail::store_be32(p + 8, ack_number);
  detail::store_u8(p + 12, static_cast<std::uint8_t>((hlen / 4) << 4));
  detail::store_u8(p + 13, flags.bits);
  detail::store_be16(p + 14, window);
  detail::store_be16(p + 16, 0);
  detail::store_be16(p + 18, urgent_pointer);
  options.emit(out.subspan(TcpView::kMinHeaderLen, hlen - TcpView::kMinHeaderLen));
  if (caps.tcp.fill_tx) detail::store_be16(p + 16, l4_checksum(src, dst, ip_protocol::kTcp, out.first(total)));
}

void TcpRepr::emit_header(std::span<std::byte> out, const IpAddress& src, const IpAddress& dst,
                          std::size_t payload_len, std::uint16_t payload_sum, const ChecksumCaps& caps) const {
  const std::size_t hlen = header_len();
  NICEMU_ASSERT(out.size() >= hlen, "TcpRepr::emit_header: buffer shorter than header_len()");
  TcpRepr header = *this;
  header.payload = {};
  header.emit(out.first(hlen), src, dst, ChecksumCaps::offloaded());  // checksum field left 0
  if (caps.tcp.fill_tx) {
    // The header is a multiple of 4 bytes, so the payload's sum adds in at an even offset.
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, ip_protocol::kTcp, static_cast<std::uint32_t>(hlen + payload_len));
    acc.add(out.first(hlen));
    acc.add_u16(payload_sum);
    detail::store_be16(out.data() + 16, acc.checksum());
  }
}

bool operator==(const TcpRepr& a, const TcpRepr& b) {
  return a.src_port == b.src_port && a.dst_port == b.dst_port && a.seq_number == b.seq_number &&
         a.ack_number == b.ack_number && a.flags == b.flags && a.window == b.window &&
         a.urgent_pointer == b.urgent_pointer && a.options == b.options && std::ranges::equal(a.payload, b.payload);
}

}  // namespace nicemu::netstack::wire
