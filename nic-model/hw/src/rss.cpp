// The Toeplitz hash, hash inputs, ethtool -X table builders and the RSS context (see rss.hpp).
#include "nicemu/nic/hw/rss.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

#include "nicemu/base/assert.hpp"
#include "nicemu/sim/random.hpp"

namespace nicemu::nic::hw {

namespace wire = netstack::wire;

RssKey rss_key_from_seed(std::uint64_t seed) {
  sim::Rng rng(seed);
  RssKey key{};
  for (std::size_t i = 0; i < kRssKeyLen; i += 8) {
    const std::uint64_t word = rng.next_u64();
    for (std::size_t b = 0; b < 8; ++b) key[i + b] = static_cast<std::uint8_t>(word >> (56 - 8 * b));
  }
  return key;
}

const char* to_string(RssHashType t) {
  switch (t) {
    case RssHashType::kNone:
      return "none";
    case RssHashType::kL3:
      return "L3";
    case RssHashType::kL4:
      return "L4";
  }
  return "?";
}

namespace {

std::uint8_t address_len(const wire::IpAddress& a) { return a.is_v6() ? 16 : 4; }

void put_addresses(HashInput& in, const wire::IpAddress& src, const wire::IpAddress& dst) {
  NICEMU_ASSERT(src.version() == dst.version() && src.version() != wire::IpVersion::kNone,
                "an RSS hash input needs two addresses of one IP family");
  const std::uint8_t n = address_len(src);
  std::copy_n(src.bytes().begin(), n, in.bytes.begin());
  std::copy_n(dst.bytes().begin(), n, in.bytes.begin() + n);
  in.len = static_cast<std::uint8_t>(2 * n);
}

}  // namespace

HashInput hash_input(const wire::IpAddress& src, const wire::IpAddress& dst) {
  HashInput in;
  put_addresses(in, src, dst);
  return in;
}

HashInput hash_input(const wire::IpAddress& src, const wire::IpAddress& dst, std::uint16_t src_port,
                     std::uint16_t dst_port) {
  HashInput in;
  put_addresses(in, src, dst);
  in.bytes[in.len + 0] = static_cast<std::uint8_t>(src_port >> 8);
  in.bytes[in.len + 1] = static_cast<std::uint8_t>(src_port);
  in.bytes[in.len + 2] = static_cast<std::uint8_t>(dst_port >> 8);
  in.bytes[in.len + 3] = static_cast<std::uint8_t>(dst_port);
  in.len = static_cast<std::uint8_t>(in.len + 4);
  return in;
}

std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input) {
  NICEMU_ASSERT(key.size() >= input.size() + 4, "a Toeplitz key must be at least 4 bytes longer than the input");
  // The 32 key bits that line up with the current input bit; each input bit slides it by one.
  std::uint32_t window = (std::uint32_t{key[0]} << 24) | (std::uint32_t{key[1]} << 16) | (std::uint32_t{key[2]} << 8) |
                         std::uint32_t{key[3]};
  std::uint32_t result = 0;
  std::size_t next_key_bit = 32;
  for (const std::uint8_t byte : input) {
    for (int bit = 7; bit >= 0; --bit) {
      if (((byte >> bit) & 1u) != 0) result ^= window;
      const std::uint32_t incoming = (key[next_key_bit / 8] >> (7 - next_key_bit % 8)) & 1u;
      window = (window << 1) | incoming;
      ++next_key_bit;
    }
  }
  return result;
}

ToeplitzHasher::ToeplitzHasher(const RssKey& key) : key_(key) {
  // Key bits p .. p+31 for input bit p: read 8 key bytes from p/8 (zero past the key's end, which
  // only ever lands beyond the window's last bit) and shift the window into place.
  std::array<std::uint8_t, kRssKeyLen + 8> padded{};
  std::copy(key.begin(), key.end(), padded.begin());
  auto window_at = [&padded](std::size_t p) {
    std::uint64_t w = 0;
    for (std::size_t b = 0; b < 8; ++b) w = (w << 8) | padded[p / 8 + b];
    return static_cast<std::uint32_t>(w >> (32 - p % 8));
  };
  for (std::size_t nibble = 0; nibble < nibble_.size(); ++nibble) {
    for (std::uint32_t value = 0; value < 16; ++value) {
      std::uint32_t x = 0;
      for (std::size_t k = 0; k < 4; ++k) {  // k = 0 is the nibble's most significant bit
        if (((value >> (3 - k)) & 1u) != 0) x ^= window_at(4 * nibble + k);
      }
      nibble_[nibble][value] = x;
    }
  }
}

std::uint32_t ToeplitzHasher::hash(std::span<const std::uint8_t> input) const {
  NICEMU_ASSERT(input.size() <= kMaxHashInputLen, "an RSS hash input is at most 36 bytes");
  std::uint32_t h = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    h ^= nibble_[2 * i][input[i] >> 4] ^ nibble_[2 * i + 1][input[i] & 0x0fu];
  }
  return h;
}

bool hash_flow_of(FlowType t, HashFlow* out) {
  switch (t) {
    case FlowType::kTcpV4:
      *out = HashFlow::kTcp4;
      return true;
    case FlowType::kUdpV4:
      *out = HashFlow::kUdp4;
      return true;
    case FlowType::kIpV4:
      *out = HashFlow::kIp4;
      return true;
    case FlowType::kTcpV6:
      *out = HashFlow::kTcp6;
      return true;
    case FlowType::kUdpV6:
      *out = HashFlow::kUdp6;
      return true;
    case FlowType::kIpV6:
      *out = HashFlow::kIp6;
      return true;
    default:
      return false;
  }
}

std::uint32_t default_rx_flow_hash(HashFlow f) {
  return f == HashFlow::kTcp4 || f == HashFlow::kTcp6 ? kRxh4Tuple : kRxh2Tuple;
}

base::Result<std::vector<std::uint32_t>, base::Error> ethtool_indir_equal(std::uint32_t table_size, std::uint32_t n,
                                                                          std::uint32_t start) {
  if (n == 0)
    return base::Unexpected{base::Error{-EINVAL, "equal N needs N > 0 (the number of queues to spread over)"}};
  std::vector<std::uint32_t> t(table_size);
  for (std::uint32_t i = 0; i < table_size; ++i) t[i] = start + i % n;
  return t;
}

base::Result<std::vector<std::uint32_t>, base::Error> ethtool_indir_weight(std::uint32_t table_size,
                                                                           std::span<const std::uint32_t> weights,
                                                                           std::uint32_t start) {
  std::uint64_t sum = 0;
  for (const std::uint32_t w : weights) sum += w;
  if (sum == 0) return base::Unexpected{base::Error{-EINVAL, "At least one weight must be non-zero"}};
  if (sum > table_size) {
    return base::Unexpected{base::Error{-EINVAL, "Total weight exceeds the size of the indirection table"}};
  }
  std::vector<std::uint32_t> t(table_size);
  std::uint64_t partial = 0;  // weight of the queues handed out so far, up to and including `next - 1`
  std::size_t next = 0;       // the queue (index into weights) after the current one
  for (std::uint32_t i = 0; i < table_size; ++i) {
    // Move on while entry i lies at or past the end of the current queue's share.
    while (std::uint64_t{i} >= std::uint64_t{table_size} * partial / sum) partial += weights[next++];
    t[i] = start + static_cast<std::uint32_t>(next - 1);
  }
  return t;
}

std::vector<std::uint32_t> ethtool_indir_default(std::uint32_t table_size, std::uint32_t n_rx_queues) {
  NICEMU_ASSERT(n_rx_queues > 0, "the default indirection table needs at least one RX queue");
  std::vector<std::uint32_t> t(table_size);
  for (std::uint32_t i = 0; i < table_size; ++i) t[i] = i % n_rx_queues;
  return t;
}

RssContext::RssContext(const RssKey& key, std::vector<std::uint32_t> indir, bool indir_configured)
    : hasher_(key), indir_(std::move(indir)), indir_configured_(indir_configured) {
  NICEMU_ASSERT(!indir_.empty(), "an RSS context needs an indirection table");
  for (std::size_t f = 0; f < kHashFlowCount; ++f) fields_[f] = default_rx_flow_hash(static_cast<HashFlow>(f));
}

void RssContext::set_indir(std::vector<std::uint32_t> indir, bool configured) {
  NICEMU_ASSERT(indir.size() == indir_.size(), "an indirection table keeps its size");
  indir_ = std::move(indir);
  indir_configured_ = configured;
}

std::uint32_t RssContext::max_queue_in_table() const { return *std::max_element(indir_.begin(), indir_.end()); }

}  // namespace nicemu::nic::hw
